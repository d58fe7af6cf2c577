"""Echo state networks on a Dask cluster: readouts fitted on many series, and
hyperparameter searches, spread over the workers.

Dask is optional (``pip install "dask[distributed]"``) and imported only by
this module; ``import fastrnn`` never needs it.

Fitting on many series
----------------------
``fit_esn(esn, X, Y)`` trains the readout of an ESN as ``esn.fit(X, Y)``
would, but each worker runs the reservoir over its own series, accumulates
their states in a ``fastrnn.Ridge`` of its own (``partial_fit``: the Gram
matrix [1 X Y]^T [1 X Y], streamed), and only these (1 + F + O)^2 sums
travel, merged in a tree (``Ridge.merge``, ``split_every`` at a time, in
the order of the series) and solved once on the client. The states never have to fit on one machine. ``fit_readout(layer,
X, Y)`` does the same with the states of any fastrnn layer (a ``Reservoir``
or any layer with a ``forward`` method: ``RNN``, ``LSTM``, ``GRU``, ...).

X and Y can be

- two lists of series of the same length, each item a NumPy array (T_i, D)
  (resp. (T_i, O) or (T_i,)) or the path of a ``.npy`` or ``.csv`` file
  (rows are time steps; a CSV header line is skipped) read on the worker;
- two Dask arrays (T, B, D) and (T, B, O), time-major like the
  rest of fastrnn (``batch_first=True``: (B, T, D)), chunked along the
  series axis: each block of series runs as one batch;
- a Dask bag of (x, y) pairs (Y=None), or two bags with the same partitions,
  items as in the lists above.

``warmup`` steps are discarded at the start of every series. The result
equals one process's ``esn.fit`` on the same series up to rounding (the sums
are added in another order); the reservoir state and last output afterwards
are those after the last series, as with ``esn.fit`` on a list.

Predicting many series
----------------------
``predict(model, series)`` runs any fastrnn model (an ESN, a Reservoir, a
recurrent layer, a Sequential, ...) over a list of series or paths, or a Dask
array (T, B, D), on the workers: the model is broadcast to each worker once,
and the outputs come back in the input order, as local prediction gives them.

Searching hyperparameters
-------------------------
``search(param_grid, train, valid)`` evaluates every combination of reservoir
hyperparameters as one task (all ``ridge`` values of a combination share one
accumulated Gram matrix) and returns the scores sorted, best first, and the
best ESN refitted. ``random_search(param_distributions, train, valid,
n_iter=..., random_state=...)`` does the same for candidates drawn from
``scipy.stats`` distributions or lists, as scikit-learn's
``RandomizedSearchCV`` draws them (``sample_params`` gives the candidates).
The training and validation series travel to each worker once, not with
every task.

On a real cluster
-----------------
Start a scheduler and workers (``dask scheduler`` on one machine,
``dask worker tcp://scheduler:8786`` on the others; fastrnn, the same
version, installed on every one), then connect to it and pass the client::

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")
    fastrnn.dask.fit_esn(esn, paths_x, paths_y, warmup=100, client=client)

With ``client=None`` the current default client is used (the last
``Client`` created), or, with none, Dask's local threaded scheduler. File
paths are opened by the workers, so they must name files the workers can
read (a shared file system), not files on the client's disk.
"""
from __future__ import annotations

import contextlib
import errno
import copy
import inspect
import itertools
import math
import numbers
import os
import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

_INSTALL = 'fastrnn.dask needs Dask and its distributed scheduler: pip install "dask[distributed]"'
try:
    import dask
    import dask.array as da
    import dask.bag as db
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(_INSTALL) from exc

from fastrnn.io.tables import read_table
from fastrnn._core.cpus import available_cpus
from fastrnn._core.validation import NotFittedError, check_int, check_real
from fastrnn.reservoir.esn import ESN
from fastrnn.analysis.metrics import nrmse
from fastrnn.reservoir.readout import RLS, Ridge
from fastrnn.reservoir.reservoir import Reservoir

if TYPE_CHECKING:   # only named in annotations
    from dask.distributed import Client

#: Series as the functions here take them: a list of arrays or file paths,
#: a Dask array, or a Dask bag.
SeriesCollection = Union[Sequence[Union[ArrayLike, str, os.PathLike]], da.Array, db.Bag]
#: The random_state convention of scikit-learn.
RandomStateLike = Union[int, np.random.RandomState, np.random.Generator, None]
#: One parameter space: name -> list of values (or a scipy.stats distribution).
ParamSpace = Union[Mapping[str, Any], Sequence[Mapping[str, Any]]]

__all__ = ["fit_esn", "fit_readout", "predict", "search", "random_search", "sample_params",
           "SearchResult", "load_series"]


# ----------------------------------------------------------------- reading
def load_series(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read one series from a ``.npy`` or ``.csv`` file.

    Rows are time steps, columns features, read as the command line reads
    its tables (`fastrnn.io.tables.read_table`): a ``.csv`` is
    comma-separated, with an optional header row; a ``.npy`` is read without
    unpickling; one column gives a (T, 1) array; every value must be finite.

    Returns
    -------
    ndarray (T, features), float64
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in (".npy", ".csv"):
        raise ValueError(f"{p!r}: a series file must end in .npy or .csv, got {ext!r}")
    if not os.path.exists(p):   # the honest error, as np.load gives it
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), p)
    try:
        table = read_table(p)
        return table.columns(list(range(table.n_columns)))
    except ValueError as exc:   # its message starts with the file name
        raise ValueError(f"cannot read the series file {exc}") from exc


def _is_path(item):
    return isinstance(item, (str, os.PathLike))


