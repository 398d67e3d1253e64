/*
 * DEPTHWISE_CONV_2D int8 whose windows span both axes (k_h, k_w > 1: MobileNet's and DS-CNN's 3 x 3 layers),
 * optimized (tinyasc_opt_depthwise_window_s8), with the contract of the portable depthwise kernel. The generator calls
 * this name for such layers only, so a library links this file only where a model has one.
 *   Helium (Cortex-M55): 3 x 3 windows on the four-lane output path with eight or more outputs along an axis of
 *     stride 1 and no dilation: each channel's input staged as an int8 plane, four outputs along that axis per vector
 *     (dwp_layer_mve). Otherwise on channels a multiple of four, output rows from input rows staged once per layer four
 *     channels per word (dw_rows_mve: four pixels per pass in asm, int32 lanes); otherwise eight channels per vector
 *     in int16 lanes (VMULLB/VMULLT of the widened inputs and weights), a window wholly inside the input from the
 *     channels' constants (bias + off * sum w), two horizontally adjacent whole windows per call sharing each weight
 *     vector, a window crossing the border from the bias with the input offset added to each input; the outputs four
 *     channels at a time (tinyasc_dw_out4).
 *   DSP (Cortex-M4/M7): 3 x 3 windows on channels a multiple of four on the folded output path, with four or more
 *     outputs along each axis and stride 1 and no dilation along one of them (or, through the entry
 *     tinyasc_opt_depthwise_window_s2_s8, stride 2 along one with eight or more outputs): each channel's input
 *     staged as an int16 plane, four outputs per pass from pairs of neighbouring inputs (dw3p_layer, below). Other
 *     3 x 3 windows, undilated along x, on channels a multiple of four: the pixels of an output row whose windows lie
 *     inside the input in one asm call, every group's constants, taps and output constants in one block read at
 *     immediate offsets (dw3x3_layer).
 * Other shapes, and other cores, take tinyasc_opt_depthwise_conv2d_s8. The same integers as the portable kernel
 * (tests/test_latency_kernels.py, every core).
 */
#include <stddef.h>
#include <string.h>
#include "tinyasc_opt.h"

/* A 3 x 3 depthwise layer on planes (dwp_layer_mve, dw3p_layer): u is the axis along a plane's rows (x if along_x,
 * else y; undilated, stride 1, or 2 on the DSP cores), v the other. A plane row's columns [0, cols) are the windows'
 * reach along u, column j at u = j - pad_u; [lo, hi) of them lie inside the input. */
typedef struct {
    int32_t in_u, in_v, out_u, out_v, pad_u, pad_v, stride_u, stride_v, dil_v;
    int32_t du, dv, su, sv, tu, tv; /* bytes between inputs, outputs and weight taps along u and along v */
    int32_t cols, span, lo, hi;     /* span: plane rows an output row reads */
} dw_plane;

static inline void dw_plane_of(const tinyasc_conv_params *p, int along_x, dw_plane *g)
{
    const int32_t C = p->in_c;
    g->in_u = along_x ? p->in_w : p->in_h, g->in_v = along_x ? p->in_h : p->in_w;
    g->out_u = along_x ? p->out_w : p->out_h, g->out_v = along_x ? p->out_h : p->out_w;
    g->pad_u = along_x ? p->pad_w : p->pad_h, g->pad_v = along_x ? p->pad_h : p->pad_w;
    g->stride_u = along_x ? p->stride_w : p->stride_h;
    g->stride_v = along_x ? p->stride_h : p->stride_w, g->dil_v = along_x ? p->dil_h : p->dil_w;
    g->du = along_x ? C : p->in_w * C, g->dv = along_x ? p->in_w * C : C;
    g->su = along_x ? C : p->out_w * C, g->sv = along_x ? p->out_w * C : C;
    g->tu = along_x ? C : 3 * C, g->tv = along_x ? 3 * C : C;
    g->cols = (g->out_u - 1) * g->stride_u + 3, g->span = 2 * g->dil_v + 1;
    g->lo = g->pad_u < 0 ? 0 : g->pad_u;
    g->hi = g->in_u + g->pad_u > g->cols ? g->cols : g->in_u + g->pad_u;
    if (g->hi < g->lo) g->hi = g->lo;
}

#if defined(__ARM_FEATURE_MVE)
/* Taps [0, nky) x [0, nkx) of eight channels in int16 lanes (dw_window8): even channels' products into *ae, odd
 * ones' into *ao; clipped windows add the input offset o to each input (x + off fits int16). */
static inline __attribute__((always_inline)) void dw_taps8(const int8_t *ip, const int8_t *wp, int32_t nky,
                                                           int32_t nkx, int32_t ystep, int32_t xstep, int32_t wrow,
                                                           int32_t wstep, int16x8_t o, int clipped,
                                                           mve_pred16_t pr16, int predicated, int32x4_t *ae,
                                                           int32x4_t *ao)
{
    int32x4_t e = *ae, d = *ao;
    for (int32_t ky = 0; ky < nky; ky++, ip += ystep, wp += wrow) {
        const int8_t *xi = ip, *wi = wp;
        for (int32_t kx = 0; kx < nkx; kx++, xi += xstep, wi += wstep) {
            int16x8_t x = predicated ? vldrbq_z_s16(xi, pr16) : vldrbq_s16(xi);
            const int16x8_t k = predicated ? vldrbq_z_s16(wi, pr16) : vldrbq_s16(wi);
            if (clipped) x = vaddq_s16(x, o);
            e = vaddq_s32(e, vmullbq_int_s16(x, k));
            d = vaddq_s32(d, vmulltq_int_s16(x, k));
        }
    }
    *ae = e, *ao = d;
}

/* A two-dimensional window (k_h, k_w > 1) of taps [0, nky) x [0, nkx) from ip0 / wp0, eight channels per vector
 * in int16 lanes as dw_column8: a window wholly inside the input (clipped = 0) starts from base[] (bias + off *
 * sum w) and its whole groups of eight run unpredicated; one clipped by the input's border starts from the bias
 * (base = the bias or NULL) and adds the input offset to each of its inputs. */
static __attribute__((noinline)) void dw_window8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                 const int8_t *ip0, const int8_t *wp0, int8_t *op,
                                                 const int32_t *base, int32_t nky, int32_t nkx, int clipped,
                                                 int fast, int full)
{
    const int32_t C = p->in_c, ystep = p->dil_h * p->in_w * C, xstep = p->dil_w * C, wrow = p->k_w * C;
    const int16x8_t o = vdupq_n_s16((int16_t)p->input_offset);
    for (int32_t c = 0; c < C; c += 8) {
        int32x4_t ae = vdupq_n_s32(0), ao = vdupq_n_s32(0);
        const mve_pred16_t pr16 = vctp16q((uint32_t)(C - c));
        if (!clipped && C - c >= 8)
            dw_taps8(ip0 + c, wp0 + c, nky, nkx, ystep, xstep, wrow, C, o, 0, pr16, 0, &ae, &ao);
        else
            dw_taps8(ip0 + c, wp0 + c, nky, nkx, ystep, xstep, wrow, C, o, clipped, pr16, 1, &ae, &ao);
        int32_t sums[8];
        const int32x4x2_t pair = {{ae, ao}};
        vst2q_s32(sums, pair);
        for (int32_t h = 0; h < 8 && c + h < C; h += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(C - c - h));
            const int32x4_t b = base ? vldrwq_z_s32(base + c + h, pr) : vdupq_n_s32(0);
            tinyasc_dw_out4(p, w, op, c + h, vaddq_s32(vldrwq_s32(sums + h), b), pr, fast, full);
        }
    }
}

/* The taps of two horizontally adjacent whole windows (the second xstep2 bytes after the first), eight channels in int16
 * lanes, each weight vector loaded once for both: even and odd channels' products of the first window into *e0, *o0,
 * of the second into *e1, *o1. */
static inline __attribute__((always_inline)) void dw_taps8_pair(const int8_t *ip, const int8_t *wp, int32_t nky,
                                                                int32_t nkx, int32_t ystep, int32_t xstep,
                                                                int32_t wrow, int32_t wstep, int32_t xstep2,
                                                                mve_pred16_t pr16, int predicated, int32x4_t *e0,
                                                                int32x4_t *o0, int32x4_t *e1, int32x4_t *o1)
{
    int32x4_t a = *e0, b = *o0, c = *e1, d = *o1;
    for (int32_t ky = 0; ky < nky; ky++, ip += ystep, wp += wrow) {
        const int8_t *xi = ip, *wi = wp;
        for (int32_t kx = 0; kx < nkx; kx++, xi += xstep, wi += wstep) {
            const int16x8_t k = predicated ? vldrbq_z_s16(wi, pr16) : vldrbq_s16(wi);
            const int16x8_t x = predicated ? vldrbq_z_s16(xi, pr16) : vldrbq_s16(xi);
            const int16x8_t y = predicated ? vldrbq_z_s16(xi + xstep2, pr16) : vldrbq_s16(xi + xstep2);
            a = vaddq_s32(a, vmullbq_int_s16(x, k));
            b = vaddq_s32(b, vmulltq_int_s16(x, k));
            c = vaddq_s32(c, vmullbq_int_s16(y, k));
            d = vaddq_s32(d, vmulltq_int_s16(y, k));
        }
    }
    *e0 = a, *o0 = b, *e1 = c, *o1 = d;
}

/* Two horizontally adjacent windows wholly inside the input (the second xstep2 bytes after the first), eight channels
 * per vector in int16 lanes as dw_window8: each weight vector loaded once for both (11 instructions per tap for 16
 * MACs against 6 for 8), whole groups of eight unpredicated, the last group predicated. */
static __attribute__((noinline)) void dw_window8_pair(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                      const int8_t *ip0, const int8_t *wp0, int8_t *op,
                                                      int32_t xstep2, int fast, int full)
{
    const int32_t C = p->in_c, ystep = p->dil_h * p->in_w * C, xstep = p->dil_w * C, wrow = p->k_w * C;
    for (int32_t c = 0; c < C; c += 8) {
        int32x4_t e0 = vdupq_n_s32(0), o0 = vdupq_n_s32(0), e1 = vdupq_n_s32(0), o1 = vdupq_n_s32(0);
        const mve_pred16_t pr16 = vctp16q((uint32_t)(C - c));
        const int8_t *ip = ip0 + c, *wp = wp0 + c;
        if (C - c >= 8)
            dw_taps8_pair(ip, wp, p->k_h, p->k_w, ystep, xstep, wrow, C, xstep2, pr16, 0, &e0, &o0, &e1, &o1);
        else
            dw_taps8_pair(ip, wp, p->k_h, p->k_w, ystep, xstep, wrow, C, xstep2, pr16, 1, &e0, &o0, &e1, &o1);
        int32_t sums[16];
        const int32x4x2_t pair0 = {{e0, o0}}, pair1 = {{e1, o1}};
        vst2q_s32(sums, pair0);
        vst2q_s32(sums + 8, pair1);
        for (int32_t h = 0; h < 8 && c + h < C; h += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(C - c - h));
            const int32x4_t b = vldrwq_z_s32(tinyasc_acc0 + c + h, pr);
            tinyasc_dw_out4(p, w, op, c + h, vaddq_s32(vldrwq_s32(sums + h), b), pr, fast, full);
            tinyasc_dw_out4(p, w, op + C, c + h, vaddq_s32(vldrwq_s32(sums + 8 + h), b), pr, fast, full);
        }
    }
}

/* Depthwise rows on Helium (dw_rows_mve): the input rows a window reads are staged once per layer with four channels
 * per word, channel group by channel group (staged column x of group g at word g ws + x, the input zero point in the
 * columns left and right of the input), so that a group's pixels and taps sit at small immediate offsets from one
 * pointer; four channels per vector in int32 lanes (VLDRB.S32 + VMUL + VADD per tap and pixel), the sums starting from
 * the channels' constants over the row's taps (tinyasc_acc0). */

/* In asm on the four-lane output path, one call per output row, group of four channels by group: four pixels per
 * pass, then the row's last out_w % 4 pixels one at a time; the sums leave through tinyasc_rq_x4_apply's seven
 * instructions. dw_quads_mve takes any window (loops over the taps); dw_quads3_s1_mve / dw_quads3_s2_mve windows three
 * taps wide, undilated along x, at stride 1 / 2, with every tap at an immediate offset and a tap row's three weight
 * vectors loaded once for the four pixels (per tap row 39 vector instructions for 48 MACs; compiled from C the loops
 * spilled their pointers and constants). Offsets below are those of dw_quad. */
