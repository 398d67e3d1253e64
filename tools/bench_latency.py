"""Latency table for the README: ASC-1 and compressed ASC-8 on Cortex-M4, M7 and M55, dense and sparse.

    python tools/bench_latency.py [--asc1 PATH] [--asc8 PATH] [--out DIR] [--portable-baseline]

Each cell runs ``asc-latency MODEL --target`` (tinyasc.firmware_sim.harness.measure_tflite): write
the library ``asc-firmware --target`` ships, build exactly its sources, run it on QEMU with the instruction counter, check the outputs against the
host build and TFLite Micro, and estimate cycles with the core's timing model (latency
estimated from emulated instruction counts). Finished cells are kept under DIR/runs/ and reused,
so a killed run resumes. Writes DIR/bench_latency.json and DIR/bench_latency.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import sys
from pathlib import Path

from tinyasc.atomic import write_json, write_text
from tinyasc.firmware_sim import harness as L

log = logging.getLogger("bench_latency")
ARTIFACTS = Path("/tmp/tinyasc_artifacts")


def _find(pattern: str) -> Path | None:
    hits = sorted(glob.glob(str(ARTIFACTS / pattern)))
    return Path(hits[0]) if hits else None


def run_cell(model: Path, name: str, target: L.Target, sparse: bool, optimized: bool, out: Path) -> dict:
    tag = f"{name}-{target.value}-{'sparse' if sparse else 'dense'}{'' if optimized else '-portable'}"
    cell = out / "runs" / tag
    done = cell / "latency.json"
    if done.is_file():
        d = json.loads(done.read_text())
    else:
        r = L.measure_tflite(model, target=target, out_dir=cell, sparse=sparse, optimized=optimized)
        L.write_report(r, cell)
        d = r.to_dict()
    conv = sum(x["cycles"] for x in d["layers"] if x["op"] in L.MAC_OPS)
    row = {
        "model": name, "target": d["target"], "clock_mhz": d["clock_mhz"], "kernels": d["kernels"],
        "sparse": d["sparse"], "instructions": d["total_instructions"], "cycles": d["total_cycles"],
        "latency_ms": d["total_latency_ms"], "macs": d["total_macs"], "instructions_per_mac": d["instructions_per_mac"],
        "macs_per_cycle": d["macs_per_cycle"], "conv_share": conv / d["total_cycles"] if d["total_cycles"] else 0.0,
        "conv_macs_per_cycle": d["total_macs"] / conv if conv else None,
        "flash_bytes": d["memory"]["flash_bytes"], "ram_bytes": d["memory"]["ram_bytes"],
        "memory_region": d["memory"]["ram_region"],
        "frontend_ms": d["frontend"]["latency_ms"] if d["frontend"] else None,
        "parity_equal": d["parity"]["equal"], "tflm_equal": d["parity"].get("tflm_equal"),
        "sparse_weight_bytes": d["build"].get("sparse_weight_bytes"),
        "dense_weight_bytes_replaced": d["build"].get("dense_weight_bytes_replaced"),
    }
    log.info("%s: %.1f ms, flash %d B", tag, row["latency_ms"], row["flash_bytes"])
    return row


def markdown(rows: list[dict]) -> str:
    head = ("| model | core @ MHz | kernels | weights | instructions | instr/MAC | est. ms | conv share | "
            "conv MACs/cycle | front end ms | flash | RAM | = host & TFLM |")
    lines = [f"{L.LATENCY_NOTE.capitalize()} (QEMU 7.2, per-core timing models in "
             "src/tinyasc/firmware_sim/targets/timing/). Flash excludes the golden test vectors and includes "
             "the front end.", "", head, "|" + "---|" * 13]
    for r in rows:
        conv = "" if r["conv_macs_per_cycle"] is None else f"{r['conv_macs_per_cycle']:.2f}"
        fe = "" if r["frontend_ms"] is None else f"{r['frontend_ms']:.1f}"
        ok = "yes" if r["parity_equal"] and r["tflm_equal"] else "NO"
        mark = {"board": "", "emulated": " (a)", "emulated+rodata": " (b)"}.get(r.get("memory_region", "board"), "")
        weights = "sparse" if r["sparse"] else "dense"
        lines.append(
            f"| {r['model']} | {r['target']} @ {r['clock_mhz']:g} | {r['kernels']} | {weights} | "
            f"{r['instructions']:,} | {r['instructions_per_mac']:.1f} | {r['latency_ms']:.1f} | "
            f"{100 * r['conv_share']:.0f}% | {conv} | {fe} | {r['flash_bytes'] / 1024:.1f} KiB | "
            f"{r['ram_bytes'] / 1024:.1f} KiB{mark} | {ok} |")
    lines += ["", "(a) RAM larger than the board's (MPS2: 4 MiB SSRAM; AN547: 512 KiB DTCM): data linked into an "
              "emulation-only region. (b) flash too: constants also there (AN547 ITCM is 512 KiB)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--asc1", type=Path, default=_find("asc1*int8*.tflite"))
    p.add_argument("--asc8", type=Path, default=_find("asc8*int8*.tflite"))
    p.add_argument("--out", type=Path, default=Path("bench_out/latency"))
    p.add_argument("--targets", nargs="+", type=L.Target, default=list(L.Target))
    p.add_argument("--portable-baseline", action="store_true", help="also run the portable kernels (dense)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    models = [(n, m) for n, m in (("ASC-1", args.asc1), ("ASC-8 compressed", args.asc8)) if m is not None]
    missing = [n for n, m in (("ASC-1", args.asc1), ("ASC-8 compressed", args.asc8)) if m is None]
    if missing:
        log.warning("no .tflite for %s (pass --asc1/--asc8)", ", ".join(missing))
    if not models:
        print("bench_latency: no models found", file=sys.stderr)
        return 2
    rows = []
    for name, model in models:
        for target in args.targets:
            if args.portable_baseline:
                rows.append(run_cell(model, name, target, False, False, args.out))
            for sparse in (False, True):
                rows.append(run_cell(model, name, target, sparse, True, args.out))
    write_json(args.out / "bench_latency.json", {"note": L.LATENCY_NOTE, "rows": rows, "missing_models": missing})
    write_text(args.out / "bench_latency.md", markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
