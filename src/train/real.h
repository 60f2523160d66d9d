/*
 * real.h: the element type of the training kernels, which are compiled twice: in float for
 * training and in double for the finite-difference gradient checks. No include guard: a
 * kernel file includes it once per pass, with ELMO_DOUBLE defined for the second pass.
 *
 *   real        float | double
 *   R(name)     name##_f | name##_d
 *   R_MM        elmo_mm | elmo_mm_f64 (matmul.h)
 *   R_MMW       elmo_mm_weight | elmo_mm_f64 (B: a weight, unchanged until the next step)
 */
#undef real
#undef R
#undef R_MM
#undef R_MMW
#undef R_EXP
#undef R_TANH
#undef R_LOG
#undef R_SQRT
#undef R_FABS
#ifdef ELMO_DOUBLE
#define real double
#define R(name) name##_d
#define R_MM elmo_mm_f64
#define R_MMW elmo_mm_f64
#define R_EXP exp
#define R_TANH tanh
#define R_LOG log
#define R_SQRT sqrt
#define R_FABS fabs
#else
#define real float
#define R(name) name##_f
#define R_MM elmo_mm
#define R_MMW elmo_mm_weight
#define R_EXP expf
#define R_TANH tanhf
#define R_LOG logf
#define R_SQRT sqrtf
#define R_FABS fabsf
#endif
