/* Body of the optimiser kernels, instantiated by fr_optim.c for float and
 * double (T = type, S = suffix). The update rules are PyTorch's, so that a
 * run can be compared step for step. */

/* SGD with (Nesterov) momentum (Goodfellow et al. (2016), sec. 10.7.6; Sutskever et al.
 * 2013), in the form torch.optim.SGD uses with dampening 0:
 *   g' = g + wd p;  buf = g' on the first step, else mu buf + g';
 *   p -= lr (g' + mu buf) with Nesterov, p -= lr buf without. */
FR_MULTIVERSION
void FR_FN(fr_sgd_step)(T *p, const T *g, T *buf, ptrdiff_t n, T lr, T momentum,
                        int nesterov, T weight_decay, int first)
{
    if (momentum == (T)0) {
        for (ptrdiff_t i = 0; i < n; ++i)
            p[i] -= lr * (g[i] + weight_decay * p[i]);
        return;
    }
    for (ptrdiff_t i = 0; i < n; ++i) {
        T gi = g[i] + weight_decay * p[i];
        T b = first ? gi : momentum * buf[i] + gi;
        buf[i] = b;
        p[i] -= lr * (nesterov ? gi + momentum * b : b);
    }
}

/* Adam (Kingma & Ba 2015) as torch.optim.Adam computes it:
 *   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
 *   p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps). */
FR_MULTIVERSION
void FR_FN(fr_adam_step)(T *p, const T *g, T *m, T *v, ptrdiff_t n, T lr, T beta1, T beta2,
                         T eps, T bias_correction1, T sqrt_bias_correction2, T weight_decay)
{
    const T step_size = lr / bias_correction1;
    for (ptrdiff_t i = 0; i < n; ++i) {
        T gi = g[i] + weight_decay * p[i];
        T mi = beta1 * m[i] + ((T)1 - beta1) * gi;
        T vi = beta2 * v[i] + ((T)1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (FR_SQRT(vi) / sqrt_bias_correction2 + eps);
    }
}

