/* Instantiates the reservoir loop of fr_reservoir_impl.h in float and
 * double, behind the one entry point fr_res_run (fr_reservoir.h).
 *
 * The two hot loops (fr_reservoir_hot_impl.h: CSR product, activation + leak)
 * are compiled three times: for baseline x86-64 (SSE2, what the compile flags
 * give), AVX2, and AVX-512, through GCC's target attribute; the first
 * call picks the widest the CPU supports (__builtin_cpu_supports). The build
 * stays portable (no -march flag). Other compilers and platforms build the
 * baseline only; -DFASTRNN_NO_MULTIVERSION forces that everywhere.
 *
 * Contraction of a*b + c into FMAs is off for this file: otherwise the
 * vector body and the scalar remainder of a loop could round differently,
 * and results would depend on where a thread's block of rows starts and on
 * the CPU. Without it every version performs the same IEEE operations, so
 * states are bitwise identical whatever the instruction set or the number of
 * threads.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <string.h>

#include "fr_reservoir.h"
#include "fr_math.h"
#if defined(__SSE2__) && !defined(FASTRNN_PORTABLE)
#include <emmintrin.h>
#endif

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) \
    && !defined(FASTRNN_NO_MULTIVERSION) && !defined(FASTRNN_PORTABLE)
#define FR_RES_MULTIVERSION 1
#define FR_RES_TARGET_AVX2 __attribute__((target("avx2")))
#define FR_RES_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))

/* 2: AVX-512, 1: AVX2, 0: baseline. Computed once; a race between
 * threads writes the same value. */
static int fr_res_isa(void)
{
    static int isa = -1;
    if (isa < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl"))
            isa = 2;
        else if (__builtin_cpu_supports("avx2"))
            isa = 1;
        else
            isa = 0;
    }
    return isa;
}
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
