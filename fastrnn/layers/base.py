"""What every recurrent layer shares: the checked parameter store, the one
public contract (`RecurrentBase`), variable lengths, and the stacked,
bidirectional gated layers (`RecurrentLayer`).

Two levels:

- `RecurrentBase` is the contract of all six layers (``forward``,
  ``backward``, ``step``, ``__call__``, ``params``/``grads``/``zero_grad``,
  ``batch_first``) and the checks every one of them needs once per call
  (input, state, lengths and output-gradient shapes; former keyword names).
  `LeakyRNN`, `ClockworkRNN` and `DelayRNN` subclass it directly: each has
  its own Cython loop (``_leaky.pyx``, ``_clockwork.pyx``, ``_delays.pyx``).
- `RecurrentLayer` adds layers and directions for `RNN`, `LSTM` and `GRU`,
  which differ only in their cell kind (gate count and fused kernels, see
  fastrnn/layers/_recurrent.pyx and csrc/cells/fr_cells_impl.h), in how their
  biases enter the kernels, and in whether the state carries a cell state
  (LSTM).

Data layout inside: time-major (T, B, features), C-contiguous, in the
layer's dtype. With ``lengths``, the batch rows are sorted by decreasing
length on the way in (so that the rows still running at step t are a prefix,
``_Batch.batch_sizes[t]`` of them, as in PyTorch's packed sequences), every
loop runs only those rows at each step, and the rows are put back in the
caller's order on the way out. The backward direction of a bidirectional
layer reads each sequence reversed within its own length.
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Any, Mapping, Optional, TypeVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn._core import blas_threads as _blas_threads
from fastrnn._core.cpus import available_cpus, get_num_threads

from fastrnn.layers import _recurrent
from fastrnn._core.validation import (
    NotFittedError,
    check_bool,
    as_float_array,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
)
from fastrnn._core.validation import SeedLike
from fastrnn._core.grad_mode import is_grad_enabled
from fastrnn.io import format as io_format

_Layer = TypeVar("_Layer", bound="RecurrentLayer")
_Mode = TypeVar("_Mode", bound="TrainingMode")

_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32),
          np.dtype(np.float64): np.empty(0, np.float64)}


# Per-step products below this many flops run single-threaded: waking and
# joining OpenBLAS's threads once per step costs more than the second thread
# saves. Above it the steps keep the BLAS's threads, which is faster on an
# idle machine (D=128, H=256, B=32: 30-38 ms against 38-47 ms forward), but
# only while every BLAS thread has a core: on a busy machine each step waits
# a scheduler slice for a descheduled thread, and the same forward took
# 800-1900 ms threaded against 80-95 ms on one thread (load average 4.4 on 2
# cores). So the steps also run on one thread while the machine is busy.
# Results are the same either way (OpenBLAS splits a GEMM's output, never
# its sums).
STEP_THREADS_MIN_FLOPS = 4e6

_CPUS = available_cpus()
_BUSY_RECHECK_SECONDS = 1.0
_busy = {"checked": -np.inf, "value": False}


def _machine_is_busy():
    """Whether more tasks want to run than there are cores for this process:
    the one-minute load average (which counts our own running threads) above
    the core count by at least half a task. Read at most once a second."""
    now = time.monotonic()
    if now - _busy["checked"] >= _BUSY_RECHECK_SECONDS:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):   # not on this platform
            load = 0.0
        _busy["value"] = load > _CPUS + 0.5
        _busy["checked"] = now
    return _busy["value"]


def _step_threads(B, G, H):
    """BLAS threads for the per-step products: 1 for small ones or on a busy
    machine, 0 (leave the BLAS as it is) otherwise."""
    if not _blas_threads.AVAILABLE:
        return 0
    if 2.0 * B * G * H * H < STEP_THREADS_MIN_FLOPS or _machine_is_busy():
        return 1
    return 0


# Which step loop a layer's forward takes. Inference (fastrnn.no_grad) runs
# on the engine at every size: with the inputs projected a few steps ahead
# and the gate rows in a ring it measured faster than the BLAS loop at every
# size here (Intel Xeon with AVX-512, 2 cores, float32, 2 threads,
# 2026-12-02, best block medians):
#   D=32,   H=64,   B=1,  T=1000: 1.06 ms (LSTM), 0.76 ms (GRU) on one thread;
#   D=128,  H=256,  B=32, T=100:  LSTM 11.9-18.7 ms against 27.5 ms, GRU
#       8.6-13.5 ms against 26.5 ms;
#   D=512,  H=1024, B=64, T=50:   LSTM 214-243 ms against 357 ms, GRU
#       144-163 ms against 270 ms.
# (The spread is the shared machine's.) A forward that keeps the gates for
# backward takes the engine for steps below ENGINE_MAX_STEP_FLOPS only: above
# it, a training step alternates the engine's team with OpenBLAS's threads
# (backward's products), and each pool's threads, spinning after their
# work, took the other's cores: forward + backward at D=128, H=256, B=32 went
# from 53 to 79 ms against 49 ms for PyTorch. Small steps run on one thread
# (the team's meeting once per step costs more than the second thread
# saves), steps of ENGINE_THREADS_MIN_FLOPS or more on fastrnn's thread
# setting. Both loops give results that do not depend on the thread count;
# the BLAS loop also runs every sweep with recurrent dropout's mask.
ENGINE_MAX_STEP_FLOPS = 4e6
ENGINE_THREADS_MIN_FLOPS = 4e6


def _engine_threads(B, G, H, dtype, keep=True):
    """Threads of the gated-cell engine's step loop for one layer, or 0 for
    the BLAS loop (a large step of a forward that keeps its gates): one for
    a small step, else fastrnn's thread setting, at most one per block of
    units (a thread owns whole blocks)."""
    flops = 2.0 * B * G * H * H
    if keep and flops >= ENGINE_MAX_STEP_FLOPS:
        return 0
    if flops < ENGINE_THREADS_MIN_FLOPS:
        return 1
    blocks = -(-H // _recurrent.block_units(dtype == np.float64))
    return max(1, min(get_num_threads(), blocks, _recurrent.MAX_THREADS))


def _flat(a):
    """Flat view for the Cython entry points (every buffer is contiguous)."""
    return a.reshape(-1)


# ------------------------------------------------------ sizes and memory
# The kernels count features, units, rows and time steps in C ints.
C_INT_MAX = 2**31 - 1
# Bytes an array costs beyond its data (the ndarray object, its name, its
# dict slot), used only to refuse hopeless sizes before building anything.
_ARRAY_OVERHEAD = 256


def check_size(value: int, name: str) -> int:
    """A layer size (features, units, layers): an int in [1, 2**31 - 1]."""
    return check_int(value, name, minimum=1, maximum=C_INT_MAX)


def check_rows(T: int, B: int, name: str = "x") -> None:
    """T * B (steps times sequences) must fit the kernels' C int row count."""
    if T * B > C_INT_MAX:
        raise ValueError(f"{name} has T * B = {T * B} rows (time steps times sequences); "
                         f"at most {C_INT_MAX} fit in one call")


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):   # not on this platform
        return None


def check_parameter_memory(n_values: int, n_arrays: int, itemsize: int, what: str) -> None:
    """MemoryError, before anything is allocated, when a layer's parameters
    and gradients (``n_values`` numbers in ``n_arrays`` arrays of each) could
    not fit in this machine's memory: ``num_layers=10**9`` would otherwise
    build layers for minutes before running out."""
    need = 2 * (n_values * itemsize + n_arrays * _ARRAY_OVERHEAD)
    total = _physical_memory()
    if total is not None and need > total:
        raise MemoryError(f"{what}: its parameters and gradients need {need / 2**30:.3g} GiB, "
                          f"more than this machine's {total / 2**30:.3g} GiB of memory")


