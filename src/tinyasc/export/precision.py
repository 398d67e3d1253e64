"""Activation precision of the deployed TFLite file, and where an export directory keeps it.

Importable without torch or TensorFlow: the pipeline's later stages (audit, firmware, latency)
only need the deployed file's name, which the export report records.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path

from tinyasc.errors import InputError


class Activations(str, enum.Enum):
    """Which integer file ``asc-export`` deploys; weights are int8 per channel in every case."""

    INT8 = "int8"
    """int8 activations, int32 biases, int8 input/output: the smallest arena, and the percentile
    calibration of :mod:`tinyasc.export.calibrate` applies."""
    INT16 = "int16"
    """onnx2tf's 16x8 file: int16 activations, int64 biases, int16 input/output. The converter's
    min/max ranges are kept (65,536 levels need no clipping); about 1.8x the int8 TFLM arena."""
    AUTO = "auto"
    """The int8 file when it passes every gate, else the 16x8 file (evaluated only then)."""

    @property
    def label(self) -> str:
        """How reports name the precision (``int16x8``: TFLite's name for int16 activations, int8 weights)."""
        return {"int8": "int8", "int16": "int16x8"}[self.value]

    @property
    def tensor_type(self) -> str:
        """TFLite type of the activations and of the graph input/output."""
        return {"int8": "INT8", "int16": "INT16"}[self.value]

    @property
    def stem(self) -> str:
        """File stem of the deployed ``.tflite`` and of its C array (``.h``/``.c``)."""
        return f"model_{self.label}"


REPORT_NAME = "report.json"


def deployed_tflite(export_dir: str | Path) -> Path:
    """The ``.tflite`` an export deployed, read from its ``report.json`` (``deployed.file``).

    Raises :class:`InputError` for a directory without a finished export or with a report older
    than the ``deployed`` entry (schema 1 always deployed ``model_int8.tflite``; rerun the export).
    """
    export_dir = Path(export_dir)
    report = export_dir / REPORT_NAME
    try:
        deployed = json.loads(report.read_text()).get("deployed")
    except (OSError, ValueError):
        raise InputError(report, "no readable export report (run asc-export first)") from None
    if not isinstance(deployed, dict) or not deployed.get("file"):
        raise InputError(report, "export report names no deployed file (older schema: rerun asc-export)")
    path = export_dir / deployed["file"]
    if not path.is_file():
        raise InputError(path, "deployed model named by the export report is missing")
    return path
