"""The standard reservoir-computing benchmarks in one table: fastrnn and
ReservoirPy (when installed) with the same hyperparameters and the same
matrices, side by side, error and time.

Rows:

- NARMA-10 (Atiya & Parlos 2000): one-step NRMSE of an ESN driven by u.
- Mackey-Glass (tau = 17, Jaeger 2001): the next sample from the present
  one, NRMSE of the one-step prediction, and of an 84-step free run (the
  prediction fed back as the next input; in fastrnn the ESN's own output
  feedback through Wfb = the input weights, the same network).
- Lorenz-63, NVAR (Gauthier et al. 2021): bench/compare_nvar.py's setup,
  NRMSE over one Lyapunov time of the free run.
- Lorenz-63, ESN: one-step prediction of the three coordinates, NRMSE.
- Multiple superimposed oscillators (MSO2, Jaeger 2004): one-step and a
  free run.
- Memory capacity (Jaeger 2002): the sum over delays 1..K of r^2, held-out.
- Japanese Vowels (Kudo et al. 1999): bench/japanese_vowels.py's
  ``japanese_vowels_row()`` (needs sktime's copy of the data), else skipped;
  ReservoirPy's column is the same pipeline on ReservoirPy's reservoir.

Both libraries get the same series, the same reservoir matrices (fastrnn's,
handed to ReservoirPy) and the same ridge (fastrnn's solved from the normal equations, as
ReservoirPy's, unless --solver says otherwise), so their errors agree to
rounding and the times compare like with like. A time is one fit plus its test run,
by bench/timing.py's rule (blocks in turn, best block median).

    flock /tmp/fastrnn-bench.lock python bench/benchmark_table.py [--quick]
"""
import argparse
import sys
import warnings

import numpy as np

from fastrnn import ESN, NVAR, NVARForecaster, Reservoir, Ridge
from fastrnn.analysis.datasets import lorenz, mackey_glass, memory_capacity_task, mso2, narma
from fastrnn.analysis.metrics import memory_capacity, nrmse
from compare_nvar import DELAY, DT, LYAPUNOV_EXPONENT, ORDER, RIDGE as NVAR_RIDGE, STRIDES
from compare_nvar import TRAIN as NVAR_TRAIN, WARMUP as NVAR_WARMUP, lorenz_series, scores
from timing import engines_ms, rule

try:
    import reservoirpy
    from reservoirpy.nodes import NVAR as RPyNVAR
    from reservoirpy.nodes import Reservoir as RPyReservoir
    from reservoirpy.nodes import Ridge as RPyRidge
except ImportError:  # optional
    reservoirpy = None

try:
    from japanese_vowels import japanese_vowels_row
except ImportError:  # written separately; the row is skipped without it
    japanese_vowels_row = None


def fastrnn_reservoir(N, *, sr, lr, input_scaling, D, seed, feedback=False):
    """A fastrnn reservoir with Win drawn for D inputs; with ``feedback`` the
    same weights carry the fed-back output instead (Wfb = Win, no input)."""
    res = Reservoir(N, sr=sr, lr=lr, input_scaling=input_scaling, input_connectivity=1.0,
                    rc_connectivity=min(1.0, 10.0 / N), seed=seed)
    res.initialize(D)
    if feedback:
        return Reservoir(N, lr=lr, W=res.W, Win=np.zeros((N, 0)), Wfb=res.Win, bias=res.bias)
    return res


def rpy_model(res, ridge, Win=None):
    """ReservoirPy's reservoir on fastrnn's matrices, and a ridge readout."""
    Win = res.Win if Win is None else Win
    rr = RPyReservoir(units=res.units, lr=res.lr, W=res.W.copy(), Win=np.array(Win),
                      bias=res.bias.copy())
    return rr >> RPyRidge(ridge=ridge)


