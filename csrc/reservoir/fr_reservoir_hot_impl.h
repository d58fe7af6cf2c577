/*
 * The hot loops of a reservoir step (the input projection, activation +
 * leak, and through fr_reservoir_csr_impl.h the CSR kernels),
 * included by fr_reservoir.c once per precision (T, S) and ISA level
 * (V = base, v3, v4 with FR_RES_TARGET the matching target attribute of fr_dispatch.h).
 * FR_VFN(name) pastes the precision and the instruction set: name_S_V.
 */
#define FR_VCAT2(a, b) a##_##b
#define FR_VCAT(a, b) FR_VCAT2(a, b)
#define FR_VFN(name) FR_VCAT(FR_VCAT(name, S), V)

/* Rows per pass of the fused single-series step: its pre-activations stay
 * in registers or L1 between the sparse product and the update. */
#define FR_RES_ROW_TILE FR_RES_SELL_WINDOW

#if FR_RES_VECEXT
/* One vector register of T for the batched product (FR_RES_VBYTES, set per
 * clone; GCC/Clang vector extensions, so the clone's target picks the
 * instructions). Loads through it may be unaligned and alias T. Written
 * with explicit vectors because the loop vectoriser vectorised the
 * nonzeros of a row instead of the series, with emulated gathers. */
typedef T FR_VFN(fr_res_vec) __attribute__((vector_size(FR_RES_VBYTES), aligned(sizeof(T)),
                                            __may_alias__));
#define FR_RES_VEC FR_VFN(fr_res_vec)
#define FR_RES_VL ((ptrdiff_t)(FR_RES_VBYTES / sizeof(T)))
#endif

/* out (rows x n) += u (rows x d) @ win_t (d x n): the input projection of
 * all steps for the few inputs a reservoir usually has. Rows of u and out
 * are u_stride and out_stride elements apart. (A multithreaded
 * BLAS GEMM here leaves its worker threads spinning for a while afterwards,
 * taking the second core from the time loop that follows.) */
FR_RES_TARGET static void FR_VFN(fr_res_add_input_projection)(const T *u, ptrdiff_t rows,
                                                             ptrdiff_t d, ptrdiff_t u_stride,
                                                             const T *win_t, ptrdiff_t n,
                                                             T *out, ptrdiff_t out_stride)
{
    for (ptrdiff_t r = 0; r < rows; ++r) {
        T *restrict o = out + r * out_stride;
        const T *restrict ur = u + r * u_stride;
        for (ptrdiff_t j = 0; j < d; ++j) {
            const T c = ur[j];
            const T *restrict w = win_t + j * n;
            for (ptrdiff_t i = 0; i < n; ++i)
                o[i] += c * w[i];
        }
    }
}

#define FR_RES_ACTIVATE(act, v)                                                    \
    ((act) == FR_RES_TANH ? FR_VCAT(frm_tanh, S)(v)                                    \
     : (act) == FR_RES_SIGMOID ? FR_VCAT(frm_sigmoid, S)(v)                            \
     : (act) == FR_RES_RELU ? ((v) > (T)0 ? (v) : ((v) == (v) ? (T)0 : (v)))       \
     : (v))

/* x_new = (1 - lr) x_old + lr f(preact) over n elements, lr one value per
 * element (the caller repeats each unit's leak rate over the batch). The
 * activation is chosen outside the loop so that each loop body is
 * branch-free and vectorises. */
#define FR_RES_LEAKY_LOOP(ACT)                                                     \
    do {                                                                           \
        for (ptrdiff_t i = 0; i < n; ++i) {                                        \
            const T v = preact[i];                                                 \
            x_new[i] = ((T)1 - lr[i]) * x_old[i] + lr[i] * FR_RES_ACTIVATE(ACT, v); \
        }                                                                          \
    } while (0)

FR_RES_TARGET static void FR_VFN(fr_res_leaky_update)(int act, const T *preact, const T *lr,
                                                     const T *x_old, T *x_new, ptrdiff_t n)
{
    switch (act) {
    case FR_RES_TANH: FR_RES_LEAKY_LOOP(FR_RES_TANH); break;
    case FR_RES_SIGMOID: FR_RES_LEAKY_LOOP(FR_RES_SIGMOID); break;
    case FR_RES_RELU: FR_RES_LEAKY_LOOP(FR_RES_RELU); break;
    default: FR_RES_LEAKY_LOOP(FR_RES_IDENTITY); break;
    }
}


/* pre (rows) = bias + the input projection of u_t (d inputs) for rows of
 * win_t (d x n, a column block starting at the tile's first unit), summed
 * in the order of the all-steps projection above (the bias, then input 0,
 * 1, ...), so a fused step reproduces it to the bit. */
