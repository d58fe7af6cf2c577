# cython: language_level=3
"""Time loops shared by every recurrent cell (simple RNN, LSTM, GRU).

One call runs one direction of one layer over a whole sequence without the
GIL. The cells differ only in their gate count G (1, 4, 3) and in the fused
per-step C kernels of csrc/fr_cells_impl.h; the skeleton is common:

forward (`cell_forward`)
    1. input projection of all T steps: one GEMM (T*B x D) @ (D x G*H) into
       the gate buffer, on top of the biases that can be summed beforehand;
    2. per step: one GEMM (GEMV when B = 1, where OpenBLAS's GEMM with one row
       is several times slower) of h_{t-1} with W_hh^T, added into the gate
       buffer (RNN, LSTM) or into a separate recurrent buffer (GRU, whose
       reset gate multiplies the recurrent product alone);
    3. per step: one fused C kernel turns the pre-activations into the gates
       and the new state, and keeps the gate activations for BPTT.
    The GRU with the reset gate before the product (seed 002, eq. 10.12)
    needs the gates before it can form W_hn (r h_{t-1}): its step is two
    GEMMs, each followed by a kernel.
backward (`cell_backward`, BPTT)
    1. per step, from the last: one fused C kernel gives the gradients of the
       pre-activations of the input side (dgx) and of the recurrent product
       (dgh, which differs from dgx only for the GRU), then one GEMM carries
       dL/dh back through W_hh;
    2. after the sweep: dW_ih, dW_hh are one GEMM each over all T steps, the
       bias gradients one GEMV each with a ones vector, dL/dx one GEMM.

Variable-length batches: the rows of the batch are sorted by decreasing
length, and `batch_sizes[t]` says how many rows are still running at step t;
only that prefix of rows takes part in step t. Rows that have ended keep their
state in the running gradient buffers, which is how dL/dh_T of a short
sequence enters the sweep at its own last step.
"""
from cython cimport floating

from fastrnn._blas cimport gemm, gemv
from fastrnn._kernels cimport fr_fp_enter, fr_fp_leave, fr_fill_rows_f, fr_fill_rows_d
from fastrnn._cell_kernels cimport *

RNN_TANH = FR_CELL_RNN_TANH
RNN_RELU = FR_CELL_RNN_RELU
LSTM = FR_CELL_LSTM
GRU = FR_CELL_GRU
GRU_BEFORE = FR_CELL_GRU_BEFORE
GATES = {RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3, GRU_BEFORE: 3}


cdef inline int GATES_OF(int kind) noexcept nogil:
    if kind == FR_CELL_LSTM:
        return 4
    if kind == FR_CELL_GRU or kind == FR_CELL_GRU_BEFORE:
        return 3
    return 1


# ------------------------------------------------------------ BLAS helpers
cdef inline void _times_wt(int n, int m, int k, const floating *w, const floating *h,
                           floating beta, floating *out, int ldo) noexcept nogil:
    """out (n x m, row stride ldo) = h (n x k) W^T + beta out, W m x k with
    row stride k (a block of rows of W_hh)."""
    if n == 1:
        gemv(False, m, k, <floating> 1, w, k, h, beta, out)
    else:
        gemm(False, True, n, m, k, <floating> 1, h, k, w, k, beta, out, ldo)


cdef inline void _times_w(int n, int m, int k, const floating *w, const floating *dg, int ldg,
                          floating beta, floating *out) noexcept nogil:
    """out (n x k) = dg (n x m, row stride ldg) W + beta out, W m x k."""
    if n == 1:
        gemv(True, m, k, <floating> 1, w, k, dg, beta, out)
    else:
        gemm(False, False, n, k, m, <floating> 1, dg, ldg, w, k, beta, out, k)


