"""The contract every recurrent layer keeps (fastrnn.layers.base.RecurrentBase):
forward(x, hx, lengths) -> (y, hx_n), backward(dy, dhx_n) -> (dx, dhx),
step(x_t, hx) -> (y_t, hx), params/grads/zero_grad, batch_first, __call__,
checked once over all six classes."""
import numpy as np
import pytest

import fastrnn
from gradcheck import assert_gradients_match

D, H, T = 3, 6, 7

FACTORIES = {
    "RNN": lambda dt, **kw: fastrnn.RNN(D, H, num_layers=2, dtype=dt, seed=0, **kw),
    "LSTM": lambda dt, **kw: fastrnn.LSTM(D, H, num_layers=2, dtype=dt, seed=0, **kw),
    "GRU": lambda dt, **kw: fastrnn.GRU(D, H, dtype=dt, seed=0, **kw),
    "LeakyRNN": lambda dt, **kw: fastrnn.LeakyRNN(D, H, tau=(1.5, 6.0), learn_tau=True,
                                                  dtype=dt, seed=0, **kw),
    "ClockworkRNN": lambda dt, **kw: fastrnn.ClockworkRNN(D, H, periods=(1, 2, 3), dtype=dt,
                                                          seed=0, **kw),
    "DelayRNN": lambda dt, **kw: fastrnn.DelayRNN(D, H, delays=(1, 3), num_layers=2, dtype=dt,
                                                  seed=0, **kw),
    "DeepTransitionRNN": lambda dt, **kw: fastrnn.DeepTransitionRNN(D, H, depth=3, skip=True,
                                                                    dtype=dt, seed=0, **kw),
}
NAMES = list(FACTORIES)
# The layers whose loops gained lengths and step() with the common contract.
SINGLE_KERNEL = ["LeakyRNN", "ClockworkRNN", "DelayRNN", "DeepTransitionRNN"]
# Keyword names before the common contract: (forward's state, backward's gradient).
OLD_NAMES = {"RNN": ("h0", "dh_T"), "LeakyRNN": ("h0", "dh_T"),
             "ClockworkRNN": ("h0", "dh_T"), "DelayRNN": ("h0", "dh_T"),
             "LSTM": ("state", "dstate"), "GRU": ("state", "dstate"),
             "DeepTransitionRNN": ("h0", "dh_T")}


def _state(layer, B, rng, unbatched=False):
    shape = (layer.num_layers * layer.num_directions,) + (() if unbatched else (B,)) + (H,)
    if isinstance(layer, fastrnn.LSTM):
        return (rng.standard_normal(shape).astype(layer.dtype),
                rng.standard_normal(shape).astype(layer.dtype))
    return rng.standard_normal(shape).astype(layer.dtype)


def _parts(state):
    return list(state) if isinstance(state, tuple) else [state]


def _assert_state(a, b, **tol):
    assert isinstance(a, tuple) == isinstance(b, tuple)
    for p, q in zip(_parts(a), _parts(b)):
        if tol:
            np.testing.assert_allclose(p, q, **tol)
        else:
            np.testing.assert_array_equal(p, q)


def _current(step_state):
    """The state part of a step's state that forward's hx_n holds (DelayRNN
    steps carry their history; its last row is the state)."""
    if isinstance(step_state, np.ndarray) and step_state.ndim == 4:
        return step_state[:, -1]
    return step_state


def _step_options(layer, t):
    return {"t": t} if isinstance(layer, fastrnn.ClockworkRNN) else {}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_forward_backward_call_and_layouts(name, batch_first):
    rng = np.random.default_rng(0)
    layer = FACTORIES[name](np.float64, batch_first=batch_first)
    ref = FACTORIES[name](np.float64)
    assert layer.batch_first is batch_first
    B = 3
    x = rng.standard_normal((T, B, D))
    hx = _state(layer, B, rng)
    x_in = x.transpose(1, 0, 2).copy() if batch_first else x
    y, hx_n = layer.forward(x_in, hx)
    y_call, hx_call = layer(x_in, hx)
    np.testing.assert_array_equal(y, y_call)
    _assert_state(hx_n, hx_call)
    y_ref, hx_ref = ref.forward(x, hx)
    np.testing.assert_array_equal(y, y_ref.transpose(1, 0, 2) if batch_first else y_ref)
    _assert_state(hx_n, hx_ref)

    dy = rng.standard_normal(y.shape)
    dhx_n = _state(layer, B, rng)
    dx, dhx = layer.backward(dy, dhx_n)
    dx_ref, dhx_ref = ref.backward(dy.transpose(1, 0, 2) if batch_first else dy, dhx_n)
    assert dx.shape == x_in.shape
    np.testing.assert_array_equal(dx, dx_ref.transpose(1, 0, 2) if batch_first else dx_ref)
    _assert_state(dhx, dhx_ref)
    assert [p.shape for p in _parts(dhx)] == [p.shape for p in _parts(hx)]

    # unbatched: (T, D) in, states without B
    y1, h1 = layer.forward(x[:, 0], _state(layer, 1, np.random.default_rng(5), unbatched=True))
    assert y1.shape == (T, layer.num_directions * H)
    assert all(p.ndim == 2 for p in _parts(h1))


