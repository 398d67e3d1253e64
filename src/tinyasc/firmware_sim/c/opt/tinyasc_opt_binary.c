/*
 * Faster ADD / SUB / MUL / SQUARED_DIFFERENCE (tinyasc_opt_add_s8 ...), bit-exact with the
 * portable kernels of c/kernels/binary.c: a model generated for a Cortex-M target calls these,
 * and anything they do not handle goes to the portable kernel of the same op.
 *
 *  - ADD/SUB/SQUARED_DIFFERENCE rescale each int8 input with its own multiplier before
 *    combining; an int8 has 256 values, so for tensors of at least TINYASC_LUT_MIN elements
 *    the two rescalings become two 256-entry int32 tables built once per call. TFLite's ADD/SUB
 *    rescale both inputs to twice the larger input scale, so one input's multiplier is exactly 1/2
 *    (tinyasc_add8_half): its term is (x + off) 2^(ls-1), one MLA, and one table serves the other input
 *    (add8_halved_run); Helium computes both rescalings four lanes at a time instead (addsub4_s8_halved).
 *  - All four use the shift-and-add form of the doubling high multiply (tinyasc_opt.h), and
 *    for output shifts of -2 or less the folded rescaling (tinyasc_rq_apply); where the output
 *    zero point folds too (tinyasc_rq_zp_folds) and the activation range is all of int8, the
 *    zero point rides in the rounding constant and the clamp is one SSAT. One instance of the
 *    loop nest per (table, folded) pair that pays (small tensors take the general form), so the
 *    inner loop has no branch on either.
 *  - Broadcasting: adjacent axes that are contiguous for both inputs (or broadcast for both)
 *    are merged, so the inner loop runs over the longest run with constant strides.
 *  - The _fast entries (tinyasc_opt_add_fast_s8 ...) are the same loops without the portable kernel behind
 *    them, for a layer whose parameters meet the fast paths' precondition (ok() below: every rescaling
 *    multiplier valid, the input rescalings and ADD/SUB's output rescaling at most one); the generator
 *    checks it (generator.binary_fast_ok) and calls them, so a model whose element-wise layers all meet it
 *    links no portable element-wise kernel.
 * Every output element still reads its inputs before it is written: out may alias an input.
 * ADD and MUL of 16x8 models (tinyasc_opt_add_s16, _mul_s16) run the same loop nest on int16
 * elements, without tables. On Helium contiguous runs of int16 ADD/MUL and of int8 MUL go four lanes at a
 * time (vec4), and of int8 ADD/SUB with a halved input too (addsub4_s8_halved).
 */
#include "tinyasc_opt.h"

#ifndef TINYASC_LUT_MIN
#define TINYASC_LUT_MIN 512
#endif


enum { OP_ADD, OP_SUB, OP_MUL, OP_SQDIFF };
/* how the output is rescaled: the general form, folded, folded with the zero point and SSAT; or every
 * element through the portable kernel's arithmetic (tinyasc_add_raw / tinyasc_mul_raw: any multiplier
 * and shift) */
enum { RQ_GENERAL, RQ_FOLDED, RQ_FOLDED_ZP, RQ_REFERENCE };

static int32_t lut1[256], lut2[256];

/* How ADD rescales its inputs (run_body's `lut`): per element (general), through the two tables, or (int16)
 * one input exactly halved and the other by the folded form. TFLite's ADD rescales both inputs to twice the
 * larger input scale, so that input's multiplier is 1/2 (2^30, shift 0): SRDHM(x << ls, 2^30) is x << (ls - 1)
 * exactly (x << ls is even, so the doubling high multiply divides it by two without rounding); the other's is
 * at most 1/2, shift -2 or below unless the two scales are within a factor of two. */
enum { IN_GENERAL, IN_TABLES, IN_HALF_FOLDED, IN_FOLDED_HALF };

static inline int in_mode16(const tinyasc_binary_params *p)
{
    const int half1 = tinyasc_halves(p->in1_mult, p->in1_shift), half2 = tinyasc_halves(p->in2_mult, p->in2_shift);
    if (p->left_shift < 1) return IN_GENERAL;
    if (half1 && tinyasc_rq_folded(p->in2_mult, p->in2_shift)) return IN_HALF_FOLDED;
    if (half2 && tinyasc_rq_folded(p->in1_mult, p->in1_shift)) return IN_FOLDED_HALF;
    return IN_GENERAL;
}

/* rdbpot(srdhm(x, m), -s) for s <= 0, m != INT32_MIN (MultiplyByQuantizedMultiplierSmallerThanOneExp) */
static inline __attribute__((always_inline)) int32_t mbqm_lt1_fast(int32_t x, int32_t m, int32_t right)
{
    const int32_t h = (int32_t)(((int64_t)x * (int64_t)m + ((int64_t)1 << 30)) >> 31);
    const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    const int32_t threshold = (mask >> 1) + (h < 0 ? 1 : 0);
    return (h >> right) + ((h & mask) > threshold ? 1 : 0);
}

static inline __attribute__((always_inline)) int32_t mbqm_fast(int32_t x, int32_t m, int32_t s)
{
    const int32_t left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
    return mbqm_lt1_fast((int32_t)((uint32_t)x << left), m, right);
}

/* The output rescaling of one element: folded (tinyasc_rq_apply with the call's constants) when
 * the output shift allows it, else the general form. */
static inline __attribute__((always_inline)) int32_t out_rq(const tinyasc_binary_params *p, int32_t x, int folded,
                                                            int32_t rnd, int32_t sh, int32_t ro)
{
    if (folded) return tinyasc_rq_apply(x, p->out_mult, rnd, sh);
    return ro >= 0 ? mbqm_lt1_fast(x, p->out_mult, ro) : mbqm_fast(x, p->out_mult, p->out_shift);
}

/* t1, t2: the tables at their middle (lut1 + 128, lut2 + 128), indexed by the int8 value itself */
static inline __attribute__((always_inline)) int32_t elem(const tinyasc_binary_params *p, int op, int32_t a, int32_t b,
                                                          int lut, const int32_t *t1, const int32_t *t2, int32_t r1,
                                                          int32_t r2, int32_t ro, int folded, int32_t rnd, int32_t sh)
{
    int32_t v;
    if (folded == RQ_REFERENCE) {
        v = op == OP_MUL ? tinyasc_mul_raw(p, a, b) : tinyasc_add_raw(p, a, b);
        return tinyasc_clamp(v, p->act_min, p->act_max);
    }
    if (op == OP_MUL) {
        v = out_rq(p, (a + p->in1_offset) * (b + p->in2_offset), folded, rnd, sh, -1);
    } else {
        int32_t s1, s2;
        if (lut == IN_HALF_FOLDED || lut == IN_FOLDED_HALF) { /* int16 ADD: see in_mode() */
            const int half1 = lut == IN_HALF_FOLDED;
            const int32_t x1 = a + p->in1_offset, x2 = b + p->in2_offset;
            int32_t frnd, fsh;
            tinyasc_rq_consts(half1 ? p->in2_shift : p->in1_shift, 0, &frnd, &fsh);
            s1 = half1 ? tinyasc_shl(x1, p->left_shift - 1)
                       : tinyasc_rq_apply(tinyasc_shl(x1, p->left_shift), p->in1_mult, frnd, fsh);
            s2 = half1 ? tinyasc_rq_apply(tinyasc_shl(x2, p->left_shift), p->in2_mult, frnd, fsh)
                       : tinyasc_shl(x2, p->left_shift - 1);
        } else {
            s1 = lut ? t1[a] : mbqm_lt1_fast(tinyasc_shl(a + p->in1_offset, p->left_shift), p->in1_mult, r1);
            s2 = lut ? t2[b] : mbqm_lt1_fast(tinyasc_shl(b + p->in2_offset, p->left_shift), p->in2_mult, r2);
        }
        if (op == OP_ADD) v = out_rq(p, s1 + s2, folded, rnd, sh, ro);
        else if (op == OP_SUB) v = out_rq(p, s1 - s2, folded, rnd, sh, ro);
        else v = out_rq(p, (s1 - s2) * (s1 - s2), folded, rnd, sh, -1);
    }
    if (folded == RQ_FOLDED_ZP) return tinyasc_sat8(v);
    return tinyasc_clamp(v + p->out_offset, p->act_min, p->act_max);
}

/* Element i of an int8 (s16 = 0) or int16 (s16 = 1) tensor; s16 is a constant in every instance. */
static inline __attribute__((always_inline)) int32_t ld(const void *t, int32_t i, const int s16)
{
    return s16 ? ((const int16_t *)t)[i] : ((const int8_t *)t)[i];
}

static inline __attribute__((always_inline)) void st(void *t, int32_t i, int32_t v, const int s16)
{
    if (s16) ((int16_t *)t)[i] = (int16_t)v;
    else ((int8_t *)t)[i] = (int8_t)v;
}

/* Whether the output zero point rides in the rounding constant and the clamp is SSAT: the whole int8 range and an
 * output shift that folds it (tinyasc_rq_zp_folds). */
static inline int out_zp_folds(const tinyasc_binary_params *p)
{
    return p->act_min == -128 && p->act_max == 127 && tinyasc_rq_zp_folds(p->out_mult, p->out_shift);
}

#if defined(__ARM_FEATURE_MVE)
/* Four int8 (s16 = 0) or int16 elements from t + i, widened to int32 lanes (lanes off in pr: 0). */
static inline __attribute__((always_inline)) int32x4_t vld4(const void *t, int32_t i, mve_pred16_t pr, const int s16)
{
    return s16 ? vldrhq_z_s32((const int16_t *)t + i, pr) : vldrbq_z_s32((const int8_t *)t + i, pr);
}

/* ADD, SUB or MUL (int8 or int16) over n elements, four lanes at a time (the last predicated), for every case
 * ok() admits: input k contiguous (sk = 1) or one value for all (sk = 0). elem()'s arithmetic lane by lane: each
 * input offset and rescaled (tinyasc_mbqm_x4; for int16 ADD in an exact-halving form, shifted), summed, subtracted
 * or multiplied, rescaled, the zero point added and the activation range clamped (the tables and the folded zero
 * point of the scalar loop are shortcuts to the same values). */
