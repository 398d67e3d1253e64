/*
 * FULLY_CONNECTED int8, optimized (tinyasc_opt_fully_connected_s8), with the contract of the portable
 * kernel in c/kernels/fully_connected.c: acc = bias + sum (w + filter_offset)(x + input_offset), then
 * MBQM with the row's (or the tensor's) multiplier and shift, the zero point and the activation clamp.
 *
 * A batch row of the input is read once per four output rows, which share it:
 *   Helium (Cortex-M55): sixteen inputs per vector, VMLADAVA.S8 of the raw bytes for each of the four rows
 *     (sixteen MACs per instruction) and VADDVA.S8 of the weights, whose sum times the input offset is the
 *     offset's share (sum w (x + off) = sum w x + off sum w); where every row's shift is a right shift the four
 *     rows leave together (VQRDMULH, VRSHL, the zero point, VMAX/VMIN as the activation clamp);
 *   DSP (Cortex-M4/M7): four inputs per word, SXTAB16 of the word and of the word rotated by 8 adds the
 *     input offset to inputs (0, 2) and (1, 3) as int16 lanes, which line up with SXTB16 of each row's
 *     weight word and of that word rotated by 8: two SMLAD per row, four MACs;
 *   elsewhere the portable kernel.
 * Weights with a zero point (filter_offset != 0, which int8 TFLite models do not use) take the portable
 * kernel. Every path sums the same integers in another order and requantizes with tinyasc_opt_requant
 * (TFLite's MBQM), so the bytes equal the portable kernel's (tests/test_latency_kernels.py, every core).
 * A generated library calls this kernel only for a layer whose input offset could not be folded into its bias;
 * the others read their weights in row blocks (tinyasc_opt_fully_connected_blocks_s8, below).
 */
