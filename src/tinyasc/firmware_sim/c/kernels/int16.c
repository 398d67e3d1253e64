/* 16x8 kernels (int16 activations with zero point 0, int8 weights, int64 biases), with the
 * integer semantics of TFLM's reference kernels for int16:
 *   CONV_2D / DEPTHWISE_CONV_2D: acc64 = bias[oc] + sum filter * input (no input offset),
 *     out = clamp(MBQM64(acc64, m[oc], s[oc])) - no output offset;
 *   ADD: the int8 general path with left_shift 15; MUL: the int8 path on int16 values;
 *   LOGISTIC: rescale to 1/(3*4096) units, interpolate |x| in a sigmoid(i/24) table, mirror;
 *   MAX_POOL_2D, MEAN, PAD, TRANSPOSE: the int8 algorithms on int16 elements.
 * Every loop reads an element before the matching output is written, so element-wise outputs
 * may alias a full-shape input (the planner's in-place rule). */
#include "tinyasc_kernels.h"

static inline int16_t sat16(int32_t v, int32_t lo, int32_t hi) {
    return (int16_t)tinyasc_clamp(v, lo, hi);
}

void tinyasc_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w,
                         const int16_t *input, int16_t *output) {
    const int32_t fin = p->filter_in_c;
    const int32_t groups = p->in_c / fin;
    const int32_t oc_per_group = p->out_c / groups;
    int32_t b, oy, ox, oc, ky, kx, ic;
    for (b = 0; b < p->batches; ++b)
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            for (oc = 0; oc < p->out_c; ++oc) {
                const int32_t g = oc / oc_per_group;
                const int8_t *filt = w->data + (int32_t)oc * p->k_h * p->k_w * fin;
                int64_t acc = 0;
                for (ky = 0; ky < p->k_h; ++ky) {
                    const int32_t iy = y0 + p->dil_h * ky;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (kx = 0; kx < p->k_w; ++kx) {
                        const int32_t ix = x0 + p->dil_w * kx;
                        const int16_t *in_px;
                        const int8_t *f_px;
                        if (ix < 0 || ix >= p->in_w) continue;
                        in_px = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c + g * fin;
                        f_px = filt + (ky * p->k_w + kx) * fin;
                        for (ic = 0; ic < fin; ++ic) acc += (int32_t)f_px[ic] * (int32_t)in_px[ic];
                    }
                }
                if (w->bias) acc += w->bias[oc];
                output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                    sat16(tinyasc_mbqm64(acc, w->multiplier[oc], w->shift[oc]), p->act_min, p->act_max);
            }
        }
    }
}

void tinyasc_depthwise_conv2d_16x8(const tinyasc_conv_params *p, const tinyasc_weights_16x8 *w,
                                   const int16_t *input, int16_t *output) {
    const int32_t dm = p->depth_multiplier;
    int32_t b, oy, ox, ic, m, ky, kx;
    for (b = 0; b < p->batches; ++b)
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            for (ic = 0; ic < p->in_c; ++ic)
            for (m = 0; m < dm; ++m) {
                const int32_t oc = ic * dm + m;
                int64_t acc = 0;
                for (ky = 0; ky < p->k_h; ++ky) {
                    const int32_t iy = y0 + p->dil_h * ky;
                    if (iy < 0 || iy >= p->in_h) continue;
                    for (kx = 0; kx < p->k_w; ++kx) {
                        const int32_t ix = x0 + p->dil_w * kx;
                        if (ix < 0 || ix >= p->in_w) continue;
                        acc += (int32_t)w->data[(ky * p->k_w + kx) * p->out_c + oc]
                               * (int32_t)input[((b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
                    }
                }
                if (w->bias) acc += w->bias[oc];
                output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                    sat16(tinyasc_mbqm64(acc, w->multiplier[oc], w->shift[oc]), p->act_min, p->act_max);
            }
        }
    }
}

typedef int32_t (*binary_fn)(const tinyasc_binary_params *p, int32_t a, int32_t b);

static void run_binary(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2,
                       int16_t *out, binary_fn fn) {
    if (!p->broadcast) {
        int32_t i;
        for (i = 0; i < p->size; ++i) out[i] = sat16(fn(p, in1[i], in2[i]), p->act_min, p->act_max);
    } else {
        const int32_t *d = p->out_dims, *s1 = p->in1_strides, *s2 = p->in2_strides;
        int32_t i0, i1, i2, i3, i4, i5, o = 0;
        for (i0 = 0; i0 < d[0]; ++i0)
        for (i1 = 0; i1 < d[1]; ++i1)
        for (i2 = 0; i2 < d[2]; ++i2)
        for (i3 = 0; i3 < d[3]; ++i3)
        for (i4 = 0; i4 < d[4]; ++i4) {
            const int32_t b1 = i0 * s1[0] + i1 * s1[1] + i2 * s1[2] + i3 * s1[3] + i4 * s1[4];
            const int32_t b2 = i0 * s2[0] + i1 * s2[1] + i2 * s2[2] + i3 * s2[3] + i4 * s2[4];
            for (i5 = 0; i5 < d[5]; ++i5, ++o) {
                out[o] = sat16(fn(p, in1[b1 + i5 * s1[5]], in2[b2 + i5 * s2[5]]), p->act_min, p->act_max);
            }
        }
    }
}

void tinyasc_add_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    run_binary(p, in1, in2, out, tinyasc_add_raw);
}

void tinyasc_mul_s16(const tinyasc_binary_params *p, const int16_t *in1, const int16_t *in2, int16_t *out) {
    run_binary(p, in1, in2, out, tinyasc_mul_raw);
}

