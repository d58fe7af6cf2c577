"""fastrnn models as PyTorch modules: `to_torch`.

The inverse of ``RNN/LSTM/GRU.from_torch``: parameter names, shapes and gate
orders are PyTorch's already, so the state dict moves across unchanged.
PyTorch is imported only when this is called.

What PyTorch's modules cannot express is refused with a ValueError naming
it (``recurrent_dropout``, a training-time option, is left out with a
warning): LSTM peepholes and ``GRU(reset_after=False)`` (``torch.nn.GRU`` computes
only the reset-after form), and cells of their own (LeakyRNN, ClockworkRNN,
DelayRNN), which are refused with a TypeError.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:   # PyTorch is optional, imported by to_torch only
    import torch


def _torch():
    try:
        import torch
    except ImportError as exc:   # pragma: no cover - depends on the environment
        raise ImportError("to_torch needs PyTorch: pip install torch (a CPU build suffices)") \
            from exc
    return torch


def _recurrent_module(layer, torch):
    from fastrnn.layers.gru import GRU
    from fastrnn.layers.lstm import LSTM
    from fastrnn.layers.rnn import RNN

    kind = type(layer)
    if kind not in (RNN, LSTM, GRU):
        raise TypeError(f"model: to_torch converts RNN, LSTM, GRU, Linear, Embedding, Dropout "
                        f"or a Sequential of them; {kind.__name__} has no PyTorch module")
    if layer.recurrent_dropout:
        warnings.warn(f"to_torch: {kind.__name__}(recurrent_dropout={layer.recurrent_dropout}) "
                      f"has no PyTorch counterpart and is left out; the modules agree in "
                      f"evaluation mode", UserWarning, stacklevel=3)
    common = dict(num_layers=layer.num_layers, bias=layer.bias,
                  batch_first=layer.batch_first, bidirectional=layer.bidirectional,
                  dropout=layer.dropout if layer.num_layers > 1 else 0.0,
                  dtype=torch.float64 if layer.dtype == np.float64 else torch.float32)
    if kind is RNN:
        module = torch.nn.RNN(layer.input_size, layer.hidden_size,
                              nonlinearity=layer.nonlinearity, **common)
    elif kind is LSTM:
        if layer.peepholes:
            raise ValueError("model: torch.nn.LSTM has no peepholes; export a peephole LSTM "
                             "with fastrnn.to_onnx instead")
        module = torch.nn.LSTM(layer.input_size, layer.hidden_size, **common)
    else:
        if not layer.reset_after:
            raise ValueError("model: torch.nn.GRU computes only the reset-after form; "
                             "GRU(reset_after=False) has no PyTorch module")
        module = torch.nn.GRU(layer.input_size, layer.hidden_size, **common)
    return module


def _load(module, params, torch):
    state = {name: torch.from_numpy(np.array(p, copy=True)) for name, p in params.items()}
    module.load_state_dict(state, strict=True)
    return module


def to_torch(model: Any) -> torch.nn.Module:
    """A PyTorch module computing what ``model.forward`` computes.

    Parameters
    ----------
    model : RNN, LSTM, GRU, Linear, Embedding, Dropout, or Sequential
        ``RNN``/``LSTM``/``GRU`` give ``torch.nn.RNN``/``LSTM``/``GRU`` with
        the same configuration (``dropout`` included) and a copy of the
        weights; ``Linear``, ``Embedding`` and ``Dropout`` give their
        ``torch.nn`` namesakes; a ``Sequential`` gives a ``torch.nn.Module``
        whose ``forward(x, hx=None)`` returns ``(y, state)`` as fastrnn's
        (the state a tuple with one entry per recurrent layer when there
        are several).

    Returns
    -------
    torch.nn.Module
        In the model's dtype, on the CPU, in evaluation mode.
    """
    torch = _torch()
    from fastrnn.layers.linear import Linear
    from fastrnn.training.train import Sequential

    from fastrnn.layers.dropout import Dropout
    from fastrnn.layers.embedding import Embedding

    if isinstance(model, Sequential):
        if model._legacy:
            recurrent = to_torch(model.recurrent)
            head = None if model.output is None else to_torch(model.output)
            return _sequential_module(torch)(recurrent, head).eval()
        recurrent = [role == "recurrent" for role in model._roles]
        return _layers_module(torch)([to_torch(p) for p in model.layers], recurrent).eval()
    if type(model) is Embedding:
        module = torch.nn.Embedding(model.num_embeddings, model.embedding_dim,
                                    padding_idx=model.padding_idx, dtype=_dtype(model, torch))
        return _load(module, model.params, torch).eval()
    if type(model) is Dropout:
        return torch.nn.Dropout(model.p).eval()
    if type(model) is Linear:
        dtype = torch.float64 if model.dtype == np.float64 else torch.float32
        module = torch.nn.Linear(model.in_features, model.out_features, bias=model.bias,
                                 dtype=dtype)
        return _load(module, model.params, torch).eval()
    return _load(_recurrent_module(model, torch), model.params, torch).eval()


def _dtype(model, torch):
    return torch.float64 if model.dtype == np.float64 else torch.float32


_SEQUENTIAL = {}


def _sequential_module(torch):
    """The torch.nn.Module class of a recurrent layer and an optional head,
    defined once torch is imported."""
    if "cls" not in _SEQUENTIAL:
        class RecurrentWithHead(torch.nn.Module):
            """A recurrent module followed by a per-step head, as fastrnn's
            ``Sequential``: ``forward(x, hx=None) -> (y, state)``."""

            def __init__(self, recurrent, head=None):
                super().__init__()
                self.recurrent = recurrent
                self.head = head

            def forward(self, x, hx=None):
                y, state = self.recurrent(x, hx)
                if self.head is not None:
                    y = self.head(y)
                return y, state

        _SEQUENTIAL["cls"] = RecurrentWithHead
    return _SEQUENTIAL["cls"]


def _layers_module(torch):
    """The torch.nn.Module class of a general Sequential: its modules in
    order, the recurrent ones (flagged) taking and returning a state."""
    if "layers" not in _SEQUENTIAL:
        class Layers(torch.nn.Module):
            """fastrnn's ``Sequential(*layers)``: ``forward(x, hx=None) ->
            (y, state)``, one state per recurrent module (the state itself
            when there is one)."""

            def __init__(self, modules, recurrent):
                super().__init__()
                self.layers = torch.nn.ModuleList(modules)
                self.recurrent = list(recurrent)

            def forward(self, x, hx=None):
                count = sum(self.recurrent)
                states = [hx] if count == 1 else list(hx) if hx is not None else [None] * count
                finals = []
                for module, is_recurrent in zip(self.layers, self.recurrent):
                    if is_recurrent:
                        x, state = module(x, states[len(finals)])
                        finals.append(state)
                    else:
                        x = module(x)
                return x, finals[0] if count == 1 else tuple(finals)

        _SEQUENTIAL["layers"] = Layers
    return _SEQUENTIAL["layers"]
