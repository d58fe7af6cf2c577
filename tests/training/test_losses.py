"""Output layer and losses (Goodfellow et al. (2016), eq. 10.4-10.5), checked by finite
differences."""
import numpy as np
import pytest

import fastrnn
from fastrnn import losses
from gradcheck import numerical_grad, rel_error


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_softmax_nll_value_and_gradient(reduction, rng):
    logits = rng.standard_normal((5, 3, 4))
    targets = rng.integers(0, 4, size=(5, 3))
    loss, grad = losses.softmax_nll(logits, targets, reduction=reduction)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    direct = -np.log(np.take_along_axis(p, targets[..., None], -1)).sum()
    if reduction == "mean":
        direct /= targets.size
    assert loss == pytest.approx(direct, rel=1e-12)
    num = numerical_grad(lambda: losses.softmax_nll(logits, targets, reduction=reduction)[0], logits)
    assert rel_error(grad, num) < 1e-7


def test_softmax_nll_is_stable_for_large_logits():
    logits = np.array([[1000.0, 0.0, -1000.0]])
    loss, grad = losses.softmax_nll(logits, np.array([0]))
    assert loss == 0.0 and np.all(np.isfinite(grad))


def test_softmax_nll_bad_targets():
    with pytest.raises(ValueError, match="targets"):
        losses.softmax_nll(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="targets"):
        losses.softmax_nll(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="targets must have shape"):
        losses.softmax_nll(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_mse_value_and_gradient(rng):
    pred = rng.standard_normal((6, 2, 3))
    target = rng.standard_normal((6, 2, 3))
    loss, grad = losses.mse(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2), rel=1e-12)
    num = numerical_grad(lambda: losses.mse(pred, target)[0], pred)
    assert rel_error(grad, num) < 1e-7
    with pytest.raises(ValueError, match="target"):
        losses.mse(pred, target[:3])


def test_linear_output_layer_gradients(rng):
    lin = fastrnn.Linear(4, 3, dtype=np.float64, seed=0)
    h = rng.standard_normal((5, 2, 4))
    w = rng.standard_normal((5, 2, 3))

    def loss():
        return float(np.sum(w * lin.forward(h)))

    loss()
    lin.zero_grad()
    dh = lin.backward(w)
    for name, p in lin.params.items():
        assert rel_error(lin.grads[name], numerical_grad(loss, p)) < 1e-8, name
    assert rel_error(dh, numerical_grad(loss, h)) < 1e-8
    with pytest.raises(ValueError, match="in_features"):
        lin.forward(np.ones((2, 5)))


def test_rnn_with_softmax_output_end_to_end_gradient(rng):
    """The whole of eq. 10.4-10.5: RNN -> Linear -> softmax NLL, BPTT vs FD."""
    T, B, D, H, C = 5, 2, 3, 4, 3
    rnn = fastrnn.RNN(D, H, dtype=np.float64, seed=0)
    out = fastrnn.Linear(H, C, dtype=np.float64, seed=1)
    x = rng.standard_normal((T, B, D))
    y = rng.integers(0, C, size=(T, B))

    def loss():
        hs, _ = rnn.forward(x)
        return losses.softmax_nll(out.forward(hs), y, reduction="sum")[0]

    loss()
    rnn.zero_grad()
    out.zero_grad()
    _, dlogits = losses.softmax_nll(out.forward(rnn.forward(x)[0]), y, reduction="sum")
    rnn.backward(out.backward(dlogits))
    for name, p in rnn.params.items():
        assert rel_error(rnn.grads[name], numerical_grad(loss, p)) < 1e-6, name
