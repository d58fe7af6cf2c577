# cython: language_level=3
"""Declarations of the fused C kernels in csrc/ (float *_f and double *_d)."""

cdef extern from "fr_kernels.h" nogil:
    enum:
        FR_ACT_TANH
        FR_ACT_RELU

    unsigned int fr_fp_enter()
    void fr_fp_leave(unsigned int saved)

    void fr_tanh_f(const float *x, float *out, Py_ssize_t n)
    void fr_tanh_d(const double *x, double *out, Py_ssize_t n)
    void fr_sigmoid_f(const float *x, float *out, Py_ssize_t n)
    void fr_sigmoid_d(const double *x, double *out, Py_ssize_t n)
    void fr_rnn_act_fwd_f(int act, float *h, Py_ssize_t n)
    void fr_rnn_act_fwd_d(int act, double *h, Py_ssize_t n)
    void fr_rnn_act_bwd_f(int act, float *da, const float *h, Py_ssize_t n, float clip)
    void fr_rnn_act_bwd_d(int act, double *da, const double *h, Py_ssize_t n, double clip)
    void fr_fill_rows_f(float *out, const float *row, Py_ssize_t nrows, Py_ssize_t ncols)
    void fr_fill_rows_d(double *out, const double *row, Py_ssize_t nrows, Py_ssize_t ncols)
    void fr_add_f(float *out, const float *a, Py_ssize_t n)
    void fr_add_d(double *out, const double *a, Py_ssize_t n)
    void fr_vecmat_acc_f(const float *v, const float *m, float *out, Py_ssize_t n_in, Py_ssize_t n_out)
    void fr_vecmat_acc_d(const double *v, const double *m, double *out, Py_ssize_t n_in, Py_ssize_t n_out)
    void fr_sumsq_scaled_f(const float *x, Py_ssize_t n, double *scale, double *ssq)
    void fr_sumsq_scaled_d(const double *x, Py_ssize_t n, double *scale, double *ssq)
    void fr_scale_f(float *x, Py_ssize_t n, float factor)
    void fr_scale_d(double *x, Py_ssize_t n, double factor)
    Py_ssize_t fr_clip_value_f(float *x, Py_ssize_t n, float limit)
    Py_ssize_t fr_clip_value_d(double *x, Py_ssize_t n, double limit)