static inline __attribute__((always_inline)) void vec4(const tinyasc_binary_params *p, int op, int mode,
                                                       const void *a, const void *b, void *o, int32_t n,
                                                       int32_t sa, int32_t sb, const int s16)
{
    const int32x4_t off1 = vdupq_n_s32(p->in1_offset), off2 = vdupq_n_s32(p->in2_offset);
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max), zo = vdupq_n_s32(p->out_offset);
    const int32x4_t a0 = vdupq_n_s32(ld(a, 0, s16)), b0 = vdupq_n_s32(ld(b, 0, s16));
    const int32_t ls = p->left_shift;
    for (int32_t i = 0; i < n; i += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(n - i));
        const int32x4_t x1 = vaddq_s32(sa ? vld4(a, i, pr, s16) : a0, off1);
        const int32x4_t x2 = vaddq_s32(sb ? vld4(b, i, pr, s16) : b0, off2);
        int32x4_t v;
        if (op == OP_MUL) {
            v = vmulq_s32(x1, x2);
        } else {
            const int32x4_t s1 = mode == IN_HALF_FOLDED ? vshlq_r_s32(x1, ls - 1)
                                                        : tinyasc_mbqm_x4(vshlq_r_s32(x1, ls), p->in1_mult, p->in1_shift);
            const int32x4_t s2 = mode == IN_FOLDED_HALF ? vshlq_r_s32(x2, ls - 1)
                                                        : tinyasc_mbqm_x4(vshlq_r_s32(x2, ls), p->in2_mult, p->in2_shift);
            v = op == OP_SUB ? vsubq_s32(s1, s2) : vaddq_s32(s1, s2);
        }
        v = vminq_s32(vmaxq_s32(vaddq_s32(tinyasc_mbqm_x4(v, p->out_mult, p->out_shift), zo), lo), hi);
        if (s16) vstrhq_p_s32((int16_t *)o + i, v, pr);
        else vstrbq_p_s32((int8_t *)o + i, v, pr);
    }
}

/* The constants of addsub4_s8_halved. */
typedef struct {
    const int8_t *xh, *xf;             /* the halved input, the other */
    int32_t m, s, ls, mo, so, kh;      /* the other's rescaling, left shift, output rescaling, halved factor */
    int32x4_t ch, offf, zo, lo, hi;    /* halved term's constant, other's offset, output zero point, range */
} addsub4_t;

/* addsub4_t for an int8 ADD (sub = 0) or SUB (sub = 1) whose input 1 (half1) or 2 is the halved one. */
static inline __attribute__((always_inline)) addsub4_t addsub4_consts(const tinyasc_binary_params *p, const int sub,
                                                                      const int half1, const int8_t *a, const int8_t *b)
{
    addsub4_t c;
    c.xh = half1 ? a : b;
    c.xf = half1 ? b : a;
    c.m = half1 ? p->in2_mult : p->in1_mult;
    c.s = half1 ? p->in2_shift : p->in1_shift;
    c.ls = p->left_shift, c.mo = p->out_mult, c.so = p->out_shift;
    c.kh = (sub && !half1) ? -((int32_t)1 << (c.ls - 1)) : ((int32_t)1 << (c.ls - 1));
    c.ch = vdupq_n_s32(c.kh * (half1 ? p->in1_offset : p->in2_offset));
    c.offf = vdupq_n_s32(half1 ? p->in2_offset : p->in1_offset);
    c.zo = vdupq_n_s32(p->out_offset), c.lo = vdupq_n_s32(p->act_min), c.hi = vdupq_n_s32(p->act_max);
    return c;
}

/* Four elements from i (the last partial run predicated: pr, with pred), elem()'s values. */
static inline __attribute__((always_inline)) void addsub4_step(const addsub4_t *c, int8_t *o, int32_t i,
                                                               mve_pred16_t pr, const int sub_neg, const int pred,
                                                               const int relu)
{
    const int32x4_t xf = pred ? vldrbq_z_s32(c->xf + i, pr) : vldrbq_s32(c->xf + i);
    const int32x4_t xh = pred ? vldrbq_z_s32(c->xh + i, pr) : vldrbq_s32(c->xh + i);
    int32x4_t sf = tinyasc_addsub4_other(xf, c->offf, c->ls, c->m, c->s);
    if (sub_neg) sf = vnegq_s32(sf);
    const int32x4_t r = tinyasc_addsub4_out(vaddq_s32(sf, c->ch), xh, c->kh, c->mo, c->so, c->zo, c->lo, c->hi, relu);
    if (pred) vstrbq_p_s32(o + i, r, pr);
    else vstrbq_s32(o + i, r);
}

/* int8 ADD (sub = 0) or SUB (sub = 1) over n contiguous elements of both inputs, one input exactly halved
 * (half1: in1, else in2; tinyasc_add8_half), the other input and the output with right shifts, four
 * lanes at a time, whole vectors unpredicated and the last partial one predicated: elem()'s values. The halved
 * input's term (x + off) 2^(ls-1) is one VMLA onto the other's rescaled value plus the constant off 2^(ls-1)
 * (negated where SUB subtracts it), the rescalings TFLite's MBQM as tinyasc_mbqm_x4 computes it, then the zero
 * point and the activation range. */
static inline __attribute__((always_inline)) void addsub4_s8_halved(const tinyasc_binary_params *p, const int sub,
                                                                    const int half1, const int8_t *a,
                                                                    const int8_t *b, int8_t *o, int32_t n,
                                                                    const int relu)
{
    const addsub4_t c = addsub4_consts(p, sub, half1, a, b);
    const int32_t n4 = n & ~3;
    int32_t i = 0;
    for (; i < n4; i += 4) addsub4_step(&c, o, i, 0, sub && half1, 0, relu);
    if (i < n) addsub4_step(&c, o, i, vctp32q((uint32_t)(n - i)), sub && half1, 1, relu);
}

/* addsub4_s8_halved over a rows x cols tensor whose other input is one row broadcast down the rows (a BC-ResBlock's
 * temporal branch added to every frequency row): four columns at a time (the last group predicated), the other
 * input's rescaled value plus the halved input's constant computed once per group, then down the rows one VMLA and
 * the output's rescaling per four elements (o may be the halved input). */
static __attribute__((noinline)) void addsub4_cols(const tinyasc_binary_params *p, int sub, int half1,
                                                   const int8_t *a, const int8_t *b, int8_t *o, int32_t rows,
                                                   int32_t cols)
{
    const addsub4_t k = addsub4_consts(p, sub, half1, a, b);
    const int relu = tinyasc_add8_relu_range(p);
    for (int32_t c = 0; c < cols; c += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(cols - c));
        int32x4_t sf = tinyasc_addsub4_other(vldrbq_z_s32(k.xf + c, pr), k.offf, k.ls, k.m, k.s);
        if (sub && half1) sf = vnegq_s32(sf);
        const int32x4_t t = vaddq_s32(sf, k.ch);
        const int8_t *x = k.xh + c;
        int8_t *q = o + c;
        const int8_t *const end = x + rows * cols;
        if (cols - c >= 4 && relu) { /* no predicate in the loop (GCC would restore VPR on every element) */
            for (; x != end; x += cols, q += cols)
                vstrbq_s32(q, tinyasc_addsub4_out(t, vldrbq_s32(x), k.kh, k.mo, k.so, k.zo, k.lo, k.hi, 1));
        } else if (cols - c >= 4) {
            for (; x != end; x += cols, q += cols)
                vstrbq_s32(q, tinyasc_addsub4_out(t, vldrbq_s32(x), k.kh, k.mo, k.so, k.zo, k.lo, k.hi, 0));
        } else {
            for (; x != end; x += cols, q += cols)
                vstrbq_p_s32(q, tinyasc_addsub4_out(t, vldrbq_z_s32(x, pr), k.kh, k.mo, k.so, k.zo, k.lo, k.hi, 0), pr);
        }
    }
}

/* addsub4_s8_halved with the other input's term from a table: lut1[u] = its rescaled value plus the halved input's
 * constant (negated where SUB subtracts it) for the input byte u read unsigned (u = x & 255), built four entries at a
 * time with tinyasc_addsub4_other itself; then per four elements one VLDRB.U32 of the bytes, one VLDR gather of their
 * entries (the offsets the bytes x 4), the halved input's VLDRB and tinyasc_addsub4_out. The same integers as
 * computing the term (it is that computation, tabulated). From ADDSUB4_TABLE_MIN elements: the table's 64 vectors
 * against 6 vector instructions per four elements. */
#ifndef ADDSUB4_TABLE_MIN
#define ADDSUB4_TABLE_MIN 512
#endif
static inline __attribute__((always_inline)) void addsub4_tab_loop(const addsub4_t *c, int8_t *o, int32_t n,
                                                                   const int relu)
{
    const uint32_t *const t = (const uint32_t *)lut1;
    int32_t i = 0;
    for (const int32_t n4 = n & ~3; i < n4; i += 4) {
        const int32x4_t tf = vreinterpretq_s32_u32(vldrwq_gather_shifted_offset_u32(t, vldrbq_u32((const uint8_t *)c->xf + i)));
        vstrbq_s32(o + i,
                   tinyasc_addsub4_out(tf, vldrbq_s32(c->xh + i), c->kh, c->mo, c->so, c->zo, c->lo, c->hi, relu));
    }
    if (i < n) {
        const mve_pred16_t pr = vctp32q((uint32_t)(n - i));
        const uint32x4_t u = vldrbq_z_u32((const uint8_t *)c->xf + i, pr);
        const int32x4_t tf = vreinterpretq_s32_u32(vldrwq_gather_shifted_offset_z_u32(t, u, pr));
        vstrbq_p_s32(o + i,
                     tinyasc_addsub4_out(tf, vldrbq_z_s32(c->xh + i, pr), c->kh, c->mo, c->so, c->zo, c->lo, c->hi, 0),
                     pr);
    }
}

/* lut1[u]: the other input's term of the byte u as int8, plus the halved input's constant (negated: neg); inlined in
 * each caller (a call of its own cost the unfused ADD 660 cycles: its constants reloaded from memory). */
static inline __attribute__((always_inline)) void addsub4_fill(const addsub4_t *c, const int neg)
{
    for (uint32_t u = 0; u < 256; u += 4) {
        const int32x4_t x = vshrq_n_s32(vshlq_n_s32(vreinterpretq_s32_u32(vidupq_n_u32(u, 1)), 24), 24);
        int32x4_t sf = tinyasc_addsub4_other(x, c->offf, c->ls, c->m, c->s);
        if (neg) sf = vnegq_s32(sf);
        vstrwq_s32(lut1 + u, vaddq_s32(sf, c->ch));
    }
}

static __attribute__((noinline)) void addsub4_tab(const tinyasc_binary_params *p, int sub, int half1, const int8_t *a,
                                                  const int8_t *b, int8_t *o, int32_t n)
{
    const addsub4_t c = addsub4_consts(p, sub, half1, a, b);
    addsub4_fill(&c, sub && half1);
    if (tinyasc_add8_relu_range(p)) addsub4_tab_loop(&c, o, n, 1);
    else addsub4_tab_loop(&c, o, n, 0);
}

/* addsub4_s8_halved's instances (ADD also with tinyasc_add8_relu_range's output path) in one function (called per
 * contiguous run: one copy of each, whatever run_body instance calls it); from ADDSUB4_TABLE_MIN elements
 * addsub4_tab. */
