"""Helium's long depthwise columns by VMLADAVA (c/opt/tinyasc_opt_dw_taps.c, generator.dw_taps_ships): which
libraries ship them.

The kernel itself is compared byte for byte with the portable kernel in test_latency_kernels.py (host, M4, M7 and
M55; the 24- to 128-tap column cases without padding: pairs of channels and a lone last one, predicated last taps,
each output path, batches, a stride).
Here the Python side: the rule that decides which layers ship the file, its threshold equal to the C's, and a
generated library: the M55's ships the file only for a layer with such columns, the DSP cores' never, and such a
library equals TensorFlow Lite Micro on every layer.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from test_firmware_support import (check_static_library_links, check_weak_kernel_shipped, convert, line3_params,
                                   write)
from tinyasc.firmware_sim.generator import DW_TAPS_MIN_TAPS, dw_taps_ships
from tinyasc.firmware_sim.kernel_sources import C_DIR
from tinyasc.firmware_sim.target import LibraryTarget

DW_TAPS_FILE = "tinyasc_opt_dw_taps.c"


def _col(k: int, **kw):
    """A k x 1 depthwise column over k + 3 rows without padding (four output rows, every window inside)."""
    return line3_params(4, **{"in_h": k + 3, "k_h": k, "pad_h": 0, **kw})


def test_the_threshold_is_the_kernel_s():
    text = (C_DIR / "opt" / DW_TAPS_FILE).read_text()
    assert int(re.search(r"#define DW_TAPS_MIN_TAPS (\d+)", text).group(1)) == DW_TAPS_MIN_TAPS


def test_long_columns_ship_the_kernel():
    n = DW_TAPS_MIN_TAPS
    assert dw_taps_ships(_col(n), depthwise=True)
    assert not dw_taps_ships(_col(n - 1), depthwise=True)  # one tap short
    assert dw_taps_ships(_col(128, stride_h=4, out_h=1, in_h=128), depthwise=True)  # one window, the whole column
    assert not dw_taps_ships(_col(n), depthwise=False)  # a dense convolution
    assert not dw_taps_ships(_col(n, k_w=3, in_w=7), depthwise=True)  # a window over both axes
    assert not dw_taps_ships(_col(n, depth_multiplier=2, out_c=16), depthwise=True)
    assert not dw_taps_ships(_col(n, in_h=n, out_h=n, pad_h=n // 2), depthwise=True)  # SAME: windows cross the border
    assert not dw_taps_ships(_col(n, out_h=5), depthwise=True)  # a fifth row's window past the input's end


@pytest.fixture(scope="module", params=[20, 10], ids=["k20", "k10"])
def column_model(request, tmp_path_factory):
    """A k x 1 depthwise convolution down columns of k + 3 rows (VALID: every window inside), then a ReLU."""
    import tensorflow as tf

    k = request.param
    w = (np.random.default_rng(11).normal(size=(k, 1, 12, 1)) * 0.3).astype(np.float32)

    def net(x):
        return tf.nn.relu(tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID"))

    path = write(tmp_path_factory.mktemp("dw_taps") / f"dw_taps_k{k}.tflite", convert(net, (1, k + 3, 5, 12)))
    return k, path


@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M55, LibraryTarget.CORTEX_M4], ids=lambda t: t.value)
def test_the_m55_library_ships_the_kernel_for_long_columns(column_model, tmp_path, target):
    k, path = column_model
    check_weak_kernel_shipped(path, tmp_path / "fw", target, DW_TAPS_FILE,
                              target is LibraryTarget.CORTEX_M55 and k >= DW_TAPS_MIN_TAPS, (1, k + 3, 5, 12), seed=5)


@pytest.mark.arm
def test_the_static_library_links_the_kernel_it_ships(column_model, tmp_path):
    """CMake's ``libtinyasc.a``: the M55 example links ``tinyasc_dw_taps_s8`` exactly where the library ships its
    file."""
    k, path = column_model
    check_static_library_links(path, tmp_path / "lib", LibraryTarget.CORTEX_M55, DW_TAPS_FILE, "tinyasc_dw_taps_s8",
                               k >= DW_TAPS_MIN_TAPS)
