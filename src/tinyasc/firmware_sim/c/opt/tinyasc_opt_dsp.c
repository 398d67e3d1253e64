/*
 * DSP-extension (SIMD MAC) kernels for Cortex-M4/M7: SMLAD does two 16x16 MACs per
 * instruction. Per output pixel the receptive field is gathered once as int16
 * (x + input_offset; 0 for padding, which contributes exactly what the reference's skip
 * does) in SXTB16 lane order: SXTAB16(off, word) gives inputs 0 and 2 of four bytes,
 * SXTAB16(off, word ROR 8) inputs 1 and 3, which line up with SXTB16 of the weight word
 * and of the weight word ROR 8. Two output channels share each gathered word.
 */
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
#include <arm_acle.h>

#ifndef TINYASC_OPT_MAX_K
#define TINYASC_OPT_MAX_K 2304 /* int16 gather buffer: 4.5 KB of RAM */
#endif

/* Stored as words, read and written as halfwords and words: both through may_alias types. */
typedef int16_t __attribute__((may_alias)) i16_alias;
typedef uint32_t __attribute__((may_alias)) u32_alias;
static uint32_t gather_words[(TINYASC_OPT_MAX_K + 4) / 2];
/* second window: two output pixels share every weight word when K fits (2.3 KB more RAM) */
#ifndef TINYASC_OPT_MAX_K2
#define TINYASC_OPT_MAX_K2 1152
#endif
static uint32_t gather_words2[(TINYASC_OPT_MAX_K2 + 4) / 2];

static inline uint32_t ror8(uint32_t v) { return (v >> 8) | (v << 24); }

/* SXTB16 of the word rotated by 8 in one instruction (gcc does not fold the rotate). */
static inline uint32_t sxtb16_ror8(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static inline uint32_t load_u32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Gather one window; quads of 4 consecutive k in lane order (k, k+2 | k+1, k+3), tail plain. */
static void gather_window(const tinyasc_conv_params *p, const int8_t *in, int32_t y0, int32_t x0, uint32_t *dst)
{
    i16_alias *const gather = (i16_alias *)dst;
    const int32_t C = p->in_c;
    const uint32_t off2 = ((uint32_t)(uint16_t)p->input_offset << 16) | (uint16_t)p->input_offset;
    if ((C & 3) == 0) {
        u32_alias *g = (u32_alias *)dst;
        for (int32_t ky = 0; ky < p->k_h; ky++) {
            const int32_t y = y0 + ky * p->dil_h;
            for (int32_t kx = 0; kx < p->k_w; kx++) {
                const int32_t x = x0 + kx * p->dil_w;
                if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w) {
                    const int8_t *ip = in + (y * p->in_w + x) * C;
                    for (int32_t c = 0; c < C; c += 4) {
                        const uint32_t u = load_u32(ip + c);
                        g[0] = __sxtab16(off2, u);
                        g[1] = __sxtab16(off2, ror8(u)); /* folds to SXTAB16 ..., ROR #8 */
                        g += 2;
                    }
                } else {
                    for (int32_t c = 0; c < C; c += 4) {
                        g[0] = 0u;
                        g[1] = 0u;
                        g += 2;
                    }
                }
            }
        }
        return;
    }
    /* a window inside the input whose rows are contiguous (any channel count, e.g. the 1-channel
     * first layer): the rows' bytes staged in the buffer's upper half (bytes K..2K), then read as
     * words into quads as above; quad k writes bytes 2k..2k+7 after reading K+k..K+k+3, and the
     * plain int16 tail writes 2k, 2k+1 after reading K+k, so nothing is overwritten unread */
    const int32_t kwC = p->k_w * C, K = p->k_h * kwC;
    if (p->dil_w == 1 && y0 >= 0 && y0 + (p->k_h - 1) * p->dil_h < p->in_h && x0 >= 0 && x0 + p->k_w <= p->in_w) {
        int8_t *stage = (int8_t *)dst + K;
        for (int32_t ky = 0; ky < p->k_h; ky++) {
            const int8_t *ip = in + ((y0 + ky * p->dil_h) * p->in_w + x0) * C;
            for (int32_t j = 0; j < kwC; j++) stage[ky * kwC + j] = ip[j];
        }
        u32_alias *g = (u32_alias *)dst;
        const int32_t k4 = K & ~3;
        int32_t k = 0;
        for (; k < k4; k += 4, g += 2) {
            const uint32_t u = load_u32(stage + k);
            g[0] = __sxtab16(off2, u);
            g[1] = __sxtab16(off2, ror8(u));
        }
        for (; k < K; k++) gather[k] = (int16_t)(stage[k] + p->input_offset);
        return;
    }
    /* any channel count: plain int16 gather, then each quad (k..k+3) reordered to k, k+2, k+1, k+3 */
    i16_alias *g = gather;
    const int16_t off = (int16_t)p->input_offset;
    for (int32_t ky = 0; ky < p->k_h; ky++) {
        const int32_t y = y0 + ky * p->dil_h;
        const int row_in = y >= 0 && y < p->in_h;
        for (int32_t kx = 0; kx < p->k_w; kx++) {
            const int32_t x = x0 + kx * p->dil_w;
            if (row_in && x >= 0 && x < p->in_w) {
                const int8_t *ip = in + (y * p->in_w + x) * C;
                for (int32_t c = 0; c < C; c++) g[c] = (int16_t)(ip[c] + off);
            } else {
                for (int32_t c = 0; c < C; c++) g[c] = 0;
            }
            g += C;
        }
    }
    const int32_t k4 = (int32_t)(g - gather) & ~3;
    u32_alias *q = (u32_alias *)dst;
    for (int32_t k = 0; k < k4; k += 4, q += 2) {
        const uint32_t lo = q[0], hi = q[1];                  /* (k, k+1), (k+2, k+3) */
        q[0] = (lo & 0xFFFFu) | (hi << 16);                   /* PKHBT: (k, k+2) */
        q[1] = (hi & 0xFFFF0000u) | (lo >> 16);               /* PKHTB: (k+1, k+3) */
    }
}