def rpy_free_run(model, u, steps):
    """ReservoirPy's network fed its own prediction, from input ``u``."""
    out = np.empty((steps, u.shape[-1]))
    with np.errstate(all="ignore"):
        for i in range(steps):
            u = model(u)
            out[i] = u
    return out


# ------------------------------------------------------------------ rows
def driven_engines(res, ridge, X_fit, Y_fit, X_test, warmup, solver):
    """The two engines of a task where the inputs drive the reservoir: an
    ESN fitted on (X_fit, Y_fit) after ``warmup`` steps, then run on X_test
    from where the fit left its state, in fastrnn and in ReservoirPy."""

    def fr():
        res.reset()
        esn = ESN(res, Ridge(ridge, solver=solver))
        esn.fit(X_fit, Y_fit, warmup=warmup)
        return esn.predict(X_test)

    def rp():
        model = rpy_model(res, ridge)
        model.fit(X_fit, Y_fit, warmup=warmup)
        return model.run(X_test)

    return fr, rp


def narma_row(args):
    n_train, n_test, warmup = args.train, args.test, 100
    u, y = narma(n_train + n_test, 10, seed=0)
    res = fastrnn_reservoir(args.units, sr=0.95, lr=1.0, input_scaling=0.5, D=1, seed=1)
    fr, rp = driven_engines(res, 1e-7, u[:n_train], y[:n_train], u[n_train:], warmup,
                            args.solver)
    return "NARMA-10, one step", f"ESN N={args.units}", fr, rp, \
        lambda pred: nrmse(y[n_train:], pred)


def autoregressive_rows(name, series, args, *, sr, lr, input_scaling, ridge, free_steps):
    """One-step prediction (the true sample in) and a free run (the
    prediction fed back) of one series, two rows sharing one network."""
    n_train, n_test, warmup = args.train, args.test, 100
    s = series
    N = args.units
    res = fastrnn_reservoir(N, sr=sr, lr=lr, input_scaling=input_scaling, D=1, seed=2,
                            feedback=True)
    end = n_train + n_test   # the free run predicts s[end + 1 :]
    truth_free = s[end + 1:end + 1 + free_steps]

    def fr():
        res.reset()
        esn = ESN(res, Ridge(ridge, solver=args.solver), feedback=True)
        # y_{-1} = s[0]: the first step sees the first sample, as the input
        # of ReservoirPy's network does.
        esn._set_loop_state(res.state, s[:1])
        esn.fit(None, s[1:n_train + 1], warmup=warmup)
        one_step = esn.run(None, teacher=s[n_train + 1:end + 1])
        return one_step, esn.generate(free_steps)

    def rp():
        model = rpy_model(res, ridge, Win=res.Wfb)
        model.fit(s[:n_train], s[1:n_train + 1], warmup=warmup)
        one_step = model.run(s[n_train:end])
        return one_step, rpy_free_run(model, s[end], free_steps)

    model = f"ESN N={N}, sr={sr}, lr={lr}"
    return [(f"{name}, one step", model, fr, rp,
             lambda out: nrmse(s[n_train + 1:end + 1], out[0])),
            (f"{name}, {free_steps}-step free run", model, None, None,
             lambda out: nrmse(truth_free, out[1]))]


def lorenz_nvar_row(args):
    split = NVAR_WARMUP + NVAR_TRAIN
    X = lorenz_series(split + 1 + args.free_steps, "rk23")
    truth = X[split + 1:]

    def fr():
        model = NVARForecaster(NVAR(DELAY, ORDER, STRIDES),
                               Ridge(NVAR_RIDGE, solver=args.solver))
        model.fit(X[:split + 1], warmup=NVAR_WARMUP)
        with np.errstate(all="ignore"):
            return model.generate(args.free_steps)

    def rp():
        net = RPyNVAR(DELAY, ORDER, STRIDES) >> RPyRidge(ridge=NVAR_RIDGE)
        net.fit(X[:split], X[1:split + 1] - X[:split], warmup=NVAR_WARMUP)
        out = np.empty((args.free_steps, 3))
        u = X[split]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(args.free_steps):
                u = u + net(u)
                out[i] = u
        return out

    lyapunov = f"{int(round(1 / LYAPUNOV_EXPONENT / DT))} steps"
    return (f"Lorenz-63, NVAR free run (NRMSE over 1 Lyapunov time = {lyapunov})",
            f"NVAR k={DELAY}, s={STRIDES}, order {ORDER}", fr, rp,
            lambda pred: scores(pred, truth, X, 0.4)[0])


