# cython: language_level=3
"""Time loops shared by every recurrent cell (simple RNN, LSTM, GRU).

One call runs one direction of one layer over a whole sequence without the
GIL. The cells differ only in their gate count G (1, 4, 3) and in the fused
per-step C kernels of csrc/cells/fr_cells_impl.h; the skeleton is common:

forward (`cell_forward`)
    With ``threads >= 1`` the gated-cell engine (csrc/cells/fr_engine.h)
    runs the whole pass: the input projection and every step, on fastrnn's
    thread team, with W_hh and W_ih packed once per call (the layers ask for
    it for small steps, fastrnn/layers/base.py). With ``threads=0`` (or when
    the engine cannot get memory for its packed weights) the BLAS loop below
    runs instead:
    1. input projection of all T steps: one GEMM (T*B x D) @ (D x G*H) into
       the gate buffer, on top of the biases that can be summed beforehand;
    2. per step: the recurrent product h_{t-1} W_hh^T (`rows_times_transposed`
       of fastrnn/_core/matmul.pxd: the small mat-vec kernel for one small
       sequence, GEMV for a larger one, GEMM for a batch), added into the gate
       buffer (RNN, LSTM) or into a separate recurrent buffer (GRU, whose
       reset gate multiplies the recurrent product alone);
    3. per step: one fused C kernel turns the pre-activations into the gates
       and the new state, and keeps the gate activations for BPTT.
    The GRU with the reset gate before the product (Goodfellow et al. (2016),
    eq. 10.12) needs the gates before it can form W_hn (r h_{t-1}): its step is
    two products, each followed by a kernel.
backward (`cell_backward`, BPTT; Goodfellow et al. (2016), sec. 10.2.2)
    1. per step, from the last: one fused C kernel gives the gradients of the
       pre-activations of the input side and of the recurrent product (which
       differ only for the GRU), then one product carries dL/dh back
       through W_hh;
    2. after the sweep: dW_ih, dW_hh are one GEMM each over all T steps, the
       bias gradients one GEMV each with a ones vector, dL/dx one GEMM.

Small per-step products run with the BLAS switched to one thread (see
`_steps_begin`); the large GEMMs before and after the sweep keep all threads.

Streaming (`StepPlan`): one time step through a stack of layers per call,
with the same `_forward_step` as the sweep. Its fast path (`StepPlan.stream`)
is the whole of a layer's step() after one attribute read in Python: the
checks, the outputs and the step itself in one call, with the GIL kept for a
small step. The products of one sequence (`_step_product`) take the step
kernel of csrc/cells, which sums as the small mat-vec kernel does.

Variable-length batches: the rows of the batch are sorted by decreasing
length, and `batch_sizes[t]` says how many rows are still running at step t;
only that prefix of rows takes part in step t. Rows that have ended keep their
state in the running gradient buffers, which is how dL/dh_T of a short
sequence enters the sweep at its own last step.

Arguments are marked IN (read), OUT (written, not read), INOUT (read and
written) and WORK (scratch the caller provides, its content on exit
undefined unless said).
"""
from cython cimport floating
from libc.stdlib cimport calloc, malloc, free
from cpython.dict cimport PyDict_Check, PyDict_GetItem
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.sequence cimport PySequence_GetItem
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.ref cimport PyObject
from libc.string cimport memcpy, memset
cimport numpy as cnp

from fastrnn._core import blas_threads as _blas_threads
from fastrnn._core.blas cimport gemm, gemv
from fastrnn._core.kernels cimport (
    FR_ACT_RELU, FR_ACT_TANH, fr_fp_enter, fr_fp_leave, fill_rows, add_into, small_gemv,
)
from fastrnn._core.matmul cimport rows_times, rows_times_transposed, SMALL_DOT_PRODUCTS
from fastrnn.layers._cell_kernels cimport *

# A per-step product of a small recurrent layer is over in a microsecond or
# two, less than OpenBLAS needs to wake and join its threads, so the sweeps
# may run the steps single-threaded and give the threads back to the large
# GEMMs around them. The switch is C (csrc/common/fr_blas_threads.c: it runs
# inside the nogil loops); fastrnn/_core/blas_threads.py finds the BLAS's
# functions for it.
cdef extern from "fr_blas_threads.h" nogil:
    ctypedef void (*fr_set_threads_fn)(int) noexcept
    ctypedef int (*fr_get_threads_fn)() noexcept
    void fr_blas_threads_install(fr_set_threads_fn set, fr_get_threads_fn get)
    int fr_blas_threads_begin(int want)
    void fr_blas_threads_end()


def set_blas_thread_control(size_t set_address, size_t get_address):
    """Install (or, with zeros, remove) the BLAS's set/get_num_threads, as
    addresses of C functions ``void set(int)`` and ``int get(void)``."""
    fr_blas_threads_install(<fr_set_threads_fn> set_address, <fr_get_threads_fn> get_address)


if _blas_threads.FUNCTIONS is not None:
    set_blas_thread_control(*_blas_threads.FUNCTIONS)


# The gated-cell engine (csrc/cells/fr_engine.h): the forward step loop with
# W_hh packed once per call, split between the threads of fastrnn's team
# (csrc/common/fr_team.h) by blocks of hidden units.
cdef extern from "fr_team.h" nogil:
    int FR_TEAM_MAX

cdef extern from "fr_engine.h" nogil:
    ctypedef struct fr_engine_args:
        int kind, is_double, steps, batch, hidden, inputs
        const int *batch_sizes
        const void *x
        const void *w_ih
        const void *bias_x
        const void *w_hh
        const void *b_hn
        const void *peep
        void *gates
        void *recurrent
        Py_ssize_t recurrent_stride
        void *hs
        void *cs
        void *reset_hidden
        int bias_per_row
        Py_ssize_t ring
    int fr_engine_forward(const fr_engine_args *args, int nthreads)
    Py_ssize_t fr_engine_project_steps(const fr_engine_args *args, int nthreads)
    size_t fr_engine_packed_columns_size(int is_double, Py_ssize_t K, Py_ssize_t H)
    void fr_engine_pack_columns(int is_double, const void *w, Py_ssize_t K, Py_ssize_t H,
                                void *dst)
    void fr_engine_rows_times_packed(int is_double, int n, Py_ssize_t K, const void *inp,
                                     Py_ssize_t ldin, const void *packed, Py_ssize_t H,
                                     int accumulate, void *out, Py_ssize_t ldout)
    int fr_engine_block_units(int is_double)

