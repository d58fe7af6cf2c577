"""Gated recurrent unit (Goodfellow et al. (2016), sec. 10.7.4, eq. 10.12-10.14).

In PyTorch's notation and gate order (r, z, n), for each layer:

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)        eq. 10.14
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)        eq. 10.13
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))     reset_after=True
    n = tanh(W_in x_t + b_in + W_hn (r * h_{t-1}) + b_hn)     reset_after=False
    h_t = z * h_{t-1} + (1 - z) * n                           eq. 10.12

``reset_after=True`` is PyTorch's and cuDNN's form (ONNX
``linear_before_reset=1``); ``reset_after=False`` is that of Cho et al.
(2014), with the reset gate applied to the state before the product. The
per-step kernels are ``fr_gru_*`` in ``csrc/cells/fr_cells_impl.h``; the time loops
in ``fastrnn/layers/_recurrent.pyx``.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.layers import _recurrent
from fastrnn.layers.base import RecurrentLayer
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format


class GRU(RecurrentLayer):
    """GRU layer(s), weight-compatible with ``torch.nn.GRU``.

    Parameters
    ----------
    input_size, hidden_size : int
        D and H.
    num_layers : int
        Stacked layers (Goodfellow et al. (2016), sec. 10.5).
    bidirectional : bool
        Add a layer running backwards in time; outputs are (..., 2H).
    bias : bool
        Whether the layer has ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
    reset_after : bool
        Where the reset gate acts: after the recurrent product (True,
        PyTorch) or before it (False, Goodfellow et al. (2016), eq. 10.12). Both forms have the
        same parameters.
    batch_first : bool
        If True, 3-D inputs and outputs are (B, T, D).
    dtype : numpy.float32 or numpy.float64
    seed : None, int or numpy.random.Generator
        Every parameter uniform in [-1/sqrt(H), 1/sqrt(H)], as PyTorch does.
    dropout, recurrent_dropout : float
        Dropout between stacked layers (PyTorch's) and of the state entering
        the recurrent product (Gal & Ghahramani 2016), in training mode only;
        see `fastrnn.layers.base.RecurrentLayer`.

    Attributes
    ----------
    params, grads : dict of ndarray
        PyTorch's names and shapes: ``weight_ih_l{k}`` (3H, D or dirs*H),
        ``weight_hh_l{k}`` (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,),
        ``_reverse`` for the backward direction (assignment checked and
        copied in, as for ``fastrnn.RNN``).

    Notes
    -----
    ``forward``, ``backward`` and ``step`` are those of every recurrent layer
    (`fastrnn.layers.base.RecurrentBase`). The state hx is
    (num_layers * dirs, B, H), or (num_layers * dirs, H) for an unbatched
    (T, D) input, as in PyTorch.
    """

    _gates = 3
    _renamed_keywords = {"forward": {"state": "hx"}, "backward": {"dstate": "dhx_n"},
                         "step": {"state": "hx"}}

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 bidirectional: bool = False, bias: bool = True, reset_after: bool = True,
                 batch_first: bool = False, dtype: DTypeLike = np.float32,
                 seed: SeedLike = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0) -> None:
        self.reset_after = bool(reset_after)
        self._kind = _recurrent.GRU if self.reset_after else _recurrent.GRU_BEFORE
        super().__init__(input_size, hidden_size, num_layers=num_layers,
                         bidirectional=bidirectional, bias=bias, batch_first=batch_first,
                         dtype=dtype, seed=seed, dropout=dropout,
                         recurrent_dropout=recurrent_dropout)

    def _bias_split(self, layer, suffix):
        if not self.reset_after:
            return super()._bias_split(layer, suffix)
        H = self.hidden_size
        if not self.bias:
            return np.zeros(3 * H, dtype=self.dtype), np.zeros(H, dtype=self.dtype)
        # b_hn sits inside the reset gate's product; b_hr and b_hz add linearly.
        b_hh = self.params[f"bias_hh_l{layer}{suffix}"]
        bias_x = self.params[f"bias_ih_l{layer}{suffix}"].copy()
        bias_x[:2 * H] += b_hh[:2 * H]
        return bias_x, np.ascontiguousarray(b_hh[2 * H:])

    def _recurrent_buffers(self, T, B, alloc, every_step=True):
        H = self.hidden_size
        if self.reset_after and every_step:
            # Every step's W_hn h_{t-1} + b_hn is needed again by BPTT.
            return alloc((T, B, 3 * H), dtype=self.dtype), B * 3 * H, np.empty(0, self.dtype)
        # One scratch step for the products (reset before the product, or
        # nothing kept for BPTT); r_t * h_{t-1} kept for dW_hn.
        return (np.zeros((B, 3 * H), dtype=self.dtype), 0,
                np.empty(0, self.dtype) if self.reset_after else alloc((T, B, H), dtype=self.dtype))

    def _config_repr(self):
        parts = super()._config_repr()
        if not self.reset_after:
            parts.insert(-1, "reset_after=False")
        return parts

    # -- persistence (fastrnn.io) --
    _saved_config_names = RecurrentLayer._saved_config_names + ("reset_after",)


io_format.register("GRU", GRU)
