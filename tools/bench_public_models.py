"""Models tinyasc did not make: each public int8 ``.tflite`` through ``asc-firmware --target`` and ``asc-latency DIR``.

    python tools/bench_public_models.py MODEL.tflite [MODEL.tflite ...] [--targets cortex-m4 cortex-m55]
                                        [--out DIR] [--inputs N]

For each model and core: the shipped library is written (``write_library``), built on the host and
checked against TensorFlow Lite Micro on every layer on N seeded noise inputs over the whole int8
range (the first all -128, the second all 127), then measured on the emulated core with TFLite
Micro's outputs required too (latency estimated from emulated instruction counts). Nothing of the
models is committed: pass files from wherever you keep them (e.g. the MLPerf Tiny reference
models). A model the generator cannot take is reported with its one-line reason. Finished cells
are kept under DIR/runs/ and reused. Writes DIR/bench_public_models.json and .md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from tinyasc.atomic import write_json, write_text
from tinyasc.errors import InputError
from tinyasc.firmware_sim.harness import ParityError, RunError, measure_library, write_report
from tinyasc.firmware_sim.library import write_library
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.target import LibraryTarget, Target

log = logging.getLogger("bench_public_models")


def noise_inputs(shape: list[int], dtype: np.dtype, n: int) -> np.ndarray:
    info = np.iinfo(dtype)
    x = np.random.default_rng(0).integers(info.min, info.max + 1, size=(max(n, 3), *shape))
    x[0], x[1] = info.min, info.max
    return x.astype(dtype)


def run_cell(model: Path, core: Target, out: Path, n_inputs: int) -> dict:
    cell = out / "runs" / f"{model.stem}-{core.value}"
    done = cell / "cell.json"
    if done.is_file():
        return json.loads(done.read_text())
    row: dict = {"model": model.name, "target": core.value}
    try:
        lib = write_library(model, cell / "library", target=LibraryTarget(core.value), measure_tflm_arena=True)
        art = lib.firmware
        res = check_parity(art, noise_inputs(art.input_shape, art.io_dtype, n_inputs), debug_layers=True)
        rep = measure_library(lib.out_dir, out_dir=cell, model=model)
        write_report(rep, cell)
    except InputError as err:
        row["refused"] = str(err)
        write_json(done, row)
        return row
    except (ParityError, RunError) as err:
        row["failed"] = str(err)
        write_json(done, row)
        return row
    row.update(ops=sum(art.op_counts.values()), op_counts=art.op_counts, macs=art.total_macs,
               host_identical=res.identical, host_layers_compared=len(res.layers), inputs=res.n_inputs,
               target_equals_tflm=bool(rep.parity.get("tflm_equal")), instructions=rep.total_instructions,
               cycles=rep.total_cycles, latency_ms=rep.total_latency_ms, clock_mhz=rep.clock_mhz,
               instructions_per_mac=rep.instructions_per_mac, flash_bytes=rep.memory.flash_bytes,
               ram_bytes=rep.memory.ram_bytes, arena_bytes=art.arena_size, tflm_arena_bytes=art.tflm_arena_size,
               kernels=art.kernels)
    write_json(done, row)
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["# Public int8 models through the shipped library",
             "",
             "Latency estimated from emulated instruction counts (QEMU, per-core timing model). "
             "`host` = the library built on the host is bit-exact with TFLite Micro on every layer; "
             "`target` = the core's outputs equal TFLite Micro's.",
             "",
             "| model | core | ops | MACs | host | target | instructions | instr/MAC | est. ms @ MHz | flash B | RAM B | arena B (TFLM) |",
             "|---|---|---:|---:|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "refused" in r or "failed" in r:
            lines.append(f"| {r['model']} | {r['target']} | | | {r.get('refused') or r.get('failed')} | | | | | | | |")
            continue
        lines.append(
            f"| {r['model']} | {r['target']} | {r['ops']} | {r['macs']:,} | {'identical' if r['host_identical'] else 'DIFFERS'} "
            f"| {'equal' if r['target_equals_tflm'] else 'DIFFERS'} | {r['instructions']:,} | "
            f"{r['instructions_per_mac']:.2f} | {r['latency_ms']:.1f} @ {r['clock_mhz']:g} | {r['flash_bytes']:,} | "
            f"{r['ram_bytes']:,} | {r['arena_bytes']:,} ({r['tflm_arena_bytes']:,}) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", type=Path, nargs="+", help="int8 .tflite files")
    p.add_argument("--targets", nargs="+", type=Target, default=[Target.CORTEX_M4, Target.CORTEX_M55])
    p.add_argument("--out", type=Path, default=Path("bench_out/public_models"))
    p.add_argument("--inputs", type=int, default=4, help="seeded noise inputs for the host check (default 4)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    rows = [run_cell(m, t, args.out, args.inputs) for m in args.models for t in args.targets]
    write_json(args.out / "bench_public_models.json", {"rows": rows})
    write_text(args.out / "bench_public_models.md", markdown(rows))
    log.info("wrote %s", args.out / "bench_public_models.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
