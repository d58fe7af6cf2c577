"""Hostile matrices, inputs and readouts for Reservoir, ESN, Ridge and RLS
(issue 11, items 1 and 4): everything a user hands in is checked where it
enters, and a wrong one raises ValueError/TypeError naming it, never a crash,
an out-of-bounds read or silent garbage."""
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

import fastrnn
from fastrnn import ESN, RLS, Reservoir, Ridge
from child_process import run_python
from reference_reservoir import esn_states

N = 10


def _parts(seed=0, n=N, density=0.3):
    M = sp.random(n, n, density=density, random_state=seed, format="csr")
    return M.data.copy(), M.indices.copy(), M.indptr.copy()


def _csr_unchecked(data, indices, indptr, shape=(N, N)):
    """A CSR matrix whose structure scipy does not check (as a user may build
    one, or get one after editing its arrays)."""
    M = sp.csr_matrix((N, N))
    M.data, M.indices, M.indptr = data, indices, indptr
    M._shape = shape
    return M


def _bad_csr_cases():
    data, indices, indptr = _parts()
    big = indices.copy()
    big[3] = N                      # column index == N: one past the state
    huge = indices.copy()
    huge[0] = 10**6
    neg = indices.copy()
    neg[1] = -1
    falling = indptr.copy()
    falling[2], falling[3] = falling[3], falling[2] - 1
    beyond = indptr.copy()
    beyond[-1] += 5                 # indptr ends past nnz
    return {
        "index == N": (data, big, indptr),
        "index 1e6": (data, huge, indptr),
        "negative index": (data, neg, indptr),
        "indptr falling": (data, indices, falling),
        "indptr too short": (data, indices, indptr[:-1]),
        "indptr past nnz": (data, indices, beyond),
        "indptr not from 0": (data, indices, indptr + 1),
        "fewer indices than values": (data, indices[:-1], indptr),
        "float indices": (data, indices.astype(np.float64), indptr),
    }


@pytest.mark.parametrize("case", sorted(_bad_csr_cases()))
@pytest.mark.parametrize("which", ["W", "Win", "Wfb"])
def test_malformed_csr_is_refused_where_it_enters(case, which):
    M = _csr_unchecked(*_bad_csr_cases()[case])
    with pytest.raises(ValueError, match=which):
        Reservoir(N, seed=0, **{which: M})


@pytest.mark.parametrize("fmt", ["csc", "coo"])
def test_malformed_csc_and_coo_are_refused(fmt):
    M = sp.random(N, N, density=0.3, random_state=1, format=fmt)
    if fmt == "csc":
        M.indices[0] = N + 3        # a row index past the matrix
    else:
        M.col[0] = N + 3
    with pytest.raises(ValueError, match="W"):
        Reservoir(N, W=M)


@pytest.mark.parametrize("given, error", [
    (sp.random(N, N + 1, density=0.3, format="csr"), ValueError),       # wrong shape
    (sp.random(N, N, density=0.3, format="csr").astype(np.complex128), TypeError),
    (np.ones((N, N + 1)), ValueError),
    (np.ones((N, N), dtype=object), TypeError),
])
def test_wrong_shape_or_dtype_of_W(given, error):
    with pytest.raises(error, match="W"):
        Reservoir(N, W=given)


@pytest.mark.parametrize("name, shape", [("W", (N, N)), ("Win", (N, 2)), ("Wfb", (N, 1)),
                                         ("bias", (N,))])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_matrices_are_refused(name, shape, bad):
    a = np.full(shape, 0.1)
    a[(0,) * len(shape)] = bad
    with pytest.raises(ValueError, match=name):
        Reservoir(N, **{name: a})
    if name != "bias":
        with pytest.raises(ValueError, match=name):
            Reservoir(N, **{name: sp.csr_matrix(a)})


def _reference_states(res, U):
    W = res.W.toarray() if sp.issparse(res.W) else res.W
    return esn_states(W, res.Win, res.bias, res.lr, U, np.zeros(N))


