/* tinyasc int8 kernels: TensorFlow Lite (Micro) reference integer semantics, in portable C99.
 *
 * No heap, no libc beyond string.h. Every quantization constant (multiplier, shift, clamp) is
 * computed by the generator in Python exactly as TFLM's Prepare() does and arrives here as a
 * const parameter struct; the kernels only do the integer arithmetic of TFLM's Eval().
 *
 * Fixed-point helpers follow gemmlowp's definitions (SaturatingRoundingDoublingHighMul,
 * RoundingDivideByPOT) and TFLite's double-rounding MultiplyByQuantizedMultiplier, which
 * is what the tflite-micro interpreter and CMSIS-NN are built with by default. TFLite's
 * single-rounding variant (TFLITE_SINGLE_ROUNDING builds) also changes how Prepare() computes
 * multipliers and every optimized kernel's rescaling: it is not offered, and defining
 * TINYASC_SINGLE_ROUNDING stops the build.
 *
 * These portable kernels are always defined. The optimized library (c/opt/tinyasc_opt.h)
 * adds tinyasc_opt_<op> twins with the same signatures; which one a layer calls is decided
 * when the model is generated for a target, never at link time.
 */
#ifndef TINYASC_KERNELS_H
#define TINYASC_KERNELS_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYASC_MAX_DIMS 6

#ifdef TINYASC_SINGLE_ROUNDING
#error "tinyasc: TINYASC_SINGLE_ROUNDING is not supported: the kernels implement TFLite's default double rounding (build TFLite Micro without TFLITE_SINGLE_ROUNDING to compare)"
#endif

/* ---------------------------------------------------------------- fixed point */

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a*b / 2^31), saturating INT32_MIN*INT32_MIN. */
static inline int32_t tinyasc_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) return INT32_MAX;
    /* gemmlowp adds a nudge of 2^30 (1 - 2^30 for a negative product) and divides by 2^31 toward zero; for either
     * sign that is floor((ab + 2^30) / 2^31): for ab < 0 it gives -floor((-ab - 1 + 2^30) / 2^31), which is
     * -ceil((-ab - 2^30) / 2^31). So one arithmetic shift (GCC and Clang shift a negative int64 arithmetically),
     * no sign test and no 64-bit division's correction: a third of the instructions on a Cortex-M. */
    return (int32_t)(((int64_t)a * b + (1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: arithmetic right shift rounding half away from zero. */
static inline int32_t tinyasc_rdbpot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)((((int64_t)1) << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* Multiply by 2^s with wrap-around (TFLite computes x * (1 << s) in int32). */
static inline int32_t tinyasc_shl(int32_t x, int s) {
    return (int32_t)((uint32_t)x << s);
}

/* TFLite MultiplyByQuantizedMultiplier(int32 x, multiplier, shift), shift > 0 = left. */
static inline int32_t tinyasc_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return tinyasc_rdbpot(tinyasc_srdhm(tinyasc_shl(x, left), multiplier), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0). */
static inline int32_t tinyasc_mbqm_lt1(int32_t x, int32_t multiplier, int32_t shift) {
    return tinyasc_rdbpot(tinyasc_srdhm(x, multiplier), -shift);
}

static inline int32_t tinyasc_clamp(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* ---------------------------------------------------------------- weights */

/* One convolution's constant operands. `sparse` is reserved for compressed-weight variants
 * (NULL = dense `data`); the dense kernels ignore it. */
typedef struct {
    const int8_t *data;        /* CONV: [out_c][k_h][k_w][in_c/groups]; DW: [k_h][k_w][out_c] */
    const int32_t *bias;       /* [out_c] or NULL */
    const int32_t *multiplier; /* [out_c] per-channel fixed-point multipliers */
    const int32_t *shift;      /* [out_c] per-channel shifts (> 0 = left) */
    const void *sparse;        /* reserved: sparse encoding of `data`, NULL when dense */
} tinyasc_weights;

/* ---------------------------------------------------------------- conv / depthwise */

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_h, pad_w;         /* top / left padding */
    int32_t filter_in_c;          /* CONV: in_c / groups; DW: unused */
    int32_t depth_multiplier;     /* DW: out_c / in_c; CONV: unused */
    int32_t input_offset;         /* -input zero point */
    int32_t output_offset;        /* output zero point */
    int32_t act_min, act_max;
} tinyasc_conv_params;

void tinyasc_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                       const int8_t *input, int8_t *output);
/* A 1x1 CONV_2D, stride 1, no padding, output of the input's size, ungrouped: the generator calls this for such
 * layers so that an optimized library links only the kernels they take; here it is tinyasc_conv2d_s8. */
void tinyasc_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                           const int8_t *input, int8_t *output);
/* A dense CONV_2D on inputs a multiple of 16 other than such a 1x1: the generator's entry for those layers, so that
 * an optimized library links Helium's in-place windows only for them; here it is tinyasc_conv2d_s8. */
void tinyasc_conv2d_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                           const int8_t *input, int8_t *output);
/* An ungrouped CONV_2D with its filter rows in word-interleaved pairs (generator.conv_row_pairs): each row of
 * K = k_h k_w in_c weights padded with zeros to K4, a multiple of 4; rows 2i and 2i + 1 fill 2 K4 bytes taking turns
 * a word (four weights) at a time, so row 2i's weights k..k+3 (k a multiple of 4) are at 2i K4 + 2k and row 2i + 1's
 * at 2i K4 + 2k + 4; an odd last row is at its place, (out_c - 1) K4. The DSP cores read both rows' words with one
 * LDRD (tinyasc_opt_dsp.c). */
void tinyasc_conv2d_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                             const int8_t *input, int8_t *output);
void tinyasc_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 const int8_t *input, int8_t *output);
/* The same, the name the generator gives layers of depth multiplier above one (the optimized library's
 * tinyasc_opt_depthwise_conv2d_s8 takes multiplier 1 only). */