#: The most threads the engine's team runs a sweep on.
MAX_THREADS = FR_TEAM_MAX


def block_units(bint is_double):
    """Hidden units per block of the engine's micro-kernels (a thread owns
    whole blocks, so at most ceil(H / block_units) threads share a layer)."""
    return fr_engine_block_units(is_double)


def project_steps(int kind, int batch, int hidden, bint is_double, int threads):
    """The steps the engine projects at a time for a layer of this kind and
    size on `threads` threads: the ring `cell_forward` takes in inference."""
    cdef fr_engine_args args
    memset(&args, 0, sizeof(args))
    args.kind, args.is_double, args.batch, args.hidden = kind, is_double, batch, hidden
    return fr_engine_project_steps(&args, min(max(threads, 1), FR_TEAM_MAX))


cdef int _steps_begin(int step_threads) noexcept nogil:
    """Switch the BLAS to step_threads threads (0: leave it); returns
    whether `_steps_end` must be called."""
    return fr_blas_threads_begin(step_threads)


cdef void _steps_end(int entered) noexcept nogil:
    if entered:
        fr_blas_threads_end()


cnp.import_array()

RNN_TANH = FR_CELL_RNN_TANH
RNN_RELU = FR_CELL_RNN_RELU
LSTM = FR_CELL_LSTM
GRU = FR_CELL_GRU
GRU_BEFORE = FR_CELL_GRU_BEFORE

#: The activation codes of the loops that take one (leaky, clockwork and
#: delay layers), from the C enum they are compared with.
ACTIVATION_CODES = {"tanh": FR_ACT_TANH, "relu": FR_ACT_RELU}

#: Batch-of-one steps whose products (rows of W times its columns) are at
#: most this large run in the small mat-vec kernel and never reach the BLAS.
MATVEC_LIMIT = SMALL_DOT_PRODUCTS


cdef inline int gate_count(int kind) noexcept nogil:
    if kind == FR_CELL_LSTM:
        return 4
    if kind == FR_CELL_GRU or kind == FR_CELL_GRU_BEFORE:
        return 3
    return 1


# ------------------------------------------------------------- the sweeps
cdef struct SweepShape:
    int kind                       # FR_CELL_*
    int steps                      # T
    int batch                      # B
    int inputs                     # D
    int hidden                     # H
    const int *batch_sizes         # (T,) rows still running at each step
    Py_ssize_t recurrent_stride    # of RECURRENT between steps: B*3H keeps
                                   # every step (GRU), 0 reuses one buffer
    double clip                    # backward: clip dL/dh_t to [-clip, clip] if > 0
    int step_threads               # BLAS threads for the per-step products (0: as set)
    int threads                    # forward: the engine's threads (0: the BLAS loop)
    bint bias_per_row              # forward: BIAS_X is (B, G*H), a row of its own
                                   # for each sequence (a context term); else (G*H,)
    Py_ssize_t ring                # forward, engine only: 0, or GATES and
                                   # RESET_HIDDEN hold this many steps (inference)


# The arrays of one sweep, in a table of pointers of the sweep's precision
# indexed by these names (a struct cannot have `floating` members). Shapes
# for a layer of G gates; NULL for an array the cell does not use.
cdef enum:  # the sweep arrays
    X               # IN (T, B, D)
    W_IH            # IN (G*H, D)
    W_HH            # IN (G*H, H)
    BIAS_X          # IN (G*H,) forward: the biases summed into the gates first;
                    # (B, G*H) with bias_per_row
    B_HN            # IN (H,) GRU: the bias of the recurrent n block
    PEEP            # IN (3H,) LSTM: peephole weights (zeros without peepholes)
    GATES           # forward OUT, backward IN (T, B, G*H): gate activations
    RECURRENT       # forward OUT, backward IN: GRU's recurrent products
    HS              # INOUT (T+1, B, H): hs[0] = h_0 on entry, hs[t+1] = h_t
    CS              # INOUT (T+1, B, H) LSTM: the cell states, like HS
    RESET_HIDDEN    # forward OUT, backward IN (T, B, H) GRU_BEFORE: r_t h_{t-1}
    DY              # IN (T, B, H): dL/dy_t
    DH              # INOUT (B, H): dL/dh_T on entry, dL/dh_0 on exit
    DC              # INOUT (B, H) LSTM: dL/dc_T on entry, dL/dc_0 on exit
    D_GATES         # WORK (T, B, G*H), zero on entry when rows end early: the
                    # gradients of the input side's pre-activations
    D_RECURRENT     # WORK (T, B, G*H) GRU: those of the recurrent products
    D_RESET_HIDDEN  # WORK (B, H) GRU_BEFORE: dL/d(r_t h_{t-1})
    DX              # OUT (T, B, D)
    GRAD_W_IH       # INOUT (G*H, D): accumulates
    GRAD_W_HH       # INOUT (G*H, H): accumulates
    GRAD_BIAS_X     # OUT (G*H,): the input side's bias gradient
    GRAD_BIAS_H     # OUT (G*H,) GRU: the recurrent side's bias gradient
    GRAD_PEEP       # INOUT (3H,) LSTM: accumulates
    ONES            # IN (T*B,) ones, for the bias gradients as one GEMV
    SCRATCH         # WORK: NULL, or B*G*H (forward) / B*H (backward) values
                    # for the transposed per-step GEMM of a batch
    STATE_MASK      # IN (B, H) or NULL: recurrent dropout's mask (Gal & Ghahramani
                    # 2016), one per sequence, on h_{t-1} where it enters W_hh
    MASKED_HS       # forward OUT, backward IN (T, B, H) with STATE_MASK: the masked
                    # states STATE_MASK * h_{t-1} that the products read
    D_MASKED        # WORK (B, H) backward with STATE_MASK: the gradient of the
                    # masked state, before the mask carries it to h_{t-1}
    SWEEP_ARRAY_COUNT


cdef inline void _step_product(int n, int m, int k, const floating *w, const floating *rows,
                               floating beta, floating *out, int ldo,
                               floating *scratch) noexcept nogil:
    """`rows_times_transposed` (same arguments, same numbers), with the
    product of one sequence in the step kernel of csrc/cells, which sums as
    the small mat-vec kernel does with more rows in flight."""
    if n == 1 and <long> m * k <= SMALL_DOT_PRODUCTS:
        step_gemv(m, k, w, k, rows, beta, out)
    else:
        rows_times_transposed(n, m, k, w, rows, beta, out, ldo, scratch)


