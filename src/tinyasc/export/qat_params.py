"""QAT's quantization parameters written into the int8 ``.tflite``: the file holds the scales training used.

The converter (onnx2tf -> TFLite) writes an int8 file with its own calibrated ranges. For a checkpoint
that carries an int8 model (:mod:`tinyasc.model.int8`), every activation tensor of that file is matched
to the quantizer of the int8 model that computes the same value, and its ``(scale, zero_point)`` is
rewritten to that quantizer's (:func:`tinyasc.export.calibrate.rewrite_params`, in place; biases
requantized). The weights need no rewrite: the float graph the converter took holds them already on
their int8 grid, and the converter's per-channel ``max|w| / 127`` gives back the same codes (checked).

Matching is by value, not by name or position: on a probe clip, each float ``.tflite`` tensor (matched
to its int8 twin by graph structure, :func:`tinyasc.export.calibrate.match_activations`) is compared
with the float value entering every quantizer (sorted values, so the layout, NHWC or NCHW, does not
matter). A tensor group with no match, or with two quantizers of different parameters, is an error
naming the tensor: the checkpoint's int8 model is not the graph in the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.export.calibrate import match_activations, param_groups, rewrite_params
from tinyasc.tflite_io import parse_model

log = logging.getLogger(__name__)

MATCH_RTOL = 1e-3
"""Sorted-value match: max |difference| <= MATCH_RTOL * max(|value|) (float32 reassociation between
PyTorch and the float file is ~1e-6 relative; distinct tensors differ by far more)."""


class ParamsMismatch(ValueError):
    """The checkpoint's int8 model does not cover a tensor of the int8 file (``tensor`` names it)."""

    def __init__(self, tensor: str, detail: str):
        self.tensor = tensor
        super().__init__(f"tensor {tensor!r} of the int8 graph {detail}")


@dataclass(frozen=True, kw_only=True)
class CarriedParams:
    """What :func:`carry_params` wrote."""

    groups: int
    """Tensor groups of the int8 file (tensors sharing one set of parameters)."""
    matched: dict[str, str]
    """int8-file tensor name (a group's first) -> quantizer of the int8 model."""
    unused_points: tuple[str, ...]
    """Quantizers of the int8 model that no file tensor matched (the simulation rounds a tensor the file does not hold)."""
    weights_identical: bool
    """The converter's int8 weights already equal the int8 model's codes (they are replaced by them either way)."""
    weight_code_mismatches: int
    """Weight codes of the converter that differed from the int8 model's (before they were written)."""
    convs_written: int = 0
    """Convolutions whose weights, weight scales, bias and bias scales were written from the int8 model."""

    def to_dict(self) -> dict[str, Any]:
        return {"method": "qat", "groups": self.groups, "matched": len(self.matched),
                "unused_points": list(self.unused_points), "weights_identical": self.weights_identical,
                "weight_code_mismatches": self.weight_code_mismatches, "convs_written": self.convs_written}


def _float_values(float_path: Path, x_nhwc: np.ndarray, tensors: list[int]) -> dict[int, np.ndarray]:
    from tinyasc.export.interpreters import litert_interpreter

    it = litert_interpreter(float_path, reference=False, preserve_all=True)
    it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x_nhwc, dtype=np.float32))
    it.invoke()
    return {t: np.asarray(it.get_tensor(t), dtype=np.float32).copy() for t in tensors}


def _distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """Max |a - b| of two sorted value arrays when within :data:`MATCH_RTOL`, else None."""
    if a.size != b.size:
        return None
    d = float(np.abs(a - b).max(initial=0.0))
    return d if d <= MATCH_RTOL * max(float(np.abs(a).max(initial=0.0)), 1e-6) else None


