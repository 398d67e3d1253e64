/*
 * Helium's long depthwise columns by VMLADAVA (Cortex-M55): tinyasc_dw_taps_s8, which the optimized depthwise and
 * column entries (tinyasc_opt_depthwise_conv2d_s8, tinyasc_opt_depthwise_column_s8: tinyasc_opt_ref.c) call first for
 * a layer of k x 1 windows all inside the input. The generator ships this file only in an M55 library with such a
 * layer (generator.dw_taps_ships): elsewhere the weak reference is null and the int16 lanes' column (dw_column8) runs.
 * On the other cores (and the host) it takes nothing. The same integers as the portable kernel
 * (tests/test_latency_kernels.py).
 */
#include "tinyasc_opt.h"

/* The generated model's strong reference to this file (kernel_sources.Kernel.weak): a static library links it. */
const uint8_t tinyasc_dw_taps_s8_linked = 1;

#if defined(__ARM_FEATURE_MVE)
/* One output pixel of a depthwise column window wholly inside the input (k x 1: the quick model's columns spanning the
 * frequency axis, 32 to 128 taps), two channels at a time: eight taps per VMLADAVA.S16 onto each channel's constant
 * (base: bias + off * sum w), its inputs and weights each one VLDRB.S16 gather (16-bit offsets ystep and C bytes apart,
 * the second channel's one byte further: DW_TAPS_FIT), the last nky % 8 predicated; four channels' sums through the
 * four-lane output path (fast, full: tinyasc_dw_out4's forms). Three vector instructions for eight multiply-accumulates
 * where dw_column8's int16 lanes take six for eight channels' one tap; the same sums (integer sums reordered). */
#define DW_TAPS_MIN_TAPS 16
#define DW_TAPS_FIT(ystep, C) (7 * (ystep) < 65535 && 7 * (C) < 65535)
static void dw_taps_pixel(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *ip0,
                          const int8_t *wp0, int8_t *op, const int32_t *base, int32_t nky, int32_t ystep, int fast,
                          int full)
{
    const int32_t C = p->in_c, blocks = nky / 8, rest = nky % 8;
    const uint16x8_t xo = vmulq_n_u16(vidupq_n_u16(0u, 1), (uint16_t)ystep);
    const uint16x8_t wo = vmulq_n_u16(vidupq_n_u16(0u, 1), (uint16_t)C);
    const uint16x8_t xo1 = vaddq_n_u16(xo, 1), wo1 = vaddq_n_u16(wo, 1); /* the next channel's */
    const mve_pred16_t pt = vctp16q((uint32_t)rest);
    for (int32_t c = 0; c < C; c += 4) {
        const int32_t n = C - c < 4 ? C - c : 4;
        int32_t sums[4] __attribute__((aligned(16)));
        int32_t j = 0;
        for (; j + 1 < n; j += 2) { /* two channels per pass: one pointer step for both */
            const int8_t *ip = ip0 + c + j, *wp = wp0 + c + j;
            int32_t a0 = base[c + j], a1 = base[c + j + 1];
            for (int32_t b = 0; b < blocks; b++, ip += 8 * ystep, wp += 8 * C) {
                a0 = vmladavaq_s16(a0, vldrbq_gather_offset_s16(ip, xo), vldrbq_gather_offset_s16(wp, wo));
                a1 = vmladavaq_s16(a1, vldrbq_gather_offset_s16(ip, xo1), vldrbq_gather_offset_s16(wp, wo1));
            }
            if (rest) {
                a0 = vmladavaq_p_s16(a0, vldrbq_gather_offset_z_s16(ip, xo, pt),
                                     vldrbq_gather_offset_z_s16(wp, wo, pt), pt);
                a1 = vmladavaq_p_s16(a1, vldrbq_gather_offset_z_s16(ip, xo1, pt),
                                     vldrbq_gather_offset_z_s16(wp, wo1, pt), pt);
            }
            sums[j] = a0, sums[j + 1] = a1;
        }
        if (j < n) { /* a lone last channel */
            const int8_t *ip = ip0 + c + j, *wp = wp0 + c + j;
            int32_t a0 = base[c + j];
            for (int32_t b = 0; b < blocks; b++, ip += 8 * ystep, wp += 8 * C)
                a0 = vmladavaq_s16(a0, vldrbq_gather_offset_s16(ip, xo), vldrbq_gather_offset_s16(wp, wo));
            if (rest)
                a0 = vmladavaq_p_s16(a0, vldrbq_gather_offset_z_s16(ip, xo, pt),
                                     vldrbq_gather_offset_z_s16(wp, wo, pt), pt);
            sums[j] = a0;
        }
        const mve_pred16_t pr = vctp32q((uint32_t)n);
        tinyasc_dw_out4(p, w, op, c, vldrwq_z_s32(sums, pr), pr, fast, full);
    }
}

int tinyasc_dw_taps_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    const int32_t C = p->in_c, row = p->in_w * C, ystep = p->dil_h * row;
    if (p->depth_multiplier != 1 || p->k_w != 1 || p->k_h < DW_TAPS_MIN_TAPS || !tinyasc_all_inside(p) ||
        !DW_TAPS_FIT(ystep, C) || C > TINYASC_OPT_MAX_C)
        return -1;
    /* each channel's constant (bias + off * sum w) and the output path's form: the depthwise entry's */
    const int fast = tinyasc_out_x4_ok(p, w), full = tinyasc_full_range(p);
    int32_t *const base = tinyasc_acc0;
    tinyasc_chan_base(p, w, C, p->k_h, C, 1, base);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * row;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int8_t *ip = in + (oy * p->stride_h - p->pad_h) * row - p->pad_w * C;
            int8_t *op = output + (b * p->out_h + oy) * p->out_w * C;
            for (int32_t ox = 0; ox < p->out_w; ox++, ip += p->stride_w * C, op += C)
                dw_taps_pixel(p, w, ip, w->data, op, base, p->k_h, ystep, fast, full);
        }
    }
    return 0;
}
#else
int tinyasc_dw_taps_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    (void)p; (void)w; (void)input; (void)output;
    return -1; /* VMLADAVA needs Helium */
}
#endif
