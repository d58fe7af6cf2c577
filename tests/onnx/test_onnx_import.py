"""fastrnn.from_onnx: ONNX LSTM/GRU/RNN nodes as fastrnn layers.

from_onnx reads files with the ``onnx`` package; without it this module
skips (tests/onnx/test_onnx_optional.py checks the error then). Three tiers:
- committed fixtures (tests/fixtures/onnx, made by
  tests/fixtures/make_onnx_fixtures.py) with ONNX Runtime's outputs, and
  models written byte by byte here (a tiny protobuf encoder, so that a test
  can write what onnx.helper would refuse to: wrong wire types, untyped
  attributes, shapes that do not fit the data);
- models built with ``onnx.helper`` (external data among them), run by
  onnxruntime where installed;
- where torch is also installed: PyTorch modules exported with
  ``torch.onnx.export(..., dynamo=False)`` (the new exporter needs
  onnxscript), compared with ONNX Runtime and with PyTorch.
"""
import glob
import json
import os
import struct

import numpy as np
import pytest

import fastrnn
from fastrnn.onnx.importer import Reversed

# A submodule: without onnx installed, "onnx" alone would import this folder
# (tests/onnx, on sys.path's tests/) as a namespace package.
pytest.importorskip("onnx.numpy_helper")
import onnx  # noqa: E402
from child_process import TESTS_DIR

FIXTURES = os.path.join(TESTS_DIR, "fixtures", "onnx")
CASES = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(FIXTURES, "*.npz")))
CLASSES = {"LSTM": fastrnn.LSTM, "GRU": fastrnn.GRU, "RNN": fastrnn.RNN}


def fixture(name):
    return os.path.join(FIXTURES, name + ".onnx"), np.load(os.path.join(FIXTURES, name + ".npz"))


def run(layer, data, dtype=None):
    """fastrnn's (y, h_n, c_n or None) on a fixture's inputs."""
    cast = (lambda a: a) if dtype is None else (lambda a: a.astype(dtype))
    state = None
    if "h0" in data:
        state = (cast(data["h0"]), cast(data["c0"])) if "c0" in data else cast(data["h0"])
    lengths = data["lengths"] if "lengths" in data else None
    y, final = layer.forward(cast(data["x"]), state, lengths=lengths)
    if isinstance(final, tuple):
        return y, final[0], final[1]
    return y, final, None


# ------------------------------------------------------------- fixtures
def test_fixtures_are_there():
    assert len(CASES) >= 8, CASES


@pytest.mark.parametrize("case", CASES)
def test_fixture_matches_onnxruntime(case):
    path, data = fixture(case)
    expect = json.loads(str(data["expect"]))
    layers = fastrnn.from_onnx(path)
    assert len(layers) == 1
    layer = layers[0]
    assert isinstance(layer, Reversed) == expect["reversed"]
    inner = layer.layer if expect["reversed"] else layer
    assert type(inner) is CLASSES[expect["cls"]]
    assert inner.num_layers == expect["num_layers"]
    assert inner.bidirectional == expect["bidirectional"]
    assert inner.batch_first == expect["batch_first"]
    assert inner.bias == expect["bias"]
    assert inner.dtype == np.dtype(expect["dtype"])
    for key in ("peepholes", "reset_after", "nonlinearity"):
        if key in expect:
            assert getattr(inner, key) == expect[key], key
    if "nodes" in expect:
        assert list(layer.onnx_nodes) == expect["nodes"]
    y, h_n, c_n = run(layer, data)
    # ONNX Runtime computes in float32 (also for the float64 fixture, whose
    # numbers come from its float32 twin).
    assert np.abs(data["y"]).max() > 0.1     # something to compare
    np.testing.assert_allclose(y, data["y"], rtol=0, atol=2e-6)
    np.testing.assert_allclose(h_n, data["h_n"], rtol=0, atol=2e-6)
    if "c_n" in data:
        np.testing.assert_allclose(c_n, data["c_n"], rtol=0, atol=2e-6)


@pytest.mark.parametrize("case", ["lstm_bi2_torch", "gru_lbr0_bi_lengths"])
def test_dtype_argument_converts(case):
    path, data = fixture(case)
    [layer] = fastrnn.from_onnx(path, dtype=np.float64)
    assert layer.dtype == np.float64
    y, h_n, _ = run(layer, data, np.float64)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, data["y"], rtol=0, atol=1e-5)
    with pytest.raises(TypeError, match="dtype"):
        fastrnn.from_onnx(path, dtype=np.int32)


def test_lengths_zero_the_padding_as_onnx():
    path, data = fixture("gru_lbr0_bi_lengths")
    [layer] = fastrnn.from_onnx(path)
    y, _, _ = run(layer, data)
    for b, n in enumerate(data["lengths"]):
        assert np.all(y[n:, b] == 0) and np.all(data["y"][n:, b] == 0)
        assert np.abs(y[:n, b]).min() > 0


