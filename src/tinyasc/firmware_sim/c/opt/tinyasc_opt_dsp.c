/*
 * DSP-extension (SIMD MAC) kernels for Cortex-M4/M7: SMLAD does two 16x16 MACs per
 * instruction. Per output pixel the receptive field is gathered once as int16
 * (x + input_offset; 0 for padding, which contributes exactly what the reference's skip
 * does) in SXTB16 lane order: SXTAB16(off, word) gives inputs 0 and 2 of four bytes,
 * SXTAB16(off, word ROR 8) inputs 1 and 3, which line up with SXTB16 of the weight word
 * and of the weight word ROR 8. The convolution runs two output pixels x two output channels
 * per inner loop (each weight word and each gathered word used twice). A generated library stores the filter rows of
 * such layers padded to whole words and word-interleaved in pairs (tinyasc_conv2d_pairs_s8's layout), so that one
 * LDRD reads both rows' words (conv2x2p_dsp; tinyasc_simd_conv2d_pairs_s8).
 */
#include <stddef.h>
#include <string.h>
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
#include <arm_acle.h>


/* Stored as words, read and written as words: through a may_alias type. */
typedef tinyasc_u32_alias u32_alias;
/* The gathered windows as quads of int16 words in lane order: one window of up to
 * TINYASC_OPT_MAX_K (a quad every 2 words) or two of up to TINYASC_OPT_MAX_K2 interleaved (a
 * quad of each every 4 words: the window of the next output pixel at word offset 2), so that
 * one pointer walks both. A window whose K is not a multiple of 4 ends in a partial quad whose
 * lanes past K are never used: the weights' last quad is zero-extended (load_tail). */
#ifndef TINYASC_OPT_MAX_K2
#define TINYASC_OPT_MAX_K2 (TINYASC_OPT_MAX_K / 2)
#endif
#if TINYASC_OPT_MAX_K2 > TINYASC_OPT_MAX_K / 2
#error "TINYASC_OPT_MAX_K2 (two interleaved windows) must be at most TINYASC_OPT_MAX_K / 2"
#endif
uint32_t tinyasc_gather_words[(TINYASC_OPT_MAX_K + 8) / 2];
/* A window's raw bytes (channel counts not a multiple of 4); a tap outside the input is the
 * input zero point, which gathers to 0. After them the pixel pairs' blocks of pair constants (conv2x2_dsp: words). */
int8_t tinyasc_gather_stage[TINYASC_OPT_MAX_K + 4] __attribute__((aligned(4)));


/* The last n = 1..3 weights of a row as the low bytes of a word (nothing read past the row). */
static inline uint32_t load_tail(const int8_t *p, int32_t n)
{
    uint32_t v = (uint8_t)p[0];
    if (n > 1) v |= (uint32_t)(uint8_t)p[1] << 8;
    if (n > 2) v |= (uint32_t)(uint8_t)p[2] << 16;
    return v;
}

/* Copy n bytes (a window row: a few to a few hundred) without a library call: words, then the last 1-3 bytes as one
 * word ending the row where the row has one, else byte by byte. */
static inline __attribute__((always_inline)) void copy_row(int8_t *dst, const int8_t *src, int32_t n)
{
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint32_t v = tinyasc_load_u32(src + j);
        memcpy(dst + j, &v, 4);
    }
    if (j < n && n >= 4) { /* the last 1-3 bytes as the row's last word, rewriting bytes already copied alike */
        const uint32_t v = tinyasc_load_u32(src + n - 4);
        memcpy(dst + n - 4, &v, 4);
        return;
    }
    for (; j < n; j++) dst[j] = src[j];
}

/* One quad of 4 input bytes u at g in lane order, plus the input offset (both halfwords of off2). */
static inline __attribute__((always_inline)) void put_quad(u32_alias *g, uint32_t off2, uint32_t u)
{
    g[0] = __sxtab16(off2, u);
    g[1] = tinyasc_sxtab16_ror8(off2, u); /* GCC kept __sxtab16(off2, ror8(u))'s ROR apart */
}

/* n > 0 quads from src (word-aligned: LDRD) to g, one every `step` bytes; the g after the last. In asm, two quads a
 * pass (LDRD, four SXTAB16 with the ROR folded in, two STRD): GCC kept a separate ROR and two STR per quad and took
 * 9 instructions a quad where this takes 6.5. The offset pair off2 arrives on the stack. */
static __attribute__((naked, noinline)) u32_alias *gather_quads_dsp(u32_alias *g __attribute__((unused)),
                                                                    const int8_t *src __attribute__((unused)),
                                                                    int32_t n __attribute__((unused)),
                                                                    int32_t step __attribute__((unused)),
                                                                    uint32_t off2 __attribute__((unused)))
{
    __asm__ volatile(
        "push    {r4-r7, lr}\n\t"
        "ldr     r12, [sp, #20]\n\t"          /* off2 */
        "subs    r2, r2, #2\n\t"
        "blt     2f\n\t"
        "1:\n\t"
        "ldrd    r4, r5, [r1], #8\n\t"
        "sxtab16 r6, r12, r4\n\t"
        "sxtab16 r7, r12, r4, ror #8\n\t"
        "strd    r6, r7, [r0]\n\t"
        "add     r0, r0, r3\n\t"
        "sxtab16 r6, r12, r5\n\t"
        "sxtab16 r7, r12, r5, ror #8\n\t"
        "strd    r6, r7, [r0]\n\t"
        "add     r0, r0, r3\n\t"
        "subs    r2, r2, #2\n\t"
        "bge     1b\n\t"
        "2:\n\t"
        "adds    r2, r2, #2\n\t"              /* 0 or 1 quad left */
        "beq     3f\n\t"
        "ldr     r4, [r1]\n\t"
        "sxtab16 r6, r12, r4\n\t"
        "sxtab16 r7, r12, r4, ror #8\n\t"
        "strd    r6, r7, [r0]\n\t"
        "add     r0, r0, r3\n\t"
        "3:\n\t"
        "pop     {r4-r7, pc}\n\t");
}

/* Two one-pixel windows of C bytes each (C a multiple of 4; src0, src1 word-aligned) interleaved into g as gather
 * writes two windows (a quad of each every 4 words): per eight k both pixels' words by one LDRD each, eight SXTAB16,
 * two STM (an odd quad first where C / 4 is odd). The offset pair off2 arrives on the stack. GP_QUAD: the quads of
 * the first pixel's word W0 and the second's W1 (r6 or r8, r7 or r9) stored at r0. */
#define GP_QUAD(W0, W1)                                                                                           \
        "sxtab16 r4, r12, " W0 "\n\t"                                                                             \
        "sxtab16 r5, r12, " W0 ", ror #8\n\t"                                                                     \
        "sxtab16 r6, r12, " W1 "\n\t"                                                                             \
        "sxtab16 r7, r12, " W1 ", ror #8\n\t"                                                                     \
        "stmia   r0!, {r4-r7}\n\t"
static __attribute__((naked, noinline)) void gather_pair_dsp(u32_alias *g __attribute__((unused)),
                                                             const int8_t *src0 __attribute__((unused)),
                                                             const int8_t *src1 __attribute__((unused)),
                                                             int32_t C __attribute__((unused)),
                                                             uint32_t off2 __attribute__((unused)))
{
    __asm__ volatile(
        "push    {r4-r9, lr}\n\t"
        "ldr     r12, [sp, #28]\n\t"          /* off2 */
        "tst     r3, #4\n\t"
        "beq     1f\n\t"
        "ldr     r6, [r1], #4\n\t"
        "ldr     r7, [r2], #4\n\t"
        GP_QUAD("r6", "r7")
        "subs    r3, r3, #4\n\t"
        "beq     2f\n\t"
        "1:\n\t"
        "ldrd    r6, r8, [r1], #8\n\t"        /* the first pixel's eight bytes */
        "ldrd    r7, r9, [r2], #8\n\t"        /* the second's */
        GP_QUAD("r6", "r7")
        GP_QUAD("r8", "r9")
        "subs    r3, r3, #8\n\t"
        "bne     1b\n\t"
        "2:\n\t"
        "pop     {r4-r9, pc}\n\t");
}
#undef GP_QUAD

/* The input offset in both halfwords: the addend of SXTAB16. */
static inline uint32_t offset_pair(const tinyasc_conv_params *p)
{
    return ((uint32_t)(uint16_t)p->input_offset << 16) | (uint16_t)p->input_offset;
}

/* Gather one window into quads of 4 consecutive k in lane order (k, k+2 | k+1, k+3), one quad
 * every `stride` words from dst: SXTAB16(off, word) gives inputs k and k+2 plus the offset,
 * SXTAB16(off, word ROR 8) inputs k+1 and k+3. */
static __attribute__((noinline)) void gather_window(const tinyasc_conv_params *p, const int8_t *in, int32_t y0,
                                                    int32_t x0, u32_alias *g, int32_t stride)
{
    const int32_t C = p->in_c;
    const uint32_t off2 = offset_pair(p);
    if ((C & 3) == 0) { /* whole quads straight from the input */
        for (int32_t ky = 0; ky < p->k_h; ky++) {
            const int32_t y = y0 + ky * p->dil_h;
            for (int32_t kx = 0; kx < p->k_w; kx++) {
                const int32_t x = x0 + kx * p->dil_w;
                if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w) {
                    const int8_t *ip = in + (y * p->in_w + x) * C;
                    for (int32_t c = 0; c < C; c += 4, g += stride) put_quad(g, off2, tinyasc_load_u32(ip + c));
                } else {
                    for (int32_t c = 0; c < C; c += 4, g += stride) g[0] = g[1] = 0u;
                }
            }
        }
        return;
    }
    /* any channel count (e.g. the 1-channel first layer): the window's bytes staged (taps outside
     * the input as the input zero point), then quads; the last may read up to 3 stale bytes */
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t kwC = p->k_w * C, K = p->k_h * kwC;
    int8_t *s = tinyasc_gather_stage;
    if (p->dil_w == 1 && x0 >= 0 && x0 + p->k_w <= p->in_w) { /* rows of the window are contiguous */
        for (int32_t ky = 0; ky < p->k_h; ky++, s += kwC) {
            const int32_t y = y0 + ky * p->dil_h;
            if (y >= 0 && y < p->in_h) copy_row(s, in + (y * p->in_w + x0) * C, kwC);
            else memset(s, zp, (size_t)kwC);
        }
    } else {
        for (int32_t ky = 0; ky < p->k_h; ky++) {
            const int32_t y = y0 + ky * p->dil_h;
            for (int32_t kx = 0; kx < p->k_w; kx++, s += C) {
                const int32_t x = x0 + kx * p->dil_w;
                if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w) copy_row(s, in + (y * p->in_w + x) * C, C);
                else memset(s, zp, (size_t)C);
            }
        }
    }
    for (int32_t k = 0; k < K; k += 4, g += stride) put_quad(g, off2, tinyasc_load_u32(tinyasc_gather_stage + k));
}

