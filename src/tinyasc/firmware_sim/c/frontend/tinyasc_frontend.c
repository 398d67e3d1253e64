/*
 * tinyasc audio front end (see tinyasc_frontend.h for the formula and the contract).
 *
 * Per frame: window the samples into an n_fft buffer, real FFT of n_fft points as a complex
 * radix-2 FFT of n_fft/2 points plus the split step, power spectrum compacted in place,
 * sparse mel filterbank, log. Everything is single precision; the only tables are the half
 * Hann window, a quarter-wave cosine table and the non-zero mel weights.
 */
#include "tinyasc_frontend.h"

#include <string.h>
#if TINYASC_FE_INPUT_RESNORM
#include <math.h> /* sqrtf: one VSQRT.F32 on a Cortex-M4F/M7/M55 */
#endif

#define FE_N TINYASC_FE_N_FFT
#define FE_M (TINYASC_FE_N_FFT / 2)      /* complex FFT size */
#define FE_Q (TINYASC_FE_N_FFT / 4)      /* quarter wave */

#if (TINYASC_FE_N_FFT & (TINYASC_FE_N_FFT - 1)) != 0 || TINYASC_FE_N_FFT < 16
#error "TINYASC_FE_N_FFT must be a power of two >= 16"
#endif
#if TINYASC_FE_N_MELS > TINYASC_FE_N_FFT / 2 - 1
#error "the per-frame log-mel must fit in the scratch tail (n_mels <= n_fft/2 - 1)"
#endif
#if TINYASC_FE_WIN_LENGTH > TINYASC_FE_N_FFT
#error "window longer than n_fft"
#endif

typedef union {
    float f;
    uint32_t u;
} fe_bits;

float tinyasc_fe_logf(float x)
{
    /* ln2 split: LN2_HI has 16 significant bits, so e * LN2_HI is exact for every float exponent */
    const float LN2_HI = 0.693145751953125f;
    const float LN2_LO = 1.42860682030941723212e-06f;
    const float SQRT2 = 1.41421356237f;
    fe_bits b;
    int32_t e;
    float m, s, s2, p;

    if (!(x >= 1.17549435e-38f)) { /* also catches NaN, zero, negatives, subnormals */
        x = 1.17549435e-38f;
    }
    b.f = x;
    e = (int32_t)((b.u >> 23) & 0xffu) - 127;
    b.u = (b.u & 0x007fffffu) | 0x3f800000u; /* mantissa as a float in [1, 2) */
    m = b.f;
    if (m > SQRT2) {
        m *= 0.5f;
        e += 1;
    }
    /* log(m) = 2 atanh(s) = 2s + 2s^3/3 + 2s^5/5 + 2s^7/7 + 2s^9/9 + ..., |s| <= 0.1716 */
    s = (m - 1.0f) / (m + 1.0f);
    s2 = s * s;
    p = s2 * (0.666666666667f + s2 * (0.4f + s2 * (0.285714285714f + s2 * 0.222222222222f)));
    return (float)e * LN2_HI + ((float)e * LN2_LO + (2.0f * s + s * p));
}

/* W_N^k = cos(2 pi k / N) - i sin(2 pi k / N), 0 <= k < N/2, from the quarter-wave table. */
static void fe_twiddle(int k, float *c, float *s)
{
    if (k <= FE_Q) {
        *c = tinyasc_fe_cos_quarter[k];
        *s = tinyasc_fe_cos_quarter[FE_Q - k];
    } else {
        *c = -tinyasc_fe_cos_quarter[FE_M - k];
        *s = tinyasc_fe_cos_quarter[k - FE_Q];
    }
}

/* Butterfly (a, b) of a radix-2 DIT stage with twiddle wr - i ws, on complex values held in
 * locals (a##r, a##i): b = a - W b, a = a + W b. Every pass below is made of these, so the FFT's
 * float operations are those of plain radix-2 stages whichever passes group them. */
