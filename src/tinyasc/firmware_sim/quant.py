"""TFLite's quantization arithmetic done at generation time, bit for bit as TFLM's Prepare().

Scales in a ``.tflite`` file are float32; TFLM sometimes combines them in double and
sometimes in float32 (SUB, RSQRT, SQUARED_DIFFERENCE). Each helper says which, because a
one-ulp difference in a real multiplier can move a rounded int8 output by one step.
"""

from __future__ import annotations

import math

import numpy as np

from tinyasc.firmware_sim.int8_tables import INT32_MAX, INT32_MIN, mbqm
from tinyasc.qmath import INT_RANGES, mean_multiplier, quantize_multiplier, tfl_round  # noqa: F401 (re-exported)

F32 = np.float32






def constant_channel(bias: int, multiplier: int, shift: int, reach: int) -> tuple[int, int, int] | None:
    """``(bias', multiplier', shift')`` giving a channel's output on the kernels' folded path, where that output is
    one constant for every input, or None.

    A channel's sum is ``bias + sum w (x + offset)``, within ``reach`` of its bias (``sum |w|`` times the largest
    ``|x + offset|``). TFLite's ``MultiplyByQuantizedMultiplier`` with m > 0 and a right shift is monotone in the sum
    (SaturatingRoundingDoublingHighMul rounds half up, RoundingDivideByPOT half away from zero), so where it gives
    the same k at both ends of that range the channel outputs ``zero point + k`` (clamped) for every input: a
    channel whose weights are all zero and whose bias alone carries its output, as quantizers leave pruned channels,
    or one scaled almost to nothing. Where its shift is below the folded path's range (s < -23: such channels' scales
    are tiny), the same k comes from ``multiplier' = 2^30``, ``shift' = -e`` and ``bias' = k 2^(e + 1)`` with the
    least e in 2..23 such that ``reach < 2^e - 1``: SRDHM(acc, 2^30) = floor((acc + 1) / 2) stays within 2^(e-1) of
    ``k 2^e`` over the range, which RoundingDivideByPOT(., e) takes to k. One such channel otherwise sends the whole
    layer to the general output loop (tests/test_firmware_constant_channels.py checks both ends and points between)."""
    if shift >= -23 or multiplier <= 0 or bias - reach < INT32_MIN or bias + reach > INT32_MAX:
        return None  # folds already (or a left shift, whose int32 wrap-around is not monotone)
    k = mbqm(bias - reach, multiplier, shift)
    if mbqm(bias + reach, multiplier, shift) != k:
        return None
    for e in range(2, 24):
        if reach < (1 << e) - 1 and abs(k) * (1 << (e + 1)) + reach < INT32_MAX:
            return k * (1 << (e + 1)), 1 << 30, -e
    return None


def quantize_multiplier_lt1(real: float) -> tuple[int, int]:
    """``QuantizeMultiplierSmallerThanOneExp`` (shift <= 0)."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real} not in (0, 1)")
    return quantize_multiplier(real)


def f32(x: float) -> float:
    return float(F32(x))


def activation_range(activation: int, scale: float, zero_point: int, dtype: str = "INT8") -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for an ``INT8`` or ``INT16`` output (ActivationFunctionType codes)."""

    def quantize(v: float) -> int:
        return zero_point + tfl_round(float(F32(v) / F32(scale)))

    _, lo, hi = INT_RANGES[dtype]
    if activation == 1:  # RELU
        return max(lo, quantize(0.0)), hi
    if activation == 3:  # RELU6
        return max(lo, quantize(0.0)), min(hi, quantize(6.0))
    if activation == 2:  # RELU_N1_TO_1
        return max(lo, quantize(-1.0)), min(hi, quantize(1.0))
    if activation == 0:
        return lo, hi
    raise ValueError(f"fused activation {activation} not supported")


def add_params(s1: float, s2: float, so: float, left_shift: int = 20) -> tuple[int, ...]:
    """ADD (double arithmetic): (m1, sh1, m2, sh2, m_out, sh_out)."""
    twice = 2.0 * max(s1, s2)
    m1 = quantize_multiplier_lt1(s1 / twice)
    m2 = quantize_multiplier_lt1(s2 / twice)
    mo = quantize_multiplier_lt1(twice / ((1 << left_shift) * so))
    return (*m1, *m2, *mo)


def fast_rescalings(m1: int, sh1: int, m2: int, sh2: int, mo: int, sho: int, name: str) -> bool:
    """Whether an int8 element-wise op's rescalings (``name``: ``add``, ``sub``, ``mul``, ``squared_difference``) meet
    the optimized library's ``_fast`` kernels' precondition (``ok()`` in c/opt/tinyasc_opt_binary.c): every multiplier
    valid, the input rescalings at most one (shift <= 0) and, for ADD and SUB, the output's too; MUL has only its
    output's."""
    if mo == INT32_MIN:
        return False
    if name == "mul":
        return True
    return (m1 != INT32_MIN and m2 != INT32_MIN and sh1 <= 0 and sh2 <= 0
            and (name == "squared_difference" or sho <= 0))


