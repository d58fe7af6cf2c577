"""Every size a model file's header states is checked against the arrays
actually present before anything is allocated or looped over (issue 11,
item 5: ``num_layers=10**8`` made ``load`` build layers for minutes)."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastrnn
from fastrnn.io import format as fio
from fastrnn.reservoir.readout import RLS, Ridge

from test_io import _rewrite

HUGE = 10**8


def _edit(*path, **values):
    """A header edit setting ``values`` in the config reached by ``path``
    (names of nested parts)."""
    def edit(h):
        c = h["config"]
        for part in path:
            c = c[part]["config"]
        c.update(values)
    return edit


def _esn():
    esn = fastrnn.ESN(fastrnn.Reservoir(6, rc_connectivity=0.5, seed=0), Ridge(1e-3))
    rng = np.random.default_rng(0)
    esn.fit(rng.random((30, 2)), rng.random((30, 1)))
    return esn


def _ridge():
    rng = np.random.default_rng(0)
    return Ridge(1e-3).fit(rng.random((20, 3)), rng.random((20, 2)))


def _rls():
    rng = np.random.default_rng(0)
    return RLS().fit(rng.random((20, 3)), rng.random((20, 2)))


MAKERS = {
    "RNN": lambda: fastrnn.RNN(2, 3, seed=0),
    "LSTM": lambda: fastrnn.LSTM(2, 3, peepholes=True, seed=0),
    "GRU": lambda: fastrnn.GRU(2, 3, seed=0),
    "DelayRNN": lambda: fastrnn.DelayRNN(2, 3, delays=(1, 2), seed=0),
    "ClockworkRNN": lambda: fastrnn.ClockworkRNN(2, 4, periods=(1, 2), seed=0),
    "Linear": lambda: fastrnn.Linear(2, 3, seed=0),
    "LeakyRNN": lambda: fastrnn.LeakyRNN(2, 3, seed=0),
    "Sequential": lambda: fastrnn.Sequential(fastrnn.LSTM(2, 3, seed=0),
                                             fastrnn.Linear(3, 1, seed=0)),
    "Reservoir": lambda: fastrnn.Reservoir(6, rc_connectivity=0.5, seed=0),
    "ESN": _esn,
    "Ridge": _ridge,
    "RLS": _rls,
}

CASES = [
    # (class, edit, field the message must name)
    ("RNN", _edit(num_layers=HUGE), "num_layers"),
    ("RNN", _edit(num_layers=-1), "num_layers"),
    ("RNN", _edit(num_layers=0), "num_layers"),
    ("RNN", _edit(num_layers=2.0), "num_layers"),
    ("RNN", _edit(num_layers=True), "num_layers"),
    ("RNN", _edit(num_layers="2"), "num_layers"),
    ("RNN", _edit(num_layers=10**30), "num_layers"),
    ("RNN", _edit(hidden_size=-3), "hidden_size"),
    ("RNN", _edit(hidden_size=10**30), "hidden_size"),
    ("RNN", _edit(input_size=None), "input_size"),
    ("RNN", _edit(bidirectional="yes"), "bidirectional"),
    ("LSTM", _edit(num_layers=HUGE), "num_layers"),
    ("LSTM", _edit(num_layers=HUGE, bidirectional=True), "num_layers"),
    ("LSTM", _edit(peepholes=1), "peepholes"),
    ("GRU", _edit(num_layers=HUGE), "num_layers"),
    ("GRU", _edit(hidden_size=HUGE), "weight_ih_l0"),
    ("DelayRNN", _edit(num_layers=HUGE), "num_layers"),
    ("DelayRNN", _edit(delays=[1, 10**30]), "delays"),
    ("DelayRNN", _edit(delays=list(range(1, 10**5))), "delays"),
    ("DelayRNN", _edit(delays=[]), "delays"),
    ("DelayRNN", _edit(delays=[1, -2]), "delays"),
    ("ClockworkRNN", _edit(periods=[1, 10**30]), "periods"),
    ("ClockworkRNN", _edit(periods=list(range(1, 10**5))), "periods"),
    ("ClockworkRNN", _edit(periods=5), "periods"),
    ("Linear", _edit(out_features=HUGE), "weight"),
    ("Linear", _edit(in_features=-1), "in_features"),
    ("LeakyRNN", _edit(hidden_size=HUGE), "weight_ih_l0"),
    ("Sequential", _edit("recurrent", num_layers=HUGE), "num_layers"),
    ("Sequential", _edit("output", in_features=HUGE), "weight"),
    ("Reservoir", _edit(units=HUGE), "W"),
    ("Reservoir", _edit(units=-1), "units"),
    ("ESN", _edit("reservoir", units=HUGE), "W"),
    ("ESN", _edit(n_outputs=10**30), "n_outputs"),
    ("ESN", _edit(n_outputs="x"), "n_outputs"),
    ("Ridge", _edit(n_samples_seen=10**30), "n_samples_seen"),
    ("Ridge", _edit(n_samples_seen=-1), "n_samples_seen"),
    ("RLS", _edit(n_samples_seen=1.5), "n_samples_seen"),
]


@pytest.mark.parametrize("cls, edit, field", CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_a_header_size_not_backed_by_the_arrays_is_refused(tmp_path, cls, edit, field):
    path = tmp_path / "crafted.npz"
    fastrnn.save(MAKERS[cls](), path)
    _rewrite(path, header=edit)
    with pytest.raises(ValueError, match=field) as info:
        fastrnn.load(path)
    assert "crafted.npz" in str(info.value)


@pytest.mark.parametrize("cls", sorted(MAKERS))
def test_untampered_files_still_load(tmp_path, cls):
    path = tmp_path / "m.npz"
    fastrnn.save(MAKERS[cls](), path)
    assert type(fastrnn.load(path)).__name__ == cls


@pytest.mark.parametrize("name", ["Win", "Wfb"])
def test_a_sparse_input_matrix_claiming_a_huge_width_is_refused(tmp_path, monkeypatch, name):
    """save writes Win and Wfb dense; a CSR one in a file has a width backed
    by no array, and the constructor would densify it (36 TiB here)."""
    r = fastrnn.Reservoir(5, rc_connectivity=0.9, seed=0)
    r.run(np.zeros((3, 2)))
    real = fastrnn.Reservoir._save_arrays

    def crafted(obj):
        arrays = real(obj)
        arrays[name] = sp.csr_array(
            (np.ones(1), np.array([10**12 - 1]), np.array([0, 1, 1, 1, 1, 1])),
            shape=(5, 10**12))
        return arrays

    monkeypatch.setattr(fastrnn.Reservoir, "_save_arrays", crafted)
    path = tmp_path / "crafted.npz"
    fastrnn.save(r, path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=f"crafted.npz.*{name} must be a dense array"):
        fastrnn.load(path)


def test_an_overflowing_constructor_argument_is_a_value_error(tmp_path, monkeypatch):
    """Whatever a constructor raises on a configuration the header checks
    let through (an OverflowError, an IndexError) is reported as an invalid
    file, naming it."""
    from fastrnn.reservoir.readout import Ridge as R

    def overflow(self, *a, **k):
        raise OverflowError("Python int too large to convert to C ssize_t")

    path = tmp_path / "crafted.npz"
    fastrnn.save(_ridge(), path)
    monkeypatch.setattr(R, "__init__", overflow)
    with pytest.raises(ValueError, match="crafted.npz.*too large"):
        fastrnn.load(path)
