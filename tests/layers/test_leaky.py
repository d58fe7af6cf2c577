"""Leaky units (eq. 10.7) and the information-flow regulariser (eq. 10.16)."""
import numpy as np
import pytest

import fastrnn
from fastrnn.layers.leaky import LeakyRNN
from gradcheck import assert_gradients_match, rel_error


def _numpy_leaky(x, p, alpha, h0):
    hs = [h0]
    ss = []
    for t in range(x.shape[0]):
        s = np.tanh(x[t] @ p["weight_ih_l0"].T + p["bias_ih_l0"] + p["bias_hh_l0"]
                    + hs[-1] @ p["weight_hh_l0"].T)
        ss.append(s)
        hs.append(hs[-1] + alpha * (s - hs[-1]))
    return np.stack(hs), np.stack(ss)


def _omega_frozen(x, p, alpha, h0, g):
    """Omega of eq. 10.16 with the back-propagated g_t held fixed."""
    hs, ss = _numpy_leaky(x, p, alpha, h0)
    total = 0.0
    for t in range(x.shape[0]):
        e = g[t] * alpha * (1 - ss[t] ** 2)
        u = g[t] * (1 - alpha) + e @ p["weight_hh_l0"]
        total += np.sum((np.linalg.norm(u, axis=1) / np.linalg.norm(g[t], axis=1) - 1) ** 2)
    return total