def carry_params(float_path: str | Path, int8_path: str | Path, model: Any, probe_nchw: np.ndarray) -> CarriedParams:
    """Rewrite ``int8_path`` in place with the parameters of ``model`` (an :class:`tinyasc.model.int8.Int8Model`).

    ``probe_nchw``: one raw feature clip (1, 1, F, T), before any lifted front end. Raises
    :class:`ParamsMismatch` when a tensor group of the file has no quantizer of the same value.
    """
    import torch

    from tinyasc.model.int8 import capture_point_inputs

    float_path, int8_path = Path(float_path), Path(int8_path)
    float_data, int8_data = float_path.read_bytes(), int8_path.read_bytes()
    mapping = match_activations(float_data, int8_data)
    x = torch.from_numpy(np.ascontiguousarray(probe_nchw[:1], dtype=np.float32))
    with torch.no_grad():
        x_graph = model.front(x).numpy()
    captured = capture_point_inputs(model, x)
    points = model.points()
    params = {k: aq.params() for k, aq in points.items()}
    sorted_points = {k: np.sort(v.ravel()) for k, v in captured.items()}
    values = _float_values(float_path, np.transpose(x_graph, (0, 2, 3, 1)), sorted(set(mapping.values())))
    qmodel = parse_model(int8_data)
    groups = param_groups(int8_data)
    chosen: dict[int, tuple[float, int]] = {}
    matched: dict[str, str] = {}
    used: set[str] = set()
    for group in groups:
        scores: dict[str, float] = {}  # quantizer -> its closest distance to a member of the group
        for t in group:
            if t not in mapping:
                continue
            v = np.sort(values[mapping[t]].ravel())
            for k, pv in sorted_points.items():
                d = _distance(v, pv)
                if d is not None:
                    scores[k] = min(d, scores.get(k, np.inf))
        name = qmodel.tensors[group[0]].name
        if not scores:
            raise ParamsMismatch(name, "has no recorded scale in the checkpoint's int8 model "
                                       "(no quantizer computes its value: a checkpoint from another export form?)")
        # The closest quantizer: a near-twin (the variance and variance + eps of FreqIN) is farther.
        best = min(scores, key=lambda k: (scores[k], k))
        chosen.update({t: params[best] for t in group})
        matched[name] = best
        used.add(best)
    other_biased = [op.opcode for op in qmodel.operators if op.opcode in ("FULLY_CONNECTED", "TRANSPOSE_CONV")]
    if other_biased:
        raise ParamsMismatch(other_biased[0], "is an op whose bias the int8 model does not write (only convolutions)")
    # Biases and their scales are written from the int8 model below, not requantized from the converter's.
    data, changes, kept = rewrite_params(int8_data, chosen, keep_outputs=False, requantize_biases=False)
    fixed_bad = [qmodel.tensors[g[0]].name for g in groups if g[0] in chosen and
                 _file_params(data, g[0]) != (float(np.float32(chosen[g[0]][0])), chosen[g[0]][1])]
    if fixed_bad:
        raise ParamsMismatch(fixed_bad[0], "has fixed parameters that differ from the int8 model's")
    mismatches = _weight_code_mismatches(data, model)  # the converter's codes, before they are replaced
    data, counts = _write_conv_constants(data, model, matched)
    int8_path.write_bytes(data)
    unused = tuple(k for k in points if k not in used)
    if unused:
        log.warning("int8 model quantizers with no tensor in the file: %s", ", ".join(unused))
    log.info("QAT parameters carried into %s: %d tensor groups, %d weight codes differ", int8_path.name, len(groups),
             mismatches)
    return CarriedParams(groups=len(groups), matched=matched, unused_points=unused, weights_identical=mismatches == 0,
                         weight_code_mismatches=mismatches, convs_written=counts["convs_written"])


def _file_layout(op: str, w: np.ndarray) -> np.ndarray:
    """A PyTorch conv weight ``(O, I/g, kh, kw)`` in TFLite's layout: CONV_2D ``(O, kh, kw, I)``, DEPTHWISE ``(1, kh, kw, O)``."""
    return np.transpose(w, (0, 2, 3, 1)) if op == "CONV_2D" else np.transpose(w, (1, 2, 3, 0))


