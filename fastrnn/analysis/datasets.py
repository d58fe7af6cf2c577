"""Standard time series of reservoir computing, generated (nothing is
downloaded): Mackey-Glass, NARMA, Lorenz, and the memory-capacity task.

Every function returns float64 arrays shaped (n, features).
"""
from __future__ import annotations

import sys
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import (
    as_float_array,
    check_choice,
    check_finite,
    check_random_state,
    check_real,
    check_size,
    check_total,
)
from fastrnn._core.validation import SeedLike


def mackey_glass(n: int, tau: float = 17, *, a: float = 0.2, b: float = 0.1,
                 power: float = 10, x0: float = 1.2, h: float = 0.1, subsample: int = 10,
                 method: str = "euler", discard: int = 0, seed: SeedLike = None
                 ) -> np.ndarray:
    """The Mackey-Glass delay differential equation, sampled.

        dx/dt = a x(t - tau) / (1 + x(t - tau)^power) - b x(t)

    Parameters
    ----------
    n : int
        Number of samples returned.
    tau : float
        Delay (17 gives the classic mildly chaotic attractor, 30 a more
        chaotic one).
    discard : int
        Samples dropped at the start (transient) before the n returned.

    Returns
    -------
    ndarray (n, 1)

    Notes
    -----
    Integration scheme: fixed step ``h`` with the delay a whole number of
    steps, d = round(tau/h) (tau must be a multiple of h). The history x(t)
    for t in [-tau, 0] is the constant ``x0`` (or, with ``seed``, x0 plus
    uniform noise in [-0.1, 0.1] at every history point). One sample is kept
    every ``subsample`` steps, so the sampling interval is ``h * subsample``
    time units.

    - ``method="euler"`` (default, the classic scheme): explicit Euler,
      x_{k+1} = x_k + h (a x_{k-d} / (1 + x_{k-d}^power) - b x_k). With the
      defaults h = 0.1, subsample = 10 this is the series of Jaeger (2001,
      GMD Report 148): step 0.1, a 170-step delay for tau = 17, one sample
      per time unit.
    - ``method="rk4"``: classical Runge-Kutta; the delayed value at a half
      step is the mean of its two neighbours on the grid (linear
      interpolation), which keeps the scheme second order in the delay term.
    """
    n = check_size(n, "n")
    tau = check_real(tau, "tau", low=0.0, low_open=True)
    h = check_real(h, "h", low=0.0, low_open=True)
    subsample = check_size(subsample, "subsample", minimum=1)
    discard = check_size(discard, "discard")
    power = check_real(power, "power")
    a = check_real(a, "a")
    b = check_real(b, "b")
    x0 = check_real(x0, "x0")
    check_choice(method, "method", ("euler", "rk4"))
    rng = None if seed is None else check_random_state(seed)
    ratio = tau / h
    if not ratio <= 2**40:   # also catches an infinite ratio (tau=1e300, h=1e-300)
        raise ValueError(f"tau / h must be at most {2**40} steps of delay: tau={tau}, h={h}")
    d = int(round(ratio))
    if abs(d * h - tau) > 1e-9 * max(1.0, tau):
        raise ValueError(f"tau must be a multiple of h: tau={tau}, h={h}")
    steps = (n + discard) * subsample
    check_total(d + 1 + steps, "the integration steps round(tau/h) + 1 + (n + discard) * "
                               "subsample")
    hist = np.full(d + 1, x0, dtype=np.float64)
    if rng is not None:
        hist += rng.uniform(-0.1, 0.1, size=d + 1)
    x = np.empty(d + 1 + steps, dtype=np.float64)
    x[:d + 1] = hist
    # Plain Python floats: the recursion is sequential, and float arithmetic
    # on scalars is several times faster than on NumPy scalars.
    xs = x.tolist()
    diverged = ValueError(
        f"the Mackey-Glass series leaves the float64 range (|x|**power must stay below "
        f"{sys.float_info.max:.3g}, and 1 + x**power must not be 0) with x0={x0}, a={a}, "
        f"b={b}, power={power}, h={h}: choose a smaller x0, power or h")
    try:
        if method == "euler":
            for k in range(d, d + steps):
                xd = xs[k - d]
                xk = xs[k]
                xs.append(0.0)
                xs[k + 1] = xk + h * (a * xd / (1.0 + xd ** power) - b * xk)
        else:
            def f(xk, xd):
                return a * xd / (1.0 + xd ** power) - b * xk
            for k in range(d, d + steps):
                xk, xd0, xd1 = xs[k], xs[k - d], xs[k - d + 1]
                xdm = 0.5 * (xd0 + xd1)
                k1 = f(xk, xd0)
                k2 = f(xk + 0.5 * h * k1, xdm)
                k3 = f(xk + 0.5 * h * k2, xdm)
                k4 = f(xk + h * k3, xd1)
                xs.append(0.0)
                xs[k + 1] = xk + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    except (OverflowError, ZeroDivisionError):
        # Python's ** raises where numpy would give inf; either way the
        # parameters (not the caller's data) are at fault.
        raise diverged from None
    try:
        series = np.asarray(xs[d + 1:], dtype=np.float64)
    except TypeError:   # a negative x to a non-integer power is complex
        raise ValueError(f"the Mackey-Glass series goes negative, and x**power is complex for "
                         f"a non-integer power={power}: choose x0 > 0, or an integer power "
                         f"(x0={x0}, a={a}, b={b})") from None
    if not np.all(np.isfinite(series)):
        raise diverged
    # sample i is the state after (i + 1) * subsample steps
    samples = series[subsample - 1::subsample]
    return samples[discard:discard + n, None].copy()


