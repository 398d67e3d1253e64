/*
 * Three-tap line convolutions on planes (Helium, Cortex-M55): tinyasc_line3p_s8, which tinyasc_chan_column_s8
 * (tinyasc_opt_ref.c) calls for a depthwise or channel-wise 3 x 1 / 1 x 3 layer on the whole int8 range. The generator
 * ships this file only in an M55 library with a layer whose lines are long enough to pay for it
 * (generator.line3p_pays): elsewhere the weak reference is null and the channels-per-lane kernel (line3_mve) runs.
 * On the other cores (and the host) it takes nothing. The same integers as the portable kernel
 * (tests/test_latency_kernels.py).
 */
#include <stddef.h>
#include "tinyasc_opt.h"

/* The generated model's strong reference to this file (kernel_sources.Kernel.weak): a static library links it. */
const uint8_t tinyasc_line3p_s8_linked = 1;

#if defined(__ARM_FEATURE_MVE)
/* A three-tap line layer on planes (the four-lane output path, lines of LINE3P_MIN_LEN or more outputs): one channel
 * at a time, a band of its lines staged as an int8 plane (tinyasc_plane_stage_mve: a line per plane row, the
 * positions along it, the input zero point in the padding columns), so that four neighbouring outputs of the line are
 * the four lanes of one vector. Eight outputs per pass, two vectors: per tap one VLDRB.S32 of four neighbouring inputs
 * per vector, the first tap a VMLAS onto the channel's constant (bias + off * sum w: the zero point adds exactly
 * nothing, as TFLite skips those taps; the tap in every lane of q5), the others a VMLA by the tap's weight as a scalar;
 * then the four-lane output step without its clamp (tinyasc_rq_x4_apply's first five instructions) on both vectors,
 * the two narrowed with saturation into the halves of one (VQMOVNB, VQMOVNT .S32: the first vector's outputs in the
 * even halves) and to int8 (VQMOVNB.S16: the low byte of each half, the clamp of both narrowings), stored by one
 * VSTRB.16 scatter of eight (offsets 0, 4 RO, RO, 5 RO, ...): 26 vector instructions for eight outputs where two
 * passes of four took 32. A line's last n % 8 outputs go four at a time in a tail-predicated loop (the whole output
 * step and a scattering VSTRB.32). Offsets below are those of line3p_run. */
typedef struct {
    const int8_t *in;   /* 0: the band's first plane row, column 0 */
    int8_t *out;        /* 4: its line's first output */
    int32_t n;          /* 8: outputs a line (>= 1) */
    int32_t lines;      /* 12: lines in the band (>= 1) */
    int32_t pitch;      /* 16: bytes between plane rows */
    int32_t out_line;   /* 20: bytes between lines' first outputs */
    int32_t m, neg_r;   /* 24, 28: the channel's multiplier and shift (-r) */
    int32_t zp, base;   /* 32, 36: the output zero point; the channel's constant (bias + off * sum w) */
    int32_t k0, k1, k2; /* 40, 44, 48: the taps */
    int32_t step;       /* 52: 4 RO */
    int32_t offs[4];    /* 56: the store offsets of four (0, RO, 2 RO, 3 RO) */
    int32_t passes;     /* 72: passes of eight a line (n / 8) */
    int32_t pad;
    uint16_t offs2[8];  /* 80: a pass's (0, 4 RO, RO, 5 RO, 2 RO, 6 RO, 3 RO, 7 RO; 7 RO < 2^16) */
} line3p_run;
typedef char line3p_run_is_the_asm_layout[(offsetof(line3p_run, in) == 0 && offsetof(line3p_run, out) == 4 &&
                                           offsetof(line3p_run, n) == 8 && offsetof(line3p_run, lines) == 12 &&
                                           offsetof(line3p_run, pitch) == 16 && offsetof(line3p_run, out_line) == 20 &&
                                           offsetof(line3p_run, m) == 24 && offsetof(line3p_run, neg_r) == 28 &&
                                           offsetof(line3p_run, zp) == 32 && offsetof(line3p_run, base) == 36 &&
                                           offsetof(line3p_run, k0) == 40 && offsetof(line3p_run, k1) == 44 &&
                                           offsetof(line3p_run, k2) == 48 && offsetof(line3p_run, step) == 52 &&
                                           offsetof(line3p_run, offs) == 56 && offsetof(line3p_run, passes) == 72 &&
                                           offsetof(line3p_run, offs2) == 80)
                                              ? 1 : -1];

