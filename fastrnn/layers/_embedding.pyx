# cython: language_level=3
"""The embedding's weight gradient: a scatter-add of the output gradient's
rows into the rows of the table the tokens named, without the GIL and
without a one-hot matrix (whose product would cost N x V x E instead of
N x E)."""
from cython cimport floating

from fastrnn._core.kernels cimport add_into


def embedding_backward(const Py_ssize_t[::1] tokens, const floating[:, ::1] dy,
                       floating[:, ::1] grad_weight, Py_ssize_t padding_idx):
    """grad_weight[tokens[i]] += dy[i] for every i, in the order of i (so
    that the sums are those of ``numpy.add.at``), skipping the padding row.

    Parameters
    ----------
    tokens : (N,) intp, IN
        Token ids, checked by the caller to lie in [0, V).
    dy : (N, E), IN
        dL/d(output) of each token.
    grad_weight : (V, E), IN/OUT
        Accumulated into.
    padding_idx : Py_ssize_t, IN
        The row that receives no gradient, or -1 for none.
    """
    cdef Py_ssize_t n = tokens.shape[0], E = dy.shape[1], i, row
    if n == 0 or E == 0:
        return
    with nogil:
        for i in range(n):
            row = tokens[i]
            if row != padding_idx:
                add_into(&grad_weight[row, 0], &dy[i, 0], E)