def test_tau_one_is_the_tanh_rnn(rng):
    leaky = LeakyRNN(3, 5, tau=1.0, dtype=np.float64, seed=0)
    rnn = fastrnn.RNN(3, 5, dtype=np.float64, seed=1)
    rnn.load_state_dict(leaky.params)
    x = rng.standard_normal((10, 2, 3))
    dy = rng.standard_normal((10, 2, 5))
    np.testing.assert_allclose(leaky.forward(x)[0], rnn.forward(x)[0], rtol=1e-13)
    for a, b in zip(leaky.backward(dy), rnn.backward(dy)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for k in rnn.grads:
        np.testing.assert_allclose(leaky.grads[k], rnn.grads[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy_reference_with_per_unit_tau(dtype, rng):
    leaky = LeakyRNN(4, 6, tau=(1.0, 50.0), dtype=dtype, seed=2)
    assert np.all(leaky.tau >= 1.0) and leaky.tau.max() > 5
    x = rng.standard_normal((30, 3, 4)).astype(dtype)
    h0 = rng.standard_normal((1, 3, 6)).astype(dtype)
    y, _ = leaky.forward(x, h0)
    hs, _ = _numpy_leaky(x, leaky.params, leaky.alpha, h0[0])
    assert rel_error(y, hs[1:]) < (2e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("learn_tau", [False, True])
def test_gradients_match_finite_differences(learn_tau, rng):
    leaky = LeakyRNN(2, 5, tau=(1.5, 8.0), learn_tau=learn_tau, dtype=np.float64, seed=3)
    x = rng.standard_normal((8, 2, 2))
    h0 = rng.standard_normal((1, 2, 5)) * 0.5
    wy = rng.standard_normal((8, 2, 5))
    wh = rng.standard_normal((1, 2, 5))

    def loss():
        y, h_T = leaky.forward(x, h0)
        return float(np.sum(wy * y) + np.sum(wh * h_T))

    loss()
    leaky.zero_grad()
    dx, dh0 = leaky.backward(wy, wh)
    assert ("leak_logit_l0" in leaky.params) == learn_tau
    assert_gradients_match(loss, leaky, (dx, x), (dh0, h0))


def test_record_is_the_gradient_of_the_loss_wrt_each_state(rng):
    leaky = LeakyRNN(2, 4, tau=(1.0, 4.0), dtype=np.float64, seed=4)
    x = rng.standard_normal((9, 2, 2))
    dy = rng.standard_normal((9, 2, 4))
    dh_T = rng.standard_normal((1, 2, 4))
    y, _ = leaky.forward(x)
    _, _, rec = leaky.backward(dy, dh_T, record=True)
    for t in (0, 4, 8):
        # dL/dh_t = dy_t + the gradient of the rest of the sequence w.r.t. its initial state
        sub = LeakyRNN(2, 4, tau=(1.0, 4.0), dtype=np.float64, seed=4)
        sub.forward(x[t + 1:], y[t][None])
        _, dh_sub = sub.backward(dy[t + 1:], dh_T)
        expect = dy[t] + (dh_sub[0] if t < 8 else dh_T[0])
        np.testing.assert_allclose(rec[t], expect, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("learn_tau", [False, True])
def test_omega_value_and_gradient_of_its_approximation(learn_tau, rng):
    lam = 0.7
    leaky = LeakyRNN(2, 5, tau=(1.0, 6.0), learn_tau=learn_tau, dtype=np.float64, seed=5)
    x = rng.standard_normal((7, 3, 2))
    h0 = rng.standard_normal((1, 3, 5)) * 0.3
    wy = rng.standard_normal((7, 3, 5))

    leaky.forward(x, h0)
    _, _, g = leaky.backward(wy, record=True)   # the g_t of the current parameters
    omega_ref = _omega_frozen(x, leaky.params, leaky.alpha, h0[0], g)

    def objective():
        y, _ = leaky.forward(x, h0)
        return float(np.sum(wy * y)) + lam * _omega_frozen(x, leaky.params, leaky.alpha, h0[0], g)

    leaky.forward(x, h0)
    leaky.zero_grad()
    dx, dh0 = leaky.backward(wy, omega=lam)
    assert leaky.last_omega == pytest.approx(lam * omega_ref, rel=1e-12)
    assert_gradients_match(objective, leaky, (dx, x), (dh0, h0))


def test_bad_arguments(rng):
    with pytest.raises(ValueError, match="tau"):
        LeakyRNN(2, 3, tau=0.5)
    with pytest.raises(ValueError, match="tau"):
        LeakyRNN(2, 3, tau=np.ones(4))
    layer = LeakyRNN(2, 3, dtype=np.float64)
    y, _ = layer.forward(rng.standard_normal((4, 1, 2)))
    with pytest.raises(ValueError, match="omega"):
        layer.backward(np.ones_like(y), omega=-1.0)
    with pytest.raises(ValueError, match="cannot be combined"):
        layer.backward(np.ones_like(y), omega=1.0, clip_hidden=1.0)


def _train_adding(leaky, steps=40):
    """A few Adam steps on the adding problem (the answer is read at the last
    step from two inputs far back): long memory pays."""
    from fastrnn import tasks
    x, y = tasks.adding_problem(64, 40, seed=0)
    head = fastrnn.Linear(leaky.hidden_size, 1, seed=1)
    opt = fastrnn.Adam([leaky, head], lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        hs, _ = leaky.forward(x)
        out = head.forward(hs[-1])
        dy = np.zeros_like(hs)
        dy[-1] = head.backward(2 * (out - y) / len(y))
        leaky.backward(dy)
        opt.step()


def test_learned_time_constants_move_with_the_default_initialisation():
    """learn_tau with no tau given used to start every unit at tau = 1
    (leak_logit 30): sigmoid'(30) rounds to 0 and the time constants never
    changed. They now start spread where the gradient passes."""
    leaky = LeakyRNN(2, 16, learn_tau=True, seed=0)
    tau0 = leaky.tau.copy()
    assert tau0.min() >= 2.0 - 1e-4 and tau0.max() <= 20.0 + 1e-3 and tau0.std() > 1.0
    _train_adding(leaky)
    change = np.abs(np.log(leaky.tau) - np.log(tau0))
    assert change.max() > 0.05 and np.mean(change > 1e-3) > 0.5


def test_learned_time_constants_started_at_one_still_move():
    """An explicit tau = 1 is raised to 1 + e^-3 when learned, where the
    sigmoid passes 4.5 % of the gradient instead of none."""
    leaky = LeakyRNN(2, 16, tau=1.0, learn_tau=True, seed=0)
    assert leaky.params["leak_logit_l0"].max() <= 3.0
    tau0 = leaky.tau.copy()
    np.testing.assert_allclose(tau0, 1 + np.exp(-3.0), rtol=1e-6)
    _train_adding(leaky)
    assert np.abs(np.log(leaky.tau) - np.log(tau0)).max() > 1e-3


def test_fixed_default_tau_is_still_the_tanh_rnn():
    leaky = LeakyRNN(3, 5, seed=0)
    np.testing.assert_array_equal(leaky.tau, np.ones(5))
    assert "leak_logit_l0" not in leaky.params


def test_leak_logit_keeps_its_meaning_for_saved_models(tmp_path):
    """fastrnn.save stores leak_logit_l0 by name; its meaning (alpha =
    sigmoid(logit), tau = 1 + exp(-logit)) is unchanged, so a file written
    with any logits loads to the same time constants."""
    leaky = LeakyRNN(3, 4, learn_tau=True, seed=0)
    leaky.params["leak_logit_l0"] = [30.0, 3.0, 0.0, -5.0]
    fastrnn.save(leaky, tmp_path / "m.npz")
    back = fastrnn.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.params["leak_logit_l0"], leaky.params["leak_logit_l0"])
    np.testing.assert_allclose(back.tau, 1 + np.exp(-np.array([30.0, 3.0, 0.0, -5.0])),
                               rtol=1e-6)


def test_omega_and_record_over_a_ragged_batch_are_those_of_each_sequence(rng):
    """The regulariser sums over the valid steps of each sequence, and the
    record holds dL/dh_t where each sequence runs (zeros past its end)."""
    layer = LeakyRNN(3, 5, tau=(1.5, 4.0), learn_tau=True, dtype=np.float64, seed=0)
    lengths = np.array([6, 3, 0, 5])
    x = rng.standard_normal((6, 4, 3))
    h0 = 0.5 * rng.standard_normal((1, 4, 5))
    dy = rng.standard_normal((6, 4, 5))
    layer.forward(x, h0, lengths=lengths)
    dx, dh0, rec = layer.backward(dy, omega=0.3, record=True)
    omega, grads = layer.last_omega, layer.grads.copy()
    total_omega, total = 0.0, {k: np.zeros_like(v) for k, v in grads.items()}
    for b, n in enumerate(lengths):
        layer.zero_grad()
        layer.forward(x[:n, b:b + 1], h0[:, b:b + 1])
        dx_b, dh_b, rec_b = layer.backward(dy[:n, b:b + 1], omega=0.3, record=True)
        total_omega += layer.last_omega
        np.testing.assert_allclose(dx[:n, b:b + 1], dx_b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dh0[:, b:b + 1], dh_b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(rec[:n, b:b + 1], rec_b, rtol=1e-12, atol=1e-14)
        assert not rec[n:, b].any()
        for k in total:
            total[k] += layer.grads[k]
    assert omega == pytest.approx(total_omega, rel=1e-12)
    for k in total:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-11, atol=1e-13, err_msg=k)


def test_former_keyword_names_still_work_with_a_warning(rng):
    layer = LeakyRNN(3, 5, dtype=np.float64, seed=0)
    x, h0 = rng.standard_normal((4, 2, 3)), rng.standard_normal((1, 2, 5))
    with pytest.warns(DeprecationWarning, match="'h0' is deprecated"):
        y, h_n = layer.forward(x, h0=h0)
    with pytest.warns(DeprecationWarning, match="'dh_T' is deprecated"):
        _, dh0, rec = layer.backward(np.ones_like(y), dh_T=np.ones_like(h_n), record=True)
    assert dh0.shape == h0.shape and rec.shape == y.shape
