# cython: language_level=3
"""Loops of the recursive network (Goodfellow et al. (2016), sec. 10.6,
fig. 10.15; Socher et al. (2011)): checking and levelling a forest of binary
trees, the forward pass up the trees and backpropagation through structure
down them, for a whole batch of trees in one call without the GIL.

A forest is N nodes in consecutive blocks, one per tree, each node with two
children (indices within its own tree) or none (-1, -1): a leaf. Every node
is given a height (0 for a leaf, one more than its higher child), and the
nodes are put in *positions* ordered by height (then by node index), so
that all the nodes of one height, across all trees, are a contiguous block
whose children are all in lower blocks: one GEMM composes a whole block.

Arguments are marked IN (read), OUT (written), INOUT (both) and WORK.
"""
import numpy as np
from cython cimport floating
from libc.string cimport memcpy

from fastrnn._core.blas cimport gemm
from fastrnn._core.kernels cimport (
    FR_ACT_TANH, add_into, fr_fp_enter, fr_fp_leave, rnn_activation_backward,
    rnn_activation_forward,
)
from fastrnn.layers._loops cimport input_side_gradients, project_inputs

# What `level_forest` found wrong (the Python side words the message).
cdef enum:
    _OK             # nothing
    _OUT_OF_RANGE   # children[node, column] is neither -1 nor a node of its tree
    _ONE_CHILD      # exactly one of children[node] is -1
    _TWO_PARENTS    # node is a child twice (of two nodes, or twice of one)
    _NO_ROOT        # every node of the tree is some node's child: a cycle
    _TWO_ROOTS      # node is a second node without a parent in its tree
    _CYCLE          # node lies on a cycle (unreachable from the root)

OK, OUT_OF_RANGE, ONE_CHILD, TWO_PARENTS = _OK, _OUT_OF_RANGE, _ONE_CHILD, _TWO_PARENTS
NO_ROOT, TWO_ROOTS, CYCLE = _NO_ROOT, _TWO_ROOTS, _CYCLE


def level_forest(const Py_ssize_t[:, ::1] children, const Py_ssize_t[::1] offsets,
                 Py_ssize_t[::1] height, Py_ssize_t[::1] roots, Py_ssize_t[::1] parent,
                 Py_ssize_t[::1] pending, Py_ssize_t[::1] queue):
    """Check every tree of the forest and give every node its height.

    Parameters
    ----------
    children : (N, 2), IN
        Each node's children, as indices within its own tree, or (-1, -1).
    offsets : (n_trees + 1,), IN
        Tree k is nodes offsets[k] .. offsets[k + 1] - 1 (each tree non-empty).
    height : (N,), OUT
    roots : (n_trees,), OUT
        Each tree's root, as a node index of the forest.
    parent, pending, queue : (N,), WORK

    Returns
    -------
    (code, tree, node, column) : the first problem found (code OK: none);
        node is an index within the tree.
    """
    cdef Py_ssize_t n_trees = offsets.shape[0] - 1
    cdef Py_ssize_t k, s, n, i, c, j, child, u, p, head, tail, root
    cdef int code = _OK
    cdef Py_ssize_t bad_node = -1, bad_column = -1, bad_tree = -1
    with nogil:
        for k in range(n_trees):
            s = offsets[k]
            n = offsets[k + 1] - s
            for i in range(n):
                parent[s + i] = -1
                height[s + i] = 0
            for i in range(n):
                if (children[s + i, 0] == -1) != (children[s + i, 1] == -1):
                    code, bad_node = _ONE_CHILD, i
                    break
                for c in range(2):
                    child = children[s + i, c]
                    if child == -1:
                        continue
                    if child < 0 or child >= n:
                        code, bad_node, bad_column = _OUT_OF_RANGE, i, c
                        break
                    if parent[s + child] != -1:
                        code, bad_node = _TWO_PARENTS, child
                        break
                    parent[s + child] = i
                if code != _OK:
                    break
            if code == _OK:
                root = -1
                for i in range(n):
                    if parent[s + i] == -1:
                        if root != -1:
                            code, bad_node = _TWO_ROOTS, i
                            break
                        root = i
                if code == _OK and root == -1:
                    code = _NO_ROOT
            if code != _OK:
                bad_tree = k
                break
            roots[k] = s + root
            # Kahn's order from the leaves up: a node is ready once both of
            # its children are; the nodes never ready lie on a cycle.
            head = tail = 0
            for i in range(n):
                pending[s + i] = 0 if children[s + i, 0] == -1 else 2
                if pending[s + i] == 0:
                    queue[tail] = i
                    tail += 1
            while head < tail:
                u = queue[head]
                head += 1
                p = parent[s + u]
                if p == -1:
                    continue
                if height[s + p] < height[s + u] + 1:
                    height[s + p] = height[s + u] + 1
                pending[s + p] -= 1
                if pending[s + p] == 0:
                    queue[tail] = p
                    tail += 1
            if tail < n:
                for i in range(n):
                    if pending[s + i] > 0:
                        code, bad_node, bad_tree = _CYCLE, i, k
                        break
                break
    return code, bad_tree, bad_node, bad_column


