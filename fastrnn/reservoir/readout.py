"""Linear readouts of an echo state network: ridge regression, streamed,
recursive least squares and least mean squares (Jaeger 2001; Lukoševičius
2012; Goodfellow et al. (2016), sec. 10.8: only the output weights are
learned, a linear regression solved in closed form or by online updates).

All take the states of any fastrnn layer (reservoir, RNN, LSTM, GRU) as
features: X is (T, F), (T, B, F) (rows of all series pooled) or a list of
such arrays, and Y is shaped alike with O outputs (or no last axis for a
single output).
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
import scipy.linalg as sla

from fastrnn.reservoir import _readout
from fastrnn._core.blas_threads import single_blas_thread
from fastrnn._core.validation import (
    NotFittedError, as_float_array, check_dtype, check_int, check_real, rows_in_place,
)
from fastrnn.io import format as io_format

#: What the readouts take as X and Y: one array, or a list of arrays (series).
Series = Union[ArrayLike, list[ArrayLike]]

_EPS = np.finfo(np.float64).eps

#: Iterative refinement of a one-shot fit (`Ridge._refine`): at most this
#: many steps, each one pass over the data and two triangular solves.
_REFINE_STEPS = 4


def _series_pairs(X, Y):
    """Yield matching (X_i, Y_i) pairs from arrays or lists of arrays."""
    if isinstance(X, (list, tuple)):
        if not isinstance(Y, (list, tuple)) or len(X) != len(Y):
            raise ValueError("X and Y must both be lists of the same length, or both arrays")
        if not X:
            raise ValueError("X and Y are empty lists: there is no series to fit")
        for i, (x, y) in enumerate(zip(X, Y)):
            yield x, y, f"[{i}]"
    else:
        yield X, Y, ""


def _as_rows(X, name, dtype, *, views=False, check_finite=True):
    """(T, F) or (T, B, F) -> a C-contiguous (rows, F) array; with ``views``,
    an array of ``dtype`` whose rows are contiguous and evenly spaced (columns
    of a wider buffer) is taken as it lies, not copied."""
    arr = rows_in_place(X, dtype) if views else None
    if arr is None:
        arr = as_float_array(X, name, dtype, ndim=(2, 3))
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one feature in its last dimension, "
                         f"got shape {arr.shape}")
    if check_finite:
        _check_finite(arr, name)
    return arr.reshape(-1, arr.shape[-1])


def _check_finite(arr, name):
    # A least-squares fit on NaN or Inf has no meaning, and LAPACK would
    # answer with an obscure "illegal value" error (as scikit-learn, refuse).
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or Inf: a readout cannot be fitted on it")


#: See `Ridge._add_raw_gram`: at most (8)^2 = 64 ulp of the Gram matrix's
#: entries lost to cancellation.
_RAW_OFFSET_LIMIT = 8.0

#: The same limit in a one-shot fit, whose solution is then refined against
#: the data: the Gram matrix need only be close enough for the refinement to
#: converge, so columns up to 2^8 spreads from zero (at most 2^16 ulp lost)
#: are left raw, as the units of a reservoir driven with an offset input are
#: (their means lie up to ~100 spreads from zero).
_REFINED_OFFSET_LIMIT = 256.0


def _blas_for(gram):
    """One BLAS thread for a Gram matrix of 1 GiB or more (see
    `fastrnn._core.blas_threads.single_blas_thread`), else BLAS as it is."""
    return single_blas_thread() if gram.nbytes >= 1 << 30 else contextlib.nullcontext()


def _move_gram_shift(gram, d):
    """The upper triangle of a Gram matrix of rows z = [1, x, y] (its first
    row holding the count and the column sums) made, in place, that of the
    rows z + d z_0, i.e. with the data shifted by d (d_0 = 0): M G M^T for
    M = I + d e_0^T, one rank-2 and one rank-1 BLAS update of the triangle."""
    g0 = gram[0].copy()
    syr2, syr = sla.blas.get_blas_funcs(("syr2", "syr"), (gram,))
    d = d.astype(gram.dtype)
    # gram.T is the column-major view, whose lower triangle is gram's upper
    syr2(1.0, d, g0, lower=1, a=gram.T, overwrite_a=1)
    syr(g0[0], d, lower=1, a=gram.T, overwrite_a=1)


def _as_targets(Y, name, dtype, rows):
    arr = as_float_array(Y, name, dtype, ndim=(1, 2, 3))
    if arr.ndim > 1 and arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one output in its last dimension, "
                         f"got shape {arr.shape}")
    _check_finite(arr, name)
    single = arr.ndim == 1
    if single:
        arr = arr[:, None]
    arr = arr.reshape(-1, arr.shape[-1])
    if arr.shape[0] != rows:
        raise ValueError(f"{name} must have as many time steps (x series) as X: {rows} rows, "
                         f"got {arr.shape[0]}")
    return arr, single


class Ridge:
    """Ridge regression (Tikhonov) readout, streamed.

    Minimises ||Y - X W - 1 b^T||^2 + ridge ||W||^2 (Tikhonov regularisation,
    the usual readout training of Lukoševičius (2012)); the bias b is not
    regularised.

    Parameters
    ----------
    ridge : float >= 0
        Regularisation parameter.
    fit_bias : bool
        Fit an intercept (unregularised).
    solver : {"auto", "cholesky", "qr"}
        How the data are accumulated and the system solved.

        - ``"cholesky"``: the Gram matrix [1 X Y]^T [1 X Y] is accumulated
          with symmetric rank-k BLAS updates (syrk), then the centred normal
          equations (X_c^T X_c + ridge I) W = X_c^T Y_c are solved by
          Cholesky, or, when that matrix is not numerically positive
          definite, by an SVD-based least-squares solve. In a one-shot
          ``fit(X, Y)`` the solution is then refined against the data at
          hand with the same Cholesky factor (iterative refinement, the
          corrected semi-normal equations of Björck (1987)): each step costs
          one pass over X and two triangular solves, and a step or two give
          the accuracy of the residuals instead of one limited by the squared
          condition number; when it does not converge, it keeps the last
          iterate that a smaller correction confirmed (the unrefined solution
          if none). ``partial_fit`` + ``fit()`` solve the
          normal equations alone (the data are gone).
        - ``"qr"``: a triangular factor R of [1 X Y] is updated chunk by chunk
          (R <- qr([R; chunk])) and the ridge problem solved from R by one
          more QR of [R; sqrt(ridge) I] (an SVD of R when ridge = 0).
          The condition number is not squared, so it stays accurate when the
          ridge is far below the rounding level of the Gram matrix (e.g.
          ridge = 1e-14 with states whose squared singular values fall below
          1e-12). About twice the work of ``"cholesky"``.
        - ``"auto"`` (default): ``"cholesky"``; but a one-shot ``fit(X, Y)``
          whose normal equations are too ill-conditioned for the refinement
          to converge (or not numerically positive definite) is redone by one
          QR factorisation of the data at hand. ``partial_fit`` data are
          streamed as in ``"cholesky"`` (the data are gone when the
          conditioning is known), with the least-squares fallback; stream
          with ``"qr"`` when the ridge is tiny.
    dtype : numpy.float64 (default) or numpy.float32
        Precision of the accumulation and solve (features are converted).
    chunk_size : int or None
        Rows per syrk/QR update; bounds the extra memory. None: 4096 rows
        for syrk (OpenBLAS's syrk needs long panels to reach its speed),
        max(4096, 4 x width) rows for QR (each update also refactors the
        previous R).

    Attributes
    ----------
    coef_ : ndarray (F, O), or (F,) for a single output given as 1-D Y
    intercept_ : ndarray (O,) or float
    n_samples_seen_ : int
    solver_used_ : str
        "cholesky", "lstsq" (the Cholesky fallback) or "qr".
    rcond_ : float
        LAPACK's estimate of the reciprocal condition number of the solved
        normal equations (NaN when not computed).

    Notes
    -----
    The accumulator holds the Gram matrix of the rows shifted by the mean of
    the first 1000 rows (a constant shift; the solution is the same), which
    keeps the centring step free of cancellation when the features have a
    large common offset. Without ``chunk_size`` it is made with one syrk on
    the rows as they lie (no shifted copy of the states) and moved to the
    shift; the entries of the few columns whose mean lies far from zero
    against their spread, which that move would cancel, are made again from
    those columns shifted, and when many columns are far from zero the
    shifted copy is made chunk by chunk instead. In a one-shot fit, whose
    solution is refined against the data, "far" means 256 spreads instead of
    8 (the refinement only needs the Gram matrix close enough to converge:
    the units of a reservoir driven by an input with an offset lie tens of
    spreads from zero); if it does not converge from such a Gram matrix, the
    Gram matrix is made again as ``partial_fit`` makes it. A fit thus holds
    the states and one Gram matrix, whose free lower triangle is the
    Cholesky factor's workspace.
    """

    def __init__(self, ridge: float = 0.0, *, fit_bias: bool = True, solver: str = "auto",
                 dtype: DTypeLike = np.float64, chunk_size: Optional[int] = None) -> None:
        self.ridge = check_real(ridge, "ridge", low=0.0)
        self.fit_bias = bool(fit_bias)
        if solver not in ("auto", "cholesky", "qr"):
            raise ValueError(f"solver must be 'auto', 'cholesky' or 'qr', got {solver!r}")
        self.solver = solver
        self.dtype = check_dtype(dtype)
        self.chunk_size = None if chunk_size is None else check_int(chunk_size, "chunk_size",
                                                                     minimum=1)
        self._reset()

    # ---------------------------------------------------------- accumulate
    def _reset(self):
        # What the data seen so far reduce to: the upper triangle of the Gram
        # matrix [1 X Y]^T [1 X Y] (mode "gram") or its triangular QR factor R
        # (mode "qr"), of the rows shifted as the Notes of the class say.
        self._gram_or_r = None
        # whether the Gram matrix left raw some columns that partial_fit
        # would have redone (see `_add_raw_gram`)
        self._gram_inexact = False
        self._shift_x = None
        self._shift_y = None
        self._single = None
        self.n_samples_seen_ = 0

    def reset(self) -> Ridge:
        """Forget everything accumulated by ``partial_fit``."""
        self._reset()
        return self

    @property
    def _streaming_mode(self):
        return "qr" if self.solver == "qr" else "gram"

    def _accumulate(self, X, Y, name_suffix="", mode=None, offset_limit=_RAW_OFFSET_LIMIT):
        mode = mode or self._streaming_mode
        X = _as_rows(X, "X" + name_suffix, self.dtype, views=True, check_finite=False)
        Y, single = _as_targets(Y, "Y" + name_suffix, self.dtype, X.shape[0])
        F, O = X.shape[1], Y.shape[1]
        # a new (all-zero) accumulator the first chunk may be written into
        fresh = self._gram_or_r is None
        if fresh:
            head = min(X.shape[0], 1000)
            if self.fit_bias and head > 0:
                self._shift_x = X[:head].mean(axis=0)
                self._shift_y = Y[:head].mean(axis=0)
            else:
                self._shift_x = np.zeros(F, dtype=self.dtype)
                self._shift_y = np.zeros(O, dtype=self.dtype)
            self._single = single
            width = int(self.fit_bias) + F + O
            self._gram_or_r = np.zeros((width, width), dtype=self.dtype)
            self._mode = mode
        elif (F, O) != (self._shift_x.shape[0], self._shift_y.shape[0]):
            raise ValueError(
                f"X and Y must keep {self._shift_x.shape[0]} features and "
                f"{self._shift_y.shape[0]} outputs across partial_fit calls, got {F} and {O}"
            )
        b = int(self.fit_bias)
        width = b + F + O
        T = X.shape[0]
        if self._mode == "gram" and self.chunk_size is None \
                and self._add_raw_gram(X, Y, name_suffix, fresh, offset_limit):
            self.n_samples_seen_ += T
            return X, Y
        _check_finite(X, "X" + name_suffix)
        step = self.chunk_size
        if step is None:
            step = 4096 if self._mode == "gram" else max(4096, 4 * width)
        buf = np.empty((min(step, max(T, 1)), width), dtype=self.dtype)
        for start in range(0, T, step):
            stop = min(T, start + step)
            m = stop - start
            chunk = buf[:m]
            if b:
                chunk[:, 0] = 1
            np.subtract(X[start:stop], self._shift_x, out=chunk[:, b:b + F])
            np.subtract(Y[start:stop], self._shift_y, out=chunk[:, b + F:])
            if self._mode == "gram":
                with _blas_for(self._gram_or_r):
                    _readout.gram_update(chunk, self._gram_or_r)
            else:
                stacked = np.vstack([self._gram_or_r, chunk])
                r = sla.qr(stacked, mode="r", overwrite_a=True, check_finite=False)[0]
                self._gram_or_r[...] = 0
                k = min(r.shape[0], width)
                self._gram_or_r[:k] = r[:k]
        self.n_samples_seen_ += T
        return X, Y

    def _add_raw_gram(self, X, Y, name_suffix, fresh, limit):
        """Add [1 X Y]^T [1 X Y] of the rows as they lie (one syrk on X; no
        shifted copy), moved to the accumulator's shift (see `merge`), and
        return True; or add nothing and return False when that would lose
        accuracy. Moving a Gram matrix to a shift loses about
        (offset / spread)^2 of its entries' precision to cancellation, so the
        entries of the columns whose mean lies more than ``limit`` spreads
        from zero (as the Gram matrix itself tells: a unit saturated at its
        bias, an input with an offset) are made again from those columns
        shifted (`_redo_offset_columns`); when there are many, the caller
        takes the shifted copy of all the data instead. ``limit`` is
        `_RAW_OFFSET_LIMIT`, or `_REFINED_OFFSET_LIMIT` in a one-shot fit
        (which then notes in ``_gram_inexact`` whether columns beyond the
        former were left raw)."""
        b = int(self.fit_bias)
        width = b + X.shape[1] + Y.shape[1]
        # Into the accumulator itself while it is new: no second Gram matrix
        gram = self._gram_or_r if fresh else np.zeros((width, width), dtype=self.dtype)
        with _blas_for(gram):
            _readout.raw_gram(X, Y, gram, bool(b))
        diagonal = np.diagonal(gram)
        if not np.isfinite(diagonal).all():
            # NaN or Inf in the data (the message names it), or an overflow,
            # which the solve reports
            _check_finite(X, "X" + name_suffix)
        if b:
            with np.errstate(invalid="ignore", over="ignore"):
                mean = gram[0, 1:] / gram[0, 0]
                spread2 = diagonal[1:] / gram[0, 0] - mean * mean
                offset = ~(mean * mean <= limit ** 2 * spread2)
                inexact = ~offset & ~(mean * mean <= _RAW_OFFSET_LIMIT ** 2 * spread2)
            if offset.sum() > max(16, width // 16):
                if fresh:
                    gram[...] = 0
                return False
            self._gram_inexact |= bool(inexact.any())
            shift = np.concatenate([self._shift_x, self._shift_y])
            with np.errstate(over="ignore", invalid="ignore"):
                _move_gram_shift(gram, -np.concatenate([[0], shift]))
            if offset.any():
                # an overflow here is reported by the solve as a ValueError
                with np.errstate(over="ignore", invalid="ignore"):
                    self._redo_offset_columns(X, Y, gram, np.flatnonzero(offset), shift)
        if not fresh:
            # raw_gram, the shift's move and the redone columns write only the
            # upper triangle: the rest of gram is still zero
            self._gram_or_r += gram
        return True

    @staticmethod
    def _redo_offset_columns(X, Y, gram, columns, shift):
        """The Gram entries of the few columns (of [X Y]) far from zero
        against their spread, which the move to the shift cancelled, made
        again from those columns shifted first: entry (c, j) is
        sum_t (z_c - s_c) z_j - s_j sum_t (z_c - s_c), each product of a small
        and a moderate number (the other columns are near zero against their
        spread), so nothing large cancels; among the few columns themselves,
        the products of their shifted copies. One GEMM of the few shifted
        columns against X, read where it lies."""
        F = X.shape[1]
        Z = [X[:, c] if c < F else Y[:, c - F] for c in columns]
        centred = np.stack(Z, axis=1) - shift[columns]
        rows = np.empty((len(columns), F), dtype=gram.dtype)
        _readout.cross_product(centred, X, rows)
        rows = np.concatenate([rows, centred.T @ Y], axis=1)
        sums = centred.sum(axis=0)
        rows -= np.outer(sums, shift)
        # among themselves both sides are far from zero: their shifted
        # columns' products directly
        rows[:, columns] = centred.T @ centred
        for i, c in enumerate(columns):
            gram[0, 1 + c] = sums[i]
            gram[1 + c, 1 + c:] = rows[i, c:]
            gram[1:1 + c, 1 + c] = rows[i, :c]

    def partial_fit(self, X: Series, Y: Series) -> Ridge:
        """Accumulate a chunk of data (then call ``fit()`` to solve).

        Parameters
        ----------
        X : array_like (T, F) or (T, B, F), or a list of them
        Y : array_like (T, O), (T,), (T, B, O), or a list of them
        """
        for x, y, suffix in _series_pairs(X, Y):
            self._accumulate(x, y, suffix)
        return self

    def merge(self, other: Ridge) -> Ridge:
        """Add what another Ridge accumulated to this one (in place).

        After ``a.merge(b)``, ``a`` holds, up to rounding, what it would hold
        had it also seen b's ``partial_fit`` data: partial sums made in
        separate processes or on separate machines (``fastrnn.dask``) are
        combined this way, and ``fit()`` then solves with all of them.
        ``other`` is not modified.

        Each accumulator is kept about its own shift (see Notes of the
        class). b's is carried over to a's exactly in exact arithmetic: with
        z = [1, x - s_b, y - s_b] and d = s_b - s_a, the row about a's shift
        is z + d z_0 = M z, M = I + d e_0^T, so the Gram matrix becomes
        M G M^T and a triangular factor R becomes R M^T, which only changes
        its first row (R e_0 = R_00 e_0) and stays triangular.

        Parameters
        ----------
        other : Ridge
            Same ``fit_bias`` and ``dtype``, and as many features and outputs.
            A ``"qr"`` accumulator merges into a ``"cholesky"``/``"auto"`` one
            (as R^T R); the reverse is refused (the Gram matrix has already
            squared the condition number).

        Returns
        -------
        self
        """
        if not isinstance(other, Ridge):
            raise TypeError(f"other must be a fastrnn.Ridge, got {type(other).__name__}")
        if other.fit_bias != self.fit_bias or other.dtype != self.dtype:
            raise ValueError(
                f"other must have the same fit_bias and dtype: fit_bias={self.fit_bias}, "
                f"dtype={self.dtype.name}; got fit_bias={other.fit_bias}, "
                f"dtype={other.dtype.name}")
        if other._gram_or_r is None:
            return self
        mode = self._mode if self._gram_or_r is not None else self._streaming_mode
        if other._mode == "gram" and mode == "qr":
            raise ValueError("cannot merge a Gram-matrix accumulator (solver 'cholesky' or "
                             "'auto') into a QR one (solver 'qr'): use the same solver for both")
        if self._gram_or_r is not None:
            F, O = self._shift_x.shape[0], self._shift_y.shape[0]
            if (other._shift_x.shape[0], other._shift_y.shape[0]) != (F, O):
                raise ValueError(
                    f"other must have {F} features and {O} outputs like this Ridge, got "
                    f"{other._shift_x.shape[0]} and {other._shift_y.shape[0]}")
            if other._single != self._single:
                raise ValueError("other was fed Y with a different shape (1-D versus 2-D)")
            shift_x, shift_y = self._shift_x, self._shift_y
        else:
            shift_x, shift_y = other._shift_x.copy(), other._shift_y.copy()
        b = int(self.fit_bias)
        acc = other._gram_or_r.astype(np.float64)
        if other._mode == "qr" and mode == "gram":
            acc = np.triu(acc)
            acc = acc.T @ acc
        elif other._mode == "gram":
            acc = np.triu(acc) + np.triu(acc, 1).T
        if b:
            d = np.concatenate([[0.0], other._shift_x.astype(np.float64) - shift_x,
                                other._shift_y.astype(np.float64) - shift_y])
            if mode == "gram":
                _move_gram_shift(acc, d)
            else:
                acc[0] += acc[0, 0] * d
        if self._gram_or_r is None:
            self._shift_x, self._shift_y = shift_x, shift_y
            self._single = other._single
            self._mode = mode
            self._gram_or_r = np.zeros_like(other._gram_or_r)
        if mode == "gram":
            self._gram_or_r += np.triu(acc).astype(self.dtype)
        else:
            width = acc.shape[0]
            r = sla.qr(np.vstack([self._gram_or_r.astype(np.float64), acc]), mode="r",
                       overwrite_a=True, check_finite=False)[0]
            self._gram_or_r[...] = r[:width]
        self.n_samples_seen_ += other.n_samples_seen_
        return self

    def fit(self, X: Optional[Series] = None,
            Y: Optional[Series] = None) -> Ridge:
        """Solve for the readout.

        ``fit(X, Y)`` fits on these data alone (forgetting earlier
        ``partial_fit`` calls); ``fit()`` solves with what ``partial_fit``
        accumulated.
        """
        if X is None and Y is None:
            if self._gram_or_r is None:
                raise ValueError("fit() without data needs partial_fit calls first")
            self._solve()
            return self
        if X is None or Y is None:
            raise ValueError("fit needs both X and Y (or neither, after partial_fit)")
        self._solve_fit(self._accumulate_fit(X, Y))
        return self

    def _accumulate_fit(self, X, Y):
        """The accumulation of ``fit(X, Y)``: forget everything, accumulate X
        and Y with the offset limit of a refined fit, and return the (X, Y)
        rows of every series for `_solve_fit` (``fastrnn.dask`` solves one
        such accumulation for several ridges)."""
        self._reset()
        return [self._accumulate(x, y, suffix, offset_limit=_REFINED_OFFSET_LIMIT)
                for x, y, suffix in _series_pairs(X, Y)]

    def _solve_fit(self, pairs):
        """The solve of ``fit(X, Y)`` from `_accumulate_fit`'s accumulation
        and the data ``pairs``: Cholesky refined against the data, with the
        fallbacks the class docstring describes."""
        if self._mode == "qr":
            self._solve()
            return
        converged = self._solve_gram(pairs)
        if not converged and self._gram_inexact:
            # The refinement did not converge from a Gram matrix that left
            # columns with moderate offsets raw: accumulate it as partial_fit
            # does (those columns shifted first), and solve again.
            single = self._single   # the kept Y are 2-D whatever the caller gave
            self._reset()
            for x, y in pairs:
                self._accumulate(x, y)
            self._single = single
            converged = self._solve_gram(pairs)
        if converged is None:
            self._solve_lstsq()
        if not converged and self.solver == "auto":
            # The normal equations are too ill-conditioned for their factor to
            # refine the solution; the data are still here: one QR
            # factorisation of all of them (same shift as before).
            self._gram_or_r = self._r_factor(pairs)
            self._mode = "qr"
            self._solve()

    def _r_factor(self, pairs):
        """R of the QR factorisation of [1, X - shift, Y - shift], all rows."""
        b = int(self.fit_bias)
        F, O = self._shift_x.shape[0], self._shift_y.shape[0]
        width = b + F + O
        rows = sum(x.shape[0] for x, _ in pairs)
        M = np.empty((max(rows, width), width), dtype=self.dtype)
        M[rows:] = 0
        start = 0
        for x, y in pairs:
            stop = start + x.shape[0]
            if b:
                M[start:stop, 0] = 1
            np.subtract(x, self._shift_x, out=M[start:stop, b:b + F])
            np.subtract(y, self._shift_y, out=M[start:stop, b + F:])
            start = stop
        return sla.qr(M, mode="r", overwrite_a=True, check_finite=False)[0][:width]

    # --------------------------------------------------------------- solve
    def _solve(self):
        """Solve from the accumulator alone (streamed data)."""
        if self._mode == "qr":
            self._solve_qr()
        elif self._solve_gram() is None:
            self._solve_lstsq()

    def _solve_gram(self, pairs=None):
        """Solve the normal equations by Cholesky in the accumulator's free
        lower triangle (`_readout.NormalFactor`: a fit holds one Gram matrix,
        not several) and, with ``pairs`` (the (X, Y) rows of a one-shot fit),
        refine the solution against them with the same factor (`_refine`).

        Returns None (nothing solved) when the matrix is not numerically
        positive definite or the solution overflows; else whether the
        refinement converged (True without ``pairs``).
        """
        F = self._shift_x.shape[0]
        b = int(self.fit_bias)
        # float32 sums are solved in float64, in a copy
        gram = self._gram_or_r if self._gram_or_r.dtype == np.float64 else \
            self._gram_or_r.astype(np.float64)
        with _blas_for(gram), _readout.NormalFactor(gram, b, F, self.ridge) as factor:
            if not factor.ok:
                return None
            solution = factor.cross()
            factor.solve(solution)
            w = solution.T
            if not np.isfinite(w).all():
                return None
            converged = True
            if pairs is not None:
                w, converged = self._refine(w, factor, gram, pairs)
            self.rcond_, self.solver_used_ = float(factor.rcond), "cholesky"
        n, sx, sy = self._bias_sums(gram, F, w.shape[1])
        self._finish(w, (sy - sx @ w) / n if b else None)
        return converged

    def _bias_sums(self, gram, F, O):
        """The row count (at least 1) and the column sums of X and Y about
        the shift, from the Gram matrix's row of ones; 1 and zeros without
        ``fit_bias``. The intercept that goes with w is (sy - sx @ w) / n."""
        if not self.fit_bias:
            return 1.0, np.zeros(F), np.zeros(O)
        return max(gram[0, 0], 1.0), gram[0, 1:1 + F], gram[0, 1 + F:]

    def _refine(self, w, factor, gram, pairs):
        """Iterative refinement of the normal equations' solution w (F, O)
        against the data (the corrected semi-normal equations of Björck
        (1987), here with the Cholesky factor of the normal equations):
        each step computes, in one pass over the rows shifted as the
        accumulator's, the residual r = Y - X w - 1 b^T of the current
        solution and the gradient g = X_c^T r - ridge w of the ridge
        objective (X_c the centred features), and adds A^{-1} g with the same
        factor. A step removes all but a fraction ~ ||A^{-1} E|| of the
        error, E the rounding of the Gram matrix (its cancellation included),
        so a few steps give the accuracy of the residuals, not of the squared
        condition number.

        It stops once the error left, predicted from the last two corrections
        (the first one's relative size standing for the contraction), is below
        sqrt(eps) of the readout's dtype; or when a correction is not at most
        half the one before (no longer contracting: at the rounding floor of
        the residuals if it is that small, else diverging).

        Returns
        -------
        w : ndarray (F, O)
            The refined solution; when the refinement does not converge, the
            last iterate that a smaller correction confirmed (the first
            solution if none).
        converged : bool
        """
        F, O = w.shape
        b = int(self.fit_bias)
        n, sx, sy = self._bias_sums(gram, F, O)
        tol = float(np.sqrt(np.finfo(self.dtype).eps))
        best, previous, scale = w, None, np.linalg.norm(w)
        for _ in range(_REFINE_STEPS):
            # the intercept about the shift that goes with w
            offset = ((sy - sx @ w) / n).astype(self.dtype)
            w_data = np.ascontiguousarray(w, dtype=self.dtype)
            gradient = np.zeros((O, F), dtype=self.dtype)
            sums = np.zeros(O)
            for x, y in pairs:
                sums += _readout.refinement_gradient(x, y, self._shift_x, self._shift_y,
                                                     w_data, offset, gradient)
            step = gradient.astype(np.float64)
            if b:
                # the intercept's share of the residual's sum (the Schur
                # complement's right-hand side)
                step -= np.outer(sums, sx / n)
            step -= self.ridge * w.T
            factor.solve(step)
            size = np.linalg.norm(step)
            delta = size / scale if scale > 0 else (0.0 if size == 0 else np.inf)
            if previous is not None:
                if not delta <= previous / 2:
                    converged = bool(delta <= tol)
                    return (w if converged else best), converged
                best = w
            w = w + step.T
            scale = np.linalg.norm(w)
            contraction = delta if previous is None else delta / previous
            if delta * contraction <= tol:
                return w, True
            previous = delta
        return best, False

    def _solve_lstsq(self):
        """The fallback when the normal equations are not numerically
        positive definite: a minimum-norm least-squares solve of them (LAPACK
        gelsd), from a dense float64 copy of the accumulator."""
        F = self._shift_x.shape[0]
        b = int(self.fit_bias)
        G = self._gram_or_r.astype(np.float64)
        G = np.triu(G) + np.triu(G, 1).T
        if b:
            n = G[0, 0]
            sx, sy = G[0, 1:1 + F], G[0, 1 + F:]
            # an overflow here is reported below as a ValueError
            with np.errstate(over="ignore", invalid="ignore"):
                C = G[1:1 + F, 1:1 + F] - np.outer(sx, sx) / max(n, 1.0)
                Cy = G[1:1 + F, 1 + F:] - np.outer(sx, sy) / max(n, 1.0)
        else:
            C, Cy = G[:F, :F], G[:F, F:]
        if not (np.isfinite(C).all() and np.isfinite(Cy).all()):
            raise ValueError(
                "X or Y holds values so large that X^T X or X^T Y overflows; rescale X and Y")
        warnings.warn(
            "Ridge: X^T X + ridge I is not positive definite (rank-deficient or badly "
            "scaled states); solving by least squares (LAPACK gelsd) instead. A larger "
            "ridge, or solver='qr', avoids this.", RuntimeWarning, stacklevel=4)
        A = C + self.ridge * np.eye(F)
        w = sla.lstsq(A, Cy, check_finite=False, lapack_driver="gelsd")[0]
        self.rcond_, self.solver_used_ = 0.0, "lstsq"
        self._finish(w, (sy - sx @ w) / max(n, 1.0) if b else None)

    def _solve_qr(self):
        """Solve from the triangular factor R of [1 X Y] (mode "qr")."""
        F, O = self._shift_x.shape[0], self._shift_y.shape[0]
        b = int(self.fit_bias)
        lam = self.ridge
        R = self._gram_or_r.astype(np.float64)
        R22, R2y = R[b:b + F, b:b + F], R[b:b + F, b + F:]
        if lam > 0:
            # min ||R22 w - R2y||^2 + lam ||w||^2 is the least-squares
            # problem [R22; sqrt(lam) I] w ~ [R2y; 0]: one more QR of
            # that stacked matrix (with the right-hand sides appended)
            # and a triangular solve, never forming R22^T R22.
            stacked = np.zeros((2 * F, F + O))
            stacked[:F, :F] = R22
            stacked[:F, F:] = R2y
            stacked[F:, :F] = np.sqrt(lam) * np.eye(F)
            r2 = sla.qr(stacked, mode="r", overwrite_a=True, check_finite=False)[0]
            w = sla.solve_triangular(r2[:F, :F], r2[:F, F:], check_finite=False)
        else:
            # Minimum-norm least squares through the SVD (rank-revealing).
            u, s, vt = np.linalg.svd(R22)
            cut = s[0] * max(F, 1) * _EPS if s.size else 0.0
            filt = np.where(s > cut, 1.0 / np.where(s > cut, s, 1.0), 0.0)
            w = vt.T @ (filt[:, None] * (u.T @ R2y))
        self.solver_used_ = "qr"
        self.rcond_ = float("nan")
        intercept = None
        if b:
            r00 = R[0, 0]
            intercept = (R[0, 1 + F:] - R[0, 1:1 + F] @ w) / r00 if r00 != 0 else \
                np.zeros(O)
        self._finish(w, intercept)

    def _finish(self, w, intercept):
        """coef_ and intercept_ from the solution about the shift."""
        if intercept is None:
            intercept = np.zeros(w.shape[1])
        intercept = intercept + self._shift_y - self._shift_x.astype(np.float64) @ w
        self.coef_ = w.astype(self.dtype)
        self.intercept_ = np.asarray(intercept, dtype=self.dtype)
        if self._single:
            self.coef_ = self.coef_[:, 0]
            self.intercept_ = self.intercept_[0]

    # ------------------------------------------------------------- predict
    def predict(self, X: Series) -> Union[np.ndarray, list[np.ndarray]]:
        """Y = X ``coef_`` + ``intercept_`` for X (T, F), (T, B, F) or a list."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("predict called before fit: call fit (or partial_fit) first")
        if isinstance(X, (list, tuple)):
            return [self.predict(x) for x in X]
        arr = as_float_array(X, "X", self.coef_.dtype, ndim=(2, 3))
        F = self.coef_.shape[0]
        if arr.shape[-1] != F:
            raise ValueError(f"X must have {F} features in its last dimension, got {arr.shape}")
        return arr @ self.coef_ + self.intercept_

    def __repr__(self) -> str:
        return f"Ridge(ridge={self.ridge}, fit_bias={self.fit_bias}, solver={self.solver!r})"

    # -- persistence (fastrnn.io) --
    # The solution and, for partial_fit to resume, the accumulator.
    def _save_config(self):
        config = {"ridge": self.ridge, "fit_bias": self.fit_bias, "solver": self.solver,
                  "dtype": self.dtype.name, "chunk_size": self.chunk_size,
                  "n_samples_seen": int(self.n_samples_seen_), "single": self._single,
                  "mode": getattr(self, "_mode", None)}
        if hasattr(self, "coef_"):
            # The solver may leave coef_ in Fortran order; predict's matmul
            # rounds differently by layout, so the layout is restored too.
            coef = np.asarray(self.coef_)
            config["coef_fortran"] = bool(coef.ndim == 2 and not coef.flags.c_contiguous
                                          and coef.flags.f_contiguous)
        if hasattr(self, "solver_used_"):
            config["solver_used"] = self.solver_used_
            config["rcond"] = (None if self.rcond_ is None or not np.isfinite(self.rcond_)
                               else float(self.rcond_))
        return config

    def _save_arrays(self):
        arrays = {}
        for name, attr in (("acc", "_gram_or_r"), ("shift_x", "_shift_x"), ("shift_y", "_shift_y"),
                           ("coef", "coef_"), ("intercept", "intercept_")):
            value = getattr(self, attr, None)
            if value is not None:
                arrays[name] = np.asarray(value)
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        config = dict(config)
        seen, single, mode = config.pop("n_samples_seen"), config.pop("single"), config.pop("mode")
        used, rcond = config.pop("solver_used", None), config.pop("rcond", None)
        fortran = bool(config.pop("coef_fortran", False))
        m = cls(**config)
        if "acc" in arrays:
            F, O = (getattr(arrays.get(k), "shape", (-1,))[:1] or (-1,)
                    for k in ("shift_x", "shift_y"))
            F, O = F[0], O[0]
            width = int(m.fit_bias) + F + O
            m._shift_x = io_format.expect_array(arrays, "shift_x", (F,), m.dtype, "Ridge").copy()
            m._shift_y = io_format.expect_array(arrays, "shift_y", (O,), m.dtype, "Ridge").copy()
            # saved as "acc" (its name when the format was fixed)
            m._gram_or_r = io_format.expect_array(arrays, "acc", (width, width), m.dtype,
                                                  "Ridge").copy()
            if mode not in ("gram", "qr"):
                raise ValueError(f"mode must be 'gram' or 'qr', got {mode!r}")
            m._mode = mode
        m._single = None if single is None else bool(single)
        m.n_samples_seen_ = io_format.config_count({"n_samples_seen": seen}, "n_samples_seen")
        if "coef" in arrays:
            coef, intercept = arrays["coef"], arrays.get("intercept")
            if coef.dtype != m.dtype or coef.ndim not in (1, 2) or \
                    not isinstance(intercept, np.ndarray) or intercept.dtype != m.dtype \
                    or intercept.shape != coef.shape[1:]:
                raise ValueError("coef and intercept must be arrays of the readout's dtype, "
                                 "(F, O) and (O,) or (F,) and ()")
            m.coef_ = np.array(coef, order="F" if fortran else "C")
            m.intercept_ = intercept[()] if intercept.ndim == 0 else intercept.copy()
            m.solver_used_ = used
            m.rcond_ = float("nan") if rcond is None else float(rcond)
        return m


io_format.register("Ridge", Ridge)


class _OnlineReadout:
    """What the sample-by-sample readouts (RLS, LMS) share: the stream of
    ``partial_fit`` calls, their checks, ``fit``, ``predict``, the published
    ``coef_``/``intercept_``, and persistence. A subclass gives its
    hyperparameters and its state: how it starts (`_start`), takes one chunk
    of rows (`_update`), exposes its weights (`_weights`) and reloads them
    (`_load_state`)."""

    #: Constructor arguments saved with the model and shown by repr.
    _hyperparameters: tuple = ()

    def reset(self) -> _OnlineReadout:
        """Forget the stream: the next ``partial_fit`` starts afresh."""
        self._clear_state()
        self._single = None
        self._widths = None
        self.n_samples_seen_ = 0
        return self

    def partial_fit(self, X: Series, Y: Series) -> _OnlineReadout:
        """Update the weights with each row of X (T, F) / Y (T, O) in order;
        successive calls continue the same stream."""
        for x, y, suffix in _series_pairs(X, Y):
            x = _as_rows(x, "X" + suffix, self.dtype)
            y, single = _as_targets(y, "Y" + suffix, self.dtype, x.shape[0])
            widths = (x.shape[1], y.shape[1])
            if self._widths is None:
                self._start(*widths)
                self._widths, self._single = widths, single
            elif widths != self._widths:
                raise ValueError(
                    f"X and Y must keep {self._widths[0]} features and {self._widths[1]} "
                    f"outputs across partial_fit calls, got {widths[0]} and {widths[1]}")
            self._update(x, y)
            self.n_samples_seen_ += x.shape[0]
        self._publish()
        return self

    def fit(self, X: Series, Y: Series) -> _OnlineReadout:
        """Reset, then ``partial_fit`` on all of X, Y."""
        self.reset()
        return self.partial_fit(X, Y)

    def _publish(self):
        coef, intercept = self._weights()
        self.coef_, self.intercept_ = coef.copy(), intercept.copy()
        if self._single:
            self.coef_ = self.coef_[:, 0]
            self.intercept_ = self.intercept_[0]

    predict = Ridge.predict

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)}" for name in self._hyperparameters)
        return f"{type(self).__name__}({args})"

    # -- persistence (fastrnn.io) --
    # The hyperparameters, and the state that lets partial_fit resume the
    # stream exactly.
    def _save_config(self):
        config = {name: getattr(self, name) for name in self._hyperparameters}
        config.update(dtype=self.dtype.name, n_samples_seen=int(self.n_samples_seen_),
                      single=self._single)
        return config

    def _save_arrays(self):
        return {} if self._widths is None else self._state_arrays()

    @classmethod
    def _from_saved(cls, config, arrays):
        config = dict(config)
        seen, single = config.pop("n_samples_seen"), config.pop("single")
        m = cls(**config)
        if arrays:
            W = arrays.get("W")
            if not isinstance(W, np.ndarray) or W.ndim != 2:
                raise ValueError("W must be a 2-D array")
            m._widths = m._load_state(arrays, W.shape)
            m._single = bool(single)
            m.n_samples_seen_ = io_format.config_count({"n_samples_seen": seen},
                                                       "n_samples_seen")
            m._publish()
        return m


