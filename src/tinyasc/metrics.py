"""Classification metrics in the paper's Table 3 layout (numpy only, shared by every stage).

Accuracy is reported per device (A, B, C, S1-S6), as the mean over seen (A-S3) and
unseen (S4-S6) devices, and overall (over clips). Log loss is the DCASE multi-class
cross-entropy of the predicted probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from tinyasc.contract import DEVICES, SEEN_DEVICES, UNSEEN_DEVICES


@dataclass(frozen=True, kw_only=True)
class DeviceAccuracy:
    """Accuracy table row: per device, seen/unseen means, overall, log loss."""

    per_device: dict[str, float]
    """Top-1 accuracy for each device present (fraction, 0..1)."""
    counts: dict[str, int]
    """Number of clips per device."""
    seen_mean: float | None
    """Mean of the per-device accuracies over seen devices present."""
    unseen_mean: float | None
    """Mean of the per-device accuracies over unseen devices present."""
    overall: float
    """Accuracy over all clips."""
    log_loss: float | None = None
    """Mean cross-entropy of the probabilities (None when only labels were given)."""
    confusion: list[list[int]] = field(default_factory=list)
    """Confusion matrix, rows = true class, columns = predicted class."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_device": self.per_device,
            "counts": self.counts,
            "seen_mean": self.seen_mean,
            "unseen_mean": self.unseen_mean,
            "overall": self.overall,
            "log_loss": self.log_loss,
            "confusion": self.confusion,
        }


def device_accuracy(
    labels: Sequence[int] | np.ndarray,
    devices: Sequence[str] | np.ndarray,
    *,
    predictions: Sequence[int] | np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    n_classes: int = 10,
) -> DeviceAccuracy:
    """Table-3 metrics from labels and either predictions or class probabilities."""
    labels = np.asarray(labels, dtype=np.int64)
    devices = np.asarray(devices).astype(str)
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        predictions = probabilities.argmax(axis=1)
    if predictions is None:
        raise ValueError("need predictions or probabilities")
    predictions = np.asarray(predictions, dtype=np.int64)
    if not (len(labels) == len(devices) == len(predictions)) or len(labels) == 0:
        raise ValueError("labels, devices and predictions must be non-empty and of equal length")
    correct = predictions == labels
    per_device: dict[str, float] = {}
    counts: dict[str, int] = {}
    order = [d for d in DEVICES if d in set(devices)] + sorted(set(devices) - set(DEVICES))
    for dev in order:
        mask = devices == dev
        per_device[dev] = float(correct[mask].mean())
        counts[dev] = int(mask.sum())

    def _mean(group: Sequence[str]) -> float | None:
        vals = [per_device[d] for d in group if d in per_device]
        return float(np.mean(vals)) if vals else None

    log_loss = None
    if probabilities is not None:
        p = np.clip(probabilities[np.arange(len(labels)), labels], 1e-15, 1.0)
        log_loss = float(-np.log(p).mean())
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    return DeviceAccuracy(
        per_device=per_device,
        counts=counts,
        seen_mean=_mean(SEEN_DEVICES),
        unseen_mean=_mean(UNSEEN_DEVICES),
        overall=float(correct.mean()),
        log_loss=log_loss,
        confusion=confusion.tolist(),
    )


def table3_header() -> list[str]:
    return ["model", *[d.upper() for d in DEVICES], "seen", "unseen", "overall"]


def table3_row(name: str, acc: DeviceAccuracy | dict[str, Any]) -> list[str]:
    """One Markdown-ready row in the paper's Table 3 layout (accuracies in %)."""
    d = acc.to_dict() if isinstance(acc, DeviceAccuracy) else acc

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    return [name, *[pct(d["per_device"].get(dev)) for dev in DEVICES], pct(d["seen_mean"]), pct(d["unseen_mean"]), pct(d["overall"])]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"
