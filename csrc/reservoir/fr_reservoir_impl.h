/*
 * Body of the reservoir loop, written once and included by fr_reservoir.c
 * for each precision with T (the real type) and S (the suffix, f or d)
 * defined. FR_RFN(name) pastes the suffix. The hot loops are in
 * fr_reservoir_hot_impl.h, compiled once per instruction set.
 *
 * The step (Jaeger 2001; Lukosevicius 2012; Goodfellow et al.
 * (2016), secs. 10.8 and 10.9.2):
 *
 *     x_t = (1 - lr) * x_{t-1} + lr * f(pre_t + W x_{t-1} [+ Wfb y_{t-1}])
 *
 * written once, in fr_res_step, for the open loop (teacher-forced outputs
 * are among the inputs, so in pre_t) and the closed loop (y_{t-1} the
 * readout's output), with a sparse W (CSR, rows optionally shared between
 * two threads) or a dense W (BLAS).
 */
#define FR_RCAT2(a, b) a##_##b
#define FR_RCAT(a, b) FR_RCAT2(a, b)
#define FR_RFN(name) FR_RCAT(name, S)


/* The hot loops, each calling its clone for the ISA level of this CPU (see
 * fr_dispatch.h). */
#if FR_RES_MULTIVERSION
#define FR_RES_DISPATCH(name, args)                                                \
    do {                                                                           \
        const int isa = fr_isa_level();                                            \
        if (isa == FR_ISA_X86_64_V4)                                               \
            FR_RCAT(FR_RFN(name), v4) args;                                        \
        else if (isa == FR_ISA_X86_64_V3)                                          \
            FR_RCAT(FR_RFN(name), v3) args;                                        \
        else                                                                       \
            FR_RCAT(FR_RFN(name), base) args;                                      \
    } while (0)
#else
#define FR_RES_DISPATCH(name, args) FR_RCAT(FR_RFN(name), base) args
#endif

static void FR_RFN(fr_res_add_csr_product)(const T *data, const int32_t *indices,
                                           const int32_t *indptr, ptrdiff_t n, const T *x,
                                           ptrdiff_t batch, T *preact)
{
    FR_RES_DISPATCH(fr_res_add_csr_product, (data, indices, indptr, n, x, batch, preact));
}

static void FR_RFN(fr_res_leaky_update)(int act, const T *preact, const T *lr,
                                        const T *x_old, T *x_new, ptrdiff_t n)
{
    FR_RES_DISPATCH(fr_res_leaky_update, (act, preact, lr, x_old, x_new, n));
}

static void FR_RFN(fr_res_add_input_projection)(const T *u, ptrdiff_t rows, ptrdiff_t d,
                                                ptrdiff_t u_stride, const T *win_t, ptrdiff_t n,
                                                T *out, ptrdiff_t out_stride)
{
    FR_RES_DISPATCH(fr_res_add_input_projection,
                    (u, rows, d, u_stride, win_t, n, out, out_stride));
}

#undef FR_RES_DISPATCH

/* Row-major BLAS with alpha = beta = 1, as fastrnn/_core/blas.pxd calls it:
 * a row-major matrix is the column-major transpose, so the operands and
 * dimensions are swapped. y (m) += op(A) x, A row-major m x n (n x m when
 * trans_a), leading dimension its row length. */
static void FR_RFN(fr_res_gemv)(int trans_a, int m, int n, const T *a, const T *x, T *y)
{
    char trans = trans_a ? 'N' : 'T';
    int one = 1, lda = n;
    T alpha = 1, beta = 1;
    if (m == 0 || n == 0)
        return;
    FR_RFN(fr_res_blas).gemv(&trans, &n, &m, &alpha, (T *)a, &lda, (T *)x, &one, &beta, y,
                             &one);
}

/* C (m x n) += op(A) op(B), op(A) m x k, all row-major, rows lda, ldb and
 * ldc elements apart. */
static void FR_RFN(fr_res_gemm_strided)(int trans_a, int trans_b, int m, int n, int k,
                                        const T *a, int lda, const T *b, int ldb, T *c,
                                        int ldc)
{
    char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
    T alpha = 1, beta = 1;
    if (m == 0 || n == 0)
        return;
    FR_RFN(fr_res_blas).gemm(&ta, &tb, &n, &m, &k, &alpha, (T *)b, &ldb, (T *)a, &lda, &beta,
                             c, &ldc);
}

/* The same with contiguous rows. */
static void FR_RFN(fr_res_gemm)(int trans_a, int trans_b, int m, int n, int k, const T *a,
                                const T *b, T *c)
{
    FR_RFN(fr_res_gemm_strided)(trans_a, trans_b, m, n, k, a, trans_a ? m : k, b,
                                trans_b ? k : n, c, n);
}

