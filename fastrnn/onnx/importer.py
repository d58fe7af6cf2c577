"""Recurrent layers of an ONNX model as fastrnn layers: `from_onnx`.

A model trained in PyTorch, Keras/TensorFlow or elsewhere and exported to
ONNX runs here without its framework. The file is read with the ``onnx``
package (``pip install "fastrnn[onnx]"``), imported only when `from_onnx` is
called; whatever the file holds, a file that is not a well-formed model is
refused with ValueError naming it, never with protobuf's own errors.

What is loaded
--------------
Every ``LSTM``, ``GRU`` and ``RNN`` node of the main graph (ONNX operator
set 7 and later; the operators' definitions are at
https://onnx.ai/onnx/operators/). Other nodes (embeddings, dense heads,
softmax...) are not run; their weights stay in the file.

- Gate order. ONNX stacks the LSTM's gates as (i, o, f, c) and the GRU's as
  (z, r, h); fastrnn (and PyTorch) as (i, f, g, o) and (r, z, n). The blocks
  of W, R and B are reordered; ``B = [Wb, Rb]`` becomes ``bias_ih`` and
  ``bias_hh``.
- GRU ``linear_before_reset=1`` is PyTorch's form, ``GRU(reset_after=True)``;
  0 (the ONNX default) is ``GRU(reset_after=False)``.
- LSTM peepholes ``P = [P_i, P_o, P_f]`` (ONNX: P_i and P_f see C_{t-1}, P_o
  sees C_t, as in fastrnn) become ``weight_peephole_l{k}`` rows (p_i, p_f,
  p_o). A P of zeros is dropped.
- ``direction``: "forward" and "bidirectional" map to the layer of the same
  kind; "reverse" is a forward layer wrapped in `Reversed`, which reads each
  sequence from its end (within ``lengths``) and returns the outputs in the
  original time order, as ONNX does.
- ``layout=1`` ((batch, time, features)) gives a layer with
  ``batch_first=True``.
- Stacked nodes: when a node's input X is the previous node's output Y merely
  reshaped into (time, batch, directions * hidden) (Squeeze, or Transpose
  then Reshape, the pattern PyTorch's exporter writes) and nothing else reads
  the intermediate tensors, the chain becomes one multi-layer fastrnn layer.
  Otherwise each node is its own layer.
- Weights must be constants: graph initializers, Constant nodes, or these
  through Identity nodes (export with constant folding, PyTorch's default),
  and finite. float32 and float64 tensors keep their precision; float16 and
  bfloat16 become float32.
- Tensors kept in external data files (``onnx.save_model(...,
  save_as_external_data=True)``) are read from the model file's directory;
  a file that is missing, or lies outside that directory (an absolute path,
  ``..``, a symbolic link), is refused with ValueError naming the node.

Runtime inputs of the nodes map to arguments of ``forward``:
``sequence_lens`` to ``lengths``, ``initial_h`` (and ``initial_c``) to the
state, always in fastrnn's shape (num_layers * dirs, B, H) whatever the
layout; the outputs are fastrnn's too: y is (T, B, dirs * H) (ONNX's Y,
(T, dirs, B, H), transposed and reshaped), or (B, T, dirs * H) for
``layout=1``, and the final states are (num_layers * dirs, B, H), the ONNX
Y_h (and Y_c) of the stacked nodes concatenated along the first axis.

Not supported, refused with NotImplementedError naming the node: activation
functions other than the defaults (Sigmoid, Tanh, Tanh for the LSTM;
Sigmoid, Tanh for the GRU; Tanh or Relu for the RNN), ``clip``,
``input_forget=1``, non-zero constant initial states and constant
``sequence_lens`` (fastrnn layers store neither: pass them to ``forward``).
``activation_alpha`` and ``activation_beta`` are accepted and unused: the
default activations take no parameters.
"""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn.io import format as _io
from fastrnn._core.validation import NotFittedError, as_array, check_dtype, check_finite
from fastrnn.layers.gru import GRU
from fastrnn.layers.lstm import LSTM
from fastrnn.layers.rnn import RNN
from fastrnn.onnx._package import require_onnx

if TYPE_CHECKING:   # the onnx package is optional here
    import onnx

__all__ = ["from_onnx", "Reversed"]

