"""fastrnn's LSTM and GRU against torch.nn.LSTM/GRU, ONNX Runtime, OpenVINO
and a plain NumPy loop, on the same weights and the same thread count.

Run from the repository root, alone on the machine (2 threads by default):

    flock /tmp/fastrnn-bench.lock env PYTHONPATH=$PWD python bench/compare_cells.py

Timing: each engine in blocks of calls after a warm-up, blocks taken in turn
for a few rounds, the best block median (bench/timing.py). ONNX Runtime runs
with intra-op spinning off (its idle threads would otherwise steal the next
engine's cores); OpenVINO with INFERENCE_PRECISION_HINT=f32, because its
default on CPUs with AVX512-BF16 is bfloat16 (``--ov-precision bf16`` times
that on purpose). The forward columns are inference: fastrnn under
``fastrnn.no_grad()``, PyTorch under ``torch.inference_mode()`` (neither
keeps anything for backward); the f+b columns keep it and differentiate.
Prints a table of medians (ms), the ratio of the fastest
peer to fastrnn (> 1: fastrnn is faster), achieved GFLOP/s (counting the GEMM
flops, 2 B (D + H) G H per step forward, three times that forward +
backward) and, once, the GFLOP/s of NumPy's sgemm 2048^3 on the same threads
in the same run: the rate a forward at the large size is measured against.
``--dtype float64`` times fastrnn and PyTorch only (the ONNX peers run
float32). PyTorch, ONNX Runtime and OpenVINO are optional: their columns are
skipped when they are not installed.
"""
import argparse
import sys

import numpy as np

import fastrnn
from references import load
from timing import engines_ms, rule

_reference = load("reference")
gru_forward, lstm_forward = _reference.gru_forward, _reference.lstm_forward

SIZES = [(32, 64, 1, 1000), (128, 256, 32, 100), (512, 1024, 64, 50)]
GATES = {"LSTM": 4, "GRU": 3}


# Blocks of at least 0.2 s of calls: the small sizes take well under a millisecond.
MIN_TIME = 0.2


def flops(cell, D, H, B, T):
    return 2.0 * B * (D + H) * GATES[cell] * H * T


