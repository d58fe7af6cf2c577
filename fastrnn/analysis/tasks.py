"""Synthetic long-term-dependency tasks (Goodfellow et al. (2016), sec. 10.7; Pascanu et al.
2013).

The standard problems on which vanishing gradients show: the answer depends
on inputs far back in the sequence, and only the last step carries a target.
Each generator returns time-major arrays ``x`` of shape (T, N, D) and the
targets of the final step, and says in its docstring what counts as solved.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from fastrnn._core.validation import check_dtype, check_random_state, check_real, check_size, \
    check_total
from fastrnn._core.validation import SeedLike


def _sizes(n_sequences, length, min_length, width):
    """(n, T) checked, with the T * n * width values of x within MAX_SIZE."""
    n = check_size(n_sequences, "n_sequences", minimum=1)
    T = check_size(length, "length", minimum=min_length)
    check_total(T * n * width, f"length * n_sequences * {width} input values")
    return n, T


def adding_problem(n_sequences: int, length: int, *, seed: SeedLike = None,
                   dtype: DTypeLike = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997, experiment 4).

    Channel 0 holds values uniform in [0, 1); channel 1 marks two steps with
    1, one in the first half of the sequence and one in the second. The
    target is the sum of the two marked values, read at the last step.

    Predicting the mean (1.0) gives a mean squared error of 1/6; the task
    counts as solved when the test MSE falls below 0.01.

    Returns
    -------
    x : (length, n_sequences, 2)
    y : (n_sequences, 1)
    """
    n, T = _sizes(n_sequences, length, 2, 2)
    dtype = check_dtype(dtype)
    rng = check_random_state(seed)
    x = np.zeros((T, n, 2), dtype=dtype)
    x[:, :, 0] = rng.uniform(0.0, 1.0, (T, n))
    half = T // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, T, n)
    cols = np.arange(n)
    x[first, cols, 1] = 1.0
    x[second, cols, 1] = 1.0
    y = (x[first, cols, 0].astype(np.float64) + x[second, cols, 0]).astype(dtype)[:, None]
    return x, y


ADDING_SOLVED_MSE = 0.01

# Symbols of the temporal-order problem: the two relevant ones, four
# distractors, and start/end markers; the input is their one-hot code.
_TO_X, _TO_Y, _TO_DISTRACT, _TO_START, _TO_END = 0, 1, (2, 3, 4, 5), 6, 7


def temporal_order(n_sequences: int, length: int, *, seed: SeedLike = None,
                   dtype: DTypeLike = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The temporal-order problem (Hochreiter & Schmidhuber 1997, experiment 6a).

    A sequence of random distractor symbols, framed by start and end markers,
    holds two relevant symbols, each X or Y: the first at a random step in
    [0.1 T, 0.2 T), the second in [0.5 T, 0.6 T). The class, read at the last
    step, is their order: XX, XY, YX or YY (0 to 3). Inputs are one-hot over 8
    symbols.

    Chance is 25% accuracy; the task counts as solved at 99% test accuracy.

    Returns
    -------
    x : (length, n_sequences, 8)
    y : (n_sequences,) int64 classes
    """
    n, T = _sizes(n_sequences, length, 10, 8)
    dtype = check_dtype(dtype)
    rng = check_random_state(seed)
    symbols = rng.choice(_TO_DISTRACT, size=(T, n))
    symbols[0] = _TO_START
    symbols[-1] = _TO_END
    t1 = rng.integers(max(1, T // 10), max(2, T // 5), n)
    t2 = rng.integers(T // 2, max(T // 2 + 1, (6 * T) // 10), n)
    a = rng.integers(0, 2, n)
    b = rng.integers(0, 2, n)
    cols = np.arange(n)
    symbols[t1, cols] = np.where(a == 0, _TO_X, _TO_Y)
    symbols[t2, cols] = np.where(b == 0, _TO_X, _TO_Y)
    x = np.zeros((T, n, 8), dtype=dtype)
    np.put_along_axis(x, symbols[:, :, None], 1.0, axis=2)
    y = (2 * a + b).astype(np.int64)
    return x, y


TEMPORAL_ORDER_SOLVED_ACCURACY = 0.99


def latching(n_sequences: int, length: int, *, key_length: int = 3, noise: float = 0.2,
             seed: SeedLike = None, dtype: DTypeLike = np.float32
             ) -> tuple[np.ndarray, np.ndarray]:
    """An information-latching problem (Bengio, Simard & Frasconi 1994).

    The class (0 or 1) is written in the first ``key_length`` steps (a
    fixed pattern of +1 or -1 per class); the remaining steps are Gaussian
    noise of standard deviation ``noise``. The network must hold ("latch")
    the bit to the last step, where the class is read.

    Chance is 50% accuracy; the task counts as solved at 99% test accuracy.

    Returns
    -------
    x : (length, n_sequences, 1)
    y : (n_sequences,) int64 classes
    """
    L = check_size(key_length, "key_length", minimum=1)
    n, T = _sizes(n_sequences, length, L + 1, 1)
    noise = check_real(noise, "noise", low=0.0)
    dtype = check_dtype(dtype)
    rng = check_random_state(seed)
    y = rng.integers(0, 2, n)
    x = (noise * rng.standard_normal((T, n, 1))).astype(dtype)
    x[:L, :, 0] = np.where(y == 1, 1.0, -1.0)[None, :]
    return x, y.astype(np.int64)


LATCHING_SOLVED_ACCURACY = 0.99