void tinyasc_depthwise_conv2d_multiplier_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                            const int8_t *input, int8_t *output);
/* The same for a layer whose windows span both axes (k_h, k_w > 1; its own name: see kernels/conv.c). */
void tinyasc_depthwise_window_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 const int8_t *input, int8_t *output);
/* ... and for such a layer with no undilated axis of stride 1 and one of stride 2 (see kernels/conv.c). */
void tinyasc_depthwise_window_s2_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                    const int8_t *input, int8_t *output);
/* The same for a k_h x 1 layer of more than three taps, not in place (see kernels/conv.c). */
void tinyasc_depthwise_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 const int8_t *input, int8_t *output);

/* 1x1, stride-1, ungrouped CONV_2D whose output overwrites its input in the arena. The outputs of a chunk of
 * pixels are staged, then stored; pixels run forward when out_c <= in_c and backward otherwise, so no unread
 * input is overwritten. `stage`: stage_bytes of memory free during the call (the generator passes the largest
 * region of the arena no live tensor holds at this layer, when it beats the kernel's own), staging
 * stage_bytes / out_c pixels at a time; NULL (or fewer than out_c bytes): one pixel at a time on the stack here, the
 * optimized kernels' own 2 KB. At most TINYASC_INPLACE_MAX_C channels. Same arithmetic as tinyasc_conv2d_s8. */
#define TINYASC_INPLACE_MAX_C 512
void tinyasc_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                   int8_t *stage, int32_t stage_bytes);
/* The same, the name the generator gives layers whose inputs are a multiple of 16 (the optimized library's
 * Helium in-place kernel takes only those). */
void tinyasc_conv2d_1x1_inplace_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                       int8_t *stage, int32_t stage_bytes);
/* The same with the filter rows in word-interleaved pairs (tinyasc_conv2d_pairs_s8's layout; in_c a multiple of 4). */
void tinyasc_conv2d_1x1_inplace_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                         int8_t *stage, int32_t stage_bytes);

/* Column (k_h x 1) per-channel convolution, stride 1, same output shape, computed in place:
 * DEPTHWISE_CONV_2D with depth multiplier 1, or CONV_2D with one input channel per group
 * (groups == channels), as onnx2tf emits for sub-spectral frequency convolutions. Output row y
 * is staged in `scratch`, the input rows still needed later (pad_h of them) are kept in a ring
 * in `scratch` too: scratch holds (pad_h + 1) * in_w * in_c bytes. Filter value for channel c,
 * tap ky is w->data[c * f_c_stride + ky * f_ky_stride]. */
void tinyasc_conv_col_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 int32_t f_c_stride, int32_t f_ky_stride, int8_t *data, int8_t *scratch);

/* Sub-band affine: TRANSPOSE/RESHAPE -> per-channel 1x1 conv -> TRANSPOSE/RESHAPE fused into one
 * element-wise pass (the sub-spectral norm's affine as onnx2tf writes it; planner.find_band_affines).
 * out[h][w][c] = requantized w_k * (in[h][w][c] + input_offset) + bias_k with the conv's channel
 * k = c * bands + h / (h_total / bands); the conv's own params (offsets, activation range) and
 * weights. Same arithmetic as the unfused convolution; out may be in. */