/* dst (rows x B, unit-major) = columns [r0, r1) of src (B rows, time-major,
 * ld elements apart) transposed; and back. */
static inline void FR_RFN(fr_res_to_unit_major)(const T *src, ptrdiff_t ld, ptrdiff_t batch,
                                                ptrdiff_t r0, ptrdiff_t r1, T *dst)
{
    if (batch == 1) {
        memcpy(dst, src + r0, (size_t)(r1 - r0) * sizeof(T));
        return;
    }
    for (ptrdiff_t i = 0; i < r1 - r0; ++i)
        for (ptrdiff_t b = 0; b < batch; ++b)
            dst[i * batch + b] = src[b * ld + r0 + i];
}

static inline void FR_RFN(fr_res_from_unit_major)(const T *src, ptrdiff_t ld, ptrdiff_t batch,
                                                  ptrdiff_t r0, ptrdiff_t r1, T *dst)
{
    if (batch == 1) {
        memcpy(dst + r0, src, (size_t)(r1 - r0) * sizeof(T));
        return;
    }
    for (ptrdiff_t i = 0; i < r1 - r0; ++i)
        for (ptrdiff_t b = 0; b < batch; ++b)
            dst[b * ld + r0 + i] = src[i * batch + b];
}

/* The reservoir step for units [r0, r1) of B series (a dense W and the
 * feedback need all units: r0 = 0, r1 = N).
 *
 * row     IN/OUT (B x N, rows ld elements apart): pre_t (Win u_t + bias) in,
 *                x_t out
 * x_old   IN     (N x B): x_{t-1}, all units
 * y_old   IN     (O x B): y_{t-1} fed back through Wfb, or NULL (open loop)
 * preact     OUT    (N x B): work, rows [r0, r1)
 * x_new   OUT    (N x B): x_t, rows [r0, r1)
 */
static inline void FR_RFN(fr_res_step)(const fr_res_model *m, ptrdiff_t batch, ptrdiff_t r0,
                                       ptrdiff_t r1, T *row, ptrdiff_t ld, const T *x_old,
                                       const T *y_old, T *preact, T *x_new)
{
    const ptrdiff_t n = m->units, rows = r1 - r0;
    T *preact_rows = preact + r0 * batch;
    FR_RFN(fr_res_to_unit_major)(row, ld, batch, r0, r1, preact_rows);
    if (m->w_dense == NULL)
        FR_RFN(fr_res_add_csr_product)((const T *)m->w_data, m->w_indices, m->w_indptr + r0, rows,
                               x_old, batch, preact_rows);
    else if (batch == 1)
        FR_RFN(fr_res_gemv)(0, (int)n, (int)n, (const T *)m->w_dense, x_old, preact);
    else
        FR_RFN(fr_res_gemm)(0, 0, (int)n, (int)batch, (int)n, (const T *)m->w_dense, x_old, preact);
    if (y_old != NULL) {
        if (batch == 1)
            FR_RFN(fr_res_gemv)(0, (int)n, (int)m->outputs, (const T *)m->w_fb, y_old, preact);
        else
            FR_RFN(fr_res_gemm)(0, 0, (int)n, (int)batch, (int)m->outputs,
                                (const T *)m->w_fb, y_old, preact);
    }
    FR_RFN(fr_res_leaky_update)(m->activation, preact_rows, (const T *)m->leak + r0 * batch,
                         x_old + r0 * batch, x_new + r0 * batch, rows * batch);
    FR_RFN(fr_res_from_unit_major)(x_new + r0 * batch, ld, batch, r0, r1, row);
}

/* The closed loop's readout: y_t = Wout^T x_t + offset_t.
 *
 * y_row   IN/OUT (B x O): offset_t (intercept and input part) in, y_t out
 * x       IN     (N x B): x_t
 * y_new   OUT    (O x B): y_t, unit-major, to feed back at the next step
 */
static inline void FR_RFN(fr_res_readout)(const fr_res_model *m, ptrdiff_t batch, const T *x,
                                          T *y_row, T *y_new)
{
    const ptrdiff_t n = m->units, O = m->outputs;
    FR_RFN(fr_res_to_unit_major)(y_row, O, batch, 0, O, y_new);
    if (batch == 1)
        FR_RFN(fr_res_gemv)(1, (int)n, (int)O, (const T *)m->w_out, x, y_new);
    else
        FR_RFN(fr_res_gemm)(1, 0, (int)O, (int)batch, (int)n, (const T *)m->w_out, x, y_new);
    FR_RFN(fr_res_from_unit_major)(y_new, O, batch, 0, O, y_row);
}

