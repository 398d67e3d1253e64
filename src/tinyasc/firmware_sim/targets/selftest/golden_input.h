/* Fixed golden input for the self-test model. */
#include <stdint.h>
#include "model.h"
#define TINYASC_GOLDEN_COUNT 1
#define X(i) (int8_t)((((i) * 37 + 11) % 256) - 128)
static const int8_t tinyasc_golden_input[1][TINYASC_INPUT_SIZE] = {{
#include "golden_values.inc"
}};
