"""A short echo state network demo on the built-in Mackey-Glass series.

``run_demo()`` trains an ESN (fastrnn.Reservoir + fastrnn.Ridge) to predict
the Mackey-Glass series (tau = 17, the classic Euler scheme) ``horizon``
steps ahead, reports the NRMSE on held-out data, and times fastrnn's
reservoir loop against a plain NumPy loop on the same matrices. It runs in
about a second.
"""
import time

import numpy as np

from fastrnn._core.timing import time_engines
from fastrnn._core.validation import check_bool, check_int, check_size
from fastrnn.analysis.datasets import mackey_glass
from fastrnn.reservoir.esn import ESN
from fastrnn.analysis.metrics import nrmse
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir


def _numpy_states(res, X):
    """The reference loop: x_t = (1 - lr) x_{t-1} + lr tanh(W x + Win u + b)."""
    W, Win, b, lr = res.W, res.Win, res.bias, res.lr
    x = np.zeros(res.units)
    out = np.empty((X.shape[0], res.units))
    for t in range(X.shape[0]):
        x = (1 - lr) * x + lr * np.tanh(W @ x + Win @ X[t] + b)
        out[t] = x
    return out


def run_demo(units=500, train=3000, test=1000, horizon=1, seed=42, verbose=True):
    """Fit and evaluate an ESN forecaster on Mackey-Glass; time the loop.

    Returns
    -------
    dict with the settings, ``nrmse`` (held-out, normalised by the target's
    standard deviation), ``fit_seconds``, ``run_seconds_fastrnn``,
    ``run_seconds_numpy``, ``speedup`` and ``max_state_difference`` (fastrnn
    against the NumPy loop).
    """
    washout = 100
    units = check_size(units, "units", minimum=1)
    # the readout needs steps after the warm-up; the forecast a step ahead
    train = check_size(train, "train", minimum=washout + 1)
    test = check_size(test, "test", minimum=1)
    horizon = check_size(horizon, "horizon", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    say = print if check_bool(verbose, "verbose") else (lambda *a, **k: None)
    series = mackey_glass(train + test + horizon, discard=500)
    # Centre and scale: the reservoir's input and the readout's target in
    # units of the series' spread.
    z = (series - series.mean()) / series.std()
    X, Y = z[:-horizon], z[horizon:]
    say(f"fastrnn ESN demo: Mackey-Glass (tau=17, Euler step 0.1, one sample per time unit), "
        f"predict {horizon} step(s) ahead")
    t0 = time.perf_counter()
    res = Reservoir(units, sr=0.9, lr=0.3, input_scaling=1.0, rc_connectivity=0.1,
                    input_connectivity=1.0, seed=seed)
    build_seconds = time.perf_counter() - t0

    # Same matrices, same inputs: fastrnn's loop against a plain NumPy loop,
    # both from the zero state, by the one timing rule. The pause lets
    # OpenBLAS's workers, which spin for ~0.1 s after a BLAS call (ARPACK just
    # used it), go idle instead of slowing the next timed call on a busy
    # 2-core machine.
    Xs = X[:train + test]
    x0 = np.zeros(units)
    seconds = time_engines({"fastrnn": lambda: res.run(Xs, x0=x0),
                            "numpy": lambda: _numpy_states(res, Xs)}, 1, pause=0.2)
    t_fast, t_numpy = seconds["fastrnn"], seconds["numpy"]
    states, ref = seconds.outputs["fastrnn"], seconds.outputs["numpy"]
    diff = float(np.abs(states - ref).max())

    res.reset()
    t0 = time.perf_counter()
    esn = ESN(res, Ridge(ridge=1e-7))
    esn.fit(X[:train], Y[:train], warmup=washout)
    fit_seconds = time.perf_counter() - t0 + build_seconds
    pred = esn.predict(X[train:])          # continues from the training state
    score = nrmse(Y[train:], pred)
    say(f"  reservoir: {units} tanh units, sr=0.9, lr=0.3, 10% connectivity; "
        f"ridge readout 1e-7; {train} training steps ({washout} warm-up), {test} test steps")
    say(f"  build + fit: {fit_seconds:.2f} s; held-out NRMSE = {score:.2e}")
    say(f"  reservoir run over {Xs.shape[0]} steps: fastrnn {t_fast * 1e3:.1f} ms, "
        f"NumPy loop {t_numpy * 1e3:.1f} ms ({t_numpy / t_fast:.0f}x); "
        f"max state difference {diff:.1e}")
    return {
        "units": units, "train": train, "test": test, "horizon": horizon,
        "nrmse": score, "fit_seconds": fit_seconds, "run_seconds_fastrnn": t_fast,
        "run_seconds_numpy": t_numpy, "speedup": t_numpy / t_fast,
        "max_state_difference": diff,
    }


if __name__ == "__main__":
    run_demo()