# ------------------------------------------------------------ parameters
class ParameterDict(dict):
    """The arrays a layer's kernels read (``params``) or write (``grads``),
    keyed by name; the keys, shapes and dtype are fixed by the layer's
    configuration.

    A dict, so everything that reads one keeps working, but one that guards
    its arrays: ``d[name] = value`` checks ``value`` (real numbers of exactly
    the parameter's shape; cast to the layer's dtype as NumPy casts) and
    copies it into the existing array, so that optimisers and step plans
    holding that array see the new values; new keys and deletions are
    refused. In-place updates (``d[name][...] = v``, ``d[name] -= lr * g``)
    work as on any array. The layers also check every array once per call
    (`ParameterOwner._check_arrays`), which catches what no dict method sees
    (an array reshaped or resized in place).
    """

    __slots__ = ("_dtype", "_what")

    def __init__(self, arrays: Mapping[str, np.ndarray], dtype: DTypeLike, what: str) -> None:
        super().__init__(arrays)   # built by the layer: trusted
        self._dtype = np.dtype(dtype)
        self._what = what

    def _target(self, name):
        try:
            current = dict.get(self, name)
        except TypeError:   # unhashable
            current = None
        if current is None:
            raise ValueError(f"{self._what} has no entry {name!r}; its keys are fixed by the "
                             f"layer's configuration: {sorted(self)}")
        return current

    def _converted(self, name, value, label=None):
        target = self._target(name)
        label = f"{self._what}[{name!r}]" if label is None else label
        arr = as_float_array(value, label, self._dtype, shape=target.shape)
        return target, arr

    def __setitem__(self, name: str, value: ArrayLike) -> None:
        target = self._target(name)
        if value is target:
            return   # d[name] += v: the in-place operator has done the work
        target[...] = as_float_array(value, f"{self._what}[{name!r}]", self._dtype,
                                     shape=target.shape)

    def update(self, *args: Any, **kwargs: ArrayLike) -> None:
        """Assign several entries; all are checked before any is copied."""
        pairs = [self._converted(k, v) for k, v in dict(*args, **kwargs).items()]
        for target, arr in pairs:
            target[...] = arr

    def __ior__(self, other: Mapping[str, ArrayLike]) -> ParameterDict:
        self.update(other)
        return self

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"a layer's {self._what} cannot gain or lose entries; assign "
                        f"into them instead ({self._what}[name] = array)")

    __delitem__ = pop = popitem = clear = setdefault = _refuse

    def copy(self) -> dict[str, np.ndarray]:
        """A plain dict of copies of the arrays."""
        return {k: v.copy() for k, v in self.items()}

    def __reduce_ex__(self, protocol):
        # Pickle and deepcopy would rebuild through __setitem__ on an empty dict.
        return (_rebuild_parameter_dict, (dict(self), self._dtype.str, self._what))


def _rebuild_parameter_dict(arrays, dtype, what):
    return ParameterDict(arrays, dtype, what)


