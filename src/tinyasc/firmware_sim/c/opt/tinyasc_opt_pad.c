/*
 * PAD (int8), optimized, with tinyasc_pad_s8's contract (c/kernels/data_movement.c). On Helium, where the last axis
 * is not padded (a one-channel spectrogram padded along frequency and time, any NHWC tensor padded along H or W), the
 * output is a sequence of rows of its last two axes and each row is written once: the padding before the input's run,
 * the run, the padding after it (a row outside the input: all padding), whole 16-byte vectors unpredicated and one
 * predicated vector for each part's last bytes. The portable kernel writes the padding value over the whole output
 * first and then copies each run in with a library call. On the other cores, and for other paddings: the portable
 * kernel (on the M4 it beats TFLite Micro's PAD already; a row-at-a-time version in C was slower there).
 */
#include <stddef.h>
#include <string.h>
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

/* The input rows of a block in asm, where the padding before and after a run is under 16 bytes (the common case: a
 * spectrogram padded by a few columns): per row one predicated VSTRB of the padding before, the run in whole vectors
 * (a low-overhead loop) and one predicated pair for its last bytes, one predicated VSTRB of the padding after; the
 * predicates (VCTP of each part's length) computed once. Compiled from C the same loop kept its counts and
 * predicates on the stack (55 instructions a row). Offsets below are those of pad_rows. */
typedef struct {
    int8_t *out;            /* 0 */
    const int8_t *in;       /* 4 */
    int32_t rows, whole;    /* 8, 12: input rows; whole vectors of a run */
    uint32_t p_left;        /* 16: VCTP.8 of the padding before */
    int32_t left;           /* 20 */
    uint32_t p_tail;        /* 24: VCTP.8 of the run's last bytes */
    int32_t tail;           /* 28 */
    uint32_t p_right;       /* 32: VCTP.8 of the padding after */
    int32_t right;          /* 36 */
    int32_t pad[2];
    int8_t value[16];       /* 48: the padding value in every lane */
} pad_rows;
typedef char pad_rows_is_the_asm_layout[(offsetof(pad_rows, out) == 0 && offsetof(pad_rows, in) == 4 &&
                                         offsetof(pad_rows, rows) == 8 && offsetof(pad_rows, whole) == 12 &&
                                         offsetof(pad_rows, p_left) == 16 && offsetof(pad_rows, left) == 20 &&
                                         offsetof(pad_rows, p_tail) == 24 && offsetof(pad_rows, tail) == 28 &&
                                         offsetof(pad_rows, p_right) == 32 && offsetof(pad_rows, right) == 36 &&
                                         offsetof(pad_rows, value) == 48) ? 1 : -1];

/* rows > 0; returns nothing, the caller advances its pointers */
static __attribute__((naked, noinline)) void pad_rows_asm(const pad_rows *q __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r10, lr}\n\t"
        "vldrw.u32 q0, [r0, #48]\n\t"      /* the padding value */
        "ldrd   r4, r5, [r0, #16]\n\t"     /* p_left, left */
        "ldrd   r6, r7, [r0, #24]\n\t"     /* p_tail, tail */
        "ldrd   r8, r9, [r0, #32]\n\t"     /* p_right, right */
        "ldr    r3, [r0, #12]\n\t"         /* whole */
        "ldr    r2, [r0, #8]\n\t"          /* rows */
        "ldr    r1, [r0, #4]\n\t"          /* in */
        "ldr    r0, [r0, #0]\n\t"          /* out */
        "1:\n\t"
        "vmsr   p0, r4\n\t"
        "vpst\n\t"
        "vstrbt.8 q0, [r0]\n\t"            /* the padding before */
        "add    r0, r0, r5\n\t"
        "wls    lr, r3, 3f\n\t"
        "2:\n\t"
        "vldrb.8 q1, [r1], #16\n\t"        /* the run's whole vectors */
        "vstrb.8 q1, [r0], #16\n\t"
        "le     lr, 2b\n\t"
        "3:\n\t"
        "vmsr   p0, r6\n\t"
        "vpstt\n\t"
        "vldrbt.8 q1, [r1]\n\t"            /* its last bytes (nothing read past them) */
        "vstrbt.8 q1, [r0]\n\t"
        "add    r0, r0, r7\n\t"
        "add    r1, r1, r7\n\t"
        "vmsr   p0, r8\n\t"
        "vpst\n\t"
        "vstrbt.8 q0, [r0]\n\t"            /* the padding after */
        "add    r0, r0, r9\n\t"
        "subs   r2, r2, #1\n\t"
        "bne    1b\n\t"
        "pop    {r4-r10, pc}\n\t");
}