void tinyasc_logistic_s16(const tinyasc_logistic_s16_params *p, const int16_t *in, int16_t *out) {
    int32_t mult = p->input_multiplier, left = p->input_left_shift, round, i;
    if (mult == 0) { /* power-of-two input scale: the table's 3/4 factor only */
        mult = 3 << left;
        left = 0;
    }
    round = left > 0 ? 1 << (left - 1) : 0;
    for (i = 0; i < p->size; ++i) {
        const int32_t x = ((int32_t)in[i] * mult + round) >> left;
        const uint32_t ax = (uint32_t)(x < 0 ? -x : x);
        const uint32_t idx = ax >> 9;
        uint32_t r;
        if (idx >= 255) {
            r = (uint32_t)0x7FFF << 10;
        } else {
            const uint32_t a = p->table[idx], b = p->table[idx + 1];
            r = (a << 9) + (ax & 0x1FF) * (b - a);
        }
        r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        out[i] = (int16_t)(r >> 10);
    }
}

void tinyasc_max_pool_s16(const tinyasc_pool_params *p, const int16_t *in, int16_t *out) {
    int32_t b, oy, ox, c, fy, fx;
    for (b = 0; b < p->batches; ++b)
    for (oy = 0; oy < p->out_h; ++oy)
    for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
        const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fy1 = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
        const int32_t fx1 = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
        for (c = 0; c < p->channels; ++c) {
            int32_t acc = -32768;
            for (fy = fy0; fy < fy1; ++fy)
            for (fx = fx0; fx < fx1; ++fx) {
                const int32_t v = in[((b * p->in_h + y0 + fy) * p->in_w + x0 + fx) * p->channels + c];
                if (v > acc) acc = v;
            }
            out[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] = sat16(acc, p->act_min, p->act_max);
        }
    }
}

void tinyasc_mean_s16(const tinyasc_mean_params *p, const int16_t *in, int16_t *out) {
    const int32_t *kd = p->kept_dims, *ks = p->kept_strides, *rd = p->red_dims, *rs = p->red_strides;
    int32_t k0, k1, k2, k3, k4, k5, r0, r1, r2, r3, r4, r5, o = 0;
    for (k0 = 0; k0 < kd[0]; ++k0)
    for (k1 = 0; k1 < kd[1]; ++k1)
    for (k2 = 0; k2 < kd[2]; ++k2)
    for (k3 = 0; k3 < kd[3]; ++k3)
    for (k4 = 0; k4 < kd[4]; ++k4)
    for (k5 = 0; k5 < kd[5]; ++k5, ++o) {
        const int16_t *base = in + k0 * ks[0] + k1 * ks[1] + k2 * ks[2] + k3 * ks[3] + k4 * ks[4] + k5 * ks[5];
        int32_t sum = 0;
        for (r0 = 0; r0 < rd[0]; ++r0)
        for (r1 = 0; r1 < rd[1]; ++r1)
        for (r2 = 0; r2 < rd[2]; ++r2)
        for (r3 = 0; r3 < rd[3]; ++r3)
        for (r4 = 0; r4 < rd[4]; ++r4) {
            const int16_t *row = base + r0 * rs[0] + r1 * rs[1] + r2 * rs[2] + r3 * rs[3] + r4 * rs[4];
            for (r5 = 0; r5 < rd[5]; ++r5) sum += row[r5 * rs[5]];
        }
        out[o] = sat16(tinyasc_mbqm(sum - p->input_zero_point * p->num_elements, p->multiplier, p->shift)
                       + p->output_zero_point, -32768, 32767);
    }
}

void tinyasc_pad_s16(const tinyasc_pad_s16_params *p, const int16_t *in, int16_t *out) {
    const int32_t *id = p->in_dims, *od = p->out_dims, *bf = p->before;
    int32_t ostr[TINYASC_MAX_DIMS];
    int32_t i0, i1, i2, i3, i4, k;
    ostr[TINYASC_MAX_DIMS - 1] = 1;
    for (k = TINYASC_MAX_DIMS - 2; k >= 0; --k) ostr[k] = ostr[k + 1] * od[k + 1];
    for (k = 0; k < p->out_size; ++k) out[k] = p->pad_value;
    for (i0 = 0; i0 < id[0]; ++i0)
    for (i1 = 0; i1 < id[1]; ++i1)
    for (i2 = 0; i2 < id[2]; ++i2)
    for (i3 = 0; i3 < id[3]; ++i3)
    for (i4 = 0; i4 < id[4]; ++i4) {
        const int32_t o = (i0 + bf[0]) * ostr[0] + (i1 + bf[1]) * ostr[1] + (i2 + bf[2]) * ostr[2]
                        + (i3 + bf[3]) * ostr[3] + (i4 + bf[4]) * ostr[4] + bf[5];
        memcpy(out + o, in, (size_t)id[5] * sizeof(int16_t));
        in += id[5];
    }
}

void tinyasc_transpose_s16(const tinyasc_transpose_params *p, const int16_t *in, int16_t *out) {
    const int32_t *d = p->out_dims, *s = p->in_strides;
    int32_t i0, i1, i2, i3, i4, i5;
    for (i0 = 0; i0 < d[0]; ++i0)
    for (i1 = 0; i1 < d[1]; ++i1)
    for (i2 = 0; i2 < d[2]; ++i2)
    for (i3 = 0; i3 < d[3]; ++i3)
    for (i4 = 0; i4 < d[4]; ++i4) {
        const int16_t *src = in + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
        for (i5 = 0; i5 < d[5]; ++i5) *out++ = src[i5 * s[5]];
    }
}
