"""The simple recurrent layer: tanh (or ReLU) units, trained by BPTT.

Goodfellow et al. (2016), sec. 10.2, eq. 10.4 (the state part) in PyTorch's notation:

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

with the gradients of section 10.2.1 (the formulas after eq. 10.5). Layers,
directions, states and lengths are handled by `fastrnn.layers.base.RecurrentLayer`;
the time loops are in ``fastrnn/layers/_recurrent.pyx``, the per-step kernels
(``fr_rnn_fwd``, ``fr_rnn_bwd``) in ``csrc/cells/fr_cells_impl.h``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.layers import _recurrent
from fastrnn.layers.base import RecurrentLayer
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format

_KINDS = {"tanh": _recurrent.RNN_TANH, "relu": _recurrent.RNN_RELU}


class RNN(RecurrentLayer):
    """Elman network, weight-compatible with ``torch.nn.RNN``.

    Parameters
    ----------
    input_size : int
        Features per time step, D.
    hidden_size : int
        Units, H.
    nonlinearity : {"tanh", "relu"}
    num_layers : int
        Stacked layers; layer k > 0 reads the outputs of layer k - 1
        (Goodfellow et al. (2016), sec. 10.5).
    bidirectional : bool
        Add a layer running backwards in time (Goodfellow et al. (2016), sec. 10.3); the
        output concatenates both directions' states, (..., 2H).
    bias : bool
        Whether the layer has ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
    batch_first : bool
        If True, 3-D inputs and outputs are (B, T, D) instead of (T, B, D).
    dtype : numpy.float32 or numpy.float64
        Precision of the parameters and of every computation.
    seed : None, int or numpy.random.Generator
        Initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)],
        as PyTorch does.
    dropout, recurrent_dropout : float
        Dropout between stacked layers (PyTorch's) and of the state entering
        the recurrent product (Gal & Ghahramani 2016), in training mode only;
        see `fastrnn.layers.base.RecurrentLayer`.

    Attributes
    ----------
    params : dict of ndarray
        ``weight_ih_l{k}`` (H, D or dirs*H), ``weight_hh_l{k}`` (H, H), and with
        ``bias``, ``bias_ih_l{k}`` (H,), ``bias_hh_l{k}`` (H,), plus the
        ``_reverse`` copies of a bidirectional layer: PyTorch's names and
        shapes, so ``torch_rnn.state_dict()`` loads unchanged. The layer owns
        the arrays: ``params[name] = array`` checks the shape and copies the
        values in (cast to the layer's dtype), so optimisers holding the
        array see them; keys cannot be added or removed
        (`fastrnn.layers.base.ParameterDict`).
    grads : dict of ndarray
        Same keys; filled by ``backward`` and accumulated until ``zero_grad``.

    Notes
    -----
    ``forward``, ``backward`` and ``step`` are those of every recurrent layer
    (`fastrnn.layers.base.RecurrentBase`). Recurrent connections with delays
    other than 1 are ``fastrnn.DelayRNN``. Shapes follow ``torch.nn.RNN``: x
    is (T, B, D) (time-major) or (T, D) for one unbatched sequence; the state
    hx is (num_layers * dirs, B, H), or (num_layers * dirs, H) for an
    unbatched sequence. A sequence of length
    T = 0 is allowed: the output is empty and the final state is the initial
    one.
    """

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh",
                 num_layers: int = 1, bidirectional: bool = False, bias: bool = True,
                 batch_first: bool = False, dtype: DTypeLike = np.float32,
                 seed: SeedLike = None, delays: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0) -> None:
        if delays is not None:
            # RNN(delays=...) used to return a DelayRNN: a constructor that
            # builds another class hides which layer one has.
            raise TypeError("RNN does not take delays; use fastrnn.DelayRNN(input_size, "
                            "hidden_size, delays=...) for recurrent connections with delays")
        if not isinstance(nonlinearity, str) or nonlinearity not in _KINDS:
            raise ValueError(
                f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self._kind = _KINDS[nonlinearity]
        super().__init__(input_size, hidden_size, num_layers=num_layers,
                         bidirectional=bidirectional, bias=bias, batch_first=batch_first,
                         dtype=dtype, seed=seed, dropout=dropout,
                         recurrent_dropout=recurrent_dropout)

    @classmethod
    def _from_torch_kwargs(cls, module):
        args = super()._from_torch_kwargs(module)
        args["nonlinearity"] = getattr(module, "nonlinearity", None)
        return args

    def _config_repr(self):
        parts = super()._config_repr()
        parts.insert(2, f"nonlinearity={self.nonlinearity!r}")
        return parts

    # -- persistence (fastrnn.io) --
    _saved_config_names = RecurrentLayer._saved_config_names + ("nonlinearity",)


io_format.register("RNN", RNN)