def _reverse_rows(a, lengths, time_axis):
    """Each row's first lengths[b] steps reversed (plain loop, for checking)."""
    out = a.copy()
    for b, n in enumerate(lengths):
        if time_axis == 0:
            out[:n, b] = a[:n, b][::-1]
        else:
            out[b, :n] = a[b, :n][::-1]
    return out


def test_reversed_reads_each_row_backwards_batch_first():
    rng = np.random.default_rng(0)
    inner = fastrnn.GRU(3, 4, batch_first=True, dtype=np.float64, seed=1)
    x = rng.normal(size=(3, 6, 3))
    lengths = np.array([6, 2, 4])
    y, h = Reversed(inner).forward(x, lengths=lengths)
    y_ref, h_ref = inner.forward(_reverse_rows(x, lengths, 1), lengths=lengths)
    np.testing.assert_array_equal(y, _reverse_rows(y_ref, lengths, 1))
    np.testing.assert_array_equal(h, h_ref)
    y_full, _ = Reversed(inner).forward(x[0])          # unbatched (T, D)
    np.testing.assert_allclose(y_full, y[0], atol=1e-14)


def test_reversed_backward_finite_differences():
    path, data = fixture("lstm_peephole_reverse_lengths")
    [layer] = fastrnn.from_onnx(path, dtype=np.float64)
    rng = np.random.default_rng(5)
    x = data["x"].astype(np.float64)
    h0, c0 = data["h0"].astype(np.float64), data["c0"].astype(np.float64)
    lengths = data["lengths"]
    y, (h, c) = layer.forward(x, (h0, c0), lengths=lengths)
    dy, dh, dc = rng.normal(size=y.shape), rng.normal(size=h.shape), rng.normal(size=c.shape)
    layer.zero_grad()
    dx, (dh0, _) = layer.backward(dy, (dh, dc))

    def loss(x_, h0_):
        y_, (h_, c_) = layer.forward(x_, (h0_, c0), lengths=lengths)
        return np.sum(y_ * dy) + np.sum(h_ * dh) + np.sum(c_ * dc)

    eps = 1e-6
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = eps
        num[idx] = (loss(x + e, h0) - loss(x - e, h0)) / (2 * eps)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)
    for b, n in enumerate(lengths):      # nothing flows from the padding
        assert np.all(dx[n:, b] == 0)
    e = np.zeros_like(h0)
    e[0, 1, 2] = eps
    assert abs(dh0[0, 1, 2] - (loss(x, h0 + e) - loss(x, h0 - e)) / (2 * eps)) < 1e-6


def test_reversed_saves_and_loads(tmp_path):
    path, data = fixture("lstm_peephole_reverse_lengths")
    [layer] = fastrnn.from_onnx(path)
    fastrnn.save(layer, tmp_path / "r.npz")
    again = fastrnn.load(tmp_path / "r.npz")
    assert isinstance(again, Reversed) and again.layer.peepholes
    for out, ref in zip(run(again, data), run(layer, data)):
        np.testing.assert_array_equal(out, ref)


def test_reversed_refuses_bidirectional_and_early_backward():
    with pytest.raises(ValueError, match="unidirectional"):
        Reversed(fastrnn.LSTM(2, 3, bidirectional=True))
    layer = Reversed(fastrnn.RNN(2, 3))
    with pytest.raises(fastrnn.NotFittedError, match="before forward"):
        layer.backward(np.zeros((4, 3)))
    layer.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="dy must have the shape of y"):
        layer.backward(np.zeros((5, 3)))


# --------------------------------------------------------------- bad files
@pytest.mark.parametrize("case,error,words", [
    ("bad_lstm_clip", NotImplementedError, ["LSTM node 'LSTM'", "clip"]),
    ("bad_gru_activations", NotImplementedError, ["GRU node 'GRU'", "activations", "HardSigmoid"]),
    ("bad_lstm_input_forget", NotImplementedError, ["LSTM node 'LSTM'", "input_forget"]),
    ("bad_rnn_external_data", ValueError, ["RNN node 'RNN'", "external data", "weights.bin"]),
    ("no_recurrent", ValueError, ["no LSTM, GRU or RNN node", "Relu"]),
])
def test_refused_models_say_why(case, error, words):
    path = os.path.join(FIXTURES, case + ".onnx")
    with pytest.raises(error) as info:
        fastrnn.from_onnx(path)
    message = str(info.value)
    assert path in message
    for word in words:
        assert word in message


