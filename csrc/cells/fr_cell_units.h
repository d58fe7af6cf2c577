/*
 * The update of one hidden unit of each gated cell, from its gates'
 * pre-activations (input side plus recurrent product) to its new state,
 * written once and used by the row kernels of fr_cells_impl.h and by the
 * tiles of the gated-cell engine (fr_engine_hot_impl.h), so that both
 * compute the same expressions in the same order. Included inside a
 * precision's instantiation (T, FR_FN defined); the caller defines SIG and
 * TANH. Equations: see fr_cells_impl.h.
 *
 * Always inlined: the vectorised lane loops that call them, in each ISA
 * level's clone, need their bodies.
 */
#if defined(__GNUC__)
#define FR_UNIT static inline __attribute__((always_inline))
#else
#define FR_UNIT static inline
#endif

/* Simple cell: h = act(a). ReLU keeps a NaN a NaN. */
FR_UNIT T FR_FN(fr_rnn_unit)(int relu, T a)
{
    if (relu)
        return a > (T)0 ? a : (a == a ? (T)0 : a);
    return TANH(a);
}

/* LSTM: gi, gf, gg, go pre-activations in, gate activations out; c, h out. */
FR_UNIT void FR_FN(fr_lstm_unit)(T *gi, T *gf, T *gg, T *go, T pi, T pf, T po, T cp,
                                       T *c, T *h)
{
    T i = SIG(*gi + pi * cp);
    T f = SIG(*gf + pf * cp);
    T u = TANH(*gg);
    T cn = f * cp + i * u;
    T o = SIG(*go + po * cn);
    *gi = i;
    *gf = f;
    *gg = u;
    *go = o;
    *c = cn;
    *h = o * TANH(cn);
}

/* GRU, reset after the product: gr, gz, gn the input side's pre-activations
 * in, (r, z, n) out; hr, hz, hn the recurrent products, hn replaced by
 * u = hn + b_hn (kept for the backward pass); hp = h_{t-1}. Returns h_t. */
FR_UNIT T FR_FN(fr_gru_unit)(T *gr, T *gz, T *gn, T hr, T hz, T *hn, T b_hn, T hp)
{
    T r = SIG(*gr + hr);
    T z = SIG(*gz + hz);
    T u = *hn + b_hn;
    T nn = TANH(*gn + r * u);
    *hn = u;
    *gr = r;
    *gz = z;
    *gn = nn;
    return nn + z * (hp - nn);
}

/* GRU, reset before the product, first half: r and z from their
 * pre-activations and products; returns r h_{t-1}. */
FR_UNIT T FR_FN(fr_gru_before_gates_unit)(T *gr, T *gz, T hr, T hz, T hp)
{
    T r = SIG(*gr + hr);
    *gr = r;
    *gz = SIG(*gz + hz);
    return r * hp;
}

/* Second half: gn = W_in x + b_in + b_hn in, n out; hn = W_hn (r h_{t-1}).
 * Returns h_t. */
FR_UNIT T FR_FN(fr_gru_before_state_unit)(T *gn, T z, T hn, T hp)
{
    T nn = TANH(*gn + hn);
    *gn = nn;
    return nn + z * (hp - nn);
}

#undef FR_UNIT
