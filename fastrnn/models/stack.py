"""A stack of recurrent layers whose every layer's states reach the output
(Goodfellow et al. (2016), sec. 10.5, fig. 10.14, left; Graves (2013),
"Generating sequences with recurrent neural networks", eq. 1-3, where the
output layer reads all hidden layers).

Layer k reads layer k-1's outputs, as in ``fastrnn.RNN(num_layers=...)``, but
the layers may be of any kinds (an LSTM over a GRU over a DeepTransitionRNN)
and, with ``output="all"``, the stack's output at step t is the
concatenation [y_1(t); ...; y_K(t)] of every layer's output along the
feature axis, so that a readout sees the fast, low layers as well as the
slow, high ones and the gradient reaches each layer by a path of one step.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

from fastrnn.layers.base import RecurrentBase
from fastrnn.models.sequential import _PartsView
from fastrnn._core.validation import NotFittedError, as_float_array, check_choice
from fastrnn.io import format as io_format


class StackedRNN(RecurrentBase):
    """Recurrent layers in series, seen as one recurrent layer.

    Parameters
    ----------
    layers : sequence of recurrent layers
        Any fastrnn recurrent layers (``RecurrentBase``: RNN, LSTM, GRU,
        LeakyRNN, DeepTransitionRNN, ...), each a distinct object, all of one
        dtype and one ``batch_first``; layer k's ``input_size`` must be layer
        k-1's output width (``hidden_size * num_directions``).
    output : {"all", "last"}
        ``"all"``: the output is every layer's output, concatenated along
        the feature axis in layer order (width: the sum of the widths);
        ``"last"``: the last layer's output only (a plain stack).

    Attributes
    ----------
    layers : list
    input_size : int
        The first layer's.
    hidden_size : int
        The width of the output (features per step).
    widths : list of int
        Each layer's output width.
    params, grads : dict of ndarray
        The layers' own arrays under ``"{k}.{name}"`` keys (``"0.weight_ih_l0"``);
        an assignment is checked and copied into the layer.

    Notes
    -----
    The state ``hx`` is a tuple with one entry per layer, each laid out as
    that layer's own (an array, or a pair (h, c) for an LSTM); None, or a
    None entry, starts that layer from zeros. ``forward`` returns the final
    states as such a tuple, ``backward`` takes ``dhx_n`` and returns ``dhx``
    the same way. ``lengths`` and ``clip_hidden`` go to every layer.

    The stack's output is one array allocated per call; each layer's output
    is copied once into its slice of it (the layers allocate their outputs
    themselves, so this copy is the concatenation). In backward, each layer
    receives its slice of ``dy`` plus the gradient of its output from the
    layer above.
    """

    def __init__(self, layers: Sequence[Any], *, output: str = "all") -> None:
        if not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError("layers must be a non-empty list of fastrnn recurrent layers")
        for k, layer in enumerate(layers):
            if not isinstance(layer, RecurrentBase):
                raise TypeError(f"layers[{k}] must be a fastrnn recurrent layer "
                                f"(RecurrentBase), got {type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("layers must be distinct objects: a layer keeps the state of its "
                             "own last forward for backward")
        self.output = check_choice(output, "output", ("all", "last"))
        self.layers = list(layers)
        first = self.layers[0]
        self.dtype = first.dtype
        self.widths = [layer.hidden_size * layer.num_directions for layer in self.layers]
        for k, layer in enumerate(self.layers):
            if layer.dtype != self.dtype:
                raise ValueError(f"layers[{k}] has dtype {layer.dtype}, layers[0] {self.dtype}: "
                                 f"the layers of a stack share one dtype")
            if layer.batch_first != first.batch_first:
                raise ValueError(f"layers[{k}] has batch_first={layer.batch_first}, layers[0] "
                                 f"{first.batch_first}: the layers share one layout")
            if k and layer.input_size != self.widths[k - 1]:
                raise ValueError(f"layers[{k}].input_size is {layer.input_size}; it reads "
                                 f"layers[{k - 1}]'s outputs, {self.widths[k - 1]} features")
        self.input_size = first.input_size
        self.hidden_size = sum(self.widths) if self.output == "all" else self.widths[-1]
        self._parts = {str(k): layer for k, layer in enumerate(self.layers)}
        self._cache = None

    # ----------------------------------------------------- parameters
    @property
    def batch_first(self) -> bool:   # type: ignore[override]
        return self.layers[0].batch_first

    @batch_first.setter
    def batch_first(self, value: bool) -> None:
        for layer in self.layers:
            layer.batch_first = value

    @property
    def params(self) -> dict[str, np.ndarray]:   # type: ignore[override]
        return _PartsView(self._parts, "params")

    @property
    def grads(self) -> dict[str, np.ndarray]:   # type: ignore[override]
        return _PartsView(self._parts, "grads")

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load ``"{k}.{name}"`` arrays into the layers; all keys must match,
        and nothing changes if a layer refuses its part."""
        own = set(self.params)
        if not hasattr(state, "keys") or set(state.keys()) != own:
            got = set(state.keys()) if hasattr(state, "keys") else set()
            raise ValueError(f"state keys do not match the stack: missing "
                             f"{sorted(own - got)[:5]}, unexpected {sorted(got - own)[:5]}")
        backups = [layer.state_dict() for layer in self.layers]
        try:
            for k, layer in enumerate(self.layers):
                layer.load_state_dict({name: state[f"{k}.{name}"] for name in layer.params})
        except Exception:
            for layer, backup in zip(self.layers, backups):
                layer.load_state_dict(backup)
            raise

    # ---------------------------------------------------------- passes
    def _per_layer(self, value, name):
        """A per-layer tuple of states (or state gradients): None is all None."""
        n = len(self.layers)
        if value is None:
            return (None,) * n
        if not isinstance(value, (tuple, list)) or len(value) != n:
            raise TypeError(f"{name} must be None or a tuple of {n} per-layer states (each "
                            f"as that layer takes it), got {type(value).__name__}"
                            + (f" of length {len(value)}" if isinstance(value, (tuple, list))
                               else ""))
        return tuple(value)

    def _forward(self, x, hx, lengths):
        states = self._per_layer(hx, "hx")
        out = None
        finals = []
        offset = 0
        y = x
        for k, layer in enumerate(self.layers):
            y, h_n = layer.forward(y, states[k], lengths)
            finals.append(h_n)
            if self.output == "all":
                if out is None:
                    out = np.empty(y.shape[:-1] + (self.hidden_size,), dtype=self.dtype)
                out[..., offset:offset + self.widths[k]] = y
                offset += self.widths[k]
        if out is None:
            out = y
        self._cache = out.shape
        return out, tuple(finals)

    def _backward(self, dy, dhx_n, clip_hidden):
        if self._cache is None:
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        dh_n = self._per_layer(dhx_n, "dhx_n")
        if dy is not None:
            dy = as_float_array(dy, "dy", self.dtype, shape=self._cache)
        ends = np.cumsum(self.widths)
        d_above = None
        dhx = [None] * len(self.layers)
        for k in reversed(range(len(self.layers))):
            g = None
            if dy is not None and self.output == "all":
                g = dy[..., ends[k] - self.widths[k]:ends[k]]
            elif dy is not None and k == len(self.layers) - 1:
                g = dy
            if d_above is not None:
                g = d_above if g is None else g + d_above
            d_above, dhx[k] = self.layers[k].backward(g, dh_n[k], clip_hidden=clip_hidden)
        return d_above, tuple(dhx)

    def _step(self, x_t, hx):
        states = self._per_layer(hx, "hx")
        outs, new = [], []
        y = x_t
        for k, layer in enumerate(self.layers):
            y, h = layer.step(y, states[k])
            outs.append(y)
            new.append(h)
        y_t = np.concatenate(outs, axis=-1) if self.output == "all" else y
        return y_t, tuple(new)

    def forward(self, x: ArrayLike, hx: Any = None, lengths: Optional[ArrayLike] = None,
                **renamed: Any) -> tuple[np.ndarray, Any]:
        """Every layer in turn; returns ``(y, hx_n)``, ``hx_n`` a tuple of
        the layers' final states (see the class notes)."""
        return super().forward(x, hx, lengths, **renamed)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"StackedRNN([{inner}], output={self.output!r})"

    # -- persistence (fastrnn.io) --
    # Each layer saved as it would be alone, its arrays under "layers.{k}.".
    def _save_config(self) -> dict[str, Any]:
        return {"output": self.output,
                "layers": [io_format.part_config(layer) for layer in self.layers]}

    def _save_arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for k, layer in enumerate(self.layers):
            arrays.update(io_format.part_arrays(layer, f"layers.{k}"))
        return arrays

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> StackedRNN:
        specs = config.get("layers")
        if not isinstance(specs, list) or not specs:
            raise ValueError("config field 'layers' must be a non-empty list of layer specs")
        # every layer holds at least one array: a longer list is a tampered header
        io_format.expect_count(arrays, len(specs), "StackedRNN", "layers")
        layers = [io_format.build_part(spec, arrays, f"layers.{k}")
                  for k, spec in enumerate(specs)]
        return cls(layers, output=config.get("output", "all"))


io_format.register("StackedRNN", StackedRNN)
