"""The rules a model must keep before any stage uses it, each a small named function.

A rule takes the decoded :class:`~tinyasc.tflite_io.model.TFLiteModel` and yields one message
per violation, ``"<tensor or op>: <rule>"``; :func:`check` raises the first as
:class:`InputError`. The reader has already bounds-checked every offset; these rules check
what the bytes mean: operand indices, buffer sizes, quantization, the ranks and shapes each op
needs, and that every requantization multiplier a kernel derives (TFLite's
``QuantizeMultiplier``: ``real = m * 2^(shift - 31)``, ``m`` an int32 in ``[2^30, 2^31)``) can
be held by the generated C's int32 multiplier and shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

from tinyasc.errors import InputError
from tinyasc.qmath import quantize_multiplier
from tinyasc.tflite_io.model import WEIGHTED_OPS, Operator, Tensor, TFLiteModel, stored_bytes

#: Integer ranges of zero points per tensor type.
ZERO_POINT_RANGES: dict[str, tuple[int, int]] = {
    "INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-32768, 32767), "INT4": (-8, 7),
    "INT32": (-(2**31), 2**31 - 1), "INT64": (-(2**63), 2**63 - 1),
}
#: Largest left shift the generated C's ``31 - shift`` rounding takes (TFLite's kernels alike).
MAX_SHIFT = 30
#: Elements a tensor may hold (int32 sizes in the generated C and in TFLite Micro).
MAX_ELEMENTS = 2**31 - 1
#: Inputs that may be absent (index -1): the bias of the weighted ops.
OPTIONAL_INPUTS: dict[str, frozenset[int]] = {op: frozenset({2}) for op in WEIGHTED_OPS}
#: Fewest inputs of the ops whose operands the rules check.
MIN_INPUTS: dict[str, int] = {
    "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2, "SUB": 2, "MUL": 2,
    "SQUARED_DIFFERENCE": 2, "MAX_POOL_2D": 1, "AVERAGE_POOL_2D": 1, "MEAN": 2, "PAD": 2, "PADV2": 2,
    "RESHAPE": 1, "TRANSPOSE": 2, "RSQRT": 1, "LOGISTIC": 1, "SOFTMAX": 1, "CONCATENATION": 1,
}
#: Options that are counts (strides, dilations, filter sizes): at least 1.
POSITIVE_OPTIONS = ("StrideH", "StrideW", "DilationHFactor", "DilationWFactor", "FilterHeight", "FilterWidth")
#: ``ActivationFunctionType`` codes of the schema (NONE, RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT).
ACTIVATION_CODES = frozenset(range(6))


@dataclass(frozen=True)
class Rule:
    """One validation rule: its name (for tests and messages) and its check."""

    name: str
    check: Callable[[TFLiteModel], Iterator[str]]


def _tensor_label(t: Tensor) -> str:
    return f"tensor {t.index} ({t.name})"


def _op_label(op: Operator) -> str:
    return f"operator {op.index} ({op.opcode})"


def _int_quantized(t: Tensor) -> bool:
    return t.quantized and t.dtype in ("INT8", "INT16", "UINT8")


# --------------------------------------------------------------------------- structure


def graph_io(m: TFLiteModel) -> Iterator[str]:
    """Graph inputs and outputs are tensors of the subgraph."""
    for side, idx in (("input", m.inputs), ("output", m.outputs)):
        for k in idx:
            if not 0 <= k < len(m.tensors):
                yield f"graph {side} {k}: no such tensor (model has {len(m.tensors)})"


def operator_operands(m: TFLiteModel) -> Iterator[str]:
    """Operator inputs and outputs exist; -1 (absent) only where the op's input is optional."""
    n = len(m.tensors)
    for op in m.operators:
        optional = OPTIONAL_INPUTS.get(op.opcode)
        for pos, k in enumerate(op.inputs):
            if k == -1 and (optional is None and op.opcode not in MIN_INPUTS or optional and pos in optional):
                continue
            if not 0 <= k < n:
                yield f"{_op_label(op)}: input {pos} is tensor {k}, not one of the {n} tensors"
        if not op.outputs:
            yield f"{_op_label(op)}: no output"
        for pos, k in enumerate(op.outputs):
            if not 0 <= k < n:
                yield f"{_op_label(op)}: output {pos} is tensor {k}, not one of the {n} tensors"
        need = MIN_INPUTS.get(op.opcode, 0)
        if len(op.inputs) < need:
            yield f"{_op_label(op)}: {len(op.inputs)} inputs, needs {need}"


