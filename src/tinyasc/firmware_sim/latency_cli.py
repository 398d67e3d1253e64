"""``asc-latency DIR`` (a library from ``asc-firmware --target``) or ``asc-latency MODEL.tflite --target CORE``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tinyasc.errors import EXIT_GATE_FAILED, InputError, cli_entry
from tinyasc.firmware_sim.harness.timing import LATENCY_NOTE
from tinyasc.firmware_sim.target import SPECS, Target

log = logging.getLogger(__name__)


def _core(value: str) -> Target:
    try:
        return Target(value)
    except ValueError:
        raise InputError(None, f"unknown core {value!r} (choose from: {', '.join(t.value for t in Target)})") from None


def build_parser() -> argparse.ArgumentParser:
    clocks = ", ".join(f"{t.value} {SPECS[t].clock_mhz:g} MHz" for t in Target)
    p = argparse.ArgumentParser(
        prog="asc-latency",
        description="Measure a shipped C library on an emulated Cortex-M core: build exactly its sources with the "
                    "flags of its build files, run them on QEMU with an exact instruction counter and report "
                    "per-layer instructions, estimated cycles and latency, flash and RAM "
                    f"({LATENCY_NOTE}). Given a .tflite, first write the library asc-firmware --target ships into "
                    "OUT/library, then measure that directory. Needs apt packages gcc-arm-none-eabi, "
                    "libnewlib-arm-none-eabi, qemu-system-arm.")
    p.add_argument("source", type=Path, help="a library directory (asc-firmware --target) or a full-integer .tflite")
    p.add_argument("--target", type=_core, default=None, metavar="{" + ",".join(t.value for t in Target) + "}",
                   help="core: required for a .tflite (default cortex-m4) or a portable library; a Cortex-M "
                        "library runs on its own core")
    p.add_argument("--model", type=Path, default=None,
                   help="with a library: the .tflite it came from, to require TFLite Micro's outputs too")
    p.add_argument("--clock-mhz", type=float, default=None, help=f"clock for the latency estimate (defaults: {clocks})")
    p.add_argument("--dense", action="store_true", help="with a .tflite: dense weights (no sparse encoding)")
    p.add_argument("--portable", action="store_true", help="with a .tflite: the portable library, not DSP/Helium")
    p.add_argument("--golden", type=Path, default=None,
                   help="golden inputs: .npz with integer 'inputs' or float 'features', or a .npy (default: seeded noise)")
    p.add_argument("--limit", type=int, default=1, help="at most this many golden inputs (default 1)")
    p.add_argument("--no-frontend", action="store_true", help="do not measure the C front end (PCM -> features)")
    p.add_argument("--cmsis-dsp", type=Path, default=None, metavar="TREE",
                   help="build the front end's complex FFT from this CMSIS-DSP source tree, as the library's "
                        "`make CMSIS_DSP=TREE` does (its output must then be within the front end's int8 tolerance "
                        "of the host build's, not bit-identical)")
    p.add_argument("--no-tflm", action="store_true", help="with a .tflite: skip the TFLite Micro comparison")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed for one QEMU run (default 600)")
    p.add_argument("--out", type=Path, default=Path("latency_out"), help="output directory (default latency_out)")
    return p


def _golden(args: argparse.Namespace, shape: list[int], scale: float, zero_point: int, dtype: str):
    if args.golden is None:
        return None
    from tinyasc.firmware_sim.parity import load_golden

    return load_golden(shape, scale, zero_point, golden=args.golden, limit=args.limit, dtype=dtype)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tinyasc.firmware_sim.harness import (ParityError, RunError, check_toolchain, measure_library,
                                              measure_tflite, write_report)

    check_toolchain()
    if args.clock_mhz is not None and args.clock_mhz <= 0:
        raise InputError(None, f"--clock-mhz must be positive, got {args.clock_mhz}")
    if args.limit < 1:
        raise InputError(None, f"--limit must be at least 1, got {args.limit}")
    tree = None
    if args.cmsis_dsp is not None:
        from tinyasc.firmware_sim.cmsis_dsp import CmsisDsp

        if args.no_frontend:
            raise InputError(args.cmsis_dsp, "--cmsis-dsp builds the front end's FFT; it needs the front end")
        tree = CmsisDsp.at(args.cmsis_dsp)
    try:
        if args.source.is_dir():
            from tinyasc.firmware_sim.generator import FirmwareArtifact

            art = FirmwareArtifact.load(args.source)
            golden = _golden(args, art.input_shape, art.input_scale, art.input_zero_point, art.activations.upper())
            report = measure_library(args.source, out_dir=args.out, core=args.target, clock_mhz=args.clock_mhz,
                                     golden=golden, model=args.model, timeout=args.timeout,
                                     frontend=not args.no_frontend, cmsis_dsp_tree=tree)
        else:
            if not args.source.is_file():
                raise InputError(args.source, "no such file or directory")
            from tinyasc.firmware_sim.reader import read_tflite

            g = read_tflite(args.source)
            x = g.tensors[g.inputs[0]]
            golden = _golden(args, list(x.shape), x.q()[0], x.q()[1], x.dtype)
            report = measure_tflite(args.source, target=args.target or Target.CORTEX_M4, out_dir=args.out,
                                    clock_mhz=args.clock_mhz, sparse=not args.dense, optimized=not args.portable,
                                    golden=golden, check_tflm=not args.no_tflm, timeout=args.timeout,
                                    frontend=not args.no_frontend, cmsis_dsp_tree=tree)
    except (ParityError, RunError) as err:
        print(f"asc-latency: FAILED: {err}")
        return EXIT_GATE_FAILED
    j, md = write_report(report, args.out)
    m = report.memory
    print(f"{report.model} on {report.target} at {report.clock_mhz:g} MHz ({LATENCY_NOTE}): "
          f"{report.total_instructions:,} instructions, {report.total_cycles:,.0f} cycles, "
          f"{report.total_latency_ms:.3f} ms; flash {m.flash_bytes:,} B, RAM {m.ram_bytes:,} B; "
          f"outputs equal host{' and TFLM' if report.parity.get('tflm_equal') else ''}; "
          f"library {report.build.get('library')}")
    print(f"wrote {j} and {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
