"""The package under test is the installed, compiled one."""
import importlib
import importlib.util
import pathlib

import fastrnn


def test_version_is_a_string():
    assert isinstance(fastrnn.__version__, str)
    assert fastrnn.__version__.count(".") >= 1


def test_compiled_extensions_are_loaded():
    for name in ("layers._recurrent", "training._clip", "_core._cpu"):
        mod = importlib.import_module(f"fastrnn.{name}")
        suffix = pathlib.Path(mod.__file__).suffix
        assert suffix in (".so", ".pyd"), f"fastrnn.{name} is not compiled: {mod.__file__}"


def test_no_kernel_is_cloned_for_one_cpu_model():
    # GCC dispatches a target_clones("arch=<cpu>") clone on that CPU model
    # only: with "arch=haswell" every later CPU ran the baseline kernels.
    # Clones must be chosen by ISA level ("arch=x86-64-v3").
    for name in ("layers._recurrent", "layers._leaky", "training._optim", "training._clip",
                 "_core._cpu"):
        path = pathlib.Path(importlib.import_module(f"fastrnn.{name}").__file__)
        assert b".arch_haswell" not in path.read_bytes(), f"{path.name} has CPU-model clones"


def test_no_test_only_extension_ships():
    # The activations and the small mat-vec kernel are tested through the
    # layers; no extension exists only for the tests.
    assert importlib.util.find_spec("fastrnn._core._elementwise") is None
