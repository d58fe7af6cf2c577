# cython: language_level=3
"""Time loops of the recurrent layer with delays (Goodfellow et al. (2016), sec. 10.7.2;
Lin et al. 1996).

h_t = act(W_ih x_t + b + sum_d W_d h_{t-d}) for the delays d in `delays`.
The state buffer holds M = max(delays) steps of history before the sequence,
so every delayed read and every delayed gradient write is an ordinary row of
it.

Ragged batches: the rows are sorted by decreasing length and
``batch_sizes[t]`` of them run at step t (a prefix), as in PyTorch's packed
sequences; a row running at step t has run at every earlier step, so its
delayed reads are all rows written by its own sequence (or its history).
"""
import numpy as np
from cython cimport floating
from libc.string cimport memset

from fastrnn._core.blas cimport gemm
from fastrnn._core.matmul cimport rows_times_matrix_acc
from fastrnn._core.kernels cimport (
    fr_fp_enter, fr_fp_leave, rnn_activation_backward, rnn_activation_forward,
)
from fastrnn.layers._loops cimport input_side_gradients, project_inputs


def delay_forward(tuple weights, const Py_ssize_t[::1] delays, const floating[:, :, ::1] x,
                  floating[:, :, ::1] hs, const int[::1] batch_sizes):
    """The forward sweep of one layer over T steps.

    Parameters
    ----------
    weights : tuple, IN
        (act, w_ih (H, D), w_hh_t (K, H, H): W_d transposed, one per delay,
        bias (H,) = b_ih + b_hh); act is FR_ACT_TANH or FR_ACT_RELU.
    delays : (K,), IN
        The delays, ascending; M = delays[K - 1].
    x : (T, B, D), IN
        Rows sorted by decreasing length.
    hs : (M + T, B, H), IN/OUT
        Rows 0..M-1 hold the history (the states at steps -M+1 .. 0) on
        entry; row M-1+t receives h_t (t = 1..T) for the rows running at
        step t, zero for the others.
    batch_sizes : (T,) int32, IN
        Rows running at each step.
    """
    cdef int act = weights[0]
    cdef const floating[:, ::1] w_ih = weights[1]
    cdef const floating[:, :, ::1] w_hh_t = weights[2]
    cdef const floating[::1] bias = weights[3]
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0], K = delays.shape[0]
    cdef int M = hs.shape[0] - T
    cdef int t, j, row, rows
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        project_inputs(T * B, D, H, &x[0, 0, 0], &w_ih[0, 0], &bias[0], &hs[M, 0, 0])
        for t in range(1, T + 1):
            row = M - 1 + t
            rows = batch_sizes[t - 1]
            if rows < B:   # rows past their end: outputs are zero
                memset(&hs[row, rows, 0], 0, (B - rows) * H * sizeof(floating))
            for j in range(K):
                rows_times_matrix_acc(rows, H, H, &hs[row - delays[j], 0, 0], &w_hh_t[j, 0, 0],
                                      &hs[row, 0, 0])
            rnn_activation_forward(act, &hs[row, 0, 0], <Py_ssize_t> rows * H)
        fr_fp_leave(fpstate)


def delay_backward(tuple weights, const Py_ssize_t[::1] delays, tuple saved,
                   floating[:, :, ::1] da, floating[:, :, ::1] dx, tuple param_grads,
                   const int[::1] batch_sizes, double clip_hidden):
    """BPTT for `delay_forward`, one layer.

    Parameters
    ----------
    weights : tuple, IN
        (act, w_ih (H, D), w_hh (K, H, H): W_d, one per delay).
    delays : (K,), IN
    saved : tuple of arrays, IN
        (x, hs) of the forward sweep.
    da : (M + T, B, H), IN/OUT
        Laid out as hs: on entry rows M.. hold dL/dh_t from above (zero past
        each row's end) and every row the gradient of the final state (or
        history) where it sits; on exit rows M.. hold dL/da_t and rows
        0..M-1 the gradients of the history states.
    dx : (T, B, D), OUT
    param_grads : tuple of arrays, IN/OUT
        (gw_ih (H, D), gw_hh (K, H, H), gb (H,)), accumulated into.
    batch_sizes : (T,) int32, IN
    clip_hidden : float
        Clip dL/dh_t to [-clip, clip] at every step when > 0.
    """
    cdef int act = weights[0]
    cdef const floating[:, ::1] w_ih = weights[1]
    cdef const floating[:, :, ::1] w_hh = weights[2]
    cdef const floating[:, :, ::1] x = saved[0]
    cdef const floating[:, :, ::1] hs = saved[1]
    cdef floating[:, ::1] gw_ih = param_grads[0]
    cdef floating[:, :, ::1] gw_hh = param_grads[1]
    cdef floating[::1] gb = param_grads[2]
    cdef floating clip = clip_hidden
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0], K = delays.shape[0]
    cdef int M = hs.shape[0] - T
    cdef int t, j, row, rows
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    cdef floating[::1] ones = np.ones(T * B, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        fpstate = fr_fp_enter()
        for t in range(T, 0, -1):
            row = M - 1 + t
            rows = batch_sizes[t - 1]
            # every later step has already added its delayed gradient here
            rnn_activation_backward(act, &da[row, 0, 0], &hs[row, 0, 0], <Py_ssize_t> rows * H, clip)
            for j in range(K):
                rows_times_matrix_acc(rows, H, H, &da[row, 0, 0], &w_hh[j, 0, 0],
                                      &da[row - delays[j], 0, 0])
        for j in range(K):
            # dW_d += sum_t dA_t^T h_{t-d}: the state rows shifted by d
            gemm(True, False, H, H, T * B, <floating> 1, &da[M, 0, 0], H,
                 &hs[M - delays[j], 0, 0], H, <floating> 1, &gw_hh[j, 0, 0], H)
        input_side_gradients(T * B, D, H, &da[M, 0, 0], &x[0, 0, 0], &w_ih[0, 0], &ones[0],
                             &gw_ih[0, 0], &gb[0], &dx[0, 0, 0])
        fr_fp_leave(fpstate)
