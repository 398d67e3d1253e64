/*
 * Zero-skipping CONV_2D over tinyasc_sparse_weights. Output channel by output channel, the row is
 * decoded once into one word per non-zero, (value << 16) | window offset, the offset being
 * (ky * dil_h * in_w + kx * dil_w) * in_c + ic (the generator stores a layer sparse only when every
 * offset fits 16 bits: TINYASC_SPARSE_MAX_SPAN). A window wholly inside the input then costs one word
 * load, one byte load and one multiply-accumulate per non-zero, starting from the channel's constant
 * bias + input_offset * (sum of its non-zeros), several pixels per pass so that each word serves all
 * of them (the DSP cores: a channel's rows in one asm call, passes of four or eight; a 1x1 layer at stride 1
 * without padding as one row of all its pixels); windows that cross the border take TFLite's
 * skip-the-padding sum tap by tap. The requantization takes the folded form with the zero point in the
 * rounding constant where the channel allows it (tinyasc_rq_zp_folds, full int8 range), else the
 * general one. Integer sums are only reordered, so the result is bit-exact with the dense kernels.
 */
#include "tinyasc_opt.h"
#include "tinyasc_sparse.h"
#include "tinyasc_sparse_asm.h"
#include <stddef.h>
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
/* acc + (word >> 16) * x: SMLATB takes the weight from the word's top half */
#define SP_MAC(acc, word, x) __smlatb((int32_t)(word), (int32_t)(x), (acc))
#else
#define SP_MAC(acc, word, x) ((acc) + ((int32_t)(word) >> 16) * (int32_t)(x))
#endif

/* on the DSP cores one word more than non-zeros: the passes of eight find a row's end at a zero word (no weight is
 * 0) */
static uint32_t pk_tab[TINYASC_SPARSE_MAX_K + SP_QUADS_ASM];
/* each non-zero's ky and kx (border windows), one block: the Helium one-channel kernel stages its rows there */
static uint8_t tap_yx[2 * TINYASC_SPARSE_MAX_K];
#define ky_tab tap_yx
#define kx_tab (tap_yx + TINYASC_SPARSE_MAX_K)

/* Sum of the non-zeros over a window wholly inside the input, starting at base. */
static inline __attribute__((always_inline)) int32_t sp_dot(const uint32_t *pk, int32_t n, const int8_t *base,
                                                            int32_t acc)
{
    int32_t j = 0;
    for (; j + 1 < n; j += 2) {
        const uint32_t a = pk[j], b = pk[j + 1];
        acc = SP_MAC(acc, a, base[a & 0xFFFFu]);
        acc = SP_MAC(acc, b, base[b & 0xFFFFu]);
    }
    if (j < n) acc = SP_MAC(acc, pk[j], base[pk[j] & 0xFFFFu]);
    return acc;
}

/* The same sum over two windows (base0, base1) at once. */
static inline __attribute__((always_inline)) void sp_dot2(const uint32_t *pk, int32_t n, const int8_t *base0,
                                                          const int8_t *base1, int32_t *a0, int32_t *a1)
{
    int32_t s0 = *a0, s1 = *a1;
    for (int32_t j = 0; j < n; j++) {
        const uint32_t w = pk[j], off = w & 0xFFFFu;
        s0 = SP_MAC(s0, w, base0[off]);
        s1 = SP_MAC(s1, w, base1[off]);
    }
    *a0 = s0;
    *a1 = s1;
}

/* The same sum over four windows step bytes apart (base, base + step, ...): each non-zero's word loaded once
 * for four pixels. */
static inline __attribute__((always_inline)) void sp_dot4(const uint32_t *pk, int32_t n, const int8_t *base,
                                                          int32_t step, int32_t *a0, int32_t *a1, int32_t *a2,
                                                          int32_t *a3)
{
    int32_t s0 = *a0, s1 = *a1, s2 = *a2, s3 = *a3;
    const int32_t step2 = 2 * step, step3 = 3 * step;
    for (int32_t j = 0; j < n; j++) {
        const uint32_t w = pk[j];
        const int8_t *x = base + (w & 0xFFFFu);
        s0 = SP_MAC(s0, w, x[0]);
        s1 = SP_MAC(s1, w, x[step]);
        s2 = SP_MAC(s2, w, x[step2]);
        s3 = SP_MAC(s3, w, x[step3]);
    }
    *a0 = s0, *a1 = s1, *a2 = s2, *a3 = s3;
}


#if SP_QUADS_ASM
/* the folded output path of one sum (m in r0, rnd in r1, sh in r3) */
#define SP_OUT(acc, dst)                                                                                         \
        "and    r8, " acc ", #0x80000000\n\t"                                                                   \
        "add    r11, r1, " acc ", asr #31\n\t"                                                                  \
        "orr    r8, r8, #0x40000000\n\t"                                                                        \
        "smlal  r8, r11, " acc ", r0\n\t"                                                                       \
        "asr    r11, r11, r3\n\t"                                                                               \
        "ssat   r11, #8, r11\n\t"                                                                               \
        "strb   r11, " dst "\n\t"

/* An interior segment's windows on the folded output path, on the DSP cores, rows of them: per row, passes of four
 * windows (sp_dot4 then tinyasc_out_fast four times per pass, the same instructions as the C: SMLATB per non-zero
 * and window; AND, ADD, ORR, SMLAL, ASR, SSAT, STRB per output), then the row's last windows one at a time; the
 * next row's first window row_gap bytes after the last window's end. Compiled from C, GCC kept the loop state in
 * registers and reloaded the output constants from the stack for each of the four outputs of a pass, and the C
 * row loop around a call cost more than a pass; here the sums, the non-zeros' pointers and the window base stay in
 * registers, the constants are loaded once per pass (LDRD) and one call takes a channel's rows (a 1x1 layer's
 * pixels are one row). A ReLU range's channel takes sp_octs_relu_dsp below instead, with the same record.
 * Offsets below (bytes) are those of sp_row; the struct's o advances with the windows, rows counts down. */
static __attribute__((naked, noinline)) void sp_quads_dsp(sp_row *r __attribute__((unused))) /* r arrives in r0 */
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "mov    r12, r0\n\t"
        "ldr    r2, [r12, #8]\n\t"         /* base */
        "0:\n\t"                           /* a row */
        "ldrd   r3, lr, [r12, #12]\n\t"    /* step, passes */
        "cmp    lr, #0\n\t"
        "beq    4f\n\t"
        "1:\n\t"
        "ldr    r4, [r12, #20]\n\t"          /* four sums from acc_in */
        "mov    r5, r4\n\t"
        "mov    r6, r4\n\t"
        "mov    r7, r4\n\t"
        "ldrd   r0, r1, [r12, #0]\n\t"       /* pk, pk_end */
        "cmp    r0, r1\n\t"
        "beq    3f\n\t"
        "2:\n\t"
        "ldr    r8, [r0], #4\n\t"            /* (weight << 16) | offset */
        "uxtah  r9, r2, r8\n\t"              /* the first window's byte */
        "ldrsb  r10, [r9]\n\t"
        "ldrsb  r11, [r9, r3]\n\t"
        "smlatb r4, r8, r10, r4\n\t"
        "smlatb r5, r8, r11, r5\n\t"
        "add    r9, r9, r3, lsl #1\n\t"
        "ldrsb  r10, [r9]\n\t"
        "ldrsb  r11, [r9, r3]\n\t"
        "smlatb r6, r8, r10, r6\n\t"
        "smlatb r7, r8, r11, r7\n\t"
        "cmp    r0, r1\n\t"
        "bne    2b\n\t"
        "3:\n\t"
        "ldrd   r0, r1, [r12, #24]\n\t"      /* m, rnd */
        "ldr    r3, [r12, #32]\n\t"          /* sh (step reloaded below) */
        "ldrd   r9, r10, [r12, #36]\n\t"     /* ostep, o */
        SP_OUT("r4", "[r10]")
        SP_OUT("r5", "[r10, r9]")
        "add    r10, r10, r9, lsl #1\n\t"
        SP_OUT("r6", "[r10]")
        SP_OUT("r7", "[r10, r9]")
        "add    r10, r10, r9, lsl #1\n\t"
        "str    r10, [r12, #40]\n\t"
        "ldr    r3, [r12, #12]\n\t"          /* step */
        "add    r2, r2, r3, lsl #2\n\t"      /* next four windows */
        "subs   lr, lr, #1\n\t"
        "bne    1b\n\t"
        "4:\n\t"                           /* the row's last windows, one at a time */
        "ldr    lr, [r12, #44]\n\t"
        "cmp    lr, #0\n\t"
        "beq    7f\n\t"
        "5:\n\t"
        "ldr    r4, [r12, #20]\n\t"
        "ldrd   r0, r1, [r12, #0]\n\t"
        "cmp    r0, r1\n\t"
        "beq    6f\n\t"
        "8:\n\t"
        "ldr    r8, [r0], #4\n\t"
        "uxtah  r9, r2, r8\n\t"
        "ldrsb  r10, [r9]\n\t"
        "smlatb r4, r8, r10, r4\n\t"
        "cmp    r0, r1\n\t"
        "bne    8b\n\t"
        "6:\n\t"
        "ldrd   r0, r1, [r12, #24]\n\t"
        "ldr    r3, [r12, #32]\n\t"
        "ldrd   r9, r10, [r12, #36]\n\t"
        SP_OUT("r4", "[r10]")
        "add    r10, r10, r9\n\t"
        "str    r10, [r12, #40]\n\t"
        "ldr    r3, [r12, #12]\n\t"
        "add    r2, r2, r3\n\t"
        "subs   lr, lr, #1\n\t"
        "bne    5b\n\t"
        "7:\n\t"                           /* the next row */
        SP_NEXT_ROW
        "pop    {r4-r11, pc}\n\t");
}

