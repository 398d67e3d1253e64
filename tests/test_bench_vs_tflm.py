"""tools/bench_vs_tflm.py without the TFLM / CMSIS-NN trees: input checks, matching, report building.

The build and QEMU run need the trees and the Arm toolchain; everything here runs without them:
bad input (exit 2, one line, nothing written), pairing TFLM's per-operator counts with tinyasc's
layers (fused groups included), the marker-to-operator mapping, and the JSON/Markdown report
built from recorded counts and a latency.json of the real shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinyasc.firmware_sim.harness import CLASSES, XFER, RunOutput, TimingModel
from tinyasc.firmware_sim.target import Target

#: Model of the synthetic cases: 0 PAD, 1 CONV, 2-4 a band chain fused into 4, 5 MUL fused into 6 MEAN.
OPS = ("PAD", "CONV_2D", "TRANSPOSE", "CONV_2D", "TRANSPOSE", "MUL", "MEAN")
FUSED = {2: 4, 3: 4, 5: 6}


@pytest.fixture
def tool(load_tool):
    return load_tool("bench_vs_tflm")


def _model_info(tool, tmp_path: Path, ops=OPS):
    return tool.ModelInfo(path=tmp_path / "m.tflite", ops=tuple(ops), input_shape=(1, 4, 4, 1), input_dtype="INT8",
                          output_dtype="INT8", sha256="0" * 64)


def _ours_json(ops=OPS, target: str = "cortex-m4", cycles=(10.0, 400.0, 4.0, 4.0, 90.0, 4.0, 30.0)) -> dict:
    """A tinyasc latency.json of the real shape (runs/*/latency/<core>/latency.json), small."""
    tm = TimingModel.load(Target(target))
    layers = [{"index": i, "name": f"{op}_{i}", "op": op, "instructions": int(c * 0.75), "cycles": c,
               "latency_ms": c / 80e3, "macs": 0, "macs_per_cycle": None, "instructions_per_mac": None,
               "share": 0.0, "classes": {"alu": int(c * 0.75)}} for i, (op, c) in enumerate(zip(ops, cycles))]
    total = sum(cycles) + 6.0
    return {
        "model": "m.tflite", "target": target, "machine": "mps2-an386", "clock_mhz": 80.0,
        "note": "latency estimated from emulated instruction counts",
        "timing_model": {"core": tm.core, "reference": tm.reference, "assumptions": tm.assumptions, "cpi": tm.cpi,
                         "per_xfer_reg": tm.per_xfer_reg},
        "kernels": "optimized", "sparse": False, "total_instructions": sum(l["instructions"] for l in layers) + 4,
        "total_cycles": total, "total_latency_ms": total / 80e3, "total_macs": 0, "macs_per_cycle": None,
        "instructions_per_mac": None, "layers": layers,
        "other": {"instructions": 4, "cycles": 6.0, "latency_ms": 0.0, "share": 0.0, "what": "between layers"},
        "frontend": {"instructions": 100, "cycles": 120.0, "latency_ms": 0.0, "classes": {}},
        "memory": {"flash_bytes": 5000, "test_data_bytes": 16, "ram_bytes": 3000, "text": 2000, "rodata": 3000,
                   "data": 16, "bss": 2500, "stack_used": 484, "stack_reserved": 32768, "ram_region": "board"},
        "parity": {"equal": True, "inputs": 1, "output_bytes": 10, "mismatched_bytes": 0, "max_abs_diff": 0,
                   "tflm_equal": True},
        "build": {"cflags": ["-O2"], "arena_bytes": 1024},
    }


def _snapshots(per_op: list[dict[str, int]], between: int = 3) -> list[dict[str, int]]:
    """Cumulative plugin snapshots of one inference: (-1,0) {(i,0) (i,1)} (-1,1), ``between``
    ALU instructions before each operator's begin marker and before the final marker."""
    cur = {c: 0 for c in (*CLASSES, XFER)}
    snaps = [dict(cur)]
    for counts in per_op:
        cur["alu"] += between
        snaps.append(dict(cur))
        for k, v in counts.items():
            cur[k] += v
        snaps.append(dict(cur))
    cur["alu"] += between
    snaps.append(dict(cur))
    return snaps


TFLM_COUNTS = [{"alu": 20}, {"alu": 600, "load": 200}, {"load": 50}, {"alu": 300}, {"load": 50},
               {"alu": 10}, {"alu": 40, "branch": 5}]


def _measurement(tool, tmp_path):
    run = RunOutput(outputs=[b"\x01"], stack_used=100, counter_ticks=[], snapshots=_snapshots(TFLM_COUNTS),
                    total=None, wall_s=0.0)
    return tool.measure(run, _model_info(tool, tmp_path), "cortex-m4")


# ---------------------------------------------------------------------------------- bad input


def _fake_trees(root: Path, tool, *, skip: str | None = None) -> dict[str, Path]:
    """Directories holding just the file each tree must have (enough for the input checks)."""
    trees = {}
    for name, marker in tool.TREE_MARKERS.items():
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        if name != skip:
            (d / marker).parent.mkdir(parents=True, exist_ok=True)
            (d / marker).write_text("/* stand-in */\n")
        trees[name] = d
    return trees


def _argv(model: Path, trees: dict[str, Path], ours: Path, out: Path, target: str = "cortex-m4") -> list[str]:
    argv = [str(model)]
    for name, d in trees.items():
        argv += [f"--{name.replace('_', '-')}", str(d)]
    return argv + ["--target", target, "--ours", str(ours), "--out", str(out)]


def _one_line_exit_2(tool, argv, capsys, out: Path, *needles: str) -> str:
    assert tool.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    for needle in needles:
        assert needle in err, err
    assert not out.exists(), "nothing may be written on bad input"
    return err


def test_missing_tree_is_one_line_exit_2(tool, tmp_path, capsys):
    trees = _fake_trees(tmp_path / "trees", tool)
    trees["cmsis_nn"] = tmp_path / "no-such-cmsis"
    out = tmp_path / "out"
    _one_line_exit_2(tool, _argv(tmp_path / "m.tflite", trees, tmp_path / "o.json", out), capsys, out,
                     "no-such-cmsis", "--cmsis-nn", "no such directory")


def test_tree_without_its_file_is_named(tool, tmp_path, capsys):
    trees = _fake_trees(tmp_path / "trees", tool, skip="ruy")
    out = tmp_path / "out"
    _one_line_exit_2(tool, _argv(tmp_path / "m.tflite", trees, tmp_path / "o.json", out), capsys, out,
                     "ruy/profiler/instrumentation.h", "--ruy")


def test_flatbuffers_version_other_than_tflm_requires(tool, tmp_path, capsys):
    trees = _fake_trees(tmp_path / "trees", tool)
    schema = trees["tflm"] / "tensorflow/compiler/mlir/lite/schema/schema_generated.h"
    schema.parent.mkdir(parents=True)
    schema.write_text("static_assert(FLATBUFFERS_VERSION_MAJOR == 25 &&\n FLATBUFFERS_VERSION_MINOR == 9 &&\n"
                      " FLATBUFFERS_VERSION_REVISION == 23, \"Non-compatible flatbuffers version included\");\n")
    (trees["flatbuffers"] / "include/flatbuffers/base.h").write_text(
        "#define FLATBUFFERS_VERSION_MAJOR 24\n#define FLATBUFFERS_VERSION_MINOR 3\n"
        "#define FLATBUFFERS_VERSION_REVISION 25\n")
    out = tmp_path / "out"
    _one_line_exit_2(tool, _argv(tmp_path / "m.tflite", trees, tmp_path / "o.json", out), capsys, out,
                     "flatbuffers 24.3.25", "requires 25.9.23")


@pytest.mark.parametrize("content,needle", [(None, "no such file"), (b"not a model at all", "not a .tflite"),
                                            (b"", "not a .tflite")])
def test_model_missing_or_not_a_tflite(tool, tmp_path, capsys, content, needle):
    trees = _fake_trees(tmp_path / "trees", tool)
    model = tmp_path / "model.tflite"
    if content is not None:
        model.write_bytes(content)
    out = tmp_path / "out"
    _one_line_exit_2(tool, _argv(model, trees, tmp_path / "o.json", out), capsys, out, str(model), needle)


def test_argument_errors_exit_2(tool, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse: a required tree missing
        tool.main([str(tmp_path / "m.tflite"), "--tflm", str(tmp_path), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    capsys.readouterr()
    trees = _fake_trees(tmp_path / "trees", tool)
    out = tmp_path / "out"
    _one_line_exit_2(tool, [*_argv(tmp_path / "m.tflite", trees, tmp_path / "o.json", out), "--jobs", "0"],
                     capsys, out, "--jobs")


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory) -> Path:
    from test_tflite_io_support import tiny_model_bytes

    path = tmp_path_factory.mktemp("model") / "tiny.tflite"
    path.write_bytes(tiny_model_bytes())
    return path


def test_ours_report_must_be_of_the_model_and_core(tool, tmp_path, capsys, tiny_tflite):
    trees = _fake_trees(tmp_path / "trees", tool)
    info = tool.check_model(tiny_tflite)
    assert info.input_dtype == "INT8" and "CONV_2D" in info.ops
    out = tmp_path / "out"
    ours = tmp_path / "latency.json"
    no_mem = _ours_json(ops=info.ops, cycles=[1.0] * len(info.ops))
    del no_mem["memory"]["bss"]
    cases = [("{not json", "not a JSON report"), (json.dumps({"model": "x"}), "not an asc-latency report"),
             (json.dumps(no_mem), "its memory lacks 'bss'"),
             (json.dumps(_ours_json(ops=info.ops, target="cortex-m7", cycles=[1.0] * len(info.ops))),
              "cortex-m7, not --target cortex-m4"),
             (json.dumps(_ours_json(ops=("PAD",) * len(info.ops), cycles=[1.0] * len(info.ops))),
              f"not a report of {tiny_tflite.name}")]
    for text, needle in cases:
        ours.write_text(text)
        _one_line_exit_2(tool, _argv(tiny_tflite, trees, ours, out), capsys, out, str(ours), needle)
    ours.unlink()
    _one_line_exit_2(tool, _argv(tiny_tflite, trees, ours, out), capsys, out, "no such file")


# ---------------------------------------------------------------------------------- matching


def test_fusion_groups_follow_chains_and_order_by_last_op(tool):
    assert tool.fusion_groups(7, FUSED) == [(0,), (1,), (2, 3, 4), (5, 6)]
    # transitive (a -> b -> c) and non-adjacent members
    assert tool.fusion_groups(5, {0: 3, 3: 4}) == [(1,), (2,), (0, 3, 4)]
    assert tool.index_label((2, 3, 4)) == "2-4" and tool.index_label((0, 3, 4)) == "0,3-4"
    assert tool.index_label((7,)) == "7"


def test_measure_maps_markers_to_operators(tool, tmp_path):
    m = _measurement(tool, tmp_path)
    assert [o.op for o in m.ops] == list(OPS)
    conv = m.ops[1]
    assert conv.instructions == 800 and conv.cycles == pytest.approx(600 * 1 + 200 * 2)  # M4: load = 2 cycles
    assert m.other_instructions == 3 * (len(OPS) + 1)
    assert m.total_instructions == sum(o.instructions for o in m.ops) + m.other_instructions


def test_match_units_sums_fused_groups_on_both_sides(tool, tmp_path):
    m = _measurement(tool, tmp_path)
    ours = tool.load_ours(_write(tmp_path / "latency.json", _ours_json()), "cortex-m4", _model_info(tool, tmp_path))
    units = tool.match_units(m.ops, ours.layers, FUSED)
    assert [u.indices for u in units] == [(0,), (1,), (2, 3, 4), (5, 6)]
    band = units[2]
    assert band.ops == ("TRANSPOSE", "CONV_2D", "TRANSPOSE")
    assert band.op_class == "CONV_2D+TRANSPOSE (fused)"
    assert band.tflm_cycles == pytest.approx(50 * 2 + 300 + 50 * 2)
    assert band.ours_cycles == pytest.approx(4.0 + 4.0 + 90.0)
    assert band.winner == "tinyasc" and band.ratio == pytest.approx(98.0 / 500.0)
    mean = units[3]
    assert mean.op_class == "MEAN+MUL (fused)" and mean.ours_cycles == pytest.approx(34.0)
    with pytest.raises(ValueError, match="operator 1"):
        bad = [tool.OpCount(index=o.index, op="ADD" if o.index == 1 else o.op, instructions=o.instructions,
                            cycles=o.cycles, classes=o.classes) for o in m.ops]
        tool.match_units(bad, ours.layers, FUSED)


def test_class_totals_and_top_units(tool, tmp_path):
    m = _measurement(tool, tmp_path)
    ours = tool.load_ours(_write(tmp_path / "latency.json", _ours_json()), "cortex-m4", _model_info(tool, tmp_path))
    units = tool.match_units(m.ops, ours.layers, FUSED)
    classes = {c.op_class: c for c in tool.class_totals(units)}
    assert set(classes) == {"PAD", "CONV_2D", "CONV_2D+TRANSPOSE (fused)", "MEAN+MUL (fused)"}
    assert classes["CONV_2D"].tflm_cycles == pytest.approx(1000.0) and classes["CONV_2D"].ours_cycles == 400.0
    assert sum(c.tflm_cycles for c in classes.values()) == pytest.approx(sum(o.cycles for o in m.ops))
    wins = tool.top_units(units, 2, wins=True)
    assert [u.label for u in wins] == ["1", "2-4"]  # 600 then 402 cycles saved
    losses = tool.top_units(units, 5, wins=False)
    assert [u.label for u in losses] == []  # PAD: 20 vs 10, MEAN+MUL: 60 vs 34: tinyasc wins everywhere
    slow = tool.load_ours(_write(tmp_path / "slow.json", _ours_json(cycles=(30.0, 400.0, 4.0, 4.0, 90.0, 4.0, 30.0))),
                          "cortex-m4", _model_info(tool, tmp_path))
    assert [u.label for u in tool.top_units(tool.match_units(m.ops, slow.layers, FUSED), wins=False)] == ["0"]


# ---------------------------------------------------------------------------------- report


def _write(path: Path, obj: dict) -> Path:
    path.write_text(json.dumps(obj))
    return path


def _bench(tool, tmp_path, **kw):
    m = _measurement(tool, tmp_path)
    info = _model_info(tool, tmp_path)
    ours = tool.load_ours(_write(tmp_path / "latency.json", _ours_json(**kw)), "cortex-m4", info)
    build = tool.TflmBuild(elf=tmp_path / "tflm.elf", compiler="arm-none-eabi-g++ 12.2.1", cxx_flags=("-O2",),
                           c_flags=("-O2",), link_flags=("-nostartfiles",), sources=200, ram_region="board")
    mem = tool.TflmMemory(flash_bytes=9000, text=4000, rodata=5000, data=8, bss=3000, stack_used=500,
                          arena_size=2048, arena_used=1500, model_bytes=4000)
    trees = [tool.TreeInfo(name="tflm", path="/src/tflm", commit="abc"),
             tool.TreeInfo(name="cmsis_nn", path="/src/nn", commit="unknown")]
    return tool.make_bench(model=info, target="cortex-m4", trees=trees, build=build, memory=mem,
                           parity={"equal": True, "inputs": 1}, tflm=m, ours=ours, fused=FUSED,
                           hot_functions=[("arm_convolve_s8", 700)])


def test_bench_totals_json_and_markdown(tool, tmp_path):
    b = _bench(tool, tmp_path)
    assert b.ratio == pytest.approx(b.ours.total_cycles / b.tflm.total_cycles)
    assert b.goal_met is (b.ratio <= 1 / 3)
    assert b.memory.ram_bytes == 8 + 3000 - (2048 - 1500) + 500
    assert b.ours.memory.flash_bytes == 5000 and b.ours.memory.stack_used == 484
    j = tool.to_json(b)
    json.dumps(j)  # serializable as is
    assert j["totals"]["tflm"]["instructions"] == b.tflm.total_instructions
    assert j["totals"]["ours"]["cycles"] == b.ours.total_cycles
    assert [u["label"] for u in j["units"]] == ["0", "1", "2-4", "5-6"]
    assert j["fused"] == {"2": 4, "3": 4, "5": 6} and len(j["tflm_ops"]) == len(OPS)
    assert j["trees"]["cmsis_nn"]["commit"] == "unknown"
    assert j["memory"]["ours"]["flash_bytes"] == 5000 and j["memory"]["tflm"]["ram_bytes"] == b.memory.ram_bytes
    assert j["timing_model"]["cpi"]["load"] == 2.0
    assert any("front end" in n for n in j["notes"])  # ours measured a front end: its flash/RAM include it
    md = tool.to_markdown(b)
    for needle in ("## Whole model", "## Per operator class", "Where tinyasc wins most", "## Flash and RAM",
                   "`arm_convolve_s8`", "| 2-4 | CONV_2D+TRANSPOSE (fused) |", "C++ flags: `-O2`",
                   "tflm: `/src/tflm` at `abc`", "estimated"):
        assert needle in md, needle


def test_other_timing_table_is_noted(tool, tmp_path):
    info = _model_info(tool, tmp_path)
    d = _ours_json()
    d["timing_model"]["cpi"] = {**d["timing_model"]["cpi"], "load": 1.0}
    ours = tool.load_ours(_write(tmp_path / "latency.json", d), "cortex-m4", info)
    b = tool.make_bench(model=info, target="cortex-m4", trees=[], build=None, memory=None, parity={"equal": True},
                        tflm=_measurement(tool, tmp_path), ours=ours, fused={})
    assert any("another timing table" in n for n in b.notes)
    assert [u.label for u in b.units] == [str(i) for i in range(len(OPS))]  # no fusion: one row per operator
    assert "## Flash and RAM" not in tool.to_markdown(b)


def test_output_mismatch_is_reported_as_such(tool, tmp_path):
    """With --allow-output-mismatch a TFLM build whose optimized kernels compute other outputs than its reference
    is reported, and the report says so first among its notes."""
    info = _model_info(tool, tmp_path)
    ours = tool.load_ours(_write(tmp_path / "latency.json", _ours_json()), "cortex-m4", info)
    parity = {"equal": False, "inputs": 1, "output_bytes": 20, "mismatched_bytes": 9, "max_abs_diff": 58973}
    b = tool.make_bench(model=info, target="cortex-m4", trees=[], build=None, memory=None, parity=parity,
                        tflm=_measurement(tool, tmp_path), ours=ours, fused={})
    assert "9 of 20 output bytes differ" in b.notes[0]
    assert "9 of 20 output bytes differ" in tool.to_markdown(b)
    assert tool.parity_notes({"equal": True}) == []
    assert tool.parse_args(["m.tflite", "--tflm", "a", "--cmsis-nn", "b", "--flatbuffers", "c", "--gemmlowp", "d",
                            "--ruy", "e", "--ours", "o.json", "--out", "x", "--allow-output-mismatch"]).allow_output_mismatch


def test_write_outputs_is_atomic_and_complete(tool, tmp_path):
    b = _bench(tool, tmp_path)
    out = tmp_path / "out"
    md = tool.write_outputs(b, out)
    assert md == out / "bench_vs_tflm.md"
    assert sorted(p.name for p in out.iterdir()) == ["bench_vs_tflm.json", "bench_vs_tflm.md"]  # no temp files
    assert json.loads((out / "bench_vs_tflm.json").read_text())["model"] == "m.tflite"


def test_parse_bench_lines(tool):
    text = ("TINYASC OUT 0 0a0b\nTINYASC TFLM-OP 0 PAD\nTINYASC TFLM-OP 1 CONV_2D\nnoise\n"
            "TINYASC TFLM-EVENTS 2\nTINYASC TFLM-ARENA-USED 1500\nTINYASC TFLM-ARENA-SIZE 2048\nTINYASC DONE\n")
    got = tool.parse_bench_lines(text)
    assert got == {"tags": ["PAD", "CONV_2D"], "events": 2, "arena_used": 1500, "arena_size": 2048}


def test_every_tinyasc_operator_has_tflm_kernels(tool):
    """The bench builds any model tinyasc generates: its operator registry is covered."""
    from tinyasc.firmware_sim.generator import REGISTRY

    assert set(REGISTRY) <= set(tool.OP_KERNELS)
