"""The one timing rule of the demo and of bench/: the median wall time of
repeated calls after one warm-up call (first-touch allocation, lazy set-up)."""
import statistics
import time


def median_seconds(fn, repeat, *, min_time=0.0, max_calls=200):
    """Median seconds of ``fn()`` over at least ``repeat`` calls, and more
    (up to ``max_calls``) until ``min_time`` seconds have passed, so that
    very short calls still give a stable median."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_time
                                  and len(times) < max_calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
