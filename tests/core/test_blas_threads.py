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


def test_found_without_threadpoolctl(monkeypatch):
    # threadpoolctl is optional: without it the library is found by file name,
    # and it must be the same library (the same functions).
    import sys
    with_tpc = _blas_threads._find()
    if with_tpc is None:
        pytest.skip("SciPy's BLAS is not its bundled OpenBLAS")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # import fails
    assert _blas_threads._find() == with_tpc


def test_core_depends_on_no_other_part_of_fastrnn():
    # _core is the bottom layer: the layers install the BLAS functions it
    # finds, not the other way round.
    import ast
    import pathlib
    core = pathlib.Path(_blas_threads.__file__).parent
    for src in sorted(core.glob("*.py")) + sorted(core.glob("*.pyx")) + sorted(core.glob("*.pxd")):
        text = src.read_text()
        if src.suffix == ".py":
            names = [n.module or "" for n in ast.walk(ast.parse(text))
                     if isinstance(n, ast.ImportFrom)]
            names += [a.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Import)
                      for a in n.names]
        else:
            import re
            names = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", text, re.M)
        for name in names:
            if name.startswith("fastrnn"):
                assert name.startswith("fastrnn._core"), f"{src.name} imports {name}"