/* One non-zero (its word in r1) over the eight windows (the first at r2 + its offset, step r3 bytes apart): UXTAH,
 * eight LDRSB and SMLATB into the sums r4..r11, three ADD. F4..F11: what each sum adds to, itself, or acc_in (r11) for
 * the pass's first non-zero, which starts all eight sums from it (no copies of acc_in; r11 is written last). */
#define SP_OCT_TAP(F4, F5, F6, F7, F8, F9, F10, F11)                                                            \
        "uxtah  r12, r2, r1\n\t"                                                                                \
        "ldrsb  lr, [r12]\n\t"                                                                                  \
        "smlatb r4, r1, lr, " F4 "\n\t"                                                                         \
        "ldrsb  lr, [r12, r3]\n\t"                                                                              \
        "smlatb r5, r1, lr, " F5 "\n\t"                                                                         \
        "add    r12, r12, r3, lsl #1\n\t"                                                                       \
        "ldrsb  lr, [r12]\n\t"                                                                                  \
        "smlatb r6, r1, lr, " F6 "\n\t"                                                                         \
        "ldrsb  lr, [r12, r3]\n\t"                                                                              \
        "smlatb r7, r1, lr, " F7 "\n\t"                                                                         \
        "add    r12, r12, r3, lsl #1\n\t"                                                                       \
        "ldrsb  lr, [r12]\n\t"                                                                                  \
        "smlatb r8, r1, lr, " F8 "\n\t"                                                                         \
        "ldrsb  lr, [r12, r3]\n\t"                                                                              \
        "smlatb r9, r1, lr, " F9 "\n\t"                                                                         \
        "add    r12, r12, r3, lsl #1\n\t"                                                                       \
        "ldrsb  lr, [r12]\n\t"                                                                                  \
        "smlatb r10, r1, lr, " F10 "\n\t"                                                                       \
        "ldrsb  lr, [r12, r3]\n\t"                                                                              \
        "smlatb r11, r1, lr, " F11 "\n\t"
static __attribute__((naked, noinline)) void sp_octs_relu_dsp(sp_row *r __attribute__((unused)))
{
    __asm__ volatile(SP_OCTS_BODY(SP_OCT_TAP));
}
/* One non-zero (its word in r1) over four windows down two neighbouring columns whose inputs lie two bytes apart (a
 * one-channel layer at stride 2 along x), the first at r2 + its offset, rows r3 bytes apart: per row one LDR of the
 * four bytes from the first column's input (the second column's is the word's third byte), SXTB16 (both as int16
 * halves), SMLATB into the first column's sum and SMLATT into the second's: r4..r7 and r8..r11 down the rows. F4..F11
 * as SP_OCT_TAP's (r11 written last). */
#define SP_PAIR_TAP(F4, F5, F6, F7, F8, F9, F10, F11)                                                           \
        "uxtah  r12, r2, r1\n\t"                                                                                \
        "ldr    lr, [r12]\n\t"                                                                                  \
        "sxtb16 lr, lr\n\t"                                                                                     \
        "smlatb r4, r1, lr, " F4 "\n\t"                                                                         \
        "smlatt r8, r1, lr, " F8 "\n\t"                                                                         \
        "ldr    lr, [r12, r3]\n\t"                                                                              \
        "sxtb16 lr, lr\n\t"                                                                                     \
        "smlatb r5, r1, lr, " F5 "\n\t"                                                                         \
        "smlatt r9, r1, lr, " F9 "\n\t"                                                                         \
        "add    r12, r12, r3, lsl #1\n\t"                                                                       \
        "ldr    lr, [r12]\n\t"                                                                                  \
        "sxtb16 lr, lr\n\t"                                                                                     \
        "smlatb r6, r1, lr, " F6 "\n\t"                                                                         \
        "smlatt r10, r1, lr, " F10 "\n\t"                                                                       \
        "ldr    lr, [r12, r3]\n\t"                                                                              \
        "sxtb16 lr, lr\n\t"                                                                                     \
        "smlatb r7, r1, lr, " F7 "\n\t"                                                                         \
        "smlatt r11, r1, lr, " F11 "\n\t"
/* sp_octs_relu_dsp's channel down two neighbouring output columns at once where their windows' inputs lie two bytes
 * apart (one input channel at stride 2 along x, as the quick model's first layer, or two at stride 1): passes of four
 * rows (the record's quads; no tail), each non-zero's four words shared by both columns, so that eight windows take
 * four LDR and four SXTB16 where sp_octs_relu_dsp takes eight LDRSB (per non-zero and eight windows, the loop's load
 * and test included, 21 instructions and 27 estimated M4 cycles against 23 and 33). The outputs of the second column
 * ocol bytes after the first's, the rows ostep apart; a word read reaches one byte past the second column's window (the
 * caller keeps it inside the input's row). */
static __attribute__((naked, noinline)) void sp_pairs_relu_dsp(sp_row *r __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "sub    sp, sp, #12\n\t"          /* [sp]: r, [sp, #4]: passes left, [sp, #8]: base */
        "str    r0, [sp]\n\t"
        "ldr    r2, [r0, #8]\n\t"         /* base */
        "ldr    r1, [r0, #16]\n\t"        /* passes */
        "str    r1, [sp, #4]\n\t"
        "1:\n\t"
        "ldr    r12, [sp]\n\t"
        "ldr    r3, [r12, #12]\n\t"       /* step */
        "ldr    r11, [r12, #20]\n\t"      /* acc_in */
        "ldr    r0, [r12, #0]\n\t"        /* pk */
        SP_NONZEROS(SP_PAIR_TAP)
        "3:\n\t"                          /* each sum's output step in its own register (no temporary) */
        "str    r2, [sp, #8]\n\t"
        "ldr    r12, [sp]\n\t"
        "ldrd   r0, r1, [r12, #24]\n\t"   /* m, rnd */
        "ldr    r3, [r12, #32]\n\t"       /* sh */
        "ldr    lr, [r12, #36]\n\t"       /* ostep */
        "ldr    r2, [r12, #56]\n\t"       /* ocol */
        "ldr    r12, [r12, #40]\n\t"      /* o */
        SP_OUT2("r4", "r8", "r4", "r8", "lr")
        SP_OUT2("r5", "r9", "r5", "r9", "lr")
        SP_OUT2("r6", "r10", "r6", "r10", "lr")
        SP_OUT2("r7", "r11", "r7", "r11", "lr")
        SP_NEXT_PASS("2")                 /* the next four rows' windows */
        "add    sp, sp, #12\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#undef SP_PAIR_TAP
#undef SP_OCT_TAP
#undef SP_OUT
#endif

#if SP_QUADS_ASM
/* The columns sp_pairs_relu_dsp takes two at a time, from the first (their inputs two bytes apart, out_h a multiple
 * of four), while the word read past the second column's window stays inside the row; returns the first column it
 * leaves. r: the columns' record (step, ostep, acc_in and the output constants set); its quads and tail restored. Not
 * inlined: in sp_channel its loop moved GCC's allocation of the other paths (+0.1-1.2% on VWW's M7 layers). */
static __attribute__((noinline)) int32_t sp_column_pairs(const tinyasc_conv_params *p, sp_row *r, const int8_t *in,
                                                        int8_t *out, int32_t ostep)
{
    const int32_t quads = r->quads, tail = r->tail;
    int32_t ox = 0;
    r->quads = p->out_h >> 2, r->tail = 0, r->rows = 1, r->row_gap = 0, r->ocol = ostep;
    const int32_t C = p->in_c, reach = (p->k_w - 1) * p->dil_w * C + C - 1 + 3; /* a window's last byte + 3 */
    for (; ox + 1 < p->out_w && ox * 2 + reach < p->in_w * C; ox += 2) {
        r->base = in + ox * 2, r->o = out + ox * ostep;
        sp_pairs_relu_dsp(r);
    }
    r->quads = quads, r->tail = tail;
    return ox;
}
#endif

/* One output of channel oc at a window that crosses the border (TFLite skips the padded taps); the weights are
 * pk_tab's top halves >> (wshift - 16) (17 where sp_octs_relu_dsp's channel has them doubled). */
static __attribute__((noinline)) int32_t sp_border(const tinyasc_conv_params *p, const int8_t *in, int32_t n,
                                                  int32_t y0, int32_t x0, int32_t bias, int32_t wshift)
{
    int32_t acc = bias;
    const int8_t *base = in + (y0 * p->in_w + x0) * p->in_c; /* (y, x, ic) is base + offset */
    for (int32_t j = 0; j < n; j++) {
        const int32_t y = y0 + ky_tab[j] * p->dil_h, x = x0 + kx_tab[j] * p->dil_w;
        if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w) continue;
        acc += ((int32_t)pk_tab[j] >> wshift) * ((int32_t)base[pk_tab[j] & 0xFFFFu] + p->input_offset);
    }
    return acc;
}

