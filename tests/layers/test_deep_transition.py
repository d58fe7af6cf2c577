"""Deep transitions (Pascanu et al. 2014; Goodfellow et al. (2016), sec. 10.5):
an MLP between h(t-1) and h(t), with the optional skip from h(t-1)."""
import numpy as np
import pytest

import fastrnn
from fastrnn.layers.deep_transition import DeepTransitionRNN
from gradcheck import assert_gradients_match, rel_error


def _numpy_forward(x, p, h0, skip):
    """Every layer's state at every step: zs[t][k] = z_{k+1} at step t."""
    L = p["weight_hh"].shape[0]
    h, zs = h0, []
    for t in range(x.shape[0]):
        z = [np.tanh(h @ p["weight_hh"][0].T + x[t] @ p["weight_ih"].T + p["bias"][0])]
        for k in range(1, L):
            a = z[-1] @ p["weight_hh"][k].T + p["bias"][k]
            if skip and k == L - 1:
                a = a + h @ p["weight_skip"].T
            z.append(np.tanh(a))
        zs.append(z)
        h = z[-1]
    return zs


def _numpy_backward(x, p, h0, skip, dy, dh_n):
    """BPTT of `_numpy_forward` written out layer by layer: (dx, dh0, grads)."""
    L = p["weight_hh"].shape[0]
    zs = _numpy_forward(x, p, h0, skip)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    carry = dh_n.copy()
    for t in reversed(range(x.shape[0])):
        h_prev = h0 if t == 0 else zs[t - 1][-1]
        d = dy[t] + carry
        carry = np.zeros_like(carry)
        for k in reversed(range(L)):
            e = d * (1 - zs[t][k] ** 2)
            g["bias"][k] += e.sum(0)
            below = h_prev if k == 0 else zs[t][k - 1]
            g["weight_hh"][k] += e.T @ below
            if k == L - 1 and skip:
                g["weight_skip"] += e.T @ h_prev
                carry += e @ p["weight_skip"]
            if k == 0:
                g["weight_ih"] += e.T @ x[t]
                dx[t] = e @ p["weight_ih"]
                carry += e @ p["weight_hh"][0]
            else:
                d = e @ p["weight_hh"][k]
    return dx, carry, g


