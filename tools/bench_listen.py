"""Benchmark: continuous listening on the emulated core (``tinyasc_stream_push`` / ``tinyasc_stream_classify``).

    python tools/bench_listen.py LIB_DIR [LIB_DIR ...] --out OUT [--seconds 3] [--chunk 512] [--every 16000]

``LIB_DIR``: a Cortex-M library with a front end (``asc-firmware MODEL --target cortex-m4``). On its emulated
core (``tinyasc.firmware_sim.harness.stream_push.measure_listen``) ``--seconds`` of seeded noise are pushed in
``--chunk``-sample pushes (512 = a 32-ms DMA half-buffer at 16 kHz) and the last clip length is classified every
``--every`` samples once a whole window has arrived, and at the stream's end. Reports instructions per push
(mean, largest; each frame is computed once, in the push that completes it), per classification (window
normalization + model), the core's share per second of audio, and from the ELF the listening state's and
scratch's RAM and the whole program's (data + bss + stack high-water mark). The last classification's scores are checked against TensorFlow Lite Micro on the window the
host build of the same front end computes from the same samples. Writes ``OUT/bench_listen.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from tinyasc import atomic
from tinyasc.errors import cli_entry
from tinyasc.firmware_sim.library import LibraryManifest
from tinyasc.contract import read_deployed_contract
from tinyasc.firmware_sim import frontend as fe
from tinyasc.firmware_sim.harness.stream_push import measure_listen
from tinyasc.firmware_sim.reader import read_tflite
from tinyasc.metrics import markdown_table
from tinyasc.tflite_io.tflm import run as tflm_run


def tflm_on_host_window(model: Path, input_shape: list[int], pcm: np.ndarray, chunk: int, work: Path) -> bytes:
    """TFLM's output on the window the host build of the model's front end holds after ``pcm``."""
    contract = read_deployed_contract(model.read_bytes(), model)
    art = fe.write_frontend_for_model(read_tflite(model), contract.feature_config, work,
                                      input_resnorm=contract.input_resnorm)
    fe.build_frontend_host(art)
    _, window, _ = fe.run_frontend_listen_host(art, pcm, chunk)
    memory = window if art.layout is fe.InputLayout.MEL_MAJOR else window.T  # the model input's element order
    out, _ = tflm_run(model, np.ascontiguousarray(memory).reshape(1, *input_shape))
    return np.asarray(out).tobytes()


@cli_entry
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("libs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--every", type=int, default=None, help="samples between classifications (default: 1 s)")
    args = ap.parse_args(argv)
    rows = []
    for lib in args.libs:
        LibraryManifest.load(lib)  # not a library asc-firmware wrote: one line, exit 2
        fw = json.loads((lib / "firmware.json").read_text())
        r = measure_listen(lib, out_dir=args.out / lib.name, seconds=args.seconds, chunk=args.chunk,
                           every=args.every)
        pcm = r.pop("pcm")
        ref = tflm_on_host_window(Path(fw["model"]), fw["input_shape"], pcm, args.chunk, args.out / lib.name / "frontend_host")
        r.update(library=str(lib), model=fw["model"], equals_tflm=bytes.fromhex(r["output"]) == ref,
                 input_resnorm="input ResNorm" in (lib / "README.md").read_text())
        rows.append(r)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs (instruction counts do not depend on load)"
    atomic.write_json(args.out / "bench_listen.json", {"machine": machine, "rows": rows})
    table = [[r["library"], r["target"], "yes" if r["input_resnorm"] else "no", f"{r['stream_seconds']:g}",
              str(r["pushes"]), f"{r['push_instructions_mean']:,.0f}", f"{r['push_instructions_max']:,}",
              f"{r['push_ms_max']:.1f} / {r['push_budget_ms']:.0f}", str(r["classifications"]),
              f"{r['classify_instructions_mean']:,.0f}", f"{r['classify_ms_mean']:.1f}",
              f"{r['ms_per_audio_second']:.0f}", f"{r['state_bytes']:,} + {r['scratch_bytes']:,}", f"{r['ram_bytes']:,}",
              "yes" if r["equals_tflm"] else "NO"] for r in rows]
    md = "\n".join([f"# Continuous listening, {args.chunk}-sample pushes, a label every "
                    f"{rows[0]['every_samples']} samples", "", f"Machine: {machine}.", "",
                    markdown_table(["library", "core", "input ResNorm", "stream s", "pushes", "instr. per push (mean)",
                                    "largest push", "largest push ms / real-time ms", "labels",
                                    "instr. per label", "ms per label", "ms per s of audio",
                                    "listening state + scratch B", "RAM of the program B",
                                    "last label's scores = TFLM"], table), ""])
    atomic.write_text(args.out / "bench_listen.md", md)
    print(md)
    return 0 if all(r["equals_tflm"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