/* Channel oc over every output pixel; fast: the folded output path (constants rnd, sh). */
#if SP_QUADS_ASM
/* The n weights of pk_tab (top halves) doubled (twice) or halved back (not twice): one copy for sp_channel's two. */
static __attribute__((noinline)) void sp_rescale(int32_t n, int twice)
{
    for (int32_t j = 0; j < n; j++)
        pk_tab[j] = twice ? pk_tab[j] + (pk_tab[j] & 0xFFFF0000u)
                          : (pk_tab[j] & 0xFFFFu) | ((uint32_t)((int32_t)pk_tab[j] >> 17) << 16);
}
#endif

static inline __attribute__((always_inline)) void sp_channel(const tinyasc_conv_params *p, const int8_t *input,
                                                             int8_t *output, int32_t oc, int32_t n, int32_t bias,
                                                             int32_t acc_in, int32_t m, int32_t s, int32_t rnd,
                                                             int32_t sh, int32_t ox_lo, int32_t ox_hi, const int fast,
                                                             int relu, int32_t rrnd, int32_t rsh, int doubled,
                                                             int32_t step, void (*octs_run)(sp_row *))
{
    /* relu (DSP cores, with fast): the channel's interior windows take octs_run (sp_octs_relu_dsp, or
     * tinyasc_sparse_t_s8 on a transposed input), constants rrnd, rsh (tinyasc_rq_relu_consts); every other output
     * takes the folded form. step: bytes between neighbouring windows along a row (1 on a transposed input) */
    (void)relu, (void)rrnd, (void)rsh, (void)doubled, (void)octs_run; /* the DSP cores' asm passes only */
    const int32_t C = p->in_c, span_h = (p->k_h - 1) * p->dil_h, ostep = p->out_c;
#if SP_QUADS_ASM
    /* every window inside the input: one call takes the channel's rows */
    const int all_in = p->out_h > 0 && p->out_w > 0 && p->pad_h == 0 &&
                       (p->out_h - 1) * p->stride_h + span_h < p->in_h && ox_lo == 0 && ox_hi == p->out_w;
    /* a ReLU range's channel with a non-zero: passes of eight in the ReLU form; else passes of four, folded */
    const int octs = relu && n > 0, per = octs ? 3 : 2;
    sp_row r; /* field by field: an initializer's zeroed rest was a memset call per channel */
    r.pk = pk_tab, r.pk_end = pk_tab + n, r.step = step, r.acc_in = octs ? 2 * acc_in : acc_in, r.m = m;
    r.rnd = octs ? rrnd : rnd, r.sh = octs ? rsh : sh, r.ostep = ostep;
    /* the ReLU form's sums arrive doubled: each weight doubled in its word's top half (|2 w| < 2^15); the decoding
     * doubled them where the layer may take that form (doubled), so a channel that does not halves them back */
    if (octs != doubled) sp_rescale(n, octs);
    const int32_t wshift = octs ? 17 : 16;
#else
    const int32_t wshift = 16;
#endif
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        int8_t *out = output + b * p->out_h * p->out_w * p->out_c + oc;
#if SP_QUADS_ASM
        if (fast && all_in) {
            const int32_t mask = (1 << per) - 1, row_bytes = p->stride_h * p->in_w * C;
            if ((p->out_w & mask) * p->out_h > (p->out_h & mask) * p->out_w) {
                /* fewer windows left over by passes down the columns than along the rows (the quick model's first
                 * layer: 17 columns of 128 rows, no window one by one instead of 128): one call per column, its
                 * windows stride_h rows apart, its outputs a row of outputs apart */
                r.step = row_bytes, r.ostep = p->out_w * ostep, r.quads = p->out_h >> per, r.tail = p->out_h & mask;
                int32_t ox = 0;
                if (octs && step == 2 && (p->out_h & 3) == 0) ox = sp_column_pairs(p, &r, in, out, ostep);
                for (; ox < p->out_w; ox++) {
                    r.base = in + ox * step, r.o = out + ox * ostep, r.rows = 1, r.row_gap = 0;
                    if (octs) sp_octs_relu_dsp(&r);
                    else sp_quads_dsp(&r);
                }
                r.step = step, r.ostep = ostep;
                continue;
            }
            r.base = in, r.o = out, r.quads = p->out_w >> per, r.tail = p->out_w & mask;
            r.rows = p->out_h, r.row_gap = row_bytes - p->out_w * step;
            if (octs) octs_run(&r);
            else sp_quads_dsp(&r);
            continue;
        }
#endif
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int row_in = y0 >= 0 && y0 + span_h < p->in_h;
            int8_t *o = out + oy * p->out_w * ostep;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                if (row_in && ox == ox_lo) {
                    const int8_t *base = in + (y0 * p->in_w + ox_lo * p->stride_w - p->pad_w) * C;
                    /* several pixels per pass: each non-zero's word loaded once for all the windows */
#if SP_QUADS_ASM
                    if (fast) { /* the segment's windows in one call */
                        const int32_t nw = ox_hi - ox;
                        r.base = base, r.o = o, r.quads = nw >> per, r.tail = nw & ((1 << per) - 1), r.rows = 1;
                        r.row_gap = 0;
                        if (octs) sp_octs_relu_dsp(&r);
                        else sp_quads_dsp(&r);
                        ox += nw, base += nw * step, o += nw * ostep;
                    } else
#endif
                    {
                        for (; ox + 3 < ox_hi; ox += 4, base += 4 * step, o += 4 * ostep) {
                            int32_t a0 = acc_in, a1 = acc_in, a2 = acc_in, a3 = acc_in;
                            sp_dot4(pk_tab, n, base, step, &a0, &a1, &a2, &a3);
                            o[0] = fast ? tinyasc_out_fast(a0, m, rnd, sh) : tinyasc_opt_out_ms(p, a0, m, s);
                            o[ostep] = fast ? tinyasc_out_fast(a1, m, rnd, sh) : tinyasc_opt_out_ms(p, a1, m, s);
                            o[2 * ostep] = fast ? tinyasc_out_fast(a2, m, rnd, sh) : tinyasc_opt_out_ms(p, a2, m, s);
                            o[3 * ostep] = fast ? tinyasc_out_fast(a3, m, rnd, sh) : tinyasc_opt_out_ms(p, a3, m, s);
                        }
                        for (; ox + 1 < ox_hi; ox += 2, base += 2 * step, o += 2 * ostep) {
                            int32_t a0 = acc_in, a1 = acc_in;
                            sp_dot2(pk_tab, n, base, base + step, &a0, &a1);
                            o[0] = fast ? tinyasc_out_fast(a0, m, rnd, sh) : tinyasc_opt_out_ms(p, a0, m, s);
                            o[ostep] = fast ? tinyasc_out_fast(a1, m, rnd, sh) : tinyasc_opt_out_ms(p, a1, m, s);
                        }
                        if (ox < ox_hi) {
                            const int32_t acc = sp_dot(pk_tab, n, base, acc_in);
                            *o = fast ? tinyasc_out_fast(acc, m, rnd, sh) : tinyasc_opt_out_ms(p, acc, m, s);
                            ox++, o += ostep;
                        }
                    }
                    if (ox >= p->out_w) break;
                }
                const int32_t acc = sp_border(p, in, n, y0, ox * p->stride_w - p->pad_w, bias, wshift);
                *o = fast ? tinyasc_out_fast(acc, m, rnd, sh) : tinyasc_opt_out_ms(p, acc, m, s);
                o += ostep;
            }
        }
    }
}

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>
/*
 * One input channel on Helium (the spectrogram's first layer; its kernel also carries the pointwise layers below): the
 * output pixels in int32 lanes, output channel by output channel, and per channel only its own non-zeros. The pixels
 * go in chunks of sixteen (four vectors of four, so that each non-zero is read once per chunk), each non-zero one
 * VLDRB.S32 of four pixels' inputs (contiguous bytes, or a gather) and one VMLA by the weight as a scalar per vector,
 * the first one a VMLAS onto the channel's constant (the weight in every lane of a vector register: x w + constant, no
 * copy of the constant per vector); every channel has a first entry (one without non-zeros: in the one-channel layer's
 * table a weight of 0 at offset 0, c1_entries; on the pointwise layers, whose groups' tables keep their sizes, a path
 * of its own, C1_EMPTY). A chunk's sixteen sums leave through the four-lane output path without its clamp
 * (tinyasc_rq_x4_apply's first five instructions, the channel's constants as scalars), then two vectors at a time
 * narrowed with saturation to int16 halves (VQMOVNB, VQMOVNT: the first vector's four in the even halves, the second's
 * in the odd) and to int8 (VQMOVNB.S16, the low byte of each half: the clamp to [-128, 127] of both narrowings),
 * stored by one VSTRB.16 scatter of eight bytes (16-bit offsets 0, 4C, C, 5C, ...: the halves' order): 28 vector
 * instructions for sixteen outputs where four clamps and four VSTRB.32 took 32. The last pixels go a vector at a time
 * through the whole output path and a predicated VSTRB.32. Along the output rows (c1_row_s1_mve / c1_row_s2_mve:
 * stride 1 or 2 along x, whose steps are immediates), the k_h input rows an output row reads are staged once per
 * output row (tinyasc_stage_rows_c1: the input zero point in the padding, so that with the input offset folded into
 * each channel's constant, bias + off * sum w, a tap outside the input adds exactly nothing), one call per output row;
 * where every window lies inside the input and the rows outnumber the columns, down the output columns with the input
 * read in place (c1_col_mve: the steps in registers, the last vector's gathers predicated), one call per column.
 * Compiled from C, the loops' scalar work (their pointers, constants and counts spilled) had cost as much as the
 * vector work. Scratch: the channels' constants and non-zeros in pk_tab, the staged rows in tap_yx. -1 where the layer
 * does not fit them, the output path does not take it or the stride is another. Offsets below are those of c1_row.
 */
