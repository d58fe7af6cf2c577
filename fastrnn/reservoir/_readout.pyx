# cython: language_level=3
"""Accumulation loops of the linear readouts (Lukoševičius 2012; Goodfellow et
al. (2016), sec. 10.8: the output weights are a linear regression on the
states).

`gram_update` adds A^T A of a chunk of rows with one BLAS syrk (the streamed
normal equations of `fastrnn.Ridge`); `rls_update` runs recursive least
squares (Haykin, Adaptive Filter Theory (2002), ch. 9) and `lms_update`
least mean squares (Widrow & Hoff 1960) sample by sample without the GIL.
The float/double choice is made once, in the fused BLAS
wrappers of fastrnn/_core/blas.pxd.
"""
from cython cimport floating

import numpy as np

from fastrnn._core.blas cimport dot, gemv, syrk_upper
from fastrnn.reservoir._rls cimport rls_step


def gram_update(const floating[:, ::1] a, floating[:, ::1] gram):
    """Upper triangle of ``gram`` += a^T a.

    Parameters
    ----------
    a : (k, n), IN
        A chunk of rows.
    gram : (n, n), IN/OUT
        Only its upper triangle (row-major) is read and written.
    """
    cdef int k = a.shape[0], n = a.shape[1]
    if k == 0 or n == 0:
        return
    with nogil:
        syrk_upper(True, n, k, <floating> 1, &a[0, 0], n, <floating> 1, &gram[0, 0], n)


def rls_update(const floating[:, ::1] x, const floating[:, ::1] y,
               floating[:, ::1] p, floating[:, ::1] w, double forgetting):
    """Recursive least squares over the samples (rows) of x and y.

    For each sample: k = P x / (lambda + x^T P x); w += k (y - w^T x)^T;
    P = (P - P x x^T P / (lambda + x^T P x)) / lambda, with lambda the
    forgetting factor.

    Parameters
    ----------
    x : (T, F), IN
        Features, one sample a row.
    y : (T, O), IN
        Targets.
    p : (F, F), IN/OUT
        The inverse correlation matrix P; only its upper triangle is read
        and written, so it stays exactly symmetric.
    w : (F, O), IN/OUT
        The weights.
    forgetting : float in (0, 1], IN
    """
    cdef int T = x.shape[0], F = x.shape[1], O = y.shape[1]
    cdef int t
    cdef floating[::1] p_x, error
    if T == 0 or F == 0:
        return
    p_x = np.empty(F, dtype=np.float32 if floating is float else np.float64)
    error = np.empty(O, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        for t in range(T):
            rls_step(F, O, &x[t, 0], &y[t, 0], &p[0, 0], &w[0, 0], &p_x[0], &error[0],
                     forgetting)


cdef inline void _lms_steps(const floating *x, const floating *y, floating *w,
                            floating *b, floating *prediction, int T, int F, int O,
                            floating eta, bint fit_bias) noexcept nogil:
    """The least-mean-squares steps of `lms_update` on raw pointers, for
    either precision."""
    cdef int t, i, o
    cdef const floating *x_t
    cdef floating scaled
    for t in range(T):
        x_t = x + <Py_ssize_t> t * F
        # The prediction before the update, x_t^T W + b, with the product
        # NumPy's ``x_t @ W`` makes (gemv; dot for one output), so that a
        # NumPy loop reproduces the weights bit for bit.
        if O == 1:
            prediction[0] = dot(F, x_t, w)
        else:
            gemv(True, F, O, <floating> 1, w, O, x_t, <floating> 0, prediction)
        for o in range(O):
            # the error e_t = y_t - (W^T x_t + b), kept in ``prediction``
            prediction[o] = y[<Py_ssize_t> t * O + o] - (prediction[o] + b[o])
        for i in range(F):
            for o in range(O):
                scaled = x_t[i] * prediction[o]
                w[<Py_ssize_t> i * O + o] += eta * scaled
        if fit_bias:
            for o in range(O):
                b[o] += eta * prediction[o]


def lms_update(const floating[:, ::1] x, const floating[:, ::1] y, floating[:, ::1] w,
               floating[::1] b, double learning_rate, bint fit_bias):
    """Least mean squares (Widrow & Hoff 1960; Haykin, Adaptive Filter
    Theory (2002), ch. 5) over the samples (rows) of x and y, in order.

    For each sample: e = y_t - (W^T x_t + b); W += eta x_t e^T; and, with
    ``fit_bias``, b += eta e.

    Parameters
    ----------
    x : (T, F), IN
    y : (T, O), IN
    w : (F, O), IN/OUT
    b : (O,), IN/OUT
        The bias (left unchanged without ``fit_bias``).
    learning_rate : float, IN
        eta.
    fit_bias : bool, IN
    """
    cdef int T = x.shape[0], F = x.shape[1], O = y.shape[1]
    cdef floating[::1] prediction
    if T == 0 or F == 0 or O == 0:
        return
    prediction = np.empty(O, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        _lms_steps(&x[0, 0], &y[0, 0], &w[0, 0], &b[0], &prediction[0], T, F, O,
                   <floating> learning_rate, fit_bias)
