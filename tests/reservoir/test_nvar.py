"""NVAR and NVARForecaster (Gauthier et al. (2021), next-generation reservoir
computing) against an independent NumPy construction of the features and of
the closed loop."""
import itertools

import numpy as np
import pytest

import fastrnn
from fastrnn import NVAR, NVARForecaster, Ridge


def reference_features(X, delay, order, strides):
    """The features written out from the definition: x[t - j s] (zeros
    before the series) for j < k, then every product of `order` of them
    over itertools.combinations_with_replacement, left to right."""
    T, D = X.shape
    rows = []
    for t in range(T):
        lin = np.concatenate([X[t - j * strides] if t - j * strides >= 0 else np.zeros(D)
                              for j in range(delay)])
        mono = []
        for combo in itertools.combinations_with_replacement(range(lin.size), order):
            p = lin[combo[0]]
            for i in combo[1:]:
                p = p * lin[i]
            mono.append(p)
        rows.append(np.concatenate([lin, mono]))
    return np.array(rows)


def reference_generate(history, coef, intercept, delay, order, strides, n, increment=True):
    """The closed loop in NumPy, one step at a time."""
    window = list(history)
    index = np.array(list(itertools.combinations_with_replacement(
        range(delay * history.shape[1]), order)))
    for _ in range(n):
        lin = np.concatenate([window[-1 - j * strides] for j in range(delay)])
        feat = np.concatenate([lin, np.prod(lin[index], axis=1)])
        y = feat @ coef + intercept
        window.append(window[-1] + y if increment else y)
    return np.array(window[len(history):])


