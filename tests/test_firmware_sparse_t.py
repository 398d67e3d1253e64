"""The DSP cores' sparse passes on a transposed input (c/sparse/tinyasc_sparse_t.c, generator.sparse_t_ships): which
libraries ship them.

The kernel itself is compared byte for byte with the portable kernel in test_latency_kernels.py (host, M4, M7 and
M55; the sparse cases of 1 x 1 layers at stride 1 in a ReLU range: 36 pixels of 24 channels in blocks of 4 x 4, 45
in place with a last pixel byte by byte, channels off the ReLU form, one off the folded output path; ten channels,
not a multiple of 4, are left untransposed).
Here the Python side: the rule that decides which layers ship the file, and generated libraries: an M4's ships it for
a sparse pointwise layer with enough non-zeros and not for one with too few, an M55's never, and each equals
TensorFlow Lite Micro on every layer on the host; built as the static library CMake makes (``libtinyasc.a``), the
M4's example links the passes (a weak reference alone extracts no archive member: the generated model refers to the
file's ``_linked`` symbol).
"""

from __future__ import annotations

import numpy as np
import pytest

from test_firmware_support import check_static_library_links, check_weak_kernel_shipped, convert, write
from tinyasc.firmware_sim.generator import sparse_t_ships
from tinyasc.firmware_sim.kernel_sources import C_DIR
from tinyasc.firmware_sim.params import ConvParams
from tinyasc.firmware_sim.sparse import SPARSE_MAX_K
from tinyasc.firmware_sim.target import LibraryTarget

SPARSE_T_FILE = "tinyasc_sparse_t.c"


def _pw(c: int = 32, hw: int = 6, **kw) -> ConvParams:
    """A 1 x 1 convolution over hw x hw pixels of c channels to 64 channels in a ReLU range, its fields overridden."""
    base = dict(batches=1, in_h=hw, in_w=hw, in_c=c, out_h=hw, out_w=hw, out_c=64, k_h=1, k_w=1, stride_h=1,
                stride_w=1, dil_h=1, dil_w=1, pad_h=0, pad_w=0, filter_in_c=c, depth_multiplier=1, input_offset=3,
                output_offset=-128, act_min=-128, act_max=127)
    base.update(kw)
    return ConvParams(**base)


def test_the_kernels_table_is_the_c_ones():
    """sparse_t_ships' room past a row's words: the C table's TINYASC_SPARSE_MAX_K words, which sparse.SPARSE_MAX_K
    mirrors."""
    header = (C_DIR / "sparse" / "tinyasc_sparse.h").read_text()
    assert f"#define TINYASC_SPARSE_MAX_K {SPARSE_MAX_K} " in header


def test_pointwise_layers_with_enough_non_zeros_ship_the_passes():
    # 36 pixels (four passes of eight): a non-zero saves 11 x 4 - 3 cycles, a byte transposed costs about 3
    assert sparse_t_ships(_pw(), 100, in_place=False)  # 100 x 41 > 3 x 32 x 36
    assert not sparse_t_ships(_pw(), 84, in_place=False)  # 84 x 41 < 3456
    assert sparse_t_ships(_pw(batches=2), 200, in_place=True)  # in place: both images' pixels in chunks
    assert not sparse_t_ships(_pw(batches=2), 200, in_place=False)  # the kernel transposes one image
    assert not sparse_t_ships(_pw(c=30), 400, in_place=False)  # channels not a multiple of 4
    assert not sparse_t_ships(_pw(output_offset=-5), 400, in_place=False)  # not a ReLU range
    assert not sparse_t_ships(_pw(act_max=100), 400, in_place=False)  # a clamped range
    assert not sparse_t_ships(_pw(k_h=3, pad_h=1), 400, in_place=False)  # a window over rows
    assert not sparse_t_ships(_pw(stride_h=2, out_h=3), 400, in_place=False)
    assert not sparse_t_ships(_pw(filter_in_c=8), 400, in_place=False)  # grouped
    assert not sparse_t_ships(_pw(hw=2), 400, in_place=False)  # four pixels: no pass of eight
    # the transposed pixels must fit the table past a row's words: 32 x 36 bytes yes, 256 x 20 x 20 no
    assert not sparse_t_ships(_pw(c=256, hw=20), 60000, in_place=False)


@pytest.fixture(scope="module", params=[0.4, 0.02], ids=["dense40", "dense2"])
def pw_model(request, tmp_path_factory):
    """A 1 x 1 convolution of 32 channels to 48 over 6 x 6 pixels with 40% or 2% of its weights non-zero (stored
    sparse either way), then a ReLU."""
    import tensorflow as tf

    rng = np.random.default_rng(11)
    w = (rng.normal(size=(1, 1, 32, 48)) * 0.3).astype(np.float32)
    w *= rng.random(w.shape) < request.param

    def net(x):
        return tf.nn.relu(tf.nn.conv2d(x, w, 1, "VALID"))

    path = write(tmp_path_factory.mktemp("sparse_t") / f"pw_{request.param}.tflite", convert(net, (1, 6, 6, 32)))
    return request.param, path


@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M55], ids=lambda t: t.value)
def test_a_dsp_library_ships_the_passes_for_a_dense_enough_sparse_layer(pw_model, tmp_path, target):
    density, path = pw_model
    check_weak_kernel_shipped(path, tmp_path / "fw", target, SPARSE_T_FILE,
                              target is LibraryTarget.CORTEX_M4 and density == 0.4, (1, 6, 6, 32), seed=5,
                              sparse_weights=True)


@pytest.mark.arm
def test_the_static_library_links_the_passes_it_ships(pw_model, tmp_path):
    """CMake's ``libtinyasc.a``: the M4 example links ``tinyasc_sparse_t_s8`` exactly where the library ships its
    file."""
    density, path = pw_model
    check_static_library_links(path, tmp_path / "lib", LibraryTarget.CORTEX_M4, SPARSE_T_FILE, "tinyasc_sparse_t_s8",
                               density == 0.4)
