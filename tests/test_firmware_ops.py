"""Every registered operator x activation type x kernel backend against TensorFlow Lite Micro, bit-exactly.

Each case converts a one-op float function with TFLiteConverter (full integer, int8 in/out,
per-channel weights), generates C, builds it with the host compiler and runs it and TFLM on
the same int8 inputs, including all -128 and all 127. Tolerance: zero differing elements on
the output and on every intermediate tensor (the kernels promise TFLM's integer semantics).
The int8 and 16x8 cases run twice: the portable library and a Cortex-M4 library (its ``tinyasc_opt_``
kernels, and sparse weights for int8, whose portable fallbacks and table paths run on the host; their
DSP and Helium paths are compared under QEMU in test_latency_kernels.py and
test_latency_kernels_16x8.py). ``test_registry_is_covered``
fails when the generator's op registry holds a combination no case here exercises.
"""

from __future__ import annotations


import numpy as np
import pytest

from test_firmware_support import convert, edge_inputs, write
from tinyasc.firmware_sim.generator import OPTIMIZED_KERNELS, REGISTRY, GeneratorOptions, generate
from tinyasc.firmware_sim.target import LibraryTarget
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.build import build_host

RNG = np.random.default_rng(1234)


def _w(*shape, scale=0.5):
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def _cases():
    import tensorflow as tf

    c = {}
    w1 = _w(3, 3, 3, 5)
    c["conv3x3_same_relu_zp"] = (lambda x: tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME") + _w(5)), (1, 8, 9, 3), -0.5, 2.0, "CONV_2D")
    w2 = _w(2, 3, 4, 6)
    c["conv2x3_valid_s2"] = (lambda x: tf.nn.conv2d(x, w2, 2, "VALID"), (1, 11, 7, 4), -1.0, 1.0, "CONV_2D")
    w3 = _w(1, 1, 8, 4)
    c["conv1x1_bias"] = (lambda x: tf.nn.conv2d(x, w3, 1, "VALID") + _w(4), (1, 6, 6, 8), -3.0, 1.0, "CONV_2D")
    w4 = _w(3, 3, 2, 3)
    c["conv_dilated_same_s21"] = (lambda x: tf.nn.conv2d(x, w4, (2, 1), "SAME", dilations=None), (1, 10, 9, 2), -1.0, 1.0, "CONV_2D")
    w4d = _w(3, 3, 2, 3)
    c["conv_dilation2"] = (lambda x: tf.nn.conv2d(x, w4d, 1, "SAME", dilations=2), (1, 10, 10, 2), -1.0, 1.0, "CONV_2D")
    w5 = _w(1, 1, 4, 9)
    c["conv1x1_expand_inplace"] = (lambda x: tf.nn.conv2d(x, w5, 1, "SAME"), (1, 5, 6, 4), -1.0, 1.0, "CONV_2D")
    w6 = _w(3, 1, 1, 6)
    c["conv_grouped_col_inplace"] = (lambda x: tf.nn.conv2d(x, w6, 1, "SAME"), (1, 9, 5, 6), -1.0, 1.0, "CONV_2D")
    # a channel-wise CONV_2D (one input channel per group) spanning the height, not in place: generated as
    # DEPTHWISE_CONV_2D with its filter stored tap-major (generator.channelwise_as_depthwise)
    w7 = _w(24, 1, 1, 6)
    c["conv_channelwise_span"] = (lambda x: tf.nn.conv2d(x, w7, 1, "VALID") + _w(6), (1, 24, 5, 6), -1.0, 1.0, "CONV_2D")
    d3 = _w(3, 1, 5, 1)
    c["dw3x1_dil2_col_inplace"] = (lambda x: tf.nn.depthwise_conv2d(x, d3, (1, 1, 1, 1), "SAME", dilations=(2, 1)), (1, 12, 4, 5), -1.0, 2.0, "DEPTHWISE_CONV_2D")
    d1 = _w(3, 3, 4, 1)
    c["dw3x3_same_relu6"] = (lambda x: tf.nn.relu6(tf.nn.depthwise_conv2d(x, d1, (1, 1, 1, 1), "SAME")), (1, 8, 8, 4), -2.0, 2.0, "DEPTHWISE_CONV_2D")
    d2 = _w(1, 3, 3, 2)
    c["dw1x3_valid_s2_dm2"] = (lambda x: tf.nn.depthwise_conv2d(x, d2, (1, 2, 2, 1), "VALID"), (1, 9, 9, 3), -0.2, 1.0, "DEPTHWISE_CONV_2D")
    a_full = _w(1, 5, 6, 3)
    c["add_full_const"] = (lambda x: x + a_full, (1, 5, 6, 3), -1.0, 1.0, "ADD")
    a_b = _w(1, 1, 6, 1)
    c["add_broadcast_relu"] = (lambda x: tf.nn.relu(x + a_b), (1, 5, 6, 3), -2.0, 1.0, "ADD")
    s_c = _w(1, 1, 1, 3)
    c["sub_broadcast"] = (lambda x: x - s_c, (1, 4, 5, 3), -1.0, 3.0, "SUB")
    s_f = _w(1, 4, 5, 3)
    c["sub_const_first"] = (lambda x: s_f - x, (1, 4, 5, 3), -1.0, 1.0, "SUB")
    m_c = _w(1, 1, 1, 4, scale=2.0)
    c["mul_broadcast"] = (lambda x: x * m_c, (1, 3, 5, 4), -1.0, 2.0, "MUL")
    c["mul_square"] = (lambda x: x * x, (1, 3, 5, 4), -2.0, 1.0, "MUL")
    c["sqdiff"] = (lambda x: tf.math.squared_difference(x, s_c), (1, 4, 5, 3), -1.0, 1.0, "SQUARED_DIFFERENCE")
    c["mean_hw_keep"] = (lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True), (1, 6, 7, 5), -1.0, 2.0, "MEAN")
    c["mean_c_keep"] = (lambda x: tf.reduce_mean(x, axis=[3], keepdims=True), (1, 4, 6, 12), -3.0, 1.0, "MEAN")
    c["mean_w_drop"] = (lambda x: tf.reduce_mean(x, axis=[2]), (1, 4, 6, 3), -1.0, 1.0, "MEAN")
    # reduced axes that are not one evenly spaced run (h and c around a kept w): the kernel's general loops, where
    # the cases above take its single-run loop
    c["mean_hc_drop"] = (lambda x: tf.reduce_mean(x, axis=[1, 3]), (1, 4, 6, 12), -2.0, 2.0, "MEAN")
    c["rsqrt"] = (lambda x: tf.math.rsqrt(x), (1, 4, 8, 10), 0.05, 4.0, "RSQRT")
    c["logistic_wide"] = (lambda x: tf.math.sigmoid(x), (1, 4, 8, 10), -8.0, 6.0, "LOGISTIC")
    c["logistic_narrow"] = (lambda x: tf.math.sigmoid(x), (1, 2, 3, 5), -0.3, 0.5, "LOGISTIC")
    # more than 1024 elements: the 256-entry table is filled whole (smaller tensors fill it as values occur)
    c["logistic_large"] = (lambda x: tf.math.sigmoid(x), (1, 8, 16, 10), -8.0, 6.0, "LOGISTIC")
    c["rsqrt_large"] = (lambda x: tf.math.rsqrt(x), (1, 8, 16, 10), 0.05, 4.0, "RSQRT")
    c["maxpool2x2_valid"] = (lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), (1, 8, 9, 3), -1.0, 1.0, "MAX_POOL_2D")
    c["maxpool3x3_same_s1"] = (lambda x: tf.nn.max_pool2d(x, 3, 1, "SAME"), (1, 5, 6, 2), -1.0, 1.0, "MAX_POOL_2D")
    c["avgpool3x3_same_s2"] = (lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"), (1, 7, 8, 3), -1.0, 2.0, "AVERAGE_POOL_2D")
    c["pad"] = (lambda x: tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]]), (1, 4, 5, 3), -0.5, 2.0, "PAD")
    c["transpose_reshape"] = (lambda x: tf.reshape(tf.transpose(x, [0, 3, 1, 2]), (1, 3, 20)), (1, 4, 5, 3), -1.0, 1.0, "TRANSPOSE")
    # channels-first to channels-last (BC-ResNet's sub-band layout): word blocks of 4 + a lone last column
    c["transpose_to_channels_last"] = (lambda x: tf.transpose(tf.reshape(x, (1, 10, 12, 9)), [0, 2, 3, 1]),
                                       (1, 10, 12, 9), -1.0, 1.0, "TRANSPOSE")
    c["softmax"] = (lambda x: tf.nn.softmax(x), (1, 3, 10), -4.0, 4.0, "SOFTMAX")
    c["softmax_beta_narrow"] = (lambda x: tf.nn.softmax(3.0 * x), (2, 7), -0.5, 0.5, "SOFTMAX")
    fc = _w(24, 7)
    c["fully_connected"] = (lambda x: tf.matmul(tf.reshape(x, (2, 24)), fc) + _w(7), (2, 2, 3, 4), -1.0, 1.0, "FULLY_CONNECTED")
    # 160 rows of 52 (8,320 MACs, at least generator.FC_BLOCKS_MIN_MACS): the Cortex-M library reads its weights in
    # row blocks (generator.fc_row_blocks), four rows by four on the M4, its input offset folded into the bias
    fc2 = _w(52, 160)
    c["fully_connected_blocks"] = (lambda x: tf.nn.relu(tf.matmul(tf.reshape(x, (1, 52)), fc2) + _w(160)),
                                   (1, 4, 13), -1.0, 2.0, "FULLY_CONNECTED")
    c["concat"] = (lambda x: tf.concat([x, tf.nn.max_pool2d(x, 1, 1, "VALID")], axis=3), (1, 3, 4, 2), -1.0, 1.0, "CONCATENATION")
    return c