typedef struct {
    const int8_t *x;     /* 0: the staged rows (c1_col_mve: the input itself) */
    int8_t *o;           /* 4: the row's first output */
    const int32_t *cst;  /* 8: per channel its constant (bias + off * sum w), m, -r, entries */
    const int32_t *ent;  /* 12: per entry its offset (staged: ky span + kx dil; c1_col_mve: in the input) and weight */
    int32_t channels;    /* 16 */
    int32_t chunks;      /* 20: chunks of sixteen pixels */
    int32_t tail;        /* 24: pixels after them (0 .. 15) */
    int32_t ostep;       /* 28: output bytes per chunk (16 C) */
    int32_t vo;          /* 32: output bytes per vector (4 C) */
    int32_t zp;          /* 36: the output zero point */
    int32_t vstep;       /* 40: down a column (c1_col_mve), the input's step to the next vector (4 st_h in_w) */
    int32_t pad;
    uint32_t xin[4];     /* 48: a vector's inputs: 0, s, 2s, 3s (down a column 0, st_h in_w, ...) */
    uint32_t xout[4];    /* 64: its outputs: 0, C, 2C, 3C (the row's last vectors) */
    uint16_t xout2[8];   /* 80: a narrowed pair's: 0, 4C, C, 5C, 2C, 6C, 3C, 7C (7C < 2^16: tinyasc_pair_offsets_fit) */
} c1_row;
typedef char c1_row_is_the_asm_layout[(offsetof(c1_row, x) == 0 && offsetof(c1_row, o) == 4 &&
                                       offsetof(c1_row, cst) == 8 && offsetof(c1_row, ent) == 12 &&
                                       offsetof(c1_row, channels) == 16 && offsetof(c1_row, chunks) == 20 &&
                                       offsetof(c1_row, tail) == 24 && offsetof(c1_row, ostep) == 28 &&
                                       offsetof(c1_row, vo) == 32 && offsetof(c1_row, zp) == 36 &&
                                       offsetof(c1_row, vstep) == 40 && offsetof(c1_row, xin) == 48 &&
                                       offsetof(c1_row, xout) == 64 &&
                                       offsetof(c1_row, xout2) == 80) ? 1 : -1];

/* A channel's entries in c1_row's table: its non-zeros, or where it has none one of weight 0 at offset 0 (every
 * channel's first entry starts its sums) */
static inline int32_t c1_entries(int32_t nnz)
{
    return nnz > 0 ? nnz : 1;
}

/* A record's output offsets for C bytes between outputs: a vector's four and a narrowed pair's eight. */
static void c1_out_offsets(c1_row *r, int32_t C)
{
    for (int32_t j = 0; j < 4; j++) r->xout[j] = (uint32_t)(j * C);
    tinyasc_pair_offsets(r->xout2, C);
}

/* the four-lane output path of the sums in v without its clamp: m in r5, -r in r6, the zero point in r8 (q4
 * scratch) */
#define C1_OUT5(v) TINYASC_ASM_OUT5(v, "q4", "r5", "r6", "r8")
/* ... and with it */
#define C1_OUT(v)                                                                                                \
        C1_OUT5(v)                                                                                                \
        "vqshl.s32 " v ", " v ", #24\n\t"                                                                         \
        "vshr.s32 " v ", " v ", #24\n\t"
/* the outputs of vectors a and b narrowed into the low bytes of a's halves (through q4) and stored by one scatter
 * (the pair's offsets in q6), r1 on by two vectors' outputs (r10: one vector's) */
#define C1_PAIR_STORE(a, b)                                                                                      \
        TINYASC_ASM_NARROW_PAIR("q4", a, b, a)                                                                    \
        "vstrb.16 " a ", [r1, q6]\n\t"                                                                            \
        "add    r1, r1, r10, lsl #1\n\t"
/* a chunk's sixteen sums (q0-q3) out, the input on by X16, the chunks left (r12) counted down: the flags for a BNE */
#define C1_CHUNK_OUT(X16)                                                                                        \
        C1_OUT5("q0")                                                                                             \
        C1_OUT5("q1")                                                                                             \
        C1_OUT5("q2")                                                                                             \
        C1_OUT5("q3")                                                                                             \
        C1_PAIR_STORE("q0", "q1")                                                                                 \
        C1_PAIR_STORE("q2", "q3")                                                                                 \
        "add    r0, r0, " X16 "\n\t"                                                                              \
        "subs   r12, r12, #1\n\t"
/* one non-zero (offset in r2, weight in r11) into the vector v of pixels V4 bytes of staged input further */
#define C1_MAC(v)                                                                                                \
        "vldrb.s32 q4, [r2, q5]\n\t"                                                                             \
        "vmla.s32 " v ", q4, r11\n\t"
/* the first non-zero (offset in r2, its weight in every lane of W) into the four vectors of a chunk of sixteen
 * pixels from the constant (r4); then the others: gathers (xin in q5) V4 bytes apart (a row at stride 2, down a
 * column, a pointwise layer's pixels), or along a row at stride 1 contiguous loads at immediate offsets */
