"""Files written by an earlier release still load, and compute to the bit
what the model that wrote them computed (``tests/fixtures/saved``, written
once by ``tests/fixtures/make_saved_fixtures.py``)."""
import glob
import importlib.util
import json
import os
import zipfile

import numpy as np
import pytest

import fastrnn

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures")
SAVED = os.path.join(FIXTURES, "saved")
OPTIMISERS = ("sgd", "adam")


def _maker():
    spec = importlib.util.spec_from_file_location(
        "make_saved_fixtures", os.path.join(FIXTURES, "make_saved_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _maker()
CASES = sorted(os.path.basename(f)[:-len(".npz")]
               for f in glob.glob(os.path.join(SAVED, "*.npz"))
               if not f.endswith(".expected.npz"))


def test_every_case_of_the_maker_has_its_files():
    assert set(CASES) == set(MAKER.CASES) | {"sequential", *OPTIMISERS}
    # fastrnn's own classes (other tests register classes of their own)
    builtin = {name for name, cls in fastrnn.io.registered_classes().items()
               if cls.__module__.startswith("fastrnn.")}
    saved = {_header(os.path.join(SAVED, f"{c}.npz"))["class"] for c in CASES}
    assert saved == builtin


def _header(path):
    with np.load(path) as f:
        return json.loads(f["header"].tobytes())


def _load(case):
    if case.startswith("sklearn_"):
        pytest.importorskip("sklearn")
    path = os.path.join(SAVED, f"{case}.npz")
    if case in OPTIMISERS:
        model = fastrnn.load(os.path.join(SAVED, "sequential.npz"))
        return model, fastrnn.load(path, model=model)
    return None, fastrnn.load(path)


@pytest.mark.parametrize("case", CASES)
def test_saved_file_computes_what_it_computed(case):
    with np.load(os.path.join(SAVED, f"{case}.expected.npz")) as f:
        expected = dict(f)
    inputs = {k[3:]: v for k, v in expected.items() if k.startswith("in_")}
    wanted = {k[4:]: v for k, v in expected.items() if k.startswith("out_")}
    model, obj = _load(case)
    if case in OPTIMISERS:
        got = MAKER.optimiser_step(model, obj, inputs)
    else:
        got = MAKER.run_case(case, obj, inputs)
    assert set(got) == set(wanted)
    for name, value in wanted.items():
        assert got[name].dtype == value.dtype, name
        assert np.array_equal(got[name], value), name


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.mark.parametrize("case", CASES)
def test_saving_a_loaded_file_writes_the_same_model(case, tmp_path):
    path = os.path.join(SAVED, f"{case}.npz")
    _, obj = _load(case)
    fastrnn.save(obj, tmp_path / "again.npz")
    old, new = _header(path), _header(tmp_path / "again.npz")
    for key in ("format", "format_version", "class", "config", "arrays"):
        assert new[key] == old[key], key
    old_members, new_members = _members(path), _members(tmp_path / "again.npz")
    del old_members["header.npy"], new_members["header.npy"]
    assert new_members == old_members
