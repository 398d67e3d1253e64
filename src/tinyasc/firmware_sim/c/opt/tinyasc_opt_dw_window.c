/*
 * DEPTHWISE_CONV_2D int8 whose windows span both axes (k_h, k_w > 1: MobileNet's and DS-CNN's 3 x 3 layers),
 * optimized (tinyasc_opt_depthwise_window_s8), with the contract of the portable depthwise kernel. The generator calls
 * this name for such layers only, so a library links this file only where a model has one.
 *   Helium (Cortex-M55): eight channels per vector in int16 lanes (VMULLB/VMULLT of the widened inputs and weights),
 *     a window wholly inside the input from the channels' constants (bias + off * sum w), two horizontally adjacent
 *     whole windows per call sharing each weight vector, a window crossing the border from the bias with the input
 *     offset added to each input; the outputs four channels at a time (tinyasc_dw_out4).
 *   DSP (Cortex-M4/M7): windows three taps wide, undilated along x, on channels a multiple of four, every channel
 *     group of a pixel in one asm call (below).
 * Other shapes, and other cores, take tinyasc_opt_depthwise_conv2d_s8. The same integers as the portable kernel
 * (tests/test_latency_kernels.py, every core).
 */
#include <stddef.h>
#include <string.h>
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_MVE)
/* Taps [0, nky) x [0, nkx) of eight channels in int16 lanes (dw_window8): even channels' products into *ae, odd
 * ones' into *ao; clipped windows add the input offset o to each input (x + off fits int16). */
static inline __attribute__((always_inline)) void dw_taps8(const int8_t *ip, const int8_t *wp, int32_t nky,
                                                           int32_t nkx, int32_t ystep, int32_t xstep, int32_t wrow,
                                                           int32_t wstep, int16x8_t o, int clipped,
                                                           mve_pred16_t pr16, int predicated, int32x4_t *ae,
                                                           int32x4_t *ao)
{
    int32x4_t e = *ae, d = *ao;
    for (int32_t ky = 0; ky < nky; ky++, ip += ystep, wp += wrow) {
        const int8_t *xi = ip, *wi = wp;
        for (int32_t kx = 0; kx < nkx; kx++, xi += xstep, wi += wstep) {
            int16x8_t x = predicated ? vldrbq_z_s16(xi, pr16) : vldrbq_s16(xi);
            const int16x8_t k = predicated ? vldrbq_z_s16(wi, pr16) : vldrbq_s16(wi);
            if (clipped) x = vaddq_s16(x, o);
            e = vaddq_s32(e, vmullbq_int_s16(x, k));
            d = vaddq_s32(d, vmulltq_int_s16(x, k));
        }
    }
    *ae = e, *ao = d;
}

/* A two-dimensional window (k_h, k_w > 1) of taps [0, nky) x [0, nkx) from ip0 / wp0, eight channels per vector
 * in int16 lanes as dw_column8: a window wholly inside the input (clipped = 0) starts from base[] (bias + off *
 * sum w) and its whole groups of eight run unpredicated; one clipped by the input's border starts from the bias
 * (base = the bias or NULL) and adds the input offset to each of its inputs. */
static __attribute__((noinline)) void dw_window8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                 const int8_t *ip0, const int8_t *wp0, int8_t *op,
                                                 const int32_t *base, int32_t nky, int32_t nkx, int clipped,
                                                 int fast, int full)
{
    const int32_t C = p->in_c, ystep = p->dil_h * p->in_w * C, xstep = p->dil_w * C, wrow = p->k_w * C;
    const int16x8_t o = vdupq_n_s16((int16_t)p->input_offset);
    for (int32_t c = 0; c < C; c += 8) {
        int32x4_t ae = vdupq_n_s32(0), ao = vdupq_n_s32(0);
        const mve_pred16_t pr16 = vctp16q((uint32_t)(C - c));
        if (!clipped && C - c >= 8)
            dw_taps8(ip0 + c, wp0 + c, nky, nkx, ystep, xstep, wrow, C, o, 0, pr16, 0, &ae, &ao);
        else
            dw_taps8(ip0 + c, wp0 + c, nky, nkx, ystep, xstep, wrow, C, o, clipped, pr16, 1, &ae, &ao);
        int32_t sums[8];
        const int32x4x2_t pair = {{ae, ao}};
        vst2q_s32(sums, pair);
        for (int32_t h = 0; h < 8 && c + h < C; h += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(C - c - h));
            const int32x4_t b = base ? vldrwq_z_s32(base + c + h, pr) : vdupq_n_s32(0);
            tinyasc_dw_out4(p, w, op, c + h, vaddq_s32(vldrwq_s32(sums + h), b), pr, fast, full);
        }
    }
}

