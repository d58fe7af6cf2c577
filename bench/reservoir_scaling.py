"""The reservoir's time per step against its size, beside ReservoirPy's, and
a large fit's time and peak memory.

1. Time per step of one series (float64 and float32) from N = 100 to 20,000,
   on the same matrices for both libraries (lr = 0.3, sr = 0.9; connectivity
   0.1 up to N = 2,000, in-degree 20 above, as large reservoirs are built),
   with nanoseconds per nonzero of W.
2. The scale task: N = 20,000 with ``degree=20``, 10,000 steps of
   Mackey-Glass, run plus a ridge fit on all units; the time and the peak
   memory of each library, each in a child process of its own (its peak
   resident size above what the imports took), against the floor: the states
   plus the Gram matrix.

Timings follow bench/timing.py's rule (blocks of runs after a warm-up, blocks
in turn, the best block median), side by side in one process; run it alone
on the machine:

    python bench/reservoir_scaling.py [--quick] [--no-reservoirpy] [--no-scale]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from fastrnn.analysis.datasets import mackey_glass
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir
from timing import rule, time_engines

try:
    from reservoirpy.nodes import Reservoir as RPyReservoir
    from reservoirpy.nodes import Ridge as RPyRidge
except ImportError:  # optional
    RPyReservoir = None

LR, SR, RIDGE, WARMUP = 0.3, 0.9, 1e-6, 100
#: The scale task fits 20,000 units on 9,900 steps: fewer rows than features,
#: so the ridge must regularise; at 1e-6 X^T X + ridge I is not numerically
#: positive definite and the least-squares fallback needs several Gram copies.
SCALE_RIDGE = 1e-2


def build(N, seed):
    """A reservoir as the table builds it, float64 and its float32 twin."""
    shape = dict(rc_connectivity=0.1) if N <= 2000 else dict(degree=20)
    res = Reservoir(N, sr=SR, lr=LR, seed=seed, **shape)
    res.initialize(1)
    res32 = Reservoir(N, lr=LR, W=res.W, Win=res.Win, bias=res.bias, dtype=np.float32)
    return res, res32


def per_step_table(sizes, steps, repeat, use_rpy):
    X = mackey_glass(steps, discard=500).reshape(-1, 1)
    print(f"## Time per step of one series, {steps} steps ({rule(repeat)}; "
          f"microseconds; ns per nonzero of W in brackets)")
    print()
    head = "| N | nonzeros | fastrnn f64 (threads) | fastrnn f32 |"
    head += " ReservoirPy (f64) | ReservoirPy / fastrnn f64 |" if use_rpy else ""
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for N in sizes:
        res, res32 = build(N, seed=N)
        nnz = res.W.nnz

        def run(r):
            r.reset()
            return r.run(X)

        engines = {"fr": lambda: run(res), "fr32": lambda: run(res32)}
        if use_rpy:
            rr = RPyReservoir(units=N, lr=LR, sr=SR, W=res.W.copy(), Win=res.Win.copy(),
                              bias=res.bias.copy())
            rr.initialize(X)

            def rpy():
                rr.reset()
                return rr.run(X)
            engines["rpy"] = rpy
        t = time_engines(engines, {k: (1 if k == "rpy" else repeat) for k in engines})
        cells = []
        for key in ("fr", "fr32") + (("rpy",) if use_rpy else ()):
            us = t[key] / steps * 1e6
            cells.append(f"{us:.2f} [{us * 1e3 / nnz:.2f}]")
        cells[0] = cells[0] + f" ({res.threads_used_})"
        line = f"| {N} | {nnz} | " + " | ".join(cells) + " |"
        if use_rpy:
            diff = np.abs(np.asarray(t.outputs["rpy"]) - t.outputs["fr"]).max()
            line += f" {t['rpy'] / t['fr']:.1f}x (states differ by {diff:.0e}) |"
        print(line, flush=True)
    print()


def scale_child(engine, N, steps):
    """The scale task in this process; prints a JSON line of its figures."""
    series = mackey_glass(steps + 1, discard=500)
    X, Y = series[:steps].reshape(-1, 1), series[1:steps + 1].reshape(-1, 1)
    res = Reservoir(N, sr=SR, lr=LR, degree=20, seed=1)
    res.initialize(1)
    if engine == "reservoirpy":
        model = RPyReservoir(units=N, lr=LR, sr=SR, W=res.W.copy(), Win=res.Win.copy(),
                             bias=res.bias.copy()) >> RPyRidge(ridge=SCALE_RIDGE)
        del res
    # ru_maxrss: the peak so far, in kilobytes on Linux
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    if engine == "fastrnn":
        coef = ESN(res, Ridge(SCALE_RIDGE)).fit(X, Y, warmup=WARMUP).readout.coef_
    else:
        model.fit(X, Y, warmup=WARMUP)
        coef = model.nodes[-1].Wout
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_above_start": peak - base,
                      "coef_norm": float(np.linalg.norm(coef))}))


def scale_task(N, steps, use_rpy):
    states = (steps * N) * 8
    gram = (N + 2) ** 2 * 8
    print(f"## Scale: N={N}, degree 20, {steps} steps, run + ridge fit (ridge {SCALE_RIDGE}) "
          f"on all units "
          f"(one child process each; GB = 1e9 bytes)")
    print()
    print(f"Floor: states {states / 1e9:.2f} GB + Gram matrix {gram / 1e9:.2f} GB = "
          f"{(states + gram) / 1e9:.2f} GB")
    print()
    print("| library | run + fit (s) | peak memory above start (GB) | vs floor |")
    print("|---|---|---|---|")
    for engine in ("fastrnn",) + (("reservoirpy",) if use_rpy else ()):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--scale-child",
                              engine, "--scale-units", str(N), "--steps", str(steps)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"| {engine} | failed: {out.stderr.strip().splitlines()[-1:]} | | |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {engine} | {r['seconds']:.1f} | {r['peak_above_start'] / 1e9:.2f} | "
              f"{r['peak_above_start'] / (states + gram):.2f}x |", flush=True)
    print()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[100, 300, 1000, 2000, 5000, 10000, 20000])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--table-steps", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scale-units", type=int, default=20_000)
    p.add_argument("--no-reservoirpy", action="store_true")
    p.add_argument("--no-scale", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    p.add_argument("--scale-child", choices=("fastrnn", "reservoirpy"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.scale_child:
        return scale_child(args.scale_child, args.scale_units, args.steps)
    use_rpy = RPyReservoir is not None and not args.no_reservoirpy
    if args.quick:
        args.sizes, args.table_steps, args.repeat = [100, 300], 200, 1
        args.scale_units, args.steps = 500, 300
    print(f"# Reservoir scaling: lr={LR}, sr={SR}, ridge={RIDGE}; ReservoirPy "
          f"{'installed' if use_rpy else 'not installed/skipped'}")
    print()
    per_step_table(args.sizes, args.table_steps, args.repeat, use_rpy)
    if not args.no_scale:
        scale_task(args.scale_units, args.steps, use_rpy)


if __name__ == "__main__":
    main()