_RECURRENT_OPS = ("LSTM", "GRU", "RNN")
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
# Block i of fastrnn's gate stack is block _GATE_ORDER[op][i] of ONNX's.
_GATE_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}
_PEEPHOLE_ORDER = [0, 2, 1]          # ONNX (i, o, f) -> fastrnn (i, f, o)
_DEFAULT_ACTIVATIONS = {"LSTM": ("sigmoid", "tanh", "tanh"), "GRU": ("sigmoid", "tanh")}
_DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}
_ATTRIBUTES = {"activation_alpha", "activation_beta", "activations", "clip", "direction",
               "hidden_size", "layout"}
_EXTRA_ATTRIBUTES = {"LSTM": {"input_forget"}, "GRU": {"linear_before_reset"}, "RNN": set()}
# onnx.AttributeProto.AttributeType values (fixed by onnx.proto), kept here so
# that this module imports without onnx.
_FLOAT, _INT, _STRING, _FLOATS, _INTS, _STRINGS = 1, 2, 3, 6, 7, 8
_ATTRIBUTE_TYPES = {
    "activation_alpha": _FLOATS, "activation_beta": _FLOATS, "activations": _STRINGS,
    "clip": _FLOAT, "direction": _STRING, "hidden_size": _INT, "layout": _INT,
    "input_forget": _INT, "linear_before_reset": _INT,
}
_ATTRIBUTE_TYPE_NAMES = {_FLOAT: "a float", _INT: "an int", _STRING: "a string",
                         _FLOATS: "floats", _INTS: "ints", _STRINGS: "strings"}
# onnx.TensorProto.DataType values that hold numbers fastrnn can take as
# weights, lengths or shapes, with the bytes per element of their raw_data;
# the others (strings, complex, 8-, 4- and 2-bit floats and ints) are refused
# by name.
_RAW_WIDTHS = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8,
               16: 2}
_BFLOAT16 = 16
# Ops that may sit between two stacked nodes, and how deep to look.
_RESHAPING_OPS = ("Identity", "Squeeze", "Transpose", "Reshape")
_MAX_RESHAPING = 4


def from_onnx(model: Union[str, os.PathLike, onnx.ModelProto], *,
              dtype: Optional[DTypeLike] = None) -> list[Union[RNN, LSTM, GRU, Reversed]]:
    """Load the LSTM, GRU and RNN nodes of an ONNX model as fastrnn layers.

    Parameters
    ----------
    model : str, os.PathLike, or onnx.ModelProto
        The ``.onnx`` file, or a model already in memory. Tensors the file
        keeps in external data files are read from the file's directory; a
        model in memory must hold its tensors itself.
    dtype : None, numpy.float32 or numpy.float64
        Precision of the layers; None keeps the weights' (float16 and
        bfloat16 weights give float32).

    Returns
    -------
    list
        One layer per chain of stacked recurrent nodes, in graph order:
        `fastrnn.LSTM`, `fastrnn.GRU` or `fastrnn.RNN` (or such a layer in a
        `Reversed` for ``direction="reverse"``). Each has an attribute
        ``onnx_nodes``, the names of the nodes it was made from. See the
        module's docstring for how ONNX's attributes and shapes map to
        fastrnn's.

    Raises
    ------
    ImportError
        The ``onnx`` package is not installed (``pip install "fastrnn[onnx]"``).
    FileNotFoundError, PermissionError
        The file cannot be opened (as `fastrnn.load`).
    ValueError
        The file is not an ONNX model, holds no recurrent node, or a node is
        malformed: wrong shapes, non-finite weights, an external data file
        that is missing or outside the model's directory (the message names
        the file and the node).
    NotImplementedError
        A node uses an option fastrnn does not have (the message names the
        node and the attribute).

    Examples
    --------
    >>> [lstm] = fastrnn.from_onnx("lstm.onnx")             # doctest: +SKIP
    >>> y, (h_n, c_n) = lstm.forward(x, lengths=lengths)    # doctest: +SKIP
    """
    dtype = None if dtype is None else check_dtype(dtype)
    onnx = require_onnx("fastrnn.from_onnx")
    source, proto, base_dir = _read_model(onnx, model)
    graph = _Graph(proto.graph, source, base_dir)
    cells = [_read_cell(graph, node, index) for index, node in enumerate(graph.nodes)
             if node.op_type in _RECURRENT_OPS and node.domain in ("", "ai.onnx")]
    if not cells:
        ops = sorted({n.op_type for n in graph.nodes})
        raise ValueError(f"{source}: the graph has no LSTM, GRU or RNN node "
                         f"(its operators: {', '.join(ops) or 'none'})")
    return [_build_layer(chain, dtype) for chain in _chains(graph, cells)]