/* Whether gather_rows may take the layer's windows (those wholly inside the input along x): rows of k_w C contiguous
 * bytes (dil_w 1, C a multiple of 4, the input word-aligned) of 32 bytes or more (shorter runs, e.g. a 1x1 layer's 8
 * or 16 channels, cost more in the call than it saves). Decided once per layer. */
static inline int gather_rows_ok(const tinyasc_conv_params *p, const int8_t *input)
{
    return (p->in_c & 3) == 0 && p->dil_w == 1 && p->k_w * p->in_c >= 32 && ((uintptr_t)input & 3u) == 0u;
}

/* gather_window for a window wholly inside the input along x of a layer gather_rows_ok takes: each row inside the
 * input one gather_quads_dsp call, a row outside zeros. */
static __attribute__((noinline)) void gather_rows(const tinyasc_conv_params *p, const int8_t *in, int32_t y0,
                                                  int32_t x0, u32_alias *g, int32_t stride)
{
    const int32_t C = p->in_c, run = p->k_w * C;
    const uint32_t off2 = offset_pair(p);
    for (int32_t ky = 0; ky < p->k_h; ky++) {
        const int32_t y = y0 + ky * p->dil_h;
        if (y >= 0 && y < p->in_h) {
            g = gather_quads_dsp(g, in + (y * p->in_w + x0) * C, run >> 2, 4 * stride, off2);
        } else {
            for (int32_t c = 0; c < run; c += 4, g += stride) g[0] = g[1] = 0u;
        }
    }
}

/* Two windows of a layer gather_staged_ok takes, both wholly inside the input (src0, src1: their first rows), into g
 * as gather writes two windows (a quad of each every 4 words): each window's k_h rows of R bytes (`pitch` bytes apart
 * in the input) copied end to end into the stage (words by LDR / STR at any alignment, the last R mod 4 bytes one by
 * one), the second window K4 bytes after the first (K4 = k_h R rounded up to whole words; the stale bytes after K meet
 * zero weights), then per quad both windows' words, four SXTAB16, one STM. Arguments after the fourth on the stack:
 * R, pitch, off2, the stage. */
static __attribute__((naked, noinline)) void gather_pair_staged_dsp(u32_alias *g __attribute__((unused)),
                                                                    const int8_t *src0 __attribute__((unused)),
                                                                    const int8_t *src1 __attribute__((unused)),
                                                                    int32_t k_h __attribute__((unused)),
                                                                    int32_t R __attribute__((unused)),
                                                                    int32_t pitch __attribute__((unused)),
                                                                    uint32_t off2 __attribute__((unused)),
                                                                    int8_t *stage __attribute__((unused)))
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "ldr     r10, [sp, #36]\n\t"         /* R */
        "ldr     r11, [sp, #40]\n\t"         /* pitch */
        "ldr     r8, [sp, #48]\n\t"          /* the stage */
        "mov     r9, r8\n\t"                 /* where the rows go */
        "mov     r6, r1\n\t"                 /* the window's row */
        "mul     r1, r3, r10\n\t"
        "add     r1, r1, #3\n\t"
        "bic     r1, r1, #3\n\t"             /* K4 */
        "mov     r7, #2\n\t"                 /* windows */
        "1:\n\t"                             /* a window */
        "mov     r12, r3\n\t"                /* rows */
        "2:\n\t"                             /* a row */
        "mov     r4, r6\n\t"
        "lsrs    lr, r10, #2\n\t"
        "beq     4f\n\t"
        "3:\n\t"
        "ldr     r5, [r4], #4\n\t"
        "str     r5, [r9], #4\n\t"
        "subs    lr, lr, #1\n\t"
        "bne     3b\n\t"
        "4:\n\t"
        "ands    lr, r10, #3\n\t"
        "beq     6f\n\t"
        "5:\n\t"
        "ldrb    r5, [r4], #1\n\t"
        "strb    r5, [r9], #1\n\t"
        "subs    lr, lr, #1\n\t"
        "bne     5b\n\t"
        "6:\n\t"
        "add     r6, r6, r11\n\t"
        "subs    r12, r12, #1\n\t"
        "bne     2b\n\t"
        "add     r9, r8, r1\n\t"             /* the second window K4 bytes on */
        "mov     r6, r2\n\t"
        "subs    r7, r7, #1\n\t"
        "bne     1b\n\t"
        "ldr     r12, [sp, #44]\n\t"         /* off2 */
        "lsr     r3, r1, #2\n\t"             /* quads */
        "7:\n\t"
        "ldr     r5, [r8, r1]\n\t"           /* the second window's word */
        "ldr     r4, [r8], #4\n\t"           /* the first's */
        "sxtab16 r6, r12, r5\n\t"
        "sxtab16 r7, r12, r5, ror #8\n\t"
        "sxtab16 r5, r12, r4, ror #8\n\t"
        "sxtab16 r4, r12, r4\n\t"
        "stmia   r0!, {r4-r7}\n\t"
        "subs    r3, r3, #1\n\t"
        "bne     7b\n\t"
        "pop     {r4-r11, pc}\n\t");
}

/* Whether gather_pair_staged_dsp may take the layer's pixel pairs whose windows lie inside the input: channels not a
 * multiple of 4 (a first layer's 1 or 3) in window rows of k_w C contiguous bytes (dil_w 1), two windows rounded up
 * to whole words in the stage. Decided once per layer. */
static inline int gather_staged_ok(const tinyasc_conv_params *p)
{
    return (p->in_c & 3) != 0 && p->dil_w == 1 &&
           2 * ((p->k_h * p->k_w * p->in_c + 3) & ~3) <= (int32_t)sizeof(tinyasc_gather_stage);
}

/* Whether the window at (y0, x0) lies wholly inside the input (dil_w 1). */
static inline __attribute__((always_inline)) int window_inside(const tinyasc_conv_params *p, int32_t y0, int32_t x0)
{
    return x0 >= 0 && x0 + p->k_w <= p->in_w && y0 >= 0 && y0 + (p->k_h - 1) * p->dil_h < p->in_h;
}

/* How a layer's windows are gathered, decided once per layer. */
enum { GATHER_WINDOW, GATHER_ROWS, GATHER_STAGED };

/* One window's quads: gather_rows where the layer's rows allow it (GATHER_ROWS: gather_rows_ok) and the window lies
 * inside the input along x, else gather_window. */
static inline __attribute__((always_inline)) void gather(const tinyasc_conv_params *p, const int8_t *in, int32_t y0,
                                                         int32_t x0, u32_alias *g, int32_t stride, int mode)
{
    if (mode == GATHER_ROWS && x0 >= 0 && x0 + p->k_w <= p->in_w)
        gather_rows(p, in, y0, x0, g, stride);
    else
        gather_window(p, in, y0, x0, g, stride);
}

/* The fast output path's rounding constants (output zero point folded in) of a block of up to
 * TINYASC_OPT_RQ_C output channels, computed once per block instead of once per output. */
#ifndef TINYASC_OPT_RQ_C
#define TINYASC_OPT_RQ_C 64
#endif
static int32_t out_rnd[TINYASC_OPT_RQ_C];

/* Output of channel oc of the block starting at oc0: the layer's fast path (tinyasc_out_fast_ok),
 * with the block's tabulated rounding constant, or the general one. */
static inline __attribute__((always_inline)) int8_t pixel_out(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                              int32_t acc, int32_t oc, int32_t oc0, int fast)
{
    if (fast) return tinyasc_out_fast(acc, w->multiplier[oc], out_rnd[oc - oc0], tinyasc_rq_sh(w->shift[oc]));
    return tinyasc_opt_out(p, w, acc, oc);
}

/* Weight words (4 int8 of one output channel each) against gathered quads: the word's SXTB16
 * lanes are computed once and used for every window. Windows are g[0..1] and, for two, g[2..3]. */
static inline __attribute__((always_inline)) void mac_1x1(int32_t *a, uint32_t u, const u32_alias *g)
{
    *a = __smlad(tinyasc_sxtb16_ror8(u), g[1], __smlad(__sxtb16(u), g[0], *a));
}

static inline __attribute__((always_inline)) void mac_2x1(int32_t *a0, int32_t *a1, uint32_t u0, uint32_t u1,
                                                          const u32_alias *g)
{
    mac_1x1(a0, u0, g);
    mac_1x1(a1, u1, g);
}

/* a<window><channel>: one channel's word against two windows */
static inline __attribute__((always_inline)) void mac_1x2(int32_t *a0, int32_t *a1, uint32_t u, const u32_alias *g)
{
    const uint32_t s = __sxtb16(u), r = tinyasc_sxtb16_ror8(u);
    *a0 = __smlad(r, g[1], __smlad(s, g[0], *a0));
    *a1 = __smlad(r, g[3], __smlad(s, g[2], *a1));
}

static inline __attribute__((always_inline)) void mac_2x2(int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11,
                                                          uint32_t u0, uint32_t u1, const u32_alias *g)
{
    mac_1x2(a00, a10, u0, g);
    mac_1x2(a01, a11, u1, g);
}

/* One output pixel from one gathered window (a quad every 2 words): two output channels per pass. `wpairs`: the
 * rows padded to whole words (kr = K4 bytes, no tail: the padding's zero weights meet the last quad's stale lanes) in
 * word-interleaved pairs (tinyasc_conv2d_pairs_s8's layout): a pair's words alternate. */
