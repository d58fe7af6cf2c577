# cython: language_level=3
"""Declarations of the reservoir loop in csrc/reservoir/fr_reservoir.h.

One C entry point, ``fr_res_run``, runs every loop of the reservoir (open,
teacher-forced, closed; sparse or dense W; float or double) from two small
structs: ``fr_res_model`` (the weights, read only) and ``fr_res_series``
(one call's inputs, states and buffers). The activation codes are the C
enum, exported to Python by ``fastrnn/reservoir/_reservoir.pyx``.
"""
from libc.stdint cimport int32_t


cdef extern from "fr_reservoir.h" nogil:
    enum:
        FR_RES_TANH
        FR_RES_SIGMOID
        FR_RES_RELU
        FR_RES_IDENTITY
        FR_RES_FLOAT32
        FR_RES_FLOAT64
        FR_RES_SMALL_INPUT

    ctypedef void (*fr_res_sgemv_fn)(char *, int *, int *, float *, float *, int *, float *,
                                     int *, float *, float *, int *) noexcept nogil
    ctypedef void (*fr_res_dgemv_fn)(char *, int *, int *, double *, double *, int *,
                                     double *, int *, double *, double *, int *) noexcept nogil
    ctypedef void (*fr_res_sgemm_fn)(char *, char *, int *, int *, int *, float *, float *,
                                     int *, float *, int *, float *, float *,
                                     int *) noexcept nogil
    ctypedef void (*fr_res_dgemm_fn)(char *, char *, int *, int *, int *, double *, double *,
                                     int *, double *, int *, double *, double *,
                                     int *) noexcept nogil

    void fr_res_install_blas(fr_res_sgemv_fn sgemv, fr_res_dgemv_fn dgemv,
                             fr_res_sgemm_fn sgemm, fr_res_dgemm_fn dgemm)

    ctypedef struct fr_res_model:
        int precision
        int activation
        Py_ssize_t units
        Py_ssize_t inputs
        Py_ssize_t outputs
        const void *w_data
        const int32_t *w_indices
        const int32_t *w_indptr
        const void *w_dense
        const void *w_in
        const void *w_in_t
        const void *leak
        const void *w_fb
        const void *w_out

    ctypedef struct fr_res_series:
        Py_ssize_t steps
        Py_ssize_t batch
        const void *u
        void *states
        void *state
        void *y
        void *y_state
        void *work

    int fr_res_run(const fr_res_model *model, const fr_res_series *series, int nthreads)
