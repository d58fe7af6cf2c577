"""The simple recurrent layer: tanh (or ReLU) units, trained by BPTT.

Goodfellow et al. (2016), sec. 10.2, eq. 10.4 (the state part) in PyTorch's notation:

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

with the gradients of section 10.2.1 (the formulas after eq. 10.5). Layers,
directions, states and lengths are handled by `fastrnn._layer.RecurrentLayer`;
the time loops are in ``fastrnn/layers/_recurrent.pyx``, the per-step kernels
(``fr_rnn_fwd``, ``fr_rnn_bwd``) in ``csrc/cells/fr_cells_impl.h``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn.layers import _recurrent
from fastrnn.layers.base import RecurrentLayer
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format

if TYPE_CHECKING:   # imported where used (in __new__) at run time
    from fastrnn.layers.delays import DelayRNN

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
    delays : None or sequence of int
        Recurrent connections from h_{t-d} for each d (Goodfellow et al.
        (2016), sec. 10.7.2). None or (1,) is the usual layer; anything else
        returns a ``fastrnn.DelayRNN`` (one layer, one direction, with bias).
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
        (`fastrnn._layer.ParameterDict`).
    grads : dict of ndarray
        Same keys; filled by ``backward`` and accumulated until ``zero_grad``.

    Notes
    -----
    Shapes follow ``torch.nn.RNN``: x is (T, B, D) (time-major) or (T, D) for
    one unbatched sequence; the hidden state is (num_layers * dirs, B, H), or
    (num_layers * dirs, H) for an unbatched sequence. A sequence of length
    T = 0 is allowed: the output is empty and the final state is the initial
    one.
    """

    _gates = 1

    # The return type is the truth (delays other than (1,) give a DelayRNN),
    # which mypy does not accept from a __new__.
    def __new__(cls, *args: Any, delays: Optional[Sequence[int]] = None,  # type: ignore[misc]
                **kwargs: Any) -> Union[RNN, DelayRNN]:
        # Recurrent connections with delays other than 1 (Goodfellow et al. (2016),
        # sec. 10.7.2) have a loop of their own: RNN(..., delays=(1, 3)) builds a DelayRNN.
        if delays is not None:
            from fastrnn.layers.delays import check_delays
            delays = tuple(check_delays(delays))
        if delays is not None and delays != (1,):
            from fastrnn.layers.delays import DelayRNN
            extra = set(kwargs) - {"nonlinearity", "num_layers", "batch_first", "dtype", "seed"}
            if extra:
                raise ValueError(f"RNN with delays={tuple(delays)} does not take {sorted(extra)}")
            return DelayRNN(*args, delays=delays, **kwargs)
        return super().__new__(cls)

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh",
                 num_layers: int = 1, bidirectional: bool = False, bias: bool = True,
                 batch_first: bool = False, dtype: DTypeLike = np.float32,
                 seed: SeedLike = None, delays: Optional[Sequence[int]] = None) -> None:
        if not isinstance(nonlinearity, str) or nonlinearity not in _KINDS:
            raise ValueError(
                f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self._kind = _KINDS[nonlinearity]
        super().__init__(input_size, hidden_size, num_layers=num_layers,
                         bidirectional=bidirectional, bias=bias, batch_first=batch_first,
                         dtype=dtype, seed=seed)

    @classmethod
    def _from_torch_kwargs(cls, module):
        args = super()._from_torch_kwargs(module)
        args["nonlinearity"] = getattr(module, "nonlinearity", None)
        return args

    def forward(self, x: ArrayLike, h0: Optional[ArrayLike] = None, *,
                lengths: Optional[ArrayLike] = None) -> tuple[np.ndarray, np.ndarray]:
        """Run the layer over a sequence.

        Parameters
        ----------
        x : array_like, (T, B, D), (B, T, D) with ``batch_first``, or (T, D)
        h0 : array_like, (num_layers * dirs, B, H), or (num_layers * dirs, H)
            for unbatched x; zeros if None.
        lengths : array_like of int, (B,), optional
            Valid steps of each sequence; outputs past a sequence's end are
            zero and its final state is taken at its own end.

        Returns
        -------
        y : ndarray, (T, B, dirs * H) (or as x is laid out): every h_t of the
            last layer.
        h_n : ndarray, like h0: the last state of every layer and direction.
        """
        y, h_n, _ = self._forward(x, h0, None, lengths)
        return y, h_n

    def backward(self, dy: Optional[ArrayLike] = None, dh_T: Optional[ArrayLike] = None, *,
                 clip_hidden: Optional[float] = None) -> tuple[np.ndarray, np.ndarray]:
        """Back-propagation through time for the last ``forward`` call.

        Parameter gradients are added into ``self.grads``.

        Parameters
        ----------
        dy : array_like, shaped as the output y, or None (no loss on y)
        dh_T : array_like, shaped as h_n, or None
        clip_hidden : float > 0 or None
            Clip dL/dh_t element-wise to [-clip_hidden, clip_hidden] at every
            step before it is propagated further back (Graves 2013; Goodfellow et al. (2016),
            section 10.7.7).

        Returns
        -------
        dx : ndarray, shaped as x
        dh0 : ndarray, shaped as h0
        """
        dx, dh0, _ = self._backward(dy, dh_T, None, clip_hidden, names=("dh_T", None))
        return dx, dh0


    def __call__(self, x: ArrayLike, h0: Optional[ArrayLike] = None, **kwargs: Any
                 ) -> tuple[np.ndarray, np.ndarray]:
        return self.forward(x, h0, **kwargs)

    def _config_repr(self):
        parts = super()._config_repr()
        parts.insert(2, f"nonlinearity={self.nonlinearity!r}")
        return parts

    # -- persistence (fastrnn.io) --
    _saved_config_names = RecurrentLayer._saved_config_names + ("nonlinearity",)


io_format.register("RNN", RNN)
