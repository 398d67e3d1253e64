/*
 * The sub-band affine fused into the int8 ADD that reads it (tinyasc_opt_band_add_s8; planner.find_band_adds): a
 * BC-ResBlock's sub-spectral norm (one affine per channel and frequency band) plus its temporal branch (one [W][C] row
 * added to every frequency row), in one pass, without storing the affine's output:
 *
 *  - Helium (band_add_mve): per band, group of four channels (int32 lanes, the last group predicated) and column, the
 *    row's term once (the other input rescaled as TFLite rescales it, plus the halved input's constant:
 *    tinyasc_addsub4_other), then down the band's rows per four elements one VLDRB, the affine (VMUL, VADD, the
 *    four-lane output path), its int8 times 2^19 onto the term, the ADD's output path (band_add_rows) and one VSTRB;
 *    every (channel, band) with a right shift (else the unfused kernels).
 *  - DSP cores (band_add_dsp): bands of TINYASC_BAND_ADD_MIN_PIX pixels or more per band and group of four channels
 *    through the four affine tables the unfused kernel builds (tinyasc_band_tables), then per column the four terms
 *    doubled in registers and down the band's rows in asm one word of four inputs, and per element one UXTAB and
 *    LDRSB (the lookup), the doubled sum (ADD with LSL #20), SMMLAR, SUB of the sign, ASR, SSAT, STRB:
 *    tinyasc_rq_dbl_apply, as the unfused ADD's column kernel; shorter bands per channel and band in asm, the affine
 *    computed (band_add1_dsp).
 *  - Anything else (an ADD whose band operand is not the halved one, a clamped range, a left shift in an affine on
 *    Helium, the other cores) takes the optimized sub-band affine and the ADD's fast entry in turn.
 *
 * The same integers as the unfused layers: each step is theirs, on the same operands. The ADD's band operand is the
 * exactly halved one (tinyasc_add8_half): its term is (v + off) 2^(ls-1), v the affine's int8 output.
 */
#include "tinyasc_opt.h"

/* Whether ADD p adds one [W][C] row (its input other than band_in) to every row of an [H][W][C] band operand. */
static int row_broadcast(const tinyasc_binary_params *p, int32_t band_in, int32_t H, int32_t W, int32_t C)
{
    const int32_t *d = p->out_dims, *sb = band_in == 1 ? p->in1_strides : p->in2_strides;
    const int32_t *sy = band_in == 1 ? p->in2_strides : p->in1_strides;
    return d[0] == 1 && d[1] == 1 && d[2] == 1 && d[3] == H && d[4] == W && d[5] == C && sb[3] == W * C &&
           sb[4] == C && sb[5] == 1 && sy[3] == 0 && sy[4] == C && sy[5] == 1;
}

/* The fused loops' preconditions on the ADD: band operand halved, TFLite's int8 left shift, the whole int8 range. */
static int fused_ok(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_binary_params *ap,
                    int32_t band_in)
{
    return tinyasc_full_range(cp) && ap->act_min == -128 && ap->act_max == 127 && ap->left_shift == 20 &&
           ap->out_shift >= -24 && tinyasc_add8_half(ap) == band_in && bp->bands > 0 && bp->h % bp->bands == 0 &&
           row_broadcast(ap, band_in, bp->h, bp->w, bp->c);
}

#if defined(__ARM_FEATURE_MVE)
/* rows outputs of four channels down a band (R bytes apart; pred: the last group's lanes in pr), per four elements:
 *  - the affine: VLDRB, VMUL, VADD, then the four-lane output path (VQRDMULH, the sign's term, VRSHL, the zero point
 *    zb) and the int8 clamp as SSAT does it (VQSHL #24, VSHR #24: a VSHR by 5 instead would give 2^26 - 1, not
 *    127 2^19, where the affine saturates high);
 *  - the ADD: the row's term t plus v 2^19 (VSHL, VADD: the sum S), then TFLite's rescaling of S by one VQRDMLAH
 *    onto the sign's term (S >> 31 for the sign of VQRDMULH(S, mo): the two differ only where that is 0, and the
 *    rounding shift gives 0 either way; mo >= 2^30) plus the zero point times 2^-so (za: exact below a rounding
 *    right shift by -so), VRSHL by so, the clamp.
 * Nineteen vector instructions; input may be output (each element is read before it is written). */