_CASE_NAMES = [
    "conv3x3_same_relu_zp", "conv2x3_valid_s2", "conv1x1_bias", "conv_dilated_same_s21", "conv_dilation2",
    "conv1x1_expand_inplace", "conv_grouped_col_inplace", "conv_channelwise_span", "dw3x1_dil2_col_inplace",
    "dw3x3_same_relu6", "dw1x3_valid_s2_dm2", "add_full_const", "add_broadcast_relu", "sub_broadcast",
    "sub_const_first", "mul_broadcast", "mul_square", "sqdiff", "mean_hw_keep", "mean_c_keep", "mean_w_drop",
    "mean_hc_drop", "rsqrt", "rsqrt_large", "logistic_wide", "logistic_narrow", "logistic_large", "maxpool2x2_valid", "maxpool3x3_same_s1", "avgpool3x3_same_s2",
    "pad", "transpose_reshape", "transpose_to_channels_last", "fully_connected", "fully_connected_blocks", "concat",
    "softmax",
    "softmax_beta_narrow",
]


@pytest.fixture(scope="module")
def cases():
    return _cases()


def _assert_kernels_declared(art):
    """Every kernel the model calls is one the registry lists for an operator of the model (so the library's
    file list, built from those records, is the one its kernels need)."""
    declared = {sym for op in art.op_counts for k in REGISTRY[op].kernels for sym in k.symbols}
    assert set(art.kernels) <= declared, set(art.kernels) - declared