typedef struct {
    int32_t h, w, c;  /* the input's (and output's) NHWC shape, batch 1 */
    int32_t bands;    /* sub-bands along h (h % bands == 0) */
} tinyasc_band_params;

void tinyasc_band_affine_s8(const tinyasc_band_params *p, const tinyasc_conv_params *cp,
                            const tinyasc_weights *w, const int8_t *input, int8_t *output);

/* ---------------------------------------------------------------- fully connected */

typedef struct {
    int32_t batches, accum_depth, out_depth;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel;          /* 1: multiplier/shift arrays have out_depth entries */
} tinyasc_fc_params;

void tinyasc_fully_connected_s8(const tinyasc_fc_params *p, const tinyasc_weights *w,
                                const int8_t *input, int8_t *output);

/* The same layer with its weights in row blocks (generator.fc_row_blocks): out_depth rounded up to block_rows
 * with zero rows; block j (block_rows x K bytes) is K / block_k steps of block_rows x block_k bytes, step s holding
 * k = s block_k .. s block_k + block_k - 1 of each row in turn, then the last K % block_k weights of each row in
 * turn. The optimized library reads a step with one or two loads (tinyasc_opt_fc.c). block_rows is 1..8. */
typedef struct {
    tinyasc_fc_params fc;
    int32_t block_rows, block_k;
} tinyasc_fc_blocks_params;

void tinyasc_fully_connected_blocks_s8(const tinyasc_fc_blocks_params *p, const tinyasc_weights *w,
                                       const int8_t *input, int8_t *output);

/* ---------------------------------------------------------------- elementwise binary */

typedef struct {
    int32_t size;                         /* output elements */
    int32_t broadcast;                    /* 0: all three flat and equal in size */
    int32_t out_dims[TINYASC_MAX_DIMS];   /* padded to 6-D, leading 1s */
    int32_t in1_strides[TINYASC_MAX_DIMS];/* 0 on broadcast axes */
    int32_t in2_strides[TINYASC_MAX_DIMS];
    int32_t in1_offset, in2_offset, out_offset; /* -zp1, -zp2, +zp_out */
    int32_t left_shift;                   /* ADD/SUB: 20 */
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
} tinyasc_binary_params;

/* One ADD output element before clamping: both inputs shifted left by `left_shift` (20 for
 * int8, 15 for int16), rescaled to a common scale, summed, rescaled to the output. */
static inline int32_t tinyasc_add_raw(const tinyasc_binary_params *p, int32_t a, int32_t b) {
    const int32_t s1 = tinyasc_mbqm_lt1(tinyasc_shl(a + p->in1_offset, p->left_shift), p->in1_mult, p->in1_shift);
    const int32_t s2 = tinyasc_mbqm_lt1(tinyasc_shl(b + p->in2_offset, p->left_shift), p->in2_mult, p->in2_shift);
    return tinyasc_mbqm_lt1(s1 + s2, p->out_mult, p->out_shift) + p->out_offset;
}

/* One MUL output element before clamping (TFLM reference_integer_ops::MulElementwise). */
static inline int32_t tinyasc_mul_raw(const tinyasc_binary_params *p, int32_t a, int32_t b) {
    return tinyasc_mbqm((a + p->in1_offset) * (b + p->in2_offset), p->out_mult, p->out_shift) + p->out_offset;
}

/* One int8 MUL output element, clamped. */
static inline int8_t tinyasc_mul_elem(const tinyasc_binary_params *p, int32_t a, int32_t b) {
    return (int8_t)tinyasc_clamp(tinyasc_mul_raw(p, a, b), p->act_min, p->act_max);
}

void tinyasc_add_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_sub_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_mul_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_squared_difference_s8(const tinyasc_binary_params *p, const int8_t *in1,
                                   const int8_t *in2, int8_t *out);
/* The portable twins of the optimized library's _fast entries (c/opt/tinyasc_opt_binary.c): the same kernels. */
void tinyasc_add_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_sub_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_mul_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tinyasc_squared_difference_fast_s8(const tinyasc_binary_params *p, const int8_t *in1, const int8_t *in2,
                                        int8_t *out);

/* The sub-band affine fused into the int8 ADD that reads it (planner.find_band_adds): out = ADD(band(x), y), the
 * affine's output the ADD's input band_in (1 or 2, ap's in1 or in2), y one [W][C] row broadcast down the H rows
 * (ap's strides say so). Nothing of the affine's output is stored apart from out; out may be x, never y. */
