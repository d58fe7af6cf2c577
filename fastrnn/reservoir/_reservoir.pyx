# cython: language_level=3
"""Time loops of the echo state network reservoir (Goodfellow et al. (2016), eq. 10.7).

One call runs all T steps of B series without the GIL:

1. before the loop, the pre-activations of every step, Win u_t + bias (plus
   Wfb y_{t-1} when the outputs are teacher-forced, which the caller appends
   to u), are one product (T*B x D) @ (D x N) added onto ``out``, which the
   caller filled with the bias (and noise): a vectorised C loop for up to 32
   inputs, one BLAS GEMM above;
2. the time loop: with a sparse W, all T steps are one C call
   (``fr_res_run_csr`` in csrc/reservoir/fr_reservoir_impl.h), whose steps fuse a CSR
   product written for the reservoir's sparsity with the leaky update, the
   rows of W optionally shared by two threads; with a dense W, each step is
   one BLAS GEMV/GEMM plus the same fused C update. x_t is written over the
   pre-activations in ``out``.

The state inside the loop is unit-major (N x B) so that each pass over a row
of W serves all B series.
"""
from cython cimport floating
from libc.stdint cimport int32_t
from libc.string cimport memcpy

from fastrnn._core.blas cimport gemm, gemv

cdef extern from "fr_reservoir.h" nogil:
    unsigned int fr_fp_enter()
    void fr_fp_leave(unsigned int saved)
    void fr_res_transpose_f(const float *src, Py_ssize_t rows, Py_ssize_t cols, float *dst)
    void fr_res_transpose_d(const double *src, Py_ssize_t rows, Py_ssize_t cols, double *dst)
    void fr_res_leaky_f(int act, const float *acc, const float *lr, const float *x_old,
                        float *x_new, Py_ssize_t n)
    void fr_res_leaky_d(int act, const double *acc, const double *lr, const double *x_old,
                        double *x_new, Py_ssize_t n)
    void fr_res_input_proj_f(const float *u, Py_ssize_t rows, Py_ssize_t d, const float *win_t,
                             Py_ssize_t n, float *out)
    void fr_res_input_proj_d(const double *u, Py_ssize_t rows, Py_ssize_t d, const double *win_t,
                             Py_ssize_t n, double *out)
    int fr_res_run_csr_f(int act, const float *data, const int32_t *indices,
                         const int32_t *indptr, Py_ssize_t n, Py_ssize_t batch,
                         Py_ssize_t steps, const float *lr, float *state, float *spare,
                         float *acc, float *out, int nthreads)
    int fr_res_run_csr_d(int act, const double *data, const int32_t *indices,
                         const int32_t *indptr, Py_ssize_t n, Py_ssize_t batch,
                         Py_ssize_t steps, const double *lr, double *state, double *spare,
                         double *acc, double *out, int nthreads)
    void fr_res_csr_acc_f(const float *data, const int32_t *indices, const int32_t *indptr,
                          Py_ssize_t n, const float *x, Py_ssize_t batch, float *acc)
    void fr_res_csr_acc_d(const double *data, const int32_t *indices, const int32_t *indptr,
                          Py_ssize_t n, const double *x, Py_ssize_t batch, double *acc)


cdef inline void _transpose(const floating *src, Py_ssize_t rows, Py_ssize_t cols,
                            floating *dst) noexcept nogil:
    if floating is float:
        fr_res_transpose_f(src, rows, cols, dst)
    else:
        fr_res_transpose_d(src, rows, cols, dst)


# Up to this many inputs the projection is a plain vectorised C loop; above,
# one BLAS GEMM.
DEF SMALL_INPUT = 32


cdef inline void _input_projection(int rows, int D, int N, const floating *u,
                                   const floating *win, const floating *win_t,
                                   floating *out) noexcept nogil:
    """out (rows x N) += u (rows x D) @ Win^T."""
    if D == 0:
        return
    if D <= SMALL_INPUT:
        if floating is float:
            fr_res_input_proj_f(u, rows, D, win_t, N, out)
        else:
            fr_res_input_proj_d(u, rows, D, win_t, N, out)
    else:
        gemm(False, True, rows, N, D, <floating> 1, u, D, win, D, <floating> 1, out, N)


