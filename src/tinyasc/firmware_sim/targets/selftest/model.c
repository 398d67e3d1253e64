/* Self-test model: weights from a fixed LCG, one conv layer through the portable loop
 * (tinyasc_ref_conv2d_s8) or, with -DTINYASC_SELFTEST_OPTIMIZED, the optimized tinyasc_opt_conv2d_s8. */
#include "model.h"
#include "tinyasc_opt.h"

#define K (3 * 3 * TINYASC_SELFTEST_C)
static int8_t weights[TINYASC_SELFTEST_C * K];
static int32_t bias[TINYASC_SELFTEST_C], mult[TINYASC_SELFTEST_C], shift[TINYASC_SELFTEST_C];

static void init_weights(void)
{
    uint32_t s = 12345u;
    for (int i = 0; i < TINYASC_SELFTEST_C * K; i++) {
        s = s * 1664525u + 1013904223u;
        weights[i] = (int8_t)(s >> 24);
    }
    for (int c = 0; c < TINYASC_SELFTEST_C; c++) {
        bias[c] = (int32_t)(c * 97) - 700;
        mult[c] = 1200000000 + c * 1000003;
        shift[c] = -9 - (c & 3);
    }
}

int tinyasc_model_invoke(const int8_t *input, int8_t *output)
{
    static int ready;
    if (!ready) {
        init_weights();
        ready = 1;
    }
    const tinyasc_conv_params p = {
        .batches = 1, .in_h = TINYASC_SELFTEST_H, .in_w = TINYASC_SELFTEST_W, .in_c = TINYASC_SELFTEST_C,
        .out_h = TINYASC_SELFTEST_H, .out_w = TINYASC_SELFTEST_W, .out_c = TINYASC_SELFTEST_C,
        .k_h = 3, .k_w = 3, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1,
        .pad_h = 1, .pad_w = 1, .filter_in_c = TINYASC_SELFTEST_C, .depth_multiplier = 1,
        .input_offset = 3, .output_offset = -5, .act_min = -128, .act_max = 127,
    };
    const tinyasc_weights w = {.data = weights, .bias = bias, .multiplier = mult, .shift = shift, .sparse = 0};
    TINYASC_LAYER_BEGIN(0, "conv3x3");
#ifdef TINYASC_SELFTEST_OPTIMIZED
    tinyasc_opt_conv2d_s8(&p, &w, input, output);
#else
    tinyasc_ref_conv2d_s8(&p, &w, input, output);
#endif
    TINYASC_LAYER_END(0);
    return 0;
}
