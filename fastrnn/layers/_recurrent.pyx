# cython: language_level=3
"""Time loops shared by every recurrent cell (simple RNN, LSTM, GRU).

One call runs one direction of one layer over a whole sequence without the
GIL. The cells differ only in their gate count G (1, 4, 3) and in the fused
per-step C kernels of csrc/cells/fr_cells_impl.h; the skeleton is common:

forward (`cell_forward`)
    1. input projection of all T steps: one GEMM (T*B x D) @ (D x G*H) into
       the gate buffer, on top of the biases that can be summed beforehand;
    2. per step: one GEMM of h_{t-1} with W_hh^T (for a batch of one, where
       OpenBLAS's GEMM with one row is several times slower, the mat-vec
       fr_matvec, or GEMV for large layers), added into the gate
       buffer (RNN, LSTM) or into a separate recurrent buffer (GRU, whose
       reset gate multiplies the recurrent product alone);
    3. per step: one fused C kernel turns the pre-activations into the gates
       and the new state, and keeps the gate activations for BPTT.
    The GRU with the reset gate before the product (Goodfellow et al. (2016), eq. 10.12)
    needs the gates before it can form W_hn (r h_{t-1}): its step is two
    GEMMs, each followed by a kernel.
backward (`cell_backward`, BPTT)
    1. per step, from the last: one fused C kernel gives the gradients of the
       pre-activations of the input side (dgx) and of the recurrent product
       (dgh, which differs from dgx only for the GRU), then one GEMM carries
       dL/dh back through W_hh;
    2. after the sweep: dW_ih, dW_hh are one GEMM each over all T steps, the
       bias gradients one GEMV each with a ones vector, dL/dx one GEMM.

Small per-step products run with the BLAS switched to one thread (see
`_steps_begin`); the large GEMMs before and after the sweep keep all threads.

Streaming (`StepPlan`): one time step through a stack of layers per call,
with the same `_forward_step` as the sweep.

Variable-length batches: the rows of the batch are sorted by decreasing
length, and `batch_sizes[t]` says how many rows are still running at step t;
only that prefix of rows takes part in step t. Rows that have ended keep their
state in the running gradient buffers, which is how dL/dh_T of a short
sequence enters the sweep at its own last step.
"""
from cython cimport floating
from libc.stdlib cimport calloc, malloc, free
from cpython.dict cimport PyDict_Check, PyDict_GetItem
from cpython.ref cimport PyObject
from libc.string cimport memcpy, memset
cimport numpy as cnp

from fastrnn._core.blas cimport gemm, gemv
from fastrnn._core.kernels cimport (
    fr_fp_enter, fr_fp_leave, fr_fill_rows_f, fr_fill_rows_d, fr_add_f, fr_add_d,
)
from fastrnn.layers._cell_kernels cimport *

# A per-step product of a small recurrent layer is over in a microsecond or
# two, less than OpenBLAS needs to wake and join its threads, so the sweeps
# may run the steps single-threaded and give the threads back to the large
# GEMMs around them (csrc/common/fr_blas_threads.c; the functions are found by
# fastrnn/_core/blas_threads.py).
cdef extern from "fr_blas_threads.h" nogil:
    ctypedef void (*fr_set_threads_fn)(int) noexcept
    ctypedef int (*fr_get_threads_fn)() noexcept
    void fr_blas_threads_install(fr_set_threads_fn set, fr_get_threads_fn get)
    int fr_blas_threads_begin(int want)
    void fr_blas_threads_end()


def set_blas_thread_control(size_t set_address, size_t get_address):
    """Install (or, with zeros, remove) OpenBLAS's set/get_num_threads."""
    fr_blas_threads_install(<fr_set_threads_fn> set_address, <fr_get_threads_fn> get_address)


cdef inline int _steps_begin(int step_threads) noexcept nogil:
    """Switch the BLAS to step_threads threads (0: leave it); returns
    whether `_steps_end` must be called."""
    return fr_blas_threads_begin(step_threads)


