"""The persistence protocol: each class says what it saves and how it is
rebuilt (``_save_config``, ``_save_arrays``, ``_from_saved``); ``fastrnn.io``
holds only the file format, the registry and the helpers."""
import ast
import inspect

import numpy as np
import pytest

import fastrnn
import fastrnn.io as fio
from fastrnn.io import format as io_format


def test_the_file_format_imports_no_model_module():
    tree = ast.parse(inspect.getsource(io_format))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    own = {m for m in imported if m.startswith("fastrnn")}
    assert own <= {"fastrnn.io.atomic", "fastrnn._core.validation", "fastrnn._version"}, own


def test_every_builtin_class_saves_itself_with_its_own_methods():
    builtin = {name: cls for name, cls in fio.registered_classes().items()
               if cls.__module__.startswith("fastrnn.")}
    assert set(builtin) == {"RNN", "LSTM", "GRU", "LeakyRNN", "ClockworkRNN", "DelayRNN",
                            "Linear", "Sequential", "Reservoir", "Ridge", "RLS", "LMS", "ESN",
                            "SGD", "Adam", "Reversed", "NVAR", "NVARForecaster",
                            "ReservoirGraph", "DeepESN", "EstimatorReadout",
                            "FORCE", "IPReservoir", "ESNSequenceEncoder",
                            "Embedding", "Dropout",
                            "DeepTransitionRNN", "StackedRNN", "RecursiveNet",
                            "ContextRNN", "Attention", "Seq2Seq"}
    for name, cls in builtin.items():
        for method in ("_save_config", "_save_arrays", "_from_saved"):
            assert callable(getattr(cls, method)), (name, method)


def test_a_subclass_is_not_saved_as_its_parent(tmp_path):
    class Wider(fastrnn.LSTM):
        pass

    with pytest.raises(TypeError, match="obj: cannot save a"):
        fastrnn.save(Wider(2, 3), tmp_path / "w.npz")


class Wrapper:
    """A user's composite: a fastrnn layer and an array of its own."""

    def __init__(self, layer, scale):
        self.layer, self.scale = layer, scale

    def _save_config(self):
        return {"layer": fio.part_config(self.layer)}

    def _save_arrays(self):
        arrays = fio.part_arrays(self.layer, "layer")
        arrays["scale"] = self.scale
        return arrays

    @classmethod
    def _from_saved(cls, config, arrays):
        layer = fio.build_part(config.get("layer"), arrays, "layer")
        return cls(layer, fio.expect_array(arrays, "scale", (layer.hidden_size,), layer.dtype,
                                           "Wrapper").copy())


fio.register("test_persistence.Wrapper", Wrapper)


def test_a_user_composite_nests_a_fastrnn_layer(tmp_path):
    layer = fastrnn.GRU(3, 4, dtype=np.float64, seed=0)
    m = Wrapper(layer, np.linspace(0.5, 1.5, 4))
    fastrnn.save(m, tmp_path / "w.npz")
    m2 = fastrnn.load(tmp_path / "w.npz")
    x = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_array_equal(m2.layer.forward(x)[0], layer.forward(x)[0])
    np.testing.assert_array_equal(m2.scale, m.scale)

    m.scale = np.ones(5)    # not the layer's hidden size
    fastrnn.save(m, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="scale must be float64 of shape \\(4,\\)"):
        fastrnn.load(tmp_path / "bad.npz")


class Counter:
    """A user's class loaded against a model, as an optimiser is."""

    def __init__(self, model, count):
        self.model, self.count = model, count

    def _save_config(self):
        return {"count": self.count}

    def _save_arrays(self):
        return {}

    @classmethod
    def _from_saved(cls, config, arrays, model):
        return cls(model, fio.config_count(config, "count"))


fio.register("test_persistence.Counter", Counter, needs_model=True)


def test_a_user_class_registered_with_needs_model_is_loaded_against_one(tmp_path):
    model = fastrnn.Linear(2, 3, seed=0)
    fastrnn.save(Counter(model, 7), tmp_path / "c.npz")
    with pytest.raises(TypeError, match="pass the model"):
        fastrnn.load(tmp_path / "c.npz")
    loaded = fastrnn.load(tmp_path / "c.npz", model=model)
    assert loaded.model is model and loaded.count == 7
    # and it cannot be smuggled in as a part of a composite
    with pytest.raises(ValueError, match="part 'layer'"):
        fio.build_part({"class": "test_persistence.Counter", "config": {"count": 1}}, {},
                       "layer")


@pytest.mark.parametrize("value, ok", [(0, True), (5, True), (-1, False), (True, False),
                                       (1.0, False), (None, False)])
def test_config_count(value, ok):
    if ok:
        assert fio.config_count({"n": value}, "n") == value
    else:
        with pytest.raises(ValueError, match="config field 'n'"):
            fio.config_count({"n": value}, "n")


@pytest.mark.parametrize("state", [None, [], {"bit_generator": "os.system"},
                                   {"bit_generator": "PCG64", "state": "x"}])
def test_a_malformed_generator_state_is_refused(state):
    with pytest.raises((ValueError, TypeError)):
        fio.rng_from_state(state)


def test_generator_state_round_trips_exactly():
    rng = np.random.default_rng(3)
    rng.standard_normal(5)
    again = fio.rng_from_state(fio.rng_state(rng))
    np.testing.assert_array_equal(again.standard_normal(4), rng.standard_normal(4))
