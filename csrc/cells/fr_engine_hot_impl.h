/*
 * The engine's hot loops for one precision (T, S) and one ISA level (V,
 * FR_ENG_TARGET, FR_ENG_ACC): the micro-kernel tile, the fused cell updates
 * and one thread's share of the time loop.
 *
 * Packed layout. The units are cut into blocks of NR (64 bytes of T); block
 * u of a weight matrix with G gate blocks of H rows and K columns is
 * K x G x NR values: for each k, the NR weights of gate 0's units of the
 * block, then gate 1's, ... (zero beyond unit H - 1). A tile reads them
 * front to back, one 64-byte vector per gate and k, and broadcasts h[k].
 *
 * A tile is mr rows of the batch times nb blocks: mr x nb x G accumulators,
 * each summing its dot product in the order of k from zero; so an output's
 * value never depends on mr, nb or on which thread owns its block.
 */
#define FR_ECAT3(a, b, c) a##_##b##_##c
#define FR_ECAT(a, b, c) FR_ECAT3(a, b, c)
#define FR_EFN(name) FR_ECAT(name, S, V)
#define NR FR_ENG_NR
#define SIG(x) FR_FN(frm_sigmoid)(x)
#define TANH(x) FR_FN(frm_tanh)(x)

/* Most rows of a tile (nb = 1) and most blocks of a one-row tile, for G gates. */
#define FR_ENG_ROWS(G) (FR_ENG_ACC / (G) >= 8 ? 8 : (FR_ENG_ACC / (G) >= 1 ? FR_ENG_ACC / (G) : 1))
#define FR_ENG_BLOCKS(G) (FR_ENG_ACC / (G) >= 4 ? 4 : (FR_ENG_ACC / (G) >= 1 ? FR_ENG_ACC / (G) : 1))

/* out[(r nb G + b G + g) NR + j] = sum_k h[r ldh + k] w[b bs + (k G + g) NR + j].
 * mr, G, nb are constants where it is inlined (fr_eng_tile_any). The
 * accumulators are this level's vectors (VT, VLEN values; NR / VLEN per
 * block), written out so that every tile does the same explicit
 * multiply-adds (VFMA: one rounding on the levels with FMA) whatever the
 * compiler's vectoriser makes of the surrounding loops. w and out are
 * 64-byte aligned. */
#define VT FR_ECAT(FR_ENG_VT, S, V)
#define VLEN FR_ECAT(FR_ENG_VLEN, S, V)
#define VFMA FR_ECAT(FR_ENG_VFMA, S, V)
#define VSPLAT FR_ECAT(FR_ENG_VSPLAT, S, V)
#define NV (NR / VLEN)
static FR_ALWAYS_INLINE FR_ENG_TARGET void FR_EFN(fr_eng_tile)(const int mr, const int G, const int nb,
                                                 ptrdiff_t K, const T *restrict h,
                                                 ptrdiff_t ldh, const T *restrict w,
                                                 ptrdiff_t bs, T *restrict out)
{
    VT acc[8][16][NV];
    for (int r = 0; r < mr; ++r)
        for (int c = 0; c < G * nb; ++c)
            for (int v = 0; v < NV; ++v)
                acc[r][c][v] = VSPLAT((T)0);
    for (ptrdiff_t k = 0; k < K; ++k) {
        for (int r = 0; r < mr; ++r) {
            VT s = VSPLAT(h[r * ldh + k]);
            for (int b = 0; b < nb; ++b)
                for (int g = 0; g < G; ++g) {
                    const VT *wv = (const VT *)(w + b * bs + (k * G + g) * NR);
                    for (int v = 0; v < NV; ++v)
                        acc[r][b * G + g][v] = VFMA(s, wv[v], acc[r][b * G + g][v]);
                }
        }
    }
    for (int r = 0; r < mr; ++r)
        for (int c = 0; c < G * nb; ++c)
            for (int v = 0; v < NV; ++v)
                ((VT *)(out + (r * G * nb + c) * NR))[v] = acc[r][c][v];
}

