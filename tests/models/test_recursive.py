"""RecursiveNet: one composition shared over binary trees (Goodfellow et al.
(2016), sec. 10.6; Socher et al. 2011), batched over a forest."""
import numpy as np
import pytest

import fastrnn
from fastrnn.models.recursive import RecursiveNet, TreeBatch
from gradcheck import assert_gradients_match, rel_error


def random_tree(rng, n_leaves):
    """children (2 n_leaves - 1, 2) of a random binary tree, its nodes in a
    shuffled order (so that no index order is assumed)."""
    nodes = [(-1, -1)] * n_leaves
    live = list(range(n_leaves))
    while len(live) > 1:
        i, j = sorted(rng.choice(len(live), 2, replace=False))
        a, b = live[i], live[j]
        if rng.random() < 0.5:
            a, b = b, a
        nodes.append((a, b))
        live = [v for k, v in enumerate(live) if k not in (i, j)] + [len(nodes) - 1]
    perm = rng.permutation(len(nodes))
    new = np.empty(len(nodes), int)
    new[perm] = np.arange(len(nodes))
    children = np.full((len(nodes), 2), -1)
    for old, (a, b) in enumerate(nodes):
        if a != -1:
            children[new[old]] = (new[a], new[b])
    return children


def numpy_tree(children, leaf_h, p):
    """Every node's h by plain recursion from the root: {node: h}."""
    leaf_index = {node: k for k, node in enumerate(np.flatnonzero(children[:, 0] == -1))}
    memo = {}

    def h(node):
        if node not in memo:
            a, b = children[node]
            if a == -1:
                memo[node] = leaf_h[leaf_index[node]]
            else:
                memo[node] = np.tanh(p["weight"] @ np.concatenate([h(a), h(b)]) + p["bias"])
        return memo[node]

    parents = set(children[children >= 0].tolist())
    root = [n for n in range(len(children)) if n not in parents][0]
    h(root)
    return memo, root


def numpy_bpts(children, leaf_h, p, d_root):
    """Backpropagation through structure by recursion: (grads, d_leaf_h)."""
    memo, root = numpy_tree(children, leaf_h, p)
    g = {"weight": np.zeros_like(p["weight"]), "bias": np.zeros_like(p["bias"])}
    leaf_index = {node: k for k, node in enumerate(np.flatnonzero(children[:, 0] == -1))}
    d_leaf = np.zeros_like(leaf_h)

    def down(node, dh):
        a, b = children[node]
        if a == -1:
            d_leaf[leaf_index[node]] += dh
            return
        e = dh * (1 - memo[node] ** 2)
        g["weight"] += np.outer(e, np.concatenate([memo[a], memo[b]]))
        g["bias"] += e
        d_pair = p["weight"].T @ e
        H = len(e)
        down(a, d_pair[:H])
        down(b, d_pair[H:])

    down(root, d_root)
    return g, d_leaf


