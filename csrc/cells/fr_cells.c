/* Instantiates the cell kernels of fr_cells_impl.h in float and double. */
#include <math.h>
#include <string.h>

#include "fr_cells.h"
#include "fr_math.h"

/* Compiled twice, baseline x86-64 and x86-64-v3 (FR_MULTIVERSION, see
 * fr_kernels.h). The activations are evaluated in a different order of
 * roundings on the two paths (FMA), within the same few ulp. */
#include "fr_kernels.h"

#define FR_IMPL "fr_cells_impl.h"
#include "fr_instantiate.h"