cdef void _gather_pairs(Py_ssize_t start, Py_ssize_t stop, Py_ssize_t n_leaves, int H,
                        const Py_ssize_t *left, const Py_ssize_t *right, const floating *h,
                        floating *pair) noexcept nogil:
    """pair[j] = [h[left[j]]; h[right[j]]] for the internal positions
    j + n_leaves in [start, stop)."""
    cdef Py_ssize_t i, j
    for i in range(start, stop):
        j = i - n_leaves
        memcpy(pair + j * 2 * H, h + left[j] * H, H * sizeof(floating))
        memcpy(pair + j * 2 * H + H, h + right[j] * H, H * sizeof(floating))


def recursive_forward(tuple weights, const Py_ssize_t[::1] tokens, const floating[:, ::1] x,
                      const Py_ssize_t[::1] left, const Py_ssize_t[::1] right,
                      const Py_ssize_t[::1] level_ptr, const Py_ssize_t[::1] readout,
                      floating[:, ::1] h, floating[:, ::1] pair, floating[:, ::1] read,
                      floating[:, ::1] out):
    """Up the trees: the leaves, then each height's nodes as one GEMM, then
    the output layer on the nodes read out.

    Parameters
    ----------
    weights : tuple of arrays, IN
        (embedding (V, H) or (0, 0), w_leaf (H, D) or (0, 0), b_leaf (H,)
        or (0,), w (H, 2H), b (H,), w_out (O, H) or (0, 0), b_out (O,) or
        (0,)): token leaves read the embedding, vector leaves
        tanh(w_leaf x + b_leaf); without an output layer ``out`` is unused.
    tokens : (n_leaves,) or (0,), IN
        The leaves' token ids, in position order (checked in range).
    x : (n_leaves, D) or (0, 0), IN
        The leaves' vectors, in position order.
    left, right : (N - n_leaves,), IN
        The children's positions of each internal position.
    level_ptr : (levels + 1,), IN
        Positions level_ptr[l] .. level_ptr[l + 1] - 1 have height l;
        level_ptr[1] = n_leaves.
    readout : (R,), IN
        The positions the output layer reads, in output order.
    h : (N, H), OUT
        Every node's representation, in position order.
    pair : (N - n_leaves, 2H), OUT
        [h_left; h_right] of every internal position (kept for backward).
    read : (R, H), OUT
        h of the nodes read out.
    out : (R, O) or (0, 0), OUT
        The output layer's values.
    """
    cdef const floating[:, ::1] embedding = weights[0]
    cdef const floating[:, ::1] w_leaf = weights[1]
    cdef const floating[::1] b_leaf = weights[2]
    cdef const floating[:, ::1] w = weights[3]
    cdef const floating[::1] b = weights[4]
    cdef const floating[:, ::1] w_out = weights[5]
    cdef const floating[::1] b_out = weights[6]
    cdef int H = h.shape[1], D = x.shape[1], O = w_out.shape[0]
    cdef Py_ssize_t N = h.shape[0], R = readout.shape[0]
    cdef Py_ssize_t n_leaves = level_ptr[1] if level_ptr.shape[0] > 1 else N
    cdef Py_ssize_t levels = level_ptr.shape[0] - 1
    cdef Py_ssize_t i, l, start, stop
    cdef unsigned int fpstate
    if N == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        if tokens.shape[0] > 0:
            for i in range(n_leaves):
                memcpy(&h[i, 0], &embedding[tokens[i], 0], H * sizeof(floating))
        else:
            project_inputs(<int> n_leaves, D, H, &x[0, 0], &w_leaf[0, 0], &b_leaf[0], &h[0, 0])
            rnn_activation_forward(FR_ACT_TANH, &h[0, 0], n_leaves * H)
        for l in range(1, levels):
            start, stop = level_ptr[l], level_ptr[l + 1]
            _gather_pairs(start, stop, n_leaves, H, &left[0], &right[0], &h[0, 0],
                          &pair[0, 0])
            project_inputs(<int> (stop - start), 2 * H, H, &pair[start - n_leaves, 0], &w[0, 0],
                           &b[0], &h[start, 0])
            rnn_activation_forward(FR_ACT_TANH, &h[start, 0], (stop - start) * H)
        for i in range(R):
            memcpy(&read[i, 0], &h[readout[i], 0], H * sizeof(floating))
        if O > 0 and R > 0:
            project_inputs(<int> R, H, O, &read[0, 0], &w_out[0, 0], &b_out[0], &out[0, 0])
        fr_fp_leave(fpstate)