# ------------------------------------------------------------- the sweeps
cdef void _forward_sweep(
        int kind, int T, int B, int D, int H, const floating *x, const floating *w_ih,
        const floating *w_hh, const floating *bias_x, const floating *b_hn,
        const floating *peep, const int *batch_sizes, floating *gx, floating *gh,
        Py_ssize_t gh_step, floating *hs, floating *cs, floating *rh) noexcept nogil:
    cdef int G = GATES_OF(kind)
    cdef int GH = G * H
    cdef Py_ssize_t BH = <Py_ssize_t> B * H, BGH = <Py_ssize_t> B * GH
    cdef int t, n
    cdef floating *g
    cdef floating *r
    cdef floating *hp
    if floating is float:
        fr_fill_rows_f(gx, bias_x, <Py_ssize_t> T * B, GH)
    else:
        fr_fill_rows_d(gx, bias_x, <Py_ssize_t> T * B, GH)
    gemm(False, True, T * B, GH, D, <floating> 1, x, D, w_ih, D, <floating> 1, gx, GH)
    for t in range(T):
        n = batch_sizes[t]
        if n == 0:
            break
        g = gx + t * BGH
        hp = hs + t * BH
        r = gh + t * gh_step
        if kind == FR_CELL_LSTM:
            _times_wt(n, GH, H, w_hh, hp, <floating> 1, g, GH)
            if floating is float:
                fr_lstm_fwd_f(n, H, g, peep, cs + t * BH, cs + (t + 1) * BH, hp + BH)
            else:
                fr_lstm_fwd_d(n, H, g, peep, cs + t * BH, cs + (t + 1) * BH, hp + BH)
        elif kind == FR_CELL_GRU:
            _times_wt(n, GH, H, w_hh, hp, <floating> 0, r, GH)
            if floating is float:
                fr_gru_fwd_f(n, H, g, r, b_hn, hp, hp + BH)
            else:
                fr_gru_fwd_d(n, H, g, r, b_hn, hp, hp + BH)
        elif kind == FR_CELL_GRU_BEFORE:
            _times_wt(n, 2 * H, H, w_hh, hp, <floating> 0, r, GH)
            if floating is float:
                fr_gru_before_fwd_gates_f(n, H, g, r, hp, rh + t * BH)
            else:
                fr_gru_before_fwd_gates_d(n, H, g, r, hp, rh + t * BH)
            _times_wt(n, H, H, w_hh + 2 * H * H, rh + t * BH, <floating> 0, r + 2 * H, GH)
            if floating is float:
                fr_gru_before_fwd_state_f(n, H, g, r, hp, hp + BH)
            else:
                fr_gru_before_fwd_state_d(n, H, g, r, hp, hp + BH)
        else:
            _times_wt(n, H, H, w_hh, hp, <floating> 1, g, GH)
            if floating is float:
                fr_rnn_fwd_f(kind == FR_CELL_RNN_RELU, n, H, g, hp + BH)
            else:
                fr_rnn_fwd_d(kind == FR_CELL_RNN_RELU, n, H, g, hp + BH)


