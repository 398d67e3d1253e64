"""The op registry's prepare step: typed, frozen kernel parameters (firmware_sim/params.py).

Checks that every parameter record mirrors its C struct in tinyasc_kernels.h field for field, that
records are frozen and validated when built (a wrong array length, an inverted activation range, a
value outside its C type, a pointer that is not a C name: ValueError), that every registered
operator has a prepare step, and that the generated C holds exactly the prepared parameters of every
layer (the emitter formats them; it computes nothing of its own).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from test_firmware_support import convert, write
from tinyasc.firmware_sim import params
from tinyasc.firmware_sim.generator import REGISTRY, GeneratorOptions, Prepared, generate
from tinyasc.firmware_sim.kernel_sources import C_DIR
from tinyasc.firmware_sim.target import LibraryTarget

_HEADER = (C_DIR / "include" / "tinyasc_kernels.h").read_text()


def _c_fields(c_type: str) -> list[str]:
    """Member names of ``typedef struct {...} c_type;`` in declaration order."""
    m = re.search(r"typedef struct \{(?P<body>[^}]*)\}\s*" + re.escape(c_type) + r";", _HEADER)
    assert m, f"{c_type} not in tinyasc_kernels.h"
    body = re.sub(r"/\*.*?\*/", "", m.group("body"), flags=re.S)
    names = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        type_and_first, *rest = decl.split(",")
        first = type_and_first.split()[-1]
        for name in (first, *rest):
            names.append(re.sub(r"\[.*\]", "", name.strip()).lstrip("*"))
    return names


@pytest.mark.parametrize("cls", params.ALL, ids=lambda c: c.C_TYPE)
def test_record_mirrors_its_c_struct(cls):
    assert [f.name for f in dataclasses.fields(cls)] == _c_fields(cls.C_TYPE)


def _conv(**over):
    base = dict(batches=1, in_h=8, in_w=9, in_c=4, out_h=8, out_w=9, out_c=6, k_h=3, k_w=3, stride_h=1, stride_w=2,
                dil_h=1, dil_w=1, pad_h=1, pad_w=1, filter_in_c=4, depth_multiplier=1, input_offset=5,
                output_offset=-3, act_min=-128, act_max=127)
    base.update(over)
    return params.ConvParams(**base)


def test_records_are_frozen_keyword_only_and_format_as_designated_initializers():
    p = _conv()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.stride_w = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        params.ConvParams(1, 8, 9)  # type: ignore[misc]  # keyword-only
    decl = p.c_decl("l3_p")
    assert decl.startswith("static const tinyasc_conv_params l3_p = {.batches = 1, ") and ".stride_w = 2" in decl
    mm = params.MeanMulParams(
        mean=params.MeanParams(kept_dims=(1,) * 6, kept_strides=(0,) * 6, red_dims=(1, 1, 1, 1, 4, 1),
                               red_strides=(0, 0, 0, 0, 3, 0), num_elements=4, input_zero_point=0,
                               output_zero_point=0, multiplier=1 << 30, shift=-1),
        a_kept_strides=(0,) * 6, a_red_strides=(0,) * 6, b_kept_strides=(0,) * 6, b_red_strides=(0,) * 6)
    assert ".mean = {.kept_dims = {1, 1, 1, 1, 1, 1}," in mm.initializer()
    w = params.WeightsRef(data=params.CRef("l3_filter"), bias=params.NULL, multiplier=params.CRef("l3_mult"),
                          shift=params.CRef("l3_shift"), sparse=params.CRef("&l3_sparse"))
    assert w.initializer().endswith(".sparse = &l3_sparse}")


@pytest.mark.parametrize("bad", [
    lambda: _conv(act_min=10, act_max=5),  # inverted activation range
    lambda: _conv(stride_h=0),
    lambda: _conv(in_c=6, filter_in_c=4),  # groups do not divide
    lambda: _conv(out_c=1 << 31),  # outside int32_t
    lambda: _conv(k_w=2.0),  # not an integer
    lambda: params.TransposeParams(out_dims=(1, 2, 3), in_strides=(0,) * 6),  # not TINYASC_MAX_DIMS long
    lambda: params.PadParams(in_dims=(1,) * 6, out_dims=(1,) * 6, before=(0,) * 6, out_size=1, pad_value=200),
    lambda: params.BinaryParams(size=7, broadcast=0, out_dims=(1, 1, 1, 1, 2, 3), in1_strides=(0,) * 6,
                                in2_strides=(0,) * 6, in1_offset=0, in2_offset=0, out_offset=0, left_shift=20,
                                in1_mult=0, in1_shift=0, in2_mult=0, in2_shift=0, out_mult=0, out_shift=0,
                                act_min=-128, act_max=127),  # size != prod(out_dims)
    lambda: params.CRef("l3_filter; abort()"),
])
def test_records_refuse_what_the_kernel_could_not_run(bad):
    with pytest.raises(ValueError):
        bad()


def test_every_registered_op_has_a_prepare_step():
    for op, spec in REGISTRY.items():
        assert callable(spec.prepare) and callable(spec.emit), op


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(5)
    w1 = (rng.normal(size=(3, 3, 2, 6)) * 0.4).astype(np.float32)
    d1 = (rng.normal(size=(3, 1, 6, 1)) * 0.4).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 6, 4)) * 0.4).astype(np.float32)

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME"))
        y = tf.nn.depthwise_conv2d(y, d1, (1, 1, 1, 1), "SAME") + y
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        y = tf.nn.conv2d(y, w2, 1, "VALID")
        return tf.nn.softmax(tf.reshape(tf.reduce_mean(y, axis=[1, 2]), (1, 4)))

    d = tmp_path_factory.mktemp("params")
    return write(d / "m.tflite", convert(fn, (1, 8, 10, 2), lo=-1.0, hi=1.0))


@pytest.mark.parametrize("target", [LibraryTarget.PORTABLE, LibraryTarget.CORTEX_M4], ids=lambda t: t.value)
def test_generated_c_holds_exactly_the_prepared_parameters(small_model, target, tmp_path):
    """The emitter writes each layer's prepared parameters verbatim (``l{i}_p``), and the prepare step of
    each operator, run again, gives an equal record: it is a pure function of the graph."""
    from tinyasc.firmware_sim.generator import _Generator
    from tinyasc.firmware_sim.planner import plan_arena
    from tinyasc.firmware_sim.reader import read_tflite

    art = generate(small_model, tmp_path / "fw", options=GeneratorOptions(target=target, measure_tflm_arena=False))
    model_c = (art.out_dir / "model.c").read_text()
    graph = read_tflite(small_model)
    gen = _Generator(graph, plan_arena(graph))
    seen = 0
    for op in graph.operators:
        prep = REGISTRY[op.opcode].prepare(gen, op)
        again = REGISTRY[op.opcode].prepare(gen, op)
        assert isinstance(prep, Prepared) and prep.params == again.params and prep.kernel == again.kernel
        assert not gen.kernels_used and not gen.const_decls  # preparing writes and records nothing
        if prep.params is not None:
            assert prep.params.c_decl(f"l{op.index}_p") in model_c, op.opcode
            seen += 1
    assert seen >= 5


def test_a_refused_record_is_one_line_of_bad_input(small_model, tmp_path, monkeypatch, capsys):
    """A prepare step whose record refuses its values: asc-firmware says so in one line naming the operator, exit 2,
    nothing written."""
    from tinyasc.errors import EXIT_BAD_INPUT
    from tinyasc.firmware_sim import cli
    from tinyasc.firmware_sim import generator as G

    def bad(gen, op):
        return G.Prepared(params=params.PoolParams(
            batches=1, in_h=1, in_w=1, channels=1, out_h=1, out_w=1, f_h=1, f_w=1, stride_h=1, stride_w=1, pad_h=0,
            pad_w=0, act_min=5, act_max=-5))

    monkeypatch.setitem(G.REGISTRY, "MAX_POOL_2D", dataclasses.replace(G.REGISTRY["MAX_POOL_2D"], prepare=bad))
    out = tmp_path / "fw"
    assert cli.main([str(small_model), "--out", str(out), "--no-tflm-arena"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(MAX_POOL_2D): tinyasc_pool_params: act_min 5 > act_max -5" in err[0], err
    assert not out.exists() and not list(tmp_path.glob(".fw*"))
