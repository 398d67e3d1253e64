"""``asc-export CKPT --int8 --dataset DIR --out DIR [--activations int8|int16|auto]``: thin CLI over
:func:`tinyasc.export.pipeline.export_int8`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tinyasc.errors import EXIT_GATE_FAILED, EXIT_OK, InputError, cli_entry
from tinyasc.export.calibrate import Calibration
from tinyasc.model.export_form import ExportForm
from tinyasc.export.precision import Activations

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asc-export", description="Export a tinyasc checkpoint to a full-integer TFLite "
                                "model (int8 weights; int8 or int16 activations) with on-host parity gates (ONNX -> "
                                "onnx2tf -> TFLite, C array, report).")
    p.add_argument("checkpoint", help="tinyasc checkpoint (.pt), compressed or float")
    p.add_argument("--int8", action="store_true", required=True,
                   help="full-integer export with int8 weights (the only target; activations: --activations)")
    p.add_argument("--activations", choices=[a.value for a in Activations], default=Activations.INT8.value,
                   help="activation precision of the deployed file: int8 (default; smallest RAM), int16 (16x8: int16 "
                        "activations, int8 weights; closer to PyTorch at ~1.8x the TFLite Micro arena), or auto (int8 "
                        "when it passes every gate, else int16)")
    p.add_argument("--dataset", required=True, help="TAU-layout dataset: training split calibrates, evaluation split checks parity")
    p.add_argument("--out", required=True, help="output directory (must not exist unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--calib-clips", type=int, default=200, help="training clips calibrating the activation ranges (default 200)")
    p.add_argument("--calibration", choices=[c.value for c in Calibration], default=Calibration.PERCENTILE.value,
                   help="activation ranges: percentile (default; each clipped to --calib-percentile of its calibration "
                        "values, written into the .tflite) or minmax (the converter's)")
    p.add_argument("--calib-percentile", type=float, nargs="+", default=[100.0, 99.9999, 99.999, 99.99],
                   help="candidate percentiles of the calibration values to clip each int8 activation range to; the "
                        "one closest to the float model on other training clips is kept (default 100 99.9999 99.999 "
                        "99.99; 100 = min/max)")
    p.add_argument("--parity-clips", type=int, default=None, help="evaluation clips for the parity table (default: all)")
    p.add_argument("--clip-seconds", type=float, default=None,
                   help="export at this clip length (e.g. 10 for the paper's clips) instead of the checkpoint's; "
                        "calibration and parity clips are zero-padded or cropped to it")
    p.add_argument("--form", choices=[f.value for f in ExportForm], default=ExportForm.EQUALIZED.value,
                   help="export form of the model (default equalized: BatchNorm folded, sub-spectral norms and frequency "
                        "means as channel-equalized convs; equalized-lifted also moves the input ResNorm into the front end)")
    p.add_argument("--debug-layers", action="store_true", help="per-layer SQNR of the deployed file's vs float activations in the report")
    p.add_argument("--int16-variant", action="store_true",
                   help="also evaluate and keep the 16x8 (int16-activation) file when it is not deployed (with "
                        "--activations int8, or auto when int8 passes); no effect with --activations int16")
    p.add_argument("--cache-dir", default=None, help="feature cache directory (default: DATASET/.tinyasc_cache)")
    p.add_argument("--gate-agreement", type=float, default=0.99, help="min top-1 agreement of the deployed file vs PyTorch (default 0.99)")
    p.add_argument("--gate-margin-steps", type=float, default=1.0,
                   help="the agreement gate counts clips whose PyTorch top-1 margin is at least this many output "
                        "steps of the evaluated file (default 1: output rounding alone cannot reorder them; 0: every clip)")
    p.add_argument("--gate-accuracy-drop", type=float, default=0.005, help="max overall accuracy drop, fraction (default 0.005)")
    p.add_argument("--reference", type=Path, default=None,
                   help="uncompressed float checkpoint for the accuracy gate of a QAT checkpoint (default: the student "
                        "the compressed checkpoint records)")
    p.add_argument("--gate-sim-agreement", type=float, default=0.995,
                   help="QAT checkpoints: min top-1 agreement of the int8 file (TFLite Micro) with the checkpoint's "
                        "integer simulation over every clip (default 0.995)")
    p.add_argument("--gate-float-drop", type=float, default=0.01,
                   help="QAT checkpoints: max overall accuracy drop of the int8 file vs the uncompressed float model (default 0.01)")
    p.add_argument("--budget", type=int, default=128_000, help="non-zero parameter budget in bytes (default 128000)")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tinyasc.export.interpreters import Runtime
    from tinyasc.export.pipeline import ExportConfig, export_int8

    try:
        cfg = ExportConfig(activations=Activations(args.activations), calib_clips=args.calib_clips,
                           calibration=Calibration(args.calibration),
                           calib_percentiles=tuple(args.calib_percentile), parity_clips=args.parity_clips, clip_seconds=args.clip_seconds, form=ExportForm(args.form),
                           gate_agreement=args.gate_agreement, gate_margin_steps=args.gate_margin_steps,
                           gate_accuracy_drop=args.gate_accuracy_drop, reference=args.reference,
                           gate_sim_agreement=args.gate_sim_agreement, gate_float_drop=args.gate_float_drop,
                           budget_bytes=args.budget, debug_layers=args.debug_layers, keep_int16=args.int16_variant,
                           force=args.force, cache_dir=None if args.cache_dir is None else Path(args.cache_dir))
    except ValueError as exc:
        raise InputError(None, str(exc)) from None
    res = export_int8(args.checkpoint, args.dataset, args.out, cfg)
    rep = res.report
    summary = rep["parity"]["quantized_vs_pytorch"][Runtime.LITERT_REF.value]
    print(f"{rep['status']}: {res.deployed} ({Activations(rep['deployed']['activations']).label} top-1 agreement "
          f"{summary['top1_agreement']:.4f}, on resolvable clips {summary['top1_agreement_resolvable'] or 0:.4f}, "
          f"arena {rep['quantized']['tflm_arena_bytes']} B; {rep['deployed']['reason']})")
    if not res.passed:
        print(f"failed gates: {', '.join(res.failed_gates)}")
        return EXIT_GATE_FAILED
    return EXIT_OK
