"""fastrnn.FORCE, FORCE learning (Sussillo & Abbott 2009): against a plain
NumPy loop of the same closed loop and RLS updates, bit for bit in float64,
and on Sussillo & Abbott's demonstration (a periodic pattern learned with the
output fed back, then free-run)."""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import blas

import fastrnn
from fastrnn import FORCE, Reservoir
from reference_reservoir import csr_product, kernel_activation


def numpy_force(res, U, Y, *, alpha, forgetting, update_every, fit_bias, warmup=0):
    """The FORCE loop step by step (Sussillo & Abbott 2009, eqs. 4-5; RLS as
    Haykin (2002), table 9.1), each sum in the order the C loop and SciPy's
    BLAS make it, so that the result is comparable to the bit.

    x_t = leaky(W x_{t-1} + Win u_t + b + Wfb z_{t-1});  z_t = w^T [x_t (; 1)];
    every ``update_every`` steps from ``warmup`` on: one RLS step on
    ([x_t (; 1)], y_t). Returns the outputs z (T, O), w (F, O) and P."""
    f = kernel_activation(res.activation)
    W, Win, Wfb, bias, lr = res.W, res.Win, res.Wfb, res.bias, res.lr
    N, O, D = res.units, Y.shape[1], U.shape[1]
    F = N + int(fit_bias)
    P = np.eye(F) / alpha
    w = np.zeros((F, O))
    x, z = np.zeros(N), np.zeros(O)
    outputs = np.empty((len(U), O))
    phase = 0
    for t in range(len(U)):
        pre = bias.copy()
        for j in range(D):   # the input projection, one input at a time
            pre += U[t, j] * Win[:, j]
        if sp.issparse(W):
            pre += csr_product(W, x)
        else:
            pre = blas.dgemv(1.0, W.T, x, beta=1.0, y=pre, trans=1)
        pre = blas.dgemv(1.0, Wfb.T, z, beta=1.0, y=pre, trans=1)
        x = (1 - lr) * x + lr * f(pre)
        offset = w[N].copy() if fit_bias else np.zeros(O)
        z = blas.dgemv(1.0, w[:N].T, x, beta=1.0, y=offset, trans=0)
        outputs[t] = z
        phase += 1
        if phase == update_every:
            phase = 0
            if t >= warmup:
                r = np.append(x, 1.0) if fit_bias else x
                # P is symmetric; only its upper triangle (row-major) is kept.
                p_r = blas.dsymv(1.0, P.T, r, lower=1)
                denom = forgetting + blas.ddot(r, p_r)
                error = blas.dgemv(-1.0, w.T, r, beta=1.0, y=Y[t].copy(), trans=0)
                w += (p_r / denom)[:, None] * error[None, :]
                P = blas.dsyr(-1 / denom, p_r, lower=1, a=P.T, overwrite_a=1).T
                if forgetting != 1.0:
                    P[np.triu_indices(F)] *= 1.0 / forgetting
    return outputs, w, P


def _reservoir(N=30, D=2, O=1, dense=False, seed=0):
    res = Reservoir(N, sr=1.1, lr=0.6, input_scaling=0.5, rc_connectivity=0.2,
                    bias_scaling=0.2, input_connectivity=0.5, fb_scaling=0.8,
                    fb_connectivity=0.5, seed=seed)
    res.initialize(D, O)
    if dense:
        res.W = res.W.toarray()
    return res


