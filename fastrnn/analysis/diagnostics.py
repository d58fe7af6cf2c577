"""Gradient-flow diagnostics: seeing the vanishing and exploding gradients of
Goodfellow et al. (2016), sec. 10.7 (and Pascanu et al.'s (2013) analysis) on a real network.

``gradient_flow`` runs the model's own BPTT and reports, per time step, how
large the back-propagated gradient is, how much one step of the Jacobian
product shrinks or grows it, and how fast the gradient of a loss at the last
step decays with the lag; plus the spectral radius of the recurrent weights
and an estimate of the largest Lyapunov exponent of the forward dynamics.
``plot_gradient_flow`` draws it (matplotlib, imported only there).

Two routes give the same numbers. A one-layer tanh RNN or a LeakyRNN records
its per-step gradients inside one BPTT sweep (O(T)). Any other unidirectional
layer whose state after step t is all the future depends on (RNN with ReLU or
several layers, LSTM, GRU) is measured through its own forward and backward
run from each intermediate state: O(T^2) work, which is small at the sizes a
diagnostic is run at, and exact for every cell without a cell-specific
Jacobian. There the state s_t is everything the layer carries: h_t of every
layer, and c_t too for an LSTM.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from fastrnn.training import losses
from fastrnn._core.validation import as_array, as_float_array, check_choice, check_int, \
    check_random_state
from fastrnn.layers.clockwork import ClockworkRNN
from fastrnn.layers.delays import DelayRNN
from fastrnn.layers.leaky import LeakyRNN
from fastrnn.layers.rnn import RNN
from fastrnn._core.validation import SeedLike

if TYPE_CHECKING:   # matplotlib is optional, imported by plot_gradient_flow only
    from matplotlib.figure import Figure


@dataclass
class GradientFlow:
    """What ``gradient_flow`` measured. Arrays are indexed by the step t.

    Attributes
    ----------
    grad_norm : (T,) |dL/ds_t|, the loss taken at every step (s_t = h_t
        for a one-layer RNN; see the module notes for other layers).
    step_product_norm : (T,) |(dL/dh_t)(dh_t/dh_{t-1})|, one Jacobian step
        back from t (the vector of Goodfellow et al. (2016), eq. 10.16).
    final_loss_grad_norm : (T,) |dL_T/dh_t| for the loss at the last step
        only: its decay with the lag T - 1 - t is the vanishing gradient.
    spectral_radius : float, of the recurrent weights W_hh of the first
        layer; for a gated cell the largest over its H x H gate blocks.
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
    tanh RNN), so one BPTT with recording serves both; None if there is none."""
    if isinstance(layer, LeakyRNN):
        return copy.deepcopy(layer)
    if type(layer) is RNN and layer.nonlinearity == "tanh" and layer.num_layers == 1 \
            and layer.num_directions == 1:
        leaky = LeakyRNN(layer.input_size, layer.hidden_size, tau=1.0, dtype=layer.dtype)
        for name in leaky.params:
            leaky.params[name][...] = layer.params.get(name, 0)
        return leaky
    return None


def _check_suffix_runnable(layer):
    """Refuse layers whose state after step t does not determine the rest of
    the run, since the suffix route restarts the layer from that state."""
    if isinstance(layer, (DelayRNN, ClockworkRNN)):
        why = ("its future depends on more than the last state (delayed connections)"
               if isinstance(layer, DelayRNN) else "its update schedule depends on the step index")
        raise TypeError(f"gradient_flow supports RNN, LeakyRNN, LSTM and GRU; "
                        f"{type(layer).__name__} is not supported: {why}")
    if getattr(layer, "num_directions", None) != 1:
        raise TypeError(f"gradient_flow supports RNN, LeakyRNN, LSTM and GRU with one "
                        f"direction, got {layer!r}")


def _loss_grad(kind, out, y):
    if kind == "mse":
        return losses.mse(out, y, reduction="sum")
    if kind == "nll":
        return losses.softmax_nll(out, y, reduction="sum")
    raise ValueError(f"loss must be 'mse' or 'nll', got {kind!r}")


def _frobenius(a):
    return np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=tuple(range(1, a.ndim))))


def gradient_flow(model: Any, x: ArrayLike, y: ArrayLike, *, loss: str = "mse",
                  lyapunov_steps: Optional[int] = None, seed: SeedLike = 0) -> GradientFlow:
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
    check_choice(loss, "loss", ("mse", "nll"))
    recurrent, output = _split(model)
    dtype = getattr(recurrent, "dtype", None)
    if not isinstance(dtype, np.dtype) or not isinstance(getattr(recurrent, "params", None),
                                                         Mapping):
        raise TypeError(f"model must be a fastrnn.RNN, LeakyRNN, LSTM or GRU, or a Sequential "
                        f"of one, got {type(model).__name__}")
    x = as_float_array(x, "x", dtype, ndim=3)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must hold at least one sequence of at least one step, (T, B, D) "
                         f"with T, B >= 1; got shape {x.shape}")
    y = as_array(y, "y")
    if y.shape[:2] != x.shape[:2] or y.ndim != (3 if loss == "mse" else 2):
        want = "(T, B, O)" if loss == "mse" else "(T, B) of classes"
        raise ValueError(f"y must be {want} with the T, B of x {x.shape[:2]} for "
                         f"loss={loss!r}, got shape {y.shape}")
    if lyapunov_steps is not None:
        check_int(lyapunov_steps, "lyapunov_steps", minimum=1)
    check_random_state(seed)
    leaky = _as_leaky(recurrent)
    if leaky is None:
        _check_suffix_runnable(recurrent)
        layer = copy.deepcopy(recurrent)
    else:
        layer = leaky
    output = copy.deepcopy(output)
    hs, _ = layer.forward(x)
    out = output.forward(hs) if output is not None else hs
    value, dout = _loss_grad(loss, out, y)
    dh = output.backward(dout) if output is not None else dout
    final_only = np.zeros_like(dh)
    final_only[-1] = dh[-1]
    if leaky is not None:
        grad, step, final = _recorded_flow(leaky, dh, final_only)
        lyapunov = _lyapunov(leaky, x, lyapunov_steps, seed)
    else:
        grad, step, final = _suffix_flow(layer, x, dh, final_only)
        lyapunov = _lyapunov_generic(layer, x, lyapunov_steps, seed)
    return GradientFlow(
        grad_norm=grad,
        step_product_norm=step,
        final_loss_grad_norm=final,
        spectral_radius=_recurrent_spectral_radius(layer),
        lyapunov_exponent=lyapunov,
        loss=float(value),
    )


def _recurrent_spectral_radius(layer):
    w = layer.params["weight_hh_l0"].astype(np.float64)
    H = w.shape[1]
    return max(float(np.max(np.abs(np.linalg.eigvals(w[g:g + H]))))
               for g in range(0, w.shape[0], H))


def _recorded_flow(leaky, dh, final_only):
    """The O(T) route: one BPTT sweep that records dL/dh_t at every step."""
    _, dh0, rec = leaky.backward(dh, record=True)
    T = dh.shape[0]
    # dL/dh_{t-1} = dy_{t-1} + (dL/dh_t)(dh_t/dh_{t-1}): the product is the
    # recorded gradient one step earlier minus that step's own loss term.
    step = np.empty(T)
    step[0] = _frobenius(dh0[None])[0]
    if T > 1:
        step[1:] = _frobenius(rec[:-1] - dh[:-1])
    _, _, rec_final = leaky.backward(final_only, record=True)
    return _frobenius(rec), step, _frobenius(rec_final)


def _state_parts(state):
    return list(state) if isinstance(state, tuple) else [state]


def _state_norm(parts):
    return float(np.sqrt(sum(np.sum(np.square(p, dtype=np.float64)) for p in parts)))


def _trajectory(layer, x):
    """The layer's state before the first step and after every step."""
    states = [layer.forward(x[:0])[1]]
    for t in range(x.shape[0]):
        states.append(layer.forward(x[t:t + 1], states[t])[1])
    return states


