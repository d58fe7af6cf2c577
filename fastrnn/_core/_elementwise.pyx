# cython: language_level=3
"""Array entry points to the vectorised activations of csrc/common/fr_math.h."""
from cython cimport floating

cdef extern from "fr_kernels.h":
    int FR_PORTABLE_BUILD

#: Whether this build has only the portable C kernels (FASTRNN_PORTABLE=1 at
#: build time, or a machine that is not x86-64), not the x86 clones.
PORTABLE_BUILD = bool(FR_PORTABLE_BUILD)

from fastrnn._core.kernels cimport (
    fr_fp_enter, fr_fp_leave, fr_tanh_f, fr_tanh_d, fr_sigmoid_f, fr_sigmoid_d,
    fr_vecmat_acc_f, fr_vecmat_acc_d,
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


def vecmat_acc(const floating[::1] v, const floating[:, ::1] m, floating[::1] out):
    """out += v @ m (the C kernel behind small recurrent products)."""
    if m.shape[0] == 0:
        return
    with nogil:
        if floating is float:
            fr_vecmat_acc_f(&v[0], &m[0, 0], &out[0], m.shape[0], m.shape[1])
        else:
            fr_vecmat_acc_d(&v[0], &m[0, 0], &out[0], m.shape[0], m.shape[1])