#define FR_TILE_CASE(M, GG, NB)                                                             \
    case (M) * 100 + (GG) * 10 + (NB):                                                      \
        FR_EFN(fr_eng_tile)(M, GG, NB, K, h, ldh, w, bs, out);                              \
        return;
#define FR_TILE_ROWS(M) FR_TILE_CASE(M, 1, 1) FR_TILE_CASE(M, 2, 1) FR_TILE_CASE(M, 3, 1) \
    FR_TILE_CASE(M, 4, 1)

/* The tile for run-time mr, G, nb (each within this level's budget). */
static FR_ENG_TARGET void FR_EFN(fr_eng_tile_any)(int mr, int G, int nb, ptrdiff_t K,
                                                  const T *restrict h, ptrdiff_t ldh,
                                                  const T *restrict w, ptrdiff_t bs,
                                                  T *restrict out)
{
    switch (mr * 100 + G * 10 + nb) {
    FR_TILE_ROWS(1)
    FR_TILE_CASE(1, 1, 2) FR_TILE_CASE(1, 2, 2) FR_TILE_CASE(1, 3, 2) FR_TILE_CASE(1, 4, 2)
    FR_TILE_CASE(1, 1, 3) FR_TILE_CASE(1, 2, 3) FR_TILE_CASE(1, 3, 3) FR_TILE_CASE(1, 4, 3)
    FR_TILE_CASE(1, 1, 4) FR_TILE_CASE(1, 2, 4) FR_TILE_CASE(1, 3, 4) FR_TILE_CASE(1, 4, 4)
    FR_TILE_ROWS(2)
    FR_TILE_ROWS(3)
#if FR_ENG_ACC >= 4
    FR_TILE_ROWS(4)
#endif
#if FR_ENG_ACC >= 5
    FR_TILE_ROWS(5)
#endif
#if FR_ENG_ACC >= 6
    FR_TILE_ROWS(6)
#endif
#if FR_ENG_ACC >= 7
    FR_TILE_CASE(7, 1, 1) FR_TILE_CASE(7, 2, 1) FR_TILE_CASE(7, 3, 1)
#endif
#if FR_ENG_ACC >= 8
    FR_TILE_CASE(8, 1, 1) FR_TILE_CASE(8, 2, 1) FR_TILE_CASE(8, 3, 1)
#endif
    default:
        /* Outside the budget (the loops below never ask for it): one row and
         * block at a time, the same sums in the same order. */
        for (int r = 0; r < mr; ++r)
            for (int b = 0; b < nb; ++b)
                FR_EFN(fr_eng_tile_any)(1, G, 1, K, h + r * ldh, ldh, w + b * bs, bs,
                                        out + (r * nb + b) * G * NR);
        return;
    }
}
#undef FR_TILE_ROWS
#undef FR_TILE_CASE

/* ---------------------------------------------------- fused cell updates */
/* The NR lanes of one block of units, u0 .. u0 + nu - 1 of H: whole blocks
 * are copied, the last partial one is padded with zeros, so the lane loops
 * below always run NR lanes, in the same vector code for every block. */
static FR_ALWAYS_INLINE void FR_EFN(fr_eng_lanes_in)(T *restrict lanes, const T *restrict src,
                                                     int nu)
{
    if (nu == NR) {
        memcpy(lanes, src, NR * sizeof(T));
    } else {
        memcpy(lanes, src, (size_t)nu * sizeof(T));
        memset(lanes + nu, 0, (size_t)(NR - nu) * sizeof(T));
    }
}

static FR_ALWAYS_INLINE void FR_EFN(fr_eng_lanes_out)(T *restrict dst, const T *restrict lanes,
                                                      int nu)
{
    if (nu == NR)   /* a copy of constant size, which compiles to vector moves */
        memcpy(dst, lanes, NR * sizeof(T));
    else
        memcpy(dst, lanes, (size_t)nu * sizeof(T));
}

/* One batch row's block of units at one step. acc: the G x NR products of
 * the tile; g: the row of the gate buffer (G*H); the state rows hp, h (H)
 * and, LSTM, cp, c. */
