"""scikit-learn estimators over fastrnn's echo state networks and recurrent layers.

``ESNRegressor`` and ``ESNClassifier`` wrap ``fastrnn.Reservoir`` with a
``fastrnn.Ridge`` readout (through ``fastrnn.ESN`` for regression);
``ESNSequenceClassifier`` puts any readout on the fixed-size
representations of whole series of `fastrnn.reservoir.ESNSequenceEncoder`
(last or mean state, reservoir model space, bidirectional, PCA);
``RNNRegressor`` and ``RNNClassifier`` wrap a recurrent layer
(``fastrnn.RNN``, ``LSTM`` or ``GRU``, chosen by ``cell``) and a
``fastrnn.Linear`` output layer, trained by BPTT with ``fastrnn.train`` and
``fastrnn.Adam``. They follow the estimator contract, so they work in a
``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and so on.

scikit-learn is an optional dependency of fastrnn, imported only by this
module (``pip install scikit-learn``, or ``pip install "fastrnn[sklearn]"``);
``import fastrnn`` never imports it.

Input conventions
-----------------
Rows are time steps, not independent samples:

- **one series**: ``X`` is a 2-D array ``(n_steps, n_features)``.

  * Regressors: ``y`` is ``(n_steps,)`` or ``(n_steps, n_outputs)``, the
    target at every step; ``predict`` returns one output per step.
  * Classifiers: ``y`` is ``(n_steps,)``, a label at every step (per-step
    classification, e.g. which regime the signal is in at each step); the
    label of step t is read from the network's state at step t, which has
    seen steps 0..t. ``predict`` returns one label per step.

- **many series** of possibly different lengths: ``X`` is a list of 2-D
  arrays ``(n_steps_i, n_features)``.

  * Regressors: ``y`` is a list of matching per-step targets;
    ``predict`` returns a list of arrays.
  * Classifiers: ``y`` is one label per series (sequence classification,
    from the final state or the mean state over the series, see ``state``),
    and ``predict`` returns one label per series; or ``y`` is a list of
    per-step label arrays (per-step classification of many series), and
    ``predict`` returns a list of them.

  * ``ESNSequenceClassifier`` takes only this form with one label per
    series (a 2-D X is refused: a single series is passed as ``[X]``).

Every series (and every call of ``predict``) starts from the zero state, so
predictions do not depend on earlier calls. The ESN estimators' ``warmup``
steps at the start of every series (the transient from that zero state) are
left out by ``fit`` and by ``score`` alike; ``predict`` returns every step.

Plain 2-D input is what scikit-learn's own tools pass around (``Pipeline``
transformers, the estimator checks); cross-validation splitters index the
rows of a 2-D array (use ``TimeSeriesSplit`` to keep the time order) and the
series of a list.

Because the state carries memory from one row to the next, the prediction
for a row depends on the rows before it: predicting on a subset or a
permutation of the rows of one series gives different answers, by design.
"""
from __future__ import annotations

import copy
import numbers
from typing import Any, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
    from sklearn.linear_model import RidgeClassifier
    from sklearn.utils.metaestimators import available_if
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_random_state as _sk_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
except ModuleNotFoundError as exc:   # pragma: no cover - exercised without scikit-learn
    if exc.name is None or exc.name.split(".")[0] != "sklearn":
        raise
    raise ModuleNotFoundError(
        "fastrnn.sklearn needs scikit-learn, which is not installed: "
        "pip install scikit-learn (or pip install 'fastrnn[sklearn]')",
        name="sklearn",
    ) from exc

try:
    from sklearn.utils.validation import validate_data
except ImportError:   # scikit-learn < 1.6
    def validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)

from fastrnn._core.grad_mode import no_grad
from fastrnn._core.validation import check_int, check_real
from fastrnn.reservoir.esn import ESN
from fastrnn.layers.gru import GRU
from fastrnn.layers.lstm import LSTM
from fastrnn.training.optim import Adam
from fastrnn.layers.linear import Linear
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir
from fastrnn.layers.rnn import RNN
from fastrnn.training.train import Sequential, train
from fastrnn.reservoir.classification import ESNSequenceEncoder, check_sequence_list

__all__ = ["ESNRegressor", "ESNClassifier", "RNNRegressor", "RNNClassifier",
           "ESNSequenceClassifier"]

#: One series (a 2-D array-like, rows are time steps) or a list of them.
SeriesLike = Union[ArrayLike, list[ArrayLike]]
#: scikit-learn's random_state convention.
RandomStateLike = Union[int, np.random.RandomState, np.random.Generator, None]

_CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
_STATES = ("last", "mean")


