# cython: language_level=3
"""Loops over a list of gradient arrays for fastrnn.clip (Goodfellow et al.
(2016), sec. 10.11.1).

Each array is flat, C-contiguous, float32 or float64 (checked in Python); a
list may mix the two, so each array goes through a function fused over its
dtype, which Cython picks from the array. The arithmetic is in
csrc/common/fr_kernels_impl.h.
"""
from cython cimport floating
from libc.float cimport FLT_MIN
from libc.math cimport sqrt

from fastrnn._core.kernels cimport sumsq_scaled, scale_by, clip_values as clip_kernel


def _fold_sum_of_squares(const floating[::1] a, double[::1] scale_ssq):
    """Fold a into the running (scale, ssq) of scale_ssq (INOUT)."""
    with nogil:
        sumsq_scaled(&a[0], a.shape[0], &scale_ssq[0], &scale_ssq[1])


def _scale(floating[::1] a, double factor):
    """a (INOUT) *= factor."""
    cdef bint split = False
    cdef floating f = <floating> factor
    if floating is float:
        # A factor below float32's normal range would round to zero (or lose
        # digits) as a float: scale in two steps of sqrt(factor).
        split = factor < FLT_MIN
        if split:
            f = <floating> sqrt(factor)
    with nogil:
        scale_by(&a[0], a.shape[0], f)
        if split:
            scale_by(&a[0], a.shape[0], f)


def _clip(floating[::1] a, double limit):
    """a (INOUT) clipped to [-limit, limit]; returns how many changed."""
    cdef Py_ssize_t changed
    with nogil:
        changed = clip_kernel(&a[0], a.shape[0], <floating> limit)
    return changed


def global_norm(list arrays):
    """Euclidean norm of all the arrays taken together, without overflow."""
    import numpy as np

    scale_ssq = np.array([0.0, 1.0])
    for a in arrays:
        if a.size:
            _fold_sum_of_squares(a, scale_ssq)
    return scale_ssq[0] * sqrt(scale_ssq[1])


def scale_all(list arrays, double factor):
    for a in arrays:
        if a.size:
            _scale(a, factor)


def clip_values(list arrays, double limit):
    """Clip every element to [-limit, limit]; returns how many changed."""
    cdef Py_ssize_t changed = 0
    for a in arrays:
        if a.size:
            changed += _clip(a, limit)
    return changed
