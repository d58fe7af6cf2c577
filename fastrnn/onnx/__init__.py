"""ONNX exchange: ``importer.py`` turns an ONNX model's LSTM/GRU/RNN nodes
into fastrnn layers, ``exporter.py`` writes fastrnn layers as an ONNX graph."""
from fastrnn.onnx.exporter import to_onnx
from fastrnn.onnx.importer import from_onnx

__all__ = ["from_onnx", "to_onnx"]
