"""Initialisations for recurrent weights (Goodfellow et al. (2016), secs. 10.7.1 and 10.7.6).

Each function returns a new array; assign it into a layer's parameter, e.g.
``layer.params["weight_hh_l0"] = init.orthogonal((H, H), seed=0)``. The
layer checks the shape and copies the values into its own array, in its own
dtype (the same as ``layer.params["weight_hh_l0"][...] = ...``), so an
optimiser already holding that array keeps updating it; an array of the
wrong shape or a non-real dtype is refused with a ValueError or TypeError.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn._core.validation import as_float_array, check_int, check_random_state, check_real
from fastrnn._core.validation import SeedLike


def orthogonal(shape: Sequence[int], *, gain: float = 1.0, seed: SeedLike = None,
               dtype: DTypeLike = np.float64) -> np.ndarray:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    All singular values equal ``gain``, so a linear recurrence neither
    explodes nor vanishes at initialisation. Drawn uniformly (Haar measure):
    the QR factor of a Gaussian matrix, with the signs of R's diagonal
    folded in so that the distribution is not biased.
    """
    rows, cols = (check_int(s, "shape[i]", minimum=1) for s in shape)
    gain = check_real(gain, "gain")
    rng = check_random_state(seed)
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).astype(dtype)


def identity(n: int, *, scale: float = 1.0, dtype: DTypeLike = np.float64) -> np.ndarray:
    """``scale`` times the identity (Le, Jaitly & Hinton 2015, for ReLU RNNs):
    at initialisation the state is carried over unchanged."""
    n = check_int(n, "n", minimum=1)
    return (check_real(scale, "scale") * np.eye(n)).astype(dtype)


def spectral_radius_of(w: ArrayLike) -> float:
    """The largest |eigenvalue| of a square matrix (dense eigenvalues)."""
    if hasattr(w, "toarray"):   # scipy.sparse: its conversion trusts its indices
        raise TypeError("w must be a dense array; for a sparse matrix use "
                        "fastrnn.reservoir.spectral_radius")
    w = as_float_array(w, "w", np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ValueError(f"w must be a non-empty square matrix, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w must be finite (it holds NaN or Inf)")
    return float(np.max(np.abs(np.linalg.eigvals(w))))


def sparse(n: int, *, nonzero: int = 15, spectral_radius: float = 1.2, seed: SeedLike = None,
           dtype: DTypeLike = np.float64) -> np.ndarray:
    """Sparse initialisation with a target spectral radius (Goodfellow et al. (2016), sec. 10.7.1;
    Sutskever et al. 2013): every unit receives exactly ``nonzero`` Gaussian
    weights from randomly chosen units (all of them when n <= nonzero), and
    the matrix is rescaled so that its spectral radius is ``spectral_radius``
    (15 and 1.2 are the values Goodfellow et al. (2016), sec. 10.7.1, cites).
    """
    n = check_int(n, "n", minimum=1)
    k = min(check_int(nonzero, "nonzero", minimum=1), n)
    target = check_real(spectral_radius, "spectral_radius", low=0.0, low_open=True)
    rng = check_random_state(seed)
    w = np.zeros((n, n))
    for i in range(n):
        cols = rng.choice(n, size=k, replace=False)
        w[i, cols] = rng.standard_normal(k)
    rho = spectral_radius_of(w)
    if rho == 0.0:
        raise ValueError("the drawn matrix is nilpotent (spectral radius 0): use more nonzeros")
    return (w * (target / rho)).astype(dtype)
