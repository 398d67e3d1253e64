"""The SiLU fusion (planner.find_silu): an int8 MUL(x, LOGISTIC(x)), as onnx2tf writes PyTorch's SiLU, run as one
256-entry table the generator computes (int8_tables.silu_table).

Op counts and kernel calls before and after the pass, the chains it must not fuse, the table's integer arithmetic
against TensorFlow Lite Micro's intermediate tensors on every input code, and the generated library against TensorFlow Lite Micro
on every input code (tolerance: zero differing int8 elements; the table promises the unfused graph's integers, the
LOGISTIC's output rounded to int8 as TFLite rounds it), on the host (portable and Cortex-M4 libraries) and under
QEMU for the M4 and M55.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_firmware_support import convert, write
from tinyasc.firmware_sim import int8_tables, quant
from tinyasc.firmware_sim.build import build_host
from tinyasc.firmware_sim.generator import GeneratorOptions, generate
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.planner import find_silu, plan_arena
from tinyasc.firmware_sim.reader import read_tflite
from tinyasc.firmware_sim.target import LibraryTarget

SHAPE = (1, 7, 37, 1)  # 259 elements: every int8 code once and three more (the kernel's passes of four and a tail)


def _silu(x):
    import tensorflow as tf

    return x * tf.math.sigmoid(x)


def _silu_sigmoid_first(x):
    import tensorflow as tf

    return tf.math.sigmoid(x) * x


def _shifted(x):  # MUL(x, LOGISTIC(x + c)): the LOGISTIC reads another tensor
    import tensorflow as tf

    return x * tf.math.sigmoid(x + 0.5)


def _forked(x):  # the sigmoid also read by an ADD
    import tensorflow as tf

    s = tf.math.sigmoid(x)
    return x * s + s


def _model(tmp_path, name, fn, lo=-6.0, hi=4.0):
    return write(tmp_path / f"{name}.tflite", convert(fn, SHAPE, lo=lo, hi=hi, n_rep=16))


def _every_code(n: int = 2) -> np.ndarray:
    """``n`` inputs holding each int8 code once (in a shuffled order) and three more."""
    rng = np.random.default_rng(7)
    size = int(np.prod(SHAPE))
    out = np.empty((n, *SHAPE), dtype=np.int8)
    for k in range(n):
        codes = np.concatenate([np.arange(-128, 128), rng.integers(-128, 128, size - 256)])
        out[k] = rng.permutation(codes).astype(np.int8).reshape(SHAPE)
    return out


def test_pass_fuses_silu_op_counts(tmp_path):
    path = _model(tmp_path, "silu", _silu)
    g = read_tflite(path)
    assert [o.opcode for o in g.operators] == ["LOGISTIC", "MUL"]  # before the pass
    assert find_silu(g) == {1: 0}
    plan = plan_arena(g)
    assert plan.fused == {0: 1} and plan.silu == {1: 0}
    assert g.operators[0].outputs[0] not in plan.offsets  # the sigmoid is never stored
    art = generate(path, tmp_path / "fw", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4))
    c = (art.out_dir / "model.c").read_text()
    assert c.count("tinyasc_lut_s8(&") == 1 and "logistic_s8(" not in c and "mul_fast_s8(" not in c
    assert art.kernels == ["tinyasc_lut_s8"] and [layer.fused_into for layer in art.layers] == [1, None]
    # without fusion both ops run their own kernels
    art0 = generate(path, tmp_path / "fw0", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4, fuse=False))
    c0 = (art0.out_dir / "model.c").read_text()
    assert "tinyasc_logistic_s8(&l0_p" in c0 and "mul_fast_s8(&l1_p" in c0 and "lut_s8" not in c0


@pytest.mark.parametrize("variant", ["shifted", "forked"])
def test_pass_leaves_other_chains_alone(variant, tmp_path):
    """A LOGISTIC of another tensor than the MUL's other operand, or a sigmoid read by a second op, is not fused."""
    g = read_tflite(_model(tmp_path, variant, _shifted if variant == "shifted" else _forked))
    assert sum(o.opcode == "LOGISTIC" for o in g.operators) == 1 and any(o.opcode == "MUL" for o in g.operators)
    assert find_silu(g) == {}
    assert plan_arena(g).silu == {}


