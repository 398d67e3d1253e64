"""The DCASE Task 1 complexity limits every stage checks against: one definition.

"128 KB" and "128K" are read as 128,000 (the challenge's 2021 baseline README reads KB as
1,000 bytes; 131,072 is the looser reading), so a model tinyasc passes passes either way.
"""

from __future__ import annotations

DCASE2021_MAX_NONZERO_BYTES = 128_000
"""DCASE 2021 Task 1A: 128 KB of non-zero parameters."""
DCASE2022_MAX_PARAMS = 128_000
"""DCASE 2022+ Task 1: 128K parameters, zeros included (stored as int8)."""
DCASE2022_MAX_MACS_PER_SECOND = 30_000_000
"""DCASE 2022+ Task 1: 30 million multiply-accumulates per inference on 1 s of audio."""
