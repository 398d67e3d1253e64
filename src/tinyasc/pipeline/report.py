"""``RUN/report.md`` and a self-contained ``RUN/report.html`` (images inlined, no network).

Everything is read back from the stage artifacts (never from memory of the run), so a report
made after a resumed run is the same as after an uninterrupted one. Plots are matplotlib PNGs,
saved under ``RUN/figures/`` as well.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyasc.atomic import write_json, write_text
from tinyasc.contract import DEVICES, SCENE_LABELS, SEEN_DEVICES
from tinyasc.export.precision import Activations
from tinyasc.metrics import markdown_table, table3_header, table3_row

log = logging.getLogger(__name__)

BUDGET_BYTES = 128_000
#: Parity backends of the export report shown as rows (PyTorch is the "compressed" row already);
#: ``{p}``: the deployed file's precision (``int8``, ``int16x8``).
BACKEND_NAMES = {
    "onnxruntime": "export: ONNX Runtime (float)",
    "tflite_float": "export: TFLite float",
    "litert_default": "{p} TFLite: ai-edge-litert default kernels",
    "litert_ref": "{p} TFLite: ai-edge-litert reference kernels",
    "tflm": "{p} TFLite: TFLite Micro",
}


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass(kw_only=True)
class Gate:
    name: str
    passed: bool | None
    """None: not evaluated (its stage did not run)."""
    detail: str = ""


@dataclass(kw_only=True)
class RunSummary:
    """What the report shows, gathered from the artifacts of one run directory."""

    run_dir: Path
    profile: dict[str, Any]
    stages: list[dict[str, Any]] = field(default_factory=list)
    accuracy_rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    curves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    confusion: tuple[str, list[list[int]]] | None = None
    audit: dict[str, Any] | None = None
    compress: dict[str, Any] | None = None
    """``compress/compress_report.json`` (the steps, each audited)."""
    export: dict[str, Any] | None = None
    firmware: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Shipped library (``firmware/<target>/``) -> its firmware.json."""
    latency: list[dict[str, Any]] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def precision(self) -> str:
        """The deployed file's activation precision as reports name it (``int8``, ``int16x8``)."""
        deployed = (self.export or {}).get("deployed")
        return Activations(deployed["activations"]).label if deployed else "integer"


STAGE_ORDER = ("dataset", "features", "teacher", "student", "compress", "export", "audit", "firmware", "latency")


def gather(run_dir: Path, profile: dict[str, Any]) -> RunSummary:
    s = RunSummary(run_dir=run_dir, profile=profile)
    for name in STAGE_ORDER:
        m = _load(run_dir / "stages" / f"{name}.json")
        s.stages.append({"name": name, "done": m is not None, "seconds": (m or {}).get("seconds")})
    for name, stage in (("teacher", "teacher"), ("student", "student"), ("compressed (PyTorch)", "compress")):
        marker = _load(run_dir / "stages" / f"{stage}.json")
        summary = (marker or {}).get("summary") or {}
        ev = summary.get("eval")
        if stage == "compress" and any(str(st).startswith("int8-qat") for st in summary.get("steps") or []):
            name = "compressed: int8 simulation (PyTorch)"
        if ev:
            s.accuracy_rows.append((f"{name} [{sum(ev['counts'].values())} clips]", ev))
    for name, sub in (("teacher", "teacher"), ("student", "student"), ("compress fine-tune", "compress/finetune"),
                      ("int8 QAT", "compress/int8")):
        hist = _load(run_dir / sub / "metrics.json")
        if isinstance(hist, list) and hist:
            s.curves[name] = hist
    s.compress = _load(run_dir / "compress" / "compress_report.json")
    s.export = _load(run_dir / "export" / "report.json")
    if s.export:
        acc = (s.export.get("parity") or {}).get("accuracy") or {}
        for backend, ev in acc.items():
            if ev and backend in BACKEND_NAMES:  # parity clips may be a subset of the evaluation split
                name = BACKEND_NAMES[backend].format(p=s.precision)
                s.accuracy_rows.append((f"{name} [{sum(ev['counts'].values())} clips]", ev))
        tflm = acc.get("tflm")
        if tflm and tflm.get("confusion"):
            s.confusion = (f"{s.precision} model under TFLite Micro", tflm["confusion"])
    if s.confusion is None:  # the most downstream model whose evaluation kept its confusion matrix
        s.confusion = next(((n, ev["confusion"]) for n, ev in reversed(s.accuracy_rows) if ev.get("confusion")), None)
    s.audit = _load(run_dir / "audit.json")
    fw_dir = run_dir / "firmware"
    for f in sorted(fw_dir.glob("*/firmware.json")) if fw_dir.is_dir() else ():
        fw = _load(f)
        if fw:
            s.firmware[f.parent.name] = fw
    lat_dir = run_dir / "latency"
    if lat_dir.is_dir():
        for d in sorted(lat_dir.iterdir()):
            rep = _load(d / "latency.json")
            if rep:
                rep["_variant"] = d.name
                s.latency.append(rep)
    s.gates = _gates(s)
    return s