static __attribute__((noinline)) void addsub4_run(const tinyasc_binary_params *p, int sub, int half1,
                                                  const int8_t *a, const int8_t *b, int8_t *o, int32_t n)
{
    if (n >= ADDSUB4_TABLE_MIN) {
        addsub4_tab(p, sub, half1, a, b, o, n);
        return;
    }
    const int relu = tinyasc_add8_relu_range(p);
    if (sub && half1) addsub4_s8_halved(p, 1, 1, a, b, o, n, 0);
    else if (sub) addsub4_s8_halved(p, 1, 0, a, b, o, n, 0);
    else if (half1 && relu) addsub4_s8_halved(p, 0, 1, a, b, o, n, 1);
    else if (half1) addsub4_s8_halved(p, 0, 1, a, b, o, n, 0);
    else if (relu) addsub4_s8_halved(p, 0, 0, a, b, o, n, 1);
    else addsub4_s8_halved(p, 0, 0, a, b, o, n, 0);
}
#else
/* int8 ADD/SUB with one input exactly halved (tinyasc_add8_half) over n contiguous elements of both inputs, the
 * output's rescaling folded (run()): the other input's rescaled value plus the halved input's constant off 2^(ls-1)
 * (negated where SUB subtracts) comes from one table t (middle; run() fills it), the halved input's term is one
 * MLA (x kh, kh = +-2^(ls-1)): one table load per element instead of two; elem()'s values. */
/* How add8_halved_body / add8_halved_cols_body rescale a sum: the folded form (ADD_FOLDED), or on the doubled sum
 * (add8_dbl: the table and factor doubled) tinyasc_add8_relu_range's form (ADD_DBL_RELU) or the same with the sign's
 * rounding (ADD_DBL: tinyasc_rq_dbl_apply, any range). */
enum { ADD_FOLDED, ADD_DBL_RELU, ADD_DBL };

/* One output of add8_halved_body / add8_halved_cols_body from its sum: rescaled (form), then SSAT (zero point folded
 * into rnd: zpf) or the zero point and the activation range. The doubled forms' rnd, sh are rnd2 and r. */
static inline __attribute__((always_inline)) int8_t add8_halved_out(int32_t acc, int32_t mo, int32_t rnd, int32_t sh,
                                                                    int32_t zo, int32_t lo, int32_t hi, const int zpf,
                                                                    const int form)
{
    const int32_t v = form == ADD_DBL_RELU ? tinyasc_rq_relu_apply(acc, mo, rnd, sh)
                      : form == ADD_DBL    ? tinyasc_rq_dbl_apply(acc, mo, rnd, sh)
                                           : tinyasc_rq_apply(acc, mo, rnd, sh);
    return (int8_t)(zpf ? tinyasc_sat8(v) : tinyasc_clamp(v + zo, lo, hi));
}

/* Whether add8_halved_run / add8_halved_cols rescale the doubled sum (the zero point folded, and TFLite's left shift
 * of 20 at most, which keeps each rescaled input below 2^28 and the doubled sum inside int32); the table and factor
 * add8_halved_table returns are doubled exactly then. */
static inline __attribute__((always_inline)) int add8_dbl(const tinyasc_binary_params *p)
{
    return out_zp_folds(p) && p->left_shift <= 20;
}

/* The output constants of add8_halved_out: the folded form's, or the doubled forms' (rnd2 = 2^(r-1), sh = r). */
static inline __attribute__((always_inline)) void add8_out_consts(const tinyasc_binary_params *p, const int zpf,
                                                                   const int form, int32_t *rnd, int32_t *sh)
{
    if (form != ADD_FOLDED) {
        tinyasc_rq_relu_consts(p->out_shift, zpf ? p->out_offset : 0, rnd, sh);
    } else {
        tinyasc_rq_consts(p->out_shift, zpf ? p->out_offset : 0, rnd, sh);
    }
}

static inline __attribute__((always_inline)) void add8_halved_body(const tinyasc_binary_params *p, int32_t kh,
                                                                   const int8_t *xh, const int8_t *xf, int8_t *o,
                                                                   int32_t n, const int32_t *t, const int zpf,
                                                                   const int form)
{
    const int32_t mo = p->out_mult, zo = p->out_offset, lo = p->act_min, hi = p->act_max;
    int32_t rnd, sh;
    add8_out_consts(p, zpf, form, &rnd, &sh);
    for (int32_t i = 0; i < n; i++) o[i] = add8_halved_out(t[xf[i]] + xh[i] * kh, mo, rnd, sh, zo, lo, hi, zpf, form);
}

#if defined(__thumb2__)
/* add8_halved_body on the doubled sum in asm over n >= 1 contiguous elements: four per pass, one word of each input
 * (both read before the four outputs are written: o may be either input), each byte sign-extended from its word
 * (SXTB with a rotation: one cycle, against two for an LDRSB), then per element the table's term, MLA, SMMLAR, (the
 * sign's SUB: any range), ASR, SSAT, STRB, the table (at its middle) indexed by the byte (LDR with LSL #2); then the
 * last n % 4 one at a time. Arguments: r0 xh, r1 xf, r2 o, r3 n, then on the stack t, kh, mo, rnd2, r. Compiled from
 * C the loop took an LDRSB per input byte and a compare per element. */
#define ADD8_Q_ELEM(XF, XH, OFF, SIGN)                                                                            \
        XF "\n\t"                                                                                                 \
        "ldr    r11, [r4, r11, lsl #2]\n\t"  /* t[xf] */                                                          \
        XH "\n\t"                                                                                                 \
        "mla    r11, r12, r5, r11\n\t"       /* + xh kh: the doubled sum */                                       \
        "smmlar lr, r11, r6, r7\n\t"                                                                              \
        SIGN                                                                                                      \
        "asr    lr, lr, r8\n\t"                                                                                   \
        "ssat   lr, #8, lr\n\t"                                                                                   \
        "strb   lr, [r2, #" OFF "]\n\t"
#define ADD8_QUADS(SIGN)                                                                                          \
        "push   {r4-r11, lr}\n\t"                                                                                 \
        "ldrd   r4, r5, [sp, #36]\n\t"       /* t, kh */                                                          \
        "ldrd   r6, r7, [sp, #44]\n\t"       /* mo, rnd2 */                                                       \
        "ldr    r8, [sp, #52]\n\t"           /* r */                                                              \
        "lsrs   r10, r3, #2\n\t"             /* passes of four */                                                 \
        "beq    2f\n\t"                                                                                           \
        "str    r3, [sp, #-8]!\n\t"          /* n on the stack (8: the stack stays aligned) */                    \
        "mov    r3, r10\n\t"                                                                                      \
        "1:\n\t"                                                                                                  \
        "ldr    r9, [r0], #4\n\t"            /* four of xh */                                                     \
        "ldr    r10, [r1], #4\n\t"           /* four of xf */                                                     \
        ADD8_Q_ELEM("sxtb   r11, r10", "sxtb   r12, r9", "0", SIGN)                                               \
        ADD8_Q_ELEM("sxtb   r11, r10, ror #8", "sxtb   r12, r9, ror #8", "1", SIGN)                               \
        ADD8_Q_ELEM("sxtb   r11, r10, ror #16", "sxtb   r12, r9, ror #16", "2", SIGN)                             \
        ADD8_Q_ELEM("asr    r11, r10, #24", "asr    r12, r9, #24", "3", SIGN)                                     \
        "add    r2, r2, #4\n\t"                                                                                   \
        "subs   r3, r3, #1\n\t"                                                                                   \
        "bne    1b\n\t"                                                                                           \
        "ldr    r3, [sp], #8\n\t"                                                                                 \
        "2:\n\t"                                                                                                  \
        "ands   r3, r3, #3\n\t"              /* the last n % 4 */                                                 \
        "beq    4f\n\t"                                                                                           \
        "3:\n\t"                                                                                                  \
        ADD8_Q_ELEM("ldrsb  r11, [r1], #1", "ldrsb  r12, [r0], #1", "0", SIGN)                                    \
        "add    r2, r2, #1\n\t"                                                                                   \
        "subs   r3, r3, #1\n\t"                                                                                   \
        "bne    3b\n\t"                                                                                           \
        "4:\n\t"                                                                                                  \
        "pop    {r4-r11, pc}\n\t"
/* ADD_DBL_RELU's form (tinyasc_add8_relu_range: no sign correction) */
static __attribute__((naked, noinline)) void add8_run_relu_dsp(
    const int8_t *xh __attribute__((unused)), const int8_t *xf __attribute__((unused)), int8_t *o __attribute__((unused)),
    int32_t n __attribute__((unused)), const int32_t *t __attribute__((unused)), int32_t kh __attribute__((unused)),
    int32_t mo __attribute__((unused)), int32_t rnd2 __attribute__((unused)), int32_t r __attribute__((unused)))
{
    __asm__ volatile(ADD8_QUADS(""));
}
/* ADD_DBL's form (tinyasc_rq_dbl_apply: the sum's sign bit subtracted) */
static __attribute__((naked, noinline)) void add8_run_dbl_dsp(
    const int8_t *xh __attribute__((unused)), const int8_t *xf __attribute__((unused)), int8_t *o __attribute__((unused)),
    int32_t n __attribute__((unused)), const int32_t *t __attribute__((unused)), int32_t kh __attribute__((unused)),
    int32_t mo __attribute__((unused)), int32_t rnd2 __attribute__((unused)), int32_t r __attribute__((unused)))
{
    __asm__ volatile(ADD8_QUADS("sub    lr, lr, r11, lsr #31\n\t"));
}
#undef ADD8_QUADS
#undef ADD8_Q_ELEM
#define ADD8_QUADS_ASM 1
#else
#define ADD8_QUADS_ASM 0
#endif

static __attribute__((noinline)) void add8_halved_run(const tinyasc_binary_params *p, int32_t kh, int half1,
                                                      const int8_t *a, const int8_t *b, int8_t *o, int32_t n,
                                                      const int32_t *t)
{
    const int8_t *xh = half1 ? a : b, *xf = half1 ? b : a;
#if ADD8_QUADS_ASM
    if (add8_dbl(p)) { /* the doubled sums in asm (ADD_DBL_RELU's constants are ADD_DBL's) */
        int32_t rnd2, r;
        add8_out_consts(p, 1, ADD_DBL, &rnd2, &r);
        if (tinyasc_add8_relu_range(p)) add8_run_relu_dsp(xh, xf, o, n, t, kh, p->out_mult, rnd2, r);
        else add8_run_dbl_dsp(xh, xf, o, n, t, kh, p->out_mult, rnd2, r);
        return;
    }
#else
    if (add8_dbl(p) && tinyasc_add8_relu_range(p))
        add8_halved_body(p, kh, xh, xf, o, n, t, 1, ADD_DBL_RELU);
    else if (add8_dbl(p))
        add8_halved_body(p, kh, xh, xf, o, n, t, 1, ADD_DBL);
    else
#endif
        add8_halved_body(p, kh, xh, xf, o, n, t, 0, ADD_FOLDED);
}