class RLS(_OnlineReadout):
    """Recursive least squares readout, trained online sample by sample
    (Haykin, Adaptive Filter Theory (2002), ch. 9), the online readout
    training of Jaeger & Haas (2004).

    After the samples x_1 .. x_T (with a constant 1 appended when
    ``fit_bias``) and forgetting factor lambda, the weights minimise
    sum_t lambda^(T-t) ||y_t - W^T x_t||^2 + lambda^T alpha ||W||^2, so with
    ``forgetting=1`` they equal the ridge solution with ridge ``alpha``
    (bias included in the penalty).

    Parameters
    ----------
    alpha : float > 0
        Initial inverse correlation matrix P = I / alpha.
    forgetting : float in (0, 1]
    fit_bias : bool
    dtype : numpy.float64 (default) or numpy.float32
    """

    _hyperparameters = ("alpha", "forgetting", "fit_bias")

    def __init__(self, alpha: float = 1e-6, forgetting: float = 1.0, *, fit_bias: bool = True,
                 dtype: DTypeLike = np.float64) -> None:
        self.alpha = check_real(alpha, "alpha", low=0.0, low_open=True)
        self.forgetting = check_real(forgetting, "forgetting", low=0.0, high=1.0,
                                     low_open=True)
        self.fit_bias = bool(fit_bias)
        self.dtype = check_dtype(dtype)
        self.reset()

    def _clear_state(self):
        self._P = None   # inverse correlation matrix, (F [+1])^2
        self._W = None   # weights, the bias as the last row with fit_bias

    def _start(self, n_features, n_outputs):
        F = n_features + int(self.fit_bias)
        self._P = np.eye(F, dtype=self.dtype) / self.dtype.type(self.alpha)
        self._W = np.zeros((F, n_outputs), dtype=self.dtype)

    def _update(self, x, y):
        if self.fit_bias:
            x = np.hstack([x, np.ones((x.shape[0], 1), dtype=self.dtype)])
        _readout.rls_update(x, y, self._P, self._W, self.forgetting)

    def _weights(self):
        if self.fit_bias:
            return self._W[:-1], self._W[-1]
        return self._W, np.zeros(self._W.shape[1], dtype=self.dtype)

    def _state_arrays(self):
        return {"P": self._P, "W": self._W}

    def _load_state(self, arrays, w_shape):
        F = w_shape[0]
        self._P = io_format.expect_array(arrays, "P", (F, F), self.dtype, "RLS").copy()
        self._W = io_format.expect_array(arrays, "W", w_shape, self.dtype, "RLS").copy()
        if F < int(self.fit_bias):
            raise ValueError("W must have a row for the bias")
        return F - int(self.fit_bias), w_shape[1]


