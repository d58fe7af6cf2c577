"""Gradient-flow diagnostics: seeing the vanishing and exploding gradients of
seed 002, section 10.7 (and seed 001's analysis) on a real network.

``gradient_flow`` runs the model's own BPTT and reports, per time step, how
large the back-propagated gradient is, how much one step of the Jacobian
product shrinks or grows it, and how fast the gradient of a loss at the last
step decays with the lag; plus the spectral radius of the recurrent weights
and an estimate of the largest Lyapunov exponent of the forward dynamics.
``plot_gradient_flow`` draws it (matplotlib, imported only there).
"""
import copy
from dataclasses import dataclass

import numpy as np

from fastrnn import losses
from fastrnn._validation import check_int, check_random_state
from fastrnn.leaky import LeakyRNN
from fastrnn.rnn import RNN


@dataclass
class GradientFlow:
    """What ``gradient_flow`` measured. Arrays are indexed by the step t.

    Attributes
    ----------
    grad_norm : (T,) |dL/dh_t|, the loss taken at every step.
    step_product_norm : (T,) |(dL/dh_t)(dh_t/dh_{t-1})|, one Jacobian step
        back from t (the vector of seed 002, eq. 10.16).
    final_loss_grad_norm : (T,) |dL_T/dh_t| for the loss at the last step
        only: its decay with the lag T - 1 - t is the vanishing gradient.
    spectral_radius : float, of the recurrent weights W_hh.
    lyapunov_exponent : float, the largest Lyapunov exponent (per step) of
        h_t as a function of h_{t-1} along this trajectory; < 0 contracting.
    loss : float, the loss at every step.
    """

    grad_norm: np.ndarray
    step_product_norm: np.ndarray
    final_loss_grad_norm: np.ndarray
    spectral_radius: float
    lyapunov_exponent: float
    loss: float


def _split(model):
    """(recurrent layer, output layer or None) of a layer or a Sequential."""
    recurrent = getattr(model, "recurrent", model)
    return recurrent, getattr(model, "output", None)


def _as_leaky(layer):
    """A LeakyRNN computing exactly what ``layer`` computes (tau = 1 for a
    tanh RNN), so one BPTT with recording serves both."""
    if isinstance(layer, LeakyRNN):
        return copy.deepcopy(layer)
    if isinstance(layer, RNN) and layer.nonlinearity == "tanh" and layer.num_layers == 1 \
            and getattr(layer, "num_directions", 1) == 1:
        leaky = LeakyRNN(layer.input_size, layer.hidden_size, tau=1.0, dtype=layer.dtype)
        for name in leaky.params:
            leaky.params[name][...] = layer.params.get(name, 0)
        return leaky
    raise TypeError(
        f"gradient_flow supports fastrnn.RNN (tanh, one layer, one direction) and "
        f"fastrnn.LeakyRNN, got {type(layer).__name__}"
    )


def _loss_grad(kind, out, y):
    if kind == "mse":
        return losses.mse(out, y, reduction="sum")
    if kind == "nll":
        return losses.softmax_nll(out, y, reduction="sum")
    raise ValueError(f"loss must be 'mse' or 'nll', got {kind!r}")


def _frobenius(a):
    return np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=tuple(range(1, a.ndim))))


