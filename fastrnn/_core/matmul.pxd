# cython: language_level=3
"""The per-step products of the time loops, each choosing the fastest route
for its size: the small mat-vec kernel of csrc/common for one sequence at
small sizes (BLAS's fixed cost per call is then comparable to the
arithmetic), BLAS GEMV for one larger sequence (OpenBLAS's GEMM with a single
row is several times slower than its GEMV), and GEMM for a batch.
"""
from cython cimport floating

from fastrnn._core.blas cimport gemm, gemv
from fastrnn._core.kernels cimport small_gemv, add_transposed

cdef enum:
    # Up to this many multiply-adds the recurrent cells' step of one
    # sequence, h W^T (a dot product per row of W), runs in the small kernel.
    SMALL_DOT_PRODUCTS = 1 << 18
    # Up to this many matrix elements (256 KiB in float32) a row times a
    # matrix (a combination of its rows) does; above it the matrix leaves
    # cache and BLAS's blocking (and threads) win.
    SMALL_ROW_COMBINATION = 65536


cdef inline void rows_times_transposed(int n, int m, int k, const floating *w,
                                       const floating *rows, floating beta, floating *out,
                                       int ldo, floating *scratch) noexcept nogil:
    """out (n x m, row stride ldo; OUT, INOUT if beta != 0) = rows (n x k, IN)
    W^T + beta out, W (m x k, row stride k, IN: a block of rows of W_hh).
    scratch: NULL or m x n values for the transposed GEMM of a batch."""
    if n == 1 and <long> m * k <= SMALL_DOT_PRODUCTS:
        small_gemv(False, m, k, w, k, rows, beta, out)
    elif n == 1:
        gemv(False, m, k, <floating> 1, w, k, rows, beta, out)
    elif scratch != NULL:
        # scratch (m x n) = W rows^T: in OpenBLAS's column-major terms the
        # batch is the short (first) dimension of the product, the faster
        # orientation (single-threaded sgemm (64 x 1024) x (1024 x 4096): 62
        # against 39 GFLOP/s); then one pass transposes it into place.
        gemm(False, True, m, n, k, <floating> 1, w, k, rows, k, <floating> 0, scratch, n)
        add_transposed(n, m, scratch, beta, out, ldo)
    else:
        gemm(False, True, n, m, k, <floating> 1, rows, k, w, k, beta, out, ldo)


cdef inline void rows_times(int n, int m, int k, const floating *w, const floating *rows,
                            int ld_rows, floating beta, floating *out,
                            floating *scratch) noexcept nogil:
    """out (n x k; OUT, INOUT if beta != 0) = rows (n x m, row stride ld_rows,
    IN) W + beta out, W (m x k, IN); scratch: NULL or k x n values (see
    `rows_times_transposed`). One sequence goes to BLAS GEMV at every size
    (the backward sweep of the cells; `rows_times_matrix_acc` is the variant
    that takes the small kernel)."""
    if n == 1:
        gemv(True, m, k, <floating> 1, w, k, rows, beta, out)
    elif scratch != NULL:
        gemm(True, True, k, n, m, <floating> 1, w, k, rows, ld_rows, <floating> 0, scratch, n)
        add_transposed(n, k, scratch, beta, out, k)
    else:
        gemm(False, False, n, k, m, <floating> 1, rows, ld_rows, w, k, beta, out, k)


cdef inline void rows_times_matrix_acc(int rows, int n_in, int n_out,
                                       const floating *v, const floating *m,
                                       floating *out) noexcept nogil:
    """out (rows x n_out, INOUT) += v (rows x n_in, IN) @ m (n_in x n_out, IN),
    row-major; one row of a small m goes to the small mat-vec kernel."""
    if rows == 1 and <Py_ssize_t> n_in * n_out <= SMALL_ROW_COMBINATION:
        small_gemv(True, n_in, n_out, m, n_out, v, <floating> 1, out)
    else:
        rows_times(rows, n_in, n_out, m, v, n_in, <floating> 1, out, <floating *> NULL)
