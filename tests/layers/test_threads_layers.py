"""Inference on one shared layer from several threads: every layer's
``forward``, and ``step`` of the layers that stream, must give the bits of
serial calls (docs/threads.md promises it).

``step`` used to keep its scratch buffers (gate pre-activations, the GRU's
recurrent products) in the shared step plan and write them without the GIL:
four threads streaming through one LSTM got results off by up to 0.3.
"""
import numpy as np
import pytest

import fastrnn
from fastrnn.layers.clockwork import ClockworkRNN
from fastrnn.layers.delays import DelayRNN
from fastrnn.layers.leaky import LeakyRNN
from fastrnn.onnx.importer import Reversed
from threads_support import N_THREADS, _bits, run_in_threads

LAYERS = {
    "rnn": lambda dt: fastrnn.RNN(8, 32, num_layers=2, dtype=dt, seed=0),
    "lstm": lambda dt: fastrnn.LSTM(8, 64, num_layers=2, dtype=dt, seed=0),
    "lstm-peepholes": lambda dt: fastrnn.LSTM(8, 32, peepholes=True, dtype=dt, seed=0),
    "gru": lambda dt: fastrnn.GRU(8, 32, num_layers=2, dtype=dt, seed=0),
    "gru-before": lambda dt: fastrnn.GRU(8, 32, reset_after=False, dtype=dt, seed=0),
    "gru-bi": lambda dt: fastrnn.GRU(8, 16, bidirectional=True, dtype=dt, seed=0),
    "leaky": lambda dt: LeakyRNN(8, 32, tau=(1.0, 10.0), dtype=dt, seed=0),
    "leaky-learned": lambda dt: LeakyRNN(8, 32, learn_tau=True, dtype=dt, seed=0),
    "clockwork": lambda dt: ClockworkRNN(8, 32, periods=(1, 2, 4, 8), dtype=dt, seed=0),
    "delay": lambda dt: DelayRNN(8, 32, delays=(1, 3), num_layers=2, dtype=dt, seed=0),
    "reversed": lambda dt: Reversed(fastrnn.LSTM(8, 32, dtype=dt, seed=0)),
}
# Streaming layers big enough that a step's compiled part outlasts the
# Python around it, so that threads really are inside the loops together.
STREAMING = {
    "rnn": lambda dt: fastrnn.RNN(8, 256, num_layers=2, dtype=dt, seed=0),
    "lstm": lambda dt: fastrnn.LSTM(8, 128, num_layers=2, dtype=dt, seed=0),
    "lstm-peepholes": lambda dt: fastrnn.LSTM(8, 128, peepholes=True, dtype=dt, seed=0),
    "gru": lambda dt: fastrnn.GRU(8, 128, num_layers=2, dtype=dt, seed=0),
    "gru-before": lambda dt: fastrnn.GRU(8, 128, reset_after=False, num_layers=2, dtype=dt,
                                         seed=0),
}


def _inputs(i, dtype, T=40, B=3):
    rng = np.random.default_rng(10 + i)
    return rng.standard_normal((T, B, 8)).astype(dtype)


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _flatten(o)]
    return [out]


def _same(serial, threaded):
    for s, t in zip(serial, threaded):
        assert len(s) == len(t)
        for a, b in zip(s, t):
            assert _bits(a) == _bits(b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_forward_on_one_shared_layer_from_threads_matches_serial(name, dtype):
    layer = LAYERS[name](dtype)
    xs = [_inputs(i, dtype, B=1 + i % 3) for i in range(N_THREADS)]

    def infer(i):
        outs = []
        for _ in range(4):
            outs.extend(_flatten(layer.forward(xs[i])))
        return outs

    serial = [infer(i) for i in range(N_THREADS)]
    _same(serial, run_in_threads(infer))


def _stream(layer, x):
    """Every step's output and the final state, one step per call."""
    state, outs = None, []
    for t in range(x.shape[0]):
        y, state = layer.step(x[t], state)
        outs.append(y)
    return outs + _flatten(state)


@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(STREAMING))
def test_step_on_one_shared_layer_from_threads_matches_serial(name, dtype, batch):
    """Unbatched (the matrix-vector route of the issue's case) and a batch of
    three (GEMM): every thread streams its own sequence through one plan."""
    layer = STREAMING[name](dtype)
    xs = [_inputs(i, dtype, T=60, B=1)[:, 0] if batch is None else _inputs(i, dtype, T=60)
          for i in range(N_THREADS)]
    serial = [_stream(layer, xs[i]) for i in range(N_THREADS)]
    threaded = run_in_threads(lambda i: _stream(layer, xs[i]))
    _same(serial, threaded)


def test_threads_changing_batch_size_on_one_shared_layer():
    """Each change of batch size builds a new plan while other threads still
    run the old one."""
    layer = STREAMING["gru"](np.float32)
    xs = [_inputs(i, np.float32, T=40, B=1 + i % 3) for i in range(N_THREADS)]

    def work(i):
        out = []
        for t in range(xs[i].shape[0]):
            out.extend(_flatten(layer.step(xs[i][t])))
            out.extend(_flatten(layer.step(xs[(i + 1) % N_THREADS][t])))
        return out

    serial = [work(i) for i in range(N_THREADS)]
    _same(serial, run_in_threads(work))


def test_step_and_forward_mixed_on_one_shared_lstm():
    """The issue's case, LSTM(8, 64, num_layers=2) unbatched, with forward
    calls running alongside."""
    layer = LAYERS["lstm"](np.float32)
    xs = [_inputs(i, np.float32, T=200, B=1)[:, 0] for i in range(N_THREADS)]

    def work(i):
        if i == N_THREADS - 1:
            return [a for _ in range(10) for a in _flatten(layer.forward(xs[i]))]
        return _stream(layer, xs[i])

    serial = [work(i) for i in range(N_THREADS)]
    _same(serial, run_in_threads(work))
