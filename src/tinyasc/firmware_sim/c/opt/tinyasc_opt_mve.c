/*
 * Helium (MVE) kernels for Cortex-M55. sum w * (x + off) = sum w * x + off * sum w: the
 * gathered window holds raw int8 inputs (the zero point -off for padding, so x + off = 0
 * exactly where the reference skips), VMLADAVA.S8 does 16 MACs per instruction with tail
 * predication for four output channels sharing each input vector, and bias + off * sum(w)
 * is precomputed per output channel once per call.
 */
#include <stddef.h>
#include "tinyasc_opt.h"
#include "tinyasc_opt_pairs_asm.h"

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

int8_t tinyasc_mve_gather[TINYASC_OPT_MAX_K] __attribute__((aligned(16)));
int32_t tinyasc_acc0[TINYASC_OPT_MAX_C];

/* Four scalar accumulators as one vector. */
static inline __attribute__((always_inline)) int32x4_t lanes4(int32_t a0, int32_t a1, int32_t a2, int32_t a3)
{
    int32x4_t v = vdupq_n_s32(a0);
    v = vsetq_lane_s32(a1, v, 1);
    v = vsetq_lane_s32(a2, v, 2);
    return vsetq_lane_s32(a3, v, 3);
}

/* A group's four sums (base added) to int8: the four-lane output path, or where a channel of the group has a shift
 * >= 0 (any: an effective scale of 1/2 or more, as a pruned channel's can be) its form for any shift. */
static inline __attribute__((always_inline)) int32x4_t pw_out(int32x4_t acc, const tinyasc_rq_x4_any *qa, int any)
{
    return any ? tinyasc_rq_x4_any_apply(acc, *qa) : tinyasc_rq_x4_apply(acc, qa->q);
}

/* Whether any of the n channels oc.. has a shift >= 0 (the group then takes the output path for any shift). */
static inline int pw_group_any(const tinyasc_weights *w, int32_t oc, int32_t n)
{
    for (int32_t j = 0; j < n; j++)
        if (w->shift[oc + j] > -1) return 1;
    return 0;
}

/* The output constants of the group of n channels oc.. (lanes off in pr: zeros); the four-lane path's only unless
 * any. */
static inline __attribute__((always_inline)) tinyasc_rq_x4_any pw_consts(const tinyasc_weights *w, int32_t zp,
                                                                         int32_t oc, mve_pred16_t pr, int any)
{
    if (any) return tinyasc_rq_x4_any_consts(w, zp, oc, pr);
    tinyasc_rq_x4_any a;
    a.q = tinyasc_rq_x4_consts(w, zp, oc, pr); /* left and smask unused (never read) */
    return a;
}

/* P (1 or 2) pixels of a pointwise group: four weight rows against each pixel's K inputs, each weight
 * vector loaded once for both pixels; whole 16-byte vectors, then one predicated tail. */
static inline __attribute__((always_inline)) void pw_pixels(const int8_t *src, int32_t K, int32_t kf, mve_pred16_t pt,
                                                            const int8_t *w0, const int8_t *w1, const int8_t *w2,
                                                            const int8_t *w3, int32x4_t base,
                                                            const tinyasc_rq_x4_any *qa, int any, mve_pred16_t pr,
                                                            int8_t *dst, int32_t OC, const int P)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0, k = 0;
    for (; k < kf; k += 16) {
        const int8x16_t x = vldrbq_s8(src + k), y = P > 1 ? vldrbq_s8(src + K + k) : x;
        int8x16_t v = vldrbq_s8(w0 + k);
        a0 = vmladavaq_s8(a0, x, v);
        if (P > 1) b0 = vmladavaq_s8(b0, y, v);
        v = vldrbq_s8(w1 + k);
        a1 = vmladavaq_s8(a1, x, v);
        if (P > 1) b1 = vmladavaq_s8(b1, y, v);
        v = vldrbq_s8(w2 + k);
        a2 = vmladavaq_s8(a2, x, v);
        if (P > 1) b2 = vmladavaq_s8(b2, y, v);
        v = vldrbq_s8(w3 + k);
        a3 = vmladavaq_s8(a3, x, v);
        if (P > 1) b3 = vmladavaq_s8(b3, y, v);
    }
    if (k < K) {
        const int8x16_t x = vldrbq_z_s8(src + k, pt), y = P > 1 ? vldrbq_z_s8(src + K + k, pt) : x;
        int8x16_t v = vldrbq_z_s8(w0 + k, pt);
        a0 = vmladavaq_p_s8(a0, x, v, pt);
        if (P > 1) b0 = vmladavaq_p_s8(b0, y, v, pt);
        v = vldrbq_z_s8(w1 + k, pt);
        a1 = vmladavaq_p_s8(a1, x, v, pt);
        if (P > 1) b1 = vmladavaq_p_s8(b1, y, v, pt);
        v = vldrbq_z_s8(w2 + k, pt);
        a2 = vmladavaq_p_s8(a2, x, v, pt);
        if (P > 1) b2 = vmladavaq_p_s8(b2, y, v, pt);
        v = vldrbq_z_s8(w3 + k, pt);
        a3 = vmladavaq_p_s8(a3, x, v, pt);
        if (P > 1) b3 = vmladavaq_p_s8(b3, y, v, pt);
    }
    vstrbq_p_s32(dst, pw_out(vaddq_s32(base, lanes4(a0, a1, a2, a3)), qa, any), pr);
    if (P > 1) vstrbq_p_s32(dst + OC, pw_out(vaddq_s32(base, lanes4(b0, b1, b2, b3)), qa, any), pr);
}

/* One block of 16 input channels (x) against the four interleaved rows at wb, onto four accumulators. */
static inline __attribute__((always_inline)) void pw_block(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3,
                                                           int8x16_t x, const int8_t *wb)
{
    *a0 = vmladavaq_s8(*a0, x, vldrbq_s8(wb));
    *a1 = vmladavaq_s8(*a1, x, vldrbq_s8(wb + 16));
    *a2 = vmladavaq_s8(*a2, x, vldrbq_s8(wb + 32));
    *a3 = vmladavaq_s8(*a3, x, vldrbq_s8(wb + 48));
}

/* Every pixel of a pointwise group of four output channels against its rows interleaved by 16-byte block in the
 * gather buffer (block b of row r at (4 b + r) 16, rows zero-padded to whole blocks): one pointer walks the weights
 * and the four accumulators are VMLADAVA's even registers. NB whole blocks straight through (0 to 3: K < 64, the
 * usual pointwise width here) or, NB < 0, a loop of nb; then, where K is not a multiple of 16, the inputs' last
 * block as a predicated load (nothing read past the pixel; the zero weights past K make its lanes irrelevant).
 * pw_run_wb: a function of its own (no other value of the layer live) so that nothing spills. */
static inline __attribute__((always_inline)) void pw_run_nb(const int8_t *src, int8_t *dst, int32_t pixels,
                                                            int32_t K, int32_t OC, const int8_t *wb0,
                                                            const int32_t *base_p,
                                                            const tinyasc_rq_x4_any *qp, int any, mve_pred16_t pr,
                                                            const int NB)
{
    const int32_t nb = K >> 4, tail = K & 15;
    const mve_pred16_t pt = vctp8q((uint32_t)tail);
    const int32x4_t base = vldrwq_s32(base_p);
    const tinyasc_rq_x4 q4 = qp->q;
    for (int32_t i = 0; i < pixels; i++, src += K, dst += OC) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *x = src, *wb = wb0;
        if (NB >= 0) {
            for (int b = 0; b < NB; b++) pw_block(&a0, &a1, &a2, &a3, vldrbq_s8(x + 16 * b), wb + 64 * b);
            x += 16 * NB;
            wb += 64 * NB;
        } else {
            for (int32_t n = nb; n > 0; n--, x += 16, wb += 64) {
                __asm__("" : "+r"(wb)); /* opaque: one weight pointer with immediate offsets */
                pw_block(&a0, &a1, &a2, &a3, vldrbq_s8(x), wb);
            }
        }
        if (tail) pw_block(&a0, &a1, &a2, &a3, vldrbq_z_s8(x, pt), wb);
        const int32x4_t acc = vaddq_s32(base, lanes4(a0, a1, a2, a3));
        vstrbq_p_s32(dst, any ? tinyasc_rq_x4_any_apply(acc, *qp) : tinyasc_rq_x4_apply(acc, q4), pr);
    }
}