#define FE_BFLY(a, b, wr, ws)                          \
    do {                                               \
        const float tr_ = (wr) * b##r + (ws) * b##i;   \
        const float ti_ = (wr) * b##i - (ws) * b##r;   \
        b##r = a##r - tr_;                             \
        b##i = a##i - ti_;                             \
        a##r += tr_;                                   \
        a##i += ti_;                                   \
    } while (0)

/* Twiddle -i W: exactly what the table gives for index k + N/4 (fe_twiddle(k + N/4) = (-s, c)). */
#define FE_BFLY_ROT(a, b, wr, ws) FE_BFLY(a, b, -(ws), (wr))

#define FE_LOAD(v, p) \
    float v##r = (p)[0], v##i = (p)[1]
#define FE_STORE(p, v) \
    ((p)[0] = v##r, (p)[1] = v##i)

/* One radix-2 DIT stage of span 2h: butterflies (i, i+h) with twiddle W_{2h}^j. */
static void fe_stage(float *z, int h)
{
    const int len = 2 * h;
    const int tstep = FE_N / len; /* W_M^(j M/len) = W_N^(j N/len) */
    int i, j;
    for (j = 0; j < h; ++j) {
        float wr, ws;
        fe_twiddle(j * tstep, &wr, &ws);
        for (i = j; i < FE_M; i += len) {
            float *pa = z + 2 * i, *pb = z + 2 * (i + h);
            FE_LOAD(a, pa);
            FE_LOAD(b, pb);
            FE_BFLY(a, b, wr, ws);
            FE_STORE(pa, a);
            FE_STORE(pb, b);
        }
    }
}

/* Two consecutive stages (spans 2h, 4h) in one pass over groups of four points i + m h: half the
 * loads and stores of two fe_stage calls, the same float operations. The second stage's twiddle
 * for the odd points is W^(j+h) = -i W^j. */
static void fe_stage_pair(float *z, int h)
{
    const int len = 4 * h;
    int i, j;
    for (j = 0; j < h; ++j) {
        float w1r, w1s, w2r, w2s;
        fe_twiddle(j * (FE_N / (2 * h)), &w1r, &w1s);
        fe_twiddle(j * (FE_N / len), &w2r, &w2s);
        for (i = j; i < FE_M; i += len) {
            float *p = z + 2 * i;
            FE_LOAD(a, p);
            FE_LOAD(b, p + 2 * h);
            FE_LOAD(c, p + 4 * h);
            FE_LOAD(d, p + 6 * h);
            FE_BFLY(a, b, w1r, w1s);
            FE_BFLY(c, d, w1r, w1s);
            FE_BFLY(a, c, w2r, w2s);
            FE_BFLY_ROT(b, d, w2r, w2s);
            FE_STORE(p, a);
            FE_STORE(p + 2 * h, b);
            FE_STORE(p + 4 * h, c);
            FE_STORE(p + 6 * h, d);
        }
    }
}

/* Three consecutive stages (spans 2h, 4h, 8h) in one pass over groups of eight points i + m h:
 * a third of the loads and stores of three fe_stage calls, the same float operations. Twiddles
 * of the group's point j (j < h): W_{2h}^j for the first stage; W_{4h}^j and -i times it for the
 * second; W_{8h}^j, W_{8h}^(j+h) (table index + N/8) and -i times each for the third. */
static void fe_stage_triple(float *z, int h)
{
    const int len = 8 * h;
    int i, j;
    for (j = 0; j < h; ++j) {
        float w1r, w1s, w2r, w2s, w3r, w3s, w4r, w4s;
        fe_twiddle(j * (FE_N / (2 * h)), &w1r, &w1s);
        fe_twiddle(j * (FE_N / (4 * h)), &w2r, &w2s);
        fe_twiddle(j * (FE_N / len), &w3r, &w3s);
        fe_twiddle(j * (FE_N / len) + FE_N / 8, &w4r, &w4s);
        for (i = j; i < FE_M; i += len) {
            float *p = z + 2 * i;
            FE_LOAD(a, p);
            FE_LOAD(b, p + 2 * h);
            FE_LOAD(c, p + 4 * h);
            FE_LOAD(d, p + 6 * h);
            FE_LOAD(e, p + 8 * h);
            FE_LOAD(f, p + 10 * h);
            FE_LOAD(g, p + 12 * h);
            FE_LOAD(k, p + 14 * h);
            FE_BFLY(a, b, w1r, w1s);
            FE_BFLY(c, d, w1r, w1s);
            FE_BFLY(e, f, w1r, w1s);
            FE_BFLY(g, k, w1r, w1s);
            FE_BFLY(a, c, w2r, w2s);
            FE_BFLY_ROT(b, d, w2r, w2s);
            FE_BFLY(e, g, w2r, w2s);
            FE_BFLY_ROT(f, k, w2r, w2s);
            FE_BFLY(a, e, w3r, w3s);
            FE_BFLY(b, f, w4r, w4s);
            FE_BFLY_ROT(c, g, w3r, w3s);
            FE_BFLY_ROT(d, k, w4r, w4s);
            FE_STORE(p, a);
            FE_STORE(p + 2 * h, b);
            FE_STORE(p + 4 * h, c);
            FE_STORE(p + 6 * h, d);
            FE_STORE(p + 8 * h, e);
            FE_STORE(p + 10 * h, f);
            FE_STORE(p + 12 * h, g);
            FE_STORE(p + 14 * h, k);
        }
    }
}

/* Thumb-2 cores of the M profile reverse bits in one instruction (RBIT); elsewhere the
 * permutation walks a reversed counter. */
#if defined(__GNUC__) && (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || \
                          defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__))
