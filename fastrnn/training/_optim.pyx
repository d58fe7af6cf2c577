# cython: language_level=3
"""Per-array calls of the fused optimiser kernels (csrc/training/fr_optim_impl.h).

The arrays are flat, C-contiguous, of one dtype per (param, grad, state)
group, checked once when the optimiser is built. The hyper-parameters arrive
as Python floats and are rounded to the arrays' precision once per call.
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


cdef inline void _sgd_kernel(floating *p, const floating *g, floating *buf, Py_ssize_t n,
                             floating lr, floating momentum, bint nesterov,
                             floating weight_decay, bint first) noexcept nogil:
    if floating is float:
        fr_sgd_step_f(p, g, buf, n, lr, momentum, nesterov, weight_decay, first)
    else:
        fr_sgd_step_d(p, g, buf, n, lr, momentum, nesterov, weight_decay, first)


cdef inline void _adam_kernel(floating *p, const floating *g, floating *m, floating *v,
                              Py_ssize_t n, floating lr, floating beta1, floating beta2,
                              floating eps, floating bias_correction1,
                              floating sqrt_bias_correction2,
                              floating weight_decay) noexcept nogil:
    if floating is float:
        fr_adam_step_f(p, g, m, v, n, lr, beta1, beta2, eps, bias_correction1,
                       sqrt_bias_correction2, weight_decay)
    else:
        fr_adam_step_d(p, g, m, v, n, lr, beta1, beta2, eps, bias_correction1,
                       sqrt_bias_correction2, weight_decay)


def sgd_step(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr,
             double momentum, bint nesterov, double weight_decay, bint first):
    """p (INOUT) one SGD step with gradient g (IN); buf (INOUT): the momentum
    buffer, empty without momentum."""
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        _sgd_kernel(&p[0], &g[0], &buf[0] if buf.shape[0] else NULL, n, <floating> lr,
                    <floating> momentum, nesterov, <floating> weight_decay, first)


def adam_step(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
              double lr, double beta1, double beta2, double eps, double bc1,
              double sqrt_bc2, double weight_decay):
    """p (INOUT) one Adam step with gradient g (IN); m, v (INOUT): the
    moment estimates; bc1, sqrt_bc2: the bias corrections of this step."""
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        _adam_kernel(&p[0], &g[0], &m[0], &v[0], n, <floating> lr, <floating> beta1,
                     <floating> beta2, <floating> eps, <floating> bc1, <floating> sqrt_bc2,
                     <floating> weight_decay)
