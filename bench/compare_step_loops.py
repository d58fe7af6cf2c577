"""fastrnn's two forward step loops side by side: the gated-cell engine
(csrc/cells/fr_engine.h) on 1 and 2 threads against the BLAS loop (one BLAS
product per step, with 1 or all BLAS threads), through the same
``cell_forward`` call the layers make, on the sizes of issue 13. It is what
``ENGINE_MAX_STEP_FLOPS`` and ``ENGINE_THREADS_MIN_FLOPS`` in
fastrnn/layers/base.py were chosen from.

Run alone on the machine:

    python bench/compare_step_loops.py [--dtype float64] [--sizes 0,1]
"""
import argparse

import numpy as np

import fastrnn
from timing import engines_ms, rule

SIZES = [(32, 64, 1, 1000), (128, 256, 32, 100), (512, 1024, 64, 50)]


def sweep(layer, x, threads, step_threads):
    """One forward sweep of the layer's first layer from zero states: the
    engine on `threads` threads, or (threads=0) the BLAS loop with
    `step_threads` BLAS threads per step (0: as set)."""
    T, B, _ = x.shape
    zeros = np.zeros((B, layer.hidden_size), layer.dtype)
    return layer._sweep(0, "", x, zeros, zeros, np.full(T, B, np.int32), np.zeros,
                        threads=threads, step_threads=step_threads)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--sizes", default="all", help="'all' or indices into SIZES, e.g. 0,1")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    dtype = np.dtype(args.dtype).type
    sizes = SIZES if args.sizes == "all" else [SIZES[int(i)] for i in args.sizes.split(",")]
    print(f"# {args.dtype}, ms ({rule(args.repeats)}); BLAS limited to 2 threads")
    print("| cell | D, H, B, T | BLAS loop, 2 BLAS threads | BLAS loop, 1 | engine, 1 thread "
          "| engine, 2 threads |")
    print("| --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(2):
        for D, H, B, T in sizes:
            for cell in ("LSTM", "GRU"):
                layer = getattr(fastrnn, cell)(D, H, seed=0, dtype=dtype)
                x = np.random.default_rng(0).standard_normal((T, B, D)).astype(dtype)
                ms = engines_ms({"blas2": lambda: sweep(layer, x, 0, 0),
                                 "blas1": lambda: sweep(layer, x, 0, 1),
                                 "engine1": lambda: sweep(layer, x, 1, 0),
                                 "engine2": lambda: sweep(layer, x, 2, 0)},
                                args.repeats, min_time=0.2)
                print(f"| {cell} | {D}, {H}, {B}, {T} | {ms['blas2']:.2f} | {ms['blas1']:.2f} "
                      f"| {ms['engine1']:.2f} | {ms['engine2']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
