"""The training loop: truncated BPTT against full BPTT, and learning a toy task."""
import numpy as np
import pytest

import fastrnn
from fastrnn import losses
from fastrnn.training.optim import SGD
from fastrnn.training.train import Sequential, train


def _model(seed=0, D=2, H=6, O=1):
    return Sequential(fastrnn.RNN(D, H, dtype=np.float64, seed=seed),
                      fastrnn.Linear(H, O, dtype=np.float64, seed=seed + 1))


def test_sequential_gradients_match_finite_differences(rng):
    from gradcheck import numerical_grad, rel_error
    model = _model()
    x = rng.standard_normal((5, 3, 2))
    y = rng.standard_normal((5, 3, 1))

    def f():
        return losses.mse(model.forward(x)[0], y)[0]

    model.zero_grad()
    out, _ = model.forward(x)
    model.backward(losses.mse(out, y)[1])
    for name, p in model.params.items():
        assert rel_error(model.grads[name], numerical_grad(f, p)) < 1e-6, name


@pytest.mark.parametrize("k", [None, 12, 30])
def test_truncated_bptt_with_k_at_least_T_is_full_bptt(k, rng):
    x = rng.standard_normal((12, 4, 2))
    y = rng.standard_normal((12, 4, 1))
    a, b = _model(), _model()
    train(a, x, y, optimizer=SGD(a, lr=0.1), epochs=1, batch_size=4, tbptt=k, progress=False)
    # one full-BPTT step by hand
    b.zero_grad()
    out, _ = b.forward(x)
    b.backward(losses.mse(out, y)[1])
    for name, p in b.params.items():
        p -= 0.1 * b.grads[name]
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=1e-13, atol=1e-15)


def test_truncated_bptt_differs_from_full_and_carries_the_state(rng):
    x = rng.standard_normal((12, 4, 2))
    y = rng.standard_normal((12, 4, 1))
    a, b = _model(), _model()
    train(a, x, y, optimizer=SGD(a, lr=0.1), epochs=1, batch_size=4, tbptt=4, progress=False)
    train(b, x, y, optimizer=SGD(b, lr=0.1), epochs=1, batch_size=4, progress=False)
    diff = max(np.abs(a.params[n] - b.params[n]).max() for n in a.params)
    assert diff > 1e-6
    # by hand: three chunks of 4 steps, the state carried, an update after each
    c = _model()
    state = None
    for s in range(0, 12, 4):
        c.zero_grad()
        out, state = c.forward(x[s:s + 4], state)
        c.backward(losses.mse(out, y[s:s + 4])[1])
        for name, p in c.params.items():
            p -= 0.1 * c.grads[name]
    for name in a.params:
        np.testing.assert_allclose(a.params[name], c.params[name], rtol=1e-13, atol=1e-15)


def test_loss_drops_on_a_learnable_task(rng):
    # target: a running sum of the input, read at every step
    x = rng.standard_normal((20, 64, 1)) * 0.3
    y = np.cumsum(x, axis=0) * 0.5
    model = _model(D=1, H=8)
    opt = fastrnn.Adam(model, lr=0.01, clip_norm=5.0)
    hist = train(model, x, y, optimizer=opt, epochs=30, batch_size=16, seed=0, progress=False)
    assert hist["loss"][-1] < 0.2 * hist["loss"][0]
    assert len(hist["grad_norm"]) == 30 and all(np.isfinite(hist["grad_norm"]))


def test_last_step_classification_and_callbacks(rng):
    from fastrnn import tasks
    x, y = tasks.latching(128, 8, seed=1, dtype=np.float64)
    model = _model(D=1, H=8, O=2)
    stops = []

    def stop_after_two(epoch, history):
        stops.append(epoch)
        return epoch == 1

    hist = train(model, x, y, loss="nll", optimizer=fastrnn.Adam(model, lr=0.02), epochs=10,
                 batch_size=32, callbacks=[stop_after_two], progress=False)
    assert stops == [0, 1] and len(hist["loss"]) == 2


def test_bad_arguments(rng):
    model = _model()
    x = rng.standard_normal((5, 3, 2))
    with pytest.raises(ValueError, match="loss"):
        train(model, x, np.zeros((5, 3, 1)), loss="hinge", progress=False)
    with pytest.raises(ValueError, match="Y must have shape"):
        train(model, x, np.zeros((4, 3, 1)), progress=False)
    with pytest.raises(TypeError, match="integer"):
        train(model, x, np.zeros(3), loss="nll", progress=False)
    with pytest.raises(ValueError, match="tbptt"):
        train(model, x, np.zeros((5, 3, 1)), tbptt=0, progress=False)


def test_omega_in_training_equals_backward_with_omega_per_sequence(rng):
    from fastrnn.layers.leaky import LeakyRNN
    x = rng.standard_normal((10, 4, 2))
    y = rng.standard_normal((10, 4, 1))

    def model():
        return Sequential(LeakyRNN(2, 5, tau=1.0, dtype=np.float64, seed=0),
                          fastrnn.Linear(5, 1, dtype=np.float64, seed=1))

    a, b = model(), model()
    train(a, x, y, optimizer=SGD(a, lr=0.1), epochs=1, batch_size=4, omega=0.5, progress=False)
    b.zero_grad()
    out, _ = b.forward(x)
    # Omega sums over the 4 sequences; train averages it over them, as the loss
    b.recurrent.backward(b.output.backward(losses.mse(out, y)[1]), omega=0.5 / 4)
    for name, p in b.params.items():
        p -= 0.1 * b.grads[name]
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=1e-13, atol=1e-15)
    with pytest.raises(TypeError, match="LeakyRNN"):
        train(_model(), x, y, omega=0.5, progress=False)


def test_sequential_params_assignment_reaches_the_parts():
    # Assigning into a Sequential's params used to rebind an entry of a
    # throw-away dict: the model silently kept its old weights.
    model = fastrnn.Sequential(fastrnn.RNN(2, 3, seed=0), fastrnn.Linear(3, 1, seed=1))
    new = np.full((3, 3), 0.25, np.float32)
    model.params["recurrent.weight_hh_l0"] = new
    np.testing.assert_array_equal(model.recurrent.params["weight_hh_l0"], new)
    model.params.update({"output.bias": [2.0]})
    assert model.output.params["bias"][0] == 2.0
    with pytest.raises(ValueError, match="shape"):
        model.params["output.weight"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="no entry"):
        model.params["output.nonsense"] = np.zeros(1)
    with pytest.raises(TypeError, match="cannot gain or lose"):
        del model.params["output.bias"]
