/* Instantiates the element-wise kernels of fr_kernels_impl.h in float and
 * double. */
#include <math.h>
#include <string.h>

#include "fr_kernels.h"
#include "fr_math.h"

#define T float
#define S f
#include "fr_kernels_impl.h"
#undef T
#undef S

#define T double
#define S d
#include "fr_kernels_impl.h"
#undef T
#undef S