def _gates(s: RunSummary) -> list[Gate]:
    gates: list[Gate] = []
    if s.export:
        for g in s.export.get("gates", []):
            gates.append(Gate(name=f"export: {g['name']}", passed=bool(g["passed"]),
                              detail=f"{g.get('detail', '')} = {_num(g.get('value'))} (threshold {_num(g.get('threshold'))})"))
    else:
        gates.append(Gate(name="export: parity and op-set gates", passed=None, detail="export did not run"))
    if s.audit:
        nz = s.audit["totals"]["nonzero_bytes"] if "totals" in s.audit else s.audit.get("nonzero_bytes")
        gates.append(Gate(name="audit: non-zero parameters within 128 KB", passed=bool(s.audit.get("within_budget")),
                          detail=f"{_num(nz)} of {s.audit.get('budget_bytes', BUDGET_BYTES):,} bytes"))
    else:
        gates.append(Gate(name="audit: non-zero parameters within 128 KB", passed=None, detail="audit did not run"))
    for target, fw in s.firmware.items():
        par = fw.get("parity") or {}
        name = f"firmware {target}: shipped C, host build, bit-exact with TFLite Micro"
        gates.append(Gate(name=name, passed=bool(par.get("identical")) if par else None,
                          detail=(f"{par.get('differing_elements')} differing output elements on {par.get('n_inputs')} "
                                  f"golden inputs{', every layer compared' if par.get('layers') else ''}")
                          if par else "parity not checked"))
    if not s.firmware:
        gates.append(Gate(name="firmware: shipped C bit-exact with TFLite Micro", passed=None,
                          detail="firmware stage did not run"))
    marker = _load(s.run_dir / "stages" / "latency.json")
    rows = ((marker or {}).get("summary") or {}).get("rows")
    if rows:
        for r in rows:
            name = r["target"] + (" sparse" if r.get("sparse") else "")
            gates.append(Gate(name=f"latency: {name} output equals host build", passed="error" not in r,
                              detail=r.get("error", f"{r.get('latency_ms', 0):.1f} ms estimated")))
    else:
        gates.append(Gate(name="latency: target outputs equal host build", passed=None, detail="latency did not run"))
    return gates


def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# --------------------------------------------------------------------------------- figures


