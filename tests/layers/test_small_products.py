"""The small mat-vec kernel (csrc/common/fr_kernels_impl.h) that replaces BLAS
for the products of one sequence, in both orientations, reached through the
layers that ship it: the cells' streaming step (y = W x, every product of a
batch of one) and the leaky layer's sweep (y = x W, a row times a matrix)."""
import numpy as np
import pytest

import fastrnn
from fastrnn.layers.leaky import LeakyRNN
from reference import rnn_forward

# (hidden, input) sizes: tiny, odd, a multiple of the vector width, the
# remainder loops of both dimensions, and a tall matrix.
SHAPES = [(1, 1), (7, 3), (64, 64), (33, 129), (256, 5)]


def _tolerance(dtype, n):
    tol = 1e-5 if dtype == np.float32 else 1e-13
    return dict(rtol=tol, atol=tol * np.sqrt(n))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden,inputs", SHAPES)
def test_matrix_times_vector_in_the_step(dtype, hidden, inputs, rng):
    # ReLU keeps the products themselves (where positive): y = W_ih x + b +
    # W_hh h with W_ih of hidden x inputs and W_hh square, both through the
    # kernel for one sequence.
    layer = fastrnn.RNN(inputs, hidden, nonlinearity="relu", dtype=dtype, seed=0)
    p = layer.params
    x = rng.standard_normal(inputs).astype(dtype)
    h = rng.standard_normal((1, hidden)).astype(dtype)
    y, _ = layer.step(x, h)
    f64 = {k: v.astype(np.float64) for k, v in p.items()}
    pre = (f64["weight_ih_l0"] @ x.astype(np.float64) + f64["bias_ih_l0"]
           + f64["weight_hh_l0"] @ h[0].astype(np.float64) + f64["bias_hh_l0"])
    np.testing.assert_allclose(y, np.maximum(pre, 0), **_tolerance(dtype, inputs + hidden))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", [1, 2, 5, 7, 33, 64, 129])
def test_vector_times_matrix_in_the_leaky_sweep(dtype, hidden, rng):
    # With tau = 1 the leaky layer is the tanh RNN (Goodfellow et al. (2016),
    # eq. 10.7); its recurrent product of one sequence is h_{t-1} W_hh^T
    # computed as a row times the stored transpose: the other orientation.
    layer = LeakyRNN(3, hidden, tau=1.0, dtype=dtype, seed=1)
    p = {k: v.astype(np.float64) for k, v in layer.params.items()}
    x = rng.standard_normal((4, 1, 3)).astype(dtype)
    h0 = rng.standard_normal((1, 1, hidden)).astype(dtype)
    y, _ = layer.forward(x, h0)
    hs = rnn_forward(x.astype(np.float64), p["weight_ih_l0"], p["weight_hh_l0"],
                     p["bias_ih_l0"], p["bias_hh_l0"], h0[0].astype(np.float64))
    np.testing.assert_allclose(y, hs[1:], **_tolerance(dtype, hidden))
