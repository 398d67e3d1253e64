/*
 * One channel's input staged as an int8 plane (Helium, Cortex-M55): tinyasc_plane_stage_mve, shared by the kernels
 * whose four lanes are four neighbouring outputs of one channel, the 3 x 3 depthwise planes (tinyasc_opt_dw_window.c)
 * and the three-tap line planes (tinyasc_opt_line3p.c); a library holds it with either. Nothing on the other cores.
 */
#include <string.h>
#include "tinyasc_opt.h"

#if defined(__ARM_FEATURE_MVE)
#include <arm_mve.h>

__attribute__((noinline)) void tinyasc_plane_stage_mve(const int8_t *in, int32_t du, int32_t dv, int32_t in_v,
                                                       int32_t u0, int32_t v0, int32_t rows, int32_t pitch,
                                                       int32_t lo, int32_t hi, int8_t zp, int clean, int8_t *dst)
{
    const uint16x8_t offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)du);
    for (int32_t r = 0; r < rows; r++) {
        int8_t *const d = dst + r * pitch;
        const int32_t v = v0 + r;
        if (v < 0 || v >= in_v) {
            if (!clean) memset(d, zp, (size_t)pitch);
            continue;
        }
        const int8_t *sp = in + v * dv + (u0 + lo) * du;
        int32_t j = lo;
        for (; j + 8 <= hi; j += 8, sp += 8 * du) vstrbq_s16(d + j, vldrbq_gather_offset_s16(sp, offs));
        if (j < hi) { /* the last one to seven, predicated (nothing read or written past them) */
            const mve_pred16_t pr = vctp16q((uint32_t)(hi - j));
            vstrbq_p_s16(d + j, vldrbq_gather_offset_z_s16(sp, offs, pr), pr);
        }
    }
}
#endif
