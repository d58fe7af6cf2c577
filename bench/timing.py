"""Timing helper shared by the comparison scripts in bench/ (the rule itself
is fastrnn._timing, which the demo uses too)."""
from fastrnn._core.timing import median_seconds


def median_ms(fn, repeat, min_time=0.0):
    """Median wall time of fn() in milliseconds, after one warm-up call."""
    return 1e3 * median_seconds(fn, repeat, min_time=min_time)
