"""Reservoir: states against a plain NumPy loop, spectral radius, streaming,
batches, precision and argument checks."""
import numpy as np
import fastrnn
import pytest
import scipy.sparse as sp

from fastrnn.reservoir.reservoir import Reservoir, spectral_radius
from reference_reservoir import esn_states


def dense(M):
    return M.toarray() if sp.issparse(M) else np.asarray(M)


def reference(res, U, x0=None, Yprev=None):
    N = res.units
    return esn_states(
        dense(res.W).astype(np.float64), res.Win.astype(np.float64),
        res.bias.astype(np.float64), res.lr.astype(np.float64), U,
        np.zeros(N) if x0 is None else x0,
        None if Yprev is None else res.Wfb.astype(np.float64), Yprev, res.activation,
    )


@pytest.fixture
def inputs():
    return np.random.default_rng(7).uniform(-1, 1, size=(120, 3))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity"])
def test_sparse_states_match_numpy(inputs, activation):
    sr = 0.5 if activation == "identity" else 1.1
    res = Reservoir(80, sr=sr, lr=0.4, bias_scaling=0.3, input_scaling=0.7,
                    activation=activation, seed=1)
    states = res.run(inputs)
    assert sp.isspmatrix_csr(res.W) or sp.issparse(res.W)
    np.testing.assert_allclose(states, reference(res, inputs), rtol=0, atol=1e-12)


def test_given_dense_and_sparse_matrices_match_numpy(inputs):
    rng = np.random.default_rng(3)
    N = 60
    W = rng.standard_normal((N, N)) * 0.1
    Win = rng.standard_normal((N, 3))
    bias = rng.standard_normal(N) * 0.1
    lr = rng.uniform(0.05, 1.0, size=N)          # one time scale per unit
    ref = esn_states(W, Win, bias, lr, inputs, np.zeros(N))
    for given in (W, sp.csr_matrix(W), sp.coo_matrix(W)):
        res = Reservoir(N, lr=lr, W=given, Win=Win, bias=bias)
        np.testing.assert_allclose(res.run(inputs), ref, rtol=0, atol=1e-12)
    # the given matrix is used as is, not rescaled to sr
    np.testing.assert_array_equal(dense(Reservoir(N, W=W, Win=Win).W), W)


def test_streaming_equals_one_call_and_reset(inputs):
    res = Reservoir(50, lr=0.3, seed=2)
    whole = res.run(inputs)
    res.reset()
    parts = np.vstack([res.run(inputs[:37]), res.run(inputs[37:90]), res.run(inputs[90:])])
    np.testing.assert_array_equal(parts, whole)
    res.reset()
    np.testing.assert_array_equal(res.run(inputs[:10]), whole[:10])
    x0 = np.random.default_rng(0).uniform(-1, 1, 50)
    np.testing.assert_allclose(res.run(inputs, x0=x0), reference(res, inputs, x0),
                               rtol=0, atol=1e-12)


def test_batch_and_list_match_single_series():
    rng = np.random.default_rng(5)
    # 13 series: register blocks of 8 and 4 and a single one; per-unit leak rates
    res = Reservoir(70, lr=rng.uniform(0.1, 1.0, 70), sr=0.95, seed=4)
    U = rng.uniform(-1, 1, size=(40, 13, 2))
    batch = res.run(U)
    assert batch.shape == (40, 13, 70)
    assert res.state.shape == (13, 70)
    for b in range(13):
        np.testing.assert_allclose(batch[:, b], reference(res, U[:, b]), rtol=0, atol=1e-12)
    # continuing the batch carries each series' state
    more = rng.uniform(-1, 1, size=(5, 13, 2))
    cont = res.run(more)
    for b in range(13):
        np.testing.assert_allclose(cont[:, b], reference(res, more[:, b], batch[-1, b]),
                                   rtol=0, atol=1e-12)
    res.reset()
    series = [rng.uniform(-1, 1, size=(T, 2)) for T in (13, 1, 30)]
    outs = res.run(series)
    for s, o in zip(series, outs):
        np.testing.assert_allclose(o, reference(res, s), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.state, outs[-1][-1])


