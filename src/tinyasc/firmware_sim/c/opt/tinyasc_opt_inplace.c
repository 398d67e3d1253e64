/*
 * In-place convolutions of tinyasc_kernels.h, optimized (tinyasc_opt_conv2d_1x1_inplace_s8,
 * tinyasc_opt_conv_col_inplace_s8), with the contracts of the portable ones in c/kernels/conv.c:
 *
 *  - 1x1 in place: for inputs a multiple of 16 (tinyasc_opt_conv2d_1x1_inplace_c16_s8) on Helium
 *    tinyasc_simd_conv2d_1x1_inplace_s8 where it takes the layer; else chunks of pixels
 *    go through tinyasc_opt_conv2d_1x1_s8 (DSP / Helium) or, for sparse weights
 *    (tinyasc_sparse_conv2d_1x1_inplace_s8, c/sparse/tinyasc_sparse_inplace.c), the sparse kernel,
 *    into a staging buffer and are copied back, front to back when out_c <= in_c and back
 *    to front otherwise, so no unread input is overwritten (a chunk's inputs are all read
 *    before its outputs are stored).
 *  - column (k_h x 1, stride 1, same shape) per-channel conv: the caller's scratch keeps the
 *    pad_h original rows still needed (a ring) plus one staged output row, exactly as the
 *    portable kernel; per row the valid taps are resolved once and interior rows use the
 *    per-channel constant bias + input_offset * sum(w).
 */
#include "tinyasc_opt.h"

#ifndef TINYASC_OPT_STAGE
#define TINYASC_OPT_STAGE 2048 /* >= TINYASC_INPLACE_MAX_C */
#endif
#ifndef TINYASC_COL_MAX_C
#define TINYASC_COL_MAX_C 512
#endif
#ifndef TINYASC_COL_MAX_T
#define TINYASC_COL_MAX_T 16
#endif

static int8_t stage_buf[TINYASC_OPT_STAGE] __attribute__((aligned(4)));
static int32_t col_base[TINYASC_COL_MAX_C];

void tinyasc_inplace_chunks(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                            tinyasc_chunk_conv conv, int8_t *stage, int32_t stage_bytes)
{
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t forward = p->out_c <= p->in_c;
    if (stage == NULL || stage_bytes <= TINYASC_OPT_STAGE) { /* the file's own stage, unless the caller's is larger */
        stage = stage_buf;
        stage_bytes = TINYASC_OPT_STAGE;
    }
    int32_t chunk = stage_bytes / p->out_c;
    if (chunk < 1) chunk = 1; /* out_c > stage never happens (TINYASC_INPLACE_MAX_C) */
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
    /* whole passes of eight pixels (the DSP sparse kernel's): only the last chunk leaves windows to take one by one,
     * where every chunk left some before (Helium's pairs of pixels: the chunk stays as large as the stage allows);
     * not where the stage takes every pixel at once (one chunk: a kernel's set-up per channel, e.g. the sparse rows'
     * decoding, once a layer) */
    if (chunk > 8 && chunk < pixels) chunk &= ~7;
#endif
    tinyasc_conv_params q = *p;
    q.batches = 1;
    q.in_h = q.out_h = 1;
    for (int32_t done = 0; done < pixels;) {
        const int32_t n = pixels - done < chunk ? pixels - done : chunk;
        const int32_t start = forward ? done : pixels - done - n;
        q.in_w = q.out_w = n;
        conv(&q, w, data + start * p->in_c, stage);
        memcpy(data + start * p->out_c, stage, (size_t)(n * p->out_c));
        done += n;
    }
}

void tinyasc_opt_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                       int8_t *stage, int32_t stage_bytes)
{
    /* the planner's layers: 1x1, stride 1, ungrouped */
    tinyasc_inplace_chunks(p, w, data, tinyasc_opt_conv2d_1x1_s8, stage, stage_bytes);
}

/* Inputs a multiple of 16: Helium's in-place kernel where it takes the layer (the generator names this entry for
 * such layers only, so a model with none links none of that kernel); elsewhere the chunk loop. */