def _read_model(onnx, model):
    """(name for messages, the ModelProto, directory of its external data or
    None for a model in memory)."""
    from google.protobuf.message import DecodeError   # onnx's own dependency

    if isinstance(model, onnx.ModelProto):
        source, proto, base_dir = "the ONNX model", model, None
    elif isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
        base_dir = os.path.dirname(os.path.abspath(source))
        try:
            # Binary protobuf whatever the extension (onnx would read a
            # .json or .textproto name as text). External data is read per
            # tensor, only for the recurrent nodes' weights, so that an error
            # names the node and other nodes' large tensors stay on disk.
            # OSError (missing, unreadable) passes through as is.
            proto = onnx.load(source, format="protobuf", load_external_data=False)
        except DecodeError as exc:
            raise ValueError(f"{source}: not an ONNX model ({exc})") from None
    else:
        raise TypeError(f"model must be a path to an .onnx file or an onnx.ModelProto, "
                        f"got {type(model).__name__}")
    # Almost any bytes parse as some protobuf message; these two fields tell
    # a model from a file of another kind.
    if proto.ir_version <= 0:
        raise ValueError(f"{source}: not an ONNX model (no IR version, which every ONNX "
                         "model has)")
    if not proto.HasField("graph"):
        raise ValueError(f"{source}: not an ONNX model (no graph)")
    return source, proto, base_dir


def _text(value):
    """A protobuf string field as str: protobuf hands back a proto2 string
    that is not valid UTF-8 (a corrupted file) as bytes."""
    return value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")


# ---------------------------------------------------------------- graph
class _Node:
    """A NodeProto's names as text; its attributes stay AttributeProtos."""

    __slots__ = ("op_type", "domain", "name", "input", "output", "attribute")

    def __init__(self, proto):
        self.op_type = _text(proto.op_type)
        self.domain = _text(proto.domain)
        self.name = _text(proto.name)
        self.input = [_text(n) for n in proto.input]
        self.output = [_text(n) for n in proto.output]
        self.attribute = list(proto.attribute)


class _Graph:
    """Who produces and who reads each tensor, and the constant tensors."""

    def __init__(self, graph, source, base_dir):
        self.source = source
        self.base_dir = base_dir
        self.nodes = [_Node(n) for n in graph.node]
        self.initializers = {_text(t.name): t for t in graph.initializer}
        self.outputs = {_text(v.name) for v in graph.output}
        self.producer = {}
        self.readers = {}
        for node in self.nodes:
            for name in node.output:
                if name:
                    self.producer[name] = node
            for name in node.input:
                if name:
                    self.readers.setdefault(name, []).append(node)
        self._cache = {}

    def constant(self, name, what):
        """The value of tensor ``name`` if it is a constant, else None."""
        if name in self._cache:
            return self._cache[name]
        seen = 0
        value = None
        current = name
        while seen < 16:    # a chain of Identity nodes; a loop would be malformed
            seen += 1
            if current in self.initializers:
                value = _tensor_array(self.initializers[current], what, self.base_dir)
                break
            node = self.producer.get(current)
            if node is None:
                break
            if node.op_type == "Identity" and node.input:
                current = node.input[0]
                continue
            if node.op_type == "Constant":
                value = self._constant_node(node, what)
            break
        self._cache[name] = value
        return value

    def _constant_node(self, node, what):
        for attr in node.attribute:
            key = _text(attr.name)
            if key == "value" and attr.HasField("t"):
                return _tensor_array(attr.t, what, self.base_dir)
            if key == "value_float":
                return np.array(attr.f, dtype=np.float32)
            if key == "value_floats":
                return np.asarray(attr.floats, dtype=np.float32)
            if key == "value_int":
                return np.array(attr.i, dtype=np.int64)
            if key == "value_ints":
                return np.asarray(attr.ints, dtype=np.int64)
        return None

    def only_reader(self, name):
        """The single node reading the values of ``name``, or None if several
        do or it is a graph output. Shape and Size nodes read no values (an
        exporter uses them to size the next layer's zero state)."""
        readers = [n for n in self.readers.get(name, []) if n.op_type not in ("Shape", "Size")]
        if name in self.outputs or len(readers) != 1:
            return None
        return readers[0]


