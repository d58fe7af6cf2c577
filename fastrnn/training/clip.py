"""Gradient clipping (Goodfellow et al. (2016), sec. 10.7.7).

Three of the section's variants act on parameter gradients in place and are
here: the joint norm clipping of eq. 10.15 (Pascanu et al. 2013), element-wise
value clipping (Mikolov 2012), and a random step of norm v when the gradient
is not finite. The fourth, clipping the back-propagated hidden-state gradient
(Graves 2013), acts inside BPTT: see ``clip_hidden`` of the layers' backward.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Union

import numpy as np

from fastrnn.training import _clip
from fastrnn._core.validation import FLOAT_DTYPES, check_random_state, check_real
from fastrnn._core.validation import SeedLike

#: What the clipping functions take: one array, a list or a dict of arrays.
Grads = Union[np.ndarray, Sequence[np.ndarray], Mapping[str, np.ndarray]]


def _as_grad_list(grads, name="grads"):
    if isinstance(grads, dict):
        grads = list(grads.values())
    elif isinstance(grads, np.ndarray):
        grads = [grads]
    else:
        try:
            grads = list(grads)
        except TypeError:
            raise TypeError(
                f"{name} must be an ndarray, a list or a dict of ndarrays, "
                f"got {type(grads).__name__}"
            ) from None
    flat = []
    for i, g in enumerate(grads):
        if not isinstance(g, np.ndarray):
            raise TypeError(f"{name}[{i}] must be a numpy.ndarray, got {type(g).__name__}")
        if g.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}[{i}] must be float32 or float64, got {g.dtype}")
        if not (g.flags.c_contiguous and g.flags.aligned and g.flags.writeable):
            raise ValueError(
                f"{name}[{i}] must be C-contiguous, aligned and writeable: clipping works in place"
            )
        flat.append(g.reshape(-1))
    return flat


def global_norm(grads: Grads) -> float:
    """The Euclidean norm of all the gradient arrays taken jointly.

    Computed with scaling (as LAPACK's nrm2), so it neither overflows nor
    underflows for any finite input; NaN or Inf anywhere gives a non-finite norm.
    """
    return float(_clip.global_norm(_as_grad_list(grads)))


def clip_grad_norm(grads: Grads, max_norm: float, *, seed: SeedLike = None) -> float:
    """Rescale gradients jointly so that their norm is at most ``max_norm``.

    Implements Goodfellow et al. (2016), eq. 10.15: if ||g|| > v then g <- g v / ||g||, with
    g all the arrays taken together (one scaling factor for every parameter,
    so the direction of the step is kept).

    When the norm is NaN or Inf the gradient carries no usable direction; as
    section 10.7.7 describes, it is then replaced by a random step of norm
    ``max_norm`` (an isotropic Gaussian direction drawn from ``seed``).

    Parameters
    ----------
    grads : ndarray, list of ndarray or dict of ndarray
        Float32/float64 C-contiguous arrays, modified in place.
    max_norm : float
        The threshold v > 0.
    seed : None, int or numpy.random.Generator
        Source of the random step taken when the norm is not finite.

    Returns
    -------
    float
        The norm before clipping. A non-finite value tells the caller that
        the gradients were replaced by a random step.
    """
    max_norm = check_real(max_norm, "max_norm", low=0.0, low_open=True)
    arrays = _as_grad_list(grads)
    # A given seed is checked on every call, not only when a random step is
    # needed, so that a wrong one shows on the first call rather than at the
    # first NaN; None costs nothing until then.
    rng = None if seed is None else check_random_state(seed)
    norm = float(_clip.global_norm(arrays))
    if not np.isfinite(norm):
        rng = check_random_state(seed) if rng is None else rng
        for a in arrays:
            a[...] = rng.standard_normal(a.shape)
        step_norm = float(_clip.global_norm(arrays))
        if step_norm > 0.0:
            _clip.scale_all(arrays, max_norm / step_norm)
    elif norm > max_norm:
        _clip.scale_all(arrays, max_norm / norm)
    return norm


def clip_grad_value(grads: Grads, clip_value: float) -> int:
    """Clip every gradient element to [-clip_value, clip_value] in place.

    Element-wise clipping (Mikolov 2012; Goodfellow et al. (2016), sec. 10.7.7). NaN
    elements stay NaN, as with ``numpy.clip``.

    Returns
    -------
    int
        The number of elements that were changed.
    """
    clip_value = check_real(clip_value, "clip_value", low=0.0, low_open=True)
    return int(_clip.clip_values(_as_grad_list(grads), clip_value))
