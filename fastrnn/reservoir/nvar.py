"""Next-generation reservoir computing (Gauthier, Bollt, Griffith & Barbosa
(2021), "Next generation reservoir computing", Nature Communications
12:5564): a nonlinear vector autoregression whose features are the input,
its delayed copies, and the unique polynomial monomials of them, followed by
a ridge readout.

`NVAR` builds the features (one call of ``_nvar.run`` per sequence) and keeps
the last inputs between calls, as `Reservoir` keeps its state;
`NVARForecaster` joins it to a `Ridge` readout that predicts the next input
(or its increment, as the paper does) and free-runs the closed loop in one
call of ``_nvar.generate``.
"""
from __future__ import annotations

import itertools
from math import comb
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn._core.validation import (NotFittedError, as_float_array, check_bool, check_dtype,
                                      check_finite, check_int)
from fastrnn.io import format as io_format
from fastrnn.reservoir import _nvar
from fastrnn.reservoir.readout import Ridge

# The monomial table is int32 (the kernel's index type) and built in Python
# once; beyond this many feature values per step that alone takes seconds.
MAX_FEATURES = 2**20
# The kernels count steps and rows of the history in C ints.
_MAX_INT = 2**31 - 1


def _monomial_count(n_linear, order, limit):
    """comb(n_linear + order - 1, order), the unique monomials, or limit + 1
    as soon as it exceeds limit (a corrupt header's order of 2**31 must not
    start a computation with million-digit integers)."""
    top = n_linear + order - 1
    k = min(order, n_linear - 1)
    count = 1
    for i in range(1, k + 1):   # comb(top - k + i, i), increasing with i
        count = count * (top - k + i) // i
        if count > limit:
            return limit + 1
    return count


def monomial_index(n_linear: int, order: int) -> np.ndarray:
    """(M, order) int32: the linear features of each monomial, in the order
    of ``itertools.combinations_with_replacement(range(n_linear), order)``
    (ReservoirPy's NVAR uses the same order, so the columns line up)."""
    combos = itertools.combinations_with_replacement(range(n_linear), order)
    index = np.fromiter(itertools.chain.from_iterable(combos), dtype=np.int32,
                        count=comb(n_linear + order - 1, order) * order)
    return index.reshape(-1, order)