def test_missing_file_and_wrong_argument(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastrnn.from_onnx(tmp_path / "nothing.onnx")
    with pytest.raises(IsADirectoryError):
        fastrnn.from_onnx(tmp_path)
    with pytest.raises(TypeError, match="path"):
        fastrnn.from_onnx(12)


@pytest.mark.parametrize("content", [
    b"",
    b"hello, this is a text file\n",
    bytes(range(256)) * 4,
    b"\x08\x08",                      # an IR version and nothing else: no graph
    b"\x3a\x05\x0a\x03abc",           # a graph whose node is not a NodeProto
])
def test_not_onnx_is_a_value_error_naming_the_file(tmp_path, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not an ONNX model") as info:
        fastrnn.from_onnx(path)
    assert str(path) in str(info.value)


def test_other_files_and_truncation(tmp_path):
    npz = os.path.join(FIXTURES, "gru_torch.npz")
    with pytest.raises(ValueError, match="not an ONNX model"):
        fastrnn.from_onnx(npz)
    good = open(os.path.join(FIXTURES, "gru_torch.onnx"), "rb").read()
    for cut in (len(good) // 3, len(good) // 2, len(good) - 3):
        path = tmp_path / f"cut{cut}.onnx"
        path.write_bytes(good[:cut])
        with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
            fastrnn.from_onnx(path)


@pytest.mark.filterwarnings("ignore:Ignoring unknown external data key")
def test_corrupted_files_fail_cleanly(tmp_path):
    """Random byte changes in the fixtures: a layer that runs, or ValueError /
    NotImplementedError; never another exception (or a crash)."""
    rng = np.random.default_rng(11)
    files = sorted(glob.glob(os.path.join(FIXTURES, "*.onnx")))
    outcomes = {"loaded": 0, "refused": 0}
    path = tmp_path / "corrupt.onnx"
    for it in range(400):
        with open(files[it % len(files)], "rb") as fh:
            data = bytearray(fh.read())
        for i in rng.integers(0, len(data), size=rng.integers(1, 4)):
            data[i] = rng.integers(256)
        path.write_bytes(bytes(data))
        try:
            layers = fastrnn.from_onnx(path)
        except (ValueError, NotImplementedError):
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        for layer in layers:
            with np.errstate(all="ignore"):
                y, _ = layer.forward(np.ones((3, 2, layer.input_size), layer.dtype))
            assert y.shape[:2] == (3, 2)
    assert outcomes["loaded"] > 20 and outcomes["refused"] > 100, outcomes


# ------------------------------------------- protobuf written byte by byte
def _varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def f_int(n, v):
    return _varint(n << 3) + _varint(v)


def f_len(n, payload):
    payload = payload.encode() if isinstance(payload, str) else payload
    return _varint(n << 3 | 2) + _varint(len(payload)) + payload


def f_f32(n, v):
    return _varint(n << 3 | 5) + struct.pack("<f", v)


def w_tensor(name, arr, packed=True):
    arr = np.asarray(arr)
    code = {np.dtype(np.float32): 1, np.dtype(np.float64): 11, np.dtype(np.int64): 7,
            np.dtype(np.float16): 10}[arr.dtype]
    out = b"".join(f_int(1, d) for d in arr.shape) + f_int(2, code) + f_len(8, name)
    if packed:
        return out + f_len(9, arr.astype(arr.dtype.newbyteorder("<")).tobytes())
    if code == 1:     # one fixed32 field per value, as old writers did
        return out + b"".join(f_f32(4, float(v)) for v in arr.ravel())
    return out + b"".join(f_int(7, int(v)) for v in arr.ravel())


def w_attr(name, value):
    head = f_len(1, name)
    if isinstance(value, float):
        return head + f_int(20, 1) + f_f32(2, value)
    if isinstance(value, int):
        return head + f_int(20, 2) + f_int(3, value)
    if isinstance(value, str):
        return head + f_int(20, 3) + f_len(4, value)
    if isinstance(value, np.ndarray):
        return head + f_int(20, 4) + f_len(5, w_tensor("", value))
    if all(isinstance(v, float) for v in value):   # packed, as protobuf 3 writes
        return head + f_int(20, 6) + f_len(7, np.asarray(value, "<f4").tobytes())
    if all(isinstance(v, str) for v in value):
        return head + f_int(20, 8) + b"".join(f_len(9, v) for v in value)
    return head + f_int(20, 7) + b"".join(f_int(8, v) for v in value)


def w_node(op, inputs, outputs, name="", **attrs):
    return (b"".join(f_len(1, i) for i in inputs) + b"".join(f_len(2, o) for o in outputs)
            + f_len(3, name) + f_len(4, op)
            + b"".join(f_len(5, w_attr(k, v)) for k, v in attrs.items()))


def w_model(nodes, initializers=(), inputs=("x",), outputs=()):
    graph = (b"".join(f_len(1, n) for n in nodes) + f_len(2, "g")
             + b"".join(f_len(5, t) for t in initializers)
             + b"".join(f_len(11, f_len(1, i)) for i in inputs)
             + b"".join(f_len(12, f_len(1, o)) for o in outputs))
    return f_int(1, 8) + f_len(7, graph) + f_len(8, f_len(1, "") + f_int(2, 17))


def rnn_weights(rng, dirs=1, D=3, H=4, G=1):
    return (rng.normal(size=(dirs, G * H, D)).astype(np.float32),
            rng.normal(size=(dirs, G * H, H)).astype(np.float32),
            rng.normal(size=(dirs, 2 * G * H)).astype(np.float32))


def write(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(model)
    return path


def rnn_step_reference(x, W, R, B, act=np.tanh):
    """Plain loop of ONNX's RNN equation (one direction, zero initial state)."""
    H = R.shape[0]
    h = np.zeros((x.shape[1], H))
    ys = []
    for t in range(x.shape[0]):
        h = act(x[t] @ W.T + h @ R.T + B[:H] + B[H:])
        ys.append(h)
    return np.stack(ys)


def test_handwritten_rnn_matches_the_onnx_equation(tmp_path):
    rng = np.random.default_rng(0)
    W, R, B = rnn_weights(rng)
    node = w_node("RNN", ["x", "W", "R", "B"], ["Y", "Y_h"], name="r", hidden_size=4,
                  activations=["Relu"])
    inits = [w_tensor("W", W, packed=False), w_tensor("R", R), w_tensor("B", B)]
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model([node], inits)))
    assert layer.nonlinearity == "relu"
    x = rng.normal(size=(6, 2, 3)).astype(np.float32)
    y, h = layer.forward(x)
    ref = rnn_step_reference(x.astype(np.float64), W[0].astype(np.float64),
                             R[0].astype(np.float64), B[0].astype(np.float64),
                             act=lambda a: np.maximum(a, 0))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h[0], ref[-1], rtol=1e-5, atol=1e-5)


def test_weights_through_constant_and_identity_nodes(tmp_path):
    rng = np.random.default_rng(1)
    W, R, B = rnn_weights(rng, dirs=2, G=3)
    plain = w_node("GRU", ["x", "W", "R", "B"], ["Y"], direction="bidirectional")
    [ref] = fastrnn.from_onnx(write(tmp_path, w_model(
        [plain], [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)]), "a.onnx"))
    nodes = [w_node("Constant", [], ["Wc"], value=W),
             w_node("Identity", ["Rinit"], ["Ri"]),
             w_node("Identity", ["Ri"], ["Rii"]),
             w_node("Constant", [], ["Bc"], value_floats=[0.0]),   # unused, ignored
             w_node("GRU", ["x", "Wc", "Rii", "B"], ["Y"], direction="bidirectional")]
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model(
        nodes, [w_tensor("Rinit", R), w_tensor("B", B)]), "b.onnx"))
    assert layer.params.keys() == ref.params.keys()
    for k in ref.params:
        np.testing.assert_array_equal(layer.params[k], ref.params[k])
    # ONNX's (z, r, h) blocks land as fastrnn's (r, z, n), B split into Wb, Rb.
    np.testing.assert_array_equal(layer.params["weight_ih_l0_reverse"][:4], W[1, 4:8])
    np.testing.assert_array_equal(layer.params["weight_hh_l0"][4:8], R[0, :4])
    np.testing.assert_array_equal(layer.params["bias_hh_l0_reverse"][8:], B[1, 20:])
    assert not layer.reset_after          # linear_before_reset defaults to 0


