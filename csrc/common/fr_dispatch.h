/*
 * The one CPU-dispatch scheme of fastrnn's C kernels.
 *
 * A wheel is built without -march=native, yet should run the vector width
 * of the machine it lands on. Every kernel family therefore comes in clones
 * by x86-64 ISA level, chosen once, when the extension is loaded, from what
 * the CPU reports (CPUID):
 *
 *   x86-64-v4   AVX-512 F/BW/CD/DQ/VL (with everything of v3)
 *   x86-64-v3   AVX2, FMA, BMI1/2, F16C, MOVBE
 *   x86-64      the baseline (SSE2) every x86-64 CPU runs
 *
 * and the portable build (FASTRNN_PORTABLE, set by setup.py with
 * FASTRNN_PORTABLE=1 in the environment and on every machine that is not
 * x86-64) compiles the plain C path only: no clones, no intrinsics, no
 * MXCSR. The levels are ISA levels, never CPU models: a clone for
 * "arch=haswell" would run on Haswell only and every later CPU would take
 * the baseline.
 *
 * Two ways to use it, one choice of level:
 *
 *   FR_MULTIVERSION before a function whose body is the same C for every
 *   level: GCC compiles it once per level it is worth a clone for (v3 and
 *   the baseline, see below) and the dynamic
 *   loader binds the call to the clone for this CPU (an ifunc resolved at
 *   load time, no test per call).
 *
 *   fr_isa_level() for a family that needs different code per level (other
 *   block widths, intrinsics): compile each variant with FR_TARGET_V3 /
 *   FR_TARGET_V4 and branch on the level, which is read from the CPU once
 *   (at load time, by a constructor) with the same test GCC's ifunc
 *   resolvers use, so both ways agree on the level of a given machine.
 *
 * Where the compiler cannot do either (not GCC >= 12 on x86-64 with glibc,
 * or the portable build), FR_MULTIVERSION is empty, FR_TARGET_V3/V4 are not
 * defined (FR_HAVE_ISA_CLONES is 0) and fr_isa_level() reports
 * FR_ISA_BASELINE or FR_ISA_PORTABLE.
 *
 * Users: csrc/common, csrc/cells and csrc/training (FR_MULTIVERSION); the
 * reservoir's hot loops (csrc/reservoir), whose clones have wider register
 * blocks per level (fr_isa_level() with FR_TARGET_V3/V4).
 *
 * The clones of one function perform the same IEEE operations element by
 * element (the vector loops have a fixed summation order); where a level has
 * FMA, a*b + c may be contracted, so v3/v4 results can differ from the
 * baseline's in the last bits, within the accuracy the tests ask for.
 */
#ifndef FASTRNN_FR_DISPATCH_H
#define FASTRNN_FR_DISPATCH_H

#include <stdlib.h> /* defines __GLIBC__ (through features.h), tested below */

enum {
    FR_ISA_PORTABLE = 0,  /* built with FASTRNN_PORTABLE: plain C only */
    FR_ISA_BASELINE = 1,  /* x86-64 baseline, or any machine without clones */
    FR_ISA_X86_64_V3 = 3,
    FR_ISA_X86_64_V4 = 4
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__) \
    && defined(__has_attribute) && !defined(FASTRNN_PORTABLE)
#if __has_attribute(target_clones) && __GNUC__ >= 12
#define FR_HAVE_ISA_CLONES 1
/* No v4 clone for the element-wise families: measured side by side
 * (bench/compare_builds.py, AMD EPYC with AVX-512, 2026-12-01), their v4
 * clones ran the B = 1 LSTM and GRU forward passes 6-13% slower than the v3
 * ones (the small mat-vec product and cell updates over H = 64 gain no width)
 * and the B = 32, H = 256 LSTM forward 9% faster. Until the gated-cell
 * engine chooses its kernels by size, they keep the v3 clones they had; the
 * reservoir's register-blocked loops take v4 through FR_TARGET_V4. */
#define FR_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v3", "default")))
#define FR_TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#define FR_TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#endif
#endif
#ifndef FR_HAVE_ISA_CLONES
#define FR_HAVE_ISA_CLONES 0
#define FR_MULTIVERSION
#endif

#ifdef FASTRNN_PORTABLE
#define FR_PORTABLE_BUILD 1
#else
#define FR_PORTABLE_BUILD 0
#endif

/* The level the kernels of this process run at (FR_ISA_*). */
int fr_isa_level(void);

#endif
