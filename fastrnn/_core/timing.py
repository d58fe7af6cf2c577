"""The one timing rule of fastrnn's demo and of the scripts in bench/.

Each engine (a function to time: fastrnn, a peer, a NumPy loop) runs in a
block: a warm-up call (first-touch allocation, lazy set-up, caches and BLAS
threads left by whatever ran before), then ``repeat`` timed calls, whose
median is the block's time. The engines take their blocks in turn, for a few
rounds, so that a change in the machine's load falls on all of them alike,
and each keeps its best block median: on a shared machine noise only ever
adds time, so the quietest block is the closest to what the code costs.
"""
import statistics
import time
from collections.abc import Mapping

#: Blocks of each engine, taken in turn.
ROUNDS = 3


class Timings(dict):
    """Seconds per call by engine name (the best block median of each).

    Attributes
    ----------
    outputs : dict
        What each engine's last call returned, so that results can be
        checked without calling an expensive engine once more.
    """

    def __init__(self, seconds, outputs):
        super().__init__(seconds)
        self.outputs = outputs


def time_engines(engines, repeat, *, rounds=ROUNDS, min_time=0.0, max_calls=200, pause=0.0):
    """Time ``engines`` by the rule of this module.

    Parameters
    ----------
    engines : mapping of str to callable
        The functions to compare, called without arguments.
    repeat : int or mapping of str to int
        Timed calls in each block (at least 1), for all engines or per name
        (a slow reference may take fewer).
    rounds : int
        Blocks of each engine, taken in turn.
    min_time : float
        Seconds a block lasts at the least: calls of well under a
        millisecond go on (up to ``max_calls``) until then, for a stable
        median.
    max_calls : int
        Timed calls in a block at the most, when ``min_time`` asks for more
        than ``repeat``.
    pause : float
        Seconds to sleep before each timed call, for engines after which
        threads keep spinning (OpenBLAS's wait ~0.1 s for more work) and
        would otherwise compete with the next call.

    Returns
    -------
    Timings
        Seconds per call by name, in the order of ``engines``, with the
        engines' last return values in ``outputs``.
    """
    blocks = {name: [] for name in engines}
    outputs = {}
    for _ in range(max(rounds, 1)):
        for name, fn in engines.items():
            calls = repeat[name] if isinstance(repeat, Mapping) else repeat
            fn()
            times = []
            start = time.perf_counter()
            while len(times) < max(calls, 1) or (time.perf_counter() - start < min_time
                                                 and len(times) < max_calls):
                if pause:
                    time.sleep(pause)
                t0 = time.perf_counter()
                outputs[name] = fn()
                times.append(time.perf_counter() - t0)
            blocks[name].append(statistics.median(times))
    return Timings({name: min(medians) for name, medians in blocks.items()}, outputs)


def median_seconds(fn, repeat, *, rounds=ROUNDS, min_time=0.0, max_calls=200):
    """Seconds per call of ``fn`` alone by the rule of `time_engines`."""
    return time_engines({"fn": fn}, repeat, rounds=rounds, min_time=min_time,
                        max_calls=max_calls)["fn"]
