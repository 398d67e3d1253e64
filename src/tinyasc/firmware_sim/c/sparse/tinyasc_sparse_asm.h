/*
 * The sparse kernel's asm on the DSP cores (Cortex-M4, M7), shared by tinyasc_sparse.c and the weakly linked
 * tinyasc_sparse_t.c: the record one call takes (sp_row), the macros of the passes of eight, and the transposed
 * path's two functions. Private to the sparse kernel's files.
 */
#ifndef TINYASC_SPARSE_ASM_H
#define TINYASC_SPARSE_ASM_H
#include <stddef.h>
#include <stdint.h>
#include "tinyasc_sparse.h"

/* sp_quads_dsp and sp_octs_relu_dsp below: the DSP cores without Helium (the M4, M7; an M55 stores sparse only
 * one-input-channel layers, which mve_sparse_c1 takes, pointwise layers mve_sparse_pw takes where it pays, and layers
 * at most 3% dense) */
#if defined(__ARM_FEATURE_DSP) && defined(__thumb2__) && !defined(__ARM_FEATURE_MVE)
#define SP_QUADS_ASM 1
#else
#define SP_QUADS_ASM 0
#endif


#if SP_QUADS_ASM
/* One call's windows of one output channel (sp_quads_dsp, sp_octs_relu_dsp, sp_pairs_relu_dsp, tinyasc_sparse_t_s8):
 * offsets below (bytes) are those of sp_row; the struct's o advances with the windows, rows counts down. */
typedef struct {
    const uint32_t *pk, *pk_end; /* 0, 4: the decoded non-zeros */
    const int8_t *base;          /* 8: the first window */
    int32_t step, quads, acc_in; /* 12, 16, 20: bytes between windows, passes per row, each sum's start */
    int32_t m, rnd, sh;          /* 24, 28, 32: tinyasc_out_fast's constants (sp_octs_relu_dsp: the ReLU form's) */
    int32_t ostep;               /* 36: bytes between outputs */
    int8_t *o;                   /* 40: the first output (advanced by ostep per window) */
    int32_t tail, rows, row_gap; /* 44, 48, 52: windows after the passes, rows (>= 1), bytes to the next row */
    int32_t ocol;                /* 56: sp_pairs_relu_dsp: from a pass's first column's outputs to its second's */
} sp_row;
/* the asm's offsets (C99: a negative array size where the layout differs) */
typedef char sp_row_is_the_asm_layout[(offsetof(sp_row, pk) == 0 && offsetof(sp_row, pk_end) == 4 &&
                                       offsetof(sp_row, base) == 8 && offsetof(sp_row, step) == 12 &&
                                       offsetof(sp_row, quads) == 16 && offsetof(sp_row, acc_in) == 20 &&
                                       offsetof(sp_row, m) == 24 && offsetof(sp_row, rnd) == 28 &&
                                       offsetof(sp_row, sh) == 32 && offsetof(sp_row, ostep) == 36 &&
                                       offsetof(sp_row, o) == 40 && offsetof(sp_row, tail) == 44 &&
                                       offsetof(sp_row, rows) == 48 && offsetof(sp_row, row_gap) == 52 &&
                                       offsetof(sp_row, ocol) == 56) ? 1 : -1];

/* the record in r12: one row fewer (rows at 48), then back to 0 with the window base (r2) moved by row_gap (52), or on
 * to 9 after the last row */
#define SP_NEXT_ROW                                                                                               \
        "ldr    r3, [r12, #48]\n\t"                                                                               \
        "subs   r3, r3, #1\n\t"                                                                                   \
        "beq    9f\n\t"                                                                                           \
        "str    r3, [r12, #48]\n\t"                                                                               \
        "ldr    r3, [r12, #52]\n\t"                                                                               \
        "add    r2, r2, r3\n\t"                                                                                   \
        "b      0b\n\t"                                                                                           \
        "9:\n\t"

/* The end of a pass of sp_octs_relu_dsp / sp_pairs_relu_dsp: the record's o (r12, past the pass's outputs) stored,
 * the window base ([sp, #8]) on by the step << LSL, the passes left ([sp, #4]) counted down, to 1 while any are. */
#define SP_NEXT_PASS(LSL)                                                                                         \
        "ldr    r0, [sp]\n\t"                                                                                     \
        "str    r12, [r0, #40]\n\t"                                                                               \
        "ldr    r3, [r0, #12]\n\t"                                                                                \
        "ldr    r2, [sp, #8]\n\t"                                                                                 \
        "add    r2, r2, r3, lsl #" LSL "\n\t"                                                                     \
        "ldr    r1, [sp, #4]\n\t"                                                                                 \
        "subs   r1, r1, #1\n\t"                                                                                   \
        "str    r1, [sp, #4]\n\t"                                                                                 \
        "bne    1b\n\t"
/* tinyasc_rq_relu_apply on a doubled sum (m in r0, rnd2 in r1, r in r3), temporary t */
#define SP_OUT_RELU(acc, dst, t)                                                                                 \
        "smmlar " t ", " acc ", r0, r1\n\t"                                                                     \
        "asr    " t ", " t ", r3\n\t"                                                                           \
        "ssat   " t ", #8, " t "\n\t"                                                                           \
        "strb   " t ", " dst "\n\t"
