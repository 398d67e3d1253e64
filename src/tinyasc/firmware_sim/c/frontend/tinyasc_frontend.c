/*
 * tinyasc audio front end (see tinyasc_frontend.h for the formula and the contract).
 *
 * Per frame: window the samples straight into the bit-reversed order of an n_fft buffer (the
 * complex FFT's input permutation costs no pass of its own), real FFT of n_fft points as a
 * complex FFT of n_fft/2 points plus the split step, power spectrum left in the even slots,
 * sparse mel filterbank, log. Everything is single precision; the only tables are the half
 * Hann window (scaled by 2^-15, the int16 -> float scale, which is exact), a quarter-wave
 * cosine table and the non-zero mel weights.
 *
 * Built with TINYASC_FE_CMSIS_DSP=1 (and CMSIS-DSP's complex FFT sources, see the library's README) the
 * complex FFT is CMSIS-DSP's arm_cfft_f32 (Helium on a Cortex-M55) on a buffer windowed in natural order;
 * the split step, power spectrum, mel filterbank and log stay these. Its float operations differ from the
 * built-in FFT's, so the features agree within the stated tolerance, not bit for bit.
 */
#include "tinyasc_frontend.h"

#include <stddef.h>
#include <string.h>

/* Helium with floating point (Cortex-M55): the windowing, the FFT's radix-2 stages, the split step and the mel
 * sums four lanes per vector.
 * Each lane performs the scalar code's float operations in the scalar code's order (IEEE single, no fused
 * multiply-add), so the output is the host build's bit for bit. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#define FE_HELIUM 1
#include <arm_mve.h>
#else
#define FE_HELIUM 0
#endif
#if TINYASC_FE_INPUT_RESNORM
#include <math.h> /* sqrtf: one VSQRT.F32 on a Cortex-M4F/M7/M55 */
#endif

/* TINYASC_FE_PLAIN_PASSES=1 (tests): the window, the FFT's passes and the split step each on its own, without the
 * fused first-pass groups (fe_window_fused) and last pass (fe_last_pass_split); the same float operations. */
#ifndef TINYASC_FE_PLAIN_PASSES
#define TINYASC_FE_PLAIN_PASSES 0
#endif

/* The scalar FFT's groups of eight points keep sixteen floats and eight twiddles live in the FPU's 32 registers; GCC's
 * scheduling before register allocation lengthens those lives until some spill to the stack (the radix-8 pass at
 * h = 32: ten VLDR / VSTR and eight VMOV more per group). An in-order core gains nothing from that pass here. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__thumb2__) && defined(__ARM_FP) && !FE_HELIUM
#pragma GCC optimize("no-schedule-insns")
#endif

/* GCC's induction-variable rewrite gives each of the last pass's sixteen table reads (twiddles at strides 8j, 4j,
 * 2j, j, up and down) a pointer of its own, more than the core has registers: they live on the stack, each a load
 * and a store per group. Without it an index is an add from the table's start; without the loop's canonical
 * down-counter (ivcanon) j itself ends the loop, where the counter lived on the stack too (a load and a store per
 * pair of groups). fe_last_pass_split only. */
#if defined(__GNUC__) && !defined(__clang__)
#define FE_NO_IVOPTS __attribute__((optimize("no-ivopts", "no-tree-loop-ivcanon")))
#else
#define FE_NO_IVOPTS
#endif

/* The inner kernels are written once and inlined where they run (their loop's constants then stay in
 * registers); a compiler that is not told may call them instead. */
#if defined(__GNUC__)
#define FE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FE_ALWAYS_INLINE inline
#endif

/* Runs of consecutive floats in one VLDM / VSTM on a Cortex-M with a single-precision FPU (M4F, M7, M55): 1 + n
 * cycles on the M4 against 2 per VLDR / VSTR. GCC does not merge scalar float loads, so the instruction is written
 * here with the values bound to the s registers it lists (register variables, used only as the asm's operands;
 * s0-s15 are caller-saved, so nothing is pushed). Only how the floats move changes: the float operations, and so
 * the output, are the host build's. Elsewhere plain loads and stores. A use names the registers: two runs live at
 * once take disjoint ones. */
#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4)
#define FE_LD2(p, a, b, RA, RB)                                                                              \
    register float a __asm__(RA), b __asm__(RB);                                                             \
    __asm__("vldmia %2, {" RA ", " RB "}" : "=t"(a), "=t"(b) : "r"(p), "m"(*(const float(*)[2])(p)))
#define FE_LD3(p, a, b, c, RA, RB, RC)                                                                       \
    register float a __asm__(RA), b __asm__(RB), c __asm__(RC);                                              \
    __asm__("vldmia %3, {" RA ", " RB ", " RC "}" : "=t"(a), "=t"(b), "=t"(c) : "r"(p),                       \
            "m"(*(const float(*)[3])(p)))
#define FE_LD4(p, a, b, c, d, RA, RB, RC, RD)                                                                \
    register float a __asm__(RA), b __asm__(RB), c __asm__(RC), d __asm__(RD);                               \
    __asm__("vldmia %4, {" RA ", " RB ", " RC ", " RD "}"                                                    \
            : "=t"(a), "=t"(b), "=t"(c), "=t"(d) : "r"(p), "m"(*(const float(*)[4])(p)))
#define FE_LD8(p, a, b, c, d, e, f, g, h)                                                                    \
    register float a __asm__("s0"), b __asm__("s1"), c __asm__("s2"), d __asm__("s3"), e __asm__("s4"),      \
        f __asm__("s5"), g __asm__("s6"), h __asm__("s7");                                                   \
    __asm__("vldmia %8, {s0-s7}" : "=t"(a), "=t"(b), "=t"(c), "=t"(d), "=t"(e), "=t"(f), "=t"(g), "=t"(h)    \
            : "r"(p), "m"(*(const float(*)[8])(p)))
#define FE_ST2(p, a, b, RA, RB)                                                                              \
    do {                                                                                                     \
        register float a_ __asm__(RA) = (a), b_ __asm__(RB) = (b);                                           \
        __asm__("vstmia %3, {" RA ", " RB "}" : "=m"(*(float(*)[2])(p)) : "t"(a_), "t"(b_), "r"(p));        \
    } while (0)
#define FE_ST4(p, a, b, c, d, RA, RB, RC, RD)                                                                \
    do {                                                                                                     \
        register float a_ __asm__(RA) = (a), b_ __asm__(RB) = (b), c_ __asm__(RC) = (c), d_ __asm__(RD) = (d); \
        __asm__("vstmia %5, {" RA ", " RB ", " RC ", " RD "}"                                                \
                : "=m"(*(float(*)[4])(p)) : "t"(a_), "t"(b_), "t"(c_), "t"(d_), "r"(p));                     \
    } while (0)
#define FE_ST8(p, a, b, c, d, e, f, g, h)                                                                    \
    do {                                                                                                     \
        register float a_ __asm__("s8") = (a), b_ __asm__("s9") = (b), c_ __asm__("s10") = (c),             \
                       d_ __asm__("s11") = (d), e_ __asm__("s12") = (e), f_ __asm__("s13") = (f),           \
                       g_ __asm__("s14") = (g), h_ __asm__("s15") = (h);                                    \
        __asm__("vstmia %9, {s8-s15}" : "=m"(*(float(*)[8])(p))                                             \
                : "t"(a_), "t"(b_), "t"(c_), "t"(d_), "t"(e_), "t"(f_), "t"(g_), "t"(h_), "r"(p));          \
    } while (0)
/* One complex point (two consecutive floats) in one 64-bit VLDR / VSTR of the D register D (= RA, RB), at an
 * immediate offset from a base register, so a pass over strided points needs no pointer per point; 3 cycles on
 * the M4 (1 + 2 words, as VLDM of two) against 4 for two VLDR / VSTR. GCC's "Uv" constraint gives the address;
 * other compilers take plain loads and stores. A load binds the registers only inside its asm (the values are
 * then the allocator's to place: bound throughout, point 0's butterflies cost a VMOV per value moved). */
#if !defined(__clang__)
typedef double fe_pair_bits __attribute__((may_alias)); /* the memory operand's mode: 64-bit, aliasing floats */
#define FE_LDP(p, a, b, D, RA, RB)                                                                           \
    float a, b;                                                                                              \
    do {                                                                                                     \
        register float a##_ __asm__(RA), b##_ __asm__(RB);                                                   \
        __asm__("vldr " D ", %2" : "=t"(a##_), "=t"(b##_) : "Uv"(*(const fe_pair_bits *)(p)));              \
        a = a##_;                                                                                            \
        b = b##_;                                                                                            \
    } while (0)
#define FE_STP(p, a, b, D, RA, RB)                                                                           \
    do {                                                                                                     \
        register float a_ __asm__(RA) = (a), b_ __asm__(RB) = (b);                                           \
        __asm__("vstr " D ", %0" : "=Uv"(*(fe_pair_bits *)(p)) : "t"(a_), "t"(b_));                          \
    } while (0)
#else
#define FE_LDP(p, a, b, D, RA, RB) float a = (p)[0], b = (p)[1]
#define FE_STP(p, a, b, D, RA, RB) ((p)[0] = (a), (p)[1] = (b))
#endif
#else
#define FE_LD2(p, a, b, RA, RB) const float a = (p)[0], b = (p)[1]
#define FE_LDP(p, a, b, D, RA, RB) float a = (p)[0], b = (p)[1]
#define FE_STP(p, a, b, D, RA, RB) ((p)[0] = (a), (p)[1] = (b))
#define FE_LD3(p, a, b, c, RA, RB, RC) const float a = (p)[0], b = (p)[1], c = (p)[2]
#define FE_LD4(p, a, b, c, d, RA, RB, RC, RD) const float a = (p)[0], b = (p)[1], c = (p)[2], d = (p)[3]
#define FE_LD8(p, a, b, c, d, e, f, g, h)                                                                    \
    const float a = (p)[0], b = (p)[1], c = (p)[2], d = (p)[3], e = (p)[4], f = (p)[5], g = (p)[6], h = (p)[7]
#define FE_ST2(p, a, b, RA, RB) ((p)[0] = (a), (p)[1] = (b))
#define FE_ST4(p, a, b, c, d, RA, RB, RC, RD) ((p)[0] = (a), (p)[1] = (b), (p)[2] = (c), (p)[3] = (d))
#define FE_ST8(p, a, b, c, d, e, f, g, h)                                                                    \
    ((p)[0] = (a), (p)[1] = (b), (p)[2] = (c), (p)[3] = (d), (p)[4] = (e), (p)[5] = (f), (p)[6] = (g),      \
     (p)[7] = (h))
#endif

#define FE_N TINYASC_FE_N_FFT
#define FE_M (TINYASC_FE_N_FFT / 2)      /* complex FFT size */
#define FE_Q (TINYASC_FE_N_FFT / 4)      /* quarter wave */
#define FE_W TINYASC_FE_WIN_LENGTH
#define FE_LEFT ((FE_N - FE_W) / 2)
/* The window sits in the middle of the frame: only complex points [FE_ZLO, FE_ZHI) can hold a
 * windowed sample; the others ("dead") are zero in every frame. */
#define FE_ZLO (FE_LEFT / 2)
#define FE_ZHI ((FE_LEFT + FE_W + 1) / 2)

/* The split step of the real FFT for bin ks (1 <= ks <= M/2) from Z[ks] = (zkr, zki) and Z[M - ks] = (zmr, zmi):
 * X[k] = E + W^k O, X[M-k] = conj(E - W^k O), with E = (Z[k] + conj Z[M-k]) / 2 and O = (Z[k] - conj Z[M-k]) / 2i;
 * here 2E and 2O, so 4 |X[ks]|^2 goes to *pk and 4 |X[M - ks]|^2 to *pm (the slots z[2 ks] and z[2 (M - ks)]). */
#define FE_SPLIT(pk, pm, ks, zkr, zki, zmr, zmi)                                                              \
    FE_SPLIT_W(pk, pm, tinyasc_fe_cos_quarter[ks], tinyasc_fe_cos_quarter[FE_Q - (ks)], zkr, zki, zmr, zmi)
/* The same with the twiddle W^ks = wr - i ws given (fe_twiddle(ks) for ks <= N/4). */
#define FE_SPLIT_W(pk, pm, wr, ws, zkr, zki, zmr, zmi)                                                       \
    do {                                                                                                     \
        const float er_ = (zkr) + (zmr);                                                                     \
        const float ei_ = (zki) - (zmi);                                                                     \
        const float or_ = (zki) + (zmi);                                                                     \
        const float oi_ = (zmr) - (zkr);                                                                     \
        const float wr_ = (wr), ws_ = (ws);                                                                  \
        const float tr_ = wr_ * or_ + ws_ * oi_; /* (wr - i ws)(or + i oi) */                               \
        const float ti_ = wr_ * oi_ - ws_ * or_;                                                             \
        const float ar_ = er_ + tr_, ai_ = ei_ + ti_;                                                        \
        const float br_ = er_ - tr_, bi_ = ei_ - ti_;                                                        \
        *(pk) = ar_ * ar_ + ai_ * ai_;                                                                       \
        *(pm) = br_ * br_ + bi_ * bi_;                                                                       \
    } while (0)
/* When the live points cover [M/4, 3M/4), the FFT's first radix-4 pass (points n, n + M/2, n + M/4,
 * n + 3M/4 for n < M/4) meets groups whose first and last points are dead: they take a shorter
 * butterfly, and their dead points need not be written at all (fe_zero_dead writes the others). */
#if TINYASC_FE_CMSIS_DSP
#define FE_SPARSE_FIRST_PASS 0 /* CMSIS-DSP's FFT reads every point */
#else
#define FE_SPARSE_FIRST_PASS (FE_M >= 4 && FE_ZLO <= FE_M / 4 && FE_ZHI >= 3 * FE_M / 4)
#endif

#if (TINYASC_FE_N_FFT & (TINYASC_FE_N_FFT - 1)) != 0 || TINYASC_FE_N_FFT < 16 || TINYASC_FE_N_FFT > 131072
#error "TINYASC_FE_N_FFT must be a power of two in 16..131072"
#endif
#if TINYASC_FE_N_MELS > TINYASC_FE_N_FFT / 2
#error "the per-frame mel sums live in the scratch's odd slots (n_mels <= n_fft/2)"
#endif
#if TINYASC_FE_WIN_LENGTH > TINYASC_FE_N_FFT
#error "window longer than n_fft"
#endif

typedef union {
    float f;
    uint32_t u;
} fe_bits;

/* The logarithm's constants, shared by its scalar form and Helium's four-lane one (fe_logmel4_mve): ln 2 split
 * (FE_LN2_HI has 16 significant bits, so e * FE_LN2_HI is exact for every float exponent), the bits of sqrt(2)/2
 * rounded up, the table's first row (0x3f35: those bits' top sixteen), and the series' coefficients. */
#define FE_LN2_HI 0.693145751953125f
#define FE_LN2_LO 1.42860682030941723212e-06f
#define FE_LOG_M_LO 0x3f3504f4u
#define FE_LOG_ROW0 0x3f35u
#define FE_LOG_C2 0.5f
#define FE_LOG_C3 0.333333333333f
#define FE_LOG_C4 0.25f

/* ln(x / 2^q) for a normal x > 0 (q a constant: 0, or 2 where the caller's argument is four times the one whose
 * logarithm it wants; x / 4 and x have the same mantissa, so this is ln of the quarter exactly as if it had been
 * computed, whenever that quarter is a normal float). x = 2^e m with m in (sqrt(2)/2, sqrt(2)], m's bucket (its
 * bits' top sixteen) gives c near m with 1/c and ln c (tinyasc_fe_log_table), and ln x = e ln 2 + ln c + ln(1 + r),
 * r = (m - c) / c, |r| < 2^-7, ln(1 + r) by four terms of its series. No division; inlined where the front end
 * takes its n_mels logarithms per frame (the constants stay in registers). */
static FE_ALWAYS_INLINE float fe_logf_normal_over(float x, const uint32_t q)
{
    fe_bits b;
    uint32_t f;
    const float *t;
    float ef, r, p;

    /* e and m without a comparison: the bits less those of 0x3f3504f4 (sqrt(2)/2 rounded up) borrow from the
     * exponent exactly when the mantissa 1.f is at most sqrt(2) (1.f <= 0x3fb504f3): then m = 1.f and e is the
     * exponent, otherwise m = 1.f / 2 and e one more (less q: the exponent field's q). m's bits are f + 0x3f3504f4,
     * its bucket their top sixteen less 0x3f35 (the low half 0x04f4 carries into them). */
    b.f = x;
    b.u -= FE_LOG_M_LO + (q << 23);
    ef = (float)((int32_t)b.u >> 23);
    f = b.u & 0x007fffffu;
    b.u = f + FE_LOG_M_LO;
    /* m's bucket row, (m's bits >> 16) - 0x3f35: its address from the table's less 0x3f35 rows (a constant; in
     * unsigned arithmetic), one shift-and-add per logarithm */
    t = (const float *)(((uintptr_t)tinyasc_fe_log_table - 16u * FE_LOG_ROW0) + 16u * (b.u >> 16));
    {
        FE_LD3(t, c, c_inv, ln_c, "s0", "s1", "s2"); /* the bucket's row: one load */
        /* m - c is exact (Sterbenz: c and m within a factor 2); r carries 1/c's rounding, |r| 2^-24 */
        r = (b.f - c) * c_inv;
        p = r - r * r * (FE_LOG_C2 - r * (FE_LOG_C3 - r * FE_LOG_C4));
        return ef * FE_LN2_HI + (ln_c + (ef * FE_LN2_LO + p));
    }
}

/* ln x for a normal x > 0. */
static FE_ALWAYS_INLINE float fe_logf_normal(float x)
{
    return fe_logf_normal_over(x, 0u);
}

/* ln x for any float: smaller than FLT_MIN, zero, negative and NaN read as FLT_MIN. */
static FE_ALWAYS_INLINE float fe_logf(float x)
{
    return fe_logf_normal(x >= 1.17549435e-38f ? x : 1.17549435e-38f);
}

float tinyasc_fe_logf(float x)
{
    return fe_logf(x);
}

#if TINYASC_FE_CMSIS_DSP
#include "arm_math.h"

#if FE_M == 16
#define FE_CFFT_INIT arm_cfft_init_16_f32
#elif FE_M == 32
#define FE_CFFT_INIT arm_cfft_init_32_f32
#elif FE_M == 64
#define FE_CFFT_INIT arm_cfft_init_64_f32
#elif FE_M == 128
#define FE_CFFT_INIT arm_cfft_init_128_f32
#elif FE_M == 256
#define FE_CFFT_INIT arm_cfft_init_256_f32
#elif FE_M == 512
#define FE_CFFT_INIT arm_cfft_init_512_f32
#elif FE_M == 1024
#define FE_CFFT_INIT arm_cfft_init_1024_f32
#elif FE_M == 2048
#define FE_CFFT_INIT arm_cfft_init_2048_f32
#elif FE_M == 4096
#define FE_CFFT_INIT arm_cfft_init_4096_f32
#else
#error "CMSIS-DSP's arm_cfft_f32 takes 16 .. 4096 complex points (n_fft 32 .. 8192)"
#endif

/* Float index of frame sample s: natural order (point s/2 holds samples s and s + 1). */
static inline uint32_t fe_slot(uint32_t s)
{
    return s;
}

/* In-place complex FFT of FE_M points (interleaved re, im) in natural order, output in natural
 * order (CMSIS-DSP's bit reversal included). The instance only points at CMSIS-DSP's constant
 * tables, so it is set up per call: no state outside the scratch. */
static void fe_cfft(float *z, int fused)
{
    arm_cfft_instance_f32 inst;
    (void)fused; /* never set: the window writes every point for this FFT */
    (void)FE_CFFT_INIT(&inst);
    arm_cfft_f32(&inst, z, 0, 1);
}

#else /* the built-in FFT */

/* Thumb-2 cores of the M profile reverse bits in one instruction (RBIT); elsewhere five
 * mask-and-shift steps do it. */
#if defined(__GNUC__) && (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || \
                          defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__))
