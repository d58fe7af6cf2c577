/* The thread team and its phased jobs (see fr_team.h). */
#include "fr_team.h"

#include <stddef.h>

#if (defined(__unix__) || defined(__APPLE__)) && defined(__GNUC__)
#define FR_TEAM_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <time.h>
#else
#define FR_TEAM_THREADS 0
#endif

#if defined(__SSE2__) && !defined(FASTRNN_PORTABLE)
#include <emmintrin.h>
#define FR_CPU_RELAX() _mm_pause()
#define FR_HAVE_CSR 1
#else
#define FR_CPU_RELAX() ((void)0)
#define FR_HAVE_CSR 0
#endif

#if FR_TEAM_THREADS

/* How long a waiting thread spins before it blocks. Within a job a partner
 * that is running finishes its chunk in microseconds to milliseconds; one
 * that was descheduled can be a scheduler slice away. Idle workers spin a
 * little longer between jobs, because a caller often runs sequence after
 * sequence. */
#define FR_PHASE_SPIN_NS 100000L
#define FR_IDLE_SPIN_NS 200000L

/* How long a thread done with its own chunk waits for a partner to claim
 * the partner's chunk before it takes it itself, in spin rounds (a pause of
 * some tens of cycles each: a few microseconds). A running partner claims
 * its chunk within a fraction of a microsecond of the phase's start. */
#define FR_STEAL_PATIENCE_ROUNDS 128u

static long fr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* A word threads wait on, with what it takes to sleep on it. `sleepers`
 * counts the threads that may be asleep: whoever changes the word signals
 * only if it is non-zero. Both sides use sequentially consistent order on
 * the word and `sleepers`, so either the waker sees the sleeper or the
 * sleeper sees the new value before it sleeps. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int sleepers;
} fr_sleep_place;

static void fr_sleep_while_equal(const long *word, long seen, fr_sleep_place *place)
{
    pthread_mutex_lock(&place->lock);
    __atomic_add_fetch(&place->sleepers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == seen)
        pthread_cond_wait(&place->cond, &place->lock);
    __atomic_sub_fetch(&place->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&place->lock);
}

static void fr_wake_sleepers(fr_sleep_place *place)
{
    if (__atomic_load_n(&place->sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&place->lock);
        pthread_cond_broadcast(&place->cond);
        pthread_mutex_unlock(&place->lock);
    }
}

/* Spins while *word == seen for up to budget_ns, then sleeps; `poll`, when
 * given, is called between spin rounds and may end the wait by returning
 * non-zero (the phase loop uses it to take a late partner's chunk). */
static void fr_wait_while_equal(const long *word, long seen, long budget_ns,
                                fr_sleep_place *place, int (*poll)(void *, unsigned),
                                void *poll_arg)
{
    long deadline = 0;
    for (unsigned round = 1; __atomic_load_n(word, __ATOMIC_ACQUIRE) == seen; ++round) {
        if (poll != NULL && poll(poll_arg, round))
            continue;
        FR_CPU_RELAX();
        if ((round & 63u) == 0) {
            long now = fr_now_ns();
            if (deadline == 0) {
                deadline = now + budget_ns;
            } else if (now > deadline) {
                fr_sleep_while_equal(word, seen, place);
                return;
            }
        }
    }
}

/* --------------------------------------------------------- phased jobs */
/* Chunk c of a phase is claimed by moving claimed[c] from the phase to the
 * next (one compare-and-swap, so each chunk runs exactly once); the thread
 * whose completion is the phase's last opens the next phase. The claim words
 * sit 64 bytes apart, so that a thread claiming its own chunk does not pull
 * its partner's cache line. */
#define FR_LINE_LONGS 8

typedef struct {
    long phases;
    int chunks;
    fr_chunk_fn fn;
    void *ctx;
    long current;       /* the phase being worked on */
    long completed;     /* chunk completions so far, all phases */
    fr_sleep_place place;
    long claimed[FR_TEAM_MAX * FR_LINE_LONGS];
} fr_job;

