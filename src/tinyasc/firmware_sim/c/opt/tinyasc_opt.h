/*
 * The optimized kernel library for Cortex-M: tinyasc_opt_<op> has the signature of the portable
 * tinyasc_<op> of tinyasc_kernels.h, and a model generated for a Cortex-M target calls it by
 * that name (tinyasc.firmware_sim.library picks the symbol per target; nothing is replaced at
 * link time). Convolutions dispatch at compile time on the core's features:
 *
 *   w->sparse != NULL   -> zero-skipping sparse kernel (c/sparse/)
 *   __ARM_FEATURE_MVE   -> Helium (Cortex-M55)          tinyasc_opt_mve.c
 *   __ARM_FEATURE_DSP   -> DSP SIMD MAC (Cortex-M4/M7)  tinyasc_opt_dsp.c
 *   anything else       -> tinyasc_ref_* (portable, TFLM reference loop order)
 *
 * A fast path returns 0 when it handled the layer and -1 for shapes it does not cover
 * (grouped convs, oversized windows), which fall back to the portable loop. Every path
 * reorders integer sums only and requantizes with the same tinyasc_mbqm, so all are
 * bit-exact with the portable kernels (the tests compare them on every target).
 */
#ifndef TINYASC_OPT_H
#define TINYASC_OPT_H
#include "tinyasc_kernels.h"
#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>
#endif

void tinyasc_ref_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output);
void tinyasc_ref_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
/* Words of int8 data read and written through a type that may alias any other. */
typedef uint32_t __attribute__((may_alias)) tinyasc_u32_alias;

/* Four bytes from any address as one word (one LDR on a Cortex-M, unaligned allowed; memcpy keeps it C). */
static inline uint32_t tinyasc_load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The taps [*k0, *k1) of a k-tap window starting at o (stride dil) that lie inside [0, n); empty when the
 * window misses the input. */
static inline void tinyasc_tap_range(int32_t o, int32_t dil, int32_t k, int32_t n, int32_t *k0, int32_t *k1)
{
    const int32_t a = o < 0 ? (-o + dil - 1) / dil : 0;
    const int32_t b = n - o <= 0 ? 0 : (n - o + dil - 1) / dil;
    const int32_t e = b < k ? b : k;
    *k0 = a;
    *k1 = e > a ? e : a;
}

/* The outputs [*lo, *hi) of n at stride `stride` from -pad whose windows, span + 1 inputs wide, lie wholly inside
 * [0, in): o stride - pad >= 0 and o stride - pad + span < in, one interval from its two bounds; none: n, n. */
static inline void tinyasc_inside_range(int32_t n, int32_t in, int32_t span, int32_t stride, int32_t pad, int32_t *lo,
                                        int32_t *hi)
{
    const int32_t lim = in - span + pad; /* o stride - pad + span < in  <=>  o stride < lim */
    int32_t a = pad > 0 ? (pad + stride - 1) / stride : 0, b = lim > 0 ? (lim - 1) / stride + 1 : 0;
    if (b > n) b = n;
    if (a >= b) a = b = n;
    *lo = a;
    *hi = b;
}

/* Whether every window of layer p lies wholly inside its input: no padding before the first window, and the last
 * window's last tap inside along both axes (tinyasc_inside_range's whole range, without its divisions). */
static inline int tinyasc_all_inside(const tinyasc_conv_params *p)
{
    return p->pad_h <= 0 && p->pad_w <= 0 &&
           (p->out_h - 1) * p->stride_h - p->pad_h + (p->k_h - 1) * p->dil_h < p->in_h &&
           (p->out_w - 1) * p->stride_w - p->pad_w + (p->k_w - 1) * p->dil_w < p->in_w;
}

/* Per channel c < C of a channel-wise convolution: bias + input_offset * (sum of its taps' weights), the
 * constant a window wholly inside the input starts from (weight of tap t at t * wt + c * wc). */
static inline void tinyasc_chan_base(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t C, int32_t taps,
                                     int32_t wt, int32_t wc, int32_t *base)
{
#if defined(__ARM_FEATURE_MVE)
    if (wc == 1) { /* the depthwise layout: a tap's channels side by side, four per vector */
        for (int32_t c = 0; c < C; c += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(C - c));
            int32x4_t s = vdupq_n_s32(0);
            for (int32_t t = 0; t < taps; t++) s = vaddq_s32(s, vldrbq_z_s32(w->data + t * wt + c, pr));
            const int32x4_t b = w->bias ? vldrwq_z_s32(w->bias + c, pr) : vdupq_n_s32(0);
            vstrwq_p_s32(base + c, vmlaq_n_s32(b, s, p->input_offset), pr);
        }
        return;
    }
#endif
    for (int32_t c = 0; c < C; c++) {
        int32_t s = 0;
        for (int32_t t = 0; t < taps; t++) s += w->data[t * wt + c * wc];
        base[c] = (w->bias ? w->bias[c] : 0) + s * p->input_offset;
    }
}

int tinyasc_simd_conv_c1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                            int8_t *output);
int tinyasc_simd_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output);
/* The same for a 1x1 layer without padding, linking only its own paths (-1: not such a layer). */
int tinyasc_simd_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output);
int tinyasc_simd_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
/* The same for a k_h x 1 layer, with runs of whole columns (the DSP cores' in tinyasc_opt_dsp.c, Helium's short
 * columns in tinyasc_opt_mve.c). */
int tinyasc_simd_depthwise_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
/* The same with the filter rows in word-interleaved pairs (tinyasc_conv2d_pairs_s8's layout): the DSP cores' pixel
 * pairs; -1 for a layer off their fast output path (the caller then runs the portable pairs kernel). */
int tinyasc_simd_conv2d_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                                 int8_t *output);
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
/* A 1x1 layer in place with the filter rows in word-interleaved pairs (tinyasc_opt_conv2d_1x1_inplace_pairs_s8's) on
 * the DSP cores' pixel pairs with no stage; -1 for layers it does not take (the caller then stages chunks). */
int tinyasc_simd_conv2d_1x1_inplace_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data);
#endif
#if defined(__ARM_FEATURE_MVE)
/* Helium's dense convolution on inputs a multiple of 16, the windows inside the input read in place
 * (tinyasc_opt_conv2d_c16_s8's; -1: not such a layer). */
int tinyasc_simd_conv2d_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output);
/* 1x1 in place on Helium (tinyasc_opt_mve.c); -1 for layers it does not take. */
int tinyasc_simd_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data);
#endif
/* Column (k_h x 1) channel-wise convolution, channel by channel with the window in registers; output may
 * be input (in place). Returns -1 for shapes it does not cover. */
