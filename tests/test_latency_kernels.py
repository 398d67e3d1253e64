"""Optimized (DSP / Helium) and sparse convolution kernels against the portable C kernels.

One C program (targets/selftest/kernel_check.c) runs every case through the firmware's
portable CONV_2D / DEPTHWISE_CONV_2D (c/kernels/conv.c, tinyasc_<op>) and through the optimized
twins (tinyasc_opt_<op>: c/opt, c/sparse) a Cortex-M library calls, on the host and on each
emulated core (M4 and M7 take the SMLAD path, M55 the Helium path). Tolerance: zero differing
output bytes (the optimized kernels promise bit-exactness). The cases cover both gather paths,
odd channel counts, padding, stride, dilation, batches, grouped convolutions (fallback),
depth multipliers, and 89%-pruned weights for the sparse encoding.
"""

from __future__ import annotations

import dataclasses

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tinyasc.firmware_sim import harness as L
from tinyasc.firmware_sim.generator import (HELIUM_COLUMN_MAX_TAPS, PreparedFc, conv_row_pairs, depthwise_column,
                                           depthwise_column_entry, fc_row_blocks, fold_fc_input_offset,
                                           pointwise_on_planes, window_stride2)
from tinyasc.firmware_sim.kernel_sources import C_DIR
from tinyasc.firmware_sim.target import Target
from tinyasc.firmware_sim.params import ConvParams, FcParams
from tinyasc.firmware_sim.sparse import (DESCRIPTOR_BYTES, SPARSE_MAX_K, SPARSE_MAX_SPAN, decode_rows, emit_c, encode_rows,
                                         helium_planes_pay, planes_fit, planes_groups, why_dense, window_span)

SELFTEST = L.TARGETS_DIR / "selftest"


