"""fastrnn: recurrent networks on the CPU, with Cython/C time loops over BLAS.

Public API
----------
RNN                 tanh/ReLU recurrent layer with BPTT (seed 002, eq. 10.4-10.5)
LSTM                long short-term memory (seed 002, eq. 10.8-10.11)
GRU                 gated recurrent unit, both reset forms (seed 002, eq. 10.12-10.14)
Linear              per-step output layer o_t = c + V h_t
losses              softmax_nll (eq. 10.5), mse
clip_grad_norm      joint norm clipping (eq. 10.15), random step on NaN/Inf
clip_grad_value     element-wise clipping
global_norm         norm of a list of gradients
"""
from fastrnn._version import __version__
from fastrnn import losses
from fastrnn.clip import clip_grad_norm, clip_grad_value, global_norm
from fastrnn.output import Linear
from fastrnn.rnn import RNN
from fastrnn.lstm import LSTM
from fastrnn.gru import GRU

__all__ = [
    "__version__",
    "RNN",
    "LSTM",
    "GRU",
    "Linear",
    "losses",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
]
