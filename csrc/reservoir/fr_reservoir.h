/*
 * Kernels of the echo state network reservoir, in float (_f) and double (_d).
 *
 * Inside a time loop the reservoir state of B series is kept unit-major,
 * x[i * B + b] (an N x B matrix), so that one pass over a row of the sparse
 * recurrent matrix W serves every series: the inner loop runs over b with
 * unit stride and vectorises. Inputs and outputs of the loop are time-major
 * (T, B, N) as everywhere else in fastrnn; the kernels transpose on the way in
 * and out of each step.
 *
 * The kernels trust their inputs (checked in Python). Arrays are C-contiguous.
 */
#ifndef FASTRNN_FR_RESERVOIR_H
#define FASTRNN_FR_RESERVOIR_H

#include <stddef.h>
#include <stdint.h>
#include "fr_fpstate.h"

enum { FR_RES_TANH = 0, FR_RES_SIGMOID = 1, FR_RES_RELU = 2, FR_RES_IDENTITY = 3 };

#define FR_DECLARE_RESERVOIR(T, S)                                                      \
    void fr_res_transpose_##S(const T *src, ptrdiff_t rows, ptrdiff_t cols, T *dst);     \
    void fr_res_csr_acc_##S(const T *data, const int32_t *indices,                       \
                            const int32_t *indptr, ptrdiff_t n, const T *x,              \
                            ptrdiff_t batch, T *acc);                                    \
    void fr_res_leaky_##S(int act, const T *acc, const T *lr, const T *x_old, T *x_new,  \
                          ptrdiff_t n);                                                  \
    void fr_res_input_proj_##S(const T *u, ptrdiff_t rows, ptrdiff_t d, const T *win_t,  \
                               ptrdiff_t n, T *out);                                     \
    int fr_res_run_csr_##S(int act, const T *data, const int32_t *indices,               \
                           const int32_t *indptr, ptrdiff_t n, ptrdiff_t batch,          \
                           ptrdiff_t steps, const T *lr, T *state, T *spare, T *acc,     \
                           T *out, int nthreads);

FR_DECLARE_RESERVOIR(float, f)
FR_DECLARE_RESERVOIR(double, d)

#undef FR_DECLARE_RESERVOIR

#endif