#: Backends of the int8 cases: the portable library, and a Cortex-M library (optimized kernels, sparse weights).
_BACKENDS = {"portable": GeneratorOptions(), "cortex-m4": GeneratorOptions(target=LibraryTarget.CORTEX_M4,
                                                                             sparse_weights=True)}


@pytest.mark.parametrize("backend", list(_BACKENDS))
@pytest.mark.parametrize("name", _CASE_NAMES)
def test_kernel_bit_exact_vs_tflm(name, backend, cases, tmp_path):
    fn, shape, lo, hi, opcode = cases[name]
    model = write(tmp_path / f"{name}.tflite", convert(fn, shape, lo=lo, hi=hi))
    art = generate(model, tmp_path / "fw", options=_BACKENDS[backend])
    # each layer called its backend's kernel: no portable twin of an optimized kernel in a Cortex-M library
    optimized = {k.removeprefix("tinyasc_opt_") for k in art.kernels if k.startswith("tinyasc_opt_")}
    portable = {k.removeprefix("tinyasc_") for k in art.kernels if not k.startswith("tinyasc_opt_")}
    if backend == "portable":
        assert not optimized
    else:
        assert not portable & OPTIMIZED_KERNELS
        assert bool(optimized & REGISTRY[opcode].optimized) == bool(REGISTRY[opcode].optimized)
    assert art.op_counts.get(opcode, 0) >= 1, art.op_counts
    _assert_kernels_declared(art)
    exe = build_host(art.out_dir, dump=True)
    inputs = edge_inputs(shape, 8, seed=len(name))
    res = check_parity(art, inputs, debug_layers=True, exe=exe)
    assert res.identical, res.summary() + " " + str([l for l in res.layers if l.differing])
    assert res.output_elements == 8 * art.output_size
    assert len(res.layers) == len(art.layers)
    if name.endswith("inplace"):  # the in-place kernel variant is what ran (on the M4 with the rows in pairs where
        c = (art.out_dir / "model.c").read_text()  # the layer is on the fast output path)
        assert ("_inplace_s8(" in c or "_inplace_pairs_s8(" in c) and art.layers[0].in_place
    if backend != "portable" and opcode in ("ADD", "SUB", "MUL", "SQUARED_DIFFERENCE"):
        # a .tflite's element-wise layers meet the _fast entries' precondition (generator.binary_fast_ok)
        assert "_fast_s8(&l0_p" in (art.out_dir / "model.c").read_text()
    if name.endswith("_dm2"):  # depth multiplier 2: its own entry (the SIMD depthwise kernels take multiplier 1)
        assert "depthwise_conv2d_multiplier_s8(&l0_p" in (art.out_dir / "model.c").read_text()
    if name == "conv_channelwise_span":  # the depthwise kernel ran on the filter stored tap-major: a long column, on
        c = (art.out_dir / "model.c").read_text()  # the DSP cores its own entry (generator.depthwise_column)
        entry = "depthwise_column_s8" if backend == "cortex-m4" else "depthwise_conv2d_s8"
        assert f"{entry}(&l0_p" in c and "conv2d_s8(&l0_p" not in c.replace("depthwise_conv2d_s8", "")
        assert "CONV_2D filter [1, 24, 1, 6] (channel-wise: runs as depthwise)" in c


