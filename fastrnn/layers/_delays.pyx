# cython: language_level=3
"""Time loops of the recurrent layer with delays (Goodfellow et al. (2016), sec. 10.7.2;
Lin et al. 1996).

h_t = act(W_ih x_t + b + sum_d W_d h_{t-d}) for the delays d in `delays`.
The state buffer holds D_max steps of history before the sequence, so every
delayed read and every delayed gradient write is an ordinary row of it.
"""
from cython cimport floating

from fastrnn._core.blas cimport gemm
from fastrnn._core.matmul cimport rows_times_matrix_acc
from fastrnn.layers._loops cimport project_inputs, input_side_gradients
from fastrnn._core.kernels cimport (
    fr_fp_enter, fr_fp_leave,
    fr_rnn_act_fwd_f, fr_rnn_act_fwd_d, fr_rnn_act_bwd_f, fr_rnn_act_bwd_d,
)


def delay_forward(int act, const Py_ssize_t[::1] delays, const floating[:, :, ::1] x,
                  const floating[:, ::1] w_ih, const floating[:, :, ::1] w_hh_t,
                  const floating[::1] bias, floating[:, :, ::1] hs):
    """hs (M + T, B, H), M = max(delays): rows 0..M-1 hold the history (the
    state at steps -M+1 .. 0) on entry; row M-1+t receives h_t (t = 1..T).
    w_hh_t (K, H, H): W_d transposed, one per delay."""
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0], K = delays.shape[0]
    cdef int M = hs.shape[0] - T
    cdef int t, j, row
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        project_inputs(T * B, D, H, &x[0, 0, 0], &w_ih[0, 0], &bias[0], &hs[M, 0, 0])
        for t in range(1, T + 1):
            row = M - 1 + t
            for j in range(K):
                rows_times_matrix_acc(B, H, H, &hs[row - delays[j], 0, 0], &w_hh_t[j, 0, 0],
                                      &hs[row, 0, 0])
            if floating is float:
                fr_rnn_act_fwd_f(act, &hs[row, 0, 0], <Py_ssize_t> B * H)
            else:
                fr_rnn_act_fwd_d(act, &hs[row, 0, 0], <Py_ssize_t> B * H)
        fr_fp_leave(fpstate)


def delay_backward(int act, const Py_ssize_t[::1] delays, const floating[:, :, ::1] x,
                   const floating[:, ::1] w_ih, const floating[:, :, ::1] w_hh,
                   const floating[:, :, ::1] hs, floating[:, :, ::1] da,
                   floating[:, :, ::1] dx, floating[:, ::1] gw_ih,
                   floating[:, :, ::1] gw_hh, floating[::1] gb,
                   const floating[::1] ones, floating clip_hidden):
    """BPTT for delay_forward. da (M + T, B, H) is laid out as hs: rows M..
    hold dL/dy_t on entry (plus dL/dh_T), rows 0..M-1 zeros; on exit rows M..
    hold dL/da_t and rows 0..M-1 the gradients of the history states."""
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0], K = delays.shape[0]
    cdef int M = hs.shape[0] - T
    cdef int t, j, row
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        for t in range(T, 0, -1):
            row = M - 1 + t
            # every later step has already added its delayed gradient here
            if floating is float:
                fr_rnn_act_bwd_f(act, &da[row, 0, 0], &hs[row, 0, 0], <Py_ssize_t> B * H, clip_hidden)
            else:
                fr_rnn_act_bwd_d(act, &da[row, 0, 0], &hs[row, 0, 0], <Py_ssize_t> B * H, clip_hidden)
            for j in range(K):
                rows_times_matrix_acc(B, H, H, &da[row, 0, 0], &w_hh[j, 0, 0],
                                      &da[row - delays[j], 0, 0])
        for j in range(K):
            # dW_d += sum_t dA_t^T h_{t-d}: the state rows shifted by d
            gemm(True, False, H, H, T * B, <floating> 1, &da[M, 0, 0], H,
                 &hs[M - delays[j], 0, 0], H, <floating> 1, &gw_hh[j, 0, 0], H)
        input_side_gradients(T * B, D, H, &da[M, 0, 0], &x[0, 0, 0], &w_ih[0, 0], &ones[0],
                             &gw_ih[0, 0], &gb[0], &dx[0, 0, 0])
        fr_fp_leave(fpstate)
