"""Time tiling by streaming (``asc-firmware --ram-budget`` / ``--step-frames``): bit-exact with the whole clip.

The tiny trunk has every layer type a BC-ResNet-ASC trunk has along time: PAD, a stride-2
CONV_2D, a frequency depthwise conv, the broadcast residual (frequency MEAN as a
DEPTHWISE_CONV_2D over all bins, a temporal depthwise 1x3, SiLU, broadcast ADD), the
sub-spectral affine (TRANSPOSE / RESHAPE / MUL / ADD), a frequency instance norm (MEAN over
frequency, SUB, MUL, RSQRT) and a MAX_POOL_2D, then the global MEAN. Tolerance: zero differing
output elements against TensorFlow Lite Micro at every step size (one frame, odd sizes, the whole
clip), on the portable and the Cortex-M4 library (host build).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_firmware_support import convert, edge_inputs, write
from tinyasc.errors import EXIT_BAD_INPUT, InputError
from tinyasc.firmware_sim import cli, tiling
from tinyasc.firmware_sim.generator import GeneratorOptions, _Generator, generate
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.planner import plan_arena
from tinyasc.firmware_sim.reader import read_tflite
from tinyasc.firmware_sim.target import LibraryTarget

SHAPE = (1, 16, 40, 1)  # (batch, mel bins, frames, 1): time on W, as tinyasc exports


def _trunk_net(*, time_norm: bool = False):
    import tensorflow as tf

    rng = np.random.default_rng(11)
    w1 = (rng.normal(size=(3, 3, 1, 6)) * 0.6).astype(np.float32)
    b1 = (rng.normal(size=(6,)) * 0.1).astype(np.float32)
    fdw = (rng.normal(size=(3, 1, 6, 1)) * 0.6).astype(np.float32)
    avg = np.full((8, 1, 6, 1), 1.0 / 8, np.float32)  # frequency mean as a depthwise conv over all bins
    tdw = (rng.normal(size=(1, 3, 6, 1)) * 0.6).astype(np.float32)
    gamma = (1.0 + 0.2 * rng.normal(size=(1, 12, 1, 1))).astype(np.float32)
    beta = (0.1 * rng.normal(size=(1, 12, 1, 1))).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 6, 10)) * 0.4).astype(np.float32)

    def net(x):
        y = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        y = tf.nn.relu(tf.nn.conv2d(y, w1, 2, "VALID") + b1)  # (1, 8, 20, 6)
        x1 = tf.nn.depthwise_conv2d(y, fdw, (1, 1, 1, 1), "SAME")  # frequency depthwise
        t = tf.reshape(tf.transpose(x1, [0, 3, 1, 2]), (1, 12, 4, 20))  # sub-spectral groups
        t = t * gamma + beta
        x1 = tf.transpose(tf.reshape(t, (1, 6, 8, 20)), [0, 2, 3, 1])
        f = tf.nn.depthwise_conv2d(x1, avg, (1, 1, 1, 1), "VALID")  # (1, 1, 20, 6)
        f = tf.nn.depthwise_conv2d(f, tdw, (1, 1, 1, 1), "SAME")  # temporal 1x3
        f = f * tf.math.sigmoid(f)
        y = tf.nn.relu(y + x1 + f)  # broadcast residual
        axes = [1, 2] if time_norm else [1]  # frequency norm (time kept) or over the whole clip
        m = tf.reduce_mean(y, axis=axes, keepdims=True)
        d = y - m
        v = tf.reduce_mean(d * d, axis=axes, keepdims=True)
        y = 0.5 * y + d * tf.math.rsqrt(v + 1e-5)
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")  # (1, 4, 10, 6)
        y = tf.nn.conv2d(y, w2, 1, "SAME")
        return tf.reduce_mean(y, axis=[1, 2])  # (1, 10)

    return net


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("tile") / "trunk.tflite", convert(_trunk_net(), SHAPE, lo=-2.0, hi=2.0,
                                                                          n_rep=16))


@pytest.fixture(scope="module")
def inputs():
    return edge_inputs(SHAPE, 8, seed=5)


def _macs(graph):
    dry = _Generator(graph, plan_arena(graph, fuse=False), GeneratorOptions())
    return sum(int(dry.emit(op).macs) for op in graph.operators)


def test_analysis_splits_trunk_pool_head(model):
    g = read_tflite(model)
    an = tiling.analyze(g)
    assert g.operators[an.pool].opcode == "MEAN" and an.pool == len(g.operators) - 1 and an.head == ()
    assert len(an.trunk) == len(g.operators) - 1 and an.pool_columns == 10 and an.axis[an.input] == 2
    counts = {}
    for i in an.trunk:
        counts[g.operators[i].opcode] = counts.get(g.operators[i].opcode, 0) + 1
    for op in ("PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE", "RESHAPE", "MUL", "ADD", "SUB", "RSQRT",
               "LOGISTIC", "MAX_POOL_2D", "MEAN"):
        assert counts.get(op, 0) >= 1, (op, counts)


def test_time_major_pass_keeps_ops_and_moves_time_first(model):
    g = read_tflite(model)
    an = tiling.analyze(g)
    g2, an2 = tiling.time_major(g, an)
    assert g2.op_counts() == g.op_counts()  # the pass only re-lays tensors and constants
    for t in an.axis:
        if t == an.input:
            assert g2.tensors[t].shape == g.tensors[t].shape and an2.axis[t] == 2
        else:
            assert an2.axis[t] == 1 and g2.tensors[t].shape[1] == an.length[t]
            assert sorted(g2.tensors[t].shape) == sorted(g.tensors[t].shape)
    for op, op2 in zip(g.operators, g2.operators):
        if op.opcode == "CONV_2D" and an.axis.get(op.inputs[0]) == 2 and op.inputs[0] != an.input:
            w, w2 = g.tensors[op.inputs[1]], g2.tensors[op2.inputs[1]]
            assert np.array_equal(np.transpose(w.data, (0, 2, 1, 3)), w2.data)
            assert op2.options["StrideH"] == op.options["StrideW"]


def test_schedule_reaches_every_column_once(model):
    """At the end every tensor has all its columns; a buffer never holds more than its capacity, and
    with one step the schedule is the whole clip (nothing carried over)."""
    g = read_tflite(model)
    sg = tiling.stream_graph(g, tiling.analyze(g))
    frames = sg.an.length[sg.an.input]
    for step in (1, 3, frames):
        steps, cap, persistent = tiling.simulate(sg, step)
        assert steps == -(-frames // step)
        for gr in sg.groups:
            assert 1 <= cap[gr] <= sg.an.length[gr]
        if step == frames:
            assert not persistent and all(cap[gr] == sg.an.length[gr] for gr in sg.groups)
        else:
            assert persistent  # the temporal 3-tap conv keeps a column from one step to the next
    # VALID, stride 2, 3 taps, 42 -> 20 columns: column o reads [2o, 2o + 3)
    assert tiling.window_hi(2, 2, 0, 3, 42, 20) == 0 and tiling.window_hi(3, 2, 0, 3, 42, 20) == 1
    assert tiling.window_hi(40, 2, 0, 3, 42, 20) == 19 and tiling.window_hi(41, 2, 0, 3, 42, 20) == 20
    # SAME, 3 taps, one column of padding before: column 0 reads [-1, 2), the last column needs the clip's end
    assert tiling.window_hi(1, 1, 1, 3, 20, 20) == 0 and tiling.window_hi(2, 1, 1, 3, 20, 20) == 1
    assert tiling.window_hi(19, 1, 1, 3, 20, 20) == 18 and tiling.window_hi(20, 1, 1, 3, 20, 20) == 20
    assert tiling.window_lo(0, 1, 1) == 0 and tiling.window_lo(5, 2, 1) == 9


@pytest.mark.parametrize("target", [LibraryTarget.PORTABLE, LibraryTarget.CORTEX_M4])
def test_streamed_bit_exact_with_tflm_at_every_step_size(model, inputs, target, tmp_path):
    g = read_tflite(model)
    frames = g.tensors[g.inputs[0]].shape[2]
    whole = plan_arena(g).arena_size
    for step in (1, 3, 7, frames):
        art = generate(model, tmp_path / f"s{step}", options=GeneratorOptions(
            step_frames=step, target=target, sparse_weights=target is not LibraryTarget.PORTABLE))
        res = check_parity(art, inputs)
        assert res.identical and res.differing_elements == 0, (step, res.summary())
        t = art.tiling
        assert t["steps"] == -(-frames // step) and t["step_frames"] == step and t["whole_clip_arena_bytes"] == whole
        assert t["peak_ram_bytes"] == t["arena_bytes"] + t["features_bytes"] + t["state_bytes"] == art.peak_ram_bytes
        assert art.total_macs == t["macs"] == _macs(g)  # nothing recomputed
        model_c = (art.out_dir / "model.c").read_text()
        assert f"#define TINYASC_NUM_STEPS {t['steps']}" in model_c
        assert "tinyasc_mean_acc_s8" in model_c and "tinyasc_mean_finish_s8" in model_c
        assert (step < frames) == ("tinyasc_shift_columns" in model_c)


def _more_ops_net():
    """SQUARED_DIFFERENCE, AVERAGE_POOL_2D (SAME) and PADV2 along time, the ops the trunk net lacks."""
    import tensorflow as tf

    rng = np.random.default_rng(3)
    w = (rng.normal(size=(3, 3, 1, 4)) * 0.6).astype(np.float32)

    def net(x):
        y = tf.pad(x, [[0, 0], [0, 0], [2, 1], [0, 0]], constant_values=0.5)
        y = tf.nn.conv2d(y, w, (1, 1, 2, 1), "SAME")
        m = tf.reduce_mean(y, axis=[1], keepdims=True)
        y = tf.math.squared_difference(y, m)
        y = tf.nn.avg_pool2d(y, (1, 3), (1, 2), "SAME")
        return tf.reduce_mean(y, axis=[1, 2])

    return net


def test_every_streamed_op_of_the_registry_has_a_bit_exact_case(model, inputs, tmp_path):
    """The registry's ops with a time rule, each in a streamed model checked bit-exact against TFLM."""
    from tinyasc.firmware_sim.generator import REGISTRY

    more = write(tmp_path / "more.tflite", convert(_more_ops_net(), SHAPE, lo=-2.0, hi=2.0, n_rep=16))
    covered: set[str] = set()
    for m, x in ((model, inputs), (more, edge_inputs(SHAPE, 6, seed=9))):
        for step in (1, 5):
            art = generate(m, tmp_path / f"{m.stem}{step}", options=GeneratorOptions(step_frames=step))
            assert check_parity(art, x).identical, (m, step)
        covered |= {op.opcode for op in read_tflite(m).operators}
    streamed = {k for k, spec in REGISTRY.items() if spec.time_rule is not tiling.TimeRule.NONE}
    assert streamed <= covered, sorted(streamed - covered)