typedef struct {
    const int8_t *const *rows; /* 0: tap row i's staged input row */
    int32_t nky;               /* 4 */
    const int8_t *w0;          /* 8: tap row 0's weights of the group's first channel */
    int32_t wrow, C, dx, xs;   /* 12, 16, 20, 24: a tap row's weight bytes; channels; staged bytes per tap and pixel */
    int32_t KW;                /* 28 */
    int32_t quads, singles;    /* 32, 36: groups of four pixels, then single ones (counted down) */
    int8_t *dst;               /* 40: the first pixel's outputs (advanced) */
    int32_t off;               /* 44: the first pixel's first tap in rows[i] (advanced) */
    const int32_t *base;       /* 48: the four channels' constants (bias + off * sum w over the taps) */
    const int32_t *m, *sh;     /* 52, 56: their multipliers and shifts (-r) */
    int32_t zp;                /* 60: the output zero point */
    int32_t groups, gstep;     /* 64, 68: groups of four channels (counted down); staged bytes between groups */
    int32_t quads0, singles0;  /* 72, 76: quads and singles of each group */
    int8_t *dst0;              /* 80: the group's first output (advanced) */
    int32_t off0;              /* 84: the group's first pixel's first tap (advanced) */
} dw_quad;
typedef char dw_quad_is_the_asm_layout[(offsetof(dw_quad, rows) == 0 && offsetof(dw_quad, nky) == 4 &&
                                        offsetof(dw_quad, w0) == 8 && offsetof(dw_quad, wrow) == 12 &&
                                        offsetof(dw_quad, C) == 16 && offsetof(dw_quad, dx) == 20 &&
                                        offsetof(dw_quad, xs) == 24 && offsetof(dw_quad, KW) == 28 &&
                                        offsetof(dw_quad, quads) == 32 && offsetof(dw_quad, singles) == 36 &&
                                        offsetof(dw_quad, dst) == 40 && offsetof(dw_quad, off) == 44 &&
                                        offsetof(dw_quad, base) == 48 && offsetof(dw_quad, m) == 52 &&
                                        offsetof(dw_quad, sh) == 56 && offsetof(dw_quad, zp) == 60 &&
                                        offsetof(dw_quad, groups) == 64 && offsetof(dw_quad, gstep) == 68 &&
                                        offsetof(dw_quad, quads0) == 72 && offsetof(dw_quad, singles0) == 76 &&
                                        offsetof(dw_quad, dst0) == 80 && offsetof(dw_quad, off0) == 84) ? 1 : -1];

/* tinyasc_rq_x4_apply in asm, the four-lane output step of the int32 sums in V with its clamp: VQRDMULH by M, the
 * sign's term (in T) added, VRSHL by S (-r), the zero point ZP added, the clamp to int8 by a saturating shift up and
 * an arithmetic shift down; M, S and ZP vector registers (the rows kernel's differ lane by lane, the planes' one
 * channel's in every lane). */
#define DW_ASM_OUT(V, T, M, S, ZP)                                                                               \
        "vqrdmulh.s32 " V ", " V ", " M "\n\t"                                                                     \
        "vshr.s32 " T ", " V ", #31\n\t"                                                                           \
        "vadd.i32 " V ", " V ", " T "\n\t"                                                                         \
        "vrshl.s32 " V ", " V ", " S "\n\t"                                                                        \
        "vadd.i32 " V ", " V ", " ZP "\n\t"                                                                        \
        "vqshl.s32 " V ", " V ", #24\n\t"                                                                          \
        "vshr.s32 " V ", " V ", #24\n\t"
/* the four-lane output path of the sums in v (m in q4, -r in q5, the zero point in q6; q7 scratch) */
#define DWQ_OUT(v) DW_ASM_OUT(v, "q7", "q4", "q5", "q6")
#define DWQ_CONSTS                                                                                               \
        "ldr     r11, [r9, #52]\n\t"                                                                              \
        "vldrw.u32 q4, [r11]\n\t"                                                                                 \
        "ldr     r11, [r9, #56]\n\t"                                                                              \
        "vldrw.u32 q5, [r11]\n\t"                                                                                 \
        "ldr     r11, [r9, #60]\n\t"                                                                              \
        "vdup.32 q6, r11\n\t"
/* NP (4 or 1) pixels' sums from the group's constants; the tap rows' pointers in r10, their count in r7, the weights
 * in r6 */
#define DWQ_START(NP)                                                                                            \
        "ldr     r11, [r9, #48]\n\t"                                                                              \
        "vldrw.u32 q0, [r11]\n\t"                                                                                 \
        NP##_COPIES                                                                                               \
        "ldr     r10, [r9, #0]\n\t"                                                                               \
        "ldr     r7, [r9, #4]\n\t"                                                                                \
        "ldr     r6, [r9, #8]\n\t"
#define Q4_COPIES "vmov q1, q0\n\tvmov q2, q0\n\tvmov q3, q0\n\t"
#define Q3_COPIES "vmov q1, q0\n\tvmov q2, q0\n\t"
#define Q2_COPIES "vmov q1, q0\n\t"
#define Q1_COPIES ""
/* the NP pixels' outputs (dst advanced by NP C), off advanced by NP xs (shift: log2 NP), the count at cnt lowered */
#define DWQ_FINISH(NP, shift, cnt, again)                                                                        \
        DWQ_CONSTS                                                                                                \
        NP##_OUTS                                                                                                 \
        "str     r1, [r9, #40]\n\t"                                                                               \
        "ldr     r2, [r9, #44]\n\t"                                                                               \
        "ldr     r3, [r9, #24]\n\t"                                                                               \
        "add     r2, r2, r3, lsl #" #shift "\n\t"                                                                 \
        "str     r2, [r9, #44]\n\t"                                                                               \
        "ldr     r7, [r9, #" #cnt "]\n\t"                                                                         \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "str     r7, [r9, #" #cnt "]\n\t"                                                                         \
        "bne     " again "\n\t"
#define DWQ_STORE(v)                                                                                             \
        DWQ_OUT(v)                                                                                                \
        "vstrb.32 " v ", [r1]\n\t"                                                                                \
        "add     r1, r1, r0\n\t"
#define Q4_OUTS "ldr r1, [r9, #40]\n\t" DWQ_STORE("q0") DWQ_STORE("q1") DWQ_STORE("q2") DWQ_STORE("q3")
#define Q3_OUTS "ldr r1, [r9, #40]\n\t" DWQ_STORE("q0") DWQ_STORE("q1") DWQ_STORE("q2")
#define Q2_OUTS "ldr r1, [r9, #40]\n\t" DWQ_STORE("q0") DWQ_STORE("q1")
#define Q1_OUTS "ldr r1, [r9, #40]\n\t" DWQ_STORE("q0")
#define DWQ_PROLOGUE                                                                                             \
        "push    {r4-r11, lr}\n\t"                                                                                \
        "vpush   {d8-d15}\n\t"                                                                                    \
        "mov     r9, r0\n\t"                                                                                      \
        "ldr     r0, [r9, #16]\n\t"          /* C */                                                              \
        "ldr     r8, [r9, #12]\n\t"          /* wrow */                                                           \
        "11:\n\t"
/* the next group of four channels: its weights, outputs, staged columns, constants and counts */
#define DWQ_NEXT_GROUP                                                                                           \
        "ldr     r1, [r9, #80]\n\t"                                                                               \
        "add     r1, r1, #4\n\t"                                                                                  \
        "str     r1, [r9, #80]\n\t"                                                                               \
        "str     r1, [r9, #40]\n\t"                                                                               \
        "ldr     r1, [r9, #84]\n\t"                                                                               \
        "ldr     r3, [r9, #68]\n\t"                                                                               \
        "add     r1, r1, r3\n\t"                                                                                  \
        "str     r1, [r9, #84]\n\t"                                                                               \
        "str     r1, [r9, #44]\n\t"                                                                               \
        "ldr     r1, [r9, #8]\n\t"                                                                                \
        "add     r1, r1, #4\n\t"                                                                                  \
        "str     r1, [r9, #8]\n\t"                                                                                \
        "ldrd    r1, r2, [r9, #48]\n\t"                                                                           \
        "ldr     r3, [r9, #56]\n\t"                                                                               \
        "add     r1, r1, #16\n\t"                                                                                 \
        "add     r2, r2, #16\n\t"                                                                                 \
        "add     r3, r3, #16\n\t"                                                                                 \
        "strd    r1, r2, [r9, #48]\n\t"                                                                           \
        "str     r3, [r9, #56]\n\t"                                                                               \
        "ldrd    r1, r2, [r9, #72]\n\t"                                                                           \
        "strd    r1, r2, [r9, #32]\n\t"                                                                           \
        "ldr     r1, [r9, #64]\n\t"                                                                               \
        "subs    r1, r1, #1\n\t"                                                                                  \
        "str     r1, [r9, #64]\n\t"                                                                               \
        "bne     11b\n\t"
#define DWQ_EPILOGUE                                                                                             \
        DWQ_NEXT_GROUP                                                                                            \
        "vpop    {d8-d15}\n\t"                                                                                    \
        "pop     {r4-r11, pc}\n\t"

static __attribute__((naked, noinline)) void dw_quads_mve(dw_quad *q __attribute__((unused))) /* q arrives in r0 */
{
    __asm__ volatile(
        DWQ_PROLOGUE
        "ldr     r12, [r9, #20]\n\t"         /* dx */
        "ldr     lr, [r9, #24]\n\t"          /* xs */
        "ldr     r7, [r9, #32]\n\t"
        "cmp     r7, #0\n\t"
        "beq     6f\n\t"
        "1:\n\t"                             /* four pixels */
        DWQ_START(Q4)
        "cmp     r7, #0\n\t"
        "beq     5f\n\t"
        "2:\n\t"                             /* a tap row: the four pixels' inputs in r1-r4, the weights in r5 */
        "ldr     r1, [r10], #4\n\t"
        "ldr     r2, [r9, #44]\n\t"
        "add     r1, r1, r2\n\t"
        "add     r2, r1, lr\n\t"
        "add     r3, r2, lr\n\t"
        "add     r4, r3, lr\n\t"
        "mov     r5, r6\n\t"
        "ldr     r11, [r9, #28]\n\t"
        "3:\n\t"
        "vldrb.s32 q4, [r5]\n\t"
        "add     r5, r5, r0\n\t"
        "vldrb.s32 q5, [r1]\n\t"
        "vmul.i32 q5, q5, q4\n\t"
        "vadd.i32 q0, q0, q5\n\t"
        "vldrb.s32 q6, [r2]\n\t"
        "vmul.i32 q6, q6, q4\n\t"
        "vadd.i32 q1, q1, q6\n\t"
        "vldrb.s32 q7, [r3]\n\t"
        "vmul.i32 q7, q7, q4\n\t"
        "vadd.i32 q2, q2, q7\n\t"
        "vldrb.s32 q5, [r4]\n\t"
        "vmul.i32 q5, q5, q4\n\t"
        "vadd.i32 q3, q3, q5\n\t"
        "add     r1, r1, r12\n\t"
        "add     r2, r2, r12\n\t"
        "add     r3, r3, r12\n\t"
        "add     r4, r4, r12\n\t"
        "subs    r11, r11, #1\n\t"
        "bne     3b\n\t"
        "add     r6, r6, r8\n\t"
        "subs    r7, r7, #1\n\t"
        "bne     2b\n\t"
        "5:\n\t"
        DWQ_FINISH(Q4, 2, 32, "1b")
        "6:\n\t"
        "ldr     r7, [r9, #36]\n\t"
        "cmp     r7, #0\n\t"
        "beq     9f\n\t"
        "7:\n\t"                             /* one pixel */
        DWQ_START(Q1)
        "cmp     r7, #0\n\t"
        "beq     8f\n\t"
        "4:\n\t"
        "ldr     r1, [r10], #4\n\t"
        "ldr     r2, [r9, #44]\n\t"
        "add     r1, r1, r2\n\t"
        "mov     r5, r6\n\t"
        "ldr     r11, [r9, #28]\n\t"
        "10:\n\t"
        "vldrb.s32 q4, [r5]\n\t"
        "add     r5, r5, r0\n\t"
        "vldrb.s32 q5, [r1]\n\t"
        "vmul.i32 q5, q5, q4\n\t"
        "vadd.i32 q0, q0, q5\n\t"
        "add     r1, r1, r12\n\t"
        "subs    r11, r11, #1\n\t"
        "bne     10b\n\t"
        "add     r6, r6, r8\n\t"
        "subs    r7, r7, #1\n\t"
        "bne     4b\n\t"
        "8:\n\t"
        DWQ_FINISH(Q1, 0, 36, "7b")
        "9:\n\t"
        DWQ_EPILOGUE);
}

