"""The one CPU count of fastrnn: how many CPUs this process may use, and
how many threads its own loops take."""
import os
from typing import Optional, SupportsIndex


def available_cpus() -> int:
    """The number of CPUs this process may run on, at least 1.

    Its affinity mask where the system has one (Linux: ``taskset``, a
    container's cpuset or a batch scheduler may allow fewer CPUs than the
    machine has), else `os.cpu_count`. Thread counts and "is the machine
    busy" tests compare against this, not against the machine's size.
    """
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):   # no affinity masks here (macOS, Windows)
        return os.cpu_count() or 1


_NUM_THREADS = {"value": None}


def _threads_from_environment() -> Optional[int]:
    """FASTRNN_NUM_THREADS as a positive int, or None when unset or invalid
    (an invalid value is ignored rather than refused: the variable may be
    set for a whole pipeline)."""
    text = os.environ.get("FASTRNN_NUM_THREADS", "").strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    return None


def get_num_threads() -> int:
    """The threads fastrnn's own loops (the recurrent layers' forward step
    loop) may use: the value of `set_num_threads`, else the environment
    variable ``FASTRNN_NUM_THREADS``, else `available_cpus`.

    Results do not depend on it: the loops split their work so that every
    output is computed in the same order whatever the thread count.
    """
    if _NUM_THREADS["value"] is not None:
        return _NUM_THREADS["value"]
    return _threads_from_environment() or available_cpus()


def set_num_threads(n: Optional[SupportsIndex]) -> None:
    """Set the threads of fastrnn's own loops (see `get_num_threads`);
    ``None`` returns to the default. Like ``torch.set_num_threads``, it is a
    process-wide setting; the BLAS's own threads are not changed.

    Parameters
    ----------
    n : int >= 1 or None
    """
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
            raise TypeError(f"n must be an int >= 1 or None, got {type(n).__name__}")
        n = int(n.__index__())
        if n < 1:
            raise ValueError(f"n must be an int >= 1 or None, got {n}")
    _NUM_THREADS["value"] = n
