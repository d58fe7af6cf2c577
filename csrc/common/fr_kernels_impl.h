/*
 * Body of the kernels of fr_kernels.h, written once and included by
 * fr_kernels.c (through fr_instantiate.h) for each precision.
 */

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

/* The small mat-vec product: the recurrent step of one sequence (B = 1),
 * where BLAS pays a fixed cost per call comparable to the arithmetic at
 * H = 32..256. fr_small_gemv and fr_small_gemv_t are its two orientations,
 * like the trans argument of BLAS's GEMV.
 *
 * y (m) = W x + beta y (beta 0: y is not read), W m x k row-major with row
 * stride ldw. The recurrent step of a batch of one is this product, and
 * OpenBLAS's transposed GEMV kernel spends more on horizontal sums and
 * prefetches than on the arithmetic at k = 32..256. Here four rows share
 * each load of x, each row accumulating in one 32-byte vector of partial sums
 * (a fixed summation order, written out so that no reassociation is asked
 * of the compiler). */
#if defined(__GNUC__)
/* Unaligned, aliasing loads of 32 bytes; helpers are macros, not functions,
 * so no vector crosses a call boundary (whose ABI differs between clones). */
typedef T FR_FN(fr_vec) __attribute__((vector_size(32), aligned(sizeof(T)), may_alias));
#define VEC FR_FN(fr_vec)
#define VL ((ptrdiff_t)(32 / sizeof(T)))
#define VLOAD(p) (*(const VEC *)(p))
#define VSUM(v, out)                         \
    do {                                     \
        T s_ = 0;                            \
        for (ptrdiff_t l_ = 0; l_ < VL; ++l_) \
            s_ += (v)[l_];                   \
        (out) = s_;                          \
    } while (0)

/* The vectors are explicit: the auto-vectoriser, left on, vectorises the
 * loop over rows with shuffles and makes this several times slower. */
FR_MULTIVERSION __attribute__((optimize("no-tree-vectorize")))
void FR_FN(fr_small_gemv)(ptrdiff_t m, ptrdiff_t k, const T *restrict w, ptrdiff_t ldw,
                      const T *restrict x, T beta, T *restrict y)
{
    ptrdiff_t kv = k - k % VL, i = 0;
    for (; i + 4 <= m; i += 4) {
        const T *w0 = w + i * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        VEC a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        T s[4];
        for (ptrdiff_t j = 0; j < kv; j += VL) {
            VEC xv = VLOAD(x + j);
            a0 += VLOAD(w0 + j) * xv;
            a1 += VLOAD(w1 + j) * xv;
            a2 += VLOAD(w2 + j) * xv;
            a3 += VLOAD(w3 + j) * xv;
        }
        VSUM(a0, s[0]);
        VSUM(a1, s[1]);
        VSUM(a2, s[2]);
        VSUM(a3, s[3]);
        for (ptrdiff_t j = kv; j < k; ++j) {
            s[0] += w0[j] * x[j];
            s[1] += w1[j] * x[j];
            s[2] += w2[j] * x[j];
            s[3] += w3[j] * x[j];
        }
        for (int r = 0; r < 4; ++r)
            y[i + r] = beta != (T)0 ? s[r] + beta * y[i + r] : s[r];
    }
    for (; i < m; ++i) {
        const T *wi = w + i * ldw;
        VEC a = {0};
        T s;
        for (ptrdiff_t j = 0; j < kv; j += VL)
            a += VLOAD(wi + j) * VLOAD(x + j);
        VSUM(a, s);
        for (ptrdiff_t j = kv; j < k; ++j)
            s += wi[j] * x[j];
        y[i] = beta != (T)0 ? s + beta * y[i] : s;
    }
}
#undef VEC
#undef VL
#undef VLOAD
#undef VSUM
#else
FR_MULTIVERSION void FR_FN(fr_small_gemv)(ptrdiff_t m, ptrdiff_t k, const T *restrict w,
                                      ptrdiff_t ldw, const T *restrict x, T beta,
                                      T *restrict y)
{
    for (ptrdiff_t i = 0; i < m; ++i) {
        T s = 0;
        for (ptrdiff_t j = 0; j < k; ++j)
            s += w[i * ldw + j] * x[j];
        y[i] = beta != (T)0 ? s + beta * y[i] : s;
    }
}
#endif

/* out (n x m, row stride ldo) = tmp^T + beta out (beta 0: out not read),
 * tmp m x n row-major. The per-step GEMM runs faster in OpenBLAS with the
 * batch as its short dimension, which leaves the product transposed; this
 * puts it back, in 32 x 32 tiles so both sides stay in cache. */
FR_MULTIVERSION void FR_FN(fr_add_transposed)(ptrdiff_t n, ptrdiff_t m,
                                              const T *restrict tmp, T beta,
                                              T *restrict out, ptrdiff_t ldo)
{
    enum { TILE = 32 };
    for (ptrdiff_t i0 = 0; i0 < m; i0 += TILE) {
        ptrdiff_t i1 = i0 + TILE < m ? i0 + TILE : m;
        for (ptrdiff_t b0 = 0; b0 < n; b0 += TILE) {
            ptrdiff_t b1 = b0 + TILE < n ? b0 + TILE : n;
            for (ptrdiff_t b = b0; b < b1; ++b) {
                T *o = out + b * ldo;
                if (beta == (T)0) {
                    for (ptrdiff_t i = i0; i < i1; ++i)
                        o[i] = tmp[i * n + b];
                } else {
                    for (ptrdiff_t i = i0; i < i1; ++i)
                        o[i] = tmp[i * n + b] + beta * o[i];
                }
            }
        }
    }
}

/* y (k) = W^T x + beta y, i.e. the row vector x (m) times W (m x k,
 * row-major, row stride ldw); beta 0: y is not read. The transposed
 * orientation of fr_small_gemv: here the inner loop runs along contiguous
 * rows of W, and four rows per pass keep y in registers longer; the loop
 * over j vectorises (the same operations for every element, so the result
 * does not depend on the vector width). */
FR_MULTIVERSION
void FR_FN(fr_small_gemv_t)(ptrdiff_t m, ptrdiff_t k, const T *w, ptrdiff_t ldw, const T *x,
                            T beta, T *y)
{
    ptrdiff_t i = 0;
    if (beta == (T)0) {
        for (ptrdiff_t j = 0; j < k; ++j)
            y[j] = (T)0;
    } else if (beta != (T)1) {
        for (ptrdiff_t j = 0; j < k; ++j)
            y[j] *= beta;
    }
    for (; i + 4 <= m; i += 4) {
        const T x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        const T *r0 = w + i * ldw, *r1 = r0 + ldw, *r2 = r1 + ldw, *r3 = r2 + ldw;
        for (ptrdiff_t j = 0; j < k; ++j)
            y[j] += (x0 * r0[j] + x1 * r1[j]) + (x2 * r2[j] + x3 * r3[j]);
    }
    for (; i < m; ++i) {
        const T xi = x[i];
        const T *r = w + i * ldw;
        for (ptrdiff_t j = 0; j < k; ++j)
            y[j] += xi * r[j];
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

