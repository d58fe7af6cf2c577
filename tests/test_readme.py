"""The Python examples of README.md run as written."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if README.exists() else []


@pytest.mark.skipif(not BLOCKS, reason="README.md is not beside the tests (installed elsewhere)")
def test_readme_examples_run():
    namespace = {}
    for block in BLOCKS:   # later blocks build on earlier ones
        exec(compile(block, str(README), "exec"), namespace)
    assert "rnn" in namespace and "history" in namespace
