"""The output layer of Goodfellow et al. (2016), eq. 10.4: o_t = c + V h_t, applied to
every step."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn.layers.base import ParameterOwner, check_parameter_memory, check_size
from fastrnn._core.validation import SeedLike
from fastrnn._core.validation import (
    NotFittedError,
    as_float_array, check_bool, check_dtype, check_random_state,
)
from fastrnn.io import format as io_format


class Linear(ParameterOwner):
    """An affine map applied to the last axis, weight-compatible with ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : numpy.float32 or numpy.float64
    seed : None, int or numpy.random.Generator
        Initialisation uniform in [-1/sqrt(in_features), 1/sqrt(in_features)].

    Attributes
    ----------
    params : dict
        ``weight`` (out_features, in_features) and ``bias`` (out_features,).
    grads : dict
        Same keys, accumulated by ``backward`` until ``zero_grad``.
    """

    _config_names = ("in_features", "out_features", "dtype", "bias")

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 dtype: DTypeLike = np.float32, seed: SeedLike = None) -> None:
        self.in_features = check_size(in_features, "in_features")
        self.out_features = check_size(out_features, "out_features")
        self.dtype = check_dtype(dtype)
        self.bias = check_bool(bias, "bias")
        check_parameter_memory(self.out_features * (self.in_features + 1), 2,
                               self.dtype.itemsize,
                               f"Linear({self.in_features}, {self.out_features})")
        rng = check_random_state(seed)
        k = 1.0 / np.sqrt(self.in_features)
        params = {
            "weight": rng.uniform(-k, k, (self.out_features, self.in_features)).astype(self.dtype)
        }
        if self.bias:
            params["bias"] = rng.uniform(-k, k, self.out_features).astype(self.dtype)
        self._init_params(params)
        self._h = None

    def forward(self, h: ArrayLike) -> np.ndarray:
        """o = h V^T + c over the last axis of h (any leading shape)."""
        self._check_arrays()
        h = as_float_array(h, "h", self.dtype)
        if h.ndim < 1 or h.shape[-1] != self.in_features:
            raise ValueError(
                f"h must have {self.in_features} features in its last dimension "
                f"(in_features), got shape {h.shape}"
            )
        self._h = h
        out = h @ self.params["weight"].T
        if self.bias:
            out += self.params["bias"]
        return out

    def backward(self, dout: ArrayLike) -> np.ndarray:
        """Accumulate dV, dc from dL/do and return dL/dh."""
        if self._h is None:
            raise NotFittedError("backward called before forward: call forward first, then backward")
        self._check_arrays(grads=True)
        want = self._h.shape[:-1] + (self.out_features,)
        dout = as_float_array(dout, "dout", self.dtype, shape=want)
        d2 = dout.reshape(-1, self.out_features)
        h2 = self._h.reshape(-1, self.in_features)
        self.grads["weight"] += d2.T @ h2
        if self.bias:
            self.grads["bias"] += d2.sum(axis=0)
        return dout @ self.params["weight"]

    __call__ = forward

    # -- persistence (fastrnn.io) --
    _saved_config_names = ("in_features", "out_features", "bias", "dtype")

    @classmethod
    def _saved_shapes(cls, config, arrays):
        D = io_format.config_int(config, "in_features")
        O = io_format.config_int(config, "out_features")
        shapes = {"weight": (O, D)}
        if io_format.config_bool(config, "bias", True):
            shapes["bias"] = (O,)
        return shapes


io_format.register("Linear", Linear)
