"""fastrnn: recurrent networks on the CPU, with Cython/C time loops over BLAS.

Public API
----------
RNN                 tanh/ReLU recurrent layer with BPTT (Goodfellow et al. (2016), eq. 10.4-10.5)
ClockworkRNN        modules at several time scales that skip work
                    (Goodfellow et al. (2016), sec. 10.7.9)
DelayRNN            recurrent connections with delays d >= 1 (Goodfellow et al. (2016), sec. 10.7.2)
LeakyRNN            leaky units, fixed or learned time constants (eq. 10.7), with the
                    information-flow regulariser in its BPTT (eq. 10.16)
LSTM                long short-term memory (Goodfellow et al. (2016), eq. 10.8-10.11)
GRU                 gated recurrent unit, both reset forms
                    (Goodfellow et al. (2016), eq. 10.12-10.14)
Linear              per-step output layer o_t = c + V h_t
Embedding           token ids to learned vectors (padding_idx as PyTorch's)
Dropout             inverted dropout between layers, on in training mode only
generate_tokens     free-running generation (greedy, sampling, beam search) to an end
                    symbol (sec. 10.2.2), from explicit parts; Sequential.generate for a
                    language model
ContextRNN          an RNN/LSTM/GRU conditioned on a context vector (sec. 10.2.3)
Attention           soft attention over encoder states (sec. 10.7.5, Luong et al. 2015)
Seq2Seq             encoder-decoder trained by teacher forcing (sec. 10.4)
losses              softmax_nll (eq. 10.5), mse
clip_grad_norm      joint norm clipping (eq. 10.15), random step on NaN/Inf
clip_grad_value     element-wise clipping
global_norm         norm of a list of gradients
SGD, Adam           optimisers with clipping built in (fused C updates)
Sequential, train   layers in series (embedding, recurrent, dropout, output), and the
                    (truncated) BPTT loop
tasks               adding, temporal-order and latching problems
diagnostics         gradient flow per step, spectral radius, Lyapunov exponent, plots
init                orthogonal, scaled identity, sparse with a target spectral radius
save, load          persistence in one .npz file, never unpickled (fastrnn.io)
from_onnx           an ONNX model's LSTM/GRU/RNN nodes as layers (needs fastrnn[onnx])
to_onnx             RNN/LSTM/GRU (and a Sequential with a Linear head) as an ONNX file
Reservoir           leaky echo state reservoir, sparse CSR or dense W (10.7.1, eq. 10.7)
Ridge, RLS          linear readouts: streamed ridge regression, recursive least squares
LMS                 least-mean-squares online readout (Widrow & Hoff 1960)
generators          reservoir matrices: cycle (Rodan & Tino 2011), cycle with jumps (2012),
                    small-world, orthogonal, uniform and normal sparse
ESN                 reservoir + readout, with output feedback and generation
NVAR, NVARForecaster next-generation reservoir computing (Gauthier et al. 2021)
ReservoirGraph      reservoirs in series and in parallel read by named readouts (Jaeger 2007)
DeepESN             reservoirs in series, all layers read (Gallicchio et al. 2017)
EstimatorReadout    any scikit-learn estimator (LogisticRegression, Lasso, ...) as a readout
datasets, metrics   Mackey-Glass, NARMA, Lorenz, Rossler, Lorenz-96, Kuramoto-Sivashinsky,
                    Henon and logistic maps, MSO, memory task, to_forecasting; nrmse, mae,
                    rsquare, memory_capacity, valid_prediction_time, effective_spectral_radius
DeepTransitionRNN   an MLP between h(t-1) and h(t), with the skip (Pascanu et al. 2014; sec. 10.5)
StackedRNN          recurrent layers of any kinds in series, all layers' states in the output
RecursiveNet        a recursive network over batches of binary trees (TreeBatch; sec. 10.6)
set_num_threads     threads of fastrnn's own loops (get_num_threads); results never depend
                    on them
no_grad             forward calls keep nothing for backward in this block (inference:
                    less memory, faster); is_grad_enabled
NotFittedError      raised by a call made too early (predict before fit, backward before
                    forward); a ValueError and an AttributeError, as in scikit-learn

Not imported here (import them yourself; each needs its optional package):

fastrnn.sklearn     ESNRegressor, ESNClassifier, RNNRegressor, RNNClassifier: scikit-learn
                    estimators for Pipeline and GridSearchCV
fastrnn.dask        readouts fitted, any model run, reservoirs searched (grid or random) on Dask workers

The command line (``fastrnn`` or ``python -m fastrnn``) is fastrnn/cli/.
"""
from fastrnn._version import __version__

