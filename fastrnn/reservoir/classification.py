"""Fixed-size representations of multivariate time series of any length from
an echo state reservoir, for classification (sequence to label).

Bianchi, Scardapane, Løkse and Jenssen (2020), "Reservoir computing
approaches for representation and classification of multivariate time
series", IEEE TNNLS 32(5), 2169-2179, describe the pipeline: run the
series through a reservoir, optionally also reversed (their bidirectional
reservoir), optionally reduce the states by PCA (their dimensionality
reduction module), summarise the states of a series in one vector (their
representation module), then fit any readout on those vectors. The
summaries here are the last state, the mean state, and their reservoir
model space: the coefficients of a ridge model fitted to each series to
predict its own next (reduced) state.

The series of one length run together in one C call of the reservoir (a
batch, without padding), and the per-series ridge models of such a batch
are solved together as a stack of small systems (NumPy's stacked
``solve``), never one Python call per series.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike
import scipy.linalg as sla

from fastrnn._core.validation import NotFittedError, as_float_array, check_bool, check_int, \
    check_real
from fastrnn.io import format as io_format
from fastrnn.reservoir.reservoir import Reservoir

__all__ = ["ESNSequenceEncoder", "model_space"]

#: The summaries of a series' states that `ESNSequenceEncoder` offers.
REPRESENTATIONS = ("last", "mean", "model_space")

# States (time steps x series x units) computed per reservoir call: bounds
# the memory of a call on many long series (128 MB in float64).
_STATES_PER_CALL = 2**24


def check_sequence_list(X: Any, name: str = "X") -> list[np.ndarray]:
    """``X`` as a non-empty list of finite, C-contiguous float64 (T_i, D)
    arrays, T_i >= 1, all of one D; a clear error naming ``X[i]`` otherwise."""
    if not isinstance(X, (list, tuple)):
        shape = getattr(X, "shape", None)
        hint = (f"; for an array of shape {shape} (series, steps, features) pass list({name})"
                if shape is not None and len(shape) == 3 else "")
        raise TypeError(f"{name} must be a list of (n_steps, n_features) arrays, one per "
                        f"series, got {type(X).__name__}{hint}")
    if len(X) == 0:
        raise ValueError(f"{name} is an empty list: there is no series")
    series = []
    for i, x in enumerate(X):
        arr = as_float_array(x, f"{name}[{i}]", np.float64, ndim=2)
        if arr.shape[0] == 0:
            raise ValueError(f"{name}[{i}] has no time steps")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name}[{i}] contains NaN or Inf")
        series.append(arr)
    widths = sorted({s.shape[1] for s in series})
    if len(widths) > 1:
        raise ValueError(f"every series in {name} must have the same number of features, "
                         f"got {widths}")
    if widths[0] == 0:
        raise ValueError(f"the series of {name} have no features")
    return series


def model_space(states: ArrayLike, ridge: float, *, start: int = 0) -> np.ndarray:
    """The reservoir model space of a batch of series (Bianchi et al.
    2020): for each series, the ridge regression of its next
    state on its state,

        min_{W, b} sum_t ||h_{t+1} - W^T h_t - b||^2 + ridge ||W||_F^2,

    over the pairs t = start .. T - 2 (b not regularised), solved for all
    series at once.

    Parameters
    ----------
    states : array_like (B, T, K)
        The states of B series of T steps each.
    ridge : float > 0
    start : int >= 0
        Steps left out at the start of every series (the transient);
        T must be at least ``start + 2``.

    Returns
    -------
    ndarray (B, K * K + K)
        Per series, W (K, K) flattened row by row (row j holds the weights
        of h_t[j]), then b (K,).

    Notes
    -----
    Each series' pairs are centred (their means removed), which takes the
    unregularised intercept out; then W solves the normal equations
    (X^T X + ridge I) W = X^T Y, or, when there are fewer pairs P than
    states K, the same solution in the dual form
    W = X^T (X X^T + ridge I)^{-1} Y, a P x P system instead of K x K
    (Hastie et al. (2009), sec. 18.3.5).
    """
    states = as_float_array(states, "states", np.float64, ndim=3)
    B, T, K = states.shape
    ridge = check_real(ridge, "ridge", low=0.0, low_open=True)
    start = check_int(start, "start", minimum=0)
    if T < start + 2:
        raise ValueError(f"the model space needs two states after the first {start} of every "
                         f"series, got series of {T} steps")
    current, following = states[:, start:-1], states[:, start + 1:]
    mean_current, mean_following = current.mean(axis=1), following.mean(axis=1)
    current = current - mean_current[:, None]
    following = following - mean_following[:, None]
    current_t = current.transpose(0, 2, 1)
    pairs = T - start - 1
    if pairs < K:
        gram = current @ current_t
        gram[:, np.arange(pairs), np.arange(pairs)] += ridge
        weights = current_t @ np.linalg.solve(gram, following)
    else:
        gram = current_t @ current
        gram[:, np.arange(K), np.arange(K)] += ridge
        weights = np.linalg.solve(gram, current_t @ following)
    intercept = mean_following - (mean_current[:, None, :] @ weights)[:, 0]
    return np.concatenate([weights.reshape(B, K * K), intercept], axis=1)


class ESNSequenceEncoder:
    """One fixed-size vector per multivariate series of any length, from an
    echo state reservoir (Bianchi et al. 2020): what a classifier (any
    readout: ``fastrnn.Ridge`` on one-hot labels, a scikit-learn estimator)
    is then fitted on. `fastrnn.sklearn.ESNSequenceClassifier` joins the two.

    Every series starts from the zero state; its states are those it has
    when run alone (the reservoir's stored state is left as it was).

    Parameters
    ----------
    reservoir : fastrnn.Reservoir
        Its input size is fixed by the first ``fit``.
    representation : {"last", "mean", "model_space"}, default="mean"
        - ``"last"``: the final state x_T.
        - ``"mean"``: the mean of the states after ``warmup``.
        - ``"model_space"``: the reservoir model space:
          the coefficients W (K x K) and intercept b of the ridge model
          h_{t+1} ~ W^T h_t + b fitted to the series' own states after
          ``warmup`` (see `model_space`); K^2 + K numbers, so usually with
          ``pca_components``.
    bidirectional : bool, default=False
        Also run every series reversed and put that run's states next to
        the forward ones: the state at step t is
        [x_t; x'_t], x'_t the state after t steps of the reversed series,
        as in the paper (each run on its own clock).
    pca_components : int or None, default=None
        Project the states (2N of them when bidirectional) onto their
        first principal components, found by ``fit`` over
        the states after ``warmup`` of all training series, before the
        representation is taken.
    embedding_ridge : float > 0, default=1.0
        The regularisation of the model space's per-series ridge models.
    warmup : int >= 0, default=0
        States at the start of every series that the mean, the model space
        and the PCA leave out (the transient from the zero state); the last
        state ignores it.

    Attributes
    ----------
    n_features_in_ : int
        Features D of the series seen by ``fit``.
    n_features_out_ : int
        Length of a representation.
    pca_mean_ : ndarray (K_states,) or None
    pca_components_ : ndarray (K_states, pca_components) or None
        The principal axes as columns, by decreasing variance; each signed
        so that its entry of largest magnitude is positive.
    pca_explained_variance_ : ndarray (pca_components,) or None

    Examples
    --------
    >>> import numpy as np, fastrnn
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.standard_normal((int(n), 3)) for n in rng.integers(5, 20, size=8)]
    >>> encoder = ESNSequenceEncoder(fastrnn.Reservoir(20, seed=0),
    ...                              representation="model_space", pca_components=5)
    >>> encoder.fit_transform(X).shape
    (8, 30)
    """

    def __init__(self, reservoir: Reservoir, *, representation: str = "mean",
                 bidirectional: bool = False, pca_components: Optional[int] = None,
                 embedding_ridge: float = 1.0, warmup: int = 0) -> None:
        if not isinstance(reservoir, Reservoir):
            raise TypeError(f"reservoir must be a fastrnn.Reservoir, got "
                            f"{type(reservoir).__name__}")
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got "
                             f"{representation!r}")
        self.reservoir = reservoir
        self.representation = representation
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.pca_components = (None if pca_components is None
                               else check_int(pca_components, "pca_components", minimum=1))
        self.embedding_ridge = check_real(embedding_ridge, "embedding_ridge", low=0.0,
                                          low_open=True)
        self.warmup = check_int(warmup, "warmup", minimum=0)
        if self.pca_components is not None and self.pca_components > self.state_size:
            raise ValueError(f"pca_components must be at most the {self.state_size} states "
                             f"(units{' x 2, bidirectional' if self.bidirectional else ''}), "
                             f"got {self.pca_components}")
        self.n_features_in_: Optional[int] = None
        self.pca_mean_: Optional[np.ndarray] = None
        self.pca_components_: Optional[np.ndarray] = None
        self.pca_explained_variance_: Optional[np.ndarray] = None

    @property
    def state_size(self) -> int:
        """States per step before PCA: the units, twice when bidirectional."""
        return self.reservoir.units * (2 if self.bidirectional else 1)

    @property
    def n_features_out_(self) -> int:
        k = self.state_size if self.pca_components is None else self.pca_components
        return k * k + k if self.representation == "model_space" else k

    def __repr__(self) -> str:
        return (f"ESNSequenceEncoder({self.reservoir!r}, representation="
                f"{self.representation!r}, bidirectional={self.bidirectional}, "
                f"pca_components={self.pca_components})")

    # ------------------------------------------------------------ checks
    def _checked(self, X, fitting):
        series = check_sequence_list(X)
        D = series[0].shape[1]
        if not fitting:
            if self.n_features_in_ is None:
                raise NotFittedError("transform called before fit: call fit first")
            if D != self.n_features_in_:
                raise ValueError(f"X has {D} features per step, but this encoder was fitted "
                                 f"on {self.n_features_in_}")
        shortest = min(range(len(series)), key=lambda i: series[i].shape[0])
        needed = {"last": 1, "mean": self.warmup + 1,
                  "model_space": self.warmup + 2}[self.representation]
        if series[shortest].shape[0] < needed:
            raise ValueError(
                f"representation={self.representation!r} with warmup={self.warmup} needs "
                f"series of at least {needed} steps, but X[{shortest}] has "
                f"{series[shortest].shape[0]}")
        return series

    # ------------------------------------------------------------ states
    def _groups(self, series):
        """Indices of the series run together in one reservoir call: those
        of one length (no padding, so no step is computed in vain), at most
        ``_STATES_PER_CALL`` states per call."""
        by_length = {}
        for i, s in enumerate(series):
            by_length.setdefault(s.shape[0], []).append(i)
        groups = []
        for length, indices in sorted(by_length.items()):
            size = max(1, _STATES_PER_CALL // (length * self.state_size))
            groups += [indices[k:k + size] for k in range(0, len(indices), size)]
        return groups

    def _states(self, series, group):
        """The runs of the series ``group`` (all of one length T): one
        (T, B, N) array for the forward run, and with ``bidirectional`` one
        for the run of the reversed series."""
        reservoir = self.reservoir
        forward = np.stack([series[i] for i in group], axis=1).astype(reservoir.dtype,
                                                                       copy=False)
        inputs = (forward, np.ascontiguousarray(forward[::-1])) if self.bidirectional \
            else (forward,)
        start = np.zeros((len(group), reservoir.units), dtype=reservoir.dtype)
        kept = reservoir.state
        try:
            return [reservoir.run(u, x0=start) for u in inputs]
        finally:
            reservoir.state = kept

    def _joined(self, parts):
        """The per-run parts (..., N) side by side, projected on the
        principal axes if any: (..., K)."""
        if self.pca_components_ is None:
            return np.concatenate(parts, axis=-1) if len(parts) > 1 else \
                parts[0].astype(np.float64, copy=False)
        # (x - mean) @ C, run by run over C's blocks of rows: the runs are
        # never copied side by side
        N = self.reservoir.units
        out = -(self.pca_mean_ @ self.pca_components_)
        for k, part in enumerate(parts):
            out = out + part @ self.pca_components_[k * N:(k + 1) * N]
        return out

    def _represent(self, runs):
        """One row per series of a group from its runs (T, B, N)."""
        if self.representation == "last":
            return self._joined([run[-1] for run in runs])
        if self.representation == "mean":
            return self._joined([run[self.warmup:].mean(axis=0) for run in runs])
        states = self._joined(runs).transpose(1, 0, 2)
        return model_space(states, self.embedding_ridge, start=self.warmup)

    def _fit_pca(self, runs_of_groups):
        """Principal axes of the states after ``warmup`` of all series: the
        eigenvectors of their covariance matrix, accumulated group by group."""
        K = self.state_size
        total, moments, count = np.zeros(K), np.zeros((K, K)), 0
        shift = None
        for runs in runs_of_groups:
            rows = np.concatenate([run[self.warmup:].reshape(-1, run.shape[-1])
                                   for run in runs], axis=1).astype(np.float64, copy=False)
            if shift is None:
                # about a first estimate of the mean: no cancellation in the
                # moments when the states share a large offset
                shift = rows.mean(axis=0) if rows.shape[0] else np.zeros(K)
            rows = rows - shift
            total += rows.sum(axis=0)
            moments += rows.T @ rows
            count += rows.shape[0]
        if count < 2:
            raise ValueError("PCA needs at least two states after warmup over all series")
        centre = total / count
        covariance = (moments - count * np.outer(centre, centre)) / (count - 1)
        k = self.pca_components
        # only the k leading eigenpairs (LAPACK's syevr): a fraction of the
        # full decomposition when k is small
        values, vectors = sla.eigh(covariance, subset_by_index=(K - k, K - 1),
                                   check_finite=False)
        values, vectors = values[::-1], vectors[:, ::-1]
        signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(k)])
        self.pca_components_ = np.ascontiguousarray(vectors * np.where(signs == 0, 1.0, signs))
        self.pca_mean_ = shift + centre
        self.pca_explained_variance_ = np.maximum(values, 0.0)

    # -------------------------------------------------------------- API
    def fit(self, X: Sequence[ArrayLike]) -> ESNSequenceEncoder:
        """Fix the input size (drawing Win) and, with ``pca_components``,
        find the principal axes of the training states.

        Parameters
        ----------
        X : list of array_like (T_i, D)

        Returns
        -------
        self
        """
        self._fit(X, keep=False)
        return self

    def _fit(self, X, keep):
        series = self._checked(X, fitting=True)
        self.reservoir.initialize(series[0].shape[1])
        self.n_features_in_ = series[0].shape[1]
        self.pca_mean_ = self.pca_components_ = self.pca_explained_variance_ = None
        batches = [(group, self._states(series, group)) for group in self._groups(series)] \
            if keep or self.pca_components is not None else []
        if self.pca_components is not None:
            self._fit_pca(runs for _, runs in batches)
        return series, batches

    def transform(self, X: Sequence[ArrayLike]) -> np.ndarray:
        """The representation of every series.

        Parameters
        ----------
        X : list of array_like (T_i, D)

        Returns
        -------
        ndarray (n_series, n_features_out_)
        """
        series = self._checked(X, fitting=False)
        return self._assemble(len(series), ((group, self._states(series, group))
                                            for group in self._groups(series)))

    def fit_transform(self, X: Sequence[ArrayLike]) -> np.ndarray:
        """``fit(X).transform(X)``, running the reservoir over X once."""
        series, batches = self._fit(X, keep=True)
        return self._assemble(len(series), batches)

    def _assemble(self, n, batches):
        out = np.empty((n, self.n_features_out_), dtype=np.float64)
        for group, runs in batches:
            out[group] = self._represent(runs)
        return out

    # -- persistence (fastrnn.io) --
    def _save_config(self):
        return {"reservoir": io_format.part_config(self.reservoir),
                "representation": self.representation, "bidirectional": self.bidirectional,
                "pca_components": self.pca_components,
                "embedding_ridge": self.embedding_ridge, "warmup": self.warmup,
                "n_features_in": self.n_features_in_}

    def _save_arrays(self):
        arrays = io_format.part_arrays(self.reservoir, "reservoir")
        if self.pca_components_ is not None:
            arrays.update(pca_mean=self.pca_mean_, pca_components=self.pca_components_,
                          pca_explained_variance=self.pca_explained_variance_)
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        encoder = cls(io_format.build_part(config.get("reservoir"), arrays, "reservoir"),
                      representation=config.get("representation"),
                      bidirectional=io_format.config_bool(config, "bidirectional", False),
                      pca_components=config.get("pca_components"),
                      embedding_ridge=config.get("embedding_ridge"),
                      warmup=io_format.config_count(config, "warmup"))
        if config.get("n_features_in") is not None:
            encoder.n_features_in_ = io_format.config_int(config, "n_features_in")
        if "pca_components" in arrays:
            if encoder.pca_components is None or encoder.n_features_in_ is None:
                raise ValueError("PCA arrays are saved for an encoder without pca_components "
                                 "or not fitted")
            K, k = encoder.state_size, encoder.pca_components
            encoder.pca_mean_ = io_format.expect_array(
                arrays, "pca_mean", (K,), np.float64, "ESNSequenceEncoder").copy()
            encoder.pca_components_ = io_format.expect_array(
                arrays, "pca_components", (K, k), np.float64, "ESNSequenceEncoder").copy()
            encoder.pca_explained_variance_ = io_format.expect_array(
                arrays, "pca_explained_variance", (k,), np.float64,
                "ESNSequenceEncoder").copy()
        elif encoder.pca_components is not None and encoder.n_features_in_ is not None:
            raise ValueError("a fitted encoder with pca_components must have its PCA arrays")
        return encoder


io_format.register("ESNSequenceEncoder", ESNSequenceEncoder)