cdef void _backward_sweep(
        int kind, int T, int B, int D, int H, const floating *x, const floating *w_ih,
        const floating *w_hh, const floating *peep, const int *batch_sizes,
        const floating *hs, const floating *cs, const floating *gx, const floating *gh,
        Py_ssize_t gh_step, const floating *rh, const floating *dy, floating *dh,
        floating *dc, floating *dgx, floating *dgh, floating *drh, floating *dx,
        floating *gw_ih, floating *gw_hh, floating *gb_x, floating *gb_h,
        floating *gpeep, const floating *ones, floating clip) noexcept nogil:
    cdef int G = GATES_OF(kind)
    cdef int GH = G * H
    cdef int TB = T * B
    cdef Py_ssize_t BH = <Py_ssize_t> B * H, BGH = <Py_ssize_t> B * GH
    cdef int t, n
    cdef const floating *g
    cdef const floating *hp
    cdef const floating *dyt
    cdef floating *dg
    cdef floating *dr
    for t in range(T - 1, -1, -1):
        n = batch_sizes[t]
        if n == 0:
            continue
        g = gx + t * BGH
        hp = hs + t * BH
        dyt = dy + t * BH
        dg = dgx + t * BGH
        if kind == FR_CELL_LSTM:
            if floating is float:
                fr_lstm_bwd_f(n, H, g, peep, cs + t * BH, cs + (t + 1) * BH, dyt, dh, dc,
                              dg, gpeep, clip)
            else:
                fr_lstm_bwd_d(n, H, g, peep, cs + t * BH, cs + (t + 1) * BH, dyt, dh, dc,
                              dg, gpeep, clip)
            _times_w(n, GH, H, w_hh, dg, GH, <floating> 0, dh)
        elif kind == FR_CELL_GRU:
            dr = dgh + t * BGH
            if floating is float:
                fr_gru_bwd_f(n, H, g, gh + t * gh_step, hp, dyt, dh, dg, dr, clip)
            else:
                fr_gru_bwd_d(n, H, g, gh + t * gh_step, hp, dyt, dh, dg, dr, clip)
            _times_w(n, GH, H, w_hh, dr, GH, <floating> 1, dh)
        elif kind == FR_CELL_GRU_BEFORE:
            if floating is float:
                fr_gru_before_bwd_state_f(n, H, g, hp, dyt, dh, dg, clip)
            else:
                fr_gru_before_bwd_state_d(n, H, g, hp, dyt, dh, dg, clip)
            _times_w(n, H, H, w_hh + 2 * H * H, dg + 2 * H, GH, <floating> 0, drh)
            if floating is float:
                fr_gru_before_bwd_gates_f(n, H, g, hp, drh, dh, dg)
            else:
                fr_gru_before_bwd_gates_d(n, H, g, hp, drh, dh, dg)
            _times_w(n, 2 * H, H, w_hh, dg, GH, <floating> 1, dh)
        else:
            if floating is float:
                fr_rnn_bwd_f(kind == FR_CELL_RNN_RELU, n, H, hp + BH, dyt, dh, dg, clip)
            else:
                fr_rnn_bwd_d(kind == FR_CELL_RNN_RELU, n, H, hp + BH, dyt, dh, dg, clip)
            _times_w(n, GH, H, w_hh, dg, GH, <floating> 0, dh)

    # All T steps at once. dgx/dgh rows of ended sequences are zero.
    gemm(True, False, GH, D, TB, <floating> 1, dgx, GH, x, D, <floating> 1, gw_ih, D)
    if kind == FR_CELL_GRU_BEFORE:
        gemm(True, False, 2 * H, H, TB, <floating> 1, dgx, GH, hs, H, <floating> 1, gw_hh, H)
        gemm(True, False, H, H, TB, <floating> 1, dgx + 2 * H, GH, rh, H, <floating> 1,
             gw_hh + 2 * H * H, H)
    elif kind == FR_CELL_GRU:
        gemm(True, False, GH, H, TB, <floating> 1, dgh, GH, hs, H, <floating> 1, gw_hh, H)
        gemv(True, TB, GH, <floating> 1, dgh, GH, ones, <floating> 0, gb_h)
    else:
        gemm(True, False, GH, H, TB, <floating> 1, dgx, GH, hs, H, <floating> 1, gw_hh, H)
    gemv(True, TB, GH, <floating> 1, dgx, GH, ones, <floating> 0, gb_x)
    gemm(False, False, TB, D, GH, <floating> 1, dgx, GH, w_ih, D, <floating> 0, dx, D)


# ------------------------------------------------------ Python entry points
cdef inline floating *_ptr(floating[::1] a) noexcept:
    """Data pointer of a flat view, NULL when it is empty (an unused buffer)."""
    return &a[0] if a.shape[0] > 0 else NULL


cdef inline const floating *_cptr(const floating[::1] a) noexcept:
    return &a[0] if a.shape[0] > 0 else NULL


def cell_forward(int kind, const floating[::1] x, const floating[::1] w_ih, const floating[::1] w_hh,
                 const floating[::1] bias_x, const floating[::1] b_hn, const floating[::1] peep,
                 const int[::1] batch_sizes, floating[::1] gx, floating[::1] gh,
                 Py_ssize_t gh_step, floating[::1] hs, floating[::1] cs, floating[::1] rh,
                 int B, int D, int H):
    """Run one direction of one layer over a sequence (all arrays flat,
    C-contiguous, checked by the caller in fastrnn/_layer.py).

    Parameters
    ----------
    kind : RNN_TANH, RNN_RELU, LSTM, GRU or GRU_BEFORE
    x : (T, B, D);  w_ih : (G*H, D);  w_hh : (G*H, H)
    bias_x : (G*H,) the biases summed into the gate buffer before the sweep.
    b_hn : (H,) GRU only: the bias of the recurrent n block.
    peep : (3H,) LSTM only: peephole weights (zeros without peepholes).
    batch_sizes : (T,) int32, rows running at each step, non-increasing.
    gx : (T, B, G*H) out: gate activations, kept for `cell_backward`.
    gh : GRU: recurrent products; gh_step = its stride between steps
        (B*3H to keep every step, 0 to reuse one buffer).
    hs : (T+1, B, H), hs[0] = h_0 on entry; hs[t+1] = h_t on exit.
    cs : (T+1, B, H) LSTM only, like hs for the cell state.
    rh : (T, B, H) GRU_BEFORE only: r_t * h_{t-1}, kept for `cell_backward`.
    """
    cdef int T = batch_sizes.shape[0]
    cdef unsigned int fpstate
    cdef const floating *px = _cptr(x)
    cdef const floating *pwi = _cptr(w_ih)
    cdef const floating *pwh = _cptr(w_hh)
    cdef const floating *pbx = _cptr(bias_x)
    cdef const floating *pbn = _cptr(b_hn)
    cdef const floating *ppe = _cptr(peep)
    cdef floating *pgx = _ptr(gx)
    cdef floating *pgh = _ptr(gh)
    cdef floating *phs = _ptr(hs)
    cdef floating *pcs = _ptr(cs)
    cdef floating *prh = _ptr(rh)
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        _forward_sweep(kind, T, B, D, H, px, pwi, pwh, pbx, pbn, ppe, &batch_sizes[0],
                       pgx, pgh, gh_step, phs, pcs, prh)
        fr_fp_leave(fpstate)


