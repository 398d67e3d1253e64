/* The sub-band affine fused into the int8 ADD that reads it, portable (tinyasc_band_add_s8, tinyasc_kernels.h): its own
 * file, so that the convolutions' and the element-wise kernels' files each link without the other. */
#include "tinyasc_kernels.h"

/* The affine into out, then the ADD over out (its input band_in) and y: the unfused layers' integers. out may be x (the
 * affine is element-wise); y is never out (a smaller tensor live at the same step), so the ADD reads it intact. */
void tinyasc_band_add_s8(const tinyasc_band_params *bp, const tinyasc_conv_params *cp, const tinyasc_weights *w,
                         const tinyasc_binary_params *ap, int32_t band_in, const int8_t *x, const int8_t *y,
                         int8_t *out) {
    tinyasc_band_affine_s8(bp, cp, w, x, out);
    if (band_in == 1) tinyasc_add_s8(ap, out, y, out);
    else tinyasc_add_s8(ap, y, out, out);
}
