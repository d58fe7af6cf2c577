# cython: language_level=3
"""Time loops of the Clockwork RNN (Koutnik et al. 2014; Goodfellow et al. (2016), sec. 10.7.9).

The hidden units form G modules of k units, sorted by increasing period. At
step t (from 0) module i is updated only when t is a multiple of its period
P_i; otherwise it keeps its state. Module i reads the states of modules
j >= i (the slower ones and itself): W_hh is block upper-triangular and the
blocks below are never read or written.

Work skipped is work not done: an inactive module costs one copy of its
state forward (and of its gradient backward), no product. The input
projection of all T steps stays one GEMM (it is a small part when H > D);
the weight gradients gather each module's active steps and take one GEMM.

Ragged batches: the rows are sorted by decreasing length and
``batch_sizes[t]`` of them run at step t (a prefix), as in PyTorch's packed
sequences.
"""
import numpy as np
from cython cimport floating
from libc.string cimport memcpy, memset

from fastrnn._core.blas cimport gemm, gemv
from fastrnn._core.kernels cimport (
    fr_fp_enter, fr_fp_leave, rnn_activation_backward, rnn_activation_forward,
)
from fastrnn.layers._loops cimport project_inputs


cdef inline void _copy_block(int B, int k, int H, const floating *src, floating *dst) noexcept nogil:
    cdef int b
    for b in range(B):
        memcpy(dst + b * H, src + b * H, k * sizeof(floating))


cdef inline void _add_block(int B, int k, int H, const floating *src, floating *dst) noexcept nogil:
    cdef int b, j
    for b in range(B):
        for j in range(k):
            dst[b * H + j] += src[b * H + j]


def clockwork_forward(tuple weights, const Py_ssize_t[::1] periods, Py_ssize_t first_step,
                      const floating[:, :, ::1] x, floating[:, :, ::1] hs,
                      const int[::1] batch_sizes):
    """The forward sweep over T steps.

    Parameters
    ----------
    weights : tuple, IN
        (act, w_ih (H, D), w_hh (H, H), bias (H,)): act is FR_ACT_TANH or
        FR_ACT_RELU; bias is b_ih + b_hh.
    periods : (G,), IN
        Each module's period, ascending; H is G modules of H / G units.
    first_step : int >= 0, IN
        The time index of x[0] (0 for a whole sequence; the step counter
        when `ClockworkRNN.step` streams).
    x : (T, B, D), IN
        Rows sorted by decreasing length.
    hs : (T + 1, B, H), IN/OUT
        hs[0] = h_0 on entry; hs[t + 1] = h_t on exit for the rows running
        at step t, zero for the others.
    batch_sizes : (T,) int32, IN
        Rows running at each step.
    """
    cdef int act = weights[0]
    cdef const floating[:, ::1] w_ih = weights[1]
    cdef const floating[:, ::1] w_hh = weights[2]
    cdef const floating[::1] bias = weights[3]
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_hh.shape[0], G = periods.shape[0]
    cdef int k = H // G
    cdef int t, i, lo, b, rows
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        project_inputs(T * B, D, H, &x[0, 0, 0], &w_ih[0, 0], &bias[0], &hs[1, 0, 0])
        for t in range(T):
            rows = batch_sizes[t]
            if rows < B:   # rows past their end: outputs are zero
                memset(&hs[t + 1, rows, 0], 0, (B - rows) * H * sizeof(floating))
            for i in range(G):
                lo = i * k
                if (first_step + t) % periods[i] == 0:
                    # rows of module i += h_{t-1}[modules >= i] @ W_hh[i, >= i]^T
                    if rows == 1:   # OpenBLAS's GEMM with one row is much slower
                        gemv(False, k, H - lo, <floating> 1, &w_hh[lo, lo], H,
                             &hs[t, 0, lo], <floating> 1, &hs[t + 1, 0, lo])
                    else:
                        gemm(False, True, rows, k, H - lo, <floating> 1, &hs[t, 0, lo], H,
                             &w_hh[lo, lo], H, <floating> 1, &hs[t + 1, 0, lo], H)
                    for b in range(rows):
                        rnn_activation_forward(act, &hs[t + 1, b, lo], k)
                else:
                    _copy_block(rows, k, H, &hs[t, 0, lo], &hs[t + 1, 0, lo])
        fr_fp_leave(fpstate)


