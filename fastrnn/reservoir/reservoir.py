"""The reservoir of an echo state network: fixed random recurrent weights and
leaky units (Jaeger 2001; Lukoševičius 2012; Goodfellow et al. (2016),
sec. 10.8, with the leaky units of sec. 10.9.2).

Update (the leaky-integrator form of Lukoševičius (2012), with lr = 1/tau),
one row per unit:

    x_t = (1 - lr) * x_{t-1} + lr * f(W x_{t-1} + Win u_t + Wfb y_{t-1} + b [+ noise])

The feedback term is present only when outputs y are fed back: teacher-forced
(`Reservoir.run` with ``feedback``) or, in the closed loop that
`fastrnn.ESN` drives through `Reservoir._run_closed_loop`, the readout's own
output. Hyperparameters carry ReservoirPy's names. The time loop is one C
call (``fastrnn/reservoir/_reservoir.pyx`` over ``csrc/reservoir``); this
module draws and checks the matrices, allocates, and makes one call per
sequence.
"""
from __future__ import annotations

import numbers
import os
import threading
import warnings
from typing import Any, Literal, NamedTuple, Optional, Sequence, Union, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from fastrnn.reservoir import _reservoir
from fastrnn._core.cpus import available_cpus
from fastrnn._core.validation import (
    as_array,
    as_float_array,
    check_csr_parts,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
    rows_in_place,
)
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format

#: Activation names of the reservoir, mapped to the C loop's codes.
ACTIVATION_CODES = _reservoir.ACTIVATION_CODES

# Nonzeros x series per step from which a second thread of the team pays for
# the meeting it needs at every step (measured with the SELL layout, 10,000
# steps at connectivity 0.1, one thread against two, float64 and float32:
# N = 150 (2,250 nonzeros) 11.3/12.4 and 8.3/10.5 ms, N = 200 (4,000)
# 18.1/16.1 and 12.9/12.5 ms, N = 250 (6,250) 25.1/20.2 and 18.4/16.6 ms).
_THREADS_MIN_WORK = 4_000

#: W's column indices reach the C loop as 16-bit integers up to this many
#: columns: 10 bytes per nonzero streamed each step instead of 12 (double),
#: 6 instead of 8 (float).
_COMPACT_INDEX_LIMIT = 1 << 16


# Below this size a dense eigenvalue solve is both faster and exact.
_DENSE_EIG_MAX = 256


@overload
def spectral_radius(W: Union[np.ndarray, sp.spmatrix], *, tol: float = ...,
                    v0: Optional[np.ndarray] = ..., return_vector: Literal[False] = ...
                    ) -> float: ...
@overload
def spectral_radius(W: Union[np.ndarray, sp.spmatrix], *, tol: float = ...,
                    v0: Optional[np.ndarray] = ..., return_vector: Literal[True]
                    ) -> tuple[float, Optional[np.ndarray]]: ...
def spectral_radius(W: Union[np.ndarray, sp.spmatrix], *, tol: float = 1e-10,
                    v0: Optional[np.ndarray] = None, return_vector: bool = False
                    ) -> Union[float, tuple[float, Optional[np.ndarray]]]:
    """The largest absolute eigenvalue of a square matrix.

    ARPACK (``scipy.sparse.linalg.eigs``) on the sparse matrix, started from a
    fixed vector (or ``v0``) so that the result does not depend on global
    random state. When ARPACK does not converge the dense eigenvalues are
    computed instead (for matrices up to 4096 units), else a longer ARPACK
    run with a wider Krylov space. Small matrices (<= 256) go straight to the
    dense solver.

    Parameters
    ----------
    W : ndarray or scipy.sparse matrix, (N, N)
    tol : float
        ARPACK's relative tolerance.
    v0 : ndarray (N,), optional
        Start vector (e.g. the vector returned by an earlier call on a
        multiple of the same matrix, which makes ARPACK converge at once).
    return_vector : bool
        Also return a real vector spanning (with its partner, for a complex
        pair) the leading eigenvector, to restart from.

    Returns
    -------
    float (and ndarray (N,) or None)
    """
    # W goes to ARPACK's (or LAPACK's) compiled loops: a sparse W must have
    # a valid structure (scipy's product trusts its indices), and every W
    # finite values (ARPACK fails with an obscure error on NaN).
    shape = getattr(W, "shape", None) if sp.issparse(W) else np.shape(as_array(W, "W"))
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"W must be square, got shape {shape}")
    n = shape[0]
    if sp.issparse(W):
        W = checked_csr(W, "W", shape, np.float64)
    else:
        W = as_float_array(W, "W", np.float64, ndim=2)
        if not np.all(np.isfinite(W)):
            raise ValueError("W must be finite (it holds NaN or Inf)")
    tol = check_real(tol, "tol", low=0.0)
    if v0 is not None:
        v0 = as_float_array(v0, "v0", np.float64, shape=(n,))
        if not np.all(np.isfinite(v0)) or not np.any(v0):
            raise ValueError("v0 must be finite and not all zeros")
    vec = None
    if n == 0 or (sp.issparse(W) and W.nnz == 0):
        radius = 0.0
    elif n <= _DENSE_EIG_MAX:
        dense = W.toarray() if sp.issparse(W) else np.asarray(W)
        radius = float(np.max(np.abs(np.linalg.eigvals(dense.astype(np.float64)))))
    else:
        op = W.astype(np.float64)
        if sp.issparse(op):
            op = op.tocsr()
        if v0 is None:
            # A fixed, generic start vector: deterministic, and (unlike a
            # vector of ones) not orthogonal to the leading eigenvector of
            # structured matrices.
            v0 = np.random.default_rng(20010).standard_normal(n)
        # The leading eigenvalues of a random matrix crowd the edge of its
        # spectral disc: a Krylov space of 40 separates them at a fraction of
        # the restarts of ARPACK's default.
        try:
            vals, vecs = spla.eigs(op, k=1, which="LM", v0=v0, ncv=min(n, 40), tol=tol,
                                   maxiter=100 * n)
            radius = float(np.abs(vals[0]))
            vec = vecs[:, 0].real + vecs[:, 0].imag
        except spla.ArpackNoConvergence:
            if n <= 4096:
                dense = op.toarray() if sp.issparse(op) else op
                radius = float(np.max(np.abs(np.linalg.eigvals(dense))))
            else:
                vals = spla.eigs(op, k=4, which="LM", v0=v0, ncv=min(n, 256), tol=tol,
                                 maxiter=1000 * n, return_eigenvectors=False)
                radius = float(np.max(np.abs(vals)))
    return (radius, vec) if return_vector else radius


