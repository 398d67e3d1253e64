"""Helium's pairs kernels three blocks a step (c/opt/tinyasc_opt_pairs3.c, generator.pairs3_ships): which libraries
ship them.

The kernels themselves are compared byte for byte with the portable kernel in test_latency_kernels.py (host, M4, M7
and M55, the M55 also without this file: the one-block kernels on the same layers; 3 x 3 windows of 16 and 32
channels read in place and gathered, an in-place 1x1 of 48, groups of fewer than four channels, an output row too
wide for the pair store's 16-bit offsets).
Here the Python side: the rule that decides which layers ship the file, and generated libraries: the M55's ships it
only for a layer whose windows or window rows come in threes of 16-byte blocks, the DSP cores' never, and such a
library equals TensorFlow Lite Micro on every layer.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_firmware_support import check_static_library_links, check_weak_kernel_shipped, convert, write
from tinyasc.firmware_sim.generator import WEAK_FILE_RULES, pairs3_ships
from tinyasc.firmware_sim.params import ConvParams
from tinyasc.firmware_sim.target import LibraryTarget

PAIRS3_FILE = "tinyasc_opt_pairs3.c"


def _conv(c: int, k: int, **kw) -> ConvParams:
    """A dense k x k SAME convolution over 8 x 8 pixels of c channels to 8 channels, its fields overridden by kw."""
    base = dict(batches=1, in_h=8, in_w=8, in_c=c, out_h=8, out_w=8, out_c=8, k_h=k, k_w=k, stride_h=1, stride_w=1,
                dil_h=1, dil_w=1, pad_h=k // 2, pad_w=k // 2, filter_in_c=c, depth_multiplier=1, input_offset=3,
                output_offset=-5, act_min=-128, act_max=127)
    base.update(kw)
    return ConvParams(**base)


def test_windows_in_threes_of_blocks_ship_the_kernels():
    assert pairs3_ships(_conv(16, 3), depthwise=False)  # a window row: three blocks
    assert pairs3_ships(_conv(32, 3), depthwise=False)  # six
    assert pairs3_ships(_conv(48, 1, pad_h=0, pad_w=0), depthwise=False)  # a 1x1 window of three
    assert pairs3_ships(_conv(16, 1, k_h=3, pad_w=0), depthwise=False)  # a 3 x 1 window: K of three
    assert not pairs3_ships(_conv(32, 1, pad_h=0, pad_w=0), depthwise=False)  # two blocks
    assert not pairs3_ships(_conv(16, 5), depthwise=False)  # 25 and 5 blocks
    assert not pairs3_ships(_conv(24, 3), depthwise=False)  # channels not a multiple of 16
    assert not pairs3_ships(_conv(16, 3, filter_in_c=8), depthwise=False)  # grouped
    assert not pairs3_ships(_conv(16, 3), depthwise=True)


def test_the_rule_ships_the_file_for_int8_layers_of_its_entries_on_helium_only():
    rule = next(r for r in WEAK_FILE_RULES if r.kernel.name == "pairs3_s8")
    conv = _conv(16, 3)
    assert rule.applies(conv, core=LibraryTarget.CORTEX_M55.core, depthwise=False, wide=False, kernel="conv2d_s8")
    assert not rule.applies(conv, core=LibraryTarget.CORTEX_M55.core, depthwise=False, wide=True,
                            kernel="conv2d_s8")  # 16x8: the file holds int8 kernels only
    assert not rule.applies(conv, core=LibraryTarget.CORTEX_M55.core, depthwise=False, wide=False,
                            kernel="conv2d_1x1_s8")  # an entry whose code never reaches the file
    assert not rule.applies(conv, core=LibraryTarget.CORTEX_M4.core, depthwise=False, wide=False, kernel="conv2d_s8")


@pytest.fixture(scope="module", params=[3, 1], ids=["k3", "k1"])
def conv_model(request, tmp_path_factory):
    """A k x k SAME convolution of 16 channels to 12 over 9 x 10 pixels (k 3: windows of three blocks a row; k 1: the
    1x1 of the input's size, whose kernel takes none of them), then a ReLU."""
    import tensorflow as tf

    k = request.param
    w = (np.random.default_rng(13).normal(size=(k, k, 16, 12)) * 0.2).astype(np.float32)

    def net(x):
        return tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME"))

    path = write(tmp_path_factory.mktemp("pairs3") / f"pairs3_k{k}.tflite", convert(net, (1, 9, 10, 16)))
    return k, path


@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M55, LibraryTarget.CORTEX_M4], ids=lambda t: t.value)
def test_the_m55_library_ships_the_kernels_for_windows_in_threes(conv_model, tmp_path, target):
    k, path = conv_model
    check_weak_kernel_shipped(path, tmp_path / "fw", target, PAIRS3_FILE,
                              target is LibraryTarget.CORTEX_M55 and k == 3, (1, 9, 10, 16), seed=7)


@pytest.mark.arm
def test_the_static_library_links_the_kernels_it_ships(conv_model, tmp_path):
    """CMake's ``libtinyasc.a``: the M55 example links ``tinyasc_pairs3_s8`` exactly where the library ships its
    file."""
    k, path = conv_model
    check_static_library_links(path, tmp_path / "lib", LibraryTarget.CORTEX_M55, PAIRS3_FILE,
                               "tinyasc_pairs3_s8", k == 3)