def test_teacher_forced_feedback_matches_numpy(inputs):
    rng = np.random.default_rng(8)
    res = Reservoir(40, lr=0.6, fb_scaling=0.5, fb_connectivity=0.5, seed=9)
    Yprev = rng.uniform(-1, 1, size=(inputs.shape[0], 2))
    states = res.run(inputs, feedback=Yprev)
    assert res.Wfb.shape == (40, 2)
    np.testing.assert_allclose(states, reference(res, inputs, Yprev=Yprev), rtol=0, atol=1e-12)


def test_float32_computes_in_float32(inputs):
    r64 = Reservoir(90, lr=0.3, seed=11, bias_scaling=0.2)
    r32 = Reservoir(90, lr=0.3, seed=11, bias_scaling=0.2, dtype=np.float32)
    s32 = r32.run(inputs)
    assert s32.dtype == np.float32
    assert r32.W.dtype == r32.Win.dtype == r32.bias.dtype == r32.lr.dtype == np.float32
    # float32 matrices, run in float64 by NumPy: differences are float32 rounding
    ref = reference(r32, inputs.astype(np.float32).astype(np.float64))
    err = np.abs(s32 - ref).max()
    assert 0 < err < 1e-5
    np.testing.assert_allclose(s32, r64.run(inputs), atol=1e-5)


@pytest.mark.parametrize("units,kw", [(100, {}), (300, {}), (600, {"rc_connectivity": 0.02}),
                                      (400, {"degree": 15})])
def test_spectral_radius_after_scaling(units, kw):
    res = Reservoir(units, sr=1.2, seed=units, **kw)
    measured = np.max(np.abs(np.linalg.eigvals(dense(res.W))))
    assert abs(measured - 1.2) < 1e-6
    assert abs(res.sr_measured - measured) < 1e-8
    assert res.sr_measured_initial > 0 and res.sr_measured_initial != pytest.approx(1.2)


def test_degree_gives_exactly_k_inputs_per_unit():
    res = Reservoir(200, degree=15, seed=0)
    W = res.W.tocsr()
    assert np.all(np.diff(W.indptr) == 15)
    assert W.nnz == 200 * 15


def test_connectivity_sets_the_density():
    res = Reservoir(300, rc_connectivity=0.05, input_connectivity=0.2, seed=0)
    assert res.W.nnz == round(0.05 * 300 * 300)
    res.initialize(4)
    assert np.count_nonzero(res.Win) == round(0.2 * 300 * 4)


def test_spectral_radius_arpack_is_deterministic_and_matches_dense():
    rng = np.random.default_rng(1)
    W = sp.random(400, 400, density=0.03, random_state=2, data_rvs=rng.standard_normal,
                  format="csr")
    a, b = spectral_radius(W), spectral_radius(W)
    assert a == b
    assert abs(a - np.max(np.abs(np.linalg.eigvals(W.toarray())))) < 1e-8 * a


def test_seed_makes_the_reservoir_reproducible(inputs):
    a = Reservoir(60, seed=123, noise=0.01).run(inputs)
    b = Reservoir(60, seed=123, noise=0.01).run(inputs)
    c = Reservoir(60, seed=123).run(inputs)
    np.testing.assert_array_equal(a, b)
    assert 1e-4 < np.abs(a - c).max() < 0.5


