/*
 * A 1x1 CONV_2D in place with sparse weights (tinyasc_sparse.h): the optimized in-place chunk loop
 * (c/opt/tinyasc_opt_inplace.c) with the sparse kernel for each chunk. Its own file, so that the dense in-place
 * kernel links no sparse code and the sparse one no dense convolution.
 */
#include "tinyasc_opt.h"
#include "tinyasc_sparse.h"

static void sparse_chunk(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                         int8_t *output)
{
    (void)tinyasc_sparse_conv2d_s8(p, w, input, output); /* takes every layer the generator stores sparse */
}

void tinyasc_sparse_conv2d_1x1_inplace_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                          int8_t *stage, int32_t stage_bytes)
{
    tinyasc_inplace_chunks(p, w, data, sparse_chunk, stage, stage_bytes);
}
