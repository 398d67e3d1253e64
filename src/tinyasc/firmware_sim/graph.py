"""The small typed graph the generator works on: tensors, operators, constant buffers.

These are the package's one model record (:mod:`tinyasc.tflite_io.model`), read and validated by
:func:`tinyasc.tflite_io.read_model`; ``Graph`` is :class:`~tinyasc.tflite_io.model.TFLiteModel`.
"""

from __future__ import annotations

from tinyasc.tflite_io.model import DTYPES, Operator, Tensor
from tinyasc.tflite_io.model import TFLiteModel as Graph

__all__ = ["DTYPES", "Graph", "Operator", "Tensor"]
