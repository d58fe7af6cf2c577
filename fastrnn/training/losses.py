"""Losses with their gradients, for the settings of Goodfellow et al. (2016), sec. 10.2.

Each returns ``(loss, grad)`` where grad is dL/d(first argument), so it feeds
straight into an output layer's ``backward``.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import as_array, as_float_array, check_choice, check_int

_REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction):
    check_choice(reduction, "reduction", _REDUCTIONS)


def _real(a: ArrayLike, name: str) -> np.ndarray:
    """A real array: floats keep their dtype, integers and booleans become
    float64; complex, object and string arrays are refused."""
    a = as_array(a, name)
    if a.dtype.kind != "f":
        a = as_float_array(a, name, np.float64)
    return a


def log_softmax(logits: ArrayLike, axis: int = -1) -> np.ndarray:
    """log p = o - logsumexp(o), computed without overflow."""
    logits = _real(logits, "logits")
    if logits.ndim == 0:
        raise ValueError("logits must have at least one dimension (the class axis)")
    axis = check_int(axis, "axis", minimum=-logits.ndim, maximum=logits.ndim - 1)
    if logits.shape[axis] == 0:
        raise ValueError(f"logits must have at least one class along axis {axis}, got shape "
                         f"{logits.shape}")
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: ArrayLike, axis: int = -1) -> np.ndarray:
    """p_t = softmax(o_t) of eq. 10.4."""
    return np.exp(log_softmax(logits, axis=axis))


def softmax_nll(logits: ArrayLike, targets: ArrayLike, *, reduction: str = "mean"
                ) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of softmax outputs, Goodfellow et al. (2016), eq. 10.5.

    L = -sum_t log p_{t, y_t} with p_t = softmax(o_t).

    Parameters
    ----------
    logits : array_like, (..., C) float
        The outputs o_t, e.g. (T, B, C).
    targets : array_like, (...) int
        The class y_t of each step, in [0, C).
    reduction : {"mean", "sum"}
        "sum" is eq. 10.5 as written; "mean" divides by the number of steps
        (PyTorch's default).

    Returns
    -------
    loss : float
    dlogits : ndarray, shaped as logits: p - onehot(y), scaled by the reduction.
    """
    _check_reduction(reduction)
    logits = _real(logits, "logits")
    if logits.ndim < 1 or logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have a class axis (its last dimension) of at least one class, "
            f"got shape {logits.shape}"
        )
    targets = as_array(targets, "targets")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"targets must be integer class indices, got dtype {targets.dtype}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape {logits.shape[:-1]} (logits without the class axis), "
            f"got {targets.shape}"
        )
    C = logits.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= C):
        raise ValueError(f"targets must be class indices in [0, {C}), got values outside")
    logp = log_softmax(logits)
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    n = max(targets.size, 1)
    scale = 1.0 / n if reduction == "mean" else 1.0
    loss = -float(picked.sum(dtype=np.float64)) * scale
    grad = np.exp(logp)
    np.put_along_axis(grad, targets[..., None],
                      np.take_along_axis(grad, targets[..., None], axis=-1) - 1, axis=-1)
    grad *= logits.dtype.type(scale)
    return loss, grad


def mse(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
        ) -> tuple[float, np.ndarray]:
    """Squared error for regression: mean (or sum) of (pred - target)^2.

    Returns
    -------
    loss : float
    dpred : ndarray, shaped as pred
    """
    _check_reduction(reduction)
    pred = _real(pred, "pred")
    target = as_float_array(target, "target", pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(f"target must have the shape of pred {pred.shape}, got {target.shape}")
    diff = pred - target
    scale = 1.0 / max(diff.size, 1) if reduction == "mean" else 1.0
    loss = float(np.dot(diff.ravel().astype(np.float64), diff.ravel().astype(np.float64))) * scale
    return loss, (2.0 * scale) * diff
