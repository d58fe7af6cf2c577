"""The data sets under ReservoirPy's names: the maps against plain loops and
stored ReservoirPy series, the ODEs against SciPy's solve_ivp at tight
tolerance and against their integrators' order, Kuramoto-Sivashinsky
against its linear solution, its equation, a finer step and its conserved
mean; to_forecasting's alignment."""
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from fastrnn import datasets

FIXTURE = Path(__file__).parent.parent / "fixtures" / "reservoirpy_datasets" / \
    "reservoirpy_datasets.npz"


@pytest.fixture(scope="module")
def rpy():
    with np.load(FIXTURE) as f:
        return dict(f)


# ---- maps ----

def henon_loop(n, a, b, x, y):
    out = []
    for _ in range(n):
        out.append((x, y))
        x, y = 1 - a * x ** 2 + y, b * x
    return np.array(out)


def test_henon_map_is_the_recursion_and_reservoirpys_series(rpy):
    np.testing.assert_array_equal(datasets.henon_map(500), henon_loop(500, 1.4, 0.3, 0.0, 0.0))
    np.testing.assert_array_equal(datasets.henon_map(600), rpy["henon_default"])
    np.testing.assert_array_equal(datasets.henon_map(200, a=1.2, b=0.25, x0=[0.1, -0.2]),
                                  rpy["henon_custom"])
    assert datasets.henon_map(0).shape == (0, 2)
    np.testing.assert_array_equal(datasets.henon_map(1, x0=[0.3, 0.4]), [[0.3, 0.4]])


def test_logistic_map_is_the_recursion_and_reservoirpys_series(rpy):
    x, expected = 0.5, []
    for _ in range(300):
        expected.append(x)
        x = 3.9 * x * (1 - x)
    np.testing.assert_array_equal(datasets.logistic_map(300)[:, 0], expected)
    np.testing.assert_array_equal(datasets.logistic_map(600), rpy["logistic_default"])
    np.testing.assert_array_equal(datasets.logistic_map(200, r=3.7, x0=0.2),
                                  rpy["logistic_custom"])


def test_maps_refuse_bad_arguments():
    with pytest.raises(ValueError, match="x0"):
        datasets.logistic_map(10, x0=1.0)
    with pytest.raises(ValueError, match="r must be"):
        datasets.logistic_map(10, r=0.0)
    with pytest.raises(ValueError, match="float64 range"):
        datasets.logistic_map(2000, r=4.5, x0=0.5)
    with pytest.raises(ValueError, match="x0 must have shape"):
        datasets.henon_map(10, x0=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="float64 range"):
        datasets.henon_map(100, a=5.0, x0=[3.0, 3.0])
    with pytest.raises(TypeError, match="n_timesteps"):
        datasets.henon_map(10.0)
    with pytest.raises(ValueError, match="n_timesteps"):
        datasets.logistic_map(-1)


# ---- multiple superimposed oscillators ----

