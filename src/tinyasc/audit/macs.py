"""Multiply-accumulates of one inference of a TFLite model, the DCASE 2022+ complexity figure.

Convention (that of the challenge's torchinfo-style reference counter): a convolution costs
``output elements x in_channels / groups x kh x kw`` (depthwise: ``output elements x kh x kw``),
a fully-connected layer ``batch x out_features x in_features``, and an element-wise MUL or
SQUARED_DIFFERENCE one MAC per output element. Additions, pooling, means, activations and data
movement cost nothing. Shapes come from the validated model (:mod:`tinyasc.tflite_io`).
"""

from __future__ import annotations

from tinyasc.audit.report import MacCount
from tinyasc.tflite_io import Operator, TFLiteModel

#: Element-wise ops counted as one MAC per output element.
ELEMENTWISE_MAC_OPS = frozenset({"MUL", "SQUARED_DIFFERENCE"})


def op_macs(model: TFLiteModel, op: Operator) -> int:
    """MACs of one operator (0 for ops the convention does not count)."""
    y = model.tensors[op.outputs[0]]
    if op.opcode == "CONV_2D":
        _, kh, kw, in_per_group = model.tensors[op.inputs[1]].shape
        return y.size * in_per_group * kh * kw
    if op.opcode == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = model.tensors[op.inputs[1]].shape
        return y.size * kh * kw
    if op.opcode == "FULLY_CONNECTED":
        _, depth = model.tensors[op.inputs[1]].shape
        return y.size * depth  # batch x out_features outputs, in_features MACs each
    if op.opcode in ELEMENTWISE_MAC_OPS:
        return y.size
    return 0


def count_macs(model: TFLiteModel) -> MacCount:
    """MACs per op type for one inference of ``model``."""
    by_op: dict[str, int] = {}
    for op in model.operators:
        n = op_macs(model, op)
        if n:
            by_op[op.opcode] = by_op.get(op.opcode, 0) + n
    return MacCount(by_op=dict(sorted(by_op.items())))
