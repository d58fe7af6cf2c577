"""Intrinsic plasticity: unsupervised adaptation of each reservoir unit's gain
and bias so that its output distribution approaches a target (Triesch 2005;
Schrauwen, Wardermann, Verstraeten, Steil & Stroobandt 2008), before a
readout is fitted on the states.

The units are ReservoirPy's ``IPReservoir``'s: the leak acts on the internal
state r, and the gain a and bias b of each unit inside its activation f,

    r_t = (1 - lr) r_{t-1} + lr (W x_{t-1} + Win u_t + bias)
    x_t = f(a * r_t + b)

(with lr = 1 this is `fastrnn.Reservoir`'s unit with the extra gain and
bias). Minimising the Kullback-Leibler divergence between the distribution
of x_t and the target by stochastic gradient steps, after every step,
gives (Schrauwen et al. 2008, eqs. 13-14 for tanh units and a Gaussian
target of mean mu and standard deviation sigma; Triesch 2005, eqs. 6-7 for
sigmoid units and an exponential target of mean mu):

    tanh:    db = mu / s2 - (x / s2) (2 s2 + 1 - x^2 + mu x),   s2 = sigma^2
    sigmoid: db = 1 - (2 + 1 / mu) x + x^2 / mu
    da = 1 / a + db r,     a += eta da,     b += eta db

The time loop of a series, adaptation included, is one C call
(``fastrnn/reservoir/_plasticity.pyx`` over csrc/reservoir/fr_plasticity.c).
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from fastrnn._core.validation import as_float_array, check_int, check_real
from fastrnn.io import format as io_format
from fastrnn.reservoir import _plasticity
from fastrnn.reservoir.reservoir import ACTIVATION_CODES, Reservoir, _check_loop_sizes

#: The target distribution of each activation that has an IP rule.
_RULES = {"tanh": "Gaussian (Schrauwen et al. 2008)",
          "sigmoid": "exponential (Triesch 2005)"}


class IPReservoir(Reservoir):
    """A reservoir whose units' gains and biases are adapted by intrinsic
    plasticity (Schrauwen et al. 2008; Triesch 2005), ReservoirPy's
    ``IPReservoir``.

    Parameters
    ----------
    units : int >= 1
    mu : float
        Mean of the target distribution: of the Gaussian for tanh units, of
        the exponential for sigmoid units (then > 0).
    sigma : float > 0
        Standard deviation of the Gaussian target (tanh units).
    learning_rate : float > 0
        eta of the gradient steps.
    epochs : int >= 1
        Passes over the data in ``fit``.
    activation : {"tanh", "sigmoid"}
    **kwargs
        Everything else of `fastrnn.Reservoir` (sr, lr, W, Win, bias,
        input_scaling, seed, dtype, ...). Output feedback and noise are not
        supported.

    Attributes
    ----------
    gain : ndarray (N,)
        a, ones until ``fit``.
    offset : ndarray (N,)
        b, zeros until ``fit``.
    internal_state : ndarray (N,) or (B, N)
        r, the leaky pre-activation state; ``state`` is x.

    Notes
    -----
    ``fit(X)`` adapts a and b; every later ``run`` (and an `fastrnn.ESN`
    built on this reservoir) uses them. The loop sums each product in the
    order of a plain sparse row-by-vector product (not the blocked CSR kernel
    of `Reservoir`), so that its states follow ReservoirPy's to the last
    bits; it runs one series per call and one thread.
    """

    def __init__(self, units: int, *, mu: float = 0.0, sigma: float = 1.0,
                 learning_rate: float = 5e-4, epochs: int = 1, activation: str = "tanh",
                 **kwargs: Any) -> None:
        # The rule is checked before the matrices are drawn.
        self.mu = check_real(mu, "mu")
        self.sigma = check_real(sigma, "sigma", low=0.0, low_open=True)
        self.learning_rate = check_real(learning_rate, "learning_rate", low=0.0, low_open=True)
        self.epochs = check_int(epochs, "epochs", minimum=1)
        self.activation = activation
        self.noise = kwargs.get("noise", 0.0)
        self._rule_activation()
        super().__init__(units, activation=activation, **kwargs)
        self.gain = np.ones(self.units, dtype=self.dtype)
        self.offset = np.zeros(self.units, dtype=self.dtype)
        self.internal_state = np.zeros(self.units, dtype=self.dtype)

    def _rule_activation(self):
        """The activation's code, checked to have an IP rule (and the
        settings the IP loop has not: noise)."""
        if self.activation not in _RULES:
            raise ValueError(f"activation must be one of {sorted(_RULES)} for intrinsic "
                             f"plasticity, got {self.activation!r}")
        if self.activation == "sigmoid" and self.mu <= 0:
            raise ValueError(f"mu must be > 0 (the mean of the exponential target of sigmoid "
                             f"units), got {self.mu}")
        if self.noise != 0:
            raise ValueError(f"noise must be 0 for an IPReservoir, got {self.noise}")
        return ACTIVATION_CODES[self.activation]

    def reset(self, state: Optional[ArrayLike] = None) -> IPReservoir:
        """Set the state x to zeros (or to ``state``) and the internal state
        r to zeros; the gains and biases stay."""
        super().reset(state)
        self.internal_state = np.zeros(np.shape(self.state), dtype=self.dtype)
        return self

    # ------------------------------------------------------------- loops
    def _unit_params(self, name, N):
        """``gain`` or ``offset`` checked, as a copy the loop may adapt."""
        a = as_float_array(getattr(self, name), name, self.dtype, ndim=1)
        if a.shape != (N,):
            raise ValueError(f"{name} must have shape ({N},), got {a.shape}")
        return np.array(a, order="C", copy=True)

    def _starts(self, x0, B):
        """x_0 and r_0 as (B, N) arrays (copies the kernel may overwrite)."""
        x = np.array(self._initial_state(x0, B).T, order="C", copy=True)
        r = as_float_array(self.internal_state, "internal_state", self.dtype, ndim=(1, 2))
        if r.shape not in ((self.units,), (B, self.units)):
            raise ValueError(f"internal_state must have shape ({self.units},) or "
                             f"({B}, {self.units}) for {B} series, got {r.shape}; call "
                             f"reset() first")
        return x, np.array(np.broadcast_to(r, x.shape), order="C", copy=True)

    def _series_loop(self, u, x, r, rule):
        """Run u (T, D) from x, r (N,) (updated in place); with ``rule``
        adapt gain and offset. Returns the states (T, N)."""
        T, D = u.shape
        N = self.units
        _check_loop_sizes(T, 1, N, D)
        act = self._rule_activation()
        weights = self._checked_weights(D)
        W = weights["W"]
        csr = (W.data, W.indices, W.indptr) if sp.issparse(W) else None
        gain, offset = self._unit_params("gain", N), self._unit_params("offset", N)
        states = np.empty((T, N), dtype=self.dtype)
        _plasticity.run(act, csr, None if csr else W, weights["win"], weights["bias"],
                        weights["lr"], np.ascontiguousarray(u), states, r, x, gain, offset,
                        rule)
        if rule is not None:
            self.gain, self.offset = gain, offset
        return states

    def _series_list(self, X):
        """X as a list of (T_i, D) arrays: a list, a (T, D) array, or the
        series of a (T, B, D) array."""
        if isinstance(X, (list, tuple)):
            arrs = [as_float_array(x, f"X[{i}]", self.dtype, ndim=2) for i, x in enumerate(X)]
        else:
            u, unbatched = self._as_series(X, "X")
            arrs = [u[:, b] for b in range(u.shape[1])]
        for i, a in enumerate(arrs):
            self._check_width(a, f"X[{i}]")
        return arrs

    def fit(self, X: Union[ArrayLike, list[ArrayLike]], warmup: int = 0) -> IPReservoir:
        """Adapt the gains and biases on X, ``epochs`` times.

        Parameters
        ----------
        X : array_like (T, D), (T, B, D), or a list of (T_i, D) arrays
            Each series in turn, the state carrying over from one to the
            next and from one epoch to the next (as in ReservoirPy).
        warmup : int >= 0
            Steps dropped from the start of every series (not run), as
            ReservoirPy's ``IPReservoir.fit`` does.
        """
        warmup = check_int(warmup, "warmup", minimum=0)
        series = self._series_list(X)
        for i, s in enumerate(series):
            if warmup >= s.shape[0]:
                raise ValueError(f"warmup must be < the time steps of every series, got "
                                 f"{warmup} for X[{i}] of {s.shape[0]} steps")
        self.initialize(series[0].shape[1])
        x, r = self._starts(None, 1)
        rule = (self.mu, self.sigma, self.learning_rate)
        for _ in range(self.epochs):
            for s in series:
                self._series_loop(s[warmup:], x[0], r[0], rule)
        self.state, self.internal_state = x[0], r[0]
        return self

    def run(self, X: Union[ArrayLike, list[ArrayLike]], x0: Optional[ArrayLike] = None, *,
            feedback: Union[ArrayLike, list[ArrayLike], None] = None
            ) -> Union[np.ndarray, list[np.ndarray]]:
        """The states x_t with the adapted gains and biases, shaped as in
        `fastrnn.Reservoir.run`. ``x0`` sets x_0; r_0 is the stored
        internal state."""
        if feedback is not None:
            raise ValueError("an IPReservoir has no output feedback: feedback must be None")
        if isinstance(X, (list, tuple)):
            series = self._series_list(X)
            out = []
            for s in series:
                x, r = self._starts(x0, 1)
                out.append(self._series_loop(s, x[0], r[0], None))
            if series:
                self.state, self.internal_state = x[0], r[0]
            return out
        u, unbatched = self._as_series(X, "X")
        self._check_width(u if not unbatched else u[:, 0], "X")
        T, B, _ = u.shape
        x, r = self._starts(x0, B)
        states = np.empty((T, B, self.units), dtype=self.dtype)
        for b in range(B):
            states[:, b] = self._series_loop(u[:, b], x[b], r[b], None)
        if unbatched:
            self.state, self.internal_state = x[0], r[0]
            return states[:, 0]
        self.state, self.internal_state = x, r
        return states

    def _run_closed_loop(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("an IPReservoir has no output feedback loop; use an ESN with "
                         "feedback=False")

    def __repr__(self) -> str:
        return (f"IPReservoir({self.units}, mu={self.mu}, sigma={self.sigma}, "
                f"learning_rate={self.learning_rate}, epochs={self.epochs}, "
                f"activation={self.activation!r}, dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    # The reservoir's, plus the rule and the adapted gains, biases and
    # internal state.
    _ip_scalars = ("mu", "sigma", "learning_rate", "epochs")

    def _save_config(self):
        config = super()._save_config()
        config.update({k: getattr(self, k) for k in self._ip_scalars})
        return config

    def _save_arrays(self):
        arrays = super()._save_arrays()
        arrays.update(gain=self.gain, offset=self.offset, internal_state=self.internal_state)
        return arrays

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: dict[str, Any]) -> IPReservoir:
        config = dict(config)
        ip = {k: config.pop(k) for k in cls._ip_scalars}
        r = super()._from_saved(config, arrays)
        r.mu = check_real(ip["mu"], "mu")
        r.sigma = check_real(ip["sigma"], "sigma", low=0.0, low_open=True)
        r.learning_rate = check_real(ip["learning_rate"], "learning_rate", low=0.0,
                                     low_open=True)
        r.epochs = io_format.config_int(ip, "epochs")
        N = r.units
        r.gain = io_format.expect_array(arrays, "gain", (N,), r.dtype, "IPReservoir").copy()
        r.offset = io_format.expect_array(arrays, "offset", (N,), r.dtype,
                                          "IPReservoir").copy()
        r.internal_state = io_format.expect_array(
            arrays, "internal_state", np.shape(r.state), r.dtype, "IPReservoir").copy()
        return r


io_format.register("IPReservoir", IPReservoir)
