"""Rebuild a model from a :class:`tinyasc.contract.Checkpoint` (used by eval, compress, export)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from tinyasc.contract import Checkpoint
from tinyasc.errors import InputError
from tinyasc.model.registry import create_model


def from_checkpoint(ckpt: Checkpoint, *, path: str | Path | None = None, load_weights: bool = True) -> nn.Module:
    """``create_model(ckpt.model_name, **ckpt.model_config)`` with the weights loaded, checked against the contract.

    Unknown model names or configs, a model whose ``n_mels`` differs from the checkpoint's
    feature config, a label list that does not match ``n_classes`` and weights that do not
    fit all raise :class:`InputError` naming ``path``.
    """
    try:
        model = create_model(ckpt.model_name, **ckpt.model_config)
    except (ValueError, TypeError) as exc:
        raise InputError(path, f"cannot build model {ckpt.model_name!r} from the checkpoint ({exc})") from None
    cfg = getattr(model, "config", None)
    if cfg is not None:
        if cfg.n_mels != ckpt.feature_config.n_mels:
            raise InputError(path, f"model expects {cfg.n_mels} mel bins but the checkpoint's feature config has "
                                   f"{ckpt.feature_config.n_mels}")
        if cfg.n_classes != len(ckpt.labels):
            raise InputError(path, f"model has {cfg.n_classes} outputs but the checkpoint lists {len(ckpt.labels)} labels")
    if load_weights:
        try:
            model.load_state_dict(ckpt.state_dict)
        except RuntimeError as exc:
            detail = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]  # torch: a header, then the reasons
            raise InputError(path, f"weights do not fit {ckpt.model_name} ({detail[min(1, len(detail) - 1)]})") from None
    model.eval()
    return model
