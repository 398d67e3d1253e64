/*
 * Helium's pairs kernels three blocks a step (Cortex-M55): tinyasc_pairs3_s8 runs the form of pw_pairs_rows_mve or
 * pw_pairs_win_mve (tinyasc_opt_mve.c) whose loop takes three 16-byte blocks (384 multiply-accumulates) per branch,
 * the pair's first three peeled (its first block by VMLADAV); window rows of three blocks (3 x 16 channels) with the
 * rows' jump in a register. The im2col and in-place kernels call it through a weak reference first; the generator
 * ships this file only in an M55 library with a layer whose blocks come in threes (generator.pairs3_ships): elsewhere
 * the one-block kernels run. On the other cores (and the host) it takes nothing. The same integers as the portable
 * kernel (tests/test_latency_kernels.py).
 */
#include "tinyasc_opt_pairs_asm.h"

/* The generated model's strong reference to this file (kernel_sources.Kernel.weak): a static library links it. */
const uint8_t tinyasc_pairs3_s8_linked = 1;

#if defined(__ARM_FEATURE_MVE)
static __attribute__((naked, noinline)) void pairs3_rows_mve(pw_prow *q __attribute__((unused)))
{
    __asm__ volatile(PW_PAIRS_ROWS(PW_OUTS_FAST, PW_STORE_FAST, PW_ROWS_INPLACE3("vmladav"),
                                   PW_ROWS_INPLACE3("vmladava")));
}

static __attribute__((naked, noinline)) void pairs3_win_mve(pw_pwin *q __attribute__((unused)))
{
    __asm__ volatile(PW_PAIRS_WIN(PW_OUTS_FAST, PW_BLOCK3("vmladav"), PW_BLOCK3("vmladava")));
}

static __attribute__((naked, noinline)) void pairs3_win1_mve(pw_pwin *q __attribute__((unused)))
{
    __asm__ volatile(PW_PAIRS_WIN1(PW_OUTS_FAST, PW_BLOCK3("vmladav"), PW_BLOCK3("vmladava")));
}
#endif

int tinyasc_pairs3_s8(int32_t form, void *q)
{
#if defined(__ARM_FEATURE_MVE)
    if (form == TINYASC_PAIRS3_ROWS) {
        pw_prow *const r = q;
        if (r->pp.nb % 3 != 0) return -1;
        r->pp.nb /= 3;
        pairs3_rows_mve(r);
        return 0;
    }
    pw_pwin *const v = q;
    if (v->pp.nb == 3) { /* a window row of three blocks: nb unused */
        pairs3_win1_mve(v);
        return 0;
    }
    if (v->pp.nb % 3 != 0) return -1;
    v->pp.nb /= 3;
    pairs3_win_mve(v);
    return 0;
#else
    (void)form;
    (void)q;
    return -1;
#endif
}
