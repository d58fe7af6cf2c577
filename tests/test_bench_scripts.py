"""Every comparison script in bench/ starts after a plain install.

`python bench/SCRIPT.py --help` imports everything the script imports at its
top, so this catches a script that puts the uncompiled source tree first on
sys.path (which shadows the installed package) or that fails outright when an
optional peer is missing, without timing anything.
"""
import pathlib

import pytest

from child_process import run_python

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py")
                 if "argparse" in p.read_text() and not p.name.startswith("bench_"))

pytestmark = pytest.mark.skipif(not BENCH.is_dir(), reason="bench/ is not beside tests/")


def test_the_scripts_are_found():
    assert len(SCRIPTS) >= 10, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_help_runs_against_the_installed_package(script):
    # From the repository root, as the README says to run them.
    out = run_python([str(BENCH / script), "--help"], cwd=BENCH.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout


def test_reber_quick_mode_runs():
    # The demonstration end to end on a little data: training, sampling to the
    # end symbol, the automaton and the timings (the figures mean nothing here).
    out = run_python([str(BENCH / "reber.py"), "--quick", "--no-torch"], cwd=BENCH.parent,
                     timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "grammatical" in out.stdout and "us per token" in out.stdout


def test_seq2seq_quick_run():
    # The whole script at toy sizes: training, generation, the timing table.
    out = run_python([str(BENCH / "seq2seq.py"), "--quick", "--no-torch"], cwd=BENCH.parent,
                     timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "long exact" in out.stdout and "training step" in out.stdout


def test_reservoir_scaling_quick_run():
    # The table and the scale task's child processes at toy sizes.
    out = run_python([str(BENCH / "reservoir_scaling.py"), "--quick", "--no-reservoirpy"],
                     cwd=BENCH.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ns per nonzero" in out.stdout and "| fastrnn |" in out.stdout
