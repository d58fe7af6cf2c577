/* Instantiates the cell kernels of fr_cells_impl.h in float and double. */
#include <math.h>
#include <string.h>

#include "fr_cells.h"
#include "fr_math.h"

/* The kernels are compiled twice, for baseline x86-64 and for x86-64-v3
 * (AVX2, FMA), and the loader picks one for the CPU it runs on (GCC's
 * target_clones, an ifunc): wheels stay portable while the activations run
 * 8 floats wide where the CPU allows. The activations are evaluated in a
 * different order of roundings on the two paths (FMA), within the same few
 * ulp. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FR_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FR_MULTIVERSION
#endif

#define T float
#define S f
#include "fr_cells_impl.h"
#undef T
#undef S

#define T double
#define S d
#include "fr_cells_impl.h"
#undef T
#undef S