/* the four-lane output step of the sums in v without its clamp (q3 scratch) */
#define LINE3P_OUT5(v) TINYASC_ASM_OUT5(v, "q3", "r2", "r3", "r4")
/* Registers: r0 the plane row (advanced), r1 the line's outputs (advanced), r2 m, r3 -r, r4 zp, r5 the constant,
 * r6-r8 the taps, r9 the four outputs' step, r10 the line's plane row, r11 its first output, r12 q, lr the loop; q0,
 * q1 the sums, q3 an input vector or scratch, q2 the tail's store offsets, q4 a pass's, q5 the first tap in every
 * lane. The channel's other constants are scalar operands (VQRDMULH, VRSHL, VADD by a register). The lines left
 * count down on the stack. */
static __attribute__((naked, noinline)) void line3p_run_mve(const line3p_run *q __attribute__((unused))) /* r0 */
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "vpush   {d8-d11}\n\t"
        "mov     r12, r0\n\t"
        "ldrd    r10, r11, [r12, #0]\n\t"
        "ldrd    r2, r3, [r12, #24]\n\t"
        "ldrd    r4, r5, [r12, #32]\n\t"
        "ldrd    r6, r7, [r12, #40]\n\t"
        "ldrd    r8, r9, [r12, #48]\n\t"
        "vdup.32 q5, r6\n\t"
        "vldrw.32 q4, [r12, #80]\n\t"
        "ldr     r0, [r12, #12]\n\t"
        "push    {r0}\n\t"                    /* the lines left */
        "1:\n\t"                             /* a line */
        "mov     r0, r10\n\t"
        "mov     r1, r11\n\t"
        "ldr     lr, [r12, #72]\n\t"
        "cmp     lr, #0\n\t"
        "beq     3f\n\t"
        "dls     lr, lr\n\t"
        "2:\n\t"                             /* eight outputs */
        "vldrb.s32 q0, [r0]\n\t"
        "vmlas.s32 q0, q5, r5\n\t"
        "vldrb.s32 q1, [r0, #4]\n\t"
        "vmlas.s32 q1, q5, r5\n\t"
        "vldrb.s32 q3, [r0, #1]\n\t"
        "vmla.s32 q0, q3, r7\n\t"
        "vldrb.s32 q3, [r0, #5]\n\t"
        "vmla.s32 q1, q3, r7\n\t"
        "vldrb.s32 q3, [r0, #2]\n\t"
        "vmla.s32 q0, q3, r8\n\t"
        "vldrb.s32 q3, [r0, #6]\n\t"
        "vmla.s32 q1, q3, r8\n\t"
        "adds    r0, #8\n\t"
        LINE3P_OUT5("q0")
        LINE3P_OUT5("q1")
        TINYASC_ASM_NARROW_PAIR("q3", "q0", "q1", "q0")
        "vstrb.16 q0, [r1, q4]\n\t"
        "add     r1, r1, r9, lsl #1\n\t"
        "le      lr, 2b\n\t"
        "3:\n\t"                             /* the last n % 8, four at a time */
        "ldr     lr, [r12, #8]\n\t"
        "ands    lr, lr, #7\n\t"
        "beq     5f\n\t"
        "vldrw.32 q2, [r12, #56]\n\t"
        "dlstp.32 lr, lr\n\t"
        "4:\n\t"
        "vdup.32 q0, r5\n\t"
        "vldrb.s32 q1, [r0, #1]\n\t"
        "vmla.s32 q0, q1, r7\n\t"
        "vldrb.s32 q1, [r0, #2]\n\t"
        "vmla.s32 q0, q1, r8\n\t"
        "vldrb.s32 q1, [r0], #4\n\t"
        "vmla.s32 q0, q1, r6\n\t"
        LINE3P_OUT5("q0")
        "vqshl.s32 q0, q0, #24\n\t"
        "vshr.s32 q0, q0, #24\n\t"
        "vstrb.32 q0, [r1, q2]\n\t"
        "vadd.i32 q2, q2, r9\n\t"
        "letp    lr, 4b\n\t"
        "5:\n\t"
        "ldr     r0, [r12, #16]\n\t"
        "add     r10, r10, r0\n\t"
        "ldr     r0, [r12, #20]\n\t"
        "add     r11, r11, r0\n\t"
        "ldr     r0, [sp]\n\t"
        "subs    r0, r0, #1\n\t"
        "str     r0, [sp]\n\t"
        "bne     1b\n\t"
        "add     sp, sp, #4\n\t"
        "vpop    {d8-d11}\n\t"
        "pop     {r4-r11, pc}\n\t");
}
#undef LINE3P_OUT5

