"""Error and capacity measures for reservoir computing."""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike

import scipy.sparse as sp

from fastrnn._core.validation import (
    as_array,
    as_float_array,
    check_bool,
    check_choice,
    check_finite,
    check_real,
)
from fastrnn.reservoir.reservoir import checked_csr, spectral_radius

_NORMS = ("std", "var", "range", "minmax", "mean", "q1q3")
_MULTIOUTPUT = ("pooled", "raw_values", "uniform_average")


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


def _per_output(values: np.ndarray) -> np.ndarray:
    """(..., D) -> (D, rest): one row per output (the last axis); a 1-D
    series is one output."""
    if values.ndim < 2:
        return values.reshape(1, -1)
    return np.moveaxis(values, -1, 0).reshape(values.shape[-1], -1)


def _reduce(yt: np.ndarray, yp: np.ndarray, multioutput: str, measure):
    """``measure(y_true, y_pred)`` (rows: outputs, reduced along axis 1)
    pooled over all elements, per output (the last axis), or averaged over
    the outputs."""
    check_choice(multioutput, "multioutput", _MULTIOUTPUT)
    if multioutput == "pooled":
        return float(measure(yt.reshape(1, -1), yp.reshape(1, -1))[0])
    per_output = measure(_per_output(yt), _per_output(yp))
    return per_output if multioutput == "raw_values" else float(np.mean(per_output))


def mae(y_true: ArrayLike, y_pred: ArrayLike, *, multioutput: str = "pooled"
        ) -> Union[float, np.ndarray]:
    """Mean absolute error, ``mean(abs(y_true - y_pred))``.

    Parameters
    ----------
    y_true, y_pred : array_like, same shape; the last axis holds the outputs
    multioutput : {"pooled", "raw_values", "uniform_average"}
        "pooled" (default): one mean over all elements; "raw_values": one
        value per output (last axis), as an ndarray (D,); "uniform_average":
        the mean of those (scikit-learn's names and meaning).
    """
    yt, yp = _pair(y_true, y_pred)
    return _reduce(yt, yp, multioutput, lambda t, p: np.mean(np.abs(t - p), axis=1))


def _scale(y: np.ndarray, norm: str) -> np.ndarray:
    """The normaliser of nrmse for each row of y."""
    if norm == "std":
        return np.std(y, axis=1)
    if norm == "var":
        return np.var(y, axis=1)
    if norm in ("range", "minmax"):
        return np.ptp(y, axis=1)
    if norm == "mean":
        return np.mean(y, axis=1)
    q1, q3 = np.percentile(y, [25, 75], axis=1)
    return q3 - q1


def nrmse(y_true: ArrayLike, y_pred: ArrayLike, *, norm: str = "std",
          multioutput: str = "pooled") -> Union[float, np.ndarray]:
    """Normalised root mean squared error.

    NRMSE = sqrt(mean((y_true - y_pred)^2)) / s, over all elements, where by
    default s is the standard deviation of the target y_true (population
    standard deviation, ``np.std``), so that predicting the mean gives 1.

    Parameters
    ----------
    norm : {"std", "var", "range", "minmax", "mean", "q1q3"}
        s = std(y_true), var(y_true), max - min ("range" or ReservoirPy's
        "minmax"), mean(y_true), or the interquartile range of y_true.
    multioutput : {"pooled", "raw_values", "uniform_average"}
        "pooled" (default): the error and s over all elements together;
        "raw_values": the error and s of each output (the last axis)
        separately, an ndarray (D,) (ReservoirPy's ``dimensionwise=True``);
        "uniform_average": the mean of those D values.
    """
    check_choice(norm, "norm", _NORMS)
    yt, yp = _pair(y_true, y_pred)

    def normalised(t, p):
        s = _scale(t, norm)
        if np.any(s == 0):
            which = "" if s.shape[0] == 1 else f" for outputs {np.flatnonzero(s == 0).tolist()}"
            raise ValueError(f"cannot normalise by the {norm} of y_true: it is 0{which}")
        return np.sqrt(np.mean((t - p) ** 2, axis=1)) / s

    return _reduce(yt, yp, multioutput, normalised)


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


