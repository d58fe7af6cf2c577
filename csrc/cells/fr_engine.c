/* Instantiates the gated-cell engine (fr_engine.h) in float and double, and
 * in each of them one copy of the hot loops per ISA level (the x86-64
 * baseline, and x86-64-v3 and v4 where fr_dispatch.h has clones), chosen
 * once per call from fr_isa_level(). */
/* No contraction of a*b + c into FMAs behind the code's back: the compiler
 * contracted some clones of a tile and not others (the double one-row,
 * one-block tile on v4 was left unfused while its wider siblings were
 * fused), and results would depend on the tile a thread happens to use,
 * hence on the thread count. The tiles' multiply-adds are explicit FMAs on
 * the levels that have them, plain a*b + c on the baseline. */
#include "fr_exact_fp.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fr_cells.h"
#include "fr_dispatch.h"
#include "fr_engine.h"
#include "fr_math.h"
#include "fr_team.h"

#if defined(__GNUC__)
#define FR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FR_ALWAYS_INLINE inline
#endif

/* The micro-kernels' vectors per ISA level and precision (_f, _d): the type,
 * its length, a multiply-add and a broadcast. The baseline's "vector" is one
 * value of plain C (what the portable build compiles), left to the
 * compiler's vectoriser; v3 and v4 use 256- and 512-bit registers with FMA
 * instructions. */
#define FR_ENG_VT_f_base float
#define FR_ENG_VT_d_base double
#define FR_ENG_VLEN_f_base 1
#define FR_ENG_VLEN_d_base 1
#define FR_ENG_VFMA_f_base(a, b, c) ((a) * (b) + (c))
#define FR_ENG_VFMA_d_base(a, b, c) ((a) * (b) + (c))
#define FR_ENG_VSPLAT_f_base(s) (s)
#define FR_ENG_VSPLAT_d_base(s) (s)
#if FR_HAVE_ISA_CLONES
#include <immintrin.h>
#define FR_ENG_VT_f_v3 __m256
#define FR_ENG_VT_d_v3 __m256d
#define FR_ENG_VLEN_f_v3 8
#define FR_ENG_VLEN_d_v3 4
#define FR_ENG_VFMA_f_v3(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FR_ENG_VFMA_d_v3(a, b, c) _mm256_fmadd_pd(a, b, c)
#define FR_ENG_VSPLAT_f_v3(s) _mm256_set1_ps(s)
#define FR_ENG_VSPLAT_d_v3(s) _mm256_set1_pd(s)
#define FR_ENG_VT_f_v4 __m512
#define FR_ENG_VT_d_v4 __m512d
#define FR_ENG_VLEN_f_v4 16
#define FR_ENG_VLEN_d_v4 8
#define FR_ENG_VFMA_f_v4(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FR_ENG_VFMA_d_v4(a, b, c) _mm512_fmadd_pd(a, b, c)
#define FR_ENG_VSPLAT_f_v4(s) _mm512_set1_ps(s)
#define FR_ENG_VSPLAT_d_v4(s) _mm512_set1_pd(s)
#endif

/* What a product's tiles feed (fr_engine_hot_impl.h's fr_eng_update). */
enum { FR_ENG_RNN, FR_ENG_LSTM, FR_ENG_GRU, FR_ENG_GRU_GATES, FR_ENG_GRU_STATE };

/* The packed weights' memory, kept between calls: a large W_hh's packed
 * copy is megabytes, which malloc takes from fresh pages on every call (a
 * page fault per 4 KiB, measured at 6-12% of a sweep). One block is kept,
 * grown as needed, and lent to one call at a time; a call that finds it lent
 * allocates its own. Returned 64-byte aligned. */
static struct {
    void *memory;
    size_t bytes;
    int lent;
} fr_eng_spare = {NULL, 0, 0};

static void *fr_eng_borrow(size_t bytes, void **owned)
{
    int expected = 0;
    *owned = NULL;
    if (__atomic_compare_exchange_n(&fr_eng_spare.lent, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED)) {
        if (fr_eng_spare.bytes < bytes) {
            free(fr_eng_spare.memory);
            fr_eng_spare.memory = malloc(bytes + 64);
            fr_eng_spare.bytes = fr_eng_spare.memory != NULL ? bytes : 0;
        }
        if (fr_eng_spare.memory != NULL)
            return (void *)(((uintptr_t)fr_eng_spare.memory + 63u) & ~(uintptr_t)63u);
        __atomic_store_n(&fr_eng_spare.lent, 0, __ATOMIC_RELEASE);
    }
    *owned = malloc(bytes + 64);
    if (*owned == NULL)
        return NULL;
    return (void *)(((uintptr_t)*owned + 63u) & ~(uintptr_t)63u);
}

