"""Whether forward calls keep what backward needs (`fastrnn.no_grad`).

A forward that will never be differentiated need not keep the gate
activations of every step (for an LSTM, four times the size of its output),
so inference can run in less memory and faster: under `no_grad` the gated
layers' engine keeps a few steps of gate rows in a ring that stays in
cache instead of a buffer for the whole sequence. The switch is per thread,
like PyTorch's ``torch.no_grad``.
"""
import functools
import threading
from typing import Any, Callable, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])
_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether forward calls in this thread keep what backward needs (True
    outside any `no_grad` block)."""
    return not getattr(_state, "depth", 0)


class no_grad:
    """Context manager (and decorator) under which the recurrent layers'
    ``forward`` keeps nothing for ``backward``, in this thread only.

    Inside it, a forward keeps no cache: a ``backward`` after it raises
    ``NotFittedError`` (run forward again outside the block to
    differentiate). It saves the memory of the per-step gate activations
    and, for RNN, LSTM and GRU, their traffic to memory: their forward then
    runs on the gated-cell engine at every size, with a few steps of gate
    rows in cache. The numbers are those of a forward outside the block, bit
    for bit, where that forward runs on the engine too (steps below
    ``fastrnn.layers.base.ENGINE_MAX_STEP_FLOPS``); above it a forward that
    keeps its gates takes the BLAS loop (faster beside backward's BLAS
    products), whose sums run in another order: the two then agree to
    rounding (a few ulp).

    Examples
    --------
    >>> import numpy as np, fastrnn
    >>> lstm = fastrnn.LSTM(3, 8, seed=0)
    >>> with fastrnn.no_grad():
    ...     y, (h, c) = lstm.forward(np.ones((5, 2, 3), np.float32))
    >>> y.shape
    (5, 2, 8)
    """

    def __init__(self) -> None:
        pass   # the state is per thread, not per object: one object may be entered anywhere

    def __enter__(self) -> "no_grad":
        _state.depth = getattr(_state, "depth", 0) + 1
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.depth -= 1

    def __call__(self, func: _F) -> _F:
        @functools.wraps(func)
        def without_grad(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return func(*args, **kwargs)
        return without_grad  # type: ignore[return-value]
