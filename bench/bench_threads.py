"""Inference throughput of two Python threads against one.

The RNN's time loops release the GIL, so two threads running independent
inference should get close to twice the throughput of one on two cores. BLAS
is limited to one thread per caller (threadpoolctl, when installed), so the
two Python threads are the only parallelism.

    python bench/bench_threads.py [--repeat 9] [--calls 8] [--dtype float32]
    pytest bench/bench_threads.py            # the same under pytest-benchmark

Both time the same total work: 2 x calls forward passes, done by one thread,
or by two threads doing `calls` each (on separate models, and on one shared
model). The script prints the times (bench/timing.py's rule) and the
throughput ratios.
"""
import argparse
import contextlib
import threading

import numpy as np
import pytest

import fastrnn
from timing import rule, time_engines

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - an optional extra
    threadpool_limits = None

SIZE = {"D": 64, "H": 256, "B": 16, "T": 100}


def one_blas_thread():
    """BLAS (NumPy's and SciPy's OpenBLAS alike) limited to one thread."""
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def setup(dtype=np.float32, n_models=2):
    rng = np.random.default_rng(0)
    models = [fastrnn.RNN(SIZE["D"], SIZE["H"], dtype=dtype, seed=i) for i in range(n_models)]
    xs = [rng.standard_normal((SIZE["T"], SIZE["B"], SIZE["D"])).astype(dtype)
          for _ in range(n_models)]
    return models, xs


def _forward_many(model, x, calls):
    for _ in range(calls):
        model.forward(x)


def run(models, xs, calls, n_threads):
    """Do len(...) x calls forward passes: all in this thread, or split over
    n_threads threads (thread i uses models[i % len(models)])."""
    if n_threads == 1:
        for i in range(2):
            _forward_many(models[i % len(models)], xs[i], calls)
        return
    threads = [threading.Thread(target=_forward_many,
                                args=(models[i % len(models)], xs[i], calls * 2 // n_threads))
               for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# ------------------------------------------------------------ pytest-benchmark
@pytest.mark.parametrize("mode", ["1-thread", "2-threads-separate-models",
                                  "2-threads-shared-model"])
def test_inference_throughput(benchmark, mode):
    models, xs = setup()
    if mode == "2-threads-shared-model":
        models = models[:1]
    n_threads = 1 if mode == "1-thread" else 2
    with one_blas_thread():
        run(models, xs, 1, n_threads)   # warm-up
        benchmark.pedantic(run, args=(models, xs, 4, n_threads), rounds=7, iterations=1)


# ----------------------------------------------------------------- the script
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--calls", type=int, default=8, help="forward passes per thread")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)
    models, xs = setup(dtype)
    modes = {
        "1 thread": (models, 1),
        "2 threads, separate models": (models, 2),
        "2 threads, one shared model": (models[:1], 2),
    }
    with one_blas_thread():
        times = time_engines({name: lambda ms=ms, n=n: run(ms, xs, args.calls, n)
                              for name, (ms, n) in modes.items()}, args.repeat)
    # Control: NumPy's own matmul (which releases the GIL) in the same
    # pattern shows how much parallelism the machine offers right now.
    a = np.random.default_rng(1).standard_normal((256, 256)).astype(dtype)

    def matmuls(n):
        for _ in range(n):
            a @ a

    def matmuls_in_two_threads():
        ts = [threading.Thread(target=matmuls, args=(20 * args.calls,)) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    with one_blas_thread():
        control = time_engines({"1 thread": lambda: matmuls(40 * args.calls),
                                "2 threads": matmuls_in_two_threads}, args.repeat)
    blas = "1 (threadpoolctl)" if threadpool_limits else "unlimited (threadpoolctl missing)"
    print(f"RNN forward, D={SIZE['D']} H={SIZE['H']} B={SIZE['B']} T={SIZE['T']} {dtype.name}; "
          f"{2 * args.calls} passes per measurement; BLAS threads per caller: {blas}; "
          f"{rule(args.repeat)}")
    base = times["1 thread"]
    for name, seconds in times.items():
        print(f"  {name:30s} {1e3 * seconds:8.1f} ms   throughput x{base / seconds:.2f}")
    c1, c2 = control["1 thread"], control["2 threads"]
    print(f"  control, NumPy 256x256 matmuls: 2 threads give throughput x{c1 / c2:.2f} "
          "(the parallelism the machine offered during this run)")


if __name__ == "__main__":
    main()