static __attribute__((noinline)) void pw_run_wb(const int8_t *src, int8_t *dst, int32_t pixels, int32_t K, int32_t OC,
                                                const int8_t *wb, const int32_t *base_p,
                                                const tinyasc_rq_x4_any *qp, int any, mve_pred16_t pr)
{
    switch (K >> 4) {
    case 0: pw_run_nb(src, dst, pixels, K, OC, wb, base_p, qp, any, pr, 0); break;
    case 1: pw_run_nb(src, dst, pixels, K, OC, wb, base_p, qp, any, pr, 1); break;
    case 2: pw_run_nb(src, dst, pixels, K, OC, wb, base_p, qp, any, pr, 2); break;
    case 3: pw_run_nb(src, dst, pixels, K, OC, wb, base_p, qp, any, pr, 3); break;
    default: pw_run_nb(src, dst, pixels, K, OC, wb, base_p, qp, any, pr, -1); break;
    }
}

/* The pairs kernels one block a step (tinyasc_opt_pairs_asm.h; three a step: tinyasc_opt_pairs3.c). */
static __attribute__((naked, noinline)) void pw_pairs_mve(pw_pair *q __attribute__((unused))) /* q arrives in r0 */
{
    __asm__ volatile(PW_PAIRS(PW_OUTS_FAST, PW_STORE_FAST));
}

/* pw_pairs_mve with the output path for any shift (a group with a channel whose shift is >= 0) */
static __attribute__((naked, noinline)) void pw_pairs_any_mve(pw_pair *q __attribute__((unused)))
{
    __asm__ volatile(PW_PAIRS(PW_OUTS_ANY, PW_STORE_ANY));
}

static __attribute__((naked, noinline)) void pw_pairs_rows_mve(pw_prow *q __attribute__((unused)))
{
    __asm__ volatile(PW_PAIRS_ROWS(PW_OUTS_FAST, PW_STORE_FAST, PW_ROWS_INPLACE_OP("vmladav"),
                                   PW_ROWS_INPLACE_OP("vmladava")));
}

static __attribute__((naked, noinline)) void pw_pairs_rows_any_mve(pw_prow *q __attribute__((unused)))
{
    __asm__ volatile(PW_PAIRS_ROWS(PW_OUTS_ANY, PW_STORE_ANY, PW_ROWS_INPLACE_OP("vmladav"),
                                   PW_ROWS_INPLACE_OP("vmladava")));
}

static __attribute__((naked, noinline)) void pw_pairs_win_mve(pw_pwin *q __attribute__((unused)))
{
    __asm__ volatile(PW_PAIRS_WIN(PW_OUTS_FAST, PW_BLOCK_OP("vmladav"), PW_BLOCK_OP("vmladava")));
}

/* A pointwise group's rows (n of them; the others repeat the last) interleaved by 16-byte block into wb, kp bytes per
 * row (K rounded up to 16, zeros past K). */
static void pw_interleave(const int8_t *w0, int32_t K, int32_t n, int32_t kp, int8_t *wb)
{
    for (int32_t k = 0; k < kp; k += 16, wb += 64) {
        const mve_pred16_t pk = vctp8q((uint32_t)(K - k)); /* lanes past K load as 0 */
        for (int32_t r = 0; r < 4; r++)
            vstrbq_s8(wb + 16 * r, vldrbq_z_s8(w0 + (r < n ? r : n - 1) * K + k, pk));
    }
}

/* A group's constants for the pairs kernels (their field c): base sums, m, -r, the zero point, then left and smask
 * (the output path for any shift) or the output offsets of the four-lane path's store (words 16-19). */
static int32_t pw_consts_buf[24] __attribute__((aligned(16)));

/* The four-lane path's store of a pair of a group of n channels (TINYASC_ASM_NARROW_PAIR's lanes: the first pixel's
 * four in the even halves, the second's in the odd) with the second's outputs d bytes after the first's: offsets j
 * and d + j of channel j, the lanes past n at the last channel's (d + 3 < 2^16: pw_pair_fits). */
static __attribute__((noinline)) void pw_consts_offsets(int32_t d, int32_t n)
{
    const uint16x8_t lane = vidupq_n_u16(0u, 1);                                              /* 0 .. 7 */
    const uint16x8_t chan = vminq_u16(vshrq_n_u16(lane, 1), vdupq_n_u16((uint16_t)(n - 1))); /* 0 0 1 1 .. */
    const uint16x8_t second = vandq_u16(lane, vdupq_n_u16(1));                               /* 0 1 0 1 .. */
    vst1q_u16((uint16_t *)(void *)(pw_consts_buf + 16), vmlaq_n_u16(chan, second, (uint16_t)d));
}

/* The lanes past a group's n channels repeating its last channel's base sum, m and -r (the four-lane path stores every
 * lane: they write that channel's output again), and the pair's output offsets (pw_consts_offsets). */
static __attribute__((noinline)) void pw_consts_last(int32_t n, int32_t d)
{
    int32_t *const c = pw_consts_buf;
    for (int32_t j = n; j < 4; j++) c[j] = c[n - 1], c[4 + j] = c[3 + n], c[8 + j] = c[7 + n];
    pw_consts_offsets(d, n);
}

/* Whether the pairs kernels' store takes a pair whose second outputs lie d bytes after the first's (pixel pairs OC
 * apart always do: TINYASC_OPT_MAX_C below). */
static inline int pw_pair_fits(int32_t d)
{
    return d + 3 <= 65535;
}
typedef char pw_pair_of_pixels_fits[TINYASC_OPT_MAX_C + 3 <= 65535 ? 1 : -1];

/* The constants of the group of n channels oc.. into pw_consts_buf: left and smask for the form for any shift (its
 * stores predicated), else the lanes past n and the output offsets of a pair d bytes apart (pw_consts_last). */
static inline __attribute__((always_inline)) const int32_t *pw_consts_store(int32_t oc, const tinyasc_rq_x4_any *qa,
                                                                           int any, int32_t n, int32_t d)
{
    int32_t *const c = pw_consts_buf;
    vstrwq_s32(c, vldrwq_s32(tinyasc_acc0 + oc));
    vstrwq_s32(c + 4, qa->q.m);
    vstrwq_s32(c + 8, qa->q.neg_r);
    vstrwq_s32(c + 12, qa->q.zp);
    if (any) {
        vstrwq_s32(c + 16, qa->left);
        vstrwq_s32(c + 20, qa->smask);
    } else {
        pw_consts_last(n, d);
    }
    return c;
}

/* Every pixel (K contiguous inputs each) of a group of n output channels oc.. whose rows are interleaved at wb: pairs
 * of pixels through pw_pairs_mve, an odd last one through pw_run_wb. */
static inline __attribute__((always_inline)) void pw_group(const int8_t *src, int8_t *dst, int32_t pixels, int32_t K,
                                                           int32_t OC, int32_t oc, int32_t n, const int8_t *wb,
                                                           const tinyasc_rq_x4_any *qa, int any, mve_pred16_t pr)
{
    const int32_t pairs = pixels / 2;
    if (pairs > 0) {
        pw_pair pp = {.src = src, .dst = dst, .pairs = pairs, .K = K, .OC = OC, .nb = K >> 4, .tail = K & 15,
                      .n = n, .wb = wb, .c = pw_consts_store(oc, qa, any, n, OC)};
        if (any)
            pw_pairs_any_mve(&pp);
        else
            pw_pairs_mve(&pp);
    }
    if (pixels & 1)
        pw_run_wb(src + (pixels - 1) * K, dst + (pixels - 1) * OC, 1, K, OC, wb, tinyasc_acc0 + oc, qa, any, pr);
}

/* Every pixel (K contiguous inputs each) of a group of n output channels oc.. whose rows are read in place (w0, K bytes
 * apart): two pixels per pass (pw_pixels; rows past the last channel point at the first: computed, never stored). */
static inline __attribute__((always_inline)) void pw_group_rows(const int8_t *src, int8_t *dst, int32_t pixels,
                                                                int32_t K, int32_t OC, int32_t oc, int32_t n,
                                                                const int8_t *w0, const tinyasc_rq_x4_any *qa, int any,
                                                                mve_pred16_t pr)
{
    const int8_t *w1 = n > 1 ? w0 + K : w0, *w2 = n > 2 ? w0 + 2 * K : w0, *w3 = n > 3 ? w0 + 3 * K : w0;
    const int32x4_t base = vldrwq_z_s32(tinyasc_acc0 + oc, pr);
    const int32_t kf = K & ~15;
    const mve_pred16_t pt = vctp8q((uint32_t)(K - kf));
    int32_t i = 0;
    for (; i + 1 < pixels; i += 2, src += 2 * K, dst += 2 * OC)
        pw_pixels(src, K, kf, pt, w0, w1, w2, w3, base, qa, any, pr, dst, OC, 2);
    if (i < pixels) pw_pixels(src, K, kf, pt, w0, w1, w2, w3, base, qa, any, pr, dst, OC, 1);
}

