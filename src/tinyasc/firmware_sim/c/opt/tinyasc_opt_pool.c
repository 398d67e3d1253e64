/*
 * MAX_POOL_2D int8, optimized (tinyasc_opt_max_pool_s8; AVERAGE_POOL_2D below), with the contract of the portable
 * kernel in c/kernels/pooling.c (window clipped to the input, an empty window gives -128, then
 * the activation clamp). Per output pixel the window is clipped once; the channels run sixteen
 * at a time on Helium (VMAX.S8, the last vector predicated), else four at a time: on a core with
 * the DSP extension as SSUB8 + SEL (a signed maximum of four bytes in two instructions),
 * elsewhere as four byte compares, the last C % 4 channels one at a time. A row's whole 2 x 2 windows (the usual
 * pooling; on the DSP cores without a clamp) run in one call without the tap loops or the per-pixel clipping
 * (pool2x2_run).
 */
#include "tinyasc_opt.h"
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
#include <arm_acle.h>
#endif

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

/* Channels [0, C) of one output pixel: the window's nh x nw taps from w0 (rows row bytes apart). */
static inline void pool_pixel_mve(const int8_t *w0, int32_t nh, int32_t nw, int32_t C, int32_t row, int8x16_t lo,
                                  int8x16_t hi, int8_t *o)
{
    for (int32_t c = 0; c < C; c += 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)(C - c));
        int8x16_t m = vdupq_n_s8(-128); /* an empty window's value, and max's identity */
        const int8_t *r = w0 + c;
        for (int32_t fy = 0; fy < nh; fy++, r += row)
            for (int32_t fx = 0; fx < nw; fx++) m = vmaxq_s8(m, vldrbq_z_s8(r + fx * C, pr));
        vstrbq_p_s8(o + c, vminq_s8(vmaxq_s8(m, lo), hi), pr);
    }
}
#elif defined(__ARM_FEATURE_DSP)
/* Lane-wise signed maximum of four bytes: SSUB8 sets GE where a >= b, SEL takes a there. */
static inline uint32_t pool_max4(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static inline uint32_t pool_min4(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}
#else
static inline uint32_t pool_lanes(uint32_t a, uint32_t b, int max)
{
    uint32_t r = 0;
    for (int k = 0; k < 32; k += 8) {
        const int8_t x = (int8_t)(a >> k), y = (int8_t)(b >> k);
        r |= (uint32_t)(uint8_t)((x >= y) == (max != 0) ? x : y) << k;
    }
    return r;
}
static inline uint32_t pool_max4(uint32_t a, uint32_t b) { return pool_lanes(a, b, 1); }
static inline uint32_t pool_min4(uint32_t a, uint32_t b) { return pool_lanes(a, b, 0); }
#endif

#if !defined(__ARM_FEATURE_MVE)
static inline uint32_t pool_splat(int32_t v)
{
    return (uint32_t)(uint8_t)v * 0x01010101u;
}
#endif

/* n output pixels of one row whose 2 x 2 windows lie wholly inside the input (the first window at w0, the next step
 * bytes further; rows row bytes apart), outputs from o: the four taps of each channel group without the tap loops or
 * the per-pixel window clipping. Helium: sixteen channels per vector (the last predicated), clamped when the range is
 * inside int8; elsewhere four per word, no clamp (the caller's condition), the last C % 4 one at a time. */
#if defined(__ARM_FEATURE_MVE)
static __attribute__((noinline)) void pool2x2_run(const int8_t *w0, int32_t n, int32_t C, int32_t row, int32_t step,
                                                  int8_t *o, int8x16_t lo, int8x16_t hi, int clamp)
{
    const int32_t C16 = C & ~15;
    const mve_pred16_t pr = vctp8q((uint32_t)(C - C16));
    for (; n > 0; n--, w0 += step, o += C) {
        int32_t c = 0;
        for (; c < C16; c += 16) { /* whole vectors: no predicate to set on each load and the store */
            const int8_t *r = w0 + c;
            int8x16_t m = vmaxq_s8(vmaxq_s8(vldrbq_s8(r), vldrbq_s8(r + C)),
                                   vmaxq_s8(vldrbq_s8(r + row), vldrbq_s8(r + row + C)));
            if (clamp) m = vminq_s8(vmaxq_s8(m, lo), hi);
            vstrbq_s8(o + c, m);
        }
        if (c < C) {
            const int8_t *r = w0 + c;
            int8x16_t m = vmaxq_s8(vmaxq_s8(vldrbq_z_s8(r, pr), vldrbq_z_s8(r + C, pr)),
                                   vmaxq_s8(vldrbq_z_s8(r + row, pr), vldrbq_z_s8(r + row + C, pr)));
            if (clamp) m = vminq_s8(vmaxq_s8(m, lo), hi);
            vstrbq_p_s8(o + c, m, pr);
        }
    }
}
#else
static void pool2x2_run(const int8_t *w0, int32_t n, int32_t C, int32_t row, int32_t step, int8_t *o)
{
    const int32_t C4 = C & ~3;
    for (; n > 0; n--, w0 += step, o += C) {
        int32_t c = 0;
        for (; c < C4; c += 4) {
            const int8_t *r = w0 + c;
            const uint32_t m = pool_max4(pool_max4(tinyasc_load_u32(r), tinyasc_load_u32(r + C)),
                                         pool_max4(tinyasc_load_u32(r + row), tinyasc_load_u32(r + row + C)));
            memcpy(o + c, &m, 4);
        }
        for (; c < C; c++) {
            const int8_t *r = w0 + c;
            int32_t m = r[0] > r[C] ? r[0] : r[C];
            if (r[row] > m) m = r[row];
            if (r[row + C] > m) m = r[row + C];
            o[c] = (int8_t)m;
        }
    }
}
#endif


void tinyasc_opt_max_pool_s8(const tinyasc_pool_params *p_in, const int8_t *in, int8_t *out)
{
    /* a local copy: int8 stores may alias anything, so fields read through p_in would be reloaded */
    const tinyasc_pool_params pl = *p_in;
    const tinyasc_pool_params *p = &pl;
    const int32_t C = p->channels, row = p->in_w * C;
    const int clamp = p->act_min > -128 || p->act_max < 127;
#if defined(__ARM_FEATURE_MVE)
    const int8x16_t lo16 = vdupq_n_s8((int8_t)p->act_min), hi16 = vdupq_n_s8((int8_t)p->act_max);
    const int two = p->f_h == 2 && p->f_w == 2;
#else
    const int32_t C4 = C & ~3;
    const uint32_t lo4 = pool_splat(p->act_min), hi4 = pool_splat(p->act_max);
    const int two = p->f_h == 2 && p->f_w == 2 && !clamp;
#endif
    /* the output columns whose windows lie inside the input along w: [ox_lo, ox_hi) */
    int32_t ox_lo, ox_hi;
    tinyasc_inside_range(p->out_w, p->in_w, p->f_w - 1, p->stride_w, p->pad_w, &ox_lo, &ox_hi);
    for (int32_t b = 0; b < p->batches; b++) {
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = y0 < 0 ? -y0 : 0;
            const int32_t fy1 = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
            const int whole_rows = two && fy0 == 0 && fy1 == 2;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                if (whole_rows && ox == ox_lo) { /* the row's whole 2 x 2 windows in one run */
                    const int8_t *w0 = in + ((b * p->in_h + y0) * p->in_w + ox * p->stride_w - p->pad_w) * C;
                    int8_t *o = out + ((b * p->out_h + oy) * p->out_w + ox) * C;
#if defined(__ARM_FEATURE_MVE)
                    pool2x2_run(w0, ox_hi - ox, C, row, p->stride_w * C, o, lo16, hi16, clamp);
#else
                    pool2x2_run(w0, ox_hi - ox, C, row, p->stride_w * C, o);
#endif
                    ox = ox_hi - 1;
                    continue;
                }
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fx1 = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
                int8_t *o = out + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int32_t nh = fy1 - fy0, nw = fx1 - fx0;
                const int8_t *w0 = nh > 0 && nw > 0 ? in + ((b * p->in_h + y0 + fy0) * p->in_w + x0 + fx0) * C : in;
#if defined(__ARM_FEATURE_MVE)
                pool_pixel_mve(w0, nh, nw, C, row, lo16, hi16, o);
#else
                int32_t c = 0;
                for (; c < C4; c += 4) {
                    uint32_t m = pool_splat(-128); /* an empty window's value, and max's identity */
                    const int8_t *r = w0 + c;
                    for (int32_t fy = 0; fy < nh; fy++, r += row) {
                        for (int32_t fx = 0; fx < nw; fx++) m = pool_max4(m, tinyasc_load_u32(r + fx * C));
                    }
                    if (clamp) m = pool_min4(pool_max4(m, lo4), hi4);
                    memcpy(o + c, &m, 4);
                }
                for (; c < C; c++) {
                    int32_t m = -128;
                    const int8_t *r = w0 + c;
                    for (int32_t fy = 0; fy < nh; fy++, r += row) {
                        for (int32_t fx = 0; fx < nw; fx++) {
                            const int32_t v = r[fx * C];
                            if (v > m) m = v;
                        }
                    }
                    o[c] = (int8_t)tinyasc_clamp(m, p->act_min, p->act_max);
                }
#endif
            }
        }
    }
}

