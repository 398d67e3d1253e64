/* Dispatch to the sparse / DSP / Helium kernels, and the portable fallback loops. */
#include "tinyasc_opt.h"
#include "tinyasc_sparse.h"

void tinyasc_ref_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output)
{
    const int32_t fin = p->filter_in_c, ocg = p->out_c / (p->in_c / fin);
    for (int32_t b = 0; b < p->batches; b++)
        for (int32_t oy = 0; oy < p->out_h; oy++)
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                for (int32_t oc = 0; oc < p->out_c; oc++) {
                    const int8_t *f = w->data + oc * p->k_h * p->k_w * fin;
                    int32_t acc = w->bias ? w->bias[oc] : 0;
                    for (int32_t ky = 0; ky < p->k_h; ky++) {
                        const int32_t y = y0 + ky * p->dil_h;
                        if (y < 0 || y >= p->in_h) continue;
                        for (int32_t kx = 0; kx < p->k_w; kx++) {
                            const int32_t x = x0 + kx * p->dil_w;
                            if (x < 0 || x >= p->in_w) continue;
                            const int8_t *ip = input + ((b * p->in_h + y) * p->in_w + x) * p->in_c + (oc / ocg) * fin;
                            const int8_t *fp = f + (ky * p->k_w + kx) * fin;
                            for (int32_t ic = 0; ic < fin; ic++) acc += (int32_t)fp[ic] * ((int32_t)ip[ic] + p->input_offset);
                        }
                    }
                    output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] = tinyasc_opt_out(p, w, acc, oc);
                }
            }
}

void tinyasc_ref_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    const int32_t dm = p->depth_multiplier;
    for (int32_t b = 0; b < p->batches; b++)
        for (int32_t oy = 0; oy < p->out_h; oy++)
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
                for (int32_t oc = 0; oc < p->out_c; oc++) {
                    const int32_t ic = oc / dm;
                    int32_t acc = w->bias ? w->bias[oc] : 0;
                    for (int32_t ky = 0; ky < p->k_h; ky++) {
                        const int32_t y = y0 + ky * p->dil_h;
                        if (y < 0 || y >= p->in_h) continue;
                        for (int32_t kx = 0; kx < p->k_w; kx++) {
                            const int32_t x = x0 + kx * p->dil_w;
                            if (x < 0 || x >= p->in_w) continue;
                            acc += (int32_t)w->data[(ky * p->k_w + kx) * p->out_c + oc] *
                                   ((int32_t)input[((b * p->in_h + y) * p->in_w + x) * p->in_c + ic] + p->input_offset);
                        }
                    }
                    output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] = tinyasc_opt_out(p, w, acc, oc);
                }
            }
}


/*
 * Channel-wise convolution: DEPTHWISE_CONV_2D with multiplier 1, and grouped CONV_2D with
 * one input channel per group (how onnx2tf writes PyTorch depthwise convolutions). Per
 * output pixel the valid taps are found once; per channel the accumulator stays in a
 * register, and windows fully inside the input use bias + off * sum(w) + sum w * x with the
 * per-channel constant precomputed once per call. w(t, c) = data[t * wt + c * wc].
 *
 * Two shapes get their own loops:
 * - one tap without padding (a per-channel affine: the sub-spectral norm's 1x1 grouped conv):
 *   the output is a function of one int8 input per channel, so with enough pixels (384; TINYASC_TABLE_MIN_FAST on
 *   the folded output path, whose table is built incrementally) it is tabulated per channel (256 outputs) and looked
 *   up; the same integers as computing it;
 * - windows of more taps than TINYASC_CHAN_MAX_T (a kernel spanning the frequency axis) lying
 *   inside the input: taps walked in place, no per-pixel tap list.
 */
#ifndef TINYASC_CHAN_MAX_C
#define TINYASC_CHAN_MAX_C 512
#endif
#ifndef TINYASC_CHAN_MAX_T
#define TINYASC_CHAN_MAX_T 64
#endif
static int32_t chan_base[TINYASC_CHAN_MAX_C];
/* per-channel output tables: one for a channel-wise affine, four for four channels of a band at once */
static int8_t chan_tables[4][256];
#define chan_table (chan_tables[0])

/* One tap, no padding: output(y, x, c) = f_c(input(y * stride_h - pad_h, x * stride_w - pad_w, c)) with
 * pad <= 0, per channel
 * either tabulated (256 requantizations, then a lookup per pixel) or computed, whichever takes
 * fewer instructions: the table pays off from about 384 pixels, or TINYASC_TABLE_MIN_FAST on the folded output path
 * (affine_table_fast: about 8 cycles per entry on the M4, against about 16 per computed output in C; on the DSP
 * cores affine_dsp_run computes one in about 10, which moves the break-even back to about 384). */
#ifndef TINYASC_TABLE_MIN_FAST
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
#define TINYASC_TABLE_MIN_FAST 384
#else
#define TINYASC_TABLE_MIN_FAST 192
#endif
#endif
static inline __attribute__((always_inline)) int8_t affine_out(const tinyasc_conv_params *p, int32_t acc, int32_t m,
                                                               int32_t s, int32_t rnd, int32_t sh, int fast)
{
    if (fast) return (int8_t)tinyasc_sat8(tinyasc_rq_apply(acc, m, rnd, sh));
    return tinyasc_opt_out_ms(p, acc, m, s);
}

/* n table entries of the folded output path from u = acc m + c, advancing by d: the high word shifted by sh, SSAT.
 * Not inlined: inside its callers' loops GCC spilled d (two stack loads per entry). */
static __attribute__((noinline)) void table_run(int8_t *tab, int32_t n, int64_t u, int64_t d, int32_t sh)
{
    int8_t *const end = tab + n;
    /* four entries per pass (one loop test per four) */
    for (int8_t *const end4 = tab + (n & ~3); tab != end4; tab += 4) {
        tab[0] = (int8_t)tinyasc_sat8((int32_t)(u >> 32) >> sh);
        u += d;
        tab[1] = (int8_t)tinyasc_sat8((int32_t)(u >> 32) >> sh);
        u += d;
        tab[2] = (int8_t)tinyasc_sat8((int32_t)(u >> 32) >> sh);
        u += d;
        tab[3] = (int8_t)tinyasc_sat8((int32_t)(u >> 32) >> sh);
        u += d;
    }
    for (; tab != end; tab++, u += d) *tab = (int8_t)tinyasc_sat8((int32_t)(u >> 32) >> sh);
}

