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
"""
from cython cimport floating
from libc.string cimport memcpy

from fastrnn._core.blas cimport gemm, gemv
from fastrnn.layers._loops cimport project_inputs
from fastrnn._core.kernels cimport (
    fr_fp_enter, fr_fp_leave,
    fr_rnn_act_fwd_f, fr_rnn_act_fwd_d, fr_rnn_act_bwd_f, fr_rnn_act_bwd_d,
)


cdef inline void _activate_block(int act, int B, int k, int H, floating *h) noexcept nogil:
    """act() in place on a (B x k) block with row stride H."""
    cdef int b
    for b in range(B):
        if floating is float:
            fr_rnn_act_fwd_f(act, h + b * H, k)
        else:
            fr_rnn_act_fwd_d(act, h + b * H, k)


cdef inline void _copy_block(int B, int k, int H, const floating *src, floating *dst) noexcept nogil:
    cdef int b
    for b in range(B):
        memcpy(dst + b * H, src + b * H, k * sizeof(floating))


cdef inline void _add_block(int B, int k, int H, const floating *src, floating *dst) noexcept nogil:
    cdef int b, j
    for b in range(B):
        for j in range(k):
            dst[b * H + j] += src[b * H + j]


def clockwork_forward(int act, const Py_ssize_t[::1] periods, int k,
                      const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                      const floating[:, ::1] w_hh, const floating[::1] bias,
                      floating[:, :, ::1] hs):
    """hs (T+1, B, H): hs[0] = h_0 on entry, hs[t+1] = h_t on exit."""
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_hh.shape[0], G = periods.shape[0]
    cdef int t, i, lo
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        project_inputs(T * B, D, H, &x[0, 0, 0], &w_ih[0, 0], &bias[0], &hs[1, 0, 0])
        for t in range(T):
            for i in range(G):
                lo = i * k
                if t % periods[i] == 0:
                    # rows of module i += h_{t-1}[modules >= i] @ W_hh[i, >= i]^T
                    if B == 1:   # OpenBLAS's GEMM with one row is much slower
                        gemv(False, k, H - lo, <floating> 1, &w_hh[lo, lo], H,
                             &hs[t, 0, lo], <floating> 1, &hs[t + 1, 0, lo])
                    else:
                        gemm(False, True, B, k, H - lo, <floating> 1, &hs[t, 0, lo], H,
                             &w_hh[lo, lo], H, <floating> 1, &hs[t + 1, 0, lo], H)
                    _activate_block(act, B, k, H, &hs[t + 1, 0, lo])
                else:
                    _copy_block(B, k, H, &hs[t, 0, lo], &hs[t + 1, 0, lo])
        fr_fp_leave(fpstate)


def clockwork_backward(int act, const Py_ssize_t[::1] periods, int k,
                       const floating[:, :, ::1] x, const floating[:, ::1] w_ih,
                       const floating[:, ::1] w_hh, const floating[:, :, ::1] hs,
                       floating[:, :, ::1] da, floating[:, :, ::1] dx,
                       floating[:, ::1] dh0, floating[:, ::1] gw_ih,
                       floating[:, ::1] gw_hh, floating[::1] gb,
                       floating[::1] work_a, floating[::1] work_b,
                       floating clip_hidden):
    """BPTT for clockwork_forward.

    da (T, B, H): dL/dy_t on entry (dL/dh_T added into da[T-1]); dL/da_t on
    exit, zero where a module was inactive. dx, dh0 are overwritten; gw_ih,
    gw_hh, gb are accumulated into (gb: the gradient of each bias vector).
    work_a (>= T*B*k) and work_b (>= T*B*max(H, D)) gather the active steps
    of a module for its weight-gradient GEMMs.
    """
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_hh.shape[0], G = periods.shape[0]
    cdef int t, i, lo, b, j, n, P, row
    cdef floating *carry
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        for b in range(B):
            for j in range(H):
                dh0[b, j] = 0
        for t in range(T - 1, -1, -1):
            carry = &dh0[0, 0] if t == 0 else &da[t - 1, 0, 0]
            for i in range(G):
                lo = i * k
                if t % periods[i] == 0:
                    for b in range(B):
                        if floating is float:
                            fr_rnn_act_bwd_f(act, &da[t, b, lo], &hs[t + 1, b, lo], k, clip_hidden)
                        else:
                            fr_rnn_act_bwd_d(act, &da[t, b, lo], &hs[t + 1, b, lo], k, clip_hidden)
                    if B == 1:
                        gemv(True, k, H - lo, <floating> 1, &w_hh[lo, lo], H,
                             &da[t, 0, lo], <floating> 1, carry + lo)
                    else:
                        gemm(False, False, B, H - lo, k, <floating> 1, &da[t, 0, lo], H,
                             &w_hh[lo, lo], H, <floating> 1, carry + lo, H)
                else:
                    # the state passed through unchanged: so does its gradient
                    _add_block(B, k, H, &da[t, 0, lo], carry + lo)
                    for b in range(B):
                        for j in range(k):
                            da[t, b, lo + j] = 0
        # Weight gradients, one GEMM per module over its active steps only:
        # gather those steps' rows into packed work buffers first.
        for i in range(G):
            lo = i * k
            P = periods[i]
            n = 0
            t = 0
            while t < T:
                for b in range(B):
                    memcpy(&work_a[n * k], &da[t, b, lo], k * sizeof(floating))
                    memcpy(&work_b[n * (H - lo)], &hs[t, b, lo], (H - lo) * sizeof(floating))
                    n += 1
                t += P
            gemm(True, False, k, H - lo, n, <floating> 1, &work_a[0], k, &work_b[0],
                 H - lo, <floating> 1, &gw_hh[lo, lo], H)
            for row in range(n):
                for j in range(k):
                    gb[lo + j] += work_a[row * k + j]
            n = 0
            t = 0
            while t < T:
                for b in range(B):
                    memcpy(&work_b[n * D], &x[t, b, 0], D * sizeof(floating))
                    n += 1
                t += P
            gemm(True, False, k, D, n, <floating> 1, &work_a[0], k, &work_b[0], D,
                 <floating> 1, &gw_ih[lo, 0], D)
        gemm(False, False, T * B, D, H, <floating> 1, &da[0, 0, 0], H, &w_ih[0, 0], D,
             <floating> 0, &dx[0, 0, 0], D)
        fr_fp_leave(fpstate)
