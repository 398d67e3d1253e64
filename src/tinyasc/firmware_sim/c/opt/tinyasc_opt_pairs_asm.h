/*
 * Helium's pairs kernels in asm (Cortex-M55), shared by tinyasc_opt_mve.c (one block a step: pw_pairs_mve,
 * pw_pairs_rows_mve, pw_pairs_win_mve and the forms for any shift) and tinyasc_opt_pairs3.c (three blocks a step, a
 * file the generator ships only where a layer's blocks come in threes: generator.pairs3_ships, tinyasc_pairs3_s8):
 * the records the kernels read (offsets checked against the asm) and the asm pieces.
 * Two output pixels by four output channels a pass, the eight sums in VMLADAVA's even registers.
 */
#ifndef TINYASC_OPT_PAIRS_ASM_H
#define TINYASC_OPT_PAIRS_ASM_H

#include <stddef.h>
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_MVE)
/* Pairs of pixels of a pointwise group in asm (pw_pairs_mve): per 16-byte block of the two pixels' inputs the four
 * interleaved weight rows are loaded once (post-increment) for both pixels, eight VMLADAVA.S8 (128 MACs) into the eight
 * even registers (the pair's first block by VMLADAV: the sums start there); the block where K is not a multiple of 16
 * with the inputs' loads predicated (the weights past K are zeros); then both pixels' four sums leave through the
 * four-lane output path without its clamp with the group's constants in q4-q7, narrowed together with saturation (the
 * clamp) and stored by one scatter at the offsets in q3 (PW_OUTS_FAST, PW_STORE_FAST; pw_pairs_any_mve:
 * tinyasc_rq_x4_any_apply's form and two predicated stores, for a group with a shift >= 0). One pixel per pass in C
 * (pw_run_wb) compiled with spilled weight offsets; two pixels need eight accumulators, all of VMLADAVA's even
 * registers. Offsets below are those of pw_pair. */
typedef struct {
    const int8_t *src;   /* 0: the first pixel's inputs (the pair's second K bytes further) */
    int8_t *dst;         /* 4: the first pixel's four outputs (the second OC bytes further) */
    int32_t pairs, K;    /* 8, 12 */
    int32_t OC, nb;      /* 16, 20: output channels; whole 16-byte blocks */
    int32_t tail, n;     /* 24, 28: K % 16; the group's channels (1..4: the lanes the form for any shift stores) */
    const int8_t *wb;    /* 32: the group's rows interleaved by block (pw_interleave) */
    const int32_t *c;    /* 36: 24 words, 16-byte aligned, 4 lanes each: base sums, m, min(shift, 0) (-r), the zero
                          * point, max(shift, 0) (left), -1 where shift < 0 (smask); on the four-lane path eight
                          * 16-bit output offsets in left's place (pw_consts_offsets) */
} pw_pair;
typedef char pw_pair_is_the_asm_layout[(offsetof(pw_pair, src) == 0 && offsetof(pw_pair, dst) == 4 &&
                                        offsetof(pw_pair, pairs) == 8 && offsetof(pw_pair, K) == 12 &&
                                        offsetof(pw_pair, OC) == 16 && offsetof(pw_pair, nb) == 20 &&
                                        offsetof(pw_pair, tail) == 24 && offsetof(pw_pair, n) == 28 &&
                                        offsetof(pw_pair, wb) == 32 && offsetof(pw_pair, c) == 36) ? 1 : -1];

/* the four rows' block at r5 against both pixels' inputs in q0, q1: OP vmladav (a pair's first block: the sums start
 * there, no zeroing) or vmladava */