#define C1_FIRST4_GATHER(W, V4)                                                                                  \
        "vldrb.s32 q0, [r2, q5]\n\t"                                                                             \
        "vmlas.s32 q0, " W ", r4\n\t"                                                                            \
        "add    r2, r2, " V4 "\n\t"                                                                               \
        "vldrb.s32 q1, [r2, q5]\n\t"                                                                             \
        "vmlas.s32 q1, " W ", r4\n\t"                                                                            \
        "add    r2, r2, " V4 "\n\t"                                                                               \
        "vldrb.s32 q2, [r2, q5]\n\t"                                                                             \
        "vmlas.s32 q2, " W ", r4\n\t"                                                                            \
        "add    r2, r2, " V4 "\n\t"                                                                               \
        "vldrb.s32 q3, [r2, q5]\n\t"                                                                             \
        "vmlas.s32 q3, " W ", r4\n\t"
#define C1_FIRST4_S1(W)                                                                                          \
        "vldrb.s32 q0, [r2]\n\t"                                                                                 \
        "vmlas.s32 q0, " W ", r4\n\t"                                                                            \
        "vldrb.s32 q1, [r2, #4]\n\t"                                                                             \
        "vmlas.s32 q1, " W ", r4\n\t"                                                                            \
        "vldrb.s32 q2, [r2, #8]\n\t"                                                                             \
        "vmlas.s32 q2, " W ", r4\n\t"                                                                            \
        "vldrb.s32 q3, [r2, #12]\n\t"                                                                            \
        "vmlas.s32 q3, " W ", r4\n\t"
#define C1_MACS4_GATHER(V4)                                                                                      \
        C1_MAC("q0")                                                                                              \
        "add    r2, r2, " V4 "\n\t"                                                                               \
        C1_MAC("q1")                                                                                              \
        "add    r2, r2, " V4 "\n\t"                                                                               \
        C1_MAC("q2")                                                                                              \
        "add    r2, r2, " V4 "\n\t"                                                                               \
        C1_MAC("q3")
#define C1_MACS4_S1                                                                                              \
        "vldrb.s32 q4, [r2]\n\t"                                                                                 \
        "vmla.s32 q0, q4, r11\n\t"                                                                               \
        "vldrb.s32 q4, [r2, #4]\n\t"                                                                             \
        "vmla.s32 q1, q4, r11\n\t"                                                                               \
        "vldrb.s32 q4, [r2, #8]\n\t"                                                                             \
        "vmla.s32 q2, q4, r11\n\t"                                                                               \
        "vldrb.s32 q4, [r2, #12]\n\t"                                                                            \
        "vmla.s32 q3, q4, r11\n\t"
#define C1_MAC1_S1                                                                                               \
        "vldrb.s32 q4, [r2]\n\t"                                                                                 \
        "vmla.s32 q0, q4, r11\n\t"
/* V4, X16: the staged input's step to the next vector and chunk (immediates along a row, lr and lr << 2 down a
 * column); W: the vector register of the first weight (q7 with gathers; q5, which holds no gather offsets, at
 * stride 1); XO: the one of a vector's output offsets in the last pixels (at stride 1 q7 throughout, loaded by
 * ENTRY; with gathers q6, which TAIL_IN loads there and TAIL_OUT gives the pairs' offsets back); CH_FIRST, CH_NEXT:
 * the channels' count set and stepped (lr along a row; on the stack, [sp, #12], down a column, where lr is the step) */
#define C1_ROW(V4, X16, W, FIRST4, MACS4, MAC1, ENTRY, XO, TAIL_IN, TAIL_OUT, CH_FIRST, CH_NEXT, EMPTY, EMPTY_TAIL, \
               EMPTY_CHUNKS)                                                                                     \
        "push   {r4-r11, lr}\n\t"                                                                                 \
        "vpush  {d8-d15}\n\t"                                                                                     \
        "sub    sp, sp, #16\n\t"                  /* the record, the channel's first output, cst */                \
        "str    r0, [sp]\n\t"                   /* the record */                                                  \
        "ldr    r8, [r0, #36]\n\t"              /* zp */                                                          \
        "add    r9, r0, #48\n\t"                                                                                  \
        "vldrw.u32 q5, [r9]\n\t"                /* xin */                                                         \
        "vldrw.u32 q6, [r9, #32]\n\t"           /* xout2 */                                                       \
        ENTRY                                                                                                     \
        "ldrd   r2, r3, [r0, #8]\n\t"           /* cst, ent */                                                    \
        "str    r2, [sp, #8]\n\t"                                                                                 \
        "ldr    r10, [r0, #32]\n\t"             /* vo, throughout */                                              \
        CH_FIRST                                                                                                  \
        "ldr    r1, [r0, #4]\n\t"               /* o */                                                           \
        "1:\n\t"                                /* a channel */                                                   \
        "ldr    r2, [sp, #8]\n\t"                                                                                 \
        "ldm    r2!, {r4-r7}\n\t"               /* its constant, m, -r, non-zeros */                              \
        "str    r2, [sp, #8]\n\t"                                                                                 \
        "add    r7, r3, r7, lsl #3\n\t"         /* its non-zeros' end */                                          \
        "str    r1, [sp, #4]\n\t"                                                                                 \
        "ldr    r0, [sp]\n\t"                                                                                     \
        "ldr    r12, [r0, #20]\n\t"             /* chunks */                                                      \
        "ldr    r0, [r0, #0]\n\t"               /* x */                                                           \
        "cmp    r12, #0\n\t"                                                                                      \
        "beq    4f\n\t"                                                                                           \
        EMPTY                                                                                                     \
        "ldr    r11, [r3, #4]\n\t"                                                                                \
        "vdup.32 " W ", r11\n\t"                /* the first weight */                                            \
        "2:\n\t"                                /* sixteen pixels */                                              \
        "ldr    r2, [r3]\n\t"                                                                                     \
        "add    r2, r2, r0\n\t"                                                                                   \
        FIRST4                                                                                                    \
        "add    r9, r3, #8\n\t"                                                                                   \
        "cmp    r9, r7\n\t"                                                                                       \
        "beq    3f\n\t"                                                                                           \
        "5:\n\t"                                                                                                  \
        "ldrd   r2, r11, [r9], #8\n\t"          /* offset, weight */                                              \
        "add    r2, r2, r0\n\t"                                                                                   \
        MACS4                                                                                                     \
        "cmp    r9, r7\n\t"                                                                                       \
        "bne    5b\n\t"                                                                                           \
        "3:\n\t"                                                                                                  \
        C1_CHUNK_OUT(X16)                                                                                         \
        "bne    2b\n\t"                                                                                           \
        "4:\n\t"                                /* the row's last pixels, four at a time */                       \
        "ldr    r12, [sp]\n\t"                                                                                    \
        "ldr    r12, [r12, #24]\n\t"            /* tail */                                                        \
        "cmp    r12, #0\n\t"                                                                                      \
        "beq    8f\n\t"                                                                                           \
        TAIL_IN                                                                                                   \
        "6:\n\t"                                                                                                  \
        "vctp.32 r12\n\t"                       /* the pixels left, at most four stored */                        \
        "vdup.32 q0, r4\n\t"                                                                                      \
        "mov    r9, r3\n\t"                                                                                       \
        EMPTY_TAIL                                                                                                \
        "9:\n\t"                                                                                                  \
        "ldrd   r2, r11, [r9], #8\n\t"                                                                            \
        "add    r2, r2, r0\n\t"                                                                                   \
        MAC1                                                                                                      \
        "cmp    r9, r7\n\t"                                                                                       \
        "bne    9b\n\t"                                                                                           \
        "7:\n\t"                                                                                                  \
        C1_OUT("q0")                                                                                              \
        "vpst\n\t"                                                                                                \
        "vstrbt.32 q0, [r1, " XO "]\n\t"                                                                          \
        "add    r1, r1, r10\n\t"                                                                                  \
        "add    r0, r0, " V4 "\n\t"                                                                               \
        "subs   r12, r12, #4\n\t"                                                                                 \
        "bgt    6b\n\t"                                                                                           \
        TAIL_OUT                                                                                                  \
        "8:\n\t"                                                                                                  \
        "mov    r3, r7\n\t"                     /* the next channel's non-zeros */                                \
        "ldr    r1, [sp, #4]\n\t"                                                                                 \
        "add    r1, r1, #1\n\t"                 /* and first output */                                            \
        CH_NEXT                                                                                                   \
        "bne    1b\n\t"                                                                                           \
        "add    sp, sp, #16\n\t"                                                                                  \
        "vpop   {d8-d15}\n\t"                                                                                     \
        "pop    {r4-r11, pc}\n\t"                                                                                 \
        EMPTY_CHUNKS
