"""Standard time series of reservoir computing, generated (nothing is
downloaded): Mackey-Glass, NARMA, Lorenz, the memory-capacity task, and,
under the names and defaults of ``reservoirpy.datasets``, the Hénon and
logistic maps, Rössler, Lorenz-96, Kuramoto-Sivashinsky, the multiple
superimposed oscillators and the `to_forecasting` windowing helper.

Every generator returns float64 arrays shaped (n_timesteps, n_features).
`japanese_vowels` reads a classification data set of series of different
lengths from the copy that the optional ``sktime`` package ships.
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import (
    as_array,
    as_float_array,
    check_bool,
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


# ---- the data sets of reservoirpy.datasets, under its names and defaults ----

def _initial_state(x0: ArrayLike, size: int) -> np.ndarray:
    return check_finite(as_float_array(x0, "x0", np.float64, shape=(size,)), "x0").copy()


def _diverged(system: str, **params) -> ValueError:
    settings = ", ".join(f"{k}={v}" for k, v in params.items())
    remedy = "choose other parameters" + (" or a smaller step h" if "h" in params else "")
    return ValueError(f"the {system} series leaves the float64 range with {settings}: {remedy}")


def henon_map(n_timesteps: int, a: float = 1.4, b: float = 0.3,
              x0: ArrayLike = (0.0, 0.0)) -> np.ndarray:
    """The Hénon (1976) map.

        x(n+1) = 1 - a x(n)^2 + y(n),   y(n+1) = b x(n)

    Parameters
    ----------
    n_timesteps : int
        Number of points returned; the first is ``x0``.
    a, b : float
        The classic chaotic attractor is a = 1.4, b = 0.3.
    x0 : array_like (2,)
        Initial point (x(0), y(0)).

    Returns
    -------
    ndarray (n_timesteps, 2): columns x, y. Same numbers as
    ``reservoirpy.datasets.henon_map`` with the same arguments.
    """
    n_timesteps = check_size(n_timesteps, "n_timesteps")
    a, b = check_real(a, "a"), check_real(b, "b")
    x, y = _initial_state(x0, 2).tolist()
    # A map is sequential in time; Python floats are the fastest scalars.
    # x ** 2 (libm's pow), not x * x: the two differ in the last bit for some
    # x, and pow is what ReservoirPy's numbers come from.
    xs, ys = [x], [y]
    try:
        for _ in range(n_timesteps - 1):
            x, y = 1.0 - a * x ** 2 + y, b * x
            xs.append(x)
            ys.append(y)
    except OverflowError:
        raise _diverged("Hénon map", a=a, b=b, x0=(xs[0], ys[0])) from None
    out = np.empty((n_timesteps, 2))
    out[:, 0] = xs[:n_timesteps]
    out[:, 1] = ys[:n_timesteps]
    if not np.all(np.isfinite(out)):
        raise _diverged("Hénon map", a=a, b=b, x0=(xs[0], ys[0]))
    return out


def logistic_map(n_timesteps: int, r: float = 3.9, x0: float = 0.5) -> np.ndarray:
    """The logistic map (May 1976), x(n+1) = r x(n) (1 - x(n)).

    Parameters
    ----------
    n_timesteps : int
        Number of points returned; the first is ``x0``.
    r : float > 0
        Growth rate (chaotic for most r in [3.57, 4]).
    x0 : float in (0, 1)
        Initial value.

    Returns
    -------
    ndarray (n_timesteps, 1). Same numbers as
    ``reservoirpy.datasets.logistic_map`` with the same arguments.
    """
    n_timesteps = check_size(n_timesteps, "n_timesteps")
    r = check_real(r, "r", low=0.0, low_open=True)
    x = check_real(x0, "x0", low=0.0, high=1.0, low_open=True, high_open=True)
    xs = [x]
    for _ in range(n_timesteps - 1):
        x = r * x * (1.0 - x)
        xs.append(x)
    out = np.asarray(xs[:n_timesteps], dtype=np.float64).reshape(n_timesteps, 1)
    if not np.all(np.isfinite(out)):   # r > 4 leaves [0, 1] and runs to -inf
        raise _diverged("logistic map", r=r, x0=xs[0])
    return out


def _rk4_samples(f, state: np.ndarray, h: float, n_samples: int, substeps: int
                 ) -> np.ndarray:
    """Classical Runge-Kutta with step h / substeps; row i is the state at
    time i * h (row 0 is the initial state). ``f`` maps an (m,) array to
    its time derivative."""
    dt = h / substeps
    out = np.empty((n_samples, state.shape[0]))
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(n_samples):
            out[i] = state
            for _ in range(substeps):
                k1 = f(state)
                k2 = f(state + (0.5 * dt) * k1)
                k3 = f(state + (0.5 * dt) * k2)
                k4 = f(state + dt * k3)
                state = state + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return out


def _check_ode_sampling(n_timesteps, h, substeps, warmup=0):
    n_timesteps = check_size(n_timesteps, "n_timesteps")
    h = check_real(h, "h", low=0.0, low_open=True)
    substeps = check_size(substeps, "substeps", minimum=1)
    warmup = check_size(warmup, "warmup")
    if warmup > n_timesteps:
        raise ValueError(f"warmup must be at most n_timesteps = {n_timesteps}, got {warmup}")
    check_total(n_timesteps * substeps, "the integration steps n_timesteps * substeps")
    return n_timesteps, h, substeps, warmup


def rossler(n_timesteps: int, a: float = 0.2, b: float = 0.2, c: float = 5.7,
            x0: ArrayLike = (-0.1, 0.0, 0.02), h: float = 0.1, *,
            substeps: int = 10) -> np.ndarray:
    """The Rössler (1976) attractor.

        dx/dt = -y - z,   dy/dt = x + a y,   dz/dt = b + z (x - c)

    Parameters
    ----------
    n_timesteps : int
        Number of samples; sample i is the state at time i * h (sample 0 is
        ``x0``).
    a, b, c : float
        The defaults give the classic chaotic band.
    x0 : array_like (3,)
    h : float
        Time between two samples.
    substeps : int
        Classical Runge-Kutta steps per sample (step h / substeps; the
        default, 0.01 time units, keeps the global error near 1e-9 over
        tens of time units).

    Returns
    -------
    ndarray (n_timesteps, 3): columns x, y, z.

    Notes
    -----
    Same names, defaults and initial condition as
    ``reservoirpy.datasets.rossler``, which integrates with SciPy's adaptive
    RK45 at its default tolerance (rtol 1e-3) and samples at
    ``linspace(0, n_timesteps * h, n_timesteps)`` (an interval slightly above
    h); here the interval is exactly h and the integration is accurate, so
    the two agree only to the accuracy of that integration.
    """
    n_timesteps, h, substeps, _ = _check_ode_sampling(n_timesteps, h, substeps)
    a, b, c = check_real(a, "a"), check_real(b, "b"), check_real(c, "c")
    state = _initial_state(x0, 3)

    def rossler_rate(s):
        return np.array([-s[1] - s[2], s[0] + a * s[1], b + s[2] * (s[0] - c)])

    out = _rk4_samples(rossler_rate, state, h, n_timesteps, substeps)
    if not np.all(np.isfinite(out)):
        raise _diverged("Rössler", a=a, b=b, c=c, h=h, substeps=substeps)
    return out


def lorenz96(n_timesteps: int, warmup: int = 0, N: int = 36, F: float = 8.0,
             dF: float = 0.01, h: float = 0.01, x0: Optional[ArrayLike] = None, *,
             substeps: int = 1) -> np.ndarray:
    """The Lorenz (1996) model on a ring of N sites.

        dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F,   indices mod N

    Parameters
    ----------
    n_timesteps : int
        Samples computed; sample i is the state at time i * h (sample 0 is
        the initial state).
    warmup : int
        Leading samples dropped (the transient); n_timesteps - warmup rows
        are returned.
    N : int >= 4
        Number of sites.
    F : float
        Forcing (8 gives chaos).
    dF : float
        Perturbation of the first site when ``x0`` is None: the initial state
        is F everywhere but F + dF at site 0 (the uniform state F is a fixed
        point).
    h : float
        Time between two samples.
    x0 : array_like (N,), optional
    substeps : int
        Classical Runge-Kutta steps per sample (step h / substeps).

    Returns
    -------
    ndarray (n_timesteps - warmup, N)

    Notes
    -----
    Same names, defaults and initial condition as
    ``reservoirpy.datasets.lorenz96``. ReservoirPy 0.4.2 samples its series
    at times ``linspace(0, (warmup + n_timesteps) * h**2, n_timesteps)``
    (h enters twice), i.e. far more finely than h; here sample i is at time
    i * h, as documented there, so the numbers differ.
    """
    n_timesteps, h, substeps, warmup = _check_ode_sampling(n_timesteps, h, substeps, warmup)
    N = check_size(N, "N", minimum=4)
    F, dF = check_real(F, "F"), check_real(dF, "dF")
    if x0 is None:
        state = np.full(N, F)
        state[0] += dF
    else:
        state = _initial_state(x0, N)
    ahead, back1, back2 = np.roll(np.arange(N), -1), np.roll(np.arange(N), 1), \
        np.roll(np.arange(N), 2)

    def lorenz96_rate(x):
        return (x[ahead] - x[back2]) * x[back1] - x + F

    out = _rk4_samples(lorenz96_rate, state, h, n_timesteps, substeps)
    if not np.all(np.isfinite(out)):
        raise _diverged("Lorenz-96", N=N, F=F, h=h, substeps=substeps)
    return out[warmup:].copy()


def _etdrk4_coefficients(L: np.ndarray, h: float, contour_points: int):
    """The ETDRK4 coefficients of Cox and Matthews (2002) for the diagonal
    linear operator L, evaluated by Kassam and Trefethen's (2005, eq. 2.5)
    contour means: each phi-function of z = h L is averaged over points on
    the unit circle around z, which avoids the cancellation of the direct
    formulas where |z| is small."""
    roots = np.exp(1j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
    z = h * L[:, None] + roots[None, :]
    ez = np.exp(z)
    e_half = np.exp(h * L / 2)
    q = h * np.real(np.mean((np.exp(z / 2) - 1) / z, axis=1))
    f1 = h * np.real(np.mean((-4 - z + ez * (4 - 3 * z + z * z)) / z**3, axis=1))
    f2 = h * np.real(np.mean((2 + z + ez * (z - 2)) / z**3, axis=1))
    f3 = h * np.real(np.mean((-4 - 3 * z - z * z + ez * (4 - z)) / z**3, axis=1))
    return np.exp(h * L), e_half, q, f1, f2, f3


def kuramoto_sivashinsky(n_timesteps: int, warmup: int = 0, N: int = 128, M: float = 16,
                         x0: Optional[ArrayLike] = None, h: float = 0.25, *,
                         contour_points: int = 16) -> np.ndarray:
    """The Kuramoto-Sivashinsky equation on a periodic domain, by ETDRK4.

        u_t = -u u_x - u_xx - u_xxxx,   x in [0, 2 pi M), periodic

    integrated in Fourier space (N modes) with the fourth-order exponential
    time-differencing Runge-Kutta scheme of Cox and Matthews (2002), its
    coefficients computed as Kassam and Trefethen (2005, section 3).

    Parameters
    ----------
    n_timesteps : int
        Steps computed; row i is u at time i * h on the N grid points
        (row 0 is the initial condition).
    warmup : int
        Leading rows dropped: n_timesteps - warmup rows are returned.
    N : int
        Grid points (an even number >= 4).
    M : float
        Domain length / (2 pi): the default 16 is the [0, 32 pi] domain of
        Kassam and Trefethen (2005).
    x0 : array_like (N,), optional
        Initial u on the grid x_j = 2 pi M j / N, j = 1..N; by default
        cos(x/M) (1 + sin(x/M)), as Kassam and Trefethen.
    h : float
        Time step (and time between rows).
    contour_points : int
        Points of the contour means for the ETDRK4 coefficients (16 as
        Kassam and Trefethen; ReservoirPy uses M points).

    Returns
    -------
    ndarray (n_timesteps - warmup, N)

    Notes
    -----
    The mean of u (the zero mode) is conserved exactly: the equation
    conserves it, and both the linear and the nonlinear terms vanish on it.
    Same names, defaults and initial condition as
    ``reservoirpy.datasets.kuramoto_sivashinsky``; the numbers agree with it
    to rounding over the first steps, then part as chaos amplifies rounding
    (this uses real FFTs, a different rounding).
    """
    n_timesteps, h, _, warmup = _check_ode_sampling(n_timesteps, h, 1, warmup)
    N = check_size(N, "N", minimum=4)
    if N % 2:
        raise ValueError(f"N must be even, got {N}")
    M = check_real(M, "M", low=0.0, low_open=True)
    contour_points = check_size(contour_points, "contour_points", minimum=1)
    check_total(n_timesteps * N, "n_timesteps * N")
    if x0 is None:
        grid = 2 * np.pi * M * np.arange(1, N + 1) / N
        u = np.cos(grid / M) * (1 + np.sin(grid / M))
    else:
        u = _initial_state(x0, N)
    # Wavenumbers of the rfft modes 0..N/2 on a domain of length 2 pi M; the
    # Nyquist mode's odd derivative is set to 0, as is usual for a real
    # field (Trefethen 2000, ch. 3).
    k = np.arange(N // 2 + 1) / M
    k[-1] = 0.0
    L = k**2 - k**4
    E, E2, Q, f1, f2, f3 = _etdrk4_coefficients(L, h, contour_points)
    g = -0.5j * k     # -u u_x = -(u^2)_x / 2

    def nonlinear(v):
        return g * np.fft.rfft(np.fft.irfft(v, N) ** 2)

    out = np.empty((n_timesteps, N))
    v = np.fft.rfft(u)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(n_timesteps):
            out[i] = np.fft.irfft(v, N)
            Nv = nonlinear(v)
            a = E2 * v + Q * Nv
            Na = nonlinear(a)
            b = E2 * v + Q * Na
            Nb = nonlinear(b)
            c = E2 * a + Q * (2 * Nb - Nv)
            Nc = nonlinear(c)
            v = E * v + Nv * f1 + 2 * (Na + Nb) * f2 + Nc * f3
    if not np.all(np.isfinite(out)):
        raise _diverged("Kuramoto-Sivashinsky", N=N, M=M, h=h)
    return out[warmup:].copy()


def mso(n_timesteps: int, freqs: Sequence[float], normalize: bool = True) -> np.ndarray:
    """Multiple superimposed oscillators (Jaeger 2004; Jaeger et al. 2007):

        y(t) = sum_i sin(f_i t),   t = 0, 1, ..., n_timesteps - 1

    Parameters
    ----------
    n_timesteps : int
    freqs : sequence of float
        Angular frequencies f_i (per step); MSO2 is (0.2, 0.311), MSO8 adds
        0.42, 0.51, 0.63, 0.74, 0.85, 0.97 (Roeschies and Igel 2010).
    normalize : bool
        Scale the series linearly onto [-1, 1].

    Returns
    -------
    ndarray (n_timesteps, 1). Same numbers as ``reservoirpy.datasets.mso``.
    """
    n_timesteps = check_size(n_timesteps, "n_timesteps", minimum=1)
    normalize = check_bool(normalize, "normalize")
    f = check_finite(as_float_array(freqs, "freqs", np.float64, ndim=1), "freqs")
    if f.size == 0:
        raise ValueError("freqs must hold at least one frequency")
    t = np.arange(n_timesteps, dtype=np.float64)
    y = np.zeros(n_timesteps)
    for fi in f:   # summed in order, one vectorised sine per frequency
        y += np.sin(fi * t)
    if normalize:
        lo, hi = y.min(), y.max()
        if hi == lo:
            raise ValueError("cannot normalize a constant series (n_timesteps=1 or all "
                             "frequencies multiples of 2 pi)")
        y = (2 * y - lo - hi) / (hi - lo)
    return y[:, None]


def mso2(n_timesteps: int, normalize: bool = True) -> np.ndarray:
    """`mso` with the frequencies 0.2 and 0.311 (Jaeger 2004)."""
    return mso(n_timesteps, (0.2, 0.311), normalize)


def mso8(n_timesteps: int, normalize: bool = True) -> np.ndarray:
    """`mso` with the eight frequencies of Roeschies and Igel (2010)."""
    return mso(n_timesteps, (0.2, 0.311, 0.42, 0.51, 0.63, 0.74, 0.85, 0.97), normalize)


def to_forecasting(timeseries: Union[ArrayLike, list], forecast: int = 1,
                   test_size: Union[int, float, None] = None) -> tuple:
    """Pair each time step with the value ``forecast`` steps ahead.

    X = series[:-forecast] and y = series[forecast:] along the time axis
    (axis -2), so y[t] is the target ``forecast`` steps after input X[t].

    Parameters
    ----------
    timeseries : array_like (n_timesteps, n_features) or (n_series, n_timesteps, n_features), or a list of such arrays
        A list is split array by array (the results are lists).
    forecast : int >= 1
        Steps between an input and its target.
    test_size : int or float, optional
        The last ``test_size`` pairs (an int), or a fraction of
        ``n_timesteps`` (a float in [0, 1), rounded), form a test set.

    Returns
    -------
    (X, y), or (X_train, X_test, y_train, y_test) when ``test_size`` is
    given: views of ``timeseries`` (no copies), as
    ``reservoirpy.datasets.to_forecasting``. Unlike ReservoirPy, a
    ``test_size`` that comes to 0 pairs still returns four arrays (the test
    ones empty).
    """
    if isinstance(timeseries, list):
        parts = [to_forecasting(series, forecast, test_size) for series in timeseries]
        return tuple(list(column) for column in zip(*parts))
    series = as_array(timeseries, "timeseries")
    if series.dtype.kind not in "biuf":
        raise TypeError(f"timeseries must hold real numbers, got dtype {series.dtype}")
    if series.ndim not in (2, 3):
        raise ValueError("timeseries must be (n_timesteps, n_features) or (n_series, "
                         f"n_timesteps, n_features), got shape {series.shape}")
    n_timesteps = series.shape[-2]
    forecast = check_size(forecast, "forecast", minimum=1)
    if forecast >= n_timesteps:
        raise ValueError(f"forecast must be less than the {n_timesteps} time steps of "
                         f"timeseries, got {forecast}")
    pairs = n_timesteps - forecast
    X, y = series[..., :-forecast, :], series[..., forecast:, :]
    if test_size is None:
        return X, y
    if isinstance(test_size, (float, np.floating)):
        test_size = check_real(test_size, "test_size", low=0.0, high=1.0, high_open=True)
        n_test = round(n_timesteps * test_size)
    else:
        n_test = check_size(test_size, "test_size")
    if n_test >= pairs:
        raise ValueError(f"test_size leaves no training pairs: {n_test} test pairs of the "
                         f"{pairs} (n_timesteps - forecast)")
    cut = pairs - n_test
    return X[..., :cut, :], X[..., cut:, :], y[..., :cut, :], y[..., cut:, :]


def _read_ts_classification(path: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The series and class labels of a multivariate ``.ts`` file (the
    format of the UEA/UCR time series classification archive, Bagnall et al.
    2018): after ``@data``, one series a line, its dimensions separated by
    ``:``, each a comma-separated list of values, and the class label last."""
    series, labels = [], []
    in_data = False
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *dimensions, label = line.split(":")
            try:
                values = [np.array(d.split(","), dtype=np.float64) for d in dimensions]
            except ValueError:
                raise ValueError(f"{path}, line {number}: the values are not all numbers "
                                 "(missing values are not supported)") from None
            if not values or len({v.shape[0] for v in values}) != 1:
                raise ValueError(f"{path}, line {number}: every dimension of a series must "
                                 "have the same number of steps")
            series.append(np.ascontiguousarray(np.stack(values, axis=1)))
            labels.append(label.strip())
    if not series:
        raise ValueError(f"{path} holds no series after an @data line")
    return series, np.array(labels)