# ------------------------------------------------------------------ inputs
def is_series_list(X: Any) -> bool:
    """True when ``X`` is a list (or tuple) of 2-D array-likes: many series.

    A list of rows (a list of lists of numbers, as ``X.tolist()`` gives) is
    one series, like the 2-D array it converts to. A list mixing 2-D series
    with anything else, and a 3-D array (whose layout, time-major as
    fastrnn's layers or series-first as scikit-learn's samples, cannot be
    told), raise a ValueError saying what to pass instead.
    """
    if isinstance(X, (list, tuple)) and len(X) > 0:
        dims = [np.ndim(x) for x in X]
        if all(d == 2 for d in dims):
            return True
        if any(d == 2 for d in dims):
            i = next(i for i, d in enumerate(dims) if d != 2)
            raise ValueError(f"X is a list of series, but X[{i}] is {dims[i]}-dimensional: "
                             "every series must be a 2-D (n_steps, n_features) array")
    elif getattr(X, "ndim", None) == 3:
        raise ValueError(
            f"X is a 3-D array of shape {np.shape(X)}: pass one series as a 2-D "
            "(n_steps, n_features) array, or many as a list of them: list(X) for "
            "(n_series, n_steps, n_features), list(X.transpose(1, 0, 2)) for fastrnn's "
            "time-major (n_steps, n_series, n_features)")
    return False


def _seed(random_state):
    """A seed for fastrnn from scikit-learn's ``random_state`` convention.

    An int (or a numpy Generator) is passed on unchanged, so that
    ``random_state=k`` gives exactly what fastrnn's classes give with
    ``seed=k``; None (numpy's global random state) and a ``RandomState``
    instance supply an int drawn from them, as scikit-learn estimators do.
    """
    if isinstance(random_state, (bool, np.bool_)):
        raise ValueError(f"random_state must be None, an int, a numpy RandomState or "
                         f"Generator, got {random_state!r}")
    if isinstance(random_state, (numbers.Integral, np.random.Generator)):
        return random_state
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return int(_sk_random_state(random_state).randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be None, an int, a numpy RandomState or Generator, "
                     f"got {random_state!r}")


def _check_state(state):
    if state not in _STATES:
        raise ValueError(f"state must be 'last' or 'mean', got {state!r}")


class _SeriesEstimator(BaseEstimator):
    """Input validation shared by the four estimators."""

    def _unscored_steps(self):
        """Steps at the start of every series that ``score`` leaves out."""
        return 0

    def _check_series_list(self, X, reset):
        """Validate a list of series; returns float64 arrays (n_steps_i, n_features)."""
        series = [check_array(x, dtype=np.float64, input_name=f"X[{i}]")
                  for i, x in enumerate(X)]
        widths = sorted({s.shape[1] for s in series})
        if len(widths) > 1:
            raise ValueError(f"every series in X must have the same number of features, "
                             f"got {widths}")
        n_features = widths[0]
        if reset:
            self.n_features_in_ = n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return series

    def _check_X(self, X, reset):
        """(series, is_list): a list of arrays, or one (n_steps, n_features) array."""
        if is_series_list(X):
            return self._check_series_list(X, reset), True
        return validate_data(self, X, reset=reset, dtype=np.float64), False

    @staticmethod
    def _per_step_targets(X, y):
        """Validate per-step regression targets ``y`` for the series list ``X``."""
        if not isinstance(y, (list, tuple)) or len(y) != len(X):
            raise ValueError(f"for a list of {len(X)} series, y must be a list of "
                             f"{len(X)} arrays of per-step targets")
        targets = []
        for i, (x, yi) in enumerate(zip(X, y)):
            arr = check_array(yi, dtype=np.float64, ensure_2d=False, input_name=f"y[{i}]")
            if arr.ndim not in (1, 2) or arr.shape[0] != x.shape[0]:
                raise ValueError(f"y[{i}] must have shape ({x.shape[0]},) or "
                                 f"({x.shape[0]}, n_outputs) like X[{i}], got {arr.shape}")
            targets.append(arr)
        if len({t.shape[1:] for t in targets}) > 1:
            raise ValueError("every y[i] must have the same number of outputs")
        return targets


class _SeriesRegressor(RegressorMixin, _SeriesEstimator):
    # y may have several outputs per step (scikit-learn >= 1.6, then older)
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):
        return {"multioutput": True}

    def _check_fit(self, X, y):
        """(series, targets): lists of float64 arrays, one per series (a 2-D X
        is one series), the targets per step, (n_steps_i,) or (n_steps_i, n_outputs)."""
        if is_series_list(X):
            series = self._check_series_list(X, reset=True)
            return series, self._per_step_targets(series, y)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        return [X], [y]

    def score(self, X: SeriesLike, y: SeriesLike,
              sample_weight: Optional[SeriesLike] = None) -> float:
        """R^2 of the per-step predictions, over the steps of all series.

        An ESN estimator leaves out the first ``warmup`` steps of every
        series, as ``fit`` does: there the state is still the transient from
        zero. ``sample_weight`` is shaped like ``y`` without its outputs: one
        weight per step ((n_steps,), or a list of such arrays).
        """
        skip = self._unscored_steps()
        if is_series_list(X):
            if not isinstance(y, (list, tuple)) or len(y) != len(X):
                raise ValueError(f"for a list of {len(X)} series, y must be a list of "
                                 f"{len(X)} arrays of per-step targets")
            pred = self.predict(X)
            weights = sample_weight
            if weights is not None:
                weights = np.concatenate([np.asarray(w)[skip:] for w in weights])
            return r2_score(np.concatenate([_after(yi, skip, i) for i, yi in enumerate(y)]),
                            np.concatenate([p[skip:] for p in pred]), sample_weight=weights)
        pred = self.predict(X)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[skip:]
        return r2_score(_after(y, skip), pred[skip:], sample_weight=sample_weight)


