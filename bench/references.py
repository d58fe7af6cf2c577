"""The NumPy references of tests/ (step-by-step loops straight from the
equations), loaded by file path for the comparison scripts that time them as
the plain NumPy baseline.

They are read from the checkout the scripts run in, without putting tests/
(or any other source folder) on sys.path, so `import fastrnn` in a script
always finds the installed package.
"""
import importlib.util
import pathlib

TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"


def load(name):
    """The module tests/<name>.py, e.g. ``load("reference")``."""
    path = TESTS / f"{name}.py"
    if not path.exists():
        raise SystemExit(f"this benchmark needs {path} (run it from a checkout of fastrnn)")
    spec = importlib.util.spec_from_file_location(f"fastrnn_tests_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