#define FE_HAVE_RBIT 1
#define FE_LOG2_M __builtin_ctz(FE_M)
#else
#define FE_HAVE_RBIT 0
#endif

/* In-place complex radix-2 decimation-in-time FFT of FE_M points (interleaved re, im). */
static void fe_cfft(float *z)
{
    int i, j, h;

#if FE_HAVE_RBIT
    for (i = 1; i < FE_M - 1; ++i) {
        uint32_t r;
        __asm__("rbit %0, %1" : "=r"(r) : "r"((uint32_t)i));
        j = (int)(r >> (32 - FE_LOG2_M));
        if (i < j) {
            FE_LOAD(a, z + 2 * i);
            FE_LOAD(b, z + 2 * j);
            FE_STORE(z + 2 * i, b);
            FE_STORE(z + 2 * j, a);
        }
    }
#else
    for (i = 0, j = 0; i < FE_M; ++i) {
        int bit;
        if (i < j) {
            FE_LOAD(a, z + 2 * i);
            FE_LOAD(b, z + 2 * j);
            FE_STORE(z + 2 * i, b);
            FE_STORE(z + 2 * j, a);
        }
        bit = FE_M >> 1; /* j = bit reversal of i + 1, by a reversed increment */
        while (bit > 0 && (j & bit)) {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
    }
#endif
    /* stages 1 and 2 (twiddles 1 and -i) as one multiplication-free radix-4 pass; results are
     * identical to the general butterflies since the table holds cos 0 = 1 and cos(pi/2) = 0 */
    for (i = 0; i < FE_M; i += 4) {
        float *a = z + 2 * i;
        const float s0r = a[0] + a[2], s0i = a[1] + a[3];
        const float d0r = a[0] - a[2], d0i = a[1] - a[3];
        const float s1r = a[4] + a[6], s1i = a[5] + a[7];
        const float d1r = a[4] - a[6], d1i = a[5] - a[7];
        a[0] = s0r + s1r;
        a[1] = s0i + s1i;
        a[4] = s0r - s1r;
        a[5] = s0i - s1i;
        a[2] = d0r + d1i; /* d0 + (-i) d1 */
        a[3] = d0i - d1r;
        a[6] = d0r - d1i;
        a[7] = d0i + d1r;
    }
    for (h = 4; 8 * h <= FE_M; h *= 8) {
        fe_stage_triple(z, h);
    }
    if (4 * h <= FE_M) {
        fe_stage_pair(z, h);
    } else if (2 * h <= FE_M) {
        fe_stage(z, h);
    }
}

/* Real FFT of buf[0..N) followed by |X[k]|^2 for k = 0..N/2, left in buf[0..N/2]. */
static void fe_power_spectrum(float *buf)
{
    int k;
    float nyquist;

    fe_cfft(buf); /* z[n] = x[2n] + i x[2n+1]  ->  Z[k] */
    {
        const float r = buf[0], i = buf[1];
        const float x0 = r + i, xm = r - i; /* X[0], X[N/2]: both real */
        buf[0] = x0 * x0;
        nyquist = xm * xm;
    }
    /* X[k] = E + W^k O, X[M-k] = conj(E - W^k O), with E = (Z[k] + conj Z[M-k]) / 2 and
     * O = (Z[k] - conj Z[M-k]) / 2i. Powers go to the slots just consumed: P[k] -> buf[2k]. */
    for (k = 1; k <= FE_M / 2; ++k) {
        float *zk = buf + 2 * k;
        float *zm = buf + 2 * (FE_M - k);
        const float er = 0.5f * (zk[0] + zm[0]);
        const float ei = 0.5f * (zk[1] - zm[1]);
        const float or_ = 0.5f * (zk[1] + zm[1]);
        const float oi = -0.5f * (zk[0] - zm[0]);
        const float wr = tinyasc_fe_cos_quarter[k]; /* fe_twiddle(k) for k <= N/4 */
        const float ws = tinyasc_fe_cos_quarter[FE_Q - k];
        float tr, ti, ar, ai, br, bi;
        tr = wr * or_ + ws * oi; /* (wr - i ws)(or + i oi) */
        ti = wr * oi - ws * or_;
        ar = er + tr;
        ai = ei + ti;
        br = er - tr;
        bi = ei - ti;
        zk[0] = ar * ar + ai * ai;
        zm[0] = br * br + bi * bi;
    }
    /* compact P[k] = buf[2k] to buf[k]; ascending order never overwrites an unread value */
    for (k = 1; k < FE_M; ++k) {
        buf[k] = buf[2 * k];
    }
    buf[FE_M] = nyquist;
}

/* Sample i of the padded/cropped clip (i may lie in the STFT padding outside [0, L)). */
static float fe_sample(const int16_t *pcm, int n_avail, int i)
{
    const int L = TINYASC_FE_CLIP_SAMPLES;
    if (i < 0 || i >= L) {
#if TINYASC_FE_PAD_REFLECT
        i = i < 0 ? -i : 2 * (L - 1) - i;
#else
        return 0.0f;
#endif
    }
    return i < n_avail ? (float)pcm[i] * (1.0f / 32768.0f) : 0.0f;
}

/* Power spectrum, mel filterbank and log of the windowed frame in scratch. */
static void fe_logmel_of_windowed(float *scratch, float *logmel)
{
    int n, b;
    fe_power_spectrum(scratch);
    for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
        const float *w = tinyasc_fe_mel_weights + tinyasc_fe_mel_offset[b];
        const float *p = scratch + tinyasc_fe_mel_start[b];
        const int len = tinyasc_fe_mel_offset[b + 1] - tinyasc_fe_mel_offset[b];
        float acc = 0.0f;
        for (n = 0; n < len; ++n) {
            acc += w[n] * p[n];
        }
        logmel[b] = tinyasc_fe_logf(acc + TINYASC_FE_LOG_OFFSET);
    }
}

