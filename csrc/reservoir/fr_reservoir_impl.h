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


/* A batch runs in blocks of at most this many series, each block for all
 * steps: one block's unit-major states (N x 32 doubles: 128 KiB at
 * N = 500) stay in a core's L2 while W streams past once per step. */
#define FR_RES_BLOCK_SERIES ((ptrdiff_t)(256 / sizeof(T)))
/* From this many bytes of states a loop of one series on two threads has
 * both touch the output's pages first (fr_res_touch_chunk): allocations this
 * large are fresh pages from the kernel (glibc maps them anew each time),
 * and touching mapped pages again costs little beside a run this long. */
#define FR_RES_TOUCH_BYTES (32.0 * 1024 * 1024)
/* the scratch of a block: x_{t-1}, x_t, pre-activations, leak rates */
#define FR_RES_BLOCK_BUFFERS 4

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

/* preact (n x batch) += rows of W x, in the index width the model has;
 * `loads`: one series fetches x by plain loads (fr_res_row_dot). */
static void FR_RFN(fr_res_add_csr_product)(const fr_res_model *m, const int32_t *indptr,
                                           ptrdiff_t n, const T *x, ptrdiff_t batch, int loads,
                                           T *preact)
{
    const T *data = (const T *)m->w_data;
    /* 16-bit indices only for one series: with a batch each index serves B
     * products, and the wide loop was measured faster with int32 */
    if (m->w_indices16 != NULL && batch == 1)
        FR_RES_DISPATCH(fr_res_add_csr_product_u16,
                        (data, m->w_indices16, indptr, n, x, batch, loads, preact));
    else
        FR_RES_DISPATCH(fr_res_add_csr_product_i32,
                        (data, m->w_indices, indptr, n, x, batch, loads, preact));
}

typedef void (*FR_RFN(fr_res_single_fn))(const fr_res_model *m, const fr_res_series *s,
                                         const fr_res_sell *sell, int loads, int fused,
                                         ptrdiff_t t0,
                                         ptrdiff_t t1, ptrdiff_t r0, ptrdiff_t r1);

/* W in SELL-C for the single-series steps of this CPU, when they have it
 * (AVX-512, 16-bit indices), the run is long enough to pay for the layout
 * and W small enough for a second copy; else 0, and the steps read the CSR
 * rows (the same sums). */
static int FR_RFN(fr_res_sell_for)(const fr_res_model *m, ptrdiff_t steps, fr_res_sell *sell)
{
#if FR_RES_MULTIVERSION
    const double bytes = ((double)m->w_indptr[m->units] - m->w_indptr[0])
                         * (sizeof(T) + sizeof(uint16_t));
    if (fr_isa_level() == FR_ISA_X86_64_V4 && m->w_indices16 != NULL
            && steps >= FR_RES_SELL_MIN_STEPS && bytes <= FR_RES_SELL_MAX_BYTES)
        return fr_res_sell_build(m, 64 / (int)sizeof(T), sizeof(T), sell);
#endif
    (void)m;
    (void)steps;
    (void)sell;
    return 0;
}

/* The fused single-series steps of this CPU's ISA level and the model's
 * index width, chosen once per call. */
