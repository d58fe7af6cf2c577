"""Saving and loading models: one ``.npz`` file, never unpickled.

``fastrnn.save(obj, path)`` writes a model, ``fastrnn.load(path)`` rebuilds it.
Predictions of the loaded model equal those of the saved one to the bit: the
arrays are stored raw, in their own dtype, and nothing is recomputed.

File format (version 1)
-----------------------
An uncompressed zip archive in NumPy's ``.npz`` layout, so ``numpy.load``
can inspect it, with these members:

``header.npy``
    A 1-D uint8 array holding UTF-8 JSON::

        {"format": "fastrnn", "format_version": 1, "fastrnn_version": "0.1.0",
         "class": "RNN", "config": {...constructor hyperparameters...},
         "arrays": {name: entry, ...}}

    A dense entry is ``{"kind": "dense", "dtype": "<f4", "shape": [4, 3],
    "sha256": "..."}``. A sparse CSR matrix (``scipy.sparse.csr_array`` or
    ``csr_matrix``) is ``{"kind": "csr", "container": "csr_array",
    "shape": [n, m], "parts": {"data": dense entry, "indices": ..., "indptr":
    ...}}``.
``a/<name>.npy`` (dense) or ``a/<name>/data.npy``, ``a/<name>/indices.npy``,
``a/<name>/indptr.npy`` (CSR)
    The arrays, in C order.

Loading reads the header as a plain uint8 array and every member with
``allow_pickle=False``: no code from the file is ever run. It rejects, with a
``ValueError`` naming the file and the reason, a file that is truncated, that
fails a checksum (the zip's CRC-32 or the header's SHA-256 of each array), of
an unknown format version, of an unregistered class, whose arrays differ in
shape or dtype from the header, whose CSR structure is invalid (indices out
of range, indptr not monotone), whose configuration states a size the arrays
present do not back (``num_layers``, ``hidden_size``, ``units``, the number of
delays or periods...: checked before anything is allocated, so a tampered
header cannot make ``load`` build a huge model), or whose configuration the
class refuses.

Writing is atomic: the file is written to a temporary file in the target's
directory, flushed to disk (``fsync``), then renamed over the target
(``os.replace``), so a crash mid-save leaves either the old file or the new
one under the target name, never half of one.

Only the model is stored, not transient state: accumulated gradients and the
cache of the last ``forward`` (needed by ``backward``) are not saved; a
loaded layer starts with zero gradients.

What each class stores
----------------------
Each class says it in its own module, in the block headed
``# -- persistence (fastrnn.io) --`` at the end of its body. In short:
every layer (``RNN``, ``LSTM``, ``GRU``, ``ClockworkRNN``, ``DelayRNN``,
``LeakyRNN``, ``Linear``) stores its constructor hyperparameters and its
``params``; a ``LeakyRNN`` with fixed time constants also stores ``alpha``
(1/tau), which is not a parameter. A composite (``Sequential``, ``ESN``)
stores each part as that part would be saved alone: the part's class and
config nested in the config, its arrays under ``<part>.<name>``. Streaming
objects store what it takes to continue exactly where they stopped: a
``Reservoir`` its matrices (``W`` in CSR when sparse), ``lr`` per unit, the
measured spectral radii, its current ``state`` and its random generator
(noise, matrices still to draw); a ``Ridge`` its solution and its
accumulator (the Gram matrix or R factor and the centring shifts), so
``partial_fit`` resumes; an ``RLS`` its ``P`` and weights; an ``ESN`` also
the last output fed back.

Optimisers
----------
An optimiser refers to the arrays of the model it updates, so its file
holds only its hyperparameters, step counts, random generator and buffers
(momentum, Adam's moments). It is loaded against a model::

    fastrnn.save(model, "model.npz"); fastrnn.save(opt, "opt.npz")
    model = fastrnn.load("model.npz")
    opt = fastrnn.load("opt.npz", model=model)   # resumes training exactly

The model must have the parameters (in order, shapes and dtypes) of the one
the optimiser was saved with; ``model=`` is refused for any other class.
(Such classes are registered with ``needs_model=True``; their rebuild takes
the model as a third argument.)

Making a class saveable
-----------------------
Each class says itself what it saves and how it is rebuilt, beside its
code, with three methods::

    def _save_config(self) -> dict:
        # JSON-able constructor hyperparameters and state
        # (tuples come back as lists)
    def _save_arrays(self) -> dict:
        # name -> numpy.ndarray or scipy.sparse CSR matrix
    @classmethod
    def _from_saved(cls, config, arrays):
        # a new object from the two; ValueError for anything refused

and registers itself under a stable name (written to files; never change
it), usually on the line after the class::

    from fastrnn.io import register
    register("ESN", ESN)          # or @register("ESN") on the class

Array names may use letters, digits, ``_``, ``.`` and ``-``.
``_from_saved`` may trust that each array has exactly the shape and dtype
recorded when it was saved, but must check them against ``config`` (a file
may pair a valid array with a tampered configuration), and check every size
it reads from ``config`` before it sizes an allocation or a loop. The
helpers below do this: :func:`config_int`, :func:`config_bool`,
:func:`config_int_list` read a configuration; :func:`expect_shapes`,
:func:`expect_count` and :func:`expect_array` compare arrays with it before
anything is built; :func:`assign_params` copies a checked ``params`` dict
in. A composite stores each part as the part would be saved alone, the
part's class and config nested in its config (:func:`part_config`), the
part's arrays under ``<part>.<name>`` (:func:`part_arrays`), and rebuilds it
with :func:`build_part`.

Three functions may be registered instead of the methods, for a class one
cannot edit::

    register("MyModel", MyModel, get_config=..., get_arrays=..., build=...)

and a layer whose whole state is its ``params`` dict and whose constructor
arguments are also attributes needs one line, :func:`register_params_class`.

This module imports no model module: model modules import it, and register
their classes when they are imported (``import fastrnn`` imports them all).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import zipfile
from typing import Any, Callable, Mapping, MutableMapping, Optional, Sequence, Union, overload

import numpy as np

from fastrnn.io.atomic import atomic_write
from fastrnn._core.validation import check_csr_parts
from fastrnn._version import __version__

__all__ = ["save", "load", "register", "registered_classes", "FORMAT_VERSION",
           # for the classes' _save_config / _save_arrays / _from_saved
           "assign_params", "expect_shapes", "expect_count", "expect_array", "config_int",
           "config_bool", "config_int_list", "config_count", "rng_state", "rng_from_state",
           "part_config", "part_arrays", "build_part", "attributes_config", "build_with_params",
           "register_params_class"]

FORMAT_NAME = "fastrnn"
FORMAT_VERSION = 1

_HEADER_MEMBER = "header.npy"
_ARRAY_PREFIX = "a/"
_MAX_HEADER_BYTES = 16 * 1024 * 1024
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_CSR_PARTS = ("data", "indices", "indptr")
# Kinds of array a file may hold: booleans, integers and reals. Object arrays
# (which would need pickle) and anything else are refused on write and read.
_ARRAY_KINDS = "biuf"


class _Entry:
    __slots__ = ("name", "cls", "get_config", "get_arrays", "build", "needs_model")

    def __init__(self, name, cls, get_config, get_arrays, build, needs_model):
        self.name, self.cls = name, cls
        self.get_config, self.get_arrays, self.build = get_config, get_arrays, build
        self.needs_model = needs_model


_BY_NAME = {}
_BY_CLASS = {}


@overload
def register(name: str, cls: None = None, *,
             get_config: Optional[Callable[[Any], dict[str, Any]]] = None,
             get_arrays: Optional[Callable[[Any], Mapping[str, Any]]] = None,
             build: Optional[Callable[..., Any]] = None,
             needs_model: bool = False) -> Callable[[type], type]: ...
@overload
def register(name: str, cls: type, *,
             get_config: Optional[Callable[[Any], dict[str, Any]]] = None,
             get_arrays: Optional[Callable[[Any], Mapping[str, Any]]] = None,
             build: Optional[Callable[..., Any]] = None,
             needs_model: bool = False) -> type: ...
def register(name: str, cls: Optional[type] = None, *,
             get_config: Optional[Callable[[Any], dict[str, Any]]] = None,
             get_arrays: Optional[Callable[[Any], Mapping[str, Any]]] = None,
             build: Optional[Callable[..., Any]] = None,
             needs_model: bool = False) -> Union[type, Callable[[type], type]]:
    """Make a class saveable under ``name``.

    Called with ``cls``, it registers it; called with only ``name``, it
    returns a class decorator that does. The class's methods
    ``_save_config``, ``_save_arrays`` and ``_from_saved`` are used, unless
    functions are given in their place.

    Parameters
    ----------
    name : str
        Stable name written into files (not the Python path: modules may move).
    cls : type
        The class; ``save`` looks up ``type(obj)`` exactly, so a subclass
        must register itself (it would otherwise load as its parent).
    get_config, get_arrays, build : callable, optional
        ``get_config(obj) -> dict``, ``get_arrays(obj) -> dict`` and
        ``build(config, arrays) -> obj``, in place of the three methods.
    needs_model : bool
        The object refers to a model's arrays (an optimiser): it is loaded
        with ``load(path, model=...)`` and built with
        ``build(config, arrays, model)``.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name must be a non-empty string of letters, digits, _ . -, got {name!r}")

    def add(klass):
        if not isinstance(klass, type):
            raise TypeError(f"cls must be a class, got {type(klass).__name__}")
        gc = get_config if get_config is not None else (lambda obj: obj._save_config())
        ga = get_arrays if get_arrays is not None else (lambda obj: obj._save_arrays())
        bd = build if build is not None else getattr(klass, "_from_saved", None)
        for fn, what in ((gc, "get_config"), (ga, "get_arrays"), (bd, "build")):
            if not callable(fn):
                raise TypeError(f"{what} must be callable")
        old = _BY_NAME.get(name)
        if old is not None and old.cls is not klass:
            raise ValueError(f"name {name!r} is already registered for {old.cls.__qualname__}")
        entry = _Entry(name, klass, gc, ga, bd, bool(needs_model))
        _BY_NAME[name] = entry
        _BY_CLASS[klass] = entry
        return klass

    if cls is None:
        return add
    add(cls)
    return cls


