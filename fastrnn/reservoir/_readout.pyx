# cython: language_level=3
"""Accumulation loops of the linear readouts (Goodfellow et al. (2016), sec. 10.7.1).

`gram_update` adds A^T A of a chunk of rows with one BLAS syrk (the
streamed normal equations of `fastrnn.Ridge`); `rls_update` runs recursive
least squares (the online linear regression of 10.7.1) sample by sample
without the GIL.
"""
from cython cimport floating

from fastrnn._core.blas cimport dot, gemv, symv_upper, syr_upper, syrk_upper


def gram_update(const floating[:, ::1] a, floating[:, ::1] gram):
    """Upper triangle of gram (n x n) += a^T a, a being (k x n)."""
    cdef int k = a.shape[0], n = a.shape[1]
    if k == 0 or n == 0:
        return
    with nogil:
        syrk_upper(True, n, k, <floating> 1, &a[0, 0], n, <floating> 1, &gram[0, 0], n)


def rls_update(const floating[:, ::1] x, const floating[:, ::1] y,
               floating[:, ::1] p, floating[:, ::1] w, double forgetting,
               floating[::1] px, floating[::1] err):
    """Recursive least squares over the rows of x (T x F) and y (T x O).

    For each sample: k = P x / (lambda + x^T P x); w += k (y - w^T x)^T;
    P = (P - P x x^T P / (lambda + x^T P x)) / lambda, with lambda the
    forgetting factor. Only the upper triangle of the symmetric P (F x F) is
    read and written, so it stays exactly symmetric. px (F,) and err (O,) are
    work buffers.
    """
    cdef int T = x.shape[0], F = x.shape[1], O = y.shape[1]
    cdef int t, i, j, o
    cdef floating denom, c
    cdef floating inv_forget = <floating> (1.0 / forgetting)
    cdef floating lam = <floating> forgetting
    if T == 0 or F == 0:
        return
    with nogil:
        for t in range(T):
            symv_upper(F, <floating> 1, &p[0, 0], F, &x[t, 0], <floating> 0, &px[0])
            denom = lam + dot(F, &x[t, 0], &px[0])
            for o in range(O):
                err[o] = y[t, o]
            gemv(True, F, O, <floating> -1, &w[0, 0], O, &x[t, 0], <floating> 1, &err[0])
            for i in range(F):
                c = px[i] / denom
                for o in range(O):
                    w[i, o] += c * err[o]
            syr_upper(F, -1 / denom, &px[0], &p[0, 0], F)
            if forgetting != 1.0:
                for i in range(F):
                    for j in range(i, F):
                        p[i, j] *= inv_forget