#define PW_ROWS_OP(OP)                                                                                           \
        "vldrb.u8 q2, [r5], #16\n\t"                                                                              \
        OP ".s8 r0, q0, q2\n\t"                                                                                   \
        OP ".s8 r8, q1, q2\n\t"                                                                                   \
        "vldrb.u8 q2, [r5], #16\n\t"                                                                              \
        OP ".s8 r2, q0, q2\n\t"                                                                                   \
        OP ".s8 r10, q1, q2\n\t"                                                                                  \
        "vldrb.u8 q2, [r5], #16\n\t"                                                                              \
        OP ".s8 r4, q0, q2\n\t"                                                                                   \
        OP ".s8 r12, q1, q2\n\t"                                                                                  \
        "vldrb.u8 q2, [r5], #16\n\t"                                                                              \
        OP ".s8 r6, q0, q2\n\t"                                                                                   \
        OP ".s8 lr, q1, q2\n\t"
#define PW_ROWS PW_ROWS_OP("vmladava")
#define PW_ROWS_FIRST PW_ROWS_OP("vmladav")
/* tinyasc_rq_x4_any_apply: base + sums, the left shift (q2, then used up as the temporary), VQRDMULH, VRSHL of h plus
 * its sign where the shift is right (smask in q3), the zero point, the int8 clamp */
#define PW_OUT_ANY(v)                                                                                            \
        "vadd.i32 " v ", " v ", q4\n\t"                                                                           \
        "vshl.s32 " v ", " v ", q2\n\t"                                                                           \
        "vqrdmulh.s32 " v ", " v ", q5\n\t"                                                                       \
        "vshr.s32 q2, " v ", #31\n\t"                                                                             \
        "vand    q2, q2, q3\n\t"                                                                                  \
        "vadd.i32 " v ", " v ", q2\n\t"                                                                           \
        "vrshl.s32 " v ", " v ", q6\n\t"                                                                          \
        "vadd.i32 " v ", " v ", q7\n\t"                                                                           \
        "vqshl.s32 " v ", " v ", #24\n\t"                                                                         \
        "vshr.s32 " v ", " v ", #24\n\t"
#define PW_OUTS_ANY                                                                                              \
        "ldr     r11, [r9, #36]\n\t"                                                                              \
        "vldrw.u32 q2, [r11, #64]\n\t"       /* left */                                                           \
        "vldrw.u32 q3, [r11, #80]\n\t"       /* smask (q3's offsets are not used on this path) */                 \
        PW_OUT_ANY("q0")                                                                                          \
        "vldrw.u32 q2, [r11, #64]\n\t"                                                                            \
        PW_OUT_ANY("q1")
/* tinyasc_rq_x4_apply without its clamp: base + sums, VQRDMULH, VRSHL of h + (h >> 31), the zero point (q2 the
 * temporary) */
#define PW_OUT_FAST(v)                                                                                           \
        "vadd.i32 " v ", " v ", q4\n\t"                                                                           \
        "vqrdmulh.s32 " v ", " v ", q5\n\t"                                                                       \
        "vshr.s32 q2, " v ", #31\n\t"                                                                             \
        "vadd.i32 " v ", " v ", q2\n\t"                                                                           \
        "vrshl.s32 " v ", " v ", q6\n\t"                                                                          \
        "vadd.i32 " v ", " v ", q7\n\t"
/* both pixels' outputs, then narrowed with saturation into q0's low bytes (the int8 clamp) for one VSTRB.16 at the
 * offsets in q3 */
#define PW_OUTS_FAST PW_OUT_FAST("q0") PW_OUT_FAST("q1") TINYASC_ASM_NARROW_PAIR("q2", "q0", "q1", "q0")
/* the group's constants into q4-q7 (the struct in r9): base sums, m, -r, the zero point; the pair's output offsets
 * into q3 */
#define PW_CONSTS                                                                                                \
        "ldr     r11, [r9, #36]\n\t"                                                                              \
        "vldrw.u32 q4, [r11]\n\t"            /* base sums */                                                      \
        "vldrw.u32 q5, [r11, #16]\n\t"       /* m */                                                              \
        "vldrw.u32 q6, [r11, #32]\n\t"       /* -r */                                                             \
        "vldrw.u32 q7, [r11, #48]\n\t"       /* zero point */                                                     \
        "vldrw.u32 q3, [r11, #64]\n\t"       /* output offsets (the four-lane path's store; any shift: unused) */