def cell_backward(int kind, const floating[::1] x, const floating[::1] w_ih,
                  const floating[::1] w_hh, const floating[::1] peep,
                  const int[::1] batch_sizes, const floating[::1] hs, const floating[::1] cs,
                  const floating[::1] gx, const floating[::1] gh, Py_ssize_t gh_step,
                  const floating[::1] rh, const floating[::1] dy, floating[::1] dh, floating[::1] dc,
                  floating[::1] dgx, floating[::1] dgh, floating[::1] drh, floating[::1] dx,
                  floating[::1] gw_ih, floating[::1] gw_hh, floating[::1] gb_x,
                  floating[::1] gb_h, floating[::1] gpeep, const floating[::1] ones,
                  floating clip, int B, int D, int H):
    """Back-propagation through time for `cell_forward`.

    The forward buffers (hs, cs, gx, gh, rh) are read as `cell_forward` left
    them. dy : (T, B, H), dL/dy_t. dh, dc : (B, H), dL/dh_T and dL/dc_T on
    entry, dL/dh_0 and dL/dc_0 on exit. dgx : (T, B, G*H) and, for the GRU,
    dgh: work buffers, zero on entry when rows end early. drh : (B, H) work
    buffer of GRU_BEFORE. dx : (T, B, D) out. gw_ih, gw_hh, gpeep accumulate;
    gb_x, gb_h : (G*H,) overwritten with the bias gradients of the input side
    and (GRU only) of the recurrent side. ones : (T*B,). clip > 0 clips
    dL/dh_t element-wise at every step.
    """
    cdef int T = batch_sizes.shape[0]
    cdef unsigned int fpstate
    cdef const floating *px = _cptr(x)
    cdef const floating *pwi = _cptr(w_ih)
    cdef const floating *pwh = _cptr(w_hh)
    cdef const floating *ppe = _cptr(peep)
    cdef const floating *phs = _cptr(hs)
    cdef const floating *pcs = _cptr(cs)
    cdef const floating *pgx = _cptr(gx)
    cdef const floating *pgh = _cptr(gh)
    cdef const floating *prh = _cptr(rh)
    cdef const floating *pdy = _cptr(dy)
    cdef floating *pdh = _ptr(dh)
    cdef floating *pdc = _ptr(dc)
    cdef floating *pdgx = _ptr(dgx)
    cdef floating *pdgh = _ptr(dgh)
    cdef floating *pdrh = _ptr(drh)
    cdef floating *pdx = _ptr(dx)
    cdef floating *pgwi = _ptr(gw_ih)
    cdef floating *pgwh = _ptr(gw_hh)
    cdef floating *pgbx = _ptr(gb_x)
    cdef floating *pgbh = _ptr(gb_h)
    cdef floating *pgpe = _ptr(gpeep)
    cdef const floating *pon = _cptr(ones)
    if T == 0 or B == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        _backward_sweep(kind, T, B, D, H, px, pwi, pwh, ppe, &batch_sizes[0], phs, pcs,
                        pgx, pgh, gh_step, prh, pdy, pdh, pdc, pdgx, pdgh, pdrh, pdx,
                        pgwi, pgwh, pgbx, pgbh, pgpe, pon, clip)
        fr_fp_leave(fpstate)
