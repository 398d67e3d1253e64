"""Parameter counts of a TFLite model: every constant tensor at its stored type, shared buffers once.

The file is read (and validated) by the package's one reader, :mod:`tinyasc.tflite_io`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyasc.audit.onnx_model import note_index
from tinyasc.audit.report import AuditRow, ParamKind
from tinyasc.tflite_io import Tensor, TFLiteModel

#: Bits per stored value of each tensor type the auditor counts.
BITS: dict[str, int] = {
    "FLOAT32": 32, "FLOAT16": 16, "FLOAT64": 64, "INT32": 32, "UINT8": 8, "INT64": 64, "BOOL": 8,
    "INT16": 16, "INT8": 8, "UINT64": 64, "UINT32": 32, "UINT16": 16, "INT4": 4,
}
#: Ops whose input 1 is a weight and input 2 a bias.
WEIGHT_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "CONV_3D", "TRANSPOSE_CONV"})


def _roles(model: TFLiteModel) -> dict[int, ParamKind]:
    """Tensor index -> CONV_WEIGHT / BIAS, following float16 weights through their DEQUANTIZE."""
    dequant_src = {op.outputs[0]: op.inputs[0] for op in model.operators
                   if op.opcode == "DEQUANTIZE" and len(op.inputs) == 1 and len(op.outputs) == 1}
    role: dict[int, ParamKind] = {}
    for op in model.operators:
        if op.opcode in WEIGHT_OPS and len(op.inputs) >= 2:
            w = op.inputs[1]
            role.setdefault(dequant_src.get(w, w), ParamKind.CONV_WEIGHT)
            if op.input(2) >= 0:
                role.setdefault(dequant_src.get(op.inputs[2], op.inputs[2]), ParamKind.BIAS)
    return role


def _values(t: Tensor) -> np.ndarray:
    """The stored values (INT4 unpacked, two per byte, sign-extended)."""
    if t.dtype != "INT4":
        return np.asarray(t.data).reshape(-1)
    packed = np.asarray(t.data, dtype=np.uint8).reshape(-1)
    q = np.stack([packed & 0x0F, packed >> 4], axis=1).reshape(-1)[: t.size].astype(np.int8)
    return np.where(q > 7, q - 16, q)


def _nonzero(t: Tensor, q: np.ndarray) -> int:
    """Values whose real value is non-zero: stored integer != its (per-channel) zero point."""
    if not t.zero_point or not np.issubdtype(q.dtype, np.integer):
        return int(np.count_nonzero(q))
    zp = np.asarray(t.zero_point, dtype=np.int64)
    if zp.size == 1:
        return int(np.count_nonzero(q.astype(np.int64) != zp[0]))
    shape = [1] * len(t.shape)
    shape[t.quantized_dimension] = zp.size
    return int(np.count_nonzero(q.reshape(t.shape).astype(np.int64) != zp.reshape(shape)))


def audit_tflite(model: TFLiteModel, path: Path, notes: list[str]) -> list[AuditRow]:
    """One row per constant tensor of the (validated) ``model``; int32/int64 constants that are not
    biases (shapes, axes, paddings) are noted, not counted."""
    role = _roles(model)
    rows: list[AuditRow] = []
    index: list[int] = []
    seen: set[int] = set()
    if model.subgraphs > 1:
        notes.append(f"{model.subgraphs} subgraphs: only the first is counted")
    for t in model.tensors:
        if t.data is None or t.buffer in seen:
            continue  # not a constant, or a buffer shared with a tensor already counted
        seen.add(t.buffer)
        if t.dtype not in BITS:
            notes.append(f"{t.name}: tensor type {t.dtype} not counted")
            continue
        q = _values(t)
        if t.dtype in ("INT32", "INT64") and role.get(t.index) is not ParamKind.BIAS:
            index.append(int(t.data.nbytes))
            continue
        rows.append(AuditRow(name=t.name, params=int(q.size), nonzero=_nonzero(t, q), bits=BITS[t.dtype],
                             kind=role.get(t.index, ParamKind.OTHER), dtype=t.dtype.lower()))
    note_index(notes, index)
    return rows
