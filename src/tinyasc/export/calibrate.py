"""Activation ranges of the int8 graph, chosen by us and written into the ``.tflite`` in place.

The TFLite converter (under onnx2tf) sets each int8 activation's range to the min/max seen on the
calibration clips. One int8 scale spans the whole range, so a handful of outliers (a residual
stream here reaches 20 standard deviations) cost every other value most of its 256 levels, and
the noise compounds over the ~75 requantized tensors of a BC-ResNet. ``percentile`` calibration
clips each range to the ``p``-th percentile (low side ``100 - p``) of that tensor's float values
over the calibration clips, for a few candidate ``p`` (100 is the plain min/max), keeps the
candidate whose int8 outputs are closest to the float file's on held-out training clips, and
rewrites the file:

* each activation tensor's ``(scale, zero_point)`` (``scale = (hi - lo) / 255``, zero point so
  that ``lo`` maps to -128, the range always holding 0, as the converter does);
* tensors that TFLite requires to share parameters (the input and output of RESHAPE, TRANSPOSE,
  PAD, MAX_POOL_2D...) get one range, the union of theirs;
* the int32 bias of every convolution whose input scale changed, rescaled (``b * s_old / s_new``,
  rounded) with its scale vector, since a bias is quantized at ``s_input * s_weight``.

Fixed-range outputs (LOGISTIC's 1/256) and the graph outputs keep the converter's parameters.
Weights are untouched. The float values come from the float ``.tflite`` of the same conversion,
whose ops are matched to the int8 file's by graph structure (op type, inputs, shapes), not by
position or name: the two files order some ops differently and name fused ops differently.

The file is patched in place (same size, same metadata): the package's one reader
(:mod:`tinyasc.tflite_io`) records where each scale, zero-point and buffer vector lies in the file,
and the writer patches numpy views at those offsets, so no flatbuffer writer (TensorFlow) is needed.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tinyasc.qmath import int8_activation_params
from tinyasc.tflite_io import Tensor, parse_model

log = logging.getLogger(__name__)

#: Ops whose output must carry the input's quantization parameters (TFLite's int8 kernels copy codes).
SAME_PARAMS_OPS = frozenset({"RESHAPE", "TRANSPOSE", "PAD", "PADV2", "MAX_POOL_2D", "SQUEEZE", "EXPAND_DIMS"})
#: Ops whose int8 output parameters are fixed by the kernel.
FIXED_OUTPUT_OPS = frozenset({"LOGISTIC", "TANH", "SOFTMAX", "LOG_SOFTMAX"})
#: Ops with an int32 bias quantized at ``input_scale * weight_scale`` (input 0, weights 1, bias 2).
BIASED_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


class Calibration(str, enum.Enum):
    """How the int8 activation ranges are chosen."""

    MINMAX = "minmax"
    """The TFLite converter's: min/max of each tensor over the calibration clips."""
    PERCENTILE = "percentile"
    """Each range clipped to the ``p``-th percentile of the tensor's values, ``p`` the candidate
    (``--calib-percentile``) whose int8 file best matches the float one on held-out training clips."""


@dataclass(frozen=True)
class _Op:
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