void tinyasc_opt_conv2d_1x1_inplace_c16_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                           int8_t *stage, int32_t stage_bytes)
{
#if defined(__ARM_FEATURE_MVE)
    if (tinyasc_simd_conv2d_1x1_inplace_s8(p, w, data) == 0) return;
#endif
    tinyasc_inplace_chunks(p, w, data, tinyasc_opt_conv2d_1x1_s8, stage, stage_bytes);
}

void tinyasc_opt_conv_col_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int32_t f_c_stride,
                                     int32_t f_ky_stride, int8_t *data, int8_t *scratch)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    if (tinyasc_chan_column_s8(p, w, data, data, f_ky_stride, f_c_stride) == 0) return; /* no scratch needed */
    const int32_t C = p->in_c, W = p->in_w, row = W * C, hist = p->pad_h;
    int8_t *const stage = scratch + hist * row;
    const int use_base = C <= TINYASC_COL_MAX_C;
    if (use_base) {
        for (int32_t c = 0; c < C; c++) {
            int32_t s = 0;
            for (int32_t ky = 0; ky < p->k_h; ky++) s += w->data[c * f_c_stride + ky * f_ky_stride];
            col_base[c] = (w->bias ? w->bias[c] : 0) + s * p->input_offset;
        }
    }
    const int8_t *tp[TINYASC_COL_MAX_T];
    const int8_t *tw[TINYASC_COL_MAX_T];
    for (int32_t b = 0; b < p->batches; b++) {
        int8_t *img = data + b * p->in_h * row;
        for (int32_t y = 0; y < p->out_h; y++) {
            int32_t nt = 0, all = 1;
            for (int32_t ky = 0; ky < p->k_h; ky++) {
                const int32_t r = y - p->pad_h + p->dil_h * ky;
                if (r < 0 || r >= p->in_h) {
                    all = 0;
                    continue;
                }
                if (nt == TINYASC_COL_MAX_T) break;
                tp[nt] = r < y ? scratch + (r % hist) * row : img + r * row;
                tw[nt] = w->data + ky * f_ky_stride;
                nt++;
            }
            if (nt == TINYASC_COL_MAX_T && p->k_h > TINYASC_COL_MAX_T) all = 0, nt = 0; /* not reached for k_h <= 16 */
            if (all && use_base && nt == 3) {
                const int8_t *t0 = tp[0], *t1 = tp[1], *t2 = tp[2];
                const int8_t *w0 = tw[0], *w1 = tw[1], *w2 = tw[2];
                for (int32_t x = 0; x < W; x++) {
                    const int32_t o = x * C;
                    for (int32_t c = 0; c < C; c++) {
                        const int32_t fc = c * f_c_stride;
                        const int32_t acc = col_base[c] + w0[fc] * t0[o + c] + w1[fc] * t1[o + c] + w2[fc] * t2[o + c];
                        stage[o + c] = tinyasc_opt_out(p, w, acc, c);
                    }
                }
            } else if (all && use_base) {
                for (int32_t x = 0; x < W; x++)
                    for (int32_t c = 0; c < C; c++) {
                        int32_t acc = col_base[c];
                        for (int32_t j = 0; j < nt; j++) acc += tw[j][c * f_c_stride] * tp[j][x * C + c];
                        stage[x * C + c] = tinyasc_opt_out(p, w, acc, c);
                    }
            } else {
                for (int32_t x = 0; x < W; x++)
                    for (int32_t c = 0; c < C; c++) {
                        int32_t acc = w->bias ? w->bias[c] : 0;
                        for (int32_t j = 0; j < nt; j++)
                            acc += tw[j][c * f_c_stride] * (tp[j][x * C + c] + p->input_offset);
                        stage[x * C + c] = tinyasc_opt_out(p, w, acc, c);
                    }
            }
            if (hist > 0) memcpy(scratch + (y % hist) * row, img + y * row, (size_t)row);
            memcpy(img + y * row, stage, (size_t)row);
        }
    }
}