/* Output of channel oc: the layer's fast path (tinyasc_out_fast_ok) or the general one. */
static inline __attribute__((always_inline)) int8_t pixel_out(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                              int32_t acc, int32_t oc, int fast)
{
    if (fast) {
        int32_t rnd, sh;
        tinyasc_out_fast_consts(p, w, oc, &rnd, &sh);
        return tinyasc_out_fast(acc, w->multiplier[oc], rnd, sh);
    }
    return tinyasc_opt_out(p, w, acc, oc);
}

/* One output pixel from one gathered window: two output channels per pass. */
static inline __attribute__((always_inline)) void conv_pixel1(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                              int32_t K, int32_t k4, const uint32_t *G, int8_t *op,
                                                              int fast)
{
    const i16_alias *gh = (const i16_alias *)G;
    int32_t oc = 0;
    for (; oc + 1 < p->out_c; oc += 2) {
        const int8_t *w0 = w->data + oc * K, *w1 = w0 + K;
        int32_t a0 = w->bias ? w->bias[oc] : 0, a1 = w->bias ? w->bias[oc + 1] : 0;
        const u32_alias *g = (const u32_alias *)G;
        int32_t k = 0;
        for (; k < k4; k += 4, g += 2) {
            const uint32_t u0 = load_u32(w0 + k), u1 = load_u32(w1 + k);
            a0 = __smlad(__sxtb16(u0), g[0], a0);
            a1 = __smlad(__sxtb16(u1), g[0], a1);
            a0 = __smlad(sxtb16_ror8(u0), g[1], a0);
            a1 = __smlad(sxtb16_ror8(u1), g[1], a1);
        }
        for (; k < K; k++) {
            a0 += (int32_t)w0[k] * gh[k];
            a1 += (int32_t)w1[k] * gh[k];
        }
        op[oc] = pixel_out(p, w, a0, oc, fast);
        op[oc + 1] = pixel_out(p, w, a1, oc + 1, fast);
    }
    for (; oc < p->out_c; oc++) {
        const int8_t *w0 = w->data + oc * K;
        int32_t a0 = w->bias ? w->bias[oc] : 0;
        const u32_alias *g = (const u32_alias *)G;
        int32_t k = 0;
        for (; k < k4; k += 4, g += 2) {
            const uint32_t u0 = load_u32(w0 + k);
            a0 = __smlad(__sxtb16(u0), g[0], a0);
            a0 = __smlad(sxtb16_ror8(u0), g[1], a0);
        }
        for (; k < K; k++) a0 += (int32_t)w0[k] * gh[k];
        op[oc] = pixel_out(p, w, a0, oc, fast);
    }
}

