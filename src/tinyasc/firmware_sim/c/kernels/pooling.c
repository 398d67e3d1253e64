/* MAX_POOL_2D and AVERAGE_POOL_2D int8, NHWC (TFLM reference): the window is clipped to the
 * input; average rounds half away from zero over the clipped count. */
#include "tinyasc_kernels.h"

static void pool(const tinyasc_pool_params *p_in, const int8_t *in, int8_t *out, int is_max) {
    /* a local copy: int8 stores may alias anything, so fields read through p_in would be reloaded */
    const tinyasc_pool_params pl = *p_in;
    const tinyasc_pool_params *p = &pl;
    int32_t b, oy, ox, c, fy, fx;
    for (b = 0; b < p->batches; ++b)
    for (oy = 0; oy < p->out_h; ++oy)
    for (ox = 0; ox < p->out_w; ++ox) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        const int32_t x0 = ox * p->stride_w - p->pad_w;
        const int32_t fy0 = y0 < 0 ? -y0 : 0;
        const int32_t fx0 = x0 < 0 ? -x0 : 0;
        const int32_t fy1 = p->f_h < p->in_h - y0 ? p->f_h : p->in_h - y0;
        const int32_t fx1 = p->f_w < p->in_w - x0 ? p->f_w : p->in_w - x0;
        for (c = 0; c < p->channels; ++c) {
            int32_t acc = is_max ? -128 : 0;
            int32_t count = 0;
            for (fy = fy0; fy < fy1; ++fy)
            for (fx = fx0; fx < fx1; ++fx) {
                const int32_t v = in[((b * p->in_h + y0 + fy) * p->in_w + x0 + fx) * p->channels + c];
                if (is_max) { if (v > acc) acc = v; }
                else acc += v;
                ++count;
            }
            if (!is_max && count > 0) {
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
            }
            out[((b * p->out_h + oy) * p->out_w + ox) * p->channels + c] =
                (int8_t)tinyasc_clamp(acc, p->act_min, p->act_max);
        }
    }
}

void tinyasc_max_pool_s8(const tinyasc_pool_params *p, const int8_t *in, int8_t *out) {
    pool(p, in, out, 1);
}

void tinyasc_avg_pool_s8(const tinyasc_pool_params *p, const int8_t *in, int8_t *out) {
    pool(p, in, out, 0);
}
