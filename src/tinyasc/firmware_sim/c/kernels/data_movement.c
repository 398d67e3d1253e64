/* PAD, TRANSPOSE and CONCATENATION for int8 (pure data movement, no requantization). */
#include "tinyasc_kernels.h"

void tinyasc_pad_s8(const tinyasc_pad_params *p, const int8_t *in, int8_t *out) {
    const int32_t *id = p->in_dims, *od = p->out_dims, *bf = p->before;
    int32_t ostr[TINYASC_MAX_DIMS];
    int32_t i0, i1, i2, i3, i4, k;
    ostr[TINYASC_MAX_DIMS - 1] = 1;
    for (k = TINYASC_MAX_DIMS - 2; k >= 0; --k) ostr[k] = ostr[k + 1] * od[k + 1];
    memset(out, p->pad_value, (size_t)p->out_size);
    if (od[5] == id[5] && bf[5] == 0) {
        /* the last axis is not padded: each row of the last two axes is one contiguous run in
         * both tensors (e.g. a 1-channel spectrogram: a whole time row per copy, not a byte) */
        const size_t run = (size_t)id[4] * (size_t)id[5];
        for (i0 = 0; i0 < id[0]; ++i0)
        for (i1 = 0; i1 < id[1]; ++i1)
        for (i2 = 0; i2 < id[2]; ++i2)
        for (i3 = 0; i3 < id[3]; ++i3) {
            const int32_t o = (i0 + bf[0]) * ostr[0] + (i1 + bf[1]) * ostr[1] + (i2 + bf[2]) * ostr[2]
                            + (i3 + bf[3]) * ostr[3] + bf[4] * ostr[4];
            memcpy(out + o, in, run);
            in += run;
        }
        return;
    }
    for (i0 = 0; i0 < id[0]; ++i0)
    for (i1 = 0; i1 < id[1]; ++i1)
    for (i2 = 0; i2 < id[2]; ++i2)
    for (i3 = 0; i3 < id[3]; ++i3)
    for (i4 = 0; i4 < id[4]; ++i4) {
        const int32_t o = (i0 + bf[0]) * ostr[0] + (i1 + bf[1]) * ostr[1] + (i2 + bf[2]) * ostr[2]
                        + (i3 + bf[3]) * ostr[3] + (i4 + bf[4]) * ostr[4] + bf[5];
        memcpy(out + o, in, (size_t)id[5]);
        in += id[5];
    }
}

void tinyasc_pad_view_s8(const tinyasc_pad_view_params *p_in, const int8_t *in, int8_t *out) {
    /* a local copy: int8 stores may alias anything, so fields read through p_in would be reloaded */
    const tinyasc_pad_view_params pl = *p_in;
    const int32_t *od = pl.out_dims, *id = pl.in_dims, *st = pl.in_strides, *bf = pl.before;
    const int8_t pad = pl.pad_value;
    /* the innermost axis that is not a bare 1 (a 1-channel spectrogram's channel axis) runs as one
     * segment loop: output positions [lo, hi) read the input at stride s, the others are padding */
    const int inner = (od[5] == 1 && id[5] == 1 && bf[5] == 0) ? 4 : 5;
    const int32_t n = od[inner], s = st[inner], b = bf[inner];
    const int32_t lo = b < 0 ? 0 : (b > n ? n : b);
    const int32_t hi = b + id[inner] < lo ? lo : (b + id[inner] > n ? n : b + id[inner]);
    int32_t o[TINYASC_MAX_DIMS] = {0, 0, 0, 0, 0, 0};
    for (o[0] = 0; o[0] < od[0]; ++o[0])
    for (o[1] = 0; o[1] < od[1]; ++o[1])
    for (o[2] = 0; o[2] < od[2]; ++o[2])
    for (o[3] = 0; o[3] < od[3]; ++o[3])
    for (o[4] = 0; o[4] < (inner == 5 ? od[4] : 1); ++o[4]) {
        int32_t base = 0, inside = 1, k, j;
        for (k = 0; k < inner; ++k) {
            const int32_t i = o[k] - bf[k];
            if (i < 0 || i >= id[k]) inside = 0;
            base += i * st[k];
        }
        if (!inside) {
            memset(out, pad, (size_t)n);
            out += n;
            continue;
        }
        for (j = 0; j < lo; ++j) *out++ = pad;
        {
            const int8_t *src = in + base + (lo - b) * s;
            for (; j < hi; ++j, src += s) *out++ = *src;
        }
        for (; j < n; ++j) *out++ = pad;
    }
}

void tinyasc_shift_columns(int8_t *buf, int32_t drop, int32_t keep, int32_t column_bytes) {
    if (drop > 0 && keep > 0) memmove(buf, buf + (size_t)drop * (size_t)column_bytes, (size_t)keep * (size_t)column_bytes);
}

void tinyasc_transpose_s8(const tinyasc_transpose_params *p, const int8_t *in, int8_t *out) {
    /* dims and strides in locals: int8 stores may alias anything, so values read through p
     * would be reloaded on every element */
    const int32_t d0 = p->out_dims[0], d1 = p->out_dims[1], d2 = p->out_dims[2], d3 = p->out_dims[3],
                  d4 = p->out_dims[4], d5 = p->out_dims[5];
    const int32_t s0 = p->in_strides[0], s1 = p->in_strides[1], s2 = p->in_strides[2], s3 = p->in_strides[3],
                  s4 = p->in_strides[4], s5 = p->in_strides[5];
    int32_t i0, i1, i2, i3, i4, i5;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the innermost two output axes transpose contiguous input (s4 == 1: channels-first to channels-last):
     * four consecutive input bytes of each i5, read as one word, are the i5 column of four output rows */
    const int blocks = s4 == 1 && d5 > 1 && d4 >= 4;
#else
    const int blocks = 0;
#endif
    for (i0 = 0; i0 < d0; ++i0)
    for (i1 = 0; i1 < d1; ++i1)
    for (i2 = 0; i2 < d2; ++i2)
    for (i3 = 0; i3 < d3; ++i3) {
        const int8_t *row = in + i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3;
        i4 = 0;
        if (blocks) {
            for (; i4 + 4 <= d4; i4 += 4, out += 4 * d5) {
                const int8_t *src = row + i4;
                for (i5 = 0; i5 < d5; ++i5, src += s5) {
                    uint32_t v;
                    memcpy(&v, src, 4);
                    out[i5] = (int8_t)v;
                    out[d5 + i5] = (int8_t)(v >> 8);
                    out[2 * d5 + i5] = (int8_t)(v >> 16);
                    out[3 * d5 + i5] = (int8_t)(v >> 24);
                }
            }
        }
        for (; i4 < d4; ++i4) {
            const int8_t *src = row + i4 * s4;
            for (i5 = 0; i5 < d5; ++i5, src += s5) *out++ = *src;
        }
    }
}

void tinyasc_concat_part_s8(int32_t outer, int32_t inner, int32_t out_pitch,
                            const int8_t *in, int8_t *out) {
    int32_t i;
    for (i = 0; i < outer; ++i) {
        memcpy(out + i * out_pitch, in + i * inner, (size_t)inner);
    }
}