/* Two adjacent output pixels (windows in gather_words / gather_words2) x two output channels:
 * each weight word is loaded and sign-extended once for four SMLAD pairs. */
static inline __attribute__((always_inline)) void conv_pixel2(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                              int32_t K, int32_t k4, int8_t *op0, int8_t *op1, int fast)
{
    const i16_alias *h0 = (const i16_alias *)gather_words, *h1 = (const i16_alias *)gather_words2;
    int32_t oc = 0;
    for (; oc + 1 < p->out_c; oc += 2) {
        const int8_t *w0 = w->data + oc * K, *w1 = w0 + K;
        const int32_t b0 = w->bias ? w->bias[oc] : 0, b1 = w->bias ? w->bias[oc + 1] : 0;
        int32_t a00 = b0, a01 = b1, a10 = b0, a11 = b1; /* a<pixel><channel> */
        const u32_alias *g0 = (const u32_alias *)gather_words, *g1 = (const u32_alias *)gather_words2;
        int32_t k = 0;
        for (; k < k4; k += 4, g0 += 2, g1 += 2) {
            const uint32_t u0 = load_u32(w0 + k), u1 = load_u32(w1 + k);
            const uint32_t s0 = __sxtb16(u0), r0 = sxtb16_ror8(u0), s1 = __sxtb16(u1), r1 = sxtb16_ror8(u1);
            const uint32_t x0a = g0[0], x0b = g0[1], x1a = g1[0], x1b = g1[1];
            a00 = __smlad(s0, x0a, a00);
            a00 = __smlad(r0, x0b, a00);
            a01 = __smlad(s1, x0a, a01);
            a01 = __smlad(r1, x0b, a01);
            a10 = __smlad(s0, x1a, a10);
            a10 = __smlad(r0, x1b, a10);
            a11 = __smlad(s1, x1a, a11);
            a11 = __smlad(r1, x1b, a11);
        }
        for (; k < K; k++) {
            a00 += (int32_t)w0[k] * h0[k];
            a01 += (int32_t)w1[k] * h0[k];
            a10 += (int32_t)w0[k] * h1[k];
            a11 += (int32_t)w1[k] * h1[k];
        }
        op0[oc] = pixel_out(p, w, a00, oc, fast);
        op0[oc + 1] = pixel_out(p, w, a01, oc + 1, fast);
        op1[oc] = pixel_out(p, w, a10, oc, fast);
        op1[oc + 1] = pixel_out(p, w, a11, oc + 1, fast);
    }
    for (; oc < p->out_c; oc++) {
        const int8_t *w0 = w->data + oc * K;
        const int32_t b0 = w->bias ? w->bias[oc] : 0;
        int32_t a0 = b0, a1 = b0;
        const u32_alias *g0 = (const u32_alias *)gather_words, *g1 = (const u32_alias *)gather_words2;
        int32_t k = 0;
        for (; k < k4; k += 4, g0 += 2, g1 += 2) {
            const uint32_t u0 = load_u32(w0 + k);
            const uint32_t s0 = __sxtb16(u0), r0 = sxtb16_ror8(u0);
            a0 = __smlad(s0, g0[0], a0);
            a0 = __smlad(r0, g0[1], a0);
            a1 = __smlad(s0, g1[0], a1);
            a1 = __smlad(r0, g1[1], a1);
        }
        for (; k < K; k++) {
            a0 += (int32_t)w0[k] * h0[k];
            a1 += (int32_t)w0[k] * h1[k];
        }
        op0[oc] = pixel_out(p, w, a0, oc, fast);
        op1[oc] = pixel_out(p, w, a1, oc, fast);
    }
}