/* one tap of pixel j (inputs at r1 + (j S + k) 4) with the weights of tap k in wreg, into acc (S: .set DWQ_S) */
#define DWQ_MAC(acc, j, k, wreg)                                                                                 \
        "vldrb.s32 q7, [r1, #((" #j " * DWQ_S + " #k ") * 4)]\n\t"                                               \
        "vmul.i32 q7, q7, " wreg "\n\t"                                                                           \
        "vadd.i32 " acc ", " acc ", q7\n\t"
/* a tap row's three weight vectors into q4-q6 (r6 advanced by wrow) and its staged row at r1 */
#define DWQ_ROW3                                                                                                 \
        "ldr     r1, [r10], #4\n\t"                                                                               \
        "add     r1, r1, r2\n\t"                                                                                  \
        "vldrb.s32 q4, [r6]\n\t"                                                                                  \
        "add     r5, r6, r0\n\t"                                                                                  \
        "vldrb.s32 q5, [r5]\n\t"                                                                                  \
        "add     r5, r5, r0\n\t"                                                                                  \
        "vldrb.s32 q6, [r5]\n\t"                                                                                  \
        "add     r6, r6, r8\n\t"
#define DWQ_PIXEL3(acc, j) DWQ_MAC(acc, j, 0, "q4") DWQ_MAC(acc, j, 1, "q5") DWQ_MAC(acc, j, 2, "q6")
/* a row's last NP (Q3 or Q2) pixels in one pass, a tap row's weight vectors loaded once for them (PIXELS: their
 * DWQ_PIXEL3s), then their outputs; the next group resets the outputs and the staged columns (DWQ_NEXT_GROUP) */
#define DWQ_REST(NP, PIXELS, row, out)                                                                           \
        DWQ_START(NP)                                                                                             \
        "ldr     r2, [r9, #44]\n\t"                                                                               \
        "cmp     r7, #0\n\t"                                                                                      \
        "beq     " #out "f\n\t"                                                                                   \
        #row ":\n\t"                                                                                              \
        DWQ_ROW3                                                                                                  \
        PIXELS                                                                                                    \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "bne     " #row "b\n\t"                                                                                   \
        #out ":\n\t"                                                                                              \
        DWQ_CONSTS                                                                                                \
        NP##_OUTS
#define DWQ_QUADS3(S)                                                                                            \
        ".set    DWQ_S, " #S "\n\t"                                                                               \
        DWQ_PROLOGUE                                                                                              \
        "ldr     r7, [r9, #32]\n\t"                                                                               \
        "cmp     r7, #0\n\t"                                                                                      \
        "beq     6f\n\t"                                                                                          \
        "1:\n\t"                                                                                                  \
        DWQ_START(Q4)                                                                                             \
        "ldr     r2, [r9, #44]\n\t"                                                                               \
        "cmp     r7, #0\n\t"                                                                                      \
        "beq     5f\n\t"                                                                                          \
        "2:\n\t"                                                                                                  \
        DWQ_ROW3                                                                                                  \
        DWQ_PIXEL3("q0", 0) DWQ_PIXEL3("q1", 1) DWQ_PIXEL3("q2", 2) DWQ_PIXEL3("q3", 3)                           \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "bne     2b\n\t"                                                                                          \
        "5:\n\t"                                                                                                  \
        DWQ_FINISH(Q4, 2, 32, "1b")                                                                               \
        "6:\n\t"                                                                                                  \
        "ldr     r7, [r9, #36]\n\t"                 /* the pixels left: 3, 2, none or 1 */                      \
        "cmp     r7, #2\n\t"                                                                                      \
        "bgt     12f\n\t"                                                                                         \
        "beq     14f\n\t"                                                                                         \
        "cmp     r7, #0\n\t"                                                                                      \
        "beq     9f\n\t"                                                                                          \
        "7:\n\t"                                                                                                  \
        DWQ_START(Q1)                                                                                             \
        "ldr     r2, [r9, #44]\n\t"                                                                               \
        "cmp     r7, #0\n\t"                                                                                      \
        "beq     8f\n\t"                                                                                          \
        "4:\n\t"                                                                                                  \
        DWQ_ROW3                                                                                                  \
        DWQ_PIXEL3("q0", 0)                                                                                       \
        "subs    r7, r7, #1\n\t"                                                                                  \
        "bne     4b\n\t"                                                                                          \
        "8:\n\t"                                                                                                  \
        DWQ_FINISH(Q1, 0, 36, "7b")                                                                               \
        "b       9f\n\t"                                                                                          \
        "12:\n\t"                              /* three pixels left */                                             \
        DWQ_REST(Q3, DWQ_PIXEL3("q0", 0) DWQ_PIXEL3("q1", 1) DWQ_PIXEL3("q2", 2), 13, 16)                         \
        "b       9f\n\t"                                                                                          \
        "14:\n\t"                              /* two */                                                           \
        DWQ_REST(Q2, DWQ_PIXEL3("q0", 0) DWQ_PIXEL3("q1", 1), 15, 17)                                             \
        "9:\n\t"                                                                                                  \
        DWQ_EPILOGUE

static __attribute__((naked, noinline)) void dw_quads3_s1_mve(dw_quad *q __attribute__((unused)))
{
    __asm__ volatile(DWQ_QUADS3(1));
}

static __attribute__((naked, noinline)) void dw_quads3_s2_mve(dw_quad *q __attribute__((unused)))
{
    __asm__ volatile(DWQ_QUADS3(2));
}
#undef DWQ_QUADS3
#undef DWQ_REST
#undef DWQ_PIXEL3
#undef DWQ_ROW3
#undef DWQ_MAC
#undef DWQ_EPILOGUE
#undef DWQ_NEXT_GROUP
#undef DWQ_PROLOGUE
#undef Q1_OUTS
#undef Q2_OUTS
#undef Q3_OUTS
#undef Q4_OUTS
#undef DWQ_STORE
#undef DWQ_FINISH
#undef Q1_COPIES
#undef Q2_COPIES
#undef Q3_COPIES
#undef Q4_COPIES
#undef DWQ_START
#undef DWQ_CONSTS
#undef DWQ_OUT

/* One output row (out_w pixels at op) from the nky staged rows of its taps (w0: tap row 0's weights), every group of
 * four channels in one asm call (group g's columns at g ws_words words in each row); the channels' constants for
 * these taps in tinyasc_acc0. */
static __attribute__((noinline)) void dw_row_mve(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                 const int8_t *const *rows, int32_t nky, const int8_t *w0,
                                                 int8_t *op, int32_t ws_words)
{
    const int32_t C = p->in_c, KW = p->k_w, wrow = KW * C, dx = 4 * p->dil_w, xs = 4 * p->stride_w, n = p->out_w;
    void (*quads)(dw_quad *) = KW == 3 && p->dil_w == 1 && p->stride_w == 1   ? dw_quads3_s1_mve
                               : KW == 3 && p->dil_w == 1 && p->stride_w == 2 ? dw_quads3_s2_mve
                                                                             : dw_quads_mve;
    dw_quad q = {.rows = rows, .nky = nky, .w0 = w0, .wrow = wrow, .C = C, .dx = dx, .xs = xs, .KW = KW,
                 .quads = n / 4, .singles = n % 4, .dst = op, .off = 0, .base = tinyasc_acc0, .m = w->multiplier,
                 .sh = w->shift, .zp = p->output_offset, .groups = C / 4, .gstep = 4 * ws_words, .quads0 = n / 4,
                 .singles0 = n % 4, .dst0 = op, .off0 = 0};
    quads(&q);
}

static int32_t gcd32(int32_t a, int32_t b)
{
    while (b) {
        const int32_t t = a % b;
        a = b, b = t;
    }
    return a;
}

/* A 16-byte block of four groups' words from s, each word to its group's row (rows4: the rows' offsets from d). */
static inline __attribute__((always_inline)) void dw_stage_block(int8_t *d, const int8_t *s, uint32x4_t rows4)
{
    vstrwq_scatter_offset_s32((int32_t *)(void *)d, rows4, vreinterpretq_s32_s8(vldrbq_s8(s)));
}

/* Input row y staged into slot (ws words per group of four channels, the row's words from column pad_l): a 16-byte
 * block (four groups) by one VLDRB and one VSTRW scattering the four words to their groups' rows: block by block down
 * the row's pixels where the channels are whole blocks and the pixels outnumber them (the longer loop inside), else
 * pixel by pixel with the groups left one word each. */
static __attribute__((noinline)) void dw_stage_row(const int8_t *src, int8_t *slot, int32_t in_w, int32_t C,
                                                   int32_t ws, int32_t pad_l)
{
    const int32_t G = C / 4, G4 = G & ~3, step = 4 * ws;
    const uint32x4_t rows4 = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)step); /* four groups' rows, bytes */
    if (G4 == G && in_w >= G / 4) { /* whole blocks, more pixels than blocks: each block down the row's pixels */
        for (int32_t g = 0; g < G; g += 4) {
            const int8_t *s = src + 4 * g;
            int8_t *d = slot + pad_l * 4 + g * step;
            for (int32_t x = 0; x < in_w; x++, s += C, d += 4) dw_stage_block(d, s, rows4);
        }
        return;
    }
    for (int32_t x = 0; x < in_w; x++) {
        int8_t *d = slot + (pad_l + x) * 4;
        int32_t g = 0;
        for (; g < G4; g += 4, d += 4 * step, src += 16) dw_stage_block(d, src, rows4);
        for (; g < G; g++, d += step, src += 4) {
            uint32_t v;
            memcpy(&v, src, 4);
            memcpy(d, &v, 4);
        }
    }
}

/* Every output row of the layer through dw_row_mve, on channels a multiple of four and the four-lane output path
 * (tinyasc_out_x4_ok): a row's taps clipped by the top
 * or bottom border are left out and its channels start from bias + off * (sum of the remaining taps' weights),
 * computed into tinyasc_acc0 whenever the clipped tap rows change; the input rows are staged (above) each once per
 * layer, the input zero point left and right of them (x + off = 0 there), in k_h slots of the Helium gather buffer
 * (input row y in slot y mod k_h: a window's rows are distinct there when gcd(dil_h, k_h) = 1). -1 where the depth
 * multiplier is not 1, the channels not a multiple of four, the output path not the four-lane one or the staged rows
 * do not fit. */
static int dw_rows_mve(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    const int32_t C = p->in_c, row = p->in_w * C, KW = p->k_w;
    if (p->depth_multiplier != 1 || C % 4 != 0 || C > TINYASC_OPT_MAX_C || p->k_h > 16) return -1;
    const int32_t pad_l = p->pad_w;
    const int32_t reach = (p->out_w - 1) * p->stride_w + (KW - 1) * p->dil_w + 1; /* staged columns the taps read */
    const int32_t pad_r = reach - pad_l - p->in_w > 0 ? reach - pad_l - p->in_w : 0;
    const int32_t ws = pad_l + p->in_w + pad_r; /* a staged row's words per group of four channels */
    if (p->k_h * ws * C > TINYASC_OPT_MAX_K || gcd32(p->dil_h, p->k_h) != 1 || !tinyasc_out_x4_ok(p, w)) return -1;
    int8_t *const slots = tinyasc_mve_gather;
    const uint32_t z4 = 0x01010101u * (uint8_t)(-p->input_offset); /* four channels' zero points */
    for (int32_t r = 0; r < p->k_h * C / 4; r++) { /* every slot's every group */
        uint32_t *const g = (uint32_t *)(void *)(slots + r * ws * 4);
        for (int32_t x = 0; x < pad_l; x++) g[x] = z4;
        for (int32_t x = pad_l + p->in_w; x < ws; x++) g[x] = z4;
    }
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in = input + b * p->in_h * row;
        int32_t cur0 = -1, cur1 = -1, slot_row[16]; /* the tap rows tinyasc_acc0 holds the constants of; slots' rows */
        for (int32_t s = 0; s < p->k_h; s++) slot_row[s] = -1;
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            int32_t ky0, ky1;
            tinyasc_tap_range(y0, p->dil_h, p->k_h, p->in_h, &ky0, &ky1);
            if (ky0 != cur0 || ky1 != cur1) {
                tinyasc_weights wk = *w;
                wk.data = w->data + ky0 * KW * C;
                tinyasc_chan_base(p, &wk, C, (ky1 - ky0) * KW, C, 1, tinyasc_acc0);
                cur0 = ky0, cur1 = ky1;
            }
            const int8_t *rows[16];
            for (int32_t ky = ky0; ky < ky1; ky++) {
                const int32_t y = y0 + ky * p->dil_h, s = y % p->k_h;
                if (slot_row[s] != y) {
                    dw_stage_row(in + y * row, slots + s * ws * C, p->in_w, C, ws, pad_l);
                    slot_row[s] = y;
                }
                rows[ky - ky0] = slots + s * ws * C;
            }
            dw_row_mve(p, w, rows, ky1 - ky0, w->data + ky0 * KW * C, output + (b * p->out_h + oy) * p->out_w * C,
                       ws);
        }
    }
    return 0;
}

