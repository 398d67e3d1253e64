/*
 * Three-tap line convolutions in one asm call per group of channels on the DSP cores (Cortex-M4, M7):
 * tinyasc_line3_dsp_s8, which tinyasc_chan_column_s8 (tinyasc_opt_ref.c) calls for a depthwise or channel-wise
 * 3 x 1 / 1 x 3 layer (a BC-ResBlock's frequency and time convolutions) over the whole int8 range. The generator
 * ships this file only in a DSP core's library with such a layer (generator.line3_dsp_ships): elsewhere the weak
 * reference is null and the C line kernel (line3) runs every channel. On the other cores (and the host) it takes
 * nothing. The same integers as the portable kernel (tests/test_latency_kernels.py).
 */
#include <stddef.h>
#include "tinyasc_opt.h"

/* The generated model's strong reference to this file (kernel_sources.Kernel.weak): a static library links it. */
const uint8_t tinyasc_line3_dsp_s8_linked = 1;

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
/* A three-tap line layer on the DSP extension, the whole int8 range, input and output positions the same bytes apart
 * (R): every line of the channels the caller recorded, in one call. Per channel its record (line3_rec: the channel's
 * byte and constants) in one LDM; per line the window's two first values (each inside the line or the outside value
 * -input_offset, as the padding gives), then the outputs whose three inputs lie inside (n_in), then the outputs past
 * the input's end (tail, third input outside: their doubled sum from last2). The window's two older inputs are
 * packed as halfwords in X (x0 on top, x1 below) against the packed taps W (w0 on top, w1 below), so one SMLAD takes
 * two taps onto base and one MLA the third; the next window is one PKHBT. Taps and base come doubled (the caller
 * keeps |base| < 2^29, so the doubled sum stays inside int32), the input d bytes after the output (one
 * register-offset load, so one pointer walks a line), then tinyasc_rq_dbl_apply (SMMLAR, SUB of the sign, ASR;
 * rnd2 and r) and SSAT; inside a line an odd output first, then two per pass, all fourteen values in registers.
 * Called per line from C (as sessions before 55 did), the C around the call cost about 130 instructions a line
 * (the quick model: 2,386 lines). Not on Helium (line3_mve takes these lines). */
#define LINE3_DSP_STEP                                                                                            \
        "ldrsb  ip, [r0, r2]\n\t"          /* x2 */                                                              \
        "smlad  r11, r5, r4, r7\n\t"       /* 2 (base + w0 x0 + w1 x1) */                                        \
        "mla    r11, r6, ip, r11\n\t"      /* + 2 w2 x2 */                                                       \
        "pkhbt  r4, ip, r4, lsl #16\n\t"   /* x1 on top, x2 below */                                             \
        TINYASC_ASM_DBL_OUT_STEP("r11", "r8", "r9", "r10")
typedef struct {
    int32_t c, w01, w2, base2, m, rnd2, r, last2; /* the LDM's order: r0, r5-r11 */
} line3_rec;
typedef struct {
    const line3_rec *rec;  /*  0: the records */
    int32_t recs;          /*  4: how many (>= 1) */
    int8_t *out;           /*  8: the first output line */
    int32_t d, R;          /* 12, 16: the first line's input from its output, (2 - pad) R on; bytes between positions */
    int32_t lines, line;   /* 20, 24: lines per channel (>= 1), bytes between output lines */
    int32_t dstep;         /* 28: d's change from one line to the next (in_line - out_line) */
    int32_t n_in, tail;    /* 32, 36: outputs per line with their inputs inside, then outside (each >= 0) */
    int32_t outside, pad;  /* 40, 44: a position outside the input (-input_offset); the padding (0 or 1) */
} line3_layer;
typedef char line3_layer_is_the_asm_layout[(offsetof(line3_layer, recs) == 4 && offsetof(line3_layer, out) == 8 &&
                                            offsetof(line3_layer, d) == 12 && offsetof(line3_layer, R) == 16 &&
                                            offsetof(line3_layer, lines) == 20 && offsetof(line3_layer, line) == 24 &&
                                            offsetof(line3_layer, dstep) == 28 && offsetof(line3_layer, n_in) == 32 &&
                                            offsetof(line3_layer, tail) == 36 && offsetof(line3_layer, outside) == 40 &&
                                            offsetof(line3_layer, pad) == 44 && sizeof(line3_rec) == 32 &&
                                            offsetof(line3_rec, last2) == 28) ? 1 : -1];
