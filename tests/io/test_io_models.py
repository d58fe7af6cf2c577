"""Save/load round trips of every model class, to the bit (fastrnn.io)."""
import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn.layers.clockwork import ClockworkRNN
from fastrnn.layers.delays import DelayRNN
from fastrnn.reservoir.esn import ESN
from fastrnn.layers.gru import GRU
from fastrnn.layers.leaky import LeakyRNN
from fastrnn.layers.lstm import LSTM
from fastrnn.training.optim import SGD, Adam
from fastrnn.layers.linear import Linear
from fastrnn.reservoir.readout import RLS, Ridge
from fastrnn.reservoir.reservoir import Reservoir
from fastrnn.training.train import Sequential


DTYPES = [np.float32, np.float64]


def _perturbed(model, seed=7):
    """Parameters unlike the seeded initialisation, as after training."""
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p += (0.1 * rng.standard_normal(p.shape)).astype(p.dtype)
    return model


def _round_trip(obj, tmp_path, name="m.npz", **load_kw):
    path = tmp_path / name
    fastrnn.save(obj, path)
    return fastrnn.load(path, **load_kw)


def _assert_outputs_equal(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_outputs_equal(x, y)
    else:
        np.testing.assert_array_equal(a, b)
        assert np.asarray(a).dtype == np.asarray(b).dtype


LAYERS = {
    "lstm": lambda dt: LSTM(3, 5, dtype=dt, seed=1),
    "lstm-peep-2l-bi": lambda dt: LSTM(3, 5, num_layers=2, bidirectional=True,
                                       peepholes=True, forget_bias=0.5, dtype=dt, seed=1),
    "gru-after": lambda dt: GRU(3, 5, num_layers=2, dtype=dt, seed=1),
    "gru-before": lambda dt: GRU(3, 5, reset_after=False, bidirectional=True, dtype=dt,
                                 seed=1),
    "rnn-2l-bi": lambda dt: fastrnn.RNN(3, 5, num_layers=2, bidirectional=True, dtype=dt,
                                        seed=1),
    "leaky-fixed": lambda dt: LeakyRNN(3, 5, tau=(1.0, 8.0), dtype=dt, seed=1),
    "leaky-learned": lambda dt: LeakyRNN(3, 5, tau=(1.5, 8.0), learn_tau=True, dtype=dt,
                                         seed=1),
    "clockwork": lambda dt: ClockworkRNN(3, 6, periods=(1, 2, 4), nonlinearity="relu",
                                         dtype=dt, seed=1),
    "delay": lambda dt: DelayRNN(3, 5, delays=(1, 3), dtype=dt, seed=1),
    "delay-2-layers": lambda dt: DelayRNN(3, 5, delays=(1, 3), num_layers=2, dtype=dt, seed=1),
    "seq-lstm-linear": lambda dt: Sequential(LSTM(3, 5, dtype=dt, seed=1),
                                             Linear(5, 2, dtype=dt, seed=2)),
    "seq-gru": lambda dt: Sequential(GRU(3, 5, dtype=dt, seed=1)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_round_trip_is_bit_exact(tmp_path, kind, dtype):
    m = _perturbed(LAYERS[kind](dtype))
    x = np.random.default_rng(0).standard_normal((7, 2, 3)).astype(dtype)
    before = m.forward(x)
    m2 = _round_trip(m, tmp_path)
    assert type(m2) is type(m)
    _assert_outputs_equal(m2.forward(x), before)
    for k, p in m.params.items():
        np.testing.assert_array_equal(m2.params[k], p)
    if isinstance(m, LeakyRNN):
        np.testing.assert_array_equal(m2.alpha, m.alpha)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reservoir_stream_resumes_identically(tmp_path, dtype):
    rng = np.random.default_rng(3)
    u = rng.standard_normal((60, 2)).astype(dtype)
    lr = rng.uniform(0.2, 1.0, 40)
    r = Reservoir(40, sr=0.95, lr=lr, bias_scaling=0.3, noise=0.01, fb_connectivity=0.3,
                  dtype=dtype, seed=4)
    r.initialize(2, feedback_dim=1)
    r.run(u[:30])
    r2 = _round_trip(r, tmp_path)
    assert r2.sr_measured_initial == r.sr_measured_initial
    assert r2.sr_measured == r.sr_measured
    np.testing.assert_array_equal(r2.lr, r.lr)
    assert (r2.W != r.W).nnz == 0 and r2.W.dtype == r.W.dtype
    # noise > 0: the random generator must resume too
    _assert_outputs_equal(r2.run(u[30:]), r.run(u[30:]))
    np.testing.assert_array_equal(r2.state, r.state)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", ["auto", "qr"])
def test_ridge_round_trip_predicts_and_resumes_partial_fit(tmp_path, dtype, solver):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 6)).astype(dtype)
    Y = (X @ rng.standard_normal((6, 2)) + 0.1).astype(dtype)
    m = Ridge(1e-3, solver=solver, dtype=dtype)
    m.partial_fit(X[:100], Y[:100])
    m.fit()
    m2 = _round_trip(m, tmp_path)
    _assert_outputs_equal(m2.predict(X), m.predict(X))
    m.partial_fit(X[100:], Y[100:])
    m2.partial_fit(X[100:], Y[100:])
    _assert_outputs_equal(m2.fit().predict(X), m.fit().predict(X))
    assert m2.n_samples_seen_ == m.n_samples_seen_ == 200
    single = Ridge(1e-3, dtype=dtype).fit(X, Y[:, 0])
    _assert_outputs_equal(_round_trip(single, tmp_path, "s.npz").predict(X), single.predict(X))
    unfitted = _round_trip(Ridge(0.5), tmp_path, "u.npz")
    assert unfitted.ridge == 0.5 and not hasattr(unfitted, "coef_")


@pytest.mark.parametrize("dtype", DTYPES)
def test_rls_round_trip_resumes_identically(tmp_path, dtype):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((80, 4)).astype(dtype)
    Y = rng.standard_normal((80, 2)).astype(dtype)
    m = RLS(1e-2, forgetting=0.99, dtype=dtype).partial_fit(X[:40], Y[:40])
    m2 = _round_trip(m, tmp_path)
    _assert_outputs_equal(m2.predict(X), m.predict(X))
    m.partial_fit(X[40:], Y[40:])
    m2.partial_fit(X[40:], Y[40:])
    _assert_outputs_equal(m2.predict(X), m.predict(X))
    np.testing.assert_array_equal(m2._P, m._P)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("readout, feedback", [(Ridge(1e-6), False), (Ridge(1e-6), True),
                                               (RLS(1e-3), False)])
def test_esn_round_trip_predicts_identically(tmp_path, dtype, readout, feedback):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((120, 2)).astype(dtype)
    Y = np.sin(np.cumsum(X, axis=0)).astype(dtype)
    readout = type(readout)(readout.ridge if isinstance(readout, Ridge) else readout.alpha,
                            dtype=dtype)
    esn = ESN(Reservoir(30, lr=0.7, fb_connectivity=0.3, dtype=dtype, seed=9), readout,
              feedback=feedback, input_to_readout=True).fit(X[:80], Y[:80], warmup=10)
    esn2 = _round_trip(esn, tmp_path)
    assert type(esn2.readout) is type(readout)
    _assert_outputs_equal(esn2.predict(X[80:]), esn.predict(X[80:]))


def _train(model, opt, x, dy, steps):
    for _ in range(steps):
        model.zero_grad()
        model.forward(x)
        model.backward(dy)
        opt.step()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make_opt", [
    lambda m: Adam(m, 1e-2, weight_decay=1e-3, clip_norm=1.0),
    lambda m: SGD(m, 0.05, momentum=0.9, nesterov=True),
], ids=["adam", "sgd"])
def test_optimiser_round_trip_resumes_training_identically(tmp_path, dtype, make_opt):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((6, 2, 3)).astype(dtype)
    dy = rng.standard_normal((6, 2, 2)).astype(dtype)

    def make_model():
        return Sequential(GRU(3, 4, dtype=dtype, seed=1), Linear(4, 2, dtype=dtype, seed=2))

    straight = make_model()
    opt = make_opt(straight)
    _train(straight, opt, x, dy, 6)

    first = make_model()
    opt1 = make_opt(first)
    _train(first, opt1, x, dy, 3)
    fastrnn.save(first, tmp_path / "model.npz")
    fastrnn.save(opt1, tmp_path / "opt.npz")
    resumed = fastrnn.load(tmp_path / "model.npz")
    opt2 = fastrnn.load(tmp_path / "opt.npz", model=resumed)
    assert type(opt2) is type(opt1) and opt2.steps == 3
    _train(resumed, opt2, x, dy, 3)
    for k, p in straight.params.items():
        np.testing.assert_array_equal(resumed.params[k], p)
    assert opt2.steps == opt.steps


