/*
 * One precision of the engine (T, S defined by fr_instantiate.h): the hot
 * loops once per ISA level V, each with its register budget FR_ENG_ACC (how
 * many 64-byte accumulators a micro-kernel tile may keep in registers: 32
 * zmm registers on v4, 16 ymm on v3, 16 xmm on the baseline, each
 * accumulator taking 1, 2 or 4 of them, with room left for the loaded
 * weights) and whether it has FMA (FR_ENG_FMA: the tiles' multiply-adds
 * are then single-rounding FMAs), then the entry point of fr_engine_impl.h.
 */
#define FR_ENG_NR (64 / (int)sizeof(T))
/* One rounding for a*b + c; used only by the levels with FMA instructions
 * (GCC turns it into one, vectorised), never on the baseline, where it
 * would be a library call. */
static inline T FR_FN(fr_eng_fma)(T a, T b, T c)
{
    return sizeof(T) == sizeof(float) ? fmaf((float)a, (float)b, (float)c) : fma(a, b, c);
}
#define SIG(x) FR_FN(frm_sigmoid)(x)
#define TANH(x) FR_FN(frm_tanh)(x)
#include "fr_cell_units.h"
#undef SIG
#undef TANH

#define V base
#define FR_ENG_TARGET
#define FR_ENG_ACC 3
#define FR_ENG_FMA 0
#include "fr_engine_hot_impl.h"
#undef FR_ENG_FMA
#undef FR_ENG_ACC
#undef FR_ENG_TARGET
#undef V
#if FR_HAVE_ISA_CLONES
#define V v3
#define FR_ENG_TARGET FR_TARGET_V3
#define FR_ENG_ACC 6
#define FR_ENG_FMA 1
#include "fr_engine_hot_impl.h"
#undef FR_ENG_FMA
#undef FR_ENG_ACC
#undef FR_ENG_TARGET
#undef V
#define V v4
#define FR_ENG_TARGET FR_TARGET_V4
#define FR_ENG_ACC 24
#define FR_ENG_FMA 1
#include "fr_engine_hot_impl.h"
#undef FR_ENG_FMA
#undef FR_ENG_ACC
#undef FR_ENG_TARGET
#undef V
#endif
#include "fr_engine_impl.h"
#undef FR_ENG_NR
