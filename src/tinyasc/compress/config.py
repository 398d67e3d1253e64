"""CompressConfig: what ``asc-compress`` does to a model (the fine-tune recipe is a ``TrainConfig``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from tinyasc.compress.prune import PruneSchedule, PruneScope
from tinyasc.model.export_form import ExportForm

CONV_BITS = 8
"""Bits of a quantized convolution weight (paper sec. 2.3)."""
OTHER_BITS = 16
"""Bits of every other parameter of a quantized model (half precision)."""


@dataclass(frozen=True, kw_only=True)
class CompressConfig:
    """Pruning, quantization and distillation settings (paper sec. 2.3 and Table 4)."""

    sparsity: float = 0.89
    """Fraction of convolution weights set to zero by one-shot magnitude pruning, in (0, 1)."""
    scope: PruneScope = PruneScope.LAYER
    """Magnitude ranking per layer (``layer``, default) or over all convolutions (``global``); see ``prune``."""
    schedule: PruneSchedule = PruneSchedule.ONE_SHOT
    """``one-shot`` (the paper's: prune, then fine-tune) or ``gradual`` (the sparsity rises to the target along a
    cubic schedule during the fine-tune; for short fine-tunes)."""
    prune_ramp: float = 0.5
    """``gradual``: fraction of the fine-tune's steps over which the sparsity rises to the target; the rest of the
    fine-tune runs at the target."""
    qat: bool = True
    """Quantization-aware fine-tuning: int8 conv weights, int8 activations, float16 others."""
    quantize_activations: bool = False
    """Also fake-quantize activations (int8 per tensor) during QAT. Off by default: the deployed
    checkpoint is the plain float model, which does not clamp activations to the ranges QAT learned
    to rely on (measured on ASC-1 at 0.5 sparsity: 21.7% as the float checkpoint vs 38.8% with the
    activation fake-quant emulated), so ``asc-eval`` and the export's parity gate would score a
    model that is never deployed. The paper's "8-bit convolutions, 16-bit others" are weight widths."""
    act_quant_start: float = 0.5
    """Fraction of the fine-tune epochs after which activations are fake-quantized (observed from the
    start); 0 quantizes them from the first step. Weights are fake-quantized from the start."""
    fold_norm_stats: bool = True
    """Fold BatchNorm running statistics into its scale/shift in the saved model (2 values per channel)."""
    kd_alpha: float = 0.5
    """Weight of the distillation term (used when a teacher is given); 0 disables KD."""
    kd_temperature: float = 2.0
    """Distillation temperature T."""
    calibration_batches: int = 4
    """Training batches run (eval mode, no update) to initialise activation ranges before QAT."""
    int8_epochs: int = 2
    """Epochs of int8 QAT after the fine-tune: the export form of the model (``int8_form``) with every tensor of
    its int8 graph fake-quantized (:mod:`tinyasc.model.int8`), trained with the same KD. Its quantization
    parameters are the ones the int8 file holds. 0: no int8 model (the export calibrates after the fact)."""
    int8_form: ExportForm = ExportForm.EQUALIZED
    """Export form the int8 model is built on (``asc-export`` takes it from the checkpoint)."""
    int8_lr_scale: float = 0.02
    """Learning rate of the int8 QAT as a fraction of the fine-tune's (the weights are already close)."""
    int8_calibration_batches: int = 8
    """Training batches observed in float to start every int8 range before the QAT."""
    int8_freeze_ranges: bool = True
    """Hold the calibrated ranges while int8 QAT trains the weights (the default), or let them follow the training
    batches as a moving min/max. Training batches are augmented (mixup, SpecAugment masks, time roll) and pull
    moving ranges away from what unaugmented clips need: on the quick profile's c = 20 model at 0.89 (1-s clips),
    2 epochs of int8 QAT scored 39.3% with frozen ranges, 37.2% with moving ones, 38.7% calibrated only."""

    def __post_init__(self) -> None:
        if not isinstance(self.scope, PruneScope):
            object.__setattr__(self, "scope", PruneScope(self.scope))
        if not isinstance(self.schedule, PruneSchedule):
            object.__setattr__(self, "schedule", PruneSchedule(self.schedule))
        if not 0.0 < float(self.prune_ramp) <= 1.0:
            raise ValueError(f"prune_ramp must be in (0, 1], got {self.prune_ramp}")
        if not 0.0 < float(self.sparsity) < 1.0:
            raise ValueError(f"sparsity must be in (0, 1), got {self.sparsity}")
        if not 0.0 <= self.kd_alpha <= 1.0 or not self.kd_temperature > 0:
            raise ValueError("need 0 <= kd_alpha <= 1 and kd_temperature > 0")
        if not 0.0 <= self.act_quant_start < 1.0:
            raise ValueError(f"act_quant_start must be in [0, 1), got {self.act_quant_start}")
        if not isinstance(self.int8_form, ExportForm):
            object.__setattr__(self, "int8_form", ExportForm(self.int8_form))
        if self.int8_form is ExportForm.AS_TRAINED:
            raise ValueError("int8_form: the int8 model needs BatchNorm folded (fold, equalized or equalized-lifted)")
        if self.int8_epochs < 0 or self.int8_calibration_batches < 1 or not 0 < self.int8_lr_scale <= 1:
            raise ValueError("need int8_epochs >= 0, int8_calibration_batches >= 1 and 0 < int8_lr_scale <= 1")
        if self.int8_epochs and not self.qat:
            raise ValueError("int8 QAT needs qat (int8_epochs = 0 with --no-qat)")
        if self.calibration_batches < 0:
            raise ValueError("calibration_batches must be >= 0")

    def act_quant_epoch(self, epochs: int) -> int:
        """Number of fine-tune epochs run before activation fake quantization is switched on."""
        return int(self.act_quant_start * epochs)

    @property
    def conv_bits(self) -> int:
        return CONV_BITS if self.qat else 32

    @property
    def other_bits(self) -> int:
        return OTHER_BITS if self.qat else 32

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["scope"] = self.scope.value
        d["schedule"] = self.schedule.value
        d["int8_form"] = self.int8_form.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CompressConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