#if ADD8_QUADS_ASM
/* Four adjacent columns of add8_halved_cols_body on the doubled sum with the halved input's factor 2^20 (TFLite's
 * int8 ADD: left shift 20, doubled), in asm: the four columns' table terms in registers, then down the rows one word
 * of the halved input per row (read before the row's four outputs are written: o may be xh), per element SXTB, ADD
 * (the term plus the byte << 20), SMMLAR, SUB of the sign, ASR, SSAT, STRB: tinyasc_rq_dbl_apply, exact for any
 * output range (a ReLU range's negative sums included). rows >= 1. Arguments: r0 xh, r1 rows, r2 R (bytes between
 * rows), r3 the four terms, then on the stack o, mo, rnd2, r. */
#define ADD8_C4_ELEM(X, TC, OFF)                                                                                  \
        X "\n\t"                                                                                                  \
        "add    r12, " TC ", r12, lsl #20\n\t"                                                                    \
        "smmlar lr, r12, r8, r9\n\t"                                                                              \
        "sub    lr, lr, r12, lsr #31\n\t"                                                                         \
        "asr    lr, lr, r10\n\t"                                                                                  \
        "ssat   lr, #8, lr\n\t"                                                                                   \
        "strb   lr, [r3, #" OFF "]\n\t"
static __attribute__((naked, noinline)) void add8_cols4_dsp(
    const int8_t *xh __attribute__((unused)), int32_t rows __attribute__((unused)), int32_t R __attribute__((unused)),
    const int32_t *tc __attribute__((unused)), int8_t *o __attribute__((unused)), int32_t mo __attribute__((unused)),
    int32_t rnd2 __attribute__((unused)), int32_t r __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "ldm    r3, {r4-r7}\n\t"             /* the four columns' terms */
        "ldrd   r3, r8, [sp, #36]\n\t"       /* o, mo */
        "ldrd   r9, r10, [sp, #44]\n\t"      /* rnd2, r */
        "1:\n\t"
        "ldr    r11, [r0]\n\t"               /* a row's four halved inputs */
        ADD8_C4_ELEM("sxtb   r12, r11", "r4", "0")
        ADD8_C4_ELEM("sxtb   r12, r11, ror #8", "r5", "1")
        ADD8_C4_ELEM("sxtb   r12, r11, ror #16", "r6", "2")
        ADD8_C4_ELEM("asr    r12, r11, #24", "r7", "3")
        "add    r0, r0, r2\n\t"
        "add    r3, r3, r2\n\t"
        "subs   r1, r1, #1\n\t"
        "bne    1b\n\t"
        "pop    {r4-r11, pc}\n\t");
}
#undef ADD8_C4_ELEM

/* add8_cols4_dsp over the columns in fours where the sums are doubled (add8_dbl: ADD_DBL_RELU's constants are
 * ADD_DBL's) and the halved input's factor is 2^20; returns the columns done (0: none). Not inlined: the caller's
 * paths stay as they were. */
static __attribute__((noinline)) int32_t add8_cols4_run(const tinyasc_binary_params *p, int32_t kh, const int8_t *xh,
                                                        const int8_t *xf, int8_t *o, int32_t rows, int32_t cols,
                                                        const int32_t *t)
{
    int32_t rnd2, r, j = 0;
    if (kh != (1 << 20) || !add8_dbl(p)) return 0;
    add8_out_consts(p, 1, ADD_DBL, &rnd2, &r);
    for (; j + 4 <= cols; j += 4) {
        const int32_t tc4[4] = {t[xf[j]], t[xf[j + 1]], t[xf[j + 2]], t[xf[j + 3]]};
        add8_cols4_dsp(xh + j, rows, cols, tc4, o + j, p->out_mult, rnd2, r);
    }
    return j;
}
#endif

/* add8_halved_body over a rows x cols tensor whose other input is one row broadcast down the rows (the temporal
 * branch of a BC-ResBlock added to every frequency row): column by column, so that each column's table value is
 * looked up once, and down the column the halved input alone, two rows per pass on the full range (o may be
 * xh). */
static inline __attribute__((always_inline)) void add8_halved_cols_body(const tinyasc_binary_params *p, int32_t kh,
                                                                        const int8_t *xh, const int8_t *xf, int8_t *o,
                                                                        int32_t rows, int32_t cols, int32_t j0,
                                                                        const int32_t *t, const int zpf, const int form)
{
    const int32_t mo = p->out_mult, zo = p->out_offset, lo = p->act_min, hi = p->act_max, R = cols;
    int32_t rnd, sh;
    add8_out_consts(p, zpf, form, &rnd, &sh);
    for (int32_t j = j0; j < cols; j++) {
        const int32_t tc = t[xf[j]];
        const int8_t *a = xh + j;
        int8_t *q = o + j;
        if (!zpf) { /* a clamped range (rare): one row per pass, less code */
            for (const int8_t *const end = a + rows * R; a != end; a += R, q += R)
                *q = add8_halved_out(tc + *a * kh, mo, rnd, sh, zo, lo, hi, zpf, form);
            continue;
        }
        if (rows & 1) { /* an odd row first, then two rows per pass (one loop test per two outputs) */
            *q = add8_halved_out(tc + *a * kh, mo, rnd, sh, zo, lo, hi, zpf, form);
            a += R, q += R;
        }
        for (int32_t k = rows >> 1; k > 0; k--, a += 2 * R, q += 2 * R) {
            const int32_t a0 = a[0], a1 = a[R]; /* both read before either is written: q may be a */
            q[0] = add8_halved_out(tc + a0 * kh, mo, rnd, sh, zo, lo, hi, zpf, form);
            q[R] = add8_halved_out(tc + a1 * kh, mo, rnd, sh, zo, lo, hi, zpf, form);
        }
    }
}

static __attribute__((noinline)) void add8_halved_cols(const tinyasc_binary_params *p, int32_t kh, int half1,
                                                       const int8_t *a, const int8_t *b, int8_t *o, int32_t rows,
                                                       int32_t cols, const int32_t *t)
{
    const int8_t *xh = half1 ? a : b, *xf = half1 ? b : a;
#if ADD8_QUADS_ASM
    const int32_t j = add8_cols4_run(p, kh, xh, xf, o, rows, cols, t); /* the first column left to the C loops */
#else
    const int32_t j = 0;
#endif
    if (add8_dbl(p) && tinyasc_add8_relu_range(p))
        add8_halved_cols_body(p, kh, xh, xf, o, rows, cols, j, t, 1, ADD_DBL_RELU);
    else if (add8_dbl(p))
        add8_halved_cols_body(p, kh, xh, xf, o, rows, cols, j, t, 1, ADD_DBL);
    else
        add8_halved_cols_body(p, kh, xh, xf, o, rows, cols, j, t, 0, ADD_FOLDED);
}

/* The halved input's factor kh and add8_halved_run's table (into lut1) for these parameters; both doubled where
 * add8_halved_run / add8_halved_cols rescale the doubled sum (add8_dbl). */
static int32_t add8_halved_table(const tinyasc_binary_params *p, int op)
{
    const int half1 = tinyasc_add8_half(p) == 1, sub = op == OP_SUB, dbl = add8_dbl(p);
    const int32_t ls = p->left_shift, k = (int32_t)1 << (ls - 1), kh = sub && !half1 ? -k : k;
    const int32_t c = kh * (half1 ? p->in1_offset : p->in2_offset);
    const int32_t off = half1 ? p->in2_offset : p->in1_offset, m = half1 ? p->in2_mult : p->in1_mult;
    const int32_t r = -(half1 ? p->in2_shift : p->in1_shift);
    for (int32_t v = -128; v < 128; v++) {
        const int32_t f = mbqm_lt1_fast(tinyasc_shl(v + off, ls), m, r);
        lut1[v + 128] = ((sub && half1 ? -f : f) + c) * (1 + dbl);
    }
    return dbl ? 2 * kh : kh;
}

/* int16 ADD with one input exactly halved (its multiplier 1/2: see in_mode16) and the folded output rescaling over
 * n contiguous elements of both inputs, its constants in locals: elem()'s arithmetic (the halved input shifted, the
 * other rescaled, folded or not, the sum rescaled, the zero point added, the range clamped). TFLite's 16x8 ADD has
 * zero points 0 and left shift 15: with `std` those are constants of the instance, which leaves the loop's other
 * constants in registers. */
static inline __attribute__((always_inline)) void add16_halved_body(const tinyasc_binary_params *p, int half1,
                                                                   const int16_t *a, const int16_t *b, int16_t *o,
                                                                   int32_t n, const int std, const int fold)
{
    const int32_t m = half1 ? p->in2_mult : p->in1_mult, s = half1 ? p->in2_shift : p->in1_shift;
    const int32_t mo = p->out_mult;
    const int32_t off_h = std ? 0 : (half1 ? p->in1_offset : p->in2_offset);
    const int32_t off_f = std ? 0 : (half1 ? p->in2_offset : p->in1_offset);
    const int32_t ls = std ? 15 : p->left_shift, zo = std ? 0 : p->out_offset, lo = p->act_min, hi = p->act_max;
    const int16_t *xh = half1 ? a : b, *xf = half1 ? b : a;
    int32_t rnd = 0, sh = 0, rnd_o, sh_o;
    if (fold) tinyasc_rq_consts(s, 0, &rnd, &sh);
    tinyasc_rq_consts(p->out_shift, 0, &rnd_o, &sh_o);
    for (int32_t i = 0; i < n; i++) {
        const int32_t s_h = tinyasc_shl(xh[i] + off_h, ls - 1);
        const int32_t x = tinyasc_shl(xf[i] + off_f, ls);
        const int32_t s_f = fold ? tinyasc_rq_apply(x, m, rnd, sh) : mbqm_lt1_fast(x, m, -s);
        o[i] = (int16_t)tinyasc_clamp(tinyasc_rq_apply(s_h + s_f, mo, rnd_o, sh_o) + zo, lo, hi);
    }
}

/* The instance for these parameters: needs the output's rescaling folded, the other input's multiplier not
 * INT32_MIN and its shift <= 0 (ok()). */
static void add16_halved(const tinyasc_binary_params *p, int half1, const int16_t *a, const int16_t *b, int16_t *o,
                         int32_t n)
{
    const int std = p->in1_offset == 0 && p->in2_offset == 0 && p->out_offset == 0 && p->left_shift == 15;
    const int fold = tinyasc_rq_folded(half1 ? p->in2_mult : p->in1_mult, half1 ? p->in2_shift : p->in1_shift);
    if (std && fold) add16_halved_body(p, half1, a, b, o, n, 1, 1);
    else if (std) add16_halved_body(p, half1, a, b, o, n, 1, 0);
    else if (fold) add16_halved_body(p, half1, a, b, o, n, 0, 1);
    else add16_halved_body(p, half1, a, b, o, n, 0, 0);
}
#endif

