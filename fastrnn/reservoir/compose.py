"""Composed reservoir models: reservoirs in series (deep ESN, Gallicchio et
al. 2017) and in parallel (several time scales), with any subset of their
states, and the input, read by several named readouts fitted in one pass
(hierarchical reservoirs: Jaeger 2007; readouts: Lukoševičius 2012).

A model is a small directed acyclic graph declared by name: each node is a
`fastrnn.Reservoir` with the names of what feeds it (``"input"`` or other
nodes, their outputs concatenated), and each readout a readout with the
names of what it reads. A sequence runs each reservoir once, in an order
that respects the edges, each in one C call (`Reservoir.run`); the readouts
then read the states. States are produced once per call, however many
readouts read them.

Memory: the sources read together by readouts of several sources live side
by side in one (T, B, F) buffer, in the graph's order (nodes, then the
input), and each of those reservoirs writes its states straight into its
columns of it (`Reservoir.run` with ``out=``: the C loop writes rows whose
stride is the buffer's width), so nothing is copied but the input, which
is the caller's. A node fed by such a reservoir reads those columns in
place too, and one fed by several sources consecutive in the buffer reads
them as one view; only sources joined out of the buffer's order are
concatenated (the node's input weights multiply them as one vector). A
readout reading all of the buffer (every layer of a deep ESN, with or
without the input: the usual case) reads the buffer itself; one reading
consecutive columns gets a view; one reading a single source gets that
source's states (a view of the buffer, or an array of their own); only one
reading sources out of the graph's order gets a gathered copy.

`ReservoirGraph.generate` forecasts in free run, a readout's output fed back
as the next input, one call per reservoir and step.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from numpy.typing import DTypeLike

from fastrnn._core.validation import as_float_array, check_bool, check_int, check_random_state
from fastrnn._core.validation import SeedLike
from fastrnn.io import format as io_format
from fastrnn.reservoir.readout import LMS, RLS, EstimatorReadout, Ridge, Series
from fastrnn.reservoir.reservoir import Reservoir

#: The name under which a graph's nodes and readouts read the input series.
INPUT = "input"

_FASTRNN_READOUTS = (Ridge, RLS, LMS, EstimatorReadout)

Sources = Union[str, Sequence[str]]


def _source_names(sources, owner):
    """``sources`` (a name or a sequence of names) as a tuple, non-empty and
    without repeats."""
    names = (sources,) if isinstance(sources, str) else sources
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{owner} must read a name or a list of names, got {sources!r}")
    names = tuple(names)
    if not names:
        raise ValueError(f"{owner} reads nothing: give it at least one source "
                         f"({INPUT!r} or a node)")
    if len(set(names)) != len(names):
        raise ValueError(f"{owner} names a source twice: {list(names)}")
    return names


def _declared(spec, owner):
    """(part, sources) from a declaration ``(part, sources)``."""
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise TypeError(f"{owner} must be declared as a (part, sources) pair, got "
                        f"{type(spec).__name__}")
    return spec[0], _source_names(spec[1], owner)


def _as_readout(readout, owner):
    """A fastrnn readout as it is; any other object with fit and predict (a
    scikit-learn estimator) wrapped in an `EstimatorReadout`."""
    if isinstance(readout, _FASTRNN_READOUTS):
        return readout
    if callable(getattr(readout, "fit", None)) and callable(getattr(readout, "predict", None)):
        return EstimatorReadout(readout)
    raise TypeError(f"{owner} must be a fastrnn readout (Ridge, RLS, LMS) or an estimator with "
                    f"fit and predict, got {type(readout).__name__}")


def _topological_order(sources):
    """The node names in an order where every node comes after the nodes
    feeding it (the declaration order wherever it allows), or a ValueError
    naming a cycle."""
    order, done, visiting = [], set(), []

    def visit(name):
        if name in done:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name):] + [name]
            raise ValueError(f"the graph has a cycle: {' -> '.join(reversed(cycle))}; a "
                             "reservoir cannot feed itself through other nodes")
        visiting.append(name)
        for src in sources[name]:
            if src != INPUT:
                visit(src)
        visiting.pop()
        done.add(name)
        order.append(name)

    for name in sources:
        visit(name)
    return order


class _Outputs(dict):
    """One pass's states by source, and the buffer that holds some of them
    side by side (`ReservoirGraph._propagate`)."""

    def __init__(self, arrays):
        super().__init__(arrays)
        self.buffer = None
        self.columns = {}

    def joined(self, sources):
        """The sources' arrays side by side: one source's own array, a view of
        the buffer when they are consecutive in it, else a concatenation."""
        if len(sources) == 1:
            return self[sources[0]]
        spans = [self.columns.get(s) for s in sources]
        if all(spans) and all(a[1] == b[0] for a, b in zip(spans, spans[1:])):
            start, stop = spans[0][0], spans[-1][1]
            whole = start == 0 and stop == self.buffer.shape[-1]
            return self.buffer if whole else self.buffer[..., start:stop]
        return np.concatenate([self[s] for s in sources], axis=-1)


class ReservoirGraph:
    """Reservoirs composed in series and in parallel, read by named readouts
    (hierarchical reservoirs: Jaeger 2007; readouts: Lukoševičius 2012; deep
    reservoirs: Gallicchio et al. 2017).

    Parameters
    ----------
    nodes : mapping name -> (Reservoir, sources)
        Each reservoir with what feeds it: ``"input"``, another node's
        name, or a list of them (their outputs concatenated in that order,
        so its Win has as many columns as their widths add up to). Names are
        non-empty strings other than ``"input"``; each reservoir object
        appears once.
    readouts : mapping name -> (readout, sources)
        Each readout with the nodes (and ``"input"``) whose outputs, in that
        order, are its features. A readout is a `fastrnn.Ridge`, `RLS`,
        `LMS`, `EstimatorReadout`, or any estimator with ``fit`` and
        ``predict`` (a scikit-learn ``LogisticRegression``, ``Lasso``, ...),
        which is wrapped in an `EstimatorReadout`.

    Attributes
    ----------
    nodes : dict name -> Reservoir
    readouts : dict name -> readout
    sources : dict name -> tuple of names
        What feeds each node and each readout (nodes and readouts have
        distinct names).
    order : list of str
        The nodes in the order they run.

    Notes
    -----
    Inputs X are (T, D), (T, B, D) (B series run together) or a list of
    (T_i, D) arrays (independent series, each starting from the states the
    nodes had at the start of the call). Targets are shaped alike: (T, O),
    (T,), (T, B, O) or (T, B) (class labels for a classifier), or a list.
    Each reservoir keeps its state between calls, as `fastrnn.ESN` does,
    until ``reset()``.

    With one reservoir fed by the input and a `Ridge` reading it (and the
    input), the graph computes the states and fits the readout of
    ``fastrnn.ESN`` (with ``input_to_readout``) to the bit; ``ESN`` adds
    output feedback and the closed loop, which a graph does not have.

    Examples
    --------
    Two time scales in parallel, read with the input by a ridge regression and
    by a classifier, both fitted on the one run of the reservoirs:

    >>> import numpy as np, fastrnn
    >>> from sklearn.linear_model import LogisticRegression
    >>> graph = fastrnn.ReservoirGraph(
    ...     nodes={"fast": (fastrnn.Reservoir(50, lr=0.9, seed=1), "input"),
    ...            "slow": (fastrnn.Reservoir(50, lr=0.1, seed=2), "input")},
    ...     readouts={"value": (fastrnn.Ridge(1e-6), ["fast", "slow", "input"]),
    ...               "sign": (LogisticRegression(), ["fast", "slow"])})
    >>> u = np.sin(np.arange(300) / 5)[:, None]
    >>> y = {"value": np.roll(u, -1, axis=0), "sign": (np.roll(u, -1) > 0).astype(int).ravel()}
    >>> out = graph.fit(u, y, warmup=20).run(u)
    >>> out["value"].shape, out["sign"].shape
    ((300, 1), (300,))
    """

    def __init__(self, nodes: Mapping[str, tuple[Reservoir, Sources]],
                 readouts: Mapping[str, tuple[Any, Sources]]) -> None:
        if not isinstance(nodes, Mapping) or not nodes:
            raise ValueError("nodes must be a non-empty mapping name -> (Reservoir, sources)")
        if not isinstance(readouts, Mapping) or not readouts:
            raise ValueError("readouts must be a non-empty mapping name -> (readout, sources)")
        self.nodes, self.readouts, self.sources = {}, {}, {}
        for name, spec in nodes.items():
            self._check_name(name, "node")
            reservoir, srcs = _declared(spec, f"node {name!r}")
            if not isinstance(reservoir, Reservoir):
                raise TypeError(f"node {name!r} must be a fastrnn.Reservoir, got "
                                f"{type(reservoir).__name__}")
            if any(reservoir is r for r in self.nodes.values()):
                raise ValueError(f"node {name!r} is a reservoir already in the graph; each "
                                 "node needs its own (one state each)")
            self.nodes[name], self.sources[name] = reservoir, srcs
        for name, spec in readouts.items():
            self._check_name(name, "readout")
            if name in self.nodes:
                raise ValueError(f"readout {name!r} has the name of a node")
            readout, srcs = _declared(spec, f"readout {name!r}")
            readout = _as_readout(readout, f"readout {name!r}")
            if any(readout is r for r in self.readouts.values()):
                raise ValueError(f"readout {name!r} is a readout object already in the graph")
            self.readouts[name], self.sources[name] = readout, srcs
        for name, srcs in self.sources.items():
            kind = "node" if name in self.nodes else "readout"
            unknown = [s for s in srcs if s != INPUT and s not in self.nodes]
            if unknown:
                raise ValueError(f"{kind} {name!r} reads {unknown}, which name no node "
                                 f"(nodes: {list(self.nodes)}; the input is {INPUT!r})")
        self.order = _topological_order({n: self.sources[n] for n in self.nodes})
        dtypes = {r.dtype for r in self.nodes.values()}
        if len(dtypes) > 1:
            raise ValueError(f"the reservoirs must share one dtype, got "
                             f"{sorted(d.name for d in dtypes)}")
        self.dtype = dtypes.pop()
        for name in self.order:
            self._check_input_width(name, None)
        self._plan_buffer()

    @staticmethod
    def _check_name(name, kind):
        if not isinstance(name, str) or not name:
            raise TypeError(f"{kind} names must be non-empty strings, got {name!r}")
        if name == INPUT:
            raise ValueError(f"{INPUT!r} names the input series; it cannot name a {kind}")

    def _width(self, source, D):
        return D if source == INPUT else self.nodes[source].units

    def _check_input_width(self, name, D):
        """A node's Win (once set) must take the widths of its sources
        together; D is the input's width (None before any data)."""
        srcs = self.sources[name]
        win = self.nodes[name].Win
        if win is None or (D is None and INPUT in srcs):
            return
        width = sum(self._width(s, D) for s in srcs)
        if win.shape[1] != width:
            parts = " + ".join(f"{s} ({self._width(s, D)})" for s in srcs)
            raise ValueError(f"node {name!r} takes {win.shape[1]} inputs (its Win is "
                             f"{win.shape}), but it is fed {parts} = {width}")

    def _plan_buffer(self):
        """How each readout reads its features: its one source's array
        ("own"), a view of consecutive columns of the one buffer ("view"), or
        its sources gathered out of the graph's order ("gather"); and which
        sources the buffer holds: those of the "view" readouts, in the
        graph's order (nodes, then the input)."""
        several = [self.sources[r] for r in self.readouts if len(self.sources[r]) > 1]
        # The sources read together, in the graph's order: a readout's
        # sources consecutive here stay consecutive in the buffer, which
        # holds some of them.
        shared = [s for s in self.order + [INPUT] if any(s in srcs for srcs in several)]
        self._reads = {}
        for name in self.readouts:
            srcs = self.sources[name]
            if len(srcs) == 1:
                self._reads[name] = ("own", srcs[0])
                continue
            first = shared.index(srcs[0])
            consecutive = list(srcs) == shared[first:first + len(srcs)]
            self._reads[name] = ("view" if consecutive else "gather", srcs)
        viewed = {s for how, srcs in self._reads.values() if how == "view" for s in srcs}
        self._buffer_sources = [s for s in shared if s in viewed]

    # ------------------------------------------------------------ running
    def reset(self) -> ReservoirGraph:
        """Zero every reservoir's state."""
        for reservoir in self.nodes.values():
            reservoir.reset()
        return self

    def _input(self, X, name="X"):
        """One series (T, D) or batch (T, B, D) as the nodes' dtype."""
        u = as_float_array(X, name, self.dtype, ndim=(2, 3))
        for node in self.order:
            self._check_input_width(node, u.shape[-1])
        return u

    def _propagate(self, u):
        """Run every node once over u: {source: states}, the input included,
        with the one buffer (see the module's notes) as ``.buffer`` and each
        buffered source's columns in it as ``.columns``."""
        outputs = _Outputs({INPUT: u})
        if self._buffer_sources:
            start = 0
            for s in self._buffer_sources:
                stop = start + self._width(s, u.shape[-1])
                outputs.columns[s] = (start, stop)
                start = stop
            outputs.buffer = np.empty(u.shape[:-1] + (start,), dtype=self.dtype)
            if INPUT in outputs.columns:
                outputs.buffer[..., slice(*outputs.columns[INPUT])] = u
        for name in self.order:
            span = outputs.columns.get(name)
            out = None if span is None else outputs.buffer[..., span[0]:span[1]]
            outputs[name] = self.nodes[name].run(outputs.joined(self.sources[name]), out=out)
        return outputs

    def _features(self, outputs):
        """{readout: features} from the sources' outputs (see `_propagate`)."""
        features = {}
        for name, (how, srcs) in self._reads.items():
            features[name] = outputs[srcs] if how == "own" else outputs.joined(srcs)
        return features

    def _per_series(self, X, work):
        """``work(u, i)`` for each series u (number i) of X: one result for an
        array, a list for a list (each series from the states at the start of
        the call)."""
        if not isinstance(X, (list, tuple)):
            return work(self._input(X), 0)
        if not X:
            raise ValueError("X is an empty list: there is no series")
        start = {n: r.state.copy() for n, r in self.nodes.items()}
        results = []
        for i, x in enumerate(X):
            for n, r in self.nodes.items():
                r.state = start[n].copy()
            results.append(work(self._input(x, f"X[{i}]"), i))
        return results

    def states(self, X: Series) -> Union[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
        """Run the nodes over X and return their states by node name:
        (T, [B,] N) arrays (or a list of such dicts for a list X)."""
        def work(u, i):
            outputs = self._propagate(u)
            return {n: outputs[n] for n in self.order}
        return self._per_series(X, work)

    # ------------------------------------------------------------ fitting
    def _targets(self, Y, readout_names):
        """Y as {readout: targets}."""
        if isinstance(Y, Mapping):
            unknown = [k for k in Y if k not in self.readouts]
            if unknown:
                raise ValueError(f"Y names {unknown}, which are not readouts of this graph "
                                 f"(readouts: {readout_names})")
            if not Y:
                raise ValueError("Y is an empty dict: name at least one readout to fit")
            return dict(Y)
        if len(self.readouts) != 1:
            raise TypeError(f"Y must be a dict readout name -> targets for a graph of several "
                            f"readouts ({readout_names})")
        return {readout_names[0]: Y}

    @staticmethod
    def _checked_target(y, lead, warmup, label):
        """The targets of one series after ``warmup``, their leading
        dimensions checked against the input's (T,) or (T, B)."""
        y = np.asarray(y)
        if y.shape[:len(lead)] != lead or y.ndim > len(lead) + 1:
            want = " or ".join(str(s) for s in (lead, lead + ("O",)))
            raise ValueError(f"{label} must have shape {want} like X's time steps (and "
                             f"series), got {y.shape}")
        return y[warmup:]

    def fit(self, X: Series, Y: Union[Series, Mapping[str, Series]], warmup: int = 0
            ) -> ReservoirGraph:
        """Run the reservoirs once over X and fit the readouts named in Y on
        the states.

        Parameters
        ----------
        X : array_like (T, D), (T, B, D), or a list of (T_i, D) arrays
        Y : dict readout name -> targets, or the targets of the only readout
            Targets shaped like X's leading dimensions, (T,) or (T, O) (and
            (T, B), (T, B, O); a list like X). Readouts not named are left
            as they are.
        warmup : int >= 0
            Steps at the start of every series whose states are not used.

        Returns
        -------
        self
        """
        warmup = check_int(warmup, "warmup", minimum=0)
        names = list(self.readouts)
        targets = self._targets(Y, names)
        listed = isinstance(X, (list, tuple))
        for name, y in targets.items():
            if listed != isinstance(y, (list, tuple)) or (listed and len(y) != len(X)):
                raise ValueError(f"Y[{name!r}] must be a list of {len(X)} series like X"
                                 if listed else f"Y[{name!r}] must be an array like X")
        feats = {name: [] for name in targets}
        kept = {name: [] for name in targets}

        def work(u, i):
            if warmup >= u.shape[0]:
                raise ValueError(f"warmup must be < the number of time steps ({u.shape[0]}), "
                                 f"got {warmup}")
            features = self._features(self._propagate(u))
            for name, y in targets.items():
                yi = y[i] if listed else y
                label = f"Y[{name!r}]" + (f"[{i}]" if listed else "")
                kept[name].append(self._checked_target(yi, u.shape[:-1], warmup, label))
                feats[name].append(features[name][warmup:])

        self._per_series(X, work)
        for name in targets:
            if listed:
                self.readouts[name].fit(feats[name], kept[name])
            else:
                self.readouts[name].fit(feats[name][0], kept[name][0])
        return self

    def run(self, X: Series) -> Union[dict[str, Any], np.ndarray, list[np.ndarray]]:
        """The readouts' outputs for X: a dict by readout name, or, for a
        graph of one readout, its output alone. Each output is shaped like X
        with the readout's outputs last ((T, O), or (T,) when fitted on one
        target per step); a list X gives lists."""
        def work(u, i):
            features = self._features(self._propagate(u))
            return {name: ro.predict(features[name]) for name, ro in self.readouts.items()}
        results = self._per_series(X, work)
        if isinstance(results, list):
            results = {name: [r[name] for r in results] for name in self.readouts}
        if len(self.readouts) == 1:
            return next(iter(results.values()))
        return results

    predict = run

    def generate(self, n_steps: int, warmup: Any, *, readout: Optional[str] = None
                 ) -> np.ndarray:
        """Forecast in free run: the readout's output is fed back as the next
        input (a one-step-ahead predictor iterated, as for the multi-step
        Mackey-Glass forecasts of Jaeger & Haas (2004)).

        The reservoirs are first driven by ``warmup``; the readout's output
        after its last step predicts the next input, and is then the input
        of the next step, ``n_steps`` times in all. Each free step is one
        call per reservoir.

        Parameters
        ----------
        n_steps : int >= 0
        warmup : array_like (T0, D) or (T0, B, D), T0 >= 1
            The last known inputs, from the reservoirs' current states.
        readout : str, optional
            The readout whose output is fed back (its O outputs must be the
            D inputs); the graph's only readout if None.

        Returns
        -------
        ndarray (n_steps, D) or (n_steps, B, D) (without the last axis for a
        readout fitted on one target per step)
        """
        n_steps = check_int(n_steps, "n_steps", minimum=0)
        if readout is None:
            if len(self.readouts) != 1:
                raise ValueError(f"readout must name the readout to feed back, one of "
                                 f"{list(self.readouts)}")
            readout = next(iter(self.readouts))
        elif readout not in self.readouts:
            raise ValueError(f"readout {readout!r} is not a readout of this graph "
                             f"({list(self.readouts)})")
        u = self._input(warmup, "warmup")
        if u.shape[0] == 0:
            raise ValueError("warmup must have at least one time step")
        predictor = self.readouts[readout]
        # predicted over all of warmup, as run() would: the first output is
        # run(warmup)[-1] to the bit
        y = predictor.predict(self._features(self._propagate(u))[readout])[-1:]
        width = 1 if y.ndim == u.ndim - 1 else y.shape[-1]
        if width != u.shape[-1]:
            raise ValueError(f"readout {readout!r} gives {width} outputs, but the graph takes "
                             f"{u.shape[-1]} inputs: generate feeds the outputs back as inputs")
        outputs = np.empty((n_steps,) + y.shape[1:], dtype=y.dtype)
        for t in range(n_steps):
            outputs[t] = y[0]
            if t + 1 < n_steps:
                step = self._input(y.reshape(u[-1:].shape), "the fed-back output")
                y = predictor.predict(self._features(self._propagate(step))[readout])
        return outputs

    def __repr__(self) -> str:
        nodes = ", ".join(f"{n} <- {'+'.join(self.sources[n])}" for n in self.order)
        readouts = ", ".join(f"{n} <- {'+'.join(self.sources[n])}" for n in self.readouts)
        return f"{type(self).__name__}(nodes: {nodes}; readouts: {readouts})"

    # -- persistence (fastrnn.io) --
    # Each node and readout as a part, in declaration order, with its name
    # and sources; arrays under node<i>. and readout<i>. (user names need not
    # be valid array names).
    def _save_config(self):
        return {
            "nodes": [{"name": n, "sources": list(self.sources[n]),
                       "part": io_format.part_config(r)} for n, r in self.nodes.items()],
            "readouts": [{"name": n, "sources": list(self.sources[n]),
                          "part": io_format.part_config(r)} for n, r in self.readouts.items()],
        }

    def _save_arrays(self):
        arrays = {}
        for i, r in enumerate(self.nodes.values()):
            arrays.update(io_format.part_arrays(r, f"node{i}"))
        for i, r in enumerate(self.readouts.values()):
            arrays.update(io_format.part_arrays(r, f"readout{i}"))
        return arrays

    @staticmethod
    def _saved_parts(config, arrays):
        """The (nodes, readouts) declarations a saved graph holds."""
        parts = {}
        for kind, prefix in (("nodes", "node"), ("readouts", "readout")):
            entries = config.get(kind)
            if not isinstance(entries, list) or not entries:
                raise ValueError(f"config field {kind!r} must be a non-empty list")
            if kind == "nodes":
                # every reservoir stores at least W: more nodes than arrays is tampering
                io_format.expect_count(arrays, len(entries), "ReservoirGraph", kind)
            declared = {}
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ValueError(f"config field {kind!r}[{i}] must name its part")
                sources = entry.get("sources")
                if not isinstance(sources, list) or not all(isinstance(s, str)
                                                            for s in sources):
                    raise ValueError(f"config field {kind!r}[{i}] must list its sources by "
                                     "name")
                part = io_format.build_part(entry.get("part"), arrays, f"{prefix}{i}")
                declared[entry["name"]] = (part, sources)
            parts[kind] = declared
        return parts["nodes"], parts["readouts"]

    @classmethod
    def _from_saved(cls, config, arrays):
        nodes, readouts = cls._saved_parts(config, arrays)
        try:
            return cls(nodes, readouts)
        except TypeError as exc:
            # a part of the wrong kind in a node or readout: a tampered file
            raise ValueError(f"the saved graph is refused: {exc}") from None


io_format.register("ReservoirGraph", ReservoirGraph)


class DeepESN(ReservoirGraph):
    """A deep echo state network: reservoirs in series, each layer driven by
    the states of the one below, and one readout reading the states of all
    layers (Gallicchio, Micheli & Pedrelli 2017, "Deep reservoir computing:
    a critical experimental analysis").

    Layer 1 is fed the input u_t, layer l > 1 the states of layer l - 1
    (with ``input_to_all``, also u_t: the variant with the input fed to every
    layer); the readout reads [x^(1)_t, ..., x^(L)_t] (and u_t with
    ``input_to_readout``). The nodes
    are named ``"layer1"`` .. ``"layerL"`` and the readout ``"output"``, so
    ``states(X)`` and the `ReservoirGraph` methods work as there.

    Parameters
    ----------
    layers : sequence of fastrnn.Reservoir
        Layer 1 first. Layer l > 1 takes the N_{l-1} units of the layer below
        as inputs (plus D with ``input_to_all``).
    readout : fastrnn.Ridge, RLS, LMS, or an estimator with fit and predict
        Default ``fastrnn.Ridge()``.
    input_to_readout : bool
        The readout also reads the input.
    input_to_all : bool
        Every layer, not only the first, is fed the input.

    See Also
    --------
    DeepESN.from_units : build the layers from their sizes.

    Examples
    --------
    One-step prediction of Mackey-Glass with three layers of 100 units:

    >>> import fastrnn
    >>> series = fastrnn.datasets.mackey_glass(2000, seed=0)
    >>> X, Y = series[:-1], series[1:]
    >>> model = fastrnn.DeepESN.from_units([100, 100, 100], ridge=1e-7, sr=0.9, lr=0.3,
    ...                                    seed=0)
    >>> prediction = model.fit(X[:1500], Y[:1500], warmup=100).run(X[1500:])
    >>> float(fastrnn.metrics.nrmse(Y[1500:], prediction)) < 0.05
    True

    and 84 steps of free run, each output fed back as the next input:

    >>> model.reset().generate(84, X[1400:1500]).shape
    (84, 1)
    """

    def __init__(self, layers: Sequence[Reservoir], readout: Any = None, *,
                 input_to_readout: bool = False, input_to_all: bool = False) -> None:
        if isinstance(layers, Reservoir) or not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError("layers must be a non-empty list of fastrnn.Reservoir")
        self.input_to_readout = check_bool(input_to_readout, "input_to_readout")
        self.input_to_all = check_bool(input_to_all, "input_to_all")
        names = [f"layer{i + 1}" for i in range(len(layers))]
        nodes = {}
        for i, (name, layer) in enumerate(zip(names, layers)):
            below = [INPUT] if i == 0 else [names[i - 1]] + ([INPUT] if input_to_all else [])
            nodes[name] = (layer, below)
        read = names + ([INPUT] if input_to_readout else [])
        super().__init__(nodes, {"output": (Ridge() if readout is None else readout, read)})

    @classmethod
    def from_units(cls, units: Sequence[int], *, ridge: float = 0.0,
                   input_to_readout: bool = False, input_to_all: bool = False,
                   seed: SeedLike = None, dtype: DTypeLike = np.float64,
                   **reservoir_kwargs: Any) -> DeepESN:
        """A deep ESN of ``len(units)`` layers with a `Ridge` readout.

        Parameters
        ----------
        units : sequence of int
            The size of each layer, the first first.
        ridge : float >= 0
            The readout's regularisation.
        seed : None, int or numpy.random.Generator
            One generator draws the layers in order.
        **reservoir_kwargs
            Passed to every `fastrnn.Reservoir` (``sr``, ``lr``,
            ``input_scaling``, ``rc_connectivity``, ...).
        """
        if not isinstance(units, (list, tuple)) or not units:
            raise TypeError("units must be a non-empty list of layer sizes")
        rng = check_random_state(seed)
        layers = [Reservoir(n, seed=rng, dtype=dtype, **reservoir_kwargs) for n in units]
        return cls(layers, Ridge(ridge, dtype=dtype), input_to_readout=input_to_readout,
                   input_to_all=input_to_all)

    @property
    def layers(self) -> list[Reservoir]:
        """The reservoirs, layer 1 first."""
        return [self.nodes[n] for n in self.order]

    @property
    def readout(self) -> Any:
        return self.readouts["output"]

    # -- persistence (fastrnn.io) --
    # The graph's parts (ReservoirGraph's config), rebuilt as a DeepESN: the
    # flags decide the edges, which must be those saved.
    def _save_config(self):
        config = super()._save_config()
        config.update(input_to_readout=self.input_to_readout, input_to_all=self.input_to_all)
        return config

    @classmethod
    def _from_saved(cls, config, arrays):
        nodes, readouts = cls._saved_parts(config, arrays)
        if len(readouts) != 1:
            raise ValueError("a DeepESN has one readout")
        model = cls([part for part, _ in nodes.values()], next(iter(readouts.values()))[0],
                    input_to_readout=io_format.config_bool(config, "input_to_readout", False),
                    input_to_all=io_format.config_bool(config, "input_to_all", False))
        saved = {n: tuple(s) if isinstance(s, list) else s
                 for n, (_, s) in {**nodes, **readouts}.items()}
        if saved != model.sources:
            raise ValueError("the saved DeepESN's edges are not those its flags describe")
        return model


io_format.register("DeepESN", DeepESN)
