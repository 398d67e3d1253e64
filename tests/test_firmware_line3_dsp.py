"""The DSP cores' three-tap line layers in asm (c/opt/tinyasc_opt_line3_dsp.c, generator.line3_dsp_ships): which
libraries ship them.

The kernel itself is compared byte for byte with the portable kernel in test_latency_kernels.py (host, M4, M7 and
M55; the three-tap line cases: SAME and VALID columns and rows, in place, batches, channels left to the C loop).
Here the Python side: the rule that decides which layers take the file, and generated libraries: an M4's ships it
for a 3 x 1 or 1 x 3 layer and not for a model without one, an M55's never, and each equals TensorFlow Lite Micro on
every layer on the host; built as the static library CMake makes (`libtinyasc.a`), the M4's example links the asm
(a weak reference alone extracts no archive member: the generated model refers to the file's `_linked` symbol).
"""

from __future__ import annotations

import numpy as np
import pytest

from test_firmware_support import cmake_target_symbols, convert, edge_inputs, line3_params, write
from tinyasc.firmware_sim.build import build_host
from tinyasc.firmware_sim.generator import GeneratorOptions, conv_pairs_core, generate, line3_dsp_ships
from tinyasc.firmware_sim.library import write_library
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.target import LibraryTarget, Target

LINE3_DSP_FILE = "tinyasc_opt_line3_dsp.c"


def _dw(**kw):
    return line3_params(16, **kw)


def test_three_tap_lines_ship_the_asm_layers():
    assert line3_dsp_ships(_dw(), depthwise=True)  # SAME column
    assert line3_dsp_ships(_dw(in_h=18, pad_h=0), depthwise=True)  # VALID column
    assert line3_dsp_ships(_dw(k_h=1, k_w=3, pad_h=0, pad_w=1), depthwise=True)  # a row
    assert line3_dsp_ships(_dw(), depthwise=False)  # a grouped CONV_2D of one input channel per output channel
    assert not line3_dsp_ships(_dw(filter_in_c=8), depthwise=False)  # a dense convolution
    assert not line3_dsp_ships(_dw(stride_h=2, out_h=8), depthwise=True)
    assert not line3_dsp_ships(_dw(dil_h=2), depthwise=True)
    assert not line3_dsp_ships(_dw(k_h=5), depthwise=True)
    assert not line3_dsp_ships(_dw(k_w=3, pad_w=1), depthwise=True)  # a window over both axes
    assert not line3_dsp_ships(_dw(depth_multiplier=2, out_c=16), depthwise=True)
    assert conv_pairs_core(Target.CORTEX_M4) and conv_pairs_core(Target.CORTEX_M7)
    assert not conv_pairs_core(Target.CORTEX_M55) and not conv_pairs_core(None)


@pytest.fixture(scope="module", params=["3x1", "1x3", "3x3"])
def dw_model(request, tmp_path_factory):
    """A depthwise convolution of a 3 x 1 (a column), 1 x 3 (a row) or 3 x 3 window (SAME), then a ReLU."""
    import tensorflow as tf

    kh, kw = (int(v) for v in request.param.split("x"))
    w = (np.random.default_rng(7).normal(size=(kh, kw, 8, 1)) * 0.5).astype(np.float32)

    def net(x):
        return tf.nn.relu(tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME"))

    path = write(tmp_path_factory.mktemp("line3dsp") / f"dw{request.param}.tflite", convert(net, (1, 12, 5, 8)))
    return request.param, path


@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M55], ids=lambda t: t.value)
def test_a_dsp_library_ships_the_asm_for_a_three_tap_line(dw_model, tmp_path, target):
    window, path = dw_model
    art = generate(path, tmp_path / "fw", options=GeneratorOptions(target=target, measure_tflm_arena=False))
    shipped = any(s.endswith(LINE3_DSP_FILE) for s in art.sources)
    assert shipped == (target is LibraryTarget.CORTEX_M4 and window != "3x3"), art.sources
    assert (art.out_dir / "kernels" / LINE3_DSP_FILE).exists() == shipped
    res = check_parity(art, edge_inputs((1, 12, 5, 8), 6, seed=3), debug_layers=True,
                       exe=build_host(art.out_dir, dump=True))
    assert res.identical, res.summary()  # bit-exact on the host (the asm runs on the M4: test_latency_kernels)


@pytest.mark.arm
@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M4], ids=lambda t: t.value)
def test_the_static_library_links_the_asm_it_ships(dw_model, tmp_path, target):
    """CMake builds ``libtinyasc.a`` and links the example against it: the asm layers (``line3_dsp_lines``) are in the
    ELF exactly where the library ships their file, as in the harness's build, which links the objects."""
    window, path = dw_model
    lib = write_library(path, tmp_path / "lib", target=target, frontend=False)
    d = lib.out_dir
    shipped = (d / "kernels" / LINE3_DSP_FILE).exists()
    assert shipped == (window != "3x3")
    assert ("&tinyasc_line3_dsp_s8_linked" in (d / "model.c").read_text()) == shipped
    syms = cmake_target_symbols(d)
    assert ("line3_dsp_lines" in syms) == shipped, window
