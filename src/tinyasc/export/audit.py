"""Model-size auditor: the DCASE 2021 Task 1A "non-zero parameters" figure of an artifact.

Counting rules (the same for every format; the report repeats them):

* Every parameter the audited artifact stores counts: weights, biases, BatchNorm's scale,
  shift, running mean and running variance (unless the artifact folded them away, as an
  int8 TFLite file or a constant-folded ONNX graph does), quantization-free constants.
  Integer training counters (BatchNorm's ``num_batches_tracked``) and index constants
  (int32/int64 shapes, axes, permutations, paddings of RESHAPE/TRANSPOSE/MEAN/PAD...; any
  integer constant that is not a convolution's weight or bias) are not parameters; the
  report notes how many bytes they take (they are in the dense file size).
* Only non-zero values count toward the budget. For a quantized tensor "zero" is the real
  value 0, i.e. the stored integer equal to its zero point.
* Bits per parameter are those of the artifact:
  - tinyasc checkpoint: 32 (the float32 it stores) for an uncompressed model; for a
    compressed one (``Checkpoint.compression``) 8 for the quantized convolution weights and
    16 for everything else, *after checking* that the values really lie on a symmetric
    per-output-channel int8 grid / are float16-representable (a tensor failing the check
    is counted at its stored width, with a warning);
  - ONNX: the initializer's (or Constant node's) element type;
  - TFLite: the tensor type of every constant tensor (a tensor whose buffer holds data):
    int8 1 byte, int16 2, int32 (biases of an int8 graph) 4, int64 (biases of a 16x8 graph,
    int16 activations) 8, float16 2, float32 4. Buffers shared by several tensors count once.
* Size = params x bits / 8; NZ size = non-zero x bits / 8. The budget (default 128,000 bytes,
  the stricter reading of "128 KB") applies to the NZ size. Totals are shown in bytes,
  kB (1000 B) and KiB (1024 B). The dense file size is reported beside it: unless weights
  are stored sparse, the dense file is what a microcontroller flashes.
"""

from __future__ import annotations

import enum
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_BUDGET_BYTES = 128_000
"""DCASE 2021 Task 1A: 128 KB of non-zero parameters, read as 128,000 bytes (stricter than KiB)."""

COUNTING_RULES = (
    "Every stored parameter counts (BatchNorm scale, shift, running mean and variance unless "
    "folded away in the artifact; biases at their stored width: int32 in an int8 TFLite file, int64 in a "
    "16x8 one); only non-zero "
    "values count toward the budget; bits per parameter are the artifact's (checkpoint: 8 for "
    "quantized conv weights, 16 for the rest of a compressed model, 32 uncompressed; ONNX and "
    "TFLite: the tensor types). kB = 1000 B, KiB = 1024 B."
)


class ArtifactFormat(str, enum.Enum):
    """Kinds of model file the auditor reads."""

    CHECKPOINT = "checkpoint"
    ONNX = "onnx"
    TFLITE = "tflite"


class ParamKind(str, enum.Enum):
    """What a counted tensor is (lets a reader split the total the way the paper does)."""

    CONV_WEIGHT = "conv_weight"
    NORM_AFFINE = "norm_affine"
    NORM_STATS = "norm_stats"
    BIAS = "bias"
    OTHER = "other"


@dataclass(frozen=True, kw_only=True)
class AuditRow:
    """One stored tensor."""

    name: str
    """Tensor name in the artifact (state_dict key, ONNX initializer, TFLite tensor)."""
    params: int
    """Number of values stored."""
    nonzero: int
    """Number of values whose real value is not zero."""
    bits: int
    """Bits per stored value."""
    kind: ParamKind = ParamKind.OTHER
    """Coarse role of the tensor (conv weight, norm affine/statistics, bias, other)."""
    dtype: str = ""
    """Stored element type as the artifact names it."""

    @property
    def size_bytes(self) -> float:
        return self.params * self.bits / 8

    @property
    def nonzero_bytes(self) -> float:
        return self.nonzero * self.bits / 8

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "nonzero": self.nonzero,
            "bits": self.bits,
            "size_bytes": self.size_bytes,
            "nonzero_bytes": self.nonzero_bytes,
            "kind": self.kind.value,
            "dtype": self.dtype,
        }


