"""Property tests over the public API with Hypothesis.

Random shapes (zero-sized included), dtypes (float16/32/64, ints, bool,
complex, object, strings, datetimes), memory layouts (Fortran, strided,
negative strides, read-only, unaligned, zero-stride broadcast, nested lists)
and values (NaN, Inf, huge, denormal). Every call must either return a
correct result or raise ValueError/TypeError whose message names an argument
that is actually wrong; an independent oracle here decides which.

Calls that reach compiled code (RNN forward/backward, the clip functions)
run in a worker process (tests/fuzz_support.py), so a segfault fails the test
with the case that caused it instead of killing pytest. Pure NumPy code
(Linear, losses, constructors) runs in-process.

The default run takes a few seconds; set FASTRNN_FUZZ_EXAMPLES=N to run N
examples per test instead (e.g. 5000 for a long session).
"""
import math
import numbers
import os
import re
import sys

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import fastrnn  # noqa: E402
import reference  # noqa: E402
from fuzz_support import LAYOUTS, Worker, make_layout, values_seen  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the worker uses select() on pipes")

_N = int(os.environ.get("FASTRNN_FUZZ_EXAMPLES", "0"))


def fuzz(default):
    return settings(max_examples=_N or default, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


REAL_DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"]
BAD_DTYPES = ["complex64", "complex128", "object", "U3", "M8[s]"]
MODEL_DTYPES = [np.float32, np.float64]
# Inputs whose every value is finite and at most this large are "clean": the
# result is compared with the NumPy reference. Other inputs must still give
# results of the right shape, dtype and range, and must never crash.
CLEAN_BOUND = 1e4


# ----------------------------------------------------------------- values
def _specials(dtype):
    f = np.finfo(dtype)
    return [np.nan, np.inf, -np.inf, 1e30, -1e30, float(f.max), -float(f.max),
            float(f.tiny) / 4, -float(f.tiny) / 8, -0.0, 1e300]


def make_values(seed, shape, dtype, mode):
    """An array of the given dtype; ``mode`` is normal, special or tiny."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            if mode == "tiny":
                a = rng.uniform(-1, 1, shape) * float(np.finfo(dt).tiny)
            else:
                a = rng.standard_normal(shape)
                if mode == "special" and a.size:
                    sp = np.array(_specials(np.float64 if dt.itemsize > 4 else np.float32))
                    mask = rng.random(shape) < 0.4
                    a[mask] = rng.choice(sp, size=int(mask.sum()))
            return a.astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if mode == "special":
            return rng.choice(np.array([info.min, info.max, 0, 1], dtype=dt), size=shape)
        lo = 0 if dt.kind == "u" else -5
        return rng.integers(lo, 6, size=shape).astype(dt)
    if dt.kind == "b":
        return np.asarray(rng.random(shape) < 0.5)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "O":
        a = np.empty(shape, dtype=object)
        flat = a.reshape(-1)
        for i in range(flat.size):
            flat[i] = float(rng.standard_normal())
        return a
    if dt.kind == "U":
        return rng.integers(0, 9, size=shape).astype(dt)
    if dt.kind == "M":
        return (np.datetime64("2020-01-01") + rng.integers(0, 99, size=shape)).astype(dt)
    raise AssertionError(dt)


@st.composite
def arrays(draw, shape, *, dtypes=None, layouts=LAYOUTS, bad_dtype_weight=0.15):
    """("array", base, layout) for a call argument of the given shape."""
    if dtypes is None:
        bad = draw(st.floats(0, 1)) < bad_dtype_weight
        dtype = draw(st.sampled_from(BAD_DTYPES if bad else REAL_DTYPES))
    else:
        dtype = draw(st.sampled_from(dtypes))
    mode = draw(st.sampled_from(["normal", "normal", "special", "tiny"]))
    seed = draw(st.integers(0, 2**32 - 1))
    layout = draw(st.sampled_from(layouts))
    return ("array", make_values(seed, shape, dtype, mode), layout)


@st.composite
def maybe_wrong_shape(draw, shape):
    """Usually ``shape``; sometimes one dimension off, or a dimension too many or few."""
    how = draw(st.sampled_from(["ok"] * 6 + ["off", "more", "fewer"]))
    shape = list(shape)
    if how == "off" and shape:
        i = draw(st.integers(0, len(shape) - 1))
        shape[i] = max(0, shape[i] + draw(st.sampled_from([-1, 1, 2])))
    elif how == "more":
        shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(0, 2)))
    elif how == "fewer" and shape:
        shape.pop(draw(st.integers(0, len(shape) - 1)))
    return tuple(shape)


def scalars(good):
    """Scalar hyperparameters: mostly ``good`` values, plus every kind of bad one."""
    return st.one_of(
        good,
        st.sampled_from([0, 0.0, -1, -1e-300, float("nan"), float("inf"), -float("inf"),
                         10**400, True, False, None, "1.0", [1.0], np.float32(-2.0),
                         np.float64("nan")]),
    )


POSITIVE = st.one_of(st.floats(1e-30, 1e30), st.integers(1, 10**6),
                     st.sampled_from([np.float32(0.5), np.float64(2.0), np.int64(3)]))


# ---------------------------------------------------------------- oracles
def _seen(spec):
    """The argument as an array, as the callee sees it (lists converted by
    np.asarray), or None for ragged nested lists."""
    try:
        return np.asarray(make_layout(spec[1], spec[2]) if spec[0] == "array" else spec[1])
    except ValueError:
        return None


def _kind(spec):
    """The dtype kind of an argument: "R" when ragged, None when absent."""
    if spec is None:
        return None
    a = _seen(spec)
    return "R" if a is None else a.dtype.kind


def _shape(spec):
    return _seen(spec).shape


def _content_error(spec):
    """The error a ragged or non-numeric array argument must raise, or None."""
    kind = _kind(spec)
    if kind == "R":
        return ValueError
    if kind not in "biuf":
        return TypeError
    return None


def check_real_scalar(value):
    """None if ``value`` is a valid positive finite real, else the exception type."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return TypeError
    try:
        v = float(value)
    except OverflowError:
        return ValueError
    if not math.isfinite(v) or v <= 0:
        return ValueError
    return None


def assert_error_names_a_bad_argument(error, bad):
    """``error`` = (type name, message); ``bad`` = {argument: allowed types}."""
    assert bad, f"a valid call raised {error[0]}: {error[1]}"
    etype, msg = error
    named = [a for a in bad if re.search(rf"(?<![\w.]){re.escape(a)}(?![\w])", msg)]
    assert named, f"{etype}({msg!r}) does not name any of the bad arguments {sorted(bad)}"
    allowed = set().union(*(bad[a] for a in named))
    assert etype in {t.__name__ for t in allowed}, (
        f"{etype}({msg!r}) for bad {named}; expected one of {sorted(t.__name__ for t in allowed)}")


def _is_clean(*arrays):
    return all(a is None or (np.all(np.isfinite(a)) and np.all(np.abs(a) <= CLEAN_BOUND))
               for a in arrays)


# --------------------------------------------------- the worker (C calls)
@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def test_worker_reports_a_crash_instead_of_dying(worker):
    """The harness itself can fail: a segfault in the worker becomes an error
    in the test, showing the case that caused it, and the next call works."""
    import fuzz_support
    with pytest.raises(fuzz_support.WorkerCrashed, match=r"exit code -11(.|\n)*'null pointer'"):
        worker.call("crash", "null pointer")
    case = {"config": {"input_size": 1, "hidden_size": 1}, "h0": None,
            "x": ("array", np.zeros((2, 1)), "C")}
    out = worker.call("rnn", case)
    assert out["y"].shape == (2, 1)


# ------------------------------------------------------------- RNN cases
RNN_X_LAYOUTS = tuple(lay for lay in LAYOUTS if lay != "ragged")
@st.composite
def rnn_cases(draw, backward):
    D = draw(st.integers(1, 4))
    H = draw(st.integers(1, 5))
    T = draw(st.integers(0, 6))
    B = draw(st.integers(0, 3))
    config = dict(input_size=D, hidden_size=H,
                  nonlinearity=draw(st.sampled_from(["tanh", "relu"])),
                  bias=draw(st.booleans()), batch_first=draw(st.booleans()),
                  dtype=draw(st.sampled_from(MODEL_DTYPES)), seed=draw(st.integers(0, 99)))
    unbatched = draw(st.integers(0, 4)) == 0
    if unbatched:
        x_shape = (T, D)
    else:
        x_shape = (B, T, D) if config["batch_first"] else (T, B, D)
    # Not "ragged": RNN.forward calls np.asarray(x) itself (see test_ragged_x_is_named).
    x = draw(arrays(draw(maybe_wrong_shape(x_shape)), layouts=RNN_X_LAYOUTS))
    state_shape = (1, H) if unbatched else (1, B, H)
    h0 = draw(st.one_of(st.none(), arrays(draw(maybe_wrong_shape(state_shape)))))
    case = {"config": config, "x": x, "h0": h0, "backward": backward}
    if backward:
        y_shape = (T, H) if unbatched else ((B, T, H) if config["batch_first"] else (T, B, H))
        case["dy"] = draw(st.one_of(st.none(), arrays(draw(maybe_wrong_shape(y_shape)))))
        case["dh_T"] = draw(st.one_of(st.none(), arrays(draw(maybe_wrong_shape(state_shape)))))
        case["clip_hidden"] = draw(st.one_of(
            st.none(), st.tuples(st.just("value"),
                                 scalars(st.floats(1e-3, 10) | st.sampled_from([1e30])))))
    return case


def rnn_forward_oracle(case):
    """(bad arguments, expected output shapes or None)."""
    D = case["config"]["input_size"]
    H = case["config"]["hidden_size"]
    bf = case["config"]["batch_first"]
    bad = {}
    layout = None
    err = _content_error(case["x"])
    if err:
        bad["x"] = {err}
    elif len(_shape(case["x"])) not in (2, 3) or _shape(case["x"])[-1] != D:
        bad["x"] = {ValueError}
    else:
        shape = _shape(case["x"])
        unbatched = len(shape) == 2
        T = shape[1] if (bf and not unbatched) else shape[0]
        B = 1 if unbatched else (shape[0] if bf else shape[1])
        layout = (unbatched, T, B)
    h0 = case["h0"]
    if h0 is not None:
        err = _content_error(h0)
        if err:
            bad["hx"] = {err}
        elif layout is None:
            hshape = _shape(h0)
            if len(hshape) not in (2, 3) or hshape[-1] != H or hshape[0] != 1:
                bad["hx"] = {ValueError}
        else:
            unbatched, T, B = layout
            if _shape(h0) != ((1, H) if unbatched else (1, B, H)):
                bad["hx"] = {ValueError}
    return bad, layout


def _time_major(a, unbatched, bf):
    if unbatched:
        return a[:, None, :]
    return a.transpose(1, 0, 2) if bf else a


def check_rnn_case(case, out):
    cfg = case["config"]
    dt = np.dtype(cfg["dtype"])
    H = cfg["hidden_size"]
    bf = cfg["batch_first"]
    bad, layout = rnn_forward_oracle(case)
    if out.get("stage") == "forward":
        assert_error_names_a_bad_argument(out["error"], bad)
        return "forward-error"
    assert not bad, f"forward accepted bad arguments {sorted(bad)}"
    unbatched, T, B = layout
    y, h = out["y"], out["h"]
    y_shape = (T, H) if unbatched else ((B, T, H) if bf else (T, B, H))
    assert y.shape == y_shape and y.dtype == dt
    assert h.shape == ((1, H) if unbatched else (1, B, H)) and h.dtype == dt

    x = _time_major(values_seen(case["x"], dt).astype(np.float64), unbatched, bf)
    h0 = (np.zeros((B, H)) if case["h0"] is None
          else values_seen(case["h0"], dt).astype(np.float64).reshape(B, H))
    p = {k: v.astype(np.float64) for k, v in out["params"].items()}
    zero = np.zeros(H)
    hs = reference.rnn_forward(x, p["weight_ih_l0"], p["weight_hh_l0"],
                               p.get("bias_ih_l0", zero), p.get("bias_hh_l0", zero), h0,
                               cfg["nonlinearity"])
    y_tm = _time_major(y, unbatched, bf).astype(np.float64)
    tol = 1e-4 if dt == np.float32 else 1e-10
    for b in range(B):
        if _is_clean(x[:, b], h0[b]):
            ref = hs[1:, b]
            scale = max(1.0, np.abs(ref).max(initial=0.0))
            assert np.abs(y_tm[:, b] - ref).max(initial=0.0) <= tol * scale, f"batch {b}"
        elif cfg["nonlinearity"] == "tanh":
            assert np.all((np.abs(y_tm[:, b]) <= 1) | np.isnan(y_tm[:, b]))
        else:
            assert np.all((y_tm[:, b] >= 0) | np.isnan(y_tm[:, b]))

    if not case["backward"]:
        return "forward-ok"
    # ---- backward
    bad = {}
    if case["clip_hidden"] is not None and case["clip_hidden"][1] is not None:
        err = check_real_scalar(case["clip_hidden"][1])
        if err is not None:
            bad["clip_hidden"] = {err}
    # the case keys are the former argument names; the errors name hx, dhx_n
    for name, want, named in (("dy", y_shape, "dy"),
                              ("dh_T", (1, H) if unbatched else (1, B, H), "dhx_n")):
        spec = case[name]
        if spec is None:
            continue
        err = _content_error(spec)
        if err:
            bad[named] = {err}
        elif _shape(spec) != want:
            bad[named] = {ValueError}
    if out.get("stage") == "backward":
        assert_error_names_a_bad_argument(out["error"], bad)
        return "backward-error"
    assert not bad, f"backward accepted bad arguments {sorted(bad)}"
    dx, dh0 = out["dx"], out["dh0"]
    assert dx.shape == _shape(case["x"]) and dx.dtype == dt
    assert dh0.shape == h.shape and dh0.dtype == dt
    dy = (np.zeros((T, B, H)) if case["dy"] is None
          else _time_major(values_seen(case["dy"], dt).astype(np.float64), unbatched, bf))
    dh_T = (np.zeros((B, H)) if case["dh_T"] is None
            else values_seen(case["dh_T"], dt).astype(np.float64).reshape(B, H))
    if not (_is_clean(x, h0, dy, dh_T) and np.all(np.isfinite(y))):
        return "backward-ok-special"
    clip = None if case["clip_hidden"] is None or case["clip_hidden"][1] is None \
        else float(case["clip_hidden"][1])
    rdx, rdh0, rw_ih, rw_hh, rb = reference.rnn_backward(
        x, p["weight_ih_l0"], p["weight_hh_l0"], hs, dy, dh_T, cfg["nonlinearity"], clip)
    tol = 1e-3 if dt == np.float32 else 1e-9
    # Through a saturated tanh the derivative 1 - h^2 is known only to about
    # eps absolutely (h rounds to 1 in float32 where the float64 reference
    # keeps 1e-8): gradients carry an absolute error of eps times the
    # upstream gradient, whatever their own size.
    upstream = max(np.abs(dy).max(initial=0.0), np.abs(dh_T).max(initial=0.0))
    magnitude = max(1.0, np.abs(x).max(initial=0.0), np.abs(p["weight_ih_l0"]).max(initial=0.0),
                    np.abs(p["weight_hh_l0"]).max(initial=0.0))
    floor = 16 * float(np.finfo(dt).eps) * upstream * magnitude ** 2 * max(T, 1)
    # A subnormal gradient is read as zero (DAZ) and may have been scaled up
    # into the normal range by the weights in the float64 reference.
    floor += 4 * float(np.finfo(dt).tiny) * magnitude ** 2 * max(T, 1)
    pairs = [(_time_major(dx, unbatched, bf), rdx), (dh0.reshape(B, H), rdh0),
             (out["grads"]["weight_ih_l0"], rw_ih), (out["grads"]["weight_hh_l0"], rw_hh)]
    if cfg["bias"]:
        pairs.append((out["grads"]["bias_ih_l0"], rb))
    for got, ref in pairs:
        assert_close(got, ref, tol, dt, floor)
    return "backward-ok"


def assert_close(got, ref, tol, dt, floor=0.0):
    """Relative to the largest reference value, with an absolute floor at the
    smallest normal number (the kernels flush subnormals to zero, by design)
    and any floor the caller knows the conditioning demands."""
    err = np.abs(got.astype(np.float64) - ref).max(initial=0.0)
    scale = np.abs(ref).max(initial=0.0)
    assert err <= tol * scale + 4 * float(np.finfo(dt).tiny) + floor, (err, scale, floor)


@fuzz(200)
@given(case=rnn_cases(backward=False))
def test_rnn_forward_fuzz(worker, case):
    out = worker.call("rnn", case)
    with np.errstate(all="ignore"):   # the reference on Inf/NaN inputs
        check_rnn_case(case, out)


@fuzz(250)
@given(case=rnn_cases(backward=True))
def test_rnn_forward_backward_fuzz(worker, case):
    out = worker.call("rnn", case)
    with np.errstate(all="ignore"):
        check_rnn_case(case, out)


# ------------------------------------------------------------- clip cases
GRAD_LAYOUTS = ("C", "C", "C", "F", "strided", "readonly", "unaligned", "list", "reversed",
                "ragged")


@st.composite
def clip_cases(draw):
    function = draw(st.sampled_from(["global_norm", "clip_grad_norm", "clip_grad_value"]))
    n = draw(st.integers(0, 3))
    specs = []
    for _ in range(n):
        shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=3)))
        good = draw(st.integers(0, 5)) > 0
        specs.append(draw(arrays(
            shape, dtypes=["float32", "float64"] if good else REAL_DTYPES + BAD_DTYPES,
            layouts=GRAD_LAYOUTS if draw(st.booleans()) else ("C",))))
    container = draw(st.sampled_from(["list", "list", "dict", "tuple", "single", "raw"]))
    case = {"function": function, "arrays": specs, "container": container, "args": [],
            "raw": ("value", draw(st.sampled_from([3, 2.5, None, "ab", [[1.0, 2.0]], b"xy"])))}
    if function != "global_norm":
        case["args"] = [("value", draw(scalars(POSITIVE)))]
    if function == "clip_grad_norm" and draw(st.booleans()):
        case["kwargs"] = {"seed": draw(st.integers(0, 9))}
    return case


