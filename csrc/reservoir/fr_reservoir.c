/* Instantiates the reservoir loop of fr_reservoir_impl.h in float and
 * double, behind the one entry point fr_res_run (fr_reservoir.h).
 *
 * The hot loops (fr_reservoir_hot_impl.h: CSR product, input projection,
 * activation + leak) are compiled three times: for baseline x86-64 (what the
 * compile flags give), x86-64-v3 and x86-64-v4, through the target attributes
 * of fr_dispatch.h, and each call takes the clone of the level fr_isa_level()
 * read from the CPU at load time. The build stays portable (no -march flag);
 * where fr_dispatch.h has no clones (other compilers, the portable build)
 * only the baseline is built.
 *
 * Contraction of a*b + c into FMAs is off for this file: otherwise the
 * vector body and the scalar remainder of a loop could round differently,
 * and results would depend on where a thread's block of rows starts and on
 * the CPU. Without it every version performs the same IEEE operations, so
 * states are bitwise identical whatever the instruction set or the number of
 * threads.
 */
#include "fr_exact_fp.h"
#include <math.h>
#include <string.h>

#include "fr_reservoir.h"
#include "fr_math.h"
#if defined(__SSE2__) && !defined(FASTRNN_PORTABLE)
#include <emmintrin.h>
#endif

/* Clones by ISA level, chosen by fastrnn's one dispatch scheme
 * (csrc/common/fr_dispatch.h): the level is read from the CPU once, at load
 * time, and each hot loop branches on it. */
#include "fr_dispatch.h"
#if FR_HAVE_ISA_CLONES
#define FR_RES_MULTIVERSION 1
#else
#define FR_RES_MULTIVERSION 0
#endif

/* Threads for the sparse time loop: POSIX threads where they exist. */
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <sched.h>
#define FR_RES_THREADS 1
#else
#define FR_RES_THREADS 0
#endif

/* A sense-reversing barrier for two (or a few) threads that meet once per
 * time step: a short spin (a step takes tens to hundreds of microseconds),
 * then yielding, so that a descheduled partner on a busy machine does not
 * leave the other thread burning its core. */
typedef struct {
    int count;
    int sense;
    int parties;
} fr_res_barrier;

static void fr_res_barrier_init(fr_res_barrier *b, int parties)
{
    b->count = 0;
    b->sense = 0;
    b->parties = parties;
}

static void fr_res_barrier_wait(fr_res_barrier *b, int *local_sense)
{
    *local_sense = !*local_sense;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->parties) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, *local_sense, __ATOMIC_RELEASE);
    } else {
        int spins = 0;
        while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != *local_sense) {
#if defined(__SSE2__) && !defined(FASTRNN_PORTABLE)
            _mm_pause();   /* spin politely: frees the core's other hyperthread */
#endif
#if FR_RES_THREADS
            if (++spins > 2000) {
                sched_yield();
                spins = 0;
            }
#endif
        }
    }
}

/* The BLAS routines of each precision, installed once at import (before any
 * loop runs) by fastrnn/reservoir/_reservoir.pyx. */
static struct {
    fr_res_sgemv_fn gemv;
    fr_res_sgemm_fn gemm;
} fr_res_blas_f;
static struct {
    fr_res_dgemv_fn gemv;
    fr_res_dgemm_fn gemm;
} fr_res_blas_d;

void fr_res_install_blas(fr_res_sgemv_fn sgemv, fr_res_dgemv_fn dgemv, fr_res_sgemm_fn sgemm,
                         fr_res_dgemm_fn dgemm)
{
    fr_res_blas_f.gemv = sgemv;
    fr_res_blas_f.gemm = sgemm;
    fr_res_blas_d.gemv = dgemv;
    fr_res_blas_d.gemm = dgemm;
}

#define FR_IMPL "fr_reservoir_instances.h"
#include "fr_instantiate.h"

/* The precision is chosen here, once per call. */
int fr_res_run(const fr_res_model *model, const fr_res_series *series, int nthreads)
{
    if (model->precision == FR_RES_FLOAT32)
        return fr_res_run_f(model, series, nthreads);
    return fr_res_run_d(model, series, nthreads);
}
