"""asc-pipeline end to end on tiny synthetic data (smoke profile), its report, and resume."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tinyasc.pipeline.cli import main
from tinyasc.pipeline.report import STAGE_ORDER

pytestmark = pytest.mark.slow

#: Where CI keeps the report screenshot (an artifact a person can look at).
SCREENSHOT_DIR = Path(os.environ.get("TINYASC_CI_ARTIFACTS", Path(__file__).resolve().parents[1] / "runs" / "ci"))


@pytest.fixture(scope="module")
def smoke_run(tiny_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("pipeline") / "run"
    rc = main(["--dataset", str(tiny_dataset.root), "--profile", "smoke", "--out", str(run), "--no-progress"])
    return run, rc


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v:
                self.refs.append(v)


def test_every_stage_ran_and_every_gate_was_evaluated(smoke_run):
    run, rc = smoke_run
    report = json.loads((run / "report.json").read_text())
    assert rc == (0 if report["passed"] else 1)
    assert [s["name"] for s in report["stages"]] == list(STAGE_ORDER)
    assert all(s["done"] for s in report["stages"]), report["stages"]
    gates = report["gates"]
    names = " ".join(g["name"] for g in gates)
    for expected in ("top1_agreement", "accuracy_drop", "full_integer_graph", "within 128 KB", "bit-exact", "cortex-m4"):
        assert expected in names
    assert all(g["passed"] is not None for g in gates), [g for g in gates if g["passed"] is None]
    deployed = json.loads((run / "export" / "report.json").read_text())["deployed"]
    stem = deployed["file"].removesuffix(".tflite")
    assert deployed["activations"] == "int8"  # every profile deploys int8
    # int8 by construction: the compressed checkpoint carries its int8 model, the file holds its parameters, and
    # the file is gated against the checkpoint's integer simulation on every clip (as far as tiny data allows:
    # the 1-epoch model's accuracy gate is vacuous, its agreement gates are not).
    export = json.loads((run / "export" / "report.json").read_text())
    assert export["calibration"]["method"] == "qat" and export["calibration"]["unused_points"] == []
    assert export["calibration"]["matched"] == export["calibration"]["groups"]
    by_name = {g["name"]: g for g in export["gates"]}
    assert by_name["top1_agreement"]["passed"] and by_name["top1_agreement"]["threshold"] == 0.995
    assert "integer simulation, all" in by_name["top1_agreement"]["detail"]
    assert by_name["logits_within_one_step"]["passed"] and by_name["accuracy_drop"]["threshold"] == 0.01
    from tinyasc.contract import Checkpoint

    ck = Checkpoint.load(run / "compress" / "compressed.pt")
    assert ck.int8 is not None and ck.int8["form"]["form"] == "equalized-lifted"
    assert [s["name"] for s in ck.compression["steps"]][-1] == "int8-qat+kd"
    # The deployed student is pruned at the profile's sparsity (settings read from the profile, not restated):
    # exactly for a model-wide scope, within per-layer rounding for ``layer``; and the report's sizes are the audit's.
    from tinyasc.pipeline.profiles import PROFILES, ProfileName

    profile = PROFILES[ProfileName.SMOKE]
    comp = ck.compression
    assert comp["sparsity"] == profile.sparsity and comp["sparsity_scope"] == profile.prune_scope.value
    assert comp["schedule"] == profile.prune_schedule.value
    pruned = [st for st in comp["steps"] if st.get("conv_weights")][-1]
    n, layers = pruned["conv_weights"], len(comp["per_layer"])
    if profile.prune_scope.value == "layer":
        assert abs(comp["achieved_sparsity"] - profile.sparsity) <= layers / (2 * n)
    else:
        assert pruned["conv_nonzero"] == n - round(profile.sparsity * n)
    audit_json = json.loads((run / "audit.json").read_text())
    assert export["audit"]["totals"]["nonzero_bytes"] == audit_json["totals"]["nonzero_bytes"]
    md = (run / "report.md").read_text()
    table4 = md.split("## Compression beside the paper's Table 4", 1)[1].split("\n## ", 1)[0]
    assert "76.3 ± 0.8" in table4 and "75.3 ± 0.8" in table4
    assert f"{audit_json['totals']['nonzero_bytes'] / 1024:.1f} KiB" in table4
    assert f"| {comp['achieved_sparsity']:.4f} |" in table4
    for artifact in ("teacher/last.pt", "student/last.pt", "compress/compressed.pt", "export/model.onnx",
                     f"export/{stem}.tflite", f"export/{stem}.h", "export/model_float.tflite", "export/report.json",
                     "audit.json", "firmware/cortex-m4/model.c", "firmware/cortex-m4/firmware.json",
                     "firmware/cortex-m4/library.json", "firmware/cortex-m4/CMakeLists.txt",
                     "firmware/cortex-m4/Makefile", "firmware/cortex-m4/example/main.c", "latency/cortex-m4/latency.json",
                     "report.md", "report.html", "figures/device_accuracy.png", "figures/size_budget.png",
                     "figures/confusion.png", "figures/training_curves.png", "figures/latency_by_op.png"):
        assert (run / artifact).is_file(), artifact
    # The latency stage measured the very files the firmware stage shipped.
    shipped = json.loads((run / "firmware" / "cortex-m4" / "library.json").read_text())
    measured = json.loads((run / "latency" / "cortex-m4" / "latency.json").read_text())["build"]
    assert set(measured["sources_sha256"]) == set(shipped["sources"])
    assert all(shipped["files_sha256"][f] == h for f, h in measured["sources_sha256"].items())
    assert measured["library_target"] == "cortex-m4"
    # ... and its front end as the library's glue runs it (the input ResNorm's clip cache in the model's arena,
    # one pass over the frames) printed the host build's two-pass bytes
    lat = json.loads((run / "latency" / "cortex-m4" / "latency.json").read_text())
    assert lat["parity"]["frontend_equal"] is True and lat["frontend"]["instructions"] > 0
    # The report's Table-3 rows are the models the run produced, with the TFLite Micro row among them.
    precision = {"int8": "int8", "int16": "int16x8"}[deployed["activations"]]
    assert any(name.startswith(f"{precision} TFLite: TFLite Micro [") for name in report["accuracy"])


def test_html_report_is_self_contained_and_references_only_existing_files(smoke_run):
    run, _ = smoke_run
    parser = _Refs()
    text = (run / "report.html").read_text()
    parser.feed(text)
    parser.close()
    assert parser.tags[0] == "html" and "table" in parser.tags and parser.tags.count("img") >= 4
    for ref in parser.refs:
        if ref.startswith("data:image/png;base64,"):
            continue
        assert not re.match(r"^[a-z]+://", ref), f"network reference {ref}"
        assert (run / ref).exists(), ref
    md = (run / "report.md").read_text()
    for img in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (run / img).is_file(), img


def test_html_report_renders_in_chromium(smoke_run):
    run, _ = smoke_run
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is installed by tools/setup.sh --test"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOT_DIR / "pipeline_report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={run.parent / 'chromium-profile'}", "--virtual-time-budget=5000",
             "--enable-logging=stderr", "--v=0"]
    url = (run / "report.html").resolve().as_uri()
    dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    assert m, "the report's load check did not run"
    assert m.group(1) == m.group(2) and int(m.group(2)) >= 4, m.group(0)
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    out = subprocess.run([chromium, *flags, "--window-size=1200,2400", f"--screenshot={shot}", url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, out.stderr[-2000:]


def test_resume_skips_finished_stages(smoke_run, tiny_dataset, capsys):
    run, rc = smoke_run
    before = {p.name: p.stat().st_mtime_ns for p in (run / "stages").iterdir()}
    rc2 = main(["--profile", "smoke", "--dataset", str(tiny_dataset.root), "--out", str(run), "--resume",
                "--no-progress"])
    assert rc2 == rc
    after = {p.name: p.stat().st_mtime_ns for p in (run / "stages").iterdir()}
    assert before == after  # no stage marker was rewritten: every stage was skipped
    err = capsys.readouterr().err
    assert err.count(": skipped (") == len(STAGE_ORDER)


def test_existing_run_without_resume_is_refused(smoke_run, capsys):
    run, _ = smoke_run
    assert main(["--profile", "smoke", "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(run) in err[0] and "--resume" in err[0]