def tensor_shapes(m: TFLiteModel) -> Iterator[str]:
    """Dimensions are non-negative and a tensor holds at most 2^31 - 1 elements."""
    for t in m.tensors:
        if any(d < 0 for d in t.shape):
            yield f"{_tensor_label(t)}: negative dimension in shape {list(t.shape)}"
        elif math.prod(t.shape) > MAX_ELEMENTS:
            yield f"{_tensor_label(t)}: shape {list(t.shape)} holds more than 2^31 - 1 elements"


def buffer_sizes(m: TFLiteModel) -> Iterator[str]:
    """A constant's buffer holds exactly shape x element size bytes."""
    for t in m.tensors:
        if t.data is None or any(d < 0 for d in t.shape):
            continue
        want = stored_bytes(t.dtype, t.size)
        if want is None:
            continue  # a type the reader does not decode (string, complex...): kept as raw bytes
        if t.data.nbytes != want:
            yield f"{_tensor_label(t)}: buffer of {t.data.nbytes} bytes for shape {list(t.shape)} {t.dtype} ({want} bytes)"


def quantization(m: TFLiteModel) -> Iterator[str]:
    """Scales finite (positive for activations), zero points in the type's range, one scale per channel."""
    consts = {t.index for t in m.tensors if t.is_const}
    for t in m.tensors:
        if not t.quantized:
            continue
        label = _tensor_label(t)
        bad = [s for s in t.scale if not math.isfinite(s) or s < 0 or (s == 0 and t.index not in consts)]
        if bad:
            yield f"{label}: quantization scale {bad[0]!r} is not finite and positive"
            continue
        if len(t.zero_point) != len(t.scale):
            yield f"{label}: {len(t.zero_point)} zero points for {len(t.scale)} scales"
            continue
        lo, hi = ZERO_POINT_RANGES.get(t.dtype, (-(2**63), 2**63 - 1))
        out = [z for z in t.zero_point if not lo <= z <= hi]
        if out:
            yield f"{label}: zero point {out[0]} outside the {t.dtype} range [{lo}, {hi}]"
            continue
        if len(t.scale) > 1:
            qd = t.quantized_dimension
            if not 0 <= qd < len(t.shape):
                yield f"{label}: quantized dimension {qd} outside rank {len(t.shape)}"
            elif len(t.scale) != t.shape[qd]:
                yield f"{label}: {len(t.scale)} per-channel scales for {t.shape[qd]} channels (dimension {qd})"


def op_options(m: TFLiteModel) -> Iterator[str]:
    """Strides, dilations and filter sizes at least 1; padding SAME/VALID; a defined fused activation."""
    for op in m.operators:
        o = op.options
        for key in POSITIVE_OPTIONS:
            if key in o and o[key] < 1:
                yield f"{_op_label(op)}: option {key} = {o[key]} (must be at least 1)"
        if "Padding" in o and o["Padding"] not in (0, 1):
            yield f"{_op_label(op)}: padding code {o['Padding']} is neither SAME nor VALID"
        if "FusedActivationFunction" in o and o["FusedActivationFunction"] not in ACTIVATION_CODES:
            yield f"{_op_label(op)}: fused activation code {o['FusedActivationFunction']} is not defined"


# --------------------------------------------------------------------------- per-op shapes


def _operands(m: TFLiteModel, op: Operator) -> tuple[Tensor | None, ...]:
    """Input tensors (None when absent or out of range) followed by the first output."""
    n = len(m.tensors)
    ins = tuple(m.tensors[k] if 0 <= k < n else None for k in op.inputs)
    out = m.tensors[op.outputs[0]] if op.outputs and 0 <= op.outputs[0] < n else None
    return (*ins, out)