/* Locals on the stack: [sp] the next record, [sp, #4] records left, [sp, #8] lines left, [sp, #12] the line's first
 * output, [sp, #16] the channel's last2, then k's fields from outside on ([sp, #20] outside, #24 pad, #28 n_in, #32
 * tail; #36 dstep, #40 line, #44 lines, #48 out, #52 d: k's order after a rotation), so that a line loads no
 * pointer. */
static __attribute__((naked, noinline)) void line3_dsp_lines(const line3_layer *k __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "sub    sp, sp, #56\n\t"
        "ldm    r0, {r1-r12}\n\t"          /* rec, recs, out, d, R, lines, line, dstep, n_in, tail, outside, pad */
        "strd   r1, r2, [sp]\n\t"
        "strd   r11, r12, [sp, #20]\n\t"   /* outside, pad */
        "strd   r9, r10, [sp, #28]\n\t"    /* n_in, tail */
        "strd   r8, r7, [sp, #36]\n\t"     /* dstep, line */
        "strd   r6, r3, [sp, #44]\n\t"     /* lines, out */
        "str    r4, [sp, #52]\n\t"         /* d */
        "mov    r3, r5\n\t"                /* R: fixed for the layer */
        "5:\n\t"                           /* a channel */
        "ldr    ip, [sp]\n\t"
        "ldm    ip!, {r0, r5-r11}\n\t"     /* c, W, w2, base2, m, rnd2, r, last2 */
        "str    ip, [sp]\n\t"
        "str    r11, [sp, #16]\n\t"
        "ldrd   r1, ip, [sp, #44]\n\t"     /* lines, out */
        "add    r0, r0, ip\n\t"            /* the channel's first output */
        "strd   r1, r0, [sp, #8]\n\t"
        "ldr    r2, [sp, #52]\n\t"         /* d */
        "6:\n\t"                           /* a line: its first window */
        "ldrd   lr, r1, [sp, #20]\n\t"     /* outside, pad */
        "sub    ip, r2, r3\n\t"
        "cmp    r1, #1\n\t"
        "bne    10f\n\t"                   /* pad 0, below */
        "ldrsb  ip, [r0, ip]\n\t"
        "pkhbt  r4, ip, lr, lsl #16\n\t"   /* x0 outside on top, x1 below */
        "7:\n\t"
        "ldr    r1, [sp, #28]\n\t"         /* n_in */
        TINYASC_ASM_ODD_THEN_PAIRS(LINE3_DSP_STEP)
        "ldr    r1, [sp, #32]\n\t"         /* tail */
        "cbz    r1, 9f\n\t"
        "8:\n\t"
        "ldr    r11, [sp, #16]\n\t"
        "smlad  r11, r5, r4, r11\n\t"      /* third input outside */
        TINYASC_ASM_DBL_OUT_STEP("r11", "r8", "r9", "r10")
        "subs   r1, r1, #1\n\t"
        "beq    9f\n\t"
        "ldr    lr, [sp, #20]\n\t"
        "pkhbt  r4, lr, r4, lsl #16\n\t"   /* x1 on top, outside below */
        "b      8b\n\t"
        "9:\n\t"                           /* the next line */
        "ldrd   r1, r0, [sp, #8]\n\t"      /* lines left, the line's first output */
        "ldrd   lr, ip, [sp, #36]\n\t"     /* dstep, line */
        "add    r2, r2, lr\n\t"
        "add    r0, r0, ip\n\t"
        "subs   r1, r1, #1\n\t"
        "strd   r1, r0, [sp, #8]\n\t"
        "bne    6b\n\t"
        "ldr    r1, [sp, #4]\n\t"
        "subs   r1, r1, #1\n\t"
        "str    r1, [sp, #4]\n\t"
        "bne    5b\n\t"
        "add    sp, sp, #56\n\t"
        "pop    {r4-r11, pc}\n\t"
        "10:\n\t"                          /* the first window without padding (ip: d - R) */
        "ldrsb  ip, [r0, ip]\n\t"          /* x1 */
        "sub    lr, r2, r3, lsl #1\n\t"
        "ldrsb  lr, [r0, lr]\n\t"          /* x0 */
        "pkhbt  r4, ip, lr, lsl #16\n\t"
        "b      7b\n\t");
}
#undef LINE3_DSP_STEP