def test_small_steps_need_less_ram_than_the_whole_clip(model):
    g = read_tflite(model)
    an = tiling.analyze(g)
    whole = plan_arena(g).arena_size
    curve = tiling.choose(g, an, whole_arena=whole, macs=0, step=1).curve
    assert [c.step for c in curve] == tiling.candidate_steps(an.length[an.input])
    assert curve[0].arena_bytes < whole and curve[0].arena_bytes <= curve[-1].arena_bytes


def test_budget_picks_the_largest_step_that_fits_and_refuses_the_impossible(model, tmp_path):
    g = read_tflite(model)
    an = tiling.analyze(g)
    whole = plan_arena(g).arena_size
    curve = tiling.choose(g, an, whole_arena=whole, macs=0, step=1).curve
    smallest = min(c.peak_ram_bytes for c in curve)
    budget = sorted(c.peak_ram_bytes for c in curve)[len(curve) // 2]
    choice = tiling.choose(g, an, whole_arena=whole, macs=0, budget=budget)
    fits = [c for c in curve if c.peak_ram_bytes <= budget]
    assert choice.chosen.peak_ram_bytes <= budget and choice.chosen.step == max(c.step for c in fits)
    with pytest.raises(InputError, match=f"smallest peak reachable is {smallest} B"):
        tiling.choose(g, an, whole_arena=whole, macs=0, budget=smallest - 1)
    # a budget the whole-clip plan meets: no tiling at all
    art = generate(model, tmp_path / "whole", options=GeneratorOptions(ram_budget=whole))
    assert art.tiling is None and art.peak_ram_bytes == art.arena_size == whole


def test_statistics_over_the_whole_clip_are_refused(tmp_path):
    m = write(tmp_path / "timenorm.tflite", convert(_trunk_net(time_norm=True), SHAPE, lo=-2.0, hi=2.0, n_rep=16))
    with pytest.raises(tiling.NotTileable, match="two-pass"):
        tiling.analyze(read_tflite(m))
    rc = cli.main([str(m), "--out", str(tmp_path / "o"), "--ram-budget", "1K", "--no-tflm-arena", "--no-frontend"])
    assert rc == EXIT_BAD_INPUT
    # the one line says why and what the whole-clip plan needs instead
    whole = plan_arena(read_tflite(m)).arena_size
    with pytest.raises(tiling.NotTileable, match=f"two-pass.*whole-clip plan needs {whole:,} B of arena"):
        generate(m, tmp_path / "o2", options=GeneratorOptions(ram_budget=1024))
    assert not (tmp_path / "o2").exists()


def test_cli_streams_checks_and_reports(model, tmp_path, capsys):
    out = tmp_path / "lib"
    rc = cli.main([str(model), "--out", str(out), "--step-frames", "3", "--check", "--no-tflm-arena",
                   "--no-frontend"])
    assert rc == 0, capsys.readouterr().err
    rep = json.loads((out / "firmware.json").read_text())
    assert rep["parity"]["identical"] and rep["tiling"]["step_frames"] == 3
    assert rep["peak_ram_bytes"] == rep["tiling"]["peak_ram_bytes"]
    md = (out / "firmware.md").read_text()
    assert "## Streamed over time" in md and "chosen" in md
    assert "Streamed over time" in (out / "README.md").read_text()
    # bad input: one line, exit 2
    cases = {("--ram-budget", "64"): "smallest peak reachable", ("--step-frames", "99"): "time frames",
             ("--step-frames", "2", "--check", "--debug-layers"): "step by step", ("--ram-budget", "lots"): "size"}
    for extra, needle in cases.items():
        rc = cli.main([str(model), "--out", str(tmp_path / "bad"), "--no-tflm-arena", "--no-frontend", *extra]) \
            if extra[1] != "lots" else _argparse_rc(cli, [str(model), "--out", str(tmp_path / "bad"), *extra])
        err = capsys.readouterr().err
        assert rc == EXIT_BAD_INPUT and needle in err.strip().splitlines()[-1], (extra, err)


def _argparse_rc(mod, argv) -> int:
    try:
        return mod.main(argv)
    except SystemExit as exc:
        return int(exc.code)


def test_parse_size():
    assert tiling.parse_size("256K") == 262144 and tiling.parse_size("1M") == 1048576
    assert tiling.parse_size("300000") == 300000 and tiling.parse_size("64kb") == 65536
    for bad in ("", "abc", "-5K", "0"):
        with pytest.raises(ValueError):
            tiling.parse_size(bad)


@pytest.mark.arm
def test_asc_latency_measures_the_streamed_library(model, tmp_path):
    """The latency harness runs the streamed Cortex-M4 library on the emulated core: outputs equal to
    the host and TFLM, every trunk layer's instructions summed over its steps, nothing lost between."""
    from tinyasc.firmware_sim.harness import measure_library
    from tinyasc.firmware_sim.harness.measure import MAC_OPS, marker_sequence
    from tinyasc.firmware_sim.library import write_library

    lib = write_library(model, tmp_path / "lib", target=LibraryTarget.CORTEX_M4, step_frames=4, frontend=False)
    seq = marker_sequence(lib.firmware)
    t = lib.firmware.tiling
    assert len(seq) == t["steps"] * (len(t["trunk_layers"]) + 1) + 1 + len(t["head_layers"])
    rep = measure_library(tmp_path / "lib", out_dir=tmp_path / "lat", model=model, frontend=False)
    assert rep.parity["equal"] and rep.parity["tflm_equal"]
    assert rep.total_instructions == sum(r.instructions for r in rep.layers) + rep.other["instructions"]
    assert all(r.instructions > 0 for r in rep.layers if r.op not in ("RESHAPE",))
    assert rep.total_macs == sum(l.macs for l in lib.firmware.layers if l.op in MAC_OPS) > 0  # as the whole clip
    # the planned RAM is what the ELF holds: the arena and the clip's input buffer, each at its planned size
    import subprocess

    elf = next((tmp_path / "lat").glob("build/*/firmware.elf"))
    nm = subprocess.run(["arm-none-eabi-nm", "-S", "-t", "d", str(elf)], capture_output=True, text=True,
                        check=True).stdout
    sizes = {f[3]: int(f[1]) for f in (line.split() for line in nm.splitlines()) if len(f) == 4}
    assert sizes["tinyasc_arena"] == lib.firmware.arena_size == t["arena_bytes"]
    assert sizes["tinyasc_features"] == int(np.prod(lib.firmware.input_shape))
    assert rep.memory.ram_bytes >= t["peak_ram_bytes"] and 0 < rep.memory.stack_used < 4096


STREAM_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "model.h"
/* Frames arrive in chunks of 1, 2, 3, ...: each chunk is written into the input buffer (mel-major:
 * frame t is column t of every row), then advance() runs what those frames allow. Frames not yet
 * written hold 0x5A, so a step that read ahead would change the result. */
int main(int argc, char **argv) {
    static int8_t clip[TINYASC_INPUT_SIZE];
    static tinyasc_output_t out[TINYASC_OUTPUT_SIZE];
    const int rows = ROWS, frames = FRAMES;
    int done = 0, chunk = 1, r, t;
    FILE *fp;
    if (argc != 3) return 1;
    fp = fopen(argv[1], "rb");
    if (fp == NULL || fread(clip, 1, sizeof(clip), fp) != sizeof(clip)) return 2;
    fclose(fp);
    memset(tinyasc_model_input_buffer(), 0x5A, TINYASC_INPUT_SIZE);
    tinyasc_model_stream_begin();
    while (done < frames) {
        const int upto = done + chunk > frames ? frames : done + chunk;
        for (r = 0; r < rows; ++r)
            for (t = done; t < upto; ++t) tinyasc_model_input_buffer()[r * frames + t] = clip[r * frames + t];
        if (tinyasc_model_stream_advance(upto) > upto) return 3;
        done = upto;
        chunk += 1;
    }
    if (tinyasc_model_stream_end(out) != 0) return 4;
    fp = fopen(argv[2], "wb");
    fwrite(out, 1, sizeof(out), fp);
    fclose(fp);
    return 0;
}
"""


def test_frames_arriving_in_chunks_give_the_whole_clip_output(model, inputs, tmp_path):
    """``tinyasc_model_stream_advance`` as frames arrive: bit-identical to TFLM on the whole clip."""
    import subprocess

    from tinyasc.firmware_sim import toolchain
    from tinyasc.tflite_io.tflm import run as tflm_run

    art = generate(model, tmp_path / "lib", options=GeneratorOptions(step_frames=3))
    main = tmp_path / "lib" / "stream_main.c"
    main.write_text(STREAM_MAIN.replace("ROWS", str(SHAPE[1])).replace("FRAMES", str(SHAPE[2])))
    exe = tmp_path / "stream"
    subprocess.run(["cc", *toolchain.host_cflags(), *toolchain.STRICT, "-I", str(tmp_path / "lib"), "-I",
                    str(tmp_path / "lib" / "include"), *map(str, (tmp_path / "lib" / "kernels").glob("*.c")),
                    str(tmp_path / "lib" / "model.c"), str(main), "-o", str(exe)], check=True)
    ref, _ = tflm_run(model, inputs.reshape(len(inputs), *SHAPE))
    for k, x in enumerate(inputs):
        (tmp_path / "in.bin").write_bytes(x.tobytes())
        subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
        got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8)
        assert np.array_equal(got, np.asarray(ref[k]).reshape(-1)), k
    assert art.tiling["steps"] == -(-SHAPE[2] // 3)


@pytest.mark.arm
def test_kernel_static_ram_table_is_what_the_compiler_allocates(tmp_path):
    """``kernel_sources.STATIC_RAM`` (counted against --ram-budget) against .bss + .data of every
    kernel file compiled with the library's flags for each core."""
    import subprocess

    from tinyasc.firmware_sim import kernel_sources, toolchain

    c = kernel_sources.C_DIR
    files = sorted(str(p.relative_to(c)) for d in ("kernels", "opt", "sparse") for p in (c / d).glob("*.c"))
    for target in (LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M7, LibraryTarget.CORTEX_M55):
        got = {}
        for f in files:
            obj = tmp_path / (f.replace("/", "_") + f".{target.value}.o")
            subprocess.run(["arm-none-eabi-gcc", *toolchain.library_cflags(target), "-I", str(c / "include"),
                            "-I", str(c / "opt"), "-I", str(c / "sparse"), "-c", str(c / f), "-o", str(obj)],
                           check=True)
            out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True, text=True,
                                 check=True).stdout
            n = sum(int(p[1]) for p in (line.split() for line in out.splitlines())
                    if len(p) >= 2 and (p[0].startswith(".bss") or p[0].startswith(".data")))
            if n:
                got[f] = n
        assert got == kernel_sources.STATIC_RAM[target.value], target