def _weighted_shapes(op: Operator, x: Tensor, w: Tensor, b: Tensor | None, y: Tensor, computed: bool) -> Iterator[str]:
    label = _op_label(op)
    if not w.is_const and not computed:
        yield f"{label}: weights {w.name} are neither a constant nor computed by an operator or given as input"
        return
    if op.opcode == "FULLY_CONNECTED":
        if len(w.shape) != 2:
            yield f"{label}: weights {w.name} have rank {len(w.shape)}, need 2 (out, in)"
            return
        out_ch, depth = w.shape
        if depth <= 0 or x.size % depth:
            yield f"{label}: input {list(x.shape)} is not a whole number of rows of {depth}"
        if not y.shape or y.shape[-1] != out_ch:
            yield f"{label}: output {list(y.shape)} does not end in the weights' {out_ch} units"
    else:
        for t, what in ((x, "input"), (w, "filter"), (y, "output")):
            if len(t.shape) != 4:
                yield f"{label}: {what} {t.name} has rank {len(t.shape)}, need 4 (NHWC)"
                return
        out_ch = y.shape[3]
        if op.opcode == "CONV_2D":
            if w.shape[0] != out_ch:
                yield f"{label}: filter {list(w.shape)} has {w.shape[0]} output channels, output has {out_ch}"
            elif w.shape[3] <= 0 or x.shape[3] % w.shape[3]:
                yield f"{label}: input channels {x.shape[3]} are not a multiple of the filter's {w.shape[3]}"
        else:
            if w.shape[0] != 1 or w.shape[3] != out_ch:
                yield f"{label}: filter {list(w.shape)} must be [1, kh, kw, {out_ch}]"
            elif x.shape[3] <= 0 or out_ch % x.shape[3]:
                yield f"{label}: output channels {out_ch} are not a multiple of the input's {x.shape[3]}"
    if b is not None and (len(b.shape) != 1 or b.shape[0] != out_ch):
        yield f"{label}: bias {b.name} has shape {list(b.shape)}, need [{out_ch}]"


def _broadcasts(a: tuple[int, ...], y: tuple[int, ...]) -> bool:
    if len(a) > len(y):
        return False
    return all(d in (1, e) for d, e in zip(reversed(a), reversed(y)))


def op_shapes(m: TFLiteModel) -> Iterator[str]:
    """Ranks and shapes each op needs (conv/depthwise rank 4, FC rank 2, bias [out], pooling rank 4,
    element-wise operands broadcastable to the output)."""
    computed = m.activations()
    for op in m.operators:
        if op.opcode not in MIN_INPUTS or len(op.inputs) < MIN_INPUTS[op.opcode]:
            continue
        *ins, y = _operands(m, op)
        if y is None or any(t is None for t in ins[:MIN_INPUTS[op.opcode]]):
            continue  # operator_operands names it
        if op.opcode in WEIGHTED_OPS:
            b = ins[2] if len(ins) > 2 else None
            yield from _weighted_shapes(op, ins[0], ins[1], b, y, op.inputs[1] in computed)
        elif op.opcode in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            x = ins[0]
            if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[3] != y.shape[3]:
                yield f"{_op_label(op)}: input {list(x.shape)} and output {list(y.shape)} must be NHWC with equal channels"
        elif op.opcode in ("ADD", "SUB", "MUL", "SQUARED_DIFFERENCE"):
            for t in ins[:2]:
                if not _broadcasts(t.shape, y.shape):
                    yield f"{_op_label(op)}: operand {t.name} {list(t.shape)} does not broadcast to the output {list(y.shape)}"


# --------------------------------------------------------------------------- multipliers


def multiplier_problem(real: float, *, below_one: bool = False, zero_ok: bool = False,
                       min_shift: int | None = None) -> str | None:
    """Why ``real`` cannot become an int32 multiplier and a shift in ``[-31, 30]`` (None: it can).

    A multiplier below 2^-32 is flushed to zero by TFLite (and by the generated C) alike, so only
    the top of the range, non-finite and non-positive values, ``>= 1`` where the kernel needs a
    multiplier below one (ADD, SUB), and a shift below ``min_shift`` where the kernel derives an int32
    from it (LOGISTIC's input range radius, ``15 * 2^27 / 2^shift``), are refused.
    """
    if not math.isfinite(real) or real < 0 or (real == 0 and not zero_ok):
        return f"multiplier {real!r} is not finite and positive"
    if real == 0:
        return None
    if below_one and real >= 1.0:
        return f"multiplier {real:.6g} must be below 1"
    fixed, exp = quantize_multiplier(real)
    if fixed == 0:  # below 2^-32: flushed to zero alike by TFLite and the C; its true exponent still counts
        exp = math.frexp(real)[1]
    if exp > MAX_SHIFT:
        return f"multiplier {real:.6g} needs a left shift of {exp} (the C kernels take at most {MAX_SHIFT})"
    if min_shift is not None and exp < min_shift:
        return f"multiplier {real:.6g} needs a shift of {exp} (this kernel takes at least {min_shift})"
    return None


