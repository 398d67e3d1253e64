"""Shared helpers for the firmware tests: tiny int8 TFLite models made with TensorFlow's converter.

No tests live here. Each builder returns the .tflite bytes of a full-integer model (int8 input
and output) calibrated on a small representative dataset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def convert(fn: Callable, input_shape: Sequence[int], *, seed: int = 0, lo: float = -1.0,
            hi: float = 1.0, n_rep: int = 8) -> bytes:
    """Full-integer int8 conversion of ``fn`` (one float input) with TFLiteConverter."""
    import tensorflow as tf

    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(input_shape, tf.float32))
    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(n_rep):
            yield [rng.uniform(lo, hi, size=input_shape).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn.__self__ if hasattr(fn, "__self__") else None)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def edge_inputs(shape: Sequence[int], n: int, seed: int = 0) -> np.ndarray:
    """``n`` int8 inputs: uniform over the full range, the first two all -128 and all 127."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(n, *shape), dtype=np.int64).astype(np.int8)
    if n >= 3:
        x[0] = -128
        x[1] = 127
    return x
