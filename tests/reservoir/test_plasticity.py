"""fastrnn.IPReservoir, intrinsic plasticity (Schrauwen et al. 2008 for tanh
units; Triesch 2005 for sigmoid units): against a plain NumPy loop of the
same rule bit for bit (float64), and against ReservoirPy's IPReservoir
through a stored fixture (tests/fixtures/reservoirpy_ip, made by the script
beside it)."""
import pathlib

import numpy as np
import pytest
import scipy.sparse as sp

import fastrnn
from fastrnn import ESN, IPReservoir, Ridge
from reference_reservoir import kernel_activation

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "reservoirpy_ip" / \
    "reservoirpy_ip.npz"


def sequential_product(M, v):
    """M v with each row summed in order from 0, as SciPy's CSR product does."""
    M = sp.csr_matrix(M)
    out = np.zeros(M.shape[0])
    for i in range(M.shape[0]):
        s = 0.0
        for k in range(M.indptr[i], M.indptr[i + 1]):
            s += M.data[k] * v[M.indices[k]]
        out[i] = s
    return out


def numpy_ip(W, Win, bias, lr, U, a, b, r, x, *, activation, rule=None):
    """ReservoirPy's IPReservoir step and update, one step at a time:
    r = (1 - lr) r + lr (W x + Win u + bias); x = f(a r + b); then, with
    ``rule`` = (mu, sigma, eta), the gradient step of Schrauwen et al. (2008),
    eqs. 13-14 (tanh) or Triesch (2005) (sigmoid). Returns the states."""
    f = kernel_activation(activation)
    states = np.empty((len(U), len(x)))
    for t, u in enumerate(U):
        r = (1 - lr) * r + lr * ((sequential_product(W, x) + sequential_product(Win, u)) + bias)
        x = f(a * r + b)
        states[t] = x
        if rule is not None:
            mu, sigma, eta = rule
            if activation == "tanh":
                s2 = sigma ** 2
                db = -(-(mu / s2) + (x / s2) * (2 * s2 + 1 - x ** 2 + mu * x))
            else:
                db = 1 - (2 + 1 / mu) * x + x ** 2 / mu
            da = 1 / a + db * r
            a = a + eta * da
            b = b + eta * db
    return states, a, b, r, x


def _matrices(N, D, seed=0):
    rng = np.random.default_rng(seed)
    W = sp.random(N, N, density=0.3, format="csr", random_state=seed,
                  data_rvs=lambda k: rng.standard_normal(k))
    W = W * (0.9 / np.max(np.abs(np.linalg.eigvals(W.toarray()))))
    Win = rng.choice([-1.0, 0.0, 1.0], (N, D))
    return sp.csr_matrix(W), Win, rng.uniform(-0.2, 0.2, N)


@pytest.mark.parametrize("activation,lr,dense,D", [
    ("tanh", 1.0, False, 2), ("tanh", 0.7, False, 1), ("tanh", 0.5, True, 3),
    ("sigmoid", 1.0, False, 2), ("sigmoid", 0.8, True, 1),
])
def test_equals_a_numpy_loop_bit_for_bit(activation, lr, dense, D):
    N = 15
    W, Win, bias = _matrices(N, D)
    rng = np.random.default_rng(5)
    U, U_run = rng.uniform(-1, 1, (80, D)), rng.uniform(-1, 1, (30, D))
    mu = 0.2 if activation == "sigmoid" else 0.0
    res = IPReservoir(N, W=W.toarray() if dense else W, Win=Win, bias=bias, lr=lr, mu=mu,
                      sigma=0.4, learning_rate=1e-2, epochs=2, activation=activation)
    res.fit(U, warmup=4)
    a, b = np.ones(N), np.zeros(N)
    r, x = np.zeros(N), np.zeros(N)
    for _ in range(2):
        _, a, b, r, x = numpy_ip(W, Win, bias, lr, U[4:], a, b, r, x, activation=activation,
                                 rule=(mu, 0.4, 1e-2))
    assert np.array_equal(res.gain, a)
    assert np.array_equal(res.offset, b)
    assert np.array_equal(res.state, x)
    assert np.array_equal(res.internal_state, r)
    states, *_ = numpy_ip(W, Win, bias, lr, U_run, a, b, r, x, activation=activation)
    assert np.array_equal(res.run(U_run), states)


@pytest.mark.parametrize("case", ["tanh", "tanh_leaky", "sigmoid"])
def test_matches_reservoirpy(case):
    # ReservoirPy computes tanh and the sigmoid with NumPy/SciPy, fastrnn
    # with its own vectorised functions (a few ulp apart), and both sum every
    # product in the same order (SciPy's CSR product): the gains, biases and
    # states agree to a few ulp of the values, accumulated over the
    # adaptation steps, hence a relative tolerance of 1e-12.
    f = np.load(FIXTURE)
    g = lambda k: f[f"{case}/{k}"]
    N, D, lr, mu, sigma, eta, epochs, warmup = g("params")
    N, D, epochs, warmup = int(N), int(D), int(epochs), int(warmup)
    W = sp.csr_matrix((g("W_data"), g("W_indices"), g("W_indptr")), shape=(N, N))
    res = IPReservoir(N, W=W, Win=g("Win"), bias=g("bias"), lr=lr, mu=mu, sigma=sigma,
                      learning_rate=eta, epochs=epochs, activation=str(g("activation")))
    res.fit(g("U"), warmup=warmup)
    np.testing.assert_allclose(res.gain, g("a"), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.offset, g("b"), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.run(g("U_run")), g("states"), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.internal_state, g("internal"), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.state, g("out"), rtol=1e-12, atol=1e-14)


