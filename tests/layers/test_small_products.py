"""The C kernels that replace BLAS for small recurrent products (one sequence)."""
import numpy as np
import pytest

from fastrnn._core import _elementwise


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_out,n_in", [(1, 1), (7, 3), (64, 64), (33, 129), (256, 5)])
def test_vecmat_matches_numpy(dtype, n_out, n_in, rng):
    m = rng.standard_normal((n_out, n_in)).astype(dtype)
    v = rng.standard_normal(n_in).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    w = rng.standard_normal(n_out).astype(dtype)
    out = v.copy()
    _elementwise.vecmat_acc(w, m, out)
    expect = v.astype(np.float64) + w.astype(np.float64) @ m
    np.testing.assert_allclose(out, expect, rtol=tol, atol=tol * np.sqrt(n_out))