/* Pointwise (1x1, stride 1, no padding) over all of int8: four output channels at a time over every pixel, their
 * constants and base sums held across the pixels; the group's rows interleaved in the gather buffer where they fit
 * (pw_group: pairs of pixels in asm, an odd last one through pw_run_wb), else read in place two pixels per pass
 * (pw_pixels). Outputs on the four-lane path (fast: the whole layer, tinyasc_out_x4_ok), else group by group: a group
 * with a shift >= 0 (an effective scale of 1/2 or more) takes the path for any shift. */
static void pointwise_fast(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output, int fast)
{
    const int32_t K = p->in_c, OC = p->out_c;
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t kp = (K + 15) & ~15;
    const int interleave = 4 * kp <= (int32_t)sizeof(tinyasc_mve_gather);
    for (int32_t oc = 0; oc < OC; oc += 4) {
        const int32_t n = OC - oc < 4 ? OC - oc : 4;
        const mve_pred16_t pr = vctp32q((uint32_t)n);
        const int any = !fast && pw_group_any(w, oc, n);
        const tinyasc_rq_x4_any q = pw_consts(w, p->output_offset, oc, pr, any);
        const int8_t *w0 = w->data + oc * K;
        if (interleave) { /* base sums from tinyasc_acc0 (lanes past out_c: computed, never stored) */
            pw_interleave(w0, K, n, kp, tinyasc_mve_gather);
            pw_group(input, output + oc, pixels, K, OC, oc, n, tinyasc_mve_gather, &q, any, pr);
            continue;
        }
        pw_group_rows(input, output + oc, pixels, K, OC, oc, n, w0, &q, any, pr);
    }
}

/* Each output channel's constant bias + off * sum of its weights into tinyasc_acc0 (a window's taps that fall outside the
 * input then read the zero point and add exactly nothing). */
static void conv_base(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t K)
{
    const int32_t kf = K & ~15;
    const mve_pred16_t pk = vctp8q((uint32_t)(K - kf));
    for (int32_t oc = 0; oc < p->out_c; oc++) {
        const int8_t *wp = w->data + oc * K;
        int32_t s = 0;
        for (int32_t k = 0; k < kf; k += 16) s = vaddvaq_s8(s, vldrbq_s8(wp + k)); /* whole blocks, then the rest */
        if (kf < K) s = vaddvaq_p_s8(s, vldrbq_z_s8(wp + kf, pk), pk);
        tinyasc_acc0[oc] = (w->bias ? w->bias[oc] : 0) + s * p->input_offset;
    }
}

/* n bytes (a window row) from src to dst, sixteen per predicated vector. */
static inline __attribute__((always_inline)) void cols_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (int32_t k = 0; k < n; k += 16) {
        const mve_pred16_t pk = vctp8q((uint32_t)(n - k));
        vstrbq_p_s8(dst + k, vldrbq_z_s8(src + k, pk), pk);
    }
}

/* n bytes of the zero point zp to dst, sixteen per predicated vector. */
static __attribute__((noinline)) void cols_fill(int8_t *dst, int32_t n, int8_t zp)
{
    const int8x16_t zpv = vdupq_n_s8(zp);
    for (int32_t k = 0; k < n; k += 16) vstrbq_p_s8(dst + k, zpv, vctp8q((uint32_t)(n - k)));
}

/* The taps [*lo, *hi) of a window row starting at column x0 (dilation 1 along x) that lie inside the input: one run of
 * bytes; none where hi <= lo (tinyasc_tap_range at dilation 1 without its divisions and clamps: ten instructions
 * fewer per window in cols_window_blocks, measured). */
static inline __attribute__((always_inline)) void cols_inside(const tinyasc_conv_params *p, int32_t x0, int32_t *lo,
                                                              int32_t *hi)
{
    *lo = x0 < 0 ? -x0 : 0;
    *hi = x0 + p->k_w > p->in_w ? p->in_w - x0 : p->k_w;
}

/* cols_inside for a window row that is copied as one run: an empty run (hi <= lo: a window wholly past an edge) made
 * [0, 0), so that the fills before and after it cover the row once. */
static inline __attribute__((always_inline)) void cols_inside_run(const tinyasc_conv_params *p, int32_t x0,
                                                                  int32_t *lo, int32_t *hi)
{
    cols_inside(p, x0, lo, hi);
    if (*hi <= *lo) *lo = *hi = 0;
}

/* The tap rows of a window outside the input, [0, ky0) above and [ky1, k_h) below (wrow bytes each), to the zero
 * point zp at g. */
static inline __attribute__((always_inline)) void cols_fill_outside(int8_t *g, int32_t ky0, int32_t ky1, int32_t k_h,
                                                                    int32_t wrow, int8_t zp)
{
    if (ky0 > 0) cols_fill(g, ky0 * wrow, zp);
    if (ky1 < k_h) cols_fill(g + ky1 * wrow, (k_h - ky1) * wrow, zp);
}

/* An im2col window row that reaches past the input's left or right edge (rowp: its input row, x0 its first tap's
 * column): the zero point outside, the taps inside copied (with dilation 1 along x one run of bytes). */
static __attribute__((noinline)) void cols_row_edge(const tinyasc_conv_params *p, const int8_t *rowp, int32_t x0,
                                                    int8_t *g)
{
    const int32_t C = p->in_c;
    const int8_t zp = (int8_t)(-p->input_offset);
    if (p->dil_w != 1) {
        for (int32_t kx = 0; kx < p->k_w; kx++) {
            const int32_t x = x0 + kx * p->dil_w;
            if (x >= 0 && x < p->in_w)
                cols_copy(g + kx * C, rowp + x * C, C);
            else
                cols_fill(g + kx * C, C, zp);
        }
        return;
    }
    int32_t lo, hi;
    cols_inside_run(p, x0, &lo, &hi);
    cols_fill(g, lo * C, zp);
    cols_copy(g + lo * C, rowp + (x0 + lo) * C, (hi - lo) * C);
    cols_fill(g + hi * C, (p->k_w - hi) * C, zp);
}

/* n bytes (taps of a window, whole 16-byte blocks) from src, or the zero point zp where src is NULL, to blocks step
 * bytes apart from dst (16: one window's contiguous bytes; 32: a pair's interleaved blocks). */
static inline __attribute__((always_inline)) void cols_blocks(int8_t *dst, const int8_t *src, int32_t n, int32_t step,
                                                              int8x16_t zp)
{
    for (int32_t k = 0; k < n; k += 16, dst += step) vstrbq_s8(dst, src ? vldrbq_s8(src + k) : zp);
}

/* The window of output pixel i (channels a multiple of 16) to dst, its 16-byte blocks step bytes apart. */
static void cols_window_blocks(const tinyasc_conv_params *p, const int8_t *in, int32_t i, int8_t *dst, int32_t step)
{
    const int32_t C = p->in_c, row = p->in_w * C, wrow = p->k_w * C;
    const int32_t oy = i / p->out_w, ox = i - oy * p->out_w;
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    int32_t lo, hi; /* dilation 1 along x: the taps inside the input, [lo, hi), are one run of bytes */
    cols_inside(p, x0, &lo, &hi);
    const int8x16_t zp = vdupq_n_s8((int8_t)(-p->input_offset));
    const int32_t cstep = C / 16 * step;
    for (int32_t ky = 0; ky < p->k_h; ky++, dst += wrow / 16 * step) {
        const int32_t y = y0 + ky * p->dil_h;
        if (y < 0 || y >= p->in_h || (p->dil_w == 1 && hi <= lo)) {
            cols_blocks(dst, NULL, wrow, step, zp);
        } else if (p->dil_w == 1) {
            if (lo > 0) cols_blocks(dst, NULL, lo * C, step, zp);
            cols_blocks(dst + lo * cstep, in + y * row + (x0 + lo) * C, (hi - lo) * C, step, zp);
            if (hi < p->k_w) cols_blocks(dst + hi * cstep, NULL, (p->k_w - hi) * C, step, zp);
        } else {
            for (int32_t kx = 0; kx < p->k_w; kx++) {
                const int32_t x = x0 + kx * p->dil_w;
                cols_blocks(dst + kx * C / 16 * step, x >= 0 && x < p->in_w ? in + y * row + x * C : NULL, C, step,
                            zp);
            }
        }
    }
}

/* Every group of four output channels over the n_pix windows (K bytes, K a multiple of 16) gathered at cols in pairs
 * interleaved by block (a last odd one contiguous): pw_pairs_rows_mve (the group's rows read in place), the odd window
 * through pw_pixels; outputs from out, OC apart. The channels' constants in tinyasc_acc0. */
