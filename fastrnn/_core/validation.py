"""Argument checks shared by every public class.

Everything a kernel trusts (dtype, contiguity, shape, range) is checked here,
once per call, before the one call into Cython.
"""
from __future__ import annotations

import numbers
from typing import Any, Literal, Optional, Union, overload

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Type aliases of the public signatures (written with typing's Optional and
# Union: they are evaluated at import, and the package supports Python 3.9).
#: What ``seed`` accepts: None (fresh entropy), an int, or a Generator.
SeedLike = Optional[Union[int, np.random.Generator]]


class NotFittedError(ValueError, AttributeError):
    """A method was called before the one that must come first (``predict``
    before ``fit``, ``backward`` before ``forward``).

    As scikit-learn's exception of the same name, it subclasses both
    `ValueError` and `AttributeError`, so that code catching either keeps
    working; the message says what to call first.
    """

    def __init__(self, *args: object) -> None:
        # Spelled out only so that the class has an inspectable, annotated
        # signature; the arguments are ValueError's, as before.
        super().__init__(*args)


def check_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """Return ``np.dtype(float32)`` or ``np.dtype(float64)``; raise otherwise."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be numpy.float32 or numpy.float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be numpy.float32 or numpy.float64, got {dt}")
    return dt


def check_bool(value: Any, name: str) -> bool:
    """A bool (or numpy bool); anything else, even if truthy, is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_int(value: Any, name: str, minimum: Optional[int] = None,
              maximum: Optional[int] = None) -> int:
    """An integral number (bool refused) within [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


@overload
def check_real(value: Any, name: str, *, low: Optional[float] = ..., high: Optional[float] = ...,
               low_open: bool = ..., high_open: bool = ...,
               allow_none: Literal[False] = ...) -> float: ...
@overload
def check_real(value: Any, name: str, *, low: Optional[float] = ..., high: Optional[float] = ...,
               low_open: bool = ..., high_open: bool = ...,
               allow_none: bool) -> Optional[float]: ...
def check_real(value: Any, name: str, *, low: Optional[float] = None,
               high: Optional[float] = None, low_open: bool = False, high_open: bool = False,
               allow_none: bool = False) -> Optional[float]:
    """A finite real number within the given (open or closed) bounds."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:   # an int beyond the float range
        raise ValueError(f"{name} must be finite, got an integer of {value.bit_length()} bits") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    lo_bad = low is not None and (value <= low if low_open else value < low)
    hi_bad = high is not None and (value >= high if high_open else value > high)
    if lo_bad or hi_bad:
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in {lb}{lo}, {hi}{hb}, got {value}")
    return value


# ---- sizes, choices and finite arrays (persistence, data sets, metrics) ----
# Largest length or count a user may ask for: beyond any memory (2**40
# float64 values are 8 TiB), yet small enough that products of a few such
# numbers stay exact and within C's 64-bit sizes. Between the memory at hand
# and this bound the honest answer is numpy's MemoryError.
MAX_SIZE = 2**40


def check_size(value: Any, name: str, minimum: int = 0) -> int:
    """A length or count (an integer in [minimum, MAX_SIZE]); a huge integer
    is a ValueError naming it, not an OverflowError deep inside numpy."""
    return check_int(value, name, minimum=minimum, maximum=MAX_SIZE)


def check_total(total: int, what: str) -> int:
    """An element count computed from several sizes, e.g. ``(n + discard) *
    subsample`` steps, checked against MAX_SIZE; ``what`` names the sizes."""
    if total > MAX_SIZE:
        raise ValueError(f"{what} = {total} is too large (at most {MAX_SIZE})")
    return total


def check_choice(value: Any, name: str, choices: Any) -> Any:
    """One of the strings ``choices``; anything else (arrays included) is refused."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r:.80}")
    return value


def check_finite(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` (a real array) with no NaN or infinity, else a ValueError naming it."""
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite: it holds NaN or infinity")
    return arr


def as_array(a: Any, name: str) -> np.ndarray:
    """``np.asarray(a)``, with a ValueError naming the argument for ragged input."""
    try:
        return np.asarray(a)
    except ValueError as exc:   # e.g. nested lists of unequal lengths
        raise ValueError(f"{name} must be an array (of equal-length rows): {exc}") from None


def as_float_array(a: Any, name: str, dtype: Any, *,
                   ndim: Union[int, tuple[int, ...], None] = None,
                   shape: Optional[tuple[Optional[int], ...]] = None) -> np.ndarray:
    """Convert ``a`` to a C-contiguous, aligned array of ``dtype`` (same shape).

    Integers, booleans and other real floating types are cast (as NumPy and
    scikit-learn do); complex, object, string and other non-numeric arrays are
    refused with a TypeError. ``ndim`` is an int or a tuple of allowed values;
    ``shape`` may hold None for "any size" in a dimension.
    """
    arr = as_array(a, name)
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"{name} must be an array of real numbers, got dtype {arr.dtype}"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must be {want}-dimensional, got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(
            s is not None and s != n for s, n in zip(shape, arr.shape)
        ):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    # np.require, not np.ascontiguousarray: the latter turns a 0-d array into
    # shape (1,), and neither copies a C-contiguous but unaligned array, whose
    # pointer the C kernels may not dereference.
    return np.require(arr, dtype=dtype, requirements=["C", "A"])


def rows_in_place(a: Any, dtype: Any) -> Optional[np.ndarray]:
    """``a`` itself if a C loop can read or write it in place as rows of its
    last axis: an aligned 2-D or 3-D ndarray of ``dtype`` whose rows (the
    last axis) are contiguous and evenly spaced, so an array of its own or
    consecutive columns of a wider one; else None (the caller copies)."""
    if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.ndim in (2, 3)
            and a.flags.aligned and a.size > 0):   # an empty array has no rows to read
        return None
    item = a.itemsize
    if a.shape[-1] > 1 and a.strides[-1] != item:
        return None
    # the leading axes must collapse into one stride, at least a row long
    row, inner = None, 1
    for n, stride in zip(a.shape[-2::-1], a.strides[-2::-1]):
        if n > 1:
            if row is None:
                row = stride // inner if stride % inner == 0 else -1
            elif stride != row * inner:
                return None
        inner *= n
    if row is not None and (row % item or row < a.shape[-1] * item):
        return None
    return a