def _step_product_pair(const floating[:, ::1] w, const floating[::1] x, floating beta,
                       const floating[::1] y):
    """(step kernel's, small mat-vec kernel's) W x + beta y, W (m, k): the
    product `_step_product` takes for one sequence and the one it replaced,
    which the tests hold equal to the bit."""
    import numpy as np

    cdef Py_ssize_t m = w.shape[0], k = w.shape[1]
    if x.shape[0] != k or y.shape[0] != m:
        raise ValueError("_step_product_pair: w (m, k), x (k,), y (m,)")
    ours = np.array(y, copy=True)
    theirs = np.array(y, copy=True)
    cdef floating[::1] a = ours, b = theirs
    if m and k:
        step_gemv(m, k, &w[0, 0], k, &x[0], beta, &a[0])
        small_gemv(False, m, k, &w[0, 0], k, &x[0], beta, &b[0])
    return ours, theirs


cdef void _forward_step(
        int kind, int n, int H, const floating *w_hh, const floating *b_hn,
        const floating *peep, floating *gates, floating *recurrent, const floating *h_prev,
        const floating *h_in, floating *h, const floating *c_prev, floating *c,
        floating *reset_hidden, floating *scratch) noexcept nogil:
    """One time step for n rows. gates (n x G*H): INOUT, the input side's
    pre-activations in, the gate activations out; recurrent (n x G*H): OUT,
    GRU's recurrent products; h_prev, c_prev: IN, the previous state; h_in:
    IN, the state the recurrent products read (h_prev itself, or h_prev
    under recurrent dropout's mask); h, c: OUT, the new state; reset_hidden
    (n x H): OUT, GRU_BEFORE's r h_in; scratch: WORK, NULL or n x G*H values
    (`rows_times_transposed`)."""
    cdef int GH = gate_count(kind) * H
    if kind == FR_CELL_LSTM:
        _step_product(n, GH, H, w_hh, h_in, <floating> 1, gates, GH, scratch)
        lstm_forward(n, H, gates, peep, c_prev, c, h)
    elif kind == FR_CELL_GRU:
        _step_product(n, GH, H, w_hh, h_in, <floating> 0, recurrent, GH, scratch)
        gru_forward(n, H, gates, recurrent, b_hn, h_prev, h)
    elif kind == FR_CELL_GRU_BEFORE:
        _step_product(n, 2 * H, H, w_hh, h_in, <floating> 0, recurrent, GH, scratch)
        gru_reset_before_gates(n, H, gates, recurrent, h_in, reset_hidden)
        _step_product(n, H, H, w_hh + 2 * H * H, reset_hidden, <floating> 0,
                      recurrent + 2 * H, GH, scratch)
        gru_reset_before_state(n, H, gates, recurrent, h_prev, h)
    else:
        _step_product(n, H, H, w_hh, h_in, <floating> 1, gates, GH, scratch)
        rnn_forward(kind == FR_CELL_RNN_RELU, n, H, gates, h)


cdef inline void _times_mask(Py_ssize_t n, const floating *mask, const floating *a,
                             floating *out) noexcept nogil:
    """out (n, OUT) = mask * a (n each, IN), element-wise."""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = mask[i] * a[i]


cdef inline void _add_times_mask(Py_ssize_t n, const floating *mask, const floating *a,
                                 floating *out) noexcept nogil:
    """out (n, INOUT) += mask * a (n each, IN), element-wise."""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] += mask[i] * a[i]


cdef int _forward_sweep(const SweepShape *shape, floating **arrays) noexcept nogil:
    """The forward pass over a sequence (the arrays: see the sweep array
    names above); returns the threads of the engine's step loop, 0 for the
    BLAS loop."""
    cdef int kind = shape.kind, T = shape.steps, B = shape.batch, H = shape.hidden
    cdef int GH = gate_count(kind) * H
    cdef Py_ssize_t BH = <Py_ssize_t> B * H, BGH = <Py_ssize_t> B * GH
    cdef Py_ssize_t recurrent_stride = shape.recurrent_stride
    cdef const int *batch_sizes = shape.batch_sizes
    cdef const floating *w_hh = arrays[W_HH]
    cdef const floating *b_hn = arrays[B_HN]
    cdef const floating *peep = arrays[PEEP]
    cdef floating *gates = arrays[GATES]
    cdef floating *recurrent = arrays[RECURRENT]
    cdef floating *hs = arrays[HS]
    cdef floating *cs = arrays[CS]
    cdef floating *reset_hidden = arrays[RESET_HIDDEN]
    cdef floating *scratch = arrays[SCRATCH]
    cdef const floating *state_mask = arrays[STATE_MASK]
    cdef floating *masked_hs = arrays[MASKED_HS]
    cdef const floating *h_in
    cdef int t, n, entered, used
    if shape.threads > 0:
        used = _engine_forward(shape, arrays)
        if used > 0 or shape.ring > 0:   # the BLAS loop needs every step's rows
            return used
    # No engine asked for, or no memory for its packed weights: the input
    # projection in one GEMM, then a BLAS product per step.
    if shape.bias_per_row:
        fill_rows(gates, arrays[BIAS_X], T, BGH)
    else:
        fill_rows(gates, arrays[BIAS_X], <Py_ssize_t> T * B, GH)
    gemm(False, True, T * B, GH, shape.inputs, <floating> 1, arrays[X], shape.inputs,
         arrays[W_IH], shape.inputs, <floating> 1, gates, GH)
    entered = _steps_begin(shape.step_threads)
    for t in range(T):
        n = batch_sizes[t]
        if n == 0:
            break
        h_in = hs + t * BH
        if state_mask != NULL:
            _times_mask(<Py_ssize_t> n * H, state_mask, hs + t * BH, masked_hs + t * BH)
            h_in = masked_hs + t * BH
        _forward_step(kind, n, H, w_hh, b_hn, peep, gates + t * BGH,
                      recurrent + t * recurrent_stride, hs + t * BH, h_in, hs + (t + 1) * BH,
                      cs + t * BH if cs != NULL else NULL,
                      cs + (t + 1) * BH if cs != NULL else NULL,
                      reset_hidden + t * BH if reset_hidden != NULL else NULL, scratch)
    _steps_end(entered)
    return 0