static void fr_eng_give_back(void *owned)
{
    if (owned != NULL)
        free(owned);
    else
        __atomic_store_n(&fr_eng_spare.lent, 0, __ATOMIC_RELEASE);
}

int fr_engine_block_units(int is_double)
{
    return is_double ? 64 / (int)sizeof(double) : 64 / (int)sizeof(float);
}

/* fr_engine_args with the pointers of one precision, as the hot loops read
 * them. */
#define FR_DECLARE_JOB(T, S)                                                          \
    typedef struct {                                                                  \
        int kind, steps, batch, hidden, inputs;                                       \
        const int *batch_sizes;                                                       \
        const T *x, *w_ih, *bias_x, *w_hh, *b_hn, *peep;                              \
        T *gates, *recurrent;                                                         \
        ptrdiff_t recurrent_stride;                                                   \
        T *hs, *cs, *reset_hidden;                                                    \
        int bias_per_row;                                                             \
        ptrdiff_t running;       /* steps with a running row */                       \
        ptrdiff_t project_steps; /* steps projected at a time */                      \
        ptrdiff_t ring;          /* fr_engine_args.ring */                            \
    } fr_engine_job_##S;
FR_DECLARE_JOB(float, f)
FR_DECLARE_JOB(double, d)
#undef FR_DECLARE_JOB

/* The gates of a cell kind's input projection: G of its G*H rows. */
static inline int fr_eng_gate_count(int kind)
{
    return kind == FR_CELL_LSTM ? 4 : (kind == FR_CELL_GRU || kind == FR_CELL_GRU_BEFORE ? 3 : 1);
}

/* Calls the clone of fn (a hot loop of fr_engine_hot_impl.h, FR_FN-named)
 * for ISA level `level` (fr_isa_level()): v4 or v3 where this build has the
 * clones and the CPU runs them, else the portable one. */
#if FR_HAVE_ISA_CLONES
#define FR_ENG_AT_LEVEL(level, fn, ...)           \
    do {                                          \
        if ((level) >= FR_ISA_X86_64_V4)          \
            FR_CAT(fn, v4)(__VA_ARGS__);          \
        else if ((level) >= FR_ISA_X86_64_V3)     \
            FR_CAT(fn, v3)(__VA_ARGS__);          \
        else                                      \
            FR_CAT(fn, base)(__VA_ARGS__);        \
    } while (0)
#else
#define FR_ENG_AT_LEVEL(level, fn, ...) ((void)(level), FR_CAT(fn, base)(__VA_ARGS__))
#endif

#define FR_IMPL "fr_engine_instances.h"
#include "fr_instantiate.h"

ptrdiff_t fr_engine_project_steps(const fr_engine_args *args, int nthreads)
{
    return args->is_double ? fr_engine_project_steps_d(args, nthreads)
                           : fr_engine_project_steps_f(args, nthreads);
}

int fr_engine_forward(const fr_engine_args *args, int nthreads)
{
    return args->is_double ? fr_engine_forward_d(args, nthreads)
                           : fr_engine_forward_f(args, nthreads);
}

size_t fr_engine_packed_columns_size(int is_double, ptrdiff_t K, ptrdiff_t H)
{
    const ptrdiff_t nr = fr_engine_block_units(is_double);
    return (size_t)((H + 4 * nr - 1) / (4 * nr)) * (size_t)K * 4u * (size_t)nr;
}

void fr_engine_pack_columns(int is_double, const void *w, ptrdiff_t K, ptrdiff_t H, void *dst)
{
    if (is_double)
        fr_engine_pack_columns_d((const double *)w, K, H, (double *)dst);
    else
        fr_engine_pack_columns_f((const float *)w, K, H, (float *)dst);
}

void fr_engine_rows_times_packed(int is_double, int n, ptrdiff_t K, const void *in,
                                 ptrdiff_t ldin, const void *packed, ptrdiff_t H, int accumulate,
                                 void *out, ptrdiff_t ldout)
{
    if (is_double)
        fr_engine_rows_times_packed_d(n, K, (const double *)in, ldin, (const double *)packed, H,
                                      accumulate, (double *)out, ldout);
    else
        fr_engine_rows_times_packed_f(n, K, (const float *)in, ldin, (const float *)packed, H,
                                      accumulate, (float *)out, ldout);
}