static inline __attribute__((always_inline)) void conv_pixel1(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                              int32_t K, int8_t *op, int32_t oc0, int32_t oc1, int fast,
                                                              int wpairs)
{
    const int32_t kr = wpairs ? (K + 3) & ~3 : K, tail = wpairs ? 0 : K & 3, step = wpairs ? 8 : 4;
    int32_t oc = oc0;
    for (; oc + 1 < oc1; oc += 2) {
        const int8_t *w0 = w->data + oc * kr, *w1 = wpairs ? w0 + 4 : w0 + K;
        const int8_t *const end = w0 + (wpairs ? 2 * kr : K - tail);
        int32_t a0 = w->bias ? w->bias[oc] : 0, a1 = w->bias ? w->bias[oc + 1] : 0;
        const u32_alias *g = tinyasc_gather_words;
        for (; w0 < end; w0 += step, w1 += step, g += 2)
            mac_2x1(&a0, &a1, tinyasc_load_u32(w0), tinyasc_load_u32(w1), g);
        if (tail) mac_2x1(&a0, &a1, load_tail(w0, tail), load_tail(w1, tail), g);
        op[oc] = pixel_out(p, w, a0, oc, oc0, fast);
        op[oc + 1] = pixel_out(p, w, a1, oc + 1, oc0, fast);
    }
    for (; oc < oc1; oc++) {
        const int8_t *w0 = w->data + oc * kr;
        const int8_t *const end = w0 + (kr - tail);
        int32_t a0 = w->bias ? w->bias[oc] : 0;
        const u32_alias *g = tinyasc_gather_words;
        for (; w0 < end; w0 += 4, g += 2) mac_1x1(&a0, tinyasc_load_u32(w0), g);
        if (tail) mac_1x1(&a0, load_tail(w0, tail), g);
        op[oc] = pixel_out(p, w, a0, oc, oc0, fast);
    }
}

#if defined(__thumb2__)
/* Two interleaved windows x every pair of output channels in asm (conv2x2_dsp), on the fast output path with K a
 * multiple of 4: per four k one LDM of both windows' quads, then each row's word (one pointer, the second row K bytes
 * further), SXTB16 of it and of it rotated by 8 and four SMLAD (21 cycles per 16 MACs on the M4's model, sixteen k a
 * turn); the four outputs from the registers, each sum doubled by an ADD and taken through tinyasc_rq_dbl_apply
 * (SMMLAR, SUB of the sign, ASR; then SSAT: six instructions an output with its store, where the fast output path's
 * AND, ORR, ADD, SMLAL, ASR, SSAT took seven; conv2x2_cst's bound). The pair's constants are one block of eight
 * words made once per layer (conv2x2_cst: the two biases, then per channel rnd2, r, m in the order one LDM takes
 * them), the weight and window pointers and K stay in registers from pair to pair (the rows are consecutive; the
 * windows are the same for every pair). Offsets below are those of conv2x2. */
typedef struct {
    const int8_t *w0;       /* 0: the first pair's first row */
    int32_t K;              /* 4: a multiple of 4 */
    const u32_alias *g;     /* 8: the interleaved windows */
    int8_t *op;             /* 12: the first window's output of the first pair's first channel */
    int32_t op1;            /* 16: bytes from the first window's outputs to the second's */
    int32_t pairs;          /* 20: pairs of channels */
    const int32_t *cst;     /* 24: the pairs' blocks of constants (CONV2X2_CST words each) */
    int32_t op2;            /* 28: conv3x2p_dsp: bytes from the first window's outputs to the third's */
} conv2x2;
typedef char conv2x2_is_the_asm_layout[(offsetof(conv2x2, w0) == 0 && offsetof(conv2x2, K) == 4 &&
                                        offsetof(conv2x2, g) == 8 && offsetof(conv2x2, op) == 12 &&
                                        offsetof(conv2x2, op1) == 16 && offsetof(conv2x2, pairs) == 20 &&
                                        offsetof(conv2x2, cst) == 24 && offsetof(conv2x2, op2) == 28) ? 1 : -1];
enum { CONV2X2_CST = 8 }; /* bias0, bias1, rnd2_0, r0, m0, rnd2_1, r1, m1 */

/* A pair's block: biases (0 without), and per channel tinyasc_rq_dbl_apply's rnd2 (the output zero point folded in),
 * r and the multiplier; whether both sums stay under 2^30 in magnitude, so that their doubles fit int32
 * (tinyasc_rq_dbl_apply's condition): biases inside +-room, room = 2^30 - K 255 128 (K products of an input with its
 * offset, at most 255, and a weight, at most 128). */
static inline __attribute__((always_inline)) int conv2x2_cst(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                              int32_t oc, int32_t room, int32_t *b)
{
    int ok = room > 0;
    for (int32_t l = 0; l < 2; l++) {
        b[l] = w->bias ? w->bias[oc + l] : 0;
        ok &= b[l] < room && b[l] > -room;
        tinyasc_rq_relu_consts(w->shift[oc + l], p->output_offset, &b[2 + 3 * l], &b[3 + 3 * l]);
        b[4 + 3 * l] = w->multiplier[oc + l];
    }
    return ok;
}

/* Every pair's block for output channels oc0 .. oc0 + 2 pairs - 1 of K taps, one after another from b; whether all
 * of them fit conv2x2_cst's bound. */
static __attribute__((noinline)) int conv2x2_blocks(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t oc0,
                                                   int32_t pairs, int32_t K, int32_t *b)
{
    const int32_t room = (1 << 30) - K * 255 * 128;
    int ok = 1;
    for (int32_t i = 0; i < pairs; i++) ok &= conv2x2_cst(p, w, oc0 + 2 * i, room, b + CONV2X2_CST * i);
    return ok;
}

/* four k: both windows' quads in one LDM, then each row's word against them (its SXTB16 lanes in r10, lr): rows K
 * bytes apart (the second at register offset r12 = K) */
#define C2_QUAD                                                                                                   \
        "ldm     r2!, {r0, r1, r4, r5}\n\t"  /* the first window's quad, the second's */                        \
        "ldr     r10, [r3, r12]\n\t"         /* the second row's word */                                        \
        "sxtb16  lr, r10, ror #8\n\t"                                                                           \
        "sxtb16  r10, r10\n\t"                                                                                  \
        "smlad   r7, r10, r0, r7\n\t"                                                                           \
        "smlad   r7, lr, r1, r7\n\t"                                                                            \
        "smlad   r9, r10, r4, r9\n\t"                                                                           \
        "smlad   r9, lr, r5, r9\n\t"                                                                            \
        "ldr     r10, [r3], #4\n\t"          /* the first row's */                                              \
        "sxtb16  lr, r10, ror #8\n\t"                                                                           \
        "sxtb16  r10, r10\n\t"                                                                                  \
        "smlad   r6, r10, r0, r6\n\t"                                                                           \
        "smlad   r6, lr, r1, r6\n\t"                                                                            \
        "smlad   r8, r10, r4, r8\n\t"                                                                           \
        "smlad   r8, lr, r5, r8\n\t"
/* ... or the rows in word-interleaved pairs: both rows' words in one LDRD (r10 the first's, lr the second's; r12 a
 * row's odd lanes), 19 cycles per 16 MACs instead of 21 */
#define C2P_QUAD                                                                                                  \
        "ldm     r2!, {r0, r1, r4, r5}\n\t"                                                                     \
        "ldrd    r10, lr, [r3], #8\n\t"                                                                         \
        "sxtb16  r12, lr, ror #8\n\t"                                                                           \
        "sxtb16  lr, lr\n\t"                                                                                    \
        "smlad   r7, lr, r0, r7\n\t"                                                                            \
        "smlad   r7, r12, r1, r7\n\t"                                                                           \
        "smlad   r9, lr, r4, r9\n\t"                                                                            \
        "smlad   r9, r12, r5, r9\n\t"                                                                           \
        "sxtb16  r12, r10, ror #8\n\t"                                                                          \
        "sxtb16  r10, r10\n\t"                                                                                  \
        "smlad   r6, r10, r0, r6\n\t"                                                                           \
        "smlad   r6, r12, r1, r6\n\t"                                                                           \
        "smlad   r8, r10, r4, r8\n\t"                                                                           \
        "smlad   r8, r12, r5, r8\n\t"
/* tinyasc_rq_dbl_apply of twice acc with rnd2 in r1, r in r10, m in r11, saturated and stored at dst (r2 scratch) */
#define C2_OUT(acc, dst)                                                                                          \
        "add     r2, " acc ", " acc "\n\t"                                                                        \
        TINYASC_ASM_DBL_OUT("r2", acc, "r2", "r11", "r1", "r10", dst)
/* The k loop of a pair of channels with QUAD, K in r12 (K_LOAD reloads it where QUAD takes r12 as scratch), ending at
 * label 3: eight k a turn, an odd quad first (C2_K8) ... or sixteen k a turn, the quads past them one a turn first
 * (C2_K16: three cycles fewer a turn of sixteen k on the M4's model and one or two more for the quads before, so for
 * rows of 64 or more; conv2x2p_call) */
#define C2_K8(QUAD)                                                                                             \
        "lsr     r11, r12, #3\n\t"                                                                              \
        "tst     r12, #4\n\t"                                                                                   \
        "beq     1f\n\t"                                                                                        \
        QUAD                                                                                                    \
        "cmp     r11, #0\n\t"                                                                                   \
        "beq     3f\n\t"                                                                                        \
        "1:\n\t"                                                                                                \
        QUAD                                                                                                    \
        QUAD                                                                                                    \
        "subs    r11, r11, #1\n\t"                                                                              \
        "bne     1b\n\t"
#define C2_K16(QUAD, K_LOAD)                                                                                    \
        "ands    r11, r12, #12\n\t"                                                                             \
        "beq     4f\n\t"                                                                                        \
        "5:\n\t"                                                                                                \
        QUAD                                                                                                    \
        "subs    r11, r11, #4\n\t"                                                                              \
        "bne     5b\n\t"                                                                                        \
        "4:\n\t"                                                                                                \
        K_LOAD                                                                                                  \
        "lsrs    r11, r12, #4\n\t"                                                                              \
        "beq     3f\n\t"                                                                                        \
        "1:\n\t"                                                                                                \
        QUAD                                                                                                    \
        QUAD                                                                                                    \
        QUAD                                                                                                    \
        QUAD                                                                                                    \
        "subs    r11, r11, #1\n\t"                                                                              \
        "bne     1b\n\t"
/* The pass over the pairs of channels with K_LOOP; K_LOAD puts K in r12 for the pair's loop count (the pairs' quad
 * takes r12 as scratch: K from the frame), NEXT_PAIR steps r3 from the end of the first row to the next pair's. */
