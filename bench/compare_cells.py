"""fastrnn's LSTM and GRU against torch.nn.LSTM/GRU, ONNX Runtime and a plain
NumPy loop, float32, on the same weights and the same thread count.

Run from the repository root, alone on the machine (2 threads by default):

    flock /tmp/fastrnn-bench.lock env PYTHONPATH=$PWD python bench/compare_cells.py

Prints a table of medians (ms), the ratio peer / fastrnn (> 1: fastrnn is
faster) and achieved GFLOP/s (counting the GEMM flops, 2 B (D + H) G H per step
forward, three times that forward + backward) next to the measured GFLOP/s of
the recurrent step's own product (B, H) x (H, G H) in the BLAS fastrnn uses
(sgemv when B = 1, which is what the step runs). PyTorch and ONNX Runtime are
optional: their columns are skipped when they are not installed.
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


def step_gflops(B, H, G, repeats):
    """GFLOP/s of the recurrent step's product in scipy's BLAS."""
    from scipy.linalg import blas

    rng = np.random.default_rng(0)
    w = np.asfortranarray(rng.standard_normal((G * H, H)).astype(np.float32))
    if B == 1:
        h = rng.standard_normal(H).astype(np.float32)
        fns = [lambda: blas.sgemv(1.0, w, h)]
    else:
        h = np.asfortranarray(rng.standard_normal((H, B)).astype(np.float32))
        # both orientations of the product; the faster is the limit
        fns = [lambda: blas.sgemm(1.0, w, h), lambda: blas.sgemm(1.0, h, w, trans_a=1, trans_b=1)]
    reps = max(repeats, 50)
    ms = min(engines_ms({i: (lambda fn=fn: [fn() for _ in range(20)]) for i, fn in enumerate(fns)},
                        reps, min_time=MIN_TIME).values()) / 20
    return 2.0 * B * H * G * H / (ms * 1e-3) / 1e9


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
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    feeds = {"x": x, "h0": h0}
    if c0 is not None:
        feeds["c0"] = c0
    return lambda: sess.run(None, feeds)


def bench_one(cell, D, H, B, T, threads, repeats, with_numpy):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    h0 = np.zeros((1, B, H), np.float32)
    c0 = np.zeros((1, B, H), np.float32) if cell == "LSTM" else None
    dy = rng.standard_normal((T, B, H)).astype(np.float32)
    row = {"cell": cell, "size": (D, H, B, T)}
    try:
        torch, module = build_torch(cell, D, H, threads)
    except ImportError:
        torch = module = None
    layer = getattr(fastrnn, cell)(D, H, seed=0)
    if module is not None:
        layer = getattr(fastrnn, cell).from_torch(module)
    state = (h0, c0) if c0 is not None else h0

    def fr_fwd():
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
        try:
            engines["ORT fwd"] = onnx_session(torch, module, x, h0, c0, threads)
        except Exception as exc:  # noqa: BLE001 - optional peer
            print(f"# ONNX Runtime skipped for {cell} {D, H, B, T}: {exc!r}", file=sys.stderr)
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
    row["step limit"] = step_gflops(B, H, GATES[cell], repeats)
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
    ap.add_argument("--no-numpy", action="store_true")
    args = ap.parse_args()
    sizes = SIZES if args.sizes == "all" else [SIZES[int(i)] for i in args.sizes.split(",")]
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=args.threads)
    except ImportError:
        limiter = None
    print(f"# float32, {args.threads} threads, ms ({rule(args.repeats)}, at least "
          f"{MIN_TIME} s a block); ratio = peer / fastrnn")
    cols = ["fastrnn fwd", "torch fwd", "ORT fwd", "numpy fwd", "fastrnn f+b", "torch f+b"]
    print("| cell | D, H, B, T | " + " | ".join(cols)
          + " | fwd: torch/fr, ORT/fr | f+b: torch/fr | GFLOP/s fwd, f+b | step GEMM GFLOP/s |")
    print("|" + " --- |" * (len(cols) + 6))
    for cell in args.cells.split(","):
        for D, H, B, T in sizes:
            r = bench_one(cell, D, H, B, T, args.threads, args.repeats, not args.no_numpy)
            cells = [f"{r[c]:.2f}" if c in r else "-" for c in cols]
            ratio = lambda a, b: f"{r[a] / r[b]:.2f}" if a in r else "-"  # noqa: E731
            print(f"| {cell} | {D}, {H}, {B}, {T} | " + " | ".join(cells)
                  + f" | {ratio('torch fwd', 'fastrnn fwd')}, {ratio('ORT fwd', 'fastrnn fwd')}"
                  + f" | {ratio('torch f+b', 'fastrnn f+b')}"
                  + f" | {r['gflops fwd']:.1f}, {r['gflops f+b']:.1f} | {r['step limit']:.1f} |",
                  flush=True)
    step_table(args.threads, args.repeats)
    del limiter


if __name__ == "__main__":
    main()
