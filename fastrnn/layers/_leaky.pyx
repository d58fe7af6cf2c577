# cython: language_level=3
"""Time loops of the leaky-unit layer (Goodfellow et al. (2016), eq. 10.7) and of the
information-flow regulariser (eq. 10.16), computed inside the BPTT sweep.

The skeleton is the recurrent layers' own (input projection as one GEMM,
one product and one fused kernel per step, weight gradients as one GEMM each
after the sweep). With the regulariser, the sweep carries a second backward
stream, dOmega/dh_t, beside the loss's dL/dh_t: the loss stream must stay the
pure loss gradient, since Omega is defined on it and treats it as a constant
(Pascanu et al. 2013). That costs two more products per step:
u_t = g_t dh_t/dh_{t-1} is the loss carry itself, then w_t = q_t W^T and the
regulariser's own carry.
"""
from cython cimport floating

from fastrnn._core.blas cimport gemm
from fastrnn._core.matmul cimport rows_times_matrix_acc
from fastrnn._core.kernels cimport fr_fp_enter, fr_fp_leave
from fastrnn.layers._loops cimport project_inputs, input_side_gradients

cdef extern from "fr_leaky.h" nogil:
    void fr_leaky_fwd_f(Py_ssize_t rows, Py_ssize_t H, const float *alpha, const float *hp,
                        float *a_to_s, float *h)
    void fr_leaky_fwd_d(Py_ssize_t rows, Py_ssize_t H, const double *alpha, const double *hp,
                        double *a_to_s, double *h)
    void fr_leaky_bwd_f(Py_ssize_t rows, Py_ssize_t H, const float *alpha, const float *s,
                        const float *hp, float *dh_to_da, float *carry, float *dalpha, float clip)
    void fr_leaky_bwd_d(Py_ssize_t rows, Py_ssize_t H, const double *alpha, const double *s,
                        const double *hp, double *dh_to_da, double *carry, double *dalpha,
                        double clip)
    double fr_omega_q_f(Py_ssize_t rows, Py_ssize_t H, const float *u, const float *g,
                        float weight, float *q)
    double fr_omega_q_d(Py_ssize_t rows, Py_ssize_t H, const double *u, const double *g,
                        double weight, double *q)
    void fr_omega_inject_f(Py_ssize_t rows, Py_ssize_t H, const float *alpha, const float *s,
                           const float *hp, const float *g, const float *q, const float *w,
                           float *r, float *r_carry, float *dalpha)
    void fr_omega_inject_d(Py_ssize_t rows, Py_ssize_t H, const double *alpha, const double *s,
                           const double *hp, const double *g, const double *q, const double *w,
                           double *r, double *r_carry, double *dalpha)


def leaky_forward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                  const floating[:, ::1] w_hh_t, const floating[::1] bias,
                  const floating[::1] alpha, floating[:, :, ::1] hs, floating[:, :, ::1] ss):
    """hs (T+1, B, H): hs[0] = h_0 on entry, hs[t+1] = h_t on exit.
    ss (T, B, H) receives s_t = tanh(a_t). w_hh_t is W_hh transposed."""
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0]
    cdef int t
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        project_inputs(T * B, D, H, &x[0, 0, 0], &w_ih[0, 0], &bias[0], &ss[0, 0, 0])
        for t in range(T):
            rows_times_matrix_acc(B, H, H, &hs[t, 0, 0], &w_hh_t[0, 0], &ss[t, 0, 0])
            if floating is float:
                fr_leaky_fwd_f(B, H, &alpha[0], &hs[t, 0, 0], &ss[t, 0, 0], &hs[t + 1, 0, 0])
            else:
                fr_leaky_fwd_d(B, H, &alpha[0], &hs[t, 0, 0], &ss[t, 0, 0], &hs[t + 1, 0, 0])
        fr_fp_leave(fpstate)


