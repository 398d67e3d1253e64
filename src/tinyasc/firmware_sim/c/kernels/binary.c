/* ADD / SUB / MUL / SQUARED_DIFFERENCE int8 with numpy-style broadcasting (TFLM reference).
 * ADD/SUB: both inputs are shifted left by 20 bits, rescaled to a common scale, combined,
 * then rescaled to the output (ArithmeticParams). MUL: (x1 - zp1)(x2 - zp2) rescaled once.
 * Output element i reads in1/in2 at the broadcast index before writing out[i], so out may
 * alias a full-shape input (in-place). */
#include "tinyasc_kernels.h"

typedef int32_t (*tinyasc_binary_fn)(const tinyasc_binary_params *p, int32_t a, int32_t b);

static int32_t add_fn(const tinyasc_binary_params *p, int32_t a, int32_t b) {
    return tinyasc_add_raw(p, a, b);
}

static int32_t sub_fn(const tinyasc_binary_params *p, int32_t a, int32_t b) {
    const int32_t s1 = tinyasc_mbqm_lt1(tinyasc_shl(a + p->in1_offset, p->left_shift), p->in1_mult, p->in1_shift);
    const int32_t s2 = tinyasc_mbqm_lt1(tinyasc_shl(b + p->in2_offset, p->left_shift), p->in2_mult, p->in2_shift);
    return tinyasc_mbqm_lt1(s1 - s2, p->out_mult, p->out_shift) + p->out_offset;
}

static int32_t mul_fn(const tinyasc_binary_params *p, int32_t a, int32_t b) {
    return tinyasc_mul_elem(p, a, b); /* already clamped; the second clamp is a no-op */
}

/* TFLM squared_difference int8: inputs rescaled like ADD (left_shift 7), squared, then rescaled. */
static int32_t sqdiff_fn(const tinyasc_binary_params *p, int32_t a, int32_t b) {
    const int32_t s1 = tinyasc_mbqm_lt1(tinyasc_shl(a + p->in1_offset, p->left_shift), p->in1_mult, p->in1_shift);
    const int32_t s2 = tinyasc_mbqm_lt1(tinyasc_shl(b + p->in2_offset, p->left_shift), p->in2_mult, p->in2_shift);
    const int32_t d = s1 - s2;
    const int32_t sq = d * d; /* |d| < 2^15 with left_shift 7, cannot overflow */
    return tinyasc_mbqm(sq, p->out_mult, p->out_shift) + p->out_offset;
}

static void run_binary(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2,
                       int8_t *out, tinyasc_binary_fn fn) {
    if (!p->broadcast) {
        int32_t i;
        for (i = 0; i < p->size; ++i) {
            out[i] = (int8_t)tinyasc_clamp(fn(p, in1[i], in2[i]), p->act_min, p->act_max);
        }
    } else {
        const int32_t *d = p->out_dims;
        const int32_t *s1 = p->in1_strides;
        const int32_t *s2 = p->in2_strides;
        int32_t i0, i1, i2, i3, i4, i5, o = 0;
        for (i0 = 0; i0 < d[0]; ++i0)
        for (i1 = 0; i1 < d[1]; ++i1)
        for (i2 = 0; i2 < d[2]; ++i2)
        for (i3 = 0; i3 < d[3]; ++i3)
        for (i4 = 0; i4 < d[4]; ++i4) {
            const int32_t b1 = i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3] + i4 * s1[4];
            const int32_t b2 = i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3] + i4 * s2[4];
            for (i5 = 0; i5 < d[5]; ++i5, ++o) {
                const int32_t v = fn(p, in1[b1 + i5 * s1[5]], in2[b2 + i5 * s2[5]]);
                out[o] = (int8_t)tinyasc_clamp(v, p->act_min, p->act_max);
            }
        }
    }
}

void tinyasc_add_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    run_binary(p, in1, in2, out, add_fn);
}
void tinyasc_sub_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    run_binary(p, in1, in2, out, sub_fn);
}
void tinyasc_mul_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    run_binary(p, in1, in2, out, mul_fn);
}
void tinyasc_squared_difference_s8(const tinyasc_binary_params *p, const int8_t *in1,
                                   const int8_t *in2, int8_t *out) {
    run_binary(p, in1, in2, out, sqdiff_fn);
}

/* The _fast kernels of the optimized library (c/opt/tinyasc_opt_binary.c) have a precondition the
 * generator checks; here, in the portable library, they are the kernels above. */
void tinyasc_add_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    tinyasc_add_s8(p, in1, in2, out);
}
void tinyasc_sub_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    tinyasc_sub_s8(p, in1, in2, out);
}
void tinyasc_mul_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
    tinyasc_mul_s8(p, in1, in2, out);
}
void tinyasc_squared_difference_fast_s8(const tinyasc_binary_params *p, const int8_t *in1,
                                        const int8_t *in2, int8_t *out) {
    tinyasc_squared_difference_s8(p, in1, in2, out);
}
