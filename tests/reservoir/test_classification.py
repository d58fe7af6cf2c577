"""ESNSequenceEncoder and the reservoir model space (Bianchi et al. 2020)
against plain NumPy references, series of different lengths, bad input,
persistence, and the Japanese Vowels loader and accuracy (when sktime is
installed)."""
import importlib.util
import os

import numpy as np
import pytest

import fastrnn
from fastrnn.analysis import datasets
from fastrnn.reservoir import classification
from fastrnn.reservoir.classification import ESNSequenceEncoder, model_space
from reference_reservoir import esn_states

HAS_SKTIME = importlib.util.find_spec("sktime") is not None


def _series(rng, lengths, D=3):
    return [rng.standard_normal((int(n), D)) for n in lengths]


def _reference_states(reservoir, x):
    """States of one series from the zero state, one NumPy step at a time."""
    W = reservoir.W.toarray() if hasattr(reservoir.W, "toarray") else reservoir.W
    return esn_states(W, reservoir.Win, reservoir.bias, reservoir.lr, x,
                      np.zeros(reservoir.units), activation=reservoir.activation)


def _reference_ridge(X, Y, ridge):
    """min ||Y - X W - 1 b^T||^2 + ridge ||W||^2 as one least-squares problem
    [X 1; sqrt(ridge) I 0] [W; b^T] ~ [Y; 0] (the intercept not penalised)."""
    T, K = X.shape
    A = np.zeros((T + K, K + 1))
    A[:T, :K], A[:T, K] = X, 1.0
    A[T:, :K] = np.sqrt(ridge) * np.eye(K)
    rhs = np.vstack([Y, np.zeros((K, Y.shape[1]))])
    sol = np.linalg.lstsq(A, rhs, rcond=None)[0]
    return sol[:K], sol[K]


