"""Per-device evaluation (paper Table 3) and the eval report files (JSON, confusion PNG, DCASE CSV)."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from tinyasc.atomic import atomic_path, write_json, write_text
from tinyasc.contract import SCENE_LABELS
from tinyasc.metrics import DeviceAccuracy, device_accuracy, markdown_table, table3_header, table3_row

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """Model outputs on a feature set and the Table-3 metrics computed from them."""

    logits: np.ndarray
    """float32 (N, classes)."""
    probabilities: np.ndarray
    """softmax of ``logits``, float64 (N, classes)."""
    labels: np.ndarray
    """int64 (N,) true classes."""
    devices: np.ndarray
    """str (N,) device ids."""
    filenames: list[str]
    """File names in row order."""
    metrics: DeviceAccuracy
    """Per-device / seen / unseen / overall accuracy, log loss, confusion matrix."""

    def to_dict(self) -> dict[str, Any]:
        return self.metrics.to_dict()


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel / DataParallel wrapper."""
    return model.module if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else model


@torch.no_grad()
def predict_logits(model: nn.Module, features: np.ndarray, *, batch_size: int = 64, device: str | torch.device | None = None) -> np.ndarray:
    """Logits of (N, F, T) float16/32 features, in eval mode (the model's mode is restored)."""
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(features), batch_size):
            x = torch.from_numpy(np.asarray(features[start : start + batch_size], dtype=np.float32))
            out.append(model(x.unsqueeze(1).to(device)).float().cpu().numpy())
    finally:
        model.train(was_training)
    n_classes = out[0].shape[1] if out else 0
    return np.concatenate(out) if out else np.zeros((0, n_classes), np.float32)


def evaluate(model: nn.Module, feature_set: Any, *, batch_size: int = 64, device: str | torch.device | None = None) -> EvalResult:
    """Run ``model`` over a :class:`~tinyasc.data.cache.FeatureSet`; metrics via ``tinyasc.metrics``."""
    model = unwrap(model)
    logits = predict_logits(model, feature_set.features, batch_size=batch_size, device=device)
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.asarray(feature_set.labels, dtype=np.int64)
    devices = np.asarray(feature_set.devices).astype(str)
    metrics = device_accuracy(labels, devices, probabilities=probs, n_classes=probs.shape[1])
    return EvalResult(logits=logits, probabilities=probs, labels=labels, devices=devices,
                      filenames=list(feature_set.filenames), metrics=metrics)


def prediction_csv(result: EvalResult, labels: Sequence[str] = SCENE_LABELS) -> str:
    """DCASE-style output: tab-separated ``filename, scene_label, <one probability column per class>``."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["filename", "scene_label", *labels])
    for name, p in zip(result.filenames, result.probabilities):
        w.writerow([name, labels[int(np.argmax(p))], *(f"{v:.6f}" for v in p)])
    return buf.getvalue()


def save_confusion_png(confusion: Sequence[Sequence[int]], path: Path, labels: Sequence[str] = SCENE_LABELS, title: str = "") -> None:
    """Confusion matrix (rows true, columns predicted) as a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_eval_report(result: EvalResult, out_dir: str | Path, *, name: str, meta: dict[str, Any] | None = None,
                      labels: Sequence[str] = SCENE_LABELS, beside: dict[str, EvalResult] | None = None) -> dict[str, Path]:
    """Write ``eval.json`` (metrics + Table-3 row + confusion), ``eval.md``, ``confusion.png``, ``predictions.csv``.

    ``beside``: other scores of the same checkpoint (e.g. the int8 model's float weights), extra table rows and
    ``eval.json["beside"]``; the main ``result`` is the one the files describe."""
    out_dir = Path(out_dir)
    row = table3_row(name, result.metrics)
    extra = {k: r.metrics for k, r in (beside or {}).items()}
    table = markdown_table(table3_header(), [row, *[table3_row(k, m) for k, m in extra.items()]])
    paths = {
        "json": out_dir / "eval.json",
        "markdown": out_dir / "eval.md",
        "confusion": out_dir / "confusion.png",
        "predictions": out_dir / "predictions.csv",
    }
    write_json(paths["json"], {"name": name, "labels": list(labels), "table3_row": row, **(meta or {}),
                               "metrics": result.metrics.to_dict(),
                               "beside": {k: {"table3_row": table3_row(k, m), "metrics": m.to_dict()} for k, m in extra.items()}})
    write_text(paths["markdown"], table)
    save_confusion_png(result.metrics.confusion, paths["confusion"], labels, title=name)
    write_text(paths["predictions"], prediction_csv(result, labels))
    return paths
