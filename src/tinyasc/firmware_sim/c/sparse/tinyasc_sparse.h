/*
 * Sparse int8 convolution weights: per output channel, the non-zero weights of its
 * flattened [k_h][k_w][in_c] filter in order, located by one gap byte each.
 *
 *   row_nnz[oc]  number of non-zeros of output channel oc
 *   gaps[]       for each non-zero, the number of zeros skipped before it (0..254);
 *                255 is an escape: skip 255 zeros, no weight (repeat as needed)
 *   values[]     the non-zero weights, all rows concatenated
 *
 * Flash = 2 * out_c + n_gaps + nnz bytes (about 2 bytes per non-zero) and a 24-byte descriptor, against
 * out_c * k_h * k_w * in_c dense. tinyasc.firmware_sim.sparse encodes it.
 */
#ifndef TINYASC_SPARSE_H
#define TINYASC_SPARSE_H
#include <stdint.h>
#include "tinyasc_kernels.h"

#ifndef TINYASC_SPARSE_MAX_K
#define TINYASC_SPARSE_MAX_K 1280 /* largest k_h*k_w*in_c the kernel takes (scratch: 6 B each) */
#endif
/* Largest window span ((k_h - 1) dil_h in_w + (k_w - 1) dil_w + 1) * in_c: every offset inside a window
 * fits 16 bits, beside its weight in one word. The generator stores wider layers dense. */
#define TINYASC_SPARSE_MAX_SPAN 65536

/* The zero-skipping CONV_2D (tinyasc_sparse.c): 0, or -1 for a shape it does not take. */
int tinyasc_sparse_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                             int8_t *output);

/* A 1x1 CONV_2D in place with sparse weights (tinyasc_sparse_inplace.c): the pixels in chunks through the
 * sparse kernel, as tinyasc_opt_conv2d_1x1_inplace_s8 does through the optimized convolution. The generator
 * calls the sparse kernels directly, so a model whose convolutions are all sparse links no dense one. */
void tinyasc_sparse_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                          int8_t *stage, int32_t stage_bytes);

typedef struct {
    const uint16_t *row_nnz;
    const uint8_t *gaps;
    const int8_t *values;
    int32_t k;       /* k_h * k_w * in_c, for checking */
    int32_t n_gaps;
    /* 1: a pointwise layer for Helium's planes (the generator's pointwise_on_planes: 1 x 1, stride 1, no padding, the
     * whole int8 range), which the kernel still checks; 0: the kernel does not look (the other cores ignore it) */
    int32_t planes;
    /* the kernel that reads this encoding (tinyasc_sparse_conv2d_s8): the optimized convolution calls it
     * through here, so the sparse kernel is linked only into models that have sparse weights */
    int (*kernel)(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input, int8_t *output);
} tinyasc_sparse_weights;

#endif