static FR_ALWAYS_INLINE void FR_EFN(fr_eng_rnn)(int relu, const T *restrict acc, T *restrict g,
                                                ptrdiff_t u0, int nu, T *restrict h)
{
    T a[NR], hl[NR];
    FR_EFN(fr_eng_lanes_in)(a, g + u0, nu);
    for (int j = 0; j < NR; ++j) {
        a[j] = a[j] + acc[j];
        hl[j] = FR_FN(fr_rnn_unit)(relu, a[j]);
    }
    FR_EFN(fr_eng_lanes_out)(g + u0, a, nu);
    FR_EFN(fr_eng_lanes_out)(h + u0, hl, nu);
}

static FR_ALWAYS_INLINE void FR_EFN(fr_eng_lstm)(const T *restrict acc, T *restrict g,
                                                 ptrdiff_t H, ptrdiff_t u0, int nu,
                                                 const T *restrict peep, const T *restrict cp,
                                                 T *restrict c, T *restrict h)
{
    T a[4][NR], p[3][NR], cpl[NR], cl[NR], hl[NR];
    for (int q = 0; q < 4; ++q) {
        FR_EFN(fr_eng_lanes_in)(a[q], g + q * H + u0, nu);
        for (int j = 0; j < NR; ++j)
            a[q][j] = a[q][j] + acc[q * NR + j];
    }
    for (int q = 0; q < 3; ++q)
        FR_EFN(fr_eng_lanes_in)(p[q], peep + q * H + u0, nu);
    FR_EFN(fr_eng_lanes_in)(cpl, cp + u0, nu);
    for (int j = 0; j < NR; ++j)
        FR_FN(fr_lstm_unit)(&a[0][j], &a[1][j], &a[2][j], &a[3][j], p[0][j], p[1][j], p[2][j],
                            cpl[j], &cl[j], &hl[j]);
    for (int q = 0; q < 4; ++q)
        FR_EFN(fr_eng_lanes_out)(g + q * H + u0, a[q], nu);
    FR_EFN(fr_eng_lanes_out)(c + u0, cl, nu);
    FR_EFN(fr_eng_lanes_out)(h + u0, hl, nu);
}

/* GRU, reset after the product; rec: the row of the recurrent buffer. */
static FR_ALWAYS_INLINE void FR_EFN(fr_eng_gru)(const T *restrict acc, T *restrict g,
                                                T *restrict rec, ptrdiff_t H, ptrdiff_t u0,
                                                int nu, const T *restrict b_hn,
                                                const T *restrict hp, T *restrict h)
{
    T a[3][NR], pr[3][NR], bl[NR], hpl[NR], hl[NR];
    for (int q = 0; q < 3; ++q) {
        FR_EFN(fr_eng_lanes_in)(a[q], g + q * H + u0, nu);
        memcpy(pr[q], acc + q * NR, NR * sizeof(T));
    }
    FR_EFN(fr_eng_lanes_in)(bl, b_hn + u0, nu);
    FR_EFN(fr_eng_lanes_in)(hpl, hp + u0, nu);
    for (int j = 0; j < NR; ++j)
        hl[j] = FR_FN(fr_gru_unit)(&a[0][j], &a[1][j], &a[2][j], pr[0][j], pr[1][j], &pr[2][j],
                                   bl[j], hpl[j]);
    for (int q = 0; q < 3; ++q) {
        FR_EFN(fr_eng_lanes_out)(g + q * H + u0, a[q], nu);
        FR_EFN(fr_eng_lanes_out)(rec + q * H + u0, pr[q], nu);
    }
    FR_EFN(fr_eng_lanes_out)(h + u0, hl, nu);
}

/* GRU, reset before the product, first half (acc: the r and z products);
 * rh: the row of r h_{t-1}. */
