"""The one CPU count (fastrnn/_core/cpus.py): the CPUs this process may use."""
import os

import pytest

from fastrnn._core import cpus
from child_process import run_python


def test_counts_the_affinity_mask_where_there_is_one():
    if hasattr(os, "sched_getaffinity"):
        assert cpus.available_cpus() == len(os.sched_getaffinity(0))
    else:
        assert cpus.available_cpus() == (os.cpu_count() or 1)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs affinity masks and two CPUs")
def test_a_process_pinned_to_one_cpu_sees_one():
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "from fastrnn._core.cpus import available_cpus\n"
            "from fastrnn.layers import base\n"
            "print(available_cpus(), base._CPUS, os.cpu_count() > 1)")
    out = run_python(["-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1", "True"]


def test_falls_back_to_cpu_count_and_never_says_zero(monkeypatch):
    def refuse(pid):
        raise OSError("no affinity here")

    monkeypatch.setattr(os, "sched_getaffinity", refuse, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert cpus.available_cpus() == 3
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: None)     # "cannot tell"
    assert cpus.available_cpus() == 1
