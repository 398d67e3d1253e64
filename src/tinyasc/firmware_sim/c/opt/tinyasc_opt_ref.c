/* Dispatch to the sparse / DSP / Helium kernels, and the portable fallback loops. */
#include "tinyasc_opt.h"

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
 */
#ifndef TINYASC_CHAN_MAX_C
#define TINYASC_CHAN_MAX_C 512
#endif
#ifndef TINYASC_CHAN_MAX_T
#define TINYASC_CHAN_MAX_T 64
#endif
static int32_t chan_base[TINYASC_CHAN_MAX_C];

int tinyasc_chan_conv_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output,
                         int32_t wt, int32_t wc)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const int32_t C = p->in_c, T = p->k_h * p->k_w;
    if (p->out_c != C || C > TINYASC_CHAN_MAX_C || T > TINYASC_CHAN_MAX_T) return -1;
    int32_t toff[TINYASC_CHAN_MAX_T];
    const int8_t *twp[TINYASC_CHAN_MAX_T];
    for (int32_t c = 0; c < C; c++) {
        int32_t s = 0;
        for (int32_t t = 0; t < T; t++) s += w->data[t * wt + c * wc];
        chan_base[c] = (w->bias ? w->bias[c] : 0) + s * p->input_offset;
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

#if !defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
int tinyasc_simd_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
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
    if (w->sparse != NULL && tinyasc_sparse_conv2d_s8(p, w, input, output) == 0) return;
    if (w->data == NULL) return; /* sparse-only weights the sparse kernel refused: cannot happen for generated code */
    if (p->filter_in_c == 1 && p->in_c > 1 &&
        tinyasc_chan_conv_s8(p, w, input, output, 1, p->k_h * p->k_w) == 0) return;
    if (tinyasc_simd_conv2d_s8(p, w, input, output) == 0) return;
    tinyasc_ref_conv2d_s8(p, w, input, output);
}

void tinyasc_opt_depthwise_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w,
                                     const int8_t *input, int8_t *output)
{
#if !defined(__ARM_FEATURE_MVE)
    if (p->depth_multiplier == 1 && tinyasc_chan_conv_s8(p, w, input, output, p->out_c, 1) == 0) return;
#endif
    if (tinyasc_simd_depthwise_conv2d_s8(p, w, input, output) == 0) return;
    tinyasc_ref_depthwise_conv2d_s8(p, w, input, output);
}
