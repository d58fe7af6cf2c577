# cython: language_level=3
"""Declarations of the reservoir loop in csrc/reservoir/fr_reservoir.h.

One C entry point, ``fr_res_run``, runs every loop of the reservoir (open,
teacher-forced, closed; sparse or dense W; float or double) from two small
structs: ``fr_res_model`` (the weights, read only) and ``fr_res_series``
(one call's inputs, states and buffers). The activation codes are the C
enum, exported to Python by ``fastrnn/reservoir/_reservoir.pyx``.
"""
from cython cimport floating
from libc.stdint cimport int32_t, uint16_t


cdef extern from "fr_reservoir.h" nogil:
    enum:
        FR_RES_TANH
        FR_RES_SIGMOID
        FR_RES_RELU
        FR_RES_IDENTITY
        FR_RES_FLOAT32
        FR_RES_FLOAT64
        FR_RES_SMALL_INPUT
        FR_RES_FETCH_AUTO
        FR_RES_FETCH_GATHER
        FR_RES_FETCH_LOADS

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
        const uint16_t *w_indices16
        const int32_t *w_indptr
        const void *w_dense
        const void *w_in
        const void *w_in_t
        const void *leak
        const void *bias
        const void *w_fb
        const void *w_out

    ctypedef struct fr_res_series:
        Py_ssize_t steps
        Py_ssize_t batch
        const void *u
        Py_ssize_t u_stride
        int prefilled
        void *states
        Py_ssize_t states_stride
        void *state
        void *y
        void *y_state
        void *work
        int fetch

    int fr_res_run(const fr_res_model *model, const fr_res_series *series, int nthreads)
    int fr_res_gathers_pay()


# The loop shares a step's units between the threads of fastrnn's one team
# (named here so that the build links csrc/common/fr_team.c).
cdef extern from "fr_team.h" nogil:
    pass


cdef inline int load_weights(fr_res_model *model, weights, Py_ssize_t inputs,
                             floating[:, ::1] state) except -1:
    """Fill ``model`` for the open loop from a checked ``LoopWeights``
    (fastrnn/reservoir/reservoir.py) of the dtype of ``state`` (N, B), with
    ``inputs`` columns of u. The pointers stay valid while ``weights`` holds
    its arrays; the closed-loop fields (``outputs``, ``w_fb``, ``w_out``)
    are left for the caller."""
    cdef const floating[::1] w_data
    cdef const int32_t[::1] w_indices
    cdef const int32_t[::1] w_indptr
    cdef const uint16_t[::1] w_indices16
    cdef const floating[:, ::1] w_dense
    cdef const floating[:, ::1] w_in
    cdef const floating[:, ::1] w_in_t
    cdef const floating[::1] leak
    cdef const floating[::1] bias
    model.precision = FR_RES_FLOAT32 if floating is float else FR_RES_FLOAT64
    model.activation = weights.activation
    model.units = state.shape[0]
    model.inputs = inputs
    model.outputs = 0
    model.w_data = NULL
    model.w_indices = NULL
    model.w_indices16 = NULL
    model.w_dense = NULL
    model.w_in = NULL
    model.w_in_t = NULL
    model.w_fb = NULL
    model.w_out = NULL
    if weights.w_dense is None:
        w_data, w_indices, w_indptr = weights.w_data, weights.w_indices, weights.w_indptr
        model.w_indptr = &w_indptr[0]
        if w_data.shape[0] > 0:
            model.w_data = &w_data[0]
            model.w_indices = &w_indices[0]
            if weights.w_indices16 is not None:
                w_indices16 = weights.w_indices16
                model.w_indices16 = &w_indices16[0]
    else:
        w_dense = weights.w_dense
        model.w_dense = &w_dense[0, 0]
    if inputs > 0:
        w_in, w_in_t = weights.w_in, weights.w_in_t
        model.w_in = &w_in[0, 0]
        model.w_in_t = &w_in_t[0, 0]
    leak = weights.leak
    model.leak = &leak[0]
    bias = weights.bias
    model.bias = &bias[0]
    return 0
