"""The time loops may run their per-step products single-threaded; the
caller's BLAS thread count must be the same afterwards, also when several
Python threads run layers at once."""
import ctypes
import threading

import numpy as np
import pytest

import fastrnn
from fastrnn._core import blas_threads as _blas_threads


def _get_threads():
    found = _blas_threads._find()
    if found is None:
        pytest.skip("SciPy's BLAS is not its bundled OpenBLAS")
    return ctypes.CFUNCTYPE(ctypes.c_int)(found[1])


def test_thread_count_restored():
    get = _get_threads()
    before = get()
    layer = fastrnn.LSTM(8, 16, seed=0)
    x = np.zeros((20, 1, 8), np.float32)
    y, _ = layer.forward(x)
    layer.backward(np.ones_like(y))
    layer.step(x[0])
    assert get() == before

    errors = []

    def work():
        try:
            g = fastrnn.GRU(8, 16, seed=1)
            for _ in range(50):
                g.forward(x)
                g.step(x[0, 0])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert get() == before