def _check_fraction(value, name):
    return check_real(value, name, low=0.0, high=1.0, low_open=True)


def _random_sparse(rng, rows, cols, density, values):
    """A (rows x cols) CSR matrix with round(density*rows*cols) (at least one)
    nonzeros at distinct uniform positions, drawn by ``values(rng, size)``."""
    total = rows * cols
    nnz = min(total, max(1, int(round(density * total))))
    flat = rng.choice(total, size=nnz, replace=False) if nnz < total else np.arange(total)
    r, c = np.divmod(flat, cols)
    return sp.csr_matrix((values(rng, nnz), (r, c)), shape=(rows, cols))


def _random_with_in_degree(rng, n, degree, values):
    """A (n x n) CSR matrix with exactly ``degree`` nonzeros in every row
    (``degree`` recurrent inputs per unit) at distinct random columns."""
    cols = np.empty((n, degree), dtype=np.int64)
    for i in range(n):
        cols[i] = rng.choice(n, size=degree, replace=False)
    cols.sort(axis=1)
    indptr = np.arange(0, n * degree + 1, degree)
    return sp.csr_matrix((values(rng, n * degree), cols.ravel(), indptr), shape=(n, n))


# The loops count rows (time steps x series) and sizes in C ints.
_INT_MAX = 2**31 - 1


def _check_loop_sizes(T, B, N, D, name="X"):
    if T * B > _INT_MAX or N * B > _INT_MAX or D > _INT_MAX:
        raise ValueError(
            f"{name} has {T} time steps x {B} series (and {N} units x {B} series), more than "
            f"one call handles ({_INT_MAX}); split it into shorter calls")


class LoopWeights(NamedTuple):
    """The weights of one call of the C loop (``_reservoir.run``), checked and
    laid out by `Reservoir._loop_weights`."""
    activation: int
    #: W as CSR (int32 indices), or None when W is dense
    w_data: Optional[np.ndarray]
    w_indices: Optional[np.ndarray]
    w_indptr: Optional[np.ndarray]
    #: the same column indices as uint16 when N <= 65536 (fewer bytes streamed
    #: per nonzero), else None
    w_indices16: Optional[np.ndarray]
    #: W (N, N) when dense, else None
    w_dense: Optional[np.ndarray]
    #: Win (N, D) (with Wfb appended for teacher-forced outputs) and its transpose
    w_in: np.ndarray
    w_in_t: np.ndarray
    #: each unit's leak rate repeated over the B series, unit-major (N * B,)
    leak: np.ndarray
    #: the bias (N,), read when the loop computes bias + Win u_t per step
    bias: np.ndarray


class ClosedLoop(NamedTuple):
    """The readout side of a closed-loop call of the C loop."""
    #: Wfb (N, O)
    w_fb: np.ndarray
    #: the readout's weights on the state (N, O)
    w_out: np.ndarray
    #: (T, B, O): the readout's intercept and input part in, outputs y_1 .. y_T out
    y: np.ndarray
    #: (O, B): y_0 in, y_T out
    y_state: np.ndarray


def _normal(rng, size):
    return rng.standard_normal(size)


def _bernoulli(rng, size):
    return rng.choice(np.array([-1.0, 1.0]), size=size)


# Serialises the lazy drawing of Win/Wfb, so that threads making their first
# call on one shared reservoir at once all use the same matrices.
_DRAW_LOCK = threading.Lock()


def _check_index_pair(what, shape, data, row, col):
    """COO coordinates: 1-D integers, one pair per value, inside ``shape``."""
    for label, idx, bound in (("row", row, shape[0]), ("column", col, shape[1])):
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"{what}: {label} indices must be a 1-D integer array")
        if idx.shape[0] != data.shape[0]:
            raise ValueError(f"{what}: {idx.shape[0]} {label} indices for {data.shape[0]} values")
        if idx.size and (idx.min() < 0 or idx.max() >= bound):
            raise ValueError(f"{what}: {label} indices outside [0, {bound})")


def checked_csr(M: sp.spmatrix, name: str, shape: Sequence[int],
                dtype: DTypeLike) -> sp.csr_matrix:
    """A user's scipy.sparse matrix as a fresh, canonical CSR matrix of
    ``dtype`` with int32 indices, after checking its structure.

    scipy builds a matrix from (data, indices, indptr) without checking that
    the indices fit its shape, and its own conversions (``tocsr``,
    ``toarray``) trust them as the kernels do; so the structure is checked
    (`fastrnn._core.validation.check_csr_parts` for CSR, the same rules for CSC
    and COO) before any of them touches it. Other formats (BSR, DIA, LIL,
    DOK) go through COO, whose conversion is NumPy code that cannot read out
    of bounds.
    """
    shape = tuple(shape)
    if M.ndim != 2 or tuple(M.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {M.shape}")
    fmt = getattr(M, "format", None)
    if fmt not in ("csr", "csc", "coo"):
        try:
            M = M.tocoo()
        except (ValueError, IndexError, TypeError) as exc:
            raise ValueError(f"{name}: a malformed {fmt} sparse matrix ({exc})") from None
        fmt = "coo"
    data = np.asarray(M.data)
    if data.ndim != 1:
        raise ValueError(f"{name}: the sparse matrix's data must be 1-D, got shape {data.shape}")
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {data.dtype}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name} must be finite (it holds NaN or Inf)")
    if data.shape[0] >= 2**31:
        raise ValueError(f"{name} has too many nonzeros for 32-bit indices")
    if fmt == "csr":
        indices, indptr = np.asarray(M.indices), np.asarray(M.indptr)
        check_csr_parts(name, shape, data, indices, indptr)
    elif fmt == "csc":
        # A CSC matrix is the CSR matrix of its transpose.
        indices, indptr = np.asarray(M.indices), np.asarray(M.indptr)
        check_csr_parts(f"{name} (CSC, checked as its transpose: its 'column indices' "
                        "are row indices)", shape[::-1], data, indices, indptr)
        T = sp.csr_matrix((data, indices.astype(np.int32), indptr.astype(np.int32)),
                          shape=shape[::-1]).T.tocsr()
        data, indices, indptr = T.data, T.indices, T.indptr
    else:
        row, col = np.asarray(M.row), np.asarray(M.col)
        _check_index_pair(name, shape, data, row, col)
        C = sp.coo_matrix((data, (row.astype(np.int32), col.astype(np.int32))),
                          shape=shape).tocsr()
        data, indices, indptr = C.data, C.indices, C.indptr
    W = sp.csr_matrix((data.astype(dtype), indices.astype(np.int32), indptr.astype(np.int32)),
                      shape=shape, copy=True)
    W.sum_duplicates()
    W.sort_indices()
    W.indices = W.indices.astype(np.int32, copy=False)
    W.indptr = W.indptr.astype(np.int32, copy=False)
    return W