class ParameterOwner:
    """``params`` and ``grads`` as `ParameterDict` s, their per-call check,
    ``zero_grad``, ``state_dict`` and ``load_state_dict``, for every layer.

    Needs ``self.dtype``; the constructor calls `_init_params` once, after
    setting the attributes named in ``_config_names`` (the sizes the loops
    are called with): changing one of those later is refused at the next
    call, as a changed array is. Assigning a whole dict
    (``layer.params = other.params``) copies it in after the checks of
    `load_state_dict`.
    """

    _config_names = ("input_size", "hidden_size", "dtype")

    def _init_params(self, arrays):
        self._config = tuple((n, getattr(self, n)) for n in self._config_names)
        arrays = {k: np.ascontiguousarray(v, dtype=self.dtype) for k, v in arrays.items()}
        self._param_spec = tuple((k, v.shape) for k, v in arrays.items())
        self._param_names = [k for k, _ in self._param_spec]
        # ndim and up to 4 dimensions per parameter, for _recurrent.all_arrays_ready
        self._param_layout = np.array([(len(v.shape),) + v.shape + (0,) * (4 - v.ndim)
                                       for v in arrays.values()], dtype=np.intp).reshape(-1, 5)
        self._params = ParameterDict(arrays, self.dtype, "params")
        self._grads = ParameterDict({k: np.zeros_like(v) for k, v in arrays.items()},
                                    self.dtype, "grads")

    @property
    def params(self) -> ParameterDict:
        return self._params

    @params.setter
    def params(self, state: Mapping[str, ArrayLike]) -> None:
        self._load(self._params, state, "params")

    @property
    def grads(self) -> ParameterDict:
        return self._grads

    @grads.setter
    def grads(self, state: Mapping[str, ArrayLike]) -> None:
        self._load(self._grads, state, "grads")

    def _check_arrays(self, grads=False):
        """Every array a kernel will read (and, with ``grads``, write) still
        has the layer's dtype and its own shape and is C-contiguous and
        aligned: once per call, a few comparisons in C per parameter."""
        for name, value in self._config:
            now = getattr(self, name, None)
            if not (now is value or now == value):
                raise ValueError(f"{name} was {value!r} when the layer was built and is now "
                                 f"{now!r}: the parameters have the built sizes; build a new "
                                 f"layer instead")
        if _recurrent.all_arrays_ready(self._params, self._param_names, self._param_layout,
                                       self.dtype.num, False) and (
                not grads or _recurrent.all_arrays_ready(
                    self._grads, self._param_names, self._param_layout, self.dtype.num, True)):
            return
        # Something is wrong: find it and say what.
        dt = self.dtype
        stores = (self._params, self._grads) if grads else (self._params,)
        for store in stores:
            for name, shape in self._param_spec:
                a = dict.get(store, name)
                if (not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dt
                        or not (a.flags.c_contiguous and a.flags.aligned)
                        or (store is self._grads and not a.flags.writeable)):
                    got = (f"{a.dtype} {a.shape}, C-contiguous {a.flags.c_contiguous}, "
                           f"aligned {a.flags.aligned}, writeable {a.flags.writeable}"
                           if isinstance(a, np.ndarray) else type(a).__name__)
                    raise ValueError(
                        f"{store._what}[{name!r}] must be a C-contiguous, aligned, "
                        f"{'writeable ' if store is self._grads else ''}{dt} array of shape "
                        f"{shape}; it was changed in place to {got}")
        raise ValueError("the layer's params or grads are not the arrays it was built with")

    def zero_grad(self) -> None:
        """Set every gradient to zero (in place)."""
        for g in self._grads.values():
            g.fill(0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of the parameters, keyed by name (PyTorch's names where the
        layer has a PyTorch counterpart)."""
        return {name: p.copy() for name, p in self._params.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load parameters from a dict of arrays, for example a PyTorch
        ``state_dict()`` converted with ``{k: v.numpy() for k, v in sd.items()}``.
        Keys and shapes must match exactly (values are cast to the layer's
        dtype); nothing changes if they do not."""
        self._load(self._params, state, "state")

    def to_torch(self) -> Any:
        """The same layer as a PyTorch module with a copy of the weights
        (``torch.nn.RNN``/``LSTM``/``GRU``/``Linear``; PyTorch is imported
        here only). Layers PyTorch has no module for raise TypeError; see
        `fastrnn.torch_export.to_torch`."""
        from fastrnn.layers.torch_export import to_torch
        return to_torch(self)

    def _load(self, store, state, what):
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(f"{what} must be a dict of arrays keyed by parameter name, got "
                            f"{type(state).__name__}")
        state = {k: (state[k].detach().cpu().numpy() if hasattr(state[k], "detach")
                     else state[k]) for k in state.keys()}
        missing = set(store) - set(state)
        unexpected = set(state) - set(store)
        if missing or unexpected:
            raise ValueError(
                f"{what} keys do not match the layer: missing {sorted(missing, key=repr)}, "
                f"unexpected {sorted(unexpected, key=repr)}"
            )
        # all checked before any is copied: nothing changes on an error
        pairs = [store._converted(name, state[name], label=name) for name in store]
        for target, arr in pairs:
            target[...] = arr

    # -- persistence (fastrnn.io) --
    #: The constructor arguments a file stores, read back from the attributes
    #: of the same names.
    _saved_config_names: tuple[str, ...] = ()

    def _save_config(self) -> dict[str, Any]:
        """The constructor arguments named in ``_saved_config_names``, JSON-able
        (a dtype by name)."""
        return io_format.attributes_config(self, self._saved_config_names)

    def _save_arrays(self) -> dict[str, np.ndarray]:
        """The parameters, by name: all the state a layer saves."""
        return dict(self.params)

    @classmethod
    def _saved_shapes(cls, config: dict[str, Any], arrays: Mapping[str, Any]
                      ) -> dict[str, tuple[int, ...]]:
        """Every parameter a saved ``config`` implies, name -> shape.

        Reads the sizes with the checked readers of `fastrnn.io`, and compares
        any count (layers, delays) with ``len(arrays)`` before looping over
        it: nothing a header states may size a loop or an allocation
        unchecked.
        """
        raise NotImplementedError(f"{cls.__name__} does not say what its files hold")

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> Any:
        """The layer ``config`` describes, holding the saved parameters; the
        arrays must be exactly those `_saved_shapes` implies (checked before
        the constructor allocates anything)."""
        return io_format.build_with_params(cls, config, arrays, cls._saved_shapes(config, arrays))


class TrainingMode:
    """``train()``/``eval()`` and the ``training`` flag, PyTorch's: a part
    starts in training mode; only dropout (`fastrnn.Dropout`, the
    ``dropout=``/``recurrent_dropout=`` of the gated layers) reads the flag,
    acting in training mode and passing values through unchanged in
    evaluation mode."""

    training: bool = True

    def train(self: _Mode, mode: bool = True) -> _Mode:
        """Training mode (or evaluation mode with ``mode=False``); returns self."""
        self.training = check_bool(mode, "mode")
        return self

    def eval(self: _Mode) -> _Mode:
        """Evaluation mode: dropout off; returns self."""
        return self.train(False)


def dropout_mask(rng: np.random.Generator, p: float, shape: tuple[int, ...],
                 dtype: Any) -> np.ndarray:
    """An inverted-dropout mask: each entry 1/(1 - p) with probability
    1 - p, else 0 (all zeros for p = 1), drawn from ``rng``."""
    dtype = np.dtype(dtype)
    if p >= 1.0:
        return np.zeros(shape, dtype=dtype)
    keep = rng.random(shape) >= p
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


class _Batch:
    """Row order and step counts of one forward call.

    ``perm`` sorts the rows by decreasing length (None when every sequence
    runs the whole T steps); ``batch_sizes[t]`` counts the rows running at
    step t; ``rev`` indexes each sequence reversed within its own length.
    """

    def __init__(self, T, B, lengths):
        self.T, self.B = T, B
        if lengths is None:
            self.perm = None
            self.lengths = np.full(B, T, dtype=np.intp)
            self.batch_sizes = _all_rows(T, B)
            self.rev = None
            return
        self.perm = np.argsort(-lengths, kind="stable")
        self.inverse = np.argsort(self.perm, kind="stable")
        self.lengths = lengths[self.perm]
        steps = np.arange(T)
        self.batch_sizes = (self.lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int32)
        t = steps[:, None]
        self.rev = np.where(t < self.lengths[None, :], self.lengths[None, :] - 1 - t, t)

    @property
    def ragged(self):
        return self.perm is not None

    def sort(self, a, axis):
        return a if self.perm is None else np.take(a, self.perm, axis=axis)

    def unsort(self, a, axis):
        return a if self.perm is None else np.take(a, self.inverse, axis=axis)

    def reverse(self, a):
        """(T, B, F) read backwards in time, each row within its own length."""
        if self.rev is None:
            return np.ascontiguousarray(a[::-1])
        return a[self.rev, np.arange(self.B)[None, :]]

    def final(self, hs, offset=0):
        """The state at each row's own end: row ``offset + length`` of hs
        ((T + 1, B, H) with offset 0: hs[0] is the initial state). With a
        1-D array of offsets, one such row per offset: (len(offset), B, H)."""
        if self.perm is None:
            return hs[np.asarray(offset) + self.T]
        return hs[np.add.outer(offset, self.lengths), np.arange(self.B)]

    def final_in_pair(self, states):
        """`final` of states kept in two slots ((2, B, H), the state after t
        steps in slot t % 2, as the engine keeps the LSTM's cell state in
        inference): slot length % 2 of each row."""
        if self.perm is None:
            return states[self.T % 2]
        return states[self.lengths % 2, np.arange(self.B)]

    def padded_inputs(self, x, dtype):
        """x (T, B, D) sorted, its steps past each row's end zeroed: the
        loops never read them, but they must not leak into dW_ih (0 * NaN)."""
        x = self.sort(x, axis=1)
        if self.ragged:
            x = np.where(np.arange(self.T)[:, None, None] < self.lengths[None, :, None], x, 0)
        return np.ascontiguousarray(x, dtype=dtype)

    def gradient_from_above(self, dy):
        """dL/dh_t (T, B, H), sorted, as a fresh array, zero past each row's
        end (the loops never read there, and the weight-gradient products
        sum over every row)."""
        dy = self.sort(dy, axis=1)
        if self.ragged:
            return np.where(np.arange(self.T)[:, None, None] < self.lengths[None, :, None], dy, 0
                            ).astype(dy.dtype, copy=False)
        return dy.copy()

    def add_at_ends(self, da, dh, offset):
        """da[offset + length_b, b] += dh[b] for every (sorted) row b, as
        `final` reads (dh is (B, H), or (len(offset), B, H) for an array of
        offsets), where that row index is >= 0; returns the mask of the
        entries where it is not (their gradient belongs to the initial
        state)."""
        rows = np.add.outer(offset, self.lengths)
        live = rows >= 0
        if not self.ragged and live.all():
            da[np.asarray(offset) + self.T] += dh
        elif live.any():
            columns = np.broadcast_to(np.arange(self.B), rows.shape)
            da[rows[live], columns[live]] += dh[live]
        return ~live

class _DropoutMasks:
    """The dropout masks of one forward call of a gated layer, drawn from
    the layer's generator in the order the sweeps use them: for each layer,
    each direction's state mask (``recurrent_dropout``), then the mask on
    that layer's outputs (``dropout``, every layer but the last). Only in
    training mode and for p > 0; none are drawn otherwise.

    ``states`` ((B, H) per layer and direction) and ``outputs``
    ((T, B, num_directions * H), time-major, per layer but the last) keep
    them in the caller's row order; the loops get them sorted as the
    batch's rows are."""

    def __init__(self, layer, batch):
        self._rng, self._batch, self._dtype = layer._dropout_rng, batch, layer.dtype
        self._p_state = layer.recurrent_dropout if layer.training else 0.0
        self._p_outputs = layer.dropout if layer.training and layer.num_layers > 1 else 0.0
        self._last = layer.num_layers - 1
        self.states, self.outputs, self._sorted_outputs = [], [], []

    @classmethod
    def of(cls, layer, batch):
        """The masks of a forward call; one shared empty set (which draws
        nothing) when no dropout acts, so that the plain call costs nothing
        more."""
        if layer.training and (layer.recurrent_dropout or
                               (layer.dropout and layer.num_layers > 1)):
            return cls(layer, batch)
        return _NO_DROPOUT

    def state(self, B, H):
        """The next state mask, sorted (None without recurrent dropout)."""
        if not self._p_state:
            return None
        mask = dropout_mask(self._rng, self._p_state, (B, H), self._dtype)
        self.states.append(mask)
        return np.ascontiguousarray(self._batch.sort(mask, axis=0))

    def between(self, out, layer):
        """Layer ``layer``'s outputs (T, B, F, sorted) as the next layer reads them."""
        if not self._p_outputs or layer == self._last:
            return out
        mask = dropout_mask(self._rng, self._p_outputs, out.shape, self._dtype)
        self.outputs.append(mask)
        self._sorted_outputs.append(self._batch.sort(mask, axis=1))
        return out * self._sorted_outputs[-1]

    def between_backward(self, d_input, layer):
        """dL/d(outputs of layer - 1) from dL/d(input of ``layer``)."""
        if layer == 0 or not self._sorted_outputs:
            return d_input
        return d_input * self._sorted_outputs[layer - 1]


class _WithoutDropout:
    """The settings of a layer whose forward draws no mask."""
    _dropout_rng, dtype, training = None, None, False
    dropout = recurrent_dropout = 0.0
    num_layers = 1


_NO_DROPOUT = _DropoutMasks(_WithoutDropout, None)


def _all_rows(T, B):
    """batch_sizes of T steps that every one of B rows runs."""
    return np.full(T, B, dtype=np.int32)


def _step_result(h_new, unbatched):
    """(y_t, hx) of a step from the new state (L, B, H): y_t, the last
    layer's row, is a view into hx."""
    hx = h_new[:, 0, :] if unbatched else h_new
    return hx[-1], hx


class SweepCache:
    """What ``backward`` needs of the last ``forward``: its `_Batch`,
    whether x was unbatched, and the arrays a layer names in its
    ``__slots__``."""

    __slots__ = ("batch", "unbatched")

    def __init__(self, batch, unbatched, **arrays):
        self.batch, self.unbatched = batch, unbatched
        for name, value in arrays.items():
            setattr(self, name, value)


class RecurrentBase(TrainingMode, ParameterOwner):
    """The contract every recurrent layer keeps: `RNN`, `LSTM`, `GRU`
    (through `RecurrentLayer`), `LeakyRNN`, `ClockworkRNN` and `DelayRNN`.

    - ``forward(x, hx=None, lengths=None)`` returns ``(y, hx_n)``;
    - ``backward(dy=None, dhx_n=None, *, clip_hidden=None)`` returns
      ``(dx, dhx)``, the gradients of x and of the initial state, and adds
      the parameter gradients into ``grads``;
    - ``step(x_t, hx=None)`` returns ``(y_t, hx)``, one time step of
      ``forward`` for streaming;
    - ``params``, ``grads``, ``zero_grad()``, ``batch_first``, and calling
      the layer is ``forward``.

    Names and layouts are PyTorch's: x is (T, B, D) (time-major), (B, T, D)
    with ``batch_first``, or (T, D) for one unbatched sequence; the state
    ``hx`` is one array (num_layers * num_directions, B, H), without B for an
    unbatched x, or for the LSTM a pair (h, c) of such arrays (DelayRNN also
    takes its history, see there). ``lengths`` (B,) gives each sequence's
    valid steps, with the semantics of PyTorch's packed sequences: outputs
    past a sequence's end are zero, its final state is the state at its own
    last step, and ``backward`` reads ``dy`` only at valid steps.

    Subclasses implement ``_forward(x, hx, lengths)``,
    ``_backward(dy, dhx_n, clip_hidden, **options)`` and
    ``_step(x_t, hx, **options)``; the checks every layer needs (input,
    state, lengths and output gradient shapes) are here, once.
    """

    num_layers = 1
    num_directions = 1
    _has_cell = False
    #: {method: {keyword name before the common contract: its name now}},
    #: accepted with a DeprecationWarning for one release.
    _renamed_keywords: Mapping[str, Mapping[str, str]] = {
        "forward": {"h0": "hx"}, "backward": {"dh_T": "dhx_n"}}
    #: Keyword options of backward() and step() beyond the contract's.
    _backward_options: tuple[str, ...] = ()
    _step_options: tuple[str, ...] = ()

    # --------------------------------------------------------- contract
    def forward(self, x: ArrayLike, hx: Any = None, lengths: Optional[ArrayLike] = None,
                **renamed: Any) -> tuple[np.ndarray, Any]:
        """Run the layer over a sequence.

        Parameters
        ----------
        x : array_like, (T, B, D), (B, T, D) with ``batch_first``, or (T, D)
        hx : array_like, (num_layers * num_directions, B, H) (without B for
            unbatched x), a pair (h0, c0) of those for the LSTM; zeros if
            None (or, for the LSTM, either of the pair None).
        lengths : array_like of int, (B,), optional
            Valid steps of each sequence (PyTorch's packed sequences):
            outputs past a sequence's end are zero and its final state is
            taken at its own end.

        Returns
        -------
        y : ndarray, (T, B, num_directions * H) (or as x is laid out): the
            last layer's state at every step.
        hx_n : the final state of every layer and direction, shaped as hx.
        """
        if renamed:
            hx = self._accept_renamed("forward", renamed, hx=hx)["hx"]
            self._refuse_unknown("forward", renamed, ())
        if is_grad_enabled():
            self._kept_nothing = False
            return self._forward(x, hx, lengths)
        out = self._forward(x, hx, lengths)
        self._cache, self._kept_nothing = None, True   # fastrnn.no_grad: nothing for backward
        return out

    def backward(self, dy: Optional[ArrayLike] = None, dhx_n: Any = None, *,
                 clip_hidden: Optional[float] = None, **options: Any) -> tuple[Any, ...]:
        """Back-propagation through time for the last ``forward`` call
        (Goodfellow et al. (2016), sec. 10.2.2); parameter gradients are
        added into ``grads``.

        Parameters
        ----------
        dy : array_like shaped as y, or None (no loss on y)
        dhx_n : shaped as the final state hx_n, or None (no loss on it)
        clip_hidden : float > 0 or None
            Clip dL/dh_t element-wise to [-clip_hidden, clip_hidden] at
            every step before it is propagated further back (Graves 2013;
            Goodfellow et al. (2016), sec. 10.11.1).

        Returns
        -------
        dx : ndarray, shaped as x
        dhx : the gradient of the initial state, shaped as hx
        """
        if options:
            dhx_n = self._accept_renamed("backward", options, dhx_n=dhx_n)["dhx_n"]
            self._refuse_unknown("backward", options, self._backward_options)
        return self._backward(dy, dhx_n, clip_hidden, **options)

    def step(self, x_t: ArrayLike, hx: Any = None, **options: Any) -> tuple[np.ndarray, Any]:
        """Advance one time step, for online inference: the numbers of
        `forward` on the whole sequence, one call per step (not
        differentiable; unidirectional layers only).

        Parameters
        ----------
        x_t : array_like, (B, D) or (D,)
        hx : the state after the previous step, laid out as for `forward`
            (without the time axis); zeros if None.

        Returns
        -------
        y_t : ndarray, (B, H) or (H,): the last layer's new state.
        hx : the new state.
        """
        if not options:   # the common streaming call: straight to the layer
            return self._step(x_t, hx)
        hx = self._accept_renamed("step", options, hx=hx)["hx"]
        self._refuse_unknown("step", options, self._step_options)
        return self._step(x_t, hx, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[np.ndarray, Any]:
        return self.forward(*args, **kwargs)

    def _accept_renamed(self, method, given, **current):
        """``current`` ({new keyword: value}) after moving onto it any
        keyword of ``given`` that ``method`` took under an older name (each
        popped, with a DeprecationWarning naming the new one)."""
        renames = self._renamed_keywords.get(method, {})
        for old in [k for k in given if k in renames]:
            new = renames[old]
            value = given.pop(old)
            if current[new] is not None:
                raise TypeError(f"{type(self).__name__}.{method}() got both {old!r} "
                                f"(its former name) and {new!r}; pass {new!r} only")
            warnings.warn(f"{type(self).__name__}.{method}(): the keyword {old!r} is "
                          f"deprecated and will be removed in the next release; use "
                          f"{new!r} (PyTorch's name)", DeprecationWarning, stacklevel=3)
            current[new] = value
        return current

    def _refuse_unknown(self, method, given, allowed):
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise TypeError(f"{type(self).__name__}.{method}() got unexpected keyword "
                            f"argument(s) {unknown}")

    def _forward(self, x, hx, lengths):
        raise NotImplementedError

    def _backward(self, dy, dhx_n, clip_hidden, **options):
        raise NotImplementedError

    def _step(self, x_t, hx, **options):
        raise NotImplementedError

    # ----------------------------------------------------------- shapes
    def _time_major_input(self, x):
        """(T, B, D) time-major x and whether it was unbatched (T, D)."""
        x = as_float_array(x, "x", self.dtype, ndim=(2, 3))
        unbatched = x.ndim == 2
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have {self.input_size} features in its last dimension "
                f"(input_size), got shape {x.shape}"
            )
        check_rows(x.shape[0], 1 if unbatched else x.shape[1], "x")
        if unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        return x, unbatched

    def _step_input(self, x_t):
        """x_t checked: (B, D) or (D,) in the layer's dtype."""
        x = as_float_array(x_t, "x_t", self.dtype, ndim=(1, 2))
        if x.shape[-1] != self.input_size:
            raise ValueError(f"x_t must have {self.input_size} features (input_size), "
                             f"got shape {x.shape}")
        return x

    def _state_shape(self, batch, unbatched):
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        return (LD, H) if unbatched else (LD, batch, H)

    def _state_array(self, h, name, batch, unbatched):
        """(L*dirs, B, H) from a user's state (a copy); zeros for None."""
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if h is None:
            return np.zeros((LD, batch, H), dtype=self.dtype)
        h = as_float_array(h, name, self.dtype, shape=self._state_shape(batch, unbatched))
        return h.reshape(LD, batch, H).copy()

    def _split_state(self, hx, name):
        """(h, c) of an LSTM state, (hx, None) for the others."""
        if not self._has_cell:
            return hx, None
        if hx is None:
            return None, None
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{name} must be a pair (h, c) or None, got {type(hx).__name__}")
        return hx[0], hx[1]

    def _external_state(self, h, unbatched):
        return h[:, 0, :] if unbatched else h

    def _external_sequence(self, a, unbatched):
        if unbatched:
            return np.ascontiguousarray(a[:, 0, :])
        if self.batch_first:
            return np.ascontiguousarray(a.transpose(1, 0, 2))
        return a

    def _output_sequence(self, a, batch, unbatched):
        """A sorted time-major (T, B, F) view as the caller's fresh array."""
        return self._external_sequence(batch.unsort(a, axis=1) if batch.ragged else a.copy(),
                                       unbatched)

    def _check_lengths(self, lengths, T, B, unbatched):
        if lengths is None:
            return None
        if unbatched:
            raise ValueError("lengths applies to batched input only; x is unbatched (T, D)")
        arr = np.asarray(lengths)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"lengths must be an array of integers, got dtype {arr.dtype}")
        if arr.shape != (B,):
            raise ValueError(f"lengths must have shape ({B},) (one per sequence), got {arr.shape}")
        if B and (arr.min() < 0 or arr.max() > T):
            raise ValueError(f"lengths must be in [0, {T}] (the number of time steps)")
        return arr.astype(np.intp)

    def _sequence_input(self, x, lengths):
        """(x, its _Batch, unbatched) of a forward call: x time-major
        (T, B, D), C-contiguous, its rows sorted by decreasing length and
        zero past each row's end."""
        x_tm, unbatched = self._time_major_input(x)
        T, B, _ = x_tm.shape
        batch = _Batch(T, B, self._check_lengths(lengths, T, B, unbatched))
        return batch.padded_inputs(x_tm, self.dtype), batch, unbatched

    # ------------------------------------------- one-layer sweeps (h_0 apart)
    # LeakyRNN and ClockworkRNN keep every state of one layer in hs (T + 1, B, H),
    # hs[0] = h_0, and their backward loops return dh0 (B, H) apart.
    def _one_layer_start(self, hx, B, unbatched, T, batch=None):
        """hs (T + 1, B, H) with hs[0] = the initial state (rows sorted as
        ``batch`` sorts them); zeros beyond it for a ragged batch, whose rows
        past their end are never written."""
        h0 = self._state_array(hx, "hx", B, unbatched)
        ragged = batch is not None and batch.ragged
        hs = (np.zeros if ragged else np.empty)((T + 1, B, self.hidden_size), dtype=self.dtype)
        hs[0] = (batch.sort(h0, axis=1) if ragged else h0)[0]
        return hs

    def _one_layer_step(self, x_t, hx, run):
        """``step()`` of a one-layer loop: x_t and hx checked, hs (2, B, H)
        with hs[0] the state, ``run(x, hs)`` (x (1, B, D)) fills hs[1];
        returns (y_t, hx)."""
        x = self._step_input(x_t)
        unbatched = x.ndim == 1
        B = 1 if unbatched else x.shape[0]
        self._check_arrays()
        hs = self._one_layer_start(hx, B, unbatched, 1)
        run(x.reshape(1, B, self.input_size), hs)
        return _step_result(hs[1:], unbatched)

    def _one_layer_outputs(self, hs, batch, unbatched):
        """(y, hx_n) for the caller from the states hs (T + 1, B, H)."""
        h_n = batch.unsort(batch.final(hs)[None], axis=1).copy()
        return (self._output_sequence(hs[1:], batch, unbatched),
                self._external_state(h_n, unbatched))

    def _one_layer_gradients(self, dy, dhx_n, batch, unbatched):
        """(da, dh_direct): da (T, B, H), sorted, dL/dy_t zero past each
        row's end with dhx_n added at each row's last step; dh_direct (B, H)
        the part of dhx_n that is the initial state's own (rows that run no
        step), or None."""
        da = batch.gradient_from_above(self._gradient_time_major(dy, batch, unbatched))
        if dhx_n is None:
            return da, None
        dh_n = batch.sort(self._state_array(dhx_n, "dhx_n", batch.B, unbatched), axis=1)[0]
        before_first_step = batch.add_at_ends(da, dh_n, offset=-1)
        if not before_first_step.any():
            return da, None
        return da, np.where(before_first_step[:, None], dh_n, 0).astype(self.dtype, copy=False)

    def _one_layer_results(self, dx, dh0, dh_direct, batch, unbatched):
        """(dx, dhx) for the caller from the loops' sorted dx and dh0."""
        if dh_direct is not None:
            dh0 += dh_direct
        return (self._external_sequence(batch.unsort(dx, axis=1), unbatched),
                self._external_state(batch.unsort(dh0[None], axis=1), unbatched))

    def _gradient_time_major(self, dy, batch, unbatched):
        """dL/dy as a time-major (T, B, num_directions * H) array (zeros for
        None), in the caller's row order."""
        T, B = batch.T, batch.B
        width = self.num_directions * self.hidden_size
        if dy is None:
            return np.zeros((T, B, width), dtype=self.dtype)
        if unbatched:
            want = (T, width)
        else:
            want = (B, T, width) if self.batch_first else (T, B, width)
        dy = as_float_array(dy, "dy", self.dtype, shape=want)
        if unbatched:
            return dy[:, None, :]
        return dy.transpose(1, 0, 2) if self.batch_first else dy

    def _last_forward(self):
        if self._cache is None:
            if getattr(self, "_kept_nothing", False):
                raise NotFittedError("backward: the last forward ran under fastrnn.no_grad(), "
                                     "which keeps nothing for backward; run forward again "
                                     "outside it")
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        self._check_arrays(grads=True)
        return self._cache