static FR_ALWAYS_INLINE void FR_EFN(fr_eng_gru_before_gates)(const T *restrict acc,
                                                             T *restrict g, T *restrict rec,
                                                             ptrdiff_t H, ptrdiff_t u0, int nu,
                                                             const T *restrict hp,
                                                             T *restrict rh)
{
    T a[2][NR], hpl[NR], rhl[NR];
    for (int q = 0; q < 2; ++q)
        FR_EFN(fr_eng_lanes_in)(a[q], g + q * H + u0, nu);
    FR_EFN(fr_eng_lanes_in)(hpl, hp + u0, nu);
    for (int j = 0; j < NR; ++j)
        rhl[j] = FR_FN(fr_gru_before_gates_unit)(&a[0][j], &a[1][j], acc[j], acc[NR + j],
                                                 hpl[j]);
    for (int q = 0; q < 2; ++q) {
        FR_EFN(fr_eng_lanes_out)(g + q * H + u0, a[q], nu);
        FR_EFN(fr_eng_lanes_out)(rec + q * H + u0, acc + q * NR, nu);
    }
    FR_EFN(fr_eng_lanes_out)(rh + u0, rhl, nu);
}

/* Second half (acc: the n product of r h_{t-1}). */
static FR_ALWAYS_INLINE void FR_EFN(fr_eng_gru_before_state)(const T *restrict acc,
                                                             T *restrict g, T *restrict rec,
                                                             ptrdiff_t H, ptrdiff_t u0, int nu,
                                                             const T *restrict hp,
                                                             T *restrict h)
{
    T a[NR], z[NR], hpl[NR], hl[NR];
    FR_EFN(fr_eng_lanes_in)(a, g + 2 * H + u0, nu);
    FR_EFN(fr_eng_lanes_in)(z, g + H + u0, nu);
    FR_EFN(fr_eng_lanes_in)(hpl, hp + u0, nu);
    for (int j = 0; j < NR; ++j)
        hl[j] = FR_FN(fr_gru_before_state_unit)(&a[j], z[j], acc[j], hpl[j]);
    FR_EFN(fr_eng_lanes_out)(g + 2 * H + u0, a, nu);
    FR_EFN(fr_eng_lanes_out)(rec + 2 * H + u0, acc, nu);
    FR_EFN(fr_eng_lanes_out)(h + u0, hl, nu);
}

/* ------------------------------------------------------------- packing */
/* Block u of the G x H rows of w (K columns) starting at row `first`, into
 * dst (K x G x NR). */
static FR_ENG_TARGET void FR_EFN(fr_eng_pack)(const T *restrict w, ptrdiff_t H, ptrdiff_t K,
                                              int G, ptrdiff_t first, ptrdiff_t u,
                                              T *restrict dst)
{
    for (int g = 0; g < G; ++g)
        for (int j = 0; j < NR; ++j) {
            ptrdiff_t unit = u * NR + j;
            T *col = dst + g * NR + j;
            if (unit < H) {
                const T *row = w + (first + g * H + unit) * K;
                for (ptrdiff_t k = 0; k < K; ++k)
                    col[k * G * NR] = row[k];
            } else {
                for (ptrdiff_t k = 0; k < K; ++k)
                    col[k * G * NR] = (T)0;
            }
        }
}

/* ------------------------------------------------- one thread's sweep */
/* One product of a step for this thread's blocks [ub, ue) of units, over
 * the n running rows of `in` (n x K, row stride K): every tile's G x NR
 * products of one row and block go to `update` (a switch on `phase`, so
 * that one loop serves every cell). */

/* Where step t's rows of the gate buffer (and of reset_hidden) are: step t
 * itself, or its slot of the ring when nothing is kept for backward. */
static FR_ALWAYS_INLINE ptrdiff_t FR_EFN(fr_eng_slot)(const FR_FN(fr_engine_job) *job, ptrdiff_t t)
{
    return job->ring > 0 ? t % job->ring : t;
}

/* Where the cell state c_t is: row t, or in inference slot t % 2 of two
 * (step t reads c_t and writes c_{t+1}, each thread its own units, and
 * nothing reads c_t again: T - 1 rows fewer to write and fault in). */
static FR_ALWAYS_INLINE ptrdiff_t FR_EFN(fr_eng_cell_slot)(const FR_FN(fr_engine_job) *job,
                                                         ptrdiff_t t)
{
    return job->ring > 0 ? t % 2 : t;
}

