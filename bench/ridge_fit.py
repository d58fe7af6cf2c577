"""fastrnn's ridge fit against one BLAS syrk of the same states (the floor
of any normal-equations fit), float64 and float32, with the fit's accuracy.

Issue 14's setting: Mackey-Glass through a reservoir (lr = 0.3, sr = 0.9,
connectivity 0.1), 10,000 steps, warm-up 100, ridge 1e-6; the states S
(9,900 x N) and the next value as target. For each N and precision:
``Ridge(1e-6, dtype=...).fit(S, Y)`` and ``syrk(S^T)`` timed side by side
(bench/timing.py's rule: blocks of runs after a warm-up, blocks in turn, the
best block median), their ratio (goal: at most 1.5), the solver used, and
the fit's relative error against a reference solved by QR of the augmented
least-squares problem in float64; for float32 states also the float64
readout (``Ridge(1e-6)``, the states converted), against the same ssyrk.
Run it alone on the machine:

    python bench/ridge_fit.py [--quick] [--sizes 100 500 2000]
"""
import argparse
import warnings

import numpy as np
import scipy.linalg as sla
import scipy.linalg.blas as blas

from fastrnn.analysis.datasets import mackey_glass
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir
from timing import rule, time_engines

LR, SR, CONN, RIDGE, WARMUP = 0.3, 0.9, 0.1, 1e-6, 100


def reference(S, y):
    """The ridge solution by QR of [S_c; sqrt(ridge) I] (float64): the
    condition number is not squared."""
    S = S.astype(np.float64)
    N = S.shape[1]
    A = np.vstack([S - S.mean(0), np.sqrt(RIDGE) * np.eye(N)])
    b = np.concatenate([y - y.mean(), np.zeros(N)])
    q, r = sla.qr(A, mode="economic")
    return sla.solve_triangular(r, q.T @ b)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.steps, args.repeat = [50, 100], 1000, 2
    if args.steps <= WARMUP or args.repeat < 1 or min(args.sizes) < 1:
        p.error("--steps must exceed the warm-up (100), --repeat and --sizes be at least 1")
    series = mackey_glass(args.steps + 1, discard=500)
    X, y = series[:args.steps], series[WARMUP + 1:args.steps + 1].reshape(-1)
    print(f"# Ridge fit against syrk: Mackey-Glass, T={args.steps}, warmup={WARMUP}, "
          f"lr={LR}, sr={SR}, connectivity={CONN}, ridge={RIDGE}; {rule(args.repeat)}")
    print()
    print("| N | states | readout | fit (ms) | syrk (ms) | fit / syrk | solver | "
          "relative error |")
    print("|---|---|---|---|---|---|---|---|")
    for N in args.sizes:
        res = Reservoir(N, sr=SR, lr=LR, rc_connectivity=CONN, seed=N)
        res.initialize(1)
        res32 = Reservoir(N, lr=LR, W=res.W, Win=res.Win, bias=res.bias, dtype=np.float32)
        for states_dtype, r in ((np.float64, res), (np.float32, res32)):
            S = r.run(X)[WARMUP:].reshape(-1, N)
            w_ref = reference(S, y)
            syrk = blas.dsyrk if states_dtype == np.float64 else blas.ssyrk
            readouts = [states_dtype] + ([np.float64] if states_dtype == np.float32 else [])
            engines = {"syrk": lambda S=S, syrk=syrk: syrk(1.0, S.T, trans=0)}
            for d in readouts:
                engines[np.dtype(d).name] = lambda S=S, d=d: Ridge(RIDGE, dtype=d).fit(S, y)
            with warnings.catch_warnings():
                # float32 normal equations at ridge 1e-6 are not positive
                # definite: their fallback warns on every call
                warnings.simplefilter("ignore", RuntimeWarning)
                t = time_engines(engines, args.repeat)
            for d in readouts:
                name = np.dtype(d).name
                fit = t.outputs[name]
                err = np.linalg.norm(fit.coef_ - w_ref) / np.linalg.norm(w_ref)
                print(f"| {N} | {np.dtype(states_dtype).name} | {name} | {t[name] * 1e3:.2f} | "
                      f"{t['syrk'] * 1e3:.2f} | {t[name] / t['syrk']:.2f} | "
                      f"{fit.solver_used_} | {err:.1e} |", flush=True)


if __name__ == "__main__":
    main()