static inline __attribute__((always_inline)) void run_body(const tinyasc_binary_params *p, const void *in1,
                                                            const void *in2, void *out, int op, int lut,
                                                            int folded, const int s16, int32_t kh8)
{
    const tinyasc_binary_params pl = *p; /* int8 stores may alias anything: keep the fields in registers */
    p = &pl;
    const int32_t r1 = -p->in1_shift, r2 = -p->in2_shift, ro = -p->out_shift;
    /* the tables' middles in registers, opaque to the compiler: it would otherwise index lut1 + 128 as
     * lut1[v + 128] off one section anchor and spend an add per element on the offset */
    const int32_t *t1 = lut1 + 128, *t2 = lut2 + 128;
    __asm__("" : "+r"(t1), "+r"(t2));
    int32_t rnd = 0, sh = 0;
    if (folded) tinyasc_rq_consts(p->out_shift, folded == RQ_FOLDED_ZP ? p->out_offset : 0, &rnd, &sh);
    /* merge axes: (dims, strides) of both inputs, dropping size-1 axes */
    int32_t d[TINYASC_MAX_DIMS], s1[TINYASC_MAX_DIMS], s2[TINYASC_MAX_DIMS], n = 0;
    if (!p->broadcast) {
        d[0] = p->size, s1[0] = 1, s2[0] = 1, n = 1;
    } else {
        for (int32_t k = 0; k < TINYASC_MAX_DIMS; k++) {
            if (p->out_dims[k] == 1) continue;
            if (n > 0 && s1[n - 1] == p->in1_strides[k] * p->out_dims[k] && s2[n - 1] == p->in2_strides[k] * p->out_dims[k]) {
                d[n - 1] *= p->out_dims[k];
                s1[n - 1] = p->in1_strides[k];
                s2[n - 1] = p->in2_strides[k];
            } else {
                d[n] = p->out_dims[k], s1[n] = p->in1_strides[k], s2[n] = p->in2_strides[k];
                n++;
            }
        }
        if (n == 0) d[0] = 1, s1[0] = 0, s2[0] = 0, n = 1;
    }
    /* odometer over the outer axes, inner loop over the last */
    int32_t idx[TINYASC_MAX_DIMS] = {0};
    const int32_t inner = d[n - 1], is1 = s1[n - 1], is2 = s2[n - 1];
    const int32_t es = s16 ? 2 : 1; /* element size */
    int32_t b1 = 0, b2 = 0;
    char *o = (char *)out;
    /* int8 ADD/SUB with one input exactly halved: run() sends them untabulated (IN_GENERAL); on the DSP cores with
     * add8_halved_run's table in lut1 and its factor in kh8 */
    const int half8 = !s16 && (op == OP_ADD || op == OP_SUB) && lut == IN_GENERAL ? tinyasc_add8_half(p) : 0;
    /* two axes, the halved input and the output contiguous, the other input one row broadcast down the rows: column
     * by column (the other input's term once per column) */
    const int rows_bcast = half8 && n == 2 && s1[1] == 1 && s2[1] == 1 &&
                           (half8 == 1 ? s1[0] == d[1] && s2[0] == 0 : s2[0] == d[1] && s1[0] == 0);
#if defined(__ARM_FEATURE_MVE)
    (void)kh8; /* Helium rescales without the table */
    if (rows_bcast) {
        addsub4_cols(p, op == OP_SUB, half8 == 1, (const int8_t *)in1, (const int8_t *)in2, (int8_t *)out, d[0], d[1]);
        return;
    }
#else
    if (rows_bcast && kh8 != 0) {
        add8_halved_cols(p, kh8, half8 == 1, (const int8_t *)in1, (const int8_t *)in2, (int8_t *)out, d[0], d[1], t1);
        return;
    }
#endif
    for (;;) {
        const char *a = (const char *)in1 + b1 * es, *b = (const char *)in2 + b2 * es;
#if defined(__ARM_FEATURE_MVE)
        /* int8 ADD/SUB with one input exactly halved (half8): contiguous runs four lanes at a time, TFLite's
         * rescaling lane by lane (addsub4_s8_halved); int16 ADD/SUB/MUL and int8 MUL: four lanes (vec4) */
        if (half8 && is1 == 1 && is2 == 1) {
            addsub4_run(p, op == OP_SUB, half8 == 1, (const int8_t *)a, (const int8_t *)b, (int8_t *)o, inner);
        } else if ((s16 ? op != OP_SQDIFF : op == OP_MUL) && folded != RQ_REFERENCE && is1 >= 0 && is1 <= 1 &&
                   is2 >= 0 && is2 <= 1 && (is1 | is2)) {
            vec4(p, op, lut, a, b, o, inner, is1, is2, s16);
        } else
#else
        if (half8 && kh8 != 0 && is1 == 1 && is2 == 1) {
            add8_halved_run(p, kh8, half8 == 1, (const int8_t *)a, (const int8_t *)b, (int8_t *)o, inner, t1);
        } else if (s16 && op == OP_ADD && folded == RQ_FOLDED && (lut == IN_HALF_FOLDED || lut == IN_FOLDED_HALF) &&
            is1 == 1 && is2 == 1) {
            add16_halved(p, lut == IN_HALF_FOLDED, (const int16_t *)a, (const int16_t *)b, (int16_t *)o, inner);
        } else
#endif
        if (is1 == 1 && is2 == 1) {
            for (int32_t i = 0; i < inner; i++)
                st(o, i, elem(p, op, ld(a, i, s16), ld(b, i, s16), lut, t1, t2, r1, r2, ro, folded, rnd, sh), s16);
        } else if (is1 == 1 && is2 == 0) {
            const int32_t bv = ld(b, 0, s16);
            for (int32_t i = 0; i < inner; i++) st(o, i, elem(p, op, ld(a, i, s16), bv, lut, t1, t2, r1, r2, ro, folded, rnd, sh), s16);
        } else if (is1 == 0 && is2 == 1) {
            const int32_t av = ld(a, 0, s16);
            for (int32_t i = 0; i < inner; i++) st(o, i, elem(p, op, av, ld(b, i, s16), lut, t1, t2, r1, r2, ro, folded, rnd, sh), s16);
        } else {
            for (int32_t i = 0; i < inner; i++)
                st(o, i, elem(p, op, ld(a, i * is1, s16), ld(b, i * is2, s16), lut, t1, t2, r1, r2, ro, folded, rnd, sh), s16);
        }
        o += inner * es;
        int32_t k = n - 2;
        for (; k >= 0; k--) {
            idx[k]++;
            b1 += s1[k];
            b2 += s2[k];
            if (idx[k] < d[k]) break;
            b1 -= s1[k] * d[k];
            b2 -= s2[k] * d[k];
            idx[k] = 0;
        }
        if (k < 0) break;
    }
}

/* op and the table choice are constants in each instance: one specialized loop nest per case that
 * pays. The tables serve the folded output rescaling only (an output shift of -1 or more, the general
 * form, is rare enough to share the untabulated instance and keep a loop nest of code less). */
static inline __attribute__((always_inline)) void run(const tinyasc_binary_params *p, const int8_t *in1,
                                                       const int8_t *in2, int8_t *out, int op)
{
    const int folded = tinyasc_rq_folded(p->out_mult, p->out_shift);
    const int zp_folds = out_zp_folds(p);
    const int large = p->size >= TINYASC_LUT_MIN;
#if defined(__ARM_FEATURE_MVE)
    /* Helium: ADD/SUB with one input exactly halved (tinyasc_add8_half) without tables: contiguous runs four lanes at a
     * time (run_body), a strided run per element in the general form (the small tensors' instance: no more code) */
    if ((op == OP_ADD || op == OP_SUB) && tinyasc_add8_half(p)) {
        run_body(p, in1, in2, out, op, IN_GENERAL, RQ_GENERAL, 0, 0);
        return;
    }
#else
    /* one input exactly halved: one table (the other input's rescaling plus the halved one's constant) and an MLA */
    if ((op == OP_ADD || op == OP_SUB) && large && folded && tinyasc_add8_half(p)) {
        const int32_t kh = add8_halved_table(p, op);
        run_body(p, in1, in2, out, op, IN_GENERAL, RQ_GENERAL, 0, kh);
        return;
    }
#endif
    if (op != OP_MUL && large && folded) {
        const int32_t r1 = -p->in1_shift, r2 = -p->in2_shift;
        for (int32_t v = -128; v < 128; v++) {
            lut1[v + 128] = mbqm_lt1_fast(tinyasc_shl(v + p->in1_offset, p->left_shift), p->in1_mult, r1);
            lut2[v + 128] = mbqm_lt1_fast(tinyasc_shl(v + p->in2_offset, p->left_shift), p->in2_mult, r2);
        }
        if (zp_folds) run_body(p, in1, in2, out, op, 1, RQ_FOLDED_ZP, 0, 0);
        else run_body(p, in1, in2, out, op, 1, RQ_FOLDED, 0, 0);
    } else if (op == OP_MUL && large && zp_folds) {
        run_body(p, in1, in2, out, op, 0, RQ_FOLDED_ZP, 0, 0);
    } else if (op == OP_MUL && large && folded) {
        run_body(p, in1, in2, out, op, 0, RQ_FOLDED, 0, 0);
    } else {
        run_body(p, in1, in2, out, op, 0, RQ_GENERAL, 0, 0); /* small tensors, unfolded rescaling */
    }
}

static int ok(const tinyasc_binary_params *p, int op)
{
    if (p->out_mult == INT32_MIN) return 0;
    if (op == OP_MUL) return 1;
    return p->in1_mult != INT32_MIN && p->in2_mult != INT32_MIN && p->in1_shift <= 0 && p->in2_shift <= 0 &&
           (op == OP_SQDIFF || p->out_shift <= 0);
}

void tinyasc_opt_add_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (ok(p, OP_ADD)) run(p, in1, in2, out, OP_ADD);
    else tinyasc_add_s8(p, in1, in2, out);
}
void tinyasc_opt_sub_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (ok(p, OP_SUB)) run(p, in1, in2, out, OP_SUB);
    else tinyasc_sub_s8(p, in1, in2, out);
}
void tinyasc_opt_mul_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    if (ok(p, OP_MUL)) run(p, in1, in2, out, OP_MUL);
    else tinyasc_mul_s8(p, in1, in2, out);
}
void tinyasc_opt_squared_difference_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2,
                                       int8_t *out)
{
    if (ok(p, OP_SQDIFF)) run(p, in1, in2, out, OP_SQDIFF);
    else tinyasc_squared_difference_s8(p, in1, in2, out);
}

/* The _fast entries (precondition: ok(p, op), which the generator checks: generator.binary_fast_ok): the fast
 * paths with no portable kernel behind them. */