static FR_ALWAYS_INLINE void FR_EFN(fr_eng_update)(int phase, int relu, const T *restrict acc,
                                                   const FR_FN(fr_engine_job) *job, ptrdiff_t t,
                                                   ptrdiff_t row, ptrdiff_t u0, int nu)
{
    ptrdiff_t H = job->hidden, B = job->batch, G = phase == FR_ENG_RNN ? 1
                                                 : (phase == FR_ENG_LSTM ? 4 : 3);
    ptrdiff_t BH = B * H;
    T *g = job->gates + (FR_EFN(fr_eng_slot)(job, t) * B + row) * G * H;
    const T *hp = job->hs + t * BH + row * H;
    T *h = job->hs + (t + 1) * BH + row * H;
    switch (phase) {
    case FR_ENG_RNN:
        FR_EFN(fr_eng_rnn)(relu, acc, g, u0, nu, h);
        break;
    case FR_ENG_LSTM:
        FR_EFN(fr_eng_lstm)(acc, g, H, u0, nu, job->peep,
                            job->cs + FR_EFN(fr_eng_cell_slot)(job, t) * BH + row * H,
                            job->cs + FR_EFN(fr_eng_cell_slot)(job, t + 1) * BH + row * H, h);
        break;
    case FR_ENG_GRU:
        FR_EFN(fr_eng_gru)(acc, g, job->recurrent + t * job->recurrent_stride + row * 3 * H, H,
                           u0, nu, job->b_hn, hp, h);
        break;
    case FR_ENG_GRU_GATES:
        FR_EFN(fr_eng_gru_before_gates)(acc, g, job->recurrent + t * job->recurrent_stride
                                        + row * 3 * H, H, u0, nu, hp,
                                        job->reset_hidden + FR_EFN(fr_eng_slot)(job, t) * BH
                                        + row * H);
        break;
    default:
        FR_EFN(fr_eng_gru_before_state)(acc, g, job->recurrent + t * job->recurrent_stride
                                        + row * 3 * H, H, u0, nu, hp, h);
        break;
    }
}

/* Asks for the lines the update of one row's block will read and write,
 * before the tile that precedes it: the gate buffer's rows were written by
 * the projection long before and left the caches (13 MB at T=100, B=32,
 * H=256 for an LSTM), and the update, waiting on each of them in turn, took
 * as long as the tile (measured). The tile's microsecond hides the loads. */
static FR_ALWAYS_INLINE void FR_EFN(fr_eng_prefetch)(int phase, const FR_FN(fr_engine_job) *job,
                                                     ptrdiff_t t, ptrdiff_t row, ptrdiff_t u0)
{
#if defined(__GNUC__)
    const ptrdiff_t H = job->hidden, B = job->batch;
    const int G = phase == FR_ENG_RNN ? 1 : (phase == FR_ENG_LSTM ? 4 : 3);
    const T *g = job->gates + (FR_EFN(fr_eng_slot)(job, t) * B + row) * G * H + u0;
    for (int q = 0; q < G; ++q)
        __builtin_prefetch(g + q * H, 1, 3);
    if (phase == FR_ENG_LSTM) {
        __builtin_prefetch(job->cs + (FR_EFN(fr_eng_cell_slot)(job, t) * B + row) * H + u0, 0,
                           3);
        __builtin_prefetch(job->cs + (FR_EFN(fr_eng_cell_slot)(job, t + 1) * B + row) * H + u0,
                           1, 3);
    } else if (phase != FR_ENG_RNN) {
        const T *rec = job->recurrent + t * job->recurrent_stride + row * 3 * H + u0;
        for (int q = 0; q < 3; ++q)
            __builtin_prefetch(rec + q * H, 1, 3);
    }
    __builtin_prefetch(job->hs + ((t + 1) * B + row) * H + u0, 1, 3);
#else
    (void)phase, (void)job, (void)t, (void)row, (void)u0;
#endif
}

