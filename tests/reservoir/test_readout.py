"""Ridge and RLS readouts against closed-form least squares."""
import warnings

import numpy as np
import pytest
import scipy.linalg as sla

import fastrnn
from fastrnn import RNN
from fastrnn.reservoir import readout as readout_module
from fastrnn.reservoir.readout import RLS, Ridge


def lstsq_ridge(X, Y, lam, fit_bias=True):
    """Reference: the ridge problem as an ordinary least-squares problem
    [Xc; sqrt(lam) I] w ~ [Yc; 0], solved by LAPACK's SVD-based gelsd."""
    F = X.shape[1]
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    xm = X.mean(0) if fit_bias else np.zeros(F)
    ym = Y2.mean(0) if fit_bias else np.zeros(Y2.shape[1])
    A = np.vstack([X - xm, np.sqrt(lam) * np.eye(F)])
    B = np.vstack([Y2 - ym, np.zeros((F, Y2.shape[1]))])
    w = sla.lstsq(A, B, lapack_driver="gelsd")[0]
    b = ym - xm @ w
    return (w, b) if Y.ndim == 2 else (w[:, 0], b[0])


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 25)) + rng.uniform(-3, 3, size=25)
    Y = X @ rng.standard_normal((25, 3)) + 0.2 * rng.standard_normal((400, 3)) + 4.0
    return X, Y