def lorenz_esn_row(args):
    n_train, n_test, warmup = args.train, args.test, 100
    X = lorenz(n_train + n_test + 1, h=0.01, subsample=2, discard=500)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    res = fastrnn_reservoir(args.units, sr=0.9, lr=0.5, input_scaling=0.3, D=3, seed=3)
    fr, rp = driven_engines(res, 1e-7, X[:n_train], X[1:n_train + 1], X[n_train:-1], warmup,
                            args.solver)
    return "Lorenz-63, ESN one step", f"ESN N={args.units}", fr, rp, \
        lambda pred: nrmse(X[n_train + 1:], pred)


def memory_capacity_row(args):
    K, n_train, n_test = 2 * args.units, args.train, args.test
    u, y = memory_capacity_task(K + n_train + n_test, K, seed=4)
    res = fastrnn_reservoir(args.units, sr=0.95, lr=1.0, input_scaling=0.1, D=1, seed=5)
    fit_end = K + n_train
    fr, rp = driven_engines(res, 1e-8, u[:fit_end], y[:fit_end], u[fit_end:], K, args.solver)
    return f"memory capacity, K={K} delays (held out; higher is better)", \
        f"ESN N={args.units}", fr, rp, lambda pred: memory_capacity(y[fit_end:], pred)


# ----------------------------------------------------------------- table
def measure(rows, args, use_rpy):
    """Time each row's engines and score their outputs. A row whose engines
    are None shares the previous row's runs (another score of the same
    outputs)."""
    table = []
    last = None
    for task, model, fr, rp, score in rows:
        if fr is not None:
            engines = {"fastrnn": fr}
            repeat = {"fastrnn": args.repeat}
            if use_rpy:
                engines["ReservoirPy"] = rp
                repeat["ReservoirPy"] = args.slow_repeat
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                last = engines_ms(engines, repeat, rounds=args.rounds)
            shared = ""
        else:
            shared = "same runs as above"
        entry = {"task": task, "model": model,
                 "fastrnn_error": score(last.outputs["fastrnn"]),
                 "fastrnn_ms": last["fastrnn"]}
        if use_rpy:
            entry.update(rpy_error=score(last.outputs["ReservoirPy"]),
                         rpy_ms=last["ReservoirPy"])
        entry["note"] = shared
        table.append(entry)
        print(f"# {task} done", file=sys.stderr, flush=True)
    return table