static FR_ENG_TARGET void FR_EFN(fr_eng_product)(int phase, int relu, int G,
                                                 const FR_FN(fr_engine_job) *job, ptrdiff_t t,
                                                 int n, const T *in, const T *packed,
                                                 ptrdiff_t ub, ptrdiff_t ue, T *tile)
{
    ptrdiff_t H = job->hidden, K = H, bs = K * G * NR;
    if (n == 1) {
        for (ptrdiff_t u = ub; u < ue;) {
            int nb = (int)(ue - u < FR_ENG_BLOCKS(G) ? ue - u : FR_ENG_BLOCKS(G));
            for (int b = 0; b < nb; ++b)
                FR_EFN(fr_eng_prefetch)(phase, job, t, 0, (u + b) * NR);
            FR_EFN(fr_eng_tile_any)(1, G, nb, K, in, K, packed + u * bs, bs, tile);
            for (int b = 0; b < nb; ++b, ++u) {
                ptrdiff_t u0 = u * NR;
                int nu = (int)(H - u0 < NR ? H - u0 : NR);
                FR_EFN(fr_eng_update)(phase, relu, tile + b * G * NR, job, t, 0, u0, nu);
            }
        }
        return;
    }
    for (ptrdiff_t u = ub; u < ue; ++u) {
        ptrdiff_t u0 = u * NR;
        int nu = (int)(H - u0 < NR ? H - u0 : NR);
        for (int r0 = 0; r0 < n;) {
            int mr = n - r0 < FR_ENG_ROWS(G) ? n - r0 : FR_ENG_ROWS(G);
            for (int r = 0; r < mr; ++r)
                FR_EFN(fr_eng_prefetch)(phase, job, t, r0 + r, u0);
            FR_EFN(fr_eng_tile_any)(mr, G, 1, K, in + (ptrdiff_t)r0 * K, K, packed + u * bs, bs,
                                    tile);
            for (int r = 0; r < mr; ++r, ++r0)
                FR_EFN(fr_eng_update)(phase, relu, tile + r * G * NR, job, t, r0, u0, nu);
        }
    }
}

/* The input projection of rows [first, last) for blocks [ub, ue):
 * gates[r, g H + u] = bias_x[g H + u] + sum_k x[r, k] w_ih[g H + u, k], with
 * bias_x's row r mod B (row r's sequence) when the bias has a row per
 * sequence. */
static FR_ENG_TARGET void FR_EFN(fr_eng_project)(const FR_FN(fr_engine_job) *job, int G,
                                                 ptrdiff_t first, ptrdiff_t last,
                                                 const T *packed, ptrdiff_t ub, ptrdiff_t ue,
                                                 T *tile)
{
    const ptrdiff_t H = job->hidden, K = job->inputs, GH = G * H, bs = K * G * NR;
    const int mr_max = FR_ENG_ROWS(G);
    for (ptrdiff_t u = ub; u < ue; ++u) {
        ptrdiff_t u0 = u * NR;
        int nu = (int)(H - u0 < NR ? H - u0 : NR);
        for (ptrdiff_t r0 = first; r0 < last;) {
            int mr = last - r0 < mr_max ? (int)(last - r0) : mr_max;
            FR_EFN(fr_eng_tile_any)(mr, G, 1, K, job->x + r0 * K, K, packed + u * bs, bs, tile);
            for (int r = 0; r < mr; ++r, ++r0) {
                /* row r0 is sequence r0 % B of step r0 / B */
                const ptrdiff_t seq = r0 % job->batch;
                const T *bias_row = job->bias_per_row ? job->bias_x + seq * GH : job->bias_x;
                T *gate_row = job->gates
                              + (FR_EFN(fr_eng_slot)(job, r0 / job->batch) * job->batch + seq) * GH;
                for (int g = 0; g < G; ++g) {
                    T lanes[NR], bias[NR];
                    const T *acc = tile + (r * G + g) * NR;
                    FR_EFN(fr_eng_lanes_in)(bias, bias_row + g * H + u0, nu);
                    for (int j = 0; j < NR; ++j)
                        lanes[j] = acc[j] + bias[j];
                    FR_EFN(fr_eng_lanes_out)(gate_row + g * H + u0, lanes, nu);
                }
            }
        }
    }
}