@pytest.fixture
def forest(rng):
    return [random_tree(rng, n) for n in (1, 2, 5, 8, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_token_leaves_match_numpy_recursion(forest, rng, dtype):
    net = RecursiveNet(4, 3, num_embeddings=7, dtype=dtype, seed=1)
    leaves = [rng.integers(0, 7, (len(c) + 1) // 2) for c in forest]
    out = net.forward(forest, leaves)
    dy = rng.standard_normal(out.shape).astype(dtype)
    net.backward(dy)
    p = {k: v.astype(np.float64) for k, v in net.params.items()}
    g_emb = np.zeros_like(p["embedding"])
    g_w = np.zeros_like(p["weight"])
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for k, (children, tokens) in enumerate(zip(forest, leaves)):
        memo, root = numpy_tree(children, p["embedding"][tokens], p)
        o = p["weight_out"] @ memo[root] + p["bias_out"]
        assert rel_error(out[k], o) < tol
        d_root = p["weight_out"].T @ dy[k]
        g, d_leaf = numpy_bpts(children, p["embedding"][tokens], p, d_root)
        np.add.at(g_emb, tokens, d_leaf)
        g_w += g["weight"]
    assert rel_error(net.grads["embedding"], g_emb) < tol
    assert rel_error(net.grads["weight"], g_w) < tol
    assert rel_error(net.grads["weight_out"],
                     dy.astype(np.float64).T @ net._cache.read.astype(np.float64)) < tol


@pytest.mark.parametrize("outputs", ["root", "nodes"])
def test_gradients_match_finite_differences(forest, rng, outputs):
    net = RecursiveNet(3, 2, input_size=2, outputs=outputs, dtype=np.float64, seed=2)
    trees = TreeBatch(forest)
    x = rng.standard_normal((trees.n_leaves, 2))
    rows = trees.n_trees if outputs == "root" else trees.n_nodes
    dy = rng.standard_normal((rows, 2))

    def loss():
        return float(np.sum(net.forward(trees, x) * dy))

    loss()
    net.zero_grad()
    dx = net.backward(dy)
    assert_gradients_match(loss, net, (dx, x), tol=1e-7)


def test_token_gradients_without_output_layer(forest, rng):
    net = RecursiveNet(3, num_embeddings=5, dtype=np.float64, seed=3)
    trees = TreeBatch(forest)
    tokens = rng.integers(0, 5, trees.n_leaves)
    dy = rng.standard_normal((trees.n_trees, 3))

    def loss():
        return float(np.sum(net.forward(trees, tokens) * dy))

    loss()
    assert net.backward(dy) is None
    assert_gradients_match(loss, net, tol=1e-7)


def test_batch_equals_one_tree_at_a_time(forest, rng):
    net = RecursiveNet(5, 3, input_size=4, outputs="nodes", dtype=np.float64, seed=4)
    x = [rng.standard_normal(((len(c) + 1) // 2, 4)) for c in forest]
    out = net.forward(forest, x)
    dy = rng.standard_normal(out.shape)
    dx = net.backward(dy)
    batched = {k: v.copy() for k, v in net.grads.items()}
    summed = {k: np.zeros_like(v) for k, v in batched.items()}
    row = leaf = 0
    for children, xk in zip(forest, x):
        net.zero_grad()
        n = len(children)
        np.testing.assert_allclose(net.forward(children, xk), out[row:row + n], rtol=1e-13,
                                   atol=1e-15)
        dxk = net.backward(dy[row:row + n])
        np.testing.assert_allclose(dxk, dx[leaf:leaf + len(xk)], rtol=1e-12, atol=1e-15)
        for k in summed:
            summed[k] += net.grads[k]
        row, leaf = row + n, leaf + len(xk)
    for k in batched:
        np.testing.assert_allclose(batched[k], summed[k], rtol=1e-12, atol=1e-14)


def test_tree_batch_levels(forest):
    trees = TreeBatch(np.concatenate(forest), tree_sizes=[len(c) for c in forest])
    assert trees.n_trees == 5 and trees.n_leaves == 1 + 2 + 5 + 8 + 3
    assert trees.n_nodes == 2 * trees.n_leaves - 5
    # a leaf tree's root is its leaf; a chain of heights ends at each root
    assert trees.height[trees.roots[0]] == 0 and trees.height[trees.roots[1]] == 1
    left, right = trees.left, trees.right
    pos = np.arange(trees.n_leaves, trees.n_nodes)
    assert np.all(left < pos) and np.all(right < pos)


def test_save_load_round_trip(tmp_path, forest, rng):
    net = RecursiveNet(4, 3, num_embeddings=6, outputs="nodes", seed=5)
    fastrnn.save(net, tmp_path / "rec.npz")
    back = fastrnn.load(tmp_path / "rec.npz")
    assert isinstance(back, RecursiveNet) and back.outputs == "nodes"
    for k in net.params:
        np.testing.assert_array_equal(back.params[k], net.params[k])
    tokens = rng.integers(0, 6, sum((len(c) + 1) // 2 for c in forest))
    np.testing.assert_array_equal(back.forward(forest, tokens), net.forward(forest, tokens))


@pytest.mark.parametrize("children,sizes,message", [
    ([[1, 2], [-1, -1], [-1, 3]], None, r"children\[2\].*one child"),
    ([[1, 5], [-1, -1], [-1, -1]], None, r"children\[0, 1\] = 5 is out of range"),
    ([[1, 2], [-1, -1], [-1, -1], [-1, -1], [2, 3]], [3, 2], r"children\[4, 0\] = 2 .*"
                                                              r"out of range"),
    ([[1, 1], [-1, -1]], None, "child of two nodes"),
    ([[1, 2], [-1, -1], [-1, -1], [1, 2]], None, "child of two nodes"),
    ([[1, 2], [-1, -1], [-1, -1], [-1, -1]], None, "several roots"),
    ([[1, 2], [0, 3], [-1, -1], [-1, -1]], None, "no root"),
    ([[1, 2], [-1, -1], [3, 4], [-1, -1], [2, 5], [-1, -1]], [6], "node 2 .* child of two"),
    ([[0, 1], [-1, -1]], None, "no root"),
])
def test_bad_trees_are_refused(children, sizes, message):
    with pytest.raises(ValueError, match=message):
        TreeBatch(np.array(children), tree_sizes=sizes)


def test_cycle_below_a_root_is_refused():
    # node 0 is the root over leaves 1, 2; nodes 3 and 4 are each other's
    # child (with leaves 5, 6): every node has one parent but 3 and 4 are
    # never reached
    children = np.array([[1, 2], [-1, -1], [-1, -1], [4, 5], [3, 6], [-1, -1], [-1, -1]])
    with pytest.raises(ValueError, match="cycle"):
        TreeBatch(children)


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        TreeBatch(np.zeros((3, 3), int))
    with pytest.raises(TypeError, match="integers"):
        TreeBatch(np.zeros((3, 2)) + 0.5)
    with pytest.raises(ValueError, match="tree_sizes must sum"):
        TreeBatch(np.array([[-1, -1], [-1, -1]]), tree_sizes=[1, 2])
    with pytest.raises(ValueError, match="exactly one"):
        RecursiveNet(3, num_embeddings=4, input_size=2)
    net = RecursiveNet(3, 2, num_embeddings=4)
    tree = np.array([[1, 2], [-1, -1], [-1, -1]])
    with pytest.raises(ValueError, match="token id 4, out of range"):
        net.forward(tree, [0, 4])
    with pytest.raises(ValueError, match=r"one token id per leaf.*\(2,\)"):
        net.forward(tree, [0, 1, 2])
    with pytest.raises(fastrnn.NotFittedError):
        net.backward(np.zeros((1, 2)))
    net.forward(tree, [0, 1])
    with pytest.raises(ValueError, match="dy"):
        net.backward(np.zeros((2, 2)))


def test_the_bench_script_runs_quickly():
    import pathlib

    from child_process import run_python
    script = pathlib.Path(__file__).resolve().parents[2] / "bench" / "recursive_trees.py"
    if not script.is_file():
        pytest.skip("bench/ is not beside tests/")
    out = run_python([str(script), "--quick"], timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "RecursiveNet" in out.stdout and "LSTM" in out.stdout


def test_arbitrary_children_arrays_are_refused_or_levelled():
    """Random small arrays of indices: either a clear ValueError, or a batch
    whose every internal node sits above its children and whose forward
    gives the recursion's numbers (never a crash or garbage)."""
    rng = np.random.default_rng(20)
    net = RecursiveNet(2, num_embeddings=3, dtype=np.float64, seed=9)
    p = {k: v for k, v in net.params.items()}
    accepted = 0
    for _ in range(400):
        n = int(rng.integers(1, 8))
        children = rng.integers(-2, n + 1, (n, 2))
        children[rng.random(n) < 0.4] = -1
        try:
            trees = TreeBatch(children)
        except ValueError as exc:
            assert "children" in str(exc)
            continue
        accepted += 1
        internal = np.flatnonzero(children[:, 0] >= 0)
        assert np.all(trees.height[internal] > trees.height[children[internal, 0]])
        assert np.all(trees.height[internal] > trees.height[children[internal, 1]])
        tokens = rng.integers(0, 3, trees.n_leaves)
        memo, root = numpy_tree(children, p["embedding"][tokens], p)
        np.testing.assert_allclose(net.forward(trees, tokens)[0], memo[root], rtol=1e-13)
    assert accepted > 20