def test_optimiser_needs_its_model_and_only_its_model(tmp_path):
    m = LSTM(3, 4, seed=0)
    fastrnn.save(Adam(m), tmp_path / "opt.npz")
    with pytest.raises(TypeError, match="model"):
        fastrnn.load(tmp_path / "opt.npz")
    with pytest.raises(ValueError, match="buffer|buffers"):
        fastrnn.load(tmp_path / "opt.npz", model=LSTM(3, 5, seed=0))
    fastrnn.save(m, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="takes no model"):
        fastrnn.load(tmp_path / "m.npz", model=m)


def _edit_file(path, edit_header, members=()):
    """Rewrite a saved file with its JSON header edited and members replaced."""
    with zipfile.ZipFile(path) as zf:
        raw = {member: zf.read(member) for member in zf.namelist()}
    head = json.loads(np.load(io.BytesIO(raw["header.npy"])).tobytes())
    edit_header(head)
    new = dict(members)
    new["header.npy"] = np.frombuffer(json.dumps(head).encode(), np.uint8)
    for member, a in new.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, a)
        raw[member] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for member, b in raw.items():
            zf.writestr(member, b)


def _replace_array(path, name, arr):
    """Swap one member for an array of another shape, header updated to match
    (checksum included), so only the class's own checks can catch it."""
    arr = np.ascontiguousarray(arr)

    def edit(head):
        head["arrays"][name].update(shape=list(arr.shape),
                                    sha256=hashlib.sha256(arr).hexdigest())
    _edit_file(path, edit, {f"a/{name}.npy": arr})