def test_lstm_gate_and_peephole_order(tmp_path):
    H = 2
    W = np.arange(4 * H * 1, dtype=np.float32).reshape(1, 4 * H, 1)
    R = np.arange(4 * H * H, dtype=np.float32).reshape(1, 4 * H, H)
    B = np.arange(8 * H, dtype=np.float32).reshape(1, 8 * H)
    P = np.arange(1, 3 * H + 1, dtype=np.float32).reshape(1, 3 * H)
    node = w_node("LSTM", ["x", "W", "R", "B", "", "", "", "P"], ["Y"], hidden_size=H)
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model(
        [node], [w_tensor(n, a) for n, a in zip("WRBP", (W, R, B, P))])))
    i, o, f, c = (slice(k * H, (k + 1) * H) for k in range(4))
    want = np.concatenate([W[0, i], W[0, f], W[0, c], W[0, o]])
    np.testing.assert_array_equal(layer.params["weight_ih_l0"], want)
    np.testing.assert_array_equal(layer.params["bias_hh_l0"][2 * H:3 * H], B[0, 4 * H:][c])
    np.testing.assert_array_equal(layer.params["weight_peephole_l0"],
                                  P[0].reshape(3, H)[[0, 2, 1]])
    assert layer.forget_bias == 0.0


def _two_rnns(tmp_path, extra_reader=False, squeeze_axes=(1,), layout=0, second_hidden=4,
              direction="forward"):
    rng = np.random.default_rng(2)
    W0, R0, B0 = rnn_weights(rng)
    W1, R1, B1 = rnn_weights(rng, D=4, H=second_hidden)
    nodes = [w_node("RNN", ["x", "W0", "R0", "B0"], ["Y0", "H0"], name="first", layout=layout,
                    direction=direction),
             w_node("Squeeze", ["Y0"], ["S0"], axes=list(squeeze_axes)),
             w_node("RNN", ["S0", "W1", "R1", "B1"], ["Y1", "H1"], name="second", layout=layout,
                    direction=direction)]
    if extra_reader:
        nodes.append(w_node("Relu", ["S0"], ["side"]))
    inits = [w_tensor(n, a) for n, a in
             zip(("W0", "R0", "B0", "W1", "R1", "B1"), (W0, R0, B0, W1, R1, B1))]
    return fastrnn.from_onnx(write(tmp_path, w_model(nodes, inits, outputs=["Y1"])))