cdef int _engine_forward(const SweepShape *shape, floating **arrays) noexcept nogil:
    """The whole of `_forward_sweep` in the engine; returns its thread count,
    or -1 when it could not run (nothing computed)."""
    cdef fr_engine_args args
    args.kind, args.is_double = shape.kind, floating is double
    args.steps, args.batch, args.hidden = shape.steps, shape.batch, shape.hidden
    args.inputs, args.batch_sizes = shape.inputs, shape.batch_sizes
    args.x, args.w_ih, args.bias_x = arrays[X], arrays[W_IH], arrays[BIAS_X]
    args.w_hh, args.b_hn, args.peep = arrays[W_HH], arrays[B_HN], arrays[PEEP]
    args.gates, args.recurrent = arrays[GATES], arrays[RECURRENT]
    args.recurrent_stride = shape.recurrent_stride
    args.hs, args.cs, args.reset_hidden = arrays[HS], arrays[CS], arrays[RESET_HIDDEN]
    args.bias_per_row = shape.bias_per_row
    args.ring = shape.ring
    return fr_engine_forward(&args, shape.threads)


cdef void _masked_backward_step(
        int kind, int n, int H, const floating *w_hh, const floating *peep,
        const floating *gates, const floating *hs, const floating *cs, int t, Py_ssize_t BH,
        const floating *recurrent_t, const floating *masked_h, const floating *mask,
        const floating *dy_t, floating *dh, floating *dc, floating *d_gates_t,
        floating *d_recurrent_t, floating *d_reset_hidden, floating *d_masked,
        floating *grad_peep, floating clip, floating *scratch) noexcept nogil:
    """One step of `_backward_sweep` under recurrent dropout: the products
    read masked_h = mask * h_{t-1} (n x H, IN), so the gradient they send back
    (into d_masked, WORK) reaches h_{t-1} times the mask, beside what the cell
    sends it directly (the GRU's z h_{t-1}). The other arguments are the
    sweep's at step t."""
    cdef int GH = gate_count(kind) * H
    cdef Py_ssize_t nH = <Py_ssize_t> n * H
    cdef const floating *h_prev = hs + t * BH
    if kind == FR_CELL_LSTM:
        lstm_backward(n, H, gates, peep, cs + t * BH, cs + (t + 1) * BH, dy_t, dh, dc,
                      d_gates_t, grad_peep, clip)
        rows_times(n, GH, H, w_hh, d_gates_t, GH, <floating> 0, d_masked, scratch)
        _times_mask(nH, mask, d_masked, dh)
    elif kind == FR_CELL_GRU:
        gru_backward(n, H, gates, recurrent_t, h_prev, dy_t, dh, d_gates_t, d_recurrent_t,
                     clip)
        rows_times(n, GH, H, w_hh, d_recurrent_t, GH, <floating> 0, d_masked, scratch)
        _add_times_mask(nH, mask, d_masked, dh)
    elif kind == FR_CELL_GRU_BEFORE:
        gru_reset_before_backward_state(n, H, gates, h_prev, dy_t, dh, d_gates_t, clip)
        rows_times(n, H, H, w_hh + 2 * H * H, d_gates_t + 2 * H, GH, <floating> 0,
                   d_reset_hidden, scratch)
        memset(d_masked, 0, nH * sizeof(floating))
        gru_reset_before_backward_gates(n, H, gates, masked_h, d_reset_hidden, d_masked,
                                        d_gates_t)
        rows_times(n, 2 * H, H, w_hh, d_gates_t, GH, <floating> 1, d_masked, scratch)
        _add_times_mask(nH, mask, d_masked, dh)
    else:
        rnn_backward(kind == FR_CELL_RNN_RELU, n, H, h_prev + BH, dy_t, dh, d_gates_t, clip)
        rows_times(n, GH, H, w_hh, d_gates_t, GH, <floating> 0, d_masked, scratch)
        _times_mask(nH, mask, d_masked, dh)


cdef inline void _times_w_hh(const floating *packed, int n, int GH, int H,
                             const floating *w_hh, const floating *d_rows, bint accumulate,
                             floating *dh, floating *scratch) noexcept nogil:
    """dh (n, H, OUT, or INOUT with ``accumulate``) (+)= d_rows (n, GH, IN)
    W_hh (GH, H): on W_hh packed by the engine when ``packed`` is not NULL,
    else by the BLAS."""
    if packed != NULL:
        fr_engine_rows_times_packed(floating is double, n, GH, d_rows, GH, packed, H,
                                    accumulate, dh, H)
    else:
        rows_times(n, GH, H, w_hh, d_rows, GH, <floating> accumulate, dh, scratch)