@pytest.mark.parametrize("lo,hi", [(-6.0, 4.0), (-0.3, 0.5), (-40.0, 12.0)])
def test_table_arithmetic_every_code_vs_tflm(lo, hi, tmp_path):
    """int8_tables' LOGISTIC and MUL against TensorFlow Lite Micro on all 256 codes, unfused: the sigmoid tensor and
    the product, read from TFLM's intermediate tensors. (Not TFLite's interpreter: its XNNPACK MUL rounds two of
    these products differently from TFLM's reference kernel.)"""
    from tinyasc.tflite_io import tflm

    path = _model(tmp_path, "silu", _silu, lo, hi)
    g = read_tflite(path)
    lg, mul = g.operators
    x, s, y = (g.tensors[k] for k in (lg.inputs[0], lg.outputs[0], mul.outputs[0]))
    codes = np.resize(np.arange(-128, 128, dtype=np.int8), int(np.prod(SHAPE))).reshape(1, *SHAPE)
    out, inter = tflm.run(path, codes, tensors=[lg.outputs[0]])
    want_s = inter[lg.outputs[0]].reshape(-1)[:256]
    want_y = out.reshape(-1)[:256]
    m, sh, radius = quant.logistic_params(x.q()[0])
    lkw = dict(input_zero_point=x.q()[1], input_range_radius=radius, input_multiplier=m, input_shift=sh)
    got_s = np.array([int8_tables.logistic_s8(int(q), **lkw) for q in range(-128, 128)])
    assert np.array_equal(got_s, want_s)
    mm, ms = quant.quantize_multiplier(float(x.q()[0]) * float(s.q()[0]) / float(y.q()[0]))
    first = mul.inputs[0] == lg.inputs[0]
    offs = (-x.q()[1], -s.q()[1]) if first else (-s.q()[1], -x.q()[1])
    table = int8_tables.silu_table(lkw, dict(in1_offset=offs[0], in2_offset=offs[1], out_mult=mm, out_shift=ms,
                                             out_offset=y.q()[1], act_min=-128, act_max=127), x_first=first)
    assert np.array_equal(table[np.arange(-128, 128) & 0xFF], want_y)
    assert len(np.unique(want_y)) > 20  # the range exercised, not a constant


@pytest.mark.parametrize("backend", ["portable", "cortex-m4"])
@pytest.mark.parametrize("name,fn,lo,hi", [("silu", _silu, -6.0, 4.0), ("silu_sigmoid_first", _silu_sigmoid_first,
                                                                        -6.0, 4.0), ("silu_narrow", _silu, -0.3, 0.5)])
def test_fused_silu_bit_exact_vs_tflm(name, fn, lo, hi, backend, tmp_path):
    path = _model(tmp_path, name, fn, lo, hi)
    opts = GeneratorOptions() if backend == "portable" else GeneratorOptions(target=LibraryTarget.CORTEX_M4)
    art = generate(path, tmp_path / "fw", options=opts)
    assert art.kernels == ["tinyasc_lut_s8"]
    exe = build_host(art.out_dir, dump=True)
    res = check_parity(art, _every_code(), debug_layers=True, exe=exe)
    assert res.identical, res.summary() + " " + str([layer for layer in res.layers if layer.differing])


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_fused_silu_bit_exact_on_target(target, tmp_path):
    """The table kernel as the target compiles it, under QEMU: equal to its host build and TensorFlow Lite Micro on
    inputs holding every code (measure_tflite raises ParityError on any differing byte)."""
    from tinyasc.firmware_sim import harness as L

    path = _model(tmp_path, "silu", _silu)
    r = L.measure_tflite(path, target=L.Target(target), out_dir=tmp_path / "lat", golden=_every_code(),
                         sparse=False, frontend=False)
    assert r.parity["equal"] and r.parity["tflm_equal"] and r.parity["mismatched_bytes"] == 0
    assert [x.op for x in r.layers] == ["LOGISTIC", "MUL"] and r.layers[1].instructions > 259