/* A pass's non-zeros (pk in r0, each word (weight << 16) | offset into r1, a zero word after the last) through TAP,
 * the first starting every sum from acc_in (r11), the others adding to each sum; then to 3 (sp_octs_relu_dsp,
 * sp_pairs_relu_dsp) */
#define SP_NONZEROS(TAP)                                                                                          \
        "ldr    r1, [r0], #4\n\t"         /* the channel's first non-zero */                                      \
        TAP("r11", "r11", "r11", "r11", "r11", "r11", "r11", "r11")                                               \
        "ldr    r1, [r0], #4\n\t"         /* the next non-zero, or the zero word */                               \
        "cmp    r1, #0\n\t"                                                                                       \
        "beq    3f\n\t"                                                                                           \
        "2:\n\t"                                                                                                  \
        TAP("r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11")                                                     \
        "ldr    r1, [r0], #4\n\t"                                                                                 \
        "cmp    r1, #0\n\t"                                                                                       \
        "bne    2b\n\t"
/* Two outputs of sp_octs_relu_dsp / sp_pairs_relu_dsp: sums a at [r12] and b at [r12, r2] (temporaries ta, tb), then
 * r12 on by STEP */
#define SP_OUT2(a, b, ta, tb, STEP)                                                                               \
        SP_OUT_RELU(a, "[r12]", ta)                                                                               \
        SP_OUT_RELU(b, "[r12, r2]", tb)                                                                           \
        "add    r12, r12, " STEP "\n\t"
/* The body of sp_octs_relu_dsp (tinyasc_sparse.c) and tinyasc_sparse_t_s8 (tinyasc_sparse_t.c), TAP the tap of one
 * non-zero over the pass's eight windows. A ReLU range's channel whose sums stay below 2^30, with one non-zero at
 * least: passes of eight windows (the
 * record's quads counts them), then the row's last windows one by one. The C doubles the channel's weights (their
 * words' top halves) and acc_in, so that each sum arrives doubled and tinyasc_rq_relu_apply's output takes SMMLAR,
 * ASR, SSAT, STRB (constants in m, rnd, sh). Eight sums take eight registers: the record's address, the passes left
 * and the window base wait on the stack while the outputs are written, and the non-zeros end at pk_tab's zero word
 * instead of a pointer compare. Per non-zero and eight windows: one word load, UXTAH, eight LDRSB and SMLATB, three
 * ADD and the end test (23 instructions, against 26 in two passes of four). A pass's first non-zero starts the eight
 * sums from acc_in itself (SMLATB's addend), instead of seven copies of it before the loop. */
#define SP_OCTS_BODY(TAP)                                                                                             \
        "push   {r4-r11, lr}\n\t"                                                                                     \
        "sub    sp, sp, #12\n\t"          /* [sp]: r, [sp, #4]: passes or windows left, [sp, #8]: base */             \
        "str    r0, [sp]\n\t"                                                                                         \
        "ldr    r2, [r0, #8]\n\t"         /* base */                                                                  \
        "0:\n\t"                          /* a row */                                                                 \
        "ldr    r12, [sp]\n\t"                                                                                        \
        "ldrd   r3, r1, [r12, #12]\n\t"   /* step, passes */                                                          \
        "cmp    r1, #0\n\t"                                                                                           \
        "beq    4f\n\t"                                                                                               \
        "str    r1, [sp, #4]\n\t"                                                                                     \
        "1:\n\t"                                                                                                      \
        "ldr    r12, [sp]\n\t"                                                                                        \
        "ldr    r11, [r12, #20]\n\t"      /* acc_in */                                                                \
        "ldr    r0, [r12, #0]\n\t"        /* pk */                                                                    \
        SP_NONZEROS(TAP)                                                                                              \
        "3:\n\t"                                                                                                      \
        "str    r2, [sp, #8]\n\t"                                                                                     \
        "ldr    r12, [sp]\n\t"                                                                                        \
        "ldrd   r0, r1, [r12, #24]\n\t"   /* m, rnd */                                                                \
        "ldr    r3, [r12, #32]\n\t"       /* sh */                                                                    \
        "ldrd   r2, r12, [r12, #36]\n\t"  /* ostep, o */                                                              \
        SP_OUT2("r4", "r5", "lr", "lr", "r2, lsl #1")                                                                 \
        SP_OUT2("r6", "r7", "lr", "lr", "r2, lsl #1")                                                                 \
        SP_OUT2("r8", "r9", "lr", "lr", "r2, lsl #1")                                                                 \
        SP_OUT2("r10", "r11", "lr", "lr", "r2, lsl #1")                                                               \
        SP_NEXT_PASS("3")                 /* the next eight windows */                                                \
        "4:\n\t"                          /* the row's last windows, one at a time */                                 \
        "ldr    r12, [sp]\n\t"                                                                                        \
        "ldr    r1, [r12, #44]\n\t"                                                                                   \
        "cmp    r1, #0\n\t"                                                                                           \
        "beq    7f\n\t"                                                                                               \
        "str    r1, [sp, #4]\n\t"                                                                                     \
        "5:\n\t"                                                                                                      \
        "ldr    r12, [sp]\n\t"                                                                                        \
        "ldr    r4, [r12, #20]\n\t"                                                                                   \
        "ldr    r0, [r12, #0]\n\t"                                                                                    \
        "ldr    r1, [r0], #4\n\t"                                                                                     \
        "6:\n\t"                                                                                                      \
        "uxtah  r12, r2, r1\n\t"                                                                                      \
        "ldrsb  lr, [r12]\n\t"                                                                                        \
        "smlatb r4, r1, lr, r4\n\t"                                                                                   \
        "ldr    r1, [r0], #4\n\t"                                                                                     \
        "cmp    r1, #0\n\t"                                                                                           \
        "bne    6b\n\t"                                                                                               \
        "ldr    r12, [sp]\n\t"                                                                                        \
        "ldrd   r0, r1, [r12, #24]\n\t"   /* m, rnd */                                                                \
        "ldr    r3, [r12, #32]\n\t"       /* sh */                                                                    \
        "ldrd   r5, r6, [r12, #36]\n\t"   /* ostep, o */                                                              \
        SP_OUT_RELU("r4", "[r6]", "lr")                                                                               \
        "add    r6, r6, r5\n\t"                                                                                       \
        "str    r6, [r12, #40]\n\t"                                                                                   \
        "ldr    r3, [r12, #12]\n\t"       /* step */                                                                  \
        "add    r2, r2, r3\n\t"                                                                                       \
        "ldr    r1, [sp, #4]\n\t"                                                                                     \
        "subs   r1, r1, #1\n\t"                                                                                       \
        "str    r1, [sp, #4]\n\t"                                                                                     \
        "bne    5b\n\t"                                                                                               \
        "7:\n\t"                          /* the next row */                                                          \
        "ldr    r12, [sp]\n\t"                                                                                        \
        SP_NEXT_ROW                                                                                                   \
        "add    sp, sp, #12\n\t"                                                                                      \
        "pop    {r4-r11, pc}\n\t"
