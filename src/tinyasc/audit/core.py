"""``audit(path)``: detect the artifact's format, count its parameters (and a TFLite model's MACs),
and judge them under a DCASE rule set (:class:`~tinyasc.audit.report.Rules`)."""

from __future__ import annotations

import logging
import math
import zipfile
from pathlib import Path

from tinyasc.audit.report import DEFAULT_BUDGET_BYTES, ArtifactFormat, AuditReport, AuditRow, MacCount, Rules
from tinyasc.errors import InputError

log = logging.getLogger(__name__)

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


def _clip_seconds(path: Path, given: float | None, notes: list[str]) -> float | None:
    """Seconds of audio per inference: the deployed contract's (TFLite metadata), else ``given``."""
    from tinyasc.contract import read_deployed_contract

    contract = read_deployed_contract(path.read_bytes(), path)
    if contract is None:
        return given
    seconds = float(contract.feature_config.clip_seconds)
    if given is not None and not math.isclose(given, seconds):
        notes.append(f"clip length {seconds:g} s from the model's contract used, not the given {given:g} s")
    return seconds


def _tflite(path: Path, clip_seconds: float | None, notes: list[str]) -> tuple[list[AuditRow], MacCount, float | None]:
    from tinyasc.audit.macs import count_macs
    from tinyasc.audit.tflite_model import audit_tflite
    from tinyasc.tflite_io import read_model

    model = read_model(path)
    return audit_tflite(model, path, notes), count_macs(model), _clip_seconds(path, clip_seconds, notes)


def audit(path: str | Path, *, budget_bytes: int = DEFAULT_BUDGET_BYTES, rules: Rules = Rules.DCASE2021,
          clip_seconds: float | None = None) -> AuditReport:
    """Count the parameters of a checkpoint, ONNX or TFLite file (and a TFLite file's MACs) and judge
    them under ``rules`` (counting rules in :mod:`tinyasc.audit.report`).

    ``clip_seconds`` (seconds of audio one inference covers) is needed for the 2022+ MACs-per-second
    limit when the model carries no deployed contract. Raises :class:`InputError` for a missing,
    unknown, corrupt or parameter-less file, or a 2022+ audit that cannot be judged.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model file not found")
    if budget_bytes <= 0:
        raise InputError(None, f"budget must be positive, got {budget_bytes}")
    if clip_seconds is not None and not (math.isfinite(clip_seconds) and clip_seconds > 0):
        raise InputError(None, f"clip length must be a positive number of seconds, got {clip_seconds}")
    fmt = detect_format(path)
    notes: list[str] = []
    macs = None
    if fmt is ArtifactFormat.TFLITE:
        rows, macs, clip_seconds = _tflite(path, clip_seconds, notes)
    elif fmt is ArtifactFormat.ONNX:
        from tinyasc.audit.onnx_model import audit_onnx

        rows = audit_onnx(path, notes)
    else:
        from tinyasc.audit.checkpoint import audit_checkpoint

        rows = audit_checkpoint(path, notes)
    if not rows:
        raise InputError(path, f"no stored parameters found in this {fmt.value}")
    if rules is Rules.DCASE2022:
        if macs is None:
            raise InputError(path, f"the {rules.value} rules limit MACs, counted on a .tflite only: "
                                   "audit the exported model (asc-export --int8)")
        if clip_seconds is None:
            raise InputError(path, "MACs per 1 s need the clip length: the model has no tinyasc.contract "
                                   "metadata, give --clip-seconds")
    for n in notes:
        log.info("%s: %s", path, n)
    return AuditReport(
        path=str(path), format=fmt, rows=rows, budget_bytes=int(budget_bytes),
        dense_file_bytes=path.stat().st_size, notes=notes, rules=rules, macs=macs, clip_seconds=clip_seconds,
    )
