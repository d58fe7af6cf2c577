/*
 * Fused per-time-step kernels of the recurrent cells (simple RNN, LSTM, GRU),
 * in float (_f) and double (_d). One call handles the n active rows of one
 * time step; the matrix products around it (BLAS, or the small mat-vec
 * kernel of csrc/common) are made by fastrnn/layers/_recurrent.pyx. Row b of a gate buffer holds the G blocks of H
 * values of that row side by side, in PyTorch's gate order.
 * fr_step_gemv is the product of a step of one sequence (the layers' step()
 * and the BLAS loop at B = 1): fr_small_gemv's sums, with more rows at once.
 *
 * Naming: g = gate buffer (pre-activations on entry to a forward kernel,
 * activations on exit, which the backward kernel reads), hp/cp = previous
 * hidden/cell state, h/c = new state, dh = running dL/dh (on entry the
 * gradient arriving from later steps, on exit the part of dL/dh_{t-1} that
 * does not go through W_hh), dy = dL/dy_t, dgx/dgh = gradients of the
 * pre-activations of the input and of the recurrent products.
 *
 * clip > 0 clips dL/dh_t element-wise to [-clip, clip] before use
 * (Graves 2013, Goodfellow et al. (2016), sec. 10.7.7).
 */
#ifndef FASTRNN_FR_CELLS_H
#define FASTRNN_FR_CELLS_H

#include <stddef.h>

/* Cell kinds, shared with fastrnn/layers/_recurrent.pyx and fastrnn/layers/base.py. */
enum {
    FR_CELL_RNN_TANH = 0,
    FR_CELL_RNN_RELU = 1,
    FR_CELL_LSTM = 2,
    FR_CELL_GRU = 3,         /* reset after the product (PyTorch, cuDNN) */
    FR_CELL_GRU_BEFORE = 4   /* reset before the product (Goodfellow et al. 2016,
                                eq. 10.12; Cho 2014) */
};

#define FR_DECLARE_CELLS(T, S)                                                          \
    void fr_rnn_fwd_##S(int relu, ptrdiff_t n, ptrdiff_t H, const T *g, T *h);          \
    void fr_rnn_bwd_##S(int relu, ptrdiff_t n, ptrdiff_t H, const T *h, const T *dy,    \
                        T *dh, T *dg, T clip);                                          \
    void fr_lstm_fwd_##S(ptrdiff_t n, ptrdiff_t H, T *g, const T *peep, const T *cp,    \
                         T *c, T *h);                                                   \
    void fr_lstm_bwd_##S(ptrdiff_t n, ptrdiff_t H, const T *g, const T *peep,           \
                         const T *cp, const T *c, const T *dy, T *dh, T *dc, T *dg,     \
                         T *dpeep, T clip);                                             \
    void fr_gru_fwd_##S(ptrdiff_t n, ptrdiff_t H, T *g, T *gh, const T *b_hn,           \
                        const T *hp, T *h);                                             \
    void fr_gru_bwd_##S(ptrdiff_t n, ptrdiff_t H, const T *g, const T *gh,              \
                        const T *hp, const T *dy, T *dh, T *dgx, T *dgh, T clip);       \
    void fr_gru_before_fwd_gates_##S(ptrdiff_t n, ptrdiff_t H, T *g, const T *gh,       \
                                     const T *hp, T *rh);                               \
    void fr_gru_before_fwd_state_##S(ptrdiff_t n, ptrdiff_t H, T *g, const T *gh,       \
                                     const T *hp, T *h);                                \
    void fr_gru_before_bwd_state_##S(ptrdiff_t n, ptrdiff_t H, const T *g,              \
                                     const T *hp, const T *dy, T *dh, T *dg, T clip);   \
    void fr_gru_before_bwd_gates_##S(ptrdiff_t n, ptrdiff_t H, const T *g,              \
                                     const T *hp, const T *drh, T *dh, T *dg);          \
    void fr_step_gemv_##S(ptrdiff_t m, ptrdiff_t k, const T *w, ptrdiff_t ldw,          \
                          const T *x, T beta, T *y);

FR_DECLARE_CELLS(float, f)
FR_DECLARE_CELLS(double, d)

#undef FR_DECLARE_CELLS

#endif
