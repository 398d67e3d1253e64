/*
 * One-input-channel convolution (the spectrogram's first layer) on the cores with the DSP
 * extension (Cortex-M4, M7 and M55): tinyasc_conv_c1_s8, which the dispatcher
 * (tinyasc_opt_conv2d_s8) tries first for one input channel through the core file's
 * tinyasc_simd_conv_c1_s8 (tinyasc_opt_dsp.c, tinyasc_opt_mve.c), in that file's static buffer.
 *
 * A window of one channel is a few taps (5x5: 25), so gathering it per output pixel and
 * requantizing per output cost more than its MACs. Instead the k_h input rows an output row
 * reads are widened once to int16 (x + input_offset; 0 in the padding) and each filter row once
 * to int16 pairs (zero-padded to an even length): a pair of taps is one SMLAD of a row word and
 * a filter word, and the window of the next pixel is the same row stride_w int16 further. The
 * buffer holds, in words: the filter pairs (out_c x k_h x kw2), the fast output path's constants
 * (out_c x {multiplier, rounding, shift}) and the k_h rows.
 *
 * It pays where its loops unroll: one instance, for filters 5 or 6 wide at stride 2 (the paper's
 * first layer is 5x5 at stride 2), any height, on the fast output path; every other layer returns
 * -1 and takes the core's general path (measured on the Cortex-M4: a shared instance with the shape
 * in variables ran slower than the gathering path).
 */
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>

typedef tinyasc_u32_alias u32_alias;
typedef int16_t __attribute__((may_alias)) i16_alias;

#if defined(__GNUC__)
#define TINYASC_UNROLL _Pragma("GCC unroll 8")
#else
#define TINYASC_UNROLL
#endif

typedef struct {
    int32_t kw2;       /* filter pairs per row */
    int32_t row_words; /* words per widened row */
    int32_t rq;        /* word offset of the output constants */
    int32_t rows;      /* word offset of the rows */
} c1_layout_t;

/* The buffer layout of a layer, or 0 when it does not fit in buf_words. */
static int c1_layout(const tinyasc_conv_params *p, c1_layout_t *l, int32_t buf_words)
{
    l->kw2 = (p->k_w + 1) / 2;
    /* int16 a row holds: the last pixel's window plus the odd filter row's zero-weighted tap */
    l->row_words = ((p->out_w - 1) * p->stride_w + 2 * l->kw2 + 1) / 2;
    l->rq = p->out_c * p->k_h * l->kw2;
    l->rows = l->rq + 3 * p->out_c;
    return l->rows + p->k_h * l->row_words <= buf_words;
}

static void c1_widen_filter(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t kw2, u32_alias *wq)
{
    for (int32_t oc = 0; oc < p->out_c; oc++) {
        for (int32_t ky = 0; ky < p->k_h; ky++) {
            const int8_t *f = w->data + (oc * p->k_h + ky) * p->k_w;
            for (int32_t j = 0; j < kw2; j++, wq++) {
                const int32_t lo = f[2 * j], hi = 2 * j + 1 < p->k_w ? f[2 * j + 1] : 0;
                *wq = (uint32_t)(uint16_t)lo | ((uint32_t)(uint16_t)hi << 16);
            }
        }
    }
}

/* The k_h rows output row oy reads, from input x = -pad_w on. */
static void c1_widen_rows(const tinyasc_conv_params *p, const int8_t *in, int32_t oy, int32_t row_words,
                          i16_alias *rows)
{
    const int32_t n = 2 * row_words;
    const int32_t lo = p->pad_w < n ? p->pad_w : n;
    const int32_t hi = p->pad_w + p->in_w < n ? p->pad_w + p->in_w : n;
    const int16_t off = (int16_t)p->input_offset;
    for (int32_t ky = 0; ky < p->k_h; ky++, rows += n) {
        const int32_t y = oy * p->stride_h - p->pad_h + ky * p->dil_h;
        int32_t i = 0;
        if (y >= 0 && y < p->in_h) {
            const int8_t *ir = in + y * p->in_w - p->pad_w;
            for (; i < lo; i++) rows[i] = 0;
            for (; i < hi; i++) rows[i] = (int16_t)(ir[i] + off);
        }
        for (; i < n; i++) rows[i] = 0;
    }
}

