"""The one timing rule (fastrnn/_core/timing.py, used by the demo and, through
bench/timing.py, by every script in bench/), on a scripted clock."""
import importlib.util
import pathlib

import pytest

from fastrnn._core import timing

BENCH_TIMING = pathlib.Path(__file__).resolve().parents[2] / "bench" / "timing.py"


class Clock:
    """time.perf_counter that only moves when an engine runs: each call of an
    engine takes the next of its scripted durations."""

    def __init__(self, monkeypatch, durations):
        self.now = 0.0
        self.durations = {name: list(d) for name, d in durations.items()}
        self.calls = []
        self.sleeps = []
        monkeypatch.setattr(timing.time, "perf_counter", lambda: self.now)
        monkeypatch.setattr(timing.time, "sleep", self.sleeps.append)

    def engine(self, name):
        def call():
            self.calls.append(name)
            self.now += self.durations[name].pop(0)
            return f"{name} call {len(self.calls)}"
        return call


def test_blocks_in_turn_after_a_warm_up_keep_the_best_block_median(monkeypatch):
    # Per round: a warm-up, then three timed calls.
    clock = Clock(monkeypatch, {
        "a": [9.0, 5, 1, 3] + [9.0, 2, 2, 7] + [9.0, 4, 4, 4],   # block medians 3, 2, 4
        "b": [0.5, 1, 1, 1] + [0.5, 9, 9, 1] + [0.5, 1, 2, 3],   # 1, 9, 2
    })
    t = timing.time_engines({"a": clock.engine("a"), "b": clock.engine("b")}, 3, rounds=3)
    assert t == {"a": 2.0, "b": 1.0}
    assert list(t) == ["a", "b"]
    assert clock.calls == (["a"] * 4 + ["b"] * 4) * 3
    assert t.outputs == {"a": "a call 20", "b": "b call 24"}
    assert clock.sleeps == []


def test_repeat_per_engine_min_time_and_pause(monkeypatch):
    clock = Clock(monkeypatch, {"fast": [0.01] * 100, "slow": [5.0] * 100})
    t = timing.time_engines({"fast": clock.engine("fast"), "slow": clock.engine("slow")},
                            {"fast": 2, "slow": 1}, rounds=1, min_time=0.1, max_calls=6)
    # fast: 2 calls are not 0.1 s, so the block goes on to max_calls; slow: 1.
    assert clock.calls == ["fast"] * 7 + ["slow"] * 2
    assert t == pytest.approx({"fast": 0.01, "slow": 5.0})
    clock.calls.clear()
    timing.time_engines({"slow": clock.engine("slow")}, 2, rounds=2, pause=0.3)
    assert clock.calls == ["slow"] * 6
    assert clock.sleeps == [0.3] * 4          # before each timed call, not the warm-ups


def test_median_seconds_is_the_rule_for_one_function(monkeypatch):
    clock = Clock(monkeypatch, {"f": [1.0, 4, 2, 3] * timing.ROUNDS})
    assert timing.median_seconds(clock.engine("f"), 3) == 3.0
    assert len(clock.calls) == 4 * timing.ROUNDS


@pytest.mark.skipif(not BENCH_TIMING.is_file(), reason="bench/ is not beside tests/")
def test_bench_timing_is_the_same_rule_in_milliseconds(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_timing", BENCH_TIMING)
    bench_timing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_timing)
    clock = Clock(monkeypatch, {"a": [1.0, 0.002] * 3, "b": [1.0, 0.004] * 3})
    t = bench_timing.engines_ms({"a": clock.engine("a"), "b": clock.engine("b")}, 1)
    assert t == pytest.approx({"a": 2.0, "b": 4.0})
    assert t.outputs["b"] == "b call 12"
    assert bench_timing.rule(5) == f"best of {timing.ROUNDS} block medians of 5 calls, engines in turn"
