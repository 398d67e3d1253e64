"""Shared helper for the model-file tests: one small valid int8 ``.tflite`` (no tests live here)."""

from __future__ import annotations

import functools

import numpy as np

from test_firmware_support import convert

#: Input shape of :func:`tiny_model_bytes` (NHWC).
INPUT_SHAPE = (1, 6, 5, 2)


@functools.lru_cache(maxsize=1)
def tiny_model_bytes() -> bytes:
    """conv 3x3 (2->4) + ReLU, depthwise 3x3, x*x, + const, mean over H, W, fully connected 4->3, softmax.

    MACs by the DCASE convention: conv 6*5*4 outputs x 2*3*3 = 2,160; depthwise 120 x 9 = 1,080;
    MUL 120; FC 3 x 4 = 12 (ADD, MEAN, SOFTMAX: none).
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32) * 0.5
    d = rng.normal(size=(3, 3, 4, 1)).astype(np.float32) * 0.5
    a = rng.normal(size=(1, 1, 1, 4)).astype(np.float32)
    fc = rng.normal(size=(4, 3)).astype(np.float32)

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + 0.1)
        y = tf.nn.depthwise_conv2d(y, d, (1, 1, 1, 1), "SAME")
        y = y * y + a
        return tf.nn.softmax(tf.matmul(tf.reduce_mean(y, axis=[1, 2]), fc))

    return convert(fn, INPUT_SHAPE)