cdef inline void _steps_end(int entered) noexcept nogil:
    if entered:
        fr_blas_threads_end()


cnp.import_array()

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
# Up to this many multiply-adds a batch-of-one step uses fr_matvec (one
# thread, no horizontal-sum overhead); above, OpenBLAS's GEMV and its threads.
cdef long SMALL_MATVEC = 1 << 18
MATVEC_LIMIT = SMALL_MATVEC

cdef inline void _times_wt(int n, int m, int k, const floating *w, const floating *h,
                           floating beta, floating *out, int ldo,
                           floating *tmp) noexcept nogil:
    """out (n x m, row stride ldo) = h (n x k) W^T + beta out, W m x k with
    row stride k (a block of rows of W_hh); tmp: NULL or an m x n scratch."""
    if n == 1 and <long> m * k <= SMALL_MATVEC:
        if floating is float:
            fr_matvec_f(m, k, w, k, h, beta, out)
        else:
            fr_matvec_d(m, k, w, k, h, beta, out)
    elif n == 1:
        gemv(False, m, k, <floating> 1, w, k, h, beta, out)
    elif tmp != NULL:
        # tmp (m x n) = W h^T: in OpenBLAS's column-major terms the batch is
        # the short (first) dimension of the product, the faster orientation
        # (single-threaded sgemm (64 x 1024) x (1024 x 4096): 62 against 39
        # GFLOP/s); then one pass transposes it into place.
        gemm(False, True, m, n, k, <floating> 1, w, k, h, k, <floating> 0, tmp, n)
        if floating is float:
            fr_add_transposed_f(n, m, tmp, beta, out, ldo)
        else:
            fr_add_transposed_d(n, m, tmp, beta, out, ldo)
    else:
        gemm(False, True, n, m, k, <floating> 1, h, k, w, k, beta, out, ldo)


cdef inline void _times_w(int n, int m, int k, const floating *w, const floating *dg, int ldg,
                          floating beta, floating *out, floating *tmp) noexcept nogil:
    """out (n x k) = dg (n x m, row stride ldg) W + beta out, W m x k; tmp:
    NULL or a k x n scratch (see `_times_wt`)."""
    if n == 1:
        gemv(True, m, k, <floating> 1, w, k, dg, beta, out)
    elif tmp != NULL:
        gemm(True, True, k, n, m, <floating> 1, w, k, dg, ldg, <floating> 0, tmp, n)
        if floating is float:
            fr_add_transposed_f(n, k, tmp, beta, out, k)
        else:
            fr_add_transposed_d(n, k, tmp, beta, out, k)
    else:
        gemm(False, False, n, k, m, <floating> 1, dg, ldg, w, k, beta, out, k)


