"""Model-size and complexity auditor (``asc-audit``): DCASE Task 1 parameter and MAC rules.

Stage-neutral so that ``compress``, ``export`` and ``pipeline`` all use it without one stage
reaching into another; it reads checkpoints, ONNX and (through :mod:`tinyasc.tflite_io`) TFLite.
"""

from tinyasc.audit.core import audit, detect_format
from tinyasc.audit.report import (
    COUNTING_RULES,
    DCASE2022_MAX_MACS_PER_SECOND,
    DCASE2022_MAX_PARAMS,
    DEFAULT_BUDGET_BYTES,
    ArtifactFormat,
    AuditReport,
    AuditRow,
    LimitCheck,
    MacCount,
    ParamKind,
    Rules,
    budget_line,
)

__all__ = [
    "ArtifactFormat", "AuditReport", "AuditRow", "COUNTING_RULES", "DCASE2022_MAX_MACS_PER_SECOND",
    "DCASE2022_MAX_PARAMS", "DEFAULT_BUDGET_BYTES", "LimitCheck", "MacCount", "ParamKind", "Rules", "audit",
    "budget_line", "detect_format",
]
