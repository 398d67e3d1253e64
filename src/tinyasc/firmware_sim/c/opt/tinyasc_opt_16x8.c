/*
 * 16x8 convolutions for Cortex-M (tinyasc_opt_conv2d_16x8, tinyasc_opt_depthwise_conv2d_16x8): int16
 * activations with zero point 0, int8 weights, int64 biases; bit-exact with the portable kernels of
 * c/kernels/int16.c (TFLM's reference: a 64-bit accumulator, then tinyasc_mbqm64).
 *
 * Why 32-bit sums are exact here: every output's sum of products is bounded by
 * 32768 * sum(|w|) over its weights. A layer whose bound plus |bias| stays below 2^31 for every
 * output channel (tinyasc_16x8_fits32, checked once per call; any realistic layer: 504 taps of
 * weight 127 still fit) has every partial sum inside int32, so SMLAD / VMLADAVA / C int32 adds give
 * the 64-bit reference's value. Layers outside the bound run the portable kernel.
 *
 * The rescaling of such a sum x = acc + bias: MBQM64(x, m, s) = (x r + 2^(t-1)) >> t with r the
 * multiplier rounded to 16 bits and t = 15 - s. For s <= -2 (t >= 17) it is
 * ((x * (r << 16)) >> 32) + 2^(t-17)) >> (t-16): the high word of one 32x32 multiply (SMMUL, VMULH),
 * an add and a shift (tinyasc_rq16_apply; nested floors with an integer offset are one floor). Other
 * shifts take tinyasc_mbqm64.
 *
 *  - Convolutions with one group: per pair of output pixels both receptive fields are gathered as
 *    int16 (0 for a tap outside the input: the zero point is 0, so it adds what the reference's
 *    skip adds), then two pixels x two output channels per inner loop:
 *      DSP (Cortex-M4/M7): the windows interleaved in quads [x0|x2][x1|x3] (SXTB16 lane order) so a
 *      weight word's SXTB16 and SXTB16 ROR 8 meet them directly: 4 SMLAD per 4 weights x 2 pixels;
 *      Helium (Cortex-M55): eight lanes per VLDRH / widening VLDRB.S16, VMLADAVA into four sums, the
 *      last eight predicated; an unpadded 1x1 convolution reads its input in place.
 *  - Channel-wise convolutions (DEPTHWISE_CONV_2D with depth multiplier 1; CONV_2D with one input and
 *    one output channel per group, as onnx2tf writes a PyTorch depthwise layer): per group of channels
 *    the weights are packed once (DSP: SXTB16 pairs; Helium: int16) and every output pixel runs its
 *    window, clipped to the input once per pixel: four channels per SMLAxy quartet on the DSP cores,
 *    four lanes of VMUL + VADD on Helium, the rescaling four lanes at once.
 *  - Anything else (grouped convolutions with more than one channel per group, depth multipliers
 *    above 1, windows longer than TINYASC_OPT16_MAX_K or TINYASC_OPT16_MAX_TAPS) runs the portable kernel.
 * On a core with neither extension (the host) the same gathering and blocking run in plain C.
 */
#include "tinyasc_opt.h"

#ifndef TINYASC_OPT16_MAX_K
#define TINYASC_OPT16_MAX_K 1024 /* longest gathered window (k_h * k_w * in_c) */
#endif
#ifndef TINYASC_OPT16_MAX_TAPS
#define TINYASC_OPT16_MAX_TAPS 128 /* longest channel-wise window (k_h * k_w; a column over 128 frequency
                                      * bands): the group's packed weights on the stack, 1 KB */
#endif
#if TINYASC_OPT16_MAX_K % 8 != 0
#error "TINYASC_OPT16_MAX_K must be a multiple of 8"
#endif

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
#define OPT16_DSP 1
#include <arm_acle.h>
#elif defined(__ARM_FEATURE_MVE)
#define OPT16_MVE 1
#include <arm_mve.h>
#endif

/* ------------------------------------------------------------------ layer checks and the output path */

/* Whether every output channel's sum (and every partial sum) fits in int32: 32768 * sum |w| + |bias|
 * < 2^31. Weights of channel c at c * wc + t * wt, t < n. */
