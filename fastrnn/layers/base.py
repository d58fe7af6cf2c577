"""What every recurrent layer shares: parameters, layers and directions,
states, variable lengths, and the calls into the time loops.

`RNN`, `LSTM` and `GRU` subclass `RecurrentLayer` and differ only in their
cell kind (gate count and fused kernels, see fastrnn/layers/_recurrent.pyx and
csrc/cells/fr_cells_impl.h), in how their biases enter the kernels, and in whether
the state carries a cell state (LSTM).

Data layout inside: time-major (T, B, features), C-contiguous, in the
layer's dtype. With ``lengths``, the batch rows are sorted by decreasing
length on the way in (so that the rows still running at step t are a prefix)
and put back in the caller's order on the way out. The backward direction of
a bidirectional layer reads each sequence reversed within its own length.
"""
from __future__ import annotations

import os
import time
from typing import Any, Mapping, Optional, TypeVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn._core import blas_threads as _blas_threads
from fastrnn._core.cpus import available_cpus

from fastrnn.layers import _recurrent
from fastrnn._core.validation import (
    NotFittedError,
    as_array,
    check_bool,
    as_float_array,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
)
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format

_Layer = TypeVar("_Layer", bound="RecurrentLayer")

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
            self.batch_sizes = np.full(T, B, dtype=np.int32)
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

    def final(self, hs):
        """The state at each row's own end from hs (T + 1, B, H)."""
        if self.perm is None:
            return hs[self.T]
        return hs[self.lengths, np.arange(self.B)]