/* n bytes of v at d: whole vectors, then the last 1-15 predicated */
static inline __attribute__((always_inline)) void pad_fill(int8_t *d, int32_t n, int8x16_t v)
{
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) vstrbq_s8(d + i, v);
    if (i < n) vstrbq_p_s8(d + i, v, vctp8q((uint32_t)(n - i)));
}

/* n bytes from s to d: whole vectors, then the last 1-15 predicated (nothing read past them) */
static inline __attribute__((always_inline)) void pad_copy(int8_t *d, const int8_t *s, int32_t n)
{
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) vstrbq_s8(d + i, vldrbq_s8(s + i));
    if (i < n) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n - i));
        vstrbq_p_s8(d + i, vldrbq_z_s8(s + i, pr), pr);
    }
}

/* The rows of the last two axes, each written once (the caller checked that the last axis is not padded and that
 * axes 3 and 4 pad inside the output): per block of axis 3 the rows above the input as one run of padding, the input
 * rows (pad_rows_asm where both paddings are under 16 bytes, else part by part in C), the rows below as one run. */
static __attribute__((noinline)) void pad_rows_mve(const tinyasc_pad_params *p, const int8_t *in, int8_t *out)
{
    const int32_t *id = p->in_dims, *od = p->out_dims, *bf = p->before;
    const int8x16_t v = vdupq_n_s8(p->pad_value);
    const int32_t row = od[4] * od[5], run = id[4] * id[5], left = bf[4] * od[5], right = row - left - run;
    const int32_t block = od[3] * row, top = bf[3] * row, bottom = (od[3] - bf[3] - id[3]) * row, rows = id[3];
    pad_rows r __attribute__((aligned(16)));
    r.rows = rows, r.whole = run >> 4, r.left = left, r.tail = run & 15, r.right = right;
    r.p_left = vctp8q((uint32_t)left), r.p_tail = vctp8q((uint32_t)(run & 15)), r.p_right = vctp8q((uint32_t)right);
    vstrbq_s8(r.value, v);
    const int asm_rows = rows > 0 && left < 16 && right < 16;
    for (int32_t o0 = 0; o0 < od[0]; o0++) {
        const int in0 = o0 >= bf[0] && o0 < bf[0] + id[0];
        for (int32_t o1 = 0; o1 < od[1]; o1++) {
            const int in1 = in0 && o1 >= bf[1] && o1 < bf[1] + id[1];
            for (int32_t o2 = 0; o2 < od[2]; o2++, out += block) {
                if (!(in1 && o2 >= bf[2] && o2 < bf[2] + id[2])) {
                    pad_fill(out, block, v);
                    continue;
                }
                pad_fill(out, top, v);
                int8_t *o = out + top;
                if (asm_rows) { /* input rows come in the output's order: the next ones are the next runs */
                    r.out = o, r.in = in;
                    pad_rows_asm(&r);
                    o += rows * row, in += rows * run;
                } else {
                    for (int32_t k = 0; k < rows; k++, o += row, in += run) {
                        pad_fill(o, left, v);
                        pad_copy(o + left, in, run);
                        pad_fill(o + left + run, right, v);
                    }
                }
                pad_fill(o, bottom, v);
            }
        }
    }
}
#endif

void tinyasc_opt_pad_s8(const tinyasc_pad_params *p, const int8_t *in, int8_t *out)
{
#if defined(__ARM_FEATURE_MVE)
    const int32_t *id = p->in_dims, *od = p->out_dims, *bf = p->before;
    if (od[5] == id[5] && bf[5] == 0 && bf[4] >= 0 && bf[4] + id[4] <= od[4] && bf[3] >= 0 &&
        bf[3] + id[3] <= od[3]) {
        pad_rows_mve(p, in, out);
        return;
    }
#endif
    tinyasc_pad_s8(p, in, out);
}