/*
 * AVERAGE_POOL_2D int8 (tinyasc_opt_avg_pool_s8), with the contract of the portable kernel: the sum over the window
 * clipped to the input, divided by its count rounding half away from zero (C division, as TFLite), then the activation
 * clamp. Windows of at most 256 taps sum in int16 lanes (|sum| <= 128 x 256 fits): sixteen channels per two VLDRB.S16
 * and two VADD on Helium, their division four channels per vector (avg_out_mve), four per word on the DSP cores
 * (SXTB16 of the word and of the word rotated by 8, SADD16); larger windows, the last C % 4 channels on the DSP cores
 * and other cores one channel at a time.
 */
static inline __attribute__((always_inline)) int8_t avg_out(const tinyasc_pool_params *p, int32_t acc, int32_t count)
{
    if (count > 0) acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
}

#if defined(__ARM_FEATURE_MVE)
/* avg_out of n channels from their int16 sums over a window of count >= 2 taps, four channels per vector: the division
 * by count a multiply-high by its reciprocal, m = 2^(16 + l) / count + 1 with l = ceil(log2 count) (Granlund and
 * Montgomery: floor(a / count) = (a m) >> (16 + l) for every a < 2^16, and a = |sum| + count / 2 <= 128 x 256 + 128),
 * the sum's sign applied after, as C's division truncates toward zero. */
