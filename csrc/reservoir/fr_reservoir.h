/*
 * The echo state network reservoir: one time loop, one step.
 *
 * One step of the leaky reservoir (Jaeger 2001; Lukosevicius 2012;
 * Goodfellow et al. (2016), sec. 10.8, with the leaky units of sec. 10.9.2,
 * lr = 1/tau):
 *
 *     x_t = (1 - lr) * x_{t-1} + lr * f(pre_t + W x_{t-1} [+ Wfb y_{t-1}])
 *
 * where pre_t = Win u_t + bias (+ noise) is computed for all steps by one
 * product before the loop. Teacher-forced outputs are inputs like any other
 * (appended to u, Wfb to Win); in the closed loop (generation) y_{t-1} is the
 * readout's own output, y_t = Wout^T x_t + (intercept and input part).
 *
 * Inside the loop the state of B series is kept unit-major, x[i * B + b] (an
 * N x B matrix), so that one pass over a row of the sparse recurrent matrix W
 * serves every series: the inner loop runs over b with unit stride and
 * vectorises. Inputs and outputs of the loop are time-major (T, B, N) as
 * everywhere else in fastrnn.
 *
 * The kernels trust their inputs (checked in Python). Arrays are C-contiguous;
 * their element type is the model's precision.
 */
#ifndef FASTRNN_FR_RESERVOIR_H
#define FASTRNN_FR_RESERVOIR_H

#include <stddef.h>
#include <stdint.h>
#include "fr_fpstate.h"

/* The activation codes: the one table. fastrnn/reservoir/_reservoir.pyx
 * exports it to Python by name (ACTIVATION_CODES). */
enum {
    FR_RES_TANH = 0,
    FR_RES_SIGMOID = 1,
    FR_RES_RELU = 2,
    FR_RES_IDENTITY = 3
};

enum { FR_RES_FLOAT32 = 0, FR_RES_FLOAT64 = 1 };

/* How the steps of one series fetch the entries of x_{t-1} that a row of W
 * needs (fr_res_series.fetch). Both give the same sums: the choice is only
 * speed. Hardware gathers are fast on some CPUs (Intel's with AVX-512) and
 * slower than plain loads on others (AMD's Zen 4: 0.51 against 0.29-0.36 ns
 * per nonzero in a row loop, and AVX-512 gathers 0.53), so AUTO takes
 * whichever fr_res_gathers_pay() measured faster on this CPU. The choice
 * applies to the CSR rows and to the SELL layout alike. */
enum { FR_RES_FETCH_AUTO = 0, FR_RES_FETCH_GATHER = 1, FR_RES_FETCH_LOADS = 2 };

/* Up to this many inputs the projection of all steps is a vectorised C loop
 * (computed row by row, so splitting a series into calls does not change
 * it); above, one BLAS GEMM. */
enum { FR_RES_SMALL_INPUT = 32 };

/* The Fortran BLAS routines the loop uses for a dense W, the feedback and
 * the readout (SciPy's, installed once by fastrnn/reservoir/_reservoir.pyx:
 * the same routines the Cython loops call). */
typedef void (*fr_res_sgemv_fn)(char *trans, int *m, int *n, float *alpha, float *a, int *lda,
                                float *x, int *incx, float *beta, float *y, int *incy);
typedef void (*fr_res_dgemv_fn)(char *trans, int *m, int *n, double *alpha, double *a,
                                int *lda, double *x, int *incx, double *beta, double *y,
                                int *incy);
typedef void (*fr_res_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                                float *alpha, float *a, int *lda, float *b, int *ldb,
                                float *beta, float *c, int *ldc);
typedef void (*fr_res_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                                double *alpha, double *a, int *lda, double *b, int *ldb,
                                double *beta, double *c, int *ldc);

void fr_res_install_blas(fr_res_sgemv_fn sgemv, fr_res_dgemv_fn dgemv, fr_res_sgemm_fn sgemm,
                         fr_res_dgemm_fn dgemm);

/* The network: weights and sizes, read only by the loop. Every array holds
 * elements of `precision` (float or double); int32 CSR indices. */
typedef struct {
    int precision;              /* IN FR_RES_FLOAT32 or FR_RES_FLOAT64 */
    int activation;             /* IN FR_RES_* */
    ptrdiff_t units;            /* IN N */
    ptrdiff_t inputs;           /* IN D: columns of u (teacher-forced outputs included) */
    ptrdiff_t outputs;          /* IN O: fed-back outputs of the closed loop; 0: open loop */
    /* W (N x N): CSR (w_data, w_indices, w_indptr) when w_dense is NULL. */
    const void *w_data;         /* IN (nnz,) */
    const int32_t *w_indices;   /* IN (nnz,) */
    const uint16_t *w_indices16;/* IN (nnz,) the same indices in 16 bits (N <= 65536), read
                                 * instead when given, or NULL */
    const int32_t *w_indptr;    /* IN (N + 1,) */
    const void *w_dense;        /* IN (N, N) row-major, or NULL */
    const void *w_in;           /* IN (N, D) */
    const void *w_in_t;         /* IN (D, N), its transpose */
    const void *leak;           /* IN (N * B,): each unit's leak rate, repeated B times */
    const void *bias;           /* IN (N,): read when the series is not prefilled */
    const void *w_fb;           /* IN (N, O) feedback weights (closed loop) */
    const void *w_out;          /* IN (N, O) the readout's weights on the state (closed loop) */
} fr_res_model;

/* One call's series and buffers. */
typedef struct {
    ptrdiff_t steps;            /* IN T */
    ptrdiff_t batch;            /* IN B */
    const void *u;              /* IN (T, B, D) inputs */
    ptrdiff_t u_stride;         /* IN elements from one row (t, b) of u to the next, >= D */
    int prefilled;              /* IN 1: states hold the bias (+ noise) on entry, and the
                                 * input projection of all steps is added to them first;
                                 * 0: each step computes bias + Win u_t itself, in the pass
                                 * that updates its units (open loop, D <= FR_RES_SMALL_INPUT
                                 * only; the same sums in the same order) */
    void *states;               /* IN/OUT (T, B, N): bias (+ noise) in when prefilled,
                                 * x_1 .. x_T out */
    ptrdiff_t states_stride;    /* IN elements from one row (t, b) of states to the next,
                                 * >= N: a reservoir writes straight into its columns of a
                                 * wider buffer shared with other reservoirs */
    void *state;                /* IN/OUT (N, B): x_0 in, x_T out */
    void *y;                    /* IN/OUT (T, B, O) closed loop: the readout's intercept and
                                 * input part in, y_1 .. y_T out */
    void *y_state;              /* IN/OUT (O, B) closed loop: y_0 in, y_T out */
    void *work;                 /* scratch of 2 N B + O B elements */
    int fetch;                  /* IN FR_RES_FETCH_*: how one series' steps fetch x_{t-1}
                                 * (the same states either way) */
} fr_res_series;

/* Run T steps of B series (the open loop, or the closed loop when
 * model->outputs > 0). With nthreads >= 2 an open loop with a sparse W
 * runs on two threads of fastrnn's thread team (where threads exist): one
 * series (or a few) shares the rows of W at every step, a batch of at
 * least 64 bytes of series per thread is split by series. Returns the
 * number of threads used. */
int fr_res_run(const fr_res_model *model, const fr_res_series *series, int nthreads);

/* Whether this CPU's hardware gathers beat plain loads at fetching a row's
 * entries of x: measured once per process, on the first call (a few tens of
 * microseconds), then remembered. Always 0 where the build has no AVX2
 * clones. */
int fr_res_gathers_pay(void);

#endif
