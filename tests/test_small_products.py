"""The C kernels that replace BLAS for small recurrent products (one sequence)."""
import numpy as np
import pytest

from fastrnn import _elementwise


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_out,n_in", [(1, 1), (7, 3), (64, 64), (33, 129), (256, 5)])
def test_matvec_and_vecmat_match_numpy(dtype, n_out, n_in, rng):
    m = rng.standard_normal((n_out, n_in)).astype(dtype)
    v = rng.standard_normal(n_in).astype(dtype)
    out0 = rng.standard_normal(n_out).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for beta in (0.0, 1.0):
        out = out0.copy()
        _elementwise.matvec(m, v, out, dtype(beta))
        expect = beta * out0.astype(np.float64) + m.astype(np.float64) @ v
        np.testing.assert_allclose(out, expect, rtol=tol, atol=tol * np.sqrt(n_in))
    w = rng.standard_normal(n_out).astype(dtype)
    out = v.copy()
    _elementwise.vecmat_acc(w, m, out)
    expect = v.astype(np.float64) + w.astype(np.float64) @ m
    np.testing.assert_allclose(out, expect, rtol=tol, atol=tol * np.sqrt(n_out))


def test_matvec_ignores_garbage_in_out_when_beta_is_zero(rng):
    m = rng.standard_normal((5, 4))
    v = rng.standard_normal(4)
    out = np.full(5, np.nan)
    _elementwise.matvec(m, v, out, 0.0)
    np.testing.assert_allclose(out, m @ v, rtol=1e-14)
