/*
 * Zero-skipping CONV_2D over tinyasc_sparse_weights. For each output channel the row is
 * decoded once into window offsets (dy * in_w + dx) * in_c + ic, then every output pixel
 * sums only the non-zeros: acc = bias + sum v * x + input_offset * sum v for windows fully
 * inside the input, and the reference's skip-the-padding sum at the borders. Integer sums
 * are only reordered, so the result is bit-exact with the dense kernels.
 */
#include "tinyasc_opt.h"
#include "tinyasc_sparse.h"

static int32_t off_tab[TINYASC_SPARSE_MAX_K];
static uint8_t ky_tab[TINYASC_SPARSE_MAX_K], kx_tab[TINYASC_SPARSE_MAX_K];
static int8_t val_tab[TINYASC_SPARSE_MAX_K];

int tinyasc_sparse_conv2d_s8(const tinyasc_conv_params *p, const tinyasc_weights *w, const int8_t *input,
                             int8_t *output)
{
    /* local copies: int8 stores may alias anything, so fields read through p/w would be reloaded */
    const tinyasc_conv_params pl = *p;
    const tinyasc_weights wl = *w;
    p = &pl;
    w = &wl;
    const tinyasc_sparse_weights *s = (const tinyasc_sparse_weights *)w->sparse;
    const int32_t C = p->in_c, K = p->k_h * p->k_w * C;
    if (p->filter_in_c != C || K != s->k || K > TINYASC_SPARSE_MAX_K || p->k_h > 255 || p->k_w > 255) return -1;
    const uint8_t *gp = s->gaps;
    const int8_t *vp = s->values;
    /* interior output range: windows entirely inside the input */
    const int32_t span_h = (p->k_h - 1) * p->dil_h, span_w = (p->k_w - 1) * p->dil_w;
    for (int32_t oc = 0; oc < p->out_c; oc++) {
        const int32_t nnz = s->row_nnz[oc];
        int32_t pos = 0, vsum = 0;
        for (int32_t j = 0; j < nnz; j++) {
            while (*gp == 255u) {
                pos += 255;
                gp++;
            }
            pos += *gp++;
            const int32_t ic = pos % C, t = pos / C, kx = t % p->k_w, ky = t / p->k_w;
            off_tab[j] = (ky * p->dil_h * p->in_w + kx * p->dil_w) * C + ic;
            ky_tab[j] = (uint8_t)ky;
            kx_tab[j] = (uint8_t)kx;
            val_tab[j] = *vp;
            vsum += *vp++;
            pos++;
        }
        const int32_t bias = w->bias ? w->bias[oc] : 0;
        const int32_t acc_in = bias + vsum * p->input_offset;
        for (int32_t b = 0; b < p->batches; b++) {
            const int8_t *in = input + b * p->in_h * p->in_w * C;
            int8_t *out = output + b * p->out_h * p->out_w * p->out_c + oc;
            for (int32_t oy = 0; oy < p->out_h; oy++) {
                const int32_t y0 = oy * p->stride_h - p->pad_h;
                const int row_in = y0 >= 0 && y0 + span_h < p->in_h;
                for (int32_t ox = 0; ox < p->out_w; ox++) {
                    const int32_t x0 = ox * p->stride_w - p->pad_w;
                    int32_t acc;
                    if (row_in && x0 >= 0 && x0 + span_w < p->in_w) {
                        const int8_t *base = in + (y0 * p->in_w + x0) * C;
                        acc = acc_in;
                        int32_t j = 0;
                        for (; j + 1 < nnz; j += 2)
                            acc += (int32_t)val_tab[j] * base[off_tab[j]] + (int32_t)val_tab[j + 1] * base[off_tab[j + 1]];
                        if (j < nnz) acc += (int32_t)val_tab[j] * base[off_tab[j]];
                    } else {
                        acc = bias;
                        for (int32_t j = 0; j < nnz; j++) {
                            const int32_t y = y0 + ky_tab[j] * p->dil_h, x = x0 + kx_tab[j] * p->dil_w;
                            if (y < 0 || y >= p->in_h || x < 0 || x >= p->in_w) continue;
                            /* (y0 * in_w + x0) * C + off_tab[j] is the address of (y, x, ic) */
                            acc += (int32_t)val_tab[j] * ((int32_t)in[(y0 * p->in_w + x0) * C + off_tab[j]] + p->input_offset);
                        }
                    }
                    out[(oy * p->out_w + ox) * p->out_c] = tinyasc_opt_out(p, w, acc, oc);
                }
            }
        }
    }
    return 0;
}
