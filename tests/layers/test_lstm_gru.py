"""LSTM and GRU: finite-difference gradients (float64), the NumPy reference
forward (tests/reference.py), lengths, states, layouts and argument checks."""
import numpy as np
import pytest

import fastrnn
from reference import gru_forward, lstm_forward

# ------------------------------------------------------------------ helpers


def _make(kind, D, H, *, dtype=np.float64, seed=0, **kw):
    if kind == "lstm":
        return fastrnn.LSTM(D, H, dtype=dtype, seed=seed, **kw)
    if kind in ("gru", "gru_before"):
        return fastrnn.GRU(D, H, reset_after=kind == "gru", dtype=dtype, seed=seed, **kw)
    return fastrnn.RNN(D, H, nonlinearity=kind.split("_")[1], dtype=dtype, seed=seed, **kw)


def _run(layer, x, state, lengths):
    """Forward; returns (y, list of final state arrays)."""
    if isinstance(layer, fastrnn.LSTM):
        y, (h, c) = layer.forward(x, state, lengths=lengths)
        return y, [h, c]
    y, h = layer.forward(x, state, lengths=lengths)
    return y, [h]


def _loss(layer, x, state, lengths, dy, dfinal):
    y, final = _run(layer, x, state, lengths)
    return np.sum(y * dy) + sum(np.sum(f * d) for f, d in zip(final, dfinal))


FD_CASES = [
    ("lstm", dict()),
    ("lstm", dict(num_layers=2, bidirectional=True)),
    ("lstm", dict(peepholes=True)),
    ("lstm", dict(num_layers=2, bidirectional=True, peepholes=True, lengths=[5, 2, 4])),
    ("gru", dict(num_layers=2, bidirectional=True)),
    ("gru", dict(lengths=[1, 5, 3], bidirectional=True)),
    ("gru_before", dict()),
    ("gru_before", dict(num_layers=2, bidirectional=True, lengths=[4, 5, 0])),
    ("rnn_tanh", dict(num_layers=2, bidirectional=True, lengths=[5, 3, 3])),
    ("lstm", dict(bias=False, batch_first=True)),
]


@pytest.mark.parametrize("kind,kw", FD_CASES,
                         ids=[f"{k}-{'-'.join(f'{a}={b}' for a, b in kw.items())}"
                              for k, kw in FD_CASES])
def test_gradients_match_finite_differences(kind, kw):
    kw = dict(kw)
    lengths = kw.pop("lengths", None)
    D, H, B, T = 3, 4, 3, 5
    layer = _make(kind, D, H, **kw)
    rng = np.random.default_rng(1)
    for p in layer.params.values():  # larger weights: gates away from their linear part
        p[...] = rng.uniform(-0.8, 0.8, size=p.shape)
    dirs = layer.num_directions
    LD = layer.num_layers * dirs
    bf = layer.batch_first
    x = rng.standard_normal((B, T, D) if bf else (T, B, D))
    dy = rng.standard_normal((B, T, dirs * H) if bf else (T, B, dirs * H))
    if lengths is not None:
        valid = np.arange(T)[:, None] < np.asarray(lengths)[None, :]
        dy = dy * valid[:, :, None]
    h0 = 0.5 * rng.standard_normal((LD, B, H))
    dfinal = [rng.standard_normal((LD, B, H))]
    state = h0
    if kind == "lstm":
        c0 = 0.5 * rng.standard_normal((LD, B, H))
        state = (h0, c0)
        dfinal.append(rng.standard_normal((LD, B, H)))

    _run(layer, x, state, lengths)
    dstate = tuple(dfinal) if kind == "lstm" else dfinal[0]
    if isinstance(layer, fastrnn.RNN):
        dx, dstate0 = layer.backward(dy, dstate)
    else:
        dx, dstate0 = layer.backward(dy, dstate)
    dstate0 = list(dstate0) if kind == "lstm" else [dstate0]

    def loss():
        return _loss(layer, x, state, lengths, dy, dfinal)

    eps = 1e-6

    def check(arr, analytic, name, idx):
        for i in idx:
            old = arr.flat[i]
            arr.flat[i] = old + eps
            up = loss()
            arr.flat[i] = old - eps
            down = loss()
            arr.flat[i] = old
            fd = (up - down) / (2 * eps)
            assert abs(fd - analytic.flat[i]) <= 1e-7 * max(1.0, abs(fd)), (
                f"{name}[{np.unravel_index(i, arr.shape)}]: analytic {analytic.flat[i]}, "
                f"finite difference {fd}")

    pick = np.random.default_rng(2)
    for name, p in layer.params.items():
        idx = pick.choice(p.size, size=min(p.size, 12), replace=False)
        check(p, layer.grads[name], name, idx)
    check(x, dx, "x", range(x.size))
    states = [h0] if kind != "lstm" else [h0, c0]
    for s, ds, nm in zip(states, dstate0, ["h0", "c0"]):
        check(s, ds, nm, range(s.size))


