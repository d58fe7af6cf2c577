# cython: language_level=3
"""Declarations of the per-step cell kernels in csrc/cells/fr_cells.h."""

cdef extern from "fr_cells.h" nogil:
    enum:
        FR_CELL_RNN_TANH
        FR_CELL_RNN_RELU
        FR_CELL_LSTM
        FR_CELL_GRU
        FR_CELL_GRU_BEFORE

    void fr_matvec_f(Py_ssize_t m, Py_ssize_t k, const float *w, Py_ssize_t ldw,
                     const float *x, float beta, float *y)
    void fr_matvec_d(Py_ssize_t m, Py_ssize_t k, const double *w, Py_ssize_t ldw,
                     const double *x, double beta, double *y)
    void fr_add_transposed_f(Py_ssize_t n, Py_ssize_t m, const float *tmp, float beta,
                             float *out, Py_ssize_t ldo)
    void fr_add_transposed_d(Py_ssize_t n, Py_ssize_t m, const double *tmp, double beta,
                             double *out, Py_ssize_t ldo)
    void fr_rnn_fwd_f(int relu, Py_ssize_t n, Py_ssize_t H, const float *g, float *h)
    void fr_rnn_fwd_d(int relu, Py_ssize_t n, Py_ssize_t H, const double *g, double *h)
    void fr_rnn_bwd_f(int relu, Py_ssize_t n, Py_ssize_t H, const float *h, const float *dy,
                      float *dh, float *dg, float clip)
    void fr_rnn_bwd_d(int relu, Py_ssize_t n, Py_ssize_t H, const double *h, const double *dy,
                      double *dh, double *dg, double clip)
    void fr_lstm_fwd_f(Py_ssize_t n, Py_ssize_t H, float *g, const float *peep,
                       const float *cp, float *c, float *h)
    void fr_lstm_fwd_d(Py_ssize_t n, Py_ssize_t H, double *g, const double *peep,
                       const double *cp, double *c, double *h)
    void fr_lstm_bwd_f(Py_ssize_t n, Py_ssize_t H, const float *g, const float *peep,
                       const float *cp, const float *c, const float *dy, float *dh,
                       float *dc, float *dg, float *dpeep, float clip)
    void fr_lstm_bwd_d(Py_ssize_t n, Py_ssize_t H, const double *g, const double *peep,
                       const double *cp, const double *c, const double *dy, double *dh,
                       double *dc, double *dg, double *dpeep, double clip)
    void fr_gru_fwd_f(Py_ssize_t n, Py_ssize_t H, float *g, float *gh, const float *b_hn,
                      const float *hp, float *h)
    void fr_gru_fwd_d(Py_ssize_t n, Py_ssize_t H, double *g, double *gh, const double *b_hn,
                      const double *hp, double *h)
    void fr_gru_bwd_f(Py_ssize_t n, Py_ssize_t H, const float *g, const float *gh,
                      const float *hp, const float *dy, float *dh, float *dgx, float *dgh,
                      float clip)
    void fr_gru_bwd_d(Py_ssize_t n, Py_ssize_t H, const double *g, const double *gh,
                      const double *hp, const double *dy, double *dh, double *dgx, double *dgh,
                      double clip)
    void fr_gru_before_fwd_gates_f(Py_ssize_t n, Py_ssize_t H, float *g, const float *gh,
                                   const float *hp, float *rh)
    void fr_gru_before_fwd_gates_d(Py_ssize_t n, Py_ssize_t H, double *g, const double *gh,
                                   const double *hp, double *rh)
    void fr_gru_before_fwd_state_f(Py_ssize_t n, Py_ssize_t H, float *g, const float *gh,
                                   const float *hp, float *h)
    void fr_gru_before_fwd_state_d(Py_ssize_t n, Py_ssize_t H, double *g, const double *gh,
                                   const double *hp, double *h)
    void fr_gru_before_bwd_state_f(Py_ssize_t n, Py_ssize_t H, const float *g, const float *hp,
                                   const float *dy, float *dh, float *dg, float clip)
    void fr_gru_before_bwd_state_d(Py_ssize_t n, Py_ssize_t H, const double *g, const double *hp,
                                   const double *dy, double *dh, double *dg, double clip)
    void fr_gru_before_bwd_gates_f(Py_ssize_t n, Py_ssize_t H, const float *g, const float *hp,
                                   const float *drh, float *dh, float *dg)
    void fr_gru_before_bwd_gates_d(Py_ssize_t n, Py_ssize_t H, const double *g, const double *hp,
                                   const double *drh, double *dh, double *dg)