static inline __attribute__((always_inline)) void band_add_rows(const int8_t *ip, int8_t *op, int32_t rows, int32_t R,
                                                                int32x4_t wv, int32x4_t bv, int32x4_t m,
                                                                int32x4_t neg_r, int32_t zb, int32x4_t t, int32_t mo,
                                                                int32_t so, int32_t za, mve_pred16_t pr,
                                                                const int pred)
{
    for (int32_t r = 0; r < rows; r++, ip += R, op += R) {
        const int32x4_t acc = vaddq_s32(bv, vmulq_s32(pred ? vldrbq_z_s32(ip, pr) : vldrbq_s32(ip), wv));
        const int32x4_t h = vqrdmulhq_s32(acc, m);
        const int32x4_t v = vaddq_n_s32(vrshlq_s32(vaddq_s32(h, vshrq_n_s32(h, 31)), neg_r), zb);
        const int32x4_t sum = vaddq_s32(t, vshlq_n_s32(vshrq_n_s32(vqshlq_n_s32(v, 24), 24), 19));
        const int32x4_t g = vqrdmlahq_n_s32(vaddq_n_s32(vshrq_n_s32(sum, 31), za), sum, mo);
        const int32x4_t o = vshrq_n_s32(vqshlq_n_s32(vrshlq_n_s32(g, so), 24), 24);
        if (pred) vstrbq_p_s32(op, o, pr);
        else vstrbq_s32(op, o);
    }
}

/* One channel down the columns of every band, eight rows per pass in two vectors (rows in the lanes: every lane the
 * same channel and column, so the affine's and the ADD's constants and the column's term are scalar operands):
 * per vector one VLDRB gather of four rows' inputs (offsets 0, R, 2R, 3R from the pass's first and fifth rows), the
 * affine from the constant by one VMLAS (x w + constant: the band's weight in every lane of q5), its four-lane output
 * step and clamp, the ADD's sum by one VMLAS (v 2^19 + the column's term: 2^19 in every lane of q6), its rescaling
 * (the sign's term plus za, VQRDMLAH, VRSHL), then both vectors narrowed with saturation into one (VQMOVNB/VQMOVNT
 * .S32, VQMOVNB.S16) and stored by one VSTRB.16 scatter of eight (offsets 0, 4R, R, 5R, ...: 7R < 2^16): 32 vector
 * instructions for eight outputs where band_add_rows takes 38. Each pass reads its eight inputs before it writes (in
 * place as well). Offsets below are those of band_add8_run. */
typedef struct {
    const int8_t *in;       /*  0: the channel's first input */
    int8_t *out;            /*  4: its first output */
    const int32_t *tc;      /*  8: the columns' terms */
    int32_t cols;           /* 12: columns (>= 1) */
    int32_t passes;         /* 16: passes of eight rows a column (>= 1) */
    int32_t back;           /* 20: from a column's end to the next one's start (C - 8 passes R) */
    int32_t bands;          /* 24: (>= 1) */
    const int32_t *kb;      /* 28: per band its affine's constant, multiplier, shift (< 0) and weight */
    int32_t zb, mo, so, za; /* 32: the affine's output zero point; the ADD's multiplier, shift, zero point x 2^-so */
    int32_t R8, R4, next;   /* 48: 8 R, 4 R; from a band's last column's end to the next band's start ((rows-1) R) */
    int32_t pad;
    uint32_t xin[4];        /* 64: 0, R, 2R, 3R */
    uint16_t xout[8];       /* 80: 0, 4R, R, 5R, 2R, 6R, 3R, 7R */
} band_add8_run;
typedef char band_add8_run_is_the_asm_layout[(offsetof(band_add8_run, tc) == 8 && offsetof(band_add8_run, cols) == 12 &&
                                              offsetof(band_add8_run, passes) == 16 &&
                                              offsetof(band_add8_run, back) == 20 &&
                                              offsetof(band_add8_run, bands) == 24 &&
                                              offsetof(band_add8_run, kb) == 28 && offsetof(band_add8_run, zb) == 32 &&
                                              offsetof(band_add8_run, R8) == 48 &&
                                              offsetof(band_add8_run, next) == 56 &&
                                              offsetof(band_add8_run, xin) == 64 && offsetof(band_add8_run, xout) == 80)
                                                 ? 1 : -1];