/* the eight accumulators (VMLADAVA's even registers) to zero */
#define PW_ZERO                                                                                                  \
        "mov     r0, #0\n\t"                                                                                      \
        "mov     r2, #0\n\t"                                                                                      \
        "mov     r4, #0\n\t"                                                                                      \
        "mov     r6, #0\n\t"                                                                                      \
        "mov     r8, #0\n\t"                                                                                      \
        "mov     r10, #0\n\t"                                                                                     \
        "mov     r12, #0\n\t"                                                                                     \
        "mov     lr, #0\n\t"
/* the next pair's outputs (r0) and the pairs left (r2) back into the struct; back to 3 while pairs are left */
#define PW_STORE_NEXT                                                                                             \
        "subs    r2, r2, #1\n\t"                                                                                  \
        "strd    r0, r2, [r9, #4]\n\t"                                                                            \
        "bne     3b\n\t"
/* the next pair's inputs: the struct's src (at 0) plus the register R */
#define PW_NEXT_SRC(R)                                                                                            \
        "ldr     r1, [r9, #0]\n\t"                                                                                \
        "add     r1, r1, " R "\n\t"                                                                               \
        "str     r1, [r9, #0]\n\t"
/* the output path for any shift: both pixels' four outputs by predicated stores (n lanes), then the next pair's
 * outputs and inputs (2 OC and 2 K further) */
#define PW_STORE_ANY                                                                                              \
        "ldrd    r0, r2, [r9, #4]\n\t"        /* dst, pairs */                                                    \
        "ldr     r4, [r9, #16]\n\t"           /* OC */                                                            \
        "ldr     r6, [r9, #28]\n\t"           /* n */                                                             \
        "vctp.32 r6\n\t"                                                                                          \
        "add     r6, r0, r4\n\t"              /* the second pixel's outputs (a low register: VSTRB.32) */         \
        "vpstt\n\t"                                                                                               \
        "vstrbt.32 q0, [r0]\n\t"                                                                                  \
        "vstrbt.32 q1, [r6]\n\t"                                                                                  \
        "add     r0, r6, r4\n\t"                                                                                  \
        "ldr     r3, [r9, #12]\n\t"                                                                               \
        PW_NEXT_SRC("r3, lsl #1")                                                                                 \
        PW_STORE_NEXT
/* the four-lane path: the pair's eight outputs by one scatter at dst (every lane stored: past the group's n channels
 * the lanes repeat its last channel, pw_consts_store), then the next pair's outputs and inputs (2 OC and 2 K
 * further) */
#define PW_STORE_FAST                                                                                             \
        "ldrd    r0, r2, [r9, #4]\n\t"        /* dst, pairs */                                                    \
        "vstrb.16 q0, [r0, q3]\n\t"                                                                               \
        "ldr     r4, [r9, #16]\n\t"                                                                               \
        "add     r0, r0, r4, lsl #1\n\t"                                                                          \
        "ldr     r3, [r9, #12]\n\t"                                                                               \
        PW_NEXT_SRC("r3, lsl #1")                                                                                 \
        PW_STORE_NEXT
/* the eight sums into q0 (the first pixel's four) and q1 (the second's) */
#define PW_LANES                                                                                                 \
        "vmov.32 q0[0], r0\n\t"                                                                                   \
        "vmov.32 q0[1], r2\n\t"                                                                                   \
        "vmov.32 q0[2], r4\n\t"                                                                                   \
        "vmov.32 q0[3], r6\n\t"                                                                                   \
        "vmov.32 q1[0], r8\n\t"                                                                                   \
        "vmov.32 q1[1], r10\n\t"                                                                                  \
        "vmov.32 q1[2], r12\n\t"                                                                                  \
        "vmov.32 q1[3], lr\n\t"
/* a kernel's start: the group's constants (the struct in r9), then per pair (at 3) both pixels' (windows') pointers
 * r1 and r3 (the second K further) and the rows' weights r5 */
