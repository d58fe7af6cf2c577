# cython: language_level=3
"""Loops over a list of gradient arrays for fastrnn.clip (Goodfellow et al. (2016), sec. 10.7.7).

Each array is flat, C-contiguous, float32 or float64 (checked in Python); the
arithmetic is in csrc/common/fr_kernels_impl.h.
"""
from libc.float cimport FLT_MIN
from libc.math cimport sqrt

import numpy as np

from fastrnn._core.kernels cimport (
    fr_sumsq_scaled_f, fr_sumsq_scaled_d, fr_scale_f, fr_scale_d,
    fr_clip_value_f, fr_clip_value_d,
)


def global_norm(list arrays):
    """Euclidean norm of all the arrays taken together, without overflow."""
    cdef double scale = 0.0, ssq = 1.0
    cdef float[::1] f
    cdef double[::1] d
    for a in arrays:
        if a.size == 0:
            continue
        if a.dtype == np.float32:
            f = a
            with nogil:
                fr_sumsq_scaled_f(&f[0], f.shape[0], &scale, &ssq)
        else:
            d = a
            with nogil:
                fr_sumsq_scaled_d(&d[0], d.shape[0], &scale, &ssq)
    return scale * sqrt(ssq)


def scale_all(list arrays, double factor):
    cdef float[::1] f
    cdef double[::1] d
    # A factor below float32's normal range would round to zero (or lose
    # digits) as a float: scale float32 arrays in two steps of sqrt(factor).
    cdef bint split = factor < FLT_MIN
    cdef float factor_f = <float> (sqrt(factor) if split else factor)
    for a in arrays:
        if a.size == 0:
            continue
        if a.dtype == np.float32:
            f = a
            with nogil:
                fr_scale_f(&f[0], f.shape[0], factor_f)
                if split:
                    fr_scale_f(&f[0], f.shape[0], factor_f)
        else:
            d = a
            with nogil:
                fr_scale_d(&d[0], d.shape[0], factor)


def clip_values(list arrays, double limit):
    """Clip every element to [-limit, limit]; returns how many changed."""
    cdef Py_ssize_t changed = 0
    cdef float[::1] f
    cdef double[::1] d
    for a in arrays:
        if a.size == 0:
            continue
        if a.dtype == np.float32:
            f = a
            with nogil:
                changed += fr_clip_value_f(&f[0], f.shape[0], <float> limit)
        else:
            d = a
            with nogil:
                changed += fr_clip_value_d(&d[0], d.shape[0], limit)
    return changed
