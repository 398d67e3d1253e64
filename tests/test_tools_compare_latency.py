"""tools/compare_latency.py: per-operator-class sums, ratios and the same-model check."""

from __future__ import annotations

import json

import pytest

def _report(model: str, layers: list[tuple[str, int, float, int]], flash: int) -> dict:
    cyc = sum(c for _, _, c, _ in layers)
    macs = sum(m for *_, m in layers)
    return {"model": model, "target": "cortex-m4", "clock_mhz": 80.0,
            "layers": [{"op": op, "instructions": i, "cycles": c, "macs": m} for op, i, c, m in layers],
            "total_instructions": sum(i for _, i, _, _ in layers), "total_cycles": cyc,
            "total_latency_ms": cyc / 80e3, "macs_per_cycle": macs / cyc,
            "memory": {"flash_bytes": flash, "ram_bytes": 1000}, "frontend": {"instructions": 7}}


def test_sums_per_class_and_ratios(tmp_path, load_tool):
    tool = load_tool("compare_latency")
    before = _report("m.tflite", [("CONV_2D", 100, 200.0, 50), ("ADD", 40, 60.0, 0), ("CONV_2D", 100, 200.0, 50)], 10)
    after = _report("m.tflite", [("CONV_2D", 50, 100.0, 50), ("ADD", 40, 30.0, 0), ("CONV_2D", 50, 100.0, 50)], 12)
    for name, r in (("b.json", before), ("a.json", after)):
        (tmp_path / name).write_text(json.dumps(r))
    assert tool.main([str(tmp_path / "b.json"), str(tmp_path / "a.json"), "--out", str(tmp_path / "out")]) == 0
    rows = json.loads((tmp_path / "out" / "compare_latency.json").read_text())
    conv = next(o for o in rows[0]["ops"] if o["op"] == "CONV_2D")
    assert (conv["instructions_before"], conv["instructions_after"], conv["macs"]) == (200, 100, 100)
    assert conv["macs_per_cycle_before"] == pytest.approx(0.25) and conv["macs_per_cycle_after"] == pytest.approx(0.5)
    add = next(o for o in rows[0]["ops"] if o["op"] == "ADD")
    assert add["macs_per_cycle_after"] is None  # no MACs: no rate
    assert rows[0]["flash_bytes"] == [10, 12]
    md = (tmp_path / "out" / "compare_latency.md").read_text()
    assert "| CONV_2D | 200 | 100 | 0.50 |" in md


def test_refuses_reports_of_different_models(tmp_path, load_tool, capsys):
    tool = load_tool("compare_latency")
    (tmp_path / "b.json").write_text(json.dumps(_report("a.tflite", [("ADD", 1, 1.0, 0)], 1)))
    (tmp_path / "a.json").write_text(json.dumps(_report("b.tflite", [("ADD", 1, 1.0, 0)], 1)))
    assert tool.main([str(tmp_path / "b.json"), str(tmp_path / "a.json"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not the same model" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, problem", [
    (None, "no such file"),
    ("{not json", "not a JSON report"),
    ("[1, 2]", "a JSON object is expected"),
    (json.dumps({"model": "m.tflite"}), "no target"),
])
def test_bad_report_is_one_line_exit_2(tmp_path, load_tool, capsys, content, problem):
    tool = load_tool("compare_latency")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_report("m.tflite", [("ADD", 1, 1.0, 0)], 1)))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert tool.main([str(good), str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and problem in err[0], err
    assert not (tmp_path / "out").exists()


def test_odd_number_of_reports_is_refused(tmp_path, load_tool, capsys):
    tool = load_tool("compare_latency")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_report("m.tflite", [("ADD", 1, 1.0, 0)], 1)))
    assert tool.main([str(good), "--out", str(tmp_path / "out")]) == 2
    assert "before/after pairs" in capsys.readouterr().err
