"""``asc-compress CKPT --teacher TEACHER --dataset DATA --sparsity 0.89 --epochs N --out RUN [--resume]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tinyasc.compress.config import CompressConfig
from tinyasc.compress.prune import PruneSchedule, PruneScope
from tinyasc.errors import InputError, cli_entry
from tinyasc.model.export_form import ExportForm

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    d = CompressConfig()
    p = argparse.ArgumentParser(
        prog="asc-compress",
        description="Compress a checkpoint: one-shot magnitude pruning of every convolution, then fine-tuning with "
        "quantization-aware training (int8 convs, int8 activations, float16 others) and knowledge distillation. "
        "Writes RUN/pruned.pt, RUN/finetune/, RUN/compressed.pt and RUN/compress_report.{json,md}.",
    )
    p.add_argument("checkpoint", type=Path, help="float checkpoint to compress (the student; often the teacher itself)")
    p.add_argument("--teacher", type=Path, help="teacher checkpoint for knowledge distillation (same labels and features)")
    p.add_argument("--dataset", type=Path, required=True, help="TAU-layout dataset root (fold-1 train/evaluate splits)")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--sparsity", type=float, default=d.sparsity, help="fraction of conv weights pruned, in (0, 1) (default 0.89)")
    p.add_argument("--scope", choices=[s.value for s in PruneScope], default=d.scope.value,
                   help="magnitude ranking per layer (layer, default) or over all convs (global)")
    p.add_argument("--schedule", choices=[s.value for s in PruneSchedule], default=d.schedule.value,
                   help="one-shot (the paper's: prune, then fine-tune; default) or gradual (the sparsity rises to the "
                        "target during the fine-tune along a cubic schedule: for short fine-tunes)")
    p.add_argument("--prune-ramp", type=float, default=d.prune_ramp,
                   help=f"gradual: fraction of the fine-tune over which the sparsity rises (default {d.prune_ramp})")
    p.add_argument("--no-qat", action="store_true", help="fine-tune in float (pruning only)")
    p.add_argument("--act-quant", action="store_true",
                   help="also fake-quantize activations during QAT (default: weights only; see docs/compress.md)")
    p.add_argument("--act-quant-start", type=float, default=d.act_quant_start,
                   help="fraction of fine-tune epochs before activations are fake-quantized (default 0.5; 0 = from the start)")
    p.add_argument("--no-fold-bn", action="store_true", help="keep BatchNorm running statistics unfolded in the result")
    p.add_argument("--kd-alpha", type=float, default=d.kd_alpha, help="weight of the distillation term (default 0.5)")
    p.add_argument("--kd-temperature", type=float, default=d.kd_temperature, help="distillation temperature (default 2)")
    p.add_argument("--int8-epochs", type=int, default=d.int8_epochs,
                   help=f"epochs of int8 QAT on the export form after the fine-tune: every tensor of the int8 graph "
                        f"fake-quantized, its scales the ones the int8 file holds (default {d.int8_epochs}; 0: none, "
                        f"the export then calibrates after the fact)")
    p.add_argument("--int8-form", choices=[f.value for f in ExportForm if f is not ExportForm.AS_TRAINED],
                   default=d.int8_form.value,
                   help="export form of the int8 model (equalized-lifted: input ResNorm computed by the front end)")
    p.add_argument("--int8-lr-scale", type=float, default=d.int8_lr_scale,
                   help=f"int8 QAT learning rate as a fraction of --lr (default {d.int8_lr_scale})")
    p.add_argument("--int8-moving-ranges", action="store_true",
                   help="let the int8 ranges follow the (augmented) training batches during int8 QAT instead of "
                        "holding the calibrated ones (default: held; see docs/compress.md)")
    p.add_argument("--epochs", type=int, default=10, help="fine-tune epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01, help="fine-tune peak learning rate (default 0.01)")
    p.add_argument("--warmup-epochs", type=float, default=0.0)
    p.add_argument("--mixup-alpha", type=float, default=0.3)
    p.add_argument("--specaugment", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps-per-epoch", type=int, help="cap optimizer steps per epoch (smoke runs)")
    p.add_argument("--no-eval", action="store_true", help="do not score the evaluate split")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN")
    p.add_argument("--cache-dir", type=Path, help="feature cache directory (default DATASET/.tinyasc_cache)")
    p.add_argument("--feature-workers", type=int, help="processes for feature extraction")
    p.add_argument("--skip-bad", action="store_true", help="leave out unreadable clips instead of stopping")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tinyasc.compress.pipeline import compress, load_inputs
    from tinyasc.train import TrainConfig

    if not 0.0 < args.sparsity < 1.0:
        raise InputError(None, f"--sparsity must be in (0, 1), got {args.sparsity}")
    try:
        config = CompressConfig(
            sparsity=args.sparsity, scope=args.scope, schedule=args.schedule, prune_ramp=args.prune_ramp, qat=not args.no_qat, quantize_activations=args.act_quant,
            act_quant_start=args.act_quant_start,
            fold_norm_stats=not args.no_fold_bn, kd_alpha=args.kd_alpha, kd_temperature=args.kd_temperature,
            int8_epochs=0 if args.no_qat else args.int8_epochs, int8_form=args.int8_form, int8_lr_scale=args.int8_lr_scale, int8_freeze_ranges=not args.int8_moving_ranges,
        )
        finetune = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup_epochs=args.warmup_epochs,
            mixup_alpha=args.mixup_alpha, specaugment={"auto": None, "on": True, "off": False}[args.specaugment],
            seed=args.seed, steps_per_epoch=args.steps_per_epoch, device=args.device, progress=not args.no_progress,
        )
    except ValueError as exc:
        raise InputError(None, f"invalid option: {exc}") from None
    student, _ = load_inputs(args.checkpoint, args.teacher)  # bad checkpoints fail before any feature work
    from tinyasc.data.cache import build_feature_set
    from tinyasc.data.tau import load_tau

    ds = load_tau(args.dataset, skip_bad=args.skip_bad)

    def features(split: str):
        return build_feature_set(ds, split, student.feature_config, cache_dir=args.cache_dir,
                                 workers=args.feature_workers, skip_bad=args.skip_bad, progress=not args.no_progress)

    train_set = features("train")
    eval_set = None if args.no_eval else features("evaluate")
    result = compress(args.checkpoint, train_set, eval_set, args.out, config=config, finetune=finetune,
                      teacher_path=args.teacher, resume=args.resume)
    from tinyasc.compress.pipeline import report_markdown

    print(report_markdown(result.steps), end="")
    print(f"checkpoint: {result.path}")
    return 0