def _load(item):
    return load_series(item) if _is_path(item) else item


@contextlib.contextmanager
def _about(label):
    """Name the series in the errors raised while it is processed."""
    try:
        yield
    except (ValueError, TypeError, OSError) as exc:
        try:
            renamed = type(exc)(f"{label}: {exc}")
        except Exception:  # an exception type with another signature: keep it
            raise exc from None
        raise renamed from exc


# ------------------------------------------------------ per-worker results
class _Partial:
    """What one partition sends back: its readout's sums, and the state
    after its last series (kept only from the last partition)."""

    def __init__(self, readout, n_series, tail=None, matrices=None):
        self.readout = readout
        self.n_series = n_series
        self.tail = tail            # (state, y_last, single, n_outputs) after the last series
        self.matrices = matrices    # (Win, Wfb, rng) drawn on the worker, or None


def _combine(*parts):
    """Merge partial results, in order (the first one's shift is kept)."""
    parts = [p for p in parts if p.n_series]
    if not parts:
        return _Partial(None, 0)
    readout = copy.deepcopy(parts[0].readout)
    for p in parts[1:]:
        readout.merge(p.readout)
    return _Partial(readout, sum(p.n_series for p in parts), parts[-1].tail,
                    parts[0].matrices)


def _tree_reduce(parts, split_every):
    while len(parts) > 1:
        parts = [dask.delayed(_combine, pure=True)(*parts[i:i + split_every])
                 for i in range(0, len(parts), split_every)]
    return parts[0]


def _blank_like(readout):
    return Ridge(readout.ridge, fit_bias=readout.fit_bias, solver=readout.solver,
                 dtype=readout.dtype, chunk_size=readout.chunk_size)


def _drawn_matrices(reservoir, was_initialised):
    if was_initialised or reservoir.Win is None:
        return None
    return reservoir._lazy_draws()


# --------------------------------------------------------- features per series
def _layer_states(layer, x, start):
    """States (T, [B,] H), time-major, of one series or block of series."""
    if isinstance(layer, Reservoir):
        return layer.run(x, x0=start)
    # Blocks arrive time-major; a batch_first layer wants them the other way.
    flip = bool(getattr(layer, "batch_first", False)) and np.ndim(x) == 3
    out = layer.forward(np.swapaxes(x, 0, 1) if flip else x)
    out = out[0] if isinstance(out, tuple) else out
    return np.swapaxes(out, 0, 1) if flip else out


def _partition_esn(esn, items, warmup):
    esn = copy.deepcopy(esn)    # a worker may run several tasks on one shared copy
    readout = _blank_like(esn.readout)
    res = esn.reservoir
    was_initialised = res.Win is not None
    start = esn._loop_state()
    n = 0
    for x, y, label in items:
        with _about(label):
            esn._set_loop_state(*start)
            feats, targets = esn._series_features(_load(x), _load(y), warmup)
            readout.partial_fit(feats, targets)
        n += 1
    if not n:
        return _Partial(None, 0)
    # The last series of a batch is its last column.
    state, y_last = esn._loop_state()
    state = state if state.ndim == 1 else state[-1]
    y_last = None if y_last is None else y_last[-1:]
    return _Partial(readout, n, (state, y_last, *esn._output_layout()),
                    _drawn_matrices(res, was_initialised))


def _partition_layer(layer, readout, items, warmup):
    layer = copy.deepcopy(layer)
    readout = _blank_like(readout)
    start = layer.state.copy() if isinstance(layer, Reservoir) else None
    was_initialised = isinstance(layer, Reservoir) and layer.Win is not None
    n = 0
    for x, y, label in items:
        with _about(label):
            x, y = _load(x), _load(y)
            states = _layer_states(layer, x, start)
            T = states.shape[0]
            if warmup >= T:
                raise ValueError(f"warmup must be < the number of time steps ({T}), "
                                 f"got {warmup}")
            y = np.asarray(y)
            readout.partial_fit(states[warmup:], y[warmup:])
        n += 1
    if not n:
        return _Partial(None, 0)
    matrices = _drawn_matrices(layer, was_initialised) if isinstance(layer, Reservoir) \
        else None
    return _Partial(readout, n, None, matrices)


# ------------------------------------------------------------ the inputs
def _array_block(x, y, label, batch_first):
    if batch_first:
        x = np.ascontiguousarray(np.swapaxes(x, 0, 1))
        y = np.ascontiguousarray(np.swapaxes(y, 0, 1))
    return [(x, y, label)]


def _bag_items(part, index):
    items = []
    for j, pair in enumerate(part):
        label = f"item {j} of partition {index} of the bag"
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"{label}: each item of the bag must be an (x, y) pair (a series "
                            f"and its targets), got {type(pair).__name__}")
        items.append((pair[0], pair[1], label))
    return items


def _resolve_client(client):
    if client is not None:
        return client
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):
        return None


def _total_threads(client):
    if client is None:
        return available_cpus()
    return max(1, sum(client.nthreads().values()))


def _put(obj, client):
    """One copy of ``obj`` for every task: scattered to the cluster, or a
    single node of the local graph."""
    if client is None:
        return dask.delayed(obj, traverse=False)
    # hash=False: a fresh key, never one the scheduler is still releasing
    return client.scatter([obj], broadcast=True, hash=False)[0]


def _label(name, i, item):
    """How errors name an item of a list: ``X[3] ('/data/x3.npy')``."""
    return f"{name}[{i}]" + (f" ({os.fspath(item)!r})" if _is_path(item) else "")