def gradient_flow(model, x, y, *, loss="mse", lyapunov_steps=None, seed=0):
    """Measure the gradient flow of ``model`` on inputs ``x`` and targets ``y``.

    Parameters
    ----------
    model : fastrnn.RNN (tanh), fastrnn.LeakyRNN, or a Sequential of one with
        an output layer. The model itself is not changed (its gradients
        included).
    x : (T, B, D) time-major inputs.
    y : targets for every step: (T, B, O) for "mse", (T, B) classes for "nll".
    loss : {"mse", "nll"}, summed over steps and sequences.
    lyapunov_steps : int or None
        Steps of the trajectory used for the Lyapunov estimate (all if None).
    seed : the random initial tangent vector of the Lyapunov estimate.

    Returns
    -------
    GradientFlow
    """
    recurrent, output = _split(model)
    leaky = _as_leaky(recurrent)
    output = copy.deepcopy(output)
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be (T, B, D), got shape {x.shape}")
    hs, _ = leaky.forward(x)
    out = output.forward(hs) if output is not None else hs
    value, dout = _loss_grad(loss, out, np.asarray(y))
    dh = output.backward(dout) if output is not None else dout
    _, dh0, rec = leaky.backward(dh, record=True)
    T = hs.shape[0]
    # dL/dh_{t-1} = dy_{t-1} + (dL/dh_t)(dh_t/dh_{t-1}): the product is the
    # recorded gradient one step earlier minus that step's own loss term.
    step = np.empty(T)
    step[0] = _frobenius(dh0[None])[0]
    if T > 1:
        step[1:] = _frobenius(rec[:-1] - dh[:-1])
    final_only = np.zeros_like(dh)
    final_only[-1] = dh[-1]
    _, _, rec_final = leaky.backward(final_only, record=True)
    w_hh = leaky.params["weight_hh_l0"].astype(np.float64)
    return GradientFlow(
        grad_norm=_frobenius(rec),
        step_product_norm=step,
        final_loss_grad_norm=_frobenius(rec_final),
        spectral_radius=float(np.max(np.abs(np.linalg.eigvals(w_hh)))),
        lyapunov_exponent=_lyapunov(leaky, x, lyapunov_steps, seed),
        loss=float(value),
    )


def _lyapunov(leaky, x, steps, seed):
    """Largest Lyapunov exponent by Benettin's method: carry a tangent vector
    v along the first sequence's trajectory with the exact one-step Jacobian
    J_t = diag(1 - alpha) + diag(alpha (1 - s_t^2)) W_hh, renormalising at
    each step, and average the log growth."""
    T = x.shape[0] if steps is None else min(check_int(steps, "lyapunov_steps", minimum=1),
                                             x.shape[0])
    leaky.forward(x[:T, :1])
    _, hs, ss, alpha, _ = leaky._cache
    w = leaky.params["weight_hh_l0"].astype(np.float64)
    a = alpha.astype(np.float64)
    v = check_random_state(seed).standard_normal(w.shape[0])
    v /= np.linalg.norm(v)
    total = 0.0
    for t in range(T):
        s = ss[t, 0].astype(np.float64)
        v = (1 - a) * v + a * (1 - s * s) * (w @ v)
        n = np.linalg.norm(v)
        if n == 0.0:
            return -np.inf
        total += np.log(n)
        v /= n
    return total / T


def plot_gradient_flow(flow, path=None, *, title=None):
    """Draw a ``GradientFlow``: gradient norms against t, and the decay of
    the last step's loss gradient against the lag. Returns the figure;
    saves a PNG when ``path`` is given. Needs matplotlib."""
    try:
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_gradient_flow needs matplotlib: pip install matplotlib") from exc
    T = flow.grad_norm.shape[0]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    t = np.arange(T)
    ax1.semilogy(t, flow.grad_norm, label="|dL/dh_t|")
    ax1.semilogy(t, flow.step_product_norm, label="|dL/dh_t dh_t/dh_{t-1}|", alpha=0.8)
    ax1.set_xlabel("step t")
    ax1.set_title("loss at every step")
    ax1.legend(fontsize=8)
    lag = T - 1 - t
    ax2.semilogy(lag[::-1], flow.final_loss_grad_norm[::-1])
    ax2.set_xlabel("lag T-1-t")
    ax2.set_ylabel("|dL_T/dh_t|")
    ax2.set_title(f"loss at the last step; rho(W)={flow.spectral_radius:.2f}, "
                  f"lambda={flow.lyapunov_exponent:.3f}", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