cdef void _backward_sweep(const SweepShape *shape, floating **arrays) noexcept nogil:
    """BPTT of `_forward_sweep` (the arrays: see the sweep array names above)."""
    cdef int kind = shape.kind, T = shape.steps, B = shape.batch, H = shape.hidden
    cdef int D = shape.inputs
    cdef int GH = gate_count(kind) * H
    cdef int TB = T * B
    cdef Py_ssize_t BH = <Py_ssize_t> B * H, BGH = <Py_ssize_t> B * GH
    cdef Py_ssize_t recurrent_stride = shape.recurrent_stride
    cdef const int *batch_sizes = shape.batch_sizes
    cdef floating clip = <floating> shape.clip
    cdef const floating *w_hh = arrays[W_HH]
    cdef const floating *peep = arrays[PEEP]
    cdef const floating *hs = arrays[HS]
    cdef const floating *cs = arrays[CS]
    cdef const floating *all_gates = arrays[GATES]
    cdef const floating *recurrent = arrays[RECURRENT]
    cdef const floating *reset_hidden = arrays[RESET_HIDDEN]
    cdef const floating *dy = arrays[DY]
    cdef floating *dh = arrays[DH]
    cdef floating *dc = arrays[DC]
    cdef floating *d_gates = arrays[D_GATES]
    cdef floating *d_recurrent = arrays[D_RECURRENT]
    cdef floating *d_reset_hidden = arrays[D_RESET_HIDDEN]
    cdef floating *scratch = arrays[SCRATCH]
    cdef const floating *state_mask = arrays[STATE_MASK]
    # The products read the masked states when there is a mask: so do
    # their weight gradients.
    cdef const floating *product_hs = hs if state_mask == NULL else arrays[MASKED_HS]
    cdef int t, n, entered
    cdef const floating *gates
    cdef const floating *h_prev
    cdef const floating *dy_t
    cdef floating *d_gates_t
    # W_hh packed once for the per-step products dh = d_gates W_hh on the
    # engine's tiles, one thread: a BLAS call per step re-packed it every step
    # (a sixth of an LSTM's backward at D=128, H=256, B=32). Only while W_hh
    # fits one core's L2 (1 MiB): a larger one (16 MiB at H=1024) is faster
    # in the BLAS's blocked, threaded products (measured 392-399 against
    # 462-481 ms, LSTM backward at D=512, H=1024, B=64, T=50). Without memory
    # for it, the BLAS products too.
    cdef void *packed_memory = NULL
    cdef floating *packed = NULL
    if (state_mask == NULL and kind != FR_CELL_GRU_BEFORE
            and <Py_ssize_t> GH * H * sizeof(floating) <= 1 << 20):
        packed_memory = malloc(fr_engine_packed_columns_size(floating is double, GH, H)
                               * sizeof(floating) + 64)
        if packed_memory != NULL:
            packed = <floating *> ((<size_t> packed_memory + 63) & ~(<size_t> 63))
            fr_engine_pack_columns(floating is double, w_hh, GH, H, packed)
    entered = _steps_begin(shape.step_threads)
    for t in range(T - 1, -1, -1):
        n = batch_sizes[t]
        if n == 0:
            continue
        gates = all_gates + t * BGH
        h_prev = hs + t * BH
        dy_t = dy + t * BH
        d_gates_t = d_gates + t * BGH
        if state_mask != NULL:
            _masked_backward_step(kind, n, H, w_hh, peep, gates, hs, cs, t, BH,
                                  recurrent + t * recurrent_stride if recurrent != NULL
                                  else NULL, arrays[MASKED_HS] + t * BH,
                                  state_mask, dy_t, dh, dc, d_gates_t,
                                  d_recurrent + t * BGH if d_recurrent != NULL else NULL,
                                  d_reset_hidden, arrays[D_MASKED], arrays[GRAD_PEEP], clip,
                                  scratch)
        elif kind == FR_CELL_LSTM:
            lstm_backward(n, H, gates, peep, cs + t * BH, cs + (t + 1) * BH, dy_t, dh, dc,
                          d_gates_t, arrays[GRAD_PEEP], clip)
            _times_w_hh(packed, n, GH, H, w_hh, d_gates_t, False, dh, scratch)
        elif kind == FR_CELL_GRU:
            gru_backward(n, H, gates, recurrent + t * recurrent_stride, h_prev, dy_t, dh,
                         d_gates_t, d_recurrent + t * BGH, clip)
            _times_w_hh(packed, n, GH, H, w_hh, d_recurrent + t * BGH, True, dh, scratch)
        elif kind == FR_CELL_GRU_BEFORE:
            gru_reset_before_backward_state(n, H, gates, h_prev, dy_t, dh, d_gates_t, clip)
            rows_times(n, H, H, w_hh + 2 * H * H, d_gates_t + 2 * H, GH, <floating> 0,
                       d_reset_hidden, scratch)
            gru_reset_before_backward_gates(n, H, gates, h_prev, d_reset_hidden, dh,
                                            d_gates_t)
            rows_times(n, 2 * H, H, w_hh, d_gates_t, GH, <floating> 1, dh, scratch)
        else:
            rnn_backward(kind == FR_CELL_RNN_RELU, n, H, h_prev + BH, dy_t, dh, d_gates_t,
                         clip)
            _times_w_hh(packed, n, GH, H, w_hh, d_gates_t, False, dh, scratch)
    _steps_end(entered)
    free(packed_memory)

    # All T steps at once. The gradient rows of ended sequences are zero.
    gemm(True, False, GH, D, TB, <floating> 1, d_gates, GH, arrays[X], D, <floating> 1,
         arrays[GRAD_W_IH], D)
    if kind == FR_CELL_GRU_BEFORE:
        gemm(True, False, 2 * H, H, TB, <floating> 1, d_gates, GH, product_hs, H, <floating> 1,
             arrays[GRAD_W_HH], H)
        gemm(True, False, H, H, TB, <floating> 1, d_gates + 2 * H, GH, reset_hidden, H,
             <floating> 1, arrays[GRAD_W_HH] + 2 * H * H, H)
    elif kind == FR_CELL_GRU:
        gemm(True, False, GH, H, TB, <floating> 1, d_recurrent, GH, product_hs, H,
             <floating> 1, arrays[GRAD_W_HH], H)
        gemv(True, TB, GH, <floating> 1, d_recurrent, GH, arrays[ONES], <floating> 0,
             arrays[GRAD_BIAS_H])
    else:
        gemm(True, False, GH, H, TB, <floating> 1, d_gates, GH, product_hs, H, <floating> 1,
             arrays[GRAD_W_HH], H)
    gemv(True, TB, GH, <floating> 1, d_gates, GH, arrays[ONES], <floating> 0,
         arrays[GRAD_BIAS_X])
    gemm(False, False, TB, D, GH, <floating> 1, d_gates, GH, arrays[W_IH], D, <floating> 0,
         arrays[DX], D)


# ------------------------------------------------------ Python entry points
cdef inline floating *_data_of(const floating[::1] a) noexcept:
    """Data pointer of a flat view, NULL when it is empty (an unused array).
    The sweeps write only through the pointers of their OUT, INOUT and WORK
    arrays, which the callers pass writeable."""
    return <floating *> &a[0] if a.shape[0] > 0 else NULL