cdef inline void _step(int act, bint sparse, int n, int batch,
                       const floating *data, const int32_t *indices,
                       const int32_t *indptr, const floating *w_dense,
                       const floating *pre, const floating *lr,
                       const floating *x_old, floating *x_new, floating *acc,
                       const floating *wfb, int n_fb, const floating *y_prev,
                       floating *out) noexcept nogil:
    """acc = pre^T + W x_old (+ Wfb y_prev); x_new = leaky(acc); out = x_new^T."""
    _transpose(pre, batch, n, acc)
    if sparse:
        if floating is float:
            fr_res_csr_acc_f(data, indices, indptr, n, x_old, batch, acc)
        else:
            fr_res_csr_acc_d(data, indices, indptr, n, x_old, batch, acc)
    elif batch == 1:
        gemv(False, n, n, <floating> 1, w_dense, n, x_old, <floating> 1, acc)
    else:
        gemm(False, False, n, batch, n, <floating> 1, w_dense, n, x_old, batch,
             <floating> 1, acc, batch)
    if n_fb > 0:
        if batch == 1:
            gemv(False, n, n_fb, <floating> 1, wfb, n_fb, y_prev, <floating> 1, acc)
        else:
            gemm(False, False, n, batch, n_fb, <floating> 1, wfb, n_fb, y_prev, batch,
                 <floating> 1, acc, batch)
    if floating is float:
        fr_res_leaky_f(act, acc, lr, x_old, x_new, <Py_ssize_t> n * batch)
    else:
        fr_res_leaky_d(act, acc, lr, x_old, x_new, <Py_ssize_t> n * batch)
    _transpose(x_new, n, batch, out)


def reservoir_run(int act, bint sparse, const floating[:, :, ::1] u,
                  const floating[:, ::1] win, const floating[:, ::1] win_t,
                  const floating[::1] data,
                  const int32_t[::1] indices, const int32_t[::1] indptr,
                  const floating[:, ::1] w_dense, const floating[::1] lr,
                  floating[:, ::1] state, floating[:, ::1] spare,
                  floating[:, ::1] acc, floating[:, :, ::1] out, int nthreads=1):
    """Run the reservoir over T steps of B series.

    Parameters
    ----------
    act : FR_RES_* activation code
    sparse : use the CSR (data, indices, indptr) if True, else w_dense (N, N)
    u : (T, B, D) inputs (with the teacher-forced feedback appended)
    win : (N, D); win_t : (D, N), its transpose (contiguous)
    lr : (N * B,) leak rate of each unit, repeated B times (unit-major)
    state : (N, B), x_0 transposed on entry, x_T on exit
    spare, acc : (N, B) work buffers
    out : (T, B, N), bias (+ noise) on entry, the states x_1 .. x_T on exit
    nthreads : threads sharing the rows of a sparse W (1 or 2)

    Returns the number of threads used.
    """
    cdef int T = u.shape[0], B = u.shape[1], D = u.shape[2]
    cdef int N = state.shape[0]
    cdef int used = 1
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return used
    with nogil:
        fpstate = fr_fp_enter()
        if D > 0:
            _input_projection(T * B, D, N, &u[0, 0, 0], &win[0, 0], &win_t[0, 0],
                              &out[0, 0, 0])
        if sparse:
            if floating is float:
                used = fr_res_run_csr_f(act, &data[0], &indices[0], &indptr[0], N, B, T,
                                        &lr[0], &state[0, 0], &spare[0, 0], &acc[0, 0],
                                        &out[0, 0, 0], nthreads)
            else:
                used = fr_res_run_csr_d(act, &data[0], &indices[0], &indptr[0], N, B, T,
                                        &lr[0], &state[0, 0], &spare[0, 0], &acc[0, 0],
                                        &out[0, 0, 0], nthreads)
        else:
            _dense_loop(act, T, B, N, &w_dense[0, 0], &out[0, 0, 0], &lr[0],
                        &state[0, 0], &spare[0, 0], &acc[0, 0])
        fr_fp_leave(fpstate)
    return used


