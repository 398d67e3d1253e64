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