/* The taps of two horizontally adjacent whole windows (the second xstep2 bytes after the first), eight channels in int16
 * lanes, each weight vector loaded once for both: even and odd channels' products of the first window into *e0, *o0,
 * of the second into *e1, *o1. */
static inline __attribute__((always_inline)) void dw_taps8_pair(const int8_t *ip, const int8_t *wp, int32_t nky,
                                                                int32_t nkx, int32_t ystep, int32_t xstep,
                                                                int32_t wrow, int32_t wstep, int32_t xstep2,
                                                                mve_pred16_t pr16, int predicated, int32x4_t *e0,
                                                                int32x4_t *o0, int32x4_t *e1, int32x4_t *o1)
{
    int32x4_t a = *e0, b = *o0, c = *e1, d = *o1;
    for (int32_t ky = 0; ky < nky; ky++, ip += ystep, wp += wrow) {
        const int8_t *xi = ip, *wi = wp;
        for (int32_t kx = 0; kx < nkx; kx++, xi += xstep, wi += wstep) {
            const int16x8_t k = predicated ? vldrbq_z_s16(wi, pr16) : vldrbq_s16(wi);
            const int16x8_t x = predicated ? vldrbq_z_s16(xi, pr16) : vldrbq_s16(xi);
            const int16x8_t y = predicated ? vldrbq_z_s16(xi + xstep2, pr16) : vldrbq_s16(xi + xstep2);
            a = vaddq_s32(a, vmullbq_int_s16(x, k));
            b = vaddq_s32(b, vmulltq_int_s16(x, k));
            c = vaddq_s32(c, vmullbq_int_s16(y, k));
            d = vaddq_s32(d, vmulltq_int_s16(y, k));
        }
    }
    *e0 = a, *o0 = b, *e1 = c, *o1 = d;
}

/* Two horizontally adjacent windows wholly inside the input (the second xstep2 bytes after the first), eight channels
 * per vector in int16 lanes as dw_window8: each weight vector loaded once for both (11 instructions per tap for 16
 * MACs against 6 for 8), whole groups of eight unpredicated, the last group predicated. */
static __attribute__((noinline)) void dw_window8_pair(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                      const int8_t *ip0, const int8_t *wp0, int8_t *op,
                                                      int32_t xstep2, int fast, int full)
{
    const int32_t C = p->in_c, ystep = p->dil_h * p->in_w * C, xstep = p->dil_w * C, wrow = p->k_w * C;
    for (int32_t c = 0; c < C; c += 8) {
        int32x4_t e0 = vdupq_n_s32(0), o0 = vdupq_n_s32(0), e1 = vdupq_n_s32(0), o1 = vdupq_n_s32(0);
        const mve_pred16_t pr16 = vctp16q((uint32_t)(C - c));
        const int8_t *ip = ip0 + c, *wp = wp0 + c;
        if (C - c >= 8)
            dw_taps8_pair(ip, wp, p->k_h, p->k_w, ystep, xstep, wrow, C, xstep2, pr16, 0, &e0, &o0, &e1, &o1);
        else
            dw_taps8_pair(ip, wp, p->k_h, p->k_w, ystep, xstep, wrow, C, xstep2, pr16, 1, &e0, &o0, &e1, &o1);
        int32_t sums[16];
        const int32x4x2_t pair0 = {{e0, o0}}, pair1 = {{e1, o1}};
        vst2q_s32(sums, pair0);
        vst2q_s32(sums + 8, pair1);
        for (int32_t h = 0; h < 8 && c + h < C; h += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(C - c - h));
            const int32x4_t b = vldrwq_z_s32(tinyasc_acc0 + c + h, pr);
            tinyasc_dw_out4(p, w, op, c + h, vaddq_s32(vldrwq_s32(sums + h), b), pr, fast, full);
            tinyasc_dw_out4(p, w, op + C, c + h, vaddq_s32(vldrwq_s32(sums + 8 + h), b), pr, fast, full);
        }
    }
}

