"""The RNN on the shared layer skeleton: the reference implementation
(tests/reference.py), ReLU, clipping, multi-layer and bidirectional shapes."""
import numpy as np
import pytest

import fastrnn
from reference import rnn_backward, rnn_forward


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("clip", [None, 0.05])
@pytest.mark.parametrize("B", [1, 4])
def test_rnn_matches_reference(nonlinearity, clip, B):
    D, H, T = 3, 5, 6
    layer = fastrnn.RNN(D, H, nonlinearity=nonlinearity, dtype=np.float64, seed=2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((1, B, H))
    dy = rng.standard_normal((T, B, H))
    dh = rng.standard_normal((1, B, H))
    y, h = layer.forward(x, h0)
    dx, dh0 = layer.backward(dy, dh, clip_hidden=clip)
    p = layer.params
    hs = rnn_forward(x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                     p["bias_hh_l0"], h0[0], nonlinearity)
    np.testing.assert_allclose(y, hs[1:], atol=1e-13)
    rdx, rdh0, rdw_ih, rdw_hh, rdb = rnn_backward(
        x, p["weight_ih_l0"], p["weight_hh_l0"], hs, dy, dh[0], nonlinearity, clip)
    np.testing.assert_allclose(dx, rdx, atol=1e-12)
    np.testing.assert_allclose(dh0[0], rdh0, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight_ih_l0"], rdw_ih, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight_hh_l0"], rdw_hh, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias_ih_l0"], rdb, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias_hh_l0"], rdb, atol=1e-12)


def test_rnn_stacked_bidirectional_shapes():
    layer = fastrnn.RNN(3, 4, num_layers=3, bidirectional=True, batch_first=True)
    y, h = layer.forward(np.zeros((2, 5, 3), np.float32))
    assert y.shape == (2, 5, 8) and h.shape == (6, 2, 4)
    assert layer.params["weight_ih_l2_reverse"].shape == (4, 8)
    dx, dh0 = layer.backward(np.ones_like(y))
    assert dx.shape == (2, 5, 3) and dh0.shape == (6, 2, 4)
    assert "num_layers=3" in repr(layer) and "relu" not in repr(layer)