def test_valid_variants_of_a_sparse_W_give_the_dense_result():
    """int64 or int32 indices, unsorted and duplicate entries, every scipy
    format: all are the same matrix and give the same states."""
    rng = np.random.default_rng(0)
    U = rng.uniform(-1, 1, (30, 2))
    Win = rng.uniform(-1, 1, (N, 2))
    dense = sp.random(N, N, density=0.4, random_state=2).toarray() * 0.3
    ref = esn_states(dense, Win, np.zeros(N), np.ones(N), U, np.zeros(N))
    csr = sp.csr_matrix(dense)
    # the same matrix with each row's entries reversed, and its first entry
    # split into two duplicates
    rows, cols, vals = [], [], []
    for i in range(N):
        lo, hi = csr.indptr[i], csr.indptr[i + 1]
        cols += list(csr.indices[lo:hi][::-1])
        vals += list(csr.data[lo:hi][::-1])
        rows += [i] * (hi - lo)
    cols.append(cols[0])
    vals[0] /= 2
    vals.append(vals[0])
    rows.append(rows[0])
    messy = sp.coo_matrix((vals, (rows, cols)), shape=(N, N)).tocsr()
    variants = [
        csr, messy,
        sp.csr_matrix((csr.data, csr.indices.astype(np.int64), csr.indptr.astype(np.int64)),
                      shape=(N, N)),
        sp.csr_array(dense), sp.csc_matrix(dense), sp.coo_matrix(dense),
        sp.bsr_matrix(dense), sp.lil_matrix(dense), sp.dok_matrix(dense), sp.dia_matrix(dense),
    ]
    for M in variants:
        res = Reservoir(N, W=M, Win=Win)
        assert res.W.indices.dtype == np.int32 and res.W.has_canonical_format
        np.testing.assert_allclose(res.run(U), ref, rtol=0, atol=1e-12,
                                   err_msg=type(M).__name__)
    # a sparse Win or Wfb is accepted too (stored dense)
    res = Reservoir(N, W=csr, Win=sp.csr_matrix(Win))
    np.testing.assert_allclose(res.run(U), ref, rtol=0, atol=1e-12)


# ----------------------------------------------------- public attributes
def test_assigned_attributes_are_checked_like_constructor_arguments():
    res = Reservoir(N, seed=0)
    res.run(np.ones((3, 2)))
    with pytest.raises(ValueError, match="W"):
        res.W = _csr_unchecked(*_bad_csr_cases()["index == N"])
    with pytest.raises(ValueError, match="W"):
        res.W = np.ones((N + 1, N + 1))
    with pytest.raises(ValueError, match="Win"):
        res.Win = np.ones((N + 1, 2))
    with pytest.raises(ValueError, match="Wfb"):
        res.Wfb = np.ones((N - 1, 1))
    with pytest.raises(ValueError, match="bias"):
        res.bias = np.ones(N + 1)
    with pytest.raises(ValueError, match="lr"):
        res.lr = np.full(N - 1, 0.5)
    with pytest.raises(ValueError, match="lr"):
        res.lr = 1.5
    with pytest.raises(ValueError, match="activation"):
        res.activation = "softmax"
    with pytest.raises(ValueError, match="noise"):
        res.noise = -1.0
    with pytest.raises(AttributeError, match="units"):
        res.units = N + 5
    with pytest.raises(AttributeError, match="dtype"):
        res.dtype = np.float32
    # the reservoir still runs as before
    assert res.run(np.ones((3, 2))).shape == (3, N)


def test_a_good_assigned_matrix_is_used():
    rng = np.random.default_rng(1)
    res = Reservoir(N, seed=0)
    U = rng.uniform(-1, 1, (20, 2))
    res.W = rng.standard_normal((N, N)) * 0.2
    res.Win = rng.standard_normal((N, 2))
    res.bias = rng.standard_normal(N) * 0.1
    res.lr = 0.5
    np.testing.assert_allclose(res.run(U), _reference_states(res, U), rtol=0, atol=1e-12)
    res.reset()
    res.W = sp.csr_matrix(res.W)
    np.testing.assert_allclose(res.run(U), _reference_states(res, U), rtol=0, atol=1e-12)


def test_csr_structure_of_W_is_read_only():
    res = Reservoir(N, seed=0)
    with pytest.raises(ValueError, match="read-only"):
        res.W.indices[0] = 10**6
    with pytest.raises(ValueError, match="read-only"):
        res.W.indptr[1] = 10**6