/* affine_table's folded form incrementally (its comment below); -1 when an acc of the range would leave int32. Not
 * inlined: one copy serves every caller. */
static __attribute__((noinline)) int affine_table_fast(int32_t wt, int32_t base, int32_t m, int32_t rnd, int32_t sh,
                                                       int8_t *tab)
{
    const int64_t lo = (int64_t)base - 128 * (int64_t)(wt < 0 ? -wt : wt), hi = (int64_t)base + 128 * (int64_t)(wt < 0 ? -wt : wt);
    if (lo < INT32_MIN || hi > INT32_MAX) return -1;
    {
        /* the folded form incrementally: tinyasc_rq_apply(acc) is the high word of acc m + c, shifted by sh, with
         * c = rnd 2^32 + 2^30 for acc >= 0 and rnd 2^32 - 2^30 below (its sign constant). acc = base + wt v is
         * monotone in v, so the table is at most two runs of one constant each, and within a run acc m + c advances
         * by wt m per input step (exact: no acc of the range leaves int32): per entry a 64-bit add, a shift, SSAT */
        const int32_t a0 = base - 128 * wt;
        const int64_t d = (int64_t)wt * m, c_pos = (int64_t)((uint64_t)(uint32_t)rnd << 32) + (1 << 30),
                      c_neg = c_pos - ((int64_t)1 << 31);
        int32_t first; /* entries with the sign of the first, acc = a0 (acc < 0 for v < -a0 / wt when wt > 0) */
        if (wt > 0) first = a0 >= 0 ? 256 : (int32_t)((0u - (uint32_t)a0 + (uint32_t)wt - 1u) / (uint32_t)wt);
        else if (wt < 0) first = a0 < 0 ? 256 : a0 / -wt + 1; /* 32-bit divisions: no library call */
        else first = 256;
        if (first > 256) first = 256;
        const int neg_first = a0 < 0; /* the first run's sign */
        int64_t u = (int64_t)a0 * m + (neg_first ? c_neg : c_pos);
        table_run(tab, first, u, d, sh);
        table_run(tab + first, 256 - first, u + first * d + (neg_first ? c_pos - c_neg : c_neg - c_pos), d, sh);
    }
    return 0;
}

/* The 256 outputs of a one-tap channel: tab[v + 128] for input v (fast: the folded output path, constants rnd, sh). */
static inline __attribute__((always_inline)) void affine_table(const tinyasc_conv_params *p, int32_t wt, int32_t base,
                                                               int32_t m, int32_t s, int32_t rnd, int32_t sh,
                                                               int fast, int8_t *tab)
{
    if (fast && affine_table_fast(wt, base, m, rnd, sh, tab) == 0) return;
    for (int32_t v = -128; v < 128; v++) tab[v + 128] = affine_out(p, base + wt * v, m, s, rnd, sh, fast);
}

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
#define AFFINE_DSP_STEP                                                                                           \
        "ldrsb  ip, [r0, r2]\n\t"                                                                                  \
        "mla    ip, ip, r4, r5\n\t"        /* 2 (base + w x) */                                                    \
        TINYASC_ASM_DBL_OUT_STEP("ip", "r6", "r7", "r8")
/* n outputs of one channel's affine on the DSP extension, the whole int8 range, its input d bytes after its output and
 * both C bytes apart (one register-offset load, so one pointer walks the run; d = 0 in place): base + w x doubled by
 * the caller's constants (one MLA; the caller keeps |base| < 2^29, so the doubled sum stays inside int32), then
 * tinyasc_rq_dbl_apply (SMMLAR, SUB of the sign, ASR; rnd2 and r) and SSAT: eight instructions per output, an odd one
 * first, then two per pass. Arguments: r0 op, r1 n, r2 d, r3 C, then on the stack w2, base2, m, rnd2, r. */
static __attribute__((naked, noinline)) void affine_dsp_run(
    int8_t *op __attribute__((unused)), int32_t n __attribute__((unused)), int32_t d __attribute__((unused)),
    int32_t C __attribute__((unused)), int32_t w2 __attribute__((unused)), int32_t base2 __attribute__((unused)),
    int32_t m __attribute__((unused)), int32_t rnd2 __attribute__((unused)), int32_t r __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r8, lr}\n\t"
        "ldrd   r4, r5, [sp, #24]\n\t"     /* w2, base2 */
        "ldrd   r6, r7, [sp, #32]\n\t"     /* m, rnd2 */
        "ldr    r8, [sp, #40]\n\t"         /* r */
        TINYASC_ASM_ODD_THEN_PAIRS(AFFINE_DSP_STEP)
        "pop    {r4-r8, pc}\n\t");
}
#undef AFFINE_DSP_STEP
#endif

static inline __attribute__((always_inline)) void affine_channel(const tinyasc_conv_params *p, int32_t wt,
                                                                 int32_t base, int32_t m, int32_t s,
                                                                 const int8_t *in, int8_t *out, int fast)
{
    const int32_t C = p->in_c, n_pix = p->out_h * p->out_w;
    const int32_t row_step = p->stride_h * p->in_w * C, col_step = p->stride_w * C;
    int32_t rnd = 0, sh = 0;
    if (fast) tinyasc_rq_consts(s, p->output_offset, &rnd, &sh);
    int8_t *op = out;
    if (n_pix >= (fast ? TINYASC_TABLE_MIN_FAST : 384)) {
        affine_table(p, wt, base, m, s, rnd, sh, fast, chan_table);
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int8_t *ip = in + oy * row_step;
            for (int32_t ox = 0; ox < p->out_w; ox++, ip += col_step, op += C) *op = chan_table[*ip + 128];
        }
    } else {
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
        /* the pixels one run (stride 1, rows contiguous: the sub-band affine's, one call per channel and band) */
        if (fast && col_step == C && row_step == p->out_w * C && tinyasc_dbl_base_ok(base)) {
            affine_dsp_run(op, n_pix, (int32_t)(in - op), C, 2 * wt, 2 * base, m, 2 * rnd, sh + 1);
            return;
        }
#endif
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int8_t *ip = in + oy * row_step;
            for (int32_t ox = 0; ox < p->out_w; ox++, ip += col_step, op += C)
                *op = affine_out(p, base + wt * *ip, m, s, rnd, sh, fast);
        }
    }
}

