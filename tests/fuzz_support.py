"""Support for tests/test_fuzz.py: memory layouts, and a worker process that
runs the calls into compiled code, so that a crash in C fails a test instead
of killing pytest.

The parent (pytest + Hypothesis) describes each case as plain data: contiguous
arrays plus the name of a memory layout. Layouts do not survive pickling (a
pickled Fortran or read-only array comes back C-contiguous and writeable), so
the worker rebuilds them from the description with ``make_layout``, the same
function the parent uses to know which values the call really saw.
"""
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile

import numpy as np

LAYOUTS = ("C", "F", "strided", "reversed", "readonly", "unaligned", "broadcast", "list",
           "ragged")


def make_layout(base, layout):
    """``base`` (C-contiguous) presented in the given memory layout.

    The values are those of ``base`` except for "broadcast", which repeats
    the first slice along axis 0 with a zero stride (as ``np.broadcast_to``).
    """
    base = np.asarray(base)
    if layout == "C":
        return base.copy()
    if layout == "F":
        return np.asfortranarray(base)
    if layout == "strided":
        if base.ndim == 0:
            return base.copy()
        buf = np.empty(base.shape[:-1] + (2 * base.shape[-1],), dtype=base.dtype)
        buf[..., ::2] = base
        return buf[..., ::2]
    if layout == "reversed":
        if base.ndim == 0:
            return base.copy()
        return np.flip(np.flip(base, axis=0).copy(), axis=0)
    if layout == "readonly":
        a = base.copy()
        a.flags.writeable = False
        return a
    if layout == "unaligned":
        if base.dtype.hasobject or base.dtype.itemsize == 1:
            return base.copy()
        raw = np.empty(base.nbytes + 1, dtype=np.uint8)
        a = raw[1:].view(base.dtype).reshape(base.shape)
        a[...] = base
        return a
    if layout == "broadcast":
        if base.ndim == 0 or base.shape[0] == 0:
            return base.copy()
        return np.broadcast_to(base[:1], base.shape)
    if layout == "list":
        return base.tolist()
    if layout == "ragged":
        # Nested lists with the first innermost row one element short: not an
        # array unless nothing else has that length (then it is a smaller one).
        lst = base.tolist()
        if base.ndim < 2 or base.size == 0:
            return lst
        row = lst
        while isinstance(row[0], list) and isinstance(row[0][0], list):
            row = row[0]
        row[0] = row[0][:-1]
        return lst
    raise ValueError(f"unknown layout {layout!r}")


def materialize(spec):
    """A call argument from its description: None, ("array", base, layout) or
    ("value", anything picklable)."""
    if spec is None:
        return None
    kind = spec[0]
    if kind == "array":
        return make_layout(spec[1], spec[2])
    if kind == "value":
        return spec[1]
    raise ValueError(f"unknown argument spec {kind!r}")


def values_seen(spec, dtype=None):
    """What the call sees, as a plain array (for the parent's reference)."""
    if spec is None or spec[0] != "array":
        return None
    a = np.array(make_layout(spec[1], spec[2]))
    with np.errstate(over="ignore", invalid="ignore"):   # huge values become Inf, as in the call
        return a if dtype is None else a.astype(dtype)


# ------------------------------------------------------------- in the worker
def _describe(exc):
    return (type(exc).__name__, str(exc))


def _run_rnn(case):
    import fastrnn
    out = {}
    model = getattr(fastrnn, case.get("cls", "RNN"))(**case["config"])
    out["params"] = {k: v.copy() for k, v in model.params.items()}
    try:
        y, h = model.forward(materialize(case["x"]), materialize(case["h0"]))
    except Exception as exc:  # report every failure; the parent judges it
        return {"stage": "forward", "error": _describe(exc), **out}
    out.update(y=y, h=h)
    if not case.get("backward"):
        return out
    try:
        kwargs = {}
        if case["clip_hidden"] is not None:
            kwargs["clip_hidden"] = materialize(case["clip_hidden"])
        dx, dh0 = model.backward(materialize(case["dy"]), materialize(case["dh_T"]), **kwargs)
    except Exception as exc:
        return {"stage": "backward", "error": _describe(exc), **out}
    out.update(dx=dx, dh0=dh0, grads={k: v.copy() for k, v in model.grads.items()})
    return out


