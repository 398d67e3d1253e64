"""``asc-firmware MODEL.tflite --target T --out DIR [--dense] [--check] [--debug-layers] [--dataset DIR | --golden NPZ]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from tinyasc.errors import EXIT_GATE_FAILED, InputError, cli_entry
from tinyasc.firmware_sim.target import LibraryTarget, parse_library_target

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asc-firmware",
        description="Write the self-contained C library of an int8 or 16x8 TFLite model for a target (the model, "
                    "the fastest kernels tinyasc has for it, the front end, CMake and Make build files, an example "
                    "and an API README), build it on the host and optionally check it bit-exactly against "
                    "TensorFlow Lite Micro.")
    p.add_argument("model", type=Path, help="full-integer .tflite, int8 or 16x8 (asc-export --int8 [--activations int16])")
    p.add_argument("--out", type=Path, required=True, help="output directory (replaced as a whole)")
    p.add_argument("--target", type=parse_library_target, default=LibraryTarget.PORTABLE,
                   metavar="{" + ",".join(t.value for t in LibraryTarget) + "}",
                   help="portable C99 (default) or a Cortex-M core: its DSP/Helium, in-place and sparse kernels")
    p.add_argument("--dense", action="store_true", help="keep every convolution's weights dense (no sparse encoding)")
    p.add_argument("--no-frontend", action="store_true", help="leave the C front end (PCM -> model input) out")
    p.add_argument("--check", action="store_true",
                   help="build for the host and compare with TFLM on golden inputs (default: seeded noise)")
    p.add_argument("--debug-layers", action="store_true", help="with --check: compare every intermediate tensor")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--golden", type=Path, help=".npz with integer 'inputs' (the model input's type) or float 'features' (or a .npy)")
    src.add_argument("--dataset", type=Path, help="directory of float feature .npy files")
    p.add_argument("--limit", type=int, default=16, help="at most this many golden inputs (default 16)")
    p.add_argument("--no-in-place", action="store_true", help="disable in-place element-wise ops in the arena plan")
    p.add_argument("--no-tflm-arena", action="store_true",
                   help="skip measuring TFLM's smallest arena (bisection, a few seconds)")
    p.add_argument("--ram-budget", type=_size, default=None, metavar="SIZE",
                   help="peak RAM budget (e.g. 256K): if the whole-clip arena exceeds it, the convolutional trunk is "
                        "streamed over time (bit-exact, nothing recomputed) with the largest step that fits")
    p.add_argument("--step-frames", type=int, default=None, metavar="N",
                   help="stream the trunk over time, N input frames per step (overrides the budget's choice)")
    p.add_argument("--cc", default=None, help="host C compiler (default $CC or cc)")
    return p


def _size(text: str) -> int:
    from tinyasc.firmware_sim.tiling import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tinyasc.firmware_sim import report
    from tinyasc.firmware_sim.build import build_host, find_compiler
    from tinyasc.firmware_sim.library import write_library
    from tinyasc.firmware_sim.parity import check_parity, load_golden

    if args.debug_layers and not args.check:
        raise InputError(None, "--debug-layers needs --check")
    if args.step_frames is not None and args.step_frames < 1:
        raise InputError(None, f"--step-frames must be >= 1, got {args.step_frames}")
    if args.dense and args.target is LibraryTarget.PORTABLE:
        log.info("--dense: the portable library's weights are always dense")
    find_compiler(args.cc)  # fail before generating anything
    lib = write_library(args.model, args.out, target=args.target, dense=args.dense, in_place=not args.no_in_place,
                        measure_tflm_arena=not args.no_tflm_arena, frontend=not args.no_frontend,
                        ram_budget=args.ram_budget, step_frames=args.step_frames)
    art, m = lib.firmware, lib.manifest
    print(f"wrote {args.out}: {m.target.value} library, {len(art.layers)} layers, arena {art.arena_size} B"
          + (f" (TFLM {art.tflm_arena_size} B)" if art.tflm_arena_size else "")
          + f", {len(art.kernels)} kernels, front end: {'yes' if m.frontend else 'no - ' + m.frontend_note}")
    if art.tiling:
        t = art.tiling
        print(f"streamed over time: {t['steps']} steps of {t['step_frames']} frames, peak RAM {t['peak_ram_bytes']} B "
              f"(arena {t['arena_bytes']} + input {t['features_bytes']} + sums/counters {t['state_bytes']}; whole-clip "
              f"arena {t['whole_clip_arena_bytes']} B), {t['macs']} MACs (as the whole clip)"
              + (f"; the budget also holds {t['reserved_bytes']} B of front end and kernel scratch"
                 if t.get("reserved_bytes") else ""))
    if m.target is LibraryTarget.PORTABLE:
        print("portable kernels: for a Cortex-M part, --target cortex-m4|cortex-m7|cortex-m55 ships the DSP/Helium "
              "kernels tinyasc measures")
    if not args.check:
        build_host(args.out, cc=args.cc)
        print(f"built {args.out}/build/tinyasc_host")
        return 0
    from tinyasc.contract import read_deployed_contract

    if args.golden is None and args.dataset is None:
        # no golden data: seeded noise over the input type's whole range, the first two inputs all min / all max
        info = np.iinfo(art.io_dtype)
        inputs = np.random.default_rng(0).integers(info.min, info.max + 1, size=(max(args.limit, 3), *art.input_shape))
        inputs[0], inputs[1] = info.min, info.max
        inputs = inputs.astype(art.io_dtype)
        print(f"--check on {len(inputs)} seeded noise inputs (give --golden or --dataset for real features)")
    else:
        contract = read_deployed_contract(Path(args.model).read_bytes(), args.model)
        inputs = load_golden(art.input_shape, art.input_scale, art.input_zero_point, golden=args.golden,
                             dataset=args.dataset, limit=args.limit,
                             input_resnorm=None if contract is None else contract.input_resnorm,
                             dtype=art.activations.upper())
    res = check_parity(art, inputs, debug_layers=args.debug_layers, cc=args.cc)
    art.parity = res.to_json()
    report.write_report(art)
    print(("parity OK: " if res.identical else "parity FAILED: ") + res.summary())
    return 0 if res.identical else EXIT_GATE_FAILED