def test_ram_budget_counts_the_kernels_scratch(model, tmp_path):
    from tinyasc.firmware_sim import kernel_sources

    art = generate(model, tmp_path / "m4", options=GeneratorOptions(
        ram_budget=1, step_frames=2, target=LibraryTarget.CORTEX_M4, sparse_weights=True, ram_reserved=100))
    core = LibraryTarget.CORTEX_M4.core
    from tinyasc.firmware_sim.generator import KERNEL_SOURCES

    scratch = kernel_sources.static_ram(kernel_sources.sources_for(
        {k for k in art.kernels if k.startswith("tinyasc_opt_")}, core, KERNEL_SOURCES), core)
    assert scratch > 0 and art.tiling["reserved_bytes"] == 100 + scratch
    with pytest.raises(InputError, match="front end and kernel scratch"):
        generate(model, tmp_path / "m4b", options=GeneratorOptions(ram_budget=4000, target=LibraryTarget.CORTEX_M4,
                                                                   sparse_weights=True))


def _random_trunk(seed: int):
    """A small random conv trunk along time (after a PAD for even seeds): kernel sizes 1-5, strides 1-3,
    dilations 1-2, SAME or VALID, max/avg pooling, residual ADDs, then the global MEAN."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    layers = []
    ch = 1
    for _ in range(int(rng.integers(3, 6))):
        kind = rng.choice(["conv", "dw", "pool", "res"])
        k_t, k_f = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        stride = int(rng.integers(1, 4)) if kind in ("conv", "pool") else 1
        dil = int(rng.integers(1, 3)) if kind in ("dw", "res") and k_t > 1 else 1
        pad = str(rng.choice(["SAME", "VALID"])) if kind != "res" else "SAME"
        out = int(rng.integers(2, 6)) if kind == "conv" else ch
        w = (rng.normal(size=(k_f, k_t, ch, out if kind == "conv" else 1)) * 0.5).astype(np.float32)
        layers.append((kind, w, stride, dil, pad, bool(rng.integers(0, 2))))
        ch = out

    def net(x):
        # exported BC-ResNets start with a PAD; odd seeds start with a conv or pool reading the input
        # directly (time on W: streamed through a staged, time-major copy of the input)
        y = tf.pad(x, [[0, 0], [0, 0], [1, 1], [0, 0]]) if seed % 2 == 0 else x
        for kind, w, stride, dil, pad, avg in layers:
            if kind == "conv":
                y = tf.nn.relu(tf.nn.conv2d(y, w, (1, 1, stride, 1), pad))
            elif kind == "pool":
                size = (1, max(2, w.shape[1] % 4))
                y = (tf.nn.avg_pool2d if avg else tf.nn.max_pool2d)(y, size, (1, stride), pad)
            else:
                z = tf.nn.depthwise_conv2d(y, w, (1, 1, 1, 1), pad, dilations=(1, dil))
                y = y + z if kind == "res" else tf.nn.relu(z)
        return tf.reduce_mean(y, axis=[1, 2])

    return net


@pytest.mark.parametrize("seed", range(5))
def test_random_trunks_stream_bit_exact(seed, tmp_path):
    """Strides, dilations, SAME/VALID (VALID drops trailing columns), pools and residuals in random
    combinations: streamed at 1, 2 and 5 frames per step, identical to TFLM."""
    shape = (1, 6, 37, 1)
    m = write(tmp_path / "r.tflite", convert(_random_trunk(seed), shape, lo=-2.0, hi=2.0, n_rep=12, seed=seed))
    g = read_tflite(m)
    counts = g.op_counts()
    assert counts.get("MEAN") == 1 and sum(counts.values()) >= 4, counts
    staged = tiling.time_major(g, tiling.analyze(g))[1].staged
    assert bool(staged) == (g.operators[0].opcode != "PAD"), (seed, g.operators[0].opcode)
    x = edge_inputs(shape, 5, seed=seed)
    for step in (1, 2, 5):
        art = generate(m, tmp_path / f"s{step}", options=GeneratorOptions(step_frames=step))
        res = check_parity(art, x)
        assert res.identical, (seed, step, res.summary(), read_tflite(m).op_counts())


@pytest.mark.arm
def test_stream_push_cost_on_the_emulated_core(tmp_path):
    """The streaming chain (front end pushes, model advanced per push) on the M4: per-push and
    end-of-clip instructions, and the output equal to TFLM on the streamed front end's input. Without
    the input ResNorm the model runs while the audio arrives, so far less is left at the clip's end.
    Continuous listening (``measure_listen``) on the same libraries: its last label's scores equal
    TFLM's on the host front end's window."""
    import tensorflow as tf

    from test_firmware_library import CFG, LABELS
    from tinyasc.contract import TFLITE_CONTRACT_KEY, DeployedContract
    from tinyasc.export._onnx2tf_worker import add_metadata
    from tinyasc.firmware_sim import frontend as fe
    from tinyasc.firmware_sim.harness.stream_push import measure_listen, measure_stream_push
    from tinyasc.firmware_sim.library import write_library
    from tinyasc.tflite_io.tflm import run as tflm_run

    rng = np.random.default_rng(0)
    w1 = (rng.normal(size=(3, 3, 1, 8)) * 0.6).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 8, 4)) * 0.4).astype(np.float32)

    def net(x):  # as tinyasc exports: an explicit PAD first
        y = tf.nn.relu(tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 1], [2, 1], [0, 0]]), w1, 1, "VALID"))
        y = y + tf.reduce_mean(y, axis=[1], keepdims=True)
        return tf.reduce_mean(tf.nn.conv2d(y, w2, 1, "SAME"), axis=[1, 2])

    base = convert(net, (1, CFG.n_mels, CFG.n_frames, 1), lo=-3.0, hi=3.0)
    pcm = (np.random.default_rng(0).normal(size=CFG.clip_samples) * 3000).astype(np.int16)
    ends = {}
    for rn in (None, (0.1, 1e-5)):
        path = write(tmp_path / f"m{rn is None}.tflite", base)
        add_metadata(path, {TFLITE_CONTRACT_KEY: DeployedContract(feature_config=CFG, labels=LABELS,
                                                                  input_resnorm=rn).to_json()})
        lib = write_library(path, tmp_path / f"lib{rn is None}", target=LibraryTarget.CORTEX_M4, step_frames=2)
        r = measure_stream_push(lib.out_dir, out_dir=tmp_path / f"sp{rn is None}", chunk=100)
        assert r["pushes"] == -(-CFG.clip_samples // 100) and 0 < r["push_instructions_mean"] <= r["push_instructions_max"]
        assert r["push_ms_max"] < r["push_ms_total"] < r["pushes"] * r["push_ms_max"]  # the sum over all pushes
        art = lib.firmware
        front = fe.write_frontend(CFG, art.input_scale, art.input_zero_point, tmp_path / f"fe{rn is None}",
                                  input_resnorm=rn)
        fe.build_frontend_host(front)
        q = fe.run_frontend_stream_host(front, pcm, 100)
        ref, _ = tflm_run(path, q.reshape(1, *art.input_shape))
        assert bytes.fromhex(r["output"]) == np.asarray(ref, np.int8).tobytes()
        ends[rn is None] = r["end_instructions"]
        # continuous listening on the same library: 1 s of audio, a label every 2,400 samples once a
        # window (2,080 + 10 x 480 samples) is held, and at the end; the last equals TFLM on the window
        # the host front end holds after the same pushes
        li = measure_listen(lib.out_dir, out_dir=tmp_path / f"li{rn is None}", seconds=1.0, chunk=100, every=2400)
        assert li["pushes"] == 160 and li["classifications"] == 5  # at 6,900, 9,300, 11,700, 14,100, 16,000
        assert 0 < li["push_instructions_mean"] < li["push_instructions_max"] < li["classify_instructions_mean"]
        # the RAM the docs state (frontend.listen_ram_bytes) is what the compiler allocated
        assert li["state_bytes"] + li["scratch_bytes"] == fe.listen_ram_bytes(CFG, input_resnorm=rn is not None)
        _, window, _ = fe.run_frontend_listen_host(front, li["pcm"], 100)
        ref, _ = tflm_run(path, window.reshape(1, *art.input_shape))
        assert bytes.fromhex(li["output"]) == np.asarray(ref, np.int8).tobytes()
    assert ends[True] < 0.5 * ends[False], ends  # the model already ran during the pushes