def _suffix_flow(layer, x, dh, final_only):
    """The O(T^2) route for any layer: the gradient reaching s_t from the
    losses after step t is the layer's own BPTT over x[t+1:] started at s_t.
    The loss at step t itself reaches s_t through the top layer's h_t."""
    T = x.shape[0]
    states = _trajectory(layer, x)

    def from_later_steps(t, dy):
        """d(loss at steps > t)/ds_t, as a list of state parts; t = -1 is s_0."""
        if t == T - 1:
            return [np.zeros_like(p) for p in _state_parts(states[T])]
        layer.forward(x[t + 1:], states[t + 1])
        return _state_parts(layer.backward(dy[t + 1:])[1])

    def own_step(parts, t, dy):
        parts = [p.copy() for p in parts]
        parts[0][-1] += dy[t]   # the top layer's h_t is the output y_t
        return parts

    grad, step, final = np.empty(T), np.empty(T), np.empty(T)
    for t in range(-1, T):
        later = from_later_steps(t, dh)
        if t + 1 < T:
            step[t + 1] = _state_norm(later)
        if t >= 0:
            grad[t] = _state_norm(own_step(later, t, dh))
            final[t] = _state_norm(own_step(from_later_steps(t, final_only), t, final_only))
    return grad, step, final


def _lyapunov_generic(layer, x, steps, seed):
    """Largest Lyapunov exponent from vector-Jacobian products: J_1^T ... J_T^T
    has the singular values of J_T ... J_1, so carrying a vector backwards
    through the one-step BPTT of the layer, renormalising at each step, gives
    the exponent of Benettin's forward method (the two agree as T grows)."""
    T = x.shape[0] if steps is None else min(check_int(steps, "lyapunov_steps", minimum=1),
                                             x.shape[0])
    first = x[:T, :1]
    states = _trajectory(layer, first)
    rng = check_random_state(seed)
    u = [rng.standard_normal(p.shape) for p in _state_parts(states[T])]
    n = _state_norm(u)
    u = [(p / n).astype(layer.dtype) for p in u]
    total = 0.0
    for t in range(T, 0, -1):
        layer.forward(first[t - 1:t], states[t - 1])
        u = _state_parts(layer.backward(None, tuple(u) if len(u) > 1 else u[0])[1])
        n = _state_norm(u)
        if n == 0.0:
            return -np.inf
        total += np.log(n)
        u = [p / n for p in u]
    return total / T


