"""Parameter counts of a tinyasc checkpoint (bits checked against the declared compression grid)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.audit.report import AuditRow, ParamKind

log = logging.getLogger(__name__)

_NORM_STATS_SUFFIXES = ("running_mean", "running_var")


def kind_from_name(name: str, ndim: int, norm_modules: set[str] | None = None) -> ParamKind:
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


def audit_checkpoint(path: Path, notes: list[str]) -> list[AuditRow]:
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
        kind = kind_from_name(name, arr.ndim, norm_modules)
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