@pytest.mark.parametrize("depth,skip", [(1, False), (2, False), (3, True), (2, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy_reference(depth, skip, dtype, rng):
    layer = DeepTransitionRNN(3, 5, depth=depth, skip=skip, dtype=dtype, seed=1)
    x = rng.standard_normal((6, 4, 3)).astype(dtype)
    h0 = rng.standard_normal((1, 4, 5)).astype(dtype)
    dy = rng.standard_normal((6, 4, 5)).astype(dtype)
    dh_n = rng.standard_normal((1, 4, 5)).astype(dtype)
    y, h_n = layer.forward(x, h0)
    p = {k: v.astype(np.float64) for k, v in layer.params.items()}
    zs = _numpy_forward(x.astype(np.float64), p, h0[0].astype(np.float64), skip)
    want = np.stack([z[-1] for z in zs])
    tol = 3e-6 if dtype == np.float32 else 1e-13
    assert rel_error(y, want) < tol
    np.testing.assert_array_equal(h_n[0], y[-1])
    dx, dh0 = layer.backward(dy, dh_n)
    rdx, rdh0, rg = _numpy_backward(x.astype(np.float64), p, h0[0].astype(np.float64), skip,
                                    dy.astype(np.float64), dh_n[0].astype(np.float64))
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert rel_error(dx, rdx) < tol
    assert rel_error(dh0[0], rdh0) < tol
    for k in layer.grads:
        assert rel_error(layer.grads[k], rg[k]) < tol, k


@pytest.mark.parametrize("depth,skip", [(1, False), (3, False), (3, True)])
def test_gradients_match_finite_differences(depth, skip, rng):
    layer = DeepTransitionRNN(2, 4, depth=depth, skip=skip, dtype=np.float64, seed=2)
    x = rng.standard_normal((5, 3, 2))
    h0 = rng.standard_normal((1, 3, 4)) * 0.5
    dy = rng.standard_normal((5, 3, 4))
    dh_n = rng.standard_normal((1, 3, 4))
    lengths = np.array([5, 2, 4])

    def loss():
        y, h_n = layer.forward(x, h0, lengths=lengths)
        return float(np.sum(y * dy) + np.sum(h_n * dh_n))

    loss()
    layer.zero_grad()
    dx, dh0 = layer.backward(dy, dh_n)
    assert_gradients_match(loss, layer, (dx, x), (dh0, h0))


def test_depth_one_is_the_tanh_rnn():
    """Bit for bit against RNN's BLAS step loop (the same products and cell
    kernel in the same order); against RNN.forward, which may take its
    packed-weight engine for small steps (other FMA sums), to a few ulp."""
    for dtype in (np.float32, np.float64):
        rnn = fastrnn.RNN(4, 6, dtype=dtype, seed=3)
        deep = DeepTransitionRNN(4, 6, depth=1, dtype=dtype, seed=4)
        deep.params["weight_ih"] = rnn.params["weight_ih_l0"]
        deep.params["weight_hh"] = rnn.params["weight_hh_l0"][None]
        deep.params["bias"] = (rnn.params["bias_ih_l0"] + rnn.params["bias_hh_l0"])[None]
        x = np.random.default_rng(0).standard_normal((9, 3, 4)).astype(dtype)
        h0 = np.random.default_rng(1).standard_normal((3, 6)).astype(dtype)
        hs, _, _, _ = rnn._sweep(0, "", x, h0, None, np.full(9, 3, np.int32), np.empty,
                                 threads=0)
        y, h_n = deep.forward(x, h0[None])
        np.testing.assert_array_equal(y, hs[1:])
        y_rnn, _ = rnn.forward(x, h0[None])
        ulp = np.finfo(dtype).eps
        np.testing.assert_allclose(y, y_rnn, rtol=0, atol=4 * ulp)
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
        for a, b in zip(deep.backward(dy), rnn.backward(dy)):
            np.testing.assert_allclose(a, b, rtol=0, atol=64 * ulp)
        np.testing.assert_allclose(deep.grads["weight_hh"][0], rnn.grads["weight_hh_l0"],
                                   rtol=0, atol=64 * ulp * 10)


def test_ragged_batch_equals_each_sequence_alone(rng):
    layer = DeepTransitionRNN(3, 4, depth=3, skip=True, dtype=np.float64, seed=5,
                              batch_first=True)
    x = rng.standard_normal((3, 7, 3))
    lengths = np.array([4, 7, 0])
    dy = rng.standard_normal((3, 7, 4))
    dh_n = rng.standard_normal((1, 3, 4))
    y, h_n = layer.forward(x, lengths=lengths)
    dx, dh0 = layer.backward(dy, dh_n)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    summed = {k: np.zeros_like(v) for k, v in grads.items()}
    for b, n in enumerate(lengths):
        layer.zero_grad()
        yb, hb = layer.forward(x[b, :n])
        np.testing.assert_allclose(y[b, :n], yb, rtol=1e-13, atol=1e-15)
        assert not y[b, n:].any()
        np.testing.assert_allclose(h_n[0, b], hb[0], rtol=1e-13, atol=1e-15)
        dxb, dhb = layer.backward(dy[b, :n], dh_n[:, b])
        np.testing.assert_allclose(dx[b, :n], dxb, rtol=1e-12, atol=1e-14)
        assert not dx[b, n:].any()
        np.testing.assert_allclose(dh0[0, b], dhb[0], rtol=1e-12, atol=1e-14)
        for k in summed:
            summed[k] += layer.grads[k]
    for k in grads:
        np.testing.assert_allclose(grads[k], summed[k], rtol=1e-12, atol=1e-14)


def test_step_follows_forward(rng):
    layer = DeepTransitionRNN(3, 5, depth=2, skip=True, seed=6)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    y, h_n = layer.forward(x)
    h = None
    for t in range(5):
        y_t, h = layer.step(x[t], h)
        np.testing.assert_array_equal(y_t, y[t])
    np.testing.assert_array_equal(h, h_n)
    y_t, h1 = layer.step(x[0, 0])          # unbatched
    np.testing.assert_array_equal(y_t, y[0, 0])
    assert h1.shape == (1, 5)


def test_save_and_load_round_trip(tmp_path, rng):
    layer = DeepTransitionRNN(3, 4, depth=3, skip=True, batch_first=True, dtype=np.float64,
                              seed=7)
    fastrnn.save(layer, tmp_path / "deep.npz")
    back = fastrnn.load(tmp_path / "deep.npz")
    assert isinstance(back, DeepTransitionRNN) and back.depth == 3 and back.skip
    assert back.batch_first
    for k in layer.params:
        np.testing.assert_array_equal(back.params[k], layer.params[k])
    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_array_equal(back.forward(x)[0], layer.forward(x)[0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="skip needs depth >= 2"):
        DeepTransitionRNN(2, 3, depth=1, skip=True)
    with pytest.raises(ValueError, match="depth"):
        DeepTransitionRNN(2, 3, depth=0)
    layer = DeepTransitionRNN(2, 3)
    with pytest.raises(ValueError, match="input_size"):
        layer.forward(np.zeros((4, 1, 5), np.float32))
    with pytest.raises(ValueError, match="lengths"):
        layer.forward(np.zeros((4, 2, 2), np.float32), lengths=[5, 1])
    with pytest.raises(ValueError, match="weight_hh"):
        layer.params["weight_hh"] = np.zeros((3, 3))
