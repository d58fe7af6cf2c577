"""The tanh RNN as a competent plain-NumPy loop: the baseline fastrnn's speed
is quoted against (``python -m fastrnn`` and ``bench/``).

The input projection and the weight gradients are hoisted out of the time
loop into single matrix products, as a careful NumPy user would write them,
so the comparison measures the time loop itself. (The tests use a separate,
deliberately naive reference in ``tests/reference.py``.)
"""
import numpy as np


def forward(x, params, h0=None):
    """x (T, B, D) -> hs (T+1, B, H) with hs[0] = h0 (Goodfellow et al. (2016), eq. 10.4)."""
    w_ih, w_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    T, B, _ = x.shape
    xp = x @ w_ih.T + (params["bias_ih_l0"] + params["bias_hh_l0"])
    hs = np.zeros((T + 1, B, w_hh.shape[0]), dtype=x.dtype)
    if h0 is not None:
        hs[0] = h0
    w_hh_t = w_hh.T
    for t in range(T):
        hs[t + 1] = np.tanh(xp[t] + hs[t] @ w_hh_t)
    return hs


def backward(x, params, hs, dy):
    """BPTT for `forward`: returns dx, dh0 and the gradients of W_ih, W_hh, b."""
    w_ih, w_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    T, B, D = x.shape
    H = w_hh.shape[0]
    da = np.empty((T, B, H), dtype=x.dtype)
    dh = np.zeros((B, H), dtype=x.dtype)
    for t in range(T - 1, -1, -1):
        da[t] = (dy[t] + dh) * (1 - hs[t + 1] * hs[t + 1])
        dh = da[t] @ w_hh
    da2 = da.reshape(T * B, H)
    dw_ih = da2.T @ x.reshape(T * B, D)
    dw_hh = da2.T @ hs[:-1].reshape(T * B, H)
    db = da2.sum(axis=0)
    dx = (da2 @ w_ih).reshape(T, B, D)
    return dx, dh, dw_ih, dw_hh, db
