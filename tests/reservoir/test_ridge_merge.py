"""Ridge.merge: partial sums from separate Ridges combine into one fit."""
import copy

import numpy as np
import pytest

import fastrnn
from fastrnn.reservoir.readout import Ridge


def rel(a, b):
    """Relative distance of a from b (0 when both are 0)."""
    diff = np.linalg.norm(np.asarray(a) - np.asarray(b))
    return diff / np.linalg.norm(np.asarray(b)) if diff else 0.0


@pytest.fixture
def chunks():
    """Series with different large offsets, so every Ridge's shift differs."""
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 2))
    X, Y = [], []
    for k in range(5):
        x = 2.0 * rng.standard_normal((150 + 20 * k, 6)) + 40.0 * rng.standard_normal(6)
        X.append(x)
        Y.append(x @ W + 0.1 * rng.standard_normal((x.shape[0], 2)) - 7.0 * k)
    return X, Y


def partials(X, Y, groups, **kw):
    return [Ridge(1e-2, **kw).partial_fit([X[i] for i in g], [Y[i] for i in g])
            for g in groups]


@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr"])
@pytest.mark.parametrize("fit_bias", [True, False])
def test_merged_sums_equal_one_accumulation(chunks, solver, fit_bias):
    X, Y = chunks
    whole = Ridge(1e-2, solver=solver, fit_bias=fit_bias).partial_fit(X, Y).fit()
    parts = partials(X, Y, [[0, 1], [2], [3, 4]], solver=solver, fit_bias=fit_bias)
    merged = Ridge(1e-2, solver=solver, fit_bias=fit_bias)
    for p in parts:
        merged.merge(p)
    merged.fit()
    assert merged.n_samples_seen_ == whole.n_samples_seen_ == sum(len(x) for x in X)
    assert rel(merged.coef_, whole.coef_) < 1e-11
    assert rel(merged.intercept_, whole.intercept_) < 1e-11
    # Independent check: the normal equations of all rows, centred.
    Xa, Ya = np.vstack(X), np.vstack(Y)
    xm = Xa.mean(0) if fit_bias else np.zeros(6)
    ym = Ya.mean(0) if fit_bias else np.zeros(2)
    Xc, Yc = Xa - xm, Ya - ym
    w = np.linalg.solve(Xc.T @ Xc + 1e-2 * np.eye(6), Xc.T @ Yc)
    assert rel(merged.coef_, w) < 1e-10
    assert rel(merged.intercept_, ym - xm @ w) < 1e-10


def test_merge_is_a_tree_in_any_grouping(chunks):
    X, Y = chunks
    a, b, c, d = partials(X, Y, [[0], [1, 2], [3], [4]])
    left = copy.deepcopy(a).merge(b)
    right = copy.deepcopy(c).merge(d)
    tree = left.merge(right).fit()
    chain = copy.deepcopy(a).merge(b).merge(c).merge(d).fit()
    assert rel(tree.coef_, chain.coef_) < 1e-12


def test_merge_keeps_its_own_shift_and_leaves_other_unchanged(chunks):
    X, Y = chunks
    a, b = partials(X, Y, [[0], [1]])
    shift, b_sums, b_shift = a._shift_x.copy(), b._gram_or_r.copy(), b._shift_x.copy()
    a.merge(b)
    np.testing.assert_array_equal(a._shift_x, shift)
    np.testing.assert_array_equal(b._gram_or_r, b_sums)
    np.testing.assert_array_equal(b._shift_x, b_shift)
    # Into an empty Ridge: it takes the other's shift, and an exact copy of its sums.
    empty = Ridge(1e-2).merge(b)
    np.testing.assert_array_equal(empty._gram_or_r, b._gram_or_r)
    np.testing.assert_array_equal(empty._shift_x, b._shift_x)


def test_merge_of_an_empty_ridge_changes_nothing(chunks):
    X, Y = chunks
    (a,) = partials(X, Y, [[0]])
    sums = a._gram_or_r.copy()
    a.merge(Ridge(5.0))
    np.testing.assert_array_equal(a._gram_or_r, sums)
    assert a.n_samples_seen_ == len(X[0])


def test_qr_sums_merge_into_gram_sums(chunks):
    X, Y = chunks
    whole = Ridge(1e-2, solver="cholesky").partial_fit(X, Y).fit()
    gram, = partials(X, Y, [[0, 1, 2]], solver="cholesky")
    qr, = partials(X, Y, [[3, 4]], solver="qr")
    merged = gram.merge(qr).fit()
    assert rel(merged.coef_, whole.coef_) < 1e-10


def test_float32_merge(chunks):
    X, Y = chunks
    X = [x / 40 for x in X]
    whole = Ridge(1e-2, dtype=np.float32).partial_fit(X, Y).fit()
    merged = Ridge(1e-2, dtype=np.float32)
    for p in partials(X, Y, [[0, 1], [2, 3, 4]], dtype=np.float32):
        merged.merge(p)
    merged.fit()
    assert merged.coef_.dtype == np.float32
    assert rel(merged.coef_, whole.coef_) < 1e-3


def test_merge_refuses_what_does_not_match(chunks):
    X, Y = chunks
    (a,) = partials(X, Y, [[0]])
    with pytest.raises(TypeError, match="fastrnn.Ridge"):
        a.merge(fastrnn.RLS())
    with pytest.raises(ValueError, match="fit_bias"):
        a.merge(Ridge(fit_bias=False).partial_fit(X[1], Y[1]))
    with pytest.raises(ValueError, match="dtype"):
        a.merge(Ridge(dtype=np.float32).partial_fit(X[1], Y[1]))
    with pytest.raises(ValueError, match="6 features and 2 outputs"):
        a.merge(Ridge().partial_fit(X[1][:, :4], Y[1]))
    with pytest.raises(ValueError, match="6 features and 2 outputs"):
        a.merge(Ridge().partial_fit(X[1], Y[1][:, 0]))
    single = Ridge().partial_fit(X[1], Y[1][:, 0])
    with pytest.raises(ValueError, match="1-D versus 2-D"):
        single.merge(Ridge().partial_fit(X[2], Y[2][:, :1]))
    with pytest.raises(ValueError, match="same solver"):
        Ridge(solver="qr").partial_fit(X[1], Y[1]).merge(a)


def test_merged_accumulator_survives_save_and_load(chunks, tmp_path):
    X, Y = chunks
    a, b, c = partials(X, Y, [[0, 1], [2, 3], [4]])
    a.merge(b)
    fastrnn.save(a, tmp_path / "acc.npz")
    loaded = fastrnn.load(tmp_path / "acc.npz")
    expected = a.merge(c).fit()
    got = loaded.merge(c).fit()
    np.testing.assert_array_equal(got.coef_, expected.coef_)
    np.testing.assert_array_equal(got.intercept_, expected.intercept_)
    assert got.n_samples_seen_ == sum(len(x) for x in X)
