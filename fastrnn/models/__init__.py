"""Composite sequence models built from the layers: stacks whose every layer
reaches the output (``stack.py``) and recursive networks over trees
(``recursive.py``, its loops in ``_recursive.pyx``)."""
from fastrnn.models.recursive import RecursiveNet, TreeBatch
from fastrnn.models.stack import StackedRNN

__all__ = ["StackedRNN", "RecursiveNet", "TreeBatch"]