static FR_RFN(fr_res_single_fn) FR_RFN(fr_res_single_steps_for)(const fr_res_model *m)
{
#if FR_RES_MULTIVERSION
    const int isa = fr_isa_level();
    if (isa == FR_ISA_X86_64_V4)
        return m->w_indices16 != NULL ? FR_RCAT(FR_RFN(fr_res_single_steps_u16), v4)
                                      : FR_RCAT(FR_RFN(fr_res_single_steps_i32), v4);
    if (isa == FR_ISA_X86_64_V3)
        return m->w_indices16 != NULL ? FR_RCAT(FR_RFN(fr_res_single_steps_u16), v3)
                                      : FR_RCAT(FR_RFN(fr_res_single_steps_i32), v3);
#endif
    return m->w_indices16 != NULL ? FR_RCAT(FR_RFN(fr_res_single_steps_u16), base)
                                  : FR_RCAT(FR_RFN(fr_res_single_steps_i32), base);
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
    ptrdiff_t i = 0;
    if (batch == 1) {
        memcpy(dst + r0, src, (size_t)(r1 - r0) * sizeof(T));
        return;
    }
    /* eight units at a time: a series' row is then written a cache line
     * at a time, not one element into each of B rows in turn */
    for (; i + 8 <= r1 - r0; i += 8)
        for (ptrdiff_t b = 0; b < batch; ++b) {
            T *restrict d = dst + b * ld + r0 + i;
            const T *restrict from = src + i * batch + b;
            for (int k = 0; k < 8; ++k)
                d[k] = from[k * batch];
        }
    for (; i < r1 - r0; ++i)
        for (ptrdiff_t b = 0; b < batch; ++b)
            dst[b * ld + r0 + i] = src[i * batch + b];
}

/* preact (rows [r0, r1) x B, unit-major) = bias + Win u_t, summed as the
 * all-steps projection does (the bias, then input 0, 1, ...). u_t is B rows
 * of D inputs, ud elements apart. */
static inline void FR_RFN(fr_res_project_unit_major)(const fr_res_model *m, const T *u_t,
                                                     ptrdiff_t ud, ptrdiff_t batch,
                                                     ptrdiff_t r0, ptrdiff_t r1, T *preact)
{
    const T *bias = (const T *)m->bias, *win_t = (const T *)m->w_in_t;
    const ptrdiff_t n = m->units, D = m->inputs;
    for (ptrdiff_t i = r0; i < r1; ++i) {
        T *restrict p = preact + (i - r0) * batch;
        for (ptrdiff_t b = 0; b < batch; ++b)
            p[b] = bias[i];
        /* over the series innermost: unit stride for the usual one input */
        for (ptrdiff_t j = 0; j < D; ++j) {
            const T w = win_t[j * n + i];
            for (ptrdiff_t b = 0; b < batch; ++b)
                p[b] += u_t[b * ud + j] * w;
        }
    }
}

/* The reservoir step for units [r0, r1) of B series (a dense W and the
 * feedback need all units: r0 = 0, r1 = N).
 *
 * row     IN/OUT (B x N, rows ld elements apart): pre_t (Win u_t + bias) in
 *                unless `fused`, x_t out
 * u_t     IN     (B x D, rows ud apart) the inputs of step t, read when
 *                `fused` (the step computes bias + Win u_t itself)
 * x_old   IN     (N x B): x_{t-1}, all units
 * y_old   IN     (O x B): y_{t-1} fed back through Wfb, or NULL (open loop)
 * loads   IN     one series: W's rows fetch x by plain loads, not gathers
 * preact     OUT    (N x B): work, rows [r0, r1)
 * x_new   OUT    (N x B): x_t, rows [r0, r1)
 */