static int fits32(const tinyasc_weights_16x8 *w, int32_t channels, int32_t n, int32_t wt, int32_t wc)
{
    for (int32_t c = 0; c < channels; c++) {
        int64_t s = 0;
        for (int32_t t = 0; t < n; t++) {
            const int32_t v = w->data[c * wc + t * wt];
            s += v < 0 ? -v : v;
        }
        s *= 32768;
        if (w->bias) s += w->bias[c] < 0 ? -w->bias[c] : w->bias[c];
        if (s > INT32_MAX) return 0;
    }
    return 1;
}

/* The rescaling of one output channel, computed once per layer block or channel group: the bias (int32
 * under fits32), r << 16, the rounding constant and the final shift of tinyasc_rq16_apply; sh = 0 marks a
 * shift outside the folded range (tinyasc_mbqm64 with m, s). */
typedef struct {
    int32_t bias, r16, rnd, sh, m, s;
} rq16c;

static inline __attribute__((always_inline)) void rq16_prepare(const tinyasc_weights_16x8 *w, int32_t c, rq16c *q)
{
    q->bias = w->bias ? (int32_t)w->bias[c] : 0;
    q->m = w->multiplier[c];
    q->s = w->shift[c];
    q->r16 = tinyasc_rq16_r(q->m);
    q->sh = tinyasc_rq16_folded(q->s) ? -1 - q->s : 0;
    q->rnd = q->sh ? (int32_t)1 << (q->sh - 1) : 0;
}

/* Output of a channel from its 32-bit sum (fits32: acc + bias does not overflow); lo > hi marks the whole
 * int16 range (one SSAT where the core has it). */
static inline __attribute__((always_inline)) int16_t out16(const rq16c *q, int32_t acc, int32_t lo, int32_t hi)
{
    const int32_t x = acc + q->bias;
    const int32_t v = q->sh ? ((int32_t)(((int64_t)x * q->r16) >> 32) + q->rnd) >> q->sh : tinyasc_mbqm64(x, q->m, q->s);
#if defined(__ARM_FEATURE_SAT)
    if (lo > hi) return (int16_t)__ssat(v, 16);
#else
    if (lo > hi) return (int16_t)tinyasc_clamp(v, -32768, 32767);
#endif
    return (int16_t)tinyasc_clamp(v, lo, hi);
}

#if defined(OPT16_MVE)
/* The rescaling of a group of up to four channels on Helium lanes (lanes past n: 0, never stored): folded when
 * every channel's shift is (tinyasc_rq16_apply lane by lane), else the group goes through out16 channel by channel. */
typedef struct {
    int32x4_t bias, r16, rnd, nsh, lo, hi;
    int folded;
} rq16x4;

static inline __attribute__((always_inline)) rq16x4 rq16x4_prepare(const rq16c *q, int32_t n,
                                                                  const tinyasc_conv_params *p)
{
    int32_t cb[4] = {0}, cr[4] = {0}, cn[4] = {0}, cs[4] = {0};
    rq16x4 k;
    k.folded = 1;
    for (int32_t j = 0; j < n; j++) {
        k.folded &= q[j].sh != 0;
        cb[j] = q[j].bias, cr[j] = q[j].r16, cn[j] = q[j].rnd, cs[j] = -q[j].sh;
    }
    k.bias = vldrwq_s32(cb), k.r16 = vldrwq_s32(cr), k.rnd = vldrwq_s32(cn), k.nsh = vldrwq_s32(cs);
    k.lo = vdupq_n_s32(p->act_min), k.hi = vdupq_n_s32(p->act_max);
    return k;
}

/* The group's n outputs at o from their 32-bit sums (the lane-by-lane form only where a shift is not folded). */
static inline __attribute__((always_inline)) void rq16x4_store(const rq16x4 k, const rq16c *q, int32_t n,
                                                               int32x4_t acc, int16_t *o, mve_pred16_t pr,
                                                               int32_t lo, int32_t hi)
{
    if (__builtin_expect(k.folded, 1)) {
        int32x4_t v = vmulhq_s32(vaddq_s32(acc, k.bias), k.r16);
        v = vshlq_s32(vaddq_s32(v, k.rnd), k.nsh);
        vstrhq_p_s32(o, vmaxq_s32(vminq_s32(v, k.hi), k.lo), pr);
    } else {
        int32_t a[4];
        vstrwq_s32(a, acc);
        for (int32_t j = 0; j < n; j++) o[j] = out16(&q[j], a[j], lo, hi);
    }
}
#endif

