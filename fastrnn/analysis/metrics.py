"""Error and capacity measures for reservoir computing."""
from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import as_float_array, check_bool, check_choice, check_finite

_NORMS = ("std", "var", "range", "mean", "q1q3")


def _pair(y_true, y_pred):
    # Real numbers only, and finite (as scikit-learn's metrics): a NaN would
    # make every measure NaN without saying where it came from.
    yt = check_finite(as_float_array(y_true, "y_true", np.float64), "y_true")
    yp = check_finite(as_float_array(y_pred, "y_pred", np.float64), "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {yt.shape} and "
                         f"{yp.shape}")
    if yt.size == 0:
        raise ValueError("y_true and y_pred are empty")
    return yt, yp


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error over all elements."""
    yt, yp = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((yt - yp) ** 2)))


def nrmse(y_true: ArrayLike, y_pred: ArrayLike, *, norm: str = "std") -> float:
    """Normalised root mean squared error.

    NRMSE = sqrt(mean((y_true - y_pred)^2)) / s, over all elements, where by
    default s is the standard deviation of the target y_true (population
    standard deviation, ``np.std``), so that predicting the mean gives 1.

    Parameters
    ----------
    norm : {"std", "var", "range", "mean", "q1q3"}
        s = std(y_true), var(y_true), max - min, mean(y_true), or the
        interquartile range of y_true.
    """
    check_choice(norm, "norm", _NORMS)
    yt, yp = _pair(y_true, y_pred)
    if norm == "std":
        s = np.std(yt)
    elif norm == "var":
        s = np.var(yt)
    elif norm == "range":
        s = np.ptp(yt)
    elif norm == "mean":
        s = np.mean(yt)
    else:
        q1, q3 = np.percentile(yt, [25, 75])
        s = q3 - q1
    if s == 0:
        raise ValueError(f"cannot normalise by the {norm} of y_true: it is 0")
    return float(np.sqrt(np.mean((yt - yp) ** 2)) / s)


def rsquare(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot over all elements."""
    yt, yp = _pair(y_true, y_pred)
    ss_tot = np.sum((yt - yt.mean()) ** 2)
    if ss_tot == 0:
        raise ValueError("rsquare is undefined for a constant y_true")
    return float(1.0 - np.sum((yt - yp) ** 2) / ss_tot)


def memory_capacity(y_true: ArrayLike, y_pred: ArrayLike, *, per_delay: bool = False
                    ) -> Union[float, tuple[float, np.ndarray]]:
    """Memory capacity (Jaeger 2002, GMD Report 152):

        MC = sum_k r^2(u(t - k), y_k(t))

    the sum over delays k of the squared Pearson correlation between the
    delayed input and the readout trained to recall it. Measure it on
    held-out data: on the training data it is biased upward (by about
    K (N + 1) / T for K delays, N units and T samples).

    Parameters
    ----------
    y_true : array_like (T, K), column k-1 = u(t - k)
    y_pred : array_like (T, K)
    per_delay : bool
        Also return the K values r^2_k.

    Returns
    -------
    float (and ndarray (K,) with ``per_delay``)
    """
    per_delay = check_bool(per_delay, "per_delay")
    yt, yp = _pair(y_true, y_pred)
    if yt.ndim == 1:
        yt, yp = yt[:, None], yp[:, None]
    if yt.ndim != 2:
        raise ValueError(f"y_true must be (T, K), got shape {yt.shape}")
    a = yt - yt.mean(axis=0)
    b = yp - yp.mean(axis=0)
    denom = np.sqrt(np.sum(a * a, axis=0) * np.sum(b * b, axis=0))
    r = np.divide(np.sum(a * b, axis=0), denom, out=np.zeros(yt.shape[1]), where=denom > 0)
    r2 = r * r
    total = float(np.sum(r2))
    return (total, r2) if per_delay else total
