"""The package under test is the installed, compiled one."""
import importlib
import pathlib

import fastrnn


def test_version_is_a_string():
    assert isinstance(fastrnn.__version__, str)
    assert fastrnn.__version__.count(".") >= 1


def test_compiled_extensions_are_loaded():
    for name in ("_recurrent", "_clip", "_elementwise"):
        mod = importlib.import_module(f"fastrnn.{name}")
        suffix = pathlib.Path(mod.__file__).suffix
        assert suffix in (".so", ".pyd"), f"fastrnn.{name} is not compiled: {mod.__file__}"
