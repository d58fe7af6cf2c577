# cython: language_level=3
"""Row-major wrappers over the Fortran BLAS that SciPy exports.

fastrnn keeps every array C-contiguous (row-major). A row-major matrix is the
transpose of the same memory read column-major, so C = op(A) op(B) in
row-major is C^T = op(B)^T op(A)^T in column-major: the wrappers swap the
operands and the dimensions once, here, and the kernels never think about it.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport (
    sgemm, dgemm, sgemv, dgemv, ssyrk, dsyrk, saxpy, daxpy, sdot, ddot,
    ssymv, dsymv, ssyr, dsyr,
)


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating *a, int lda,
                      const floating *b, int ldb, floating beta,
                      floating *c, int ldc) noexcept nogil:
    """C (m x n) = alpha op(A) op(B) + beta C, row-major, op(A) is m x k."""
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    if m == 0 or n == 0:
        return
    if floating is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float *> b, &ldb,
              <float *> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double *> b, &ldb,
              <double *> a, &lda, &beta, c, &ldc)


cdef inline void gemv(bint trans_a, int m, int n, floating alpha,
                      const floating *a, int lda, const floating *x,
                      floating beta, floating *y) noexcept nogil:
    """y = alpha op(A) x + beta y, row-major A of m x n, unit strides."""
    cdef char t = b'N' if trans_a else b'T'
    cdef int one = 1
    if m == 0 or n == 0:
        return
    if floating is float:
        sgemv(&t, &n, &m, &alpha, <float *> a, &lda, <float *> x, &one,
              &beta, y, &one)
    else:
        dgemv(&t, &n, &m, &alpha, <double *> a, &lda, <double *> x, &one,
              &beta, y, &one)


cdef inline void syrk_upper(bint trans_a, int n, int k, floating alpha,
                            const floating *a, int lda, floating beta,
                            floating *c, int ldc) noexcept nogil:
    """Upper triangle (row-major) of C (n x n) = alpha op(A) op(A)^T + beta C.

    trans_a=True gives A^T A for a row-major A of k x n (the Gram matrix of
    its columns). Only the row-major upper triangle of C is written.
    """
    # Row-major upper is column-major lower; op flips as for gemm.
    cdef char uplo = b'L'
    cdef char t = b'N' if trans_a else b'T'
    if n == 0:
        return
    if floating is float:
        ssyrk(&uplo, &t, &n, &k, &alpha, <float *> a, &lda, &beta, c, &ldc)
    else:
        dsyrk(&uplo, &t, &n, &k, &alpha, <double *> a, &lda, &beta, c, &ldc)


cdef inline void axpy(int n, floating alpha, const floating *x,
                      floating *y) noexcept nogil:
    """y += alpha x, unit strides."""
    cdef int one = 1
    if floating is float:
        saxpy(&n, &alpha, <float *> x, &one, y, &one)
    else:
        daxpy(&n, &alpha, <double *> x, &one, y, &one)


cdef inline floating dot(int n, const floating *x, const floating *y) noexcept nogil:
    cdef int one = 1
    if floating is float:
        return sdot(&n, <float *> x, &one, <float *> y, &one)
    else:
        return ddot(&n, <double *> x, &one, <double *> y, &one)


cdef inline void symv_upper(int n, floating alpha, const floating *a, int lda,
                            const floating *x, floating beta,
                            floating *y) noexcept nogil:
    """y = alpha A x + beta y, A symmetric n x n, only its row-major upper
    triangle read."""
    cdef char uplo = b'L'
    cdef int one = 1
    if n == 0:
        return
    if floating is float:
        ssymv(&uplo, &n, &alpha, <float *> a, &lda, <float *> x, &one, &beta, y, &one)
    else:
        dsymv(&uplo, &n, &alpha, <double *> a, &lda, <double *> x, &one, &beta, y, &one)


cdef inline void syr_upper(int n, floating alpha, const floating *x,
                           floating *a, int lda) noexcept nogil:
    """Row-major upper triangle of A += alpha x x^T (A symmetric n x n)."""
    cdef char uplo = b'L'
    cdef int one = 1
    if n == 0:
        return
    if floating is float:
        ssyr(&uplo, &n, &alpha, <float *> x, &one, a, &lda)
    else:
        dsyr(&uplo, &n, &alpha, <double *> x, &one, a, &lda)
