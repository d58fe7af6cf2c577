"""pytest-benchmark timings of fastrnn's LSTM and GRU (float32), at the
issue's two smaller sizes, and of step() for online inference.

    flock /tmp/fastrnn-bench.lock env PYTHONPATH=$PWD pytest bench/bench_cells.py

Side-by-side ratios against PyTorch, ONNX Runtime and NumPy are printed by
bench/compare_cells.py.
"""
import numpy as np
import pytest

import fastrnn

SIZES = [(32, 64, 1, 1000), (128, 256, 32, 100)]
CELLS = {"LSTM": fastrnn.LSTM, "GRU": fastrnn.GRU}


def _setup(cell, size):
    D, H, B, T = size
    layer = CELLS[cell](D, H, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    dy = rng.standard_normal((T, B, H)).astype(np.float32)
    return layer, x, dy


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "D{}-H{}-B{}-T{}".format(*s))
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward(benchmark, cell, size):
    layer, x, _ = _setup(cell, size)
    benchmark.group = f"{cell} forward"
    benchmark(layer.forward, x)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "D{}-H{}-B{}-T{}".format(*s))
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward_backward(benchmark, cell, size):
    layer, x, dy = _setup(cell, size)
    benchmark.group = f"{cell} forward+backward"

    def run():
        layer.forward(x)
        layer.backward(dy)

    benchmark(run)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_step(benchmark, cell):
    """One streaming step, D=32, H=64, B=1 (the issue's goal: <= 3 us)."""
    layer = CELLS[cell](32, 64, seed=0)
    x = np.random.default_rng(0).standard_normal(32).astype(np.float32)
    _, state = layer.step(x)
    benchmark.group = "step D32-H64-B1"
    benchmark(layer.step, x, state)