#define PW_HEAD                                                                                                  \
        "push    {r4-r11, lr}\n\t"                                                                                \
        "vpush   {d8-d15}\n\t"                                                                                    \
        "mov     r9, r0\n\t"                                                                                      \
        PW_CONSTS                                                                                                 \
        "3:\n\t"                                                                                                  \
        "ldr     r1, [r9, #0]\n\t"                                                                                \
        "ldr     r3, [r9, #12]\n\t"                                                                               \
        "add     r3, r1, r3\n\t"                                                                                  \
        "ldr     r5, [r9, #32]\n\t"
/* the whole kernel, its output step OUTS and STORE: the pair's first block by VMLADAV (no zeroing; K < 16: zeros,
 * then the predicated block alone) */
#define PW_PAIRS(OUTS, STORE)                                                                                    \
        PW_HEAD                                                                                                   \
        "ldr     r7, [r9, #20]\n\t"                                                                               \
        "cmp     r7, #0\n\t"                                                                                      \
        "beq     5f\n\t"                                                                                          \
        "vldrb.u8 q0, [r1], #16\n\t"                                                                              \
        "vldrb.u8 q1, [r3], #16\n\t"                                                                              \
        PW_ROWS_FIRST                                                                                             \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "beq     2f\n\t"                                                                                          \
        "1:\n\t"                                                                                                  \
        "vldrb.u8 q0, [r1], #16\n\t"                                                                              \
        "vldrb.u8 q1, [r3], #16\n\t"                                                                              \
        PW_ROWS                                                                                                   \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "bne     1b\n\t"                                                                                          \
        "2:\n\t"                                                                                                  \
        "ldr     r7, [r9, #24]\n\t"                                                                               \
        "cbz     r7, 4f\n\t"                                                                                      \
        "vctp.8  r7\n\t"                     /* the last block: K % 16 inputs of each pixel */                    \
        "vpstt\n\t"                                                                                               \
        "vldrbt.u8 q0, [r1]\n\t"                                                                                  \
        "vldrbt.u8 q1, [r3]\n\t"                                                                                  \
        PW_ROWS                                                                                                   \
        "4:\n\t"                                                                                                  \
        PW_LANES                                                                                                  \
        OUTS                                                                                                      \
        STORE                                                                                                     \
        "vpop    {d8-d15}\n\t"                                                                                    \
        "pop     {r4-r11, pc}\n\t"                                                                                \
        "5:\n\t"                                                                                                  \
        PW_ZERO                                                                                                   \
        "b       2b\n\t"

/* Pairs of windows (im2col, cols_conv) against a group's four weight rows read in place: the two windows interleaved
 * by 16-byte block (a pair's 2 K bytes), one pointer per row; K a multiple of 16. Eight accumulators and five pointers
 * take every general register but sp: the struct (pw_pair's offsets, the rows at 32, 40, 44, 48) waits on the stack.
 * No interleaved copy of the rows per chunk of windows (pw_interleave). */
typedef struct {
    pw_pair pp;         /* src: the pair's interleaved windows; wb: row 0; tail unused */
    const int8_t *w1, *w2, *w3; /* 40, 44, 48: rows 1-3 (past the group's channels: its last row) */
} pw_prow;
typedef char pw_prow_is_the_asm_layout[(offsetof(pw_prow, pp.wb) == 32 && offsetof(pw_prow, pp.c) == 36 &&
                                        offsetof(pw_prow, w1) == 40 && offsetof(pw_prow, w2) == 44 &&
                                        offsetof(pw_prow, w3) == 48) ? 1 : -1];
/* a block of the pair's interleaved windows (r1) against the four rows read in place (r3, r5, r7, r9), OP as
 * PW_ROWS_OP's */
