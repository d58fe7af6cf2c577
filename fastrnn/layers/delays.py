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

from typing import Iterable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.layers import _delays
from fastrnn.layers.base import (
    C_INT_MAX, RecurrentBase, SweepCache, _all_rows, check_parameter_memory, check_rows,
    check_size,
)
from fastrnn._core.validation import (
    SeedLike, as_float_array, check_bool, check_dtype, check_int, check_random_state, check_real,
)
from fastrnn.io import format as io_format
from fastrnn.layers import _recurrent

_ACTIVATIONS = _recurrent.ACTIVATION_CODES


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


class _DelaySweep(SweepCache):
    __slots__ = ("inputs", "states", "history")


class DelayRNN(RecurrentBase):
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
    The contract of every recurrent layer (`fastrnn.layers.base.RecurrentBase`),
    with a state that may carry the history the delays read. ``hx`` is either

    - a state, (num_layers, B, H) (or (num_layers, H) unbatched), as for
      ``fastrnn.RNN``: each layer's h_0, held for every step before the
      sequence (h_s = h_0 for s <= 0); or
    - a history, (num_layers, M, B, H) (or (num_layers, M, H) unbatched),
      M = max(delays): row j of a layer is its state at step j - M + 1
      relative to the first step of x, so row M - 1 is h_0 and row 0 the
      oldest state a delay reads.

    ``forward`` returns the final state in the layout it was given (a state
    for None), and ``backward`` the initial state's gradient in that layout
    too; ``dhx_n`` is laid out as hx_n. ``step`` always returns the history
    (row M - 1 is the new state), so that stepping reproduces ``forward``;
    it accepts either layout.
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

    def _delay_matrices(self, layer, transposed):
        """(K, H, H): W_d of every delay d (transposed for the forward
        products, which multiply states from the left)."""
        mats = [self.params[delay_weight_name(d, layer)] for d in self.delays]
        return np.ascontiguousarray(np.stack([m.T if transposed else m for m in mats]))

    def _forward_weights(self, layer):
        p = self.params
        return (_ACTIVATIONS[self.nonlinearity], p[f"weight_ih_l{layer}"],
                self._delay_matrices(layer, True),
                p[f"bias_ih_l{layer}"] + p[f"bias_hh_l{layer}"])

    def _initial_state(self, hx, name, B, unbatched):
        """(L, B, H) from a state, (L, M, B, H) from a history, as the
        caller's (copied, zeros for None), and whether it is a history."""
        if hx is None:
            return self._state_array(None, name, B, unbatched), False
        L, M, H = self.num_layers, self.delays[-1], self.hidden_size
        state = self._state_shape(B, unbatched)
        history = (L, M) + state[1:]
        h = as_float_array(hx, name, self.dtype)
        if h.shape == history:
            return h.reshape(L, M, B, H).copy(), True
        if h.shape == state:
            return h.reshape(L, B, H).copy(), False
        raise ValueError(f"{name} must be a state of shape {state} or a history of shape "
                         f"{history}, got shape {h.shape}")

    def _final_rows(self, batch, history):
        """Row offsets (from each sequence's length) in hs of the final
        state, or of the M rows of the final history."""
        M = self.delays[-1]
        return np.arange(M) if history else M - 1

    def _forward(self, x, hx, lengths):
        self._check_arrays()
        layer_input, batch, unbatched = self._sequence_input(x, lengths)
        T, B, _ = layer_input.shape
        H, M = self.hidden_size, self.delays[-1]
        check_rows(M + T, B, f"the history (max(delays) = {M} steps) and x")
        h0, history = self._initial_state(hx, "hx", B, unbatched)
        h0 = batch.sort(h0, axis=-2)
        inputs, states = [], []
        for layer in range(self.num_layers):
            hs = np.empty((M + T, B, H), dtype=self.dtype)
            hs[:M] = h0[layer]   # a state stands for every row of the history
            _delays.delay_forward(self._forward_weights(layer), self._delays, layer_input, hs,
                                  batch.batch_sizes)
            inputs.append(layer_input)
            states.append(hs)
            layer_input = hs[M:]
        self._cache = _DelaySweep(batch, unbatched, inputs=inputs, states=states,
                                  history=history)
        h_n = np.stack([batch.final(hs, offset=self._final_rows(batch, history))
                        for hs in states])
        h_n = batch.unsort(h_n, axis=-2)
        if unbatched:
            h_n = h_n[..., 0, :]
        return self._output_sequence(layer_input, batch, unbatched), h_n

    def _backward(self, dy, dhx_n, clip_hidden):
        sweep = self._last_forward()
        batch, unbatched = sweep.batch, sweep.unbatched
        T, B, H, M = batch.T, batch.B, self.hidden_size, self.delays[-1]
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        d_above = batch.gradient_from_above(self._gradient_time_major(dy, batch, unbatched))
        dh_n = None
        if dhx_n is not None:
            dh_n = self._final_state_gradient(dhx_n, sweep.history, B, unbatched)
            dh_n = batch.sort(dh_n, axis=-2)
        dh0 = np.zeros((self.num_layers, M, B, H) if sweep.history else (self.num_layers, B, H),
                       dtype=self.dtype)
        for layer in reversed(range(self.num_layers)):
            layer_input, hs = sweep.inputs[layer], sweep.states[layer]
            da = np.zeros((M + T, B, H), dtype=self.dtype)
            da[M:] = d_above
            if dh_n is not None:
                batch.add_at_ends(da, dh_n[layer], offset=self._final_rows(batch, sweep.history))
            d_input = np.zeros_like(layer_input)
            if T:
                grad_delay = np.zeros((len(self.delays), H, H), dtype=self.dtype)
                grad_bias = np.zeros(H, dtype=self.dtype)
                _delays.delay_backward(
                    (_ACTIVATIONS[self.nonlinearity], self.params[f"weight_ih_l{layer}"],
                     self._delay_matrices(layer, False)),
                    self._delays, (layer_input, hs), da, d_input,
                    (self.grads[f"weight_ih_l{layer}"], grad_delay, grad_bias),
                    batch.batch_sizes, 0.0 if clip is None else clip)
                for j, d in enumerate(self.delays):
                    self.grads[delay_weight_name(d, layer)] += grad_delay[j]
                self.grads[f"bias_ih_l{layer}"] += grad_bias
                self.grads[f"bias_hh_l{layer}"] += grad_bias
            # a state given to forward stood for every history row
            dh0[layer] = da[:M] if sweep.history else da[:M].sum(axis=0)
            d_above = d_input
        dh0 = batch.unsort(dh0, axis=-2)
        if unbatched:
            dh0 = dh0[..., 0, :]
        return self._external_sequence(batch.unsort(d_above, axis=1), unbatched), dh0

    def _final_state_gradient(self, dhx_n, history, B, unbatched):
        """dhx_n as (L, B, H), or (L, M, B, H) when forward was given a
        history (then hx_n was one too)."""
        if not history:
            return self._state_array(dhx_n, "dhx_n", B, unbatched)
        L, M, H = self.num_layers, self.delays[-1], self.hidden_size
        want = (L, M, H) if unbatched else (L, M, B, H)
        return as_float_array(dhx_n, "dhx_n", self.dtype, shape=want).reshape(L, M, B, H)

    def _step(self, x_t, hx):
        x = self._step_input(x_t)
        unbatched = x.ndim == 1
        B, H, M = (1 if unbatched else x.shape[0]), self.hidden_size, self.delays[-1]
        self._check_arrays()
        h0, _ = self._initial_state(hx, "hx", B, unbatched)
        history = np.empty((self.num_layers, M, B, H), dtype=self.dtype)
        layer_input = x.reshape(1, B, self.input_size)
        for layer in range(self.num_layers):
            hs = np.empty((M + 1, B, H), dtype=self.dtype)
            hs[:M] = h0[layer]
            _delays.delay_forward(self._forward_weights(layer), self._delays, layer_input, hs,
                                  _all_rows(1, B))
            history[layer] = hs[1:]
            layer_input = hs[M:]
        y_t = history[-1, -1]
        if unbatched:
            return y_t[0], history[:, :, 0, :]
        return y_t, history

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