cdef int _point_at(SweepShape *s, floating **arrays, int kind, tuple shape,
                   const int[::1] batch_sizes, const floating[::1] x,
                   const floating[::1] w_ih, const floating[::1] w_hh,
                   const floating[::1] peep, tuple buffers, double clip,
                   int step_threads) except -1:
    """Fill s (OUT) and arrays (OUT) with what both passes share: the sizes,
    x, the weights and the forward's buffers; the other arrays are NULL."""
    cdef floating[::1] gates, hs, cs, recurrent, reset_hidden, state_mask, masked_hs
    gates, hs, cs, recurrent, recurrent_stride, reset_hidden, state_mask, masked_hs = buffers
    s.kind = kind
    s.steps = batch_sizes.shape[0]
    s.batch, s.inputs, s.hidden = shape
    s.batch_sizes = &batch_sizes[0] if s.steps > 0 else NULL
    s.recurrent_stride = recurrent_stride
    s.clip = clip
    s.step_threads = step_threads
    s.threads = 0
    s.bias_per_row = False
    s.ring = 0
    memset(arrays, 0, SWEEP_ARRAY_COUNT * sizeof(floating *))
    arrays[X] = _data_of(x)
    arrays[W_IH] = _data_of(w_ih)
    arrays[W_HH] = _data_of(w_hh)
    arrays[PEEP] = _data_of(peep)
    arrays[GATES] = _data_of(gates)
    arrays[HS] = _data_of(hs)
    arrays[CS] = _data_of(cs)
    arrays[RECURRENT] = _data_of(recurrent)
    arrays[RESET_HIDDEN] = _data_of(reset_hidden)
    arrays[STATE_MASK] = _data_of(state_mask)
    arrays[MASKED_HS] = _data_of(masked_hs)
    return 0


def cell_forward(int kind, tuple shape, const int[::1] batch_sizes, const floating[::1] x,
                 tuple weights, tuple buffers, int step_threads=0, int threads=1,
                 Py_ssize_t ring=0):
    """Run one direction of one layer over a sequence. All arrays are flat
    views of C-contiguous arrays of one dtype, checked by the caller
    (fastrnn/layers/base.py); an empty array stands for one the cell does not
    use.

    Parameters
    ----------
    kind : RNN_TANH, RNN_RELU, LSTM, GRU or GRU_BEFORE
    shape : (B, D, H), batch, input and hidden sizes.
    batch_sizes : IN (T,) int32, rows running at each step, non-increasing.
    x : IN (T, B, D).
    weights : IN (w_ih (G*H, D), w_hh (G*H, H), bias_x (G*H,) the biases
        summed into the gates before the sweep, or (B, G*H) one such row per
        sequence (a bias plus a context term constant over the sequence,
        Goodfellow et al. (2016), sec. 10.2.3), b_hn (H,) GRU: the bias of
        the recurrent n block, peep (3H,) LSTM: peephole weights).
    buffers : (gates, hs, cs, recurrent, recurrent_stride, reset_hidden,
        state_mask, masked_hs), the forward state `cell_backward` reads again:
        gates OUT (T, B, G*H) the gate activations; hs INOUT (T+1, B, H),
        hs[0] = h_0 on entry, hs[t+1] = h_t on exit; cs INOUT, LSTM: the
        same for the cell state; recurrent OUT, GRU: the recurrent products,
        recurrent_stride (int) apart between steps (B*3H keeps every step, 0
        reuses one); reset_hidden OUT (T, B, H), GRU_BEFORE: r_t h_{t-1};
        state_mask IN (B, H) or empty: recurrent dropout's mask (Gal &
        Ghahramani 2016), which multiplies h_{t-1} where it enters the
        recurrent products at every step (the BLAS loop then runs, whatever
        ``threads`` asks); masked_hs OUT (T, B, H) with a mask: those masked
        states, zero in the rows of ended sequences on entry.
    step_threads : BLAS threads for the per-step products of the BLAS loop
        (0: as set).
    threads : threads of the engine's step loop (results are the same for
        any number), or 0 for the BLAS loop (a product per step).
    ring : 0, or (inference, the engine only) the steps that gates and
        reset_hidden hold, ``project_steps(...)`` for the same call; step t
        in slot t % ring; cs then holds two slots (2, B, H), c_t in slot
        t % 2: nothing is kept for `cell_backward`.

    Returns
    -------
    int : the threads the engine's step loop ran on (fewer than asked when
        fastrnn's team is busy with another call), 0 for the BLAS loop, -1
        when a ring was asked for and the engine had no memory for its packed
        weights (nothing computed).
    """
    cdef const floating[::1] w_ih, w_hh, bias_x, b_hn, peep
    w_ih, w_hh, bias_x, b_hn, peep = weights
    cdef SweepShape s
    cdef floating *arrays[SWEEP_ARRAY_COUNT]
    cdef unsigned int fpstate
    cdef int used
    _point_at(&s, arrays, kind, shape, batch_sizes, x, w_ih, w_hh, peep, buffers, 0.0,
              step_threads)
    if s.steps == 0 or s.batch == 0:
        return 0
    arrays[BIAS_X] = _data_of(bias_x)
    arrays[B_HN] = _data_of(b_hn)
    # The engine's step loop has no mask: a masked sweep takes the BLAS loop.
    s.threads = 0 if arrays[STATE_MASK] != NULL else min(max(threads, 0), FR_TEAM_MAX)
    s.bias_per_row = s.batch > 1 and bias_x.shape[0] != gate_count(kind) * s.hidden
    if ring > 0 and s.threads == 0:
        raise ValueError("a ring of gate rows needs the engine (threads >= 1, no state mask)")
    s.ring = ring
    with nogil:
        # NULL (no memory, or a batch of one) falls back to the direct GEMM.
        if s.batch > 1 and s.threads == 0:
            arrays[SCRATCH] = <floating *> malloc(
                <Py_ssize_t> s.batch * gate_count(kind) * s.hidden * sizeof(floating))
        fpstate = fr_fp_enter()
        used = _forward_sweep(&s, arrays)
        fr_fp_leave(fpstate)
        free(arrays[SCRATCH])
    return used