/* 3 x 3 windows on planes (Helium, the four-lane output path): along one axis u of stride 1 and undilated, one
 * channel at a time, the channel's input staged as an int8 plane (dwp_stage_mve: rows along the other axis v, u along
 * the row, the input zero point outside the input, eight inputs per gather), so that four neighbouring outputs along u
 * are the four lanes of one vector: per tap one VLDRB.S32 of four neighbouring inputs and one VMLA by the tap's weight
 * (a scalar register), nine of each for 36 MACs, the first by VMLAS onto the channel's constant (bias + off * sum w:
 * the zero point adds exactly nothing, as TFLite skips those taps), the four-lane output step (seven instructions)
 * and one scattering store (outputs su bytes apart): 55 cycles per 36 MACs on the M55's model, the channels-per-lane
 * kernels above a VMUL and a VADD per tap and pixel (their weights differ lane by lane). A row in one tail-predicated
 * loop (its last one to three outputs in the predicated last vector). The axis u is the one with fewer vectors, of at
 * least eight outputs (on shorter rows a channel's staging and rows outweigh its taps: the rows kernel above); planes
 * in bands of output rows that fit the gather buffer. -1: not taken. */
/* A band's plane rows are staged by tinyasc_plane_stage_mve (tinyasc_opt_plane.c); the padding columns hold zp from
 * dwp_layer_mve. */
typedef struct {
    const int8_t *in;    /* 0: the first row's window, its top plane row (column 0) */
    int32_t rowstep;     /* 4: bytes between a window's plane rows */
    int8_t *out;         /* 8: the first row's first output */
    int32_t n;           /* 12: outputs a row (>= 1) */
    const int32_t *k;    /* 16: the nine taps, u fastest */
    const int32_t *vec;  /* 20: vectors m, -r, zp, the constant, the store offsets (0, su, 2 su, 3 su), 4 su */
    int32_t rows;        /* 24: >= 1 */
    int32_t in_next;     /* 28: bytes from a row's window to the next row's (dwp_pairs_mve: the next pair's) */
    int32_t out_next;    /* 32: bytes from a row's first output to the next row's (dwp_pairs_mve: the next pair's) */
    int32_t out_row;     /* 36: dwp_pairs_mve: bytes from a pair's first row of outputs to its second */
    int32_t last;        /* 40: dwp_pairs_mve: 1 where a last row follows the pairs (rows: the pairs, >= 0) */
} dwp_run;
typedef char dwp_run_is_the_asm_layout[(offsetof(dwp_run, in) == 0 && offsetof(dwp_run, rowstep) == 4 &&
                                        offsetof(dwp_run, out) == 8 && offsetof(dwp_run, n) == 12 &&
                                        offsetof(dwp_run, k) == 16 && offsetof(dwp_run, vec) == 20 &&
                                        offsetof(dwp_run, rows) == 24 && offsetof(dwp_run, in_next) == 28 &&
                                        offsetof(dwp_run, out_next) == 32 && offsetof(dwp_run, out_row) == 36 &&
                                        offsetof(dwp_run, last) == 40)
                                           ? 1 : -1];

/* A channel's band of rows. Registers: r0-r2 the window's plane rows, r3 the channel's constant, r4-r11 taps 1 to 8,
 * r12 the row's outputs, lr the loop; q0 the sums, q1 an input vector or scratch, q2 m, q3 -r, q4 zp, q5 the store
 * offsets, q6 their step, q7 tap 0 in every lane (the first tap by VMLAS onto the constant: x w0 + constant, no copy
 * of the constant into the sums). Frame: [sp] q, 4 rows left, 8 the row's window, 12 its outputs. */
#define DWP_ROW(ptr, k0, k1, k2)                                                                                  \
        "vldrb.s32 q1, [" ptr ", #1]\n\t"                                                                         \
        "vmla.s32 q0, q1, " k1 "\n\t"                                                                             \
        "vldrb.s32 q1, [" ptr ", #2]\n\t"                                                                         \
        "vmla.s32 q0, q1, " k2 "\n\t"                                                                             \
        "vldrb.s32 q1, [" ptr "], #4\n\t"                                                                         \
        "vmla.s32 q0, q1, " k0 "\n\t"
static __attribute__((naked, noinline)) void dwp_run_mve(const dwp_run *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "vpush   {d8-d15}\n\t"
        "sub     sp, sp, #16\n\t"
        "str     r0, [sp]\n\t"
        "ldr     r12, [r0, #20]\n\t"
        "vldrw.32 q2, [r12]\n\t"
        "vldrw.32 q3, [r12, #16]\n\t"
        "vldrw.32 q4, [r12, #32]\n\t"
        "vldrw.32 q6, [r12, #80]\n\t"
        "ldr     r12, [r0, #16]\n\t"
        "ldm     r12, {r3-r11}\n\t"          /* the taps */
        "vdup.32 q7, r3\n\t"                 /* tap 0 in every lane (its VMLAS) */
        "ldr     r12, [r0, #20]\n\t"
        "ldr     r3, [r12, #48]\n\t"         /* the constant */
        "ldr     r1, [r0, #24]\n\t"
        "str     r1, [sp, #4]\n\t"
        "ldr     r1, [r0, #0]\n\t"
        "ldr     r2, [r0, #8]\n\t"
        "strd    r1, r2, [sp, #8]\n\t"
        "1:\n\t"                             /* a row */
        "ldr     lr, [sp]\n\t"
        "ldr     r12, [lr, #20]\n\t"
        "vldrw.32 q5, [r12, #64]\n\t"        /* the store offsets */
        "ldr     r2, [lr, #4]\n\t"
        "ldr     r0, [sp, #8]\n\t"
        "add     r1, r0, r2\n\t"
        "add     r2, r1, r2\n\t"
        "ldr     r12, [lr, #12]\n\t"
        "dlstp.32 lr, r12\n\t"
        "ldr     r12, [sp, #12]\n\t"
        "2:\n\t"                             /* four outputs */
        "vldrb.s32 q0, [r0], #4\n\t"          /* tap 0 onto the constant */
        "vmlas.s32 q0, q7, r3\n\t"
        "vldrb.s32 q1, [r0, #-3]\n\t"
        "vmla.s32 q0, q1, r4\n\t"
        "vldrb.s32 q1, [r0, #-2]\n\t"
        "vmla.s32 q0, q1, r5\n\t"
        DWP_ROW("r1", "r6", "r7", "r8")
        DWP_ROW("r2", "r9", "r10", "r11")
        DW_ASM_OUT("q0", "q1", "q2", "q3", "q4")
        "vstrb.32 q0, [r12, q5]\n\t"
        "vadd.i32 q5, q5, q6\n\t"
        "letp    lr, 2b\n\t"
        "ldr     lr, [sp]\n\t"               /* the next row */
        "ldr     r0, [sp, #8]\n\t"
        "ldr     r1, [lr, #28]\n\t"
        "add     r0, r0, r1\n\t"
        "ldr     r2, [sp, #12]\n\t"
        "ldr     r1, [lr, #32]\n\t"
        "add     r2, r2, r1\n\t"
        "strd    r0, r2, [sp, #8]\n\t"
        "ldr     r0, [sp, #4]\n\t"
        "subs    r0, r0, #1\n\t"
        "str     r0, [sp, #4]\n\t"
        "bne     1b\n\t"
        "add     sp, sp, #16\n\t"
        "vpop    {d8-d15}\n\t"
        "pop     {r4-r11, pc}\n\t");
}
#undef DWP_ROW

/* Plane rows DWP_PITCH bytes apart for dwp_pairs_mve: its four rows' taps at immediate offsets from one pointer (the
 * offsets of VLDRB.S32 reach -127 to 127: from row 1's tap 1, row 0's tap 0 lies 64 bytes below and row 3's tap 2 127
 * above). */
#define DWP_PITCH 63
typedef char dwp_pitch_is_the_asm_offsets[DWP_PITCH == 63 ? 1 : -1]; /* the offsets below are written for 63 */
/* Two output rows a pass (stride 1 and no dilation along v: rows y and y + 1 read plane rows y to y + 3): each of the
 * four plane rows' three input vectors loaded once for both rows' sums, twelve loads for 72 MACs where the row kernel
 * above takes eighteen; the rows' outputs through the four-lane output step as above, eight outputs in 48 vector
 * instructions where it takes 56. The plane rows DWP_PITCH apart (a row's columns and three more within it), so that
 * every tap is at an immediate offset from one pointer, r0 at plane row 1's tap 1 (row r's tap k at (r - 1) DWP_PITCH
 * + k - 1 from it; its own load last, post-incremented by 4). rows: pairs of rows (none or more); in_next and
 * out_next: a pair's steps; a last odd row (last) after them by the same registers, one sum. Registers: r0 the pair's
 * window (at row 1's tap 1), r1 the channel's constant, r2-r9 taps 1 to 8, r10 / r11 the two rows' outputs, r12 the
 * store offsets' step, lr the loop; q0 / q1 the two rows' sums, q2 m, q3 -r, q4 zp, q5 the store offsets, q6 an input
 * vector or scratch, q7 tap 0 in every lane. Frame: [sp] q, 4 pairs left, 8 the pair's window, 12 its outputs, 16 the
 * step. */
#define DWP_TAP2(off, k0, k1)                                                                                     \
        "vldrb.s32 q6, [r0, #" #off "]\n\t"                                                                       \
        "vmla.s32 q0, q6, " k0 "\n\t"                                                                             \
        "vmla.s32 q1, q6, " k1 "\n\t"
#define DWP_TAP1(acc, off, k)                                                                                     \
        "vldrb.s32 q6, [r0, #" #off "]\n\t"                                                                       \
        "vmla.s32 " acc ", q6, " k "\n\t"
#define DWP_OUT(acc, base)                                                                                        \
        DW_ASM_OUT(acc, "q6", "q2", "q3", "q4")                                                                   \
        "vstrb.32 " acc ", [" base ", q5]\n\t"
