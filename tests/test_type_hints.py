"""The public API carries type hints (PEP 484), and the package says so
(PEP 561's py.typed), so that type checkers and IDEs see real types."""
import inspect
import pathlib

import pytest

import fastrnn

# The public callables: every class and function of fastrnn.__all__ and of the
# public submodules listed there, and the public methods of those classes.
MODULES = [fastrnn.datasets, fastrnn.metrics, fastrnn.losses, fastrnn.tasks, fastrnn.init,
           fastrnn.diagnostics]


def public_callables():
    seen = {}
    for name in fastrnn.__all__:
        obj = getattr(fastrnn, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            seen[f"fastrnn.{name}"] = obj
    for module in MODULES:
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                seen[f"{module.__name__}.{name}"] = obj
    for qual, cls in list(seen.items()):
        if not inspect.isclass(cls) or issubclass(cls, BaseException):
            continue
        # inherited methods too (the layers' forward/backward/step are their
        # common base's), from fastrnn's own classes
        members = {}
        for klass in reversed(cls.__mro__):
            if klass.__module__.startswith("fastrnn"):
                members.update(vars(klass))
        for name, member in members.items():
            if (name.startswith("_") and name != "__init__") or not inspect.isfunction(member):
                continue
            seen[f"{qual}.{name}"] = member
    return seen


CALLABLES = public_callables()


def test_the_public_api_is_found():
    assert len(CALLABLES) > 80
    assert "fastrnn.LSTM.forward" in CALLABLES and "fastrnn.Reservoir.run" in CALLABLES


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_every_parameter_and_return_is_annotated(qualname):
    sig = inspect.signature(CALLABLES[qualname])
    missing = [p.name for p in sig.parameters.values()
               if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    assert not missing, f"{qualname}: parameters without a type hint: {missing}"
    if not qualname.endswith(".__init__"):
        assert sig.return_annotation is not inspect.Signature.empty, \
            f"{qualname}: no return type hint"


def test_py_typed_marker_is_installed():
    assert (pathlib.Path(fastrnn.__file__).parent / "py.typed").exists()
