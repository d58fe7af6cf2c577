/*
 * Body of the reservoir kernels, written once and included by fr_reservoir.c
 * for each precision with T (the real type) and S (the suffix, f or d)
 * defined. FR_RFN(name) pastes the suffix. The hot loops are in
 * fr_reservoir_hot_impl.h, compiled once per instruction set.
 *
 * One step of the leaky reservoir (Goodfellow et al. (2016), eq. 10.7 with lr = 1/tau):
 *
 *     x_new = (1 - lr) * x_old + lr * f(pre + W x_old)
 *
 * where pre already holds Win u_t + bias (+ Wfb y_{t-1}) (+ noise), computed
 * for all time steps by one product before the loop.
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

/* ------------------------------------------------------------------ *
 * The whole time loop with a sparse W, its rows shared among threads.
 *
 * Each thread owns a contiguous block of rows (units): per step it gathers
 * its rows of the pre-activations, adds its rows of W x_{t-1}, applies the
 * leaky update to them and writes them out; a barrier then makes x_t whole
 * before anyone reads it. Only x_{t-1} is shared for reading, and each
 * thread writes only its own rows, so no other synchronisation is needed.
 * ------------------------------------------------------------------ */
typedef struct {
    int act;
    const T *data;
    const int32_t *indices;
    const int32_t *indptr;
    ptrdiff_t n, batch, steps, r0, r1;
    const T *lr;
    T *state, *spare, *acc, *out;
    fr_res_barrier *barrier;
} FR_RFN(fr_res_job);

static void FR_RFN(fr_res_rows)(const FR_RFN(fr_res_job) *job)
{
    const ptrdiff_t n = job->n, B = job->batch, r0 = job->r0, m = job->r1 - job->r0;
    T *x_old = job->state, *x_new = job->spare, *tmp;
    T *acc = job->acc + r0 * B;
    int sense = 0;
    for (ptrdiff_t t = 0; t < job->steps; ++t) {
        T *pre = job->out + t * B * n;      /* (B x n): pre-activations in, x_t out */
        if (B == 1) {
            memcpy(acc, pre + r0, (size_t)m * sizeof(T));
        } else {
            for (ptrdiff_t i = 0; i < m; ++i)
                for (ptrdiff_t b = 0; b < B; ++b)
                    acc[i * B + b] = pre[b * n + r0 + i];
        }
        FR_RFN(fr_res_csr_acc)(job->data, job->indices, job->indptr + r0, m, x_old, B, acc);
        FR_RFN(fr_res_leaky)(job->act, acc, job->lr + r0 * B, x_old + r0 * B, x_new + r0 * B,
                             m * B);
        if (B == 1) {
            memcpy(pre + r0, x_new + r0, (size_t)m * sizeof(T));
        } else {
            for (ptrdiff_t i = 0; i < m; ++i)
                for (ptrdiff_t b = 0; b < B; ++b)
                    pre[b * n + r0 + i] = x_new[(r0 + i) * B + b];
        }
        if (job->barrier)
            fr_res_barrier_wait(job->barrier, &sense);
        tmp = x_old;
        x_old = x_new;
        x_new = tmp;
    }
}

#if FR_RES_THREADS
static void *FR_RFN(fr_res_thread_main)(void *arg)
{
    unsigned int fpstate = fr_fp_enter();   /* FTZ/DAZ are per thread */
    FR_RFN(fr_res_rows)((const FR_RFN(fr_res_job) *)arg);
    fr_fp_leave(fpstate);
    return NULL;
}
#endif

/* Run `steps` steps of B series: out (steps x B x n) holds the
 * pre-activations on entry and the states on exit; state (n x B) holds x_0
 * on entry and x_T on exit; spare and acc are (n x B) work buffers; lr is
 * (n x B). With nthreads = 2 (where threads are available) the rows are split
 * in two halves of equal work. Returns the number of threads used. */
int FR_RFN(fr_res_run_csr)(int act, const T *data, const int32_t *indices,
                           const int32_t *indptr, ptrdiff_t n, ptrdiff_t batch,
                           ptrdiff_t steps, const T *lr, T *state, T *spare, T *acc,
                           T *out, int nthreads)
{
    FR_RFN(fr_res_job) jobs[2];
    int used = 1;
    jobs[0].act = act;
    jobs[0].data = data;
    jobs[0].indices = indices;
    jobs[0].indptr = indptr;
    jobs[0].n = n;
    jobs[0].batch = batch;
    jobs[0].steps = steps;
    jobs[0].r0 = 0;
    jobs[0].r1 = n;
    jobs[0].lr = lr;
    jobs[0].state = state;
    jobs[0].spare = spare;
    jobs[0].acc = acc;
    jobs[0].out = out;
    jobs[0].barrier = NULL;
#if FR_RES_THREADS
    if (nthreads >= 2 && n >= 2 && steps > 0) {
        /* Split where the work (nonzeros, plus a few operations per unit for
         * the update) is half done. */
        const double unit_cost = 8.0;
        const double half = 0.5 * ((double)indptr[n] - indptr[0] + unit_cost * n);
        ptrdiff_t split = 1;
        fr_res_barrier barrier;
        pthread_t worker;
        while (split < n - 1 && (double)indptr[split] - indptr[0] + unit_cost * split < half)
            ++split;
        fr_res_barrier_init(&barrier, 2);
        jobs[1] = jobs[0];
        jobs[0].r1 = split;
        jobs[1].r0 = split;
        jobs[0].barrier = jobs[1].barrier = &barrier;
        if (pthread_create(&worker, NULL, FR_RFN(fr_res_thread_main), &jobs[1]) == 0) {
            FR_RFN(fr_res_rows)(&jobs[0]);
            pthread_join(worker, NULL);
            used = 2;
        } else {
            jobs[0].r1 = n;
            jobs[0].barrier = NULL;
            FR_RFN(fr_res_rows)(&jobs[0]);
        }
    } else
#endif
    {
        (void)nthreads;
        FR_RFN(fr_res_rows)(&jobs[0]);
    }
    if (steps % 2 == 1)     /* the last state is in spare */
        memcpy(state, spare, (size_t)(n * batch) * sizeof(T));
    return used;
}

#undef FR_RFN
#undef FR_RCAT
#undef FR_RCAT2