# ------------------------------------------------------ NumPy reference


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("peepholes", [False, True])
def test_lstm_forward_matches_reference(dtype, tol, peepholes):
    D, H, B, T = 5, 7, 3, 9
    layer = fastrnn.LSTM(D, H, peepholes=peepholes, dtype=dtype, seed=4)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((T, B, D))
    h0, c0 = rng.standard_normal((2, 1, B, H))
    y, (h, c) = layer.forward(x.astype(dtype), (h0.astype(dtype), c0.astype(dtype)))
    p = {k: v.astype(np.float64) for k, v in layer.params.items()}
    hs, cs = lstm_forward(x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                          p["bias_hh_l0"], h0[0], c0[0], p.get("weight_peephole_l0"))
    assert y.dtype == dtype
    np.testing.assert_allclose(y, hs[1:], rtol=0, atol=tol * 10)
    np.testing.assert_allclose(h[0], hs[-1], rtol=0, atol=tol * 10)
    np.testing.assert_allclose(c[0], cs[-1], rtol=0, atol=tol * 10)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_gru_forward_matches_reference(reset_after, dtype, tol):
    D, H, B, T = 4, 6, 2, 11
    layer = fastrnn.GRU(D, H, reset_after=reset_after, dtype=dtype, seed=6)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((1, B, H))
    y, h = layer.forward(x.astype(dtype), h0.astype(dtype))
    p = {k: v.astype(np.float64) for k, v in layer.params.items()}
    hs = gru_forward(x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                     p["bias_hh_l0"], h0[0], reset_after=reset_after)
    np.testing.assert_allclose(y, hs[1:], rtol=0, atol=tol * 10)
    np.testing.assert_allclose(h[0], hs[-1], rtol=0, atol=tol * 10)


def test_gru_forms_differ():
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    a = fastrnn.GRU(3, 4, reset_after=True, dtype=np.float64, seed=1)
    b = fastrnn.GRU(3, 4, reset_after=False, dtype=np.float64, seed=1)
    assert a.params.keys() == b.params.keys()
    assert np.max(np.abs(a.forward(x)[0] - b.forward(x)[0])) > 1e-3