def registered_classes() -> dict[str, type]:
    """The registry as a dict: stable name -> class."""
    return {name: e.cls for name, e in _BY_NAME.items()}


# ----------------------------------------------------------------- writing
def _check_name(name, owner):
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"array names of {owner} must be strings of letters, digits, _ . -, got {name!r}"
        )


def _dense_for_file(arr, what):
    arr = np.asarray(arr)
    if arr.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"{what}: cannot save arrays of dtype {arr.dtype} (only bool, int, float)")
    return np.require(arr, requirements="C")   # keeps 0-d arrays 0-d


def _dense_entry(arr):
    return {
        "kind": "dense",
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "sha256": hashlib.sha256(arr).hexdigest(),
    }


def _is_csr(value):
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a dependency
        return False
    return sp.issparse(value) and value.format == "csr"


def _collect_arrays(obj_name, arrays):
    """Header entries and {member: ndarray} for a dict of arrays."""
    if not isinstance(arrays, dict):
        raise TypeError(f"get_arrays of {obj_name} must return a dict, got {type(arrays).__name__}")
    entries, members = {}, {}
    for name, value in arrays.items():
        _check_name(name, obj_name)
        if _is_csr(value):
            parts = {}
            for part in _CSR_PARTS:
                arr = _dense_for_file(getattr(value, part), f"{name}.{part}")
                parts[part] = _dense_entry(arr)
                members[f"{_ARRAY_PREFIX}{name}/{part}.npy"] = arr
            entries[name] = {
                "kind": "csr",
                "container": "csr_matrix" if type(value).__name__ == "csr_matrix" else "csr_array",
                "shape": [int(n) for n in value.shape],
                "parts": parts,
            }
        elif hasattr(value, "format") and type(value).__module__.startswith("scipy.sparse"):
            raise TypeError(
                f"{name}: sparse matrices are saved in CSR format only, got {value.format!r} "
                "(convert with .tocsr())"
            )
        else:
            arr = _dense_for_file(value, name)
            entries[name] = _dense_entry(arr)
            members[f"{_ARRAY_PREFIX}{name}.npy"] = arr
    return entries, members


