/* FULLY_CONNECTED int8: acc = bias + sum (w + filter_offset) * (x + input_offset), weights [out][in]
 * (tinyasc_fully_connected_s8) or in row blocks (tinyasc_fully_connected_blocks_s8, the layout in
 * tinyasc_kernels.h). */
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

/* Weight i of row r of a block: in step i / block_k at byte i % block_k of the row's block_k, or in the last
 * K % block_k (i past the whole steps) at byte i - K_whole of the row's. */
void tinyasc_fully_connected_blocks_s8(const tinyasc_fc_blocks_params *bp, const tinyasc_weights *w,
                                       const int8_t *input, int8_t *output) {
    const tinyasc_fc_params *p = &bp->fc;
    const int32_t R = bp->block_rows, B = bp->block_k, K = p->accum_depth;
    const int32_t whole = K - K % B, tail = K % B;
    int32_t b, o, i;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * K;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *block = w->data + (o / R) * R * K;
            const int32_t r = o % R, k = p->per_channel ? o : 0;
            int32_t acc = 0;
            for (i = 0; i < K; ++i) {
                const int32_t at = i < whole ? ((i / B) * R + r) * B + i % B : R * whole + r * tail + (i - whole);
                acc += ((int32_t)block[at] + p->filter_offset) * ((int32_t)x[i] + p->input_offset);
            }
            if (w->bias) acc += w->bias[o];
            acc = tinyasc_mbqm(acc, w->multiplier[k], w->shift[k]) + p->output_offset;
            output[b * p->out_depth + o] = (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
        }
    }
}
