/*
 * The optimized kernel library for Cortex-M: tinyasc_opt_<op> has the signature of the portable
 * tinyasc_<op> of tinyasc_kernels.h, and a model generated for a Cortex-M target calls it by
 * that name (tinyasc.firmware_sim.library picks the symbol per target; nothing is replaced at
 * link time). Convolutions dispatch at compile time on the core's features:
 *
 *   w->sparse != NULL   -> zero-skipping sparse kernel (c/sparse/)
 *   __ARM_FEATURE_MVE   -> Helium (Cortex-M55)          tinyasc_opt_mve.c
 *   __ARM_FEATURE_DSP   -> DSP SIMD MAC (Cortex-M4/M7)  tinyasc_opt_dsp.c
 *   anything else       -> tinyasc_ref_* (portable, TFLM reference loop order)
 *
 * A fast path returns 0 when it handled the layer and -1 for shapes it does not cover
 * (grouped convs, oversized windows), which fall back to the portable loop. Every path
 * reorders integer sums only and requantizes with the same tinyasc_mbqm, so all are
 * bit-exact with the portable kernels (the tests compare them on every target).
 */
#ifndef TINYASC_OPT_H
#define TINYASC_OPT_H
#include "tinyasc_kernels.h"

void tinyasc_ref_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output);
void tinyasc_ref_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
int tinyasc_simd_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output);
int tinyasc_simd_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
int tinyasc_chan_conv_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                         int32_t wt, int32_t wc);
int tinyasc_sparse_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                             int8_t *output);

/* The optimized entry points the generated model calls (c/opt/tinyasc_opt_ref.c, _binary.c, _inplace.c). */
void tinyasc_opt_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output);
void tinyasc_opt_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
void tinyasc_opt_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data);
void tinyasc_opt_conv_col_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t f_c_stride,
                                     int32_t f_ky_stride, int8_t *data, int8_t *scratch);
void tinyasc_opt_add_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_sub_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_mul_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_squared_difference_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2,
                                       int8_t *out);

/*
 * Requantize one accumulator: clamp(MBQM(acc, m, s) + out_zp). Same result as tinyasc_mbqm,
 * in fewer instructions: gemmlowp's SaturatingRoundingDoublingHighMul truncates
 * (ab + nudge) / 2^31 toward zero with nudge = 2^30 or 1 - 2^30 by sign; for ab < 0 that
 * equals floor((ab + 2^30) / 2^31), so both signs are one 64-bit add and an arithmetic
 * shift. The saturating case a = m = INT32_MIN (never produced by TFLite's multiplier
 * quantization, m >= 2^30) takes the reference path.
 */
static inline __attribute__((always_inline)) int8_t tinyasc_opt_out(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t acc,
                                     int32_t oc)
{
    const int32_t m = w->multiplier[oc], s = w->shift[oc];
#ifdef TINYASC_SINGLE_ROUNDING
    acc = tinyasc_mbqm(acc, m, s);
#else
    if (m == INT32_MIN) {
        acc = tinyasc_mbqm(acc, m, s);
    } else {
        const int32_t left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
        const int64_t ab = (int64_t)(int32_t)((uint32_t)acc << left) * (int64_t)m;
        const int32_t x = (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
        const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
        const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
        acc = (x >> right) + ((x & mask) > threshold ? 1 : 0);
    }
#endif
    acc += p->output_offset;
    return (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
}

#endif
