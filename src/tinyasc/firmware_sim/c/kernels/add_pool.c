/* An int8 ADD fused into the MAX_POOL_2D that reads it, portable (tinyasc_add_max_pool_s8, tinyasc_kernels.h): its own
 * file, so that the element-wise and the pooling kernels' files each link without it. */
#include "tinyasc_kernels.h"

/* Per output pixel and channel the largest of the window's ADD outputs (each the unfused ADD's integer: rescaled,
 * clamped to the ADD's range), then the pooling's clamp; an empty window gives -128 (as the pooling). Every output is
 * written after its window is read, pixel by pixel in order: out may share an operand's first byte where no window
 * reads an input pixel before its own output pixel (planner.pool_writes_behind_reads). */
void tinyasc_add_max_pool_s8(const tinyasc_binary_params *ap, const tinyasc_pool_params *pp, const int8_t *in1,
                             const int8_t *in2, int8_t *out) {
    /* local copies: int8 stores may alias anything, so fields read through the pointers would be reloaded */
    const tinyasc_binary_params al = *ap;
    const tinyasc_pool_params pl = *pp;
    const int32_t C = pl.channels;
    for (int32_t b = 0; b < pl.batches; ++b)
    for (int32_t oy = 0; oy < pl.out_h; ++oy)
    for (int32_t ox = 0; ox < pl.out_w; ++ox) {
        const int32_t y0 = oy * pl.stride_h - pl.pad_h, x0 = ox * pl.stride_w - pl.pad_w;
        const int32_t fy0 = y0 < 0 ? -y0 : 0, fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fy1 = pl.f_h < pl.in_h - y0 ? pl.f_h : pl.in_h - y0;
        const int32_t fx1 = pl.f_w < pl.in_w - x0 ? pl.f_w : pl.in_w - x0;
        for (int32_t c = 0; c < C; ++c) {
            int32_t acc = -128;
            for (int32_t fy = fy0; fy < fy1; ++fy)
            for (int32_t fx = fx0; fx < fx1; ++fx) {
                const int32_t i = ((b * pl.in_h + y0 + fy) * pl.in_w + x0 + fx) * C + c;
                const int32_t v = tinyasc_clamp(tinyasc_add_raw(&al, in1[i], in2[i]), al.act_min, al.act_max);
                if (v > acc) acc = v;
            }
            out[((b * pl.out_h + oy) * pl.out_w + ox) * C + c] = (int8_t)tinyasc_clamp(acc, pl.act_min, pl.act_max);
        }
    }
}
