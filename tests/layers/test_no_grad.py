"""fastrnn.no_grad: forward calls inside it keep nothing for backward and give
the bits of a forward outside it on the same loop (a few ulp from one on the
BLAS loop); on the gated-cell engine the gate rows then live in a ring of a
few steps (csrc/cells/fr_engine.h, ``ring``), which these sizes make shorter
than the sequence, and the LSTM's cell states in two slots (the final c of
each row read from slot length % 2, so odd and even lengths are both
checked)."""
import threading

import numpy as np
import pytest

import fastrnn
from fastrnn._core import cpus
from fastrnn.layers import base as layer_base
from cell_factories import CELLS


@pytest.fixture
def engine_everywhere(monkeypatch):
    """Every size on the engine (which the ring needs), threaded."""
    monkeypatch.setattr(layer_base, "ENGINE_THREADS_MIN_FLOPS", 0.0)
    monkeypatch.setattr(layer_base, "ENGINE_MAX_STEP_FLOPS", np.inf)
    yield
    cpus.set_num_threads(None)


def _outputs(layer, x, **kw):
    y, hx = layer.forward(x, **kw)
    return [y] + (list(hx) if isinstance(hx, tuple) else [hx])


def _same_bits(a, b):
    return all(u.shape == v.shape and u.tobytes() == np.ascontiguousarray(v).tobytes()
               for u, v in zip(a, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_same_bits_with_a_ring_shorter_than_the_sequence(cell, dtype, engine_everywhere):
    # 64 rows of 64 units: the engine projects 1 to 8 steps at a time, so
    # 13 steps wrap around the ring.
    layer = CELLS[cell](5, 64, dtype)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((13, 64, 5)).astype(dtype)
    lengths = rng.integers(1, 14, 64)
    for threads in (1, 2):
        cpus.set_num_threads(threads)
        for kw in ({}, {"lengths": lengths}):
            kept = _outputs(layer, x, **kw)
            with fastrnn.no_grad():
                assert not fastrnn.is_grad_enabled()
                inferred = _outputs(layer, x, **kw)
            assert fastrnn.is_grad_enabled()
            assert _same_bits(kept, inferred)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru-before"])
def test_stacks_directions_and_the_blas_loop(cell, engine_everywhere, monkeypatch):
    layer = CELLS[cell](4, 40, np.float64, num_layers=2, bidirectional=True)
    x = np.random.default_rng(1).standard_normal((9, 5, 4))
    lengths = np.array([9, 3, 7, 1, 9])
    kept = _outputs(layer, x, lengths=lengths)
    with fastrnn.no_grad():
        assert _same_bits(kept, _outputs(layer, x, lengths=lengths))
    # A kept forward of large steps takes the BLAS loop, inference the
    # engine: the same numbers to a few ulp (another summation order).
    monkeypatch.setattr(layer_base, "ENGINE_MAX_STEP_FLOPS", 0.0)
    kept = _outputs(layer, x, lengths=lengths)
    with fastrnn.no_grad():
        inferred = _outputs(layer, x, lengths=lengths)
    for a, b in zip(kept, inferred):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-14)


def test_recurrent_dropout_in_training_under_no_grad():
    """The masked sweep (the BLAS loop) keeps its full buffers; the masks are
    drawn as outside the block, so a layer reseeded gives the same bits."""
    x = np.random.default_rng(2).standard_normal((6, 3, 4)).astype(np.float32)
    kept = _outputs(fastrnn.LSTM(4, 16, recurrent_dropout=0.3, seed=7), x)
    with fastrnn.no_grad():
        inferred = _outputs(fastrnn.LSTM(4, 16, recurrent_dropout=0.3, seed=7), x)
    assert _same_bits(kept, inferred)


@pytest.mark.parametrize("make", [
    lambda: fastrnn.LSTM(3, 8, seed=0),
    lambda: fastrnn.GRU(3, 8, seed=0, num_layers=2),
    lambda: fastrnn.LeakyRNN(3, 8, seed=0),
    lambda: fastrnn.ClockworkRNN(3, 8, periods=(1, 2), seed=0),
])
def test_backward_after_a_forward_under_no_grad_raises(make):
    layer = make()
    x = np.random.default_rng(3).standard_normal((5, 2, 3)).astype(layer.dtype)
    with fastrnn.no_grad():
        y, _ = layer.forward(x)
    with pytest.raises(fastrnn.NotFittedError, match="no_grad"):
        layer.backward(np.ones_like(y))
    # Outside the block forward keeps its cache again, and backward runs.
    y, _ = layer.forward(x)
    dx = layer.backward(np.ones_like(y))[0]
    assert dx.shape == x.shape and np.all(np.isfinite(dx))


def test_nesting_and_the_decorator():
    @fastrnn.no_grad()
    def inside():
        return fastrnn.is_grad_enabled()

    assert fastrnn.is_grad_enabled()
    with fastrnn.no_grad():
        with fastrnn.no_grad():
            assert not fastrnn.is_grad_enabled()
        assert not fastrnn.is_grad_enabled()
    assert fastrnn.is_grad_enabled()
    assert inside() is False
    assert fastrnn.is_grad_enabled()
    with pytest.raises(KeyError):
        with fastrnn.no_grad():
            raise KeyError("leaves the block")
    assert fastrnn.is_grad_enabled()


def test_the_switch_is_per_thread():
    """A thread inside no_grad leaves another thread's forward keeping its
    cache (bit for bit the same outputs in both)."""
    x = np.random.default_rng(4).standard_normal((7, 3, 4)).astype(np.float32)
    entered, done = threading.Event(), threading.Event()
    results = {}

    def inference():
        layer = fastrnn.LSTM(4, 16, seed=1)
        with fastrnn.no_grad():
            entered.set()
            results["inference"] = _outputs(layer, x)
            done.wait(10)

    worker = threading.Thread(target=inference)
    worker.start()
    assert entered.wait(10)
    assert fastrnn.is_grad_enabled()
    layer = fastrnn.LSTM(4, 16, seed=1)
    results["training"] = _outputs(layer, x)
    layer.backward(np.ones_like(results["training"][0]))   # its cache was kept
    done.set()
    worker.join(10)
    assert _same_bits(results["training"], results["inference"])


def test_a_context_rnn_under_no_grad_keeps_nothing_either():
    """ContextRNN runs its recurrent layer's forward directly: the layer keeps
    nothing under no_grad there too, and backward says why."""
    model = fastrnn.ContextRNN(fastrnn.GRU(3, 8, seed=0), context_size=4, seed=1)
    x = np.random.default_rng(5).standard_normal((6, 2, 3)).astype(np.float32)
    context = np.ones((2, 4), np.float32)
    kept = model.forward(x, context)[0]
    with fastrnn.no_grad():
        inferred = model.forward(x, context)[0]
    assert kept.tobytes() == np.ascontiguousarray(inferred).tobytes()
    with pytest.raises(fastrnn.NotFittedError, match="no_grad"):
        model.backward(np.ones_like(inferred))
