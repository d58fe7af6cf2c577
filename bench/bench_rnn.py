"""pytest-benchmark timings of the tanh RNN against the NumPy baseline.

    pytest bench/bench_rnn.py --benchmark-group-by=param:size,param:dtype

Each group holds fastrnn and NumPy at one size and dtype, timed in the same
run, so their ratio is what to read (the machines are shared and noisy).
"""
import numpy as np
import pytest

import fastrnn
from fastrnn.cli import numpy_rnn

SIZES = {"D32-H64-B1-T1000": (32, 64, 1, 1000), "D256-H512-B32-T100": (256, 512, 32, 100)}


def _setup(size, dtype):
    D, H, B, T = SIZES[size]
    rng = np.random.default_rng(0)
    layer = fastrnn.RNN(D, H, dtype=dtype, seed=0)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    return layer, x, dy


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["fastrnn", "numpy"])
def test_forward(benchmark, impl, size, dtype):
    layer, x, _ = _setup(size, dtype)
    if impl == "fastrnn":
        benchmark(layer.forward, x)
    else:
        benchmark(numpy_rnn.forward, x, layer.params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("impl", ["fastrnn", "numpy"])
def test_forward_backward(benchmark, impl, size, dtype):
    layer, x, dy = _setup(size, dtype)

    def fast():
        layer.forward(x)
        layer.backward(dy)

    def plain():
        numpy_rnn.backward(x, layer.params, numpy_rnn.forward(x, layer.params), dy)

    benchmark(fast if impl == "fastrnn" else plain)
