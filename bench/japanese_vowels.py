"""Time-series classification on the Japanese Vowels data set (Kudo et al.
1999): fastrnn's ESNSequenceClassifier, the same pipeline with ReservoirPy's
reservoir, and the reservoir-computing package's model-space classifier
(Bianchi et al. 2020), each on the standard split.

The data (270 training and 370 test series of 12 features, 7 to 29 steps,
9 speakers) are the copy the ``sktime`` package ships, read by
``fastrnn.analysis.datasets.japanese_vowels`` (nothing is downloaded):
``pip install ".[bench-classification]"`` (sktime, scikit-learn and
reservoir-computing) or ``pip install sktime``. Without sktime the script
says so and stops.

Rows (accuracy on the 370 test series; time of fit on the training set +
predict on the test set, by bench/timing.py's rule):

- ``fastrnn default``: ``ESNSequenceClassifier()`` with ``random_state``
  (mean of the forward and reversed reservoir states, a ridge readout; the
  defaults were chosen by cross-validation on the training set only).
- ``fastrnn model space``: ``representation="model_space"`` with PCA to 40
  states, also chosen by cross-validation on the training set.
- ``ReservoirPy states``: the default pipeline with ReservoirPy 0.4's
  ``Reservoir`` node computing the states, given fastrnn's matrices (so the
  states, hence the accuracy, are the same; only the time differs).
- ``fastrnn, Bianchi config`` and ``reservoir-computing``: the configuration
  of the reservoir-computing package's classification example for this data
  set (450 units, spectral radius 0.59, leak 0.6, connectivity 0.25, input
  scaling 0.1, noise 0.01, 5 states dropped, bidirectional, 75 principal
  components, reservoir model space with ridge 10, ridge readout 5), in both
  libraries. reservoir-computing takes the series zero-padded to 29 steps
  (its own copy of the data set is stored that way) and reduces the states
  by tensor PCA; fastrnn runs each series at its length and reduces by PCA,
  without the noise. ``pip install reservoir-computing`` (it needs only
  numpy, scipy, scikit-learn, matplotlib and requests).

The ``--seeds`` option repeats the accuracies over several seeds (the time is
taken for the first). ``japanese_vowels_row()`` returns the fastrnn and
ReservoirPy rows for the benchmark table.

    flock /tmp/fastrnn-bench.lock python bench/japanese_vowels.py
"""
import argparse
import sys

import numpy as np

from fastrnn.analysis.datasets import japanese_vowels
from timing import engines_ms, rule

try:
    from fastrnn.sklearn import ESNSequenceClassifier
    from sklearn.linear_model import RidgeClassifier
except ImportError:   # scikit-learn is optional
    ESNSequenceClassifier = None

try:
    import reservoirpy
    from reservoirpy.nodes import Reservoir as RPyReservoir
except ImportError:  # optional
    reservoirpy = None

try:
    from reservoir_computing.modules import RC_model
except ImportError:  # optional
    RC_model = None

#: The model-space configuration found by cross-validation on the training set.
MODEL_SPACE = dict(representation="model_space", units=100, sr=0.5, lr=0.6, input_scaling=1.0,
                   pca_components=40, embedding_ridge=10.0, ridge=0.1)
#: reservoir-computing's classification example for this data set.
BIANCHI = dict(n_internal_units=450, spectral_radius=0.59, leak=0.6, connectivity=0.25,
               input_scaling=0.1, noise_level=0.01, n_drop=5, bidir=True, circle=False,
               dimred_method="tenpca", n_dim=75, mts_rep="reservoir", w_ridge_embedding=10.0,
               readout_type="lin", w_ridge=5.0)
FASTRNN_BIANCHI = dict(representation="model_space", units=450, sr=0.59, lr=0.6,
                       input_scaling=0.1, rc_connectivity=0.25, input_connectivity=1.0,
                       bidirectional=True, warmup=5, pca_components=75, embedding_ridge=10.0,
                       ridge=5.0)


def load():
    """The split, or None (with the reason on stderr) without sktime."""
    try:
        return japanese_vowels()
    except ImportError as exc:
        print(f"# Japanese Vowels skipped: {exc}", file=sys.stderr)
        return None


def _fastrnn_run(params, data):
    X_train, y_train, X_test, _ = data

    def run():
        return ESNSequenceClassifier(**params).fit(X_train, y_train).predict(X_test)
    return run


