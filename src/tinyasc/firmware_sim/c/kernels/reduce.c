/* MEAN int8 (TFLM reference QuantizedMeanOrSum): int32 sum over the reduced axes, minus
 * zp_in * n, times a multiplier that already folds 1/n (computed by the generator exactly as
 * TFLM does at run time), plus zp_out, clamped. One output at a time: no scratch buffer. */
#include "tinyasc_kernels.h"

/* The reduced axes as runs: axes of one element dropped, and an axis merged into the one outside it when the two
 * walk one evenly spaced run (outer stride = inner stride x inner count: a (32, 4) block of stride (40, 10) is one
 * run of 128 at stride 10). Returns the number of runs (0: one element), outermost first. */
static int32_t mean_runs(const tinyasc_mean_params *p, int32_t *dims, int32_t *strides) {
    int32_t n = 0, k;
    for (k = 0; k < TINYASC_MAX_DIMS; ++k) {
        if (p->red_dims[k] == 1) continue;
        if (n > 0 && strides[n - 1] == p->red_strides[k] * p->red_dims[k]) {
            dims[n - 1] *= p->red_dims[k];
            strides[n - 1] = p->red_strides[k];
        } else {
            dims[n] = p->red_dims[k];
            strides[n] = p->red_strides[k];
            ++n;
        }
    }
    return n;
}

/* Sum of the reduced elements at one kept position (base: its first element) when they are one run. */
static inline int32_t mean_sum_run(const int8_t *base, int32_t n, int32_t stride) {
    int32_t sum = 0;
    const int8_t *const end = base + n * stride;
    for (; base != end; base += stride) sum += *base;
    return sum;
}

/* Sum of the reduced elements at one kept position (base: its first element), any layout. */
static inline int32_t mean_sum(const tinyasc_mean_params *p, const int8_t *base) {
    const int32_t *rd = p->red_dims, *rs = p->red_strides;
    int32_t r0, r1, r2, r3, r4, r5, sum = 0;
    for (r0 = 0; r0 < rd[0]; ++r0)
    for (r1 = 0; r1 < rd[1]; ++r1)
    for (r2 = 0; r2 < rd[2]; ++r2)
    for (r3 = 0; r3 < rd[3]; ++r3)
    for (r4 = 0; r4 < rd[4]; ++r4) {
        const int8_t *row = base + r0 * rs[0] + r1 * rs[1] + r2 * rs[2] + r3 * rs[3] + r4 * rs[4];
        for (r5 = 0; r5 < rd[5]; ++r5) sum += row[r5 * rs[5]];
    }
    return sum;
}

/* Calls BODY(o, base) for every kept position o (in output order) and its first input element. */
#define TINYASC_FOR_KEPT(p, in, BODY)                                                              \
    do {                                                                                           \
        const int32_t *kd_ = (p)->kept_dims, *ks_ = (p)->kept_strides;                             \
        int32_t k0, k1, k2, k3, k4, k5, o = 0;                                                     \
        for (k0 = 0; k0 < kd_[0]; ++k0)                                                            \
        for (k1 = 0; k1 < kd_[1]; ++k1)                                                            \
        for (k2 = 0; k2 < kd_[2]; ++k2)                                                            \
        for (k3 = 0; k3 < kd_[3]; ++k3)                                                            \
        for (k4 = 0; k4 < kd_[4]; ++k4)                                                            \
        for (k5 = 0; k5 < kd_[5]; ++k5, ++o) {                                                     \
            const int8_t *base = (in) + k0 * ks_[0] + k1 * ks_[1] + k2 * ks_[2] + k3 * ks_[3]      \
                                 + k4 * ks_[4] + k5 * ks_[5];                                      \
            BODY;                                                                                  \
        }                                                                                          \
    } while (0)

static inline int8_t mean_requantize(const tinyasc_mean_params *p, int32_t sum) {
    const int32_t v = tinyasc_mbqm(sum - p->input_zero_point * p->num_elements, p->multiplier, p->shift)
                      + p->output_zero_point;
    return (int8_t)tinyasc_clamp(v, -128, 127);
}