@pytest.mark.parametrize("kwargs,name", [
    ({"units": 0}, "units"),
    ({"units": 10, "sr": 0.0}, "sr"),
    ({"units": 10, "sr": -1.0}, "sr"),
    ({"units": 10, "lr": 0.0}, "lr"),
    ({"units": 10, "lr": 1.5}, "lr"),
    ({"units": 3, "lr": [0.5, 0.5, 2.0]}, "lr"),
    ({"units": 3, "lr": [0.5, 0.5]}, "lr"),
    ({"units": 10, "rc_connectivity": 0.0}, "rc_connectivity"),
    ({"units": 10, "rc_connectivity": 1.5}, "rc_connectivity"),
    ({"units": 10, "input_connectivity": 0.0}, "input_connectivity"),
    ({"units": 10, "fb_connectivity": 2.0}, "fb_connectivity"),
    ({"units": 10, "degree": 11}, "degree"),
    ({"units": 10, "activation": "softsign"}, "activation"),
    ({"units": 10, "noise": -0.1}, "noise"),
    ({"units": 3, "W": np.eye(4)}, "W"),
    ({"units": 30, "bias": np.zeros(2)}, "bias"),
])
def test_bad_hyperparameters_are_rejected(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Reservoir(**kwargs)


def test_bad_inputs_are_rejected():
    res = Reservoir(10, seed=0)
    res.run(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="input"):
        res.run(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="X"):
        res.run(np.zeros(5))
    with pytest.raises(TypeError, match="X"):
        res.run(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="x0"):
        res.run(np.zeros((5, 2)), x0=np.zeros(4))
    with pytest.raises(TypeError, match="units"):
        Reservoir(10.5)


@pytest.mark.parametrize("batch", [1, 13])
def test_two_threads_give_the_same_states(batch):
    rng = np.random.default_rng(12)
    U = rng.uniform(-1, 1, size=(31, batch, 2))     # odd length: final state in the spare buffer
    one = Reservoir(150, lr=0.4, seed=5, n_threads=1)
    two = Reservoir(150, lr=0.4, seed=5, n_threads=2)
    a, b = one.run(U), two.run(U)
    assert one.threads_used_ == 1 and two.threads_used_ == 2
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(one.state, two.state)
    np.testing.assert_allclose(a[:, 0], reference(one, U[:, 0]), rtol=0, atol=1e-12)


# ----------------------------------------------- states into a wider buffer
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("inputs", [2, 40])   # the row loop and the GEMM projection
def test_states_written_into_columns_of_a_buffer_are_bitwise_the_same(dtype, batched, inputs):
    rng = np.random.default_rng(3)
    shape = (30, 4) if batched else (30,)
    X = rng.standard_normal(shape + (inputs,)).astype(dtype)
    fresh = fastrnn.Reservoir(16, sr=0.9, lr=0.4, rc_connectivity=0.3, noise=0.01, seed=5,
                              dtype=dtype)
    want = fresh.run(X)
    # the input itself in columns of a wider array, read in place
    wide_in = np.full(shape + (inputs + 3,), np.nan, dtype=dtype)
    wide_in[..., 1:1 + inputs] = X
    buffer = np.full(shape + (16 + 5,), np.nan, dtype=dtype)
    again = fastrnn.Reservoir(16, sr=0.9, lr=0.4, rc_connectivity=0.3, noise=0.01, seed=5,
                              dtype=dtype)
    got = again.run(wide_in[..., 1:1 + inputs], out=buffer[..., 2:18])
    assert got.base is buffer
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(again.state, fresh.state)
    # the columns around are untouched
    assert np.isnan(buffer[..., :2]).all() and np.isnan(buffer[..., 18:]).all()


def test_bad_out_is_refused_with_its_reason():
    res = fastrnn.Reservoir(8, sr=0.9, seed=1)
    X = np.ones((5, 2))
    with pytest.raises(TypeError, match="out must be a NumPy array"):
        res.run(X, out=[[0.0] * 8] * 5)
    with pytest.raises(TypeError, match="dtype float64"):
        res.run(X, out=np.empty((5, 8), np.float32))
    with pytest.raises(ValueError, match=r"out must have shape \(5, 8\)"):
        res.run(X, out=np.empty((5, 1, 8)))
    with pytest.raises(ValueError, match="rows evenly spaced"):
        res.run(X, out=np.empty((5, 16))[:, ::2])
    with pytest.raises(ValueError, match="rows evenly spaced"):
        res.run(X, out=np.empty((8, 5)).T)
    read_only = np.empty((5, 8))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        res.run(X, out=read_only)
    shared = np.zeros((5, 10))
    with pytest.raises(ValueError, match="share memory with X"):
        res.run(shared[:, :2], out=shared[:, 1:9])
    with pytest.raises(TypeError, match="out is for an array X"):
        res.run([X, X], out=np.empty((5, 8)))
    # a batched out for batched X only
    with pytest.raises(ValueError, match=r"\(5, 3, 8\)"):
        res.run(np.ones((5, 3, 2)), out=np.empty((5, 8)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_run_on_an_empty_batch(dtype):
    """A batch of no series gives (T, 0, N) states, into ``out`` too (its
    rows were once measured with a division by the zero-length axis)."""
    X = np.zeros((4, 0, 2), dtype)
    res = Reservoir(5, seed=0, dtype=dtype)
    states = res.run(X)
    assert states.shape == (4, 0, 5) and states.dtype == dtype
    out = np.empty((4, 0, 5), dtype)
    res.reset()
    assert res.run(X, out=out) is out
