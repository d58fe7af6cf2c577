"""The short benchmark behind ``fastrnn bench``: fastrnn against a plain
NumPy loop of the same maths, on the same arrays, timed side by side.

Two jobs:

- ``rnn``: forward + BPTT of a one-layer tanh RNN (Goodfellow et al. (2016), eq. 10.4) over
  (T, B, D) inputs, against ``fastrnn.cli.numpy_rnn`` (the input projection and
  weight gradients hoisted out of the loop, as a careful NumPy user would).
- ``reservoir``: a leaky echo state reservoir run over S steps of one series
  (Goodfellow et al. (2016), eq. 10.7), against the NumPy loop of ``fastrnn.cli.demo_esn``
  (``W @ x`` with SciPy's CSR product each step).

Both are timed by fastrnn's one timing rule (``fastrnn._core.timing``): blocks
of a warm-up and ``repeat`` timed calls, the two implementations taking their
blocks in turn for a few rounds, each keeping its best block median. The benchmark files in ``bench/`` (not installed) measure much
more; this is the quick check that runs anywhere the package is installed.
"""
import numpy as np

from fastrnn._core.timing import ROUNDS, time_engines
from fastrnn.cli import numpy_rnn
from fastrnn.cli.demo_esn import _numpy_states
from fastrnn.reservoir.reservoir import Reservoir
from fastrnn.layers.rnn import RNN


def _side_by_side(fast, slow, repeat, tick):
    """Seconds per call of fast() and slow() by the timing rule."""
    seconds = time_engines({"fastrnn": fast, "numpy": slow}, repeat)
    tick(calls_per_case(repeat))
    return seconds["fastrnn"], seconds["numpy"]


def calls_per_case(repeat):
    """Warm-up and timed calls of one case (for a progress bar's total)."""
    return 2 * ROUNDS * (repeat + 1)


def bench_rnn(hidden, *, length, batch, input_size, dtype, repeat, seed=0, tick=None):
    """Forward + backward of ``fastrnn.RNN`` and of the NumPy loop.

    Returns a dict: the sizes, ``fastrnn_ms``, ``numpy_ms``, ``ratio`` (NumPy
    time / fastrnn time) and ``max_difference`` (largest absolute difference
    of the input gradients, a check that both computed the same thing).
    """
    tick = tick or (lambda k: None)
    rng = np.random.default_rng(seed)
    rnn = RNN(input_size, hidden, dtype=dtype, seed=seed)
    x = rng.standard_normal((length, batch, input_size)).astype(dtype)
    dy = rng.standard_normal((length, batch, hidden)).astype(dtype)

    def fast():
        rnn.zero_grad()
        rnn.forward(x)
        return rnn.backward(dy)

    def slow():
        return numpy_rnn.backward(x, rnn.params, numpy_rnn.forward(x, rnn.params), dy)

    dx_fast = fast()[0]
    dx_slow = slow()[0]
    t_fast, t_slow = _side_by_side(fast, slow, repeat, tick)
    return {"job": "rnn", "length": length, "batch": batch, "input_size": input_size,
            "hidden": hidden, "dtype": np.dtype(dtype).name, "repeat": repeat,
            "fastrnn_ms": 1e3 * t_fast, "numpy_ms": 1e3 * t_slow, "ratio": t_slow / t_fast,
            "max_difference": float(np.max(np.abs(dx_fast.astype(np.float64) - dx_slow)))}


def bench_reservoir(units, *, steps, input_size, dtype, repeat, seed=0, tick=None):
    """``Reservoir.run`` against the NumPy loop, from the zero state each call.

    Returns a dict like :func:`bench_rnn`'s; ``max_difference`` compares the
    states.
    """
    tick = tick or (lambda k: None)
    rng = np.random.default_rng(seed)
    res = Reservoir(units, sr=0.9, lr=0.3, rc_connectivity=0.1, input_connectivity=1.0,
                    dtype=dtype, seed=seed)
    u = rng.uniform(-1, 1, (steps, input_size)).astype(dtype)

    def fast():
        return res.run(u, x0=np.zeros(units, dtype=dtype))

    def slow():
        return _numpy_states(res, u)

    states_fast = fast()
    states_slow = slow()
    t_fast, t_slow = _side_by_side(fast, slow, repeat, tick)
    return {"job": "reservoir", "steps": steps, "input_size": input_size, "units": units,
            "dtype": np.dtype(dtype).name, "repeat": repeat,
            "fastrnn_ms": 1e3 * t_fast, "numpy_ms": 1e3 * t_slow, "ratio": t_slow / t_fast,
            "max_difference": float(np.max(np.abs(states_fast.astype(np.float64)
                                                  - states_slow)))}


def describe(result):
    """One line of text for a result of :func:`bench_rnn` or :func:`bench_reservoir`."""
    if result["job"] == "rnn":
        size = (f"RNN forward+backward  T={result['length']} B={result['batch']} "
                f"D={result['input_size']} H={result['hidden']}")
    else:
        size = (f"reservoir run         S={result['steps']} D={result['input_size']} "
                f"N={result['units']}")
    return (f"{size:<52} {result['dtype']}: fastrnn {result['fastrnn_ms']:9.3f} ms, "
            f"NumPy loop {result['numpy_ms']:9.3f} ms, {result['ratio']:6.1f}x "
            f"(max difference {result['max_difference']:.1e})")