def save(obj: Any, path: Union[str, os.PathLike]) -> None:
    """Write ``obj`` to ``path`` (atomically; the file is replaced if it exists).

    Parameters
    ----------
    obj : a registered model object (see ``registered_classes()``)
    path : str or os.PathLike
        The file name, used as given (no ``.npz`` is appended).
    """
    entry = _BY_CLASS.get(type(obj))
    if entry is None:
        known = ", ".join(sorted(_BY_NAME)) or "none"
        raise TypeError(f"obj: cannot save a {type(obj).__qualname__}; saveable classes: {known}")
    path = os.fspath(path)
    config = entry.get_config(obj)
    if not isinstance(config, dict):
        raise TypeError(f"get_config of {entry.name} must return a dict")
    entries, members = _collect_arrays(entry.name, entry.get_arrays(obj))
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "fastrnn_version": __version__,
        "class": entry.name,
        "config": config,
        "arrays": entries,
    }
    try:
        text = json.dumps(header, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the configuration of {entry.name} is not JSON-serialisable: {exc}") from exc
    header_arr = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    def write(fh):
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            _write_member(zf, _HEADER_MEMBER, header_arr)
            for member, arr in members.items():
                _write_member(zf, member, arr)

    atomic_write(path, write)


def _write_member(zf, member, arr):
    with zf.open(member, "w", force_zip64=True) as f:
        np.lib.format.write_array(f, arr, allow_pickle=False)


# ----------------------------------------------------------------- reading
class _Corrupt(Exception):
    """A reason why a file is not a valid model file (turned into ValueError)."""


def _read_member(zf, member, file_size, expected=None):
    """Read one .npy member without pickle, checking it against ``expected``."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise _Corrupt(f"member {member!r} is missing") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise _Corrupt(f"member {member!r} is compressed; fastrnn writes stored members")
    if info.file_size != info.compress_size or info.file_size > file_size:
        raise _Corrupt(f"member {member!r} claims {info.file_size} bytes, more than the file holds")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise _Corrupt(f"member {member!r} has .npy version {version}")
        if dtype.kind not in _ARRAY_KINDS or dtype.hasobject:
            raise _Corrupt(f"member {member!r} holds dtype {dtype}, not bool/int/float")
        if fortran:
            raise _Corrupt(f"member {member!r} is in Fortran order; fastrnn writes C order")
        if expected is not None:
            if dtype.str != expected["dtype"] or list(shape) != expected["shape"]:
                raise _Corrupt(
                    f"array {member!r} is {dtype.str} of shape {tuple(shape)} but the header "
                    f"says {expected['dtype']} of shape {tuple(expected['shape'])}"
                )
        # Python ints: an int64 product of a crafted shape could wrap round
        # to a small number and pass this check.
        nbytes = math.prod(int(n) for n in shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise _Corrupt(f"member {member!r} is shorter than its shape {tuple(shape)} requires")
    with zf.open(info) as f:
        arr = np.lib.format.read_array(f, allow_pickle=False)
        if f.read(1):
            raise _Corrupt(f"member {member!r} has trailing bytes after its array")
    if expected is not None:
        digest = hashlib.sha256(arr).hexdigest()
        if digest != expected.get("sha256"):
            raise _Corrupt(f"array {member!r} fails its SHA-256 checksum")
    return arr


def _check_dense_entry(name, e):
    if not isinstance(e, dict) or not isinstance(e.get("dtype"), str) \
            or not isinstance(e.get("shape"), list) \
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                       for n in e["shape"]) \
            or not isinstance(e.get("sha256"), str):
        raise _Corrupt(f"the header's entry for array {name!r} is malformed")


def _check_csr(name, shape, data, indices, indptr):
    check_csr_parts(f"sparse array {name!r}", shape, data, indices, indptr, error=_Corrupt)


def _read_arrays(zf, entries, file_size):
    if not isinstance(entries, dict):
        raise _Corrupt("the header's 'arrays' is not a mapping")
    arrays, seen = {}, {_HEADER_MEMBER}
    for name, e in entries.items():
        if not _NAME_RE.match(name):
            raise _Corrupt(f"array name {name!r} in the header is not allowed")
        kind = e.get("kind") if isinstance(e, dict) else None
        if kind == "dense":
            _check_dense_entry(name, e)
            member = f"{_ARRAY_PREFIX}{name}.npy"
            arrays[name] = _read_member(zf, member, file_size, e)
            seen.add(member)
        elif kind == "csr":
            parts, shape = e.get("parts"), e.get("shape")
            if not isinstance(parts, dict) or set(parts) != set(_CSR_PARTS) \
                    or not isinstance(shape, list) \
                    or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                               for n in shape) \
                    or e.get("container") not in ("csr_array", "csr_matrix"):
                raise _Corrupt(f"the header's entry for sparse array {name!r} is malformed")
            got = {}
            for part in _CSR_PARTS:
                _check_dense_entry(f"{name}.{part}", parts[part])
                member = f"{_ARRAY_PREFIX}{name}/{part}.npy"
                got[part] = _read_member(zf, member, file_size, parts[part])
                seen.add(member)
            _check_csr(name, shape, got["data"], got["indices"], got["indptr"])
            import scipy.sparse as sp
            make = sp.csr_matrix if e["container"] == "csr_matrix" else sp.csr_array
            arrays[name] = make((got["data"], got["indices"], got["indptr"]),
                                shape=tuple(shape), copy=False)
        else:
            raise _Corrupt(f"array {name!r} has unknown kind {kind!r}")
    extra = sorted(set(zf.namelist()) - seen)
    if extra:
        raise _Corrupt(f"members not described by the header: {extra[:5]}")
    return arrays


def _read_header(zf, file_size):
    arr = _read_member(zf, _HEADER_MEMBER, file_size)
    if arr.dtype != np.uint8 or arr.ndim != 1 or arr.size > _MAX_HEADER_BYTES:
        raise _Corrupt("the header is not a 1-D uint8 array of JSON text")
    header = json.loads(arr.tobytes().decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise _Corrupt("the header does not describe a fastrnn model")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _Corrupt(f"the format version {version!r} is not an integer")
    if version != FORMAT_VERSION:
        newer = " (written by a newer fastrnn; upgrade to read it)" if version > FORMAT_VERSION else ""
        raise _Corrupt(f"unknown format version {version}; this fastrnn reads version "
                       f"{FORMAT_VERSION}{newer}")
    if not isinstance(header.get("class"), str) or not isinstance(header.get("config"), dict):
        raise _Corrupt("the header lacks a class name or a config mapping")
    return header


def load(path: Union[str, os.PathLike], *, model: Any = None) -> Any:
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
    model : model, optional
        Only for an optimiser's file: the model (or list of models) it
        optimises, whose parameters it is rebuilt against.

    Returns
    -------
    The model, of the class recorded in the file.

    Raises
    ------
    FileNotFoundError, PermissionError
        The file cannot be opened.
    ValueError
        The file is not a valid fastrnn model file; the message names the
        file and the reason.
    """
    path = os.fspath(path)
    fh = open(path, "rb")   # OSError (missing, unreadable) passes through as is
    with fh:
        file_size = os.fstat(fh.fileno()).st_size
        try:
            with zipfile.ZipFile(fh) as zf:
                header = _read_header(zf, file_size)
                entry = _BY_NAME.get(header["class"])
                if entry is None:
                    known = ", ".join(sorted(_BY_NAME)) or "none"
                    raise _Corrupt(f"unknown class {header['class']!r} (known: {known})")
                arrays = _read_arrays(zf, header["arrays"], file_size)
        except _Corrupt as exc:
            raise ValueError(f"{path}: {exc}") from None
        except Exception as exc:
            # Any failure to parse means the bytes are not what save wrote:
            # zipfile's "Bad CRC-32", a truncated central directory, a broken
            # .npy header, invalid UTF-8 or JSON...
            raise ValueError(
                f"{path}: not a valid fastrnn model file (truncated or corrupted?): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    if entry.needs_model != (model is not None):
        if model is None:
            raise TypeError(f"model: {path} holds a {entry.name} optimiser; pass the model it "
                            "optimises, load(path, model=...)")
        raise TypeError(f"model: {path} holds a {entry.name}, which takes no model")
    try:
        if model is not None:
            return entry.build(dict(header["config"]), arrays, model)
        return entry.build(dict(header["config"]), arrays)
    except (TypeError, ValueError, LookupError, ArithmeticError, AttributeError,
            RecursionError) as exc:
        # A configuration the checks above let through may still trip a
        # constructor (a huge integer overflowing a C type, a nesting too
        # deep): the honest answer is still "this file is not a valid model".
        raise ValueError(
            f"{path}: the stored configuration or arrays do not make a valid "
            f"{entry.name}: {exc}"
        ) from exc


# ------------------------------------------------------- adapter helpers
def assign_params(params: MutableMapping[str, np.ndarray], arrays: Mapping[str, Any],
                  owner: str = "model") -> None:
    """Copy ``arrays`` into the dict ``params`` after checking it exactly.

    Keys must be the same, and each array must have the shape and dtype of
    the parameter it replaces (no cast: a round trip is bit-exact or fails).
    """
    _expect_names(arrays, params, f"the {owner}'s parameters")
    for name, p in params.items():
        expect_array(arrays, name, p.shape, p.dtype, owner)
    for name, p in params.items():
        p[...] = arrays[name]


def _expect_names(arrays, wanted, what):
    missing = sorted(set(wanted) - set(arrays))
    unexpected = sorted(set(arrays) - set(wanted))
    if missing or unexpected:
        raise ValueError(f"arrays do not match {what}: "
                         f"missing {missing[:5]}, unexpected {unexpected[:5]}")


def expect_shapes(arrays: Mapping[str, Any], shapes: Mapping[str, Sequence[Any]],
                  owner: str = "model", *, exact: bool = False) -> None:
    """Check array shapes implied by a configuration BEFORE building from it.

    A tampered configuration (say hidden_size = 10**6 with small arrays)
    would otherwise make the constructor allocate a huge model first.
    Entries whose expected shape holds a non-integer are skipped: the
    constructor refuses such configurations itself. With ``exact``, the
    names must also be exactly those of ``shapes``.
    """
    if exact:
        _expect_names(arrays, shapes, f"the {owner}'s configuration")
    for name, shape in shapes.items():
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
            continue
        a = arrays.get(name)
        got = getattr(a, "shape", None)
        if got != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)} for this {owner}'s "
                             f"configuration, got {got}")