void tinyasc_opt_add_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    run(p, in1, in2, out, OP_ADD);
}
void tinyasc_opt_sub_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    run(p, in1, in2, out, OP_SUB);
}
void tinyasc_opt_mul_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    run(p, in1, in2, out, OP_MUL);
}
void tinyasc_opt_squared_difference_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2,
                                            int8_t *out)
{
    run(p, in1, in2, out, OP_SQDIFF);
}

/* int16 ADD and MUL (16x8 models): no tables (65,536 input values); the folded output rescaling where
 * the shift allows it, the general fast form where ok() holds, else the portable arithmetic, all in the loop
 * nest above (no call into c/kernels/int16.c, which a Cortex-M int8 library does not ship). */
static void run16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out, int op)
{
    if (ok(p, op)) {
        const int folded = tinyasc_rq_folded(p->out_mult, p->out_shift);
        const int mode = op == OP_ADD ? in_mode16(p) : IN_GENERAL;
#if !defined(__ARM_FEATURE_MVE)
        /* no broadcasting: one contiguous run, and one input exactly halved whatever the other's shift */
        const int half1 = tinyasc_halves(p->in1_mult, p->in1_shift), half2 = tinyasc_halves(p->in2_mult, p->in2_shift);
        if (op == OP_ADD && folded && !p->broadcast && p->left_shift >= 1 && (half1 || half2)) {
            add16_halved(p, half1, in1, in2, out, p->size);
            return;
        }
#endif
        if (folded && mode == IN_HALF_FOLDED) run_body(p, in1, in2, out, op, IN_HALF_FOLDED, RQ_FOLDED, 1, 0);
        else if (folded && mode == IN_FOLDED_HALF) run_body(p, in1, in2, out, op, IN_FOLDED_HALF, RQ_FOLDED, 1, 0);
        else if (folded) run_body(p, in1, in2, out, op, IN_GENERAL, RQ_FOLDED, 1, 0);
        else run_body(p, in1, in2, out, op, IN_GENERAL, RQ_GENERAL, 1, 0);
        return;
    }
    run_body(p, in1, in2, out, op, 0, RQ_REFERENCE, 1, 0);
}

void tinyasc_opt_add_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    run16(p, in1, in2, out, OP_ADD);
}

void tinyasc_opt_mul_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out)
{
    run16(p, in1, in2, out, OP_MUL);
}

/*
 * An int8 ADD fused into the MAX_POOL_2D that reads it (tinyasc_opt_add_max_pool_s8; planner.find_add_pools), with
 * the contract of the portable kernel in c/kernels/add_pool.c. The ADD's output rescaling is monotone (TFLite rounds
 * half away from zero, then adds the zero point and clamps), so where one input is exactly halved
 * (tinyasc_add8_half) and the pooling's range is all of int8, each window's largest sum is rescaled once. A row's
 * whole 2 x 2 windows run in asm: on Helium the sums of addsub4_tab four channels a pass (amp_run2_mve), on the DSP
 * cores add8_halved_run's doubled sums a channel a pass (amp_run2_relu_dsp / amp_run2_dbl_dsp), on other cores
 * (the host's build) the same sums in C (amp_dbl_run2). Any other window, and other parameters, take the largest of
 * the ADD's outputs, clamped to the pooling's range: lane by lane on Helium (amp_mve_pixel_cb), element by element
 * elsewhere (amp_pixel). One walker (amp_walk) visits the pixels for every path. The sums are never stored, and a
 * pooled output is written after its window is read, pixel by pixel: out may share an operand's first byte where no
 * window reads below its own output pixel (the planner checks). Precondition (the generator checks it): every
 * rescaling TFLite's Prepare makes (ok(ap, OP_ADD)).
 */

/* A pooling window clipped to the input: its first input index and its taps (nh rows of nw, rows `row` apart). */
typedef struct {
    int32_t i0, nh, nw;
} amp_win;

static inline __attribute__((always_inline)) amp_win amp_window(const tinyasc_pool_params *p, int32_t b, int32_t oy,
                                                                 int32_t ox)
{
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
    const int32_t fy1 = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
    const int32_t fx1 = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
    amp_win w = {.i0 = 0, .nh = fy1 - fy0, .nw = fx1 - fx0};
    if (w.nh > 0 && w.nw > 0) w.i0 = ((b * p->in_h + y0 + fy0) * p->in_w + x0 + fx0) * p->channels;
    else w.nh = w.nw = 0;
    return w;
}

/* The pooling's output pixels in order: with runs and a 2 x 2 filter a row's whole windows as one call of run (the
 * first window's input index, the first output's index, the count), every other pixel through pixel. */
typedef void amp_run_fn(void *ctx, int32_t i0, int32_t o0, int32_t n);
typedef void amp_pixel_fn(void *ctx, int32_t b, int32_t oy, int32_t ox);
static void amp_walk(const tinyasc_pool_params *p, int runs, amp_run_fn *run, amp_pixel_fn *pixel, void *ctx)
{
    const int two = runs && p->f_h == 2 && p->f_w == 2;
    int32_t ox_lo, ox_hi; /* the output columns whose windows lie inside the input along w */
    tinyasc_inside_range(p->out_w, p->in_w, p->f_w - 1, p->stride_w, p->pad_w, &ox_lo, &ox_hi);
    for (int32_t b = 0; b < p->batches; b++)
        for (int32_t oy = 0; oy < p->out_h; oy++)
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                if (two && ox == ox_lo && ox_hi > ox_lo) {
                    const amp_win w = amp_window(p, b, oy, ox);
                    if (w.nh == 2) { /* the row's whole 2 x 2 windows */
                        run(ctx, w.i0, ((b * p->out_h + oy) * p->out_w + ox) * p->channels, ox_hi - ox_lo);
                        ox = ox_hi - 1;
                        continue;
                    }
                }
                pixel(ctx, b, oy, ox);
            }
}

/* The operands, the output and the parameters of one call, for amp_walk's callbacks. */
typedef struct {
    const tinyasc_binary_params *ap;
    const tinyasc_pool_params *pp;
    const int8_t *in1, *in2;
    int8_t *out;
} amp_call;

#if !defined(__ARM_FEATURE_MVE)
/* One output pixel, any parameters: per channel the largest of its window's ADD outputs, as the portable kernel. */
static __attribute__((noinline)) void amp_pixel(const tinyasc_binary_params *ap, const tinyasc_pool_params *pp,
                                                const int8_t *in1, const int8_t *in2, int8_t *out, int32_t b,
                                                int32_t oy, int32_t ox)
{
    const tinyasc_binary_params al = *ap;
    const int32_t C = pp->channels, row = pp->in_w * C;
    const amp_win w = amp_window(pp, b, oy, ox);
    int8_t *o = out + ((b * pp->out_h + oy) * pp->out_w + ox) * C;
    for (int32_t c = 0; c < C; c++) {
        int32_t acc = -128;
        for (int32_t fy = 0; fy < w.nh; fy++)
            for (int32_t fx = 0; fx < w.nw; fx++) {
                const int32_t i = w.i0 + fy * row + fx * C + c;
                const int32_t v = tinyasc_clamp(tinyasc_add_raw(&al, in1[i], in2[i]), al.act_min, al.act_max);
                acc = v > acc ? v : acc;
            }
        o[c] = (int8_t)tinyasc_clamp(acc, pp->act_min, pp->act_max);
    }
}

static void amp_pixel_cb(void *ctx, int32_t b, int32_t oy, int32_t ox)
{
    const amp_call *k = ctx;
    amp_pixel(k->ap, k->pp, k->in1, k->in2, k->out, b, oy, ox);
}

/* Every output pixel through amp_pixel (any parameters). */
static void amp_general(const amp_call *k)
{
    amp_walk(k->pp, 0, 0, amp_pixel_cb, (void *)k);
}
#endif

#if defined(__ARM_FEATURE_MVE)
/* A run of n output pixels whose 2 x 2 windows lie inside the input, in asm (amp_run2_mve): per pixel its C channels in
 * a tail-predicated loop (DLSTP / LETP: the last one to three channels predicated), four a pass: per tap the halved
 * input's bytes and the other input's (VLDRB, post-increment), the other's table entries (VLDRW gather) and VMLA of
 * the halved bytes by the factor, the taps' VMAX, then tinyasc_addsub4_rq with the sign's rounding (exact for any
 * range) and one VSTRB. The widening loads and stores take r0-r7 only: seven tap pointers and the outputs' there, so
 * the last tap's halved bytes are a byte gather at d + 0..3 from its other pointer (two gathers a tap would cost more
 * than a load on silicon, where the timing model charges them alike). Compiled from C the loop spent a scalar
 * instruction on each address. */
typedef struct {
    const int8_t *f;     /*  0: the first pixel's window, other input */
    int32_t d;           /*  4: the halved input's distance from the other */
    int8_t *o;           /*  8: the first output */
    int32_t n, C;        /* 12, 16: pixels, channels */
    int32_t row, stride; /* 20, 24: bytes between input rows, between the pixels' windows */
    const int32_t *t;    /* 28: the table (lut1) */
    int32_t kh, mo, so;  /* 32, 36, 40: the halved input's factor, the output's multiplier and shift */
    int32_t zo, lo, hi;  /* 44, 48, 52: the output's zero point and range */
} amp_run;
typedef char amp_run_is_the_asm_layout[(offsetof(amp_run, d) == 4 && offsetof(amp_run, o) == 8 &&
                                        offsetof(amp_run, n) == 12 && offsetof(amp_run, C) == 16 &&
                                        offsetof(amp_run, row) == 20 && offsetof(amp_run, stride) == 24 &&
                                        offsetof(amp_run, t) == 28 && offsetof(amp_run, kh) == 32 &&
                                        offsetof(amp_run, mo) == 36 && offsetof(amp_run, so) == 40 &&
                                        offsetof(amp_run, zo) == 44 && offsetof(amp_run, lo) == 48 &&
                                        offsetof(amp_run, hi) == 52) ? 1 : -1];

/* one tap: the halved input's bytes (HALVED: a load into q2), the other input's at XF, the sum into ACC */
#define AMP_TAP(HALVED, XF, ACC)                                                                                  \
        HALVED                                                                                                    \
        "vldrb.u32 q0, [" XF "], #4\n\t"                                                                          \
        "vldrw.u32 " ACC ", [r8, q0, uxtw #2]\n\t"                                                                \
        "vmla.s32 " ACC ", q2, r9\n\t"
/* Registers: r0-r3 the four taps' pointers (other input), r4-r6 the first three taps' halved input, r7 the outputs,
 * r8 the table, r9 kh, r10 mo, r11 so, lr the loop; q4 the offsets d + 0..3 (the last tap's halved input), q5 zo, q6
 * lo, q7 hi. Frame: [sp] q, 4 pixels left, 8 the taps' step to the next pixel, 12 the outputs' (both less the loop's
 * passes). */
