"""``fastgrad.onnx.export(model, example_input, "m.onnx", ...)``: the forward traced once and
written as ONNX (opset 17+) in ``torch.onnx.export``'s shape. Needs ``pip install fastgrad[onnx]``
(the ``onnx`` package is imported only when exporting). The op table: ``symbolic.py``."""
from fastgrad.onnx.export import export
from fastgrad.onnx.symbolic import SYMBOLICS, UnsupportedOperatorError, symbolic

__all__ = ["export", "SYMBOLICS", "UnsupportedOperatorError", "symbolic"]
