"""Leaky units and delayed connections against the plain RNN and a NumPy loop.

    python bench/compare_leaky.py [--repeat 9]

For each size, side by side in one run (float32, medians in ms):
the plain tanh RNN, the LeakyRNN (eq. 10.7; per-unit time constants), its
backward pass with and without the information-flow regulariser (eq. 10.16),
the DelayRNN with delays (1, 3), and a NumPy loop of the same leaky forward
(the input projection hoisted, one matrix product per step).
"""
import argparse

import numpy as np

import fastrnn
from timing import engines_ms, rule


def numpy_leaky_forward(x, w_ih, w_hh, bias, alpha):
    """h_t = (1 - alpha) h_{t-1} + alpha tanh(W_ih x_t + W_hh h_{t-1} + b)."""
    T, B, _ = x.shape
    pre = x @ w_ih.T + bias
    h = np.zeros((B, w_hh.shape[0]), dtype=x.dtype)
    out = np.empty((T, B, w_hh.shape[0]), dtype=x.dtype)
    for t in range(T):
        h = (1 - alpha) * h + alpha * np.tanh(pre[t] + h @ w_hh.T)
        out[t] = h
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    print(f"float32, ms ({rule(args.repeat)}); x = NumPy loop / fastrnn leaky forward")
    print(f"{'D,H,B,T':>16} | {'rnn fwd':>8} {'leaky fwd':>9} {'numpy fwd':>9} {'x':>5} | "
          f"{'rnn f+b':>8} {'leaky f+b':>9} {'+omega':>8} | {'delay fwd':>9} {'delay f+b':>9}")
    for D, H, B, T in [(32, 64, 1, 1000), (128, 256, 32, 100)]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((T, B, D)).astype(np.float32)
        dy = rng.standard_normal((T, B, H)).astype(np.float32)
        rnn = fastrnn.RNN(D, H, seed=0)
        leaky = fastrnn.LeakyRNN(D, H, tau=(1.0, 30.0), seed=0)
        delay = fastrnn.DelayRNN(D, H, delays=(1, 3), seed=0)
        p = leaky.params
        alpha = np.asarray(leaky.alpha, dtype=np.float32)
        bias = p["bias_ih_l0"] + p["bias_hh_l0"]
        ref = numpy_leaky_forward(x, p["weight_ih_l0"], p["weight_hh_l0"], bias, alpha)
        err = np.max(np.abs(leaky.forward(x)[0] - ref))

        def fb(layer, **kw):
            def run():
                layer.forward(x)
                layer.backward(dy, **kw)
            return run
        t = engines_ms({
            "rnn": lambda: rnn.forward(x),
            "leaky": lambda: leaky.forward(x),
            "numpy": lambda: numpy_leaky_forward(x, p["weight_ih_l0"], p["weight_hh_l0"],
                                                 bias, alpha),
            "rnn f+b": fb(rnn),
            "leaky f+b": fb(leaky),
            "omega f+b": fb(leaky, omega=0.01),
            "delay": lambda: delay.forward(x),
            "delay f+b": fb(delay),
        }, args.repeat)
        size = f"{D},{H},{B},{T}"
        print(f"{size:>16} | {t['rnn']:8.2f} {t['leaky']:9.2f} {t['numpy']:9.2f} "
              f"{t['numpy'] / t['leaky']:5.1f} | {t['rnn f+b']:8.2f} {t['leaky f+b']:9.2f} "
              f"{t['omega f+b']:8.2f} | {t['delay']:9.2f} {t['delay f+b']:9.2f}   "
              f"(max |leaky - numpy| {err:.1e})", flush=True)


if __name__ == "__main__":
    main()