/* The (lo, hi) pair out16 takes for activation range [a, b]: (1, 0) for all of int16. */
static inline void out16_range(const tinyasc_conv_params *p, int32_t *lo, int32_t *hi)
{
    const int full = p->act_min <= -32768 && p->act_max >= 32767;
    *lo = full ? 1 : p->act_min;
    *hi = full ? 0 : p->act_max;
}

/* ------------------------------------------------------------------ one-group convolutions */

/* Copy n int16 (a window row) as words, then the last one. */
static inline __attribute__((always_inline)) void copy16(int16_t *dst, const int16_t *src, int32_t n)
{
    int32_t j = 0;
    for (; j + 2 <= n; j += 2) {
        uint32_t v;
        memcpy(&v, src + j, 4);
        memcpy(dst + j, &v, 4);
    }
    if (j < n) dst[j] = src[j];
}

/* The receptive field of the output pixel at (y0, x0) (top-left tap, padding applied) as K int16 in
 * the filter's order [ky][kx][c], 0 for taps outside the input. */
static void gather16(const tinyasc_conv_params *p, const int16_t *in, int32_t y0, int32_t x0, int16_t *dst)
{
    const int32_t C = p->in_c, kwC = p->k_w * C;
    if (p->dil_w == 1 && x0 >= 0 && x0 + p->k_w <= p->in_w) { /* rows of the window are contiguous */
        for (int32_t ky = 0; ky < p->k_h; ky++, dst += kwC) {
            const int32_t y = y0 + ky * p->dil_h;
            if (y >= 0 && y < p->in_h) copy16(dst, in + (y * p->in_w + x0) * C, kwC);
            else memset(dst, 0, (size_t)kwC * sizeof(int16_t));
        }
        return;
    }
    for (int32_t ky = 0; ky < p->k_h; ky++) {
        const int32_t y = y0 + ky * p->dil_h;
        for (int32_t kx = 0; kx < p->k_w; kx++, dst += C) {
            const int32_t x = x0 + kx * p->dil_w;
            if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w) copy16(dst, in + (y * p->in_w + x) * C, C);
            else memset(dst, 0, (size_t)C * sizeof(int16_t));
        }
    }
}

#if defined(OPT16_DSP)
/* Two windows interleaved by quad: quad q of window s at words 4q + 2s, 4q + 2s + 1 as [x0|x2][x1|x3]. */
static uint32_t quads16[TINYASC_OPT16_MAX_K];
static int16_t stage16[TINYASC_OPT16_MAX_K + 4];


/* The staged window (K int16, zero-extended to whole quads) into slot s of the interleaved quads. */
static void pack_quads(const int16_t *st, int32_t K, int32_t s)
{
    uint32_t *q = quads16 + 2 * s;
    for (int32_t k = 0; k < K; k += 4, q += 4) {
        uint32_t a, b;
        memcpy(&a, st + k, 4);     /* [x0|x1] */
        memcpy(&b, st + k + 2, 4); /* [x2|x3] */
        q[0] = (a & 0xFFFFu) | (b << 16);          /* PKHBT: [x0|x2] */
        q[1] = (b & 0xFFFF0000u) | (a >> 16);      /* PKHTB: [x1|x3] */
    }
}

/* The last n = 1..3 weights of a row as the low bytes of a word (nothing read past the row). */
static inline uint32_t load_tail(const int8_t *p, int32_t n)
{
    uint32_t v = (uint8_t)p[0];
    if (n > 1) v |= (uint32_t)(uint8_t)p[1] << 8;
    if (n > 2) v |= (uint32_t)(uint8_t)p[2] << 16;
    return v;
}