/* one vector's affine and ADD (v, the sign's scratch t): q5 the weight, q6 2^19; r3 the constant, r4 m, r5 the
 * shift, r6 zb, r7 the column's term, r8 mo, r9 so, r10 za; the result in t */
#define BAND_ADD8_VEC(v, t)                                                                                      \
        "vmlas.s32 " v ", q5, r3\n\t"                                                                            \
        TINYASC_ASM_OUT5(v, t, "r4", "r5", "r6")                                                                  \
        "vqshl.s32 " v ", " v ", #24\n\t"                                                                        \
        "vshr.s32 " v ", " v ", #24\n\t"                                                                         \
        "vmlas.s32 " v ", q6, r7\n\t"                                                                            \
        "vshr.s32 " t ", " v ", #31\n\t"                                                                         \
        "vadd.i32 " t ", " t ", r10\n\t"                                                                         \
        "vqrdmlah.s32 " t ", " v ", r8\n\t"                                                                      \
        "vrshl.s32 " t ", r9\n\t"
/* Registers: r0 the pass's first input, r1 its fifth, r2 its first output, r3-r10 the constants above, r11 8R, r12
 * the terms (advanced a column at a time), lr the passes; q7 the gathers' offsets, q4 the store's. On the stack: the
 * step back, the columns left, the passes, the columns, the bands left, the next band's constants, the terms, the
 * step to the next band. */
static __attribute__((naked, noinline)) void band_add8_mve(const band_add8_run *q __attribute__((unused))) /* r0 */
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "vpush   {d8-d15}\n\t"
        "sub     sp, sp, #32\n\t"
        "ldrd    r1, r2, [r0, #12]\n\t"      /* cols, passes */
        "ldr     r3, [r0, #20]\n\t"          /* back */
        "str     r3, [sp]\n\t"
        "strd    r2, r1, [sp, #8]\n\t"
        "ldrd    r1, r2, [r0, #24]\n\t"      /* bands, kb */
        "ldr     r3, [r0, #8]\n\t"           /* tc */
        "ldr     r4, [r0, #56]\n\t"          /* next */
        "strd    r1, r2, [sp, #16]\n\t"
        "strd    r3, r4, [sp, #24]\n\t"
        "mov     r1, #0x80000\n\t"
        "vdup.32 q6, r1\n\t"                 /* 2^19 */
        "add     r1, r0, #64\n\t"
        "vldrw.u32 q7, [r1]\n\t"
        "vldrw.u32 q4, [r1, #16]\n\t"
        "ldr     r6, [r0, #32]\n\t"
        "ldrd    r8, r9, [r0, #36]\n\t"
        "ldrd    r10, r11, [r0, #44]\n\t"
        "ldr     r1, [r0, #52]\n\t"          /* 4R */
        "ldr     r2, [r0, #4]\n\t"
        "ldr     r0, [r0, #0]\n\t"
        "add     r1, r1, r0\n\t"
        "0:\n\t"                             /* a band */
        "ldr     r12, [sp, #20]\n\t"
        "ldm     r12!, {r3, r4, r5, r7}\n\t" /* its constant, m, shift, weight */
        "str     r12, [sp, #20]\n\t"
        "vdup.32 q5, r7\n\t"
        "ldr     r12, [sp, #24]\n\t"         /* the terms */
        "ldr     r7, [sp, #12]\n\t"
        "str     r7, [sp, #4]\n\t"           /* the columns left */
        "1:\n\t"                             /* a column */
        "ldr     r7, [r12], #4\n\t"          /* its term */
        "ldr     lr, [sp, #8]\n\t"
        "dls     lr, lr\n\t"
        "2:\n\t"                             /* eight rows */
        "vldrb.s32 q0, [r0, q7]\n\t"
        "vldrb.s32 q1, [r1, q7]\n\t"
        BAND_ADD8_VEC("q0", "q2")
        BAND_ADD8_VEC("q1", "q3")
        TINYASC_ASM_NARROW_PAIR("q0", "q2", "q3", "q1")
        "vstrb.16 q1, [r2, q4]\n\t"
        "add     r0, r0, r11\n\t"
        "add     r1, r1, r11\n\t"
        "add     r2, r2, r11\n\t"
        "le      lr, 2b\n\t"
        "ldr     lr, [sp]\n\t"               /* the next column */
        "add     r0, r0, lr\n\t"
        "add     r1, r1, lr\n\t"
        "add     r2, r2, lr\n\t"
        "ldr     lr, [sp, #4]\n\t"
        "subs    lr, lr, #1\n\t"
        "str     lr, [sp, #4]\n\t"
        "bne     1b\n\t"
        "ldr     lr, [sp, #28]\n\t"          /* the next band */
        "add     r0, r0, lr\n\t"
        "add     r1, r1, lr\n\t"
        "add     r2, r2, lr\n\t"
        "ldr     lr, [sp, #16]\n\t"
        "subs    lr, lr, #1\n\t"
        "str     lr, [sp, #16]\n\t"
        "bne     0b\n\t"
        "add     sp, sp, #32\n\t"
        "vpop    {d8-d15}\n\t"
        "pop     {r4-r11, pc}\n\t");
}
#undef BAND_ADD8_VEC