def _task(T, D, O, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    U = 0.5 * rng.standard_normal((T, D))
    Y = np.stack([np.sin(2 * np.pi * t / (17 + 5 * o)) for o in range(O)], axis=1)
    return U, Y


@pytest.mark.parametrize("update_every,fit_bias,forgetting,dense,D,O,warmup", [
    (1, False, 1.0, False, 2, 1, 0),
    (1, True, 1.0, False, 0, 1, 5),
    (3, False, 0.995, False, 2, 2, 0),
    (2, True, 1.0, True, 1, 1, 7),
    (4, True, 0.99, True, 0, 2, 3),
])
def test_equals_a_numpy_loop_bit_for_bit(update_every, fit_bias, forgetting, dense, D, O,
                                         warmup):
    T = 120
    res = _reservoir(D=D, O=O, dense=dense)
    U, Y = _task(T, D, O)
    ref_z, ref_w, ref_P = numpy_force(res, U, Y, alpha=0.5, forgetting=forgetting,
                                      update_every=update_every, fit_bias=fit_bias,
                                      warmup=warmup)
    model = FORCE(res, alpha=0.5, forgetting=forgetting, update_every=update_every,
                  fit_bias=fit_bias)
    model.fit(U if D else None, Y, warmup=warmup)
    assert np.array_equal(model.train_outputs_, ref_z)
    N = res.units
    assert np.array_equal(model.readout.coef_, ref_w[:N])
    assert np.array_equal(model.readout.intercept_, ref_w[N] if fit_bias else np.zeros(O))
    iu = np.triu_indices(N + int(fit_bias))
    assert np.array_equal(model.readout._P[iu], ref_P[iu])
    assert model.readout.n_samples_seen_ == T


def test_partial_fit_continues_the_stream_exactly():
    U, Y = _task(90, 2, 1)
    whole = FORCE(_reservoir(), update_every=4, fit_bias=True).fit(U, Y)
    parts = FORCE(_reservoir(), update_every=4, fit_bias=True)
    parts.fit(U[:37], Y[:37]).partial_fit(U[37:], Y[37:])
    assert np.array_equal(parts.readout.coef_, whole.readout.coef_)
    assert np.array_equal(parts.readout.intercept_, whole.readout.intercept_)
    assert np.array_equal(parts.reservoir.state, whole.reservoir.state)
    assert np.array_equal(parts.train_outputs_, whole.train_outputs_[37:])


def test_learns_a_periodic_pattern_and_free_runs_it():
    # Sussillo & Abbott's demonstration at a small size: a chaotic leaky
    # reservoir, its output fed back, learns a sum of sines while running on
    # its own output, then reproduces it with the learning switched off.
    N, period = 200, 60
    t = np.arange(5000)
    target = (np.sin(2 * np.pi * t / period) + 0.5 * np.sin(4 * np.pi * t / period))[:, None]
    res = Reservoir(N, sr=1.5, lr=0.2, rc_connectivity=0.1, fb_scaling=1.0,
                    fb_connectivity=1.0, W="normal", seed=3)
    res.reset(np.random.default_rng(0).uniform(-0.5, 0.5, N))
    model = FORCE(res, alpha=1.0)
    model.fit(None, target[:3000])
    # The output tracks the target during the last part of training ...
    late = slice(2000, 3000)
    assert np.sqrt(np.mean((model.train_outputs_[late] - target[late]) ** 2)) < 0.05
    # ... and, fed back alone, goes on producing it.
    free = model.generate(2000)
    nrmse = np.sqrt(np.mean((free - target[3000:]) ** 2)) / target.std()
    assert nrmse < 0.1, nrmse


def test_save_load_round_trip_is_exact(tmp_path):
    U, Y = _task(60, 2, 2)
    model = FORCE(_reservoir(O=2), update_every=3, fit_bias=True, forgetting=0.999)
    model.fit(U[:40], Y[:40])
    fastrnn.save(model, tmp_path / "force.npz")
    loaded = fastrnn.load(tmp_path / "force.npz")
    assert isinstance(loaded, FORCE)
    assert loaded.update_every == 3 and loaded._phase == model._phase
    assert np.array_equal(loaded.generate(10, inputs=U[40:50]),
                          model.generate(10, inputs=U[40:50]))
    # Training resumes where it stopped, P included.
    model.partial_fit(U[50:], Y[50:])
    loaded.partial_fit(U[50:], Y[50:])
    assert np.array_equal(loaded.readout.coef_, model.readout.coef_)


def test_checks():
    with pytest.raises(ValueError, match="update_every"):
        FORCE(_reservoir(), update_every=0)
    with pytest.raises(ValueError, match="alpha"):
        FORCE(_reservoir(), alpha=0.0)
    model = FORCE(_reservoir())
    U, Y = _task(20, 2, 1)
    with pytest.raises(ValueError, match="one series at a time"):
        model.fit(U[:, None, :], Y[:, None, :])
    with pytest.raises(ValueError, match="time steps"):
        model.fit(U, Y[:10])
    with pytest.raises(TypeError, match="one stream"):
        model.fit([U, U], [Y, Y])
    model.fit(U, Y)
    with pytest.raises(ValueError, match="outputs"):
        model.partial_fit(U, np.hstack([Y, Y]))


def test_float32_follows_float64():
    U, Y = _task(100, 2, 1)
    r64 = _reservoir()
    r32 = Reservoir(r64.units, W=r64.W, Win=r64.Win, Wfb=r64.Wfb, bias=r64.bias, lr=r64.lr,
                    dtype=np.float32)
    m64 = FORCE(r64, fit_bias=True).fit(U[:80], Y[:80])
    m32 = FORCE(r32, fit_bias=True).fit(U[:80], Y[:80])
    assert m32.train_outputs_.dtype == np.float32
    np.testing.assert_allclose(m32.train_outputs_, m64.train_outputs_, atol=1e-3)
    np.testing.assert_allclose(m32.generate(20, inputs=U[80:]), m64.generate(20, inputs=U[80:]),
                               atol=1e-3)
