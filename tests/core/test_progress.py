"""The one progress reporter (fastrnn/_core/progress.py), as the command line
and `train` use it."""
import io
import sys

import numpy as np
import pytest

import fastrnn
from fastrnn._core.progress import Progress
from fastrnn.training.optim import SGD
from fastrnn.training.train import Sequential, train


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)        # import tqdm -> ImportError


def test_plain_line_rewritten_in_place(no_tqdm, capsys):
    with Progress(3, "fit", "chunks") as bar:
        bar.update()
        bar.set_postfix("loss 0.123456")
        bar.update(2)
        bar.set_postfix("loss 1")
    err = capsys.readouterr().err
    lines = err.split("\r")
    assert lines[0] == ""
    assert lines[1:4] == ["fit: 0/3 chunks", "fit: 1/3 chunks", "fit: 1/3 chunks  loss 0.123456"]
    # A shorter line blanks out what the longer one left.
    assert lines[4] == "fit: 3/3 chunks  loss 0.123456"
    assert lines[5] == "fit: 3/3 chunks  loss 1" + " " * 7 + "\n"
    assert bar.n == 3


@pytest.mark.parametrize("total,enabled", [(5, False), (0, True)])
def test_disabled_writes_nothing(no_tqdm, capsys, total, enabled):
    with Progress(total, "fit", "chunks", enabled=enabled) as bar:
        bar.update()
        bar.set_postfix("x")
    bar.close()
    assert capsys.readouterr().err == ""
    assert bar.n == 1


def test_tqdm_when_installed(capsys):
    pytest.importorskip("tqdm")
    with Progress(4, "bench", "calls") as bar:
        assert bar._tqdm is not None
        bar.update(4)
    err = capsys.readouterr().err       # tqdm redraws at most every 0.1 s
    assert "bench" in err and "/4" in err and "calls" in err


def test_broken_stderr_does_not_stop_the_job(no_tqdm, monkeypatch):
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    with Progress(2, "fit", "chunks") as bar:
        bar.update(2)
    assert bar.n == 2


def _data(rng):
    model = Sequential(fastrnn.RNN(2, 4, dtype=np.float64, seed=0),
                       fastrnn.Linear(4, 1, dtype=np.float64, seed=1))
    return model, rng.standard_normal((6, 10, 2)), rng.standard_normal((6, 10, 1))


def test_train_shows_batches_and_loss(no_tqdm, capsys, rng):
    model, x, y = _data(rng)
    train(model, x, y, optimizer=SGD(model, lr=0.01), epochs=2, batch_size=4, seed=0)
    err = capsys.readouterr().err
    assert err.endswith("\n")
    last = err.rstrip().split("\r")[-1]
    assert last.startswith("train: 6/6 batches  loss ") and "|g| " in last
    train(model, x, y, optimizer=SGD(model, lr=0.01), epochs=2, batch_size=4, seed=0,
          progress=False)
    assert capsys.readouterr().err == ""


def test_progress_does_not_change_training(no_tqdm, capsys, rng):
    (a, x, y), (b, _, _) = _data(rng), _data(rng)
    ha = train(a, x, y, optimizer=SGD(a, lr=0.01), epochs=2, batch_size=4, seed=3)
    hb = train(b, x, y, optimizer=SGD(b, lr=0.01), epochs=2, batch_size=4, seed=3,
               progress=False)
    assert ha["loss"] == hb["loss"]
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
