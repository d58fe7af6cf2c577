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


# -------------------------------------------------- the streaming fast path
def _parts(state):
    """The arrays of a layer's state: (h, c) for the LSTM, (h,) else."""
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_step_product_sums_as_the_small_kernel_did(dtype):
    """A step of one sequence forms its products in the step kernel of
    csrc/cells, which must give the small mat-vec kernel's numbers to the
    bit (step() results unchanged by the faster kernel): every row count
    around the blocks of 8 (4) rows, every remainder of the vector width,
    strides as the layers make them, beta 0 and 1, with NaN in y for beta 0
    (never read) and values of every magnitude."""
    from fastrnn.layers._recurrent import _step_product_pair
    rng = np.random.default_rng(7)
    for m in (1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 64, 192, 256):
        for k in (1, 2, 5, 8, 9, 16, 31, 32, 33, 64, 67):
            w = (rng.standard_normal((m, k)) * 10.0 ** rng.integers(-3, 4, (m, k))).astype(dtype)
            x = rng.standard_normal(k).astype(dtype)
            for beta in (0.0, 1.0):
                y = rng.standard_normal(m).astype(dtype)
                if beta == 0.0:
                    y[::2] = np.nan
                ours, theirs = _step_product_pair(w, x, dtype(beta), y)
                np.testing.assert_array_equal(ours.view(np.uint8), theirs.view(np.uint8))
                np.testing.assert_allclose(
                    ours, w.astype(np.float64) @ x + (beta * y if beta else 0),
                    rtol=1e-4 if dtype == np.float32 else 1e-12,
                    atol=(1e-4 if dtype == np.float32 else 1e-12) * np.abs(w).sum(axis=1).max())


@pytest.mark.parametrize("cls,kw", CONFIGS, ids=[f"{c.__name__}-{k}" for c, k in CONFIGS])
def test_each_step_returns_fresh_arrays(cls, kw):
    """The fast path allocates its outputs: a later step never overwrites
    what an earlier one returned, and y is the new state's last layer."""
    layer = cls(3, 4, seed=0, **kw)
    x = np.random.default_rng(0).standard_normal((3, 2, 3)).astype(np.float32)
    y0, s0 = layer.step(x[0])
    kept = (y0.copy(), [a.copy() for a in _parts(s0)])
    y1, s1 = layer.step(x[1], s0)
    y2, _ = layer.step(x[1], s0)   # the same step again: the same numbers
    np.testing.assert_array_equal(y0, kept[0])
    for a, b in zip(_parts(s0), kept[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(y1, y2)
    assert not np.shares_memory(y1, y2)
    for a, b in zip(_parts(s1), _parts(s0)):
        assert not np.shares_memory(a, b)
    h1 = s1[0] if isinstance(s1, tuple) else s1
    assert np.shares_memory(y1, h1)
    np.testing.assert_array_equal(y1, h1[-1])


def test_every_form_of_the_lstm_state_gives_the_same_step():
    """A tuple, a list or a tuple subclass (h, c), of arrays, of lists or of
    a Fortran-ordered array: the fast path takes a tuple or list of ready
    arrays as they are, the slow path converts the rest, and all give the
    same numbers to the bit."""
    from collections import namedtuple
    Pair = namedtuple("Pair", "h c")
    layer = fastrnn.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(3)
    h, c = rng.standard_normal((2, 2, 4))
    ref_y, (ref_h, ref_c) = layer.step(x, (h, c))
    for state in ([h, c], Pair(h, c), (h.tolist(), c.tolist()), (h, np.asfortranarray(c))):
        y, (h1, c1) = layer.step(x.tolist() if isinstance(state, list) else x, state)
        np.testing.assert_array_equal(y, ref_y)
        np.testing.assert_array_equal(h1, ref_h)
        np.testing.assert_array_equal(c1, ref_c)


@pytest.mark.parametrize("cls,kw", [(fastrnn.LSTM, dict(peepholes=True)),
                                    (fastrnn.GRU, dict(reset_after=False))],
                         ids=["LSTM-peepholes", "GRU-reset-before"])
@pytest.mark.parametrize("batch", [None, 2])
def test_a_large_step_equals_forward(cls, kw, batch):
    """A step too large to keep the GIL for (or to put its scratch on the
    stack) takes the other branch of StepPlan: the same numbers as the
    small ones, within rounding of forward."""
    layer = cls(16, 256, seed=0, **kw)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 16) if batch is None else (3, batch, 16)).astype(np.float32)
    y, final = layer.forward(x)
    state = None
    for t in range(3):
        y_t, state = layer.step(x[t], state)
        _close(y_t, y[t])
    _states_equal(state, final)


def test_a_weight_updated_through_a_held_reference_is_seen():
    """An optimiser keeps the parameter arrays and updates them in place,
    past the dict: the plan reads those very arrays at every step."""
    layer = fastrnn.GRU(3, 4, dtype=np.float64, seed=0)
    x = np.ones(3)
    y0, _ = layer.step(x)
    bias = layer.params["bias_ih_l0"]
    bias += 0.5
    y1, _ = layer.step(x)
    ref, _ = layer.forward(x[None])
    assert np.all(y1 != y0)
    np.testing.assert_allclose(y1, ref[0], rtol=1e-14)


@pytest.mark.parametrize("cls", [fastrnn.LSTM, fastrnn.GRU])
def test_unaligned_inputs_take_the_checked_path(cls):
    """A C-contiguous but unaligned x or state (a view into a byte buffer at
    an odd offset) is never read in place by the kernels: step() copies it
    and gives the numbers of the aligned arrays."""
    layer = cls(3, 4, dtype=np.float64, seed=0)
    rng = np.random.default_rng(5)
    x, h, c = rng.standard_normal(3), rng.standard_normal((1, 4)), rng.standard_normal((1, 4))

    def unaligned(a):
        raw = np.zeros(a.nbytes + 1, np.uint8)
        out = raw[1:].view(np.float64).reshape(a.shape)
        out[...] = a
        assert not out.flags.aligned and out.flags.c_contiguous
        return out

    state = (h, c) if cls is fastrnn.LSTM else h
    odd = (unaligned(h), unaligned(c)) if cls is fastrnn.LSTM else unaligned(h)
    y_ref, s_ref = layer.step(x, state)
    plan = layer._plan
    assert plan.stream(layer.params, x, state) is not None       # the fast path...
    assert plan.stream(layer.params, unaligned(x), state) is None   # ...declines both
    assert plan.stream(layer.params, x, odd) is None
    y, s = layer.step(unaligned(x), odd)
    np.testing.assert_array_equal(y, y_ref)
    for a, b in zip(_parts(s), _parts(s_ref)):
        np.testing.assert_array_equal(a, b)
