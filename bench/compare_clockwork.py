"""Clockwork RNN against a plain RNN of the same width, side by side in one run.

    python bench/compare_clockwork.py [--repeat 9]

The Clockwork RNN skips the recurrent product of a module on the steps it
does not update; with periods 1, 2, 4, ..., 2^(G-1) the recurrent work per
step falls from H^2 to about H^2 (2/G) (a geometric series over modules of
decreasing width of columns). Prints medians (ms) and the speed-up.
"""
import argparse

import numpy as np

import fastrnn
from timing import engines_ms, rule
from fastrnn.layers.clockwork import ClockworkRNN


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    D, H, T = 16, 512, 500
    periods = tuple(2 ** i for i in range(8))
    print(f"D={D} H={H} T={T} float32, periods {periods}; ms, {rule(args.repeat)}")
    print(f"{'B':>4} | {'fwd rnn':>8} {'fwd cw':>8} {'x':>5} | {'f+b rnn':>8} {'f+b cw':>8} {'x':>5}")
    for B in (1, 16):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((T, B, D)).astype(np.float32)
        dy = rng.standard_normal((T, B, H)).astype(np.float32)
        rnn = fastrnn.RNN(D, H, seed=0)
        cw = ClockworkRNN(D, H, periods, seed=0)
        engines = {}
        for name, layer in (("rnn", rnn), ("cw", cw)):
            engines["f" + name] = lambda layer=layer: layer.forward(x)
            engines["b" + name] = lambda layer=layer: (layer.forward(x), layer.backward(dy))
        r = engines_ms(engines, args.repeat)
        print(f"{B:>4} | {r['frnn']:8.2f} {r['fcw']:8.2f} {r['frnn'] / r['fcw']:5.1f} | "
              f"{r['brnn']:8.2f} {r['bcw']:8.2f} {r['brnn'] / r['bcw']:5.1f}", flush=True)


if __name__ == "__main__":
    main()