static void chan_affine_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output, int32_t wc)
{
    const int32_t C = p->in_c, n_pix = p->out_h * p->out_w;
    const int32_t first = (-p->pad_h * p->in_w - p->pad_w) * C; /* pad <= 0: where output (0, 0) reads */
    const int full_range = tinyasc_full_range(p);
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        int8_t *out = output + b * n_pix * C;
        for (int32_t c = 0; c < C; c++) {
            const int32_t m = w->multiplier[c], s = w->shift[c];
            if (full_range && tinyasc_rq_zp_folds(m, s))
                affine_channel(p, w->data[c * wc], chan_base[c], m, s, in + c + first, out + c, 1);
            else
                affine_channel(p, w->data[c * wc], chan_base[c], m, s, in + c + first, out + c, 0);
        }
    }
}

/* The 256 outputs of (channel, band) k of a band affine: tab[v + 128] for input v. */
static void band_table(const tinyasc_conv_params *cp, const tinyasc_weights *w, int32_t k, int full_range,
                       int8_t *tab)
{
    const int32_t wk = w->data[k], m = w->multiplier[k], s = w->shift[k];
    const int32_t base = (w->bias ? w->bias[k] : 0) + wk * cp->input_offset;
    if (full_range && tinyasc_rq_zp_folds(m, s)) {
        int32_t rnd, sh;
        tinyasc_rq_consts(s, cp->output_offset, &rnd, &sh);
        affine_table(cp, wk, base, m, s, rnd, sh, 1, tab);
    } else {
        affine_table(cp, wk, base, m, s, 0, 0, 0, tab);
    }
}

/* The tables of channels c .. c + n - 1 (n <= 4) of band g: the returned [4][256] bytes, row j at v + 128 the output of
 * channel c + j for input v (the fused sub-band ADD's lookups, c/opt/tinyasc_opt_band_add.c). */
const int8_t *tinyasc_band_tables(const tinyasc_conv_params *cp, const tinyasc_weights *w, int32_t bands, int32_t g,
                                  int32_t c, int32_t n)
{
    for (int32_t j = 0; j < n; j++) band_table(cp, w, (c + j) * bands + g, tinyasc_full_range(cp), chan_tables[j]);
    return &chan_tables[0][0];
}

#if defined(__ARM_FEATURE_MVE)
/* Channels c .. c + n - 1 (n <= 4) of band g on Helium: their affines (k = channel * bands + g) as int32 lanes,
 * each pixel's four inputs one VLDRB.S32, base + w * x a VMUL and a VADD, out through the four-lane output path (the
 * whole int8 range: the caller checks; any: its form for a left shift in the group); the same integers as the
 * tables. Input may be output: each pixel's bytes are read before they are written. A group of four loads and
 * stores without a predicate. */
static inline __attribute__((always_inline)) void band_affine_mve(const tinyasc_conv_params *cp,
                                                                   const tinyasc_weights *w, int32_t bands, int32_t g,
                                                                   int32_t c, int32_t n, int32_t C, int32_t n_pix,
                                                                   const int8_t *ip, int8_t *op, const int any)
{
    int32_t wk[4], base[4], m[4], sh[4];
    tinyasc_band_consts4(cp, w, bands, g, c, n, wk, base, m, sh);
    const int32x4_t wv = vldrwq_s32(wk), bv = vldrwq_s32(base);
    const tinyasc_weights wq = {.data = NULL, .bias = NULL, .multiplier = m, .shift = sh, .sparse = NULL};
    const tinyasc_rq_x4_any q = tinyasc_rq_x4_any_consts(&wq, cp->output_offset, 0, vctp32q(4u));
    const mve_pred16_t pr = vctp32q((uint32_t)n);
    if (n == 4) { /* a whole group: no predicate to set on every load and store */
        for (int32_t i = 0; i < n_pix; i++, ip += C, op += C) {
            const int32x4_t acc = vaddq_s32(bv, vmulq_s32(vldrbq_s32(ip), wv));
            vstrbq_s32(op, any ? tinyasc_rq_x4_any_apply(acc, q) : tinyasc_rq_x4_apply(acc, q.q));
        }
        return;
    }
    for (int32_t i = 0; i < n_pix; i++, ip += C, op += C) {
        const int32x4_t acc = vaddq_s32(bv, vmulq_s32(vldrbq_z_s32(ip, pr), wv));
        vstrbq_p_s32(op, any ? tinyasc_rq_x4_any_apply(acc, q) : tinyasc_rq_x4_apply(acc, q.q), pr);
    }
}
#endif

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
/* n >= 1 pixels of four channels through their four tables on the DSP cores: per pixel one word of the four inputs
 * (read before the word of outputs is written: output may be input; input d bytes after output, pixels C bytes
 * apart), each byte sign-extended from the word (SXTB with a rotation) as the index into its table at the table's
 * middle (t: chan_tables[0] + 128, the others 256 bytes apart), four LDRB, three ORR, one STR; one pixel first when
 * n is odd, then two per pass. Compiled from C the loop took an EOR for unsigned indices and a compare per pixel. */
#define BAND_LOOKUP4_STEP                                                                                         \
        "ldr    r8, [r0, r2]\n\t"                                                                                 \
        "sxtb   r9, r8\n\t"                                                                                       \
        "sxtb   r10, r8, ror #8\n\t"                                                                              \
        "sxtb   r11, r8, ror #16\n\t"                                                                             \
        "asr    r8, r8, #24\n\t"                                                                                  \
        "ldrb   r9, [r4, r9]\n\t"                                                                                 \
        "ldrb   r10, [r5, r10]\n\t"                                                                               \
        "ldrb   r11, [r6, r11]\n\t"                                                                               \
        "ldrb   r8, [r7, r8]\n\t"                                                                                 \
        "orr    r9, r9, r10, lsl #8\n\t"                                                                          \
        "orr    r9, r9, r11, lsl #16\n\t"                                                                         \
        "orr    r9, r9, r8, lsl #24\n\t"                                                                          \
        "str    r9, [r0]\n\t"                                                                                     \
        "add    r0, r0, r3\n\t"
