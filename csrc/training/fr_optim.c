/* Instantiates the optimiser kernels of fr_optim_impl.h in float and double. */
#include <math.h>

#include "fr_kernels.h"  /* FR_MULTIVERSION */
#include "fr_optim.h"

#define T float
#define S f
#define FR_SQRT sqrtf
#include "fr_optim_impl.h"
#undef T
#undef S
#undef FR_SQRT

#define T double
#define S d
#define FR_SQRT sqrt
#include "fr_optim_impl.h"
#undef T
#undef S
#undef FR_SQRT
