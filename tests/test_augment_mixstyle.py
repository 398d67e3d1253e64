"""Freq-MixStyle: identity at probability 0, per-bin statistics preserved in expectation, deterministic."""

from __future__ import annotations

import torch

from tinyasc.train.augment import freq_mixstyle
from tinyasc.train.config import TrainConfig


def _batch(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n, f, t = 8, 16, 40
    level = torch.randn(n, 1, f, 1, generator=g, dtype=torch.float64) * 3  # per-clip, per-bin "device" offsets
    spread = torch.rand(n, 1, f, 1, generator=g, dtype=torch.float64) * 2 + 0.5
    return level + spread * torch.randn(n, 1, f, t, generator=g, dtype=torch.float64)


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x.mean(dim=(1, 3)), x.var(dim=(1, 3)).sqrt()


def test_probability_zero_is_identity():
    x = _batch()
    assert torch.equal(freq_mixstyle(x, alpha=0.3, prob=0.0, gen=torch.Generator().manual_seed(1)), x)


def test_each_clip_gets_a_convex_mix_of_two_clips_statistics():
    x = _batch(1)
    y = freq_mixstyle(x, alpha=0.3, prob=1.0, gen=torch.Generator().manual_seed(2))
    assert not torch.equal(x, y)
    mu_x, sig_x = _stats(x)
    mu_y, sig_y = _stats(y)
    # per clip and bin, the new mean/std lie between the smallest and largest of the batch's (float64, 1e-9)
    assert (mu_y >= mu_x.min(0).values - 1e-9).all() and (mu_y <= mu_x.max(0).values + 1e-9).all()
    assert (sig_y >= sig_x.min(0).values - 1e-6).all() and (sig_y <= sig_x.max(0).values + 1e-6).all()


def test_batch_per_bin_statistics_preserved_in_expectation():
    """E[batch mean of the mixed per-bin means] = batch mean of the original ones (lambda ~ Beta(a, a)
    has mean 1/2 and the partner is a permutation), likewise for the stds. One draw's batch mean
    varies with sd ~0.2 x the spread of the clips' statistics (lambda has sd 0.4 at alpha 0.3,
    averaged over 8 clips), so the 2000-draw average has sd ~0.005 x spread; tolerance 0.03 x spread."""
    x = _batch(3)
    mu_x, sig_x = _stats(x)
    gen = torch.Generator().manual_seed(4)
    draws = 2000
    acc_mu = torch.zeros(mu_x.shape[1], dtype=torch.float64)
    acc_sig = torch.zeros_like(acc_mu)
    for _ in range(draws):
        mu_y, sig_y = _stats(freq_mixstyle(x, alpha=0.3, prob=1.0, gen=gen))
        acc_mu += mu_y.mean(0)
        acc_sig += sig_y.mean(0)
    tol_mu = 0.03 * float(mu_x.std(0).max())
    tol_sig = 0.03 * float(sig_x.std(0).max())
    assert (acc_mu / draws - mu_x.mean(0)).abs().max() < tol_mu
    # std of a mixed clip is the mixed std up to the eps (1e-6) under the square root
    assert (acc_sig / draws - sig_x.mean(0)).abs().max() < tol_sig


def test_probability_is_per_batch():
    x = _batch(5)
    gen = torch.Generator().manual_seed(6)
    changed = sum(not torch.equal(freq_mixstyle(x, alpha=0.3, prob=0.4, gen=gen), x) for _ in range(1000))
    assert 340 < changed < 460  # binomial(1000, 0.4): mean 400, sd 15.5


def test_same_generator_same_result():
    x = _batch(7)
    a = freq_mixstyle(x, alpha=0.3, prob=1.0, gen=torch.Generator().manual_seed(8))
    b = freq_mixstyle(x, alpha=0.3, prob=1.0, gen=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)


def test_published_defaults_and_validation():
    d = TrainConfig()
    assert (d.freq_mixstyle, d.mixstyle_alpha, d.mixstyle_prob, d.dir_prob) == (False, 0.3, 0.4, 0.6)
    for bad in ({"mixstyle_prob": 1.5}, {"mixstyle_alpha": 0.0}, {"dir_prob": -0.1}):
        try:
            TrainConfig(**bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")
