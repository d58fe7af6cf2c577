/*
 * The kernels every time loop uses, in float (_f) and double (_d): the
 * element-wise steps of the simple recurrent cell, the small mat-vec product
 * of a one-sequence step, and the reductions of gradient clipping. Each is
 * cloned by ISA level (FR_MULTIVERSION, see fr_dispatch.h).
 *
 * The kernels trust their inputs: shapes, strides and dtypes are checked in
 * Python before any of them is reached. Arrays are C-contiguous.
 */
#ifndef FASTRNN_FR_KERNELS_H
#define FASTRNN_FR_KERNELS_H

#include <stddef.h>
#include <stdlib.h>
#include "fr_dispatch.h"
#include "fr_fpstate.h"

/* Activations of the simple recurrent cell. */
enum { FR_ACT_TANH = 0, FR_ACT_RELU = 1 };

#define FR_DECLARE_KERNELS(T, S)                                                   \
    void fr_rnn_act_fwd_##S(int act, T *h, ptrdiff_t n);                            \
    void fr_rnn_act_bwd_##S(int act, T *da, const T *h, ptrdiff_t n, T clip);       \
    void fr_fill_rows_##S(T *out, const T *row, ptrdiff_t nrows, ptrdiff_t ncols);  \
    void fr_add_##S(T *out, const T *a, ptrdiff_t n);                               \
    void fr_small_gemv_##S(ptrdiff_t m, ptrdiff_t k, const T *w, ptrdiff_t ldw,      \
                           const T *x, T beta, T *y);                               \
    void fr_small_gemv_t_##S(ptrdiff_t m, ptrdiff_t k, const T *w, ptrdiff_t ldw,    \
                             const T *x, T beta, T *y);                             \
    void fr_add_transposed_##S(ptrdiff_t n, ptrdiff_t m, const T *tmp, T beta,       \
                               T *out, ptrdiff_t ldo);                              \
    void fr_sumsq_scaled_##S(const T *x, ptrdiff_t n, double *scale, double *ssq);  \
    void fr_scale_##S(T *x, ptrdiff_t n, T factor);                                 \
    ptrdiff_t fr_clip_value_##S(T *x, ptrdiff_t n, T limit);

FR_DECLARE_KERNELS(float, f)
FR_DECLARE_KERNELS(double, d)

#undef FR_DECLARE_KERNELS

#endif