#define FE_LEFT ((FE_N - TINYASC_FE_WIN_LENGTH) / 2)

/* Clip index of the first windowed sample of a frame (the STFT pads n_fft/2 before the clip). */
static int fe_first_sample(int frame)
{
    return frame * TINYASC_FE_HOP - FE_N / 2 + FE_LEFT;
}

static void fe_zero_outside_window(float *scratch)
{
    memset(scratch, 0, sizeof(float) * (size_t)FE_LEFT);
    memset(scratch + FE_LEFT + TINYASC_FE_WIN_LENGTH, 0,
           sizeof(float) * (size_t)(FE_N - FE_LEFT - TINYASC_FE_WIN_LENGTH));
}

void tinyasc_frontend_frame(const int16_t *pcm, int n_samples, int frame, float *scratch, float *logmel)
{
    const int first = fe_first_sample(frame); /* clip index of window[0] */
    const int n_avail = n_samples < TINYASC_FE_CLIP_SAMPLES ? (n_samples > 0 ? n_samples : 0)
                                                             : TINYASC_FE_CLIP_SAMPLES;
    float *win = scratch + FE_LEFT;
    int n;

    fe_zero_outside_window(scratch);
    /* periodic Hann: w[n] = half[n] for n <= W/2, half[W - n] above */
    if (first >= 0 && first + TINYASC_FE_WIN_LENGTH <= n_avail) {
        const int16_t *p = pcm + first; /* fast path: the window lies inside the recorded samples */
        for (n = 0; n <= TINYASC_FE_WIN_LENGTH / 2; ++n) {
            win[n] = ((float)p[n] * (1.0f / 32768.0f)) * tinyasc_fe_window_half[n];
        }
        for (; n < TINYASC_FE_WIN_LENGTH; ++n) {
            win[n] = ((float)p[n] * (1.0f / 32768.0f)) * tinyasc_fe_window_half[TINYASC_FE_WIN_LENGTH - n];
        }
    } else {
        for (n = 0; n <= TINYASC_FE_WIN_LENGTH / 2; ++n) {
            win[n] = fe_sample(pcm, n_avail, first + n) * tinyasc_fe_window_half[n];
        }
        for (; n < TINYASC_FE_WIN_LENGTH; ++n) {
            win[n] = fe_sample(pcm, n_avail, first + n) * tinyasc_fe_window_half[TINYASC_FE_WIN_LENGTH - n];
        }
    }
    fe_logmel_of_windowed(scratch, logmel);
}