static void avg_out_mve(const tinyasc_pool_params *p, const int16_t *sums, int8_t *o, int32_t n, int32_t count)
{
    const int32_t l = 32 - __builtin_clz((uint32_t)(count - 1));
    const uint32x4_t m = vdupq_n_u32((((uint32_t)1 << (16 + l)) / (uint32_t)count + 1u) << (16 - l)); /* < 2^32 */
    const uint32x4_t half = vdupq_n_u32((uint32_t)(count / 2));
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    for (int32_t j = 0; j < n; j += 4) {
        const mve_pred16_t pr = vctp32q((uint32_t)(n - j));
        const int32x4_t s = vldrhq_z_s32(sums + j, pr);
        const uint32x4_t a = vaddq_u32(vreinterpretq_u32_s32(vabsq_s32(s)), half);
        int32x4_t q = vreinterpretq_s32_u32(vmulhq_u32(a, m));
        q = vnegq_m_s32(q, q, vcmpltq_n_s32(s, 0));
        vstrbq_p_s32(o + j, vminq_s32(vmaxq_s32(q, lo), hi), pr);
    }
}
#endif

void tinyasc_opt_avg_pool_s8(const tinyasc_pool_params *p_in, const int8_t *in, int8_t *out)
{
    /* a local copy: int8 stores may alias anything, so fields read through p_in would be reloaded */
    const tinyasc_pool_params pl = *p_in;
    const tinyasc_pool_params *p = &pl;
    const int32_t C = p->channels, row = p->in_w * C;
    for (int32_t b = 0; b < p->batches; b++) {
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = y0 < 0 ? -y0 : 0;
            const int32_t fy1 = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fx1 = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
                int8_t *o = out + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int32_t nh = fy1 > fy0 ? fy1 - fy0 : 0, nw = fx1 > fx0 ? fx1 - fx0 : 0, count = nh * nw;
                const int8_t *w0 = count > 0 ? in + ((b * p->in_h + y0 + fy0) * p->in_w + x0 + fx0) * C : in;
                int32_t c = 0;
                if (count <= 256) {
#if defined(__ARM_FEATURE_MVE)
                    for (; c < C; c += 16) {
                        const mve_pred16_t lo = vctp16q((uint32_t)(C - c)), hi = vctp16q((uint32_t)(C - c - 8 > 0 ? C - c - 8 : 0));
                        int16x8_t s0 = vdupq_n_s16(0), s1 = vdupq_n_s16(0);
                        const int8_t *r = w0 + c;
                        for (int32_t fy = 0; fy < nh; fy++, r += row)
                            for (int32_t fx = 0; fx < nw; fx++) {
                                s0 = vaddq_s16(s0, vldrbq_z_s16(r + fx * C, lo));
                                s1 = vaddq_s16(s1, vldrbq_z_s16(r + fx * C + 8, hi));
                            }
                        int16_t sums[16];
                        vst1q_s16(sums, s0);
                        vst1q_s16(sums + 8, s1);
                        if (count >= 2)
                            avg_out_mve(p, sums, o + c, C - c < 16 ? C - c : 16, count);
                        else
                            for (int32_t j = 0; j < 16 && c + j < C; j++) o[c + j] = avg_out(p, sums[j], count);
                    }
#elif defined(__ARM_FEATURE_DSP)
                    for (; c + 4 <= C; c += 4) {
                        uint32_t s02 = 0, s13 = 0; /* channels (0, 2) and (1, 3) as int16 lanes */
                        const int8_t *r = w0 + c;
                        for (int32_t fy = 0; fy < nh; fy++, r += row)
                            for (int32_t fx = 0; fx < nw; fx++) {
                                const uint32_t v = tinyasc_load_u32(r + fx * C);
                                s02 = __sadd16(s02, __sxtb16(v));
                                s13 = __sadd16(s13, __sxtb16((v >> 8) | (v << 24)));
                            }
                        o[c] = avg_out(p, (int16_t)s02, count);
                        o[c + 1] = avg_out(p, (int16_t)s13, count);
                        o[c + 2] = avg_out(p, (int32_t)s02 >> 16, count);
                        o[c + 3] = avg_out(p, (int32_t)s13 >> 16, count);
                    }
#endif
                }
                for (; c < C; c++) {
                    int32_t acc = 0;
                    const int8_t *r = w0 + c;
                    for (int32_t fy = 0; fy < nh; fy++, r += row)
                        for (int32_t fx = 0; fx < nw; fx++) acc += r[fx * C];
                    o[c] = avg_out(p, acc, count);
                }
            }
        }
    }
}

