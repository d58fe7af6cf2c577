# cython: language_level=3
"""The hot loops of `fastrnn.Attention` (fastrnn/models/attention.py): the
additive score of every (decoder step, source position) pair with its
gradient, and the softmax over each row's valid source positions with its
gradient. The products around them (the projections, the context sum
alpha H, the output layer) are BLAS matrix products made in Python, one per
call.

Layout: batch-major, C-contiguous. B sequences, T decoder steps (queries),
S source positions (keys), A the attention size. ``lengths[b]`` (1..S)
source positions of row b are valid; scores and weights past it are not
read, and written as 0.

Arguments are marked IN (read), OUT (written, not read), INOUT (read and
written).
"""
from cython cimport floating
from libc.math cimport exp
from libc.stdlib cimport malloc, free

from fastrnn._core.blas cimport dot
from fastrnn._core.kernels cimport (
    FR_ACT_TANH, fr_fp_enter, fr_fp_leave, rnn_activation_forward, rnn_activation_backward,
)


cdef inline void _tanh_of_sum(const floating *q, const floating *k, int A,
                              floating *out) noexcept nogil:
    """out (A, OUT) = tanh(q + k)."""
    cdef int a
    for a in range(A):
        out[a] = q[a] + k[a]
    rnn_activation_forward(FR_ACT_TANH, out, A)


def additive_scores(const floating[:, :, ::1] q, const floating[:, :, ::1] k,
                    const floating[::1] v, const Py_ssize_t[::1] lengths,
                    floating[:, :, ::1] scores):
    """scores[b, t, i] = v . tanh(q[b, t] + k[b, i]) (Bahdanau et al. (2015))
    for i < lengths[b], 0 beyond.

    q : IN (B, T, A), the projected queries W_q s_t.
    k : IN (B, S, A), the projected keys W_k h_i.
    v : IN (A,).
    lengths : IN (B,), in [1, S].
    scores : OUT (B, T, S).
    """
    cdef Py_ssize_t B = q.shape[0], T = q.shape[1], S = k.shape[1]
    cdef int A = <int> q.shape[2]
    cdef Py_ssize_t b, t, i
    cdef floating *work
    cdef unsigned int fpstate
    if B == 0 or T == 0 or S == 0:
        return
    with nogil:
        work = <floating *> malloc(max(A, 1) * sizeof(floating))
        if work != NULL:
            fpstate = fr_fp_enter()
            for b in range(B):
                for t in range(T):
                    for i in range(S):
                        if i < lengths[b]:
                            _tanh_of_sum(&q[b, t, 0], &k[b, i, 0], A, work)
                            scores[b, t, i] = dot(A, &v[0], work)
                        else:
                            scores[b, t, i] = 0
            fr_fp_leave(fpstate)
            free(work)
    if work == NULL:
        raise MemoryError("additive_scores: no memory for a work row")


def additive_scores_backward(const floating[:, :, ::1] q, const floating[:, :, ::1] k,
                             const floating[::1] v, const Py_ssize_t[::1] lengths,
                             const floating[:, :, ::1] d_scores, floating[:, :, ::1] dq,
                             floating[:, :, ::1] dk, floating[::1] dv):
    """The gradients of `additive_scores` from dL/dscores, the tanh
    recomputed (cheaper than keeping B*T*S*A values).

    q, k, v, lengths : IN, as for `additive_scores`.
    d_scores : IN (B, T, S), read for i < lengths[b] only.
    dq : OUT (B, T, A); dk : OUT (B, S, A); dv : INOUT (A,), accumulates.
    """
    cdef Py_ssize_t B = q.shape[0], T = q.shape[1], S = k.shape[1]
    cdef int A = <int> q.shape[2]
    cdef Py_ssize_t b, t, i
    cdef int a
    cdef floating g
    cdef floating *work
    cdef floating *grad
    cdef unsigned int fpstate
    dq[...] = 0
    dk[...] = 0
    if B == 0 or T == 0 or S == 0:
        return
    with nogil:
        work = <floating *> malloc(2 * max(A, 1) * sizeof(floating))
        if work != NULL:
            grad = work + A
            fpstate = fr_fp_enter()
            for b in range(B):
                for t in range(T):
                    for i in range(lengths[b]):
                        g = d_scores[b, t, i]
                        _tanh_of_sum(&q[b, t, 0], &k[b, i, 0], A, work)
                        for a in range(A):
                            dv[a] += g * work[a]
                            grad[a] = g * v[a]
                        rnn_activation_backward(FR_ACT_TANH, grad, work, A, <floating> 0)
                        for a in range(A):
                            dq[b, t, a] += grad[a]
                            dk[b, i, a] += grad[a]
            fr_fp_leave(fpstate)
            free(work)
    if work == NULL:
        raise MemoryError("additive_scores_backward: no memory for work rows")


def masked_softmax(const floating[:, :, ::1] scores, const Py_ssize_t[::1] lengths,
                   floating[:, :, ::1] weights):
    """weights[b, t, :lengths[b]] = softmax(scores[b, t, :lengths[b]]), 0
    beyond (Luong et al. (2015), eq. 7).

    scores : IN (B, T, S); lengths : IN (B,), in [1, S]; weights : OUT.
    """
    cdef Py_ssize_t B = scores.shape[0], T = scores.shape[1], S = scores.shape[2]
    cdef Py_ssize_t b, t, i, n
    cdef double top, total, e
    with nogil:
        for b in range(B):
            n = lengths[b]
            for t in range(T):
                top = scores[b, t, 0]
                for i in range(1, n):
                    if scores[b, t, i] > top:
                        top = scores[b, t, i]
                total = 0
                for i in range(n):
                    e = exp(scores[b, t, i] - top)
                    weights[b, t, i] = <floating> e
                    total += e
                for i in range(n):
                    weights[b, t, i] = <floating> (weights[b, t, i] / total)
                for i in range(n, S):
                    weights[b, t, i] = 0


def masked_softmax_backward(const floating[:, :, ::1] weights,
                            const floating[:, :, ::1] d_weights,
                            const Py_ssize_t[::1] lengths, floating[:, :, ::1] d_scores):
    """dL/dscores of `masked_softmax`: alpha_i (dalpha_i - sum_j alpha_j
    dalpha_j) over the valid positions, 0 beyond.

    weights, d_weights : IN (B, T, S); lengths : IN (B,); d_scores : OUT.
    """
    cdef Py_ssize_t B = weights.shape[0], T = weights.shape[1], S = weights.shape[2]
    cdef Py_ssize_t b, t, i, n
    cdef double inner
    with nogil:
        for b in range(B):
            n = lengths[b]
            for t in range(T):
                inner = 0
                for i in range(n):
                    inner += weights[b, t, i] * d_weights[b, t, i]
                for i in range(n):
                    d_scores[b, t, i] = <floating> (weights[b, t, i] * (d_weights[b, t, i] - inner))
                for i in range(n, S):
                    d_scores[b, t, i] = 0
