"""Recurrent connections with time delays (seed 002, section 10.7.2).

Lin, Horne, Tino & Giles (1996): with a connection from h_{t-d} the gradient
reaches d steps back through one Jacobian instead of d, so it decays d times
more slowly over a given lag. The layer

    h_t = act(W_ih x_t + b_ih + b_hh + sum over d in delays of W_d h_{t-d})

has one recurrent matrix per delay. Before the sequence the state is held at
h_0: h_s = h_0 for every s <= 0. The loops are in ``fastrnn/_delays.pyx``.
"""
import numpy as np

from fastrnn import _delays
from fastrnn._sequence_io import SequenceIO
from fastrnn._validation import (
    check_bool,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
)

_ACTIVATIONS = {"tanh": 0, "relu": 1}


def delay_weight_name(d):
    """``weight_hh_l0`` for delay 1 (PyTorch's name), ``weight_hh_d{d}_l0`` otherwise."""
    return "weight_hh_l0" if d == 1 else f"weight_hh_d{d}_l0"


class DelayRNN(SequenceIO):
    """A recurrent layer with a recurrent weight matrix per delay.

    Parameters
    ----------
    input_size, hidden_size : int
    delays : sequence of int
        Distinct delays >= 1, e.g. (1, 3). ``delays=(1,)`` is ``fastrnn.RNN``.
    nonlinearity : {"tanh", "relu"}
    batch_first, dtype, seed : as for ``fastrnn.RNN``.

    Attributes
    ----------
    params, grads : dict
        ``weight_ih_l0`` (H, D), one ``delay_weight_name(d)`` (H, H) per
        delay, ``bias_ih_l0``, ``bias_hh_l0`` (H,).
    """

    def __init__(self, input_size, hidden_size, delays=(1, 2), *, nonlinearity="tanh",
                 batch_first=False, dtype=np.float32, seed=None):
        self.input_size = check_int(input_size, "input_size", minimum=1)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        delays = [check_int(d, "delays[i]", minimum=1) for d in delays]
        if not delays or len(set(delays)) != len(delays):
            raise ValueError(f"delays must be distinct integers >= 1, got {delays}")
        if not isinstance(nonlinearity, str) or nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.delays = tuple(sorted(delays))
        self.nonlinearity = nonlinearity
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dtype = check_dtype(dtype)
        H, D = self.hidden_size, self.input_size
        rng = check_random_state(seed)
        # Each delayed matrix gets 1/sqrt(K) of the usual scale, so the summed
        # recurrent input has the variance of a one-matrix layer.
        k = 1.0 / np.sqrt(H)
        kr = k / np.sqrt(len(self.delays))
        self.params = {"weight_ih_l0": rng.uniform(-k, k, (H, D)).astype(self.dtype)}
        for d in self.delays:
            self.params[delay_weight_name(d)] = rng.uniform(-kr, kr, (H, H)).astype(self.dtype)
        self.params["bias_ih_l0"] = rng.uniform(-k, k, H).astype(self.dtype)
        self.params["bias_hh_l0"] = rng.uniform(-k, k, H).astype(self.dtype)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._delays = np.asarray(self.delays, dtype=np.intp)
        self._cache = None

    def zero_grad(self):
        for g in self.grads.values():
            g.fill(0)

    def _stacked(self, transpose):
        mats = [self.params[delay_weight_name(d)] for d in self.delays]
        return np.ascontiguousarray(np.stack([m.T if transpose else m for m in mats]))

    def forward(self, x, h0=None):
        """Run the layer; shapes as ``fastrnn.RNN.forward``."""
        x_tm, unbatched = self._time_major(x, "x", self.input_size)
        T, B, _ = x_tm.shape
        H, M = self.hidden_size, self.delays[-1]
        hs = np.empty((M + T, B, H), dtype=self.dtype)
        hs[:M] = self._state_in(h0, "h0", B, unbatched)
        bias = self.params["bias_ih_l0"] + self.params["bias_hh_l0"]
        _delays.delay_forward(_ACTIVATIONS[self.nonlinearity], self._delays, x_tm,
                              self.params["weight_ih_l0"], self._stacked(True), bias, hs)
        self._cache = (x_tm, hs, unbatched)
        return (self._external(hs[M:].copy(), unbatched),
                self._state_out(hs[M - 1 + T].copy(), unbatched))

    def backward(self, dy=None, dh_T=None, *, clip_hidden=None):
        """BPTT for the last ``forward``; shapes as ``fastrnn.RNN.backward``."""
        if self._cache is None:
            raise RuntimeError("backward called before forward: there is nothing to differentiate")
        x_tm, hs, unbatched = self._cache
        T, B, _ = x_tm.shape
        H, M = self.hidden_size, self.delays[-1]
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        da = np.zeros((M + T, B, H), dtype=self.dtype)
        da[M:] = self._gradient_in(dy, T, B, unbatched)
        if dh_T is not None:
            da[M - 1 + T] += self._state_in(dh_T, "dh_T", B, unbatched)
        dx = np.zeros_like(x_tm)
        if T:
            gw_hh = np.zeros((len(self.delays), H, H), dtype=self.dtype)
            gb = np.zeros((1, H), dtype=self.dtype)
            _delays.delay_backward(
                _ACTIVATIONS[self.nonlinearity], self._delays, x_tm, self.params["weight_ih_l0"],
                self._stacked(False), hs, da, dx, self.grads["weight_ih_l0"], gw_hh, gb[0],
                np.ones(T * B, dtype=self.dtype), 0.0 if clip is None else clip)
            for j, d in enumerate(self.delays):
                self.grads[delay_weight_name(d)] += gw_hh[j]
            self.grads["bias_ih_l0"] += gb[0]
            self.grads["bias_hh_l0"] += gb[0]
        dh0 = da[:M].sum(axis=0)   # h_0 stands for every history row
        return self._external(dx, unbatched), self._state_out(dh0, unbatched)

    __call__ = forward

    def __repr__(self):
        return (f"DelayRNN({self.input_size}, {self.hidden_size}, delays={self.delays}, "
                f"nonlinearity={self.nonlinearity!r}, dtype={self.dtype.name})")
