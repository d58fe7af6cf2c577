"""fastrnn.to_onnx: the exported graph, run by ONNX Runtime and OpenVINO,
gives what fastrnn's forward gives, and reads back through from_onnx."""
import numpy as np
import pytest

import fastrnn

# A submodule: without onnx installed, "onnx" alone would import this folder
# (tests/onnx, on sys.path's tests/) as a namespace package.
pytest.importorskip("onnx.numpy_helper")
import onnx  # noqa: E402
ort = pytest.importorskip("onnxruntime")

H = 5
CASES = {
    "rnn_tanh": lambda dt: fastrnn.RNN(3, H, dtype=dt, seed=0),
    "rnn_relu_2x_bi": lambda dt: fastrnn.RNN(3, H, nonlinearity="relu", num_layers=2,
                                             bidirectional=True, dtype=dt, seed=1),
    "lstm": lambda dt: fastrnn.LSTM(3, H, dtype=dt, seed=2),
    "lstm_2x_bi_peep": lambda dt: fastrnn.LSTM(3, H, num_layers=2, bidirectional=True,
                                               peepholes=True, dtype=dt, seed=3),
    "lstm_2x_bi": lambda dt: fastrnn.LSTM(3, H, num_layers=2, bidirectional=True, dtype=dt,
                                          seed=11),
    "lstm_nobias_bf": lambda dt: fastrnn.LSTM(3, H, bias=False, batch_first=True, dtype=dt,
                                              seed=4),
    "gru_after_2x": lambda dt: fastrnn.GRU(3, H, num_layers=2, dtype=dt, seed=5),
    "gru_before_bi": lambda dt: fastrnn.GRU(3, H, reset_after=False, bidirectional=True,
                                            dtype=dt, seed=6),
    "seq_lstm_linear": lambda dt: fastrnn.Sequential(
        fastrnn.LSTM(3, H, bidirectional=True, dtype=dt, seed=7),
        fastrnn.Linear(2 * H, 2, dtype=dt, seed=8)),
    "seq_gru_bf_linear": lambda dt: fastrnn.Sequential(
        fastrnn.GRU(3, H, batch_first=True, dtype=dt, seed=9),
        fastrnn.Linear(H, 4, bias=False, dtype=dt, seed=10)),
}
T, B = 7, 4
LENGTHS = np.array([7, 3, 5, 1], np.int32)


def recurrent(model):
    return model.recurrent if isinstance(model, fastrnn.Sequential) else model


def inputs(model, dtype, seed=0):
    rng = np.random.default_rng(seed)
    layer = recurrent(model)
    shape = (B, T, 3) if layer.batch_first else (T, B, 3)
    x = rng.standard_normal(shape).astype(dtype)
    states = layer.num_layers * layer.num_directions
    h0 = rng.standard_normal((states, B, H)).astype(dtype)
    c0 = rng.standard_normal((states, B, H)).astype(dtype)
    return x, h0, c0


def fastrnn_outputs(model, x, h0, c0, lengths):
    layer = recurrent(model)
    is_lstm = isinstance(layer, fastrnn.LSTM)
    hx = None if h0 is None else ((h0, c0) if is_lstm else h0)
    y, state = layer.forward(x, hx, lengths=lengths)
    if isinstance(model, fastrnn.Sequential) and model.output is not None:
        y = model.output.forward(y)
    return [y, *state] if is_lstm else [y, state]


def feeds(model, x, h0, c0, lengths):
    f = {"x": x}
    if lengths is not None:
        f["sequence_lens"] = lengths
    if h0 is not None:
        f["initial_h"] = h0
        if isinstance(recurrent(model), fastrnn.LSTM):
            f["initial_c"] = c0
    return f


def run_ort(path, f):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, f)