/* Sum at one kept position: one loop where the reduced elements are one run (a global average pool over rows x
 * columns: runs = 1, its count d and stride s), else the six nested ones. The same integer sum in any order. */
static inline int32_t mean_sum_at(const tinyasc_mean_params *p, const int8_t *base, int32_t runs, int32_t d,
                                  int32_t s) {
    return runs == 1 ? mean_sum_run(base, d, s) : mean_sum(p, base);
}

void tinyasc_mean_s8(const tinyasc_mean_params *p, const int8_t *in, int8_t *out) {
    int32_t d[TINYASC_MAX_DIMS], s[TINYASC_MAX_DIMS];
    const int32_t runs = mean_runs(p, d, s);
    TINYASC_FOR_KEPT(p, in, out[o] = mean_requantize(p, mean_sum_at(p, base, runs, d[0], s[0])));
}

void tinyasc_mean_acc_s8(const tinyasc_mean_params *p, const int8_t *in, int32_t *acc) {
    int32_t d[TINYASC_MAX_DIMS], s[TINYASC_MAX_DIMS];
    const int32_t runs = mean_runs(p, d, s);
    TINYASC_FOR_KEPT(p, in, acc[o] += mean_sum_at(p, base, runs, d[0], s[0]));
}

void tinyasc_mean_finish_s8(const tinyasc_mean_params *p, const int32_t *acc, int8_t *out) {
    const int32_t *kd = p->kept_dims;
    const int32_t n = kd[0] * kd[1] * kd[2] * kd[3] * kd[4] * kd[5];
    int32_t o;
    for (o = 0; o < n; ++o) out[o] = mean_requantize(p, acc[o]);
}

void tinyasc_mean_of_mul_s8(const tinyasc_mean_mul_params *p, const tinyasc_binary_params *mul,
                            const int8_t *a, const int8_t *b, int8_t *out) {
    const tinyasc_mean_params *m = &p->mean;
    const int32_t *kd = m->kept_dims, *rd = m->red_dims;
    const int32_t *ka = p->a_kept_strides, *ra = p->a_red_strides;
    const int32_t *kb = p->b_kept_strides, *rb = p->b_red_strides;
    int32_t k[TINYASC_MAX_DIMS], r[TINYASC_MAX_DIMS];
    int32_t o = 0;
    for (k[0] = 0; k[0] < kd[0]; ++k[0])
    for (k[1] = 0; k[1] < kd[1]; ++k[1])
    for (k[2] = 0; k[2] < kd[2]; ++k[2])
    for (k[3] = 0; k[3] < kd[3]; ++k[3])
    for (k[4] = 0; k[4] < kd[4]; ++k[4])
    for (k[5] = 0; k[5] < kd[5]; ++k[5], ++o) {
        int32_t base_a = 0, base_b = 0, sum = 0, d;
        for (d = 0; d < TINYASC_MAX_DIMS; ++d) { base_a += k[d] * ka[d]; base_b += k[d] * kb[d]; }
        for (r[0] = 0; r[0] < rd[0]; ++r[0])
        for (r[1] = 0; r[1] < rd[1]; ++r[1])
        for (r[2] = 0; r[2] < rd[2]; ++r[2])
        for (r[3] = 0; r[3] < rd[3]; ++r[3])
        for (r[4] = 0; r[4] < rd[4]; ++r[4]) {
            const int8_t *pa = a + base_a + r[0] * ra[0] + r[1] * ra[1] + r[2] * ra[2] + r[3] * ra[3] + r[4] * ra[4];
            const int8_t *pb = b + base_b + r[0] * rb[0] + r[1] * rb[1] + r[2] * rb[2] + r[3] * rb[3] + r[4] * rb[4];
            for (r[5] = 0; r[5] < rd[5]; ++r[5]) sum += tinyasc_mul_elem(mul, pa[r[5] * ra[5]], pb[r[5] * rb[5]]);
        }
        out[o] = mean_requantize(m, sum);
    }
}