/* A channel without non-zeros on a pointwise layer (its table holds no entry for one): its chunks from the constant
 * alone (C1_EMPTY: to 20 below; C1_EMPTY_CHUNKS, after the function's return, back to the last pixels), its last
 * vectors without a product (C1_EMPTY_TAIL) */
#define C1_EMPTY                                                                                                 \
        "cmp    r3, r7\n\t"                                                                                       \
        "beq    20f\n\t"
#define C1_EMPTY_TAIL                                                                                            \
        "cmp    r9, r7\n\t"                                                                                       \
        "beq    7f\n\t"
#define C1_EMPTY_CHUNKS(X16)                                                                                     \
        "20:\n\t"                                                                                                 \
        "vdup.32 q0, r4\n\t"                                                                                      \
        "vmov   q1, q0\n\t"                                                                                       \
        "vmov   q2, q0\n\t"                                                                                       \
        "vmov   q3, q0\n\t"                                                                                       \
        C1_CHUNK_OUT(X16)                                                                                         \
        "bne    20b\n\t"                                                                                          \
        "b      4b\n\t"
#define C1_CH_FIRST_LR "ldr lr, [r0, #16]\n\t" /* the channels */
#define C1_CH_NEXT_LR "subs lr, lr, #1\n\t"
#define C1_TAIL_IN_GATHER "ldr r2, [sp]\n\tadd r2, r2, #64\n\tvldrw.u32 q6, [r2]\n\t"  /* xout */
#define C1_TAIL_OUT_GATHER "ldr r2, [sp]\n\tadd r2, r2, #80\n\tvldrw.u32 q6, [r2]\n\t" /* xout2 again */
static __attribute__((naked, noinline)) void c1_row_s1_mve(const c1_row *q __attribute__((unused)))
{
    __asm__ volatile(C1_ROW("#4", "#16", "q5", C1_FIRST4_S1("q5"), C1_MACS4_S1, C1_MAC1_S1,
                            "vldrw.u32 q7, [r9, #16]\n\t", "q7", "", "", C1_CH_FIRST_LR, C1_CH_NEXT_LR, C1_EMPTY,
                            C1_EMPTY_TAIL, C1_EMPTY_CHUNKS("#16")));
}
static __attribute__((naked, noinline)) void c1_row_s2_mve(const c1_row *q __attribute__((unused)))
{
    __asm__ volatile(C1_ROW("#8", "#32", "q7", C1_FIRST4_GATHER("q7", "#8"), C1_MACS4_GATHER("#8"), C1_MAC("q0"), "",
                            "q6", C1_TAIL_IN_GATHER, C1_TAIL_OUT_GATHER, C1_CH_FIRST_LR, C1_CH_NEXT_LR, "", "",
                            ""));
}
/* Pixels read in place from the input, vstep bytes between vectors (the record's xin within one): down a column of
 * output rows where every window lies inside the input (the rows st_h in_w bytes apart), or a pointwise layer's
 * pixels (their K channels apart, a non-zero's offset its input channel); lr the step; the last vector's gathers
 * predicated (no byte past the last pixel read); a channel without non-zeros by the constant path */
#define C1_MAC_PRED                                                                                              \
        "vpst\n\t"                                                                                                \
        "vldrbt.s32 q4, [r2, q5]\n\t"                                                                            \
        "vmla.s32 q0, q4, r11\n\t"
static __attribute__((naked, noinline)) void c1_col_mve(const c1_row *q __attribute__((unused)))
{
    __asm__ volatile(C1_ROW("lr", "lr, lsl #2", "q7", C1_FIRST4_GATHER("q7", "lr"), C1_MACS4_GATHER("lr"),
                            C1_MAC_PRED, "", "q6", C1_TAIL_IN_GATHER, C1_TAIL_OUT_GATHER,
                            "ldr r2, [r0, #16]\n\tstr r2, [sp, #12]\n\tldr lr, [r0, #40]\n\t",
                            "ldr r2, [sp, #12]\n\tsubs r2, r2, #1\n\tstr r2, [sp, #12]\n\t", C1_EMPTY,
                            C1_EMPTY_TAIL, C1_EMPTY_CHUNKS("lr, lsl #2")));
}
#undef C1_MAC_PRED
#undef C1_ROW
#undef C1_CH_FIRST_LR
#undef C1_EMPTY
#undef C1_EMPTY_TAIL
#undef C1_EMPTY_CHUNKS
#undef C1_CH_NEXT_LR
#undef C1_TAIL_IN_GATHER
#undef C1_TAIL_OUT_GATHER
#undef C1_MAC1_S1
#undef C1_MACS4_S1
#undef C1_MACS4_GATHER
#undef C1_FIRST4_S1
#undef C1_FIRST4_GATHER
#undef C1_MAC
#undef C1_CHUNK_OUT
#undef C1_PAIR_STORE
#undef C1_OUT
#undef C1_OUT5

/* The last columns of a layer whose windows all lie inside the input (no padding), which the row calls' chunks of
 * sixteen leave (fewer than four: one predicated vector per row and channel there, the quick model's first layer one
 * column of 17): down each column four rows per vector, each non-zero one VLDRB gather of the four rows' inputs read
 * from the input itself (stride_h rows apart: ent_in holds the non-zeros' input offsets) and one VMLA, the four
 * outputs through the four-lane output path (tinyasc_rq_x4_apply, the channel's constants in every lane) and one
 * VSTRB scatter a row of outputs apart; the last rows predicated. The same sums as the row kernel (the constant
 * folds the input offset, every tap is inside). */
static __attribute__((noinline)) void c1_cols_mve(const tinyasc_conv_params *p, const int32_t *cst,
                                                 const int32_t *ent_in, const int8_t *in, int8_t *out, int32_t ox0)
{
    const int32_t OC = p->out_c, rows = p->out_h, in_row = p->stride_h * p->in_w, out_row = p->out_w * OC;
    const uint32x4_t xo = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)in_row);
    const uint32x4_t yo = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)out_row);
    for (int32_t oc = 0; oc < OC; oc++, cst += 4) {
        const int32_t base = cst[0], n = cst[3];
        const tinyasc_rq_x4 q = {.m = vdupq_n_s32(cst[1]), .neg_r = vdupq_n_s32(cst[2]),
                                 .zp = vdupq_n_s32(p->output_offset)};
        for (int32_t ox = ox0; ox < p->out_w; ox++) {
            const int8_t *x0 = in + ox * p->stride_w;
            int8_t *o = out + ox * OC + oc;
            for (int32_t oy = 0; oy < rows; oy += 4, x0 += 4 * in_row, o += 4 * out_row) {
                const mve_pred16_t pr = vctp32q((uint32_t)(rows - oy));
                int32x4_t acc = vdupq_n_s32(base);
                for (int32_t j = 0; j < n; j++)
                    acc = vmlaq_n_s32(acc, vldrbq_gather_offset_z_s32(x0 + ent_in[2 * j], xo, pr), ent_in[2 * j + 1]);
                vstrbq_scatter_offset_p_s32(o, yo, tinyasc_rq_x4_apply(acc, q), pr);
            }
        }
        ent_in += 2 * n;
    }
}

