"""The latency report: per-layer instructions, estimated cycles and MACs; Markdown and JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tinyasc.atomic import write_json, write_text
from tinyasc.errors import InputError
from tinyasc.firmware_sim.harness.memory import MemoryReport
from tinyasc.firmware_sim.harness.qemu import RunOutput
from tinyasc.firmware_sim.harness.timing import CLASSES, TimingModel, instructions, diff_counts
from tinyasc.firmware_sim.harness.tools import RunError



@dataclass(frozen=True, kw_only=True)
class LayerInfo:
    name: str
    op: str = ""
    macs: int = 0


@dataclass(kw_only=True)
class LayerLatency:
    index: int
    name: str
    op: str
    instructions: int
    cycles: float
    latency_ms: float
    macs: int
    macs_per_cycle: float | None
    instructions_per_mac: float | None
    share: float
    classes: dict[str, int]


@dataclass(kw_only=True)
class LatencyReport:
    model: str
    target: str
    machine: str
    clock_mhz: float
    note: str
    timing_model: dict[str, Any]
    kernels: str
    sparse: bool
    total_instructions: int
    total_cycles: float
    total_latency_ms: float
    total_macs: int
    macs_per_cycle: float | None
    instructions_per_mac: float | None
    layers: list[LayerLatency]
    other: dict[str, Any]
    frontend: dict[str, Any] | None
    memory: MemoryReport
    parity: dict[str, Any]
    build: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _layer_row(index: int, info: LayerInfo, counts: dict[str, int], model: TimingModel, clock_mhz: float,
               total_cycles: float) -> LayerLatency:
    n = instructions(counts)
    cyc = model.cycles(counts)
    return LayerLatency(
        index=index, name=info.name, op=info.op, instructions=n, cycles=cyc, latency_ms=cyc / (clock_mhz * 1e3),
        macs=info.macs, macs_per_cycle=(info.macs / cyc) if info.macs and cyc else None,
        instructions_per_mac=(n / info.macs) if info.macs else None,
        share=(cyc / total_cycles) if total_cycles else 0.0,
        classes={k: v for k, v in counts.items() if v},
    )


def analyze(run: RunOutput, *, n_layers: int, layers: Sequence[LayerInfo] | None, model: TimingModel,
            clock_mhz: float, frontend: bool = False,
            sequence: Sequence[int] | None = None) -> tuple[list[LayerLatency], dict[str, Any],
                                                            dict[str, Any] | None, dict[str, int]]:
    """Map the snapshot sequence onto layers of the first golden inference.

    ``sequence``: the layer of each marker pair of one inference, in order (default: each layer
    once); a streamed model runs its trunk layers once per step, and a layer's figures are the sum."""
    snaps = run.snapshots
    base = 2 if frontend else 0
    seq = list(range(n_layers)) if sequence is None else [int(i) for i in sequence]
    if any(not 0 <= i < n_layers for i in seq):
        raise ValueError(f"marker sequence names a layer outside 0..{n_layers - 1}")
    per_inf = 2 + 2 * len(seq)
    if len(snaps) < base + per_inf:
        raise RunError(f"expected at least {base + per_inf} marker hits, got {len(snaps)}")
    if (len(snaps) - base) % per_inf != 0:
        raise RunError(f"{len(snaps) - base} marker hits do not divide into inferences of {per_inf}")
    fe = None
    if frontend:
        c = diff_counts(snaps[0], snaps[1])
        cyc = model.cycles(c)
        fe = {"instructions": instructions(c), "cycles": cyc, "latency_ms": cyc / (clock_mhz * 1e3),
              "classes": {k: v for k, v in c.items() if v}}
    s = snaps[base:base + per_inf]
    total_counts = diff_counts(s[0], s[-1])
    total_cycles = model.cycles(total_counts)
    infos = list(layers) if layers is not None else [LayerInfo(name=f"layer{i}") for i in range(n_layers)]
    if len(infos) != n_layers:
        raise ValueError(f"{len(infos)} layer descriptions for {n_layers} layers")
    per_layer = [{k: 0 for k in total_counts} for _ in range(n_layers)]
    for j, i in enumerate(seq):
        c = diff_counts(s[1 + 2 * j], s[2 + 2 * j])
        for k in per_layer[i]:
            per_layer[i][k] += c[k]
    layer_sum = {k: sum(c[k] for c in per_layer) for k in total_counts}
    rows = [_layer_row(i, infos[i], per_layer[i], model, clock_mhz, total_cycles) for i in range(n_layers)]
    glue = {k: total_counts[k] - layer_sum[k] for k in total_counts}
    gcyc = model.cycles(glue)
    other = {"instructions": instructions(glue), "cycles": gcyc, "latency_ms": gcyc / (clock_mhz * 1e3),
             "share": gcyc / total_cycles if total_cycles else 0.0,
             "what": "between layers: invoke entry/exit, layer markers, copies outside kernels"}
    return rows, other, fe, total_counts


