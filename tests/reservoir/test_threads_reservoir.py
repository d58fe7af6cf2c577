"""Threads on one shared reservoir, ESN or readout (issue 11, item 3): the
inference entry points, called from 4 threads at once with explicit initial
states, give the same bits as the same calls made one after another.

What docs/threads.md promises for reservoir computing, and no more: calls
that pass ``x0`` (and ``y0`` for an ESN with feedback) do not depend on the
state stored on the object, so their results do not depend on the order in
which threads run.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastrnn import ESN, RLS, Reservoir, Ridge
from threads_support import N_THREADS, _bits, run_in_threads

ROUNDS = 6


def _serial_and_threaded(fn):
    serial = [fn(i) for i in range(N_THREADS)]
    threaded = run_in_threads(fn)
    for i, (s, t) in enumerate(zip(serial, threaded)):
        assert len(s) == len(t)
        for a, b in zip(s, t):
            assert _bits(a) == _bits(b), f"thread {i}"
    return serial


def _inputs(i, T=60, D=2, dtype=np.float64):
    rng = np.random.default_rng(10 + i)
    B = 1 + i % 3                     # B = 1 (GEMV, C kernel) and B > 1 (GEMM)
    X = rng.uniform(-1, 1, (T, B, D)).astype(dtype)
    x0 = (rng.uniform(-0.5, 0.5, (B, 80))).astype(dtype)
    return X, x0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["sparse", "dense", "sparse-2-threads"])
def test_shared_reservoir_run_from_threads(dtype, kind):
    if kind == "dense":
        W = np.random.default_rng(0).standard_normal((80, 80)) * 0.1
        res = Reservoir(80, W=W, lr=0.4, bias_scaling=0.2, dtype=dtype, seed=0)
    else:
        res = Reservoir(80, lr=0.4, bias_scaling=0.2, rc_connectivity=0.2, dtype=dtype, seed=0,
                        n_threads=2 if kind == "sparse-2-threads" else 1)
    res.initialize(2)

    def work(i):
        X, x0 = _inputs(i, dtype=dtype)
        return [res.run(X, x0=x0) for _ in range(ROUNDS)] + \
            [res.run(X[:, 0], x0=x0[0]), res.run([X[:20, 0], X[20:, 0]], x0=x0[0])[1]]

    _serial_and_threaded(work)


def test_first_calls_from_threads_draw_win_once():
    """Win is drawn on first use; four threads making their first call at
    once must all use the one matrix that stays on the reservoir."""
    for seed in range(5):
        res = Reservoir(80, seed=seed)
        X = [_inputs(i)[0] for i in range(N_THREADS)]
        x0 = np.zeros(80)
        threaded = run_in_threads(lambda i: res.run(X[i], x0=x0))
        for i in range(N_THREADS):
            assert _bits(threaded[i]) == _bits(res.run(X[i], x0=x0))


def _fitted_esn(feedback, dtype=np.float64, readout=None, input_to_readout=False):
    t = np.arange(400)
    u = np.sin(0.1 * t)[:, None].astype(dtype)
    y = np.stack([np.sin(0.1 * t + 0.5), np.cos(0.07 * t)], axis=1).astype(dtype) * 0.6
    res = Reservoir(80, lr=0.5, sr=0.9, rc_connectivity=0.2, bias_scaling=0.1, dtype=dtype,
                    seed=3, W=None)
    ridge = 1e-6 if dtype == np.float64 else 1e-2
    esn = ESN(res, readout or Ridge(ridge, dtype=dtype), feedback=feedback,
              input_to_readout=input_to_readout)
    return esn.fit(u[:300], y[:300], warmup=20), u, y


def _esn_case(i, dtype=np.float64):
    rng = np.random.default_rng(30 + i)
    B = 1 + i % 2
    X = rng.uniform(-1, 1, (50, B, 1)).astype(dtype)
    x0 = rng.uniform(-0.3, 0.3, (B, 80)).astype(dtype)
    y0 = rng.uniform(-0.3, 0.3, (B, 2)).astype(dtype)
    return X, x0, y0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("feedback", [False, True])
def test_shared_esn_predict_from_threads(dtype, feedback):
    esn, _, _ = _fitted_esn(feedback, dtype, input_to_readout=not feedback)

    def work(i):
        X, x0, y0 = _esn_case(i, dtype)
        outs = []
        for _ in range(ROUNDS):
            y, states = esn.run(X, x0=x0, y0=y0, return_states=True)
            outs += [y, states, esn.predict(X[:, 0], x0=x0[0], y0=y0[0])]
        return outs

    _serial_and_threaded(work)


@pytest.mark.parametrize("readout", ["ridge", "rls"])
def test_shared_esn_generate_from_threads(readout):
    ro = Ridge(1e-6) if readout == "ridge" else RLS(alpha=1e-3)
    esn, u, y = _fitted_esn(True, readout=ro)

    def work(i):
        X, x0, y0 = _esn_case(i)
        s = 300 + 7 * i
        outs = []
        for _ in range(ROUNDS):
            outs.append(esn.generate(30, inputs=u[s:s + 30], x0=x0[0], y0=y0[0]))
            # a teacher-forced warm-up first, then the free run
            outs.append(esn.generate(20, teacher=y[s:s + 25], inputs=u[s:s + 45],
                                     x0=x0[0], y0=y0[0]))
            outs.append(esn.run(u[s:s + 25], teacher=y[s:s + 25], x0=x0[0], y0=y0[0]))
        return outs

    _serial_and_threaded(work)


def test_generate_continues_from_its_own_warm_up_not_the_stored_state():
    """generate with a teacher continues the free run from the warm-up's last
    state of this call: the same as resetting and running serially."""
    esn, u, y = _fitted_esn(True)
    x0, y0 = np.zeros(80), np.zeros(2)
    esn.reset()
    expected = esn.generate(20, teacher=y[300:325], inputs=u[300:345])
    esn.reservoir.state = np.full(80, 0.7)   # what another thread may leave
    esn._y_last = np.full((1, 2), 0.7)
    got = esn.generate(20, teacher=y[300:325], inputs=u[300:345], x0=x0, y0=y0)
    assert _bits(got) == _bits(expected)


@pytest.mark.parametrize("cls", [Ridge, RLS])
@pytest.mark.parametrize("single", [False, True])
def test_shared_readout_predict_from_threads(cls, single):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 40))
    Y = rng.standard_normal(500) if single else rng.standard_normal((500, 3))
    ro = (cls(1e-3) if cls is Ridge else cls(alpha=1e-2)).fit(X, Y)

    def work(i):
        Xi = np.random.default_rng(50 + i).standard_normal((200, 1 + i, 40))
        return [ro.predict(Xi) for _ in range(ROUNDS)] + [ro.predict(Xi[:, 0])]

    _serial_and_threaded(work)


def test_sparse_w_structure_stays_shared_and_unchanged_by_threads():
    res = Reservoir(80, seed=1)
    res.initialize(2)
    before = (res.W.data.copy(), res.W.indices.copy(), res.W.indptr.copy())
    run_in_threads(lambda i: res.run(_inputs(i)[0], x0=_inputs(i)[1]))
    after = (res.W.data, res.W.indices, res.W.indptr)
    for a, b in zip(before, after):
        assert _bits(a) == _bits(b)
    assert sp.issparse(res.W)
