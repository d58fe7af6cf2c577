/* See fr_dispatch.h: the ISA level, read from the CPU once per extension. */
#include "fr_dispatch.h"

#if FR_HAVE_ISA_CLONES
static int level = FR_ISA_BASELINE;

/* At load time, like the ifunc resolvers of the FR_MULTIVERSION clones, so
 * no kernel ever tests the CPU and no two threads race to. */
__attribute__((constructor)) static void read_isa_level(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        level = FR_ISA_X86_64_V4;
    else if (__builtin_cpu_supports("x86-64-v3"))
        level = FR_ISA_X86_64_V3;
    else
        level = FR_ISA_BASELINE;
}

int fr_isa_level(void) { return level; }
#else
int fr_isa_level(void) { return FR_PORTABLE_BUILD ? FR_ISA_PORTABLE : FR_ISA_BASELINE; }
#endif