#define PW_ROWS_INPLACE_OP(OP)                                                                                   \
        "vldrb.u8 q0, [r1], #16\n\t"                                                                              \
        "vldrb.u8 q1, [r1], #16\n\t"                                                                              \
        "vldrb.u8 q2, [r3], #16\n\t"                                                                              \
        OP ".s8 r0, q0, q2\n\t"                                                                                   \
        OP ".s8 r8, q1, q2\n\t"                                                                                   \
        "vldrb.u8 q2, [r5], #16\n\t"                                                                              \
        OP ".s8 r2, q0, q2\n\t"                                                                                   \
        OP ".s8 r10, q1, q2\n\t"                                                                                  \
        "vldrb.u8 q2, [r7], #16\n\t"                                                                              \
        OP ".s8 r4, q0, q2\n\t"                                                                                   \
        OP ".s8 r12, q1, q2\n\t"                                                                                  \
        "vldrb.u8 q2, [r9], #16\n\t"                                                                              \
        OP ".s8 r6, q0, q2\n\t"                                                                                   \
        OP ".s8 lr, q1, q2\n\t"
/* three blocks in a row, the first by OP */
#define PW_ROWS_INPLACE3(OP) PW_ROWS_INPLACE_OP(OP) PW_ROWS_INPLACE_OP("vmladava") PW_ROWS_INPLACE_OP("vmladava")
/* the kernel, a step of U blocks (1, or 3 where nb counts threes), its output step OUTS and STORE */
#define PW_PAIRS_ROWS(OUTS, STORE, FIRST, BODY)                                                                  \
        "push    {r4-r11, lr}\n\t"                                                                                \
        "vpush   {d8-d15}\n\t"                                                                                    \
        "sub     sp, sp, #8\n\t"                                                                                  \
        "mov     r9, r0\n\t"                                                                                      \
        "str     r9, [sp]\n\t"                                                                                    \
        PW_CONSTS                                                                                                 \
        "3:\n\t"                                                                                                  \
        "ldr     r1, [r9, #0]\n\t"                                                                                \
        "ldr     r3, [r9, #32]\n\t"                                                                               \
        "ldr     r5, [r9, #40]\n\t"                                                                               \
        "ldr     r7, [r9, #44]\n\t"                                                                               \
        "ldr     r11, [r9, #20]\n\t"                                                                              \
        "ldr     r9, [r9, #48]\n\t"                                                                               \
        FIRST                                                                                                     \
        "subs    r11, r11, #1\n\t"                                                                                \
        "beq     2f\n\t"                                                                                          \
        "1:\n\t"                                                                                                  \
        BODY                                                                                                      \
        "subs    r11, r11, #1\n\t"                                                                                \
        "bne     1b\n\t"                                                                                          \
        "2:\n\t"                                                                                                  \
        PW_LANES                                                                                                  \
        "ldr     r9, [sp]\n\t"                                                                                    \
        OUTS                                                                                                      \
        STORE                                                                                                     \
        "add     sp, sp, #8\n\t"                                                                                  \
        "vpop    {d8-d15}\n\t"                                                                                    \
        "pop     {r4-r11, pc}\n\t"

/* Pairs of output pixels whose windows lie wholly inside the input, read there (no im2col): a window is k_h rows of
 * k_w C contiguous bytes (dil_w 1, C a multiple of 16). Per window row its blocks against the group's rows
 * interleaved by block (pw_interleave: they run through the window's blocks in order), eight VMLADAVA.S8 per block
 * as pw_pairs_mve (the first block by VMLADAV), then both pointers on to the next window row; the pair's outputs
 * through the four-lane path's scatter (the second's OC further, pw_consts_offsets), then the next pair (istep and
 * ostep further). Field use of pw_pair: src the first pair's first window, K the pair's second window's distance from
 * its first, nb the blocks of a window row, tail the window rows; the struct in r9 throughout. */
typedef struct {
    pw_pair pp;
    int32_t jump;  /* 40: from a window row's end to the next row's start (dil_h in_w C - k_w C) */
    int32_t istep; /* 44: from a pair's first window to the next pair's */
    int32_t ostep; /* 48: from a pair's first output to the next pair's */
} pw_pwin;
typedef char pw_pwin_is_the_asm_layout[(offsetof(pw_pwin, pp.tail) == 24 && offsetof(pw_pwin, jump) == 40 &&
                                        offsetof(pw_pwin, istep) == 44 && offsetof(pw_pwin, ostep) == 48) ? 1 : -1];
