"""Helium's three-tap lines on planes (c/opt/tinyasc_opt_line3p.c, generator.line3p_pays): which libraries ship them.

The kernel itself is compared byte for byte with the portable kernel in test_latency_kernels.py (host, M4, M7 and
M55; the cases named for line3p: the quick model's frequency convolution in place, bands of lines, a row, one line
too short). Here the Python side: the rule that decides which layers pay for the planes, its threshold equal to the
C's, and a generated library: the M55's ships the file only for a layer with long enough lines, the DSP cores'
never, and such a library equals TensorFlow Lite Micro on every layer.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from test_firmware_support import (check_static_library_links, check_weak_kernel_shipped, convert, line3_params,
                                   write)
from tinyasc.firmware_sim.generator import LINE3P_MIN_LEN, helium_core, line3p_pays
from tinyasc.firmware_sim.kernel_sources import C_DIR
from tinyasc.firmware_sim.target import LibraryTarget, Target

LINE3P_FILE = "tinyasc_opt_line3p.c"


def _dw(**kw):
    return line3_params(48, **kw)


def test_the_threshold_is_the_kernel_s():
    text = (C_DIR / "opt" / LINE3P_FILE).read_text()
    assert int(re.search(r"#define LINE3P_MIN_LEN (\d+)", text).group(1)) == LINE3P_MIN_LEN


def test_planes_pay_for_long_three_tap_lines_only():
    n = LINE3P_MIN_LEN
    assert line3p_pays(_dw(in_h=n, out_h=n), depthwise=True)
    assert not line3p_pays(_dw(in_h=n - 1, out_h=n - 1), depthwise=True)  # one output short
    assert line3p_pays(_dw(in_h=4, out_h=4, in_w=n, out_w=n, k_h=1, k_w=3, pad_h=0, pad_w=1), depthwise=True)  # a row
    assert not line3p_pays(_dw(), depthwise=False)  # a dense convolution
    assert not line3p_pays(_dw(stride_h=2, out_h=24), depthwise=True)
    assert not line3p_pays(_dw(dil_h=2), depthwise=True)
    assert not line3p_pays(_dw(k_h=5), depthwise=True)
    assert not line3p_pays(_dw(k_w=3, pad_w=1), depthwise=True)  # a window over both axes
    assert not line3p_pays(_dw(depth_multiplier=2, out_c=16), depthwise=True)
    assert helium_core(Target.CORTEX_M55) and not helium_core(Target.CORTEX_M4) and not helium_core(None)


@pytest.fixture(scope="module", params=[48, 16], ids=["h48", "h16"])
def line_model(request, tmp_path_factory):
    """A 3 x 1 depthwise convolution down lines of ``h`` outputs (SAME), then a ReLU."""
    import tensorflow as tf

    h = request.param
    w = (np.random.default_rng(7).normal(size=(3, 1, 8, 1)) * 0.5).astype(np.float32)

    def net(x):
        return tf.nn.relu(tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME"))

    path = write(tmp_path_factory.mktemp("line3p") / f"line3p_h{h}.tflite", convert(net, (1, h, 5, 8)))
    return h, path


@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M55, LibraryTarget.CORTEX_M4], ids=lambda t: t.value)
def test_the_m55_library_ships_the_planes_where_a_layer_pays(line_model, tmp_path, target):
    h, path = line_model
    check_weak_kernel_shipped(path, tmp_path / "fw", target, LINE3P_FILE,
                              target is LibraryTarget.CORTEX_M55 and h >= LINE3P_MIN_LEN, (1, h, 5, 8), seed=3)


@pytest.mark.arm
def test_the_static_library_links_the_planes_it_ships(line_model, tmp_path):
    """CMake's ``libtinyasc.a``: the M55 example links the planes (``line3p_run_mve``) exactly where the library ships
    their file. Before session 55 a weak reference was all that reached them, and an archive member is not extracted
    for one: a CMake build ran the channels-per-lane kernel instead of the one measured."""
    h, path = line_model
    check_static_library_links(path, tmp_path / "lib", LibraryTarget.CORTEX_M55, LINE3P_FILE, "line3p_run_mve",
                               h >= LINE3P_MIN_LEN)
