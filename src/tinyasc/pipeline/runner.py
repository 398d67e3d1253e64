"""Resumable stage runner: each stage skips itself when its artifact is valid for its inputs.

A stage is valid when ``RUN/stages/<name>.json`` exists, records the same input key
(a JSON digest of the stage's parameters and the digests of the artifacts it reads) and
every output it lists still exists. The marker is written atomically *after* the stage's
own artifacts, so a killed stage simply runs again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tinyasc.atomic import write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One step of the pipeline."""

    name: str
    """Short identifier (also the marker file name)."""
    title: str
    """What a person sees in the progress display."""
    key: Callable[[], dict[str, Any]]
    """Inputs that decide whether a finished run is still valid (called lazily, after earlier stages)."""
    run: Callable[[], dict[str, Any]]
    """Does the work; returns ``{"outputs": [paths], ...summary}``."""
    reset: Callable[[], None] | None = None
    """Removes a stale artifact whose inputs changed (None: the stage overwrites it itself)."""


@dataclass(kw_only=True)
class StageRecord:
    name: str
    title: str
    status: str
    """``ran``, ``skipped`` (valid artifact found) or ``failed``."""
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)


def file_digest(path: str | Path) -> str:
    """SHA-256 prefix of a file (artifact identity for downstream keys)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _key_digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_stages(stages: list[Stage], run_dir: Path, *, resume: bool = True, progress: Callable[[str], None] | None = None) -> list[StageRecord]:
    """Run ``stages`` in order, skipping those whose marker matches; stop at the first failure."""
    marker_dir = Path(run_dir) / "stages"
    marker_dir.mkdir(parents=True, exist_ok=True)
    records: list[StageRecord] = []
    for i, stage in enumerate(stages, 1):
        marker = marker_dir / f"{stage.name}.json"
        key = _key_digest(stage.key())
        saved = json.loads(marker.read_text()) if marker.is_file() else None
        if resume and saved is not None:
            outs = saved.get("summary", {}).get("outputs", [])
            if saved.get("key") == key and all(Path(p).exists() for p in outs):
                log.info("[%d/%d] %s: valid artifact found, skipped", i, len(stages), stage.title)
                records.append(StageRecord(name=stage.name, title=stage.title, status="skipped", seconds=saved.get("seconds", 0.0), summary=saved["summary"]))
                continue
        if saved is not None or not resume:
            # A finished artifact made from other inputs (or a fresh run was asked for): start clean.
            marker.unlink(missing_ok=True)
            if stage.reset is not None:
                stage.reset()
        if progress:
            progress(f"[{i}/{len(stages)}] {stage.title}")
        log.info("[%d/%d] %s ...", i, len(stages), stage.title)
        t0 = time.perf_counter()
        summary = stage.run()
        seconds = time.perf_counter() - t0
        log.info("[%d/%d] %s done in %.1f s", i, len(stages), stage.title, seconds)
        write_json(marker, {"key": key, "seconds": seconds, "summary": summary})
        records.append(StageRecord(name=stage.name, title=stage.title, status="ran", seconds=seconds, summary=summary))
    return records
