"""Reproduce Jaeger's (2001, GMD Report 148) Mackey-Glass tau = 17 experiment.

Constants of the paper (as restated in fastrnn issue 4):

- data: Euler with step 0.1 and a 170-step delay, one sample per time unit
  (``fastrnn.datasets.mackey_glass`` defaults), squashed with tanh(y - 1);
- network: 400 leaky units,
      x(n+1) = (1 - C a) x(n) + C tanh(Win u(n+1) + W x(n) + Wback y(n)),
  C = 0.44, a = 0.9; W entries 0, +0.4, -0.4 with probabilities 0.9875,
  0.00625, 0.00625, rescaled to spectral radius 0.79; constant input 0.2 with
  Win entries 0, +0.14, -0.14 (probabilities 0.5, 0.25, 0.25); output
  feedback Wback uniform in [-0.56, 0.56];
- training: teacher forcing from a zero state, the first 1000 states
  discarded, linear (ridge) regression of y(n) on the states;
- test: 1000 teacher-forced steps from a zero state, then an 84-step free
  run; NRMSE84 compares the 84th free-run prediction with the truth in the
  original coordinates, normalised by the standard deviation of the series,
  pooled over test runs as sqrt(mean squared error) / std.

The update is a leaky ESN in fastrnn's form: with z = a x,
    z(n+1) = (1 - lr) z(n) + lr tanh(Win u + (W / a) z(n) + Wback y(n)),
lr = C a, so ``Reservoir(lr=C*a, W=W/a)``; the readout on z equals the one on
x (the ridge is scaled by a^2 to keep the same penalty).

Usage:  python bench/jaeger_mackey_glass.py [--train 3000 --ridge 1e-14]
        python bench/jaeger_mackey_glass.py --train 21000 --ridge 1e-12
"""
import argparse
import time

import numpy as np
import scipy.sparse as sp


from fastrnn.analysis.datasets import mackey_glass
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir, spectral_radius

N = 400
C, A = 0.44, 0.9
SR = 0.79
U_CONST = 0.2
WASHOUT = 1000
TEST_FORCED = 1000
HORIZON = 84


def jaeger_reservoir(rng):
    """The matrices of the paper, drawn with ``rng``, as a fastrnn Reservoir."""
    W = rng.choice([0.0, 0.4, -0.4], size=(N, N), p=[0.9875, 0.00625, 0.00625])
    W = sp.csr_matrix(W)
    W *= SR / spectral_radius(W)
    Win = rng.choice([0.0, 0.14, -0.14], size=(N, 1), p=[0.5, 0.25, 0.25])
    Wfb = rng.uniform(-0.56, 0.56, size=(N, 1))
    return Reservoir(N, lr=C * A, W=W / A, Win=Win, Wfb=Wfb)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=3000, help="training steps (incl. washout)")
    p.add_argument("--ridge", type=float, default=1e-14)
    p.add_argument("--solver", default="auto", choices=["auto", "cholesky", "qr"])
    p.add_argument("--reservoirs", type=int, default=20)
    p.add_argument("--segments", type=int, default=20)
    p.add_argument("--seed", type=int, default=2001)
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads (the matrices are small: one thread avoids "
                        "OpenBLAS's spinning workers; needs threadpoolctl)")
    args = p.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.blas_threads)
    except ImportError:
        pass

    t0 = time.perf_counter()
    seg_len = TEST_FORCED + HORIZON
    total = args.train + args.segments * seg_len
    raw = mackey_glass(total, discard=1000)[:, 0]          # original coordinates
    data = np.tanh(raw - 1.0)                              # squashed, as the network sees it
    sigma = raw.std()
    train = data[: args.train, None]
    test = data[args.train:].reshape(args.segments, seg_len).T[:, :, None]   # (T, S, 1)
    truth = raw[args.train:].reshape(args.segments, seg_len)[:, -1]          # d(1084)
    t_data = time.perf_counter() - t0

    rng = np.random.default_rng(args.seed)
    per_reservoir, sq_errors, solvers = [], [], set()
    t1 = time.perf_counter()
    for _ in range(args.reservoirs):
        esn = ESN(jaeger_reservoir(rng), Ridge(args.ridge * A * A, solver=args.solver),
                  feedback=True)
        esn.fit(np.full((args.train, 1), U_CONST), train, warmup=WASHOUT)
        solvers.add(esn.readout.solver_used_)
        esn.reset()
        inputs = np.full((seg_len, args.segments, 1), U_CONST)
        free = esn.generate(HORIZON, teacher=test[:TEST_FORCED], inputs=inputs)
        pred = np.arctanh(np.clip(free[-1, :, 0], -1 + 1e-15, 1 - 1e-15)) + 1.0
        err2 = (pred - truth) ** 2
        sq_errors.append(err2)
        per_reservoir.append(np.sqrt(err2.mean()) / sigma)
    t_run = time.perf_counter() - t1
    per_reservoir = np.array(per_reservoir)
    pooled = np.sqrt(np.concatenate(sq_errors).mean()) / sigma
    print(f"Jaeger 2001 Mackey-Glass tau=17, N={N}, train={args.train} "
          f"(washout {WASHOUT}), ridge={args.ridge:g}, solver={args.solver} "
          f"(used: {', '.join(sorted(solvers))})")
    print(f"{args.reservoirs} reservoirs x {args.segments} test segments")
    print("NRMSE84 per reservoir: " + " ".join(f"{v:.2e}" for v in np.sort(per_reservoir)))
    print(f"median NRMSE84 over reservoirs: {np.median(per_reservoir):.3e}")
    print(f"pooled NRMSE84 (all runs):      {pooled:.3e}")
    print(f"time: data {t_data:.2f} s, {args.reservoirs} x (build + fit + test) "
          f"{t_run:.2f} s")
    return np.median(per_reservoir), pooled


if __name__ == "__main__":
    main()
