/*
 * Body of the reservoir kernels, written once and included by fr_reservoir.c
 * for each precision with T (the real type) and S (the suffix, f or d)
 * defined. FR_RFN(name) pastes the suffix. The hot loops are in
 * fr_reservoir_hot_impl.h, compiled once per instruction set.
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

/* Dispatch to the widest instruction set this CPU has (see fr_reservoir.c). */
void FR_RFN(fr_res_csr_acc)(const T *data, const int32_t *indices, const int32_t *indptr,
                            ptrdiff_t n, const T *x, ptrdiff_t batch, T *acc)
{
#if FR_RES_MULTIVERSION
    int isa = fr_res_isa();
    if (isa == 2) {
        FR_RCAT(FR_RFN(fr_res_csr_acc), avx512)(data, indices, indptr, n, x, batch, acc);
        return;
    }
    if (isa == 1) {
        FR_RCAT(FR_RFN(fr_res_csr_acc), avx2)(data, indices, indptr, n, x, batch, acc);
        return;
    }
#endif
    FR_RCAT(FR_RFN(fr_res_csr_acc), base)(data, indices, indptr, n, x, batch, acc);
}

void FR_RFN(fr_res_leaky)(int act, const T *acc, const T *lr, const T *x_old, T *x_new,
                          ptrdiff_t n)
{
#if FR_RES_MULTIVERSION
    int isa = fr_res_isa();
    if (isa == 2) {
        FR_RCAT(FR_RFN(fr_res_leaky), avx512)(act, acc, lr, x_old, x_new, n);
        return;
    }
    if (isa == 1) {
        FR_RCAT(FR_RFN(fr_res_leaky), avx2)(act, acc, lr, x_old, x_new, n);
        return;
    }
#endif
    FR_RCAT(FR_RFN(fr_res_leaky), base)(act, acc, lr, x_old, x_new, n);
}

void FR_RFN(fr_res_input_proj)(const T *u, ptrdiff_t rows, ptrdiff_t d, const T *win_t,
                               ptrdiff_t n, T *out)
{
#if FR_RES_MULTIVERSION
    int isa = fr_res_isa();
    if (isa == 2) {
        FR_RCAT(FR_RFN(fr_res_input_proj), avx512)(u, rows, d, win_t, n, out);
        return;
    }
    if (isa == 1) {
        FR_RCAT(FR_RFN(fr_res_input_proj), avx2)(u, rows, d, win_t, n, out);
        return;
    }
#endif
    FR_RCAT(FR_RFN(fr_res_input_proj), base)(u, rows, d, win_t, n, out);
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
    FR_RFN(fr_res_leaky)(act, acc, lr, x_old, x_new, n * batch);
    FR_RFN(fr_res_transpose)(x_new, n, batch, out);
}

#undef FR_RFN
#undef FR_RCAT
#undef FR_RCAT2
