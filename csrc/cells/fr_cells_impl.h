/*
 * Body of the cell kernels declared in fr_cells.h, written once and included
 * by fr_cells.c for each precision with T (the real type) and S (the suffix)
 * defined. Each kernel is one pass over the n x H elements of a time step;
 * the inner loops run over the H units of a row and vectorise at -O3 (every
 * activation comes from fr_math.h and is branch-free).
 *
 * Equations (Goodfellow et al. (2016), sec. 10.7.4, in PyTorch's notation):
 *   LSTM (eq. 10.8-10.11), gates i, f, g, o; with peepholes p_i, p_f, p_o
 *   (the cell state as an extra input to the gates, Goodfellow et al. (2016), fig. 10.17):
 *     i = sigmoid(a_i + p_i c_{t-1})   f = sigmoid(a_f + p_f c_{t-1})
 *     g = tanh(a_g)                     c_t = f c_{t-1} + i g
 *     o = sigmoid(a_o + p_o c_t)        h_t = o tanh(c_t)
 *   GRU (eq. 10.12-10.14), gates r, z, n; u = W_hn h_{t-1} + b_hn:
 *     r = sigmoid(a_r)   z = sigmoid(a_z)   h_t = n + z (h_{t-1} - n)
 *     reset after:  n = tanh(a_n + r u)                 (PyTorch, cuDNN)
 *     reset before: n = tanh(a_n + W_hn (r h_{t-1}) + b_hn)   (seed, Cho 2014)
 * where a_* already holds W_i* x_t + b (and, where the maths allows it to be
 * summed first, the recurrent product and its bias).
 */
#define SIG(x) FR_FN(frm_sigmoid)(x)
#define TANH(x) FR_FN(frm_tanh)(x)
#include "fr_cell_units.h"

/* clip <= 0 means no clipping; a NaN passes through the clamp unchanged. */
static inline T FR_FN(fr_clip_limit)(T clip)
{
    return clip > (T)0 ? clip : (T)INFINITY;
}

static inline T FR_FN(fr_clamp)(T v, T lim)
{
    return v > lim ? lim : (v < -lim ? -lim : v);
}

/* ------------------------------------------------------------ simple RNN */

FR_MULTIVERSION void FR_FN(fr_rnn_fwd)(int relu, ptrdiff_t n, ptrdiff_t H, const T *restrict g,
                       T *restrict h)
{
    ptrdiff_t m = n * H;
    if (relu) {
        for (ptrdiff_t i = 0; i < m; ++i)
            h[i] = FR_FN(fr_rnn_unit)(1, g[i]);
    } else {
        for (ptrdiff_t i = 0; i < m; ++i)
            h[i] = FR_FN(fr_rnn_unit)(0, g[i]);
    }
}

/* dg = (dh + dy) act'(a); dh is left for the caller to overwrite with
 * dg W_hh (the simple cell has no element-wise path from h_t to h_{t-1}). */
FR_MULTIVERSION void FR_FN(fr_rnn_bwd)(int relu, ptrdiff_t n, ptrdiff_t H, const T *restrict h,
                       const T *restrict dy, T *restrict dh, T *restrict dg, T clip)
{
    ptrdiff_t m = n * H;
    T lim = FR_FN(fr_clip_limit)(clip);
    if (relu) {
        for (ptrdiff_t i = 0; i < m; ++i) {
            T d = FR_FN(fr_clamp)(dh[i] + dy[i], lim);
            dg[i] = h[i] > (T)0 ? d : (T)0;
        }
    } else {
        for (ptrdiff_t i = 0; i < m; ++i) {
            T d = FR_FN(fr_clamp)(dh[i] + dy[i], lim);
            dg[i] = d * ((T)1 - h[i] * h[i]);
        }
    }
}

/* ------------------------------------------------------------------ LSTM */

/* g: n x 4H pre-activations in, gate activations (i, f, g, o) out.
 * peep: 3H (p_i, p_f, p_o); all zeros for the plain LSTM, which leaves the
 * results bit for bit those of the plain equations. */