def _run_isolated(code):
    """Run ``code`` in a fresh interpreter (a crash there fails this test
    instead of killing pytest); return (exit code, stderr)."""
    proc = run_python(["-c", textwrap.dedent(code)])
    return proc.returncode, proc.stderr


def test_rebinding_the_arrays_of_W_gets_it_checked_again():
    code = """
        import numpy as np, fastrnn
        res = fastrnn.Reservoir(50, seed=0)
        res.W.indices = np.full_like(res.W.indices, 10**8)
        try:
            res.run(np.ones((5, 1)))
        except ValueError as exc:
            assert "column indices" in str(exc), exc
            print("refused")
        else:
            raise SystemExit("accepted")
    """
    rc, err = _run_isolated(code)
    assert rc == 0, err


def test_resized_dense_matrix_is_refused_at_the_next_call():
    res = Reservoir(N, W=np.eye(N) * 0.5, seed=0)
    res.run(np.ones((3, 1)))
    res.W.resize((N - 2, N - 2), refcheck=False)   # in place, behind the setter
    with pytest.raises(ValueError, match="W"):
        res.run(np.ones((3, 1)))


def test_run_does_not_overwrite_the_callers_x0():
    """For one series x0 (1, N) transposed is already contiguous: it used to
    go to the kernel as is, which overwrote it with the final state."""
    res = Reservoir(N, seed=0)
    x0 = np.full((1, N), 0.25)
    res.run(np.ones((5, 1, 1)), x0=x0)
    np.testing.assert_array_equal(x0, 0.25)


# ------------------------------------------------------------- 3-D inputs
def test_input_whose_last_axis_is_not_the_input_size_is_an_error():
    """(T, D, 1) from a stray ``[:, :, None]`` is not D series of one
    feature once the reservoir knows it takes D inputs."""
    res = Reservoir(N, seed=0)
    X = np.random.default_rng(0).uniform(-1, 1, (40, 3))
    res.run(X)
    with pytest.raises(ValueError, match=r"X must have 3 features .*\(40, 3, 1\)"):
        res.run(X[:, :, None])
    with pytest.raises(ValueError, match=r"X\[0\] must have 3 features"):
        res.run([X[:, :1]])
    esn = ESN(Reservoir(N, seed=0), Ridge(1e-6)).fit(X, X[:, :1])
    with pytest.raises(ValueError, match=r"X must have 3 features .*time steps, series"):
        esn.predict(X[:, :, None])
    with pytest.raises(ValueError, match="X must have 3 features"):
        esn.fit(X[:, :, None], X[:, :1, None])


def test_feedback_whose_width_is_not_wfb_is_an_error():
    res = Reservoir(N, Wfb=np.ones((N, 2)) * 0.1, seed=0)
    X = np.ones((5, 1))
    with pytest.raises(ValueError, match="feedback must have 2 features"):
        res.run(X, feedback=np.ones((5, 3)))
    with pytest.raises(ValueError, match="feedback must have at least one"):
        Reservoir(N, seed=0).run(X, feedback=np.ones((5, 0)))


# ----------------------------------------------- readout against reservoir
def _fitted(features, outputs=1, readout=Ridge):
    rng = np.random.default_rng(3)
    r = readout() if readout is RLS else readout(1e-6)
    return r.fit(rng.uniform(-1, 1, (60, features)), rng.uniform(-1, 1, (60, outputs)))


@pytest.mark.parametrize("readout", [Ridge, RLS])
def test_readout_narrower_than_the_reservoir_is_refused_before_the_loop(readout):
    """The closed loop used to read coef_ past its N rows (NaN, or an
    invalid read under valgrind)."""
    esn = ESN(Reservoir(N, seed=0), _fitted(3, readout=readout), feedback=True)
    X = np.ones((6, 1))
    state = esn.reservoir.state.copy()
    for call in (lambda: esn.predict(X), lambda: esn.run(X),
                 lambda: esn.generate(4, inputs=np.ones((4, 1))),
                 lambda: esn.generate(2, teacher=np.ones((3, 1)), inputs=np.ones((5, 1))),
                 lambda: esn.run(X, teacher=np.ones((6, 1)))):
        with pytest.raises(ValueError, match=rf"readout takes 3 features.*{N}"):
            call()
    np.testing.assert_array_equal(esn.reservoir.state, state)   # no loop ran
    no_fb = ESN(Reservoir(N, seed=0), _fitted(N + 2, readout=readout))
    with pytest.raises(ValueError, match=rf"readout takes {N + 2} features"):
        no_fb.predict(X)