def _tensor_array(tensor, what, base_dir):
    """The NumPy array of a TensorProto (a writable copy in native byte
    order; bfloat16 widened to float32), read with
    ``onnx.numpy_helper.to_array``. The stored data is checked against the
    declared shape first, so that a corrupted shape is refused before
    anything of its size is allocated. ValueError names ``what``."""
    from onnx import TensorProto, external_data_helper, helper, numpy_helper
    from onnx.checker import ValidationError

    code = tensor.data_type
    if code not in _RAW_WIDTHS:
        try:
            type_name = TensorProto.DataType.Name(code)
        except ValueError:
            type_name = str(code)
        raise ValueError(f"{what} has tensor data type {type_name}, which from_onnx "
                         "cannot read")
    dims = [int(d) for d in tensor.dims]
    if any(d < 0 for d in dims):
        raise ValueError(f"{what} has negative dimensions {dims}")
    count = math.prod(dims)
    width = _RAW_WIDTHS[code]
    external = external_data_helper.uses_external_data(tensor)
    if external:
        entries = {_text(e.key): _text(e.value) for e in tensor.external_data}
        stored_where = (f"{what} is stored in external data file "
                        f"{entries.get('location', '?')!r}")
        if base_dir is None:
            raise ValueError(f"{stored_where}, and the model was given in memory: pass the "
                             "path of the .onnx file, whose directory holds that file")
        _check_external_location(entries.get("location", ""), base_dir, stored_where)
        try:
            declared = int(entries["length"]) if "length" in entries else None
        except ValueError:
            raise ValueError(f"{stored_where}, with length {entries['length']!r}, "
                             "not a number of bytes") from None
        # Without a length, onnx reads to the end of the file: no more than
        # is on disk, and a size that does not fit the shape fails below.
        if declared is not None and declared != count * width:
            raise ValueError(f"{stored_where} with length {declared} bytes, shape {dims} "
                             f"needs {count * width}")
    elif tensor.HasField("raw_data"):
        if len(tensor.raw_data) != count * width:
            raise ValueError(f"{what} has {len(tensor.raw_data)} bytes of raw data, "
                             f"shape {dims} needs {count * width}")
    else:
        stored = len(getattr(tensor, helper.tensor_dtype_to_field(code)))
        if stored != count:
            raise ValueError(f"{what} holds {stored} values, its shape {dims} needs {count}")
    try:
        arr = numpy_helper.to_array(tensor, base_dir or "")
    except (ValueError, TypeError, OSError, ValidationError) as exc:
        if external:
            raise ValueError(f"{stored_where}, which cannot be read: {exc}") from None
        raise ValueError(f"{what} cannot be read: {exc}") from None
    if code == _BFLOAT16:
        arr = arr.astype(np.float32)
    return np.array(arr, dtype=arr.dtype.newbyteorder("="))


def _check_external_location(location, base_dir, stored_where):
    """ValueError unless ``location`` names a regular file inside ``base_dir``
    (symbolic links resolved). onnx 1.21 and later refuse the same when
    reading; earlier releases, still the newest for Python 3.9, read any
    path, so a model could make from_onnx read a file anywhere."""
    if not location or "\0" in location or os.path.isabs(location) \
            or os.path.splitdrive(location)[0]:
        raise ValueError(f"{stored_where}; an external data location must be a file name "
                         "relative to the model's directory")
    base = os.path.realpath(base_dir)
    target = os.path.realpath(os.path.join(base, location))
    if os.path.commonpath([base, target]) != base:
        raise ValueError(f"{stored_where}, which is outside the model's directory {base_dir}")
    if not os.path.isfile(target):
        raise ValueError(f"{stored_where}, which is missing from the model's directory "
                         f"{base_dir}")


def _node_label(node, index):
    name = node.name or f"#{index} (unnamed)"
    return f"{node.op_type} node {name!r}"