#define CONV2X2_BODY(K_LOOP, K_LOAD, NEXT_PAIR)                                                                   \
        "push    {r4-r11, lr}\n\t"                                                                              \
        "sub     sp, sp, #24\n\t"            /* [sp]: cst, [sp, #4]: op, [sp, #8]: op1, [sp, #12]: pairs left, */ \
        "ldr     r1, [r0, #24]\n\t"          /* [sp, #16]: g, [sp, #20]: K */                                   \
        "ldr     r2, [r0, #12]\n\t"                                                                             \
        "ldr     r3, [r0, #16]\n\t"                                                                             \
        "str     r1, [sp]\n\t"                                                                                  \
        "strd    r2, r3, [sp, #4]\n\t"                                                                          \
        "ldr     r1, [r0, #20]\n\t"                                                                             \
        "ldr     r2, [r0, #8]\n\t"                                                                              \
        "strd    r1, r2, [sp, #12]\n\t"                                                                         \
        "ldr     r3, [r0, #0]\n\t"           /* the rows */                                                     \
        "ldr     r12, [r0, #4]\n\t"          /* K */                                                            \
        "str     r12, [sp, #20]\n\t"                                                                            \
        "2:\n\t"                             /* a pair of channels */                                           \
        "ldr     r0, [sp]\n\t"                                                                                  \
        "ldm     r0!, {r6, r7}\n\t"          /* biases: r6 = a00, r7 = a01, r8 = a10, r9 = a11 (a<window><channel>) */ \
        "str     r0, [sp]\n\t"                                                                                  \
        "mov     r8, r6\n\t"                                                                                    \
        "mov     r9, r7\n\t"                                                                                    \
        K_LOAD                                                                                                  \
        K_LOOP                                                                                                  \
        "3:\n\t"                                                                                                \
        NEXT_PAIR                                                                                               \
        "ldr     r0, [sp]\n\t"                                                                                  \
        "ldrd    r4, r5, [sp, #4]\n\t"      /* op, op1 */                                                       \
        "ldm     r0!, {r1, r10, r11}\n\t"   /* the first channel's rnd2, r, m */                                \
        C2_OUT("r6", "[r4]")                                                                                    \
        C2_OUT("r8", "[r4, r5]")                                                                                \
        "add     r4, r4, #1\n\t"                                                                                \
        "ldm     r0!, {r1, r10, r11}\n\t"   /* the second's */                                                  \
        C2_OUT("r7", "[r4]")                                                                                    \
        C2_OUT("r9", "[r4, r5]")                                                                                \
        "add     r4, r4, #1\n\t"                                                                                \
        "str     r0, [sp]\n\t"                                                                                  \
        "str     r4, [sp, #4]\n\t"                                                                              \
        "ldrd    r0, r2, [sp, #12]\n\t"     /* pairs left, g */                                                 \
        "subs    r0, r0, #1\n\t"                                                                                \
        "str     r0, [sp, #12]\n\t"                                                                             \
        "bne     2b\n\t"                                                                                        \
        "add     sp, sp, #24\n\t"                                                                               \
        "pop     {r4-r11, pc}\n\t"

static __attribute__((naked, noinline)) void conv2x2_dsp(const conv2x2 *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(CONV2X2_BODY(C2_K8(C2_QUAD), "", "add     r3, r3, r12\n\t"));
}

/* The same over rows in word-interleaved pairs (tinyasc_conv2d_pairs_s8's layout): a pair's words are consecutive. */
static __attribute__((naked, noinline)) void conv2x2p_dsp(const conv2x2 *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(CONV2X2_BODY(C2_K8(C2P_QUAD), "ldr     r12, [sp, #20]\n\t", ""));
}

/* ... sixteen k a turn */
static __attribute__((naked, noinline)) void conv2x2p16_dsp(const conv2x2 *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(CONV2X2_BODY(C2_K16(C2P_QUAD, "ldr     r12, [sp, #20]\n\t"), "ldr     r12, [sp, #20]\n\t", ""));
}

/* conv2x2p_dsp, or for rows of 64 or more conv2x2p16_dsp */
static inline __attribute__((always_inline)) void conv2x2p_call(const conv2x2 *q)
{
    if (q->K >= 64) conv2x2p16_dsp(q);
    else conv2x2p_dsp(q);
}

/* Three interleaved windows x every pair of output channels over rows in word-interleaved pairs (conv3x2p_dsp): per
 * four k one LDRD of the pair's words, four SXTB16 into four registers, then per window one LDRD of its quad and four
 * SMLAD (24 cycles per 24 MACs on the M4's model against 19 per 16 for two windows: the widened weights serve three
 * windows). Six sums, four weights, the quad's two words and both pointers take every register: the k loop ends
 * when the rows' pointer reaches the pair's end, kept in the frame. The windows are interleaved as gather writes
 * three (a quad of each every 6 words: the second window at word offset 2, the third at 4); the outputs as
 * conv2x2p_dsp's (six an output), the third window's op2 bytes after the first's. K a multiple of 8. Frame: [sp]
 * cst, 4 op, 8 op1, 12 pairs left, 16 g, 20 a pair's row bytes (2 K), 24 op2, 28 the pair's end. */
#define C3_QUAD                                                                                                   \
        "ldrd    r0, r1, [r3], #8\n\t"       /* the pair's words: the first row's, the second's */              \
        "sxtb16  r10, r0\n\t"                                                                                   \
        "sxtb16  r11, r0, ror #8\n\t"                                                                           \
        "sxtb16  r12, r1\n\t"                                                                                   \
        "sxtb16  lr, r1, ror #8\n\t"                                                                            \
        "ldrd    r0, r1, [r2], #8\n\t"       /* the first window's quad */                                      \
        "smlad   r4, r10, r0, r4\n\t"                                                                           \
        "smlad   r4, r11, r1, r4\n\t"                                                                           \
        "smlad   r5, r12, r0, r5\n\t"                                                                           \
        "smlad   r5, lr, r1, r5\n\t"                                                                            \
        "ldrd    r0, r1, [r2], #8\n\t"       /* the second's */                                                 \
        "smlad   r6, r10, r0, r6\n\t"                                                                           \
        "smlad   r6, r11, r1, r6\n\t"                                                                           \
        "smlad   r7, r12, r0, r7\n\t"                                                                           \
        "smlad   r7, lr, r1, r7\n\t"                                                                            \
        "ldrd    r0, r1, [r2], #8\n\t"       /* the third's */                                                  \
        "smlad   r8, r10, r0, r8\n\t"                                                                           \
        "smlad   r8, r11, r1, r8\n\t"                                                                           \
        "smlad   r9, r12, r0, r9\n\t"                                                                           \
        "smlad   r9, lr, r1, r9\n\t"
#define C3_END                                                                                                    \
        "ldr     r0, [sp, #28]\n\t"                                                                             \
        "cmp     r3, r0\n\t"                                                                                    \
        "bne     1b\n\t"
/* sixteen k a turn; where K / 4 leaves two quads past whole turns (K mod 16 = 8: 2 K mod 32 = 16, r0 holds 2 K) the
 * first turn enters halfway */
#define C3_KLOOP                                                                                                  \
        "tst     r0, #16\n\t"                                                                                  \
        "add     r0, r3, r0\n\t"                                                                               \
        "str     r0, [sp, #28]\n\t"                                                                            \
        "bne     5f\n\t"                                                                                       \
        "1:\n\t"                                                                                               \
        C3_QUAD                                                                                                 \
        C3_QUAD                                                                                                 \
        "5:\n\t"                                                                                               \
        C3_QUAD                                                                                                 \
        C3_QUAD                                                                                                 \
        C3_END
/* tinyasc_rq_dbl_apply of twice acc with rnd2 in r10, r in r11, m in lr, saturated and stored at dst (r3 scratch) */
#define C3_OUT(acc, dst)                                                                                          \
        "add     r3, " acc ", " acc "\n\t"                                                                        \
        TINYASC_ASM_DBL_OUT("r3", acc, "r3", "lr", "r10", "r11", dst)
#define CONV3X2_BODY                                                                                      \
        "push    {r4-r11, lr}\n\t"                                                                              \
        "sub     sp, sp, #32\n\t"                                                                               \
        "ldr     r1, [r0, #24]\n\t"          /* cst */                                                          \
        "str     r1, [sp]\n\t"                                                                                  \
        "ldrd    r2, r3, [r0, #12]\n\t"      /* op, op1 */                                                      \
        "strd    r2, r3, [sp, #4]\n\t"                                                                          \
        "ldr     r1, [r0, #20]\n\t"          /* pairs */                                                        \
        "ldr     r2, [r0, #8]\n\t"           /* g */                                                            \
        "strd    r1, r2, [sp, #12]\n\t"                                                                         \
        "ldr     r1, [r0, #4]\n\t"           /* K */                                                            \
        "lsl     r1, r1, #1\n\t"                                                                                \
        "ldr     r2, [r0, #28]\n\t"          /* op2 */                                                          \
        "strd    r1, r2, [sp, #20]\n\t"                                                                         \
        "ldr     r3, [r0, #0]\n\t"           /* the rows */                                                     \
        "2:\n\t"                             /* a pair of channels */                                           \
        "ldr     r0, [sp]\n\t"                                                                                  \
        "ldm     r0!, {r4, r5}\n\t"          /* biases: r4, r6, r8 the first channel's sums, r5, r7, r9 the second's */ \
        "str     r0, [sp]\n\t"                                                                                  \
        "mov     r6, r4\n\t"                                                                                    \
        "mov     r7, r5\n\t"                                                                                    \
        "mov     r8, r4\n\t"                                                                                    \
        "mov     r9, r5\n\t"                                                                                    \
        "ldrd    r2, r0, [sp, #16]\n\t"      /* g, the rows' bytes */                                           \
        C3_KLOOP                                                                                                \
        "ldr     r0, [sp]\n\t"                                                                                  \
        "ldrd    r1, r2, [sp, #4]\n\t"       /* op, op1 */                                                      \
        "ldr     r12, [sp, #24]\n\t"         /* op2 */                                                          \
        "ldm     r0!, {r10, r11, lr}\n\t"    /* the first channel's rnd2, r, m */                               \
        C3_OUT("r4", "[r1]")                                                                                    \
        C3_OUT("r6", "[r1, r2]")                                                                                \
        C3_OUT("r8", "[r1, r12]")                                                                               \
        "add     r1, r1, #1\n\t"                                                                                \
        "ldm     r0!, {r10, r11, lr}\n\t"    /* the second's */                                                 \
        C3_OUT("r5", "[r1]")                                                                                    \
        C3_OUT("r7", "[r1, r2]")                                                                                \
        C3_OUT("r9", "[r1, r12]")                                                                               \
        "add     r1, r1, #1\n\t"                                                                                \
        "str     r0, [sp]\n\t"                                                                                  \
        "str     r1, [sp, #4]\n\t"                                                                              \
        "ldr     r3, [sp, #28]\n\t"          /* the next pair's rows */                                         \
        "ldr     r0, [sp, #12]\n\t"                                                                             \
        "subs    r0, r0, #1\n\t"                                                                                \
        "str     r0, [sp, #12]\n\t"                                                                             \
        "bne     2b\n\t"                                                                                        \
        "add     sp, sp, #32\n\t"                                                                               \
        "pop     {r4-r11, pc}\n\t"