def recursive_backward(tuple weights, tuple saved, const Py_ssize_t[::1] left,
                       const Py_ssize_t[::1] right, const Py_ssize_t[::1] level_ptr,
                       const Py_ssize_t[::1] readout, const floating[:, ::1] dout,
                       floating[:, ::1] dread, floating[:, ::1] dh, floating[:, ::1] dpair,
                       floating[:, ::1] dx, tuple param_grads, const floating[::1] ones):
    """Backpropagation through structure (Goller & Kuechler 1996), down the
    trees from the output layer: each height's nodes as one GEMM, the
    composition's weight gradient one GEMM over all internal nodes.

    Parameters
    ----------
    weights : tuple of arrays, IN
        As for `recursive_forward`.
    saved : tuple of arrays, IN
        (tokens, x, h, pair, read) of the forward.
    left, right, level_ptr, readout : IN
        As for `recursive_forward`.
    dout : (R, O), IN
        dL/d(out); without an output layer, (R, H): dL/d(read).
    dread : (R, H), WORK
    dh : (N, H), WORK, zero on entry
        dL/dh of every position, then the pre-activation gradients.
    dpair : (largest level, 2H), WORK
    dx : (n_leaves, D) or (0, 0), OUT
        The vector leaves' gradients.
    param_grads : tuple of arrays, INOUT (accumulated into)
        (g_embedding, g_w_leaf, g_b_leaf, g_w, g_b, g_w_out, g_b_out),
        shaped as the weights.
    ones : (at least max(N, R),), IN
    """
    cdef const floating[:, ::1] w_leaf = weights[1]
    cdef const floating[:, ::1] w = weights[3]
    cdef const floating[:, ::1] w_out = weights[5]
    cdef const Py_ssize_t[::1] tokens = saved[0]
    cdef const floating[:, ::1] x = saved[1]
    cdef const floating[:, ::1] h = saved[2]
    cdef const floating[:, ::1] pair = saved[3]
    cdef const floating[:, ::1] read = saved[4]
    cdef floating[:, ::1] g_embedding = param_grads[0]
    cdef floating[:, ::1] g_w_leaf = param_grads[1]
    cdef floating[::1] g_b_leaf = param_grads[2]
    cdef floating[:, ::1] g_w = param_grads[3]
    cdef floating[::1] g_b = param_grads[4]
    cdef floating[:, ::1] g_w_out = param_grads[5]
    cdef floating[::1] g_b_out = param_grads[6]
    cdef int H = h.shape[1], D = x.shape[1], O = w_out.shape[0]
    cdef Py_ssize_t N = h.shape[0], R = readout.shape[0]
    cdef Py_ssize_t n_leaves = level_ptr[1] if level_ptr.shape[0] > 1 else N
    cdef Py_ssize_t levels = level_ptr.shape[0] - 1
    cdef Py_ssize_t i, j, l, start, stop, n
    cdef const floating *d_read
    cdef unsigned int fpstate
    if N == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        if O > 0:
            if R > 0:
                gemm(True, False, O, H, <int> R, <floating> 1, &dout[0, 0], O, &read[0, 0], H,
                     <floating> 1, &g_w_out[0, 0], H)
                gemm(True, False, 1, O, <int> R, <floating> 1, &ones[0], 1, &dout[0, 0], O,
                     <floating> 1, &g_b_out[0], O)
                gemm(False, False, <int> R, H, O, <floating> 1, &dout[0, 0], O, &w_out[0, 0], H,
                     <floating> 0, &dread[0, 0], H)
            d_read = &dread[0, 0]
        else:
            d_read = &dout[0, 0]
        for i in range(R):
            add_into(&dh[readout[i], 0], d_read + i * H, H)
        for l in range(levels - 1, 0, -1):
            start, stop = level_ptr[l], level_ptr[l + 1]
            n = stop - start
            rnn_activation_backward(FR_ACT_TANH, &dh[start, 0], &h[start, 0], n * H,
                                    <floating> 0)
            gemm(False, False, <int> n, 2 * H, H, <floating> 1, &dh[start, 0], H, &w[0, 0],
                 2 * H, <floating> 0, &dpair[0, 0], 2 * H)
            for i in range(n):
                j = start + i - n_leaves
                add_into(&dh[left[j], 0], &dpair[i, 0], H)
                add_into(&dh[right[j], 0], &dpair[i, H], H)
        if N > n_leaves:
            gemm(True, False, H, 2 * H, <int> (N - n_leaves), <floating> 1, &dh[n_leaves, 0],
                 H, &pair[0, 0], 2 * H, <floating> 1, &g_w[0, 0], 2 * H)
            gemm(True, False, 1, H, <int> (N - n_leaves), <floating> 1, &ones[0], 1,
                 &dh[n_leaves, 0], H, <floating> 1, &g_b[0], H)
        if tokens.shape[0] > 0:
            # serial: two leaves may carry the same token
            for i in range(n_leaves):
                add_into(&g_embedding[tokens[i], 0], &dh[i, 0], H)
        else:
            rnn_activation_backward(FR_ACT_TANH, &dh[0, 0], &h[0, 0], n_leaves * H,
                                    <floating> 0)
            input_side_gradients(<int> n_leaves, D, H, &dh[0, 0], &x[0, 0], &w_leaf[0, 0],
                                 &ones[0], &g_w_leaf[0, 0], &g_b_leaf[0], &dx[0, 0])
        fr_fp_leave(fpstate)