/* One-input-channel convolution on a DSP core (tinyasc_opt_conv_c1.c) in the caller's buffer of buf_size
 * words; -1 when the layer's shape is not one it takes. */
int tinyasc_conv_c1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                       uint32_t *buf_words, int32_t buf_size);
int tinyasc_chan_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output, int32_t wt, int32_t wc);
/* A line convolution's geometry (tinyasc_chan_column_s8): the layer as `lines` lines of positions along one axis. */
typedef struct {
    int32_t lines, in_line, out_line; /* number of lines; bytes between line starts (input, output) */
    int32_t in_first;                 /* bytes before the first input line (a row window's offset) */
    int32_t len_in, len_out, in_step, out_step; /* positions along a line; bytes between positions */
    int32_t taps, pad;
} tinyasc_lines;
#ifndef TINYASC_COLUMN_MAX_T
#define TINYASC_COLUMN_MAX_T 8 /* the line kernels' most taps */
#endif
/* The lines of a line convolution (a column: k_w = 1, or a row: k_h = 1), 0; -1 where the line kernels do not take
 * the layer (tinyasc_chan_column_s8, tinyasc_line3p_s8). */
static inline int tinyasc_chan_lines_of(const tinyasc_conv_params *p, const int8_t *input, const int8_t *output,
                                        tinyasc_lines *g)
{
    const int32_t C = p->in_c;
    if (p->stride_h != 1 || p->stride_w != 1 || p->out_c != C) return -1;
    if (p->k_w == 1 && p->dil_h == 1 && p->pad_w == 0 && p->out_w == p->in_w) { /* a column */
        *g = (tinyasc_lines){.lines = p->in_w, .in_line = C, .out_line = C, .in_first = 0, .len_in = p->in_h,
                             .len_out = p->out_h, .in_step = p->in_w * C, .out_step = p->out_w * C, .taps = p->k_h,
                             .pad = p->pad_h};
    } else if (p->k_h == 1 && p->dil_w == 1 && p->pad_h <= 0 && p->out_h - p->pad_h <= p->in_h &&
               (input != output || p->pad_h == 0)) {
        /* a row; output row y reads input row y - pad_h (a streamed model's window may hold earlier rows) */
        *g = (tinyasc_lines){.lines = p->out_h, .in_line = p->in_w * C, .out_line = p->out_w * C,
                             .in_first = -p->pad_h * p->in_w * C, .len_in = p->in_w, .len_out = p->out_w,
                             .in_step = C, .out_step = C, .taps = p->k_w, .pad = p->pad_w};
    } else {
        return -1;
    }
    if (g->taps > TINYASC_COLUMN_MAX_T || g->pad >= g->taps || (input == output && g->len_out > g->len_in)) return -1;
    return 0;
}
/* A three-tap line layer on planes (tinyasc_opt_line3p.c; Helium), tinyasc_chan_column_s8's arguments: 0, or -1
 * (nothing written) where not taken. Weak: a library holds the file only where the generator found a layer it pays
 * for (generator.line3p_pays), and tinyasc_chan_column_s8 calls it only where it is linked. */
int tinyasc_line3p_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                      int32_t wt, int32_t wc) __attribute__((weak));
/* A three-tap line layer in one asm call on the DSP cores (tinyasc_opt_line3_dsp.c), tinyasc_chan_column_s8's
 * arguments: -1 (nothing written) where it does not take the layer, else how many channels it left to the C line
 * kernel (0: all done). Weak: a library holds the file only where the generator found such a layer
 * (generator.line3_dsp_ships), and tinyasc_chan_column_s8 calls it only where it is linked. */
int tinyasc_line3_dsp_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                         int32_t wt, int32_t wc) __attribute__((weak));
/* A depthwise layer of long columns (k x 1, DW_TAPS_MIN_TAPS taps or more), every window inside the input, by
 * VMLADAVA (tinyasc_opt_dw_taps.c; Helium), called by the optimized depthwise entry first: 0, or -1 (nothing written)
 * where not taken. Weak: a library holds the file only where the generator found such a layer
 * (generator.dw_taps_ships). */
int tinyasc_dw_taps_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output)
    __attribute__((weak));
/* Helium's pairs kernels three 16-byte blocks a step (tinyasc_opt_pairs3.c), on the record q of the one-block kernel
 * of that form (tinyasc_opt_pairs_asm.h: TINYASC_PAIRS3_ROWS a pw_prow, TINYASC_PAIRS3_WIN a pw_pwin): 0, or -1
 * (nothing run, q unchanged) where its blocks (a window's, a window row's) do not come in threes. Weak: a library holds
 * the file only where the generator found such a layer (generator.pairs3_ships). */
#define TINYASC_PAIRS3_ROWS 0
#define TINYASC_PAIRS3_WIN 1
int tinyasc_pairs3_s8(int32_t form, void *q) __attribute__((weak));
/* Defined by the weakly reached files, and referred to by a generated model that ships them: a static archive
 * extracts a member for a strong reference only (kernel_sources.Kernel.weak). */
extern const uint8_t tinyasc_line3p_s8_linked, tinyasc_line3_dsp_s8_linked, tinyasc_dw_taps_s8_linked,
    tinyasc_pairs3_s8_linked;
/* tinyasc_band_affine_s8 with each (channel, band) tabulated or computed with the folded requantization. */
void tinyasc_opt_band_affine_s8(const tinyasc_band_params *p, const tinyasc_conv_params *cp,
                                const tinyasc_weights *w, const int8_t *input, int8_t *output);
int tinyasc_chan_conv_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                         int32_t wt, int32_t wc);
const int8_t *tinyasc_band_tables(const tinyasc_conv_params *cp, const tinyasc_weights *w, int32_t bands, int32_t g,
                                  int32_t c, int32_t n);
/* The affines of channels c .. c + n - 1 (n <= 4) of band g of a sub-band affine (conv channel (c + j) bands + g):
 * factor, constant (bias + factor x input offset), multiplier and shift; the lanes past n 0, their shift -1 (Helium's
 * four-lane kernels: band_affine_mve, the fused sub-band ADD). */