#define FE_HAVE_RBIT 1
#else
#define FE_HAVE_RBIT 0
#endif

static inline uint32_t fe_rbit(uint32_t x)
{
#if FE_HAVE_RBIT
    uint32_t r;
    __asm__("rbit %0, %1" : "=r"(r) : "r"(x));
    return r;
#else
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
#endif
}

/* log2(FE_M), for the bit reversal over the complex FFT's index bits */
#define FE_LOG2_M (FE_M >= 65536 ? 16 : FE_M >= 32768 ? 15 : FE_M >= 16384 ? 14 : FE_M >= 8192 ? 13 :    \
                   FE_M >= 4096 ? 12 : FE_M >= 2048 ? 11 : FE_M >= 1024 ? 10 : FE_M >= 512 ? 9 :           \
                   FE_M >= 256 ? 8 : FE_M >= 128 ? 7 : FE_M >= 64 ? 6 : FE_M >= 32 ? 5 : FE_M >= 16 ? 4 : 3)
#if (1 << FE_LOG2_M) != FE_M
#error "n_fft outside the bit reversal's range (16 .. 131072)"
#endif

/* Float index in the bit-reversed buffer of the complex point holding frame sample s (s even):
 * the real part of point s/2 goes to slot 2 rev(s/2), the imaginary part (sample s + 1) next. */