def cell_backward(int kind, tuple shape, const int[::1] batch_sizes, const floating[::1] x,
                  tuple weights, tuple buffers, tuple gradients, tuple param_grads,
                  const floating[::1] ones, double clip=0.0, int step_threads=0):
    """Back-propagation through time for `cell_forward`.

    Parameters
    ----------
    kind, shape, batch_sizes, x, step_threads : as for `cell_forward`.
    weights : IN (w_ih, w_hh, peep).
    buffers : IN, the forward's ``buffers`` as `cell_forward` left them.
    gradients : (dy, dh, dc, d_gates, d_recurrent, d_reset_hidden, dx):
        dy IN (T, B, H) dL/dy_t; dh, dc INOUT (B, H), dL/dh_T and (LSTM)
        dL/dc_T on entry, dL/dh_0 and dL/dc_0 on exit; d_gates WORK
        (T, B, G*H) and d_recurrent WORK, GRU: the same shape, zero on entry
        when rows end early; d_reset_hidden WORK (B, H), GRU_BEFORE; dx OUT
        (T, B, D).
    param_grads : (grad_w_ih, grad_w_hh, grad_bias_x, grad_bias_h, grad_peep):
        grad_w_ih, grad_w_hh and (LSTM) grad_peep INOUT, accumulated;
        grad_bias_x and (GRU) grad_bias_h OUT (G*H,), the bias gradients of the
        input and of the recurrent side.
    ones : IN (T*B,) ones.
    clip : > 0 clips dL/dh_t element-wise to [-clip, clip] at every step
        (Goodfellow et al. (2016), sec. 10.11.1).
    """
    cdef const floating[::1] w_ih, w_hh, peep, dy
    cdef floating[::1] dh, dc, d_gates, d_recurrent, d_reset_hidden, dx
    cdef floating[::1] grad_w_ih, grad_w_hh, grad_bias_x, grad_bias_h, grad_peep
    w_ih, w_hh, peep = weights
    dy, dh, dc, d_gates, d_recurrent, d_reset_hidden, dx = gradients
    grad_w_ih, grad_w_hh, grad_bias_x, grad_bias_h, grad_peep = param_grads
    cdef SweepShape s
    cdef floating *arrays[SWEEP_ARRAY_COUNT]
    cdef unsigned int fpstate
    _point_at(&s, arrays, kind, shape, batch_sizes, x, w_ih, w_hh, peep, buffers, clip,
              step_threads)
    if s.steps == 0 or s.batch == 0:
        return
    arrays[DY] = _data_of(dy)
    arrays[DH] = _data_of(dh)
    arrays[DC] = _data_of(dc)
    arrays[D_GATES] = _data_of(d_gates)
    arrays[D_RECURRENT] = _data_of(d_recurrent)
    arrays[D_RESET_HIDDEN] = _data_of(d_reset_hidden)
    arrays[DX] = _data_of(dx)
    arrays[GRAD_W_IH] = _data_of(grad_w_ih)
    arrays[GRAD_W_HH] = _data_of(grad_w_hh)
    arrays[GRAD_BIAS_X] = _data_of(grad_bias_x)
    arrays[GRAD_BIAS_H] = _data_of(grad_bias_h)
    arrays[GRAD_PEEP] = _data_of(grad_peep)
    arrays[ONES] = _data_of(ones)
    with nogil:
        if s.batch > 1:
            arrays[SCRATCH] = <floating *> malloc(<Py_ssize_t> s.batch * s.hidden
                                                  * sizeof(floating))
        if arrays[STATE_MASK] != NULL:
            arrays[D_MASKED] = <floating *> malloc(<Py_ssize_t> s.batch * s.hidden
                                                   * sizeof(floating))
            if arrays[D_MASKED] == NULL:
                with gil:
                    free(arrays[SCRATCH])
                    raise MemoryError("cell_backward: no memory for a (B, H) buffer")
        fpstate = fr_fp_enter()
        _backward_sweep(&s, arrays)
        fr_fp_leave(fpstate)
        free(arrays[SCRATCH])
        free(arrays[D_MASKED])


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
    """One time step through L stacked layers (see StepPlan.run). x (B, D),
    h_in and c_in (L, B, H): IN; h_out, c_out (L, B, H): OUT; scratch: WORK,
    B * (2 G*H + H) zeroed values of the caller's own, reused by each layer
    in turn (the gate buffer, the GRU's recurrent buffer and r h)."""
    cdef int GH = gate_count(kind) * H
    cdef Py_ssize_t BH = <Py_ssize_t> B * H
    cdef int l, b, inputs
    cdef const floating *layer_input
    cdef const floating *b_ih
    cdef const floating *b_hh
    cdef floating *gates = scratch
    cdef floating *recurrent = scratch + <Py_ssize_t> B * GH
    cdef floating *reset_hidden = recurrent + <Py_ssize_t> B * GH
    # The GRU (reset after) keeps b_hn out of the gates: it is added to the
    # recurrent product, inside the reset gate.
    cdef int summed_biases = 2 * H if kind == FR_CELL_GRU else GH
    for l in range(L):
        layer_input = x if l == 0 else h_out + (l - 1) * BH
        inputs = D if l == 0 else H
        b_ih = <const floating *> ptrs[l, P_BIH]
        b_hh = <const floating *> ptrs[l, P_BHH]
        for b in range(B):
            if b_ih != NULL:
                memcpy(gates + b * GH, b_ih, GH * sizeof(floating))
                add_into(gates + b * GH, b_hh, summed_biases)
            else:
                memset(gates + b * GH, 0, GH * sizeof(floating))
        _step_product(B, GH, inputs, <const floating *> ptrs[l, P_WIH], layer_input,
                      <floating> 1, gates, GH, <floating *> NULL)
        _forward_step(kind, B, H, <const floating *> ptrs[l, P_WHH],
                      <const floating *> ptrs[l, P_BHN], <const floating *> ptrs[l, P_PEEP],
                      gates, recurrent, h_in + l * BH, h_in + l * BH, h_out + l * BH,
                      c_in + l * BH if c_in != NULL else NULL,
                      c_out + l * BH if c_out != NULL else NULL, reset_hidden,
                      <floating *> NULL)


cdef inline void *_data(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray> a)


cdef inline bint _is_ready(object a, int typenum, int ndim) noexcept:
    """a is an ndarray of the dtype and ndim, C-contiguous and aligned (the
    fast path; the slow path's conversion makes any other array so)."""
    if not cnp.PyArray_Check(a):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray> a
    return (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_NDIM(arr) == ndim
            and cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr))


# A streaming step of at most this many multiply-adds runs with the GIL held
# (see StepPlan._compute), and its scratch, if it fits, on the stack (values
# of 8 bytes).
cdef enum:
    _HOLD_GIL_WORK = 1 << 17
    _STACK_SCRATCH = 2048


