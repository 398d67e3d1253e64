"""Benchmark the front end's two FFTs per Cortex-M core: the built-in one against CMSIS-DSP's arm_cfft_f32.

    python tools/bench_frontend_fft.py --out runs/bench_frontend_fft [--cmsis-dsp TREE]
        [--targets cortex-m4,cortex-m7,cortex-m55] [--seconds 1,10]

For each core and clip length (a 0.1-rms noise clip, the paper's 4096-point FFT), the whole front end
(``tinyasc_frontend_quantized``: PCM -> int8 model input) is built twice with the latency harness
(``harness.frontend_run.run_frontend_target``: startup code, board memory map, counting plugin), once
with the built-in FFT and once with ``TINYASC_FE_CMSIS_DSP`` and the tree's FFT sources (Helium on the
M55), and run in QEMU: exact instructions, the harness's cycle estimate (an estimate, per-class CPIs),
stack, flash of the program (``arm-none-eabi-size``: text + data, the same golden clip in both) and how
the CMSIS-DSP build's int8 input compares with the built-in host build's (equal fraction, largest
step). The tree defaults to ``$TINYASC_CMSIS_DSP`` or ``.cache/cmsis-dsp`` (``tools/setup.sh --test``).
Writes ``bench_frontend_fft.json`` and ``bench_frontend_fft.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinyasc import atomic
from tinyasc.errors import InputError, cli_entry
from tinyasc.contract import FeatureConfig
from tinyasc.firmware_sim import frontend as fe
from tinyasc.firmware_sim.cmsis_dsp import CmsisDsp, default_tree
from tinyasc.firmware_sim.harness.frontend_run import run_frontend_target
from tinyasc.firmware_sim.target import Target
from tinyasc.metrics import markdown_table

log = logging.getLogger("bench_frontend_fft")


def _flash(elf: Path) -> int:
    out = subprocess.run(["arm-none-eabi-size", str(elf)], check=True, capture_output=True, text=True).stdout
    text, data, _bss = map(int, out.splitlines()[1].split()[:3])
    return text + data


def bench(tree: CmsisDsp, targets: list[str], seconds: list[float], work: Path) -> list[dict]:
    rows = []
    for sec in seconds:
        cfg = FeatureConfig(clip_seconds=sec)
        pcm = fe.float_to_pcm(0.1 * np.random.default_rng(0).standard_normal(cfg.clip_samples))
        d = work / f"{sec:g}s"
        art = fe.write_frontend(cfg, 0.0784, 30, d / "fe", golden_pcm=pcm)
        fe.build_frontend_host(art)
        _, q_host = fe.run_frontend_host(art, pcm)
        for t in targets:
            builtin = run_frontend_target(art, t, d / "builtin")
            cmsis = run_frontend_target(art, t, d / "cmsis", cmsis_dsp=tree, with_output=True)
            q = np.frombuffer(cmsis["output"], dtype=q_host.dtype).reshape(q_host.shape)
            step = np.abs(q.astype(int) - q_host.astype(int))
            row = {"target": t, "clip_seconds": sec, "frames": cfg.n_frames,
                   "builtin_equals_host": builtin["checksum"] == fe.output_checksum(art, q_host)}
            for name, r in (("builtin", builtin), ("cmsis_dsp", cmsis)):
                row[name] = {"instructions": r["instructions"], "cycles_estimate": r["cycles_estimate"],
                             "latency_ms_estimate": r["latency_ms_estimate"], "clock_mhz": r["clock_mhz"],
                             "stack_bytes": r["stack_bytes"], "flash_bytes": _flash(r["elf"])}
            row["cmsis_vs_builtin_cycles"] = cmsis["cycles_estimate"] / builtin["cycles_estimate"]
            row["cmsis_int8_equal_fraction"] = float((step == 0).mean())
            row["cmsis_int8_max_step"] = int(step.max())
            log.info("%s %g s: built-in %.1f ms, CMSIS-DSP %.1f ms (x%.3f), int8 equal %.5f", t, sec,
                     builtin["latency_ms_estimate"], cmsis["latency_ms_estimate"], row["cmsis_vs_builtin_cycles"],
                     row["cmsis_int8_equal_fraction"])
            rows.append(row)
    return rows


def markdown(rows: list[dict], tree: CmsisDsp) -> str:
    table = []
    for r in rows:
        b, c = r["builtin"], r["cmsis_dsp"]
        table.append([f"{r['target']}, {r['clip_seconds']:g} s",
                      f"{b['instructions']:,} / {c['instructions']:,}",
                      f"{b['cycles_estimate'] / r['frames']:,.0f} / {c['cycles_estimate'] / r['frames']:,.0f}",
                      f"{b['latency_ms_estimate']:.1f} / {c['latency_ms_estimate']:.1f} @ {b['clock_mhz']:g} MHz",
                      f"x{r['cmsis_vs_builtin_cycles']:.3f}",
                      f"{b['flash_bytes']:,} / {c['flash_bytes']:,}",
                      f"{b['stack_bytes']} / {c['stack_bytes']}",
                      f"{100 * r['cmsis_int8_equal_fraction']:.4f}% (max step {r['cmsis_int8_max_step']})"])
    return "\n".join([
        "# Front end FFT: built-in / CMSIS-DSP (QEMU, exact instruction counts; cycles are the harness's estimate)",
        "", f"CMSIS-DSP tree: `{tree.root}`. Whole front end, PCM -> int8 input, 0.1-rms noise clip.", "",
        markdown_table(["core, clip", "instructions", "cycles per frame (est.)", "ms (est.)", "CMSIS-DSP / built-in",
                        "flash of the program (B)", "stack (B)", "CMSIS-DSP int8 = built-in host"], table)])


@cli_entry
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--cmsis-dsp", type=Path, help="CMSIS-DSP source tree (default: $TINYASC_CMSIS_DSP or .cache)")
    ap.add_argument("--targets", default="cortex-m4,cortex-m7,cortex-m55")
    ap.add_argument("--seconds", default="1,10", help="comma-separated clip lengths")
    args = ap.parse_args(argv)
    tree = CmsisDsp.at(args.cmsis_dsp) if args.cmsis_dsp else default_tree()  # a bad tree: one line, exit 2
    targets = args.targets.split(",")
    for t in targets:
        if t not in {c.value for c in Target}:
            raise InputError(None, f"unknown core {t!r} (choose from: {', '.join(c.value for c in Target)})")
    try:
        seconds = [float(x) for x in args.seconds.split(",")]
    except ValueError:
        raise InputError(None, f"--seconds takes comma-separated numbers, got {args.seconds!r}") from None
    work = Path(tempfile.mkdtemp(prefix="bench_frontend_fft_"))
    try:
        rows = bench(tree, targets, seconds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(args.out / "bench_frontend_fft.json", {"cmsis_dsp": str(tree.root), "rows": rows})
    atomic.write_text(args.out / "bench_frontend_fft.md", markdown(rows, tree) + "\n")
    print((args.out / "bench_frontend_fft.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