def compare_outputs(host: list[bytes], target: list[bytes], dtype: Any = np.int8) -> dict[str, Any]:
    """Element-wise comparison of raw outputs of ``dtype`` (int8, or little-endian int16);
    ``mismatched_bytes`` counts differing elements (bytes for int8)."""
    if len(host) != len(target) or not host:
        return {"equal": False, "inputs": len(host), "target_inputs": len(target), "mismatched_bytes": None,
                "max_abs_diff": None}
    mism = 0
    mad = 0
    for h, t in zip(host, target):
        if len(h) != len(t):
            return {"equal": False, "inputs": len(host), "mismatched_bytes": None, "max_abs_diff": None}
        a = np.frombuffer(h, dtype).astype(np.int32)
        b = np.frombuffer(t, dtype).astype(np.int32)
        mism += int(np.count_nonzero(a != b))
        mad = max(mad, int(np.max(np.abs(a - b))) if a.size else 0)
    return {"equal": mism == 0, "inputs": len(host), "output_bytes": len(host[0]), "mismatched_bytes": mism,
            "max_abs_diff": mad}


# ---------------------------------------------------------------------------------- markdown


def _fmt_ms(x: float) -> str:
    return f"{x:.3f}" if x < 100 else f"{x:.1f}"


def report_markdown(r: LatencyReport) -> str:
    m = r.memory
    lines = [
        f"# Latency: {r.model} on {r.target} ({r.machine} in QEMU) at {r.clock_mhz:g} MHz",
        "",
        f"**{r.note.capitalize()}.** Instruction counts are exact (QEMU TCG plugin); cycles come from the "
        f"per-class timing model of the {r.timing_model['core']} below, not from hardware.",
        "",
        f"- kernels: {r.kernels}{', sparse weights' if r.sparse else ''}; on {r.parity['inputs']} golden input(s) "
        f"the target's outputs equal the host build's: {r.parity['equal']}"
        + (f", TFLite Micro's: {r.parity['tflm_equal']}" if "tflm_equal" in r.parity else ""),
        f"- total: {r.total_instructions:,} instructions, {r.total_cycles:,.0f} estimated cycles, "
        f"**{_fmt_ms(r.total_latency_ms)} ms** estimated"
        + (f", {r.total_macs:,} MACs, {r.macs_per_cycle:.3f} MACs/cycle, {r.instructions_per_mac:.2f} instructions/MAC"
           if r.total_macs else ""),
        f"- flash: {m.flash_bytes:,} B (text {m.text:,} + rodata {m.rodata:,} + data {m.data:,}, less "
        f"{m.test_data_bytes:,} B of golden test vectors{', front end included' if r.frontend else ''}); "
        f"RAM: {m.ram_bytes:,} B (data {m.data:,} + bss {m.bss:,} + stack high-water {m.stack_used:,})"
        + {"board": "", "emulated": " — data larger than the board's RAM: run in an emulation-only region",
           "emulated+rodata": " — data and constants larger than the board's memories: run in emulation-only "
                              "regions"}.get(m.ram_region, ""),
    ]
    if r.frontend:
        f = r.frontend
        lines.append(f"- front end (PCM -> int8 features): {f['instructions']:,} instructions, "
                     f"{f['cycles']:,.0f} cycles, {_fmt_ms(f['latency_ms'])} ms")
    lines += ["", "| # | layer | op | instructions | est. cycles | est. ms | MACs | MACs/cycle | instr/MAC | share |",
              "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for L in r.layers:
        lines.append(
            f"| {L.index} | {L.name} | {L.op} | {L.instructions:,} | {L.cycles:,.0f} | {_fmt_ms(L.latency_ms)} | "
            f"{L.macs:,} | {'' if L.macs_per_cycle is None else f'{L.macs_per_cycle:.3f}'} | "
            f"{'' if L.instructions_per_mac is None else f'{L.instructions_per_mac:.2f}'} | {100 * L.share:.1f}% |")
    o = r.other
    lines.append(f"| | (between layers) | | {o['instructions']:,} | {o['cycles']:,.0f} | {_fmt_ms(o['latency_ms'])} | | "
                 f"| | {100 * o['share']:.1f}% |")
    lines.append(f"| | **total** | | {r.total_instructions:,} | {r.total_cycles:,.0f} | {_fmt_ms(r.total_latency_ms)} | "
                 f"{r.total_macs:,} | | | 100% |")
    tm = r.timing_model
    lines += ["", "## Timing model", "", f"Source: {tm['reference']}.", "", f"Assumptions: {tm['assumptions']}.", "",
              "| class | " + " | ".join(CLASSES) + " | per LDM/STM register |",
              "|---|" + "---:|" * (len(CLASSES) + 1),
              "| CPI | " + " | ".join(f"{tm['cpi'][c]:g}" for c in CLASSES) + f" | {tm['per_xfer_reg']:g} |", ""]
    return "\n".join(lines)


def write_report(report: LatencyReport, out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    j, md = out_dir / "latency.json", out_dir / "latency.md"
    write_json(j, report.to_dict())
    write_text(md, report_markdown(report))
    return j, md


# ---------------------------------------------------------------------------------- self-test


def read_report_json(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    """A written report (``latency.json``) as a dict holding ``keys``, for tools that compare reports; a
    missing file, bad JSON or another kind of file is an InputError naming the file."""
    try:
        report = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"not a JSON report ({err})") from None
    if not isinstance(report, dict):
        raise InputError(path, "not an asc-latency report (a JSON object is expected)")
    missing = [k for k in keys if k not in report]
    if missing:
        raise InputError(path, f"not an asc-latency report (no {', '.join(missing)})")
    return report
