"""fastrnn without the onnx package: `import fastrnn` works, and from_onnx /
to_onnx say how to install what they need."""
import textwrap

from child_process import run_python


def test_onnx_is_imported_only_when_called():
    code = textwrap.dedent("""
        import sys
        import fastrnn
        from fastrnn import from_onnx, to_onnx
        assert "onnx" not in sys.modules, "import fastrnn imported onnx"
        sys.modules["onnx"] = None      # as if onnx were not installed
        for call in (lambda: from_onnx("model.onnx"),
                     lambda: to_onnx(fastrnn.RNN(2, 3), "model.onnx")):
            try:
                call()
            except ImportError as exc:
                assert 'pip install "fastrnn[onnx]"' in str(exc), exc
                print(str(exc).split(" needs")[0])
            else:
                raise SystemExit("no ImportError")
    """)
    out = run_python(["-c", code])
    assert out.returncode == 0, out.stderr or out.stdout
    assert out.stdout.split() == ["fastrnn.from_onnx", "fastrnn.to_onnx"]
