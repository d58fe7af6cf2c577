# cython: language_level=3
"""The free-running decoding loop of fastrnn/models/decode.py (Goodfellow et
al. (2016), sec. 10.2.2): embedding -> recurrent cell layers -> [readout] ->
output layer -> the next token, for a whole batch and every step in one call
without the GIL.

A step for the n rows still running:
    1. x (n, E) <- the embedding rows of the rows' last tokens;
    2. per cell layer: gates <- bias [+ the row's constant input term, first
       layer only] + x W_ih^T, then `_forward_step` of
       fastrnn/layers/_recurrent.pyx (the recurrent product and the fused
       cell kernel, exactly as the layers' `step`); its h is the next
       layer's x;
    3. optionally, a readout called with the GIL (an attention read) maps
       the top states to the output layer's features;
    4. logits (n, V) <- features W_out^T + b_out;
    5. the choice of the next token (greedy, sampled, or the beam's
       selection), the rows that end leave, and the states of the rows that
       go on are gathered by their parent row (`_gather_rows`) before the
       next step.
Rows are kept grouped by batch row and in batch order, so a beam's
hypotheses are one contiguous block of rows.

Arguments are marked IN, OUT, INOUT and WORK as in _recurrent.pyx.
"""
from cython cimport floating
from libc.math cimport exp, log, INFINITY
from libc.string cimport memcpy
import numpy as np

from fastrnn._core.kernels cimport fr_fp_enter, fr_fp_leave, fill_rows, add_into
from fastrnn._core.matmul cimport rows_times_transposed
from fastrnn.layers._recurrent cimport _forward_step, _steps_begin, _steps_end

cdef enum:
    GREEDY, SAMPLE, BEAM

#: The methods' codes for `run`.
METHODS = {"greedy": GREEDY, "sample": SAMPLE, "beam": BEAM}

# Columns of the cell table, one row per cell layer (a num_layers=3 LSTM is
# three rows): addresses of its parameters and of its two state buffers
# (the current one and the one the next step writes), each (N, H).
cdef enum:
    CELL_W_IH, CELL_W_HH, CELL_BIAS, CELL_B_HN, CELL_PEEP, CELL_H, CELL_H_NEXT, CELL_C, \
        CELL_C_NEXT, CELL_POINTERS
# Columns of the cell shape table.
cdef enum:
    SHAPE_KIND, SHAPE_INPUTS, SHAPE_HIDDEN, SHAPE_WIDTH, SHAPE_COLUMNS


cdef struct Candidate:
    double score
    int row
    Py_ssize_t token


cdef inline void _keep_best(Candidate *best, int k, int *count, double score, int row,
                            Py_ssize_t token) noexcept nogil:
    """Insert (score, row, token) into best (INOUT, sorted by decreasing
    score, *count <= k entries) if it ranks among the k best. Candidates
    arrive in increasing (row, token) order and only a strictly higher score
    moves ahead, so ties rank by the lower row, then the lower token id."""
    cdef int i
    if count[0] == k and not (score > best[k - 1].score):
        return
    i = count[0] if count[0] < k else k - 1
    while i > 0 and score > best[i - 1].score:
        best[i] = best[i - 1]
        i -= 1
    best[i].score, best[i].row, best[i].token = score, row, token
    if count[0] < k:
        count[0] += 1


cdef inline Py_ssize_t _argmax(const floating *logits, Py_ssize_t V) noexcept nogil:
    """The first index of the largest value (ties to the lowest token id)."""
    cdef Py_ssize_t v, best = 0
    for v in range(1, V):
        if logits[v] > logits[best]:
            best = v
    return best