#define BAND_ADD8_MAX_W 64
#define BAND_ADD8_MAX_BANDS 16
typedef char band_add8_scratch_fits[(int32_t)sizeof(tinyasc_mve_gather) >=
                                            4 * (BAND_ADD8_MAX_W + 4 * BAND_ADD8_MAX_BANDS) ? 1 : -1];
/* band_add_mve's layer through band_add8_mve where its bands' rows go in passes of eight, its columns' terms and
 * bands' constants fit BAND_ADD8_MAX_W and BAND_ADD8_MAX_BANDS and the store's offsets 16 bits: per channel its
 * columns' terms (four columns per vector, from the other input's row) and its bands' constants, then one call. -1
 * where it does not take the layer (nothing written). */
static int band_add8(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_weights *w,
                     const tinyasc_binary_params *ap, int32_t band_in, const int8_t *x, const int8_t *y, int8_t *out)
{
    const int32_t W = bp->w, C = bp->c, G = bp->bands, rows = bp->h / G, R = W * C;
    if (rows % 8 != 0 || W > BAND_ADD8_MAX_W || G > BAND_ADD8_MAX_BANDS || !tinyasc_pair_offsets_fit(R)) return -1;
    const int32_t ls = ap->left_shift, kh = (int32_t)1 << (ls - 1), so = ap->out_shift;
    const int32_t m = band_in == 1 ? ap->in2_mult : ap->in1_mult, s = band_in == 1 ? ap->in2_shift : ap->in1_shift;
    const int32x4_t offy = vdupq_n_s32(band_in == 1 ? ap->in2_offset : ap->in1_offset);
    const int32x4_t ch = vdupq_n_s32(kh * (band_in == 1 ? ap->in1_offset : ap->in2_offset));
    const uint32x4_t yo = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)C);
    /* the terms and the bands' constants in the gather buffer (nothing else of this layer uses it) */
    int32_t *const tc = (int32_t *)(void *)tinyasc_mve_gather, *const kb = tc + BAND_ADD8_MAX_W;
    band_add8_run r __attribute__((aligned(16)));
    r.tc = tc, r.cols = W, r.passes = rows / 8, r.back = C - rows * R, r.bands = G, r.kb = kb;
    r.zb = cp->output_offset, r.mo = ap->out_mult, r.so = so, r.za = (int32_t)((uint32_t)ap->out_offset << -so);
    r.R8 = 8 * R, r.R4 = 4 * R, r.next = (rows - 1) * R;
    for (int32_t j = 0; j < 4; j++) r.xin[j] = (uint32_t)(j * R);
    tinyasc_pair_offsets(r.xout, R);
    for (int32_t c = 0; c < C; c++) {
        for (int32_t col = 0; col < W; col += 4) { /* the columns' terms: the ADD's other input rescaled, plus ch */
            const mve_pred16_t pr = vctp32q((uint32_t)(W - col));
            const int32x4_t yv = vldrbq_gather_offset_z_s32(y + col * C + c, yo, pr);
            vstrwq_p_s32(tc + col, vaddq_s32(tinyasc_addsub4_other(yv, offy, ls, m, s), ch), pr);
        }
        for (int32_t g = 0; g < G; g++) { /* the bands' constants */
            const int32_t k = c * G + g, wk = w->data[k];
            kb[4 * g] = (w->bias ? w->bias[k] : 0) + wk * cp->input_offset;
            kb[4 * g + 1] = w->multiplier[k], kb[4 * g + 2] = w->shift[k], kb[4 * g + 3] = wk;
        }
        r.in = x + c, r.out = out + c;
        band_add8_mve(&r);
    }
    return 0;
}
#undef BAND_ADD8_MAX_BANDS
#undef BAND_ADD8_MAX_W