def config_int(config: Mapping[str, Any], key: str, default: Optional[int] = None, *,
               minimum: int = 1, maximum: int = 2**62) -> int:
    """``config[key]`` (or ``default`` when absent) checked to be an integer
    in [minimum, maximum]; a ValueError naming the field otherwise.

    For the sizes a header states, checked before they size an allocation
    or a loop (the default maximum keeps them within C's 64-bit integers).
    """
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) \
            or not minimum <= value <= maximum:
        raise ValueError(f"config field {key!r} must be an integer in [{minimum}, {maximum}], "
                         f"got {value!r}")
    return value


def config_bool(config: Mapping[str, Any], key: str, default: bool) -> bool:
    """``config[key]`` (or ``default``) checked to be True or False."""
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"config field {key!r} must be true or false, got {value!r}")
    return value


def config_int_list(config: Mapping[str, Any], key: str, default: Optional[Sequence[int]],
                    n_max: int) -> list[int]:
    """``config[key]``: a list of at most ``n_max`` integers >= 1 (a header's
    periods or delays), each checked as :func:`config_int` does."""
    value = config.get(key, default)
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= n_max:
        raise ValueError(f"config field {key!r} must be a list of 1 to {n_max} integers, "
                         f"got {type(value).__name__} of length "
                         f"{len(value) if isinstance(value, (list, tuple)) else '-'}")
    return [config_int({key: v}, key) for v in value]