cdef inline Py_ssize_t _draw(const floating *logits, Py_ssize_t V, double temperature, double u,
                       double *weights) noexcept nogil:
    """The token whose cumulative share of softmax(logits / temperature)
    first exceeds u in [0, 1) (inverse-CDF sampling, exact up to rounding):
    weights (V, WORK) hold exp((l_v - max) / temperature), summed in order."""
    cdef Py_ssize_t v, last = 0
    cdef double top = logits[_argmax(logits, V)]
    cdef double total = 0, running = 0, target
    for v in range(V):
        weights[v] = exp((<double> logits[v] - top) / temperature)
        total += weights[v]
    target = u * total
    for v in range(V):
        running += weights[v]
        if weights[v] > 0:
            last = v
        if running > target:
            return v
    return last   # only when rounding left the target at the total


cdef inline double _log_normaliser(const floating *logits, Py_ssize_t V, double *top) noexcept nogil:
    """log sum exp(l_v - max) over the row, the row's max in *top, so that
    log softmax(l)_v = (l_v - max) - the result."""
    cdef Py_ssize_t v
    cdef double total = 0
    top[0] = logits[_argmax(logits, V)]
    for v in range(V):
        total += exp(<double> logits[v] - top[0])
    return log(total)


cdef void _gather_rows(char *dst, const char *src, const int *parent, int n,
                       size_t width) noexcept nogil:
    """dst row j (OUT) <- src row parent[j] (IN), rows of width bytes."""
    cdef int j
    for j in range(n):
        memcpy(dst + j * width, src + parent[j] * width, width)


cdef int _readout(object readout, const floating *h_top, int n, int H, const int *owner,
                  floating *features, int F, bint is_double) except -1 with gil:
    """features (n, F; OUT) <- readout(h_top (n, H) copy, batch rows (n,)),
    the result checked for its shape."""
    dtype = np.float64 if is_double else np.float32
    h = np.empty((n, H), dtype=dtype)
    rows = np.empty(n, dtype=np.intp)
    cdef floating[:, ::1] h_view = h
    cdef Py_ssize_t[::1] rows_view = rows
    cdef int j
    if n > 0:
        memcpy(&h_view[0, 0], h_top, <Py_ssize_t> n * H * sizeof(floating))
    for j in range(n):
        rows_view[j] = owner[j]
    out = np.ascontiguousarray(readout(h, rows), dtype=dtype)
    if out.shape != (n, F):
        raise ValueError(f"readout must return an array of shape ({n}, {F}) (rows, the "
                         f"output layer's in_features), got {out.shape}")
    cdef const floating[:, ::1] out_view = out
    if n > 0:
        memcpy(features, &out_view[0, 0], <Py_ssize_t> n * F * sizeof(floating))
    return 0


cdef inline void _swap(Py_ssize_t[:, ::1] cells, int l, int a, int b) noexcept nogil:
    cdef Py_ssize_t kept = cells[l, a]
    cells[l, a] = cells[l, b]
    cells[l, b] = kept


cdef void _step_cells(int n, const int *owner, const floating *x, int n_cells,
                      Py_ssize_t[:, ::1] cells, const int[:, ::1] shapes,
                      const floating *input_term, floating *gates, floating *recurrent,
                      floating *reset_hidden) noexcept nogil:
    """One step of every cell layer for n rows from x (n x D of the first
    layer, IN); each layer's new state becomes its current one (CELL_H and
    CELL_H_NEXT swap, CELL_C and CELL_C_NEXT too). input_term (B x G*H of
    the first layer, IN) or NULL: added to row j's gates as owner[j]'s row."""
    cdef int l, j, kind, D, H, GH
    cdef const floating *layer_input = x
    for l in range(n_cells):
        kind, D = shapes[l, SHAPE_KIND], shapes[l, SHAPE_INPUTS]
        H, GH = shapes[l, SHAPE_HIDDEN], shapes[l, SHAPE_WIDTH]
        fill_rows(gates, <const floating *> cells[l, CELL_BIAS], n, GH)
        if l == 0 and input_term != NULL:
            for j in range(n):
                add_into(gates + <Py_ssize_t> j * GH, input_term + <Py_ssize_t> owner[j] * GH, GH)
        rows_times_transposed(n, GH, D, <const floating *> cells[l, CELL_W_IH], layer_input,
                              <floating> 1, gates, GH, <floating *> NULL)
        # The products read h_{t-1} itself: generation is inference, where
        # recurrent dropout puts no mask on the state.
        _forward_step(kind, n, H, <const floating *> cells[l, CELL_W_HH],
                      <const floating *> cells[l, CELL_B_HN],
                      <const floating *> cells[l, CELL_PEEP], gates, recurrent,
                      <const floating *> cells[l, CELL_H], <const floating *> cells[l, CELL_H],
                      <floating *> cells[l, CELL_H_NEXT],
                      <const floating *> cells[l, CELL_C], <floating *> cells[l, CELL_C_NEXT],
                      reset_hidden, <floating *> NULL)
        _swap(cells, l, CELL_H, CELL_H_NEXT)
        _swap(cells, l, CELL_C, CELL_C_NEXT)
        layer_input = <const floating *> cells[l, CELL_H]


