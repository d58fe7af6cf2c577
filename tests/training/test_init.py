import numpy as np
import pytest

from fastrnn import init


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4)])
def test_orthogonal_has_equal_singular_values(shape):
    w = init.orthogonal(shape, gain=1.5, seed=0)
    assert w.shape == shape
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), 1.5, rtol=1e-12)
    assert not np.allclose(w, init.orthogonal(shape, gain=1.5, seed=1))


def test_identity():
    np.testing.assert_array_equal(init.identity(3, scale=0.5), 0.5 * np.eye(3))


def test_sparse_has_k_inputs_per_unit_and_the_target_radius():
    w = init.sparse(60, nonzero=15, spectral_radius=1.2, seed=0)
    np.testing.assert_array_equal((w != 0).sum(axis=1), 15)
    assert init.spectral_radius_of(w) == pytest.approx(1.2, rel=1e-10)
    small = init.sparse(5, nonzero=15, seed=0)
    assert np.all(small != 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="spectral_radius"):
        init.sparse(10, spectral_radius=0.0)
    with pytest.raises(ValueError, match="square"):
        init.spectral_radius_of(np.ones((2, 3)))
