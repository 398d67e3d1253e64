/*
 * CONV_2D with the filter rows in word-interleaved pairs (tinyasc_opt_conv2d_pairs_s8; the layout of
 * tinyasc_conv2d_pairs_s8 in tinyasc_kernels.h), which the generator writes for the DSP cores' layers on the fast
 * output path (generator.conv_pairs_ok): their pixel pairs read both rows' words of a pair with one LDRD
 * (conv2x2p_dsp, tinyasc_opt_dsp.c). A layer they refuse, and any layer on other cores, takes the portable pairs
 * kernel: the same bytes (tests/test_latency_kernels.py). Shipped only with a model that has such a layer (or a 1x1
 * layer in place with row pairs: tinyasc_opt_inplace_pairs.c).
 */
#include "tinyasc_opt.h"

void tinyasc_opt_conv2d_pairs_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                                 int8_t *output)
{
    if (tinyasc_simd_conv2d_pairs_s8(p, w, input, output) == 0) return;
    tinyasc_conv2d_pairs_s8(p, w, input, output);
}
