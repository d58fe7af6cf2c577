"""ESN and fastrnn.dask reach another class only through its public or
package-internal methods (documented as such on that class), never through
its private attributes: a source check of the installed modules."""
import inspect
import re

import pytest

import fastrnn
import fastrnn.reservoir.esn as esn_module

dask_module = pytest.importorskip("fastrnn.dask")

# receiver name in the source -> (class, the underscore names it may use)
RECEIVERS = {
    esn_module: {"self.reservoir": fastrnn.Reservoir, "reservoir": fastrnn.Reservoir},
    dask_module: {"esn": fastrnn.ESN, "model": fastrnn.ESN, "reservoir": fastrnn.Reservoir},
}


def _package_internal(cls):
    """The underscore methods of ``cls`` (its package-internal interface);
    private attributes (state) are not among them."""
    names = set()
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and not name.startswith("__") and callable(member):
            names.add(name)
    return names


@pytest.mark.parametrize("module", list(RECEIVERS), ids=lambda m: m.__name__)
def test_only_methods_of_other_classes_are_used(module):
    source = inspect.getsource(module)
    bad = []
    for receiver, cls in RECEIVERS[module].items():
        allowed = _package_internal(cls)
        for m in re.finditer(rf"(?<![\w.]){re.escape(receiver)}\.(_[a-z]\w*)", source):
            if m.group(1) not in allowed:
                bad.append(f"{receiver}.{m.group(1)}")
    assert not bad, f"{module.__name__} reads private state: {sorted(set(bad))}"


def test_the_check_sees_a_private_attribute():
    # The rule above must be able to fail: an attribute is not a method.
    allowed = _package_internal(fastrnn.ESN)
    assert "_loop_state" in allowed and "_y_last" not in allowed
