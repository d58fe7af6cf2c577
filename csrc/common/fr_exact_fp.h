/* Contraction of a*b + c into FMAs off for the rest of the file that
 * includes this first (the reservoir's C loops, the gated-cell engine):
 * without it the vector body and the scalar remainder of a loop, two clones
 * of one function, or two CPUs, could round differently; with it every build
 * performs exactly the IEEE operations written (FMAs only where the code
 * asks for one), and a NumPy loop written the same way reproduces them to
 * the bit. */
#ifndef FASTRNN_FR_EXACT_FP_H
#define FASTRNN_FR_EXACT_FP_H
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#endif