def test_stacked_nodes_merge_only_when_nothing_else_reads_between(tmp_path):
    [merged] = _two_rnns(tmp_path)
    assert merged.num_layers == 2 and merged.onnx_nodes == ("first", "second")
    layers = _two_rnns(tmp_path, extra_reader=True)
    assert [l.onnx_nodes for l in layers] == [("first",), ("second",)]
    assert [l.num_layers for l in layers] == [1, 1]
    np.testing.assert_array_equal(layers[1].params["weight_ih_l0"], merged.params["weight_ih_l1"])
    # Squeezing another axis is not the direction merge; nor is stacking a
    # layer of another size (the chain must be one fastrnn layer).
    assert len(_two_rnns(tmp_path, squeeze_axes=(0,))) == 2
    [merged1] = _two_rnns(tmp_path, squeeze_axes=(2,), layout=1)
    assert merged1.batch_first and merged1.num_layers == 2
    assert len(_two_rnns(tmp_path, second_hidden=5)) == 2


def test_stacked_reverse_nodes_are_one_reversed_stack(tmp_path):
    [stack] = _two_rnns(tmp_path, direction="reverse")
    first, second = _two_rnns(tmp_path, direction="reverse", extra_reader=True)
    assert isinstance(stack, Reversed) and stack.layer.num_layers == 2
    x = np.random.default_rng(9).normal(size=(6, 3, 3)).astype(np.float32)
    lengths = np.array([6, 1, 4])
    y, h = stack.forward(x, lengths=lengths)
    y0, h0 = first.forward(x, lengths=lengths)
    y1, h1 = second.forward(y0, lengths=lengths)
    np.testing.assert_allclose(y, y1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(h, np.concatenate([h0, h1]), rtol=0, atol=1e-6)


@pytest.mark.parametrize("node_kwargs,inits_extra,error,words", [
    (dict(activations=["Sigmoid"]), {}, NotImplementedError, ["node 'n'", "activations"]),
    (dict(activations=["Tanh", "Relu"], direction="bidirectional"), {},
     NotImplementedError, ["activations"]),
    (dict(hidden_size=5), {}, ValueError, ["hidden_size=5"]),
    (dict(direction="sideways"), {}, ValueError, ["direction"]),
    (dict(layout=2), {}, ValueError, ["layout"]),
    (dict(foo=1), {}, ValueError, ["foo"]),
    (dict(), {"h0": np.ones((1, 2, 4), np.float32)}, NotImplementedError, ["initial_h"]),
    (dict(), {"lens": np.array([3, 2], np.int64)}, NotImplementedError, ["sequence_lens"]),
])
def test_refusals_name_node_and_attribute(tmp_path, node_kwargs, inits_extra, error, words):
    rng = np.random.default_rng(3)
    dirs = 2 if node_kwargs.get("direction") == "bidirectional" else 1
    W, R, B = rnn_weights(rng, dirs=dirs)
    inputs = ["x", "W", "R", "B", "lens" if "lens" in inits_extra else "",
              "h0" if "h0" in inits_extra else ""]
    node = w_node("RNN", inputs, ["Y"], name="n", **node_kwargs)
    inits = [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)]
    inits += [w_tensor(k, v) for k, v in inits_extra.items()]
    with pytest.raises(error) as info:
        fastrnn.from_onnx(write(tmp_path, w_model([node], inits)))
    for word in words:
        assert word in str(info.value)


def test_attribute_types(tmp_path):
    rng = np.random.default_rng(12)
    W, R, B = rnn_weights(rng, G=3)
    inits = [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)]
    untyped = f_len(1, "linear_before_reset") + f_int(3, 1)   # no type field (IR 1)
    node = w_node("GRU", ["x", "W", "R", "B"], ["Y"]) + f_len(5, untyped)
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model([node], inits), "a.onnx"))
    assert layer.reset_after
    node = w_node("GRU", ["x", "W", "R", "B"], ["Y"], name="g", layout="1")
    with pytest.raises(ValueError, match="'layout' must be an int"):
        fastrnn.from_onnx(write(tmp_path, w_model([node], inits), "b.onnx"))


