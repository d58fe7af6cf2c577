"""A lookup table of learned token vectors, the usual first layer of a
language model or of an encoder over symbols (Bengio et al. (2003); the
"word embeddings" of Goodfellow et al. (2016), sec. 12.4)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn._core.validation import (
    NotFittedError, as_array, as_float_array, check_dtype, check_int, check_random_state,
)
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format
from fastrnn.layers import _embedding
from fastrnn.layers.base import ParameterOwner, TrainingMode, check_parameter_memory, check_size


def check_tokens(tokens: Any, vocabulary: int, name: str = "tokens") -> np.ndarray:
    """``tokens`` as an intp array of ids in [0, vocabulary): a TypeError
    for anything but integers, a ValueError naming the range otherwise."""
    arr = as_array(tokens, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an array of integer token ids, got dtype {arr.dtype}")
    if arr.size:
        low, high = arr.min(), arr.max()
        if low < 0 or high >= vocabulary:
            raise ValueError(f"{name} must be token ids in [0, {vocabulary}) (num_embeddings "
                             f"= {vocabulary}), got values from {low} to {high}")
    return np.require(arr, dtype=np.intp, requirements=["C", "A"])


class Embedding(TrainingMode, ParameterOwner):
    """Token ids to vectors: ``y[..., :] = weight[tokens[...]]``,
    weight-compatible with ``torch.nn.Embedding``.

    Parameters
    ----------
    num_embeddings : int
        V, the vocabulary size: tokens are ids in [0, V).
    embedding_dim : int
        E, the length of each vector.
    padding_idx : int or None
        A token whose vector is held at zero: its row starts at zero and
        receives no gradient (PyTorch's meaning; a negative value counts
        from the end, -1 is V - 1).
    dtype : numpy.float32 or numpy.float64
    seed : None, int or numpy.random.Generator
        Initialisation: every entry drawn from N(0, 1), as PyTorch does.

    Attributes
    ----------
    params, grads : dict
        ``weight`` (num_embeddings, embedding_dim); the gradient accumulates
        until ``zero_grad``.

    Notes
    -----
    ``forward(tokens)`` takes integers of any shape, typically (T, B)
    time-major as the recurrent layers read them, and returns
    ``tokens.shape + (embedding_dim,)``. ``backward(dy)`` adds each row of
    dy into the row of the token it came from (a scatter-add in Cython,
    without the GIL and without a one-hot matrix) and returns None: token
    ids have no gradient.
    """

    _config_names = ("num_embeddings", "embedding_dim", "padding_idx", "dtype")

    def __init__(self, num_embeddings: int, embedding_dim: int, *,
                 padding_idx: Optional[int] = None, dtype: DTypeLike = np.float32,
                 seed: SeedLike = None) -> None:
        self.num_embeddings = check_size(num_embeddings, "num_embeddings")
        self.embedding_dim = check_size(embedding_dim, "embedding_dim")
        V = self.num_embeddings
        if padding_idx is not None:
            padding_idx = check_int(padding_idx, "padding_idx", minimum=-V, maximum=V - 1)
            if padding_idx < 0:
                padding_idx += V
        self.padding_idx = padding_idx
        self.dtype = check_dtype(dtype)
        check_parameter_memory(V * self.embedding_dim, 1, self.dtype.itemsize, repr(self))
        rng = check_random_state(seed)
        weight = rng.standard_normal((V, self.embedding_dim)).astype(self.dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self._init_params({"weight": weight})
        self._tokens = None

    def forward(self, tokens: ArrayLike) -> np.ndarray:
        """The vectors of ``tokens`` (any shape of integers in [0, V)):
        an array of shape ``tokens.shape + (embedding_dim,)``."""
        self._check_arrays()
        tokens = check_tokens(tokens, self.num_embeddings)
        self._tokens = tokens
        return self.params["weight"][tokens]

    def backward(self, dy: ArrayLike) -> None:
        """Add dL/dweight for the last ``forward`` into ``grads["weight"]``
        (nothing for padding_idx); returns None, tokens having no gradient."""
        if self._tokens is None:
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        self._check_arrays(grads=True)
        E = self.embedding_dim
        dy = as_float_array(dy, "dy", self.dtype, shape=self._tokens.shape + (E,))
        pad = -1 if self.padding_idx is None else self.padding_idx
        _embedding.embedding_backward(self._tokens.reshape(-1), dy.reshape(-1, E),
                                      self.grads["weight"], pad)
        return None

    __call__ = forward

    @classmethod
    def from_torch(cls, module: Any, **kwargs: Any) -> Embedding:
        """An Embedding with the configuration and weights of a
        ``torch.nn.Embedding`` (keyword arguments override dtype, say).
        ``max_norm`` renormalisation and sparse gradients have no
        counterpart here and are refused."""
        missing = [a for a in ("num_embeddings", "embedding_dim", "padding_idx", "weight")
                   if not hasattr(module, a)]
        if missing:
            raise TypeError(f"module must be a torch.nn.Embedding (or alike); a "
                            f"{type(module).__name__} has no {', '.join(missing)}")
        if getattr(module, "max_norm", None) is not None:
            raise ValueError("torch.nn.Embedding(max_norm=...) renormalises rows as it reads "
                             "them; fastrnn.Embedding has no such option")
        args = dict(padding_idx=module.padding_idx,
                    dtype=check_dtype(str(module.weight.dtype).replace("torch.", ""),
                                      "the module's dtype"))
        args.update(kwargs)
        layer = cls(module.num_embeddings, module.embedding_dim, **args)
        layer.load_state_dict({"weight": module.weight})
        return layer

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return (f"Embedding({self.num_embeddings}, {self.embedding_dim}{pad}, "
                f"dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    _saved_config_names = ("num_embeddings", "embedding_dim", "padding_idx", "dtype")

    @classmethod
    def _saved_shapes(cls, config, arrays):
        V = io_format.config_int(config, "num_embeddings")
        E = io_format.config_int(config, "embedding_dim")
        return {"weight": (V, E)}


io_format.register("Embedding", Embedding)