static inline void tinyasc_band_consts4(const tinyasc_conv_params *cp, const tinyasc_weights *w, int32_t bands,
                                        int32_t g, int32_t c, int32_t n, int32_t wk[4], int32_t base[4], int32_t m[4],
                                        int32_t s[4])
{
    for (int32_t j = 0; j < 4; j++) wk[j] = base[j] = m[j] = 0, s[j] = -1;
    for (int32_t j = 0; j < n; j++) {
        const int32_t k = (c + j) * bands + g;
        wk[j] = w->data[k];
        base[j] = (w->bias ? w->bias[k] : 0) + wk[j] * cp->input_offset;
        m[j] = w->multiplier[k];
        s[j] = w->shift[k];
    }
}
/* tinyasc_band_add_s8 (the sub-band affine fused into the ADD that reads it), optimized: c/opt/tinyasc_opt_band_add.c;
 * the ADD's parameters meet the fast entries' precondition (generator.binary_fast_ok; planner.find_band_adds). */
void tinyasc_opt_band_add_s8(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_weights *w,
                             const tinyasc_binary_params *ap, int32_t band_in, const int8_t *x, const int8_t *y,
                             int8_t *out);

/* The optimized entry points the generated model calls (c/opt/tinyasc_opt_ref.c, _binary.c, _inplace.c). */
void tinyasc_opt_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                           int8_t *output);
void tinyasc_opt_conv2d_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                                 int8_t *output);
void tinyasc_opt_conv2d_1x1_inplace_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                             int8_t *stage, int32_t stage_bytes);
/* A dense 1x1 CONV_2D, stride 1, no padding, output of the input's size, in_c = filter_in_c > 1 (the layers the
 * generator sends here): what tinyasc_opt_conv2d_s8 computes, linking neither its im2col nor its grouped and
 * one-input-channel kernels. */
void tinyasc_opt_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output);
/* A dense CONV_2D on inputs a multiple of 16 other than such a 1x1 (the layers the generator sends here): what
 * tinyasc_opt_conv2d_s8 computes; on Helium the windows inside the input read in place (a model with no such layer
 * links none of that kernel). */
void tinyasc_opt_conv2d_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                               int8_t *output);
/* Depthwise: on the DSP and Helium cores for depth multiplier 1 only (their SIMD kernels take every such layer, so
 * no loop is linked behind them); tinyasc_opt_depthwise_conv2d_multiplier_s8 takes the others (the generator's
 * choice, by depth multiplier). */
void tinyasc_opt_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
/* A k_h x 1 depthwise layer of more than three taps, not in place, in a DSP core's library
 * (generator.depthwise_column): the runs of whole columns in asm; elsewhere (the generator names it for no other
 * core) tinyasc_opt_depthwise_conv2d_s8. */
void tinyasc_opt_depthwise_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
void tinyasc_opt_depthwise_conv2d_multiplier_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                                const int8_t *input, int8_t *output);
void tinyasc_opt_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                       int8_t *stage, int32_t stage_bytes);
/* The same for inputs a multiple of 16, which Helium's in-place kernel may take (tinyasc_opt_inplace.c). */
void tinyasc_opt_conv2d_1x1_inplace_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                           int8_t *stage, int32_t stage_bytes);
/* The chunk loop of the 1x1 in place (tinyasc_opt_inplace.c): the layer's pixels in chunks through conv into a
 * staging buffer (stage_bytes at stage when that is more than the file's own 2 KB), each chunk copied back, in the
 * order that overwrites no unread input. */
typedef void (*tinyasc_chunk_conv)(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                                   int8_t *output);
void tinyasc_inplace_chunks(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                            tinyasc_chunk_conv conv, int8_t *stage, int32_t stage_bytes);
void tinyasc_opt_conv_col_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t f_c_stride,
                                     int32_t f_ky_stride, int8_t *data, int8_t *scratch);
void tinyasc_opt_max_pool_s8(const tinyasc_pool_params *p, const int8_t *in, int8_t *out);
void tinyasc_opt_avg_pool_s8(const tinyasc_pool_params *p, const int8_t *in, int8_t *out);
/* PAD: on Helium each output row of the last two axes written once where the last axis is not padded
 * (tinyasc_opt_pad.c); the portable kernel elsewhere */
void tinyasc_opt_pad_s8(const tinyasc_pad_params *p, const int8_t *in, int8_t *out);
void tinyasc_opt_depthwise_window_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output);
void tinyasc_opt_depthwise_window_s2_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                        const int8_t *input, int8_t *output);
void tinyasc_opt_fully_connected_s8(const tinyasc_fc_params *p, const tinyasc_weights *w, const int8_t *input,
                                    int8_t *output);
void tinyasc_opt_fully_connected_blocks_s8(const tinyasc_fc_blocks_params *p, const tinyasc_weights *w,
                                           const int8_t *input, int8_t *output);
void tinyasc_opt_add_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_sub_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_mul_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_squared_difference_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2,
                                       int8_t *out);
/* The same without the portable kernel behind them: only where the fast paths' precondition holds (every
 * rescaling multiplier valid; input shifts and, but for SQUARED_DIFFERENCE and MUL, the output shift <= 0), which
 * the generator checks before calling them (generator.binary_fast_ok). */
void tinyasc_opt_add_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_sub_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_mul_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_opt_squared_difference_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2,
                                            int8_t *out);
/* An int8 ADD fused into the MAX_POOL_2D that reads it (tinyasc_add_max_pool_s8's contract): the window's largest sum
 * rescaled once where one input is exactly halved, else the ADD's outputs compared. */
void tinyasc_opt_add_max_pool_s8(const tinyasc_binary_params *ap, const tinyasc_pool_params *pp, const int8_t *in1,
                                 const int8_t *in2, int8_t *out);

/* 16x8 (int16 activations, int8 weights): c/opt/tinyasc_opt_16x8.c, _pool.c, _binary.c. */
void tinyasc_opt_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w, const int16_t *input,
                             int16_t *output);
void tinyasc_opt_depthwise_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w,
                                       const int16_t *input, int16_t *output);
void tinyasc_opt_max_pool_s16(const tinyasc_pool_params *p, const int16_t *in, int16_t *out);
void tinyasc_opt_add_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void tinyasc_opt_mul_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);

