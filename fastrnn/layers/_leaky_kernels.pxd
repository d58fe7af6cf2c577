# cython: language_level=3
"""The fused C kernels of the leaky layer and of the information-flow
regulariser (csrc/cells/fr_leaky.h), each behind one name for float and
double (Cython picks the version at compile time)."""
from cython cimport floating

cdef extern from "fr_leaky.h" nogil:
    void fr_leaky_fwd_f(Py_ssize_t rows, Py_ssize_t H, const float *alpha, const float *hp,
                        float *a_to_s, float *h)
    void fr_leaky_fwd_d(Py_ssize_t rows, Py_ssize_t H, const double *alpha, const double *hp,
                        double *a_to_s, double *h)
    void fr_leaky_bwd_f(Py_ssize_t rows, Py_ssize_t H, const float *alpha, const float *s,
                        const float *hp, float *dh_to_da, float *carry, float *dalpha, float clip)
    void fr_leaky_bwd_d(Py_ssize_t rows, Py_ssize_t H, const double *alpha, const double *s,
                        const double *hp, double *dh_to_da, double *carry, double *dalpha,
                        double clip)
    double fr_omega_q_f(Py_ssize_t rows, Py_ssize_t H, const float *u, const float *g,
                        float weight, float *q)
    double fr_omega_q_d(Py_ssize_t rows, Py_ssize_t H, const double *u, const double *g,
                        double weight, double *q)
    void fr_omega_inject_f(Py_ssize_t rows, Py_ssize_t H, const float *alpha, const float *s,
                           const float *hp, const float *g, const float *q, const float *w,
                           float *r, float *r_carry, float *dalpha)
    void fr_omega_inject_d(Py_ssize_t rows, Py_ssize_t H, const double *alpha, const double *s,
                           const double *hp, const double *g, const double *q, const double *w,
                           double *r, double *r_carry, double *dalpha)


cdef inline void leaky_step(Py_ssize_t rows, Py_ssize_t H, const floating *alpha,
                            const floating *h_prev, floating *a_to_s,
                            floating *h) noexcept nogil:
    """One step of eq. 10.7 for ``rows`` rows: a_to_s (IN: the pre-activation
    a_t; OUT: s_t = tanh(a_t)), h (OUT) = (1 - alpha) h_prev + alpha s_t."""
    if floating is float:
        fr_leaky_fwd_f(rows, H, alpha, h_prev, a_to_s, h)
    else:
        fr_leaky_fwd_d(rows, H, alpha, h_prev, a_to_s, h)


cdef inline void leaky_step_backward(Py_ssize_t rows, Py_ssize_t H, const floating *alpha,
                                     const floating *s, const floating *h_prev,
                                     floating *dh_to_da, floating *carry, floating *dalpha,
                                     floating clip) noexcept nogil:
    """Back through one step: dh_to_da (IN: dL/dh_t; OUT: dL/da_t), carry
    (IN/OUT: dL/dh_{t-1} gains the leak's (1 - alpha) dL/dh_t), dalpha
    (IN/OUT: accumulated)."""
    if floating is float:
        fr_leaky_bwd_f(rows, H, alpha, s, h_prev, dh_to_da, carry, dalpha, clip)
    else:
        fr_leaky_bwd_d(rows, H, alpha, s, h_prev, dh_to_da, carry, dalpha, clip)


cdef inline double omega_step_terms(Py_ssize_t rows, Py_ssize_t H, const floating *u,
                                    const floating *g, floating weight,
                                    floating *q) noexcept nogil:
    """Pascanu et al. (2013), eq. 10.16's term at one step: returns its value
    times ``weight``; q (OUT) its gradient with respect to u (IN, the carried
    dL/dh_t dh_t/dh_{t-1}), g (IN) dL/dh_t held constant."""
    if floating is float:
        return fr_omega_q_f(rows, H, u, g, weight, q)
    else:
        return fr_omega_q_d(rows, H, u, g, weight, q)


cdef inline void omega_inject(Py_ssize_t rows, Py_ssize_t H, const floating *alpha,
                              const floating *s, const floating *h_prev, const floating *g,
                              const floating *q, const floating *w, floating *r,
                              floating *r_carry, floating *dalpha) noexcept nogil:
    """The regulariser's gradient stream through one step: r (OUT) its
    pre-activation gradient, r_carry (IN/OUT) its dOmega/dh_{t-1}, dalpha
    (IN/OUT) accumulated."""
    if floating is float:
        fr_omega_inject_f(rows, H, alpha, s, h_prev, g, q, w, r, r_carry, dalpha)
    else:
        fr_omega_inject_d(rows, H, alpha, s, h_prev, g, q, w, r, r_carry, dalpha)
