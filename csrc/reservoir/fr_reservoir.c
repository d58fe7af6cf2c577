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
#include "fr_reservoir_sell.h"
#include "fr_math.h"
#include <stdlib.h>

/* Clones by ISA level, chosen by fastrnn's one dispatch scheme
 * (csrc/common/fr_dispatch.h): the level is read from the CPU once, at load
 * time, and each hot loop branches on it. */
#include "fr_dispatch.h"
#if FR_HAVE_ISA_CLONES
#define FR_RES_MULTIVERSION 1
/* the v3 and v4 clones gather a row's entries of x_{t-1} with AVX2 */
#include <immintrin.h>
#else
#define FR_RES_MULTIVERSION 0
#endif

/* The batched product's vector registers: GCC/Clang vector extensions,
 * on any target those compilers build for (the portable build included);
 * other compilers take the plain loop over the series (the same sums). */
#if defined(__GNUC__)
#define FR_RES_VECEXT 1
#else
#define FR_RES_VECEXT 0
#endif

/* The team that shares the units of a step between threads. */
#include "fr_team.h"

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

/* The slot of partial sum `acc`, term `p` of that partial sum, in a group
 * of `steps4` steps of four slots followed by steps of one. */
static ptrdiff_t fr_res_sell_slot(ptrdiff_t first, ptrdiff_t steps4, int acc, ptrdiff_t p)
{
    return p < steps4 ? first + 4 * p + acc : first + 4 * steps4 + (p - steps4);
}

/* The shape of a group whose lanes hold the rows w0 + row[l] (or nothing):
 * its first slot (`first`), Q (the most groups of four in a row) and R
 * (what partial sum 0 has beyond Q: its groups of four, then the row's
 * remaining terms), into shape[0 .. 2]; returns its slots, 4Q + R. */
static ptrdiff_t fr_res_sell_group_shape(const int32_t *indptr, ptrdiff_t w0, const uint8_t *row,
                                         int lanes, ptrdiff_t first, ptrdiff_t *shape)
{
    ptrdiff_t most4 = 0, most0 = 0;
    for (int l = 0; l < lanes; ++l) {
        if (row[l] == FR_RES_SELL_NO_ROW)
            continue;
        const ptrdiff_t len = indptr[w0 + row[l] + 1] - indptr[w0 + row[l]], q = len / 4;
        most4 = q > most4 ? q : most4;
        most0 = len - 3 * q > most0 ? len - 3 * q : most0;
    }
    shape[0] = first;
    shape[1] = most4;
    shape[2] = most0 - most4;
    return 4 * most4 + (most0 - most4);
}

