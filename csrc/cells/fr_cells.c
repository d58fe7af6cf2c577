/* Instantiates the cell kernels of fr_cells_impl.h in float and double. */
#include <math.h>
#include <string.h>

#include "fr_cells.h"
#include "fr_kernels.h" /* fr_small_gemv, whose sums fr_step_gemv repeats */
#include "fr_math.h"

/* Cloned by ISA level (FR_MULTIVERSION, see fr_dispatch.h). The
 * activations are evaluated in a different order of roundings on the
 * baseline and on the FMA levels, within the same few ulp. */
#include "fr_dispatch.h"

#define FR_IMPL "fr_cells_impl.h"
#include "fr_instantiate.h"
