/* Compiles the kernel template named by FR_IMPL twice, for float (T = float,
 * names suffixed _f) and for double (T = double, suffix _d). A kernel file
 * does
 *     #define FR_IMPL "fr_x_impl.h"
 *     #include "fr_instantiate.h"
 * and the template uses T, and FR_FN(name) for the suffixed names. No include
 * guard: each kernel file instantiates its own template once. */
#define T float
#define S f
#include FR_IMPL
#undef T
#undef S

#define T double
#define S d
#include FR_IMPL
#undef T
#undef S

#undef FR_IMPL