static __attribute__((naked, noinline)) void dwp_pairs_mve(const dwp_run *q __attribute__((unused))) /* q in r0 */
{
    __asm__ volatile(
        "push    {r4-r11, lr}\n\t"
        "vpush   {d8-d15}\n\t"
        "sub     sp, sp, #24\n\t"
        "str     r0, [sp]\n\t"
        "ldr     r12, [r0, #20]\n\t"
        "vldrw.32 q2, [r12]\n\t"
        "vldrw.32 q3, [r12, #16]\n\t"
        "vldrw.32 q4, [r12, #32]\n\t"
        "ldr     r1, [r12, #48]\n\t"         /* the constant */
        "ldr     r2, [r12, #80]\n\t"         /* the store offsets' step */
        "str     r2, [sp, #16]\n\t"
        "ldr     lr, [r0, #16]\n\t"
        "ldr     r2, [lr], #4\n\t"
        "vdup.32 q7, r2\n\t"                 /* tap 0 in every lane (its VMLAS) */
        "ldm     lr, {r2-r9}\n\t"            /* taps 1 to 8 */
        "ldr     r10, [r0, #24]\n\t"
        "str     r10, [sp, #4]\n\t"
        "ldr     r10, [r0, #0]\n\t"
        "ldr     r11, [r0, #8]\n\t"
        "strd    r10, r11, [sp, #8]\n\t"
        "1:\n\t"                             /* a pair of rows */
        "ldr     r0, [sp, #4]\n\t"
        "subs    r0, r0, #1\n\t"
        "bmi     5f\n\t"
        "str     r0, [sp, #4]\n\t"
        "ldr     lr, [sp]\n\t"
        "ldr     r12, [lr, #20]\n\t"
        "vldrw.32 q5, [r12, #64]\n\t"        /* the store offsets */
        "ldr     r11, [lr, #36]\n\t"
        "ldrd    r0, r10, [sp, #8]\n\t"
        "add     r0, r0, #64\n\t"             /* row 1's tap 1 */
        "add     r11, r10, r11\n\t"
        "ldr     r12, [lr, #12]\n\t"
        "dlstp.32 lr, r12\n\t"
        "ldr     r12, [sp, #16]\n\t"
        "2:\n\t"                             /* four outputs of each row */
        "vldrb.s32 q0, [r0, #-64]\n\t"        /* row 0 tap 0 onto the constant */
        "vmlas.s32 q0, q7, r1\n\t"
        "vldrb.s32 q1, [r0, #-1]\n\t"         /* row 1 tap 0: the first row's tap 3, the second's 0 */
        "vmla.s32 q0, q1, r4\n\t"
        "vmlas.s32 q1, q7, r1\n\t"
        DWP_TAP1("q0", -63, "r2")
        DWP_TAP1("q0", -62, "r3")
        DWP_TAP2(1, "r6", "r3")
        DWP_TAP2(62, "r7", "r4")
        DWP_TAP2(63, "r8", "r5")
        DWP_TAP2(64, "r9", "r6")
        DWP_TAP1("q1", 125, "r7")
        DWP_TAP1("q1", 126, "r8")
        DWP_TAP1("q1", 127, "r9")
        "vldrb.s32 q6, [r0], #4\n\t"          /* row 1 tap 1, the pointer to the next four */
        "vmla.s32 q0, q6, r5\n\t"
        "vmla.s32 q1, q6, r2\n\t"
        DWP_OUT("q0", "r10")
        DWP_OUT("q1", "r11")
        "vadd.i32 q5, q5, r12\n\t"
        "letp    lr, 2b\n\t"
        "ldr     lr, [sp]\n\t"               /* the next pair */
        "ldrd    r0, r10, [sp, #8]\n\t"
        "ldr     r11, [lr, #28]\n\t"
        "add     r0, r0, r11\n\t"
        "ldr     r11, [lr, #32]\n\t"
        "add     r10, r10, r11\n\t"
        "strd    r0, r10, [sp, #8]\n\t"
        "b       1b\n\t"
        "5:\n\t"                             /* a last row */
        "ldr     lr, [sp]\n\t"
        "ldr     r12, [lr, #40]\n\t"
        "cmp     r12, #0\n\t"
        "beq     6f\n\t"
        "ldr     r12, [lr, #20]\n\t"
        "vldrw.32 q5, [r12, #64]\n\t"
        "ldrd    r0, r10, [sp, #8]\n\t"
        "add     r0, r0, #64\n\t"
        "ldr     r12, [lr, #12]\n\t"
        "dlstp.32 lr, r12\n\t"
        "ldr     r12, [sp, #16]\n\t"
        "3:\n\t"
        "vldrb.s32 q0, [r0, #-64]\n\t"
        "vmlas.s32 q0, q7, r1\n\t"
        DWP_TAP1("q0", -63, "r2")
        DWP_TAP1("q0", -62, "r3")
        DWP_TAP1("q0", -1, "r4")
        DWP_TAP1("q0", 1, "r6")
        DWP_TAP1("q0", 62, "r7")
        DWP_TAP1("q0", 63, "r8")
        DWP_TAP1("q0", 64, "r9")
        "vldrb.s32 q6, [r0], #4\n\t"
        "vmla.s32 q0, q6, r5\n\t"
        DWP_OUT("q0", "r10")
        "vadd.i32 q5, q5, r12\n\t"
        "letp    lr, 3b\n\t"
        "6:\n\t"
        "add     sp, sp, #24\n\t"
        "vpop    {d8-d15}\n\t"
        "pop     {r4-r11, pc}\n\t");
}
#undef DWP_OUT
#undef DWP_TAP1
#undef DWP_TAP2
#undef DW_ASM_OUT

typedef char dwp_taps_and_vectors_fit_tinyasc_acc0[TINYASC_OPT_MAX_C >= 36 ? 1 : -1];
static int dwp_layer_mve(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    const int32_t C = p->in_c;
    if (p->depth_multiplier != 1 || p->k_h != 3 || p->k_w != 3) return -1;
    const int x_ok = p->stride_w == 1 && p->dil_w == 1 && p->out_w >= 8;
    const int y_ok = p->stride_h == 1 && p->dil_h == 1 && p->out_h >= 8;
    if (!(x_ok || y_ok) || !tinyasc_out_x4_ok(p, w)) return -1;
    /* u along x unless along y the layer takes fewer vectors */
    dw_plane g;
    dw_plane_of(p, x_ok && !(y_ok && (p->out_h + 3) / 4 * p->out_w < (p->out_w + 3) / 4 * p->out_h), &g);
    if (7 * g.du > 65535) return -1; /* the staging gather's 16-bit offsets */
    /* a row's columns [0, cols); its last vector's lanes past the row read up to three more; two output rows a pass
     * (dwp_pairs_mve) where v has stride 1, no dilation, and the rows fit DWP_PITCH */
    const int pairs = g.stride_v == 1 && g.dil_v == 1 && g.cols + 3 <= DWP_PITCH;
    const int32_t pitch = pairs ? DWP_PITCH : g.cols + 3;
    const int32_t budget = (int32_t)sizeof(tinyasc_mve_gather) / pitch; /* plane rows that fit */
    if (budget < g.span) return -1;
    const int32_t band = (budget - g.span) / g.stride_v + 1;
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t rows_max = ((g.out_v < band ? g.out_v : band) - 1) * g.stride_v + g.span;
    memset(tinyasc_mve_gather, zp, (size_t)(rows_max * pitch)); /* padding columns and rows, once */
    const int clean = g.out_v <= band;
    /* the nine taps and the output vectors in the channels' constants table, which this kernel does not use otherwise:
     * no stack for them (on the stack, with the two-row kernel's larger frame, KWS's M55 library measured 48 B more
     * RAM) */
    int32_t *const k = tinyasc_acc0, *const vec = tinyasc_acc0 + 12;
    for (int32_t i = 0; i < 4; i++) vec[8 + i] = p->output_offset, vec[16 + i] = i * g.su, vec[20 + i] = 4 * g.su;
    for (int32_t c = 0; c < C; c++) {
        int32_t sum = 0;
        for (int32_t r = 0; r < 3; r++)
            for (int32_t t = 0; t < 3; t++) sum += k[3 * r + t] = w->data[r * g.tv + t * g.tu + c];
        for (int32_t i = 0; i < 4; i++)
            vec[i] = w->multiplier[c], vec[4 + i] = w->shift[c],
            vec[12 + i] = (w->bias ? w->bias[c] : 0) + sum * p->input_offset;
        for (int32_t bt = 0; bt < p->batches; bt++) {
            const int8_t *const in = input + bt * p->in_h * p->in_w * C + c;
            int8_t *const out = output + bt * p->out_h * p->out_w * C + c;
            for (int32_t ov = 0; ov < g.out_v; ov += band) {
                const int32_t n = g.out_v - ov < band ? g.out_v - ov : band;
                tinyasc_plane_stage_mve(in, g.du, g.dv, g.in_v, -g.pad_u, ov * g.stride_v - g.pad_v,
                              (n - 1) * g.stride_v + g.span, pitch, g.lo, g.hi, zp, clean, tinyasc_mve_gather);
                const dwp_run r = {.in = tinyasc_mve_gather, .rowstep = g.dil_v * pitch, .out = out + ov * g.sv,
                                   .n = g.out_u, .k = k, .vec = vec, .rows = pairs ? n / 2 : n,
                                   .in_next = (pairs ? 2 : g.stride_v) * pitch, .out_next = (pairs ? 2 : 1) * g.sv,
                                   .out_row = g.sv, .last = n % 2};
                if (pairs)
                    dwp_pairs_mve(&r); /* pairs of rows, then a last odd one */
                else
                    dwp_run_mve(&r);
            }
        }
    }
    return 0;
}

/* Every output pixel of the layer through dw_window8 / dw_window8_pair; -1 where the per-channel constants do not
 * fit the shared table or the depth multiplier is not 1. */
static int dw_windows_mve(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                          int8_t *output)
{
    const int32_t C = p->in_c, row = p->in_w * C;
    if (p->depth_multiplier != 1 || C > TINYASC_OPT_MAX_C) return -1;
    const int fast = tinyasc_out_x4_ok(p, w), full = tinyasc_full_range(p); /* full && !fast: a left shift */
    tinyasc_chan_base(p, w, C, p->k_h * p->k_w, C, 1, tinyasc_acc0);
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
                const int whole = ky0 == 0 && ky1 == p->k_h && kx0 == 0 && kx1 == p->k_w;
                int8_t *op = output + ((b * p->out_h + oy) * p->out_w + ox) * C;
                const int8_t *ip0 = in + (y0 + ky0 * p->dil_h) * row + (x0 + kx0 * p->dil_w) * C;
                const int8_t *wp0 = w->data + (ky0 * p->k_w + kx0) * C;
                const int32_t x1 = x0 + p->stride_w; /* the next pixel's window: whole too? */
                if (whole && ox + 1 < p->out_w && x1 + (p->k_w - 1) * p->dil_w < p->in_w) {
                    dw_window8_pair(p, w, ip0, wp0, op, p->stride_w * C, fast, full);
                    ox++;
                    continue;
                }
                /* a window that misses the input has no taps: its outputs are the bias's */
                dw_window8(p, w, ip0, wp0, op, whole ? tinyasc_acc0 : w->bias, ky1 - ky0, kx1 - kx0, !whole, fast,
                           full);
            }
        }
    }
    return 0;
}

#elif defined(__ARM_FEATURE_DSP)
#if defined(__thumb2__)
/* 3 x 3 windows (undilated along x) on channels a multiple of four: a run of output pixels of one row in one asm call
 * (dw3x3_run_dsp). Per group of four channels a block of words made once per layer -- the channels' constants (bias +
 * off * sum w), the nine taps' weight words and, on the folded output path, the four channels' (m, rnd, sh) -- is read
 * through one pointer at immediate offsets, so the loop's state stays in registers. Per tap one LDR of the input word
 * and one of the weight word, SXTB16 of each and of each rotated by 8, four SMLABB/SMLATT (twelve cycles per four MACs
 * on the M4's model); the window's rows at [row], [row + C], [row + 2C]; the group's four outputs leave from the
 * registers (folded path) or its sums are stored. A window wholly inside the input is read in place (rows rowstep
 * bytes apart), one crossing the border is staged with the input zero point outside the input, which with the offset
 * in the channels' constants adds exactly nothing (as TFLite skips those taps). Offsets below are those of dw3_run. */
#define DW3_ASM 1
typedef struct {
    const int8_t *ip;          /* 0: the first pixel's window, tap (0, 0), the first group's first channel */
    const int32_t *blocks;     /* 4: the groups' blocks (DW3_BLOCK words each, DW3_BLOCK_SUMS off the folded path) */
    int32_t tap, rowstep;      /* 8, 12: bytes between a row's taps (the channels); between the window's rows */
    int32_t padj, oadj;        /* 16, 20: after a pixel's groups, to the next pixel's window and to its outputs */
    int32_t pixels;            /* 24 */
    void *out;                 /* 28: the outputs (folded path) or the sums (advanced by the asm) */
    const int32_t *blocks_end; /* 32 */
    int32_t folded;            /* 36: 1: outputs from the blocks' (m, rnd, sh); 0: the sums stored */
} dw3_run;
typedef char dw3_run_is_the_asm_layout[(offsetof(dw3_run, ip) == 0 && offsetof(dw3_run, blocks) == 4 &&
                                        offsetof(dw3_run, tap) == 8 && offsetof(dw3_run, rowstep) == 12 &&
                                        offsetof(dw3_run, padj) == 16 && offsetof(dw3_run, oadj) == 20 &&
                                        offsetof(dw3_run, pixels) == 24 && offsetof(dw3_run, out) == 28 &&
                                        offsetof(dw3_run, blocks_end) == 32 && offsetof(dw3_run, folded) == 36)
                                           ? 1 : -1];
enum { DW3_BLOCK = 25, DW3_BLOCK_SUMS = 13 }; /* 4 constants + 9 taps (+ 4 x (m, rnd, sh)) */