# ---------------------------------------------------------------- lengths


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_before", "rnn_tanh"])
def test_lengths_equal_separate_runs(kind):
    """Each sequence of a ragged batch gives what it gives alone, cut to its
    own length; outputs past its end are zero."""
    D, H, T = 3, 5, 6
    lengths = [6, 2, 0, 4]
    layer = _make(kind, D, H, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((T, 4, D))
    x[np.arange(T)[:, None] >= np.asarray(lengths)[None, :]] = np.nan  # padding unread
    y, final = _run(layer, x, None, lengths)
    for b, n in enumerate(lengths):
        yb, fb = _run(layer, x[:n, b], None, None)
        np.testing.assert_allclose(y[:n, b], yb, rtol=0, atol=1e-13)
        assert np.all(y[n:, b] == 0)
        for f, g in zip(final, fb):
            np.testing.assert_allclose(f[:, b], g, rtol=0, atol=1e-13)


def test_lengths_gradients_equal_separate_runs():
    D, H, T = 3, 4, 5
    lengths = [2, 5, 3]
    layer = fastrnn.LSTM(D, H, bidirectional=True, dtype=np.float64, seed=3)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((T, 3, D))
    dy = rng.standard_normal((T, 3, 2 * H))
    dh, dc = rng.standard_normal((2, 2, 3, H))
    layer.forward(x, lengths=lengths)
    dx, (dh0, dc0) = layer.backward(dy, (dh, dc))
    total = {k: g.copy() for k, g in layer.grads.items()}
    layer.zero_grad()
    for b, n in enumerate(lengths):
        layer.forward(x[:n, b])
        dxb, (dhb, dcb) = layer.backward(dy[:n, b], (dh[:, b], dc[:, b]))
        np.testing.assert_allclose(dx[:n, b], dxb, atol=1e-13)
        assert np.all(dx[n:, b] == 0)
        np.testing.assert_allclose(dh0[:, b], dhb, atol=1e-13)
        np.testing.assert_allclose(dc0[:, b], dcb, atol=1e-13)
    for k in total:
        np.testing.assert_allclose(layer.grads[k], total[k], atol=1e-12)


def test_lengths_validation():
    layer = fastrnn.GRU(2, 3)
    x = np.zeros((4, 2, 2), np.float32)
    with pytest.raises(ValueError, match="lengths must have shape"):
        layer.forward(x, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"lengths must be in \[0, 4\]"):
        layer.forward(x, lengths=[5, 1])
    with pytest.raises(TypeError, match="lengths must be an array of integers"):
        layer.forward(x, lengths=[1.5, 2])
    with pytest.raises(ValueError, match="batched input only"):
        layer.forward(x[:, 0], lengths=[3])


# ------------------------------------------------------- states, layouts


def test_lstm_state_shapes_unbatched_and_batch_first():
    layer = fastrnn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    y, (h, c) = layer.forward(x)
    assert y.shape == (5, 2, 8) and h.shape == c.shape == (4, 2, 4)
    y1, (h1, c1) = layer.forward(x[:, 1])
    assert y1.shape == (5, 8) and h1.shape == (4, 4)
    np.testing.assert_allclose(y1, y[:, 1], atol=1e-14)
    np.testing.assert_allclose(c1, c[:, 1], atol=1e-14)
    dx1, (dh1, dc1) = layer.backward(np.ones_like(y1))
    assert dx1.shape == (5, 3) and dh1.shape == dc1.shape == (4, 4)
    bf = fastrnn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True,
                      dtype=np.float64, seed=0)
    yb, (hb, cb) = bf.forward(x.transpose(1, 0, 2))
    np.testing.assert_allclose(yb, y.transpose(1, 0, 2), atol=1e-14)
    np.testing.assert_allclose(hb, h, atol=1e-14)


def test_final_state_continues_the_sequence():
    """Running 0..T in two pieces, passing the state on, equals one run."""
    for layer in [fastrnn.LSTM(3, 4, num_layers=2, dtype=np.float64, seed=0),
                  fastrnn.GRU(3, 4, num_layers=2, dtype=np.float64, seed=0)]:
        x = np.random.default_rng(1).standard_normal((7, 2, 3))
        y, s = layer.forward(x)
        y1, s1 = layer.forward(x[:3])
        y2, s2 = layer.forward(x[3:], s1)
        np.testing.assert_allclose(np.concatenate([y1, y2]), y, atol=1e-14)


def test_empty_sequence_returns_initial_state():
    layer = fastrnn.LSTM(2, 3, dtype=np.float64, seed=0)
    h0, c0 = np.random.default_rng(0).standard_normal((2, 1, 4, 3))
    y, (h, c) = layer.forward(np.zeros((0, 4, 2)), (h0, c0))
    assert y.shape == (0, 4, 3)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(c, c0)
    dx, (dh, dc) = layer.backward(np.zeros((0, 4, 3)), (h0, c0))
    np.testing.assert_array_equal(dh, h0)
    np.testing.assert_array_equal(dc, c0)


def test_grads_accumulate_until_zero_grad():
    layer = fastrnn.GRU(2, 3, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 2))
    y, _ = layer.forward(x)
    layer.backward(np.ones_like(y))
    once = {k: g.copy() for k, g in layer.grads.items()}
    assert all(np.any(g != 0) for g in once.values())
    layer.forward(x)
    layer.backward(np.ones_like(y))
    for k in once:
        np.testing.assert_allclose(layer.grads[k], 2 * once[k], rtol=1e-14)
    layer.zero_grad()
    assert all(np.all(g == 0) for g in layer.grads.values())


