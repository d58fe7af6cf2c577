"""fastrnn's reservoir against ReservoirPy (when installed) and a plain NumPy
loop, on the same Mackey-Glass series and the same matrices.

Issue 4's setting: 10,000 steps, lr = 0.3, sr = 0.9, connectivity 0.1,
N = 100, 500, 2000; ``run`` alone and run + ridge fit (warmup 100); and a
batch of B = 32 series of 10,000 steps at N = 500. Every implementation gets
the matrices fastrnn drew, and the states are checked against the NumPy loop.
The ridge fit is also compared with one BLAS syrk of the same states (the
floor of any normal-equations fit).

Timings follow bench/timing.py's rule (blocks of --repeat runs after a
warm-up, taken in turn for a few rounds, the best block median), all side by
side in this one process. Run it under the benchmark lock on a shared
machine:

    flock /tmp/fastrnn-bench.lock python bench/compare_reservoir.py
"""
import argparse
import sys
import time

import numpy as np
import scipy.linalg.blas as blas


from fastrnn.analysis.datasets import mackey_glass
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir import _reservoir
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir
from timing import rule, time_engines

try:
    import reservoirpy
    from reservoirpy.nodes import Reservoir as RPyReservoir
    from reservoirpy.nodes import Ridge as RPyRidge
except ImportError:  # optional
    reservoirpy = None

LR, SR, CONN, RIDGE, WARMUP = 0.3, 0.9, 0.1, 1e-6, 100


def numpy_run(W, Win, b, lr, X):
    """The plain NumPy loop: one sparse mat-vec (mat-mat for a batch) per step."""
    T = X.shape[0]
    batched = X.ndim == 3
    x = np.zeros((W.shape[0], X.shape[1]) if batched else W.shape[0])
    out = np.empty((T,) + x.shape)
    for t in range(T):
        pre = W @ x + (Win @ X[t].T if batched else Win @ X[t])
        x = (1 - lr) * x + lr * np.tanh(pre + (b[:, None] if batched else b))
        out[t] = x
    return out.transpose(0, 2, 1) if batched else out