static int fr_job_try_chunk(fr_job *job, long phase, int chunk, int tid)
{
    long expected = phase;
    long *word = &job->claimed[chunk * FR_LINE_LONGS];
    if (__atomic_load_n(word, __ATOMIC_RELAXED) != phase
        || !__atomic_compare_exchange_n(word, &expected, phase + 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
        return 0;
    job->fn(job->ctx, phase, chunk, tid);
    /* acq_rel: the writes of every chunk reach whoever opens the next phase,
     * whose store of `current` passes them on. */
    if (__atomic_add_fetch(&job->completed, 1, __ATOMIC_ACQ_REL)
        == (phase + 1) * (long)job->chunks) {
        __atomic_store_n(&job->current, phase + 1, __ATOMIC_SEQ_CST);
        fr_wake_sleepers(&job->place);
    }
    return 1;
}

typedef struct {
    fr_job *job;
    long phase;
    int tid;
    int eager;   /* take unclaimed chunks at once */
    int looked;
    int took;
} fr_steal_state;

static int fr_job_steal(void *arg, unsigned round)
{
    fr_steal_state *st = (fr_steal_state *)arg;
    if (st->looked || (!st->eager && round <= FR_STEAL_PATIENCE_ROUNDS))
        return 0;
    st->looked = 1;
    for (int c = 1; c <= st->job->chunks; ++c)
        st->took |= fr_job_try_chunk(st->job, st->phase, (st->tid + c) % st->job->chunks,
                                     st->tid);
    return 1;
}

/* One thread's part in a job: its own chunk of each phase, the chunks of
 * late partners, waiting for each phase to end. */
static void fr_job_work(fr_job *job, int tid)
{
    int took_last = 0;
    for (;;) {
        long phase = __atomic_load_n(&job->current, __ATOMIC_ACQUIRE);
        fr_steal_state st;
        if (phase >= job->phases)
            return;
        if (tid < job->chunks)
            fr_job_try_chunk(job, phase, tid, tid);
        /* A partner late in the last phase is likely still away: take its
         * chunk at once. */
        st.job = job;
        st.phase = phase;
        st.tid = tid;
        st.eager = took_last;
        st.looked = 0;
        st.took = 0;
        fr_wait_while_equal(&job->current, phase, FR_PHASE_SPIN_NS, &job->place, fr_job_steal,
                            &st);
        took_last = st.took;
    }
}

/* ------------------------------------------------------------ the team */
/* A job is published by a new value of `job`: its generation, shifted, and
 * its thread count in the low bits, so that a worker reads both at once.
 * A worker joins the job by counting itself into `state` (the generation's
 * low 32 bits, a closed bit and the number joined) while the job is open;
 * the caller closes it when the work is done and waits only for the workers
 * that joined, so a worker that wakes too late never holds the caller up. */
#define FR_JOB_THREAD_BITS 8
#define FR_STATE_CLOSED (1ull << 31)
#define FR_STATE_JOINED 0x7fffffffull

static struct {
    pthread_mutex_t start_lock;   /* guards starting workers */
    fr_sleep_place idle;          /* where idle workers sleep */
    int busy;                     /* a caller holds the team */
    int started;                  /* workers running (indices 1..started) */
    long job;                     /* generation << FR_JOB_THREAD_BITS | threads */
    unsigned long long state;
    fr_job *current;
    unsigned csr;                 /* the caller's MXCSR */
    int finished;                 /* joined workers done with the job */
    long first_job[FR_TEAM_MAX];  /* `job` when each worker was started */
} fr_team = {PTHREAD_MUTEX_INITIALIZER,
             {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}, 0, 0, 0, 0, NULL, 0, 0,
             {0}};

static void fr_team_join_and_work(int tid, long job_word)
{
    unsigned long long generation = (unsigned long long)(job_word >> FR_JOB_THREAD_BITS)
                                    & 0xffffffffull;
    unsigned long long state = __atomic_load_n(&fr_team.state, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((state >> 32) != generation || (state & FR_STATE_CLOSED))
            return;   /* the job is over, or a newer one is being set up */
        if (__atomic_compare_exchange_n(&fr_team.state, &state, state + 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
    {
#if FR_HAVE_CSR
        unsigned saved = _mm_getcsr();
        _mm_setcsr(fr_team.csr);
#endif
        fr_job_work(fr_team.current, tid);
#if FR_HAVE_CSR
        _mm_setcsr(saved);
#endif
    }
    __atomic_add_fetch(&fr_team.finished, 1, __ATOMIC_ACQ_REL);
}

static void *fr_team_worker(void *data)
{
    int tid = (int)(ptrdiff_t)data;
    /* Not `job` as it is now: the job the worker was started for may already
     * be published. */
    long seen = fr_team.first_job[tid];
    for (;;) {
        fr_wait_while_equal(&fr_team.job, seen, FR_IDLE_SPIN_NS, &fr_team.idle, NULL, NULL);
        seen = __atomic_load_n(&fr_team.job, __ATOMIC_ACQUIRE);
        if (tid < (int)(seen & ((1 << FR_JOB_THREAD_BITS) - 1)))
            fr_team_join_and_work(tid, seen);
    }
    return NULL;
}

/* A child of fork() has none of the parent's workers: start afresh. */
static void fr_team_after_fork(void)
{
    pthread_mutex_init(&fr_team.start_lock, NULL);
    pthread_mutex_init(&fr_team.idle.lock, NULL);
    pthread_cond_init(&fr_team.idle.cond, NULL);
    fr_team.idle.sleepers = 0;
    fr_team.busy = 0;
    fr_team.started = 0;
}

static pthread_once_t fr_team_once = PTHREAD_ONCE_INIT;

static void fr_team_init(void)
{
    pthread_atfork(NULL, NULL, fr_team_after_fork);
}

/* Starts workers until `want` - 1 run; returns how many threads a job can have. */
static int fr_team_grow(int want)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&fr_team.start_lock);
    while (fr_team.started < want - 1) {
        pthread_t thread;
        fr_team.first_job[fr_team.started + 1] = fr_team.job;
        if (pthread_create(&thread, &attr, fr_team_worker,
                           (void *)(ptrdiff_t)(fr_team.started + 1)) != 0)
            break;
        ++fr_team.started;
    }
    pthread_mutex_unlock(&fr_team.start_lock);
    pthread_attr_destroy(&attr);
    return fr_team.started + 1 < want ? fr_team.started + 1 : want;
}

static void fr_job_init(fr_job *job, long phases, int chunks, fr_chunk_fn fn, void *ctx)
{
    job->phases = phases;
    job->chunks = chunks;
    job->fn = fn;
    job->ctx = ctx;
    job->current = 0;
    job->completed = 0;
    pthread_mutex_init(&job->place.lock, NULL);
    pthread_cond_init(&job->place.cond, NULL);
    job->place.sleepers = 0;
    for (int c = 0; c < chunks; ++c)
        job->claimed[c * FR_LINE_LONGS] = 0;
}

int fr_team_phases(long phases, int chunks, fr_chunk_fn fn, void *ctx)
{
    fr_job job;
    int n = 1, busy = 0, joined;
    if (chunks > FR_TEAM_MAX)
        chunks = FR_TEAM_MAX;
    if (chunks < 1)
        chunks = 1;
    fr_job_init(&job, phases, chunks, fn, ctx);
    if (chunks > 1
        && __atomic_compare_exchange_n(&fr_team.busy, &busy, 1, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED)) {
        long generation;
        pthread_once(&fr_team_once, fr_team_init);
        n = fr_team_grow(chunks);
        fr_team.current = &job;
#if FR_HAVE_CSR
        fr_team.csr = _mm_getcsr();
#endif
        __atomic_store_n(&fr_team.finished, 0, __ATOMIC_RELAXED);
        generation = (fr_team.job >> FR_JOB_THREAD_BITS) + 1;
        __atomic_store_n(&fr_team.state, ((unsigned long long)generation & 0xffffffffull) << 32,
                         __ATOMIC_SEQ_CST);
        __atomic_store_n(&fr_team.job, (generation << FR_JOB_THREAD_BITS) | n,
                         __ATOMIC_SEQ_CST);
        fr_wake_sleepers(&fr_team.idle);
        fr_job_work(&job, 0);
        joined = (int)(__atomic_fetch_or(&fr_team.state, FR_STATE_CLOSED, __ATOMIC_ACQ_REL)
                       & FR_STATE_JOINED);
        /* The joined workers leave right after the last phase. */
        for (unsigned spins = 0; __atomic_load_n(&fr_team.finished, __ATOMIC_ACQUIRE) < joined;) {
            FR_CPU_RELAX();
            if (++spins > 4096u) {
                sched_yield();
                spins = 0;
            }
        }
        __atomic_store_n(&fr_team.busy, 0, __ATOMIC_RELEASE);
    } else {
        /* Alone: the chunks in order. */
        for (long q = 0; q < phases; ++q)
            for (int c = 0; c < chunks; ++c)
                fn(ctx, q, c, 0);
    }
    pthread_cond_destroy(&job.place.cond);
    pthread_mutex_destroy(&job.place.lock);
    return n;
}

#else /* no threads: every job runs on its caller */

int fr_team_phases(long phases, int chunks, fr_chunk_fn fn, void *ctx)
{
    for (long q = 0; q < phases; ++q)
        for (int c = 0; c < chunks; ++c)
            fn(ctx, q, c, 0);
    return 1;
}

#endif
