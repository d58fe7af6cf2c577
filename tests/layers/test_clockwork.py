"""Clockwork RNN: against a plain RNN, a NumPy reference and finite differences."""
import numpy as np
import pytest

import fastrnn
import reference
from fastrnn.layers.clockwork import ClockworkRNN
from gradcheck import numerical_grad, rel_error


def test_all_periods_one_is_a_plain_rnn_with_masked_weights(rng):
    cw = ClockworkRNN(3, 8, periods=(1, 1, 1, 1), dtype=np.float64, seed=0)
    rnn = fastrnn.RNN(3, 8, dtype=np.float64, seed=1)
    rnn.load_state_dict(cw.params)
    x = rng.standard_normal((15, 2, 3))
    dy = rng.standard_normal((15, 2, 8))
    y_cw, h_cw = cw.forward(x)
    y_rnn, h_rnn = rnn.forward(x)
    np.testing.assert_allclose(y_cw, y_rnn, rtol=1e-13, atol=1e-14)
    dx_cw, dh0_cw = cw.backward(dy)
    dx_rnn, dh0_rnn = rnn.backward(dy)
    np.testing.assert_allclose(dx_cw, dx_rnn, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dh0_cw, dh0_rnn, rtol=1e-12, atol=1e-13)
    for name in cw.params:
        expect = rnn.grads[name] * (cw.mask if name == "weight_hh_l0" else 1)
        np.testing.assert_allclose(cw.grads[name], expect, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B", [1, 3])
def test_matches_numpy_reference(dtype, B, rng):
    periods, k = (1, 2, 4, 8), 3
    cw = ClockworkRNN(5, 12, periods=periods, dtype=dtype, seed=2)
    x = rng.standard_normal((33, B, 5)).astype(dtype)
    h0 = rng.standard_normal((1, B, 12)).astype(dtype)
    y, _ = cw.forward(x, h0)
    p = cw.params
    hs = reference.clockwork_forward(x, p["weight_ih_l0"], p["weight_hh_l0"],
                                     p["bias_ih_l0"] + p["bias_hh_l0"], h0[0], periods, k)
    assert rel_error(y, hs[1:]) < (2e-5 if dtype == np.float32 else 1e-12)
    # a slow module really holds its state between its updates
    np.testing.assert_array_equal(y[1:8, :, 9:], np.broadcast_to(y[0, :, 9:], (7, B, 3)))


@pytest.mark.parametrize("periods", [(1, 2, 3), (2, 5, 5)])
def test_gradients_match_finite_differences(periods, rng):
    cw = ClockworkRNN(2, 6, periods=periods, dtype=np.float64, seed=4)
    x = rng.standard_normal((11, 2, 2))
    h0 = rng.standard_normal((1, 2, 6)) * 0.5
    wy = rng.standard_normal((11, 2, 6))
    wh = rng.standard_normal((1, 2, 6))

    def loss():
        y, h_T = cw.forward(x, h0)
        return float(np.sum(wy * y) + np.sum(wh * h_T))

    loss()
    cw.zero_grad()
    dx, dh0 = cw.backward(wy, wh)
    for name, p in cw.params.items():
        num = numerical_grad(loss, p)
        if name == "weight_hh_l0":
            num *= cw.mask   # entries below the block diagonal are not parameters
        assert rel_error(cw.grads[name], num) < 1e-6, name
    assert rel_error(dx, numerical_grad(loss, x)) < 1e-6
    assert rel_error(dh0, numerical_grad(loss, h0)) < 1e-6
    assert not np.any(cw.grads["weight_hh_l0"][~cw.mask])


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiple"):
        ClockworkRNN(2, 7, periods=(1, 2))
    with pytest.raises(ValueError, match="periods"):
        ClockworkRNN(2, 8, periods=(1, 0))
    with pytest.raises(ValueError, match="periods"):
        ClockworkRNN(2, 8, periods=())
    with pytest.raises(fastrnn.NotFittedError, match="before forward"):
        ClockworkRNN(2, 8, periods=(1, 2)).backward(np.zeros((1, 1, 8)))