FR_MULTIVERSION void FR_FN(fr_lstm_fwd)(ptrdiff_t n, ptrdiff_t H, T *restrict g, const T *restrict peep,
                        const T *restrict cp, T *restrict c, T *restrict h)
{
    const T *pi = peep, *pf = peep + H, *po = peep + 2 * H;
    for (ptrdiff_t b = 0; b < n; ++b) {
        T *gi = g + b * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        const T *cpb = cp + b * H;
        T *cb = c + b * H, *hb = h + b * H;
        for (ptrdiff_t j = 0; j < H; ++j)
            FR_FN(fr_lstm_unit)(&gi[j], &gf[j], &gg[j], &go[j], pi[j], pf[j], po[j], cpb[j],
                                &cb[j], &hb[j]);
    }
}

/* The LSTM backward step. With d = dL/dh_t (dh + dy, clipped) and
 * dc = dL/dc_t arriving from step t+1:
 *   da_o = d tanh(c_t) o (1 - o)
 *   dc_t = dc + d o (1 - tanh^2 c_t) + da_o p_o
 *   da_i = dc_t g i (1 - i),  da_f = dc_t c_{t-1} f (1 - f),
 *   da_g = dc_t i (1 - g^2)
 *   dc  <- dL/dc_{t-1} = dc_t f + da_i p_i + da_f p_f
 * dg (n x 4H) receives (da_i, da_f, da_g, da_o); dpeep (3H) accumulates the
 * peephole gradients. dh is left for the caller to overwrite with dg W_hh. */
FR_MULTIVERSION void FR_FN(fr_lstm_bwd)(ptrdiff_t n, ptrdiff_t H, const T *restrict g,
                        const T *restrict peep, const T *restrict cp,
                        const T *restrict c, const T *restrict dy, T *restrict dh,
                        T *restrict dc, T *restrict dg, T *restrict dpeep, T clip)
{
    const T *pi = peep, *pf = peep + H, *po = peep + 2 * H;
    T *dpi = dpeep, *dpf = dpeep + H, *dpo = dpeep + 2 * H;
    T lim = FR_FN(fr_clip_limit)(clip);
    for (ptrdiff_t b = 0; b < n; ++b) {
        const T *gi = g + b * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        T *di = dg + b * 4 * H, *df = di + H, *dgg = di + 2 * H, *dO = di + 3 * H;
        const T *cpb = cp + b * H, *cb = c + b * H, *dyb = dy + b * H;
        T *dhb = dh + b * H, *dcb = dc + b * H;
        for (ptrdiff_t j = 0; j < H; ++j) {
            T i = gi[j], f = gf[j], u = gg[j], o = go[j];
            T d = FR_FN(fr_clamp)(dhb[j] + dyb[j], lim);
            T tc = TANH(cb[j]);
            T dao = d * tc * o * ((T)1 - o);
            T dct = dcb[j] + d * o * ((T)1 - tc * tc) + dao * po[j];
            T dai = dct * u * i * ((T)1 - i);
            T daf = dct * cpb[j] * f * ((T)1 - f);
            T dag = dct * i * ((T)1 - u * u);
            di[j] = dai;
            df[j] = daf;
            dgg[j] = dag;
            dO[j] = dao;
            dcb[j] = dct * f + dai * pi[j] + daf * pf[j];
            dpi[j] += dai * cpb[j];
            dpf[j] += daf * cpb[j];
            dpo[j] += dao * cb[j];
        }
    }
}

/* ----------------------------------------------------- GRU, reset after */

/* g: n x 3H, a = W_ih x + b_ih + (b_hr, b_hz, 0) in, (r, z, n) out.
 * gh: n x 3H, h_{t-1} W_hh^T in; its n block gets b_hn added (u, kept for
 * the backward pass). */
FR_MULTIVERSION void FR_FN(fr_gru_fwd)(ptrdiff_t n, ptrdiff_t H, T *restrict g, T *restrict gh,
                       const T *restrict b_hn, const T *restrict hp, T *restrict h)
{
    for (ptrdiff_t b = 0; b < n; ++b) {
        T *gr = g + b * 3 * H, *gz = gr + H, *gn = gr + 2 * H;
        T *hr = gh + b * 3 * H, *hz = hr + H, *hn = hr + 2 * H;
        const T *hpb = hp + b * H;
        T *hb = h + b * H;
        for (ptrdiff_t j = 0; j < H; ++j)
            hb[j] = FR_FN(fr_gru_unit)(&gr[j], &gz[j], &gn[j], hr[j], hz[j], &hn[j], b_hn[j],
                                       hpb[j]);
    }
}