/* Two pixels (rows at x and x + sx) x two output channels (filter pairs at q and q + fq):
 * a<pixel><channel>. With constant kw2 and sx the tap loop unrolls and the second pixel's row
 * words are the first's, loaded once. */
static inline __attribute__((always_inline)) void c1_mac(const i16_alias *x, const int32_t sx, const u32_alias *q,
                                                         int32_t fq, const int32_t kh, const int32_t kw2,
                                                         int32_t row_n, int32_t a[4])
{
    for (int32_t ky = 0; ky < kh; ky++, x += row_n, q += kw2) {
        TINYASC_UNROLL
        for (int32_t j = 0; j < kw2; j++) {
            const uint32_t u0 = q[j], u1 = q[fq + j];
            const uint32_t v0 = tinyasc_load_u32(x + 2 * j), v1 = tinyasc_load_u32(x + sx + 2 * j);
            a[0] = __smlad(v0, u0, a[0]);
            a[1] = __smlad(v0, u1, a[1]);
            a[2] = __smlad(v1, u0, a[2]);
            a[3] = __smlad(v1, u1, a[3]);
        }
    }
}

/* Output of channel oc on the fast path, with the channel's tabulated constants. */
static inline __attribute__((always_inline)) int8_t c1_out(const u32_alias *rq, int32_t acc, int32_t oc)
{
    return tinyasc_out_fast(acc, (int32_t)rq[3 * oc], (int32_t)rq[3 * oc + 1], (int32_t)rq[3 * oc + 2]);
}

static inline __attribute__((always_inline)) void c1_body(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                          const int8_t *input, int8_t *output, const c1_layout_t *l,
                                                          u32_alias *buf, const int32_t kw2, const int32_t sx)
{
    const int32_t kh = p->k_h;
    const u32_alias *wq = buf, *rq = buf + l->rq;
    i16_alias *rows = (i16_alias *)(buf + l->rows);
    const int32_t C = p->out_c, fw = kh * kw2, row_n = 2 * l->row_words;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            c1_widen_rows(p, in, oy, l->row_words, rows);
            int8_t *op = output + (b * p->out_h + oy) * p->out_w * C;
            for (int32_t ox = 0; ox < p->out_w; ox += 2, op += 2 * C) {
                /* a lone last pixel reads a second window inside the row buffer and drops it */
                const int two = ox + 1 < p->out_w;
                const i16_alias *x = rows + ox * sx;
                for (int32_t oc = 0; oc < C; oc += 2) {
                    const int pair = oc + 1 < C; /* a lone last channel computes itself twice */
                    const int32_t b0 = w->bias ? w->bias[oc] : 0, b1 = pair && w->bias ? w->bias[oc + 1] : 0;
                    int32_t a[4] = {b0, b1, b0, b1};
                    c1_mac(x, sx, wq + oc * fw, pair ? fw : 0, kh, kw2, row_n, a);
                    op[oc] = c1_out(rq, a[0], oc);
                    if (pair) op[oc + 1] = c1_out(rq, a[1], oc + 1);
                    if (two) {
                        op[C + oc] = c1_out(rq, a[2], oc);
                        if (pair) op[C + oc + 1] = c1_out(rq, a[3], oc + 1);
                    }
                }
            }
        }
    }
}

int tinyasc_conv_c1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                       uint32_t *buf_words, int32_t buf_size)
{
    c1_layout_t l;
    u32_alias *buf = buf_words;
    if (p->in_c != 1 || p->dil_w != 1 || (p->k_w + 1) / 2 != 3 || p->stride_w != 2 || !tinyasc_out_fast_ok(p, w) ||
        !c1_layout(p, &l, buf_size))
        return -1;
    c1_widen_filter(p, w, l.kw2, buf);
    u32_alias *rq = buf + l.rq;
    for (int32_t oc = 0; oc < p->out_c; oc++) {
        int32_t rnd, sh;
        tinyasc_out_fast_consts(p, w, oc, &rnd, &sh);
        rq[3 * oc] = (uint32_t)w->multiplier[oc];
        rq[3 * oc + 1] = (uint32_t)rnd;
        rq[3 * oc + 2] = (uint32_t)sh;
    }
    c1_body(p, w, input, output, &l, buf, 3, 2);
    return 0;
}
#endif /* __ARM_FEATURE_DSP */
