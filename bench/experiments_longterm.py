"""The classic long-term-dependency experiments, as a paper's table.

    python bench/experiments_longterm.py [--tasks adding temporal_order latching]
        [--lengths 10 20 50 100 200] [--seeds 3] [--updates 1500] [--methods ...]

For each task (fastrnn.tasks), sequence length and method, train several
seeds for a fixed budget of updates, stopping early once the held-out
criterion of the task is met, and print the fraction of seeds that solved it
and the wall time. The claims of the literature to check: plain SGD on a tanh
RNN fails beyond lengths of 10-20 (Goodfellow et al. (2016), citing Bengio et al. 1994);
clipping (and the regulariser of eq. 10.16) extend the span; an LSTM solves
the adding problem at length 100.

Methods whose layer is not in this build of fastrnn are skipped, with a note.
"""
import argparse
import time

import numpy as np

import fastrnn
from fastrnn import losses, tasks
from fastrnn.training.optim import SGD, Adam
from fastrnn.training.train import Sequential, train

TASKS = {
    # name: (generator, loss, output size, is_solved(pred_last, y))
    "adding": (tasks.adding_problem, "mse", 1,
               lambda out, y: float(np.mean((out - y) ** 2)) < tasks.ADDING_SOLVED_MSE),
    "temporal_order": (tasks.temporal_order, "nll", 4,
                       lambda out, y: float(np.mean(out.argmax(-1) == y))
                       >= tasks.TEMPORAL_ORDER_SOLVED_ACCURACY),
    "latching": (tasks.latching, "nll", 2,
                 lambda out, y: float(np.mean(out.argmax(-1) == y))
                 >= tasks.LATCHING_SOLVED_ACCURACY),
}


def _rnn(D, H, seed):
    return fastrnn.RNN(D, H, seed=seed)


def _method_table():
    """name -> (make recurrent layer, make optimiser, extra train() arguments);
    only what this build has."""
    sgd = lambda m: SGD(m, lr=0.05, momentum=0.9)  # noqa: E731
    sgd_clip = lambda m: SGD(m, lr=0.05, momentum=0.9, clip_norm=1.0)  # noqa: E731
    table = {
        "sgd": (_rnn, sgd, {}),
        "sgd+clip": (_rnn, sgd_clip, {}),
        # the tanh RNN is the leaky layer with tau = 1, which hosts the regulariser
        # Omega sums (ratio - 1)^2 over the T steps, which outweighs a loss
        # of ~0.1 unless its weight is small: on adding, T=10, 3 seeds, 3000
        # updates, weights 0 / 0.01 / 0.1 solved 1 / 3 / 1 runs.
        "clip+omega": (lambda D, H, seed: fastrnn.LeakyRNN(D, H, tau=1.0, seed=seed),
                       sgd_clip, {"omega": 0.01}),
        # the control of clip+omega: the same layer and initialisation, no Omega
        "clip,tau=1": (lambda D, H, seed: fastrnn.LeakyRNN(D, H, tau=1.0, seed=seed),
                       sgd_clip, {}),
        "leaky+clip": (lambda D, H, seed: fastrnn.LeakyRNN(D, H, tau=(1.0, 30.0), seed=seed),
                       sgd_clip, {}),
    }
    if hasattr(fastrnn, "LSTM"):
        table["lstm"] = (lambda D, H, seed: fastrnn.LSTM(D, H, seed=seed),
                         lambda m: Adam(m, lr=0.01, clip_norm=1.0), {})
    return table


def run_one(task, length, method, seed, updates, hidden, batch):
    """(updates to solve or None, seconds) of one training run."""
    _, solved_at, seconds = train_one(task, length, method, seed, updates, hidden, batch)
    return solved_at, seconds


def train_one(task, length, method, seed, updates, hidden, batch):
    """(trained model, updates to solve or None, seconds) of one training run."""
    gen, loss, out_size, solved = TASKS[task]
    make_layer, make_opt, extra = _method_table()[method]
    x_tr, y_tr = gen(batch * 50, length, seed=1000 + seed)
    x_te, y_te = gen(1000, length, seed=2000 + seed)
    model = Sequential(make_layer(x_tr.shape[2], hidden, seed), fastrnn.Linear(hidden, out_size, seed=seed))
    opt = make_opt(model)
    epochs = max(1, updates // 50)
    state = {"solved_at": None}

    def check(epoch, history):
        out, _ = model.forward(x_te)
        if solved(out[-1], y_te):
            state["solved_at"] = (epoch + 1) * 50
            return True
        return False

    t0 = time.perf_counter()
    train(model, x_tr, y_tr, loss=loss, optimizer=opt, epochs=epochs, batch_size=batch,
          callbacks=[check], seed=seed, progress=False, **extra)
    return model, state["solved_at"], time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--lengths", nargs="+", type=int, default=[10, 20, 50, 100, 200])
    ap.add_argument("--methods", nargs="+", default=None)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--updates", type=int, default=1500)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=20)
    args = ap.parse_args()
    table = _method_table()
    methods = args.methods or list(table)
    missing = [m for m in methods if m not in table]
    if missing:
        print(f"skipped (not in this build): {missing}")
        methods = [m for m in methods if m in table]
    print(f"hidden {args.hidden}, batch {args.batch}, at most {args.updates} updates, "
          f"{args.seeds} seeds; cell = solved/seeds (median updates to solve), time")
    t_all = time.perf_counter()
    for task in args.tasks:
        print(f"\n{task}")
        print(f"{'method':>12} | " + " | ".join(f"{'T=' + str(T):>17}" for T in args.lengths))
        for method in methods:
            cells = []
            for T in args.lengths:
                results = [run_one(task, T, method, s, args.updates, args.hidden, args.batch)
                           for s in range(args.seeds)]
                ok = [r for r, _ in results if r is not None]
                secs = sum(t for _, t in results)
                med = f"{int(np.median(ok))}" if ok else "-"
                cells.append(f"{len(ok)}/{args.seeds} ({med:>5}) {secs:5.1f}s")
            print(f"{method:>12} | " + " | ".join(f"{c:>17}" for c in cells), flush=True)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
