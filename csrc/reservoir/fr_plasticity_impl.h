/*
 * Body of the intrinsic-plasticity loop (see fr_plasticity.h), included by
 * fr_plasticity.c for each precision (T, S; FR_FN pastes the suffix).
 */

/* f(v) of the reservoir's activation, fastrnn's vectorisable tanh and
 * sigmoid (csrc/common/fr_math.h), the same functions as the reservoir loop. */
static inline T FR_FN(fr_ip_activate)(int act, T v)
{
    return act == FR_RES_SIGMOID ? FR_CAT(frm_sigmoid, S)(v) : FR_CAT(frm_tanh, S)(v);
}

static void FR_FN(fr_ip_run)(const fr_ip_model *m, const fr_ip_series *s, const fr_ip_rule *rule)
{
    const ptrdiff_t n = m->units, d = m->inputs;
    const T *w_data = (const T *)m->w_data, *w_dense = (const T *)m->w_dense;
    const T *w_in = (const T *)m->w_in, *bias = (const T *)m->bias, *leak = (const T *)m->leak;
    const T *u = (const T *)s->u;
    T *states = (T *)s->states, *r = (T *)s->internal, *x = (T *)s->state;
    T *a = (T *)s->gain, *b = (T *)s->offset;
    const T mu = (T)rule->mu, eta = (T)rule->learning_rate;
    const T s2 = (T)rule->sigma * (T)rule->sigma;
    const int act = m->activation, adapt = rule->adapt;
    for (ptrdiff_t t = 0; t < s->steps; ++t) {
        const T *u_t = u + t * d;
        T *x_t = states != NULL ? states + t * n : NULL;
        /* The new internal state of every unit first (it reads all of
         * x_{t-1}), kept in x_t's row or, without one, computed into r and
         * applied afterwards. */
        for (ptrdiff_t i = 0; i < n; ++i) {
            T recurrent = 0, input = 0;
            if (w_dense == NULL) {
                for (int32_t k = m->w_indptr[i]; k < m->w_indptr[i + 1]; ++k)
                    recurrent += w_data[k] * x[m->w_indices[k]];
            } else {
                for (ptrdiff_t j = 0; j < n; ++j)
                    recurrent += w_dense[i * n + j] * x[j];
            }
            for (ptrdiff_t j = 0; j < d; ++j)
                input += w_in[i * d + j] * u_t[j];
            r[i] = ((T)1 - leak[i]) * r[i] + leak[i] * ((recurrent + input) + bias[i]);
        }
        for (ptrdiff_t i = 0; i < n; ++i) {
            const T y = FR_FN(fr_ip_activate)(act, a[i] * r[i] + b[i]);
            x[i] = y;
            if (x_t != NULL)
                x_t[i] = y;
            if (adapt) {
                T db, da;
                if (act == FR_RES_SIGMOID)
                    db = ((T)1 - ((T)2 + (T)1 / mu) * y) + (y * y) / mu;
                else
                    db = -(-(mu / s2) + (y / s2) * ((((T)2 * s2 + (T)1) - y * y) + mu * y));
                da = (T)1 / a[i] + db * r[i];
                a[i] += eta * da;
                b[i] += eta * db;
            }
        }
    }
}