static void rows_groups(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *cols, int32_t n_pix,
                        int32_t K, int8_t *out, int fast)
{
    const int32_t OC = p->out_c, pairs = n_pix / 2;
    for (int32_t oc = 0; oc < OC; oc += 4) {
        const int32_t n = OC - oc < 4 ? OC - oc : 4;
        const mve_pred16_t pr = vctp32q((uint32_t)n);
        const int any = !fast && pw_group_any(w, oc, n);
        const tinyasc_rq_x4_any q = pw_consts(w, p->output_offset, oc, pr, any);
        const int8_t *w0 = w->data + oc * K;
        const int8_t *const last = w0 + (n - 1) * K; /* rows past n repeat the last (pw_consts_store) */
        const int8_t *w1 = n > 1 ? w0 + K : last, *w2 = n > 2 ? w0 + 2 * K : last, *w3 = n > 3 ? w0 + 3 * K : last;
        if (pairs > 0) {
            pw_prow pp = {.pp = {.src = cols, .dst = out + oc, .pairs = pairs, .K = K, .OC = OC, .nb = K >> 4,
                                 .tail = 0, .n = n, .wb = w0, .c = pw_consts_store(oc, &q, any, n, OC)},
                          .w1 = w1, .w2 = w2, .w3 = w3};
            if (any) {
                pw_pairs_rows_any_mve(&pp);
            } else if (!tinyasc_pairs3_s8 || tinyasc_pairs3_s8(TINYASC_PAIRS3_ROWS, &pp) != 0) {
                pw_pairs_rows_mve(&pp);
            }
        }
        if (n_pix & 1)
            pw_pixels(cols + pairs * 2 * K, K, K, vctp8q(0), w0, w1, w2, w3, vldrwq_z_s32(tinyasc_acc0 + oc, pr), &q,
                      any, pr, out + (n_pix - 1) * OC + oc, OC, 1);
    }
}

/* Where window (or pixel) i of n_pix goes among pairs interleaved by block, and its blocks' step. */
static inline int8_t *rows_slot(int8_t *cols, int32_t i, int32_t n_pix, int32_t K, int32_t *step)
{
    const int lone = i == n_pix - 1 && (n_pix & 1);
    *step = lone ? 16 : 32;
    return cols + (i / 2) * 2 * K + (lone ? 0 : (i & 1) * 16);
}

/* cols_conv on channels a multiple of 16: the windows of a chunk gathered in pairs interleaved by block filling the
 * whole gather buffer, then rows_groups (no copy of the weight rows per chunk). */
static __attribute__((noinline)) void cols_conv_rows(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                     const int8_t *input, int8_t *output, int fast)
{
    const int32_t C = p->in_c, K = p->k_h * p->k_w * C, OC = p->out_c, npix = p->out_h * p->out_w;
    const int32_t chunk = ((int32_t)sizeof(tinyasc_mve_gather) / K) & ~1; /* whole pairs */
    conv_base(p, w, K);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        for (int32_t i0 = 0; i0 < npix; i0 += chunk) {
            const int32_t n_pix = npix - i0 < chunk ? npix - i0 : chunk;
            for (int32_t i = 0; i < n_pix; i++) {
                int32_t step;
                int8_t *dst = rows_slot(tinyasc_mve_gather, i, n_pix, K, &step);
                cols_window_blocks(p, in, i0 + i, dst, step);
            }
            rows_groups(p, w, tinyasc_mve_gather, n_pix, K, output + (b * npix + i0) * OC, fast);
        }
    }
}

/* The output pixels whose windows lie wholly inside the input: rows [y0, y1) x columns [x0, x1) (empty: y1 == y0). */
typedef struct {
    int32_t y0, y1, x0, x1;
} win_box;

/* Along one axis: the first output index o whose first tap o s - pad is inside the input and the end of those whose
 * last tap o s - pad + reach is, both within [0, out]. */
static inline void win_range(int32_t n, int32_t out, int32_t s, int32_t pad, int32_t reach, int32_t *lo, int32_t *hi)
{
    const int32_t top = n - 1 - reach + pad; /* o s <= top */
    int32_t a = pad > 0 ? (pad + s - 1) / s : 0, b = top < 0 ? 0 : top / s + 1;
    if (a > out) a = out;
    if (b < a) b = a;
    *lo = a;
    *hi = b < out ? b : out;
}

static win_box interior_box(const tinyasc_conv_params *p)
{
    win_box r;
    win_range(p->in_h, p->out_h, p->stride_h, p->pad_h, (p->k_h - 1) * p->dil_h, &r.y0, &r.y1);
    win_range(p->in_w, p->out_w, p->stride_w, p->pad_w, (p->k_w - 1) * p->dil_w, &r.x0, &r.x1);
    if (r.x1 == r.x0) r.y1 = r.y0;
    return r;
}

/* Whether win_groups takes the layer's interior: window rows contiguous (dil_w 1, C a multiple of 16), the gather
 * buffer holding a group's four interleaved rows plus one window, and cols_border's chunks four windows, their
 * outputs and indices at least. */
static inline int win_ok(const tinyasc_conv_params *p, int32_t K)
{
    return p->dil_w == 1 && p->in_c % 16 == 0 && 5 * K <= (int32_t)sizeof(tinyasc_mve_gather) &&
           4 * (K + p->out_c + 4) <= (int32_t)sizeof(tinyasc_mve_gather);
}

/* One call of pw_pairs_win_mve over `pairs` pairs of windows from src (outputs from dst): the second window of a pair
 * `second` input bytes and `osecond` output bytes after the first (pw_pair_fits; the group's constants c hold the
 * offsets of osecond: pw_consts_offsets), the next pair `istep` and `ostep` further. */
static inline __attribute__((always_inline)) void win_call(const tinyasc_conv_params *p, const int8_t *src,
                                                           int8_t *dst, int32_t pairs, int32_t second,
                                                           int32_t osecond, int32_t istep, int32_t ostep, int32_t n,
                                                           const int8_t *wb, const int32_t *c)
{
    const int32_t wrow = p->k_w * p->in_c;
    pw_pwin pp = {.pp = {.src = src, .dst = dst, .pairs = pairs, .K = second, .OC = osecond, .nb = wrow >> 4,
                         .tail = p->k_h, .n = n, .wb = wb, .c = c},
                  .jump = p->dil_h * p->in_w * p->in_c - wrow, .istep = istep, .ostep = ostep};
    if (!tinyasc_pairs3_s8 || tinyasc_pairs3_s8(TINYASC_PAIRS3_WIN, &pp) != 0) pw_pairs_win_mve(&pp);
}

/* The windows of the interior (box) of one batch read in place, group by group of four output channels (a layer on the
 * four-lane output path): the group's rows interleaved into the gather buffer, then pairs of windows one output row
 * apart (a call per two rows of the box, where an output row's bytes fit the store's offsets), a row left over in
 * pairs along the row, and its odd last window (copied after the rows unless one row long) through pw_run_wb. The
 * channels' constants in tinyasc_acc0. */
static __attribute__((noinline)) void win_groups(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                 const int8_t *in, int8_t *out, win_box box)
{
    const int32_t C = p->in_c, K = p->k_h * p->k_w * C, OC = p->out_c, row = p->in_w * C, wrow = p->k_w * C;
    const int32_t n_x = box.x1 - box.x0, sx = p->stride_w * C, sy = p->stride_h * row, oy_step = p->out_w * OC;
    int8_t *const wb = tinyasc_mve_gather, *const odd = tinyasc_mve_gather + 4 * K;
    for (int32_t oc = 0; oc < OC; oc += 4) {
        const int32_t n = OC - oc < 4 ? OC - oc : 4;
        const mve_pred16_t pr = vctp32q((uint32_t)n);
        const tinyasc_rq_x4_any q = pw_consts(w, p->output_offset, oc, pr, 0);
        pw_interleave(w->data + oc * K, K, n, K, wb);
        const int rows2 = pw_pair_fits(oy_step); /* pairs one output row apart first, then pairs along a row */
        const int32_t *c = pw_consts_store(oc, &q, 0, n, rows2 ? oy_step : OC);
        const int8_t *src = in + (box.y0 * p->stride_h - p->pad_h) * row + (box.x0 * p->stride_w - p->pad_w) * C;
        int8_t *dst = out + (box.y0 * p->out_w + box.x0) * OC + oc;
        int32_t oy = box.y0;
        if (rows2) {
            for (; oy + 1 < box.y1; oy += 2, src += 2 * sy, dst += 2 * oy_step)
                win_call(p, src, dst, n_x, sy, oy_step, sx, OC, n, wb, c);
            if (oy < box.y1) pw_consts_offsets(OC, n);
        }
        for (; oy < box.y1; oy++, src += sy, dst += oy_step) {
            if (n_x > 1) win_call(p, src, dst, n_x / 2, sx, OC, 2 * sx, 2 * OC, n, wb, c);
            if (n_x & 1) {
                const int8_t *x = src + (n_x - 1) * sx;
                if (p->k_h > 1) {
                    for (int32_t ky = 0; ky < p->k_h; ky++) cols_copy(odd + ky * wrow, x + ky * p->dil_h * row, wrow);
                    x = odd;
                }
                pw_run_wb(x, dst + (n_x - 1) * OC, 1, K, OC, wb, tinyasc_acc0 + oc, &q, 0, pr);
            }
        }
    }
}