def _after(y, skip, index=None):
    """y (an array-like with steps first) without its first ``skip`` steps."""
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] <= skip:
        where = "y" if index is None else f"y[{index}]"
        raise ValueError(f"{where} must have more than warmup={skip} steps to be scored, "
                         f"got shape {y.shape}")
    return y[skip:]


def _per_step_labels(series, y):
    """True when ``y`` is a list of label arrays, one per step of each series."""
    return (isinstance(y, (list, tuple)) and len(y) == len(series)
            and all(np.ndim(yi) == 1 and len(yi) == len(x) for x, yi in zip(series, y)))


class _SeriesClassifier(ClassifierMixin, _SeriesEstimator):
    """Labels per series or per step; inputs and outputs always handled as a
    list of series inside (one 2-D series is a list of one)."""

    def _check_fit(self, X, y):
        """Validate X and y for ``fit``: returns the series (a list), and the
        class codes: one array per series (per-step labels, ``per_step_``) or
        one code per series."""
        if not is_series_list(X):
            X, y = validate_data(self, X, y, dtype=np.float64)
            self.per_step_ = True
            return [X], [self._encode(y, X.shape[0], "one label per step")]
        series = self._check_series_list(X, reset=True)
        self.per_step_ = _per_step_labels(series, y)
        if not self.per_step_:
            return series, self._encode(y, len(series), "one label per series")
        codes = self._encode(np.concatenate([np.asarray(yi) for yi in y]),
                             sum(len(x) for x in series), "one label per step")
        return series, np.split(codes, np.cumsum([len(x) for x in series])[:-1])

    def _encode(self, y, n_labels, what):
        y = column_or_1d(y, warn=True)
        if y.shape[0] != n_labels:
            raise ValueError(f"y must hold {what} ({n_labels}), got {y.shape[0]} labels")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        return encoder.transform(y)

    def _check_predict_X(self, X):
        """(series as a list, whether X was a list)."""
        check_is_fitted(self)
        series, is_list = self._check_X(X, reset=False)
        if not is_list and not self.per_step_:
            raise ValueError(
                f"this {type(self).__name__} was fitted on a list of series with one label "
                "each; predict on a list of (n_steps, n_features) arrays (a single series "
                "as [X])")
        return (series if is_list else [series]), is_list

    def _scores(self, X):
        """Per-class scores: (n_series, n_classes), or with ``per_step_`` one
        (n_steps, n_classes) array per series (a list if X is one)."""
        series, is_list = self._check_predict_X(X)
        scores = self._series_scores(series)
        return scores if is_list or not self.per_step_ else scores[0]

    def predict(self, X: SeriesLike) -> Union[np.ndarray, list[np.ndarray]]:
        """One label per series, or with per-step labels one per step (a list
        of arrays for a list of series)."""
        scores = self._scores(X)
        if isinstance(scores, list):
            return [self.classes_[np.argmax(sc, axis=1)] for sc in scores]
        return self.classes_[np.argmax(scores, axis=1)]

    def score(self, X: SeriesLike, y: SeriesLike,
              sample_weight: Optional[SeriesLike] = None) -> float:
        """Accuracy of ``predict(X)``: per series, or per step (pooled over the
        series, leaving out for an ESN the first ``warmup`` steps of each, as
        ``fit`` does)."""
        pred = self.predict(X)
        if not self.per_step_:
            return super().score(X, y, sample_weight=sample_weight)
        skip = self._unscored_steps()
        if not isinstance(pred, list):
            pred, y = [pred], [y]
            sample_weight = None if sample_weight is None else [sample_weight]
        elif not isinstance(y, (list, tuple)) or len(y) != len(pred):
            raise ValueError(f"for a list of {len(pred)} series, y must be a list of "
                             f"{len(pred)} arrays of per-step labels")
        if sample_weight is not None:
            sample_weight = np.concatenate([np.asarray(w)[skip:] for w in sample_weight])
        return accuracy_score(np.concatenate([_after(yi, skip, i) for i, yi in enumerate(y)]),
                              np.concatenate([p[skip:] for p in pred]),
                              sample_weight=sample_weight)


# ------------------------------------------------------------- reservoirs
class _ReservoirParams:
    """The reservoir's hyperparameters, with ReservoirPy's names."""

    def _unscored_steps(self):
        return self.warmup

    def _reservoir(self):
        return Reservoir(self.units, sr=self.sr, lr=self.lr, input_scaling=self.input_scaling,
                         rc_connectivity=self.rc_connectivity,
                         input_connectivity=self.input_connectivity,
                         bias_scaling=self.bias_scaling, activation=self.activation,
                         seed=_seed(self.random_state))


