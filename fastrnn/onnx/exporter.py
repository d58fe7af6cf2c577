"""fastrnn models as ONNX files: `to_onnx`.

A model trained here is served anywhere ONNX runs (ONNX Runtime, OpenVINO,
TensorRT...). The graph uses the standard ``RNN``, ``LSTM`` and ``GRU``
operators (opset 14), one node per layer of a stacked model, so that a
runtime's fused recurrent kernels run it. This is the inverse of
`fastrnn.from_onnx`: what is written here reads back unchanged.

Needs the ``onnx`` package (``pip install "fastrnn[onnx]"``), imported only
when called.

What is written
---------------
- Gate order. fastrnn (and PyTorch) stack the LSTM's gates as (i, f, g, o)
  and the GRU's as (r, z, n); ONNX as (i, o, f, c) and (z, r, h). The blocks
  of W and R are reordered; ``B`` is ``[bias_ih, bias_hh]`` in that order.
- ``GRU(reset_after=True)`` (PyTorch's form) is ``linear_before_reset=1``;
  ``reset_after=False`` is ``linear_before_reset=0``.
- LSTM peepholes ``weight_peephole_l{k}`` rows (p_i, p_f, p_o) become
  ``P = [P_i, P_o, P_f]``.
- ``batch_first=True`` is written as Transpose nodes around the recurrent
  ones rather than as ``layout=1``, which ONNX Runtime's recurrent kernels do
  not run; `from_onnx` reads such a file back as a time-major layer.
- A ``Sequential`` with a ``Linear`` output adds a MatMul (and an Add for the
  bias) after the recurrent nodes.

The graph's inputs and outputs, with ``T`` and ``B`` left symbolic:

========================  =================================================
``x``                     (T, B, D), or (B, T, D) for ``batch_first=True``
``sequence_lens``         (B,) int32, with ``lengths=True``: each
                          sequence's length, as ``forward(x, lengths=...)``
``initial_h``             (num_layers * dirs, B, H), with
                          ``initial_state=True``; zeros otherwise
``initial_c`` (LSTM)      the same, for the cell state
``y``                     what ``forward`` returns first: (T, B, dirs * H),
                          or the output layer's (T, B, out_features)
``h_n`` (and ``c_n``)     the final states, (num_layers * dirs, B, H)
========================  =================================================

The inputs are 3-D: an unbatched (T, D) sequence is fed as (T, 1, D).

Two limits of OpenVINO (2026.4) to know when serving there: its ONNX reader
drops LSTM peepholes without a word (its LSTMSequence has none), so a
peephole LSTM runs without them; and its CPU plugin honours
``sequence_lens`` only when the model is given static shapes
(``model.reshape({"x": [T, B, D], "sequence_lens": [B]})`` before
compiling). ONNX Runtime runs every exported graph as fastrnn does.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from fastrnn.io.atomic import atomic_write
from fastrnn._core.validation import check_bool, check_int
from fastrnn.onnx._package import require_onnx

if TYPE_CHECKING:   # onnx is optional, imported by to_onnx only
    import onnx

#: The opset the file declares: the recurrent operators' current versions
#: (RNN/LSTM/GRU 14) and Reshape/Transpose/Slice/MatMul of the same set.
OPSET = 14

# fastrnn's gate blocks in ONNX's order: LSTM (i, f, g, o) -> (i, o, f, c),
# GRU (r, z, n) -> (z, r, h). Peephole rows (p_i, p_f, p_o) -> (P_i, P_o, P_f).
_ONNX_GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}
_ONNX_PEEPHOLE_ORDER = (0, 2, 1)


def _onnx():
    onnx = require_onnx("fastrnn.to_onnx")
    from onnx import helper, numpy_helper
    return onnx, helper, numpy_helper


def _parts(model):
    """(recurrent layer, Linear output or None) of a model, or TypeError."""
    from fastrnn.layers.gru import GRU
    from fastrnn.layers.lstm import LSTM
    from fastrnn.layers.linear import Linear
    from fastrnn.layers.rnn import RNN
    from fastrnn.training.train import Sequential

    output = None
    if isinstance(model, Sequential):
        layers = model.layers
        if (len(layers) > 2 or layers[0] not in model.recurrent_layers
                or (len(layers) == 2 and not isinstance(layers[1], Linear))):
            raise TypeError(f"model: to_onnx exports a Sequential of one recurrent layer and "
                            f"an optional Linear output; this one has {model!r}")
        model, output = model.recurrent, model.output
    # Exact types: a subclass (LeakyRNN, DelayRNN...) has its own cell, which
    # no ONNX operator computes.
    if type(model) not in (RNN, LSTM, GRU):
        raise TypeError(f"model: to_onnx exports RNN, LSTM, GRU or a Sequential of one of them with a "
                        f"Linear output; {type(model).__name__} has no ONNX operator")
    if output is not None and output.in_features != model.hidden_size * model.num_directions:
        raise ValueError(f"model: the Linear output takes in_features={output.in_features} but the "
                         f"recurrent layer gives {model.hidden_size * model.num_directions} features")
    if output is not None and output.dtype != model.dtype:
        raise TypeError(f"the Linear output is {output.dtype} but the recurrent layer is "
                        f"{model.dtype}: ONNX needs one dtype across the graph")
    return model, output


def _op_type(layer):
    from fastrnn.layers.gru import GRU
    from fastrnn.layers.lstm import LSTM
    return "LSTM" if isinstance(layer, LSTM) else "GRU" if isinstance(layer, GRU) else "RNN"


def _stacked_weights(layer, op, k):
    """ONNX's W (dirs, G*H, D), R (dirs, G*H, H), B (dirs, 2*G*H) or None, and
    P (dirs, 3*H) or None, for layer k of a fastrnn layer."""
    H = layer.hidden_size
    order = _ONNX_GATE_ORDER[op]

    def gates(a):   # (G*H, ...) in fastrnn's gate order -> ONNX's
        return np.concatenate([a[g * H:(g + 1) * H] for g in order], axis=0)

    W, R, B, P = [], [], [], []
    for sfx in layer._suffixes():
        p = layer.params
        W.append(gates(p[f"weight_ih_l{k}{sfx}"]))
        R.append(gates(p[f"weight_hh_l{k}{sfx}"]))
        if layer.bias:
            B.append(np.concatenate([gates(p[f"bias_ih_l{k}{sfx}"]),
                                     gates(p[f"bias_hh_l{k}{sfx}"])]))
        if op == "LSTM" and layer.peepholes:
            P.append(p[f"weight_peephole_l{k}{sfx}"][list(_ONNX_PEEPHOLE_ORDER)].reshape(-1))
    return (np.stack(W), np.stack(R), np.stack(B) if B else None, np.stack(P) if P else None)


def to_onnx(model: Any, path: Union[str, os.PathLike], *, lengths: bool = False,
            initial_state: bool = False, opset: int = OPSET, producer: str = "fastrnn"
            ) -> onnx.ModelProto:
    """Write a model as an ONNX file that ONNX Runtime and OpenVINO run.

    Parameters
    ----------
    model : RNN, LSTM, GRU, or Sequential
        A recurrent layer (any number of layers, either direction, with or
        without bias; LSTM peepholes; both GRU forms), or a ``Sequential`` of
        one with a ``Linear`` output (or none). Subclasses with cells of
        their own (LeakyRNN, ClockworkRNN, DelayRNN) have no ONNX operator
        and are refused with a TypeError.
    path : str or os.PathLike
        Where to write the file; it is written whole or not at all.
    lengths : bool
        Give the graph a ``sequence_lens`` input (B,) int32 for ragged
        batches, as ``forward(x, lengths=...)``. Without it every sequence
        runs all T steps.
    initial_state : bool
        Give the graph ``initial_h`` (and ``initial_c`` for an LSTM) inputs,
        as ``forward(x, hx)``. Without them the state starts at zero.
    opset : int
        The ONNX operator set the file declares, at least 14 (the version
        of the recurrent operators written).
    producer : str
        The ``producer_name`` recorded in the file.

    Returns
    -------
    onnx.ModelProto
        The model written (already checked with ``onnx.checker``).

    Notes
    -----
    The graph's inputs are ``x`` and, when asked for, ``sequence_lens``,
    ``initial_h`` and ``initial_c`` (LSTM); its outputs ``y``, ``h_n``
    and, for an LSTM, ``c_n``, with fastrnn's shapes (see the module
    docstring). The recurrent operators are those of the ONNX standard
    (https://onnx.ai/onnx/operators/); the model's parameters are stored in
    its own dtype.
    """
    onnx, helper, numpy_helper = _onnx()
    opset = check_int(opset, "opset", minimum=OPSET)
    lengths = check_bool(lengths, "lengths")
    initial_state = check_bool(initial_state, "initial_state")
    layer, output = _parts(model)
    op = _op_type(layer)
    dtype = layer.dtype
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    H, dirs, L = layer.hidden_size, layer.num_directions, layer.num_layers

    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op_type, inputs, outputs, **attrs):
        while inputs and inputs[-1] == "":   # absent trailing optional inputs
            inputs = inputs[:-1]
        nodes.append(helper.make_node(op_type, inputs, outputs, name=outputs[0] + "_node",
                                      **attrs))
        return outputs[0]

    x = "x"
    if layer.batch_first:
        x = node("Transpose", ["x"], ["x_time_major"], perm=[1, 0, 2])
    reshape_to = const("merge_directions_shape", np.array([0, 0, -1], np.int64))
    last_h, last_c = [], []
    for k in range(L):
        W, R, B, P = _stacked_weights(layer, op, k)
        names = [x, const(f"W_l{k}", W), const(f"R_l{k}", R),
                 const(f"B_l{k}", B) if B is not None else "",
                 "sequence_lens" if lengths else ""]
        # Layer k's slice of the initial states: rows k*dirs .. (k+1)*dirs;
        # "" is ONNX's absent optional input (zeros).
        state_names = ["initial_h", "initial_c"] if op == "LSTM" else ["initial_h"]
        if initial_state:
            bounds = (const(f"state_start_l{k}", np.array([k * dirs], np.int64)),
                      const(f"state_end_l{k}", np.array([(k + 1) * dirs], np.int64)),
                      const(f"state_axis_l{k}", np.array([0], np.int64)))
            names += [node("Slice", [s, *bounds], [f"{s}_l{k}"]) for s in state_names]
        else:
            names += [""] * len(state_names)
        if P is not None:
            names.append(const(f"P_l{k}", P))
        attrs = dict(hidden_size=H, direction="bidirectional" if dirs == 2 else "forward")
        if op == "RNN":
            act = "Relu" if layer.nonlinearity == "relu" else "Tanh"
            attrs["activations"] = [act] * dirs
        if op == "GRU":
            attrs["linear_before_reset"] = int(layer.reset_after)
        outs = [f"Y_l{k}", f"Y_h_l{k}"] + ([f"Y_c_l{k}"] if op == "LSTM" else [])
        node(op, names, outs, **attrs)
        last_h.append(outs[1])
        if op == "LSTM":
            last_c.append(outs[2])
        # Y is (T, dirs, B, H); the next layer (and fastrnn's y) wants
        # (T, B, dirs * H), the directions side by side.
        y_tbdh = node("Transpose", [outs[0]], [f"Y_tbdh_l{k}"], perm=[0, 2, 1, 3])
        x = node("Reshape", [y_tbdh, reshape_to], [f"y_l{k}"])

    if output is not None:
        x = node("MatMul", [x, const("output_weight_t", output.params["weight"].T)],
                 ["output_matmul"])
        if output.bias:
            x = node("Add", [x, const("output_bias", output.params["bias"])], ["output_add"])
    if layer.batch_first:
        x = node("Transpose", [x], ["y_batch_first"], perm=[1, 0, 2])
    node("Identity", [x], ["y"])
    node("Concat", last_h, ["h_n"], axis=0)
    if op == "LSTM":
        node("Concat", last_c, ["c_n"], axis=0)

    x_shape = ["batch", "time", layer.input_size] if layer.batch_first else [
        "time", "batch", layer.input_size]
    out_features = output.out_features if output is not None else dirs * H
    y_shape = ["batch", "time", out_features] if layer.batch_first else [
        "time", "batch", out_features]
    state_shape = [L * dirs, "batch", H]
    inputs = [helper.make_tensor_value_info("x", elem, x_shape)]
    if lengths:
        inputs.append(helper.make_tensor_value_info("sequence_lens", onnx.TensorProto.INT32,
                                                    ["batch"]))
    if initial_state:
        inputs += [helper.make_tensor_value_info(s, elem, state_shape) for s in state_names]
    outputs = [helper.make_tensor_value_info("y", elem, y_shape),
               helper.make_tensor_value_info("h_n", elem, state_shape)]
    if op == "LSTM":
        outputs.append(helper.make_tensor_value_info("c_n", elem, state_shape))
    graph = helper.make_graph(nodes, f"fastrnn_{op.lower()}", inputs, outputs, inits)
    proto = helper.make_model(graph, producer_name=producer,
                              opset_imports=[helper.make_opsetid("", opset)])
    # The IR version of opset 14's release, so that older runtimes load it.
    proto.ir_version = min(proto.ir_version, 8)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    atomic_write(path, lambda fh: fh.write(data))
    return proto
