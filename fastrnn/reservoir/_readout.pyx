# cython: language_level=3
"""Accumulation loops of the linear readouts (Lukoševičius 2012; Goodfellow et
al. (2016), sec. 10.8: the output weights are a linear regression on the
states).

`gram_update` adds A^T A of a chunk of rows with one BLAS syrk (the streamed
normal equations of `fastrnn.Ridge`), and `raw_gram` makes [1 X Y]^T [1 X Y]
of the rows as they lie (a syrk on X itself, at its own row stride);
`NormalFactor` factors the ridge normal equations in the Gram matrix's free
lower triangle, and `refinement_gradient` makes the residual's gradient of
one step of iterative refinement in one pass over the rows. `rls_update`
runs recursive least squares (Haykin, Adaptive Filter Theory (2002), ch. 9)
and `lms_update` least mean squares (Widrow & Hoff 1960) sample by sample
without the GIL. The float/double choice is made once, in the fused BLAS
wrappers of fastrnn/_core/blas.pxd.
"""
from cython cimport floating

import numpy as np

from fastrnn._core.blas cimport dot, gemm, gemv, syrk_upper
from fastrnn.reservoir._rls cimport rls_step
from scipy.linalg.cython_lapack cimport dpocon, dpotrf, dpotrs
from libc.math cimport fabs


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


