/* Instantiates the reservoir kernels of fr_reservoir_impl.h in float and
 * double. */
#include <math.h>
#include <string.h>

#include "fr_reservoir.h"
#include "fr_math.h"

#define T float
#define S f
#include "fr_reservoir_impl.h"
#undef T
#undef S

#define T double
#define S d
#include "fr_reservoir_impl.h"
#undef T
#undef S
