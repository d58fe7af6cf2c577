# cython: language_level=3
"""One step of recursive least squares (Haykin, Adaptive Filter Theory
(2002), ch. 9, table 9.1), shared by the RLS readout's stream
(`fastrnn/reservoir/_readout.pyx`) and the FORCE loop
(`fastrnn/reservoir/_force.pyx`), so that both update the weights with the
same operations in the same order."""
from cython cimport floating

from fastrnn._core.blas cimport dot, gemv, symv_upper, syr_upper


cdef inline void rls_step(int F, int O, const floating *x, const floating *y, floating *p,
                          floating *w, floating *p_x, floating *error,
                          double forgetting) noexcept nogil:
    """One sample x (F,), target y (O,): k = P x / (lambda + x^T P x);
    w += k (y - w^T x)^T; P = (P - P x x^T P / (lambda + x^T P x)) / lambda.

    p (F, F) row-major, only its upper triangle read and written; w (F, O)
    row-major; p_x (F,) and error (O,) are work buffers.
    """
    cdef int i, j, o
    cdef floating denom, gain
    cdef floating inv_forget = <floating> (1.0 / forgetting)
    cdef floating lam = <floating> forgetting
    symv_upper(F, <floating> 1, p, F, x, <floating> 0, p_x)
    denom = lam + dot(F, x, p_x)
    for o in range(O):
        error[o] = y[o]
    gemv(True, F, O, <floating> -1, w, O, x, <floating> 1, error)
    for i in range(F):
        gain = p_x[i] / denom
        for o in range(O):
            w[<Py_ssize_t> i * O + o] += gain * error[o]
    syr_upper(F, -1 / denom, p_x, p, F)
    if forgetting != 1.0:
        for i in range(F):
            for j in range(i, F):
                p[<Py_ssize_t> i * F + j] *= inv_forget
