"""Benchmark: peak RAM of a model streamed over time (``asc-firmware --ram-budget``) against the whole clip.

    python tools/bench_tiling.py MODEL.tflite [MODEL.tflite ...] --out OUT [--budget 256K] [--latency]
        [--target cortex-m4] [--inputs 4] [--tflm-arena]

For each model (an int8 ``.tflite`` from ``asc-export``, e.g. one exported at 10 s with
``asc-export --clip-seconds 10``): the whole-clip arena, the streaming curve (peak RAM per step size:
arena + the clip's input + pooling sums and counters), the largest step whose peak fits ``--budget``
(chosen among the streamed plans even where the whole clip fits too), and a parity
check of that streamed library against TensorFlow Lite Micro on seeded noise inputs (the whole
range, first two all min / all max). With ``--latency`` both libraries (whole clip and streamed) are
measured by ``asc-latency`` on the emulated core: instructions, estimated latency and the RAM the ELF
holds (``.data`` + ``.bss`` + stack high-water; it includes the kernels' static scratch and the
latency harness's own front-end output buffer, which the shipped example does not have).
Writes ``OUT/bench_tiling.json`` and ``OUT/bench_tiling.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc import atomic
from tinyasc.errors import InputError
from tinyasc.firmware_sim.library import write_library
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.target import LibraryTarget
from tinyasc.firmware_sim import tiling
from tinyasc.firmware_sim.reader import read_tflite
from tinyasc.firmware_sim.tiling import parse_size
from tinyasc.metrics import markdown_table


def _latency(lib: Path, model: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "tinyasc.firmware_sim.latency_cli", str(lib), "--model", str(model),
                           "--out", str(out), "--limit", "1"], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"ok": False, "error": (proc.stdout + proc.stderr)[-1500:]}
    rep = json.loads((out / "latency.json").read_text())
    elf = next(out.glob("build/*/firmware.elf"))
    nm = subprocess.run(["arm-none-eabi-nm", "-S", "-t", "d", str(elf)], capture_output=True, text=True).stdout
    harness = sum(int(f[1]) for f in (line.split() for line in nm.splitlines())
                  if len(f) == 4 and f[3] == "tinyasc_frontend_output")
    return {"ok": True, "harness_buffer_bytes": harness, "shipped_ram_bytes": rep["memory"]["ram_bytes"] - harness, "instructions": rep["total_instructions"], "latency_ms": rep["total_latency_ms"],
            "ram_bytes": rep["memory"]["ram_bytes"], "bss_bytes": rep["memory"]["bss"],
            "stack_bytes": rep["memory"]["stack_used"],
            "frontend_ms": (rep.get("frontend") or {}).get("latency_ms")}


def bench(model: Path, out: Path, *, budget: int, target: LibraryTarget, n_inputs: int, latency: bool,
          tflm_arena: bool) -> dict[str, Any]:
    name = model.parent.parent.name + "/" + model.name if model.parent.name == "export" else model.name
    work = out / model.parent.parent.name
    t0 = time.perf_counter()
    whole = write_library(model, work / "whole", target=target, measure_tflm_arena=tflm_arena)
    # the smallest peak streaming reaches (ties: the larger step), and what --ram-budget would ship
    graph = read_tflite(model)
    an = tiling.analyze(graph, time_axis=tiling.input_time_axis(graph))
    curve = tiling.choose(graph, an, whole_arena=whole.firmware.arena_size, macs=whole.firmware.total_macs,
                          step=1).curve
    step = min(curve, key=lambda c: (c.peak_ram_bytes, -c.step)).step
    try:  # what asc-firmware --ram-budget ships (it also counts the front end and the kernels' scratch)
        shipped = write_library(model, work / "budget", target=target, ram_budget=budget).firmware.tiling
        budget_pick = f"step {shipped['step_frames']} ({shipped['peak_ram_bytes']:,} B + " \
                      f"{shipped['reserved_bytes']:,} B)" if shipped else "whole clip"
    except InputError as err:
        budget_pick = f"none: {err.problem}"
    streamed = write_library(model, work / "streamed", target=target, step_frames=step)
    art = streamed.firmware
    info = np.iinfo(art.io_dtype)
    x = np.random.default_rng(0).integers(info.min, info.max + 1, size=(n_inputs, *art.input_shape)).astype(art.io_dtype)
    x[0], x[1] = info.min, info.max
    parity = check_parity(art, x).to_json() if art.tiling else None
    row: dict[str, Any] = {
        "model": name, "input_shape": art.input_shape, "macs": art.total_macs,
        "whole_clip_arena_bytes": whole.firmware.arena_size, "tflm_arena_bytes": whole.firmware.tflm_arena_size,
        "tiling": art.tiling, "budget_choice": budget_pick, "parity": None if parity is None else {
            k: parity[k] for k in ("identical", "n_inputs", "differing_elements", "max_abs_diff")},
        "generate_s": round(time.perf_counter() - t0, 2)}
    if latency and art.tiling:
        row["latency_whole"] = _latency(work / "whole", model, work / "lat_whole")
        row["latency_streamed"] = _latency(work / "streamed", model, work / "lat_streamed")
    return row


def markdown(rows: list[dict[str, Any]], budget: int, machine: str) -> str:
    head = ["model", "input", "whole-clip arena B", "TFLM arena B", "smallest streamed peak: step (frames)", "steps",
            "arena B", "input B", "peak RAM B", f"--ram-budget {budget // 1024}K ships", "MACs (both)",
            "bit-exact vs TFLM"]
    table = []
    for r in rows:
        t = r["tiling"] or {}
        p = r["parity"]
        table.append([r["model"], "x".join(map(str, r["input_shape"][1:3])), f"{r['whole_clip_arena_bytes']:,}",
                      f"{r['tflm_arena_bytes']:,}" if r["tflm_arena_bytes"] else "-",
                      str(t.get("step_frames", "whole")), str(t.get("steps", 1)),
                      f"{t['arena_bytes']:,}" if t else "-", f"{t['features_bytes']:,}" if t else "-",
                      f"{t['peak_ram_bytes']:,}" if t else f"{r['whole_clip_arena_bytes']:,}", r["budget_choice"],
                      f"{r['macs']:,}",
                      "-" if p is None else (f"yes, {p['n_inputs']} inputs" if p["identical"] else
                                             f"NO: {p['differing_elements']} differ")])
    lines = [f"# Streaming over time: peak RAM under a {budget:,} B budget", "", f"Machine: {machine}.", "",
             markdown_table(head, table), ""]
    for r in rows:
        t = r["tiling"]
        if not t:
            continue
        lines += [f"## {r['model']}: peak RAM per step size", "",
                  markdown_table(["step frames", "steps", "arena B", "peak RAM B", "buffers kept across steps"],
                                 [[str(c["step_frames"]), str(c["steps"]), f"{c['arena_bytes']:,}",
                                   f"{c['peak_ram_bytes']:,}", str(c["persistent_buffers"])] for c in t["curve"]]), ""]
        if "latency_whole" in r:
            rows_l = []
            for what in ("whole", "streamed"):
                lat = r[f"latency_{what}"]
                rows_l.append([what, f"{lat['instructions']:,}", f"{lat['latency_ms']:.1f}", f"{lat['ram_bytes']:,}",
                               f"{lat['shipped_ram_bytes']:,}", f"{lat['stack_bytes']:,}"]
                              if lat["ok"] else [what, "failed", "", "", "", ""])
            lines += ["Emulated core (asc-latency, one inference; model only, front end measured separately; RAM = "
                      ".data + .bss + stack high-water from the ELF; 'without harness buffer' removes the latency "
                      "harness's own front-end output array, which the shipped example does not have):", "",
                      markdown_table(["library", "instructions", "est. ms", "ELF RAM B", "without harness buffer B",
                                      "stack B"], rows_l), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget", default="256K", help="RAM budget (default 256K)")
    ap.add_argument("--target", default="cortex-m4", choices=[t.value for t in LibraryTarget])
    ap.add_argument("--inputs", type=int, default=4, help="seeded noise inputs for the parity check (default 4)")
    ap.add_argument("--latency", action="store_true", help="also measure both libraries with asc-latency (QEMU)")
    ap.add_argument("--tflm-arena", action="store_true", help="also find TFLite Micro's smallest arena (slow)")
    args = ap.parse_args(argv)
    budget = parse_size(args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [bench(m, args.out, budget=budget, target=LibraryTarget(args.target), n_inputs=max(args.inputs, 2),
                  latency=args.latency, tflm_arena=args.tflm_arena) for m in args.models]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end"
    atomic.write_json(args.out / "bench_tiling.json", {"budget_bytes": budget, "target": args.target,
                                                       "machine": machine, "models": rows})
    atomic.write_text(args.out / "bench_tiling.md", markdown(rows, budget, machine))
    print(markdown(rows, budget, machine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
