# cython: language_level=3
"""Per-array calls of the fused optimiser kernels (csrc/training/fr_optim_impl.h).

The arrays are flat, C-contiguous, of one dtype per (param, grad, state)
group, checked once when the optimiser is built.
"""
from cython cimport floating

cdef extern from "fr_optim.h" nogil:
    void fr_sgd_step_f(float *p, const float *g, float *buf, Py_ssize_t n, float lr,
                       float momentum, int nesterov, float weight_decay, int first)
    void fr_sgd_step_d(double *p, const double *g, double *buf, Py_ssize_t n, double lr,
                       double momentum, int nesterov, double weight_decay, int first)
    void fr_adam_step_f(float *p, const float *g, float *m, float *v, Py_ssize_t n,
                        float lr, float beta1, float beta2, float eps, float bc1,
                        float sqrt_bc2, float weight_decay)
    void fr_adam_step_d(double *p, const double *g, double *m, double *v, Py_ssize_t n,
                        double lr, double beta1, double beta2, double eps, double bc1,
                        double sqrt_bc2, double weight_decay)


def sgd_step(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr,
             double momentum, bint nesterov, double weight_decay, bint first):
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            fr_sgd_step_f(&p[0], &g[0], &buf[0] if buf.shape[0] else NULL, n, <float> lr,
                          <float> momentum, nesterov, <float> weight_decay, first)
        else:
            fr_sgd_step_d(&p[0], &g[0], &buf[0] if buf.shape[0] else NULL, n, lr,
                          momentum, nesterov, weight_decay, first)


def adam_step(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
              double lr, double beta1, double beta2, double eps, double bc1,
              double sqrt_bc2, double weight_decay):
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            fr_adam_step_f(&p[0], &g[0], &m[0], &v[0], n, <float> lr, <float> beta1,
                           <float> beta2, <float> eps, <float> bc1, <float> sqrt_bc2,
                           <float> weight_decay)
        else:
            fr_adam_step_d(&p[0], &g[0], &m[0], &v[0], n, lr, beta1, beta2, eps, bc1,
                           sqrt_bc2, weight_decay)
