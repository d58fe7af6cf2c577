"""Threads: the time loops run without the GIL, so several Python threads run
models at once. Results must be identical, to the bit, to serial runs.

What may be shared between threads is documented in docs/threads.md; these
tests exercise exactly what it promises.
"""
import numpy as np
import pytest

import fastrnn
from threads_support import N_THREADS, _bits, run_in_threads

ROUNDS = 10


def _problem(i, dtype):
    rng = np.random.default_rng(100 + i)
    T, B, D, H = 200, 3, 8, 32
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = rng.standard_normal((1, B, H)).astype(dtype)
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    return x, h0, dy


def _train_steps(model, x, h0, dy):
    """forward, backward, clipping, a few times: every kernel of the layer."""
    outs = []
    for _ in range(ROUNDS):
        model.zero_grad()
        y, h = model.forward(x, h0)
        dx, dh0 = model.backward(dy, np.ones_like(h), clip_hidden=5.0)
        norm = fastrnn.clip_grad_norm(model.grads, 1.0)
        for name, p in model.params.items():
            p -= 0.01 * model.grads[name]
        outs.append((y, h, dx, dh0, norm, {k: g.copy() for k, g in model.grads.items()}))
    return outs


def _same(a, b):
    for (y, h, dx, dh0, norm, grads), (y2, h2, dx2, dh02, norm2, grads2) in zip(a, b):
        assert _bits(y) == _bits(y2) and _bits(h) == _bits(h2)
        assert _bits(dx) == _bits(dx2) and _bits(dh0) == _bits(dh02)
        assert norm == norm2 or (np.isnan(norm) and np.isnan(norm2))
        for k in grads:
            assert _bits(grads[k]) == _bits(grads2[k]), k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_separate_models_train_in_threads_as_in_series(dtype, nonlinearity):
    problems = [_problem(i, dtype) for i in range(N_THREADS)]

    def make(i):
        return fastrnn.RNN(8, 32, nonlinearity=nonlinearity, dtype=dtype, seed=i)

    serial = [_train_steps(make(i), *problems[i]) for i in range(N_THREADS)]
    threaded = run_in_threads(lambda i: _train_steps(make(i), *problems[i]))
    for s, t in zip(serial, threaded):
        _same(s, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_shared_model_serves_inference_from_many_threads(dtype):
    model = fastrnn.RNN(8, 32, dtype=dtype, seed=0)
    head = fastrnn.Linear(32, 5, dtype=dtype, seed=1)
    problems = [_problem(i, dtype) for i in range(N_THREADS)]
    params_before = {k: p.copy() for k, p in model.params.items()}

    def infer(i):
        x, h0, _ = problems[i]
        outs = []
        for _ in range(ROUNDS * 4):
            y, h = model.forward(x, h0)
            outs.append((y, h, head.forward(y)))
        return outs

    serial = [infer(i) for i in range(N_THREADS)]
    threaded = run_in_threads(infer)
    for s, t in zip(serial, threaded):
        for (y, h, o), (y2, h2, o2) in zip(s, t):
            assert _bits(y) == _bits(y2) and _bits(h) == _bits(h2) and _bits(o) == _bits(o2)
    for k, p in model.params.items():
        assert _bits(p) == _bits(params_before[k])


def test_batch_sizes_one_and_many_in_threads():
    """B = 1 takes the GEMV / C kernel route of the step product, B > 1 GEMM:
    both must be re-entrant."""
    model = fastrnn.RNN(16, 64, dtype=np.float32, seed=3)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((40, 1 + (i % 2) * 6, 16)).astype(np.float32)
          for i in range(N_THREADS)]
    serial = [model.forward(x)[0] for x in xs]
    threaded = run_in_threads(lambda i: model.forward(xs[i])[0])
    for s, t in zip(serial, threaded):
        assert _bits(s) == _bits(t)


