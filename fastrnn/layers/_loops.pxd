# cython: language_level=3
"""What the time loops of the single-kernel layers (leaky, Clockwork, delays)
share: the two ends of every recurrent sweep. (Their element-wise kernels,
the activations among them, are the fused wrappers of fastrnn/_core/kernels.pxd.)

Before the loop, the input projection of all T steps is one GEMM on top of
the biases; after the backward sweep, the gradients of W_ih, of the bias and
of x are one GEMM each over all steps.
"""
from cython cimport floating

from fastrnn._core.blas cimport gemm
from fastrnn._core.kernels cimport fill_rows


cdef inline void project_inputs(int rows, int D, int width, const floating *x,
                                const floating *w_ih, const floating *bias,
                                floating *out) noexcept nogil:
    """out (rows x width) = bias + x (rows x D) @ w_ih^T, w_ih (width x D)."""
    fill_rows(out, bias, rows, width)
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
