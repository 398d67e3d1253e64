"""Knowledge distillation (Hinton et al. 2015) combined with the mixup targets of training.

``loss = (1 - alpha) * CE(student, y_mix) + alpha * T^2 * KL(softmax(t/T) || softmax(s/T))``

``y_mix`` are the (soft) mixup targets; the teacher sees the same augmented (mixed) batch as
the student, so its soft labels describe the input the student is trained on. ``T^2`` keeps
the gradient scale of the soft term independent of T (Hinton et al., sec. 2). KL is averaged
over the batch (``batchmean``), the cross-entropy over samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True, kw_only=True)
class KDParams:
    """Distillation weights."""

    alpha: float = 0.5
    """Weight of the distillation term; 0 is plain training on the (mixup) targets."""
    temperature: float = 2.0
    """Softmax temperature T of teacher and student in the distillation term."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"KD alpha must be in [0, 1], got {self.alpha}")
        if not self.temperature > 0:
            raise ValueError(f"KD temperature must be > 0, got {self.temperature}")


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with soft (N, C) targets, or hard (N,) class indices."""
    if targets.dim() == 1:
        return F.cross_entropy(logits, targets.long())
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, *, alpha: float, temperature: float
) -> torch.Tensor:
    """Hinton KD loss (module docstring) for one batch."""
    hard = soft_cross_entropy(student_logits, targets)
    if alpha == 0.0:
        return hard
    t = float(temperature)
    soft = F.kl_div(
        F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits.detach() / t, dim=1),
        reduction="batchmean", log_target=True,
    )
    return (1.0 - alpha) * hard + alpha * t * t * soft


class DistillationLoss(nn.Module):
    """``loss_fn(logits, mixed_targets, inputs)`` for the training loop: runs the frozen teacher on ``inputs``."""

    def __init__(self, teacher: nn.Module, params: KDParams):
        super().__init__()
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.params = params

    def train(self, mode: bool = True) -> "DistillationLoss":
        super().train(mode)
        self.teacher.eval()  # the teacher always predicts with running statistics, no dropout
        return self

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.teacher.eval()
            teacher_logits = self.teacher(inputs.to(next(self.teacher.parameters()).device)).to(logits.device)
        return kd_loss(logits, teacher_logits, targets, alpha=self.params.alpha, temperature=self.params.temperature)
