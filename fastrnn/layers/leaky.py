"""Leaky units with per-unit time constants (Goodfellow et al. (2016), sec. 10.7.3, eq. 10.7).

    s_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    h_t = (1 - 1/tau) h_{t-1} + (1/tau) s_t

A unit with time constant tau >= 1 forgets at rate alpha = 1/tau: with a
large tau its state, and the gradient flowing back through it, decays slowly
(the self-loop of weight 1 - alpha), one remedy for the vanishing gradients of
section 10.7. With tau = 1 the layer is the tanh RNN.

The backward pass can also add the information-flow regulariser of section
10.7.8 (eq. 10.16, Pascanu et al. 2013), computed inside the BPTT sweep
(fastrnn/layers/_leaky.pyx), and record dL/dh_t at every step for the
gradient-flow diagnostics.
"""
from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from scipy.special import expit

from fastrnn.layers import _leaky
from fastrnn.layers.base import (
    RecurrentBase, SweepCache, _all_rows, check_parameter_memory, check_size,
)
from fastrnn._core.validation import SeedLike
from fastrnn._core.validation import (
    check_bool,
    check_dtype,
    check_random_state,
    check_real,
)
from fastrnn.io import format as io_format

# Learned time constants start inside the range where the sigmoid of the
# parametrisation passes gradient: at leak_logit = 3 (tau = 1 + e^-3, about
# 1.05), d alpha / d logit = alpha (1 - alpha) is 0.045; at tau = 1 exactly
# (logit +inf) it is 0, and the time constants could never move.
MAX_INITIAL_LEAK_LOGIT = 3.0
# Initial time constants of learned units when none are given: spread
# log-uniformly over an order of magnitude (Goodfellow et al. 2016, sec.
# 10.9.2: sample them once at initialisation, then learn them).
LEARNED_TAU_RANGE = (2.0, 20.0)


def _sigmoid(z):
    return expit(z)   # no overflow warning for a very negative logit


class _LeakySweep(SweepCache):
    """What backward needs of the last forward (the gradient-flow
    diagnostics read ``hs``, ``ss`` and ``alpha`` too)."""

    __slots__ = ("x", "hs", "ss", "alpha")