def _run_clip(case):
    import fastrnn
    arrays = [materialize(s) for s in case["arrays"]]
    container = case["container"]
    if container == "dict":
        grads = {f"g{i}": a for i, a in enumerate(arrays)}
    elif container == "tuple":
        grads = tuple(arrays)
    elif container == "single":
        grads = arrays[0] if arrays else np.zeros(0)
    elif container == "raw":
        grads = materialize(case["raw"])
    else:
        grads = list(arrays)
    fn = getattr(fastrnn, case["function"])
    args = [grads] + [materialize(a) for a in case["args"]]
    try:
        result = fn(*args, **case.get("kwargs", {}))
    except Exception as exc:
        return {"error": _describe(exc)}
    # What the call may have changed in place: the arrays it was given (a
    # "single" argument that is a list is itself the container).
    if isinstance(grads, dict):
        after = list(grads.values())
    elif isinstance(grads, np.ndarray):
        after = [grads]
    elif container == "single" and isinstance(grads, (list, tuple)):
        after = list(grads)
    else:
        after = list(arrays)
    return {"result": result, "after": [np.array(a) for a in after]}


def _crash(case):
    """Dereference NULL: lets the tests check that the harness survives a segfault."""
    import ctypes
    return ctypes.string_at(0)


def _run_calls(case):
    """Build ``case["cls"]`` from ``case["config"]`` and make the calls in
    ``case["calls"]`` ((method, [argument specs]) in order); report the
    first failure with its stage, or the shapes and finiteness of each
    result. For classes whose oracle only judges errors and shapes."""
    import fastrnn
    obj = getattr(fastrnn, case["cls"])(**case["config"])
    results = []
    for stage, (method, specs) in enumerate(case["calls"]):
        try:
            out = getattr(obj, method)(*[materialize(sp) for sp in specs])
        except Exception as exc:
            return {"stage": stage, "error": _describe(exc), "results": results}
        flat = out if isinstance(out, tuple) else (out,)
        results.append([(np.shape(a), bool(np.all(np.isfinite(a))))
                        for a in flat if isinstance(a, np.ndarray)])
    return {"results": results}


_HANDLERS = {"rnn": _run_rnn, "clip": _run_clip, "calls": _run_calls, "crash": _crash}


def _read_exact(fd, n):
    chunks = []
    while n:
        b = os.read(fd, n)
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def serve():
    """Worker loop: read (kind, case) requests on stdin, answer on stdout."""
    import faulthandler
    faulthandler.enable()
    # Keep the protocol's pipe to ourselves: anything printed (by Python or
    # C) goes to stderr instead.
    proto_out = os.dup(1)
    os.dup2(2, 1)
    fd_in = sys.stdin.fileno()
    while True:
        try:
            (n,) = struct.unpack("<Q", _read_exact(fd_in, 8))
            kind, case = pickle.loads(_read_exact(fd_in, n))
        except EOFError:
            return
        # The case in progress, for the parent to print if we die.
        sys.stderr.write(f"fuzz case: {kind} {case!r:.4000}\n")
        sys.stderr.flush()
        reply = pickle.dumps(_HANDLERS[kind](case), protocol=pickle.HIGHEST_PROTOCOL)
        os.write(proto_out, struct.pack("<Q", len(reply)) + reply)


# -------------------------------------------------------------- in the parent
class WorkerCrashed(AssertionError):
    """The worker process died (segfault, abort) or hung on a case."""


class Worker:
    """One long-lived child Python process running cases, restarted after a crash."""

    def __init__(self, timeout=120.0):
        self.timeout = timeout
        self.proc = None
        self.cases = 0

    #: The code the worker process runs: a module that registers more
    #: handlers in _HANDLERS may import itself here before serve().
    boot = "import fuzz_support; fuzz_support.serve()"
    #: Folders the worker needs on sys.path besides tests/ (that of a test
    #: module which ``boot`` imports).
    extra_paths = ()

    def _start(self):
        from child_process import TESTS_DIR, child_env
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.boot],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            env=child_env(extra_paths=[TESTS_DIR, *self.extra_paths]),
            # Run from tests/: with -c, the working directory comes first on
            # sys.path, and from the repository root it would shadow the
            # installed fastrnn with the uncompiled source tree.
            cwd=TESTS_DIR,
        )

    def _stderr_tail(self, n=3000):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-n:]

    def call(self, kind, case):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.cases += 1
        payload = pickle.dumps((kind, case), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(struct.pack("<Q", len(payload)) + payload)
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
            if not ready:
                self.proc.kill()
                raise EOFError("timeout")
            (n,) = struct.unpack("<Q", _read_exact(self.proc.stdout.fileno(), 8))
            return pickle.loads(_read_exact(self.proc.stdout.fileno(), n))
        except (EOFError, BrokenPipeError, struct.error) as exc:
            rc = self.proc.wait()
            tail = self._stderr_tail()
            self.proc = None
            raise WorkerCrashed(
                f"the worker process died (exit code {rc}, {exc!r}) on a {kind} case; "
                f"its stderr ends with:\n{tail}"
            ) from None

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
