"""Fitting an ESN readout on many series: one process against fastrnn.dask.

Issue 7's setting: 64 NARMA10 series of 5,000 steps, a reservoir of N = 500
units (sr 0.9, lr 0.3, connectivity 0.1), ridge 1e-6, warmup 100. Timed, side
by side in one run (medians of --repeat):

- ``esn.fit`` on the list, in this process (the baseline);
- ``fastrnn.dask.fit_esn`` on a LocalCluster of 2 worker processes x 1
  thread, with the series in memory (scattered to the workers by each call)
  and as .npy paths read by the workers;
- ``fastrnn.dask.fit_esn`` without a cluster (Dask's local threads in this
  process; the kernels release the GIL).

The cluster's start-up is timed apart, once. Every result is checked against
the baseline: relative difference of the readout weights, and of the outputs
on an unseen series. Dask's worker
processes start with one BLAS thread each; the baseline process uses
OpenBLAS's default, printed below. Run it under the benchmark lock:

    flock /tmp/fastrnn-bench.lock python bench/compare_dask.py
"""
import argparse
import copy
import os
import sys
import tempfile
import time

import numpy as np


import fastrnn
from fastrnn import datasets

try:
    from fastrnn import dask as fdask
    from dask.distributed import Client, LocalCluster
except ImportError:
    sys.exit('this benchmark needs Dask: pip install "dask[distributed]"')

LR, SR, CONN, RIDGE, WARMUP = 0.3, 0.9, 0.1, 1e-6, 100


def make_esn(units):
    res = fastrnn.Reservoir(units, sr=SR, lr=LR, rc_connectivity=CONN, seed=0)
    res.initialize(1)   # draw Win here, outside the timed calls
    return fastrnn.ESN(res, fastrnn.Ridge(RIDGE))


def median_time(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        time.sleep(0.3)     # let OpenBLAS's spinning threads go idle first
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    return ", ".join(f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info()
                     if i["user_api"] == "blas") or "none loaded"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--units", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    pairs = [datasets.narma(args.steps, seed=s) for s in range(args.series)]
    X, Y = [p[0] for p in pairs], [p[1] for p in pairs]
    print(f"{args.series} series x {args.steps} steps, N = {args.units}, warmup {WARMUP}, "
          f"ridge {RIDGE}; load average {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"this process's BLAS threads: {blas_threads()}")

    # Drawn once; each timed call fits a fresh copy.
    proto = make_esn(args.units)

    def fresh():
        return copy.deepcopy(proto)

    rows = []
    t_one, ref = median_time(lambda: fresh().fit(X, Y, warmup=WARMUP), args.repeat)
    rows.append(("one process, esn.fit(list)", t_one, (0.0, 0.0)))
    # A QR refit (solver "auto" on badly conditioned states) would make the
    # baseline do work the streamed fit never does: say which solve ran.
    print(f"baseline solve: {ref.readout.solver_used_}, rcond {ref.readout.rcond_:.1e}")

    # Near-singular normal equations (small ridge, large N) turn a different
    # order of the same sums into visible changes of W; the predictions, on a
    # series none of them saw, are what should agree closely.
    u_test = datasets.narma(2000, seed=10_000)[0]
    pred_ref = ref.predict(u_test)

    def check(esn):
        a, b = esn.readout.coef_, ref.readout.coef_
        p = esn.predict(u_test)
        return (float(np.linalg.norm(a - b) / np.linalg.norm(b)),
                float(np.linalg.norm(p - pred_ref) / np.linalg.norm(pred_ref)))

    t_threads, esn = median_time(
        lambda: fdask.fit_esn(fresh(), X, Y, warmup=WARMUP), args.repeat)
    rows.append(("fit_esn, local threads (no cluster)", t_threads, check(esn)))

    with tempfile.TemporaryDirectory() as tmp:
        px, py = [], []
        for i, (x, y) in enumerate(zip(X, Y)):
            px.append(os.path.join(tmp, f"u{i}.npy"))
            py.append(os.path.join(tmp, f"y{i}.npy"))
            np.save(px[-1], x)
            np.save(py[-1], y)
        t0 = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            startup = time.perf_counter() - t0
            info = client.run(blas_threads)
            print(f"cluster start-up {startup:.2f} s (not in the timings); workers' BLAS "
                  f"threads: {sorted(set(info.values()))}")
            # One untimed call: the workers import fastrnn and warm up.
            fdask.fit_esn(fresh(), X[:2], Y[:2], warmup=WARMUP, client=client)
            t_mem, esn = median_time(
                lambda: fdask.fit_esn(fresh(), X, Y, warmup=WARMUP,
                                      client=client), args.repeat)
            rows.append((f"fit_esn, {args.workers} worker processes, arrays", t_mem,
                         check(esn)))
            t_paths, esn = median_time(
                lambda: fdask.fit_esn(fresh(), px, py, warmup=WARMUP,
                                      client=client), args.repeat)
            rows.append((f"fit_esn, {args.workers} worker processes, .npy paths", t_paths,
                         check(esn)))

    print(f"\n{'':44s} {'median s':>9s} {'speed-up':>9s} {'rel. diff W':>12s} "
          f"{'of outputs':>11s}")
    for name, t, (dw, dy) in rows:
        print(f"{name:44s} {t:9.3f} {t_one / t:8.2f}x {dw:12.1e} {dy:11.1e}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