_RESERVOIR_DOC = """
    units : int, default=100
        Reservoir units N.
    sr : float > 0, default=0.9
        Spectral radius of the recurrent matrix W.
    lr : float in (0, 1], default=1.0
        Leak rate of the units (1 is no leak).
    input_scaling : float, default=1.0
        Scale of the input matrix Win (entries drawn from {-1, +1}).
    rc_connectivity : float in (0, 1], default=0.1
        Density of W.
    input_connectivity : float in (0, 1], default=0.1
        Density of Win (a unit may get no input at all when it is low).
    bias_scaling : float >= 0, default=0.0
        Scale of the bias (entries drawn from {-1, +1}).
    activation : {"tanh", "sigmoid", "relu", "identity"}, default="tanh"
    ridge : float >= 0, default=1e-6
        Regularisation of the ridge readout (``fastrnn.Ridge``'s own default
        is 0; a little keeps the small fits of cross-validation well posed).
    warmup : int >= 0, default=0
        Steps at the start of every series whose states the readout does
        not see in ``fit``, and whose predictions ``score`` does not judge
        (the transient from the zero state). ``predict`` returns every step.
"""

_RESERVOIR_SEED_DOC = """    random_state : None, int, numpy RandomState or Generator, default=None
        Draws W, Win and the bias. An int k gives exactly
        ``fastrnn.Reservoir(..., seed=k)``.
"""


class ESNRegressor(_ReservoirParams, _SeriesRegressor):
    __doc__ = f"""Echo state network regressor: a reservoir and a ridge readout.

    ``fit`` runs a ``fastrnn.ESN`` (``fastrnn.Reservoir`` + ``fastrnn.Ridge``)
    over the training series from the zero state and solves the readout;
    ``predict`` runs it again, from the zero state, on new series. Rows are
    time steps (see the module docstring): X is one (n_steps, n_features)
    series with y (n_steps,) or (n_steps, n_outputs), or a list of series
    with a list of targets.

    Parameters
    ----------{_RESERVOIR_DOC}    input_to_readout : bool, default=False
        The readout sees the input u_t next to the state x_t.
{_RESERVOIR_SEED_DOC}
    Attributes
    ----------
    esn_ : fastrnn.ESN
        The fitted network (``esn_.reservoir``, ``esn_.readout``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X was a DataFrame with string column names.

    Examples
    --------
    >>> from fastrnn import datasets
    >>> s = datasets.mackey_glass(600, seed=0)
    >>> model = ESNRegressor(units=200, ridge=1e-7, warmup=100, random_state=0)
    >>> model = model.fit(s[:500], s[1:501])        # one step ahead
    >>> model.score(s[400:-1], s[401:]) > 0.99       # 100 steps of warmup, then new ones
    True
    """

    def __init__(self, units: int = 100, *, sr: float = 0.9, lr: float = 1.0,
                 input_scaling: float = 1.0, rc_connectivity: float = 0.1,
                 input_connectivity: float = 0.1, bias_scaling: float = 0.0,
                 activation: str = "tanh", ridge: float = 1e-6, warmup: int = 0,
                 input_to_readout: bool = False, random_state: RandomStateLike = None) -> None:
        self.units = units
        self.sr = sr
        self.lr = lr
        self.input_scaling = input_scaling
        self.rc_connectivity = rc_connectivity
        self.input_connectivity = input_connectivity
        self.bias_scaling = bias_scaling
        self.activation = activation
        self.ridge = ridge
        self.warmup = warmup
        self.input_to_readout = input_to_readout
        self.random_state = random_state

    def fit(self, X: SeriesLike, y: SeriesLike) -> ESNRegressor:
        """Fit the readout on one series (2-D X) or a list of series.

        Returns
        -------
        self
        """
        series, targets = self._check_fit(X, y)
        if not is_series_list(X):
            series, targets = series[0], targets[0]
        esn = ESN(self._reservoir(), Ridge(self.ridge),
                  input_to_readout=bool(self.input_to_readout))
        esn.fit(series, targets, warmup=self.warmup)
        self.esn_ = esn
        return self

    def predict(self, X: SeriesLike) -> Union[np.ndarray, list[np.ndarray]]:
        """Per-step outputs: an array (n_steps,) or (n_steps, n_outputs), or a
        list of them for a list of series. Every series starts from the zero state."""
        check_is_fitted(self)
        series, _ = self._check_X(X, reset=False)
        self.esn_.reset()
        return self.esn_.run(series)


