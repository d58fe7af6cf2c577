"""Property tests of Reservoir, ESN, Ridge and RLS with Hypothesis.

Random valid configurations (sizes from 1, zero-length runs, batches,
float32/float64, every activation, W dense or sparse in several formats and
index dtypes, unsorted and duplicate entries, per-unit leak rates, teacher
feedback, the closed loop) must agree with the plain NumPy loops of
tests/reference_reservoir.py; random invalid matrices, inputs, states and
readouts must raise ValueError or TypeError, never crash.

The reservoir runs in a worker process (tests/fuzz_support.py), so that a
segfault fails the test with its case instead of killing pytest; the worker
is started with this module's handler added. Ridge and RLS (whose kernels
only see arrays they allocate) run in-process.

Set FASTRNN_FUZZ_EXAMPLES=N to run N examples per test instead of the
default few dozen.
"""
import os
import sys

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import fuzz_support  # noqa: E402
from reference_reservoir import ACTS, esn_free_run, esn_states  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the worker uses select() on pipes")

_N = int(os.environ.get("FASTRNN_FUZZ_EXAMPLES", "0"))
ERRORS = ("ValueError", "TypeError", "NotFittedError")


def fuzz(default):
    return settings(max_examples=_N or default, deadline=None, derandomize=not _N,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------ the worker
def _build_matrix(spec):
    """A matrix argument from its description; sparse ones are assembled
    without scipy's checks, as a user who edits a matrix's arrays gets them."""
    import scipy.sparse as sp
    if spec is None:
        return None
    kind = spec[0]
    if kind == "value":
        return spec[1]
    if kind in ("csr", "csc"):
        _, data, indices, indptr, shape = spec
        cls = sp.csr_matrix if kind == "csr" else sp.csc_matrix
        M = cls(shape)
        M.data, M.indices, M.indptr = data, indices, indptr
        return M
    if kind == "coo":
        _, data, row, col, shape = spec
        M = sp.coo_matrix((np.zeros(0), (np.zeros(0, int), np.zeros(0, int))), shape=shape)
        M.data, M.row, M.col = data, row, col
        return M
    raise ValueError(f"unknown matrix spec {kind!r}")


def _run_reservoir(case):
    """In the worker: build, (assign), run or drive the ESN; report the
    results or the first error."""
    import fastrnn
    stage = "build"
    try:
        kw = {k: _build_matrix(case[k]) for k in ("W", "Win", "Wfb", "bias")}
        res = fastrnn.Reservoir(case["N"], lr=_build_matrix(case["lr"]),
                                activation=case["activation"], dtype=case["dtype"],
                                n_threads=case["n_threads"], seed=0, **kw)
        stage = "assign"
        for name, spec in case.get("assign", ()):
            setattr(res, name, _build_matrix(spec))
        stage = "call"
        X, x0 = _build_matrix(case["X"]), _build_matrix(case["x0"])
        esn = case.get("esn")
        if esn is None:
            out = res.run(X, x0, feedback=_build_matrix(case["feedback"]))
            return {"out": out}
        model = fastrnn.ESN(res, fastrnn.Ridge(), feedback=True,
                            input_to_readout=esn["input_to_readout"])
        model.readout.coef_ = _build_matrix(esn["coef"])
        model.readout.intercept_ = _build_matrix(esn["intercept"])
        y0 = _build_matrix(esn["y0"])
        if esn["call"] == "predict":
            out = model.predict(X, x0=x0, y0=y0)
        elif esn["call"] == "generate":
            out = model.generate(esn["n_steps"], inputs=X, x0=x0, y0=y0)
        else:
            out = model.run(X, teacher=_build_matrix(esn["teacher"]), x0=x0, y0=y0)
        return {"out": out}
    except Exception as exc:  # the parent judges every failure
        return {"stage": stage, "error": (type(exc).__name__, str(exc))}


class _ReservoirWorker(fuzz_support.Worker):
    """fuzz_support's worker, with this module's handler registered."""

    boot = ("import fuzz_support, test_fuzz_reservoir as m; "
            "fuzz_support._HANDLERS['reservoir'] = m._run_reservoir; fuzz_support.serve()")
    extra_paths = (os.path.dirname(os.path.abspath(__file__)),)


@pytest.fixture(scope="module")
def worker():
    w = _ReservoirWorker()
    yield w
    w.close()


# ------------------------------------------------------ valid configurations
def _sparse_spec(rng, dense, fmt):
    """``dense`` as a sparse spec of format ``fmt``, with int32 or int64
    indices and, for CSR, rows in shuffled order with one entry split into
    two duplicates."""
    import scipy.sparse as sp
    idx = rng.choice([np.int32, np.int64])
    if fmt == "coo":
        C = sp.coo_matrix(dense)
        return ("coo", C.data, C.row.astype(idx), C.col.astype(idx), dense.shape)
    M = (sp.csr_matrix if fmt in ("csr", "csr-messy") else sp.csc_matrix)(dense)
    data, indices, indptr = M.data.copy(), M.indices.copy(), M.indptr.copy()
    if fmt == "csr-messy" and data.size:
        for i in range(len(indptr) - 1):
            lo, hi = indptr[i], indptr[i + 1]
            perm = rng.permutation(hi - lo) + lo
            data[lo:hi], indices[lo:hi] = data[perm], indices[perm]
        # split the first entry into two halves (a duplicate index)
        data = np.insert(data, 0, data[0] / 2)
        data[1] /= 2
        indices = np.insert(indices, 0, indices[0])
        indptr = indptr.copy()
        indptr[1:] += 1
    return ("csr" if fmt != "csc" else "csc", data, indices.astype(idx),
            indptr.astype(idx), dense.shape)


@st.composite
def reservoir_cases(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    N = draw(st.integers(1, 12))
    D = draw(st.integers(0, 3))
    O = draw(st.integers(0, 2))
    T = draw(st.integers(0, 7))
    B = draw(st.sampled_from([None, 1, 2, 3]))      # None: one unbatched series
    dtype = draw(st.sampled_from(["float32", "float64"]))
    activation = draw(st.sampled_from(sorted(ACTS)))
    fmt = draw(st.sampled_from(["dense", "csr", "csr-messy", "csc", "coo"]))
    density = draw(st.sampled_from([0.0, 0.3, 1.0]))
    W = rng.standard_normal((N, N)) * (rng.random((N, N)) < density) * 0.9 / np.sqrt(N)
    Win = rng.uniform(-1, 1, (N, D))
    Wfb = rng.uniform(-1, 1, (N, O)) if O else None
    bias = rng.uniform(-0.2, 0.2, N)
    lr = float(rng.uniform(0.1, 1.0)) if draw(st.booleans()) else rng.uniform(0.1, 1.0, N)
    shape = (T, D) if B is None else (T, B, D)
    X = rng.uniform(-1, 1, shape)
    fb = rng.uniform(-1, 1, shape[:-1] + (O,)) if O else None
    x0 = None
    if draw(st.booleans()):
        x0 = rng.uniform(-0.5, 0.5, (N,) if B is None or draw(st.booleans()) else (B, N))
    case = {
        "N": N, "dtype": dtype, "activation": activation,
        "n_threads": draw(st.sampled_from([None, 1, 2])),
        "W": ("value", W) if fmt == "dense" else _sparse_spec(rng, W, fmt),
        "Win": ("value", Win), "Wfb": None if Wfb is None else ("value", Wfb),
        "bias": ("value", bias), "lr": ("value", lr),
        "X": ("value", X), "x0": None if x0 is None else ("value", x0),
        "feedback": None if fb is None else ("value", fb),
    }
    return case, (W, Win, Wfb, bias, lr, X, fb, x0, B)


def _x0_of(x0, b, N):
    if x0 is None:
        return np.zeros(N)
    return x0 if x0.ndim == 1 else x0[b]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-9, atol=1e-10)


@fuzz(60)
@given(data=reservoir_cases())
def test_valid_reservoirs_match_the_numpy_reference(worker, data):
    case, (W, Win, Wfb, bias, lr, X, fb, x0, B) = data
    got = worker.call("reservoir", case)
    assert "error" not in got, (got, case)
    out = got["out"]
    N = case["N"]
    assert out.dtype == np.dtype(case["dtype"])
    assert out.shape == X.shape[:-1] + (N,)
    series = [X] if B is None else [X[:, b] for b in range(B)]
    fbs = [fb] if B is None else [None if fb is None else fb[:, b] for b in range(B)]
    for b, (U, F) in enumerate(zip(series, fbs)):
        ref = esn_states(W, Win, bias, lr, U, _x0_of(x0, b, N), Wfb, F,
                         case["activation"])
        np.testing.assert_allclose(out if B is None else out[:, b], ref, **_tol(case["dtype"]))


@st.composite
def closed_loop_cases(draw):
    case, (W, Win, _, bias, lr, X, _, x0, B) = draw(reservoir_cases())
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    N = case["N"]
    O = draw(st.integers(1, 2))
    Wfb = rng.uniform(-0.5, 0.5, (N, O))
    coef = rng.uniform(-0.5, 0.5, (N, O))
    intercept = rng.uniform(-0.1, 0.1, O)
    y0 = rng.uniform(-0.5, 0.5, O) if draw(st.booleans()) else None
    call = draw(st.sampled_from(["predict", "generate"]))
    case.update(Wfb=("value", Wfb), feedback=None, esn={
        "coef": ("value", coef), "intercept": ("value", intercept), "input_to_readout": False,
        "y0": None if y0 is None else ("value", y0), "call": call, "n_steps": X.shape[0]})
    return case, (W, Win, Wfb, bias, lr, X, coef, intercept, x0, y0, B)


@fuzz(40)
@given(data=closed_loop_cases())
def test_valid_closed_loops_match_the_numpy_reference(worker, data):
    case, (W, Win, Wfb, bias, lr, X, coef, intercept, x0, y0, B) = data
    got = worker.call("reservoir", case)
    assert "error" not in got, (got, case)
    out = got["out"]
    N, O = case["N"], coef.shape[1]
    series = [X] if B is None else [X[:, b] for b in range(B)]
    for b, U in enumerate(series):
        _, ref = esn_free_run(W, Win, bias, lr, Wfb, coef, intercept, U, _x0_of(x0, b, N),
                              np.zeros(O) if y0 is None else y0, case["activation"])
        ref = ref.reshape(U.shape[0], O)
        np.testing.assert_allclose(out if B is None else out[:, b], ref, **_tol(case["dtype"]))


# ----------------------------------------------------------- invalid cases
CORRUPTIONS = [
    "W index >= N", "W negative index", "W indptr falling", "W indptr short",
    "W indptr float", "W shape", "W NaN", "W complex", "W 3-D", "COO index >= N",
    "CSC index >= N", "Win rows", "Win NaN", "Wfb rows", "bias shape", "bias NaN",
    "lr range", "lr length", "X width", "X 1-D", "X 4-D", "X complex", "X strings",
    "x0 units", "x0 series", "feedback width", "readout narrow", "readout wide",
    "readout outputs", "intercept shape", "teacher 0-d", "teacher short", "y0 shape",
    "assign W index", "assign Win rows", "activation", "n_threads",
]


@st.composite
def invalid_cases(draw, kind):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    N = draw(st.integers(2, 9))
    D = draw(st.integers(1, 3))
    O = draw(st.integers(1, 2))
    T = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    W = rng.standard_normal((N, N)) * 0.3
    W[0, 0] = 0.5                                   # at least one nonzero
    csr = _sparse_spec(rng, W, "csr")
    data, indices, indptr = csr[1].copy(), csr[2].copy(), csr[3].copy()
    far = int(draw(st.sampled_from([N, N + 1, 10**6, 2**31 - 1])))
    case = {"N": N, "dtype": dtype, "activation": "tanh", "n_threads": None,
            "W": ("value", W), "Win": ("value", rng.uniform(-1, 1, (N, D))),
            "Wfb": ("value", rng.uniform(-1, 1, (N, O))), "bias": ("value", np.zeros(N)),
            "lr": ("value", 0.5), "X": ("value", rng.uniform(-1, 1, (T, D))), "x0": None,
            "feedback": None}
    esn = {"coef": ("value", rng.uniform(-1, 1, (N, O))),
           "intercept": ("value", np.zeros(O)), "input_to_readout": False, "y0": None,
           "call": draw(st.sampled_from(["predict", "generate", "run"])), "n_steps": T,
           "teacher": ("value", rng.uniform(-1, 1, (T, O)))}
    k = int(rng.integers(data.size))
    if kind == "W index >= N":
        indices[k] = far
        case["W"] = ("csr", data, indices, indptr, (N, N))
    elif kind == "W negative index":
        indices[k] = -far
        case["W"] = ("csr", data, indices, indptr, (N, N))
    elif kind == "W indptr falling":
        indptr = indptr.copy()
        indptr[1] = data.size + 1
        case["W"] = ("csr", data, indices, indptr, (N, N))
    elif kind == "W indptr short":
        case["W"] = ("csr", data, indices, indptr[:-1], (N, N))
    elif kind == "W indptr float":
        case["W"] = ("csr", data, indices, indptr.astype(np.float64), (N, N))
    elif kind == "W shape":
        case["W"] = ("value", np.zeros((N, N + int(rng.integers(1, 3)))))
    elif kind == "W NaN":
        if rng.random() < 0.5:
            W[rng.integers(N), rng.integers(N)] = np.nan
        else:
            data[k] = np.inf
            case["W"] = ("csr", data, indices, indptr, (N, N))
    elif kind == "W complex":
        case["W"] = ("value", W.astype(np.complex128))
    elif kind == "W 3-D":
        case["W"] = ("value", W[None])
    elif kind == "COO index >= N":
        C = _sparse_spec(rng, W, "coo")
        row = C[2].copy()
        row[k % row.size] = far
        case["W"] = ("coo", C[1], row, C[3], (N, N))
    elif kind == "CSC index >= N":
        C = _sparse_spec(rng, W, "csc")
        ind = C[2].copy()
        ind[k % ind.size] = far
        case["W"] = ("csc", C[1], ind, C[3], (N, N))
    elif kind == "Win rows":
        case["Win"] = ("value", np.ones((N + 1, D)))
    elif kind == "Win NaN":
        case["Win"] = ("value", np.full((N, D), np.nan))
    elif kind == "Wfb rows":
        case["Wfb"] = ("value", np.ones((N - 1, O)))
    elif kind == "bias shape":
        case["bias"] = ("value", np.zeros((N, 1)) if rng.random() < 0.5 else np.zeros(N + 1))
    elif kind == "bias NaN":
        case["bias"] = ("value", np.full(N, np.nan))
    elif kind == "lr range":
        case["lr"] = ("value", float(rng.choice([0.0, -0.5, 1.5, np.nan])))
    elif kind == "lr length":
        case["lr"] = ("value", np.full(N + 1, 0.5))
    elif kind == "X width":
        shape = (T, D + 1) if rng.random() < 0.5 else (T, D, 1)
        if shape[-1] == D:
            shape = (T, D + 1, D + 1)
        case["X"] = ("value", np.ones(shape))
    elif kind == "X 1-D":
        case["X"] = ("value", np.ones(T))
    elif kind == "X 4-D":
        case["X"] = ("value", np.ones((T, 1, 1, D)))
    elif kind == "X complex":
        case["X"] = ("value", np.ones((T, D), dtype=np.complex64))
    elif kind == "X strings":
        case["X"] = ("value", np.full((T, D), "a"))
    elif kind == "x0 units":
        case["x0"] = ("value", np.zeros(N + 1))
    elif kind == "x0 series":
        case["x0"] = ("value", np.zeros((3, N)))
    elif kind == "feedback width":
        case["feedback"] = ("value", np.ones((T, O + 1)))
    elif kind in ("readout narrow", "readout wide", "readout outputs", "intercept shape",
                  "teacher 0-d", "teacher short", "y0 shape"):
        case["esn"] = esn
        if kind == "readout narrow":
            esn["coef"] = ("value", np.ones((N - 1, O)))
        elif kind == "readout wide":
            esn["coef"] = ("value", np.ones((N + 1 + int(rng.integers(5)), O)))
        elif kind == "readout outputs":
            esn["coef"] = ("value", np.ones((N, O + 1)))
            esn["intercept"] = ("value", np.zeros(O + 1))
        elif kind == "intercept shape":
            esn["intercept"] = ("value", np.zeros(O + 2))
        elif kind == "teacher 0-d":
            esn["call"], esn["teacher"] = "run", ("value", 1.5)
        elif kind == "teacher short":
            esn["call"], esn["teacher"] = "run", ("value", np.ones((T - 1, O)))
        else:
            esn["y0"] = ("value", np.zeros(O + 1))
    elif kind == "assign W index":
        indices[k] = far
        case["assign"] = [("W", ("csr", data, indices, indptr, (N, N)))]
    elif kind == "assign Win rows":
        case["assign"] = [("Win", ("value", np.ones((N + 2, D))))]
    elif kind == "activation":
        case["activation"] = draw(st.sampled_from(["softmax", "", "TANH"]))
    elif kind == "n_threads":
        case["n_threads"] = draw(st.sampled_from([0, -1, 2.5, "2"]))
    return kind, case


@pytest.mark.parametrize("kind", CORRUPTIONS)
@fuzz(4)
@given(data=st.data())
def test_invalid_arguments_raise_value_or_type_error(worker, kind, data):
    kind, case = data.draw(invalid_cases(kind))
    got = worker.call("reservoir", case)
    assert "error" in got, (kind, case)
    name, message = got["error"]
    assert name in ERRORS, (kind, got)
    assert message, (kind, got)


# ------------------------------------------------------------ Ridge and RLS
def _reference_readout(X, Y, penalty, fit_bias, bias_penalised):
    """Closed-form regularised least squares in float64."""
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    F = X.shape[1]
    if fit_bias and not bias_penalised:
        mx, my = X.mean(axis=0), Y.mean(axis=0)
        Xc, Yc = X - mx, Y - my
        w = np.linalg.solve(Xc.T @ Xc + penalty * np.eye(F), Xc.T @ Yc)
        return w, my - mx @ w
    Xa = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_bias else X
    w = np.linalg.solve(Xa.T @ Xa + penalty * np.eye(Xa.shape[1]), Xa.T @ Y)
    return (w[:F], w[F]) if fit_bias else (w, np.zeros(Y.shape[1]))


@st.composite
def readout_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    T = draw(st.integers(1, 40))
    B = draw(st.sampled_from([None, 1, 3]))
    F = draw(st.integers(1, 5))
    O = draw(st.sampled_from([None, 1, 3]))        # None: a 1-D Y
    X = rng.standard_normal((T, F) if B is None else (T, B, F))
    Y = rng.standard_normal(X.shape[:-1] + (() if O is None else (O,)))
    if O is None and B is not None:
        Y = Y[..., None]
    cls = draw(st.sampled_from(["Ridge", "RLS"]))
    penalty = draw(st.sampled_from([0.1, 1.0, 10.0]))
    fit_bias = draw(st.booleans())
    solver = draw(st.sampled_from(["auto", "cholesky", "qr"]))
    chunks = draw(st.booleans())
    return cls, X, Y, penalty, fit_bias, solver, chunks


@fuzz(80)
@given(case=readout_cases())
def test_ridge_and_rls_match_closed_form(case):
    import fastrnn
    cls, X, Y, penalty, fit_bias, solver, chunks = case
    if cls == "Ridge":
        ro = fastrnn.Ridge(penalty, fit_bias=fit_bias, solver=solver,
                           chunk_size=3 if chunks else None)
    else:
        ro = fastrnn.RLS(alpha=penalty, fit_bias=fit_bias)
    ro.fit(X, Y)
    X2 = X.reshape(-1, X.shape[-1])
    Y2 = Y.reshape(X2.shape[0], -1)
    w, b = _reference_readout(X2, Y2, penalty, fit_bias, bias_penalised=cls == "RLS")
    coef = np.asarray(ro.coef_).reshape(w.shape)
    np.testing.assert_allclose(coef, w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(ro.intercept_).reshape(b.shape), b, rtol=1e-6,
                               atol=1e-8)
    pred = ro.predict(X)
    np.testing.assert_allclose(pred.reshape(Y2.shape), X2 @ w + b, rtol=1e-6, atol=1e-8)


READOUT_CORRUPTIONS = ["predict width", "predict 1-D", "predict 4-D", "predict complex",
                       "predict list width", "fit rows", "fit NaN", "fit no features",
                       "fit strings", "partial_fit width", "predict before fit"]


@fuzz(60)
@given(kind=st.sampled_from(READOUT_CORRUPTIONS), cls=st.sampled_from(["Ridge", "RLS"]),
       F=st.integers(1, 4), T=st.integers(2, 20), seed=st.integers(0, 1000))
def test_invalid_readout_arguments_raise_value_or_type_error(kind, cls, F, T, seed):
    import fastrnn
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((T, F)), rng.standard_normal((T, 2))
    ro = fastrnn.Ridge(1.0) if cls == "Ridge" else fastrnn.RLS()
    if kind != "predict before fit":
        ro.fit(X, Y)
    calls = {
        "predict width": lambda: ro.predict(np.ones((T, F + 1))),
        "predict 1-D": lambda: ro.predict(np.ones(F)),
        "predict 4-D": lambda: ro.predict(np.ones((T, 1, 1, F))),
        "predict complex": lambda: ro.predict(np.ones((T, F), dtype=complex)),
        "predict list width": lambda: ro.predict([np.ones((T, F)), np.ones((T, F + 2))]),
        "fit rows": lambda: ro.fit(X, Y[:-1]),
        "fit NaN": lambda: ro.fit(np.where(X > 0, np.nan, X) if (X > 0).any() else X * np.nan,
                                  Y),
        "fit no features": lambda: ro.fit(np.ones((T, 0)), Y),
        "fit strings": lambda: ro.fit(np.full((T, F), "x"), Y),
        "partial_fit width": lambda: ro.partial_fit(np.ones((T, F + 1)), Y),
        "predict before fit": lambda: ro.predict(X),
    }
    with pytest.raises((ValueError, TypeError)) as info:
        calls[kind]()
    if kind.startswith("predict") and kind != "predict before fit" and "width" in kind:
        assert "X" in str(info.value) and str(F) in str(info.value)
