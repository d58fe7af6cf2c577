"""The Clockwork RNN: hidden units at several time scales (Goodfellow et al. (2016), sec. 10.7.9).

Koutnik, Greff, Gomez & Schmidhuber (2014), "A Clockwork RNN". The units form
groups ("modules") with periods P_1 < P_2 < ...; module i is recomputed only
at steps t with t mod P_i = 0 and otherwise holds its state, and it reads only
the states of itself and of slower modules. Slow modules carry information
over long spans because their state is not rewritten at every step (the
"multiple time scales" idea of section 10.7.9), and they cost nothing on the
steps they skip. The loops are in ``fastrnn/layers/_clockwork.pyx``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.layers import _clockwork
from fastrnn.layers.base import (
    C_INT_MAX, RecurrentBase, SweepCache, _all_rows, check_parameter_memory, check_size,
)
from fastrnn._core.validation import (
    SeedLike, check_bool, check_dtype, check_int, check_random_state, check_real,
)
from fastrnn.io import format as io_format
from fastrnn.layers import _recurrent

_ACTIVATIONS = _recurrent.ACTIVATION_CODES


class _ClockworkSweep(SweepCache):
    __slots__ = ("x", "hs")


class ClockworkRNN(RecurrentBase):
    """A Clockwork RNN layer, with the contract of every recurrent layer
    (`fastrnn.layers.base.RecurrentBase`).

    Parameters
    ----------
    input_size : int
    hidden_size : int
        Split evenly between the modules: it must be a multiple of
        ``len(periods)``.
    periods : sequence of int
        One period per module, each in [1, 2**31 - 1]; sorted ascending here
        (module 0 is the fastest). Modules may share a period; a period
        longer than a sequence updates its module at step 0 only.
    nonlinearity : {"tanh", "relu"}
    dtype, seed, batch_first : as for ``fastrnn.RNN``.

    Attributes
    ----------
    params, grads : dict
        ``weight_ih_l0`` (H, D), ``weight_hh_l0`` (H, H) block upper
        triangular (the blocks below the diagonal are zero and stay zero;
        values assigned there are never read),
        ``bias_ih_l0``, ``bias_hh_l0`` (H,): the names of ``fastrnn.RNN``, so a
        Clockwork RNN whose periods are all 1 is an RNN with a masked W_hh.
    mask : ndarray (H, H) of bool
        Where W_hh may be nonzero.

    Notes
    -----
    Step t counts from 0, so every module is updated at the first step.
    The state hx is (1, B, H), or (1, H) for an unbatched (T, D) input.

    ``step(x_t, hx=None, *, t=None)`` needs the index t of the step in its
    sequence, since which modules update depends on it: the state is the
    units' values only, as for ``fastrnn.RNN``, and the layer keeps no step
    counter of its own (one layer serves many streams). ``t`` may be left out
    only for the first step (hx None, t = 0); ``forward`` on a sequence
    equals ``step`` with t = 0, 1, ... .
    """

    _config_names = ("input_size", "hidden_size", "dtype", "periods", "module_size",
                     "nonlinearity")
    _step_options = ("t",)

    def __init__(self, input_size: int, hidden_size: int, periods: Sequence[int] = (1, 2, 4, 8),
                 *, nonlinearity: str = "tanh", batch_first: bool = False,
                 dtype: DTypeLike = np.float32, seed: SeedLike = None) -> None:
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size")
        if isinstance(periods, (str, bytes)) or not hasattr(periods, "__iter__"):
            raise TypeError(f"periods must be a sequence of integers, got "
                            f"{type(periods).__name__}")
        periods = [check_int(p, f"periods[{i}]", minimum=1, maximum=C_INT_MAX)
                   for i, p in enumerate(periods)]
        if not periods:
            raise ValueError("periods must hold at least one period")
        if self.hidden_size % len(periods):
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of the number of "
                f"periods ({len(periods)})"
            )
        if not isinstance(nonlinearity, str) or nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.periods = tuple(sorted(periods))
        self.module_size = self.hidden_size // len(periods)
        self.nonlinearity = nonlinearity
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dtype = check_dtype(dtype)
        H, D, k = self.hidden_size, self.input_size, self.module_size
        check_parameter_memory(H * (D + H + 2) + H * H // 8, 4, self.dtype.itemsize,
                               f"ClockworkRNN({D}, {H})")
        module = np.arange(H) // k
        self.mask = module[None, :] >= module[:, None]
        rng = check_random_state(seed)
        bound = 1.0 / np.sqrt(H)
        self._init_params({
            "weight_ih_l0": rng.uniform(-bound, bound, (H, D)).astype(self.dtype),
            "weight_hh_l0": (rng.uniform(-bound, bound, (H, H)) * self.mask).astype(self.dtype),
            "bias_ih_l0": rng.uniform(-bound, bound, H).astype(self.dtype),
            "bias_hh_l0": rng.uniform(-bound, bound, H).astype(self.dtype),
        })
        self._periods = np.asarray(self.periods, dtype=np.intp)
        self._cache = None

    def _kernel_periods(self, T):
        """The periods as the loops take them: one longer than the sequence
        acts as T (module updated at step 0 only), so that the loops' int
        step counters cannot overflow."""
        return np.minimum(self._periods, max(T, 1))

    def active_modules(self, t: int) -> list[int]:
        """Indices of the modules updated at step t."""
        return [i for i, p in enumerate(self.periods) if t % p == 0]

    def _forward_weights(self):
        p = self.params
        return (_ACTIVATIONS[self.nonlinearity], p["weight_ih_l0"], p["weight_hh_l0"],
                p["bias_ih_l0"] + p["bias_hh_l0"])

    def _forward(self, x, hx, lengths):
        self._check_arrays()
        x_tm, batch, unbatched = self._sequence_input(x, lengths)
        T, B, _ = x_tm.shape
        if T > C_INT_MAX // 2:   # the loops step t by a period up to T, in a C int
            raise ValueError(f"x has {T} time steps; ClockworkRNN takes at most {C_INT_MAX // 2}")
        hs = self._one_layer_start(hx, B, unbatched, T, batch)
        _clockwork.clockwork_forward(self._forward_weights(), self._periods, 0, x_tm, hs,
                                     batch.batch_sizes)
        self._cache = _ClockworkSweep(batch, unbatched, x=x_tm, hs=hs)
        return self._one_layer_outputs(hs, batch, unbatched)

    def _backward(self, dy, dhx_n, clip_hidden):
        sweep = self._last_forward()
        batch, unbatched = sweep.batch, sweep.unbatched
        T, B, H = batch.T, batch.B, self.hidden_size
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        da, dh_direct = self._one_layer_gradients(dy, dhx_n, batch, unbatched)
        dx = np.zeros_like(sweep.x)
        dh0 = np.zeros((B, H), dtype=self.dtype)
        if T:
            grad_bias = np.zeros(H, dtype=self.dtype)
            _clockwork.clockwork_backward(
                (_ACTIVATIONS[self.nonlinearity], self.params["weight_ih_l0"],
                 self.params["weight_hh_l0"]),
                self._kernel_periods(T), (sweep.x, sweep.hs), da, (dx, dh0),
                (self.grads["weight_ih_l0"], self.grads["weight_hh_l0"], grad_bias),
                batch.batch_sizes, 0.0 if clip is None else clip)
            self.grads["bias_ih_l0"] += grad_bias
            self.grads["bias_hh_l0"] += grad_bias
        return self._one_layer_results(dx, dh0, dh_direct, batch, unbatched)

    def _step(self, x_t, hx, t=None):
        if t is None:
            if hx is not None:
                raise TypeError("ClockworkRNN.step() needs t=, the index in its sequence of "
                                "the step it runs (0 for the first): which modules update "
                                "depends on it")
            t = 0
        t = check_int(t, "t", minimum=0, maximum=2**62)
        return self._one_layer_step(x_t, hx, lambda x, hs: _clockwork.clockwork_forward(
            self._forward_weights(), self._periods, t, x, hs, _all_rows(1, x.shape[1])))

    def __repr__(self) -> str:
        return (f"ClockworkRNN({self.input_size}, {self.hidden_size}, periods={self.periods}, "
                f"nonlinearity={self.nonlinearity!r}, dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    _saved_config_names = ("input_size", "hidden_size", "nonlinearity", "batch_first", "dtype",
                           "periods")

    @classmethod
    def _saved_shapes(cls, config, arrays):
        D = io_format.config_int(config, "input_size")
        H = io_format.config_int(config, "hidden_size")
        io_format.config_int_list(config, "periods", None, H)
        return {"weight_ih_l0": (H, D), "weight_hh_l0": (H, H),
                "bias_ih_l0": (H,), "bias_hh_l0": (H,)}


io_format.register("ClockworkRNN", ClockworkRNN)
