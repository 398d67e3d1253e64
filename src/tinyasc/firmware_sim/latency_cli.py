"""``asc-latency MODEL.tflite --target cortex-m4|cortex-m7|cortex-m55 [--clock-mhz F] [--sparse] [--out DIR]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tinyasc.errors import EXIT_GATE_FAILED, InputError, cli_entry
from tinyasc.firmware_sim.latency import LATENCY_NOTE, SPECS, Target

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    clocks = ", ".join(f"{t.value} {SPECS[t].clock_mhz:g} MHz" for t in Target)
    p = argparse.ArgumentParser(
        prog="asc-latency",
        description="Build the generated integer firmware for a Cortex-M core, run it on QEMU with an exact "
                    "instruction counter and report per-layer instructions, estimated cycles and latency, "
                    f"flash and RAM ({LATENCY_NOTE}). Needs apt packages gcc-arm-none-eabi, "
                    "libnewlib-arm-none-eabi, qemu-system-arm.")
    p.add_argument("model", type=Path, help="full-integer .tflite, int8 or 16x8 (asc-export --int8 [--activations int16])")
    p.add_argument("--target", type=Target, choices=list(Target), default=Target.CORTEX_M4,
                   metavar="{" + ",".join(t.value for t in Target) + "}", help="core (default cortex-m4)")
    p.add_argument("--clock-mhz", type=float, default=None, help=f"clock for the latency estimate (defaults: {clocks})")
    p.add_argument("--sparse", action="store_true", help="store pruned convolution weights sparsely (zero-skipping kernels)")
    p.add_argument("--portable", action="store_true", help="use the portable C kernels instead of DSP/Helium ones")
    p.add_argument("--golden", type=Path, default=None,
                   help="golden inputs: .npz with integer 'inputs' or float 'features', or a .npy (default: seeded noise)")
    p.add_argument("--limit", type=int, default=1, help="at most this many golden inputs (default 1)")
    p.add_argument("--no-frontend", action="store_true", help="do not measure the C front end (PCM -> features)")
    p.add_argument("--no-tflm", action="store_true", help="skip the TFLite Micro comparison (host build only)")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed for one QEMU run (default 600)")
    p.add_argument("--out", type=Path, default=Path("latency_out"), help="output directory (default latency_out)")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tinyasc.firmware_sim.latency import ParityError, RunError, check_toolchain, measure_tflite, write_report

    check_toolchain()
    if not args.model.is_file():
        raise InputError(args.model, "no such file")
    if args.clock_mhz is not None and args.clock_mhz <= 0:
        raise InputError(None, f"--clock-mhz must be positive, got {args.clock_mhz}")
    if args.limit < 1:
        raise InputError(None, f"--limit must be at least 1, got {args.limit}")
    golden = None
    if args.golden is not None:
        from tinyasc.firmware_sim.parity import load_golden
        from tinyasc.firmware_sim.reader import read_tflite

        g = read_tflite(args.model)
        x = g.tensors[g.inputs[0]]
        golden = load_golden(list(x.shape), x.q()[0], x.q()[1], golden=args.golden, limit=args.limit, dtype=x.dtype)
    try:
        report = measure_tflite(args.model, target=args.target, out_dir=args.out, clock_mhz=args.clock_mhz,
                                sparse=args.sparse, optimized=not args.portable, golden=golden,
                                check_tflm=not args.no_tflm, timeout=args.timeout,
                                frontend=not args.no_frontend)
    except (ParityError, RunError) as err:
        print(f"asc-latency: FAILED: {err}")
        return EXIT_GATE_FAILED
    j, md = write_report(report, args.out)
    m = report.memory
    print(f"{report.model} on {report.target} at {report.clock_mhz:g} MHz ({LATENCY_NOTE}): "
          f"{report.total_instructions:,} instructions, {report.total_cycles:,.0f} cycles, "
          f"{report.total_latency_ms:.3f} ms; flash {m.flash_bytes:,} B, RAM {m.ram_bytes:,} B; "
          f"outputs equal host{' and TFLM' if report.parity.get('tflm_equal') else ''}")
    print(f"wrote {j} and {md}")
    return 0
if __name__ == "__main__":
    raise SystemExit(main())
