/* FULLY_CONNECTED int8: acc = bias + sum (w + filter_offset) * (x + input_offset), weights [out][in]. */
#include "tinyasc_kernels.h"

void tinyasc_fully_connected_s8(const tinyasc_fc_params *p, const tinyasc_weights *w,
                                const int8_t *input, int8_t *output) {
    int32_t b, o, i;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->accum_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *row = w->data + o * p->accum_depth;
            const int32_t k = p->per_channel ? o : 0;
            int32_t acc = 0;
            for (i = 0; i < p->accum_depth; ++i) {
                acc += ((int32_t)row[i] + p->filter_offset) * ((int32_t)x[i] + p->input_offset);
            }
            if (w->bias) acc += w->bias[o];
            acc = tinyasc_mbqm(acc, w->multiplier[k], w->shift[k]) + p->output_offset;
            output[b * p->out_depth + o] = (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
        }
    }
}