def clockwork_backward(tuple weights, const Py_ssize_t[::1] periods, tuple saved,
                       floating[:, :, ::1] da, tuple gradients, tuple param_grads,
                       const int[::1] batch_sizes, double clip_hidden):
    """BPTT for `clockwork_forward` (from step 0).

    Parameters
    ----------
    weights : tuple, IN
        (act, w_ih (H, D), w_hh (H, H)).
    periods : (G,), IN
        As for the forward sweep, each at most max(T, 1) (a longer period
        acts as T), so that the step counters stay in C ints.
    saved : tuple of arrays, IN
        (x, hs) of the forward sweep.
    da : (T, B, H), IN/OUT
        dL/dh_t from above on entry (zero past each row's end, dL/dh_n added
        at its last step); dL/da_t on exit, zero where a module was inactive.
    gradients : tuple of arrays, OUT
        (dx (T, B, D), dh0 (B, H)).
    param_grads : tuple of arrays, IN/OUT
        (gw_ih, gw_hh, gb), accumulated into (gb: the gradient of each bias
        vector).
    batch_sizes : (T,) int32, IN
    clip_hidden : float
        Clip dL/dh_t to [-clip, clip] at every step when > 0.
    """
    cdef int act = weights[0]
    cdef const floating[:, ::1] w_ih = weights[1]
    cdef const floating[:, ::1] w_hh = weights[2]
    cdef const floating[:, :, ::1] x = saved[0]
    cdef const floating[:, :, ::1] hs = saved[1]
    cdef floating[:, :, ::1] dx = gradients[0]
    cdef floating[:, ::1] dh0 = gradients[1]
    cdef floating[:, ::1] gw_ih = param_grads[0]
    cdef floating[:, ::1] gw_hh = param_grads[1]
    cdef floating[::1] gb = param_grads[2]
    cdef floating clip = clip_hidden
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_hh.shape[0], G = periods.shape[0]
    cdef int k = H // G
    cdef int t, i, lo, b, j, n, P, row, rows
    cdef floating *carry
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    # the active steps of one module, gathered for its weight-gradient GEMMs
    cdef floating[::1] gathered_da = np.empty(T * B * k, dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] gathered_in = np.empty(T * B * max(H, D), dtype=np.float32 if floating is float else np.float64)
    with nogil:
        fpstate = fr_fp_enter()
        for b in range(B):
            for j in range(H):
                dh0[b, j] = 0
        for t in range(T - 1, -1, -1):
            rows = batch_sizes[t]
            carry = &dh0[0, 0] if t == 0 else &da[t - 1, 0, 0]
            for i in range(G):
                lo = i * k
                if t % periods[i] == 0:
                    for b in range(rows):
                        rnn_activation_backward(act, &da[t, b, lo], &hs[t + 1, b, lo], k, clip)
                    if rows == 1:
                        gemv(True, k, H - lo, <floating> 1, &w_hh[lo, lo], H,
                             &da[t, 0, lo], <floating> 1, carry + lo)
                    else:
                        gemm(False, False, rows, H - lo, k, <floating> 1, &da[t, 0, lo], H,
                             &w_hh[lo, lo], H, <floating> 1, carry + lo, H)
                else:
                    # the state passed through unchanged: so does its gradient
                    _add_block(rows, k, H, &da[t, 0, lo], carry + lo)
                    for b in range(rows):
                        for j in range(k):
                            da[t, b, lo + j] = 0
        # Weight gradients, one GEMM per module over its active steps only:
        # gather those steps' rows into packed work buffers first (rows past
        # their end have zero gradients and add nothing).
        for i in range(G):
            lo = i * k
            P = periods[i]
            n = 0
            t = 0
            while t < T:
                for b in range(B):
                    memcpy(&gathered_da[n * k], &da[t, b, lo], k * sizeof(floating))
                    memcpy(&gathered_in[n * (H - lo)], &hs[t, b, lo], (H - lo) * sizeof(floating))
                    n += 1
                t += P
            gemm(True, False, k, H - lo, n, <floating> 1, &gathered_da[0], k, &gathered_in[0],
                 H - lo, <floating> 1, &gw_hh[lo, lo], H)
            for row in range(n):
                for j in range(k):
                    gb[lo + j] += gathered_da[row * k + j]
            n = 0
            t = 0
            while t < T:
                for b in range(B):
                    memcpy(&gathered_in[n * D], &x[t, b, 0], D * sizeof(floating))
                    n += 1
                t += P
            gemm(True, False, k, D, n, <floating> 1, &gathered_da[0], k, &gathered_in[0], D,
                 <floating> 1, &gw_ih[lo, 0], D)
        gemm(False, False, T * B, D, H, <floating> 1, &da[0, 0, 0], H, &w_ih[0, 0], D,
             <floating> 0, &dx[0, 0, 0], D)
        fr_fp_leave(fpstate)