/* Every output pixel of the layer through dw_window8 / dw_window8_pair; -1 where the per-channel constants do not
 * fit the shared table or the depth multiplier is not 1. */
static int dw_windows_mve(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                          int8_t *output)
{
    const int32_t C = p->in_c, row = p->in_w * C;
    if (p->depth_multiplier != 1 || C > TINYASC_OPT_MAX_C) return -1;
    const int fast = tinyasc_out_x4_ok(p, w), full = tinyasc_full_range(p); /* full && !fast: a left shift */
    tinyasc_chan_base(p, w, C, p->k_h * p->k_w, C, 1, tinyasc_acc0);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * row;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t ky0, ky1;
            tinyasc_tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int32_t kx0, kx1;
                tinyasc_tap_range(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                const int whole = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int8_t *ip0 = in + (y0 + ky0 * p->dil_h) * row + (x0 + kx0 * p->dil_w) * C;
                const int8_t *wp0 = w->data + (ky0 * p->k_w + kx0) * C;
                const int32_t x1 = x0 + p->stride_w; /* the next pixel's window: whole too? */
                if (whole && ox + 1 < p->out_w && x1 + (p->k_w - 1) * p->dil_w < p->in_w) {
                    dw_window8_pair(p, w, ip0, wp0, op, p->stride_w * C, fast, full);
                    ox++;
                    continue;
                }
                /* a window that misses the input has no taps: its outputs are the bias's */
                dw_window8(p, w, ip0, wp0, op, whole ? tinyasc_acc0 : w->bias, ky1 - ky0, kx1 - kx0, !whole, fast,
                           full);
            }
        }
    }
    return 0;
}

#elif defined(__ARM_FEATURE_DSP)
#if defined(__thumb2__)
/* Windows three taps wide (k_w = 3, undilated along x), every channel group of one output pixel in one asm call
 * (dw_pixel_dsp): per group of four channels the sums start from the channels' constants (bias + off * sum w) and
 * take, per tap, one LDR of the input word and one of the weight word, SXTB16 of each and of each rotated by 8 and
 * four SMLABB/SMLATT (twelve cycles per four MACs on the M4's model); the rows' taps unrolled; on the folded output
 * path the group's four outputs leave from the registers. The window is either in the input (rows skip bytes apart
 * after a row's taps) or staged with the input zero point outside the input.
 * Compiled from C the loop spilled its pointers (six stack loads per row). Offsets below are those of dw_pix. */
#define DW_PIXEL_ASM 1
typedef struct {
    const int8_t *ip, *wp;  /* 0, 4: the window's first tap (channel 0) in the input, and in the weights */
    int32_t C, skip, rows;  /* 8, 12, 16: channels (bytes between taps), bytes from a row's last tap to the next
                               row's first, the window's rows */
    const int32_t *base;    /* 20: per channel bias + off * sum w (advanced by the asm) */
    int32_t *sums;          /* 24: per channel sum out, when rq is NULL (advanced by the asm) */
    int32_t groups;         /* 28: C / 4 (counted down by the asm) */
    const int32_t *rq;      /* 32: per channel (m, rnd, sh) of the folded output path, or NULL (advanced) */
    int8_t *out;            /* 36: the pixel's outputs, with rq (advanced) */
} dw_pix;
typedef char dw_pix_is_the_asm_layout[(offsetof(dw_pix, ip) == 0 && offsetof(dw_pix, wp) == 4 &&
                                       offsetof(dw_pix, C) == 8 && offsetof(dw_pix, skip) == 12 &&
                                       offsetof(dw_pix, rows) == 16 && offsetof(dw_pix, base) == 20 &&
                                       offsetof(dw_pix, sums) == 24 && offsetof(dw_pix, groups) == 28 &&
                                       offsetof(dw_pix, rq) == 32 && offsetof(dw_pix, out) == 36) ? 1 : -1];