FR_RES_TARGET static inline void FR_VFN(fr_res_project_tile)(const T *bias, const T *u_t,
                                                            ptrdiff_t d, const T *win_t,
                                                            ptrdiff_t n, ptrdiff_t rows, T *pre)
{
    for (ptrdiff_t k = 0; k < rows; ++k)
        pre[k] = bias[k];
    for (ptrdiff_t j = 0; j < d; ++j) {
        const T c = u_t[j];
        const T *restrict w = win_t + j * n;
        for (ptrdiff_t k = 0; k < rows; ++k)
            pre[k] += c * w[k];
    }
}

#if FR_RES_SELL
/* x[a[0]], ..., x[a[7]] (x[a[15]] in float) by plain loads: the indices
 * read four to a 64-bit load and taken apart in registers, so that each
 * entry costs one load, not two. */
FR_RES_TARGET static inline __m512d FR_VFN(fr_res_x_at8)(const double *x, const uint16_t *a)
{
    uint64_t q0, q1;
    memcpy(&q0, a, 8);
    memcpy(&q1, a + 4, 8);
    return _mm512_set_pd(x[q1 >> 48], x[(q1 >> 32) & 0xffff], x[(q1 >> 16) & 0xffff],
                         x[q1 & 0xffff], x[q0 >> 48], x[(q0 >> 32) & 0xffff],
                         x[(q0 >> 16) & 0xffff], x[q0 & 0xffff]);
}

FR_RES_TARGET static inline __m512 FR_VFN(fr_res_x_at16)(const float *x, const uint16_t *a)
{
    uint64_t q[4];
    memcpy(q, a, 32);
    return _mm512_set_ps(x[q[3] >> 48], x[(q[3] >> 32) & 0xffff], x[(q[3] >> 16) & 0xffff],
                         x[q[3] & 0xffff], x[q[2] >> 48], x[(q[2] >> 32) & 0xffff],
                         x[(q[2] >> 16) & 0xffff], x[q[2] & 0xffff], x[q[1] >> 48],
                         x[(q[1] >> 32) & 0xffff], x[(q[1] >> 16) & 0xffff], x[q[1] & 0xffff],
                         x[q[0] >> 48], x[(q[0] >> 32) & 0xffff], x[(q[0] >> 16) & 0xffff],
                         x[q[0] & 0xffff]);
}

/* A group of rows of W in SELL-C (fr_reservoir_sell.h) times x: the C row
 * sums, each the CSR row loop's (s0 + s1) + (s2 + s3) of the same terms in
 * the same order, each added to its row's entry of `pre`, the
 * pre-activations of the group's window. AVX-512 only: C is one zmm
 * register of T. x's entries come by one hardware gather per slot, or with
 * `loads` by C plain loads (faster where gathers are slow: on AMD's Zen 4,
 * N=2000 float64 on 2 threads, 88 against 109 us per step in CSR rows). */
FR_RES_TARGET static inline void FR_VFN(fr_res_sell_group)(const fr_res_sell *w, ptrdiff_t g,
                                                          const T *x, int loads, T *pre)
{
    const ptrdiff_t *shape = w->shape + 4 * g;
    const ptrdiff_t steps4 = shape[1], steps1 = shape[2];
    const int lanes = w->lanes;
    const T *v = (const T *)w->values + shape[0] * lanes;
    const uint16_t *at = w->indices + shape[0] * lanes;
    const uint16_t *mask = w->masks + shape[0];
    const uint8_t *row = w->rows + g * lanes;
    const ptrdiff_t in_order = shape[3];
    /* The slots of the group, four partial sums at a time, then those of the
     * rows' last terms into s0; FR_RES_SELL_TERM (per precision) adds one
     * slot of L lanes, its entries of x fetched by FETCH. */
#define FR_RES_SELL_LOOPS(V, L, FETCH)                                             \
        for (ptrdiff_t p = 0; p < steps4; ++p, V += 4 * (L), at += 4 * (L), mask += 4) { \
            FR_RES_SELL_TERM(s0, 0, FETCH) FR_RES_SELL_TERM(s1, 1, FETCH)          \
            FR_RES_SELL_TERM(s2, 2, FETCH) FR_RES_SELL_TERM(s3, 3, FETCH)          \
        }                                                                          \
        for (ptrdiff_t p = 0; p < steps1; ++p, V += (L), at += (L), ++mask)        \
            FR_RES_SELL_TERM(s0, 0, FETCH)
    if (sizeof(T) == sizeof(double)) {
        const double *vd = (const double *)v;
        const double *xd = (const double *)x;
        __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
#define FR_RES_SELL_TERM(S, j, FETCH)                                              \
        {                                                                          \
            const __mmask8 k = (__mmask8)mask[j];                                  \
            const uint16_t *a = at + 8 * (j);                                      \
            const __m512d xs = FETCH;                                              \
            S = _mm512_mask_add_pd(S, k, S, _mm512_mul_pd(_mm512_load_pd(vd + 8 * (j)), xs)); \
        }
#define FR_RES_SELL_GATHER _mm512_mask_i32gather_pd(                               \
            _mm512_setzero_pd(), k, _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)a)), \
            xd, 8)