static __attribute__((naked, noinline)) void dw3x3_run_dsp(dw3_run *q __attribute__((unused))) /* q arrives in r0 */
{
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "sub    sp, sp, #16\n\t"             /* [sp]: q, [sp, #4]: pixels left, [sp, #8]: folded, [sp, #12]: end */
        "str    r0, [sp]\n\t"
        "ldr    r1, [r0, #24]\n\t"
        "ldr    r2, [r0, #36]\n\t"
        "ldr    r3, [r0, #32]\n\t"
        "str    r1, [sp, #4]\n\t"
        "strd   r2, r3, [sp, #8]\n\t"
        "ldr    r8, [r0, #0]\n\t"            /* this group's window */
        "ldrd   r6, r7, [r0, #8]\n\t"        /* tap, rowstep */
        "ldr    r9, [r0, #28]\n\t"           /* out */
        "1:\n\t"                             /* a pixel */
        "ldr    r5, [r0, #4]\n\t"            /* the first group's block */
        "2:\n\t"                             /* a group of four channels */
        "ldm    r5!, {r0-r3}\n\t"            /* the sums from the channels' constants */
/* one tap: x = the input word, w = the weight word; channels 0 and 2 from the lanes of SXTB16, 1 and 3 from those of
 * SXTB16 of the word rotated by 8 */
#define DW3_TAP(xaddr, waddr)                                                                                     \
        "ldr    r10, " xaddr "\n\t"                                                                               \
        "ldr    r12, " waddr "\n\t"                                                                               \
        "sxtb16 r11, r10, ror #8\n\t"                                                                             \
        "sxtb16 r10, r10\n\t"                                                                                     \
        "sxtb16 lr, r12, ror #8\n\t"                                                                              \
        "sxtb16 r12, r12\n\t"                                                                                     \
        "smlabb r0, r10, r12, r0\n\t"                                                                             \
        "smlatt r2, r10, r12, r2\n\t"                                                                             \
        "smlabb r1, r11, lr, r1\n\t"                                                                              \
        "smlatt r3, r11, lr, r3\n\t"
        DW3_TAP("[r8]", "[r5]")
        DW3_TAP("[r8, r6]", "[r5, #4]")
        DW3_TAP("[r8, r6, lsl #1]", "[r5, #8]")
        "add    r4, r8, r7\n\t"              /* the window's second row */
        DW3_TAP("[r4]", "[r5, #12]")
        DW3_TAP("[r4, r6]", "[r5, #16]")
        DW3_TAP("[r4, r6, lsl #1]", "[r5, #20]")
        "add    r4, r4, r7\n\t"              /* and third */
        DW3_TAP("[r4]", "[r5, #24]")
        DW3_TAP("[r4, r6]", "[r5, #28]")
        DW3_TAP("[r4, r6, lsl #1]", "[r5, #32]")
#undef DW3_TAP
        "add    r5, r5, #36\n\t"
        "ldr    r4, [sp, #8]\n\t"
        "cmp    r4, #0\n\t"
        "beq    5f\n\t"
/* the folded output path (tinyasc_rq_apply, then SSAT) of one channel's sum acc with its (m, rnd, sh) */
#define DW3_OUT(acc)                                                                                              \
        "ldm    r5!, {r10, r11, r12}\n\t"                                                                         \
        "and    r4, " acc ", #0x80000000\n\t"                                                                     \
        "orr    r4, r4, #0x40000000\n\t"                                                                          \
        "add    lr, r11, " acc ", asr #31\n\t"                                                                    \
        "smlal  r4, lr, " acc ", r10\n\t"                                                                         \
        "asr    lr, lr, r12\n\t"                                                                                  \
        "ssat   lr, #8, lr\n\t"                                                                                   \
        "strb   lr, [r9], #1\n\t"
        DW3_OUT("r0")
        DW3_OUT("r1")
        DW3_OUT("r2")
        DW3_OUT("r3")
#undef DW3_OUT
        "4:\n\t"
        "add    r8, r8, #4\n\t"              /* the next group's window */
        "ldr    r4, [sp, #12]\n\t"
        "cmp    r5, r4\n\t"
        "bne    2b\n\t"
        "ldr    r0, [sp]\n\t"
        "ldrd   r1, r2, [r0, #16]\n\t"
        "add    r8, r8, r1\n\t"              /* the next pixel's window */
        "add    r9, r9, r2\n\t"              /* and outputs */
        "ldr    r1, [sp, #4]\n\t"
        "subs   r1, r1, #1\n\t"
        "str    r1, [sp, #4]\n\t"
        "bne    1b\n\t"
        "str    r9, [r0, #28]\n\t"
        "add    sp, sp, #16\n\t"
        "pop    {r4-r11, pc}\n\t"
        "5:\n\t"                             /* off the folded path: the sums out */
        "stm    r9!, {r0-r3}\n\t"
        "b      4b\n\t");
}
#else
#define DW3_ASM 0
#endif

#if DW3_ASM
/* The whole layer through dw3x3_run_dsp when its windows are 3 x 3, undilated along x, on channels a multiple of four:
 * the channels in chunks of groups whose blocks and constants (or sums, off the folded path) fit the window buffer and
 * whose staged window fits its stage; on each output row the pixels whose windows lie wholly inside the input in one
 * call, each other pixel with the chunk's channels of its window staged. Off the folded path one pixel per call, its
 * outputs from the sums. -1: not taken. */