def leaky_backward(const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                   const floating[:, ::1] w_hh, const floating[:, ::1] w_hh_t,
                   const floating[::1] alpha, const floating[:, :, ::1] hs,
                   const floating[:, :, ::1] ss, floating[:, :, ::1] da,
                   floating[:, :, ::1] dx, floating[:, ::1] dh0,
                   floating[:, ::1] gw_ih, floating[:, ::1] gw_hh, floating[::1] gb,
                   floating[::1] galpha, const floating[::1] ones, floating clip_hidden,
                   floating[:, :, ::1] record, floating omega_weight,
                   floating[:, :, ::1] q_all, floating[:, :, ::1] r_all,
                   floating[:, ::1] g_now, floating[:, ::1] u_now, floating[:, ::1] w_now,
                   floating[:, ::1] r_dh0):
    """BPTT for leaky_forward, optionally with the regulariser.

    da (T, B, H): dL/dy_t on entry (dL/dh_T added into da[T-1]); the total
    pre-activation gradient on exit. dh0 (B, H) is overwritten. gw_ih, gw_hh,
    gb, galpha (dL/dalpha) are accumulated into.
    record (T, B, H) or empty: receives dL/dh_t of the loss at every step.
    omega_weight > 0 turns on the regulariser, with q_all, r_all (T, B, H)
    and g_now, u_now, w_now, r_dh0 (B, H) as work space (zeroed here where
    needed). Returns omega_weight * Omega.
    """
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0]
    cdef int t, b, j
    cdef bint omega = omega_weight > 0
    cdef bint recording = record.shape[0] > 0
    cdef double omega_total = 0.0
    cdef floating *carry
    cdef floating *r_carry
    cdef floating *direct
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return 0.0
    with nogil:
        fpstate = fr_fp_enter()
        for b in range(B):
            for j in range(H):
                dh0[b, j] = 0
                if omega:
                    r_dh0[b, j] = 0
        for t in range(T - 1, -1, -1):
            carry = &dh0[0, 0] if t == 0 else &da[t - 1, 0, 0]
            if recording:
                for b in range(B):
                    for j in range(H):
                        record[t, b, j] = da[t, b, j]
            if omega:
                # u_t is built apart from the carry so that its norm can be read
                for b in range(B):
                    for j in range(H):
                        g_now[b, j] = da[t, b, j]
                        u_now[b, j] = 0
                direct = &u_now[0, 0]
            else:
                direct = carry
            if floating is float:
                fr_leaky_bwd_f(B, H, &alpha[0], &ss[t, 0, 0], &hs[t, 0, 0], &da[t, 0, 0],
                               direct, &galpha[0], clip_hidden)
            else:
                fr_leaky_bwd_d(B, H, &alpha[0], &ss[t, 0, 0], &hs[t, 0, 0], &da[t, 0, 0],
                               direct, &galpha[0], clip_hidden)
            rows_times_matrix_acc(B, H, H, &da[t, 0, 0], &w_hh[0, 0], direct)
            if not omega:
                continue
            if floating is float:
                omega_total += fr_omega_q_f(B, H, &u_now[0, 0], &g_now[0, 0], omega_weight,
                                            &q_all[t, 0, 0])
            else:
                omega_total += fr_omega_q_d(B, H, &u_now[0, 0], &g_now[0, 0], omega_weight,
                                            &q_all[t, 0, 0])
            for b in range(B):
                for j in range(H):
                    carry[b * H + j] += u_now[b, j]
                    w_now[b, j] = 0
            rows_times_matrix_acc(B, H, H, &q_all[t, 0, 0], &w_hh_t[0, 0], &w_now[0, 0])
            r_carry = &r_dh0[0, 0] if t == 0 else &r_all[t - 1, 0, 0]
            if floating is float:
                fr_omega_inject_f(B, H, &alpha[0], &ss[t, 0, 0], &hs[t, 0, 0], &g_now[0, 0],
                                  &q_all[t, 0, 0], &w_now[0, 0], &r_all[t, 0, 0], r_carry,
                                  &galpha[0])
            else:
                fr_omega_inject_d(B, H, &alpha[0], &ss[t, 0, 0], &hs[t, 0, 0], &g_now[0, 0],
                                  &q_all[t, 0, 0], &w_now[0, 0], &r_all[t, 0, 0], r_carry,
                                  &galpha[0])
            rows_times_matrix_acc(B, H, H, &r_all[t, 0, 0], &w_hh[0, 0], r_carry)
        if omega:
            # Omega's direct dependence on W_hh: sum_t e_t^T q_t, e_t the loss's
            # pre-activation gradient (da before the regulariser's is added).
            gemm(True, False, H, H, T * B, <floating> 1, &da[0, 0, 0], H, &q_all[0, 0, 0], H,
                 <floating> 1, &gw_hh[0, 0], H)
            for t in range(T):
                for b in range(B):
                    for j in range(H):
                        da[t, b, j] += r_all[t, b, j]
            for b in range(B):
                for j in range(H):
                    dh0[b, j] += r_dh0[b, j]
        gemm(True, False, H, H, T * B, <floating> 1, &da[0, 0, 0], H, &hs[0, 0, 0], H,
             <floating> 1, &gw_hh[0, 0], H)
        input_side_gradients(T * B, D, H, &da[0, 0, 0], &x[0, 0, 0], &w_ih[0, 0], &ones[0],
                             &gw_ih[0, 0], &gb[0], &dx[0, 0, 0])
        fr_fp_leave(fpstate)
    return omega_total
