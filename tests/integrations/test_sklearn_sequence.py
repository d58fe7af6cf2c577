"""fastrnn.sklearn.ESNSequenceClassifier: equal to its parts (the encoder and a
ridge readout), any readout, the estimator contract on lists of series
(clone, GridSearchCV, pickling), reproducibility, and errors.

scikit-learn's own estimator checks feed 2-D (n_samples, n_features) tables,
which a classifier of whole series refuses (a 2-D X is one series, see the
module docstring); the contract is checked here on lists of series."""
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone                                  # noqa: E402
from sklearn.exceptions import NotFittedError                   # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge as SkRidge  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier              # noqa: E402

import fastrnn                                                  # noqa: E402
from fastrnn.reservoir.classification import ESNSequenceEncoder  # noqa: E402
from fastrnn.sklearn import ESNSequenceClassifier               # noqa: E402


def _sines(n, classes=3, seed=0):
    """Noisy two-channel sines of 8 to 30 steps whose frequency and offset
    are the class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    X = []
    for c in y:
        t = np.arange(rng.integers(8, 31))[:, None] + rng.uniform(0, 6)
        X.append(np.hstack([np.sin(0.25 * (c + 1) * t), np.cos(0.25 * (c + 1) * t)])
                 + 0.3 * c + 0.1 * rng.standard_normal((len(t), 2)))
    return X, np.array(["low", "mid", "high"])[y] if classes == 3 else y


SMALL = dict(units=30, input_connectivity=0.5, random_state=0)


def test_equals_the_encoder_and_a_ridge_readout():
    X, y = _sines(40)
    model = ESNSequenceClassifier(ridge=0.5, pca_components=6, **SMALL).fit(X, y)
    p = model.get_params()
    encoder = ESNSequenceEncoder(
        fastrnn.Reservoir(30, sr=p["sr"], lr=p["lr"], input_scaling=p["input_scaling"],
                          input_connectivity=0.5, seed=0),
        representation=p["representation"], bidirectional=p["bidirectional"], pca_components=6,
        embedding_ridge=p["embedding_ridge"], warmup=p["warmup"])
    features = encoder.fit_transform(X)
    np.testing.assert_array_equal(model.transform(X), features)
    codes = np.searchsorted(model.classes_, y)
    ridge = fastrnn.Ridge(0.5).fit(features, np.eye(3)[codes])
    # the default readout is ridge regression on one-hot targets, solved on
    # targets in {-1, +1} (scikit-learn's RidgeClassifier): the same model, affinely
    np.testing.assert_allclose(model.decision_function(X), 2 * ridge.predict(features) - 1,
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(model.predict(X),
                                  model.classes_[ridge.predict(features).argmax(axis=1)])
    assert model.score(X, y) >= 0.85


@pytest.mark.parametrize("representation", ["last", "mean", "model_space"])
def test_learns_every_representation(representation):
    X, y = _sines(60)
    pca = 6 if representation == "model_space" else None
    model = ESNSequenceClassifier(representation=representation,
                                  pca_components=pca, **SMALL).fit(X[:45], y[:45])
    assert model.score(X[45:], y[45:]) >= 0.8
    width = 42 if representation == "model_space" else 60
    assert model.transform(X[:2]).shape == (2, width)


def test_any_readout():
    X, y = _sines(45)
    default = ESNSequenceClassifier(ridge=0.1, **SMALL).fit(X, y)
    assert not hasattr(default, "predict_proba")
    # a fastrnn readout and a scikit-learn regressor, fitted on one-hot targets
    for readout in (fastrnn.Ridge(0.1), SkRidge(alpha=0.1)):
        model = ESNSequenceClassifier(ridge=0.1, readout=readout, **SMALL).fit(X, y)
        np.testing.assert_array_equal(model.predict(X), default.predict(X))
        assert model.readout_ is not readout
    assert not hasattr(readout, "coef_")   # the given readout is left unfitted
    # a scikit-learn classifier, fitted on the labels
    model = ESNSequenceClassifier(readout=LogisticRegression(max_iter=500), **SMALL).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (45, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    assert model.decision_function(X).shape == (45, 3)
    # a classifier readout without scores gives none
    model = ESNSequenceClassifier(readout=KNeighborsClassifier(3), **SMALL).fit(X, y)
    assert not hasattr(model, "decision_function")
    assert model.predict_proba(X).shape == (45, 3)
    assert model.score(X, y) > 0.8


def test_two_classes_give_one_decision_score():
    X, y = _sines(30, classes=2)
    model = ESNSequenceClassifier(**SMALL).fit(X, y)
    scores = model.decision_function(X)
    assert scores.shape == (30,)
    np.testing.assert_array_equal(model.predict(X), (scores > 0).astype(int))


def test_reproducible_with_random_state():
    X, y = _sines(30)
    a = ESNSequenceClassifier(representation="model_space", pca_components=6, **SMALL).fit(X, y)
    b = ESNSequenceClassifier(representation="model_space", pca_components=6, **SMALL).fit(X, y)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    c = ESNSequenceClassifier(representation="model_space", pca_components=6,
                              **{**SMALL, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.transform(X), c.transform(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.decision_function(X), a.decision_function(X))


def test_estimator_contract_on_lists_of_series():
    X, y = _sines(45)
    model = ESNSequenceClassifier(**SMALL)
    assert clone(model).get_params() == model.get_params()
    assert model.set_params(units=20).units == 20
    scores = cross_val_score(ESNSequenceClassifier(**SMALL), X, y, cv=3)
    assert scores.shape == (3,)
    search = GridSearchCV(ESNSequenceClassifier(**SMALL),
                          {"representation": ["last", "mean"], "ridge": [0.01, 1.0]},
                          cv=3).fit(X, y)
    assert search.best_estimator_.predict(X[:4]).shape == (4,)


def test_errors():
    X, y = _sines(12)
    model = ESNSequenceClassifier(**SMALL)
    with pytest.raises(NotFittedError):
        model.predict(X)
    with pytest.raises(ValueError, match=r"list of \(n_steps, n_features\) arrays"):
        model.fit(X[0], np.zeros(len(X[0])))
    with pytest.raises(ValueError, match="3-D array"):
        model.fit(np.zeros((4, 10, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="one label per series"):
        model.fit(X, [np.zeros(len(x)) for x in X])
    with pytest.raises(ValueError, match="one label per series"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"X\[1\]"):
        bad = X[1].copy()
        bad[0, 0] = np.inf
        model.fit([X[0], bad], y[:2])
    with pytest.raises(ValueError, match="representation"):
        ESNSequenceClassifier(representation="first").fit(X, y)
    with pytest.raises(ValueError, match="ridge"):
        ESNSequenceClassifier(ridge=-1.0, **SMALL).fit(X, y)
    fitted = clone(model).fit(X, y)
    with pytest.raises(ValueError, match="1 features.*expecting 2"):
        fitted.predict([x[:, :1] for x in X])
    with pytest.raises(ValueError, match="list of"):
        fitted.predict(X[0])
