"""A recurrent layer conditioned on a fixed-size context vector
(Goodfellow et al. (2016), sec. 10.2.3, figures 10.10 and 10.11).

The context x enters in the two ways the section lists, both by default:

- as the initial state, through a learned projection:
  h_0 = tanh(W_c x + b_c) for every layer and direction (an LSTM's cell
  state starts at zero: the projection sets where the state starts, the
  gates decide what the memory keeps);
- as an extra input at every step, the "R x" of figure 10.10, added to every
  step's gate pre-activations of the first layer. It is not concatenated to
  the inputs (which would multiply the same x by R again at every step):
  R x, one row per sequence, is computed once per call and added to the
  input projection of the whole sequence inside the layer's sweep
  (`fastrnn.layers._recurrent.cell_forward` with a (B, G*H) bias), and
  its gradient is the sum over the steps of each row's gate gradients.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import (
    NotFittedError, SeedLike, as_float_array, check_bool, check_random_state,
)
from fastrnn.io import format as io_format
from fastrnn.models.composite import PartsOwner
from fastrnn.layers.base import RecurrentLayer, check_size
from fastrnn.layers.linear import Linear


class ContextRNN(PartsOwner):
    """An RNN, LSTM or GRU whose initial state and per-step input are set by
    a context vector: ``forward(x, hx=context)``.

    The layer contract of fastrnn's recurrent layers holds with the context
    in the place of the initial state: ``forward(x, hx=None, lengths=None)``
    takes the context (B, context_size) as ``hx`` (zeros if None) and
    returns the wrapped layer's ``(y, hx_n)``; ``backward(dy=None,
    dhx_n=None)`` returns ``(dx, dcontext)``.

    Parameters
    ----------
    recurrent : fastrnn.RNN, LSTM or GRU
        The layer to condition (any number of layers and directions); its
        parameters stay its own and are trained with the projections.
    context_size : int
        C, the length of the context vector.
    initial_state : bool
        Set h_0 = tanh(W_c x + b_c) (every layer and direction; the LSTM's
        c_0 stays zero).
    step_input : bool
        Add R x to the first layer's input projection at every step.
    seed : None, int or numpy.random.Generator
        Initialisation of the projections (as ``fastrnn.Linear``).

    Attributes
    ----------
    params, grads : dict
        The wrapped layer's under ``recurrent.<name>``, and the projections'
        ``initial.weight`` (L * dirs * H, C), ``initial.bias`` and
        ``step.weight`` (dirs * G * H, C).
    """

    def __init__(self, recurrent: RecurrentLayer, context_size: int, *,
                 initial_state: bool = True, step_input: bool = True,
                 seed: SeedLike = None) -> None:
        if not isinstance(recurrent, RecurrentLayer):
            raise TypeError(f"recurrent must be a fastrnn.RNN, LSTM or GRU, got "
                            f"{type(recurrent).__name__}")
        self.recurrent = recurrent
        self.context_size = check_size(context_size, "context_size")
        self.initial_state = check_bool(initial_state, "initial_state")
        self.step_input = check_bool(step_input, "step_input")
        if not (self.initial_state or self.step_input):
            raise ValueError("the context must enter somewhere: initial_state and step_input "
                             "cannot both be False")
        rng = check_random_state(seed)
        r = recurrent
        dt, C = r.dtype, self.context_size
        self._states = r.num_layers * r.num_directions
        self._gate_width = r._gates * r.hidden_size
        self.initial = (Linear(C, self._states * r.hidden_size, dtype=dt, seed=rng)
                        if self.initial_state else None)
        self.step = (Linear(C, r.num_directions * self._gate_width, bias=False, dtype=dt,
                            seed=rng) if self.step_input else None)
        self.parts = {"recurrent": recurrent}
        if self.initial is not None:
            self.parts["initial"] = self.initial
        if self.step is not None:
            self.parts["step"] = self.step
        self._cache = None

    # ------------------------------------------------------ attributes
    @property
    def dtype(self) -> np.dtype:
        return self.recurrent.dtype

    @property
    def input_size(self) -> int:
        return self.recurrent.input_size

    @property
    def hidden_size(self) -> int:
        return self.recurrent.hidden_size

    @property
    def batch_first(self) -> bool:
        return self.recurrent.batch_first

    def __repr__(self) -> str:
        return (f"ContextRNN({self.recurrent!r}, {self.context_size}, "
                f"initial_state={self.initial_state}, step_input={self.step_input})")

    # --------------------------------------------------------- forward
    def _context(self, context, x):
        """The context as (B, C) and whether x is one unbatched sequence."""
        r = self.recurrent
        ndim = np.ndim(x)
        unbatched = ndim == 2
        if ndim == 3:
            B = np.shape(x)[0 if r.batch_first else 1]
        else:
            B = 1   # unbatched (T, D); any other shape is the layer's to refuse
        want = (self.context_size,) if unbatched else (B, self.context_size)
        if context is None:
            return np.zeros((B, self.context_size), dtype=self.dtype), unbatched
        context = as_float_array(context, "hx (the context)", self.dtype, shape=want)
        return context.reshape(B, self.context_size), unbatched

    def initial_conditions(self, context: np.ndarray) -> tuple[Any, Optional[np.ndarray]]:
        """(hx, input_terms) the context sets, for a checked context (B, C):
        the wrapped layer's initial state (zeros where ``initial_state`` is
        off; the LSTM's (h_0, c_0) with c_0 = 0) and the per-row term of the
        first layer's input projection, (dirs, B, G*H) or None. What a
        free-running decoder starts from (one step at a time, the term
        added to each step's input projection)."""
        r = self.recurrent
        B, H = context.shape[0], r.hidden_size
        if self.initial is not None:
            h0 = np.tanh(self.initial.forward(context))
            h0 = np.ascontiguousarray(h0.reshape(B, self._states, H).transpose(1, 0, 2))
        else:
            h0 = np.zeros((self._states, B, H), dtype=self.dtype)
        terms = None
        if self.step is not None:
            terms = self.step.forward(context).reshape(B, r.num_directions, self._gate_width)
            terms = np.ascontiguousarray(terms.transpose(1, 0, 2))
        hx = (h0, np.zeros_like(h0)) if r._has_cell else h0
        return hx, terms

    def forward(self, x: ArrayLike, hx: Optional[ArrayLike] = None,
                lengths: Optional[ArrayLike] = None) -> tuple[np.ndarray, Any]:
        """The wrapped layer over x, conditioned on the context ``hx``.

        Parameters
        ----------
        x, lengths : as for the wrapped layer
        hx : array_like (B, context_size), (context_size,) for an unbatched
            x, or None for a zero context.

        Returns
        -------
        (y, hx_n) of the wrapped layer.
        """
        context, unbatched = self._context(hx, x)
        state, terms = self.initial_conditions(context)
        if unbatched:
            state = tuple(s[:, 0] for s in state) if isinstance(state, tuple) else state[:, 0]
        y, hx_n = self.recurrent._forward(x, state, lengths, input_terms=terms)
        self._cache = dict(h0=(state[0] if isinstance(state, tuple) else state),
                           unbatched=unbatched, B=context.shape[0])
        return y, hx_n

    __call__ = forward

    # -------------------------------------------------------- backward
    def backward(self, dy: Optional[ArrayLike] = None, dhx_n: Any = None, *,
                 clip_hidden: Optional[float] = None) -> tuple[np.ndarray, np.ndarray]:
        """BPTT of the last ``forward`` into the wrapped layer, the
        projections and the context; parameter gradients are added into
        ``grads``.

        Returns
        -------
        dx : shaped as x
        dcontext : shaped as the context passed as ``hx``
        """
        if self._cache is None:
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        cache = self._cache
        r = self.recurrent
        dx, dhx = r.backward(dy, dhx_n, clip_hidden=clip_hidden)
        B, H = cache["B"], r.hidden_size
        dcontext = np.zeros((B, self.context_size), dtype=self.dtype)
        if self.initial is not None:
            dh0 = dhx[0] if r._has_cell else dhx
            h0 = cache["h0"]
            d_pre = (dh0 * (1 - h0 * h0)).reshape(self._states, B, H)
            d_pre = np.ascontiguousarray(d_pre.transpose(1, 0, 2)).reshape(B, -1)
            dcontext += self.initial.backward(d_pre)
        if self.step is not None:
            d_terms = r._cache["input_term_grads"]
            dcontext += self.step.backward(
                np.ascontiguousarray(d_terms.transpose(1, 0, 2)).reshape(B, -1))
        return dx, (dcontext[0] if cache["unbatched"] else dcontext)

    # -- persistence (fastrnn.io) --
    def _save_config(self) -> dict[str, Any]:
        return {"recurrent": io_format.part_config(self.recurrent),
                "context_size": self.context_size, "initial_state": self.initial_state,
                "step_input": self.step_input}

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> ContextRNN:
        recurrent = io_format.build_part(config.get("recurrent"), arrays, "recurrent")
        if not isinstance(recurrent, RecurrentLayer):
            raise ValueError("a saved ContextRNN must wrap an RNN, LSTM or GRU")
        model = cls(recurrent, io_format.config_int(config, "context_size"),
                    initial_state=io_format.config_bool(config, "initial_state", True),
                    step_input=io_format.config_bool(config, "step_input", True))
        load_projections(model.parts, arrays, exclude=("recurrent",), owner="ContextRNN")
        return model


def load_projections(parts: Mapping[str, Any], arrays: Mapping[str, Any], *,
                     exclude: tuple[str, ...], owner: str) -> None:
    """Copy the saved ``<part>.<name>`` arrays into the parameters of the
    parts a composite built itself (not those in ``exclude``, rebuilt from
    their own configs), after checking their names and shapes exactly."""
    for name, part in parts.items():
        if name in exclude:
            continue
        start = name + "."
        own = {k[len(start):]: v for k, v in arrays.items() if k.startswith(start)}
        io_format.expect_shapes(own, {k: v.shape for k, v in part.params.items()}, owner,
                                exact=True)
        io_format.assign_params(part.params, own, owner)


io_format.register("ContextRNN", ContextRNN)