class ESNClassifier(_ReservoirParams, _SeriesClassifier):
    __doc__ = f"""Echo state network classifier: a reservoir and a ridge readout
    on one-hot targets, predicting the class with the largest output.

    - A list of series with one label each (sequence classification): the
      readout sees one feature vector per series, the reservoir's final
      state (``state="last"``) or its mean state over the steps after
      ``warmup`` (``state="mean"``).
    - One 2-D series with a label per step, or a list of series with a list
      of per-step label arrays (per-step classification): the readout sees
      the state at every step after ``warmup``.

    ``warmup`` is not used by ``state="last"``, whose feature is the state at
    the end of the series.

    Parameters
    ----------{_RESERVOIR_DOC}    state : {{"last", "mean"}}, default="last"
        The summary of a series used for sequence classification (ignored
        for per-step classification).
{_RESERVOIR_SEED_DOC}
    Attributes
    ----------
    reservoir_ : fastrnn.Reservoir
    readout_ : fastrnn.Ridge
        Maps states to one output per class.
    classes_ : ndarray
    per_step_ : bool
        True when fitted with a label per step.
    n_features_in_ : int
    """

    def __init__(self, units: int = 100, *, sr: float = 0.9, lr: float = 1.0,
                 input_scaling: float = 1.0, rc_connectivity: float = 0.1,
                 input_connectivity: float = 0.1, bias_scaling: float = 0.0,
                 activation: str = "tanh", ridge: float = 1e-6, warmup: int = 0,
                 state: str = "last", random_state: RandomStateLike = None) -> None:
        self.units = units
        self.sr = sr
        self.lr = lr
        self.input_scaling = input_scaling
        self.rc_connectivity = rc_connectivity
        self.input_connectivity = input_connectivity
        self.bias_scaling = bias_scaling
        self.activation = activation
        self.ridge = ridge
        self.warmup = warmup
        self.state = state
        self.random_state = random_state

    def _features(self, reservoir, series):
        """Per-step states (a list) with ``per_step_``, else one row per series."""
        reservoir.reset()
        states = reservoir.run(series)
        if self.per_step_:
            return states
        if self.state == "last":
            return np.stack([s[-1] for s in states])
        return np.stack([s[self.warmup:].mean(axis=0) for s in states])

    def fit(self, X: SeriesLike, y: SeriesLike) -> ESNClassifier:
        """Fit on a list of series with one label each, or on series (one 2-D
        array, or a list) with a label per step.

        Returns
        -------
        self
        """
        _check_state(self.state)
        series, codes = self._check_fit(X, y)
        warmup = check_int(self.warmup, "warmup", minimum=0)
        short = [i for i, x in enumerate(series) if len(x) <= warmup]
        if short and (self.per_step_ or self.state == "mean"):
            raise ValueError(f"warmup={warmup} must be less than the number of steps of every "
                             f"series, but series {short[0]} has {len(series[short[0]])}")
        reservoir = self._reservoir()
        features = self._features(reservoir, series)
        eye = np.eye(len(self.classes_))
        if self.per_step_:
            features = np.concatenate([f[warmup:] for f in features])
            targets = np.concatenate([eye[c[warmup:]] for c in codes])
        else:
            targets = eye[codes]
        self.readout_ = Ridge(self.ridge).fit(features, targets)
        self.reservoir_ = reservoir
        return self

    def _series_scores(self, series):
        features = self._features(self.reservoir_, series)
        if self.per_step_:
            return [self.readout_.predict(f) for f in features]
        return self.readout_.predict(features)

    def decision_function(self, X: SeriesLike) -> Union[np.ndarray, list[np.ndarray]]:
        """The readout's outputs, one column per class: (n_series, n_classes),
        or per step (n_steps, n_classes) (a list for a list of series). For
        two classes, as scikit-learn's binary convention, the second class's
        output minus the first's (> 0 predicts ``classes_[1]``)."""
        scores = self._scores(X)

        def binary(sc):
            return sc[:, 1] - sc[:, 0] if sc.shape[1] == 2 else sc
        return [binary(sc) for sc in scores] if isinstance(scores, list) else binary(scores)


# ------------------------------------------------------------ BPTT layers
class _RecurrentParams:
    """The recurrent network and its training loop."""

    def _check_params(self):
        if self.cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {self.cell!r}")

    def _model(self, n_inputs, n_outputs, rng):
        layer = _CELLS[self.cell](n_inputs, self.hidden_size, num_layers=self.num_layers,
                                  dtype=np.float64, seed=rng)
        return Sequential(layer, Linear(self.hidden_size, n_outputs, dtype=np.float64,
                                        seed=rng))

    def _fit_model(self, groups, n_inputs, n_outputs, loss):
        """Build and train the model on ``groups``: (X (T, n, D), Y) per length.

        One group (every series of the same length) is one ``fastrnn.train``
        call; several are trained one epoch at a time each, in a random order.
        """
        self._check_params()
        epochs = check_int(self.epochs, "epochs", minimum=1)
        rng = np.random.default_rng(_seed(self.random_state))
        model = self._model(n_inputs, n_outputs, rng)
        optimizer = Adam(model, lr=self.learning_rate, clip_norm=self.clip_norm)
        kwargs = dict(loss=loss, optimizer=optimizer, batch_size=self.batch_size,
                      tbptt=self.tbptt, seed=rng, progress=False)
        if len(groups) == 1:
            X, Y = groups[0]
            curve = train(model, X, Y, epochs=epochs, **kwargs)["loss"]
        else:
            weights = np.array([X.shape[1] for X, _ in groups], dtype=np.float64)
            curve = []
            for _ in range(epochs):
                losses = np.zeros(len(groups))
                for g in rng.permutation(len(groups)):
                    X, Y = groups[g]
                    losses[g] = train(model, X, Y, epochs=1, **kwargs)["loss"][0]
                curve.append(float(weights @ losses / weights.sum()))
        self.model_ = model
        self.loss_curve_ = list(curve)
        self.n_iter_ = len(curve)

    def _outputs(self, series):
        """The output layer's values at every step: (T, O) for each series of a
        list (inference: nothing kept for backward)."""
        outputs = [None] * len(series)
        for idx in _by_length(series).values():
            batch = np.stack([series[i] for i in idx], axis=1)
            with no_grad():
                out = self.model_.forward(batch)[0]
            for k, i in enumerate(idx):
                outputs[i] = out[:, k]
        return outputs


