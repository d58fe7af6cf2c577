"""fastrnn.sklearn: scikit-learn's estimator checks, equality with fastrnn's own
classes, Pipeline and GridSearchCV, lists of series, and errors."""
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone                                    # noqa: E402
from sklearn.exceptions import NotFittedError                     # noqa: E402
from sklearn.metrics import r2_score                              # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold           # noqa: E402
from sklearn.pipeline import make_pipeline                        # noqa: E402
from sklearn.preprocessing import StandardScaler                  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastrnn                                                    # noqa: E402
from child_process import run_python                               # noqa: E402
from fastrnn import datasets                                      # noqa: E402
from fastrnn.cli.demo import sine_classes                             # noqa: E402
from fastrnn.sklearn import (                                     # noqa: E402
    ESNClassifier, ESNRegressor, RNNClassifier, RNNRegressor, is_series_list,
)

# The reservoirs are kept at 50 units so that the ~200 fits of the checks stay quick.
CHECKED = [ESNRegressor(units=50), ESNClassifier(units=50), RNNRegressor(), RNNClassifier()]

ORDER_REASON = (
    "by design: a 2-D X is one time series whose rows are consecutive time steps, and the "
    "recurrent state carries memory from row to row, so the prediction for a row depends on "
    "the rows before it; predicting on a subset or a permutation of the rows is predicting "
    "on a different series")


def expected_failed_checks(estimator):
    return {"check_methods_subset_invariance": ORDER_REASON,
            "check_methods_sample_order_invariance": ORDER_REASON}


try:
    with_checks = parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
    MARK_BY_HAND = False
except TypeError:   # scikit-learn < 1.6 has no expected_failed_checks
    with_checks = parametrize_with_checks(CHECKED)
    MARK_BY_HAND = True


@with_checks
def test_sklearn_estimator_checks(estimator, check):
    name = getattr(check, "func", check).__name__
    if MARK_BY_HAND and name in expected_failed_checks(estimator):
        pytest.xfail(expected_failed_checks(estimator)[name])
    check(estimator)


def _outputs(model, X):
    """The finest output the model has: scores for classifiers, values for regressors."""
    for name in ("decision_function", "predict_proba", "predict"):
        if hasattr(model, name):
            return getattr(model, name)(X)