static __attribute__((naked, noinline)) void dw_pixel_dsp(dw_pix *q __attribute__((unused))) /* q arrives in r0 */
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "mov    r9, r0\n\t"
        "2:\n\t"
        "ldrd   r6, r7, [r9, #8]\n\t"        /* C, skip */
        "ldrd   r4, r5, [r9, #0]\n\t"        /* this group's window and weights */
        "add    r10, r4, #4\n\t"
        "add    r11, r5, #4\n\t"
        "strd   r10, r11, [r9, #0]\n\t"      /* the next group's */
        "ldr    r12, [r9, #20]\n\t"
        "ldm    r12!, {r0-r3}\n\t"           /* the four sums from the channels' constants */
        "str    r12, [r9, #20]\n\t"
        "ldr    r8, [r9, #16]\n\t"           /* rows */
/* one tap: x = the input word, w = the weight word; channels 0 and 2 from the lanes of SXTB16, 1 and 3 from those of
 * SXTB16 of the word rotated by 8 */
#define DW_TAP(xaddr, waddr)                                                                                      \
        "ldr    r10, " xaddr "\n\t"                                                                               \
        "ldr    r12, " waddr "\n\t"                                                                               \
        "sxtb16 r11, r10, ror #8\n\t"                                                                             \
        "sxtb16 r10, r10\n\t"                                                                                     \
        "sxtb16 lr, r12, ror #8\n\t"                                                                              \
        "sxtb16 r12, r12\n\t"                                                                                     \
        "smlabb r0, r10, r12, r0\n\t"                                                                             \
        "smlatt r2, r10, r12, r2\n\t"                                                                             \
        "smlabb r1, r11, lr, r1\n\t"                                                                              \
        "smlatt r3, r11, lr, r3\n\t"
        "1:\n\t"
        DW_TAP("[r4]", "[r5]")
        DW_TAP("[r4, r6]", "[r5, r6]")
        "add    r4, r4, r6, lsl #1\n\t"
        "add    r5, r5, r6, lsl #1\n\t"
        DW_TAP("[r4]", "[r5]")
#undef DW_TAP
        "add    r4, r4, r7\n\t"              /* the next row of the window */
        "add    r5, r5, r6\n\t"              /* and of the weights */
        "subs   r8, r8, #1\n\t"
        "bne    1b\n\t"
        "ldrd   r12, lr, [r9, #32]\n\t"      /* rq, out */
        "cmp    r12, #0\n\t"
        "beq    3f\n\t"
/* the folded output path (tinyasc_rq_apply, then SSAT) of one channel's sum acc with its (m, rnd, sh) */
#define DW_OUT(acc)                                                                                               \
        "ldm    r12!, {r4, r5, r8}\n\t"                                                                           \
        "and    r10, " acc ", #0x80000000\n\t"                                                                   \
        "orr    r10, r10, #0x40000000\n\t"                                                                       \
        "add    r11, r5, " acc ", asr #31\n\t"                                                                    \
        "smlal  r10, r11, " acc ", r4\n\t"                                                                        \
        "asr    r11, r11, r8\n\t"                                                                                 \
        "ssat   r11, #8, r11\n\t"                                                                                 \
        "strb   r11, [lr], #1\n\t"
        DW_OUT("r0")
        DW_OUT("r1")
        DW_OUT("r2")
        DW_OUT("r3")