def _split_in_order(items, client, npartitions):
    """Contiguous chunks of a list, in order, each a task's share (default:
    up to four per worker thread); scattered with a client, so each chunk
    travels once, to one worker."""
    parts = min(len(items), npartitions or 4 * _total_threads(client))
    bounds = np.linspace(0, len(items), parts + 1).round().astype(int)
    chunks = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    if client is None:
        return [dask.delayed(chunk, traverse=False) for chunk in chunks]
    return client.scatter(chunks, hash=False)


def _partitions(X, Y, client, npartitions, batch_first):
    """The inputs as a list of (delayed or scattered) lists of (x, y, label)."""
    if isinstance(X, da.Array):
        if not isinstance(Y, da.Array):
            raise TypeError(f"Y must be a Dask array like X, got {type(Y).__name__}")
        if X.ndim != 3:
            raise ValueError(f"X as a Dask array must be 3-D, (T, B, D) time-major or "
                             f"(B, T, D) with batch_first, got shape {X.shape}")
        if Y.ndim != 3:
            raise ValueError(f"Y as a Dask array must be 3-D, (T, B, O) time-major or "
                             f"(B, T, O) with batch_first, got shape {Y.shape}")
        if not any(math.isnan(s) for s in X.shape[:2] + Y.shape[:2]) \
                and X.shape[:2] != Y.shape[:2]:
            raise ValueError(f"X and Y must have the same time steps and series, got shapes "
                             f"{X.shape} and {Y.shape}")
        time_axis, series_axis = (1, 0) if batch_first else (0, 1)
        # One block per group of series: a series is never cut in time.
        X = X.rechunk({time_axis: -1, 2: -1})
        Y = Y.rechunk({time_axis: -1, series_axis: X.chunks[series_axis], 2: -1})
        xb = X.to_delayed().reshape(-1)
        yb = Y.to_delayed().reshape(-1)
        starts = np.cumsum((0,) + X.chunks[series_axis])
        return [dask.delayed(_array_block, pure=True)(
                    xb[i], yb[i], f"series {starts[i]}..{starts[i + 1] - 1} of X", batch_first)
                for i in range(len(xb))]
    if isinstance(X, db.Bag):
        if Y is not None:
            if not isinstance(Y, db.Bag):
                raise TypeError(f"Y must be None (a bag of (x, y) pairs) or a Dask bag like "
                                f"X, got {type(Y).__name__}")
            if X.npartitions != Y.npartitions:
                raise ValueError(f"the bags X and Y must have the same partitions, got "
                                 f"{X.npartitions} and {Y.npartitions}")
            X = db.zip(X, Y)
        return [dask.delayed(_bag_items, pure=True)(part, i)
                for i, part in enumerate(X.to_delayed())]
    if isinstance(X, (list, tuple)):
        if not isinstance(Y, (list, tuple)) or len(Y) != len(X):
            raise ValueError("X and Y must be lists of the same length (of series or of "
                             "file paths)")
        if not X:
            raise ValueError("X and Y are empty lists: there is no series to fit")
        items = [(x, y, _label("X", i, x)) for i, (x, y) in enumerate(zip(X, Y))]
        return _split_in_order(items, client, npartitions)
    raise TypeError(
        "X must be a list of series (arrays or .npy/.csv paths), a Dask array or a Dask bag, "
        f"got {type(X).__name__}; for one array in memory use the model's own fit, or wrap "
        "it with dask.array.from_array")


def _compute(obj, client):
    if client is None:
        return dask.compute(obj)[0]
    return client.gather(client.compute(obj))


def _reduce(task, fixed, X, Y, client, npartitions, batch_first, split_every, warmup):
    if npartitions is not None:
        npartitions = check_int(npartitions, "npartitions", minimum=1)
    split_every = check_int(split_every, "split_every", minimum=2)
    parts = _partitions(X, Y, client, npartitions, batch_first)
    refs = [_put(obj, client) for obj in fixed]
    partials = [dask.delayed(task, pure=True)(*refs, part, warmup) for part in parts]
    total = _compute(_tree_reduce(partials, split_every), client)
    if not total.n_series:
        raise ValueError("X holds no series: there is nothing to fit")
    return total


def _adopt_matrices(reservoir, matrices):
    """Keep the Win/Wfb the workers drew (from the same seed) on the client."""
    if matrices is not None and reservoir.Win is None:
        reservoir._adopt_lazy_draws(matrices)


def _check_ridge(readout, name="readout"):
    if isinstance(readout, RLS):
        raise TypeError(f"{name} is an RLS, which learns sample by sample in order and cannot "
                        "be split across workers: use a fastrnn.Ridge")
    if not isinstance(readout, Ridge):
        raise TypeError(f"{name} must be a fastrnn.Ridge, got {type(readout).__name__}")


def _solve_into(readout, total):
    readout.reset()
    readout.merge(total)
    readout.fit()


