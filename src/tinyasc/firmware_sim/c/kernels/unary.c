/* LOGISTIC and RSQRT int8 (TFLM reference): the integer algorithms of gemmlowp's fixed-point
 * logistic on Q4.27 input and TFLite's Newton-Raphson GetInvSqrtQuantizedMultiplierExp.
 * Both depend on the input byte only, so each input value is evaluated once per call: a
 * 256-entry table on the stack filled as values first occur (at most 256 evaluations, fewer when
 * the tensor holds fewer distinct bytes; the same results), or filled whole for large tensors.
 * And tinyasc_lut_s8: a chain the generator tabulated (a fused SiLU), one lookup per element. */
#include "tinyasc_kernels.h"

/* gemmlowp SaturatingRoundingMultiplyByPOT<+e>: saturating left shift. */
static int32_t sat_shl(int32_t x, int e) {
    const int32_t threshold = (int32_t)((((int64_t)1) << (31 - e)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return tinyasc_shl(x, e);
}

/* gemmlowp RoundingHalfSum for int32. */
static int32_t rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(x) for x in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_quarter_q0(int32_t a) {
    const int32_t constant_term = 1895147668;  /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = tinyasc_srdhm(x, x);
    const int32_t x3 = tinyasc_srdhm(x2, x);
    const int32_t x4 = tinyasc_srdhm(x2, x2);
    const int32_t x4_over_4 = tinyasc_rdbpot(x4, 2);
    const int32_t poly = tinyasc_rdbpot(tinyasc_srdhm(x4_over_4 + x3, one_third) + x2, 1);
    return constant_term + tinyasc_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0 given with `int_bits` integer bits (Q<int_bits>.<31-int_bits>), result
 * Q0.31 (gemmlowp exp_on_negative_values; int_bits 4 for LOGISTIC, 5 for SOFTMAX). */
static int32_t exp_neg(int32_t a, int int_bits) {
    static const int32_t mults[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t frac_bits = 31 - int_bits;
    const int32_t quarter = 1 << (frac_bits - 2);
    const int32_t a_mod = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter_q0(sat_shl(a_mod, int_bits));
    const int32_t remainder = a_mod - a;
    int k;
    for (k = 0; k < 7; ++k) { /* exponents -2..4: exp(-2^e), only those below int_bits */
        if (int_bits > k - 2 && (remainder & (1 << (frac_bits - 2 + k)))) {
            result = tinyasc_srdhm(result, mults[k]);
        }
    }
    if (a == 0) result = INT32_MAX;
    return result;
}

/* 1 / (1 + a) for a in (0, 1), Q0.31 (Newton-Raphson, gemmlowp). */
static int32_t one_over_one_plus_x_q0(int32_t a) {
    const int32_t half_den = rounding_half_sum(a, INT32_MAX);
    const int32_t c48_17 = 1515870810;   /* Q2.29 */
    const int32_t cm32_17 = -1010580540; /* Q2.29 */
    int32_t x = c48_17 + tinyasc_srdhm(half_den, cm32_17);
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t hdx = tinyasc_srdhm(half_den, x);
        const int32_t one_minus = (1 << 29) - hdx;
        x = x + sat_shl(tinyasc_srdhm(x, one_minus), 2);
    }
    return sat_shl(x, 1);
}

static int8_t logistic_one(const tinyasc_logistic_params *p, int32_t q) {
    const int32_t input = q - p->input_zero_point;
    int32_t a, abs_a, pos, r, out;
    if (input <= -p->input_range_radius) return -128;
    if (input >= p->input_range_radius) return 127;
    a = tinyasc_mbqm(input, p->input_multiplier, p->input_shift); /* Q4.27 */
    abs_a = a > 0 ? a : -a;
    pos = one_over_one_plus_x_q0(exp_neg(-abs_a, 4));
    if (a == 0) r = 1 << 30;
    else if (a > 0) r = pos;
    else r = INT32_MAX - pos;
    out = tinyasc_rdbpot(r, 23) - 128;
    return (int8_t)tinyasc_clamp(out, -128, 127);
}

static int clz32(uint32_t x) {
    int n = 0;
    if (x == 0) return 32;
    while (!(x & 0x80000000u)) { x <<= 1; ++n; }
    return n;
}

/* TFLite GetInvSqrtQuantizedMultiplierExp with reverse_shift = -1. */
static void inv_sqrt_multiplier(int32_t input, int32_t *mult, int32_t *shift) {
    int32_t out_shift = 11;
    int32_t pairs, x, fp_input, half_input, x3;
    const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 in Q3.28 */
    int i;
    if (input <= 1) { *mult = INT32_MAX; *shift = 0; return; }
    while (input >= (1 << 29)) { input /= 4; ++out_shift; }
    pairs = (clz32((uint32_t)input) - 1) / 2 - 1;
    out_shift -= pairs;
    input <<= 2 * pairs;
    fp_input = input >> 1;
    half_input = tinyasc_rdbpot(fp_input, 1);
    x = 1 << 28; /* 1.0 in Q3.28 */
    for (i = 0; i < 5; ++i) {
        x3 = sat_shl(tinyasc_srdhm(tinyasc_srdhm(x, x), x), 6);
        x = sat_shl(tinyasc_srdhm(half_three, x) - tinyasc_srdhm(half_input, x3), 3);
    }
    x = tinyasc_srdhm(x, 1518500250); /* * sqrt(2)/2 */
    if (out_shift < 0) { x = tinyasc_shl(x, -out_shift); out_shift = 0; }
    *mult = x;
    *shift = -out_shift;
}

static int8_t rsqrt_one(const tinyasc_rsqrt_params *p, int32_t q) {
    const int32_t value = q - p->input_offset;
    const int32_t k_shift = 20;
    int32_t m, s, data, out;
    if (value == 0) return 127;
    inv_sqrt_multiplier(value, &m, &s);
    data = tinyasc_mbqm(1, m, s + k_shift);
    out = tinyasc_mbqm(data, p->multiplier, p->shift - k_shift) + p->output_offset;
    return (int8_t)tinyasc_clamp(out, -128, 127);
}

/* A tensor this large maps through a table filled whole; smaller ones fill it as values occur. */
#define UNARY_FULL_TABLE 1024

typedef int8_t (*unary_one_fn)(const void *p, int32_t q);

/* out[i] = one(p, in[i]), each input value evaluated once (in may be out). */
static void by_table(unary_one_fn one, const void *p, int32_t size, const int8_t *in, int8_t *out) {
    int8_t lut[256];
    int32_t i;
    if (size > UNARY_FULL_TABLE) {
        for (i = 0; i < 256; ++i) lut[i] = one(p, i - 128);
        for (i = 0; i < size; ++i) out[i] = lut[(int32_t)in[i] + 128];
    } else {
        uint32_t seen[8] = {0};
        for (i = 0; i < size; ++i) {
            const int32_t k = (int32_t)in[i] + 128;
            if (!(seen[k >> 5] & (1u << (k & 31)))) {
                seen[k >> 5] |= 1u << (k & 31);
                lut[k] = one(p, k - 128);
            }
            out[i] = lut[k];
        }
    }
}

static int8_t logistic_any(const void *p, int32_t q) { return logistic_one((const tinyasc_logistic_params *)p, q); }
static int8_t rsqrt_any(const void *p, int32_t q) { return rsqrt_one((const tinyasc_rsqrt_params *)p, q); }

void tinyasc_logistic_s8(const tinyasc_logistic_params *p, const int8_t *in, int8_t *out) {
    by_table(logistic_any, p, p->size, in, out);
}

void tinyasc_rsqrt_s8(const tinyasc_rsqrt_params *p, const int8_t *in, int8_t *out) {
    by_table(rsqrt_any, p, p->size, in, out);
}

void tinyasc_lut_s8(const tinyasc_lut_params *p, const int8_t *in, int8_t *out) {
    const int8_t *const table = p->table;
    const int32_t n = p->size;
    int32_t i = 0;
    /* four per pass: the loads of a pass before its stores, so in == out needs no care */
    for (; i + 4 <= n; i += 4) {
        const int8_t a = table[(uint8_t)in[i]], b = table[(uint8_t)in[i + 1]];
        const int8_t c = table[(uint8_t)in[i + 2]], d = table[(uint8_t)in[i + 3]];
        out[i] = a;
        out[i + 1] = b;
        out[i + 2] = c;
        out[i + 3] = d;
    }
    for (; i < n; ++i) out[i] = table[(uint8_t)in[i]];
}

/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128), TFLM reference: exp of the
 * beta-scaled difference to the row maximum in Q5.26, sum in Q12.19, reciprocal by
 * Newton-Raphson, rounding shift to 8 bits. */
void tinyasc_softmax_s8(const tinyasc_softmax_params *p, const int8_t *in, int8_t *out) {
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        const int8_t *row = in + i * p->depth;
        int8_t *orow = out + i * p->depth;
        int32_t max_in = -128, sum = 0, headroom, bits_over_unit, shifted_scale, exponent;
        for (c = 0; c < p->depth; ++c) if (row[c] > max_in) max_in = row[c];
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)row[c] - max_in;
            if (diff >= p->diff_min) {
                const int32_t scaled = tinyasc_srdhm(tinyasc_shl(diff, p->input_left_shift), p->input_multiplier);
                sum += tinyasc_rdbpot(exp_neg(scaled, 5), 12);
            }
        }
        headroom = clz32((uint32_t)sum);
        bits_over_unit = 12 - headroom;
        shifted_scale = one_over_one_plus_x_q0(
            (int32_t)(((uint32_t)sum << headroom) - ((uint32_t)1 << 31)));
        exponent = bits_over_unit + 31 - 8;
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)row[c] - max_in;
            if (diff >= p->diff_min) {
                const int32_t scaled = tinyasc_srdhm(tinyasc_shl(diff, p->input_left_shift), p->input_multiplier);
                const int32_t v = tinyasc_rdbpot(tinyasc_srdhm(shifted_scale, exp_neg(scaled, 5)), exponent) - 128;
                orow[c] = (int8_t)tinyasc_clamp(v, -128, 127);
            } else {
                orow[c] = -128;
            }
        }
    }
}
