"""FULLY_CONNECTED as the generator prepares it for the optimized kernels: the input offset folded into the bias
(generator.fold_fc_input_offset) and the weights in row blocks of the core's geometry (fc_row_blocks, fc_block_shape,
fc_blocks_pay).

The C kernels that read the blocks are compared byte for byte with the portable kernel in test_latency_kernels.py
(host, M4, M7, M55) and a generated library with TensorFlow Lite Micro in test_firmware_ops.py; here the Python
side: the folded sums equal the unfolded ones exactly (integers), the fold is refused where int32 could overflow,
the layout puts every weight where the C header says, and the generator picks the blocks only where they pay.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from test_firmware_support import convert, write
from tinyasc.firmware_sim.generator import (FC_BLOCKS_MAX_PADDING, FC_BLOCKS_MIN_MACS, GeneratorOptions, PreparedFc,
                                            fc_block_shape, fc_blocks_pay, fc_row_blocks, fold_fc_input_offset,
                                            generate)
from tinyasc.firmware_sim.params import FcParams
from tinyasc.firmware_sim.target import LibraryTarget, Target


def _prep(w: np.ndarray, bias, off: int, filter_offset: int = 0) -> PreparedFc:
    n, k = w.shape
    return PreparedFc(params=FcParams(batches=1, accum_depth=k, out_depth=n, input_offset=off,
                                      filter_offset=filter_offset, output_offset=0, act_min=-128, act_max=127,
                                      per_channel=0),
                      kernel="fully_connected_s8", filter=w, multiplier=(1 << 30,), shift=(-3,),
                      bias=None if bias is None else np.asarray(bias, np.int32))


@pytest.mark.parametrize("has_bias", [True, False])
def test_folded_bias_gives_the_same_sums(has_bias):
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(9, 37)).astype(np.int8)
    bias = rng.integers(-5000, 5000, size=9) if has_bias else None
    x = rng.integers(-128, 128, size=(6, 37))
    for off in (128, -127, 5):
        prep = fold_fc_input_offset(_prep(w, bias, off))
        assert prep.params.input_offset == 0 and prep.bias is not None and prep.bias.dtype == np.int32
        want = (x + off) @ w.astype(np.int64).T + (0 if bias is None else bias)
        got = x @ w.astype(np.int64).T + prep.bias
        assert np.array_equal(got, want)  # exact: integers, no tolerance


def test_fold_left_alone_where_nothing_folds_or_int32_could_overflow():
    w = np.full((2, 8), -128, np.int8)
    unchanged = _prep(w, [1, 2], 0)
    assert fold_fc_input_offset(unchanged) is unchanged  # no offset
    with_zero_point = _prep(w, [1, 2], 7, filter_offset=3)
    assert fold_fc_input_offset(with_zero_point) is with_zero_point  # weights with a zero point
    # |b| + (|off| + 128) sum |w| just below 2^31 folds, at 2^31 it does not
    edge = (1 << 31) - 1 - (128 + 128) * 128 * 8
    assert fold_fc_input_offset(_prep(w, [edge, 0], 128)).params.input_offset == 0
    too_big = _prep(w, [edge + 1, 0], 128)
    assert fold_fc_input_offset(too_big) is too_big


@pytest.mark.parametrize("n,k,rows,ks", [(16, 52, 4, 4), (20, 37, 8, 16), (8, 8, 8, 16), (5, 3, 4, 4)])
def test_row_blocks_put_each_weight_where_the_header_says(n, k, rows, ks):
    """tinyasc_kernels.h: block j is K / ks steps of rows x ks bytes (step s: each row's k = s ks ... in turn), then
    each row's last K % ks; N rounded up to whole blocks with zero rows."""
    rng = np.random.default_rng(n * k)
    w = rng.integers(-128, 128, size=(n, k)).astype(np.int8)
    flat = fc_row_blocks(w, rows, ks)
    n_pad = -(-n // rows) * rows
    assert flat.size == n_pad * k
    whole, tail = k - k % ks, k % ks
    for o in range(n_pad):
        block, r = divmod(o, rows)
        for i in range(k):
            at = block * rows * k + ((i // ks) * rows + r) * ks + i % ks if i < whole else (
                block * rows * k + rows * whole + r * tail + i - whole)
            assert flat[at] == (w[o, i] if o < n else 0), (o, i)


def test_blocks_pay_with_a_whole_block_and_few_zero_rows():
    assert fc_blocks_pay(640, 8) and fc_blocks_pay(12, 4) and fc_blocks_pay(8, 8)
    assert not fc_blocks_pay(2, 8) and not fc_blocks_pay(3, 4)  # no whole block: a classifier's output rows
    assert not fc_blocks_pay(10, 4)  # two zero rows of twelve: more than FC_BLOCKS_MAX_PADDING
    assert fc_blocks_pay(63, 8) and (64 - 63) <= FC_BLOCKS_MAX_PADDING * 63
    assert fc_block_shape(Target.CORTEX_M55) == (8, 16)
    assert fc_block_shape(Target.CORTEX_M4) == fc_block_shape(Target.CORTEX_M7) == (4, 4)
    assert fc_block_shape(None) is None


def _fc_tflite(path, k: int, n: int):
    import tensorflow as tf

    rng = np.random.default_rng(3)
    w = (rng.normal(size=(k, n)) * 0.5).astype(np.float32)
    b = (rng.normal(size=n) * 0.5).astype(np.float32)
    fn = lambda x: tf.nn.relu(tf.matmul(tf.reshape(x, (1, k)), w) + b)  # noqa: E731
    return write(path, convert(fn, (1, k), lo=-1.0, hi=2.0))


@pytest.fixture(scope="module")
def fc_model(tmp_path_factory):
    """One layer of 52 x 160 = 8,320 MACs: at least FC_BLOCKS_MIN_MACS."""
    assert 52 * 160 >= FC_BLOCKS_MIN_MACS
    return _fc_tflite(tmp_path_factory.mktemp("fc") / "fc.tflite", 52, 160)


@pytest.mark.parametrize("target,call,rows,ks", [
    (LibraryTarget.CORTEX_M4, "tinyasc_opt_fully_connected_blocks_s8", 4, 4),
    (LibraryTarget.CORTEX_M55, "tinyasc_opt_fully_connected_blocks_s8", 8, 16),
    (LibraryTarget.PORTABLE, "tinyasc_fully_connected_s8", None, None),
])
def test_generator_folds_and_picks_the_blocks_per_core(fc_model, tmp_path, target, call, rows, ks):
    art = generate(fc_model, tmp_path / "fw", options=GeneratorOptions(target=target, measure_tflm_arena=False))
    c = (art.out_dir / "model.c").read_text()
    assert f"{call}(&l" in c
    assert re.search(r"\.input_offset = 0\b", c)  # folded on every backend (the model's input offset is not 0)
    if rows is None:
        assert "block_rows" not in c
    else:
        assert f".block_rows = {rows}, .block_k = {ks}" in c
        assert f"in blocks of {rows} rows x {ks} k" in c


def test_a_small_head_keeps_its_rows(tmp_path):
    """A model whose FULLY_CONNECTED layers hold fewer than FC_BLOCKS_MIN_MACS in whole blocks (a classifier's head)
    keeps the rows kernel: its smaller code is worth more than the time the blocks would save."""
    assert 52 * 16 < FC_BLOCKS_MIN_MACS
    model = _fc_tflite(tmp_path / "head.tflite", 52, 16)
    art = generate(model, tmp_path / "fw", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4,
                                                                    measure_tflm_arena=False))
    c = (art.out_dir / "model.c").read_text()
    assert "tinyasc_opt_fully_connected_s8(&l" in c and "block_rows" not in c
    assert re.search(r"\.input_offset = 0\b", c)  # the offset folded all the same