void tinyasc_frontend_features(const int16_t *pcm, int n_samples, float *scratch, float *out_logmel)
{
    float *mel = scratch + FE_M + 1;
    int t, b;
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        tinyasc_frontend_frame(pcm, n_samples, t, scratch, mel);
        for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
            out_logmel[TINYASC_FE_OUT_INDEX(b, t)] = mel[b];
        }
    }
}

tinyasc_fe_input_t tinyasc_frontend_quantize(float x)
{
    const float q = x / TINYASC_FE_INPUT_SCALE;
    float frac;
    int32_t r;
    if (!(q < 1048576.0f)) { /* saturates anyway (NaN too); keeps the int conversion defined */
        return q < 0.0f ? TINYASC_FE_INPUT_MIN : TINYASC_FE_INPUT_MAX;
    }
    if (q <= -1048576.0f) {
        return TINYASC_FE_INPUT_MIN;
    }
    /* round half away from zero, exactly: truncate, then look at the (exact) remainder */
    r = (int32_t)q;
    frac = q - (float)r;
    if (frac >= 0.5f) {
        r += 1;
    } else if (frac <= -0.5f) {
        r -= 1;
    }
    r += TINYASC_FE_INPUT_ZERO_POINT;
    return (tinyasc_fe_input_t)(r > TINYASC_FE_INPUT_MAX ? TINYASC_FE_INPUT_MAX
                                : (r < TINYASC_FE_INPUT_MIN ? TINYASC_FE_INPUT_MIN : r));
}

#if TINYASC_FE_INPUT_RESNORM
/* Per-band statistics of the clip's log-mel over its frames (static RAM, 3 x n_mels floats):
 * sums of x - x[b][0] (the first frame as shift keeps the variance free of cancellation). */
static float fe_rn_shift[TINYASC_FE_N_MELS];
static float fe_rn_sum[TINYASC_FE_N_MELS];
static float fe_rn_sq[TINYASC_FE_N_MELS];