def test_mso_is_the_sum_of_sines_and_reservoirpys_series(rpy):
    t = np.arange(100)
    raw = np.sin(0.1 * t) + np.sin(0.37 * t) + np.sin(1.3 * t)
    got = datasets.mso(100, [0.1, 0.37, 1.3], normalize=False)
    assert got.shape == (100, 1)
    np.testing.assert_allclose(got[:, 0], raw, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(got, rpy["mso_raw"])
    scaled = datasets.mso(100, [0.1, 0.37, 1.3])
    assert scaled.min() == pytest.approx(-1.0, abs=1e-15)
    assert scaled.max() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(scaled[:, 0], 2 * (raw - raw.min()) / np.ptp(raw) - 1, atol=1e-14)
    np.testing.assert_array_equal(datasets.mso2(300), rpy["mso2"])
    np.testing.assert_array_equal(datasets.mso8(300), rpy["mso8"])
    with pytest.raises(ValueError, match="freqs"):
        datasets.mso(10, [])
    with pytest.raises(ValueError, match="constant"):
        datasets.mso(1, [0.2])
    with pytest.raises(TypeError, match="normalize"):
        datasets.mso(10, [0.2], normalize=1)


# ---- ODEs: accuracy against solve_ivp and the order of RK4 ----

def rossler_rate(t, s, a=0.2, b=0.2, c=5.7):
    x, y, z = s
    return [-y - z, x + a * y, b + z * (x - c)]


def lorenz96_rate(t, x, F=8.0):
    return (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + F


def tight(rate, x0, times):
    return solve_ivp(rate, (0.0, times[-1]), x0, t_eval=times, method="DOP853",
                     rtol=1e-12, atol=1e-12).y.T


def test_rossler_matches_a_tight_solve_ivp_and_is_fourth_order():
    got = datasets.rossler(200)          # t = 0 .. 19.9 at h = 0.1
    assert got.shape == (200, 3)
    np.testing.assert_array_equal(got[0], [-0.1, 0.0, 0.02])
    ref = tight(rossler_rate, [-0.1, 0.0, 0.02], 0.1 * np.arange(200))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7)
    # halving the step divides the error by about 2**4
    short = ref[:50]
    e1 = np.abs(datasets.rossler(50, substeps=2) - short).max()
    e2 = np.abs(datasets.rossler(50, substeps=4) - short).max()
    assert 12 < e1 / e2 < 20
    other = datasets.rossler(60, a=0.1, b=0.1, c=14, x0=[1, 1, 1], h=0.05)
    ref = tight(lambda t, s: rossler_rate(t, s, 0.1, 0.1, 14), [1, 1, 1], 0.05 * np.arange(60))
    np.testing.assert_allclose(other, ref, rtol=0, atol=1e-7)


def test_lorenz96_matches_a_tight_solve_ivp_and_is_fourth_order():
    got = datasets.lorenz96(300)         # t = 0 .. 2.99 at h = 0.01
    assert got.shape == (300, 36)
    x0 = np.full(36, 8.0)
    x0[0] += 0.01
    np.testing.assert_array_equal(got[0], x0)
    # The perturbation dF grows by orders of magnitude (as do the step's
    # errors): over one time unit, the default step and half of it are
    # compared with the reference; over three, a fine step.
    ref = tight(lorenz96_rate, x0, 0.01 * np.arange(300))
    e1 = np.abs(got[:100] - ref[:100]).max()
    e2 = np.abs(datasets.lorenz96(100, substeps=2) - ref[:100]).max()
    assert e1 < 1e-3 and 12 < e1 / e2 < 20
    np.testing.assert_allclose(datasets.lorenz96(300, substeps=8), ref, rtol=0, atol=1e-4)
    start = np.random.default_rng(0).normal(size=6)
    ref = tight(lambda t, x: lorenz96_rate(t, x, 5.0), start, 0.2 * np.arange(20))
    e1 = np.abs(datasets.lorenz96(20, N=6, F=5.0, h=0.2, x0=start) - ref).max()
    e2 = np.abs(datasets.lorenz96(20, N=6, F=5.0, h=0.2, x0=start, substeps=2) - ref).max()
    assert 12 < e1 / e2 < 20
    # warmup drops leading rows of the same series
    np.testing.assert_array_equal(datasets.lorenz96(300, warmup=100), got[100:])
    assert datasets.lorenz96(5, warmup=5).shape == (0, 36)


# ---- Kuramoto-Sivashinsky ----

def ks_rate(u, M):
    """-u u_x - u_xx - u_xxxx by full complex FFTs (the Nyquist mode's odd
    derivative dropped, as a real field needs)."""
    N = u.shape[-1]
    k = np.fft.fftfreq(N, 1.0 / N) / M
    k_odd = k.copy()
    k_odd[N // 2] = 0.0
    U = np.fft.fft(u)
    ux = np.real(np.fft.ifft(1j * k_odd * U))
    lin = np.real(np.fft.ifft((k**2 - k**4) * U))
    return -u * ux + lin


def test_kuramoto_sivashinsky_default_initial_condition_and_reservoirpy(rpy):
    got = datasets.kuramoto_sivashinsky(30)
    assert got.shape == (30, 128)
    x = 32 * np.pi * np.arange(1, 129) / 128
    np.testing.assert_allclose(got[0], np.cos(x / 16) * (1 + np.sin(x / 16)), atol=1e-15)
    np.testing.assert_allclose(got, rpy["kuramoto_sivashinsky_default"], rtol=0, atol=1e-11)


def test_kuramoto_sivashinsky_solves_its_equation():
    h = 0.005
    u = datasets.kuramoto_sivashinsky(401, h=h)[200:]
    dudt = (u[2:] - u[:-2]) / (2 * h)
    rate = ks_rate(u[1:-1], 16.0)
    np.testing.assert_allclose(dudt, rate, rtol=0, atol=1e-4 * np.abs(rate).max())


def test_kuramoto_sivashinsky_small_waves_follow_the_linear_solution():
    # For a tiny amplitude the nonlinear term is negligible: each Fourier
    # mode grows as exp((k^2 - k^4) t); with M = 4, cos(3x/M) has k = 3/4.
    N, M, h, n = 32, 4.0, 0.1, 50
    x = 2 * np.pi * M * np.arange(1, N + 1) / N
    u = datasets.kuramoto_sivashinsky(n, N=N, M=M, h=h, x0=1e-9 * np.cos(3 * x / M))
    k = 0.75
    expected = 1e-9 * np.exp((k**2 - k**4) * h * np.arange(n))[:, None] * np.cos(3 * x / M)
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-9 * 1e-6)


def test_kuramoto_sivashinsky_converges_at_fourth_order_and_conserves_the_mean():
    # A smooth start (ETDRK4 keeps its fourth order on smooth data; rough
    # data reduce it) with a nonzero mean, so that conserving it says
    # something.
    x = 32 * np.pi * np.arange(1, 129) / 128
    x0 = np.cos(x / 16) * (1 + np.sin(x / 16)) + 0.3
    T = 5.0
    rows = [datasets.kuramoto_sivashinsky(int(round(T / h)) + 1, h=h, x0=x0)[-1]
            for h in (0.25, 0.125, 0.015625)]
    e1 = np.abs(rows[0] - rows[2]).max()
    e2 = np.abs(rows[1] - rows[2]).max()
    assert e1 < 1e-5
    assert 11 < e1 / e2 < 20
    N, M = 64, 8.0
    x0 = np.random.default_rng(3).normal(size=N) * 0.5 + 0.2
    series = datasets.kuramoto_sivashinsky(400, N=N, M=M, x0=x0)
    np.testing.assert_allclose(series.mean(axis=1), x0.mean(), rtol=0, atol=1e-13)
    np.testing.assert_array_equal(datasets.kuramoto_sivashinsky(400, warmup=150, N=N, M=M,
                                                                x0=x0), series[150:])


BAD_ARGUMENTS = [
    (datasets.lorenz96, dict(n_timesteps=10, N=3), ValueError, "N must be >= 4"),
    (datasets.lorenz96, dict(n_timesteps=10, warmup=11), ValueError, "warmup"),
    (datasets.lorenz96, dict(n_timesteps=10, N=8, x0=np.zeros(36)), ValueError,
     r"x0 must have shape \(8\)"),
    (datasets.rossler, dict(n_timesteps=10, h=0.0), ValueError, "h must be"),
    (datasets.rossler, dict(n_timesteps=10, substeps=0), ValueError, "substeps"),
    (datasets.rossler, dict(n_timesteps=10, x0=[1.0, np.nan, 0.0]), ValueError, "x0"),
    (datasets.rossler, dict(n_timesteps=100, h=10.0, substeps=1), ValueError, "float64 range"),
    (datasets.kuramoto_sivashinsky, dict(n_timesteps=10, N=33), ValueError, "N must be even"),
    (datasets.kuramoto_sivashinsky, dict(n_timesteps=10, N=64, x0=np.zeros(128)), ValueError,
     r"x0 must have shape \(64\)"),
    (datasets.kuramoto_sivashinsky, dict(n_timesteps=10, M=0), ValueError, "M must be"),
    (datasets.kuramoto_sivashinsky, dict(n_timesteps=10, warmup=20), ValueError, "warmup"),
    (datasets.kuramoto_sivashinsky, dict(n_timesteps=2.5), TypeError, "n_timesteps"),
]


@pytest.mark.parametrize("generator, kwargs, error, match", BAD_ARGUMENTS)
def test_odes_refuse_bad_arguments(generator, kwargs, error, match):
    with pytest.raises(error, match=match):
        generator(**kwargs)


# ---- to_forecasting ----

def test_to_forecasting_pairs_each_step_with_the_one_forecast_ahead():
    series = np.arange(40.0).reshape(20, 2)
    X, y = datasets.to_forecasting(series, forecast=3)
    assert X.shape == y.shape == (17, 2)
    np.testing.assert_array_equal(y, X + 6)          # 3 steps of 2 apart
    assert np.shares_memory(X, series) and np.shares_memory(y, series)
    X_tr, X_te, y_tr, y_te = datasets.to_forecasting(series, forecast=3, test_size=5)
    assert X_tr.shape == (12, 2) and X_te.shape == (5, 2)
    np.testing.assert_array_equal(np.concatenate([X_tr, X_te]), X)
    np.testing.assert_array_equal(np.concatenate([y_tr, y_te]), y)
    # a float is a fraction of n_timesteps, rounded (ReservoirPy's rule)
    parts = datasets.to_forecasting(series, forecast=3, test_size=0.25)
    assert parts[1].shape == (5, 2)
    assert datasets.to_forecasting(series, test_size=0)[1].shape == (0, 2)
    batch = np.stack([series, -series])
    Xb, yb = datasets.to_forecasting(batch, forecast=2)
    assert Xb.shape == (2, 18, 2)
    np.testing.assert_array_equal(yb[1], -series[2:])
    Xl, yl = datasets.to_forecasting([series, series[:10]], forecast=1)
    assert isinstance(Xl, list) and [a.shape for a in Xl] == [(19, 2), (9, 2)]
    np.testing.assert_array_equal(yl[1], series[1:10])


def test_to_forecasting_refuses_bad_arguments():
    series = np.zeros((10, 1))
    with pytest.raises(ValueError, match="forecast must be less"):
        datasets.to_forecasting(series, forecast=10)
    with pytest.raises(ValueError, match="forecast must be >= 1"):
        datasets.to_forecasting(series, forecast=0)
    with pytest.raises(ValueError, match="test_size leaves no training"):
        datasets.to_forecasting(series, test_size=9)
    with pytest.raises(ValueError, match="test_size"):
        datasets.to_forecasting(series, test_size=1.0)
    with pytest.raises(TypeError, match="test_size"):
        datasets.to_forecasting(series, test_size="3")
    with pytest.raises(ValueError, match="n_timesteps, n_features"):
        datasets.to_forecasting(np.zeros(10))
    with pytest.raises(TypeError, match="real numbers"):
        datasets.to_forecasting(np.array([["a"], ["b"]]))