def _joint_norm(arrays):
    """Reference Euclidean norm in float64, scaled so that no square overflows;
    a norm above the largest float64 is inf."""
    flat = np.concatenate([a.astype(np.float64).ravel() for a in arrays] + [np.zeros(0)])
    if not np.all(np.isfinite(flat)):
        return math.inf
    m = np.abs(flat).max(initial=0.0)
    if m == 0:
        return 0.0
    with np.errstate(over="ignore"):
        return float(m * np.sqrt(np.sum((flat / m) ** 2)))


def check_clip_case(case, out):
    fn = case["function"]
    bad = {}
    argname = {"clip_grad_norm": "max_norm", "clip_grad_value": "clip_value"}.get(fn)
    if argname:
        err = check_real_scalar(case["args"][0][1])
        if err is not None:
            bad[argname] = {err}
    container = case["container"]
    if container == "raw":
        raw = case["raw"][1]
        if not isinstance(raw, (list, tuple)) or raw:
            bad["grads"] = {TypeError, ValueError}
        specs = []
    elif container == "single" and case["arrays"] and case["arrays"][0][2] in ("list", "ragged"):
        # A single "array" given as a nested list: iterated like a list of grads.
        listed = make_layout(case["arrays"][0][1], case["arrays"][0][2])
        if not isinstance(listed, list) or listed:
            bad["grads"] = {TypeError}
        specs = []
    else:
        specs = case["arrays"][:1] if container == "single" else case["arrays"]
        if container == "single" and not specs:
            specs = [("array", np.zeros(0), "C")]
    seen = []
    for i, spec in enumerate(specs):
        a = make_layout(spec[1], spec[2])
        if container == "single" and isinstance(a, (list, tuple)) and len(a) == 0:
            continue    # an empty list given alone: no gradients at all, a valid call
        seen.append(np.array(a) if isinstance(a, np.ndarray) else None)
        # Any bad element may be the one reported: allow the union of their errors.
        if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
            bad.setdefault("grads", set()).add(TypeError)
        elif not (a.flags.c_contiguous and a.flags.aligned and a.flags.writeable):
            bad.setdefault("grads", set()).add(ValueError)
    if "error" in out:
        assert_error_names_a_bad_argument(out["error"], bad)
        return f"{fn}-error"
    assert not bad, f"{fn} accepted bad arguments {sorted(bad)}"
    norm = _joint_norm(seen)
    after = out["after"]
    for a, b in zip(after, seen):
        assert a.shape == b.shape and a.dtype == b.dtype
    if fn in ("global_norm", "clip_grad_norm"):
        result = out["result"]
        assert isinstance(result, float)
        if math.isinf(norm):
            assert not math.isfinite(result)
        else:
            assert result == pytest.approx(norm, rel=1e-10, abs=1e-300)
    if fn == "global_norm":
        for a, b in zip(after, seen):
            np.testing.assert_array_equal(a, b)
    elif fn == "clip_grad_norm":
        v = float(case["args"][0][1])
        if not math.isfinite(out["result"]):
            if sum(a.size for a in after):
                assert all(np.all(np.isfinite(a)) for a in after)
                assert _joint_norm(after) == pytest.approx(v, rel=1e-5)
        elif out["result"] <= v:
            for a, b in zip(after, seen):
                assert a.tobytes() == b.tobytes()
        else:
            f = v / out["result"]
            for a, b in zip(after, seen):
                rtol = 1e-6 if a.dtype == np.float32 else 1e-12
                tiny = float(np.finfo(a.dtype).tiny)
                np.testing.assert_allclose(a, b.astype(np.float64) * f, rtol=rtol, atol=tiny)
            assert _joint_norm(after) <= v * (1 + 1e-5) + 1e-30
    else:
        c = float(case["args"][0][1])
        changed = 0
        for a, b in zip(after, seen):
            lim = b.dtype.type(c)
            np.testing.assert_array_equal(a, np.clip(b, -lim, lim))
            changed += int(np.sum(np.abs(b) > lim))
        assert out["result"] == changed
    return f"{fn}-ok"