def test_zero_constant_state_and_computed_weights(tmp_path):
    rng = np.random.default_rng(4)
    W, R, B = rnn_weights(rng)
    zeros = w_tensor("h0", np.zeros((1, 2, 4), np.float32))
    node = w_node("RNN", ["x", "W", "R", "B", "", "h0"], ["Y"])
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model(
        [node], [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B), zeros])))
    assert layer.hidden_size == 4
    computed = [w_node("Add", ["W", "W"], ["W2"]),
                w_node("RNN", ["x", "W2", "R", "B"], ["Y"], name="late")]
    with pytest.raises(ValueError, match="computed by the graph"):
        fastrnn.from_onnx(write(tmp_path, w_model(
            computed, [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)]), "c.onnx"))
    bad_shape = w_node("RNN", ["x", "W", "R"], ["Y"])
    with pytest.raises(ValueError, match="W must have shape"):
        fastrnn.from_onnx(write(tmp_path, w_model(
            [bad_shape], [w_tensor("W", W[0]), w_tensor("R", R)]), "d.onnx"))


def test_float16_weights_give_float32(tmp_path):
    rng = np.random.default_rng(6)
    W, R, B = (a.astype(np.float16) for a in rnn_weights(rng))
    node = w_node("RNN", ["x", "W", "R", "B"], ["Y"])
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model(
        [node], [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)])))
    assert layer.dtype == np.float32
    np.testing.assert_array_equal(layer.params["weight_hh_l0"], R[0].astype(np.float32))


def test_tensor_encodings_give_the_same_weights(tmp_path):
    """Each way a writer may store a tensor (raw bytes, one float per field,
    float64, float16 and bfloat16 bit patterns in int32_data) reads as the
    values written."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(13)
    W, R, B = rnn_weights(rng)
    node = w_node("RNN", ["x", "W", "R", "B"], ["Y"])
    [ref] = fastrnn.from_onnx(write(tmp_path, w_model(
        [node], [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)]), "ref.onnx"))
    as_fields = [w_tensor("W", W, packed=False), w_tensor("R", R, packed=False),
                 w_tensor("B", B, packed=False)]
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model([node], as_fields), "fields.onnx"))
    for k in ref.params:
        np.testing.assert_array_equal(layer.params[k], ref.params[k])
    wide = [w_tensor(n, a.astype(np.float64)) for n, a in zip("WRB", (W, R, B))]
    [layer64] = fastrnn.from_onnx(write(tmp_path, w_model([node], wide), "f64.onnx"))
    assert layer64.dtype == np.float64
    np.testing.assert_array_equal(layer64.params["weight_ih_l0"], W[0].astype(np.float64))
    for code, name in ((TensorProto.FLOAT16, "f16"), (TensorProto.BFLOAT16, "bf16")):
        narrow = [helper.make_tensor(n, code, a.shape, a.ravel(), raw=False).SerializeToString()
                  for n, a in zip("WRB", (W, R, B))]
        [small] = fastrnn.from_onnx(write(tmp_path, w_model([node], narrow), name + ".onnx"))
        assert small.dtype == np.float32
        # bfloat16 keeps float32's exponent and 8 bits of its mantissa.
        tol = 1e-3 if code == TensorProto.FLOAT16 else 1e-2
        np.testing.assert_allclose(small.params["weight_hh_l0"], R[0], rtol=tol, atol=tol)
        assert np.any(small.params["weight_hh_l0"] != R[0])


@pytest.mark.parametrize("tensor,words", [
    # A shape of 2**60 elements over 16 bytes: refused before anything of
    # that size is allocated.
    (f_int(1, 2**20) * 3 + f_int(2, 1) + f_len(8, "W") + f_len(9, b"\0" * 16),
     ["weight W ('W')", "16 bytes of raw data", "needs 4611686018427387904"]),
    (f_int(1, 2**30) * 2 + f_int(2, 1) + f_len(8, "W") + f_f32(4, 1.0),
     ["holds 1 values", "needs 1152921504606846976"]),
    (f_int(1, 1) + f_int(1, -12) + f_int(2, 1) + f_len(8, "W"), ["negative dimensions"]),
    (f_int(1, 1) + f_int(2, 8) + f_len(8, "W"), ["data type STRING"]),
    (f_int(1, 1) + f_int(2, 14) + f_len(8, "W") + f_len(9, b"\0" * 8), ["data type COMPLEX64"]),
    (f_int(1, 1) + f_int(2, 99) + f_len(8, "W"), ["data type 99"]),
    (w_tensor("W", np.ones((1, 4, 3), np.int64)), ["dtype int64, not floating point"]),
])
def test_bad_tensors_are_value_errors(tmp_path, tensor, words):
    rng = np.random.default_rng(14)
    _, R, B = rnn_weights(rng)
    node = w_node("RNN", ["x", "W", "R", "B"], ["Y"], name="n")
    path = write(tmp_path, w_model([node], [tensor, w_tensor("R", R), w_tensor("B", B)]))
    with pytest.raises(ValueError) as info:
        fastrnn.from_onnx(path)
    for word in [str(path), "RNN node 'n'"] + words:
        assert word in str(info.value)


@pytest.mark.parametrize("where", ["W", "R", "B"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(tmp_path, where, bad):
    rng = np.random.default_rng(15)
    weights = dict(zip("WRB", rnn_weights(rng)))
    weights[where].flat[3] = bad
    node = w_node("RNN", ["x", "W", "R", "B"], ["Y"], name="n")
    with pytest.raises(ValueError, match=f"{where} \\('{where}'\\) must be finite"):
        fastrnn.from_onnx(write(tmp_path, w_model(
            [node], [w_tensor(k, v) for k, v in weights.items()])))


def test_protobuf_errors_become_value_errors(tmp_path):
    """What the protobuf parser refuses, and text that is not UTF-8, come out
    as ValueError naming the file (or load), never as protobuf's errors."""
    rng = np.random.default_rng(16)
    W, R, B = rnn_weights(rng)
    inits = [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)]
    node = w_node("RNN", ["x", "W", "R", "B"], ["Y"])
    wrong_wire = f_int(1, 8) + f_len(7, f_len(1, node) + _varint(5 << 3 | 3))  # a group
    path = write(tmp_path, wrong_wire, "wire.onnx")
    with pytest.raises(ValueError, match="not an ONNX model") as info:
        fastrnn.from_onnx(path)
    assert str(path) in str(info.value)
    # A name that is not UTF-8 (protobuf hands such proto2 strings back as
    # bytes) loads as text, with U+FFFD where the bad byte was.
    odd = node.replace(f_len(3, ""), f_len(3, b"r\xffn"))
    [layer] = fastrnn.from_onnx(write(tmp_path, w_model([odd], inits), "name.onnx"))
    assert layer.onnx_nodes == ("r\ufffdn",)
    bad_attr = w_node("RNN", ["x", "W", "R", "B"], ["Y"]) + f_len(5, f_len(1, b"cl\xffp"))
    with pytest.raises(ValueError, match="has attributes") as info:
        fastrnn.from_onnx(write(tmp_path, w_model([bad_attr], inits), "attr.onnx"))
    assert "cl\ufffdp" in str(info.value)