static inline __attribute__((always_inline)) void simd_conv_body(const tinyasc_conv_params *p,
                                                                 const tinyasc_weights *w, const int8_t *input,
                                                                 int8_t *output, int fast)
{
    const int32_t K = p->k_h * p->k_w * p->in_c;
    const int32_t k4 = K & ~3;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * p->in_c;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            for (int32_t ox = 0; ox < p->out_w;) {
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                gather_window(p, in, y0, x0, gather_words);
                if (ox + 1 < p->out_w && K <= TINYASC_OPT_MAX_K2) {
                    gather_window(p, in, y0, x0 + p->stride_w, gather_words2);
                    conv_pixel2(p, w, K, k4, op, op + p->out_c, fast);
                    ox += 2;
                } else {
                    conv_pixel1(p, w, K, k4, gather_words, op, fast);
                    ox += 1;
                }
            }
        }
    }
}

int tinyasc_simd_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const int32_t K = p->k_h * p->k_w * p->in_c;
    if (p->filter_in_c != p->in_c || K > TINYASC_OPT_MAX_K) return -1;
    if (tinyasc_out_fast_ok(p, w)) simd_conv_body(p, w, input, output, 1);
    else simd_conv_body(p, w, input, output, 0);
    return 0;
}

/* Depthwise (multiplier 1, even channels): two channels per SMLABB/SMLATT pair, the input
 * offset added to both halfwords by one SXTAB16. */
int tinyasc_simd_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    if (p->depth_multiplier != 1 || (p->in_c & 1) != 0) return -1;
    const int32_t C = p->in_c;
    const uint32_t off2 = ((uint32_t)(uint16_t)p->input_offset << 16) | (uint16_t)p->input_offset;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int32_t ky0 = y0 < 0 ? (-y0 + p->dil_h - 1) / p->dil_h : 0;
                const int32_t kx0 = x0 < 0 ? (-x0 + p->dil_w - 1) / p->dil_w : 0;
                for (int32_t c = 0; c < C; c += 2) {
                    int32_t a0 = w->bias ? w->bias[c] : 0, a1 = w->bias ? w->bias[c + 1] : 0;
                    for (int32_t ky = ky0; ky < p->k_h; ky++) {
                        const int32_t y = y0 + ky * p->dil_h;
                        if (y >= p->in_h) break;
                        for (int32_t kx = kx0; kx < p->k_w; kx++) {
                            const int32_t x = x0 + kx * p->dil_w;
                            if (x >= p->in_w) break;
                            const int8_t *ip = in + (y * p->in_w + x) * C + c;
                            const int8_t *wp = w->data + (ky * p->k_w + kx) * C + c;
                            const uint32_t xi = (uint32_t)(uint8_t)ip[0] | ((uint32_t)(uint8_t)ip[1] << 16);
                            const uint32_t wi = (uint32_t)(uint8_t)wp[0] | ((uint32_t)(uint8_t)wp[1] << 16);
                            const uint32_t xs = __sxtab16(off2, xi);
                            const uint32_t ws = __sxtb16(wi);
                            a0 = __smlabb(xs, ws, a0);
                            a1 = __smlatt(xs, ws, a1);
                        }
                    }
                    op[c] = tinyasc_opt_out(p, w, a0, c);
                    op[c + 1] = tinyasc_opt_out(p, w, a1, c + 1);
                }
            }
        }
    }
    return 0;
}
#endif
