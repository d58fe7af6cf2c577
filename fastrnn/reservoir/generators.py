"""Generators of reservoir matrices other than the random sparse W that
`fastrnn.Reservoir` draws by default.

Each returns the recurrent matrix W (N, N) — a SciPy CSR matrix, or a dense
array for `orthogonal` — seeded and reproducible, and, given ``sr``,
rescaled to that spectral radius exactly as `fastrnn.Reservoir` rescales
its own draw: measured by `fastrnn.spectral_radius` and multiplied by
sr / measured. The names follow ReservoirPy's ``mat_gen`` module where it
has the generator (``ring``, ``orthogonal``, ``small_world``, ``uniform``,
``normal``); pass the result to ``Reservoir(units, W=...)``, or name it:
``Reservoir(units, W="ring")`` (see `by_name`).

- `ring`: the simple cycle reservoir (SCR) of Rodan & Tiňo (2011), with
  `cycle_input_weights` for its input matrix of one absolute value and
  deterministic signs;
- `cycle_with_jumps`: the cycle reservoir with regular jumps (CRJ) of Rodan
  & Tiňo (2012);
- `small_world`: a Watts & Strogatz (1998) ring lattice with rewired edges;
- `orthogonal`: a Haar-distributed random orthogonal matrix (Mezzadri 2007);
- `uniform`, `normal`: random sparse matrices with a given connectivity.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from numpy.typing import DTypeLike
import scipy.sparse as sp

from fastrnn._core.validation import SeedLike, check_dtype, check_int, check_random_state, \
    check_real
from fastrnn.reservoir.reservoir import _random_sparse, spectral_radius

__all__ = ["ring", "cycle_with_jumps", "cycle_input_weights", "small_world", "orthogonal",
           "uniform", "normal", "by_name"]


def _dense_radius(W):
    """The largest eigenvalue modulus from all the eigenvalues: what
    `spectral_radius` falls back to when ARPACK fails, called directly for
    matrices whose eigenvalues all share one modulus (no gap for ARPACK to
    converge on: it would spend its whole iteration budget, 100 N restarts,
    before the fallback)."""
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def _scaled(W, sr, name, *, v0=None, measure=None):
    """W rescaled to spectral radius ``sr`` as `Reservoir` does (None: as is):
    multiplied by sr / the radius measured by `spectral_radius` (started from
    ``v0``), or by ``measure``."""
    if sr is None:
        return W
    sr = check_real(sr, "sr", low=0.0, low_open=True)
    measured = spectral_radius(W, v0=v0) if measure is None else measure(W)
    if measured == 0.0:
        raise ValueError(f"the {name} matrix has spectral radius 0 (it is nilpotent) and "
                         f"cannot be rescaled to sr={sr}; pass sr=None")
    return W * (sr / measured)


def _csr(rows, cols, values, n, dtype):
    W = sp.csr_matrix((np.asarray(values, dtype=np.float64), (rows, cols)), shape=(n, n))
    W.sort_indices()
    return W


def _finish(W, sr, name, dtype, **measuring):
    W = _scaled(W, sr, name, **measuring)
    return W.astype(dtype)


def ring(units: int, *, sr: Optional[float] = None, weight: float = 1.0,
         dtype: DTypeLike = np.float64) -> sp.csr_matrix:
    """The simple cycle reservoir (SCR) of Rodan & Tiňo (2011), sec. III.

    Unit i feeds unit i + 1 (mod N) with one weight r: W[(i + 1) % N, i] = r
    and no other nonzero (ReservoirPy's ``ring``). Its eigenvalues are
    r times the N-th roots of unity, so its spectral radius is abs(r).

    Parameters
    ----------
    units : int >= 2
    sr : float > 0, optional
        Spectral radius to rescale to (then ``weight`` only sets the sign).
    weight : float, nonzero
        The cycle weight r.
    dtype : numpy.float64 or numpy.float32

    Returns
    -------
    scipy.sparse.csr_matrix (N, N)
    """
    N = check_int(units, "units", minimum=2)
    weight = check_real(weight, "weight")
    if weight == 0.0:
        raise ValueError("weight must be nonzero")
    dtype = check_dtype(dtype)
    source = np.arange(N)
    W = _csr((source + 1) % N, source, np.full(N, weight), N, dtype)
    # All N eigenvalues have modulus |r|, which leaves ARPACK no gap; but
    # the vector of ones is an eigenvector (every row holds one r), from
    # which it converges at once.
    return _finish(W, sr, "ring", dtype, v0=np.ones(N))


def _jump_pairs(N, jump):
    """Unit pairs joined by the jumps of Rodan & Tiňo (2012), sec. 3: from
    unit 0 every ``jump`` units, floor(N / jump) jumps, the last one back to
    unit 0 when ``jump`` divides N."""
    starts = np.arange(N // jump) * jump
    return starts, (starts + jump) % N


def cycle_with_jumps(units: int, jump: int, *, sr: Optional[float] = None,
                     cycle_weight: float = 1.0, jump_weight: float = 1.0,
                     dtype: DTypeLike = np.float64) -> sp.csr_matrix:
    """The cycle reservoir with regular jumps (CRJ) of Rodan & Tiňo (2012),
    sec. 3.

    The cycle of `ring` with weight r_c, plus bidirectional shortcuts of
    weight r_j between units 0 and l, l and 2 l, ...: floor(N / l) jumps
    of length l = ``jump``, the last one ending at unit 0 when l divides N.

    Parameters
    ----------
    units : int >= 5
    jump : int, 2 <= jump < units / 2
        The jump length l (shorter ones would duplicate cycle edges, longer
        ones the jumps themselves).
    sr : float > 0, optional
        Spectral radius to rescale to (both weights scale together).
    cycle_weight, jump_weight : float, nonzero
        r_c and r_j.
    dtype : numpy.float64 or numpy.float32

    Returns
    -------
    scipy.sparse.csr_matrix (N, N)
    """
    N = check_int(units, "units", minimum=5)
    jump = check_int(jump, "jump", minimum=2)
    if 2 * jump >= N:
        raise ValueError(f"jump must be < units / 2 = {N / 2} (a jump of {jump} would join "
                         f"units already joined by the cycle or by another jump), got {jump}")
    cycle_weight = check_real(cycle_weight, "cycle_weight")
    jump_weight = check_real(jump_weight, "jump_weight")
    if cycle_weight == 0.0 or jump_weight == 0.0:
        raise ValueError("cycle_weight and jump_weight must be nonzero")
    dtype = check_dtype(dtype)
    source = np.arange(N)
    a, b = _jump_pairs(N, jump)
    rows = np.concatenate([(source + 1) % N, a, b])
    cols = np.concatenate([source, b, a])
    values = np.concatenate([np.full(N, cycle_weight), np.full(2 * a.size, jump_weight)])
    W = _csr(rows, cols, values, N, dtype)
    return _finish(W, sr, "cycle_with_jumps", dtype)


def _pi_digits(count):
    """The first ``count`` decimal digits of pi after the decimal point,
    exactly, by Machin's formula pi = 16 arctan(1/5) - 4 arctan(1/239) in
    integer arithmetic (ten guard digits absorb the truncations)."""
    scale = 10 ** (count + 10)

    def arctan_inverse(x):
        total, term, k, x2 = 0, scale // x, 1, x * x
        while term:
            total += term // k if (k // 2) % 2 == 0 else -(term // k)
            term //= x2
            k += 2
        return total

    pi_scaled = 16 * arctan_inverse(5) - 4 * arctan_inverse(239)
    digits = str(pi_scaled // 10 ** 10)
    return np.frombuffer(digits[1:count + 1].encode(), dtype=np.uint8) - ord("0")


def cycle_input_weights(units: int, input_dim: int, *, input_scaling: float = 1.0,
                        signs: str = "pi", seed: SeedLike = None,
                        dtype: DTypeLike = np.float64) -> np.ndarray:
    """Input weights of one absolute value with deterministic or seeded
    signs, the input matrix of the cycle reservoirs of Rodan & Tiňo (2011),
    sec. III, and (2012).

    Every entry is +v or -v. With ``signs="pi"`` the sign of the n-th entry
    (row-major, n = i * D + d) is - when the n-th decimal digit of pi after
    the point is 0..4 and + when it is 5..9: the deterministic aperiodic
    pattern of Rodan & Tiňo (2011); ``signs="random"`` draws them by a fair
    coin from ``seed``.

    Parameters
    ----------
    units : int >= 1
    input_dim : int >= 1
    input_scaling : float > 0
        The absolute value v.
    signs : {"pi", "random"}
    seed : None, int or numpy.random.Generator
        Used with ``signs="random"`` only.
    dtype : numpy.float64 or numpy.float32

    Returns
    -------
    ndarray (N, D)
    """
    N = check_int(units, "units", minimum=1)
    D = check_int(input_dim, "input_dim", minimum=1)
    value = check_real(input_scaling, "input_scaling", low=0.0, low_open=True)
    dtype = check_dtype(dtype)
    if signs == "pi":
        positive = _pi_digits(N * D) >= 5
    elif signs == "random":
        positive = check_random_state(seed).random(N * D) < 0.5
    else:
        raise ValueError(f"signs must be 'pi' or 'random', got {signs!r}")
    return np.where(positive, value, -value).reshape(N, D).astype(dtype)


_DISTRIBUTIONS = ("normal", "uniform", "bernoulli")


def _draw_weights(rng, size, distribution):
    if distribution == "normal":
        return rng.standard_normal(size)
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, size)
    return np.where(rng.random(size) < 0.5, -1.0, 1.0)


def small_world(units: int, *, nb_close_neighbours: int = 2, proba_rewire: float = 0.1,
                sr: Optional[float] = None, distribution: str = "normal", seed: SeedLike = None,
                dtype: DTypeLike = np.float64) -> sp.csr_matrix:
    """A small-world reservoir: the rewired ring lattice of Watts & Strogatz
    (1998).

    Every unit starts joined to its k/2 nearest neighbours on each side of a
    ring (k = ``nb_close_neighbours``). Then, lap by lap (distance 1, then
    2, ... k/2) and unit by unit, each lattice edge {i, i + d} is rewired
    with probability p to {i, j}, j drawn uniformly from the units that are
    neither i nor already joined to i (Watts & Strogatz 1998, Fig. 1). Each
    undirected edge {i, j} carries two independent weights, W[i, j] and
    W[j, i], drawn from ``distribution`` (ReservoirPy's ``small_world``).

    Parameters
    ----------
    units : int > k
    nb_close_neighbours : even int >= 2
    proba_rewire : float in [0, 1]
    sr : float > 0, optional
        Spectral radius to rescale to.
    distribution : {"normal", "uniform", "bernoulli"}
        Standard normal, uniform on [-1, 1], or +-1 with equal odds.
    seed : None, int or numpy.random.Generator
    dtype : numpy.float64 or numpy.float32

    Returns
    -------
    scipy.sparse.csr_matrix (N, N), N k nonzeros with a symmetric pattern
    """
    N = check_int(units, "units", minimum=3)
    k = check_int(nb_close_neighbours, "nb_close_neighbours", minimum=2)
    if k % 2:
        raise ValueError(f"nb_close_neighbours must be even (k/2 neighbours on each side), "
                         f"got {k}")
    if k >= N:
        raise ValueError(f"nb_close_neighbours must be < units ({N}), got {k}")
    p = check_real(proba_rewire, "proba_rewire", low=0.0, high=1.0)
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {_DISTRIBUTIONS}, got {distribution!r}")
    dtype = check_dtype(dtype)
    rng = check_random_state(seed)
    neighbours = [set() for _ in range(N)]
    edges = []
    for d in range(1, k // 2 + 1):
        for i in range(N):
            j = (i + d) % N
            neighbours[i].add(j)
            neighbours[j].add(i)
            edges.append([i, j])
    rewire = rng.random(len(edges)) < p
    for e in np.flatnonzero(rewire):
        i, j = edges[e]
        free = np.setdiff1d(np.arange(N), list(neighbours[i]) + [i], assume_unique=False)
        if free.size == 0:
            continue
        new = int(free[rng.integers(free.size)])
        neighbours[i].discard(j)
        neighbours[j].discard(i)
        neighbours[i].add(new)
        neighbours[new].add(i)
        edges[e][1] = new
    ends = np.array(edges, dtype=np.int64).reshape(-1, 2)
    rows = np.concatenate([ends[:, 0], ends[:, 1]])
    cols = np.concatenate([ends[:, 1], ends[:, 0]])
    W = _csr(rows, cols, _draw_weights(rng, rows.size, distribution), N, dtype)
    return _finish(W, sr, "small_world", dtype)


def orthogonal(units: int, *, sr: Optional[float] = None, seed: SeedLike = None,
               dtype: DTypeLike = np.float64) -> np.ndarray:
    """A random orthogonal matrix from the Haar distribution on O(N).

    Q of the QR factorisation of an N x N standard Gaussian matrix G, its
    columns multiplied by the signs of R's diagonal so that R has a positive
    diagonal: without this sign correction the QR convention of LAPACK biases
    Q away from Haar measure (Mezzadri 2007, sec. 5). All eigenvalues of an
    orthogonal matrix have modulus 1; with ``sr`` the result is sr times
    such a matrix, so W W^T = sr^2 I.

    Parameters
    ----------
    units : int >= 1
    sr : float > 0, optional
        Spectral radius to rescale to.
    seed : None, int or numpy.random.Generator
    dtype : numpy.float64 or numpy.float32

    Returns
    -------
    ndarray (N, N), dense
    """
    N = check_int(units, "units", minimum=1)
    dtype = check_dtype(dtype)
    gaussian = check_random_state(seed).standard_normal((N, N))
    q, r = np.linalg.qr(gaussian)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    return _finish(q, sr, "orthogonal", dtype, measure=_dense_radius)


def _random_sparse_square(units, connectivity, sr, seed, dtype, values, name):
    N = check_int(units, "units", minimum=1)
    density = check_real(connectivity, "connectivity", low=0.0, high=1.0, low_open=True)
    dtype = check_dtype(dtype)
    W = _random_sparse(check_random_state(seed), N, N, density, values)
    W.sort_indices()
    return _finish(W, sr, name, dtype)


def uniform(units: int, *, low: float = -1.0, high: float = 1.0, connectivity: float = 1.0,
            sr: Optional[float] = None, seed: SeedLike = None,
            dtype: DTypeLike = np.float64) -> sp.csr_matrix:
    """A random sparse matrix with uniform weights on [low, high)
    (ReservoirPy's ``uniform``).

    round(connectivity N^2) nonzeros (at least one) at distinct positions
    drawn uniformly, as `fastrnn.Reservoir` places its own.

    Parameters
    ----------
    units : int >= 1
    low, high : float, low < high
    connectivity : float in (0, 1]
        Fraction of nonzero entries.
    sr : float > 0, optional
        Spectral radius to rescale to.
    seed : None, int or numpy.random.Generator
    dtype : numpy.float64 or numpy.float32

    Returns
    -------
    scipy.sparse.csr_matrix (N, N)
    """
    low, high = check_real(low, "low"), check_real(high, "high")
    if not low < high:
        raise ValueError(f"low must be < high, got low={low}, high={high}")
    return _random_sparse_square(units, connectivity, sr, seed, dtype,
                                 lambda rng, size: rng.uniform(low, high, size), "uniform")


def normal(units: int, *, loc: float = 0.0, scale: float = 1.0, connectivity: float = 1.0,
           sr: Optional[float] = None, seed: SeedLike = None,
           dtype: DTypeLike = np.float64) -> sp.csr_matrix:
    """A random sparse matrix with Gaussian weights N(loc, scale^2)
    (ReservoirPy's ``normal``); nonzeros placed as in `uniform`.

    Parameters
    ----------
    units : int >= 1
    loc : float
    scale : float > 0
    connectivity : float in (0, 1]
    sr : float > 0, optional
    seed : None, int or numpy.random.Generator
    dtype : numpy.float64 or numpy.float32

    Returns
    -------
    scipy.sparse.csr_matrix (N, N)
    """
    loc = check_real(loc, "loc")
    scale = check_real(scale, "scale", low=0.0, low_open=True)
    return _random_sparse_square(units, connectivity, sr, seed, dtype,
                                 lambda rng, size: loc + scale * rng.standard_normal(size),
                                 "normal")


def by_name(name: str, units: int, *, sr: float, connectivity: float, seed: SeedLike = None,
            dtype: DTypeLike = np.float64):
    """The generator ``name`` with the hyperparameters of a `Reservoir`:
    what ``Reservoir(units, W=name)`` uses.

    ``"ring"``, ``"orthogonal"``, ``"small_world"`` (defaults of
    `small_world`), ``"uniform"`` and ``"normal"`` (with ``connectivity``),
    each rescaled to ``sr``. `cycle_with_jumps` needs its jump length: call
    it and pass the matrix.
    """
    if name == "ring":
        return ring(units, sr=sr, dtype=dtype)
    if name == "orthogonal":
        return orthogonal(units, sr=sr, seed=seed, dtype=dtype)
    if name == "small_world":
        return small_world(units, sr=sr, seed=seed, dtype=dtype)
    if name in ("uniform", "normal"):
        generator = uniform if name == "uniform" else normal
        return generator(units, connectivity=connectivity, sr=sr, seed=seed, dtype=dtype)
    raise ValueError(f"W must be a matrix or one of 'ring', 'orthogonal', 'small_world', "
                     f"'uniform', 'normal', got {name!r}")