static __attribute__((naked, noinline)) void conv3x2p_dsp(const conv2x2 *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(CONV3X2_BODY);
}
#undef CONV3X2_BODY
#undef C3_OUT
#undef C3_KLOOP
#undef C3_END
#undef C3_QUAD

/* Whether three interleaved windows of K taps (rows in pairs) take conv3x2p_dsp: K a multiple of 8, the three in the
 * window buffer. */
static inline int triples_ok(int32_t K)
{
    return (K & 7) == 0 && K > 0 && 3 * (K / 2) <= (int32_t)(sizeof(tinyasc_gather_words) / 4);
}

#undef CONV2X2_BODY
#undef C2_K16
#undef C2_K8
#undef C2_OUT
#undef C2P_QUAD
#undef C2_QUAD
#define CONV2X2_ASM 1
#else
#define CONV2X2_ASM 0
#endif

/* Two adjacent output pixels (interleaved windows: a quad of each every 4 words) x two output
 * channels: each weight word is loaded and sign-extended once for four SMLAD pairs, and one
 * pointer walks both windows (on the fast output path with rows of whole words and the block's pair constants cst:
 * conv2x2_dsp, on the layer's rows wa of ka bytes, K's rounded up with zero weights where K is not a multiple of 4;
 * conv2x2p_dsp where `wpairs`: the rows padded to whole words in flash, in word-interleaved pairs). */
static inline __attribute__((always_inline)) void conv_pixel2(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                              int32_t K, const int8_t *wa, int32_t ka,
                                                              const int32_t *cst, int8_t *op0, int8_t *op1,
                                                              int32_t oc0, int32_t oc1, int fast, int wpairs)
{
    const int32_t kr = wpairs ? ka : K, tail = wpairs ? 0 : K & 3, step = wpairs ? 8 : 4;
    int32_t oc = oc0;
#if CONV2X2_ASM
    if (cst != NULL && (ka & 3) == 0 && oc1 - oc0 >= 2) {
        const conv2x2 q = {.w0 = wa + oc * ka, .K = ka, .g = tinyasc_gather_words, .op = op0 + oc,
                           .op1 = (int32_t)(op1 - op0), .pairs = (oc1 - oc0) / 2, .cst = cst};
        if (wpairs) conv2x2p_call(&q);
        else conv2x2_dsp(&q);
        oc += 2 * ((oc1 - oc0) / 2);
    }
#else
    (void)wa, (void)ka, (void)cst;
#endif
    for (; oc + 1 < oc1; oc += 2) {
        const int8_t *w0 = w->data + oc * kr, *w1 = wpairs ? w0 + 4 : w0 + K;
        const int8_t *const end = w0 + (wpairs ? 2 * kr : K - tail);
        const int32_t b0 = w->bias ? w->bias[oc] : 0, b1 = w->bias ? w->bias[oc + 1] : 0;
        int32_t a00 = b0, a01 = b1, a10 = b0, a11 = b1; /* a<pixel><channel> */
        const u32_alias *g = tinyasc_gather_words;
        for (; w0 < end; w0 += step, w1 += step, g += 4)
            mac_2x2(&a00, &a01, &a10, &a11, tinyasc_load_u32(w0), tinyasc_load_u32(w1), g);
        if (tail) mac_2x2(&a00, &a01, &a10, &a11, load_tail(w0, tail), load_tail(w1, tail), g);
        op0[oc] = pixel_out(p, w, a00, oc, oc0, fast);
        op0[oc + 1] = pixel_out(p, w, a01, oc + 1, oc0, fast);
        op1[oc] = pixel_out(p, w, a10, oc, oc0, fast);
        op1[oc + 1] = pixel_out(p, w, a11, oc + 1, oc0, fast);
    }
    for (; oc < oc1; oc++) {
        const int8_t *w0 = w->data + oc * kr;
        const int8_t *const end = w0 + (kr - tail);
        const int32_t b0 = w->bias ? w->bias[oc] : 0;
        int32_t a0 = b0, a1 = b0;
        const u32_alias *g = tinyasc_gather_words;
        for (; w0 < end; w0 += 4, g += 4) mac_1x2(&a0, &a1, tinyasc_load_u32(w0), g);
        if (tail) mac_1x2(&a0, &a1, load_tail(w0, tail), g);
        op0[oc] = pixel_out(p, w, a0, oc, oc0, fast);
        op1[oc] = pixel_out(p, w, a1, oc, oc0, fast);
    }
}

/* Whether the layer's windows are single pixels inside the input (1 x 1, no padding) of whole quads (C a multiple of
 * 4) in a word-aligned input, two of which fit the window buffer: its output pixels go in pairs in their order (a pair
 * may span two output rows), each pair's windows gathered by one gather_pair_dsp call. Decided once per layer. */
static inline int pixels_ok(const tinyasc_conv_params *p, const int8_t *input)
{
    return p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0 && (p->in_c & 3) == 0 &&
           p->in_c <= TINYASC_OPT_MAX_K2 && ((uintptr_t)input & 3u) == 0u;
}

#if CONV2X2_ASM
/* The output pixels of one image of a layer pixels_ok takes in their order, with rows in pairs of a multiple of 8
 * taps three at a time (gather_quads_dsp each, then conv3x2p_dsp), the rest two at a time (gather_pair_dsp, then
 * conv2x2p_dsp or conv2x2_dsp with q0, its op the first pixel's outputs); the pixels taken (an odd last one is
 * left). */
static __attribute__((noinline)) int32_t pixel_pairs(const tinyasc_conv_params *p, const int8_t *in,
                                                     const conv2x2 *q0, int wpairs)
{
    const int32_t C = p->in_c, n = p->out_h * p->out_w, col = p->stride_w * C, row = p->stride_h * p->in_w * C;
    const uint32_t off2 = offset_pair(p);
    conv2x2 q = *q0;
    const int8_t *rp = in; /* the output row's first window */
    int32_t i = 0, ox = 0;
    if (wpairs && triples_ok(C)) { /* three pixels a call (conv3x2p_dsp), then pairs */
        q.op2 = 2 * q0->op1;
        for (; i + 3 <= n; i += 3, q.op += 3 * q0->op1) {
            for (int32_t t = 0; t < 3; t++) {
                gather_quads_dsp(tinyasc_gather_words + 2 * t, rp + ox * col, C / 4, 24, off2);
                if (++ox == p->out_w) ox = 0, rp += row;
            }
            conv3x2p_dsp(&q);
        }
    }
    const int32_t n2 = i + ((n - i) & ~1);
    for (; i < n2; i += 2, q.op += 2 * q0->op1) {
        const int8_t *const ip0 = rp + ox * col;
        if (++ox == p->out_w) ox = 0, rp += row;
        gather_pair_dsp(tinyasc_gather_words, ip0, rp + ox * col, C, off2);
        if (++ox == p->out_w) ox = 0, rp += row;
        if (wpairs) conv2x2p_call(&q);
        else conv2x2_dsp(&q);
    }
    return n2;
}
#endif

#if CONV2X2_ASM
/* The windows of one image three at a time in their order, across rows (gather each, then conv3x2p_dsp with q0, its
 * op the first window's outputs, the next windows' out_c and 2 out_c bytes further); the windows taken (the last one
 * or two are left). Out of line, so that the pairs' loop keeps its registers. */
static __attribute__((noinline)) int32_t window_triples(const tinyasc_conv_params *p, const int8_t *in,
                                                        const conv2x2 *q0, int mode)
{
    const int32_t n3 = p->out_h * p->out_w / 3 * 3;
    conv2x2 q = *q0;
    for (int32_t i = 0, oy = 0, ox = 0; i < n3; i += 3, q.op += 3 * p->out_c) {
        for (int32_t t = 0; t < 3; t++) {
            gather(p, in, oy * p->stride_h - p->pad_h, ox * p->stride_w - p->pad_w, tinyasc_gather_words + 2 * t, 6,
                   mode);
            if (++ox == p->out_w) ox = 0, oy++;
        }
        conv3x2p_dsp(&q);
    }
    return n3;
}
#endif