/*
 * MBQM(acc, m, s) of TFLite (double rounding), in fewer instructions than tinyasc_mbqm.
 * gemmlowp's SaturatingRoundingDoublingHighMul truncates (ab + nudge) / 2^31 toward zero with
 * nudge = 2^30 or 1 - 2^30 by sign; for ab < 0 that equals floor((ab + 2^30) / 2^31), so
 * x = (ab + 2^30) >> 31 for both signs. The saturating case a = m = INT32_MIN (never produced
 * by TFLite's multiplier quantization, m >= 2^30) takes the reference path.
 *
 * Right shifts r = -s >= 2 (the usual case) fold the second rounding in too. RoundingDivideByPOT
 * rounds half away from zero: floor((x + 2^(r-1) - [x < 0]) / 2^r). With x a floor of
 * (ab + 2^30) / 2^31 and integer offsets, the nested floors are one:
 *     floor((ab + 2^30 - [x < 0] 2^31 + 2^(30+r)) / 2^(31+r)),
 * and [x < 0] may be replaced by [acc < 0] (m > 0): they differ only for -2^30 <= ab < 0,
 * where both give 0. With u = ab + 2^30 - [acc < 0] 2^31 (one multiply-accumulate onto a
 * constant of the sign) and 2^(30+r) = 2^(r-2) 2^32, the result is ((u >> 32) + 2^(r-2)) >> (r-1):
 * the high word of the product, one add, one shift. Tested equal to tinyasc_mbqm on 3 million
 * triples including the int32 extremes (tests/test_latency_kernels.py).
 */
/* Saturate to int8: one SSAT where the core has it (Cortex-M3 and later), else the clamp. */
#if defined(__ARM_FEATURE_SAT)
#include <arm_acle.h>
#define tinyasc_sat8(v) __ssat((v), 8)
#else
#define tinyasc_sat8(v) tinyasc_clamp((v), -128, 127)
#endif

static inline __attribute__((always_inline)) int tinyasc_rq_folded(int32_t m, int32_t s)
{
    return s <= -2 && s >= -31 && m > 0;
}

/* The folded form for m > 0 and r = -s in [2, 31], with rnd = 2^(r-2) and sh = r - 1 (constants
 * of the channel or the call): the sign's constant is (acc >> 31 : (acc & 2^31) | 2^30), so the
 * whole requantization is ADD (rnd plus the sign), AND, ORR, SMLAL, ASR on a Cortex-M4. */
static inline __attribute__((always_inline)) int32_t tinyasc_rq_apply(int32_t acc, int32_t m, int32_t rnd, int32_t sh)
{
    /* rnd rides in the constant's high word: (u + rnd 2^32) >> 32 = (u >> 32) + rnd, and |u| + rnd 2^32 < 2^63
     * (|acc m| < 2^62, rnd < 2^30), so the high word is one ADD with the sign (acc ASR 31) and SMLAL adds the
     * product: ADD, AND, ORR, SMLAL, ASR on a Cortex-M4 */
    const int32_t neg = acc >> 31;
    const int64_t c = (int64_t)(((uint64_t)(uint32_t)(neg + rnd) << 32) | (uint32_t)(0x40000000u | ((uint32_t)neg << 31)));
    const int64_t u = (int64_t)acc * m + c;
    return (int32_t)(u >> 32) >> sh;
}

/* The output zero point folds into the rounding constant too when the shift allows it:
 * ((hi + rnd + (zp << sh)) >> sh) = ((hi + rnd) >> sh) + zp exactly, as the sum stays inside int32
 * for sh = r - 1 <= 22 (|hi| <= 2^31 / 2^(r-1) and |zp << sh| <= 2^29). The one rule for every
 * kernel that folds the zero point. */
static inline __attribute__((always_inline)) int tinyasc_rq_zp_folds(int32_t m, int32_t s)
{
    return tinyasc_rq_folded(m, s) && s >= -23;
}

/* A ReLU range's rescaling (the output range starts at or above the output zero point: act_min >= zo) on a doubled
 * sum x2 = 2 acc: TFLite's double rounding differs between signs only in the nudge, and a negative sum's output is
 * act_min however it rounds; for acc >= 0 it is floor((acc m + 2^30) / 2^31) rounded half up by 2^r, which SMMLAR
 * computes on the doubled sum, (rnd2 2^32 + x2 m + 2^31) >> 32 = rnd2 + floor((acc m + 2^30) / 2^31), then ASR r,
 * with rnd2 = 2^(r-1), plus zp << r where the zero point folds (tinyasc_rq_relu_consts; tinyasc_rq_zp_folds' shifts).
 * For acc < 0 the result is at most rnd2 >> r (the zero point), which the clamp takes to act_min as it does the
 * exact value. The caller keeps |acc| < 2^30 (x2 inside int32) and m > 0, r in 2..23 (tinyasc_rq_zp_folds). */
static inline __attribute__((always_inline)) int32_t tinyasc_rq_relu_apply(int32_t x2, int32_t m, int32_t rnd2,
                                                                           int32_t r)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t h;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(h) : "r"(x2), "r"(m), "r"(rnd2));
    return h >> r;
#else
    return (int32_t)((((int64_t)rnd2 * 4294967296LL) + (int64_t)x2 * m + 0x80000000LL) >> 32) >> r;
#endif
}

/* The same rescaling of a doubled sum x2 = 2 acc for either sign, exactly TFLite's: its first rounding, floor((acc m
 * + 2^30) / 2^31), does not depend on the sign (a negative product's nudge 1 - 2^30 with division toward zero is
 * the same floor), so SMMLAR gives rnd2 + q; its second rounds half away from zero, (q + 2^(r-1) - [q < 0]) >> r,
 * and [q < 0] may be read as [acc < 0] (q = 0 with acc < 0 gives 0 either way for r >= 1): SMMLAR, SUB of the
 * sum's sign bit, ASR. Same constants and conditions as tinyasc_rq_relu_apply (|acc| < 2^30, m > 0, r in 2..23),
 * any output range. */
static inline __attribute__((always_inline)) int32_t tinyasc_rq_dbl_apply(int32_t x2, int32_t m, int32_t rnd2,
                                                                          int32_t r)
{
    return (tinyasc_rq_relu_apply(x2, m, rnd2, 0) - (int32_t)((uint32_t)x2 >> 31)) >> r;
}

/* tinyasc_rq_relu_apply's (and tinyasc_rq_dbl_apply's) constants for shift s and zero point zp (0 to keep it out):
 * rnd2 = 2^(r-1) + zp 2^r. */
static inline __attribute__((always_inline)) void tinyasc_rq_relu_consts(int32_t s, int32_t zp, int32_t *rnd2,
                                                                        int32_t *r)
{
    *r = -s;
    *rnd2 = ((int32_t)1 << (*r - 1)) + (int32_t)((uint32_t)zp << *r);
}

/* The folded form's final shift for shift s (tinyasc_rq_folded): sh = r - 1. */
static inline __attribute__((always_inline)) int32_t tinyasc_rq_sh(int32_t s)
{
    return -s - 1;
}

/* Constants of the folded form for shift s: sh = r - 1 and rnd = 2^(r-2), plus zp << sh when the
 * zero point zp is folded in (pass 0 to keep it out; a nonzero zp needs tinyasc_rq_zp_folds). */
