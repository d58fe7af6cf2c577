"""The recurrent layers and the per-step output layer.

Each layer is a thin Python class (``rnn.py``, ``lstm.py``, ...) that checks
its arguments, allocates the outputs and work buffers, and makes one call per
sequence into the Cython time loops beside it (``_recurrent.pyx`` for RNN,
LSTM and GRU; ``_leaky.pyx``, ``_clockwork.pyx``, ``_delays.pyx``), which run
the steps without the GIL over BLAS and the C cell kernels of ``csrc/cells``.
``base.py`` holds what every layer shares: the checked parameter store and
`RecurrentBase`, the one contract of every recurrent layer
(``forward(x, hx=None, lengths=None) -> (y, hx_n)``,
``backward(dy=None, dhx_n=None) -> (dx, dhx)``, ``step(x_t, hx=None) -> (y_t, hx)``).
``_loops.pxd`` (and ``_leaky_kernels.pxd``) name each C kernel once for float
and double.
"""
from fastrnn.layers.clockwork import ClockworkRNN
from fastrnn.layers.delays import DelayRNN
from fastrnn.layers.dropout import Dropout
from fastrnn.layers.embedding import Embedding
from fastrnn.layers.gru import GRU
from fastrnn.layers.leaky import LeakyRNN
from fastrnn.layers.linear import Linear
from fastrnn.layers.lstm import LSTM
from fastrnn.layers.rnn import RNN

__all__ = ["RNN", "LSTM", "GRU", "LeakyRNN", "ClockworkRNN", "DelayRNN", "Linear",
           "Embedding", "Dropout"]
