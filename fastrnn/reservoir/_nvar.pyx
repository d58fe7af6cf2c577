# cython: language_level=3
"""Feature loops of next-generation reservoir computing (Gauthier, Bollt,
Griffith & Barbosa (2021), "Next generation reservoir computing", Nature
Communications 12:5564, eqs. 3-5).

`run` builds the features of a whole sequence in one call without the GIL:
per step the linear part (the input and its delay - 1 copies ``strides``
steps apart) and the unique monomials of it. `generate` runs the closed
loop: features, the readout's product and the next input, step by step in
one call. The float/double choice is Cython's fused type, made once per call.
"""
from cython cimport floating
from libc.string cimport memcpy

from fastrnn._core.matmul cimport rows_times_matrix_acc


cdef inline void monomials(int n_lin, int n_mono, int order, const int *index,
                           floating *feat) noexcept nogil:
    """feat[n_lin + m] (OUT) = prod_r feat[index[m, r]] over the linear part
    feat[:n_lin] (IN), multiplied left to right (the order of NumPy's
    ``prod`` over a row, so that the features agree to the bit)."""
    cdef int m, r
    cdef const int *row
    cdef floating p
    for m in range(n_mono):
        row = index + <Py_ssize_t> m * order
        p = feat[row[0]]
        for r in range(1, order):
            p = p * feat[row[r]]
        feat[n_lin + m] = p


def run(const floating[:, ::1] X, const floating[:, ::1] history, int delay, int strides,
        const int[:, ::1] index, floating[:, ::1] out):
    """The features of every step of X.

    Parameters
    ----------
    X : (T, D), IN
        The inputs of this call.
    history : (H, D), IN, H = (delay - 1) strides + 1
        The last H inputs before X, oldest first (zeros before any input).
    delay, strides : int
        k and s of Gauthier et al. (2021).
    index : (M, order), IN
        The linear features of each monomial, in the order of
        itertools.combinations_with_replacement.
    out : (T, delay D + M), OUT
    """
    cdef Py_ssize_t T = X.shape[0], t, src
    cdef int D = X.shape[1], H = history.shape[0], j
    cdef int n_lin = delay * D, n_mono = index.shape[0], order = index.shape[1]
    cdef floating *feat
    if T == 0:
        return
    with nogil:
        for t in range(T):
            feat = &out[t, 0]
            for j in range(delay):
                # the input j*s steps back: in X, or in the history before it
                src = t - <Py_ssize_t> j * strides
                if src >= 0:
                    memcpy(feat + j * D, &X[src, 0], D * sizeof(floating))
                else:
                    memcpy(feat + j * D, &history[H + src, 0], D * sizeof(floating))
            monomials(n_lin, n_mono, order, &index[0, 0], feat)


def generate(floating[:, ::1] window, int delay, int strides, const int[:, ::1] index,
             const floating[:, ::1] coef, const floating[::1] intercept, bint increment,
             floating[::1] feat):
    """Closed loop: the readout's prediction becomes the next input.

    Parameters
    ----------
    window : (H + n, D), IN/OUT
        Rows [:H] hold the last H inputs, oldest first (H = (delay - 1)
        strides + 1); rows [H:] receive the n generated inputs.
    coef : (F, D), intercept : (D,), IN
        The readout: y = feat coef + intercept.
    increment : bint
        The next input is the last one plus y (Gauthier et al. (2021)
        predict the increment), else y itself.
    feat : (F,), scratch
    """
    cdef int D = window.shape[1], H = (delay - 1) * strides + 1, j, d
    cdef Py_ssize_t n = window.shape[0] - H, i, c
    cdef int n_lin = delay * D, n_mono = index.shape[0], order = index.shape[1]
    cdef int F = n_lin + n_mono
    cdef floating *nxt
    if n <= 0:
        return
    with nogil:
        for i in range(n):
            c = H - 1 + i
            for j in range(delay):
                memcpy(&feat[j * D], &window[c - <Py_ssize_t> j * strides, 0],
                       D * sizeof(floating))
            monomials(n_lin, n_mono, order, &index[0, 0], &feat[0])
            nxt = &window[c + 1, 0]
            for d in range(D):
                nxt[d] = 0
            rows_times_matrix_acc(1, F, D, &feat[0], &coef[0, 0], nxt)
            # the same additions, in the same order, as the readout's
            # predict (feat @ coef + intercept) followed by x + y
            for d in range(D):
                nxt[d] = nxt[d] + intercept[d]
                if increment:
                    nxt[d] = window[c, d] + nxt[d]