@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "state"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_runtime_matches_forward(tmp_path, case, with_state, ragged):
    model = CASES[case](np.float32)
    path = tmp_path / f"{case}.onnx"
    fastrnn.to_onnx(model, path, lengths=ragged, initial_state=with_state)
    x, h0, c0 = inputs(model, np.float32)
    if not with_state:
        h0 = c0 = None
    lengths = LENGTHS if ragged else None
    want = fastrnn_outputs(model, x, h0, c0, lengths)
    got = run_ort(path, feeds(model, x, h0, c0, lengths))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", ["lstm_2x_bi_peep", "gru_before_bi", "rnn_relu_2x_bi"])
def test_float64_export_keeps_its_precision(tmp_path, case):
    model = CASES[case](np.float64)
    path = tmp_path / "m.onnx"
    proto = fastrnn.to_onnx(model, path)
    assert all(t.data_type == onnx.TensorProto.DOUBLE for t in proto.graph.initializer
               if t.name.startswith(("W_", "R_", "B_", "P_")))
    back, = fastrnn.from_onnx(path)
    assert back.dtype == np.float64
    for name, p in recurrent(model).params.items():
        np.testing.assert_array_equal(back.params[name], p, err_msg=name)


@pytest.mark.parametrize("case", sorted(c for c in CASES if not c.startswith("seq")))
def test_from_onnx_reads_back_the_same_weights(tmp_path, case):
    model = CASES[case](np.float32)
    fastrnn.to_onnx(model, tmp_path / "m.onnx")
    back, = fastrnn.from_onnx(tmp_path / "m.onnx")
    # batch_first is written as Transpose nodes around the recurrent ones
    # (ONNX Runtime runs no layout=1 recurrent node), which from_onnx leaves.
    assert type(back) is type(model) and not back.batch_first
    assert sorted(back.params) == sorted(model.params)
    for name, p in model.params.items():
        np.testing.assert_array_equal(back.params[name], p, err_msg=name)


# Not the peephole LSTM: OpenVINO's LSTMSequence has no peepholes, and its
# ONNX reader drops P without a word (checked with OpenVINO 2026.4).
@pytest.mark.parametrize("case", ["lstm_2x_bi", "gru_before_bi", "gru_after_2x",
                                  "seq_gru_bf_linear", "rnn_relu_2x_bi"])
def test_openvino_matches_forward(tmp_path, case):
    ov = pytest.importorskip("openvino")
    model = CASES[case](np.float32)
    path = tmp_path / "m.onnx"
    fastrnn.to_onnx(model, path, lengths=True, initial_state=True)
    x, h0, c0 = inputs(model, np.float32, seed=1)
    want = fastrnn_outputs(model, x, h0, c0, LENGTHS)
    core = ov.Core()
    graph = core.read_model(str(path))
    # Static shapes: OpenVINO 2026.4's CPU plugin ignores sequence_lens when
    # the batch and time axes are left dynamic.
    f = feeds(model, x, h0, c0, LENGTHS)
    graph.reshape({name: list(value.shape) for name, value in f.items()})
    # f32 on purpose: OpenVINO's default on CPUs with bfloat16 is bfloat16.
    compiled = core.compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(f)
    got = [result[compiled.output(name)] for name in
           (["y", "h_n", "c_n"] if len(want) == 3 else ["y", "h_n"])]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


def test_refuses_what_onnx_cannot_express(tmp_path):
    with pytest.raises(TypeError, match="LeakyRNN"):
        fastrnn.to_onnx(fastrnn.LeakyRNN(2, 3), tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="model"):
        fastrnn.to_onnx(None, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="in_features"):
        fastrnn.to_onnx(fastrnn.Sequential(fastrnn.RNN(2, 3), fastrnn.Linear(4, 1)),
                        tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="opset"):
        fastrnn.to_onnx(fastrnn.RNN(2, 3), tmp_path / "m.onnx", opset=7)
    assert not list(tmp_path.iterdir())    # nothing written, not even a temporary file


def test_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(OSError):
        fastrnn.to_onnx(fastrnn.RNN(2, 3), tmp_path / "missing_dir" / "m.onnx")
    assert path.read_bytes() == b"old"
