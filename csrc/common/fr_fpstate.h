/*
 * Flush denormals to zero for the duration of a kernel.
 *
 * A recurrent state that decays towards zero passes through the denormal
 * range, where x86 arithmetic is 10-100x slower. The kernels enter with
 * FTZ/DAZ set and restore the caller's control word on the way out, so the
 * caller's floating-point environment is left as it was. The portable
 * build (FASTRNN_PORTABLE) leaves the environment alone: denormals are then
 * slow, never wrong.
 */
#ifndef FASTRNN_FR_FPSTATE_H
#define FASTRNN_FR_FPSTATE_H

#if (defined(__SSE__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 1)) \
    && !defined(FASTRNN_PORTABLE)
#include <xmmintrin.h>
#define FR_FTZ_DAZ_BITS 0x8040u /* FTZ (bit 15) | DAZ (bit 6) */
static inline unsigned int fr_fp_enter(void)
{
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | FR_FTZ_DAZ_BITS);
    return saved;
}
static inline void fr_fp_leave(unsigned int saved) { _mm_setcsr(saved); }
#else
static inline unsigned int fr_fp_enter(void) { return 0u; }
static inline void fr_fp_leave(unsigned int saved) { (void)saved; }
#endif

#endif
