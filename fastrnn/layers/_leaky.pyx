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

Ragged batches: the rows are sorted by decreasing length and
``batch_sizes[t]`` of them run at step t (a prefix), as in PyTorch's packed
sequences; the rows past their end are neither read nor written.
"""
import numpy as np
from cython cimport floating

from fastrnn._core.blas cimport gemm
from fastrnn._core.matmul cimport rows_times_matrix_acc
from fastrnn._core.kernels cimport fr_fp_enter, fr_fp_leave
from fastrnn.layers._loops cimport input_side_gradients, project_inputs
from fastrnn.layers._leaky_kernels cimport (
    leaky_step, leaky_step_backward, omega_step_terms, omega_inject,
)


def leaky_forward(tuple weights, const floating[:, :, ::1] x, floating[:, :, ::1] hs,
                  floating[:, :, ::1] ss, const int[::1] batch_sizes):
    """The forward sweep over T steps.

    Parameters
    ----------
    weights : tuple of arrays, IN
        (w_ih (H, D), w_hh_t (H, H) = W_hh transposed, bias (H,) = b_ih + b_hh,
        alpha (H,) = 1/tau), in the dtype of x.
    x : (T, B, D), IN
        Rows sorted by decreasing length.
    hs : (T + 1, B, H), IN/OUT
        hs[0] = h_0 on entry; hs[t + 1] = h_t on exit for the rows running
        at step t (the others are not written).
    ss : (T, B, H), OUT
        s_t = tanh(a_t) for the running rows.
    batch_sizes : (T,) int32, IN
        Rows running at each step.
    """
    cdef const floating[:, ::1] w_ih = weights[0]
    cdef const floating[:, ::1] w_hh_t = weights[1]
    cdef const floating[::1] bias = weights[2]
    cdef const floating[::1] alpha = weights[3]
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0]
    cdef int t, rows
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        project_inputs(T * B, D, H, &x[0, 0, 0], &w_ih[0, 0], &bias[0], &ss[0, 0, 0])
        for t in range(T):
            rows = batch_sizes[t]
            rows_times_matrix_acc(rows, H, H, &hs[t, 0, 0], &w_hh_t[0, 0], &ss[t, 0, 0])
            leaky_step(rows, H, &alpha[0], &hs[t, 0, 0], &ss[t, 0, 0], &hs[t + 1, 0, 0])
        fr_fp_leave(fpstate)


def leaky_backward(tuple weights, tuple saved, floating[:, :, ::1] da, tuple gradients,
                   tuple param_grads, tuple regulariser, const int[::1] batch_sizes,
                   double clip_hidden):
    """BPTT for `leaky_forward`, optionally with the regulariser.

    Parameters
    ----------
    weights : tuple of arrays, IN
        (w_ih (H, D), w_hh (H, H), w_hh_t (H, H), alpha (H,)).
    saved : tuple of arrays, IN
        (x, hs, ss) of the forward sweep.
    da : (T, B, H), IN/OUT
        dL/dh_t from above on entry (zero past each row's end, dL/dh_n added
        at its last step); the pre-activation gradient dL/da_t on exit.
    gradients : tuple of arrays, OUT
        (dx (T, B, D), dh0 (B, H), record (T, B, H) or (0, B, H)): record
        receives dL/dh_t of the loss at every step.
    param_grads : tuple of arrays, IN/OUT
        (gw_ih (H, D), gw_hh (H, H), gb (H,), galpha (H,)), accumulated into;
        gb is the gradient of each of the two bias vectors.
    regulariser : tuple
        (omega_weight, q_all, r_all, g_now, u_now, w_now, r_dh0): a weight > 0
        turns on the regulariser, with q_all, r_all (T, B, H) zeroed work
        space and g_now, u_now, w_now, r_dh0 (B, H) work space; with weight 0
        the arrays may be empty.
    batch_sizes : (T,) int32, IN
    clip_hidden : float
        Clip dL/dh_t to [-clip, clip] at every step when > 0.

    Returns
    -------
    omega_weight * Omega : float
    """
    cdef const floating[:, ::1] w_ih = weights[0]
    cdef const floating[:, ::1] w_hh = weights[1]
    cdef const floating[:, ::1] w_hh_t = weights[2]
    cdef const floating[::1] alpha = weights[3]
    cdef const floating[:, :, ::1] x = saved[0]
    cdef const floating[:, :, ::1] hs = saved[1]
    cdef const floating[:, :, ::1] ss = saved[2]
    cdef floating[:, :, ::1] dx = gradients[0]
    cdef floating[:, ::1] dh0 = gradients[1]
    cdef floating[:, :, ::1] record = gradients[2]
    cdef floating[:, ::1] gw_ih = param_grads[0]
    cdef floating[:, ::1] gw_hh = param_grads[1]
    cdef floating[::1] gb = param_grads[2]
    cdef floating[::1] galpha = param_grads[3]
    cdef floating omega_weight = regulariser[0]
    cdef floating[:, :, ::1] q_all = regulariser[1]
    cdef floating[:, :, ::1] r_all = regulariser[2]
    cdef floating[:, ::1] g_now = regulariser[3]
    cdef floating[:, ::1] u_now = regulariser[4]
    cdef floating[:, ::1] w_now = regulariser[5]
    cdef floating[:, ::1] r_dh0 = regulariser[6]
    cdef floating clip = clip_hidden
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0]
    cdef int t, b, j, rows
    cdef bint omega = omega_weight > 0
    cdef bint recording = record.shape[0] > 0
    cdef double omega_total = 0.0
    cdef floating *carry
    cdef floating *r_carry
    cdef floating *direct
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return 0.0
    cdef floating[::1] ones = np.ones(T * B, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        fpstate = fr_fp_enter()
        for b in range(B):
            for j in range(H):
                dh0[b, j] = 0
                if omega:
                    r_dh0[b, j] = 0
        for t in range(T - 1, -1, -1):
            rows = batch_sizes[t]
            carry = &dh0[0, 0] if t == 0 else &da[t - 1, 0, 0]
            if recording:
                for b in range(B):
                    for j in range(H):
                        record[t, b, j] = da[t, b, j]
            if omega:
                # u_t is built apart from the carry so that its norm can be read
                for b in range(rows):
                    for j in range(H):
                        g_now[b, j] = da[t, b, j]
                        u_now[b, j] = 0
                direct = &u_now[0, 0]
            else:
                direct = carry
            leaky_step_backward(rows, H, &alpha[0], &ss[t, 0, 0], &hs[t, 0, 0], &da[t, 0, 0],
                                direct, &galpha[0], clip)
            rows_times_matrix_acc(rows, H, H, &da[t, 0, 0], &w_hh[0, 0], direct)
            if not omega:
                continue
            omega_total += omega_step_terms(rows, H, &u_now[0, 0], &g_now[0, 0], omega_weight,
                                            &q_all[t, 0, 0])
            for b in range(rows):
                for j in range(H):
                    carry[b * H + j] += u_now[b, j]
                    w_now[b, j] = 0
            rows_times_matrix_acc(rows, H, H, &q_all[t, 0, 0], &w_hh_t[0, 0], &w_now[0, 0])
            r_carry = &r_dh0[0, 0] if t == 0 else &r_all[t - 1, 0, 0]
            omega_inject(rows, H, &alpha[0], &ss[t, 0, 0], &hs[t, 0, 0], &g_now[0, 0],
                         &q_all[t, 0, 0], &w_now[0, 0], &r_all[t, 0, 0], r_carry, &galpha[0])
            rows_times_matrix_acc(rows, H, H, &r_all[t, 0, 0], &w_hh[0, 0], r_carry)
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