static __attribute__((naked, noinline)) void band_lookup4_dsp(
    int8_t *op __attribute__((unused)), int32_t n __attribute__((unused)), int32_t d __attribute__((unused)),
    int32_t C __attribute__((unused)), const uint8_t *t __attribute__((unused)))
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "ldr    r4, [sp, #36]\n\t"           /* the first table's middle */
        "add    r5, r4, #256\n\t"
        "add    r6, r4, #512\n\t"
        "add    r7, r4, #768\n\t"
        TINYASC_ASM_ODD_THEN_PAIRS(BAND_LOOKUP4_STEP)
        "pop    {r4-r11, pc}\n\t");
}
#undef BAND_LOOKUP4_STEP
#endif

void tinyasc_opt_band_affine_s8(const tinyasc_band_params *p, const tinyasc_conv_params *cp,
                                const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    /* each (channel, band) is a one-tap per-channel conv over rows x w pixels of stride c */
    tinyasc_conv_params q = *cp;
    const int32_t rows = p->h / p->bands, band_bytes = rows * p->w * p->c, C = p->c, n_pix = rows * p->w;
    const int full_range = tinyasc_full_range(cp);
    q.batches = 1;
    q.in_h = q.out_h = rows;
    q.in_w = q.out_w = p->w;
    q.in_c = q.out_c = C;
    q.stride_h = q.stride_w = 1;
    for (int32_t g = 0; g < p->bands; g++) {
        int32_t c = 0;
#if defined(__ARM_FEATURE_MVE)
        if (full_range) { /* Helium: band_affine_mve per group of four channels */
            for (; c < C; c += 4) {
                const int32_t n = C - c < 4 ? C - c : 4;
                const int right = tinyasc_right_shifts(w->shift + c * p->bands + g, n, p->bands);
                const int8_t *ip = input + g * band_bytes + c;
                int8_t *op = output + g * band_bytes + c;
                if (right) band_affine_mve(cp, w, p->bands, g, c, n, C, n_pix, ip, op, 0);
                else band_affine_mve(cp, w, p->bands, g, c, n, C, n_pix, ip, op, 1); /* a left shift in the group */
            }
            continue;
        }
#endif
        if (n_pix >= (full_range ? TINYASC_TABLE_MIN_FAST : 384)) {
            /* four channels at a time, each tabulated: a pixel's four inputs one word, four lookups, one word out
             * (the word is read before it is written: output may be input); the word's bytes XOR 0x80 are the four
             * tables' indices v + 128 as unsigned bytes (one EOR for the four, no sign extensions) */
            for (; c + 4 <= C; c += 4) {
                for (int32_t j = 0; j < 4; j++) band_table(cp, w, (c + j) * p->bands + g, full_range, chan_tables[j]);
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
                { /* the C loop below is the other cores' */
                    int8_t *op = output + g * band_bytes + c;
                    band_lookup4_dsp(op, n_pix, (int32_t)((input + g * band_bytes + c) - op), C,
                                     (const uint8_t *)chan_tables[0] + 128);
                    continue;
                }
#endif
                const uint8_t *t0 = (const uint8_t *)chan_tables[0], *t1 = (const uint8_t *)chan_tables[1],
                              *t2 = (const uint8_t *)chan_tables[2], *t3 = (const uint8_t *)chan_tables[3];
                /* opaque to the compiler: it would otherwise address the four tables off one base, an ADD per lookup */
                __asm__("" : "+r"(t0), "+r"(t1), "+r"(t2), "+r"(t3));
                const int8_t *ip = input + g * band_bytes + c;
                int8_t *op = output + g * band_bytes + c;
                for (const int8_t *const end = ip + n_pix * C; ip != end; ip += C, op += C) {
                    const uint32_t x = tinyasc_load_u32(ip) ^ 0x80808080u;
                    const uint32_t y = (uint32_t)t0[x & 0xFFu] | ((uint32_t)t1[(x >> 8) & 0xFFu] << 8) |
                                       ((uint32_t)t2[(x >> 16) & 0xFFu] << 16) | ((uint32_t)t3[x >> 24] << 24);
                    memcpy(op, &y, 4);
                }
            }
        }
        for (; c < C; c++) {
            const int32_t k = c * p->bands + g, wk = w->data[k], m = w->multiplier[k], s = w->shift[k];
            const int32_t base = (w->bias ? w->bias[k] : 0) + wk * cp->input_offset;
            const int8_t *in = input + g * band_bytes + c;
            int8_t *out = output + g * band_bytes + c;
            if (full_range && tinyasc_rq_zp_folds(m, s)) affine_channel(&q, wk, base, m, s, in, out, 1);
            else affine_channel(&q, wk, base, m, s, in, out, 0);
        }
    }
}

/* Windows inside the input, any number of taps: acc = base + sum over (ky, kx) of w * x. */
static void chan_interior_pixel(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *in,
                                int8_t *op, int32_t y0, int32_t x0, int32_t wt, int32_t wc)
{
    const int32_t C = p->in_c, row = p->dil_h * p->in_w * C, col = p->dil_w * C;
    const int8_t *x00 = in + (y0 * p->in_w + x0) * C;
    const int32_t k_h = p->k_h, k_w = p->k_w;
    for (int32_t c = 0; c < C; c++) {
        int32_t acc = chan_base[c];
        const int8_t *wp = w->data + c * wc;
        const int8_t *xr = x00 + c;
        if (k_w == 1) { /* a column (the kernel spanning the frequency axis): one loop, no inner one */
            for (int32_t ky = 0; ky < k_h; ky++, xr += row, wp += wt) acc += *wp * *xr;
        } else {
            for (int32_t ky = 0; ky < k_h; ky++, xr += row) {
                const int8_t *xp = xr;
                for (int32_t kx = 0; kx < k_w; kx++, xp += col, wp += wt) acc += *wp * *xp;
            }
        }
        op[c] = tinyasc_opt_out(p, w, acc, c);
    }
}