def sub_params(s1: float, s2: float, so: float, left_shift: int = 20) -> tuple[int, ...]:
    """SUB (float32 arithmetic in TFLM's Prepare)."""
    twice = F32(2) * max(F32(s1), F32(s2))
    m1 = quantize_multiplier_lt1(float(F32(s1) / twice))
    m2 = quantize_multiplier_lt1(float(F32(s2) / twice))
    mo = quantize_multiplier_lt1(float(twice / (F32(1 << left_shift) * F32(so))))
    return (*m1, *m2, *mo)


def squared_difference_params(s1: float, s2: float, so: float, left_shift: int = 7) -> tuple[int, ...]:
    """SQUARED_DIFFERENCE: double input multipliers, output over a float32 denominator."""
    twice = 2.0 * float(max(F32(s1), F32(s2)))
    m1 = quantize_multiplier_lt1(s1 / twice)
    m2 = quantize_multiplier_lt1(s2 / twice)
    mo = quantize_multiplier((twice * twice) / float(F32(1 << (left_shift * 2)) * F32(so)))
    return (*m1, *m2, *mo)


def rsqrt_params(in_scale: float, out_scale: float) -> tuple[int, int]:
    """RSQRT: 1 / (sqrtf(s_in) * s_out) with the product in float32."""
    denom = F32(np.sqrt(F32(in_scale))) * F32(out_scale)
    return quantize_multiplier(1.0 / float(denom))


def logistic_params(in_scale: float) -> tuple[int, int, int]:
    """LOGISTIC int8: input rescaled to Q4.27 -> (multiplier, left shift, input range radius)."""
    real = float(in_scale) * float(1 << 27)
    q, shift = math.frexp(real)
    mult = tfl_round(q * (1 << 31))
    radius = math.floor(1.0 * ((1 << 4) - 1) * float(1 << 27) / float(2.0 ** shift))
    return int(mult), int(shift), int(radius)


def logistic_s16_params(in_scale: float) -> tuple[int, int]:
    """LOGISTIC int16 (TFLM's Prepare): ``(input_multiplier, input_left_shift)`` taking the input to
    units of 1/(3 * 4096), where the kernel's table covers +/-10.7; multiplier 0 flags a
    power-of-two scale (the kernel then uses 3 << shift)."""
    log2 = float(np.log(F32(in_scale)) * (F32(1.0) / np.log(F32(2.0))))  # CheckedLog2, in float32
    rounded = tfl_round(log2)
    left = (15 - 3) + rounded
    if abs(log2 - rounded) < 1e-3 and left == 0:
        return 0, 0
    mult, left = float(in_scale) * 4096.0 * 3.0, 0
    while mult <= 32767.0 / 2.0 and left <= 30:
        left += 1
        mult *= 2.0
    return int(mult), left


def sigmoid_table_q16() -> np.ndarray:
    """The 256 nodes LOGISTIC int16 interpolates between (``|x|`` in 1/(3 * 4096) units, 512 units
    per node, so node i sits at x = i / 24), unsigned 0.16 fixed point.

    Node i is sigmoid(i / 24) raised by half the midpoint sag of the chord to node i + 1, which
    halves the worst error of the linear interpolation on the concave half of the sigmoid; the
    last node is 65535, the kernel's saturated value, so the interpolation runs continuously into
    saturation. These are TFLM's table values (checked element-wise against the TFLM kernel by
    the tests), derived here rather than copied.
    """
    x = np.arange(256, dtype=np.float64) / 24.0

    def sig(v: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-v))

    h = 1.0 / 24.0
    node = sig(x) + (sig(x + h / 2) - (sig(x) + sig(x + h)) / 2) / 2
    table = np.round(65536.0 * node)
    table[-1] = 65535
    return np.minimum(table, 65535).astype(np.uint16)


def softmax_params(beta: float, in_scale: float) -> tuple[int, int, int]:
    """SOFTMAX int8: PreprocessSoftmaxScaling with 5 integer bits -> (multiplier, left shift, diff_min)."""
    real = min(float(beta) * float(in_scale) * float(1 << (31 - 5)), float((1 << 31) - 1))
    if real <= 1.0:
        raise ValueError(f"softmax multiplier {real} must exceed 1")
    mult, shift = quantize_multiplier(real)
    radius = math.floor(1.0 * ((1 << 5) - 1) * float(1 << (31 - 5)) / float(2.0 ** shift))
    return mult, shift, int(-1.0 * radius)