def narma(n: int, order: int = 10, *, seed: SeedLike = None, u: Optional[ArrayLike] = None,
          discard: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """NARMA task in the form of Atiya and Parlos (2000).

        y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{order-1} y(t-i)
                 + 1.5 u(t-order+1) u(t) + 0.1

    with u(t) i.i.d. uniform in [0, 0.5]. (For order 10 this is NARMA10.)

    Parameters
    ----------
    n : int
    order : int >= 1
    u : array_like (n + discard,), optional
        The input; drawn from ``seed`` if None.
    discard : int
        Initial steps dropped (the system starts from y = 0).

    Returns
    -------
    u : ndarray (n, 1), the input
    y : ndarray (n, 1), the target: y[t] is y(t+1), the value to predict
        from u up to time t.
    """
    n = check_size(n, "n")
    order = check_size(order, "order", minimum=1)
    discard = check_size(discard, "discard")
    total = check_total(n + discard, "n + discard")
    if u is None:
        uu = check_random_state(seed).uniform(0.0, 0.5, size=total)
    else:
        uu = check_finite(as_float_array(u, "u", np.float64).ravel(), "u")
        if uu.shape[0] != total:
            raise ValueError(f"u must have n + discard = {total} values, got {uu.shape[0]}")
    y = np.zeros(total + 1)
    ul = uu.tolist()
    yl = y.tolist()
    window = 0.0  # sum of the last `order` values of y
    for t in range(total):
        window += yl[t]
        if t >= order:
            window -= yl[t - order]
        u_old = ul[t - order + 1] if t - order + 1 >= 0 else 0.0
        yl[t + 1] = 0.3 * yl[t] + 0.05 * yl[t] * window + 1.5 * u_old * ul[t] + 0.1
    y = np.asarray(yl)
    if not np.all(np.isfinite(y)):
        # NARMA is unstable for some inputs (values of u much above 0.5).
        raise ValueError(f"the NARMA{order} recursion diverges for this input u (it is "
                         "stable for u in [0, 0.5])")
    return uu[discard:, None].copy(), y[discard + 1:, None].copy()


def lorenz(n: int, *, h: float = 0.01, subsample: int = 1, sigma: float = 10.0,
           rho: float = 28.0, beta: float = 8.0 / 3.0,
           x0: ArrayLike = (1.0, 1.0, 1.0), discard: int = 1000) -> np.ndarray:
    """The Lorenz system integrated by classical Runge-Kutta (fixed step h).

        dx/dt = sigma (y - x),  dy/dt = x (rho - z) - y,  dz/dt = x y - beta z

    Parameters
    ----------
    n : int
        Samples returned, one every ``subsample`` steps (interval h*subsample).
    discard : int
        Samples dropped first (transient towards the attractor).

    Returns
    -------
    ndarray (n, 3): columns x, y, z.
    """
    n = check_size(n, "n")
    subsample = check_size(subsample, "subsample", minimum=1)
    discard = check_size(discard, "discard")
    check_total((n + discard) * subsample, "the integration steps (n + discard) * subsample")
    h = check_real(h, "h", low=0.0, low_open=True)
    s, r, bt = check_real(sigma, "sigma"), check_real(rho, "rho"), check_real(beta, "beta")
    x, y, z = check_finite(as_float_array(x0, "x0", np.float64, shape=(3,)), "x0").tolist()
    out = np.empty((n + discard, 3))

    def f(x, y, z):
        return s * (y - x), x * (r - z) - y, x * y - bt * z

    for i in range(n + discard):
        for _ in range(subsample):
            a1, b1, c1 = f(x, y, z)
            a2, b2, c2 = f(x + 0.5 * h * a1, y + 0.5 * h * b1, z + 0.5 * h * c1)
            a3, b3, c3 = f(x + 0.5 * h * a2, y + 0.5 * h * b2, z + 0.5 * h * c2)
            a4, b4, c4 = f(x + h * a3, y + h * b3, z + h * c3)
            x += h / 6.0 * (a1 + 2 * a2 + 2 * a3 + a4)
            y += h / 6.0 * (b1 + 2 * b2 + 2 * b3 + b4)
            z += h / 6.0 * (c1 + 2 * c2 + 2 * c3 + c4)
        out[i] = (x, y, z)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"the Lorenz integration diverges with h={h} (sigma={s}, rho={r}, "
                         f"beta={bt}): use a smaller step h")
    return out[discard:].copy()


def memory_capacity_task(n: int, max_delay: int = 40, *, low: float = -0.8, high: float = 0.8,
                         seed: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Jaeger's (2002, GMD Report 152) short-term memory task.

    Input u(t) i.i.d. uniform in [low, high]; target k (k = 1..max_delay) is
    the input delayed by k steps, u(t - k).

    Returns
    -------
    u : ndarray (n, 1)
    y : ndarray (n, max_delay), y[t, k-1] = u[t-k] (0 for t < k: discard at
        least max_delay warm-up steps before using the rows).
    """
    n = check_size(n, "n")
    max_delay = check_size(max_delay, "max_delay", minimum=1)
    check_total(n * max_delay, "n * max_delay")
    low = check_real(low, "low")
    high = check_real(high, "high", low=low, low_open=True)
    u = check_random_state(seed).uniform(low, high, size=n)
    y = np.zeros((n, max_delay))
    # Delays of n steps or more never reach the series: their columns stay 0.
    for k in range(1, min(max_delay, n) + 1):
        y[k:, k - 1] = u[:n - k]
    return u[:, None], y
