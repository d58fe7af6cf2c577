/*
 * One precision of the engine (T, S defined by fr_instantiate.h): the hot
 * loops once per ISA level V, each with its register budget FR_ENG_ACC (how
 * many 64-byte accumulators a micro-kernel tile may keep in registers: 32
 * zmm registers on v4, 16 ymm on v3, 16 xmm on the baseline, each
 * accumulator taking 1, 2 or 4 of them, with room left for the loaded
 * weights), then the entry point of fr_engine_impl.h. The vectors and
 * their multiply-adds per level are defined in fr_engine.c.
 */
#define FR_ENG_NR (64 / (int)sizeof(T))
#define SIG(x) FR_FN(frm_sigmoid)(x)
#define TANH(x) FR_FN(frm_tanh)(x)
#include "fr_cell_units.h"
#undef SIG
#undef TANH

#define V base
#define FR_ENG_TARGET
#define FR_ENG_ACC 3
#include "fr_engine_hot_impl.h"
#undef FR_ENG_ACC
#undef FR_ENG_TARGET
#undef V
#if FR_HAVE_ISA_CLONES
#define V v3
#define FR_ENG_TARGET FR_TARGET_V3
#define FR_ENG_ACC 6
#include "fr_engine_hot_impl.h"
#undef FR_ENG_ACC
#undef FR_ENG_TARGET
#undef V
#define V v4
#define FR_ENG_TARGET FR_TARGET_V4
#define FR_ENG_ACC 24
#include "fr_engine_hot_impl.h"
#undef FR_ENG_ACC
#undef FR_ENG_TARGET
#undef V
#endif
#include "fr_engine_impl.h"
#undef FR_ENG_NR
