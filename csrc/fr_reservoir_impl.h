/*
 * Body of the reservoir kernels, written once and included by fr_reservoir.c
 * for each precision with T (the real type) and S (the suffix, f or d)
 * defined. FR_RFN(name) pastes the suffix.
 *
 * One step of the leaky reservoir (seed 002, eq. 10.7 with lr = 1/tau):
 *
 *     x_new = (1 - lr) * x_old + lr * f(pre + W x_old)
 *
 * where pre already holds Win u_t + bias (+ Wfb y_{t-1}) (+ noise), computed
 * for all time steps by one GEMM before the loop.
 */
#define FR_RCAT2(a, b) a##_##b
#define FR_RCAT(a, b) FR_RCAT2(a, b)
#define FR_RFN(name) FR_RCAT(name, S)

/* dst (cols x rows) = src (rows x cols)^T. With rows == 1 or cols == 1 it
 * is a copy. */
void FR_RFN(fr_res_transpose)(const T *src, ptrdiff_t rows, ptrdiff_t cols, T *dst)
{
    if (rows == 1 || cols == 1) {
        memcpy(dst, src, (size_t)(rows * cols) * sizeof(T));
        return;
    }
    for (ptrdiff_t r = 0; r < rows; ++r)
        for (ptrdiff_t c = 0; c < cols; ++c)
            dst[c * rows + r] = src[r * cols + c];
}

/* acc (n x batch) += W x, W an n x n CSR matrix and x (n x batch). */
void FR_RFN(fr_res_csr_acc)(const T *data, const int32_t *indices, const int32_t *indptr,
                            ptrdiff_t n, const T *x, ptrdiff_t batch, T *acc)
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
            acc[i] += (s0 + s1) + (s2 + s3);
        }
        return;
    }
    for (ptrdiff_t i = 0; i < n; ++i) {
        T *restrict a = acc + i * batch;
        for (int32_t k = indptr[i]; k < indptr[i + 1]; ++k) {
            const T w = data[k];
            const T *restrict xs = x + (ptrdiff_t)indices[k] * batch;
            for (ptrdiff_t b = 0; b < batch; ++b)
                a[b] += w * xs[b];
        }
    }
}

#define FR_RES_ACTIVATE(act, v)                                                    \
    ((act) == FR_RES_TANH ? FR_RFN(frm_tanh)(v)                                    \
     : (act) == FR_RES_SIGMOID ? FR_RFN(frm_sigmoid)(v)                            \
     : (act) == FR_RES_RELU ? ((v) > (T)0 ? (v) : ((v) == (v) ? (T)0 : (v)))       \
     : (v))

/* x_new = (1 - lr) x_old + lr f(acc), all n x batch, lr one value per unit
 * (row). The activation is chosen outside the loops so that each loop body
 * is branch-free and vectorises. */
#define FR_RES_LEAKY_LOOP(ACT)                                                     \
    do {                                                                           \
        if (batch == 1) {                                                          \
            for (ptrdiff_t i = 0; i < n; ++i) {                                    \
                const T v = acc[i];                                                \
                x_new[i] = ((T)1 - lr[i]) * x_old[i] + lr[i] * FR_RES_ACTIVATE(ACT, v); \
            }                                                                      \
        } else {                                                                   \
            for (ptrdiff_t i = 0; i < n; ++i) {                                    \
                const T l = lr[i], keep = (T)1 - lr[i];                            \
                const T *restrict a = acc + i * batch;                             \
                const T *restrict xo = x_old + i * batch;                          \
                T *restrict xn = x_new + i * batch;                                \
                for (ptrdiff_t b = 0; b < batch; ++b) {                            \
                    const T v = a[b];                                              \
                    xn[b] = keep * xo[b] + l * FR_RES_ACTIVATE(ACT, v);            \
                }                                                                  \
            }                                                                      \
        }                                                                          \
    } while (0)

void FR_RFN(fr_res_leaky)(int act, const T *acc, const T *lr, const T *x_old, T *x_new,
                          ptrdiff_t n, ptrdiff_t batch)
{
    switch (act) {
    case FR_RES_TANH: FR_RES_LEAKY_LOOP(FR_RES_TANH); break;
    case FR_RES_SIGMOID: FR_RES_LEAKY_LOOP(FR_RES_SIGMOID); break;
    case FR_RES_RELU: FR_RES_LEAKY_LOOP(FR_RES_RELU); break;
    default: FR_RES_LEAKY_LOOP(FR_RES_IDENTITY); break;
    }
}

/* One whole step with a sparse W: acc = pre^T + W x_old, x_new = leaky(acc),
 * out = x_new^T. pre and out are (batch x n), the rest (n x batch). pre and
 * out may be the same buffer (the pre-activations are read before the state
 * overwrites them). */
void FR_RFN(fr_res_step_csr)(int act, const T *data, const int32_t *indices,
                             const int32_t *indptr, ptrdiff_t n, ptrdiff_t batch,
                             const T *pre, const T *lr, const T *x_old, T *x_new,
                             T *acc, T *out)
{
    FR_RFN(fr_res_transpose)(pre, batch, n, acc);
    FR_RFN(fr_res_csr_acc)(data, indices, indptr, n, x_old, batch, acc);
    FR_RFN(fr_res_leaky)(act, acc, lr, x_old, x_new, n, batch);
    FR_RFN(fr_res_transpose)(x_new, n, batch, out);
}

#undef FR_RES_LEAKY_LOOP
#undef FR_RES_ACTIVATE
#undef FR_RFN
#undef FR_RCAT
#undef FR_RCAT2