#include <stddef.h>
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_MVE) || defined(__ARM_FEATURE_DSP)
/* Output row o of one batch row from its sum of w * (x + off) without the bias. */
static inline __attribute__((always_inline)) int8_t fc_out(const tinyasc_fc_params *p, const tinyasc_weights *w,
                                                           int32_t acc, int32_t o)
{
    const int32_t k = p->per_channel ? o : 0;
    if (w->bias) acc += w->bias[o];
    acc = tinyasc_opt_requant(acc, w->multiplier[k], w->shift[k]) + p->output_offset;
    return (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
}
#endif

#if defined(__ARM_FEATURE_MVE)
/* Sums of rows r[0..n) (n = 1..4) with the batch row x: VMLADAVA of the bytes, VADDVA of the weights. Whole
 * vectors unpredicated (a predicated loop restores VPR on every pass), then one predicated tail. */
static inline __attribute__((always_inline)) void fc_rows_mve(const int8_t *x, const int8_t *r0, int32_t K,
                                                              int32_t off, int32_t n, int32_t *out)
{
    const int8_t *r1 = r0 + K, *r2 = r1 + K, *r3 = r2 + K;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t k = 0;
    for (; k + 16 <= K; k += 16) {
        const int8x16_t v = vldrbq_s8(x + k), w0 = vldrbq_s8(r0 + k);
        a0 = vmladavaq_s8(a0, v, w0);
        s0 = vaddvaq_s8(s0, w0);
        if (n > 1) {
            const int8x16_t w1 = vldrbq_s8(r1 + k);
            a1 = vmladavaq_s8(a1, v, w1);
            s1 = vaddvaq_s8(s1, w1);
        }
        if (n > 2) {
            const int8x16_t w2 = vldrbq_s8(r2 + k);
            a2 = vmladavaq_s8(a2, v, w2);
            s2 = vaddvaq_s8(s2, w2);
        }
        if (n > 3) {
            const int8x16_t w3 = vldrbq_s8(r3 + k);
            a3 = vmladavaq_s8(a3, v, w3);
            s3 = vaddvaq_s8(s3, w3);
        }
    }
    if (k < K) {
        const mve_pred16_t pr = vctp8q((uint32_t)(K - k));
        const int8x16_t v = vldrbq_z_s8(x + k, pr), w0 = vldrbq_z_s8(r0 + k, pr);
        a0 = vmladavaq_p_s8(a0, v, w0, pr);
        s0 = vaddvaq_p_s8(s0, w0, pr);
        if (n > 1) {
            const int8x16_t w1 = vldrbq_z_s8(r1 + k, pr);
            a1 = vmladavaq_p_s8(a1, v, w1, pr);
            s1 = vaddvaq_p_s8(s1, w1, pr);
        }
        if (n > 2) {
            const int8x16_t w2 = vldrbq_z_s8(r2 + k, pr);
            a2 = vmladavaq_p_s8(a2, v, w2, pr);
            s2 = vaddvaq_p_s8(s2, w2, pr);
        }
        if (n > 3) {
            const int8x16_t w3 = vldrbq_z_s8(r3 + k, pr);
            a3 = vmladavaq_p_s8(a3, v, w3, pr);
            s3 = vaddvaq_p_s8(s3, w3, pr);
        }
    }
    out[0] = a0 + off * s0;
    out[1] = a1 + off * s1;
    out[2] = a2 + off * s2;
    out[3] = a3 + off * s3;
}

#define FC_ROWS(x, r0, K, off2, off, n, sums) fc_rows_mve(x, r0, K, off, n, sums)

/* Whether every row's shift is a right shift (s <= -1): the four-row output path below. */
static int fc_right_shifts(const tinyasc_fc_params *p, const tinyasc_weights *w)
{
    const int32_t n = p->per_channel ? p->out_depth : 1;
    for (int32_t o = 0; o < n; o++)
        if (w->shift[o] > -1) return 0;
    return 1;
}

/* Rows o..o+3 from their sums at once: the bias, then tinyasc_rq_x4_apply (TFLite's MBQM, the zero point, the int8
 * clamp) and the activation range inside int8 (VMAX, VMIN). */
static inline __attribute__((always_inline)) void fc_out4_mve(const tinyasc_fc_params *p, const tinyasc_weights *w,
                                                              const int32_t *sums, int32_t o, int8_t *y)
{
    int32x4_t acc = vldrwq_s32(sums);
    if (w->bias) acc = vaddq_s32(acc, vldrwq_s32(w->bias + o));
    const tinyasc_rq_x4 q = {.m = p->per_channel ? vldrwq_s32(w->multiplier + o) : vdupq_n_s32(w->multiplier[0]),
                             .neg_r = p->per_channel ? vldrwq_s32(w->shift + o) : vdupq_n_s32(w->shift[0]),
                             .zp = vdupq_n_s32(p->output_offset)};
    const int32x4_t r = tinyasc_rq_x4_apply(acc, q);
    vstrbq_s32(y + o, vminq_s32(vmaxq_s32(r, vdupq_n_s32(p->act_min)), vdupq_n_s32(p->act_max)));
}

#elif defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>

/* Four MACs of one row: weight word u against the offset inputs xs = (x0, x2), xr = (x1, x3). */
#define FC_MAC4(a, u, xs, xr) ((a) = (int32_t)__smlad(tinyasc_sxtb16_ror8(u), (xr), (uint32_t)__smlad(__sxtb16(u), (xs), (a))))

#if defined(__thumb2__)
/* Four rows' whole words in asm (fc_quad_dsp): per word of four inputs one LDR and two SXTAB16 for all four rows,
 * per row one LDR, two SXTB16 and two SMLAD, two words per loop pass (a pass entered halfway for an odd count).
 * Compiled from C the loop holds fifteen values and GCC spilled the row pointers (five stack loads per word); here
 * the four sums, the input and two row pointers (rows 1 and 3 at register offset K), the end, K, the offset and
 * the widened inputs fill r0-r12 and lr. Offsets below (bytes) are those of fc_quad. */
#define FC_QUAD_ASM 1
typedef struct {
    const int8_t *x, *row0; /* 0, 4: the batch row, the first of four weight rows (K bytes apart) */
    int32_t words, K;       /* 8, 12: bytes of whole words (K & ~3, > 0), the row length */
    uint32_t off2;          /* 16: the input offset in both halfwords */
    int32_t sums[4];        /* 20..32: the four rows' sums of w * (x + off) over the whole words */
} fc_quad;
/* the asm's offsets (C99: a negative array size where the layout differs) */
typedef char fc_quad_is_the_asm_layout[(offsetof(fc_quad, x) == 0 && offsetof(fc_quad, row0) == 4 &&
                                        offsetof(fc_quad, words) == 8 && offsetof(fc_quad, K) == 12 &&
                                        offsetof(fc_quad, off2) == 16 && offsetof(fc_quad, sums) == 20) ? 1 : -1];

static __attribute__((naked, noinline)) void fc_quad_dsp(fc_quad *q __attribute__((unused))) /* q arrives in r0 */
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "push   {r0}\n\t"
        "ldrd   r4, r6, [r0, #0]\n\t"       /* x, row 0 */
        "ldrd   r5, r8, [r0, #8]\n\t"       /* words, K */
        "ldr    r9, [r0, #16]\n\t"          /* off2 */
        "add    r7, r6, r8, lsl #1\n\t"     /* row 2 */
        "ands   r12, r5, #4\n\t"            /* an odd number of words: enter at the pass's second half */
        "add    r5, r4, r5\n\t"             /* end of the whole words */
        "mov    r0, #0\n\t"
        "mov    r1, #0\n\t"
        "mov    r2, #0\n\t"
        "mov    r3, #0\n\t"
        "bne    2f\n\t"
/* one word of four inputs: xs = (x0, x2) + off, xr = (x1, x3) + off; row r's word w: SXTB16 lanes (w0, w2), then
 * (w1, w3) from w rotated by 8 */
#define FC_ROW(acc, load)                                                                                        \
        "ldr    lr, " load "\n\t"                                                                               \
        "sxtb16 r12, lr\n\t"                                                                                    \
        "smlad  " acc ", r12, r10, " acc "\n\t"                                                                 \
        "sxtb16 lr, lr, ror #8\n\t"                                                                             \
        "smlad  " acc ", lr, r11, " acc "\n\t"
#define FC_WORD                                                                                                  \
        "ldr    r10, [r4], #4\n\t"                                                                              \
        "sxtab16 r11, r9, r10, ror #8\n\t"                                                                      \
        "sxtab16 r10, r9, r10\n\t"                                                                              \
        FC_ROW("r1", "[r6, r8]")                                                                                 \
        FC_ROW("r0", "[r6], #4")                                                                                 \
        FC_ROW("r3", "[r7, r8]")                                                                                 \
        FC_ROW("r2", "[r7], #4")
        "1:\n\t"
        FC_WORD
        "2:\n\t"
        FC_WORD
#undef FC_WORD
#undef FC_ROW
        "cmp    r4, r5\n\t"
        "bne    1b\n\t"
        "pop    {r12}\n\t"
        "add    r12, r12, #20\n\t"
        "stm    r12, {r0-r3}\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#else
#define FC_QUAD_ASM 0
#endif

/* Sums of w * (x + off) of rows r[0..n) (n = 1..4) with the batch row x: four inputs per word read once for the
 * n rows (four rows: fc_quad_dsp), the last K % 4 one by one. */
static inline __attribute__((always_inline)) void fc_rows_dsp(const int8_t *x, const int8_t *r0, int32_t K,
                                                              uint32_t off2, int32_t off, int32_t n, int32_t *out)
{
    const int8_t *r1 = r0 + K, *r2 = r1 + K, *r3 = r2 + K;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int32_t K4 = K & ~3;
    int32_t k = 0;
#if FC_QUAD_ASM
    if (n == 4 && K4 > 0) {
        fc_quad q = {.x = x, .row0 = r0, .words = K4, .K = K, .off2 = off2};
        fc_quad_dsp(&q);
        a0 = q.sums[0], a1 = q.sums[1], a2 = q.sums[2], a3 = q.sums[3];
        k = K4;
    }
#endif
    for (; k < K4 && !(FC_QUAD_ASM && n == 4); k += 4) { /* four rows' words: fc_quad_dsp above */
        const uint32_t v = tinyasc_load_u32(x + k);
        const uint32_t xs = __sxtab16(off2, v), xr = tinyasc_sxtab16_ror8(off2, v);
        FC_MAC4(a0, tinyasc_load_u32(r0 + k), xs, xr);
        if (n > 1) FC_MAC4(a1, tinyasc_load_u32(r1 + k), xs, xr);
        if (n > 2) FC_MAC4(a2, tinyasc_load_u32(r2 + k), xs, xr);
        if (n > 3) FC_MAC4(a3, tinyasc_load_u32(r3 + k), xs, xr);
    }
    for (; k < K; k++) {
        const int32_t v = x[k] + off;
        a0 += r0[k] * v;
        if (n > 1) a1 += r1[k] * v;
        if (n > 2) a2 += r2[k] * v;
        if (n > 3) a3 += r3[k] * v;
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

#define FC_ROWS(x, r0, K, off2, off, n, sums) fc_rows_dsp(x, r0, K, off2, off, n, sums)
#endif

void tinyasc_opt_fully_connected_s8(const tinyasc_fc_params *p, const tinyasc_weights *w, const int8_t *input,
                                    int8_t *output)
{
#if defined(FC_ROWS)
    if (p->filter_offset == 0) {
        /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
        const tinyasc_fc_params pl = *p;
        const tinyasc_weights wl = *w;
        const int32_t K = pl.accum_depth, N = pl.out_depth, off = pl.input_offset;
        const uint32_t off2 = ((uint32_t)(uint16_t)off << 16) | (uint16_t)off;
        (void)off2;
#if defined(__ARM_FEATURE_MVE)
        const int rights = fc_right_shifts(&pl, &wl);
#endif
        for (int32_t b = 0; b < pl.batches; b++) {
            const int8_t *x = input + b * K;
            int8_t *y = output + b * N;
            int32_t o = 0, sums[4];
            for (; o + 4 <= N; o += 4) {
                FC_ROWS(x, wl.data + o * K, K, off2, off, 4, sums);
#if defined(__ARM_FEATURE_MVE)
                if (rights) {
                    fc_out4_mve(&pl, &wl, sums, o, y);
                    continue;
                }
#endif
                for (int32_t j = 0; j < 4; j++) y[o + j] = fc_out(&pl, &wl, sums[j], o + j);
            }
            for (; o < N; o++) { /* the last N % 4 rows one at a time */
                FC_ROWS(x, wl.data + o * K, K, off2, off, 1, sums);
                y[o] = fc_out(&pl, &wl, sums[0], o);
            }
        }
        return;
    }
#endif
    tinyasc_fully_connected_s8(p, w, input, output);
}

/* ---------------------------------------------------------------- the weights in row blocks
 *
 * tinyasc_opt_fully_connected_blocks_s8: the layout of tinyasc_fc_blocks_params, which the generator writes in the
 * geometry of the core (generator.fc_block_shape) for a layer whose input offset it folded into the bias
 * (generator.fold_fc_input_offset), so that the sums are of the raw products. A block's steps follow each other in
 * flash, and so do the blocks: one weight pointer walks the layer.
 *   Helium: eight rows of sixteen bytes a step; per step one VLDRB of the inputs and per row one VLDRB and one
 *     VMLADAVA (sixteen MACs), two steps a loop pass: 35.5 cycles per 128 MACs on the M55's model. The last K % 16
 *     inputs and each row's last K % 16 weights are predicated loads (VCTP, VPST: the lanes past K read as zero).
 *   DSP: four rows of four bytes a step; per step one LDR and two SXTB16 of the inputs and two LDRD of the four rows'
 *     words, then per row two SXTB16 and two SMLAD: 24 cycles per 16 MACs on the M4's model, against 28 with the
 *     rows K bytes apart. The last K % 4 inputs and weights as zero-padded words in C.
 * A layer quantized per tensor on the output path of the layer's whole range (Helium: right shifts, the four-lane
 * rescaling; DSP: the folded form and SSAT) runs its whole blocks in one asm call with the outputs written from the
 * registers (fc_layer8_mve, fc_layer4_dsp: the biases start the sums); other layers, and a last block of fewer
 * rows, sum a block at a time (fc_block8_mve, fc_block4_dsp) and leave by fc_out. Any other geometry or a
 * remaining input offset takes the portable kernel, which reads any block geometry. */
#if defined(__ARM_FEATURE_MVE)
#define FC_BLOCK_ROWS 8
#define FC_BLOCK_K 16

/* One step: sixteen inputs from XREG (advanced) into q0, then each row's sixteen weights from r7 (advanced) against
 * them into its sum r0, r2, ..., r12, lr (VMLADAVA takes even registers only). */
#define FC8_ROW(acc, q) "vldrb.u8 " q ", [r7], #16\n\t" "vmladava.s8 " acc ", q0, " q "\n\t"
#define FC8_STEP(XREG)                                                                                            \
        "vldrb.u8 q0, [" XREG "], #16\n\t"                                                                      \
        FC8_ROW("r0", "q1") FC8_ROW("r2", "q2") FC8_ROW("r4", "q1") FC8_ROW("r6", "q2")                          \
        FC8_ROW("r8", "q1") FC8_ROW("r10", "q2") FC8_ROW("r12", "q1") FC8_ROW("lr", "q2")

/* The sums of one block (fc_block8_mve). Offsets below (bytes) are the asm's. */
typedef struct {
    const int8_t *x;    /* 0: the batch row */
    const int8_t *w;    /* 4: the block's first step */
    int32_t steps;      /* 8: whole vectors of x (0 or more) */
    const int8_t *last; /* 12: the last K % 16 inputs (x + 16 steps), or NULL where there are none */
    int32_t tail;       /* 16: K % 16 */
    int32_t sums[8];    /* 20..48: the eight rows' sums */
} fc_block8;
typedef char fc_block8_is_the_asm_layout[(offsetof(fc_block8, x) == 0 && offsetof(fc_block8, w) == 4 &&
                                          offsetof(fc_block8, steps) == 8 && offsetof(fc_block8, last) == 12 &&
                                          offsetof(fc_block8, tail) == 16 && offsetof(fc_block8, sums) == 20)
                                             ? 1 : -1];

/* A layer's whole blocks with their outputs (fc_layer8_mve). */
typedef struct {
    const int8_t *x;      /* 0 */
    const int8_t *w;      /* 4: the first block */
    int32_t steps;        /* 8 */
    const int8_t *last;   /* 12 */
    int32_t tail;         /* 16 */
    int32_t blocks;       /* 20: blocks of eight rows (> 0) */
    int8_t *y;            /* 24: the first block's outputs */
    const int32_t *bias;  /* 28: the first block's biases, or NULL */
    int32_t m, neg_r, zp; /* 32, 36, 40: the multiplier, the shift (<= -1), the output zero point */
} fc_layer8;
typedef char fc_layer8_is_the_asm_layout[(offsetof(fc_layer8, x) == 0 && offsetof(fc_layer8, w) == 4 &&
                                          offsetof(fc_layer8, steps) == 8 && offsetof(fc_layer8, last) == 12 &&
                                          offsetof(fc_layer8, tail) == 16 && offsetof(fc_layer8, blocks) == 20 &&
                                          offsetof(fc_layer8, y) == 24 && offsetof(fc_layer8, bias) == 28 &&
                                          offsetof(fc_layer8, m) == 32 && offsetof(fc_layer8, neg_r) == 36 &&
                                          offsetof(fc_layer8, zp) == 40) ? 1 : -1];

/* The block's steps (x in r1; none when 0; two a loop pass, (steps + 1) / 2 passes counted in r5, an odd count
 * entering at the pass's second step), then the last K % 16 inputs and each row's last K % 16
 * weights (r11 of them) under the predicate VCTP makes of r11 (VPST before each load): the sums in r0 ... lr. */
#define FC8_TAIL_ROW(acc)                                                                                         \
        "vpst\n\t"                                                                                             \
        "vldrbt.u8 q1, [r7]\n\t"                                                                              \
        "add      r7, r7, r11\n\t"                                                                            \
        "vmladava.s8 " acc ", q0, q1\n\t"
#define FC8_STEPS                                                                                                 \
        "ldr      r1, [r9, #0]\n\t"                                                                             \
        "ldr      r5, [r9, #8]\n\t"                                                                             \
        "cmp      r5, #0\n\t"                                                                                   \
        "beq      6f\n\t"                                                                                       \
        "tst      r5, #1\n\t"                                                                                   \
        "add      r5, r5, #1\n\t"                                                                               \
        "lsr      r5, r5, #1\n\t"                                                                               \
        "bne      2f\n\t"                                                                                       \
        "1:\n\t"                                                                                                \
        FC8_STEP("r1")                                                                                          \
        "2:\n\t"                                                                                                \
        FC8_STEP("r1")                                                                                          \
        "subs     r5, r5, #1\n\t"                                                                               \
        "bne      1b\n\t"                                                                                       \
        "6:\n\t"                                                                                                \
        "ldr      r3, [r9, #12]\n\t"                                                                            \
        "cbz      r3, 7f\n\t"                                                                                   \
        "ldr      r11, [r9, #16]\n\t"                                                                           \
        "vctp.8   r11\n\t"                                                                                      \
        "vpst\n\t"                                                                                             \
        "vldrbt.u8 q0, [r3]\n\t"                                                                              \
        FC8_TAIL_ROW("r0") FC8_TAIL_ROW("r2") FC8_TAIL_ROW("r4") FC8_TAIL_ROW("r6")                              \
        FC8_TAIL_ROW("r8") FC8_TAIL_ROW("r10") FC8_TAIL_ROW("r12") FC8_TAIL_ROW("lr")                            \
        "7:\n\t"

#define FC8_ZERO                                                                                                  \
        "mov      r0, #0\n\t" "mov r2, #0\n\t" "mov r4, #0\n\t" "mov r6, #0\n\t"                                  \
        "mov      r8, #0\n\t" "mov r10, #0\n\t" "mov r12, #0\n\t" "mov lr, #0\n\t"

static __attribute__((naked, noinline)) void fc_block8_mve(fc_block8 *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(
        "push     {r4-r11, lr}\n\t"
        "mov      r9, r0\n\t"
        "ldr      r7, [r9, #4]\n\t"
        FC8_ZERO
        FC8_STEPS
        "strd     r0, r2, [r9, #20]\n\t"
        "strd     r4, r6, [r9, #28]\n\t"
        "strd     r8, r10, [r9, #36]\n\t"
        "strd     r12, lr, [r9, #44]\n\t"
        "pop      {r4-r11, pc}\n\t");
}

/* Four outputs from the lanes of Q: TFLite's MBQM with the multiplier r1 and the shift r3 (VQRDMULH, the sign's
 * nudge, VRSHL), the zero point r5, the int8 clamp (a saturating shift by 24 and back), stored at r0 (advanced). */
#define FC8_OUT4(Q)                                                                                               \
        "vqrdmulh.s32 " Q ", " Q ", r1\n\t"                                                                     \
        "vshr.s32 q2, " Q ", #31\n\t"                                                                           \
        "vadd.i32 " Q ", " Q ", q2\n\t"                                                                         \
        "vrshl.s32 " Q ", r3\n\t"                                                                               \
        "vadd.i32 " Q ", " Q ", r5\n\t"                                                                         \
        "vqshl.s32 " Q ", " Q ", #24\n\t"                                                                       \
        "vshr.s32 " Q ", " Q ", #24\n\t"                                                                        \
        "vstrb.32 " Q ", [r0], #4\n\t"

static __attribute__((naked, noinline)) void fc_layer8_mve(fc_layer8 *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(
        "push     {r4-r11, lr}\n\t"
        "mov      r9, r0\n\t"
        "ldr      r7, [r9, #4]\n\t"          /* the weights: every block's steps in turn */
        "5:\n\t"
        "ldr      r3, [r9, #28]\n\t"         /* the sums start at the biases */
        "cbz      r3, 3f\n\t"
        "ldrd     r0, r2, [r3, #0]\n\t"
        "ldrd     r4, r6, [r3, #8]\n\t"
        "ldrd     r8, r10, [r3, #16]\n\t"
        "ldrd     r12, lr, [r3, #24]\n\t"
        "add      r3, r3, #32\n\t"
        "str      r3, [r9, #28]\n\t"
        "b        4f\n\t"
        "3:\n\t"
        FC8_ZERO
        "4:\n\t"
        FC8_STEPS
        "vmov.32  d0[0], r0\n\t"            /* rows 0-3 in q0 (d0, d1), 4-7 in q1 (d2, d3), a lane each */
        "vmov.32  d0[1], r2\n\t"
        "vmov.32  d1[0], r4\n\t"
        "vmov.32  d1[1], r6\n\t"
        "vmov.32  d2[0], r8\n\t"
        "vmov.32  d2[1], r10\n\t"
        "vmov.32  d3[0], r12\n\t"
        "vmov.32  d3[1], lr\n\t"
        "ldrd     r1, r3, [r9, #32]\n\t"
        "ldr      r5, [r9, #40]\n\t"
        "ldr      r0, [r9, #24]\n\t"          /* y (VSTRB.32 takes a low base register) */
        FC8_OUT4("q0")
        FC8_OUT4("q1")
        "str      r0, [r9, #24]\n\t"
        "ldr      r5, [r9, #20]\n\t"
        "subs     r5, r5, #1\n\t"
        "str      r5, [r9, #20]\n\t"
        "bne      5b\n\t"
        "pop      {r4-r11, pc}\n\t");
}
#undef FC8_OUT4
#undef FC8_ZERO
#undef FC8_STEPS
#undef FC8_TAIL_ROW
#undef FC8_STEP
#undef FC8_ROW

static void fc_blocks_fast(const tinyasc_fc_blocks_params *bp, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output)
{
    const tinyasc_fc_params pl = bp->fc;
    const tinyasc_weights wl = *w;
    const int32_t K = pl.accum_depth, N = pl.out_depth, K16 = K & ~15, tail = K & 15;
    const int layer = !pl.per_channel && pl.act_min == -128 && pl.act_max == 127 && wl.shift[0] <= -1;
    for (int32_t b = 0; b < pl.batches; b++) {
        const int8_t *x = input + b * K;
        int8_t *y = output + b * N;
        int32_t o = 0;
        if (layer && N >= 8) {
            fc_layer8 q = {.x = x, .w = wl.data, .steps = K16 / 16, .last = tail ? x + K16 : NULL, .tail = tail,
                           .blocks = N / 8, .y = y, .bias = wl.bias, .m = wl.multiplier[0], .neg_r = wl.shift[0],
                           .zp = pl.output_offset};
            fc_layer8_mve(&q);
            o = 8 * (N / 8);
        }
        for (; o < N; o += 8) {
            fc_block8 q = {.x = x, .w = wl.data + o * K, .steps = K16 / 16, .last = tail ? x + K16 : NULL,
                           .tail = tail};
            fc_block8_mve(&q);
            for (int32_t j = 0; j < 8 && o + j < N; j++) y[o + j] = fc_out(&pl, &wl, q.sums[j], o + j);
        }
    }
}
#elif defined(__ARM_FEATURE_DSP) && defined(__thumb2__)
#define FC_BLOCK_ROWS 4
#define FC_BLOCK_K 4

/* One step: four inputs from r4 (advanced) as the lanes (x0, x2) in r10 and (x1, x3) in r11, then the four rows'
 * words from r5 (two LDRD, advanced) against them into r0-r3 (r12 a row's SXTB16). */
#define FB_ROW(acc, wreg)                                                                                         \
        "sxtb16 r12, " wreg "\n\t"                                                                              \
        "smlad  " acc ", r12, r10, " acc "\n\t"                                                                 \
        "sxtb16 " wreg ", " wreg ", ror #8\n\t"                                                                 \
        "smlad  " acc ", " wreg ", r11, " acc "\n\t"
#define FB_STEP                                                                                                   \
        "ldr    r10, [r4], #4\n\t"                                                                              \
        "sxtb16 r11, r10, ror #8\n\t"                                                                           \
        "sxtb16 r10, r10\n\t"                                                                                   \
        "ldrd   r7, r8, [r5], #8\n\t"                                                                           \
        FB_ROW("r0", "r7")                                                                                       \
        FB_ROW("r1", "r8")                                                                                       \
        "ldrd   r7, r8, [r5], #8\n\t"                                                                           \
        FB_ROW("r2", "r7")                                                                                       \
        FB_ROW("r3", "r8")
/* The steps of K4 bytes (r9, a multiple of 4, > 0) of x from r4 up to the end r6, two a loop pass (entered halfway
 * for an odd count). */
#define FB_STEPS                                                                                                  \
        "tst    r9, #4\n\t"                                                                                     \
        "bne    2f\n\t"                                                                                         \
        "1:\n\t"                                                                                                \
        FB_STEP                                                                                                 \
        "2:\n\t"                                                                                                \
        FB_STEP                                                                                                 \
        "cmp    r4, r6\n\t"                                                                                     \
        "bne    1b\n\t"

/* The four rows' sums over K4 bytes of whole words (> 0) of x from the block's steps at w, into sums. */
static __attribute__((naked, noinline)) void fc_block4_dsp(const int8_t *x __attribute__((unused)),
                                                           const int8_t *w __attribute__((unused)),
                                                           int32_t K4 __attribute__((unused)),
                                                           int32_t *sums __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "push   {r3}\n\t"
        "mov    r4, r0\n\t"
        "mov    r5, r1\n\t"
        "mov    r9, r2\n\t"
        "add    r6, r0, r2\n\t"
        "mov    r0, #0\n\t"
        "mov    r1, #0\n\t"
        "mov    r2, #0\n\t"
        "mov    r3, #0\n\t"
        FB_STEPS
        "pop    {r12}\n\t"
        "stm    r12, {r0-r3}\n\t"
        "pop    {r4-r11, pc}\n\t");
}

/* A layer's whole blocks with their outputs (fc_layer4_dsp). Offsets below (bytes) are the asm's. */
typedef struct {
    const int8_t *x;     /* 0 */
    const int8_t *w;     /* 4: the first block */
    int32_t K4;          /* 8: K, a multiple of 4 */
    int32_t blocks;      /* 12: blocks of four rows (> 0) */
    int8_t *y;           /* 16: the first block's outputs */
    const int32_t *bias; /* 20: the first block's biases, or NULL */
    int32_t m, rnd, sh;  /* 24, 28, 32: the folded output path's constants (tinyasc_rq_consts with the zero point) */
} fc_layer4;
typedef char fc_layer4_is_the_asm_layout[(offsetof(fc_layer4, x) == 0 && offsetof(fc_layer4, w) == 4 &&
                                          offsetof(fc_layer4, K4) == 8 && offsetof(fc_layer4, blocks) == 12 &&
                                          offsetof(fc_layer4, y) == 16 && offsetof(fc_layer4, bias) == 20 &&
                                          offsetof(fc_layer4, m) == 24 && offsetof(fc_layer4, rnd) == 28 &&
                                          offsetof(fc_layer4, sh) == 32) ? 1 : -1];

/* tinyasc_out_fast of ACC with m in r8, rnd in r10, sh in r11, stored at r4 (advanced; r7 and lr scratch) */
#define FB_OUT(ACC)                                                                                               \
        "and    r7, " ACC ", #0x80000000\n\t"                                                                   \
        "orr    r7, r7, #0x40000000\n\t"                                                                        \
        "add    lr, r10, " ACC ", asr #31\n\t"                                                                  \
        "smlal  r7, lr, " ACC ", r8\n\t"                                                                        \
        "asr    lr, lr, r11\n\t"                                                                                \
        "ssat   lr, #8, lr\n\t"                                                                                 \
        "strb   lr, [r4], #1\n\t"

static __attribute__((naked, noinline)) void fc_layer4_dsp(fc_layer4 *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "push   {r0}\n\t"                   /* [sp]: q */
        "ldrd   r4, r5, [r0, #0]\n\t"       /* x, w */
        "ldr    r9, [r0, #8]\n\t"           /* K4 */
        "add    r6, r4, r9\n\t"             /* the end of x */
        "5:\n\t"
        "ldr    r12, [sp]\n\t"
        "ldr    lr, [r12, #20]\n\t"         /* the sums start at the biases */
        "cmp    lr, #0\n\t"
        "beq    3f\n\t"
        "ldm    lr!, {r0-r3}\n\t"
        "str    lr, [r12, #20]\n\t"
        "b      4f\n\t"
        "3:\n\t"
        "mov    r0, #0\n\t"
        "mov    r1, #0\n\t"
        "mov    r2, #0\n\t"
        "mov    r3, #0\n\t"
        "4:\n\t"
        "sub    r4, r6, r9\n\t"
        FB_STEPS
        "ldr    r12, [sp]\n\t"
        "ldr    r4, [r12, #16]\n\t"         /* y */
        "add    r7, r12, #24\n\t"
        "ldm    r7, {r8, r10, r11}\n\t"     /* m, rnd, sh */
        FB_OUT("r0")
        FB_OUT("r1")
        FB_OUT("r2")
        FB_OUT("r3")
        "ldr    r12, [sp]\n\t"
        "str    r4, [r12, #16]\n\t"
        "ldr    r7, [r12, #12]\n\t"
        "subs   r7, r7, #1\n\t"
        "str    r7, [r12, #12]\n\t"
        "bne    5b\n\t"
        "pop    {r0}\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#undef FB_OUT
#undef FB_STEPS
#undef FB_STEP
#undef FB_ROW

static void fc_blocks_fast(const tinyasc_fc_blocks_params *bp, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output)
{
    const tinyasc_fc_params pl = bp->fc;
    const tinyasc_weights wl = *w;
    const int32_t K = pl.accum_depth, N = pl.out_depth, K4 = K & ~3, tail = K & 3;
    const int layer = !pl.per_channel && pl.act_min == -128 && pl.act_max == 127 && tail == 0 &&
                      tinyasc_rq_zp_folds(wl.multiplier[0], wl.shift[0]);
    for (int32_t b = 0; b < pl.batches; b++) {
        const int8_t *x = input + b * K;
        int8_t *y = output + b * N;
        int32_t o = 0;
        if (layer && N >= 4) {
            fc_layer4 q = {.x = x, .w = wl.data, .K4 = K4, .blocks = N / 4, .y = y, .bias = wl.bias,
                           .m = wl.multiplier[0]};
            tinyasc_rq_consts(wl.shift[0], pl.output_offset, &q.rnd, &q.sh);
            fc_layer4_dsp(&q);
            o = 4 * (N / 4);
        }
        uint32_t xt = 0; /* the last K % 4 inputs, zero above them */
        for (int32_t t = 0; t < tail; t++) xt |= (uint32_t)(uint8_t)x[K4 + t] << (8 * t);
        const uint32_t xs = __sxtb16(xt), xr = tinyasc_sxtb16_ror8(xt);
        for (; o < N; o += 4) {
            const int8_t *wp = wl.data + o * K;
            int32_t a[4] = {0, 0, 0, 0};
            if (K4 > 0) fc_block4_dsp(x, wp, K4, a);
            for (int32_t r = 0; r < 4 && tail; r++) { /* each row's last K % 4 weights, after the whole steps */
                const int8_t *wt = wp + K4 * 4 + r * tail;
                uint32_t u = 0;
                for (int32_t t = 0; t < tail; t++) u |= (uint32_t)(uint8_t)wt[t] << (8 * t);
                FC_MAC4(a[r], u, xs, xr);
            }
            for (int32_t r = 0; r < 4 && o + r < N; r++) y[o + r] = fc_out(&pl, &wl, a[r], o + r);
        }
    }
}
#endif

void tinyasc_opt_fully_connected_blocks_s8(const tinyasc_fc_blocks_params *p, const tinyasc_weights *w,
                                           const int8_t *input, int8_t *output)
{
#if defined(FC_BLOCK_ROWS)
    if (p->block_rows == FC_BLOCK_ROWS && p->block_k == FC_BLOCK_K && p->fc.input_offset == 0 &&
        p->fc.filter_offset == 0) {
        fc_blocks_fast(p, w, input, output);
        return;
    }
#endif
    tinyasc_fully_connected_blocks_s8(p, w, input, output);
}
