# cython: language_level=3
"""Accumulation loops of the linear readouts (Lukoševičius 2012; Goodfellow et
al. (2016), sec. 10.8: the output weights are a linear regression on the
states).

`gram_update` adds A^T A of a chunk of rows with one BLAS syrk (the streamed
normal equations of `fastrnn.Ridge`); `rls_update` runs recursive least
squares (Haykin, Adaptive Filter Theory (2002), ch. 9) sample by sample
without the GIL. The float/double choice is made once, in the fused BLAS
wrappers of fastrnn/_core/blas.pxd.
"""
from cython cimport floating

import numpy as np

from fastrnn._core.blas cimport dot, gemv, symv_upper, syr_upper, syrk_upper


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
    cdef int t, i, j, o
    cdef floating denom, gain
    cdef floating inv_forget = <floating> (1.0 / forgetting)
    cdef floating lam = <floating> forgetting
    cdef floating[::1] p_x, error
    if T == 0 or F == 0:
        return
    p_x = np.empty(F, dtype=np.float32 if floating is float else np.float64)
    error = np.empty(O, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        for t in range(T):
            symv_upper(F, <floating> 1, &p[0, 0], F, &x[t, 0], <floating> 0, &p_x[0])
            denom = lam + dot(F, &x[t, 0], &p_x[0])
            for o in range(O):
                error[o] = y[t, o]
            gemv(True, F, O, <floating> -1, &w[0, 0], O, &x[t, 0], <floating> 1, &error[0])
            for i in range(F):
                gain = p_x[i] / denom
                for o in range(O):
                    w[i, o] += gain * error[o]
            syr_upper(F, -1 / denom, &p_x[0], &p[0, 0], F)
            if forgetting != 1.0:
                for i in range(F):
                    for j in range(i, F):
                        p[i, j] *= inv_forget
