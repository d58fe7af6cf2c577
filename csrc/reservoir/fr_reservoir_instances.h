/*
 * One precision's reservoir kernels (T, S defined by fr_reservoir.c): the hot
 * loops once per ISA level (V = base, and v3/v4 where the compiler can
 * target them, with their register-block widths), then the
 * dispatching entry points of fr_reservoir_impl.h.
 */
#define V base
#define FR_RES_TARGET
#define FR_RES_VBYTES 16
#define FR_RES_GATHER 0
#define FR_RES_SELL 0
#include "fr_reservoir_hot_impl.h"
#undef FR_RES_SELL
#undef FR_RES_GATHER
#undef FR_RES_VBYTES
#undef V
#undef FR_RES_TARGET
#if FR_RES_MULTIVERSION
#define V v3
#define FR_RES_TARGET FR_TARGET_V3
#define FR_RES_VBYTES 32
#define FR_RES_GATHER 1
#define FR_RES_SELL 0
#include "fr_reservoir_hot_impl.h"
#undef FR_RES_SELL
#undef FR_RES_GATHER
#undef FR_RES_VBYTES
#undef V
#undef FR_RES_TARGET
#define V v4
#define FR_RES_TARGET FR_TARGET_V4
#define FR_RES_VBYTES 64
#define FR_RES_GATHER 1
#define FR_RES_SELL 1
#include "fr_reservoir_hot_impl.h"
#undef FR_RES_SELL
#undef FR_RES_GATHER
#undef FR_RES_VBYTES
#undef V
#undef FR_RES_TARGET
#endif
#include "fr_reservoir_impl.h"