def test_clip_hidden_bounds_state_gradient():
    """With a tiny clip every dL/dh_t is clipped, so dh0 = W_hh^T da_0 is
    bounded through the clipped value; without clipping it is not."""
    layer = fastrnn.LSTM(2, 3, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((6, 1, 2))
    y, _ = layer.forward(x)
    big = 1e6 * np.ones_like(y)
    dx_free, _ = layer.backward(big)
    layer.zero_grad()
    y, _ = layer.forward(x)
    dx_clip, _ = layer.backward(big, clip_hidden=1e-3)
    assert np.max(np.abs(dx_free)) > 1e3
    assert np.max(np.abs(dx_clip)) < 1e-1
    layer.forward(x)
    dx_loose, _ = layer.backward(np.ones_like(y), clip_hidden=1e9)
    layer.forward(x)
    dx_none, _ = layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx_loose, dx_none)


# ------------------------------------------------------- parameters, init


def test_pytorch_names_and_shapes():
    lstm = fastrnn.LSTM(3, 5, num_layers=2, bidirectional=True)
    shapes = {k: v.shape for k, v in lstm.params.items()}
    assert shapes["weight_ih_l0"] == (20, 3) and shapes["weight_hh_l0"] == (20, 5)
    assert shapes["weight_ih_l1_reverse"] == (20, 10) and shapes["bias_hh_l1_reverse"] == (20,)
    assert len(shapes) == 16
    gru = fastrnn.GRU(3, 5, bias=False)
    assert {k: v.shape for k, v in gru.params.items()} == {
        "weight_ih_l0": (15, 3), "weight_hh_l0": (15, 5)}
    peep = fastrnn.LSTM(3, 5, peepholes=True, bidirectional=True)
    assert peep.params["weight_peephole_l0_reverse"].shape == (3, 5)


def test_forget_bias_and_seed():
    a = fastrnn.LSTM(3, 4, seed=11, forget_bias=0.0, dtype=np.float64)
    b = fastrnn.LSTM(3, 4, seed=11, forget_bias=1.0, dtype=np.float64)
    k = 1 / np.sqrt(4)
    assert np.all(np.abs(a.params["bias_ih_l0"]) <= k)
    d = b.params["bias_ih_l0"] - a.params["bias_ih_l0"]
    np.testing.assert_allclose(d, np.r_[np.zeros(4), np.ones(4), np.zeros(8)], atol=1e-15)
    np.testing.assert_array_equal(a.params["bias_hh_l0"], b.params["bias_hh_l0"])
    c = fastrnn.LSTM(3, 4, seed=12)
    assert np.any(c.params["weight_ih_l0"] != fastrnn.LSTM(3, 4, seed=11).params["weight_ih_l0"])


def test_load_state_dict_checks_keys_and_shapes():
    layer = fastrnn.GRU(3, 4)
    sd = layer.state_dict()
    sd["weight_ih_l0"] = np.ones((12, 3))
    layer.load_state_dict(sd)
    assert np.all(layer.params["weight_ih_l0"] == 1)
    with pytest.raises(ValueError, match="missing"):
        layer.load_state_dict({"weight_ih_l0": np.ones((12, 3))})
    bad = layer.state_dict()
    bad["weight_hh_l0"] = np.ones((4, 4))
    with pytest.raises(ValueError, match="weight_hh_l0 must have shape"):
        layer.load_state_dict(bad)


def test_argument_checks():
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        fastrnn.LSTM(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="dtype"):
        fastrnn.GRU(3, 4, dtype=np.int32)
    layer = fastrnn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input_size"):
        layer.forward(np.zeros((2, 1, 5)))
    with pytest.raises(ValueError, match=r"hx\[0\] must have shape \(2, 1, 4\)"):
        layer.forward(np.zeros((2, 1, 3)), (np.zeros((1, 1, 4)), None))
    with pytest.raises(TypeError, match="pair"):
        layer.forward(np.zeros((2, 1, 3)), np.zeros((2, 1, 4)))
    with pytest.raises(fastrnn.NotFittedError, match="before forward"):
        fastrnn.GRU(3, 4).backward()
    layer.forward(np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match="dy must have shape"):
        layer.backward(np.zeros((2, 1, 5)))