def expect_count(arrays: Mapping[str, Any], count: int, owner: str, what: str) -> None:
    """Refuse a configuration that implies more arrays (``count``) than the
    file holds, before any loop over that count.

    A header claiming 10**8 layers is refused by this one comparison instead
    of by building 10**8 names. (Fewer implied arrays than present is left to
    the exact name check of :func:`expect_shapes`, whose message lists the
    unexpected ones.)
    """
    if count > len(arrays):
        raise ValueError(f"config field {what} implies {count} arrays in a {owner}, the "
                         f"file holds {len(arrays)}")


def expect_array(arrays: Mapping[str, Any], name: str, shape: Sequence[int],
                 dtype: Any, owner: str) -> np.ndarray:
    """``arrays[name]``, checked to be a dense array of exactly ``shape``
    and ``dtype`` (for a state array the configuration sizes)."""
    a = arrays.get(name)
    if not isinstance(a, np.ndarray) or a.shape != tuple(shape) or a.dtype != dtype:
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"{name} must be {np.dtype(dtype)} of shape {tuple(shape)} for this "
                         f"{owner}, got {got}")
    return a


def config_count(config: Mapping[str, Any], key: str) -> int:
    """``config[key]``: a count (of steps, of samples) checked to be an
    integer >= 0."""
    return config_int(config, key, minimum=0)


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A Generator's bit-generator state, JSON-able (Python ints are exact)."""
    return rng.bit_generator.state