/* ------------------------------------------------------------------ *
 * The time loop, over the units [r0, r1) of one thread.
 *
 * With a sparse W in the open loop each of two threads may own a
 * contiguous block of rows (units): per step it computes its rows of x_t;
 * a barrier then makes x_t whole before anyone reads it. Only x_{t-1} is
 * shared for reading, and each thread writes only its own rows, so no
 * other synchronisation is needed.
 * ------------------------------------------------------------------ */
typedef struct {
    const fr_res_model *model;
    ptrdiff_t steps, batch, r0, r1, states_stride;
    T *states, *state, *spare, *preact;
    T *y, *y_state, *y_spare;       /* closed loop only */
    fr_res_barrier *barrier;
} FR_RFN(fr_res_job);

static void FR_RFN(fr_res_loop)(const FR_RFN(fr_res_job) *job)
{
    const fr_res_model *m = job->model;
    const ptrdiff_t O = m->outputs, B = job->batch, ld = job->states_stride;
    T *x_old = job->state, *x_new = job->spare, *y_old = job->y_state, *y_new = job->y_spare;
    T *tmp;
    int sense = 0;
    for (ptrdiff_t t = 0; t < job->steps; ++t) {
        FR_RFN(fr_res_step)(m, B, job->r0, job->r1, job->states + t * B * ld, ld, x_old,
                            O > 0 ? y_old : NULL, job->preact, x_new);
        if (O > 0) {
            FR_RFN(fr_res_readout)(m, B, x_new, job->y + t * B * O, y_new);
            tmp = y_old;
            y_old = y_new;
            y_new = tmp;
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
    FR_RFN(fr_res_loop)((const FR_RFN(fr_res_job) *)arg);
    fr_fp_leave(fpstate);
    return NULL;
}
#endif

/* Input projection of all steps, then the time loop (see fr_reservoir.h). */
static int FR_RFN(fr_res_run)(const fr_res_model *m, const fr_res_series *s, int nthreads)
{
    const ptrdiff_t n = m->units, D = m->inputs, O = m->outputs;
    const ptrdiff_t B = s->batch, steps = s->steps;
    T *work = (T *)s->work;
    FR_RFN(fr_res_job) jobs[2];
    unsigned int fpstate;
    int used = 1;
    if (steps == 0 || B == 0)
        return used;
    fpstate = fr_fp_enter();
    if (D > 0 && D <= FR_RES_SMALL_INPUT)
        FR_RFN(fr_res_add_input_projection)((const T *)s->u, steps * B, D, s->u_stride,
                                            (const T *)m->w_in_t, n, (T *)s->states,
                                            s->states_stride);
    else if (D > 0)
        FR_RFN(fr_res_gemm_strided)(0, 1, (int)(steps * B), (int)n, (int)D, (const T *)s->u,
                                    (int)s->u_stride, (const T *)m->w_in, (int)D,
                                    (T *)s->states, (int)s->states_stride);
    jobs[0].model = m;
    jobs[0].steps = steps;
    jobs[0].batch = B;
    jobs[0].r0 = 0;
    jobs[0].r1 = n;
    jobs[0].states = (T *)s->states;
    jobs[0].states_stride = s->states_stride;
    jobs[0].state = (T *)s->state;
    jobs[0].spare = work;
    jobs[0].preact = work + n * B;
    jobs[0].y = (T *)s->y;
    jobs[0].y_state = (T *)s->y_state;
    jobs[0].y_spare = work + 2 * n * B;
    jobs[0].barrier = NULL;
#if FR_RES_THREADS
    if (nthreads >= 2 && n >= 2 && O == 0 && m->w_dense == NULL) {
        /* Split where the work (nonzeros, plus a few operations per unit for
         * the update) is half done. */
        const int32_t *indptr = m->w_indptr;
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
            FR_RFN(fr_res_loop)(&jobs[0]);
            pthread_join(worker, NULL);
            used = 2;
        } else {
            jobs[0].r1 = n;
            jobs[0].barrier = NULL;
            FR_RFN(fr_res_loop)(&jobs[0]);
        }
    } else
#endif
    {
        (void)nthreads;
        FR_RFN(fr_res_loop)(&jobs[0]);
    }
    if (steps % 2 == 1) {   /* the last state (and output) is in the spare buffer */
        memcpy(jobs[0].state, jobs[0].spare, (size_t)(n * B) * sizeof(T));
        if (O > 0)
            memcpy(jobs[0].y_state, jobs[0].y_spare, (size_t)(O * B) * sizeof(T));
    }
    fr_fp_leave(fpstate);
    return used;
}

#undef FR_RFN
#undef FR_RCAT
#undef FR_RCAT2