def japanese_vowels(data_folder: Optional[str] = None) -> tuple:
    """The Japanese Vowels speaker recognition data set (Kudo et al. 1999).

    Nine male speakers uttered the vowels /ae/; each utterance is a series of
    12 LPC cepstrum coefficients, 7 to 29 steps long. The standard split has
    270 training series (30 per speaker) and 370 test series (24 to 88 per
    speaker); the task is to name the speaker.

    Nothing is downloaded: the files are those of the UEA archive that the
    ``sktime`` package ships (``pip install sktime``), read by a small
    ``.ts`` reader here (sktime itself is not imported).

    Parameters
    ----------
    data_folder : str, optional
        A folder holding ``JapaneseVowels_TRAIN.ts`` and
        ``JapaneseVowels_TEST.ts``; by default sktime's copy.

    Returns
    -------
    X_train : list of 270 float64 arrays (T_i, 12)
    y_train : int64 array (270,)
        Speakers 1 to 9.
    X_test : list of 370 float64 arrays (T_i, 12)
    y_test : int64 array (370,)

    Raises
    ------
    ImportError
        When ``data_folder`` is not given and sktime is not installed.
    FileNotFoundError
        When the files are not in the folder.

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = japanese_vowels()   # doctest: +SKIP
    >>> len(X_train), X_train[0].shape, len(X_test)            # doctest: +SKIP
    (270, (20, 12), 370)
    """
    import os

    if data_folder is None:
        import importlib.util

        spec = importlib.util.find_spec("sktime")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("japanese_vowels reads the copy of the data set that sktime "
                              "ships, and sktime is not installed: pip install sktime (or "
                              "pass data_folder=, a folder holding JapaneseVowels_TRAIN.ts "
                              "and JapaneseVowels_TEST.ts)")
        data_folder = os.path.join(list(spec.submodule_search_locations)[0], "datasets",
                                   "data", "JapaneseVowels")
    parts = []
    for split in ("TRAIN", "TEST"):
        path = os.path.join(os.fspath(data_folder), f"JapaneseVowels_{split}.ts")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"japanese_vowels: {path} does not exist (data_folder "
                                    "must hold JapaneseVowels_TRAIN.ts and "
                                    "JapaneseVowels_TEST.ts)")
        series, labels = _read_ts_classification(path)
        try:
            labels = labels.astype(np.int64)
        except ValueError:
            raise ValueError(f"{path}: the class labels must be integers") from None
        parts += [series, labels]
    return tuple(parts)
