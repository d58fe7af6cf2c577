"""Layers in series as one model: an embedding, recurrent layers of any
kind, dropout and per-step output layers, run forward in order and
back-propagated in reverse (the deep recurrent networks of Goodfellow et al.
(2016), sec. 10.5, with the output layer o_t = c + V h_t of eq. 10.4).

`Sequential(recurrent, output)`, the two-part model of earlier releases,
is the special case whose parameter keys (``recurrent.*``, ``output.*``),
attributes (``model.recurrent``, ``model.output``), state and saved files
are kept exactly as they were.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import numpy as np
from numpy.typing import ArrayLike

from fastrnn.io import format as io_format
from fastrnn.layers.base import RecurrentBase
from fastrnn.layers.dropout import Dropout
from fastrnn.layers.embedding import Embedding
from fastrnn.layers.linear import Linear
from fastrnn.models.composite import PartsOwner

#: The roles a part can play in a Sequential.
EMBEDDING, RECURRENT, PER_STEP = "embedding", "recurrent", "per-step"


def _role(part, index):
    """A part's role: fastrnn's classes by type; a part of the user's own
    by position, as the two-part model took them (the first recurrent,
    the others per-step maps)."""
    if isinstance(part, Embedding):
        return EMBEDDING
    if isinstance(part, RecurrentBase):
        return RECURRENT
    if isinstance(part, (Dropout, Linear)):
        return PER_STEP
    return RECURRENT if index == 0 else PER_STEP


def _check_part(obj: Any, name: str, expected: str) -> None:
    """A model part must have what training uses: ``params`` and ``grads``
    dicts, ``forward``, ``backward`` and ``zero_grad``."""
    # Mapping, not dict: a layer may keep its parameters in a mapping of its
    # own (one that refuses arrays of the wrong shape, say).
    ok = (isinstance(getattr(obj, "params", None), Mapping)
          and isinstance(getattr(obj, "grads", None), Mapping)
          and all(callable(getattr(obj, m, None)) for m in ("forward", "backward", "zero_grad")))
    if not ok:
        raise TypeError(f"{name} must be {expected}, with params and grads dicts and forward, "
                        f"backward and zero_grad methods; got {type(obj).__name__}")


_PART = ("a fastrnn layer: an Embedding (first only), a recurrent layer (fastrnn.RNN, LSTM, "
         "GRU, LeakyRNN, ...), a Dropout, or an output layer such as fastrnn.Linear")


class Sequential(PartsOwner):
    """Layers applied in order, used as one model.

    Parameters
    ----------
    *layers
        In order: optionally an `Embedding` (first only; the model then
        reads integer token arrays), then any number of recurrent layers
        (`RNN`, `LSTM`, `GRU`, `LeakyRNN`, `ClockworkRNN`, `DelayRNN`, ...),
        `Dropout` and per-step layers (`Linear`), which act on the last
        axis at every step. Parts of your own work too, with ``params`` and
        ``grads`` dicts and ``forward``/``backward``/``zero_grad``: the
        first is taken as recurrent (``forward(x, hx) -> (y, hx_n)``), the
        others as per-step maps (``forward(x) -> y``, ``backward(dy) -> dx``).
        ``Sequential(recurrent, output)`` (``output`` a per-step layer or
        None) is the two-part model of earlier releases, unchanged.

    Attributes
    ----------
    layers : tuple
        The parts, in order.
    params, grads : dict
        Flat views of the parts' arrays keyed ``"<part>.<name>"``, where
        ``<part>`` is the layer's index (``"0.weight"``, ``"1.weight_ih_l0"``)
        or, for the two-part model, ``recurrent``/``output`` as before.
        The arrays are the parts' own: updating them updates the parts, and
        ``model.params[key] = array`` is checked and copied into the part.
    recurrent, output
        The two parts of a two-part model (``output`` None when absent).
    training : bool
        The mode last set by ``train()``/``eval()``, which set it on every
        part; dropout acts only in training mode (the default, as in
        PyTorch): call ``eval()`` for inference, also after ``fastrnn.load``.

    Notes
    -----
    ``forward(x, hx=None, lengths=None)`` returns ``(y, hx_n)``, where hx
    and hx_n hold one entry per recurrent layer (each laid out as that
    layer's own state), as a tuple; with a single recurrent layer they are
    that layer's state itself, as in earlier releases. ``lengths`` goes to
    every recurrent layer. ``print(model)`` (or ``model.summary()``) shows a
    table of the layers, their output per step and their parameter counts.
    """

    def __init__(self, *layers: Any, **parts: Any) -> None:
        layers = self._legacy_keywords(layers, parts)
        if len(layers) == 2 and layers[1] is None:
            layers = layers[:1]   # Sequential(recurrent, None): the two-part form
        if not layers:
            raise TypeError("Sequential needs at least one layer: " + _PART)
        roles = []
        for i, part in enumerate(layers):
            _check_part(part, f"layers[{i}]", _PART)
            role = _role(part, i)
            if role == EMBEDDING and i > 0:
                raise ValueError(f"layers[{i}]: an Embedding reads token ids, so it can only "
                                 f"be the first layer")
            roles.append(role)
        self.layers = tuple(layers)
        self._roles = tuple(roles)
        self._legacy = (roles[0] == RECURRENT and len(layers) <= 2
                        and (len(layers) == 1 or (roles[1] == PER_STEP
                                                  and not isinstance(layers[1], Dropout))))
        if self._legacy:
            self.parts = {"recurrent": layers[0]}
            if len(layers) == 2:
                self.parts["output"] = layers[1]
        else:
            self.parts = {str(i): part for i, part in enumerate(layers)}
        self.training = True

    @staticmethod
    def _legacy_keywords(layers, parts):
        """The layers of a call that names them as earlier releases did
        (``Sequential(recurrent=..., output=...)``)."""
        unknown = sorted(set(parts) - {"recurrent", "output"})
        if unknown:
            raise TypeError(f"Sequential() got unexpected keyword argument(s) {unknown}")
        if not parts:
            return layers
        if "recurrent" in parts:
            if layers:
                raise TypeError("Sequential() got the recurrent layer twice (by position and "
                                "as recurrent=)")
            layers = (parts["recurrent"],)
        if len(layers) != 1:
            raise TypeError("Sequential(recurrent, output=...): output= goes with exactly one "
                            "recurrent layer")
        return layers + (parts.get("output"),)

    # ----------------------------------------------------------- parts
    def _two_part(self, name):
        if not self._legacy:
            raise AttributeError(f"{name} names a part of a two-part Sequential(recurrent, "
                                 f"output); this model has {len(self.layers)} parts: use "
                                 f"model.layers")
        return self.parts.get(name)

    @property
    def recurrent(self) -> Any:
        return self._two_part("recurrent")

    @property
    def output(self) -> Any:
        return self._two_part("output")

    @property
    def recurrent_layers(self) -> tuple[Any, ...]:
        """The recurrent parts, in order (one state entry each)."""
        return tuple(p for p, r in zip(self.layers, self._roles) if r == RECURRENT)

    def train(self, mode: bool = True) -> Sequential:
        """Training mode (evaluation mode with ``mode=False``) for every
        part that has modes; returns self."""
        from fastrnn._core.validation import check_bool
        self.training = check_bool(mode, "mode")
        for part in self.layers:
            if callable(getattr(part, "train", None)):
                part.train(self.training)
        return self

    def eval(self) -> Sequential:
        """Evaluation mode for every part (dropout off); returns self."""
        return self.train(False)

    def generate(self, prompt: ArrayLike, *, max_length: int, end_token: Optional[int] = None,
                 method: str = "greedy", temperature: float = 1.0, beam_width: int = 4,
                 seed: Any = None, prompt_lengths: Optional[ArrayLike] = None) -> Any:
        """Continue the prompt(s) (P,) or (P, B) of a language model (Embedding,
        RNN/LSTM/GRU layers, Linear), greedily, by sampling or by beam search,
        until ``end_token`` or ``max_length``; prompts of different lengths
        padded to P with their ``prompt_lengths`` (B,); see
        `fastrnn.models.decode.generate`."""
        from fastrnn.models.decode import generate
        return generate(self, prompt, max_length=max_length, end_token=end_token, method=method,
                        temperature=temperature, beam_width=beam_width, seed=seed,
                        prompt_lengths=prompt_lengths)

    def to_torch(self) -> Any:
        """The same model as a PyTorch module (see `fastrnn.torch_export.to_torch`)."""
        from fastrnn.layers.torch_export import to_torch
        return to_torch(self)

    # ------------------------------------------------------ the passes
    def _split_state(self, hx, name):
        """One state entry per recurrent layer."""
        n = len(self.recurrent_layers)
        if n == 1:
            return [hx]
        if hx is None:
            return [None] * n
        if not isinstance(hx, (tuple, list)) or len(hx) != n:
            raise TypeError(f"{name} must be None or a tuple of {n} states, one per recurrent "
                            f"layer, got {type(hx).__name__}"
                            + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else ""))
        return list(hx)

    def _joined_state(self, states):
        return states[0] if len(states) == 1 else tuple(states)

    def forward(self, x: ArrayLike, hx: Any = None, lengths: Optional[ArrayLike] = None,
                **former: Any) -> tuple[np.ndarray, Any]:
        """Run every layer in order.

        Parameters
        ----------
        x : array_like
            Integer token ids (T, B) (or (T,)) when the first layer is an
            `Embedding`, else the first layer's input, (T, B, D).
        hx : state of the single recurrent layer, or a tuple with one per
            recurrent layer (entries None for zeros), or None.
        lengths : array_like of int, (B,), optional
            Valid steps of each sequence, passed to every recurrent layer.
        **former
            Keyword names of earlier releases, passed on to the recurrent
            layer of a two-part model.

        Returns
        -------
        y : ndarray, the last layer's output at every step.
        hx_n : the final states, laid out as hx.
        """
        if former and not self._legacy:
            raise TypeError(f"Sequential.forward() got unexpected keyword argument(s) "
                            f"{sorted(former)}")
        states = self._split_state(hx, "hx")
        finals = []
        y = x
        for part, role in zip(self.layers, self._roles):
            if role == RECURRENT:
                kwargs = dict(former)
                if lengths is not None:
                    kwargs["lengths"] = lengths
                y, h_n = part.forward(y, states[len(finals)], **kwargs)
                finals.append(h_n)
            else:
                y = part.forward(y)
        return y, self._joined_state(finals)

    def backward(self, dout: Optional[ArrayLike], dhx_n: Any = None, **options: Any
                 ) -> tuple[Optional[np.ndarray], Any]:
        """Back-propagation of the last ``forward`` through every layer in
        reverse (BPTT through the recurrent ones, Goodfellow et al. (2016),
        sec. 10.2.2); parameter gradients are added into ``grads``.

        Parameters
        ----------
        dout : dL/dy, shaped as y, or None (no loss on y)
        dhx_n : dL/dhx_n, laid out as hx_n, or None
        **options
            Passed to every recurrent layer's ``backward``
            (``clip_hidden``, ...).

        Returns
        -------
        dx : ndarray shaped as x, or None when the first layer is an
            `Embedding` (token ids have no gradient).
        dhx : the gradient of the initial states, laid out as hx.
        """
        d_finals = self._split_state(dhx_n, "dhx_n")
        d_initial = [None] * len(d_finals)
        k = len(d_finals)
        grad = dout
        for part, role in zip(reversed(self.layers), reversed(self._roles)):
            if role == RECURRENT:
                k -= 1
                grad, d_initial[k] = part.backward(grad, d_finals[k], **options)
            elif grad is not None:   # None: no loss reaches here, nothing to add
                grad = part.backward(grad)
        return grad, self._joined_state(d_initial)

    __call__ = forward

    # --------------------------------------------------------- display
    def summary(self) -> str:
        """A table of the layers: each one's output per step (B the batch
        size), its parameter count, and the total; ``print(model)`` shows it."""
        rows = [("#", "layer", "output per step", "params")]
        width = None
        total = 0
        for name, part in self.parts.items():
            width = _output_width(part, width)
            count = sum(int(np.size(a)) for a in part.params.values())
            total += count
            rows.append((name, _describe(part), "?" if width is None else f"(B, {width})",
                         f"{count:,}"))
        rows.append(("", "total", "", f"{total:,}"))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [type(self).__name__]
        for i, r in enumerate(rows):
            if i == len(rows) - 1:
                lines.append("  " + "-" * (sum(widths) + 6))
            lines.append("  " + "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                                          r[2].ljust(widths[2]), r[3].rjust(widths[3])]
                                         ).rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"Sequential({', '.join(_describe(p) for p in self.layers)})"

    # -- persistence (fastrnn.io) --
    # Each part saved as it would be alone: the two-part model under its two
    # names, as earlier releases wrote it; any other as a list of parts whose
    # arrays are named by index.
    def _save_config(self) -> dict[str, Any]:
        if self._legacy:
            output = self.output
            return {"recurrent": io_format.part_config(self.recurrent),
                    "output": None if output is None else io_format.part_config(output)}
        return {"layers": [io_format.part_config(p) for p in self.layers]}

    def _save_arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for name, part in self.parts.items():
            arrays.update(io_format.part_arrays(part, name))
        return arrays

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> Sequential:
        if "layers" in config:
            specs = config["layers"]
            if not isinstance(specs, list) or not specs:
                raise ValueError("config field 'layers' must be a non-empty list of parts")
            return cls(*[io_format.build_part(spec, arrays, str(i))
                         for i, spec in enumerate(specs)])
        output = config.get("output")
        return cls(io_format.build_part(config.get("recurrent"), arrays, "recurrent"),
                   None if output is None else io_format.build_part(output, arrays, "output"))


io_format.register("Sequential", Sequential)


def _output_width(part, previous):
    """Features per step out of ``part``, given those into it (None: not known)."""
    if isinstance(part, Embedding):
        return part.embedding_dim
    if isinstance(part, Linear):
        return part.out_features
    if isinstance(part, Dropout):
        return previous
    hidden = getattr(part, "hidden_size", None)
    if isinstance(hidden, (int, np.integer)):
        return int(hidden) * int(getattr(part, "num_directions", 1))
    return None


def _describe(part):
    """A part's repr, or for a class without one its name and sizes."""
    if type(part).__repr__ is not object.__repr__:
        return repr(part)
    if isinstance(part, Linear):
        bias = "" if part.bias else ", bias=False"
        return f"Linear({part.in_features}, {part.out_features}{bias}, dtype={part.dtype.name})"
    return type(part).__name__


class _PartsView(dict):
    """A Sequential's ``params`` or ``grads``: the parts' arrays under
    ``"part.name"`` keys. An assignment goes to the part's own mapping (which
    checks it and copies it in); without this it would only rebind an entry
    of a throw-away dict, and the model would silently keep its old weights."""

    def __init__(self, parts, attr):
        super().__init__({f"{n}.{k}": v for n, part in parts.items()
                          for k, v in getattr(part, attr).items()})
        self._parts, self._attr = parts, attr

    def __setitem__(self, key, value):
        part, _, name = str(key).partition(".")
        if key not in self or part not in self._parts:
            raise ValueError(f"Sequential.{self._attr} has no entry {key!r}; its keys are "
                             f"{sorted(self)}")
        target = getattr(self._parts[part], self._attr)
        target[name] = value
        dict.__setitem__(self, key, target[name])

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"Sequential.{self._attr} cannot gain or lose entries; assign into "
                        f"them instead")

    __delitem__ = pop = popitem = clear = setdefault = _refuse