def test_adaptation_moves_the_output_distribution_towards_the_target():
    # Schrauwen et al. (2008): each unit's output distribution approaches
    # N(mu, sigma^2); here from a spread of about 0.5 down to sigma = 0.1.
    rng = np.random.default_rng(0)
    U = rng.uniform(-1, 1, (2000, 1))
    res = IPReservoir(100, sr=0.9, input_connectivity=1.0, mu=0.0, sigma=0.1,
                      learning_rate=5e-3, epochs=3, seed=1)
    before = np.median(res.run(U).std(axis=0))
    res.reset()
    res.fit(U)
    res.reset()
    after = np.median(res.run(U).std(axis=0))
    assert before > 0.4
    assert abs(after - 0.1) < 0.02


def test_runs_like_a_reservoir_before_adaptation():
    # With a = 1, b = 0 and lr = 1 the unit is fastrnn.Reservoir's.
    W, Win, bias = _matrices(20, 2)
    U = np.random.default_rng(1).uniform(-1, 1, (50, 2))
    ip = IPReservoir(20, W=W, Win=Win, bias=bias)
    plain = fastrnn.Reservoir(20, W=W, Win=Win, bias=bias)
    np.testing.assert_allclose(ip.run(U), plain.run(U), rtol=0, atol=1e-14)


def test_batches_lists_and_an_esn_use_the_adapted_units():
    W, Win, bias = _matrices(12, 1)
    rng = np.random.default_rng(2)
    U = rng.uniform(-1, 1, (60, 3, 1))
    res = IPReservoir(12, W=W, Win=Win, bias=bias, learning_rate=1e-2).fit([U[:, 0], U[:, 1]])
    batch = res.reset().run(U)
    for i in range(3):
        assert np.array_equal(res.reset().run(U[:, i]), batch[:, i])
    listed = res.reset().run([U[:, 0], U[:, 2]])
    assert np.array_equal(listed[1], batch[:, 2])
    esn = ESN(res.reset(), Ridge(1e-6)).fit(U[:, 0], U[:, 0] ** 2)
    res.reset()
    states = res.run(U[:, 0])
    np.testing.assert_allclose(ESN(res.reset(), esn.readout).run(U[:, 0]),
                               esn.readout.predict(states), rtol=1e-12, atol=1e-14)


def test_save_load_round_trip_is_exact(tmp_path):
    W, Win, bias = _matrices(10, 2)
    U = np.random.default_rng(3).uniform(-1, 1, (40, 2))
    res = IPReservoir(10, W=W, Win=Win, bias=bias, lr=0.5, mu=0.1, sigma=0.3,
                      learning_rate=2e-2, epochs=2).fit(U)
    fastrnn.save(res, tmp_path / "ip.npz")
    loaded = fastrnn.load(tmp_path / "ip.npz")
    assert isinstance(loaded, IPReservoir)
    assert (loaded.mu, loaded.sigma, loaded.learning_rate, loaded.epochs) == (0.1, 0.3, 2e-2, 2)
    assert np.array_equal(loaded.gain, res.gain) and np.array_equal(loaded.offset, res.offset)
    assert np.array_equal(loaded.run(U), res.run(U))


def test_checks():
    with pytest.raises(ValueError, match="activation"):
        IPReservoir(5, activation="relu")
    with pytest.raises(ValueError, match="mu"):
        IPReservoir(5, activation="sigmoid", mu=0.0)
    with pytest.raises(ValueError, match="sigma"):
        IPReservoir(5, sigma=0.0)
    with pytest.raises(ValueError, match="learning_rate"):
        IPReservoir(5, learning_rate=-1.0)
    res = IPReservoir(20, seed=0)
    with pytest.raises(ValueError, match="feedback"):
        res.run(np.zeros((3, 1)), feedback=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="warmup"):
        res.fit(np.zeros((3, 1)), warmup=3)
    res.noise = 0.1
    with pytest.raises(ValueError, match="noise"):
        res.run(np.zeros((3, 1)))


def test_float32_follows_float64():
    W, Win, bias = _matrices(12, 2)
    U = np.random.default_rng(4).uniform(-1, 1, (60, 2))
    kw = dict(W=W, Win=Win, bias=bias, lr=0.8, sigma=0.3, learning_rate=1e-2, epochs=2)
    r64 = IPReservoir(12, **kw).fit(U)
    r32 = IPReservoir(12, dtype=np.float32, **kw).fit(U)
    np.testing.assert_allclose(r32.gain, r64.gain, rtol=1e-5)
    s32 = r32.run(U)
    assert r32.gain.dtype == np.float32 and s32.dtype == np.float32
    np.testing.assert_allclose(s32, r64.run(U), atol=1e-5)