class _Graph:
    """The first subgraph of a flatbuffer held in a ``bytearray``, read by the package's one reader
    (:func:`tinyasc.tflite_io.parse_model`); scales, zero points and constant buffers are writable numpy
    views into the bytes at the byte offsets the reader recorded."""

    def __init__(self, data: bytearray):
        self.data = data
        self.model = parse_model(bytes(data))
        self.ops = [_Op(op.opcode, op.inputs, op.outputs) for op in self.model.operators]
        self.inputs = list(self.model.inputs)
        self.outputs = list(self.model.outputs)
        self.activations = self.model.activations()
        """Graph inputs and op outputs: the tensors computed at run time."""

    def tensor(self, i: int) -> Tensor:
        return self.model.tensors[i]

    def shape(self, i: int) -> tuple[int, ...]:
        return self.tensor(i).shape

    def quant(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Writable (scale, zero_point) vectors of tensor ``i``, or None when unquantized."""
        t = self.tensor(i)
        if not t.quantized or t.scale_offset < 0 or t.zero_point_offset < 0:
            return None
        n = len(t.scale)
        return (np.frombuffer(self.data, dtype="<f4", count=n, offset=t.scale_offset),
                np.frombuffer(self.data, dtype="<i8", count=n, offset=t.zero_point_offset))

    def buffer_data(self, i: int) -> np.ndarray:
        """Writable raw bytes (uint8 view) of tensor ``i``'s constant buffer."""
        t = self.tensor(i)
        return np.frombuffer(self.data, dtype=np.uint8, count=t.data.nbytes, offset=t.data_offset)


def match_activations(float_data: bytes, int8_data: bytes) -> dict[int, int]:
    """int8 activation tensor index -> float tensor index holding the same value, by graph structure.

    Walks the int8 ops in order; each is matched to the one float op of the same type whose
    activation inputs are the matches of its own, with the same output and constant-input shapes.
    Raises ``ValueError`` when the graphs differ (then a percentile calibration cannot be done).
    """
    fg, qg = _Graph(bytearray(float_data)), _Graph(bytearray(int8_data))
    if len(fg.inputs) != len(qg.inputs) or len(fg.ops) != len(qg.ops):
        raise ValueError(f"float and int8 graphs differ ({len(fg.ops)} vs {len(qg.ops)} ops)")
    mapping = dict(zip(qg.inputs, fg.inputs))

    def signature(g: _Graph, op: _Op) -> tuple[tuple[Any, ...], list[int]]:
        act = [i for i in op.inputs if i in g.activations]
        consts = tuple(g.shape(i) for i in op.inputs if i >= 0 and i not in g.activations)
        return (op.name, tuple(g.shape(o) for o in op.outputs), consts), act

    f_candidates: dict[tuple[Any, ...], list[int]] = {}
    for j, op in enumerate(fg.ops):
        sig, act = signature(fg, op)
        f_candidates.setdefault((*sig, tuple(act)), []).append(j)
    used: set[int] = set()
    for k, op in enumerate(qg.ops):
        sig, act = signature(qg, op)
        if any(i not in mapping for i in act):
            raise ValueError(f"int8 op {k} ({op.name}) reads a tensor with no float match")
        key = (*sig, tuple(mapping[i] for i in act))
        free = [j for j in f_candidates.get(key, []) if j not in used]
        if len(free) != 1:
            raise ValueError(f"int8 op {k} ({op.name}) has {len(free)} structural matches in the float graph")
        used.add(free[0])
        for q_out, f_out in zip(op.outputs, fg.ops[free[0]].outputs):
            mapping[q_out] = f_out
    return mapping


def _param_groups(g: _Graph) -> list[list[int]]:
    """Activation tensors that must share quantization parameters (union-find over SAME_PARAMS_OPS)."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    acts = list(g.inputs)
    for op in g.ops:
        acts.extend(op.outputs)
        if op.name in SAME_PARAMS_OPS:
            parent[find(op.outputs[0])] = find(op.inputs[0])
    groups: dict[int, list[int]] = {}
    for i in dict.fromkeys(acts):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


class _Extremes:
    """Running k smallest and k largest values of a stream (the percentile's tail, exactly)."""

    def __init__(self, k: int):
        self.k = k
        self.lo = np.empty(0, np.float32)
        self.hi = np.empty(0, np.float32)

    def add(self, v: np.ndarray) -> None:
        v = v.ravel()
        k = self.k
        lo = np.concatenate([self.lo, v if v.size <= k else np.partition(v, k - 1)[:k]])
        hi = np.concatenate([self.hi, v if v.size <= k else np.partition(v, v.size - k)[-k:]])
        self.lo = lo if lo.size <= k else np.partition(lo, k - 1)[:k]
        self.hi = hi if hi.size <= k else np.partition(hi, hi.size - k)[-k:]

    def range(self, k: int | None = None) -> tuple[float, float]:
        """The k-th smallest and k-th largest value seen (``k <= self.k``; default ``self.k``)."""
        k = self.k if k is None else k
        if k > self.k:
            raise ValueError(f"k = {k} > {self.k} values kept")
        lo, hi = np.sort(self.lo), np.sort(self.hi)
        return float(lo[min(k, lo.size) - 1]), float(hi[max(hi.size - k, 0)])


def order_k(count: int, percentile: float) -> int:
    """Rank of the ``percentile`` among ``count`` values: ``1 + floor(count * (1 - p / 100))`` (1: the max)."""
    return 1 + int(np.floor(count * (1.0 - percentile / 100.0)))


def tensor_ranges(float_path: str | Path, mapping: dict[int, int], float_shapes: dict[int, tuple[int, ...]],
                  x_nhwc: np.ndarray, percentiles: Sequence[float]) -> dict[float, dict[int, tuple[float, float]]]:
    """Per percentile ``p``: ``(lo, hi)`` per int8 tensor, the ``100 - p`` and ``p`` percentiles of its float
    values over ``x_nhwc``, in one pass over the clips.

    ``lo`` is the k-th smallest value with ``k =`` :func:`order_k` (``hi`` alike), so ``p = 100`` gives
    the min/max the converter takes.
    """
    from tinyasc.export.interpreters import litert_interpreter

    it = litert_interpreter(float_path, reference=False, preserve_all=True)
    inp = it.get_input_details()[0]["index"]
    n = len(x_nhwc)
    counts = {q: n * int(np.prod(float_shapes[f]) or 1) for q, f in mapping.items()}
    ext = {q: _Extremes(max(order_k(counts[q], p) for p in percentiles)) for q in mapping}
    for c in range(n):
        it.set_tensor(inp, np.ascontiguousarray(x_nhwc[c : c + 1], dtype=np.float32))
        it.invoke()
        for q, f in mapping.items():
            ext[q].add(it.get_tensor(f))
    return {p: {q: e.range(order_k(counts[q], p)) for q, e in ext.items()} for p in percentiles}


@dataclass(frozen=True, kw_only=True)
class RangeChange:
    """One group of int8 tensors whose range was rewritten."""

    tensors: tuple[str, ...]
    """Names of the tensors sharing these parameters (the producing op's output first)."""
    old: tuple[float, int]
    """Converter's (scale, zero point)."""
    new: tuple[float, int]
    """Calibrated (scale, zero point)."""

    def to_dict(self) -> dict[str, Any]:
        return {"tensors": list(self.tensors), "old_scale": self.old[0], "old_zero_point": self.old[1],
                "new_scale": self.new[0], "new_zero_point": self.new[1], "scale_ratio": self.new[0] / self.old[0]}


def int8_params(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric int8 ``(scale, zero_point)`` of ``[lo, hi]`` widened to hold 0 (TFLite's activation scheme)."""
    return int8_activation_params(lo, hi)


def rewrite_ranges(int8_data: bytes, ranges: dict[int, tuple[float, float]]) -> tuple[bytes, list[RangeChange], list[str]]:
    """Set the int8 activation ranges of ``int8_data`` to ``ranges`` (per tensor index).

    Tensors that must share parameters get the union of their ranges; fixed-range op outputs and
    graph outputs keep theirs (so does every tensor of their group). See :func:`rewrite_params`.
    """
    g = _Graph(bytearray(int8_data))
    params: dict[int, tuple[float, int]] = {}
    for group in _param_groups(g):
        known = [ranges[i] for i in group if i in ranges]
        if known:
            p = int8_params(min(r[0] for r in known), max(r[1] for r in known))
            params.update({i: p for i in group})
    return rewrite_params(int8_data, params, keep_outputs=True)


def param_groups(int8_data: bytes) -> list[list[int]]:
    """Activation tensor indices of ``int8_data`` that share one set of quantization parameters."""
    return _param_groups(_Graph(bytearray(int8_data)))


def rewrite_params(int8_data: bytes, params: dict[int, tuple[float, int]], *,
                   keep_outputs: bool, requantize_biases: bool = True) -> tuple[bytes, list[RangeChange], list[str]]:
    """Set the ``(scale, zero_point)`` of the int8 activation tensors in ``params`` (per tensor index).

    Every tensor of a group that must share parameters gets them (members given different ones:
    ``ValueError``). Fixed-range op outputs (LOGISTIC...) keep theirs, and so do the graph outputs when
    ``keep_outputs``. The int32 bias of every convolution reading a changed group is requantized
    (``b * s_old / s_new``, rounded) with its scale vector, since a bias is quantized at ``s_input *
    s_weight``; a group whose new scale would overflow such a bias keeps its parameters (``requantize_biases``
    False: biases and their scales are left to the caller, who writes them next). Returns
    ``(bytes, changes, kept)``, ``kept`` naming the groups left as they were for that reason.
    """
    g = _Graph(bytearray(int8_data))
    fixed = set(g.outputs) if keep_outputs else set()
    for op in g.ops:
        if op.name in FIXED_OUTPUT_OPS:
            fixed.update(op.outputs)
    biased = [op for op in g.ops if op.name in BIASED_OPS and len(op.inputs) > 2 and op.inputs[2] >= 0]
    bias_users: dict[int, int] = {}  # bias buffer -> convolutions reading it (the converter dedups equal constants)
    for op in biased:
        buf = g.tensor(op.inputs[2]).buffer
        bias_users[buf] = bias_users.get(buf, 0) + 1
    changes: list[RangeChange] = []
    kept: list[str] = []
    for group in _param_groups(g):
        qs = [g.quant(i) for i in group]
        given = {params[i] for i in group if i in params}
        if any(q is None or q[0].size != 1 for q in qs) or fixed.intersection(group) or not given:
            continue
        if len(given) > 1:
            raise ValueError(f"tensors {', '.join(g.tensor(i).name for i in group)} must share quantization parameters "
                             f"but were given {sorted(given)}")
        scale, zp = given.pop()
        scale = float(np.float32(scale))
        old = (float(qs[0][0][0]), int(qs[0][1][0]))
        readers = [op for op in biased if op.inputs[0] in group] if requantize_biases else []
        new_biases = []
        for op in readers:  # a bias is quantized at input_scale * weight_scale: requantize it first
            q_bias = g.buffer_data(op.inputs[2]).view(np.int32)
            new_biases.append((op, q_bias, np.round(q_bias.astype(np.float64) * (old[0] / scale))))
        if any(np.abs(b).max(initial=0) > np.iinfo(np.int32).max for _, _, b in new_biases):
            kept.append(g.tensor(group[0]).name)
            continue
        for _, z in qs:
            z[0] = zp
        for s, _ in qs:
            s[0] = np.float32(scale)
        for op, q_bias, b in new_biases:
            if q_bias.any():  # all-zero biases (one buffer shared by several convolutions) stay as they are
                if bias_users[g.tensor(op.inputs[2]).buffer] > 1:
                    raise ValueError(f"non-zero bias buffer of {g.tensor(op.inputs[2]).name} is shared")
                q_bias[:] = b.astype(np.int32)
            b_scale = g.quant(op.inputs[2])[0]
            b_scale[:] = (np.float64(scale) * g.quant(op.inputs[1])[0].astype(np.float64)).astype(np.float32)
        changes.append(RangeChange(tensors=tuple(g.tensor(i).name for i in group), old=old, new=(scale, zp)))
    return bytes(g.data), changes, kept


def _output_error_steps(int8_data: bytes, work: Path, x_nhwc: np.ndarray, ref: np.ndarray) -> float:
    """Mean |dequantized int8 output - float output| in output steps, TFLite's reference kernels."""
    from tinyasc.export.interpreters import run_litert
    from tinyasc.export.tflite_graph import read_graph

    work.write_bytes(int8_data)
    out = read_graph(int8_data).outputs[0]
    got = run_litert(work, np.transpose(x_nhwc, (0, 3, 1, 2)), reference=True)
    return float(np.abs(got.astype(np.float64) - ref).mean() / out.scale)


def calibrate_int8(float_path: str | Path, int8_path: str | Path, x_calib: np.ndarray, percentiles: Sequence[float],
                   x_select: np.ndarray) -> dict[str, Any]:
    """Percentile calibration of ``int8_path`` (rewritten in place) from ``float_path``; returns a summary.

    Ranges come from the clips ``x_calib`` (NHWC) for every candidate percentile; among those files
    and the converter's own, the one closest to the float file on the other clips ``x_select`` (mean
    logit error in output steps, reference kernels) is written (``percentile`` None: the converter's
    kept). Clipping helps one model and hurts another (measured on two runs of the quick profile:
    -38% and +34% logit error at 99.999), so it is chosen, not assumed.
    """
    from tinyasc.export.interpreters import run_litert

    float_data, int8_data = Path(float_path).read_bytes(), Path(int8_path).read_bytes()
    mapping = match_activations(float_data, int8_data)
    fg = _Graph(bytearray(float_data))
    shapes = {f: fg.shape(f) for f in mapping.values()}
    ranges = tensor_ranges(float_path, mapping, shapes, x_calib, percentiles)
    ref = run_litert(float_path, np.transpose(x_select, (0, 3, 1, 2))).astype(np.float64)
    scratch = Path(int8_path).with_suffix(".candidate.tflite")
    candidates = []  # (held-out error, percentile or None for the converter's own ranges, bytes, changes, kept)
    try:
        candidates.append((_output_error_steps(int8_data, scratch, x_select, ref), None, int8_data, [], []))
        for p in percentiles:
            data, changes, kept = rewrite_ranges(int8_data, ranges[p])
            candidates.append((_output_error_steps(data, scratch, x_select, ref), p, data, changes, kept))
    finally:
        scratch.unlink(missing_ok=True)
    err, best, data, changes, kept = min(candidates, key=lambda c: c[0])  # ties: the converter's, then wider ranges
    Path(int8_path).write_bytes(data)
    ratios = np.array([c.new[0] / c.old[0] for c in changes]) if changes else np.ones(1)
    log.info("calibration: %s chosen (held-out logit error %.2f output steps; %s)",
             "the converter's min/max" if best is None else f"percentile {best:g}", err,
             ", ".join(f"{'converter' if p is None else f'{p:g}'}: {e:.2f}" for e, p, *_ in candidates))
    return {"method": Calibration.PERCENTILE.value, "percentile": best, "clips": int(len(x_calib)),
            "selection_clips": int(len(x_select)),
            "candidates": [{"percentile": p, "heldout_logit_err_steps": e} for e, p, *_ in candidates],
            "groups_rewritten": len(changes), "groups_kept_bias_overflow": kept,
            "scale_ratio_median": float(np.median(ratios)), "scale_ratio_min": float(ratios.min()),
            "scale_ratio_max": float(ratios.max()), "changes": [c.to_dict() for c in changes]}
