"""Plain NumPy reference implementations, written independently of fastrnn's
kernels (one time step at a time, straight from the equations), for tests and
for the NumPy side of the benchmarks."""
import numpy as np


def rnn_forward(x, w_ih, w_hh, b_ih, b_hh, h0, nonlinearity="tanh"):
    """x (T, B, D), h0 (B, H) -> hs (T+1, B, H), hs[0] = h0 (Goodfellow et al. (2016), eq. 10.4)."""
    act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
    T = x.shape[0]
    hs = np.empty((T + 1,) + h0.shape, dtype=np.result_type(x, h0))
    hs[0] = h0
    for t in range(T):
        hs[t + 1] = act(x[t] @ w_ih.T + b_ih + hs[t] @ w_hh.T + b_hh)
    return hs


def rnn_backward(x, w_ih, w_hh, hs, dy, dh_T, nonlinearity="tanh", clip_hidden=None):
    """BPTT for rnn_forward: returns dx, dh0, dw_ih, dw_hh, db
    (Goodfellow et al. (2016), sec. 10.2.1)."""
    T = x.shape[0]
    dx = np.zeros_like(x)
    dw_ih = np.zeros_like(w_ih)
    dw_hh = np.zeros_like(w_hh)
    db = np.zeros(w_hh.shape[0], dtype=w_hh.dtype)
    dh = dh_T.copy()
    for t in range(T - 1, -1, -1):
        dh = dh + dy[t]
        if clip_hidden is not None:
            dh = np.clip(dh, -clip_hidden, clip_hidden)
        h = hs[t + 1]
        da = dh * (1 - h * h) if nonlinearity == "tanh" else dh * (h > 0)
        dw_ih += da.T @ x[t]
        dw_hh += da.T @ hs[t]
        db += da.sum(axis=0)
        dx[t] = da @ w_ih
        dh = da @ w_hh
    return dx, dh, dw_ih, dw_hh, db


def clockwork_forward(x, w_ih, w_hh, b, h0, periods, k):
    """Clockwork RNN step by step (Koutnik et al. 2014): module i (k units,
    sorted periods) is recomputed at steps t % periods[i] == 0, else held."""
    T = x.shape[0]
    hs = np.empty((T + 1,) + h0.shape, dtype=np.result_type(x, h0))
    hs[0] = h0
    H = w_hh.shape[0]
    module = np.arange(H) // k
    w_masked = w_hh * (module[None, :] >= module[:, None])
    for t in range(T):
        new = np.tanh(x[t] @ w_ih.T + hs[t] @ w_masked.T + b)
        active = np.array([t % periods[m] == 0 for m in module])
        hs[t + 1] = np.where(active, new, hs[t])
    return hs


def delay_forward(x, w_ih, w_hh_by_delay, b, h0):
    """h_t = tanh(W_ih x_t + b + sum_d W_d h_{t-d}), h_s = h0 for s <= 0.
    Returns [h_1 .. h_T] as (T, B, H)."""
    T = x.shape[0]
    history = {0: h0}
    out = []
    for t in range(1, T + 1):
        a = x[t - 1] @ w_ih.T + b
        for d, w in w_hh_by_delay.items():
            a = a + history.get(t - d, h0) @ w.T
        history[t] = np.tanh(a)
        out.append(history[t])
    return np.stack(out)
def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def lstm_forward(x, w_ih, w_hh, b_ih, b_hh, h0, c0, peep=None):
    """x (T, B, D), h0, c0 (B, H) -> hs, cs (T+1, B, H) (Goodfellow et al. (2016), eq. 10.8-10.11,
    gates i, f, g, o as in PyTorch; peep (3, H) adds p * c to i, f and o)."""
    T, H = x.shape[0], h0.shape[-1]
    hs = np.empty((T + 1,) + h0.shape, dtype=np.result_type(x, h0))
    cs = np.empty_like(hs)
    hs[0], cs[0] = h0, c0
    p = np.zeros((3, H), dtype=hs.dtype) if peep is None else peep
    for t in range(T):
        a = x[t] @ w_ih.T + b_ih + hs[t] @ w_hh.T + b_hh
        i = _sigmoid(a[:, :H] + p[0] * cs[t])
        f = _sigmoid(a[:, H:2 * H] + p[1] * cs[t])
        g = np.tanh(a[:, 2 * H:3 * H])
        cs[t + 1] = f * cs[t] + i * g
        o = _sigmoid(a[:, 3 * H:] + p[2] * cs[t + 1])
        hs[t + 1] = o * np.tanh(cs[t + 1])
    return hs, cs


def gru_forward(x, w_ih, w_hh, b_ih, b_hh, h0, reset_after=True):
    """x (T, B, D), h0 (B, H) -> hs (T+1, B, H) (Goodfellow et al. (2016), eq. 10.12-10.14, gates
    r, z, n as in PyTorch; reset_after=False applies r to h before W_hn)."""
    T, H = x.shape[0], h0.shape[-1]
    hs = np.empty((T + 1,) + h0.shape, dtype=np.result_type(x, h0))
    hs[0] = h0
    for t in range(T):
        ax = x[t] @ w_ih.T + b_ih
        h = hs[t]
        r = _sigmoid(ax[:, :H] + h @ w_hh[:H].T + b_hh[:H])
        z = _sigmoid(ax[:, H:2 * H] + h @ w_hh[H:2 * H].T + b_hh[H:2 * H])
        if reset_after:
            n = np.tanh(ax[:, 2 * H:] + r * (h @ w_hh[2 * H:].T + b_hh[2 * H:]))
        else:
            n = np.tanh(ax[:, 2 * H:] + (r * h) @ w_hh[2 * H:].T + b_hh[2 * H:])
        hs[t + 1] = z * h + (1 - z) * n
    return hs