/* padded lanes hold column 0: a load that their mask then ignores */
#define FR_RES_SELL_LOADS FR_VFN(fr_res_x_at8)(xd, a)
        if (loads) {
            FR_RES_SELL_LOOPS(vd, 8, FR_RES_SELL_LOADS)
        } else {
            FR_RES_SELL_LOOPS(vd, 8, FR_RES_SELL_GATHER)
        }
#undef FR_RES_SELL_LOADS
#undef FR_RES_SELL_GATHER
#undef FR_RES_SELL_TERM
        const __m512d sum = _mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3));
        double *p = (double *)pre;
        if (in_order > 0) {
            const __mmask8 live = (__mmask8)((1u << in_order) - 1);
            p += row[0];
            _mm512_mask_storeu_pd(p, live, _mm512_add_pd(_mm512_maskz_loadu_pd(live, p), sum));
        } else {    /* rows of a sorted window: distinct, so no lane overwrites another */
            const __m256i at_row = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)row));
            const __mmask8 live = _mm256_cmpneq_epi32_mask(at_row,
                                                           _mm256_set1_epi32(FR_RES_SELL_NO_ROW));
            const __m512d old = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), live, at_row, p, 8);
            _mm512_mask_i32scatter_pd(p, live, at_row, _mm512_add_pd(old, sum), 8);
        }
    } else {
        const float *vf = (const float *)v;
        const float *xf = (const float *)x;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
#define FR_RES_SELL_TERM(S, j, FETCH)                                              \
        {                                                                          \
            const __mmask16 k = (__mmask16)mask[j];                                \
            const uint16_t *a = at + 16 * (j);                                     \
            const __m512 xs = FETCH;                                               \
            S = _mm512_mask_add_ps(S, k, S, _mm512_mul_ps(_mm512_load_ps(vf + 16 * (j)), xs)); \
        }
#define FR_RES_SELL_GATHER _mm512_mask_i32gather_ps(                               \
            _mm512_setzero_ps(), k,                                                \
            _mm512_cvtepu16_epi32(_mm256_load_si256((const __m256i *)a)), xf, 4)
#define FR_RES_SELL_LOADS FR_VFN(fr_res_x_at16)(xf, a)
        if (loads) {
            FR_RES_SELL_LOOPS(vf, 16, FR_RES_SELL_LOADS)
        } else {
            FR_RES_SELL_LOOPS(vf, 16, FR_RES_SELL_GATHER)
        }
#undef FR_RES_SELL_LOADS
#undef FR_RES_SELL_GATHER
#undef FR_RES_SELL_TERM
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
        float *p = (float *)pre;
        if (in_order > 0) {
            const __mmask16 live = (__mmask16)((1u << in_order) - 1);
            p += row[0];
            _mm512_mask_storeu_ps(p, live, _mm512_add_ps(_mm512_maskz_loadu_ps(live, p), sum));
        } else {
            const __m512i at_row = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)row));
            const __mmask16 live = _mm512_cmpneq_epi32_mask(at_row,
                                                            _mm512_set1_epi32(FR_RES_SELL_NO_ROW));
            const __m512 old = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, at_row, p, 4);
            _mm512_mask_i32scatter_ps(p, live, at_row, _mm512_add_ps(old, sum), 4);
        }
    }
#undef FR_RES_SELL_LOOPS
}
#endif

#define FR_RES_IDX int32_t
#define FR_RES_IDX_NAME i32
#define FR_RES_IDX_FIELD w_indices
#include "fr_reservoir_csr_impl.h"
#undef FR_RES_IDX
#undef FR_RES_IDX_NAME
#undef FR_RES_IDX_FIELD
#define FR_RES_IDX uint16_t
#define FR_RES_IDX_NAME u16
#define FR_RES_IDX_FIELD w_indices16
#include "fr_reservoir_csr_impl.h"
#undef FR_RES_IDX
#undef FR_RES_IDX_NAME
#undef FR_RES_IDX_FIELD

#if FR_RES_VECEXT
#undef FR_RES_VEC
#undef FR_RES_VL
#endif
#undef FR_RES_LEAKY_LOOP
#undef FR_RES_ACTIVATE
#undef FR_RES_ROW_TILE
#undef FR_VFN
#undef FR_VCAT
#undef FR_VCAT2
