/*
 * bf16.h: float32 -> bfloat16, round to nearest even, NaN kept a (quiet) NaN, denormal inputs
 * flushed to a zero of their sign (internal): exactly what the AVX512-BF16 instruction
 * VCVTNE2PS2BF16 gives, for every one of the 2^32 floats (checked exhaustively when written;
 * test_gemm samples it), so the native conversion and this one are interchangeable. One
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
    uint32_t z = (u >> 16) & 0x8000u; /* a denormal's signed zero */
    r = (u & 0x7f800000u) == 0 ? z : r;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? q : r);
}

#endif