static __attribute__((naked, noinline)) void amp_run2_mve(const amp_run *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "vpush   {d8-d15}\n\t"
        "sub     sp, sp, #16\n\t"
        "str     r0, [sp]\n\t"
        "ldr     r1, [r0, #44]\n\t"
        "vdup.32 q5, r1\n\t"
        "ldr     r1, [r0, #48]\n\t"
        "vdup.32 q6, r1\n\t"
        "ldr     r1, [r0, #52]\n\t"
        "vdup.32 q7, r1\n\t"
        "ldr     r2, [r0, #4]\n\t"           /* q4 = d + 0..3 (VIDUP: an even register, written back) */
        "vidup.u32 q4, r2, #1\n\t"
        "ldr     r1, [r0, #12]\n\t"
        "str     r1, [sp, #4]\n\t"
        "ldr     r2, [r0, #16]\n\t"          /* C, and its passes' bytes ((C + 3) & ~3) */
        "add     r3, r2, #3\n\t"
        "bic     r3, r3, #3\n\t"
        "ldr     r1, [r0, #24]\n\t"
        "sub     r1, r1, r3\n\t"
        "str     r1, [sp, #8]\n\t"
        "sub     r1, r2, r3\n\t"
        "str     r1, [sp, #12]\n\t"
        "ldr     r8, [r0, #28]\n\t"
        "ldr     r9, [r0, #32]\n\t"
        "ldr     r10, [r0, #36]\n\t"
        "ldr     r11, [r0, #40]\n\t"
        "ldr     r7, [r0, #8]\n\t"
        "ldr     r5, [r0, #16]\n\t"
        "ldr     r6, [r0, #20]\n\t"
        "ldr     r12, [r0, #4]\n\t"
        "ldr     r0, [r0, #0]\n\t"
        "add     r1, r0, r5\n\t"             /* the taps: f, f + C, f + row, f + row + C */
        "add     r2, r0, r6\n\t"
        "add     r3, r2, r5\n\t"
        "add     r4, r0, r12\n\t"            /* the first three taps' halved input, d bytes on */
        "add     r5, r1, r12\n\t"
        "add     r6, r2, r12\n\t"
        "1:\n\t"                             /* a pixel */
        "ldr     lr, [sp]\n\t"
        "ldr     lr, [lr, #16]\n\t"
        "dlstp.32 lr, lr\n\t"
        "2:\n\t"                             /* four channels */
        AMP_TAP("vldrb.s32 q2, [r4], #4\n\t", "r0", "q1")
        AMP_TAP("vldrb.s32 q2, [r5], #4\n\t", "r1", "q3")
        "vmax.s32 q1, q1, q3\n\t"
        AMP_TAP("vldrb.s32 q2, [r6], #4\n\t", "r2", "q3")
        "vmax.s32 q1, q1, q3\n\t"
        AMP_TAP("vldrb.s32 q2, [r3, q4]\n\t", "r3", "q3")
        "vmax.s32 q1, q1, q3\n\t"
        "vqrdmulh.s32 q1, q1, r10\n\t"       /* tinyasc_addsub4_rq */
        "vshr.s32 q2, q1, #31\n\t"
        "vadd.i32 q1, q1, q2\n\t"
        "vrshl.s32 q1, r11\n\t"
        "vadd.i32 q1, q1, q5\n\t"
        "vmax.s32 q1, q1, q6\n\t"
        "vmin.s32 q1, q1, q7\n\t"
        "vstrb.32 q1, [r7], #4\n\t"
        "letp    lr, 2b\n\t"
        "ldr     lr, [sp, #8]\n\t"           /* the next pixel */
        "add     r0, r0, lr\n\t"
        "add     r1, r1, lr\n\t"
        "add     r2, r2, lr\n\t"
        "add     r3, r3, lr\n\t"
        "add     r4, r4, lr\n\t"
        "add     r5, r5, lr\n\t"
        "add     r6, r6, lr\n\t"
        "ldr     lr, [sp, #12]\n\t"
        "add     r7, r7, lr\n\t"
        "ldr     lr, [sp, #4]\n\t"
        "subs    lr, lr, #1\n\t"
        "str     lr, [sp, #4]\n\t"
        "bne     1b\n\t"
        "add     sp, sp, #16\n\t"
        "vpop    {d8-d15}\n\t"
        "pop     {r4-r11, pc}\n\t");
}
#undef AMP_TAP

/* amp_run2_mve over n >= 1 pixels from the window at xf (k: the ADD's constants, lut1 filled). */
static __attribute__((noinline)) void amp_mve_run2(const addsub4_t *k, const int8_t *xf, int8_t *o, int32_t n,
                                                   int32_t C, int32_t row, int32_t stride)
{
    const amp_run q = {.f = xf, .d = k->xh - k->xf, .o = o, .n = n, .C = C, .row = row, .stride = stride, .t = lut1,
                       .kh = k->kh, .mo = k->mo, .so = k->so, .zo = vgetq_lane_s32(k->zo, 0),
                       .lo = vgetq_lane_s32(k->lo, 0), .hi = vgetq_lane_s32(k->hi, 0)};
    amp_run2_mve(&q);
}

/* Four channels' ADD outputs at i, TFLite's arithmetic lane by lane (tinyasc_mbqm_x4: every multiplier valid). */
static inline __attribute__((always_inline)) int32x4_t amp_ref4(const tinyasc_binary_params *p, const int8_t *in1,
                                                                const int8_t *in2, int32_t i, mve_pred16_t pr)
{
    const int32x4_t s1 = tinyasc_mbqm_x4(vshlq_r_s32(vaddq_s32(vldrbq_z_s32(in1 + i, pr), vdupq_n_s32(p->in1_offset)),
                                                     p->left_shift), p->in1_mult, p->in1_shift);
    const int32x4_t s2 = tinyasc_mbqm_x4(vshlq_r_s32(vaddq_s32(vldrbq_z_s32(in2 + i, pr), vdupq_n_s32(p->in2_offset)),
                                                     p->left_shift), p->in2_mult, p->in2_shift);
    const int32x4_t v = vaddq_s32(tinyasc_mbqm_x4(vaddq_s32(s1, s2), p->out_mult, p->out_shift),
                                  vdupq_n_s32(p->out_offset));
    return vminq_s32(vmaxq_s32(v, vdupq_n_s32(p->act_min)), vdupq_n_s32(p->act_max));
}

/* Helium's call: the ADD's constants (lut1 filled where the runs take it). */
typedef struct {
    amp_call c;
    addsub4_t k;
} amp_mve_call;

static void amp_mve_run_cb(void *ctx, int32_t i0, int32_t o0, int32_t n)
{
    const amp_mve_call *m = ctx;
    const int32_t C = m->c.pp->channels;
    amp_mve_run2(&m->k, m->k.xf + i0, m->c.out + o0, n, C, m->c.pp->in_w * C, m->c.pp->stride_w * C);
}

/* One output pixel four channels per vector: the largest of the window's ADD outputs (amp_ref4), clamped to the
 * pooling's range. */
static void amp_mve_pixel_cb(void *ctx, int32_t b, int32_t oy, int32_t ox)
{
    const amp_mve_call *m = ctx;
    const tinyasc_pool_params *p = m->c.pp;
    const int32_t C = p->channels, row = p->in_w * C;
    const amp_win w = amp_window(p, b, oy, ox);
    int8_t *o = m->c.out + ((b * p->out_h + oy) * p->out_w + ox) * C;
    const int32x4_t plo = vdupq_n_s32(p->act_min), phi = vdupq_n_s32(p->act_max);
    for (int32_t c = 0; c < C; c += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(C - c));
        int32x4_t v = vdupq_n_s32(-128); /* an empty window's value, and max's identity */
        for (int32_t fy = 0; fy < w.nh; fy++)
            for (int32_t fx = 0; fx < w.nw; fx++)
                v = vmaxq_s32(v, amp_ref4(m->c.ap, m->c.in1, m->c.in2, w.i0 + fy * row + fx * C + c, pr));
        vstrbq_p_s32(o + c, vminq_s32(vmaxq_s32(v, plo), phi), pr);
    }
}

/* Every output pixel (precondition: ok(ap, OP_ADD), which the generator checks): where one input is exactly halved and
 * the pooling's range is all of int8, a row's whole 2 x 2 windows through amp_run2_mve; any other pixel lane by
 * lane. */
static __attribute__((noinline)) void amp_mve(const amp_call *c)
{
    const int half = tinyasc_add8_half(c->ap);
    const int runs = half && c->pp->act_min == -128 && c->pp->act_max == 127;
    const amp_mve_call m = {.c = *c, .k = addsub4_consts(c->ap, 0, half == 1, c->in1, c->in2)};
    if (runs) addsub4_fill(&m.k, 0); /* addsub4_tab's table */
    amp_walk(c->pp, runs, amp_mve_run_cb, amp_mve_pixel_cb, (void *)&m);
}
#else
#if ADD8_QUADS_ASM
/* The DSP cores: amp_dbl_run2 (below, the other cores') on the doubled sums with the factor 2^20 (TFLite's int8 ADD:
 * left shift 20) in asm: per channel the four taps' bytes (LDRSB, the other input's post-incremented, the halved
 * input's d bytes on), the table's entry (LDR with LSL #2) plus the halved byte shifted by 20, the maximum as CMP +
 * MOVGT, then add8_run_dbl_dsp's output step (SMMLAR, the sign's SUB for any range, ASR, SSAT, STRB). Compiled from C
 * the loop took 15.4 cycles per input element on the M4's model against the unfused layers' 12.8. */
typedef struct {
    const int8_t *f;     /*  0: the first pixel's window, other input */
    int32_t d;           /*  4: the halved input's distance from the other */
    int8_t *o;           /*  8: the first output */
    int32_t n, C;        /* 12, 16: pixels, channels */
    int32_t row, stride; /* 20, 24: bytes between input rows, between the pixels' windows */
    const int32_t *t;    /* 28: the table at its middle */
    int32_t mo, rnd2, r; /* 32, 36, 40: add8_run_dbl_dsp's output constants */
} amp_run_dsp;
typedef char amp_run_dsp_is_the_asm_layout[(offsetof(amp_run_dsp, d) == 4 && offsetof(amp_run_dsp, o) == 8 &&
                                            offsetof(amp_run_dsp, n) == 12 && offsetof(amp_run_dsp, C) == 16 &&
                                            offsetof(amp_run_dsp, row) == 20 && offsetof(amp_run_dsp, stride) == 24 &&
                                            offsetof(amp_run_dsp, t) == 28 && offsetof(amp_run_dsp, mo) == 32 &&
                                            offsetof(amp_run_dsp, rnd2) == 36 && offsetof(amp_run_dsp, r) == 40)
                                               ? 1 : -1];