# ----------------------------------------------------------- model space
@pytest.mark.parametrize("K", [3, 12], ids=["primal", "dual"])
@pytest.mark.parametrize("start", [0, 2])
def test_model_space_is_one_ridge_per_series(rng, K, start):
    """K = 3 states with 11 pairs solves the normal equations, K = 12 with
    fewer pairs than states the dual form; both are each series' ridge."""
    states = rng.standard_normal((4, 14, K))
    states[0, 6:] *= 3.0   # different scales across steps
    states[1] += 5.0       # a large common offset
    out = model_space(states, 0.3, start=start)
    assert out.shape == (4, K * K + K)
    for b in range(4):
        h = states[b, start:]
        W, intercept = _reference_ridge(h[:-1], h[1:], 0.3)
        np.testing.assert_allclose(out[b, :K * K].reshape(K, K), W, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(out[b, K * K:], intercept, rtol=1e-9, atol=1e-11)
        # and fastrnn's own ridge readout on the same pairs
        ridge = fastrnn.Ridge(0.3).fit(h[:-1], h[1:])
        np.testing.assert_allclose(out[b, :K * K].reshape(K, K), ridge.coef_, rtol=1e-8,
                                   atol=1e-10)
        np.testing.assert_allclose(out[b, K * K:], ridge.intercept_, rtol=1e-8, atol=1e-10)


def test_model_space_checks(rng):
    states = rng.standard_normal((2, 5, 3))
    with pytest.raises(ValueError, match="ridge"):
        model_space(states, 0.0)
    with pytest.raises(ValueError, match="series of 5 steps"):
        model_space(states, 1.0, start=4)
    with pytest.raises(ValueError, match="states must be 3-dimensional"):
        model_space(states[0], 1.0)


# --------------------------------------------------------------- encoder
def _encoder(representation, units=15, **kwargs):
    reservoir = fastrnn.Reservoir(units, sr=0.8, lr=0.7, bias_scaling=0.2,
                                  rc_connectivity=0.5, input_connectivity=0.5, seed=3)
    return ESNSequenceEncoder(reservoir, representation=representation, **kwargs)


LENGTHS = [9, 1, 17, 4, 9, 2, 30]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("representation", ["last", "mean"])
def test_last_and_mean_states_equal_a_numpy_reservoir(rng, representation, bidirectional):
    X = _series(rng, LENGTHS)
    enc = _encoder(representation, bidirectional=bidirectional)
    out = enc.fit_transform(X)
    assert out.shape == (len(X), enc.n_features_out_) == (len(X), 15 * (1 + bidirectional))
    for i, x in enumerate(X):
        runs = [_reference_states(enc.reservoir, x)]
        if bidirectional:
            runs.append(_reference_states(enc.reservoir, x[::-1]))
        pick = (lambda s: s[-1]) if representation == "last" else (lambda s: s.mean(axis=0))
        np.testing.assert_allclose(out[i], np.concatenate([pick(s) for s in runs]),
                                   rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(enc.transform(X), out, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_model_space_of_the_states_with_warmup(rng, bidirectional):
    X = _series(rng, [12, 5, 20, 8])
    enc = _encoder("model_space", units=6, bidirectional=bidirectional, warmup=2,
                   embedding_ridge=0.5)
    out = enc.fit_transform(X)
    K = 6 * (1 + bidirectional)
    assert out.shape == (4, K * K + K)
    for i, x in enumerate(X):
        # each run on its own clock: step t of the reversed run is t steps into it
        h = np.hstack([_reference_states(enc.reservoir, x)]
                      + ([_reference_states(enc.reservoir, x[::-1])] if bidirectional else []))
        W, b = _reference_ridge(h[2:-1], h[3:], 0.5)
        np.testing.assert_allclose(out[i], np.concatenate([W.ravel(), b]), rtol=1e-8,
                                   atol=1e-11)


def test_mean_leaves_out_the_warmup(rng):
    X = _series(rng, [6, 10])
    enc = _encoder("mean", warmup=3)
    out = enc.fit_transform(X)
    for i, x in enumerate(X):
        np.testing.assert_allclose(out[i], _reference_states(enc.reservoir, x)[3:].mean(axis=0),
                                   rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("representation", ["last", "mean", "model_space"])
def test_pca_of_the_training_states(rng, representation):
    X = _series(rng, [12, 7, 20, 9, 15])
    enc = _encoder(representation, units=10, bidirectional=True, pca_components=4, warmup=1)
    out = enc.fit_transform(X)
    states = [np.hstack([_reference_states(enc.reservoir, x),
                         _reference_states(enc.reservoir, x[::-1])]) for x in X]
    pooled = np.vstack([s[1:] for s in states])
    centre = pooled.mean(axis=0)
    _, sv, vt = np.linalg.svd(pooled - centre, full_matrices=False)
    np.testing.assert_allclose(enc.pca_mean_, centre, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(enc.pca_explained_variance_, sv[:4] ** 2 / (len(pooled) - 1),
                               rtol=1e-9)
    # the same axes up to sign, signed by their largest entry
    np.testing.assert_allclose(np.abs(enc.pca_components_.T @ vt[:4].T), np.eye(4), atol=1e-8)
    comp = enc.pca_components_
    assert (comp[np.argmax(np.abs(comp), axis=0), np.arange(4)] > 0).all()
    projected = [(s - centre) @ comp for s in states]
    for i, p in enumerate(projected):
        if representation == "last":
            expected = p[-1]
        elif representation == "mean":
            expected = p[1:].mean(axis=0)
        else:
            W, b = _reference_ridge(p[1:-1], p[2:], 1.0)
            expected = np.concatenate([W.ravel(), b])
        np.testing.assert_allclose(out[i], expected, rtol=1e-8, atol=1e-10)
    assert out.shape[1] == enc.n_features_out_ == (20 if representation == "model_space" else 4)


def test_groups_of_series_give_the_same_representations(rng, monkeypatch):
    """Series of one length run together, within a memory budget; how they
    are grouped does not change any series' representation."""
    X = _series(rng, [3, 25, 7, 7, 14, 2, 25, 9, 7])
    whole = _encoder("model_space", units=5, pca_components=3).fit_transform(X)
    assert sorted(map(sorted, _encoder("mean")._groups(X))) == [[0], [1, 6], [2, 3, 8], [4],
                                                                 [5], [7]]
    monkeypatch.setattr(classification, "_STATES_PER_CALL", 5 * 6)
    enc = _encoder("model_space", units=5, pca_components=3)
    assert len(enc._groups(X)) == 9
    np.testing.assert_allclose(enc.fit_transform(X), whole, rtol=1e-10, atol=1e-12)
    # and a series' representation does not depend on the others of the call
    np.testing.assert_allclose(enc.transform(X[1:3]), whole[1:3], rtol=1e-10, atol=1e-12)


def test_reservoir_state_and_results_are_reproducible(rng):
    X = _series(rng, [5, 8, 3])
    enc = _encoder("mean", bidirectional=True)
    enc.reservoir.reset(np.full(15, 0.5))
    first = enc.fit_transform(X)
    np.testing.assert_array_equal(enc.reservoir.state, np.full(15, 0.5))
    np.testing.assert_array_equal(enc.transform(X), enc.transform(X))
    np.testing.assert_array_equal(_encoder("mean", bidirectional=True).fit_transform(X), first)


def test_float32_reservoir(rng):
    X = _series(rng, [6, 9])
    enc = ESNSequenceEncoder(fastrnn.Reservoir(8, dtype=np.float32, seed=1),
                             representation="model_space")
    out = enc.fit_transform(X)
    assert out.dtype == np.float64 and np.isfinite(out).all()


def test_bad_input(rng):
    enc = _encoder("model_space", warmup=1)
    X = _series(rng, [5, 6])
    with pytest.raises(NotFittedError_):
        enc.transform(X)
    with pytest.raises(TypeError, match=r"list of \(n_steps, n_features\).*list\(X\)"):
        enc.fit(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="empty"):
        enc.fit([])
    with pytest.raises(ValueError, match=r"X\[1\]"):
        enc.fit([X[0], np.zeros(4)])
    with pytest.raises(ValueError, match="same number of features"):
        enc.fit([X[0], X[1][:, :2]])
    bad = X[1].copy()
    bad[2, 0] = np.nan
    with pytest.raises(ValueError, match=r"X\[1\] contains NaN"):
        enc.fit([X[0], bad])
    with pytest.raises(ValueError, match=r"at least 3 steps, but X\[1\] has 2"):
        enc.fit([X[0], X[1][:2]])
    with pytest.raises(ValueError, match=r"X\[0\] has no time steps"):
        enc.fit([X[0][:0]])
    enc.fit(X)
    with pytest.raises(ValueError, match="2 features per step.*fitted on 3"):
        enc.transform([x[:, :2] for x in X])


NotFittedError_ = fastrnn._core.validation.NotFittedError


def test_bad_parameters():
    reservoir = fastrnn.Reservoir(5, rc_connectivity=0.5, seed=0)
    with pytest.raises(TypeError, match="fastrnn.Reservoir"):
        ESNSequenceEncoder(object())
    with pytest.raises(ValueError, match="representation"):
        ESNSequenceEncoder(reservoir, representation="first")
    with pytest.raises(ValueError, match="pca_components must be at most the 10"):
        ESNSequenceEncoder(reservoir, bidirectional=True, pca_components=11)
    with pytest.raises(ValueError, match="embedding_ridge"):
        ESNSequenceEncoder(reservoir, embedding_ridge=0.0)
    with pytest.raises(ValueError, match="warmup"):
        ESNSequenceEncoder(reservoir, warmup=-1)


def test_pca_needs_two_states(rng):
    enc = _encoder("last", pca_components=2, warmup=0)
    with pytest.raises(ValueError, match="two states"):
        enc.fit([rng.standard_normal((1, 3))])


# ----------------------------------------------------------- persistence
@pytest.mark.parametrize("fitted", [False, True])
def test_save_and_load_round_trip(rng, tmp_path, fitted):
    X = _series(rng, [7, 12, 4])
    enc = _encoder("model_space", units=8, bidirectional=True, pca_components=3, warmup=1,
                   embedding_ridge=2.0)
    if fitted:
        enc.fit(X)
    path = os.path.join(tmp_path, "encoder.npz")
    fastrnn.save(enc, path)
    loaded = fastrnn.load(path)
    assert isinstance(loaded, ESNSequenceEncoder)
    assert (loaded.representation, loaded.bidirectional, loaded.pca_components,
            loaded.warmup, loaded.embedding_ridge) == ("model_space", True, 3, 1, 2.0)
    if fitted:
        np.testing.assert_array_equal(loaded.pca_components_, enc.pca_components_)
        np.testing.assert_array_equal(loaded.transform(X), enc.transform(X))
    else:
        np.testing.assert_array_equal(loaded.fit_transform(X), enc.fit_transform(X))


def test_load_refuses_missing_pca_arrays(rng):
    enc = _encoder("mean", pca_components=2).fit(_series(rng, [5, 6]))
    config, arrays = enc._save_config(), enc._save_arrays()
    del arrays["pca_components"]
    with pytest.raises(ValueError, match="PCA arrays"):
        ESNSequenceEncoder._from_saved(config, arrays)
    arrays = enc._save_arrays()
    arrays["pca_components"] = arrays["pca_components"][:, :1]
    with pytest.raises(ValueError, match="pca_components must be float64 of shape"):
        ESNSequenceEncoder._from_saved(config, arrays)


# -------------------------------------------------------- Japanese Vowels
def _write_ts(path, rows, labels):
    with open(path, "w", encoding="utf-8") as f:
        f.write("# a comment\n@problemName Tiny\n@dimensions 2\n@data\n")
        for series, label in zip(rows, labels):
            f.write(":".join(",".join(repr(float(v)) for v in dim) for dim in series.T)
                    + f":{label}\n")


def test_ts_reader_and_folder(tmp_path, rng):
    train = _series(rng, [3, 5], D=2)
    test = _series(rng, [4], D=2)
    _write_ts(tmp_path / "JapaneseVowels_TRAIN.ts", train, [1, 2])
    _write_ts(tmp_path / "JapaneseVowels_TEST.ts", test, [2])
    X_train, y_train, X_test, y_test = datasets.japanese_vowels(str(tmp_path))
    for got, want in zip(X_train + X_test, train + test):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.float64 and got.flags.c_contiguous
    np.testing.assert_array_equal(y_train, [1, 2])
    assert y_test.dtype == np.int64
    with open(tmp_path / "JapaneseVowels_TEST.ts", "a") as f:
        f.write("1,2:3:1\n")
    with pytest.raises(ValueError, match="line 6: every dimension"):
        datasets.japanese_vowels(str(tmp_path))


def test_japanese_vowels_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="JapaneseVowels_TRAIN.ts"):
        datasets.japanese_vowels(str(tmp_path))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ImportError, match="pip install sktime"):
        datasets.japanese_vowels()


@pytest.mark.skipif(not HAS_SKTIME, reason="the data set is read from sktime's package")
def test_japanese_vowels_data_set():
    X_train, y_train, X_test, y_test = datasets.japanese_vowels()
    assert (len(X_train), len(X_test)) == (270, 370)
    assert {x.shape[1] for x in X_train + X_test} == {12}
    lengths = [len(x) for x in X_train + X_test]
    assert (min(lengths), max(lengths)) == (7, 29)
    np.testing.assert_array_equal(np.bincount(y_train), [0] + [30] * 9)
    assert np.bincount(y_test).sum() == 370 and set(y_test) == set(range(1, 10))


@pytest.mark.skipif(not HAS_SKTIME, reason="the data set is read from sktime's package")
def test_japanese_vowels_accuracy_of_the_default_classifier():
    """The published reservoir results are 0 to a few errors of 370; the
    default classifier must make at most 5 (98.5 %), for more than one seed."""
    pytest.importorskip("sklearn")
    from fastrnn.sklearn import ESNSequenceClassifier

    X_train, y_train, X_test, y_test = datasets.japanese_vowels()
    for seed in range(2):
        model = ESNSequenceClassifier(random_state=seed).fit(X_train, y_train)
        assert model.score(X_test, y_test) >= 0.985, seed
