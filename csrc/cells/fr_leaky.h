/* Fused kernels of the leaky-unit recurrent layer and of the
 * information-flow regulariser (fastrnn/layers/_leaky.pyx), float and double. */
#ifndef FASTRNN_FR_LEAKY_H
#define FASTRNN_FR_LEAKY_H

#include <stddef.h>

#define FR_DECLARE_LEAKY(T, S)                                                          \
    void fr_leaky_fwd_##S(ptrdiff_t rows, ptrdiff_t H, const T *alpha, const T *hp,     \
                          T *a_to_s, T *h);                                             \
    void fr_leaky_bwd_##S(ptrdiff_t rows, ptrdiff_t H, const T *alpha, const T *s,      \
                          const T *hp, T *dh_to_da, T *carry, T *dalpha, T clip);       \
    double fr_omega_q_##S(ptrdiff_t rows, ptrdiff_t H, const T *u, const T *g,          \
                          T weight, T *q);                                              \
    void fr_omega_inject_##S(ptrdiff_t rows, ptrdiff_t H, const T *alpha, const T *s,   \
                             const T *hp, const T *g, const T *q, const T *w, T *r,     \
                             T *r_carry, T *dalpha);

FR_DECLARE_LEAKY(float, f)
FR_DECLARE_LEAKY(double, d)

#undef FR_DECLARE_LEAKY

#endif