def make_figures(s: RunSummary, out_dir: Path) -> dict[str, Path]:
    """Write the PNGs; returns caption key -> path (only figures with data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out_dir.mkdir(parents=True, exist_ok=True)
    figs: dict[str, Path] = {}

    def save(fig, name: str) -> None:
        path = out_dir / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        figs[name] = path

    if s.curves:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
        for name, hist in s.curves.items():
            ep = [h["epoch"] for h in hist]
            ax1.plot(ep, [h["train_loss"] for h in hist], marker="o", label=name)
            ev = [(h["epoch"], h["eval_acc"]) for h in hist if h.get("eval_acc") is not None]
            if ev:
                ax2.plot(*zip(*ev), marker="o", label=name)
        ax1.set(title="training loss", xlabel="epoch")
        ax2.set(title="evaluation accuracy", xlabel="epoch", ylim=(0, 1))
        ax1.legend(fontsize=8)
        ax2.legend(fontsize=8)
        save(fig, "training_curves")

    if s.accuracy_rows:
        fig, ax = plt.subplots(figsize=(10, 3.8))
        n = len(s.accuracy_rows)
        width = 0.8 / n
        x = np.arange(len(DEVICES))
        for i, (name, ev) in enumerate(s.accuracy_rows):
            vals = [ev["per_device"].get(d, np.nan) for d in DEVICES]
            ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=name)
        ax.axvspan(len(SEEN_DEVICES) - 0.5, len(DEVICES) - 0.5, color="grey", alpha=0.12, label="unseen devices")
        ax.set_xticks(x, [d.upper() for d in DEVICES])
        ax.set(ylim=(0, 1), ylabel="accuracy", title="accuracy per device (S4-S6 unseen in training)")
        ax.legend(fontsize=7, ncol=2)
        save(fig, "device_accuracy")

    if s.confusion:
        title, cm = s.confusion
        cm = np.asarray(cm)
        fig, ax = plt.subplots(figsize=(6, 5.2))
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="white" if v > cm.max() / 2 else "black")
        ax.set_xticks(range(len(SCENE_LABELS)), SCENE_LABELS, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(SCENE_LABELS)), SCENE_LABELS, fontsize=7)
        ax.set(xlabel="predicted", ylabel="true", title=f"confusion: {title}")
        save(fig, "confusion")

    if s.audit:
        t = s.audit.get("totals", {})
        nz = t.get("nonzero_bytes", 0)
        dense = t.get("size_bytes", 0)
        fig, ax = plt.subplots(figsize=(8, 2.2))
        ax.barh(["non-zero params", "all params"], [nz, dense], color=["tab:green" if nz <= BUDGET_BYTES else "tab:red", "tab:grey"])
        ax.axvline(BUDGET_BYTES, color="black", linestyle="--", label="128,000 B budget")
        ax.set(xlabel="bytes", title=f"{s.precision} TFLite parameters vs DCASE 2021 budget")
        ax.legend(fontsize=8)
        save(fig, "size_budget")

    dense = [r for r in s.latency if not r.get("sparse")]
    if dense:
        fig, axes = plt.subplots(1, len(dense), figsize=(4.2 * len(dense), 3.8), squeeze=False)
        for ax, rep in zip(axes[0], dense):
            by_op: dict[str, float] = {}
            for layer in rep.get("layers", []):
                by_op[layer.get("op", "?")] = by_op.get(layer.get("op", "?"), 0.0) + float(layer.get("latency_ms", 0.0))
            items = sorted(by_op.items(), key=lambda kv: -kv[1])
            ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1])
            ax.set(title=f"{rep['target']} @ {rep['clock_mhz']:g} MHz: {rep['total_latency_ms']:.1f} ms",
                   xlabel="estimated ms")
        save(fig, "latency_by_op")
        fig, ax = plt.subplots(figsize=(8, 3))
        names = [r["_variant"] for r in s.latency]
        flash = [r["memory"]["flash_bytes"] / 1024 for r in s.latency]
        ram = [r["memory"]["ram_bytes"] / 1024 for r in s.latency]
        x = np.arange(len(names))
        ax.bar(x - 0.2, flash, 0.4, label="flash KiB")
        ax.bar(x + 0.2, ram, 0.4, label="RAM KiB")
        ax.set_xticks(x, names, rotation=20, fontsize=8)
        ax.set(title="firmware memory from the ELF")
        ax.legend(fontsize=8)
        save(fig, "memory")
    return figs


# --------------------------------------------------------------------------------- text


CAPTIONS = {
    "training_curves": "Training loss and evaluation accuracy per epoch.",
    "device_accuracy": "Accuracy per device for every model; the shaded devices were never seen in training.",
    "confusion": "Confusion matrix.",
    "size_budget": "Non-zero parameter bytes of the deployed TFLite file against the 128,000-byte budget.",
    "latency_by_op": "Estimated latency per operator type (from emulated instruction counts; not measured cycles).",
    "memory": "Flash (text + rodata + data) and RAM (data + bss + stack high-water mark) per firmware build.",
}


#: Which figures follow which section.
SECTION_FIGURES = {
    "Accuracy per device (paper Table 3 layout, %)": ("device_accuracy", "training_curves", "confusion"),
    "Size audit of the deployed TFLite file": ("size_budget",),
    "Cortex-M latency and memory (latency estimated from emulated instruction counts)": ("latency_by_op", "memory"),
}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _table4(s: RunSummary) -> str | None:
    """The paper's Table 4 rows and this run's: the uncompressed model, the deployed file (accuracy under TFLite
    Micro), sparsity, bits and non-zero size; then the drop with its standard error and the unseen-device drop."""
    from tinyasc.paper import TABLE4

    steps = (s.compress or {}).get("steps") or []
    acc = ((s.export or {}).get("parity") or {}).get("accuracy") or {}
    tflm = acc.get("tflm")
    student = next((ev for name, ev in s.accuracy_rows if name.startswith("student")), None)
    if not steps or not tflm or not student:
        return None
    base = steps[0]["audit"]
    pruned = next((st for st in reversed(steps) if st.get("conv_weights")), None)
    sparsity = None if pruned is None else 1 - pruned["conv_nonzero"] / pruned["conv_weights"]
    totals = (s.audit or {}).get("totals") or {}
    rows = [[f"paper: {r.method}", r.bits, "yes" if r.kd else "-", "-" if r.pruning is None else f"{r.pruning:.2f}",
             f"{r.accuracy:.1f} ± {r.accuracy_std:.1f}", "-", "-" if r.nonzero_kb is None else f"{r.nonzero_kb:.1f} KiB"]
            for r in TABLE4]
    kd = any(str(st.get("name", "")).endswith("+kd") for st in steps)
    rows.append(["this run: uncompressed student (float)", "32", "-", "-", _pct(student["overall"]),
                 _pct(student.get("unseen_mean")), f"{base['nonzero_bytes'] / 1024:.1f} KiB"])
    rows.append([f"this run: deployed {s.precision} file under TFLite Micro", "8 (int32 biases)", "yes" if kd else "-",
                 "-" if sparsity is None else f"{sparsity:.4f}", _pct(tflm["overall"]), _pct(tflm.get("unseen_mean")),
                 "-" if not totals else f"{totals['nonzero_bytes'] / 1024:.1f} KiB"])
    parity = (s.export or {}).get("parity") or {}
    drop, se = parity.get("accuracy_drop"), parity.get("accuracy_drop_stderr")
    unseen = None if student.get("unseen_mean") is None or tflm.get("unseen_mean") is None else \
        student["unseen_mean"] - tflm["unseen_mean"]
    lines = [markdown_table(["model", "bits", "KD", "pruning", "accuracy %", "unseen %", "non-zero"], rows)]
    if drop is not None:
        lines.append(f"Drop from the uncompressed float model to the deployed file: {100 * drop:+.1f} points (standard "
                     f"error {100 * (se or 0):.1f}; unseen devices {'-' if unseen is None else format(100 * unseen, '+.1f')}); "
                     f"the paper: {TABLE4[0].accuracy - TABLE4[-1].accuracy:+.1f} points ({TABLE4[0].accuracy} -> "
                     f"{TABLE4[-1].accuracy}) on the real dataset "
                     f"with BC-ResNet-ASC-8 and 300 fine-tune epochs.\n")
    return "\n".join(lines)


def _sections(s: RunSummary) -> list[tuple[str, str]]:
    """(title, markdown body) pairs shared by the Markdown and HTML reports."""
    out: list[tuple[str, str]] = []
    verdict = "\n".join(
        f"- {'PASS' if g.passed else ('FAIL' if g.passed is False else 'NOT RUN')} — {g.name}: {g.detail}" for g in s.gates)
    out.append(("Verdict", verdict + "\n"))
    if s.accuracy_rows:
        out.append(("Accuracy per device (paper Table 3 layout, %)",
                    markdown_table(table3_header(), [table3_row(n, ev) for n, ev in s.accuracy_rows])))
    table4 = _table4(s)
    if table4:
        out.append(("Compression beside the paper's Table 4", table4))
    if s.audit:
        t = s.audit.get("totals", {})
        out.append(("Size audit of the deployed TFLite file", markdown_table(
            ["params", "non-zero", "size B", "non-zero B", "non-zero kB", "non-zero KiB", "budget B", "file B"],
            [[_num(t.get("params")), _num(t.get("nonzero")), _num(t.get("size_bytes")), _num(t.get("nonzero_bytes")),
              _num(t.get("nonzero_bytes", 0) / 1000), _num(t.get("nonzero_bytes", 0) / 1024),
              _num(s.audit.get("budget_bytes")), _num(t.get("dense_file_bytes"))]])))
    if s.export:
        deployed = s.export.get("deployed") or {}
        out.append(("Deployed model", f"- `{deployed.get('file')}` ({s.precision} activations): {deployed.get('reason')}\n"))
        rows = []
        for backend, st in ((s.export.get("parity") or {}).get("quantized_vs_pytorch") or {}).items():
            rows.append([backend, _num(st.get("top1_agreement")), _num(st.get("top1_agreement_resolvable")),
                         _num(st.get("resolvable_fraction")), _num(st.get("output_rounding_ceiling")),
                         _num(st.get("logit_err_steps_max")), _num(st.get("logit_err_steps_mean")), _num(st.get("n_clips"))])
        if rows:
            out.append((f"Parity of the {s.precision} model with PyTorch", markdown_table(
                ["interpreter", "top-1 agreement", "on resolvable clips", "resolvable fraction",
                 "output-rounding ceiling", "max logit error (steps)", "mean logit error (steps)", "clips"], rows)))
        ops = (s.export.get("quantized") or {}).get("op_counts") or {}
        if ops:
            out.append((f"{s.precision} graph operators", markdown_table(["op", "count"], [[k, v] for k, v in ops.items()])))
    if s.firmware:
        rows = []
        for target, fw in s.firmware.items():
            par = fw.get("parity") or {}
            rows.append([target, _num(len(fw.get("layers", []))), _num(fw.get("total_macs")), _num(fw.get("arena_size")),
                         _num(fw.get("tflm_arena_size")), _num(fw.get("weight_bytes")),
                         _num(par.get("n_inputs")), _num(par.get("differing_elements"))])
        out.append(("Shipped C libraries (firmware/<target>/, parity on the host build)", markdown_table(
            ["library", "layers", "MACs", "arena B", "TFLM arena B", "weights B", "golden inputs", "differing elements"],
            rows)))
    if s.latency:
        rows = [[r["_variant"], f"{r['clock_mhz']:g}", _num(r["total_instructions"]), _num(r["total_cycles"]),
                 f"{r['total_latency_ms']:.2f}", _num(r.get("instructions_per_mac")), _num(r["memory"]["flash_bytes"]),
                 _num(r["memory"]["ram_bytes"])] for r in s.latency]
        out.append(("Cortex-M latency and memory (latency estimated from emulated instruction counts)", markdown_table(
            ["build", "MHz", "instructions", "est. cycles", "est. ms", "instr/MAC", "flash B", "RAM B"], rows)))
    stage_rows = [[st["name"], "done" if st["done"] else "not run", "-" if st["seconds"] is None else f"{st['seconds']:.1f}"]
                  for st in s.stages]
    out.append(("Stages", markdown_table(["stage", "status", "seconds"], stage_rows)))
    out.append(("Profile", "```\n" + json.dumps(s.profile, indent=2) + "\n```\n"))
    return out


def render_markdown(s: RunSummary, figs: dict[str, Path]) -> str:
    lines = [f"# tinyasc pipeline report: {s.run_dir.name}\n",
             f"Overall: **{'PASS' if s.passed else 'FAIL'}** (profile `{s.profile.get('name')}`).\n"]
    for title, body in _sections(s):
        lines.append(f"## {title}\n\n{body}")
        for key in SECTION_FIGURES.get(title, ()):
            if key in figs:
                lines.append(f"![{CAPTIONS[key]}]({figs[key].relative_to(s.run_dir).as_posix()})\n\n{CAPTIONS[key]}\n")
    return "\n".join(lines)


def _md_table_to_html(md: str) -> str:
    rows = [r.strip().strip("|").split("|") for r in md.strip().splitlines()]
    head, body = rows[0], rows[2:]
    h = "".join(f"<th>{html.escape(c.strip())}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>"


def _body_html(body: str) -> str:
    if body.startswith("|"):
        return _md_table_to_html(body)
    if body.startswith("```"):
        return "<pre>" + html.escape(body.strip("`\n").removeprefix("\n")) + "</pre>"
    items = []
    for line in body.strip().splitlines():
        text = html.escape(line.removeprefix("- "))
        cls = "pass" if text.startswith("PASS") else ("fail" if text.startswith("FAIL") else "na")
        items.append(f'<li class="{cls}">{text}</li>')
    return "<ul>" + "".join(items) + "</ul>"


def render_html(s: RunSummary, figs: dict[str, Path]) -> str:
    parts = []
    for title, body in _sections(s):
        parts.append(f"<h2>{html.escape(title)}</h2>{_body_html(body)}")
        for key in SECTION_FIGURES.get(title, ()):
            if key in figs:
                data = base64.b64encode(figs[key].read_bytes()).decode()
                cap = html.escape(CAPTIONS[key])
                parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{cap}"><figcaption>{cap}</figcaption></figure>')
    status = "PASS" if s.passed else "FAIL"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tinyasc report: {html.escape(s.run_dir.name)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
td, th {{ border: 1px solid #bbb; padding: 3px 8px; text-align: right; }}
th {{ background: #eee; }}
li.pass {{ color: #176117; }} li.fail {{ color: #a00; font-weight: bold; }} li.na {{ color: #777; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
.status {{ font-size: 1.3em; font-weight: bold; }}
</style></head>
<body><h1>tinyasc pipeline report</h1>
<p class="status">Overall: {status} — profile <code>{html.escape(str(s.profile.get("name")))}</code>, run <code>{html.escape(str(s.run_dir))}</code></p>
{''.join(parts)}
<script>
// Marks the body with how many figures decoded, so a headless browser check can read it back.
window.addEventListener("load", function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }}).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
}});
</script>
</body></html>
"""


def write_report(run_dir: Path, profile: dict[str, Any]) -> RunSummary:
    """Gather the artifacts of ``run_dir`` and write report.md, report.html, report.json and figures/."""
    s = gather(run_dir, profile)
    figs = make_figures(s, run_dir / "figures")
    write_text(run_dir / "report.md", render_markdown(s, figs))
    write_text(run_dir / "report.html", render_html(s, figs))
    write_json(run_dir / "report.json", {
        "passed": s.passed, "profile": profile, "stages": s.stages,
        "gates": [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in s.gates],
        "accuracy": {n: ev for n, ev in s.accuracy_rows},
        "audit_totals": (s.audit or {}).get("totals"),
        "latency": [{k: r.get(k) for k in ("_variant", "target", "clock_mhz", "total_instructions", "total_cycles",
                                            "total_latency_ms", "memory")} for r in s.latency],
        "figures": [p.name for p in figs.values()],
    })
    return s
