/*
 * Body of the element-wise kernels, written once and included by
 * fr_kernels.c for each precision with T (the real type) and S (the suffix,
 * f or d) defined. FR_FN(name) pastes the suffix.
 */
#define FR_CAT2(a, b) a##_##b
#define FR_CAT(a, b) FR_CAT2(a, b)
#define FR_FN(name) FR_CAT(name, S)

FR_MULTIVERSION
void FR_FN(fr_tanh)(const T *x, T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i)
        out[i] = FR_FN(frm_tanh)(x[i]);
}

FR_MULTIVERSION
void FR_FN(fr_sigmoid)(const T *x, T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i)
        out[i] = FR_FN(frm_sigmoid)(x[i]);
}

/* h <- act(h), in place: the pre-activation (input projection, bias and
 * recurrent product already summed by BLAS) becomes the hidden state. */
FR_MULTIVERSION
void FR_FN(fr_rnn_act_fwd)(int act, T *h, ptrdiff_t n)
{
    if (act == FR_ACT_TANH) {
        for (ptrdiff_t i = 0; i < n; ++i)
            h[i] = FR_FN(frm_tanh)(h[i]);
    } else {
        for (ptrdiff_t i = 0; i < n; ++i)
            h[i] = h[i] > (T)0 ? h[i] : (h[i] == h[i] ? (T)0 : h[i]);
    }
}

/* da holds dL/dh_t on entry and dL/da_t on exit, with h_t = act(a_t).
 * clip > 0 first clips dL/dh_t element-wise to [-clip, clip] (Graves 2013). */
FR_MULTIVERSION
void FR_FN(fr_rnn_act_bwd)(int act, T *da, const T *h, ptrdiff_t n, T clip)
{
    if (clip > (T)0)
        FR_FN(fr_clip_value)(da, n, clip);
    if (act == FR_ACT_TANH) {
        for (ptrdiff_t i = 0; i < n; ++i)
            da[i] *= (T)1 - h[i] * h[i];
    } else {
        for (ptrdiff_t i = 0; i < n; ++i)
            da[i] = h[i] > (T)0 ? da[i] : (T)0;
    }
}

void FR_FN(fr_fill_rows)(T *out, const T *row, ptrdiff_t nrows, ptrdiff_t ncols)
{
    for (ptrdiff_t r = 0; r < nrows; ++r)
        memcpy(out + r * ncols, row, (size_t)ncols * sizeof(T));
}

FR_MULTIVERSION
void FR_FN(fr_add)(T *out, const T *a, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i)
        out[i] += a[i];
}

/* out (n_out) += v (n_in) @ m (n_in x n_out, row-major).
 *
 * The recurrent product of one sequence (B = 1) at small H: BLAS GEMV pays a
 * fixed cost per call comparable to the arithmetic of a 64 x 64 product.
 * Four rows of m per pass keep out in registers longer; the inner loop runs
 * along contiguous rows of m and vectorises. */
FR_MULTIVERSION
void FR_FN(fr_vecmat_acc)(const T *v, const T *m, T *out, ptrdiff_t n_in, ptrdiff_t n_out)
{
    ptrdiff_t i = 0;
    for (; i + 4 <= n_in; i += 4) {
        const T v0 = v[i], v1 = v[i + 1], v2 = v[i + 2], v3 = v[i + 3];
        const T *r0 = m + i * n_out, *r1 = r0 + n_out, *r2 = r1 + n_out, *r3 = r2 + n_out;
        for (ptrdiff_t j = 0; j < n_out; ++j)
            out[j] += (v0 * r0[j] + v1 * r1[j]) + (v2 * r2[j] + v3 * r3[j]);
    }
    for (; i < n_in; ++i) {
        const T vi = v[i];
        const T *r = m + i * n_out;
        for (ptrdiff_t j = 0; j < n_out; ++j)
            out[j] += vi * r[j];
    }
}

/* Fold x into a running (scale, ssq) with norm = scale * sqrt(ssq), the
 * representation of LAPACK's xLASSQ: squares never overflow or underflow.
 * A NaN or Inf in x makes scale non-finite, which the caller reports. */
void FR_FN(fr_sumsq_scaled)(const T *x, ptrdiff_t n, double *scale, double *ssq)
{
    double amax = 0.0, poison = 0.0, local = 0.0, inv, lift;
    for (ptrdiff_t i = 0; i < n; ++i) {
        double v = fabs((double)x[i]);
        amax = v > amax ? v : amax;
        poison += v * 0.0;  /* NaN as soon as any element is NaN or Inf */
    }
    if (poison != 0.0) {    /* NaN compares unequal */
        *scale = isinf(amax) && !isnan(*scale) ? amax : NAN;
        *ssq = 1.0;
        return;
    }
    if (amax == 0.0 || !isfinite(*scale))
        return;
    /* 1 / amax overflows when amax is subnormal (below 2^-1022): lift x by
     * 2^600 first, exactly (a power of two), so that tiny gradients keep a
     * finite norm instead of reading as Inf. */
    lift = amax < 0x1p-1022 ? 0x1p+600 : 1.0;
    inv = 1.0 / (amax * lift);
    {
        /* Four partial sums: an ordered reduction does not vectorise. */
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        ptrdiff_t i = 0;
        for (; i + 4 <= n; i += 4) {
            double a0 = (x[i] * lift) * inv, a1 = (x[i + 1] * lift) * inv;
            double a2 = (x[i + 2] * lift) * inv, a3 = (x[i + 3] * lift) * inv;
            s0 += a0 * a0; s1 += a1 * a1; s2 += a2 * a2; s3 += a3 * a3;
        }
        for (; i < n; ++i) {
            double a0 = (x[i] * lift) * inv;
            s0 += a0 * a0;
        }
        local = (s0 + s1) + (s2 + s3);
    }
    if (amax > *scale) {
        double q = *scale / amax;
        *ssq = *ssq * q * q + local;
        *scale = amax;
    } else {
        double q = amax / *scale;
        *ssq += local * q * q;
    }
}

void FR_FN(fr_scale)(T *x, ptrdiff_t n, T factor)
{
    for (ptrdiff_t i = 0; i < n; ++i)
        x[i] *= factor;
}

/* Clip to [-limit, limit] in place; NaN stays NaN. Returns how many
 * elements were changed. */
ptrdiff_t FR_FN(fr_clip_value)(T *x, ptrdiff_t n, T limit)
{
    ptrdiff_t changed = 0;
    for (ptrdiff_t i = 0; i < n; ++i) {
        T v = x[i];
        T c = v > limit ? limit : (v < -limit ? -limit : v);
        changed += c != v && v == v;
        x[i] = c;
    }
    return changed;
}

#undef FR_FN
#undef FR_CAT
#undef FR_CAT2
