/*
 * Fused element-wise kernels of fastrnn, in float (_f) and double (_d).
 *
 * The kernels trust their inputs: shapes, strides and dtypes are checked in
 * Python before any of them is reached. Arrays are C-contiguous.
 */
#ifndef FASTRNN_FR_KERNELS_H
#define FASTRNN_FR_KERNELS_H

#include <stddef.h>
#include "fr_fpstate.h"

/* Activations of the simple recurrent cell. */
enum { FR_ACT_TANH = 0, FR_ACT_RELU = 1 };

#define FR_DECLARE_KERNELS(T, S)                                                   \
    void fr_tanh_##S(const T *x, T *out, ptrdiff_t n);                              \
    void fr_sigmoid_##S(const T *x, T *out, ptrdiff_t n);                           \
    void fr_rnn_act_fwd_##S(int act, T *h, ptrdiff_t n);                            \
    void fr_rnn_act_bwd_##S(int act, T *da, const T *h, ptrdiff_t n, T clip);       \
    void fr_fill_rows_##S(T *out, const T *row, ptrdiff_t nrows, ptrdiff_t ncols);  \
    void fr_add_##S(T *out, const T *a, ptrdiff_t n);                               \
    void fr_sumsq_scaled_##S(const T *x, ptrdiff_t n, double *scale, double *ssq);  \
    void fr_scale_##S(T *x, ptrdiff_t n, T factor);                                 \
    ptrdiff_t fr_clip_value_##S(T *x, ptrdiff_t n, T limit);

FR_DECLARE_KERNELS(float, f)
FR_DECLARE_KERNELS(double, d)

#undef FR_DECLARE_KERNELS

#endif
