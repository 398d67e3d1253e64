/*
 * The DSP cores' sparse passes on a transposed input (Cortex-M4, M7): tinyasc_sparse_conv2d_s8 (tinyasc_sparse.c)
 * transposes a 1 x 1 layer's pixels into one row per input channel (tinyasc_sparse_t_prepare) where enough
 * non-zeros pay for it, so that each non-zero's eight windows are two words (tinyasc_sparse_t_s8, the ReLU form's
 * passes of eight). The generator ships this file only in a DSP core's library with such a layer
 * (generator.sparse_t_ships): elsewhere the weak references are null and sp_octs_relu_dsp reads the pixels in place.
 * On the other cores (and the host) it takes nothing. The same integers as the portable kernel
 * (tests/test_latency_kernels.py).
 */
#include "tinyasc_opt.h"
#include "tinyasc_sparse.h"
#include "tinyasc_sparse_asm.h"
#if SP_QUADS_ASM
#include <arm_acle.h>
#endif

/* The generated model's strong reference to this file (kernel_sources.Kernel.weak): a static library links it. */
const uint8_t tinyasc_sparse_t_s8_linked = 1;

#if SP_QUADS_ASM
/* sp_octs_relu_dsp's tap (SP_OCT_TAP, tinyasc_sparse.c) over eight windows one byte apart (the first at r2 + the
 * non-zero's offset, word-aligned): the inputs of windows 0-3 by one LDR, SXTB16 of the word (windows 0 and 2) and of
 * it rotated by 8 (1 and 3) into r3, SMLATB and SMLATT into the sums; windows 4-7 alike from the next word. F4..F11 as
 * SP_OCT_TAP's (r11 written last). */
#define SP_OCT_WTAP(F4, F5, F6, F7, F8, F9, F10, F11)                                                           \
        "uxtah  r12, r2, r1\n\t"                                                                                \
        "ldr    lr, [r12]\n\t"                                                                                  \
        "sxtb16 r3, lr\n\t"                                                                                     \
        "smlatb r4, r1, r3, " F4 "\n\t"                                                                         \
        "smlatt r6, r1, r3, " F6 "\n\t"                                                                         \
        "sxtb16 r3, lr, ror #8\n\t"                                                                             \
        "smlatb r5, r1, r3, " F5 "\n\t"                                                                         \
        "smlatt r7, r1, r3, " F7 "\n\t"                                                                         \
        "ldr    lr, [r12, #4]\n\t"                                                                              \
        "sxtb16 r3, lr\n\t"                                                                                     \
        "smlatb r8, r1, r3, " F8 "\n\t"                                                                         \
        "smlatt r10, r1, r3, " F10 "\n\t"                                                                       \
        "sxtb16 r3, lr, ror #8\n\t"                                                                             \
        "smlatb r9, r1, r3, " F9 "\n\t"                                                                         \
        "smlatt r11, r1, r3, " F11 "\n\t"
/* sp_octs_relu_dsp's passes over windows one byte apart (a 1 x 1 layer's input transposed, one row of pixels per
 * input channel: tr in tinyasc_sparse_conv2d_s8), a non-zero's offset word-aligned in the row: per non-zero and eight
 * windows two LDR of four inputs, four SXTB16 and eight SMLATB / SMLATT (SP_OCT_WTAP: 22 estimated M4 cycles with the
 * loop's load and test, against 33 with eight LDRSB and three ADD) */
void __attribute__((naked, noinline)) tinyasc_sparse_t_s8(sp_row *r __attribute__((unused)))
{
    __asm__ volatile(SP_OCTS_BODY(SP_OCT_WTAP));
}

/* n pixels of C channels (in: pixel by pixel; C a multiple of 4, tinyasc_sparse_t_prepare's condition) into t, one
 * row of tp bytes per channel (pixel j of channel c at c tp + j; tp a multiple of 4, t word-aligned): blocks of four
 * pixels x four channels in asm, four words in (pixels 0 and 1 from one pointer, 2 and 3 from another), each pair of
 * pixels' bytes interleaved by UXTB16 and ORR, the halfwords paired by PKHBT / PKHTB, four words out down the
 * channels' rows (about 2 estimated M4 cycles a byte, against 3.8 compiled from C); the last n mod 4 pixels byte by
 * byte. */
