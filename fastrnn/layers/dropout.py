"""Dropout between layers (Srivastava et al. 2014; Goodfellow et al. (2016),
sec. 7.12), in its inverted form: kept values are scaled by 1/(1 - p) in
training, so that evaluation is the identity."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.validation import NotFittedError, as_array, as_float_array, check_random_state
from fastrnn._core.validation import SeedLike, check_real
from fastrnn.io import format as io_format
from fastrnn.layers.base import ParameterDict, TrainingMode, dropout_mask  # noqa: F401


class Dropout(TrainingMode):
    """Inverted dropout: in training mode each value is zeroed with
    probability ``p`` and the others scaled by 1/(1 - p); in evaluation
    mode (``eval()``) values pass through unchanged.

    Parameters
    ----------
    p : float in [0, 1]
        Probability of dropping a value.
    seed : None, int or numpy.random.Generator
        The masks' generator: the same seed gives the same sequence of
        masks, one per ``forward`` call in training mode.

    Notes
    -----
    ``forward(x)`` draws a fresh mask of x's shape (a separate one for every
    step and sequence of a (T, B, F) input, as ``torch.nn.Dropout``) and
    keeps it; ``backward(dy)`` multiplies by that same mask. Dropout has no
    parameters: ``params`` and ``grads`` are empty, so it sits in a
    `fastrnn.Sequential` and under an optimiser like any layer. Floating
    inputs keep their dtype; integers become float64.
    """

    def __init__(self, p: float, *, seed: SeedLike = None) -> None:
        self.p = check_real(p, "p", low=0.0, high=1.0)
        self._rng = check_random_state(seed)
        self._mask = None
        self._forwarded = False
        self._params = ParameterDict({}, np.float64, "params")
        self._grads = ParameterDict({}, np.float64, "grads")

    @property
    def params(self) -> ParameterDict:
        """Empty: dropout learns nothing."""
        return self._params

    @property
    def grads(self) -> ParameterDict:
        """Empty: dropout learns nothing."""
        return self._grads

    def zero_grad(self) -> None:
        """Nothing to zero."""

    def _active(self):
        return self.training and self.p > 0.0

    def forward(self, x: ArrayLike) -> np.ndarray:
        """x with a fresh mask applied in training mode (x itself, as an
        array, in evaluation mode or with p = 0)."""
        x = as_array(x, "x")
        x = as_float_array(x, "x", x.dtype if x.dtype.kind == "f" else np.float64)
        self._forwarded = True
        if not self._active():
            self._mask = None
            return x
        self._mask = dropout_mask(self._rng, self.p, x.shape, x.dtype)
        return x * self._mask

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """dL/dx: dy times the mask of the last ``forward`` (dy itself when
        that forward dropped nothing)."""
        if not self._forwarded:
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        dy = as_array(dy, "dy")
        dy = as_float_array(dy, "dy", dy.dtype if dy.dtype.kind == "f" else np.float64)
        if self._mask is None:
            return dy
        if dy.shape != self._mask.shape:
            raise ValueError(f"dy must have the shape of the last forward's x "
                             f"{self._mask.shape}, got {dy.shape}")
        return dy * self._mask.astype(dy.dtype, copy=False)

    __call__ = forward

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    # -- persistence (fastrnn.io) --
    # The generator's state is kept, so that a loaded model draws the masks
    # the saved one would have drawn next. The mode is not (as for every
    # layer): a loaded model starts in training mode, as a new one does.
    def _save_config(self) -> dict[str, Any]:
        return {"p": self.p, "rng": io_format.rng_state(self._rng)}

    def _save_arrays(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Any) -> Dropout:
        io_format.expect_shapes(arrays, {}, "Dropout", exact=True)
        return cls(config.get("p"), seed=io_format.rng_from_state(config.get("rng")))


io_format.register("Dropout", Dropout)