@pytest.mark.parametrize("make, name", [
    (lambda: LSTM(3, 4, peepholes=True, seed=0), "weight_peephole_l0"),
    (lambda: LeakyRNN(3, 4, seed=0), "alpha"),
    (lambda: DelayRNN(3, 4, seed=0), "weight_hh_d2_l0"),
    (lambda: Reservoir(10, seed=0).initialize(2), "Win"),
    (lambda: Reservoir(10, seed=0), "bias"),
    (lambda: RLS().partial_fit(np.ones((3, 2)), np.ones(3)), "P"),
    (lambda: Ridge().fit(np.eye(3), np.ones(3)), "acc"),
])
def test_mismatched_array_shapes_are_rejected(tmp_path, make, name):
    path = tmp_path / "m.npz"
    fastrnn.save(make(), path)
    with np.load(path) as f:
        good = f[f"a/{name}.npy"]
    _replace_array(path, name, np.zeros((good.shape[0] + 1,) + good.shape[1:], good.dtype))
    with pytest.raises(ValueError, match=name if name != "Win" else "Win|units|shape"):
        fastrnn.load(path)


def test_rnn_files_without_num_layers_still_load(tmp_path):
    """Files of the first release lack num_layers and bidirectional."""
    m = _perturbed(fastrnn.RNN(3, 4, seed=0))
    path = tmp_path / "m.npz"
    fastrnn.save(m, path)
    _edit_file(path, lambda head: [head["config"].pop(k) for k in ("num_layers",
                                                                     "bidirectional")])
    x = np.ones((5, 3), np.float32)
    _assert_outputs_equal(fastrnn.load(path).forward(x), m.forward(x))


def test_reservoir_with_dense_w_scaling_per_input_and_batched_state(tmp_path):
    rng = np.random.default_rng(11)
    W = rng.standard_normal((20, 20)) * 0.1
    r = Reservoir(20, W=W, input_scaling=np.array([0.5, 2.0]), dtype=np.float32, seed=1)
    u = rng.standard_normal((10, 3, 2)).astype(np.float32)
    r.run(u[:5])
    assert r.state.shape == (3, 20)
    r2 = _round_trip(r, tmp_path)
    assert isinstance(r2.W, np.ndarray)
    np.testing.assert_array_equal(r2.input_scaling, r.input_scaling)
    _assert_outputs_equal(r2.run(u[5:]), r.run(u[5:]))


@pytest.mark.parametrize("part", ["Adam", "Transformer", None])
def test_composite_with_a_forged_part_is_rejected(tmp_path, part):
    m = Sequential(GRU(3, 4, seed=0), Linear(4, 2, seed=1))
    path = tmp_path / "m.npz"
    fastrnn.save(m, path)
    _edit_file(path, lambda head: head["config"]["output"].update({"class": part}))
    with pytest.raises(ValueError, match="part 'output'"):
        fastrnn.load(path)
