"""The paper's published figures that reports put beside ours: one definition.

Kim, Yang, Kim, Chang, *Domain generalization on efficient acoustic scene classification using residual
normalization* (DCASE 2021 Task 1A), Table 4: BC-ResNet-ASC-8 with ResNorm, 300 epochs, TAU Urban Acoustic
Scenes 2020 Mobile development set, mean over 6 seeds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class PaperRow:
    """One row of the paper's Table 4."""

    method: str
    bits: str
    """Weight bit widths as the paper states them ("32"; "8, 16": 8-bit convolutions, 16-bit rest)."""
    kd: bool
    pruning: float | None
    accuracy: float
    """Top-1 test accuracy, %."""
    accuracy_std: float
    nonzero_kb: float | None
    """Non-zero parameter storage in the paper's KB (KiB, sec. 3.3: 61.5 in the text, 61.0 in the abstract)."""


CONV_NONZERO_8BIT = 33_000
"""Sec. 3.3: non-zero 8-bit convolution weights of the compressed ASC-8 ("33K")."""
OTHER_NONZERO_16BIT = 15_000
"""Sec. 3.3: 16-bit parameters for normalization ("15K")."""
REPORTED_KB = 61.5
"""Sec. 3.3's size of the compressed model (KiB)."""
ABSTRACT_KB = 61.0
"""The abstract's size of the same model."""


TABLE4 = (
    PaperRow(method="vanilla (ASC-8 + ResNorm)", bits="32", kd=False, pruning=None, accuracy=76.3, accuracy_std=0.8,
             nonzero_kb=None),
    PaperRow(method="compressed", bits="8, 16", kd=False, pruning=0.89, accuracy=75.1, accuracy_std=0.9,
             nonzero_kb=REPORTED_KB),
    PaperRow(method="compressed + KD", bits="8, 16", kd=True, pruning=0.89, accuracy=75.3, accuracy_std=0.8,
             nonzero_kb=REPORTED_KB),
)
"""Table 4 (the compressed rows' size is sec. 3.3's 33K 8-bit + 15K 16-bit non-zero = 61.5 KB)."""
