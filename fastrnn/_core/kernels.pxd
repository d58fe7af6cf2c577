# cython: language_level=3
"""The C kernels of csrc/common (fr_kernels.h), declared in float (*_f) and
double (*_d), and the float/double choice made once: each inline wrapper
below takes `floating` pointers and calls the kernel of that precision, so a
loop written for `floating` calls ``fill_rows(...)``, never
``if floating is float: fr_fill_rows_f(...) else: fr_fill_rows_d(...)``
(the same way ``blas.pxd`` wraps BLAS). The wrappers are inline and the
branch is resolved at compile time: a call costs what the direct call did.
"""
from cython cimport floating

cdef extern from "fr_kernels.h" nogil:
    enum:
        FR_ACT_TANH
        FR_ACT_RELU

    unsigned int fr_fp_enter()
    void fr_fp_leave(unsigned int saved)

    void fr_rnn_act_fwd_f(int act, float *h, Py_ssize_t n)
    void fr_rnn_act_fwd_d(int act, double *h, Py_ssize_t n)
    void fr_rnn_act_bwd_f(int act, float *da, const float *h, Py_ssize_t n, float clip)
    void fr_rnn_act_bwd_d(int act, double *da, const double *h, Py_ssize_t n, double clip)
    void fr_fill_rows_f(float *out, const float *row, Py_ssize_t nrows, Py_ssize_t ncols)
    void fr_fill_rows_d(double *out, const double *row, Py_ssize_t nrows, Py_ssize_t ncols)
    void fr_add_f(float *out, const float *a, Py_ssize_t n)
    void fr_add_d(double *out, const double *a, Py_ssize_t n)
    void fr_small_gemv_f(Py_ssize_t m, Py_ssize_t k, const float *w, Py_ssize_t ldw,
                         const float *x, float beta, float *y)
    void fr_small_gemv_d(Py_ssize_t m, Py_ssize_t k, const double *w, Py_ssize_t ldw,
                         const double *x, double beta, double *y)
    void fr_small_gemv_t_f(Py_ssize_t m, Py_ssize_t k, const float *w, Py_ssize_t ldw,
                           const float *x, float beta, float *y)
    void fr_small_gemv_t_d(Py_ssize_t m, Py_ssize_t k, const double *w, Py_ssize_t ldw,
                           const double *x, double beta, double *y)
    void fr_add_transposed_f(Py_ssize_t n, Py_ssize_t m, const float *tmp, float beta,
                             float *out, Py_ssize_t ldo)
    void fr_add_transposed_d(Py_ssize_t n, Py_ssize_t m, const double *tmp, double beta,
                             double *out, Py_ssize_t ldo)
    void fr_sumsq_scaled_f(const float *x, Py_ssize_t n, double *scale, double *ssq)
    void fr_sumsq_scaled_d(const double *x, Py_ssize_t n, double *scale, double *ssq)
    void fr_scale_f(float *x, Py_ssize_t n, float factor)
    void fr_scale_d(double *x, Py_ssize_t n, double factor)
    Py_ssize_t fr_clip_value_f(float *x, Py_ssize_t n, float limit)
    Py_ssize_t fr_clip_value_d(double *x, Py_ssize_t n, double limit)


cdef inline void rnn_activation_forward(int act, floating *h, Py_ssize_t n) noexcept nogil:
    """h <- act(h) in place (act: FR_ACT_TANH or FR_ACT_RELU)."""
    if floating is float:
        fr_rnn_act_fwd_f(act, h, n)
    else:
        fr_rnn_act_fwd_d(act, h, n)


cdef inline void rnn_activation_backward(int act, floating *da, const floating *h,
                                         Py_ssize_t n, floating clip) noexcept nogil:
    """da: dL/dh (INOUT) becomes dL/da for h = act(a); clip > 0 clips it
    first."""
    if floating is float:
        fr_rnn_act_bwd_f(act, da, h, n, clip)
    else:
        fr_rnn_act_bwd_d(act, da, h, n, clip)


cdef inline void fill_rows(floating *out, const floating *row, Py_ssize_t rows,
                           Py_ssize_t cols) noexcept nogil:
    """out (rows x cols, OUT): each row a copy of row (cols)."""
    if floating is float:
        fr_fill_rows_f(out, row, rows, cols)
    else:
        fr_fill_rows_d(out, row, rows, cols)


cdef inline void add_into(floating *out, const floating *a, Py_ssize_t n) noexcept nogil:
    """out (INOUT) += a."""
    if floating is float:
        fr_add_f(out, a, n)
    else:
        fr_add_d(out, a, n)


cdef inline void small_gemv(bint trans, Py_ssize_t m, Py_ssize_t k, const floating *w,
                            Py_ssize_t ldw, const floating *x, floating beta,
                            floating *y) noexcept nogil:
    """The small mat-vec kernel, W (m x k, row stride ldw, IN):
    y (m, OUT) = W x + beta y, or with trans y (k, OUT) = x W + beta y;
    beta 0: y is not read. For one sequence at small sizes, where BLAS's
    cost per call outweighs the arithmetic (see ``matmul.pxd``)."""
    if floating is float:
        if trans:
            fr_small_gemv_t_f(m, k, w, ldw, x, beta, y)
        else:
            fr_small_gemv_f(m, k, w, ldw, x, beta, y)
    else:
        if trans:
            fr_small_gemv_t_d(m, k, w, ldw, x, beta, y)
        else:
            fr_small_gemv_d(m, k, w, ldw, x, beta, y)


cdef inline void add_transposed(Py_ssize_t n, Py_ssize_t m, const floating *tmp,
                                floating beta, floating *out, Py_ssize_t ldo) noexcept nogil:
    """out (n x m, row stride ldo, OUT) = tmp^T + beta out, tmp (m x n, IN);
    beta 0: out is not read."""
    if floating is float:
        fr_add_transposed_f(n, m, tmp, beta, out, ldo)
    else:
        fr_add_transposed_d(n, m, tmp, beta, out, ldo)


cdef inline void sumsq_scaled(const floating *x, Py_ssize_t n, double *scale,
                              double *ssq) noexcept nogil:
    """Fold x into the running (scale, ssq) (INOUT), norm = scale sqrt(ssq)."""
    if floating is float:
        fr_sumsq_scaled_f(x, n, scale, ssq)
    else:
        fr_sumsq_scaled_d(x, n, scale, ssq)


cdef inline void scale_by(floating *x, Py_ssize_t n, floating factor) noexcept nogil:
    """x (INOUT) *= factor."""
    if floating is float:
        fr_scale_f(x, n, factor)
    else:
        fr_scale_d(x, n, factor)


cdef inline Py_ssize_t clip_values(floating *x, Py_ssize_t n, floating limit) noexcept nogil:
    """x (INOUT) clipped to [-limit, limit]; returns how many changed."""
    if floating is float:
        return fr_clip_value_f(x, n, limit)
    else:
        return fr_clip_value_d(x, n, limit)