# ------------------------------------------------------------------------------------- 16x8

#: Cases converted as 16x8 (int16 activations, int8 weights, int64 biases): every op the
#: generator has an int16 kernel for, with the same shapes and value ranges as the int8 cases.
_CASE_NAMES_16X8 = [
    "conv3x3_same_relu_zp", "conv2x3_valid_s2", "conv1x1_bias", "conv_dilation2", "conv_grouped_col_inplace",
    "dw3x1_dil2_col_inplace", "dw3x3_same_relu6", "dw1x3_valid_s2_dm2", "add_full_const", "add_broadcast_relu",
    "mul_broadcast", "mul_square", "mean_hw_keep", "mean_c_keep", "mean_w_drop", "logistic_wide",
    "logistic_narrow", "maxpool2x2_valid", "maxpool3x3_same_s1", "pad", "transpose_reshape", "concat",
]


#: Backends of the 16x8 cases: the portable library, and a Cortex-M library (its ``tinyasc_opt_`` 16x8 kernels,
#: whose plain-C blocking runs on the host; their DSP and Helium paths: test_latency_kernels_16x8.py).
_BACKENDS_16X8 = {"portable": GeneratorOptions(measure_tflm_arena=False),
                  "cortex-m4": GeneratorOptions(target=LibraryTarget.CORTEX_M4, measure_tflm_arena=False)}