def test_readout_with_inputs_must_cover_states_and_inputs():
    esn = ESN(Reservoir(N, seed=0), _fitted(N), feedback=True, input_to_readout=True)
    with pytest.raises(ValueError, match=rf"{N} units and 2 inputs"):
        esn.predict(np.ones((4, 2)))
    esn = ESN(Reservoir(N, seed=0), _fitted(N + 2), feedback=True, input_to_readout=True)
    assert esn.predict(np.ones((4, 2))).shape == (4, 1)


def test_readout_outputs_must_match_the_feedback_weights():
    esn = ESN(Reservoir(N, Wfb=np.ones((N, 1)) * 0.1, seed=0), _fitted(N, outputs=4),
              feedback=True)
    with pytest.raises(ValueError, match="4 outputs.*Wfb"):
        esn.predict(np.ones((4, 1)))
    with pytest.raises(ValueError, match="Y must have 1 outputs.*Wfb"):
        esn.fit(np.ones((20, 1)), np.ones((20, 4)))


def test_readout_intercept_of_the_wrong_shape_is_refused():
    ro = _fitted(N, outputs=2)
    ro.intercept_ = np.zeros(3)
    esn = ESN(Reservoir(N, seed=0), ro, feedback=True)
    with pytest.raises(ValueError, match="intercept_"):
        esn.predict(np.ones((4, 1)))


@pytest.mark.parametrize("readout", [Ridge, RLS])
def test_readout_predict_names_x_and_the_width(readout):
    r = _fitted(4, readout=readout)
    for X in (np.ones((5, 3)), np.ones((5, 2, 6)), [np.ones((5, 4)), np.ones((5, 5))]):
        with pytest.raises(ValueError, match="X must have 4 features"):
            r.predict(X)


# ------------------------------------------------------------- teacher
def _feedback_esn():
    y = np.sin(0.3 * np.arange(80))[:, None]
    return ESN(Reservoir(N, seed=0), Ridge(1e-6), feedback=True).fit(None, y), y


@pytest.mark.parametrize("teacher", [np.float64(1.0), 1.0, np.array(2.0)])
def test_zero_dimensional_teacher_is_a_value_error(teacher):
    esn, _ = _feedback_esn()
    with pytest.raises(ValueError, match="teacher"):
        esn.run(None, teacher=teacher)
    with pytest.raises(ValueError, match="teacher"):
        esn.generate(3, teacher=teacher)
    with pytest.raises(ValueError, match="teacher"):
        esn.run(np.zeros((4, 0)), teacher=teacher)


def test_teacher_shorter_than_x_or_a_short_list_is_a_value_error():
    esn, y = _feedback_esn()
    with pytest.raises(ValueError, match=r"teacher must have 5 time steps.*\(5,\) or \(5, O\)"):
        esn.run(np.zeros((5, 0)), teacher=y[:3])
    with pytest.raises(ValueError, match="teacher must be a list of the same length"):
        esn.run([None, None], teacher=[y[:4]])
    with pytest.raises(ValueError, match="teacher must have 1 outputs"):
        esn.run(None, teacher=np.ones((4, 2)))


def test_empty_teacher_runs_zero_steps():
    esn, y = _feedback_esn()
    state = esn.reservoir.state.copy()
    out = esn.run(None, teacher=y[:0])
    assert out.shape == (0,) or out.shape == (0, 1)
    np.testing.assert_array_equal(esn.reservoir.state, state)


def test_x0_and_y0_are_checked():
    esn, _ = _feedback_esn()
    with pytest.raises(ValueError, match="y0"):
        esn.predict(np.zeros((4, 0)), y0=np.zeros(3))
    with pytest.raises(ValueError, match="x0"):
        esn.predict(np.zeros((4, 0)), x0=np.zeros(N + 1))
    with pytest.raises(TypeError, match="y0"):
        esn.generate(2, y0=np.array(["a"]))


def test_not_fitted_esn_raises_not_fitted_before_running():
    esn = ESN(Reservoir(N, seed=0), Ridge(), feedback=True)
    with pytest.raises(fastrnn.NotFittedError):
        esn.predict(np.ones((3, 1)))
    np.testing.assert_array_equal(esn.reservoir.state, 0)


