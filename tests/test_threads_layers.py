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
from fastrnn.clockwork import ClockworkRNN
from fastrnn.delays import DelayRNN
from fastrnn.leaky import LeakyRNN
from fastrnn.onnx_import import Reversed
from test_threads import N_THREADS, _bits, run_in_threads

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
STREAMING = ["rnn", "lstm", "lstm-peepholes", "gru", "gru-before"]


def _inputs(i, dtype, T=60, B=3):
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
        for _ in range(6):
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", STREAMING)
def test_step_on_one_shared_layer_from_threads_matches_serial(name, dtype):
    """Batch of one (the matrix-vector route the issue measured) and a batch
    of three, in the same threads: the plan is rebuilt as the batch size
    changes between calls, while other threads still run the old plan."""
    layer = LAYERS[name](dtype)
    xs = [_inputs(i, dtype, T=150, B=1)[:, 0] if i % 2 == 0 else _inputs(i, dtype, T=150)
          for i in range(N_THREADS)]
    serial = [_stream(layer, xs[i]) for i in range(N_THREADS)]
    threaded = run_in_threads(lambda i: _stream(layer, xs[i]))
    _same(serial, threaded)


def test_step_and_forward_mixed_on_one_shared_lstm():
    """The issue's case, LSTM(8, 64, num_layers=2) at B = 1, with forward
    calls running alongside."""
    layer = LAYERS["lstm"](np.float32)
    xs = [_inputs(i, np.float32, T=200, B=1)[:, 0] for i in range(N_THREADS)]

    def work(i):
        if i == N_THREADS - 1:
            return [a for _ in range(10) for a in _flatten(layer.forward(xs[i]))]
        return _stream(layer, xs[i])

    serial = [work(i) for i in range(N_THREADS)]
    _same(serial, run_in_threads(work))