static inline __attribute__((always_inline)) void tinyasc_rq_consts(int32_t s, int32_t zp, int32_t *rnd, int32_t *sh)
{
    *sh = tinyasc_rq_sh(s);
    *rnd = ((int32_t)1 << (*sh - 1)) + (int32_t)((uint32_t)zp << *sh);
}

/* tinyasc_mbqm out of line: the multiplier INT32_MIN (TFLite's rounding of a scale just below a power of two), which
 * no trained layer seems to give; inlined, its code only weighed on the register allocation of the kernels' loops. */
static __attribute__((noinline, unused)) int32_t tinyasc_mbqm_cold(int32_t acc, int32_t m, int32_t s)
{
    return tinyasc_mbqm(acc, m, s);
}

static inline __attribute__((always_inline)) int32_t tinyasc_opt_requant(int32_t acc, int32_t m, int32_t s)
{
    if (tinyasc_rq_folded(m, s)) {
        int32_t rnd, sh;
        tinyasc_rq_consts(s, 0, &rnd, &sh);
        return tinyasc_rq_apply(acc, m, rnd, sh);
    }
    if (m == INT32_MIN) {
        return tinyasc_mbqm_cold(acc, m, s);
    }
    {
        const int32_t left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
        const int64_t ab = (int64_t)(int32_t)((uint32_t)acc << left) * (int64_t)m;
        const int32_t x = (int32_t)((ab + ((int64_t)1 << 30)) >> 31);
        const int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
        const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
        return (x >> right) + ((x & mask) > threshold ? 1 : 0);
    }
}

/* One input channel: the k_h input rows output row oy reads (batch image in), span bytes each from column -pad_w,
 * into rows (k_h x span) with the input zero point where a tap falls outside the input, so that with the input
 * offset in each channel's constant (bias + off * sum w) those taps add exactly nothing (Helium's one-channel
 * kernels, dense and sparse). */
static inline void tinyasc_stage_rows_c1(const tinyasc_conv_params *p, const int8_t *in, int32_t oy, int32_t span,
                                         int8_t *rows)
{
    const int8_t zp = (int8_t)(-p->input_offset);
    const int32_t x_lo = p->pad_w, x_hi = p->pad_w + p->in_w; /* staged bytes [x_lo, x_hi) are input */
    const int32_t a = x_lo < span ? x_lo : span, e = x_hi < span ? x_hi : span;
    for (int32_t ky = 0; ky < p->k_h; ky++) {
        const int32_t y = oy * p->stride_h - p->pad_h + ky * p->dil_h;
        int8_t *r = rows + ky * span;
        if (y < 0 || y >= p->in_h) {
            memset(r, zp, (size_t)span);
            continue;
        }
        memset(r, zp, (size_t)a);
        if (e > a) memcpy(r + a, in + y * p->in_w, (size_t)(e - a));
        if (span > e) memset(r + e, zp, (size_t)(span - e));
    }
}

/* Whether a layer's activation range is all of int8 (SSAT, or the four-lane paths' clamp). */
static inline int tinyasc_full_range(const tinyasc_conv_params *p)
{
    return p->act_min == -128 && p->act_max == 127;
}

/* Whether n shifts, stride apart from s, are all right shifts (s <= -1: the four-lane output path's
 * rounding step; tinyasc_rq_x4_any takes the others). */
static inline int tinyasc_right_shifts(const int32_t *s, int32_t n, int32_t stride)
{
    for (int32_t i = 0; i < n; i++)
        if (s[i * stride] > -1) return 0;
    return 1;
}

/* Whether an input's rescaling (multiplier m, shift s) is exactly 1/2. */
static inline int tinyasc_halves(int32_t m, int32_t s)
{
    return m == (1 << 30) && s == 0;
}

/* Whether an int8 ADD/SUB has one input exactly halved (TFLite's ADD rescales to twice the larger input scale): 1
 * where in1 is, 2 where in2 is, the other input and the output with right shifts; else 0. Helium's
 * addsub4_s8_halved, the DSP cores' add8_halved_run (tinyasc_opt_binary.c) and the fused sub-band ADD take these. */
static inline int tinyasc_add8_half(const tinyasc_binary_params *p)
{
    if (p->left_shift < 1 || p->out_shift > -1) return 0;
    if (tinyasc_halves(p->in1_mult, p->in1_shift) && p->in2_shift <= -1) return 1;
    if (tinyasc_halves(p->in2_mult, p->in2_shift) && p->in1_shift <= -1) return 2;
    return 0;
}

/* Whether the output range starts at or above the output zero point (a fused ReLU: act_min >= zo) with the folded
 * rescaling: then a negative sum's output is act_min whatever its rounding (tinyasc_rq_relu_apply on the DSP cores;
 * Helium's addsub4_out drops the sign's correction). The doubled sums stay inside int32 for TFLite's int8 ADD (left
 * shift 20: each rescaled input below 2^28). */
static inline int tinyasc_add8_relu_range(const tinyasc_binary_params *p)
{
    return p->act_min >= p->out_offset && p->left_shift <= 20 && tinyasc_rq_folded(p->out_mult, p->out_shift);
}

/* Whether a channel's constant leaves room for the doubled form (|base| < 2^29: with at most three int8 products the
 * doubled sum stays inside int32), the condition of the DSP cores' affine_dsp_run (tinyasc_opt_ref.c), their
 * three-tap line layers (tinyasc_opt_line3_dsp.c) and the fused sub-band ADD's band_add1_dsp. */
static inline int tinyasc_dbl_base_ok(int32_t base)
{
    return (uint32_t)base + (1u << 29) < (1u << 30);
}

/* Whether tinyasc_line3_dsp_s8 takes a line layer (with the whole int8 range): three taps, "same" or "valid" padding
 * (the two TFLite gives), input and output positions the same bytes apart, an output at least. */
static inline int tinyasc_line3_dsp_lines_ok(const tinyasc_lines *g)
{
    return g->taps == 3 && g->pad <= 1 && g->in_step == g->out_step && g->lines > 0 && g->len_out > 0;
}

/* Channel c's constant (bias + input offset x the taps' sum) of a three-tap line layer (taps wt bytes apart, channels
 * wc), and in *ok whether tinyasc_line3_dsp_s8 takes the channel: its requantization folds and its doubled sums stay
 * inside int32. The C line kernel skips exactly those channels after it. */
