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


#: LiteRT's XNNPACK delegate (its default on CPUs) refuses a quantized CONV_2D, DEPTHWISE_CONV_2D or
#: FULLY_CONNECTED whose requantization scale ``input_scale * weight_scale[c] / output_scale`` reaches this for any
#: output channel: the whole file then fails to load under LiteRT's default settings ("failed to prepare"; 255.9
#: loads, 256.0 does not, measured with ai-edge-litert 2.1 on a quick-profile file). TFLite Micro has no such bound.
XNNPACK_MAX_REQUANT_SCALE = 256.0


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


def mean_multiplier(in_scale: float, out_scale: float, n: int) -> tuple[int, int]:
    """MEAN's multiplier with 1/n folded in, as TFLM's ``QuantizedMeanOrSum`` computes it at run time:
    ``quantize_multiplier(s_in / s_out)``, then the multiplier shifted left by ``min(floor(log2 n), 32,
    31 + shift)`` and divided by ``n`` (integer division). Shared by the firmware generator and the
    integer simulation of :mod:`tinyasc.model.int8`."""
    mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    s = n.bit_length() - 1  # 63 - clz64(n)
    s = min(s, 32)
    s = min(s, 31 + shift)
    mult = (mult << s) // n
    return int(mult), int(shift - s)


def int8_activation_params(lo: float, hi: float) -> tuple[float, int]:
    """TFLite's asymmetric int8 ``(scale, zero_point)`` of ``[lo, hi]``, the range widened to hold 0.

    ``scale = (hi - lo) / 255`` rounded to float32 (the file stores float32), ``zero_point`` so that
    ``lo`` maps to -128. An empty range gives ``(1.0, 0)``. The QAT model (``tinyasc.model.int8``) and
    the ``.tflite`` rewriter (``tinyasc.export.calibrate``) both take their parameters from here.
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo <= 0.0:
        return 1.0, 0
    scale = float(np.float32((hi - lo) / 255.0))
    zp = int(np.clip(np.round(-128.0 - lo / scale), -128, 127))
    return scale, zp