# ------------------------------------------------------------- the sweeps
cdef void _forward_step(
        int kind, int n, int H, const floating *w_hh, const floating *b_hn,
        const floating *peep, floating *g, floating *r, const floating *hp, floating *h,
        const floating *cp, floating *c, floating *rh, floating *tmp) noexcept nogil:
    """One time step for n rows: g holds the input side's pre-activations
    (n x G*H); r is the GRU's recurrent buffer; hp/cp the previous state,
    h/c the new one; rh the GRU_BEFORE's r * h_{t-1}; tmp NULL or an
    n x G*H scratch for `_times_wt`."""
    cdef int GH = GATES_OF(kind) * H
    if kind == FR_CELL_LSTM:
        _times_wt(n, GH, H, w_hh, hp, <floating> 1, g, GH, tmp)
        if floating is float:
            fr_lstm_fwd_f(n, H, g, peep, cp, c, h)
        else:
            fr_lstm_fwd_d(n, H, g, peep, cp, c, h)
    elif kind == FR_CELL_GRU:
        _times_wt(n, GH, H, w_hh, hp, <floating> 0, r, GH, tmp)
        if floating is float:
            fr_gru_fwd_f(n, H, g, r, b_hn, hp, h)
        else:
            fr_gru_fwd_d(n, H, g, r, b_hn, hp, h)
    elif kind == FR_CELL_GRU_BEFORE:
        _times_wt(n, 2 * H, H, w_hh, hp, <floating> 0, r, GH, tmp)
        if floating is float:
            fr_gru_before_fwd_gates_f(n, H, g, r, hp, rh)
        else:
            fr_gru_before_fwd_gates_d(n, H, g, r, hp, rh)
        _times_wt(n, H, H, w_hh + 2 * H * H, rh, <floating> 0, r + 2 * H, GH, tmp)
        if floating is float:
            fr_gru_before_fwd_state_f(n, H, g, r, hp, h)
        else:
            fr_gru_before_fwd_state_d(n, H, g, r, hp, h)
    else:
        _times_wt(n, H, H, w_hh, hp, <floating> 1, g, GH, tmp)
        if floating is float:
            fr_rnn_fwd_f(kind == FR_CELL_RNN_RELU, n, H, g, h)
        else:
            fr_rnn_fwd_d(kind == FR_CELL_RNN_RELU, n, H, g, h)

cdef void _forward_sweep(
        int kind, int T, int B, int D, int H, const floating *x, const floating *w_ih,
        const floating *w_hh, const floating *bias_x, const floating *b_hn,
        const floating *peep, const int *batch_sizes, floating *gx, floating *gh,
        Py_ssize_t gh_step, floating *hs, floating *cs, floating *rh,
        int step_threads) noexcept nogil:
    cdef int G = GATES_OF(kind)
    cdef int GH = G * H
    cdef Py_ssize_t BH = <Py_ssize_t> B * H, BGH = <Py_ssize_t> B * GH
    cdef int t, n
    if floating is float:
        fr_fill_rows_f(gx, bias_x, <Py_ssize_t> T * B, GH)
    else:
        fr_fill_rows_d(gx, bias_x, <Py_ssize_t> T * B, GH)
    gemm(False, True, T * B, GH, D, <floating> 1, x, D, w_ih, D, <floating> 1, gx, GH)
    # Scratch for the transposed per-step product; NULL (malloc failed, or a
    # batch of one) falls back to the direct GEMM.
    cdef floating *tmp = <floating *> malloc(BGH * sizeof(floating)) if B > 1 else NULL
    cdef int saved = _steps_begin(step_threads)
    for t in range(T):
        n = batch_sizes[t]
        if n == 0:
            break
        _forward_step(kind, n, H, w_hh, b_hn, peep, gx + t * BGH, gh + t * gh_step,
                      hs + t * BH, hs + (t + 1) * BH, cs + t * BH if cs != NULL else NULL,
                      cs + (t + 1) * BH if cs != NULL else NULL,
                      rh + t * BH if rh != NULL else NULL, tmp)
    free(tmp)
    _steps_end(saved)


