"""Batch augmentation: the paper's recipe (time roll with wrap, SpecAugment without warp, mixup) and
the device-generalization tools of later DCASE systems (Freq-MixStyle, device impulse responses).

Every function draws from an explicit ``torch.Generator`` so that a batch's augmentation is
a pure function of (seed, epoch, batch index): a resumed run sees the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tinyasc.contract import FeatureConfig
from tinyasc.data.features import logmel, read_audio
from tinyasc.data.impulse import apply_ir


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
    lam = float(_beta(alpha, None, gen))
    perm = torch.randperm(x.shape[0], generator=gen)
    return lam * x + (1 - lam) * x[perm], lam * targets + (1 - lam) * targets[perm]


def _beta(alpha: float, size: int | None, gen: torch.Generator) -> np.ndarray:
    """``size`` draws of Beta(alpha, alpha) from numpy, seeded from ``gen`` (torch's Beta takes no generator)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen))).beta(alpha, alpha, size)


def freq_mixstyle(x: torch.Tensor, *, alpha: float, prob: float, gen: torch.Generator,
                  eps: float = 1e-6) -> torch.Tensor:
    """Freq-MixStyle (Schmid et al., DCASE 2022; MixStyle of Zhou et al. 2021 on frequency statistics).

    With probability ``prob`` per batch: each clip of (N, C, F, T) is normalized per frequency
    bin by its mean and std over channels and time, then rescaled with statistics mixed with
    those of a partner clip (a random permutation of the batch), ``mu' = l mu_i + (1-l) mu_p``
    and ``sigma' = l sigma_i + (1-l) sigma_p``, one ``l ~ Beta(alpha, alpha)`` per clip.
    The variance is the unbiased one and ``eps`` is added to it, as in the published code.
    """
    if prob <= 0.0 or x.shape[0] < 2:
        return x
    if float(torch.rand((), generator=gen)) >= prob:
        return x
    n = x.shape[0]
    mu = x.mean(dim=(1, 3), keepdim=True)
    sig = (x.var(dim=(1, 3), keepdim=True) + eps).sqrt()
    lam = torch.from_numpy(_beta(alpha, n, gen)).to(x.dtype).view(n, 1, 1, 1)
    perm = torch.randperm(n, generator=gen)
    mu_mix = lam * mu + (1 - lam) * mu[perm]
    sig_mix = lam * sig + (1 - lam) * sig[perm]
    return (x - mu) / sig * sig_mix + mu_mix


@dataclass(frozen=True)
class DeviceIRAugment:
    """DIR augmentation on the waveform (exact): device-A clips of a batch get their log-mel recomputed
    from ``wav * IR`` with probability ``prob``, IR chosen uniformly (:mod:`tinyasc.data.impulse`).

    The feature cache holds log-mel only, so an augmented clip is decoded again from
    ``root / filename``, convolved, and passed through the same front end
    (:func:`tinyasc.data.features.logmel`), then rounded to float16 as the cache is.
    """

    irs: tuple[np.ndarray, ...]
    """Unit-energy impulse responses at the feature rate."""
    prob: float
    """Probability that a device-A clip is convolved."""
    root: Path
    """Dataset root the clips' file names are relative to."""
    feature_config: FeatureConfig
    """The front end of the cached features."""
    device: str = "a"
    """The device whose clips are augmented (the dominant training device)."""

    def __call__(self, x: torch.Tensor, filenames: list[str], devices: list[str],
                 gen: torch.Generator) -> tuple[torch.Tensor, int]:
        """Augment rows of ``x`` (N, 1, F, T); returns the batch and how many clips were convolved.

        Draws exactly ``2 N`` numbers from ``gen`` whatever the batch holds (reproducible).
        """
        n = x.shape[0]
        coin = torch.rand(n, generator=gen)
        choice = torch.randint(0, len(self.irs), (n,), generator=gen)
        rows = [i for i in range(n) if devices[i] == self.device and float(coin[i]) < self.prob]
        if not rows:
            return x, 0
        cfg = self.feature_config
        waves = np.stack([apply_ir(read_audio(self.root / filenames[i], cfg)[0], self.irs[int(choice[i])])
                          for i in rows])
        feats = logmel(waves, cfg).to(torch.float16).to(x.dtype)
        x = x.clone()
        x[rows, 0] = feats
        return x, len(rows)
