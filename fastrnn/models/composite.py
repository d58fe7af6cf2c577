"""What every composite model shares: named parts, and their parameters and
gradients seen as one flat mapping (`Sequential`, `ContextRNN`, `Seq2Seq`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from fastrnn.io import format as io_format


class PartsOwner:
    """``params``, ``grads``, ``zero_grad`` and the saved arrays of a model
    made of the parts in its dict ``self.parts`` (name -> part): the keys
    are ``"<part>.<name>"`` and the arrays the parts' own, so an optimiser
    built on the model updates the parts."""

    parts: dict[str, Any]

    # _PartsView is looked up at call time: fastrnn.models.sequential
    # imports this module for its Sequential.
    @property
    def params(self) -> dict[str, np.ndarray]:
        from fastrnn.models.sequential import _PartsView
        return _PartsView(self.parts, "params")

    @property
    def grads(self) -> dict[str, np.ndarray]:
        from fastrnn.models.sequential import _PartsView
        return _PartsView(self.parts, "grads")

    def zero_grad(self) -> None:
        """Set every part's gradients to zero."""
        for part in self.parts.values():
            part.zero_grad()

    def _save_arrays(self) -> dict[str, np.ndarray]:
        """Each part's arrays as it saves them, under its part name."""
        arrays = {}
        for name, part in self.parts.items():
            arrays.update(io_format.part_arrays(part, name))
        return arrays