cdef int _row_stride(Py_ssize_t *strides, Py_ssize_t cols, Py_ssize_t itemsize,
                     name) except -1:
    if cols > 1 and strides[1] != itemsize or strides[0] % itemsize or strides[0] < 0:
        raise ValueError(f"{name} must have contiguous rows evenly spaced, got strides "
                         f"{(strides[0], strides[1])}")
    return max(<int> (strides[0] // itemsize), <int> cols, 1)


def raw_gram(const floating[:, :] x, const floating[:, :] y, floating[:, ::1] gram,
             bint with_ones):
    """The upper triangle of ``gram`` = Z^T Z, Z = [1 x y] (without the column
    of ones unless ``with_ones``), from the rows as they lie: one syrk on x and
    one GEMM of x^T [1 y], so x is read twice and never copied; the rows of x
    and y may be any even stride apart (columns of a wider buffer).

    Parameters
    ----------
    x : (k, F), IN
    y : (k, O), IN
    gram : (b + F + O, b + F + O), OUT
        Its upper triangle (row-major) is written; the rest is left as it is.
    with_ones : bool, IN
        b = 1: the first row holds k and the column sums of x and y.
    """
    cdef int k = x.shape[0], F = x.shape[1], O = y.shape[1], b = 1 if with_ones else 0
    cdef int width = b + F + O, R = b + O, i, j, p0, p1, panel
    cdef int ldx = _row_stride(&x.strides[0], F, sizeof(floating), "x")
    cdef floating[:, ::1] ones_y
    cdef floating[:, ::1] cross
    cdef floating[:, ::1] small
    if y.shape[0] != k or gram.shape[0] != width or gram.shape[1] != width:
        raise ValueError("raw_gram: x, y and gram do not match")
    if k == 0:
        gram[:, :] = 0
        return
    dtype = np.float32 if floating is float else np.float64
    # [1 y] (k, b + O): small, so copied; x^T [1 y] then gives the column sums
    # of x and x^T y in one pass over x
    ones_y = np.empty((k, R), dtype=dtype)
    if b:
        ones_y[:, 0] = 1
    ones_y[:, b:] = y
    cross = np.empty((R, F), dtype=dtype)
    small = np.empty((R, R), dtype=dtype)
    # x^T x by panels of rows of the Gram matrix, each BLAS call writing under
    # 2^30 bytes: OpenBLAS's syrk was seen to crash on a 20,000-wide one
    # (3.2 GB), its offsets apparently 32-bit; one panel when it fits.
    panel = max(1, min(F, (1 << 27) // width))
    p0 = 0
    with nogil:
        while p0 < F:
            p1 = min(F, p0 + panel)
            syrk_upper(True, p1 - p0, k, <floating> 1, &x[0, p0], ldx, <floating> 0,
                       &gram[b + p0, b + p0], width)
            if p1 < F:
                gemm(True, False, p1 - p0, F - p1, k, <floating> 1, &x[0, p0], ldx,
                     &x[0, p1], ldx, <floating> 0, &gram[b + p0, b + p1], width)
            p0 = p1
        # as [1 y]^T x (R, F): in this operand order OpenBLAS's GEMM runs
        # 1.5-3x faster than as x^T [1 y] (N = 100 and 2000, 9,900 rows)
        gemm(True, False, R, F, k, <floating> 1, &ones_y[0, 0], R, &x[0, 0], ldx,
             <floating> 0, &cross[0, 0], F)
        syrk_upper(True, R, k, <floating> 1, &ones_y[0, 0], R, <floating> 0, &small[0, 0], R)
        for i in range(F):
            if b:
                gram[0, 1 + i] = cross[0, i]
            for j in range(O):
                gram[b + i, b + F + j] = cross[b + j, i]
        for i in range(R):
            for j in range(i, R):
                # [1 y]'s Gram: row/column 0 the ones, the rest y's
                gram[0 if (b and i == 0) else F + i, 0 if (b and j == 0) else F + j] = small[i, j]


def cross_product(const floating[:, :] a, const floating[:, :] x, floating[:, ::1] out):
    """out (m, F) = a^T x for a (k, m) and x (k, F), x's rows at their own
    stride (columns of a wider buffer), without copying x."""
    cdef int k = x.shape[0], m = a.shape[1], F = x.shape[1]
    cdef int lda = _row_stride(&a.strides[0], m, sizeof(floating), "a")
    cdef int ldx = _row_stride(&x.strides[0], F, sizeof(floating), "x")
    if a.shape[0] != k or out.shape[0] != m or out.shape[1] != F:
        raise ValueError("cross_product: a, x and out do not match")
    if k == 0 or m == 0 or F == 0:
        out[:, :] = 0
        return
    with nogil:
        gemm(True, False, m, F, k, <floating> 1, &a[0, 0], lda, &x[0, 0], ldx, <floating> 0,
             &out[0, 0], F)


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


cdef class NormalFactor:
    """The Cholesky factor of the centred ridge normal equations held in a
    Gram matrix of [1 X Y] (`raw_gram`, `fastrnn.Ridge`), made in the
    matrix's free lower triangle: no copy of the F x F matrix is made, so a
    fit holds the states and one Gram matrix, no more. Leaving the ``with``
    block (or `restore`) gives the accumulator back as it was: its diagonal
    restored and the lower triangle zero again.

    With n = gram[0, 0] and s_x, s_y the column sums in its first row (when
    b = 1), A = G_xx - s_x s_x^T / n + ridge I is written below the diagonal
    and on it, factored by Cholesky (LAPACK potrf) and its reciprocal
    condition estimated (pocon). The factor serves every solve of the fit:
    the first one (`cross`, `solve`) and those of iterative refinement.

    Parameters
    ----------
    gram : (b + F + O, b + F + O) float64, IN/OUT
        Its upper triangle is the accumulator (read only); the lower
        triangle and the diagonal are the workspace until `restore`.
    b : 0 or 1
        Whether the first row and column are those of the ones.
    F : int
        Number of features.
    ridge : float >= 0

    Attributes
    ----------
    ok : bool
        A is numerically positive definite: the factor exists.
    rcond : float
        pocon's estimate of A's reciprocal condition number (0 when not ok).
    """
    cdef double[:, ::1] gram
    cdef double[::1] diagonal
    cdef int b, F, O
    cdef readonly bint ok
    cdef readonly double rcond
    cdef bint restored

    def __cinit__(self, double[:, ::1] gram, int b, int F, double ridge):
        cdef int width = gram.shape[0]
        cdef Py_ssize_t i, j, i0, j0, i1, j1
        cdef Py_ssize_t tile = 64
        cdef double n = gram[0, 0] if b else 1.0
        cdef double v, anorm = 0.0, rcond = 0.0
        cdef int info = 0, ld = width
        cdef char uplo = b'U'
        cdef double[::1] colsum = np.zeros(F)
        cdef double[::1] work = np.empty(3 * max(F, 1))
        cdef int[::1] iwork = np.empty(max(F, 1), dtype=np.intc)
        if gram.shape[1] != width or b not in (0, 1) or F < 0 or b + F > width:
            raise ValueError("NormalFactor: gram, b and F do not match")
        self.gram, self.b, self.F, self.O = gram, b, F, width - b - F
        self.diagonal = np.empty(F)
        self.restored = False
        if n < 1.0:
            n = 1.0
        with nogil:
            for i in range(F):
                self.diagonal[i] = gram[b + i, b + i]
            # lower (i, j) <- A_ij from the upper triangle's (j, i), by tiles so
            # that the column reads of the upper triangle stay in cache
            i0 = 0
            while i0 < F:
                i1 = min(F, i0 + tile)
                j0 = 0
                while j0 < i1:
                    j1 = min(i1, j0 + tile)
                    for i in range(i0, i1):
                        for j in range(j0, min(j1, i)):
                            v = gram[b + j, b + i]
                            if b:
                                v = v - (gram[0, 1 + j] * gram[0, 1 + i]) / n
                            gram[b + i, b + j] = v
                            colsum[i] += fabs(v)
                            colsum[j] += fabs(v)
                    j0 = j1
                i0 = i1
            for i in range(F):
                v = self.diagonal[i]
                if b:
                    v = v - (gram[0, 1 + i] * gram[0, 1 + i]) / n
                v = v + ridge
                gram[b + i, b + i] = v
                colsum[i] += fabs(v)
                if colsum[i] > anorm:
                    anorm = colsum[i]
            if F > 0:
                # The row-major lower triangle is the column-major upper one.
                dpotrf(&uplo, &F, &gram[b, b], &ld, &info)
                if info == 0:
                    dpocon(&uplo, &F, &gram[b, b], &ld, &anorm, &rcond, &work[0], &iwork[0],
                           &info)
        self.ok = info == 0
        self.rcond = rcond if self.ok else 0.0

    def cross(self):
        """The centred right-hand sides G_xy - s_x s_y^T / n as an (O, F)
        array (the column-major (F, O) of `solve`)."""
        cdef int b = self.b, F = self.F, O = self.O
        cdef Py_ssize_t i, j
        cdef double n = self.gram[0, 0] if b else 1.0
        cdef double v
        cdef double[:, ::1] rhs = np.empty((O, F))
        if n < 1.0:
            n = 1.0
        with nogil:
            for j in range(O):
                for i in range(F):
                    v = self.gram[b + i, b + F + j]
                    if b:
                        v = v - (self.gram[0, 1 + i] * self.gram[0, 1 + F + j]) / n
                    rhs[j, i] = v
        return np.asarray(rhs)

    def solve(self, double[:, ::1] rhs):
        """rhs (k, F), IN/OUT: each row r replaced by A^{-1} r (potrs)."""
        cdef int F = self.F, nrhs = rhs.shape[0], ld = self.gram.shape[0], info = 0
        cdef char uplo = b'U'
        if not self.ok or self.restored:
            raise ValueError("NormalFactor.solve: there is no factor (not positive definite, "
                             "or restored)")
        if rhs.shape[1] != F:
            raise ValueError(f"NormalFactor.solve: rhs must have {F} columns")
        if F == 0 or nrhs == 0:
            return
        with nogil:
            dpotrs(&uplo, &F, &nrhs, &self.gram[self.b, self.b], &ld, &rhs[0, 0], &F, &info)

    def restore(self):
        """The accumulator as it was: the diagonal back, the lower triangle
        zero. Idempotent."""
        cdef Py_ssize_t i, j
        cdef int b = self.b
        if self.restored:
            return
        with nogil:
            for i in range(self.F):
                self.gram[b + i, b + i] = self.diagonal[i]
                for j in range(i):
                    self.gram[b + i, b + j] = 0
        self.restored = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
        return False


def refinement_gradient(const floating[:, :] x, const floating[:, :] y,
                        const floating[::1] shift_x, const floating[::1] shift_y,
                        const floating[:, ::1] w, const floating[::1] offset,
                        floating[:, ::1] gradient):
    """One pass of iterative refinement over the rows of x and y: with the
    rows shifted, x~ = x - shift_x and y~ = y - shift_y, the residual
    r = y~ - x~ w - offset and ``gradient`` += r^T x~.

    x is read once, by blocks of rows whose shifted copy stays in cache for
    both products (two GEMMs a block); the shift keeps the residual free of
    the cancellation that the rows' own offsets would bring into x w.

    Parameters
    ----------
    x : (k, F), IN
        Rows at any even stride (columns of a wider buffer).
    y : (k, O), IN
    shift_x : (F,), IN
    shift_y : (O,), IN
    w : (F, O), IN
    offset : (O,), IN
        The intercept about the shift.
    gradient : (O, F), IN/OUT

    Returns
    -------
    ndarray (O,) float64
        The column sums of r.
    """
    cdef int k = x.shape[0], F = x.shape[1], O = y.shape[1]
    cdef int ldx = _row_stride(&x.strides[0], F, sizeof(floating), "x")
    cdef int block, m, t0, i, j, o
    cdef const floating *row
    cdef floating *copy
    cdef floating[:, ::1] shifted
    cdef floating[:, ::1] residual
    cdef double[::1] sums = np.zeros(O)
    if (y.shape[0] != k or shift_x.shape[0] != F or shift_y.shape[0] != O
            or w.shape[0] != F or w.shape[1] != O or offset.shape[0] != O
            or gradient.shape[0] != O or gradient.shape[1] != F):
        raise ValueError("refinement_gradient: x, y, the shifts, w, offset and gradient "
                         "do not match")
    if k == 0 or F == 0 or O == 0:
        return np.asarray(sums)
    dtype = np.float32 if floating is float else np.float64
    # about 256 KiB of shifted rows: in L2 for the second product
    block = max(4, min(k, (1 << 18) // (F * <int> sizeof(floating))))
    shifted = np.empty((block, F), dtype=dtype)
    residual = np.empty((block, O), dtype=dtype)
    with nogil:
        t0 = 0
        while t0 < k:
            m = min(block, k - t0)
            for i in range(m):
                row = &x[0, 0] + <Py_ssize_t> (t0 + i) * ldx
                copy = &shifted[i, 0]
                for j in range(F):
                    copy[j] = row[j] - shift_x[j]
                for o in range(O):
                    residual[i, o] = (y[t0 + i, o] - shift_y[o]) - offset[o]
            if O == 1:
                # GEMM would pack the block for a single column
                gemv(False, m, F, <floating> -1, &shifted[0, 0], F, &w[0, 0], <floating> 1,
                     &residual[0, 0])
                gemv(True, m, F, <floating> 1, &shifted[0, 0], F, &residual[0, 0],
                     <floating> 1, &gradient[0, 0])
            else:
                gemm(False, False, m, O, F, <floating> -1, &shifted[0, 0], F, &w[0, 0], O,
                     <floating> 1, &residual[0, 0], O)
                gemm(True, False, O, F, m, <floating> 1, &residual[0, 0], O, &shifted[0, 0],
                     F, <floating> 1, &gradient[0, 0], F)
            for i in range(m):
                for o in range(O):
                    sums[o] += residual[i, o]
            t0 += m
    return np.asarray(sums)