static __attribute__((noinline)) int mve_sparse_c1(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                  const tinyasc_sparse_weights *s, const int8_t *input, int8_t *output)
{
    const tinyasc_conv_params pl = *p; /* int8 stores may alias anything: keep the fields in registers */
    p = &pl;
    const int32_t OC = p->out_c, st = p->stride_w;
    const int32_t span = (p->out_w - 1) * st + (p->k_w - 1) * p->dil_w + 1; /* staged columns, from column -pad_w */
    if (p->in_c != 1 || (st != 1 && st != 2) || !tinyasc_out_x4_ok(p, w) || !tinyasc_pair_offsets_fit(OC)) return -1;
    int32_t nnz = 0; /* entries */
    for (int32_t oc = 0; oc < OC; oc++) nnz += c1_entries(s->row_nnz[oc]);
    const int inside = tinyasc_all_inside(p);
    /* every window inside the input and more output rows (whole vectors of four) than columns: down the columns
     * (c1_col_mve), the input read in place, sixteen rows a chunk */
    const int32_t RO = p->out_w * OC;
    const int down = inside && p->out_h >= 16 && p->out_h % 4 == 0 && p->out_h > p->out_w &&
                     tinyasc_pair_offsets_fit(RO);
    /* else along the rows, the last out_w % 16 < 4 columns down the columns (c1_cols_mve) where every window lies
     * inside the input and the non-zeros' input offsets fit beside the staged ones */
    const int32_t tail = p->out_w % 16;
    const int cols = !down && tail > 0 && tail < 4 && inside && 4 * OC + 4 * nnz <= TINYASC_SPARSE_MAX_K;
    /* the staged rows, plus what the lanes past a row's last pixel read (never stored) */
    if (p->k_h * span + 16 * st > (int32_t)sizeof(tap_yx) || 4 * OC + 2 * nnz > TINYASC_SPARSE_MAX_K) return -1;
    int32_t *const cst = (int32_t *)pk_tab, *const ent = cst + 4 * OC, *const ent_in = ent + 2 * nnz;
    const uint8_t *gp = s->gaps;
    const int8_t *vp = s->values;
    int32_t *ep = ent, *ip = ent_in;
    for (int32_t oc = 0; oc < OC; oc++) {
        int32_t pos = 0, sum = 0;
        if (s->row_nnz[oc] == 0) { /* the constant exactly */
            *ep++ = 0, *ep++ = 0;
            if (cols) *ip++ = 0, *ip++ = 0;
        }
        for (int32_t j = 0; j < s->row_nnz[oc]; j++, pos++) {
            while (*gp == 255u) pos += 255, gp++;
            pos += *gp++;
            const int32_t v = *vp++;
            *ep++ = down ? (pos / p->k_w) * p->dil_h * p->in_w + (pos % p->k_w) * p->dil_w /* in the input */
                         : (pos / p->k_w) * span + (pos % p->k_w) * p->dil_w;
            *ep++ = v;
            if (cols) { /* in the input itself */
                *ip++ = (pos / p->k_w) * p->dil_h * p->in_w + (pos % p->k_w) * p->dil_w;
                *ip++ = v;
            }
            sum += v;
        }
        cst[4 * oc] = (w->bias ? w->bias[oc] : 0) + sum * p->input_offset;
        cst[4 * oc + 1] = w->multiplier[oc];
        cst[4 * oc + 2] = w->shift[oc];
        cst[4 * oc + 3] = c1_entries(s->row_nnz[oc]);
    }
    int8_t *const stage = (int8_t *)tap_yx;
    c1_row r __attribute__((aligned(16)));
    r.x = stage, r.cst = cst, r.ent = ent, r.channels = OC, r.chunks = p->out_w / 16, r.tail = cols ? 0 : tail;
    r.ostep = 16 * OC, r.vo = 4 * OC, r.zp = p->output_offset;
    if (down) { /* one call per column: its windows stride_h input rows apart, its outputs a row of outputs apart */
        const int32_t ystep = p->stride_h * p->in_w;
        r.chunks = p->out_h / 16, r.tail = p->out_h % 16, r.ostep = 16 * RO, r.vo = 4 * RO, r.vstep = 4 * ystep;
        for (int32_t j = 0; j < 4; j++) r.xin[j] = (uint32_t)(j * ystep);
        c1_out_offsets(&r, RO);
        for (int32_t b = 0; b < p->batches; b++) {
            const int8_t *in = input + b * p->in_h * p->in_w - p->pad_h * p->in_w - p->pad_w;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                r.x = in + ox * st, r.o = output + b * p->out_h * RO + ox * OC;
                c1_col_mve(&r);
            }
        }
        return 0;
    }
    for (int32_t j = 0; j < 4; j++) r.xin[j] = (uint32_t)(j * st);
    c1_out_offsets(&r, OC);
    void (*const row)(const c1_row *) = st == 1 ? c1_row_s1_mve : c1_row_s2_mve;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            tinyasc_stage_rows_c1(p, in, oy, span, stage);
            r.o = output + (b * p->out_h + oy) * p->out_w * OC;
            row(&r);
        }
        if (cols) c1_cols_mve(p, cst, ent_in, in - p->pad_h * p->in_w - p->pad_w, output + b * p->out_h * p->out_w * OC,
                              p->out_w - tail);
    }
    return 0;
}

/*
 * A pointwise layer (1x1, stride 1, no padding, several input channels) on Helium, "on planes" (the generator's flag
 * and cost model keep that name from the staged planes of sessions 50-56): the output pixels in int32 lanes as in
 * the one-channel kernel, read in place, c1_col_mve taking per output channel sixteen pixels per pass (four
 * vectors), per non-zero one VLDRB gather of four pixels' bytes of its input channel (K bytes apart; the non-zero's
 * offset its channel) and one VMLA by the weight as a scalar per vector, the channel's outputs through the four-lane
 * output path and narrowed pairs' VSTRB.16 scatters OC bytes apart (the last vector predicated, its gathers too).
 * Until session 57 the pixels' inputs were first staged as one int8 plane per channel (contiguous loads instead of
 * gathers, which cost the same in the M55's timing model): 0.9 estimated cycles per input channel per output
 * channel, which sparse.helium_planes_pay still counts (conservative: such a layer only goes sparse where it paid
 * with the staging). Per output about 1.4 estimated cycles per non-zero of its channel and 7 for the output step
 * and overheads, against about 3.5 per 16 input channels plus 13 for Helium's dense pointwise kernel (VMLADAVA over
 * 16-byte blocks of every weight, zeros included): the generator stores such a layer sparse where that pays. The
 * channels go in groups whose constants and non-zeros pk_tab holds; a channel whose shift is not a right shift is
 * rewritten after the row kernel through the general output path (pw_fix_channel). The same sums as the dense
 * kernels (the constant folds the input offset; integer sums only reordered). -1 where the layer is another shape or
 * range, or one channel's non-zeros alone do not fit pk_tab.
 */
/* Channel c of n pixels (K channels each, from in) where its shift is not a right shift (an effective scale of 1/2 or
 * more, or a constant channel's shift 0: the row kernel's output path assumes a right shift): its sums again, c its
 * constants and e its non-zeros as the row kernel reads them, through the general output path; o its first output,
 * OC bytes apart. */
static __attribute__((noinline)) void pw_fix_channel(const tinyasc_conv_params *p, const int32_t *c, const int32_t *e,
                                                    const int8_t *in, int32_t n, int32_t K, int8_t *o, int32_t OC)
{
    const int32_t nz = c[3];
    for (int32_t i = 0; i < n; i++, o += OC, in += K) {
        int32_t acc = c[0];
        for (int32_t j = 0; j < nz; j++) acc += e[2 * j + 1] * in[e[2 * j]];
        *o = tinyasc_opt_out_ms(p, acc, c[1], c[2]);
    }
}

static __attribute__((noinline)) int mve_sparse_pw(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                  const tinyasc_sparse_weights *s, const int8_t *input, int8_t *output)
{
    const tinyasc_conv_params pl = *p; /* int8 stores may alias anything: keep the fields in registers */
    p = &pl;
    const int32_t K = p->in_c, OC = p->out_c, pixels = p->batches * p->out_h * p->out_w;
    if (K < 2 || p->k_h != 1 || p->k_w != 1 || p->stride_h != 1 || p->stride_w != 1 || p->pad_h != 0 ||
        p->pad_w != 0 || p->out_h != p->in_h || p->out_w != p->in_w || p->act_min != -128 || p->act_max != 127)
        return -1;
    if (!tinyasc_pair_offsets_fit(OC)) return -1;
    int32_t *const cst = (int32_t *)pk_tab;
    c1_row r __attribute__((aligned(16)));
    r.x = input, r.chunks = pixels / 16, r.tail = pixels % 16, r.ostep = 16 * OC, r.vo = 4 * OC;
    r.zp = p->output_offset, r.vstep = 4 * K;
    for (int32_t j = 0; j < 4; j++) r.xin[j] = (uint32_t)(j * K);
    c1_out_offsets(&r, OC);
    const uint8_t *gp = s->gaps;
    const int8_t *vp = s->values;
    /* the channels in groups the table holds (each channel's 4 constants, then its non-zeros' 2 words each): one
     * group for most layers (sparse.planes_groups) */
    /* (a layer's gap bytes, escapes included, are at least its non-zeros: within the table's words it is one group
     * without counting) */
    const int one_group = 4 * OC + 2 * s->n_gaps <= TINYASC_SPARSE_MAX_K;
    for (int32_t g0 = 0, g1; g0 < OC; g0 = g1) {
        int32_t words = 0;
        if (one_group) g1 = OC;
        else
            for (g1 = g0; g1 < OC && words + 4 + 2 * s->row_nnz[g1] <= TINYASC_SPARSE_MAX_K; g1++)
                words += 4 + 2 * s->row_nnz[g1];
        /* one channel alone over the table (the generator stores no such layer for the planes: sparse.planes_fit): the
         * scalar path then writes every output again */
        if (g1 == g0) return -1;
        const int32_t G = g1 - g0;
        int32_t *const ent = cst + 4 * G, *ep = ent;
        int odd = 0;
        for (int32_t c = 0; c < G; c++) {
            const int32_t oc = g0 + c, nnz = s->row_nnz[oc];
            int32_t pos = 0, sum = 0;
            for (int32_t j = 0; j < nnz; j++, pos++) {
                while (*gp == 255u) pos += 255, gp++;
                pos += *gp++;
                const int32_t v = *vp++;
                *ep++ = pos; /* input channel pos: its byte in a pixel */
                *ep++ = v;
                sum += v;
            }
            cst[4 * c] = (w->bias ? w->bias[oc] : 0) + sum * p->input_offset;
            cst[4 * c + 1] = w->multiplier[oc];
            cst[4 * c + 2] = w->shift[oc];
            cst[4 * c + 3] = nnz; /* none: c1_col_mve's constant path (C1_EMPTY) */
            odd |= w->shift[oc] > -1;
        }
        r.cst = cst, r.ent = ent, r.channels = G, r.o = output + g0;
        c1_col_mve(&r);
        if (!odd) continue;
        const int32_t *e = ent;
        for (int32_t c = 0; c < G; e += 2 * cst[4 * c + 3], c++)
            if (cst[4 * c + 2] > -1) pw_fix_channel(p, cst + 4 * c, e, input, pixels, K, r.o + c, OC);
    }
    return 0;
}

