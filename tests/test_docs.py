"""The documentation builds with every warning an error, as CI requires.

Sphinx reads the NumPy-style docstrings of the installed package (numpydoc),
the task pages run their examples and draw their pictures (matplotlib's plot
directive), and a broken cross-reference, a malformed docstring or an example
that fails makes the build, and this test, fail.
"""
import pathlib

import pytest

from child_process import run_python

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"

for module in ("sphinx", "numpydoc", "myst_parser", "matplotlib"):
    pytest.importorskip(module, reason=f'the docs build needs {module}: pip install ".[docs]"')


@pytest.mark.skipif(not (DOCS / "conf.py").exists(), reason="docs/ is not beside the tests")
def test_docs_build_without_warnings(tmp_path):
    out = run_python(["-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                      "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
                     timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    html = tmp_path / "html"
    for page in ("index.html", "api.html", "tasks/esn_forecast.html",
                 "generated/fastrnn.LSTM.html", "generated/fastrnn.Reservoir.html"):
        assert (html / page).exists(), page
    # The task pages' pictures were drawn by running their examples.
    assert len(list((html / "_images").glob("*.png"))) >= 4