# --------------------------------------------------------------------- fit
def fit_esn(esn: ESN, X: SeriesCollection, Y: Optional[SeriesCollection] = None, *,
            warmup: int = 0, client: Optional[Client] = None, npartitions: Optional[int] = None,
            batch_first: bool = False, split_every: int = 8) -> ESN:
    """Fit an ESN's ``Ridge`` readout on many series across Dask workers.

    The same model as ``esn.fit(X, Y, warmup=warmup)`` on those series (with
    teacher forcing when ``esn.feedback``), up to rounding; the states stay
    on the workers.

    Parameters
    ----------
    esn : fastrnn.ESN
        With a ``fastrnn.Ridge`` readout (RLS is sequential by nature).
    X, Y : see the module docstring
        Lists of series or file paths, Dask arrays, or Dask bag(s).
    warmup : int >= 0
        Steps at the start of every series whose states are not used.
    client : dask.distributed.Client, optional
        Default: the current client, else Dask's local threaded scheduler.
    npartitions : int, optional
        Tasks a list of series is split into (default: up to four per
        worker thread). Dask arrays and bags keep their own partitions.
    batch_first : bool
        Dask arrays are (B, T, D) instead of (T, B, D).
    split_every : int >= 2
        Partial sums merged per task of the tree reduction.

    Returns
    -------
    esn (fitted; its readout keeps the merged sums, so changing
    ``esn.readout.ridge`` and calling ``esn.readout.fit()`` re-solves)

    Notes
    -----
    With ``noise > 0`` the reservoir's noise is drawn on every worker from
    its copy of the generator, so it differs from a one-process fit.
    """
    if not isinstance(esn, ESN):
        raise TypeError(f"esn must be a fastrnn.ESN, got {type(esn).__name__}")
    _check_ridge(esn.readout, "esn.readout")
    warmup = check_int(warmup, "warmup", minimum=0)
    client = _resolve_client(client)
    total = _reduce(_partition_esn, (esn,), X, Y, client, npartitions, batch_first,
                    split_every, warmup)
    _solve_into(esn.readout, total.readout)
    _adopt_matrices(esn.reservoir, total.matrices)
    state, y_last, single, n_outputs = total.tail
    esn._set_loop_state(state, y_last)
    esn._set_output_layout(single, n_outputs)
    return esn


def fit_readout(layer: Any, X: SeriesCollection, Y: Optional[SeriesCollection] = None, *,
                readout: Optional[Ridge] = None, warmup: int = 0,
                client: Optional[Client] = None, npartitions: Optional[int] = None,
                batch_first: bool = False, split_every: int = 8) -> Ridge:
    """Fit a ``Ridge`` readout on the states of any fastrnn layer, across workers.

    Each worker runs ``layer`` over its series (``Reservoir.run`` from the
    reservoir's current state, or ``layer.forward(x)`` and its first output
    for the other layers), drops the first ``warmup`` states of every series
    and accumulates the rest; only the sums travel.

    Parameters
    ----------
    layer : fastrnn.Reservoir, or a layer with ``forward(x)`` (RNN, LSTM, GRU, ...)
    X, Y : see the module docstring
    readout : fastrnn.Ridge, optional
        Fitted in place (default: a new ``Ridge()``).
    warmup, client, npartitions, batch_first, split_every : as in ``fit_esn``

    Returns
    -------
    readout (fitted; ``readout.predict(layer states)`` gives the outputs)
    """
    if isinstance(layer, ESN):
        raise TypeError("layer is an ESN: use fastrnn.dask.fit_esn to fit its readout")
    if not (isinstance(layer, Reservoir) or callable(getattr(layer, "forward", None))):
        raise TypeError(f"layer must be a fastrnn.Reservoir or a layer with a forward method, "
                        f"got {type(layer).__name__}")
    readout = Ridge() if readout is None else readout
    _check_ridge(readout)
    warmup = check_int(warmup, "warmup", minimum=0)
    client = _resolve_client(client)
    total = _reduce(_partition_layer, (layer, readout), X, Y, client, npartitions,
                    batch_first, split_every, warmup)
    _solve_into(readout, total.readout)
    if isinstance(layer, Reservoir):
        _adopt_matrices(layer, total.matrices)
    return readout


# ----------------------------------------------------------------- predict
def _check_model(model):
    """Refuse, on the client, what the workers could not run."""
    if isinstance(model, ESN):
        if not hasattr(model.readout, "coef_"):
            raise NotFittedError("model is an ESN whose readout is not fitted: call "
                                 "model.fit (or fastrnn.dask.fit_esn) first")
        return
    if isinstance(model, Reservoir) or callable(getattr(model, "forward", None)) \
            or callable(getattr(model, "predict", None)):
        return
    raise TypeError(f"model must be a fastrnn.ESN, a fastrnn.Reservoir, or a model with a "
                    f"forward method (a recurrent layer, Linear, Sequential) or a predict "
                    f"method, got {type(model).__name__}")


def _start_of(model, rows=None):
    """The state every series starts from (``rows`` of a batched state for
    a block of series), as ``esn.predict(list)`` and ``reservoir.run(list)``
    restart each series from the state at the call; None for stateless calls."""
    def pick(a):
        if a is None or rows is None or a.ndim != 2 or a.shape[0] == 1:
            return a
        return a[rows[0]:rows[1]]
    if isinstance(model, ESN):
        state, y_last = model._loop_state()
        return pick(state), pick(y_last)
    if isinstance(model, Reservoir):
        return pick(model.state).copy()
    return None


def _output_of(model, x, start, block):
    """What local prediction returns for one item: ``esn.predict``,
    ``reservoir.run``, the first output of ``forward``, or ``predict``.
    A ``block`` is time-major (T, b, D) whatever the model's own layout."""
    if isinstance(model, ESN):
        model._set_loop_state(*start)     # copies: a closed loop writes into them
        return model.predict(x)
    if block or isinstance(model, Reservoir):
        return _layer_states(model, x, start)
    if callable(getattr(model, "forward", None)):
        out = model.forward(x)
        return out[0] if isinstance(out, tuple) else out
    return model.predict(x)


def _predict_items(model, items):
    """Outputs of a chunk of a list of series, each from the model's state
    at the call."""
    # Tasks running on one worker share its single copy of the model, and
    # running it changes its state (and a layer's forward caches): copy.
    model = copy.deepcopy(model)
    start = _start_of(model)
    outs = []
    for x, label in items:
        with _about(label):
            outs.append(np.asarray(_output_of(model, _load(x), start, block=False)))
    return outs


