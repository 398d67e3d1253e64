"""Batch augmentation of the paper's recipe: time roll with wrap, SpecAugment (no warp), mixup.

Every function draws from an explicit ``torch.Generator`` so that a batch's augmentation is
a pure function of (seed, epoch, batch index): a resumed run sees the same batches.
"""

from __future__ import annotations

import numpy as np
import torch


def random_roll(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Roll each clip of (N, C, F, T) along time by an integer in [-max_shift, max_shift], wrapping around."""
    if max_shift <= 0:
        return x
    n, t = x.shape[0], x.shape[-1]
    shifts = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen)
    idx = (torch.arange(t).view(1, t) - shifts.view(n, 1)) % t
    return torch.gather(x, -1, idx.view(n, 1, 1, t).expand_as(x))


def spec_augment(
    x: torch.Tensor, *, freq_masks: int, freq_width: int, time_masks: int, time_width: int, gen: torch.Generator
) -> torch.Tensor:
    """SpecAugment masks (Park et al. 2019, no time warp) on (N, C, F, T).

    Each mask's width is uniform in [0, max width] and its start uniform over the valid range.
    Masked cells take the clip's mean (a neutral value for log-mel, where 0 is not silence).
    """
    n, _, f, t = x.shape
    keep = torch.ones(n, 1, f, t, dtype=torch.bool)
    for count, width, size, axis in ((freq_masks, freq_width, f, 2), (time_masks, time_width, t, 3)):
        for _ in range(count):
            w = torch.randint(0, min(width, size) + 1, (n,), generator=gen)
            start = (torch.rand(n, generator=gen) * (size - w + 1).float()).long()
            pos = torch.arange(size).view(1, size)
            band = (pos >= start.view(n, 1)) & (pos < (start + w).view(n, 1))
            shape = (n, 1, size, 1) if axis == 2 else (n, 1, 1, size)
            keep &= ~band.view(shape)
    fill = x.mean(dim=(1, 2, 3), keepdim=True)
    return torch.where(keep, x, fill)


def mixup(
    x: torch.Tensor, targets: torch.Tensor, alpha: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018): one ``lam ~ Beta(alpha, alpha)`` per batch, partner = a permutation.

    ``targets`` are soft (N, classes); returns the mixed inputs and mixed targets.
    """
    if alpha <= 0 or x.shape[0] < 2:
        return x, targets
    # numpy's Beta sampler, seeded from the batch generator (torch.distributions takes no generator).
    lam = float(np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen))).beta(alpha, alpha))
    perm = torch.randperm(x.shape[0], generator=gen)
    return lam * x + (1 - lam) * x[perm], lam * targets + (1 - lam) * targets[perm]
