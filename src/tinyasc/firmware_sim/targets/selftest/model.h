/* Self-test "model": one int8 3x3 convolution (12x12x16 -> 12x12x16, pad 1) with the same
 * interface as a generated model.h; used to pin instruction counts and check the harness. */
#ifndef TINYASC_SELFTEST_MODEL_H
#define TINYASC_SELFTEST_MODEL_H
#include <stdint.h>
#define TINYASC_SELFTEST_H 12
#define TINYASC_SELFTEST_W 12
#define TINYASC_SELFTEST_C 16
#define TINYASC_INPUT_SIZE (TINYASC_SELFTEST_H * TINYASC_SELFTEST_W * TINYASC_SELFTEST_C)
#define TINYASC_OUTPUT_SIZE TINYASC_INPUT_SIZE
#define TINYASC_ARENA_SIZE 0
#define TINYASC_NUM_LAYERS 1
#ifdef TINYASC_PROFILE
void tinyasc_layer_marker(int layer, int is_end);
#define TINYASC_LAYER_BEGIN(i, name) tinyasc_layer_marker((i), 0)
#define TINYASC_LAYER_END(i) tinyasc_layer_marker((i), 1)
#else
#define TINYASC_LAYER_BEGIN(i, name) ((void)0)
#define TINYASC_LAYER_END(i) ((void)0)
#endif
typedef int8_t tinyasc_input_t;
typedef int8_t tinyasc_output_t;
int tinyasc_model_invoke(const tinyasc_input_t *input, tinyasc_output_t *output);
#endif