def _multipliers(m: TFLiteModel, op: Operator) -> Iterator[tuple[str, float, dict[str, object]]]:
    """(what, real multiplier, :func:`multiplier_problem` options) for each multiplier ``op`` derives."""
    *ins, y = _operands(m, op)
    if y is None or any(t is None or not _int_quantized(t) for t in ins[:1]) or not _int_quantized(y):
        return
    sx, sy = ins[0].scale[0], y.scale[0]
    if op.opcode in WEIGHTED_OPS and len(ins) > 1 and ins[1] is not None and ins[1].quantized:
        for c, sw in enumerate(ins[1].scale):
            yield f"channel {c} (input x weight / output scale)", sx * sw / sy, {"zero_ok": sw == 0}
    elif op.opcode in ("ADD", "SUB", "SQUARED_DIFFERENCE", "MUL") and len(ins) > 1 and ins[1] is not None and ins[1].quantized:
        s2 = ins[1].scale[0]
        twice = 2.0 * max(sx, s2)
        if op.opcode == "MUL":
            yield "input1 x input2 / output scale", sx * s2 / sy, {}
        elif op.opcode == "SQUARED_DIFFERENCE":
            yield "output", twice * twice / ((1 << 14) * sy), {}
        else:
            left = 15 if y.dtype == "INT16" else 20
            yield "input 1", sx / twice, {"below_one": True}
            yield "input 2", s2 / twice, {"below_one": True}
            yield "output", twice / ((1 << left) * sy), {"below_one": True}
    elif op.opcode == "RSQRT":
        yield "1 / (sqrt(input scale) x output scale)", 1.0 / (math.sqrt(sx) * sy), {}
    elif op.opcode == "MEAN":
        yield "input / output scale", sx / sy, {}
    elif op.opcode == "LOGISTIC" and y.dtype == "INT8":
        yield "input scale x 2^27", sx * float(1 << 27), {"min_shift": 0}
    elif op.opcode == "SOFTMAX" and y.dtype == "INT8":
        real = float(op.options.get("Beta", 1.0)) * sx * float(1 << 26)
        if not real > 1.0:
            yield "beta x input scale x 2^26 (must exceed 1)", math.nan, {}
        else:
            yield "beta x input scale x 2^26", min(real, float(2**31 - 1)), {}


def requant_multipliers(m: TFLiteModel) -> Iterator[str]:
    """Every requantization multiplier the kernels derive fits the generated C's int32 multiplier + shift."""
    for op in m.operators:
        for what, real, options in _multipliers(m, op):
            problem = multiplier_problem(real, **options)
            if problem:
                yield f"{_op_label(op)}: {what} {problem}"


#: The rules, in the order they run (each may assume the earlier ones hold: structure first).
RULES: tuple[Rule, ...] = (
    Rule("graph_io", graph_io),
    Rule("operator_operands", operator_operands),
    Rule("tensor_shapes", tensor_shapes),
    Rule("buffer_sizes", buffer_sizes),
    Rule("quantization", quantization),
    Rule("op_options", op_options),
    Rule("op_shapes", op_shapes),
    Rule("requant_multipliers", requant_multipliers),
)


def violations(model: TFLiteModel, rules: tuple[Rule, ...] = RULES) -> list[str]:
    """Every violation of the first rule of ``rules`` that has any, each ``"<rule>: <message>"``
    (empty: the model is valid). Later rules assume the earlier ones hold, so they are not run.
    """
    for rule in rules:
        found = [f"{rule.name}: {msg}" for msg in rule.check(model)]
        if found:
            return found
    return []


def check(model: TFLiteModel) -> None:
    """Raise :class:`InputError` naming the first violated rule (the model's path as the file)."""
    for rule in RULES:
        for msg in rule.check(model):
            raise InputError(model.path or None, f"{msg} [{rule.name}]")
