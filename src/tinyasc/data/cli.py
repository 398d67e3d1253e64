"""``asc-synth`` and ``asc-features``: thin CLIs over :mod:`tinyasc.data`."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path

from tinyasc.contract import FeatureConfig
from tinyasc.errors import cli_entry

log = logging.getLogger(__name__)


@cli_entry
def synth_main(argv: list[str] | None = None) -> int:
    from tinyasc.data.synth import DEVICE_IR_DIRNAME, PLANS, SynthScale, synthesize

    p = argparse.ArgumentParser(
        prog="asc-synth",
        description="Write a deterministic synthetic dataset in the TAU Urban Acoustic Scenes 2020 Mobile layout.",
    )
    p.add_argument("out", type=Path, help="output directory (created atomically)")
    p.add_argument("--scale", choices=[s.value for s in SynthScale], default=SynthScale.SMALL.value,
                   help="tiny: tests (seconds); small: CPU training in minutes; full: TAU-sized (default: small)")
    p.add_argument("--seconds", type=float, default=None,
                   help="clip length; default per scale: " + ", ".join(f"{s.value} {PLANS[s].seconds:g} s" for s in SynthScale))
    p.add_argument("--seed", type=int, default=0, help="generator seed (same seed -> identical files)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: available cores)")
    p.add_argument("--force", action="store_true", help="replace an existing asc-synth dataset at OUT")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    ds = synthesize(args.out, scale=SynthScale(args.scale), seconds=args.seconds, seed=args.seed,
                    workers=args.workers, force=args.force)
    counts = ds.by_device()
    print(
        f"{ds.root}: {len(ds.records)} clips (train {len(ds.split('train'))}, evaluate {len(ds.split('evaluate'))}; "
        + " ".join(f"{d}={counts[d]}" for d in sorted(counts))
        + f") in {time.perf_counter() - t0:.1f} s; synthetic device impulse responses in {ds.root / DEVICE_IR_DIRNAME}"
    )
    return 0


@cli_entry
def features_main(argv: list[str] | None = None) -> int:
    from tinyasc.data.cache import build_feature_set
    from tinyasc.data.tau import Split, load_tau

    p = argparse.ArgumentParser(
        prog="asc-features",
        description="Precompute the log-mel feature cache of a TAU-layout dataset (16 kHz, 256 mels, 130/30 ms).",
    )
    p.add_argument("dataset", type=Path, help="dataset root (meta.csv, evaluation_setup/, audio/)")
    p.add_argument("--split", choices=[s.value for s in Split], default=Split.ALL.value,
                   help="fold-1 split to extract (default: all = train and evaluate)")
    p.add_argument("--clip-seconds", type=float, default=None,
                   help="pad/crop clips to this length (default: the dataset's clip length)")
    p.add_argument("--cache-dir", type=Path, default=None, help="default: DATASET/.tinyasc_cache")
    p.add_argument("--workers", type=int, default=None, help="processes (default: available cores)")
    p.add_argument("--train-split", type=Path, metavar="FILE",
                   help="restrict the training split to the files FILE lists (DCASE 2024 split5.csv..split100.csv; "
                        "a bare name is also looked up in DATASET/split_setup/)")
    p.add_argument("--skip-bad", action="store_true", help="skip broken files, count them and list them at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    ds = load_tau(args.dataset, skip_bad=args.skip_bad, train_split=args.train_split)
    seconds = args.clip_seconds if args.clip_seconds is not None else ds.clip_seconds()
    try:
        cfg = dataclasses.replace(FeatureConfig(), clip_seconds=seconds)
    except ValueError as exc:
        from tinyasc.errors import InputError

        raise InputError(None, f"--clip-seconds: {exc}") from None
    splits = [Split.TRAIN, Split.EVALUATE] if Split(args.split) is Split.ALL else [Split(args.split)]
    skipped: list[tuple[str, str]] = []
    for split in splits:
        t0 = time.perf_counter()
        fs = build_feature_set(ds, split, cfg, cache_dir=args.cache_dir, workers=args.workers,
                               skip_bad=args.skip_bad, progress=not args.no_progress)
        skipped += [s for s in fs.skipped if s not in skipped]
        print(f"{split.value}: {len(fs)} clips x {fs.features.shape[1]} mels x {fs.features.shape[2]} frames "
              f"-> {fs.path} ({time.perf_counter() - t0:.1f} s)")
        if fs.off_length:
            print(f"  {len(fs.off_length)} clip(s) not {cfg.clip_seconds:g} s long (padded or cropped), e.g. "
                  f"{fs.off_length[0][0]} ({fs.off_length[0][1]:g} s)")
    if skipped:
        print(f"skipped {len(skipped)} bad file(s):")
        for f, problem in skipped:
            print(f"  {f}: {problem}")
    return 0
