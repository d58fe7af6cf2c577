"""The demo behind ``python -m fastrnn``.

A tanh RNN with a softmax output (Goodfellow et al. (2016), eq. 10.4-10.5) learns, by BPTT
with norm clipping (eq. 10.15), to tell which of three frequencies a noisy
sine wave has, at every time step. The data set is generated here (no
download). The demo prints what it did, the held-out accuracy, and the speed
of fastrnn's forward+backward against a plain NumPy loop of the same maths.
"""
import time

import numpy as np

from fastrnn.training import losses

from fastrnn.cli import numpy_rnn
from fastrnn._core.timing import time_engines
from fastrnn._core.validation import check_bool, check_int, check_real, check_size
from fastrnn.training.optim import Adam
from fastrnn.layers.linear import Linear
from fastrnn.layers.rnn import RNN

FREQUENCIES = (0.05, 0.11, 0.19)   # cycles per step


def sine_classes(n_sequences, length, *, noise=0.3, seed=0):
    """The built-in data set: noisy sines of three frequencies with random phase.

    Returns x (length, n_sequences, 1) float32 and labels (n_sequences,) int.
    """
    n_sequences = check_size(n_sequences, "n_sequences", minimum=1)
    length = check_size(length, "length", minimum=1)
    noise = check_real(noise, "noise", low=0.0)
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    labels = rng.integers(0, len(FREQUENCIES), n_sequences)
    freq = np.asarray(FREQUENCIES)[labels]
    phase = rng.uniform(0, 2 * np.pi, n_sequences)
    t = np.arange(length)[:, None]
    x = np.sin(2 * np.pi * freq * t + phase) + noise * rng.standard_normal((length, n_sequences))
    return x[:, :, None].astype(np.float32), labels


def run_demo(*, hidden=32, length=60, batch=32, steps=300, lr=0.01, seed=0, verbose=True):
    """Train, evaluate and time; returns a dict of the figures it printed."""
    hidden = check_size(hidden, "hidden", minimum=1)
    length = check_size(length, "length", minimum=1)
    batch = check_size(batch, "batch", minimum=1)
    steps = check_size(steps, "steps")
    seed = check_int(seed, "seed", minimum=0)
    say = print if check_bool(verbose, "verbose") else (lambda *a, **k: None)
    x_train, y_train = sine_classes(2048, length, seed=seed)
    x_test, y_test = sine_classes(512, length, seed=seed + 1)
    rnn = RNN(1, hidden, seed=seed)
    out = Linear(hidden, len(FREQUENCIES), seed=seed + 1)
    layers = (rnn, out)
    optimizer = Adam(layers, lr=lr, clip_norm=1.0)
    rng = np.random.default_rng(seed)
    say(f"fastrnn demo: tanh RNN (1 -> {hidden} units -> 3 classes), per-step softmax NLL "
        f"(eq. 10.4-10.5), BPTT with norm clipping at 1.0 (eq. 10.15), Adam")
    say(f"data: noisy sines of frequencies {FREQUENCIES} cycles/step, T={length}, "
        f"{x_train.shape[1]} training / {x_test.shape[1]} test sequences")
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(0, x_train.shape[1], batch)
        xb = x_train[:, idx]
        targets = np.broadcast_to(y_train[idx], (length, batch))
        optimizer.zero_grad()
        hs, _ = rnn.forward(xb)
        loss, dlogits = losses.softmax_nll(out.forward(hs), targets)
        rnn.backward(out.backward(dlogits))
        optimizer.step()   # clips the joint norm to 1.0 (eq. 10.15), then updates
        if verbose and (step + 1) % 100 == 0:
            say(f"  step {step + 1:4d}  training loss {loss:.4f}")
    train_time = time.perf_counter() - t0

    hs, _ = rnn.forward(x_test)
    pred = out.forward(hs).argmax(-1)
    late = length // 2   # after half a sequence the frequency is identifiable
    accuracy = float(np.mean(pred[late:] == y_test[None, :]))

    dy = np.random.default_rng(1).standard_normal((length, batch, hidden)).astype(np.float32)
    xb = x_train[:, :batch]

    def fast():
        rnn.forward(xb)
        rnn.backward(dy)

    seconds = time_engines({"fastrnn": fast, "numpy": lambda: numpy_rnn.backward(
        xb, rnn.params, numpy_rnn.forward(xb, rnn.params), dy)}, 7)
    t_fast, t_numpy = seconds["fastrnn"], seconds["numpy"]
    say(f"trained {steps} steps of batch {batch} in {train_time:.2f} s")
    say(f"held-out accuracy over the second half of each sequence: {100 * accuracy:.1f}%")
    say(f"forward+backward (T={length}, B={batch}, H={hidden}, float32): fastrnn "
        f"{1e3 * t_fast:.3f} ms, NumPy loop {1e3 * t_numpy:.3f} ms, "
        f"{t_numpy / t_fast:.1f}x faster")
    return {"accuracy": accuracy, "train_seconds": train_time,
            "fastrnn_ms": 1e3 * t_fast, "numpy_ms": 1e3 * t_numpy}