cdef void _backward_sweep(
        int kind, int T, int B, int D, int H, const floating *x, const floating *w_ih,
        const floating *w_hh, const floating *peep, const int *batch_sizes,
        const floating *hs, const floating *cs, const floating *gx, const floating *gh,
        Py_ssize_t gh_step, const floating *rh, const floating *dy, floating *dh,
        floating *dc, floating *dgx, floating *dgh, floating *drh, floating *dx,
        floating *gw_ih, floating *gw_hh, floating *gb_x, floating *gb_h,
        floating *gpeep, const floating *ones, floating clip, int step_threads) noexcept nogil:
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
    cdef floating *tmp = <floating *> malloc(BH * sizeof(floating)) if B > 1 else NULL
    cdef int saved = _steps_begin(step_threads)
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
            _times_w(n, GH, H, w_hh, dg, GH, <floating> 0, dh, tmp)
        elif kind == FR_CELL_GRU:
            dr = dgh + t * BGH
            if floating is float:
                fr_gru_bwd_f(n, H, g, gh + t * gh_step, hp, dyt, dh, dg, dr, clip)
            else:
                fr_gru_bwd_d(n, H, g, gh + t * gh_step, hp, dyt, dh, dg, dr, clip)
            _times_w(n, GH, H, w_hh, dr, GH, <floating> 1, dh, tmp)
        elif kind == FR_CELL_GRU_BEFORE:
            if floating is float:
                fr_gru_before_bwd_state_f(n, H, g, hp, dyt, dh, dg, clip)
            else:
                fr_gru_before_bwd_state_d(n, H, g, hp, dyt, dh, dg, clip)
            _times_w(n, H, H, w_hh + 2 * H * H, dg + 2 * H, GH, <floating> 0, drh, tmp)
            if floating is float:
                fr_gru_before_bwd_gates_f(n, H, g, hp, drh, dh, dg)
            else:
                fr_gru_before_bwd_gates_d(n, H, g, hp, drh, dh, dg)
            _times_w(n, 2 * H, H, w_hh, dg, GH, <floating> 1, dh, tmp)
        else:
            if floating is float:
                fr_rnn_bwd_f(kind == FR_CELL_RNN_RELU, n, H, hp + BH, dyt, dh, dg, clip)
            else:
                fr_rnn_bwd_d(kind == FR_CELL_RNN_RELU, n, H, hp + BH, dyt, dh, dg, clip)
            _times_w(n, GH, H, w_hh, dg, GH, <floating> 0, dh, tmp)

    _steps_end(saved)
    free(tmp)

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
                 int B, int D, int H, int step_threads=0):
    """Run one direction of one layer over a sequence (all arrays flat,
    C-contiguous, checked by the caller in fastrnn/layers/base.py).

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
    step_threads : BLAS threads for the per-step products (0: as set).
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
                       pgx, pgh, gh_step, phs, pcs, prh, step_threads)
        fr_fp_leave(fpstate)


def cell_backward(int kind, const floating[::1] x, const floating[::1] w_ih,
                  const floating[::1] w_hh, const floating[::1] peep,
                  const int[::1] batch_sizes, const floating[::1] hs, const floating[::1] cs,
                  const floating[::1] gx, const floating[::1] gh, Py_ssize_t gh_step,
                  const floating[::1] rh, const floating[::1] dy, floating[::1] dh, floating[::1] dc,
                  floating[::1] dgx, floating[::1] dgh, floating[::1] drh, floating[::1] dx,
                  floating[::1] gw_ih, floating[::1] gw_hh, floating[::1] gb_x,
                  floating[::1] gb_h, floating[::1] gpeep, const floating[::1] ones,
                  floating clip, int B, int D, int H, int step_threads=0):
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
                        pgwi, pgwh, pgbx, pgbh, pgpe, pon, clip, step_threads)
        fr_fp_leave(fpstate)


# ------------------------------------------------------ parameter checks
def all_arrays_ready(object store, list names, const Py_ssize_t[:, ::1] layout, int typenum,
                     bint writeable):
    """True when the dict ``store`` holds, under each name, an ndarray of the
    dtype ``typenum`` and the shape in ``layout`` (rows: ndim, then up to 4
    dimensions), C-contiguous, aligned and in native byte order (and
    writeable if asked): what the loops may read or write. A few comparisons
    per array in C, so the layers can afford it on every call."""
    return _all_arrays_ready(store, names, layout, typenum, writeable)


cdef bint _all_arrays_ready(object store, list names, const Py_ssize_t[:, ::1] layout,
                            int typenum, bint writeable) except -1:
    # Dict look-ups: this short loop needs the GIL (it is no time loop).
    cdef Py_ssize_t i
    cdef int nd, k, flags
    cdef PyObject *found
    cdef cnp.ndarray arr
    if not PyDict_Check(store) or len(names) != layout.shape[0]:
        return False
    for i in range(len(names)):
        found = PyDict_GetItem(store, names[i])
        if found == NULL or not cnp.PyArray_Check(<object> found):
            return False
        arr = <cnp.ndarray> <object> found
        nd = cnp.PyArray_NDIM(arr)
        if (cnp.PyArray_TYPE(arr) != typenum or not cnp.PyArray_ISNOTSWAPPED(arr)
                or nd != layout[i, 0]):
            return False
        flags = cnp.PyArray_FLAGS(arr)
        if not (flags & cnp.NPY_ARRAY_C_CONTIGUOUS) or not (flags & cnp.NPY_ARRAY_ALIGNED):
            return False
        if writeable and not (flags & cnp.NPY_ARRAY_WRITEABLE):
            return False
        for k in range(nd):
            if cnp.PyArray_DIM(arr, k) != layout[i, 1 + k]:
                return False
    return True


# ------------------------------------------------------------- streaming
# Columns of StepPlan.ptrs, one row per layer: the parameters it reads.
cdef enum:
    P_WIH, P_WHH, P_BIH, P_BHH, P_PEEP, P_BHN, P_COUNT


cdef void _stream_layers(floating *scratch, int kind, int L, int B, int D, int H,
                         const Py_ssize_t[:, ::1] ptrs, const floating *x,
                         const floating *h_in, const floating *c_in, floating *h_out,
                         floating *c_out) noexcept nogil:
    """One time step through L stacked layers (see StepPlan.run). scratch:
    B * (2 G*H + H) zeroed values of the caller's own, reused by each layer
    in turn (the gate buffer, the GRU's recurrent buffer and r * h)."""
    cdef int GH = GATES_OF(kind) * H
    cdef Py_ssize_t BH = <Py_ssize_t> B * H
    cdef int l, b, din
    cdef const floating *inp
    cdef const floating *b_ih
    cdef const floating *b_hh
    cdef floating *g = scratch
    cdef floating *gh = scratch + <Py_ssize_t> B * GH
    cdef floating *rh = gh + <Py_ssize_t> B * GH
    cdef int nadd = 2 * H if kind == FR_CELL_GRU else GH
    for l in range(L):
        inp = x if l == 0 else h_out + (l - 1) * BH
        din = D if l == 0 else H
        b_ih = <const floating *> ptrs[l, P_BIH]
        b_hh = <const floating *> ptrs[l, P_BHH]
        for b in range(B):
            if b_ih != NULL:
                memcpy(g + b * GH, b_ih, GH * sizeof(floating))
                if floating is float:
                    fr_add_f(g + b * GH, b_hh, nadd)
                else:
                    fr_add_d(g + b * GH, b_hh, nadd)
            else:
                memset(g + b * GH, 0, GH * sizeof(floating))
        _times_wt(B, GH, din, <const floating *> ptrs[l, P_WIH], inp, <floating> 1, g, GH,
                  <floating *> NULL)
        _forward_step(kind, B, H, <const floating *> ptrs[l, P_WHH],
                      <const floating *> ptrs[l, P_BHN], <const floating *> ptrs[l, P_PEEP],
                      g, gh, h_in + l * BH, h_out + l * BH,
                      c_in + l * BH if c_in != NULL else NULL,
                      c_out + l * BH if c_out != NULL else NULL, rh, <floating *> NULL)


cdef inline void *_data(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray> a)


cdef inline bint _is_ready(object a, int typenum, int ndim) noexcept:
    """a is an ndarray of the dtype and ndim, C-contiguous (the fast path)."""
    if not cnp.PyArray_Check(a):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray> a
    return (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_NDIM(arr) == ndim
            and cnp.PyArray_IS_C_CONTIGUOUS(arr))


cdef class StepPlan:
    """Pointers to the parameters of a unidirectional stack of layers, so
    that `step` advances one time step with no allocation beyond its outputs
    and a scratch block, and with the checks done in C.

    The plan is read-only once built: each call to `run` takes scratch
    buffers of its own (one small zeroed block, freed on return), so one
    plan serves any number of threads at once. It keeps a reference to every
    array it points into and records each parameter's data pointer, shape
    and dtype; `step` declines (returns None) when the layer's parameter
    dict no longer holds those very arrays or one of them has changed in
    place (``resize``, a new ``shape`` or ``dtype``), so a stale plan is never
    run.
    """
    cdef readonly int kind, L, B, D, H, step_threads
    cdef readonly bint is_double, has_cell
    cdef readonly list arrays, names, params
    cdef int typenum
    cdef Py_ssize_t scratch_len
    cdef Py_ssize_t[:, ::1] ptrs
    cdef Py_ssize_t[:, ::1] layout

    def __init__(self, int kind, int B, int D, int H, list layers, list names,
                 list param_arrays, bint is_double, int step_threads):
        """layers : list of (w_ih, w_hh, b_ih or None, b_hh or None, peep or None),
        C-contiguous arrays of one dtype, of the shapes the layer defines;
        names, param_arrays : the layer's parameter names and arrays, which
        `step` checks the layer's dict against."""
        import numpy as np

        dtype = np.float64 if is_double else np.float32
        self.kind, self.L, self.B, self.D, self.H = kind, len(layers), B, D, H
        self.is_double = is_double
        self.has_cell = kind == FR_CELL_LSTM
        self.typenum = cnp.NPY_FLOAT64 if is_double else cnp.NPY_FLOAT32
        self.step_threads = step_threads
        self.arrays = []
        self.names = list(names)
        table = np.zeros((self.L, P_COUNT), dtype=np.intp)
        GH = GATES_OF(kind) * H
        self.scratch_len = <Py_ssize_t> B * (2 * GH + H)
        for l, (w_ih, w_hh, b_ih, b_hh, peep) in enumerate(layers):
            b_hn = b_hh[2 * H:] if (b_hh is not None and kind == FR_CELL_GRU) else np.zeros(H, dtype)
            if peep is None:
                peep = np.zeros(3 * H, dtype)
            for j, a in enumerate((w_ih, w_hh, b_ih, b_hh, peep, b_hn)):
                table[l, j] = <Py_ssize_t> _data(a)
                self.arrays.append(a)
        self.ptrs = table
        self.params = list(param_arrays)
        # Each parameter's data pointer, ndim and (up to 2) dimensions.
        layout = np.zeros((len(self.params), 4), dtype=np.intp)
        for i, a in enumerate(self.params):
            if a.ndim > 2:
                raise ValueError("StepPlan: parameters are 1- or 2-dimensional")
            layout[i, 0] = <Py_ssize_t> _data(a)
            layout[i, 1] = a.ndim
            layout[i, 2:2 + a.ndim] = a.shape
        self.layout = layout

    cdef bint _intact(self, object params) except -1:
        """params (a dict) holds the plan's arrays, each as it was."""
        cdef Py_ssize_t i
        cdef PyObject *found
        cdef cnp.ndarray arr
        cdef int nd, k
        if not PyDict_Check(params):
            return False
        for i in range(len(self.names)):
            found = PyDict_GetItem(params, self.names[i])
            if found == NULL or found != <PyObject *> self.params[i]:
                return False
            arr = <cnp.ndarray> self.params[i]
            nd = cnp.PyArray_NDIM(arr)
            if (<Py_ssize_t> cnp.PyArray_DATA(arr) != self.layout[i, 0]
                    or nd != self.layout[i, 1]
                    or cnp.PyArray_TYPE(arr) != self.typenum
                    or not cnp.PyArray_IS_C_CONTIGUOUS(arr)):
                return False
            for k in range(nd):
                if cnp.PyArray_DIM(arr, k) != self.layout[i, 2 + k]:
                    return False
        return True

    def matches(self, params):
        """True when ``params`` still holds the arrays the plan points into,
        unchanged in place."""
        return self._intact(params)

    def step(self, params, x, h, c):
        """(y, h_out, c_out) for one step, or None when an argument is not
        already in the fast-path form (then the caller converts and checks
        it, and calls again) or the plan no longer matches ``params``.

        x : (B, D) or (D,); h, c : (L, B, H) or (L, H), or None for zeros.
        """
        cdef int nd_x, nd_s
        cdef cnp.npy_intp dims[3]
        cdef cnp.ndarray ax, h_out, c_out = None
        if not _is_ready(x, self.typenum, 1) and not _is_ready(x, self.typenum, 2):
            return None
        ax = <cnp.ndarray> x
        nd_x = cnp.PyArray_NDIM(ax)
        if cnp.PyArray_DIM(ax, nd_x - 1) != self.D:
            return None
        if (1 if nd_x == 1 else cnp.PyArray_DIM(ax, 0)) != self.B:
            return None
        if not self._intact(params):
            return None
        nd_s = nd_x + 1
        dims[0] = self.L
        dims[1] = self.B if nd_x == 2 else self.H
        dims[2] = self.H
        if h is None:
            h = cnp.PyArray_ZEROS(nd_s, dims, self.typenum, 0)
        elif not (_is_ready(h, self.typenum, nd_s) and _same_dims(h, dims, nd_s)):
            return None
        h_out = cnp.PyArray_EMPTY(nd_s, dims, self.typenum, 0)
        if self.has_cell:
            if c is None:
                c = cnp.PyArray_ZEROS(nd_s, dims, self.typenum, 0)
            elif not (_is_ready(c, self.typenum, nd_s) and _same_dims(c, dims, nd_s)):
                return None
            c_out = cnp.PyArray_EMPTY(nd_s, dims, self.typenum, 0)
        else:
            c = None
        self.run(x, h, c, h_out, c_out)
        return h_out[self.L - 1], h_out, c_out

    cpdef run(self, x, h_in, c_in, h_out, c_out):
        """h_out (L, B, H) [and c_out] <- one step from x (B, D) and h_in
        [c_in]. Arrays are C-contiguous, of the plan's dtype and shapes
        (checked by the caller); c_in/c_out are None except for the LSTM."""
        cdef void *px = _data(x)
        cdef void *phi = _data(h_in)
        cdef void *pci = _data(c_in)
        cdef void *pho = _data(h_out)
        cdef void *pco = _data(c_out)
        cdef unsigned int fpstate
        cdef int saved
        cdef void *scratch
        # Zeroed: the GRU's recurrent buffer is written by products with
        # beta = 0, which a BLAS may compute as 0 * (what was there).
        if self.B == 0:
            return   # nothing to compute, and calloc(0) may return NULL
        with nogil:
            scratch = calloc(self.scratch_len, 8 if self.is_double else 4)
            if scratch != NULL:
                fpstate = fr_fp_enter()
                saved = _steps_begin(self.step_threads)
                if self.is_double:
                    _stream_layers(<double *> scratch, self.kind, self.L, self.B, self.D,
                                   self.H, self.ptrs, <double *> px, <double *> phi,
                                   <double *> pci, <double *> pho, <double *> pco)
                else:
                    _stream_layers(<float *> scratch, self.kind, self.L, self.B, self.D,
                                   self.H, self.ptrs, <float *> px, <float *> phi,
                                   <float *> pci, <float *> pho, <float *> pco)
                _steps_end(saved)
                fr_fp_leave(fpstate)
                free(scratch)
        if scratch == NULL:
            raise MemoryError("step: no memory for the scratch buffers")


cdef inline bint _same_dims(object a, cnp.npy_intp *dims, int nd) noexcept:
    cdef cnp.ndarray arr = <cnp.ndarray> a
    cdef int i
    for i in range(nd):
        if cnp.PyArray_DIM(arr, i) != dims[i]:
            return False
    return True
