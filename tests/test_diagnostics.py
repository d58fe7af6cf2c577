"""Gradient-flow diagnostics against finite-difference Jacobians."""
import numpy as np
import pytest

import fastrnn
from fastrnn import diagnostics, losses
from fastrnn.train import Sequential
from gradcheck import numerical_grad


def _one_step(rnn, x_t, h):
    return rnn.forward(x_t[None], h[None])[0][0]


def _fd_jacobian(rnn, x_t, h_prev, eps=1e-6):
    """d h_t / d h_{t-1} (H x H) of one sequence by central differences."""
    H = h_prev.shape[-1]
    J = np.zeros((H, H))
    for j in range(H):
        d = np.zeros_like(h_prev)
        d[0, j] = eps
        J[:, j] = (_one_step(rnn, x_t, h_prev + d) - _one_step(rnn, x_t, h_prev - d))[0] / (2 * eps)
    return J


def test_step_products_and_final_loss_gradients_match_finite_differences(rng):
    T, D, H = 12, 2, 5
    rnn = fastrnn.RNN(D, H, dtype=np.float64, seed=0)
    rnn.params["weight_hh_l0"] *= 2.0
    x = rng.standard_normal((T, 1, D))
    y = rng.standard_normal((T, 1, H))
    flow = diagnostics.gradient_flow(rnn, x, y)

    hs, _ = rnn.forward(x)
    states = np.concatenate([np.zeros((1, 1, H)), hs])
    # the loss gradient at each step, from the tail of the sequence
    def grad_at(t, last_only=False):
        def tail():
            out, _ = rnn.forward(x[t + 1:], h_t[None])
            full = np.concatenate([h_t[None], out]) if t + 1 < T else h_t[None]
            if last_only:
                return losses.mse(full[-1:], y[-1:], reduction="sum")[0]
            return losses.mse(full, y[t:], reduction="sum")[0]
        h_t = states[t + 1].copy()
        return numerical_grad(tail, h_t)

    for t in (1, 5, 11):
        g = grad_at(t)
        np.testing.assert_allclose(flow.grad_norm[t], np.linalg.norm(g), rtol=1e-6)
        J = _fd_jacobian(rnn, x[t], states[t])
        np.testing.assert_allclose(flow.step_product_norm[t], np.linalg.norm(g @ J), rtol=1e-6)
        g_last = grad_at(t, last_only=True)
        np.testing.assert_allclose(flow.final_loss_grad_norm[t], np.linalg.norm(g_last),
                                   rtol=1e-6, atol=1e-12)
    assert flow.spectral_radius == pytest.approx(
        np.max(np.abs(np.linalg.eigvals(rnn.params["weight_hh_l0"]))))


def test_lyapunov_exponent_of_a_linear_regime_is_log_spectral_radius(rng):
    H = 6
    rnn = fastrnn.RNN(1, H, bias=False, dtype=np.float64, seed=1)
    a = rng.standard_normal((H, H))
    w = (a + a.T) / 2
    rnn.params["weight_hh_l0"][...] = 0.8 * w / np.max(np.abs(np.linalg.eigvalsh(w)))
    x = np.zeros((400, 1, 1))   # h stays at 0, where the Jacobian is W itself
    flow = diagnostics.gradient_flow(rnn, x, np.zeros((400, 1, H)))
    assert flow.lyapunov_exponent == pytest.approx(np.log(0.8), abs=2e-2)


def test_vanishing_with_lag_and_leaky_units_slow_it(rng):
    T, D, H = 60, 1, 8
    x = rng.standard_normal((T, 4, D))
    y = rng.standard_normal((T, 4, 1))
    decay = {}
    for name, layer in [("rnn", fastrnn.RNN(D, H, dtype=np.float64, seed=2)),
                        ("leaky", fastrnn.LeakyRNN(D, H, tau=20.0, dtype=np.float64, seed=2))]:
        model = Sequential(layer, fastrnn.Linear(H, 1, dtype=np.float64, seed=3))
        before = {k: v.copy() for k, v in model.params.items()}
        flow = diagnostics.gradient_flow(model, x, y)
        for k in before:   # the model is left as it was
            np.testing.assert_array_equal(before[k], model.params[k])
        g = flow.final_loss_grad_norm
        decay[name] = g[0] / g[-1]
    assert decay["rnn"] < 1e-6      # the gradient has vanished over 60 steps
    assert decay["leaky"] > 1e3 * decay["rnn"]


def test_plot_writes_a_png(tmp_path, rng):
    pytest.importorskip("matplotlib")
    rnn = fastrnn.RNN(1, 4, dtype=np.float64, seed=0)
    flow = diagnostics.gradient_flow(rnn, rng.standard_normal((20, 2, 1)),
                                     rng.standard_normal((20, 2, 4)))
    path = tmp_path / "flow.png"
    diagnostics.plot_gradient_flow(flow, path)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unsupported_layer_is_refused():
    with pytest.raises(TypeError, match="gradient_flow supports"):
        diagnostics.gradient_flow(fastrnn.RNN(1, 3, nonlinearity="relu"),
                                  np.zeros((3, 1, 1)), np.zeros((3, 1, 3)))
