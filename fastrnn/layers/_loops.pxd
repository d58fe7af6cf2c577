# cython: language_level=3
"""What the time loops of the single-kernel layers (leaky, Clockwork, delays)
share: the two ends of every recurrent sweep, and the element-wise C kernels
behind one fused name each, so that a loop names a kernel once and Cython
picks its float (``_f``) or double (``_d``) version at compile time.

Before the loop, the input projection of all T steps is one GEMM on top of
the biases; after the backward sweep, the gradients of W_ih, of the bias and
of x are one GEMM each over all steps.
"""
from cython cimport floating

from fastrnn._core.blas cimport gemm
from fastrnn._core.kernels cimport (
    fr_fill_rows_f, fr_fill_rows_d,
    fr_rnn_act_fwd_f, fr_rnn_act_fwd_d, fr_rnn_act_bwd_f, fr_rnn_act_bwd_d,
)


cdef inline void activate(int act, floating *h, Py_ssize_t n) noexcept nogil:
    """h = act(h) in place over n values (act: FR_ACT_TANH or FR_ACT_RELU)."""
    if floating is float:
        fr_rnn_act_fwd_f(act, h, n)
    else:
        fr_rnn_act_fwd_d(act, h, n)


cdef inline void activate_backward(int act, floating *da, const floating *h, Py_ssize_t n,
                                   floating clip) noexcept nogil:
    """da (IN: dL/dh, clipped to [-clip, clip] when clip > 0; OUT: dL/da)
    through h = act(a), given h."""
    if floating is float:
        fr_rnn_act_bwd_f(act, da, h, n, clip)
    else:
        fr_rnn_act_bwd_d(act, da, h, n, clip)


cdef inline void project_inputs(int rows, int D, int width, const floating *x,
                                const floating *w_ih, const floating *bias,
                                floating *out) noexcept nogil:
    """out (rows x width) = bias + x (rows x D) @ w_ih^T, w_ih (width x D)."""
    if floating is float:
        fr_fill_rows_f(out, bias, rows, width)
    else:
        fr_fill_rows_d(out, bias, rows, width)
    gemm(False, True, rows, width, D, <floating> 1, x, D, w_ih, D, <floating> 1, out, width)


cdef inline void input_side_gradients(int rows, int D, int width, const floating *da,
                                      const floating *x, const floating *w_ih,
                                      const floating *ones, floating *gw_ih, floating *gb,
                                      floating *dx) noexcept nogil:
    """From the pre-activation gradients da (rows x width): gw_ih += da^T x,
    gb += the column sums of da (a GEMM with a ones vector), dx = da @ w_ih."""
    gemm(True, False, width, D, rows, <floating> 1, da, width, x, D, <floating> 1, gw_ih, D)
    gemm(True, False, 1, width, rows, <floating> 1, ones, 1, da, width, <floating> 1, gb, width)
    gemm(False, False, rows, D, width, <floating> 1, da, width, w_ih, D, <floating> 0, dx, D)


cdef inline object numpy_dtype(floating *tag):
    """The NumPy dtype of the fused type that ``tag`` points to, for the work
    arrays a loop allocates."""
    import numpy
    if floating is float:
        return numpy.float32
    else:
        return numpy.float64
