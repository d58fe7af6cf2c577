"""The gated-cell engine (csrc/cells/fr_engine.h): the forward step loop of
RNN, LSTM and GRU, split between fastrnn's threads by blocks of hidden
units. Its promise is that the thread count changes nothing: every output is
one dot product summed in the order of k, then the same element-wise code,
whichever thread, tile or batch row computes it. These tests hold it to the
bit, and check that it computes the right thing against the BLAS loop it
replaced and against plain NumPy."""
import os

import numpy as np
import pytest

import fastrnn
from fastrnn._core import cpus
from fastrnn.layers import _recurrent
from fastrnn.layers import base as layer_base
from cell_factories import CELLS
from child_process import child_env, run_python
from reference import gru_forward, lstm_forward

# Thread counts beyond this machine's cores are included on purpose: the
# team must stay correct (and not hang) when oversubscribed.
THREAD_COUNTS = (1, 2, 3, 5)


@pytest.fixture(autouse=True)
def _every_layer_threaded(monkeypatch):
    """The layers run small steps on one thread (ENGINE_THREADS_MIN_FLOPS);
    here every size takes the thread count asked for, which is what is
    tested."""
    monkeypatch.setattr(layer_base, "ENGINE_THREADS_MIN_FLOPS", 0.0)
    monkeypatch.setattr(layer_base, "ENGINE_MAX_STEP_FLOPS", np.inf)
    yield
    cpus.set_num_threads(None)


def _forward_with(layer, threads, x, **kw):
    cpus.set_num_threads(threads)
    y, hx = layer.forward(x, **kw)
    return [y] + (list(hx) if isinstance(hx, tuple) else [hx])


def _assert_bits_equal(outs_a, outs_b):
    for a, b in zip(outs_a, outs_b):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("H, B", [(7, 1), (17, 1), (40, 1), (33, 3), (64, 13)])
def test_results_do_not_depend_on_the_thread_count(cell, H, B, dtype):
    layer = CELLS[cell](5, H, dtype)
    x = np.random.default_rng(H + B).standard_normal((6, B, 5)).astype(dtype)
    serial = _forward_with(layer, 1, x)
    for n in THREAD_COUNTS[1:]:
        _assert_bits_equal(_forward_with(layer, n, x), serial)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru-before"])
def test_stacks_directions_and_lengths_do_not_depend_on_the_thread_count(cell):
    layer = CELLS[cell](4, 40, np.float32, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((9, 5, 4)).astype(np.float32)
    lengths = np.array([9, 3, 7, 1, 9])
    serial = _forward_with(layer, 1, x, lengths=lengths)
    for n in THREAD_COUNTS[1:]:
        _assert_bits_equal(_forward_with(layer, n, x, lengths=lengths), serial)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_a_row_of_a_batch_is_the_sequence_alone(cell, dtype):
    """The tiles of a batch (several rows) and of one sequence (several blocks)
    sum each output the same way: batching changes no bit."""
    layer = CELLS[cell](3, 37, dtype)
    x = np.random.default_rng(1).standard_normal((5, 4, 3)).astype(dtype)
    y, _ = layer.forward(x)
    for b in range(4):
        y_b, _ = layer.forward(x[:, b:b + 1])
        assert y_b.tobytes() == np.ascontiguousarray(y[:, b:b + 1]).tobytes()


def _sweep(layer, x, threads):
    """One direction of the first layer from zero states, with the engine
    (threads >= 1) or the BLAS loop (threads = 0, one BLAS thread per step):
    hs, cs, the gate buffer and the threads the step loop ran on."""
    T, B, _ = x.shape
    zeros = np.zeros((B, layer.hidden_size), layer.dtype)
    hs, cs, buffers, used = layer._sweep(0, "", x, zeros, zeros, np.full(T, B, np.int32),
                                         np.zeros, threads=threads, step_threads=1)
    return hs, cs, buffers[0], used


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("H, B", [(21, 1), (21, 4), (64, 64)])
def test_engine_agrees_with_the_blas_loop(cell, H, B):
    """Same equations, other summation order: float64 agrees to a few ulp,
    including the gate activations BPTT reads back. At H = B = 64 the engine
    projects the inputs a few steps at a time (256 KiB of gate rows per
    thread), so the 8 steps cross its projection's chunks."""
    layer = CELLS[cell](6, H, np.float64)
    x = np.random.default_rng(2).standard_normal((8, B, 6))
    engine = _sweep(layer, x, 2)
    blas = _sweep(layer, x, 0)
    for a, b in zip(engine[:3], blas[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru-before"])
def test_ragged_lengths_across_projection_chunks(cell, monkeypatch):
    """Sequences of many lengths, the projection made a few steps ahead
    (64 rows of 64 units: 2 to 5 steps at a time): the engine on 1 and 2
    threads gives the same bits, and agrees with the BLAS loop to a few ulp
    on the outputs and on the final states of every sequence."""
    layer = CELLS[cell](6, 64, np.float64)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((11, 64, 6))
    lengths = rng.integers(1, 12, 64)
    lengths[5] = 11
    engine = _forward_with(layer, 1, x, lengths=lengths)
    _assert_bits_equal(_forward_with(layer, 2, x, lengths=lengths), engine)
    monkeypatch.setattr(layer_base, "ENGINE_MAX_STEP_FLOPS", 0.0)
    blas = _forward_with(layer, 1, x, lengths=lengths)
    for a, b in zip(engine, blas):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-13)])
