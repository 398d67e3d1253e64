"""CONV_2D with the filter rows in word-interleaved pairs (the DSP cores' layout: generator.conv_row_pairs,
conv_pairs_ok, conv_pairs_core; tinyasc_conv2d_pairs_s8 and tinyasc_opt_conv2d_pairs_s8).

The DSP kernels that read the pairs (conv2x2p_dsp) are compared byte for byte with the portable kernel in
test_latency_kernels.py on the host, M4, M7 and M55; here the Python side and a generated library: the layout puts
every weight where the C header says (rows padded to whole words with zeros), the generator picks the pairs only on
the DSP cores and only for the layers their fast path takes, and such a library (its portable pairs kernel on the
host) equals TensorFlow Lite Micro on every layer.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_firmware_support import convert, edge_inputs, write
from tinyasc.firmware_sim.build import build_host
from tinyasc.firmware_sim.generator import GeneratorOptions, conv_pairs_core, conv_pairs_ok, conv_row_pairs, generate
from tinyasc.firmware_sim.params import ConvParams
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.target import LibraryTarget, Target


@pytest.mark.parametrize("n,k", [(6, 8), (7, 27), (1, 5), (2, 4)])
def test_row_pairs_put_each_weight_where_the_header_says(n, k):
    """tinyasc_kernels.h: rows padded to K4; row 2i's weights k..k+3 at 2i K4 + 2k, row 2i + 1's at 2i K4 + 2k + 4;
    an odd last row at (out_c - 1) K4."""
    rng = np.random.default_rng(n * 31 + k)
    w = rng.integers(-128, 128, size=(n, k)).astype(np.int8)
    flat = conv_row_pairs(w)
    k4 = (k + 3) & ~3
    assert flat.size == n * k4
    want = np.zeros(n * k4, np.int8)
    for oc in range(n):
        for i in range(k4):
            at = oc * k4 + i if oc >= n - n % 2 else (oc & ~1) * k4 + 2 * (i & ~3) + 4 * (oc & 1) + (i & 3)
            want[at] = w[oc, i] if i < k else 0
    assert np.array_equal(flat, want)


def _conv(**kw) -> ConvParams:
    base = dict(batches=1, in_h=8, in_w=8, in_c=16, out_h=8, out_w=8, out_c=8, k_h=3, k_w=3, stride_h=1, stride_w=1,
                dil_h=1, dil_w=1, pad_h=1, pad_w=1, filter_in_c=16, depth_multiplier=1, input_offset=3,
                output_offset=-5, act_min=-128, act_max=127)
    base.update(kw)
    return ConvParams(**base)


def test_pairs_only_for_what_the_dsp_fast_path_takes():
    m, s = [1 << 30] * 8, [-7] * 8
    assert conv_pairs_ok(_conv(), m, s)
    assert conv_pairs_ok(_conv(in_c=3, filter_in_c=3), m, s)  # K = 27: rows padded to 28
    assert not conv_pairs_ok(_conv(act_min=-5), m, s)  # a clamped range: not the fast output path
    assert not conv_pairs_ok(_conv(), m, [-7] * 7 + [-1])  # a channel whose zero point does not fold
    assert not conv_pairs_ok(_conv(), m, [-7] * 7 + [-24])
    assert not conv_pairs_ok(_conv(in_c=16, filter_in_c=4), m, s)  # grouped
    assert not conv_pairs_ok(_conv(out_c=1), m[:1], s[:1])
    assert not conv_pairs_ok(_conv(in_c=257, filter_in_c=257), m, s)  # K4 = 2316 > the DSP cores' 2304
    # one input channel: the one-channel kernel's shapes stay with it (5 or 6 wide at stride 2), others take pairs
    assert not conv_pairs_ok(_conv(in_c=1, filter_in_c=1, k_h=5, k_w=5, stride_h=2, stride_w=2), m, s)
    assert conv_pairs_ok(_conv(in_c=1, filter_in_c=1, k_h=10, k_w=4, stride_h=2, stride_w=2), m, s)
    assert conv_pairs_core(Target.CORTEX_M4) and conv_pairs_core(Target.CORTEX_M7)
    assert not conv_pairs_core(Target.CORTEX_M55) and not conv_pairs_core(None)


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory):
    """A 3x3 convolution on three input channels (K = 27, rows padded to 28) and a 1x1 on eight, then an ADD."""
    import tensorflow as tf

    rng = np.random.default_rng(5)
    w1 = (rng.normal(size=(3, 3, 3, 8)) * 0.5).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 8, 8)) * 0.5).astype(np.float32)

    def net(x):
        y = tf.nn.conv2d(x, w1, 1, "SAME")
        return tf.nn.conv2d(y, w2, 1, "SAME") + y  # y read again: the 1x1 does not run in place

    return write(tmp_path_factory.mktemp("pairs") / "pairs.tflite", convert(net, (1, 7, 9, 3), lo=-1.0, hi=1.0))


@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M7, LibraryTarget.CORTEX_M55,
                                    LibraryTarget.PORTABLE], ids=lambda t: t.value)
def test_generated_pairs_equal_tflm(conv_model, tmp_path, target):
    art = generate(conv_model, tmp_path / "fw", options=GeneratorOptions(target=target, measure_tflm_arena=False))
    c = (art.out_dir / "model.c").read_text()
    pairs = c.count("rows in word-interleaved pairs")
    if target in (LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M7):
        assert pairs == 2 and "tinyasc_opt_conv2d_pairs_s8(&l" in c
    else:
        assert pairs == 0 and "pairs_s8" not in c
    res = check_parity(art, edge_inputs((1, 7, 9, 3), 6, seed=4), debug_layers=True, exe=build_host(art.out_dir,
                                                                                                      dump=True))
    assert res.identical, res.summary()  # bit-exact: zero differing elements on every layer
