"""Lookup tables of int8 element-wise chains, computed at generation time bit for bit as the kernels compute them.

An int8 op whose output depends on one int8 input byte is a 256-entry table. The planner fuses SiLU as onnx2tf
writes it, ``MUL(x, LOGISTIC(x))`` (:func:`.planner.find_silu`), and the generator emits that chain's table: each
of the 256 input codes through TFLM's int8 LOGISTIC (gemmlowp's fixed-point logistic on a Q4.27 input), the
logistic's int8 output, then TFLM's int8 MUL of the two. The intermediate is rounded to int8 exactly where the
unfused graph rounds it, so the table holds the unfused graph's outputs (the tests compare it with TensorFlow Lite
Micro over all 256 codes).

The arithmetic is gemmlowp's and TFLite's in Python integers, each function the twin of the C helper it names
(``c/include/tinyasc_kernels.h``, ``c/kernels/unary.c``). Python's ``>>`` floors like the C code's arithmetic shifts
of signed values.
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _wrap32(x: int) -> int:
    """``x`` as a C int32 (two's complement wrap-around)."""
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul (``tinyasc_srdhm``)."""
    if a == b == INT32_MIN:
        return INT32_MAX
    return (a * b + (1 << 30)) >> 31


def rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT: arithmetic right shift rounding half away from zero (``tinyasc_rdbpot``)."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def shl(x: int, s: int) -> int:
    """``x * 2^s`` with int32 wrap-around (``tinyasc_shl``)."""
    return _wrap32(x << s)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier, ``shift > 0`` left (``tinyasc_mbqm``)."""
    left, right = (shift, 0) if shift > 0 else (0, -shift)
    return rdbpot(srdhm(shl(x, left), multiplier), right)


def sat_shl(x: int, e: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT<+e> (``sat_shl``)."""
    threshold = (1 << (31 - e)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return shl(x, e)


def rounding_half_sum(a: int, b: int) -> int:
    """gemmlowp RoundingHalfSum for int32: (a + b + sign) / 2, the division toward zero."""
    s = a + b
    t = s + (1 if s >= 0 else -1)
    return t // 2 if t >= 0 else -((-t) // 2)


def _exp_quarter_q0(a: int) -> int:
    """exp(x) for x in [-1/4, 0), Q0.31 in and out."""
    constant_term, one_third = 1895147668, 715827883
    x = _wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(_wrap32(srdhm(_wrap32(x4_over_4 + x3), one_third) + x2), 1)
    return _wrap32(constant_term + srdhm(constant_term, _wrap32(x + poly)))


_EXP_MULTS = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def exp_neg(a: int, int_bits: int) -> int:
    """exp(a) for a <= 0 with ``int_bits`` integer bits, Q0.31 (gemmlowp exp_on_negative_values)."""
    frac_bits = 31 - int_bits
    quarter = 1 << (frac_bits - 2)
    a_mod = (a & (quarter - 1)) - quarter
    result = _exp_quarter_q0(sat_shl(a_mod, int_bits))
    remainder = _wrap32(a_mod - a)
    for k, mult in enumerate(_EXP_MULTS):  # exponents -2..4: exp(-2^e), only those below int_bits
        if int_bits > k - 2 and remainder & (1 << (frac_bits - 2 + k)):
            result = srdhm(result, mult)
    return INT32_MAX if a == 0 else result


def one_over_one_plus_x_q0(a: int) -> int:
    """1 / (1 + a) for a in (0, 1), Q0.31 (gemmlowp's Newton-Raphson)."""
    half_den = rounding_half_sum(a, INT32_MAX)
    c48_17, cm32_17 = 1515870810, -1010580540  # Q2.29
    x = _wrap32(c48_17 + srdhm(half_den, cm32_17))
    for _ in range(3):
        one_minus = _wrap32((1 << 29) - srdhm(half_den, x))
        x = _wrap32(x + sat_shl(srdhm(x, one_minus), 2))
    return sat_shl(x, 1)


def logistic_s8(q: int, *, input_zero_point: int, input_range_radius: int, input_multiplier: int,
                input_shift: int) -> int:
    """TFLM's int8 LOGISTIC of input code ``q`` (output scale 1/256, zero point -128), as ``logistic_one``."""
    x = q - input_zero_point
    if x <= -input_range_radius:
        return -128
    if x >= input_range_radius:
        return 127
    a = mbqm(x, input_multiplier, input_shift)  # Q4.27
    pos = one_over_one_plus_x_q0(exp_neg(-abs(a), 4))
    r = (1 << 30) if a == 0 else (pos if a > 0 else INT32_MAX - pos)
    return max(-128, min(127, rdbpot(r, 23) - 128))


def mul_s8(a: int, b: int, *, in1_offset: int, in2_offset: int, out_mult: int, out_shift: int, out_offset: int,
           act_min: int, act_max: int) -> int:
    """TFLM's int8 MUL of codes ``a`` and ``b`` (``tinyasc_mul_elem``; offsets are the negated zero points)."""
    return max(act_min, min(act_max, mbqm((a + in1_offset) * (b + in2_offset), out_mult, out_shift) + out_offset))


def silu_table(logistic: dict, mul: dict, *, x_first: bool) -> np.ndarray:
    """``MUL(x, LOGISTIC(x))`` for every int8 code, indexed by the code's byte (``table[x & 0xff]``).

    ``logistic``: :func:`logistic_s8`'s keyword arguments; ``mul``: :func:`mul_s8`'s; ``x_first``: whether x is
    the MUL's first input (the products are the same; the offsets follow the operand order)."""
    table = np.empty(256, dtype=np.int8)
    for code in range(-128, 128):
        s = logistic_s8(code, **logistic)
        a, b = (code, s) if x_first else (s, code)
        table[code & 0xFF] = mul_s8(a, b, **mul)
    return table
