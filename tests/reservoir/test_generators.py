"""fastrnn.generators against independent NumPy constructions of the same
matrices (Rodan & Tiňo 2011, 2012; Watts & Strogatz 1998; Mezzadri 2007)."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastrnn
from fastrnn import Reservoir, generators as gen
from fastrnn.reservoir import spectral_radius


def _eig_radius(W):
    dense = W.toarray() if sp.issparse(W) else W
    return np.max(np.abs(np.linalg.eigvals(dense)))


def _pattern(W):
    return (W.toarray() if sp.issparse(W) else W) != 0


# ------------------------------------------------------------------ ring
@pytest.mark.parametrize("N", [2, 3, 17, 300])
def test_ring_is_the_cycle_of_rodan_tino(N):
    W = gen.ring(N, sr=0.7)
    assert sp.isspmatrix_csr(W) and W.shape == (N, N) and W.nnz == N
    cycle = np.zeros((N, N), dtype=bool)
    for i in range(N):
        cycle[(i + 1) % N, i] = True          # unit i feeds unit i + 1
    assert np.array_equal(_pattern(W), cycle)
    assert np.unique(W.data).size == 1        # one weight r
    assert abs(W.data[0] - 0.7) <= 1e-12
    assert abs(spectral_radius(W, v0=np.ones(N)) - 0.7) <= 1e-12
    assert abs(_eig_radius(W) - 0.7) <= 1e-12


def test_ring_weight_without_sr_is_kept_exactly():
    W = gen.ring(6, weight=-0.3)
    assert np.all(W.data == -0.3)
    assert abs(_eig_radius(W) - 0.3) <= 1e-12


# ----------------------------------------------------------- with jumps
def _crj_reference(N, jump, rc, rj):
    A = np.zeros((N, N))
    for i in range(N):
        A[(i + 1) % N, i] = rc
    k = 0
    while (k + 1) * jump <= N:                # floor(N / jump) jumps from unit 0
        a, b = k * jump, ((k + 1) * jump) % N
        A[a, b] = A[b, a] = rj
        k += 1
    return A


@pytest.mark.parametrize("N,jump,last", [(12, 3, (9, 0)), (13, 3, (9, 12)), (20, 7, (7, 14)),
                                         (9, 4, (4, 8))])
def test_cycle_with_jumps_puts_the_jumps_at_the_right_places(N, jump, last):
    W = gen.cycle_with_jumps(N, jump, cycle_weight=0.5, jump_weight=0.2)
    assert np.array_equal(W.toarray(), _crj_reference(N, jump, 0.5, 0.2))
    dense = W.toarray()
    # the last jump: back to unit 0 when jump divides N, else short of it
    assert dense[last[0], last[1]] == dense[last[1], last[0]] == 0.2
    assert W.nnz == N + 2 * (N // jump)


@pytest.mark.parametrize("sr", [0.1, 0.95, 1.3])
def test_cycle_with_jumps_rescaled(sr):
    W = gen.cycle_with_jumps(50, 4, cycle_weight=0.8, jump_weight=-0.3, sr=sr)
    ref = _crj_reference(50, 4, 0.8, -0.3)
    scale = W.toarray()[1, 0] / 0.8
    assert np.allclose(W.toarray(), ref * scale, rtol=1e-15, atol=0)
    assert abs(spectral_radius(W) - sr) <= 1e-12 * sr
    assert abs(_eig_radius(W) - sr) <= 1e-12 * sr


def test_cycle_input_weights_follow_the_digits_of_pi():
    digits = "14159265358979323846"
    Win = gen.cycle_input_weights(10, 2, input_scaling=0.25)
    expected = np.array([0.25 if int(d) >= 5 else -0.25 for d in digits]).reshape(10, 2)
    assert np.array_equal(Win, expected)
    assert np.array_equal(gen.cycle_input_weights(10, 2, input_scaling=0.25), Win)


def test_pi_digits_are_exact_far_out():
    # the Feynman point (six 9s from digit 762) and digits 991..1000
    d = gen._pi_digits(1000)
    assert "".join(map(str, d[761:767])) == "999999"
    assert "".join(map(str, d[-10:])) == "2164201989"
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(1020):
        reference = mpmath.nstr(mpmath.pi, 1015, strip_zeros=False)[2:1002]
    assert "".join(map(str, d)) == reference[:1000]


def test_cycle_input_weights_random_signs_are_seeded():
    a = gen.cycle_input_weights(200, 3, input_scaling=0.5, signs="random", seed=4)
    b = gen.cycle_input_weights(200, 3, input_scaling=0.5, signs="random", seed=4)
    c = gen.cycle_input_weights(200, 3, input_scaling=0.5, signs="random", seed=5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(np.abs(a) == 0.5)
    assert 200 < (a > 0).sum() < 400


# ---------------------------------------------------------- small world
def _lattice(N, k):
    A = np.zeros((N, N), dtype=bool)
    for i in range(N):
        for d in range(1, k // 2 + 1):
            A[i, (i + d) % N] = A[(i + d) % N, i] = True
    return A


@pytest.mark.parametrize("N,k", [(10, 2), (30, 4), (31, 6)])
def test_small_world_without_rewiring_is_the_ring_lattice(N, k):
    W = gen.small_world(N, nb_close_neighbours=k, proba_rewire=0.0, seed=1)
    assert np.array_equal(_pattern(W), _lattice(N, k))


def test_small_world_rewires_a_binomial_share_of_edges():
    N, k, p = 400, 4, 0.2
    W = gen.small_world(N, nb_close_neighbours=k, proba_rewire=p, seed=3, sr=0.9)
    A = _pattern(W)
    edges = N * k // 2
    assert np.array_equal(A, A.T) and not A.diagonal().any()
    assert A.sum() == 2 * edges
    moved = (A & ~_lattice(N, k)).sum() // 2
    sd = np.sqrt(edges * p * (1 - p))
    assert abs(moved - edges * p) < 5 * sd
    assert abs(spectral_radius(W) - 0.9) <= 1e-12


def test_small_world_is_reproducible_per_seed():
    a = gen.small_world(60, proba_rewire=0.3, seed=7, distribution="uniform")
    b = gen.small_world(60, proba_rewire=0.3, seed=7, distribution="uniform")
    c = gen.small_world(60, proba_rewire=0.3, seed=8, distribution="uniform")
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    assert np.all(np.abs(a.data) <= 1)
    bern = gen.small_world(60, seed=7, distribution="bernoulli")
    assert set(np.unique(bern.data)) <= {-1.0, 1.0}


# ----------------------------------------------------------- orthogonal
@pytest.mark.parametrize("N,sr", [(1, 0.5), (8, 1.0), (120, 0.9), (300, 1.2)])
def test_orthogonal_is_orthogonal_times_sr(N, sr):
    W = gen.orthogonal(N, sr=sr, seed=2)
    assert isinstance(W, np.ndarray) and W.shape == (N, N)
    assert np.allclose(W @ W.T, sr ** 2 * np.eye(N), rtol=0, atol=1e-12 * sr ** 2 * 10)
    assert abs(_eig_radius(W) - sr) <= 1e-12 * sr
    if N <= 256:
        assert abs(spectral_radius(W) - sr) <= 1e-12 * sr


def test_orthogonal_is_the_sign_corrected_q_of_a_gaussian():
    # Q^T G = R must have a positive diagonal (Mezzadri 2007): the sign fix.
    N = 40
    G = np.random.default_rng(11).standard_normal((N, N))
    Q = gen.orthogonal(N, seed=11)
    R = Q.T @ G
    assert np.allclose(np.tril(R, -1), 0, atol=1e-12)
    assert np.all(np.diag(R) > 0)


def test_orthogonal_is_reproducible_and_float32():
    assert np.array_equal(gen.orthogonal(20, seed=3), gen.orthogonal(20, seed=3))
    assert not np.array_equal(gen.orthogonal(20, seed=3), gen.orthogonal(20, seed=4))
    W = gen.orthogonal(20, sr=0.8, seed=3, dtype=np.float32)
    assert W.dtype == np.float32
    assert np.allclose(W @ W.T, 0.64 * np.eye(20), atol=1e-5)


# ---------------------------------------------------- uniform and normal
@pytest.mark.parametrize("N,c", [(50, 0.1), (400, 0.02), (30, 1.0)])
def test_uniform_connectivity_and_range(N, c):
    W = gen.uniform(N, low=-0.5, high=2.0, connectivity=c, seed=5)
    assert sp.isspmatrix_csr(W) and W.has_sorted_indices
    assert W.nnz == max(1, round(c * N * N))
    assert W.data.min() >= -0.5 and W.data.max() < 2.0
    # positions uniform: each row's count is hypergeometric, below binomial
    # spread; no row far off c N
    rows = np.diff(W.indptr)
    sd = np.sqrt(N * c * (1 - c)) + 1e-9
    assert np.all(np.abs(rows - N * c) <= 5.5 * sd + 1)
    assert abs(W.data.mean() - 0.75) < 4 * 2.5 / np.sqrt(12 * W.nnz)


def test_normal_moments_and_sr():
    W = gen.normal(300, loc=0.5, scale=2.0, connectivity=0.1, seed=6)
    n = W.nnz
    assert abs(W.data.mean() - 0.5) < 5 * 2.0 / np.sqrt(n)
    assert abs(W.data.std() - 2.0) < 5 * 2.0 / np.sqrt(2 * n)
    scaled = gen.normal(300, loc=0.5, scale=2.0, connectivity=0.1, seed=6, sr=0.95)
    assert abs(spectral_radius(scaled) - 0.95) <= 1e-12
    assert abs(_eig_radius(scaled) - 0.95) <= 1e-12
    # the same draw, rescaled by one factor
    ratio = scaled.data / W.data
    assert np.allclose(ratio, ratio[0], rtol=1e-15)


def test_uniform_normal_reproducible_per_seed():
    for make in (gen.uniform, gen.normal):
        a, b, c = (make(100, connectivity=0.05, seed=s) for s in (1, 1, 2))
        assert (a != b).nnz == 0 and (a != c).nnz > 0
        assert make(100, connectivity=0.05, seed=1, dtype=np.float32).dtype == np.float32


# -------------------------------------------------------- the Reservoir
@pytest.mark.parametrize("name", ["ring", "orthogonal", "small_world", "uniform", "normal"])
def test_reservoir_draws_a_named_matrix(name):
    res = Reservoir(60, W=name, sr=0.8, rc_connectivity=0.1, seed=9)
    assert abs(res.sr_measured - 0.8) <= 1e-12
    expected = gen.by_name(name, 60, sr=0.8, connectivity=0.1, seed=9)
    got = res.W.toarray() if sp.issparse(res.W) else res.W
    assert np.array_equal(got, expected.toarray() if sp.issparse(expected) else expected)
    states = res.run(np.ones((5, 2)))
    assert states.shape == (5, 60) and np.all(np.isfinite(states))


def test_reservoir_takes_a_generated_matrix_and_cycle_inputs(tmp_path):
    W = gen.cycle_with_jumps(40, 5, sr=0.9)
    Win = gen.cycle_input_weights(40, 1, input_scaling=0.3)
    res = Reservoir(40, W=W, Win=Win, lr=0.5)
    u = np.sin(np.arange(30.0))[:, None]
    states = res.run(u)
    x, ref = np.zeros(40), []
    Wd = W.toarray()
    for t in range(30):
        x = 0.5 * x + 0.5 * np.tanh(Wd @ x + Win @ u[t])
        ref.append(x)
    assert np.allclose(states, ref, rtol=1e-12, atol=1e-14)
    fastrnn.save(res, tmp_path / "res.npz")
    assert (fastrnn.load(tmp_path / "res.npz").W != res.W).nnz == 0


# ----------------------------------------------------------- bad input
@pytest.mark.parametrize("call,match", [
    (lambda: gen.ring(1), "units"),
    (lambda: gen.ring(5, weight=0), "weight"),
    (lambda: gen.ring(5, sr=0), "sr"),
    (lambda: gen.ring(5, sr=-1), "sr"),
    (lambda: gen.cycle_with_jumps(10, 1), "jump"),
    (lambda: gen.cycle_with_jumps(10, 5), "jump"),
    (lambda: gen.cycle_with_jumps(4, 2), "units"),
    (lambda: gen.cycle_with_jumps(10, 2, jump_weight=0), "weight"),
    (lambda: gen.cycle_input_weights(5, 0), "input_dim"),
    (lambda: gen.cycle_input_weights(5, 1, input_scaling=0), "input_scaling"),
    (lambda: gen.cycle_input_weights(5, 1, signs="e"), "signs"),
    (lambda: gen.small_world(10, nb_close_neighbours=3), "even"),
    (lambda: gen.small_world(4, nb_close_neighbours=4), "nb_close_neighbours"),
    (lambda: gen.small_world(10, proba_rewire=1.5), "proba_rewire"),
    (lambda: gen.small_world(10, distribution="cauchy"), "distribution"),
    (lambda: gen.orthogonal(0), "units"),
    (lambda: gen.uniform(10, connectivity=0), "connectivity"),
    (lambda: gen.uniform(10, connectivity=1.5), "connectivity"),
    (lambda: gen.uniform(10, low=1, high=1), "low"),
    (lambda: gen.normal(10, scale=0), "scale"),
    (lambda: Reservoir(10, W="cycle"), "ring"),
])
def test_bad_arguments(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_a_nilpotent_draw_cannot_be_rescaled():
    # one off-diagonal nonzero: W^2 = 0, no factor reaches sr
    seed = next(s for s in range(100)
                if not gen.uniform(10, connectivity=0.01, seed=s).diagonal().any())
    with pytest.raises(ValueError, match="spectral radius 0"):
        gen.uniform(10, connectivity=0.01, seed=seed, sr=0.9)