def _checked_matrix(M: Any, name: str, shape: tuple[Optional[int], ...],
                 dtype: np.dtype) -> np.ndarray:
    """A dense, finite, C-contiguous (rows, cols) matrix from an array or a
    scipy.sparse matrix (checked before scipy converts it); ``shape`` may
    hold None for any number of columns."""
    if sp.issparse(M):
        if M.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {M.shape}")
        full = tuple(M.shape[i] if s is None else s for i, s in enumerate(shape))
        M = checked_csr(M, name, full, dtype).toarray()
    arr = as_float_array(M, name, dtype, ndim=len(shape), shape=shape)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (it holds NaN or Inf)")
    return arr


def _physical_memory():
    """Bytes of RAM on this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_fits_in_memory(N, degree, connectivity, dtype):
    """MemoryError up front when the W to be drawn cannot fit in RAM: its
    nonzeros (values, column indices, and the int64 draws behind them) are
    known from the sizes, and finding out by allocating first filled gigabytes
    (units=10**9 allocated an 8 GB array before failing)."""
    nnz = N * degree if degree is not None else N * N * connectivity
    needed = nnz * (dtype.itemsize + 4 + 8) + N * 8 * dtype.itemsize
    available = _physical_memory()
    if available is not None and needed > available:
        raise MemoryError(f"a reservoir of units={N} needs about {needed / 2**30:.3g} GiB for "
                          f"its recurrent matrix, more than this machine's "
                          f"{available / 2**30:.3g} GiB; lower units, rc_connectivity or degree")


class Reservoir:
    """A leaky echo state reservoir (Jaeger 2001; Lukoševičius 2012; Goodfellow et al.
    (2016), sec. 10.8, with the leaky units of sec. 10.9.2).

    Parameters
    ----------
    units : int >= 1
        Number of reservoir units N.
    sr : float > 0
        Spectral radius W is rescaled to. Ignored when ``W`` is given (the
        matrix is used as it is, as in ReservoirPy).
    lr : float in (0, 1] or array of N such values
        Leak rate 1/tau of each unit; an array gives a hierarchy of time
        scales (Goodfellow et al. (2016), sec. 10.9.2).
    input_scaling : float or array of D floats
        Win is drawn from {-1, +1} and multiplied by this (per input column).
    rc_connectivity : float in (0, 1]
        Density of W (ignored when ``degree`` is given).
    input_connectivity : float in (0, 1]
        Density of Win (and of the bias).
    degree : int or None
        Exactly ``degree`` nonzero recurrent inputs per unit (the sparse
        initialisation of Martens (2010), cited in Goodfellow et al. (2016),
        sec. 8.4; 15 per unit there).
    bias_scaling : float >= 0
        Bias drawn from {-1, +1} with ``input_connectivity``, times this.
    fb_scaling, fb_connectivity :
        Scale and density of the feedback matrix Wfb (drawn from {-1, +1}) that
        is generated at first use with output feedback.
    activation : {"tanh", "sigmoid", "relu", "identity"}
    noise : float >= 0
        Standard deviation of Gaussian noise added inside f at every step.
    W, Win, Wfb, bias : array_like or scipy.sparse matrix, optional
        Matrices to use instead of drawing them: W (N, N), Win (N, D),
        Wfb (N, O), bias (N,). A sparse W runs through the CSR kernel, a dense
        one through BLAS. W may also name a generator of
        `fastrnn.reservoir.generators` (``"ring"``, ``"orthogonal"``,
        ``"small_world"``, ``"uniform"``, ``"normal"``): it is drawn with
        ``sr``, ``rc_connectivity`` and ``seed``.
    dtype : numpy.float32 or numpy.float64
        Precision of every matrix, state and computation.
    seed : None, int or numpy.random.Generator
    n_threads : None, 1 or 2
        Threads of ``run`` with a sparse W: for one series (or a batch too
        small to split: under 16 series in float64, 32 in float32) they
        share the rows of W at every step; a larger batch is split by
        series, each thread running its series through all the steps.
        None (default): two when the CPU has them and the work per step is
        large enough to pay for it (nonzeros of W times series >= 4,000),
        else one. Results do not depend on it.

    Attributes
    ----------
    W : scipy.sparse.csr_matrix or ndarray, (N, N)
        A given sparse W is stored as a canonical CSR copy (sorted, summed
        duplicates, int32 indices) after its structure is checked; its
        ``indices`` and ``indptr`` are read-only.
    Win : ndarray (N, D), None until the first call (or ``initialize``)
    Wfb : ndarray (N, O) or None
    bias : ndarray (N,)
    lr : ndarray (N,)
        W, Win, Wfb, bias and lr (and activation, noise, n_threads) may be
        assigned; the new value is checked as the constructor checks it.
        ``units`` and ``dtype`` are read-only.
    sr_measured_initial : float or None
        Spectral radius of the drawn W before rescaling (None for a given W).
    sr_measured : float
        Spectral radius of W as used, measured on the stored matrix (for a
        given W it is measured on first access).
    state : ndarray (N,) or (B, N)
        The current state; the next call starts from it unless ``reset()``.
    threads_used_ : int
        Threads the last ``run`` used.

    Notes
    -----
    A sequence of length T gives T states x_1 .. x_T; x_0 is the state before
    the call (zeros after ``reset``). Inputs can be (T, D), (T, B, D) for B
    series of equal length run together, or a list of arrays for series of
    different lengths (each starts from the same initial state; afterwards
    the state is the last series' final state).
    """

    def __init__(self, units: int, *, sr: float = 0.9, lr: Union[float, ArrayLike] = 1.0,
                 input_scaling: Union[float, ArrayLike] = 1.0, rc_connectivity: float = 0.1,
                 input_connectivity: float = 0.1, degree: Optional[int] = None,
                 bias_scaling: float = 0.0, fb_scaling: float = 1.0,
                 fb_connectivity: float = 0.1, activation: str = "tanh", noise: float = 0.0,
                 W: Union[ArrayLike, sp.spmatrix, str, None] = None,
                 Win: Optional[ArrayLike] = None, Wfb: Optional[ArrayLike] = None,
                 bias: Optional[ArrayLike] = None, dtype: DTypeLike = np.float64,
                 seed: SeedLike = None, n_threads: Optional[int] = None) -> None:
        self._units = N = check_int(units, "units", minimum=1)
        self.sr = check_real(sr, "sr", low=0.0, low_open=True)
        self.rc_connectivity = _check_fraction(rc_connectivity, "rc_connectivity")
        self.input_connectivity = _check_fraction(input_connectivity, "input_connectivity")
        self.fb_connectivity = _check_fraction(fb_connectivity, "fb_connectivity")
        self.degree = None if degree is None else check_int(degree, "degree", minimum=1,
                                                            maximum=N)
        self.bias_scaling = check_real(bias_scaling, "bias_scaling", low=0.0)
        self.fb_scaling = check_real(fb_scaling, "fb_scaling")
        self.noise = noise
        self.n_threads = n_threads
        self.activation = activation
        self._dtype = dt = check_dtype(dtype)
        self._rng = check_random_state(seed)
        if isinstance(W, str):
            # A named generator draws W from this reservoir's sr,
            # rc_connectivity and random generator (local import: the
            # generators module imports spectral_radius from this one).
            from fastrnn.reservoir.generators import by_name
            W = by_name(W, N, sr=self.sr, connectivity=self.rc_connectivity, seed=self._rng,
                        dtype=dt)
        if W is None:
            _check_fits_in_memory(N, self.degree, self.rc_connectivity, dt)
        self.lr = lr
        self.input_scaling = self._check_input_scaling(input_scaling)

        if W is None:
            if self.degree is not None:
                W0 = _random_with_in_degree(self._rng, N, self.degree, _normal)
            else:
                W0 = _random_sparse(self._rng, N, N, self.rc_connectivity, _normal)
            sr0, vec = spectral_radius(W0, return_vector=True)
            if sr0 == 0.0:
                # Nilpotent (e.g. a handful of off-diagonal entries in a tiny
                # reservoir): no scaling reaches sr, so W is kept as drawn.
                warnings.warn(
                    f"the drawn W has spectral radius 0 and cannot be rescaled to sr={self.sr}; "
                    "raise units, rc_connectivity or degree", RuntimeWarning, stacklevel=2)
                self.W = W0
            else:
                self.W = W0 * (self.sr / sr0)
            self.sr_measured_initial = sr0
            # Measured again on the matrix as stored (in its dtype); the
            # eigenvector just found makes this second ARPACK run short.
            self._sr_measured = spectral_radius(self.W, v0=vec)
        else:
            self.W = W

        self.Win = Win
        self.Wfb = Wfb
        if bias is not None:
            self.bias = bias
        elif self.bias_scaling == 0.0:
            self.bias = np.zeros(N, dtype=dt)
        else:
            b = _random_sparse(self._rng, N, 1, self.input_connectivity, _bernoulli)
            self.bias = b.toarray().ravel() * self.bias_scaling
        self.state = np.zeros(N, dtype=dt)

    # ------------------------------------------------- checked attributes
    # Everything the kernels read is checked when it is set (here and on
    # assignment, e.g. ``res.W = M``), and its shape, dtype and layout again,
    # cheaply, at every call (see `_checked_weights`): an array cannot reach
    # the C loops unchecked.
    @property
    def units(self) -> int:
        """Number of reservoir units N (fixed at construction)."""
        return self._units

    @property
    def dtype(self) -> np.dtype:
        """Precision of every matrix and state (fixed at construction)."""
        return self._dtype

    @property
    def W(self) -> Union[np.ndarray, sp.csr_matrix]:
        """Recurrent weights, (N, N): CSR (int32 indices) or a dense ndarray.

        Assigning checks the new matrix as the constructor does. The CSR
        structure (``indices``, ``indptr``) is read-only; rebinding one of
        its arrays gets the matrix checked again at the next call.
        """
        return self._W

    @W.setter
    def W(self, value: Union[ArrayLike, sp.spmatrix]) -> None:
        W = self._check_W(value)
        if sp.issparse(W):
            for part in (W.indices, W.indptr):
                part.flags.writeable = False
            self._W_parts = (W.data, W.indices, W.indptr)
        else:
            self._W_parts = None
        self._W = W
        self.sr_measured_initial = None
        self._sr_measured = None

    @property
    def Win(self) -> Optional[np.ndarray]:
        """Input weights (N, D), or None until the first call."""
        return self._Win

    @Win.setter
    def Win(self, value: Optional[ArrayLike]) -> None:
        if value is not None:
            value = _checked_matrix(value, "Win", (self.units, None), self.dtype)
            self._check_input_scaling_width(value.shape[1])
        self._Win = value

    @property
    def Wfb(self) -> Optional[np.ndarray]:
        """Feedback weights (N, O), or None until first used."""
        return self._Wfb

    @Wfb.setter
    def Wfb(self, value: Optional[ArrayLike]) -> None:
        if value is not None:
            value = _checked_matrix(value, "Wfb", (self.units, None), self.dtype)
            if value.shape[1] == 0:
                raise ValueError(f"Wfb must have at least one column (one per fed-back "
                                 f"output), got shape {value.shape}")
        self._Wfb = value

    @property
    def bias(self) -> np.ndarray:
        """Bias (N,)."""
        return self._bias

    @bias.setter
    def bias(self, value: ArrayLike) -> None:
        self._bias = _checked_matrix(value, "bias", (self.units,), self.dtype)

    @property
    def lr(self) -> np.ndarray:
        """Leak rate of each unit, (N,)."""
        return self._lr

    @lr.setter
    def lr(self, value: Union[float, ArrayLike]) -> None:
        self._lr = self._check_lr(value)

    @property
    def activation(self) -> str:
        return self._activation

    @activation.setter
    def activation(self, value: str) -> None:
        if not isinstance(value, str) or value not in ACTIVATION_CODES:
            raise ValueError(f"activation must be one of {sorted(ACTIVATION_CODES)}, got {value!r}")
        self._activation = value

    @property
    def noise(self) -> float:
        return self._noise

    @noise.setter
    def noise(self, value: float) -> None:
        self._noise = check_real(value, "noise", low=0.0)

    @property
    def n_threads(self) -> Optional[int]:
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value: Optional[int]) -> None:
        self._n_threads = None if value is None else check_int(value, "n_threads", minimum=1)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Unpickled arrays are writeable again and are not the arrays that
        # were checked: check the structure of W once more.
        self.__dict__.update(state)
        radii = self.sr_measured_initial, self._sr_measured
        self.W = self._W
        self.sr_measured_initial, self._sr_measured = radii

    # ------------------------------------------------------------ checking
    def _check_lr(self, lr):
        N = self.units
        if isinstance(lr, numbers.Real) and not isinstance(lr, (bool, np.bool_)):
            value = check_real(lr, "lr", low=0.0, high=1.0, low_open=True)
            return np.full(N, value, dtype=self.dtype)
        arr = as_float_array(lr, "lr", np.float64, ndim=1)
        if arr.shape != (N,):
            raise ValueError(f"lr must be a float or an array of shape ({N},) (one per unit), "
                             f"got shape {arr.shape}")
        if not np.all((arr > 0) & (arr <= 1)):
            bad = arr[~((arr > 0) & (arr <= 1))][0]
            raise ValueError(f"lr must be in (0, 1] for every unit, got {bad}")
        return arr.astype(self.dtype)

    def _check_input_scaling(self, scaling):
        if isinstance(scaling, numbers.Real) and not isinstance(scaling, (bool, np.bool_)):
            return check_real(scaling, "input_scaling")
        arr = as_float_array(scaling, "input_scaling", np.float64, ndim=1)
        if not np.all(np.isfinite(arr)):
            raise ValueError("input_scaling must be finite")
        return arr

    def _check_input_scaling_width(self, D):
        if isinstance(self.input_scaling, np.ndarray) and self.input_scaling.shape != (D,):
            raise ValueError(
                f"input_scaling must be a float or have one value per input ({D}), "
                f"got shape {self.input_scaling.shape}"
            )

    def _check_W(self, W):
        N = self.units
        if sp.issparse(W):
            return checked_csr(W, "W", (N, N), self.dtype)
        return _checked_matrix(W, "W", (N, N), self.dtype)

    # ----------------------------------------------------------- properties
    @property
    def sr_measured(self) -> float:
        if self._sr_measured is None:
            self._sr_measured = spectral_radius(self.W)
        return self._sr_measured

    @property
    def input_dim(self) -> Optional[int]:
        return None if self.Win is None else self.Win.shape[1]

    @property
    def feedback_dim(self) -> Optional[int]:
        return None if self.Wfb is None else self.Wfb.shape[1]

    def initialize(self, input_dim: int, feedback_dim: Optional[int] = None) -> Reservoir:
        """Draw Win (N, input_dim) and, if ``feedback_dim``, Wfb (N, feedback_dim)
        unless already set. Called on first use; call it to fix the matrices
        before running."""
        D = check_int(input_dim, "input_dim", minimum=0)
        O = None if feedback_dim is None else check_int(feedback_dim, "feedback_dim", minimum=1)
        N = self.units
        with _DRAW_LOCK:
            if self.Win is None:
                self._check_input_scaling_width(D)
                if D == 0:
                    self.Win = np.zeros((N, 0), dtype=self.dtype)
                else:
                    win = _random_sparse(self._rng, N, D, self.input_connectivity, _bernoulli)
                    self.Win = (win.toarray() * self.input_scaling).astype(self.dtype)
            if O is not None and self.Wfb is None:
                wfb = _random_sparse(self._rng, N, O, self.fb_connectivity, _bernoulli)
                self.Wfb = (wfb.toarray() * self.fb_scaling).astype(self.dtype)
        if self.Win.shape[1] != D:
            raise ValueError(f"the reservoir takes {self.Win.shape[1]} input features (Win), "
                             f"got {D}")
        if O is not None and self.Wfb.shape[1] != O:
            raise ValueError(f"the reservoir takes {self.Wfb.shape[1]} feedback features "
                             f"(Wfb), got {O}")
        return self

    def _lazy_draws(self):
        """Win, Wfb and the random generator after the draws made on first
        use. Package-internal: `fastrnn.dask` carries them from a worker's
        copy of the reservoir back to the client's."""
        return self.Win, self.Wfb, self._rng

    def _adopt_lazy_draws(self, draws):
        """Take the ``_lazy_draws()`` of another copy of this reservoir (made
        from the same seed), so that both go on alike. Package-internal."""
        self.Win, self.Wfb, self._rng = draws

    def reset(self, state: Optional[ArrayLike] = None) -> Reservoir:
        """Set the state to zeros (or to ``state``, (N,) or (B, N))."""
        if state is None:
            self.state = np.zeros(self.units, dtype=self.dtype)
        else:
            state = as_float_array(state, "state", self.dtype, ndim=(1, 2))
            if state.shape[-1] != self.units:
                raise ValueError(f"state must have {self.units} units in its last dimension, "
                                 f"got shape {state.shape}")
            self.state = state
        return self

    # -------------------------------------------------------------- running
    def _initial_state(self, x0, batch):
        """x_0 as an (N, B) unit-major array (a copy the kernel may overwrite)."""
        N = self.units
        if x0 is None:
            src = as_float_array(self.state, "state", self.dtype, ndim=(1, 2))
        else:
            src = as_float_array(x0, "x0", self.dtype, ndim=(1, 2))
        if src.shape == (N,):
            return np.repeat(src[:, None], batch, axis=1)
        if src.shape == (batch, N):
            # A copy, always: for one series src.T is already C-contiguous,
            # and ascontiguousarray would hand the caller's x0 to the kernel,
            # which overwrites it.
            return np.array(src.T, order="C", copy=True)
        name = "x0" if x0 is not None else "the current state"
        raise ValueError(
            f"{name} must have shape ({N},) or ({batch}, {N}) for {batch} series, "
            f"got {src.shape}" + ("" if x0 is not None else "; call reset() first")
        )

    def _check_width(self, arr, name):
        """A 3-D input is (time steps, series, features): its last axis must be
        the reservoir's input size once Win is known, or a (T, D, 1) array
        would silently run as D series of one feature. Package-internal:
        `fastrnn.ESN` checks its inputs with it too."""
        win = self.Win
        if win is not None and arr.shape[-1] != win.shape[1]:
            D = win.shape[1]
            layout = "(time steps, features)" if arr.ndim == 2 else \
                "(time steps, series, features)"
            raise ValueError(
                f"{name} must have {D} features in its last dimension (the reservoir's input "
                f"size: Win is {win.shape}), got shape {arr.shape}; a {arr.ndim}-D {name} is "
                f"{layout}")

    def _laid_out(self, name, shape):
        """The array ``name`` as the kernel needs it: exactly ``shape``, of the
        reservoir's dtype, C-contiguous and aligned. An array changed in place
        since it was set (e.g. resized) is checked again through its setter."""
        a = getattr(self, name)
        if not (isinstance(a, np.ndarray) and a.shape == shape and a.dtype == self.dtype
                and a.flags.c_contiguous and a.flags.aligned):
            setattr(self, name, a)
            a = getattr(self, name)
            if a.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
        return a

    def _checked_weights(self, D, O=None):
        """Everything a call hands to the loop, read once from ``self`` and
        checked (cheaply: shapes, dtypes, layout, the identity of W's CSR
        arrays), so that a matrix replaced or changed in place since it was
        set, or set by another thread meanwhile, cannot reach the C loop
        unchecked. Draws Win/Wfb on first use."""
        self.initialize(D, O)
        N = self.units
        W = self._W
        if sp.issparse(W):
            parts = self._W_parts
            if (W.shape != (N, N) or parts is None or W.data is not parts[0]
                    or W.indices is not parts[1] or W.indptr is not parts[2]):
                # One of the CSR arrays was rebound: check the matrix again.
                self.W = W
                W = self._W
        else:
            W = self._laid_out("W", (N, N))
        return {
            "activation": ACTIVATION_CODES[self.activation],
            "W": W,
            "win": self._laid_out("Win", (N, D)),
            "wfb": None if O is None else self._laid_out("Wfb", (N, O)),
            "bias": self._laid_out("bias", (N,)),
            "lr": self._laid_out("lr", (N,)),
        }

    @staticmethod
    def _loop_weights(weights, w_in, B):
        """The checked weights as the C loop reads them, for B series, with
        ``w_in`` (N, D) as the input weights."""
        W, lr = weights["W"], weights["lr"]
        if sp.issparse(W):
            compact = W.indices.astype(np.uint16) \
                if W.shape[1] <= _COMPACT_INDEX_LIMIT and W.nnz else None
            csr = (W.data, W.indices, W.indptr, compact, None)
        else:
            csr = (None, None, None, None, W)
        return LoopWeights(weights["activation"], *csr, w_in=w_in,
                           w_in_t=np.ascontiguousarray(w_in.T),
                           # laid out like the unit-major (N, B) state
                           leak=lr if B == 1 else np.repeat(lr, B), bias=weights["bias"])

    def _threads_for(self, B, W):
        if self.n_threads is not None:
            return min(self.n_threads, 2)
        if not sp.issparse(W) or W.nnz * B < _THREADS_MIN_WORK:
            return 1
        return 2 if available_cpus() >= 2 else 1

    def _pre_activations(self, T, B, bias, out=None, fill=True):
        """Where the loop writes the states: ``out`` (T, B, N), checked by
        `_check_out`, or a new array; filled with the bias (+ noise) of
        every step unless the loop computes them (``fill=False``)."""
        states = np.empty((T, B, self.units), dtype=self.dtype) if out is None else out
        if not fill:
            return states
        states[...] = bias
        if self.noise > 0:
            states += (self.noise * self._rng.standard_normal(states.shape)).astype(self.dtype)
        return states

    def _run_open_loop(self, u, feedback, x0, out=None):
        """u (T, B, D) [feedback (T, B, O)] -> states (T, B, N) (written into
        ``out`` if given) and the final state (N, B). Reads ``self`` but does
        not change it (but for ``threads_used_``)."""
        T, B, D = u.shape
        if feedback is not None and feedback.shape[:2] != u.shape[:2]:
            raise ValueError(f"feedback must have the same time steps and series as X, got "
                             f"{feedback.shape[:2]} and {u.shape[:2]}")
        O = None if feedback is None else feedback.shape[2]
        _check_loop_sizes(T, B, self.units, D + (O or 0))
        weights = self._checked_weights(D, O)
        if feedback is None:
            inputs, w_in = u, weights["win"]
        else:
            # Teacher-forced outputs are more inputs, projected by Wfb.
            inputs = np.ascontiguousarray(np.concatenate([u, feedback], axis=2))
            w_in = np.ascontiguousarray(np.hstack([weights["win"], weights["wfb"]]))
        state = self._initial_state(x0, B)
        # Without noise, a few inputs' projection and the bias are summed in
        # the pass of the step that updates the units (the same sums, in the
        # same order): the states are then written once, not three times.
        fused = self.noise == 0 and w_in.shape[1] <= _reservoir.SMALL_INPUT
        states = self._pre_activations(T, B, weights["bias"], out, fill=not fused)
        self.threads_used_ = _reservoir.run(
            self._loop_weights(weights, w_in, B), inputs, state, states,
            nthreads=self._threads_for(B, weights["W"]), prefilled=not fused)
        return states, state

    def _run_closed_loop(self, u: np.ndarray, w_out: np.ndarray, w_out_inputs: Optional[np.ndarray],
                         intercept: np.ndarray, x0: Optional[ArrayLike], y0: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The closed loop (free run): the output of a linear readout fed back.

        Package-internal: `fastrnn.ESN` drives it. Per step
        x_t = leaky(W x_{t-1} + Win u_t + b + Wfb y_{t-1}) and
        y_t = w_out^T x_t + w_out_inputs^T u_t + intercept (Jaeger 2001;
        Lukoševičius 2012; Goodfellow et al. (2016), sec. 10.8).

        Parameters
        ----------
        u : ndarray (T, B, D) of the reservoir's dtype
        w_out : ndarray (N, O)
            The readout's weights on the state.
        w_out_inputs : ndarray (D, O) or None
            The readout's weights on the inputs, if it sees them.
        intercept : ndarray (O,)
        x0 : array_like (N,) or (B, N), or None
            The initial state; the stored state if None.
        y0 : ndarray (B, O)
            The output before the first step.

        Returns
        -------
        states : ndarray (T, B, N)
        outputs : ndarray (T, B, O)
        y_last : ndarray (B, O)
            y_T (y0 when T = 0).

        The stored state becomes x_T, as after `run`.
        """
        T, B, D = u.shape
        O = w_out.shape[1]
        _check_loop_sizes(T, B, self.units, D)
        weights = self._checked_weights(D, O)
        outputs = np.empty((T, B, O), dtype=self.dtype)
        outputs[...] = intercept
        if w_out_inputs is not None:
            outputs += u @ w_out_inputs
        state = self._initial_state(x0, B)
        # A copy: the loop overwrites it, and for one series the transpose
        # of y0 is already contiguous.
        y_state = np.array(y0.T, order="C", copy=True)
        states = self._pre_activations(T, B, weights["bias"])
        _reservoir.run(self._loop_weights(weights, weights["win"], B), np.ascontiguousarray(u),
                       state, states,
                       ClosedLoop(weights["wfb"], np.ascontiguousarray(w_out), outputs, y_state))
        self.state = state[:, 0].copy() if B == 1 else np.ascontiguousarray(state.T)
        return states, outputs, np.ascontiguousarray(y_state.T)

    def _as_series(self, X, name, width=None, views=False):
        """(T, D) -> (T, 1, D), (T, B, D) kept; returns (array, unbatched).
        With ``views``, an array the C loop can read in place (of the dtype,
        rows contiguous and evenly spaced: columns of a wider buffer) is
        taken as it is instead of copied."""
        arr = rows_in_place(X, self.dtype) if views else None
        if arr is None:
            arr = as_float_array(X, name, self.dtype, ndim=(2, 3))
        if width is not None and arr.shape[-1] != width:
            raise ValueError(f"{name} must have {width} features in its last dimension, "
                             f"got shape {arr.shape}")
        return (arr[:, None, :], True) if arr.ndim == 2 else (arr, False)

    def _check_feedback_width(self, fb, name):
        if fb.shape[-1] == 0:
            raise ValueError(f"{name} must have at least one feature in its last dimension, "
                             f"got shape {fb.shape}")
        wfb = self.Wfb
        if wfb is not None and fb.shape[-1] != wfb.shape[1]:
            raise ValueError(
                f"{name} must have {wfb.shape[1]} features in its last dimension (the "
                f"reservoir's feedback size: Wfb is {wfb.shape}), got shape {fb.shape}")

    def _check_out(self, out, u, unbatched):
        """``out`` as `run` takes it: a writeable array of the reservoir's
        dtype and of the states' shape, whose rows the C loop can write in
        place, sharing no memory with the input."""
        T, B = u.shape[:2]
        shape = (T, self.units) if unbatched else (T, B, self.units)
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
        if out.dtype != self.dtype:
            raise TypeError(f"out must have the reservoir's dtype {self.dtype}, got {out.dtype}")
        if out.shape != shape:
            raise ValueError(f"out must have shape {shape} (the states of X), got {out.shape}")
        if not out.flags.writeable or (out.size and rows_in_place(out, self.dtype) is None):
            raise ValueError("out must be writeable and aligned, each row contiguous and the "
                             "rows evenly spaced (an array of its own, or consecutive columns "
                             f"of one); got strides {out.strides}")
        if np.shares_memory(out, u):
            raise ValueError("out must not share memory with X")
        return out[:, None, :] if unbatched else out

    def run(self, X: Union[ArrayLike, list[ArrayLike]], x0: Optional[ArrayLike] = None, *,
            feedback: Union[ArrayLike, list[ArrayLike], None] = None,
            out: Optional[np.ndarray] = None) -> Union[np.ndarray, list[np.ndarray]]:
        """Run the reservoir and return its states.

        Parameters
        ----------
        X : array_like (T, D), (T, B, D), or a list of (T_i, D) arrays
            A 3-D X is (time steps, series, features); its last axis must be
            the reservoir's input size D once Win is set.
        x0 : array_like (N,) or (B, N), optional
            Initial state; the current state (zeros after ``reset``) if None.
            Calls that pass x0 do not depend on the stored state, so threads
            sharing one reservoir get the same results as serial calls.
        feedback : like X with O features, optional
            The outputs fed back through Wfb: feedback[t] is y_{t-1}, the
            output before step t (teacher forcing). Wfb is drawn on first use.
        out : ndarray (T, N) or (T, B, N), optional
            Where to write the states (as NumPy's ``out=``), for an array X:
            of the reservoir's dtype, each row contiguous and the rows evenly
            spaced, so consecutive columns of a wider array will do. Several
            reservoirs can so write their states side by side into one
            buffer, without copies (`fastrnn.ReservoirGraph` does); an X laid
            out the same way is read in place too.

        Returns
        -------
        states : ndarray (T, N), (T, B, N), or a list of (T_i, N) arrays
            ``out`` itself when given.
        """
        if isinstance(X, (list, tuple)):
            if out is not None:
                raise TypeError("out is for an array X; a list X returns a list of new arrays")
            if feedback is not None and (not isinstance(feedback, (list, tuple))
                                         or len(feedback) != len(X)):
                raise ValueError("feedback must be a list of the same length as X")
            start = self.state if x0 is None else x0
            results, last = [], None
            for i, Xi in enumerate(X):
                arr = as_float_array(Xi, f"X[{i}]", self.dtype, ndim=2)
                self._check_width(arr, f"X[{i}]")
                fbi = None
                if feedback is not None:
                    fbi = as_float_array(feedback[i], f"feedback[{i}]", self.dtype, ndim=2)
                    self._check_feedback_width(fbi, f"feedback[{i}]")
                    fbi = fbi[:, None, :]
                out, state = self._run_open_loop(arr[:, None, :], fbi, start)
                results.append(out[:, 0, :])
                last = state[:, 0].copy()
            if last is not None:
                self.state = last
            return results
        u, unbatched = self._as_series(X, "X", views=True)
        self._check_width(u if not unbatched else u[:, 0], "X")
        target = None if out is None else self._check_out(out, u, unbatched)
        fb = None
        if feedback is not None:
            fb, fb_unbatched = self._as_series(feedback, "feedback")
            if fb_unbatched != unbatched:
                raise ValueError("feedback must be batched like X")
            self._check_feedback_width(fb if not unbatched else fb[:, 0], "feedback")
        states, state = self._run_open_loop(u, fb, x0, target)
        if unbatched:
            self.state = state[:, 0].copy()
            return states[:, 0, :] if out is None else out
        self.state = np.ascontiguousarray(state.T)
        return states if out is None else out

    def __call__(self, X: Union[ArrayLike, list[ArrayLike]], x0: Optional[ArrayLike] = None,
                 **kwargs: Any) -> Union[np.ndarray, list[np.ndarray]]:
        return self.run(X, x0, **kwargs)

    def __repr__(self) -> str:
        kind = "sparse" if sp.issparse(self.W) else "dense"
        return (f"Reservoir({self.units}, sr={self.sr}, activation={self.activation!r}, "
                f"W={kind}, dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    # The matrices as stored (W in CSR when sparse), the measured radii, the
    # running state and the random generator (noise, matrices still to draw),
    # so that a stream resumes exactly where it stopped.
    _saved_scalars = ("units", "sr", "rc_connectivity", "input_connectivity", "fb_connectivity",
                      "degree", "bias_scaling", "fb_scaling", "activation", "noise", "n_threads")

    def _save_config(self):
        config = {k: getattr(self, k) for k in self._saved_scalars}
        config.update(dtype=self.dtype.name, sr_measured_initial=self.sr_measured_initial,
                      sr_measured=self._sr_measured, rng=io_format.rng_state(self._rng))
        if not isinstance(self.input_scaling, np.ndarray):
            config["input_scaling"] = self.input_scaling
        return config

    def _save_arrays(self):
        arrays = {"W": self.W, "bias": self.bias, "lr": self.lr, "state": self.state}
        for name in ("Win", "Wfb"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        if isinstance(self.input_scaling, np.ndarray):
            arrays["input_scaling"] = self.input_scaling
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        config = dict(config)
        N, dt = io_format.config_int(config, "units"), config.get("dtype")
        sr0, sr1 = config.pop("sr_measured_initial"), config.pop("sr_measured")
        rng = config.pop("rng")
        if "input_scaling" not in config:
            config["input_scaling"] = arrays.get("input_scaling")
        io_format.expect_shapes(arrays, {"W": (N, N), "bias": (N,), "lr": (N,)}, "Reservoir")
        for name in ("Win", "Wfb"):
            # Written dense: a sparse one here is crafted, and its stated
            # width (not backed by any array) would size the dense copy the
            # constructor makes.
            a = arrays.get(name)
            if a is not None and (not isinstance(a, np.ndarray) or a.ndim != 2
                                  or a.shape[0] != N):
                raise ValueError(f"{name} must be a dense array of shape ({N}, any), got "
                                 f"{type(a).__name__} of shape {getattr(a, 'shape', None)}")
        state = arrays.get("state")
        if not isinstance(state, np.ndarray) or state.ndim not in (1, 2) \
                or state.shape[-1] != N or state.dtype != np.dtype(dt):
            raise ValueError(f"state must be {dt} of shape ({N},) or (B, {N})")
        r = cls(W=arrays["W"], Win=arrays.get("Win"), Wfb=arrays.get("Wfb"),
                bias=arrays["bias"], lr=arrays["lr"], **config)
        for name in ("W", "bias", "lr"):
            a = arrays[name]
            if a.dtype != r.dtype:
                raise ValueError(f"{name} must be {r.dtype}, got {a.dtype}")
        r.sr_measured_initial = None if sr0 is None else float(sr0)
        r._sr_measured = None if sr1 is None else float(sr1)
        r.state = state.copy()
        r._rng = io_format.rng_from_state(rng)
        return r


io_format.register("Reservoir", Reservoir)
