/*
 * The two hot loops of a reservoir step (CSR product, activation + leak),
 * included by fr_reservoir.c once per precision (T, S) and ISA level
 * (V = base, v3, v4 with FR_RES_TARGET the matching target attribute of fr_dispatch.h).
 * FR_VFN(name) pastes the precision and the instruction set: name_S_V.
 */
#define FR_VCAT2(a, b) a##_##b
#define FR_VCAT(a, b) FR_VCAT2(a, b)
#define FR_VFN(name) FR_VCAT(FR_VCAT(name, S), V)

/* FR_RES_WIDE (set by fr_reservoir.c per instruction set): the widest block
 * of series the batched CSR product keeps in registers, four vector
 * registers' worth, so that four independent add chains hide the latency of
 * the additions. The block width never changes a result: every element still
 * sums its row's nonzeros in order. */
#ifndef FR_RES_WIDE
#define FR_RES_WIDE 8
#endif

/* preact (n x batch) += W x, W an n x n CSR matrix and x (n x batch). */
FR_RES_TARGET static void FR_VFN(fr_res_add_csr_product)(const T *data, const int32_t *indices,
                                                        const int32_t *indptr, ptrdiff_t n,
                                                        const T *x, ptrdiff_t batch, T *preact)
{
    if (batch == 1) {
        for (ptrdiff_t i = 0; i < n; ++i) {
            /* Four partial sums: the row's gathers are independent, a single
             * accumulator would serialise them on the add latency. */
            T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int32_t k = indptr[i];
            const int32_t end = indptr[i + 1];
            for (; k + 4 <= end; k += 4) {
                s0 += data[k] * x[indices[k]];
                s1 += data[k + 1] * x[indices[k + 1]];
                s2 += data[k + 2] * x[indices[k + 2]];
                s3 += data[k + 3] * x[indices[k + 3]];
            }
            for (; k < end; ++k)
                s0 += data[k] * x[indices[k]];
            preact[i] += (s0 + s1) + (s2 + s3);
        }
        return;
    }
    for (ptrdiff_t i = 0; i < n; ++i) {
        T *restrict a = preact + i * batch;
        const int32_t start = indptr[i], end = indptr[i + 1];
        ptrdiff_t b0 = 0;
        /* Blocks of series held in registers across the whole row: each
         * nonzero of W then costs one broadcast and a few vector multiplies
         * and adds, and the accumulators are loaded and stored once per row
         * instead of once per nonzero. */
#define FR_RES_ROW_BLOCK(WIDTH)                                                    \
        for (; b0 + (WIDTH) <= batch; b0 += (WIDTH)) {                             \
            T s[WIDTH];                                                            \
            for (int j = 0; j < (WIDTH); ++j)                                      \
                s[j] = a[b0 + j];                                                  \
            for (int32_t k = start; k < end; ++k) {                                \
                const T w = data[k];                                               \
                const T *restrict xs = x + (ptrdiff_t)indices[k] * batch + b0;     \
                for (int j = 0; j < (WIDTH); ++j)                                  \
                    s[j] += w * xs[j];                                             \
            }                                                                      \
            for (int j = 0; j < (WIDTH); ++j)                                      \
                a[b0 + j] = s[j];                                                  \
        }
#if FR_RES_WIDE >= 32
        FR_RES_ROW_BLOCK(32)
#endif
#if FR_RES_WIDE >= 16
        FR_RES_ROW_BLOCK(16)
#endif
        FR_RES_ROW_BLOCK(8)
        FR_RES_ROW_BLOCK(4)
        FR_RES_ROW_BLOCK(1)
#undef FR_RES_ROW_BLOCK
    }
}

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


#undef FR_RES_LEAKY_LOOP
#undef FR_RES_ACTIVATE
#undef FR_VFN
#undef FR_VCAT
#undef FR_VCAT2