int tinyasc_chan_conv_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                         int32_t wt, int32_t wc)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const int32_t C = p->in_c, T = p->k_h * p->k_w;
    if (p->out_c != C || C > TINYASC_CHAN_MAX_C) return -1;
    if (T > 1 && input != output && tinyasc_chan_column_s8(p, w, input, output, wt, wc) == 0) return 0;
    /* many taps: every window must lie inside the input (no per-pixel tap list) */
    const int32_t last_y = (p->out_h - 1) * p->stride_h - p->pad_h + (p->k_h - 1) * p->dil_h;
    const int32_t last_x = (p->out_w - 1) * p->stride_w - p->pad_w + (p->k_w - 1) * p->dil_w;
    /* no padding; a negative pad (a streamed model's window that holds earlier rows) only offsets */
    const int all_inside = p->pad_h <= 0 && p->pad_w <= 0 && last_y < p->in_h && last_x < p->in_w;
    if (T > TINYASC_CHAN_MAX_T && !all_inside) return -1;
    int32_t toff[TINYASC_CHAN_MAX_T];
    const int8_t *twp[TINYASC_CHAN_MAX_T];
    tinyasc_chan_base(p, w, C, T, wt, wc, chan_base);
    if (T == 1 && all_inside) {
        chan_affine_s8(p, w, input, output, wc);
        return 0;
    }
    if (T > TINYASC_CHAN_MAX_T) {
        for (int32_t b = 0; b < p->batches; b++) {
            const int8_t *in = input + b * p->in_h * p->in_w * C;
            for (int32_t oy = 0; oy < p->out_h; oy++)
                for (int32_t ox = 0; ox < p->out_w; ox++)
                    chan_interior_pixel(p, w, in, output + ((b * p->out_h + oy) * p->out_w + ox) * C,
                                        oy * p->stride_h - p->pad_h, ox * p->stride_w - p->pad_w, wt, wc);
        }
        return 0;
    }
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int32_t nt = 0;
                for (int32_t ky = 0; ky < p->k_h; ky++) {
                    const int32_t y = y0 + ky * p->dil_h;
                    if (y < 0 || y >= p->in_h) continue;
                    for (int32_t kx = 0; kx < p->k_w; kx++) {
                        const int32_t x = x0 + kx * p->dil_w;
                        if (x < 0 || x >= p->in_w) continue;
                        toff[nt] = (y * p->in_w + x) * C;
                        twp[nt] = w->data + (ky * p->k_w + kx) * wt;
                        nt++;
                    }
                }
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                if (nt == T && T == 3) {
                    const int8_t *x0p = in + toff[0], *x1p = in + toff[1], *x2p = in + toff[2];
                    const int8_t *w0p = twp[0], *w1p = twp[1], *w2p = twp[2];
                    for (int32_t c = 0; c < C; c++) {
                        const int32_t acc = chan_base[c] + w0p[c * wc] * x0p[c] + w1p[c * wc] * x1p[c] +
                                            w2p[c * wc] * x2p[c];
                        op[c] = tinyasc_opt_out(p, w, acc, c);
                    }
                } else if (nt == T) {
                    for (int32_t c = 0; c < C; c++) {
                        int32_t acc = chan_base[c];
                        for (int32_t j = 0; j < nt; j++) acc += twp[j][c * wc] * in[toff[j] + c];
                        op[c] = tinyasc_opt_out(p, w, acc, c);
                    }
                } else {
                    for (int32_t c = 0; c < C; c++) {
                        int32_t acc = w->bias ? w->bias[c] : 0;
                        for (int32_t j = 0; j < nt; j++) acc += twp[j][c * wc] * (in[toff[j] + c] + p->input_offset);
                        op[c] = tinyasc_opt_out(p, w, acc, c);
                    }
                }
            }
        }
    }
    return 0;
}

/*
 * Line channel-wise convolution: k taps along one axis (at most TINYASC_COLUMN_MAX_T), stride 1,
 * dilation 1, no padding across the other axis: a column (k_h x 1: the frequency convolutions of a
 * BC-ResBlock) or a row (1 x k_w: the same convolutions in a time-major streamed model). Channel by
 * channel down each line: the channel's taps, bias and requantization constants stay in registers,
 * and so do the window's inputs, each read once. Output position i of a line is written after input
 * positions up to i - pad + k - 1 >= i were read, so output may be input (in place) when the output
 * line is no longer than the input's and pad < k. The same integer sums and rounding as the
 * portable kernel.
 */
typedef tinyasc_lines chan_lines;

/* Three taps, any requantization: folded (folded = 1: tinyasc_rq_zp_folds, the output zero point inside
 * the rounding constant) or the general MBQM (folded = 0: a shift of -1 or more, or below -23, as a pruned
 * channel's scale may give), clamped to the activation range (on the whole int8 range the DSP cores' asm,
 * tinyasc_line3_dsp_s8, and Helium's line3_mve take the channels that fold: no copy of this loop for SSAT).
 * Inputs are carried raw; a position outside the input carries -input_offset, which cancels its tap in
 * base = bias + input_offset * sum(w). */
static inline __attribute__((always_inline)) int8_t line3_out(const tinyasc_conv_params *p, int32_t acc, int32_t m,
                                                              int32_t s, int32_t rnd, int32_t sh, const int folded)
{
    if (!folded) return tinyasc_opt_out_ms(p, acc, m, s);
    return (int8_t)tinyasc_clamp(tinyasc_rq_apply(acc, m, rnd, sh), p->act_min, p->act_max);
}