def _predict_block(model, x, rows, label, batch_first):
    """Outputs (T, b, ...) (or (b, T, ...)) of a block of series of a Dask array."""
    model = copy.deepcopy(model)
    with _about(label):
        x = np.ascontiguousarray(np.swapaxes(x, 0, 1)) if batch_first else x
        out = np.asarray(_output_of(model, x, _start_of(model, rows), block=True))
        return np.ascontiguousarray(np.swapaxes(out, 0, 1)) if batch_first else out


def predict(model: Any, series: Union[Sequence[Union[ArrayLike, str, os.PathLike]], da.Array],
            client: Optional[Client] = None, *, npartitions: Optional[int] = None,
            batch_first: bool = False) -> Union[list[np.ndarray], np.ndarray]:
    """Predict many series with any fastrnn model, on the Dask workers.

    The model is sent to every worker once (scattered, broadcast); each task
    predicts a group of series on its worker's copy. The outputs are those of
    local prediction, in the order of ``series``: the same computation, so
    equal bit for bit for a list, and equal to rounding for a Dask array,
    whose blocks of series run as smaller batches than one local call on
    the whole array would.

    Parameters
    ----------
    model : fastrnn model
        - ``fastrnn.ESN`` (fitted): ``model.predict`` of each series, every
          series from the model's state at the call, as ``esn.predict`` of
          a list (closed loop with ``feedback``);
        - ``fastrnn.Reservoir``: its states, ``run`` from its state;
        - a model with ``forward`` (``RNN``, ``LSTM``, ``GRU``, the other
          recurrent layers, ``Linear``, ``Sequential``): the first output of
          ``forward(x)`` (the recurrent state starts at zero);
        - anything else with ``predict`` (e.g. the ``fastrnn.sklearn``
          estimators): ``model.predict(x)`` of each item of a list.

        The model itself is left unchanged (``esn.predict`` would leave its
        reservoir in the state after the last series).
    series : list or dask.array.Array
        A list of inputs, each what the model takes (a NumPy array, or the
        path of a ``.npy``/``.csv`` file read by the worker), or a Dask array
        (T, B, D) of B series (``batch_first``: (B, T, D)), chunked along the
        series axis as it likes (a series is never cut in time).
    client : dask.distributed.Client, optional
        Default: the current client, else Dask's local threaded scheduler.
    npartitions : int, optional
        Tasks a list is split into (default: up to four per worker thread).
    batch_first : bool
        A Dask array ``series`` is (B, T, D), and the result (B, T, O).

    Returns
    -------
    list of ndarray (for a list), or ndarray (T, B, ...) (for a Dask array;
    (B, T, ...) with ``batch_first``)

    Raises
    ------
    TypeError
        ``model`` or ``series`` of a kind that cannot be predicted.
    ValueError
        An empty ``series``, a Dask array that is not 3-D, a bad
        ``npartitions``; errors of a series name it (``series[i]``).
    """
    _check_model(model)
    if not isinstance(batch_first, (bool, np.bool_)):
        raise TypeError(f"batch_first must be a bool, got {type(batch_first).__name__}")
    if npartitions is not None:
        npartitions = check_int(npartitions, "npartitions", minimum=1)
    if isinstance(series, da.Array):
        if series.ndim != 3:
            raise ValueError(f"series as a Dask array must be 3-D, (T, B, D) time-major or "
                             f"(B, T, D) with batch_first, got shape {series.shape}")
        if not callable(getattr(model, "forward", None)) \
                and not isinstance(model, (ESN, Reservoir)):
            raise TypeError(f"model ({type(model).__name__}) has only a predict method, whose "
                            "layout of a batch is unknown: give series as a list")
    elif isinstance(series, (list, tuple)):
        if not series:
            raise ValueError("series is an empty list: there is nothing to predict")
    else:
        raise TypeError(
            f"series must be a list of inputs (arrays or .npy/.csv paths) or a Dask array, "
            f"got {type(series).__name__}; for one array in memory call the model itself, "
            "or wrap it with dask.array.from_array")
    client = _resolve_client(client)
    model_ref = _put(model, client)
    if isinstance(series, da.Array):
        time_axis, series_axis = (1, 0) if batch_first else (0, 1)
        series = series.rechunk({time_axis: -1, 2: -1})
        blocks = series.to_delayed().reshape(-1)
        starts = np.cumsum((0,) + series.chunks[series_axis])
        tasks = [dask.delayed(_predict_block, pure=True)(
                     model_ref, blocks[i], (int(starts[i]), int(starts[i + 1])),
                     f"series {starts[i]}..{starts[i + 1] - 1} of the Dask array",
                     batch_first)
                 for i in range(len(blocks))]
        return np.concatenate(_compute(tasks, client), axis=series_axis)
    items = [(x, _label("series", i, x)) for i, x in enumerate(series)]
    chunks = _split_in_order(items, client, npartitions)
    tasks = [dask.delayed(_predict_items, pure=True)(model_ref, chunk) for chunk in chunks]
    return [out for outs in _compute(tasks, client) for out in outs]


# ------------------------------------------------------------------ search
class SearchResult:
    """What ``search`` found.

    Attributes
    ----------
    results : list of dict
        ``{"params": {...}, "score": float}`` for every combination, best
        (lowest score) first; NaN scores last.
    best_params : dict
    best_score : float
    best_esn : fastrnn.ESN or None
        The best combination refitted on the whole training set (None with
        ``refit=False``).
    """

    def __init__(self, results: list[dict[str, Any]], best_esn: Optional[ESN]) -> None:
        self.results = results
        self.best_params = results[0]["params"]
        self.best_score = results[0]["score"]
        self.best_esn = best_esn

    def __repr__(self) -> str:
        return (f"SearchResult({len(self.results)} combinations, best_score={self.best_score!r}, "
                f"best_params={self.best_params!r})")