def _pad(in_size: int, out_size: int, k: int, stride: int, dil: int) -> int:
    eff = (k - 1) * dil + 1
    return max(0, ((out_size - 1) * stride + eff - in_size) // 2)


# kind: 0 conv, 1 depthwise, 2 1x1 in place, 3 column in place (grouped layout), 4 column in place (dw layout),
# 5 FULLY_CONNECTED (batches x in_c -> batches x out_c; "pertensor": one multiplier and shift for every row)
# name: (kind, batches, in_h, in_w, in_c, out_c, k_h, k_w, stride, dil, same, groups_fin, bias)
CASES = {
    "inplace1x1_c24_c16": (2, 1, 5, 9, 24, 16, 1, 1, 1, 1, False, None, True),
    "inplace1x1_c10_c25_b2": (2, 2, 12, 8, 10, 25, 1, 1, 1, 1, False, None, True),
    # shrinking in place over three chunks of the 2048-byte stage (102 pixels of 20 channels, 96 on the DSP cores:
    # whole passes of eight), the last of 29 pixels (three passes and five windows one by one)
    "inplace1x1_c40_c20_chunks": (2, 1, 13, 17, 40, 20, 1, 1, 1, 1, False, None, True),
    "col3_inplace_c10": (3, 1, 12, 6, 10, 10, 3, 1, 1, 1, True, 1, True),
    "col3_inplace_c7_dw": (4, 2, 9, 5, 7, 7, 3, 1, 1, 1, True, None, False),
    "col5_inplace_c4_dil2": (3, 1, 14, 3, 4, 4, 5, 1, 1, 2, True, 1, True),
    "conv3x3_c16_same": (False, 1, 9, 8, 16, 16, 3, 3, 1, 1, True, None, True),
    "conv5x5_c1_s2": (False, 1, 20, 13, 1, 8, 5, 5, 2, 1, True, None, True),
    "conv1x1_c20_c10": (False, 1, 12, 7, 20, 10, 1, 1, 1, 1, False, None, True),
    "conv3x1_c6_c5_dil2": (False, 1, 11, 5, 6, 5, 3, 1, 1, 2, True, None, False),
    "conv2x3_c12_c7_s2_b2": (False, 2, 9, 10, 12, 7, 2, 3, 2, 1, False, None, True),
    "conv1x1_c40_c24": (False, 1, 4, 6, 40, 24, 1, 1, 1, 1, False, None, True),
    "grouped3x1_c10": (False, 1, 16, 5, 10, 10, 3, 1, 1, 1, True, 1, True),
    "dw3x3_c16_same": (True, 1, 8, 9, 16, 16, 3, 3, 1, 1, True, None, True),
    "dw1x3_c10_s2": (True, 1, 5, 11, 10, 10, 1, 3, 2, 1, False, None, True),
    "dw3x3_c3_dm2": (True, 1, 6, 6, 3, 6, 3, 3, 1, 1, True, None, True),
    "dw3x1_c7_odd": (True, 1, 9, 4, 7, 7, 3, 1, 1, 1, True, None, False),
    # channel-wise special loops: one tap tabulated per channel (>= 384 pixels) or computed (fewer),
    # and windows of more taps than TINYASC_CHAN_MAX_T (64) inside the input, or padded (fallback)
    "grouped1x1_c12_table": (False, 1, 24, 16, 12, 12, 1, 1, 1, 1, False, 1, True),
    "grouped1x1_c8_table_fold": (False, 1, 24, 16, 8, 8, 1, 1, 1, 1, False, 1, True),
    "grouped1x1_c8_fold": (False, 1, 12, 9, 8, 8, 1, 1, 1, 1, False, 1, True),
    # tables built incrementally (affine_table_fast): biases large against 128 x the weight, so that some
    # channels' sums keep one sign over all 256 inputs and others change sign once (each run its sign's constant)
    "grouped1x1_c8_table_fold_onesign": (False, 1, 24, 16, 8, 8, 1, 1, 1, 1, False, 1, True),
    "grouped1x1_c6_s2_b2": (False, 2, 9, 10, 6, 6, 1, 1, 2, 1, False, 1, True),
    "dw1x1_c8_table_b2": (True, 2, 24, 16, 8, 8, 1, 1, 1, 1, False, None, False),
    "grouped80x1_c5": (False, 1, 80, 4, 5, 5, 80, 1, 1, 1, False, 1, True),
    "dw70x1_c6": (True, 1, 70, 3, 6, 6, 70, 1, 1, 1, False, None, True),
    "dw70x1_c4_same": (True, 1, 70, 3, 4, 4, 70, 1, 1, 1, True, None, False),
    # column kernel (k x 1, channel by channel, window in registers): 3 taps and the general path,
    # valid and asymmetric same padding, in place, batches
    "dw5x1_c3_valid_b2": (True, 2, 11, 4, 3, 3, 5, 1, 1, 1, False, None, True),
    "grouped4x1_c6_same": (False, 1, 13, 5, 6, 6, 4, 1, 1, 1, True, 1, True),
    "col4_inplace_c5_b2": (3, 2, 10, 3, 5, 5, 4, 1, 1, 1, True, 1, False),
    "col3_inplace_dw_c9_b2": (4, 2, 7, 6, 9, 9, 3, 1, 1, 1, True, None, True),
    # "fold": every channel's shift in -12..-2 and (but for the last) the full int8 range, so whole
    # layers take the folded requantization with the zero point in the rounding constant and SSAT
    "conv5x5_c1_s2_fold": (False, 1, 20, 13, 1, 10, 5, 5, 2, 1, True, None, True),
    "conv1x1_c20_c10_fold": (False, 1, 12, 7, 20, 10, 1, 1, 1, 1, False, None, True),
    "conv3x3_c16_same_fold": (False, 1, 9, 8, 16, 16, 3, 3, 1, 1, True, None, True),
    "grouped3x1_c10_fold": (False, 1, 16, 5, 10, 10, 3, 1, 1, 1, True, 1, True),
    "col3_inplace_c6_fold_relu": (3, 1, 12, 6, 6, 6, 3, 1, 1, 1, True, 1, True),
    # the line kernel along rows (1 x k: a time-major streamed model's frequency convolutions)
    "grouped1x3_c6_same_row": (False, 1, 5, 13, 6, 6, 1, 3, 1, 1, True, 1, True),
    "dw1x5_c4_valid_row_b2": (True, 2, 4, 12, 4, 4, 1, 5, 1, 1, False, None, True),
    "grouped1x3_c10_fold_row": (False, 1, 6, 16, 10, 10, 1, 3, 1, 1, True, 1, True),
    # "rowoff": pad_h = -2, out_h = in_h - 2 (a streamed model's window holding two earlier rows)
    "grouped1x3_c6_rowoff": (False, 1, 7, 13, 6, 6, 1, 3, 1, 1, True, 1, True),
    "grouped1x1_c8_rowoff_fold": (False, 1, 9, 7, 8, 8, 1, 1, 1, 1, False, 1, True),
    "dw1x70_c3_rowoff": (True, 1, 5, 70, 3, 3, 1, 70, 1, 1, False, None, True),
    # the DSP convolution's window staging and padded last quad: K = 45 (dilated along w, taps
    # gathered one by one), 27 (last quad of 3, padding along w), 8 (2 channels), and windows
    # longer than two interleaved windows may be (TINYASC_OPT_MAX_K2 = 1152: one pixel at a time)
    "conv3x3_c5_c6_dilw2": (False, 1, 9, 11, 5, 6, 3, 3, 1, 2, True, None, True),
    "conv1x3_c9_c3_same": (False, 1, 4, 9, 9, 3, 1, 3, 1, 1, True, None, False),
    "conv2x2_c2_c4_valid": (False, 1, 5, 7, 2, 4, 2, 2, 1, 1, False, None, True),
    "conv1x1_c1200_c3": (False, 1, 2, 3, 1200, 3, 1, 1, 1, 1, False, None, True),
    "conv1x1_c1201_c4": (False, 1, 2, 3, 1201, 4, 1, 1, 1, 1, False, None, True),
    # more output channels than one block of tabulated rounding constants (TINYASC_OPT_RQ_C = 64)
    "conv3x1_c8_c71_fold": (False, 1, 5, 3, 8, 71, 3, 1, 1, 1, True, None, True),
    # one input channel, 5 or 6 wide at stride 2, fast output path: rows widened once per output
    # row, filter rows as int16 pairs (conv5x5_c1_s2_fold above: a lone last pixel); here an odd
    # channel count, batches and no bias; a 6-wide filter (no zero-weighted tap); valid padding
    "conv5x5_c1_s2_c7_b2_fold": (False, 2, 17, 16, 1, 7, 5, 5, 2, 1, True, None, False),
    "conv3x6_c1_s2_fold": (False, 1, 9, 20, 1, 4, 3, 6, 2, 1, True, None, True),
    "conv5x5_c1_s2_valid_fold": (False, 1, 14, 15, 1, 5, 5, 5, 2, 1, False, None, True),
    # Helium's four-lane output path: pointwise over every pixel four channels at a time (whole
    # 16-byte vectors + a predicated tail, output channels not a multiple of 4, batches; K = 32: no
    # tail), a gathered convolution's groups of four (+ the channels left), and a depthwise layer
    # the channel-wise kernel leaves to it (70 taps) with a partial last group
    "conv1x1_c36_c7_b2_fold": (False, 2, 5, 3, 36, 7, 1, 1, 1, 1, False, None, True),
    "conv1x1_c32_c8_fold": (False, 1, 3, 5, 32, 8, 1, 1, 1, 1, False, None, True),
    # Helium's pointwise on rows interleaved by 16-byte block: three whole blocks straight through + a tail of 2
    # (out_c 5: a group of four + one), and the blocks' loop (K = 80: five, no tail; K = 72: four + a tail, batches)
    "conv1x1_c50_c5_fold": (False, 1, 3, 4, 50, 5, 1, 1, 1, 1, False, None, True),
    "conv1x1_c80_c6_fold": (False, 1, 2, 5, 80, 6, 1, 1, 1, 1, False, None, False),
    "conv1x1_c72_c9_b2_fold": (False, 2, 3, 2, 72, 9, 1, 1, 1, 1, False, None, True),
    "conv3x3_c8_c6_s2_fold": (False, 1, 9, 7, 8, 6, 3, 3, 2, 1, True, None, True),
    "dw70x1_c6_fold": (True, 1, 70, 3, 6, 6, 70, 1, 1, 1, False, None, True),
    # the DSP depthwise (windows of more than 16 taps on 4+ channels): a 5x5 window clipped at the
    # edges (the input offset per tap) and whole inside (offset in the channel constant), four
    # channels per word plus a partial last group
    "dw5x5_c5_same": (True, 1, 7, 6, 5, 5, 5, 5, 1, 1, True, None, True),
    "dw5x5_c7_s2_same_fold": (True, 1, 9, 8, 7, 7, 5, 5, 2, 1, True, None, False),
    # Helium's one-input-channel kernel: 29 output channels (a pass of six vectors, then two, the last
    # partial), dilated taps, SAME padding staged as the zero point
    "conv3x3_c1_c29_dil2_fold": (False, 1, 12, 11, 1, 29, 3, 3, 1, 2, True, None, True),
    # Helium's three-tap line kernel (fast output path): in place in the depthwise layout with SAME
    # padding (two groups of four channels + one), and a grouped column without padding (4 + 3)
    "col3_inplace_dw_c9_fold": (4, 1, 7, 6, 9, 9, 3, 1, 1, 1, True, None, True),
    "grouped3x1_c7_valid_fold": (False, 1, 9, 4, 7, 7, 3, 1, 1, 1, False, 1, True),
    # "deep": shifts down to -28 (as pruned channels get), where the zero point no longer folds into the
    # rounding constant: Helium's four-lane path adds it after the shift
    "conv1x1_c20_c10_deep_fold": (False, 1, 6, 7, 20, 10, 1, 1, 1, 1, False, None, True),
    "col3_inplace_dw_c9_deep_fold": (4, 1, 7, 6, 9, 9, 3, 1, 1, 1, True, None, True),
    "conv5x5_c1_s2_deep_fold": (False, 1, 12, 13, 1, 6, 5, 5, 2, 1, True, None, True),
    "dw70x1_c6_deep_fold": (True, 1, 70, 3, 6, 6, 70, 1, 1, 1, False, None, True),
    # "mixed": one channel (5) whose requantization does not fold (shift 0, as a pruned channel's scale can give)
    # among folding ones: Helium's three-tap line kernel takes that channel's group in the output path's form for
    # any shift, the DSP cores' line kernel that channel in its general three-tap loop
    "col3_inplace_dw_c10_mixed_fold": (4, 1, 7, 6, 10, 10, 3, 1, 1, 1, True, None, True),
    "grouped3x1_c9_mixed_fold": (False, 1, 9, 4, 9, 9, 3, 1, 1, 1, True, 1, True),
    # the DSP cores' passes of four windows on the folded output path in one asm function (sp_quads_dsp): a 1x1
    # layer's 78 pixels as one row (19 passes and two single windows), and an output channel without a non-zero (its
    # sums stay the constant)
    "conv1x1_c24_c6_fold_zero_row": (False, 1, 6, 13, 24, 6, 1, 1, 1, 1, False, None, True),
    # Helium's column of eight channels per vector (int16 lanes, VMULLB/VMULLT; dw_column8) for a depthwise
    # window wholly inside the input: whole groups of eight without a predicate and a predicated last group (20 =
    # 8 + 8 + 4, 13 = 8 + 5), each of the three output paths (four lanes where every channel folds, the form for
    # any shift with one unfoldable channel, lane by lane for a clamped range), a stride along the column
    "dw40x1_c20_fold": (True, 1, 40, 3, 20, 20, 40, 1, 1, 1, False, None, True),
    "dw36x1_c13_mixed_fold": (True, 1, 36, 2, 13, 13, 36, 1, 1, 1, False, None, False),
    "dw24x1_c16_s4_relu_fold": (True, 1, 36, 3, 16, 16, 24, 1, 4, 1, False, None, True),
    # two-dimensional depthwise windows: the DSP depthwise kernel (four channels per word) and Helium's eight channels
    # per vector in int16 lanes (dw_window8): whole windows from the channel constants, clipped ones from the bias
    # with the offset per input; a partial last group (13 = 8 + 5; 10 = 8 + 2), stride 2 without padding, dilation
    "dw3x3_c13_same_fold": (True, 1, 7, 9, 13, 13, 3, 3, 1, 1, True, None, True),
    "dw3x3_c10_s2_valid": (True, 1, 9, 8, 10, 10, 3, 3, 2, 1, False, None, True),
    "dw3x3_c12_dil2_same_relu_fold": (True, 2, 8, 7, 12, 12, 3, 3, 1, 2, True, None, False),
    # the DSP cores' 3 x 3 windows on channels a multiple of four (dw3x3_run_dsp: a row's pixels whose windows lie
    # inside the input in one asm call, every group's block of constants, taps and (m, rnd, sh) at immediate offsets;
    # border windows staged with the zero point, one pixel per call): the folded outputs from the registers, stride
    # 2 with SAME padding; runs of 18 and 7 pixels at strides 1 and 2; ten groups with batches; one group; the
    # general output path from the sums (here and dw3x3_c16_same above); five rows wide three (not taken: the
    # general kernel)
    "dw3x3_c8_s2_same_fold": (True, 1, 9, 10, 8, 8, 3, 3, 2, 1, True, None, True),
    # a first layer's three channels (K = 27, VWW's and ResNet-8's): the DSP cores' pixel pairs through conv2x2_dsp on
    # rows padded to whole words with zero weights (a copy in the window buffer); an odd channel and an odd pixel left
    "conv3x3_c3_c8_s2_same_fold": (False, 1, 11, 10, 3, 8, 3, 3, 2, 1, True, None, True),
    "conv3x3_c3_c7_fold": (False, 1, 6, 9, 3, 7, 3, 3, 1, 1, True, None, False),
    # the DSP cores' pixel pairs of such layers with both windows inside the input: their rows staged end to end by
    # gather_pair_staged_dsp (rows of 9 bytes above: two words and a byte; here rows of 4 bytes, words only, of 3,
    # bytes only, and rows two input rows apart)
    "conv3x4_c1_c6_s2_fold": (False, 1, 11, 12, 1, 6, 3, 4, 2, 1, True, None, True),
    "conv1x1_c3_c4_fold": (False, 1, 4, 5, 3, 4, 1, 1, 1, 1, False, None, True),
    "conv3x3_c3_c6_dilh2_fold": (False, 1, 9, 8, 3, 6, 3, 3, 1, 1, True, None, True),
    # the DSP cores' 1 x 1 pixel pairs in output order (gather_pair_dsp): stride 2 (pairs across output rows, an odd
    # last pixel), and batches of an odd pixel count with three quads a pixel (an odd quad first)
    "conv1x1_c8_c6_s2_fold": (False, 1, 9, 5, 8, 6, 1, 1, 2, 1, False, None, True),
    "conv1x1_c12_c4_b2_fold": (False, 2, 3, 3, 12, 4, 1, 1, 1, 1, False, None, True),
    # rows of 64 or more taps sixteen a turn (conv2x2p16_dsp): three quads past them first (K = 76; 72 and 1188 above
    # leave two and one, 144 none)
    "conv1x1_c76_c4_fold": (False, 1, 3, 3, 76, 4, 1, 1, 1, 1, False, None, True),
    "dw3x3_c8_w20_run_fold": (True, 1, 6, 20, 8, 8, 3, 3, 1, 1, True, None, True),
    "dw3x3_c12_w17_s2_run_fold": (True, 1, 7, 17, 12, 12, 3, 3, 2, 1, False, None, False),
    "dw3x3_c40_b2_fold": (True, 2, 5, 7, 40, 40, 3, 3, 1, 1, True, None, True),
    "dw3x3_c4_w9_fold": (True, 1, 4, 9, 4, 4, 3, 3, 1, 1, True, None, True),
    "dw3x3_c8_w12_run": (True, 1, 5, 12, 8, 8, 3, 3, 1, 1, False, None, True),
    # channels in chunks of groups whose blocks fit the DSP cores' window buffer (TINYASC_OPT_MAX_K 2304: 39 groups on
    # the folded path, 68 off it): 42 groups as 39 + 3, 70 as 68 + 2, every window staged or in place
    "dw3x3_c168_chunks_fold": (True, 1, 4, 5, 168, 168, 3, 3, 1, 1, True, None, True),
    "dw3x3_c280_chunks": (True, 1, 3, 4, 280, 280, 3, 3, 1, 1, True, None, False),
    "dw5x3_c12_valid_b2_fold": (True, 2, 8, 6, 12, 12, 5, 3, 1, 1, False, None, True),
    # Helium's depthwise rows on channels a multiple of four (dw_rows_mve: input rows staged four channels per word,
    # group by group, zero point left and right; clipped tap rows from their own channel constants): windows three taps
    # wide at stride 1 with two quads and three single pixels in a row, the input zero point at both ends of int8; any
    # other window through the looping asm (5 x 5, dilation 2 along x, batches); dilation 3 on three tap rows (two
    # rows of a window in one staging slot: not taken); dw3x3_c16_same and the ReLU case above (off the four-lane
    # output path) take dw_window8
    "dw3x3_c8_w11_zxmin_fold": (True, 1, 5, 11, 8, 8, 3, 3, 1, 1, True, None, True),
    "dw3x3_c12_s2_zxmax_fold": (True, 1, 9, 13, 12, 12, 3, 3, 2, 1, True, None, False),
    "dw5x5_c8_same_fold": (True, 1, 7, 9, 8, 8, 5, 5, 1, 1, True, None, True),
    "dw3x3_c4_dil2_b2_fold": (True, 2, 8, 9, 4, 4, 3, 3, 1, 2, True, None, False),
    "dw3x3_c4_dil3_fold": (True, 1, 9, 9, 4, 4, 3, 3, 1, 3, True, None, True),
    # Helium's 1x1 in place on inputs a multiple of 16 (tinyasc_simd_conv2d_1x1_inplace_s8: pixels copied in pairs
    # interleaved by block, the rows read in place by pw_pairs_rows_mve): an odd last pixel, chunks front to back
    # (84 + 6 pixels) and back to front (out_c > in_c, 280 + 280 pixels in three chunks) with any shift
    "inplace1x1_c32_c16_fold": (2, 1, 5, 9, 32, 16, 1, 1, 1, 1, False, None, True),
    "inplace1x1_c48_c20_fold": (2, 1, 9, 10, 48, 20, 1, 1, 1, 1, False, None, False),
    "inplace1x1_c16_c40_b2": (2, 2, 20, 14, 16, 40, 1, 1, 1, 1, False, None, True),
    # the DSP cores' pixel pairs in place with no stage (tinyasc_simd_conv2d_1x1_inplace_pairs_s8): growing, so
    # backward, over an odd count of pixels (the first as a pair with itself) and over two images; shrinking, so
    # forward, in inplace1x1_c32_c16_fold above (an odd last pixel); more channels than the kernels' blocks of 64 (all
    # of a pair's outputs from one gather), and an odd count of channels (staged)
    "inplace1x1_c8_c20_fold": (2, 1, 5, 3, 8, 20, 1, 1, 1, 1, False, None, True),
    "inplace1x1_c12_c16_b2_fold": (2, 2, 3, 3, 12, 16, 1, 1, 1, 1, False, None, False),
    "inplace1x1_c16_c96_fold": (2, 1, 3, 5, 16, 96, 1, 1, 1, 1, False, None, True),
    "inplace1x1_c16_c9_fold": (2, 1, 3, 3, 16, 9, 1, 1, 1, 1, False, None, True),
    # the DSP cores' three windows a call over rows in pairs of a multiple of 8 taps (conv3x2p_dsp): in place forward
    # over 20 pixels of 24 channels (six calls, two pixels left; K mod 16 = 8: the first turn enters halfway) and
    # backward over 7 (two calls, the first pixel left as a pair with itself); 1 x 1 at stride 2 in output order, the
    # three across rows (pixel_pairs: 20 pixels, two left); 3 x 3 windows three at a time across rows two and one
    # wide (window_triples: gather_window's and gather_rows' quads, 14 and 8 windows, two left); conv3x3_c8_c6_s2,
    # conv3x3_c32_c6_s2_b2, conv1x1_c8_c6_s2, conv2x2_c2_c4_valid and the in-place cases above of 8, 16, 32 or 48
    # channels take it too
    "inplace1x1_c24_c16_tri_fold": (2, 1, 4, 5, 24, 16, 1, 1, 1, 1, False, None, True),
    "inplace1x1_c8_c24_tri_fold": (2, 1, 7, 1, 8, 24, 1, 1, 1, 1, False, None, True),
    "conv1x1_c24_c6_s2_tri_fold": (False, 1, 9, 7, 24, 6, 1, 1, 2, 1, False, None, True),
    "conv3x3_c8_c4_w2_tri_fold": (False, 1, 7, 2, 8, 4, 3, 3, 1, 1, True, None, True),
    "conv3x3_c16_c6_w1_tri_fold": (False, 1, 8, 1, 16, 6, 3, 3, 1, 1, True, None, False),
    # ... and a first layer's one channel (K = 8; gather_window's staged bytes, windows across the border at stride 2)
    "conv4x2_c1_c6_s2_tri_fold": (False, 1, 11, 9, 1, 6, 4, 2, 2, 1, True, None, True),
    # Helium's im2col convolution (cols_conv): windows gathered in chunks of 24 (K = 144), 49 pixels = 24 + 24 + 1 (an
    # odd pixel in a chunk and a chunk of one), five output channels (a group of four + one); conv3x3_c16_same_fold
    # above (72 = 3 x 24) and the one-channel and dilated cases take it too
    "conv3x3_c16_c5_same_odd_fold": (False, 1, 7, 7, 16, 5, 3, 3, 1, 1, True, None, True),
    # Helium's dense convolution reads the windows that lie inside the input in place (win_groups: pairs along an
    # output row through pw_pairs_win_mve, an odd last window copied) and gathers the others in runs of consecutive
    # pixels: stride 2 with batches and six output channels (4 + 2), dilation 2 along the columns only, every window
    # inside with a left shift (the output path for any shift), and a 1x1 at stride 2 (an odd last pixel a row)
    "conv3x3_c32_c6_s2_b2_fold": (False, 2, 11, 12, 32, 6, 3, 3, 2, 1, True, None, True),
    "conv3x3_c16_c4_dilh2_fold": (False, 1, 10, 9, 16, 4, 3, 3, 1, 1, True, None, False),
    "conv3x3_c16_c8_valid_leftshift_fold": (False, 1, 7, 10, 16, 8, 3, 3, 1, 1, False, None, True),
    "conv1x1_c32_c5_s2_fold": (False, 1, 7, 9, 32, 5, 1, 1, 2, 1, False, None, True),
    # ... and an output row too wide for the pairs' store of both pixels (out_w OC = 65536 bytes past its 16-bit
    # offsets): the interior in pairs along each row
    "conv3x3_c16_c256_wide_valid_fold": (False, 1, 4, 258, 16, 256, 3, 3, 1, 1, False, None, True),
    # the same kernels (pointwise pairs, im2col) with a clamped activation range (VMAX/VMIN after the rescaling)
    "conv1x1_c24_c12_relu_fold": (False, 1, 5, 7, 24, 12, 1, 1, 1, 1, False, None, True),
    "conv3x3_c8_c7_same_relu_fold": (False, 1, 6, 7, 8, 7, 3, 3, 1, 1, True, None, True),
    # the DSP cores' columns of more than three taps on four or more channels (the DSP depthwise kernel's column loop,
    # four channels per word): clipped by SAME padding, batches; a partial last group of channels, no padding
    "dw10x1_c8_same_b2": (True, 2, 12, 3, 8, 8, 10, 1, 1, 1, True, None, True),
    "dw4x1_c5_valid_fold": (True, 1, 9, 4, 5, 5, 4, 1, 1, 1, False, None, True),
    # the runs down the output columns where those are fewer than the rows (the streaming wake word's k x 1 layers
    # on one column): three groups on one column; stride 2 with SAME padding (the border rows pixel by pixel), batches
    "dw5x1_c12_w1_valid_fold": (True, 1, 28, 1, 12, 12, 5, 1, 1, 1, False, None, True),
    "dw6x1_c8_w2_s2_same_b2": (True, 2, 20, 2, 8, 8, 6, 1, 2, 1, True, None, True),
    # columns of many taps (Helium's dw_column8, the DSP cores' column loop): the quick model's frequency-spanning
    # column (128 taps, 20 channels: 8 + 8 + a predicated 4 on Helium) on five columns; a column shorter than the input
    # (three output rows), batches, the general output path; 70 columns of three channels
    "dw128x1_c20_w5_valid_fold": (True, 1, 128, 5, 20, 20, 128, 1, 1, 1, False, None, True),
    "dw40x1_c5_h42_b2": (True, 2, 42, 3, 5, 5, 40, 1, 1, 1, False, None, False),
    "dw64x1_c3_w70_fold": (True, 1, 64, 70, 3, 3, 64, 1, 1, 1, False, None, True),
    # FULLY_CONNECTED (tinyasc_opt_fc.c): four rows per pass over the input (Helium: whole vectors of sixteen and a
    # predicated tail; DSP: words of four and the last K % 4 one by one) and the last N % 4 rows one at a time;
    # batches, per-tensor and per-row scales, a clamped range, the input zero point at both ends of int8, K < 4
    "fc_k640_n128_fold": (5, 1, 1, 1, 640, 128, 1, 1, 1, 1, False, None, True),
    "fc_k37_n10_b3": (5, 3, 1, 1, 37, 10, 1, 1, 1, 1, False, None, True),
    "fc_k130_n7_relu_fold_pertensor": (5, 2, 1, 1, 130, 7, 1, 1, 1, 1, False, None, False),
    "fc_k18_n5_zxmin_pertensor": (5, 1, 1, 1, 18, 5, 1, 1, 1, 1, False, None, True),
    "fc_k21_n9_zxmax_fold": (5, 2, 1, 1, 21, 9, 1, 1, 1, 1, False, None, True),
    "fc_k3_n6_sat": (5, 1, 1, 1, 3, 6, 1, 1, 1, 1, False, None, True),
    # the weights in row blocks (fc_row_blocks; every FC case runs both geometries, folded and not, optimized and
    # portable): layers per tensor on the whole int8 range, which the DSP cores (K a multiple of 4) and Helium run
    # in one asm call a layer, with a last block of fewer rows (20 = 2 x 8 + 4, 19 = 4 x 4 + 3), Helium's last K % 16
    # inputs (52, 30) and a layer of that tail alone (8), the DSP cores' K % 4 (30), no bias, batches
    "fc_k128_n20_b2_fold_pertensor": (5, 2, 1, 1, 128, 20, 1, 1, 1, 1, False, None, True),
    "fc_k52_n19_fold_pertensor": (5, 1, 1, 1, 52, 19, 1, 1, 1, 1, False, None, False),
    "fc_k8_n16_fold_pertensor": (5, 1, 1, 1, 8, 16, 1, 1, 1, 1, False, None, True),
    "fc_k30_n8_b2_fold_pertensor": (5, 2, 1, 1, 30, 8, 1, 1, 1, 1, False, None, True),
    # the DSP cores' pixel pairs over filter rows in word-interleaved pairs (conv2x2p_dsp; every ungrouped case runs
    # them too, rows padded to whole words where K is not a multiple of 4): two blocks of output channels (70 = 64 +
    # 6) with an odd last pixel of each row, and a window too long for two (K = 1188 > TINYASC_OPT_MAX_K2: one pixel at
    # a time)
    "conv1x1_c8_c70_w5_fold": (False, 1, 3, 5, 8, 70, 1, 1, 1, 1, False, None, True),
    "conv3x3_c132_c5_bigk_fold": (False, 1, 3, 4, 132, 5, 3, 3, 1, 1, True, None, True),
    # three-tap lines longer than Helium's chunk of 256 positions (line3_mve's sums pass, then its outputs pass): a
    # column with same padding, one without, in place, a row, and one with a left shift (the any-shift outputs)
    "dw3x1_c6_long_same_fold": (True, 1, 600, 2, 6, 6, 3, 1, 1, 1, True, None, True),
    "dw3x1_c4_long_valid_fold": (True, 1, 520, 1, 4, 4, 3, 1, 1, 1, False, None, False),
    "col3_inplace_dw_c5_long_fold": (4, 1, 530, 2, 5, 5, 3, 1, 1, 1, True, None, True),
    "dw3x1_c7_long_same_leftshift": (True, 1, 270, 1, 7, 7, 3, 1, 1, 1, True, None, True),
    "dw1x3_c5_long_row_fold": (True, 1, 2, 300, 5, 5, 1, 3, 1, 1, True, None, True),
    # Helium's three-tap lines on planes (line3p_mve: lines of LINE3P_MIN_LEN = 32 or more outputs on the four-lane
    # path): the quick model's frequency convolution in place (128 x 17 x 20), a column in bands of lines (70 lines of
    # 69 plane bytes: 59 a band) in place and not, a row of 42 outputs with valid padding, a column of 39, and one of
    # 31 (one short: the channels-per-lane kernel)
    "col3_inplace_dw_c20_quick_fold": (4, 1, 128, 17, 20, 20, 3, 1, 1, 1, True, None, True),
    "col3_inplace_dw_c8_bands_fold": (4, 1, 64, 70, 8, 8, 3, 1, 1, 1, True, None, True),
    "dw3x1_c3_bands_same_fold": (True, 1, 64, 70, 3, 3, 3, 1, 1, 1, True, None, True),
    "dw1x3_c6_w44_valid_fold": (True, 1, 3, 44, 6, 6, 1, 3, 1, 1, False, None, False),
    "dw3x1_c4_h39_same_fold": (True, 1, 39, 3, 4, 4, 3, 1, 1, 1, True, None, True),
    "dw3x1_c4_h31_same_fold": (True, 1, 31, 3, 4, 4, 3, 1, 1, 1, True, None, True),
    # ... eight outputs a pass, then the last n % 8 four at a time: 47 = 5 x 8 + 4 + 3 (a predicated last vector)
    "dw3x1_c5_h47_same_fold": (True, 1, 47, 3, 5, 5, 3, 1, 1, 1, True, None, True),
    # one input channel, nine output columns: Helium's sparse one-channel kernel four pixels per pass, then one
    "conv3x3_c1_c12_w9_fold": (False, 1, 6, 9, 1, 12, 3, 3, 1, 1, True, None, True),
    # "zyrelu": a fused ReLU's output quantization (zero point -128, the full int8 range from it): the DSP cores' sparse
    # kernel takes such a channel's interior windows in passes of eight with doubled weights and rescales the doubled
    # sums with tinyasc_rq_relu_apply (sp_octs_relu_dsp; border windows the folded form, the weights halved back),
    # unless a window constant reaches 2^29 ("bigbias": biases up to 2^30, the folded form throughout)
    "conv1x1_c24_c6_fold_zyrelu": (False, 1, 6, 13, 24, 6, 1, 1, 1, 1, False, None, True),
    "conv3x3_c8_c7_same_fold_zyrelu": (False, 1, 6, 9, 8, 7, 3, 3, 1, 1, True, None, True),
    "conv5x5_c1_s2_fold_zyrelu": (False, 1, 20, 21, 1, 10, 5, 5, 2, 1, True, None, False),
    "conv1x1_c16_c8_fold_zyrelu_bigbias": (False, 1, 5, 10, 16, 8, 1, 1, 1, 1, False, None, True),
    # the DSP cores' sparse rows in one call (every window inside the input: a channel's rows; a 1x1 at stride 1: its
    # pixels as one row): passes of four then the last windows one by one (tails of 3, 1; no pass at all), rows at
    # stride 2, batches, the ReLU form and the folded one
    "conv3x3_c4_c6_valid_b2_fold_zyrelu": (False, 2, 7, 9, 4, 6, 3, 3, 1, 1, False, None, True),
    "conv5x5_c1_s2_valid_w3_fold_zyrelu": (False, 1, 13, 9, 1, 8, 5, 5, 2, 1, False, None, True),
    "conv1x1_c12_c5_w35_fold": (False, 1, 5, 7, 12, 5, 1, 1, 1, 1, False, None, True),
    "conv1x1_c12_c5_w35_fold_zyrelu": (False, 1, 5, 7, 12, 5, 1, 1, 1, 1, False, None, False),
    "conv2x2_c3_c5_s2_valid_fold": (False, 1, 9, 11, 3, 5, 2, 2, 2, 1, False, None, True),
    # ... and the ReLU form's passes of eight (sp_octs_relu_dsp) over rows: two passes and a window (the quick model's
    # first layer's shape), two passes and three windows, batches
    "conv5x5_c1_s2_valid_w17_fold_zyrelu": (False, 1, 11, 38, 1, 9, 5, 5, 2, 1, False, None, True),
    "conv3x3_c2_c5_valid_w19_b2_fold_zyrelu": (False, 2, 6, 21, 2, 5, 3, 3, 1, 1, False, None, True),
    # ... and on the input transposed (a 1 x 1 layer at stride 1 of enough non-zeros: a row of pixels per input channel,
    # each non-zero's eight windows two words, tinyasc_sparse_t_s8): 36 pixels (four passes and four windows) of 24
    # channels in blocks of 4 x 4; 45 in place growing (a last pixel byte by byte); ten channels (not a multiple of 4:
    # not transposed, the pixels read in place); channels off the ReLU form (bigbias: sp_quads_dsp one byte apart, the
    # weights halved back) and one off the folded output path (mixed: the C loops one byte apart)
    "conv1x1_c24_c32_w36_fold_zyrelu": (False, 1, 6, 6, 24, 32, 1, 1, 1, 1, False, None, True),
    "inplace1x1_c20_c32_w45_fold_zyrelu": (2, 1, 5, 9, 20, 32, 1, 1, 1, 1, False, None, True),
    "conv1x1_c10_c40_w16_fold_zyrelu": (False, 1, 4, 4, 10, 40, 1, 1, 1, 1, False, None, False),
    "conv1x1_c16_c24_w16_fold_zyrelu_bigbias": (False, 1, 4, 4, 16, 24, 1, 1, 1, 1, False, None, True),
    "conv1x1_c16_c32_w16_mixed_fold_zyrelu": (False, 1, 4, 4, 16, 32, 1, 1, 1, 1, False, None, True),
    # ... and passes down the columns where they leave fewer windows one by one than along the rows: 17 columns of 16
    # rows (the quick model's first layer's shape: none instead of 16), 19 columns of 12 in passes of four (the folded
    # form: none instead of 36), 17 columns of 19 rows (three a column: 51 against 19 along the rows, which it keeps)
    "conv5x5_c1_s2_valid_w17_h16_fold_zyrelu": (False, 1, 35, 38, 1, 9, 5, 5, 2, 1, False, None, True),
    "conv3x3_c2_c5_valid_w19_h12_fold": (False, 1, 14, 21, 2, 5, 3, 3, 1, 1, False, None, True),
    "conv5x5_c1_s2_valid_w17_h19_fold_zyrelu": (False, 1, 41, 38, 1, 9, 5, 5, 2, 1, False, None, True),
    # Helium's one-channel kernel leaves the last 1-3 columns of a layer without padding to c1_cols_mve (down the
    # column, four rows per vector, read from the input): the three above at stride 2 (one column of 4, 16 and 19
    # rows), and two columns of nine rows at stride 1
    "conv3x3_c1_c6_valid_w18_fold": (False, 1, 11, 20, 1, 6, 3, 3, 1, 1, False, None, True),
    # "pow2m": every multiplier exactly 2^30, so that many sums land on a tie of the last rounding (half away from
    # zero): the three-tap line interiors the DSP cores rescale on the doubled sum with the sign's SUB
    # (line3_dsp_lines), a grouped column and one in place in the depthwise layout
    "grouped3x1_c10_pow2m_fold": (False, 1, 24, 5, 10, 10, 3, 1, 1, 1, True, 1, True),
    # the DSP cores' three-tap layers in one asm call (line3_dsp_lines: every line of every recorded channel): batches
    # (one call a batch), a channel whose constant reaches 2^29 left to the C loop among recorded ones, and rows of
    # one output ("same" over a single input: the window's two outside values)
    "dw3x1_c9_b2_same_fold": (True, 2, 7, 3, 9, 9, 3, 1, 1, 1, True, None, True),
    "dw3x1_c6_same_bigbias_fold": (True, 1, 8, 4, 6, 6, 3, 1, 1, 1, True, None, True),
    "dw1x3_c5_w1_same_fold": (True, 1, 3, 1, 5, 5, 1, 3, 1, 1, True, None, True),
    "col3_inplace_dw_c9_pow2m_fold": (4, 1, 20, 6, 9, 9, 3, 1, 1, 1, True, None, True),
    # one-tap channels computed on the DSP cores' doubled sum (affine_dsp_run, fewer than 384 pixels): ties of the last
    # rounding (pow2m), the depthwise layout with an odd channel count and batches (rows contiguous: one run per
    # channel), and a pixel count that leaves an odd output first
    "grouped1x1_c9_pow2m_fold": (False, 1, 12, 9, 9, 9, 1, 1, 1, 1, False, 1, True),
    "dw1x1_c7_b2_fold": (True, 2, 7, 5, 7, 7, 1, 1, 1, 1, False, None, True),
    # Helium's one-input-channel sparse rows (c1_row_s1_mve / _s2_mve): 35 pixels a row, two chunks of sixteen and
    # three left, at stride 1 (a dilated column) and 2
    "conv3x3_c1_c6_w35_dil2_fold": (False, 1, 6, 35, 1, 6, 3, 3, 1, 2, True, None, True),
    "conv5x5_c1_c5_s2_w70_fold": (False, 1, 7, 70, 1, 5, 5, 5, 2, 1, True, None, True),
    # the DSP cores' whole columns of four channels two taps per pass (dw_col4_dsp): an odd count of taps (71), two
    # groups of four
    "dw71x1_c8_fold": (True, 1, 71, 3, 8, 8, 71, 1, 1, 1, False, None, True),
    # ... and each output row's run of whole columns in one call per group (dwc4_run_dsp, the folded output path):
    # 64 taps over 20 channels (the quick model's second stage), SAME rows partly outside (those pixels one by one),
    # stride 2 along x, batches, dilation 2 along the column; one window a group (left to the pixel path)
    "dw64x1_c20_runs_fold": (True, 1, 64, 9, 20, 20, 64, 1, 1, 1, False, None, True),
    "dw15x1_c8_one_fold": (True, 1, 15, 1, 8, 8, 15, 1, 1, 1, False, None, True),
    "dw5x1_c8_same_stw2_b2_fold": (True, 2, 9, 10, 8, 8, 5, 1, 1, 1, True, None, True),
    "dw6x1_c12_dilh2_fold": (True, 1, 14, 4, 12, 12, 6, 1, 1, 1, True, None, False),
    # the DSP cores' 3 x 3 windows on int16 planes (dw3p_run_dsp: four outputs per pass along the plane's rows, the
    # row's last one to three in a pass of two and one of one): rows along x of 4, 5, 6, 7 and 9 outputs; along y
    # where that costs less (25 x 5, the DS-CNN's shape, with the zero point at both ends); stride 2 and dilation 2
    # across the rows (along y; along x when the stride is along y); planes in bands of output rows (a 60-column row:
    # 9 rows of 62 int16 a band of four channels), batches, ties of the last rounding (pow2m), chunks of channels
    "dw3x3_c4_w4_plane_fold": (True, 1, 5, 4, 4, 4, 3, 3, 1, 1, True, None, True),
    "dw3x3_c8_w5_plane_b2_fold": (True, 2, 4, 5, 8, 8, 3, 3, 1, 1, True, None, False),
    "dw3x3_c4_w6_plane_valid_fold": (True, 1, 6, 8, 4, 4, 3, 3, 1, 1, False, None, True),
    "dw3x3_c12_w7_plane_pow2m_fold": (True, 1, 6, 7, 12, 12, 3, 3, 1, 1, True, None, True),
    "dw3x3_c4_h25_plane_zxmin_fold": (True, 1, 25, 5, 4, 4, 3, 3, 1, 1, True, None, True),
    "dw3x3_c8_h25_plane_zxmax_fold": (True, 1, 25, 5, 8, 8, 3, 3, 1, 1, True, None, False),
    "dw3x3_c4_w9_plane_sth2_fold": (True, 1, 9, 9, 4, 4, 3, 3, 1, 1, True, None, True),
    "dw3x3_c8_h10_plane_stw2_fold": (True, 1, 10, 7, 8, 8, 3, 3, 1, 1, True, None, True),
    "dw3x3_c4_w7_plane_dilh2_fold": (True, 1, 9, 7, 4, 4, 3, 3, 1, 1, True, None, True),
    "dw3x3_c8_w60_plane_bands_fold": (True, 1, 23, 60, 8, 8, 3, 3, 1, 1, True, None, True),
    # ... at stride 2 along u where no axis has stride 1 and u has eight or more outputs (dw3p_run_s2_dsp: five plane
    # words a pass of four): rows of 8, 9, 10 and 11 outputs (passes of four, then one of one, of two, of two and
    # one), SAME and VALID, the zero point at both ends, dilation 2 across the rows, bands (a 120-column input: one
    # output row a band); a constant the doubled sums cannot take (bias past 2^30) leaves the layer to dw3x3_run_dsp
    "dw3x3_c4_w18_plane_s2_fold": (True, 1, 12, 18, 4, 4, 3, 3, 2, 1, True, None, True),
    "dw3x3_c8_w21_plane_s2_valid_fold": (True, 1, 11, 21, 8, 8, 3, 3, 2, 1, False, None, True),
    "dw3x3_c4_w20_plane_s2_zxmin_fold": (True, 2, 10, 20, 4, 4, 3, 3, 2, 1, True, None, False),
    "dw3x3_c8_w22_plane_s2_zxmax_fold": (True, 1, 9, 22, 8, 8, 3, 3, 2, 1, True, None, True),
    "dw3x3_c4_w17_plane_s2_dilh2_fold": (True, 1, 12, 17, 4, 4, 3, 3, 2, 2, True, None, True),
    "dw3x3_c4_w120_plane_s2_bands_fold": (True, 1, 20, 120, 4, 4, 3, 3, 2, 1, True, None, True),
    "dw3x3_c4_w18_plane_s2_bigbias_fold": (True, 1, 12, 18, 4, 4, 3, 3, 2, 1, True, None, True),
    # ... and on Helium one channel's int8 plane (dwp_run_mve: four outputs along u per vector, rows of eight or more
    # outputs; the cases above with such rows take it too): a plane too tall for the gather buffer (bands of output
    # rows, the rows outside the input staged per band), dilated across the rows
    "dw3x3_c4_w100_plane_bands_dilh2_fold": (True, 1, 50, 100, 4, 4, 3, 3, 1, 1, True, None, True),
    # ... two output rows a pass where the plane rows fit 63 bytes and v has stride 1 (dwp_pairs_mve; the 25 x 5 cases
    # above: two pairs and a last row): twelve rows in six pairs with padding above and below, rows of 58 outputs
    # (the longest that fit: 60 columns and three more) in four pairs and a last row, and 135 rows of 24 outputs in
    # bands of 63, 63 and 9 (31 pairs and a last row twice, four pairs and a last row)
    "dw3x3_c4_w20_plane_pairs_fold": (True, 1, 12, 20, 4, 4, 3, 3, 1, 1, True, None, True),
    "dw3x3_c8_w58_plane_pairs_fold": (True, 1, 9, 58, 8, 8, 3, 3, 1, 1, True, None, True),
    "dw3x3_c8_w26_plane_pairs_bands_valid_fold": (True, 1, 137, 26, 8, 8, 3, 3, 1, 1, False, None, False),
    # Helium's sparse pointwise layers on planes (mve_sparse_pw: the pixels in chunks of planes, 2,544 bytes of them,
    # through c1_row_s1_mve): 221 pixels of 40 channels (chunks of 48: four and one of 29, sixteen a pass and 13
    # left), in place over the 2,048-byte stage (102 pixels a call: 48, 48, 6), 200 input channels (12 pixels a chunk:
    # no pass of sixteen) over two batches, ties of the last rounding, a fused ReLU's range, a channel scaled up (shift
    # +1: rewritten through the general output path), more non-zeros than the table holds (100 x 64 at 11%: two
    # channel groups, the planes staged twice); and what it leaves to the scalar kernel: a range narrower than int8
    "conv1x1_c40_c20_planes_fold": (False, 1, 13, 17, 40, 20, 1, 1, 1, 1, False, None, True),
    "inplace1x1_c40_c20_planes_fold": (2, 1, 13, 17, 40, 20, 1, 1, 1, 1, False, None, True),
    "conv1x1_c200_c8_planes_b2_fold": (False, 2, 3, 5, 200, 8, 1, 1, 1, 1, False, None, True),
    "conv1x1_c16_c30_planes_pow2m_fold": (False, 1, 6, 11, 16, 30, 1, 1, 1, 1, False, None, False),
    "conv1x1_c20_c12_planes_fold_zyrelu": (False, 1, 7, 9, 20, 12, 1, 1, 1, 1, False, None, True),
    "conv1x1_c20_c8_planes_fold_leftshift": (False, 1, 5, 9, 20, 8, 1, 1, 1, 1, False, None, True),
    "conv1x1_c64_c100_planes_fold": (False, 1, 2, 3, 64, 100, 1, 1, 1, 1, False, None, True),
    "conv1x1_c24_c10_planes_fold_relu": (False, 1, 4, 9, 24, 10, 1, 1, 1, 1, False, None, True),
    # Helium's first non-zero of a channel onto its constant (VMLAS) and sixteen outputs a chunk narrowed in pairs: an
    # output channel without a non-zero (a weight of 0 at offset 0 stands in) on the one-channel rows at stride 2
    # (two chunks and a last vector of four a row) and on the planes
    "conv5x5_c1_c6_s2_w72_fold_zero_row": (False, 1, 8, 72, 1, 6, 5, 5, 2, 1, True, None, True),
    "conv1x1_c40_c20_planes_fold_zero_row": (False, 1, 13, 17, 40, 20, 1, 1, 1, 1, False, None, True),
    # ... and down the output columns where every window lies inside the input and the rows outnumber the columns
    # (c1_col_mve, the input read in place; the quick model's first layer: 17 columns of 128 rows): 40 rows of 5 at
    # stride 2 (two chunks of sixteen, then two vectors), 20 rows of 3 at stride 1 and batches, each with a channel
    # without non-zeros
    "conv5x5_c1_c7_s2_h40_valid_fold_zero_row": (False, 1, 83, 13, 1, 7, 5, 5, 2, 1, False, None, True),
    "conv3x3_c1_c5_h20_valid_b2_fold_zero_row": (False, 2, 22, 5, 1, 5, 3, 3, 1, 1, False, None, False),
    # Helium's im2col gather of window rows of 16 bytes or fewer (cols_gather): runs of windows inside the input along
    # x in one call (cols_short_windows), windows crossing the left or right edge by one predicated load each row with
    # the zero point selected outside (cols_short_edge), rows above and below the input filled; a first layer of
    # three channels at stride 2 (MobileNet's: rows of 9 bytes; right and bottom edges), at both ends of the input
    # zero point, and of one channel 10 x 4 (the DS-CNN's: rows of 4 bytes, both edges, four rows outside at the top)
    "conv3x3_c3_c8_s2_gather_fold": (False, 1, 13, 12, 3, 8, 3, 3, 2, 1, True, None, True),
    "conv3x3_c3_c5_s2_gather_zxmin_fold": (False, 2, 9, 11, 3, 5, 3, 3, 2, 1, True, None, False),
    "conv3x3_c3_c6_s2_gather_zxmax_fold": (False, 1, 10, 14, 3, 6, 3, 3, 2, 1, True, None, True),
    "conv10x4_c1_c8_s2_gather_fold": (False, 1, 21, 10, 1, 8, 10, 4, 2, 1, True, None, True),
    # Helium's depthwise rows (dw_quads3_s1_mve / _s2_mve): a row's last two or three pixels in one pass (DWQ_REST),
    # with or without quads before them, at stride 1 and 2: MobileNet's last layers (3 x 3 outputs over 256 channels,
    # and at stride 2 over 128 with the input zero point at -128), rows of 2 and of 6 outputs
    "dw3x3_c256_w3_rest3_fold": (True, 1, 3, 3, 256, 256, 3, 3, 1, 1, True, None, True),
    "dw3x3_c128_w6_s2_rest3_zxmin_fold": (True, 1, 6, 6, 128, 128, 3, 3, 2, 1, True, None, False),
    "dw3x3_c8_w2_rest2_fold": (True, 1, 5, 2, 8, 8, 3, 3, 1, 1, True, None, True),
    "dw3x3_c12_w11_s2_rest2_zxmax_fold": (True, 2, 7, 11, 12, 12, 3, 3, 2, 1, True, None, True),
    # ... their rows staged block by block down the pixels (whole 16-byte blocks, more pixels than blocks: dw_stage_row)
    "dw3x3_c32_w9_s2_fold": (True, 1, 9, 9, 32, 32, 3, 3, 2, 1, True, None, True),
    # the short-row gather where padding reaches past the window (no TFLite padding does; the kernel takes the
    # parameters as given): output rows whose windows lie wholly above or below the input, all zero point (without
    # cols_gather's clamp the first row's fill ran a window row past its window: into the next window's place, which
    # its own gather then rewrites, so the outputs cannot show it)
    "conv3x3_c3_c4_padbig_gather_fold": (False, 1, 6, 7, 3, 4, 3, 3, 1, 1, True, None, True),
}


def _c(vals, ctype="int8_t") -> str:
    return "{" + ",".join(str(int(v)) for v in np.asarray(vals).reshape(-1)) + "}"


def _fold_fc(w: np.ndarray, bias, off: int, per_channel: bool, mult, shift) -> PreparedFc:
    """generator.fold_fc_input_offset on a case's layer (one multiplier and shift where per tensor)."""
    n, k = w.shape
    rows = n if per_channel else 1
    prep = PreparedFc(params=FcParams(batches=1, accum_depth=k, out_depth=n, input_offset=off, filter_offset=0,
                                      output_offset=0, act_min=-128, act_max=127, per_channel=int(per_channel)),
                      kernel="fully_connected_s8", filter=w, multiplier=tuple(int(v) for v in mult[:rows]),
                      shift=tuple(int(v) for v in shift[:rows]),
                      bias=None if bias is None else np.asarray(bias, np.int32))
    return fold_fc_input_offset(prep)


def write_cases(path: Path, seed: int = 7) -> list[tuple[str, bool]]:
    """kernel_cases.h for CASES; returns (name, has_sparse, planes) per case (planes: the sparse descriptor's flag for
    Helium's pointwise planes)."""
    rng = np.random.default_rng(seed)
    decls, entries, info = [], [], []
    max_out = 1
    for i, (name, c) in enumerate(CASES.items()):
        kind, nb, ih, iw, ic, oc, kh, kw, st, dil, same, gfin, has_bias = c
        kind = int(kind)
        dw = kind in (1, 4)
        # "_sth2" / "_stw2" / "_dilh2": stride or dilation 2 along that axis only (1 along the other)
        st_h, st_w = (2, 1) if "_sth2" in name else (1, 2) if "_stw2" in name else (st, st)
        dil_h, dil_w = (2, 1) if "_dilh2" in name else (dil, dil)
        eff_h, eff_w = (kh - 1) * dil_h + 1, (kw - 1) * dil_w + 1
        oh = -(-ih // st_h) if same else (ih - eff_h) // st_h + 1
        ow = -(-iw // st_w) if same else (iw - eff_w) // st_w + 1
        ph = _pad(ih, oh, kh, st_h, dil_h) if same else 0
        pw = _pad(iw, ow, kw, st_w, dil_w) if same else 0
        if "rowoff" in name:
            ph, oh = -2, oh - 2
        if "padbig" in name:  # padding past the window: the first output rows' windows wholly above the input (one
            ph = kh * dil_h + 1  # a tap row further than the window reaches), the last ones' wholly below
            oh = (ih + 2 * ph - eff_h) // st_h + 1
        fin = 1 if dw else (gfin or ic)
        wshape = (kh, kw, oc) if dw else (oc, kh, kw, fin)
        w = rng.integers(-127, 128, size=wshape).astype(np.int8)
        sparse_decl, sparse_rows = "0", None
        if not dw and fin == ic and kind != 5:
            w[rng.random(wshape) < 0.89] = 0  # the paper's 89% pruning
            if "zero_row" in name:
                w[0] = 0
            s = encode_rows(w.reshape(oc, -1))
            assert np.array_equal(decode_rows(s), w.reshape(oc, -1))
            assert s.k <= SPARSE_MAX_K
            sparse_rows = s
            sparse_decl = f"&c{i}_sp"
        x = rng.integers(-128, 128, size=(nb, ih, iw, ic)).astype(np.int8)
        # two cases drive the requantization to its extremes (their outputs mostly saturate)
        big = 1 << 28 if name in ("conv5x5_c1_s2", "dw3x3_c16_same", "dw5x1_c3_valid_b2", "conv5x5_c1_s2_fold",
                                  "fc_k3_n6_sat") else 4000
        if "onesign" in name:
            big = 1 << 15
        if "deep" in name or "bigbias" in name:  # shifts down to -28 (pruned channels): sums large enough to reach
            big = 1 << 30                                  # the output; biases past the ReLU form's bound
        bias = rng.integers(-big, big, size=oc)
        if "bigbias" in name and dw:  # a constant past 2^30: its doubled sum would leave int32
            bias[0] = 3 << 29
        mult = rng.integers(1 << 30, (1 << 31) - 1, size=oc)
        if "pow2m" in name:
            mult[:] = 1 << 30
        fold = "fold" in name
        shift = rng.integers(-12, -1, size=oc) if fold else rng.integers(-9, 2, size=oc)
        if "deep" in name:  # channel 0 at -30: its zero point << 29 would overflow int32 if folded
            shift = rng.integers(-28, -1, size=oc)
            shift[0] = -30
        if "mixed" in name:
            shift[5] = 0
        if "leftshift" in name:  # one channel scaled up (shift +1): the output path for any shift
            shift[1] = 1
        zx = -128 if "zxmin" in name else 127 if "zxmax" in name else int(rng.integers(-128, 128))
        zy = int(rng.integers(-100, 100))
        amin, amax = (-128, 127) if (i % 3 if not fold else "relu" not in name) else (zy, 127)
        if "zyrelu" in name:
            zy, amin, amax = -128, -128, 127
        planes = False
        if sparse_rows is not None:  # the generator's flag for Helium's pointwise planes, from the same parameters
            planes = pointwise_on_planes(
                ConvParams(batches=nb, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
                           stride_h=st_h, stride_w=st_w, dil_h=dil_h, dil_w=dil_w, pad_h=ph, pad_w=pw, filter_in_c=fin,
                           depth_multiplier=1, input_offset=-zx, output_offset=zy, act_min=amin, act_max=amax))
            decls.append(emit_c(f"c{i}_sp", sparse_rows, planes=planes))
        decls.append(
            f"static const int8_t c{i}_w[] = {_c(w)};\nstatic const int8_t c{i}_x[] = {_c(x)};\n"
            f"static const int32_t c{i}_b[] = {_c(bias)};\nstatic const int32_t c{i}_m[] = {_c(mult)};\n"
            f"static const int32_t c{i}_s[] = {_c(shift)};\n")
        out_size = nb * oh * ow * oc
        in_size = nb * ih * iw * ic
        max_out = max(max_out, out_size, in_size, (ph + 1) * iw * ic)
        kcode, fcs, fks = {0: (0, 0, 0), 1: (1, 0, 0), 2: (2, 0, 0), 3: (3, kh, 1), 4: (3, 1, oc),
                           5: (4, int("pertensor" not in name), 0)}[kind]
        conv_pairs = "0"
        if kind in (0, 2) and fin == ic:  # the rows in pairs (padded to whole words), by the generator's function
            decls.append(f"static const int8_t c{i}_wp[] __attribute__((aligned(4))) = "
                         f"{_c(conv_row_pairs(w.reshape(oc, -1)))};\n")
            conv_pairs = f"c{i}_wp"
        fc_blocks = "0, 0, 0"
        if kind == 5:  # the row-block layouts and the folded bias, by the generator's own functions
            fc = _fold_fc(w.reshape(oc, ic), bias if has_bias else None, -zx, "pertensor" not in name, mult, shift)
            assert fc.params.input_offset == 0, name
            decls.append(f"static const int8_t c{i}_w44[] __attribute__((aligned(4))) = "
                         f"{_c(fc_row_blocks(w.reshape(oc, ic), 4, 4))};\n"
                         f"static const int8_t c{i}_w816[] __attribute__((aligned(4))) = "
                         f"{_c(fc_row_blocks(w.reshape(oc, ic), 8, 16))};\n"
                         f"static const int32_t c{i}_fb[] = {_c(np.zeros(oc) if fc.bias is None else fc.bias)};\n")
            fc_blocks = f"c{i}_w44, c{i}_w816, c{i}_fb"
        entries.append(
            f"  {{{kcode}, {fcs}, {fks}, {in_size}, {{{nb}, {ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, {st_h}, {st_w}, {dil_h}, {dil_w}, {ph}, {pw}, "
            f"{fin}, {oc // ic if dw else 1}, {-zx}, {zy}, {amin}, {amax}}}, "
            f"{{c{i}_w, {f'c{i}_b' if has_bias else '0'}, c{i}_m, c{i}_s, 0}}, {sparse_decl}, c{i}_x, {out_size}, "
            f"{fc_blocks}, {conv_pairs}}},")
        info.append((name, sparse_decl != "0", planes))
    path.write_text("\n".join(decls) + f"\n#define KCASE_COUNT {len(CASES)}\n#define KCASE_MAX_OUT {max_out}\n"
                    "static const kcase kcases[KCASE_COUNT] = {\n" + "\n".join(entries) + "\n};\n")
    return info


def _sources(case_dir: Path) -> L.FirmwareSources:
    c = L.C_DIR
    return L.FirmwareSources(
        model_dir=case_dir,
        kernel_sources=(c / "kernels" / "conv.c", c / "kernels" / "binary.c", c / "kernels" / "pooling.c",
                        c / "kernels" / "band_add.c",  # the portable fused sub-band ADD behind tinyasc_opt_band_add.c
                        c / "kernels" / "int16.c", c / "kernels" / "fully_connected.c",
                        c / "kernels" / "data_movement.c",  # the portable PAD behind tinyasc_opt_pad.c
                        *sorted((c / "opt").glob("*.c")),
                        *sorted((c / "sparse").glob("*.c"))),
        include_dirs=(c / "include", c / "opt", c / "sparse"))


def _parse(text: str) -> list[tuple[int, int | None, int]]:
    rows = []
    for line in text.splitlines():
        p = line.split()
        if p[:2] == ["TINYASC", "CHECK"]:
            rows.append((int(p[3]), None if p[4] == "none" else int(p[4]), int(p[5])))
    return rows


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("kcases")
    info = write_cases(d / "kernel_cases.h")
    return d, info


@pytest.fixture(scope="module")
def host_rows(case_dir):
    d, info = case_dir
    exe = L.build_host(_sources(d), d / "host", main_source=SELFTEST / "kernel_check.c", name="kcheck")
    proc = L.run([exe])
    assert "TINYASC DONE" in proc.stdout
    return _parse(proc.stdout)


def test_sparse_encoding_round_trip_and_size():
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, size=(24, 600)).astype(np.int8)
    w[rng.random(w.shape) < 0.89] = 0
    w[3] = 0  # an all-zero channel
    w[5, :] = 0
    w[5, 599] = 9  # a gap longer than 255 needs escapes
    s = encode_rows(w)
    assert np.array_equal(decode_rows(s), w)
    assert s.nnz == np.count_nonzero(w)
    assert int((s.gaps == 255).sum()) >= 2
    # about 2 bytes per non-zero: at 89% pruning well under a third of the dense bytes
    assert s.flash_bytes == 2 * 24 + s.gaps.size + s.nnz + DESCRIPTOR_BYTES and DESCRIPTOR_BYTES == 24
    assert s.flash_bytes < 0.3 * w.size


def test_sparse_only_where_the_kernel_takes_it_and_it_saves_flash():
    """The kernel keeps each non-zero's window offset in 16 bits beside its weight: a layer whose window spans
    more input bytes stays dense, as do grouped layers, windows over SPARSE_MAX_K and encodings not smaller."""
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, size=(8, 90)).astype(np.int8)
    w[rng.random(w.shape) < 0.89] = 0
    enc = encode_rows(w)
    # 3x3 window over 10 channels: span ((3-1) * 1 * in_w + 2 + 1) * 10
    ok = window_span(k_h=3, k_w=3, dil_h=1, dil_w=1, in_w=100, in_c=10)
    assert ok == (2 * 100 + 3) * 10 and why_dense(enc, grouped=False, span=ok) is None
    wide = window_span(k_h=3, k_w=3, dil_h=1, dil_w=1, in_w=3300, in_c=10)
    assert wide > SPARSE_MAX_SPAN and "span" in why_dense(enc, grouped=False, span=wide)
    assert why_dense(enc, grouped=False, span=SPARSE_MAX_SPAN) is None  # the largest offset is span - 1
    assert why_dense(enc, grouped=True, span=ok) == "grouped convolution"
    # on a Helium core only one-input-channel layers and very sparse ones go sparse (its dense kernels are faster
    # on the others): 11% dense stays dense, 3% (HELIUM_SPARSE_MAX_DENSITY) goes sparse, one weight more does not
    assert why_dense(enc, grouped=False, span=ok, helium=True, in_c=10).startswith("Helium")
    assert why_dense(enc, grouped=False, span=ok, helium=True, in_c=1) is None
    assert why_dense(enc, grouped=False, span=ok, helium=False, in_c=10) is None
    w3 = np.zeros((10, 90), np.int8)
    w3.reshape(-1)[rng.choice(w3.size, size=27, replace=False)] = 5  # 27 of 900 = 0.03
    assert why_dense(encode_rows(w3), grouped=False, span=ok, helium=True, in_c=10) is None
    w3.reshape(-1)[np.flatnonzero(w3.reshape(-1) == 0)[0]] = 7
    assert "density 0.031" in why_dense(encode_rows(w3), grouped=False, span=ok, helium=True, in_c=10)
    # a pointwise layer Helium's planes take (planes=True) goes sparse where the planes' estimate beats the dense
    # kernel's: 11% dense (90 -> 8) does, half dense does not (the reason names the planes), and one whose non-zeros
    # the planes' table cannot hold (4 words a channel, 2 a non-zero) is weighed as the scalar kernel
    assert why_dense(enc, grouped=False, span=ok, helium=True, in_c=90, planes=True) is None
    assert helium_planes_pay(enc, in_c=90) and planes_fit(enc, in_c=90)
    half = w.copy()
    half[:, ::2] = 3
    assert "sparse planes at density 0.5" in why_dense(encode_rows(half), grouped=False, span=ok, helium=True, in_c=90,
                                                       planes=True)
    big = np.zeros((100, 64), np.int8)
    big.reshape(-1)[rng.choice(big.size, size=600, replace=False)] = 4  # 4 x 100 + 2 x 600 > SPARSE_MAX_K words
    assert planes_fit(encode_rows(big), in_c=64) and planes_groups(encode_rows(big)) == 2
    wide_row = np.zeros((2, 1280), np.int8)
    wide_row[0, :700] = 3  # one channel alone over the table (4 + 2 x 700 words): the scalar kernel
    assert not planes_fit(encode_rows(wide_row), in_c=1280)
    assert "scalar sparse one at density 0.273" in why_dense(encode_rows(wide_row), grouped=False, span=1280,
                                                             helium=True, in_c=1280, planes=True)
    assert "not smaller" in why_dense(encode_rows(rng.integers(1, 9, size=(4, 90)).astype(np.int8)), grouped=False, span=ok)
    assert "window of" in why_dense(encode_rows(np.ones((2, SPARSE_MAX_K + 1), np.int8)), grouped=False, span=ok)


def test_window_stride2_is_the_strided_entry():
    """generator.window_stride2 (kernel_check.c mirrors it) sends a depthwise layer of windows over both axes to
    depthwise_window_s2_s8, the entry that links the DSP cores' planes at stride 2, only where no undilated axis has
    stride 1 and one has stride 2 (the stride-2 plane cases above)."""
    base = dict(batches=1, in_h=12, in_w=18, in_c=4, out_h=6, out_w=9, out_c=4, k_h=3, k_w=3, stride_h=2,
                stride_w=2, dil_h=1, dil_w=1, pad_h=0, pad_w=0, filter_in_c=1, depth_multiplier=1, input_offset=128,
                output_offset=-3, act_min=-128, act_max=127)
    assert window_stride2(ConvParams(**base))
    assert window_stride2(ConvParams(**{**base, "stride_h": 3}))  # x alone at stride 2
    assert window_stride2(ConvParams(**{**base, "stride_h": 1, "dil_h": 2}))  # y stride 1 but dilated
    for change in ({"stride_w": 1}, {"stride_h": 1}, {"stride_h": 3, "dil_w": 2}, {"stride_h": 3, "stride_w": 3}):
        assert not window_stride2(ConvParams(**{**base, **change})), change
    s2 = {n for n in CASES if "_plane_s2" in n}
    assert len(s2) == 7 and all(CASES[n][8] == 2 for n in s2)  # stride 2 on both axes (st)


def test_depthwise_column_is_the_long_column_entry():
    """generator.depthwise_column (kernel_check.c mirrors it) sends a depthwise layer of one column longer than three
    taps to depthwise_column_s8, the entry that links the DSP cores' runs of whole columns; three taps, a second
    column or a depth multiplier keep theirs."""
    base = dict(batches=1, in_h=64, in_w=9, in_c=20, out_h=1, out_w=9, out_c=20, k_h=64, k_w=1, stride_h=1,
                stride_w=1, dil_h=1, dil_w=1, pad_h=0, pad_w=0, filter_in_c=1, depth_multiplier=1, input_offset=128,
                output_offset=-3, act_min=-128, act_max=127)
    assert depthwise_column(ConvParams(**base))
    assert depthwise_column(ConvParams(**{**base, "k_h": 4, "out_h": 61}))
    for change in ({"k_h": 3, "out_h": 62}, {"k_w": 2, "out_w": 8}, {"depth_multiplier": 2, "out_c": 40}):
        assert not depthwise_column(ConvParams(**{**base, **change})), change


def test_helium_takes_the_column_entry_for_short_columns_only():
    """On Helium the column entry's runs (dw_column_runs, four channels in int32 lanes) serve columns of at most
    DW_RUN_MAX_TAPS taps, the generator's HELIUM_COLUMN_MAX_TAPS; longer ones, and a layer of one window, keep the
    general entry (dw_column8's int16 lanes); the DSP cores send every column to their entry, the portable library
    none."""
    text = (C_DIR / "opt" / "tinyasc_opt_mve.c").read_text()
    assert int(re.search(r"#define DW_RUN_MAX_TAPS (\d+)", text).group(1)) == HELIUM_COLUMN_MAX_TAPS
    base = dict(batches=1, in_h=28, in_w=1, in_c=128, out_h=24, out_w=1, out_c=128, k_h=5, k_w=1, stride_h=1,
                stride_w=1, dil_h=1, dil_w=1, pad_h=0, pad_w=0, filter_in_c=1, depth_multiplier=1, input_offset=128,
                output_offset=-2, act_min=-128, act_max=127)  # the streaming wake word's first column
    n = HELIUM_COLUMN_MAX_TAPS
    short, long_ = ConvParams(**base), ConvParams(**{**base, "in_h": n + 4, "k_h": n + 1, "out_h": 4})
    at_max = ConvParams(**{**base, "in_h": n + 4, "k_h": n, "out_h": 5})
    assert depthwise_column_entry(short, Target.CORTEX_M55) and depthwise_column_entry(at_max, Target.CORTEX_M55)
    assert not depthwise_column_entry(long_, Target.CORTEX_M55)
    one = ConvParams(**{**base, "in_h": 15, "k_h": 15, "out_h": 1})  # the wake word's last column: one window
    assert not depthwise_column_entry(one, Target.CORTEX_M55) and depthwise_column_entry(one, Target.CORTEX_M4)
    assert depthwise_column_entry(long_, Target.CORTEX_M4) and depthwise_column_entry(short, Target.CORTEX_M7)
    assert not depthwise_column_entry(short, None)


def test_pointwise_on_planes_is_what_the_planes_kernel_takes():
    """generator.pointwise_on_planes mirrors mve_sparse_pw's checks (tinyasc_sparse.c): 1 x 1, stride 1, no padding,
    several input channels, the whole int8 range; each failing condition alone turns it off."""
    base = dict(batches=1, in_h=8, in_w=17, in_c=40, out_h=8, out_w=17, out_c=20, k_h=1, k_w=1, stride_h=1,
                stride_w=1, dil_h=1, dil_w=1, pad_h=0, pad_w=0, filter_in_c=40, depth_multiplier=1, input_offset=128,
                output_offset=-3, act_min=-128, act_max=127)
    assert pointwise_on_planes(ConvParams(**base))
    for change in ({"k_h": 3, "in_h": 10}, {"stride_w": 2, "out_w": 9}, {"pad_h": 1}, {"in_c": 1, "filter_in_c": 1},
                   {"act_min": -3}, {"act_max": 100}):
        assert not pointwise_on_planes(ConvParams(**{**base, **change})), change


def test_planes_cases_carry_the_flag(case_dir):
    """The cases meant for Helium's pointwise planes carry the descriptor's flag (so the M55 run below takes that
    path), the one with a ReLU's range does not, nor does any layer that is not 1 x 1 at stride 1 unpadded."""
    _, info = case_dir
    flagged = {name for name, _, planes in info if planes}
    want = {"conv1x1_c40_c20_planes_fold", "inplace1x1_c40_c20_planes_fold", "conv1x1_c200_c8_planes_b2_fold",
            "conv1x1_c16_c30_planes_pow2m_fold", "conv1x1_c20_c12_planes_fold_zyrelu", "conv1x1_c64_c100_planes_fold",
            "conv1x1_c20_c8_planes_fold_leftshift"}
    assert want <= flagged and "conv1x1_c24_c10_planes_fold_relu" not in flagged
    assert all(CASES[n][6:8] == (1, 1) and CASES[n][8] == 1 and not CASES[n][10] for n in flagged)


def test_optimized_and_sparse_bit_exact_on_host(case_dir, host_rows):
    _, info = case_dir
    assert len(host_rows) == len(info)
    for (name, has_sparse, _), (dense, sparse, _) in zip(info, host_rows):
        assert dense == 0, name
        assert (sparse is not None) == has_sparse, name
        if has_sparse:
            assert sparse == 0, name


@pytest.mark.arm
@pytest.mark.parametrize("target", list(L.Target), ids=lambda t: t.value)
def test_optimized_and_sparse_bit_exact_on_target(case_dir, host_rows, target, tmp_path):
    _check_on_target(case_dir, host_rows, target, tmp_path, _sources(case_dir[0]))


@pytest.mark.arm
def test_helium_one_block_pairs_bit_exact_without_pairs3(case_dir, host_rows, tmp_path):
    """The M55 without tinyasc_opt_pairs3.c (a library whose layers ship none of it): its weak references null, the
    one-block pairs kernels take every case, the windows in threes of blocks included."""
    src = _sources(case_dir[0])
    kept = tuple(f for f in src.kernel_sources if f.name != "tinyasc_opt_pairs3.c")
    assert len(kept) == len(src.kernel_sources) - 1
    _check_on_target(case_dir, host_rows, L.Target.CORTEX_M55, tmp_path,
                     dataclasses.replace(src, kernel_sources=kept))


def _check_on_target(case_dir, host_rows, target, tmp_path, sources) -> None:
    d, info = case_dir
    build = L.build_target(sources, target, tmp_path, main_source=SELFTEST / "kernel_check.c", profile=False,
                           name="kcheck")
    run_dir = tmp_path / "run"
    L.run_qemu(build, run_dir, plugin=None)
    rows = _parse((run_dir / "kcheck.semihost.txt").read_text())
    assert len(rows) == len(info)
    for (name, has_sparse, _), (dense, sparse, checksum), host in zip(info, rows, host_rows):
        assert dense == 0, f"{target.value} {name}: {dense} bytes differ from the portable kernel"
        if has_sparse:
            assert sparse == 0, f"{target.value} {name}: sparse kernel differs by {sparse} bytes"
        # the portable kernel itself computes the same bytes on the target as on the host
        assert checksum == host[2], name


REQUANT_CHECK = r"""
#include "tinyasc_opt.h"
#ifdef TINYASC_RQ_TARGET
#include "semihost.h"
#define REPORT(a, b, c) (sh_write0("TINYASC RQ "), sh_write_u32((uint32_t)(a)), sh_write0(" "), \
                         sh_write_u32((uint32_t)(b)), sh_write0(" "), sh_write_u32((uint32_t)(c)), \
                         sh_write0("\nTINYASC DONE\n"))
#else
#include <stdio.h>
#define REPORT(a, b, c) printf("TINYASC RQ %ld %ld %ld\n", (long)(a), (long)(b), (long)(c))
#endif
int main(void) {
    static const int32_t edges[] = {0, 1, -1, 2, -2, 127, -128, 1 << 20, -(1 << 20), 0x3fffffff, -0x40000000,
                                    0x7fffffff, (int32_t)0x80000000, 0x7ffffffe, (int32_t)0x80000001};
    uint32_t s = 1u;
    long bad = 0, bad_out = 0, n = 0;
    tinyasc_conv_params p = {0};
    p.act_min = -128; p.act_max = 127; p.output_offset = 3;
    for (long i = 0; i < N_TRIPLES; i++) {
        int32_t acc, m, sh;
        s = s * 1664525u + 1013904223u; acc = (i % 7 == 0) ? edges[(s >> 8) % 15] : (int32_t)s >> ((s >> 3) % 24);
        s = s * 1664525u + 1013904223u; m = (int32_t)((1u << 30) + (s >> 2));
        if (i % 11 == 0) m = (i % 22 == 0) ? 0x7fffffff : (1 << 30);
        s = s * 1664525u + 1013904223u; sh = (int32_t)(s % 62u) - 31;
        if (i % 3 == 0) sh = -(int32_t)(s % 12u); /* the shifts models use most, 0..-11, more often */
        tinyasc_weights w = {0, 0, &m, &sh, 0};
        const int32_t want = tinyasc_mbqm(acc, m, sh);
        const int32_t o = (int32_t)((uint32_t)want + 3u); /* int32 wrap, as the kernels' add compiles */
        const int32_t clamped = o > 127 ? 127 : (o < -128 ? -128 : o);
        bad += tinyasc_opt_requant(acc, m, sh) != want; /* the whole int32, not only its low byte */
        bad_out += tinyasc_opt_out(&p, &w, acc, 0) != (int8_t)clamped;
#if defined(__ARM_FEATURE_MVE)
        if (sh <= -1) { /* Helium's four-lane output path (any right shift), the triple in lane i % 4 */
            int32_t ms[4] = {m, m, m, m}, ss[4] = {sh, sh, sh, sh}, accs[4] = {acc ^ 5, acc, -acc, acc >> 3}, got[4];
            const tinyasc_weights w4 = {0, 0, ms, ss, 0};
            accs[i % 4] = acc;
            vstrwq_s32(got, tinyasc_rq_x4_apply(vldrwq_s32(accs), tinyasc_rq_x4_consts(&w4, 3, 0, vctp32q(4u))));
            bad_out += got[i % 4] != clamped;
        }
        { /* the form for any shift (left shifts too), the triple in lane i % 4 beside lanes of other shifts */
            int32_t ms[4] = {m, m, m, m}, ss[4] = {-5, 3, 0, -1}, accs[4] = {acc ^ 5, acc, -acc, acc >> 3}, got[4];
            const tinyasc_weights w4 = {0, 0, ms, ss, 0};
            ss[i % 4] = sh;
            accs[i % 4] = acc;
            vstrwq_s32(got, tinyasc_rq_x4_any_apply(vldrwq_s32(accs), tinyasc_rq_x4_any_consts(&w4, 3, 0, vctp32q(4u))));
            bad_out += got[i % 4] != clamped;
        }
#endif
        n++;
    }
    REPORT(bad, bad_out, n);
    return 0;
}
"""


def test_fast_requantization_equals_mbqm(tmp_path):
    """3 million (accumulator, multiplier, shift) triples incl. INT32 extremes and shifts -31..30:
    the fast requantization used by every optimized kernel equals tinyasc_mbqm exactly, as an int32
    and after the output offset and clamp; on the host, and 300,000 of them on the emulated M4 and M55
    (there also Helium's four-lane version on every triple with a right shift, and its form for any shift on
    every triple)."""
    src = tmp_path / "rq.c"
    src.write_text(REQUANT_CHECK)
    exe = tmp_path / "rq"
    L.run(["gcc", "-O2", "-DN_TRIPLES=3000000", f"-I{L.C_DIR / 'include'}", f"-I{L.C_DIR / 'opt'}", src,
           "-o", exe])
    assert L.run([exe]).stdout.split() == ["TINYASC", "RQ", "0", "0", "3000000"]
    d = tmp_path / "m4"
    d.mkdir()
    (d / "rq_main.c").write_text("#define N_TRIPLES 300000\n#define TINYASC_RQ_TARGET 1\n" + REQUANT_CHECK)
    build = L.build_target(L.FirmwareSources(model_dir=d, kernel_sources=(), include_dirs=(L.C_DIR / "include",
                                                                                         L.C_DIR / "opt",
                                                                                         L.TARGETS_DIR)),
                           L.Target.CORTEX_M4, d / "build", main_source=d / "rq_main.c", profile=False, name="rq")
    L.run_qemu(build, d / "run", plugin=None)
    assert "TINYASC RQ 0 0 300000" in (d / "run" / "rq.semihost.txt").read_text()
    # Helium: also the four-lane output path (tinyasc_rq_x4_apply) on every triple with a right shift
    build = L.build_target(L.FirmwareSources(model_dir=d, kernel_sources=(), include_dirs=(L.C_DIR / "include",
                                                                                         L.C_DIR / "opt",
                                                                                         L.TARGETS_DIR)),
                           L.Target.CORTEX_M55, d / "build55", main_source=d / "rq_main.c", profile=False, name="rq")
    L.run_qemu(build, d / "run55", plugin=None)
    assert "TINYASC RQ 0 0 300000" in (d / "run55" / "rq.semihost.txt").read_text()


@pytest.mark.parametrize("header", ["tinyasc_kernels.h", "tinyasc_opt.h"])
def test_single_rounding_build_is_refused(tmp_path, header):
    """TFLite's single-rounding build is not offered (it changes Prepare()'s multipliers and every optimized
    kernel's rescaling; the earlier define switched only the portable kernels'): defining TINYASC_SINGLE_ROUNDING
    stops the compilation with one line naming it, for the portable and the optimized library; without it the same
    source compiles."""
    src = tmp_path / "sr.c"
    src.write_text(f'#include "{header}"\nint main(void) {{ return tinyasc_mbqm(3, 1 << 30, -1); }}\n')
    cmd = ["gcc", "-c", f"-I{L.C_DIR / 'include'}", f"-I{L.C_DIR / 'opt'}", str(src), "-o", str(tmp_path / "sr.o")]
    L.run(cmd)
    with pytest.raises(L.RunError) as err:
        L.run([*cmd, "-DTINYASC_SINGLE_ROUNDING"])
    assert "TINYASC_SINGLE_ROUNDING is not supported" in str(err.value)


# ------------------------------------------------------------------ element-wise (tinyasc_opt_<op>)

# name: (op 0 add 1 sub 2 mul 3 sqdiff, out shape, in1 shape, in2 shape, in place)
BCASES = {
    "add_channel_bcast": (0, (1, 16, 9, 12), (1, 16, 9, 12), (1, 1, 1, 12), False),
    "add_full_inplace": (0, (1, 8, 17, 10), (1, 8, 17, 10), (1, 8, 17, 10), True),
    "add_small_no_lut": (0, (1, 3, 5, 7), (1, 3, 5, 7), (1, 3, 1, 7), False),
    "add_two_sided": (0, (1, 6, 11, 10), (1, 1, 11, 1), (1, 6, 1, 10), False),
    "sub_freq_bcast_inplace": (1, (1, 20, 17, 10), (1, 20, 17, 10), (1, 20, 1, 10), True),
    "sub_first_bcast": (1, (1, 9, 13, 4), (1, 9, 1, 1), (1, 9, 13, 4), False),
    "mul_channel_bcast": (2, (1, 16, 17, 10), (1, 16, 17, 10), (1, 1, 1, 10), False),
    "mul_full": (2, (1, 4, 30, 8), (1, 4, 30, 8), (1, 4, 30, 8), False),
    "sqdiff_bcast": (3, (1, 12, 17, 10), (1, 12, 17, 10), (1, 12, 1, 10), False),
    # output scales that leave the rescaling's shift at -1 (ADD) and +1 (MUL): the general form
    # instead of the folded one (every case above folds)
    "add_unfolded": (0, (1, 8, 9, 10), (1, 8, 9, 10), (1, 8, 9, 10), False),
    # output rescaling above one (shift +1): outside the _fast entries' precondition for ADD and SUB
    # (generator.binary_fast_ok: the wrapper and its portable path), inside it for SQUARED_DIFFERENCE
    "add_out_above_one": (0, (1, 5, 9, 10), (1, 5, 9, 10), (1, 5, 1, 10), False),
    "sub_out_above_one_inplace": (1, (1, 4, 7, 6), (1, 4, 7, 6), (1, 4, 7, 6), True),
    "sqdiff_out_above_one": (3, (1, 4, 7, 6), (1, 4, 7, 6), (1, 1, 7, 6), False),
    "mul_unfolded": (2, (1, 8, 9, 10), (1, 8, 9, 10), (1, 1, 9, 10), False),
    # "_fullrange": the whole int8 range, as every odd-numbered case has: the output zero point
    # folds into the rounding constant and the clamp is SSAT
    "sqdiff_fullrange": (3, (1, 12, 17, 10), (1, 12, 17, 10), (1, 12, 1, 10), False),
    "sub_lut_fullrange": (1, (1, 20, 17, 10), (1, 20, 17, 10), (1, 20, 1, 10), True),
    # SUB whose second input has the larger scale (exactly halved: subtracted as -(x + off) 2^19) over one
    # contiguous run of 693 (tabulated on the DSP cores; Helium: 173 whole vectors and a predicated one)
    "sub_second_halved": (1, (1, 9, 11, 7), (1, 9, 11, 7), (1, 9, 11, 7), False),
    # ADD of a full-shape input exactly halved (the larger scale) and one row broadcast down the rows (a
    # BC-ResBlock's temporal branch added to every frequency row): the DSP cores go column by column, one table
    # lookup per column (add8_halved_cols), Helium four columns at a time (addsub4_cols); the halved input first (in
    # place, full range) or second, a clamped output range, and SUB both ways
    "add_rows_big1_inplace_fullrange": (0, (1, 32, 17, 20), (1, 32, 17, 20), (1, 1, 17, 20), True),
    "add_rows_big2": (0, (1, 24, 9, 12), (1, 1, 9, 12), (1, 24, 9, 12), False),
    "add_rows_big1_clamped": (0, (1, 16, 8, 6), (1, 16, 8, 6), (1, 1, 8, 6), False),
    "sub_rows_big2": (1, (1, 10, 7, 9), (1, 1, 7, 9), (1, 10, 7, 9), False),
    "sub_rows_big1_inplace": (1, (1, 12, 5, 11), (1, 12, 5, 11), (1, 1, 5, 11), True),
    # "_relu": a fused ReLU's output quantization (zero point -128, range from it): the DSP cores rescale the doubled
    # sum with SMMLAR (relu_range: a negative sum's rounding never matters), column by column, contiguous (the halved
    # input first or second) and SUB
    "add_rows_big1_inplace_relu": (0, (1, 32, 17, 20), (1, 32, 17, 20), (1, 1, 17, 20), True),
    "add_full_big2_relu": (0, (1, 8, 17, 10), (1, 8, 17, 10), (1, 8, 17, 10), False),
    "add_full_big1_inplace_relu": (0, (1, 6, 17, 10), (1, 6, 17, 10), (1, 6, 17, 10), True),
    "sub_rows_big1_relu": (1, (1, 16, 9, 12), (1, 16, 9, 12), (1, 1, 9, 12), False),
    # an odd number of rows (the DSP cores' column loop takes one row, then two per pass), ReLU and full range
    "add_rows_big1_odd_inplace_relu": (0, (1, 7, 9, 12), (1, 7, 9, 12), (1, 1, 9, 12), True),
    "add_rows_big1_odd_fullrange": (0, (1, 9, 5, 8), (1, 9, 5, 8), (1, 1, 5, 8), False),
    # "_pow2": scales 0.1, 0.05 -> 0.1, so that the output rescaling is exactly 2^-19 and every sum with an odd second
    # input is a tie of the last rounding (half away from zero: the sign's rounding, which the DSP cores' doubled-sum
    # form takes with one SUB), column by column and contiguous, full range
    "add_rows_big1_pow2_fullrange": (0, (1, 12, 9, 10), (1, 12, 9, 10), (1, 1, 9, 10), False),
    "add_full_big1_pow2_inplace_fullrange": (0, (1, 6, 17, 10), (1, 6, 17, 10), (1, 6, 17, 10), True),
    # contiguous runs whose length leaves 3, 2, 1 elements after the DSP cores' passes of four (add8_quads_*_dsp):
    # the ReLU form in place, the sign's SUB on ties (_pow2), a SUB
    "add_full_big1_rem3_inplace_relu": (0, (1, 5, 7, 9), (1, 5, 7, 9), (1, 5, 7, 9), True),
    "add_full_rem2_pow2_fullrange": (0, (1, 2, 9, 7), (1, 2, 9, 7), (1, 2, 9, 7), False),
    "sub_full_big1_rem1_fullrange": (1, (1, 5, 5, 5), (1, 5, 5, 5), (1, 5, 5, 5), False),
    # a row of 35 columns broadcast down the rows: the DSP cores' four columns per call (add8_cols4_dsp) eight times,
    # the last three in the C loop; in place, the ReLU form, and the full range on ties (_pow2)
    "add_rows_big1_c35_inplace_relu": (0, (1, 6, 5, 7), (1, 6, 5, 7), (1, 1, 5, 7), True),
    "add_rows_c35_pow2_fullrange": (0, (1, 6, 5, 7), (1, 6, 5, 7), (1, 1, 5, 7), False),
    # Helium's contiguous halved ADD/SUB from 512 elements with the other input's term from a table (addsub4_tab): a
    # SUB whose first input is halved (the table's terms negated) over 693 elements (a predicated last vector)
    "sub_full_big1_n693_fullrange": (1, (1, 7, 11, 9), (1, 7, 11, 9), (1, 7, 11, 9), False),
}


def _pad6(shape):
    return [1] * (6 - len(shape)) + list(shape)


def _bstrides(shape, out):
    shp, o = _pad6(shape), _pad6(out)
    st = [int(np.prod(shp[k + 1:])) for k in range(6)]
    return [0 if (shp[k] == 1 and o[k] != 1) else st[k] for k in range(6)]


def write_binary_cases(path: Path, seed: int = 11) -> list[bool]:
    """binary_cases.h; returns per case whether the generator would call the ``_fast`` entry."""
    from tinyasc.firmware_sim import quant
    from tinyasc.firmware_sim.generator import binary_fast_ok
    from tinyasc.firmware_sim.params import BinaryParams

    rng = np.random.default_rng(seed)
    decls, entries, max_size, fast_cases = [], [], 1, []
    for i, (name, (op, out, sa, sb, in_place)) in enumerate(BCASES.items()):
        s1, s2, so = (float(x) for x in rng.uniform(0.01, 0.2, size=3))
        if name == "add_unfolded":
            so = 2 * max(s1, s2) / ((1 << 20) * 0.3)  # output rescaling 0.3: shift -1
        elif name == "mul_unfolded":
            so = s1 * s2 / 1.5  # output rescaling 1.5: shift +1
        elif name == "sub_second_halved" or "_big2" in name:
            s1, s2 = min(s1, s2), 1.5 * max(s1, s2)
        elif "_pow2" in name:
            s1, s2, so = 0.1, 0.05, 0.1
        elif "_big1" in name:
            s1, s2 = 1.5 * max(s1, s2), min(s1, s2)
        if op in (0, 1):
            m1, h1, m2, h2, mo, ho = (quant.add_params if op == 0 else quant.sub_params)(s1, s2, so)
            ls = 20
        elif op == 2:
            m1 = h1 = m2 = h2 = 0
            mo, ho = quant.quantize_multiplier(s1 * s2 / so)
            ls = 0
        else:
            m1, h1, m2, h2, mo, ho = quant.squared_difference_params(s1, s2, so * 20)
            ls = 7
        if name.endswith(("_out_above_one", "_out_above_one_inplace")):
            # output rescaling 1.5 (shift +1): parameters TFLite's Prepare never gives an ADD or SUB (it quantizes that
            # rescaling as below one), which the wrappers still take and the _fast entries' precondition excludes
            mo, ho = quant.quantize_multiplier(1.5)
        a = rng.integers(-128, 128, size=sa).astype(np.int8)
        b = rng.integers(-128, 128, size=sb).astype(np.int8)
        size = int(np.prod(out))
        max_size = max(max_size, size)
        bc = int(not (tuple(sa) == tuple(sb) == tuple(out)))
        z1, z2, zo = (int(v) for v in rng.integers(-60, 60, size=3))
        amin = -128 if i % 2 or name.endswith("_fullrange") else zo
        if name.endswith("_relu"):
            zo = amin = -128
        bp = BinaryParams(size=size, broadcast=bc, out_dims=tuple(_pad6(out)), in1_strides=tuple(_bstrides(sa, out)),
                          in2_strides=tuple(_bstrides(sb, out)), in1_offset=-z1, in2_offset=-z2, out_offset=zo,
                          left_shift=ls, in1_mult=m1, in1_shift=h1, in2_mult=m2, in2_shift=h2, out_mult=mo,
                          out_shift=ho, act_min=amin, act_max=127)
        fast = binary_fast_ok(bp, ("add", "sub", "mul", "squared_difference")[op])
        fast_cases.append(fast)
        decls.append(f"static const int8_t b{i}_a[] = {_c(a)};\nstatic const int8_t b{i}_b[] = {_c(b)};\n")
        entries.append(
            f"  {{{op}, {int(in_place)}, {int(fast)}, {{{size}, {bc}, {_c(_pad6(out))}, {_c(_bstrides(sa, out))}, "
            f"{_c(_bstrides(sb, out))}, {-z1}, {-z2}, {zo}, {ls}, {m1}, {h1}, {m2}, {h2}, {mo}, {ho}, {amin}, 127}}, "
            f"b{i}_a, b{i}_b, {a.size}}},")
    path.write_text("\n".join(decls) + f"\n#define BCASE_COUNT {len(BCASES)}\n#define BCASE_MAX {max_size}\n"
                    "static const bcase bcases[BCASE_COUNT] = {\n" + "\n".join(entries) + "\n};\n")
    return fast_cases


def _parse_binary(text: str, tag: str = "BINARY") -> list[tuple[int, int]]:
    return [(int(p[3]), int(p[4])) for p in (line.split() for line in text.splitlines()) if p[:2] == ["TINYASC", tag]]


@pytest.fixture(scope="module")
def binary_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bcases")
    fast = write_binary_cases(d / "binary_cases.h")
    (d / "fast.json").write_text(json.dumps(fast))
    return d


@pytest.mark.parametrize("target", [None, *L.Target], ids=lambda t: "host" if t is None else t.value)
def test_fast_elementwise_bit_exact(binary_dir, target, tmp_path):
    """ADD/SUB/MUL/SQUARED_DIFFERENCE through the fast kernels (tinyasc_opt_*) equal the portable ones
    (zero differing bytes), with broadcasting on one side, both sides, and in place; and through the ``_fast`` entries
    wherever the generator would call them (generator.binary_fast_ok), also zero differing bytes."""
    src = _sources(binary_dir)
    main = SELFTEST / "binary_check.c"
    if target is None:
        exe = L.build_host(src, tmp_path, main_source=main, name="bcheck")
        text = L.run([exe]).stdout
    else:
        build = L.build_target(src, target, tmp_path, main_source=main, profile=False, name="bcheck")
        L.run_qemu(build, tmp_path / "run", plugin=None)
        text = (tmp_path / "run" / "bcheck.semihost.txt").read_text()
    rows = _parse_binary(text)
    assert len(rows) == len(BCASES)
    for name, (bad, checksum) in zip(BCASES, rows):
        assert bad == 0, f"{name}: {bad} bytes differ"
    assert len({c for _, c in rows}) == len(rows)  # distinct outputs: no case is trivially constant
    # the _fast entries (no portable kernel behind them) on every case whose parameters the generator would send there
    fast = json.loads((binary_dir / "fast.json").read_text())
    slow = {n for n, f in zip(BCASES, fast) if not f}
    assert slow == {"add_out_above_one", "sub_out_above_one_inplace"}, slow  # SQUARED_DIFFERENCE's output may exceed one
    fast_rows = _parse_binary(text, "BINARY_FAST")
    assert len(fast_rows) == sum(fast)
    for name, (bad, _) in zip([n for n, f in zip(BCASES, fast) if f], fast_rows):
        assert bad == 0, f"{name} (_fast entry): {bad} bytes differ"


# ------------------------------------------------------------------ MAX_POOL_2D (tinyasc_opt_max_pool_s8)

# name: (batches, in_h, in_w, channels, f_h, f_w, stride_h, stride_w, pad_h, pad_w, act_min, act_max)
PCASES = {
    "max2x2_s2_c10": (1, 16, 9, 10, 2, 2, 2, 2, 0, 0, -128, 127),  # the quick model's shape, odd width
    "max2x2_s2_c16_b2": (2, 8, 8, 16, 2, 2, 2, 2, 0, 0, -128, 127),
    "max3x3_s1_same_c7": (1, 7, 6, 7, 3, 3, 1, 1, 1, 1, -128, 127),  # clipped windows, 4 + 3 channels
    "max3x2_s2_pad_c5_clamp": (1, 9, 11, 5, 3, 2, 2, 2, 1, 0, -20, 90),  # activation range inside int8
    "max2x3_s1_c3_relu": (1, 5, 9, 3, 2, 3, 1, 1, 0, 1, 0, 127),  # fewer channels than a word
    "max1x1_c12": (1, 3, 4, 12, 1, 1, 1, 1, 0, 0, -128, 127),
    # more channels than one Helium vector (16 + 16 + a predicated 5), clipped windows, a clamp
    "max3x3_s2_same_c37_clamp": (1, 9, 7, 37, 3, 3, 2, 2, 1, 1, -100, 60),
    # whole 2 x 2 windows (the DSP cores: four words without the tap loops) beside clipped ones, 8 + 1 channels
    "max2x2_s2_pad_c9": (1, 7, 8, 9, 2, 2, 2, 2, 1, 1, -128, 127),
    # rows of whole 2 x 2 windows in one run (pool2x2_run): 16 + a predicated 4 channels with a clamp (Helium's run;
    # the DSP cores' tap loops), and at stride 1 with 4 + 2 channels (the DSP run's last channels one at a time)
    "max2x2_s2_c20_clamp": (1, 10, 11, 20, 2, 2, 2, 2, 0, 0, -60, 100),
    "max2x2_s1_c6": (1, 6, 7, 6, 2, 2, 1, 1, 0, 0, -128, 127),
    # every case runs AVERAGE_POOL_2D too; here a global average (KWS DS-CNN's 25 x 5 over 64 channels) and a window of
    # more than 256 taps (int32 sums), with 21 channels (Helium: 16 + a predicated 5; DSP: 4 x 5 + 1)
    "pool25x5_global_c64": (1, 25, 5, 64, 25, 5, 1, 1, 0, 0, -128, 127),
    "pool17x17_global_c21_b2": (2, 17, 17, 21, 17, 17, 1, 1, 0, 0, -128, 127),
    # Helium's division of the int16 sums by the window's count as a multiply-high (avg_out_mve): MobileNet's global
    # 3 x 3 over 256 channels, windows of 256 taps (the largest the int16 sums take) at both ends of int8, clipped
    # windows of 1, 2, 3, 4 and 6 taps with a clamp (a count of one keeps the scalar path)
    "pool3x3_global_c256": (1, 3, 3, 256, 3, 3, 1, 1, 0, 0, -128, 127),
    "pool16x16_global_c20_allmin": (1, 16, 16, 20, 16, 16, 1, 1, 0, 0, -128, 127),
    "pool16x16_global_c18_allmax": (1, 16, 16, 18, 16, 16, 1, 1, 0, 0, -128, 127),
    "pool3x2_s2_pad_c19_clamp": (1, 7, 6, 19, 3, 2, 2, 2, 1, 1, -90, 70),
}


def write_pool_cases(path: Path, seed: int = 13) -> None:
    rng = np.random.default_rng(seed)
    decls, entries, max_out = [], [], 1
    for i, (name, (nb, ih, iw, c, fh, fw, sh, sw, ph, pw, amin, amax)) in enumerate(PCASES.items()):
        oh, ow = (ih + 2 * ph - fh) // sh + 1, (iw + 2 * pw - fw) // sw + 1
        x = rng.integers(-128, 128, size=(nb, ih, iw, c)).astype(np.int8)
        x.reshape(-1)[:: 17] = -128  # the minimum itself in some windows
        if name.endswith("_allmin") or name.endswith("_allmax"):  # the sums' extremes: -128 x 256, 127 x 256
            x[...] = -128 if name.endswith("_allmin") else 127
        out_size = nb * oh * ow * c
        max_out = max(max_out, out_size)
        decls.append(f"static const int8_t p{i}_x[] = {_c(x)};\n")
        entries.append(f"  {{{{{nb}, {ih}, {iw}, {c}, {oh}, {ow}, {fh}, {fw}, {sh}, {sw}, {ph}, {pw}, {amin}, {amax}}}, "
                       f"p{i}_x, {out_size}}},")
    path.write_text("".join(decls) + f"#define PCASE_COUNT {len(PCASES)}\n#define PCASE_MAX {max_out}\n"
                    "static const pcase pcases[PCASE_COUNT] = {\n" + "\n".join(entries) + "\n};\n")


def test_average_pool_reciprocal_is_exact_for_every_count_and_sum():
    """Helium's AVERAGE_POOL_2D divides the window's int16 sum by its count as a multiply-high (avg_out_mve in
    c/opt/tinyasc_opt_pool.c): a = |sum| + count // 2, q = (a * m') >> 32 with m' = (2^(16+l) // count + 1) << (16 - l),
    l = ceil(log2 count). Exact (zero tolerance) against integer division for every count the int16 path takes (2 to
    256) and every a it can meet (|sum| <= 128 x 256), and m' fits 32 bits; the C itself is checked on the cores by
    test_fast_max_pool_bit_exact."""
    a = np.arange(128 * 256 + 128 + 1, dtype=np.uint64)
    for count in range(2, 257):
        l = (count - 1).bit_length()
        m = ((1 << (16 + l)) // count + 1) << (16 - l)
        assert m < 1 << 32
        assert np.array_equal((a * np.uint64(m)) >> np.uint64(32), a // np.uint64(count)), count


@pytest.mark.parametrize("target", [None, *L.Target], ids=lambda t: "host" if t is None else t.value)
def test_fast_max_pool_bit_exact(target, tmp_path):
    """MAX_POOL_2D through tinyasc_opt_max_pool_s8 (four channels per SSUB8 + SEL on the DSP cores, per
    byte elsewhere) and AVERAGE_POOL_2D through tinyasc_opt_avg_pool_s8 (int16 lanes up to 256 taps) equal the
    portable kernels: zero differing bytes, windows clipped by padding, channel counts not a multiple of 4,
    activation ranges inside int8, batches, a window of more than 256 taps."""
    write_pool_cases(tmp_path / "pool_cases.h")
    src = _sources(tmp_path)
    main = SELFTEST / "pool_check.c"
    if target is None:
        exe = L.build_host(src, tmp_path / "host", main_source=main, name="pcheck")
        text = L.run([exe]).stdout
    else:
        build = L.build_target(src, target, tmp_path / "build", main_source=main, profile=False, name="pcheck")
        L.run_qemu(build, tmp_path / "run", plugin=None)
        text = (tmp_path / "run" / "pcheck.semihost.txt").read_text()
    for kind in ("POOL", "AVGPOOL"):
        rows = [(int(p[3]), int(p[4])) for p in (line.split() for line in text.splitlines()) if p[:2] == ["TINYASC", kind]]
        assert len(rows) == len(PCASES)
        for name, (bad, _) in zip(PCASES, rows):
            assert bad == 0, f"{kind} {name}: {bad} bytes differ"
        assert len({c for _, c in rows}) == len(rows)
