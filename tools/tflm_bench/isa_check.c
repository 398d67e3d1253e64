/*
 * Compile-time proof that CMSIS-NN is built with the core's optimized path: its own headers
 * define ARM_MATH_DSP (SMLAD etc., Cortex-M4/M7) or ARM_MATH_MVEI (Helium, Cortex-M55) from the
 * compiler's __ARM_FEATURE_* macros. tools/bench_vs_tflm.py defines TFLM_BENCH_EXPECT_DSP or
 * TFLM_BENCH_EXPECT_MVEI for the target; a missing feature fails the build.
 */
#include "arm_nn_math_types.h"

#if defined(TFLM_BENCH_EXPECT_DSP) && !defined(ARM_MATH_DSP)
#error "CMSIS-NN would build without its DSP path (ARM_MATH_DSP undefined)"
#endif
#if defined(TFLM_BENCH_EXPECT_MVEI) && !defined(ARM_MATH_MVEI)
#error "CMSIS-NN would build without its Helium path (ARM_MATH_MVEI undefined)"
#endif

int tflm_bench_isa_checked;
