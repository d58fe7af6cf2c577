/*
 * The engine's entry point for one precision (T, S): packed-weight memory,
 * the ISA level's sweep, the team.
 */
typedef struct {
    const FR_FN(fr_engine_job) *job;
    T *packed;
    int level;
    int chunks;
} FR_FN(fr_eng_run);

static void FR_FN(fr_eng_team_chunk)(void *arg, long phase, int chunk, int tid)
{
    const FR_FN(fr_eng_run) *run = (const FR_FN(fr_eng_run) *)arg;
    (void)tid;
    FR_ENG_AT_LEVEL(run->level, FR_FN(fr_eng_chunk), run->job, run->packed, phase, chunk,
                    run->chunks);
}

/* Steps projected at a time: as many as keep one thread's share of their
 * gate rows within FR_ENG_PROJECT_BYTES, which stays in its L2 beside its
 * slice of W_hh until the steps read it; but at least FR_ENG_PROJECT_ROWS
 * rows, because every projection streams the thread's slice of W_ih through
 * its cache again (4 MB at D=512, H=1024 for an LSTM on 2 threads: per step,
 * one step at a time, it cost more than the rows' trip to L3). */
#ifndef FR_ENG_PROJECT_BYTES
#define FR_ENG_PROJECT_BYTES (256 * 1024)
#endif
#ifndef FR_ENG_PROJECT_ROWS
#define FR_ENG_PROJECT_ROWS 256
#endif

static int FR_FN(fr_eng_chunks)(const fr_engine_args *args, int nthreads)
{
    const ptrdiff_t nblocks = (args->hidden + FR_ENG_NR - 1) / FR_ENG_NR;
    return nthreads < 1 ? 1 : (nthreads > nblocks ? (int)nblocks : nthreads);
}

static ptrdiff_t FR_FN(fr_engine_project_steps)(const fr_engine_args *args, int nthreads)
{
    const ptrdiff_t batch = args->batch > 0 ? args->batch : 1;
    const size_t step_bytes = (size_t)batch * (size_t)fr_eng_gate_count(args->kind)
                              * (size_t)args->hidden * sizeof(T)
                              / (size_t)FR_FN(fr_eng_chunks)(args, nthreads);
    const ptrdiff_t by_rows = (FR_ENG_PROJECT_ROWS + batch - 1) / batch;
    const ptrdiff_t by_bytes = step_bytes >= FR_ENG_PROJECT_BYTES
                               ? 1 : (ptrdiff_t)(FR_ENG_PROJECT_BYTES / (step_bytes > 0 ? step_bytes : 1));
    return by_bytes > by_rows ? by_bytes : by_rows;
}

static int FR_FN(fr_engine_forward)(const fr_engine_args *args, int nthreads)
{
    FR_FN(fr_engine_job) typed = {
        args->kind, args->steps, args->batch, args->hidden, args->inputs, args->batch_sizes,
        (const T *)args->x, (const T *)args->w_ih, (const T *)args->bias_x,
        (const T *)args->w_hh, (const T *)args->b_hn, (const T *)args->peep,
        (T *)args->gates, (T *)args->recurrent, args->recurrent_stride, (T *)args->hs,
        (T *)args->cs, (T *)args->reset_hidden, args->bias_per_row, 0, 1, args->ring};
    const FR_FN(fr_engine_job) *job = &typed;
    const ptrdiff_t H = job->hidden;
    const ptrdiff_t nblocks = (H + FR_ENG_NR - 1) / FR_ENG_NR;
    const ptrdiff_t gates = fr_eng_gate_count(job->kind);
    /* Every thread packs and keeps its own blocks: of W_hh (its G gate
     * blocks of H columns) and of W_ih (G x D). */
    size_t bytes = (size_t)nblocks * (size_t)(H + job->inputs) * (size_t)gates * FR_ENG_NR
                   * sizeof(T);
    void *owned;
    FR_FN(fr_eng_run) run;
    long steps = 0;
    int used;
    if (job->steps <= 0 || job->batch <= 0 || H <= 0)
        return 1;
    run.job = job;
    run.packed = (T *)fr_eng_borrow(bytes, &owned);
    if (run.packed == NULL)
        return -1;
    run.level = fr_isa_level();
    run.chunks = FR_FN(fr_eng_chunks)(args, nthreads);
    /* The steps that run (batch_sizes does not increase); the first step's
     * phase runs even when none does, to project the inputs. */
    while (steps < job->steps && job->batch_sizes[steps] > 0)
        ++steps;
    typed.running = steps;
    typed.project_steps = args->ring > 0 ? args->ring
                                         : FR_FN(fr_engine_project_steps)(args, nthreads);
    used = fr_team_phases(1 + (steps > 0 ? steps : 1) * (job->kind == FR_CELL_GRU_BEFORE ? 2 : 1),
                          run.chunks, FR_FN(fr_eng_team_chunk), &run);
    fr_eng_give_back(owned);
    return used;
}

/* The backward sweep's product on packed columns (fr_engine.h), at this
 * CPU's ISA level. */
static void FR_FN(fr_engine_pack_columns)(const T *w, ptrdiff_t K, ptrdiff_t H, T *dst)
{
    FR_ENG_AT_LEVEL(fr_isa_level(), FR_FN(fr_eng_pack_columns), w, K, H, dst);
}

static void FR_FN(fr_engine_rows_times_packed)(int n, ptrdiff_t K, const T *in, ptrdiff_t ldin,
                                               const T *packed, ptrdiff_t H, int accumulate,
                                               T *out, ptrdiff_t ldout)
{
    FR_ENG_AT_LEVEL(fr_isa_level(), FR_FN(fr_eng_rows_times_packed), n, K, in, ldin, packed, H,
                    accumulate, out, ldout);
}