#undef DW_OUT
        "strd   r12, lr, [r9, #32]\n\t"
        "b      4f\n\t"
        "3:\n\t"
        "ldr    r12, [r9, #24]\n\t"
        "stm    r12!, {r0-r3}\n\t"
        "str    r12, [r9, #24]\n\t"
        "4:\n\t"
        "ldr    r12, [r9, #28]\n\t"
        "subs   r12, r12, #1\n\t"
        "str    r12, [r9, #28]\n\t"
        "bne    2b\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#else
#define DW_PIXEL_ASM 0
#endif

#if DW_PIXEL_ASM
/* The whole layer through dw_pixel_dsp when its windows are three taps wide, undilated along x, on channels a multiple
 * of four that its tables fit (base[], the sums, the output constants: 4 C words of the window buffer; a staged window
 * 3 k_h C bytes): a window wholly inside the input is read in place; one crossing the border is staged with the input
 * zero point outside, which with the offset in the channels' constants adds exactly nothing (as TFLite skips those
 * taps). Outputs from the sums: the folded path with its constants tabulated where the layer allows it. -1: not taken. */
static int dw3_layer(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    const int32_t C = p->in_c, row = p->in_w * C, win = 3 * p->k_h * C;
    if (p->depth_multiplier != 1 || p->k_w != 3 || p->dil_w != 1 || C % 4 != 0 ||
        4 * C > (int32_t)(sizeof(tinyasc_gather_words) / 4) || win > (int32_t)sizeof(tinyasc_gather_stage))
        return -1;
    int32_t *const base = (int32_t *)(void *)tinyasc_gather_words;
    tinyasc_chan_base(p, w, C, p->k_h * 3, C, 1, base);
    int32_t *const sums = base + C, *const rq = base + C; /* sums or, on the folded path, (m, rnd, sh) per channel */
    const int fast = tinyasc_out_fast_ok(p, w);
    if (fast)
        for (int32_t c = 0; c < C; c++) {
            rq[3 * c] = w->multiplier[c];
            tinyasc_out_fast_consts(p, w, c, &rq[3 * c + 1], &rq[3 * c + 2]);
        }
    const int8_t zp = (int8_t)(-p->input_offset);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * row;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t ky0, ky1;
            tinyasc_tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                dw_pix q = {.wp = w->data, .C = C, .rows = p->k_h, .base = base, .sums = sums, .groups = C / 4,
                            .rq = fast ? rq : NULL, .out = op};
                if (ky0 == 0 && ky1 == p->k_h && x0 >= 0 && x0 + 3 <= p->in_w) {
                    q.ip = in + y0 * row + x0 * C;
                    q.skip = p->dil_h * row - 2 * C;
                } else { /* stage the window: the zero point where a tap falls outside the input */
                    int8_t *g = tinyasc_gather_stage;
                    for (int32_t ky = 0; ky < p->k_h; ky++) {
                        const int32_t y = y0 + ky * p->dil_h;
                        for (int32_t kx = 0; kx < 3; kx++, g += C) {
                            const int32_t x = x0 + kx;
                            if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w) memcpy(g, in + y * row + x * C, (size_t)C);
                            else memset(g, zp, (size_t)C);
                        }
                    }
                    q.ip = tinyasc_gather_stage;
                    q.skip = C;
                }
                dw_pixel_dsp(&q);
                if (!fast)
                    for (int32_t c = 0; c < C; c++) op[c] = tinyasc_opt_out(p, w, sums[c], c);
            }
        }
    }
    return 0;
}
#endif
#endif

void tinyasc_opt_depthwise_window_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
#if defined(__ARM_FEATURE_MVE)
    if (dw_windows_mve(&pl, &wl, input, output) == 0) return;
#elif defined(__ARM_FEATURE_DSP) && DW_PIXEL_ASM
    if (dw3_layer(&pl, &wl, input, output) == 0) return;
#endif
    tinyasc_opt_depthwise_conv2d_s8(&pl, &wl, input, output);
}
