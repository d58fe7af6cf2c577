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

#define FR_IMPL "fr_reservoir_instances.h"
#include "fr_instantiate.h"

/* The precision is chosen here, once per call. */
int fr_res_run(const fr_res_model *model, const fr_res_series *series, int nthreads)
{
    if (model->precision == FR_RES_FLOAT32)
        return fr_res_run_f(model, series, nthreads);
    return fr_res_run_d(model, series, nthreads);
}