def _attribute_value(attr, kind):
    """The value of an AttributeProto read as ``kind`` (an AttributeType)."""
    if kind == _INT:
        return attr.i
    if kind == _FLOAT:
        return attr.f
    if kind == _STRING:
        return _text(attr.s)
    if kind == _INTS:
        return list(attr.ints)
    if kind == _FLOATS:
        return [float(v) for v in attr.floats]
    if kind == _STRINGS:
        return [_text(s) for s in attr.strings]
    return None   # tensors, graphs...: no recurrent node's attribute is one


# ------------------------------------------------------------ one node
class _Cell:
    """One recurrent node, its weights already in fastrnn's gate order."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _read_cell(graph, node, index):
    op = node.op_type
    label = f"{graph.source}: {_node_label(node, index)}"
    named = [(_text(a.name), a) for a in node.attribute]
    unknown = {name for name, _ in named} - _ATTRIBUTES - _EXTRA_ATTRIBUTES[op]
    if unknown:
        raise ValueError(f"{label} has attributes {sorted(unknown)}, which {op} does not define")
    attrs = {}
    for name, attr in named:
        want = _ATTRIBUTE_TYPES[name]
        # Writers before IR version 2 left the type out (0); the name says it.
        if attr.type not in (0, want):
            raise ValueError(f"{label}: attribute {name!r} must be "
                             f"{_ATTRIBUTE_TYPE_NAMES[want]} (AttributeProto type {want}), "
                             f"got type {attr.type}")
        attrs[name] = _attribute_value(attr, want)

    direction = attrs.get("direction", "forward")
    if direction not in _DIRECTIONS:
        raise ValueError(f"{label}: direction must be forward, reverse or bidirectional, "
                         f"got {direction!r}")
    dirs = _DIRECTIONS[direction]
    layout = attrs.get("layout", 0)
    if layout not in (0, 1):
        raise ValueError(f"{label}: layout must be 0 or 1, got {layout!r}")
    if "clip" in attrs:
        raise NotImplementedError(f"{label}: attribute 'clip' (cell clipping, "
                                  f"clip={attrs['clip']}) is not supported by fastrnn")
    if attrs.get("input_forget", 0) != 0:
        raise NotImplementedError(f"{label}: attribute 'input_forget' (coupled input and "
                                  "forget gates) is not supported by fastrnn")
    nonlinearity = _check_activations(op, attrs.get("activations"), dirs, label)
    reset_after = bool(attrs.get("linear_before_reset", 0)) if op == "GRU" else None

    inputs = list(node.input) + [""] * 8
    x_name, w_name, r_name, b_name, lens_name, h0_name = inputs[:6]
    c0_name = inputs[6] if op == "LSTM" else ""
    p_name = inputs[7] if op == "LSTM" else ""
    if not x_name or not w_name or not r_name:
        raise ValueError(f"{label} lacks one of its inputs X, W, R")
    if len(node.output) == 0:
        raise ValueError(f"{label} has no outputs")

    def weight(name, role):
        value = graph.constant(name, f"{label}: {role} ({name!r})")
        if value is None:
            raise ValueError(
                f"{label}: its {role} ({name!r}) is computed by the graph, not a constant "
                "(initializer or Constant node); export the model with constant folding")
        if value.dtype.kind != "f":
            raise ValueError(f"{label}: {role} has dtype {value.dtype}, not floating point")
        return check_finite(value, f"{label}: {role} ({name!r})")

    G = _GATES[op]
    W = weight(w_name, "weight W")
    R = weight(r_name, "recurrence weight R")
    if R.ndim != 3 or R.shape[0] != dirs or R.shape[1] % G or R.shape[2] * G != R.shape[1]:
        raise ValueError(f"{label}: R must have shape ({dirs}, {G}*H, H) for direction "
                         f"{direction!r}, got {R.shape}")
    H = R.shape[2]
    if "hidden_size" in attrs and attrs["hidden_size"] != H:
        raise ValueError(f"{label}: hidden_size={attrs['hidden_size']} but R has shape {R.shape}")
    if W.ndim != 3 or W.shape[:2] != (dirs, G * H) or W.shape[2] < 1:
        raise ValueError(f"{label}: W must have shape ({dirs}, {G * H}, input_size), "
                         f"got {W.shape}")
    B = weight(b_name, "bias B") if b_name else None
    if B is not None and B.shape != (dirs, 2 * G * H):
        raise ValueError(f"{label}: B must have shape ({dirs}, {2 * G * H}), got {B.shape}")
    P = weight(p_name, "peephole weight P") if p_name else None
    if P is not None and P.shape != (dirs, 3 * H):
        raise ValueError(f"{label}: P must have shape ({dirs}, {3 * H}), got {P.shape}")
    if P is not None and not P.any():
        P = None
    for name, role in ((h0_name, "initial_h"), (c0_name, "initial_c")):
        value = graph.constant(name, f"{label}: {role}") if name else None
        if value is not None and np.any(value):
            raise NotImplementedError(
                f"{label}: {role} is a non-zero constant of the model; fastrnn layers have "
                f"no stored initial state (pass it as the state argument of forward)")
    if lens_name and graph.constant(lens_name, f"{label}: sequence_lens") is not None:
        raise NotImplementedError(
            f"{label}: sequence_lens is a constant of the model; fastrnn layers store no "
            "lengths (pass them as the lengths argument of forward)")

    dtype = np.result_type(W.dtype, np.float32)   # float16 -> float32
    order = _GATE_ORDER[op]

    def gates(a):   # (G*H, ...) in ONNX's gate order -> fastrnn's
        return np.ascontiguousarray(a.reshape(G, H, *a.shape[1:])[order].reshape(a.shape),
                                    dtype=dtype)

    directions = []
    for d in range(dirs):
        p = dict(weight_ih=gates(W[d]), weight_hh=gates(R[d]))
        if B is not None:
            p["bias_ih"] = gates(B[d, :G * H])
            p["bias_hh"] = gates(B[d, G * H:])
        if P is not None:
            p["weight_peephole"] = np.ascontiguousarray(
                P[d].reshape(3, H)[_PEEPHOLE_ORDER], dtype=dtype)
        directions.append(p)
    return _Cell(op=op, node=node, index=index, name=node.name or f"#{index}",
                 label=label, direction=direction, dirs=dirs, layout=layout,
                 input_size=W.shape[2], hidden_size=H, dtype=dtype, params=directions,
                 has_bias=B is not None, has_peepholes=P is not None,
                 reset_after=reset_after, nonlinearity=nonlinearity,
                 x_name=x_name, lens_name=lens_name)


def _check_activations(op, activations, dirs, label):
    """None, or for the RNN "tanh" / "relu"; NotImplementedError for others."""
    if op == "RNN":
        names = [a.lower() for a in (activations or ["Tanh"])]
        if len(names) not in (1, dirs):
            raise ValueError(f"{label}: activations has {len(names)} entries, expected "
                             f"{dirs} (one per direction)")
        if names[0] not in ("tanh", "relu") or len(set(names)) != 1:
            raise NotImplementedError(
                f"{label}: attribute 'activations' = {activations}: fastrnn's RNN has Tanh "
                "or Relu, the same in both directions")
        return names[0]
    if activations is None:
        return None
    default = _DEFAULT_ACTIVATIONS[op]
    names = tuple(a.lower() for a in activations)
    if len(names) != len(default) * dirs:
        raise ValueError(f"{label}: activations has {len(names)} entries, expected "
                         f"{len(default) * dirs} ({len(default)} per direction)")
    if names != default * dirs:
        want = ", ".join(a.capitalize() for a in default)
        raise NotImplementedError(
            f"{label}: attribute 'activations' = {activations}: fastrnn's {op} has only the "
            f"default activations ({want})")
    return None


# ---------------------------------------------------------------- chains
def _stacked_on(graph, cell, by_node):
    """The cell whose Y is ``cell``'s X merely reshaped (see the module's
    docstring), or None."""
    name = cell.x_name
    path = []
    node = graph.producer.get(name)
    while node is not None and id(node) not in by_node:
        if node.op_type not in _RESHAPING_OPS or len(path) >= _MAX_RESHAPING \
                or not node.input:
            return None
        path.append(node)
        name = node.input[0]
        node = graph.producer.get(name)
    if node is None:
        return None
    below = by_node[id(node)]
    if node.output[0] != name or not _same_kind(below, cell):
        return None
    # Every tensor from below's Y to cell's X must feed only the next step,
    # or merging would hide it from whoever else reads it.
    tensors = [name] + [n.output[0] for n in reversed(path)]
    steps = list(reversed(path)) + [cell.node]
    for tensor, reader in zip(tensors, steps):
        if graph.only_reader(tensor) is not reader:
            return None
    ops = [n for n in reversed(path) if n.op_type != "Identity"]
    return below if _is_direction_merge(graph, ops, below) else None


def _same_kind(below, cell):
    return (below.op == cell.op and below.direction == cell.direction
            and below.layout == cell.layout and below.hidden_size == cell.hidden_size
            and cell.input_size == below.dirs * below.hidden_size
            and below.reset_after == cell.reset_after
            and below.nonlinearity == cell.nonlinearity
            and below.lens_name == cell.lens_name and below.dtype == cell.dtype)


def _is_direction_merge(graph, ops, below):
    """Whether ``ops`` turn Y into (T, B, dirs*H) ((B, T, dirs*H) for layout 1)."""
    dirs_axis = 1 if below.layout == 0 else 2
    kinds = [n.op_type for n in ops]
    if kinds == ["Squeeze"]:
        return below.dirs == 1 and _squeeze_axes(graph, ops[0]) == [dirs_axis]
    if below.layout == 0:
        if kinds != ["Transpose", "Reshape"] or _ints_attribute(ops[0], "perm") != [0, 2, 1, 3]:
            return False
        reshape = ops[1]
    else:
        if kinds != ["Reshape"]:
            return False
        reshape = ops[0]
    if _ints_attribute(reshape, "allowzero") not in (None, 0):
        return False
    if len(reshape.input) < 2:
        return False
    shape = graph.constant(reshape.input[1], f"{graph.source}: Reshape's shape")
    if shape is None or shape.ndim != 1 or len(shape) != 3:
        return False
    return list(shape[:2]) == [0, 0] and shape[2] in (-1, below.dirs * below.hidden_size)


def _squeeze_axes(graph, node):
    axes = _ints_attribute(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        value = graph.constant(node.input[1], f"{graph.source}: Squeeze's axes")
        axes = None if value is None else [int(v) for v in np.ravel(value)]
    if not isinstance(axes, list) or not all(isinstance(a, int) for a in axes):
        return None
    return [a + 4 if a < 0 else a for a in axes]   # Y is 4-D


def _ints_attribute(node, name):
    for attr in node.attribute:
        if _text(attr.name) == name:
            return _attribute_value(attr, attr.type)
    return None


def _chains(graph, cells):
    """Cells grouped into stacks, in graph order."""
    by_node = {id(c.node): c for c in cells}
    chain_of = {}
    chains = []
    for cell in cells:
        below = _stacked_on(graph, cell, by_node)
        if below is not None and chain_of[id(below)][-1] is below:
            chain = chain_of[id(below)]
            chain.append(cell)
        else:
            chain = [cell]
            chains.append(chain)
        chain_of[id(cell)] = chain
    return chains


# ---------------------------------------------------------------- layers
def _build_layer(chain, dtype):
    first = chain[0]
    dtype = first.dtype if dtype is None else dtype
    kwargs = dict(num_layers=len(chain), bidirectional=first.dirs == 2,
                  bias=any(c.has_bias for c in chain), batch_first=first.layout == 1,
                  dtype=dtype, seed=0)
    if first.op == "LSTM":
        peepholes = any(c.has_peepholes for c in chain)
        layer = LSTM(first.input_size, first.hidden_size, forget_bias=0.0,
                     peepholes=peepholes, **kwargs)
    elif first.op == "GRU":
        layer = GRU(first.input_size, first.hidden_size, reset_after=first.reset_after,
                    **kwargs)
    else:
        layer = RNN(first.input_size, first.hidden_size, nonlinearity=first.nonlinearity,
                    **kwargs)
    state = {}
    H, G = first.hidden_size, _GATES[first.op]
    for k, cell in enumerate(chain):
        for sfx, params in zip(("", "_reverse"), cell.params):
            for name, value in params.items():
                state[f"{name}_l{k}{sfx}"] = value
            if kwargs["bias"] and "bias_ih" not in params:
                state[f"bias_ih_l{k}{sfx}"] = np.zeros(G * H, dtype)
                state[f"bias_hh_l{k}{sfx}"] = np.zeros(G * H, dtype)
            if first.op == "LSTM" and peepholes and "weight_peephole" not in params:
                state[f"weight_peephole_l{k}{sfx}"] = np.zeros((3, H), dtype)
    layer.load_state_dict(state)
    if first.direction == "reverse":
        layer = Reversed(layer)
    layer.onnx_nodes = tuple(c.name for c in chain)
    return layer


class Reversed:
    """A recurrent layer run backwards in time: ONNX's ``direction="reverse"``.

    Each sequence is read from its last valid step to its first (within
    ``lengths``), and the outputs are returned in the original time order,
    so that ``y[t]`` is the state after reading steps T-1 .. t. Everything
    else (parameters, state shapes, ``batch_first``) is the wrapped layer's.

    Parameters
    ----------
    layer : fastrnn.RNN, LSTM or GRU
        A unidirectional layer.
    """

    def __init__(self, layer: Union[RNN, LSTM, GRU]) -> None:
        if getattr(layer, "bidirectional", False):
            raise ValueError("layer must be unidirectional: a bidirectional layer already "
                             "reads both ways")
        self.layer = layer
        self._lengths = None

    def __getattr__(self, name: str) -> Any:
        # params, grads, state_dict, zero_grad, hidden_size... are the layer's.
        if name == "layer":
            raise AttributeError(name)
        return getattr(self.layer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # ``r.params = state`` loads into the layer (which checks it), rather
        # than hiding the layer's parameters behind an attribute of the wrapper.
        if name in ("params", "grads"):
            setattr(self.layer, name, value)
        else:
            object.__setattr__(self, name, value)

    def _reverse(self, a, lengths, unbatched):
        """``a`` (in the layer's external layout) reversed in time, each row
        within its own length."""
        time_axis = 1 if (self.layer.batch_first and not unbatched) else 0
        if lengths is None:
            return np.ascontiguousarray(np.flip(a, axis=time_axis))
        tm = a if time_axis == 0 else a.transpose(1, 0, 2)
        T, B = tm.shape[:2]
        t = np.arange(T)[:, None]
        index = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
        out = tm[index, np.arange(B)[None, :]]
        return np.ascontiguousarray(out if time_axis == 0 else out.transpose(1, 0, 2))

    def forward(self, x: ArrayLike, hx: Any = None, lengths: Optional[ArrayLike] = None,
                **former: Any) -> tuple[np.ndarray, Any]:
        """Run the wrapped layer over each sequence read backwards; the
        arguments and results are those of the layer's ``forward`` (whose
        former keyword names, passed on in ``former``, it still accepts)."""
        layer = self.layer
        x_tm, unbatched = layer._time_major_input(x)
        T, B, _ = x_tm.shape
        lengths = layer._check_lengths(lengths, T, B, unbatched)
        x_ext = layer._external_sequence(x_tm, unbatched)
        y, final = layer.forward(self._reverse(x_ext, lengths, unbatched), hx,
                                 lengths=lengths, **former)
        self._lengths = (lengths, unbatched, y.shape)
        return self._reverse(y, lengths, unbatched), final

    def backward(self, dy: Optional[ArrayLike] = None, dhx_n: Any = None, **kwargs: Any
                 ) -> tuple[np.ndarray, Any]:
        """BPTT of the last ``forward``; as the layer's ``backward``."""
        if self._lengths is None:
            raise NotFittedError("backward called before forward: call forward first, then backward")
        lengths, unbatched, y_shape = self._lengths
        if dy is not None:
            dy = as_array(dy, "dy")
            if dy.shape != y_shape:
                raise ValueError(f"dy must have the shape of y, {y_shape}, got {dy.shape}")
            dy = self._reverse(dy, lengths, unbatched)
        dx, dhx = self.layer.backward(dy, dhx_n, **kwargs)
        return self._reverse(dx, lengths, unbatched), dhx

    def __call__(self, x: ArrayLike, hx: Any = None, **kwargs: Any) -> tuple[np.ndarray, Any]:
        return self.forward(x, hx, **kwargs)

    def __repr__(self) -> str:
        return f"Reversed({self.layer!r})"

    # -- persistence (fastrnn.io) --
    # Saved as the wrapped layer would be, nested under "layer".
    def _save_config(self) -> dict[str, Any]:
        return {"layer": _io.part_config(self.layer)}

    def _save_arrays(self) -> dict[str, np.ndarray]:
        return _io.part_arrays(self.layer, "layer")

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: dict[str, Any]) -> Reversed:
        return cls(_io.build_part(config.get("layer"), arrays, "layer"))


_io.register("Reversed", Reversed)
