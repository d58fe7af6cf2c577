"""Streaming: step() against forward(), plan invalidation, argument checks."""
import numpy as np
import pytest

import fastrnn

CONFIGS = [
    (fastrnn.LSTM, {}),
    (fastrnn.LSTM, dict(peepholes=True, num_layers=2)),
    (fastrnn.LSTM, dict(bias=False, num_layers=3)),
    (fastrnn.GRU, dict(num_layers=2)),
    (fastrnn.GRU, dict(reset_after=False, num_layers=2)),
    (fastrnn.GRU, dict(bias=False)),
    (fastrnn.RNN, dict(nonlinearity="relu", num_layers=2)),
    (fastrnn.RNN, {}),
]


def _close(a, b):
    """Equal to rounding: step() forms x_t W_ih^T one row at a time where
    forward() does all T rows in one GEMM, so sums may round differently."""
    eps = np.finfo(np.asarray(a).dtype).eps
    np.testing.assert_allclose(a, b, rtol=64 * eps, atol=64 * eps)


def _states_equal(a, b):
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            _close(x, y)
    else:
        _close(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,kw", CONFIGS,
                         ids=[f"{c.__name__}-{k}" for c, k in CONFIGS])
@pytest.mark.parametrize("batch", [None, 1, 3])
def test_step_equals_forward(cls, kw, dtype, batch):
    """step() runs the same kernels as forward(), one step per call."""
    layer = cls(5, 6, dtype=dtype, seed=0, **kw)
    rng = np.random.default_rng(1)
    T = 7
    x = rng.standard_normal((T, 5) if batch is None else (T, batch, 5)).astype(dtype)
    LH = (layer.num_layers, 6) if batch is None else (layer.num_layers, batch, 6)
    h0 = rng.standard_normal(LH).astype(dtype)
    state0 = (h0, rng.standard_normal(LH).astype(dtype)) if cls is fastrnn.LSTM else h0
    y, final = layer.forward(x, state0)
    state = state0
    for t in range(T):
        y_t, state = layer.step(x[t], state)
        _close(y_t, y[t])
    _states_equal(state, final)


def test_step_from_none_and_lists():
    layer = fastrnn.GRU(3, 4, dtype=np.float64, seed=0)
    x = [[0.1, -0.2, 0.3]]
    y1, h1 = layer.step(x)  # list input, zero state
    y2, h2 = layer.step(np.asarray(x), np.zeros((1, 1, 4)))
    np.testing.assert_array_equal(y1, y2)
    y, h = layer.forward(np.asarray(x)[None])
    np.testing.assert_allclose(h1, h, rtol=1e-14)
    # float32 input to a float64 layer is converted, not refused
    y3, _ = layer.step(np.asarray(x, np.float32))
    np.testing.assert_allclose(y3, y1, atol=1e-7)


def test_step_sees_parameter_changes():
    """Updated in place or replaced, the next step uses the new weights."""
    layer = fastrnn.LSTM(3, 4, dtype=np.float64, seed=0)
    x = np.ones(3)
    y0, _ = layer.step(x)
    layer.params["weight_ih_l0"] *= 2.0  # in place: the plan points at this memory
    y1, _ = layer.step(x)
    assert np.all(y1 != y0)
    layer.params["weight_ih_l0"] = np.zeros((16, 3))  # replaced: the plan is rebuilt
    y2, _ = layer.step(x)
    layer.load_state_dict(layer.state_dict())
    ref, _ = layer.forward(x[None])
    np.testing.assert_allclose(y2, ref[0], rtol=1e-14)
    # a new batch size rebuilds the plan too
    yb, _ = layer.step(np.ones((2, 3)))
    np.testing.assert_array_equal(yb[0], y2)


def test_step_argument_checks():
    layer = fastrnn.GRU(3, 4)
    with pytest.raises(ValueError, match="3 features"):
        layer.step(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"hx must have shape \(1, 2, 4\)"):
        layer.step(np.zeros((2, 3), np.float32), np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="x_t must be 1 or 2-dimensional"):
        layer.step(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="bidirectional"):
        fastrnn.LSTM(3, 4, bidirectional=True).step(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="pair"):
        fastrnn.LSTM(3, 4).step(np.zeros(3, np.float32), np.zeros((1, 4), np.float32))


@pytest.mark.parametrize("cls", [fastrnn.LSTM, fastrnn.GRU, fastrnn.RNN])
def test_a_layer_that_has_stepped_can_be_copied_and_pickled(cls):
    """The step plan (raw pointers, not picklable) made copy.deepcopy and
    pickle fail with a TypeError once step() had run; a copy now builds a
    plan of its own."""
    import copy
    import pickle
    layer = cls(3, 4, num_layers=2, seed=0)
    x = np.ones(3, np.float32)
    y0, s0 = layer.step(x)
    for twin in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        y1, s1 = twin.step(x)
        np.testing.assert_array_equal(y1, y0)
        twin.params["weight_ih_l0"] = np.zeros_like(twin.params["weight_ih_l0"])
        y2, _ = twin.step(x)
        np.testing.assert_array_equal(layer.step(x)[0], y0)   # the original is untouched
        assert not np.array_equal(y2, y0)
