"""The one CPU count of fastrnn: how many CPUs this process may use."""
import os


def available_cpus():
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
