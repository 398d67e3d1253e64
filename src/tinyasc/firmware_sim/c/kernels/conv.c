/* CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel (TFLM reference_integer_ops semantics):
 * acc = bias[oc] + sum filter * (input + input_offset) over the window, padding reads as
 * "skip" (equivalent to input == zero point); out = clamp(MBQM(acc, m[oc], s[oc]) + out_zp). */
#include "tinyasc_kernels.h"


/* Byte offset of weight k of output channel oc: rows of K as they are, or rows padded to whole words in
 * word-interleaved pairs (tinyasc_kernels.h). */
static inline int32_t filter_at(int32_t oc, int32_t k, int32_t K, int32_t out_c, int pairs) {
    const int32_t K4 = (K + 3) & ~3;
    if (!pairs) return oc * K + k;
    if (oc >= (out_c & ~1)) return oc * K4 + k;
    return (oc & ~1) * K4 + 2 * (k & ~3) + 4 * (oc & 1) + (k & 3);
}

static inline void conv_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                           const int8_t *input, int8_t *output, int pairs) {
    const int32_t fin = p->filter_in_c;
    const int32_t groups = p->in_c / fin;
    const int32_t oc_per_group = p->out_c / groups;
    const int32_t K = p->k_h * p->k_w * fin;
    int32_t b, oy, ox, oc, ky, kx, ic;
    for (b = 0; b < p->batches; ++b) {
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                for (oc = 0; oc < p->out_c; ++oc) {
                    const int32_t g = oc / oc_per_group;
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = y0 + p->dil_h * ky;
                        if (iy < 0 || iy >= p->in_h) continue;
                        for (kx = 0; kx < p->k_w; ++kx) {
                            const int32_t ix = x0 + p->dil_w * kx;
                            const int8_t *in_px;
                            const int32_t k0 = (ky * p->k_w + kx) * fin;
                            if (ix < 0 || ix >= p->in_w) continue;
                            in_px = input + ((b * p->in_h + iy) * p->in_w + ix) * p->in_c + g * fin;
                            for (ic = 0; ic < fin; ++ic) {
                                acc += (int32_t)w->data[filter_at(oc, k0 + ic, K, p->out_c, pairs)] *
                                       ((int32_t)in_px[ic] + p->input_offset);
                            }
                        }
                    }
                    if (w->bias) acc += w->bias[oc];
                    acc = tinyasc_mbqm(acc, w->multiplier[oc], w->shift[oc]) + p->output_offset;
                    output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                        (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void tinyasc_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                       const int8_t *input, int8_t *output) {
    conv_s8(p, w, input, output, 0);
}

void tinyasc_conv2d_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                             const int8_t *input, int8_t *output) {
    conv_s8(p, w, input, output, 1);
}

void tinyasc_conv2d_1x1_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                           const int8_t *input, int8_t *output) {
    tinyasc_conv2d_s8(p, w, input, output);
}

void tinyasc_conv2d_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                           const int8_t *input, int8_t *output) {
    tinyasc_conv2d_s8(p, w, input, output);
}

