"""fastrnn's tanh RNN against two plain NumPy loops and PyTorch (where
installed), side by side in one run.

The two NumPy baselines: "naive" is tests/reference.py, Goodfellow et al. (2016)'s equations
step by step as written (the issue's "plain NumPy implementation"); "hoisted"
is fastrnn.cli.numpy_rnn, a careful NumPy loop with the input projection and the
weight gradients taken out of the time loop as single products.

    python bench/compare_rnn.py [--repeat 15] [--threads 2]

Prints medians (ms) of forward and forward+backward at the sizes of the
foundation issue, float32 and float64, and the ratios. On machines where
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, they slow NumPy's BLAS: to
compare against a current NumPy, run with both unset for this one command and
say so next to the figures.
"""
import argparse
import os

import numpy as np

import fastrnn
from timing import engines_ms, rule

from fastrnn.cli import numpy_rnn

from references import load

reference = load("reference")

SIZES = [(32, 64, 1, 1000), (256, 512, 32, 100)]


def case(D, H, B, T, dtype, repeat, torch=None):
    rng = np.random.default_rng(0)
    layer = fastrnn.RNN(D, H, dtype=dtype, seed=0)
    p = layer.params
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dy = rng.standard_normal((T, B, H)).astype(dtype)

    def fr_fwd():
        layer.forward(x)

    def fr_fwd_bwd():
        layer.forward(x)
        layer.backward(dy)

    def np_fwd():
        numpy_rnn.forward(x, p)

    def np_fwd_bwd():
        numpy_rnn.backward(x, p, numpy_rnn.forward(x, p), dy)

    h0 = np.zeros((B, H), dtype)
    ref_args = (x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"], h0)

    def naive_fwd():
        reference.rnn_forward(*ref_args)

    def naive_fwd_bwd():
        hs = reference.rnn_forward(*ref_args)
        reference.rnn_backward(x, p["weight_ih_l0"], p["weight_hh_l0"], hs, dy, h0)

    engines = {"fr_fwd": fr_fwd, "np_fwd": np_fwd, "nv_fwd": naive_fwd,
               "fr_fb": fr_fwd_bwd, "np_fb": np_fwd_bwd, "nv_fb": naive_fwd_bwd}
    if torch is not None:
        tdt = torch.float32 if dtype == np.float32 else torch.float64
        m = torch.nn.RNN(D, H).to(tdt)
        xt = torch.tensor(x)
        dyt = torch.tensor(dy)

        def t_fwd():
            with torch.no_grad():
                m(xt)

        def t_fb():
            m.zero_grad()
            y, _ = m(xt)
            y.backward(dyt)

        engines["t_fwd"] = t_fwd
        engines["t_fb"] = t_fb
    return engines_ms(engines, repeat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            torch = None
    print("x = NumPy time / fastrnn time (naive: step-by-step reference; hoist: fastrnn.cli.numpy_rnn)")
    print(f"fastrnn {fastrnn.__version__}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'absent'}; ms, {rule(args.repeat)}")
    print("OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s" % (
        os.environ.get("OPENBLAS_CORETYPE", "unset"), os.environ.get("OPENBLAS_L2_SIZE", "unset")))
    hdr = (f"{'D,H,B,T':>18} {'dtype':>7} | {'fwd fr':>7} {'naive':>7} {'x':>5} {'hoist':>7} "
           f"{'x':>5} | {'f+b fr':>7} {'naive':>7} {'x':>5} {'hoist':>7} {'x':>5}")
    if torch:
        hdr += f" | {'torch fwd':>9} {'t/fr':>5} {'torch f+b':>9} {'t/fr':>5}"
    print(hdr)
    for (D, H, B, T) in SIZES:
        for dtype in (np.float32, np.float64):
            r = case(D, H, B, T, dtype, args.repeat, torch)
            line = f"{str((D, H, B, T)):>18} {np.dtype(dtype).name:>7}"
            for kind in ("fwd", "fb"):
                fr = r["fr_" + kind]
                line += (f" | {fr:7.3f} {r['nv_' + kind]:7.3f} {r['nv_' + kind] / fr:5.1f} "
                         f"{r['np_' + kind]:7.3f} {r['np_' + kind] / fr:5.1f}")
            if torch:
                line += (f" | {r['t_fwd']:9.3f} {r['t_fwd'] / r['fr_fwd']:5.1f} "
                         f"{r['t_fb']:9.3f} {r['t_fb'] / r['fr_fb']:5.1f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