cdef void _reorder_states(int n, const int *parent, int n_cells, Py_ssize_t[:, ::1] cells,
                          const int[:, ::1] shapes, size_t itemsize) noexcept nogil:
    """Row j of every state (h, and c of an LSTM) <- row parent[j]: gathered
    into the spare buffer, which then becomes the current one."""
    cdef int l
    cdef size_t width
    for l in range(n_cells):
        width = shapes[l, SHAPE_HIDDEN] * itemsize
        _gather_rows(<char *> cells[l, CELL_H_NEXT], <const char *> cells[l, CELL_H],
                     parent, n, width)
        _swap(cells, l, CELL_H, CELL_H_NEXT)
        if cells[l, CELL_C] != 0:
            _gather_rows(<char *> cells[l, CELL_C_NEXT], <const char *> cells[l, CELL_C],
                         parent, n, width)
            _swap(cells, l, CELL_C, CELL_C_NEXT)


cdef struct Rows:
    # The rows still running at a step, grouped by batch row in batch order.
    int *owner              # (N,) the batch row of each row
    Py_ssize_t *token       # (N,) its last token
    double *score           # (N,) beam: its summed log-probability
    int *parent             # (N,) the row of the previous step it continues


cdef struct Finished:
    # Per batch row, the best finished hypothesis of a beam search.
    int *step               # (B,) the step of its last token, -1 for none yet
    int *row                # (B,) the row (of that step) it extends
    Py_ssize_t *token       # (B,) its last token (end_token, or one cut at max_length)


cdef int _choose_one(int method, int n, int t, int max_length, Py_ssize_t end_token,
                     double temperature, const floating *logits, Py_ssize_t V,
                     const double *uniforms, double *weights, Rows *rows,
                     Py_ssize_t *tokens, Py_ssize_t *lengths) noexcept nogil:
    """Greedy or sampled next tokens of the n rows, written to tokens (B x
    max_length; OUT) at step t; the rows that did not end move up to the
    front of `rows`. Returns how many go on."""
    cdef int j, b, n_next = 0
    cdef Py_ssize_t v
    for j in range(n):
        b = rows.owner[j]
        if method == GREEDY:
            v = _argmax(logits + <Py_ssize_t> j * V, V)
        else:
            v = _draw(logits + <Py_ssize_t> j * V, V, temperature,
                      uniforms[<Py_ssize_t> b * max_length + t], weights)
        tokens[<Py_ssize_t> b * max_length + t] = v
        lengths[b] = t + 1
        if v != end_token:
            # n_next <= j: the in-place move overwrites only rows already read.
            rows.parent[n_next], rows.owner[n_next], rows.token[n_next] = j, b, v
            n_next += 1
    return n_next


