"""A small multi-op int8 net (BC-ResNet/ResNorm-like op mix) end to end, the arena plan, the
CLI and bad input.

The net chains PAD, CONV_2D, ResNorm-style frequency instance norm (MEAN, SUB, MUL, ADD,
RSQRT), DEPTHWISE_CONV_2D + SiLU (LOGISTIC, MUL), the reshape/transpose form of sub-spectral
affine, MAX_POOL_2D, a 1x1 CONV_2D and a global MEAN. Parity tolerance: zero differing int8
elements on the output and every intermediate tensor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_firmware_support import convert, edge_inputs, write
from tinyasc.errors import EXIT_BAD_INPUT, InputError
from tinyasc.firmware_sim import cli
from tinyasc.firmware_sim.build import build_host
from tinyasc.firmware_sim.generator import GeneratorOptions, generate
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.planner import overlapping_live_tensors, plan_arena
from tinyasc.firmware_sim.reader import read_tflite

SHAPE = (1, 32, 20, 1)


def _net():
    import tensorflow as tf

    rng = np.random.default_rng(7)
    w1 = (rng.normal(size=(3, 3, 1, 8)) * 0.6).astype(np.float32)
    b1 = (rng.normal(size=(8,)) * 0.1).astype(np.float32)
    dw = (rng.normal(size=(3, 1, 8, 1)) * 0.6).astype(np.float32)
    gamma = (1.0 + 0.2 * rng.normal(size=(1, 32, 1, 1))).astype(np.float32)
    beta = (0.1 * rng.normal(size=(1, 32, 1, 1))).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 8, 10)) * 0.4).astype(np.float32)

    def net(x):
        y = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        y = tf.nn.relu(tf.nn.conv2d(y, w1, 2, "VALID") + b1)  # (1, 16, 10, 8)
        m = tf.reduce_mean(y, axis=[1], keepdims=True)  # ResNorm: 0.5 x + FreqIN(x)
        d = y - m
        v = tf.reduce_mean(d * d, axis=[1], keepdims=True)
        y = 0.5 * y + d * tf.math.rsqrt(v + 1e-5)
        z = tf.nn.depthwise_conv2d(y, dw, (1, 1, 1, 1), "SAME")
        z = z * tf.math.sigmoid(z)  # SiLU
        t = tf.reshape(tf.transpose(z, [0, 3, 1, 2]), (1, 32, 4, 10))  # sub-spectral groups
        t = t * gamma + beta
        z = tf.transpose(tf.reshape(t, (1, 8, 16, 10)), [0, 2, 3, 1])
        z = tf.nn.max_pool2d(z, 2, 2, "VALID")  # (1, 8, 5, 8)
        z = tf.nn.conv2d(z, w2, 1, "SAME")
        return tf.reduce_mean(z, axis=[1, 2])  # (1, 10)

    return net


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fwmodel")
    return write(d / "net_int8.tflite", convert(_net(), SHAPE, lo=-2.0, hi=2.0, n_rep=16))


@pytest.fixture(scope="module")
def artifact(model, tmp_path_factory):
    return generate(model, tmp_path_factory.mktemp("fw") / "out", options=GeneratorOptions(measure_tflm_arena=True))


def test_graph_structure(model):
    counts = read_tflite(model).op_counts()
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL", "MEAN", "RSQRT", "LOGISTIC",
               "MAX_POOL_2D", "PAD", "TRANSPOSE", "RESHAPE"):
        assert counts.get(op, 0) >= 1, (op, counts)


def test_full_model_bit_exact_every_layer(artifact):
    exe = build_host(artifact.out_dir, dump=True)
    inputs = edge_inputs(SHAPE, 12, seed=3)
    res = check_parity(artifact, inputs, debug_layers=True, exe=exe)
    assert res.identical, res.summary()
    assert res.differing_elements == 0 and res.top1_agreement == 1.0
    stored = [l for l in artifact.layers if l.fused_into is None]
    assert len(stored) < len(artifact.layers)  # the fused MUL has no tensor to compare
    assert len(res.layers) == len(stored) and all(l.differing == 0 for l in res.layers)


def test_arena_plan_has_no_live_overlap_and_beats_tflm(model, artifact):
    graph = read_tflite(model)
    for in_place, fuse in ((True, True), (False, True), (True, False), (False, False)):
        plan = plan_arena(graph, in_place=in_place, fuse=fuse)
        assert overlapping_live_tensors(plan) == []
        assert all(off % plan.alignment == 0 for off in plan.offsets.values())
        assert plan.arena_size <= plan.naive_size
    # in-place and MUL->MEAN fusion only ever shrink the plan; ResNorm's variance is fused
    full = plan_arena(graph)
    assert full.fused, "ResNorm's mean((x - mu)^2) should fuse MUL into MEAN"
    assert full.arena_size <= plan_arena(graph, in_place=False).arena_size
    assert full.arena_size <= plan_arena(graph, fuse=False).arena_size
    assert all(graph.operators[m].outputs[0] not in full.offsets for m in full.fused)
    # the largest single activation is a hard lower bound on any plan
    assert artifact.arena_size >= max(graph.tensors[t].nbytes for t in plan.offsets)
    assert artifact.tflm_arena_size is not None
    assert artifact.arena_size <= 0.5 * artifact.tflm_arena_size, (artifact.arena_size, artifact.tflm_arena_size)


def test_overlap_checker_catches_a_bad_plan(model):
    plan = plan_arena(read_tflite(model))
    live = sorted(plan.offsets, key=lambda t: plan.lifetimes[t])
    # force two tensors that are alive together onto the same offset
    for a in live:
        for b in live:
            if a < b and plan.lifetimes[a][1] >= plan.lifetimes[b][0] >= plan.lifetimes[a][0] \
                    and a not in plan.aliases and b not in plan.aliases:
                plan.offsets[b] = plan.offsets[a]
                assert (a, b) in overlapping_live_tensors(plan) or (b, a) in overlapping_live_tensors(plan)
                return
    pytest.fail("no simultaneously live pair found")


def test_generated_sources_follow_the_contract(artifact):
    h = (artifact.out_dir / "model.h").read_text()
    for macro in ("TINYASC_INPUT_SIZE", "TINYASC_OUTPUT_SIZE", "TINYASC_ARENA_SIZE", "TINYASC_NUM_LAYERS",
                  "TINYASC_INPUT_SCALE", "TINYASC_INPUT_ZERO_POINT", "TINYASC_OUTPUT_SCALE",
                  "TINYASC_OUTPUT_ZERO_POINT"):
        assert f"#define {macro} " in h
    assert "typedef int8_t tinyasc_input_t;" in h and "typedef int8_t tinyasc_output_t;" in h
    assert "int tinyasc_model_invoke(const tinyasc_input_t *input, tinyasc_output_t *output);" in h
    c = (artifact.out_dir / "model.c").read_text()
    assert c.count("\n    TINYASC_LAYER_BEGIN(") == c.count("\n    TINYASC_LAYER_END(") == len(artifact.layers)
    assert "malloc" not in c and "static int8_t tinyasc_arena[" in c
    # the portable default calls only portable kernels, and the directory holds only their files
    assert artifact.target == "portable" and artifact.kernels
    assert not [k for k in artifact.kernels if k.startswith("tinyasc_opt_")]
    assert sorted(p.name for p in (artifact.out_dir / "kernels").glob("*.c")) == sorted(
        Path(s).name for s in artifact.sources)
    for k in artifact.kernels:
        assert f"{k}(" in c


def test_profile_markers_compile_and_fire(artifact, tmp_path):
    """TINYASC_PROFILE builds call tinyasc_layer_marker(i, 0/1) once per layer, in order."""
    import subprocess

    from tinyasc.firmware_sim.build import find_compiler

    harness = tmp_path / "prof.c"
    harness.write_text(
        '#include <stdio.h>\n#include "model.h"\n'
        "void tinyasc_layer_marker(int layer, int is_end) { printf(\"%d %d\\n\", layer, is_end); }\n"
        "static int8_t x[TINYASC_INPUT_SIZE], y[TINYASC_OUTPUT_SIZE];\n"
        "int main(void) { return tinyasc_model_invoke(x, y); }\n")
    d = artifact.out_dir
    exe = tmp_path / "prof"
    subprocess.run([find_compiler(), "-O1", "-std=c99", "-Wall", "-Werror", "-DTINYASC_PROFILE",
                    f"-I{d / 'include'}", f"-I{d}", *map(str, sorted((d / "kernels").glob("*.c"))),
                    str(d / "model.c"), str(harness), "-o", str(exe)], check=True)
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    n = len(artifact.layers)
    assert [int(v) for v in lines] == [v for i in range(n) for v in (i, 0, i, 1)]


def test_cli_check_debug_layers_writes_reports(model, tmp_path):
    golden = tmp_path / "g.npz"
    np.savez(golden, features=np.random.default_rng(0).normal(size=(3, *SHAPE)).astype(np.float32))
    out = tmp_path / "cli"
    rc = cli.main([str(model), "--out", str(out), "--check", "--debug-layers", "--golden", str(golden),
                   "--no-tflm-arena"])
    assert rc == 0
    rep = json.loads((out / "firmware.json").read_text())
    assert rep["parity"]["identical"] and rep["parity"]["n_inputs"] == 3
    assert rep["parity"]["differing_elements"] == 0 and len(rep["parity"]["layers"]) == sum(
        l["fused_into"] is None for l in rep["layers"])
    assert rep["total_macs"] == sum(l["macs"] for l in rep["layers"]) > 0
    assert rep["peak_ram_bytes"] == rep["arena_size"]
    assert "IDENTICAL" in (out / "firmware.md").read_text()


def test_bad_inputs_exit_2(model, tmp_path, capsys):
    import tensorflow as tf

    # float model
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [tf.function(lambda x: x * 2.0).get_concrete_function(tf.TensorSpec((1, 4), tf.float32))])
    flt = write(tmp_path / "float.tflite", conv.convert())
    # unsupported op (int8 TANH)
    unsup = write(tmp_path / "tanh.tflite", convert(lambda x: tf.math.tanh(x), (1, 4, 4, 2)))
    # corrupt flatbuffer: a real header with the body cut off, and random bytes
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(model.read_bytes()[:64])
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    cases = {flt: "float or hybrid", unsup: "unsupported operator TANH at index 0", corrupt: "",
             junk: "not a TFLite flatbuffer", tmp_path / "missing.tflite": "no such file"}
    for path, needle in cases.items():
        rc = cli.main([str(path), "--out", str(tmp_path / "o"), "--no-tflm-arena"])
        err = capsys.readouterr().err
        assert rc == EXIT_BAD_INPUT, (path, err)
        assert len(err.strip().splitlines()) == 1 and needle in err and str(path) in err, err
    rc = cli.main([str(model), "--out", str(tmp_path / "o2"), "--check", "--cc", "no-such-cc-tinyasc",
                   "--golden", str(tmp_path / "none.npz"), "--no-tflm-arena"])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT and "no-such-cc-tinyasc" in err and "not found" in err
    with pytest.raises(InputError):
        generate(flt, tmp_path / "o3", options=GeneratorOptions(measure_tflm_arena=False))


def test_firmware_sim_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys, tinyasc.firmware_sim, tinyasc.firmware_sim.cli, tinyasc.firmware_sim.parity, "
            "tinyasc.firmware_sim.build, tinyasc.firmware_sim.report; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_golden_sources(tmp_path):
    from tinyasc.firmware_sim.parity import load_golden
    from tinyasc.qmath import quantize

    shape, scale, zp = [1, 4, 3, 1], 0.05, -3
    d = tmp_path / "ds"
    d.mkdir()
    feats = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    np.save(d / "features.npy", feats)
    np.save(d / "labels.npy", np.arange(2))  # wrong size: skipped
    got = load_golden(shape, scale, zp, dataset=d)
    assert got.shape == (2, *shape) and got.dtype == np.int8
    np.testing.assert_array_equal(got.reshape(2, -1), quantize(feats.reshape(2, -1), scale, zp))
    # TFLite QUANTIZE rounds half away from zero and saturates
    np.testing.assert_array_equal(quantize(np.array([0.25, -0.25, 100.0, -100.0]), 0.5, 0),
                                  np.array([1, -1, 127, -128], dtype=np.int8))
    ints = np.arange(24, dtype=np.int8).reshape(2, 12)
    np.savez(tmp_path / "g.npz", inputs=ints)
    np.testing.assert_array_equal(load_golden(shape, scale, zp, golden=tmp_path / "g.npz").reshape(2, -1), ints)
    np.savez(tmp_path / "bad.npz", inputs=np.zeros(5, np.int8))
    with pytest.raises(InputError):
        load_golden(shape, scale, zp, golden=tmp_path / "bad.npz")
    with pytest.raises(InputError):
        load_golden(shape, scale, zp, dataset=tmp_path / "empty_or_missing")


# ------------------------------------------------------------------------------------- 16x8


def _net_16x8():
    """The BC-ResNet block's op mix that has int16 kernels: PAD, CONV_2D, DEPTHWISE_CONV_2D + SiLU,
    the transpose/reshape sub-spectral affine, the residual ADD, MAX_POOL_2D, 1x1 CONV_2D, MEAN."""
    import tensorflow as tf

    rng = np.random.default_rng(11)
    w1 = (rng.normal(size=(3, 3, 1, 8)) * 0.6).astype(np.float32)
    dw = (rng.normal(size=(3, 1, 8, 1)) * 0.6).astype(np.float32)
    gamma = (1.0 + 0.2 * rng.normal(size=(1, 32, 1, 1))).astype(np.float32)
    beta = (0.1 * rng.normal(size=(1, 32, 1, 1))).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 8, 10)) * 0.4).astype(np.float32)

    def net(x):
        y = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        y = tf.nn.relu(tf.nn.conv2d(y, w1, 2, "VALID") + 0.1)  # (1, 16, 10, 8)
        z = tf.nn.depthwise_conv2d(y, dw, (1, 1, 1, 1), "SAME")
        z = z * tf.math.sigmoid(z)
        t = tf.reshape(tf.transpose(z, [0, 3, 1, 2]), (1, 32, 4, 10)) * gamma + beta
        z = tf.nn.relu(tf.transpose(tf.reshape(t, (1, 8, 16, 10)), [0, 2, 3, 1]) + y)
        z = tf.nn.max_pool2d(z, 2, 2, "VALID")
        return tf.reduce_mean(tf.nn.conv2d(z, w2, 1, "SAME"), axis=[1, 2])

    return net


def test_16x8_model_bit_exact_through_the_cli(tmp_path):
    """A 16x8 model: int16 I/O in model.h, float golden features quantized to int16, every layer
    equal to TFLM (tolerance: zero differing int16 elements)."""
    model = write(tmp_path / "net_16x8.tflite", convert(_net_16x8(), SHAPE, lo=-2.0, hi=2.0, n_rep=16, int16=True))
    golden = tmp_path / "g.npz"
    np.savez(golden, features=np.random.default_rng(1).normal(size=(4, *SHAPE)).astype(np.float32))
    out = tmp_path / "fw16"
    assert cli.main([str(model), "--out", str(out), "--check", "--debug-layers", "--golden", str(golden)]) == 0
    rep = json.loads((out / "firmware.json").read_text())
    assert rep["activations"] == "int16" and rep["parity"]["identical"] and rep["parity"]["n_inputs"] == 4
    assert len(rep["parity"]["layers"]) == len(rep["layers"])  # no fusion on int16: every layer compared
    h = (out / "model.h").read_text()
    assert "typedef int16_t tinyasc_input_t;" in h and "typedef int16_t tinyasc_output_t;" in h
    # every activation is 2 bytes: the plan holds at least the largest int16 tensor
    graph = read_tflite(model)
    assert rep["arena_size"] >= max(t.nbytes for t in graph.tensors if not t.is_const and t.dtype == "INT16")
    assert rep["tflm_arena_size"] is not None and rep["arena_size"] < rep["tflm_arena_size"]


def test_16x8_unsupported_op_is_one_line(tmp_path, capsys):
    import tensorflow as tf

    sub = write(tmp_path / "sub16.tflite", convert(lambda x: x - 0.5, (1, 4, 4, 2), int16=True))
    rc = cli.main([str(sub), "--out", str(tmp_path / "o"), "--no-tflm-arena"])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT and len(err.strip().splitlines()) == 1
    assert "unsupported operator SUB" in err and "int16 activations" in err and str(sub) in err
