/* Compiles the kernel template named by FR_IMPL twice, for float (T = float,
 * names suffixed _f) and for double (T = double, suffix _d). A kernel file
 * does
 *     #define FR_IMPL "fr_x_impl.h"
 *     #include "fr_instantiate.h"
 * and the template uses T, FR_FN(name) for the suffixed names and FR_SQRT
 * for the square root in T. No include guard: each kernel file instantiates
 * its own template once. */
#define FR_CAT2(a, b) a##_##b
#define FR_CAT(a, b) FR_CAT2(a, b)
#define FR_FN(name) FR_CAT(name, S)

#define T float
#define S f
#define FR_SQRT sqrtf
#include FR_IMPL
#undef T
#undef S
#undef FR_SQRT

#define T double
#define S d
#define FR_SQRT sqrt
#include FR_IMPL
#undef T
#undef S
#undef FR_SQRT

#undef FR_FN
#undef FR_CAT
#undef FR_CAT2
#undef FR_IMPL
