"""Fitting, searching and predicting on many series: one process against
fastrnn.dask on a local cluster, with the bytes the cluster moved.

Issue 7's setting by default: 64 NARMA10 series of 5,000 steps, a reservoir
of N = 500 units (sr 0.9, lr 0.3, connectivity 0.1), ridge 1e-6, warmup 100.
Timed side by side in one run by bench/timing.py's rule (blocks of --repeat
calls after a warm-up, a few rounds, the best block median), each against
its one-process baseline:

- fit: ``esn.fit`` on the list in this process, against
  ``fastrnn.dask.fit_esn`` on Dask's local threads (no cluster) and on a
  LocalCluster of --workers processes x 1 thread, with the series in memory
  (scattered by each call) and as .npy paths read by the workers;
- search: a serial loop over a grid of 4 reservoirs x 2 ridge values (fit on
  the first 3/4 of the series, NRMSE on the rest), against
  ``fastrnn.dask.search`` on the cluster (the training data scattered once
  per call; one task per reservoir, its ridge values sharing one harvest of
  the states);
- predict: ``esn.predict`` of every series in this process, against
  ``fastrnn.dask.predict`` on the cluster (the model broadcast once per call).

Every result is checked against its baseline: the readout's relative
difference and that of the outputs on an unseen series for fit, the largest
score difference for search (0: the same computation), the largest output
difference for predict (0: the same computation).

Bytes moved: every process of the cluster (this client, the scheduler, each
worker) counts the bytes it writes to its TCP connections, by wrapping
``distributed.comm.tcp.TCP.write`` (which returns the bytes of the frames it
sent) before the timed calls. A call's bytes are the growth of the sums over
all its runs (warm-ups included) divided by their number: its data, task
specifications and
results, and the few heartbeats of those seconds. Dask's worker-to-worker
transfer log (``Worker.transfer_incoming_log``) is not enough on its own: it
misses the client's scatters and the results gathered.

Dask's worker processes start with one BLAS thread each; this process uses
OpenBLAS's default, printed below. Memory: the search keeps each candidate's
training states (3/4 of the series x steps x units doubles, ~0.9 GB at the
defaults) in each worker and in this process. Run it under the benchmark
lock, on an otherwise idle machine:

    flock /tmp/fastrnn-bench.lock python bench/compare_dask.py

and with small sizes to check that it works:

    python bench/compare_dask.py --series 8 --steps 300 --units 50 --repeat 1
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
from timing import rule, time_engines

try:
    from fastrnn import dask as fdask
    from dask.distributed import Client, LocalCluster
except ImportError:
    sys.exit('this benchmark needs Dask: pip install "dask[distributed]"')

LR, SR, CONN, RIDGE, WARMUP = 0.3, 0.9, 0.1, 1e-6, 100
# Seconds before each timed call: OpenBLAS's threads spin ~0.1 s after a call
# and would compete with the next one.
PAUSE = 0.3


def make_esn(units):
    res = fastrnn.Reservoir(units, sr=SR, lr=LR, rc_connectivity=CONN, seed=0)
    res.initialize(1)   # draw Win here, outside the timed calls
    return fastrnn.ESN(res, fastrnn.Ridge(RIDGE))


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    return ", ".join(f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info()
                     if i["user_api"] == "blas") or "none loaded"


# ------------------------------------------------------------ bytes moved
def count_tcp_bytes():
    """Wrap TCP.write in this process so that it adds up the bytes it sends
    (run in the client, the scheduler and every worker)."""
    from distributed.comm import tcp
    if getattr(tcp.TCP, "fastrnn_bytes_written", None) is not None:
        return
    write = tcp.TCP.write

    async def counted_write(self, msg, serializers=None, on_error="message"):
        n = await write(self, msg, serializers=serializers, on_error=on_error)
        tcp.TCP.fastrnn_bytes_written += n
        return n

    tcp.TCP.fastrnn_bytes_written = 0
    tcp.TCP.write = counted_write


def tcp_bytes_written():
    from distributed.comm import tcp
    return tcp.TCP.fastrnn_bytes_written


class ByteMeter:
    """Bytes written to TCP by the client, the scheduler and the workers."""

    def __init__(self, client):
        self.client = client
        count_tcp_bytes()
        client.run_on_scheduler(count_tcp_bytes)
        client.run(count_tcp_bytes)

    def read(self):
        # Read the client's own count first: the two calls that read the
        # others write a little themselves.
        own = tcp_bytes_written()
        return np.array([own, self.client.run_on_scheduler(tcp_bytes_written),
                         sum(self.client.run(tcp_bytes_written).values())], dtype=float)

    def timed(self, fn, repeat):
        """Seconds per call of ``fn`` alone (the bench rule: its bytes could not
        be told from another engine's if they took turns), its last result,
        and the bytes one call moved, by role."""
        calls = []

        def counted():
            calls.append(1)
            return fn()

        before = self.read()
        t = time_engines({"call": counted}, repeat, pause=PAUSE)
        return t["call"], t.outputs["call"], (self.read() - before) / len(calls)


# ------------------------------------------------------------------ search
def grid_for(units):
    return {"units": [units], "sr": [0.5, SR], "lr": [LR, 1.0], "ridge": [1e-8, RIDGE]}


def serial_search(grid, train, valid):
    """The loop a user would write in one process: one fit per candidate."""
    scores = {}
    for sr in grid["sr"]:
        for lr in grid["lr"]:
            for ridge in grid["ridge"]:
                res = fastrnn.Reservoir(grid["units"][0], sr=sr, lr=lr, seed=0)
                esn = fastrnn.ESN(res, fastrnn.Ridge(ridge)).fit(*train, warmup=WARMUP)
                pred = esn.predict(valid[0])
                scores[(sr, lr, ridge)] = float(np.mean(
                    [fastrnn.metrics.nrmse(y, p) for y, p in zip(valid[1], pred)]))
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--units", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.series < 4 or args.steps <= WARMUP or args.units < 1 or args.workers < 1 \
            or args.repeat < 1:
        ap.error(f"need --series >= 4, --steps > {WARMUP} (the warmup), --units, --workers "
                 f"and --repeat >= 1")

    pairs = [datasets.narma(args.steps, seed=s) for s in range(args.series)]
    X, Y = [p[0] for p in pairs], [p[1] for p in pairs]
    n_train = args.series * 3 // 4
    train, valid = (X[:n_train], Y[:n_train]), (X[n_train:], Y[n_train:])
    grid = grid_for(args.units)
    print(f"{args.series} series x {args.steps} steps, N = {args.units}, warmup {WARMUP}, "
          f"ridge {RIDGE}; search: {n_train} training and {args.series - n_train} "
          f"validation series, grid {grid}")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; this process's "
          f"BLAS threads: {blas_threads()}")

    # Drawn once; each timed call fits a fresh copy.
    proto = make_esn(args.units)

    def fresh():
        return copy.deepcopy(proto)

    rows = []      # (section, name, seconds, baseline seconds, check, bytes by role)
    fits = time_engines({"fit": lambda: fresh().fit(X, Y, warmup=WARMUP),
                         "local": lambda: fdask.fit_esn(fresh(), X, Y, warmup=WARMUP)},
                        args.repeat, pause=PAUSE)
    t_fit, ref = fits["fit"], fits.outputs["fit"]
    rows.append(("fit", "one process, esn.fit(list)", t_fit, t_fit, "-", None))
    # A QR refit (solver "auto" on badly conditioned states) would make the
    # baseline do work the streamed fit never does: say which solve ran.
    print(f"baseline solve: {ref.readout.solver_used_}, rcond {ref.readout.rcond_:.1e}")

    # Near-singular normal equations (small ridge, large N) turn a different
    # order of the same sums into visible changes of W; the predictions, on a
    # series none of them saw, are what should agree closely.
    u_test = datasets.narma(2000, seed=10_000)[0]
    pred_test = ref.predict(u_test)

    def check_fit(esn):
        a, b = esn.readout.coef_, ref.readout.coef_
        p = esn.predict(u_test)
        return (f"W {np.linalg.norm(a - b) / np.linalg.norm(b):.1e}, "
                f"y {np.linalg.norm(p - pred_test) / np.linalg.norm(pred_test):.1e}")

    rows.append(("fit", "fit_esn, local threads (no cluster)", fits["local"], t_fit,
                 check_fit(fits.outputs["local"]), None))

    loops = time_engines({"predict": lambda: [copy.deepcopy(ref).predict(x) for x in X],
                          "search": lambda: serial_search(grid, train, valid)},
                         args.repeat, pause=PAUSE)
    t_pred, local_pred = loops["predict"], loops.outputs["predict"]
    rows.append(("predict", "one process, esn.predict per series", t_pred, t_pred, "-", None))
    t_search, serial = loops["search"], loops.outputs["search"]
    rows.append(("search", "one process, a loop of esn.fit", t_search, t_search, "-", None))

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
            meter = ByteMeter(client)
            # Untimed calls: the workers import fastrnn and warm up.
            fdask.fit_esn(fresh(), X[:2], Y[:2], warmup=WARMUP, client=client)
            fdask.predict(ref, X[:2], client=client)
            workers = f"{args.workers} worker processes"

            t, esn, moved = meter.timed(
                lambda: fdask.fit_esn(fresh(), X, Y, warmup=WARMUP, client=client),
                args.repeat)
            rows.append(("fit", f"fit_esn, {workers}, arrays", t, t_fit, check_fit(esn),
                         moved))
            t, esn, moved = meter.timed(
                lambda: fdask.fit_esn(fresh(), px, py, warmup=WARMUP, client=client),
                args.repeat)
            rows.append(("fit", f"fit_esn, {workers}, .npy paths", t, t_fit,
                         check_fit(esn), moved))

            t, out, moved = meter.timed(lambda: fdask.predict(ref, X, client=client),
                                        args.repeat)
            diff = max(float(np.max(np.abs(a - b))) for a, b in zip(out, local_pred))
            rows.append(("predict", f"predict, {workers}, arrays", t, t_pred,
                         f"max |dy| {diff:.1e}", moved))

            t, found, moved = meter.timed(
                lambda: fdask.search(grid, train, valid, client=client, warmup=WARMUP,
                                     refit=False), args.repeat)
            diff = max(abs(r["score"] - serial[(r["params"]["sr"], r["params"]["lr"],
                                                  r["params"]["ridge"])])
                       for r in found.results)
            rows.append(("search", f"search, {workers}, arrays", t, t_search,
                         f"max |d score| {diff:.1e}", moved))

    data_mb = sum(x.nbytes + y.nbytes for x, y in zip(X, Y)) / 1e6
    model_mb = sum(a.nbytes for a in (ref.reservoir.W.data, ref.reservoir.Win,
                                      ref.readout.coef_)) / 1e6
    print(f"\nsizes: the series {data_mb:.2f} MB (the training part of the search "
          f"{data_mb * n_train / args.series:.2f} MB), the fitted ESN's arrays "
          f"~{model_mb:.2f} MB")
    print(f"\nseconds per call: {rule(args.repeat)} (those on the cluster one at a time)")
    print(f"\n{'':8s}{'':40s} {'seconds':>9s} {'speed-up':>9s}  {'MB sent by client':>17s} "
          f"{'scheduler':>9s} {'workers':>8s}  check")
    order = ["fit", "predict", "search"]
    for section, name, t, base, check, moved in sorted(rows, key=lambda r: order.index(r[0])):
        mb = "" if moved is None else \
            f"{moved[0] / 1e6:17.2f} {moved[1] / 1e6:9.2f} {moved[2] / 1e6:8.2f}"
        print(f"{section:8s}{name:40s} {t:9.3f} {base / t:8.2f}x  {mb:>36s}  {check}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
