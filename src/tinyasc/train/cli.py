"""``asc-train`` and ``asc-eval``: thin CLIs over :func:`tinyasc.train.fit` and :func:`tinyasc.train.evaluate`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from tinyasc.contract import SCENE_LABELS, Checkpoint, FeatureConfig
from tinyasc.errors import InputError, cli_entry
from tinyasc.metrics import markdown_table, table3_header, table3_row

log = logging.getLogger(__name__)


def _train_parser() -> argparse.ArgumentParser:
    from tinyasc.model import Activation, NormMode, list_models
    from tinyasc.train.config import TrainConfig

    d = TrainConfig()
    p = argparse.ArgumentParser(prog="asc-train", description="Train BC-ResNet-ASC on a TAU-layout dataset "
                                "(fold-1 train split; the evaluate split is scored after every epoch).")
    p.add_argument("dataset", type=Path, help="dataset root (meta.csv, evaluation_setup/, audio/)")
    p.add_argument("--model", default="bcresnet_asc_1", choices=list_models(), help="registered model name")
    p.add_argument("--out", type=Path, required=True, help="run directory (last.pt, metrics.csv, metrics.json)")
    p.add_argument("--base-channels", type=int, help="override the base width c")
    p.add_argument("--norm", choices=[m.value for m in NormMode], help="normalization variant (default resnorm)")
    p.add_argument("--resnorm-lambda", type=float, help="ResNorm shortcut weight lambda (default 0.1)")
    p.add_argument("--activation", choices=[a.value for a in Activation], help="temporal-branch activation")
    p.add_argument("--learnable-lambda", action="store_true",
                   help="train ResNorm's lambda (one per module, positive, starting at --resnorm-lambda)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch size")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs)
    p.add_argument("--mixup-alpha", type=float, default=d.mixup_alpha)
    p.add_argument("--specaugment", choices=["auto", "on", "off"], default="auto",
                   help="auto: on for models with >= 100k parameters")
    p.add_argument("--freq-mixstyle", action="store_true", help="Freq-MixStyle on the log-mel batches")
    p.add_argument("--mixstyle-alpha", type=float, default=d.mixstyle_alpha, help="Freq-MixStyle Beta(alpha, alpha)")
    p.add_argument("--mixstyle-prob", type=float, default=d.mixstyle_prob, help="Freq-MixStyle probability per batch")
    p.add_argument("--device-ir", nargs="?", const="", type=str, metavar="DIR",
                   help="device impulse-response augmentation of device-A clips from the IR wavs in DIR "
                        "(without DIR: DATASET/device_irs, which asc-synth writes)")
    p.add_argument("--dir-prob", type=float, default=d.dir_prob,
                   help="probability that a device-A clip is convolved with an IR")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--resume", action="store_true", help="continue RUN/last.pt")
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="evaluate every N epochs")
    p.add_argument("--no-eval", action="store_true", help="do not score the evaluate split during training")
    p.add_argument("--steps-per-epoch", type=int, help="cap optimizer steps per epoch (smoke runs)")
    p.add_argument("--loader-workers", type=int, default=d.num_workers, help="DataLoader worker processes")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--cache-dir", type=Path, help="feature cache directory (default DATASET/.tinyasc_cache)")
    p.add_argument("--feature-workers", type=int, help="processes for feature extraction")
    p.add_argument("--train-split", type=Path, metavar="FILE",
                   help="train only on the files FILE lists (DCASE 2024 split5.csv..split100.csv; a bare name is "
                        "also looked up in DATASET/split_setup/)")
    p.add_argument("--skip-bad", action="store_true", help="leave out unreadable clips instead of stopping")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _init_distributed() -> bool:
    """Join the torchrun process group (gloo on CPU, nccl on GPU) when WORLD_SIZE > 1."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    if dist.get_rank() != 0:
        logging.getLogger().setLevel(logging.WARNING)
    return True


