"""fastrnn: recurrent networks on the CPU, with Cython/C time loops over BLAS.

Public API
----------
RNN                 tanh/ReLU recurrent layer with BPTT (seed 002, eq. 10.4-10.5)
Linear              per-step output layer o_t = c + V h_t
losses              softmax_nll (eq. 10.5), mse
clip_grad_norm      joint norm clipping (eq. 10.15), random step on NaN/Inf
clip_grad_value     element-wise clipping
global_norm         norm of a list of gradients
save, load          persistence in one .npz file, never unpickled (fastrnn.io)
"""
from fastrnn._version import __version__
from fastrnn import losses
from fastrnn.io import load, save
from fastrnn.clip import clip_grad_norm, clip_grad_value, global_norm
from fastrnn.output import Linear
from fastrnn.rnn import RNN

__all__ = [
    "__version__",
    "RNN",
    "Linear",
    "losses",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
    "save",
    "load",
]
