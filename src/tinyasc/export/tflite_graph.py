"""Structure of a TFLite flatbuffer: op counts, tensor types, input/output quantization.

Read with the package's one validating reader (:mod:`tinyasc.tflite_io`, no interpreter), so the export can assert what a
microcontroller will be asked to run: int8 weights, int8 activations with int32 biases (or, in
a 16x8 file, int16 activations with int64 biases), no float op, no QUANTIZE/DEQUANTIZE left at
the graph edges.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc import qmath
from tinyasc.tflite_io import TFLiteModel, Tensor, parse_model
from tinyasc.tflite_io.model import WEIGHTED_OPS

#: Ops whose presence in a full-integer graph means the converter left a float island.
CONVERSION_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
#: Activation type of a full-integer graph -> (tensor types it may hold, bias types). INT32 also holds
#: shapes and axes; TFLite's 16x8 kernels take int64 biases (int32 where a kernel accepts both).
FULL_INTEGER_TYPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "INT8": (frozenset({"INT8", "INT32"}), frozenset({"INT32"})),
    "INT16": (frozenset({"INT16", "INT8", "INT32", "INT64"}), frozenset({"INT64", "INT32"})),
}


@dataclass(frozen=True, kw_only=True)
class TensorQuant:
    """Affine quantization of one tensor: ``real = scale * (q - zero_point)``."""

    name: str
    """Tensor name in the flatbuffer."""
    dtype: str
    """TFLite tensor type (INT8, FLOAT32...)."""
    shape: tuple[int, ...]
    """Static shape."""
    scale: float | None
    """Per-tensor scale (None when unquantized)."""
    zero_point: int | None
    """Per-tensor zero point (None when unquantized)."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True, kw_only=True)
class GraphInfo:
    """What a TFLite file asks the runtime to do."""

    op_counts: dict[str, int]
    """Builtin (or custom) op name -> number of nodes, largest first."""
    tensor_types: dict[str, int]
    """Tensor type -> number of tensors."""
    inputs: list[TensorQuant]
    outputs: list[TensorQuant]
    bias_types: list[str] = field(default_factory=list)
    """Type of the bias tensor of every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED node."""
    float_tensors: list[str] = field(default_factory=list)
    """Names of FLOAT32/FLOAT16 tensors (must be empty in a full-integer graph)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "op_counts": self.op_counts,
            "n_ops": sum(self.op_counts.values()),
            "tensor_types": self.tensor_types,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "bias_types": dict(Counter(self.bias_types)),
            "float_tensors": self.float_tensors,
        }

    def full_integer_violations(self, activations: str = "INT8") -> list[str]:
        """Everything that keeps this graph from being full-integer with ``activations`` (INT8 or
        INT16, the 16x8 scheme) activations and input/output (empty = OK)."""
        types, bias_types = FULL_INTEGER_TYPES[activations]
        problems = []
        stray = {op: n for op, n in self.op_counts.items() if op in CONVERSION_OPS}
        if stray:
            problems.append(f"stray quantize/dequantize ops: {stray}")
        odd = {t: n for t, n in self.tensor_types.items() if t not in types}
        if odd:
            problems.append(f"tensors of types {odd} in an {activations}-activation graph (float: {self.float_tensors[:3]})")
        for side, ts in (("input", self.inputs), ("output", self.outputs)):
            for t in ts:
                if t.dtype != activations:
                    problems.append(f"{side} {t.name} is {t.dtype}, not {activations}")
        bad_bias = sorted({b for b in self.bias_types if b not in bias_types})
        if bad_bias:
            problems.append(f"biases of type {bad_bias}, not {'/'.join(sorted(bias_types))}")
        custom = [op for op in self.op_counts if op.startswith("CUSTOM") or op.startswith("FLEX")]
        if custom:
            problems.append(f"custom/flex ops: {custom}")
        return problems


def _tensor_quant(t: Tensor) -> TensorQuant:
    scale, zp = t.q() if t.quantized else (None, None)
    return TensorQuant(name=t.name, dtype=t.dtype, shape=t.shape, scale=scale, zero_point=zp)


def graph_info(model: TFLiteModel) -> GraphInfo:
    """What the (validated) model asks the runtime to do."""
    op_counts = Counter(op.opcode for op in model.operators)
    bias_types = [model.tensors[op.inputs[2]].dtype for op in model.operators
                  if op.opcode in WEIGHTED_OPS and op.input(2) >= 0]
    tensor_types = Counter(t.dtype for t in model.tensors)
    return GraphInfo(
        op_counts=dict(op_counts.most_common()),
        tensor_types=dict(tensor_types.most_common()),
        inputs=[_tensor_quant(model.tensors[i]) for i in model.inputs],
        outputs=[_tensor_quant(model.tensors[i]) for i in model.outputs],
        bias_types=bias_types,
        float_tensors=[t.name for t in model.tensors if t.dtype.startswith("FLOAT")],
    )


def read_graph(data: bytes, path: str | Path | None = None) -> GraphInfo:
    """Read a TFLite flatbuffer (first subgraph; :func:`tinyasc.tflite_io.parse_model`, validated) into
    :class:`GraphInfo`."""
    return graph_info(parse_model(data, path))


def quantize(x: np.ndarray, q: TensorQuant) -> np.ndarray:
    """Float -> integer codes of the tensor's type, as TFLite's QUANTIZE (:func:`tinyasc.qmath.quantize`)."""
    return qmath.quantize(x, q.scale, q.zero_point, dtype=q.dtype)


def dequantize(x: np.ndarray, q: TensorQuant) -> np.ndarray:
    return (np.asarray(x, dtype=np.float32) - np.float32(q.zero_point)) * np.float32(q.scale)
