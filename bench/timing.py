"""The timing of every script in bench/: fastrnn's one rule (see
fastrnn/_core/timing.py: each engine in a block of calls after a warm-up,
blocks in turn for a few rounds, the best block median), in milliseconds."""
from fastrnn._core.timing import ROUNDS, Timings, time_engines

__all__ = ["engines_ms", "median_ms", "rule", "time_engines"]


def engines_ms(engines, repeat, **options):
    """`time_engines` in milliseconds per call: a `Timings` by engine name,
    with the engines' last return values in ``outputs``. ``options`` are
    those of `time_engines` (rounds, min_time, max_calls, pause)."""
    timings = time_engines(engines, repeat, **options)
    return Timings({name: 1e3 * seconds for name, seconds in timings.items()}, timings.outputs)


def median_ms(fn, repeat, **options):
    """Milliseconds per call of ``fn`` alone, by the same rule."""
    return engines_ms({"fn": fn}, repeat, **options)["fn"]


def rule(repeat, rounds=ROUNDS):
    """The rule in words, for a script's header line."""
    return f"best of {rounds} block medians of {repeat} calls, engines in turn"