static void band_add_mve(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_weights *w,
                         const tinyasc_binary_params *ap, int32_t band_in, const int8_t *x, const int8_t *y,
                         int8_t *out)
{
    if (band_add8(bp, cp, w, ap, band_in, x, y, out) == 0) return;
    const int32_t W = bp->w, C = bp->c, G = bp->bands, rows = bp->h / G, R = W * C;
    const int32_t ls = ap->left_shift, kh = (int32_t)1 << (ls - 1), mo = ap->out_mult, so = ap->out_shift;
    const int32_t za = (int32_t)((uint32_t)ap->out_offset << -so);
    const int32_t m = band_in == 1 ? ap->in2_mult : ap->in1_mult, s = band_in == 1 ? ap->in2_shift : ap->in1_shift;
    const int32x4_t offy = vdupq_n_s32(band_in == 1 ? ap->in2_offset : ap->in1_offset);
    const int32x4_t ch = vdupq_n_s32(kh * (band_in == 1 ? ap->in1_offset : ap->in2_offset));
    for (int32_t g = 0; g < G; g++) {
        for (int32_t c = 0; c < C; c += 4) {
            const int32_t n = C - c < 4 ? C - c : 4;
            const mve_pred16_t pr = vctp32q((uint32_t)n);
            int32_t wk[4], base[4], mk[4], sk[4];
            tinyasc_band_consts4(cp, w, G, g, c, n, wk, base, mk, sk);
            const int32x4_t wv = vldrwq_s32(wk), bv = vldrwq_s32(base), mv = vldrwq_s32(mk), nr = vldrwq_s32(sk);
            const int32_t first = g * rows * R + c;
            for (int32_t col = 0; col < W; col++) {
                const int32x4_t t = vaddq_s32(tinyasc_addsub4_other(vldrbq_z_s32(y + col * C + c, pr), offy, ls, m, s),
                                              ch);
                const int8_t *ip = x + first + col * C;
                int8_t *op = out + first + col * C;
                if (n == 4) band_add_rows(ip, op, rows, R, wv, bv, mv, nr, cp->output_offset, t, mo, so, za, pr, 0);
                else band_add_rows(ip, op, rows, R, wv, bv, mv, nr, cp->output_offset, t, mo, so, za, pr, 1);
            }
        }
    }
}
#endif

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
/* One element of band_add4_dsp: its byte's table (at r3 + OFF: the byte read unsigned is v + 128 after the word's EOR)
 * by one UXTAB and one LDRSB, the term TC plus v << 20 (the doubled sum), then tinyasc_rq_dbl_apply (SMMLAR with mo
 * and rnd2 in r8, r9, SUB of the sign, ASR by r10), SSAT and STRB at r0 + BYTE. */
#define BAND_ADD4_ELEM(ROT, OFF, TC, BYTE)                                                                        \
        "uxtab  r12, r3, r11" ROT "\n\t"                                                                          \
        "ldrsb  r12, [r12, #" OFF "]\n\t"                                                                         \
        "add    r12, " TC ", r12, lsl #20\n\t"                                                                    \
        "smmlar lr, r12, r8, r9\n\t"                                                                              \
        "sub    lr, lr, r12, lsr #31\n\t"                                                                         \
        "asr    lr, lr, r10\n\t"                                                                                  \
        "ssat   lr, #8, lr\n\t"                                                                                   \
        "strb   lr, [r0, #" BYTE "]\n\t"