void tinyasc_frontend_resnorm_stats(const int16_t *pcm, int n_samples, float *scratch, float *mean, float *std)
{
    float *mel = scratch + FE_M + 1;
    const float inv_t = 1.0f / (float)TINYASC_FE_N_FRAMES;
    int t, b;
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        tinyasc_frontend_frame(pcm, n_samples, t, scratch, mel);
        for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
            float d;
            if (t == 0) {
                fe_rn_shift[b] = mel[b];
                fe_rn_sum[b] = 0.0f;
                fe_rn_sq[b] = 0.0f;
            }
            d = mel[b] - fe_rn_shift[b];
            fe_rn_sum[b] += d;
            fe_rn_sq[b] += d * d;
        }
    }
    for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
        const float m = fe_rn_sum[b] * inv_t;
        float var = fe_rn_sq[b] * inv_t - m * m;
        if (var < 0.0f) {
            var = 0.0f;
        }
        mean[b] = fe_rn_shift[b] + m;
        std[b] = sqrtf(var + TINYASC_FE_RESNORM_EPS);
    }
}

#endif /* TINYASC_FE_INPUT_RESNORM */

void tinyasc_frontend_quantized(const int16_t *pcm, int n_samples, float *scratch, tinyasc_fe_input_t *out)
{
    float *mel = scratch + FE_M + 1;
    int t, b;
#if TINYASC_FE_INPUT_RESNORM
    /* two passes over the frames: statistics, then normalize and quantize (no float clip held) */
    float *mean = fe_rn_sum, *std = fe_rn_sq; /* overwritten in place once the sums are used */
    tinyasc_frontend_resnorm_stats(pcm, n_samples, scratch, mean, std);
#endif
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        tinyasc_frontend_frame(pcm, n_samples, t, scratch, mel);
        for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
#if TINYASC_FE_INPUT_RESNORM
            const float x = (mel[b] - mean[b]) / std[b] + TINYASC_FE_RESNORM_LAMBDA * mel[b];
#else
            const float x = mel[b];
#endif
            out[TINYASC_FE_OUT_INDEX(b, t)] = tinyasc_frontend_quantize(x);
        }
    }
}

/* ------------------------------------------------------------------------------ streaming */

#if TINYASC_FE_INPUT_RESNORM && !TINYASC_FE_PAD_REFLECT
/* A log-mel value as a code of TINYASC_FE_LOGMEL_STEP nats: round half away from zero, saturated. */
static tinyasc_fe_input_t fe_logmel_code(float x)
{
    const float q = x / TINYASC_FE_LOGMEL_STEP;
    int32_t r = (int32_t)q;
    const float frac = q - (float)r;
    if (frac >= 0.5f) {
        r += 1;
    } else if (frac <= -0.5f) {
        r -= 1;
    }
    return (tinyasc_fe_input_t)(r > TINYASC_FE_INPUT_MAX ? TINYASC_FE_INPUT_MAX
                                : (r < TINYASC_FE_INPUT_MIN ? TINYASC_FE_INPUT_MIN : r));
}
#endif

#if !TINYASC_FE_PAD_REFLECT
void tinyasc_frontend_stream_init(tinyasc_frontend_stream *st)
{
    memset(st, 0, sizeof(*st));
}

/* Frame st->next_frame from the ring: clip samples [first, first + W) that were received are in
 * the ring; those not received (the zero-padded tail) and those outside the clip are zero. */