/* one tap's sum into R7 from the tap pointer P (post-incremented), then its maximum with r6 (FIRST: the sum is it) */
#define AMP_DSP_TAP(P)                                                                                            \
        "ldrsb  r8, [" P ", r4]\n\t"                                                                              \
        "ldrsb  r7, [" P "], #1\n\t"                                                                              \
        "ldr    r7, [r5, r7, lsl #2]\n\t"                                                                         \
        "add    r7, r7, r8, lsl #20\n\t"                                                                          \
        "cmp    r7, r6\n\t"                                                                                       \
        "it     gt\n\t"                                                                                           \
        "movgt  r6, r7\n\t"
/* Registers: r0-r3 the four taps' pointers (other input), r4 d, r5 the table, r6 the maximum, r7 r8 scratch, r9 mo,
 * r10 rnd2, r11 r, r12 the outputs, lr the channels left. Frame: [sp] q, 4 pixels left, 8 the taps' step to the next
 * pixel (less C). */
#define AMP_DSP_RUN(SIGN)                                                                                         \
        "push   {r4-r11, lr}\n\t"                                                                                 \
        "sub    sp, sp, #16\n\t"                                                                                  \
        "str    r0, [sp]\n\t"                                                                                     \
        "ldr    r1, [r0, #12]\n\t"                                                                                \
        "str    r1, [sp, #4]\n\t"                                                                                 \
        "ldr    r1, [r0, #24]\n\t"                                                                                \
        "ldr    r2, [r0, #16]\n\t"                                                                                \
        "sub    r1, r1, r2\n\t"                                                                                   \
        "str    r1, [sp, #8]\n\t"                                                                                 \
        "ldr    r5, [r0, #28]\n\t"                                                                                \
        "ldr    r4, [r0, #4]\n\t"                                                                                 \
        "ldrd   r9, r10, [r0, #32]\n\t"                                                                           \
        "ldr    r11, [r0, #40]\n\t"                                                                               \
        "ldr    r12, [r0, #8]\n\t"                                                                                \
        "ldr    r6, [r0, #20]\n\t"                                                                                \
        "ldr    r0, [r0, #0]\n\t"                                                                                 \
        "add    r1, r0, r2\n\t"              /* the taps: f, f + C, f + row, f + row + C */                       \
        "add    r3, r6, r2\n\t"                                                                                   \
        "add    r2, r0, r6\n\t"                                                                                   \
        "add    r3, r0, r3\n\t"                                                                                   \
        "1:\n\t"                             /* a pixel */                                                        \
        "ldr    lr, [sp]\n\t"                                                                                     \
        "ldr    lr, [lr, #16]\n\t"                                                                                \
        "2:\n\t"                             /* a channel */                                                      \
        "ldrsb  r8, [r0, r4]\n\t"                                                                                 \
        "ldrsb  r7, [r0], #1\n\t"                                                                                 \
        "ldr    r6, [r5, r7, lsl #2]\n\t"                                                                         \
        "add    r6, r6, r8, lsl #20\n\t"                                                                          \
        AMP_DSP_TAP("r1")                                                                                         \
        AMP_DSP_TAP("r2")                                                                                         \
        AMP_DSP_TAP("r3")                                                                                         \
        "smmlar r7, r6, r9, r10\n\t"                                                                              \
        SIGN                                                                                                      \
        "asr    r7, r7, r11\n\t"                                                                                  \
        "ssat   r7, #8, r7\n\t"                                                                                   \
        "strb   r7, [r12], #1\n\t"                                                                                \
        "subs   lr, lr, #1\n\t"                                                                                   \
        "bne    2b\n\t"                                                                                           \
        "ldr    r7, [sp, #8]\n\t"            /* the next pixel */                                                 \
        "add    r0, r0, r7\n\t"                                                                                   \
        "add    r1, r1, r7\n\t"                                                                                   \
        "add    r2, r2, r7\n\t"                                                                                   \
        "add    r3, r3, r7\n\t"                                                                                   \
        "ldr    r7, [sp, #4]\n\t"                                                                                 \
        "subs   r7, r7, #1\n\t"                                                                                   \
        "str    r7, [sp, #4]\n\t"                                                                                 \
        "bne    1b\n\t"                                                                                           \
        "add    sp, sp, #16\n\t"                                                                                  \
        "pop    {r4-r11, pc}\n\t"
/* ADD_DBL_RELU's form (no sign correction), and ADD_DBL's (the sum's sign bit subtracted) */
static __attribute__((naked, noinline)) void amp_run2_relu_dsp(const amp_run_dsp *q __attribute__((unused)))
{
    __asm__ volatile(AMP_DSP_RUN(""));
}
static __attribute__((naked, noinline)) void amp_run2_dbl_dsp(const amp_run_dsp *q __attribute__((unused)))
{
    __asm__ volatile(AMP_DSP_RUN("sub    r7, r7, r6, lsr #31\n\t"));
}
#undef AMP_DSP_RUN
#undef AMP_DSP_TAP

/* The DSP cores' call: the asm runs' block and the form's instance. */
typedef struct {
    amp_call c;
    amp_run_dsp q;
    void (*run)(const amp_run_dsp *);
    const int8_t *xf; /* the input not halved */
} amp_dsp_call;

static void amp_dsp_run_cb(void *ctx, int32_t i0, int32_t o0, int32_t n)
{
    amp_dsp_call *m = ctx;
    m->q.f = m->xf + i0;
    m->q.o = m->c.out + o0;
    m->q.n = n;
    m->run(&m->q);
}

/* The DSP cores (precondition: the pooling's range all of int8, ok(ap, OP_ADD), one input exactly halved, add8_dbl,
 * left shift 20): add8_halved_table's doubled entries, a row's whole 2 x 2 windows through the asm runs, any other
 * pixel through amp_pixel. */
static __attribute__((noinline)) void amp_dsp(const amp_call *c)
{
    const tinyasc_binary_params *ap = c->ap;
    const tinyasc_pool_params *p = c->pp;
    (void)add8_halved_table(ap, OP_ADD); /* the factor: 2^20 (doubled, left shift 20) */
    const int half1 = tinyasc_add8_half(ap) == 1;
    amp_dsp_call m = {.c = *c,
                      .q = {.d = half1 ? c->in1 - c->in2 : c->in2 - c->in1, .C = p->channels,
                            .row = p->in_w * p->channels, .stride = p->stride_w * p->channels, .t = lut1 + 128,
                            .mo = ap->out_mult},
                      .run = tinyasc_add8_relu_range(ap) ? amp_run2_relu_dsp : amp_run2_dbl_dsp,
                      .xf = half1 ? c->in2 : c->in1};
    add8_out_consts(ap, 1, ADD_DBL, &m.q.rnd2, &m.q.r);
    amp_walk(p, 1, amp_dsp_run_cb, amp_pixel_cb, &m);
}
#else
/* A run of n output pixels whose 2 x 2 windows lie inside the input (pixels stride bytes apart in the input, C channels
 * each): per channel the four sums of add8_halved_run (t: add8_halved_table's entries at their middle, kh its
 * factor), their largest, add8_halved_out in the form add8_halved_run takes. */
static inline __attribute__((always_inline)) void amp_dbl_run2(const int8_t *xf, const int8_t *xh, int8_t *o,
                                                                int32_t n, int32_t C, int32_t row, int32_t stride,
                                                                const int32_t *t, int32_t kh, int32_t mo, int32_t rnd,
                                                                int32_t sh, int32_t zo, int32_t lo, int32_t hi,
                                                                const int form)
{
    const int zpf = form != ADD_FOLDED;
    const int32_t d = xh - xf; /* the halved input at a constant distance from the other */
    for (; n > 0; n--, xf += stride) {
        const int8_t *f = xf;
        for (int32_t c = 0; c < C; c++, f++) {
            int32_t m = t[f[0]] + f[d] * kh, s = t[f[C]] + f[d + C] * kh;
            m = s > m ? s : m;
            s = t[f[row]] + f[d + row] * kh;
            m = s > m ? s : m;
            s = t[f[row + C]] + f[d + row + C] * kh;
            m = s > m ? s : m;
            *o++ = add8_halved_out(m, mo, rnd, sh, zo, lo, hi, zpf, form);
        }
    }
}

/* Other cores (the host's build): amp_dbl_run2 in C for a row's whole 2 x 2 windows, the form chosen per call. */
typedef struct {
    amp_call c;
    const int32_t *t;
    int32_t kh, rnd, sh, form;
    const int8_t *xf, *xh; /* the input not halved, the halved one */
} amp_dbl_call;

static void amp_dbl_run_cb(void *ctx, int32_t i0, int32_t o0, int32_t n)
{
    const amp_dbl_call *m = ctx;
    const tinyasc_binary_params *ap = m->c.ap;
    const tinyasc_pool_params *p = m->c.pp;
    const int32_t C = p->channels;
    amp_dbl_run2(m->xf + i0, m->xh + i0, m->c.out + o0, n, C, p->in_w * C, p->stride_w * C, m->t, m->kh, ap->out_mult,
                 m->rnd, m->sh, ap->out_offset, ap->act_min, ap->act_max, m->form);
}

/* Precondition: the pooling's range all of int8, ok(ap, OP_ADD), one input exactly halved, the output's rescaling
 * folded: add8_halved_run's table and form. */
static __attribute__((noinline)) void amp_dbl(const amp_call *c)
{
    const tinyasc_binary_params *ap = c->ap;
    const int half1 = tinyasc_add8_half(ap) == 1;
    amp_dbl_call m = {.c = *c, .kh = add8_halved_table(ap, OP_ADD), .t = lut1 + 128,
                      .form = !add8_dbl(ap) ? ADD_FOLDED : tinyasc_add8_relu_range(ap) ? ADD_DBL_RELU : ADD_DBL,
                      .xf = half1 ? c->in2 : c->in1, .xh = half1 ? c->in1 : c->in2};
    add8_out_consts(ap, m.form != ADD_FOLDED, m.form, &m.rnd, &m.sh);
    amp_walk(c->pp, 1, amp_dbl_run_cb, amp_pixel_cb, &m);
}
#endif
#endif

void tinyasc_opt_add_max_pool_s8(const tinyasc_binary_params *ap, const tinyasc_pool_params *pp, const int8_t *in1,
                                 const int8_t *in2, int8_t *out)
{
    const amp_call c = {.ap = ap, .pp = pp, .in1 = in1, .in2 = in2, .out = out};
#if defined(__ARM_FEATURE_MVE)
    amp_mve(&c); /* precondition: ok(ap, OP_ADD) */
#else
    /* the fast paths: the pooling's range all of int8 (a fused activation takes amp_general) */
    const int fast = pp->act_min == -128 && pp->act_max == 127 && ok(ap, OP_ADD) && tinyasc_add8_half(ap);
#if ADD8_QUADS_ASM
    if (fast && add8_dbl(ap) && ap->left_shift == 20) {
        amp_dsp(&c);
        return;
    }
#else
    if (fast && tinyasc_rq_folded(ap->out_mult, ap->out_shift)) {
        amp_dbl(&c);
        return;
    }
#endif
    amp_general(&c);
#endif
}