#define PW_STORE_WIN                                                                                              \
        "ldrd    r0, r2, [r9, #4]\n\t"        /* dst, pairs */                                                    \
        "vstrb.16 q0, [r0, q3]\n\t"                                                                               \
        "ldr     r4, [r9, #48]\n\t"                                                                               \
        "add     r0, r0, r4\n\t"              /* the next pair's outputs */                                       \
        "ldr     r3, [r9, #44]\n\t"                                                                               \
        PW_NEXT_SRC("r3")                     /* and windows */                                                   \
        PW_STORE_NEXT
/* a block of both windows (r1, r3) against the rows at r5, OP as PW_ROWS_OP's; three in a row, the first by OP */
#define PW_BLOCK_OP(OP)                                                                                          \
        "vldrb.u8 q0, [r1], #16\n\t"                                                                              \
        "vldrb.u8 q1, [r3], #16\n\t"                                                                              \
        PW_ROWS_OP(OP)
#define PW_BLOCK3(OP) PW_BLOCK_OP(OP) PW_BLOCK_OP("vmladava") PW_BLOCK_OP("vmladava")
/* the windows kernels' start: PW_HEAD, the window rows and into r7 the field at R7 */
#define PW_WIN_HEAD(R7)                                                                                          \
        PW_HEAD                                                                                                   \
        "ldr     r11, [r9, #24]\n\t"         /* window rows */                                                    \
        "ldr     r7, [r9, #" #R7 "]\n\t"
/* ... and their end (at 4): the pair's outputs, then the next pair */
#define PW_WIN_TAIL(OUTS)                                                                                        \
        "4:\n\t"                                                                                                  \
        PW_LANES                                                                                                  \
        OUTS                                                                                                      \
        PW_STORE_WIN                                                                                              \
        "vpop    {d8-d15}\n\t"                                                                                    \
        "pop     {r4-r11, pc}\n\t"
/* the kernel, a step of U blocks (1, or 3 where nb counts threes; r7 a row's steps) */
#define PW_PAIRS_WIN(OUTS, FIRST, BODY)                                                                          \
        PW_WIN_HEAD(20)                                                                                           \
        FIRST                                                                                                     \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "beq     6f\n\t"                                                                                          \
        "1:\n\t"                                                                                                  \
        BODY                                                                                                      \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "bne     1b\n\t"                                                                                          \
        "6:\n\t"                                                                                                  \
        "subs    r11, r11, #1\n\t"                                                                                \
        "beq     4f\n\t"                                                                                          \
        "ldr     r7, [r9, #40]\n\t"          /* on to the next window row */                                      \
        "add     r1, r1, r7\n\t"                                                                                  \
        "add     r3, r3, r7\n\t"                                                                                  \
        "ldr     r7, [r9, #20]\n\t"                                                                               \
        "b       1b\n\t"                                                                                          \
        PW_WIN_TAIL(OUTS)
/* PW_PAIRS_WIN for window rows of one step each (r7 the jump from a row's end to the next row's start): per row FIRST
 * or BODY, then both pointers on by the jump */
#define PW_PAIRS_WIN1(OUTS, FIRST, BODY)                                                                         \
        PW_WIN_HEAD(40)                                                                                           \
        FIRST                                                                                                     \
        "subs    r11, r11, #1\n\t"                                                                                \
        "beq     4f\n\t"                                                                                          \
        "1:\n\t"                                                                                                  \
        "add     r1, r1, r7\n\t"                                                                                  \
        "add     r3, r3, r7\n\t"                                                                                  \
        BODY                                                                                                      \
        "subs    r11, r11, #1\n\t"                                                                                \
        "bne     1b\n\t"                                                                                          \
        PW_WIN_TAIL(OUTS)
#endif

#endif
