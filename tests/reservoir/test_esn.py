"""ESN: fit/predict/run/generate against NumPy loops with the same matrices."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastrnn
from fastrnn.reservoir.esn import ESN
from fastrnn.analysis.metrics import nrmse
from fastrnn.reservoir.readout import RLS, Ridge
from fastrnn.reservoir.reservoir import Reservoir
from reference_reservoir import esn_free_run, esn_states


def mats(res):
    W = res.W.toarray() if sp.issparse(res.W) else res.W
    return W, res.Win, res.bias, res.lr


def test_fit_without_feedback_is_ridge_on_the_states():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    Y = np.stack([np.roll(X[:, 0], 3), X[:, 1] ** 2], axis=1)
    esn = ESN(Reservoir(60, lr=0.5, seed=1), Ridge(1e-6)).fit(X, Y, warmup=20)
    W, Win, b, lr = mats(esn.reservoir)
    S = esn_states(W, Win, b, lr, X, np.zeros(60))
    ref = Ridge(1e-6).fit(S[20:], Y[20:])
    # states equal to ~1e-16, coefficients then to the conditioning of the fit
    rel = np.linalg.norm(esn.readout.coef_ - ref.coef_) / np.linalg.norm(ref.coef_)
    assert rel < 1e-8
    np.testing.assert_allclose(esn.predict(X[:0]), np.zeros((0, 2)))
    # predict continues from the state at the end of fit
    Xt = rng.uniform(-1, 1, size=(50, 2))
    St = esn_states(W, Win, b, lr, Xt, S[-1])
    np.testing.assert_allclose(esn.predict(Xt), St @ ref.coef_ + ref.intercept_, atol=1e-8)


def test_input_to_readout_and_states():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 3))
    Y = X[:, :1] * 2.0
    esn = ESN(Reservoir(30, seed=2), Ridge(1e-10), input_to_readout=True).fit(X, Y)
    assert esn.readout.coef_.shape == (33, 1)
    esn.reset()
    y, states = esn.run(X, return_states=True)
    assert states.shape == (200, 30) and y.shape == (200, 1)
    np.testing.assert_allclose(y, Y, atol=1e-6)   # the input passes straight through


def test_teacher_forcing_and_generate_match_numpy():
    rng = np.random.default_rng(3)
    T = 400
    y = np.sin(0.3 * np.arange(T + 60))[:, None] * 0.8
    res = Reservoir(50, sr=0.8, lr=0.7, fb_scaling=0.6, fb_connectivity=0.4,
                    bias_scaling=0.2, seed=4)
    # a fixed, backward-stable solver on both sides: states equal to ~1e-16
    # then give readouts equal to the conditioning of the ridge problem
    esn = ESN(res, Ridge(1e-9, solver="qr"), feedback=True)
    esn.fit(None, y[:T], warmup=50)
    W, Win, b, lr = mats(res)
    yprev = np.vstack([np.zeros((1, 1)), y[:T - 1]])
    S = esn_states(W, np.zeros((50, 0)), b, lr, np.zeros((T, 0)), np.zeros(50),
                   res.Wfb, yprev)
    np.testing.assert_allclose(res.state, S[-1], atol=1e-12)
    ref = Ridge(1e-9, solver="qr").fit(S[50:], y[50:T])
    np.testing.assert_allclose(esn.readout.coef_, ref.coef_, rtol=1e-8, atol=1e-9)
    # free run from the end of training: y_{T-1} is the last teacher value
    gen = esn.generate(60)
    xs, ys = esn_free_run(W, np.zeros((50, 0)), b, lr, res.Wfb, esn.readout.coef_,
                          esn.readout.intercept_, np.zeros((60, 0)), S[-1], y[T - 1])
    np.testing.assert_allclose(gen, ys, atol=1e-10)
    assert nrmse(y[T:T + 60], gen) < 1e-2          # and it learned the sine


def test_generate_after_teacher_and_batched():
    rng = np.random.default_rng(5)
    T = 300
    y = np.sin(0.2 * np.arange(T + 200) + 0.3)[:, None] * 0.7
    res = Reservoir(60, sr=0.9, lr=0.5, fb_connectivity=0.5, seed=6)
    u = rng.uniform(-1, 1, size=(T + 200, 1)) * 0.0 + 0.2   # a constant input
    esn = ESN(res, Ridge(1e-9), feedback=True).fit(u[:T], y[:T], warmup=30)
    starts = [300, 340, 377]
    singles = []
    for s in starts:
        esn.reset()
        singles.append(esn.generate(25, teacher=y[s:s + 50], inputs=u[:75]))
    esn.reset()
    teacher = np.stack([y[s:s + 50] for s in starts], axis=1)        # (50, 3, 1)
    inputs = np.repeat(u[:75, None, :], 3, axis=1)
    batched = esn.generate(25, teacher=teacher, inputs=inputs)
    assert batched.shape == (25, 3, 1)
    for i in range(3):
        np.testing.assert_allclose(batched[:, i], singles[i], atol=1e-12)
        assert nrmse(y[starts[i] + 50:starts[i] + 75], singles[i]) < 0.05


def test_rls_readout_in_an_esn():
    x = np.sin(0.1 * np.arange(1201))[:, None]
    esn = ESN(Reservoir(80, lr=0.3, seed=7), RLS(alpha=1e-6)).fit(x[:1000], x[1:1001],
                                                                   warmup=100)
    assert nrmse(x[1001:1201], esn.predict(x[1000:1200])) < 1e-2


def test_esn_errors():
    res = Reservoir(10, seed=0)
    with pytest.raises(TypeError, match="readout"):
        ESN(res, object())
    with pytest.raises(TypeError, match="reservoir"):
        ESN(object(), Ridge())
    esn = ESN(res, Ridge())
    with pytest.raises(ValueError, match="feedback"):
        esn.generate(3)
    with pytest.raises(fastrnn.NotFittedError, match="fit"):
        esn.predict(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="warmup"):
        esn.fit(np.zeros((4, 1)), np.zeros((4, 1)), warmup=4)
    with pytest.raises(ValueError, match="Y"):
        esn.fit(np.zeros((4, 1)), np.zeros((5, 1)))


def test_demo_runs_and_predicts():
    from fastrnn.cli.demo_esn import run_demo
    out = run_demo(units=80, train=600, test=200, verbose=False)
    assert out["max_state_difference"] < 1e-12
    assert 0 < out["nrmse"] < 0.05
    assert out["run_seconds_fastrnn"] > 0 and out["speedup"] > 0


@pytest.mark.parametrize("name", ["feedback", "input_to_readout"])
@pytest.mark.parametrize("value", ["no", 2, None, [True]])
def test_esn_flags_must_be_bools(name, value):
    # bool("no") is True: a flag given as a string silently turned feedback on.
    with pytest.raises(TypeError, match=name):
        ESN(Reservoir(10, seed=0), Ridge(), **{name: value})
