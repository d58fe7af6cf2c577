"""fastrnn: recurrent networks on the CPU, with Cython/C time loops over BLAS.

Public API
----------
RNN                 tanh/ReLU recurrent layer with BPTT (seed 002, eq. 10.4-10.5)
Linear              per-step output layer o_t = c + V h_t
losses              softmax_nll (eq. 10.5), mse
clip_grad_norm      joint norm clipping (eq. 10.15), random step on NaN/Inf
clip_grad_value     element-wise clipping
global_norm         norm of a list of gradients
Reservoir           leaky echo state reservoir, sparse CSR or dense W (10.7.1, eq. 10.7)
Ridge, RLS          linear readouts: streamed ridge regression, recursive least squares
ESN                 reservoir + readout, with output feedback and generation
datasets, metrics   Mackey-Glass, NARMA, Lorenz, memory task; nrmse, rsquare, memory_capacity
"""
from fastrnn._version import __version__
from fastrnn import losses
from fastrnn.clip import clip_grad_norm, clip_grad_value, global_norm
from fastrnn.output import Linear
from fastrnn.rnn import RNN
from fastrnn import datasets, metrics
from fastrnn.esn import ESN
from fastrnn.readout import RLS, Ridge
from fastrnn.reservoir import Reservoir

__all__ = [
    "__version__",
    "RNN",
    "Linear",
    "losses",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
    "Reservoir",
    "Ridge",
    "RLS",
    "ESN",
    "datasets",
    "metrics",
]
