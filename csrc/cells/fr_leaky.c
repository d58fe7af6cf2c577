/* Instantiates the leaky-unit kernels of fr_leaky_impl.h in float and double. */
#include <math.h>

#include "fr_dispatch.h"
#include "fr_leaky.h"
#include "fr_math.h"

#define FR_IMPL "fr_leaky_impl.h"
#include "fr_instantiate.h"