io_format.register("RLS", RLS)


class LMS(_OnlineReadout):
    """Least-mean-squares readout, trained online sample by sample (Widrow &
    Hoff 1960; Haykin, Adaptive Filter Theory (2002), ch. 5), ReservoirPy's
    ``LMS`` node.

    For each sample x_t (F,) with target y_t (O,), in order:

        e_t = y_t - (W^T x_t + b)
        W <- W + eta x_t e_t^T
        b <- b + eta e_t            (with ``fit_bias``)

    a stochastic gradient step on ||e_t||^2 / 2 from W = 0, b = 0. It
    converges when eta is below 2 / (the largest eigenvalue of the input
    correlation matrix) (Haykin (2002), sec. 5.4); much cheaper per step
    than `RLS` (O(F O) against O(F^2)), but slower to converge.

    Parameters
    ----------
    learning_rate : float > 0
        eta (ReservoirPy's default 1e-6).
    fit_bias : bool
        Learn the bias b (updated like a weight on a constant input 1).
    dtype : numpy.float64 (default) or numpy.float32

    Attributes
    ----------
    coef_ : ndarray (F, O), or (F,) for a single output given as 1-D Y
    intercept_ : ndarray (O,) or float
    n_samples_seen_ : int
    """

    _hyperparameters = ("learning_rate", "fit_bias")

    def __init__(self, learning_rate: float = 1e-6, *, fit_bias: bool = True,
                 dtype: DTypeLike = np.float64) -> None:
        self.learning_rate = check_real(learning_rate, "learning_rate", low=0.0, low_open=True)
        self.fit_bias = bool(fit_bias)
        self.dtype = check_dtype(dtype)
        self.reset()

    def _clear_state(self):
        self._W = None   # weights (F, O), zeros at the start of a stream
        self._b = None   # bias (O,)

    def _start(self, n_features, n_outputs):
        self._W = np.zeros((n_features, n_outputs), dtype=self.dtype)
        self._b = np.zeros(n_outputs, dtype=self.dtype)

    def _update(self, x, y):
        _readout.lms_update(x, y, self._W, self._b, self.learning_rate, self.fit_bias)

    def _weights(self):
        return self._W, self._b

    def _state_arrays(self):
        return {"W": self._W, "b": self._b}

    def _load_state(self, arrays, w_shape):
        self._W = io_format.expect_array(arrays, "W", w_shape, self.dtype, "LMS").copy()
        self._b = io_format.expect_array(arrays, "b", (w_shape[1],), self.dtype, "LMS").copy()
        return w_shape


