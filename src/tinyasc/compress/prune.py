"""Unstructured magnitude pruning of every convolution (``torch.nn.utils.prune``): one-shot or gradual.

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
convolutions (ASC-1: 9 of 33 layers, the stem among them), a dead network. ``lamp`` ranks all
weights by a score that is a ratio within each layer (scale-free, every layer keeps its largest
weight): the scope for small models at high sparsity, where 89% per layer empties the 3-tap
frequency depthwise convolutions channel by channel. Every scope hits the paper's single
model-wide ratio (11% of the conv weights kept), ``layer`` up to per-layer rounding.

Schedule (``PruneSchedule``): ``one-shot`` (the paper's) or ``gradual`` (:func:`gradual_sparsity`,
:func:`prune_to` before every fine-tune step).
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
    LAMP = "lamp"
    """One ranking over all convolution weights by LAMP score (Lee et al., *Layer-adaptive sparsity for the
    magnitude-based pruning*, ICLR 2021): a weight's square over the sum of the squares of the weights of its layer
    at least as large. Invariant to each layer's scale (so BatchNorm does not decide it), it keeps every layer's
    largest weight and spends the zeros where a layer holds many small weights: the model-wide ratio is exact,
    the per-layer ratios adapt (measured in docs/compress.md: the 3-tap frequency depthwise convolutions of a
    BC-ResBlock lose their channels at 0.89 per layer)."""


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
    weights = [effective_weight(m) for _, m in layers]
    for (_, m), mask in zip(layers, _scope_masks(weights, float(sparsity), scope)):
        prune.custom_from_mask(m, "weight", mask)
    stats = layer_sparsity(model)
    total = sum(s["numel"] for s in stats.values())
    nz = sum(s["nonzero"] for s in stats.values())
    log.info("pruned %d conv layers (%s): %d of %d weights kept, sparsity %.4f", len(layers), scope.value, nz, total, 1 - nz / total)
    return stats


class PruneSchedule(str, enum.Enum):
    """When the weights are removed."""

    ONE_SHOT = "one-shot"
    """All at once before the fine-tune (the paper's, sec. 2.3, with 300 fine-tune epochs)."""
    GRADUAL = "gradual"
    """Raised during the fine-tune from 0 to the target along Zhu & Gupta's cubic schedule (*To prune, or not to
    prune*, 2017), masks recomputed by magnitude before every step: the network adapts while it loses weights,
    which a short fine-tune needs (measured in docs/compress.md)."""


def gradual_sparsity(step: int, ramp_steps: int, final: float) -> float:
    """Sparsity at ``step`` of the cubic schedule ``final * (1 - (1 - step / ramp)^3)``: fast at first, when many
    small weights can go, slow near the target; ``final`` from ``ramp_steps`` on."""
    if ramp_steps <= 0 or step >= ramp_steps:
        return float(final)
    f = max(0, step) / ramp_steps
    return float(final) * (1.0 - (1.0 - f) ** 3)


@torch.no_grad()
def prune_to(model: nn.Module, sparsity: float, scope: PruneScope | str = PruneScope.LAYER) -> int:
    """Raise the masks of an already pruned model (:func:`apply_masks`) to ``sparsity`` by the magnitude of the
    effective weights, so a pruned weight stays pruned (masks only lose ones); returns the number of kept weights.
    ``layer``: ``round(sparsity * n)`` zeros in each layer; ``global``: ``round(sparsity * n_all)`` in all."""
    layers = [m for _, m in conv_layers(model) if is_pruned(m)]
    if not layers:
        raise ValueError("prune_to needs masks on the convolutions (apply_masks first)")
    kept = 0
    for m, mask in zip(layers, _scope_masks([m.weight_orig * m.weight_mask for m in layers], float(sparsity),
                                           PruneScope(scope))):
        m.weight_mask.mul_(mask)
        kept += int(m.weight_mask.sum())
    return kept


def lamp_scores(weight: torch.Tensor) -> torch.Tensor:
    """LAMP score of every weight of one layer (same shape): ``w_u^2 / sum_{v: |w_v| >= |w_u|} w_v^2``, ties broken by
    sort order; 0 for a zero weight."""
    sq = weight.detach().double().flatten() ** 2
    order = torch.argsort(sq)
    tail = torch.flip(torch.cumsum(torch.flip(sq[order], [0]), 0), [0])  # sum of the squares from each rank up
    scores = torch.zeros_like(sq)
    scores[order] = torch.where(tail > 0, sq[order] / tail.clamp_min(1e-300), torch.zeros_like(tail))
    return scores.view_as(weight)


def _scope_masks(weights: list[torch.Tensor], sparsity: float, scope: PruneScope) -> list[torch.Tensor]:
    """Keep-masks (1 kept) removing ``round(sparsity * n)`` weights per layer (``layer``) or over all (otherwise)."""
    groups = [[w] for w in weights] if scope is PruneScope.LAYER else [weights]
    score = lamp_scores if scope is PruneScope.LAMP else (lambda w: w.detach().abs().double())  # noqa: E731
    out: list[torch.Tensor] = []
    for group in groups:
        flat = torch.cat([score(w).flatten() for w in group])
        keep = flat.numel() - int(round(float(sparsity) * flat.numel()))
        mask = torch.zeros(flat.numel(), dtype=torch.float32)
        if keep > 0:
            mask[torch.topk(flat, keep, sorted=False).indices] = 1.0
        offset = 0
        for w in group:
            out.append(mask[offset : offset + w.numel()].view_as(w).to(w.device))
            offset += w.numel()
    return out


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