/* Sums of two weight rows (wa, wb) against both windows: acc[2 * pixel + row]. */
static inline __attribute__((always_inline)) void dot_2x2(const int8_t *wa, const int8_t *wb, int32_t K, int32_t acc[4])
{
    const uint32_t *q = quads16;
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    const int32_t K4 = K & ~3;
    int32_t k = 0;
    for (; k < K4; k += 4, q += 4) {
        const uint32_t ua = tinyasc_load_u32(wa + k), ub = tinyasc_load_u32(wb + k);
        const uint32_t sa = __sxtb16(ua), ra = tinyasc_sxtb16_ror8(ua), sb = __sxtb16(ub), rb = tinyasc_sxtb16_ror8(ub);
        const uint32_t x0 = q[0], x1 = q[1];
        a0 = __smlad(ra, x1, __smlad(sa, x0, a0));
        a1 = __smlad(rb, x1, __smlad(sb, x0, a1));
        const uint32_t y0 = q[2], y1 = q[3];
        b0 = __smlad(ra, y1, __smlad(sa, y0, b0));
        b1 = __smlad(rb, y1, __smlad(sb, y0, b1));
    }
    if (k < K) {
        const uint32_t ua = load_tail(wa + k, K - k), ub = load_tail(wb + k, K - k);
        const uint32_t sa = __sxtb16(ua), ra = tinyasc_sxtb16_ror8(ua), sb = __sxtb16(ub), rb = tinyasc_sxtb16_ror8(ub);
        a0 = __smlad(ra, q[1], __smlad(sa, q[0], a0));
        a1 = __smlad(rb, q[1], __smlad(sb, q[0], a1));
        b0 = __smlad(ra, q[3], __smlad(sa, q[2], b0));
        b1 = __smlad(rb, q[3], __smlad(sb, q[2], b1));
    }
    acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;
}

static inline void load_window(const tinyasc_conv_params *p, const int16_t *in, int32_t y0, int32_t x0, int32_t K,
                               int32_t slot, const int16_t **unused)
{
    (void)unused;
    gather16(p, in, y0, x0, stage16);
    for (int32_t k = K; k < ((K + 3) & ~3); k++) stage16[k] = 0;
    pack_quads(stage16, K, slot);
}
#else
/* Two windows side by side (Helium and plain C), each a multiple of 8 long. */
static int16_t wins16[2][TINYASC_OPT16_MAX_K];

/* Window `slot` of the pixel at (y0, x0): in place (an unpadded 1x1 convolution's pixel) or gathered. */
static inline void load_window(const tinyasc_conv_params *p, const int16_t *in, int32_t y0, int32_t x0, int32_t K,
                               int32_t slot, const int16_t **win)
{
    (void)K;
    if (p->k_h == 1 && p->k_w == 1 && y0 >= 0 && y0 < p->in_h && x0 >= 0 && x0 < p->in_w) {
        *win = in + (y0 * p->in_w + x0) * p->in_c;
        return;
    }
    gather16(p, in, y0, x0, wins16[slot]);
    *win = wins16[slot];
}

