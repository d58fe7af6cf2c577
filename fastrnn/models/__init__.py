"""Composite sequence models built from the layers of `fastrnn.layers`
(Goodfellow et al. (2016), ch. 10): `Sequential`, layers in series."""
from fastrnn.models.sequential import Sequential

__all__ = ["Sequential"]
