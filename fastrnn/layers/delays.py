"""Recurrent connections with time delays (Goodfellow et al. (2016), sec. 10.7.2).

Lin, Horne, Tino & Giles (1996): with a connection from h_{t-d} the gradient
reaches d steps back through one Jacobian instead of d, so it decays d times
more slowly over a given lag. The layer

    h_t = act(W_ih x_t + b_ih + b_hh + sum over d in delays of W_d h_{t-d})

has one recurrent matrix per delay. Before the sequence the state is held at
h_0: h_s = h_0 for every s <= 0. Layers stack as in ``fastrnn.RNN``: the
output sequence of layer l is the input of layer l + 1, each with delayed
connections of its own. The loops are in ``fastrnn/layers/_delays.pyx``, one call
per layer and sequence.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn.layers import _delays
from fastrnn.layers.base import (
    C_INT_MAX, ParameterOwner, check_parameter_memory, check_rows, check_size,
)
from fastrnn.layers._sequence_io import SequenceIO
from fastrnn._core.validation import SeedLike
from fastrnn._core.validation import (
    NotFittedError,
    as_float_array,
    check_bool,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
)
from fastrnn.io import format as io_format

_ACTIVATIONS = {"tanh": 0, "relu": 1}


def delay_weight_name(d: int, layer: int = 0) -> str:
    """``weight_hh_l{layer}`` for delay 1 (PyTorch's name), ``weight_hh_d{d}_l{layer}``
    otherwise."""
    return f"weight_hh_l{layer}" if d == 1 else f"weight_hh_d{d}_l{layer}"


def check_delays(delays: Iterable[int]) -> list[int]:
    """Distinct ints in [1, 2**31 - 1] (the loops index the history in C ints)."""
    if isinstance(delays, (str, bytes)) or not hasattr(delays, "__iter__"):
        raise TypeError(f"delays must be a sequence of integers, got {type(delays).__name__}")
    delays = [check_int(d, f"delays[{i}]", minimum=1, maximum=C_INT_MAX)
              for i, d in enumerate(delays)]
    if not delays or len(set(delays)) != len(delays):
        raise ValueError(f"delays must be distinct integers >= 1, got {delays}")
    return delays


class DelayRNN(ParameterOwner, SequenceIO):
    """A recurrent layer with a recurrent weight matrix per delay.

    Parameters
    ----------
    input_size, hidden_size : int
    delays : sequence of int
        Distinct delays in [1, 2**31 - 1], e.g. (1, 3). ``delays=(1,)`` is
        ``fastrnn.RNN``. The layer keeps max(delays) steps of history per
        sequence, so max(delays) + T must stay below 2**31 too.
    nonlinearity : {"tanh", "relu"}
    num_layers : int
        Stacked layers, every one with the same delays.
    batch_first, dtype, seed : as for ``fastrnn.RNN``.

    Attributes
    ----------
    params, grads : dict
        Per layer l: ``weight_ih_l{l}`` (H, D for l = 0, else H), one
        ``delay_weight_name(d, l)`` (H, H) per delay, ``bias_ih_l{l}``,
        ``bias_hh_l{l}`` (H,).

    Notes
    -----
    States are (num_layers, B, H) (or (num_layers, H) unbatched), as for
    ``fastrnn.RNN``; the initial state of a layer is its whole history.
    """

    _config_names = ("input_size", "hidden_size", "dtype", "num_layers", "delays",
                     "nonlinearity")

    def __init__(self, input_size: int, hidden_size: int, delays: Sequence[int] = (1, 2), *,
                 nonlinearity: str = "tanh", num_layers: int = 1, batch_first: bool = False,
                 dtype: DTypeLike = np.float32, seed: SeedLike = None) -> None:
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size")
        self.num_layers = check_size(num_layers, "num_layers")
        delays = check_delays(delays)
        if not isinstance(nonlinearity, str) or nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.delays = tuple(sorted(delays))
        self.nonlinearity = nonlinearity
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dtype = check_dtype(dtype)
        H, D = self.hidden_size, self.input_size
        L, K = self.num_layers, len(self.delays)
        check_parameter_memory(H * (D + 2 + K * H) + (L - 1) * H * (H + 2 + K * H),
                               L * (3 + K), self.dtype.itemsize, repr(self))
        rng = check_random_state(seed)
        # Each delayed matrix gets 1/sqrt(K) of the usual scale, so the summed
        # recurrent input has the variance of a one-matrix layer.
        k = 1.0 / np.sqrt(H)
        kr = k / np.sqrt(len(self.delays))
        params = {}
        for layer in range(self.num_layers):
            width = D if layer == 0 else H
            params[f"weight_ih_l{layer}"] = rng.uniform(-k, k, (H, width)).astype(self.dtype)
            for d in self.delays:
                params[delay_weight_name(d, layer)] = \
                    rng.uniform(-kr, kr, (H, H)).astype(self.dtype)
            params[f"bias_ih_l{layer}"] = rng.uniform(-k, k, H).astype(self.dtype)
            params[f"bias_hh_l{layer}"] = rng.uniform(-k, k, H).astype(self.dtype)
        self._init_params(params)
        self._delays = np.asarray(self.delays, dtype=np.intp)
        self._cache = None

    def _stacked(self, layer, transpose):
        mats = [self.params[delay_weight_name(d, layer)] for d in self.delays]
        return np.ascontiguousarray(np.stack([m.T if transpose else m for m in mats]))

    def _states_in(self, h, name, B, unbatched):
        """(L, B, H) from a user's (L, B, H) or (L, H) state; zeros for None."""
        L, H = self.num_layers, self.hidden_size
        if h is None:
            return np.zeros((L, B, H), dtype=self.dtype)
        want = (L, H) if unbatched else (L, B, H)
        return as_float_array(h, name, self.dtype, shape=want).reshape(L, B, H)

    def _states_out(self, h, unbatched):
        return h[:, 0, :] if unbatched else h

    def forward(self, x: ArrayLike, h0: Optional[ArrayLike] = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Run the layers; shapes as ``fastrnn.RNN.forward``."""
        self._check_arrays()
        x_tm, unbatched = self._time_major(x, "x", self.input_size)
        T, B, _ = x_tm.shape
        H, M = self.hidden_size, self.delays[-1]
        check_rows(T, B, "x")
        check_rows(M + T, B, f"the history (max(delays) = {M} steps) and x")
        h0 = self._states_in(h0, "h0", B, unbatched)
        inputs, histories = [], []
        layer_input = x_tm
        for layer in range(self.num_layers):
            hs = np.empty((M + T, B, H), dtype=self.dtype)
            hs[:M] = h0[layer]
            bias = self.params[f"bias_ih_l{layer}"] + self.params[f"bias_hh_l{layer}"]
            _delays.delay_forward(_ACTIVATIONS[self.nonlinearity], self._delays, layer_input,
                                  self.params[f"weight_ih_l{layer}"],
                                  self._stacked(layer, True), bias, hs)
            inputs.append(layer_input)
            histories.append(hs)
            layer_input = hs[M:]
        self._cache = (inputs, histories, unbatched)
        h_n = np.stack([hs[M - 1 + T] for hs in histories])
        return self._external(layer_input.copy(), unbatched), self._states_out(h_n, unbatched)

    def backward(self, dy: Optional[ArrayLike] = None, dh_T: Optional[ArrayLike] = None, *,
                 clip_hidden: Optional[float] = None) -> tuple[np.ndarray, np.ndarray]:
        """BPTT for the last ``forward``; shapes as ``fastrnn.RNN.backward``."""
        if self._cache is None:
            raise NotFittedError("backward called before forward: call forward first, then backward")
        self._check_arrays(grads=True)
        inputs, histories, unbatched = self._cache
        T, B, _ = inputs[0].shape
        H, M = self.hidden_size, self.delays[-1]
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        d_above = self._gradient_in(dy, T, B, unbatched)
        dh_T = None if dh_T is None else self._states_in(dh_T, "dh_T", B, unbatched)
        dh0 = np.zeros((self.num_layers, B, H), dtype=self.dtype)
        for layer in reversed(range(self.num_layers)):
            layer_input, hs = inputs[layer], histories[layer]
            da = np.zeros((M + T, B, H), dtype=self.dtype)
            da[M:] = d_above
            if dh_T is not None:
                da[M - 1 + T] += dh_T[layer]
            d_input = np.zeros_like(layer_input)
            if T:
                gw_hh = np.zeros((len(self.delays), H, H), dtype=self.dtype)
                gb = np.zeros((1, H), dtype=self.dtype)
                _delays.delay_backward(
                    _ACTIVATIONS[self.nonlinearity], self._delays, layer_input,
                    self.params[f"weight_ih_l{layer}"], self._stacked(layer, False), hs, da,
                    d_input, self.grads[f"weight_ih_l{layer}"], gw_hh, gb[0],
                    np.ones(T * B, dtype=self.dtype), 0.0 if clip is None else clip)
                for j, d in enumerate(self.delays):
                    self.grads[delay_weight_name(d, layer)] += gw_hh[j]
                self.grads[f"bias_ih_l{layer}"] += gb[0]
                self.grads[f"bias_hh_l{layer}"] += gb[0]
            dh0[layer] = da[:M].sum(axis=0)   # h_0 stands for every history row
            d_above = d_input
        return self._external(d_above, unbatched), self._states_out(dh0, unbatched)

    __call__ = forward

    def __repr__(self) -> str:
        layers = f", num_layers={self.num_layers}" if self.num_layers > 1 else ""
        return (f"DelayRNN({self.input_size}, {self.hidden_size}, delays={self.delays}, "
                f"nonlinearity={self.nonlinearity!r}{layers}, dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    _saved_config_names = ("input_size", "hidden_size", "nonlinearity", "batch_first", "dtype",
                           "delays", "num_layers")

    @classmethod
    def _saved_shapes(cls, config, arrays):
        D = io_format.config_int(config, "input_size")
        H = io_format.config_int(config, "hidden_size")
        L = io_format.config_int(config, "num_layers", 1)
        delays = io_format.config_int_list(config, "delays", None, len(arrays))
        io_format.expect_count(arrays, L * (3 + len(delays)), "DelayRNN",
                               f"num_layers={L} with {len(delays)} delays")
        shapes = {}
        for layer in range(L):
            shapes[f"weight_ih_l{layer}"] = (H, D if layer == 0 else H)
            for d in delays:
                shapes[delay_weight_name(d, layer)] = (H, H)
            shapes[f"bias_ih_l{layer}"] = (H,)
            shapes[f"bias_hh_l{layer}"] = (H,)
        return shapes


io_format.register("DelayRNN", DelayRNN)