def numpy_fit(states, Y):
    S = states[WARMUP:]
    Sc = S - S.mean(0)
    return np.linalg.solve(Sc.T @ Sc + RIDGE * np.eye(S.shape[1]), Sc.T @ (Y[WARMUP:] - Y[WARMUP:].mean(0)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=32,
                   help="series of the batch table (0: no batch table)")
    p.add_argument("--batch-units", type=int, default=500)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--slow-repeat", type=int, default=3,
                   help="repeats for the NumPy loop and ReservoirPy")
    p.add_argument("--no-reservoirpy", action="store_true")
    args = p.parse_args(argv)
    for name in ("steps", "batch_units", "repeat", "slow_repeat"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.batch < 0 or min(args.sizes) < 1:
        p.error("--batch must be at least 0 and every --sizes at least 1")
    use_rpy = reservoirpy is not None and not args.no_reservoirpy
    T = args.steps
    series = mackey_glass(T + 1 + args.batch * 50, discard=500)
    X, Y = series[:T], series[1:T + 1]
    print(f"# Reservoir benchmark: Mackey-Glass, T={T}, lr={LR}, sr={SR}, connectivity={CONN}, "
          f"ridge={RIDGE}, warmup={WARMUP}")
    print(f"# numpy {np.__version__}; ReservoirPy "
          f"{reservoirpy.__version__ if use_rpy else 'not installed/skipped'}; "
          f"{rule(args.repeat)} (fastrnn; {args.slow_repeat} for NumPy and ReservoirPy)")
    print(f"# one series' steps fetch x by "
          f"{'hardware gathers' if _reservoir.gathers_pay() else 'plain loads'} "
          f"(the faster on this CPU, measured once per process)")
    rows = []
    for N in args.sizes:
        t0 = time.perf_counter()
        res = Reservoir(N, sr=SR, lr=LR, rc_connectivity=CONN, seed=N)
        res.initialize(1)
        t_init = time.perf_counter() - t0
        res32 = Reservoir(N, lr=LR, W=res.W, Win=res.Win, bias=res.bias, dtype=np.float32)
        res1 = Reservoir(N, lr=LR, W=res.W, Win=res.Win, bias=res.bias, n_threads=1)
        W, Win, b = res.W, res.Win, res.bias

        def fr_run(r=res):
            r.reset()
            return r.run(X)

        def fr_fit():
            res.reset()
            return ESN(res, Ridge(RIDGE)).fit(X, Y, warmup=WARMUP)

        s_fr = fr_run()
        threads = res.threads_used_
        S = s_fr[WARMUP:]
        engines = {
            "fr": fr_run, "fr1": lambda: fr_run(res1), "fr32": lambda: fr_run(res32),
            "frfit": fr_fit, "ridge": lambda: Ridge(RIDGE).fit(S, Y[WARMUP:]),
            "syrk": lambda: blas.dsyrk(1.0, S.T, trans=0),
            "np": lambda: numpy_run(W, Win, b, LR, X),
            "npfit": lambda: numpy_fit(numpy_run(W, Win, b, LR, X), Y),
        }
        slow = {"np", "npfit"}
        if use_rpy:
            rr = RPyReservoir(units=N, lr=LR, sr=SR, W=W.copy(), Win=Win.copy(), bias=b.copy())
            rr.initialize(X)

            def rpy_run():
                rr.reset()
                return rr.run(X)

            def rpy_fit():
                rr.reset()
                model = rr >> RPyRidge(ridge=RIDGE)
                return model.fit(X, Y, warmup=WARMUP)

            engines.update(rpy=rpy_run, rpyfit=rpy_fit)
            slow |= {"rpy", "rpyfit"}
        t = time_engines(engines, {name: args.slow_repeat if name in slow else args.repeat
                                   for name in engines})
        s_np = t.outputs["np"]
        row = dict(t, N=N, init=t_init, threads=threads,
                   err=np.abs(s_fr - s_np).max(), err32=np.abs(t.outputs["fr32"] - s_np).max(),
                   solver=t.outputs["frfit"].readout.solver_used_)
        if use_rpy:
            row["err_rpy"] = np.abs(np.asarray(t.outputs["rpy"]) - s_np).max()
            t0 = time.perf_counter()
            RPyReservoir(units=N, lr=LR, sr=SR, rc_connectivity=CONN, seed=N).initialize(X)
            row["rpyinit"] = time.perf_counter() - t0
        rows.append(row)
        print(f"# N={N} done", file=sys.stderr, flush=True)

    print()
    print("## Single series (seconds; ratio = other / fastrnn float64)")
    print()
    head = "| N | fastrnn f64 run (threads) | f64 1 thread | fastrnn f32 run | NumPy loop run | "
    head += "ReservoirPy run | " if use_rpy else ""
    head += "fastrnn run+fit | NumPy run+fit | "
    head += "ReservoirPy run+fit | " if use_rpy else ""
    head += "ridge fit / syrk | max abs state diff vs NumPy (f64, f32"
    head += ", ReservoirPy) |" if use_rpy else ") |"
    print(head)
    print("|" + "---|" * head.count("|")[:-1] if False else "|" + "---|" * (head.count("|") - 1))
    for r in rows:
        line = (f"| {r['N']} | {r['fr']:.4f} ({r['threads']}) | {r['fr1']:.4f} | "
                f"{r['fr32']:.4f} ({r['fr'] / r['fr32']:.1f}x) | "
                f"{r['np']:.3f} ({r['np'] / r['fr']:.0f}x) | ")
        if use_rpy:
            line += f"{r['rpy']:.3f} ({r['rpy'] / r['fr']:.0f}x) | "
        line += f"{r['frfit']:.4f} | {r['npfit']:.3f} ({r['npfit'] / r['frfit']:.0f}x) | "
        if use_rpy:
            line += f"{r['rpyfit']:.3f} ({r['rpyfit'] / r['frfit']:.0f}x) | "
        line += (f"{r['ridge']:.4f} / {r['syrk']:.4f} = {r['ridge'] / r['syrk']:.2f} "
                 f"({r['solver']}) | {r['err']:.1e}, {r['err32']:.1e}")
        line += f", {r['err_rpy']:.1e} |" if use_rpy else " |"
        print(line)
    print()
    init = ", ".join(f"N={r['N']}: fastrnn {r['init']:.3f} s" +
                     (f" / ReservoirPy {r['rpyinit']:.3f} s" if use_rpy else "") for r in rows)
    print(f"Reservoir construction incl. spectral radius (one run each): {init}")

    # ---------------------------------------------------------------- batch
    if args.batch == 0:
        return
    N, B = args.batch_units, args.batch
    XB = np.stack([series[k * 50:k * 50 + T] for k in range(B)], axis=1)    # (T, B, 1)
    res = Reservoir(N, sr=SR, lr=LR, rc_connectivity=CONN, seed=7)
    res.initialize(1)
    res32 = Reservoir(N, lr=LR, W=res.W, Win=res.Win, bias=res.bias, dtype=np.float32)
    res1 = Reservoir(N, lr=LR, W=res.W, Win=res.Win, bias=res.bias, n_threads=1)

    def fr_batch(r=res):
        r.reset()
        return r.run(XB)

    t = time_engines({"fr": fr_batch, "fr1": lambda: fr_batch(res1),
                      "fr32": lambda: fr_batch(res32),
                      "np": lambda: numpy_run(res.W, res.Win, res.bias, LR, XB)},
                     {"fr": args.repeat, "fr1": args.repeat, "fr32": args.repeat,
                      "np": args.slow_repeat})
    threads = res.threads_used_
    t_fr, t_fr1, t_fr32, t_np = t["fr"], t["fr1"], t["fr32"], t["np"]
    s_fr, s_fr32, s_np = t.outputs["fr"], t.outputs["fr32"], t.outputs["np"]
    print()
    print(f"## Batch: B={B} series x {T} steps, N={N} (seconds; throughput in steps/s)")
    print()
    print("| implementation | time | series-steps / s | ratio to fastrnn f64 | "
          "max abs state diff vs NumPy |")
    print("|---|---|---|---|---|")
    steps = B * T
    print(f"| fastrnn f64 ({threads} threads) | {t_fr:.3f} | {steps / t_fr:.3g} | 1 | "
          f"{np.abs(s_fr - s_np).max():.1e} |")
    print(f"| fastrnn f64 (1 thread) | {t_fr1:.3f} | {steps / t_fr1:.3g} | {t_fr1 / t_fr:.2f} | "
          f"(same states) |")
    print(f"| fastrnn f32 | {t_fr32:.3f} | {steps / t_fr32:.3g} | {t_fr32 / t_fr:.2f} | "
          f"{np.abs(s_fr32 - s_np).max():.1e} |")
    print(f"| NumPy loop (CSR @ (N x B)) | {t_np:.3f} | {steps / t_np:.3g} | "
          f"{t_np / t_fr:.1f} | 0 |")
    if use_rpy:
        rr = RPyReservoir(units=N, lr=LR, sr=SR, W=res.W.copy(), Win=res.Win.copy(),
                          bias=res.bias.copy())
        XR = np.ascontiguousarray(XB.transpose(1, 0, 2))                     # (B, T, 1)
        rr.initialize(XR[0])

        def rpy_batch(workers):
            rr.reset()
            return rr.run(XR, workers=workers)

        # ReservoirPy given its best: one process, or its two workers
        t = time_engines({"rpy1": lambda: rpy_batch(1), "rpy2": lambda: rpy_batch(2)}, 1,
                         rounds=1)
        for key, label in (("rpy1", "one run"), ("rpy2", "workers=2")):
            t_rpy, s_rpy = t[key], t.outputs[key]
            diff = np.abs(np.asarray(s_rpy).transpose(1, 0, 2) - s_np).max()
            print(f"| ReservoirPy (3-D input, {label}) | {t_rpy:.3f} | {steps / t_rpy:.3g} | "
                  f"{t_rpy / t_fr:.1f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