def _fmt_bytes(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"


@dataclass(kw_only=True)
class AuditReport:
    """Per-tensor counts of one artifact, its totals and the budget verdict."""

    path: str
    """Audited file."""
    format: ArtifactFormat
    """Kind of artifact."""
    rows: list[AuditRow]
    """One row per stored tensor, in artifact order."""
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    """Budget for the non-zero size, in bytes."""
    dense_file_bytes: int = 0
    """Size of the file on disk (for TFLite: the flatbuffer that would be flashed)."""
    notes: list[str] = field(default_factory=list)
    """Warnings raised while counting (e.g. a tensor declared 8-bit that is not on a grid)."""

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def nonzero(self) -> int:
        return sum(r.nonzero for r in self.rows)

    @property
    def size_bytes(self) -> float:
        return sum(r.size_bytes for r in self.rows)

    @property
    def nonzero_bytes(self) -> float:
        return sum(r.nonzero_bytes for r in self.rows)

    @property
    def within_budget(self) -> bool:
        return self.nonzero_bytes <= self.budget_bytes

    def by_kind(self) -> dict[str, dict[str, Any]]:
        """Totals per (kind, bits): the paper's "33K 8-bit + 15K 16-bit" style split."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.rows:
            key = f"{r.kind.value}@{r.bits}"
            d = out.setdefault(key, {"kind": r.kind.value, "bits": r.bits, "params": 0, "nonzero": 0, "nonzero_bytes": 0.0})
            d["params"] += r.params
            d["nonzero"] += r.nonzero
            d["nonzero_bytes"] += r.nonzero_bytes
        return out

    @property
    def totals(self) -> dict[str, Any]:
        nz = self.nonzero_bytes
        return {
            "params": self.params,
            "nonzero": self.nonzero,
            "size_bytes": self.size_bytes,
            "nonzero_bytes": nz,
            "nonzero_kB": nz / 1000,
            "nonzero_KiB": nz / 1024,
            "size_kB": self.size_bytes / 1000,
            "size_KiB": self.size_bytes / 1024,
            "dense_file_bytes": self.dense_file_bytes,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format.value,
            "counting_rules": COUNTING_RULES,
            "budget_bytes": self.budget_bytes,
            "within_budget": self.within_budget,
            "totals": self.totals,
            "by_kind": self.by_kind(),
            "rows": [r.to_dict() for r in self.rows],
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        """The DCASE 2021 baseline's size table: Name | Param | NZ Param | Bits | Size | NZ Size."""
        lines = [
            "| Name | Param | NZ Param | Bits | Size | NZ Size |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.name} | {r.params:,} | {r.nonzero:,} | {r.bits} | "
                f"{_fmt_bytes(r.size_bytes)} B | {_fmt_bytes(r.nonzero_bytes)} B |"
            )
        lines.append(
            f"| **Total** | **{self.params:,}** | **{self.nonzero:,}** | | "
            f"**{_fmt_bytes(self.size_bytes)} B** | **{_fmt_bytes(self.nonzero_bytes)} B** |"
        )
        t = self.totals
        verdict = "within" if self.within_budget else "OVER"
        lines += [
            "",
            f"Non-zero parameters: {t['nonzero']:,} of {t['params']:,}; "
            f"non-zero size {_fmt_bytes(t['nonzero_bytes'])} bytes = {t['nonzero_kB']:.2f} kB = {t['nonzero_KiB']:.2f} KiB "
            f"({verdict} budget {self.budget_bytes:,} bytes).",
            f"Dense size {_fmt_bytes(t['size_bytes'])} bytes = {t['size_kB']:.2f} kB = {t['size_KiB']:.2f} KiB; "
            f"file on disk ({self.format.value}) {self.dense_file_bytes:,} bytes.",
            "",
            "| Kind | Bits | Param | NZ Param | NZ Size |",
            "|---|---:|---:|---:|---:|",
        ]
        for d in self.by_kind().values():
            lines.append(f"| {d['kind']} | {d['bits']} | {d['params']:,} | {d['nonzero']:,} | {_fmt_bytes(d['nonzero_bytes'])} B |")
        lines += ["", f"Counting rules: {COUNTING_RULES}"]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- format detection

_TFLITE_ID = b"TFL3"


def detect_format(path: Path) -> ArtifactFormat:
    """Format from the file's content (suffix only breaks ties): never trusts a name alone."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None
    if len(head) < 8:
        raise InputError(path, "file too short to be a model")
    if head[4:8] == _TFLITE_ID:
        return ArtifactFormat.TFLITE
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        raise InputError(path, "not a TFLite flatbuffer (missing TFL3 identifier)")
    if zipfile.is_zipfile(path) or head[:2] == b"\x80\x02":  # torch zip or legacy pickle
        return ArtifactFormat.CHECKPOINT
    if suffix == ".onnx":
        return ArtifactFormat.ONNX
    raise InputError(path, "unknown model format (expected a tinyasc checkpoint, .onnx or .tflite)")


def audit(path: str | Path, *, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> AuditReport:
    """Count the parameters of a checkpoint, ONNX or TFLite file (rules in the module docstring).

    Raises :class:`InputError` for a missing, unknown, corrupt or parameter-less file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model file not found")
    if budget_bytes <= 0:
        raise InputError(None, f"budget must be positive, got {budget_bytes}")
    fmt = detect_format(path)
    notes: list[str] = []
    if fmt is ArtifactFormat.TFLITE:
        rows = _audit_tflite(path, notes)
    elif fmt is ArtifactFormat.ONNX:
        rows = _audit_onnx(path, notes)
    else:
        rows = _audit_checkpoint(path, notes)
    if not rows:
        raise InputError(path, f"no stored parameters found in this {fmt.value}")
    for n in notes:
        log.info("%s: %s", path, n)
    return AuditReport(
        path=str(path), format=fmt, rows=rows, budget_bytes=int(budget_bytes),
        dense_file_bytes=path.stat().st_size, notes=notes,
    )


# --------------------------------------------------------------------------- kind heuristics

_NORM_STATS_SUFFIXES = ("running_mean", "running_var")


def _kind_from_name(name: str, ndim: int, norm_modules: set[str] | None = None) -> ParamKind:
    base, _, leaf = name.rpartition(".")
    if leaf in _NORM_STATS_SUFFIXES:
        return ParamKind.NORM_STATS
    if norm_modules is not None and base in norm_modules and leaf in ("weight", "bias"):
        return ParamKind.NORM_AFFINE
    if leaf == "weight" and ndim >= 3:
        return ParamKind.CONV_WEIGHT
    if leaf == "bias":
        return ParamKind.BIAS
    return ParamKind.OTHER


# --------------------------------------------------------------------------- checkpoint


def _on_int8_grid(w: np.ndarray, scale: np.ndarray | None) -> bool:
    """Is every output channel of ``w`` an integer multiple (|q| <= 127) of its symmetric scale?"""
    w2 = w.reshape(w.shape[0], -1).astype(np.float64)
    amax = np.abs(w2).max(axis=1)
    s = amax / 127.0 if scale is None else np.asarray(scale, dtype=np.float64).reshape(-1)
    if s.shape[0] != w2.shape[0]:
        return False
    s = np.where(s > 0, s, 1.0)
    q = w2 / s[:, None]
    # float32 storage of q*s: relative error ~6e-8, i.e. < 1e-5 steps for |q| <= 127.
    return bool(np.all(np.abs(q - np.round(q)) <= 1e-3) and np.all(np.abs(np.round(q)) <= 127))


def _audit_checkpoint(path: Path, notes: list[str]) -> list[AuditRow]:
    from tinyasc.contract import Checkpoint

    ckpt = Checkpoint.load(path)
    comp = ckpt.compression or {}
    per_layer: dict[str, Any] = comp.get("per_layer") or {}
    conv_bits = int(comp.get("conv_bits", 8)) if comp else None
    other_bits = int(comp.get("other_bits", 16)) if comp else None
    sd = ckpt.state_dict
    norm_modules = {k.rpartition(".")[0] for k in sd if k.endswith("running_var")}
    rows: list[AuditRow] = []
    folded = 0
    for name, t in sd.items():
        if not hasattr(t, "is_floating_point"):
            continue
        if not t.is_floating_point():
            continue  # num_batches_tracked and other integer counters: not model parameters
        arr = t.detach().cpu().float().numpy()
        kind = _kind_from_name(name, arr.ndim, norm_modules)
        if comp.get("norm_folded") and kind is ParamKind.NORM_STATS:
            identity = not np.any(arr) if name.endswith("running_mean") else bool(np.all(np.abs(arr - 1.0) <= 1e-3))
            if identity:
                folded += 1
                continue  # folded into the scale/shift: the identity (0, 1 - eps) a deployment does not store
            notes.append(f"{name}: declared folded but not the identity statistics; counted")
            log.warning("%s: %s", path, notes[-1])
        stored_bits = t.element_size() * 8
        bits = stored_bits
        if comp:
            layer = per_layer.get(name, {})
            declared = layer.get("bits")
            if declared is None:
                declared = conv_bits if kind is ParamKind.CONV_WEIGHT else other_bits
            declared = int(declared)
            if declared == 8:
                ok = arr.ndim >= 2 and _on_int8_grid(arr, layer.get("scale"))
            elif declared == 16:
                ok = bool(np.array_equal(arr, arr.astype(np.float16).astype(np.float32)))
            else:
                ok = declared >= stored_bits
            if ok:
                bits = declared
            else:
                notes.append(f"{name}: declared {declared}-bit but values are not on that grid; counted at {stored_bits} bits")
                log.warning("%s: %s", path, notes[-1])
        rows.append(AuditRow(name=name, params=int(arr.size), nonzero=int(np.count_nonzero(arr)), bits=bits, kind=kind, dtype=str(t.dtype).replace("torch.", "")))
    if folded:
        notes.append(f"{folded} BatchNorm running-statistics tensors are folded into scale/shift (identity values) and not counted")
    return rows


# --------------------------------------------------------------------------- ONNX


def _audit_onnx(path: Path, notes: list[str]) -> list[AuditRow]:
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
        kind = norm_inputs.get(name) or _kind_from_name(name, arr.ndim)
        if arr.dtype in (np.int32, np.int64) and norm_inputs.get(name) not in (ParamKind.CONV_WEIGHT, ParamKind.BIAS):
            index.append(int(arr.size * bits // 8))
            continue
        rows.append(AuditRow(name=name, params=int(arr.size), nonzero=int(np.count_nonzero(arr)), bits=bits, kind=kind, dtype=str(arr.dtype)))
    _note_index(notes, index)
    return rows


def _note_index(notes: list[str], index: list[int]) -> None:
    if index:
        notes.append(f"{len(index)} index constants (int32/int64 shapes, axes, permutations, paddings; "
                     f"{sum(index):,} B) are graph structure, not parameters: not counted")


# --------------------------------------------------------------------------- TFLite

# TensorType -> (numpy dtype, bits); INT4 is packed two per byte.
_TFLITE_TYPES: dict[int, tuple[Any, int, str]] = {
    0: (np.float32, 32, "float32"),
    1: (np.float16, 16, "float16"),
    2: (np.int32, 32, "int32"),
    3: (np.uint8, 8, "uint8"),
    4: (np.int64, 64, "int64"),
    6: (np.bool_, 8, "bool"),
    7: (np.int16, 16, "int16"),
    9: (np.int8, 8, "int8"),
    10: (np.float64, 64, "float64"),
    12: (np.uint64, 64, "uint64"),
    15: (np.uint32, 32, "uint32"),
    16: (np.uint16, 16, "uint16"),
}

_TFLITE_CONV_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "CONV_3D", "TRANSPOSE_CONV"}


def _audit_tflite(path: Path, notes: list[str]) -> list[AuditRow]:
    data = path.read_bytes()
    try:
        return _parse_tflite(data, path, notes)
    except InputError:
        raise
    except Exception as exc:  # flatbuffers raises struct.error / IndexError on a bad offset
        raise InputError(path, f"corrupt TFLite flatbuffer ({type(exc).__name__})") from None


def _parse_tflite(data: bytes, path: Path, notes: list[str]) -> list[AuditRow]:
    import tflite

    model = tflite.Model.GetRootAsModel(data, 0)
    n_buffers = model.BuffersLength()
    if model.SubgraphsLength() == 0:
        raise InputError(path, "TFLite model has no subgraphs")
    op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    opcode_names = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        opcode_names.append(op_names.get(code, str(code)))
    rows: list[AuditRow] = []
    index: list[int] = []
    seen_buffers: set[int] = set()
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        role: dict[int, ParamKind] = {}
        dequant_src: dict[int, int] = {}  # float16 weights reach a conv through DEQUANTIZE
        ops = []
        for o in range(sg.OperatorsLength()):
            op = sg.Operators(o)
            name = opcode_names[op.OpcodeIndex()] if op.OpcodeIndex() < len(opcode_names) else "?"
            ops.append((name, op))
            if name == "DEQUANTIZE" and op.InputsLength() == 1 and op.OutputsLength() == 1:
                dequant_src[int(op.Outputs(0))] = int(op.Inputs(0))
        for name, op in ops:
            if name in _TFLITE_CONV_OPS and op.InputsLength() >= 2:
                w = int(op.Inputs(1))
                role.setdefault(dequant_src.get(w, w), ParamKind.CONV_WEIGHT)
                if op.InputsLength() >= 3 and op.Inputs(2) >= 0:
                    b = int(op.Inputs(2))
                    role.setdefault(dequant_src.get(b, b), ParamKind.BIAS)
        for ti in range(sg.TensorsLength()):
            t = sg.Tensors(ti)
            b = int(t.Buffer())
            if b <= 0 or b in seen_buffers:
                continue  # buffer 0 is the empty sentinel; shared buffers count once
            if b >= n_buffers:
                raise InputError(path, f"corrupt TFLite flatbuffer (tensor points at buffer {b} of {n_buffers})")
            buf = model.Buffers(b)
            raw = _buffer_bytes(buf, data, path)
            if raw is None:
                continue  # not a constant tensor
            seen_buffers.add(b)
            ttype = int(t.Type())
            name = t.Name().decode("utf-8", "replace") if t.Name() is not None else f"tensor_{ti}"
            shape = [int(x) for x in t.ShapeAsNumpy()] if t.ShapeLength() else []
            numel = int(np.prod(shape)) if shape else 1
            if ttype == 17:  # INT4, packed
                bits, dtype = 4, "int4"
                vals = np.frombuffer(raw, dtype=np.uint8)
                lo = (vals & 0x0F).astype(np.int8)
                hi = (vals >> 4).astype(np.int8)
                q = np.stack([lo, hi], axis=1).reshape(-1)[:numel]
                q = np.where(q > 7, q - 16, q)
            elif ttype in _TFLITE_TYPES:
                np_dtype, bits, dtype = _TFLITE_TYPES[ttype]
                if len(raw) % np.dtype(np_dtype).itemsize:
                    raise InputError(path, f"corrupt TFLite flatbuffer (buffer of {name!r} has {len(raw)} bytes)")
                q = np.frombuffer(raw, dtype=np_dtype)
            else:
                notes.append(f"{name}: tensor type {ttype} not counted")
                continue
            if q.size != numel and shape:
                raise InputError(path, f"corrupt TFLite flatbuffer ({name!r}: {q.size} values for shape {shape})")
            if ttype in (2, 4) and role.get(ti) is not ParamKind.BIAS:
                index.append(len(raw))
                continue
            nonzero = _tflite_nonzero(q, shape, t.Quantization())
            rows.append(AuditRow(name=name, params=int(q.size), nonzero=nonzero, bits=bits, kind=role.get(ti, ParamKind.OTHER), dtype=dtype))
    _note_index(notes, index)
    return rows


def _buffer_bytes(buf: Any, data: bytes, path: Path) -> bytes | None:
    offset = int(buf.Offset()) if hasattr(buf, "Offset") else 0
    if offset > 1:  # large models keep buffers after the flatbuffer (offset/size fields)
        size = int(buf.Size())
        if offset + size > len(data):
            raise InputError(path, "corrupt TFLite flatbuffer (buffer past end of file)")
        return data[offset : offset + size] if size else None
    n = buf.DataLength()
    if n == 0:
        return None
    raw = buf.DataAsNumpy().tobytes()
    if len(raw) != n:
        raise InputError(path, "corrupt TFLite flatbuffer (truncated)")
    return raw


def _tflite_nonzero(q: np.ndarray, shape: list[int], quant: Any) -> int:
    """Values whose real value is non-zero: stored integer != its (per-channel) zero point."""
    if quant is None or quant.ZeroPointLength() == 0 or not np.issubdtype(q.dtype, np.integer):
        return int(np.count_nonzero(q))
    zp = quant.ZeroPointAsNumpy().astype(np.int64)
    if zp.size == 1:
        return int(np.count_nonzero(q.astype(np.int64) != zp[0]))
    axis = int(quant.QuantizedDimension())
    if not shape or shape[axis] != zp.size:
        return int(np.count_nonzero(q))
    bshape = [1] * len(shape)
    bshape[axis] = zp.size
    return int(np.count_nonzero(q.reshape(shape).astype(np.int64) != zp.reshape(bshape)))


def budget_line(report: AuditReport) -> str:
    """One-line verdict for logs."""
    t = report.totals
    return (
        f"{report.path}: {t['nonzero']:,} non-zero params, {t['nonzero_bytes']:,.0f} B "
        f"({t['nonzero_kB']:.2f} kB / {t['nonzero_KiB']:.2f} KiB) "
        f"{'within' if report.within_budget else 'over'} {report.budget_bytes:,} B; dense file {report.dense_file_bytes:,} B"
    )


__all__ = [
    "ArtifactFormat",
    "AuditReport",
    "AuditRow",
    "COUNTING_RULES",
    "DEFAULT_BUDGET_BYTES",
    "ParamKind",
    "audit",
    "budget_line",
    "detect_format",
]