def check_lengths(lengths: Any, name: str, count: int, low: int, high: int,
                  why: str = "") -> np.ndarray:
    """Per-sequence lengths: an integer array of shape (count,), every value
    in [low, high], returned as a contiguous intp array; ``why`` ends the
    range message (what the bounds mean)."""
    arr = as_array(lengths, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if arr.shape != (count,):
        raise ValueError(f"{name} must have shape ({count},) (one per sequence), got "
                         f"{arr.shape}")
    if count and (arr.min() < low or arr.max() > high):
        raise ValueError(f"{name} must be in [{low}, {high}]{why}, got values in "
                         f"[{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.intp)


def check_random_state(seed: Any) -> np.random.Generator:
    """A ``numpy.random.Generator`` from None, an int, or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(seed, (bool, np.bool_)):
            raise TypeError("seed must be None, an int or a numpy.random.Generator")
        try:
            return np.random.default_rng(seed)
        except ValueError as exc:   # negative or otherwise unusable integers
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}: {exc}") from None
    raise TypeError(
        f"seed must be None, an int or a numpy.random.Generator, got {type(seed).__name__}"
    )


def check_csr_parts(what, shape, data, indices, indptr, error=ValueError):
    """Check the structure of a CSR matrix given as its three arrays.

    The C kernels index a state vector with ``indices`` and walk ``indptr``
    without bounds checks, so a matrix built by hand (or read from a file)
    must be checked here: 1-D integer ``indices``/``indptr``, ``indptr`` of
    rows + 1 entries rising from 0 to nnz, one column index per value, each
    in [0, cols). Both `fastrnn.io` (files) and the constructors that take a
    user's sparse matrix (``Reservoir(W=...)``) call it.

    Parameters
    ----------
    what : str
        How the messages name the matrix, e.g. ``"W"``.
    shape : sequence of int
        The matrix's (rows, cols).
    data, indices, indptr : ndarray
    error : exception class
        Raised with the message (``ValueError`` by default).
    """
    if len(shape) != 2:
        raise error(f"{what} must be 2-D, got shape {tuple(shape)}")
    n_rows, n_cols = shape
    if data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1:
        raise error(f"{what}: data, indices and indptr must be 1-D")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise error(f"{what}: indices and indptr must be integers, got "
                    f"{indices.dtype} and {indptr.dtype}")
    if indptr.shape[0] != n_rows + 1:
        raise error(f"{what}: indptr has {indptr.shape[0]} entries, "
                    f"expected rows + 1 = {n_rows + 1}")
    nnz = data.shape[0]
    if indices.shape[0] != nnz:
        raise error(f"{what}: {indices.shape[0]} indices for {nnz} values")
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr.astype(np.int64)) < 0):
        raise error(f"{what}: indptr must rise from 0 to nnz = {nnz}")
    if nnz and (indices.min() < 0 or indices.max() >= n_cols):
        raise error(f"{what}: column indices outside [0, {n_cols})")
