# cython: language_level=3
"""Array entry points to the vectorised activations of csrc/fr_math.h."""
from cython cimport floating

from fastrnn._kernels cimport (
    fr_fp_enter, fr_fp_leave, fr_tanh_f, fr_tanh_d, fr_sigmoid_f, fr_sigmoid_d,
)


def tanh_into(const floating[::1] x, floating[::1] out):
    cdef unsigned int fpstate
    if x.shape[0] == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        if floating is float:
            fr_tanh_f(&x[0], &out[0], x.shape[0])
        else:
            fr_tanh_d(&x[0], &out[0], x.shape[0])
        fr_fp_leave(fpstate)


def sigmoid_into(const floating[::1] x, floating[::1] out):
    cdef unsigned int fpstate
    if x.shape[0] == 0:
        return
    with nogil:
        fpstate = fr_fp_enter()
        if floating is float:
            fr_sigmoid_f(&x[0], &out[0], x.shape[0])
        else:
            fr_sigmoid_d(&x[0], &out[0], x.shape[0])
        fr_fp_leave(fpstate)