def lorenz_paper_data(n):
    """Lorenz-63 sampled every 0.025 as Gauthier et al. (2021) made it:
    SciPy's RK23 at its default tolerances from their initial point. (On a
    trajectory integrated accurately, e.g. RK4 at 0.0025, the paper's ridge
    of 2.5e-6 gives a closed loop that diverges within a Lyapunov time, for
    ReservoirPy's NVAR too: the integration error of RK23 acts as a
    regulariser.)"""
    from scipy.integrate import solve_ivp

    def lorenz(t, v, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
        x, y, z = v
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    t = np.arange(n) * 0.025
    sol = solve_ivp(lorenz, (0.0, t[-1]), [17.67715816276679, 12.931379185960404,
                                            43.91404334248268], t_eval=t, method="RK23")
    return sol.y.T.copy()


@pytest.mark.parametrize("delay,order,strides", [(1, 1, 1), (2, 2, 1), (3, 2, 2),
                                                 (2, 3, 3), (4, 4, 1)])
def test_features_equal_the_definition_bit_for_bit(delay, order, strides):
    X = np.random.default_rng(delay * 10 + order).normal(size=(23, 3))
    got = NVAR(delay, order, strides).run(X)
    want = reference_features(X, delay, order, strides)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n_linear,order", [(1, 1), (1, 5), (2, 1), (6, 2), (7, 4), (30, 3)])
def test_monomial_count(n_linear, order):
    from math import comb
    from fastrnn.reservoir.nvar import _monomial_count
    want = comb(n_linear + order - 1, order)
    assert _monomial_count(n_linear, order, 10**9) == want
    assert _monomial_count(n_linear, order, want - 1) == want


def test_sizes_and_monomial_order():
    nv = NVAR(2, 2, input_dim=3)
    assert (nv.linear_dim, nv.nonlinear_dim, nv.output_dim) == (6, 21, 27)
    assert nv.history_len == 2
    assert [tuple(r) for r in nv.monomials] == list(
        itertools.combinations_with_replacement(range(6), 2))


def test_float32_features():
    X = np.random.default_rng(1).normal(size=(17, 2)).astype(np.float32)
    got = NVAR(3, 2, 2, dtype=np.float32).run(X)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference_features(X.astype(np.float64), 3, 2, 2),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cuts", [[1], [2, 3], [5, 6, 7, 20], [0, 9]])
def test_chunked_runs_equal_one_run(cuts):
    X = np.random.default_rng(2).normal(size=(30, 2))
    whole = NVAR(3, 2, 3).run(X)
    nv = NVAR(3, 2, 3)
    parts = [nv.run(chunk) for chunk in np.split(X, cuts)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(nv.history, X[-nv.history_len:])


def test_reset_forgets_the_history():
    X = np.random.default_rng(3).normal(size=(12, 2))
    nv = NVAR(2, 2, 2)
    first = nv.run(X)
    assert not np.array_equal(nv.run(X), first)
    np.testing.assert_array_equal(nv.reset().run(X), first)


def test_history_setter_checks_its_shape():
    nv = NVAR(2, 2, 2, input_dim=2)
    with pytest.raises(ValueError, match="history"):
        nv.history = np.zeros((2, 2))
    nv.history = np.ones((3, 2))
    assert nv.run(np.zeros((1, 2)))[0, 2] == 1.0


@pytest.mark.parametrize("increment", [True, False])
def test_generate_equals_a_numpy_loop(increment):
    rng = np.random.default_rng(4)
    delay, order, strides, D = 3, 2, 2, 2
    nv = NVAR(delay, order, strides)
    model = NVARForecaster(nv, Ridge(1e-3), increment=increment)
    X = np.sin(np.arange(200)[:, None] * np.array([0.1, 0.17])) + 0.01 * rng.normal(size=(200, D))
    model.fit(X, warmup=10)
    history = nv.history.copy()
    got = model.generate(25)
    want = reference_generate(history, model.readout.coef_, model.readout.intercept_,
                              delay, order, strides, 25, increment)
    # the product's summation order is BLAS's in NumPy, the small kernel's here
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # the generated steps became the history: generating on = one longer run
    more = model.generate(5)
    nv.history = history
    np.testing.assert_array_equal(np.concatenate([got, more]), model.generate(30))


def test_predict_is_one_step_ahead():
    X = lorenz_paper_data(700)
    model = NVARForecaster(NVAR(2, 2), Ridge(2.5e-6)).fit(X[:601], warmup=200)
    nv = model.nvar
    pred = model.predict(X[601:650])
    feats = reference_features(X[599:650], 2, 2, 1)[2:]
    want = X[601:650] + (feats @ model.readout.coef_ + model.readout.intercept_)
    np.testing.assert_allclose(pred, want, rtol=1e-12, atol=1e-12)
    assert np.abs(pred[:-1] - X[602:650]).max() < 1e-2
    np.testing.assert_array_equal(nv.history, X[648:650])


def test_lorenz_forecast_over_one_lyapunov_time():
    # Gauthier et al. (2021): dt = 0.025, 200 warm-up and 400 training
    # points, k = 2, s = 1, quadratic monomials, ridge 2.5e-6, increments.
    X = lorenz_paper_data(700)
    model = NVARForecaster(NVAR(2, 2, 1), Ridge(2.5e-6)).fit(X[:601], warmup=200)
    lyapunov_steps = int(round(1 / 0.9056 / 0.025))
    forecast = model.generate(lyapunov_steps)
    err = forecast - X[601:601 + lyapunov_steps]
    # the paper's NRMSE (its code's normalisation by the summed variances);
    # it reports about 2e-3 on its test segments
    nrmse = np.sqrt(np.mean(err ** 2) / X.var(axis=0).sum())
    assert nrmse < 5e-3, nrmse


@pytest.mark.parametrize("call,error,match", [
    (lambda: NVAR(0, 2), ValueError, "delay"),
    (lambda: NVAR(2, 0), ValueError, "order"),
    (lambda: NVAR(2, 2, 0), ValueError, "strides"),
    (lambda: NVAR(2.0, 2), TypeError, "delay"),
    (lambda: NVAR(2, "2"), TypeError, "order"),
    (lambda: NVAR(2, 2, True), TypeError, "strides"),
    (lambda: NVAR(2, 2, input_dim=0), ValueError, "input_dim"),
    (lambda: NVAR(2, 2, dtype=np.int32), TypeError, "dtype"),
    (lambda: NVAR(2, 9, input_dim=40), ValueError, "features"),
    (lambda: NVAR(2, 2, 2**31), ValueError, "strides"),
    (lambda: NVAR(2, 2**31 - 1, input_dim=1000), ValueError, "features"),
    (lambda: NVAR(1, 2**30, input_dim=1), ValueError, "features"),
    (lambda: NVAR(2**16, 2, 2**16), ValueError, "delay - 1"),
    (lambda: NVAR(2, 2, input_dim=3).run(np.zeros((4, 2))), ValueError, "X"),
    (lambda: NVAR(2, 2).run(np.zeros(4)), ValueError, "X"),
    (lambda: NVAR(2, 2).run(np.zeros((4, 0))), ValueError, "X"),
    (lambda: NVAR(2, 2).run(np.array([["a"]])), TypeError, "X"),
    (lambda: NVAR(2, 2).output_dim, fastrnn.NotFittedError, "input size"),
    (lambda: NVARForecaster("nvar", Ridge()), TypeError, "nvar"),
    (lambda: NVARForecaster(NVAR(2, 2), fastrnn.RLS()), TypeError, "readout"),
    (lambda: NVARForecaster(NVAR(2, 2, dtype=np.float32), Ridge()), TypeError, "dtype"),
    (lambda: NVARForecaster(NVAR(2, 2), Ridge(), increment=1), TypeError, "increment"),
    (lambda: NVARForecaster(NVAR(2, 2), Ridge()).fit(np.zeros((5, 2)), warmup=4),
     ValueError, "warmup"),
    (lambda: NVARForecaster(NVAR(2, 2), Ridge()).fit(np.zeros((5, 2)), warmup=-1),
     ValueError, "warmup"),
    (lambda: NVARForecaster(NVAR(2, 2), Ridge()).fit(np.full((5, 2), np.nan)),
     ValueError, "X"),
    (lambda: NVARForecaster(NVAR(2, 2, input_dim=2), Ridge()).generate(3),
     fastrnn.NotFittedError, "fit"),
    (lambda: NVARForecaster(NVAR(2, 2), Ridge(1.0)).fit(np.ones((9, 2)) * np.arange(9)[:, None])
     .generate(-1), ValueError, "n_steps"),
])
def test_bad_arguments_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_readout_fitted_elsewhere_is_refused_before_the_loop():
    model = NVARForecaster(NVAR(2, 2), Ridge())
    model.fit(np.random.default_rng(5).normal(size=(30, 2)))
    model.readout.fit(np.eye(4, 3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="readout"):
        model.generate(2)


def test_save_load_round_trip_is_bit_exact(tmp_path):
    X = lorenz_paper_data(700)
    model = NVARForecaster(NVAR(2, 2, 1), Ridge(2.5e-6)).fit(X[:601], warmup=200)
    fastrnn.save(model, tmp_path / "nvar.npz")
    loaded = fastrnn.load(tmp_path / "nvar.npz")
    assert isinstance(loaded, NVARForecaster) and loaded.increment
    np.testing.assert_array_equal(loaded.nvar.history, model.nvar.history)
    np.testing.assert_array_equal(loaded.generate(100), model.generate(100))

    nv = NVAR(3, 2, 2)
    nv.run(X[:10])
    fastrnn.save(nv, tmp_path / "features.npz")
    again = fastrnn.load(tmp_path / "features.npz")
    np.testing.assert_array_equal(again.run(X[10:40]), nv.run(X[10:40]))
    fastrnn.save(NVAR(2, 3), tmp_path / "fresh.npz")
    assert fastrnn.load(tmp_path / "fresh.npz").input_dim is None


def test_float32_forecaster_follows_float64():
    X = lorenz_paper_data(700)
    models = [NVARForecaster(NVAR(2, 2, dtype=dt), Ridge(2.5e-6, solver="qr", dtype=dt)).fit(
        X[:601].astype(dt), warmup=200) for dt in (np.float32, np.float64)]
    f32, f64 = (m.generate(10) for m in models)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, f64, rtol=0, atol=2e-3)


def test_a_saved_history_of_the_wrong_shape_is_refused():
    nv = NVAR(3, 2, 2, input_dim=2)
    config, arrays = nv._save_config(), nv._save_arrays()
    with pytest.raises(ValueError, match="history"):
        NVAR._from_saved(config, {"history": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="delay"):
        NVAR._from_saved(dict(config, delay=0), arrays)
    with pytest.raises(ValueError, match="input_dim"):
        NVAR._from_saved(dict(config, input_dim=None), arrays)