cdef class StepPlan:
    """Pointers to the parameters of a unidirectional stack of layers, so
    that `step` advances one time step with no allocation beyond its outputs
    and a scratch block, and with the checks done in C.

    The plan is read-only once built: each call takes scratch buffers of
    its own (on its stack for a small step, else one zeroed block freed on
    return), so one plan serves any number of threads at once. It keeps a reference to every
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
    cdef Py_ssize_t work          # multiply-adds of a step
    cdef bint all_small           # every product in the small kernel (B = 1)
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
        GH = gate_count(kind) * H
        self.scratch_len = <Py_ssize_t> B * (2 * GH + H)
        self.work = <Py_ssize_t> B * GH * (D + H + (self.L - 1) * 2 * H)
        self.all_small = B == 1 and <long> GH * max(D, H) <= SMALL_DOT_PRODUCTS
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
        return self._advance(params, x, h, c, False)

    def stream(self, params, x, hx):
        """`step` for the layer's own streaming call: ``hx`` as the layer
        takes it (the pair (h, c) for the LSTM, h for the others, or None),
        and the result as the layer returns it, (y, (h, c)) or (y, h); None
        when the call needs the slow path (an argument not in the fast-path
        form, a state that is not a pair, or a plan that no longer matches
        ``params``), which checks everything and says what is wrong."""
        cdef object h = hx, c = None
        if self.has_cell and hx is not None:
            if PyTuple_CheckExact(hx) and PyTuple_GET_SIZE(hx) == 2:
                h = <object> PyTuple_GET_ITEM(hx, 0)
                c = <object> PyTuple_GET_ITEM(hx, 1)
            elif PyList_CheckExact(hx) and PyList_GET_SIZE(hx) == 2:
                h = <object> PyList_GET_ITEM(hx, 0)
                c = <object> PyList_GET_ITEM(hx, 1)
            else:
                return None
        return self._advance(params, x, h, c, True)

    cdef object _advance(self, object params, object x, object h, object c, bint layered):
        """One step after the fast path's checks: x, h, c must be ndarrays
        of the plan's dtype, C-contiguous and aligned, of the plan's shapes (h, c None
        for zeros), and ``params`` must still hold the plan's arrays; else
        None. The result: (y, h_out, c_out), or with ``layered`` the
        layer's (y, (h_out, c_out)) or (y, h_out). The outputs are new
        arrays (y a view into h_out, as forward's hx_n is apart from y)."""
        cdef int nd_x, nd_s
        cdef cnp.npy_intp dims[3]
        cdef cnp.ndarray ax, h_out, c_out = None
        cdef object y
        if not cnp.PyArray_Check(x):
            return None
        ax = <cnp.ndarray> x
        nd_x = cnp.PyArray_NDIM(ax)
        if (nd_x < 1 or nd_x > 2 or cnp.PyArray_TYPE(ax) != self.typenum
                or not cnp.PyArray_IS_C_CONTIGUOUS(ax) or not cnp.PyArray_ISALIGNED(ax)
                or cnp.PyArray_DIM(ax, nd_x - 1) != self.D
                or (1 if nd_x == 1 else cnp.PyArray_DIM(ax, 0)) != self.B):
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
        if self.has_cell:
            if c is None:
                c = cnp.PyArray_ZEROS(nd_s, dims, self.typenum, 0)
            elif not (_is_ready(c, self.typenum, nd_s) and _same_dims(c, dims, nd_s)):
                return None
            c_out = cnp.PyArray_EMPTY(nd_s, dims, self.typenum, 0)
        else:
            c = None
        h_out = cnp.PyArray_EMPTY(nd_s, dims, self.typenum, 0)
        self._compute(x, h, c, h_out, c_out)
        y = PySequence_GetItem(h_out, self.L - 1)
        if not layered:
            return y, h_out, c_out
        if self.has_cell:
            return y, (h_out, c_out)
        return y, h_out

    cpdef run(self, x, h_in, c_in, h_out, c_out):
        """h_out (L, B, H) [and c_out] <- one step from x (B, D) and h_in
        [c_in]. Arrays are C-contiguous, of the plan's dtype and shapes
        (checked by the caller); c_in/c_out are None except for the LSTM."""
        self._compute(x, h_in, c_in, h_out, c_out)

    cdef int _compute(self, object x, object h_in, object c_in, object h_out,
                      object c_out) except -1:
        # A small step (a few microseconds at most) keeps the GIL: releasing
        # and taking it back would cost a tenth of the step, and no other
        # Python thread could do much in the time. Its scratch is on the
        # stack, and needs no zeroing when every product is the small
        # kernel's (which writes what it is given with beta = 0, where a BLAS
        # may read it).
        cdef void *px = _data(x)
        cdef void *phi = _data(h_in)
        cdef void *pci = _data(c_in)
        cdef void *pho = _data(h_out)
        cdef void *pco = _data(c_out)
        cdef double stack_scratch[_STACK_SCRATCH]
        cdef void *scratch
        if self.B == 0:
            return 0   # nothing to compute, and calloc(0) may return NULL
        if self.work <= _HOLD_GIL_WORK and self.scratch_len <= _STACK_SCRATCH:
            if not self.all_small:
                memset(stack_scratch, 0, self.scratch_len * (8 if self.is_double else 4))
            self._layers(stack_scratch, px, phi, pci, pho, pco)
            return 0
        with nogil:
            scratch = calloc(self.scratch_len, 8 if self.is_double else 4)
            if scratch != NULL:
                self._layers(scratch, px, phi, pci, pho, pco)
                free(scratch)
        if scratch == NULL:
            raise MemoryError("step: no memory for the scratch buffers")
        return 0

    cdef void _layers(self, void *scratch, void *px, void *phi, void *pci, void *pho,
                      void *pco) noexcept nogil:
        cdef unsigned int fpstate = fr_fp_enter()
        cdef int entered = _steps_begin(self.step_threads)
        if self.is_double:
            _stream_layers(<double *> scratch, self.kind, self.L, self.B, self.D, self.H,
                           self.ptrs, <double *> px, <double *> phi, <double *> pci,
                           <double *> pho, <double *> pco)
        else:
            _stream_layers(<float *> scratch, self.kind, self.L, self.B, self.D, self.H,
                           self.ptrs, <float *> px, <float *> phi, <float *> pci,
                           <float *> pho, <float *> pco)
        _steps_end(entered)
        fr_fp_leave(fpstate)


cdef inline bint _same_dims(object a, cnp.npy_intp *dims, int nd) noexcept:
    cdef cnp.ndarray arr = <cnp.ndarray> a
    cdef int i
    for i in range(nd):
        if cnp.PyArray_DIM(arr, i) != dims[i]:
            return False
    return True
