"""fastrnn.Dropout: inverted dropout in training mode, the identity in
evaluation mode, reproducible masks, and a backward through the same mask."""
import numpy as np
import pytest

import fastrnn


def test_training_mode_drops_and_rescales():
    drop = fastrnn.Dropout(0.3, seed=0)
    assert drop.training
    x = np.random.default_rng(1).uniform(1, 2, (40, 8, 16))
    y = drop.forward(x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15)
    assert abs(1 - kept.mean() - 0.3) < 0.02
    dy = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_array_equal(drop.backward(dy), dy * (kept / 0.7))


def test_evaluation_mode_and_p_zero_are_the_identity():
    x = np.random.default_rng(3).standard_normal((5, 2, 4)).astype(np.float32)
    drop = fastrnn.Dropout(0.5, seed=0)
    assert drop.eval() is drop and not drop.training
    np.testing.assert_array_equal(drop.forward(x), x)
    assert drop.forward(x).dtype == np.float32
    np.testing.assert_array_equal(drop.backward(x), x)
    np.testing.assert_array_equal(fastrnn.Dropout(0.0).forward(x), x)
    assert drop.train() is drop and drop.training


def test_the_same_seed_gives_the_same_masks():
    x = np.ones((6, 3, 5))
    a, b = fastrnn.Dropout(0.5, seed=4), fastrnn.Dropout(0.5, seed=4)
    first = [a.forward(x) for _ in range(3)]
    second = [b.forward(x) for _ in range(3)]
    for u, v in zip(first, second):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(first[0], first[1])   # a fresh mask per call


def test_p_one_drops_everything():
    assert not fastrnn.Dropout(1.0, seed=0).forward(np.ones((3, 4))).any()


def test_save_and_load_keep_the_generator(tmp_path):
    drop = fastrnn.Dropout(0.4, seed=5)
    drop.forward(np.ones(10))
    fastrnn.save(drop, tmp_path / "d.npz")
    back = fastrnn.load(tmp_path / "d.npz")
    assert back.p == 0.4
    np.testing.assert_array_equal(back.forward(np.ones((4, 4))), drop.forward(np.ones((4, 4))))


@pytest.mark.parametrize("p,error", [(-0.1, ValueError), (1.5, ValueError),
                                     ("a", TypeError), (float("nan"), ValueError)])
def test_bad_p_is_refused(p, error):
    with pytest.raises(error, match="p"):
        fastrnn.Dropout(p)


def test_backward_checks_its_input():
    drop = fastrnn.Dropout(0.5, seed=0)
    with pytest.raises(fastrnn.NotFittedError):
        drop.backward(np.ones(3))
    drop.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="dy must have the shape"):
        drop.backward(np.ones((3, 3)))
    assert drop.params == {} and drop.grads == {}