cdef void _dense_loop(int act, int T, int B, int N, const floating *w_dense,
                      floating *out, const floating *lr, floating *state,
                      floating *spare, floating *acc) noexcept nogil:
    """The time loop with a dense W: one BLAS GEMV/GEMM per step."""
    cdef int t
    cdef floating *x_old = state
    cdef floating *x_new = spare
    cdef floating *tmp
    for t in range(T):
        _step(act, False, N, B, NULL, NULL, NULL, w_dense, &out[<Py_ssize_t> t * B * N], lr,
              x_old, x_new, acc, NULL, 0, NULL, &out[<Py_ssize_t> t * B * N])
        tmp = x_old
        x_old = x_new
        x_new = tmp
    if x_old != state:
        memcpy(state, x_old, <size_t> N * B * sizeof(floating))


def reservoir_closed_loop(int act, bint sparse, const floating[:, :, ::1] u,
                          const floating[:, ::1] win, const floating[:, ::1] win_t,
                          const floating[::1] data,
                          const int32_t[::1] indices, const int32_t[::1] indptr,
                          const floating[:, ::1] w_dense, const floating[::1] lr,
                          const floating[:, ::1] wfb, const floating[:, ::1] coef,
                          floating[:, ::1] state, floating[:, ::1] spare,
                          floating[:, ::1] acc, floating[:, ::1] y_prev,
                          floating[:, ::1] y_spare, floating[:, :, ::1] out,
                          floating[:, :, ::1] y_out):
    """Run the reservoir with its readout's output fed back (free run).

    Per step t: x_t = leaky(Win u_t + bias + W x_{t-1} + Wfb y_{t-1}) and
    y_t = coef^T x_t + (input part of the readout and intercept).

    Parameters
    ----------
    u, win, data, indices, indptr, w_dense, lr, state, spare, acc, out :
        as in `reservoir_run` (out holds bias (+ noise) on entry).
    wfb : (N, O) feedback weights
    coef : (N, O) readout weights on the state
    y_prev : (O, B), y_0 transposed on entry, y_T on exit; y_spare (O, B) work
    y_out : (T, B, O), the readout's intercept plus its input part
        (u_t @ coef_u) on entry, the outputs y_1 .. y_T on exit
    """
    cdef int T = u.shape[0], B = u.shape[1], D = u.shape[2]
    cdef int N = state.shape[0], O = wfb.shape[1]
    cdef int t
    cdef unsigned int fpstate
    cdef floating *x_old
    cdef floating *x_new
    cdef floating *y_old
    cdef floating *y_new
    cdef floating *tmp
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        if D > 0:
            _input_projection(T * B, D, N, &u[0, 0, 0], &win[0, 0], &win_t[0, 0],
                              &out[0, 0, 0])
        x_old = &state[0, 0]
        x_new = &spare[0, 0]
        y_old = &y_prev[0, 0]
        y_new = &y_spare[0, 0]
        for t in range(T):
            _step(act, sparse, N, B, &data[0], &indices[0], &indptr[0], &w_dense[0, 0],
                  &out[t, 0, 0], &lr[0], x_old, x_new, &acc[0, 0], &wfb[0, 0], O, y_old,
                  &out[t, 0, 0])
            # y_t^T (O x B) = coef^T x_t + (intercept + input part)^T
            _transpose(&y_out[t, 0, 0], B, O, y_new)
            if B == 1:
                gemv(True, N, O, <floating> 1, &coef[0, 0], O, x_new, <floating> 1, y_new)
            else:
                gemm(True, False, O, B, N, <floating> 1, &coef[0, 0], O, x_new, B,
                     <floating> 1, y_new, B)
            _transpose(y_new, O, B, &y_out[t, 0, 0])
            tmp = x_old
            x_old = x_new
            x_new = tmp
            tmp = y_old
            y_old = y_new
            y_new = tmp
        if x_old != &state[0, 0]:
            memcpy(&state[0, 0], x_old, <size_t> N * B * sizeof(floating))
        if y_old != &y_prev[0, 0]:
            memcpy(&y_prev[0, 0], y_old, <size_t> O * B * sizeof(floating))
        fr_fp_leave(fpstate)