static int dw3x3_layer(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
{
    const int32_t C = p->in_c, G = C / 4, row = p->in_w * C;
    if (p->depth_multiplier != 1 || p->k_h != 3 || p->k_w != 3 || p->dil_w != 1 || C % 4 != 0) return -1;
    const int folded = tinyasc_out_fast_ok(p, w);
    const int32_t bw = folded ? DW3_BLOCK : DW3_BLOCK_SUMS;
    int32_t per = (int32_t)(sizeof(tinyasc_gather_words) / 4) / (bw + 4); /* groups per chunk: blocks + 4 words */
    if (per > (int32_t)sizeof(tinyasc_gather_stage) / (9 * 4)) /* a staged window: 9 taps of 4 bytes per group */
        per = (int32_t)sizeof(tinyasc_gather_stage) / (9 * 4);
    if (per < 1) return -1;
    int32_t ox_lo, ox_hi;
    tinyasc_inside_range(p->out_w, p->in_w, 2, p->stride_w, p->pad_w, &ox_lo, &ox_hi);
    const int8_t zp = (int8_t)(-p->input_offset);
    int32_t *const blocks = (int32_t *)(void *)tinyasc_gather_words;
    for (int32_t g0 = 0; g0 < G; g0 += per) {
        const int32_t gn = G - g0 < per ? G - g0 : per, cc = 4 * gn, c0 = 4 * g0;
        int32_t *const sums = blocks + bw * gn; /* the chunk's constants, then (off the folded path) its sums */
        tinyasc_weights wc = *w;
        wc.data += c0;
        if (wc.bias) wc.bias += c0;
        tinyasc_chan_base(p, &wc, cc, 9, C, 1, sums);
        for (int32_t g = 0; g < gn; g++) {
            int32_t *const b = blocks + g * bw;
            for (int32_t l = 0; l < 4; l++) {
                const int32_t c = c0 + 4 * g + l;
                b[l] = sums[4 * g + l];
                if (folded) {
                    b[13 + 3 * l] = w->multiplier[c];
                    tinyasc_out_fast_consts(p, w, c, &b[14 + 3 * l], &b[15 + 3 * l]);
                }
            }
            for (int32_t t = 0; t < 9; t++) memcpy(&b[4 + t], w->data + t * C + c0 + 4 * g, 4);
        }
        dw3_run r = {.blocks = blocks, .padj = p->stride_w * C - cc, .oadj = C - cc, .blocks_end = blocks + bw * gn,
                     .folded = folded};
        for (int32_t b = 0; b < p->batches; b++) {
            const int8_t *in = input + b * p->in_h * row + c0;
            for (int32_t oy = 0; oy < p->out_h; oy++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h;
                const int inside_y = y0 >= 0 && y0 + 2 * p->dil_h < p->in_h;
                int8_t *const orow = output + (b * p->out_h + oy) * p->out_w * C + c0;
                for (int32_t ox = 0; ox < p->out_w;) {
                    const int32_t x0 = ox * p->stride_w - p->pad_w;
                    int32_t n = 1;
                    if (inside_y && ox >= ox_lo && ox < ox_hi) {
                        if (folded) n = ox_hi - ox;
                        r.ip = in + y0 * row + x0 * C;
                        r.tap = C;
                        r.rowstep = p->dil_h * row;
                    } else { /* stage the chunk's window: the zero point where a tap falls outside the input */
                        int8_t *g = tinyasc_gather_stage;
                        for (int32_t ky = 0; ky < 3; ky++) {
                            const int32_t y = y0 + ky * p->dil_h;
                            for (int32_t kx = 0; kx < 3; kx++, g += cc) {
                                const int32_t x = x0 + kx;
                                if (y >= 0 && y < p->in_h && x >= 0 && x < p->in_w)
                                    memcpy(g, in + y * row + x * C, (size_t)cc);
                                else
                                    memset(g, zp, (size_t)cc);
                            }
                        }
                        r.ip = tinyasc_gather_stage;
                        r.tap = cc;
                        r.rowstep = 3 * cc;
                    }
                    r.pixels = n;
                    r.out = folded ? (void *)(orow + ox * C) : (void *)sums;
                    dw3x3_run_dsp(&r);
                    if (!folded)
                        for (int32_t c = 0; c < cc; c++) orow[ox * C + c] = tinyasc_opt_out(p, w, sums[c], c0 + c);
                    ox += n;
                }
            }
        }
    }
    return 0;
}

/* 3 x 3 windows on planes (DSP cores, the folded output path, channels a multiple of four): along one axis u of stride
 * 1 and undilated, each channel's input is staged once as an int16 plane (dw3p_stage: rows along the other axis v, u
 * along the row, the input zero point outside the input), so that a word of a plane row holds two neighbouring inputs
 * (x_j, x_j+1) and a kernel row's three taps along u are two words of int16 weights, W01 = (w0, w1) and W12 = (w1,
 * w2). Four neighbouring outputs j .. j + 3 from a plane row's words A = (x0, x1), B = (x2, x3) and C = (x4, x5) then
 * take eight multiplies for their twelve MACs:
 *     o0 += SMLAD(W01, A) + w2 x2 (SMLATB W12, B)      o1 += w0 x1 (SMLABT W01, A) + SMLAD(W12, B)
 *     o2 += SMLAD(W01, B) + w2 x4 (SMLATB W12, C)      o3 += w0 x3 (SMLABT W01, B) + SMLAD(W12, C)
 * (dw3p_run_dsp, a pass over three plane rows: 42 cycles for the taps of 36 MACs on the M4's model, against 108 for
 * the channels-per-word kernel above); a row's last one to three outputs as a pass of two (o0, o1) and one of one
 * (o0). The sums start from the channel's constant (bias + off * sum w: the zero point staged outside the input adds
 * exactly nothing, as TFLite skips those taps); weights and constant come doubled, so each sum arrives doubled and
 * leaves through tinyasc_rq_dbl_apply's SMMLAR, SUB of the sign, ASR and an SSAT (four instructions where the folded
 * step took six; a bias of 2^29 - 2^18 or more in magnitude, where the doubled sum could leave int32, leaves the layer
 * to the kernel above). The axis u is the one of
 * the lower cost below (stride 1 and undilated); four channels' planes in bands of output rows that fit the window
 * buffer. -1: not taken. */
typedef struct {
    const int16_t *in;  /* 0: the first row's first window (its top plane row, column 0) */
    int8_t *out;        /* 4: the first row's first output */
    int32_t rowstep;    /* 8: bytes between a window's plane rows */
    int32_t su;         /* 12: bytes between outputs along u */
    int32_t rows;       /* 16: output rows (>= 1) */
    int32_t full;       /* 20: passes of four outputs a row */
    int32_t rem;        /* 24: outputs after them (0-3: a pass of two if rem & 2, then one of one if rem & 1) */
    int32_t in_next;    /* 28: bytes from a row's first window to the next row's */
    int32_t out_next;   /* 32: bytes from a row's first output to the next row's */
    const int32_t *blk; /* 36: the channel's block: constant, W01 and W12 of its three kernel rows, m, rnd, sh */
} dw3p_run;
typedef char dw3p_run_is_the_asm_layout[(offsetof(dw3p_run, in) == 0 && offsetof(dw3p_run, out) == 4 &&
                                         offsetof(dw3p_run, rowstep) == 8 && offsetof(dw3p_run, su) == 12 &&
                                         offsetof(dw3p_run, rows) == 16 && offsetof(dw3p_run, full) == 20 &&
                                         offsetof(dw3p_run, rem) == 24 && offsetof(dw3p_run, in_next) == 28 &&
                                         offsetof(dw3p_run, out_next) == 32 && offsetof(dw3p_run, blk) == 36)
                                            ? 1 : -1];
enum { DW3P_BLOCK = 10 };

/* Passes: registers r0, r1, r2 the window's three plane rows, r3 the first output, r4-r7 the sums, lr the channel's
 * constant; the block at [sp] (weights at 4-24, m 28, rnd 32, sh 36), su at [sp, #40]. A plane row's taps: */
#define DW3P_ROW4(ptr, woff, s0, s1, s2, s3)                                                                      \
        "ldrd   r8, r9, [" ptr "]\n\t"                                                                            \
        "ldrd   r11, r12, [sp, #" woff "]\n\t"                                                                    \
        "smlad  r4, r11, r8, " s0 "\n\t"                                                                          \
        "smlabt r5, r11, r8, " s1 "\n\t"                                                                          \
        "smlad  r6, r11, r9, " s2 "\n\t"                                                                          \
        "smlabt r7, r11, r9, " s3 "\n\t"                                                                          \
        "ldr    r10, [" ptr ", #8]\n\t"                                                                           \
        "smlatb r4, r12, r9, r4\n\t"                                                                              \
        "smlad  r5, r12, r9, r5\n\t"                                                                              \
        "smlatb r6, r12, r10, r6\n\t"                                                                             \
        "smlad  r7, r12, r10, r7\n\t"
#define DW3P_ROW2(ptr, woff, s0, s1)                                                                              \
        "ldrd   r8, r9, [" ptr "]\n\t"                                                                            \
        "ldrd   r11, r12, [sp, #" woff "]\n\t"                                                                    \
        "smlad  r4, r11, r8, " s0 "\n\t"                                                                          \
        "smlabt r5, r11, r8, " s1 "\n\t"                                                                          \
        "smlatb r4, r12, r9, r4\n\t"                                                                              \
        "smlad  r5, r12, r9, r5\n\t"
#define DW3P_ROW1(ptr, woff, s0)                                                                                  \
        "ldrd   r8, r9, [" ptr "]\n\t"                                                                            \
        "ldrd   r11, r12, [sp, #" woff "]\n\t"                                                                    \
        "smlad  r4, r11, r8, " s0 "\n\t"                                                                          \
        "smlatb r4, r12, r9, r4\n\t"
/* the output step's constants (m, rnd2, r), and the doubled sum's output step (tinyasc_rq_dbl_apply: SMMLAR, SUB of
 * the sign, ASR; then SSAT) of sum acc into r9 */
#define DW3P_CONSTS                                                                                               \
        "ldr    r11, [sp, #28]\n\t"                                                                               \
        "ldrd   r12, r10, [sp, #32]\n\t"
#define DW3P_OUT(acc)                                                                                             \
        "smmlar r9, " acc ", r11, r12\n\t"                                                                        \
        "sub    r9, r9, " acc ", lsr #31\n\t"                                                                     \
        "asr    r9, r9, r10\n\t"                                                                                  \
        "ssat   r9, #8, r9\n\t"

/* ... and with stride 2 along u: output j reads the plane row's words A_j = (x_2j, x_2j+1) and A_j+1, so
 *     o_j += SMLAD(W01, A_j) + w2 x_2j+2 (SMLATB W12, A_j+1)
 * two multiplies for three MACs, a pass of four outputs reading five words (57 cycles of taps for 36 MACs on the M4's
 * model, the output step as at stride 1) */
#define DW3P_S2_ROW4(ptr, woff, s0, s1, s2, s3)                                                                   \
        "ldrd   r8, r9, [" ptr "]\n\t"                                                                            \
        "ldrd   r11, r12, [sp, #" woff "]\n\t"                                                                    \
        "smlad  r4, r11, r8, " s0 "\n\t"                                                                          \
        "smlatb r4, r12, r9, r4\n\t"                                                                              \
        "smlad  r5, r11, r9, " s1 "\n\t"                                                                          \
        "ldrd   r8, r10, [" ptr ", #8]\n\t"                                                                       \
        "smlatb r5, r12, r8, r5\n\t"                                                                              \
        "smlad  r6, r11, r8, " s2 "\n\t"                                                                          \
        "smlatb r6, r12, r10, r6\n\t"                                                                             \
        "smlad  r7, r11, r10, " s3 "\n\t"                                                                         \
        "ldr    r8, [" ptr ", #16]\n\t"                                                                           \
        "smlatb r7, r12, r8, r7\n\t"
#define DW3P_S2_ROW2(ptr, woff, s0, s1)                                                                           \
        "ldrd   r8, r9, [" ptr "]\n\t"                                                                            \
        "ldrd   r11, r12, [sp, #" woff "]\n\t"                                                                    \
        "smlad  r4, r11, r8, " s0 "\n\t"                                                                          \
        "smlatb r4, r12, r9, r4\n\t"                                                                              \
        "smlad  r5, r11, r9, " s1 "\n\t"                                                                          \
        "ldr    r8, [" ptr ", #8]\n\t"                                                                            \
        "smlatb r5, r12, r8, r5\n\t"
#define DW3P_S2_ROW1(ptr, woff, s0)                                                                               \
        "ldrd   r8, r9, [" ptr "]\n\t"                                                                            \
        "ldrd   r11, r12, [sp, #" woff "]\n\t"                                                                    \
        "smlad  r4, r11, r8, " s0 "\n\t"                                                                          \
        "smlatb r4, r12, r9, r4\n\t"
/* A channel's band of output rows (offsets below are those of dw3p_run), its passes of four outputs LOG4 = log2 of
 * STEP4 bytes of a plane row apart. Frame: [sp, #0-36] the block, 40 su, 44 the
 * row's end of whole passes, 48 rows left, 52 q, 56 the row's first window, 60 its first output. */
#define DW3P_BODY(ROW4, ROW2, ROW1, LOG4, STEP4, STEP2)                                                               \
        "push   {r4-r11, lr}\n\t"                                                                                     \
        "sub    sp, sp, #64\n\t"                                                                                      \
        "str    r0, [sp, #52]\n\t"                                                                                    \
        "ldr    r1, [r0, #36]\n\t"                                                                                    \
        "ldm    r1, {r2-r11}\n\t"            /* the block onto the frame */                                           \
        "stm    sp, {r2-r11}\n\t"                                                                                     \
        "ldr    r1, [r0, #12]\n\t"                                                                                    \
        "ldr    r2, [r0, #16]\n\t"                                                                                    \
        "str    r1, [sp, #40]\n\t"                                                                                    \
        "str    r2, [sp, #48]\n\t"                                                                                    \
        "ldrd   r1, r2, [r0, #0]\n\t"                                                                                 \
        "strd   r1, r2, [sp, #56]\n\t"                                                                                \
        "ldr    lr, [sp, #0]\n\t"            /* the channel's constant */                                             \
        "1:\n\t"                             /* an output row */                                                      \
        "ldr    r12, [sp, #52]\n\t"                                                                                   \
        "ldrd   r0, r3, [sp, #56]\n\t"                                                                                \
        "ldr    r4, [r12, #8]\n\t"                                                                                    \
        "add    r1, r0, r4\n\t"              /* the window's second and third plane rows */                           \
        "add    r2, r1, r4\n\t"                                                                                       \
        "ldr    r5, [r12, #20]\n\t"                                                                                   \
        "add    r5, r0, r5, lsl #" LOG4 "\n\t"  /* the end of the whole passes */                                     \
        "str    r5, [sp, #44]\n\t"                                                                                    \
        "cmp    r0, r5\n\t"                                                                                           \
        "beq    3f\n\t"                                                                                               \
        "2:\n\t"                             /* four outputs */                                                       \
        ROW4("r0", "4", "lr", "lr", "lr", "lr")                                                                       \
        ROW4("r1", "12", "r4", "r5", "r6", "r7")                                                                      \
        ROW4("r2", "20", "r4", "r5", "r6", "r7")                                                                      \
        DW3P_CONSTS                                                                                                   \
        DW3P_OUT("r4")                                                                                                \
        "strb   r9, [r3]\n\t"                                                                                         \
        "ldr    r4, [sp, #40]\n\t"                                                                                    \
        DW3P_OUT("r5")                                                                                                \
        "strb   r9, [r3, r4]\n\t"                                                                                     \
        DW3P_OUT("r6")                                                                                                \
        "strb   r9, [r3, r4, lsl #1]\n\t"                                                                             \
        "add    r3, r3, r4, lsl #1\n\t"                                                                               \
        DW3P_OUT("r7")                                                                                                \
        "strb   r9, [r3, r4]\n\t"                                                                                     \
        "add    r3, r3, r4, lsl #1\n\t"                                                                               \
        "add    r0, r0, #" STEP4 "\n\t"                                                                               \
        "add    r1, r1, #" STEP4 "\n\t"                                                                               \
        "add    r2, r2, #" STEP4 "\n\t"                                                                               \
        "ldr    r8, [sp, #44]\n\t"                                                                                    \
        "cmp    r0, r8\n\t"                                                                                           \
        "bne    2b\n\t"                                                                                               \
        "3:\n\t"                                                                                                      \
        "ldr    r12, [sp, #52]\n\t"                                                                                   \
        "ldr    r4, [r12, #24]\n\t"                                                                                   \
        "tst    r4, #2\n\t"                                                                                           \
        "beq    4f\n\t"                      /* two outputs */                                                        \
        ROW2("r0", "4", "lr", "lr")                                                                                   \
        ROW2("r1", "12", "r4", "r5")                                                                                  \
        ROW2("r2", "20", "r4", "r5")                                                                                  \
        DW3P_CONSTS                                                                                                   \
        DW3P_OUT("r4")                                                                                                \
        "strb   r9, [r3]\n\t"                                                                                         \
        "ldr    r4, [sp, #40]\n\t"                                                                                    \
        DW3P_OUT("r5")                                                                                                \
        "strb   r9, [r3, r4]\n\t"                                                                                     \
        "add    r3, r3, r4, lsl #1\n\t"                                                                               \
        "add    r0, r0, #" STEP2 "\n\t"                                                                               \
        "add    r1, r1, #" STEP2 "\n\t"                                                                               \
        "add    r2, r2, #" STEP2 "\n\t"                                                                               \
        "ldr    r12, [sp, #52]\n\t"                                                                                   \
        "ldr    r4, [r12, #24]\n\t"                                                                                   \
        "4:\n\t"                                                                                                      \
        "tst    r4, #1\n\t"                                                                                           \
        "beq    5f\n\t"                      /* one output */                                                         \
        ROW1("r0", "4", "lr")                                                                                         \
        ROW1("r1", "12", "r4")                                                                                        \
        ROW1("r2", "20", "r4")                                                                                        \
        DW3P_CONSTS                                                                                                   \
        DW3P_OUT("r4")                                                                                                \
        "strb   r9, [r3]\n\t"                                                                                         \
        "5:\n\t"                             /* the next row */                                                       \
        "ldr    r12, [sp, #52]\n\t"                                                                                   \
        "ldrd   r4, r5, [r12, #28]\n\t"                                                                               \
        "ldrd   r0, r3, [sp, #56]\n\t"                                                                                \
        "add    r0, r0, r4\n\t"                                                                                       \
        "add    r3, r3, r5\n\t"                                                                                       \
        "strd   r0, r3, [sp, #56]\n\t"                                                                                \
        "ldr    r4, [sp, #48]\n\t"                                                                                    \
        "subs   r4, r4, #1\n\t"                                                                                       \
        "str    r4, [sp, #48]\n\t"                                                                                    \
        "bne    1b\n\t"                                                                                               \
        "add    sp, sp, #64\n\t"                                                                                      \
        "pop    {r4-r11, pc}\n\t"
static __attribute__((naked, noinline)) void dw3p_run_dsp(dw3p_run *q __attribute__((unused))) /* q arrives in r0 */
{
    __asm__ volatile(DW3P_BODY(DW3P_ROW4, DW3P_ROW2, DW3P_ROW1, "3", "8", "4"));
}

/* the same at stride 2 along u */
static __attribute__((naked, noinline)) void dw3p_run_s2_dsp(dw3p_run *q __attribute__((unused)))
{
    __asm__ volatile(DW3P_BODY(DW3P_S2_ROW4, DW3P_S2_ROW2, DW3P_S2_ROW1, "4", "16", "8"));
}
#undef DW3P_BODY
#undef DW3P_S2_ROW1
#undef DW3P_S2_ROW2
#undef DW3P_S2_ROW4
#undef DW3P_OUT
#undef DW3P_CONSTS
#undef DW3P_ROW1
#undef DW3P_ROW2
#undef DW3P_ROW4

/* zp in columns [0, lo) and [hi, cols) of n plane rows pitch int16 apart: a layer's planes keep them through its
 * bands and groups of channels (dw3p_stage writes only the columns inside the input, or whole rows of zp). */
static __attribute__((noinline)) void dw3p_pad_columns(int16_t *d, int32_t n, int32_t pitch, int32_t lo, int32_t hi,
                                                       int32_t cols, int16_t zp)
{
    for (int32_t r = 0; r < n; r++, d += pitch) {
        for (int32_t j = 0; j < lo; j++) d[j] = zp;
        for (int32_t j = hi; j < cols; j++) d[j] = zp;
    }
}

/* One column j of four planes (plane int16 apart) from the input word at s. */
static inline __attribute__((always_inline)) void dw3p_column(const int8_t *s, int16_t *d, int32_t plane)
{
    uint32_t x;
    memcpy(&x, s, 4);
    const uint32_t e = __sxtb16(x), o = tinyasc_sxtb16_ror8(x);
    d[0] = (int16_t)e, d[plane] = (int16_t)o, d[2 * plane] = (int16_t)(e >> 16), d[3 * plane] = (int16_t)(o >> 16);
}

/* Columns [lo, hi) of a plane row of four channels (d: plane 0's row, the others plane int16 apart) from the input
 * words at s, du bytes apart: two columns per step (one word of each plane from two input words: SXTB16, PKHBT /
 * PKHTB; 20 cycles on the M4's model), an odd first or last column alone. */
static __attribute__((noinline)) void dw3p_stage_row(const int8_t *s, int16_t *d, int32_t plane, int32_t lo,
                                                     int32_t hi, int32_t du)
{
    int32_t j = lo;
    if (j & 1 && j < hi) dw3p_column(s, d + j, plane), j++, s += du;
    const int32_t pairs = (hi - j) / 2;
    if (pairs > 0) {
        const int8_t *const end = s + pairs * 2 * du;
        uint32_t *q0 = (uint32_t *)(void *)(d + j), *q1 = (uint32_t *)(void *)(d + plane + j),
                 *q2 = (uint32_t *)(void *)(d + 2 * plane + j), *q3 = (uint32_t *)(void *)(d + 3 * plane + j);
        uint32_t x, y, a, b, t;
        __asm__ volatile("1:\n\t"
                         "ldr    %[x], [%[s]]\n\t"
                         "ldr    %[y], [%[s], %[du]]\n\t"
                         "add    %[s], %[s], %[du], lsl #1\n\t"
                         "sxtb16 %[a], %[x]\n\t"
                         "sxtb16 %[b], %[y]\n\t"
                         "pkhbt  %[t], %[a], %[b], lsl #16\n\t"
                         "str    %[t], [%[q0]], #4\n\t"
                         "pkhtb  %[t], %[b], %[a], asr #16\n\t"
                         "str    %[t], [%[q2]], #4\n\t"
                         "sxtb16 %[a], %[x], ror #8\n\t"
                         "sxtb16 %[b], %[y], ror #8\n\t"
                         "pkhbt  %[t], %[a], %[b], lsl #16\n\t"
                         "str    %[t], [%[q1]], #4\n\t"
                         "pkhtb  %[t], %[b], %[a], asr #16\n\t"
                         "str    %[t], [%[q3]], #4\n\t"
                         "cmp    %[s], %[end]\n\t"
                         "bne    1b\n\t"
                         : [s] "+r"(s), [q0] "+r"(q0), [q1] "+r"(q1), [q2] "+r"(q2), [q3] "+r"(q3), [x] "=&r"(x),
                           [y] "=&r"(y), [a] "=&r"(a), [b] "=&r"(b), [t] "=&r"(t)
                         : [du] "r"(du), [end] "r"(end)
                         : "cc", "memory");
        j += 2 * pairs;
    }
    if (j < hi) dw3p_column(s, d + j, plane);
}

/* The rows [0, rows) of four channels' planes (plane k at dst + k * plane int16, pitch int16 a row) for input rows v0
 * .. (dv bytes apart): a row inside the input its columns [lo, hi) from the input (column j at position j + u0 along
 * u, du bytes apart), a row outside all zp. */
static __attribute__((noinline)) void dw3p_stage(const int8_t *in, int32_t du, int32_t dv, int32_t in_v, int32_t u0,
                                                 int32_t v0, int32_t rows, int32_t pitch, int32_t plane, int32_t lo,
                                                 int32_t hi, int16_t zp, int16_t *dst)
{
    const uint32_t zz = (uint32_t)(uint16_t)zp * 0x10001u;
    for (int32_t r = 0; r < rows; r++) {
        const int32_t v = v0 + r;
        int16_t *const d = dst + r * pitch;
        if (v >= 0 && v < in_v) {
            dw3p_stage_row(in + v * dv + (u0 + lo) * du, d, plane, lo, hi, du);
            continue;
        }
        for (int32_t k = 0; k < 4; k++) {
            uint32_t *const q = (uint32_t *)(void *)(d + k * plane);
            for (int32_t i = 0; i < pitch / 2; i++) q[i] = zz;
        }
    }
}

/* Estimated M4 cycles of a layer's passes per channel with u along an axis of `out_u` outputs and v along one of
 * `out_v` (at stride 1 a pass of four 78, of two 42, of one 29, a row 30; it orders the axes at stride 2 too). */
static int32_t dw3p_cost(int32_t out_u, int32_t out_v)
{
    static const int16_t tail[4] = {0, 29, 42, 71};
    return out_v * (78 * (out_u / 4) + tail[out_u % 4] + 30);
}

/* run_s2: dw3p_run_s2_dsp where the caller takes layers of stride 2 along u (tinyasc_opt_depthwise_window_s2_s8),
 * else 0: a library without such a layer links none of it. */
static __attribute__((noinline)) int dw3p_layer(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                const int8_t *input, int8_t *output, void (*run_s2)(dw3p_run *))
{
    const int32_t C = p->in_c;
    if (p->depth_multiplier != 1 || p->k_h != 3 || p->k_w != 3 || C % 4 != 0) return -1;
    /* maps under four outputs along an axis stay with the kernel above (a channel's fixed costs outweigh its taps) */
    if (p->out_h < 4 || p->out_w < 4) return -1;
    /* u along an undilated axis of stride 1, else of stride 2 (the passes at stride 2 read twice the plane): along x
     * unless along y the passes cost less (dw3p_cost) */
    int x_ok = p->stride_w == 1 && p->dil_w == 1, y_ok = p->stride_h == 1 && p->dil_h == 1;
    if (!(x_ok || y_ok) && run_s2) x_ok = p->stride_w == 2 && p->dil_w == 1, y_ok = p->stride_h == 2 && p->dil_h == 1;
    if (!(x_ok || y_ok)) return -1;
    dw_plane g;
    dw_plane_of(p, x_ok && !(y_ok && dw3p_cost(p->out_h, p->out_w) < dw3p_cost(p->out_w, p->out_h)), &g);
    void (*const run)(dw3p_run *) = g.stride_u == 1 ? dw3p_run_dsp : run_s2;
    /* at stride 2 rows of eight or more outputs (VWW's 6 x 6 outputs of 128 channels took 8% more than the kernel
     * above: the staging of four inputs an output and a channel's fixed costs outweigh its cheaper taps) */
    if ((g.stride_u == 2 && g.out_u < 8) || !tinyasc_out_fast_ok(p, w)) return -1;
    /* the doubled sums stay inside int32: a channel's constant bias + off * sum w (|off sum w| <= 128 * 9 * 128 <
     * 2^18) under 2^29 in magnitude (tinyasc_dbl_base_ok), nine products of at most 2^16 onto twice it */
    if (w->bias)
        for (int32_t c = 0; c < C; c++)
            if ((uint32_t)w->bias[c] + ((1u << 29) - (1u << 18)) >= (1u << 30) - (1u << 19)) return -1;
    const int32_t pitch = (g.cols + 1) & ~1; /* int16 per plane row: a whole number of words */
    /* plane rows that fit, a word to spare (a pass of one reads the int16 after its window's row) */
    const int32_t budget = ((int32_t)sizeof(tinyasc_gather_words) - 4) / (4 * 2 * pitch);
    if (budget < g.span) return -1;
    const int32_t band = (budget - g.span) / g.stride_v + 1; /* output rows per band */
    const int16_t zp = (int16_t)(-p->input_offset);
    int16_t *const planes = (int16_t *)(void *)tinyasc_gather_words;
    int32_t *const blocks = (int32_t *)(void *)tinyasc_gather_stage;
    /* every band's planes rows_max plane rows apart */
    const int32_t rows_max = ((g.out_v < band ? g.out_v : band) - 1) * g.stride_v + g.span;
    const int32_t plane = rows_max * pitch;
    dw3p_pad_columns(planes, 4 * rows_max, pitch, g.lo, g.hi, g.cols, zp);
    for (int32_t c0 = 0; c0 < C; c0 += 4) {
        for (int32_t k = 0; k < 4; k++) { /* the block: kernel row r along v its taps w0, w1, w2 along u, doubled */
            int32_t *const b = blocks + k * DW3P_BLOCK;
            const int32_t c = c0 + k;
            int32_t sum = 0;
            for (int32_t r = 0; r < 3; r++) { /* doubled: at most 256 in magnitude, still int16 */
                const int8_t *const t = w->data + r * g.tv + c;
                const int32_t w0 = t[0], w1 = t[g.tu], w2 = t[2 * g.tu];
                sum += w0 + w1 + w2;
                b[1 + 2 * r] = (int32_t)((uint32_t)(uint16_t)(2 * w0) | ((uint32_t)(2 * w1) << 16));
                b[2 + 2 * r] = (int32_t)((uint32_t)(uint16_t)(2 * w1) | ((uint32_t)(2 * w2) << 16));
            }
            b[0] = 2 * ((w->bias ? w->bias[c] : 0) + sum * p->input_offset);
            b[7] = w->multiplier[c];
            tinyasc_rq_relu_consts(w->shift[c], p->output_offset, &b[8], &b[9]);
        }
        for (int32_t bt = 0; bt < p->batches; bt++) {
            const int8_t *const in = input + bt * p->in_h * p->in_w * C + c0;
            int8_t *const out = output + bt * p->out_h * p->out_w * C + c0;
            for (int32_t ov = 0; ov < g.out_v; ov += band) {
                const int32_t n = g.out_v - ov < band ? g.out_v - ov : band;
                dw3p_stage(in, g.du, g.dv, g.in_v, -g.pad_u, ov * g.stride_v - g.pad_v, (n - 1) * g.stride_v + g.span,
                           pitch, plane, g.lo, g.hi, zp, planes);
                for (int32_t k = 0; k < 4; k++) {
                    dw3p_run r = {.in = planes + k * plane, .out = out + ov * g.sv + k,
                                  .rowstep = 2 * pitch * g.dil_v, .su = g.su, .rows = n, .full = g.out_u / 4,
                                  .rem = g.out_u % 4, .in_next = 2 * pitch * g.stride_v, .out_next = g.sv,
                                  .blk = blocks + k * DW3P_BLOCK};
                    run(&r);
                }
            }
        }
    }
    return 0;
}
#endif
#endif

/* Both entries: tinyasc_opt_depthwise_window_s8, and tinyasc_opt_depthwise_window_s2_s8 for the layers the generator
 * finds without an undilated axis of stride 1 but with one of stride 2 (on the DSP cores their planes at stride 2:
 * run_s2 is dw3p_run_s2_dsp, which only that entry names, so only its libraries link it; 0 elsewhere). One function
 * for both, not inlined into each: GCC allocated dw3x3_layer's registers worse in two copies (+0.6% on VWW's 3 x 3
 * maps). */
typedef void (*dw_run_fn)(void); /* run_s2's type outside the DSP build, converted back before the call */
static __attribute__((noinline)) void dw_window(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                const int8_t *input, int8_t *output, dw_run_fn run_s2)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    (void)run_s2;
#if defined(__ARM_FEATURE_MVE)
    if (dwp_layer_mve(&pl, &wl, input, output) == 0 || dw_rows_mve(&pl, &wl, input, output) == 0 ||
        dw_windows_mve(&pl, &wl, input, output) == 0)
        return;
#elif defined(__ARM_FEATURE_DSP) && DW3_ASM
    if (dw3p_layer(&pl, &wl, input, output, (void (*)(dw3p_run *))run_s2) == 0 ||
        dw3x3_layer(&pl, &wl, input, output) == 0)
        return;
#endif
    tinyasc_opt_depthwise_conv2d_s8(&pl, &wl, input, output);
}

void tinyasc_opt_depthwise_window_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
    dw_window(p, w, input, output, 0);
}

void tinyasc_opt_depthwise_window_s2_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                        const int8_t *input, int8_t *output)
{
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE) && DW3_ASM
    dw_window(p, w, input, output, (dw_run_fn)dw3p_run_s2_dsp);
#else
    dw_window(p, w, input, output, 0);
#endif
}