def _by_length(series):
    """{length: [indices of the series of that length]}, in order of appearance."""
    groups = {}
    for i, s in enumerate(series):
        groups.setdefault(s.shape[0], []).append(i)
    return groups


_RECURRENT_DOC = """
    cell : {"rnn", "lstm", "gru"}, default="lstm"
        The recurrent layer: ``fastrnn.RNN`` (tanh), ``LSTM`` or ``GRU``.
    hidden_size : int, default=32
    num_layers : int, default=1
    epochs : int, default=50
        Passes over the training series.
    batch_size : int, default=32
        Series per gradient step (a single series is a batch of one).
    learning_rate : float, default=0.01
        Adam's step size.
    clip_norm : float or None, default=1.0
        Clip the joint gradient norm before each step (Goodfellow et al. (2016), eq. 10.15).
    tbptt : int or None, default=None
        Truncated BPTT over chunks of this many steps (one gradient step
        per chunk, the state carried across); None is full BPTT. On one
        long series, full BPTT takes one gradient step per epoch: set
        ``tbptt`` (e.g. 50) to take one every ``tbptt`` steps.
"""

_RECURRENT_SEED_DOC = """    random_state : None, int, numpy RandomState or Generator, default=None
        An int k seeds one ``numpy.random.default_rng(k)`` that draws the
        layer's weights, then the output layer's, then the shuffling.
"""


class RNNRegressor(_RecurrentParams, _SeriesRegressor):
    __doc__ = f"""Recurrent network regressor trained by BPTT: a recurrent layer and
    a linear output at every step, squared error at every step, Adam.

    Rows are time steps (see the module docstring): X is one
    (n_steps, n_features) series with y (n_steps,) or (n_steps, n_outputs),
    or a list of series with a list of targets. Series of equal length are
    trained in mini-batches; series of different lengths are grouped by
    length, and an epoch visits the groups in a random order.

    Parameters
    ----------{_RECURRENT_DOC}{_RECURRENT_SEED_DOC}
    Attributes
    ----------
    model_ : fastrnn.Sequential
        The recurrent layer (``model_.recurrent``) and output layer
        (``model_.output``).
    loss_curve_ : list of float
        Mean training loss of each epoch.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    """

    def __init__(self, cell: str = "lstm", *, hidden_size: int = 32, num_layers: int = 1,
                 epochs: int = 50, batch_size: int = 32, learning_rate: float = 0.01,
                 clip_norm: Optional[float] = 1.0, tbptt: Optional[int] = None,
                 random_state: RandomStateLike = None) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.clip_norm = clip_norm
        self.tbptt = tbptt
        self.random_state = random_state

    def fit(self, X: SeriesLike, y: SeriesLike) -> RNNRegressor:
        """Train on one series (2-D X) or a list of series.

        Returns
        -------
        self
        """
        series, targets = self._check_fit(X, y)
        self._single_output = targets[0].ndim == 1
        targets = [t[:, None] if t.ndim == 1 else t for t in targets]
        groups = [(np.stack([series[i] for i in idx], axis=1),
                   np.stack([targets[i] for i in idx], axis=1))
                  for idx in _by_length(series).values()]
        self._fit_model(groups, series[0].shape[1], targets[0].shape[1], "mse")
        return self

    def predict(self, X: SeriesLike) -> Union[np.ndarray, list[np.ndarray]]:
        """Per-step outputs: an array (n_steps,) or (n_steps, n_outputs), or a
        list of them for a list of series. Every series starts from the zero state."""
        check_is_fitted(self)
        series, is_list = self._check_X(X, reset=False)
        outputs = self._outputs(series if is_list else [series])
        if self._single_output:
            outputs = [o[:, 0] for o in outputs]
        return outputs if is_list else outputs[0]


class RNNClassifier(_RecurrentParams, _SeriesClassifier):
    __doc__ = f"""Recurrent network classifier trained by BPTT with a softmax output
    (Goodfellow et al. (2016), eq. 10.4-10.5) and Adam.

    - A list of series with one label each (sequence classification):
      ``state="last"`` puts the loss on the last step's output only and
      predicts from it; ``state="mean"`` puts the series' label on every
      step (the loss averaged over the steps) and predicts from the mean of
      the per-step outputs, i.e. the output layer applied to the mean state.
    - One 2-D series with a label per step, or a list of series with a list
      of per-step label arrays (per-step classification): the loss is at
      every step and so is the prediction.

    Parameters
    ----------{_RECURRENT_DOC}    state : {{"last", "mean"}}, default="last"
{_RECURRENT_SEED_DOC}
    Attributes
    ----------
    model_ : fastrnn.Sequential
    classes_ : ndarray
    per_step_ : bool
        True when fitted with a label per step.
    loss_curve_ : list of float
    n_iter_ : int
    n_features_in_ : int
    """

    def __init__(self, cell: str = "lstm", *, hidden_size: int = 32, num_layers: int = 1,
                 epochs: int = 50, batch_size: int = 32, learning_rate: float = 0.01,
                 clip_norm: Optional[float] = 1.0, tbptt: Optional[int] = None,
                 state: str = "last", random_state: RandomStateLike = None) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.clip_norm = clip_norm
        self.tbptt = tbptt
        self.state = state
        self.random_state = random_state

    def fit(self, X: SeriesLike, y: SeriesLike) -> RNNClassifier:
        """Train on a list of series with one label each, or on series (one
        2-D array, or a list) with a label per step.

        Returns
        -------
        self
        """
        _check_state(self.state)
        series, codes = self._check_fit(X, y)
        groups = []
        for idx in _by_length(series).values():
            Xg = np.stack([series[i] for i in idx], axis=1)
            if self.per_step_:
                Yg = np.stack([codes[i] for i in idx], axis=1)
            elif self.state == "mean":
                Yg = np.ascontiguousarray(np.broadcast_to(codes[idx], (Xg.shape[0], len(idx))))
            else:
                Yg = codes[idx]
            groups.append((Xg, Yg))
        self._fit_model(groups, self.n_features_in_, len(self.classes_), "nll")
        return self

    def _series_scores(self, series):
        outputs = self._outputs(series)
        if self.per_step_:
            return outputs
        if self.state == "last":
            return np.stack([o[-1] for o in outputs])
        return np.stack([o.mean(axis=0) for o in outputs])

    def predict_proba(self, X: SeriesLike) -> Union[np.ndarray, list[np.ndarray]]:
        """Class probabilities (the softmax of the outputs): (n_series, n_classes),
        or with per-step labels (n_steps, n_classes) (a list for a list of series)."""
        scores = self._scores(X)
        return [_softmax(sc) for sc in scores] if isinstance(scores, list) else _softmax(scores)