/*
 * MAX_POOL_2D int16 (16x8 models), with the contract of tinyasc_max_pool_s16 (an empty window gives
 * -32768, then the activation clamp): eight channels per VMAX.S16 on Helium (the last vector
 * predicated), two per SSUB16 + SEL on the DSP cores, one at a time elsewhere and for an odd last one.
 */
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
static inline uint32_t pool_max2(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub16 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static inline uint32_t pool_min2(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub16 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

static inline uint32_t pool_splat16(int32_t v)
{
    return (uint32_t)(uint16_t)v * 0x00010001u;
}
#endif

void tinyasc_opt_max_pool_s16(const tinyasc_pool_params *p_in, const int16_t *in, int16_t *out)
{
    const tinyasc_pool_params pl = *p_in;
    const tinyasc_pool_params *p = &pl;
    const int32_t C = p->channels, row = p->in_w * C;
#if defined(__ARM_FEATURE_MVE)
    const int16x8_t lo = vdupq_n_s16((int16_t)p->act_min), hi = vdupq_n_s16((int16_t)p->act_max);
#elif defined(__ARM_FEATURE_DSP)
    const int32_t C2 = C & ~1;
    const int clamp = p->act_min > -32768 || p->act_max < 32767;
    const uint32_t lo2 = pool_splat16(p->act_min), hi2 = pool_splat16(p->act_max);
#endif
    for (int32_t b = 0; b < p->batches; b++) {
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy0 = y0 < 0 ? -y0 : 0;
            const int32_t fy1 = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx0 = x0 < 0 ? -x0 : 0;
                const int32_t fx1 = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
                int16_t *o = out + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int32_t nh = fy1 - fy0, nw = fx1 - fx0;
                const int16_t *w0 = nh > 0 && nw > 0 ? in + ((b * p->in_h + y0 + fy0) * p->in_w + x0 + fx0) * C : in;
                int32_t c = 0;
#if defined(__ARM_FEATURE_MVE)
                for (; c < C; c += 8) {
                    const mve_pred16_t pr = vctp16q((uint32_t)(C - c));
                    int16x8_t m = vdupq_n_s16(-32768); /* an empty window's value, and max's identity */
                    const int16_t *r = w0 + c;
                    for (int32_t fy = 0; fy < nh; fy++, r += row)
                        for (int32_t fx = 0; fx < nw; fx++) m = vmaxq_s16(m, vldrhq_z_s16(r + fx * C, pr));
                    vstrhq_p_s16(o + c, vminq_s16(vmaxq_s16(m, lo), hi), pr);
                }
#elif defined(__ARM_FEATURE_DSP)
                for (; c < C2; c += 2) {
                    uint32_t m = pool_splat16(-32768);
                    const int16_t *r = w0 + c;
                    for (int32_t fy = 0; fy < nh; fy++, r += row) {
                        for (int32_t fx = 0; fx < nw; fx++) m = pool_max2(m, tinyasc_load_u32(r + fx * C));
                    }
                    if (clamp) m = pool_min2(pool_max2(m, lo2), hi2);
                    memcpy(o + c, &m, 4);
                }
#endif
                for (; c < C; c++) {
                    int32_t m = -32768;
                    const int16_t *r = w0 + c;
                    for (int32_t fy = 0; fy < nh; fy++, r += row) {
                        for (int32_t fx = 0; fx < nw; fx++) {
                            const int32_t v = r[fx * C];
                            if (v > m) m = v;
                        }
                    }
                    o[c] = (int16_t)tinyasc_clamp(m, p->act_min, p->act_max);
                }
            }
        }
    }
}
