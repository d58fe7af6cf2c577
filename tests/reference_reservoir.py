"""Plain NumPy references for the reservoir tests and benchmarks, one time
step at a time, straight from Goodfellow et al. (2016), eq. 10.7 (independent of fastrnn's
kernels)."""
import numpy as np

ACTS = {
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "relu": lambda a: np.maximum(a, 0.0),
    "identity": lambda a: a,
}


def esn_states(W, Win, bias, lr, U, x0, Wfb=None, Yprev=None, activation="tanh"):
    """x_t = (1 - lr) x_{t-1} + lr f(W x_{t-1} + Win u_t + Wfb y_{t-1} + b).

    U (T, D); x0 (N,); Yprev (T, O) the fed-back outputs (y_{t-1} at row t).
    Returns (T, N)."""
    f = ACTS[activation]
    x = np.array(x0, dtype=np.float64)
    out = np.empty((U.shape[0], x.shape[0]))
    for t in range(U.shape[0]):
        a = W @ x + Win @ U[t] + bias
        if Wfb is not None:
            a = a + Wfb @ Yprev[t]
        x = (1 - lr) * x + lr * f(a)
        out[t] = x
    return out


def esn_free_run(W, Win, bias, lr, Wfb, coef, intercept, U, x0, y0, activation="tanh"):
    """Closed loop: x_t from y_{t-1}, then y_t = coef^T x_t + intercept.
    Returns states (T, N) and outputs (T, O)."""
    f = ACTS[activation]
    x, y = np.array(x0, dtype=np.float64), np.array(y0, dtype=np.float64)
    xs, ys = [], []
    for t in range(U.shape[0]):
        x = (1 - lr) * x + lr * f(W @ x + Win @ U[t] + bias + Wfb @ y)
        y = coef.T @ x + intercept
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)