/* The first pixel at or after i (of one batch) outside the box, npix where none is. */
static inline int32_t border_next(int32_t i, int32_t npix, int32_t W, win_box box)
{
    for (; i < npix; i++) {
        const int32_t oy = i / W, ox = i - oy * W;
        if (oy < box.y0 || oy >= box.y1 || ox < box.x0 || ox >= box.x1) return i;
        i = oy * W + box.x1 - 1; /* past the box's row */
    }
    return npix;
}

/* The windows outside the box of one batch (those reaching past the input), chunk by chunk: the chunk's pixel indices
 * listed at the gather buffer's start, their windows gathered after them in pairs interleaved by block, rows_groups
 * into the buffer after those, then each pixel's outputs to its place. */
static __attribute__((noinline)) void cols_border(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                  const int8_t *in, int8_t *out, win_box box, int32_t K, int fast)
{
    const int32_t OC = p->out_c, W = p->out_w, npix = p->out_h * W;
    const int32_t chunk = ((int32_t)sizeof(tinyasc_mve_gather) / (K + OC + 4)) & ~3; /* whole pairs, cols aligned */
    int32_t *const idx = (int32_t *)(void *)tinyasc_mve_gather;
    int8_t *const cols = tinyasc_mve_gather + 4 * chunk, *const res = cols + chunk * K;
    for (int32_t i = border_next(0, npix, W, box); i < npix;) {
        int32_t n_pix = 0;
        for (; i < npix && n_pix < chunk; i = border_next(i + 1, npix, W, box)) idx[n_pix++] = i;
        for (int32_t s = 0; s < n_pix; s++) {
            int32_t step;
            int8_t *dst = rows_slot(cols, s, n_pix, K, &step);
            cols_window_blocks(p, in, idx[s], dst, step);
        }
        rows_groups(p, w, cols, n_pix, K, res, fast);
        for (int32_t s = 0; s < n_pix; s++) cols_copy(out + idx[s] * OC, res + s * OC, OC);
    }
}

/* A pointwise layer in place (1x1, stride 1, no padding, over all of int8, in_c a multiple of 16): a chunk of pixels'
 * inputs copied into the gather buffer in pairs interleaved by block, then rows_groups writes their outputs in place,
 * chunks front to back when out_c <= in_c and back to front otherwise (the outputs then overwrite only inputs already
 * read), the contract of tinyasc_opt_conv2d_1x1_inplace_s8; -1 where the layer is not such a layer (or its weights
 * are sparse). */
int tinyasc_simd_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data)
{
    if (w->sparse || p->filter_in_c != p->in_c || p->in_c % 16 != 0 ||
        2 * p->in_c > (int32_t)sizeof(tinyasc_mve_gather) || p->out_c > TINYASC_OPT_MAX_C || !tinyasc_full_range(p))
        return -1;
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const int32_t K = p->in_c, OC = p->out_c;
    const int fast = tinyasc_out_x4_ok(p, w), forward = OC <= K;
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t chunk = ((int32_t)sizeof(tinyasc_mve_gather) / K) & ~1;
    const int8x16_t unused = vdupq_n_s8(0);
    conv_base(p, w, K);
    for (int32_t done = 0; done < pixels;) {
        const int32_t n = pixels - done < chunk ? pixels - done : chunk;
        const int32_t start = forward ? done : pixels - done - n;
        for (int32_t i = 0; i < n; i++) {
            int32_t step;
            cols_blocks(rows_slot(tinyasc_mve_gather, i, n, K, &step), data + (start + i) * K, K, step, unused);
        }
        rows_groups(p, w, tinyasc_mve_gather, n, K, data + start * OC, fast);
        done += n;
    }
    return 0;
}

/* The taps inside the input of n_pix windows along an output row, each of rows window rows of wrow <= 16 bytes: the
 * rows src_step bytes apart in the input and one after another at dst, the next window pix_step input bytes and
 * dst_step bytes further. One predicated copy a row, the predicate set once (VPST's block holds the load and the
 * store); the pixels in one asm loop. */
typedef struct {
    int32_t rows, wrow, src_step, pix_step, dst_step;
} cols_short;
static __attribute__((noinline)) void cols_short_windows(int8_t *dst, const int8_t *src, int32_t n_pix,
                                                         const cols_short *sh)
{
    const int32_t gap = sh->dst_step - sh->rows * sh->wrow, back = sh->rows * sh->src_step - sh->pix_step;
    int32_t r;
    __asm__ volatile("vmsr    p0, %[pr]\n\t"
                     "1:\n\t"
                     "mov     %[r], %[rows]\n\t"
                     "2:\n\t"
                     "vpstt\n\t"
                     "vldrbt.u8 q0, [%[src]]\n\t"
                     "vstrbt.8 q0, [%[dst]]\n\t"
                     "add     %[src], %[src], %[step]\n\t"
                     "add     %[dst], %[dst], %[wrow]\n\t"
                     "subs    %[r], %[r], #1\n\t"
                     "bne     2b\n\t"
                     "sub     %[src], %[src], %[back]\n\t"
                     "add     %[dst], %[dst], %[gap]\n\t"
                     "subs    %[n], %[n], #1\n\t"
                     "bne     1b\n\t"
                     : [src] "+r"(src), [dst] "+r"(dst), [n] "+r"(n_pix), [r] "=&r"(r)
                     : [pr] "r"((uint32_t)vctp8q((uint32_t)sh->wrow)), [rows] "r"(sh->rows), [step] "r"(sh->src_step),
                       [wrow] "r"(sh->wrow), [back] "r"(back), [gap] "r"(gap)
                     : "q0", "memory", "cc");
}

/* The rows rows of one window crossing the input's left or right edge, window rows of wrow <= 16 bytes (dilation 1
 * along x) from src (the window's first row at its first tap's column, outside the input where the window starts left
 * of it: only its lanes [lo, hi), the bytes inside the input, are read) src_step bytes apart, to dst one after another:
 * a predicated load of the inside, the zero point selected into the other lanes, one predicated store a row. */
static __attribute__((noinline)) void cols_short_edge(int8_t *dst, uintptr_t src, int32_t lo, int32_t hi, int8_t zp,
                                                      const cols_short *sh)
{
    const mve_pred16_t inside = vctp8q((uint32_t)hi) ^ vctp8q((uint32_t)lo), all = vctp8q((uint32_t)sh->wrow);
    const int8x16_t z = vdupq_n_s8(zp);
    for (int32_t r = 0; r < sh->rows; r++, src += (uintptr_t)sh->src_step, dst += sh->wrow)
        vstrbq_p_s8(dst, vpselq_s8(vldrbq_z_s8((const int8_t *)src, inside), z, inside), all);
}

/* The windows of the n_pix output pixels from i (k_h k_w C bytes each, one after another) to g: per output row its
 * taps' rows inside the input found once, the rows above and below it the zero point; where a window row is 16 bytes
 * or fewer (dilation 1 along x) the row's run of windows inside the input along x in one call (cols_short_windows) and
 * a window crossing the left or right edge by cols_short_edge, longer rows copied row by row (cols_copy) or across an
 * edge by cols_row_edge. */
static __attribute__((noinline)) void cols_gather(const tinyasc_conv_params *p, const int8_t *in, int32_t i,
                                                  int32_t n_pix, int8_t *g)
{
    const int32_t C = p->in_c, row = p->in_w * C, wrow = p->k_w * C, K = p->k_h * wrow, ystep = p->dil_h * row;
    const int8_t zp = (int8_t)(-p->input_offset);
    int32_t xa, xb; /* the outputs of a row whose windows lie inside the input along x */
    tinyasc_inside_range(p->out_w, p->in_w, (p->k_w - 1) * p->dil_w, p->stride_w, p->pad_w, &xa, &xb);
    if (p->dil_w != 1) xa = xb = p->out_w; /* cols_row_edge's tap by tap */
    int32_t oy = i / p->out_w, ox = i - oy * p->out_w;
    for (int32_t left = n_pix; left > 0; oy++, ox = 0) {
        const int32_t run = p->out_w - ox < left ? p->out_w - ox : left;
        left -= run;
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        int32_t ky0, ky1;
        tinyasc_tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
        if (ky1 > p->k_h) ky0 = ky1 = p->k_h; /* a window wholly above the input (padding past the window): no rows */
        const int8_t *const top = in + (y0 + ky0 * p->dil_h) * row; /* the first tap row inside the input */
        const int32_t end = ox + run;
        const cols_short sh = {.rows = ky1 - ky0, .wrow = wrow, .src_step = ystep, .pix_step = p->stride_w * C,
                               .dst_step = K};
        while (ox < end) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            if (ky1 > ky0 && wrow <= 16 && ox >= xa && ox < xb) { /* a run of windows inside along x: one call */
                const int32_t n = (end < xb ? end : xb) - ox;
                for (int32_t j = 0; j < n; j++) cols_fill_outside(g + j * K, ky0, ky1, p->k_h, wrow, zp);
                cols_short_windows(g + ky0 * wrow, top + x0 * C, n, &sh);
                ox += n, g += n * K;
                continue;
            }
            cols_fill_outside(g, ky0, ky1, p->k_h, wrow, zp);
            int8_t *d = g + ky0 * wrow;
            if (ky1 > ky0 && wrow <= 16 && p->dil_w == 1 && (ox < xa || ox >= xb)) {
                int32_t lo, hi;
                cols_inside_run(p, x0, &lo, &hi);
                cols_short_edge(d, (uintptr_t)top + (uintptr_t)(x0 * C), lo * C, hi * C, zp, &sh);
            } else if (ox < xa || ox >= xb) {
                for (int32_t ky = ky0; ky < ky1; ky++, d += wrow) cols_row_edge(p, top + (ky - ky0) * ystep, x0, d);
            } else {
                for (const int8_t *s = top + x0 * C; d < g + ky1 * wrow; d += wrow, s += ystep) cols_copy(d, s, wrow);
            }
            ox++, g += K;
        }
    }
}

