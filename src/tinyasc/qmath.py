"""TFLite's QUANTIZE arithmetic (numpy only), shared by the export parity, the firmware parity and
the C front end's reference, so every stage feeds a model the same integer codes as the device.

``q = clamp(round_half_away_from_zero(float32(x) / float32(scale)) + zero_point, lo, hi)``: the
quotient is taken in float32 as TFLite's reference kernel does, and ties round away from zero
(``TfLiteRound`` is ``std::round``), not to even as ``np.round`` does. The rounding is done on the
float32 quotient's integer and fractional parts, which are exact, so ``0.49999997`` stays 0.
"""

from __future__ import annotations

import math

import numpy as np

#: Integer types of quantized tensors: numpy dtype and saturation range.
INT_RANGES: dict[str, tuple[type, int, int]] = {
    "INT8": (np.int8, -128, 127),
    "INT16": (np.int16, -32768, 32767),
    "UINT8": (np.uint8, 0, 255),
}


def quantize(x: np.ndarray, scale: float, zero_point: int, *, dtype: str = "INT8") -> np.ndarray:
    """Float -> integer codes of ``dtype`` (module docstring)."""
    np_type, lo, hi = INT_RANGES[dtype]
    q = np.asarray(x, dtype=np.float32) / np.float32(scale)
    r = np.trunc(q)
    frac = q - r
    r = r + (frac >= 0.5) - (frac <= -0.5)
    return np.clip(r.astype(np.float64) + int(zero_point), lo, hi).astype(np_type)


def tfl_round(x: float) -> int:
    """``std::round``: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: real = m * 2^(shift - 31), m in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = tfl_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)