static inline uint32_t fe_slot(uint32_t s)
{
    return fe_rbit(s >> 1) >> (31 - FE_LOG2_M);
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

/* W_N^k for 0 <= k < N: -W_N^(k - N/2) above N/2 (the negation exact). */
static void fe_twiddle_any(int k, float *c, float *s)
{
    if (k <= FE_M) {
        fe_twiddle(k, c, s);
    } else {
        fe_twiddle(k - FE_M, c, s);
        *c = -*c;
        *s = -*s;
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

/* FE_BFLY with the twiddle -i W (what the table gives for index k + N/4: fe_twiddle(k + N/4) = (-s, c)) from W's
 * own products: -i W b = v - i u with u + i v = W b, so no negated twiddle is held. Equal to
 * FE_BFLY(a, b, -(ws), (wr)) up to the sign of a zero (-(x + y) against (-x) - y), which only meets additions and
 * multiplications until the power spectrum squares it away. */
#define FE_BFLY_ROT(a, b, wr, ws)                      \
    do {                                               \
        const float u_ = (wr) * b##r + (ws) * b##i;    \
        const float v_ = (wr) * b##i - (ws) * b##r;    \
        b##r = a##r - v_;                              \
        b##i = a##i + u_;                              \
        a##r += v_;                                    \
        a##i -= u_;                                    \
    } while (0)

/* FE_BFLY with the twiddle 1 (table index 0: cos 0 = 1, sin 0 = 0) and FE_BFLY_ROT with it (-i), without their
 * multiplications: 1 * x = x and x + (+-0) = x exactly, so the results are FE_BFLY's up to the sign of a zero,
 * which only meets additions and multiplications until the power spectrum squares it away. */
#define FE_BFLY_ONE(a, b)                              \
    do {                                               \
        const float tr_ = b##r, ti_ = b##i;            \
        b##r = a##r - tr_;                             \
        b##i = a##i - ti_;                             \
        a##r += tr_;                                   \
        a##i += ti_;                                   \
    } while (0)
#define FE_BFLY_MINUS_I(a, b)                          \
    do {                                               \
        const float tr_ = b##i, ti_ = -b##r;           \
        b##r = a##r - tr_;                             \
        b##i = a##i - ti_;                             \
        a##r += tr_;                                   \
        a##i += ti_;                                   \
    } while (0)

/* b = W b in place (FE_BFLY's product). */
#define FE_CMUL(b, wr, ws)                             \
    do {                                               \
        const float tr_ = (wr) * b##r + (ws) * b##i;   \
        const float ti_ = (wr) * b##i - (ws) * b##r;   \
        b##r = tr_;                                    \
        b##i = ti_;                                    \
    } while (0)

/* Two radix-2 DIT stages (spans 2h, 4h) on the points a, b, c, d (i + m h, m = 0..3) as one radix-4 butterfly:
 * with w1 = W_{2h}^j, w2 = W_{4h}^j and v = W_{4h}^{3j} (= w1 w2, from the table), R = w1 b, P = w2 c and
 * Q = v d, the stages give a + R + (P + Q), a - R - i (P - Q), a + R - (P + Q), a - R + i (P - Q): three
 * complex products where the stages take four (w2 (c + w1 d) and w2 (c - w1 d)), 34 float operations in place
 * of 40. FE_HELIUM's fe_stage_radix4_mve performs the same operations lane by lane. */
#define FE_RADIX4(a, b, c, d, w1r, w1s, w2r, w2s, vr, vs) \
    do {                                               \
        FE_CMUL(b, w1r, w1s);                          \
        FE_BFLY_ONE(a, b);                             \
        FE_CMUL(c, w2r, w2s);                          \
        FE_CMUL(d, vr, vs);                            \
        FE_BFLY_ONE(c, d);                             \
        FE_BFLY_ONE(a, c);                             \
        FE_BFLY_MINUS_I(b, d);                         \
    } while (0)

#define FE_LOAD(v, p) \
    float v##r = (p)[0], v##i = (p)[1]
#define FE_STORE(p, v) \
    ((p)[0] = v##r, (p)[1] = v##i)

#if FE_HELIUM
/* The twiddles W_N^k for k = k0 + l kstep in lanes l = 0..3, fe_twiddle's values: gathers from the quarter-wave table
 * where the four sit on one side of it, fe_twiddle itself for a block that straddles it (lane_k: l kstep). */
static FE_ALWAYS_INLINE void fe_twiddle4_mve(uint32_t k0, uint32_t kstep, uint32x4_t lane_k, float32x4_t *wr,
                                             float32x4_t *ws)
{
    const uint32x4_t k = vaddq_n_u32(lane_k, k0);
    if (k0 + 3u * kstep <= (uint32_t)FE_Q) {
        *wr = vldrwq_gather_shifted_offset_f32(tinyasc_fe_cos_quarter, k);
        *ws = vldrwq_gather_shifted_offset_f32(tinyasc_fe_cos_quarter, vsubq_u32(vdupq_n_u32(FE_Q), k));
    } else if (k0 > (uint32_t)FE_Q) {
        *wr = vnegq_f32(vldrwq_gather_shifted_offset_f32(tinyasc_fe_cos_quarter, vsubq_u32(vdupq_n_u32(FE_M), k)));
        *ws = vldrwq_gather_shifted_offset_f32(tinyasc_fe_cos_quarter, vsubq_n_u32(k, FE_Q));
    } else {
        float c[4], sn[4];
        int l;
        for (l = 0; l < 4; ++l) {
            fe_twiddle((int)(k0 + (uint32_t)l * kstep), &c[l], &sn[l]);
        }
        *wr = vld1q_f32(c);
        *ws = vld1q_f32(sn);
    }
}

/* FE_BFLY on four lanes in asm: a = {q0, q1}, b = {q2, q3} (re, im), twiddle wr - i ws in WR, WS; q4, q5 temporaries.
 * FE_BFLY's float operations lane by lane: tr = wr br + ws bi, ti = wr bi - ws br, b = a - t, a = a + t. */
#define FE_BFLY_ASM(WR, WS)                                                                                  \
        "vmul.f32   q4, " WR ", q2\n\t"                                                                      \
        "vmul.f32   q5, " WS ", q3\n\t"                                                                      \
        "vadd.f32   q4, q4, q5\n\t"                                                                          \
        "vmul.f32   q5, " WS ", q2\n\t"                                                                      \
        "vmul.f32   q2, " WR ", q3\n\t"                                                                      \
        "vsub.f32   q5, q2, q5\n\t"                                                                          \
        "vsub.f32   q2, q0, q4\n\t"                                                                          \
        "vsub.f32   q3, q1, q5\n\t"                                                                          \
        "vadd.f32   q0, q0, q4\n\t"                                                                          \
        "vadd.f32   q1, q1, q5\n\t"

/* Four butterflies (points pa, pb: four consecutive ones each, interleaved re, im) in each of groups >= 1 groups
 * stride bytes apart, with the lanes' twiddles tw[0..3] - i tw[4..7] held in q6, q7 for all of them. */
static void fe_bfly_groups_mve(float *pa, float *pb, const float *tw, int groups, int stride)
{
    __asm__ volatile(
        "vldrw.u32  q6, [%[tw]]\n\t"
        "vldrw.u32  q7, [%[tw], #16]\n\t"
        "dls        lr, %[n]\n\t"
        "1:\n\t"
        "vld20.32   {q0, q1}, [%[pa]]\n\t"
        "vld21.32   {q0, q1}, [%[pa]]\n\t"
        "vld20.32   {q2, q3}, [%[pb]]\n\t"
        "vld21.32   {q2, q3}, [%[pb]]\n\t"
        FE_BFLY_ASM("q6", "q7")
        "vst20.32   {q0, q1}, [%[pa]]\n\t"
        "vst21.32   {q0, q1}, [%[pa]]\n\t"
        "vst20.32   {q2, q3}, [%[pb]]\n\t"
        "vst21.32   {q2, q3}, [%[pb]]\n\t"
        "add        %[pa], %[pa], %[st]\n\t"
        "add        %[pb], %[pb], %[st]\n\t"
        "le         lr, 1b\n\t"
        : [pa] "+r"(pa), [pb] "+r"(pb)
        : [tw] "r"(tw), [n] "r"(groups), [st] "r"(stride)
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15",
          "lr", "memory");
}

/* blocks >= 1 blocks of four consecutive butterflies of one group (pa: point j0, pb: point j0 + h; the next block
 * 32 bytes on), each with its own twiddles W_N^k, k = j tstep, gathered from the quarter-wave table: cu walks up
 * (lane offsets off[0..3] = l tstep), cd down (off[4..7] = (3 - l) tstep), both step bytes per block. Below the
 * table's middle (quarter 0: k + 3 tstep <= N/4) wr = c[k] (up), ws = c[N/4 - k] (down); above it (quarter 1:
 * k > N/4) wr = -c[M - k] (down, negated), ws = c[k - N/4] (up): fe_twiddle's values. The lane offsets are reloaded
 * per block (their registers are the butterfly's temporaries). */
#define FE_LANES_ASM(TWIDDLES)                                                                               \
    __asm__ volatile(                                                                                        \
        "dls        lr, %[n]\n\t"                                                                            \
        "1:\n\t"                                                                                             \
        "vldrw.u32  q4, [%[off]]\n\t"                                                                        \
        "vldrw.u32  q5, [%[off], #16]\n\t"                                                                   \
        "vldrw.u32  q6, [%[cu], q4, uxtw #2]\n\t"                                                            \
        "vldrw.u32  q7, [%[cd], q5, uxtw #2]\n\t"                                                            \
        "vld20.32   {q0, q1}, [%[pa]]\n\t"                                                                   \
        "vld21.32   {q0, q1}, [%[pa]]\n\t"                                                                   \
        "vld20.32   {q2, q3}, [%[pb]]\n\t"                                                                   \
        "vld21.32   {q2, q3}, [%[pb]]\n\t"                                                                   \
        TWIDDLES                                                                                             \
        "vst20.32   {q0, q1}, [%[pa]]\n\t"                                                                   \
        "vst21.32   {q0, q1}, [%[pa]]!\n\t"                                                                  \
        "vst20.32   {q2, q3}, [%[pb]]\n\t"                                                                   \
        "vst21.32   {q2, q3}, [%[pb]]!\n\t"                                                                  \
        "add        %[cu], %[cu], %[st]\n\t"                                                                 \
        "sub        %[cd], %[cd], %[st]\n\t"                                                                 \
        "le         lr, 1b\n\t"                                                                              \
        : [pa] "+r"(pa), [pb] "+r"(pb), [cu] "+r"(cu), [cd] "+r"(cd)                                         \
        : [off] "r"(off), [n] "r"(blocks), [st] "r"(step)                                                    \
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15", \
          "lr", "memory")
static void fe_bfly_lanes_mve(float *pa, float *pb, int blocks, const float *cu, const float *cd,
                              const uint32_t *off, int step, int quarter)
{
    if (quarter) {
        FE_LANES_ASM("vneg.f32   q7, q7\n\t" FE_BFLY_ASM("q7", "q6"));
    } else {
        FE_LANES_ASM(FE_BFLY_ASM("q6", "q7"));
    }
}
#undef FE_LANES_ASM

/* One radix-2 DIT stage of span 2h (h >= 4) with four consecutive butterflies per vector: per block of four j their
 * twiddles once (fe_twiddle4_mve), then the block's butterflies in every group (M / 2h of them, in asm). */
static __attribute__((noinline)) void fe_stage_blocks_mve(float *z, int h)
{
    static const uint32_t iota[4] = {0, 1, 2, 3};
    const uint32_t tstep = (uint32_t)(FE_N / (2 * h));
    const uint32x4_t lane_k = vmulq_n_u32(vld1q_u32(iota), tstep);
    float tw[8] __attribute__((aligned(16)));
    int j0;
    for (j0 = 0; j0 < h; j0 += 4) {
        float32x4_t wr, ws;
        fe_twiddle4_mve((uint32_t)j0 * tstep, tstep, lane_k, &wr, &ws);
        vst1q_f32(tw, wr);
        vst1q_f32(tw + 4, ws);
        fe_bfly_groups_mve(z + 2 * j0, z + 2 * (j0 + h), tw, FE_M / (2 * h), 16 * h);
    }
}

/* One radix-2 DIT stage of span 2h (h >= 8, M / 2h <= 2: the last two stages), four consecutive butterflies per
 * vector, each group in three runs: the blocks below the quarter wave's middle (twiddles gathered in the loop), the
 * block that straddles it (k = N/4 + l tstep: fe_twiddle's values lane by lane), the blocks above. */
static __attribute__((noinline)) void fe_stage_lanes_mve(float *z, int h)
{
    const uint32_t t = (uint32_t)(FE_N / (2 * h));
    const uint32_t off[8] __attribute__((aligned(16))) = {0u, t, 2u * t, 3u * t, 3u * t, 2u * t, t, 0u};
    float tw[8] __attribute__((aligned(16)));
    const int half = h / 2, step = 16 * (int)t; /* block j0 = half starts at k = N/4 */
    const float *const c = tinyasc_fe_cos_quarter;
    int i, l;
    for (l = 0; l < 4; ++l) {
        fe_twiddle((int)((uint32_t)(half + l) * t), &tw[l], &tw[4 + l]);
    }
    for (i = 0; i < FE_M; i += 2 * h) {
        float *pa = z + 2 * i, *pb = pa + 2 * h;
        fe_bfly_lanes_mve(pa, pb, half / 4, c, c + (FE_Q - 3u * t), off, step, 0);
        fe_bfly_groups_mve(pa + 2 * half, pb + 2 * half, tw, 1, 0);
        if (h - half - 4 > 0) {
            const uint32_t k0 = (uint32_t)(half + 4) * t;
            fe_bfly_lanes_mve(pa + 2 * (half + 4), pb + 2 * (half + 4), (h - half - 4) / 4, c + (k0 - FE_Q),
                              c + (FE_M - k0 - 3u * t), off, step, 1);
        }
    }
}

/* One radix-4 run for fe_stage_radix4_mve: count >= 1 iterations, each four groups (their points a, b, c, d at pa,
 * pb, pc, pd in the lanes, off[l] floats apart), then every pointer step bytes on. Offsets below are the asm's. */
typedef struct {
    float *pa, *pb, *pc, *pd;      /* 0, 4, 8, 12 */
    int32_t step, count;           /* 16, 20 */
    float w1r, w1s, w2r, w2s, vr, vs; /* 24 .. 44 */
    const uint32_t *off;           /* 48 */
} fe_radix4_run;
typedef char fe_radix4_run_is_the_asm_layout[(offsetof(fe_radix4_run, step) == 16 &&
                                              offsetof(fe_radix4_run, w1r) == 24 &&
                                              offsetof(fe_radix4_run, off) == 48) ? 1 : -1];

/* FE_RADIX4 on four lanes: R = w1 b, P = w2 c, Q = v d (each t = (wr xr + ws xi, wr xi - ws xr)), A = a + R,
 * B = a - R, C = P + Q, D = P - Q, then a = A + C, c = A - C, b = B - i D, d = B + i D: fe_group8_radix4's float
 * operations, each point's real and imaginary parts gathered (q7: the lanes' offsets) and scattered back. Seven
 * vector registers hold the live values: D's real part waits on the stack while R and A are formed. */
static __attribute__((naked, noinline)) void fe_radix4_run_mve(const fe_radix4_run *r __attribute__((unused)))
{
    __asm__ volatile(
        "push       {r4-r11, lr}\n\t"
        "vpush      {d8-d15}\n\t"
        "sub        sp, sp, #16\n\t"
        "ldr        r12, [r0, #48]\n\t"
        "vldrw.u32  q7, [r12]\n\t"              /* the lanes' offsets */
        "ldrd       r5, r6, [r0, #24]\n\t"      /* w1 */
        "ldrd       r7, r8, [r0, #32]\n\t"      /* w2 */
        "ldrd       r9, r10, [r0, #40]\n\t"     /* v */
        "ldrd       r4, lr, [r0, #16]\n\t"      /* step, count */
        "ldm        r0, {r0-r3}\n\t"            /* pa, pb, pc, pd */
        "dls        lr, lr\n\t"
        "1:\n\t"
        "vldrw.u32  q0, [r2, q7, uxtw #2]\n\t"  /* c */
        "add        r11, r2, #4\n\t"
        "vldrw.u32  q1, [r11, q7, uxtw #2]\n\t"
        "vmul.f32   q2, q0, r7\n\t"             /* P = w2 c */
        "vmul.f32   q3, q1, r8\n\t"
        "vadd.f32   q2, q2, q3\n\t"
        "vmul.f32   q3, q1, r7\n\t"
        "vmul.f32   q0, q0, r8\n\t"
        "vsub.f32   q3, q3, q0\n\t"
        "vldrw.u32  q0, [r3, q7, uxtw #2]\n\t"  /* d */
        "add        r11, r3, #4\n\t"
        "vldrw.u32  q1, [r11, q7, uxtw #2]\n\t"
        "vmul.f32   q4, q0, r9\n\t"             /* Q = v d */
        "vmul.f32   q5, q1, r10\n\t"
        "vadd.f32   q4, q4, q5\n\t"
        "vmul.f32   q5, q1, r9\n\t"
        "vmul.f32   q0, q0, r10\n\t"
        "vsub.f32   q5, q5, q0\n\t"
        "vadd.f32   q0, q2, q4\n\t"             /* C = P + Q */
        "vadd.f32   q1, q3, q5\n\t"
        "vsub.f32   q2, q2, q4\n\t"             /* D = P - Q */
        "vsub.f32   q3, q3, q5\n\t"
        "vstrw.32   q2, [sp]\n\t"               /* D's real part waits */
        "vldrw.u32  q2, [r1, q7, uxtw #2]\n\t"  /* b */
        "add        r11, r1, #4\n\t"
        "vldrw.u32  q4, [r11, q7, uxtw #2]\n\t"
        "vmul.f32   q5, q2, r5\n\t"             /* R = w1 b */
        "vmul.f32   q6, q4, r6\n\t"
        "vadd.f32   q5, q5, q6\n\t"
        "vmul.f32   q6, q4, r5\n\t"
        "vmul.f32   q2, q2, r6\n\t"
        "vsub.f32   q6, q6, q2\n\t"
        "vldrw.u32  q2, [r0, q7, uxtw #2]\n\t"  /* a's real part */
        "vadd.f32   q4, q2, q5\n\t"             /* A = a + R */
        "vsub.f32   q2, q2, q5\n\t"             /* B = a - R */
        "vadd.f32   q5, q4, q0\n\t"             /* a = A + C */
        "vsub.f32   q4, q4, q0\n\t"             /* c = A - C */
        "vstrw.32   q5, [r0, q7, uxtw #2]\n\t"
        "vstrw.32   q4, [r2, q7, uxtw #2]\n\t"
        "add        r11, r0, #4\n\t"
        "vldrw.u32  q0, [r11, q7, uxtw #2]\n\t" /* a's imaginary part */
        "vadd.f32   q4, q0, q6\n\t"
        "vsub.f32   q0, q0, q6\n\t"
        "vadd.f32   q5, q4, q1\n\t"
        "vsub.f32   q4, q4, q1\n\t"
        "vstrw.32   q5, [r11, q7, uxtw #2]\n\t"
        "add        r11, r2, #4\n\t"
        "vstrw.32   q4, [r11, q7, uxtw #2]\n\t"
        "vldrw.u32  q1, [sp]\n\t"               /* D's real part */
        "vadd.f32   q4, q2, q3\n\t"             /* b = B - i D */
        "vsub.f32   q5, q0, q1\n\t"
        "vsub.f32   q2, q2, q3\n\t"             /* d = B + i D */
        "vadd.f32   q0, q0, q1\n\t"
        "vstrw.32   q4, [r1, q7, uxtw #2]\n\t"
        "add        r11, r1, #4\n\t"
        "vstrw.32   q5, [r11, q7, uxtw #2]\n\t"
        "vstrw.32   q2, [r3, q7, uxtw #2]\n\t"
        "add        r11, r3, #4\n\t"
        "vstrw.32   q0, [r11, q7, uxtw #2]\n\t"
        "add        r0, r0, r4\n\t"
        "add        r1, r1, r4\n\t"
        "add        r2, r2, r4\n\t"
        "add        r3, r3, r4\n\t"
        "le         lr, 1b\n\t"
        "add        sp, sp, #16\n\t"
        "vpop       {d8-d15}\n\t"
        "pop        {r4-r11, pc}\n\t");
}

/* Two stages (spans 2h, 4h) as FE_RADIX4's butterflies, lane by lane the same float operations (the scalar
 * passes' first two stages, fe_group8_radix4): the lanes are the groups i + 4h l (l = 0..3) of one twiddle set,
 * held in scalar registers (M >= 16h where the scalar passes take this form); per twiddle set j one asm run over
 * its M / 16h iterations. */
static __attribute__((noinline)) void fe_stage_radix4_mve(float *z, int h)
{
    const uint32_t stride = (uint32_t)(8 * h); /* floats between the lanes' groups */
    const uint32_t off[4] __attribute__((aligned(16))) = {0u, stride, 2u * stride, 3u * stride};
    fe_radix4_run r;
    int j;
    r.step = 128 * h, r.count = FE_M / (16 * h), r.off = off; /* 16h points per iteration */
    for (j = 0; j < h; ++j) {
        fe_twiddle(j * (FE_N / (2 * h)), &r.w1r, &r.w1s);
        fe_twiddle(j * (FE_N / (4 * h)), &r.w2r, &r.w2s);
        fe_twiddle_any(3 * j * (FE_N / (4 * h)), &r.vr, &r.vs);
        r.pa = z + 2 * j, r.pb = r.pa + 2 * h, r.pc = r.pa + 4 * h, r.pd = r.pa + 6 * h;
        fe_radix4_run_mve(&r);
    }
}
#else /* scalar stages, grouped to save loads and stores */
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

/* Pointer variable v unchanged, but a value the compiler cannot see through: loads at immediate offsets from it stay
 * so (GCC would otherwise fold v's own offset into each of theirs and, past the 1020 bytes a VLDR reaches, spend an
 * add per load). */
#if defined(__GNUC__)
#define FE_OPAQUE(v) __asm__("" : "+r"(v))
#else
#define FE_OPAQUE(v) ((void)0)
#endif

/* The eight points p + 2 m h (m = 0..7) of a group as locals a..g, k (in d0..d7 on the Cortex-M targets: one
 * 64-bit VLDR / VSTR per point), and back. */
#define FE_LOAD8(p, h)                                     \
    float *q_ = (p) + 8 * (h); /* the upper four */       \
    FE_OPAQUE(q_);                                         \
    FE_LDP(p, ar, ai, "d0", "s0", "s1");                   \
    FE_LDP((p) + 2 * (h), br, bi, "d1", "s2", "s3");       \
    FE_LDP((p) + 4 * (h), cr, ci, "d2", "s4", "s5");       \
    FE_LDP((p) + 6 * (h), dr, di, "d3", "s6", "s7");       \
    FE_LDP(q_, er, ei, "d4", "s8", "s9");                  \
    FE_LDP(q_ + 2 * (h), fr, fi, "d5", "s10", "s11");      \
    FE_LDP(q_ + 4 * (h), gr, gi, "d6", "s12", "s13");      \
    FE_LDP(q_ + 6 * (h), kr, ki, "d7", "s14", "s15")
#define FE_STORE8(p, h)                                    \
    do {                                                   \
        FE_STP(p, ar, ai, "d0", "s0", "s1");               \
        FE_STP((p) + 2 * (h), br, bi, "d1", "s2", "s3");   \
        FE_STP((p) + 4 * (h), cr, ci, "d2", "s4", "s5");   \
        FE_STP((p) + 6 * (h), dr, di, "d3", "s6", "s7");   \
        FE_STP(q_, er, ei, "d4", "s8", "s9");              \
        FE_STP(q_ + 2 * (h), fr, fi, "d5", "s10", "s11");  \
        FE_STP(q_ + 4 * (h), gr, gi, "d6", "s12", "s13");  \
        FE_STP(q_ + 6 * (h), kr, ki, "d7", "s14", "s15");  \
    } while (0)

/* Twiddles of one group of eight points (see fe_group8). */
typedef struct {
    float w1r, w1s, w2r, w2s, w3r, w3s, w4r, w4s;
    float vr, vs; /* W_{4h}^{3j}: the radix-4 form of the first two stages (fe_group8_radix4) */
} fe_tw8;

/* Three consecutive radix-2 stages (spans 2h, 4h, 8h) on the eight points p + 2 m h, m = 0..7,
 * with one load and one store of each: a third of the loads and stores of three fe_stage calls,
 * the same float operations. */
#define FE_GROUP8_STAGES(w)                            \
    FE_BFLY(a, b, (w)->w1r, (w)->w1s);                 \
    FE_BFLY(c, d, (w)->w1r, (w)->w1s);                 \
    FE_BFLY(e, f, (w)->w1r, (w)->w1s);                 \
    FE_BFLY(g, k, (w)->w1r, (w)->w1s);                 \
    FE_BFLY(a, c, (w)->w2r, (w)->w2s);                 \
    FE_BFLY_ROT(b, d, (w)->w2r, (w)->w2s);             \
    FE_BFLY(e, g, (w)->w2r, (w)->w2s);                 \
    FE_BFLY_ROT(f, k, (w)->w2r, (w)->w2s);             \
    FE_BFLY(a, e, (w)->w3r, (w)->w3s);                 \
    FE_BFLY(b, f, (w)->w4r, (w)->w4s);                 \
    FE_BFLY_ROT(c, g, (w)->w3r, (w)->w3s);             \
    FE_BFLY_ROT(d, k, (w)->w4r, (w)->w4s)

static FE_ALWAYS_INLINE void fe_group8(float *p, const int h, const fe_tw8 *w)
{
    FE_LOAD8(p, h);
    FE_GROUP8_STAGES(w);
    FE_STORE8(p, h);
}

/* The same with the first two stages as two radix-4 butterflies (FE_RADIX4): 108 float operations in place of
 * 120, and the same values as FE_HELIUM's stages (fe_stage_radix4_mve, then a radix-2 stage). */
static FE_ALWAYS_INLINE void fe_group8_radix4(float *p, const int h, const fe_tw8 *w)
{
    float *q_ = (p) + 8 * (h); /* the upper four */
    FE_OPAQUE(q_);
    FE_LDP(p, ar, ai, "d0", "s0", "s1");
    FE_LDP((p) + 2 * (h), br, bi, "d1", "s2", "s3");
    FE_LDP((p) + 4 * (h), cr, ci, "d2", "s4", "s5");
    FE_LDP((p) + 6 * (h), dr, di, "d3", "s6", "s7");
    FE_RADIX4(a, b, c, d, w->w1r, w->w1s, w->w2r, w->w2s, w->vr, w->vs);
    FE_LDP(q_, er, ei, "d4", "s8", "s9");
    FE_LDP(q_ + 2 * (h), fr, fi, "d5", "s10", "s11");
    FE_LDP(q_ + 4 * (h), gr, gi, "d6", "s12", "s13");
    FE_LDP(q_ + 6 * (h), kr, ki, "d7", "s14", "s15");
    FE_RADIX4(e, f, g, k, w->w1r, w->w1s, w->w2r, w->w2s, w->vr, w->vs);
    FE_BFLY(a, e, w->w3r, w->w3s);
    FE_BFLY(b, f, w->w4r, w->w4s);
    FE_BFLY_ROT(c, g, w->w3r, w->w3s);
    FE_BFLY_ROT(d, k, w->w4r, w->w4s);
    /* the first point as two float stores, the others from their D registers: with all eight bound to d0-d7 GCC 12
     * spills two floats per group here (169 cycles per group on the M4 against 162) */
    p[0] = ar;
    p[1] = ai;
    FE_STP((p) + 2 * (h), br, bi, "d1", "s2", "s3");
    FE_STP((p) + 4 * (h), cr, ci, "d2", "s4", "s5");
    FE_STP((p) + 6 * (h), dr, di, "d3", "s6", "s7");
    FE_STP(q_, er, ei, "d4", "s8", "s9");
    FE_STP(q_ + 2 * (h), fr, fi, "d5", "s10", "s11");
    FE_STP(q_ + 4 * (h), gr, gi, "d6", "s12", "s13");
    FE_STP(q_ + 6 * (h), kr, ki, "d7", "s14", "s15");
}

/* Twiddles of the group's point j (j < h): W_{2h}^j for the first stage; W_{4h}^j (and -i times
 * it) for the second; W_{8h}^j, W_{8h}^(j+h) (table index + N/8) and -i times each for the third. */
static inline void fe_tw8_of(int j, int h, fe_tw8 *w)
{
    fe_twiddle(j * (FE_N / (2 * h)), &w->w1r, &w->w1s);
    fe_twiddle(j * (FE_N / (4 * h)), &w->w2r, &w->w2s);
    fe_twiddle(j * (FE_N / (8 * h)), &w->w3r, &w->w3s);
    fe_twiddle(j * (FE_N / (8 * h)) + FE_N / 8, &w->w4r, &w->w4s);
    fe_twiddle_any(3 * j * (FE_N / (4 * h)), &w->vr, &w->vs);
}

/* fe_group8 for the group's point j = 0: every twiddle 1 or -i but the third stage's W_{8h}^h (w4), which is
 * W_8 (half the butterflies' multiplications, 60 of 120 float operations). */
static FE_ALWAYS_INLINE void fe_group8_j0(float *p, const int h, const float w4r, const float w4s)
{
    FE_LOAD8(p, h);
    FE_BFLY_ONE(a, b);
    FE_BFLY_ONE(c, d);
    FE_BFLY_ONE(e, f);
    FE_BFLY_ONE(g, k);
    FE_BFLY_ONE(a, c);
    FE_BFLY_MINUS_I(b, d);
    FE_BFLY_ONE(e, g);
    FE_BFLY_MINUS_I(f, k);
    FE_BFLY_ONE(a, e);
    FE_BFLY(b, f, w4r, w4s);
    FE_BFLY_MINUS_I(c, g);
    FE_BFLY_ROT(d, k, w4r, w4s);
    FE_STORE8(p, h);
}

/* Three consecutive stages (spans 2h, 4h, 8h) in one pass over the groups of eight points; in the first such
 * pass the groups of point 0 (a quarter of them) without their trivial multiplications. Inlined with h a
 * constant (FE_PASS), so each point's offset in a group is an immediate: no pointer per point. */
static FE_ALWAYS_INLINE void fe_stage_triple(float *z, const int h)
{
    int i, j = 0;
    if (h == 4) { /* a quarter of the groups; a 1/h share of them later, which takes the general code */
        fe_tw8 w;
        fe_tw8_of(0, h, &w);
        for (i = 0; i < FE_M; i += 8 * h) {
            fe_group8_j0(z + 2 * i, h, w.w4r, w.w4s);
        }
        j = 1;
    }
    for (; j < h; ++j) {
        fe_tw8 w;
        fe_tw8_of(j, h, &w);
        for (i = j; i < FE_M; i += 8 * h) {
            fe_group8_radix4(z + 2 * i, h, &w);
        }
    }
}

/* The FFT's last pass (8h = FE_M) has one group per twiddle set, so the group's span is a constant and the
 * twiddles' table indices need no range test but the first one's (W_{2h}^j passes the quarter wave at j = h/2;
 * the others stay below it). Its group j holds the bins j + m FE_M/8. */
#define FE_H_LAST (FE_M / 8)
static FE_ALWAYS_INLINE void fe_tw8_last(int j, fe_tw8 *w)
{
    enum { T1 = FE_N / (2 * FE_H_LAST), T2 = FE_N / (4 * FE_H_LAST), T3 = FE_N / (8 * FE_H_LAST) };
    if (j * T1 <= FE_Q) {
        w->w1r = tinyasc_fe_cos_quarter[j * T1];
        w->w1s = tinyasc_fe_cos_quarter[FE_Q - j * T1];
    } else {
        w->w1r = -tinyasc_fe_cos_quarter[FE_M - j * T1];
        w->w1s = tinyasc_fe_cos_quarter[j * T1 - FE_Q];
    }
    w->w2r = tinyasc_fe_cos_quarter[j * T2];
    w->w2s = tinyasc_fe_cos_quarter[FE_Q - j * T2];
    w->w3r = tinyasc_fe_cos_quarter[j * T3];
    w->w3s = tinyasc_fe_cos_quarter[FE_Q - j * T3];
    w->w4r = tinyasc_fe_cos_quarter[j * T3 + FE_N / 8];
    w->w4s = tinyasc_fe_cos_quarter[FE_Q - j * T3 - FE_N / 8];
}

/* The last pass's group j, stored. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void fe_last_group(float *z, int j)
{
    fe_tw8 w;
    fe_tw8_last(j, &w);
    fe_group8(z + 2 * j, FE_H_LAST, &w);
}

#if (FE_M == 32 || FE_M == 256 || FE_M == 2048 || FE_M == 16384 || FE_M == 131072) && !TINYASC_FE_PLAIN_PASSES
/* The last pass is a radix-8 one: it runs with the split step (fe_last_pass_split). */
#define FE_SPLIT_IN_LAST_PASS 1

/* Bin ks's partner M - ks lies in group H - j when ks lies in group j: the last pass takes the groups j and H - j
 * (0 < j < H/2) together, stores group j, keeps group H - j in registers and runs the split step of their eight
 * pairs of bins at once (group H - j's points are never stored and loaded again, nor group j's loaded but once).
 * Groups 0 and H/2 pair with themselves: they are stored, and fe_power_spectrum4 splits their bins (the multiples
 * of H/2). Every float operation is the separate pass's and split step's. */
FE_NO_IVOPTS static void fe_last_pass_split(float *z)
{
    enum { H = FE_H_LAST };
    int j;
    fe_last_group(z, 0);
    fe_last_group(z, H / 2);
    for (j = 1; j < H / 2; ++j) {
        fe_tw8 w, v;
        float *const zj = z + 2 * j;
        fe_tw8_last(j, &w);
        fe_group8(zj, H, &w);
        /* group H - j's twiddles are group j's table entries (fe_tw8_last at H - j: W_{2H}^(H-j) = -conj of
         * W_{2H}^j's pair swapped, ...): the same values, none loaded twice */
        v.w1r = -w.w1r, v.w1s = w.w1s;
        v.w2r = w.w2s, v.w2s = w.w2r;
        v.w3r = w.w4s, v.w3s = w.w4r;
        v.w4r = w.w3s, v.w4s = w.w3r;
        {
            float *const p = z + 2 * (H - j);
            /* the split's twiddles: W^ks for ks = j + mH is (c[j + mH], c[(4 - m) H - j]), for ks = aH - j it is
             * (c[aH - j], c[j + (4 - a) H]) (c: the quarter-wave table, 4H = N/4): eight entries, each used twice */
            /* read in pairs H apart from one base register each, the base one entry on so that both offsets reach
             * (-4 and (H - 1) 4 bytes: VLDR's 1020 at H = 256) */
            const float *cj = tinyasc_fe_cos_quarter + j + 1;
            FE_OPAQUE(cj);
            const float *cj2 = tinyasc_fe_cos_quarter + j + 2 * H + 1;
            FE_OPAQUE(cj2);
            const float *dj = tinyasc_fe_cos_quarter + H - j + 1;
            FE_OPAQUE(dj);
            const float *dj2 = tinyasc_fe_cos_quarter + 3 * H - j + 1;
            FE_OPAQUE(dj2);
            const float c0 = cj[-1], c1 = cj[H - 1], c2 = cj2[-1], c3 = cj2[H - 1];
            const float d1 = dj[-1], d2 = dj[H - 1], d3 = dj2[-1], d4 = dj2[H - 1];
            FE_LOAD8(p, H);
            FE_GROUP8_STAGES(&v);
            /* group H - j's point m (at p + 2 m H, kept in registers) is bin (H - j) + m H, group j's point m (at
             * zj + 2 m H, in memory) bin j + m H: a bin's partner slot is the other group's point 7 - m */
            {
                FE_LDP(zj, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(zj, p + 14 * H, c0, d4, ur, ui, kr, ki);
            }
            {
                FE_LDP(zj + 2 * H, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(zj + 2 * H, p + 12 * H, c1, d3, ur, ui, gr, gi);
            }
            {
                FE_LDP(zj + 4 * H, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(zj + 4 * H, p + 10 * H, c2, d2, ur, ui, fr, fi);
            }
            {
                FE_LDP(zj + 6 * H, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(zj + 6 * H, p + 8 * H, c3, d1, ur, ui, er, ei);
            }
            {
                FE_LDP(zj + 8 * H, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(p + 6 * H, zj + 8 * H, d4, c0, dr, di, ur, ui);
            }
            {
                FE_LDP(zj + 10 * H, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(p + 4 * H, zj + 10 * H, d3, c1, cr, ci, ur, ui);
            }
            {
                FE_LDP(zj + 12 * H, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(p + 2 * H, zj + 12 * H, d2, c2, br, bi, ur, ui);
            }
            {
                FE_LDP(zj + 14 * H, ur, ui, "d8", "s16", "s17");
                FE_SPLIT_W(p, zj + 14 * H, d1, c3, ar, ai, ur, ui);
            }
        }
    }
}
#else
#define FE_SPLIT_IN_LAST_PASS 0
static void fe_stage_triple_last(float *z)
{
    int j;
    for (j = 0; j < FE_H_LAST; ++j) {
        fe_last_group(z, j);
    }
}
#endif

#endif /* FE_HELIUM */

#if FE_SPARSE_FIRST_PASS
/* Zeros in the dead points that the first pass reads: those of the groups that are not sparse
 * (n live or n + 3M/4 live: two short ranges of n). */
static void fe_zero_dead(float *z)
{
    static const int32_t lo[2] = {FE_ZLO, FE_ZLO - 3 * FE_M / 4}, hi[2] = {FE_ZHI, FE_ZHI - 3 * FE_M / 4};
    static const int32_t offset[4] = {0, FE_M / 2, FE_M / 4, 3 * FE_M / 4}; /* a group's points n + offset */
    int r, k;
    for (r = 0; r < 2; ++r) {
        const int32_t n0 = lo[r] > 0 ? lo[r] : 0, n1 = hi[r] < FE_M / 4 ? hi[r] : FE_M / 4;
        for (k = 0; k < 4; ++k) { /* point n + offset is dead below ZLO - offset and from ZHI - offset on */
            const int32_t below = FE_ZLO - offset[k] < n1 ? FE_ZLO - offset[k] : n1;
            const int32_t above = FE_ZHI - offset[k] > n0 ? FE_ZHI - offset[k] : n0;
            int32_t n;
            for (n = n0; n < below; ++n) {
                float *q = z + fe_slot(2 * (uint32_t)(n + offset[k]));
                q[0] = 0.0f;
                q[1] = 0.0f;
            }
            for (n = above; n < n1; ++n) {
                float *q = z + fe_slot(2 * (uint32_t)(n + offset[k]));
                q[0] = 0.0f;
                q[1] = 0.0f;
            }
        }
    }
}
#endif

/* One group of the first pass, stages 1 and 2 (twiddles 1 and -i) as one multiplication-free radix-4
 * butterfly on the four points at a (eight floats); its results are the general butterflies' since the
 * table holds cos 0 = 1 and cos(pi/2) = 0. */
static FE_ALWAYS_INLINE void fe_first_group(float *a)
{
    FE_LD8(a, x0r, x0i, x1r, x1i, x2r, x2i, x3r, x3i);
    const float s0r = x0r + x1r, s0i = x0i + x1i;
    const float d0r = x0r - x1r, d0i = x0i - x1i;
    const float s1r = x2r + x3r, s1i = x2i + x3i;
    const float d1r = x2r - x3r, d1i = x2i - x3i;
    /* slots 2, 3 and 6, 7: d0 + (-i) d1 and d0 - (-i) d1 */
    FE_ST8(a, s0r + s1r, s0i + s1i, d0r + d1i, d0i - d1r, s0r - s1r, s0i - s1i, d0r - d1i, d0i + d1r);
}

#if FE_SPARSE_FIRST_PASS
/* The same when the group's first and last points are zero: with A (its second point) and B (its third) the
 * outputs are A + B, -A - iB... written so that each is the general butterfly's value (x + 0 = x, 0 - x = -x,
 * -(x + y) = -x - y exactly), up to the sign of a zero, which squares away. */
static FE_ALWAYS_INLINE void fe_first_group_sparse(float *a)
{
    FE_LD4(a + 2, ar, ai, br, bi, "s0", "s1", "s2", "s3");
    FE_ST8(a, ar + br, ai + bi, bi - ar, -(ai + br), ar - br, ai - bi, -(ar + bi), br - ai);
}

/* Slot of the first pass's group whose first point is n (n < M/4): rev(n), a multiple of four. */
static FE_ALWAYS_INLINE uint32_t fe_rev(uint32_t n)
{
    return fe_rbit(n) >> (32 - FE_LOG2_M);
}

/* The group at slot rev(n) holds points n, n + M/2, n + M/4, n + 3M/4; with the live points covering
 * [M/4, 3M/4) its first and last are both dead exactly for n in [FE_SPARSE_LO, FE_ZLO) (n < FE_ZLO and
 * n + 3M/4 >= FE_ZHI), so the pass runs in the order of n and that range is one loop. */
#define FE_SPARSE_LO_ (FE_ZHI - 3 * FE_M / 4 > 0 ? FE_ZHI - 3 * FE_M / 4 : 0)
#define FE_SPARSE_LO (FE_SPARSE_LO_ < FE_ZLO ? FE_SPARSE_LO_ : FE_ZLO)

/* Window index of the first sample of point n + M/4, less 2n (ascending half of the window), and of point
 * n + M/2 (descending half). The sparse groups whose two live points lie wholly in the window, n in
 * [FE_FUSE_LO, FE_FUSE_HI), can be computed as the window is read (fe_window_fused). */
#define FE_C1 (FE_M / 2 - FE_LEFT)
#define FE_C2 (FE_M - FE_LEFT)
#define FE_FUSE_LO_ (FE_C1 >= 0 ? 0 : (1 - FE_C1) / 2)
#define FE_FUSE_LO (FE_FUSE_LO_ > FE_SPARSE_LO ? FE_FUSE_LO_ : FE_SPARSE_LO)
#define FE_FUSE_HI_ ((FE_W - 2 - FE_C2) / 2 + 1)
#define FE_FUSE_HI (FE_FUSE_HI_ < FE_ZLO ? FE_FUSE_HI_ : FE_ZLO)
#if !FE_HELIUM && !TINYASC_FE_PLAIN_PASSES && FE_FUSE_LO < FE_FUSE_HI
#define FE_FUSE 1
#endif

/* The general groups of n in [n0, n1): a few per frame (16 of 512 at the paper's 2080 of 4096 samples), so one
 * copy of their code serves both ranges. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void fe_first_groups(float *z, uint32_t n0, uint32_t n1)
{
    uint32_t n;
    for (n = n0; n < n1; ++n) {
        fe_first_group(z + 2 * fe_rev(n));
    }
}

/* The sparse groups of n in [n0, n1); on Helium four consecutive n per vector (their slots from VBRSR, each group's
 * two live points gathered, its eight outputs scattered: fe_first_group_sparse's float operations lane by lane). */
static FE_ALWAYS_INLINE void fe_first_sparse_groups(float *z, uint32_t n0, uint32_t n1)
{
    uint32_t n = n0;
#if FE_HELIUM
    for (; n + 4 <= n1; n += 4) {
        /* float index of group n + l's first point: 2 rev(n + l) */
        const uint32x4_t o = vshlq_n_u32(vbrsrq_n_u32(vidupq_n_u32(n, 1), FE_LOG2_M), 1);
        const float32x4_t ar = vldrwq_gather_shifted_offset_f32(z + 2, o);
        const float32x4_t ai = vldrwq_gather_shifted_offset_f32(z + 3, o);
        const float32x4_t br = vldrwq_gather_shifted_offset_f32(z + 4, o);
        const float32x4_t bi = vldrwq_gather_shifted_offset_f32(z + 5, o);
        vstrwq_scatter_shifted_offset_f32(z, o, vaddq_f32(ar, br));
        vstrwq_scatter_shifted_offset_f32(z + 1, o, vaddq_f32(ai, bi));
        vstrwq_scatter_shifted_offset_f32(z + 2, o, vsubq_f32(bi, ar));
        vstrwq_scatter_shifted_offset_f32(z + 3, o, vnegq_f32(vaddq_f32(ai, br)));
        vstrwq_scatter_shifted_offset_f32(z + 4, o, vsubq_f32(ar, br));
        vstrwq_scatter_shifted_offset_f32(z + 5, o, vsubq_f32(ai, bi));
        vstrwq_scatter_shifted_offset_f32(z + 6, o, vnegq_f32(vaddq_f32(ar, bi)));
        vstrwq_scatter_shifted_offset_f32(z + 7, o, vsubq_f32(br, ai));
    }
#endif
    for (; n < n1; ++n) {
        fe_first_group_sparse(z + 2 * fe_rev(n));
    }
}
#endif

/* In-place complex radix-2 decimation-in-time FFT of FE_M points (interleaved re, im) whose
 * input is already in bit-reversed order (the windowing writes it so: fe_slot). */
static void fe_cfft(float *z, int fused)
{
    int h;

#if FE_SPARSE_FIRST_PASS
    fe_first_groups(z, 0, (uint32_t)FE_SPARSE_LO);
#if FE_FUSE
    if (fused) { /* the groups [FE_FUSE_LO, FE_FUSE_HI) are done (fe_window_fused) */
        fe_first_sparse_groups(z, (uint32_t)FE_SPARSE_LO, (uint32_t)FE_FUSE_LO);
        fe_first_sparse_groups(z, (uint32_t)FE_FUSE_HI, (uint32_t)FE_ZLO);
    } else
#endif
    {
        (void)fused;
        fe_first_sparse_groups(z, (uint32_t)FE_SPARSE_LO, (uint32_t)FE_ZLO);
    }
    fe_first_groups(z, (uint32_t)FE_ZLO, (uint32_t)(FE_M / 4));
#else
    int i;
    (void)fused;
    for (i = 0; i < FE_M; i += 4) {
        fe_first_group(z + 2 * i);
    }
#endif
#if FE_HELIUM
    /* the scalar passes' stages: at h = 4, 32, 256, ... while 8h < M (fe_stage_triple) the first two as radix-4
     * butterflies, every other one radix-2 */
    for (h = 4; h < FE_M;) {
        if ((h == 4 || h == 32 || h == 256 || h == 2048 || h == 16384) && 8 * h < FE_M) {
            fe_stage_radix4_mve(z, h);
            h *= 4;
        } else {
            if (FE_M / (2 * h) <= 2 && h >= 8) {
                fe_stage_lanes_mve(z, h); /* one or two groups: the twiddles gathered in the loop */
            } else {
                fe_stage_blocks_mve(z, h);
            }
            h *= 2;
        }
    }
#else
    /* radix-8 passes at h = 4, 32, 256, ... while 8h <= FE_M, each with its h a constant */
#define FE_PASS(H)                                                                                           \
    if (8 * (H) < FE_M) {                                                                                    \
        fe_stage_triple(z, (H));                                                                             \
    } else if (8 * (H) == FE_M) {                                                                            \
        FE_LAST_PASS(z);                                                                                     \
    }
#if FE_SPLIT_IN_LAST_PASS
#define FE_LAST_PASS(z) (void)(z) /* with the split step: fe_last_pass_split */
#else
#define FE_LAST_PASS(z) fe_stage_triple_last(z)
#endif
    FE_PASS(4)
    FE_PASS(32)
    FE_PASS(256)
    FE_PASS(2048)
    FE_PASS(16384)
#undef FE_PASS
#undef FE_LAST_PASS
    h = 4; /* the span of the stages the passes left */
    while (8 * h <= FE_M) {
        h *= 8;
    }
    if (4 * h <= FE_M) {
        fe_stage_pair(z, h);
    } else if (2 * h <= FE_M) {
        fe_stage(z, h);
    }
#endif
}

#endif /* TINYASC_FE_CMSIS_DSP */

#if FE_HELIUM
/* The split step for k = 1, 5, 9, ... while the four bins k..k+3 and their partners M-k-3..M-k do not meet
 * (2k + 6 < M): every read of an iteration precedes its writes, and no later iteration reads what an earlier
 * one wrote. Lane l takes bin k+l and its partner M-k-l. Returns the first k left to the scalar loop. */
static int fe_split_mve(float *buf)
{
    static const uint32_t even[4] = {0, 2, 4, 6}, rev2[4] = {6, 4, 2, 0}, rev1[4] = {3, 2, 1, 0};
    const uint32x4_t o_even = vld1q_u32(even), o_rev2 = vld1q_u32(rev2), o_rev1 = vld1q_u32(rev1);
    int k;
    for (k = 1; 2 * k + 6 < FE_M; k += 4) {
        float *zk = buf + 2 * k;
        float *zm = buf + 2 * (FE_M - k - 3); /* points M-k-3 .. M-k: lane l reads point M-k-l */
        const float32x4x2_t a = vld2q_f32(zk);
        const float32x4_t mr = vldrwq_gather_shifted_offset_f32(zm, o_rev2);
        const float32x4_t mi = vldrwq_gather_shifted_offset_f32(zm + 1, o_rev2);
        const float32x4_t wr = vld1q_f32(tinyasc_fe_cos_quarter + k);
        const float32x4_t ws = vldrwq_gather_shifted_offset_f32(tinyasc_fe_cos_quarter + (FE_Q - k - 3), o_rev1);
        const float32x4_t er = vaddq_f32(a.val[0], mr);
        const float32x4_t ei = vsubq_f32(a.val[1], mi);
        const float32x4_t or_ = vaddq_f32(a.val[1], mi);
        const float32x4_t oi = vsubq_f32(mr, a.val[0]);
        const float32x4_t tr = vaddq_f32(vmulq_f32(wr, or_), vmulq_f32(ws, oi));
        const float32x4_t ti = vsubq_f32(vmulq_f32(wr, oi), vmulq_f32(ws, or_));
        const float32x4_t ar = vaddq_f32(er, tr), ai = vaddq_f32(ei, ti);
        const float32x4_t br = vsubq_f32(er, tr), bi = vsubq_f32(ei, ti);
        vstrwq_scatter_shifted_offset_f32(zk, o_even, vaddq_f32(vmulq_f32(ar, ar), vmulq_f32(ai, ai)));
        vstrwq_scatter_shifted_offset_f32(zm, o_rev2, vaddq_f32(vmulq_f32(br, br), vmulq_f32(bi, bi)));
    }
    return k;
}
#endif

#ifndef FE_SPLIT_IN_LAST_PASS
#define FE_SPLIT_IN_LAST_PASS 0 /* Helium's and CMSIS-DSP's FFTs */
#endif

/* Real FFT of the frame (in buf, in the order fe_slot writes it) followed by 4 |X[k]|^2:
 * power k (0 <= k < N/2) left in buf[2k], the Nyquist power returned. The factor 4 (exact in
 * binary floating point) spares the split step's four halvings; the mel sum takes it back. */
static float fe_power_spectrum4(float *buf, int fused)
{
    int k;
    float nyquist;

    fe_cfft(buf, fused); /* z[n] = x[2n] + i x[2n+1]  ->  Z[k] */
#if FE_SPLIT_IN_LAST_PASS
    fe_last_pass_split(buf); /* and the split step of every bin but the multiples of H/2 */
#endif
    {
        const float r = buf[0], i = buf[1];
        const float x0 = 2.0f * (r + i), xm = 2.0f * (r - i); /* 2 X[0], 2 X[N/2]: both real */
        buf[0] = x0 * x0;
        nyquist = xm * xm;
    }
    /* the split step (FE_SPLIT); powers go to the slots just consumed */
#if FE_SPLIT_IN_LAST_PASS
    for (k = FE_H_LAST / 2; k <= FE_M / 2; k += FE_H_LAST / 2) {
        float *zk = buf + 2 * k, *zm = buf + 2 * (FE_M - k);
        FE_SPLIT(zk, zm, k, zk[0], zk[1], zm[0], zm[1]);
    }
#else
#if FE_HELIUM
    k = fe_split_mve(buf);
#else
    k = 1;
#endif
    for (; k <= FE_M / 2; ++k) {
        float *zk = buf + 2 * k;
        float *zm = buf + 2 * (FE_M - k);
        FE_LD2(zk, zkr, zki, "s0", "s1");
        FE_LD2(zm, zmr, zmi, "s2", "s3");
        FE_SPLIT(zk, zm, k, zkr, zki, zmr, zmi);
    }
#endif
    return nyquist;
}

#if TINYASC_FE_PAD_REFLECT
/* Sample i of the padded/cropped clip (i may lie in the STFT padding outside [0, L)), as the
 * int16 value (the window table holds the 2^-15 scale). */
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
    return i < n_avail ? (float)pcm[i] : 0.0f;
}
#endif

/* Four bins' products q = r p into an interval's sums in bin order, a OP q and f OP p - q for the first bin (OP:
 * = to start the sums, += to go on), += for the others; their rises in one load. */
#define FE_MEL_TURN4(r, p, a, f, OP)                                                                         \
    do {                                                                                                     \
        FE_LD4(r, r0_, r1_, r2_, r3_, "s0", "s1", "s2", "s3");                                               \
        const float p0_ = (p)[0], p1_ = (p)[2], p2_ = (p)[4], p3_ = (p)[6];                                  \
        const float q0_ = r0_ * p0_, q1_ = r1_ * p1_, q2_ = r2_ * p2_, q3_ = r3_ * p3_;                      \
        (a) OP q0_;                                                                                          \
        (f) OP p0_ - q0_;                                                                                    \
        (a) += q1_;                                                                                          \
        (f) += p1_ - q1_;                                                                                    \
        (a) += q2_;                                                                                          \
        (f) += p2_ - q2_;                                                                                    \
        (a) += q3_;                                                                                          \
        (f) += p3_ - q3_;                                                                                    \
    } while (0)

/* Interval sums a = sum r p, f = sum (p - r p) over the interval's n bins (p at stride 2, r contiguous), in bin
 * order: four bins per turn, then two, then one. Both pointers advance past the interval (the next one starts where
 * it ends). The first turn starts the sums with its first products (0 + x = x for the non-negative terms here). */
#define FE_INTERVAL_SUMS(r, p, n, a, f)                                                                      \
    do {                                                                                                     \
        int c_ = (n) >> 2;                                                                                   \
        if (c_ > 0) {                                                                                        \
            FE_MEL_TURN4(r, p, a, f, =);                                                                     \
            --c_, (r) += 4, (p) += 8;                                                                        \
        } else {                                                                                             \
            (a) = 0.0f;                                                                                      \
            (f) = 0.0f;                                                                                      \
        }                                                                                                    \
        for (; c_ > 0; --c_, (r) += 4, (p) += 8) {                                                           \
            FE_MEL_TURN4(r, p, a, f, +=);                                                                    \
        }                                                                                                    \
        if ((n) & 2) {                                                                                       \
            FE_LD2(r, r0_, r1_, "s0", "s1");                                                                 \
            const float p0_ = (p)[0], p1_ = (p)[2];                                                          \
            const float q0_ = r0_ * p0_, q1_ = r1_ * p1_;                                                    \
            (a) += q0_;                                                                                      \
            (f) += p0_ - q0_;                                                                                \
            (a) += q1_;                                                                                      \
            (f) += p1_ - q1_;                                                                                \
            (r) += 2;                                                                                        \
            (p) += 4;                                                                                        \
        }                                                                                                    \
        if ((n) & 1) {                                                                                       \
            const float q0_ = (r)[0] * (p)[0];                                                               \
            (a) += q0_;                                                                                      \
            (f) += (p)[0] - q0_;                                                                             \
            (r) += 1;                                                                                        \
            (p) += 2;                                                                                        \
        }                                                                                                    \
    } while (0)

/* The Nyquist bin's power (fe_power_spectrum4 returns it rather than stores it) as the last term of its
 * interval's sums, when the interval is j. */
#define FE_MEL_NYQUIST(j, a, f, nyquist)                                                                     \
    do {                                                                                                     \
        if ((j) == TINYASC_FE_MEL_NYQUIST_INTERVAL) {                                                        \
            const float q_ = TINYASC_FE_MEL_NYQUIST_RISE * (nyquist);                                        \
            (a) += q_;                                                                                       \
            (f) += (nyquist) - q_;                                                                           \
        }                                                                                                    \
    } while (0)

/* The mel sums (times 4, as the powers are) into the odd slots, band b's in scratch[2b + 1]. Interval j holds the
 * bins edge[j] .. edge[j+1]-1 between the peaks of bands j - 1 and j, where band j weighs r (tinyasc_fe_mel_rise)
 * and band j - 1 weighs 1 - r: one product q = r p per bin, a_j += q and f_j += p - q, and band b's sum is
 * a_b + f_{b+1}. The intervals are contiguous: one pass over the bins and their rises. The edges stop at the
 * Nyquist bin, which FE_MEL_NYQUIST adds. */
#if !FE_HELIUM
static void fe_mel_sums(float *scratch, float nyquist)
{
    const float *r = tinyasc_fe_mel_rise;
    const float *p = scratch + 2 * tinyasc_fe_mel_edge[0];
    float *out = scratch + 1; /* band j - 1's slot */
    float a, f, a_before;     /* a_before: the interval before's a */
    int j, k0 = tinyasc_fe_mel_edge[0];
/* interval j's sums into (A, F), the bins and rises from where the interval before ended */
#define FE_MEL_INTERVAL(j, A, F)                                                                             \
    do {                                                                                                     \
        const int k1_ = tinyasc_fe_mel_edge[(j) + 1], n_ = k1_ - k0;                                         \
        k0 = k1_;                                                                                            \
        FE_INTERVAL_SUMS(r, p, n_, A, F);                                                                    \
        FE_MEL_NYQUIST(j, A, F, nyquist);                                                                    \
    } while (0)
    FE_MEL_INTERVAL(0, a_before, f); /* band -1's f: none */
    /* two intervals per turn, their a's in turn the one before (no copy between turns) */
    for (j = 1; j + 1 < TINYASC_FE_N_MELS; j += 2, out += 4) {
        FE_MEL_INTERVAL(j, a, f);
        out[0] = a_before + f; /* band j - 1 */
        FE_MEL_INTERVAL(j + 1, a_before, f);
        out[2] = a + f; /* band j */
    }
    if (j < TINYASC_FE_N_MELS) { /* an odd number of inner intervals: the last one */
        FE_MEL_INTERVAL(j, a, f);
        *out = a_before + f; /* band j - 1 */
        a_before = a;
        ++j;
        out += 2;
    }
    FE_MEL_INTERVAL(j, a, f); /* band n_mels's a: none */
    *out = a_before + f;
#undef FE_MEL_INTERVAL
}

#else
/* Helium's mel sums: four consecutive intervals j .. j + 3 in the lanes, each lane its own interval's bins in their
 * order (p and r gathered at the lanes' starts): all four lanes while the shortest interval lasts, then the lanes
 * whose interval goes on (the others gather +0) until the longest ends; FE_MEL_NYQUIST, and bands j - 1 .. j + 2 (a_b +
 * f_{b+1}). Each interval's sums are the scalar code's: the same additions in the same order, from 0 (0 + x = x for
 * the non-negative terms here). */
static void fe_mel_sums(float *scratch, float nyquist)
{
    const uint16_t *const e = tinyasc_fe_mel_edge;
    const float *const r0 = tinyasc_fe_mel_rise; /* bin e[0] + i's rise at r0[i], its power at p0[2 i] */
    const float *const p0 = scratch + 2 * e[0];
    float *const out = scratch + 1; /* band b's slot out[2 b] */
    float a_before = 0.0f;
    int j;
    for (j = 0; j + 3 <= TINYASC_FE_N_MELS; j += 4) {
        const uint32x4_t ej = vldrhq_u32(e + j);
        const uint32x4_t k = vsubq_n_u32(ej, e[0]), n = vsubq_u32(vldrhq_u32(e + j + 1), ej);
        const uint32x4_t pk = vshlq_n_u32(k, 1);
        const uint32_t m = vminvq_u32(UINT32_MAX, n), mx = vmaxvq_u32(0u, n);
        float32x4_t a = vdupq_n_f32(0.0f), f = a;
        uint32_t t;
        for (t = 0; t < m; ++t) {
            const float32x4_t pv = vldrwq_gather_shifted_offset_f32(p0 + 2 * t, pk);
            const float32x4_t q = vmulq_f32(vldrwq_gather_shifted_offset_f32(r0 + t, k), pv);
            a = vaddq_f32(a, q);
            f = vaddq_f32(f, vsubq_f32(pv, q));
        }
        for (; t < mx; ++t) {
            /* the lanes whose interval holds bin t read it; the others read +0 and add +0 (exactly nothing: their
             * sums are never -0) */
            const mve_pred16_t on = vcmphiq_n_u32(n, t);
            const float32x4_t pv = vldrwq_gather_shifted_offset_z_f32(p0 + 2 * t, pk, on);
            const float32x4_t q = vmulq_f32(vldrwq_gather_shifted_offset_z_f32(r0 + t, k, on), pv);
            a = vaddq_f32(a, q);
            f = vaddq_f32(f, vsubq_f32(pv, q));
        }
        {
            float al[4] __attribute__((aligned(16))), fl[4] __attribute__((aligned(16)));
            vst1q_f32(al, a);
            vst1q_f32(fl, f);
            if (j <= TINYASC_FE_MEL_NYQUIST_INTERVAL && TINYASC_FE_MEL_NYQUIST_INTERVAL < j + 4) {
                const int l = TINYASC_FE_MEL_NYQUIST_INTERVAL - j;
                FE_MEL_NYQUIST(j + l, al[l], fl[l], nyquist);
            }
            if (j > 0) {
                out[2 * (j - 1)] = a_before + fl[0];
            }
            out[2 * j] = al[0] + fl[1];
            out[2 * (j + 1)] = al[1] + fl[2];
            out[2 * (j + 2)] = al[2] + fl[3];
            a_before = al[3];
        }
    }
    for (; j <= TINYASC_FE_N_MELS; ++j) { /* the last intervals one by one */
        const float *r = r0 + (e[j] - e[0]), *p = p0 + 2 * (e[j] - e[0]);
        float a, f;
        FE_INTERVAL_SUMS(r, p, e[j + 1] - e[j], a, f);
        FE_MEL_NYQUIST(j, a, f, nyquist);
        if (j > 0) {
            out[2 * (j - 1)] = a_before + f;
        }
        a_before = a;
    }
}
#endif

#if FE_HELIUM && TINYASC_FE_LOG_OFFSET_NORMAL
/* fe_logf_normal_over(sum + 4 offset, 2) of bands b .. b + 3 per vector (the sums at scratch[2b + 1]: one VLD2): the
 * bits' integer steps in int32 lanes, the bucket's row (c, 1/c, ln c) by three gathers, then the scalar code's float
 * operations in its order; bands from n_mels & ~3 on are the scalar loop's. Each iteration reads its sums before it
 * writes logmel[b .. b + 3], which lie below every later sum's slot (logmel may be scratch). */
static void fe_logmel4_mve(const float *scratch, float *logmel)
{
    const float32x4_t c2 = vdupq_n_f32(FE_LOG_C2), c3 = vdupq_n_f32(FE_LOG_C3);
    const uint32x4_t mant = vdupq_n_u32(0x007fffffu);
    int b;
    for (b = 0; b < (TINYASC_FE_N_MELS & ~3); b += 4) {
        const float32x4_t x = vaddq_n_f32(vld2q_f32(scratch + 2 * b).val[1], 4.0f * TINYASC_FE_LOG_OFFSET);
        const uint32x4_t u = vsubq_n_u32(vreinterpretq_u32_f32(x), FE_LOG_M_LO + (2u << 23));
        const float32x4_t ef = vcvtq_f32_s32(vshrq_n_s32(vreinterpretq_s32_u32(u), 23));
        const uint32x4_t m = vaddq_n_u32(vandq_u32(u, mant), FE_LOG_M_LO);
        const uint32x4_t row = vshlq_n_u32(vsubq_n_u32(vshrq_n_u32(m, 16), FE_LOG_ROW0), 2); /* the row's first float */
        const float32x4_t c = vldrwq_gather_shifted_offset_f32(tinyasc_fe_log_table, row);
        const float32x4_t c_inv = vldrwq_gather_shifted_offset_f32(tinyasc_fe_log_table + 1, row);
        const float32x4_t ln_c = vldrwq_gather_shifted_offset_f32(tinyasc_fe_log_table + 2, row);
        const float32x4_t r = vmulq_f32(vsubq_f32(vreinterpretq_f32_u32(m), c), c_inv);
        const float32x4_t poly = vsubq_f32(c2, vmulq_f32(r, vsubq_f32(c3, vmulq_n_f32(r, FE_LOG_C4))));
        const float32x4_t p = vsubq_f32(r, vmulq_f32(vmulq_f32(r, r), poly));
        const float32x4_t low = vaddq_f32(ln_c, vaddq_f32(vmulq_n_f32(ef, FE_LN2_LO), p));
        vst1q_f32(logmel + b, vaddq_f32(vmulq_n_f32(ef, FE_LN2_HI), low));
    }
}
#endif

/* Power spectrum, mel filterbank and log of the windowed frame in scratch (fused: with the first pass's groups
 * that fe_window_fused computes already there). Band b's sum goes to the odd slot scratch[2b + 1] (the powers
 * sit in the even ones), so logmel may be scratch itself: logmel[b] overwrites a slot whose sum (b odd: band
 * (b - 1) / 2) or power is already used. */

static void fe_logmel_of_windowed(float *scratch, float *logmel, int fused)
{
    int b = 0;
    fe_mel_sums(scratch, fe_power_spectrum4(scratch, fused));
#if FE_HELIUM && TINYASC_FE_LOG_OFFSET_NORMAL
    fe_logmel4_mve(scratch, logmel);
    b = TINYASC_FE_N_MELS & ~3;
#endif
    for (; b < TINYASC_FE_N_MELS; ++b) {
        /* ln(sum / 4 + offset) as ln((sum + 4 offset) / 4): the same float, four times (exact: a power of two) */
#if TINYASC_FE_LOG_OFFSET_NORMAL /* the sums are >= 0 (products of powers and weights in [0, 1], p - rp >= 0) */
        logmel[b] = fe_logf_normal_over(scratch[2 * b + 1] + 4.0f * TINYASC_FE_LOG_OFFSET, 2u);
#else /* clamped at four times FLT_MIN */
        const float x = scratch[2 * b + 1] + 4.0f * TINYASC_FE_LOG_OFFSET;
        logmel[b] = fe_logf_normal_over(x >= 4.70197740e-38f ? x : 4.70197740e-38f, 2u);
#endif
    }
}


/* Clip index of the first windowed sample of a frame (the STFT pads n_fft/2 before the clip). */
static int fe_first_sample(int frame)
{
    return frame * TINYASC_FE_HOP - FE_N / 2 + FE_LEFT;
}

/* Float index of frame sample s (any parity) in the bit-reversed buffer. */
static inline uint32_t fe_slot_any(uint32_t s)
{
    return fe_slot(s & ~1u) + (s & 1u);
}

/* Frame samples [s0, s1) are zero (outside the window or outside the recorded clip). */
static void fe_put_zeros(float *z, int s0, int s1)
{
    int s = s0;
    if (s >= s1) {
        return;
    }
    if (s & 1) {
        z[fe_slot_any((uint32_t)s)] = 0.0f;
        ++s;
    }
    for (; s + 1 < s1; s += 2) {
        float *q = z + fe_slot((uint32_t)s);
        q[0] = 0.0f;
        q[1] = 0.0f;
    }
    if (s < s1) {
        z[fe_slot((uint32_t)s)] = 0.0f;
    }
}

/* Zeros for every frame sample the FFT reads outside the window samples [s_lo, s_hi) (FE_LEFT <= s_lo,
 * s_hi <= FE_LEFT + FE_W; s_lo = s_hi: no sample recorded): the padding inside the window, and the dead
 * points the first pass reads (all of them without the sparse first pass). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void fe_put_outside(float *z, int s_lo, int s_hi)
{
#if FE_SPARSE_FIRST_PASS
    fe_put_zeros(z, 2 * FE_ZLO, s_lo);
    fe_put_zeros(z, s_hi, 2 * FE_ZHI);
    fe_zero_dead(z);
#else
    fe_put_zeros(z, 0, s_lo);
    fe_put_zeros(z, s_hi, FE_N);
#endif
}

#if FE_HELIUM
/* Four complex points per vector of fe_put_run's pairs (s even): samples s + 2l and s + 2l + 1 times their
 * window weights, each product the scalar one, into the point's slot (the bit-reversed one with VBRSR for the
 * built-in FFT, the natural one for CMSIS-DSP's). Returns the pairs written (a multiple of four). */
static int fe_put_pairs_mve(float *z, int s, int pairs, const int16_t *x, const float *w, const int dw)
{
    static const uint32_t fwd_re[4] = {0, 2, 4, 6}, fwd_im[4] = {1, 3, 5, 7};
    static const uint32_t back_re[4] = {7, 5, 3, 1}, back_im[4] = {6, 4, 2, 0};
    const uint32x4_t o_re = vld1q_u32(fwd_re), o_im = vld1q_u32(fwd_im);
    const uint32x4_t ow_re = vld1q_u32(dw > 0 ? fwd_re : back_re), ow_im = vld1q_u32(dw > 0 ? fwd_im : back_im);
    uint32x4_t point = vidupq_n_u32((uint32_t)s >> 1, 1);
    int n;
    for (n = 0; n + 4 <= pairs; n += 4) {
        const float *wb = dw > 0 ? w : w - 7; /* lane l's weights w[2l dw], w[(2l + 1) dw] */
#if TINYASC_FE_CMSIS_DSP
        const uint32x4_t slot = vshlq_n_u32(point, 1);
#else
        const uint32x4_t slot = vshlq_n_u32(vbrsrq_n_u32(point, FE_LOG2_M), 1);
#endif
        const float32x4_t re = vmulq_f32(vcvtq_f32_s32(vldrhq_gather_shifted_offset_s32(x, o_re)),
                                         vldrwq_gather_shifted_offset_f32(wb, ow_re));
        const float32x4_t im = vmulq_f32(vcvtq_f32_s32(vldrhq_gather_shifted_offset_s32(x, o_im)),
                                         vldrwq_gather_shifted_offset_f32(wb, ow_im));
        vstrwq_scatter_shifted_offset_f32(z, slot, re);
        vstrwq_scatter_shifted_offset_f32(z + 1, slot, im);
        point = vaddq_n_u32(point, 4u);
        x += 8;
        w += 8 * dw;
    }
    return n;
}
#endif

/* Frame samples s .. s + count - 1 are x[i] times the window weights w[i * dw] (dw = 1 or -1:
 * the table holds half the symmetric window), written two by two into their complex point. */
static inline void fe_put_run(float *z, int s, int count, const int16_t *x, const float *w, const int dw)
{
    if (count <= 0) {
        return;
    }
    if (s & 1) {
        z[fe_slot_any((uint32_t)s)] = (float)x[0] * w[0];
        ++s, ++x, w += dw, --count;
    }
#if FE_HELIUM
    {
        const int done = 2 * fe_put_pairs_mve(z, s, count / 2, x, w, dw);
        count -= done, s += done, x += done, w += done * dw;
    }
#endif
    for (; count >= 2; count -= 2, s += 2, x += 2, w += 2 * dw) {
        float *q = z + fe_slot((uint32_t)s);
        float w0, w1;
        if (dw > 0) {
            FE_LD2(w, u0, u1, "s0", "s1");
            w0 = u0, w1 = u1;
        } else { /* w[0] and w[-1] */
            FE_LD2(w - 1, u0, u1, "s0", "s1");
            w0 = u1, w1 = u0;
        }
        FE_ST2(q, (float)x[0] * w0, (float)x[1] * w1, "s2", "s3");
    }
    if (count > 0) {
        z[fe_slot((uint32_t)s)] = (float)x[0] * w[0];
    }
}

/* Window samples n in [n0, n1) are x[n - n0] times the periodic Hann window (w[n] = half[n] for
 * n <= W/2, half[W - n] above), at frame sample FE_LEFT + n. */
static void fe_put_window(float *z, int n0, int n1, const int16_t *x)
{
    const int mid = FE_W / 2 + 1; /* first n of the descending half */
    const int a1 = n1 < mid ? n1 : mid;
    const int b0 = n0 > mid ? n0 : mid;
    fe_put_run(z, FE_LEFT + n0, a1 - n0, x, tinyasc_fe_window_pcm + n0, 1);
    fe_put_run(z, FE_LEFT + b0, n1 - b0, x + (b0 - n0), tinyasc_fe_window_pcm + (FE_W - b0), -1);
}

/* A frame's window as the caller holds it: samples [lo, hi) recorded (the others zero: outside the clip, or not
 * received), [lo, split) at x0 (x0[0] is sample lo) and [split, hi) at x1 (x1[0] is sample split: a ring's wrap),
 * lo <= split <= hi. */
typedef struct {
    int lo, hi, split;
    const int16_t *x0, *x1;
} fe_window_runs;

/* Window samples [a, b) into the frame: the recorded ones times the window, the others zero. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void fe_put_window_runs(float *z, int a, int b, const fe_window_runs *w)
{
    const int ra = a > w->lo ? a : w->lo, rb = b < w->hi ? b : w->hi;
    if (ra >= rb) {
        fe_put_zeros(z, FE_LEFT + a, FE_LEFT + b);
        return;
    }
    {
        const int cut = w->split < ra ? ra : (w->split > rb ? rb : w->split);
        fe_put_zeros(z, FE_LEFT + a, FE_LEFT + ra);
        if (ra < cut) {
            fe_put_window(z, ra, cut, w->x0 + (ra - w->lo));
        }
        if (cut < rb) {
            fe_put_window(z, cut, rb, w->x1 + (cut - w->split));
        }
        fe_put_zeros(z, FE_LEFT + rb, FE_LEFT + b);
    }
}

#ifndef FE_FUSE
#define FE_FUSE 0 /* no sparse first pass, or Helium's windowing */
#endif

#if FE_FUSE
/* Samples x[0] and x[1] as floats from one 32-bit load (little-endian: x[0] in the low half): x[0] by the FPU's
 * 16-bit fixed-point conversion of the low half (VCVT.F32.S16, no fraction bits), x[1] as the word shifted down.
 * The values are the int16 samples' exactly (every int16 is a float), so only the instructions change: one load
 * and one shift for two loads of a halfword. Other builds convert each sample. */
#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) && !defined(__ARM_BIG_ENDIAN)
#define FE_PCM_PAIR(x, f0, f1)                                                                               \
    float f0, f1;                                                                                            \
    do {                                                                                                     \
        uint32_t w_;                                                                                         \
        fe_bits lo_;                                                                                         \
        memcpy(&w_, (x), sizeof w_);                                                                         \
        lo_.u = w_;                                                                                          \
        __asm__("vcvt.f32.s16 %0, %0, #0" : "+t"(lo_.f));                                                   \
        f0 = lo_.f;                                                                                          \
        f1 = (float)((int32_t)w_ >> 16);                                                                     \
    } while (0)
#else
#define FE_PCM_PAIR(x, f0, f1) const float f0 = (float)(x)[0], f1 = (float)(x)[1]
#endif

/* The first pass's sparse groups n in [n0, n1) straight from the window's samples, never stored and loaded
 * again: point n + M/2 (the group's slot 1) is x2[0], x2[1] times the descending half's weights wd[0], wd[-1],
 * point n + M/4 (slot 2) x1[0], x1[1] times the ascending half's wa[0], wa[1]; each product the one fe_put_run
 * writes, each output fe_first_group_sparse's. */
static void fe_fused_groups(float *z, uint32_t n0, uint32_t n1, const int16_t *x1, const int16_t *x2)
{
    const float *wa = tinyasc_fe_window_pcm + (2 * (int)n0 + FE_C1);
    const float *wd = tinyasc_fe_window_pcm + (FE_W - (2 * (int)n0 + FE_C2));
    uint32_t n;
    for (n = n0; n < n1; ++n, x1 += 2, x2 += 2, wa += 2, wd -= 2) {
        FE_LD2(wa, a0, a1, "s4", "s5");
        FE_LD2(wd - 1, d1, d0, "s6", "s7");
        FE_PCM_PAIR(x2, x20, x21);
        FE_PCM_PAIR(x1, x10, x11);
        const float ar = x20 * d0, ai = x21 * d1;
        const float br = x10 * a0, bi = x11 * a1;
        FE_ST8(z + 2 * fe_rev(n), ar + br, ai + bi, bi - ar, -(ai + br), ar - br, ai - bi, -(ar + bi), br - ai);
    }
}

/* The same groups with one live point, the other outside the recording (zero): point n + M/2 (x, the descending
 * half's weights) when ascending is 0, point n + M/4 (x, the ascending half's) when it is 1. Each output is the
 * general group's with the dead point 0 (x + 0 = x, 0 - x = -x, -(x + 0) = -x), up to the sign of a zero. */
static void fe_fused_groups_one(float *z, uint32_t n0, uint32_t n1, const int16_t *x, int ascending)
{
    uint32_t n;
    if (ascending) {
        const float *wa = tinyasc_fe_window_pcm + (2 * (int)n0 + FE_C1);
        for (n = n0; n < n1; ++n, x += 2, wa += 2) {
            FE_LD2(wa, a0, a1, "s4", "s5");
            FE_PCM_PAIR(x, x0, x1);
            const float br = x0 * a0, bi = x1 * a1;
            FE_ST8(z + 2 * fe_rev(n), br, bi, bi, -br, -br, -bi, -bi, br);
        }
    } else {
        const float *wd = tinyasc_fe_window_pcm + (FE_W - (2 * (int)n0 + FE_C2));
        for (n = n0; n < n1; ++n, x += 2, wd -= 2) {
            FE_LD2(wd - 1, d1, d0, "s6", "s7");
            FE_PCM_PAIR(x, x0, x1);
            const float ar = x0 * d0, ai = x1 * d1;
            FE_ST8(z + 2 * fe_rev(n), ar, ai, -ar, -ai, ar, ai, -ar, -ai);
        }
    }
}

/* The groups with both live points outside the recording: zeros. */
static void fe_zero_groups(float *z, uint32_t n0, uint32_t n1)
{
    uint32_t n;
    for (n = n0; n < n1; ++n) {
        FE_ST8(z + 2 * fe_rev(n), 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f);
    }
}

/* Window sample pair [i, i + 1]: 1 both recorded and in one run, 0 neither recorded, -1 otherwise (one of them,
 * or one in each run). */
static int fe_pair_state(int i, const fe_window_runs *w)
{
    const int in0 = i >= w->lo && i < w->hi, in1 = i + 1 >= w->lo && i + 1 < w->hi;
    return in0 != in1 || (in0 && i + 1 == w->split) ? -1 : in0;
}

/* Where pair i's samples are read (a recorded pair in one run). */
static const int16_t *fe_pair_samples(int i, const fe_window_runs *w)
{
    return i < w->split ? w->x0 + (i - w->lo) : w->x1 + (i - w->split);
}

/* end, or the smallest n' with 2n' + c >= t if that is smaller and t lies past pair i = 2n + c's first sample. */
static FE_ALWAYS_INLINE int fe_run_end_at(int t, int i, int c, int end)
{
    const int m = (t - c + 1) / 2;
    return t > i && m < end ? m : end;
}

/* The first group n' > n (at most end) whose pair 2n' + c may have another state than group n's, or its samples
 * another run: the pair's first sample reaches lo - 1, lo, hi - 1, hi, split - 1 or split. */
static int fe_pair_run_end(int n, int c, const fe_window_runs *w, int end)
{
    const int i = 2 * n + c;
    end = fe_run_end_at(w->lo - 1, i, c, end);
    end = fe_run_end_at(w->lo, i, c, end);
    end = fe_run_end_at(w->hi - 1, i, c, end);
    end = fe_run_end_at(w->hi, i, c, end);
    end = fe_run_end_at(w->split - 1, i, c, end);
    return fe_run_end_at(w->split, i, c, end);
}

/* The window into the frame, with the first pass's sparse groups [FE_FUSE_LO, FE_FUSE_HI) computed as their
 * samples are read: both live points from the samples (fe_fused_groups), one (fe_fused_groups_one: the other
 * outside the recording), none (fe_zero_groups); a group with a sample pair across an end of the recording or
 * across the runs' seam goes the plain way. Runs of groups of one kind, so no test per group. */
static void fe_window_fused(float *z, const fe_window_runs *w)
{
    int n = FE_FUSE_LO;
    fe_put_outside(z, FE_LEFT, FE_LEFT + FE_W);
    fe_put_window_runs(z, 0, 2 * FE_FUSE_LO + FE_C1, w);
    fe_put_window_runs(z, 2 * FE_FUSE_HI + FE_C1, 2 * FE_FUSE_LO + FE_C2, w);
    fe_put_window_runs(z, 2 * FE_FUSE_HI + FE_C2, FE_W, w);
    while (n < FE_FUSE_HI) {
        const int i1 = 2 * n + FE_C1, i2 = 2 * n + FE_C2;
        const int s1 = fe_pair_state(i1, w), s2 = fe_pair_state(i2, w);
        if (s1 < 0 || s2 < 0) {
            fe_put_window_runs(z, i1, i1 + 2, w);
            fe_put_window_runs(z, i2, i2 + 2, w);
            fe_first_group_sparse(z + 2 * fe_rev((uint32_t)n));
            ++n;
        } else {
            const int end = fe_pair_run_end(n, FE_C2, w, fe_pair_run_end(n, FE_C1, w, FE_FUSE_HI));
            if (s1 && s2) {
                fe_fused_groups(z, (uint32_t)n, (uint32_t)end, fe_pair_samples(i1, w), fe_pair_samples(i2, w));
            } else if (s1) {
                fe_fused_groups_one(z, (uint32_t)n, (uint32_t)end, fe_pair_samples(i1, w), 1);
            } else if (s2) {
                fe_fused_groups_one(z, (uint32_t)n, (uint32_t)end, fe_pair_samples(i2, w), 0);
            } else {
                fe_zero_groups(z, (uint32_t)n, (uint32_t)end);
            }
            n = end;
        }
    }
}
#endif

/* A frame's window (at least one sample recorded: lo < hi) into the frame; returns fe_logmel_of_windowed's flag
 * (whether the first pass's sparse groups are done). */
static int fe_put_frame_window(float *z, const fe_window_runs *w)
{
#if FE_FUSE
    fe_window_fused(z, w);
    return 1;
#else
    fe_put_outside(z, FE_LEFT + w->lo, FE_LEFT + w->hi);
    fe_put_window_runs(z, w->lo, w->hi, w);
    return 0;
#endif
}

void tinyasc_frontend_frame(const int16_t *pcm, int n_samples, int frame, float *scratch, float *logmel)
{
    const int first = fe_first_sample(frame); /* clip index of window[0] */
    const int n_avail = n_samples < TINYASC_FE_CLIP_SAMPLES ? (n_samples > 0 ? n_samples : 0)
                                                             : TINYASC_FE_CLIP_SAMPLES;
    /* window samples [lo, hi) are recorded clip samples */
    const int lo = first < 0 ? -first : 0;
    const int hi = n_avail - first < FE_W ? n_avail - first : FE_W;
    int fused = 0;

#if TINYASC_FE_PAD_REFLECT
    if (lo > 0 || hi < FE_W) { /* the window reaches the reflected padding or the clip's zero tail */
        int n;
        fe_put_outside(scratch, FE_LEFT, FE_LEFT + FE_W);
        for (n = 0; n < FE_W; ++n) {
            const float w = n <= FE_W / 2 ? tinyasc_fe_window_pcm[n] : tinyasc_fe_window_pcm[FE_W - n];
            scratch[fe_slot_any((uint32_t)(FE_LEFT + n))] = fe_sample(pcm, n_avail, first + n) * w;
        }
        fe_logmel_of_windowed(scratch, logmel, 0);
        return;
    }
#endif
    if (hi <= lo) { /* nothing recorded under the window */
        fe_put_outside(scratch, FE_LEFT, FE_LEFT);
    } else {
        const fe_window_runs w = {lo, hi, hi, pcm + (first + lo), pcm + (first + lo)};
        fused = fe_put_frame_window(scratch, &w);
    }
    fe_logmel_of_windowed(scratch, logmel, fused);
}

void tinyasc_frontend_features(const int16_t *pcm, int n_samples, float *scratch, float *out_logmel)
{
    float *mel = scratch; /* the frame's log-mel lands at the scratch's start */
    int t, b;
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        tinyasc_frontend_frame(pcm, n_samples, t, scratch, mel);
        for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
            out_logmel[TINYASC_FE_OUT_INDEX(b, t)] = mel[b];
        }
    }
}

/* |q| < 2^20, false for NaN: one comparison instead of two (VABS on a Cortex-M, a mask on the host) */
#if defined(__GNUC__)
#define FE_ABS_BELOW(q, bound) (__builtin_fabsf(q) < (bound))
#else
#define FE_ABS_BELOW(q, bound) ((q) < (bound) && (q) > -(bound))
#endif

/* r clamped to the model input's range: one SSAT where the core has it */
#if defined(__GNUC__) && defined(__ARM_FEATURE_SAT) && (TINYASC_FE_INPUT_MAX == 127 || TINYASC_FE_INPUT_MAX == 32767)
#include <arm_acle.h>
#define FE_SATURATE(r) ((tinyasc_fe_input_t)__ssat((r), TINYASC_FE_INPUT_MAX == 127 ? 8 : 16))
#else
#define FE_SATURATE(r)                                                                                       \
    ((tinyasc_fe_input_t)((r) > TINYASC_FE_INPUT_MAX ? TINYASC_FE_INPUT_MAX                                  \
                                                     : ((r) < TINYASC_FE_INPUT_MIN ? TINYASC_FE_INPUT_MIN : (r))))
#endif

/* The code of q = x / scale for |q| < 2^20 from q2 = 2q (exact: a caller may have it for free, as twice each of
 * its factors): round half away from zero, plus the zero point, saturated. */
static FE_ALWAYS_INLINE tinyasc_fe_input_t fe_code_bounded_twice(float q2)
{
    int32_t t;
    /* round half away from zero, exactly and without a float comparison: t = trunc(2q), and round(q) = (t + 1) / 2
     * for t >= 0, (t - 1) / 2 below, C's division truncating (floor((2q + 1) / 2) = floor((floor(2q) + 1) / 2)
     * for q >= 0, and the mirror image below). Without a branch: for t < 0, trunc((t - 1) / 2) = floor(t / 2) =
     * t >> 1 (an arithmetic shift, as every compiler this library targets makes a signed one), so round(q) =
     * (t + 1 + (t >> 31)) >> 1 either way, and with the zero point z (floor(u / 2) + z = floor((u + 2z) / 2))
     * (t + 1 + 2z + (t >> 31)) >> 1. */
    t = (int32_t)q2;
    return FE_SATURATE((t + (1 + 2 * TINYASC_FE_INPUT_ZERO_POINT) + (t >> 31)) >> 1);
}

/* The same from q (2q is exact). */
static FE_ALWAYS_INLINE tinyasc_fe_input_t fe_code_bounded(float q)
{
    return fe_code_bounded_twice(2.0f * q);
}

/* The code of any q (NaN to the top). */
static FE_ALWAYS_INLINE tinyasc_fe_input_t fe_code(float q)
{
    if (!FE_ABS_BELOW(q, 1048576.0f)) { /* saturates anyway (NaN to the top); keeps the conversion defined */
        return q <= -1048576.0f ? TINYASC_FE_INPUT_MIN : TINYASC_FE_INPUT_MAX;
    }
    return fe_code_bounded(q);
}

/* The clip APIs' codes: the generator's bound on their |q| (TINYASC_FE_CODES_BOUNDED: the log-mel lies in
 * [log(offset), log(offset + the largest band's weight sum x the window's sum^2)], the normalized one within
 * that range over sqrt(eps) plus lambda times it) spares the range test where it holds. */
#if TINYASC_FE_CODES_BOUNDED
#define FE_CLIP_CODE(q) fe_code_bounded(q)
#define FE_CLIP_CODE_TWICE(q2) fe_code_bounded_twice(q2)
#else
#define FE_CLIP_CODE(q) fe_code(q)
#define FE_CLIP_CODE_TWICE(q2) fe_code(0.5f * (q2))
#endif

/* TFLite's Quantize of x (inlined where the front end quantizes a clip; tinyasc_frontend_quantize is the same). */
static FE_ALWAYS_INLINE tinyasc_fe_input_t fe_quantize(float x)
{
    return fe_code(x / TINYASC_FE_INPUT_SCALE);
}

tinyasc_fe_input_t tinyasc_frontend_quantize(float x)
{
    return fe_quantize(x);
}

#if TINYASC_FE_INPUT_RESNORM
/* Per-band statistics of the clip's log-mel over its frames (static RAM, 3 x n_mels floats):
 * sums of x - x[b][0] (the first frame as shift keeps the variance free of cancellation). */
static float fe_rn_shift[TINYASC_FE_N_MELS];
static float fe_rn_sum[TINYASC_FE_N_MELS];
static float fe_rn_sq[TINYASC_FE_N_MELS];

/* Frame t's log-mel into the sums (the first frame sets the shift, and its d = x - x = 0 adds nothing: the sums
 * start at zero). Four bands per turn, each array's four floats in one load and the sums' in one store. */
static void fe_rn_add(int t, const float *mel)
{
    int b = 0;
    if (t == 0) {
        for (; b < TINYASC_FE_N_MELS; ++b) {
            fe_rn_shift[b] = mel[b];
            fe_rn_sum[b] = 0.0f;
            fe_rn_sq[b] = 0.0f;
        }
        return;
    }
    for (; b + 3 < TINYASC_FE_N_MELS; b += 4) {
        FE_LD4(mel + b, x0, x1, x2, x3, "s0", "s1", "s2", "s3");
        FE_LD4(fe_rn_shift + b, h0, h1, h2, h3, "s4", "s5", "s6", "s7");
        FE_LD4(fe_rn_sum + b, u0, u1, u2, u3, "s8", "s9", "s10", "s11");
        FE_LD4(fe_rn_sq + b, v0, v1, v2, v3, "s12", "s13", "s14", "s15");
        const float d0 = x0 - h0, d1 = x1 - h1, d2 = x2 - h2, d3 = x3 - h3;
        FE_ST4(fe_rn_sum + b, u0 + d0, u1 + d1, u2 + d2, u3 + d3, "s8", "s9", "s10", "s11");
        FE_ST4(fe_rn_sq + b, v0 + d0 * d0, v1 + d1 * d1, v2 + d2 * d2, v3 + d3 * d3, "s12", "s13", "s14", "s15");
    }
#if TINYASC_FE_N_MELS % 4
    for (; b < TINYASC_FE_N_MELS; ++b) {
        const float d = mel[b] - fe_rn_shift[b];
        fe_rn_sum[b] += d;
        fe_rn_sq[b] += d * d;
    }
#endif
}

/* The sums of every frame as mean and sqrt(var + EPS) (mean and std may be fe_rn_sum and fe_rn_sq). */
static void fe_rn_finish(float *mean, float *std)
{
    const float inv_t = 1.0f / (float)TINYASC_FE_N_FRAMES;
    int b;
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

/* The clip APIs' normalization and quantization without a division per element: 2 / (std scale) per band into
 * fe_rn_shift (free once fe_rn_finish has made the means), then each frame's code of twice
 * (x - mean) (1 / (std scale)) + x (lambda / scale), four bands per turn (each array's four floats in one load).
 * That rounds differently from ((x - mean) / std + lambda x) / scale by a few ulp; the statistics' one pass of
 * shifted sums already differs from numpy's pairwise sums by as much (the clip path is held to the int8
 * tolerance, not bit for bit; the streaming path keeps its quotients). */
static void fe_rn_reciprocals(const float *std)
{
    int b;
    for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
        fe_rn_shift[b] = 2.0f / (std[b] * TINYASC_FE_INPUT_SCALE); /* twice 1 / (std scale), exactly */
    }
}

/* twice lambda / scale (folded by the compiler): with fe_rn_shift's doubled reciprocals every product, and so the
 * sum, is twice its plain value exactly, the 2q that FE_CLIP_CODE_TWICE takes */
#define FE_RN_SHORTCUT2 (2.0f * TINYASC_FE_RESNORM_LAMBDA / TINYASC_FE_INPUT_SCALE)

static void fe_rn_quantize_frame(const float *x, const float *mean, int t, tinyasc_fe_input_t *out)
{
    const float *inv = fe_rn_shift;
    int b = 0;
    for (; b + 3 < TINYASC_FE_N_MELS; b += 4) {
        FE_LD4(x + b, x0, x1, x2, x3, "s0", "s1", "s2", "s3");
        FE_LD4(mean + b, m0, m1, m2, m3, "s4", "s5", "s6", "s7");
        FE_LD4(inv + b, i0, i1, i2, i3, "s8", "s9", "s10", "s11");
        out[TINYASC_FE_OUT_INDEX(b, t)] = FE_CLIP_CODE_TWICE((x0 - m0) * i0 + FE_RN_SHORTCUT2 * x0);
        out[TINYASC_FE_OUT_INDEX(b + 1, t)] = FE_CLIP_CODE_TWICE((x1 - m1) * i1 + FE_RN_SHORTCUT2 * x1);
        out[TINYASC_FE_OUT_INDEX(b + 2, t)] = FE_CLIP_CODE_TWICE((x2 - m2) * i2 + FE_RN_SHORTCUT2 * x2);
        out[TINYASC_FE_OUT_INDEX(b + 3, t)] = FE_CLIP_CODE_TWICE((x3 - m3) * i3 + FE_RN_SHORTCUT2 * x3);
    }
#if TINYASC_FE_N_MELS % 4
    for (; b < TINYASC_FE_N_MELS; ++b) {
        out[TINYASC_FE_OUT_INDEX(b, t)] = FE_CLIP_CODE_TWICE((x[b] - mean[b]) * inv[b] + FE_RN_SHORTCUT2 * x[b]);
    }
#endif
}

void tinyasc_frontend_resnorm_stats(const int16_t *pcm, int n_samples, float *scratch, float *mean, float *std)
{
    float *mel = scratch; /* the frame's log-mel lands at the scratch's start */
    int t;
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        tinyasc_frontend_frame(pcm, n_samples, t, scratch, mel);
        fe_rn_add(t, mel);
    }
    fe_rn_finish(mean, std);
}

#endif /* TINYASC_FE_INPUT_RESNORM */

void tinyasc_frontend_quantized_cached(const int16_t *pcm, int n_samples, float *scratch, void *cache,
                                       size_t cache_bytes, tinyasc_fe_input_t *out)
{
#if TINYASC_FE_INPUT_RESNORM
    /* one pass over the frames into the cache, the statistics as tinyasc_frontend_resnorm_stats takes them
     * (same floats, same order), then the cache normalized and quantized: tinyasc_frontend_quantized's bytes */
    float *const mel = (float *)cache;
    float *const mean = fe_rn_sum, *const std = fe_rn_sq; /* overwritten in place once the sums are used */
    int t;
    if (cache_bytes < sizeof(float) * TINYASC_FE_CACHE_FLOATS) {
        tinyasc_frontend_quantized(pcm, n_samples, scratch, out); /* no room: two passes */
        return;
    }
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        tinyasc_frontend_frame(pcm, n_samples, t, scratch, mel + t * TINYASC_FE_N_MELS);
        fe_rn_add(t, mel + t * TINYASC_FE_N_MELS);
    }
    fe_rn_finish(mean, std);
    fe_rn_reciprocals(std);
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        fe_rn_quantize_frame(mel + t * TINYASC_FE_N_MELS, mean, t, out);
    }
#else
    (void)cache, (void)cache_bytes; /* one pass already */
    tinyasc_frontend_quantized(pcm, n_samples, scratch, out);
#endif
}

void tinyasc_frontend_quantized(const int16_t *pcm, int n_samples, float *scratch, tinyasc_fe_input_t *out)
{
    float *mel = scratch; /* the frame's log-mel lands at the scratch's start */
    int t;
#if TINYASC_FE_INPUT_RESNORM
    /* two passes over the frames: statistics, then normalize and quantize (no float clip held) */
    float *mean = fe_rn_sum, *std = fe_rn_sq; /* overwritten in place once the sums are used */
    tinyasc_frontend_resnorm_stats(pcm, n_samples, scratch, mean, std);
    fe_rn_reciprocals(std);
#endif
    for (t = 0; t < TINYASC_FE_N_FRAMES; ++t) {
        tinyasc_frontend_frame(pcm, n_samples, t, scratch, mel);
#if TINYASC_FE_INPUT_RESNORM
        fe_rn_quantize_frame(mel, mean, t, out);
#else
        {
            int b;
            for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
                out[TINYASC_FE_OUT_INDEX(b, t)] = FE_CLIP_CODE(mel[b] / TINYASC_FE_INPUT_SCALE);
            }
        }
#endif
    }
}

/* ------------------------------------------------------------------------------ streaming */

#if TINYASC_FE_INPUT_RESNORM
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

#if TINYASC_FE_INPUT_RESNORM
/* A held code as model input: x = code * STEP, then (x - mean) / std + LAMBDA * x, quantized (the clip
 * stream's and the listening window's normalization; frontend._normalized_codes is its twin). */
static tinyasc_fe_input_t fe_normalized(tinyasc_fe_input_t code, float mean, float std)
{
    const float x = (float)code * TINYASC_FE_LOGMEL_STEP;
    return fe_quantize((x - mean) / std + TINYASC_FE_RESNORM_LAMBDA * x);
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
    float *mel = scratch; /* the frame's log-mel lands at the scratch's start */
    int b;

    /* window samples n in [lo, hi) are received clip samples; the others are zero */
    const int lo = first < 0 ? -first : 0;
    const int hi = st->received - first < FE_W ? st->received - first : FE_W;

    int fused = 0;

    /* window sample n is ring slot (first + n) % W: sample lo at slot r, one run up to the ring's end, one from its
     * start */
    if (hi <= lo) {
        fe_put_outside(scratch, FE_LEFT, FE_LEFT);
    } else {
        const int r = (first + lo) % FE_W;
        const int wrap = lo + (FE_W - r) < hi ? lo + (FE_W - r) : hi;
        const fe_window_runs w = {lo, hi, wrap, st->ring + r, st->ring};
        fused = fe_put_frame_window(scratch, &w);
    }
    fe_logmel_of_windowed(scratch, mel, fused);
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
        out[TINYASC_FE_OUT_INDEX(b, t)] = fe_quantize(mel[b]);
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
                *q = fe_normalized(*q, st->rn_sum[b], st->rn_sq[b]);
            }
        }
    }
#endif
    return st->next_frame;
}
#endif /* !TINYASC_FE_PAD_REFLECT */

/* ------------------------------------------------------------------------ continuous listening */

#define FE_LISTEN_N TINYASC_FE_N_FRAMES

void tinyasc_frontend_listen_init(tinyasc_frontend_listen *st)
{
    memset(st, 0, sizeof(*st));
    st->need = FE_W;
}

/* The frame of the last FE_W samples (the oldest at ring[pos]) into the next slot; with the
 * input ResNorm the slot's old codes leave the sums and the new ones enter them. */
static void fe_listen_frame(tinyasc_frontend_listen *st, float *scratch)
{
    float *mel = scratch; /* the frame's log-mel lands at the scratch's start */
    tinyasc_fe_input_t *codes = st->codes[st->slot];
    int b;

    const fe_window_runs w = {0, FE_W, FE_W - st->pos, st->ring + st->pos, st->ring};
    const int fused = fe_put_frame_window(scratch, &w);
    fe_logmel_of_windowed(scratch, mel, fused);
    for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
#if TINYASC_FE_INPUT_RESNORM
        const int32_t old = st->held == FE_LISTEN_N ? (int32_t)codes[b] : 0;
        const tinyasc_fe_input_t c = fe_logmel_code(mel[b]);
        st->sum[b] += (int32_t)c - old;
        st->sum_sq[b] += (int32_t)c * (int32_t)c - old * old;
        codes[b] = c;
#else
        codes[b] = fe_quantize(mel[b]);
#endif
    }
    st->slot = st->slot + 1 == FE_LISTEN_N ? 0 : st->slot + 1;
    if (st->held < FE_LISTEN_N) {
        st->held += 1;
    }
    st->frames += 1u;
}

int tinyasc_frontend_listen_push(tinyasc_frontend_listen *st, const int16_t *pcm, int n, float *scratch)
{
    int k = 0;
    while (k < n) {
        /* take samples up to the next frame's last one (the ring then holds exactly its window) */
        int take = n - k < st->need ? n - k : st->need;
        st->need -= take;
        while (take > 0) {
            const int run = FE_W - st->pos < take ? FE_W - st->pos : take;
            memcpy(st->ring + st->pos, pcm + k, (size_t)run * sizeof(int16_t));
            st->pos = st->pos + run == FE_W ? 0 : st->pos + run;
            k += run;
            take -= run;
        }
        if (st->need == 0) {
            fe_listen_frame(st, scratch);
            st->need = TINYASC_FE_HOP;
        }
    }
    return st->held;
}

int tinyasc_frontend_listen_window(const tinyasc_frontend_listen *st, float *scratch, tinyasc_fe_input_t *out)
{
    int t, b, s = st->slot; /* a full window's oldest frame is in the next slot to be written */
#if TINYASC_FE_INPUT_RESNORM
    float *mean = scratch, *std = scratch + TINYASC_FE_N_MELS;
    const float n = (float)FE_LISTEN_N, nn = (float)FE_LISTEN_N * (float)FE_LISTEN_N;
#else
    (void)scratch;
#endif
    if (st->held < FE_LISTEN_N) {
        return -1;
    }
#if TINYASC_FE_INPUT_RESNORM
    for (b = 0; b < TINYASC_FE_N_MELS; ++b) { /* N S2 - S1^2 is exact in 64 bits */
        const int64_t s1 = st->sum[b];
        const float var = (float)((int64_t)FE_LISTEN_N * (int64_t)st->sum_sq[b] - s1 * s1) / nn;
        mean[b] = (float)s1 / n * TINYASC_FE_LOGMEL_STEP;
        std[b] = sqrtf(var * (TINYASC_FE_LOGMEL_STEP * TINYASC_FE_LOGMEL_STEP) + TINYASC_FE_RESNORM_EPS);
    }
#endif
    for (t = 0; t < FE_LISTEN_N; ++t) {
        const tinyasc_fe_input_t *codes = st->codes[s];
        for (b = 0; b < TINYASC_FE_N_MELS; ++b) {
#if TINYASC_FE_INPUT_RESNORM
            out[TINYASC_FE_OUT_INDEX(b, t)] = fe_normalized(codes[b], mean[b], std[b]);
#else
            out[TINYASC_FE_OUT_INDEX(b, t)] = codes[b];
#endif
        }
        s = s + 1 == FE_LISTEN_N ? 0 : s + 1;
    }
    return 0;
}