void tinyasc_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 const int8_t *input, int8_t *output) {
    const int32_t dm = p->depth_multiplier;
    int32_t b, oy, ox, ic, m, ky, kx;
    for (b = 0; b < p->batches; ++b) {
        for (oy = 0; oy < p->out_h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (ox = 0; ox < p->out_w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                for (ic = 0; ic < p->in_c; ++ic) {
                    for (m = 0; m < dm; ++m) {
                        const int32_t oc = ic * dm + m;
                        int32_t acc = 0;
                        for (ky = 0; ky < p->k_h; ++ky) {
                            const int32_t iy = y0 + p->dil_h * ky;
                            if (iy < 0 || iy >= p->in_h) continue;
                            for (kx = 0; kx < p->k_w; ++kx) {
                                const int32_t ix = x0 + p->dil_w * kx;
                                int32_t iv, fv;
                                if (ix < 0 || ix >= p->in_w) continue;
                                iv = input[((b * p->in_h + iy) * p->in_w + ix) * p->in_c + ic];
                                fv = w->data[(ky * p->k_w + kx) * p->out_c + oc];
                                acc += fv * (iv + p->input_offset);
                            }
                        }
                        if (w->bias) acc += w->bias[oc];
                        acc = tinyasc_mbqm(acc, w->multiplier[oc], w->shift[oc]) + p->output_offset;
                        output[((b * p->out_h + oy) * p->out_w + ox) * p->out_c + oc] =
                            (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}


static inline void conv_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                       int8_t *stage, int32_t stage_bytes, int pairs) {
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t forward = p->out_c <= p->in_c;
    int8_t own[TINYASC_INPLACE_MAX_C];
    int32_t chunk = stage != NULL ? stage_bytes / p->out_c : 0;
    int32_t done, k, oc, ic;
    if (chunk < 1) {
        stage = own;
        chunk = 1;
    }
    for (done = 0; done < pixels;) {
        const int32_t n = pixels - done < chunk ? pixels - done : chunk;
        const int32_t start = forward ? done : pixels - done - n;
        for (k = 0; k < n; ++k) {
            const int8_t *in_px = data + (start + k) * p->in_c;
            for (oc = 0; oc < p->out_c; ++oc) {
                int32_t acc = 0;
                for (ic = 0; ic < p->in_c; ++ic)
                    acc += (int32_t)w->data[filter_at(oc, ic, p->in_c, p->out_c, pairs)] *
                           ((int32_t)in_px[ic] + p->input_offset);
                if (w->bias) acc += w->bias[oc];
                acc = tinyasc_mbqm(acc, w->multiplier[oc], w->shift[oc]) + p->output_offset;
                stage[k * p->out_c + oc] = (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
            }
        }
        memcpy(data + start * p->out_c, stage, (size_t)(n * p->out_c));
        done += n;
    }
}

void tinyasc_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                   int8_t *stage, int32_t stage_bytes) {
    conv_1x1_inplace_s8(p, w, data, stage, stage_bytes, 0);
}

void tinyasc_conv2d_1x1_inplace_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                         int8_t *stage, int32_t stage_bytes) {
    conv_1x1_inplace_s8(p, w, data, stage, stage_bytes, 1);
}

void tinyasc_conv2d_1x1_inplace_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                       int8_t *stage, int32_t stage_bytes) {
    tinyasc_conv2d_1x1_inplace_s8(p, w, data, stage, stage_bytes);
}

void tinyasc_conv_col_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 int32_t f_c_stride, int32_t f_ky_stride, int8_t *data, int8_t *scratch) {
    const int32_t C = p->in_c;
    const int32_t row = p->in_w * C;
    const int32_t hist = p->pad_h;
    int8_t *const stage = scratch + hist * row;
    int32_t b, y, x, c, ky;
    for (b = 0; b < p->batches; ++b) {
        int8_t *img = data + b * p->in_h * row;
        for (y = 0; y < p->out_h; ++y) {
            for (x = 0; x < p->in_w; ++x) {
                for (c = 0; c < C; ++c) {
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t r = y - p->pad_h + p->dil_h * ky;
                        int32_t v;
                        if (r < 0 || r >= p->in_h) continue;
                        v = r < y ? scratch[(r % hist) * row + x * C + c] : img[r * row + x * C + c];
                        acc += (int32_t)w->data[c * f_c_stride + ky * f_ky_stride] * (v + p->input_offset);
                    }
                    if (w->bias) acc += w->bias[c];
                    acc = tinyasc_mbqm(acc, w->multiplier[c], w->shift[c]) + p->output_offset;
                    stage[x * C + c] = (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
                }
            }
            if (hist > 0) memcpy(scratch + (y % hist) * row, img + y * row, (size_t)row);
            memcpy(img + y * row, stage, (size_t)row);
        }
    }
}

void tinyasc_band_affine_s8(const tinyasc_band_params *p, const tinyasc_conv_params *cp,
                            const tinyasc_weights *w, const int8_t *input, int8_t *output) {
    const int32_t H = p->h, W = p->w, C = p->c, G = p->bands, rows = p->h / p->bands;
    int32_t c, g, y, x;
    for (c = 0; c < C; ++c)
    for (g = 0; g < G; ++g) {
        const int32_t k = c * G + g;
        const int32_t wk = w->data[k], bias = w->bias ? w->bias[k] : 0;
        const int32_t m = w->multiplier[k], s = w->shift[k];
        for (y = g * rows; y < (g + 1) * rows && y < H; ++y)
        for (x = 0; x < W; ++x) {
            const int32_t i = (y * W + x) * C + c;
            const int32_t acc = bias + wk * ((int32_t)input[i] + cp->input_offset);
            output[i] = (int8_t)tinyasc_clamp(tinyasc_mbqm(acc, m, s) + cp->output_offset, cp->act_min, cp->act_max);
        }
    }
}

/* A depthwise layer whose windows span both axes (k_h, k_w > 1): the generator calls this name for them, so that a
 * Cortex-M library links the optimized two-dimensional kernels (c/opt/tinyasc_opt_dw_window.c) only where a layer
 * needs them; the portable library computes it as any depthwise layer. */
void tinyasc_depthwise_window_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 const int8_t *input, int8_t *output) {
    tinyasc_depthwise_conv2d_s8(p, w, input, output);
}

/* The same for such a layer without an undilated axis of stride 1 and with one of stride 2 (MobileNet's strided
 * depthwise layers): the optimized library's kernels for them come only with this name. */
void tinyasc_depthwise_window_s2_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                    const int8_t *input, int8_t *output) {
    tinyasc_depthwise_conv2d_s8(p, w, input, output);
}

/* A k_h x 1 depthwise layer of more than three taps, not in place: its own name, so that the DSP cores' runs of whole
 * columns are linked only where a layer needs them; here any depthwise layer's kernel. */
void tinyasc_depthwise_column_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                 const int8_t *input, int8_t *output) {
    tinyasc_depthwise_conv2d_s8(p, w, input, output);
}

/* A depthwise layer of depth multiplier above one: its own name so that the optimized library's depthwise entry,
 * for multiplier 1, needs no loop behind its SIMD kernels; here any depthwise layer's kernel. */
void tinyasc_depthwise_conv2d_multiplier_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                            const int8_t *input, int8_t *output) {
    tinyasc_depthwise_conv2d_s8(p, w, input, output);
}