@pytest.mark.parametrize("backend", list(_BACKENDS_16X8))
@pytest.mark.parametrize("name", _CASE_NAMES_16X8)
def test_kernel_16x8_bit_exact_vs_tflm(name, backend, cases, tmp_path):
    fn, shape, lo, hi, opcode = cases[name]
    model = write(tmp_path / f"{name}_16x8.tflite", convert(fn, shape, lo=lo, hi=hi, int16=True))
    art = generate(model, tmp_path / "fw", options=_BACKENDS_16X8[backend])
    assert art.activations == "int16" and art.op_counts.get(opcode, 0) >= 1, art.op_counts
    _assert_kernels_declared(art)
    optimized = {k.removeprefix("tinyasc_opt_") for k in art.kernels if k.startswith("tinyasc_opt_")}
    portable = {k.removeprefix("tinyasc_") for k in art.kernels if not k.startswith("tinyasc_opt_")}
    wide = {k for k in REGISTRY[opcode].optimized if not k.endswith("_s8")}
    if backend == "portable":
        assert not optimized
    else:  # the op's registered 16x8 kernel ran, never its portable twin
        assert not portable & OPTIMIZED_KERNELS
        assert bool(optimized & wide) == bool(wide)
    exe = build_host(art.out_dir, dump=True)
    inputs = edge_inputs(shape, 8, seed=len(name), dtype=np.int16)
    res = check_parity(art, inputs, debug_layers=True, exe=exe)
    assert res.identical, res.summary() + " " + str([l for l in res.layers if l.differing])
    assert res.output_elements == 8 * art.output_size
    c = (art.out_dir / "model.c").read_text()
    assert "_s8(" not in c.replace("tinyasc_concat_part_s8(", "")  # no int8 kernel ran on int16 data


def test_registry_is_covered(cases):
    """Every registered op x activation type has a case above, and every optimized kernel one that calls it."""
    opcodes = {"INT8": {cases[n][4] for n in _CASE_NAMES}, "INT16": {cases[n][4] for n in _CASE_NAMES_16X8}}
    aliases = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PADV2"}  # arena aliases / PAD's twin: no kernel of their own
    missing = [(op, act) for op, spec in REGISTRY.items() for act in spec.activations
               if op not in aliases and op not in opcodes[act]]
    assert not missing, f"registered without a bit-exact case: {missing}"
    ops_with_optimized = {op for op, spec in REGISTRY.items()
                          if op not in aliases and any(k.endswith("_s8") for k in spec.optimized)}  # PADV2: PAD's case
    assert ops_with_optimized <= opcodes["INT8"]
    ops_with_optimized16 = {op for op, spec in REGISTRY.items() if any(not k.endswith("_s8") for k in spec.optimized)}
    assert ops_with_optimized16 <= opcodes["INT16"]
    in_place = [n for n in _CASE_NAMES if n.endswith("inplace")]
    assert any(n.startswith("conv1x1") for n in in_place) and any("col" in n for n in in_place)


@pytest.mark.parametrize("lo,hi", [(-8.0, 8.0), (-0.3, 0.5), (-40.0, 40.0)])
def test_logistic_16x8_every_input_code(lo, hi, tmp_path):
    """All 65,536 int16 codes through LOGISTIC: every interpolation node, both signs, saturation."""
    import tensorflow as tf

    shape = (1, 256, 256, 1)
    model = write(tmp_path / "logistic.tflite", convert(lambda x: tf.math.sigmoid(x), shape, lo=lo, hi=hi, int16=True))
    art = generate(model, tmp_path / "fw", options=GeneratorOptions(measure_tflm_arena=False))
    every = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16).reshape(1, *shape)
    res = check_parity(art, every, debug_layers=False)
    assert res.identical, res.summary()


def test_16x8_bias_must_be_int64(tmp_path):
    """A 16x8 convolution with an int32 bias (TFLM then accumulates in 32 bits) is refused in one line."""
    from tinyasc.errors import InputError
    from tinyasc.firmware_sim.generator import _Generator
    from tinyasc.firmware_sim.planner import plan_arena
    from tinyasc.firmware_sim.reader import read_tflite
    import dataclasses

    w = _w(1, 1, 3, 2)
    model = write(tmp_path / "c.tflite", convert(lambda x: tf_conv(x, w), (1, 4, 4, 3), int16=True))
    g = read_tflite(model)
    conv = next(op for op in g.operators if op.opcode == "CONV_2D")
    bias = g.tensors[conv.inputs[2]]
    assert bias.dtype == "INT64"
    tensors = list(g.tensors)
    tensors[bias.index] = dataclasses.replace(bias, dtype="INT32", data=bias.data.astype(np.int32))
    g32 = dataclasses.replace(g, tensors=tuple(tensors))
    with pytest.raises(InputError, match="int32 bias|INT32 bias"):
        _Generator(g32, plan_arena(g32)).emit(conv)


def tf_conv(x, w):
    import tensorflow as tf

    return tf.nn.conv2d(x, w, 1, "SAME") + 0.25