/* With d = dL/dh_t:
 *   da_n = d (1 - z)(1 - n^2),  da_z = d (h_{t-1} - n) z (1 - z),
 *   da_r = da_n u r (1 - r)
 * dgx = (da_r, da_z, da_n) is the gradient of the input-side
 * pre-activations, dgh = (da_r, da_z, da_n r) that of the recurrent product;
 * dh <- d z, to which the caller adds dgh W_hh. */
FR_MULTIVERSION void FR_FN(fr_gru_bwd)(ptrdiff_t n, ptrdiff_t H, const T *restrict g,
                       const T *restrict gh, const T *restrict hp,
                       const T *restrict dy, T *restrict dh, T *restrict dgx,
                       T *restrict dgh, T clip)
{
    T lim = FR_FN(fr_clip_limit)(clip);
    for (ptrdiff_t b = 0; b < n; ++b) {
        const T *gr = g + b * 3 * H, *gz = gr + H, *gn = gr + 2 * H;
        const T *hn = gh + b * 3 * H + 2 * H;
        T *xr = dgx + b * 3 * H, *xz = xr + H, *xn = xr + 2 * H;
        T *rr = dgh + b * 3 * H, *rz = rr + H, *rn = rr + 2 * H;
        const T *hpb = hp + b * H, *dyb = dy + b * H;
        T *dhb = dh + b * H;
        for (ptrdiff_t j = 0; j < H; ++j) {
            T r = gr[j], z = gz[j], nn = gn[j];
            T d = FR_FN(fr_clamp)(dhb[j] + dyb[j], lim);
            T dan = d * ((T)1 - z) * ((T)1 - nn * nn);
            T daz = d * (hpb[j] - nn) * z * ((T)1 - z);
            T dar = dan * hn[j] * r * ((T)1 - r);
            xr[j] = dar;
            xz[j] = daz;
            xn[j] = dan;
            rr[j] = dar;
            rz[j] = daz;
            rn[j] = dan * r;
            dhb[j] = d * z;
        }
    }
}

/* ---------------------------------------------------- GRU, reset before */

/* First half of the step: gh holds h_{t-1} W_h{r,z}^T in its r and z blocks.
 * Writes r, z into g and r h_{t-1} into rh, the input of the second product. */
FR_MULTIVERSION void FR_FN(fr_gru_before_fwd_gates)(ptrdiff_t n, ptrdiff_t H, T *restrict g,
                                    const T *restrict gh, const T *restrict hp,
                                    T *restrict rh)
{
    for (ptrdiff_t b = 0; b < n; ++b) {
        T *gr = g + b * 3 * H, *gz = gr + H;
        const T *hr = gh + b * 3 * H, *hz = hr + H;
        const T *hpb = hp + b * H;
        T *rhb = rh + b * H;
        for (ptrdiff_t j = 0; j < H; ++j)
            rhb[j] = FR_FN(fr_gru_before_gates_unit)(&gr[j], &gz[j], hr[j], hz[j], hpb[j]);
    }
}

/* Second half: gh's n block holds (r h_{t-1}) W_hn^T, g's n block
 * W_in x + b_in + b_hn. Writes n into g and h_t. */
FR_MULTIVERSION void FR_FN(fr_gru_before_fwd_state)(ptrdiff_t n, ptrdiff_t H, T *restrict g,
                                    const T *restrict gh, const T *restrict hp,
                                    T *restrict h)
{
    for (ptrdiff_t b = 0; b < n; ++b) {
        const T *gz = g + b * 3 * H + H;
        T *gn = g + b * 3 * H + 2 * H;
        const T *hn = gh + b * 3 * H + 2 * H;
        const T *hpb = hp + b * H;
        T *hb = h + b * H;
        for (ptrdiff_t j = 0; j < H; ++j)
            hb[j] = FR_FN(fr_gru_before_state_unit)(&gn[j], gz[j], hn[j], hpb[j]);
    }
}