cdef int _choose_beams(int n, int t, int K, int N, int max_length, Py_ssize_t end_token,
                       const floating *logits, Py_ssize_t V, Rows *rows, Rows *next_rows,
                       Finished *finished, double *best_scores, Py_ssize_t *lengths,
                       Candidate *all_best, Candidate *live_best, int *bp_parent,
                       Py_ssize_t *bp_token) noexcept nogil:
    """One step of beam search over the n live hypotheses (rows): per batch
    row, the K best extensions (hypothesis, token) by summed log-probability;
    those among them that end in end_token finish (the best per batch row is
    kept in `finished` and best_scores), the K best that do not go on, into
    next_rows, with their back-pointers at step t (bp_parent, bp_token: N
    per step). A batch row stops when no live hypothesis beats its best
    finished one (scores only fall), and at max_length, where its live
    hypotheses count as finished. Returns how many rows go on."""
    cdef int first = 0, stop, j, i, b, count_all, count_live, n_next = 0
    cdef Py_ssize_t v
    cdef double top, normaliser, best_live, candidate
    cdef const floating *row_logits
    while first < n:
        b = rows.owner[first]
        stop = first
        while stop < n and rows.owner[stop] == b:
            stop += 1
        count_all = count_live = 0
        for j in range(first, stop):
            row_logits = logits + <Py_ssize_t> j * V
            normaliser = _log_normaliser(row_logits, V, &top)
            for v in range(V):
                candidate = rows.score[j] + ((<double> row_logits[v] - top) - normaliser)
                _keep_best(all_best, K, &count_all, candidate, j, v)
                if v != end_token:
                    _keep_best(live_best, K, &count_live, candidate, j, v)
        # A tie with the best finished hypothesis keeps the earlier one.
        for i in range(count_all):
            if all_best[i].token == end_token and all_best[i].score > best_scores[b]:
                _finish(finished, best_scores, lengths, b, t, &all_best[i])
        best_live = live_best[0].score if count_live > 0 else -INFINITY
        if t + 1 == max_length:
            if best_live > best_scores[b]:
                _finish(finished, best_scores, lengths, b, t, &live_best[0])
        elif best_live > best_scores[b]:
            for i in range(count_live):
                next_rows.parent[n_next] = live_best[i].row
                next_rows.owner[n_next] = b
                next_rows.token[n_next] = live_best[i].token
                next_rows.score[n_next] = live_best[i].score
                bp_parent[<Py_ssize_t> t * N + n_next] = live_best[i].row
                bp_token[<Py_ssize_t> t * N + n_next] = live_best[i].token
                n_next += 1
        first = stop
    return n_next


cdef inline void _finish(Finished *finished, double *best_scores, Py_ssize_t *lengths, int b, int t,
                         const Candidate *c) noexcept nogil:
    best_scores[b] = c.score
    finished.step[b], finished.row[b], finished.token[b] = t, c.row, c.token
    lengths[b] = t + 1


cdef void _backtrack(int B, int N, int max_length, const Finished *finished,
                     const int *bp_parent, const Py_ssize_t *bp_token, Py_ssize_t *tokens) noexcept nogil:
    """tokens (B x max_length; OUT) <- each batch row's best finished
    hypothesis, read back through the back-pointers from its last step."""
    cdef int b, s, row, t
    cdef Py_ssize_t *out
    for b in range(B):
        t = finished.step[b]
        if t < 0:
            continue
        out = tokens + <Py_ssize_t> b * max_length
        out[t] = finished.token[b]
        row = finished.row[b]
        for s in range(t - 1, -1, -1):
            out[s] = bp_token[<Py_ssize_t> s * N + row]
            row = bp_parent[<Py_ssize_t> s * N + row]


