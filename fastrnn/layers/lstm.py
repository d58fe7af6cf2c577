"""Long short-term memory (Goodfellow et al. (2016), sec. 10.7.4, eq. 10.8-10.11).

In PyTorch's notation and gate order (i, f, g, o), for each layer:

    i = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi [+ p_i * c_{t-1}])
    f = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf [+ p_f * c_{t-1}])   eq. 10.8
    g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    c_t = f * c_{t-1} + i * g                                                eq. 10.9
    o = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho [+ p_o * c_t])        eq. 10.11
    h_t = o * tanh(c_t)

(Goodfellow et al. (2016)'s input gate, eq. 10.10, is i; its sigma for the cell input is tanh
here, as in PyTorch). The bracketed peephole terms (Goodfellow et al. (2016), fig. 10.17) are an
option. Where the code is:

- forward step: ``fr_lstm_fwd`` in ``csrc/cells/fr_cells_impl.h``;
- backward step (the LSTM's BPTT, every derivative written out):
  ``fr_lstm_bwd`` in ``csrc/cells/fr_cells_impl.h``;
- the time loops around them (GEMMs): ``fastrnn/layers/_recurrent.pyx``.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.layers import _recurrent
from fastrnn.layers.base import RecurrentLayer
from fastrnn._core.validation import SeedLike, check_bool, check_real
from fastrnn.io import format as io_format



class LSTM(RecurrentLayer):
    """LSTM layer(s), weight-compatible with ``torch.nn.LSTM``.

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
    forget_bias : float
        Added to the forget-gate block of ``bias_ih_l{k}`` at initialisation,
        so that the cell remembers by default (Gers et al. 2000, advocated in
        Goodfellow et al. (2016), end of sec. 10.7.4). Ignored without ``bias``; use 0.0
        for PyTorch's initialisation.
    peepholes : bool
        Let the cell state enter the gates (Goodfellow et al. (2016), fig. 10.17): parameters
        ``weight_peephole_l{k}`` of shape (3, H), rows (p_i, p_f, p_o).
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
        PyTorch's names and shapes: ``weight_ih_l{k}`` (4H, D or dirs*H),
        ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,),
        ``_reverse`` for the backward direction (assignment checked and
        copied in, as for ``fastrnn.RNN``); gradients accumulate until
        ``zero_grad``.

    Notes
    -----
    ``forward``, ``backward`` and ``step`` are those of every recurrent layer
    (`fastrnn.layers.base.RecurrentBase`). The state hx is a pair (h, c),
    each (num_layers * dirs, B, H), or (num_layers * dirs, H) for an
    unbatched (T, D) input, as in PyTorch; so are hx_n, dhx_n and dhx.
    """

    _gates = 4
    _has_cell = True
    _kind = _recurrent.LSTM
    _renamed_keywords = {"forward": {"state": "hx"}, "backward": {"dstate": "dhx_n"},
                         "step": {"state": "hx"}}
    _config_names = RecurrentLayer._config_names + ("peepholes",)

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 bidirectional: bool = False, bias: bool = True, forget_bias: float = 1.0,
                 peepholes: bool = False, batch_first: bool = False,
                 dtype: DTypeLike = np.float32, seed: SeedLike = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0) -> None:
        self.forget_bias = check_real(forget_bias, "forget_bias")
        self.peepholes = check_bool(peepholes, "peepholes")
        super().__init__(input_size, hidden_size, num_layers=num_layers,
                         bidirectional=bidirectional, bias=bias, batch_first=batch_first,
                         dtype=dtype, seed=seed, dropout=dropout,
                         recurrent_dropout=recurrent_dropout)

    def _extra_params(self, layer, suffix):
        if self.peepholes:
            yield f"weight_peephole_l{layer}{suffix}", (3, self.hidden_size)

    def _init_extra(self, rng):
        H = self.hidden_size
        self._no_peepholes = np.zeros(3 * H, dtype=self.dtype)
        self._peephole_scratch = np.zeros(3 * H, dtype=self.dtype)
        if self.bias and self.forget_bias:
            for name, p in self.params.items():
                if name.startswith("bias_ih_"):
                    p[H:2 * H] += self.dtype.type(self.forget_bias)

    def _peepholes(self, layer, suffix):
        if self.peepholes:
            return self.params[f"weight_peephole_l{layer}{suffix}"].reshape(-1)
        return self._no_peepholes

    def _peephole_grad(self, layer, suffix):
        if self.peepholes:
            return self.grads[f"weight_peephole_l{layer}{suffix}"].reshape(-1)
        return self._peephole_scratch

    @classmethod
    def _from_torch_kwargs(cls, module):
        args = super()._from_torch_kwargs(module)
        args["forget_bias"] = 0.0
        return args

    def _config_repr(self):
        parts = super()._config_repr()
        if self.forget_bias != 1.0:
            parts.insert(-1, f"forget_bias={self.forget_bias}")
        if self.peepholes:
            parts.insert(-1, "peepholes=True")
        return parts

    # -- persistence (fastrnn.io) --
    _saved_config_names = RecurrentLayer._saved_config_names + ("forget_bias", "peepholes")

    @classmethod
    def _saved_extra_shapes(cls, config, hidden_size):
        if io_format.config_bool(config, "peepholes", False):
            return {"weight_peephole": (3, hidden_size)}
        return {}


io_format.register("LSTM", LSTM)

