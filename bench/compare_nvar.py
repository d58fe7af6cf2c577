"""fastrnn's NVAR against ReservoirPy's (when installed) on the Lorenz-63
forecast of Gauthier, Bollt, Griffith & Barbosa (2021), "Next generation
reservoir computing", Nature Communications 12:5564.

The paper's setup: Lorenz-63 (sigma 10, rho 28, beta 8/3) sampled every
dt = 0.025 from its initial point, integrated as its code does (SciPy's RK23
at its default tolerances); 200 warm-up points, 400 training points; k = 2,
s = 1, quadratic monomials; ridge 2.5e-6; the readout predicts the increment
x[t+1] - x[t]; then the model free-runs. Both libraries get the same series
and the same split, and report

- NRMSE over one Lyapunov time (1 / 0.9056 time units, 44 steps), the
  paper's normalisation: sqrt(mean squared error / summed variances of x, y, z);
- the valid prediction time, in Lyapunov times: when the error
  sqrt(mean_d (e_d / sigma_d)^2) first exceeds --vpt-threshold (0.4, as
  Pathak et al. (2018));
- the time of the fit (features + ridge) and of the free run (--steps),
  by bench/timing.py's rule.

``--integrator rk4`` uses fastrnn.datasets.lorenz (classical RK4 at the fixed
step dt = 0.025) instead: on that series the same model diverges in both
libraries (the RK23 series' integration error acts as a regulariser; the
accurate series needs a ridge near 1).

    flock /tmp/fastrnn-bench.lock python bench/compare_nvar.py
"""
import argparse
import sys
import warnings

import numpy as np

from fastrnn import NVAR, NVARForecaster, Ridge
from fastrnn.analysis.datasets import lorenz as fixed_step_lorenz
from timing import engines_ms, rule

try:
    import reservoirpy
    from reservoirpy.nodes import NVAR as RPyNVAR
    from reservoirpy.nodes import Ridge as RPyRidge
except ImportError:  # optional
    reservoirpy = None

DT, LYAPUNOV_EXPONENT = 0.025, 0.9056
X0 = (17.67715816276679, 12.931379185960404, 43.91404334248268)
WARMUP, TRAIN, DELAY, ORDER, STRIDES, RIDGE = 200, 400, 2, 2, 1, 2.5e-6


