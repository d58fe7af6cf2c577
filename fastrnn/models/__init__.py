"""Composite sequence models built from the layers of `fastrnn.layers`
(Goodfellow et al. (2016), ch. 10): `Sequential`, layers in series
(``sequential.py``); stacks whose every layer reaches the output
(``stack.py``); recursive networks over trees (``recursive.py``, its loops in
``_recursive.pyx``)."""
from fastrnn.models.recursive import RecursiveNet, TreeBatch
from fastrnn.models.sequential import Sequential
from fastrnn.models.stack import StackedRNN

__all__ = ["Sequential", "StackedRNN", "RecursiveNet", "TreeBatch"]
