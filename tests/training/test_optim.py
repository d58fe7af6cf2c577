"""Optimisers: one step equal to a hand-computed one, several equal to PyTorch's."""
import numpy as np
import pytest

import fastrnn
from fastrnn.training.optim import SGD, Adam


def _pair(rng, dtype=np.float64, shape=(4, 3)):
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


def test_plain_sgd_step_by_hand(rng):
    p, g = _pair(rng)
    p0 = p.copy()
    SGD([(p, g)], lr=0.1, weight_decay=0.01).step()
    np.testing.assert_allclose(p, p0 - 0.1 * (g + 0.01 * p0), rtol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_two_steps_by_hand(nesterov, rng):
    p, g = _pair(rng)
    p0 = p.copy()
    opt = SGD([(p, g)], lr=0.1, momentum=0.9, nesterov=nesterov)
    opt.step()
    buf = g.copy()
    expect = p0 - 0.1 * ((g + 0.9 * buf) if nesterov else buf)
    np.testing.assert_allclose(p, expect, rtol=1e-14)
    g2 = rng.standard_normal(g.shape)
    g[...] = g2
    opt.step()
    buf = 0.9 * buf + g2
    expect = expect - 0.1 * ((g2 + 0.9 * buf) if nesterov else buf)
    np.testing.assert_allclose(p, expect, rtol=1e-14)


def test_adam_first_steps_by_hand(rng):
    p, g = _pair(rng)
    p0 = p.copy()
    opt = Adam([(p, g)], lr=0.01)
    opt.step()
    # after one step m_hat = g and v_hat = g^2: the step is lr * sign(g) (up to eps)
    np.testing.assert_allclose(p, p0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_agrees_with_pytorch_over_steps(dtype, rng):
    torch = pytest.importorskip("torch")
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for make_ours, make_theirs in [
        (lambda pr: SGD(pr, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
         lambda tp: torch.optim.SGD(tp, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
        (lambda pr: Adam(pr, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3),
         lambda tp: torch.optim.Adam(tp, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3)),
    ]:
        p, g = _pair(rng, dtype)
        tp = torch.tensor(p.copy(), requires_grad=True)
        ours, theirs = make_ours([(p, g)]), make_theirs([tp])
        for _ in range(5):
            grad = rng.standard_normal(p.shape).astype(dtype)
            g[...] = grad
            tp.grad = torch.tensor(grad, dtype=tdt)
            ours.step()
            theirs.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=tol, atol=tol)


def test_step_clips_before_updating(rng):
    layer = fastrnn.RNN(3, 4, dtype=np.float64, seed=0)
    for g in layer.grads.values():
        g[...] = 100.0
    before = {k: v.copy() for k, v in layer.params.items()}
    opt = SGD(layer, lr=1.0, clip_norm=1.0)
    norm = opt.step()
    assert norm > 1.0
    step = np.sqrt(sum(np.sum((layer.params[k] - before[k]) ** 2) for k in before))
    assert step == pytest.approx(1.0, rel=1e-12)


def test_nonfinite_gradient_takes_a_random_step_and_counts_it(rng):
    p, g = _pair(rng)
    g[0, 0] = np.nan
    p0 = p.copy()
    opt = SGD([(p, g)], lr=1.0, clip_norm=0.25, seed=3)
    norm = opt.step()
    assert np.isnan(norm) and opt.random_steps == 1
    assert np.all(np.isfinite(p))
    assert np.linalg.norm(p - p0) == pytest.approx(0.25, rel=1e-12)


def test_state_dict_resumes_identically(rng):
    p, g = _pair(rng)
    q, h = p.copy(), g.copy()
    a = Adam([(p, g)], lr=0.01)
    for _ in range(3):
        a.step()
    b = Adam([(q, h)], lr=0.01)
    b.load_state_dict(a.state_dict())
    q[...] = p
    a.step()
    b.step()
    np.testing.assert_array_equal(p, q)


def test_bad_arguments(rng):
    p, g = _pair(rng)
    with pytest.raises(ValueError, match="lr"):
        SGD([(p, g)], lr=0.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD([(p, g)], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD([(p, g)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam([(p, g)], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="differ"):
        SGD([(p, g[:2])], lr=0.1)
    with pytest.raises(TypeError, match="params and .grads"):
        SGD([object()], lr=0.1)
    with pytest.raises(ValueError, match="clip_norm"):
        SGD([(p, g)], lr=0.1, clip_norm=-1)