_RESERVOIR_PARAMS = frozenset(
    name for name in inspect.signature(Reservoir.__init__).parameters if name != "self")


def _check_names(keys, argname):
    for key in keys:
        if key != "ridge" and key not in _RESERVOIR_PARAMS:
            raise ValueError(f"{argname} has an unknown parameter {key!r}: expected "
                             f"'ridge' or a Reservoir parameter "
                             f"({', '.join(sorted(_RESERVOIR_PARAMS))})")
    if "units" not in keys:
        raise ValueError(f"{argname} must give 'units' (the reservoir size)")


def _dicts(value, argname, what):
    dicts = [value] if isinstance(value, dict) else value
    if not isinstance(dicts, (list, tuple)) or not dicts \
            or not all(isinstance(d, dict) for d in dicts):
        raise TypeError(f"{argname} must be a dict of {what}, or a non-empty list of such "
                        f"dicts, got {type(value).__name__}")
    return list(dicts)


def _is_value_list(values):
    return not isinstance(values, (str, bytes, dict)) and hasattr(values, "__len__") \
        and len(values) > 0


def _grid(param_grid):
    """[(reservoir params, ridge), ...] in the grid's order (ridge None: the
    readout template's own)."""
    candidates = []
    for g in _dicts(param_grid, "param_grid", "lists of values"):
        _check_names(g, "param_grid")
        for key, values in g.items():
            if not _is_value_list(values):
                raise ValueError(f"param_grid[{key!r}] must be a non-empty list of values, "
                                 f"got {values!r}")
        ridges = [check_real(r, "ridge", low=0.0) for r in g["ridge"]] if "ridge" in g \
            else [None]
        keys = [k for k in g if k != "ridge"]
        for values in itertools.product(*(g[k] for k in keys)):
            candidates.extend((dict(zip(keys, values)), r) for r in ridges)
    return candidates


def _random_state(random_state):
    """A RandomState, as scikit-learn's check_random_state makes one (so an
    int seed draws what it draws in scikit-learn); a Generator is kept."""
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if random_state is None:
        return np.random.RandomState()
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state,
                                                                    numbers.Integral):
        raise TypeError(f"random_state must be None, an int, a numpy RandomState or "
                        f"Generator, got {type(random_state).__name__}")
    if not 0 <= random_state < 2 ** 32:
        raise ValueError(f"random_state must be in [0, 2**32), got {random_state}")
    return np.random.RandomState(int(random_state))


def _index(rng, n):
    return int(rng.integers(n) if isinstance(rng, np.random.Generator) else rng.randint(n))


def _plain(value):
    """A NumPy scalar drawn by a distribution as the Python number it holds."""
    return value.item() if isinstance(value, np.generic) else value


def sample_params(param_distributions: ParamSpace, n_iter: int = 10,
                  random_state: RandomStateLike = None
                  ) -> list[dict[str, Any]]:
    """The candidates ``random_search`` evaluates, drawn as scikit-learn's
    ``ParameterSampler`` draws them.

    Parameters
    ----------
    param_distributions : dict or list of dicts
        Parameter name -> a distribution with an ``rvs(random_state=...)``
        method (a frozen ``scipy.stats`` distribution, such as
        ``scipy.stats.loguniform(1e-8, 1e-2)`` or ``randint(50, 200)``) or a
        non-empty list of values, drawn uniformly. With a list of dicts, each
        candidate first picks one dict uniformly.
    n_iter : int >= 1
        Number of candidates.
    random_state : None, int, numpy.random.RandomState or Generator
        An int gives reproducible candidates.

    Returns
    -------
    list of dict
        When every value is a list, ``n_iter`` distinct combinations of the
        grid (the whole grid, in order, with a warning, if it has fewer);
        otherwise ``n_iter`` independent draws, keys in sorted order, each
        drawn in turn, so an int ``random_state`` gives the candidates
        scikit-learn's ``ParameterSampler`` gives. NumPy scalars are
        returned as Python numbers.
    """
    dicts = _dicts(param_distributions, "param_distributions", "distributions or lists")
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    for d in dicts:
        for key, values in d.items():
            if not (callable(getattr(values, "rvs", None)) or _is_value_list(values)):
                raise TypeError(f"param_distributions[{key!r}] must be a distribution with an "
                                f"rvs method (a frozen scipy.stats distribution) or a "
                                f"non-empty list of values, got {values!r}")
    rng = _random_state(random_state)
    if all(not hasattr(v, "rvs") for d in dicts for v in d.values()):
        # Only lists: sample the grid without replacement, like scikit-learn.
        grid = [dict(zip(d, combo)) for d in dicts
                for combo in itertools.product(*d.values())]
        if n_iter >= len(grid):
            if n_iter > len(grid):
                warnings.warn(f"the grid of param_distributions has {len(grid)} "
                              f"combinations, fewer than n_iter={n_iter}: all are used",
                              UserWarning, stacklevel=2)
            return grid
        picks = rng.choice(len(grid), n_iter, replace=False)
        return [grid[int(i)] for i in picks]
    candidates = []
    for _ in range(n_iter):
        d = dicts[_index(rng, len(dicts))]
        params = {}
        for key in sorted(d):
            values = d[key]
            params[key] = _plain(values.rvs(random_state=rng) if hasattr(values, "rvs")
                                 else values[_index(rng, len(values))])
        candidates.append(params)
    return candidates