static inline __attribute__((always_inline)) void line3(const tinyasc_conv_params *p, const chan_lines *g,
                                                        const int8_t *wp, int32_t wt, int32_t bias, int32_t m,
                                                        int32_t s, const int8_t *in, int8_t *out, const int folded)
{
    const int32_t R = g->in_step, RO = g->out_step, pad = g->pad, off = p->input_offset;
    const int32_t w0 = wp[0], w1 = wp[wt], w2 = wp[2 * wt];
    const int32_t base = bias + off * (w0 + w1 + w2);
    int32_t rnd = 0, sh = 0;
    if (folded) tinyasc_rq_consts(s, p->output_offset, &rnd, &sh);
    /* positions entering the window at i: r = i - pad + 2 >= 0; inside the input for i < n_in */
    int32_t n_in = g->len_in + pad - 2;
    if (n_in > g->len_out) n_in = g->len_out;
    for (int32_t l = 0; l < g->lines; l++) {
        const int8_t *ip = in + g->in_first + l * g->in_line;
        int8_t *op = out + l * g->out_line;
        int8_t *const op_in = op + n_in * RO, *const op_end = op + g->len_out * RO;
        int32_t x0 = pad >= 1 ? -off : ip[-pad * R];
        int32_t x1 = pad >= 2 ? -off : ip[(1 - pad) * R];
        const int8_t *rp = ip + (2 - pad) * R;
        for (; op < op_in; rp += R, op += RO) {
            const int32_t x2 = *rp;
            *op = line3_out(p, base + w0 * x0 + w1 * x1 + w2 * x2, m, s, rnd, sh, folded);
            x0 = x1;
            x1 = x2;
        }
        for (; op < op_end; op += RO) {
            *op = line3_out(p, base + w0 * x0 + w1 * x1 - w2 * off, m, s, rnd, sh, folded);
            x0 = x1;
            x1 = -off;
        }
    }
}

#if defined(__ARM_FEATURE_MVE)
/* line3_mve's outputs pass: m int32 sums of a group of four channels (sums[4k..4k+3]) through the four-lane output
 * path (any: its form for a left shift in the group), stored RO bytes apart. A function of its own: its output
 * constants and the sums pass's taps and window would not fit Helium's eight vector registers together. */
static __attribute__((noinline)) void line3_out_mve(const int32_t *sums, int32_t m, int8_t *op, int32_t RO,
                                                    const tinyasc_rq_x4_any *qa, mve_pred16_t pr, int any)
{
    if (any) {
        const tinyasc_rq_x4_any q = *qa;
        for (int32_t k = 0; k < m; k++, op += RO) vstrbq_p_s32(op, tinyasc_rq_x4_any_apply(vldrwq_s32(sums + 4 * k), q), pr);
    } else if (pr == 0xffff) {
        const tinyasc_rq_x4 q = qa->q;
        for (int32_t k = 0; k < m; k++, op += RO) vstrbq_s32(op, tinyasc_rq_x4_apply(vldrwq_s32(sums + 4 * k), q));
    } else {
        const tinyasc_rq_x4 q = qa->q;
        for (int32_t k = 0; k < m; k++, op += RO) vstrbq_p_s32(op, tinyasc_rq_x4_apply(vldrwq_s32(sums + 4 * k), q), pr);
    }
}

/* The sums pass over positions [k, k1) of a chunk: input u read at rp (R bytes apart), out[j - 2] = p1 + w2 u
 * stored, p1 = p2 + w1 u, p2 = base + w0 u: taps, base, p1, p2, u and a product, eight vector registers. Whole
 * groups load without a predicate; past the line's end u is the zero point, a scalar (LINE3_SUMS_OUTSIDE). */
#define LINE3_SUMS(LOAD)                                                 \
    for (; k < k1; k++, rp += R) {                                       \
        const int32x4_t u = LOAD;                                        \
        vstrwq_s32(sums + 4 * k, vaddq_s32(p1, vmulq_s32(w2, u)));       \
        p1 = vaddq_s32(p2, vmulq_s32(w1, u));                            \
        p2 = vaddq_s32(base, vmulq_s32(w0, u));                          \
    }
#define LINE3_SUMS_OUTSIDE(ZP)                                           \
    for (; k < k1; k++) {                                                \
        vstrwq_s32(sums + 4 * k, vaddq_s32(p1, vmulq_n_s32(w2, ZP)));    \
        p1 = vaddq_s32(p2, vmulq_n_s32(w1, ZP));                         \
        p2 = vaddq_s32(base, vmulq_n_s32(w0, ZP));                       \
    }

/* line3 on Helium, four channels at a time (int32 lanes; the last group predicated), the whole int8 range, in two
 * passes over chunks of up to 256 positions of a line (the int32 sums in the gather buffer): the sums with the
 * window transposed (each input read once and added to the three outputs it feeds), then the outputs
 * (line3_out_mve). The same sums as the scalar kernel (an integer sum does not depend on its order); in place,
 * output i is stored after every input up to i - pad + 2 was read (pad < 3), as the scalar kernel. */
