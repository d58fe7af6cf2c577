/*
 * Body of the element-wise kernels, written once and included by
 * fr_kernels.c for each precision with T (the real type) and S (the suffix,
 * f or d) defined. FR_FN(name) pastes the suffix.
 */
#define FR_CAT2(a, b) a##_##b
#define FR_CAT(a, b) FR_CAT2(a, b)
#define FR_FN(name) FR_CAT(name, S)

void FR_FN(fr_tanh)(const T *x, T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i)
        out[i] = FR_FN(frm_tanh)(x[i]);
}

void FR_FN(fr_sigmoid)(const T *x, T *out, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i)
        out[i] = FR_FN(frm_sigmoid)(x[i]);
}

/* h <- act(h), in place: the pre-activation (input projection, bias and
 * recurrent product already summed by BLAS) becomes the hidden state. */
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

void FR_FN(fr_add)(T *out, const T *a, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i)
        out[i] += a[i];
}

/* Fold x into a running (scale, ssq) with norm = scale * sqrt(ssq), the
 * representation of LAPACK's xLASSQ: squares never overflow or underflow.
 * A NaN or Inf in x makes scale non-finite, which the caller reports. */
void FR_FN(fr_sumsq_scaled)(const T *x, ptrdiff_t n, double *scale, double *ssq)
{
    double amax = 0.0, local = 0.0, inv;
    for (ptrdiff_t i = 0; i < n; ++i) {
        double v = fabs((double)x[i]);
        amax = (v > amax || v != v) ? v : amax;
    }
    if (amax == 0.0)
        return;
    if (!isfinite(amax)) {
        *scale = amax;  /* Inf, or NaN: propagates to the norm */
        *ssq = 1.0;
        return;
    }
    if (!isfinite(*scale))
        return;
    inv = 1.0 / amax;
    {
        /* Four partial sums: an ordered reduction does not vectorise. */
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        ptrdiff_t i = 0;
        for (; i + 4 <= n; i += 4) {
            double a0 = x[i] * inv, a1 = x[i + 1] * inv;
            double a2 = x[i + 2] * inv, a3 = x[i + 3] * inv;
            s0 += a0 * a0; s1 += a1 * a1; s2 += a2 * a2; s3 += a3 * a3;
        }
        for (; i < n; ++i) {
            double a0 = x[i] * inv;
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