#else
typedef struct sp_row_unused sp_row; /* the DSP cores' asm passes only */
#endif

/* A 1 x 1 layer's row of n non-zeros without padding decoded into pk (its words weight << (16 + doubled) | offset, the
 * offset the non-zero's input channel times ostride: 1 on the input as it is, a row's bytes on the input transposed),
 * the gaps and values read on from *gp and *vp; the sum of the values. Inlined into each caller, so that the input as
 * it is multiplies nothing. */
static inline __attribute__((always_inline)) int32_t tinyasc_sparse_decode_plain(int32_t n, const uint8_t **gp,
                                                                                 const int8_t **vp, int doubled,
                                                                                 int32_t ostride, uint32_t *pk)
{
    const uint8_t *g = *gp;
    const int8_t *v = *vp;
    int32_t pos = 0, vsum = 0;
    for (int32_t j = 0; j < n; j++) {
        while (*g == 255u) {
            pos += 255;
            g++;
        }
        pos += *g++;
        pk[j] = ((uint32_t)(int32_t)*v << (16 + doubled)) | (uint32_t)(pos * ostride);
        vsum += *v++;
        pos++;
    }
    *gp = g, *vp = v;
    return vsum;
}

/* The DSP cores' passes of eight windows one byte apart, on a 1 x 1 layer's input transposed (a row of pixels per
 * input channel; tinyasc_sparse_t.c), that transposition where it pays and the rows' decoding for it: weak, a library
 * holds the file only where the generator found a sparse layer it pays for (generator.sparse_t_ships), and
 * tinyasc_sparse_conv2d_s8 takes that path only where it is linked. */
void tinyasc_sparse_t_s8(sp_row *r) __attribute__((weak));
/* For a 1 x 1 layer of tinyasc_sparse_conv2d_s8 without padding on the ReLU form's range (s its rows): where its pixels
 * are one row (stride 1, one image), channels a multiple of 4, whose transposed input fits the room bytes at t and
 * whose non-zeros pay for the transposition, *input transposed into t (a row of tp bytes per input channel) and
 * *input pointed there; tp, else 0 (nothing done). */
int32_t tinyasc_sparse_t_prepare(const tinyasc_conv_params *p, const tinyasc_sparse_weights *s, const int8_t **input,
                                 int8_t *t, int32_t room) __attribute__((weak));
/* A 1 x 1 layer's row of n non-zeros decoded into pk on its input transposed by tinyasc_sparse_t_prepare (each
 * non-zero's word weight << (16 + doubled) | its channel's row, tp bytes a row), the gaps and values read on from *gp
 * and *vp; the sum of the values. */
int32_t tinyasc_sparse_t_decode(int32_t n, const uint8_t **gp, const int8_t **vp, int doubled, int32_t tp,
                                uint32_t *pk) __attribute__((weak));

#endif