static inline __attribute__((always_inline)) int32_t tinyasc_line3_dsp_base(const tinyasc_conv_params *p,
                                                                           const tinyasc_weights *w, int32_t wt,
                                                                           int32_t wc, int32_t c, int *ok)
{
    const int8_t *wp = w->data + c * wc;
    const int32_t base = (w->bias ? w->bias[c] : 0) + p->input_offset * (wp[0] + wp[wt] + wp[2 * wt]);
    *ok = tinyasc_rq_zp_folds(w->multiplier[c], w->shift[c]) && tinyasc_dbl_base_ok(base);
    return base;
}

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SAT) && !defined(__ARM_FEATURE_MVE)
/* The loop of the DSP cores' one-register-count asm runs: STEP once when the count in r1 is odd, then twice per pass
 * (one loop test per two steps). */
#define TINYASC_ASM_ODD_THEN_PAIRS(STEP)                                                                          \
        "tst    r1, #1\n\t"                                                                                       \
        "beq    1f\n\t"                                                                                           \
        STEP                                                                                                      \
        "1:\n\t"                                                                                                  \
        "asrs   r1, r1, #1\n\t"              /* passes of two */                                                  \
        "beq    3f\n\t"                                                                                           \
        "2:\n\t"                                                                                                  \
        STEP                                                                                                      \
        STEP                                                                                                      \
        "subs   r1, r1, #1\n\t"                                                                                   \
        "bne    2b\n\t"                                                                                           \
        "3:\n\t"
/* tinyasc_rq_dbl_apply in asm: the doubled sum in X2 (m, rnd2 and r in the registers named) into T, the sign bit taken
 * from SIGN (the sum or its double: T may be X2 where SIGN is another register), SSAT, the byte stored at DST. */
#define TINYASC_ASM_DBL_OUT(X2, SIGN, T, M, RND2, R, DST)                                                          \
        "smmlar " T ", " X2 ", " M ", " RND2 "\n\t"                                                               \
        "sub    " T ", " T ", " SIGN ", lsr #31\n\t"                                                              \
        "asr    " T ", " T ", " R "\n\t"                                                                          \
        "ssat   " T ", #8, " T "\n\t"                                                                             \
        "strb   " T ", " DST "\n\t"
/* The output step of the DSP cores' affine and line asm (tinyasc_opt_ref.c, tinyasc_opt_line3_dsp.c): the doubled sum
 * in ACC, the byte stored at r0, r0 advanced by r3 (lr scratch). */
#define TINYASC_ASM_DBL_OUT_STEP(ACC, M, RND2, R)                                                                  \
        TINYASC_ASM_DBL_OUT(ACC, ACC, "lr", M, RND2, R, "[r0]")                                                   \
        "add    r0, r0, r3\n\t"
#endif

/* The output path of a whole layer when every channel's zero point folds (tinyasc_rq_zp_folds)
 * and the activation range is all of int8: the clamp is then one SSAT. Checked once per call. */
static inline int tinyasc_out_fast_ok(const tinyasc_conv_params *p, const tinyasc_weights *w)
{
    if (p->act_min != -128 || p->act_max != 127) return 0;
    for (int32_t c = 0; c < p->out_c; c++)
        if (!tinyasc_rq_zp_folds(w->multiplier[c], w->shift[c])) return 0;
    return 1;
}

/* Rounding constant and shift of channel c on the fast output path. */
static inline __attribute__((always_inline)) void tinyasc_out_fast_consts(const tinyasc_conv_params *p,
                                                                          const tinyasc_weights *w, int32_t c,
                                                                          int32_t *rnd, int32_t *sh)
{
    tinyasc_rq_consts(w->shift[c], p->output_offset, rnd, sh);
}

static inline __attribute__((always_inline)) int8_t tinyasc_out_fast(int32_t acc, int32_t m, int32_t rnd, int32_t sh)
{
    return (int8_t)tinyasc_sat8(tinyasc_rq_apply(acc, m, rnd, sh));
}

