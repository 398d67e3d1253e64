"""Channels whose output is one constant (quant.constant_channel): their requantization rewritten to fold.

A converter leaves a channel whose weights are all zero with a bias of +-2^30 and a scale of ~1e-8 (shift -24 or
below), which no folded output path takes: one such channel sent a whole layer to the general output loop (VWW's
pointwise layers 10, 12 and 14). The generator rewrites bias, multiplier and shift of every channel whose output is
one constant for every input so that the layer folds. Exactness is proved in the helper's docstring and checked here
against the TFLite arithmetic (int8_tables.mbqm, TFLM's twin) at both ends of each channel's reach and between, and
end to end against TFLite Micro (bit-exact, tolerance zero).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from test_firmware_support import convert, edge_inputs, write
from tinyasc.firmware_sim import quant
from tinyasc.firmware_sim.build import build_host
from tinyasc.firmware_sim.generator import GeneratorOptions, generate
from tinyasc.firmware_sim.int8_tables import mbqm
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.target import LibraryTarget


def _same_outputs(bias: int, m: int, s: int, reach: int, new: tuple[int, int, int], n: int = 64) -> None:
    """The rewritten channel gives the original's output for sums at both ends of its reach and n points between
    (the sum moves by the same input-dependent term around either bias)."""
    b2, m2, s2 = new
    assert m2 > 0 and -23 <= s2 <= -2  # the folded path takes it (tinyasc_rq_zp_folds)
    assert abs(b2) + reach < 2**31
    rng = np.random.default_rng(abs(bias) % 1000 + reach)
    ds = [-reach, reach, 0] + [int(v) for v in rng.integers(-reach, reach + 1, size=n)]
    k = mbqm(bias, m, s)
    for d in ds:
        assert mbqm(bias + d, m, s) == k
        assert mbqm(b2 + d, m2, s2) == k, (bias, m, s, reach, new, d)


@pytest.mark.parametrize("bias, m, s, reach", [
    (1073741824, 1320764593, -27, 0),  # VWW layer 10 channel 3: zero weights, the bias carries the output (5)
    (-1073741824, 1737221868, -26, 0),  # its channel 47: negative
    (1073741952, 1876368393, -31, 0),
    (1000, 1500000000, -28, 1 << 20),  # weights scaled almost to nothing: 0 for every sum
    (-5_000_000, 2_000_000_000, -24, 300_000),  # a larger reach: e grows until the bucket holds it
    (0, 1 << 30, -40, 0),
])
def test_a_constant_channel_folds_with_the_same_outputs(bias, m, s, reach):
    new = quant.constant_channel(bias, m, s, reach)
    assert new is not None
    _same_outputs(bias, m, s, reach, new)


@pytest.mark.parametrize("bias, m, s, reach", [
    (1 << 24, 1 << 30, -24, 10),  # its sums straddle a rounding step (outputs 0 and 1)
    (1073741824, 1320764593, -23, 0),  # folds already
    (1073741824, 1320764593, -2, 0),
    (100, 1320764593, 1, 0),  # a left shift (int32 wrap-around: not monotone)
    (100, 0, -30, 0),
    (2**31 - 1, 1 << 30, -30, 5),  # its reach leaves int32
    (0, 1 << 30, -30, (1 << 23) - 1),  # no e in 2..23 holds a reach this large
])
def test_a_channel_that_is_not_constant_or_already_folds_is_left(bias, m, s, reach):
    assert quant.constant_channel(bias, m, s, reach) is None


def test_every_rewrite_of_random_channels_keeps_the_outputs():
    """Random channels of tiny scale (shifts -24 .. -31) and reaches up to 2^22: each one the helper rewrites gives
    the same output at its reach's ends and between; about half of them are rewritten (the others straddle)."""
    rng = np.random.default_rng(43)
    rewritten = 0
    for _ in range(400):
        s = int(rng.integers(-31, -23))
        m = int(rng.integers(1 << 30, 1 << 31))
        reach = int(rng.choice([0, int(rng.integers(1, 1 << 12)), int(rng.integers(1, 1 << 22))]))
        bias = int(rng.integers(-(1 << 31) + reach, (1 << 31) - reach))
        new = quant.constant_channel(bias, m, s, reach)
        if new is None:
            assert mbqm(bias - reach, m, s) != mbqm(bias + reach, m, s) or reach >= (1 << 22)
            continue
        rewritten += 1
        _same_outputs(bias, m, s, reach, new, n=16)
    assert rewritten > 100


@pytest.fixture(scope="module")
def zero_channel_model(tmp_path_factory):
    """A pointwise convolution and a 3 x 3 depthwise one, each with one output channel of zero weights and a bias:
    TensorFlow's converter gives those channels a bias of +-2^30 and a shift of -24 / -25."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    w = (rng.normal(size=(1, 1, 8, 6)) * 0.4).astype(np.float32)
    w[..., 2] = 0.0
    bias = np.array([0.1, -0.2, 0.7, 0.05, -0.3, 0.2], np.float32)
    d = (rng.normal(size=(3, 3, 6, 1)) * 0.4).astype(np.float32)
    d[..., 4, 0] = 0.0
    bd = np.array([0.0, 0.1, 0.0, 0.0, -0.6, 0.0], np.float32)

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + bias)
        return tf.nn.depthwise_conv2d(y, d, (1, 1, 1, 1), "SAME") + bd

    return write(tmp_path_factory.mktemp("zc") / "zc.tflite", convert(fn, (1, 6, 7, 8)))


@pytest.mark.parametrize("target", [LibraryTarget.PORTABLE, LibraryTarget.CORTEX_M4], ids=lambda t: t.value)
def test_zero_weight_channels_fold_and_stay_bit_exact_with_tflm(zero_channel_model, target, tmp_path):
    art = generate(zero_channel_model, tmp_path / "fw", options=GeneratorOptions(target=target,
                                                                                 measure_tflm_arena=False))
    c = (art.out_dir / "model.c").read_text()
    assert "/* layer 0: channels 2 output one constant" in c and "/* layer 1: channels 4 output one constant" in c
    for layer in (0, 1):  # every channel's shift now in the folded path's range
        body = re.search(rf"l{layer}_shift\[\d+\] = \{{([^}}]*)\}}", c).group(1)
        shifts = [int(v) for v in body.replace("\n", " ").split(",") if v.strip()]
        assert all(-23 <= v <= -2 for v in shifts), shifts
    res = check_parity(art, edge_inputs((1, 6, 7, 8), 8, seed=9), debug_layers=True,
                       exe=build_host(art.out_dir, dump=True))
    assert res.identical, res.summary()
