# cython: language_level=3
"""The per-step cell kernels of csrc/cells/fr_cells.h, declared in float
(*_f) and double (*_d), with inline wrappers that choose the precision once
from the `floating` pointers they get (as ``fastrnn/_core/kernels.pxd`` does
for the common kernels). Argument names follow fr_cells.h."""
from cython cimport floating

cdef extern from "fr_cells.h" nogil:
    enum:
        FR_CELL_RNN_TANH
        FR_CELL_RNN_RELU
        FR_CELL_LSTM
        FR_CELL_GRU
        FR_CELL_GRU_BEFORE

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
    void fr_step_gemv_f(Py_ssize_t m, Py_ssize_t k, const float *w, Py_ssize_t ldw,
                        const float *x, float beta, float *y)
    void fr_step_gemv_d(Py_ssize_t m, Py_ssize_t k, const double *w, Py_ssize_t ldw,
                        const double *x, double beta, double *y)


cdef inline void rnn_forward(bint relu, Py_ssize_t n, Py_ssize_t H, const floating *g,
                             floating *h) noexcept nogil:
    if floating is float:
        fr_rnn_fwd_f(relu, n, H, g, h)
    else:
        fr_rnn_fwd_d(relu, n, H, g, h)


cdef inline void rnn_backward(bint relu, Py_ssize_t n, Py_ssize_t H, const floating *h,
                              const floating *dy, floating *dh, floating *dg,
                              floating clip) noexcept nogil:
    if floating is float:
        fr_rnn_bwd_f(relu, n, H, h, dy, dh, dg, clip)
    else:
        fr_rnn_bwd_d(relu, n, H, h, dy, dh, dg, clip)


cdef inline void lstm_forward(Py_ssize_t n, Py_ssize_t H, floating *g, const floating *peep,
                              const floating *cp, floating *c, floating *h) noexcept nogil:
    if floating is float:
        fr_lstm_fwd_f(n, H, g, peep, cp, c, h)
    else:
        fr_lstm_fwd_d(n, H, g, peep, cp, c, h)


cdef inline void lstm_backward(Py_ssize_t n, Py_ssize_t H, const floating *g,
                               const floating *peep, const floating *cp, const floating *c,
                               const floating *dy, floating *dh, floating *dc, floating *dg,
                               floating *dpeep, floating clip) noexcept nogil:
    if floating is float:
        fr_lstm_bwd_f(n, H, g, peep, cp, c, dy, dh, dc, dg, dpeep, clip)
    else:
        fr_lstm_bwd_d(n, H, g, peep, cp, c, dy, dh, dc, dg, dpeep, clip)


cdef inline void gru_forward(Py_ssize_t n, Py_ssize_t H, floating *g, floating *gh,
                             const floating *b_hn, const floating *hp,
                             floating *h) noexcept nogil:
    if floating is float:
        fr_gru_fwd_f(n, H, g, gh, b_hn, hp, h)
    else:
        fr_gru_fwd_d(n, H, g, gh, b_hn, hp, h)


cdef inline void gru_backward(Py_ssize_t n, Py_ssize_t H, const floating *g,
                              const floating *gh, const floating *hp, const floating *dy,
                              floating *dh, floating *dgx, floating *dgh,
                              floating clip) noexcept nogil:
    if floating is float:
        fr_gru_bwd_f(n, H, g, gh, hp, dy, dh, dgx, dgh, clip)
    else:
        fr_gru_bwd_d(n, H, g, gh, hp, dy, dh, dgx, dgh, clip)


cdef inline void gru_reset_before_gates(Py_ssize_t n, Py_ssize_t H, floating *g,
                                        const floating *gh, const floating *hp,
                                        floating *rh) noexcept nogil:
    if floating is float:
        fr_gru_before_fwd_gates_f(n, H, g, gh, hp, rh)
    else:
        fr_gru_before_fwd_gates_d(n, H, g, gh, hp, rh)


cdef inline void gru_reset_before_state(Py_ssize_t n, Py_ssize_t H, floating *g,
                                        const floating *gh, const floating *hp,
                                        floating *h) noexcept nogil:
    if floating is float:
        fr_gru_before_fwd_state_f(n, H, g, gh, hp, h)
    else:
        fr_gru_before_fwd_state_d(n, H, g, gh, hp, h)


cdef inline void gru_reset_before_backward_state(Py_ssize_t n, Py_ssize_t H,
                                                 const floating *g, const floating *hp,
                                                 const floating *dy, floating *dh,
                                                 floating *dg, floating clip) noexcept nogil:
    if floating is float:
        fr_gru_before_bwd_state_f(n, H, g, hp, dy, dh, dg, clip)
    else:
        fr_gru_before_bwd_state_d(n, H, g, hp, dy, dh, dg, clip)


cdef inline void gru_reset_before_backward_gates(Py_ssize_t n, Py_ssize_t H,
                                                 const floating *g, const floating *hp,
                                                 const floating *drh, floating *dh,
                                                 floating *dg) noexcept nogil:
    if floating is float:
        fr_gru_before_bwd_gates_f(n, H, g, hp, drh, dh, dg)
    else:
        fr_gru_before_bwd_gates_d(n, H, g, hp, drh, dh, dg)


cdef inline void step_gemv(Py_ssize_t m, Py_ssize_t k, const floating *w, Py_ssize_t ldw,
                           const floating *x, floating beta, floating *y) noexcept nogil:
    if floating is float:
        fr_step_gemv_f(m, k, w, ldw, x, beta, y)
    else:
        fr_step_gemv_d(m, k, w, ldw, x, beta, y)
