/*
 * bf16.h: float32 -> bfloat16, round to nearest even, NaN kept a (quiet) NaN (internal). One
 * definition for the matrix backend's conversions (matmul.c) and the AMX kernel's weight
 * packing (gemm_amx.c). Branch-free, so loops over it vectorize.
 */
#ifndef ELMO_BF16_H
#define ELMO_BF16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t elmo_bf16_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, q = (u >> 16) | 0x40u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? q : r);
}

#endif
