"""The long-term-dependency task generators produce what their docstrings say."""
import numpy as np
import pytest

from fastrnn import tasks


def test_adding_problem_targets_are_the_marked_sums():
    x, y = tasks.adding_problem(200, 40, seed=0)
    assert x.shape == (40, 200, 2) and y.shape == (200, 1)
    marks = x[:, :, 1]
    assert np.all(marks.sum(axis=0) == 2)
    first = marks[:20].argmax(axis=0)
    second = 20 + marks[20:].argmax(axis=0)
    cols = np.arange(200)
    np.testing.assert_allclose(y[:, 0], x[first, cols, 0] + x[second, cols, 0], rtol=1e-6)
    # the trivial predictor's error is about 1/6: the threshold is meaningful
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.04


def test_temporal_order_classes_follow_the_relevant_symbols():
    x, y = tasks.temporal_order(300, 50, seed=1)
    assert x.shape == (50, 300, 8)
    np.testing.assert_array_equal(x.sum(axis=2), 1.0)
    sym = x.argmax(axis=2)
    for j in range(300):
        relevant = [s for s in sym[:, j] if s in (0, 1)]
        assert len(relevant) == 2
        assert y[j] == 2 * relevant[0] + relevant[1]
    assert set(np.unique(y)) == {0, 1, 2, 3}
    positions = np.argwhere(np.isin(sym, (0, 1)))[:, 0]
    assert positions.min() >= 5 and positions.max() < 30


def test_latching_key_and_noise():
    x, y = tasks.latching(100, 30, key_length=3, noise=0.1, seed=2)
    np.testing.assert_array_equal(x[:3, :, 0], np.where(y == 1, 1.0, -1.0)[None, :].repeat(3, 0))
    assert abs(x[3:].std() - 0.1) < 0.01


def test_seeded_and_validated():
    a = tasks.adding_problem(5, 10, seed=3)
    b = tasks.adding_problem(5, 10, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="length"):
        tasks.adding_problem(5, 1)
    with pytest.raises(ValueError, match="length"):
        tasks.latching(5, 3, key_length=3)
