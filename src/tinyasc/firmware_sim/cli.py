"""``asc-firmware MODEL.tflite --out DIR [--check] [--debug-layers] [--dataset DIR | --golden NPZ]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tinyasc.errors import EXIT_GATE_FAILED, InputError, cli_entry

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asc-firmware",
        description="Generate self-contained integer C inference code from an int8 or 16x8 TFLite model, build it on "
                    "the host and check it bit-exactly against TensorFlow Lite Micro.")
    p.add_argument("model", type=Path, help="full-integer .tflite, int8 or 16x8 (asc-export --int8 [--activations int16])")
    p.add_argument("--out", type=Path, required=True, help="output directory for model.c/.h, kernels, reports")
    p.add_argument("--check", action="store_true", help="build for the host and compare with TFLM on golden inputs")
    p.add_argument("--debug-layers", action="store_true", help="with --check: compare every intermediate tensor")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--golden", type=Path, help=".npz with integer 'inputs' (the model input's type) or float 'features' (or a .npy)")
    src.add_argument("--dataset", type=Path, help="directory of float feature .npy files")
    p.add_argument("--limit", type=int, default=16, help="at most this many golden inputs (default 16)")
    p.add_argument("--no-in-place", action="store_true", help="disable in-place element-wise ops in the arena plan")
    p.add_argument("--no-tflm-arena", action="store_true",
                   help="skip measuring TFLM's smallest arena (bisection, a few seconds)")
    p.add_argument("--cc", default=None, help="host C compiler (default $CC or cc)")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tinyasc.firmware_sim import report
    from tinyasc.firmware_sim.build import build_host, find_compiler
    from tinyasc.firmware_sim.generator import GeneratorOptions, generate
    from tinyasc.firmware_sim.parity import check_parity, load_golden

    if args.debug_layers and not args.check:
        raise InputError(None, "--debug-layers needs --check")
    if args.check:
        find_compiler(args.cc)  # fail before generating anything
    opts = GeneratorOptions(in_place=not args.no_in_place, measure_tflm_arena=not args.no_tflm_arena)
    art = generate(args.model, args.out, options=opts)
    print(f"wrote {args.out}/model.c, model.h ({len(art.layers)} layers, arena {art.arena_size} B"
          + (f", TFLM {art.tflm_arena_size} B" if art.tflm_arena_size else "") + ")")
    if not args.check:
        build_host(args.out, cc=args.cc)
        print(f"built {args.out}/build/tinyasc_host")
        return 0
    from tinyasc.contract import read_deployed_contract

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
