/* Instantiates the element-wise kernels of fr_kernels_impl.h in float and
 * double. */
#include <math.h>
#include <string.h>

#include "fr_kernels.h"
#include "fr_math.h"

#define FR_IMPL "fr_kernels_impl.h"
#include "fr_instantiate.h"