def _features(dataset_root: Path, split: str, cfg: FeatureConfig | None, args: argparse.Namespace, rank: int):
    from tinyasc.data.cache import build_feature_set
    from tinyasc.data.tau import load_tau

    ds = load_tau(dataset_root, skip_bad=args.skip_bad, train_split=getattr(args, "train_split", None))
    if cfg is None:
        cfg = FeatureConfig(clip_seconds=ds.clip_seconds())
    return build_feature_set(ds, split, cfg, cache_dir=args.cache_dir, workers=args.feature_workers,
                             skip_bad=args.skip_bad, progress=not args.no_progress and rank == 0)


def _data_summary(train_set, args: argparse.Namespace) -> dict:
    """What the training data was, for the checkpoint's train config: split file, skipped and off-length clips."""
    return {"data": {"train_split": str(args.train_split) if args.train_split else None, "clips": len(train_set),
                     "skipped": len(train_set.skipped), "off_length": len(train_set.off_length)}}


def _device_ir(args: argparse.Namespace, cfg: FeatureConfig, prob: float):
    """(DeviceIRAugment or None, its record for the checkpoint's train config) from ``--device-ir``."""
    if args.device_ir is None:
        return None, None
    from tinyasc.data.impulse import load_impulse_responses
    from tinyasc.data.synth import DEVICE_IR_DIRNAME
    from tinyasc.train.augment import DeviceIRAugment

    folder = Path(args.device_ir) if args.device_ir else args.dataset / DEVICE_IR_DIRNAME
    bank = load_impulse_responses(folder, cfg.sample_rate, max_samples=cfg.clip_samples, skip_bad=args.skip_bad)
    log.info("DIR augmentation: %d impulse responses from %s, p = %g on device-A clips%s", len(bank), folder, prob,
             f" ({len(bank.skipped)} skipped)" if bank.skipped else "")
    augment = DeviceIRAugment(irs=tuple(bank.irs), prob=prob, root=args.dataset, feature_config=cfg)
    return augment, {"device_ir": {"folder": str(folder), "files": bank.names, "skipped": bank.skipped}}


@cli_entry
def train_main(argv: list[str] | None = None) -> int:
    args = _train_parser().parse_args(argv)
    import torch.distributed as dist

    from tinyasc.model import create_model
    from tinyasc.train.config import TrainConfig
    from tinyasc.train.loop import dist_info, fit

    distributed = _init_distributed()
    try:
        rank, _ = dist_info()
        overrides = {k: v for k, v in (("base_channels", args.base_channels), ("norm", args.norm),
                                       ("resnorm_lambda", args.resnorm_lambda), ("activation", args.activation),
                                       ("learnable_lambda", args.learnable_lambda or None))
                     if v is not None}
        try:
            model = create_model(args.model, **overrides)
            config = TrainConfig(
                epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup_epochs=args.warmup_epochs,
                mixup_alpha=args.mixup_alpha, specaugment={"auto": None, "on": True, "off": False}[args.specaugment],
                seed=args.seed, num_workers=args.loader_workers, device=args.device, eval_every=args.eval_every,
                steps_per_epoch=args.steps_per_epoch, progress=not args.no_progress,
                freq_mixstyle=args.freq_mixstyle, mixstyle_alpha=args.mixstyle_alpha,
                mixstyle_prob=args.mixstyle_prob, dir_prob=args.dir_prob,
            )
        except ValueError as exc:
            raise InputError(None, f"invalid option: {exc}") from None
        # Rank 0 extracts the feature cache first; the other ranks then read it (the cache's lock
        # refuses a second concurrent extractor).
        for turn in (True, False):
            if distributed and turn != (rank == 0):
                dist.barrier()
                continue
            train_set = _features(args.dataset, "train", None, args, rank)
            eval_set = None if args.no_eval else _features(args.dataset, "evaluate", train_set.feature_config,
                                                           args, rank)
            if distributed:
                dist.barrier()
        dir_augment, dir_info = _device_ir(args, train_set.feature_config, config.dir_prob)
        ckpt = fit(model, train_set, eval_set, config, args.out, model_name=args.model, resume=args.resume,
                   dir_augment=dir_augment, extra_train_config={**(dir_info or {}), **_data_summary(train_set, args)})
        if rank == 0:
            ev = ckpt.metrics.get("eval")
            if ev:
                print(markdown_table(table3_header(), [table3_row(args.model, ev)]), end="")
            print(f"checkpoint: {args.out / 'last.pt'}")
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asc-eval", description="Score a checkpoint per device (paper Table 3) on a "
                                "TAU-layout dataset; writes eval.json, eval.md, confusion.png, predictions.csv.")
    p.add_argument("checkpoint", type=Path, help="checkpoint (.pt) written by asc-train or asc-compress")
    p.add_argument("dataset", type=Path, help="dataset root")
    p.add_argument("--split", default="evaluate", choices=["train", "evaluate", "all"])
    p.add_argument("--out", type=Path, help="output directory (default: CHECKPOINT_DIR/eval-SPLIT)")
    p.add_argument("--name", help="row name in the table (default: the model name)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--cache-dir", type=Path, help="feature cache directory (default DATASET/.tinyasc_cache)")
    p.add_argument("--feature-workers", type=int, help="processes for feature extraction")
    p.add_argument("--skip-bad", action="store_true", help="leave out unreadable clips instead of stopping")
    p.add_argument("--no-progress", action="store_true")
    return p