static void line3_mve(const tinyasc_conv_params *p, const chan_lines *g, const tinyasc_weights *w, int32_t wt,
                      int32_t wc, const int8_t *in, int8_t *out, int32_t c0, int32_t c1)
{
    const int32_t R = g->in_step, RO = g->out_step, pad = g->pad, off = p->input_offset;
    const int32_t len_in = g->len_in, len_out = g->len_out;
    int32_t *const sums = (int32_t *)(void *)tinyasc_mve_gather;
    const int32_t chunk = (int32_t)(sizeof(tinyasc_mve_gather) / (4 * sizeof(int32_t)));
    for (int32_t c = c0; c < c1; c += 4) {
        const int32_t n = c1 - c < 4 ? c1 - c : 4;
        const mve_pred16_t pr = vctp32q((uint32_t)n);
        int32_t t0[4] = {0, 0, 0, 0}, t1[4] = {0, 0, 0, 0}, t2[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
        for (int32_t j = 0; j < n; j++) {
            const int8_t *wp = w->data + (c + j) * wc;
            t0[j] = wp[0], t1[j] = wp[wt], t2[j] = wp[2 * wt];
            b[j] = (w->bias ? w->bias[c + j] : 0) + off * (t0[j] + t1[j] + t2[j]);
        }
        const int32x4_t w0 = vldrwq_s32(t0), w1 = vldrwq_s32(t1), w2 = vldrwq_s32(t2), base = vldrwq_s32(b);
        const tinyasc_rq_x4_any q = tinyasc_rq_x4_any_consts(w, p->output_offset, c, pr);
        const int any = !tinyasc_right_shifts(w->shift + c, n, 1);
        for (int32_t l = 0; l < g->lines; l++) {
            const int8_t *ip = in + g->in_first + l * g->in_line + c;
            int8_t *op = out + l * g->out_line + c;
            const int32x4_t outside = vdupq_n_s32(-off);
            const int32x4_t u0 = pad >= 1 ? outside : vldrbq_z_s32(ip - pad * R, pr);
            const int32x4_t u1 = pad >= 2 ? outside : vldrbq_z_s32(ip + (1 - pad) * R, pr);
            int32x4_t p1 = vaddq_s32(vaddq_s32(base, vmulq_s32(w0, u0)), vmulq_s32(w1, u1));
            int32x4_t p2 = vaddq_s32(base, vmulq_s32(w0, u1));
            int32_t j = 2 - pad; /* the next input position */
            for (int32_t i0 = 0; i0 < len_out; i0 += chunk) {
                const int32_t m = len_out - i0 < chunk ? len_out - i0 : chunk;
                const int32_t inside = len_in - j < 0 ? 0 : len_in - j < m ? len_in - j : m;
                const int8_t *rp = ip + j * R;
                int32_t k = 0, k1 = inside;
                if (n == 4) {
                    LINE3_SUMS(vldrbq_s32(rp))
                } else {
                    LINE3_SUMS(vldrbq_z_s32(rp, pr))
                }
                k1 = m;
                LINE3_SUMS_OUTSIDE(-off)
                j += m;
                line3_out_mve(sums, m, op + i0 * RO, RO, &q, pr, any);
            }
        }
    }
}
#undef LINE3_SUMS
#undef LINE3_SUMS_OUTSIDE
#endif

/* Any number of taps up to TINYASC_COLUMN_MAX_T, any requantization: the window as x + input_offset
 * (0 outside the input) in a small array. */
static void line_channel(const tinyasc_conv_params *p, const chan_lines *g, const int8_t *wp, int32_t wt,
                         int32_t bias, int32_t m, int32_t s, const int8_t *in, int8_t *out)
{
    const int32_t R = g->in_step, T = g->taps, pad = g->pad, off = p->input_offset, L = g->len_in;
    int32_t wv[TINYASC_COLUMN_MAX_T], v[TINYASC_COLUMN_MAX_T];
    for (int32_t t = 0; t < T; t++) wv[t] = wp[t * wt];
    for (int32_t l = 0; l < g->lines; l++) {
        const int8_t *ip = in + g->in_first + l * g->in_line;
        int8_t *op = out + l * g->out_line;
        for (int32_t t = 0; t + 1 < T; t++) {
            const int32_t r = t - pad;
            v[t + 1] = (r >= 0 && r < L) ? ip[r * R] + off : 0;
        }
        for (int32_t i = 0; i < g->len_out; i++, op += g->out_step) {
            const int32_t r = i - pad + T - 1;
            int32_t acc = bias;
            for (int32_t t = 0; t + 1 < T; t++) v[t] = v[t + 1];
            v[T - 1] = (r >= 0 && r < L) ? ip[r * R] + off : 0;
            for (int32_t t = 0; t < T; t++) acc += wv[t] * v[t];
            *op = tinyasc_opt_out_ms(p, acc, m, s);
        }
    }
}

/* Channel c of a line convolution on the scalar loops. */
static inline __attribute__((always_inline)) void line_scalar(const tinyasc_conv_params *p, const chan_lines *g,
                                                               const tinyasc_weights *w, int32_t wt, int32_t wc,
                                                               int32_t c, const int8_t *in, int8_t *out)
{
    const int8_t *wp = w->data + c * wc;
    const int32_t bias = w->bias ? w->bias[c] : 0, m = w->multiplier[c], s = w->shift[c];
    if (g->taps == 3 && tinyasc_rq_zp_folds(m, s)) {
        line3(p, g, wp, wt, bias, m, s, in + c, out + c, 1);
    } else if (g->taps == 3) {
        line3(p, g, wp, wt, bias, m, s, in + c, out + c, 0);
    } else {
        line_channel(p, g, wp, wt, bias, m, s, in + c, out + c);
    }
}

/* The line kernels channel by channel; on the DSP cores a three-tap layer's channels that tinyasc_line3_dsp_s8 takes
 * are skipped (tinyasc_chan_column_s8 ran it first, where the library links it). Not inlined: its large frame not
 * under the planes' or the asm layer's. */
static __attribute__((noinline)) int chan_column_lines(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                       const int8_t *input, int8_t *output, int32_t wt, int32_t wc)
{
    const tinyasc_conv_params pl = *p; /* int8 stores may alias anything: keep the fields in registers */
    p = &pl;
    const int32_t C = p->in_c;
    chan_lines g;
    if (tinyasc_chan_lines_of(p, input, output, &g) != 0) return -1;
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
    const int asm_lines = tinyasc_line3_dsp_s8 != 0 && tinyasc_full_range(p) && tinyasc_line3_dsp_lines_ok(&g);
#elif defined(__ARM_FEATURE_MVE)
    const int full_range = tinyasc_full_range(p);
#endif
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * p->in_w * C;
        int8_t *out = output + b * p->out_h * p->out_w * C;
        for (int32_t c = 0; c < C;) {
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
            int took = 0; /* a channel tinyasc_line3_dsp_s8 took */
            if (asm_lines) (void)tinyasc_line3_dsp_base(p, w, wt, wc, c, &took);
            if (took) {
                c++;
                continue;
            }
#endif
#if defined(__ARM_FEATURE_MVE)
            /* Helium takes every group of four channels (the four-lane output path; a group with a left shift,
             * as a pruned channel's scale can give, its form for any shift) */
            if (g.taps == 3 && full_range) {
                line3_mve(p, &g, w, wt, wc, in, out, c, C);
                c = C;
                continue;
            }
#endif
            line_scalar(p, &g, w, wt, wc, c, in, out);
            c++;
        }
    }
    return 0;
}

int tinyasc_chan_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output, int32_t wt, int32_t wc)
{
#if defined(__ARM_FEATURE_MVE)
    /* on planes where the library ships them (tinyasc_opt_line3p.c: the generator adds it for a layer with long
     * enough lines), else the channels-per-lane kernel */
    if (tinyasc_line3p_s8 != 0 && tinyasc_line3p_s8(p, w, input, output, wt, wc) == 0) return 0;
#endif
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
    /* a three-tap line layer where the library ships the DSP cores' asm for it: every line of the channels
     * tinyasc_line3_dsp_base accepts, the rest (if any) by chan_column_lines, which skips those */
    if (tinyasc_line3_dsp_s8 != 0 && tinyasc_line3_dsp_s8(p, w, input, output, wt, wc) == 0) return 0;
#endif
    return chan_column_lines(p, w, input, output, wt, wc);
}

