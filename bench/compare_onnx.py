"""An ONNX model run by ONNX Runtime and, imported with `fastrnn.from_onnx`,
by fastrnn: forward time on the same file, same weights, same thread count.

Run from the repository root, alone on the machine (needs onnx and
onnxruntime; 2 threads by default):

    flock /tmp/fastrnn-bench.lock env PYTHONPATH=$PWD python bench/compare_onnx.py

The models are built with onnx.helper from random weights: single LSTM, GRU
(both values of linear_before_reset; ONNX Runtime's default is 0) and RNN
nodes, and two stacked bidirectional LSTM nodes (imported as one two-layer
layer). Prints medians (ms), the ratio ORT / fastrnn (> 1: fastrnn is
faster), the largest difference between the two outputs, and how long
`from_onnx` takes to read the file.
"""
import argparse
import os
import tempfile

import numpy as np

import fastrnn
from timing import engines_ms, rule

SIZES = [(32, 64, 1, 1000), (128, 256, 32, 100)]
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
CASES = [("LSTM", {}), ("GRU", {"linear_before_reset": 1}), ("GRU", {"linear_before_reset": 0}),
         ("RNN", {}), ("LSTM x2 bi", {})]


def build_model(kind, attrs, D, H, seed=0):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    stacked = kind.endswith("bi")
    op = kind.split()[0]
    G, dirs = GATES[op], 2 if stacked else 1
    k = 1 / np.sqrt(H)
    nodes, inits = [], []
    x_name = "x"
    for layer in range(2 if stacked else 1):
        d_in = D if layer == 0 else dirs * H
        p = f"l{layer}_"
        for name, shape in (("W", (dirs, G * H, d_in)), ("R", (dirs, G * H, H)),
                            ("B", (dirs, 2 * G * H))):
            inits.append(numpy_helper.from_array(
                rng.uniform(-k, k, shape).astype(np.float32), p + name))
        outs = [p + "Y", p + "Y_h"] + ([p + "Y_c"] if op == "LSTM" else [])
        nodes.append(helper.make_node(
            op, [x_name, p + "W", p + "R", p + "B"], outs, hidden_size=H,
            direction="bidirectional" if stacked else "forward", **attrs))
        if stacked and layer == 0:
            inits.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), "shape"))
            nodes += [helper.make_node("Transpose", [p + "Y"], [p + "Yt"], perm=[0, 2, 1, 3]),
                      helper.make_node("Reshape", [p + "Yt", "shape"], ["l1_x"])]
            x_name = "l1_x"
    last = nodes[-1].output[0]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, D])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, [None, None, None, None])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def bench_one(kind, attrs, D, H, B, T, threads, repeats, directory):
    import time

    import onnxruntime as ort

    model = build_model(kind, attrs, D, H)
    path = os.path.join(directory, "model.onnx")
    with open(path, "wb") as fh:
        fh.write(model.SerializeToString())
    t0 = time.perf_counter()
    [layer] = fastrnn.from_onnx(path)
    load_ms = 1e3 * (time.perf_counter() - t0)
    x = np.random.default_rng(1).standard_normal((T, B, D)).astype(np.float32)
    y, _ = layer.forward(x)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    Y = sess.run(None, {"x": x})[0]
    dirs = Y.shape[1]
    y_ort = Y.transpose(0, 2, 1, 3).reshape(T, B, dirs * H)
    # The session's threads spin for a while after each run; each block's
    # warm-up call, untimed, lets them settle before fastrnn's timed calls.
    t = engines_ms({"fastrnn": lambda: layer.forward(x),
                    "ort": lambda: sess.run(None, {"x": x})}, repeats)
    del sess
    return dict(t, diff=float(np.abs(y - y_ort).max()), load=load_ms)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=args.threads)   # noqa: F841 (kept alive)
    except ImportError:
        pass
    import onnxruntime as ort
    print(f"# float32, {args.threads} threads, ms ({rule(args.repeats)}); "
          f"onnxruntime {ort.__version__}; ratio = ORT / fastrnn")
    print("| model | D, H, B, T | fastrnn fwd | ORT fwd | ORT/fastrnn | max abs diff "
          "| from_onnx ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as directory:
        for kind, attrs in CASES:
            label = kind + "".join(f" lbr={v}" for v in attrs.values())
            for D, H, B, T in SIZES:
                r = bench_one(kind, attrs, D, H, B, T, args.threads, args.repeats, directory)
                print(f"| {label} | {D}, {H}, {B}, {T} | {r['fastrnn']:.2f} | {r['ort']:.2f} | "
                      f"{r['ort'] / r['fastrnn']:.2f} | {r['diff']:.1e} | {r['load']:.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