@pytest.mark.parametrize("solver", ["auto", "cholesky", "qr"])
@pytest.mark.parametrize("lam", [0.0, 1e-4, 3.0, 1e3])
@pytest.mark.parametrize("fit_bias", [True, False])
def test_ridge_equals_lstsq(problem, solver, lam, fit_bias):
    X, Y = problem
    r = Ridge(lam, fit_bias=fit_bias, solver=solver).fit(X, Y)
    w, b = lstsq_ridge(X, Y, lam, fit_bias)
    np.testing.assert_allclose(r.coef_, w, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(r.intercept_, b, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(r.predict(X), X @ w + b, rtol=1e-10, atol=1e-10)


def test_ridge_equals_normal_equations_single_output(problem):
    X, Y = problem
    y = Y[:, 1]
    lam = 0.5
    r = Ridge(lam).fit(X, y)
    assert r.coef_.shape == (25,) and np.ndim(r.intercept_) == 0
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc + lam * np.eye(25), Xc.T @ yc)
    np.testing.assert_allclose(r.coef_, w, rtol=1e-10)
    np.testing.assert_allclose(r.intercept_, y.mean() - X.mean(0) @ w, rtol=1e-10)
    assert r.predict(X).shape == (400,)


@pytest.mark.parametrize("solver", ["cholesky", "qr"])
def test_partial_fit_over_chunks_equals_one_fit(problem, solver):
    X, Y = problem
    whole = Ridge(1e-3, solver=solver).fit(X, Y)
    streamed = Ridge(1e-3, solver=solver, chunk_size=50)
    for start in range(0, 400, 77):
        streamed.partial_fit(X[start:start + 77], Y[start:start + 77])
    streamed.fit()
    assert streamed.n_samples_seen_ == 400
    np.testing.assert_allclose(streamed.coef_, whole.coef_, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(streamed.intercept_, whole.intercept_, rtol=1e-11)
    # a list of series is the same data
    listed = Ridge(1e-3, solver=solver).fit([X[:150], X[150:]], [Y[:150], Y[150:]])
    np.testing.assert_allclose(listed.coef_, whole.coef_, rtol=1e-11, atol=1e-12)


def ill_conditioned(rng, T=600, F=60, smallest=1e-12):
    """Features with a large common offset whose centred singular values
    span 1 .. ``smallest`` (squared: down to 1e-24, far below the Gram
    matrix's rounding level)."""
    Z = rng.standard_normal((T, F))
    U = np.linalg.qr(Z - Z.mean(0))[0]
    V = np.linalg.qr(rng.standard_normal((F, F)))[0]
    s = np.logspace(0, np.log10(smallest), F)
    X = (U * s) @ V.T + 0.7
    Y = X @ rng.standard_normal((F, 2)) + 1e-3 * rng.standard_normal((T, 2))
    return X, Y


def test_ridge_stays_accurate_at_tiny_ridge():
    X, Y = ill_conditioned(np.random.default_rng(1))
    lam = 1e-14
    w, b = lstsq_ridge(X, Y, lam)
    auto = Ridge(lam).fit(X, Y)
    # the normal equations' solution refined against the data (or, where the
    # refinement cannot converge, a QR refit: see the refinement tests below)
    assert auto.solver_used_ in ("cholesky", "qr")
    err = np.linalg.norm(auto.coef_ - w) / np.linalg.norm(w)
    assert err < 1e-6
    np.testing.assert_allclose(auto.predict(X), X @ w + b, rtol=0, atol=1e-9)
    # the problem does discriminate: the normal equations alone (streamed,
    # so with no data left to refine against) lose the digits
    naive = Ridge(lam, solver="cholesky").partial_fit(X, Y).fit()
    assert np.linalg.norm(naive.coef_ - w) / np.linalg.norm(w) > 1e3 * err
    # and the streamed QR route is as good as the one-shot one
    streamed = Ridge(lam, solver="qr", chunk_size=128)
    for start in range(0, X.shape[0], 200):
        streamed.partial_fit(X[start:start + 200], Y[start:start + 200])
    streamed.fit()
    assert np.linalg.norm(streamed.coef_ - w) / np.linalg.norm(w) < 1e-6


def test_ridge_rank_deficient_falls_back():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 5))
    X = np.hstack([X, X[:, :2]])            # two duplicated columns: singular Gram
    y = X[:, 0] - 2 * X[:, 3] + 1
    with pytest.warns(RuntimeWarning, match="not positive definite"):
        r = Ridge(0.0, solver="cholesky").fit(X, y)
    assert r.solver_used_ == "lstsq"
    assert np.all(np.isfinite(r.coef_))
    np.testing.assert_allclose(r.predict(X), y, atol=1e-8)
    q = Ridge(0.0, solver="qr").fit(X, y)
    np.testing.assert_allclose(q.predict(X), y, atol=1e-8)
    w_min = np.linalg.pinv(X - X.mean(0)) @ (y - y.mean())   # minimum-norm solution
    np.testing.assert_allclose(q.coef_, w_min, atol=1e-8)


def test_ridge_on_batched_states_of_an_rnn():
    rnn = RNN(3, 16, dtype=np.float64, seed=0)
    x = np.random.default_rng(3).standard_normal((50, 4, 3))
    h, _ = rnn.forward(x)                    # (T, B, H)
    y = np.sin(x.sum(axis=2, keepdims=True))  # (T, B, 1)
    r = Ridge(1e-6).fit(h, y)
    w, b = lstsq_ridge(h.reshape(-1, 16), y.reshape(-1, 1), 1e-6)
    np.testing.assert_allclose(r.coef_, w, rtol=1e-9, atol=1e-10)
    assert r.predict(h).shape == (50, 4, 1)


def test_float32_accumulation(problem):
    X, Y = problem
    r32 = Ridge(1.0, dtype=np.float32).fit(X.astype(np.float32), Y)
    w, _ = lstsq_ridge(X, Y, 1.0)
    assert r32.coef_.dtype == np.float32
    np.testing.assert_allclose(r32.coef_, w, rtol=1e-3, atol=1e-4)