int fr_res_sell_build(const fr_res_model *m, int lanes, size_t elem_size, fr_res_sell *sell)
{
    const int32_t *indptr = m->w_indptr;
    const ptrdiff_t n = m->units, window = FR_RES_SELL_WINDOW;
    const ptrdiff_t per_window = window / lanes;
    const ptrdiff_t groups = (n + window - 1) / window * per_window;
    const size_t shape_bytes = (size_t)groups * 4 * sizeof(ptrdiff_t);
    ptrdiff_t slots = 0;
    size_t value_bytes, index_bytes, mask_bytes;
    ptrdiff_t *shape;
    uint8_t *row_at;
    char *at;
    sell->lanes = lanes;
    sell->groups = groups;
    sell->block = NULL;
    shape = (ptrdiff_t *)malloc(shape_bytes + (size_t)groups * lanes + 1);
    if (shape == NULL)
        return 0;
    row_at = (uint8_t *)shape + shape_bytes;
    sell->shape = shape;
    sell->rows = row_at;
    /* The rows of each window, longest first (by groups of four, then by
     * what partial sum 0 holds), dealt into its groups in that order: rows
     * of a group then have about as many terms, and fewer lanes idle. A
     * sorted group adds its sums to scattered pre-activations, which costs
     * about as much as FR_RES_SELL_SORT_GAIN gathered lanes, so a window is
     * sorted only where that saves more. */
    for (ptrdiff_t w0 = 0; w0 < n; w0 += window) {
        const ptrdiff_t rows = n - w0 < window ? n - w0 : window;
        const ptrdiff_t g0 = w0 / window * per_window, used = (rows + lanes - 1) / lanes;
        uint8_t order[FR_RES_SELL_WINDOW], plain[FR_RES_SELL_WINDOW];
        ptrdiff_t key[FR_RES_SELL_WINDOW], plain_slots = 0, sorted_slots = 0, shape4[4];
        for (ptrdiff_t r = 0; r < rows; ++r) {
            const ptrdiff_t len = indptr[w0 + r + 1] - indptr[w0 + r], q = len / 4;
            const ptrdiff_t k = q * (n + 4) + (len - 3 * q);   /* len - 3q <= n + 3 */
            ptrdiff_t at_r = r;
            while (at_r > 0 && key[at_r - 1] < k) {     /* insertion, stable */
                key[at_r] = key[at_r - 1];
                order[at_r] = order[at_r - 1];
                --at_r;
            }
            key[at_r] = k;
            order[at_r] = (uint8_t)r;
            plain[r] = (uint8_t)r;
        }
        for (ptrdiff_t l = rows; l < window; ++l)
            order[l] = plain[l] = FR_RES_SELL_NO_ROW;
        for (ptrdiff_t k = 0; k < used; ++k) {
            plain_slots += fr_res_sell_group_shape(indptr, w0, plain + k * lanes, lanes, 0, shape4);
            sorted_slots += fr_res_sell_group_shape(indptr, w0, order + k * lanes, lanes, 0,
                                                    shape4);
        }
        const int sort = (plain_slots - sorted_slots) * lanes > FR_RES_SELL_SORT_GAIN * used;
        memcpy(row_at + g0 * lanes, sort ? order : plain, (size_t)window);
        for (ptrdiff_t k = 0; k < per_window; ++k) {
            ptrdiff_t *at_g = shape + 4 * (g0 + k);
            slots += fr_res_sell_group_shape(indptr, w0, row_at + (g0 + k) * lanes, lanes,
                                             slots, at_g);
            /* in order: the group's rows are consecutive, all of its lanes
             * but the last window's tail */
            at_g[3] = sort ? 0 : (rows - k * lanes < lanes ? rows - k * lanes : lanes);
            if (at_g[3] < 0)
                at_g[3] = 0;
        }
    }
    /* 64-byte aligned parts: the values and indices are loaded a register
     * at a time */
#define FR_RES_ALIGN64(bytes) (((bytes) + 63) & ~(size_t)63)
    value_bytes = FR_RES_ALIGN64((size_t)slots * lanes * elem_size);
    index_bytes = FR_RES_ALIGN64((size_t)slots * lanes * sizeof(uint16_t));
    mask_bytes = FR_RES_ALIGN64((size_t)slots * sizeof(uint16_t));
#undef FR_RES_ALIGN64
    sell->block = malloc(value_bytes + index_bytes + mask_bytes + 64);
    if (sell->block == NULL) {
        free(shape);
        return 0;
    }
    at = (char *)sell->block + (64 - (uintptr_t)sell->block % 64) % 64;
    sell->values = at;
    at += value_bytes;
    sell->indices = (uint16_t *)at;
    at += index_bytes;
    sell->masks = (uint16_t *)at;
    memset(sell->values, 0, value_bytes + index_bytes + mask_bytes);
    for (ptrdiff_t g = 0; g < groups; ++g) {
        const ptrdiff_t first = sell->shape[4 * g], steps4 = sell->shape[4 * g + 1];
        const ptrdiff_t w0 = g / per_window * window;
        for (ptrdiff_t lane = 0; lane < lanes; ++lane) {
            const uint8_t in_window = sell->rows[g * lanes + lane];
            if (in_window == FR_RES_SELL_NO_ROW)
                continue;
            const ptrdiff_t start = indptr[w0 + in_window];
            const ptrdiff_t len = indptr[w0 + in_window + 1] - start, q = len / 4;
            for (ptrdiff_t k = 0; k < len; ++k) {
                /* the CSR loop's partial sum of term k, and its place there */
                const int acc = k < 4 * q ? (int)(k % 4) : 0;
                const ptrdiff_t p = k < 4 * q ? k / 4 : q + (k - 4 * q);
                const ptrdiff_t slot = fr_res_sell_slot(first, steps4, acc, p);
                memcpy((char *)sell->values + ((size_t)slot * lanes + lane) * elem_size,
                       (const char *)m->w_data + (size_t)(start + k) * elem_size, elem_size);
                sell->indices[slot * lanes + lane] = m->w_indices16[start + k];
                sell->masks[slot] |= (uint16_t)(1u << lane);
            }
        }
    }
    return 1;
}

