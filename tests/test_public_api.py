"""The public API survives the move to subpackages: the names of ``fastrnn``,
the module paths of earlier releases, and the integration modules."""
import importlib

import pytest

import fastrnn

FORMER_PATHS = {
    "fastrnn.rnn": "RNN", "fastrnn.lstm": "LSTM", "fastrnn.gru": "GRU",
    "fastrnn.leaky": "LeakyRNN", "fastrnn.clockwork": "ClockworkRNN",
    "fastrnn.delays": "DelayRNN", "fastrnn.output": "Linear", "fastrnn.esn": "ESN",
    "fastrnn.readout": "Ridge", "fastrnn.reservoir": "Reservoir", "fastrnn.optim": "Adam",
    "fastrnn.train": "Sequential", "fastrnn.clip": "clip_grad_norm",
    "fastrnn.onnx_import": "from_onnx", "fastrnn.onnx_export": "to_onnx",
    "fastrnn.io": "save",
}


@pytest.mark.parametrize("path,name", sorted(FORMER_PATHS.items()))
def test_former_module_paths_still_import(path, name):
    module = importlib.import_module(path)
    assert getattr(module, name) is getattr(fastrnn, name)


@pytest.mark.parametrize("name", ["losses", "optim", "init", "tasks", "diagnostics",
                                  "datasets", "metrics"])
def test_public_modules_are_attributes_and_importable(name):
    assert importlib.import_module(f"fastrnn.{name}") is getattr(fastrnn, name)


def test_everything_in_all_exists():
    missing = [n for n in fastrnn.__all__ if not hasattr(fastrnn, n)]
    assert not missing


def test_subpackages_export_what_fastrnn_exports():
    from fastrnn import layers, reservoir, training
    for pkg in (layers, reservoir, training):
        for name in pkg.__all__:
            if hasattr(fastrnn, name):
                assert getattr(pkg, name) is getattr(fastrnn, name)


def test_command_line_entry_point_is_where_pyproject_says():
    from fastrnn.cli import main
    assert callable(main)