void tinyasc_band_add_s8(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_weights *w,
                         const tinyasc_binary_params *ap, int32_t band_in, const int8_t *x, const int8_t *y,
                         int8_t *out);

/* ---------------------------------------------------------------- elementwise unary */

typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier, input_shift;
} tinyasc_logistic_params;

typedef struct {
    int32_t size;
    int32_t input_offset, output_offset;  /* zero points (not negated) */
    int32_t multiplier, shift;
} tinyasc_rsqrt_params;

typedef struct {
    int32_t outer, depth;                 /* rows, elements per row (last axis) */
    int32_t input_multiplier, input_left_shift, diff_min;
} tinyasc_softmax_params;

void tinyasc_softmax_s8(const tinyasc_softmax_params *p, const int8_t *in, int8_t *out);
void tinyasc_logistic_s8(const tinyasc_logistic_params *p, const int8_t *in, int8_t *out);
void tinyasc_rsqrt_s8(const tinyasc_rsqrt_params *p, const int8_t *in, int8_t *out);

/* An int8 element-wise chain whose output depends on one input byte (SiLU as MUL(x, LOGISTIC(x)): the generator
 * computes its 256 outputs as the unfused kernels would): out[i] = table[(uint8_t)in[i]]; in may be out. */
typedef struct {
    int32_t size;
    const int8_t *table;                  /* [256], indexed by the input's byte */
} tinyasc_lut_params;

void tinyasc_lut_s8(const tinyasc_lut_params *p, const int8_t *in, int8_t *out);

/* ---------------------------------------------------------------- pooling */

typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t f_h, f_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
} tinyasc_pool_params;

void tinyasc_max_pool_s8(const tinyasc_pool_params *p, const int8_t *in, int8_t *out);
void tinyasc_avg_pool_s8(const tinyasc_pool_params *p, const int8_t *in, int8_t *out);
/* An int8 ADD of two operands of one shape fused into the MAX_POOL_2D that reads it (planner.find_add_pools): each
 * pooled output the largest of its window's ADD outputs, the unfused layers' integers; the sums are not stored. out may
 * share an operand's first byte where no window reads below its own output pixel. */
void tinyasc_add_max_pool_s8(const tinyasc_binary_params *ap, const tinyasc_pool_params *pp, const int8_t *in1,
                             const int8_t *in2, int8_t *out);

/* ---------------------------------------------------------------- reductions */

typedef struct {
    int32_t kept_dims[TINYASC_MAX_DIMS], kept_strides[TINYASC_MAX_DIMS];
    int32_t red_dims[TINYASC_MAX_DIMS], red_strides[TINYASC_MAX_DIMS];
    int32_t num_elements;                 /* reduced elements per output */
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;            /* already folded with 1/num_elements */
} tinyasc_mean_params;

void tinyasc_mean_s8(const tinyasc_mean_params *p, const int8_t *in, int8_t *out);
/* A time-tiled model's pooling: tinyasc_mean_acc_s8 adds each output's int32 sum over one tile's
 * columns into acc[]; tinyasc_mean_finish_s8 then requantizes the clip's sums exactly as
 * tinyasc_mean_s8 does (p: the whole-clip parameters, whose num_elements counts every column). */
void tinyasc_mean_acc_s8(const tinyasc_mean_params *p, const int8_t *in, int32_t *acc);
void tinyasc_mean_finish_s8(const tinyasc_mean_params *p, const int32_t *acc, int8_t *out);

/* MUL feeding only a MEAN, fused: the int8 products are summed as they are made, so the
 * product tensor (e.g. ResNorm's (x - mean)^2) never exists. Bit-identical to MUL then MEAN. */
typedef struct {
    tinyasc_mean_params mean;             /* over the (virtual) MUL output */
    int32_t a_kept_strides[TINYASC_MAX_DIMS], a_red_strides[TINYASC_MAX_DIMS];
    int32_t b_kept_strides[TINYASC_MAX_DIMS], b_red_strides[TINYASC_MAX_DIMS];
} tinyasc_mean_mul_params;

void tinyasc_mean_of_mul_s8(const tinyasc_mean_mul_params *p, const tinyasc_binary_params *mul,
                            const int8_t *a, const int8_t *b, int8_t *out);

/* ---------------------------------------------------------------- data movement */

typedef struct {
    int32_t in_dims[TINYASC_MAX_DIMS];
    int32_t out_dims[TINYASC_MAX_DIMS];
    int32_t before[TINYASC_MAX_DIMS];
    int32_t out_size;
    int8_t pad_value;
} tinyasc_pad_params;

