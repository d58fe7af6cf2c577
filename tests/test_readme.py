"""The Python examples of README.md run as written."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if README.exists() else []


# Packages that fastrnn does not depend on; a block needing one that is not
# installed is skipped (the later blocks must not build on it).
OPTIONAL = {"sklearn"}


@pytest.mark.skipif(not BLOCKS, reason="README.md is not beside the tests (installed elsewhere)")
def test_readme_examples_run(tmp_path, monkeypatch):
    # In a scratch directory, so that the files the examples write (e.g.
    # model.onnx) land there; the paths they read are under tests/.
    (tmp_path / "tests").symlink_to(README.parent / "tests", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in BLOCKS:   # later blocks build on earlier ones
        try:
            exec(compile(block, str(README), "exec"), namespace)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in OPTIONAL:
                raise
    assert "rnn" in namespace and "history" in namespace