def _reservoirpy_run(seed, data):
    """The default pipeline with ReservoirPy computing the states from
    fastrnn's matrices: mean of the forward and reversed runs' states, then
    the same ridge readout."""
    X_train, y_train, X_test, _ = data
    model = ESNSequenceClassifier(random_state=seed).fit(X_train[:2], y_train[:2])
    res = model.encoder_.reservoir
    alpha = model.ridge

    def features(node, series):
        # a list of series runs each from the node's state: zeros, after reset
        node.reset()
        forward = node.run(series)
        node.reset()
        backward = node.run([x[::-1] for x in series])
        return np.array([np.concatenate([f.mean(axis=0), b.mean(axis=0)])
                         for f, b in zip(forward, backward)])

    def run():
        node = RPyReservoir(units=res.units, lr=float(res.lr[0]), W=res.W.copy(),
                            Win=res.Win.copy(), bias=res.bias.copy())
        node.initialize(X_train[0])
        readout = RidgeClassifier(alpha=alpha).fit(features(node, X_train), y_train)
        return readout.predict(features(node, X_test))
    return run


def _padded(series, length):
    out = np.zeros((len(series), length, series[0].shape[1]))
    for i, x in enumerate(series):
        out[i, :len(x)] = x
    return out


def _rc_run(seed, data):
    X_train, y_train, X_test, _ = data
    length = max(len(x) for x in X_train + X_test)
    Xp, Xq = _padded(X_train, length), _padded(X_test, length)
    classes = np.unique(y_train)
    Y = (y_train[:, None] == classes[None, :]).astype(float)

    def run():
        np.random.seed(seed)   # reservoir-computing draws from NumPy's global state
        model = RC_model(**BIANCHI)
        model.fit(Xp, Y, verbose=False)
        return classes[model.predict(Xq)]
    return run


def japanese_vowels_row(seed=0, repeat=3, data=None):
    """(accuracy, seconds of fit + predict) of fastrnn's default
    ``ESNSequenceClassifier`` and of the same pipeline on ReservoirPy's
    reservoir (same matrices), for the benchmark table.

    Returns
    -------
    dict or None
        ``{"fastrnn": (accuracy, seconds), "reservoirpy": (accuracy,
        seconds) or None}``; None when sktime (the data) or scikit-learn is
        not installed.
    """
    data = data if data is not None else load()
    if data is None or ESNSequenceClassifier is None:
        return None
    engines = {"fastrnn": _fastrnn_run({"random_state": seed}, data)}
    if reservoirpy is not None:
        engines["reservoirpy"] = _reservoirpy_run(seed, data)
    t = engines_ms(engines, repeat)
    y_test = data[3]
    row = {name: (float(np.mean(t.outputs[name] == y_test)), t[name] / 1e3)
           for name in engines}
    row.setdefault("reservoirpy", None)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seeds", type=int, default=1,
                   help="seeds over which the accuracies are averaged")
    p.add_argument("--no-reservoirpy", action="store_true")
    p.add_argument("--no-reservoir-computing", action="store_true")
    args = p.parse_args(argv)
    if ESNSequenceClassifier is None:
        print("# needs scikit-learn: pip install scikit-learn", file=sys.stderr)
        return 0
    data = load()
    if data is None:
        print("# pip install sktime (or the extra bench-classification) to run this "
              "benchmark: its package holds the data set")
        return 0
    y_test = data[3]
    rows = {"fastrnn default": lambda s: _fastrnn_run({"random_state": s}, data),
            "fastrnn model space": lambda s: _fastrnn_run({**MODEL_SPACE, "random_state": s},
                                                          data),
            "fastrnn, Bianchi config": lambda s: _fastrnn_run(
                {**FASTRNN_BIANCHI, "random_state": s}, data)}
    if reservoirpy is not None and not args.no_reservoirpy:
        rows["ReservoirPy states"] = lambda s: _reservoirpy_run(s, data)
    if RC_model is not None and not args.no_reservoir_computing:
        rows["reservoir-computing"] = lambda s: _rc_run(s, data)
    print(f"# Japanese Vowels: {len(data[0])} training, {len(y_test)} test series; "
          f"fit + predict by {rule(args.repeat)}")
    print(f"# ReservoirPy {reservoirpy.__version__ if reservoirpy else 'not installed'}; "
          f"reservoir-computing {'installed' if RC_model else 'not installed'}")
    t = engines_ms({name: make(0) for name, make in rows.items()}, args.repeat)
    print(f"{'model':<26}{'accuracy':>10}{'errors':>8}{'fit+predict ms':>16}")
    for name, make in rows.items():
        accs = [np.mean(t.outputs[name] == y_test)]
        accs += [np.mean(make(s)() == y_test) for s in range(1, args.seeds)]
        acc = float(np.mean(accs))
        print(f"{name:<26}{acc:>10.4f}{(1 - acc) * len(y_test):>8.1f}{t[name]:>16.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