def test_readme_reservoir_example_runs_one_series_not_a_batch():
    """mackey_glass already returns (T, 1); the example used to add an axis,
    giving (T, 1, 1), read as a batch of one series."""
    import pathlib
    import re
    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not beside the tests")
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    block = next(b for b in blocks if "mackey_glass(2000" in b)
    namespace = {"fastrnn": fastrnn}
    exec(compile(block, str(readme), "exec"), namespace)
    assert namespace["series"].shape == (2000, 1)
    assert namespace["pred"].shape == (499, 1)


# ------------------------------------------------------- spectral radius
@pytest.mark.parametrize("W, error, name", [
    ([[0.5, 0.1], [0.0, 0.2]], None, None),               # a list is a matrix too
    (np.float64(2.0), ValueError, "W"),
    (np.full((3, 3), np.nan), ValueError, "W"),
    (sp.random(300, 300, density=0.05, random_state=0, format="csr") * np.nan, ValueError, "W"),
    (np.array([["a"]]), TypeError, "W"),
])
def test_spectral_radius_checks_its_matrix(W, error, name):
    from fastrnn.reservoir.reservoir import spectral_radius
    if error is None:
        assert spectral_radius(W) == pytest.approx(0.5)
        return
    with pytest.raises(error, match=name):
        spectral_radius(W)


def test_spectral_radius_refuses_a_malformed_sparse_matrix():
    from fastrnn.reservoir.reservoir import spectral_radius
    for n in (8, 300):               # the dense route and the ARPACK route
        M = sp.random(n, n, density=0.1, random_state=0, format="csr")
        M.indices[0] = 10**7
        with pytest.raises(ValueError, match="column indices"):
            spectral_radius(M)
    with pytest.raises(ValueError, match="v0"):
        spectral_radius(sp.random(300, 300, density=0.05, random_state=0), v0=np.ones(3))


@pytest.mark.parametrize("w, error", [
    (sp.eye(3, format="csr"), TypeError),
    (np.full((2, 2), np.nan), ValueError),
    (np.zeros((0, 0)), ValueError),
    (np.eye(2) * 1j, TypeError),
])
def test_init_spectral_radius_of_checks_its_matrix(w, error):
    from fastrnn import init
    with pytest.raises(error, match="w must"):
        init.spectral_radius_of(w)


def test_runs_longer_than_the_loops_count_are_refused(monkeypatch):
    """The Cython loops count time steps x series in C ints."""
    from fastrnn.reservoir import reservoir
    monkeypatch.setattr(reservoir, "_INT_MAX", 35)
    res = Reservoir(N, seed=0)
    with pytest.raises(ValueError, match="split it into shorter calls"):
        res.run(np.ones((12, 3, 1)))
    esn = ESN(res, _fitted(N), feedback=True)
    with pytest.raises(ValueError, match="split it into shorter calls"):
        esn.predict(np.ones((36, 1)))
    assert res.run(np.ones((6, 3, 1))).shape == (6, 3, N)


def test_a_pickled_reservoir_checks_its_w_again_and_runs_the_same():
    """Unpickled arrays are writeable and new objects: __setstate__ checks W
    again, so the read-only structure and the per-call identity check hold."""
    import copy
    import pickle
    res = Reservoir(30, seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, (6, 2))
    expected = res.run(x, x0=np.zeros(30))
    for clone in (pickle.loads(pickle.dumps(res)), copy.deepcopy(res)):
        assert not clone.W.indices.flags.writeable and not clone.W.indptr.flags.writeable
        assert clone.sr_measured == res.sr_measured
        assert clone.sr_measured_initial == res.sr_measured_initial
        np.testing.assert_array_equal(clone.run(x, x0=np.zeros(30)), expected)


def test_a_reservoir_too_large_for_memory_fails_before_allocating():
    # units=10**9 used to allocate an 8 GB leak-rate array before failing
    # somewhere in the draw of W; the size of W is known up front.
    with pytest.raises(MemoryError, match="units=1000000000"):
        fastrnn.Reservoir(10**9)
    with pytest.raises(MemoryError, match="degree"):
        fastrnn.Reservoir(10**9, degree=10**6)
