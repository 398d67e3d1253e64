"""One-shot unstructured magnitude pruning of every convolution (``torch.nn.utils.prune``).

The paper (sec. 2.3, after Kim et al. 2020) prunes all convolution layers once, by weight
magnitude, then fine-tunes. Masks are torch's ``weight_mask`` buffers with a forward
pre-hook (``weight = weight_orig * weight_mask``), so pruned weights stay exactly zero
through fine-tuning; :func:`remove_pruning` bakes them in before a checkpoint is written.

Scope (``PruneScope``): ``layer`` (default) prunes each convolution by the same fraction,
``round(sparsity * n_layer)`` weights each; ``global`` ranks all convolution weights together,
``round(sparsity * n_all)`` in total. Per-layer is the default because in BC-ResNet-ASC almost
every convolution feeds a BatchNorm (or SubSpectralNorm), which makes the layer's output
invariant to the scale of its weights: magnitudes are comparable within a layer, not across
layers. A global ranking is then decided by each layer's arbitrary scale (its fan-in at
initialisation, weight decay since), and measured here it removes whole layers: at 0.89 on
an initialised BC-ResNet-ASC-8 it zeroes the classifier and all three stage-4 point-wise
convolutions (ASC-1: 9 of 33 layers, the stem among them), a dead network. Both scopes hit
the paper's single model-wide ratio (11% of the conv weights kept) up to per-layer rounding.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

log = logging.getLogger(__name__)

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


class PruneScope(str, enum.Enum):
    """How magnitudes are ranked."""

    LAYER = "layer"
    """Each layer pruned by the same fraction (default; scale-invariant under BatchNorm)."""
    GLOBAL = "global"
    """One ranking over all convolution weights."""


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every convolution of the model, by qualified name, in module order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, CONV_TYPES)]


def is_pruned(module: nn.Module) -> bool:
    return prune.is_pruned(module) and hasattr(module, "weight_mask")


def apply_pruning(model: nn.Module, sparsity: float, scope: PruneScope | str = PruneScope.LAYER) -> dict[str, dict[str, int]]:
    """Prune ``round(sparsity * n)`` smallest-magnitude conv weights (n = all conv weights for
    ``global``, each layer's count for ``layer``); returns per-layer ``{numel, nonzero}``.

    Pruning an already pruned model combines masks (torch's ``PruningContainer``).
    """
    if not 0.0 < float(sparsity) < 1.0:
        raise ValueError(f"sparsity must be in (0, 1), got {sparsity}")
    scope = PruneScope(scope)
    layers = conv_layers(model)
    if not layers:
        raise ValueError("model has no convolution layers to prune")
    if scope is PruneScope.GLOBAL:
        n_total = sum(m.weight.numel() for _, m in layers)
        amount = int(round(float(sparsity) * n_total))
        prune.global_unstructured([(m, "weight") for _, m in layers], pruning_method=prune.L1Unstructured, amount=amount)
    else:
        for _, m in layers:
            prune.l1_unstructured(m, "weight", amount=float(sparsity))
    stats = layer_sparsity(model)
    total = sum(s["numel"] for s in stats.values())
    nz = sum(s["nonzero"] for s in stats.values())
    log.info("pruned %d conv layers (%s): %d of %d weights kept, sparsity %.4f", len(layers), scope.value, nz, total, 1 - nz / total)
    return stats


def layer_sparsity(model: nn.Module) -> dict[str, dict[str, int]]:
    """``{layer: {numel, nonzero}}`` of the effective conv weights (mask applied)."""
    out = {}
    for name, m in conv_layers(model):
        w = effective_weight(m)
        out[name] = {"numel": int(w.numel()), "nonzero": int(torch.count_nonzero(w))}
    return out


def conv_sparsity(model: nn.Module) -> float:
    """Fraction of zero weights over all convolutions."""
    stats = layer_sparsity(model)
    total = sum(s["numel"] for s in stats.values())
    return 1.0 - sum(s["nonzero"] for s in stats.values()) / total


@torch.no_grad()
def effective_weight(m: nn.Module) -> torch.Tensor:
    """The weight the layer computes with: ``weight_orig * weight_mask`` while pruned."""
    if is_pruned(m):
        return m.weight_orig * m.weight_mask
    return m.weight.detach()


def masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Pruning masks by layer name (saved with a fine-tune checkpoint for an exact resume)."""
    return {name: m.weight_mask.detach().clone() for name, m in conv_layers(model) if is_pruned(m)}


def apply_masks(model: nn.Module, layer_masks: dict[str, Any]) -> None:
    """Re-create pruning from saved masks (``prune.custom_from_mask``), e.g. on resume."""
    mods = dict(conv_layers(model))
    missing = set(layer_masks) - set(mods)
    if missing:
        raise ValueError(f"masks for unknown layers: {sorted(missing)}")
    for name, mask in layer_masks.items():
        prune.custom_from_mask(mods[name], "weight", torch.as_tensor(mask, dtype=torch.float32))


def remove_pruning(model: nn.Module) -> None:
    """Make pruning permanent: ``weight = weight_orig * mask`` becomes a plain parameter."""
    for _, m in conv_layers(model):
        if is_pruned(m):
            prune.remove(m, "weight")