/* First half of the backward step: da_n and da_z into dg, dh <- d z. The
 * caller then forms drh = da_n W_hn = dL/d(r h_{t-1}). */
FR_MULTIVERSION void FR_FN(fr_gru_before_bwd_state)(ptrdiff_t n, ptrdiff_t H, const T *restrict g,
                                    const T *restrict hp, const T *restrict dy,
                                    T *restrict dh, T *restrict dg, T clip)
{
    T lim = FR_FN(fr_clip_limit)(clip);
    for (ptrdiff_t b = 0; b < n; ++b) {
        const T *gz = g + b * 3 * H + H, *gn = gz + H;
        T *dz = dg + b * 3 * H + H, *dn = dz + H;
        const T *hpb = hp + b * H, *dyb = dy + b * H;
        T *dhb = dh + b * H;
        for (ptrdiff_t j = 0; j < H; ++j) {
            T z = gz[j], nn = gn[j];
            T d = FR_FN(fr_clamp)(dhb[j] + dyb[j], lim);
            dn[j] = d * ((T)1 - z) * ((T)1 - nn * nn);
            dz[j] = d * (hpb[j] - nn) * z * ((T)1 - z);
            dhb[j] = d * z;
        }
    }
}

/* Second half: da_r = drh h_{t-1} r (1 - r) into dg, dh += drh r. The
 * caller then adds (da_r, da_z) W_h{r,z} to dh. */
FR_MULTIVERSION void FR_FN(fr_gru_before_bwd_gates)(ptrdiff_t n, ptrdiff_t H, const T *restrict g,
                                    const T *restrict hp, const T *restrict drh,
                                    T *restrict dh, T *restrict dg)
{
    for (ptrdiff_t b = 0; b < n; ++b) {
        const T *gr = g + b * 3 * H;
        T *dr = dg + b * 3 * H;
        const T *hpb = hp + b * H, *drhb = drh + b * H;
        T *dhb = dh + b * H;
        for (ptrdiff_t j = 0; j < H; ++j) {
            T r = gr[j];
            dr[j] = drhb[j] * hpb[j] * r * ((T)1 - r);
            dhb[j] += drhb[j] * r;
        }
    }
}

#undef SIG
#undef TANH

/* ------------------------------------------- the streaming step's product */

/* The streaming step's mat-vec product (fr_step_gemv below): its vector
 * types and the transposed row sums, once for both precisions. */
#ifndef FASTRNN_FR_STEP_GEMV_ONCE
#define FASTRNN_FR_STEP_GEMV_ONCE
#if defined(__GNUC__) && __GNUC__ >= 12
#define FR_STEP_GEMV_TRANSPOSED 1
typedef float fr_step_vec_f __attribute__((vector_size(32), aligned(sizeof(float)), may_alias));
typedef double fr_step_vec_d __attribute__((vector_size(32), aligned(sizeof(double)), may_alias));

/* Lane r of *sums is a[r]'s lanes summed from lane 0 onwards, starting from
 * zero: ((0 + a[r][0]) + a[r][1]) + ..., fr_small_gemv's order for one row,
 * for eight rows at once (an 8 x 8 transposition, then one vector addition
 * per lane). Vectors pass by pointer: a vector argument or return value
 * would change the ABI between the ISA clones that inline this. */