/* `wpairs`: the filter rows in word-interleaved pairs (tinyasc_conv2d_pairs_s8's layout; K a multiple of 4). */
static inline __attribute__((always_inline)) void simd_conv_body(const tinyasc_conv_params *p,
                                                                 const tinyasc_weights *w, const int8_t *input,
                                                                 int8_t *output, int fast, int wpairs)
{
    const int32_t K = p->k_h * p->k_w * p->in_c, K4 = (K + 3) & ~3;
    u32_alias *const g = tinyasc_gather_words;
    const int mode = gather_rows_ok(p, input) ? GATHER_ROWS : gather_staged_ok(p) ? GATHER_STAGED : GATHER_WINDOW;
    /* The rows the pixel pairs' asm reads: the layer's, or where K is not a multiple of 4 (a first layer's three
     * channels: 27 taps) a copy with each row padded to whole words by zero weights, after the two windows' quads (K4
     * words) in the window buffer, so the asm path takes the layer too (a zero weight against the quad's stale lane
     * adds nothing). */
    const int8_t *wa = w->data;
    int32_t ka = wpairs ? K4 : K; /* row pairs: rows padded to whole words in flash */
    if (fast && !wpairs && K4 != K && K4 + p->out_c * (K4 / 4) <= (int32_t)(sizeof(tinyasc_gather_words) / 4)) {
        int8_t *const pad = (int8_t *)(void *)(tinyasc_gather_words + K4);
        for (int32_t oc = 0; oc < p->out_c; oc++) {
            memcpy(pad + oc * K4, w->data + oc * K, (size_t)K);
            memset(pad + oc * K4 + K, 0, (size_t)(K4 - K));
        }
        wa = pad;
        ka = K4;
    }
    /* blocks of TINYASC_OPT_RQ_C output channels (one block for most layers): a wider layer
     * gathers its windows once per block */
    for (int32_t oc0 = 0; oc0 < p->out_c; oc0 += TINYASC_OPT_RQ_C) {
        const int32_t oc1 = p->out_c - oc0 < TINYASC_OPT_RQ_C ? p->out_c : oc0 + TINYASC_OPT_RQ_C;
        if (fast) {
            int32_t sh;
            for (int32_t oc = oc0; oc < oc1; oc++) tinyasc_out_fast_consts(p, w, oc, &out_rnd[oc - oc0], &sh);
        }
        /* the pairs' constants for conv2x2_dsp, in the window stage after what the gathers stage there (when the
         * channels are not whole words: gather_window a window's K bytes, gather_pair_staged_dsp two windows' K4),
         * where they fit */
        const int32_t *cst = NULL;
#if CONV2X2_ASM
        const int32_t cst_at = (p->in_c & 3) ? 2 * K4 : 0, pairs = (oc1 - oc0) / 2;
        if (fast && (ka & 3) == 0 && K <= TINYASC_OPT_MAX_K2 && p->batches * p->out_h * p->out_w > 1 &&
            cst_at + pairs * CONV2X2_CST * 4 <= (int32_t)sizeof(tinyasc_gather_stage)) { /* pixel pairs to come */
            int32_t *const b = (int32_t *)(void *)(tinyasc_gather_stage + cst_at);
            if (conv2x2_blocks(p, w, oc0, pairs, ka, b)) cst = b;
        }
#endif
#if CONV2X2_ASM
        const int pix = cst != NULL && ((oc1 - oc0) & 1) == 0 && pixels_ok(p, input);
        /* windows three at a time (conv3x2p_dsp) on rows in pairs of a multiple of 8 taps, every channel in pairs (a
         * layer of staged pairs gathers each window of a triple by gather_window) */
        const int tri = cst != NULL && wpairs && ((oc1 - oc0) & 1) == 0 && triples_ok(ka);
#endif
        for (int32_t b = 0; b < p->batches; b++) {
            const int8_t *in = input + b * p->in_h * p->in_w * p->in_c;
            int32_t oy = 0, ox = 0;
#if CONV2X2_ASM
            if (pix) { /* the pixel pairs straight to the asm; an odd last pixel below */
                const conv2x2 q = {.w0 = wa + oc0 * ka, .K = ka, .g = g,
                                   .op = output + b * p->out_h * p->out_w * p->out_c + oc0, .op1 = p->out_c,
                                   .pairs = (oc1 - oc0) / 2, .cst = cst};
                const int32_t n2 = pixel_pairs(p, in, &q, wpairs);
                oy = n2 / p->out_w;
                ox = n2 - oy * p->out_w;
            } else if (tri) { /* the windows three at a time; the last one or two below */
                const conv2x2 q = {.w0 = wa + oc0 * ka, .K = ka, .g = g,
                                   .op = output + b * p->out_h * p->out_w * p->out_c + oc0, .op1 = p->out_c,
                                   .pairs = (oc1 - oc0) / 2, .cst = cst, .op2 = 2 * p->out_c};
                const int32_t n3 = window_triples(p, in, &q, mode);
                oy = n3 / p->out_w;
                ox = n3 - oy * p->out_w;
            }
#endif
            /* pixels in pairs along a row, a row's last with the next row's first (odd widths) */
            for (int32_t first = 0; oy < p->out_h; oy++, ox = first, first = 0) {
                for (; ox < p->out_w;) {
                    int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                    if ((ox + 1 < p->out_w || oy + 1 < p->out_h) && K <= TINYASC_OPT_MAX_K2) {
                        int32_t y1 = y0, x1 = x0 + p->stride_w; /* the pair's second window */
                        if (ox + 1 == p->out_w) y1 += p->stride_h, x1 = -p->pad_w, first = 1; /* the next row's */
#if CONV2X2_ASM
                        if (mode == GATHER_STAGED && window_inside(p, y0, x0) && window_inside(p, y1, x1)) {
                            gather_pair_staged_dsp(g, in + (y0 * p->in_w + x0) * p->in_c,
                                                   in + (y1 * p->in_w + x1) * p->in_c, p->k_h, p->k_w * p->in_c,
                                                   p->dil_h * p->in_w * p->in_c, offset_pair(p), tinyasc_gather_stage);
                        } else
#endif
                        {
                            gather(p, in, y0, x0, g, 4, mode);
                            gather(p, in, y1, x1, g + 2, 4, mode);
                        }
                        conv_pixel2(p, w, K, wa, ka, cst, op, op + p->out_c, oc0, oc1, fast, wpairs);
                        ox += 2;
                    } else {
                        gather(p, in, y0, x0, g, 2, mode);
                        conv_pixel1(p, w, K, op, oc0, oc1, fast, wpairs);
                        ox += 1;
                    }
                }
            }
        }
    }
}

#if CONV2X2_ASM
/* A 1x1 layer of stride 1 in place, its pixels (all images') in pairs straight from and to data through q0's
 * constants: forward where out_c <= in_c (a pair's outputs end at or before the next pair's inputs start), backward
 * otherwise (its outputs start at or after the end of the inputs still to read); an odd pixel (the last forward, the
 * first backward) as a pair with itself, both outputs at the same place (op1 = 0). */
static __attribute__((noinline)) void inplace_pairs(const tinyasc_conv_params *p, int8_t *data, const conv2x2 *q0)
{
    const int32_t C = p->in_c, oc = p->out_c, n = p->batches * p->out_h * p->out_w;
    const uint32_t off2 = offset_pair(p);
    const int forward = oc <= C;
    conv2x2 q = *q0;
    int32_t k = 0; /* pixels done: from the first forward, from the last backward */
    if (triples_ok(C)) { /* three pixels a call (conv3x2p_dsp), the one or two left in a pair below */
        q.op1 = oc, q.op2 = 2 * oc;
        for (; k + 3 <= n; k += 3) {
            const int32_t i = forward ? k : n - 3 - k; /* the first of the three */
            for (int32_t t = 0; t < 3; t++)
                gather_quads_dsp(tinyasc_gather_words + 2 * t, data + (i + t) * C, C / 4, 24, off2);
            q.op = data + i * oc;
            conv3x2p_dsp(&q);
        }
    }
    for (; k < n; k += 2) {
        const int32_t j = forward ? (k + 1 < n ? k + 1 : k) : n - 1 - k; /* the pair's pixels i <= j */
        const int32_t i = forward ? k : (j > 0 ? j - 1 : j);
        gather_pair_dsp(tinyasc_gather_words, data + i * C, data + j * C, C, off2);
        q.op = data + i * oc;
        q.op1 = (j - i) * oc;
        conv2x2p_call(&q);
    }
}

int tinyasc_simd_conv2d_1x1_inplace_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data)
{
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    /* an even count of channels, all of a pixel pair's outputs from one gather (a pass per block of channels would
     * read inputs an earlier pass overwrote), the pixels of pixels_ok (whole quads, K = C) at stride 1, on the fast
     * output path, and every pair's constants in the stage */
    const int32_t C = p->in_c, pairs = p->out_c / 2;
    if (p->filter_in_c != C || (p->out_c & 1) || p->stride_h != 1 || p->stride_w != 1 ||
        !pixels_ok(p, data) || pairs * CONV2X2_CST * 4 > (int32_t)sizeof(tinyasc_gather_stage) ||
        !tinyasc_out_fast_ok(p, w))
        return -1;
    int32_t *const b = (int32_t *)(void *)tinyasc_gather_stage;
    if (!conv2x2_blocks(p, w, 0, pairs, C, b)) return -1;
    const conv2x2 q = {.w0 = w->data, .K = C, .g = tinyasc_gather_words, .op = data, .op1 = 0, .pairs = pairs,
                       .cst = b};
    inplace_pairs(p, data, &q);
    return 0;
}
#endif

/* The one-input-channel kernel (tinyasc_opt_conv_c1.c) in this file's window buffer. */
int tinyasc_simd_conv_c1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    return tinyasc_conv_c1_s8(p, w, input, output, tinyasc_gather_words, (int32_t)(sizeof(tinyasc_gather_words) / 4));
}

/* The fast output path's instance for both layouts (the rows as they are, or in pairs: wpairs at run time): one copy
 * of the body in a library whatever its layers' layouts (an instance per layout cost 2.3 KB of flash for 0.5% of
 * KWS's cycles on the M4). */
static __attribute__((noinline)) void simd_conv_fast(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                     const int8_t *input, int8_t *output, int wpairs)
{
    simd_conv_body(p, w, input, output, 1, wpairs);
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
    if (tinyasc_out_fast_ok(p, w)) simd_conv_fast(p, w, input, output, 0);
    else simd_conv_body(p, w, input, output, 0, 0);
    return 0;
}

int tinyasc_simd_conv2d_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                                 int8_t *output)
{
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const int32_t K4 = (p->k_h * p->k_w * p->in_c + 3) & ~3;
    if (p->filter_in_c != p->in_c || K4 > TINYASC_OPT_MAX_K || !tinyasc_out_fast_ok(p, w)) return -1;
    simd_conv_fast(p, w, input, output, 1);
    return 0;
}

/* Four channels' taps of one window position (input word x, weight word u, at most 4 bytes each):
 * channels 0 and 2 from SXTAB16 of the words, 1 and 3 from SXTAB16 of the words rotated by 8, with
 * the input offset (off2, in both halfwords; 0 when it is folded into the channel's constant). */
static inline __attribute__((always_inline)) void dw_tap4(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3,
                                                          uint32_t x, uint32_t u, uint32_t off2)
{
    const uint32_t xs = __sxtab16(off2, x), xr = tinyasc_sxtab16_ror8(off2, x);
    const uint32_t ws = __sxtb16(u), wr = tinyasc_sxtb16_ror8(u);
    *a0 = __smlabb(xs, ws, *a0);
    *a2 = __smlatt(xs, ws, *a2);
    *a1 = __smlabb(xr, wr, *a1);
    *a3 = __smlatt(xr, wr, *a3);
}

/* The output pixels [oy_lo, oy_hi) x [ox_lo, ox_hi) whose k_h x 1 windows lie wholly inside the input. */
typedef struct {
    int32_t ox_lo, ox_hi, oy_lo, oy_hi;
} dwc_rect;