def _softmax(logits):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# ------------------------------------------------- sequence classification
def _fits_labels(readout):
    """True for a scikit-learn classifier (fitted on the labels); False for
    a regressor or a fastrnn readout (fitted on one-hot targets)."""
    try:
        return is_classifier(readout)
    except AttributeError:   # not a scikit-learn estimator
        return False


def _readout_has(name):
    """For ``available_if``: the method ``name`` of the classifier readout
    (the fitted one, or before fit the one given) exists. A readout fitted on
    one-hot targets (the default one included) has scores of its own (its
    outputs) but no probabilities."""
    def check(self):
        readout = getattr(self, "readout_", self.readout)
        if readout is None or not _fits_labels(readout):
            return name == "decision_function"
        return hasattr(readout, name)
    return check


class ESNSequenceClassifier(_ReservoirParams, _SeriesClassifier):
    __doc__ = f"""Sequence-to-label classifier on echo state representations
    (Bianchi et al. 2020, "Reservoir computing approaches for representation
    and classification of multivariate time series", IEEE TNNLS).

    Every series (X is a list of (n_steps_i, n_features) arrays of any
    lengths, one label each in y) runs through a reservoir from the zero
    state, forward and, with ``bidirectional``, reversed; its states are
    optionally projected on their first ``pca_components`` principal axes
    and summarised in one vector (``representation``), by
    `fastrnn.reservoir.ESNSequenceEncoder`; a readout maps the vectors to
    the classes.

    The defaults were chosen by stratified 5-fold cross-validation on the
    training set of the Japanese Vowels data set (Kudo et al. 1999; 270
    series of 12 features, 7 to 29 steps, 9 speakers), over four seeds, the
    test set unused: among the representations (the model space with 20 or
    40 principal components did no better there, at more cost), reservoir
    sizes, scalings and ridges tried, the mean state of a bidirectional
    reservoir of 400 units came first (99.0 % cross-validated). On the 370
    test series they then make 3 or 4 errors (98.9 to 99.2 %) for every
    ``random_state`` from 0 to 7 (``bench/japanese_vowels.py``;
    ``fastrnn.datasets.japanese_vowels`` reads the data).

    Parameters
    ----------{_RESERVOIR_DOC.split("    ridge :")[0].replace("default=100", "default=400")}    ridge : float >= 0, default=0.1
        Regularisation of the default readout (see ``readout``).
    warmup : int >= 0, default=0
        States at the start of every series left out of the mean, the
        model space and the PCA (the transient from the zero state).
    representation : {{"last", "mean", "model_space"}}, default="mean"
        The summary of a series' states: its last state, its mean state, or
        the reservoir model space (the coefficients and intercept of a ridge
        model fitted to the series to predict its next state from its
        state; see `fastrnn.reservoir.classification.model_space`).
    bidirectional : bool, default=True
        Also run each series reversed; the states of both runs side by side.
    pca_components : int or None, default=None
        Principal components of the states kept (fitted on the training
        states); None keeps every state. The model space has
        k^2 + k features for k kept states (on Japanese Vowels the best
        model space of a small grid searched by cross-validation on the
        training set, about 98 % there, was ``units=100, sr=0.5, lr=0.6,
        pca_components=40, embedding_ridge=10.0``).
    embedding_ridge : float > 0, default=1.0
        Regularisation of the model space's per-series ridge models.
    readout : estimator or None, default=None
        None: ridge regression on one-hot targets with regularisation
        ``ridge``, the class with the largest output winning (scikit-learn's
        ``RidgeClassifier(alpha=ridge)``, which solves in the dual, an
        n_series x n_series system, when the representations are longer
        than there are series, as the model space's are). Else a
        scikit-learn classifier (fitted on the labels; ``predict_proba``
        and ``decision_function``
        are then its own), a scikit-learn regressor or a fastrnn readout
        (``Ridge``, ``RLS``, ``LMS``; fitted on one-hot targets). It is
        cloned (copied) in ``fit``, the original left untouched.
{_RESERVOIR_SEED_DOC}
    Attributes
    ----------
    encoder_ : fastrnn.reservoir.ESNSequenceEncoder
        The reservoir and the fitted PCA (``encoder_.reservoir``).
    readout_ : estimator
    classes_ : ndarray
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def series(label, n):  # a noisy sine whose frequency is the class
    ...     t = np.arange(n)[:, None]
    ...     return np.sin(0.3 * (label + 1) * t) + 0.1 * rng.standard_normal((n, 2))
    >>> y = np.arange(40) % 2
    >>> X = [series(c, int(n)) for c, n in zip(y, rng.integers(10, 30, size=40))]
    >>> model = ESNSequenceClassifier(random_state=0).fit(X[:30], y[:30])
    >>> model.score(X[30:], y[30:])
    1.0
    """

    def __init__(self, units: int = 400, *, sr: float = 0.9, lr: float = 1.0,
                 input_scaling: float = 1.0, rc_connectivity: float = 0.1,
                 input_connectivity: float = 0.1, bias_scaling: float = 0.0,
                 activation: str = "tanh", ridge: float = 0.1, warmup: int = 0,
                 representation: str = "mean", bidirectional: bool = True,
                 pca_components: Optional[int] = None, embedding_ridge: float = 1.0,
                 readout: Any = None, random_state: RandomStateLike = None) -> None:
        # scikit-learn's contract: every argument stored as given, under its
        # own name, nothing else (get_params reads them back)
        vars(self).update({name: value for name, value in locals().items() if name != "self"})

    def _series(self, X, reset):
        """X checked as a list of float64 series (by the encoder's own check,
        once per series: scikit-learn's per-array check costs more than the
        reservoir on short series)."""
        if not is_series_list(X):
            raise ValueError(
                f"{type(self).__name__} classifies whole series: X must be a list of "
                "(n_steps, n_features) arrays, one per series (a single series as [X]), "
                f"got {type(X).__name__}"
                + (f" of shape {np.shape(X)}" if hasattr(X, "shape") else ""))
        series = check_sequence_list(X)
        n_features = series[0].shape[1]
        if reset:
            self.n_features_in_ = n_features
        elif n_features != self.n_features_in_:
            raise ValueError(f"X has {n_features} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return series

    def _one_hot(self, codes):
        return np.eye(len(self.classes_))[codes]

    def fit(self, X: list[ArrayLike], y: ArrayLike) -> ESNSequenceClassifier:
        """Fit the PCA (if any) and the readout on the representations of
        the series X, with the labels y (one per series).

        Returns
        -------
        self
        """
        series = self._series(X, reset=True)
        if _per_step_labels(series, y):
            raise ValueError(f"{type(self).__name__} takes one label per series; for a label "
                             "per step use ESNClassifier")
        codes = self._encode(y, len(series), "one label per series")
        self.per_step_ = False
        encoder = ESNSequenceEncoder(
            self._reservoir(), representation=self.representation,
            bidirectional=self.bidirectional, pca_components=self.pca_components,
            embedding_ridge=self.embedding_ridge, warmup=self.warmup)
        features = encoder.fit_transform(series)
        if self.readout is None:
            readout = RidgeClassifier(alpha=check_real(self.ridge, "ridge", low=0.0))
        else:
            readout = (clone(self.readout) if hasattr(self.readout, "get_params")
                       else copy.deepcopy(self.readout))
        if _fits_labels(readout):
            readout.fit(features, codes)
        else:
            readout.fit(features, self._one_hot(codes))
        self.encoder_ = encoder
        self.readout_ = readout
        return self

    def transform(self, X: list[ArrayLike]) -> np.ndarray:
        """The representations the readout sees: (n_series, n_features_out)."""
        check_is_fitted(self)
        return self.encoder_.transform(self._series(X, reset=False))

    def predict(self, X: list[ArrayLike]) -> np.ndarray:
        """One label per series."""
        features = self.transform(X)
        if _fits_labels(self.readout_):
            return self.classes_[self.readout_.predict(features)]
        return self.classes_[np.argmax(self._outputs(features), axis=1)]

    def _outputs(self, features):
        return np.asarray(self.readout_.predict(features)).reshape(len(features), -1)

    @available_if(_readout_has("decision_function"))
    def decision_function(self, X: list[ArrayLike]) -> np.ndarray:
        """Per-class scores (n_series, n_classes): the readout's outputs on
        one-hot targets, or a classifier readout's own ``decision_function``.
        For two classes, scikit-learn's binary convention: one score, > 0
        predicting ``classes_[1]``."""
        features = self.transform(X)
        if _fits_labels(self.readout_):
            return self.readout_.decision_function(features)
        scores = self._outputs(features)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    @available_if(_readout_has("predict_proba"))
    def predict_proba(self, X: list[ArrayLike]) -> np.ndarray:
        """Class probabilities (n_series, n_classes) of a classifier readout
        that has them."""
        return self.readout_.predict_proba(self.transform(X))
