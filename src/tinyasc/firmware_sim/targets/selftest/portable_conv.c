/* The firmware's portable CONV_2D / DEPTHWISE_CONV_2D (c/kernels/conv.c) under other names,
 * so one kernel-check binary holds both them and the optimized kernels that replace them. */
#undef TINYASC_OPT_CONV
#define tinyasc_conv2d_s8 portable_conv2d_s8
#define tinyasc_depthwise_conv2d_s8 portable_depthwise_conv2d_s8
#define tinyasc_conv2d_1x1_inplace_s8 portable_conv2d_1x1_inplace_s8
#define tinyasc_conv_col_inplace_s8 portable_conv_col_inplace_s8
#include "conv.c"
