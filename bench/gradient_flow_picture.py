"""The vanishing gradient of Goodfellow et al. (2016), sec. 10.7, and its remedies, in one picture.

    python bench/gradient_flow_picture.py [--task adding] [--length 50]
        [--updates 1500] [--out docs/gradient_flow.png]

Trains each method of bench/experiments_longterm.py (same settings, seed 0)
on one task and length, then draws fastrnn.diagnostics.gradient_flow of every
trained model on held-out sequences, overlaid: how |dL_T/ds_t| of a loss at
the last step decays with the lag T-1-t. Prints, per method, whether it
solved the task, the decay over the whole sequence, the spectral radius and
the Lyapunov exponent.
"""
import argparse

import numpy as np

from experiments_longterm import TASKS, _method_table, train_one
from fastrnn import diagnostics


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="adding", choices=list(TASKS))
    ap.add_argument("--length", type=int, default=50)
    ap.add_argument("--updates", type=int, default=1500)
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--out", default="docs/gradient_flow.png")
    args = ap.parse_args()
    gen, loss, _, _ = TASKS[args.task]
    x, y = gen(64, args.length, seed=3000)
    # gradient_flow takes a target at every step; only the last one enters
    # the final-step curve, and these tasks are scored at the last step.
    y_steps = np.repeat(y[None], args.length, axis=0)
    flows = {}
    print(f"{args.task}, T={args.length}, at most {args.updates} updates, seed 0")
    print(f"{'method':>12} | solved at | |dL_T/ds_0| / |dL_T/ds_T-1| | rho(W) | Lyapunov")
    for method in args.methods or list(_method_table()):
        model, solved_at, _ = train_one(args.task, args.length, method, 0, args.updates,
                                        args.hidden, args.batch)
        flow = diagnostics.gradient_flow(model, x, y_steps, loss=loss)
        flows[method] = flow
        g = flow.final_loss_grad_norm
        print(f"{method:>12} | {str(solved_at or '-'):>9} | {g[0] / g[-1]:27.3e} | "
              f"{flow.spectral_radius:6.2f} | {flow.lyapunov_exponent:8.3f}", flush=True)
    diagnostics.plot_gradient_flow(
        flows, args.out, title=f"{args.task}, T={args.length}, after training")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