/* The gate count of a product of the cell, and the kernels' phases: one
 * product per step, two for the GRU with the reset before the product
 * (W_hr, W_hz first, then W_hn on r h_{t-1}, which needs every unit's r). */
static FR_ALWAYS_INLINE void FR_EFN(fr_eng_products)(int kind, int *G, int *phase)
{
    if (kind == FR_CELL_LSTM) {
        *G = 4;
        *phase = FR_ENG_LSTM;
    } else if (kind == FR_CELL_GRU) {
        *G = 3;
        *phase = FR_ENG_GRU;
    } else if (kind == FR_CELL_GRU_BEFORE) {
        *G = 2;
        *phase = FR_ENG_GRU_GATES;
    } else {
        *G = 1;
        *phase = FR_ENG_RNN;
    }
}

/* Chunk `chunk` of `chunks` (blocks of units [ub, ue)) of team phase `q`:
 * phase 0 packs the chunk's blocks of W_hh and W_ih (into `packed`, laid
 * out as fr_engine_impl.h sized it: every block of the first recurrent
 * product; for GRU_BEFORE every block of W_hn; then every block of W_ih),
 * and phase 1 + s runs product s % P of step s / P (P products per step).
 *
 * The input projection is made a few steps ahead (job->project_steps of
 * them at a time, before the first product of the first), not for the whole
 * sequence up front: the projected rows are then still in this thread's
 * cache when its steps read them and write the gates over them. Projected
 * up front, the gate buffer (13 MB for an LSTM at T=100, B=32, H=256) went
 * to memory and came back, and the cell updates waited on it. The rows of
 * steps that no sequence reaches are projected with the last running step's,
 * as before. */
static FR_ENG_TARGET void FR_EFN(fr_eng_chunk)(const FR_FN(fr_engine_job) *job, T *packed,
                                               long q, int chunk, int chunks)
{
    const int kind = job->kind, relu = kind == FR_CELL_RNN_RELU;
    const ptrdiff_t H = job->hidden, K = H, BH = (ptrdiff_t)job->batch * H;
    const ptrdiff_t nblocks = (H + NR - 1) / NR;
    const ptrdiff_t ub = nblocks * chunk / chunks, ue = nblocks * (chunk + 1) / chunks;
    /* 64-byte aligned room for the largest tile: 8 rows or 4 blocks of 4 gates. */
    T tile_room[16 * 4 * NR + NR];
    T *tile = (T *)(((uintptr_t)tile_room + 63u) & ~(uintptr_t)63u);
    T *packed_n = kind == FR_CELL_GRU_BEFORE ? packed + nblocks * K * 2 * NR : NULL;
    const int G_ih = fr_eng_gate_count(kind);
    T *packed_ih = packed + nblocks * K * G_ih * NR;
    const ptrdiff_t D = job->inputs;
    int G, phase;
    FR_EFN(fr_eng_products)(kind, &G, &phase);
    if (q == 0) {
        for (ptrdiff_t u = ub; u < ue; ++u) {
            FR_EFN(fr_eng_pack)(job->w_hh, H, K, G, 0, u, packed + u * K * G * NR);
            if (packed_n != NULL)
                FR_EFN(fr_eng_pack)(job->w_hh, H, K, 1, 2 * H, u, packed_n + u * K * NR);
            FR_EFN(fr_eng_pack)(job->w_ih, H, D, G_ih, 0, u, packed_ih + u * D * G_ih * NR);
        }
        return;
    }
    {
        const long s = q - 1;
        const ptrdiff_t t = packed_n != NULL ? s / 2 : s;
        const int n = job->batch_sizes[t];
        const ptrdiff_t ahead = job->project_steps;
        if (t % ahead == 0 && (packed_n == NULL || s % 2 == 0)) {
            /* The steps past every sequence's end are projected for backward
             * (which reads their rows), not into a ring. */
            ptrdiff_t last = t + ahead < job->running ? t + ahead
                                                      : (job->ring > 0 ? job->running : job->steps);
            FR_EFN(fr_eng_project)(job, G_ih, t * job->batch, last * job->batch, packed_ih,
                                   ub, ue, tile);
        }
        if (packed_n != NULL && s % 2 == 1)
            FR_EFN(fr_eng_product)(FR_ENG_GRU_STATE, 0, 1, job, t, n,
                                   job->reset_hidden + FR_EFN(fr_eng_slot)(job, t) * BH,
                                   packed_n, ub, ue, tile);
        else
            FR_EFN(fr_eng_product)(phase, relu, G, job, t, n, job->hs + t * BH, packed, ub, ue,
                                   tile);
    }
}