class RecurrentLayer(RecurrentBase):
    """Base of the stacked, bidirectional layers RNN, LSTM and GRU; not used
    directly.

    Dropout, in training mode only (``train()``/``eval()``; a new layer is
    in training mode, so dropout acts whenever it is set):

    - ``dropout`` in [0, 1]: on the outputs of every layer but the last, as
      they enter the next layer (PyTorch's ``dropout``), a fresh mask per
      step, sequence and unit;
    - ``recurrent_dropout`` in [0, 1): variational dropout of the state
      (Gal & Ghahramani 2016): h_{t-1} is multiplied, where it enters the
      recurrent product W_hh h_{t-1}, by a mask drawn once per sequence (per
      batch row and unit) and reused at every step; the GRU's carry
      z h_{t-1} reads the state unmasked. A sweep with a mask runs in the
      BLAS step loop.

    The masks are drawn at each ``forward`` from the generator ``seed``
    started (after the weights, which are those of the same seed without
    dropout), so a seed reproduces them; ``backward`` uses the masks of the
    last ``forward``, and ``step()`` (inference) applies none.

    Subclasses set ``_gates`` (G), ``_has_cell`` (LSTM) and ``_kind`` (the
    cell kind of fastrnn/layers/_recurrent.pyx), and may override `_extra_params`,
    `_bias_split` and `_init_extra`.
    """

    _gates = 1
    _has_cell = False
    _renamed_keywords = {"forward": {"h0": "hx"}, "backward": {"dh_T": "dhx_n"},
                         "step": {"state": "hx"}}
    _config_names = ("input_size", "hidden_size", "num_layers", "num_directions", "bias",
                     "dtype", "_kind", "_gates", "_has_cell")

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 bidirectional: bool = False, bias: bool = True, batch_first: bool = False,
                 dtype: DTypeLike = np.float32, seed: SeedLike = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0) -> None:
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = check_size(hidden_size, "hidden_size")
        if self._gates * self.hidden_size > C_INT_MAX:
            raise ValueError(f"hidden_size must be <= {C_INT_MAX // self._gates} for "
                             f"{type(self).__name__} ({self._gates} gates), got {self.hidden_size}")
        self.num_layers = check_size(num_layers, "num_layers")
        self.bidirectional = check_bool(bidirectional, "bidirectional")
        self.num_directions = 2 if self.bidirectional else 1
        self.bias = check_bool(bias, "bias")
        self.batch_first = check_bool(batch_first, "batch_first")
        self.dtype = check_dtype(dtype)
        self.dropout = check_real(dropout, "dropout", low=0.0, high=1.0)
        self.recurrent_dropout = check_real(recurrent_dropout, "recurrent_dropout", low=0.0,
                                            high=1.0, high_open=True)
        rng = check_random_state(seed)
        self._check_memory()
        # PyTorch's initialisation and its parameter order: per layer, per
        # direction, W_ih, W_hh, b_ih, b_hh, all uniform in +-1/sqrt(H).
        k = 1.0 / np.sqrt(self.hidden_size)
        self._init_params({name: rng.uniform(-k, k, size=shape).astype(self.dtype)
                           for name, shape in self._param_shapes()})
        self._init_extra(rng)
        if self.dropout and self.num_layers == 1:
            warnings.warn(f"{type(self).__name__}: dropout acts between stacked layers (after "
                          f"every layer but the last), so dropout={self.dropout} does nothing "
                          f"with num_layers=1", UserWarning, stacklevel=3)
        # The masks continue the generator the seed started for the weights.
        self._dropout_rng = rng
        self._cache = None
        self._ones = np.ones(0, dtype=self.dtype)
        self._plan = None  # StepPlan of step(), built on first use

    # ------------------------------------------------------- parameters
    def _suffixes(self):
        return ("", "_reverse")[: self.num_directions]

    def _layer_input_size(self, layer):
        return self.input_size if layer == 0 else self.hidden_size * self.num_directions

    def _param_shapes(self):
        for layer in range(self.num_layers):
            yield from self._layer_param_shapes(layer)

    def _layer_param_shapes(self, layer):
        GH, H = self._gates * self.hidden_size, self.hidden_size
        D = self._layer_input_size(layer)
        for suffix in self._suffixes():
            yield f"weight_ih_l{layer}{suffix}", (GH, D)
            yield f"weight_hh_l{layer}{suffix}", (GH, H)
            if self.bias:
                yield f"bias_ih_l{layer}{suffix}", (GH,)
                yield f"bias_hh_l{layer}{suffix}", (GH,)
        for suffix in self._suffixes():
            yield from self._extra_params(layer, suffix)

    def _check_memory(self):
        """Count the parameters in closed form (layers > 0 are alike) and
        refuse what cannot fit, before building them one by one."""
        def count(layer):
            shapes = [s for _, s in self._layer_param_shapes(layer)]
            return sum(int(np.prod(s, dtype=object)) for s in shapes), len(shapes)

        values, arrays = count(0)
        if self.num_layers > 1:
            v1, a1 = count(1)
            values += (self.num_layers - 1) * v1
            arrays += (self.num_layers - 1) * a1
        check_parameter_memory(values, arrays, self.dtype.itemsize, repr(self))

    def _extra_params(self, layer, suffix):
        return ()

    def _init_extra(self, rng):
        pass

    def _bias_split(self, layer, suffix):
        """(bias summed into the gate buffer (G*H,), b_hn for the GRU or an
        empty array)."""
        GH = self._gates * self.hidden_size
        if not self.bias:
            return np.zeros(GH, dtype=self.dtype), _EMPTY[self.dtype]
        return (self.params[f"bias_ih_l{layer}{suffix}"] + self.params[f"bias_hh_l{layer}{suffix}"],
                _EMPTY[self.dtype])

    def _peepholes(self, layer, suffix):
        return _EMPTY[self.dtype]

    @classmethod
    def _from_torch_kwargs(cls, module):
        """Constructor arguments read from a torch.nn.RNN/LSTM/GRU (duck-typed:
        torch is never imported here)."""
        if getattr(module, "proj_size", 0):
            raise ValueError("LSTM projections (proj_size > 0) are not supported")
        weight = module.weight_ih_l0
        dtype = check_dtype(str(weight.dtype).replace("torch.", ""), "the module's dtype")
        return dict(num_layers=module.num_layers, bidirectional=bool(module.bidirectional),
                    bias=bool(module.bias), batch_first=bool(module.batch_first), dtype=dtype,
                    dropout=float(getattr(module, "dropout", 0.0)))

    @classmethod
    def from_torch(cls: type[_Layer], module: Any, **kwargs: Any) -> _Layer:
        """A layer with the same configuration and weights as the PyTorch
        module (``torch.nn.RNN``, ``LSTM`` or ``GRU`` as the class). Extra
        keyword arguments override what is read from the module (dtype,
        for example). The module's ``dropout`` (between stacked layers,
        in training mode) is carried over; so is its mode (``training``)."""
        missing = [a for a in ("input_size", "hidden_size", "num_layers", "bidirectional",
                               "bias", "batch_first", "weight_ih_l0", "state_dict")
                   if not hasattr(module, a)]
        if missing:
            raise TypeError(f"module must be a torch.nn.{cls.__name__} (or alike); a "
                            f"{type(module).__name__} has no {', '.join(missing)}")
        args = cls._from_torch_kwargs(module)
        args.update(kwargs)
        if args.get("dropout") and module.num_layers == 1:
            args["dropout"] = 0.0   # PyTorch warned already: it has no effect
        layer = cls(module.input_size, module.hidden_size, **args)
        layer.load_state_dict(module.state_dict())
        return layer.train(bool(getattr(module, "training", True)))

    # ---------------------------------------------------------- forward
    def _forward(self, x, hx, lengths, input_terms=None):
        """`forward`; ``input_terms`` (num_directions, B, G*H), in the
        caller's row order, checked by the caller, adds one constant row per
        sequence to the first layer's input projection (a context's
        projection R x, Goodfellow et al. (2016), sec. 10.2.3, figure 10.10,
        without widening x); `_backward` leaves its gradient, the sum over
        the steps of each row's gate gradients, in the cache
        (``input_term_grads``)."""
        h0, c0 = self._split_state(hx, "hx")
        self._check_arrays()
        keep = is_grad_enabled()   # else fastrnn.no_grad: nothing kept for backward
        inp, batch, unbatched = self._sequence_input(x, lengths)
        T, B, _ = inp.shape
        h0 = self._state_array(h0, "hx[0]" if self._has_cell else "hx", B, unbatched)
        c0 = self._state_array(c0, "hx[1]", B, unbatched) if self._has_cell else None
        H, dt = self.hidden_size, self.dtype
        ragged = batch.ragged
        h0 = batch.sort(h0, axis=1)
        c0 = batch.sort(c0, axis=1) if c0 is not None else None
        alloc = np.zeros if ragged else np.empty
        LD = self.num_layers * self.num_directions
        h_n = np.empty((LD, B, H), dtype=dt)
        c_n = np.empty((LD, B, H), dtype=dt) if self._has_cell else None
        caches = []
        masks = _DropoutMasks.of(self, batch)
        for layer in range(self.num_layers):
            # Without a cache, one direction's output is its hs buffer itself.
            out = (None if not keep and self.num_directions == 1
                   else alloc((T, B, H * self.num_directions), dtype=dt))
            for d, suffix in enumerate(self._suffixes()):
                k = layer * self.num_directions + d
                layer_input = inp if d == 0 else batch.reverse(inp)
                row_term = (batch.sort(input_terms[d], axis=0)
                            if input_terms is not None and layer == 0 else None)
                hs, cs, buffers, _ = self._sweep(layer, suffix, layer_input, h0[k],
                                                 c0[k] if self._has_cell else None,
                                                 batch.batch_sizes, alloc,
                                                 state_mask=masks.state(B, H),
                                                 row_term=row_term, keep=keep)
                y = hs[1:] if d == 0 else batch.reverse(hs[1:])
                if out is None:
                    out = y
                else:
                    out[:, :, d * H:(d + 1) * H] = y
                h_n[k] = batch.final(hs)
                if self._has_cell:
                    # in inference the engine keeps c_t in two slots only
                    c_n[k] = batch.final(cs) if len(cs) == T + 1 else batch.final_in_pair(cs)
                caches.append(dict(x=layer_input, buffers=buffers))
            inp = masks.between(out, layer)
        # The buffers of a sweep that kept nothing hold a few steps only.
        self._cache = (dict(batch=batch, layers=caches, unbatched=unbatched, masks=masks,
                            input_terms=input_terms is not None) if keep else None)
        self._kept_nothing = not keep   # also for callers of _forward (ContextRNN)
        y = self._external_sequence(batch.unsort(inp, axis=1), unbatched)
        h_n = self._external_state(batch.unsort(h_n, axis=1), unbatched)
        if self._has_cell:
            c_n = self._external_state(batch.unsort(c_n, axis=1), unbatched)
            return y, (h_n, c_n)
        return y, h_n

    def _sweep(self, layer, suffix, x, h0, c0, batch_sizes, alloc, threads=None,
               step_threads=None, state_mask=None, row_term=None, keep=True):
        """One direction of one layer over x (T, B, D), time-major and checked,
        from the states h0 and (LSTM) c0 (B, H): one `cell_forward` call.
        ``threads`` (engine threads, 0: the BLAS loop) and ``step_threads``
        (BLAS threads per step of the BLAS loop) default to the layer's
        choice by size; ``state_mask`` (B, H), sorted as x's rows, is
        recurrent dropout's mask, which takes the BLAS loop. Returns (hs, cs,
        buffers, threads used): hs and cs
        (T+1, B, H) with the initial states first (cs empty without a cell),
        and the buffers `cell_backward` reads again. ``row_term`` (B, G*H),
        sorted as x, is added to every step's input projection of its row.
        ``keep=False`` (inference) lets the engine keep only a few steps of the
        gate rows, in a ring, and the cell states in two slots ((2, B, H),
        c_t in slot t % 2; see `_Batch.final_in_pair`): the buffers returned
        are then no use to backward."""
        T, B, D = x.shape
        H, G, dt = self.hidden_size, self._gates, self.dtype
        bias_x, b_hn = self._bias_split(layer, suffix)
        if row_term is not None:
            bias_x = _flat(np.ascontiguousarray(bias_x + row_term, dtype=dt))
        hs = alloc((T + 1, B, H), dtype=dt)
        hs[0] = h0
        if threads is None:
            threads = _engine_threads(B, G, H, dt, keep)
        if state_mask is not None:
            threads = 0
        ring = 0
        if not keep and threads > 0:
            ring = min(T, _recurrent.project_steps(self._kind, B, H, dt == np.float64, threads))
        if self._has_cell:
            # with a ring (inference) the engine keeps c_t in slot t % 2 of two
            cs = alloc((2 if ring else T + 1, B, H), dtype=dt)
            cs[0] = c0
        else:
            cs = _EMPTY[dt]
        kept = ring or T
        gx = np.empty((kept, B, G * H), dtype=dt)
        gh, gh_stride, rh = self._recurrent_buffers(kept, B, alloc, every_step=not ring)
        weights = (_flat(self.params[f"weight_ih_l{layer}{suffix}"]),
                   _flat(self.params[f"weight_hh_l{layer}{suffix}"]), bias_x, b_hn,
                   self._peepholes(layer, suffix))
        if state_mask is None:
            masking = (_EMPTY[dt], _EMPTY[dt])
        else:
            masking = (_flat(state_mask), _flat(alloc((T, B, H), dtype=dt)))
        buffers = (_flat(gx), _flat(hs), _flat(cs), _flat(gh), gh_stride, _flat(rh)) + masking
        if step_threads is None:
            step_threads = _step_threads(B, G, H)
        used = _recurrent.cell_forward(self._kind, (B, D, H), batch_sizes, _flat(x), weights,
                                       buffers, step_threads, threads, ring)
        if used < 0:
            raise MemoryError(f"{type(self).__name__}: no memory for the packed weights of "
                              f"the gated-cell engine")
        return hs, cs, buffers, used

    def _recurrent_buffers(self, T, B, alloc, every_step=True):
        """(gh, gh_stride, rh): the GRU's separate recurrent buffers (gh holds W_hh h_{t-1}
        for the gates, gh_stride elements apart from one step to the next; rh the reset
        state r_t * h_{t-1}, T steps of it); empty for the other cells. Without
        ``every_step`` (inference) gh may hold one step."""
        e = _EMPTY[self.dtype]
        return e, 0, e

    # --------------------------------------------------------- backward
    def _backward(self, dy, dhx_n, clip_hidden):
        cache = self._last_forward()
        batch, unbatched = cache["batch"], cache["unbatched"]
        T, B = batch.T, batch.B
        H, G, dt = self.hidden_size, self._gates, self.dtype
        ND = self.num_directions
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        dh_n, dc_n = self._split_state(dhx_n, "dhx_n")
        dy_tm = batch.sort(self._gradient_time_major(dy, batch, unbatched), axis=1)
        dh_n = batch.sort(self._state_array(dh_n, "dhx_n[0]" if self._has_cell else "dhx_n",
                                            B, unbatched), axis=1)
        dc_n = (batch.sort(self._state_array(dc_n, "dhx_n[1]", B, unbatched), axis=1)
                if self._has_cell else None)
        if self._ones.shape[0] < T * B:
            self._ones = np.ones(T * B, dtype=dt)
        ones = self._ones[: T * B]
        alloc = np.zeros if batch.ragged else np.empty
        masks = cache["masks"]
        dh0 = np.empty_like(dh_n)
        dc0 = np.empty_like(dc_n) if self._has_cell else None
        d_terms = np.empty((ND, B, G * H), dtype=dt) if cache.get("input_terms") else None
        for layer in reversed(range(self.num_layers)):
            d_layer_input = None
            for d, suffix in enumerate(self._suffixes()):
                k = layer * ND + d
                saved = cache["layers"][k]
                D = saved["x"].shape[2]
                dy_direction = dy_tm[:, :, d * H:(d + 1) * H]
                dy_direction = (np.ascontiguousarray(dy_direction) if d == 0
                                else batch.reverse(dy_direction))
                dh = np.ascontiguousarray(dh_n[k])
                dc = np.ascontiguousarray(dc_n[k]) if self._has_cell else _EMPTY[dt]
                dgx = alloc((T, B, G * H), dtype=dt)
                dgh = alloc((T, B, G * H), dtype=dt) if self._kind == _recurrent.GRU else _EMPTY[dt]
                drh = (np.zeros((B, H), dtype=dt) if self._kind == _recurrent.GRU_BEFORE
                       else _EMPTY[dt])
                dx = np.empty((T, B, D), dtype=dt)
                grad_bias_x = np.zeros(G * H, dtype=dt)
                grad_bias_h = (np.zeros(G * H, dtype=dt) if self._kind == _recurrent.GRU
                               else grad_bias_x)
                weights = (_flat(self.params[f"weight_ih_l{layer}{suffix}"]),
                           _flat(self.params[f"weight_hh_l{layer}{suffix}"]),
                           self._peepholes(layer, suffix))
                gradients = (_flat(dy_direction), _flat(dh), _flat(dc), _flat(dgx), _flat(dgh),
                             _flat(drh), _flat(dx))
                param_grads = (_flat(self.grads[f"weight_ih_l{layer}{suffix}"]),
                               _flat(self.grads[f"weight_hh_l{layer}{suffix}"]), grad_bias_x,
                               grad_bias_h if grad_bias_h is not grad_bias_x else _EMPTY[dt],
                               self._peephole_grad(layer, suffix))
                _recurrent.cell_backward(self._kind, (B, D, H), batch.batch_sizes,
                                         _flat(saved["x"]), weights, saved["buffers"], gradients,
                                         param_grads, ones, 0.0 if clip is None else clip,
                                         _step_threads(B, G, H))
                if self.bias and T > 0 and B > 0:
                    self.grads[f"bias_ih_l{layer}{suffix}"] += grad_bias_x
                    self.grads[f"bias_hh_l{layer}{suffix}"] += grad_bias_h
                if d_terms is not None and layer == 0:
                    # dgx is zero past each row's end: the sum is over its own steps
                    d_terms[d] = dgx.sum(axis=0) if T > 0 else 0
                if d == 1:
                    dx = batch.reverse(dx)
                d_layer_input = dx if d_layer_input is None else d_layer_input + dx
                dh0[k] = dh
                if self._has_cell:
                    dc0[k] = dc
            dy_tm = masks.between_backward(d_layer_input, layer)
        cache["input_term_grads"] = (None if d_terms is None
                                     else batch.unsort(d_terms, axis=1))
        dx = self._external_sequence(batch.unsort(dy_tm, axis=1), unbatched)
        dh0 = self._external_state(batch.unsort(dh0, axis=1), unbatched)
        if self._has_cell:
            dc0 = self._external_state(batch.unsort(dc0, axis=1), unbatched)
            return dx, (dh0, dc0)
        return dx, dh0

    # -------------------------------------------------------- streaming
    def __getstate__(self):
        # The step plan holds raw pointers into this object's arrays (and
        # cannot be pickled): a copy builds its own on first use.
        state = self.__dict__.copy()
        state["_plan"] = None
        return state

    def _new_step_plan(self, B):
        layers = []
        for layer in range(self.num_layers):
            p = self.params
            b_ih = p[f"bias_ih_l{layer}"] if self.bias else None
            b_hh = p[f"bias_hh_l{layer}"] if self.bias else None
            peep = self._peepholes(layer, "")
            layers.append((p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"], b_ih, b_hh,
                           peep if peep.size else None))
        names = list(self.params)
        GH = self._gates * self.hidden_size
        if B == 1 and GH * max(self.input_size, self.hidden_size) <= _recurrent.MATVEC_LIMIT:
            threads = 0  # every product is the small mat-vec kernel: no BLAS to switch
        else:
            threads = _step_threads(B, self._gates, self.hidden_size)
        self._plan = _recurrent.StepPlan(
            self._kind, B, self.input_size, self.hidden_size, layers, names,
            [self.params[k] for k in names], self.dtype == np.float64, threads)
        return self._plan

    def step(self, x_t: ArrayLike, hx: Any = None, **options: Any) -> tuple[np.ndarray, Any]:
        # RecurrentBase.step's contract, with the streaming fast path first: a
        # step costs a microsecond or two, so each Python call counts.
        # StepPlan.stream checks everything it trusts, in C, and returns None
        # when it cannot take the call (the slow path then checks and
        # converts everything, says what is wrong, or rebuilds the plan).
        plan = self._plan
        if plan is not None and not options:
            out = plan.stream(self._params, x_t, hx)
            if out is not None:
                return out
        return RecurrentBase.step(self, x_t, hx, **options)

    step.__doc__ = RecurrentBase.step.__doc__

    def _step(self, x_t, hx):
        h, c = self._split_state(hx, "hx") if self._has_cell else (hx, None)
        y, h, c = self._step_slow_path(x_t, h, c)
        return (y, (h, c)) if self._has_cell else (y, h)

    def _step_slow_path(self, x_t, h, c):
        """(y_t, h, c) after checking and converting everything, with the
        step plan (re)built."""
        if self.bidirectional:
            raise ValueError("step() streams forward in time; a bidirectional layer "
                             "needs the whole sequence (use forward)")
        x = self._step_input(x_t)
        B = 1 if x.ndim == 1 else x.shape[0]
        shape = self._state_shape(B, x.ndim == 1)
        if h is not None:
            h = as_float_array(h, "hx[0]" if self._has_cell else "hx", self.dtype, shape=shape)
        if c is not None:
            c = as_float_array(c, "hx[1]", self.dtype, shape=shape)
        self._check_arrays()
        plan = self._plan
        if plan is None or plan.B != B or not plan.matches(self.params):
            plan = self._new_step_plan(B)
        return plan.step(self.params, x, h, c)

    def _peephole_grad(self, layer, suffix):
        return _EMPTY[self.dtype]

    def _config_repr(self):
        parts = [f"{self.input_size}", f"{self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.recurrent_dropout:
            parts.append(f"recurrent_dropout={self.recurrent_dropout}")
        parts.append(f"dtype={self.dtype.name}")
        return parts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._config_repr())})"

    # -- persistence (fastrnn.io) --
    # Files of the first release lack num_layers and bidirectional, and
    # files before dropout came lack dropout and recurrent_dropout: the
    # constructor's defaults (1, False, 0.0, 0.0) are what those files held.
    _saved_config_names = ("input_size", "hidden_size", "num_layers", "bidirectional", "bias",
                           "batch_first", "dtype", "dropout", "recurrent_dropout")

    def _save_config(self) -> dict[str, Any]:
        # Without dropout the header is what it was before dropout came;
        # with it, the masks' generator is kept, so that a loaded layer
        # draws the masks the saved one would have drawn next.
        config = super()._save_config()
        for name in ("dropout", "recurrent_dropout"):
            if not config[name]:
                del config[name]
        if self.dropout or self.recurrent_dropout:
            config["dropout_rng"] = io_format.rng_state(self._dropout_rng)
        return config

    @classmethod
    def _saved_extra_shapes(cls, config: dict[str, Any], hidden_size: int
                            ) -> dict[str, tuple[int, ...]]:
        """The parameters of each layer and direction beyond the four every
        cell has (name stem -> shape), as a saved ``config`` implies them."""
        return {}

    @classmethod
    def _saved_shapes(cls, config: dict[str, Any], arrays: Mapping[str, Any]
                      ) -> dict[str, tuple[int, ...]]:
        D = io_format.config_int(config, "input_size")
        H = io_format.config_int(config, "hidden_size")
        L = io_format.config_int(config, "num_layers", 1)
        directions = ("", "_reverse") if io_format.config_bool(config, "bidirectional", False) \
            else ("",)
        bias = io_format.config_bool(config, "bias", True)
        extra = cls._saved_extra_shapes(config, H)
        io_format.expect_count(arrays, L * len(directions) * (2 + 2 * bias + len(extra)),
                           cls.__name__, f"num_layers={L}")
        GH = cls._gates * H
        shapes = {}
        for layer in range(L):
            width = D if layer == 0 else len(directions) * H
            for suffix in directions:
                shapes[f"weight_ih_l{layer}{suffix}"] = (GH, width)
                shapes[f"weight_hh_l{layer}{suffix}"] = (GH, H)
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (GH,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (GH,)
                for stem, shape in extra.items():
                    shapes[f"{stem}_l{layer}{suffix}"] = shape
        return shapes

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> Any:
        config = dict(config)
        rng_state = config.pop("dropout_rng", None)
        layer = super()._from_saved(config, arrays)
        if rng_state is not None:
            layer._dropout_rng = io_format.rng_from_state(rng_state)
        return layer