static void fe_stream_frame(tinyasc_frontend_stream *st, float *scratch, tinyasc_fe_input_t *out)
{
    const int t = st->next_frame;
    const int first = fe_first_sample(t);
    float *win = scratch + FE_LEFT;
    float *mel = scratch + FE_M + 1;
    int n, b;

    /* window samples n in [lo, hi) are received clip samples; the others are zero */
    const int lo = first < 0 ? -first : 0;
    const int hi = st->received - first < TINYASC_FE_WIN_LENGTH ? st->received - first : TINYASC_FE_WIN_LENGTH;
    int r = (first + lo) % TINYASC_FE_WIN_LENGTH; /* ring slot of window sample lo */

    fe_zero_outside_window(scratch);
    for (n = 0; n < TINYASC_FE_WIN_LENGTH; ++n) {
        const float w = n <= TINYASC_FE_WIN_LENGTH / 2 ? tinyasc_fe_window_half[n]
                                                       : tinyasc_fe_window_half[TINYASC_FE_WIN_LENGTH - n];
        float x = 0.0f;
        if (n >= lo && n < hi) {
            x = (float)st->ring[r] * (1.0f / 32768.0f);
            r = r + 1 == TINYASC_FE_WIN_LENGTH ? 0 : r + 1;
        }
        win[n] = x * w;
    }
    fe_logmel_of_windowed(scratch, mel);
    for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
#if TINYASC_FE_INPUT_RESNORM
        /* the statistics from the exact log-mel, in the order tinyasc_frontend_resnorm_stats uses */
        float d;
        if (t == 0) {
            st->rn_shift[b] = mel[b];
            st->rn_sum[b] = 0.0f;
            st->rn_sq[b] = 0.0f;
        }
        d = mel[b] - st->rn_shift[b];
        st->rn_sum[b] += d;
        st->rn_sq[b] += d * d;
        out[TINYASC_FE_OUT_INDEX(b, t)] = fe_logmel_code(mel[b]);
#else
        out[TINYASC_FE_OUT_INDEX(b, t)] = tinyasc_frontend_quantize(mel[b]);
#endif
    }
    st->next_frame = t + 1;
}

/* Samples frame t needs before it can be computed (its window end, at most the clip end). */
static int fe_frame_needs(int t)
{
    const int end = fe_first_sample(t) + TINYASC_FE_WIN_LENGTH;
    return end < TINYASC_FE_CLIP_SAMPLES ? end : TINYASC_FE_CLIP_SAMPLES;
}

int tinyasc_frontend_stream_push(tinyasc_frontend_stream *st, const int16_t *pcm, int n, float *scratch,
                                 tinyasc_fe_input_t *out)
{
    int k = 0;
    while (st->next_frame < TINYASC_FE_N_FRAMES) {
        const int need = fe_frame_needs(st->next_frame);
        /* take samples up to the next frame's need (the ring then holds exactly its window) */
        while (st->received < need && k < n) {
            st->ring[st->received % TINYASC_FE_WIN_LENGTH] = pcm[k++];
            st->received += 1;
        }
        if (st->received < need) {
            break;
        }
        fe_stream_frame(st, scratch, out);
    }
    return st->next_frame;
}

int tinyasc_frontend_stream_finish(tinyasc_frontend_stream *st, float *scratch, tinyasc_fe_input_t *out)
{
    while (st->next_frame < TINYASC_FE_N_FRAMES) {
        fe_stream_frame(st, scratch, out);
    }
#if TINYASC_FE_INPUT_RESNORM
    {
        const float inv_t = 1.0f / (float)TINYASC_FE_N_FRAMES;
        int t, b;
        for (b = 0; b < TINYASC_FE_N_MELS; ++b) { /* mean and std, as tinyasc_frontend_resnorm_stats */
            const float m = st->rn_sum[b] * inv_t;
            float var = st->rn_sq[b] * inv_t - m * m;
            if (var < 0.0f) {
                var = 0.0f;
            }
            st->rn_sum[b] = st->rn_shift[b] + m;
            st->rn_sq[b] = sqrtf(var + TINYASC_FE_RESNORM_EPS);
        }
        for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
            for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
                tinyasc_fe_input_t *q = &out[TINYASC_FE_OUT_INDEX(b, t)];
                const float x = (float)*q * TINYASC_FE_LOGMEL_STEP;
                *q = tinyasc_frontend_quantize((x - st->rn_sum[b]) / st->rn_sq[b] + TINYASC_FE_RESNORM_LAMBDA * x);
            }
        }
    }
#endif
    return st->next_frame;
}
#endif /* !TINYASC_FE_PAD_REFLECT */
