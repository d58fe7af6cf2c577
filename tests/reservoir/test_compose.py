"""Composed reservoirs (``fastrnn.ReservoirGraph``, ``fastrnn.DeepESN``) and
any estimator as a readout (``fastrnn.EstimatorReadout``): each composition
is checked to the bit against the same composition made by hand (run one
reservoir, feed its states to the next, concatenate, fit the readout)."""
import io
import json
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn.reservoir.compose import INPUT
from fastrnn.reservoir.reservoir import Reservoir


def _reservoir(n, seed, dtype=np.float64, **kwargs):
    kwargs.setdefault("rc_connectivity", 0.3)
    kwargs.setdefault("input_connectivity", 0.5)
    return fastrnn.Reservoir(n, sr=0.9, seed=seed, dtype=dtype, **kwargs)


def _series(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _targets(X, outputs=2, seed=1):
    """Targets of a delayed, mixed and squashed X (shaped like X)."""
    mix = _series((X.shape[-1], outputs), seed)
    return np.tanh(np.roll(X, 2, axis=0) @ mix)


LAYERS = ((12, 0.9), (10, 0.5), (8, 0.2))


def _layers(dtype=np.float64):
    return [_reservoir(n, seed=10 + i, lr=lr, dtype=dtype) for i, (n, lr) in enumerate(LAYERS)]


# -------------------------------------------------------- deep, by hand
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("input_to_readout", [False, True])
def test_deep_esn_is_the_series_composition_made_by_hand(dtype, input_to_readout):
    X, Xt = _series((60, 3), 0, dtype), _series((25, 3), 2, dtype)
    Y = _targets(X)
    model = fastrnn.DeepESN(_layers(dtype), fastrnn.Ridge(1e-5),
                            input_to_readout=input_to_readout)
    model.fit(X, Y, warmup=7)
    got = model.run(Xt)

    r1, r2, r3 = _layers(dtype)

    def features(u):
        s1 = r1.run(u)
        s2 = r2.run(s1)
        s3 = r3.run(s2)
        return np.concatenate([s1, s2, s3] + ([u] if input_to_readout else []), axis=-1)

    readout = fastrnn.Ridge(1e-5).fit(features(X)[7:], Y[7:])
    want = readout.predict(features(Xt))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(model.readout.coef_, readout.coef_)
    for layer, by_hand in zip(model.layers, (r1, r2, r3)):
        np.testing.assert_array_equal(layer.state, by_hand.state)


def test_deep_esn_with_the_input_to_all_layers():
    X, Y = _series((50, 2)), _targets(_series((50, 2)))
    model = fastrnn.DeepESN(_layers(), fastrnn.Ridge(1e-4), input_to_all=True).fit(X, Y)
    r1, r2, r3 = _layers()
    s1 = r1.run(X)
    s2 = r2.run(np.concatenate([s1, X], axis=1))
    s3 = r3.run(np.concatenate([s2, X], axis=1))
    readout = fastrnn.Ridge(1e-4).fit(np.concatenate([s1, s2, s3], axis=1), Y)
    np.testing.assert_array_equal(model.readout.coef_, readout.coef_)
    assert model.layers[1].Win.shape == (LAYERS[1][0], LAYERS[0][0] + 2)


def test_deep_esn_batched_and_listed_series_match_by_hand():
    X = _series((40, 3, 2))
    Y = _targets(X)
    model = fastrnn.DeepESN(_layers(), fastrnn.Ridge(1e-4)).fit(X, Y, warmup=5)
    r1, r2, r3 = _layers()
    s1 = r1.run(X)
    s2 = r2.run(s1)
    s3 = r3.run(s2)
    readout = fastrnn.Ridge(1e-4).fit(np.concatenate([s1, s2, s3], axis=-1)[5:], Y[5:])
    np.testing.assert_array_equal(model.readout.coef_, readout.coef_)

    # A list: independent series, each from the states at the start of the call.
    series = [_series((30, 2), 3), _series((22, 2), 4)]
    targets = [_targets(s) for s in series]
    model = fastrnn.DeepESN(_layers(), fastrnn.Ridge(1e-4)).fit(series, targets, warmup=3)
    r1, r2, r3 = _layers()
    feats = []
    for s in series:
        for r in (r1, r2, r3):
            r.reset()
        s1 = r1.run(s)
        s2 = r2.run(s1)
        feats.append(np.concatenate([s1, s2, r3.run(s2)], axis=-1)[3:])
    readout = fastrnn.Ridge(1e-4).fit(feats, [t[3:] for t in targets])
    np.testing.assert_array_equal(model.readout.coef_, readout.coef_)
    out = model.reset().run(series)
    assert isinstance(out, list) and [o.shape for o in out] == [(30, 2), (22, 2)]
    np.testing.assert_array_equal(out[1], model.reset().run(series[1]))


def test_deep_esn_from_units_predicts_mackey_glass():
    series = fastrnn.datasets.mackey_glass(1200, seed=0)
    series = (series - series.mean()) / series.std()
    X, Y = series[:-1], series[1:]
    model = fastrnn.DeepESN.from_units([60, 60], ridge=1e-7, sr=0.9, lr=0.3, seed=0)
    prediction = model.fit(X[:900], Y[:900], warmup=100).run(X[900:])
    assert prediction.shape == (299, 1)
    assert fastrnn.metrics.nrmse(Y[900:], prediction) < 0.05
    assert [layer.units for layer in model.layers] == [60, 60]
    assert model.layers[1].Win.shape == (60, 60)
    # free run: the output fed back as the next input follows the series
    model.reset()
    free = model.generate(30, X[900:1000])
    assert free.shape == (30, 1)
    np.testing.assert_array_equal(free[0], model.reset().run(X[900:1000])[-1])
    assert fastrnn.metrics.nrmse(series[1000:1020], free[:20]) < 0.1


# ----------------------------------------------------- parallel, by hand
def _parallel(readout_sources=("fast", "slow", INPUT), dtype=np.float64):
    return fastrnn.ReservoirGraph(
        nodes={"fast": (_reservoir(12, 1, lr=0.9, dtype=dtype), INPUT),
               "slow": (_reservoir(9, 2, lr=0.1, dtype=dtype), INPUT)},
        readouts={"y": (fastrnn.Ridge(1e-5), list(readout_sources))})


@pytest.mark.parametrize("sources", [("fast", "slow", INPUT), ("slow", "fast"),
                                     (INPUT, "fast"), ("slow",)])
def test_parallel_reservoirs_are_the_composition_made_by_hand(sources):
    X, Xt = _series((50, 2)), _series((20, 2), 5)
    Y = _targets(X)
    graph = _parallel(sources).fit(X, Y, warmup=4)
    got = graph.run(Xt)

    fast, slow = _reservoir(12, 1, lr=0.9), _reservoir(9, 2, lr=0.1)

    def features(u):
        out = {"fast": fast.run(u), "slow": slow.run(u), INPUT: u}
        return np.concatenate([out[s] for s in sources], axis=-1)

    readout = fastrnn.Ridge(1e-5).fit(features(X)[4:], Y[4:])
    np.testing.assert_array_equal(got, readout.predict(features(Xt)))


def test_a_one_node_graph_is_the_esn():
    X, Xt = _series((60, 2)), _series((15, 2), 3)
    Y = _targets(X)
    graph = fastrnn.ReservoirGraph({"r": (_reservoir(15, 4), INPUT)},
                                   {"y": (fastrnn.Ridge(1e-6), ["r", INPUT])})
    esn = fastrnn.ESN(_reservoir(15, 4), fastrnn.Ridge(1e-6), input_to_readout=True)
    graph.fit(X, Y, warmup=5)
    esn.fit(X, Y, warmup=5)
    np.testing.assert_array_equal(graph.readouts["y"].coef_, esn.readout.coef_)
    np.testing.assert_array_equal(graph.readouts["y"].intercept_, esn.readout.intercept_)
    _, esn_states = esn.run(Xt, return_states=True)
    np.testing.assert_array_equal(graph.states(Xt)["r"], esn_states)
    # ESN multiplies a (T, 1, F) array: BLAS may round the product differently
    np.testing.assert_allclose(graph.run(Xt), esn.run(Xt), rtol=1e-13, atol=1e-14)


# ------------------------------------------------ one pass, one buffer
class _CountingRuns:
    """Counts Reservoir.run calls (the one C call per node and series)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = Reservoir.run

        def counted(reservoir, *args, **kwargs):
            self.calls += 1
            return original(reservoir, *args, **kwargs)

        monkeypatch.setattr(Reservoir, "run", counted)


def test_several_readouts_are_fitted_on_states_produced_once(monkeypatch):
    X = _series((80, 2))
    Y = _targets(X, 3)
    graph = fastrnn.ReservoirGraph(
        nodes={"a": (_reservoir(10, 1), INPUT), "b": (_reservoir(8, 2), "a"),
               "c": (_reservoir(6, 3, lr=0.3), INPUT)},
        readouts={"all": (fastrnn.Ridge(1e-4), ["a", "b", "c", INPUT]),
                  "deep": (fastrnn.Ridge(1e-3), ["a", "b"]),
                  "online": (fastrnn.RLS(1e-2), "c")})
    counter = _CountingRuns(monkeypatch)
    graph.fit(X, {"all": Y, "deep": Y[:, 0], "online": Y[:, 1:]}, warmup=6)
    assert counter.calls == 3
    counter.calls = 0
    out = graph.run(X)
    assert counter.calls == 3
    assert set(out) == {"all", "deep", "online"}
    assert out["all"].shape == (80, 3) and out["deep"].shape == (80,)
    assert out["online"].shape == (80, 2)
    monkeypatch.undo()

    # Each readout is what it would be if fitted alone on its features.
    a, b, c = _reservoir(10, 1), _reservoir(8, 2), _reservoir(6, 3, lr=0.3)
    sa = a.run(X)
    sb, sc = b.run(sa), c.run(X)
    alone = fastrnn.Ridge(1e-4).fit(np.concatenate([sa, sb, sc, X], axis=1)[6:], Y[6:])
    np.testing.assert_array_equal(graph.readouts["all"].coef_, alone.coef_)
    deep = fastrnn.Ridge(1e-3).fit(np.concatenate([sa, sb], axis=1)[6:], Y[6:, 0])
    np.testing.assert_array_equal(graph.readouts["deep"].coef_, deep.coef_)
    online = fastrnn.RLS(1e-2).fit(sc[6:], Y[6:, 1:])
    np.testing.assert_array_equal(graph.readouts["online"].coef_, online.coef_)


def test_readouts_read_views_of_one_buffer():
    graph = fastrnn.ReservoirGraph(
        nodes={"a": (_reservoir(10, 1), INPUT), "b": (_reservoir(8, 2), "a")},
        readouts={"all": (fastrnn.Ridge(), ["a", "b", INPUT]),
                  "states": (fastrnn.Ridge(), ["a", "b"]),
                  "tail": (fastrnn.Ridge(), ["b", INPUT]),
                  "one": (fastrnn.Ridge(), "b"),
                  "swapped": (fastrnn.Ridge(), ["b", "a"])})
    X = _series((30, 2))
    outputs = graph._propagate(graph._input(X))
    feats = graph._features(outputs)
    whole = feats["all"]
    assert whole.shape == (30, 20) and whole is outputs.buffer
    for name in ("states", "tail"):
        assert feats[name].base is whole, name
    np.testing.assert_array_equal(feats["tail"], np.concatenate([outputs["b"], X], axis=1))
    assert feats["one"] is outputs["b"]
    assert not np.shares_memory(feats["swapped"], whole)
    np.testing.assert_array_equal(feats["swapped"], np.concatenate([outputs["b"], outputs["a"]],
                                                                   axis=1))
    # a source read only out of order is not copied into the buffer
    graph = fastrnn.ReservoirGraph(
        nodes={"a": (_reservoir(10, 1), INPUT), "b": (_reservoir(8, 2), "a")},
        readouts={"states": (fastrnn.Ridge(), ["a", "b"]),
                  "mixed": (fastrnn.Ridge(), [INPUT, "a"])})
    assert graph._buffer_sources == ["a", "b"]
    outputs = graph._propagate(graph._input(X))
    feats = graph._features(outputs)
    assert feats["states"] is outputs.buffer and outputs.buffer.shape == (30, 18)


def test_buffered_reservoirs_write_their_states_in_place(monkeypatch):
    """The reservoirs read together write straight into their columns of
    the one buffer, and a deeper layer reads the layer below in place: the
    pass copies nothing but the input."""
    graph = fastrnn.DeepESN(_layers(), input_to_readout=True)
    given = {}
    run = Reservoir.run

    def spy(self, X, x0=None, **kwargs):
        given.setdefault("X", []).append(X)
        given.setdefault("out", []).append(kwargs.get("out"))
        return run(self, X, x0, **kwargs)

    monkeypatch.setattr(Reservoir, "run", spy)
    X = _series((25, 3, 2))
    outputs = graph._propagate(graph._input(X))
    buffer = outputs.buffer
    assert buffer.shape == (25, 3, 12 + 10 + 8 + 2)
    for out, name in zip(given["out"], graph.order):
        assert out is not None and out.base is buffer and outputs[name] is out
    # layer k + 1 was fed layer k's columns of the buffer themselves
    for below, X_fed in zip(graph.order, given["X"][1:]):
        assert X_fed.base is buffer and X_fed is outputs[below]
    assert graph._features(outputs)["output"] is buffer
    # and the states are those of a run into arrays of their own
    monkeypatch.setattr(Reservoir, "run", run)
    graph.reset()
    again = graph.states(X)
    for name in graph.order:
        np.testing.assert_array_equal(outputs[name], again[name])


def test_states_are_returned_by_node():
    graph = fastrnn.DeepESN(_layers())
    X = _series((20, 2))
    states = graph.states(X)
    assert list(states) == ["layer1", "layer2", "layer3"]
    r1, r2, _ = _layers()
    s1 = r1.run(X)
    np.testing.assert_array_equal(states["layer1"], s1)
    np.testing.assert_array_equal(states["layer2"], r2.run(s1))
    graph.reset()
    assert not any(layer.state.any() for layer in graph.layers)


def test_nodes_may_be_declared_in_any_order():
    graph = fastrnn.ReservoirGraph(
        nodes={"top": (_reservoir(6, 1), ["mid", INPUT]), "mid": (_reservoir(7, 2), INPUT)},
        readouts={"y": (fastrnn.Ridge(), ["mid", "top"])})
    assert graph.order == ["mid", "top"]
    X = _series((25, 2))
    Y = _targets(X)
    graph.fit(X, Y)
    mid, top = _reservoir(7, 2), _reservoir(6, 1)
    sm = mid.run(X)
    st = top.run(np.concatenate([sm, X], axis=1))
    readout = fastrnn.Ridge().fit(np.concatenate([sm, st], axis=1), Y)
    np.testing.assert_array_equal(graph.readouts["y"].coef_, readout.coef_)


# ------------------------------------------------------------ checks
def test_bad_graphs_are_refused_with_clear_errors():
    r = lambda seed=0: _reservoir(5, seed)  # noqa: E731
    ro = {"y": (fastrnn.Ridge(), "a")}
    with pytest.raises(ValueError, match="cycle: a -> b -> a|cycle: b -> a -> b"):
        fastrnn.ReservoirGraph({"a": (r(1), "b"), "b": (r(2), "a")}, ro)
    with pytest.raises(ValueError, match="cycle"):
        fastrnn.ReservoirGraph({"a": (r(1), ["a", INPUT])}, ro)
    with pytest.raises(ValueError, match=r"node 'a' reads \['nope'\], which name no node"):
        fastrnn.ReservoirGraph({"a": (r(), "nope")}, ro)
    with pytest.raises(ValueError, match=r"readout 'y' reads \['b'\]"):
        fastrnn.ReservoirGraph({"a": (r(), INPUT)}, {"y": (fastrnn.Ridge(), "b")})
    with pytest.raises(ValueError, match="readout 'y' reads nothing"):
        fastrnn.ReservoirGraph({"a": (r(), INPUT)}, {"y": (fastrnn.Ridge(), [])})
    with pytest.raises(ValueError, match="node 'a' reads nothing"):
        fastrnn.ReservoirGraph({"a": (r(), ())}, ro)
    with pytest.raises(ValueError, match="names a source twice"):
        fastrnn.ReservoirGraph({"a": (r(), [INPUT, INPUT])}, ro)
    with pytest.raises(ValueError, match="names the input series"):
        fastrnn.ReservoirGraph({INPUT: (r(), INPUT)}, ro)
    with pytest.raises(ValueError, match="has the name of a node"):
        fastrnn.ReservoirGraph({"a": (r(), INPUT)}, {"a": (fastrnn.Ridge(), "a")})
    shared = r()
    with pytest.raises(ValueError, match="already in the graph"):
        fastrnn.ReservoirGraph({"a": (shared, INPUT), "b": (shared, INPUT)}, ro)
    with pytest.raises(TypeError, match="must be a fastrnn.Reservoir"):
        fastrnn.ReservoirGraph({"a": (fastrnn.Ridge(), INPUT)}, ro)
    with pytest.raises(TypeError, match=r"\(part, sources\) pair"):
        fastrnn.ReservoirGraph({"a": r()}, ro)
    with pytest.raises(TypeError, match="estimator with fit and predict"):
        fastrnn.ReservoirGraph({"a": (r(), INPUT)}, {"y": (object(), "a")})
    with pytest.raises(ValueError, match="one dtype"):
        fastrnn.ReservoirGraph({"a": (r(), INPUT), "b": (_reservoir(5, 1, np.float32), "a")},
                               ro)
    with pytest.raises(ValueError, match="non-empty mapping"):
        fastrnn.ReservoirGraph({}, ro)
    with pytest.raises(TypeError, match="non-empty list of fastrnn.Reservoir"):
        fastrnn.DeepESN(r())


def test_mismatched_widths_are_refused_naming_the_node():
    fixed = _reservoir(5, 0, Win=np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"node 'b' takes 4 inputs .* fed a \(6\) = 6"):
        fastrnn.ReservoirGraph({"a": (_reservoir(6, 1), INPUT), "b": (fixed, "a")},
                               {"y": (fastrnn.Ridge(), "b")})
    graph = fastrnn.ReservoirGraph({"b": (fixed, INPUT)}, {"y": (fastrnn.Ridge(), "b")})
    with pytest.raises(ValueError, match=r"fed input \(3\) = 3"):
        graph.run(_series((10, 3)))


def test_bad_targets_are_refused():
    graph = _parallel()
    X = _series((20, 2))
    with pytest.raises(ValueError, match=r"Y names \['z'\]"):
        graph.fit(X, {"z": X})
    with pytest.raises(ValueError, match="warmup must be < the number of time steps"):
        graph.fit(X, X, warmup=20)
    with pytest.raises(ValueError, match=r"Y\['y'\] must have shape \(20,\) or \(20, 'O'\)"):
        graph.fit(X, X[:10])
    with pytest.raises(ValueError, match="must be a list of 1 series"):
        graph.fit([X], X)
    two = fastrnn.ReservoirGraph({"a": (_reservoir(5, 0), INPUT)},
                                 {"y": (fastrnn.Ridge(), "a"), "z": (fastrnn.Ridge(), "a")})
    with pytest.raises(TypeError, match="dict readout name"):
        two.fit(X, X)
    with pytest.raises(fastrnn.NotFittedError):
        two.run(X)


# -------------------------------------------------- sklearn estimators
def test_sklearn_estimators_read_the_states(monkeypatch):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X = _series((120, 2))
    Y = _targets(X, 1)[:, 0]
    labels = (Y > 0).astype(int) + (Y > 0.5)
    graph = fastrnn.DeepESN(_layers(), fastrnn.Ridge(1e-6))
    r1, r2, r3 = _layers()
    sk = fastrnn.ReservoirGraph(
        nodes={"layer1": (r1, INPUT), "layer2": (r2, "layer1"), "layer3": (r3, "layer2")},
        readouts={"lasso": (linear_model.Lasso(alpha=1e-3), ["layer1", "layer2", "layer3"]),
                  "ridge": (linear_model.Ridge(alpha=1e-2), ["layer1", "layer2", "layer3"]),
                  "classes": (linear_model.LogisticRegression(max_iter=500), "layer3")})
    assert isinstance(sk.readouts["lasso"], fastrnn.EstimatorReadout)
    counter = _CountingRuns(monkeypatch)
    sk.fit(X, {"lasso": Y, "ridge": Y, "classes": labels}, warmup=10)
    assert counter.calls == 3   # one run per reservoir for the three estimators
    monkeypatch.undo()
    states = graph.states(X)
    features = np.concatenate([states[n] for n in graph.order], axis=1)[10:]
    for name, est in (("lasso", linear_model.Lasso(alpha=1e-3)),
                      ("ridge", linear_model.Ridge(alpha=1e-2))):
        est.fit(features, Y[10:])
        np.testing.assert_array_equal(sk.readouts[name].estimator.coef_, est.coef_)
    clf = linear_model.LogisticRegression(max_iter=500).fit(states["layer3"][10:], labels[10:])
    np.testing.assert_array_equal(sk.readouts["classes"].estimator.coef_, clf.coef_)
    out = sk.run(_series((30, 2), 9))
    assert out["classes"].shape == (30,) and set(out["classes"]) <= {0, 1, 2}
    assert out["lasso"].shape == (30,)


def test_estimator_readout_lays_predictions_out_like_x():
    linear_model = pytest.importorskip("sklearn.linear_model")
    X = _series((20, 3, 4))
    labels = (X[..., 0] > 0).astype(int)
    ro = fastrnn.EstimatorReadout(linear_model.LogisticRegression())
    ro.fit(X, labels)
    assert ro.predict(X).shape == (20, 3)
    assert ro.predict_proba(X).shape == (20, 3, 2)
    np.testing.assert_array_equal(ro.predict(X).ravel(),
                                  ro.estimator.predict(X.reshape(-1, 4)))
    listed = [X[:, 0], X[:7, 1]]
    ro.fit(listed, [labels[:, 0], labels[:7, 1]])
    out = ro.predict(listed)
    assert [o.shape for o in out] == [(20,), (7,)]
    multi = fastrnn.EstimatorReadout(linear_model.Ridge()).fit(X, X[..., :2])
    assert multi.predict(X).shape == (20, 3, 2)
    with pytest.raises(ValueError, match=r"Y must have shape \(20, 3\)"):
        ro.fit(X, labels[:5])
    with pytest.raises(ValueError, match="4 features"):
        ro.predict(X[..., :2])
    with pytest.raises(TypeError, match="no predict_proba"):
        multi.predict_proba(X)
    with pytest.raises(fastrnn.NotFittedError):
        fastrnn.EstimatorReadout(linear_model.Ridge()).predict(X)
    with pytest.raises(TypeError, match="fit and predict"):
        fastrnn.EstimatorReadout(object())


def test_estimator_readout_needs_no_sklearn(tmp_path):
    class Mean:
        def fit(self, X, y):
            self.mean_ = y.mean(axis=0)
            return self

        def predict(self, X):
            return np.repeat(self.mean_[None], len(X), axis=0)

    X = _series((10, 3))
    ro = fastrnn.EstimatorReadout(Mean()).fit(X, X[:, :2])
    np.testing.assert_array_equal(ro.predict(X), np.repeat(X[:, :2].mean(0)[None], 10, 0))
    with pytest.raises(TypeError, match="never unpickled"):
        fastrnn.save(ro, tmp_path / "mean.npz")
    assert not (tmp_path / "mean.npz").exists()


# ------------------------------------------------------------ saving
def _roundtrip(obj, tmp_path, name="m.npz"):
    fastrnn.save(obj, tmp_path / name)
    return fastrnn.load(tmp_path / name)


def test_graph_and_deep_esn_round_trip_to_the_bit(tmp_path):
    X = _series((40, 2))
    Y = _targets(X)
    graph = fastrnn.ReservoirGraph(
        nodes={"fast one": (_reservoir(8, 1, lr=0.9), INPUT),
               "slow/1": (_reservoir(6, 2, lr=0.2), ["fast one", INPUT])},
        readouts={"y": (fastrnn.Ridge(1e-4), ["fast one", "slow/1", INPUT]),
                  "z": (fastrnn.LMS(1e-3), "slow/1")})
    graph.fit(X, {"y": Y, "z": Y[:, 0]})
    deep = fastrnn.DeepESN(_layers(np.float32), fastrnn.Ridge(1e-4, dtype=np.float32),
                           input_to_readout=True, input_to_all=True).fit(X[:20], Y[:20])
    for model in (graph, deep):
        loaded = _roundtrip(model, tmp_path)
        assert type(loaded) is type(model)
        assert loaded.sources == model.sources and loaded.order == model.order
        # mid-stream: both resume from the same states
        a, b = model.run(X[20:]), loaded.run(X[20:])
        for key in (a if isinstance(a, dict) else {None: a}):
            got, want = (b[key], a[key]) if key else (b, a)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    assert loaded.input_to_readout and loaded.input_to_all


def _rewrite(path, out, edit):
    """Copy a model file with its JSON header edited (the arrays' checksums
    do not cover the configuration)."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    header = json.loads(np.load(io.BytesIO(members["header.npy"])).tobytes())
    edit(header)
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(header).encode(), np.uint8))
    members["header.npy"] = buf.getvalue()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_tampered_deep_esn_file_is_refused(tmp_path):
    deep = fastrnn.DeepESN(_layers())
    fastrnn.save(deep, tmp_path / "d.npz")

    def edit(header):
        header["config"]["nodes"][1]["sources"] = ["layer1", INPUT]

    _rewrite(tmp_path / "d.npz", tmp_path / "bad.npz", edit)
    with pytest.raises(ValueError, match="edges are not those"):
        fastrnn.load(tmp_path / "bad.npz")

    def cycle(header):
        header["config"]["nodes"][0]["sources"] = ["layer3"]
        header["class"] = "ReservoirGraph"

    _rewrite(tmp_path / "d.npz", tmp_path / "cycle.npz", cycle)
    with pytest.raises(ValueError, match="cycle"):
        fastrnn.load(tmp_path / "cycle.npz")

    def sources(header):
        header["config"]["readouts"][0]["sources"] = 3

    _rewrite(tmp_path / "d.npz", tmp_path / "sources.npz", sources)
    with pytest.raises(ValueError, match="must list its sources by name"):
        fastrnn.load(tmp_path / "sources.npz")

    def readout_as_node(header):
        header["class"] = "ReservoirGraph"
        header["config"]["nodes"][0]["part"] = header["config"]["readouts"][0]["part"]

    _rewrite(tmp_path / "d.npz", tmp_path / "kind.npz", readout_as_node)
    with pytest.raises(ValueError, match="must be a fastrnn.Reservoir"):
        fastrnn.load(tmp_path / "kind.npz")


