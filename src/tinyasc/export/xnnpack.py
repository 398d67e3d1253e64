"""What LiteRT's XNNPACK delegate refuses in an integer ``.tflite``, found before it is loaded.

XNNPACK is the delegate ai-edge-litert applies by default on a CPU. It refuses a quantized convolution or
fully-connected layer whose requantization scale ``s_in * s_w[c] / s_out`` reaches
:data:`tinyasc.qmath.XNNPACK_MAX_REQUANT_SCALE` in any output channel, and then the whole file fails to load
("failed to prepare"). TensorFlow Lite Micro and LiteRT's built-in kernels take such a file. QAT keeps its own
files inside the bound (:meth:`tinyasc.model.int8_ops.QConv2d.weight_scale`); a file calibrated by the converter
may still cross it, and the export then runs LiteRT's built-in kernels for the default column and says so.
"""

from __future__ import annotations

import numpy as np

from tinyasc.qmath import XNNPACK_MAX_REQUANT_SCALE
from tinyasc.tflite_io.model import TFLiteModel

#: Operators with (input, weights, bias) whose requantization XNNPACK bounds.
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def requant_scales(model: TFLiteModel, index: int) -> np.ndarray | None:
    """Per-output-channel ``float32(s_in * s_w[c] / s_out)`` of operator ``index`` (None: not a quantized
    weighted operator)."""
    op = model.operators[index]
    if op.opcode not in WEIGHTED_OPS or len(op.inputs) < 2 or not op.outputs:
        return None
    x, w, y = (model.tensors[t] for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if not (x.quantized and w.quantized and y.quantized):
        return None
    s_w = np.asarray(w.scale, dtype=np.float32)
    return np.float32(x.scale[0]) * s_w / np.float32(y.scale[0])


def xnnpack_refusals(model: TFLiteModel) -> list[str]:
    """One line per operator XNNPACK would refuse (empty: it takes every weighted operator of the file)."""
    out = []
    for op in model.operators:
        r = requant_scales(model, op.index)
        if r is None:
            continue
        bad = np.flatnonzero(r >= XNNPACK_MAX_REQUANT_SCALE)
        if bad.size:
            first = ", ".join(str(int(c)) for c in bad[:4]) + (", ..." if bad.size > 4 else "")
            out.append(f"operator {op.index} ({op.opcode}): requantization scale {float(r.max()):.4g} >= "
                       f"{XNNPACK_MAX_REQUANT_SCALE:g} in {bad.size} output channel(s) ({first})")
    return out