class LeakyRNN(RecurrentBase):
    """A layer of leaky tanh units, with the contract of every recurrent
    layer (`fastrnn.layers.base.RecurrentBase`).

    Parameters
    ----------
    input_size, hidden_size : int
    tau : None, float, array of shape (hidden_size,), or (low, high)
        Time constants, each >= 1: one for all units, one per unit, or a range
        from which each unit's is drawn once, log-uniformly (so that time
        scales spread evenly over orders of magnitude, section 10.7.9).
        None (the default) is 1.0 for fixed time constants (the tanh RNN)
        and the range ``LEARNED_TAU_RANGE`` = (2, 20) for learned ones.
    learn_tau : bool
        Learn the time constants by BPTT. They are held >= 1 through the
        parametrisation alpha = 1/tau = sigmoid(leak_logit) of eq. 10.7's
        rate: the parameter ``leak_logit_l0`` is unconstrained and
        tau = 1 + exp(-leak_logit). Its gradient is the rate's times
        alpha (1 - alpha) = (tau - 1) / tau^2, which vanishes as tau -> 1
        (and as tau -> inf): a unit started at tau = 1 would never learn.
        So learned time constants start spread over (2, 20) by default
        (Goodfellow et al. (2016), sec. 10.7.3:
        sampled once at initialisation, then learned), and a given tau is
        raised to at least 1 + exp(-3), about 1.05 (``leak_logit_l0`` <= 3,
        where 4.5 % of the rate's gradient still passes).
    batch_first, dtype, seed : as for ``fastrnn.RNN``.

    Attributes
    ----------
    params, grads : dict
        ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0`` as
        for ``fastrnn.RNN``, and ``leak_logit_l0`` (H,) when ``learn_tau``.
    tau : ndarray (H,)
        The current time constants.
    last_omega : float or None
        The regulariser's value (times its weight) in the last backward.

    Notes
    -----
    The state hx is (1, B, H), or (1, H) for an unbatched (T, D) input, as
    for a one-layer ``fastrnn.RNN``. ``backward`` takes two options beyond
    the contract's:

    omega : float >= 0
        Weight of the information-flow regulariser (Goodfellow et al.
        (2016), eq. 10.16), Omega = sum over steps and sequences of
        ``(||dL/dh_t dh_t/dh_{t-1}|| / ||dL/dh_t|| - 1)^2``, where dL/dh_t is the
        gradient of the loss given by dy and dhx_n. As Pascanu et al. (2013)
        propose, its gradient treats the back-propagated vectors dL/dh_t as
        constants; it is added to the parameter gradients and its value
        (times the weight) is kept in ``last_omega``. Cannot be combined
        with ``clip_hidden``.
    record : bool
        Also return dL/dh_t of every step, (T, B, H) time-major: then
        ``backward`` returns (dx, dhx, record).
    """

    _config_names = ("input_size", "hidden_size", "dtype", "learn_tau")
    _backward_options = ("omega", "record")

    def __init__(self, input_size: int, hidden_size: int, *,
                 tau: Union[float, ArrayLike, None] = None, learn_tau: bool = False,
                 batch_first: bool = False, dtype: DTypeLike = np.float32,
                 seed: SeedLike = None) -> None:
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size")
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dtype = check_dtype(dtype)
        self.learn_tau = check_bool(learn_tau, "learn_tau")
        H, D = self.hidden_size, self.input_size
        check_parameter_memory(H * (D + H + 3), 5, self.dtype.itemsize,
                               f"LeakyRNN({D}, {H})")
        rng = check_random_state(seed)
        if tau is not None:
            tau = self._initial_tau(tau, rng)
        k = 1.0 / np.sqrt(H)
        params = {
            "weight_ih_l0": rng.uniform(-k, k, (H, D)).astype(self.dtype),
            "weight_hh_l0": rng.uniform(-k, k, (H, H)).astype(self.dtype),
            "bias_ih_l0": rng.uniform(-k, k, H).astype(self.dtype),
            "bias_hh_l0": rng.uniform(-k, k, H).astype(self.dtype),
        }
        if tau is None:
            # drawn after the weights, so that a seed gives the weights it gave
            # before tau had a default of its own
            tau = self._initial_tau(LEARNED_TAU_RANGE if self.learn_tau else 1.0, rng)
        if self.learn_tau:
            # alpha = sigmoid(logit) = 1/tau  <=>  logit = -log(tau - 1)
            with np.errstate(divide="ignore"):
                logit = -np.log(tau - 1.0)
            params["leak_logit_l0"] = np.minimum(logit, MAX_INITIAL_LEAK_LOGIT).astype(self.dtype)
        else:
            self._alpha = (1.0 / tau).astype(self.dtype)
        self._init_params(params)
        self._cache = None
        self.last_omega = None

    def _initial_tau(self, tau, rng):
        H = self.hidden_size
        if isinstance(tau, tuple) and len(tau) == 2:
            lo = check_real(tau[0], "tau[0]", low=1.0)
            hi = check_real(tau[1], "tau[1]", low=lo)
            return np.exp(rng.uniform(np.log(lo), np.log(hi), H))
        arr = np.asarray(tau, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(H, float(arr))
        if arr.shape != (H,):
            raise ValueError(f"tau must be a number, ({H},) values or a (low, high) pair, "
                             f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 1.0):
            raise ValueError("tau must be finite and >= 1 for every unit")
        return arr

    @property
    def alpha(self) -> np.ndarray:
        """1/tau per unit, in the layer's dtype."""
        if self.learn_tau:
            return _sigmoid(self.params["leak_logit_l0"].astype(np.float64)).astype(self.dtype)
        return self._alpha

    @property
    def tau(self) -> np.ndarray:
        return 1.0 / self.alpha.astype(np.float64)

    def _checked_alpha(self):
        """alpha for the kernels: (H,) of the layer's dtype, whatever was
        assigned to the private ``_alpha`` (fastrnn.load sets it)."""
        alpha = np.ascontiguousarray(self.alpha, dtype=self.dtype)
        if alpha.shape != (self.hidden_size,):
            raise ValueError(f"the layer's rates alpha must have shape ({self.hidden_size},), "
                             f"got {alpha.shape}")
        return alpha

    def _forward_weights(self, alpha):
        p = self.params
        return (p["weight_ih_l0"], np.ascontiguousarray(p["weight_hh_l0"].T),
                p["bias_ih_l0"] + p["bias_hh_l0"], alpha)

    def _forward(self, x, hx, lengths):
        self._check_arrays()
        x_tm, batch, unbatched = self._sequence_input(x, lengths)
        T, B, _ = x_tm.shape
        alpha = self._checked_alpha()
        hs = self._one_layer_start(hx, B, unbatched, T, batch)
        ss = np.empty((T, B, self.hidden_size), dtype=self.dtype)
        _leaky.leaky_forward(self._forward_weights(alpha), x_tm, hs, ss, batch.batch_sizes)
        self._cache = _LeakySweep(batch, unbatched, x=x_tm, hs=hs, ss=ss, alpha=alpha)
        return self._one_layer_outputs(hs, batch, unbatched)

    def _backward(self, dy, dhx_n, clip_hidden, omega=0.0, record=False):
        """BPTT for the last ``forward``; ``omega`` and ``record`` are
        described in `backward`."""
        sweep = self._last_forward()
        batch, unbatched = sweep.batch, sweep.unbatched
        T, B, H, dt = batch.T, batch.B, self.hidden_size, self.dtype
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        omega = check_real(omega, "omega", low=0.0)
        record = check_bool(record, "record")
        if omega > 0 and clip is not None:
            raise ValueError("omega and clip_hidden cannot be combined: the regulariser is "
                             "defined on the unclipped dL/dh_t")
        da, dh_direct = self._one_layer_gradients(dy, dhx_n, batch, unbatched)
        dx = np.zeros_like(sweep.x)
        dh0 = np.zeros((B, H), dtype=dt)
        rec = np.empty((T if record else 0, B, H), dtype=dt)
        self.last_omega = 0.0
        if T:
            big = (T, B, H) if omega > 0 else (0, 0, 0)
            small = (B, H) if omega > 0 else (0, 0)
            grad_bias = np.zeros(H, dtype=dt)
            grad_alpha = np.zeros(H, dtype=dt)
            w_hh = self.params["weight_hh_l0"]
            weights = (self.params["weight_ih_l0"], w_hh, np.ascontiguousarray(w_hh.T),
                       sweep.alpha)
            regulariser = (omega, np.zeros(big, dt), np.zeros(big, dt), np.empty(small, dt),
                           np.empty(small, dt), np.empty(small, dt), np.empty(small, dt))
            self.last_omega = float(_leaky.leaky_backward(
                weights, (sweep.x, sweep.hs, sweep.ss), da, (dx, dh0, rec),
                (self.grads["weight_ih_l0"], self.grads["weight_hh_l0"], grad_bias, grad_alpha),
                regulariser, batch.batch_sizes, 0.0 if clip is None else clip))
            self.grads["bias_ih_l0"] += grad_bias
            self.grads["bias_hh_l0"] += grad_bias
            if self.learn_tau:
                # d alpha / d logit = alpha (1 - alpha)
                self.grads["leak_logit_l0"] += grad_alpha * sweep.alpha * (1 - sweep.alpha)
        out = self._one_layer_results(dx, dh0, dh_direct, batch, unbatched)
        if record:
            return out + (batch.unsort(rec, axis=1),)
        return out

    def _step(self, x_t, hx):
        def run(x, hs):
            B = x.shape[1]
            _leaky.leaky_forward(self._forward_weights(self._checked_alpha()), x, hs,
                                 np.empty((1, B, self.hidden_size), dtype=self.dtype),
                                 _all_rows(1, B))
        return self._one_layer_step(x_t, hx, run)

    def __repr__(self) -> str:
        return (f"LeakyRNN({self.input_size}, {self.hidden_size}, learn_tau={self.learn_tau}, "
                f"dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    # tau is not a constructor argument of the file: fixed time constants are
    # saved as the array alpha (1/tau), learned ones are a parameter.
    _saved_config_names = ("input_size", "hidden_size", "learn_tau", "batch_first", "dtype")

    def _save_arrays(self):
        arrays = dict(self.params)
        if not self.learn_tau:
            arrays["alpha"] = self._alpha
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        io_format.expect_shapes(
            arrays, {"weight_ih_l0": (config.get("hidden_size"), config.get("input_size"))},
            "LeakyRNN")
        layer = cls(**config)
        params = dict(arrays)
        if not layer.learn_tau:
            layer._alpha = io_format.expect_array(params, "alpha", (layer.hidden_size,),
                                                  layer.dtype, "LeakyRNN").copy()
            del params["alpha"]
        io_format.assign_params(layer.params, params, "LeakyRNN")
        return layer


io_format.register("LeakyRNN", LeakyRNN)