#if !defined(__ARM_FEATURE_DSP) || defined(__ARM_FEATURE_MVE)
/* the pixel pairs of the row pairs are the DSP cores' (tinyasc_opt_dsp.c): elsewhere the portable pairs kernel */
int tinyasc_simd_conv2d_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                                 int8_t *output)
{
    (void)p; (void)w; (void)input; (void)output;
    return -1;
}
#endif

#if !defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
int tinyasc_simd_conv_c1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                            int8_t *output)
{
    (void)p; (void)w; (void)input; (void)output;
    return -1;
}
int tinyasc_simd_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output)
{
    (void)p; (void)w; (void)input; (void)output;
    return -1;
}
int tinyasc_simd_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output)
{
    (void)p; (void)w; (void)input; (void)output;
    return -1;
}
int tinyasc_simd_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    (void)p; (void)w; (void)input; (void)output;
    return -1;
}
#endif

void tinyasc_opt_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                       int8_t *output)
{
    /* sparse weights carry their kernel (c/sparse): linked only into models that have them */
    if (w->sparse != NULL && ((const tinyasc_sparse_weights *)w->sparse)->kernel(p, w, input, output) == 0) return;
    if (w->data == NULL) return; /* sparse-only weights the sparse kernel refused: cannot happen for generated code */
    if (p->filter_in_c == 1 && p->in_c > 1 &&
        tinyasc_chan_conv_s8(p, w, input, output, 1, p->k_h * p->k_w) == 0) return;
    if (p->in_c == 1 && tinyasc_simd_conv_c1_s8(p, w, input, output) == 0) return;
    if (tinyasc_simd_conv2d_s8(p, w, input, output) == 0) return;
    tinyasc_ref_conv2d_s8(p, w, input, output);
}

void tinyasc_opt_conv2d_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output)
{
#if defined(__ARM_FEATURE_MVE)
    if (w->sparse == NULL && w->data != NULL && tinyasc_simd_conv2d_c16_s8(p, w, input, output) == 0) return;
#endif
    tinyasc_opt_conv2d_s8(p, w, input, output);
}

void tinyasc_opt_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output)
{
    if (tinyasc_simd_conv2d_1x1_s8(p, w, input, output) == 0) return;
    tinyasc_ref_conv2d_s8(p, w, input, output);
}

void tinyasc_opt_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
#if !defined(__ARM_FEATURE_MVE)
#if defined(__ARM_FEATURE_DSP)
    /* on four or more channels, windows longer than the channel-wise kernel's tap list (e.g. a column
     * spanning the frequency axis), two-dimensional windows (k_h, k_w > 1: the channel-wise kernel
     * would take them one channel and one byte per tap) and columns of more than three taps (the line
     * kernel keeps the three-tap ones, in registers): the DSP kernel's four channels per word */
    if ((p->k_h * p->k_w > 16 || (p->k_h > 1 && p->k_w > 1) || (p->k_w == 1 && p->k_h > 3 && input != output)) &&
        p->in_c >= 4 &&
        tinyasc_simd_depthwise_conv2d_s8(p, w, input, output) == 0) return;
#endif
    if (p->depth_multiplier == 1 && tinyasc_chan_conv_s8(p, w, input, output, p->out_c, 1) == 0) return;
#else
    /* a line of three taps over the whole int8 range (a BC-ResBlock's frequency or time convolution): the line
     * kernel's Helium path, group by group of four channels with the window in registers (other lines would take
     * its scalar loop, slower here than the depthwise kernel's lanes) */
    if (p->depth_multiplier == 1 && input != output && p->k_h * p->k_w == 3 && tinyasc_full_range(p) &&
        tinyasc_chan_column_s8(p, w, input, output, p->out_c, 1) == 0) return;
    /* long columns, every window inside, by VMLADAVA where the library ships that kernel (tinyasc_opt_dw_taps.c) */
    if (tinyasc_dw_taps_s8 != 0 && tinyasc_dw_taps_s8(p, w, input, output) == 0) return;
#endif
#if defined(__ARM_FEATURE_DSP) || defined(__ARM_FEATURE_MVE)
    /* the DSP and Helium depthwise kernels take every layer of multiplier 1, this entry's precondition on these
     * cores (the generator sends the others to tinyasc_opt_depthwise_conv2d_multiplier_s8): no loop behind them */
    (void)tinyasc_simd_depthwise_conv2d_s8(p, w, input, output);
#else
    if (tinyasc_simd_depthwise_conv2d_s8(p, w, input, output) == 0) return;
    tinyasc_ref_depthwise_conv2d_s8(p, w, input, output);
#endif
}

void tinyasc_opt_depthwise_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
    /* tinyasc_opt_depthwise_conv2d_s8's DSP kernel for these columns (more than three taps, not in place), with its
     * runs of whole columns */
    if (p->in_c >= 4 && p->k_w == 1 && p->k_h > 3 && input != output &&
        tinyasc_simd_depthwise_column_s8(p, w, input, output) == 0)
        return;
#elif defined(__ARM_FEATURE_MVE)
    /* long columns, every window inside, by VMLADAVA where the library ships that kernel (tinyasc_opt_dw_taps.c);
     * else Helium's depthwise kernel with the runs of short whole columns (more than three taps: the line kernels
     * keep the three-tap ones) */
    if (tinyasc_dw_taps_s8 != 0 && tinyasc_dw_taps_s8(p, w, input, output) == 0) return;
    if (p->k_w == 1 && p->k_h > 3 && input != output && tinyasc_simd_depthwise_column_s8(p, w, input, output) == 0)
        return;
#endif
    tinyasc_opt_depthwise_conv2d_s8(p, w, input, output);
}

/* Depth multiplier above one: no SIMD path takes it (every one refuses), the loop. */
void tinyasc_opt_depthwise_conv2d_multiplier_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                const int8_t *input, int8_t *output)
{
    tinyasc_ref_depthwise_conv2d_s8(p, w, input, output);
}