/* ------------------------------------------------ backward's product */
/* W (K x H, row-major: W_hh of G*H rows) packed by columns for the
 * backward sweep's product d_gates W_hh: super-blocks of 4 blocks of NR
 * output units, each K x 4 x NR (for each k, the NR values of W's row k
 * in block 0, then block 1, ...; zero beyond column H - 1), so that the
 * forward's tile of 4 "gates" serves it. */
static FR_ENG_TARGET void FR_EFN(fr_eng_pack_columns)(const T *restrict w, ptrdiff_t K,
                                                      ptrdiff_t H, T *restrict dst)
{
    const ptrdiff_t supers = (H + 4 * NR - 1) / (4 * NR);
    for (ptrdiff_t s = 0; s < supers; ++s)
        for (ptrdiff_t k = 0; k < K; ++k)
            for (int g = 0; g < 4; ++g) {
                ptrdiff_t u0 = (4 * s + g) * NR;
                T *to = dst + ((s * K + k) * 4 + g) * NR;
                int nu = (int)(H - u0 >= NR ? NR : (H - u0 > 0 ? H - u0 : 0));
                if (nu > 0)
                    memcpy(to, w + k * H + u0, (size_t)nu * sizeof(T));
                if (nu < NR)
                    memset(to + nu, 0, (size_t)(NR - nu) * sizeof(T));
            }
}

/* out[r, j] (+)= sum_k in[r ldin + k] W[k, j] for the n rows and H columns,
 * W packed by fr_eng_pack_columns; each sum in the order of k from zero,
 * then added to out[r, j] when `accumulate`. */
static FR_ENG_TARGET void FR_EFN(fr_eng_rows_times_packed)(int n, ptrdiff_t K, const T *in,
                                                           ptrdiff_t ldin, const T *packed,
                                                           ptrdiff_t H, int accumulate, T *out,
                                                           ptrdiff_t ldout)
{
    T tile_room[8 * 4 * NR + NR];
    T *tile = (T *)(((uintptr_t)tile_room + 63u) & ~(uintptr_t)63u);
    const ptrdiff_t supers = (H + 4 * NR - 1) / (4 * NR);
    const int mr_max = FR_ENG_ROWS(4);
    for (ptrdiff_t s = 0; s < supers; ++s)
        for (int r0 = 0; r0 < n;) {
            int mr = n - r0 < mr_max ? n - r0 : mr_max;
            FR_EFN(fr_eng_tile_any)(mr, 4, 1, K, in + (ptrdiff_t)r0 * ldin, ldin,
                                    packed + s * K * 4 * NR, 0, tile);
            for (int r = 0; r < mr; ++r, ++r0)
                for (int g = 0; g < 4; ++g) {
                    ptrdiff_t u0 = (4 * s + g) * NR;
                    const T *sums = tile + (r * 4 + g) * NR;
                    T *to = out + (ptrdiff_t)r0 * ldout + u0;
                    int nu = (int)(H - u0 >= NR ? NR : H - u0);
                    if (nu <= 0)
                        break;
                    if (accumulate)
                        for (int j = 0; j < nu; ++j)
                            to[j] = to[j] + sums[j];
                    else
                        memcpy(to, sums, (size_t)nu * sizeof(T));
                }
        }
}

#undef SIG
#undef TANH
#undef VT
#undef VLEN
#undef VFMA
#undef VSPLAT
#undef NV
#undef NR
#undef FR_ENG_ROWS
#undef FR_ENG_BLOCKS
#undef FR_EFN
#undef FR_ECAT
#undef FR_ECAT3
