/* Fused parameter updates of the optimisers (fastrnn/training/optim.py), float and
 * double. One pass over each parameter array: read p, g and the optimiser's
 * state, write p and the state. */
#ifndef FASTRNN_FR_OPTIM_H
#define FASTRNN_FR_OPTIM_H

#include <stddef.h>

#define FR_DECLARE_OPTIM(T, S)                                                        \
    void fr_sgd_step_##S(T *p, const T *g, T *buf, ptrdiff_t n, T lr, T momentum,      \
                         int nesterov, T weight_decay, int first);                     \
    void fr_adam_step_##S(T *p, const T *g, T *m, T *v, ptrdiff_t n, T lr, T beta1,    \
                          T beta2, T eps, T bias_correction1, T sqrt_bias_correction2, \
                          T weight_decay);

FR_DECLARE_OPTIM(float, f)
FR_DECLARE_OPTIM(double, d)

#undef FR_DECLARE_OPTIM

#endif