def rng_from_state(state: Any) -> np.random.Generator:
    """The Generator whose state :func:`rng_state` returned; the state is
    checked to name one of NumPy's bit generators."""
    if not isinstance(state, dict) or state.get("bit_generator") not in ("PCG64", "PCG64DXSM",
                                                                         "Philox", "SFC64",
                                                                         "MT19937"):
        raise ValueError("the random generator state is malformed")
    bitgen = getattr(np.random, state["bit_generator"])()
    bitgen.state = state
    return np.random.Generator(bitgen)


def part_config(part: Any) -> dict[str, Any]:
    """A part of a composite model (an ESN's reservoir, a Sequential's output
    layer), for the composite's config: the part's class name and config."""
    entry = _BY_CLASS.get(type(part))
    if entry is None:
        raise TypeError(f"cannot save a part of type {type(part).__qualname__}")
    return {"class": entry.name, "config": entry.get_config(part)}


def part_arrays(part: Any, prefix: str) -> dict[str, Any]:
    """The arrays of a part of a composite model, named ``<prefix>.<name>``."""
    entry = _BY_CLASS.get(type(part))
    if entry is None:
        raise TypeError(f"cannot save a part of type {type(part).__qualname__}")
    return {f"{prefix}.{k}": v for k, v in entry.get_arrays(part).items()}