static inline __attribute__((always_inline)) void
fr_step_row_sums_f(const fr_step_vec_f *a, fr_step_vec_f *sums)
{
    fr_step_vec_f t[8], u[8], s = {0};
    for (int p = 0; p < 8; p += 2) {
        t[p] = __builtin_shufflevector(a[p], a[p + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[p + 1] = __builtin_shufflevector(a[p], a[p + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int p = 0; p < 8; p += 4)
        for (int q = 0; q < 2; ++q) {
            u[p + q] = __builtin_shufflevector(t[p + q], t[p + q + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[p + q + 2] = __builtin_shufflevector(t[p + q], t[p + q + 2], 2, 3, 10, 11, 6, 7,
                                                   14, 15);
        }
    for (int q = 0; q < 4; ++q) {
        t[q] = __builtin_shufflevector(u[q], u[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        t[q + 4] = __builtin_shufflevector(u[q], u[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
    /* t[0], t[2], t[1], t[3], t[4], t[6], t[5], t[7] now hold lanes 0 to 7 */
    s += t[0];
    s += t[2];
    s += t[1];
    s += t[3];
    s += t[4];
    s += t[6];
    s += t[5];
    s += t[7];
    *sums = s;
}

/* The same for four rows of doubles (a 4 x 4 transposition). */
static inline __attribute__((always_inline)) void
fr_step_row_sums_d(const fr_step_vec_d *a, fr_step_vec_d *sums)
{
    fr_step_vec_d s = {0};
    fr_step_vec_d t0 = __builtin_shufflevector(a[0], a[1], 0, 4, 2, 6);
    fr_step_vec_d t1 = __builtin_shufflevector(a[0], a[1], 1, 5, 3, 7);
    fr_step_vec_d t2 = __builtin_shufflevector(a[2], a[3], 0, 4, 2, 6);
    fr_step_vec_d t3 = __builtin_shufflevector(a[2], a[3], 1, 5, 3, 7);
    s += __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    s += __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    s += __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    s += __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
    *sums = s;
}
#else
#define FR_STEP_GEMV_TRANSPOSED 0
#endif
#endif

/* y (m) = W x + beta y (beta 0: y is not read), W m x k row-major with row
 * stride ldw: the products of a streaming step of one sequence (the layers'
 * step()), in exactly the IEEE operations of fr_small_gemv (csrc/common), so
 * that step() gives the numbers it always gave, with more rows in flight.
 * fr_small_gemv keeps four rows and ends each with a lane-by-lane scalar sum,
 * a chain of dependent additions that left the core waiting on latency (the
 * product was 55% of a B = 1, H = 64 LSTM step); here a block of rows (one
 * per lane) is summed by a transposition and one vector addition per lane. */
#if FR_STEP_GEMV_TRANSPOSED
#define VEC FR_FN(fr_step_vec)
#define VL ((ptrdiff_t)(32 / sizeof(T)))
#define VLOAD(p) (*(const VEC *)(p))
FR_MULTIVERSION __attribute__((optimize("no-tree-vectorize")))
void FR_FN(fr_step_gemv)(ptrdiff_t m, ptrdiff_t k, const T *restrict w, ptrdiff_t ldw,
                         const T *restrict x, T beta, T *restrict y)
{
    ptrdiff_t kv = k - k % VL, i = 0;
    for (; i + VL <= m; i += VL) {
        VEC a[VL], sums;
        T s[VL];
        for (ptrdiff_t r = 0; r < VL; ++r)
            a[r] = (VEC){0};
        for (ptrdiff_t j = 0; j < kv; j += VL) {
            VEC xv = VLOAD(x + j);
            for (ptrdiff_t r = 0; r < VL; ++r)
                a[r] += VLOAD(w + (i + r) * ldw + j) * xv;
        }
        FR_FN(fr_step_row_sums)(a, &sums);
        if (kv < k) {
            /* the remainder of every row, as fr_small_gemv adds it */
            memcpy(s, &sums, sizeof(s));
            for (ptrdiff_t r = 0; r < VL; ++r) {
                const T *wr = w + (i + r) * ldw;
                for (ptrdiff_t j = kv; j < k; ++j)
                    s[r] += wr[j] * x[j];
            }
            memcpy(&sums, s, sizeof(s));
        }
        if (beta != (T)0)
            sums = sums + beta * VLOAD(y + i);
        memcpy(y + i, &sums, sizeof(sums));
    }
    if (i < m)
        FR_FN(fr_small_gemv)(m - i, k, w + i * ldw, ldw, x, beta, y + i);
}
#undef VEC
#undef VL
#undef VLOAD
#else
void FR_FN(fr_step_gemv)(ptrdiff_t m, ptrdiff_t k, const T *restrict w, ptrdiff_t ldw,
                         const T *restrict x, T beta, T *restrict y)
{
    FR_FN(fr_small_gemv)(m, k, w, ldw, x, beta, y);
}
#endif