/* The shortest line on planes: a channel's constants, staging and asm call cost about 300 cycles and a line about 20
 * more, against about 2.6-3 saved per output since the passes of eight (the quick model on the M55's timing model:
 * its lines of 32 outputs 7-12% faster than line3_mve; of 128 and 64 23% and 24%). */
#define LINE3P_MIN_LEN 32 /* generator.LINE3P_MIN_LEN */

/* One batch's channels of a three-tap line layer through line3p_run_mve (plane rows of pitch bytes, bands of band
 * lines; the padding columns already hold the input zero point). In place (in == out) as well: a band's outputs of a
 * channel are written after the band's lines of that channel were staged, and nothing else reads them. */
static void line3p_channels(const tinyasc_conv_params *p, const tinyasc_lines *g, const tinyasc_weights *w,
                            int32_t wt, int32_t wc, int32_t pitch, int32_t band, const int8_t *in, int8_t *out)
{
    const int32_t cols = pitch - 3, lo = g->pad, hi = g->len_in + g->pad < cols ? g->len_in + g->pad : cols;
    const int32_t RO = g->out_step;
    line3p_run r = {.n = g->len_out, .pitch = pitch, .out_line = g->out_line, .zp = p->output_offset, .step = 4 * RO,
                    .offs = {0, RO, 2 * RO, 3 * RO}, .passes = g->len_out / 8};
    tinyasc_pair_offsets(r.offs2, RO);
    for (int32_t c = 0; c < p->in_c; c++) {
        const int8_t *wp = w->data + c * wc;
        r.k0 = wp[0], r.k1 = wp[wt], r.k2 = wp[2 * wt], r.m = w->multiplier[c], r.neg_r = w->shift[c];
        r.base = (w->bias ? w->bias[c] : 0) + (r.k0 + r.k1 + r.k2) * p->input_offset;
        for (int32_t l0 = 0; l0 < g->lines; l0 += band) {
            const int32_t n = g->lines - l0 < band ? g->lines - l0 : band;
            tinyasc_plane_stage_mve(in + g->in_first + c, g->in_step, g->in_line, g->lines, -g->pad, l0, n, pitch,
                                    lo, hi, (int8_t)(-p->input_offset), 1, tinyasc_mve_gather);
            r.in = tinyasc_mve_gather, r.out = out + l0 * g->out_line + c, r.lines = n;
            line3p_run_mve(&r);
        }
    }
}

/* Every batch of a three-tap line layer on planes, 0; -1 (nothing written) where the layer is not a three-tap line on
 * the whole int8 range and the four-lane output path, its lines are shorter than LINE3P_MIN_LEN outputs, or a
 * gather's offsets or a plane row do not fit. Called by tinyasc_chan_column_s8 before the line kernels' large frame
 * (the planes' frames on top of that one measured +280 bytes of stack on the quick model). */
int tinyasc_line3p_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                      int32_t wt, int32_t wc)
{
    tinyasc_lines g;
    if (tinyasc_chan_lines_of(p, input, output, &g) != 0 || g.taps != 3 || !tinyasc_full_range(p) ||
        g.len_out < LINE3P_MIN_LEN || 7 * g.in_step > 65535 || !tinyasc_pair_offsets_fit(g.out_step) ||
        !tinyasc_out_x4_ok(p, w))
        return -1;
    const int32_t pitch = g.len_out + 2 + 3; /* the window's reach, and three more the last vector's lanes read */
    const int32_t band = (int32_t)sizeof(tinyasc_mve_gather) / pitch;
    if (band < 1) return -1;
    memset(tinyasc_mve_gather, -p->input_offset, (size_t)((g.lines < band ? g.lines : band) * pitch)); /* padding */
    const int32_t in_b = p->in_h * p->in_w * p->in_c, out_b = p->out_h * p->out_w * p->out_c;
    for (int32_t b = 0; b < p->batches; b++)
        line3p_channels(p, &g, w, wt, wc, pitch, band, input + b * in_b, output + b * out_b);
    return 0;
}
#else
int tinyasc_line3p_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                      int32_t wt, int32_t wc)
{
    (void)p; (void)w; (void)input; (void)output; (void)wt; (void)wc;
    return -1; /* planes of four outputs per vector need Helium */
}
#endif