io_format.register("LMS", LMS)


# ------------------------------------------------- any estimator as a readout
# The linear models whose learned state is a few plain arrays: an
# EstimatorReadout around one of them is saved as those arrays (and its
# constructor parameters) and rebuilt on load; any other estimator could only
# be pickled, which fastrnn files never are.
_SAVEABLE_ESTIMATORS = {
    "LinearRegression": ("coef_", "intercept_"),
    "Ridge": ("coef_", "intercept_"),
    "Lasso": ("coef_", "intercept_"),
    "ElasticNet": ("coef_", "intercept_"),
    "LogisticRegression": ("coef_", "intercept_", "classes_"),
}


def _estimator_param(name, value):
    """A constructor parameter of an estimator as a JSON value, or a
    TypeError saying why it cannot be stored without pickling."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and np.isfinite(value):
        return value
    raise TypeError(f"EstimatorReadout: the estimator's parameter {name}={value!r} cannot be "
                    "saved without pickling (only None, bool, int, finite float and str are)")


class EstimatorReadout:
    """Any estimator with ``fit(X, y)`` and ``predict(X)`` (a scikit-learn
    ``LogisticRegression``, ``Lasso``, ``Ridge``, ...) as the readout of
    reservoir states, which are features like any others: only the readout
    is trained, by any supervised method (Jaeger 2001; Lukoševičius 2012).

    The rows of all time steps (and series) are pooled, as by `Ridge`: X is
    (T, F), (T, B, F) or a list of such arrays, and Y (T,), (T, B) or a list
    for one target per step (class labels of a classifier, or one
    regression output), or (T, O), (T, B, O) for several outputs. ``predict``
    returns the estimator's predictions in the layout of X.

    Parameters
    ----------
    estimator : object with ``fit`` and ``predict``
        Fitted in place by ``fit``. scikit-learn is not imported by
        fastrnn: any object following its fit/predict convention works.

    Notes
    -----
    Saving (``fastrnn.save``) stores only what it can store as plain arrays:
    the constructor parameters and learned ``coef_``, ``intercept_`` (and
    ``classes_``) of scikit-learn's ``LinearRegression``, ``Ridge``,
    ``Lasso``, ``ElasticNet`` and ``LogisticRegression``; loading rebuilds
    the estimator from them (and needs scikit-learn). Any other estimator is
    refused with a TypeError on save: its state could only be pickled, and
    fastrnn files are never unpickled (loading a pickle runs code from the
    file). Save such an estimator with the tools of its own library.

    Examples
    --------
    >>> import numpy as np, fastrnn
    >>> from sklearn.linear_model import LogisticRegression
    >>> states = fastrnn.Reservoir(50, seed=0).run(np.random.default_rng(0).normal(size=(200, 1)))
    >>> labels = (states[:, 0] > 0).astype(int)
    >>> readout = fastrnn.EstimatorReadout(LogisticRegression()).fit(states, labels)
    >>> readout.predict(states).shape
    (200,)
    """

    def __init__(self, estimator: object) -> None:
        for method in ("fit", "predict"):
            if not callable(getattr(estimator, method, None)):
                raise TypeError(f"estimator must have fit and predict methods (a scikit-learn "
                                f"estimator), got {type(estimator).__name__} without {method}")
        self.estimator = estimator
        self.n_features_in_ = None

    @staticmethod
    def _rows(X, name="X"):
        """Features (T, F), (T, B, F) or a list -> (rows, F) and the leading
        shape of each array (to lay predictions out like X)."""
        arrays = X if isinstance(X, (list, tuple)) else [X]
        if not arrays:
            raise ValueError(f"{name} is an empty list: there is no series")
        rows, leads = [], []
        for i, x in enumerate(arrays):
            label = f"{name}[{i}]" if isinstance(X, (list, tuple)) else name
            # States keep their precision (float32 stays float32); anything
            # else becomes float64.
            dtype = getattr(x, "dtype", None)
            dtype = dtype if dtype in (np.float32, np.float64) else np.float64
            arr = as_float_array(x, label, dtype, ndim=(2, 3))
            if arr.shape[-1] == 0:
                raise ValueError(f"{label} must have at least one feature in its last "
                                 f"dimension, got shape {arr.shape}")
            _check_finite(arr, label)
            leads.append(arr.shape[:-1])
            rows.append(arr.reshape(-1, arr.shape[-1]))
        widths = {r.shape[1] for r in rows}
        if len(widths) > 1:
            raise ValueError(f"the arrays of {name} must all have the same number of features, "
                             f"got {sorted(widths)}")
        return (rows[0] if len(rows) == 1 else np.concatenate(rows)), leads

    def fit(self, X: Series, Y: Series) -> EstimatorReadout:
        """Fit the estimator on the pooled rows of X and Y.

        Y is not converted to floats (class labels may be integers or
        strings); its leading dimensions must be those of X.
        """
        rows, leads = self._rows(X)
        targets = Y if isinstance(Y, (list, tuple)) else [Y]
        listed = isinstance(X, (list, tuple))
        if len(targets) != len(leads) or isinstance(Y, (list, tuple)) != listed:
            raise ValueError("X and Y must both be lists of the same length, or both arrays")
        pooled, single = [], None
        for i, (y, lead) in enumerate(zip(targets, leads)):
            label = f"Y[{i}]" if listed else "Y"
            y = np.asarray(y)
            if y.shape[:len(lead)] != lead or y.ndim not in (len(lead), len(lead) + 1):
                raise ValueError(f"{label} must have shape {lead} (one target per step) or "
                                 f"{lead + ('O',)}, like the leading dimensions of X, got "
                                 f"{y.shape}")
            if y.dtype.kind in "fc":
                _check_finite(y, label)
            this_single = y.ndim == len(lead)
            if single is not None and this_single != single:
                raise ValueError("Y must be shaped alike for every series (with or without an "
                                 "output axis)")
            single = this_single
            pooled.append(y.reshape(-1) if single else y.reshape(-1, y.shape[-1]))
        self.estimator.fit(rows, pooled[0] if len(pooled) == 1 else np.concatenate(pooled))
        self.n_features_in_ = rows.shape[1]
        return self

    def _laid_out(self, X, method):
        if self.n_features_in_ is None:
            raise NotFittedError("predict called before fit: call fit first")
        rows, leads = self._rows(X)
        if rows.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} features in its last "
                             f"dimension, got {rows.shape[1]}")
        out = np.asarray(getattr(self.estimator, method)(rows))
        tail = out.shape[1:]
        results, start = [], 0
        for lead in leads:
            n = int(np.prod(lead))
            results.append(out[start:start + n].reshape(lead + tail))
            start += n
        return results if isinstance(X, (list, tuple)) else results[0]

    def predict(self, X: Series) -> Union[np.ndarray, list[np.ndarray]]:
        """The estimator's predictions, shaped (T,), (T, B) (one target per
        step) or (T, O), (T, B, O), or a list like X."""
        return self._laid_out(X, "predict")

    def predict_proba(self, X: Series) -> Union[np.ndarray, list[np.ndarray]]:
        """The class probabilities of a classifier, (T, [B,] n_classes)."""
        if not callable(getattr(self.estimator, "predict_proba", None)):
            raise TypeError(f"the estimator {type(self.estimator).__name__} has no "
                            "predict_proba method")
        return self._laid_out(X, "predict_proba")

    def __repr__(self) -> str:
        return f"EstimatorReadout({self.estimator!r})"

    # -- persistence (fastrnn.io) --
    # The class name, constructor parameters and learned arrays of the linear
    # models in _SAVEABLE_ESTIMATORS; labels that are strings go into the
    # config (arrays are stored as numbers only).
    def _saved_kind(self):
        cls = type(self.estimator)
        name = cls.__name__
        if not cls.__module__.startswith("sklearn.") or name not in _SAVEABLE_ESTIMATORS:
            raise TypeError(
                f"EstimatorReadout: cannot save a {cls.__module__}.{name}. fastrnn stores only "
                f"the learned arrays of scikit-learn's {', '.join(_SAVEABLE_ESTIMATORS)}; "
                "any other estimator could only be pickled, and fastrnn files are never "
                "unpickled (loading a pickle runs code from the file). Save the estimator "
                "with its own library's tools.")
        return name

    def _save_config(self):
        kind = self._saved_kind()
        params = {k: _estimator_param(k, v)
                  for k, v in self.estimator.get_params(deep=False).items()}
        config = {"estimator": kind, "params": params, "n_features": self.n_features_in_}
        classes = getattr(self.estimator, "classes_", None)
        if self.n_features_in_ is not None and classes is not None \
                and np.asarray(classes).dtype.kind not in "biuf":
            config["classes"] = [str(c) for c in classes]
        return config

    def _save_arrays(self):
        if self.n_features_in_ is None:
            return {}
        arrays = {}
        for attr in _SAVEABLE_ESTIMATORS[self._saved_kind()]:
            value = np.asarray(getattr(self.estimator, attr))
            if attr == "classes_" and value.dtype.kind not in "biuf":
                continue
            arrays[attr.rstrip("_")] = value
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        kind, params = config.get("estimator"), config.get("params")
        if kind not in _SAVEABLE_ESTIMATORS or not isinstance(params, dict):
            raise ValueError(f"estimator must name one of {sorted(_SAVEABLE_ESTIMATORS)} with "
                             f"its params, got {kind!r}")
        try:
            from sklearn import linear_model
        except ImportError as exc:
            raise ImportError(f"loading an EstimatorReadout of a {kind} needs scikit-learn "
                              "(pip install fastrnn[sklearn])") from exc
        estimator_cls = getattr(linear_model, kind)
        # A parameter the installed scikit-learn no longer takes (one
        # deprecated when the file was written) is dropped: the predictions
        # depend only on the learned arrays.
        known = estimator_cls().get_params(deep=False)
        dropped = sorted(set(params) - set(known))
        if dropped:
            warnings.warn(f"EstimatorReadout: the installed scikit-learn's {kind} takes no "
                          f"parameter {dropped}; loaded without it", RuntimeWarning,
                          stacklevel=3)
        try:
            estimator = estimator_cls(**{k: v for k, v in params.items() if k in known})
        except TypeError as exc:
            raise ValueError(f"the saved parameters of the {kind} are refused: {exc}") from None
        m = cls(estimator)
        if config.get("n_features") is None:
            if arrays:
                raise ValueError("an unfitted EstimatorReadout holds no arrays")
            return m
        F = io_format.config_int(config, "n_features")
        coef, intercept = arrays.get("coef"), arrays.get("intercept")
        if not isinstance(coef, np.ndarray) or coef.dtype.kind != "f" or coef.ndim not in (1, 2) \
                or coef.shape[-1] != F:
            raise ValueError(f"coef must be a float array of {F} features in its last dimension")
        if not isinstance(intercept, np.ndarray) or intercept.shape not in ((), coef.shape[:-1]):
            raise ValueError(f"intercept must have shape () or {coef.shape[:-1]}")
        estimator.coef_ = coef.copy()
        estimator.intercept_ = intercept[()] if intercept.ndim == 0 else intercept.copy()
        if "classes_" in _SAVEABLE_ESTIMATORS[kind]:
            classes = config.get("classes")
            if classes is not None:
                if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                    raise ValueError("classes must be a list of strings")
                classes = np.array(classes)
            else:
                classes = arrays.get("classes")
            if not isinstance(classes, np.ndarray) or classes.ndim != 1 or \
                    coef.ndim != 2 or coef.shape[0] != (1 if len(classes) == 2 else len(classes)):
                raise ValueError(f"classes must be a 1-D array matching coef's {coef.shape[0]} "
                                 "rows (one per class, or one for two classes)")
            estimator.classes_ = classes.copy()
        estimator.n_features_in_ = F
        m.n_features_in_ = F
        return m


io_format.register("EstimatorReadout", EstimatorReadout)