#ifndef TINYASC_LINE3_RECS
#define TINYASC_LINE3_RECS 4 /* channels recorded per line3_dsp_lines call (32 bytes each, on the stack) */
#endif
/* One batch of a three-tap line layer on the DSP cores (tinyasc_line3_dsp_s8): the channels tinyasc_line3_dsp_base
 * accepts recorded, TINYASC_LINE3_RECS at a time, and run by line3_dsp_lines. The same integers as line3 (the doubled
 * sum's output step: tinyasc_rq_dbl_apply). Returns how many channels it left. */
static int32_t line3_dsp_batch(const tinyasc_conv_params *p, const tinyasc_lines *g, const tinyasc_weights *w,
                               int32_t wt, int32_t wc, const int8_t *in, int8_t *out)
{
    const int32_t C = p->in_c, off = p->input_offset, R = g->in_step, zp = p->output_offset, pad = g->pad;
    int32_t n_in = g->len_in + pad - 2; /* positions entering the window at i: i - pad + 2, inside for i < n_in */
    n_in = n_in < 0 ? 0 : n_in > g->len_out ? g->len_out : n_in;
    line3_rec rec[TINYASC_LINE3_RECS];
    line3_layer k = {.rec = rec, .recs = 0, .out = out,
                     .d = (int32_t)((uintptr_t)(in + g->in_first + (2 - pad) * R) - (uintptr_t)out), .R = R,
                     .lines = g->lines, .line = g->out_line, .dstep = g->in_line - g->out_line, .n_in = n_in,
                     .tail = g->len_out - n_in, .outside = -off, .pad = pad};
    int32_t left = 0;
    for (int32_t c = 0; c < C; c++) {
        int ok;
        const int32_t base = tinyasc_line3_dsp_base(p, w, wt, wc, c, &ok);
        if (!ok) {
            left++;
            continue;
        }
        const int8_t *wp = w->data + c * wc;
        const int32_t w2 = wp[2 * wt];
        line3_rec *const r = &rec[k.recs++]; /* field by field: an initializer had GCC call memset first */
        r->c = c;
        r->w01 = (int32_t)(((uint32_t)(2 * wp[0]) << 16) | (uint16_t)(2 * wp[wt]));
        r->w2 = 2 * w2;
        r->base2 = 2 * base;
        r->m = w->multiplier[c];
        tinyasc_rq_relu_consts(w->shift[c], zp, &r->rnd2, &r->r);
        r->last2 = 2 * (base - w2 * off);
        if (k.recs == TINYASC_LINE3_RECS) {
            line3_dsp_lines(&k);
            k.recs = 0;
        }
    }
    if (k.recs > 0) line3_dsp_lines(&k);
    return left;
}

/* tinyasc_line3_dsp_s8 on the DSP cores: a three-tap line layer over the whole int8 range
 * (tinyasc_line3_dsp_lines_ok), batch by batch. Not inlined into its caller: its frame beside the C line kernel's
 * (chan_column_lines), not under it. */
__attribute__((noinline)) int tinyasc_line3_dsp_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                   const int8_t *input, int8_t *output, int32_t wt, int32_t wc)
{
    tinyasc_lines g;
    if (tinyasc_chan_lines_of(p, input, output, &g) != 0 || !tinyasc_full_range(p) || !tinyasc_line3_dsp_lines_ok(&g))
        return -1;
    const int32_t in_b = p->in_h * p->in_w * p->in_c, out_b = p->out_h * p->out_w * p->out_c;
    int32_t left = 0;
    for (int32_t b = 0; b < p->batches; b++)
        left = line3_dsp_batch(p, &g, w, wt, wc, input + b * in_b, output + b * out_b);
    return left;
}
#else
int tinyasc_line3_dsp_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                         int32_t wt, int32_t wc)
{
    (void)p, (void)w, (void)input, (void)output, (void)wt, (void)wc;
    return -1;
}
#endif