void fr_res_sell_free(fr_res_sell *sell)
{
    free(sell->block);
    free(sell->shape);
    sell->block = NULL;
    sell->shape = NULL;
}

#define FR_IMPL "fr_reservoir_instances.h"
#include "fr_instantiate.h"

/* Hardware gathers against plain loads, timed once on the row kernel itself
 * (float64, 16-bit indices, the AVX2 clone): 64 rows of 64 nonzeros over an
 * x of 1,024 entries (the data in L2, x in L1, as in a reservoir of a few
 * hundred units), each way nine times in turn, the fastest of each kept.
 * About 50 microseconds, once per process. The verdict only picks the
 * faster of two ways to the same sums. */
#if FR_RES_MULTIVERSION
#include <time.h>
enum { FR_RES_PROBE_X = 1024, FR_RES_PROBE_ROW = 64, FR_RES_PROBE_ROWS = 64,
       FR_RES_PROBE_ROUNDS = 9 };

static double fr_res_probe_seconds(const double *data, const uint16_t *indices, const double *x,
                                   int loads, double *sink)
{
    struct timespec begin, end;
    double sum = 0.0;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    for (int r = 0; r < FR_RES_PROBE_ROWS; ++r)
        sum += fr_res_row_dot_u16_d_v3(data, indices, r * FR_RES_PROBE_ROW,
                                       (r + 1) * FR_RES_PROBE_ROW, x, loads);
    clock_gettime(CLOCK_MONOTONIC, &end);
    *sink += sum;
    return (double)(end.tv_sec - begin.tv_sec) + 1e-9 * (double)(end.tv_nsec - begin.tv_nsec);
}

static int fr_res_measure_gathers(void)
{
    enum { NNZ = FR_RES_PROBE_ROW * FR_RES_PROBE_ROWS };
    double *data, *x, best[2] = {1e30, 1e30}, sink = 0.0;
    uint16_t *indices;
    uint32_t state = 12345u;
    int pay = 0;
    if (fr_isa_level() < FR_ISA_X86_64_V3)
        return 0;
    data = (double *)malloc(NNZ * sizeof(double) + FR_RES_PROBE_X * sizeof(double));
    indices = (uint16_t *)malloc(NNZ * sizeof(uint16_t));
    if (data == NULL || indices == NULL) {
        free(data);
        free(indices);
        return 0;
    }
    x = data + NNZ;
    for (int i = 0; i < FR_RES_PROBE_X; ++i)
        x[i] = 1.0 / (double)(i + 1);
    for (int k = 0; k < NNZ; ++k) {
        state = state * 1664525u + 1013904223u;
        indices[k] = (uint16_t)((state >> 8) % FR_RES_PROBE_X);
        data[k] = (double)(k % 7) - 3.0;
    }
    for (int round = 0; round < FR_RES_PROBE_ROUNDS; ++round)
        for (int loads = 0; loads < 2; ++loads) {
            const double t = fr_res_probe_seconds(data, indices, x, loads, &sink);
            if (t < best[loads])
                best[loads] = t;
        }
    pay = best[0] < best[1];
    {
        volatile double keep = sink;   /* the sums are used: nothing is optimised away */
        (void)keep;
    }
    free(data);
    free(indices);
    return pay;
}
#endif

int fr_res_gathers_pay(void)
{
#if FR_RES_MULTIVERSION
    /* -1 until measured; two threads that both measure store a verdict each,
     * either of which is a right way to the same sums */
    static int verdict = -1;
    int pay = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
    if (pay < 0) {
        pay = fr_res_measure_gathers();
        __atomic_store_n(&verdict, pay, __ATOMIC_RELAXED);
    }
    return pay;
#else
    return 0;
#endif
}

/* The precision is chosen here, once per call. */
int fr_res_run(const fr_res_model *model, const fr_res_series *series, int nthreads)
{
    if (model->precision == FR_RES_FLOAT32)
        return fr_res_run_f(model, series, nthreads);
    return fr_res_run_d(model, series, nthreads);
}