def print_table(table, use_rpy):
    head = "| task | model | fastrnn error | fastrnn time (ms) |"
    line = "|---|---|---|---|"
    if use_rpy:
        head += " ReservoirPy error | ReservoirPy time (ms) | speed-up |"
        line += "---|---|---|"
    print(head)
    print(line)
    for r in table:
        note = r.get("note", "")
        cells = [r["task"], r["model"], f"{r['fastrnn_error']:.4g}",
                 f"{r['fastrnn_ms']:.1f}"]
        if use_rpy:
            rp_ms = r.get("rpy_ms")
            cells += [f"{r['rpy_error']:.4g}" if r.get("rpy_error") is not None else "n/a",
                      f"{rp_ms:.1f}" if rp_ms is not None else "n/a",
                      note or (f"x{rp_ms / r['fastrnn_ms']:.1f}" if rp_ms else "")]
        elif note:
            cells[-1] += f" ({note})"
        print("| " + " | ".join(cells) + " |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes and one timing round (a smoke run of a few seconds)")
    p.add_argument("--units", type=int, default=None, help="reservoir size (default 300)")
    p.add_argument("--train", type=int, default=None, help="training steps (default 3000)")
    p.add_argument("--test", type=int, default=None, help="test steps (default 1000)")
    p.add_argument("--free-steps", type=int, default=None,
                   help="free-run steps of Lorenz NVAR (default 1000)")
    p.add_argument("--repeat", type=int, default=None, help="timed fastrnn calls per block")
    p.add_argument("--slow-repeat", type=int, default=1,
                   help="timed ReservoirPy calls per block (default 1)")
    p.add_argument("--rounds", type=int, default=None, help="blocks of each engine (default 3)")
    p.add_argument("--solver", choices=["cholesky", "auto", "qr"], default="cholesky",
                   help="fastrnn's ridge solver (default cholesky: the normal equations, as "
                        "ReservoirPy solves them; auto refits ill-conditioned ones by QR)")
    p.add_argument("--no-reservoirpy", action="store_true")
    args = p.parse_args(argv)
    defaults = (dict(units=50, train=600, test=200, free_steps=200, repeat=1, rounds=1)
                if args.quick else
                dict(units=300, train=3000, test=1000, free_steps=1000, repeat=5, rounds=3))
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    use_rpy = reservoirpy is not None and not args.no_reservoirpy
    if reservoirpy is None and not args.no_reservoirpy:
        print("# ReservoirPy is not installed: fastrnn alone", file=sys.stderr)
    print(f"# {args.train} training and {args.test} test steps, N={args.units}, ridge readouts "
          f"on the same matrices (fastrnn's solver: {args.solver}); timing: "
          f"{rule(args.repeat, args.rounds)} (ReservoirPy: "
          f"{args.slow_repeat} call(s) per block); error: NRMSE (std of the target) unless "
          f"stated" + (f"; ReservoirPy {reservoirpy.__version__}" if use_rpy else ""))

    mg = mackey_glass(args.train + args.test + 84 + 2, discard=1000)
    mg = np.tanh(mg - 1.0)   # ReservoirPy's usual normalisation of the series
    rows = [narma_row(args)]
    rows += autoregressive_rows("Mackey-Glass (tau=17)", mg, args, sr=1.25, lr=0.3,
                                input_scaling=1.0, ridge=1e-8, free_steps=84)
    rows += [lorenz_nvar_row(args), lorenz_esn_row(args)]
    rows += autoregressive_rows("MSO2", mso2(args.train + args.test + args.free_steps + 2),
                                args, sr=0.9, lr=0.5, input_scaling=0.3, ridge=1e-8,
                                free_steps=args.free_steps)
    rows.append(memory_capacity_row(args))
    table = measure(rows, args, use_rpy)
    found = japanese_vowels_row() if japanese_vowels_row is not None else None
    if found is not None:
        # Its own measurement (bench/japanese_vowels.py, the same timing
        # rule): accuracy and seconds of fit + predict per library, here as
        # the test error rate and milliseconds.
        accuracy, seconds = found["fastrnn"]
        row = {"task": "Japanese Vowels (370 test series)",
               "model": "ESNSequenceClassifier, 400 units, bidirectional mean state",
               "fastrnn_error": 1.0 - accuracy, "fastrnn_ms": 1e3 * seconds}
        if use_rpy and found.get("reservoirpy") is not None:
            row["rpy_error"] = 1.0 - found["reservoirpy"][0]
            row["rpy_ms"] = 1e3 * found["reservoirpy"][1]
        table.append(row)
    else:
        print("# Japanese Vowels: bench/japanese_vowels.py or its data set not found, row "
              "skipped", file=sys.stderr)
    print()
    print_table(table, use_rpy)


if __name__ == "__main__":
    main()
