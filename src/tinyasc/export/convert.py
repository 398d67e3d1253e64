"""ONNX -> TFLite (float32, int8 full-integer, int16-activation) with onnx2tf, offline.

onnx2tf runs in a child process: it prints hundreds of lines, calls ``sys.exit`` on
errors and leaves TensorFlow state behind. Its whole output goes to a log file; a failure
becomes one line (:class:`ConversionError`) naming that log.

Calibration is always our own NHWC float32 features with mean 0 / std 1 (``-cind``):
without it, onnx2tf's ``-oiqt`` would download MS-COCO images (and fail offline).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class ConversionError(Exception):
    """onnx2tf failed; ``str()`` is one line, the full log is at ``log_path``."""

    def __init__(self, summary: str, log_path: Path):
        self.summary = summary
        self.log_path = log_path
        super().__init__(f"onnx2tf failed: {summary} (full log: {log_path})")


@dataclass(frozen=True, kw_only=True)
class ConvertedFiles:
    float32: Path
    """Float TFLite (checked against ONNX Runtime before trusting the int8 file)."""
    int8: Path
    """Full-integer int8 TFLite (int8 in/out)."""
    int16_act: Path | None
    """int16-activation / int8-weight variant (int16 in/out), if onnx2tf wrote one."""
    log: Path


def _summary(text: str) -> str:
    lines = [_ANSI.sub("", ln).strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.search(r"\b(ERROR|Error|Exception)\b", ln):
            return ln[:300]
    return (lines[-1][:300] if lines else "no output")


def convert(onnx_path: Path, calib_nhwc: Path, work_dir: Path, log_path: Path, *, input_name: str = "input",
            metadata: dict[str, bytes] | None = None) -> ConvertedFiles:
    """Convert with ``onnx2tf.convert(..., output_integer_quantized_tflite=True, quant_type='per-channel')``.

    ``metadata``: entries added to every written ``.tflite`` (TFLite ``Model.metadata``, which
    interpreters ignore), in the same child process, which has TensorFlow imported anyway.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    args = {"onnx": str(onnx_path), "calib": str(calib_nhwc), "out": str(work_dir), "input_name": input_name,
            "metadata": {k: v.decode("latin-1") for k, v in (metadata or {}).items()}}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="-1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    with open(log_path, "w", encoding="utf-8") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "tinyasc.export._onnx2tf_worker", json.dumps(args)],
            stdout=fh, stderr=subprocess.STDOUT, env=env, check=False,
        )
    text = log_path.read_text(encoding="utf-8", errors="replace")
    stem = onnx_path.stem
    f32 = work_dir / f"{stem}_float32.tflite"
    i8 = work_dir / f"{stem}_full_integer_quant.tflite"
    i16 = work_dir / f"{stem}_full_integer_quant_with_int16_act.tflite"
    if proc.returncode != 0 or not f32.is_file() or not i8.is_file():
        summary = _summary(text) if proc.returncode != 0 else f"expected outputs missing ({f32.name}, {i8.name})"
        raise ConversionError(summary, log_path)
    return ConvertedFiles(float32=f32, int8=i8, int16_act=i16 if i16.is_file() else None, log=log_path)