#if CONV2X2_ASM
/* A column of nky >= 1 taps of four channels wholly inside the input (the channels' constants carry the input offset),
 * two taps per pass in asm: per tap one LDR of the input word and one of the weight word (the second tap's at a
 * register offset, both pointers advanced once per pass), SXTB16 of each and of each rotated by 8, four SMLABB/SMLATT
 * onto the sums at a (loaded and stored back); an odd tap first. Compiled from C the loop took a compare and two
 * pointer adds per tap and a MOV for the rotation. Arguments: r0 ip, r1 wp, r2 nky, r3 ystep, then on the stack wrow,
 * a. */
/* one tap of four channels (dw_col4_dsp, dwc4_run_dsp): the input word at XADDR against the weight word in W (then
 * spent); channels 0 and 2 from the lanes of SXTB16, 1 and 3 from those of SXTB16 of the words rotated by 8 */
#define DWC_TAP(XADDR, W)                                                                                         \
        "ldr    r8, " XADDR "\n\t"                                                                                \
        "sxtb16 r10, r8\n\t"                                                                                      \
        "sxtb16 r8, r8, ror #8\n\t"                                                                               \
        "sxtb16 r11, " W "\n\t"                                                                                   \
        "sxtb16 " W ", " W ", ror #8\n\t"                                                                         \
        "smlabb r4, r10, r11, r4\n\t"                                                                             \
        "smlatt r6, r10, r11, r6\n\t"                                                                             \
        "smlabb r5, r8, " W ", r5\n\t"                                                                            \
        "smlatt r7, r8, " W ", r7\n\t"
/* ... the weight word loaded from WADDR */
#define DW_COL_TAP(XADDR, WADDR)                                                                                  \
        "ldr    r9, " WADDR "\n\t"                                                                                \
        DWC_TAP(XADDR, "r9")
static __attribute__((naked, noinline)) void dw_col4_dsp(const int8_t *ip __attribute__((unused)),
                                                         const int8_t *wp __attribute__((unused)),
                                                         int32_t nky __attribute__((unused)),
                                                         int32_t ystep __attribute__((unused)),
                                                         int32_t wrow __attribute__((unused)),
                                                         int32_t *a __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "ldrd   r12, lr, [sp, #36]\n\t"      /* wrow, a */
        "ldm    lr, {r4-r7}\n\t"             /* the four sums */
        "tst    r2, #1\n\t"
        "beq    1f\n\t"
        DW_COL_TAP("[r0]", "[r1]")
        "add    r0, r0, r3\n\t"
        "add    r1, r1, r12\n\t"
        "1:\n\t"
        "asrs   r2, r2, #1\n\t"              /* passes of two taps */
        "beq    3f\n\t"
        "2:\n\t"
        DW_COL_TAP("[r0]", "[r1]")
        DW_COL_TAP("[r0, r3]", "[r1, r12]")
        "add    r0, r0, r3, lsl #1\n\t"
        "add    r1, r1, r12, lsl #1\n\t"
        "subs   r2, r2, #1\n\t"
        "bne    2b\n\t"
        "3:\n\t"
        "stm    lr, {r4-r7}\n\t"
        "pop    {r4-r11, pc}\n\t");
}

/* A run of output pixels whose k_h x 1 windows lie wholly inside the input, four channels, on the folded output path
 * (the BC-ResBlock's frequency-spanning columns: 17 windows of 128 taps in the quick model's first blocks), one asm
 * call for the run: per pixel the four sums from the channels' constants, the taps four per pass against the group's
 * weight words staged contiguous (two per LDRD, post-incremented; the odd tap and pair first), then tinyasc_rq_apply's
 * folded step and SSAT per channel with its (m, rnd, sh) from the block. dw_col4_dsp above took a call, the
 * constants' loads and the general output path per pixel and group in C, a weight word per LDR at a register offset
 * and a loop test per two taps. Offsets below are those of dwc_run; ip and op advance with the pixels. */
typedef struct {
    const int8_t *ip;      /* 0: the run's first window, tap 0, the group's first channel */
    const uint32_t *wp;    /* 4: the group's weight words, tap after tap */
    int32_t nky, ystep;    /* 8, 12: taps (>= 1); bytes between a window's taps */
    int32_t pixels, pstep; /* 16, 20: windows in the run (>= 1); from a window to the next */
    int32_t ostep;         /* 24: from an output pixel to the next */
    int8_t *op;            /* 28: the first pixel's outputs */
    const int32_t *blk;    /* 32: the four channels' constants, then (m, rnd, sh) of each */
} dwc_run;
typedef char dwc_run_is_the_asm_layout[(offsetof(dwc_run, ip) == 0 && offsetof(dwc_run, wp) == 4 &&
                                        offsetof(dwc_run, nky) == 8 && offsetof(dwc_run, ystep) == 12 &&
                                        offsetof(dwc_run, pixels) == 16 && offsetof(dwc_run, pstep) == 20 &&
                                        offsetof(dwc_run, ostep) == 24 && offsetof(dwc_run, op) == 28 &&
                                        offsetof(dwc_run, blk) == 32) ? 1 : -1];
/* a group's block: four constants, four (m, rnd, sh), then (C only) whether all four fold */
enum { DWC_BLOCK = 17, DWC_FOLDS = 16 };
/* two taps: both weight words in one LDRD */
#define DWC_PAIR                                                                                                  \
        "ldrd   r9, lr, [r1], #8\n\t"                                                                             \
        DWC_TAP("[r0]", "r9")                                                                                     \
        DWC_TAP("[r0, r3]", "lr")                                                                                 \
        "add    r0, r0, r3, lsl #1\n\t"
/* the folded step of sum acc with the next (m, rnd, sh) at r12, stored at r0 (post-incremented) */
#define DWC_OUT(acc)                                                                                              \
        "ldm    r12!, {r8, r9, r10}\n\t"                                                                          \
        "and    r11, " acc ", #0x80000000\n\t"                                                                    \
        "orr    r11, r11, #0x40000000\n\t"                                                                        \
        "add    r1, r9, " acc ", asr #31\n\t"                                                                     \
        "smlal  r11, r1, " acc ", r8\n\t"                                                                         \
        "asr    r1, r1, r10\n\t"                                                                                  \
        "ssat   r1, #8, r1\n\t"                                                                                   \
        "strb   r1, [r0], #1\n\t"
static __attribute__((naked, noinline)) void dwc4_run_dsp(dwc_run *q __attribute__((unused))) /* q arrives in r0 */
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "sub    sp, sp, #8\n\t"              /* [sp]: q, [sp, #4]: pixels left */
        "ldr    r1, [r0, #16]\n\t"
        "strd   r0, r1, [sp]\n\t"
        "1:\n\t"                             /* a pixel */
        "ldr    lr, [sp]\n\t"
        "ldr    r12, [lr, #32]\n\t"
        "ldm    r12, {r4-r7}\n\t"            /* the sums from the channels' constants */
        "ldrd   r0, r1, [lr, #0]\n\t"        /* ip, wp */
        "ldrd   r2, r3, [lr, #8]\n\t"        /* nky, ystep */
        "tst    r2, #1\n\t"
        "beq    2f\n\t"
        "ldr    r9, [r1], #4\n\t"
        DWC_TAP("[r0]", "r9")
        "add    r0, r0, r3\n\t"
        "2:\n\t"
        "tst    r2, #2\n\t"
        "beq    3f\n\t"
        DWC_PAIR
        "3:\n\t"
        "lsrs   r2, r2, #2\n\t"              /* passes of four taps */
        "beq    5f\n\t"
        "4:\n\t"
        DWC_PAIR
        DWC_PAIR
        "subs   r2, r2, #1\n\t"
        "bne    4b\n\t"
        "5:\n\t"                             /* the pixel's four outputs */
        "ldr    lr, [sp]\n\t"
        "ldr    r12, [lr, #32]\n\t"
        "ldr    r0, [lr, #28]\n\t"
        "add    r12, r12, #16\n\t"
        DWC_OUT("r4")
        DWC_OUT("r5")
        DWC_OUT("r6")
        DWC_OUT("r7")
        "ldr    r3, [lr, #24]\n\t"           /* ostep */
        "sub    r0, r0, #4\n\t"
        "add    r0, r0, r3\n\t"
        "str    r0, [lr, #28]\n\t"           /* the next pixel's outputs */
        "ldr    r0, [lr, #0]\n\t"
        "ldr    r2, [lr, #20]\n\t"           /* pstep */
        "add    r0, r0, r2\n\t"
        "str    r0, [lr, #0]\n\t"            /* and window */
        "ldr    r1, [sp, #4]\n\t"
        "subs   r1, r1, #1\n\t"
        "str    r1, [sp, #4]\n\t"
        "bne    1b\n\t"
        "add    sp, sp, #8\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#undef DWC_OUT
#undef DWC_PAIR

/* dwc_prepare's scratch in the window buffer after the channels' constants base[C], as word offsets from base: group
 * g's block, then the groups' staged weight words, k_h each */
static inline int32_t dwc_block(int32_t C, int32_t g)
{
    return C + g * DWC_BLOCK;
}
static inline int32_t dwc_weights(int32_t C, int32_t k_h, int32_t g)
{
    return dwc_block(C, C / 4) + g * k_h;
}

/* k_h x 1 windows over the whole int8 range take dwc4_run_dsp for each run of windows wholly inside the input (along
 * the output rows, or down the output columns where those are fewer; r: their rectangle), one call per group of four
 * channels that all fold (tinyasc_rq_zp_folds); the other groups and the last C % 4 channels go pixel by pixel; the
 * blocks and each folding group's weight words tap after tap go where dwc_block and dwc_weights say. 0 where the
 * layer is not such a one or its blocks and weights do not fit, 2 where the runs take every channel, else 1. */
