/* Instantiates the leaky-unit kernels of fr_leaky_impl.h in float and double. */
#include <math.h>

#include "fr_kernels.h"  /* FR_MULTIVERSION */
#include "fr_leaky.h"
#include "fr_math.h"

#define T float
#define S f
#include "fr_leaky_impl.h"
#undef T
#undef S

#define T double
#define S d
#include "fr_leaky_impl.h"
#undef T
#undef S