def valid_prediction_time(y_true: ArrayLike, y_pred: ArrayLike, *, dt: float = 1.0,
                          threshold: float = 0.4, norm: str = "rms",
                          scale: Optional[ArrayLike] = None) -> float:
    """Valid prediction time of a free-running forecast: how long it stays
    within ``threshold`` of the truth.

    With the normalised error at each step t

        "rms":  e(t) = ||y_pred(t) - y_true(t)|| / sqrt(mean_t ||y_true(t)||^2)
                (Pathak et al. 2018, with threshold 0.4)
        "std":  e(t) = sqrt(mean_d ((y_pred_d(t) - y_true_d(t)) / s_d)^2)
                (Vlachas et al. 2020, with threshold 0.5; s_d the standard
                deviation of output d of y_true, or ``scale``)

    the valid prediction time is dt * k, k the number of leading steps with
    e(t) <= threshold, i.e. the time of the first step whose error exceeds
    the threshold. It is usually quoted in Lyapunov times (Pathak et al.
    2018), beside the NRMSE over one Lyapunov time that Gauthier et al.
    (2021) report for next-generation reservoir computing.

    Parameters
    ----------
    y_true, y_pred : array_like (T, D) or (T,)
        The true continuation and the forecast, step t = 0 being the first
        step predicted.
    dt : float > 0
        Time per step. Pass the sampling interval times the largest Lyapunov
        exponent to get the result in Lyapunov times.
    threshold : float > 0
    norm : {"rms", "std"}
    scale : array_like (D,), optional
        With ``norm="std"``, the per-output standard deviations (e.g. of the
        training data, when the test horizon is short) instead of those of
        y_true.

    Returns
    -------
    float
        In [0, T dt]: 0 when the first step already fails, T dt when no step
        does (the forecast is valid for at least the horizon given).
    """
    dt = check_real(dt, "dt", low=0.0, low_open=True)
    threshold = check_real(threshold, "threshold", low=0.0, low_open=True)
    check_choice(norm, "norm", ("rms", "std"))
    yt, yp = _pair(y_true, y_pred)
    if yt.ndim == 1:
        yt, yp = yt[:, None], yp[:, None]
    if yt.ndim != 2:
        raise ValueError(f"y_true must be (T, D) or (T,), got shape {yt.shape}")
    if scale is not None and norm != "std":
        raise ValueError('scale is used with norm="std" only')
    if norm == "rms":
        reference = np.sqrt(np.mean(np.sum(yt * yt, axis=1)))
        if reference == 0:
            raise ValueError("cannot normalise by the RMS norm of y_true: it is 0")
        error = np.linalg.norm(yp - yt, axis=1) / reference
    else:
        if scale is None:
            s = np.std(yt, axis=0)
        else:
            s = check_finite(as_float_array(scale, "scale", np.float64,
                                            shape=(yt.shape[1],)), "scale")
        if np.any(s <= 0):
            raise ValueError(f"the per-output scale must be > 0, got {s.tolist()}")
        error = np.sqrt(np.mean(((yp - yt) / s) ** 2, axis=1))
    failed = np.flatnonzero(error > threshold)
    steps = failed[0] if failed.size else yt.shape[0]
    return float(steps * dt)


def effective_spectral_radius(W: Union[ArrayLike, sp.spmatrix], lr: Union[float, ArrayLike] = 1.0
                              ) -> float:
    """Spectral radius of the linearised leaky-integrator update,
    rho((1 - lr) I + lr W) (Jaeger et al. 2007, section 4).

    For leaky units x(t+1) = (1 - lr) x(t) + lr tanh(W x(t) + ...), this is
    the radius that decides the echo state property near the origin, rather
    than rho(W) alone. With one leak rate per unit (an array lr), the matrix
    is (I - diag(lr)) + diag(lr) W.

    Parameters
    ----------
    W : ndarray or scipy.sparse matrix (N, N)
    lr : float or array_like (N,), in (0, 1]

    Returns
    -------
    float
        Measured by `fastrnn.reservoir.reservoir.spectral_radius` (as
        ``Reservoir`` measures its own W).
    """
    shape = W.shape if sp.issparse(W) else np.shape(as_array(W, "W"))
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"W must be square (N, N), got shape {shape}")
    n = shape[0]
    if n == 0:
        raise ValueError("W is empty (0 units)")
    if isinstance(lr, (bool, np.bool_)):
        raise TypeError(f"lr must be a real number or an array of them, got {lr!r}")
    rates = check_finite(as_float_array(lr, "lr", np.float64), "lr")
    if rates.ndim == 1 and rates.shape[0] != n or rates.ndim > 1:
        raise ValueError(f"lr must be a number or an array of N = {n} values, got shape "
                         f"{rates.shape}")
    if np.any(rates <= 0) or np.any(rates > 1):
        raise ValueError(f"lr must be in (0, 1], got values from {rates.min()} to "
                         f"{rates.max()}")
    if rates.ndim == 0:
        rates = np.full(n, float(rates))
    if sp.issparse(W):
        Wc = checked_csr(W, "W", shape, np.float64)
        leaky = (sp.diags(rates) @ Wc + sp.diags(1.0 - rates)).tocsr()
    else:
        Wd = check_finite(as_float_array(W, "W", np.float64), "W")
        leaky = rates[:, None] * Wd
        leaky[np.diag_indices(n)] += 1.0 - rates
    return spectral_radius(leaky)