def evaluate_checkpoint(ckpt_path: Path, dataset: Path, *, split: str = "evaluate", out: Path | None = None,
                        name: str | None = None, batch_size: int = 64, device: str | None = None,
                        args: argparse.Namespace | None = None):
    """Load, check and score a checkpoint on a dataset split; write the report. Returns (EvalResult, paths)."""
    import torch

    from tinyasc.model import from_checkpoint
    from tinyasc.train.evaluate import evaluate, write_eval_report

    ckpt = Checkpoint.load(ckpt_path)
    if tuple(ckpt.labels) != SCENE_LABELS:
        raise InputError(ckpt_path, f"labels {list(ckpt.labels)} do not match the dataset's scene labels "
                                    f"{list(SCENE_LABELS)}")
    if ckpt.int8 is not None:  # the quantized model: score what ships (the integer simulation)
        from tinyasc.model.int8 import int8_from_checkpoint

        model = int8_from_checkpoint(ckpt, ckpt_path)
    else:
        model = from_checkpoint(ckpt, path=ckpt_path)
    ns = args or argparse.Namespace(skip_bad=False, cache_dir=None, feature_workers=None, no_progress=True)
    feats = _features(dataset, split, ckpt.feature_config, ns, 0)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(dev)
    result = evaluate(model, feats, batch_size=batch_size, device=dev)
    beside = {}
    row_name = name or ckpt.model_name
    if ckpt.int8 is not None:
        row_name = f"{row_name} int8 (integer simulation)"
        model.set_quantize(False)
        beside[f"{name or ckpt.model_name} float weights (same network, no rounding)"] = evaluate(
            model, feats, batch_size=batch_size, device=dev)
        model.set_quantize(True)
    out = out or ckpt_path.parent / f"eval-{split}"
    meta = {"checkpoint": str(ckpt_path), "dataset": str(dataset), "split": split, "model_name": ckpt.model_name,
            "model_config": ckpt.model_config, "compression": ckpt.compression, "n_clips": len(result.labels)}
    paths = write_eval_report(result, out, name=row_name, meta=meta, labels=ckpt.labels, beside=beside)
    return result, paths


@cli_entry
def eval_main(argv: list[str] | None = None) -> int:
    args = _eval_parser().parse_args(argv)
    result, paths = evaluate_checkpoint(args.checkpoint, args.dataset, split=args.split, out=args.out,
                                        name=args.name, batch_size=args.batch_size, device=args.device, args=args)
    print((paths["markdown"]).read_text(encoding="utf-8"), end="")
    ll = result.metrics.log_loss
    print(f"log loss: {ll:.3f}" if ll is not None else "log loss: -")
    print(f"report: {paths['json'].parent}")
    return 0


if __name__ == "__main__":  # ``python -m tinyasc.train.cli`` (torchrun)
    sys.exit(train_main())
