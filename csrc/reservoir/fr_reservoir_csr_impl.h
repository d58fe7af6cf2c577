/*
 * The sparse (CSR) kernels of the reservoir step, written once for both
 * widths of column index and included by fr_reservoir_hot_impl.h twice per
 * precision and ISA level: FR_RES_IDX the index type (int32_t, or uint16_t
 * when N <= 65536, which cuts what streams through the core per nonzero
 * from 12 to 10 bytes in double and from 8 to 6 in float) and
 * FR_RES_IDX_NAME its tag in the names (i32, u16), FR_RES_IDX_FIELD the
 * model's array of them (w_indices, w_indices16). FR_IFN(name) gives
 * name_<tag>_<S>_<V>. The index width changes no result.
 */
#define FR_IFN(name) FR_VFN(FR_VCAT(name, FR_RES_IDX_NAME))

/* The row [start, end) of W times x (one series): four interleaved partial
 * sums (the row's gathers are independent; a single accumulator would
 * serialise them on the add latency), added as (s0 + s1) + (s2 + s3).
 * `loads` (AVX2 clones): fetch x's entries with plain loads into the vector
 * instead of a hardware gather (FR_RES_FETCH_LOADS); the same sums. */
FR_RES_TARGET static inline T FR_IFN(fr_res_row_dot)(const T *data, const FR_RES_IDX *indices,
                                                    int32_t start, int32_t end, const T *x,
                                                    int loads)
{
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t k = start;
#if FR_RES_GATHER
    /* Lane j of a 4-wide vector is partial sum s_j: the same IEEE operations
     * in the same order as the scalar loop below, with the row's entries of
     * x fetched four at a time, by one hardware gather (GATHER) or by four
     * plain loads (LOADS). */
#define FR_RES_ROW_VECTORS(VT, ET, ZERO, LOADU, ADD, MUL, STORE, FETCH)            \
    {                                                                          \
        VT acc = ZERO();                                                       \
        ET lanes[4];                                                           \
        for (; k + 4 <= end; k += 4)                                           \
            acc = ADD(acc, MUL(LOADU((const ET *)data + k), FETCH));           \
        STORE(lanes, acc);                                                     \
        s0 = (T)lanes[0]; s1 = (T)lanes[1]; s2 = (T)lanes[2]; s3 = (T)lanes[3]; \
    }
#define FR_RES_AT4 (sizeof(FR_RES_IDX) == 2                                        \
        ? _mm_cvtepu16_epi32(_mm_loadl_epi64((const __m128i *)(indices + k)))    \
        : _mm_loadu_si128((const __m128i *)(indices + k)))
#define FR_RES_ROW_D(FETCH)                                                        \
    FR_RES_ROW_VECTORS(__m256d, double, _mm256_setzero_pd, _mm256_loadu_pd, _mm256_add_pd, \
                       _mm256_mul_pd, _mm256_storeu_pd, FETCH)
#define FR_RES_ROW_F(FETCH)                                                        \
    FR_RES_ROW_VECTORS(__m128, float, _mm_setzero_ps, _mm_loadu_ps, _mm_add_ps, _mm_mul_ps, \
                       _mm_storeu_ps, FETCH)
    if (end - k >= 4) {
        const double *xd = (const double *)x;
        const float *xf = (const float *)x;
        if (sizeof(T) == sizeof(double) && loads)
            FR_RES_ROW_D(_mm256_set_pd(xd[indices[k + 3]], xd[indices[k + 2]],
                                       xd[indices[k + 1]], xd[indices[k]]))
        else if (sizeof(T) == sizeof(double))
            FR_RES_ROW_D(_mm256_i32gather_pd(xd, FR_RES_AT4, 8))
        else if (loads)
            FR_RES_ROW_F(_mm_set_ps(xf[indices[k + 3]], xf[indices[k + 2]],
                                    xf[indices[k + 1]], xf[indices[k]]))
        else
            FR_RES_ROW_F(_mm_i32gather_ps(xf, FR_RES_AT4, 4))
    }
#undef FR_RES_ROW_F
#undef FR_RES_ROW_D
#undef FR_RES_AT4
#undef FR_RES_ROW_VECTORS
#else
    (void)loads;
#endif
    for (; k + 4 <= end; k += 4) {
        s0 += data[k] * x[indices[k]];
        s1 += data[k + 1] * x[indices[k + 1]];
        s2 += data[k + 2] * x[indices[k + 2]];
        s3 += data[k + 3] * x[indices[k + 3]];
    }
    for (; k < end; ++k)
        s0 += data[k] * x[indices[k]];
    return (s0 + s1) + (s2 + s3);
}

/* preact (n x batch) += W x, W n CSR rows (indptr[0] .. indptr[n]) and
 * x (N x batch); one series fetches x as `loads` says (fr_res_row_dot). */
