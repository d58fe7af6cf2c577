"""MAE, per-output NRMSE, valid prediction time and the effective spectral
radius of a leaky reservoir, against hand-computed cases and direct NumPy
formulas."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastrnn import metrics


Y = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
P = np.array([[2.0, 2.0], [3.0, 1.0], [5.0, 9.0]])   # |errors| [[1, 0], [0, 3], [0, 0]]


def test_mae_hand_case_and_multioutput():
    assert metrics.mae(Y, P) == pytest.approx(4 / 6)
    np.testing.assert_allclose(metrics.mae(Y, P, multioutput="raw_values"), [1 / 3, 1.0])
    assert metrics.mae(Y, P, multioutput="uniform_average") == pytest.approx(2 / 3)
    assert metrics.mae([1.0, -1.0], [0.0, 0.0]) == 1.0
    np.testing.assert_array_equal(metrics.mae([1.0, -1.0], [0.0, 0.0],
                                              multioutput="raw_values"), [1.0])


def test_nrmse_per_output_against_numpy():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((500, 3)) * [1.0, 5.0, 0.1] + [0.0, 2.0, -1.0]
    p = y + 0.05 * rng.standard_normal((500, 3))
    err = np.sqrt(np.mean((y - p) ** 2, axis=0))
    np.testing.assert_allclose(metrics.nrmse(y, p, multioutput="raw_values"), err / y.std(axis=0))
    np.testing.assert_allclose(metrics.nrmse(y, p, norm="minmax", multioutput="raw_values"),
                               err / np.ptp(y, axis=0))
    np.testing.assert_allclose(metrics.nrmse(y, p, norm="range", multioutput="raw_values"),
                               err / np.ptp(y, axis=0))
    q1, q3 = np.percentile(y, [25, 75], axis=0)
    np.testing.assert_allclose(metrics.nrmse(y, p, norm="q1q3", multioutput="raw_values"),
                               err / (q3 - q1))
    assert metrics.nrmse(y, p, multioutput="uniform_average") == pytest.approx(
        np.mean(err / y.std(axis=0)))
    # the default still pools every element (today's behaviour)
    assert metrics.nrmse(y, p) == pytest.approx(np.sqrt(np.mean((y - p) ** 2)) / y.std())
    # a batch (B, T, D): outputs are the last axis
    yb, pb = y.reshape(5, 100, 3), p.reshape(5, 100, 3)
    np.testing.assert_allclose(metrics.nrmse(yb, pb, multioutput="raw_values"),
                               err / y.std(axis=0))


def test_nrmse_per_output_hand_case_and_errors():
    # column 0: errors (1, 0, 0), std of (1, 3, 5) = sqrt(8/3)
    np.testing.assert_allclose(metrics.nrmse(Y, P, multioutput="raw_values", norm="range"),
                               [np.sqrt(1 / 3) / 4, np.sqrt(3) / 7])
    constant = np.array([[1.0, 2.0], [1.0, 3.0]])
    with pytest.raises(ValueError, match=r"outputs \[0\]"):
        metrics.nrmse(constant, constant + 1, multioutput="raw_values")
    with pytest.raises(ValueError, match="multioutput"):
        metrics.nrmse(Y, P, multioutput="variance_weighted")
    with pytest.raises(ValueError, match="multioutput"):
        metrics.mae(Y, P, multioutput=None)


def test_valid_prediction_time_hand_cases():
    y = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, 0.0]])
    # RMS norm of y is 1: the error norms are the normalised errors
    p = y + np.array([[0.1, 0.0], [0.0, 0.3], [0.5, 0.0], [0.1, 0.0], [0.0, 0.0]])
    assert metrics.valid_prediction_time(y, p) == 2.0          # step 2 is the first > 0.4
    assert metrics.valid_prediction_time(y, p, dt=0.5) == 1.0
    assert metrics.valid_prediction_time(y, p, threshold=0.6) == 5.0   # never exceeds
    assert metrics.valid_prediction_time(y, p, threshold=0.05) == 0.0
    # the threshold itself is still valid (the first step *above* it ends)
    assert metrics.valid_prediction_time(y, p, threshold=0.5) == 5.0
    # "std": per-output deviations of y_true, or the given scale
    s = y.std(axis=0)
    e = np.sqrt(np.mean(((p - y) / s) ** 2, axis=1))
    k = int(np.argmax(e > 0.2))
    assert metrics.valid_prediction_time(y, p, norm="std", threshold=0.2) == k
    got = metrics.valid_prediction_time(y, p, norm="std", threshold=0.2, scale=[0.1, 10.0])
    assert got == 0.0       # 0.1 / 0.1 / sqrt(2) > 0.2 at step 0
    assert metrics.valid_prediction_time(y[:, 0], p[:, 0], threshold=0.4) == 2.0


def test_valid_prediction_time_against_numpy_on_a_diverging_forecast():
    rng = np.random.default_rng(2)
    y = rng.standard_normal((300, 3))
    growth = 1e-4 * np.exp(0.05 * np.arange(300))[:, None]
    p = y + growth * rng.standard_normal((300, 3))
    e = np.linalg.norm(p - y, axis=1) / np.sqrt(np.mean(np.sum(y**2, axis=1)))
    k = np.flatnonzero(e > 0.4)[0]
    assert 0 < k < 300
    assert metrics.valid_prediction_time(y, p, dt=0.02) == pytest.approx(0.02 * k)


def test_valid_prediction_time_refuses_bad_arguments():
    y = np.ones((4, 2))
    with pytest.raises(ValueError, match="dt"):
        metrics.valid_prediction_time(y, y, dt=0.0)
    with pytest.raises(ValueError, match="threshold"):
        metrics.valid_prediction_time(y, y, threshold=-1.0)
    with pytest.raises(ValueError, match="norm"):
        metrics.valid_prediction_time(y, y, norm="max")
    with pytest.raises(ValueError, match="scale is used"):
        metrics.valid_prediction_time(y, y, scale=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"scale must have shape \(2\)"):
        metrics.valid_prediction_time(y, y, norm="std", scale=[1.0])
    with pytest.raises(ValueError, match="scale must be > 0"):
        metrics.valid_prediction_time(y, y, norm="std")        # constant y_true
    with pytest.raises(ValueError, match="RMS norm"):
        metrics.valid_prediction_time(np.zeros((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        metrics.valid_prediction_time(np.ones((2, 3, 4)), np.ones((2, 3, 4)))


def test_effective_spectral_radius_hand_cases():
    W = np.diag([0.5, -0.9])
    # (1 - 0.5) + 0.5 * (0.5, -0.9) = (0.75, 0.05)
    assert metrics.effective_spectral_radius(W, 0.5) == pytest.approx(0.75)
    # per unit: 0 + 1 * 0.5 = 0.5;  0.8 + 0.2 * -0.9 = 0.62
    assert metrics.effective_spectral_radius(W, [1.0, 0.2]) == pytest.approx(0.62)
    # a rotation by 90 degrees: eigenvalues (1 - lr) +- i lr
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    assert metrics.effective_spectral_radius(R, 0.3) == pytest.approx(np.hypot(0.7, 0.3))


def test_effective_spectral_radius_dense_sparse_and_per_unit_against_numpy():
    rng = np.random.default_rng(4)
    n = 300
    Ws = sp.random(n, n, density=0.05, random_state=5, format="csr",
                   data_rvs=lambda k: rng.uniform(-1, 1, k))
    Wd = Ws.toarray()
    lr = rng.uniform(0.1, 1.0, n)
    for rate in (0.3, lr):
        A = np.diag(1 - np.broadcast_to(rate, n)) + np.broadcast_to(rate, n)[:, None] * Wd
        expected = np.abs(np.linalg.eigvals(A)).max()
        assert metrics.effective_spectral_radius(Wd, rate) == pytest.approx(expected, rel=1e-8)
        assert metrics.effective_spectral_radius(Ws, rate) == pytest.approx(expected, rel=1e-8)
    from fastrnn.reservoir.reservoir import spectral_radius
    assert metrics.effective_spectral_radius(Ws) == pytest.approx(spectral_radius(Ws))


def test_effective_spectral_radius_refuses_bad_arguments():
    W = np.eye(3) * 0.5
    for bad in (0.0, 1.5, [0.5, 0.5, 0.0]):
        with pytest.raises(ValueError, match=r"lr must be in \(0, 1\]"):
            metrics.effective_spectral_radius(W, bad)
    with pytest.raises(ValueError, match="N = 3"):
        metrics.effective_spectral_radius(W, [0.5, 0.5])
    with pytest.raises(TypeError, match="lr"):
        metrics.effective_spectral_radius(W, True)
    with pytest.raises(ValueError, match="square"):
        metrics.effective_spectral_radius(np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match="square"):
        metrics.effective_spectral_radius(sp.csr_matrix(np.ones((2, 3))), 0.5)
    with pytest.raises(ValueError, match="finite"):
        metrics.effective_spectral_radius(np.full((2, 2), np.nan), 0.5)
    with pytest.raises(ValueError, match="finite"):
        metrics.effective_spectral_radius(W, np.nan)
