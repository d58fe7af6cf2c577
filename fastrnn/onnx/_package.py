"""The optional ``onnx`` package, imported by the functions that need it.

`fastrnn.from_onnx` and `fastrnn.to_onnx` stay importable (``import fastrnn``
never imports onnx); calling either without onnx installed raises one
ImportError that says how to install it.
"""


def require_onnx(caller):
    """The ``onnx`` module, or ImportError naming ``caller`` and the extra."""
    try:
        # A submodule, so that a folder named onnx on sys.path (a namespace
        # package, such as the test suite's tests/onnx) is not taken for it.
        import onnx.numpy_helper
    except ImportError as exc:
        raise ImportError(f'{caller} needs the onnx package: pip install "fastrnn[onnx]"'
                          ) from exc
    return onnx