def test_clip_functions_on_separate_arrays_in_threads():
    rng = np.random.default_rng(1)
    grads = [[rng.standard_normal(5000) * 10, rng.standard_normal((70, 30)).astype(np.float32)]
             for _ in range(N_THREADS)]

    def clip(i, arrays):
        a = [g.copy() for g in arrays]
        n1 = fastrnn.global_norm(a)
        n2 = fastrnn.clip_grad_norm(a, 3.0)
        c = fastrnn.clip_grad_value(a, 0.05)
        return n1, n2, c, a

    serial = [clip(i, grads[i]) for i in range(N_THREADS)]
    threaded = run_in_threads(lambda i: clip(i, grads[i]))
    for (n1, n2, c, a), (m1, m2, d, b) in zip(serial, threaded):
        assert (n1, n2, c) == (m1, m2, d)
        for x, y in zip(a, b):
            assert _bits(x) == _bits(y)


def test_concurrent_saves_to_one_path_leave_one_complete_model(tmp_path):
    """Atomic replace: whichever save lands last, the file is a whole model,
    and loads running meanwhile see a whole model (old or new), never a torn one."""
    path = tmp_path / "m.npz"
    models = [(fastrnn.RNN, fastrnn.LSTM)[i % 2](8, 16, seed=i) for i in range(N_THREADS)]
    fastrnn.save(models[0], path)
    expected = {_bits(m.params["weight_hh_l0"]) for m in models}

    def work(i):
        seen = []
        for _ in range(10):
            if i % 2:
                fastrnn.save(models[i], path)
            else:
                seen.append(_bits(fastrnn.load(path).params["weight_hh_l0"]))
        return seen

    for seen in run_in_threads(work):
        assert set(seen) <= expected
    assert _bits(fastrnn.load(path).params["weight_hh_l0"]) in expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_every_compiled_loop_releases_the_gil():
    """Source check of fastrnn/**/_*.pyx (shipped with the package): each
    Python-callable function that loops must run its loop inside
    ``with nogil``, so new kernels (LSTM, GRU, reservoirs) keep the promise
    of docs/threads.md. The threaded tests above check the behaviour."""
    import pathlib
    import re
    sources = sorted(pathlib.Path(fastrnn.__file__).parent.glob("**/_*.pyx"))
    if not sources:
        pytest.skip("the .pyx sources are not installed alongside the package")
    checked = 0
    for src in sources:
        text = src.read_text()
        # top-level def/cpdef blocks: from the header to the next top-level line
        for m in re.finditer(r"^(?:cp)?def (\w+)\(.*?(?=^\S|\Z)", text, re.S | re.M):
            body = m.group(0)
            # Loops over indices (range) or while loops; a loop over a Python
            # list of arrays (training/_clip.pyx) dispatches each array to a
            # function of its own, which is checked in its turn.
            if re.search(r"^\s+(?:for \w+ in (?:range|prange)\(|while )", body, re.M):
                checked += 1
                assert "with nogil" in body, f"{src.name}: {m.group(1)} loops holding the GIL"
    assert checked >= 3


def test_per_step_products_go_single_threaded_on_a_busy_machine(monkeypatch):
    from fastrnn._core import blas_threads as _blas_threads
    from fastrnn.layers import base as _layer
    if not _blas_threads.AVAILABLE:
        pytest.skip("this SciPy's BLAS exposes no thread control")
    big = (64, 4, 1024)          # 2 B G H^2 = 537 Mflop a step: threaded when idle
    monkeypatch.setattr(_layer, "_BUSY_RECHECK_SECONDS", 0.0)
    monkeypatch.setattr(_layer.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    assert _layer._step_threads(*big) == 0
    monkeypatch.setattr(_layer.os, "getloadavg", lambda: (_layer._CPUS + 1.0, 0.0, 0.0))
    assert _layer._step_threads(*big) == 1
    assert _layer._step_threads(1, 1, 8) == 1      # small products: always one thread


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU])
def test_threaded_and_single_threaded_steps_give_identical_bits(cls, monkeypatch):
    from fastrnn.layers import base as _layer
    model = cls(64, 256, seed=0)
    x = np.random.default_rng(0).standard_normal((12, 32, 64)).astype(np.float32)
    results = []
    for min_flops in (0.0, np.inf):   # every step threaded / none
        monkeypatch.setattr(_layer, "STEP_THREADS_MIN_FLOPS", min_flops)
        monkeypatch.setattr(_layer, "_machine_is_busy", lambda: False)
        model.zero_grad()
        y, _ = model.forward(x)
        dx, _ = model.backward(np.ones_like(y))
        results.append((y, dx, model.grads["weight_hh_l0"].copy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
