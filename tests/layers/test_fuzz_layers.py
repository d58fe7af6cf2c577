"""Property tests of the gated and multi-scale layers (LSTM, GRU, LeakyRNN,
ClockworkRNN, DelayRNN) with Hypothesis, beside tests/test_fuzz.py (RNN,
Linear, clipping).

Random valid configurations (layers, directions, bias, peepholes, both GRU
forms, batch_first, unbatched input, empty sequences, any memory layout of
the input) must agree with the NumPy references of tests/reference.py, and
their backward pass must run and give finite gradients of the right shapes.
Random invalid arguments (dtypes, shapes, states, output gradients, state
dicts, streaming steps) must raise ValueError or TypeError and nothing else.
Every call into compiled code runs in the worker process of
tests/fuzz_support.py, so a crash fails the test with its case.

The default run takes a few seconds; FASTRNN_FUZZ_EXAMPLES=N runs N examples
per test instead.
"""
import os
import sys

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings, strategies as st  # noqa: E402

import fastrnn  # noqa: E402
import reference  # noqa: E402
from fuzz_support import Worker, values_seen  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the worker uses select() on pipes")

_N = int(os.environ.get("FASTRNN_FUZZ_EXAMPLES", "0"))


def fuzz(default):
    return settings(max_examples=_N or default, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


GOOD_LAYOUTS = ("C", "F", "strided", "reversed", "readonly", "unaligned", "broadcast", "list")
BAD_DTYPES = ("complex64", "complex128", "object", "U3", "M8[s]")


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


# ------------------------------------------------------------- configs
@st.composite
def configs(draw):
    """(class name, constructor config, layers * directions, has cell state)."""
    cls = draw(st.sampled_from(["LSTM", "GRU", "LeakyRNN", "ClockworkRNN", "DelayRNN"]))
    D = draw(st.integers(1, 4))
    H = draw(st.integers(1, 5))
    cfg = dict(input_size=D, hidden_size=H, batch_first=draw(st.booleans()),
               dtype=draw(st.sampled_from(["float32", "float64"])), seed=draw(st.integers(0, 99)))
    LD = 1
    if cls in ("LSTM", "GRU"):
        cfg.update(num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
                   bias=draw(st.booleans()))
        if cls == "LSTM":
            cfg.update(peepholes=draw(st.booleans()),
                       forget_bias=draw(st.sampled_from([0.0, 1.0])))
        else:
            cfg["reset_after"] = draw(st.booleans())
        LD = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
    elif cls == "LeakyRNN":
        if draw(st.booleans()):
            cfg["learn_tau"] = True
        else:
            cfg["tau"] = draw(st.lists(st.floats(1.0, 50.0), min_size=H, max_size=H))
    elif cls == "ClockworkRNN":
        n = draw(st.integers(1, 3))
        cfg["hidden_size"] = H * n
        cfg["periods"] = draw(st.lists(st.sampled_from([1, 2, 3, 5, 2**31 - 1]),
                                       min_size=n, max_size=n))
        cfg["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    else:
        cfg["delays"] = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True))
        cfg["num_layers"] = draw(st.integers(1, 2))
        cfg["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
        LD = cfg["num_layers"]
    return cls, cfg, LD, cls == "LSTM"


def _shapes(cfg, LD, T, B, unbatched):
    """(x, state, y) shapes in the caller's layout."""
    D, H = cfg["input_size"], cfg["hidden_size"]
    ND = 2 if cfg.get("bidirectional") else 1
    if unbatched:
        return (T, D), (LD, H), (T, ND * H)
    if cfg["batch_first"]:
        return (B, T, D), (LD, B, H), (B, T, ND * H)
    return (T, B, D), (LD, B, H), (T, B, ND * H)


def _values(seed, shape, dtype, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


# ----------------------------------------------------------- references
def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _stack(cls, cfg, x, p, h0, c0):
    """y (T, B, dirs*H) and the final states, per layer and direction, from
    tests/reference.py's one-layer cells (inputs time-major, float64)."""
    H = cfg["hidden_size"]
    ND = 2 if cfg.get("bidirectional") else 1
    zero = np.zeros(3 * H if cls == "GRU" else 4 * H)
    inp, h_n, c_n = x, [], []
    for layer in range(cfg["num_layers"]):
        outs = []
        for d, sfx in enumerate(("", "_reverse")[:ND]):
            k = layer * ND + d
            xi = inp if d == 0 else inp[::-1]
            name = f"l{layer}{sfx}"
            w_ih, w_hh = p[f"weight_ih_{name}"], p[f"weight_hh_{name}"]
            b_ih, b_hh = p.get(f"bias_ih_{name}", zero), p.get(f"bias_hh_{name}", zero)
            if cls == "LSTM":
                hs, cs = reference.lstm_forward(xi, w_ih, w_hh, b_ih, b_hh, h0[k], c0[k],
                                                p.get(f"weight_peephole_{name}"))
                c_n.append(cs[-1])
            else:
                hs = reference.gru_forward(xi, w_ih, w_hh, b_ih, b_hh, h0[k],
                                           reset_after=cfg["reset_after"])
            outs.append(hs[1:] if d == 0 else hs[1:][::-1])
            h_n.append(hs[-1])
        inp = np.concatenate(outs, axis=-1)
    return inp, np.stack(h_n), (np.stack(c_n) if c_n else None)


def _act(cfg, a):
    return np.tanh(a) if cfg.get("nonlinearity", "tanh") == "tanh" else np.maximum(a, 0)


def reference_forward(cls, cfg, x, p, h0, c0):
    """y (T, B, dirs*H) and h_n (LD, B, H) [, c_n] in float64."""
    if cls in ("LSTM", "GRU"):
        return _stack(cls, cfg, x, p, h0, c0)
    T = x.shape[0]
    b = p["bias_ih_l0"] + p["bias_hh_l0"]
    if cls == "LeakyRNN":
        tau = np.asarray(cfg["tau"]) if "tau" in cfg else 1 + np.exp(-p["leak_logit_l0"])
        alpha = 1.0 / tau
        hs = [h0[0]]
        for t in range(T):
            s = np.tanh(x[t] @ p["weight_ih_l0"].T + b + hs[-1] @ p["weight_hh_l0"].T)
            hs.append(hs[-1] + alpha * (s - hs[-1]))
        y = np.stack(hs[1:]) if T else np.zeros((0,) + h0[0].shape)
        return y, hs[-1][None], None
    if cls == "ClockworkRNN":
        periods = sorted(cfg["periods"])
        k = cfg["hidden_size"] // len(periods)
        H = cfg["hidden_size"]
        hs = [h0[0]]
        for t in range(T):
            a = x[t] @ p["weight_ih_l0"].T + b + hs[-1] @ p["weight_hh_l0"].T
            new = hs[-1].copy()
            for i, P in enumerate(periods):
                if t % P == 0:
                    new[:, i * k:(i + 1) * k] = _act(cfg, a[:, i * k:(i + 1) * k])
            hs.append(new)
        y = np.stack(hs[1:]) if T else np.zeros((0,) + h0[0].shape)
        return y, hs[-1][None], None
    # DelayRNN, layer by layer
    inp, h_n = x, []
    for layer in range(cfg["num_layers"]):
        bl = p[f"bias_ih_l{layer}"] + p[f"bias_hh_l{layer}"]
        hist = {0: h0[layer]}
        outs = []
        for t in range(1, T + 1):
            a = inp[t - 1] @ p[f"weight_ih_l{layer}"].T + bl
            for d in cfg["delays"]:
                name = f"weight_hh_l{layer}" if d == 1 else f"weight_hh_d{d}_l{layer}"
                a = a + hist.get(t - d, h0[layer]) @ p[name].T
            hist[t] = _act(cfg, a)
            outs.append(hist[t])
        inp = np.stack(outs) if T else np.zeros((0,) + h0[layer].shape)
        h_n.append(hist[T])
    return inp, np.stack(h_n), None


def _time_major(a, unbatched, bf):
    if unbatched:
        return a[:, None, :]
    return a.transpose(1, 0, 2) if bf else a


# ------------------------------------------------------- valid configs
@st.composite
def valid_cases(draw):
    cls, cfg, LD, has_cell = draw(configs())
    T = draw(st.integers(0, 5))
    B = draw(st.integers(1, 3))
    unbatched = draw(st.integers(0, 4)) == 0
    B = 1 if unbatched else B
    x_shape, s_shape, y_shape = _shapes(cfg, LD, T, B, unbatched)
    seed = draw(st.integers(0, 2**16))
    scale = draw(st.sampled_from([0.5, 1.0, 4.0]))
    # (an empty nested list has lost its shape: not a valid input)
    layouts = GOOD_LAYOUTS if T else tuple(lay for lay in GOOD_LAYOUTS if lay != "list")
    x = ("array", _values(seed, x_shape, np.float64, scale), draw(st.sampled_from(layouts)))
    if draw(st.booleans()):
        h = ("array", _values(seed + 1, s_shape, np.float64), "C")
        if has_cell:
            h0 = ("value", (values_seen(h), _values(seed + 2, s_shape, np.float64)))
        else:
            h0 = h
    else:
        h0 = None
    dy = ("array", _values(seed + 3, y_shape, cfg["dtype"]), draw(st.sampled_from(layouts)))
    case = {"cls": cls, "config": cfg, "x": x, "h0": h0, "backward": True, "dy": dy,
            "dh_T": None, "clip_hidden": draw(st.one_of(st.none(), st.just(("value", 1.0))))}
    return case, LD, has_cell, (T, B, unbatched)


@fuzz(60)
@given(data=valid_cases())
def test_valid_configs_agree_with_the_numpy_references(worker, data):
    case, LD, has_cell, (T, B, unbatched) = data
    cls, cfg = case["cls"], case["config"]
    out = worker.call("rnn", case)
    assert "error" not in out, out.get("error")
    dt = np.dtype(cfg["dtype"])
    H = cfg["hidden_size"]
    bf = cfg["batch_first"]
    x = _time_major(values_seen(case["x"], dt).astype(np.float64), unbatched, bf)
    if case["h0"] is None:
        h0 = np.zeros((LD, B, H))
        c0 = np.zeros((LD, B, H))
    else:
        spec = case["h0"]
        hv = spec[1] if spec[0] == "value" else (values_seen(spec),)
        h0, c0 = (np.asarray(a, dt).astype(np.float64).reshape(LD, B, H)
                  for a in (hv[0], hv[-1]))
    p = {k: v.astype(np.float64) for k, v in out["params"].items()}
    y_ref, h_ref, c_ref = reference_forward(cls, cfg, x, p, h0, c0)
    y = _time_major(out["y"], unbatched, bf).astype(np.float64)
    h, c = out["h"] if has_cell else (out["h"], None)
    tol = 2e-4 if dt == np.float32 else 1e-10
    assert out["y"].dtype == dt and y.shape == y_ref.shape
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(h, np.float64).reshape(h_ref.shape), h_ref,
                               rtol=tol, atol=tol)
    if has_cell:
        np.testing.assert_allclose(np.asarray(c, np.float64).reshape(c_ref.shape), c_ref,
                                   rtol=tol, atol=tol)
    # backward: shapes of the inputs, finite everywhere (the values are
    # checked against finite differences in the layers' own tests)
    assert out["dx"].shape == np.shape(values_seen(case["x"])) and np.all(np.isfinite(out["dx"]))
    for k, g in out["grads"].items():
        assert g.shape == out["params"][k].shape and np.all(np.isfinite(g)), k


# ----------------------------------------------------- invalid arguments
def _bad_array(draw, shape, dtype, sized_axes=None):
    """An array that is wrong for ``shape``/``dtype``: a non-real dtype, a
    wrong size in one of the ``sized_axes`` (those whose size is fixed; all
    by default), a dimension too many, a 0-d array, or ragged."""
    how = draw(st.sampled_from(["dtype", "size", "ndim+", "ndim-", "ragged", "none-list"]))
    if how == "dtype" or not shape:
        bad = draw(st.sampled_from(BAD_DTYPES))
        if bad in ("U3",):
            return ("array", np.full(shape, "abc"), "C")
        if bad == "M8[s]":
            return ("array", np.zeros(shape, "M8[s]"), "C")
        return ("array", np.zeros(shape, dtype).astype(bad), "C")
    if how == "size":
        axis = draw(st.sampled_from(range(len(shape)) if sized_axes is None else sized_axes))
        s = list(shape)
        s[axis] += draw(st.sampled_from([1, 2]))
        return ("array", np.zeros(s, dtype), draw(st.sampled_from(GOOD_LAYOUTS)))
    if how == "ndim+":
        return ("array", np.zeros((1,) + tuple(shape), dtype), "C")
    if how == "ndim-":
        return ("array", np.zeros((), dtype), "C")
    if how == "ragged":
        return ("value", [[0.0, 1.0], [2.0]])
    return ("value", [None] * max(1, shape[0]))


@st.composite
def invalid_cases(draw):
    """(class, config, calls, index of the call that must fail)."""
    cls, cfg, LD, has_cell = draw(configs())
    dt = cfg["dtype"]
    T, B = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    x_shape, s_shape, y_shape = _shapes(cfg, LD, T, B, False)
    good_x = ("array", _values(0, x_shape, dt), "C")
    target = draw(st.sampled_from(["x", "state", "dy", "state_dict", "step-x", "step-state"]))
    if target == "x":
        calls = [("forward", [_bad_array(draw, x_shape, dt, [2])])]
    elif target == "state":
        bad = _bad_array(draw, s_shape, dt)
        if cls == "DelayRNN" and bad[0] == "array":
            # a DelayRNN also takes its history, (L, max(delays), B, H)
            history = (s_shape[0], max(cfg["delays"])) + tuple(s_shape[1:])
            assume(np.shape(bad[1]) != history)
        if has_cell:
            good = values_seen(("array", _values(1, s_shape, dt), "C"))
            bad = ("value", (good, values_seen(bad) if bad[0] == "array" else bad[1])[::
                             draw(st.sampled_from([1, -1]))])
        calls = [("forward", [good_x, bad])]
    elif target == "dy":
        calls = [("forward", [good_x]), ("backward", [_bad_array(draw, y_shape, dt)])]
    elif target == "state_dict":
        model = getattr(fastrnn, cls)(**cfg)
        state = model.state_dict()
        keys = sorted(state)
        how = draw(st.sampled_from(["array", "missing", "extra", "not-a-dict"]))
        if how == "array":
            k = draw(st.sampled_from(keys))
            spec = _bad_array(draw, state[k].shape, dt)
            state[k] = values_seen(spec) if spec[0] == "array" else spec[1]
        elif how == "missing":
            del state[draw(st.sampled_from(keys))]
        elif how == "extra":
            state[draw(st.sampled_from(["extra", 0, ("a", 1)]))] = np.zeros(1)
        else:
            state = draw(st.sampled_from([None, [1, 2], "abc", 3.0]))
        calls = [("load_state_dict", [("value", state)]), ("forward", [good_x])]
        return cls, cfg, calls, 0
    else:
        if cls not in ("LSTM", "GRU") or cfg.get("bidirectional"):
            calls = [("forward", [_bad_array(draw, x_shape, dt, [2])])]
            return cls, cfg, calls, 0
        step_x = ("array", _values(2, (B, cfg["input_size"]), dt), "C")
        step_s = (cfg["num_layers"], B, cfg["hidden_size"])
        if target == "step-x":
            calls = [("step", [step_x]),
                     ("step", [_bad_array(draw, (B, cfg["input_size"]), dt, [1])])]
        else:
            bad = _bad_array(draw, step_s, dt)
            if has_cell:
                good = _values(3, step_s, dt)
                bad = ("value", (good, values_seen(bad) if bad[0] == "array" else bad[1]))
            calls = [("step", [step_x]), ("step", [step_x, bad])]
    return cls, cfg, calls, len(calls) - 1


@fuzz(80)
@given(data=invalid_cases())
def test_invalid_arguments_raise_value_or_type_errors_only(worker, data):
    cls, cfg, calls, failing = data
    out = worker.call("calls", {"cls": cls, "config": cfg, "calls": calls})
    assert "error" in out, f"{cls} accepted bad arguments in {calls[failing][0]}"
    assert out["stage"] == failing, (out["stage"], out["error"])
    kind, message = out["error"]
    assert kind in ("ValueError", "TypeError", "NotFittedError"), (kind, message)