static __attribute__((noinline)) int dwc_prepare(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                 int32_t *base, dwc_rect *r)
{
    const int32_t C = p->in_c, G = C / 4, words = (int32_t)(sizeof(tinyasc_gather_words) / 4);
    if (p->k_w != 1 || G == 0 || C + G * (DWC_BLOCK + p->k_h) > words || !tinyasc_full_range(p)) return 0;
    tinyasc_inside_range(p->out_w, p->in_w, 0, p->stride_w, p->pad_w, &r->ox_lo, &r->ox_hi);
    tinyasc_inside_range(p->out_h, p->in_h, (p->k_h - 1) * p->dil_h, p->stride_h, p->pad_h, &r->oy_lo, &r->oy_hi);
    /* one window a group (the wake word's last 15-tap column on one pixel): the blocks and staged weights would serve
     * it once (+15% measured), the pixel path takes it */
    if (p->batches * p->out_h * (r->ox_hi - r->ox_lo) < 2) return 0;
    int all = C % 4 == 0;
    for (int32_t g = 0; g < G; g++) {
        int32_t *const b = base + dwc_block(C, g);
        b[DWC_FOLDS] = 1;
        for (int32_t j = 0; j < 4; j++) {
            const int32_t c = 4 * g + j;
            b[j] = base[c];
            b[4 + 3 * j] = w->multiplier[c];
            if (tinyasc_rq_zp_folds(w->multiplier[c], w->shift[c]))
                tinyasc_out_fast_consts(p, w, c, &b[5 + 3 * j], &b[6 + 3 * j]);
            else
                b[DWC_FOLDS] = 0;
        }
        all &= b[DWC_FOLDS];
        if (b[DWC_FOLDS]) {
            uint32_t *const wg = (uint32_t *)(base + dwc_weights(C, p->k_h, g));
            for (int32_t f = 0; f < p->k_h; f++) wg[f] = tinyasc_load_u32(w->data + f * C + 4 * g);
        }
    }
    return all ? 2 : 1;
}

/* Whether dwc4_run_dsp took channel c's group (dwc_prepare's blocks after base[C]). */
static inline int dwc_took(const tinyasc_conv_params *p, const int32_t *base, int32_t c)
{
    return c / 4 < p->in_c / 4 && base[dwc_block(p->in_c, c / 4) + DWC_FOLDS];
}

/* The runs of one batch image (in, out) through dwc4_run_dsp, group by group: the rectangle's output rows along x, or
 * its output columns down y where those are fewer (the wake word's k x 1 layers on one column: one call per group,
 * not one per row and group). */
static __attribute__((noinline)) void dwc_runs(const tinyasc_conv_params *p, const int32_t *base, const int8_t *in,
                                               int8_t *out, const dwc_rect *r)
{
    const int32_t C = p->in_c, G = C / 4, row = p->in_w * C, nx = r->ox_hi - r->ox_lo, ny = r->oy_hi - r->oy_lo;
    const int32_t prow = p->stride_h * row, pcol = p->stride_w * C, orow = p->out_w * C;
    const int down = nx < ny;
    /* each run holds `pixels` windows, a window pstep input bytes and ostep output bytes after the one before; a run
     * starts istep and jstep bytes after the one before */
    const int32_t runs = down ? nx : ny, pixels = down ? ny : nx, pstep = down ? prow : pcol;
    const int32_t ostep = down ? orow : C, istep = down ? pcol : prow, jstep = down ? C : orow;
    const int8_t *ip = in + (r->oy_lo * p->stride_h - p->pad_h) * row + (r->ox_lo * p->stride_w - p->pad_w) * C;
    int8_t *op = out + (r->oy_lo * p->out_w + r->ox_lo) * C;
    for (int32_t k = 0; k < runs; k++, ip += istep, op += jstep) {
        for (int32_t g = 0; g < G; g++) {
            const int32_t *const b = base + dwc_block(C, g);
            if (!b[DWC_FOLDS]) continue;
            dwc_run q = {.ip = ip + 4 * g, .wp = (const uint32_t *)(base + dwc_weights(C, p->k_h, g)),
                         .nky = p->k_h, .ystep = p->dil_h * row, .pixels = pixels, .pstep = pstep, .ostep = ostep,
                         .op = op + 4 * g, .blk = b};
            dwc4_run_dsp(&q);
        }
    }
}
#undef DW_COL_TAP
#undef DWC_TAP
#else
static inline int dwc_took(const tinyasc_conv_params *p, const int32_t *base, int32_t c)
{
    (void)p, (void)base, (void)c;
    return 0;
}
#endif

/* n (1..4) channels c.. of one output pixel: its window of taps [ky0, ky1) x [kx0, kx1) from ip / wp
 * (the window's first tap of channel c), outputs to op[c..]; a[] holds the channels' starting sums
 * and off2 the input offset still to add. n < 4 loads the last channels' bytes without reading past
 * them (load_tail); the lanes past n accumulate zeros and are not stored. */
static inline __attribute__((always_inline)) void dw_group(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                           int32_t *a, int32_t c, int32_t n, const int8_t *ip,
                                                           const int8_t *wp, int32_t nky, int32_t nkx,
                                                           uint32_t off2, int8_t *op)
{
    const int32_t C = p->in_c, ystep = p->dil_h * p->in_w * C, xstep = p->dil_w * C, wrow = p->k_w * C;
#if CONV2X2_ASM
    if (n == 4 && nkx == 1 && off2 == 0u) { /* a whole column of four channels: two taps per pass in asm */
        dw_col4_dsp(ip, wp, nky, ystep, wrow, a);
    } else
#endif
    {
        int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        if (nkx == 1) { /* a column: one loop down the taps */
            const int8_t *const end = ip + nky * ystep;
            for (; ip != end; ip += ystep, wp += wrow)
                dw_tap4(&a0, &a1, &a2, &a3, n == 4 ? tinyasc_load_u32(ip) : load_tail(ip, n),
                        n == 4 ? tinyasc_load_u32(wp) : load_tail(wp, n), off2);
        } else {
            for (int32_t ky = 0; ky < nky; ky++, ip += ystep, wp += wrow) {
                const int8_t *xi = ip, *wi = wp;
                for (int32_t kx = 0; kx < nkx; kx++, xi += xstep, wi += C)
                    dw_tap4(&a0, &a1, &a2, &a3, n == 4 ? tinyasc_load_u32(xi) : load_tail(xi, n),
                            n == 4 ? tinyasc_load_u32(wi) : load_tail(wi, n), off2);
            }
        }
        a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
    }
    for (int32_t j = 0; j < n; j++) op[c + j] = tinyasc_opt_out(p, w, a[j], c + j);
}

/* The last C % 4 channels (called once per pixel: not inlined, to keep the code small). */
static __attribute__((noinline)) void dw_tail(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t *a,
                                              int32_t c, int32_t n, const int8_t *ip, const int8_t *wp, int32_t nky,
                                              int32_t nkx, uint32_t off2, int8_t *op)
{
    dw_group(p, w, a, c, n, ip, wp, nky, nkx, off2, op);
}

/* The whole-column runs' hooks (dwc_prepare, dwc_runs): only tinyasc_simd_depthwise_column_s8 passes them, so a
 * library whose layers take the other entry links none of their code. */
typedef struct {
    int (*prepare)(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t *base, dwc_rect *r);
    void (*runs)(const tinyasc_conv_params *p, const int32_t *base, const int8_t *in, int8_t *out, const dwc_rect *r);
} dw_columns;

/* Depthwise (multiplier 1): four channels per word (the last C % 4 in one more group). Each output
 * pixel's window is clipped to the input once (no test per tap); a window wholly inside takes
 * sum w * x + (bias + off * sum w), that constant per channel computed once per call into the
 * window buffer, so the input offset leaves the tap loop; a column window (k x 1) is one loop, and with the
 * hooks (k_h x 1 layers) each output row's run of whole columns one asm call per group. */
static __attribute__((noinline)) int simd_depthwise(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                    const int8_t *input, int8_t *output, const dw_columns *hooks)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    if (p->depth_multiplier != 1) return -1;
    const int32_t C = p->in_c, row = p->in_w * C, taps = p->k_h * p->k_w;
    const uint32_t off2 = offset_pair(p);
    int32_t *const base = (int32_t *)(void *)tinyasc_gather_words; /* the window buffer is free in a depthwise layer */
    const int table = C <= (int32_t)(sizeof(tinyasc_gather_words) / 4);
    if (table) tinyasc_chan_base(p, w, C, taps, C, 1, base);
#if CONV2X2_ASM
    dwc_rect rect = {0, 0, 0, 0};
    const int cols = table && hooks ? hooks->prepare(p, w, base, &rect) : 0;
    const int32_t ox_lo = rect.ox_lo, ox_hi = rect.ox_hi;
#endif
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * row;
#if CONV2X2_ASM
        if (cols) hooks->runs(p, base, in, output + b * p->out_h * p->out_w * C, &rect);
#endif
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t ky0, ky1;
            tinyasc_tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
#if CONV2X2_ASM
            const int run = cols && oy >= rect.oy_lo && oy < rect.oy_hi;
#else
            (void)hooks;
            const int run = 0, cols = 0;
            const int32_t ox_lo = 0, ox_hi = 0;
#endif
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                /* a run's pixel: only the groups dwc4_run_dsp did not take */
                const int in_run = run && ox >= ox_lo && ox < ox_hi;
                if (in_run && cols == 2) continue; /* every channel taken */
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int32_t kx0, kx1;
                tinyasc_tap_range(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                const int whole = table && ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
                const uint32_t off = whole ? 0u : off2; /* whole windows: the offset is in base[] */
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int8_t *ip0 = in + (y0 + ky0 * p->dil_h) * row + (x0 + kx0 * p->dil_w) * C;
                const int8_t *wp0 = w->data + (ky0 * p->k_w + kx0) * C;
                for (int32_t c = 0; c < C; c += 4) {
                    if (in_run && dwc_took(p, base, c)) continue;
                    const int32_t n = C - c < 4 ? C - c : 4;
                    int32_t a[4] = {0, 0, 0, 0};
                    for (int32_t j = 0; j < n; j++) a[j] = whole ? base[c + j] : (w->bias ? w->bias[c + j] : 0);
                    if (n == 4) dw_group(p, w, a, c, 4, ip0 + c, wp0 + c, ky1 - ky0, kx1 - kx0, off, op);
                    else dw_tail(p, w, a, c, n, ip0 + c, wp0 + c, ky1 - ky0, kx1 - kx0, off, op);
                }
            }
        }
    }
    return 0;
}

int tinyasc_simd_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    return simd_depthwise(p, w, input, output, 0);
}

#if CONV2X2_ASM
static const dw_columns dwc_hooks = {.prepare = dwc_prepare, .runs = dwc_runs};
#endif

/* A k_h x 1 layer (the generator's depthwise_column_s8): its runs of whole columns through dwc4_run_dsp. */
int tinyasc_simd_depthwise_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
#if CONV2X2_ASM
    return simd_depthwise(p, w, input, output, &dwc_hooks);
#else
    return simd_depthwise(p, w, input, output, 0);
#endif
}

/* On the DSP cores a 1x1 layer takes the general kernel (no im2col of its own to leave out). */
int tinyasc_simd_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output)
{
    return tinyasc_simd_conv2d_s8(p, w, input, output);
}
#endif