@fuzz(300)
@given(case=clip_cases())
def test_clip_fuzz(worker, case):
    check_clip_case(case, worker.call("clip", case))


# ---------------------------------------- constructors (hyperparameters)
SIZES = st.one_of(st.integers(1, 8), st.sampled_from(
    [0, -1, -(10**30), 2.0, 2.5, True, None, "3", np.int64(2), np.int32(-3), np.float64(2)]))
DTYPES = st.sampled_from([np.float32, np.float64, "float32", "f8", np.dtype("float32"),
                          np.float16, np.int32, complex, object, "abc", "U3", 3])
SEEDS = st.sampled_from([None, 0, 7, 2**63, np.random.default_rng(0), -1, 1.5, True, "0",
                         np.random.SeedSequence(4)])


def _size_error(v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        return TypeError
    return ValueError if v < 1 else None


def _dtype_error(v):
    try:
        dt = np.dtype(v)
    except TypeError:
        return TypeError
    return None if dt in (np.float32, np.float64) else TypeError


def _seed_error(v):
    if isinstance(v, (bool, np.bool_)):
        return TypeError
    if v is None or isinstance(v, (np.random.Generator, np.random.SeedSequence)):
        return None
    if isinstance(v, numbers.Integral):
        return ValueError if v < 0 else None
    return TypeError


def _check_constructor(cls, kwargs, size_names):
    bad = {}
    for name in size_names:
        err = _size_error(kwargs[name])
        if err:
            bad[name] = {err}
    for name, check in (("dtype", _dtype_error), ("seed", _seed_error)):
        err = check(kwargs[name])
        if err:
            bad[name] = {err}
    nl = kwargs.get("nonlinearity", "tanh")
    if nl not in ("tanh", "relu"):
        bad["nonlinearity"] = {ValueError, TypeError}
    try:
        obj = cls(**kwargs)
    except Exception as exc:
        assert_error_names_a_bad_argument((type(exc).__name__, str(exc)), bad)
        return
    assert not bad, f"{cls.__name__} accepted bad arguments {sorted(bad)}"
    for p in obj.params.values():
        assert p.dtype == np.dtype(kwargs["dtype"])


@fuzz(200)
@given(a=SIZES, b=SIZES, dtype=DTYPES, seed=SEEDS,
       nonlinearity=st.sampled_from(["tanh", "relu", "sigmoid", "", "TANH"]),
       bias=st.booleans(), batch_first=st.booleans())
def test_rnn_constructor_fuzz(a, b, dtype, seed, nonlinearity, bias, batch_first):
    _check_constructor(fastrnn.RNN, dict(input_size=a, hidden_size=b, dtype=dtype, seed=seed,
                                         nonlinearity=nonlinearity, bias=bias,
                                         batch_first=batch_first),
                       ("input_size", "hidden_size"))


@fuzz(100)
@given(a=SIZES, b=SIZES, dtype=DTYPES, seed=SEEDS, bias=st.booleans())
def test_linear_constructor_fuzz(a, b, dtype, seed, bias):
    _check_constructor(fastrnn.Linear, dict(in_features=a, out_features=b, dtype=dtype,
                                            seed=seed, bias=bias),
                       ("in_features", "out_features"))


# ------------------------------------------------- Linear (NumPy only)
@st.composite
def linear_cases(draw):
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=3)))
    h = draw(arrays(draw(maybe_wrong_shape(lead + (n_in,)))))
    dout = draw(arrays(draw(maybe_wrong_shape(lead + (n_out,)))))
    return n_in, n_out, draw(st.sampled_from(MODEL_DTYPES)), draw(st.booleans()), h, dout


