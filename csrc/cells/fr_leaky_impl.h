/*
 * Leaky units (Goodfellow et al. (2016), eq. 10.7) and the information-flow regulariser
 * (eq. 10.16), written once for T = float/double (S = suffix).
 *
 * Forward: s_t = tanh(a_t), h_t = h_{t-1} + alpha (s_t - h_{t-1}).
 * The one-step Jacobian is diag(1 - alpha) + diag(alpha (1 - s_t^2)) W, so a
 * row vector g times it is g (1 - alpha) + (g alpha (1 - s^2)) W.
 */

/* a_to_s holds a_t on entry and s_t = tanh(a_t) on exit (kept for BPTT). */
FR_MULTIVERSION
void FR_FN(fr_leaky_fwd)(ptrdiff_t rows, ptrdiff_t H, const T *alpha, const T *hp,
                         T *a_to_s, T *h)
{
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const T *hpr = hp + r * H;
        T *sr = a_to_s + r * H, *hr = h + r * H;
        for (ptrdiff_t j = 0; j < H; ++j) {
            T s = FR_FN(frm_tanh)(sr[j]);
            sr[j] = s;
            hr[j] = hpr[j] + alpha[j] * (s - hpr[j]);
        }
    }
}

/* dh_to_da: dL/dh_t on entry (clipped to [-clip, clip] first when clip > 0),
 * dL/da_t on exit. carry += dL/dh_t (1 - alpha), the direct path to h_{t-1};
 * dalpha += dL/dh_t (s_t - h_{t-1}) summed over rows. */
FR_MULTIVERSION
void FR_FN(fr_leaky_bwd)(ptrdiff_t rows, ptrdiff_t H, const T *alpha, const T *s,
                         const T *hp, T *dh_to_da, T *carry, T *dalpha, T clip)
{
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const T *sr = s + r * H, *hpr = hp + r * H;
        T *gr = dh_to_da + r * H, *cr = carry + r * H;
        for (ptrdiff_t j = 0; j < H; ++j) {
            T g = gr[j];
            if (clip > (T)0)
                g = g > clip ? clip : (g < -clip ? -clip : g);
            cr[j] += g * ((T)1 - alpha[j]);
            dalpha[j] += g * (sr[j] - hpr[j]);
            gr[j] = g * alpha[j] * ((T)1 - sr[j] * sr[j]);
        }
    }
}

/* Omega_t = (|u_t| / |g_t| - 1)^2 per row, with u_t = g_t dh_t/dh_{t-1}.
 * Writes q = weight * dOmega_t/du_t (zero for a row where g or u vanishes)
 * and returns weight * sum over rows of Omega_t. */
FR_MULTIVERSION
double FR_FN(fr_omega_q)(ptrdiff_t rows, ptrdiff_t H, const T *u, const T *g, T weight, T *q)
{
    double total = 0.0;
    for (ptrdiff_t r = 0; r < rows; ++r) {
        const T *ur = u + r * H, *gr = g + r * H;
        T *qr = q + r * H;
        double uu = 0.0, gg = 0.0, nu, ng, ratio, coef;
        for (ptrdiff_t j = 0; j < H; ++j) {
            uu += (double)ur[j] * ur[j];
            gg += (double)gr[j] * gr[j];
        }
        nu = sqrt(uu);
        ng = sqrt(gg);
        if (nu == 0.0 || ng == 0.0) {
            for (ptrdiff_t j = 0; j < H; ++j)
                qr[j] = (T)0;
            continue;
        }
        ratio = nu / ng;
        total += (ratio - 1.0) * (ratio - 1.0);
        coef = weight * 2.0 * (ratio - 1.0) / (ng * nu);
        for (ptrdiff_t j = 0; j < H; ++j)
            qr[j] = (T)(coef * ur[j]);
    }
    return weight * total;
}

/* The regulariser's gradient at step t, with g_t held constant (Pascanu et
 * al. 2013). w = q W^T is dOmega/de_t for e_t = g alpha (1 - s^2):
 *   dOmega/ds_t    = w g alpha (-2 s)               (through e_t)
 *   dOmega/dalpha += -q g + w g (1 - s^2)           (alpha's direct terms)
 * r holds the regulariser's own dOmega/dh_t from later steps on entry and
 * its pre-activation gradient on exit; r_carry += r (1 - alpha). */
FR_MULTIVERSION
void FR_FN(fr_omega_inject)(ptrdiff_t rows, ptrdiff_t H, const T *alpha, const T *s,
                            const T *hp, const T *g, const T *q, const T *w, T *r,
                            T *r_carry, T *dalpha)
{
    for (ptrdiff_t row = 0; row < rows; ++row) {
        const ptrdiff_t o = row * H;
        for (ptrdiff_t j = 0; j < H; ++j) {
            T sj = s[o + j], gj = g[o + j], wj = w[o + j], rj = r[o + j];
            T deriv = (T)1 - sj * sj;
            T ds = wj * gj * alpha[j] * ((T)-2 * sj);
            r_carry[o + j] += rj * ((T)1 - alpha[j]);
            dalpha[j] += rj * (sj - hp[o + j]) - q[o + j] * gj + wj * gj * deriv;
            r[o + j] = (rj * alpha[j] + ds) * deriv;
        }
    }
}