@pytest.mark.parametrize("kind", ["LogisticRegression", "Lasso", "Ridge", "ElasticNet",
                                  "LinearRegression"])
def test_linear_sklearn_readouts_round_trip_to_the_bit(kind, tmp_path):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X = _series((60, 2, 5))
    Y = X[..., 0] - 0.5 * X[..., 1]
    if kind == "LogisticRegression":
        Y = np.where(Y > 0.3, "up", np.where(Y < -0.3, "down", "flat"))
    ro = fastrnn.EstimatorReadout(getattr(linear_model, kind)()).fit(X, Y)
    loaded = _roundtrip(ro, tmp_path)
    assert type(loaded.estimator) is type(ro.estimator)
    assert loaded.estimator.get_params() == ro.estimator.get_params()
    np.testing.assert_array_equal(loaded.predict(X), ro.predict(X))
    if kind == "LogisticRegression":
        np.testing.assert_array_equal(loaded.predict_proba(X), ro.predict_proba(X))
    unfitted = _roundtrip(fastrnn.EstimatorReadout(getattr(linear_model, kind)()), tmp_path)
    with pytest.raises(fastrnn.NotFittedError):
        unfitted.predict(X)


def test_a_graph_with_a_sklearn_readout_round_trips(tmp_path):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X = _series((50, 2))
    labels = (X[:, 0] > 0).astype(int)
    graph = fastrnn.DeepESN(_layers(), linear_model.LogisticRegression(C=0.5)).fit(X, labels)
    loaded = _roundtrip(graph, tmp_path)
    np.testing.assert_array_equal(loaded.run(X), graph.run(X))
    assert loaded.readout.estimator.C == 0.5