def build_part(spec: Any, arrays: Mapping[str, Any], prefix: str) -> Any:
    """The part saved by :func:`part_config` (``spec``) and
    :func:`part_arrays` under ``prefix``, rebuilt by its own class; a spec
    naming no registered class (or an optimiser) is refused."""
    entry = _BY_NAME.get(spec.get("class")) if isinstance(spec, dict) else None
    if entry is None or entry.needs_model or not isinstance(spec.get("config"), dict):
        raise ValueError(f"the part {prefix!r} is not described by a known class and config")
    start = prefix + "."
    own = {k[len(start):]: v for k, v in arrays.items() if k.startswith(start)}
    return entry.build(dict(spec["config"]), own)


def attributes_config(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    """The attributes ``names`` of ``obj`` as a config (a ``numpy.dtype`` by
    name): for classes whose constructor arguments are attributes."""
    config = {}
    for key in names:
        value = getattr(obj, key)
        config[key] = value.name if isinstance(value, np.dtype) else value
    return config


def build_with_params(cls: type, config: dict[str, Any], arrays: Mapping[str, Any],
                      shapes: Optional[Mapping[str, Sequence[Any]]] = None,
                      owner: Optional[str] = None) -> Any:
    """``cls(**config)`` with its ``params`` copied from ``arrays``, after
    checking that the names and shapes of ``arrays`` are exactly ``shapes``
    (every array the configuration implies, computed with the checked
    readers above), so that nothing is allocated for a tampered size."""
    owner = owner or cls.__name__
    if shapes is not None:
        expect_shapes(arrays, shapes, owner, exact=True)
    obj = cls(**config)
    assign_params(obj.params, arrays, owner)
    return obj


def register_params_class(
        name: str, cls: type, config_names: Sequence[str],
        expected_shapes: Optional[Callable[[dict[str, Any]], Mapping[str, Sequence[Any]]]] = None,
        *, expected_arrays: Optional[Callable[[dict[str, Any], Mapping[str, Any]],
                                              Mapping[str, Sequence[Any]]]] = None) -> type:
    """Register a layer whose state is its ``params`` dict, in one call.

    The configuration is the constructor arguments named in
    ``config_names``, read back from attributes of the same names (a
    ``numpy.dtype`` is stored by name); the arrays are ``obj.params``;
    loading calls ``cls(**config)`` and copies the arrays in with
    :func:`assign_params`. (fastrnn's own layers do the same with methods
    of ``fastrnn.layers.base.ParameterOwner``.)

    Parameters
    ----------
    expected_shapes : callable, optional
        ``expected_shapes(config) -> {name: shape}``: the shapes the
        configuration implies, checked (by :func:`expect_shapes`) before the
        constructor allocates anything.
    expected_arrays : callable, optional
        ``expected_arrays(config, arrays) -> {name: shape}``: stricter, every
        array the configuration implies, names included. It must itself check
        the sizes it reads from ``config`` (:func:`config_int`) and compare
        any count (layers, delays) with ``len(arrays)`` before looping over
        it (:func:`expect_count`), so that no header size drives a loop or an
        allocation unchecked.
    """
    config_names = tuple(config_names)

    def build(config, arrays):
        if expected_shapes is not None:
            expect_shapes(arrays, expected_shapes(config), name)
        shapes = None if expected_arrays is None else expected_arrays(config, arrays)
        return build_with_params(cls, config, arrays, shapes, name)

    return register(name, cls, get_config=lambda obj: attributes_config(obj, config_names),
                    get_arrays=lambda obj: dict(obj.params), build=build)