/* A convolution over all of int8 (the output paths as pointwise_fast's) as a matrix product (im2col): the windows of a
 * chunk of output pixels gathered one after another, K bytes each, the input zero point where a tap falls outside the
 * input (with the input offset in each channel's constant, conv_base, such a tap adds exactly nothing), then every
 * group of four output channels through the pointwise kernels (pw_group: pairs of windows sharing each block of the
 * group's interleaved rows, VMLADAVA.S8 sixteen MACs per instruction). The gather buffer holds the group's rows (4 kp
 * bytes) and the chunk's windows; -1 where fewer than eight windows fit beside the rows (the per-pixel loop below
 * takes the layer). Channels a multiple of 16 take cols_conv_rows (no copy of the rows). */
static int cols_conv(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                     int fast)
{
    const int32_t C = p->in_c, K = p->k_h * p->k_w * C, kp = (K + 15) & ~15, OC = p->out_c;
    if (p->filter_in_c == C && OC <= TINYASC_OPT_MAX_C && C % 16 == 0 && 2 * K <= (int32_t)sizeof(tinyasc_mve_gather)) {
        cols_conv_rows(p, w, input, output, fast);
        return 0;
    }
    const int32_t room = (int32_t)sizeof(tinyasc_mve_gather) - 4 * kp;
    if (p->filter_in_c != C || OC > TINYASC_OPT_MAX_C || room < 8 * K) return -1;
    const int32_t chunk = room / K, row = p->in_w * C, npix = p->out_h * p->out_w;
    int8_t *const wb = tinyasc_mve_gather, *const cols = tinyasc_mve_gather + 4 * kp;
    conv_base(p, w, K);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * row;
        int8_t *out = output + b * npix * OC;
        for (int32_t i0 = 0; i0 < npix; i0 += chunk) {
            const int32_t n_pix = npix - i0 < chunk ? npix - i0 : chunk;
            cols_gather(p, in, i0, n_pix, cols);
            for (int32_t oc = 0; oc < OC; oc += 4) {
                const int32_t n = OC - oc < 4 ? OC - oc : 4;
                const mve_pred16_t pr = vctp32q((uint32_t)n);
                const int any = !fast && pw_group_any(w, oc, n);
                const tinyasc_rq_x4_any q = pw_consts(w, p->output_offset, oc, pr, any);
                pw_interleave(w->data + oc * K, K, n, kp, wb);
                pw_group(cols, out + i0 * OC + oc, n_pix, K, OC, oc, n, wb, &q, any, pr);
            }
        }
    }
    return 0;
}

/* One input channel on Helium (the spectrogram's first layer): output channels in int32 lanes, four per
 * vector, every tap one VMLA (the four channels' weights, widened once per call, times the tap's input
 * as a scalar) per vector, up to six vectors per pass. The k_h input rows an output row reads are
 * staged once per output row with the zero point in the padding, so that with the input offset folded
 * into each channel's constant (bias + off * sum w) a tap outside the input adds exactly nothing. The
 * gather buffer holds the widened weights (K x OCp int32), the output constants and the staged rows. */
typedef struct {
    const int32_t *wv;  /* [tap][OCp] widened weights (0 past out_c) */
    const int32_t *rq;  /* [4][OCp]: multiplier, shift, output zero point, bias + off * sum w */
    int32_t ocp, span;  /* padded output channels; bytes per staged row */
} c1_mve_t;

static inline __attribute__((always_inline)) void c1_mve_pixels(const tinyasc_conv_params *p, const c1_mve_t *l,
                                                                const int8_t *rows, int8_t *op, int32_t v0,
                                                                const int nv)
{
    const int32_t ocp = l->ocp, dil = p->dil_w;
    const int32_t *b = l->rq + 3 * ocp + 4 * v0;
    int32x4_t a0 = vldrwq_s32(b), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    if (nv > 1) a1 = vldrwq_s32(b + 4);
    if (nv > 2) a2 = vldrwq_s32(b + 8);
    if (nv > 3) a3 = vldrwq_s32(b + 12);
    if (nv > 4) a4 = vldrwq_s32(b + 16);
    if (nv > 5) a5 = vldrwq_s32(b + 20);
    const int32_t *wt = l->wv + 4 * v0;
    for (int32_t ky = 0; ky < p->k_h; ky++) {
        const int8_t *r = rows + ky * l->span;
        for (int32_t kx = 0; kx < p->k_w; kx++, wt += ocp, r += dil) {
            const int32_t x = *r;
            a0 = vmlaq_n_s32(a0, vldrwq_s32(wt), x);
            if (nv > 1) a1 = vmlaq_n_s32(a1, vldrwq_s32(wt + 4), x);
            if (nv > 2) a2 = vmlaq_n_s32(a2, vldrwq_s32(wt + 8), x);
            if (nv > 3) a3 = vmlaq_n_s32(a3, vldrwq_s32(wt + 12), x);
            if (nv > 4) a4 = vmlaq_n_s32(a4, vldrwq_s32(wt + 16), x);
            if (nv > 5) a5 = vmlaq_n_s32(a5, vldrwq_s32(wt + 20), x);
        }
    }
    const int32x4_t acc[6] = {a0, a1, a2, a3, a4, a5};
    for (int j = 0; j < nv; j++) {
        const int32_t c = 4 * (v0 + j);
        tinyasc_rq_x4 q;
        q.m = vldrwq_s32(l->rq + c);
        q.neg_r = vldrwq_s32(l->rq + ocp + c);
        q.zp = vldrwq_s32(l->rq + 2 * ocp + c);
        vstrbq_p_s32(op + c, tinyasc_rq_x4_apply(acc[j], q), vctp32q((uint32_t)(p->out_c - c)));
    }
}

static int mve_conv_c1(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    const int32_t K = p->k_h * p->k_w, ocp = (p->out_c + 3) & ~3, nvec = ocp / 4;
    const int32_t span = (p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1;
    if (p->in_c != 1 || p->filter_in_c != 1 || !tinyasc_out_x4_ok(p, w)) return -1;
    if ((int32_t)sizeof(int32_t) * (K + 4) * ocp + p->k_h * span > (int32_t)sizeof(tinyasc_mve_gather)) return -1;
    int32_t *wv = (int32_t *)(void *)tinyasc_mve_gather, *rq = wv + K * ocp;
    int8_t *rows = (int8_t *)(rq + 4 * ocp);
    for (int32_t c = 0; c < ocp; c++) {
        int32_t s = 0;
        for (int32_t t = 0; t < K; t++) {
            const int32_t v = c < p->out_c ? w->data[c * K + t] : 0;
            wv[t * ocp + c] = v;
            s += v;
        }
        rq[c] = c < p->out_c ? w->multiplier[c] : 0;
        rq[ocp + c] = c < p->out_c ? w->shift[c] : -1;
        rq[2 * ocp + c] = p->output_offset;
        rq[3 * ocp + c] = (c < p->out_c && w->bias ? w->bias[c] : 0) + s * p->input_offset;
    }
    const c1_mve_t l = {.wv = wv, .rq = rq, .ocp = ocp, .span = span};
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            tinyasc_stage_rows_c1(p, in, oy, span, rows);
            int8_t *op = output + (b * p->out_h + oy) * p->out_w * p->out_c;
            for (int32_t ox = 0; ox < p->out_w; ox++, op += p->out_c) {
                const int8_t *r0 = rows + ox * p->stride_w;
                int32_t v0 = 0; /* up to six vectors (24 channels) per pass: 6 accumulators + 1 weight register */
                for (; v0 + 6 <= nvec; v0 += 6) c1_mve_pixels(p, &l, r0, op, v0, 6);
                switch (nvec - v0) {
                case 5: c1_mve_pixels(p, &l, r0, op, v0, 5); break;
                case 4: c1_mve_pixels(p, &l, r0, op, v0, 4); break;
                case 3: c1_mve_pixels(p, &l, r0, op, v0, 3); break;
                case 2: c1_mve_pixels(p, &l, r0, op, v0, 2); break;
                case 1: c1_mve_pixels(p, &l, r0, op, v0, 1); break;
                default: break;
                }
            }
        }
    }
    return 0;
}

