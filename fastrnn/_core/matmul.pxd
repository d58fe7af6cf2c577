# cython: language_level=3
"""The per-step recurrent product, choosing the fastest route for its size."""
from cython cimport floating

from fastrnn._core.blas cimport gemm, gemv
from fastrnn._core.kernels cimport fr_vecmat_acc_f, fr_vecmat_acc_d

# Up to this many matrix elements (256 KiB in float32) one row times the
# matrix is faster in the C kernel than through BLAS's per-call overhead;
# above it the matrix leaves cache and BLAS's blocking (and threads) win.
DEF SMALL_MATRIX = 65536


cdef inline void rows_times_matrix_acc(int rows, int n_in, int n_out,
                                       const floating *v, const floating *m,
                                       floating *out) noexcept nogil:
    """out (rows x n_out) += v (rows x n_in) @ m (n_in x n_out), row-major.

    One row goes to GEMV (or the C kernel when m is small): OpenBLAS's GEMM
    with a single row is several times slower than its GEMV.
    """
    if rows == 1 and <Py_ssize_t> n_in * n_out <= SMALL_MATRIX:
        if floating is float:
            fr_vecmat_acc_f(v, m, out, n_in, n_out)
        else:
            fr_vecmat_acc_d(v, m, out, n_in, n_out)
    elif rows == 1:
        gemv(True, n_in, n_out, <floating> 1, m, n_out, v, <floating> 1, out)
    else:
        gemm(False, False, rows, n_out, n_in, <floating> 1, v, n_in, m, n_out,
             <floating> 1, out, n_out)