def _tasks_of(candidates):
    """Candidates grouped by reservoir: [(params, [ridge, ...], [index, ...])],
    so that all the ridge values of one reservoir share one accumulation."""
    def same(a, b):
        try:
            return a.keys() == b.keys() and all(
                type(a[k]) is type(b[k]) and bool(a[k] == b[k]) for k in a)
        except (TypeError, ValueError):     # arrays and the like: never merged
            return False
    tasks = []
    for i, (params, ridge) in enumerate(candidates):
        for t in tasks:
            if same(t[0], params):
                t[1].append(ridge)
                t[2].append(i)
                break
        else:
            tasks.append((params, [ridge], [i]))
    return tasks


def _series_pairs(data, name):
    """(X, Y) -> lists of X and Y items (single arrays become one series)."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be an (X, Y) pair, got {type(data).__name__}")
    X, Y = data
    if isinstance(Y, (list, tuple)):
        if not isinstance(X, (list, tuple)) or len(X) != len(Y) or not Y:
            raise ValueError(f"{name}: X and Y must be non-empty lists of the same length")
        return list(X), list(Y)
    if Y is None:
        raise ValueError(f"{name}: Y is required")
    return [X], [Y]


def _loaded(items, prefix):
    out = []
    for i, item in enumerate(items):
        with _about(f"{prefix}[{i}]"):
            out.append(_load(item))
    return out


def _build_esn(params, ridge, options):
    kwargs = dict(params)
    kwargs.setdefault("seed", options["seed"])
    template = options["readout"]
    readout = _blank_like(template)
    if ridge is not None:
        readout.ridge = ridge
    return ESN(Reservoir(**kwargs), readout, feedback=options["feedback"],
               input_to_readout=options["input_to_readout"])


def _score(esn, valid, metric):
    Xv, Yv = valid
    preds = esn.predict(Xv)
    return float(np.mean([metric(y, p) for y, p in zip(Yv, preds)]))


def _evaluate(params, ridges, train, valid, options):
    """Scores of one reservoir for every ridge value (one accumulation)."""
    train = (_loaded(train[0], "train X"), _loaded(train[1], "train Y"))
    valid = (_loaded(valid[0], "valid X"), _loaded(valid[1], "valid Y"))
    esn = _build_esn(params, ridges[0], options)
    warmup = options["warmup"]
    start = esn._loop_state()
    feats, targets = [], []
    for i, (x, y) in enumerate(zip(*train)):
        with _about(f"train X[{i}]"):
            esn._set_loop_state(*start)
            f, t = esn._series_features(x, y, warmup)
        feats.append(f)
        targets.append(t)
    fitted = esn._loop_state()
    # One accumulation for all the ridges, each solved as Ridge.fit(X, Y)
    # solves it (refined against the data, or redone by QR), so that every
    # score is the one a serial loop of fits would give.
    shared = _blank_like(esn.readout)
    pairs = shared._accumulate_fit(feats, targets)
    scores = []
    for ridge in ridges:
        readout = copy.deepcopy(shared)
        if ridge is not None:
            readout.ridge = ridge
        readout._solve_fit(pairs)
        esn.readout = readout
        esn._set_loop_state(*fitted)
        scores.append(_score(esn, valid, options["metric"]))
    return scores


def _refit(params, ridge, train, options):
    esn = _build_esn(params, ridge, options)
    X, Y = _loaded(train[0], "train X"), _loaded(train[1], "train Y")
    return esn.fit(X, Y, warmup=options["warmup"])


def _loaded_pair(data, name):
    """(X, Y) with every path read: run once, on one worker."""
    return _loaded(data[0], f"{name} X"), _loaded(data[1], f"{name} Y")


def _shared_data(data, name, client):
    """One copy of (X, Y) for all the tasks of a search.

    Arrays are scattered to every worker once (broadcast), so no task
    carries them. Paths are read once, by one task, whose result Dask then
    copies to each other worker once, instead of every task reading every
    file again."""
    if not any(_is_path(item) for items in data for item in items):
        return _put(data, client)
    if client is None:
        return dask.delayed(_loaded_pair, pure=True)(dask.delayed(data, traverse=False), name)
    ref = client.scatter([data], hash=False)[0]
    return dask.delayed(_loaded_pair, pure=True)(ref, name)


def _search_options(warmup, metric, seed, readout, feedback, input_to_readout):
    readout = Ridge() if readout is None else readout
    _check_ridge(readout)
    options = {"warmup": check_int(warmup, "warmup", minimum=0),
               "metric": nrmse if metric is None else metric,
               "seed": seed, "readout": readout, "feedback": bool(feedback),
               "input_to_readout": bool(input_to_readout)}
    if not callable(options["metric"]):
        raise TypeError(f"metric must be a callable (y_true, y_pred) -> float, got "
                        f"{type(metric).__name__}")
    return options


def _run_search(candidates, train, valid, client, options, refit):
    """Score every (reservoir params, ridge) candidate on the workers; the
    results best first, ties in the candidates' order."""
    train = _series_pairs(train, "train")
    valid = _series_pairs(valid, "valid")
    client = _resolve_client(client)
    train_ref = _shared_data(train, "train", client)
    valid_ref = _shared_data(valid, "valid", client)
    options_ref = _put(options, client)
    groups = _tasks_of(candidates)
    tasks = [dask.delayed(_evaluate, pure=True)(params, ridges, train_ref, valid_ref,
                                                 options_ref)
             for params, ridges, _ in groups]
    scores = [None] * len(candidates)
    for (_, _, indices), task_scores in zip(groups, _compute(tasks, client)):
        for i, score in zip(indices, task_scores):
            scores[i] = score
    results = []
    for (params, ridge), score in zip(candidates, scores):
        full = dict(params)
        full["ridge"] = options["readout"].ridge if ridge is None else ridge
        results.append({"params": full, "score": score})
    # Stable: ties keep the candidates' order; NaN last.
    results.sort(key=lambda r: (math.isnan(r["score"]), r["score"]))
    best_esn = None
    if refit:
        best = dict(results[0]["params"])
        ridge = best.pop("ridge")
        best_esn = _compute(dask.delayed(_refit, pure=True)(best, ridge, train_ref,
                                                            options_ref), client)
    return SearchResult(results, best_esn)


