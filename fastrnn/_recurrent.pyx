# cython: language_level=3
"""Time loops of the simple recurrent layer (seed 002, eq. 10.4).

One call runs a whole sequence without the GIL. The loop skeleton is the one
every cell type shares:

forward
    1. input projection of all T steps: one GEMM (T*B x D) @ (D x G*H) into
       the state buffer, on top of the summed biases;
    2. per step: one GEMM adds h_{t-1} W_hh^T (for B = 1 a GEMV, or a C
       kernel when W_hh is small: see _matmul.pxd);
    3. per step: one fused C kernel turns the pre-activations into the state.
backward (BPTT)
    1. per step: one GEMM carries dL/dh_t back through W_hh, one fused C
       kernel multiplies by the activation's derivative;
    2. after the sweep: the weight gradients are one GEMM each over all T
       steps, the bias gradient one GEMV, dL/dx one GEMM.
"""
from cython cimport floating

from fastrnn._blas cimport gemm, gemv
from fastrnn._matmul cimport rows_times_matrix_acc
from fastrnn._kernels cimport (
    fr_fp_enter, fr_fp_leave,
    fr_rnn_act_fwd_f, fr_rnn_act_fwd_d, fr_rnn_act_bwd_f, fr_rnn_act_bwd_d,
    fr_fill_rows_f, fr_fill_rows_d,
)


def rnn_forward(int act, const floating[:, :, ::1] x,
                const floating[:, ::1] w_ih, const floating[:, ::1] w_hh_t,
                const floating[::1] bias, floating[:, :, ::1] hs):
    """Run h_t = act(W_ih x_t + W_hh h_{t-1} + b) over a whole sequence.

    Parameters
    ----------
    act : FR_ACT_TANH or FR_ACT_RELU
    x : (T, B, D)
    w_ih : (H, D);  w_hh_t : (H, H), W_hh transposed (contiguous), so that the
        step's product is h_{t-1} @ w_hh_t;  bias : (H,), b_ih + b_hh
    hs : (T + 1, B, H), hs[0] = h_0 on entry; hs[t + 1] = h_t on exit.
    """
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_hh_t.shape[0]
    cdef int t
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        if floating is float:
            fr_fill_rows_f(&hs[1, 0, 0], &bias[0], <Py_ssize_t> T * B, H)
        else:
            fr_fill_rows_d(&hs[1, 0, 0], &bias[0], <Py_ssize_t> T * B, H)
        gemm(False, True, T * B, H, D, <floating> 1, &x[0, 0, 0], D,
             &w_ih[0, 0], D, <floating> 1, &hs[1, 0, 0], H)
        for t in range(T):
            rows_times_matrix_acc(B, H, H, &hs[t, 0, 0], &w_hh_t[0, 0], &hs[t + 1, 0, 0])
            if floating is float:
                fr_rnn_act_fwd_f(act, &hs[t + 1, 0, 0], <Py_ssize_t> B * H)
            else:
                fr_rnn_act_fwd_d(act, &hs[t + 1, 0, 0], <Py_ssize_t> B * H)
        fr_fp_leave(fpstate)


def rnn_backward(int act, const floating[:, :, ::1] x,
                 const floating[:, ::1] w_ih, const floating[:, ::1] w_hh,
                 const floating[:, :, ::1] hs, floating[:, :, ::1] da,
                 floating[:, :, ::1] dx, floating[:, ::1] dh0,
                 floating[:, ::1] gw_ih, floating[:, ::1] gw_hh,
                 floating[::1] gb, const floating[::1] ones,
                 floating clip_hidden):
    """Back-propagation through time for `rnn_forward` (seed 002, the
    gradient formulas after eq. 10.5).

    da : (T, B, H); on entry dL/dy_t, plus dL/dh_T added into da[T-1]. On exit
        dL/da_t, the gradient of the pre-activations.
    dx : (T, B, D), overwritten with dL/dx_t.  dh0 : (B, H), overwritten.
    gw_ih, gw_hh, gb : accumulated into (gb is the gradient of each bias).
    ones : (T * B,) of ones, for the bias gradient as a GEMV.
    clip_hidden : if > 0, dL/dh_t is clipped element-wise to this before it
        passes through the activation (Graves 2013).
    """
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_hh.shape[0]
    cdef int t
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                # dL/dh_t += dL/da_{t+1} W_hh
                rows_times_matrix_acc(B, H, H, &da[t + 1, 0, 0], &w_hh[0, 0], &da[t, 0, 0])
            if floating is float:
                fr_rnn_act_bwd_f(act, &da[t, 0, 0], &hs[t + 1, 0, 0], <Py_ssize_t> B * H, clip_hidden)
            else:
                fr_rnn_act_bwd_d(act, &da[t, 0, 0], &hs[t + 1, 0, 0], <Py_ssize_t> B * H, clip_hidden)
        # dL/dh_0 = dL/da_0 W_hh
        gemm(False, False, B, H, H, <floating> 1, &da[0, 0, 0], H, &w_hh[0, 0], H,
             <floating> 0, &dh0[0, 0], H)
        # All T steps at once: dW_ih += dA^T X, dW_hh += dA^T [h_0 .. h_{T-1}]
        gemm(True, False, H, D, T * B, <floating> 1, &da[0, 0, 0], H, &x[0, 0, 0], D,
             <floating> 1, &gw_ih[0, 0], D)
        gemm(True, False, H, H, T * B, <floating> 1, &da[0, 0, 0], H, &hs[0, 0, 0], H,
             <floating> 1, &gw_hh[0, 0], H)
        gemv(True, T * B, H, <floating> 1, &da[0, 0, 0], H, &ones[0], <floating> 1, &gb[0])
        gemm(False, False, T * B, D, H, <floating> 1, &da[0, 0, 0], H, &w_ih[0, 0], D,
             <floating> 0, &dx[0, 0, 0], D)
        fr_fp_leave(fpstate)