def test_rls_equals_regularised_least_squares(problem):
    X, Y = problem
    alpha = 1e-2
    rls = RLS(alpha=alpha).fit(X, Y)
    Xa = np.hstack([X, np.ones((400, 1))])   # the bias is regularised by alpha too
    wa = np.linalg.solve(Xa.T @ Xa + alpha * np.eye(26), Xa.T @ Y)
    np.testing.assert_allclose(rls.coef_, wa[:-1], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(rls.intercept_, wa[-1], rtol=1e-8)


def test_rls_converges_to_ridge(problem):
    X, Y = problem
    online = RLS(alpha=1e-8)
    for start in range(0, 400, 40):
        online.partial_fit(X[start:start + 40], Y[start:start + 40])
    ridge = Ridge(0.0).fit(X, Y)
    np.testing.assert_allclose(online.coef_, ridge.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(online.predict(X), ridge.predict(X), atol=1e-6)
    # early on it is not there yet: convergence, not coincidence
    early = RLS(alpha=1e-8).fit(X[:30], Y[:30])
    assert np.abs(early.coef_ - ridge.coef_).max() > 1e-3


def test_rls_forgetting_weights_recent_samples(problem):
    X, Y = problem
    lam, alpha = 0.98, 1e-3
    rls = RLS(alpha=alpha, forgetting=lam).fit(X, Y)
    T = X.shape[0]
    wts = lam ** np.arange(T - 1, -1, -1)
    Xa = np.hstack([X, np.ones((T, 1))])
    A = (Xa * wts[:, None]).T @ Xa + lam ** T * alpha * np.eye(26)
    wa = np.linalg.solve(A, (Xa * wts[:, None]).T @ Y)
    np.testing.assert_allclose(rls.coef_, wa[:-1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make,name", [
    (lambda: Ridge(-1.0), "ridge"),
    (lambda: Ridge(1.0, solver="svd"), "solver"),
    (lambda: Ridge(1.0, chunk_size=0), "chunk_size"),
    (lambda: RLS(alpha=0.0), "alpha"),
    (lambda: RLS(forgetting=1.5), "forgetting"),
    (lambda: RLS(forgetting=0.0), "forgetting"),
])
def test_bad_arguments_are_rejected(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_bad_data_are_rejected(problem):
    X, Y = problem
    with pytest.raises(ValueError, match="Y"):
        Ridge().fit(X, Y[:-1])
    with pytest.raises(fastrnn.NotFittedError, match="fit"):
        Ridge().predict(X)
    with pytest.raises(ValueError, match="partial_fit"):
        Ridge().fit()
    r = Ridge().partial_fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        r.partial_fit(X[:, :3], Y)
    with pytest.raises(ValueError, match="features"):
        Ridge().fit(X, Y).predict(X[:, :3])


def test_empty_lists_are_named():
    with pytest.raises(ValueError, match="X and Y are empty"):
        Ridge().fit([], [])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data_are_named(bad):
    X = np.ones((5, 2))
    X[2, 1] = bad
    with pytest.raises(ValueError, match="X contains NaN or Inf"):
        Ridge().fit(X, np.ones(5))
    with pytest.raises(ValueError, match="Y contains NaN or Inf"):
        Ridge().fit(np.ones((5, 2)), np.where(np.arange(5) == 3, bad, 1.0))


def test_overflowing_gram_is_a_clear_error():
    X = np.array([[1e308], [1.0], [2.0]])
    with pytest.raises(ValueError, match="overflows"):
        Ridge(solver="cholesky").fit(X, np.ones(3))


# ------------------------------- the Gram matrix of the rows as they lie
def _ridge_data(T=400, F=30, O=2, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    X = np.tanh(rng.standard_normal((T, F))) + offset
    Y = X @ rng.standard_normal((F, O)) + 0.1 * rng.standard_normal((T, O)) + 3.0
    return X, Y


def _normal_equations_solution(X, Y, ridge):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    w = np.linalg.solve(Xc.T @ Xc + ridge * np.eye(X.shape[1]), Xc.T @ Yc)
    return w, Y.mean(0) - X.mean(0) @ w


@pytest.mark.parametrize("offset", [0.0, 1e4])   # the raw Gram, and the shifted copy
def test_ridge_fit_matches_the_normal_equations(offset):
    X, Y = _ridge_data(offset=offset)
    model = Ridge(1e-3).fit(X, Y)
    w, b = _normal_equations_solution(X, Y, 1e-3)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, b, rtol=1e-8)
    assert model.solver_used_ == "cholesky" and 0 < model.rcond_ <= 1


def test_a_few_columns_far_from_zero_keep_their_accuracy(monkeypatch):
    """Saturated units (a column near a constant) among centred ones: their
    Gram entries are made again from the shifted columns, not the shifted
    copy of everything, and the fit stays as exact as the normal equations."""
    X, Y = _ridge_data(F=40)
    X[:, [3, 17]] = 1e4 + 1e-2 * X[:, [3, 17]]
    Y = Y + 0.5 * X[:, [17]]
    redone = []
    redo = Ridge._redo_offset_columns

    def spy(X, Y, gram, columns, shift):
        redone.append(list(columns))
        return redo(X, Y, gram, columns, shift)

    monkeypatch.setattr(Ridge, "_redo_offset_columns", staticmethod(spy))
    model = Ridge(1e-3).fit(X, Y)
    assert redone == [[3, 17, 40, 41]]   # the two targets are far from zero too
    w, b = _normal_equations_solution(X, Y, 1e-3)
    # as exact as the shifted copy (~1e-14 here); cancelling the far columns'
    # products against each other would lose ~1e-9
    np.testing.assert_allclose(model.coef_, w, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(model.intercept_, b, rtol=1e-12)


def test_ridge_reads_columns_of_a_wider_buffer_in_place(monkeypatch):
    X, Y = _ridge_data()
    wide = np.zeros((X.shape[0], X.shape[1] + 7))
    wide[:, 3:3 + X.shape[1]] = X
    view = wide[:, 3:3 + X.shape[1]]
    seen = []
    raw = readout_module._readout.raw_gram

    def spy(x, y, gram, with_ones):
        seen.append(np.asarray(x))
        return raw(x, y, gram, with_ones)

    monkeypatch.setattr(readout_module._readout, "raw_gram", spy)
    got = Ridge(1e-3).fit(view, Y)
    assert len(seen) == 1 and np.shares_memory(seen[0], wide)
    want = Ridge(1e-3).fit(X.copy(), Y)
    np.testing.assert_array_equal(got.coef_, want.coef_)


def test_in_place_solve_leaves_the_accumulator_as_it_was():
    X, Y = _ridge_data(T=600)
    streamed = Ridge(1e-2)
    streamed.partial_fit(X[:300], Y[:300])
    before = streamed._gram_or_r.copy()
    streamed.fit()
    np.testing.assert_array_equal(streamed._gram_or_r, before)
    streamed.partial_fit(X[300:], Y[300:]).fit()
    whole = Ridge(1e-2).fit(X, Y)
    np.testing.assert_allclose(streamed.coef_, whole.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(streamed.intercept_, whole.intercept_, rtol=1e-10)


def test_nan_in_x_is_named_on_the_raw_path():
    X, Y = _ridge_data()
    X[5, 3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or Inf"):
        Ridge(1.0).fit(X, Y)


# ---------------------- iterative refinement of a one-shot fit (issue 14)
def _relative_error(coef, reference):
    return np.linalg.norm(coef - reference) / np.linalg.norm(reference)


def test_refinement_recovers_the_digits_the_normal_equations_lose():
    # cond(X_c^T X_c + ridge I) ~ 1e12: the normal equations keep ~4 digits
    X, Y = ill_conditioned(np.random.default_rng(1), smallest=1e-8)
    lam = 1e-12
    w, b = lstsq_ridge(X, Y, lam)
    refined = Ridge(lam, solver="cholesky").fit(X, Y)
    unrefined = Ridge(lam, solver="cholesky").partial_fit(X, Y).fit()
    assert refined.solver_used_ == "cholesky"
    assert _relative_error(refined.coef_, w) < 1e-7
    assert _relative_error(unrefined.coef_, w) > 1e3 * _relative_error(refined.coef_, w)
    np.testing.assert_allclose(refined.intercept_, b, rtol=1e-7)
    # "auto" needs no QR refit for it
    auto = Ridge(lam).fit(X, Y)
    assert auto.solver_used_ == "cholesky"
    np.testing.assert_array_equal(auto.coef_, refined.coef_)


def test_refinement_that_cannot_converge_hands_over_to_qr():
    # ridge 1e-16 is below the Gram matrix's rounding: the factor cannot
    # refine (each correction is as large as the last)
    X, Y = ill_conditioned(np.random.default_rng(1))
    lam = 1e-16
    w, _ = lstsq_ridge(X, Y, lam)
    auto = Ridge(lam).fit(X, Y)
    assert auto.solver_used_ == "qr"
    assert _relative_error(auto.coef_, w) < 1e-6
    # "cholesky" keeps what the refinement confirmed: never worse than the
    # normal equations alone
    chol = Ridge(lam, solver="cholesky").fit(X, Y)
    alone = Ridge(lam, solver="cholesky").partial_fit(X, Y).fit()
    assert chol.solver_used_ == "cholesky"
    assert _relative_error(chol.coef_, w) <= _relative_error(alone.coef_, w)


def test_an_inexact_gram_that_fails_is_made_again_exactly(monkeypatch):
    # offsets of 30 .. 190 spreads: a one-shot fit leaves them in the raw Gram
    # matrix, which at ridge 1e-14 is not even positive definite; the fit
    # makes it again as partial_fit does (shifted) and refines from that,
    # without a warning and without QR
    rng = np.random.default_rng(1)
    X, Y = ill_conditioned(rng)
    X = X - 0.3          # the offset 0.7 becomes 0.4
    lam = 1e-14
    w, _ = lstsq_ridge(X, Y, lam)
    limits = []
    accumulate = Ridge._accumulate

    def spy(self, *args, **kwargs):
        limits.append(kwargs.get("offset_limit", readout_module._RAW_OFFSET_LIMIT))
        return accumulate(self, *args, **kwargs)

    monkeypatch.setattr(Ridge, "_accumulate", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Ridge(lam).fit(X, Y)
    assert limits == [readout_module._REFINED_OFFSET_LIMIT, readout_module._RAW_OFFSET_LIMIT]
    assert model.solver_used_ == "cholesky"
    assert _relative_error(model.coef_, w) < 1e-6
    # a single output given as 1-D Y stays one
    single = Ridge(lam).fit(X, Y[:, 1])
    assert single.coef_.shape == (X.shape[1],) and np.ndim(single.intercept_) == 0
    np.testing.assert_allclose(single.coef_, model.coef_[:, 1], rtol=1e-6)


def _reservoir_problem(units=100, steps=3000, seed=3):
    from fastrnn.analysis.datasets import mackey_glass
    series = mackey_glass(steps + 1, discard=300)
    res = fastrnn.Reservoir(units, sr=0.9, lr=0.3, rc_connectivity=0.1, seed=seed)
    states = res.run(series[:steps])[100:].reshape(-1, units)
    return states, series[101:steps + 1].reshape(-1, 1)


def test_reservoir_states_take_one_syrk_and_come_out_refined(monkeypatch):
    """Mackey-Glass states (an input with an offset: units tens of spreads
    from zero): the raw rows' Gram matrix, no shifted copy (the chunked
    syrk of `gram_update` never runs), and after refinement far closer to
    the reference than the normal equations alone."""
    S, y = _reservoir_problem()
    assert (np.abs(S.mean(0)) > 8 * S.std(0)).sum() > 16   # the old limits' shifted copy
    lam = 1e-6
    Sc = S - S.mean(0)
    w = sla.lstsq(np.vstack([Sc, np.sqrt(lam) * np.eye(S.shape[1])]),
                  np.vstack([y - y.mean(0), np.zeros((S.shape[1], 1))]))[0]
    calls = []
    gram_update = readout_module._readout.gram_update
    raw_gram = readout_module._readout.raw_gram
    monkeypatch.setattr(readout_module._readout, "gram_update",
                        lambda *a: calls.append("chunk") or gram_update(*a))
    monkeypatch.setattr(readout_module._readout, "raw_gram",
                        lambda *a: calls.append("raw") or raw_gram(*a))
    model = Ridge(lam).fit(S, y)
    assert calls == ["raw"] and model.solver_used_ == "cholesky"
    alone = Ridge(lam).partial_fit(S, y).fit()
    assert _relative_error(model.coef_, w) < 1e-9
    assert _relative_error(model.coef_, w) < 1e-2 * _relative_error(alone.coef_, w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_refinement_gradient_against_numpy(dtype):
    rng = np.random.default_rng(4)
    wide = rng.standard_normal((301, 40)).astype(dtype) + 5
    x = wide[:, 3:33]                  # rows of a wider buffer, read in place
    y = rng.standard_normal((301, 2)).astype(dtype)
    shift_x, shift_y = x[:50].mean(0), y[:50].mean(0)
    w = rng.standard_normal((30, 2)).astype(dtype)
    offset = np.array([0.3, -0.2], dtype=dtype)
    start = rng.standard_normal((2, 30)).astype(dtype)
    gradient = start.copy()
    sums = readout_module._readout.refinement_gradient(x, y, shift_x, shift_y, w, offset,
                                                       gradient)
    x64, y64 = x.astype(np.float64) - shift_x, y.astype(np.float64) - shift_y
    r = y64 - x64 @ w.astype(np.float64) - offset
    tol = 1e-12 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(gradient, start + r.T @ x64, rtol=tol, atol=tol * 100)
    np.testing.assert_allclose(sums, r.sum(0), rtol=tol, atol=tol * 100)
    # one output takes the GEMV branch
    g1 = np.zeros((1, 30), dtype=dtype)
    readout_module._readout.refinement_gradient(x, y[:, :1], shift_x, shift_y[:1], w[:, :1].copy(),
                                                offset[:1], g1)
    np.testing.assert_allclose(g1[0], x64.T @ r[:, 0], rtol=tol, atol=tol * 100)


def test_normal_factor_solves_and_gives_the_accumulator_back():
    X, Y = _ridge_data(T=200, F=12)
    model = Ridge(0.5).partial_fit(X, Y)
    gram = model._gram_or_r
    before = gram.copy()
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    A = Xc.T @ Xc + 0.5 * np.eye(12)
    with readout_module._readout.NormalFactor(gram, 1, 12, 0.5) as factor:
        assert factor.ok and 0 < factor.rcond <= 1
        np.testing.assert_allclose(factor.cross(), (Xc.T @ Yc).T, rtol=1e-10, atol=1e-9)
        rhs = np.random.default_rng(5).standard_normal((3, 12))
        solved = rhs.copy()
        factor.solve(solved)
        np.testing.assert_allclose(solved, np.linalg.solve(A, rhs.T).T, rtol=1e-10)
    np.testing.assert_array_equal(gram, before)
    with pytest.raises(ValueError, match="no factor"):
        factor.solve(rhs.copy())
    # not positive definite: no factor, and the accumulator still as it was
    singular = np.zeros((4, 4))
    singular[0, 0] = 3.0
    with readout_module._readout.NormalFactor(singular, 1, 2, 0.0) as factor:
        assert not factor.ok and factor.rcond == 0
    np.testing.assert_array_equal(singular[1:, 1:], 0)