/* One input channel: the Helium kernel above where its buffer holds the layer, else the SMLAD one
 * (tinyasc_opt_conv_c1.c), both in this file's gather buffer. */
int tinyasc_simd_conv_c1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    if (tinyasc_full_range(p) && cols_conv(p, w, input, output, tinyasc_out_x4_ok(p, w)) == 0) return 0;
    if (mve_conv_c1(p, w, input, output) == 0) return 0;
    return tinyasc_conv_c1_s8(p, w, input, output, (uint32_t *)(void *)tinyasc_mve_gather,
                              (int32_t)(sizeof(tinyasc_mve_gather) / 4));
}

/* The dense convolution without im2col: the pointwise pairs kernel for a whole-range 1x1 of the input's own
 * size, else pixel by pixel (windows gathered into tinyasc_mve_gather unless pointwise), four output channels
 * per VMLADAVA pass. p and w are the caller's local copies. Not inlined: a model with 1x1 and other layers
 * links one copy (2.8 KB less than two on KWS and VWW). */
static __attribute__((noinline)) void conv_pixels(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                  const int8_t *input, int8_t *output, int pointwise, int fast,
                                                  int full)
{
    const int32_t K = p->k_h * p->k_w * p->in_c;
    const int8_t pad = (int8_t)(-p->input_offset);
    conv_base(p, w, K);
    if (pointwise && full && p->stride_h == 1 && p->stride_w == 1 && p->in_h == p->out_h && p->in_w == p->out_w) {
        pointwise_fast(p, w, input, output, fast);
        return;
    }
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * p->in_c;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                const int8_t *src;
                if (pointwise) {
                    src = in + (y0 * p->in_w + x0) * p->in_c;
                } else {
                    int8_t *g = tinyasc_mve_gather;
                    for (int32_t ky = 0; ky < p->k_h; ky++) {
                        const int32_t y = y0 + ky * p->dil_h;
                        for (int32_t kx = 0; kx < p->k_w; kx++) {
                            const int32_t x = x0 + kx * p->dil_w;
                            if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w)
                                memcpy(g, in + (y * p->in_w + x) * p->in_c, (size_t)p->in_c);
                            else
                                memset(g, pad, (size_t)p->in_c);
                            g += p->in_c;
                        }
                    }
                    src = tinyasc_mve_gather;
                }
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                int32_t oc = 0;
                for (; oc + 3 < p->out_c; oc += 4) {
                    const int8_t *w0 = w->data + oc * K;
                    int32_t a0 = tinyasc_acc0[oc], a1 = tinyasc_acc0[oc + 1], a2 = tinyasc_acc0[oc + 2], a3 = tinyasc_acc0[oc + 3];
                    for (int32_t k = 0; k < K; k += 16) {
                        const mve_pred16_t pr = vctp8q((uint32_t)(K - k));
                        const int8x16_t x = vldrbq_z_s8(src + k, pr);
                        a0 = vmladavaq_p_s8(a0, x, vldrbq_z_s8(w0 + k, pr), pr);
                        a1 = vmladavaq_p_s8(a1, x, vldrbq_z_s8(w0 + K + k, pr), pr);
                        a2 = vmladavaq_p_s8(a2, x, vldrbq_z_s8(w0 + 2 * K + k, pr), pr);
                        a3 = vmladavaq_p_s8(a3, x, vldrbq_z_s8(w0 + 3 * K + k, pr), pr);
                    }
                    if (fast) {
                        vstrbq_s32(op + oc, tinyasc_rq_x4_apply(lanes4(a0, a1, a2, a3),
                                                        tinyasc_rq_x4_consts(w, p->output_offset, oc, vctp32q(4u))));
                    } else {
                        op[oc] = tinyasc_opt_out(p, w, a0, oc);
                        op[oc + 1] = tinyasc_opt_out(p, w, a1, oc + 1);
                        op[oc + 2] = tinyasc_opt_out(p, w, a2, oc + 2);
                        op[oc + 3] = tinyasc_opt_out(p, w, a3, oc + 3);
                    }
                }
                for (; oc < p->out_c; oc++) {
                    const int8_t *w0 = w->data + oc * K;
                    int32_t a0 = tinyasc_acc0[oc];
                    for (int32_t k = 0; k < K; k += 16) {
                        const mve_pred16_t pr = vctp8q((uint32_t)(K - k));
                        a0 = vmladavaq_p_s8(a0, vldrbq_z_s8(src + k, pr), vldrbq_z_s8(w0 + k, pr), pr);
                    }
                    op[oc] = tinyasc_opt_out(p, w, a0, oc);
                }
            }
        }
    }
}

int tinyasc_simd_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const int32_t K = p->k_h * p->k_w * p->in_c;
    if (p->filter_in_c != p->in_c || K > TINYASC_OPT_MAX_K || p->out_c > TINYASC_OPT_MAX_C) return -1;
    const int pointwise = p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    const int fast = tinyasc_out_x4_ok(p, w), full = tinyasc_full_range(p); /* full: the matrix kernels */
    if (!pointwise && full && cols_conv(p, w, input, output, fast) == 0) return 0;
    conv_pixels(p, w, input, output, pointwise, fast, full);
    return 0;
}

/* A dense convolution on inputs a multiple of 16 (the generator's entry for such layers other than a 1x1 of the
 * input's size, so that a model with none links none of this): on the four-lane output path the windows that reach
 * past the input gathered (cols_border) and the interior's read in place (win_groups), where the interior saves more
 * gathers (two vector instructions per block and window) than the groups' interleaved rows cost (eight per block
 * and group: on ResNet-8, 49 windows of 64 channels lost 6%, 196 of 32 gained 7%); else every window gathered
 * (cols_conv_rows). -1 where neither takes the layer. */
int tinyasc_simd_conv2d_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const int32_t C = p->in_c, K = p->k_h * p->k_w * C, OC = p->out_c;
    if (p->filter_in_c != C || C % 16 != 0 || 2 * K > (int32_t)sizeof(tinyasc_mve_gather) || OC > TINYASC_OPT_MAX_C ||
        !tinyasc_full_range(p))
        return -1;
    const int fast = tinyasc_out_x4_ok(p, w);
    win_box box = fast && win_ok(p, K) ? interior_box(p) : (win_box){.y0 = 0, .y1 = 0, .x0 = 0, .x1 = 0};
    if ((box.y1 - box.y0) * (box.x1 - box.x0) * p->batches < 2 * OC) {
        cols_conv_rows(p, w, input, output, fast);
        return 0;
    }
    conv_base(p, w, K);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        int8_t *out = output + b * p->out_h * p->out_w * OC;
        cols_border(p, w, in, out, box, K, fast);
        win_groups(p, w, in, out, box);
    }
    return 0;
}

/* A 1x1 convolution without padding: the path tinyasc_simd_conv2d_s8 takes for it, without linking its im2col
 * kernels (the generator calls tinyasc_opt_conv2d_1x1_s8 for such layers). No local copies of p and w: nothing here
 * stores int8 data, and conv_pixels, a call apart, cannot tell a copy from the caller's descriptor. */
int tinyasc_simd_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output)
{
    if (p->k_h != 1 || p->k_w != 1 || p->pad_h != 0 || p->pad_w != 0 || p->filter_in_c != p->in_c ||
        p->in_c > TINYASC_OPT_MAX_K || p->out_c > TINYASC_OPT_MAX_C) return -1;
    conv_pixels(p, w, input, output, 1, tinyasc_out_x4_ok(p, w), tinyasc_full_range(p));
    return 0;
}

/* A column window wholly inside the input (k x 1, e.g. a kernel spanning the frequency axis), eight channels
 * per vector in int16 lanes: per tap two VLDRB.S16 and VMULLB / VMULLT (even and odd channels' products,
 * widened to int32) added to two accumulators, 1.5 instructions per MAC against 2 in int32 lanes. VST2
 * interleaves the two back into channel order; base[] holds bias + off * sum w. */