@pytest.mark.parametrize("name", NAMES)
def test_params_grads_and_zero_grad(name):
    layer = FACTORIES[name](np.float32)
    assert set(layer.params) == set(layer.grads)
    assert all(not g.any() for g in layer.grads.values())
    y, _ = layer(np.ones((4, 2, D), np.float32))
    layer.backward(np.ones_like(y))
    assert any(g.any() for g in layer.grads.values())
    layer.zero_grad()
    assert all(not g.any() for g in layer.grads.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [None, 1, 3])
@pytest.mark.parametrize("name", NAMES)
def test_step_by_step_equals_forward(name, batch, dtype):
    """The single-kernel layers step through their forward loop itself: the
    same numbers bit for bit. RNN, LSTM and GRU step through StepPlan, which
    forms x_t W_ih^T one row at a time where forward takes all T rows in one
    GEMM, so their sums may round differently (to a few ulp)."""
    rng = np.random.default_rng(1)
    layer = FACTORIES[name](dtype)
    x = rng.standard_normal((T, D) if batch is None else (T, batch, D)).astype(dtype)
    hx = _state(layer, batch, rng, unbatched=batch is None)
    y, hx_n = layer.forward(x, hx)
    state = hx
    for t in range(T):
        y_t, state = layer.step(x[t], state, **_step_options(layer, t))
        if name in SINGLE_KERNEL:
            np.testing.assert_array_equal(y_t, y[t])
        else:
            eps = np.finfo(dtype).eps
            np.testing.assert_allclose(y_t, y[t], rtol=64 * eps, atol=64 * eps)
    final = _current(state) if batch is not None else (
        state[:, -1] if name == "DelayRNN" else state)
    if name in SINGLE_KERNEL:
        _assert_state(final, hx_n)
    else:
        eps = np.finfo(dtype).eps
        _assert_state(final, hx_n, rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("name", NAMES)
def test_step_from_zeros_equals_forward_from_zeros(name):
    layer = FACTORIES[name](np.float64)
    x = np.random.default_rng(2).standard_normal((2, 2, D))
    y, _ = layer.forward(x)
    y0, state = layer.step(x[0])
    np.testing.assert_allclose(y0, y[0], rtol=1e-13, atol=1e-15)
    y1, _ = layer.step(x[1], state, **_step_options(layer, 1))
    np.testing.assert_allclose(y1, y[1], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_ragged_batch_equals_each_sequence_alone(name):
    """PyTorch's packed-sequence semantics: outputs past a sequence's end
    are zero, its final state is taken at its own end, dy past the end is
    not read, and the gradients are those of each sequence run alone."""
    rng = np.random.default_rng(3)
    layer = FACTORIES[name](np.float64)
    lengths = np.array([4, T, 0, 2, T])
    B = len(lengths)
    x = rng.standard_normal((T, B, D))
    hx = _state(layer, B, rng)
    y, hx_n = layer.forward(x, hx, lengths=lengths)
    dy = rng.standard_normal(y.shape)
    dhx_n = _state(layer, B, rng)
    dx, dhx = layer.backward(dy, dhx_n)
    grads = layer.grads.copy()
    total = {k: np.zeros_like(v) for k, v in grads.items()}
    for b, n in enumerate(lengths):
        def row(state):
            return tuple(p[:, b:b + 1] for p in state) if isinstance(state, tuple) \
                else state[:, b:b + 1]
        layer.zero_grad()
        y_b, h_b = layer.forward(x[:n, b:b + 1], row(hx))
        dx_b, dh_b = layer.backward(dy[:n, b:b + 1], row(dhx_n))
        np.testing.assert_allclose(y[:n, b:b + 1], y_b, rtol=1e-13, atol=1e-15)
        assert not y[n:, b].any()
        _assert_state(row(hx_n), h_b, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(dx[:n, b:b + 1], dx_b, rtol=1e-12, atol=1e-14)
        assert not dx[n:, b].any()
        _assert_state(row(dhx), dh_b, rtol=1e-12, atol=1e-14)
        for k in total:
            total[k] += layer.grads[k]
    for k in total:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-11, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("name", NAMES)
def test_old_keyword_names_warn_and_give_the_same_result(name):
    rng = np.random.default_rng(4)
    old_state, old_grad = OLD_NAMES[name]
    layer = FACTORIES[name](np.float64)
    x = rng.standard_normal((5, 2, D))
    hx, dhx_n = _state(layer, 2, rng), _state(layer, 2, rng)
    dy = rng.standard_normal((5, 2, layer.num_directions * H))
    y, hx_n = layer.forward(x, hx=hx)
    dx, dhx = layer.backward(dy, dhx_n=dhx_n)
    with pytest.warns(DeprecationWarning, match=f"'{old_state}' is deprecated.*use 'hx'"):
        y_old, hx_n_old = layer.forward(x, **{old_state: hx})
    with pytest.warns(DeprecationWarning, match=f"'{old_grad}' is deprecated.*use 'dhx_n'"):
        dx_old, dhx_old = layer.backward(dy, **{old_grad: dhx_n})
    np.testing.assert_array_equal(y, y_old)
    _assert_state(hx_n, hx_n_old)
    np.testing.assert_array_equal(dx, dx_old)
    _assert_state(dhx, dhx_old)
    with pytest.raises(TypeError, match=f"both '{old_state}'"):
        layer.forward(x, hx, **{old_state: hx})
    with pytest.raises(TypeError, match="unexpected keyword"):
        layer.forward(x, hidden=hx)
    with pytest.raises(TypeError, match="unexpected keyword"):
        layer.backward(dy, clip=1.0)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_step_old_keyword_warns(name):
    layer = FACTORIES[name](np.float64)
    x = np.ones(D)
    _, state = layer.step(x)
    y, _ = layer.step(x, hx=state)
    with pytest.warns(DeprecationWarning, match="'state' is deprecated"):
        y_old, _ = layer.step(x, state=state)
    np.testing.assert_array_equal(y, y_old)


def _loss_and_grads(layer, x, hx, lengths, wy, wh):
    y, hx_n = layer.forward(x, hx, lengths=lengths)
    return float((wy * y).sum() + (wh * hx_n).sum()), wy, wh


@pytest.mark.parametrize("name", SINGLE_KERNEL)
def test_gradients_with_lengths_match_finite_differences(name):
    """BPTT over a ragged batch against central differences of the loss
    sum(wy * y) + sum(wh * h_n), for every parameter, x and hx (float64)."""
    rng = np.random.default_rng(6)
    layer = FACTORIES[name](np.float64)
    lengths = np.array([5, 2, 0, 4])
    Tg, B = 5, len(lengths)
    x = rng.standard_normal((Tg, B, D))
    hx = 0.5 * rng.standard_normal((layer.num_layers, B, H))
    y, hx_n = layer.forward(x, hx, lengths=lengths)
    wy, wh = rng.standard_normal(y.shape), rng.standard_normal(hx_n.shape)

    def loss():
        out, final = layer.forward(x, hx, lengths=lengths)
        return float((wy * out).sum() + (wh * final).sum())

    layer.zero_grad()
    layer.forward(x, hx, lengths=lengths)
    dx, dhx = layer.backward(wy, wh)
    assert_gradients_match(loss, layer, (dx, x), (dhx, hx))


def test_clockwork_step_needs_the_step_index():
    layer = FACTORIES["ClockworkRNN"](np.float64)
    _, state = layer.step(np.ones(D))   # t = 0 when starting from zeros
    with pytest.raises(TypeError, match="needs t="):
        layer.step(np.ones(D), state)
    with pytest.raises(ValueError, match="t must be >= 0"):
        layer.step(np.ones(D), state, t=-1)
    # module i runs at steps t with t % period_i == 0: at t = 1 only the fastest
    _, h1 = layer.step(np.ones(D), state, t=1)
    np.testing.assert_array_equal(h1[:, 2:], state[:, 2:])
    assert np.all(h1[:, :2] != state[:, :2])


def test_delay_history_layout():
    """DelayRNN's step carries its history (L, M, B, H), row M - 1 the
    current state; forward given a history returns one, so chunks chain as
    one sequence, and backward gives the history's gradient."""
    rng = np.random.default_rng(7)
    layer = FACTORIES["DelayRNN"](np.float64)
    M = max(layer.delays)
    x = rng.standard_normal((9, 2, D))
    y, h_n = layer.forward(x)
    _, history = layer.step(x[0])
    assert history.shape == (2, M, 2, H)
    assert not history[:, :M - 1].any()   # zeros before the sequence
    y_a, hist_a = layer.forward(x[:4], np.zeros((2, M, 2, H)))
    assert hist_a.shape == (2, M, 2, H)
    y_b, hist_b = layer.forward(x[4:], hist_a)
    np.testing.assert_allclose(np.concatenate([y_a, y_b]), y, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(hist_b[:, -1], h_n, rtol=1e-13, atol=1e-15)
    # the history's gradient: finite differences through one chunk, ragged
    lengths = np.array([3, 1])
    hist0 = 0.5 * rng.standard_normal((2, M, 2, H))
    out, hist = layer.forward(x[:3], hist0, lengths=lengths)
    wy, wh = rng.standard_normal(out.shape), rng.standard_normal(hist.shape)

    def loss():
        o, hh = layer.forward(x[:3], hist0, lengths=lengths)
        return float((wy * o).sum() + (wh * hh).sum())

    layer.forward(x[:3], hist0, lengths=lengths)
    _, dhist = layer.backward(wy, wh)
    assert dhist.shape == hist0.shape
    assert_gradients_match(loss, None, (dhist, hist0))
