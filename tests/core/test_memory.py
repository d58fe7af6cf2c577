"""Resident memory stays flat when the hot paths are repeated 10,000 times.

Each workload is a factory returning one "step" (forward + backward, a
clipping call, ...) on small sizes, so the 10,000 repetitions take well under
a second each. A new model class adds one line to WORKLOADS (e.g. an LSTM's
forward/backward, a reservoir's run, a readout's fit).

RSS is read from /proc/self/statm (Linux). The bound is generous (4 MiB over
10,000 steps, i.e. at most ~400 bytes per step, allowing for allocator
noise); leaking even one of the small arrays each step would grow RSS by
tens of MiB, which test_the_probe_sees_a_leak checks the probe would catch.
"""
import gc
import os
import sys

import numpy as np
import pytest

import fastrnn

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc/self/statm")

STEPS = 10_000
WARMUP = 1_000
BOUND = 4 * 1024 * 1024


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def growth(step, steps=STEPS, warmup=WARMUP):
    for _ in range(warmup):
        step()
    gc.collect()
    before = rss_bytes()
    for _ in range(steps):
        step()
    gc.collect()
    return rss_bytes() - before


def _rnn_step(dtype, B, clip=None):
    rng = np.random.default_rng(0)
    layer = fastrnn.RNN(4, 16, dtype=dtype, seed=0)
    x = rng.standard_normal((10, B, 4)).astype(dtype)
    dy = rng.standard_normal((10, B, 16)).astype(dtype)

    def step():
        layer.forward(x)
        layer.backward(dy, clip_hidden=clip)
    return step


def _rnn_unbatched_step():
    layer = fastrnn.RNN(3, 8, dtype=np.float64, seed=0, batch_first=True)
    x = np.ones((5, 3))

    def step():
        y, _ = layer.forward(x.tolist())   # conversion path too
        layer.backward(y)
    return step


def _linear_loss_step():
    head = fastrnn.Linear(16, 5, dtype=np.float32, seed=0)
    h = np.random.default_rng(0).standard_normal((10, 2, 16)).astype(np.float32)
    targets = np.zeros((10, 2), dtype=np.int64)

    def step():
        loss, d = fastrnn.losses.softmax_nll(head.forward(h), targets)
        head.backward(d)
        fastrnn.losses.mse(h, h)
    return step


def _clip_step():
    layer = fastrnn.RNN(4, 16, dtype=np.float32, seed=0)
    layer.grads["weight_hh_l0"][0, 0] = np.nan   # the random-step path too

    def step():
        fastrnn.clip_grad_norm(layer.grads, 1.0, seed=0)
        fastrnn.clip_grad_value(layer.grads, 0.5)
        fastrnn.global_norm(layer.grads)
    return step


def _cell_step(cls):
    layer = cls(3, 8, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)

    def step():
        y, _ = layer.forward(x)
        layer.backward(np.ones_like(y))
    return step


def _reservoir_run_and_fit_step():
    res = fastrnn.Reservoir(50, seed=0)
    x = np.random.default_rng(0).standard_normal((20, 1))
    ridge = fastrnn.Ridge(ridge=1e-6)

    def step():
        states = res.run(x)
        ridge.fit(states, x)
    return step


WORKLOADS = {
    "lstm-forward-backward": lambda: _cell_step(fastrnn.LSTM),
    "gru-forward-backward": lambda: _cell_step(fastrnn.GRU),
    "reservoir-run+ridge-fit": _reservoir_run_and_fit_step,
    "rnn-f32-B4": lambda: _rnn_step(np.float32, 4),
    "rnn-f64-B1-clip": lambda: _rnn_step(np.float64, 1, clip=0.5),
    "rnn-unbatched-list": _rnn_unbatched_step,
    "linear+losses": _linear_loss_step,
    "clipping": _clip_step,
}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_rss_flat_over_10000_steps(name):
    grown = growth(WORKLOADS[name]())
    assert grown < BOUND, f"{name}: RSS grew by {grown / 2**20:.1f} MiB over {STEPS} steps"


def test_save_load_leaks_neither_memory_nor_file_descriptors(tmp_path):
    model = fastrnn.RNN(4, 16, seed=0)
    path = tmp_path / "m.npz"

    def step():
        fastrnn.save(model, path)
        fastrnn.load(path)

    fds = open_fds()
    grown = growth(step, steps=300, warmup=50)
    assert open_fds() == fds
    assert grown < BOUND
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_the_probe_sees_a_leak():
    """The measurement itself can fail: keeping one small array per step
    (what a forgotten reference in a layer would do) is caught."""
    kept = []
    layer = fastrnn.RNN(4, 16, dtype=np.float64, seed=0)
    x = np.ones((10, 4, 4))

    def leaky_step():
        y, _ = layer.forward(x)
        kept.append(y)      # 10 x 4 x 16 doubles = 5 KiB per step
    assert growth(leaky_step, steps=STEPS, warmup=10) > BOUND
