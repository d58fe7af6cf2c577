"""Accuracy of the vectorised activations in csrc/common/fr_math.h, measured
through layers that ship them, set up so that their output is exactly the
activation of their input:

- tanh: a simple RNN of one unit with weight_ih = 1 and every other
  parameter 0, one time step, so h_1 = tanh(x + 0);
- sigmoid: an LSTM of one unit whose input reaches the input gate alone and
  whose cell-candidate bias is so large that g = tanh(bias) rounds to 1, so
  c_1 = f c_0 + i g = sigmoid(x) with c_0 = 0 (Goodfellow et al. (2016),
  eq. 10.10).

Every value of the grid is one row of a batch (T = 1, B = grid size).
"""
import numpy as np
import pytest
from scipy.special import expit

import fastrnn


def _grid(dtype):
    lin = np.linspace(-40, 40, 400_001)
    small = np.logspace(-30, 1.7, 20_000)
    return np.concatenate([lin, small, -small]).astype(dtype)


def _ulp_error(out, exact, dtype):
    exact_rounded = exact.astype(dtype)
    tiny = np.finfo(dtype).tiny
    ulp = np.spacing(np.maximum(np.abs(exact_rounded), tiny)).astype(np.float64)
    return np.abs(out.astype(np.float64) - exact) / ulp


def tanh_of(x):
    layer = fastrnn.RNN(1, 1, nonlinearity="tanh", dtype=x.dtype, seed=0)
    for p in layer.params.values():
        p[...] = 0
    layer.params["weight_ih_l0"][...] = 1
    y, _ = layer.forward(x.reshape(1, -1, 1))
    return y.reshape(-1)


def sigmoid_of(x):
    layer = fastrnn.LSTM(1, 1, dtype=x.dtype, seed=0)
    for p in layer.params.values():
        p[...] = 0
    # Gate order i, f, g, o (PyTorch's).
    layer.params["weight_ih_l0"][0] = 1
    layer.params["bias_ih_l0"][2] = 100
    _, (_, c_n) = layer.forward(x.reshape(1, -1, 1))
    return c_n.reshape(-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_set_up_layers_apply_exactly_the_activation(dtype):
    # The set-up itself: on values whose activation is exact in the dtype.
    np.testing.assert_array_equal(tanh_of(np.array([0.0, 50.0, -50.0], dtype)), [0, 1, -1])
    np.testing.assert_array_equal(sigmoid_of(np.array([0.0, 1000.0, -1000.0], dtype)),
                                  [0.5, 1, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_within_4_ulp(dtype):
    x = _grid(dtype)
    out = tanh_of(x)
    # long double (80-bit on x86) so the reference's own rounding does not dominate
    exact = np.tanh(x.astype(np.longdouble)).astype(np.float64)
    err = _ulp_error(out, exact, dtype)
    assert err.max() <= 4.0, f"max error {err.max()} ulp at x={x[err.argmax()]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_within_4_ulp(dtype):
    x = _grid(dtype)
    out = sigmoid_of(x)
    exact = expit(x.astype(np.float64))
    # Below the smallest normal the kernels flush to zero (denormals are
    # slow and carry no information for a gate).
    normal = exact >= np.finfo(dtype).tiny
    err = _ulp_error(out[normal], exact[normal], dtype)
    assert err.max() <= 4.0, f"max error {err.max()} ulp at x={x[normal][err.argmax()]}"
    assert np.all(out[~normal] <= np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_overflow_and_nan_propagates(dtype):
    x = np.array([1e30, -1e30, np.nan, 0.0], dtype=dtype)
    with np.errstate(all="raise"):
        t = tanh_of(x)
        s = sigmoid_of(x)
        t_inf = tanh_of(np.array([np.inf, -np.inf], dtype))
    np.testing.assert_array_equal(t[:2], [1, -1])
    np.testing.assert_array_equal(s[:2], [1, 0])
    np.testing.assert_array_equal(t_inf, [1, -1])
    assert np.isnan(t[2]) and np.isnan(s[2])
    assert t[3] == 0 and s[3] == 0.5
