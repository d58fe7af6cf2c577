"""Run Python in a child process that imports the same fastrnn as the tests.

`python -c` and `python -m` put the working directory first on sys.path; from
the repository root that is the uncompiled source tree, which would shadow
the installed package. The child therefore starts in the directory holding
the fastrnn under test (the source tree when built in place, site-packages
when installed), and also finds it first through PYTHONPATH whatever its
working directory.
"""
import os
import subprocess
import sys

import fastrnn

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastrnn.__file__)))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def child_env(extra_paths=()):
    """os.environ with the package under test (and ``extra_paths``) first on
    PYTHONPATH."""
    env = dict(os.environ)
    old = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *extra_paths, *old])
    return env


def run_python(args, *, cwd=None, timeout=120, **kwargs):
    """``subprocess.run([python, *args])`` importing the fastrnn under test;
    output captured as text unless told otherwise."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run([sys.executable, *args], cwd=cwd or PACKAGE_PARENT,
                          env=kwargs.pop("env", None) or child_env(), timeout=timeout, **kwargs)