def _call(fn, *args):
    try:
        with np.errstate(all="ignore"):   # huge inputs overflow to Inf, with a warning
            return fn(*args), None
    except Exception as exc:
        return None, (type(exc).__name__, str(exc))


@fuzz(200)
@given(case=linear_cases())
def test_linear_fuzz(case):
    n_in, n_out, dt, bias, hspec, dspec = case
    layer = fastrnn.Linear(n_in, n_out, bias=bias, dtype=dt, seed=0)
    h_in = make_layout(hspec[1], hspec[2])
    out, err = _call(layer.forward, h_in)
    bad = {}
    if _content_error(hspec):
        bad["h"] = {_content_error(hspec)}
    elif len(_shape(hspec)) < 1 or _shape(hspec)[-1] != n_in:
        bad["h"] = {ValueError}
    if err:
        assert_error_names_a_bad_argument(err, bad)
        return
    assert not bad
    h = values_seen(hspec, dt).astype(np.float64)
    w = layer.params["weight"].astype(np.float64)
    b = layer.params["bias"].astype(np.float64) if bias else 0.0
    assert out.shape == h.shape[:-1] + (n_out,) and out.dtype == dt
    tol = 1e-5 if dt == np.float32 else 1e-12
    if _is_clean(h):
        ref = h @ w.T + b
        assert np.abs(out - ref).max(initial=0) <= tol * max(1.0, np.abs(ref).max(initial=0))
    dout_in = make_layout(dspec[1], dspec[2])
    dh, err = _call(layer.backward, dout_in)
    bad = {}
    if _content_error(dspec):
        bad["dout"] = {_content_error(dspec)}
    elif _shape(dspec) != out.shape:
        bad["dout"] = {ValueError}
    if err:
        assert_error_names_a_bad_argument(err, bad)
        return
    assert not bad
    assert dh.shape == h.shape and dh.dtype == dt
    d = values_seen(dspec, dt).astype(np.float64)
    if _is_clean(h, d):
        d2, h2 = d.reshape(-1, n_out), h.reshape(-1, n_in)
        assert_close(dh, d @ w, tol * 10, dt)
        assert_close(layer.grads["weight"], d2.T @ h2, tol * 10, dt)
        if bias:
            assert_close(layer.grads["bias"], d2.sum(axis=0), tol * 10, dt)