class RecurrentLayer(ParameterOwner):
    """Base of the recurrent layers; not used directly.

    Subclasses set ``_gates`` (G), ``_has_cell`` (LSTM) and ``_kind`` (the
    cell kind of fastrnn/layers/_recurrent.pyx), and may override `_extra_params`,
    `_bias_split` and `_init_extra`.
    """

    _gates = 1
    _has_cell = False
    _config_names = ("input_size", "hidden_size", "num_layers", "num_directions", "bias",
                     "dtype", "_kind", "_gates", "_has_cell")

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 bidirectional: bool = False, bias: bool = True, batch_first: bool = False,
                 dtype: DTypeLike = np.float32, seed: SeedLike = None) -> None:
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
        rng = check_random_state(seed)
        self._check_memory()
        # PyTorch's initialisation and its parameter order: per layer, per
        # direction, W_ih, W_hh, b_ih, b_hh, all uniform in +-1/sqrt(H).
        k = 1.0 / np.sqrt(self.hidden_size)
        self._init_params({name: rng.uniform(-k, k, size=shape).astype(self.dtype)
                           for name, shape in self._param_shapes()})
        self._init_extra(rng)
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
        for sfx in self._suffixes():
            yield f"weight_ih_l{layer}{sfx}", (GH, D)
            yield f"weight_hh_l{layer}{sfx}", (GH, H)
            if self.bias:
                yield f"bias_ih_l{layer}{sfx}", (GH,)
                yield f"bias_hh_l{layer}{sfx}", (GH,)
        for sfx in self._suffixes():
            yield from self._extra_params(layer, sfx)

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

    def _extra_params(self, layer, sfx):
        return ()

    def _init_extra(self, rng):
        pass

    def _bias_split(self, layer, sfx):
        """(bias summed into the gate buffer (G*H,), b_hn for the GRU or an
        empty array)."""
        GH = self._gates * self.hidden_size
        if not self.bias:
            return np.zeros(GH, dtype=self.dtype), _EMPTY[self.dtype]
        return (self.params[f"bias_ih_l{layer}{sfx}"] + self.params[f"bias_hh_l{layer}{sfx}"],
                _EMPTY[self.dtype])

    def _peepholes(self, layer, sfx):
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
                    bias=bool(module.bias), batch_first=bool(module.batch_first), dtype=dtype)

    @classmethod
    def from_torch(cls: type[_Layer], module: Any, **kwargs: Any) -> _Layer:
        """A layer with the same configuration and weights as the PyTorch
        module (``torch.nn.RNN``, ``LSTM`` or ``GRU`` as the class). Extra
        keyword arguments override what is read from the module (dtype,
        for example). Dropout between layers is a training-time option of
        PyTorch's module and is not carried over."""
        missing = [a for a in ("input_size", "hidden_size", "num_layers", "bidirectional",
                               "bias", "batch_first", "weight_ih_l0", "state_dict")
                   if not hasattr(module, a)]
        if missing:
            raise TypeError(f"module must be a torch.nn.{cls.__name__} (or alike); a "
                            f"{type(module).__name__} has no {', '.join(missing)}")
        args = cls._from_torch_kwargs(module)
        args.update(kwargs)
        layer = cls(module.input_size, module.hidden_size, **args)
        layer.load_state_dict(module.state_dict())
        return layer

    # ----------------------------------------------------------- shapes
    def _time_major_input(self, x):
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

    def _state_array(self, h, name, batch, unbatched):
        """(L*dirs, B, H) from a user's state; zeros for None."""
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if h is None:
            return np.zeros((LD, batch, H), dtype=self.dtype)
        want = (LD, H) if unbatched else (LD, batch, H)
        return as_float_array(h, name, self.dtype, shape=want).reshape(LD, batch, H).copy()

    def _external_state(self, h, unbatched):
        return h[:, 0, :] if unbatched else h

    def _external_sequence(self, a, unbatched):
        if unbatched:
            return np.ascontiguousarray(a[:, 0, :])
        if self.batch_first:
            return np.ascontiguousarray(a.transpose(1, 0, 2))
        return a

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

    # ---------------------------------------------------------- forward
    def _forward(self, x, h0, c0, lengths):
        self._check_arrays()
        x_tm, unbatched = self._time_major_input(x)
        T, B, _ = x_tm.shape
        lengths = self._check_lengths(lengths, T, B, unbatched)
        h0 = self._state_array(h0, "h0", B, unbatched)
        c0 = self._state_array(c0, "c0", B, unbatched) if self._has_cell else None
        batch = _Batch(T, B, lengths)
        H, G, dt = self.hidden_size, self._gates, self.dtype
        ragged = batch.ragged
        inp = batch.sort(x_tm, axis=1)
        if ragged:
            # Padding is never read by the cells; zero it so that it cannot
            # leak into dW_ih (0 * NaN) either.
            inp = np.where(np.arange(T)[:, None, None] < batch.lengths[None, :, None], inp, 0)
            inp = np.ascontiguousarray(inp, dtype=dt)
        h0 = batch.sort(h0, axis=1)
        c0 = batch.sort(c0, axis=1) if c0 is not None else None
        alloc = np.zeros if ragged else np.empty
        LD = self.num_layers * self.num_directions
        h_n = np.empty((LD, B, H), dtype=dt)
        c_n = np.empty((LD, B, H), dtype=dt) if self._has_cell else None
        caches = []
        for layer in range(self.num_layers):
            D = inp.shape[2]
            out = alloc((T, B, H * self.num_directions), dtype=dt)
            for d, sfx in enumerate(self._suffixes()):
                k = layer * self.num_directions + d
                xin = inp if d == 0 else batch.reverse(inp)
                bias_x, b_hn = self._bias_split(layer, sfx)
                hs = alloc((T + 1, B, H), dtype=dt)
                hs[0] = h0[k]
                if self._has_cell:
                    cs = alloc((T + 1, B, H), dtype=dt)
                    cs[0] = c0[k]
                else:
                    cs = _EMPTY[dt]
                gx = np.empty((T, B, G * H), dtype=dt)
                gh, gh_step, rh = self._recurrent_buffers(T, B, alloc)
                weights = (_flat(self.params[f"weight_ih_l{layer}{sfx}"]),
                           _flat(self.params[f"weight_hh_l{layer}{sfx}"]), bias_x, b_hn,
                           self._peepholes(layer, sfx))
                buffers = (_flat(gx), _flat(hs), _flat(cs), _flat(gh), gh_step, _flat(rh))
                _recurrent.cell_forward(self._kind, (B, D, H), batch.batch_sizes, _flat(xin),
                                        weights, buffers, _step_threads(B, G, H))
                y = hs[1:] if d == 0 else batch.reverse(hs[1:])
                out[:, :, d * H:(d + 1) * H] = y
                h_n[k] = batch.final(hs)
                if self._has_cell:
                    c_n[k] = batch.final(cs)
                caches.append(dict(x=xin, buffers=buffers))
            inp = out
        self._cache = dict(batch=batch, layers=caches, unbatched=unbatched, D=self.input_size)
        y = self._external_sequence(batch.unsort(inp, axis=1), unbatched)
        h_n = self._external_state(batch.unsort(h_n, axis=1), unbatched)
        if self._has_cell:
            c_n = self._external_state(batch.unsort(c_n, axis=1), unbatched)
        return y, h_n, c_n

    def _recurrent_buffers(self, T, B, alloc):
        """(gh, gh_step, rh): the GRU's separate recurrent buffers."""
        e = _EMPTY[self.dtype]
        return e, 0, e

    # --------------------------------------------------------- backward
    def _backward(self, dy, dh_n, dc_n, clip_hidden, names=("dh_n", "dc_n")):
        """BPTT of the last forward; ``names`` are the caller's names of the
        state gradients, for error messages."""
        if self._cache is None:
            raise NotFittedError("backward called before forward: call forward first, then backward")
        self._check_arrays(grads=True)
        cache = self._cache
        batch, unbatched = cache["batch"], cache["unbatched"]
        T, B = batch.T, batch.B
        H, G, dt = self.hidden_size, self._gates, self.dtype
        ND = self.num_directions
        clip = check_real(clip_hidden, "clip_hidden", low=0.0, low_open=True, allow_none=True)
        if dy is None:
            dy_tm = np.zeros((T, B, ND * H), dtype=dt)
        else:
            if unbatched:
                want = (T, ND * H)
            else:
                want = (B, T, ND * H) if self.batch_first else (T, B, ND * H)
            dy = as_float_array(dy, "dy", dt, shape=want)
            if unbatched:
                dy_tm = dy[:, None, :]
            elif self.batch_first:
                dy_tm = dy.transpose(1, 0, 2)
            else:
                dy_tm = dy
        dy_tm = batch.sort(dy_tm, axis=1)
        dh_n = batch.sort(self._state_array(dh_n, names[0], B, unbatched), axis=1)
        dc_n = (batch.sort(self._state_array(dc_n, names[1], B, unbatched), axis=1)
                if self._has_cell else None)
        if self._ones.shape[0] < T * B:
            self._ones = np.ones(T * B, dtype=dt)
        ones = self._ones[: T * B]
        alloc = np.zeros if batch.ragged else np.empty
        dh0 = np.empty_like(dh_n)
        dc0 = np.empty_like(dc_n) if self._has_cell else None
        for layer in reversed(range(self.num_layers)):
            dinp = None
            for d, sfx in enumerate(self._suffixes()):
                k = layer * ND + d
                c = cache["layers"][k]
                D = c["x"].shape[2]
                dy_d = dy_tm[:, :, d * H:(d + 1) * H]
                dy_d = np.ascontiguousarray(dy_d) if d == 0 else batch.reverse(dy_d)
                dh = np.ascontiguousarray(dh_n[k])
                dc = np.ascontiguousarray(dc_n[k]) if self._has_cell else _EMPTY[dt]
                dgx = alloc((T, B, G * H), dtype=dt)
                dgh = alloc((T, B, G * H), dtype=dt) if self._kind == _recurrent.GRU else _EMPTY[dt]
                drh = (np.zeros((B, H), dtype=dt) if self._kind == _recurrent.GRU_BEFORE
                       else _EMPTY[dt])
                dx = np.empty((T, B, D), dtype=dt)
                gb_x = np.zeros(G * H, dtype=dt)
                gb_h = np.zeros(G * H, dtype=dt) if self._kind == _recurrent.GRU else gb_x
                gpeep = self._peephole_grad(layer, sfx)
                weights = (_flat(self.params[f"weight_ih_l{layer}{sfx}"]),
                           _flat(self.params[f"weight_hh_l{layer}{sfx}"]),
                           self._peepholes(layer, sfx))
                gradients = (_flat(dy_d), _flat(dh), _flat(dc), _flat(dgx), _flat(dgh),
                             _flat(drh), _flat(dx))
                param_grads = (_flat(self.grads[f"weight_ih_l{layer}{sfx}"]),
                               _flat(self.grads[f"weight_hh_l{layer}{sfx}"]), gb_x,
                               gb_h if gb_h is not gb_x else _EMPTY[dt], gpeep)
                _recurrent.cell_backward(self._kind, (B, D, H), batch.batch_sizes,
                                         _flat(c["x"]), weights, c["buffers"], gradients,
                                         param_grads, ones, 0.0 if clip is None else clip,
                                         _step_threads(B, G, H))
                if self.bias and T > 0 and B > 0:
                    self.grads[f"bias_ih_l{layer}{sfx}"] += gb_x
                    self.grads[f"bias_hh_l{layer}{sfx}"] += gb_h
                if d == 1:
                    dx = batch.reverse(dx)
                dinp = dx if dinp is None else dinp + dx
                dh0[k] = dh
                if self._has_cell:
                    dc0[k] = dc
            dy_tm = dinp
        dx = self._external_sequence(batch.unsort(dy_tm, axis=1), unbatched)
        dh0 = self._external_state(batch.unsort(dh0, axis=1), unbatched)
        if self._has_cell:
            dc0 = self._external_state(batch.unsort(dc0, axis=1), unbatched)
        return dx, dh0, dc0

    # -------------------------------------------------------- streaming
    def __getstate__(self):
        # The step plan holds raw pointers into this object's arrays (and
        # cannot be pickled): a copy builds its own on first use.
        state = self.__dict__.copy()
        state["_plan"] = None
        return state

    def _new_step_plan(self, B):
        if self.bidirectional:
            raise ValueError("step() streams forward in time; a bidirectional layer "
                             "needs the whole sequence (use forward)")
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

    def step(self, x_t: ArrayLike, state: Optional[ArrayLike] = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Advance one time step, for online inference: the same numbers as
        `forward` on the whole sequence, one call per step, nothing allocated
        beyond the returned arrays (unidirectional layers only; not
        differentiable). The LSTM overrides it for its (h, c) state.

        Parameters
        ----------
        x_t : array_like, (B, D) or (D,)
        state : array_like or None, (num_layers, B, H) or (num_layers, H); zeros if None

        Returns
        -------
        y_t : ndarray, (B, H) or (H,): the last layer's new h (a view into
            the returned state).
        h : the new state, shaped as the given one
        """
        y, h, _ = self._step(x_t, state, None)
        return y, h

    def _step(self, x_t, h, c):
        """(y_t, h, c) after one step; the fast path is all in StepPlan.step."""
        plan = self._plan
        if plan is not None:
            out = plan.step(self.params, x_t, h, c)
            if out is not None:
                return out
        # Slow path: check and convert everything, (re)build the plan.
        x = as_float_array(x_t, "x_t", self.dtype, ndim=(1, 2))
        if x.shape[-1] != self.input_size:
            raise ValueError(f"x_t must have {self.input_size} features (input_size), "
                             f"got shape {x.shape}")
        B = 1 if x.ndim == 1 else x.shape[0]
        L, H = self.num_layers, self.hidden_size
        shape = (L, H) if x.ndim == 1 else (L, B, H)
        if h is not None:
            h = as_float_array(h, "h", self.dtype, shape=shape)
        if c is not None and self._has_cell:
            c = as_float_array(c, "c", self.dtype, shape=shape)
        self._check_arrays()
        if plan is None or plan.B != B or not plan.matches(self.params):
            plan = self._new_step_plan(B)
        return plan.step(self.params, x, h, c)

    def _peephole_grad(self, layer, sfx):
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
        parts.append(f"dtype={self.dtype.name}")
        return parts

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._config_repr())})"

    # -- persistence (fastrnn.io) --
    # Files of the first release lack num_layers and bidirectional: the
    # constructor's defaults (1, False) are what those files held.
    _saved_config_names = ("input_size", "hidden_size", "num_layers", "bidirectional", "bias",
                           "batch_first", "dtype")

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
