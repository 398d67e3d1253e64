"""Benchmark: what the streaming API costs per microphone push, and what is left when the clip ends.

    python tools/bench_stream_push.py LIB_DIR [LIB_DIR ...] --out OUT [--chunk 512]

``LIB_DIR``: a Cortex-M library with a front end (``asc-firmware MODEL --target cortex-m4 [--ram-budget 256K]``).
On its emulated core (``tinyasc.firmware_sim.harness.stream_push``) a clip of seeded noise is fed through
``tinyasc_frontend_stream_push`` in ``--chunk``-sample pushes (512 = a 32-ms DMA half-buffer at 16 kHz); a
streamed model whose frames are final as they arrive (no lifted input ResNorm) is advanced after each push.
Reports instructions per push (mean, largest) and its estimated time against the chunk's real-time budget, and
the instructions from the last push to the label (finish, normalization, the remaining model). Writes
``OUT/bench_stream_push.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from tinyasc import atomic
from tinyasc.errors import cli_entry
from tinyasc.firmware_sim.library import LibraryManifest
from tinyasc.firmware_sim.harness.stream_push import measure_stream_push
from tinyasc.metrics import markdown_table


@cli_entry
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("libs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--chunk", type=int, default=512)
    args = ap.parse_args(argv)
    rows = []
    for lib in args.libs:
        LibraryManifest.load(lib)  # not a library asc-firmware wrote: one line, exit 2
        fw = json.loads((lib / "firmware.json").read_text())
        r = measure_stream_push(lib, out_dir=args.out / lib.name, chunk=args.chunk)
        r.update(library=str(lib), model=fw["model"], streamed=bool(fw.get("tiling")),
                 input_resnorm="input ResNorm" in (lib / "README.md").read_text())
        rows.append(r)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs (instruction counts do not depend on load)"
    atomic.write_json(args.out / "bench_stream_push.json", {"machine": machine, "rows": rows})
    table = [[r["library"], r["target"], "yes" if r["streamed"] else "no", "yes" if r["input_resnorm"] else "no",
              str(r["pushes"]), f"{r['push_instructions_mean']:,.0f}", f"{r['push_instructions_max']:,}",
              f"{r['push_ms_max']:.1f} / {r['push_budget_ms']:.0f}", f"{r['end_instructions']:,}",
              f"{r['end_ms']:.1f}",
              f"{(r['push_ms_total'] + r['end_ms']) / (r['pushes'] * r['push_budget_ms'] / 1000.0):.0f}",
              str(r["stack_bytes"])] for r in rows]
    md = "\n".join([f"# Streaming API cost, {args.chunk}-sample pushes", "", f"Machine: {machine}.", "",
                    markdown_table(["library", "core", "model streamed", "input ResNorm", "pushes",
                                    "instr. per push (mean)", "largest push", "largest push ms / real-time ms",
                                    "last push -> label, instr.", "last push -> label, ms",
                                    "ms per s of audio (all pushes + end)", "stack B"], table), ""])
    atomic.write_text(args.out / "bench_stream_push.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
