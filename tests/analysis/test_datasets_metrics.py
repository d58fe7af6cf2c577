"""Data sets against direct transcriptions of their equations; metrics
against their definitions; memory capacity on held-out data."""
import numpy as np
import pytest

from fastrnn import datasets, metrics
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir.readout import Ridge
from fastrnn.reservoir.reservoir import Reservoir


def test_mackey_glass_euler_matches_the_recursion():
    n, h, d, sub = 30, 0.1, 170, 10
    x = [1.2] * (d + 1)
    for k in range(d, d + n * sub):
        x.append(x[k] + h * (0.2 * x[k - d] / (1 + x[k - d] ** 10) - 0.1 * x[k]))
    expected = np.array(x[d + 1:])[sub - 1::sub]
    got = datasets.mackey_glass(n)
    assert got.shape == (n, 1)
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-14)
    # discard drops samples from the front of the same series
    np.testing.assert_allclose(datasets.mackey_glass(10, discard=20)[:, 0], expected[20:])


def test_mackey_glass_rk4_is_closer_to_the_fine_solution():
    fine = datasets.mackey_glass(300, h=0.01, subsample=100)[:, 0]
    euler = datasets.mackey_glass(300)[:, 0]
    rk4 = datasets.mackey_glass(300, method="rk4")[:, 0]
    assert np.abs(rk4 - fine).max() < np.abs(euler - fine).max()
    with pytest.raises(ValueError, match="tau"):
        datasets.mackey_glass(10, tau=17.05)
    with pytest.raises(ValueError, match="method"):
        datasets.mackey_glass(10, method="heun")


def test_narma10_follows_the_atiya_parlos_recursion():
    u, y = datasets.narma(500, seed=0, discard=0)
    u, y = u[:, 0], y[:, 0]
    assert 0 <= u.min() and u.max() <= 0.5
    # y[t] is y(t+1); check y(t+1) for t >= 10 from the formula
    yy = np.concatenate([[0.0], y])          # yy[t] = y(t)
    for t in range(10, 60):
        expect = (0.3 * yy[t] + 0.05 * yy[t] * yy[t - 9:t + 1].sum()
                  + 1.5 * u[t - 9] * u[t] + 0.1)
        assert yy[t + 1] == pytest.approx(expect, rel=1e-13)


def test_lorenz_follows_its_equations():
    h = 0.001
    xyz = datasets.lorenz(500, h=h)
    deriv = (xyz[2:] - xyz[:-2]) / (2 * h)
    x, y, z = xyz[1:-1].T
    f = np.stack([10 * (y - x), x * (28 - z) - y, x * y - 8 / 3 * z], axis=1)
    np.testing.assert_allclose(deriv, f, atol=1e-3 * np.abs(f).max())


def test_memory_task_is_delayed_input():
    u, y = datasets.memory_capacity_task(50, 7, seed=1)
    for k in range(1, 8):
        np.testing.assert_array_equal(y[k:, k - 1], u[:-k, 0])
        assert np.all(y[:k, k - 1] == 0)


def test_nrmse_rsquare_definitions():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(1000) * 3 + 5
    assert metrics.nrmse(y, np.full_like(y, y.mean())) == pytest.approx(1.0)
    p = y + 0.3 * rng.standard_normal(1000)
    e = np.sqrt(np.mean((y - p) ** 2))
    assert metrics.nrmse(y, p) == pytest.approx(e / y.std())
    assert metrics.nrmse(y, p, norm="range") == pytest.approx(e / np.ptp(y))
    assert metrics.nrmse(y, p, norm="var") == pytest.approx(e / y.var())
    assert metrics.rsquare(y, p) == pytest.approx(1 - metrics.nrmse(y, p) ** 2)
    with pytest.raises(ValueError, match="norm"):
        metrics.nrmse(y, p, norm="max")
    with pytest.raises(ValueError, match="shape"):
        metrics.nrmse(y, p[:-1])


def test_memory_capacity_definition():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2000, 5))
    assert metrics.memory_capacity(y, 2 * y + 1) == pytest.approx(5.0)
    noise = metrics.memory_capacity(y, rng.standard_normal((2000, 5)))
    assert noise < 0.05
    half = y + rng.standard_normal((2000, 5))           # r^2 = 1/2 per delay
    total, per = metrics.memory_capacity(y, half, per_delay=True)
    assert per.shape == (5,) and total == pytest.approx(2.5, abs=0.15)


def held_out_memory_capacity(units, K=40, T=2500, seed=0):
    u, y = datasets.memory_capacity_task(T + 1500, K, seed=seed)
    res = Reservoir(units, sr=0.95, lr=1.0, input_scaling=0.1, input_connectivity=1.0,
                    rc_connectivity=min(1.0, 10.0 / units),
                    seed=seed + units)
    esn = ESN(res, Ridge(1e-8))
    esn.fit(u[:T], y[:T], warmup=K)
    pred = esn.predict(u[T:])
    return metrics.memory_capacity(y[T:], pred)


def test_memory_capacity_grows_with_size_and_stays_below_it():
    mc = [held_out_memory_capacity(n) for n in (5, 20, 50)]
    assert mc[0] < mc[1] < mc[2]
    assert mc[0] < 5 and mc[1] < 20 and mc[2] < 40
    assert mc[2] > 10     # a linear-ish reservoir of 50 units remembers > 10 steps