# ------------------------------------------------------ built with onnx.helper
def test_attribute_type_codes_are_onnx_s():
    from fastrnn.onnx import importer
    A = onnx.AttributeProto
    assert (importer._FLOAT, importer._INT, importer._STRING, importer._FLOATS, importer._INTS,
            importer._STRINGS) == (A.FLOAT, A.INT, A.STRING, A.FLOATS, A.INTS, A.STRINGS)
    assert importer._BFLOAT16 == onnx.TensorProto.BFLOAT16


def _lstm_model(rng, D=3, H=4):
    """An LSTM node with its weights inside the model (onnx.helper)."""
    from onnx import TensorProto, helper, numpy_helper
    W = rng.normal(size=(1, 4 * H, D)).astype(np.float32)
    R = rng.normal(size=(1, 4 * H, H)).astype(np.float32)
    B = rng.normal(size=(1, 8 * H)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for n, a in (("W", W), ("R", R), ("B", B))]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y"], hidden_size=H, name="lstm")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, D])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model


def _save_external(model, path, location="weights.bin"):
    onnx.save_model(model, str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=location, size_threshold=0)


def test_external_data_is_read_from_the_model_s_directory(tmp_path, monkeypatch):
    model = _lstm_model(np.random.default_rng(20))
    [inside] = fastrnn.from_onnx(model)
    folder = tmp_path / "model"
    folder.mkdir()
    _save_external(model, folder / "m.onnx")
    assert (folder / "weights.bin").stat().st_size > 3 * 4 * 16
    stored = onnx.load(str(folder / "m.onnx"), load_external_data=False)
    assert all(onnx.external_data_helper.uses_external_data(t) for t in stored.graph.initializer)
    monkeypatch.chdir(tmp_path)       # relative to the model, not to the working directory
    [layer] = fastrnn.from_onnx(os.path.join("model", "m.onnx"))
    assert layer.params.keys() == inside.params.keys()
    for k in inside.params:
        np.testing.assert_array_equal(layer.params[k], inside.params[k])
    x = np.random.default_rng(21).normal(size=(5, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x)[0], inside.forward(x)[0])
    # A model already in memory has no directory to read its external data from.
    with pytest.raises(ValueError, match="given in memory") as info:
        fastrnn.from_onnx(stored)
    assert "weights.bin" in str(info.value) and "LSTM node 'lstm'" in str(info.value)


def test_missing_external_data_file(tmp_path):
    path = tmp_path / "m.onnx"
    _save_external(_lstm_model(np.random.default_rng(22)), path)
    os.remove(tmp_path / "weights.bin")
    with pytest.raises(ValueError) as info:
        fastrnn.from_onnx(path)
    message = str(info.value)
    for word in (str(path), "LSTM node 'lstm'", "weight W", "external data file 'weights.bin'",
                 "missing"):
        assert word in message


