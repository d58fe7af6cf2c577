"""Gradient-flow diagnostics against finite-difference Jacobians."""
import numpy as np
import pytest

import fastrnn
from fastrnn import diagnostics, losses
from fastrnn.training.train import Sequential
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


def test_suffix_route_equals_the_recorded_route_on_a_tanh_rnn(rng):
    T, D, H = 15, 2, 5
    rnn = fastrnn.RNN(D, H, dtype=np.float64, seed=0)
    rnn.params["weight_hh_l0"] *= 2.0
    x, y = rng.standard_normal((T, 3, D)), rng.standard_normal((T, 3, H))
    recorded = diagnostics.gradient_flow(rnn, x, y)
    hs, _ = rnn.forward(x)
    _, dy = losses.mse(hs, y, reduction="sum")
    last = np.zeros_like(dy)
    last[-1] = dy[-1]
    grad, step, final = diagnostics._suffix_flow(rnn, x, dy, last)
    np.testing.assert_allclose(grad, recorded.grad_norm, rtol=1e-12)
    np.testing.assert_allclose(step, recorded.step_product_norm, rtol=1e-12)
    np.testing.assert_allclose(final, recorded.final_loss_grad_norm, rtol=1e-12)


def test_lyapunov_from_vector_jacobian_products_agrees_with_benettin(rng):
    rnn = fastrnn.RNN(2, 8, dtype=np.float64, seed=0)
    rnn.params["weight_hh_l0"] *= 5.0
    x = 0.5 * rng.standard_normal((1500, 1, 2))
    forward = diagnostics._lyapunov(diagnostics._as_leaky(rnn), x, None, 0)
    backward = diagnostics._lyapunov_generic(rnn, x, None, 0)
    assert backward == pytest.approx(forward, abs=5e-3)


@pytest.mark.parametrize("make", [
    lambda: fastrnn.LSTM(2, 4, num_layers=2, dtype=np.float64, seed=0),
    lambda: fastrnn.GRU(2, 4, dtype=np.float64, seed=1),
    lambda: fastrnn.RNN(2, 4, nonlinearity="relu", num_layers=2, dtype=np.float64, seed=2),
], ids=["lstm-2-layers", "gru", "relu-rnn-2-layers"])
def test_gated_and_stacked_layers_match_finite_differences(make, rng):
    T, B = 9, 2
    layer = make()
    x, y = rng.standard_normal((T, B, 2)), rng.standard_normal((T, B, 4))
    flow = diagnostics.gradient_flow(layer, x, y)
    states = [layer.forward(x[:t])[1] for t in range(T + 1)]   # s_t, t = 0..T

    def as_vector(state):
        parts = state if isinstance(state, tuple) else (state,)
        return np.concatenate([p.ravel() for p in parts])

    def as_state(v, like):
        if not isinstance(like, tuple):
            return v.reshape(like.shape)
        h = v[:like[0].size].reshape(like[0].shape)
        return h, v[like[0].size:].reshape(like[1].shape)

    def grad_wrt_state(j, first_loss_step):
        """d/ds_j (s_j = states[j], the state after j steps) of the loss summed
        over the steps k >= first_loss_step >= j - 1."""
        v = as_vector(states[j]).copy()

        def tail():
            state = as_state(v, states[j])
            top_h = (state[0] if isinstance(state, tuple) else state)[-1:]
            out, _ = layer.forward(x[j:], state)
            outs = np.concatenate([top_h, out])   # the outputs of steps j-1 .. T-1
            k = first_loss_step - (j - 1)
            return losses.mse(outs[k:], y[first_loss_step:], reduction="sum")[0]
        return numerical_grad(tail, v)

    for t in (1, 4, 8):
        np.testing.assert_allclose(flow.grad_norm[t], np.linalg.norm(grad_wrt_state(t + 1, t)),
                                   rtol=1e-6)
        np.testing.assert_allclose(flow.step_product_norm[t],
                                   np.linalg.norm(grad_wrt_state(t, t)), rtol=1e-6)
        np.testing.assert_allclose(flow.final_loss_grad_norm[t],
                                   np.linalg.norm(grad_wrt_state(t + 1, T - 1)),
                                   rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("layer", [
    fastrnn.DelayRNN(1, 3, delays=(1, 2)),
    fastrnn.ClockworkRNN(1, 4, periods=(1, 2)),
    fastrnn.RNN(1, 3, bidirectional=True),
    fastrnn.LSTM(1, 3, bidirectional=True),
], ids=["delays", "clockwork", "bidirectional-rnn", "bidirectional-lstm"])
def test_unsupported_layer_is_refused(layer):
    H = layer.hidden_size * getattr(layer, "num_directions", 1)
    with pytest.raises(TypeError, match="gradient_flow supports"):
        diagnostics.gradient_flow(layer, np.zeros((3, 1, 1)), np.zeros((3, 1, H)))


def test_plot_overlays_several_flows_and_refuses_other_things(tmp_path, rng):
    pytest.importorskip("matplotlib")
    x, y = rng.standard_normal((15, 2, 1)), rng.standard_normal((15, 2, 4))
    flows = {"rnn": diagnostics.gradient_flow(fastrnn.RNN(1, 4, dtype=np.float64, seed=0), x, y),
             "lstm": diagnostics.gradient_flow(fastrnn.LSTM(1, 4, dtype=np.float64, seed=0), x, y)}
    fig = diagnostics.plot_gradient_flow(flows, tmp_path / "both.png")
    lag_axis = fig.axes[1]
    assert [line.get_label().split(" ")[0] for line in lag_axis.get_lines()] == ["rnn", "lstm"]
    np.testing.assert_allclose(lag_axis.get_lines()[1].get_ydata(),
                               flows["lstm"].final_loss_grad_norm[::-1])
    with pytest.raises(TypeError, match="GradientFlow"):
        diagnostics.plot_gradient_flow({"a": 1.0})
    with pytest.raises(TypeError, match="GradientFlow"):
        diagnostics.plot_gradient_flow({})