FR_RES_TARGET static void FR_IFN(fr_res_add_csr_product)(const T *data, const FR_RES_IDX *indices,
                                                        const int32_t *indptr, ptrdiff_t n,
                                                        const T *x, ptrdiff_t batch, int loads,
                                                        T *preact)
{
    if (batch == 1) {
        for (ptrdiff_t i = 0; i < n; ++i)
            preact[i] += FR_IFN(fr_res_row_dot)(data, indices, indptr[i], indptr[i + 1], x,
                                                loads);
        return;
    }
    for (ptrdiff_t i = 0; i < n; ++i) {
        T *restrict a = preact + i * batch;
        const int32_t start = indptr[i], end = indptr[i + 1];
        ptrdiff_t b0 = 0;
#if FR_RES_VECEXT
        /* NV vector registers of series held across the whole row: each
         * nonzero of W costs one broadcast and NV vector multiplies and
         * adds, and the accumulators are loaded and stored once per row.
         * Every element still sums its row's nonzeros in order. */
#define FR_RES_VEC_BLOCK(NV)                                                       \
        for (; b0 + (NV) * FR_RES_VL <= batch; b0 += (NV) * FR_RES_VL) {           \
            FR_RES_VEC s[NV];                                                      \
            for (int j = 0; j < (NV); ++j)                                         \
                s[j] = *(const FR_RES_VEC *)(a + b0 + j * FR_RES_VL);              \
            for (int32_t k = start; k < end; ++k) {                                \
                const T w = data[k];                                               \
                const T *xs = x + (ptrdiff_t)indices[k] * batch + b0;              \
                for (int j = 0; j < (NV); ++j)                                     \
                    s[j] += w * *(const FR_RES_VEC *)(xs + j * FR_RES_VL);         \
            }                                                                      \
            for (int j = 0; j < (NV); ++j)                                         \
                *(FR_RES_VEC *)(a + b0 + j * FR_RES_VL) = s[j];                    \
        }
        FR_RES_VEC_BLOCK(4)
        FR_RES_VEC_BLOCK(2)
        FR_RES_VEC_BLOCK(1)
#undef FR_RES_VEC_BLOCK
#endif
        for (; b0 < batch; ++b0) {
            T s = a[b0];
            for (int32_t k = start; k < end; ++k)
                s += data[k] * x[(ptrdiff_t)indices[k] * batch + b0];
            a[b0] = s;
        }
    }
}

/* Steps [t0, t1) of one series (B = 1) over the units [r0, r1), in one pass
 * per tile of rows: the pre-activation (the bias and the input projection
 * when `fused`, else what the caller put in the row), plus W x_{t-1}, then
 * the activation and the leak, written to the row of x_t in `states`, which
 * is also where x_{t+1} reads it: no copies between steps. x_0 is
 * s->state. Between two steps of a multithreaded run the caller makes x_t
 * whole. W x_{t-1} from `sell` when given (the same sums; AVX-512 builds
 * only, r0 then a multiple of its window), else from the CSR rows, with x's
 * entries fetched by plain loads when `loads` (see fr_res_row_dot). */
FR_RES_TARGET static void FR_IFN(fr_res_single_steps)(const fr_res_model *m,
                                                     const fr_res_series *s,
                                                     const fr_res_sell *sell, int loads,
                                                     int fused,
                                                     ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t r0,
                                                     ptrdiff_t r1)
{
    const T *data = (const T *)m->w_data;
    const FR_RES_IDX *indices = (const FR_RES_IDX *)m->FR_RES_IDX_FIELD;
    const int32_t *indptr = m->w_indptr;
    const T *lr = (const T *)m->leak;
    const ptrdiff_t ld = s->states_stride;
    T *const states = (T *)s->states;
    T pre[FR_RES_ROW_TILE];
    (void)sell;
    for (ptrdiff_t t = t0; t < t1; ++t) {
        const T *x_old = t == 0 ? (const T *)s->state : states + (t - 1) * ld;
        T *row = states + t * ld;
        const T *u_t = fused && m->inputs > 0 ? (const T *)s->u + t * s->u_stride : NULL;
        for (ptrdiff_t i0 = r0; i0 < r1; i0 += FR_RES_ROW_TILE) {
            const ptrdiff_t rows = r1 - i0 < FR_RES_ROW_TILE ? r1 - i0 : FR_RES_ROW_TILE;
            if (fused)
                FR_VFN(fr_res_project_tile)((const T *)m->bias + i0, u_t, m->inputs,
                                            (const T *)m->w_in_t + i0, m->units, rows, pre);
            else
                memcpy(pre, row + i0, (size_t)rows * sizeof(T));
#if FR_RES_SELL
            if (sell != NULL) {
                for (ptrdiff_t j = 0; j < rows; j += sell->lanes)
                    FR_VFN(fr_res_sell_group)(sell, (i0 + j) / sell->lanes, x_old, loads, pre);
            } else
#endif
            for (ptrdiff_t j = 0; j < rows; ++j)
                pre[j] += FR_IFN(fr_res_row_dot)(data, indices, indptr[i0 + j],
                                                 indptr[i0 + j + 1], x_old, loads);
            FR_VFN(fr_res_leaky_update)(m->activation, pre, lr + i0, x_old + i0, row + i0,
                                        rows);
        }
    }
}

#undef FR_IFN