/* Requantize one accumulator with multiplier m and shift s: clamp(MBQM(acc, m, s) + out_zp). */
static inline __attribute__((always_inline)) int8_t tinyasc_opt_out_ms(const tinyasc_conv_params *p, int32_t acc,
                                                                       int32_t m, int32_t s)
{
    acc = tinyasc_opt_requant(acc, m, s) + p->output_offset;
    return (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
}

/* The same for output channel oc of the layer. */
static inline __attribute__((always_inline)) int8_t tinyasc_opt_out(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t acc,
                                     int32_t oc)
{
    return tinyasc_opt_out_ms(p, acc, w->multiplier[oc], w->shift[oc]);
}

/* 16x8 rescaling (c/opt/tinyasc_opt_16x8.c) of an int32 sum x: TFLite's MBQM64(x, m, s) is
 * (x r + 2^(t-1)) >> t with r the multiplier rounded to 16 bits and t = 15 - s. For s in [-31, -2]
 * (t >= 17) that is (hi + 2^(sh-1)) >> sh with hi = (x * (r << 16)) >> 32 = floor(x r / 2^16) (the
 * high word of one 32x32 multiply) and sh = t - 16 = -1 - s: nested floors with an integer offset
 * are one floor, (floor(y / 2^16) + c) >> sh = (y + c 2^16) >> (16 + sh). Tested equal to
 * tinyasc_mbqm64 on a million (x, m, s) (tests/test_latency_kernels_16x8.py). */
static inline __attribute__((always_inline)) int tinyasc_rq16_folded(int32_t s)
{
    return s <= -2 && s >= -31;
}

/* r << 16 for multiplier m: r as tinyasc_mbqm64 rounds it. */
static inline __attribute__((always_inline)) int32_t tinyasc_rq16_r(int32_t m)
{
    const int32_t r = m < 0x7FFF0000 ? ((m + (1 << 15)) >> 16) : 0x7FFF;
    return (int32_t)((uint32_t)r << 16);
}

static inline __attribute__((always_inline)) int32_t tinyasc_rq16_apply(int32_t x, int32_t r16, int32_t s)
{
    const int32_t sh = -1 - s;
    const int32_t hi = (int32_t)(((int64_t)x * r16) >> 32);
    return (hi + ((int32_t)1 << (sh - 1))) >> sh;
}

#if defined(__ARM_FEATURE_MVE)
/* The output path of four channels at once on Helium: TFLite's MBQM(acc, m, s) lane by lane as it is
 * defined, SaturatingRoundingDoublingHighMul then RoundingDivideByPOT by r = -s >= 1, then the zero
 * point and the int8 clamp. SRDHM is VQRDMULH (see tinyasc_mbqm_x4); RoundingDivideByPOT rounds half
 * away from zero, floor((h + 2^(r-1) - [h < 0]) / 2^r), which is VRSHL by -r (round half up) of
 * h + (h >> 31): no overflow, as |h| < 2^31 - 1 for m < 2^31 (h = INT32_MIN needs acc = m = INT32_MIN).
 * Seven instructions for four outputs: VQRDMULH, VSHR, VADD, VRSHL, VADD (zero point), and the clamp as
 * SSAT does it (VQSHL #24, VSHR #24). The same integers as tinyasc_opt_out for every channel
 * tinyasc_out_x4_ok admits. */
typedef struct {
    int32x4_t m, neg_r, zp;
} tinyasc_rq_x4;

/* Whether a layer can take the four-lane output path: every channel's shift is a right shift (s <= -1)
 * and the activation range is all of int8. */
static inline int tinyasc_out_x4_ok(const tinyasc_conv_params *p, const tinyasc_weights *w)
{
    if (p->act_min != -128 || p->act_max != 127) return 0;
    for (int32_t c = 0; c < p->out_c; c++)
        if (w->shift[c] > -1) return 0;
    return 1;
}

/* Constants of channels oc.. oc + 3 (lanes off in pr: zeros, never stored): m, -r (the shift) and the
 * output zero point zp. */
static inline __attribute__((always_inline)) tinyasc_rq_x4 tinyasc_rq_x4_consts(const tinyasc_weights *w, int32_t zp,
                                                                                int32_t oc, mve_pred16_t pr)
{
    tinyasc_rq_x4 q;
    q.m = vldrwq_z_s32(w->multiplier + oc, pr);
    q.neg_r = vldrwq_z_s32(w->shift + oc, pr);
    q.zp = vdupq_n_s32(zp);
    return q;
}

/* MBQM(acc, m, s) + zp of each lane, clamped to int8. */
static inline __attribute__((always_inline)) int32x4_t tinyasc_rq_x4_apply(int32x4_t acc, tinyasc_rq_x4 q)
{
    const int32x4_t h = vqrdmulhq_s32(acc, q.m);
    const int32x4_t r = vaddq_s32(vrshlq_s32(vaddq_s32(h, vshrq_n_s32(h, 31)), q.neg_r), q.zp);
    /* the int8 clamp without constants: a saturating shift left by 24, then back */
    return vshrq_n_s32(vqshlq_n_s32(r, 24), 24);
}

/* The four-lane output path for any shift (a pruned channel's scale can give a left shift): MBQM as TFLite
 * defines it, acc << left (wrapping, as tinyasc_shl), VQRDMULH, then the rounding division by 2^r only in lanes
 * with r = -s > 0 (VRSHL by 0 leaves the others, and their sign term is masked off). Two instructions more than
 * tinyasc_rq_x4_apply. */
typedef struct {
    tinyasc_rq_x4 q;        /* m, min(s, 0), zp */
    int32x4_t left, smask;  /* max(s, 0); -1 where s < 0, else 0 */
} tinyasc_rq_x4_any;

static inline __attribute__((always_inline)) tinyasc_rq_x4_any tinyasc_rq_x4_any_consts(const tinyasc_weights *w,
                                                                                        int32_t zp, int32_t oc,
                                                                                        mve_pred16_t pr)
{
    tinyasc_rq_x4_any a;
    const int32x4_t s = vldrwq_z_s32(w->shift + oc, pr);
    a.q.m = vldrwq_z_s32(w->multiplier + oc, pr);
    a.q.neg_r = vminq_s32(s, vdupq_n_s32(0));
    a.q.zp = vdupq_n_s32(zp);
    a.left = vmaxq_s32(s, vdupq_n_s32(0));
    a.smask = vshrq_n_s32(s, 31);
    return a;
}

static inline __attribute__((always_inline)) int32x4_t tinyasc_rq_x4_any_apply(int32x4_t acc, tinyasc_rq_x4_any a)
{
    const int32x4_t h = vqrdmulhq_s32(vshlq_s32(acc, a.left), a.q.m);
    const int32x4_t r = vaddq_s32(vrshlq_s32(vaddq_s32(h, vandq_s32(vshrq_n_s32(h, 31), a.smask)), a.q.neg_r), a.q.zp);
    return vshrq_n_s32(vqshlq_n_s32(r, 24), 24);
}

/* tinyasc_mbqm(x, m, s) lane by lane for m != INT32_MIN and any shift: SRDHM is VQRDMULH (floor((x m + 2^30) /
 * 2^31) equals gemmlowp's truncated (x m + nudge) / 2^31 for both signs, and both saturate only at
 * INT32_MIN * INT32_MIN), after the left shift s > 0 (wrapping, as tinyasc_shl); RoundingDivideByPOT by
 * r = -s > 0 is floor((h + 2^(r-1) - [h < 0]) / 2^r), the sign's term being h >> 31 (for |h| < 2^31 - 2^(r-1)).
 * Tested against tinyasc_mbqm on 100,000 triples under QEMU (tests/test_latency_kernels_16x8.py). */
static inline __attribute__((always_inline)) int32x4_t tinyasc_mbqm_x4(int32x4_t x, int32_t m, int32_t s)
{
    const int32x4_t h = vqrdmulhq_n_s32(s > 0 ? vshlq_r_s32(x, s) : x, m);
    if (s >= 0) return h;
    return vrshlq_n_s32(vaddq_s32(h, vshrq_n_s32(h, 31)), s); /* VRSHL adds the 2^(r-1) */
}

/* The other input's rescaled value, TFLite's MBQM((x + off) << ls, m, s) lane by lane (tinyasc_mbqm_x4's form). */
static inline __attribute__((always_inline)) int32x4_t tinyasc_addsub4_other(int32x4_t x, int32x4_t off, int32_t ls,
                                                                             int32_t m, int32_t s)
{
    const int32x4_t h = vqrdmulhq_n_s32(vshlq_r_s32(vaddq_s32(x, off), ls), m);
    return vrshlq_n_s32(vaddq_s32(h, vshrq_n_s32(h, 31)), s);
}

/* t + x kh rescaled to the output, its zero point and range (tinyasc_addsub4_rq: a sum s so rescaled): the output path
 * of tinyasc_opt_binary.c's addsub4_step, addsub4_cols and the ADD fused into a MAX_POOL_2D. With relu
 * (tinyasc_add8_relu_range: the range starts at or above the zero point) without the sign's correction: VQRDMULH and
 * VRSHL alone round a sum >= 0 as TFLite does, and a negative sum's output is the range's start either way. */
static inline __attribute__((always_inline)) int32x4_t tinyasc_addsub4_rq(int32x4_t s, int32_t mo, int32_t so,
                                                                          int32x4_t zo, int32x4_t lo, int32x4_t hi,
                                                                          const int relu)
{
    const int32x4_t g = vqrdmulhq_n_s32(s, mo);
    const int32x4_t h = relu ? g : vaddq_s32(g, vshrq_n_s32(g, 31));
    return vminq_s32(vmaxq_s32(vaddq_s32(vrshlq_n_s32(h, so), zo), lo), hi);
}
static inline __attribute__((always_inline)) int32x4_t tinyasc_addsub4_out(int32x4_t t, int32x4_t x, int32_t kh,
                                                                           int32_t mo, int32_t so, int32x4_t zo,
                                                                           int32x4_t lo, int32x4_t hi, const int relu)
{
    return tinyasc_addsub4_rq(vmlaq_n_s32(t, x, kh), mo, so, zo, lo, hi, relu);
}


/* Scratch the Helium kernels share (tinyasc_opt_mve.c): a layer's per-channel constants (bias + off * sum w). */
#ifndef TINYASC_OPT_MAX_C
#define TINYASC_OPT_MAX_C 512
#endif
extern int32_t tinyasc_acc0[TINYASC_OPT_MAX_C];
/* ... and their gather buffer (windows, interleaved weight rows, a depthwise layer's staged input rows), free
 * between layers. */
#ifndef TINYASC_OPT_MAX_K
#define TINYASC_OPT_MAX_K 4096
#endif
extern int8_t tinyasc_mve_gather[TINYASC_OPT_MAX_K];

/* One channel's input staged as an int8 plane for the kernels whose four lanes are four neighbouring outputs of one
 * channel (tinyasc_opt_plane.c; the 3 x 3 depthwise planes, the three-tap line planes): plane rows [0, rows) for input
 * rows v0 .. (dv bytes apart, in_v of them); a row inside the input gets its columns [lo, hi) from the input (column
 * j at position j + u0 along u, du bytes apart, 7 du < 2^16: eight per 16-bit-offset gather), a row outside all zp
 * unless `clean` (the caller wrote zp there once). The other columns are the caller's (its padding, written once). */
void tinyasc_plane_stage_mve(const int8_t *in, int32_t du, int32_t dv, int32_t in_v, int32_t u0, int32_t v0,
                             int32_t rows, int32_t pitch, int32_t lo, int32_t hi, int8_t zp, int clean, int8_t *dst);

/* Four output channels c.. (lanes off in pr not stored) of one pixel from their sums: the four-lane output
 * path where the layer allows it, its form for any shift where the range is full, else lane by lane. */
static inline __attribute__((always_inline)) void tinyasc_dw_out4(const tinyasc_conv_params *p,
                                                                  const tinyasc_weights *w, int8_t *op, int32_t c,
                                                                  int32x4_t acc, mve_pred16_t pr, int fast, int full)
{
    if (fast) {
        vstrbq_p_s32(op + c, tinyasc_rq_x4_apply(acc, tinyasc_rq_x4_consts(w, p->output_offset, c, pr)), pr);
    } else if (full) {
        vstrbq_p_s32(op + c, tinyasc_rq_x4_any_apply(acc, tinyasc_rq_x4_any_consts(w, p->output_offset, c, pr)), pr);
    } else {
        int32_t lanes[4];
        vstrwq_s32(lanes, acc);
        for (int32_t j = 0; j < 4 && c + j < p->out_c; j++) op[c + j] = tinyasc_opt_out(p, w, lanes[j], c + j);
    }
}

/* Helium asm's four-lane output step of the int32 sums in V without its clamp (tinyasc_rq_x4_apply's first five
 * instructions): VQRDMULH by M, the sign's term (in T) added, VRSHL by S (a right shift), the zero point ZP added; the
 * scalar operands in the registers named. */
#define TINYASC_ASM_OUT5(V, T, M, S, ZP)                                                                          \
        "vqrdmulh.s32 " V ", " V ", " M "\n\t"                                                                     \
        "vshr.s32 " T ", " V ", #31\n\t"                                                                           \
        "vadd.i32 " V ", " V ", " T "\n\t"                                                                         \
        "vrshl.s32 " V ", " S "\n\t"                                                                               \
        "vadd.i32 " V ", " V ", " ZP "\n\t"
/* Two vectors of int32 outputs, A and B, narrowed with saturation into the int16 halves of T (A's four in the even
 * halves, B's in the odd: VQMOVNB, VQMOVNT) and to int8 in the low byte of each half of D (VQMOVNB.S16: the clamp to
 * [-128, 127] of both narrowings), for one VSTRB.16 of eight at tinyasc_pair_offsets. */
#define TINYASC_ASM_NARROW_PAIR(T, A, B, D)                                                                       \
        "vqmovnb.s32 " T ", " A "\n\t"                                                                             \
        "vqmovnt.s32 " T ", " B "\n\t"                                                                             \
        "vqmovnb.s16 " D ", " T "\n\t"

/* Whether the 16-bit offsets of such a store of outputs step bytes apart fit (the largest, 7 step). */
static inline int tinyasc_pair_offsets_fit(int32_t step)
{
    return 7 * step <= 65535;
}

/* The offsets of such a store: the first vector's four outputs at 0, step, 2 step, 3 step in the even halves, the
 * second's four steps further in the odd ones (0, 4 step, step, 5 step, ...). */
static inline void tinyasc_pair_offsets(uint16_t o[8], int32_t step)
{
    for (int32_t j = 0; j < 4; j++) o[2 * j] = (uint16_t)(j * step), o[2 * j + 1] = (uint16_t)((j + 4) * step);
}
#endif


#if defined(__ARM_FEATURE_DSP)
/* SXTB16 / SXTAB16 of a word rotated by 8, in one instruction each (gcc does not fold the rotate into the operand):
 * a word's bytes 1 and 3 as int16 lanes (plus a's halfwords). */
static inline uint32_t tinyasc_sxtb16_ror8(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static inline uint32_t tinyasc_sxtab16_ror8(uint32_t a, uint32_t v)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
}
#endif

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
/* Scratch the DSP kernels share (tinyasc_opt_dsp.c): the convolution's gathered windows, free between layers (a
 * depthwise layer keeps its per-channel constants there), and a window's raw bytes. */
#ifndef TINYASC_OPT_MAX_K
#define TINYASC_OPT_MAX_K 2304 /* int16 gather buffer: 4.5 KB of RAM */
#endif
extern uint32_t tinyasc_gather_words[(TINYASC_OPT_MAX_K + 8) / 2];
extern int8_t tinyasc_gather_stage[TINYASC_OPT_MAX_K + 4];
#endif

#endif