static __attribute__((noinline)) void sp_transpose(const int8_t *in, int8_t *t, int32_t n, int32_t C, int32_t tp)
{
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const int8_t *q0 = in + j * C, *q2 = q0 + 2 * C;
        int8_t *d0 = t + j, *d2 = d0 + 2 * tp; /* channels c and c + 2's rows */
        int32_t cnt = C / 4;
        uint32_t a, b, e, f, t1, t2;
        __asm__ volatile("1:\n\t"
                         "ldr    %[b], [%[q0], %[C]]\n\t"
                         "ldr    %[a], [%[q0]], #4\n\t"
                         "ldr    %[f], [%[q2], %[C]]\n\t"
                         "ldr    %[e], [%[q2]], #4\n\t"
                         "uxtb16 %[t1], %[b]\n\t"
                         "uxtb16 %[t2], %[a]\n\t"
                         "orr    %[t2], %[t2], %[t1], lsl #8\n\t"      /* a0 b0 a2 b2 */
                         "uxtb16 %[t1], %[b], ror #8\n\t"
                         "uxtb16 %[a], %[a], ror #8\n\t"
                         "orr    %[a], %[a], %[t1], lsl #8\n\t"        /* a1 b1 a3 b3 */
                         "uxtb16 %[t1], %[f]\n\t"
                         "uxtb16 %[b], %[e]\n\t"
                         "orr    %[b], %[b], %[t1], lsl #8\n\t"        /* e0 f0 e2 f2 */
                         "uxtb16 %[t1], %[f], ror #8\n\t"
                         "uxtb16 %[e], %[e], ror #8\n\t"
                         "orr    %[e], %[e], %[t1], lsl #8\n\t"        /* e1 f1 e3 f3 */
                         "pkhbt  %[t1], %[t2], %[b], lsl #16\n\t"
                         "str    %[t1], [%[d0]]\n\t"
                         "pkhbt  %[t1], %[a], %[e], lsl #16\n\t"
                         "str    %[t1], [%[d0], %[tp]]\n\t"
                         "pkhtb  %[t1], %[b], %[t2], asr #16\n\t"
                         "str    %[t1], [%[d2]]\n\t"
                         "pkhtb  %[t1], %[e], %[a], asr #16\n\t"
                         "str    %[t1], [%[d2], %[tp]]\n\t"
                         "add    %[d0], %[d0], %[tp], lsl #2\n\t"
                         "add    %[d2], %[d2], %[tp], lsl #2\n\t"
                         "subs   %[cnt], %[cnt], #1\n\t"
                         "bne    1b\n\t"
                         : [q0] "+r"(q0), [q2] "+r"(q2), [d0] "+r"(d0), [d2] "+r"(d2), [cnt] "+r"(cnt),
                           [a] "=&r"(a), [b] "=&r"(b), [e] "=&r"(e), [f] "=&r"(f), [t1] "=&r"(t1), [t2] "=&r"(t2)
                         : [C] "r"(C), [tp] "r"(tp)
                         : "cc", "memory");
    }
    for (; j < n; j++)
        for (int32_t c = 0; c < C; c++) t[c * tp + j] = in[j * C + c];
}
#undef SP_OCT_WTAP

int32_t tinyasc_sparse_t_prepare(const tinyasc_conv_params *p, const tinyasc_sparse_weights *s, const int8_t **input,
                                 int8_t *t, int32_t room)
{
    const int32_t C = p->in_c, n = p->in_w, tp = (n + 3) & ~3;
    if ((C & 3) != 0 || p->batches != 1 || p->in_h != 1 || p->stride_w != 1 || p->out_w != n || n < 8 ||
        C * tp > room)
        return 0;
    /* where it pays: 11 estimated M4 cycles saved per non-zero and pass of eight, less about 3 for its offset's
     * multiply (a cycle each time it is decoded), against about 3 a byte transposed (taken everywhere, VWW's sparse
     * layers of 3% or fewer non-zeros lost up to 12%); the gap bytes count the non-zeros and the rare escapes */
    if ((int64_t)s->n_gaps * (11 * (n / 8) - 3) <= (int64_t)3 * C * n) return 0;
    sp_transpose(*input, t, n, C, tp);
    *input = t;
    return tp;
}

int32_t tinyasc_sparse_t_decode(int32_t n, const uint8_t **gp, const int8_t **vp, int doubled, int32_t tp, uint32_t *pk)
{
    return tinyasc_sparse_decode_plain(n, gp, vp, doubled, tp, pk);
}
#else
void tinyasc_sparse_t_s8(sp_row *r)
{
    (void)r;
}
#endif