@pytest.mark.parametrize("estimator", CHECKED, ids=lambda e: type(e).__name__)
def test_the_expected_failures_do_fail(estimator):
    """The two checks marked as failing fail for the reason given: outputs on
    reordered rows differ from the reordered outputs."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] > 0).astype(int) if "Classifier" in type(estimator).__name__ else X[:, 0]
    model = clone(estimator).set_params(random_state=0).fit(X, y)
    order = rng.permutation(40)
    assert not np.allclose(_outputs(model, X)[order], _outputs(model, X[order]))
    assert not np.allclose(_outputs(model, X)[20:], _outputs(model, X[20:]))


# ------------------------------------------------------------- input kinds
def test_is_series_list():
    assert is_series_list([np.zeros((3, 2)), np.zeros((5, 2))])
    assert not is_series_list(np.zeros((3, 2)))
    assert not is_series_list(np.zeros((3, 2)).tolist())   # rows: one series
    assert not is_series_list([])
    with pytest.raises(ValueError, match=r"X\[1\] is 1-dimensional"):
        is_series_list([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match=r"list\(X\)"):
        is_series_list(np.zeros((4, 3, 2)))


# ---------------------------------------------- equal to fastrnn's classes
RES = dict(sr=0.7, lr=0.4, input_scaling=0.5, rc_connectivity=0.2, input_connectivity=0.5,
           bias_scaling=0.3, activation="tanh")


def _mg(n, seed=0):
    return datasets.mackey_glass(n, seed=seed) - 0.9


def test_esn_regressor_equals_esn_on_one_series():
    s = _mg(700)
    model = ESNRegressor(units=80, ridge=1e-7, warmup=50, input_to_readout=True,
                         random_state=3, **RES).fit(s[:500], s[1:501])
    esn = fastrnn.ESN(fastrnn.Reservoir(80, seed=3, **RES), fastrnn.Ridge(1e-7),
                      input_to_readout=True).fit(s[:500], s[1:501], warmup=50)
    np.testing.assert_array_equal(model.esn_.readout.coef_, esn.readout.coef_)
    esn.reset()
    expected = esn.run(s[500:-1])
    got = model.predict(s[500:-1])
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (199, 1)
    # predict starts from the zero state: good once the transient has passed,
    # and score, like fit, leaves out the first warmup steps
    assert r2_score(s[551:], got[50:]) > 0.99
    assert model.score(s[500:-1], s[501:]) == r2_score(s[551:], got[50:])


def test_esn_regressor_equals_esn_on_a_list_of_series():
    rng = np.random.default_rng(1)
    X = [rng.uniform(-1, 1, (T, 2)) for T in (60, 90, 75)]
    Y = [np.stack([np.roll(x[:, 0], 2), x[:, 1] ** 2], axis=1) for x in X]
    model = ESNRegressor(units=40, ridge=1e-5, warmup=10, random_state=7, **RES).fit(X, Y)
    esn = fastrnn.ESN(fastrnn.Reservoir(40, seed=7, **RES), fastrnn.Ridge(1e-5))
    esn.fit(X, Y, warmup=10)
    pred = model.predict(X)
    assert isinstance(pred, list) and [p.shape for p in pred] == [(60, 2), (90, 2), (75, 2)]
    for x, p in zip(X, pred):
        esn.reset()
        np.testing.assert_array_equal(p, esn.run(x))
    # each series starts from the zero state: alone or in a list, the same
    np.testing.assert_array_equal(model.predict(X[1]), pred[1])
    # score: R^2 over the steps after warmup of every series, pooled
    pooled = r2_score(np.concatenate([y[10:] for y in Y]), np.concatenate([p[10:] for p in pred]))
    assert model.score(X, Y) == pooled
    w = [np.arange(len(x), dtype=float) for x in X]
    assert model.score(X, Y, sample_weight=w) == r2_score(
        np.concatenate([y[10:] for y in Y]), np.concatenate([p[10:] for p in pred]),
        sample_weight=np.concatenate([v[10:] for v in w]))
    with pytest.raises(ValueError, match=r"y\[0\] must have more than warmup=10"):
        model.score([x[:10] for x in X], [y[:10] for y in Y])
    # 1-D targets give 1-D predictions
    pred1 = ESNRegressor(units=40, random_state=7).fit(X, [y[:, 0] for y in Y]).predict(X)
    assert [p.shape for p in pred1] == [(60,), (90,), (75,)]


@pytest.mark.parametrize("state", ["last", "mean"])
def test_esn_classifier_equals_reservoir_and_ridge(state):
    x, labels = sine_classes(60, 30, seed=0)
    X = [x[:, i].astype(np.float64) for i in range(60)]
    names = np.array(["slow", "mid", "fast"])[labels]
    model = ESNClassifier(units=50, ridge=1e-4, warmup=5, state=state, random_state=2,
                          **RES).fit(X, names)
    res = fastrnn.Reservoir(50, seed=2, **RES)
    states = res.run(X)
    feats = np.stack([s[-1] if state == "last" else s[5:].mean(axis=0) for s in states])
    classes = np.array(["fast", "mid", "slow"])           # sorted, as LabelEncoder
    onehot = (names[:, None] == classes[None, :]).astype(float)
    ridge = fastrnn.Ridge(1e-4).fit(feats, onehot)
    np.testing.assert_array_equal(model.classes_, classes)
    np.testing.assert_array_equal(model.decision_function(X), ridge.predict(feats))
    np.testing.assert_array_equal(model.predict(X), classes[ridge.predict(feats).argmax(1)])


def test_rnn_regressor_equals_train_loop():
    """random_state=k: one default_rng(k) draws the layer, then the output
    layer, then shuffles; Adam with the given step and clipping."""
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((25, 2)) for _ in range(6)]
    Y = [np.cumsum(x[:, :1], axis=0) * 0.1 for x in X]
    kw = dict(hidden_size=8, epochs=4, batch_size=4, learning_rate=0.02, clip_norm=0.5,
              tbptt=10)
    model = RNNRegressor("gru", random_state=5, **kw).fit(X, Y)

    g = np.random.default_rng(5)
    net = fastrnn.Sequential(fastrnn.GRU(2, 8, dtype=np.float64, seed=g),
                             fastrnn.Linear(8, 1, dtype=np.float64, seed=g))
    opt = fastrnn.Adam(net, lr=0.02, clip_norm=0.5)
    hist = fastrnn.train(net, np.stack(X, axis=1), np.stack(Y, axis=1), optimizer=opt,
                         epochs=4, batch_size=4, tbptt=10, seed=g, progress=False)
    assert model.loss_curve_ == hist["loss"]
    expected = net.forward(np.stack(X, axis=1))[0]
    for i, p in enumerate(model.predict(X)):
        np.testing.assert_array_equal(p, expected[:, i])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_rnn_classifier_equals_train_loop(cell):
    x, labels = sine_classes(40, 20, seed=1)
    X = [x[:, i] for i in range(40)]
    model = RNNClassifier(cell, hidden_size=6, epochs=3, batch_size=8, random_state=9).fit(
        X, labels)
    g = np.random.default_rng(9)
    layer = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM}[cell](1, 6, dtype=np.float64, seed=g)
    net = fastrnn.Sequential(layer, fastrnn.Linear(6, 3, dtype=np.float64, seed=g))
    opt = fastrnn.Adam(net, lr=0.01, clip_norm=1.0)
    fastrnn.train(net, x.astype(np.float64), labels, loss="nll", optimizer=opt, epochs=3,
                  batch_size=8, seed=g, progress=False)
    logits = net.forward(x.astype(np.float64))[0][-1]
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(X), proba, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), logits.argmax(1))


# --------------------------------------------------- learning, many series
def test_classifiers_learn_sequence_classes_of_different_lengths():
    x, labels = sine_classes(240, 40, seed=0)
    X = [x[: 20 + 10 * (i % 3), i] for i in range(240)]     # 20, 30 or 40 steps
    xt, lt = sine_classes(90, 40, seed=1)
    Xt = [xt[: 25 + 5 * (i % 3), i] for i in range(90)]
    esn = ESNClassifier(units=100, bias_scaling=1.0, state="mean", warmup=5, random_state=0)
    assert esn.fit(X, labels).score(Xt, lt) > 0.9
    rnn = RNNClassifier("gru", state="mean", epochs=8, random_state=0)
    assert rnn.fit(X, labels).score(Xt, lt) > 0.9
    assert rnn.predict_proba(Xt).shape == (90, 3)
    np.testing.assert_allclose(rnn.predict_proba(Xt).sum(axis=1), 1.0)
    # a series predicted alone gets the label it gets in a list
    assert rnn.predict(Xt[4:5])[0] == rnn.predict(Xt)[4]


def test_per_step_classification_of_one_series():
    rng = np.random.default_rng(0)
    regime = np.repeat(rng.integers(0, 2, 60), 25)            # noise level, 25 steps each
    X = (rng.standard_normal(1500) * np.where(regime, 1.5, 0.3))[:, None]
    esn = ESNClassifier(units=100, bias_scaling=1.0, lr=0.5, ridge=1e-3, warmup=20,
                        random_state=0)
    pred = esn.fit(X[:1000], regime[:1000]).predict(X[1000:])
    assert pred.shape == (500,) and np.mean(pred == regime[1000:]) > 0.9
    assert esn.score(X[1000:], regime[1000:]) == np.mean(pred[20:] == regime[1020:])
    # the same series in a list of one: a list of one per-step label array
    listed = esn.predict([X[1000:]])
    assert isinstance(listed, list) and len(listed) == 1
    np.testing.assert_array_equal(listed[0], pred)
    seq = ESNClassifier(units=20).fit([X[:50], X[50:100]], [0, 1])
    with pytest.raises(ValueError, match=r"list of \(n_steps, n_features\) arrays"):
        seq.predict(X)


@pytest.mark.parametrize("cls", [ESNClassifier, RNNClassifier])
def test_per_step_classification_of_many_series(cls):
    rng = np.random.default_rng(1)
    lengths = [120, 80, 150, 100, 90, 110]
    regimes = [np.repeat(rng.integers(0, 2, T // 10 + 1), 10)[:T] for T in lengths]
    X = [(rng.standard_normal(len(r)) * np.where(r, 1.5, 0.3))[:, None] for r in regimes]
    names = [np.array(["quiet", "loud"])[r] for r in regimes]
    kw = (dict(units=100, bias_scaling=1.0, lr=0.5, ridge=1e-3, warmup=10) if
          cls is ESNClassifier else dict(cell="gru", epochs=30))
    model = cls(random_state=0, **kw).fit(X[:4], names[:4])
    assert model.per_step_
    np.testing.assert_array_equal(model.classes_, ["loud", "quiet"])
    pred = model.predict(X[4:])
    assert [p.shape for p in pred] == [(90,), (110,)]
    skip = kw.get("warmup", 0)
    hits = np.concatenate([p[skip:] == n[skip:] for p, n in zip(pred, names[4:])])
    assert model.score(X[4:], names[4:]) == np.mean(hits) > 0.8
    if cls is ESNClassifier:   # equal to the reservoir's states and a ridge readout
        res = fastrnn.Reservoir(100, bias_scaling=1.0, lr=0.5, seed=0)
        states = res.run(X[:4])
        onehot = [np.stack([n == "loud", n == "quiet"], axis=1).astype(float) for n in names[:4]]
        ridge = fastrnn.Ridge(1e-3).fit(np.concatenate([s[10:] for s in states]),
                                        np.concatenate([o[10:] for o in onehot]))
        res.reset()
        for p, s in zip(model.decision_function(X[4:]), res.run(X[4:])):
            out = ridge.predict(s)
            np.testing.assert_array_equal(p, out[:, 1] - out[:, 0])


def test_rnn_regressor_learns_a_running_sum():
    rng = np.random.default_rng(0)
    X = [rng.uniform(-1, 1, (T, 1)) for T in [30] * 20 + [45] * 20]
    Y = [np.cumsum(x[:, 0]) * 0.2 for x in X]
    model = RNNRegressor("lstm", epochs=40, learning_rate=0.02, random_state=0).fit(X, Y)
    assert len(model.loss_curve_) == model.n_iter_ == 40
    assert model.loss_curve_[-1] < 0.2 * model.loss_curve_[0]
    pred = model.predict(X)
    assert [p.shape for p in pred] == [(len(x),) for x in X]
    assert model.score(X, Y) > 0.8


# ------------------------------------------------- Pipeline and GridSearchCV
def test_pipeline_scaler_and_esn():
    s = datasets.mackey_glass(800, seed=1) * 100.0 + 5.0     # badly scaled
    pipe = make_pipeline(StandardScaler(), ESNRegressor(units=100, ridge=1e-8, warmup=100,
                                                        random_state=0))
    pipe.fit(s[:600], s[1:601, 0])
    pred = pipe.predict(s[:-1])                              # from the zero state again
    assert r2_score(s[601:, 0], pred[600:]) > 0.99            # the held-out steps
    scaler = StandardScaler().fit(s[:600])
    alone = ESNRegressor(units=100, ridge=1e-8, warmup=100, random_state=0)
    alone.fit(scaler.transform(s[:600]), s[1:601, 0])
    np.testing.assert_array_equal(pred, alone.predict(scaler.transform(s[:-1])))


def test_grid_search_esn_regressor_on_mackey_glass_with_two_jobs():
    s = _mg(1200, seed=0)
    X = [s[i:i + 199] for i in range(0, 1200, 200)]           # six series of 199 steps
    Y = [s[i + 1:i + 200] for i in range(0, 1200, 200)]       # one step ahead
    grid = {"sr": [0.5, 1.1], "lr": [0.3, 1.0], "ridge": [1e-8, 1e-1]}
    search = GridSearchCV(ESNRegressor(units=50, warmup=20, random_state=0), grid, cv=KFold(3),
                          n_jobs=2).fit(X, Y)
    assert len(search.cv_results_["params"]) == 8
    assert search.best_score_ > 0.99
    # every combination of sr, lr and ridge reached the model: eight different scores
    assert len(set(search.cv_results_["mean_test_score"])) == 8
    # the refitted model is the model fitted with the best parameters
    best = ESNRegressor(units=50, warmup=20, random_state=0, **search.best_params_).fit(X, Y)
    np.testing.assert_array_equal(search.predict(X[0]), best.predict(X[0]))
    # a worker process computed what this process computes
    train, test = next(KFold(3).split(X))
    local = ESNRegressor(units=50, warmup=20, random_state=0, **search.cv_results_["params"][0])
    local.fit([X[i] for i in train], [Y[i] for i in train])
    # (to rounding: the workers' BLAS runs on one thread, this process's on two)
    assert local.score([X[i] for i in test], [Y[i] for i in test]) == \
        pytest.approx(search.cv_results_["split0_test_score"][0], rel=1e-9)


def test_grid_search_esn_classifier_with_two_jobs():
    x, labels = sine_classes(120, 30, seed=0)
    X = [x[:, i] for i in range(120)]
    grid = {"sr": [0.5, 0.9], "lr": [0.3, 1.0], "ridge": [1e-6, 1e-2]}
    search = GridSearchCV(ESNClassifier(units=60, bias_scaling=1.0, state="mean",
                                        random_state=0), grid, cv=3, n_jobs=2).fit(X, labels)
    assert search.best_score_ > 0.9
    xt, lt = sine_classes(60, 30, seed=5)
    assert search.score([xt[:, i] for i in range(60)], lt) > 0.9


# ------------------------------------------------------------------ errors
ALL = [ESNRegressor(units=20), ESNClassifier(units=20), RNNRegressor(epochs=1),
       RNNClassifier(epochs=1)]


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_not_fitted(estimator):
    X = np.zeros((5, 2))
    with pytest.raises(NotFittedError):
        estimator.predict(X)
    with pytest.raises(NotFittedError):
        estimator.predict([X, X])
    with pytest.raises(NotFittedError):
        estimator.score(X, np.zeros(5))


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_wrong_shapes(estimator):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    y = (X[:, 0] > 0).astype(int)
    model = clone(estimator).fit(X, y)
    with pytest.raises(ValueError, match="3 features.*expecting 2"):
        model.predict(rng.standard_normal((10, 3)))
    with pytest.raises(ValueError, match="1D|1-D|2D"):
        model.predict(X[:, 0])
    with pytest.raises(ValueError, match="3-D array"):
        model.predict(X[None])
    with pytest.raises(ValueError, match="inconsistent|samples"):
        clone(estimator).fit(X, y[:-1])
    series = [X[:10], X[10:]]
    with pytest.raises(ValueError, match="same number of features"):
        clone(estimator).fit([X[:10], X[10:, :1]], [y[:10], y[10:]])
    with pytest.raises(ValueError, match=r"X\[1\].*NaN|NaN.*X\[1\]|X\[1\]"):
        bad = X[10:].copy()
        bad[3, 1] = np.nan
        clone(estimator).fit([X[:10], bad], [y[:10], y[10:]] if "Regressor" in
                             type(estimator).__name__ else [0, 1])
    if "Regressor" in type(estimator).__name__:
        with pytest.raises(ValueError, match="list of 2 arrays"):
            clone(estimator).fit(series, y)
        with pytest.raises(ValueError, match=r"y\[1\] must have shape \(20,\)"):
            clone(estimator).fit(series, [y[:10], y[:10]])
    else:
        with pytest.raises(ValueError, match="one label per series"):
            clone(estimator).fit(series, [0, 1, 1])
        with pytest.raises(ValueError, match="state must be"):
            clone(estimator).set_params(state="first").fit(series, [0, 1])
        # fitted with a label per step: a list of series gets a list of labels
        listed = model.predict(series)
        assert [p.shape for p in listed] == [(10,), (20,)]


def test_bad_hyperparameters_raise_in_fit_not_init():
    X, y = np.zeros((10, 1)), np.arange(10.0)
    with pytest.raises(ValueError, match="sr"):
        ESNRegressor(sr=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="warmup"):
        ESNRegressor(units=10, warmup=10).fit(X, y)
    with pytest.raises(ValueError, match="cell"):
        RNNRegressor(cell="transformer").fit(X, y)
    with pytest.raises(ValueError, match="epochs"):
        RNNRegressor(epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="warmup=5"):
        ESNClassifier(units=10, state="mean", warmup=5).fit([X, X[:4]], [0, 1])


# ------------------------------------------------------ optional dependency
def _run(code):
    return run_python(["-c", code])


def test_import_fastrnn_does_not_import_sklearn():
    out = _run("import sys, fastrnn; print('sklearn' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_clear_error_without_sklearn():
    # None in sys.modules makes `import sklearn` fail as if it were not installed.
    out = _run("import sys; sys.modules['sklearn'] = None\n"
               "import fastrnn\n"
               "try:\n"
               "    import fastrnn.sklearn\n"
               "except ModuleNotFoundError as exc:\n"
               "    print(exc.name, '|', exc)\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("sklearn |")
    assert "pip install scikit-learn" in out.stdout
