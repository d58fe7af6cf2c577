/*
 * Intrinsic plasticity of a reservoir's units: the time loop that adapts
 * each unit's gain a_i and bias b_i, and runs the adapted reservoir.
 *
 * The units are those of ReservoirPy's IPReservoir, the leak acting on the
 * internal (pre-activation) state r:
 *
 *     r_t = (1 - lr) r_{t-1} + lr (W x_{t-1} + Win u_t + bias)
 *     x_t = f(a * r_t + b)
 *
 * and after each step, with learning rate eta (Schrauwen et al. 2008,
 * eqs. 13-14 for tanh units and a Gaussian target N(mu, sigma^2); Triesch
 * 2005 for sigmoid (Fermi) units and an exponential target of mean mu):
 *
 *     tanh:    db = -(-mu / s2 + (x / s2) (2 s2 + 1 - x^2 + mu x)),  s2 = sigma^2
 *     sigmoid: db = 1 - (2 + 1 / mu) x + x^2 / mu
 *     da = 1 / a + db r
 *     a += eta da,  b += eta db
 *
 * Each sum runs in the order of a plain sparse (or dense) row-by-vector
 * product, the recurrent part first, then the input part, then the bias,
 * so that the loop reproduces ReservoirPy's SciPy products operation for
 * operation. One series (B = 1); the kernel trusts its inputs.
 */
#ifndef FASTRNN_FR_PLASTICITY_H
#define FASTRNN_FR_PLASTICITY_H

#include <stddef.h>
#include <stdint.h>

/* The network, read only. Arrays hold elements of `precision`
 * (FR_RES_FLOAT32 or FR_RES_FLOAT64 of fr_reservoir.h). */
typedef struct {
    int precision;              /* IN */
    int activation;             /* IN FR_RES_TANH or FR_RES_SIGMOID */
    ptrdiff_t units;            /* IN N */
    ptrdiff_t inputs;           /* IN D */
    /* W (N x N): CSR (w_data, w_indices, w_indptr) when w_dense is NULL. */
    const void *w_data;         /* IN (nnz,) */
    const int32_t *w_indices;   /* IN (nnz,) */
    const int32_t *w_indptr;    /* IN (N + 1,) */
    const void *w_dense;        /* IN (N, N) row-major, or NULL */
    const void *w_in;           /* IN (N, D) row-major */
    const void *bias;           /* IN (N,) */
    const void *leak;           /* IN (N,) */
} fr_ip_model;

/* One series: inputs, states, and the adapted parameters. */
typedef struct {
    ptrdiff_t steps;            /* IN T */
    const void *u;              /* IN (T, D) */
    void *states;               /* OUT (T, N): x_1 .. x_T, or NULL */
    void *internal;             /* IN/OUT (N,): r_0 in, r_T out */
    void *state;                /* IN/OUT (N,): x_0 in, x_T out */
    void *gain;                 /* IN/OUT (N,): a */
    void *offset;               /* IN/OUT (N,): b */
} fr_ip_series;

/* The target distribution and the learning rate; `adapt` 0 runs the
 * reservoir with a and b fixed. */
typedef struct {
    int adapt;
    double mu, sigma, learning_rate;
} fr_ip_rule;

/* Run T steps, adapting a and b after each when rule->adapt. */
void fr_ip_run(const fr_ip_model *model, const fr_ip_series *series, const fr_ip_rule *rule);

#endif