cdef int _decode(
        int method, int B, int K, int max_length, Py_ssize_t end_token, double temperature,
        const floating *embedding, int E, int n_cells, Py_ssize_t[:, ::1] cells,
        const int[:, ::1] shapes, const floating *input_term, object readout, int F,
        const floating *w_out, const floating *b_out, Py_ssize_t V, const double *uniforms,
        floating *x, floating *gates, floating *recurrent, floating *reset_hidden,
        floating *features, floating *logits, double *weights, Rows *rows, Rows *next_rows,
        Finished *finished, Candidate *all_best, Candidate *live_best, int *bp_parent,
        Py_ssize_t *bp_token, Py_ssize_t *tokens, Py_ssize_t *lengths, double *scores) except -1 nogil:
    """The decoding of a whole batch (see the module docstring). rows: IN,
    its first B rows the batch's start (owner b, start token, score 0);
    cells/shapes: the cell tables, the states IN at rows 0..B-1 of CELL_H
    and CELL_C. embedding (V_in x E), w_out (V x F), b_out (V,),
    input_term (B x G*H of the first cell layer) or NULL, uniforms
    (B x max_length) for SAMPLE: IN. tokens (B x max_length), lengths (B,),
    scores (B,, BEAM): OUT. The rest: WORK, N = B*K rows each."""
    cdef int N = B * K, n = B, n_next, t, j
    cdef int H_top = shapes[n_cells - 1, SHAPE_HIDDEN]
    cdef const floating *top_features
    cdef Rows *spare
    cdef bint moved
    for t in range(max_length):
        for j in range(n):
            memcpy(x + <Py_ssize_t> j * E, embedding + rows.token[j] * E, E * sizeof(floating))
        _step_cells(n, rows.owner, x, n_cells, cells, shapes, input_term, gates, recurrent,
                    reset_hidden)
        top_features = <const floating *> cells[n_cells - 1, CELL_H]
        if readout is not None:
            _readout(readout, top_features, n, H_top, rows.owner, features, F,
                     floating is double)
            top_features = features
        fill_rows(logits, b_out, n, V)
        rows_times_transposed(n, <int> V, F, w_out, top_features, <floating> 1, logits,
                              <int> V, <floating *> NULL)
        if method == BEAM:
            n_next = _choose_beams(n, t, K, N, max_length, end_token, logits, V, rows,
                                   next_rows, finished, scores, lengths, all_best, live_best,
                                   bp_parent, bp_token)
            spare = rows
            rows = next_rows
            next_rows = spare
        else:
            n_next = _choose_one(method, n, t, max_length, end_token, temperature, logits,
                                 V, uniforms, weights, rows, tokens, lengths)
        if n_next == 0 or t + 1 == max_length:
            break
        moved = False
        for j in range(n_next):
            if rows.parent[j] != j:
                moved = True
                break
        if moved:
            _reorder_states(n_next, rows.parent, n_cells, cells, shapes, sizeof(floating))
        n = n_next
    if method == BEAM:
        _backtrack(B, N, max_length, finished, bp_parent, bp_token, tokens)
    return 0


