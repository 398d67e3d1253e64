"""Per-op parity of an int8 file with the checkpoint's integer simulation, one op at a time.

TensorFlow Lite Micro runs the file with every intermediate tensor kept; the int8 model
(:mod:`tinyasc.model.int8`) then runs with each quantizer's output replaced by the file's own tensor
(teacher forcing), so every op of the simulation reads exactly what the file's op read, and the
difference at its output is that op's alone, not the sum of everything before it. Reported in output
codes (steps) per quantized tensor, with the op type that computes it in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.export.calibrate import param_groups
from tinyasc.tflite_io import parse_model


@dataclass(frozen=True, kw_only=True)
class OpParity:
    """One quantized tensor: the file's op against the simulation's, fed the same input codes."""

    point: str
    """Quantizer of the int8 model."""
    opcode: str
    """The file's op that writes the tensor (``INPUT`` for the graph input)."""
    max_steps: int
    """Largest |code difference|."""
    differing: float
    """Fraction of elements whose codes differ."""
    elements: int

    def to_dict(self) -> dict[str, Any]:
        return {"point": self.point, "opcode": self.opcode, "max_steps": self.max_steps, "differing": self.differing,
                "elements": self.elements}


def _layout(code: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """The file's tensor (NHWC, or flat) in the simulation's layout ``shape`` (NCHW), or None when it cannot tell."""
    if code.ndim == 4 and len(shape) == 4 and code.shape == (shape[0], shape[2], shape[3], shape[1]):
        return np.transpose(code, (0, 3, 1, 2))
    if code.size == int(np.prod(shape)) and (code.ndim == len(shape) == 2 or code.shape == tuple(shape)):
        return code.reshape(shape)
    return None


def op_parity(int8_path: str | Path, model: Any, x_nchw: np.ndarray, matched: dict[str, str]) -> list[OpParity]:
    """Teacher-forced per-op comparison on the clips ``x_nchw`` (raw features); ``matched``: the file tensor
    (a parameter group's first) -> quantizer map of :class:`tinyasc.export.qat_params.CarriedParams`.
    Tensors whose layout the simulation does not share (the sub-band affine's reshaped output) are left out."""
    import torch

    from tinyasc.qmath import quantize
    from tinyasc.tflite_io import tflm

    int8_path = Path(int8_path)
    qm = parse_model(int8_path.read_bytes())
    by_name = {t.name: t.index for t in qm.tensors}
    opcode = {o: op.opcode for op in qm.operators for o in op.outputs}
    groups = {g[0]: g for g in param_groups(int8_path.read_bytes())}
    point_tensor = {}
    for name, point in matched.items():
        first = by_name[name]
        # the group's tensor written by an op (not a reshape/transpose copy of it)
        members = [t for t in groups.get(first, [first]) if opcode.get(t) not in ("RESHAPE", "TRANSPOSE", "PAD")]
        point_tensor[point] = members[0] if members else first
    inp = qm.tensors[qm.inputs[0]]
    with torch.no_grad():
        x_graph = model.front(torch.from_numpy(np.ascontiguousarray(x_nchw, dtype=np.float32))).numpy()
    codes_in = quantize(np.transpose(x_graph, (0, 2, 3, 1)), inp.scale[0], inp.zero_point[0], dtype=inp.dtype)
    _, inter = tflm.run(int8_path, codes_in[:, None], tensors=sorted(set(point_tensor.values())))
    points = model.points()
    diffs: dict[str, list[np.ndarray]] = {k: [] for k in points}
    for i in range(len(x_nchw)):
        def force(mod, args, out, key):
            t = point_tensor.get(key)
            if t is None:
                return out
            scale, zp = mod.params()
            code = _layout(inter[t][i].astype(np.float64).reshape((1, *inter[t][i].shape[-3:]) if inter[t][i].ndim >= 3 else (1, -1)), tuple(out.shape))
            if code is None:
                return out
            diffs[key].append(np.abs(np.round(out.detach().double().numpy() / scale + zp) - code))
            return torch.from_numpy(((code - zp) * scale).astype(np.float32))

        hooks = [aq.register_forward_hook(lambda m, a, o, k=k: force(m, a, o, k)) for k, aq in points.items()]
        try:
            with torch.no_grad():
                model.eval().graph(torch.from_numpy(x_graph[i : i + 1]))
        finally:
            for h in hooks:
                h.remove()
    out = []
    for k, d in diffs.items():
        if not d:
            continue
        a = np.concatenate([v.ravel() for v in d])
        out.append(OpParity(point=k, opcode=opcode.get(point_tensor[k], "INPUT"), max_steps=int(a.max(initial=0)),
                            differing=float((a > 0).mean()), elements=int(a.size)))
    return out