#if defined(OPT16_MVE)
static inline __attribute__((always_inline)) void dot_2x2_win(const int16_t *xa, const int16_t *xb, const int8_t *wa,
                                                              const int8_t *wb, int32_t K, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    for (int32_t k = 0; k < K; k += 8) {
        const mve_pred16_t pr = vctp16q((uint32_t)(K - k));
        const int16x8_t va = vldrhq_z_s16(xa + k, pr), vb = vldrhq_z_s16(xb + k, pr);
        const int16x8_t fa = vldrbq_z_s16(wa + k, pr), fb = vldrbq_z_s16(wb + k, pr);
        a0 = vmladavaq_s16(a0, va, fa);
        a1 = vmladavaq_s16(a1, va, fb);
        b0 = vmladavaq_s16(b0, vb, fa);
        b1 = vmladavaq_s16(b1, vb, fb);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;
}
#else
static inline __attribute__((always_inline)) void dot_2x2_win(const int16_t *xa, const int16_t *xb, const int8_t *wa,
                                                              const int8_t *wb, int32_t K, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    for (int32_t k = 0; k < K; k++) {
        a0 += xa[k] * wa[k];
        a1 += xa[k] * wb[k];
        b0 += xb[k] * wa[k];
        b1 += xb[k] * wb[k];
    }
    acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;
}
#endif
#endif

#ifndef TINYASC_OPT16_RQ_C
#define TINYASC_OPT16_RQ_C 32 /* output channels whose rescaling constants sit on the stack at once */
#endif

/* One-group convolution, two pixels x two output channels at a time (a lone last pixel or channel
 * computes a duplicate whose sums are dropped), output channels in blocks of TINYASC_OPT16_RQ_C whose
 * rescaling constants are computed once per block. -1 for layers it does not take. */
static int conv16(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w, const int16_t *input, int16_t *output)
{
    const int32_t K = p->k_h * p->k_w * p->in_c, OC = p->out_c;
    const int32_t npix = p->out_h * p->out_w;
    int32_t lo, hi;
    rq16c rq[TINYASC_OPT16_RQ_C];
    out16_range(p, &lo, &hi);
    if (p->filter_in_c != p->in_c || K > TINYASC_OPT16_MAX_K || !fits32(w, OC, K, 1, K)) return -1;
    for (int32_t c0 = 0; c0 < OC; c0 += TINYASC_OPT16_RQ_C) {
        const int32_t c1 = OC - c0 < TINYASC_OPT16_RQ_C ? OC : c0 + TINYASC_OPT16_RQ_C;
        for (int32_t oc = c0; oc < c1; oc++) rq16_prepare(w, oc, &rq[oc - c0]);
        for (int32_t b = 0; b < p->batches; b++) {
            const int16_t *in = input + b * p->in_h * p->in_w * p->in_c;
            int16_t *out = output + b * npix * OC;
            for (int32_t i = 0; i < npix; i += 2) {
                const int32_t two = i + 1 < npix;
                const int32_t ya = (i / p->out_w) * p->stride_h - p->pad_h, xa = (i % p->out_w) * p->stride_w - p->pad_w;
                const int32_t j = two ? i + 1 : i;
                const int32_t yb = (j / p->out_w) * p->stride_h - p->pad_h, xb = (j % p->out_w) * p->stride_w - p->pad_w;
                const int16_t *wina = 0, *winb = 0;
                load_window(p, in, ya, xa, K, 0, &wina);
                load_window(p, in, yb, xb, K, 1, &winb);
                int16_t *oa = out + i * OC, *ob = out + j * OC;
                for (int32_t oc = c0; oc < c1; oc += 2) {
                    const int32_t pair = oc + 1 < c1;
                    const int8_t *fa = w->data + oc * K, *fb = pair ? fa + K : fa;
                    const rq16c *q = &rq[oc - c0];
                    int32_t acc[4];
#if defined(OPT16_DSP)
                    dot_2x2(fa, fb, K, acc);
#else
                    dot_2x2_win(wina, winb, fa, fb, K, acc);
#endif
                    oa[oc] = out16(q, acc[0], lo, hi);
                    if (pair) oa[oc + 1] = out16(q + 1, acc[1], lo, hi);
                    if (two) {
                        ob[oc] = out16(q, acc[2], lo, hi);
                        if (pair) ob[oc + 1] = out16(q + 1, acc[3], lo, hi);
                    }
                }
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ channel-wise convolutions */

/* A channel-wise convolution with one tap and no padding (a per-channel scale: the sub-spectral norm's affine as
 * onnx2tf writes it, when not fused): out[pixel][c] = rescale(in[pixel'][c] * w[c] + bias[c]), the weight of
 * channel c at w->data[c] in both layouts. Channels in pairs (DSP: one input word, SMULBB + SMULTT) or fours
 * (Helium: the four-lane rescaling) with their constants in registers, every pixel in the inner loop. */
static void chan16_scale(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w, const int16_t *input,
                         int16_t *output, int32_t lo, int32_t hi)
{
    const int32_t C = p->out_c, sx = p->stride_w * C, sy = p->stride_h * p->in_w * C;
#if defined(OPT16_DSP)
    enum { G = 2 };
#elif defined(OPT16_MVE)
    enum { G = 4 };
#else
    enum { G = 1 };
#endif
    for (int32_t c0 = 0; c0 < C; c0 += G) {
        const int32_t n = C - c0 < G ? C - c0 : G;
        rq16c q[G];
        for (int32_t j = 0; j < n; j++) rq16_prepare(w, c0 + j, &q[j]);
#if defined(OPT16_MVE)
        int32_t cw[4] = {0};
        for (int32_t j = 0; j < n; j++) cw[j] = w->data[c0 + j];
        const int32x4_t vw = vldrwq_s32(cw);
        const rq16x4 k = rq16x4_prepare(q, n, p);
        const mve_pred16_t pr = vctp32q((uint32_t)n);
#elif defined(OPT16_DSP)
        const uint32_t w01 = (uint32_t)(uint16_t)(int16_t)w->data[c0] |
                             (n > 1 ? (uint32_t)(uint16_t)(int16_t)w->data[c0 + 1] << 16 : 0u);
#endif
        for (int32_t b = 0; b < p->batches; b++)
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int16_t *x = input + (b * p->in_h * p->in_w) * C + oy * sy + c0;
            int16_t *o = output + ((b * p->out_h + oy) * p->out_w) * C + c0;
            for (int32_t ox = 0; ox < p->out_w; ox++, x += sx, o += C) {
#if defined(OPT16_MVE)
                rq16x4_store(k, q, n, vmulq_s32(vldrhq_z_s32(x, pr), vw), o, pr, lo, hi);
#elif defined(OPT16_DSP)
                if (n == 2) {
                    const uint32_t x01 = tinyasc_load_u32(x);
                    /* SMULBB and SMULTT */
                    o[0] = out16(&q[0], (int32_t)(int16_t)x01 * (int32_t)(int16_t)w01, lo, hi);
                    o[1] = out16(&q[1], ((int32_t)x01 >> 16) * ((int32_t)w01 >> 16), lo, hi);
                } else {
                    o[0] = out16(&q[0], x[0] * w->data[c0], lo, hi);
                }
#else
                for (int32_t j = 0; j < n; j++) o[j] = out16(&q[j], x[j] * w->data[c0 + j], lo, hi);
#endif
            }
        }
    }
}

/* Channel-wise convolution: out channel c = in channel c, tap t = ky * k_w + kx of channel c at
 * w->data[t * wt + c * wc]. Channels in groups of four (DSP: two input words against SXTB16 lanes, SMLAxy
 * per channel and tap, a last group of 2 or 3 by SMLABB + SMLATT; Helium: four lanes) whose weights are packed once (on the stack) and whose rescaling constants
 * are computed once; every output pixel then runs its window, clipped to the input. -1 for layers it does
 * not take. */
static int chan16(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w, const int16_t *input, int16_t *output,
                  int32_t wt, int32_t wc)
{
    const int32_t C = p->out_c, T = p->k_h * p->k_w, row = p->in_w * C, dy = p->dil_h * row, dx = p->dil_w * C;
    /* every pixel's window spans all k_w columns: no clipping along the row */
    const int full_w = p->pad_w == 0 && (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w < p->in_w;
    int32_t lo, hi;
    if (p->in_c != C || T > TINYASC_OPT16_MAX_TAPS || !fits32(w, C, T, wt, wc)) return -1;
    out16_range(p, &lo, &hi);
    if (T == 1 && p->pad_h == 0 && p->pad_w == 0) {
        chan16_scale(p, w, input, output, lo, hi);
        return 0;
    }
#if defined(OPT16_DSP)
    enum { G = 4 };
    /* per tap: SXTB16 and SXTB16 ROR 8 of a group of 4 weights ([w0|w2], [w1|w3]); for a group of 2 or 3,
     * its first two weights as int16 lanes ([w0|w1]) */
    uint32_t pk[2 * TINYASC_OPT16_MAX_TAPS];
#elif defined(OPT16_MVE)
    enum { G = 4 };
    int16_t pk[4 * TINYASC_OPT16_MAX_TAPS]; /* per tap: the group's 4 weights (0 past the last channel) */
#else
    enum { G = 1 };
#endif
    for (int32_t c0 = 0; c0 < C; c0 += G) {
        const int32_t n = C - c0 < G ? C - c0 : G;
        rq16c q[G];
        for (int32_t j = 0; j < n; j++) rq16_prepare(w, c0 + j, &q[j]);
#if defined(OPT16_DSP)
        for (int32_t t = 0; t < T; t++) {
            const int8_t *f = w->data + t * wt + c0 * wc;
            if (n == 4) {
                const uint32_t u = (uint32_t)(uint8_t)f[0] | (uint32_t)(uint8_t)f[wc] << 8 |
                                   (uint32_t)(uint8_t)f[2 * wc] << 16 | (uint32_t)(uint8_t)f[3 * wc] << 24;
                pk[2 * t] = __sxtb16(u);
                pk[2 * t + 1] = tinyasc_sxtb16_ror8(u);
            } else if (n > 1) {
                pk[t] = (uint32_t)(uint16_t)(int16_t)f[0] | (uint32_t)(uint16_t)(int16_t)f[wc] << 16;
            }
        }
#elif defined(OPT16_MVE)
        for (int32_t t = 0; t < T; t++)
            for (int32_t j = 0; j < 4; j++) pk[4 * t + j] = j < n ? w->data[t * wt + (c0 + j) * wc] : 0;
        const rq16x4 k = rq16x4_prepare(q, n, p);
        const mve_pred16_t pr = vctp32q((uint32_t)n);
#endif
        for (int32_t b = 0; b < p->batches; b++)
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t ky0, ky1;
            tinyasc_tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            /* the window's first tap inside the input (row ky0, column kx0) of channel c0 of pixel (oy, 0) */
            const int32_t r0 = (b * p->in_h + y0 + ky0 * p->dil_h) * row + c0;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int32_t kx0 = 0, kx1 = p->k_w;
                if (!full_w) tinyasc_tap_range(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                const int32_t nx = kx1 - kx0, ny = ky1 - ky0, t0 = ky0 * p->k_w + kx0;
                const int32_t i0 = r0 + (x0 + kx0 * p->dil_w) * C; /* its element index (used only when inside) */
                int16_t *o = output + ((b * p->out_h + oy) * p->out_w + ox) * C + c0;
                int32_t j = 0;
#if defined(OPT16_DSP)
                if (n == 4) {
                    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                    if (nx > 0) {
                        for (int32_t ky = 0; ky < ny; ky++) {
                            const int16_t *x = input + i0 + ky * dy;
                            const uint32_t *wp = pk + 2 * (t0 + ky * p->k_w);
                            for (int32_t k = 0; k < nx; k++, x += dx, wp += 2) {
                                const uint32_t x01 = tinyasc_load_u32(x), x23 = tinyasc_load_u32(x + 2);
                                const uint32_t w02 = wp[0], w13 = wp[1];
                                a0 = __smlabb(x01, w02, a0);
                                a1 = __smlatb(x01, w13, a1);
                                a2 = __smlabt(x23, w02, a2);
                                a3 = __smlatt(x23, w13, a3);
                            }
                        }
                    }
                    o[0] = out16(&q[0], a0, lo, hi);
                    o[1] = out16(&q[1], a1, lo, hi);
                    o[2] = out16(&q[2], a2, lo, hi);
                    o[3] = out16(&q[3], a3, lo, hi);
                    continue;
                }
                if (n > 1) {
                    int32_t a0 = 0, a1 = 0;
                    if (nx > 0) {
                        for (int32_t ky = 0; ky < ny; ky++) {
                            const int16_t *x = input + i0 + ky * dy;
                            const uint32_t *wp = pk + t0 + ky * p->k_w;
                            for (int32_t k = 0; k < nx; k++, x += dx) {
                                const uint32_t x01 = tinyasc_load_u32(x), w01 = wp[k];
                                a0 = __smlabb(x01, w01, a0);
                                a1 = __smlatt(x01, w01, a1);
                            }
                        }
                    }
                    o[0] = out16(&q[0], a0, lo, hi);
                    o[1] = out16(&q[1], a1, lo, hi);
                    j = 2;
                }
#elif defined(OPT16_MVE)
                {
                    int32x4_t acc = vdupq_n_s32(0);
                    if (nx > 0) {
                        for (int32_t ky = 0; ky < ny; ky++) {
                            const int16_t *x = input + i0 + ky * dy;
                            const int16_t *wp = pk + 4 * (t0 + ky * p->k_w);
                            for (int32_t k = 0; k < nx; k++, x += dx, wp += 4)
                                acc = vaddq_s32(acc, vmulq_s32(vldrhq_z_s32(x, pr), vldrhq_s32(wp)));
                        }
                    }
                    rq16x4_store(k, q, n, acc, o, pr, lo, hi);
                    continue;
                }
#endif
                for (; j < n; j++) { /* plain C, and the DSP path's last channel of a group of 1 or 3 */
                    int32_t a = 0;
                    for (int32_t ky = 0; ky < ny; ky++)
                        for (int32_t k = 0; k < nx; k++)
                            a += input[i0 + ky * dy + k * dx + j] * w->data[(t0 + ky * p->k_w + k) * wt + (c0 + j) * wc];
                    o[j] = out16(&q[j], a, lo, hi);
                }
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ entry points */

void tinyasc_opt_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w, const int16_t *input,
                             int16_t *output)
{
    const int32_t T = p->k_h * p->k_w;
    if (p->filter_in_c == 1 && p->in_c == p->out_c && p->in_c > 1 && chan16(p, w, input, output, 1, T) == 0) return;
    if (conv16(p, w, input, output) == 0) return;
    tinyasc_conv2d_16x8(p, w, input, output);
}

void tinyasc_opt_depthwise_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w,
                                       const int16_t *input, int16_t *output)
{
    if (p->depth_multiplier == 1 && chan16(p, w, input, output, p->out_c, 1) == 0) return;
    tinyasc_depthwise_conv2d_16x8(p, w, input, output);
}