static __attribute__((noinline)) void dw_column8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                 const int8_t *ip0, const int8_t *wp0, int8_t *op,
                                                 const int32_t *base, int32_t nky, int32_t ystep, int fast, int full)
{
    const int32_t C = p->in_c;
    for (int32_t c = 0; c < C; c += 8) {
        int32x4_t ae = vdupq_n_s32(0), ao = vdupq_n_s32(0);
        const int8_t *ip = ip0 + c, *wp = wp0 + c;
        if (C - c >= 8) { /* no predicate in the loop (GCC would restore VPR on every tap) */
            for (int32_t ky = 0; ky < nky; ky++, ip += ystep, wp += C) {
                const int16x8_t x = vldrbq_s16(ip), k = vldrbq_s16(wp);
                ae = vaddq_s32(ae, vmullbq_int_s16(x, k));
                ao = vaddq_s32(ao, vmulltq_int_s16(x, k));
            }
        } else {
            const mve_pred16_t pr16 = vctp16q((uint32_t)(C - c));
            for (int32_t ky = 0; ky < nky; ky++, ip += ystep, wp += C) {
                const int16x8_t x = vldrbq_z_s16(ip, pr16), k = vldrbq_z_s16(wp, pr16);
                ae = vaddq_s32(ae, vmullbq_int_s16(x, k));
                ao = vaddq_s32(ao, vmulltq_int_s16(x, k));
            }
        }
        int32_t sums[8];
        const int32x4x2_t pair = {{ae, ao}};
        vst2q_s32(sums, pair);
        for (int32_t h = 0; h < 8 && c + h < C; h += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(C - c - h));
            tinyasc_dw_out4(p, w, op, c + h, vaddq_s32(vldrwq_s32(sums + h), vldrwq_z_s32(base + c + h, pr)), pr, fast, full);
        }
    }
}

/* One batch image of a column layer of at most DW_RUN_MAX_TAPS taps (k x 1, the streaming wake word's 5- and 10-tap
 * layers on one column) whose every window lies wholly inside the input: four channels per vector (C a multiple of
 * four, the four-lane output path), group by group with the group's constant bias + off * sum w (tinyasc_acc0) and
 * output constants held in registers over all its pixels: per tap two VLDRB.S32, VMUL and VADD, then the output
 * path and one VSTRB; the pixels in runs along the output rows, or down the output columns where those are fewer.
 * dw_column8 per pixel reloaded them per pixel and group and its sums went through the stack (34 estimated cycles an
 * output on the wake word's 5-tap layer). The same integers as dw_column8's. */
#define DW_RUN_MAX_TAPS 16
static __attribute__((noinline)) void dw_column_runs(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                     const int8_t *in, int8_t *out)
{
    const int32_t C = p->in_c, row = p->in_w * C, ystep = p->dil_h * row, nky = p->k_h, orow = p->out_w * C;
    const int32_t prow = p->stride_h * row, pcol = p->stride_w * C;
    const int down = p->out_w < p->out_h; /* runs down the output columns where those are fewer than the rows */
    const int32_t runs = down ? p->out_w : p->out_h, pixels = down ? p->out_h : p->out_w, pstep = down ? prow : pcol;
    const int32_t ostep = down ? orow : C, istep = down ? pcol : prow, jstep = down ? C : orow;
    const mve_pred16_t all = vctp32q(4u);
    for (int32_t c = 0; c < C; c += 4) {
        const int32x4_t bv = vldrwq_s32(tinyasc_acc0 + c);
        const tinyasc_rq_x4 q = tinyasc_rq_x4_consts(w, p->output_offset, c, all);
        const int8_t *const wp = w->data + c;
        for (int32_t k = 0; k < runs; k++) {
            const int8_t *ip = in + k * istep + c;
            int8_t *op = out + k * jstep + c;
            for (int32_t i = 0; i < pixels; i++, ip += pstep, op += ostep) {
                int32x4_t acc = bv;
                const int8_t *x = ip, *t = wp;
                for (int32_t ky = 0; ky < nky; ky++, x += ystep, t += C)
                    acc = vaddq_s32(acc, vmulq_s32(vldrbq_s32(x), vldrbq_s32(t)));
                vstrbq_s32(op, tinyasc_rq_x4_apply(acc, q));
            }
        }
    }
}

/* Depthwise (multiplier 1): four channels per vector in int32 lanes (VLDRB.S32 widens). Each output
 * pixel's window is clipped to the input once (no test per tap); a window wholly inside takes
 * sum w * x + (bias + off * sum w), the constant per channel computed once per call (channels up to
 * TINYASC_OPT_MAX_C), so a tap is two loads, a multiply and an add; a whole column takes dw_column8 (a layer of long
 * columns all inside the input takes tinyasc_dw_taps_s8 first where the library ships it). */
int tinyasc_simd_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    if (p->depth_multiplier != 1) return -1;
    const int32_t C = p->in_c, row = p->in_w * C, taps = p->k_h * p->k_w;
    const int fast = tinyasc_out_x4_ok(p, w), full = tinyasc_full_range(p); /* full && !fast: a left shift */
    const int table = C <= TINYASC_OPT_MAX_C;
    if (table) tinyasc_chan_base(p, w, C, taps, C, 1, tinyasc_acc0);
    const int32x4_t off = vdupq_n_s32(p->input_offset);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * row;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t ky0, ky1;
            tinyasc_tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int32_t kx0, kx1;
                tinyasc_tap_range(x0, p->dil_w, p->k_w, p->in_w, &kx0, &kx1);
                const int whole = table && ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int8_t *ip0 = in + (y0 + ky0 * p->dil_h) * row + (x0 + kx0 * p->dil_w) * C;
                const int8_t *wp0 = w->data + (ky0 * p->k_w + kx0) * C;
                if (whole && p->k_w == 1) {
                    dw_column8(p, w, ip0, wp0, op, tinyasc_acc0, p->k_h, p->dil_h * row, fast, full);
                    continue;
                }
                for (int32_t c = 0; c < C; c += 4) {
                    const mve_pred16_t pr = vctp32q((uint32_t)(C - c));
                    int32x4_t acc;
                    const int8_t *ip = ip0 + c, *wp = wp0 + c;
                    if (whole) {
                        acc = vldrwq_z_s32(tinyasc_acc0 + c, pr);
                        for (int32_t ky = ky0; ky < ky1; ky++, ip += p->dil_h * row, wp += p->k_w * C) {
                            const int8_t *xi = ip, *wi = wp;
                            for (int32_t kx = kx0; kx < kx1; kx++, xi += p->dil_w * C, wi += C)
                                acc = vaddq_s32(acc, vmulq_s32(vldrbq_z_s32(xi, pr), vldrbq_z_s32(wi, pr)));
                        }
                    } else {
                        acc = w->bias ? vldrwq_z_s32(w->bias + c, pr) : vdupq_n_s32(0);
                        for (int32_t ky = ky0; ky < ky1; ky++, ip += p->dil_h * row, wp += p->k_w * C) {
                            const int8_t *xi = ip, *wi = wp;
                            for (int32_t kx = kx0; kx < kx1; kx++, xi += p->dil_w * C, wi += C)
                                acc = vaddq_s32(acc, vmulq_s32(vaddq_s32(vldrbq_z_s32(xi, pr), off),
                                                               vldrbq_z_s32(wi, pr)));
                        }
                    }
                    tinyasc_dw_out4(p, w, op, c, acc, pr, fast, full);
                }
            }
        }
    }
    return 0;
}

/* A k_h x 1 layer (the generator's depthwise_column_s8 on Helium: at most DW_RUN_MAX_TAPS taps,
 * generator.HELIUM_COLUMN_MAX_TAPS) whose every window lies wholly inside the input (VALID along the column, as the
 * streaming wake word's): dw_column_runs over each batch image; any other layer the general entry.
 * A library whose layers take the other entry links none of this. */
int tinyasc_simd_depthwise_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    const int runs = p->depth_multiplier == 1 && p->k_w == 1 && p->k_h <= DW_RUN_MAX_TAPS && p->in_c % 4 == 0 &&
                     p->in_c <= TINYASC_OPT_MAX_C && tinyasc_out_x4_ok(p, w) && tinyasc_all_inside(p);
    /* one window per group (the wake word's last 15-tap column on one pixel): the group's constants would serve it
     * once (+20% measured), the general entry takes it, as it takes windows outside the input */
    if (!runs || p->batches * p->out_h * p->out_w < 2) return tinyasc_simd_depthwise_conv2d_s8(p, w, input, output);
    tinyasc_chan_base(p, w, p->in_c, p->k_h, p->in_c, 1, tinyasc_acc0);
    for (int32_t b = 0; b < p->batches; b++)
        dw_column_runs(p, w, input + b * p->in_h * p->in_w * p->in_c, output + b * p->out_h * p->out_w * p->out_c);
    return 0;
}
#endif
