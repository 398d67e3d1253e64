"""The package's one ``.tflite`` reader (validated, typed) and one TensorFlow Lite Micro runner.

Stage-neutral: imports no torch and no tinyasc stage, so ``export``, ``audit``, ``contract`` and
``firmware_sim`` all read model files through it.
"""

from tinyasc.tflite_io.model import DTYPES, Operator, Tensor, TFLiteModel
from tinyasc.tflite_io.reader import parse_model, read_model

__all__ = ["DTYPES", "Operator", "TFLiteModel", "Tensor", "parse_model", "read_model"]
