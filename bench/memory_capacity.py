"""Memory capacity (Jaeger 2002, GMD Report 152) against reservoir size.

MC = sum_k r^2(u(t - k), y_k(t)), k = 1..K, for i.i.d. uniform inputs, with
one ridge readout per delay trained on T samples and MC measured on held-out
data (on the training data it is biased upward by about K (N + 1) / T, also
printed). Theory bounds MC by N for a linear reservoir; tanh units keep it
below that.

Usage:  python bench/memory_capacity.py [--sizes 10 25 50 100 200 --delays 300]
"""
import argparse
import time

import numpy as np


from fastrnn.analysis.datasets import memory_capacity_task
from fastrnn.reservoir.esn import ESN
from fastrnn.analysis.metrics import memory_capacity
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50, 100, 200])
    p.add_argument("--delays", type=int, default=300)
    p.add_argument("--train", type=int, default=5000)
    p.add_argument("--test", type=int, default=5000)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    K, T = args.delays, args.train
    print(f"Memory capacity: K={K} delays, {T} training and {args.test} held-out samples, "
          f"sr=0.95, lr=1, input scaling 0.1, median of {args.seeds} reservoirs")
    print("| N | MC held-out | MC on training data | K(N+1)/T |")
    print("|---|---|---|---|")
    t0 = time.perf_counter()
    for N in args.sizes:
        held, train = [], []
        for seed in range(args.seeds):
            u, y = memory_capacity_task(K + T + args.test, K, seed=seed)
            res = Reservoir(N, sr=0.95, lr=1.0, input_scaling=0.1, input_connectivity=1.0,
                            rc_connectivity=min(1.0, 10.0 / N), seed=1000 * seed + N)
            esn = ESN(res, Ridge(1e-8))
            esn.fit(u[:K + T], y[:K + T], warmup=K)
            res.reset()
            states = res.run(u)
            pred = esn.readout.predict(states)
            train.append(memory_capacity(y[K:K + T], pred[K:K + T]))
            held.append(memory_capacity(y[K + T:], pred[K + T:]))
        print(f"| {N} | {np.median(held):.2f} | {np.median(train):.2f} | {K * (N + 1) / T:.2f} |")
    print(f"time: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
