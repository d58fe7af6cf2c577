/*
 * Vectorisable elementary functions for the fused kernels.
 *
 * libm's tanh/exp are scalar calls that the compiler cannot vectorise, and at
 * the sizes recurrent nets run at they cost as much as the matrix products.
 * These are branch-free (selects only), so a loop that calls them vectorises
 * at -O3, and they stay within a few ulp of the correctly rounded result:
 *
 *   exp:  Cody-Waite reduction y = k ln2 + r, |r| <= ln2/2, then the Taylor
 *         series of expm1(r) to the degree where the first omitted term is
 *         below half an ulp (degree 13 in double, 8 in float), then scaling
 *         by 2^k built directly in the exponent bits.
 *   tanh: tanh|x| = e / (e + 2) with e = expm1(2|x|); no cancellation for any
 *         x, and |x| is clamped where tanh rounds to 1, so nothing overflows.
 *   sigmoid: 1 / (1 + e^-|x|), mirrored for x < 0, so exp never overflows.
 *
 * NaN propagates through all of them (the clamps are written so that a NaN
 * compares false and passes through).
 */
#ifndef FASTRNN_FR_MATH_H
#define FASTRNN_FR_MATH_H

#include <stdint.h>
#include <string.h>
#include <math.h>

/* Forced inline: a call per element would stop the loop from vectorising,
 * and the multi-versioned kernels must get their own copy of each function. */
#if defined(__GNUC__)
#define FR_INLINE static inline __attribute__((always_inline))
#else
#define FR_INLINE static inline
#endif

/* ---------------------------------------------------------------- double */

#define FR_LOG2E_D 1.4426950408889634
#define FR_LN2_HI_D 6.93147180369123816490e-01 /* trailing zeros: k*hi exact */
#define FR_LN2_LO_D 1.90821492927058770002e-10
#define FR_ROUND_MAGIC_D 6755399441055744.0 /* 1.5 * 2^52 */

/* expm1(r) for |r| <= ln2/2: Taylor series, first omitted term r^14/14!. */
FR_INLINE double frm_expm1_small_d(double r)
{
    double p = 1.0 / 6227020800.0;          /* 1/13! */
    p = p * r + 1.0 / 479001600.0;          /* 1/12! */
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return r + (r * r) * p;
}

/* Split y = k ln2 + r; returns r and sets *scale = 2^k. Valid for
 * -1000 < y < 1000 (callers clamp). */
FR_INLINE double frm_reduce_d(double y, double *scale)
{
    double t = y * FR_LOG2E_D + FR_ROUND_MAGIC_D;
    double k = t - FR_ROUND_MAGIC_D;            /* round(y / ln2) */
    double r = (y - k * FR_LN2_HI_D) - k * FR_LN2_LO_D;
    int64_t tb, mb, sb;
    double magic = FR_ROUND_MAGIC_D;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&mb, &magic, sizeof mb);
    sb = (tb - mb + 1023) << 52;                /* exponent bits of 2^k */
    memcpy(scale, &sb, sizeof sb);
    return r;
}

/* expm1(y) for 0 <= y <= 50 (or NaN). */
FR_INLINE double frm_expm1_pos_d(double y)
{
    double scale;
    double r = frm_reduce_d(y, &scale);
    return scale * frm_expm1_small_d(r) + (scale - 1.0);
}

/* exp(y) for -708 <= y <= 0 (or NaN). */
FR_INLINE double frm_exp_neg_d(double y)
{
    double scale;
    double r = frm_reduce_d(y, &scale);
    return scale + scale * frm_expm1_small_d(r);
}

FR_INLINE double frm_tanh_d(double x)
{
    double a = fabs(x);
    double e;
    a = a > 20.0 ? 20.0 : a;  /* tanh(20) rounds to 1; NaN passes */
    e = frm_expm1_pos_d(2.0 * a);
    return copysign(e / (e + 2.0), x);
}

FR_INLINE double frm_sigmoid_d(double x)
{
    double a = fabs(x);
    double e, s;
    e = frm_exp_neg_d(a > 700.0 ? -700.0 : -a);
    e = a > 700.0 ? 0.0 : e;
    s = 1.0 / (1.0 + e);
    return x >= 0.0 ? s : (x < 0.0 ? e * s : x); /* last branch: NaN */
}

/* ----------------------------------------------------------------- float */

#define FR_LOG2E_F 1.44269504f
#define FR_LN2_HI_F 0.693145751953125f /* 0x1.62e4p-1: k*hi exact */
#define FR_LN2_LO_F 1.4286068203e-06f
#define FR_ROUND_MAGIC_F 12582912.0f /* 1.5 * 2^23 */

/* expm1(r) for |r| <= ln2/2: Taylor series, first omitted term r^9/9!. */
FR_INLINE float frm_expm1_small_f(float r)
{
    float p = 1.0f / 40320.0f;
    p = p * r + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    return r + (r * r) * p;
}

FR_INLINE float frm_reduce_f(float y, float *scale)
{
    float t = y * FR_LOG2E_F + FR_ROUND_MAGIC_F;
    float k = t - FR_ROUND_MAGIC_F;
    float r = (y - k * FR_LN2_HI_F) - k * FR_LN2_LO_F;
    int32_t tb, mb, sb;
    float magic = FR_ROUND_MAGIC_F;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&mb, &magic, sizeof mb);
    sb = (tb - mb + 127) << 23;
    memcpy(scale, &sb, sizeof sb);
    return r;
}

FR_INLINE float frm_expm1_pos_f(float y)
{
    float scale;
    float r = frm_reduce_f(y, &scale);
    return scale * frm_expm1_small_f(r) + (scale - 1.0f);
}

FR_INLINE float frm_exp_neg_f(float y)
{
    float scale;
    float r = frm_reduce_f(y, &scale);
    return scale + scale * frm_expm1_small_f(r);
}

FR_INLINE float frm_tanh_f(float x)
{
    float a = fabsf(x);
    float e;
    a = a > 10.0f ? 10.0f : a;  /* tanh(10) rounds to 1 in float */
    e = frm_expm1_pos_f(2.0f * a);
    return copysignf(e / (e + 2.0f), x);
}

FR_INLINE float frm_sigmoid_f(float x)
{
    float a = fabsf(x);
    float e, s;
    e = frm_exp_neg_f(a > 87.0f ? -87.0f : -a);
    e = a > 87.0f ? 0.0f : e;
    s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : (x < 0.0f ? e * s : x);
}

#endif
