/* Instantiates the optimiser kernels of fr_optim_impl.h in float and double. */
#include <math.h>

#include "fr_dispatch.h"
#include "fr_optim.h"

#define FR_IMPL "fr_optim_impl.h"
#include "fr_instantiate.h"