def build_torch(cell, D, H, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    module = getattr(torch.nn, cell)(D, H)
    return torch, module


def onnx_session(torch, module, x, h0, c0, threads):
    import io

    import onnxruntime as ort

    import warnings

    buf = io.BytesIO()
    args = (torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)) if c0 is not None
            else torch.tensor(h0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on batch sizes
        torch.onnx.export(module, args, buf, opset_version=17, dynamo=False,
                          input_names=["x", "h0"] + (["c0"] if c0 is not None else []))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # Spinning threads would steal the cores of the engine timed next.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    feeds = {"x": x, "h0": h0}
    if c0 is not None:
        feeds["c0"] = c0
    return (lambda: sess.run(None, feeds)), buf.getvalue()


def openvino_request(onnx_bytes, x, h0, c0, threads, precision):
    """OpenVINO's CPU plugin on the exported model, at the given inference
    precision (f32 unless bf16 is compared on purpose)."""
    import os
    import tempfile

    import openvino as ov

    core = ov.Core()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cell.onnx")
        with open(path, "wb") as f:
            f.write(onnx_bytes)
        compiled = core.compile_model(core.read_model(path), "CPU", {
            "INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    feeds = {"x": x, "h0": h0}
    if c0 is not None:
        feeds["c0"] = c0
    return lambda: request.infer(feeds)


def sgemm_gflops(threads, repeats, n=2048):
    """GFLOP/s of NumPy's float32 matrix product n^3 (its BLAS, `threads` threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    ms = engines_ms({"sgemm": lambda: a @ b}, max(3, repeats // 2))["sgemm"]
    return 2.0 * n ** 3 / (ms * 1e-3) / 1e9


def bench_one(cell, D, H, B, T, threads, repeats, with_numpy, dtype=np.float32,
              ov_precision="f32"):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = np.zeros((1, B, H), dtype)
    c0 = np.zeros((1, B, H), dtype) if cell == "LSTM" else None
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    row = {"cell": cell, "size": (D, H, B, T)}
    try:
        torch, module = build_torch(cell, D, H, threads)
        if dtype == np.float64:
            module = module.double()
    except ImportError:
        torch = module = None
    layer = getattr(fastrnn, cell)(D, H, seed=0, dtype=dtype)
    if module is not None:
        layer = getattr(fastrnn, cell).from_torch(module)
    state = (h0, c0) if c0 is not None else h0

    def fr_fwd():   # inference, as the peers' forward (torch under inference_mode)
        with fastrnn.no_grad():
            layer.forward(x, state)

    def fr_fwdbwd():
        layer.forward(x, state)
        layer.backward(dy)

    engines = {"fastrnn fwd": fr_fwd, "fastrnn f+b": fr_fwdbwd}
    if module is not None:
        xt = torch.tensor(x)
        st = (torch.tensor(h0), torch.tensor(c0)) if c0 is not None else torch.tensor(h0)
        dyt = torch.tensor(dy)

        def t_fwd():
            with torch.inference_mode():
                module(xt, st)

        def t_fwdbwd():
            y, _ = module(xt, st)
            y.backward(dyt)

        engines["torch fwd"] = t_fwd
        engines["torch f+b"] = t_fwdbwd
        onnx_bytes = None
        if dtype == np.float32:
            try:
                engines["ORT fwd"], onnx_bytes = onnx_session(torch, module, x, h0, c0, threads)
            except Exception as exc:  # noqa: BLE001 - optional peer
                print(f"# ONNX Runtime skipped for {cell} {D, H, B, T}: {exc!r}",
                      file=sys.stderr)
        if onnx_bytes is not None:
            try:
                engines["OpenVINO fwd"] = openvino_request(onnx_bytes, x, h0, c0, threads,
                                                           ov_precision)
            except Exception as exc:  # noqa: BLE001 - optional peer
                print(f"# OpenVINO skipped for {cell} {D, H, B, T}: {exc!r}", file=sys.stderr)
    if with_numpy:
        p = {k: v for k, v in layer.params.items()}
        if cell == "LSTM":
            fn = lambda: lstm_forward(x, p["weight_ih_l0"], p["weight_hh_l0"],  # noqa: E731
                                      p["bias_ih_l0"], p["bias_hh_l0"], h0[0], c0[0])
        else:
            fn = lambda: gru_forward(x, p["weight_ih_l0"], p["weight_hh_l0"],  # noqa: E731
                                     p["bias_ih_l0"], p["bias_hh_l0"], h0[0])
        engines["numpy fwd"] = fn
    calls = {name: max(3, repeats // 3) if name == "numpy fwd" else repeats for name in engines}
    row.update(engines_ms(engines, calls, min_time=MIN_TIME))
    row["gflops fwd"] = flops(cell, D, H, B, T) / (row["fastrnn fwd"] * 1e-3) / 1e9
    row["gflops f+b"] = 3 * flops(cell, D, H, B, T) / (row["fastrnn f+b"] * 1e-3) / 1e9
    peers = [row[k] for k in ("torch fwd", "ORT fwd", "OpenVINO fwd") if k in row]
    if peers:
        row["best peer fwd"] = min(peers)
    return row


def step_table(threads, repeats):
    """Microseconds per streaming step (D=32, H=64, B=1) from Python:
    fastrnn's step() against torch.nn.LSTMCell/GRUCell under no_grad."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 32)).astype(np.float32)
    print("\n| step, D=32 H=64 B=1 (us per call) | fastrnn step() | torch *Cell | ratio |")
    print("| --- | --- | --- | --- |")
    n = 2000
    for cell in ("LSTM", "GRU"):
        layer = getattr(fastrnn, cell)(32, 64, seed=0)
        _, state = layer.step(x[0])
        engines = {"fastrnn": lambda: [layer.step(x[0], state) for _ in range(n)]}
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(threads)
            mod = getattr(torch.nn, cell + "Cell")(32, 64)
            xt = torch.tensor(x)
            st = mod(xt)

            def torch_steps():
                with torch.no_grad():
                    return [mod(xt, st) for _ in range(n)]

            engines["torch"] = torch_steps
        per_step = {name: 1e3 * ms / n
                    for name, ms in engines_ms(engines, repeats, min_time=MIN_TIME).items()}
        us = per_step["fastrnn"]
        tcol = ratio = "-"
        if torch is not None:
            tcol, ratio = f"{per_step['torch']:.2f}", f"{per_step['torch'] / us:.1f}"
        print(f"| {cell} | {us:.2f} | {tcol} | {ratio} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cells", default="LSTM,GRU")
    ap.add_argument("--sizes", default="all", help="'all' or indices into SIZES, e.g. 0,1")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--ov-precision", choices=("f32", "bf16"), default="f32",
                    help="OpenVINO's INFERENCE_PRECISION_HINT (f32: the same arithmetic)")
    ap.add_argument("--no-numpy", action="store_true")
    ap.add_argument("--no-step", action="store_true", help="skip the step() table")
    args = ap.parse_args()
    dtype = np.dtype(args.dtype).type
    sizes = SIZES if args.sizes == "all" else [SIZES[int(i)] for i in args.sizes.split(",")]
    fastrnn.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=args.threads)
    except ImportError:
        limiter = None
    sgemm = sgemm_gflops(args.threads, args.repeats)
    print(f"# {args.dtype}, {args.threads} threads, ms ({rule(args.repeats)}, at least "
          f"{MIN_TIME} s a block); OpenVINO precision {args.ov_precision}, ORT spinning off; "
          f"vs best = fastest peer / fastrnn")
    print(f"# NumPy sgemm 2048^3 in this run: {sgemm:.0f} GFLOP/s")
    cols = ["fastrnn fwd", "torch fwd", "ORT fwd", "OpenVINO fwd", "numpy fwd", "fastrnn f+b",
            "torch f+b"]
    print("| cell | D, H, B, T | " + " | ".join(cols)
          + " | fwd vs best | f+b vs torch | GFLOP/s fwd, f+b | fwd % of sgemm |")
    print("|" + " --- |" * (len(cols) + 6))
    for cell in args.cells.split(","):
        for D, H, B, T in sizes:
            r = bench_one(cell, D, H, B, T, args.threads, args.repeats, not args.no_numpy,
                          dtype, args.ov_precision)
            cells = [f"{r[c]:.2f}" if c in r else "-" for c in cols]
            ratio = lambda a, b: f"{r[a] / r[b]:.2f}x" if a in r else "-"  # noqa: E731
            print(f"| {cell} | {D}, {H}, {B}, {T} | " + " | ".join(cells)
                  + f" | {ratio('best peer fwd', 'fastrnn fwd')}"
                  + f" | {ratio('torch f+b', 'fastrnn f+b')}"
                  + f" | {r['gflops fwd']:.0f}, {r['gflops f+b']:.0f}"
                  + f" | {100 * r['gflops fwd'] / sgemm:.0f}% |", flush=True)
    if not args.no_step:
        step_table(args.threads, args.repeats)
    del limiter


if __name__ == "__main__":
    main()
