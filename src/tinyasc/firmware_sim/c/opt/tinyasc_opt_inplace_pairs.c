/*
 * A 1x1 CONV_2D in place with the filter rows in word-interleaved pairs (tinyasc_opt_conv2d_1x1_inplace_pairs_s8,
 * the layout of tinyasc_conv2d_pairs_s8): on the DSP cores their pixel pairs straight in place where they take the
 * layer (tinyasc_simd_conv2d_1x1_inplace_pairs_s8, tinyasc_opt_dsp.c), else chunks of pixels through the stage
 * (tinyasc_inplace_chunks, tinyasc_opt_inplace.c), each by tinyasc_opt_conv2d_pairs_s8, as
 * tinyasc_opt_conv2d_1x1_inplace_s8 runs the rows kernel. Its own file, so that a library ships the pairs kernel only
 * with a layer that calls it.
 */
#include "tinyasc_opt.h"

void tinyasc_opt_conv2d_1x1_inplace_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, int8_t *data,
                                             int8_t *stage, int32_t stage_bytes)
{
#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)
    if (tinyasc_simd_conv2d_1x1_inplace_pairs_s8(p, w, data) == 0) return;
#endif
    tinyasc_inplace_chunks(p, w, data, tinyasc_opt_conv2d_pairs_s8, stage, stage_bytes);
}