# ------------------------------------------------- losses (NumPy only)
REDUCTIONS = st.sampled_from(["mean", "sum", "mean", "sum", "none", "", None, 1])


@st.composite
def nll_cases(draw):
    lead = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
    C = draw(st.integers(0, 4))
    logits = draw(arrays(draw(maybe_wrong_shape(lead + (C,)))))
    kind = draw(st.sampled_from(["ok", "ok", "ok", "range", "dtype"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tshape = draw(maybe_wrong_shape(lead))
    if kind == "ok":
        t = rng.integers(0, max(C, 1), size=tshape)
    elif kind == "range":
        t = rng.choice(np.array([-1, C, C + 5, 0]), size=tshape)
    else:
        t = make_values(int(rng.integers(2**31)), tshape,
                        draw(st.sampled_from(["float64", "bool", "object", "uint8", "int8"])),
                        "normal")
    return logits, ("array", t, draw(st.sampled_from(["C", "F", "list"]))), draw(REDUCTIONS)


def _float_kind_dtype(spec):
    a = np.asarray(make_layout(spec[1], spec[2]))
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)


LOSS_TOL = {np.dtype(np.float16): 2e-2, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


@fuzz(200)
@given(case=nll_cases())
def test_softmax_nll_fuzz(case):
    lspec, tspec, reduction = case
    res, err = _call(lambda: fastrnn.losses.softmax_nll(
        make_layout(lspec[1], lspec[2]), make_layout(tspec[1], tspec[2]), reduction=reduction))
    bad = {}
    if reduction not in ("mean", "sum"):
        bad["reduction"] = {ValueError}
    lshape = _shape(lspec) if _kind(lspec) != "R" else ()
    if _content_error(lspec):
        bad["logits"] = {_content_error(lspec)}
    elif len(lshape) < 1 or lshape[-1] == 0:
        bad["logits"] = {ValueError}
    t = _seen(tspec)
    if t is None:
        bad["targets"] = {ValueError}
    elif t.dtype.kind not in "iu":
        bad["targets"] = {TypeError}
    elif len(lshape) >= 1 and (t.shape != lshape[:-1] or (
            t.size and (t.min() < 0 or t.max() >= lshape[-1]))):
        bad["targets"] = {ValueError}
    if err:
        assert_error_names_a_bad_argument(err, bad)
        return
    assert not bad, f"softmax_nll accepted bad arguments {sorted(bad)}"
    loss, grad = res
    dt = _float_kind_dtype(lspec)
    assert isinstance(loss, float) and grad.shape == lshape and grad.dtype == dt
    lg = values_seen(lspec, dt).astype(np.float64)
    if _is_clean(lg) and np.all(np.abs(lg) < 30):
        shifted = lg - lg.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        picked = np.take_along_axis(logp, t[..., None], axis=-1)
        scale = 1.0 / max(t.size, 1) if reduction == "mean" else 1.0
        ref = -picked.sum() * scale
        assert loss == pytest.approx(ref, rel=LOSS_TOL[dt] * 10, abs=LOSS_TOL[dt] * 10)
        rgrad = np.exp(logp)
        np.put_along_axis(rgrad, t[..., None],
                          np.take_along_axis(rgrad, t[..., None], axis=-1) - 1, axis=-1)
        assert np.abs(grad - rgrad * scale).max(initial=0) <= LOSS_TOL[dt] * 10


@st.composite
def mse_cases(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    return (draw(arrays(shape)), draw(arrays(draw(maybe_wrong_shape(shape)))), draw(REDUCTIONS))


@fuzz(200)
@given(case=mse_cases())
def test_mse_fuzz(case):
    pspec, tspec, reduction = case
    res, err = _call(lambda: fastrnn.losses.mse(
        make_layout(pspec[1], pspec[2]), make_layout(tspec[1], tspec[2]), reduction=reduction))
    bad = {}
    if reduction not in ("mean", "sum"):
        bad["reduction"] = {ValueError}
    if _content_error(pspec):
        bad["pred"] = {_content_error(pspec)}
    if _content_error(tspec):
        bad["target"] = {_content_error(tspec)}
    elif "pred" not in bad and _shape(tspec) != _shape(pspec):
        bad["target"] = {ValueError}
    if err:
        assert_error_names_a_bad_argument(err, bad)
        return
    assert not bad, f"mse accepted bad arguments {sorted(bad)}"
    loss, grad = res
    dt = _float_kind_dtype(pspec)
    assert isinstance(loss, float) and grad.shape == _shape(pspec) and grad.dtype == dt
    p = values_seen(pspec, dt).astype(np.float64)
    t = values_seen(tspec, dt).astype(np.float64)
    if _is_clean(p, t):
        diff = p - t
        scale = 1.0 / max(diff.size, 1) if reduction == "mean" else 1.0
        ref = float(np.sum(diff ** 2)) * scale
        tol = LOSS_TOL[dt] * 10
        assert loss == pytest.approx(ref, rel=tol, abs=tol * CLEAN_BOUND)
        np.testing.assert_allclose(grad, 2 * scale * diff, rtol=tol, atol=tol * CLEAN_BOUND)


# ------------------------------------------- found by fuzzing (regressions)
def test_subnormal_gradients_have_a_finite_norm():
    """1 / max|g| overflowed for subnormal max|g|: the norm read as Inf and
    clip_grad_norm replaced a tiny gradient with a random step of norm max_norm."""
    g = np.array([5e-310, -3e-310])
    assert fastrnn.global_norm([g]) == pytest.approx(np.hypot(5e-310, 3e-310), rel=1e-6)
    assert fastrnn.global_norm([np.array([5e-324])]) == 5e-324
    assert fastrnn.global_norm([g, np.array([1e300])]) == 1e300
    before = g.copy()
    assert math.isfinite(fastrnn.clip_grad_norm([g], 1.0))
    np.testing.assert_array_equal(g, before)


def test_float32_clipping_by_a_factor_below_float32_range():
    """max_norm / norm below FLT_MIN rounded to 0 as a float: the gradient vanished."""
    g = np.array([1e30, -2e30], dtype=np.float32)
    fastrnn.clip_grad_norm([g], 1e-30)
    np.testing.assert_allclose(g, np.array([1, -2]) * 1e-30 / np.sqrt(5), rtol=1e-6)


def test_zero_dimensional_arrays_keep_their_shape():
    """np.ascontiguousarray turned 0-d arrays into shape (1,)."""
    loss, grad = fastrnn.losses.mse(np.float32(2.0), np.array(1))
    assert grad.shape == () and loss == 1.0
    loss, grad = fastrnn.losses.mse(np.array(2), np.array(1.5))
    assert grad.shape == () and loss == 0.25
    with pytest.raises(ValueError, match="h must have 1 features"):
        fastrnn.Linear(1, 1).forward(np.array(2.0))


def test_unaligned_arrays_never_reach_the_kernels():
    raw = np.zeros(8 * 6 + 1, dtype=np.uint8)
    x = raw[1:].view(np.float64).reshape(3, 2)
    assert not x.flags.aligned
    from fastrnn._core.validation import as_float_array
    assert as_float_array(x, "x", np.float64).flags.aligned
    with pytest.raises(ValueError, match=r"grads\[0\] must be C-contiguous, aligned"):
        fastrnn.clip_grad_norm([x], 1.0)
    layer = fastrnn.RNN(2, 3, dtype=np.float64, seed=0)
    y_unaligned, _ = layer.forward(x)
    y_aligned, _ = layer.forward(x.copy())
    np.testing.assert_array_equal(y_unaligned, y_aligned)


@pytest.mark.parametrize("call, name, err", [
    (lambda: fastrnn.RNN(2, 3, seed=-1), "seed", ValueError),
    (lambda: fastrnn.clip_grad_value([np.ones(2)], 10**400), "clip_value", ValueError),
    (lambda: fastrnn.clip_grad_norm(3, 1.0), "grads", TypeError),
    (lambda: fastrnn.global_norm(None), "grads", TypeError),
    (lambda: fastrnn.losses.softmax_nll(np.zeros((0, 0)), np.zeros(0, int)), "logits",
     ValueError),
    (lambda: fastrnn.losses.softmax_nll(np.zeros((2, 0)), np.zeros(2, int)), "logits",
     ValueError),
    (lambda: fastrnn.losses.mse([[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0]]), "pred", ValueError),
    (lambda: fastrnn.Linear(2, 1).forward([[1.0, 2.0], [3.0]]), "h", ValueError),
    (lambda: fastrnn.RNN(2, 3).forward(np.zeros((2, 1, 2)), [[[0.0, 0.0]], [[0.0]]]), "hx",
     ValueError),
])
def test_errors_found_by_fuzzing_name_the_argument(call, name, err):
    with pytest.raises(err, match=rf"\b{name}\b"):
        call()


# ------------------------ argument errors found by fuzzing, fixed in the layers
def test_unhashable_nonlinearity_is_named():
    with pytest.raises(ValueError, match="nonlinearity"):
        fastrnn.RNN(2, 3, nonlinearity=["tanh"])


def test_ragged_x_is_named():
    with pytest.raises(ValueError, match=r"\bx\b"):
        fastrnn.RNN(2, 3).forward([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("make", [lambda: fastrnn.RNN(2, 3, bias="no"),
                                  lambda: fastrnn.RNN(2, 3, batch_first="yes"),
                                  lambda: fastrnn.Linear(2, 3, bias=None)])
def test_non_boolean_flags_are_refused(make):
    with pytest.raises(TypeError):
        make()


# ------------------------------------ gated cells, reservoirs, readouts
# (nested and ragged lists are lists of series to reservoirs and readouts:
# another input mode, with its own tests)
ARRAY_LAYOUTS = tuple(layout for layout in LAYOUTS if layout not in ("list", "ragged"))

# Their numbers are checked against NumPy and PyTorch in their own tests;
# here every call must either return arrays of the documented shape or
# raise ValueError/TypeError naming the bad argument, and never crash.
def _judge_array_argument(spec, name, want_shape_ok):
    """{name: allowed errors} if the argument is bad, else {}."""
    err = _content_error(spec)
    if err:
        return {name: {err}}
    if not want_shape_ok(_shape(spec)):
        return {name: {ValueError}}
    return {}


@st.composite
def cell_cases(draw):
    cls = draw(st.sampled_from(["LSTM", "GRU"]))
    D, H = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    T, B = draw(st.integers(0, 4)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = draw(arrays(draw(maybe_wrong_shape((T, B, D)))))
    dy = draw(arrays(draw(maybe_wrong_shape((T, B, H)))))
    return {"cls": cls, "config": {"input_size": D, "hidden_size": H, "dtype": dtype, "seed": 0},
            "calls": [("forward", [x]), ("backward", [dy])]}


@fuzz(150)
@given(case=cell_cases())
def test_lstm_gru_fuzz(worker, case):
    out = worker.call("calls", case)
    D, H = case["config"]["input_size"], case["config"]["hidden_size"]
    x, dy = case["calls"][0][1][0], case["calls"][1][1][0]
    bad_x = _judge_array_argument(
        x, "x", lambda s: len(s) in (2, 3) and s[-1] == D)
    if bad_x:
        assert out.get("stage") == 0, f"forward accepted a bad x: {out}"
        assert_error_names_a_bad_argument(out["error"], bad_x)
        return
    assert out.get("stage") != 0, f"forward refused a good x: {out.get('error')}"
    y_shape = out["results"][0][0][0]
    xs = _shape(x)
    assert y_shape == xs[:-1] + (H,)
    bad_dy = _judge_array_argument(dy, "dy", lambda s: s == y_shape)
    if bad_dy:
        assert out.get("stage") == 1, f"backward accepted a bad dy: {out}"
        assert_error_names_a_bad_argument(out["error"], bad_dy)
    else:
        assert "error" not in out, out.get("error")
        assert out["results"][1][0][0] == xs


@st.composite
def reservoir_cases(draw):
    T, D = draw(st.integers(0, 5)), draw(st.integers(1, 3))
    X = draw(arrays(draw(maybe_wrong_shape((T, D))), layouts=ARRAY_LAYOUTS))
    return {"cls": "Reservoir",
            "config": {"units": draw(st.integers(1, 12)), "seed": 0,
                       "dtype": draw(st.sampled_from([np.float32, np.float64]))},
            "calls": [("run", [X])]}


@fuzz(150)
@given(case=reservoir_cases())
def test_reservoir_run_fuzz(worker, case):
    out = worker.call("calls", case)
    X = case["calls"][0][1][0]
    err = _content_error(X)
    if err:
        assert "error" in out, f"run accepted a non-numeric X: {out}"
        assert_error_names_a_bad_argument(out["error"], {"X": {err}})
        return
    shape = _shape(X)
    if "error" in out:   # a shape the reservoir does not take must be named
        assert_error_names_a_bad_argument(out["error"], {"X": {ValueError}})
        assert len(shape) not in (2, 3) or 0 in shape[1:], out["error"]
        return
    states = out["results"][0][0][0]
    assert states[0] == shape[0] and states[-1] == case["config"]["units"]


@st.composite
def ridge_cases(draw):
    n, f = draw(st.integers(0, 6)), draw(st.integers(1, 3))
    X = draw(arrays(draw(maybe_wrong_shape((n, f))), layouts=ARRAY_LAYOUTS))
    Y = draw(arrays(draw(maybe_wrong_shape((n, draw(st.integers(1, 2))))), layouts=ARRAY_LAYOUTS))
    return {"cls": "Ridge", "config": {"ridge": draw(st.sampled_from([0.0, 1e-8, 1.0]))},
            "calls": [("fit", [X, Y])]}


@fuzz(150)
@given(case=ridge_cases())
def test_ridge_fit_fuzz(worker, case):
    out = worker.call("calls", case)
    X, Y = case["calls"][0][1]
    bad = {}
    for name, spec, ndims in (("X", X, (2, 3)), ("Y", Y, (1, 2, 3))):
        err = _content_error(spec)
        if err:
            bad[name] = {err}
        elif len(_shape(spec)) not in ndims or (len(_shape(spec)) > 1 and _shape(spec)[-1] == 0):
            bad[name] = {ValueError}
        elif not np.all(np.isfinite(_seen(spec).astype(np.float64))):
            bad[name] = {ValueError}   # a fit on NaN/Inf is refused, as scikit-learn does
    if bad:
        assert "error" in out, f"fit accepted non-numeric data: {out}"
        assert_error_names_a_bad_argument(out["error"], bad)
    elif "error" in out:   # shapes that do not pair up, or no samples: named
        assert_error_names_a_bad_argument(out["error"], {"X": {ValueError}, "Y": {ValueError}})