def lorenz_series(n, integrator):
    """n samples of Lorenz-63, DT apart, from X0 (the first sample is X0)."""
    if integrator == "rk4":
        return np.vstack([X0, fixed_step_lorenz(n - 1, h=DT, x0=X0, discard=0)])
    from scipy.integrate import solve_ivp

    def flow(t, v, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
        x, y, z = v
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    t = np.arange(n) * DT
    return solve_ivp(flow, (0.0, t[-1]), X0, t_eval=t, method="RK23").y.T.copy()


def scores(forecast, truth, series, threshold):
    """(NRMSE over one Lyapunov time, valid prediction time in Lyapunov times)."""
    lyapunov_steps = int(round(1 / LYAPUNOV_EXPONENT / DT))
    with np.errstate(all="ignore"):
        err = forecast - truth
        nrmse = np.sqrt(np.mean(err[:lyapunov_steps] ** 2) / series.var(axis=0).sum())
        per_step = np.sqrt(np.mean(err ** 2 / series.var(axis=0), axis=1))
    bad = ~(per_step <= threshold)
    valid = np.argmax(bad) if bad.any() else len(per_step)
    return float(nrmse), valid * DT * LYAPUNOV_EXPONENT


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--integrator", nargs="+", choices=["rk23", "rk4"], default=["rk23", "rk4"],
                   help="how the Lorenz series is made (see above); both by default")
    p.add_argument("--steps", type=int, default=1000, help="free-run steps (default 1000)")
    p.add_argument("--vpt-threshold", type=float, default=0.4)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--slow-repeat", type=int, default=3, help="calls per block of ReservoirPy")
    p.add_argument("--no-reservoirpy", action="store_true")
    args = p.parse_args(argv)
    use_rpy = reservoirpy is not None and not args.no_reservoirpy
    if reservoirpy is None and not args.no_reservoirpy:
        print("# ReservoirPy is not installed: fastrnn alone", file=sys.stderr)

    split = WARMUP + TRAIN
    print(f"# Gauthier et al. (2021) Lorenz-63: dt={DT}, warm-up {WARMUP}, train {TRAIN}, "
          f"k={DELAY}, s={STRIDES}, order {ORDER}, ridge {RIDGE}, increments; free run of "
          f"{args.steps} steps; timing: {rule(args.repeat)} (ReservoirPy: "
          f"{args.slow_repeat} calls)")
    if use_rpy:
        print(f"# ReservoirPy {reservoirpy.__version__}")
    rows = []
    for integrator in args.integrator:
        X = lorenz_series(split + 1 + args.steps, integrator)
        truth = X[split + 1:]

        model = NVARForecaster(NVAR(DELAY, ORDER, STRIDES), Ridge(RIDGE))

        def fr_fit():
            model.reset()
            return model.fit(X[:split + 1], warmup=WARMUP)

        fr_fit()
        history = model.nvar.history.copy()

        def fr_generate():
            model.nvar.history = history
            with np.errstate(all="ignore"):
                return model.generate(args.steps)

        engines = {"fastrnn fit": fr_fit, "fastrnn free run": fr_generate}
        repeat = {"fastrnn fit": args.repeat, "fastrnn free run": args.repeat}
        if use_rpy:
            rpy = {}

            def rpy_fit():
                nvar = RPyNVAR(DELAY, ORDER, STRIDES)
                readout = RPyRidge(ridge=RIDGE)
                net = nvar >> readout
                net.fit(X[:split], X[1:split + 1] - X[:split], warmup=WARMUP)
                rpy.update(nvar=nvar, readout=readout, net=net, store=nvar.store.copy())
                return net

            rpy_fit()

            def rpy_generate():
                rpy["nvar"].store = rpy["store"].copy()
                out = np.empty((args.steps, X.shape[1]))
                u = X[split]
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for i in range(args.steps):
                        u = u + rpy["net"](u)
                        out[i] = u
                return out

            engines.update({"ReservoirPy fit": rpy_fit, "ReservoirPy free run": rpy_generate})
            repeat.update({"ReservoirPy fit": args.slow_repeat,
                           "ReservoirPy free run": args.slow_repeat})
        t = engines_ms(engines, repeat)
        forecast = t.outputs["fastrnn free run"]
        row = {"integrator": integrator, "lib": "fastrnn", "fit": t["fastrnn fit"],
               "run": t["fastrnn free run"]}
        row["nrmse"], row["vpt"] = scores(forecast, truth, X, args.vpt_threshold)
        rows.append(row)
        if use_rpy:
            rpy_forecast = t.outputs["ReservoirPy free run"]
            r = {"integrator": integrator, "lib": f"ReservoirPy {reservoirpy.__version__}",
                 "fit": t["ReservoirPy fit"], "run": t["ReservoirPy free run"]}
            r["nrmse"], r["vpt"] = scores(rpy_forecast, truth, X, args.vpt_threshold)
            features = NVAR(DELAY, ORDER, STRIDES).run(X[:split])
            rpy_features = RPyNVAR(DELAY, ORDER, STRIDES).run(X[:split])
            coef_diff = np.abs(np.asarray(rpy["readout"].Wout) - model.readout.coef_).max()
            lyapunov_steps = int(round(1 / LYAPUNOV_EXPONENT / DT))
            with np.errstate(all="ignore"):
                forecast_diff = np.abs(rpy_forecast - forecast)[:lyapunov_steps].max()
            r["agreement"] = (f"features {'bit-exact' if np.array_equal(features, rpy_features) else 'differ'}"
                              f", max |dWout| {coef_diff:.1e}, max |d forecast| over 1 LT "
                              f"{forecast_diff:.1e}")
            rows.append(r)
        print(f"# {integrator} done", file=sys.stderr, flush=True)

    print()
    print("| data | library | NRMSE over 1 Lyapunov time | valid prediction time (LT) | "
          f"fit (ms) | free run of {args.steps} steps (ms) | agreement with fastrnn |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['integrator']} | {r['lib']} | {r['nrmse']:.3e} | {r['vpt']:.2f} | "
              f"{r['fit']:.3f} | {r['run']:.3f} | {r.get('agreement', '')} |")
    if use_rpy:
        print()
        for integrator in args.integrator:
            fr, rp = [r for r in rows if r["integrator"] == integrator]
            print(f"# {integrator}: ReservoirPy / fastrnn time: fit x{rp['fit'] / fr['fit']:.0f}, "
                  f"free run x{rp['run'] / fr['run']:.0f}")


if __name__ == "__main__":
    main()
