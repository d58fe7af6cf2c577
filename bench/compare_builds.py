"""Time the same calls on two builds of fastrnn, side by side in one run.

    python bench/compare_builds.py --before /path/to/old/checkout --after /path/to/new/checkout

Each build is an in-place build (``python setup.py build_ext --inplace``) of a
checkout. A process imports one fastrnn, so each block (a warm-up, then
``--calls`` timed calls, the block's median) runs in a child process of the
build it times; the builds take their blocks in turn for ``--rounds`` rounds
and each keeps its best block median: fastrnn's one timing rule
(fastrnn/_core/timing.py, loaded from this checkout by path, since the older
build may predate it). Only public, positional calls are used, so that any two
releases can be compared. The figures of issue 12's closing note come from

    python bench/compare_builds.py --before ../old --after .
"""
import argparse
import importlib.util
import json
import os
import pathlib
import subprocess
import sys


def _timing_rule():
    """fastrnn/_core/timing.py of this checkout (it imports nothing of fastrnn)."""
    path = pathlib.Path(__file__).resolve().parents[1] / "fastrnn" / "_core" / "timing.py"
    spec = importlib.util.spec_from_file_location("fastrnn_timing_rule", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

CASES = {
    # name: (setup code, timed statement); `np` and `fastrnn` are imported.
    "LSTM fwd D32 H64 B1 T1000 f32": (
        "m = fastrnn.LSTM(32, 64, seed=0); x = np.ones((1000, 1, 32), np.float32)",
        "m.forward(x)"),
    "LSTM fwd+bwd D32 H64 B1 T1000 f32": (
        "m = fastrnn.LSTM(32, 64, seed=0); x = np.ones((1000, 1, 32), np.float32)",
        "y, _ = m.forward(x); m.backward(y)"),
    "LSTM fwd D128 H256 B32 T100 f32": (
        "m = fastrnn.LSTM(128, 256, seed=0); x = np.ones((100, 32, 128), np.float32)",
        "m.forward(x)"),
    "LSTM fwd+bwd D128 H256 B32 T100 f32": (
        "m = fastrnn.LSTM(128, 256, seed=0); x = np.ones((100, 32, 128), np.float32)",
        "y, _ = m.forward(x); m.backward(y)"),
    "GRU fwd+bwd D128 H256 B32 T100 f32": (
        "m = fastrnn.GRU(128, 256, seed=0); x = np.ones((100, 32, 128), np.float32)",
        "y, _ = m.forward(x); m.backward(y)"),
    "GRU fwd D32 H64 B1 T1000 f32": (
        "m = fastrnn.GRU(32, 64, seed=0); x = np.ones((1000, 1, 32), np.float32)",
        "m.forward(x)"),
    "RNN fwd+bwd D16 H128 B16 T200 f64": (
        "m = fastrnn.RNN(16, 128, seed=0); x = np.ones((200, 16, 16))",
        "y, _ = m.forward(x); m.backward(y)"),
    "LeakyRNN fwd+bwd D16 H128 B16 T200 f64": (
        "m = fastrnn.LeakyRNN(16, 128, seed=0); x = np.ones((200, 16, 16))",
        "y, _ = m.forward(x); m.backward(y)"),
    "ClockworkRNN fwd+bwd D16 H128 B16 T200 f64": (
        "m = fastrnn.ClockworkRNN(16, 128, seed=0); x = np.ones((200, 16, 16))",
        "y, _ = m.forward(x); m.backward(y)"),
    "DelayRNN fwd+bwd D16 H128 B16 T200 f64": (
        "m = fastrnn.DelayRNN(16, 128, seed=0); x = np.ones((200, 16, 16))",
        "y, _ = m.forward(x); m.backward(y)"),
    "LSTM step B1 H64 x1000 f32": (
        "m = fastrnn.LSTM(8, 64, num_layers=2, seed=0); x = np.ones((1, 8), np.float32)\n"
        "def steps():\n"
        "    s = None\n"
        "    for _ in range(1000):\n"
        "        y, s = m.step(x, s)",
        "steps()"),
    "Reservoir run N100 T10000 f64": (
        "r = fastrnn.Reservoir(100, sr=0.9, lr=0.3, rc_connectivity=0.1, seed=0);"
        " u = fastrnn.datasets.mackey_glass(10000, seed=0)",
        "r.reset(); r.run(u)"),
    "Reservoir run N500 T10000 f64": (
        "r = fastrnn.Reservoir(500, sr=0.9, lr=0.3, rc_connectivity=0.1, seed=0);"
        " u = fastrnn.datasets.mackey_glass(10000, seed=0)",
        "r.reset(); r.run(u)"),
    "Reservoir run N2000 T2000 f64": (
        "r = fastrnn.Reservoir(2000, sr=0.9, lr=0.3, rc_connectivity=0.1, seed=0);"
        " u = fastrnn.datasets.mackey_glass(2000, seed=0)",
        "r.reset(); r.run(u)"),
    "Reservoir run N500 T10000 f32": (
        "r = fastrnn.Reservoir(500, sr=0.9, lr=0.3, rc_connectivity=0.1, seed=0, dtype=np.float32);"
        " u = fastrnn.datasets.mackey_glass(10000, seed=0).astype(np.float32)",
        "r.reset(); r.run(u)"),
    "Ridge fit N500 T10000 f64": (
        "s = np.random.default_rng(0).standard_normal((10000, 500)); y = s[:, :1].copy()",
        "fastrnn.Ridge(ridge=1e-6).fit(s, y)"),
    "ESN fit+generate N300 f64": (
        "u = fastrnn.datasets.mackey_glass(3000, seed=0)\n"
        "def fg():\n"
        "    res = fastrnn.Reservoir(300, sr=0.9, lr=0.3, fb_connectivity=0.1, seed=0)\n"
        "    e = fastrnn.ESN(res, fastrnn.Ridge(ridge=1e-7), feedback=True)\n"
        "    e.fit(None, u[:2000], warmup=100)\n"
        "    e.generate(500)",
        "fg()"),
}


def worker(names, calls):
    """One block of each named case in this process: {name: block median}."""
    import numpy as np
    import fastrnn
    rule = _timing_rule()
    out = {}
    for name in names:
        setup, stmt = CASES[name]
        ns = {"np": np, "fastrnn": fastrnn}
        exec(setup, ns)
        code = compile(stmt, name, "exec")
        out[name] = rule.time_engines({name: lambda: exec(code, ns)}, calls, rounds=1)[name]
    print(json.dumps(out))


def run_block(path, names, calls):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(path))
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", "--calls", str(calls),
                          "--cases", json.dumps(names)],
                         env=env, capture_output=True, text=True, cwd="/")
    if res.returncode:
        raise SystemExit(f"{path}: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", help="checkout of the older build (built in place)")
    p.add_argument("--after", help="checkout of the newer build (built in place)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=7)
    p.add_argument("--only", default="", help="run only the cases whose name contains this text")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cases", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(json.loads(a.cases), a.calls)
        return 0
    if not (a.before and a.after):
        p.error("--before and --after are required")
    names = [n for n in CASES if a.only in n]
    best = {"before": {}, "after": {}}
    for _ in range(a.rounds):
        for name in names:
            for label, path in (("before", a.before), ("after", a.after)):
                t = run_block(path, [name], a.calls)[name]
                best[label][name] = min(best[label].get(name, float("inf")), t)
    print(f"best of {a.rounds} block medians of {a.calls} calls, builds in turn")
    print("| case | before ms | after ms | after/before |")
    print("| --- | --- | --- | --- |")
    for name in names:
        b, f = best["before"][name] * 1e3, best["after"][name] * 1e3
        print(f"| {name} | {b:.3f} | {f:.3f} | {f / b:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