try:
    from fastrnn.layers import _recurrent  # noqa: F401  (the compiled core)
except ImportError as exc:   # pragma: no cover - depends on how Python was started
    import os as _os
    if _os.path.exists(_os.path.join(_os.path.dirname(__file__), "layers", "_recurrent.pyx")):
        raise ImportError(
            f"fastrnn was imported from its source tree ({_os.path.dirname(__file__)}), "
            f"which holds no compiled extensions. Run from another directory so that the "
            f"installed package is found (python -m puts the current directory first), use "
            f"the `fastrnn` command, or build in place with `pip install -e .`."
        ) from exc
    raise
from fastrnn._core.cpus import get_num_threads, set_num_threads
from fastrnn._core.grad_mode import is_grad_enabled, no_grad
from fastrnn._core.validation import NotFittedError
from fastrnn.analysis import datasets, diagnostics, metrics, tasks
from fastrnn.io import load, save
from fastrnn.layers import GRU, LSTM, RNN, ClockworkRNN, DelayRNN, LeakyRNN, Linear
from fastrnn.onnx import from_onnx, to_onnx
from fastrnn.reservoir import ESN, LMS, NVAR, RLS, NVARForecaster, Reservoir, Ridge, generators
from fastrnn.reservoir import DeepESN, EstimatorReadout, ReservoirGraph
from fastrnn.reservoir import FORCE, IPReservoir
from fastrnn.reservoir import ESNSequenceEncoder
from fastrnn.layers import DeepTransitionRNN
from fastrnn.models import RecursiveNet, StackedRNN, TreeBatch
from fastrnn.training import (
    SGD, Adam, Sequential, clip_grad_norm, clip_grad_value, global_norm, init, losses, optim,
    train,
)
from fastrnn.layers import Dropout, Embedding
from fastrnn.models import Decoded, generate_tokens
from fastrnn.models import Attention, ContextRNN, Seq2Seq


def _keep_former_module_paths():
    """Before the subpackages, every module sat flat in ``fastrnn/``; scripts
    that import ``fastrnn.esn`` or ``from fastrnn.lstm import LSTM`` keep
    working: each former path names the module that now holds its code."""
    import importlib
    import sys
    former = {
        "rnn": "layers.rnn", "lstm": "layers.lstm", "gru": "layers.gru",
        "leaky": "layers.leaky", "clockwork": "layers.clockwork", "delays": "layers.delays",
        "output": "layers.linear", "torch_export": "layers.torch_export",
        "esn": "reservoir.esn", "readout": "reservoir.readout",
        "losses": "training.losses", "optim": "training.optim", "clip": "training.clip",
        "init": "training.init", "train": "training.train",
        "onnx_import": "onnx.importer", "onnx_export": "onnx.exporter",
        "diagnostics": "analysis.diagnostics", "metrics": "analysis.metrics",
        "datasets": "analysis.datasets", "tasks": "analysis.tasks",
    }
    for old, new in former.items():
        module = importlib.import_module(f"{__name__}.{new}")
        sys.modules.setdefault(f"{__name__}.{old}", module)
        globals().setdefault(old, module)


_keep_former_module_paths()

__all__ = [
    "__version__",
    "RNN",
    "ClockworkRNN",
    "DelayRNN",
    "LeakyRNN",
    "LSTM",
    "GRU",
    "Linear",
    "losses",
    "optim",
    "SGD",
    "Adam",
    "Sequential",
    "train",
    "tasks",
    "diagnostics",
    "init",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
    "save",
    "load",
    "from_onnx",
    "to_onnx",
    "Reservoir",
    "Ridge",
    "RLS",
    "LMS",
    "generators",
    "ESN",
    "NVAR",
    "NVARForecaster",
    "datasets",
    "metrics",
    "NotFittedError",
    "set_num_threads",
    "get_num_threads",
    "no_grad",
    "is_grad_enabled",
    "ReservoirGraph",
    "DeepESN",
    "EstimatorReadout",
    "FORCE",
    "IPReservoir",
    "ESNSequenceEncoder",
    "Embedding",
    "Dropout",
    "DeepTransitionRNN",
    "StackedRNN",
    "RecursiveNet",
    "TreeBatch",
    "Decoded",
    "generate_tokens",
    "ContextRNN",
    "Attention",
    "Seq2Seq",
]
