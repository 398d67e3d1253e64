"""ModelConfig: the frozen, validated description of one BC-ResNet-ASC architecture."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Mapping


class NormMode(str, enum.Enum):
    """Normalization variant: the paper's method and its Table-3 ablations (switches, not forks)."""

    RESNORM = "resnorm"
    """ResNorm (eq. 3) on the input and after each of the four stages: five modules."""
    NONE = "none"
    """No frequency normalization (the paper's baseline)."""
    GLOBAL = "global"
    """Global FreqNorm: per-frequency mean/std of the training set applied to the input."""
    PCEN = "pcen"
    """Fixed PCEN front end computed from ``exp(log-mel)`` instead of log-mel; no other norm."""
    INPUT_ONLY = "input-only"
    """ResNorm on the input only ("w/o ResNorm in network")."""
    FREQIN = "freqin"
    """ResNorm with lambda = 0 at all five places ("w/o shortcut"), whatever ``resnorm_lambda`` says."""


class Activation(str, enum.Enum):
    """Activation of the temporal (broadcast) branch: SiLU as in the paper, ReLU for int8 export."""

    SILU = "silu"
    RELU = "relu"


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """BC-ResNet-ASC hyper-parameters (paper Table 1, sec. 2.2, sec. 3)."""

    base_channels: int = 10
    """Base width c: stages have c, 1.5c, 2c, 2.5c channels (c=10: ASC-1, c=80: ASC-8)."""
    n_classes: int = 10
    """Output classes (the ten TAU scenes)."""
    norm: NormMode = NormMode.RESNORM
    """Frequency-normalization variant (see :class:`NormMode`)."""
    resnorm_lambda: float = 0.1
    """Shortcut weight lambda of ResNorm (eq. 3); the initial value when ``learnable_lambda``."""
    learnable_lambda: bool = False
    """Train lambda (one positive parameter per ResNorm module, starting at ``resnorm_lambda``);
    needs ``norm`` resnorm or input-only and ``resnorm_lambda > 0``."""
    activation: Activation = Activation.SILU
    """Activation after the temporal depthwise conv of every BC-ResBlock."""
    subspectral_groups: int = 4
    """Sub-bands of SubSpectralNorm (each has its own BatchNorm statistics)."""
    dropout: float = 0.1
    """Dropout2d rate at the end of the temporal branch."""
    n_mels: int = 256
    """Input frequency bins; must be divisible by 8 * subspectral_groups (two pools + stride 2)."""

    def __post_init__(self) -> None:
        for name, enum_type in (("norm", NormMode), ("activation", Activation)):
            value = getattr(self, name)
            if not isinstance(value, enum_type):
                object.__setattr__(self, name, enum_type(value))
        if self.base_channels < 2 or self.base_channels % 2:
            raise ValueError(f"base_channels must be an even number >= 2 (1.5c must be whole), got {self.base_channels}")
        if self.n_classes < 2:
            raise ValueError("n_classes must be >= 2")
        if self.resnorm_lambda < 0:
            raise ValueError("resnorm_lambda must be >= 0")
        if self.learnable_lambda and (self.norm not in (NormMode.RESNORM, NormMode.INPUT_ONLY)
                                      or not self.resnorm_lambda > 0):
            raise ValueError("learnable_lambda needs norm resnorm or input-only and resnorm_lambda > 0 "
                             f"(got norm {self.norm.value}, resnorm_lambda {self.resnorm_lambda})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        if self.subspectral_groups < 1 or self.n_mels % (8 * self.subspectral_groups):
            raise ValueError(
                f"n_mels ({self.n_mels}) must be divisible by 8 * subspectral_groups ({8 * self.subspectral_groups})"
            )

    @property
    def stage_channels(self) -> tuple[int, int, int, int]:
        """Channels of the four stages: c, 1.5c, 2c, 2.5c."""
        c = self.base_channels
        return (c, (3 * c) // 2, 2 * c, (5 * c) // 2)

    @property
    def effective_lambda(self) -> float:
        """Lambda actually used by the ResNorm modules (0 for ``freqin``)."""
        return 0.0 if self.norm is NormMode.FREQIN else self.resnorm_lambda

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``create_model(name, **cfg.to_dict())`` rebuilds the architecture."""
        d = dataclasses.asdict(self)
        d["norm"] = self.norm.value
        d["activation"] = self.activation.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**dict(d))
