"""TrainConfig: the paper's recipe (sec. 3) as defaults, frozen and validated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

SPECAUGMENT_AUTO_MIN_PARAMS = 100_000
"""``specaugment=None`` turns SpecAugment on for models with at least this many parameters
(the paper uses it for ASC-8, 315k, and not for ASC-1, 8.1k)."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training hyper-parameters. Defaults are the paper's recipe for 100 epochs."""

    epochs: int = 100
    """Training epochs (the final epoch is reported; no early stopping)."""
    batch_size: int = 64
    """Global mini-batch size (split over ranks under DDP)."""
    lr: float = 0.06
    """Peak learning rate, reached after the warm-up."""
    warmup_epochs: float = 5.0
    """Linear warm-up from 0 to ``lr`` over this many epochs, then cosine annealing to 0 (per step)."""
    momentum: float = 0.9
    """SGD momentum."""
    weight_decay: float = 1e-3
    """SGD weight decay (all parameters)."""
    mixup_alpha: float = 0.3
    """Mixup Beta(alpha, alpha) per batch; 0 disables mixup."""
    specaugment: bool | None = None
    """SpecAugment on/off; None = on for models with >= 100k parameters (ASC-8), off for small ones."""
    freq_masks: int = 2
    """SpecAugment frequency masks per clip."""
    freq_mask_width: int = 40
    """Maximum width of a frequency mask (mel bins); the width is uniform in [0, max]."""
    time_masks: int = 2
    """SpecAugment time masks per clip."""
    time_mask_width: int = 80
    """Maximum width of a time mask (frames)."""
    roll_seconds: float = 1.5
    """Random circular time roll of each clip, uniform in +-roll_seconds (wraps around)."""
    freq_mixstyle: bool = False
    """Freq-MixStyle on the log-mel batch (after SpecAugment, before mixup)."""
    mixstyle_alpha: float = 0.3
    """Freq-MixStyle Beta(alpha, alpha) of the mixing weights (CP-JKU's published default 0.3)."""
    mixstyle_prob: float = 0.4
    """Probability that a batch gets Freq-MixStyle (CP-JKU's published default 0.4)."""
    dir_prob: float = 0.6
    """Probability that a device-A clip is convolved with a device impulse response, when an IR
    folder is given (CP-JKU's published default 0.6)."""
    seed: int = 0
    """Seed; every epoch's and batch's randomness derives from (seed, epoch[, batch])."""
    num_workers: int = 0
    """DataLoader worker processes that read and augment batches (0 = in the training process)."""
    device: str | None = None
    """torch device; None = CUDA when available, else CPU."""
    eval_every: int = 1
    """Evaluate on the evaluation set every this many epochs (and always after the last one)."""
    eval_batch_size: int = 64
    """Batch size of the per-epoch evaluation."""
    steps_per_epoch: int | None = None
    """Cap on optimizer steps per epoch (smoke runs and benchmarks); None = the whole training set."""
    progress: bool = True
    """Show a tqdm progress bar (rank 0 only)."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be >= 1 and batch_size >= 2")
        if self.lr <= 0 or self.warmup_epochs < 0 or not 0 <= self.momentum < 1 or self.weight_decay < 0:
            raise ValueError("need lr > 0, warmup_epochs >= 0, 0 <= momentum < 1, weight_decay >= 0")
        if self.mixup_alpha < 0 or self.roll_seconds < 0:
            raise ValueError("mixup_alpha and roll_seconds must be >= 0")
        if min(self.freq_masks, self.freq_mask_width, self.time_masks, self.time_mask_width) < 0:
            raise ValueError("SpecAugment mask counts and widths must be >= 0")
        if self.mixstyle_alpha <= 0 or not 0.0 <= self.mixstyle_prob <= 1.0:
            raise ValueError(f"need mixstyle_alpha > 0 and mixstyle_prob in [0, 1], got {self.mixstyle_alpha}, "
                             f"{self.mixstyle_prob}")
        if not 0.0 <= self.dir_prob <= 1.0:
            raise ValueError(f"dir_prob must be in [0, 1], got {self.dir_prob}")
        if self.num_workers < 0 or self.eval_every < 1 or self.eval_batch_size < 1:
            raise ValueError("num_workers >= 0, eval_every >= 1 and eval_batch_size >= 1 required")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError("steps_per_epoch must be >= 1 or None")

    def specaugment_for(self, n_params: int) -> bool:
        """Resolve ``specaugment=None`` from the model size."""
        if self.specaugment is not None:
            return bool(self.specaugment)
        return n_params >= SPECAUGMENT_AUTO_MIN_PARAMS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True, kw_only=True)
class KDConfig:
    """Knowledge distillation (Hinton et al.): ``(1-alpha) * CE + alpha * T^2 * KL(teacher_T || student_T)``."""

    alpha: float = 0.5
    """Weight of the distillation term."""
    temperature: float = 2.0
    """Softmax temperature T of both teacher and student in the distillation term."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise ValueError("need 0 <= alpha <= 1 and temperature > 0")