class NVAR:
    """Nonlinear vector autoregression features of next-generation reservoir
    computing (Gauthier et al. (2021), eqs. 3-5).

    At step t the features are the linear part

        O_lin[t] = x[t] (+) x[t - s] (+) ... (+) x[t - (k - 1) s]

    (k D values, newest first) followed by the unique monomials of order n of
    O_lin[t] (``comb(k D + n - 1, n)`` values, in the order of
    ``itertools.combinations_with_replacement``, each product taken left to
    right). This is ReservoirPy's ``NVAR`` column by column. The paper's
    constant term is not a feature: as in ReservoirPy it is the readout's
    (unregularised) intercept, ``Ridge(fit_bias=True)``.

    Parameters
    ----------
    delay : int >= 1
        k, the number of inputs in the linear part (the current one and
        k - 1 delayed copies).
    order : int >= 1
        n, the order of the monomials.
    strides : int >= 1
        s, the steps between two delayed copies.
    input_dim : int >= 1, optional
        D; taken from the first ``run`` if None.
    dtype : numpy.float64 (default) or numpy.float32

    Attributes
    ----------
    history : ndarray ((k - 1) s + 1, D) or None
        The last inputs seen, oldest first; zeros after ``reset`` (so the
        first (k - 1) s steps see zeros for the delays that precede them, as
        in ReservoirPy). None until the input size is known.

    Notes
    -----
    The state carries over between calls, so running a series in chunks
    gives the features of one run over the whole series.
    """

    def __init__(self, delay: int, order: int, strides: int = 1, *,
                 input_dim: Optional[int] = None, dtype: DTypeLike = np.float64) -> None:
        self.delay = check_int(delay, "delay", minimum=1, maximum=_MAX_INT)
        self.order = check_int(order, "order", minimum=1, maximum=_MAX_INT)
        self.strides = check_int(strides, "strides", minimum=1, maximum=_MAX_INT)
        if self.history_len > _MAX_INT:
            raise ValueError(f"(delay - 1) * strides + 1 must be <= {_MAX_INT} (the inputs "
                             f"kept), got {self.history_len}")
        self.dtype = check_dtype(dtype)
        self.input_dim = None
        self._history = None
        self._index = None
        if input_dim is not None:
            self._set_input_dim(check_int(input_dim, "input_dim", minimum=1))

    # -------------------------------------------------------------- sizes
    def _set_input_dim(self, D):
        n_lin = self.delay * D
        n_features = n_lin + _monomial_count(n_lin, self.order, MAX_FEATURES)
        if n_features > MAX_FEATURES or (n_features - n_lin) * self.order > 8 * MAX_FEATURES:
            raise ValueError(
                f"delay={self.delay}, order={self.order} and input_dim={D} give "
                f"{n_features} features per step (at most {MAX_FEATURES}); lower the order, "
                f"the delay or the input size")
        self._index = monomial_index(n_lin, self.order)
        self.input_dim = D
        self._history = np.zeros((self.history_len, D), dtype=self.dtype)

    @property
    def history_len(self) -> int:
        """(k - 1) s + 1: the inputs a step's features reach back over."""
        return (self.delay - 1) * self.strides + 1

    def _need_input_dim(self):
        if self.input_dim is None:
            raise NotFittedError("the input size is not known yet: pass input_dim or run "
                                 "the NVAR on data first")
        return self.input_dim

    @property
    def linear_dim(self) -> int:
        """k D, the linear features."""
        return self.delay * self._need_input_dim()

    @property
    def nonlinear_dim(self) -> int:
        """comb(k D + n - 1, n), the monomials."""
        self._need_input_dim()
        return self._index.shape[0]

    @property
    def output_dim(self) -> int:
        """The features per step, k D + comb(k D + n - 1, n)."""
        return self.linear_dim + self.nonlinear_dim

    @property
    def monomials(self) -> np.ndarray:
        """(M, order): the linear features multiplied in each monomial."""
        self._need_input_dim()
        return self._index.copy()

    @property
    def history(self) -> Optional[np.ndarray]:
        return self._history

    @history.setter
    def history(self, value: ArrayLike) -> None:
        D = self._need_input_dim()
        arr = as_float_array(value, "history", self.dtype, shape=(self.history_len, D))
        self._history = check_finite(arr, "history").copy()

    def reset(self) -> NVAR:
        """Forget the inputs seen (the delays read zeros again)."""
        if self._history is not None:
            self._history[...] = 0
        return self

    # ---------------------------------------------------------------- run
    def _inputs(self, X, name="X"):
        arr = as_float_array(X, name, self.dtype, ndim=2)
        if self.input_dim is None:
            if arr.shape[1] == 0:
                raise ValueError(f"{name} must have at least one feature, got shape {arr.shape}")
            self._set_input_dim(arr.shape[1])
        elif arr.shape[1] != self.input_dim:
            raise ValueError(f"{name} must have shape (T, {self.input_dim}), got {arr.shape}")
        return arr

    def _remember(self, X):
        """Keep the last H inputs of history + X as the new history."""
        H = self.history_len
        T = X.shape[0]
        if T >= H:
            self._history = X[T - H:].copy()
        elif T:
            self._history = np.concatenate([self._history[T:], X])

    def run(self, X: ArrayLike) -> np.ndarray:
        """The features of every step of X, continuing from the stored
        history (which then holds X's last inputs).

        Parameters
        ----------
        X : array_like (T, D)

        Returns
        -------
        ndarray (T, output_dim)
        """
        X = self._inputs(X)
        out = np.empty((X.shape[0], self.output_dim), dtype=self.dtype)
        _nvar.run(X, self._history, self.delay, self.strides, self._index, out)
        self._remember(X)
        return out

    def __repr__(self) -> str:
        return (f"NVAR(delay={self.delay}, order={self.order}, strides={self.strides}, "
                f"input_dim={self.input_dim}, dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    # The sizes, and the history the next call continues from.
    def _save_config(self):
        return {"delay": self.delay, "order": self.order, "strides": self.strides,
                "input_dim": self.input_dim, "dtype": self.dtype.name}

    def _save_arrays(self):
        return {} if self._history is None else {"history": self._history}

    @classmethod
    def _from_saved(cls, config, arrays):
        input_dim = config.get("input_dim")
        if input_dim is not None:
            input_dim = io_format.config_int(config, "input_dim")
        m = cls(io_format.config_int(config, "delay"), io_format.config_int(config, "order"),
                io_format.config_int(config, "strides"), input_dim=input_dim,
                dtype=config.get("dtype", "float64"))
        if input_dim is not None:
            m._history = io_format.expect_array(arrays, "history", (m.history_len, input_dim),
                                                m.dtype, "NVAR").copy()
        elif arrays:
            raise ValueError("an NVAR without input_dim has no history to load")
        return m


io_format.register("NVAR", NVAR)


class NVARForecaster:
    """Forecasting with next-generation reservoir computing (Gauthier et al.
    (2021)): `NVAR` features and a `Ridge` readout trained to predict the next
    input, x[t+1] - x[t] (``increment=True``, the paper's eq. 6) or x[t+1];
    `generate` free-runs it, each prediction becoming the next input.

    Parameters
    ----------
    nvar : fastrnn.NVAR
    readout : fastrnn.Ridge
        Its intercept plays the paper's constant feature (unregularised).
    increment : bool
        Predict the increment x[t+1] - x[t] (default) or x[t+1].

    Notes
    -----
    The NVAR's history is the state: ``fit``, ``predict`` and ``generate``
    continue from it and leave it after the last input they saw or made,
    so ``generate`` right after ``fit(X)`` forecasts the steps after X.
    """

    def __init__(self, nvar: NVAR, readout: Ridge, *, increment: bool = True) -> None:
        if not isinstance(nvar, NVAR):
            raise TypeError(f"nvar must be a fastrnn.NVAR, got {type(nvar).__name__}")
        if not isinstance(readout, Ridge):
            raise TypeError(f"readout must be a fastrnn.Ridge, got {type(readout).__name__}")
        if readout.dtype != nvar.dtype:
            raise TypeError(f"readout and nvar must have the same dtype, got "
                            f"{readout.dtype.name} and {nvar.dtype.name}")
        self.nvar = nvar
        self.readout = readout
        self.increment = check_bool(increment, "increment")
        self.dtype = nvar.dtype

    def reset(self) -> NVARForecaster:
        """Forget the inputs seen (see `NVAR.reset`)."""
        self.nvar.reset()
        return self

    def fit(self, X: ArrayLike, warmup: int = 0) -> NVARForecaster:
        """Fit the readout to predict each next step of the series X.

        Parameters
        ----------
        X : array_like (T, D)
            One series; the features of steps warmup .. T - 2 are paired with
            the steps after them (the last step has no target but enters the
            history, so ``generate`` continues after it).
        warmup : int >= 0
            Steps whose features are not used (at least (k - 1) s to skip
            the delays filled with zeros after ``reset``).
        """
        warmup = check_int(warmup, "warmup", minimum=0)
        X = self.nvar._inputs(X)
        check_finite(X, "X")
        if X.shape[0] < warmup + 2:
            raise ValueError(f"X must have at least warmup + 2 = {warmup + 2} time steps "
                             f"(one pair after the warm-up), got {X.shape[0]}")
        features = self.nvar.run(X)[warmup:-1]
        target = X[warmup + 1:] - X[warmup:-1] if self.increment else X[warmup + 1:]
        self.readout.fit(features, target)
        return self

    def _readout_arrays(self):
        """coef (F, D) and intercept (D,), checked against the NVAR before
        a loop reads them."""
        ro = self.readout
        if not hasattr(ro, "coef_"):
            raise NotFittedError("the readout is not fitted: call fit first")
        D = self.nvar._need_input_dim()
        F = self.nvar.output_dim
        coef = as_float_array(ro.coef_, "readout.coef_", self.dtype, ndim=(1, 2))
        if coef.ndim == 1:
            coef = coef[:, None]
        intercept = np.atleast_1d(as_float_array(ro.intercept_, "readout.intercept_",
                                                 self.dtype, ndim=(0, 1)))
        if coef.shape != (F, D) or intercept.shape != (D,):
            raise ValueError(
                f"the readout must map the NVAR's {F} features to its {D} inputs (coef_ "
                f"({F}, {D}), intercept_ ({D},)), got {np.shape(ro.coef_)} and "
                f"{np.shape(ro.intercept_)}; fit it with this forecaster")
        return coef, np.ascontiguousarray(intercept)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """One-step forecasts: row t predicts x[t+1] from the inputs up to
        x[t] (continuing from the stored history).

        Parameters
        ----------
        X : array_like (T, D)

        Returns
        -------
        ndarray (T, D)
        """
        coef, intercept = self._readout_arrays()
        X = self.nvar._inputs(X)
        y = self.nvar.run(X) @ coef + intercept
        return X + y if self.increment else y

    def generate(self, n_steps: int) -> np.ndarray:
        """Free-run ``n_steps`` from the stored history: the forecast of each
        step is the next input (one call for the whole forecast).

        Returns
        -------
        ndarray (n_steps, D): the steps after the last input seen.
        """
        n_steps = check_int(n_steps, "n_steps", minimum=0)
        coef, intercept = self._readout_arrays()
        nv = self.nvar
        H = nv.history_len
        window = np.empty((H + n_steps, nv.input_dim), dtype=self.dtype)
        window[:H] = nv.history
        feat = np.empty(nv.output_dim, dtype=self.dtype)
        _nvar.generate(window, nv.delay, nv.strides, nv._index, coef, intercept,
                       self.increment, feat)
        nv._remember(window[H:])
        return window[H:]

    def __repr__(self) -> str:
        return f"NVARForecaster({self.nvar!r}, {self.readout!r}, increment={self.increment})"

    # -- persistence (fastrnn.io) --
    def _save_config(self):
        return {"nvar": io_format.part_config(self.nvar),
                "readout": io_format.part_config(self.readout),
                "increment": self.increment}

    def _save_arrays(self):
        arrays = io_format.part_arrays(self.nvar, "nvar")
        arrays.update(io_format.part_arrays(self.readout, "readout"))
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        return cls(io_format.build_part(config.get("nvar"), arrays, "nvar"),
                   io_format.build_part(config.get("readout"), arrays, "readout"),
                   increment=io_format.config_bool(config, "increment", True))


io_format.register("NVARForecaster", NVARForecaster)