@pytest.mark.parametrize("where,reason", [
    ("parent", "outside the model's directory"),
    ("absolute", "relative to the model's directory"),
    ("symlink", "outside the model's directory"),
    ("nul", "relative to the model's directory"),
    ("empty", "relative to the model's directory"),
])
def test_external_data_outside_the_model_s_directory(tmp_path, where, reason):
    folder = tmp_path / "model"
    folder.mkdir()
    outside = tmp_path / "weights.bin"
    location = {"parent": "../weights.bin", "absolute": str(outside), "symlink": "link.bin",
                "nul": "link.bin\0x", "empty": ""}[where]
    _save_external(_lstm_model(np.random.default_rng(23)), tmp_path / "m.onnx")
    stored = onnx.load(str(tmp_path / "m.onnx"), load_external_data=False)
    for tensor in stored.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    if where == "symlink":
        os.symlink(outside, folder / "link.bin")
    path = folder / "m.onnx"
    path.write_bytes(stored.SerializeToString())
    with pytest.raises(ValueError) as info:
        fastrnn.from_onnx(path)
    message = str(info.value)
    for word in (str(path), "LSTM node 'lstm'", reason, repr(location)):
        assert word in message


@pytest.mark.parametrize("length", ["8", "eight"])
def test_external_data_of_the_wrong_length(tmp_path, length):
    path = tmp_path / "m.onnx"
    _save_external(_lstm_model(np.random.default_rng(24)), path)
    stored = onnx.load(str(path), load_external_data=False)
    for entry in stored.graph.initializer[1].external_data:
        if entry.key == "length":
            entry.value = length
    path.write_bytes(stored.SerializeToString())
    with pytest.raises(ValueError, match="recurrence weight R") as info:
        fastrnn.from_onnx(path)
    assert f"with length {length}" in str(info.value).replace("'", "")


def test_handwritten_models_are_valid_onnx():
    rng = np.random.default_rng(0)
    W, R, B = rnn_weights(rng)
    model = onnx.load_from_string(w_model(
        [w_node("RNN", ["x", "W", "R", "B"], ["Y"], hidden_size=4, activations=["Tanh"])],
        [w_tensor("W", W), w_tensor("R", R), w_tensor("B", B)], outputs=["Y"]))
    assert model.graph.node[0].op_type == "RNN"
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(model.graph.initializer[0]), W)


def test_model_proto_in_memory_and_float_data():
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper
    rng = np.random.default_rng(8)
    D, H, T, Bn = 3, 4, 6, 2
    W = rng.normal(size=(1, 4 * H, D)).astype(np.float32)
    R = rng.normal(size=(1, 4 * H, H)).astype(np.float32) * 0.5
    B = rng.normal(size=(1, 8 * H)).astype(np.float32)
    inits = [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.ravel().tolist(), raw=False)
             for n, a in (("W", W), ("R", R), ("B", B))]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "Y_h", "Y_c"], hidden_size=H,
                            activations=["sigmoid", "tanh", "tanh"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, Bn, D])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    [layer] = fastrnn.from_onnx(model)
    x = rng.normal(size=(T, Bn, D)).astype(np.float32)
    Y, Y_h, Y_c = ort.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"]).run(None, {"x": x})
    y, (h, c) = layer.forward(x)
    np.testing.assert_allclose(y, Y[:, 0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h, Y_h, rtol=0, atol=1e-5)
    np.testing.assert_allclose(c, Y_c, rtol=0, atol=1e-5)


# ------------------------------------------------------ PyTorch -> ONNX
TORCH_CASES = [
    ("LSTM", dict(num_layers=1, batch_first=True)),
    ("LSTM", dict(num_layers=3, bidirectional=False)),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(num_layers=2, bidirectional=True, nonlinearity="relu")),
    ("RNN", dict(num_layers=1, bias=False)),
]


@pytest.mark.parametrize("kind,kwargs", TORCH_CASES)
def test_torch_export_runs_as_in_onnxruntime_and_torch(tmp_path, kind, kwargs):
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    import warnings
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(5, 6, **kwargs).eval()
    T, B = 7, 3
    x = torch.randn(B, T, 5) if kwargs.get("batch_first") else torch.randn(T, B, 5)
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["x"])
    [layer] = fastrnn.from_onnx(path)
    assert layer.num_layers == module.num_layers
    assert layer.bidirectional == module.bidirectional
    ort_out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()})
    # The exporter turns batch_first into a Transpose before a layout-0 node.
    assert not layer.batch_first
    x_tm = x.numpy().transpose(1, 0, 2) if module.batch_first else x.numpy()
    y, final = layer.forward(x_tm)
    if module.batch_first:
        y = y.transpose(1, 0, 2)
    h = final[0] if isinstance(final, tuple) else final
    with torch.no_grad():
        y_torch, final_torch = module(x)
    h_torch = final_torch[0] if isinstance(final_torch, tuple) else final_torch
    # The exported graph's first output is y, laid out as PyTorch's.
    np.testing.assert_allclose(y, ort_out[0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(y, y_torch.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(h, h_torch.numpy(), rtol=0, atol=1e-5)
    # The weights are PyTorch's, to the bit.
    for name, p in module.state_dict().items():
        np.testing.assert_array_equal(layer.params[name], p.numpy())
