"""Accuracy of the vectorised activations in csrc/common/fr_math.h."""
import numpy as np
import pytest
from scipy.special import expit

from fastrnn._core import _elementwise


def _grid(dtype):
    lin = np.linspace(-40, 40, 400_001)
    small = np.logspace(-30, 1.7, 20_000)
    return np.concatenate([lin, small, -small]).astype(dtype)


def _ulp_error(out, exact, dtype):
    exact_rounded = exact.astype(dtype)
    tiny = np.finfo(dtype).tiny
    ulp = np.spacing(np.maximum(np.abs(exact_rounded), tiny)).astype(np.float64)
    return np.abs(out.astype(np.float64) - exact) / ulp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_within_4_ulp(dtype):
    x = _grid(dtype)
    out = np.empty_like(x)
    _elementwise.tanh_into(x, out)
    # long double (80-bit on x86) so the reference's own rounding does not dominate
    exact = np.tanh(x.astype(np.longdouble)).astype(np.float64)
    err = _ulp_error(out, exact, dtype)
    assert err.max() <= 4.0, f"max error {err.max()} ulp at x={x[err.argmax()]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_within_4_ulp(dtype):
    x = _grid(dtype)
    out = np.empty_like(x)
    _elementwise.sigmoid_into(x, out)
    exact = expit(x.astype(np.float64))
    # Below the smallest normal the kernels flush to zero (denormals are
    # slow and carry no information for a gate).
    normal = exact >= np.finfo(dtype).tiny
    err = _ulp_error(out[normal], exact[normal], dtype)
    assert err.max() <= 4.0, f"max error {err.max()} ulp at x={x[normal][err.argmax()]}"
    assert np.all(out[~normal] <= np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_overflow_and_nan_propagates(dtype):
    x = np.array([1e30, -1e30, np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=dtype)
    t = np.empty_like(x)
    s = np.empty_like(x)
    with np.errstate(all="raise"):
        _elementwise.tanh_into(x, t)
        _elementwise.sigmoid_into(x, s)
    np.testing.assert_array_equal(t[:4], [1, -1, 1, -1])
    np.testing.assert_array_equal(s[:4], [1, 0, 1, 0])
    assert np.isnan(t[4]) and np.isnan(s[4])
    assert t[5] == 0 and np.signbit(t[6]) and s[5] == 0.5
