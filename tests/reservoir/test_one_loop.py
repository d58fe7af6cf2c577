"""The open, teacher-forced and closed loops run one C step (fr_res_step): where
the loops compute the same thing they must give the same bits, and the closed
loop owned by Reservoir matches the NumPy reference."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastrnn.reservoir import _reservoir
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import ACTIVATION_CODES, ClosedLoop, Reservoir
from reference_reservoir import ACTS, esn_free_run

N, D, O = 40, 2, 2


def _network(kind, dtype, activation="tanh"):
    res = Reservoir(N, sr=0.9, lr=np.linspace(0.2, 1.0, N), bias_scaling=0.3, fb_scaling=0.5,
                    fb_connectivity=0.5, activation=activation, seed=3, dtype=dtype)
    if kind == "dense":
        res.W = res.W.toarray()
    res.initialize(D, O)
    return res


def _inputs(dtype, T=30, B=1):
    rng = np.random.default_rng(B)
    u = rng.uniform(-1, 1, (T, B, D)).astype(dtype)
    y = rng.uniform(-1, 1, (T, B, O)).astype(dtype)
    return (u[:, 0], y[:, 0]) if B == 1 else (u, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("batch", [1, 4])
def test_closed_loop_with_a_silent_readout_is_the_open_loop(dtype, kind, batch):
    """A readout whose output is zero feeds back zero: the closed loop then
    computes the open loop's sums to the bit (whichever number of threads the
    open loop used)."""
    res = _network(kind, dtype)
    X, Y = _inputs(dtype, B=batch)
    esn = ESN(res, Ridge(1e-3, dtype=dtype), feedback=True).fit(X, Y)
    esn.readout.coef_ = np.zeros_like(esn.readout.coef_)
    esn.readout.intercept_ = np.zeros_like(esn.readout.intercept_)
    x0 = np.random.default_rng(9).uniform(-0.5, 0.5, N).astype(dtype)
    y, closed = esn.run(X, x0=x0, y0=np.zeros(O), return_states=True)
    assert not y.any()
    for threads in (1, 2):
        res.n_threads = threads
        np.testing.assert_array_equal(closed, res.run(X, x0=x0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_teacher_forcing_is_the_open_loop_with_the_outputs_as_inputs(dtype, kind):
    """ESN teacher forcing (run with ``teacher``, fit, generate's warm-up) is
    Reservoir.run with feedback[t] = teacher[t-1]: the same states, bit for bit."""
    res = _network(kind, dtype)
    X, Y = _inputs(dtype)
    esn = ESN(res, Ridge(1e-3, dtype=dtype), feedback=True).fit(X, Y)
    y0 = np.array([0.3, -0.2], dtype=dtype)
    fed = np.vstack([y0[None], Y[:-1]])
    expected = res.run(X, x0=np.zeros(N), feedback=fed)
    _, teacher_forced = esn.run(X, teacher=Y, x0=np.zeros(N), y0=y0, return_states=True)
    np.testing.assert_array_equal(teacher_forced, expected)
    # generate: warm-up on the teacher, then the free run from its last state
    # and output, as one closed loop started there
    gen = esn.generate(8, teacher=Y[:10], inputs=X[:18], x0=np.zeros(N), y0=y0)
    warm = res.run(X[:10], x0=np.zeros(N), feedback=np.vstack([y0[None], Y[:9]]))
    free = esn.predict(X[10:18], x0=warm[-1], y0=Y[9])
    np.testing.assert_array_equal(gen, free)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_a_closed_loop_split_into_calls_is_the_closed_loop_in_one(dtype, kind):
    """The state and the last output carry over between calls exactly."""
    res = _network(kind, dtype)
    X, Y = _inputs(dtype, T=40)
    esn = ESN(res, Ridge(1e-3, dtype=dtype), feedback=True).fit(X, Y)
    esn.reset()
    whole = esn.predict(X)
    esn.reset()
    parts = np.concatenate([esn.predict(X[:13]), esn.predict(X[13:])])
    np.testing.assert_array_equal(parts, whole)


@pytest.mark.parametrize("activation", sorted(ACTIVATION_CODES))
@pytest.mark.parametrize("kind", ["sparse", "dense"])
@pytest.mark.parametrize("batch", [1, 3])
def test_reservoir_closed_loop_matches_numpy(activation, kind, batch):
    """Reservoir._run_closed_loop (the loop ESN drives) against the NumPy
    free run, with a readout that also sees the inputs."""
    res = _network(kind, np.float64, activation)
    rng = np.random.default_rng(4)
    T = 25
    u = rng.uniform(-1, 1, (T, batch, D))
    w_out = rng.uniform(-0.3, 0.3, (N, O))
    w_in = rng.uniform(-0.3, 0.3, (D, O))
    intercept = np.array([0.1, -0.05])
    x0 = rng.uniform(-0.5, 0.5, (batch, N))
    y0 = rng.uniform(-0.5, 0.5, (batch, O))
    states, outputs, y_last = res._run_closed_loop(u, w_out, w_in, intercept, x0, y0)
    W = res.W.toarray() if sp.issparse(res.W) else res.W
    # the reference's readout on [x; u]: the input part is a constant per step
    for b in range(batch):
        xs, ys = _free_run_with_inputs(W, res, w_out, w_in, intercept, u[:, b], x0[b], y0[b],
                                       activation)
        np.testing.assert_allclose(states[:, b], xs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(outputs[:, b], ys, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y_last, outputs[-1])
    np.testing.assert_array_equal(res.state, states[-1] if batch > 1 else states[-1, 0])


def _free_run_with_inputs(W, res, w_out, w_in, intercept, U, x0, y0, activation):
    f = ACTS[activation]
    x, y = x0.copy(), y0.copy()
    xs, ys = [], []
    for t in range(U.shape[0]):
        x = (1 - res.lr) * x + res.lr * f(W @ x + res.Win @ U[t] + res.bias + res.Wfb @ y)
        y = w_out.T @ x + w_in.T @ U[t] + intercept
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


def test_reference_free_run_agrees_without_inputs_to_the_readout():
    """The shared NumPy reference (tests/reference_reservoir.py) and the
    closed loop agree when the readout sees the state alone."""
    res = _network("sparse", np.float64)
    rng = np.random.default_rng(6)
    u = rng.uniform(-1, 1, (20, 1, D))
    w_out = rng.uniform(-0.3, 0.3, (N, O))
    intercept = np.array([0.2, 0.0])
    states, outputs, _ = res._run_closed_loop(u, w_out, None, intercept, np.zeros(N),
                                              np.zeros((1, O)))
    xs, ys = esn_free_run(res.W.toarray(), res.Win, res.bias, res.lr, res.Wfb, w_out, intercept,
                          u[:, 0], np.zeros(N), np.zeros(O))
    np.testing.assert_allclose(states[:, 0], xs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(outputs[:, 0], ys, rtol=0, atol=1e-12)


def test_activation_codes_are_the_c_enum():
    """One table: the names map to the C loop's codes, each distinct."""
    assert ACTIVATION_CODES is _reservoir.ACTIVATION_CODES
    assert sorted(ACTIVATION_CODES) == ["identity", "relu", "sigmoid", "tanh"]
    assert len(set(ACTIVATION_CODES.values())) == 4
    x = np.linspace(-2, 2, 9)[:, None]
    for name in ACTIVATION_CODES:
        res = Reservoir(1, W=np.zeros((1, 1)), Win=np.ones((1, 1)), activation=name)
        np.testing.assert_allclose(res.run(x)[:, 0], ACTS[name](x[:, 0]), rtol=1e-15)


# ------------------------------------ the layouts of one loop, to the bit
def _run_loop(res, u, *, prefilled=True, compact=True, nthreads=1, fetch="auto"):
    """The open loop through the C entry point directly, in one layout."""
    T, B, _ = u.shape
    weights = res._checked_weights(u.shape[2])
    loop = res._loop_weights(weights, weights["win"], B)
    if not compact:
        loop = loop._replace(w_indices16=None)
    state = np.zeros((res.units, B), dtype=res.dtype)
    states = np.full((T, B, res.units), np.nan, dtype=res.dtype)
    if prefilled:
        states[...] = weights["bias"]
    used = _reservoir.run(loop, u, state, states, nthreads=nthreads, prefilled=prefilled,
                          fetch=fetch)
    return states, state, used


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("inputs", [0, 1, 3])
def test_fused_projection_compact_indices_and_threads_change_no_bit(dtype, batch, inputs):
    """Bias + Win u_t summed in the step's own pass (or before the loop),
    16-bit or 32-bit column indices, one thread or two: the same states."""
    res = Reservoir(90, sr=0.9, lr=np.linspace(0.2, 1.0, 90), rc_connectivity=0.2,
                    bias_scaling=0.3, seed=4, dtype=dtype)
    u = np.random.default_rng(2).uniform(-1, 1, (25, batch, inputs)).astype(dtype)
    want, last, _ = _run_loop(res, u)
    for options in (dict(prefilled=False), dict(compact=False), dict(nthreads=2),
                    dict(prefilled=False, compact=False, nthreads=2)):
        got, got_last, used = _run_loop(res, u, **options)
        np.testing.assert_array_equal(got, want, err_msg=str(options))
        np.testing.assert_array_equal(got_last, last, err_msg=str(options))
    # the second thread really ran (where threads exist)
    assert used in (1, 2)


def _matrix_with_every_row_length(N, dtype, rng):
    """A sparse W whose rows hold 0, 1, ... nonzeros (cycling), so that the
    groups of rows of the SELL layout mix empty rows, rows shorter than four
    and long rows, and N need not be a multiple of a group."""
    rows, cols = [], []
    for i in range(N):
        k = (i * 7) % min(N, 41)
        rows += [i] * k
        cols += sorted(rng.choice(N, size=k, replace=False))
    vals = rng.standard_normal(len(rows)) / 4
    return sp.csr_matrix((vals, (rows, cols)), shape=(N, N)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("units", [5, 47, 130])
@pytest.mark.parametrize("activation", ["tanh", "identity"])
def test_sell_layout_of_long_runs_changes_no_bit(dtype, units, activation):
    """Runs of at least FR_RES_SELL_MIN_STEPS (64) steps of one series read W
    in SELL-C on AVX-512 CPUs whose gathers pay; 32-bit indices always take
    the CSR row loop, whose AVX2 clone fetches x by hardware gathers or by
    plain loads ("loads": where gathers are slow, as on AMD's Zen 4).
    Both sum each row in the same order: the same states, with one thread
    or two, also where the identity activation overflows to inf and NaN
    (masked lanes add nothing, not even 0 * inf)."""
    rng = np.random.default_rng(units)
    W = _matrix_with_every_row_length(units, dtype, rng)
    scale = 1e3 if activation == "identity" else 1.0
    res = Reservoir(units, W=W * scale, Win=rng.standard_normal((units, 2)),
                    bias=rng.standard_normal(units) / 5, lr=np.linspace(0.3, 1.0, units),
                    activation=activation, dtype=dtype)
    u = rng.uniform(-1, 1, (150, 1, 2)).astype(dtype)
    want, last, _ = _run_loop(res, u, compact=False, fetch="gather")
    if activation == "identity":
        with np.errstate(all="ignore"):
            assert not np.isfinite(want[-1]).all()   # the overflow case is exercised
    for options in (dict(), dict(nthreads=2), dict(prefilled=False, nthreads=2),
                    dict(fetch="gather"), dict(fetch="gather", nthreads=2),
                    dict(fetch="loads"), dict(fetch="loads", compact=False),
                    dict(fetch="loads", prefilled=False, nthreads=2)):
        got, got_last, _ = _run_loop(res, u, **options)
        np.testing.assert_array_equal(got, want, err_msg=str(options))
        np.testing.assert_array_equal(got_last, last, err_msg=str(options))


def test_gather_probe_gives_a_verdict_and_keeps_it():
    """The probe runs once per process: the same answer every time after."""
    first = _reservoir.gathers_pay()
    assert isinstance(first, bool)
    assert all(_reservoir.gathers_pay() is first for _ in range(3))
    with pytest.raises(ValueError, match="fetch must be one of"):
        _run_loop(Reservoir(10, seed=0), np.zeros((3, 1, 1)), fetch="scatter")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compact", [False, True])
def test_closed_loop_fetches_x_either_way_to_the_same_bits(dtype, compact):
    """The closed loop of one series (generation with output feedback)
    fetches W's entries of x as the call asks, like the open loop: gathers
    or plain loads give the same states and outputs."""
    res = Reservoir(70, sr=0.9, lr=0.4, rc_connectivity=0.2, seed=3, dtype=dtype)
    rng = np.random.default_rng(5)
    T, D, O = 30, 1, 2
    u = rng.uniform(-1, 1, (T, 1, D)).astype(dtype)
    w_out = (rng.standard_normal((70, O)) / 10).astype(dtype)
    results = []
    for fetch in ("gather", "loads"):
        weights = res._checked_weights(D, O)
        loop = res._loop_weights(weights, weights["win"], 1)
        if not compact:
            loop = loop._replace(w_indices16=None)
        state = np.zeros((70, 1), dtype=dtype)
        states = np.empty((T, 1, 70), dtype=dtype)
        states[...] = weights["bias"]
        outputs = np.zeros((T, 1, O), dtype=dtype)
        y_state = np.full((O, 1), 0.1, dtype=dtype)
        _reservoir.run(loop, u, state, states,
                       ClosedLoop(weights["wfb"], w_out, outputs, y_state), fetch=fetch)
        results.append((states, outputs, state, y_state))
    assert np.isfinite(results[0][0]).all() and np.abs(results[0][1]).max() > 0
    for want, got in zip(*results):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("prefilled", [False, True])
def test_batch_split_by_series_changes_no_bit(dtype, prefilled):
    """A batch runs in blocks of series, each block for all steps, split
    between two threads when each gets a vector register's worth (16
    doubles, 32 floats): every element is the same sum as in the step of
    all series at once, so any split gives the same states. The
    reference is the batch cut into pieces of 13 run with two threads,
    which share each step's units instead."""
    res = Reservoir(70, sr=0.9, lr=np.linspace(0.2, 1.0, 70), rc_connectivity=0.2,
                    bias_scaling=0.3, seed=6, dtype=dtype)
    # 70 series: blocks of 32 (+ a remainder, never a block of one series)
    u = np.random.default_rng(4).uniform(-1, 1, (40, 70, 2)).astype(dtype)
    pieces = [_run_loop(res, np.ascontiguousarray(u[:, b:b + 13]), prefilled=prefilled,
                        nthreads=2)
              for b in range(0, 70, 13)]
    assert all(used == 2 for *_, used in pieces)
    want = np.concatenate([p[0] for p in pieces], axis=1)
    last = np.concatenate([p[1] for p in pieces], axis=1)
    for batch in (70, 33, 16, 2):
        for nthreads in (1, 2):
            got, got_last, _ = _run_loop(res, np.ascontiguousarray(u[:, :batch]),
                                         prefilled=prefilled,
                                         nthreads=nthreads)
            np.testing.assert_array_equal(got, want[:, :batch], err_msg=f"{batch} {nthreads}")
            np.testing.assert_array_equal(got_last, last[:, :batch])
    np.testing.assert_allclose(want[:, 5], _run_loop(res, u[:, 5:6].copy())[0][:, 0],
                               rtol=0, atol=2e-6 if dtype == np.float32 else 1e-14)


def test_pre_activations_per_step_only_for_the_open_loop_and_few_inputs():
    res = Reservoir(20, sr=0.9, seed=1)
    u = np.zeros((4, 1, _reservoir.SMALL_INPUT + 1))
    with pytest.raises(ValueError, match="SMALL_INPUT"):
        _run_loop(res, u, prefilled=False)


def test_wide_indices_beyond_16_bits_match_numpy():
    """Above 65,536 units the loop reads W's int32 indices; a sparse W of
    degree one (a shifted cycle) keeps it small."""
    N = (1 << 16) + 8
    rows = np.arange(N)
    W = sp.csr_matrix((np.full(N, 0.5), ((rows * 7919) % N, rows)), shape=(N, N))
    # the identity activation keeps the check exact without a copy of the
    # kernel's tanh
    res = Reservoir(N, W=W, Win=np.ones((N, 1)), bias=np.linspace(-1, 1, N), lr=1.0,
                    activation="identity")
    u = np.array([[0.3], [-0.2], [0.1]])
    got = res.run(u)
    x = np.zeros(N)
    for t in range(3):
        # one nonzero per row: W x is exact in any summation order
        x = res.bias + u[t, 0] * res.Win[:, 0] + res.W @ x
        np.testing.assert_array_equal(got[t], x)
