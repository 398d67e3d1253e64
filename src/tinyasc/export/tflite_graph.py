"""Structure of a TFLite flatbuffer: op counts, tensor types, input/output quantization.

Read with the ``tflite`` schema package (no interpreter), so the export can assert what a
microcontroller will be asked to run: int8 weights, int8 activations with int32 biases (or, in
a 16x8 file, int16 activations with int64 biases), no float op, no QUANTIZE/DEQUANTIZE left at
the graph edges.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyasc import qmath

#: Ops whose presence in a full-integer graph means the converter left a float island.
CONVERSION_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
#: Activation type of a full-integer graph -> (tensor types it may hold, bias types). INT32 also holds
#: shapes and axes; TFLite's 16x8 kernels take int64 biases (int32 where a kernel accepts both).
FULL_INTEGER_TYPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "INT8": (frozenset({"INT8", "INT32"}), frozenset({"INT32"})),
    "INT16": (frozenset({"INT16", "INT8", "INT32", "INT64"}), frozenset({"INT64", "INT32"})),
}


@functools.lru_cache(maxsize=None)
def _enum_names(cls: Any) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


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


def op_name(model: Any, op: Any) -> str:
    """Builtin name of operator ``op`` of flatbuffer ``model`` (``CUSTOM:<code>`` for a custom op)."""
    import tflite

    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _enum_names(tflite.BuiltinOperator).get(builtin, str(builtin))
    return f"CUSTOM:{(code.CustomCode() or b'').decode()}" if name == "CUSTOM" else name


def read_graph(data: bytes) -> GraphInfo:
    """Parse a TFLite flatbuffer (first subgraph) into :class:`GraphInfo`."""
    import tflite

    types = _enum_names(tflite.TensorType)
    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)

    def tq(index: int) -> TensorQuant:
        t = graph.Tensors(index)
        q = t.Quantization()
        scale = zp = None
        if q is not None and q.ScaleLength() > 0:
            scale = float(q.ScaleAsNumpy()[0])
            zp = int(q.ZeroPointAsNumpy()[0])
        return TensorQuant(
            name=t.Name().decode(), dtype=types.get(t.Type(), str(t.Type())),
            shape=tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else (), scale=scale, zero_point=zp,
        )

    op_counts: Counter[str] = Counter()
    bias_types: list[str] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        name = op_name(model, op)
        op_counts[name] += 1
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and op.InputsLength() > 2 and op.Inputs(2) >= 0:
            bias_types.append(types.get(graph.Tensors(op.Inputs(2)).Type(), "?"))
    tensor_types: Counter[str] = Counter()
    float_tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        ty = types.get(t.Type(), str(t.Type()))
        tensor_types[ty] += 1
        if ty.startswith("FLOAT"):
            float_tensors.append(t.Name().decode())
    return GraphInfo(
        op_counts=dict(op_counts.most_common()),
        tensor_types=dict(tensor_types.most_common()),
        inputs=[tq(graph.Inputs(i)) for i in range(graph.InputsLength())],
        outputs=[tq(graph.Outputs(i)) for i in range(graph.OutputsLength())],
        bias_types=bias_types,
        float_tensors=float_tensors,
    )


def quantize(x: np.ndarray, q: TensorQuant) -> np.ndarray:
    """Float -> integer codes of the tensor's type, as TFLite's QUANTIZE (:func:`tinyasc.qmath.quantize`)."""
    return qmath.quantize(x, q.scale, q.zero_point, dtype=q.dtype)


def dequantize(x: np.ndarray, q: TensorQuant) -> np.ndarray:
    return (np.asarray(x, dtype=np.float32) - np.float32(q.zero_point)) * np.float32(q.scale)