def test_engine_agrees_with_numpy(dtype, tol):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 2, 5)).astype(dtype)
    h0 = np.zeros((2, 19))
    references = {"lstm": lambda *a: lstm_forward(*a, h0, h0)[0],
                  "gru": lambda *a: gru_forward(*a, h0),
                  "gru-before": lambda *a: gru_forward(*a, h0, reset_after=False)}
    for cell, reference in references.items():
        layer = CELLS[cell](5, 19, dtype)
        p = {k: v.astype(np.float64) for k, v in layer.params.items()}
        expected = reference(x.astype(np.float64), p["weight_ih_l0"], p["weight_hh_l0"],
                             p["bias_ih_l0"], p["bias_hh_l0"])[1:]
        for n in (1, 2):
            cpus.set_num_threads(n)
            y, _ = layer.forward(x)
            np.testing.assert_allclose(y, expected, rtol=tol, atol=tol)


def test_a_layer_runs_on_the_threads_asked_for():
    """fastrnn's setting, at most one thread per block of units; one for a
    small step and the BLAS loop for a large one (ENGINE_THREADS_MIN_FLOPS,
    ENGINE_MAX_STEP_FLOPS, both switched off by the fixture)."""
    units = _recurrent.block_units(False)
    layer = CELLS["lstm"](5, 64, np.float32)
    x = np.zeros((3, 1, 5), np.float32)
    for n in (1, 2, 3, 5):
        cpus.set_num_threads(n)
        expected = min(n, 64 // units)
        assert layer_base._engine_threads(1, 4, 64, np.float32) == expected
        # the team is idle here, so the sweep gets all it asks for
        assert _sweep(layer, x, expected)[-1] == expected
    assert _sweep(layer, x, 0)[-1] == 0   # the BLAS loop
    # the fixture's monkeypatch restores both
    layer_base.ENGINE_THREADS_MIN_FLOPS = layer_base.ENGINE_MAX_STEP_FLOPS = 4e6
    assert layer_base._engine_threads(1, 4, 64, np.float32) == 1
    assert layer_base._engine_threads(32, 4, 256, np.float32) == 0   # the BLAS loop


def test_set_num_threads_checks_its_argument():
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        fastrnn.set_num_threads(0)
    with pytest.raises(TypeError, match="n must be an int >= 1"):
        fastrnn.set_num_threads(1.5)
    with pytest.raises(TypeError, match="n must be an int >= 1"):
        fastrnn.set_num_threads(True)
    fastrnn.set_num_threads(np.int64(3))
    assert fastrnn.get_num_threads() == 3
    fastrnn.set_num_threads(None)
    assert fastrnn.get_num_threads() == cpus.available_cpus() or os.environ.get(
        "FASTRNN_NUM_THREADS")


def test_the_environment_sets_the_default_thread_count():
    code = "import fastrnn; print(fastrnn.get_num_threads())"
    env = child_env()
    env["FASTRNN_NUM_THREADS"] = "3"
    out = run_python(["-c", code], env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"
    env["FASTRNN_NUM_THREADS"] = "many"   # ignored, not an error
    out = run_python(["-c", code], env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(cpus.available_cpus())
