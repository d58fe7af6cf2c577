/*
 * Fused element-wise kernels of fastrnn, in float (_f) and double (_d).
 *
 * The kernels trust their inputs: shapes, strides and dtypes are checked in
 * Python before any of them is reached. Arrays are C-contiguous.
 */
#ifndef FASTRNN_FR_KERNELS_H
#define FASTRNN_FR_KERNELS_H

#include <stddef.h>
#include <stdlib.h>
#include "fr_fpstate.h"

/*
 * The hot kernels are compiled twice, for baseline x86-64 and for x86-64-v3
 * (AVX2, FMA), and the loader picks one for the running CPU (GCC's
 * target_clones, an ifunc), so a wheel built without -march=native still
 * uses the vector width the machine has. The clone is chosen by ISA level:
 * "arch=haswell" would be chosen by CPU model, i.e. on Haswell only, and
 * every later CPU would run the baseline code.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__) \
    && defined(__has_attribute) && !defined(FASTRNN_PORTABLE)
#if __has_attribute(target_clones) && __GNUC__ >= 12
#define FR_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef FR_MULTIVERSION
#define FR_MULTIVERSION
#endif

/*
 * FASTRNN_PORTABLE (setup.py defines it with FASTRNN_PORTABLE=1 in the
 * environment, and on every machine that is not x86-64) builds the plain C
 * paths only: no clones, no ISA-specific code, no MXCSR. What it computes
 * is the same as the baseline clone's; the Python side reads the flag as
 * fastrnn._elementwise.PORTABLE_BUILD.
 */
#ifdef FASTRNN_PORTABLE
#define FR_PORTABLE_BUILD 1
#else
#define FR_PORTABLE_BUILD 0
#endif

/* Activations of the simple recurrent cell. */
enum { FR_ACT_TANH = 0, FR_ACT_RELU = 1 };

#define FR_DECLARE_KERNELS(T, S)                                                   \
    void fr_tanh_##S(const T *x, T *out, ptrdiff_t n);                              \
    void fr_sigmoid_##S(const T *x, T *out, ptrdiff_t n);                           \
    void fr_rnn_act_fwd_##S(int act, T *h, ptrdiff_t n);                            \
    void fr_rnn_act_bwd_##S(int act, T *da, const T *h, ptrdiff_t n, T clip);       \
    void fr_fill_rows_##S(T *out, const T *row, ptrdiff_t nrows, ptrdiff_t ncols);  \
    void fr_add_##S(T *out, const T *a, ptrdiff_t n);                               \
    void fr_vecmat_acc_##S(const T *v, const T *m, T *out, ptrdiff_t n_in,          \
                           ptrdiff_t n_out);                                        \
    void fr_sumsq_scaled_##S(const T *x, ptrdiff_t n, double *scale, double *ssq);  \
    void fr_scale_##S(T *x, ptrdiff_t n, T factor);                                 \
    ptrdiff_t fr_clip_value_##S(T *x, ptrdiff_t n, T limit);

FR_DECLARE_KERNELS(float, f)
FR_DECLARE_KERNELS(double, d)

#undef FR_DECLARE_KERNELS

#endif