def _write_conv_constants(data: bytes, model: Any, matched: dict[str, str]) -> tuple[bytes, dict[str, int]]:
    """Every convolution's int8 weights, weight scales, int32 bias and bias scales written from its
    :class:`tinyasc.model.int8.QConv2d`: exactly the simulation's. The converter's own codes can differ where it
    adjusted a weight scale so that a large bias fits int32 at ``s_in * s_w`` (seen on tiny depthwise weights);
    each conv is checked first to hold the same weights up to one code (else :class:`ParamsMismatch`: the file
    and the model are different networks). Returns the bytes and counts."""
    import torch

    from tinyasc.export.calibrate import _Graph

    g = _Graph(bytearray(data))
    point_convs = model.point_convs()
    by_tensor = {}
    for group in param_groups(data):
        p = matched.get(g.tensor(group[0]).name)
        for t in group:
            by_tensor[t] = p
    counts = {"convs_written": 0, "weight_codes_changed": 0}
    for op in g.ops:
        if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        conv = point_convs.get(by_tensor.get(op.outputs[0]))
        if conv is None:
            raise ParamsMismatch(g.tensor(op.outputs[0]).name, "is computed by a convolution the int8 model does not have")
        wt = g.tensor(op.inputs[1])
        with torch.no_grad():
            s_w = conv.weight_scale().numpy().astype(np.float32)
            codes = torch.clamp(torch.round((conv.conv.weight * conv.mask).double() / torch.from_numpy(s_w).double()
                                            .view(-1, 1, 1, 1)), -127, 127).numpy().astype(np.int8)
        new_codes = _file_layout(op.name, codes)
        file_codes = g.buffer_data(op.inputs[1]).view(np.int8).reshape(wt.shape) if wt.data is not None else None
        w_scale = g.quant(op.inputs[1])
        if file_codes is None or new_codes.shape != file_codes.shape or w_scale is None or w_scale[0].size != s_w.size:
            raise ParamsMismatch(wt.name, f"has shape {wt.shape}, the int8 model's convolution {new_codes.shape}")
        axis = 0 if op.name == "CONV_2D" else 3
        shape = [1] * 4
        shape[axis] = -1
        old_deq = file_codes.astype(np.float64) * w_scale[0].astype(np.float64).reshape(shape)
        new_deq = new_codes.astype(np.float64) * s_w.astype(np.float64).reshape(shape)
        tol = np.maximum(w_scale[0], s_w).astype(np.float64).reshape(shape) * 1.01
        if np.any(np.abs(old_deq - new_deq) > tol):
            raise ParamsMismatch(wt.name, "holds other weights than the int8 model's convolution whose output it computes")
        counts["weight_codes_changed"] += int((file_codes != new_codes).sum())
        file_codes[...] = new_codes
        w_scale[0][:] = s_w
        aq_in = conv.__dict__["input_quant"]
        s_in = np.float32(aq_in.params()[0])
        b_scale = (s_in * s_w).astype(np.float32)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            q_bias = g.buffer_data(op.inputs[2]).view(np.int32)
            if conv.conv.bias is not None:
                with torch.no_grad():
                    b = conv.bias().double().numpy()
                new_bias = np.round(b / b_scale.astype(np.float64)).astype(np.int64)
                if np.abs(new_bias).max(initial=0) > np.iinfo(np.int32).max:
                    raise ParamsMismatch(g.tensor(op.inputs[2]).name, "bias overflows int32 at the int8 model's scale")
                q_bias[:] = new_bias.astype(np.int32)
            elif q_bias.any():
                raise ParamsMismatch(g.tensor(op.inputs[2]).name, "is a non-zero bias of a convolution without one")
            g.quant(op.inputs[2])[0][:] = b_scale
        counts["convs_written"] += 1
    return bytes(g.data), counts


def _file_params(data: bytes, tensor: int) -> tuple[float, int]:
    t = parse_model(data).tensors[tensor]
    return float(np.float32(t.scale[0])), int(t.zero_point[0])


def _conv_codes(conv: Any) -> np.ndarray:
    """Sorted int8 weight codes of a :class:`tinyasc.model.int8.QConv2d`."""
    import torch

    with torch.no_grad():
        w = conv.conv.weight * conv.mask
        q = torch.clamp(torch.round(w / conv.weight_scale().view(-1, *([1] * (w.dim() - 1)))), -127, 127)
    return np.sort(q.numpy().astype(np.int32).ravel())


def _weight_code_mismatches(int8_data: bytes, model: Any) -> int:
    """int8 weight codes of the file's convolutions that differ from the int8 model's, matched by
    (shape, sorted codes) multiset: 0 when every conv's codes are the model's."""
    qm = parse_model(int8_data)
    file_codes: list[np.ndarray] = []
    for op in qm.operators:
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(op.inputs) > 1:
            w = qm.tensors[op.inputs[1]]
            file_codes.append(np.sort(np.asarray(w.data, dtype=np.int8).ravel().astype(np.int32)))
    model_codes = [_conv_codes(conv) for conv in model.convs().values()]
    remaining = list(file_codes)
    bad = 0
    for mc in model_codes:
        idx = next((i for i, fc in enumerate(remaining) if fc.size == mc.size and np.array_equal(fc, mc)), None)
        if idx is None:
            same = [fc for fc in remaining if fc.size == mc.size]
            bad += min((int((fc != mc).sum()) for fc in same), default=mc.size)
        else:
            remaining.pop(idx)
    return bad