static inline void FR_RFN(fr_res_step)(const fr_res_model *m, ptrdiff_t batch, ptrdiff_t r0,
                                       ptrdiff_t r1, T *row, ptrdiff_t ld, int fused,
                                       const T *u_t, ptrdiff_t ud, const T *x_old,
                                       const T *y_old, int loads, T *preact, T *x_new)
{
    const ptrdiff_t n = m->units, rows = r1 - r0;
    T *preact_rows = preact + r0 * batch;
    if (fused)
        FR_RFN(fr_res_project_unit_major)(m, u_t, ud, batch, r0, r1, preact_rows);
    else
        FR_RFN(fr_res_to_unit_major)(row, ld, batch, r0, r1, preact_rows);
    if (m->w_dense == NULL)
        FR_RFN(fr_res_add_csr_product)(m, m->w_indptr + r0, rows, x_old, batch, loads,
                                       preact_rows);
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
 * The time loop.
 *
 * With a sparse W in the open loop the units may be split between the
 * threads of the team (csrc/common/fr_team.h), a contiguous block of rows
 * each, one phase per step: a thread computes its rows of x_t, and the
 * phase's end makes x_t whole before anyone reads it. Only x_{t-1} is read
 * by all, and each row is written by one thread, so no other
 * synchronisation is needed, and the rows' results do not depend on who
 * computes them.
 * ------------------------------------------------------------------ */
typedef struct {
    const fr_res_model *model;
    const fr_res_series *series;
    ptrdiff_t split[3];                 /* chunk c owns units [split[c], split[c+1]) */
    int fused;                          /* the steps compute bias + Win u_t */
    T *spare, *preact, *y_spare;
    FR_RFN(fr_res_single_fn) single;    /* one series: the fused steps; else NULL */
    const fr_res_sell *sell;            /* W for `single` in SELL-C, or NULL: CSR */
    int loads;                          /* `single` fetches x by plain loads, not gathers */
    ptrdiff_t by_series[3];             /* a batch split by series: chunk c owns the
                                         * series [by_series[c], by_series[c+1]) */
    ptrdiff_t block_width;              /* the widest block of series, at most
                                         * FR_RES_BLOCK_SERIES */
    T *block_work;                      /* FR_RES_BLOCK_BUFFERS buffers of N x
                                         * block_width per chunk */
} FR_RFN(fr_res_job);

/* x_{t-1} and x_t of step t of B >= 2 series (or a dense W): unit-major
 * buffers taken in turn, the state first. */
static inline T *FR_RFN(fr_res_x)(const FR_RFN(fr_res_job) *job, ptrdiff_t t)
{
    return t % 2 == 0 ? (T *)job->series->state : job->spare;
}

/* Step t of B series over units [r0, r1), open loop. */
static void FR_RFN(fr_res_open_step)(const FR_RFN(fr_res_job) *job, ptrdiff_t t, ptrdiff_t r0,
                                     ptrdiff_t r1)
{
    const fr_res_series *s = job->series;
    const ptrdiff_t B = s->batch, ld = s->states_stride;
    const T *u_t = job->fused && job->model->inputs > 0
                       ? (const T *)s->u + t * B * s->u_stride : NULL;
    FR_RFN(fr_res_step)(job->model, B, r0, r1, (T *)s->states + t * B * ld, ld, job->fused, u_t,
                        s->u_stride,
                        FR_RFN(fr_res_x)(job, t), NULL, job->loads, job->preact,
                        FR_RFN(fr_res_x)(job, t + 1));
}

static void FR_RFN(fr_res_chunk)(void *ctx, long t, int chunk, int tid)
{
    const FR_RFN(fr_res_job) *job = (const FR_RFN(fr_res_job) *)ctx;
    (void)tid;
    if (job->single != NULL)
        job->single(job->model, job->series, job->sell, job->loads, job->fused, t, t + 1,
                    job->split[chunk], job->split[chunk + 1]);
    else
        FR_RFN(fr_res_open_step)(job, t, job->split[chunk], job->split[chunk + 1]);
}

/* Steps 0 .. T-1 of the series [b0, b0 + bw) of a batch, open loop, sparse
 * W: the series are independent, so a block of them runs all its steps
 * with no other thread, its unit-major states (N x bw) staying in this
 * core's cache. The same sums as the step of all B series at once.
 *
 * buffers  scratch: x_{t-1} and x_t (N x bw each), the pre-activations
 *          (N x bw) and each unit's leak rate repeated bw times (N x bw) */
static void FR_RFN(fr_res_series_block)(const FR_RFN(fr_res_job) *job, ptrdiff_t b0,
                                        ptrdiff_t bw, T *buffers)
{
    const fr_res_model *m = job->model;
    const fr_res_series *s = job->series;
    const ptrdiff_t n = m->units, B = s->batch, ld = s->states_stride, ud = s->u_stride;
    T *x[2] = {buffers, buffers + n * bw};
    T *pre = buffers + 2 * n * bw, *leak = buffers + 3 * n * bw;
    T *state = (T *)s->state;
    const T *leak_b = (const T *)m->leak;    /* repeated B times */
    for (ptrdiff_t i = 0; i < n; ++i)
        for (ptrdiff_t j = 0; j < bw; ++j) {
            x[0][i * bw + j] = state[i * B + b0 + j];
            leak[i * bw + j] = leak_b[i * B];
        }
    for (ptrdiff_t t = 0; t < s->steps; ++t) {
        const T *x_old = x[t % 2];
        T *x_new = x[(t + 1) % 2];
        T *rows = (T *)s->states + (t * B + b0) * ld;
        if (job->fused)
            FR_RFN(fr_res_project_unit_major)(m, m->inputs > 0 ? (const T *)s->u
                                                  + (t * B + b0) * ud : NULL,
                                              ud, bw, 0, n, pre);
        else
            FR_RFN(fr_res_to_unit_major)(rows, ld, bw, 0, n, pre);
        FR_RFN(fr_res_add_csr_product)(m, m->w_indptr, n, x_old, bw, 0, pre);
        FR_RFN(fr_res_leaky_update)(m->activation, pre, leak, x_old, x_new, n * bw);
        FR_RFN(fr_res_from_unit_major)(x_new, ld, bw, 0, n, rows);
    }
    for (ptrdiff_t i = 0; i < n; ++i)
        for (ptrdiff_t j = 0; j < bw; ++j)
            state[i * B + b0 + j] = x[s->steps % 2][i * bw + j];
}

/* Chunk c of a batch split by series: its series (at least two; see
 * fr_res_series_split) in blocks of at most FR_RES_BLOCK_SERIES, each for
 * all steps (one phase). */
static void FR_RFN(fr_res_series_chunk)(void *ctx, long phase, int chunk, int tid)
{
    const FR_RFN(fr_res_job) *job = (const FR_RFN(fr_res_job) *)ctx;
    T *buffers = job->block_work
                 + (ptrdiff_t)chunk * FR_RES_BLOCK_BUFFERS * job->model->units
                   * job->block_width;
    (void)phase;
    (void)tid;
    for (ptrdiff_t b0 = job->by_series[chunk], bw; b0 < job->by_series[chunk + 1]; b0 += bw) {
        const ptrdiff_t left = job->by_series[chunk + 1] - b0;
        bw = left < FR_RES_BLOCK_SERIES ? left : FR_RES_BLOCK_SERIES;
        /* never a block of one series: the product would sum it as a
         * single series does, in another order */
        if (left - bw == 1)
            bw -= 1;
        FR_RFN(fr_res_series_block)(job, b0, bw, buffers);
    }
}

/* Half c of the rows of `states` written once per page (a zero where a
 * state will go; only in the fused loop, whose states hold nothing yet),
 * before a loop of one series on two threads. A fresh output array's pages
 * are mapped and zeroed by the kernel at their first write; in the loop
 * that write stalls the thread that makes it while the other waits for it
 * at the step's end (measured at N = 500: 56 ms for a new array against 50
 * into one already mapped), whereas here both threads take half of them at
 * once. */
static void FR_RFN(fr_res_touch_chunk)(void *ctx, long phase, int chunk, int tid)
{
    const FR_RFN(fr_res_job) *job = (const FR_RFN(fr_res_job) *)ctx;
    const fr_res_series *s = job->series;
    const ptrdiff_t n = job->model->units, half = (s->steps + 1) / 2;
    const ptrdiff_t page = 4096 / (ptrdiff_t)sizeof(T);
    const ptrdiff_t t1 = chunk == 0 ? half : s->steps;
    (void)phase;
    (void)tid;
    for (ptrdiff_t t = chunk == 0 ? 0 : half; t < t1; ++t) {
        volatile T *row = (volatile T *)s->states + t * s->states_stride;
        for (ptrdiff_t i = 0; i < n; i += page)
            row[i] = 0;
        row[n - 1] = 0;
    }
}

/* The closed loop: all units on one thread, the readout after each step. */
static void FR_RFN(fr_res_closed_loop)(const FR_RFN(fr_res_job) *job)
{
    const fr_res_model *m = job->model;
    const fr_res_series *s = job->series;
    const ptrdiff_t O = m->outputs, B = s->batch, ld = s->states_stride;
    T *y_old = (T *)s->y_state, *y_new = job->y_spare, *tmp;
    for (ptrdiff_t t = 0; t < s->steps; ++t) {
        T *x_new = FR_RFN(fr_res_x)(job, t + 1);
        FR_RFN(fr_res_step)(m, B, 0, m->units, (T *)s->states + t * B * ld, ld, 0, NULL, 0,
                            FR_RFN(fr_res_x)(job, t), y_old, job->loads, job->preact, x_new);
        FR_RFN(fr_res_readout)(m, B, x_new, (T *)s->y + t * B * O, y_new);
        tmp = y_old;
        y_old = y_new;
        y_new = tmp;
    }
}

/* Where a split of the units in two halves the work of a step: the
 * nonzeros, plus a few operations per unit for the update. */
static ptrdiff_t FR_RFN(fr_res_half)(const fr_res_model *m)
{
    const int32_t *indptr = m->w_indptr;
    const ptrdiff_t n = m->units;
    const double unit_cost = 8.0;
    const double half = 0.5 * ((double)indptr[n] - indptr[0] + unit_cost * n);
    ptrdiff_t split = 1;
    while (split < n - 1 && (double)indptr[split] - indptr[0] + unit_cost * split < half)
        ++split;
    return split;
}

/* A batch of B >= 2 series split by series (fr_res_series_chunk): in two
 * when two threads are allowed and each gets a full vector register's
 * worth of series, else one chunk. Sets job->by_series and returns the
 * chunks' scratch, or NULL for the step of all series at once: two threads
 * with too few series for two (they share each step's units instead), or
 * no memory. */
static T *FR_RFN(fr_res_series_split)(FR_RFN(fr_res_job) *job, int nthreads)
{
    const ptrdiff_t B = job->series->batch, n = job->model->units;
    /* the first chunk's share, a multiple of 64 bytes of series */
    const ptrdiff_t lanes = 64 / (ptrdiff_t)sizeof(T);
    const ptrdiff_t first = (B / 2 + lanes - 1) / lanes * lanes;
    const int chunks = nthreads >= 2 ? 2 : 1;
    if (chunks == 2 && B < 2 * lanes)
        return NULL;
    job->by_series[0] = 0;
    job->by_series[1] = chunks == 2 ? first : B;
    job->by_series[2] = B;
    /* the widest block either chunk runs */
    job->block_width = job->by_series[1] > B - job->by_series[1] ? job->by_series[1]
                                                                 : B - job->by_series[1];
    if (job->block_width > FR_RES_BLOCK_SERIES)
        job->block_width = FR_RES_BLOCK_SERIES;
    return (T *)malloc((size_t)chunks * FR_RES_BLOCK_BUFFERS * n * job->block_width
                       * sizeof(T));
}

/* The input projection of all steps (unless the steps make it), then the
 * time loop (see fr_reservoir.h). */
static int FR_RFN(fr_res_run)(const fr_res_model *m, const fr_res_series *s, int nthreads)
{
    const ptrdiff_t n = m->units, D = m->inputs, O = m->outputs;
    const ptrdiff_t B = s->batch, steps = s->steps;
    T *work = (T *)s->work;
    FR_RFN(fr_res_job) job;
    fr_res_sell sell;
    unsigned int fpstate;
    int used = 1, chunks = 1;
    if (steps == 0 || B == 0)
        return used;
    fpstate = fr_fp_enter();
    job.model = m;
    job.series = s;
    job.fused = !s->prefilled;
    job.spare = work;
    job.preact = work + n * B;
    job.y_spare = work + 2 * n * B;
    job.single = NULL;
    job.sell = NULL;
    /* one series fetches x the way this call asks (the same sums either
     * way); a batch's product reads whole rows of x, no gathers */
    job.loads = B == 1 && (s->fetch == FR_RES_FETCH_LOADS
                           || (s->fetch == FR_RES_FETCH_AUTO && !fr_res_gathers_pay()));
    if (s->prefilled && D > 0 && D <= FR_RES_SMALL_INPUT)
        FR_RFN(fr_res_add_input_projection)((const T *)s->u, steps * B, D, s->u_stride,
                                            (const T *)m->w_in_t, n, (T *)s->states,
                                            s->states_stride);
    else if (s->prefilled && D > 0)
        FR_RFN(fr_res_gemm_strided)(0, 1, (int)(steps * B), (int)n, (int)D, (const T *)s->u,
                                    (int)s->u_stride, (const T *)m->w_in, (int)D,
                                    (T *)s->states, (int)s->states_stride);
    job.split[0] = 0;
    job.split[1] = job.split[2] = n;
    if (O == 0 && m->w_dense == NULL && nthreads >= 2 && n >= 2) {
        job.split[1] = FR_RFN(fr_res_half)(m);
        chunks = 2;
    }
    if (O == 0 && m->w_dense == NULL && B == 1) {
        job.single = FR_RFN(fr_res_single_steps_for)(m);
        if (FR_RFN(fr_res_sell_for)(m, steps, &sell)) {
            const ptrdiff_t window = FR_RES_SELL_WINDOW;
            job.sell = &sell;
            /* a thread's rows start at a window of the layout */
            if (chunks == 2)
                job.split[1] = (job.split[1] + window / 2) / window * window;
            if (job.split[1] >= n || job.split[1] == 0) {
                job.split[1] = n;
                chunks = 1;
            }
        }
        if (chunks == 1) {
            job.single(m, s, job.sell, job.loads, job.fused, 0, steps, 0, n);
        } else {
            if (job.fused && (double)steps * n * sizeof(T) >= FR_RES_TOUCH_BYTES)
                fr_team_phases(1, 2, FR_RFN(fr_res_touch_chunk), &job);
            used = fr_team_phases(steps, chunks, FR_RFN(fr_res_chunk), &job);
        }
        if (job.sell != NULL)
            fr_res_sell_free(&sell);
        /* x_T is the last row of states */
        memcpy(s->state, (const T *)s->states + (steps - 1) * s->states_stride,
               (size_t)n * sizeof(T));
    } else if (O == 0 && m->w_dense == NULL
               && (job.block_work = FR_RFN(fr_res_series_split)(&job, nthreads)) != NULL) {
        used = fr_team_phases(1, job.by_series[2] > job.by_series[1] ? 2 : 1,
                              FR_RFN(fr_res_series_chunk), &job);
        free(job.block_work);
    } else {
        if (O > 0)
            FR_RFN(fr_res_closed_loop)(&job);
        else
            used = fr_team_phases(steps, chunks, FR_RFN(fr_res_chunk), &job);
        if (steps % 2 == 1) {   /* x_T (and y_T) are in the spare buffers */
            memcpy(s->state, job.spare, (size_t)(n * B) * sizeof(T));
            if (O > 0)
                memcpy(s->y_state, job.y_spare, (size_t)(O * B) * sizeof(T));
        }
    }
    fr_fp_leave(fpstate);
    return used;
}

#undef FR_RES_BLOCK_SERIES
#undef FR_RES_BLOCK_BUFFERS
#undef FR_RES_TOUCH_BYTES
#undef FR_RFN
#undef FR_RCAT
#undef FR_RCAT2
