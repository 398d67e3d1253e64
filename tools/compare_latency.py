"""Compare two `asc-latency` reports of the same model per operator class: before and after a change.

    python tools/compare_latency.py BEFORE/latency.json AFTER/latency.json [...pairs] --out OUT

Each pair is one core (the reports must be of the same `.tflite` on the same core). Per operator
class: instructions, estimated cycles, MACs and MACs per cycle before and after, and the ratio; the
totals; flash and RAM. Writes ``OUT/compare_latency.json`` and ``OUT/compare_latency.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

from tinyasc import atomic
from tinyasc.errors import InputError, cli_entry
from tinyasc.firmware_sim.harness.report import read_report_json
from tinyasc.metrics import markdown_table

log = logging.getLogger("compare_latency")


def by_op(report: dict) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = defaultdict(lambda: {"instructions": 0, "cycles": 0.0, "macs": 0})
    for layer in report["layers"]:
        r = rows[layer["op"]]
        r["instructions"] += layer["instructions"]
        r["cycles"] += layer["cycles"]
        r["macs"] += layer.get("macs", 0) or 0
    return dict(rows)


REPORT_KEYS = ("model", "target", "clock_mhz", "layers", "total_instructions", "total_cycles",
               "total_latency_ms", "macs_per_cycle", "memory")


def load_report(path: Path) -> dict:
    """One `asc-latency` report; a missing file, bad JSON or another kind of file is an InputError."""
    return read_report_json(path, REPORT_KEYS)


def compare(before: dict, after: dict) -> dict:
    if before["model"] != after["model"] or before["target"] != after["target"]:
        raise InputError(None, f"not the same model and core: {before['model']} on {before['target']} vs "
                               f"{after['model']} on {after['target']}")
    b, a = by_op(before), by_op(after)
    ops = []
    for op in sorted(set(b) | set(a), key=lambda o: -b.get(o, {}).get("cycles", 0)):
        rb, ra = b.get(op, {"instructions": 0, "cycles": 0, "macs": 0}), a.get(op, {"instructions": 0, "cycles": 0, "macs": 0})
        ops.append({
            "op": op, "instructions_before": rb["instructions"], "instructions_after": ra["instructions"],
            "cycles_before": rb["cycles"], "cycles_after": ra["cycles"], "macs": ra["macs"],
            "macs_per_cycle_before": rb["macs"] / rb["cycles"] if rb["macs"] and rb["cycles"] else None,
            "macs_per_cycle_after": ra["macs"] / ra["cycles"] if ra["macs"] and ra["cycles"] else None,
        })
    return {
        "model": after["model"], "target": after["target"], "clock_mhz": after["clock_mhz"], "ops": ops,
        "total_instructions": [before["total_instructions"], after["total_instructions"]],
        "total_cycles": [before["total_cycles"], after["total_cycles"]],
        "total_latency_ms": [before["total_latency_ms"], after["total_latency_ms"]],
        "macs_per_cycle": [before["macs_per_cycle"], after["macs_per_cycle"]],
        "flash_bytes": [before["memory"]["flash_bytes"], after["memory"]["flash_bytes"]],
        "ram_bytes": [before["memory"]["ram_bytes"], after["memory"]["ram_bytes"]],
        "frontend_instructions": [(before.get("frontend") or {}).get("instructions"),
                                  (after.get("frontend") or {}).get("instructions")],
    }


def _f(v: float | None, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def to_markdown(rows: list[dict]) -> str:
    out = ["# Latency before and after, per operator class",
           "", "Estimated from emulated instruction counts (QEMU plugin, per-core timing models); not measured cycles.", ""]
    for r in rows:
        out += [f"## {r['model']} on {r['target']} at {r['clock_mhz']:g} MHz", ""]
        table = [[o["op"], f"{o['instructions_before']:,}", f"{o['instructions_after']:,}",
                  _f(o["cycles_after"] / o["cycles_before"] if o["cycles_before"] else None, ".2f"),
                  f"{o['macs']:,}" if o["macs"] else "",
                  _f(o["macs_per_cycle_before"], ".3f"), _f(o["macs_per_cycle_after"], ".3f")] for o in r["ops"]]
        ti, tc, tl = r["total_instructions"], r["total_cycles"], r["total_latency_ms"]
        table.append(["**total**", f"{ti[0]:,}", f"{ti[1]:,}", f"{tc[1] / tc[0]:.2f}", "",
                      f"{r['macs_per_cycle'][0]:.3f}", f"{r['macs_per_cycle'][1]:.3f}"])
        out.append(markdown_table(["op", "instructions before", "after", "cycles after/before", "MACs",
                                   "MACs/cycle before", "after"], table))
        out += ["", f"Latency {tl[0]:.1f} -> {tl[1]:.1f} ms; flash {r['flash_bytes'][0]:,} -> {r['flash_bytes'][1]:,} B; "
                f"RAM {r['ram_bytes'][0]:,} -> {r['ram_bytes'][1]:,} B; front end "
                f"{r['frontend_instructions'][0]:,} -> {r['frontend_instructions'][1]:,} instructions.", ""]
    return "\n".join(out)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", type=Path, help="BEFORE AFTER [BEFORE AFTER ...] latency.json files")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if len(args.reports) % 2:
        raise InputError(None, f"give the reports in before/after pairs ({len(args.reports)} given)")
    rows = [compare(load_report(args.reports[i]), load_report(args.reports[i + 1]))
            for i in range(0, len(args.reports), 2)]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.out / "compare_latency.json", json.dumps(rows, indent=2) + "\n")
    atomic.write_text(args.out / "compare_latency.md", to_markdown(rows) + "\n")
    log.info("wrote %s", args.out / "compare_latency.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
