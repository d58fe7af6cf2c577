/* Instantiates the reservoir kernels of fr_reservoir_impl.h in float and
 * double.
 *
 * The two hot loops (fr_reservoir_hot_impl.h: CSR product, activation + leak)
 * are compiled three times: for baseline x86-64 (SSE2, what the compile flags
 * give), AVX2 + FMA, and AVX-512, through GCC's target attribute; the first
 * call picks the widest the CPU supports (__builtin_cpu_supports). The build
 * stays portable (no -march flag). The wider versions contract a*b + c into
 * FMAs, which changes results in the last bits only (tests compare with NumPy
 * to 1e-12, not bitwise). Other compilers and platforms build the baseline
 * only; -DFASTRNN_NO_MULTIVERSION forces that everywhere.
 */
#include <math.h>
#include <string.h>

#include "fr_reservoir.h"
#include "fr_math.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) \
    && !defined(FASTRNN_NO_MULTIVERSION)
#define FR_RES_MULTIVERSION 1
#define FR_RES_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FR_RES_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))

/* 2: AVX-512, 1: AVX2 + FMA, 0: baseline. Computed once; a race between
 * threads writes the same value. */
static int fr_res_isa(void)
{
    static int isa = -1;
    if (isa < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl"))
            isa = 2;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            isa = 1;
        else
            isa = 0;
    }
    return isa;
}
#else
#define FR_RES_MULTIVERSION 0
#endif

#define T float
#define S f
#define V base
#define FR_RES_TARGET
#include "fr_reservoir_hot_impl.h"
#undef V
#undef FR_RES_TARGET
#if FR_RES_MULTIVERSION
#define V avx2
#define FR_RES_TARGET FR_RES_TARGET_AVX2
#include "fr_reservoir_hot_impl.h"
#undef V
#undef FR_RES_TARGET
#define V avx512
#define FR_RES_TARGET FR_RES_TARGET_AVX512
#include "fr_reservoir_hot_impl.h"
#undef V
#undef FR_RES_TARGET
#endif
#include "fr_reservoir_impl.h"
#undef T
#undef S

#define T double
#define S d
#define V base
#define FR_RES_TARGET
#include "fr_reservoir_hot_impl.h"
#undef V
#undef FR_RES_TARGET
#if FR_RES_MULTIVERSION
#define V avx2
#define FR_RES_TARGET FR_RES_TARGET_AVX2
#include "fr_reservoir_hot_impl.h"
#undef V
#undef FR_RES_TARGET
#define V avx512
#define FR_RES_TARGET FR_RES_TARGET_AVX512
#include "fr_reservoir_hot_impl.h"
#undef V
#undef FR_RES_TARGET
#endif
#include "fr_reservoir_impl.h"
#undef T
#undef S