typedef struct {
    int32_t out_dims[TINYASC_MAX_DIMS];
    int32_t in_strides[TINYASC_MAX_DIMS]; /* input stride of the axis that becomes out axis k */
} tinyasc_transpose_params;

void tinyasc_pad_s8(const tinyasc_pad_params *p, const int8_t *in, int8_t *out);

/* PAD of a window (a time tile): output element o reads input element o - before (per axis,
 * before may be negative) through in_strides where it lies inside in_dims, else pad_value. */
typedef struct {
    int32_t out_dims[TINYASC_MAX_DIMS];
    int32_t in_dims[TINYASC_MAX_DIMS];
    int32_t in_strides[TINYASC_MAX_DIMS];
    int32_t before[TINYASC_MAX_DIMS];
    int8_t pad_value;
} tinyasc_pad_view_params;

void tinyasc_pad_view_s8(const tinyasc_pad_view_params *p, const int8_t *in, int8_t *out);

/* A streamed model's sliding buffer: drop the first `drop` columns of `column_bytes` bytes and
 * move the `keep` columns after them to the front. */
void tinyasc_shift_columns(int8_t *buf, int32_t drop, int32_t keep, int32_t column_bytes);
void tinyasc_transpose_s8(const tinyasc_transpose_params *p, const int8_t *in, int8_t *out);
/* Copy `outer` rows of `inner` bytes from `in` into `out` with row pitch `out_pitch`. */
void tinyasc_concat_part_s8(int32_t outer, int32_t inner, int32_t out_pitch,
                            const int8_t *in, int8_t *out);

/* ---------------------------------------------------------------- 16x8: int16 activations, int8 weights
 *
 * TFLite's 16x8 quantization: activations int16 with zero point 0, weights int8, convolution
 * biases int64 with a 64-bit accumulator. The parameter structs above are shared; offsets and
 * zero points are 0 by construction (the generator refuses anything else). */

/* TFLite MultiplyByQuantizedMultiplier(int64 x, ...): the multiplier is first reduced to
 * 16 bits (rounded), then one rounding shift (the same in single- and double-rounding builds). */
static inline int32_t tinyasc_mbqm64(int64_t x, int32_t multiplier, int32_t shift) {
    const int64_t reduced = multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int total_shift = 15 - shift;
    return (int32_t)((x * reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift);
}

/* A 16x8 convolution's constant operands: like tinyasc_weights with int64 biases. */
typedef struct {
    const int8_t *data;        /* CONV: [out_c][k_h][k_w][in_c/groups]; DW: [k_h][k_w][out_c] */
    const int64_t *bias;       /* [out_c] or NULL */
    const int32_t *multiplier; /* [out_c] */
    const int32_t *shift;      /* [out_c] (> 0 = left) */
} tinyasc_weights_16x8;

void tinyasc_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w,
                         const int16_t *input, int16_t *output);
void tinyasc_depthwise_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w,
                                   const int16_t *input, int16_t *output);

/* ADD (left_shift 15) and MUL on int16, same broadcasting as the int8 kernels; out may alias a
 * full-shape input. */
void tinyasc_add_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);
void tinyasc_mul_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out);

/* LOGISTIC int16 -> int16 (output scale 2^-15): input rescaled to 1/(3*4096) units, then
 * linear interpolation in a 256-entry table of sigmoid(i/24) in 0.16 fixed point (the
 * generator computes the table). */
typedef struct {
    int32_t size;
    int32_t input_multiplier, input_left_shift;
    const uint16_t *table;                /* [256] */
} tinyasc_logistic_s16_params;

void tinyasc_logistic_s16(const tinyasc_logistic_s16_params *p, const int16_t *in, int16_t *out);

void tinyasc_max_pool_s16(const tinyasc_pool_params *p, const int16_t *in, int16_t *out);
void tinyasc_mean_s16(const tinyasc_mean_params *p, const int16_t *in, int16_t *out);

typedef struct {
    int32_t in_dims[TINYASC_MAX_DIMS];
    int32_t out_dims[TINYASC_MAX_DIMS];
    int32_t before[TINYASC_MAX_DIMS];
    int32_t out_size;                     /* elements */
    int16_t pad_value;
} tinyasc_pad_s16_params;

void tinyasc_pad_s16(const tinyasc_pad_s16_params *p, const int16_t *in, int16_t *out);
void tinyasc_transpose_s16(const tinyasc_transpose_params *p, const int16_t *in, int16_t *out);

#ifdef __cplusplus
}
#endif

#endif /* TINYASC_KERNELS_H */
