"""Recursive networks over binary trees (Goodfellow et al. (2016), sec. 10.6,
fig. 10.15; Socher et al. (2011), "Parsing natural scenes and natural
language with recursive neural networks"; Pollack (1990)).

Every node of a tree has a representation h (H values). A leaf's is read
from its input: the row of an embedding matrix for a token id, or
tanh(W_leaf x + b_leaf) for an input vector. An internal node's is composed
from its two children's with weights shared by every node of every tree,

    h = tanh(W [h_left; h_right] + b),         W of shape (H, 2H),

and an output layer o = W_out h + b_out reads the root of each tree (or every
node). The tree depth plays the role the sequence length plays for a
recurrent net, but a balanced tree of n leaves is only log2(n) compositions
deep (Goodfellow et al. (2016), sec. 10.6).

Trees are binary: every node has two children or none. (A k-ary node can be
binarised by the caller, as parsers do; one composition matrix per arity
would not share its weights across arities.) A batch of trees
(`TreeBatch`) is levelled once: its nodes are sorted by height across all
trees, so that each height's nodes, of every tree, are composed by one GEMM,
and backpropagation through structure (Goller & Kuechler 1996) goes down the
heights the same way; the loops are in ``fastrnn/models/_recursive.pyx``.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn.layers.base import C_INT_MAX, ParameterOwner, check_parameter_memory, check_size
from fastrnn.models import _recursive
from fastrnn._core.validation import (
    NotFittedError, SeedLike, as_float_array, check_choice, check_dtype, check_random_state,
)
from fastrnn.io import format as io_format

TreesLike = Union["TreeBatch", ArrayLike, Sequence[ArrayLike]]


def _int_array(value, name, ndim):
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.intp)
        else:
            raise TypeError(f"{name} must be an array of integers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    return arr


class TreeBatch:
    """A batch of binary trees, checked and levelled once, to be passed to
    `RecursiveNet.forward` as often as wanted.

    Parameters
    ----------
    children : array_like of int, (N, 2), or a list of such arrays (one per tree)
        Each node's left and right child, as indices of nodes of its own tree
        (0 .. n_k - 1), or (-1, -1) for a leaf. The nodes of the trees are
        concatenated in tree order.
    tree_sizes : array_like of int, (n_trees,), optional
        Nodes per tree, when ``children`` is one concatenated array of
        several trees (default: one tree, or the list's lengths).

    Raises
    ------
    ValueError
        Naming the tree and node, for an index out of range, a node with
        one child, a node that is the child of two nodes (or twice of one),
        a tree with several roots, or a cycle.

    Attributes
    ----------
    n_trees, n_nodes, n_leaves : int
    tree_sizes : ndarray (n_trees,)
    roots : ndarray (n_trees,)
        Each tree's root, as an index of the concatenated nodes.
    height : ndarray (n_nodes,)
        0 for a leaf, else one more than the higher child.
    leaves : ndarray (n_leaves,)
        The leaves' node indices in increasing order: the order in which
        `RecursiveNet.forward` takes the leaves' inputs.
    level_ptr, left, right, node_positions, root_positions, largest_level
        The levelled order the loops read: the nodes sorted by height (then
        index) are *positions*; positions ``level_ptr[l] .. level_ptr[l + 1]
        - 1`` have height l; ``left``/``right`` give the children's positions
        of each internal position; ``node_positions[i]`` is node i's.
    """

    def __init__(self, children: Union[ArrayLike, Sequence[ArrayLike]],
                 tree_sizes: Optional[ArrayLike] = None) -> None:
        if isinstance(children, (list, tuple)):
            if tree_sizes is not None:
                raise ValueError("tree_sizes is given by the list of trees; pass one "
                                 "concatenated children array to give it")
            parts = [_int_array(c, f"children[{k}]", 2) for k, c in enumerate(children)]
            tree_sizes = [len(p) for p in parts]
            children = (np.concatenate(parts) if parts else np.empty((0, 2), np.intp))
        children = _int_array(children, "children", 2)
        if children.shape[1:] != (2,):
            raise ValueError(f"children must have shape (n_nodes, 2) (binary trees: a left "
                             f"and a right child, -1 for none), got {children.shape}")
        N = children.shape[0]
        if tree_sizes is None:
            sizes = np.array([N] if N else [], dtype=np.intp)
        else:
            sizes = _int_array(tree_sizes, "tree_sizes", 1).astype(np.intp)
            if sizes.size and sizes.min() < 1:
                raise ValueError("tree_sizes must be >= 1 (every tree has a node)")
            if sizes.sum() != N:
                raise ValueError(f"tree_sizes must sum to the number of nodes, {N}, "
                                 f"got {int(sizes.sum())}")
        if N == 0:
            raise ValueError("children holds no node: a batch needs at least one tree")
        if N > C_INT_MAX:
            raise ValueError(f"children holds {N} nodes; at most {C_INT_MAX} fit in one batch "
                             f"(the kernels count rows in C ints)")
        children = np.ascontiguousarray(children, dtype=np.intp)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        height = np.empty(N, np.intp)
        roots = np.empty(len(sizes), np.intp)
        work = [np.empty(N, np.intp) for _ in range(3)]
        code, tree, node, column = _recursive.level_forest(children, offsets, height, roots,
                                                           *work)
        if code != _recursive.OK:
            raise ValueError(self._problem(code, tree, node, column, children, offsets, sizes))
        self.n_trees, self.n_nodes = len(sizes), N
        self.tree_sizes, self.roots, self.height = sizes, roots, height
        # positions: the nodes by height, then by index (a stable sort)
        order = np.argsort(height, kind="stable")
        position = np.empty(N, np.intp)
        position[order] = np.arange(N)
        self.level_ptr = np.searchsorted(height[order], np.arange(height.max() + 2)
                                         ).astype(np.intp)
        self.n_leaves = int(self.level_ptr[1])
        self.leaves = order[: self.n_leaves]
        internal = order[self.n_leaves:]
        global_children = children[internal] + offsets[:-1][
            np.searchsorted(offsets, internal, side="right") - 1][:, None]
        self.left = np.ascontiguousarray(position[global_children[:, 0]])
        self.right = np.ascontiguousarray(position[global_children[:, 1]])
        self.root_positions = np.ascontiguousarray(position[roots])
        self.node_positions = position
        self.largest_level = int(np.diff(self.level_ptr).max())

    #: The message of each problem `_recursive.level_forest` reports.
    _PROBLEMS = {
        _recursive.OUT_OF_RANGE: "children[{row}, {column}] = {value} is out of range: a child "
                                 "is -1 or a node of {where}, in [0, {size})",
        _recursive.ONE_CHILD: "children[{row}] = {pair}: node {node} of {where} has one child; "
                              "nodes of a binary tree have two children or none (-1, -1)",
        _recursive.TWO_PARENTS: "children: node {node} of {where} is a child of two nodes (or "
                                "twice of one); each node has one parent",
        _recursive.TWO_ROOTS: "children: {where} has several roots (node {node} is a second "
                              "node that is no node's child); pass each tree's size in "
                              "tree_sizes",
        _recursive.NO_ROOT: "children: {where} has no root (every node is a child): a cycle",
        _recursive.CYCLE: "children: node {node} of {where} lies on a cycle",
    }

    @classmethod
    def _problem(cls, code, tree, node, column, children, offsets, sizes):
        where = (f"tree {tree} (nodes {offsets[tree]} .. {offsets[tree + 1] - 1})"
                 if len(sizes) > 1 else "the tree")
        row = offsets[tree] + node
        return cls._PROBLEMS[code].format(
            row=row, column=column, node=node, where=where, size=sizes[tree],
            value=children[row, column] if column >= 0 else None,
            pair=children[row].tolist() if node >= 0 else None)

    def __repr__(self) -> str:
        return (f"TreeBatch(n_trees={self.n_trees}, n_nodes={self.n_nodes}, "
                f"n_leaves={self.n_leaves}, max_height={len(self.level_ptr) - 2})")


class _TreeSweep:
    __slots__ = ("trees", "tokens", "x", "h", "pair", "read")

    def __init__(self, **arrays):
        for k, v in arrays.items():
            setattr(self, k, v)


class RecursiveNet(ParameterOwner):
    """A recursive network with one composition shared by every node of
    every tree (Goodfellow et al. (2016), sec. 10.6; Socher et al. (2011)).

    Parameters
    ----------
    hidden_size : int
        H, the size of every node's representation.
    output_size : int or None
        O, the output layer's size; None: the representations themselves
        are the output.
    num_embeddings : int, optional
        Token leaves: the vocabulary size V of the embedding matrix.
    input_size : int, optional
        Vector leaves: their size D. Exactly one of ``num_embeddings`` and
        ``input_size`` is given.
    outputs : {"root", "nodes"}
        Read out each tree's root (one row per tree, in tree order), or
        every node (one row per node, in the concatenated node order).
    dtype : numpy.float32 or numpy.float64
    seed : None, int or numpy.random.Generator
        The embedding drawn N(0, 1) (as PyTorch's), every weight and bias
        uniform in +-1/sqrt(fan_in).

    Attributes
    ----------
    params, grads : dict of ndarray
        ``embedding`` (V, H), or ``weight_leaf`` (H, D) and ``bias_leaf``
        (H,); ``weight`` (H, 2H), acting on [h_left; h_right]; ``bias``
        (H,); with an output layer, ``weight_out`` (O, H) and ``bias_out``
        (O,).
    """

    _config_names = ("hidden_size", "output_size", "num_embeddings", "input_size", "outputs",
                     "dtype")

    def __init__(self, hidden_size: int, output_size: Optional[int] = None, *,
                 num_embeddings: Optional[int] = None, input_size: Optional[int] = None,
                 outputs: str = "root", dtype: DTypeLike = np.float32,
                 seed: SeedLike = None) -> None:
        self.hidden_size = H = check_size(hidden_size, "hidden_size")
        self.output_size = None if output_size is None else check_size(output_size,
                                                                        "output_size")
        if (num_embeddings is None) == (input_size is None):
            raise ValueError("give exactly one of num_embeddings (token leaves) and "
                             "input_size (vector leaves)")
        self.num_embeddings = (None if num_embeddings is None
                               else check_size(num_embeddings, "num_embeddings"))
        self.input_size = None if input_size is None else check_size(input_size, "input_size")
        self.outputs = check_choice(outputs, "outputs", ("root", "nodes"))
        self.dtype = check_dtype(dtype)
        O = self.output_size or 0
        leaf = (self.num_embeddings or 0) * H + ((self.input_size or 0) + 1) * H
        check_parameter_memory(leaf + 2 * H * H + H + O * (H + 1), 6, self.dtype.itemsize,
                               repr(self))
        rng = check_random_state(seed)
        params = {}
        if self.num_embeddings is not None:
            params["embedding"] = rng.standard_normal((self.num_embeddings, H))
        else:
            k = 1 / np.sqrt(self.input_size)
            params["weight_leaf"] = rng.uniform(-k, k, (H, self.input_size))
            params["bias_leaf"] = rng.uniform(-k, k, H)
        k = 1 / np.sqrt(2 * H)
        params["weight"] = rng.uniform(-k, k, (H, 2 * H))
        params["bias"] = rng.uniform(-k, k, H)
        if self.output_size is not None:
            k = 1 / np.sqrt(H)
            params["weight_out"] = rng.uniform(-k, k, (self.output_size, H))
            params["bias_out"] = rng.uniform(-k, k, self.output_size)
        self._init_params(params)
        self._cache = None
        self._empty = np.empty((0, 0), self.dtype)

    # ---------------------------------------------------------- inputs
    def _trees(self, trees):
        return trees if isinstance(trees, TreeBatch) else TreeBatch(trees)

    def _leaf_inputs(self, leaves, trees):
        """(tokens, x) in position order: one of them empty."""
        nl = trees.n_leaves
        per_leaf_ndim = 1 if self.num_embeddings is not None else 2
        if (isinstance(leaves, (list, tuple)) and leaves
                and all(isinstance(p, np.ndarray) and p.ndim == per_leaf_ndim for p in leaves)):
            leaves = np.concatenate(leaves)   # one array per tree
        if self.num_embeddings is not None:
            tokens = _int_array(leaves, "leaves", 1)
            if tokens.shape != (nl,):
                raise ValueError(f"leaves must hold one token id per leaf of the trees, "
                                 f"({nl},), got shape {tokens.shape}")
            if nl and (tokens.min() < 0 or tokens.max() >= self.num_embeddings):
                bad = tokens[(tokens < 0) | (tokens >= self.num_embeddings)][0]
                raise ValueError(f"leaves holds the token id {bad}, out of range "
                                 f"[0, {self.num_embeddings}) (num_embeddings)")
            return np.ascontiguousarray(tokens, dtype=np.intp), self._empty
        x = as_float_array(leaves, "leaves", self.dtype, shape=(nl, self.input_size))
        return np.empty(0, np.intp), np.ascontiguousarray(x)

    def _weights(self):
        p, e = self.params, self._empty
        e1 = np.empty(0, self.dtype)
        return (p.get("embedding", e), p.get("weight_leaf", e), p.get("bias_leaf", e1),
                p["weight"], p["bias"], p.get("weight_out", e), p.get("bias_out", e1))

    # ---------------------------------------------------------- passes
    def forward(self, trees: TreesLike, leaves: ArrayLike) -> np.ndarray:
        """The trees' outputs.

        Parameters
        ----------
        trees : TreeBatch, or what `TreeBatch` takes (an (N, 2) children
            array of one tree, or a list of them)
        leaves : the leaves' inputs, in increasing node order (tree by
            tree): token ids (n_leaves,) or vectors (n_leaves, D); a list of
            per-tree arrays is concatenated.

        Returns
        -------
        ndarray, (n_trees, O) (or (n_nodes, O) with ``outputs="nodes"``;
        H columns without an output layer).
        """
        trees = self._trees(trees)
        self._check_arrays()
        tokens, x = self._leaf_inputs(leaves, trees)
        readout = trees.root_positions if self.outputs == "root" else trees.node_positions
        H, dt = self.hidden_size, self.dtype
        h = np.empty((trees.n_nodes, H), dt)
        pair = np.empty((trees.n_nodes - trees.n_leaves, 2 * H), dt)
        read = np.empty((len(readout), H), dt)
        out = (np.empty((len(readout), self.output_size), dt) if self.output_size
               else self._empty)
        _recursive.recursive_forward(self._weights(), tokens, x, trees.left, trees.right,
                                     trees.level_ptr, readout, h, pair, read, out)
        self._cache = _TreeSweep(trees=trees, tokens=tokens, x=x, h=h, pair=pair, read=read)
        return out.copy() if self.output_size else read.copy()

    def backward(self, dy: ArrayLike) -> Optional[np.ndarray]:
        """Backpropagation through structure for the last ``forward``; the
        parameter gradients are added into ``grads``.

        Parameters
        ----------
        dy : array_like, shaped as the output of ``forward``

        Returns
        -------
        The gradient of the vector leaves (n_leaves, D), or None for token
        leaves (whose gradient is ``grads["embedding"]``).
        """
        sweep = self._cache
        if sweep is None:
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        self._check_arrays(grads=True)
        trees = sweep.trees
        R = len(sweep.read)
        width = self.output_size or self.hidden_size
        dy = np.ascontiguousarray(as_float_array(dy, "dy", self.dtype, shape=(R, width)))
        H, dt = self.hidden_size, self.dtype
        readout = trees.root_positions if self.outputs == "root" else trees.node_positions
        dx = (np.empty((trees.n_leaves, self.input_size), dt) if self.input_size
              else self._empty)
        g = self.grads
        e, e1 = self._empty, np.empty(0, dt)
        grads = (g.get("embedding", e), g.get("weight_leaf", e), g.get("bias_leaf", e1),
                 g["weight"], g["bias"], g.get("weight_out", e), g.get("bias_out", e1))
        ones = np.ones(max(trees.n_nodes, R), dt)
        _recursive.recursive_backward(
            self._weights(), (sweep.tokens, sweep.x, sweep.h, sweep.pair, sweep.read),
            trees.left, trees.right, trees.level_ptr, readout, dy, np.empty((R, H), dt),
            np.zeros((trees.n_nodes, H), dt), np.empty((trees.largest_level, 2 * H), dt), dx,
            grads, ones)
        return dx if self.input_size else None

    __call__ = forward

    def representations(self) -> np.ndarray:
        """Every node's h in the last ``forward``, (n_nodes, H), in the
        concatenated node order."""
        if self._cache is None:
            raise NotFittedError("call forward first")
        return self._cache.h[self._cache.trees.node_positions]

    def __repr__(self) -> str:
        leaves = (f"num_embeddings={self.num_embeddings}" if self.num_embeddings
                  else f"input_size={self.input_size}")
        return (f"RecursiveNet({self.hidden_size}, {self.output_size}, {leaves}, "
                f"outputs={self.outputs!r}, dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    def _save_config(self) -> dict[str, Any]:
        return io_format.attributes_config(self, self._config_names)

    def _save_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.params)

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> RecursiveNet:
        H = io_format.config_int(config, "hidden_size")
        shapes = {"weight": (H, 2 * H), "bias": (H,)}
        if config.get("num_embeddings") is not None:
            shapes["embedding"] = (io_format.config_int(config, "num_embeddings"), H)
        if config.get("input_size") is not None:
            D = io_format.config_int(config, "input_size")
            shapes.update(weight_leaf=(H, D), bias_leaf=(H,))
        if config.get("output_size") is not None:
            O = io_format.config_int(config, "output_size")
            shapes.update(weight_out=(O, H), bias_out=(O,))
        return io_format.build_with_params(cls, config, arrays, shapes)


io_format.register("RecursiveNet", RecursiveNet)
