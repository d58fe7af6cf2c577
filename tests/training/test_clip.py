"""Gradient clipping (Goodfellow et al. (2016), eq. 10.15 and section 10.7.7)."""
import numpy as np
import pytest

import fastrnn


def _grads(rng, dtype=np.float64):
    return [rng.standard_normal((7, 3)).astype(dtype), rng.standard_normal(5).astype(dtype)]


def _joint_norm(arrays):
    return np.sqrt(sum(np.sum(a.astype(np.float64) ** 2) for a in arrays))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_clipping_scales_jointly_and_keeps_direction(dtype, rng):
    grads = _grads(rng, dtype)
    before = [g.copy() for g in grads]
    true_norm = _joint_norm(before)
    norm = fastrnn.clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(true_norm, rel=1e-6)
    assert _joint_norm(grads) == pytest.approx(1.0, rel=1e-6)
    factor = 1.0 / true_norm
    for g, b in zip(grads, before):
        np.testing.assert_allclose(g, b * factor, rtol=1e-6)


def test_norm_below_threshold_is_untouched(rng):
    grads = _grads(rng)
    before = [g.copy() for g in grads]
    norm = fastrnn.clip_grad_norm(grads, 1e6)
    assert norm == pytest.approx(_joint_norm(before), rel=1e-12)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


def test_norm_of_huge_and_tiny_values_does_not_overflow():
    big = [np.full(4, 1e300), np.full(3, 1e-300)]
    assert fastrnn.global_norm(big) == pytest.approx(2e300, rel=1e-12)
    small = [np.full(4, 1e-300)]
    assert fastrnn.global_norm(small) == pytest.approx(2e-300, rel=1e-12)
    assert fastrnn.global_norm([np.zeros(3)]) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_gradient_becomes_seeded_random_step(bad, rng):
    grads = _grads(rng)
    grads[1][2] = bad
    norm = fastrnn.clip_grad_norm(grads, 0.5, seed=7)
    assert not np.isfinite(norm)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert _joint_norm(grads) == pytest.approx(0.5, rel=1e-12)
    again = _grads(np.random.default_rng(12345))
    again[1][2] = bad
    fastrnn.clip_grad_norm(again, 0.5, seed=7)
    for g, h in zip(grads, again):
        np.testing.assert_array_equal(g, h)


def test_value_clipping(rng):
    g = rng.standard_normal(100) * 3
    g[0] = np.nan
    expected = np.clip(g, -1.0, 1.0)
    changed = fastrnn.clip_grad_value([g], 1.0)
    np.testing.assert_array_equal(g, expected)
    assert changed == int(np.sum(np.abs(expected[1:]) == 1.0))


def test_dict_of_grads_from_a_layer(rng):
    layer = fastrnn.RNN(3, 4, dtype=np.float64, seed=0)
    y, _ = layer.forward(rng.standard_normal((10, 2, 3)))
    layer.backward(100 * np.ones_like(y))
    norm = fastrnn.clip_grad_norm(layer.grads, 1.0)
    assert norm > 1.0
    assert fastrnn.global_norm(layer.grads) == pytest.approx(1.0, rel=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_norm"):
        fastrnn.clip_grad_norm([np.ones(3)], 0.0)
    with pytest.raises(ValueError, match="clip_value"):
        fastrnn.clip_grad_value([np.ones(3)], -1.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        fastrnn.clip_grad_norm([np.ones(3, dtype=np.int64)], 1.0)
    with pytest.raises(ValueError, match="in place"):
        fastrnn.clip_grad_norm([np.ones((3, 4))[:, ::2]], 1.0)
    with pytest.raises(TypeError, match="ndarray"):
        fastrnn.clip_grad_norm([[1.0, 2.0]], 1.0)
