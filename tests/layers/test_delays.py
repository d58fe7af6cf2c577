"""Recurrent layer with delays: against RNN, a NumPy reference and finite differences."""
import numpy as np
import pytest

import fastrnn
import reference
from fastrnn.layers.delays import DelayRNN, delay_weight_name
from gradcheck import assert_gradients_match, rel_error


def test_delay_one_is_the_plain_rnn(rng):
    dl = DelayRNN(3, 5, delays=(1,), dtype=np.float64, seed=0)
    rnn = fastrnn.RNN(3, 5, dtype=np.float64, seed=1)
    rnn.load_state_dict(dl.params)
    x = rng.standard_normal((12, 2, 3))
    h0 = rng.standard_normal((1, 2, 5))
    dy = rng.standard_normal((12, 2, 5))
    np.testing.assert_allclose(dl.forward(x, h0)[0], rnn.forward(x, h0)[0], rtol=1e-13)
    dx1, dh1 = dl.backward(dy)
    dx2, dh2 = rnn.backward(dy)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh1, dh2, rtol=1e-12, atol=1e-14)
    for name in rnn.grads:
        np.testing.assert_allclose(dl.grads[name], rnn.grads[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B", [1, 3])
def test_matches_numpy_reference(dtype, B, rng):
    dl = DelayRNN(4, 6, delays=(1, 3), dtype=dtype, seed=2)
    x = rng.standard_normal((20, B, 4)).astype(dtype)
    h0 = rng.standard_normal((1, B, 6)).astype(dtype)
    y, h_T = dl.forward(x, h0)
    p = dl.params
    ref = reference.delay_forward(x, p["weight_ih_l0"],
                                  {d: p[delay_weight_name(d)] for d in (1, 3)},
                                  p["bias_ih_l0"] + p["bias_hh_l0"], h0[0])
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert rel_error(y, ref) < tol and rel_error(h_T[0], ref[-1]) < tol


@pytest.mark.parametrize("delays, num_layers", [((1, 3), 1), ((2, 5), 1), ((1, 3), 2)])
def test_gradients_match_finite_differences(delays, num_layers, rng):
    dl = DelayRNN(2, 4, delays=delays, num_layers=num_layers, dtype=np.float64, seed=3)
    x = rng.standard_normal((9, 2, 2))
    h0 = rng.standard_normal((num_layers, 2, 4)) * 0.5
    wy = rng.standard_normal((9, 2, 4))
    wh = rng.standard_normal((num_layers, 2, 4))

    def loss():
        y, h_T = dl.forward(x, h0)
        return float(np.sum(wy * y) + np.sum(wh * h_T))

    loss()
    dl.zero_grad()
    dx, dh0 = dl.backward(wy, wh)
    assert_gradients_match(loss, dl, (dx, x), (dh0, h0))


def test_bad_delays():
    with pytest.raises(ValueError, match="delays"):
        DelayRNN(2, 3, delays=(1, 1))
    with pytest.raises(ValueError, match="delays"):
        DelayRNN(2, 3, delays=(0, 2))


def test_rnn_with_delays_points_to_the_delay_layer():
    """RNN(delays=...) used to return a DelayRNN; a constructor building
    another class is gone, and the error names the class to use."""
    for delays in ((1, 3), (1,), (2,)):
        with pytest.raises(TypeError, match=r"use fastrnn\.DelayRNN\("):
            fastrnn.RNN(2, 3, delays=delays)
    stacked = DelayRNN(2, 3, delays=(2,), num_layers=2)
    assert "weight_hh_d2_l1" in stacked.params and "weight_ih_l1" in stacked.params


def test_stacked_delay_one_is_the_stacked_plain_rnn(rng):
    dl = DelayRNN(3, 5, delays=(1,), num_layers=3, dtype=np.float64, seed=0)
    rnn = fastrnn.RNN(3, 5, num_layers=3, dtype=np.float64, seed=1)
    rnn.load_state_dict(dl.params)
    x = rng.standard_normal((12, 2, 3))
    h0 = rng.standard_normal((3, 2, 5))
    dy, dh_T = rng.standard_normal((12, 2, 5)), rng.standard_normal((3, 2, 5))
    for a, b in zip(dl.forward(x, h0), rnn.forward(x, h0)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    for a, b in zip(dl.backward(dy, dh_T), rnn.backward(dy, dh_T)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for name in rnn.grads:
        np.testing.assert_allclose(dl.grads[name], rnn.grads[name], rtol=1e-12, atol=1e-14)


def test_stacked_layers_are_single_layers_in_sequence(rng):
    dl = DelayRNN(2, 4, delays=(1, 3), num_layers=2, dtype=np.float64, seed=5)
    x = rng.standard_normal((15, 3, 2))
    h0 = rng.standard_normal((2, 3, 4))
    y, h_n = dl.forward(x)
    y, h_n = dl.forward(x, h0)
    inp = x
    for layer in range(2):
        single = DelayRNN(2 if layer == 0 else 4, 4, delays=(1, 3), dtype=np.float64)
        for name in single.params:
            single.params[name][...] = dl.params[name.replace("_l0", f"_l{layer}")]
        inp, h_layer = single.forward(inp, h0[layer:layer + 1])
        np.testing.assert_array_equal(h_n[layer], h_layer[0])
    np.testing.assert_array_equal(y, inp)


def test_stacked_state_shapes_are_checked():
    dl = DelayRNN(2, 3, delays=(1, 2), num_layers=2)
    for wrong in (np.zeros((1, 1, 3)), np.zeros((2, 3)), np.zeros((2, 3, 1, 3))):
        with pytest.raises(ValueError, match=r"hx must be a state of shape \(2, 1, 3\) or a "
                                             r"history of shape \(2, 2, 1, 3\)"):
            dl.forward(np.zeros((4, 1, 2), np.float32), wrong)
    with pytest.raises(ValueError, match="hx must be an array"):
        dl.forward(np.zeros((4, 1, 2), np.float32), [[1.0], [1.0, 2.0]])
    with pytest.raises(TypeError, match="hx must be an array of real numbers"):
        dl.forward(np.zeros((4, 1, 2), np.float32), np.zeros((2, 1, 3), complex))
    y, h_n = dl.forward(np.zeros((4, 2), np.float32))   # unbatched
    assert y.shape == (4, 3) and h_n.shape == (2, 3)
    with pytest.raises(ValueError, match="num_layers"):
        DelayRNN(2, 3, num_layers=0)