/* rows >= 1 rows of four channels in place (R bytes apart): per row one word (read before its four bytes are
 * written), its bytes XOR 0x80, then BAND_ADD4_ELEM per byte. Arguments: r0 data, r1 rows, r2 R, r3 the four tables
 * (256 bytes apart), then on the stack the four doubled terms, mo, rnd2, r. */
static __attribute__((naked, noinline)) void band_add4_dsp(
    int8_t *data __attribute__((unused)), int32_t rows __attribute__((unused)), int32_t R __attribute__((unused)),
    const int8_t *tabs __attribute__((unused)), const int32_t *tc __attribute__((unused)),
    int32_t mo __attribute__((unused)), int32_t rnd2 __attribute__((unused)), int32_t r __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "ldr    r11, [sp, #36]\n\t"
        "ldm    r11, {r4-r7}\n\t"            /* the four columns' terms */
        "ldrd   r8, r9, [sp, #40]\n\t"       /* mo, rnd2 */
        "ldr    r10, [sp, #48]\n\t"          /* r */
        "1:\n\t"
        "ldr    r11, [r0]\n\t"
        "eor    r11, r11, #0x80808080\n\t"   /* each byte v + 128 */
        BAND_ADD4_ELEM("", "0", "r4", "0")
        BAND_ADD4_ELEM(", ror #8", "256", "r5", "1")
        BAND_ADD4_ELEM(", ror #16", "512", "r6", "2")
        BAND_ADD4_ELEM(", ror #24", "768", "r7", "3")
        "add    r0, r0, r2\n\t"
        "subs   r1, r1, #1\n\t"
        "bne    1b\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#undef BAND_ADD4_ELEM

/* The constants of band_add1_dsp: the affine's doubled factor and constant, its multiplier, rounding constant and shift
 * (affine_dsp_run's doubled form, c/opt/tinyasc_opt_ref.c), the ADD's multiplier, rounding constant and shift, the
 * rows' terms (doubled, one per column), the columns, and the step back from a column's end to the next one's start. */
typedef struct {
    int32_t w2, base2, m, rnd2, r, mo, rnd2o, ro;
    const int32_t *tc;
    int32_t cols, back;
} band_add1_consts;

/* One element of band_add1_dsp at r0 (in place): LDRSB, the affine on the doubled sum (MLA, SMMLAR, SUB of the sign,
 * ASR, SSAT), the ADD's doubled sum (ADD with LSL #20) and tinyasc_rq_dbl_apply (SMMLAR, SUB, ASR), SSAT, STRB, r0
 * advanced by R (r2). */
#define BAND_ADD1_STEP                                                                                            \
        "ldrsb  ip, [r0]\n\t"                                                                                     \
        "mla    ip, ip, r3, r4\n\t"                                                                               \
        "smmlar lr, ip, r5, r6\n\t"                                                                               \
        "sub    lr, lr, ip, lsr #31\n\t"                                                                          \
        "asr    lr, lr, r7\n\t"                                                                                   \
        "ssat   lr, #8, lr\n\t"                                                                                   \
        "add    ip, r8, lr, lsl #20\n\t"                                                                          \
        "smmlar lr, ip, r9, r10\n\t"                                                                              \
        "sub    lr, lr, ip, lsr #31\n\t"                                                                          \
        "asr    lr, lr, r11\n\t"                                                                                  \
        "ssat   lr, #8, lr\n\t"                                                                                   \
        "strb   lr, [r0]\n\t"                                                                                     \
        "add    r0, r0, r2\n\t"
/* One channel of one band in place: per column (its term loaded from k->tc), rows >= 1 elements down the column R
 * bytes apart (an odd one first, then two per pass), then back to the next column's start. The affine's and the ADD's
 * constants in r3-r11; the columns left, the terms' pointer, the rows and the step back on the stack. Arguments: r0
 * the band's first element of the channel, r1 rows, r2 R, r3 k. */
static __attribute__((naked, noinline)) void band_add1_dsp(int8_t *data __attribute__((unused)),
                                                           int32_t rows __attribute__((unused)),
                                                           int32_t R __attribute__((unused)),
                                                           const band_add1_consts *k __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "sub    sp, sp, #16\n\t"
        "ldrd   r4, r5, [r3, #32]\n\t"       /* the terms, the columns */
        "ldr    r6, [r3, #40]\n\t"           /* the step back */
        "strd   r4, r5, [sp]\n\t"
        "strd   r1, r6, [sp, #8]\n\t"        /* rows, the step back */
        "ldrd   r9, r10, [r3, #20]\n\t"      /* the ADD's mo, rnd2 */
        "ldr    r11, [r3, #28]\n\t"          /* its shift */
        "mov    ip, r3\n\t"
        "ldm    ip, {r3-r7}\n\t"             /* the affine's w2, base2, m, rnd2, r */
        "1:\n\t"
        "ldr    ip, [sp]\n\t"
        "ldr    r8, [ip], #4\n\t"            /* the column's term */
        "str    ip, [sp]\n\t"
        "ldr    r1, [sp, #8]\n\t"
        "tst    r1, #1\n\t"
        "beq    2f\n\t"
        BAND_ADD1_STEP
        "2:\n\t"
        "asrs   r1, r1, #1\n\t"
        "beq    4f\n\t"
        "3:\n\t"
        BAND_ADD1_STEP
        BAND_ADD1_STEP
        "subs   r1, r1, #1\n\t"
        "bne    3b\n\t"
        "4:\n\t"
        "ldr    ip, [sp, #12]\n\t"
        "sub    r0, r0, ip\n\t"              /* the next column's start */
        "ldr    ip, [sp, #4]\n\t"
        "subs   ip, ip, #1\n\t"
        "str    ip, [sp, #4]\n\t"
        "bne    1b\n\t"
        "add    sp, sp, #16\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#undef BAND_ADD1_STEP

/* The row's term of element yv for the DSP cores' doubled sums: TFLite's rescaling of the ADD's other input (its
 * offset offy, multiplier m, shift s, left shift 20) plus the halved input's constant ch, doubled. */
static inline int32_t row_term2(int32_t yv, int32_t offy, int32_t m, int32_t s, int32_t ch)
{
    return 2 * (tinyasc_mbqm_lt1(tinyasc_shl(yv + offy, 20), m, s) + ch);
}

/* One output of the DSP cores' C paths from the row's doubled term and the affine's int8 v: the doubled sum (v's
 * factor 2^20), tinyasc_rq_dbl_apply with the zero point folded (rnd2, r), SSAT: the asm's arithmetic. */
static inline int8_t band_add_out2(int32_t tc2, int32_t v, int32_t mo, int32_t rnd2, int32_t r)
{
    return (int8_t)tinyasc_sat8(tinyasc_rq_dbl_apply(tc2 + v * (1 << 20), mo, rnd2, r));
}

/* The DSP cores' fused loops in place on out (x copied there first where it is elsewhere). Bands of at least
 * TINYASC_BAND_ADD_MIN_PIX pixels: each group of four channels through its four tables (they pay for themselves:
 * about 8 cycles an entry, 1,024 entries, against about 6 saved an element), the last one to three channels in C with
 * the same tables and arithmetic. Shorter bands: per channel its rows' terms once, then per band the affine computed
 * in asm down every column (band_add1_dsp), or in C for a channel whose affine the doubled form does not take. */
#ifndef TINYASC_BAND_ADD_MIN_PIX
#define TINYASC_BAND_ADD_MIN_PIX 384
#endif
#define BAND_ADD_MAX_W 64
static int band_add_dsp(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_weights *w,
                        const tinyasc_binary_params *ap, int32_t band_in, const int8_t *x, const int8_t *y,
                        int8_t *out)
{
    const int32_t W = bp->w, C = bp->c, G = bp->bands, rows = bp->h / G, R = W * C;
    const int short_bands = rows * W < TINYASC_BAND_ADD_MIN_PIX;
    if ((short_bands && W > BAND_ADD_MAX_W) || !tinyasc_rq_zp_folds(ap->out_mult, ap->out_shift)) return -1;
    if (x != out) memcpy(out, x, (size_t)(bp->h * R));
    const int32_t kh = (int32_t)1 << 19, mo = ap->out_mult;
    const int32_t m = band_in == 1 ? ap->in2_mult : ap->in1_mult, s = band_in == 1 ? ap->in2_shift : ap->in1_shift;
    const int32_t offy = band_in == 1 ? ap->in2_offset : ap->in1_offset;
    const int32_t ch = kh * (band_in == 1 ? ap->in1_offset : ap->in2_offset);
    int32_t rnd2, r;
    tinyasc_rq_relu_consts(ap->out_shift, ap->out_offset, &rnd2, &r);
    if (short_bands) {
        int32_t tc[BAND_ADD_MAX_W];
        band_add1_consts k = {.mo = mo, .rnd2o = rnd2, .ro = r, .tc = tc, .cols = W, .back = rows * R - C};
        for (int32_t c = 0; c < C; c++) {
            for (int32_t col = 0; col < W; col++) /* the rows' terms, doubled */
                tc[col] = row_term2(y[col * C + c], offy, m, s, ch);
            for (int32_t g = 0; g < G; g++) {
                const int32_t j = c * G + g, wk = w->data[j], mk = w->multiplier[j], sk = w->shift[j];
                const int32_t base = (w->bias ? w->bias[j] : 0) + wk * cp->input_offset;
                int8_t *const first = out + g * rows * R + c;
                if (tinyasc_rq_zp_folds(mk, sk) && tinyasc_dbl_base_ok(base)) {
                    k.w2 = 2 * wk, k.base2 = 2 * base, k.m = mk;
                    tinyasc_rq_relu_consts(sk, cp->output_offset, &k.rnd2, &k.r);
                    band_add1_dsp(first, rows, R, &k);
                    continue;
                }
                for (int32_t col = 0; col < W; col++) {
                    int8_t *op = first + col * C;
                    for (int32_t i = 0; i < rows; i++, op += R) {
                        *op = band_add_out2(tc[col], tinyasc_opt_out_ms(cp, base + wk * *op, mk, sk), mo, rnd2, r);
                    }
                }
            }
        }
        return 0;
    }
    for (int32_t g = 0; g < G; g++) {
        for (int32_t c = 0; c < C; c += 4) {
            const int32_t n = C - c < 4 ? C - c : 4;
            const int8_t *const tabs = tinyasc_band_tables(cp, w, G, g, c, n);
            int8_t *const first = out + g * rows * R + c;
            for (int32_t col = 0; col < W; col++) {
                int32_t tc[4];
                for (int32_t j = 0; j < n; j++) /* the row's term, doubled */
                    tc[j] = row_term2(y[col * C + c + j], offy, m, s, ch);
                int8_t *op = first + col * C;
                if (n == 4) {
                    band_add4_dsp(op, rows, R, tabs, tc, mo, rnd2, r);
                    continue;
                }
                for (int32_t i = 0; i < rows; i++, op += R)
                    for (int32_t j = 0; j < n; j++)
                        op[j] = band_add_out2(tc[j], tabs[j * 256 + (op[j] + 128)], mo, rnd2, r);
            }
        }
    }
    return 0;
}
#undef BAND_ADD_MAX_W
#endif

void tinyasc_opt_band_add_s8(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_weights *w,
                             const tinyasc_binary_params *ap, int32_t band_in, const int8_t *x, const int8_t *y,
                             int8_t *out)
{
    if (fused_ok(bp, cp, ap, band_in)) {
#if defined(__ARM_FEATURE_MVE)
        /* the affine's four-lane output path in its right-shift form: every (channel, band) shifts right */
        if (tinyasc_right_shifts(w->shift, bp->c * bp->bands, 1)) {
            band_add_mve(bp, cp, w, ap, band_in, x, y, out);
            return;
        }
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT)
        if (band_add_dsp(bp, cp, w, ap, band_in, x, y, out) == 0) return;
#endif
    }
    /* the ADD's fast entry: the generator fuses only an ADD that meets its precondition (planner.find_band_adds) */
    tinyasc_opt_band_affine_s8(bp, cp, w, x, out);
    if (band_in == 1) tinyasc_opt_add_fast_s8(ap, out, y, out);
    else tinyasc_opt_add_fast_s8(ap, y, out, out);
}