_SEARCH_PARAMETERS = """    train, valid : (X, Y)
        Lists of series (arrays or ``.npy``/``.csv`` paths), or one series
        each. Arrays are scattered to every worker once, not sent with each
        task; paths are read once, by one worker, and the arrays copied to
        the others. Validation series are predicted from the state after
        training (``esn.predict``), closed loop with ``feedback``.
    client : dask.distributed.Client, optional
        Default: the current client, else Dask's local threaded scheduler.
    warmup : int
        Discarded steps at the start of every training series.
    metric : callable(y_true, y_pred) -> float, lower is better
        Default ``fastrnn.metrics.nrmse``; averaged over validation series.
        For a score to maximise, return its negative.
    seed : int
        Seed of every reservoir, unless ``seed`` is a searched parameter.
    readout : fastrnn.Ridge, optional
        Template for the readout's other settings (solver, fit_bias, dtype).
    feedback, input_to_readout : bool
        As in ``fastrnn.ESN``.
    refit : bool
        Refit the best candidate on a worker and return it."""


def search(param_grid: ParamSpace, train: tuple[Any, Any], valid: tuple[Any, Any], *,
           client: Optional[Client] = None, warmup: int = 0,
           metric: Optional[Callable[[np.ndarray, np.ndarray], float]] = None, seed: int = 0,
           readout: Optional[Ridge] = None, feedback: bool = False,
           input_to_readout: bool = False, refit: bool = True) -> SearchResult:
    """Evaluate a grid of ESN hyperparameters in parallel on a Dask cluster.

    Every combination of the reservoir parameters in ``param_grid`` is one
    task: it builds ``Reservoir(**params, seed=seed)``, harvests the states
    of the training series once, and for each ``ridge`` value solves the
    readout from the shared sums and scores the ESN on the validation
    series. Each combination scores exactly as the serial loop
    ``esn = ESN(Reservoir(**params, seed=seed), Ridge(ridge)); esn.fit(X, Y,
    warmup=warmup); metric(Y_valid, esn.predict(X_valid))`` would.

    Parameters
    ----------
    param_grid : dict or list of dicts
        Lists of values of ``Reservoir`` parameters (``units`` is required;
        ``sr``, ``lr``, ``input_scaling``, ``seed``, ...) and of ``ridge``,
        as in scikit-learn's ``ParameterGrid``.
{params}

    Returns
    -------
    SearchResult

    See Also
    --------
    random_search : candidates drawn from distributions instead of a grid.
    """
    options = _search_options(warmup, metric, seed, readout, feedback, input_to_readout)
    return _run_search(_grid(param_grid), train, valid, client, options, refit)


def random_search(param_distributions: ParamSpace, train: tuple[Any, Any],
                  valid: tuple[Any, Any], *, n_iter: int = 10,
                  random_state: RandomStateLike = None,
                  client: Optional[Client] = None, warmup: int = 0,
                  metric: Optional[Callable[[np.ndarray, np.ndarray], float]] = None,
                  seed: int = 0, readout: Optional[Ridge] = None, feedback: bool = False,
                  input_to_readout: bool = False, refit: bool = True) -> SearchResult:
    """Evaluate randomly drawn ESN hyperparameters in parallel on a Dask cluster.

    As scikit-learn's ``RandomizedSearchCV`` is to ``GridSearchCV``, this is
    to ``search``: ``n_iter`` candidates are drawn on the client
    (``sample_params``), then scored on the workers as ``search`` scores a
    grid: each score equals the serial loop's for that candidate, and
    candidates with the same reservoir parameters share one harvest of the
    training states.

    Parameters
    ----------
    param_distributions : dict or list of dicts
        ``Reservoir`` parameters (``units`` is required) and ``ridge``, each
        a frozen ``scipy.stats`` distribution (anything with
        ``rvs(random_state=...)``; e.g. ``loguniform(1e-8, 1e-2)`` for
        ``ridge``, ``uniform(0.5, 0.8)`` for ``sr`` on [0.5, 1.3],
        ``randint(50, 300)`` for ``units``) or a list of values.
    n_iter : int >= 1
        Number of candidates.
    random_state : None, int, numpy.random.RandomState or Generator
        Drawing of the candidates; an int makes the search reproducible.
{params}

    Returns
    -------
    SearchResult
        ``results`` holds every candidate (drawn values as Python numbers).
    """
    options = _search_options(warmup, metric, seed, readout, feedback, input_to_readout)
    for d in _dicts(param_distributions, "param_distributions", "distributions or lists"):
        _check_names(d, "param_distributions")
    candidates = []
    for params in sample_params(param_distributions, n_iter, random_state):
        params = dict(params)
        ridge = params.pop("ridge", None)
        candidates.append((params, None if ridge is None
                           else check_real(ridge, "ridge", low=0.0)))
    return _run_search(candidates, train, valid, client, options, refit)


if search.__doc__:      # None under python -OO
    search.__doc__ = search.__doc__.format(params=_SEARCH_PARAMETERS)
    random_search.__doc__ = random_search.__doc__.format(params=_SEARCH_PARAMETERS)
