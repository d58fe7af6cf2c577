"""Deep transitions: an MLP between h(t-1) and h(t) (Pascanu et al. (2014),
"How to construct deep recurrent neural networks"; Goodfellow et al. (2016),
sec. 10.5, fig. 10.14, middle, and with the skip connection, right).

    z_1 = tanh(W_1 h_{t-1} + U x_t + b_1)
    z_k = tanh(W_k z_{k-1} + b_k)                     k = 2 .. depth
    h_t = z_depth

With ``skip=True`` the last layer also reads h_{t-1} through its own matrix
S, z_depth = tanh(W_depth z_{depth-1} + S h_{t-1} + b_depth): the shortcut of
Pascanu et al.'s DT(S)-RNN, which gives the gradient a path of one
nonlinearity per step again (their shortcut also feeds x_t to that layer; we
feed only h_{t-1}, the connection that shortens the path between steps).

The time loops are in ``fastrnn/layers/_deep_transition.pyx``.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from numpy.typing import DTypeLike

from fastrnn.layers import _deep_transition
from fastrnn.layers.base import (
    C_INT_MAX, RecurrentBase, SweepCache, _all_rows, check_parameter_memory, check_size,
)
from fastrnn._core.validation import (
    SeedLike, check_bool, check_dtype, check_int, check_random_state, check_real,
)
from fastrnn.io import format as io_format


class _DeepSweep(SweepCache):
    __slots__ = ("x", "hs", "zs")


class DeepTransitionRNN(RecurrentBase):
    """A recurrent layer whose state transition is a ``depth``-layer tanh
    MLP, with the contract of every recurrent layer
    (`fastrnn.layers.base.RecurrentBase`).

    Parameters
    ----------
    input_size, hidden_size : int
        D and H; every layer of the transition has H units.
    depth : int >= 1
        Layers of the transition MLP. ``depth=1`` is the tanh ``fastrnn.RNN``
        (with one bias vector: ``bias[0]`` plays ``bias_ih_l0 + bias_hh_l0``).
    skip : bool
        Feed h_{t-1} also to the last layer (needs ``depth >= 2``).
    batch_first, dtype, seed : as for ``fastrnn.RNN``; every parameter is
        drawn uniform in [-1/sqrt(H), 1/sqrt(H)].

    Attributes
    ----------
    params, grads : dict of ndarray
        ``weight_ih`` (H, D): U; ``weight_hh`` (depth, H, H): W_1 .. W_depth;
        ``bias`` (depth, H): b_1 .. b_depth; with ``skip``, ``weight_skip``
        (H, H): S.

    Notes
    -----
    The state hx is (1, B, H), or (1, H) for an unbatched (T, D) input, as for
    a one-layer ``fastrnn.RNN``. Every layer's activations are kept for BPTT:
    the memory of a forward is depth times that of an RNN's.
    """

    _config_names = ("input_size", "hidden_size", "depth", "skip", "dtype")

    def __init__(self, input_size: int, hidden_size: int, *, depth: int = 2,
                 skip: bool = False, batch_first: bool = False,
                 dtype: DTypeLike = np.float32, seed: SeedLike = None) -> None:
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size")
        self.depth = check_int(depth, "depth", minimum=1, maximum=C_INT_MAX)
        self.skip = check_bool(skip, "skip")
        if self.skip and self.depth < 2:
            raise ValueError("skip needs depth >= 2: with one layer, h_{t-1} already feeds "
                             "the last (only) layer")
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dtype = check_dtype(dtype)
        H, D, L = self.hidden_size, self.input_size, self.depth
        check_parameter_memory(H * D + (L + self.skip) * H * H + L * H, 3 + self.skip,
                               self.dtype.itemsize, repr(self))
        rng = check_random_state(seed)
        k = 1.0 / np.sqrt(H)
        params = {"weight_ih": rng.uniform(-k, k, (H, D)),
                  "weight_hh": rng.uniform(-k, k, (L, H, H)),
                  "bias": rng.uniform(-k, k, (L, H))}
        if self.skip:
            params["weight_skip"] = rng.uniform(-k, k, (H, H))
        self._init_params(params)
        self._cache = None

    def _weights(self):
        p = self.params
        return (p["weight_ih"], p["weight_hh"], p["bias"],
                p["weight_skip"] if self.skip else np.empty((0, 0), self.dtype))

    def _run(self, x_tm, hs, batch_sizes, ragged=False):
        """The forward loop over x (T, B, D) from hs[0]; returns zs, the inner
        layers' states (zero past each row's end in a ragged batch, where
        the weight-gradient GEMMs read them)."""
        T, B, _ = x_tm.shape
        zs = (np.zeros if ragged else np.empty)((self.depth - 1, T, B, self.hidden_size),
                                                dtype=self.dtype)
        pre = np.empty((T, B, self.hidden_size), dtype=self.dtype)
        _deep_transition.deep_forward(self._weights(), x_tm, hs, zs, pre, batch_sizes)
        return zs

    def _forward(self, x, hx, lengths):
        self._check_arrays()
        x_tm, batch, unbatched = self._sequence_input(x, lengths)
        T, B, _ = x_tm.shape
        hs = self._one_layer_start(hx, B, unbatched, T, batch)
        zs = self._run(x_tm, hs, batch.batch_sizes, batch.ragged)
        self._cache = _DeepSweep(batch, unbatched, x=x_tm, hs=hs, zs=zs)
        return self._one_layer_outputs(hs, batch, unbatched)

    def _backward(self, dy, dhx_n, clip_hidden):
        sweep = self._last_forward()
        batch, unbatched = sweep.batch, sweep.unbatched
        T, B, H, dt = batch.T, batch.B, self.hidden_size, self.dtype
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        da, dh_direct = self._one_layer_gradients(dy, dhx_n, batch, unbatched)
        dx = np.zeros_like(sweep.x)
        dh0 = np.zeros((B, H), dtype=dt)
        dz = (np.zeros if batch.ragged else np.empty)((self.depth - 1, T, B, H), dtype=dt)
        g = self.grads
        _deep_transition.deep_backward(
            self._weights(), (sweep.x, sweep.hs, sweep.zs), da, dz, (dx, dh0),
            (g["weight_ih"], g["weight_hh"], g["bias"],
             g["weight_skip"] if self.skip else np.empty((0, 0), dt)),
            batch.batch_sizes, 0.0 if clip is None else clip)
        return self._one_layer_results(dx, dh0, dh_direct, batch, unbatched)

    def _step(self, x_t, hx):
        return self._one_layer_step(
            x_t, hx, lambda x, hs: self._run(x, hs, _all_rows(1, x.shape[1])))

    def __repr__(self) -> str:
        skip = ", skip=True" if self.skip else ""
        return (f"DeepTransitionRNN({self.input_size}, {self.hidden_size}, depth={self.depth}"
                f"{skip}, dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    _saved_config_names = ("input_size", "hidden_size", "depth", "skip", "batch_first", "dtype")

    @classmethod
    def _saved_shapes(cls, config: dict[str, Any], arrays: Mapping[str, Any]
                      ) -> dict[str, tuple[int, ...]]:
        D = io_format.config_int(config, "input_size")
        H = io_format.config_int(config, "hidden_size")
        L = io_format.config_int(config, "depth")
        shapes = {"weight_ih": (H, D), "weight_hh": (L, H, H), "bias": (L, H)}
        if io_format.config_bool(config, "skip", False):
            shapes["weight_skip"] = (H, H)
        return shapes


io_format.register("DeepTransitionRNN", DeepTransitionRNN)