def run(int method, int beam_width, int max_length, Py_ssize_t end_token, double temperature,
        const floating[:, ::1] embedding, Py_ssize_t[:, ::1] cells, const int[:, ::1] shapes,
        const floating[:, ::1] input_term, object readout, const floating[:, ::1] w_out,
        const floating[::1] b_out, const double[:, ::1] uniforms,
        const Py_ssize_t[::1] start_tokens, int step_threads):
    """Decode a batch; returns (tokens (B, max_length) intp, lengths (B,)
    intp, scores (B,) float64: the beam's summed log-probabilities).

    Everything is checked by the caller (fastrnn/models/decode.py): token
    ids, shapes, dtypes, and the cell table (one row per cell layer: the
    addresses of its parameters and of its state buffers, each (B *
    beam_width, H) with the initial state in its first B rows; the buffers
    are swapped in the table as the steps go). method: GREEDY, SAMPLE or
    BEAM; end_token -1 for none; uniforms (B, max_length) for SAMPLE, else
    None; input_term (B, G*H of the first cell layer) or None; readout: None
    or a callable (h_top (n, H), batch rows (n,)) -> (n, F), F the output
    layer's in_features.
    """
    cdef int B = start_tokens.shape[0]
    cdef int K = beam_width if method == BEAM else 1
    cdef int N = B * K, E = embedding.shape[1], F = w_out.shape[1], n_cells = shapes.shape[0]
    cdef Py_ssize_t V = w_out.shape[0]
    cdef int b
    dtype = np.float64 if floating is double else np.float32
    widest_gates = int(np.max(shapes[:, SHAPE_WIDTH]))
    widest_state = int(np.max(shapes[:, SHAPE_HIDDEN]))
    cdef floating[:, ::1] x = np.empty((N, E), dtype)
    # Zeroed: the GRU's recurrent buffer is written by products with beta =
    # 0, which a BLAS may compute as 0 * (what was there).
    cdef floating[:, ::1] gates = np.zeros((N, widest_gates), dtype)
    cdef floating[:, ::1] recurrent = np.zeros((N, widest_gates), dtype)
    cdef floating[:, ::1] reset_hidden = np.zeros((N, widest_state), dtype)
    cdef floating[:, ::1] features = np.zeros((N if readout is not None else 1, F), dtype)
    cdef floating[:, ::1] logits = np.empty((N, V), dtype)
    cdef double[::1] weights = np.empty(V, np.float64)
    cdef int[:, ::1] ints = np.zeros((6, N), np.intc)
    cdef Py_ssize_t[:, ::1] ids = np.zeros((3, N), np.intp)
    cdef double[:, ::1] row_scores = np.zeros((2, N), np.float64)
    cdef int[:, ::1] bp_parent = np.zeros((max_length if method == BEAM else 1, N), np.intc)
    cdef Py_ssize_t[:, ::1] bp_token = np.zeros((max_length if method == BEAM else 1, N),
                                                np.intp)
    cdef Candidate[::1] candidates = np.zeros(
        2 * K, np.dtype([("score", np.float64), ("row", np.intc), ("token", np.intp)],
                        align=True))
    tokens_array = np.full((B, max_length), -1, np.intp)
    lengths_array = np.zeros(B, np.intp)
    scores_array = np.full(B, -np.inf, np.float64)
    cdef Py_ssize_t[:, ::1] tokens = tokens_array
    cdef Py_ssize_t[::1] lengths = lengths_array
    cdef double[::1] scores = scores_array
    cdef Rows rows, next_rows
    cdef Finished finished
    cdef unsigned int fpstate
    cdef int entered
    cdef const floating *p_input_term = NULL
    cdef const double *p_uniforms = NULL
    if input_term is not None:
        p_input_term = &input_term[0, 0]
    if uniforms is not None:
        p_uniforms = &uniforms[0, 0]
    rows.owner, rows.parent, rows.token, rows.score = &ints[0, 0], &ints[1, 0], &ids[0, 0], \
        &row_scores[0, 0]
    next_rows.owner, next_rows.parent, next_rows.token, next_rows.score = \
        &ints[2, 0], &ints[3, 0], &ids[1, 0], &row_scores[1, 0]
    finished.step, finished.row, finished.token = &ints[4, 0], &ints[5, 0], &ids[2, 0]
    for b in range(B):
        rows.owner[b], rows.token[b], finished.step[b] = b, start_tokens[b], -1
    with nogil:
        fpstate = fr_fp_enter()
        entered = _steps_begin(step_threads)
        try:
            _decode(method, B, K, max_length, end_token, temperature, &embedding[0, 0], E,
                    n_cells, cells, shapes, p_input_term, readout, F, &w_out[0, 0],
                    &b_out[0], V, p_uniforms, &x[0, 0], &gates[0, 0], &recurrent[0, 0],
                    &reset_hidden[0, 0], &features[0, 0], &logits[0, 0], &weights[0],
                    &rows, &next_rows, &finished, &candidates[0], &candidates[K],
                    &bp_parent[0, 0], &bp_token[0, 0], &tokens[0, 0], &lengths[0],
                    &scores[0])
        finally:
            _steps_end(entered)
            fr_fp_leave(fpstate)
    return tokens_array, lengths_array, scores_array