def test_estimators_that_would_need_pickling_are_refused_on_save(tmp_path):
    neighbors = pytest.importorskip("sklearn.neighbors")
    linear_model = pytest.importorskip("sklearn.linear_model")
    X = _series((30, 3))
    ro = fastrnn.EstimatorReadout(neighbors.KNeighborsRegressor(3)).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="could only be pickled"):
        fastrnn.save(ro, tmp_path / "knn.npz")
    weighted = fastrnn.EstimatorReadout(linear_model.LogisticRegression(class_weight={0: 2.0}))
    with pytest.raises(TypeError, match="class_weight=.* cannot be saved without pickling"):
        fastrnn.save(weighted, tmp_path / "w.npz")
    assert not (tmp_path / "knn.npz").exists()


# ------------------------------------------------------------ free run
@pytest.mark.parametrize("batched", [False, True])
def test_generate_feeds_the_output_back_as_the_next_input(batched):
    series = fastrnn.datasets.mackey_glass(700, seed=1)
    series = (series - series.mean()) / series.std()
    if batched:
        series = np.stack([series, series[::-1]], axis=1)   # (T, 2, 1)
    X, Y = series[:-1], series[1:]
    model = fastrnn.DeepESN(_layers(), fastrnn.Ridge(1e-7)).fit(X[:500], Y[:500], warmup=50)
    got = model.generate(30, X[500:600])
    assert got.shape == (30,) + series.shape[1:]

    r1, r2, r3 = _layers()
    readout = fastrnn.Ridge(1e-7)

    def step(u):
        s1 = r1.run(u)
        s2 = r2.run(s1)
        return readout.predict(np.concatenate([s1, s2, r3.run(s2)], axis=-1))

    s1 = r1.run(X[:500])
    s2 = r2.run(s1)
    readout.fit(np.concatenate([s1, s2, r3.run(s2)], axis=-1)[50:], Y[50:500])
    y = step(X[500:600])[-1:]
    want = [y[0]]
    for _ in range(29):
        y = step(y)
        want.append(y[0])
    np.testing.assert_array_equal(got, np.array(want))


def test_generate_checks_its_readout():
    X = _series((40, 2))
    graph = _parallel().fit(X, X[:, :1])
    with pytest.raises(ValueError, match="gives 1 outputs, but the graph takes 2 inputs"):
        graph.generate(3, X)
    two = fastrnn.ReservoirGraph({"a": (_reservoir(5, 0), INPUT)},
                                 {"y": (fastrnn.Ridge(), "a"), "z": (fastrnn.Ridge(), "a")})
    with pytest.raises(ValueError, match="readout must name the readout to feed back"):
        two.generate(3, X)
    with pytest.raises(ValueError, match="'w' is not a readout"):
        two.generate(3, X, readout="w")
    with pytest.raises(ValueError, match="at least one time step"):
        graph.generate(3, X[:0])
    assert _parallel().fit(X, X).generate(0, X).shape == (0, 2)
