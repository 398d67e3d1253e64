"""Parameter counts of an ONNX model: initializers and ``Constant`` tensors at their element types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.audit.checkpoint import kind_from_name
from tinyasc.audit.report import AuditRow, ParamKind
from tinyasc.errors import InputError


def audit_onnx(path: Path, notes: list[str]) -> list[AuditRow]:
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError and others
        raise InputError(path, f"not a readable ONNX model ({type(exc).__name__})") from None
    if not model.graph.node and not model.graph.initializer:
        raise InputError(path, "not an ONNX model (empty graph)")
    tensors: list[tuple[str, Any]] = [(init.name, init) for init in model.graph.initializer]
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    tensors.append((node.output[0], attr.t))
    if not model.graph.initializer:
        raise InputError(path, "ONNX model has no initializers (no stored weights to audit)")
    # Normalization ops whose inputs 1..4 are scale, bias, mean, var
    norm_inputs: dict[str, ParamKind] = {}
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            for i, inp in enumerate(node.input[1:5]):
                norm_inputs[inp] = ParamKind.NORM_AFFINE if i < 2 else ParamKind.NORM_STATS
        elif node.op_type in ("Conv", "ConvTranspose", "ConvInteger", "Gemm", "MatMul", "MatMulInteger"):
            if len(node.input) > 1:
                norm_inputs.setdefault(node.input[1], ParamKind.CONV_WEIGHT)
            if len(node.input) > 2 and node.op_type in ("Conv", "ConvTranspose", "Gemm"):
                norm_inputs.setdefault(node.input[2], ParamKind.BIAS)
        elif node.op_type == "QLinearConv":
            norm_inputs.setdefault(node.input[3], ParamKind.CONV_WEIGHT)
            if len(node.input) > 8:
                norm_inputs.setdefault(node.input[8], ParamKind.BIAS)
    rows = []
    index: list[int] = []
    for name, tp in tensors:
        try:
            arr = numpy_helper.to_array(tp)
        except Exception as exc:
            raise InputError(path, f"initializer {name!r} unreadable ({type(exc).__name__})") from None
        bits = int(np.dtype(arr.dtype).itemsize * 8) if arr.dtype != np.bool_ else 8
        kind = norm_inputs.get(name) or kind_from_name(name, arr.ndim)
        if arr.dtype in (np.int32, np.int64) and norm_inputs.get(name) not in (ParamKind.CONV_WEIGHT, ParamKind.BIAS):
            index.append(int(arr.size * bits // 8))
            continue
        rows.append(AuditRow(name=name, params=int(arr.size), nonzero=int(np.count_nonzero(arr)), bits=bits, kind=kind, dtype=str(arr.dtype)))
    note_index(notes, index)
    return rows


def note_index(notes: list[str], index: list[int]) -> None:
    if index:
        notes.append(f"{len(index)} index constants (int32/int64 shapes, axes, permutations, paddings; "
                     f"{sum(index):,} B) are graph structure, not parameters: not counted")