/* The layers whose output pixels go in Helium's lanes: one input channel (mve_sparse_c1), or a pointwise layer the
 * generator flagged for the planes (mve_sparse_pw, which checks the rest); -1 for the scalar path. */
static __attribute__((noinline)) int mve_sparse_lanes(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                     const tinyasc_sparse_weights *s, const int8_t *input,
                                                     int8_t *output)
{
    if (p->in_c == 1) return mve_sparse_c1(p, w, s, input, output);
    return mve_sparse_pw(p, w, s, input, output);
}
#endif

int tinyasc_sparse_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                             int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
#if SP_QUADS_ASM
    /* a 1x1 window at stride 1 without padding: the image's pixels are one row (one asm call per channel) */
    if (pl.k_h == 1 && pl.k_w == 1 && pl.stride_h == 1 && pl.stride_w == 1 && pl.pad_h == 0 && pl.pad_w == 0 &&
        pl.out_h == pl.in_h && pl.out_w == pl.in_w) {
        pl.in_w = pl.out_w = pl.in_h * pl.in_w;
        pl.in_h = pl.out_h = 1;
    }
#endif
    p = &pl;
    w = &wl;
    const tinyasc_sparse_weights *s = (const tinyasc_sparse_weights *)w->sparse;
    const int32_t C = p->in_c, K = p->k_h * p->k_w * C;
    if (p->filter_in_c != C || K != s->k || K > TINYASC_SPARSE_MAX_K || p->k_h > 255 || p->k_w > 255) return -1;
#if defined(__ARM_FEATURE_MVE)
    /* one call site for both Helium paths (a second one had moved GCC's register allocation of the scalar path
     * below: +1,443 instructions on VWW's M55 layers that take neither) */
    if ((p->in_c == 1 || s->planes) && mve_sparse_lanes(p, w, s, input, output) == 0) return 0;
#endif
    if (((p->k_h - 1) * p->dil_h * p->in_w + (p->k_w - 1) * p->dil_w + 1) * C > TINYASC_SPARSE_MAX_SPAN) return -1;
    /* the output columns whose windows lie inside the input along w: one interval [ox_lo, ox_hi) from its bounds (an
     * in-place 1x1 layer comes here once per chunk of pixels, where a loop over the columns cost more than a pass) */
    int32_t ox_lo, ox_hi;
    tinyasc_inside_range(p->out_w, p->in_w, (p->k_w - 1) * p->dil_w, p->stride_w, p->pad_w, &ox_lo, &ox_hi);
    const int full = tinyasc_full_range(p);
#if SP_QUADS_ASM
    /* a ReLU range (the zero point -128 opens the full range): a channel on the folded path whose window constant is
     * below 2^29 keeps every window's sum below 2^30 (K < 2^14 non-zeros of at most 127 x 128 each), so its doubled
     * sums stay inside int32 for sp_octs_relu_dsp */
    const int relu_ok = full && p->output_offset == -128 && K < (1 << 14);
#else
    const int relu_ok = 0;
#endif
    const uint8_t *gp = s->gaps;
    const int8_t *vp = s->values;
    /* a 1x1 window without padding: every window lies inside the input (no border output reads the tap tables) and a
     * non-zero's offset is its position; its own loop keeps the decode's state in registers */
    const int plain = SP_QUADS_ASM && K == C && p->pad_h == 0 && p->pad_w == 0;
#if SP_QUADS_ASM
    /* such a layer's input transposed into pk_tab past a row's words where the library links tinyasc_sparse_t.c and
     * enough non-zeros pay for it (tinyasc_sparse_t_prepare: tp bytes a row of pixels per input channel, else 0): a
     * non-zero's eight windows are then two words (tinyasc_sparse_t_s8), one byte apart */
    const int32_t tp = plain && relu_ok && tinyasc_sparse_t_prepare != NULL
                           ? tinyasc_sparse_t_prepare(p, s, &input, (int8_t *)(void *)(pk_tab + K + 1),
                                                      (TINYASC_SPARSE_MAX_K - K) * 4)
                           : 0;
    const int tr = tp > 0;
    const int32_t step = tr ? 1 : p->stride_w * C;
    void (*const octs_run)(sp_row *) = tr ? tinyasc_sparse_t_s8 : sp_octs_relu_dsp;
#else
    const int32_t step = p->stride_w * C, tr = 0, tp = 0;
    void (*const octs_run)(sp_row *) = 0;
#endif
    for (int32_t oc = 0; oc < p->out_c; oc++) {
        const int32_t n = s->row_nnz[oc];
        int32_t pos = 0, vsum = 0;
        if (plain) {
            /* on a transposed input a non-zero's offset is its channel's row (the weakly linked file's loop) */
            vsum = tr ? tinyasc_sparse_t_decode(n, &gp, &vp, relu_ok, tp, pk_tab)
                      : tinyasc_sparse_decode_plain(n, &gp, &vp, relu_ok, 1, pk_tab);
        } else {
            for (int32_t j = 0; j < n; j++) {
                while (*gp == 255u) {
                    pos += 255;
                    gp++;
                }
                pos += *gp++;
                const int32_t ic = pos % C, t = pos / C;
                const int32_t kx = t % p->k_w, ky = t / p->k_w;
                const int32_t off = (ky * p->dil_h * p->in_w + kx * p->dil_w) * C + ic;
                pk_tab[j] = ((uint32_t)(int32_t)*vp << (16 + relu_ok)) | (uint32_t)off;
                ky_tab[j] = (uint8_t)ky;
                kx_tab[j] = (uint8_t)kx;
                vsum += *vp++;
                pos++;
            }
        }
#if SP_QUADS_ASM
        pk_tab[n] = 0; /* the row's end for the passes of eight */
#endif
        const int32_t bias = w->bias ? w->bias[oc] : 0, m = w->multiplier[oc], sft = w->shift[oc];
        const int32_t acc_in = bias + vsum * p->input_offset;
        if (full && tinyasc_rq_zp_folds(m, sft)) {
            int32_t rnd, sh, rrnd = 0, rsh = 0, relu = 0;
            tinyasc_rq_consts(sft, p->output_offset, &rnd, &sh);
#if SP_QUADS_ASM
            relu = relu_ok && acc_in < (1 << 29) && acc_in > -(1 << 29);
            if (relu) tinyasc_rq_relu_consts(sft, p->output_offset, &rrnd, &rsh);
#endif
            sp_channel(p, input, output, oc, n, bias, acc_in, m, sft, rnd, sh, ox_lo, ox_hi, 1, relu, rrnd, rsh,
                       relu_ok, step, octs_run);
        } else {
            sp_channel(p, input, output, oc, n, bias, acc_in, m, sft, 0, 0, ox_lo, ox_hi, 0, 0, 0, 0, relu_ok, step,
                       octs_run);
        }
    }
    return 0;
}
