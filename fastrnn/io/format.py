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
Every layer (``RNN``, ``LSTM``, ``GRU``, ``ClockworkRNN``, ``DelayRNN``,
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
(Their ``build`` takes the model as a third argument; ``_NEEDS_MODEL``
lists them.)

Making a class saveable
-----------------------
Register it under a stable name (the name is written to files; never change
it) with three functions::

    get_config(obj) -> dict       # JSON-able constructor hyperparameters
                                  # (tuples come back as lists)
    get_arrays(obj) -> dict       # name -> numpy.ndarray or scipy.sparse CSR
    build(config, arrays) -> obj  # a new object from the two

Array names may use letters, digits, ``_``, ``.`` and ``-``. ``build`` may
trust that each array has exactly the shape and dtype recorded when it was
saved, but must check them against ``config`` (a file may pair a valid
array with a tampered configuration): :func:`assign_params` does this for
the common ``params`` dict. Either call :func:`register` once, e.g. at the
bottom of the class's module::

    from fastrnn.io.format import register, assign_params
    register("LSTM", LSTM, get_config=..., get_arrays=..., build=...)

or decorate a class that defines the three as methods ``_save_config(self)``,
``_save_arrays(self)`` and the classmethod ``_from_saved(cls, config,
arrays)``::

    @register("ESN")
    class ESN:
        ...

A layer whose whole state is its ``params`` dict and whose constructor
arguments are also attributes (RNN, Linear, and the LSTM/GRU) needs one line::

    register_params_class("LSTM", LSTM, ("input_size", "hidden_size", "bias",
                          "batch_first", "dtype"))

This module imports no model module at import time, so model modules may
import it freely; the adapters of fastrnn's own classes are at the end of
this file and are installed on first use (``_install_builtins``).
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

__all__ = ["save", "load", "register", "registered_classes", "assign_params",
           "expect_shapes", "register_params_class", "FORMAT_VERSION"]

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
    __slots__ = ("name", "cls", "get_config", "get_arrays", "build")

    def __init__(self, name, cls, get_config, get_arrays, build):
        self.name, self.cls = name, cls
        self.get_config, self.get_arrays, self.build = get_config, get_arrays, build


_BY_NAME = {}
_BY_CLASS = {}
_builtins_installed = False


@overload
def register(name: str, cls: None = None, *,
             get_config: Optional[Callable[[Any], dict[str, Any]]] = None,
             get_arrays: Optional[Callable[[Any], Mapping[str, Any]]] = None,
             build: Optional[Callable[..., Any]] = None) -> Callable[[type], type]: ...
@overload
def register(name: str, cls: type, *,
             get_config: Optional[Callable[[Any], dict[str, Any]]] = None,
             get_arrays: Optional[Callable[[Any], Mapping[str, Any]]] = None,
             build: Optional[Callable[..., Any]] = None) -> type: ...
def register(name: str, cls: Optional[type] = None, *,
             get_config: Optional[Callable[[Any], dict[str, Any]]] = None,
             get_arrays: Optional[Callable[[Any], Mapping[str, Any]]] = None,
             build: Optional[Callable[..., Any]] = None) -> Union[type, Callable[[type], type]]:
    """Make a class saveable under ``name``.

    Called with ``cls`` and the three functions, it registers them. Called
    with only ``name``, it returns a class decorator that uses the class's
    methods ``_save_config``, ``_save_arrays`` and ``_from_saved``.

    Parameters
    ----------
    name : str
        Stable name written into files (not the Python path: modules may move).
    cls : type
        The class; ``save`` looks up ``type(obj)`` exactly, so a subclass
        must register itself (it would otherwise load as its parent).
    get_config, get_arrays, build : callable
        See the module docstring.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name must be a non-empty string of letters, digits, _ . -, got {name!r}")

    def add(klass):
        if not isinstance(klass, type):
            raise TypeError(f"cls must be a class, got {type(klass).__name__}")
        gc = get_config if get_config is not None else (lambda obj: obj._save_config())
        ga = get_arrays if get_arrays is not None else (lambda obj: obj._save_arrays())
        bd = build if build is not None else klass._from_saved
        for fn, what in ((gc, "get_config"), (ga, "get_arrays"), (bd, "build")):
            if not callable(fn):
                raise TypeError(f"{what} must be callable")
        old = _BY_NAME.get(name)
        if old is not None and old.cls is not klass:
            raise ValueError(f"name {name!r} is already registered for {old.cls.__qualname__}")
        entry = _Entry(name, klass, gc, ga, bd)
        _BY_NAME[name] = entry
        _BY_CLASS[klass] = entry
        return klass

    if cls is None:
        return add
    add(cls)
    return cls


def registered_classes() -> dict[str, type]:
    """The registry as a dict: stable name -> class."""
    _install_builtins()
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
    _install_builtins()
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
    _install_builtins()
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
    if (entry.name in _NEEDS_MODEL) != (model is not None):
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
    missing = sorted(set(params) - set(arrays))
    unexpected = sorted(set(arrays) - set(params))
    if missing or unexpected:
        raise ValueError(f"arrays do not match the {owner}'s parameters: "
                         f"missing {missing}, unexpected {unexpected}")
    for name, p in params.items():
        a = arrays[name]
        if not isinstance(a, np.ndarray) or a.shape != p.shape or a.dtype != p.dtype:
            got = (f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__)
            raise ValueError(f"{name} must be {p.dtype} of shape {p.shape} for this {owner}, "
                             f"got {got}")
    for name, p in params.items():
        p[...] = arrays[name]


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
        missing = sorted(set(shapes) - set(arrays))
        unexpected = sorted(set(arrays) - set(shapes))
        if missing or unexpected:
            raise ValueError(f"arrays do not match the {owner}'s configuration: "
                             f"missing {missing[:5]}, unexpected {unexpected[:5]}")
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


def _expect_count(arrays, count, owner, what):
    # Compared before any per-layer loop: a header claiming 10**8 layers is
    # refused by this one comparison instead of by building 10**8 names.
    # (Fewer implied arrays than present is left to the exact name check,
    # whose message lists the unexpected ones.)
    if count > len(arrays):
        raise ValueError(f"config field {what} implies {count} arrays in a {owner}, the "
                         f"file holds {len(arrays)}")


def register_params_class(
        name: str, cls: type, config_names: Sequence[str],
        expected_shapes: Optional[Callable[[dict[str, Any]], Mapping[str, Sequence[Any]]]] = None,
        *, expected_arrays: Optional[Callable[[dict[str, Any], Mapping[str, Any]],
                                              Mapping[str, Sequence[Any]]]] = None) -> type:
    """Register a layer whose state is its ``params`` dict, in one call.

    The common case (RNN, LSTM, GRU, Linear, ...): the
    configuration is the constructor arguments named in ``config_names``,
    read back from attributes of the same names (a ``numpy.dtype`` is stored
    by name); the arrays are ``obj.params``; loading calls
    ``cls(**config)`` and copies the arrays in with :func:`assign_params`.

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
        it, so that no header size drives a loop or an allocation unchecked.
    """
    config_names = tuple(config_names)

    def get_config(obj):
        config = {}
        for key in config_names:
            value = getattr(obj, key)
            config[key] = value.name if isinstance(value, np.dtype) else value
        return config

    def get_arrays(obj):
        return dict(obj.params)

    def build(config, arrays):
        if expected_shapes is not None:
            expect_shapes(arrays, expected_shapes(config), name)
        if expected_arrays is not None:
            expect_shapes(arrays, expected_arrays(config, arrays), name, exact=True)
        obj = cls(**config)
        assign_params(obj.params, arrays, name)
        return obj

    return register(name, cls, get_config=get_config, get_arrays=get_arrays, build=build)


def _install_builtins():
    global _builtins_installed
    if _builtins_installed:
        return
    _builtins_installed = True
    from fastrnn.layers.linear import Linear
    from fastrnn.layers.rnn import RNN

    from fastrnn.layers.clockwork import ClockworkRNN
    from fastrnn.layers.delays import DelayRNN
    from fastrnn.reservoir.esn import ESN
    from fastrnn.layers.gru import GRU
    from fastrnn.layers.leaky import LeakyRNN
    from fastrnn.layers.lstm import LSTM
    from fastrnn.training.optim import SGD, Adam
    from fastrnn.reservoir.readout import RLS, Ridge
    from fastrnn.reservoir.reservoir import Reservoir
    from fastrnn.training.train import Sequential

    def stacked_shapes(gates, owner, extra=None):
        # Every array of a stacked layer (RNN, LSTM, GRU), from its config.
        def shapes(c, arrays):
            D, H = config_int(c, "input_size"), config_int(c, "hidden_size")
            L = config_int(c, "num_layers", 1)
            dirs = 2 if config_bool(c, "bidirectional", False) else 1
            bias = config_bool(c, "bias", True)
            n_extra = 0 if extra is None else len(extra(c, H))
            _expect_count(arrays, L * dirs * (2 + 2 * bias + n_extra), owner,
                          f"num_layers={L}")
            out = {}
            for layer in range(L):
                width = D if layer == 0 else dirs * H
                for sfx in ("", "_reverse")[:dirs]:
                    out[f"weight_ih_l{layer}{sfx}"] = (gates * H, width)
                    out[f"weight_hh_l{layer}{sfx}"] = (gates * H, H)
                    if bias:
                        out[f"bias_ih_l{layer}{sfx}"] = (gates * H,)
                        out[f"bias_hh_l{layer}{sfx}"] = (gates * H,)
                    for stem, shape in ({} if extra is None else extra(c, H)).items():
                        out[f"{stem}_l{layer}{sfx}"] = shape
            return out
        return shapes

    def peephole(c, H):
        return {"weight_peephole": (3, H)} if config_bool(c, "peepholes", False) else {}

    def clockwork_shapes(c, arrays):
        D, H = config_int(c, "input_size"), config_int(c, "hidden_size")
        config_int_list(c, "periods", None, H)
        return {"weight_ih_l0": (H, D), "weight_hh_l0": (H, H),
                "bias_ih_l0": (H,), "bias_hh_l0": (H,)}

    def delay_shapes(c, arrays):
        from fastrnn.layers.delays import delay_weight_name
        D, H = config_int(c, "input_size"), config_int(c, "hidden_size")
        L = config_int(c, "num_layers", 1)
        delays = config_int_list(c, "delays", None, len(arrays))
        _expect_count(arrays, L * (3 + len(delays)), "DelayRNN",
                      f"num_layers={L} with {len(delays)} delays")
        out = {}
        for layer in range(L):
            out[f"weight_ih_l{layer}"] = (H, D if layer == 0 else H)
            for d in delays:
                out[delay_weight_name(d, layer)] = (H, H)
            out[f"bias_ih_l{layer}"] = (H,)
            out[f"bias_hh_l{layer}"] = (H,)
        return out

    def linear_shapes(c, arrays):
        D, O = config_int(c, "in_features"), config_int(c, "out_features")
        out = {"weight": (O, D)}
        if config_bool(c, "bias", True):
            out["bias"] = (O,)
        return out

    stacked = ("input_size", "hidden_size", "num_layers", "bidirectional", "bias",
               "batch_first", "dtype")
    # Files of the first release lack num_layers and bidirectional: the
    # constructor's defaults (1, False) are what those files held.
    _register_missing("RNN", RNN, lambda: register_params_class(
        "RNN", RNN, stacked + ("nonlinearity",), expected_arrays=stacked_shapes(1, "RNN")))
    _register_missing("LSTM", LSTM, lambda: register_params_class(
        "LSTM", LSTM, stacked + ("forget_bias", "peepholes"),
        expected_arrays=stacked_shapes(4, "LSTM", peephole)))
    _register_missing("GRU", GRU, lambda: register_params_class(
        "GRU", GRU, stacked + ("reset_after",), expected_arrays=stacked_shapes(3, "GRU")))
    simple = ("input_size", "hidden_size", "nonlinearity", "batch_first", "dtype")
    _register_missing("ClockworkRNN", ClockworkRNN, lambda: register_params_class(
        "ClockworkRNN", ClockworkRNN, simple + ("periods",),
        expected_arrays=clockwork_shapes))
    _register_missing("DelayRNN", DelayRNN, lambda: register_params_class(
        "DelayRNN", DelayRNN, simple + ("delays", "num_layers"),
        expected_arrays=delay_shapes))
    _register_missing("Linear", Linear, lambda: register_params_class(
        "Linear", Linear, ("in_features", "out_features", "bias", "dtype"),
        expected_arrays=linear_shapes))
    for name, cls, get_config, get_arrays, build in _adapters(
            LeakyRNN, Sequential, Reservoir, Ridge, RLS, ESN, SGD, Adam):
        _register_missing(name, cls, lambda: register(
            name, cls, get_config=get_config, get_arrays=get_arrays, build=build))


def _register_missing(name, cls, do):
    if cls not in _BY_CLASS:
        do()


# ------------------------------------------ adapters of the other classes
def _nested_save(obj, prefix):
    """A part of a composite model: its class and config, its arrays prefixed."""
    entry = _BY_CLASS.get(type(obj))
    if entry is None:
        raise TypeError(f"cannot save a part of type {type(obj).__qualname__}")
    arrays = {f"{prefix}.{k}": v for k, v in entry.get_arrays(obj).items()}
    return {"class": entry.name, "config": entry.get_config(obj)}, arrays


def _nested_build(spec, arrays, prefix):
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict) \
            or spec.get("class") not in _BY_NAME or spec["class"] in _NEEDS_MODEL:
        raise ValueError(f"the part {prefix!r} is not described by a known class and config")
    start = prefix + "."
    own = {k[len(start):]: v for k, v in arrays.items() if k.startswith(start)}
    return _BY_NAME[spec["class"]].build(dict(spec["config"]), own)


def _dense(arrays, name, shape, dtype, owner):
    """arrays[name] checked to be a dense array of exactly ``shape`` and ``dtype``."""
    a = arrays.get(name)
    if not isinstance(a, np.ndarray) or a.shape != tuple(shape) or a.dtype != dtype:
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"{name} must be {np.dtype(dtype)} of shape {tuple(shape)} for this "
                         f"{owner}, got {got}")
    return a


def _rng_state(rng):
    """A Generator's bit-generator state, JSON-able (Python ints are exact)."""
    return rng.bit_generator.state


def _rng_from_state(state):
    if not isinstance(state, dict) or state.get("bit_generator") not in ("PCG64", "PCG64DXSM",
                                                                         "Philox", "SFC64",
                                                                         "MT19937"):
        raise ValueError("the random generator state is malformed")
    bitgen = getattr(np.random, state["bit_generator"])()
    bitgen.state = state
    return np.random.Generator(bitgen)


def _finite_or_none(x):
    return None if x is None or not np.isfinite(x) else float(x)


# Classes saved against a model given to ``load(path, model=...)``.
_NEEDS_MODEL = frozenset({"SGD", "Adam"})


def _adapters(LeakyRNN, Sequential, Reservoir, Ridge, RLS, ESN, SGD, Adam):
    """(name, class, get_config, get_arrays, build) of every class that is
    not a plain ``params`` layer."""

    # LeakyRNN: a fixed alpha (1/tau) is not a parameter, so it is an array.
    def layer_shapes_1(c):
        return {"weight_ih_l0": (c.get("hidden_size"), c.get("input_size"))}

    def leaky_config(m):
        return {"input_size": m.input_size, "hidden_size": m.hidden_size,
                "learn_tau": m.learn_tau, "batch_first": m.batch_first,
                "dtype": m.dtype.name}

    def leaky_arrays(m):
        arrays = dict(m.params)
        if not m.learn_tau:
            arrays["alpha"] = m._alpha
        return arrays

    def leaky_build(c, arrays):
        expect_shapes(arrays, layer_shapes_1(c), "LeakyRNN")
        m = LeakyRNN(**c)
        arrays = dict(arrays)
        if not m.learn_tau:
            m._alpha = _dense(arrays, "alpha", (m.hidden_size,), m.dtype, "LeakyRNN").copy()
            del arrays["alpha"]
        assign_params(m.params, arrays, "LeakyRNN")
        return m

    # Sequential: its parts, each saved as it would be on its own.
    def seq_config(m):
        config, _ = _nested_save(m.recurrent, "recurrent")
        out = None if m.output is None else _nested_save(m.output, "output")[0]
        return {"recurrent": config, "output": out}

    def seq_arrays(m):
        arrays = _nested_save(m.recurrent, "recurrent")[1]
        if m.output is not None:
            arrays.update(_nested_save(m.output, "output")[1])
        return arrays

    def seq_build(c, arrays):
        out = c.get("output")
        return Sequential(_nested_build(c.get("recurrent"), arrays, "recurrent"),
                          None if out is None else _nested_build(out, arrays, "output"))

    # Reservoir: matrices as stored, the measured radii, the running state
    # and the random generator (noise, matrices drawn later), so a stream
    # resumes exactly where it stopped.
    res_scalars = ("units", "sr", "rc_connectivity", "input_connectivity", "fb_connectivity",
                   "degree", "bias_scaling", "fb_scaling", "activation", "noise", "n_threads")

    def res_config(r):
        c = {k: getattr(r, k) for k in res_scalars}
        c.update(dtype=r.dtype.name, sr_measured_initial=r.sr_measured_initial,
                 sr_measured=r._sr_measured, rng=_rng_state(r._rng))
        if not isinstance(r.input_scaling, np.ndarray):
            c["input_scaling"] = r.input_scaling
        return c

    def res_arrays(r):
        arrays = {"W": r.W, "bias": r.bias, "lr": r.lr, "state": r.state}
        for name in ("Win", "Wfb"):
            if getattr(r, name) is not None:
                arrays[name] = getattr(r, name)
        if isinstance(r.input_scaling, np.ndarray):
            arrays["input_scaling"] = r.input_scaling
        return arrays

    def res_build(c, arrays):
        c = dict(c)
        N, dt = config_int(c, "units"), c.get("dtype")
        sr0, sr1, rng = c.pop("sr_measured_initial"), c.pop("sr_measured"), c.pop("rng")
        if "input_scaling" not in c:
            c["input_scaling"] = arrays.get("input_scaling")
        expect_shapes(arrays, {"W": (N, N), "bias": (N,), "lr": (N,)}, "Reservoir")
        for name in ("Win", "Wfb"):
            # Written dense: a sparse one here is crafted, and its stated
            # width (not backed by any array) would size the dense copy
            # the constructor makes.
            a = arrays.get(name)
            if a is not None and (not isinstance(a, np.ndarray) or a.ndim != 2
                                  or a.shape[0] != N):
                raise ValueError(f"{name} must be a dense array of shape ({N}, any), got "
                                 f"{type(a).__name__} of shape {getattr(a, 'shape', None)}")
        state = arrays.get("state")
        if not isinstance(state, np.ndarray) or state.ndim not in (1, 2) \
                or state.shape[-1] != N or state.dtype != np.dtype(dt):
            raise ValueError(f"state must be {dt} of shape ({N},) or (B, {N})")
        r = Reservoir(W=arrays["W"], Win=arrays.get("Win"), Wfb=arrays.get("Wfb"),
                      bias=arrays["bias"], lr=arrays["lr"], **c)
        for name in ("W", "bias", "lr"):
            a = arrays[name]
            if a.dtype != r.dtype:
                raise ValueError(f"{name} must be {r.dtype}, got {a.dtype}")
        r.sr_measured_initial = None if sr0 is None else float(sr0)
        r._sr_measured = None if sr1 is None else float(sr1)
        r.state = state.copy()
        r._rng = _rng_from_state(rng)
        return r

    # Ridge: the solution and, for partial_fit to resume, the accumulator.
    def ridge_config(m):
        c = {"ridge": m.ridge, "fit_bias": m.fit_bias, "solver": m.solver,
             "dtype": m.dtype.name, "chunk_size": m.chunk_size,
             "n_samples_seen": int(m.n_samples_seen_), "single": m._single,
             "mode": getattr(m, "_mode", None)}
        if hasattr(m, "coef_"):
            # The solver may leave coef_ in Fortran order; predict's matmul
            # rounds differently by layout, so the layout is restored too.
            coef = np.asarray(m.coef_)
            c["coef_fortran"] = bool(coef.ndim == 2 and not coef.flags.c_contiguous
                                     and coef.flags.f_contiguous)
        if hasattr(m, "solver_used_"):
            c["solver_used"] = m.solver_used_
            c["rcond"] = _finite_or_none(m.rcond_)
        return c

    def ridge_arrays(m):
        arrays = {}
        for name, attr in (("acc", "_acc"), ("shift_x", "_shift_x"), ("shift_y", "_shift_y"),
                           ("coef", "coef_"), ("intercept", "intercept_")):
            value = getattr(m, attr, None)
            if value is not None:
                arrays[name] = np.asarray(value)
        return arrays

    def ridge_build(c, arrays):
        c = dict(c)
        seen, single, mode = c.pop("n_samples_seen"), c.pop("single"), c.pop("mode")
        used, rcond = c.pop("solver_used", None), c.pop("rcond", None)
        fortran = bool(c.pop("coef_fortran", False))
        m = Ridge(**c)
        if "acc" in arrays:
            F, O = (getattr(arrays.get(k), "shape", (-1,))[:1] or (-1,) for k in
                    ("shift_x", "shift_y"))
            F, O = F[0], O[0]
            width = int(m.fit_bias) + F + O
            m._shift_x = _dense(arrays, "shift_x", (F,), m.dtype, "Ridge").copy()
            m._shift_y = _dense(arrays, "shift_y", (O,), m.dtype, "Ridge").copy()
            m._acc = _dense(arrays, "acc", (width, width), m.dtype, "Ridge").copy()
            if mode not in ("gram", "qr"):
                raise ValueError(f"mode must be 'gram' or 'qr', got {mode!r}")
            m._mode = mode
        m._single = None if single is None else bool(single)
        m.n_samples_seen_ = config_int({"n_samples_seen": seen}, "n_samples_seen", minimum=0)
        if "coef" in arrays:
            coef, intercept = arrays["coef"], arrays.get("intercept")
            if coef.dtype != m.dtype or coef.ndim not in (1, 2) or \
                    not isinstance(intercept, np.ndarray) or intercept.dtype != m.dtype \
                    or intercept.shape != coef.shape[1:]:
                raise ValueError("coef and intercept must be arrays of the readout's dtype, "
                                 "(F, O) and (O,) or (F,) and ()")
            m.coef_ = np.array(coef, order="F" if fortran else "C")
            m.intercept_ = intercept[()] if intercept.ndim == 0 else intercept.copy()
            m.solver_used_ = used
            m.rcond_ = float("nan") if rcond is None else float(rcond)
        return m

    # RLS: P and the weights; coef_ and intercept_ are views of the weights.
    def rls_config(m):
        return {"alpha": m.alpha, "forgetting": m.forgetting, "fit_bias": m.fit_bias,
                "dtype": m.dtype.name, "n_samples_seen": int(m.n_samples_seen_),
                "single": m._single}

    def rls_arrays(m):
        return {} if m._P is None else {"P": m._P, "W": m._W}

    def rls_build(c, arrays):
        c = dict(c)
        seen, single = c.pop("n_samples_seen"), c.pop("single")
        m = RLS(**c)
        if "P" in arrays:
            W = arrays.get("W")
            if not isinstance(W, np.ndarray) or W.ndim != 2:
                raise ValueError("W must be a 2-D array")
            F = W.shape[0]
            m._P = _dense(arrays, "P", (F, F), m.dtype, "RLS").copy()
            m._W = _dense(arrays, "W", W.shape, m.dtype, "RLS").copy()
            m._single = bool(single)
            m.n_samples_seen_ = config_int({"n_samples_seen": seen}, "n_samples_seen",
                                           minimum=0)
            m._publish()
        return m

    # ESN: reservoir and readout as parts, plus the last output fed back.
    def esn_config(m):
        return {"reservoir": _nested_save(m.reservoir, "reservoir")[0],
                "readout": _nested_save(m.readout, "readout")[0],
                "feedback": m.feedback, "input_to_readout": m.input_to_readout,
                "n_outputs": m._n_outputs, "single": m._single}

    def esn_arrays(m):
        arrays = _nested_save(m.reservoir, "reservoir")[1]
        arrays.update(_nested_save(m.readout, "readout")[1])
        if m._y_last is not None:
            arrays["y_last"] = m._y_last
        return arrays

    def esn_build(c, arrays):
        m = ESN(_nested_build(c.get("reservoir"), arrays, "reservoir"),
                _nested_build(c.get("readout"), arrays, "readout"),
                feedback=c.get("feedback", False),
                input_to_readout=c.get("input_to_readout", False))
        m._n_outputs = None if c.get("n_outputs") is None else config_int(c, "n_outputs")
        m._single = bool(c.get("single"))
        if "y_last" in arrays:
            y = arrays["y_last"]
            if y.dtype != m.dtype or y.ndim not in (1, 2):
                raise ValueError(f"y_last must be a 1-D or 2-D {m.dtype} array")
            m._y_last = y.copy()
        return m

    # Optimisers: hyperparameters, step counts, random generator and the
    # buffers, loaded against the model they optimise.
    def opt_config(names):
        def get(o):
            c = {k: getattr(o, k) for k in names + ("clip_norm", "clip_value")}
            c.update(steps=o.steps, random_steps=o.random_steps, rng=_rng_state(o._rng))
            return c
        return get

    def opt_arrays(o):
        return {f"buffer{i}": b for i, b in enumerate(o._buffers())}

    def opt_build(cls):
        def build(c, arrays, model):
            c = dict(c)
            steps, random_steps, rng = c.pop("steps"), c.pop("random_steps"), c.pop("rng")
            o = cls(model, **c)
            buffers = o._buffers()
            if len(arrays) != len(buffers):
                raise ValueError(f"the file holds {len(arrays)} buffers, the optimiser of "
                                 f"this model {len(buffers)}: not the model it was saved with")
            for i, b in enumerate(buffers):
                b[...] = _dense(arrays, f"buffer{i}", b.shape, b.dtype, cls.__name__)
            o.steps = check_count(steps, "steps")
            o.random_steps = check_count(random_steps, "random_steps")
            o._rng = _rng_from_state(rng)
            return o
        return build

    def check_count(n, name):
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {n!r}")
        return n

    return [
        ("LeakyRNN", LeakyRNN, leaky_config, leaky_arrays, leaky_build),
        ("Sequential", Sequential, seq_config, seq_arrays, seq_build),
        ("Reservoir", Reservoir, res_config, res_arrays, res_build),
        ("Ridge", Ridge, ridge_config, ridge_arrays, ridge_build),
        ("RLS", RLS, rls_config, rls_arrays, rls_build),
        ("ESN", ESN, esn_config, esn_arrays, esn_build),
        ("SGD", SGD, opt_config(("lr", "momentum", "nesterov", "weight_decay")),
         opt_arrays, opt_build(SGD)),
        ("Adam", Adam, opt_config(("lr", "betas", "eps", "weight_decay")),
         opt_arrays, opt_build(Adam)),
    ]