def _lyapunov(leaky, x, steps, seed):
    """Largest Lyapunov exponent by Benettin's method: carry a tangent vector
    v along the first sequence's trajectory with the exact one-step Jacobian
    J_t = diag(1 - alpha) + diag(alpha (1 - s_t^2)) W_hh, renormalising at
    each step, and average the log growth."""
    T = x.shape[0] if steps is None else min(check_int(steps, "lyapunov_steps", minimum=1),
                                             x.shape[0])
    leaky.forward(x[:T, :1])
    sweep = leaky._cache
    hs, ss, alpha = sweep.hs, sweep.ss, sweep.alpha
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


def plot_gradient_flow(flow: Union[GradientFlow, Mapping[str, GradientFlow]],
                       path: Union[str, os.PathLike, None] = None, *,
                       title: Optional[str] = None) -> Figure:
    """Draw gradient flows: the gradient norms against t (loss at every step),
    and the decay of the last step's loss gradient against the lag.

    Parameters
    ----------
    flow : GradientFlow, or a mapping label -> GradientFlow
        Several flows are overlaid, so a remedy (leaky units, the regulariser,
        an LSTM) can be seen against the plain tanh RNN in one picture.
    path : str or path-like, optional
        Where to save a PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Needs matplotlib (an optional dependency, imported here only).
    """
    # The argument first: a wrong one is worth saying even without matplotlib.
    try:
        flows = {"": flow} if isinstance(flow, GradientFlow) else dict(flow)
    except (TypeError, ValueError):
        flows = None
    if not flows or not all(isinstance(f, GradientFlow) for f in flows.values()):
        raise TypeError("flow must be a GradientFlow or a non-empty mapping of label -> "
                        "GradientFlow")
    try:
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_gradient_flow needs matplotlib: pip install matplotlib") from exc
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, f in flows.items():
        T = f.grad_norm.shape[0]
        t = np.arange(T)
        name = f"{label}: " if label else ""
        ax1.semilogy(t, f.grad_norm, label=f"{name}|dL/ds_t|")
        if len(flows) == 1:
            ax1.semilogy(t, f.step_product_norm, label="|dL/ds_t ds_t/ds_{t-1}|", alpha=0.8)
        lag = T - 1 - t
        legend = (f"{label} (rho={f.spectral_radius:.2f}, lambda={f.lyapunov_exponent:.3f})"
                  if label else f"rho(W)={f.spectral_radius:.2f}, "
                                f"lambda={f.lyapunov_exponent:.3f}")
        ax2.semilogy(lag[::-1], f.final_loss_grad_norm[::-1], label=legend)
    ax1.set_xlabel("step t")
    ax1.set_title("loss at every step")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("lag T-1-t")
    ax2.set_ylabel("|dL_T/ds_t|")
    ax2.set_title("loss at the last step only")
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
