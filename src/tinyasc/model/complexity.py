"""Multiply-accumulate count of a PyTorch model and the DCASE 2022+ complexity rules.

Convention (the challenge's torchinfo-style counter, as ``asc-audit`` counts the int8 graph):

* ``Conv2d``: output elements x (in_channels / groups x kh x kw); the bias adds nothing.
* ``Linear``: out_features x in_features per sample; the bias adds nothing.
* element-wise multiplications of the normalization modules, one MAC per output element and
  multiply: ResNorm 3 (the square of its variance, the scale by 1 / sigma, lambda * x; 2 when
  lambda = 0), SubSpectralNorm 1 (its per-sub-band scale cannot fold into the depthwise conv
  before it), GlobalFreqNorm 1. BatchNorm2d counts 0: every one in BC-ResNet-ASC follows a
  conv and folds into it at export.

Additions (residual sums, means, pooling) and activations are not MACs. Counts are per
inference of one clip (batch 1), exact for the given input shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tinyasc.contract import FeatureConfig
from tinyasc.model.norm import GlobalFreqNorm, ResNorm, SubSpectralNorm

from tinyasc.rules import DCASE2022_MAX_MACS_PER_SECOND as DCASE2022_MAX_MACS
from tinyasc.rules import DCASE2022_MAX_PARAMS


def _norm_multiplies(module: nn.Module) -> int:
    """Element-wise multiplies per output element of a normalization module (see module doc)."""
    if isinstance(module, ResNorm):
        return 3 if (module.learnable or module.lam != 0.0) else 2
    if isinstance(module, (SubSpectralNorm, GlobalFreqNorm)):
        return 1
    return 0


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs of one forward pass of ``model`` on a zero input of ``input_shape`` (batch 1), by forward hooks."""
    if input_shape[0] != 1:
        raise ValueError(f"count MACs per clip: batch must be 1, got input shape {input_shape}")
    total = 0

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total += (output.numel() // module.out_features) * module.out_features * module.in_features
        else:
            total += output.numel() * _norm_multiplies(module)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear)) or _norm_multiplies(m)]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        x = torch.zeros(input_shape, dtype=param.dtype if param is not None else torch.float32,
                        device=param.device if param is not None else None)
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total)


def count_all_parameters(model: nn.Module) -> int:
    """Every parameter, zeros included (the 2022+ rule; BatchNorm running statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True, kw_only=True)
class Complexity:
    """A model's size and compute against the DCASE 2022+ limits."""

    params: int
    """Parameters including zeros."""
    macs_paper: int
    """MACs per inference at the paper's input (a 10-s clip)."""
    macs_1s: int
    """MACs per inference of a 1-s clip (what the 2022+ rule limits)."""
    paper_seconds: float
    """Clip length of ``macs_paper``."""

    @property
    def meets_dcase2022(self) -> bool:
        """Within 128K parameters and 30 M MACs per 1-s clip."""
        return self.params <= DCASE2022_MAX_PARAMS and self.macs_1s <= DCASE2022_MAX_MACS

    def to_dict(self) -> dict[str, int | float | bool]:
        return {"params": self.params, "macs_paper": self.macs_paper, "macs_1s": self.macs_1s,
                "paper_seconds": self.paper_seconds, "meets_dcase2022": self.meets_dcase2022}


def input_shape(n_mels: int, seconds: float) -> tuple[int, int, int, int]:
    """(1, 1, n_mels, frames) of a clip of ``seconds`` through the paper's front end."""
    return (1, 1, n_mels, FeatureConfig(n_mels=n_mels, clip_seconds=seconds).n_frames)


def complexity(model: nn.Module, *, paper_seconds: float = 10.0) -> Complexity:
    """Parameters and MACs at the paper's 10-s input and at 1 s (``model.config.n_mels`` mel bins)."""
    n_mels = model.config.n_mels
    return Complexity(params=count_all_parameters(model),
                      macs_paper=count_macs(model, input_shape(n_mels, paper_seconds)),
                      macs_1s=count_macs(model, input_shape(n_mels, 1.0)), paper_seconds=paper_seconds)
