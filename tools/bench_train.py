#!/usr/bin/env python
"""Training and inference throughput of BC-ResNet-ASC on this machine (clips/s, s/epoch).

Runs the real loop (:func:`tinyasc.train.fit`, batch 64, the paper's augmentation) on random
float16 log-mel of the given length for a few steps; epoch 1 is a warm-up, epoch 2 is timed.
s/epoch is extrapolated to TAU fold-1 train (13,965 ten-second clips) and to
``asc-synth --scale small`` (1,750 two-second clips). Writes ``OUT/train_throughput.{json,md}``.

    nice python tools/bench_train.py --out runs/bench
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tinyasc.atomic import write_json, write_text
from tinyasc.contract import DEVICES, FeatureConfig
from tinyasc.metrics import markdown_table
from tinyasc.model import count_parameters, create_model
from tinyasc.train import TrainConfig, fit
from tinyasc.train.evaluate import predict_logits

TAU_TRAIN_CLIPS = 13_965
SMALL_TRAIN_CLIPS = 1_750


@dataclass
class RandomFeatureSet:
    """In-memory stand-in for a FeatureSet (random log-mel)."""

    features: np.ndarray
    labels: np.ndarray
    devices: np.ndarray
    filenames: list[str]
    feature_config: FeatureConfig
    path: Path | None = None
    skipped: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def random_set(n: int, seconds: float, seed: int = 0) -> RandomFeatureSet:
    cfg = FeatureConfig(clip_seconds=seconds)
    rng = np.random.default_rng(seed)
    feats = (rng.normal(-6, 3, size=(n, cfg.n_mels, cfg.n_frames))).astype(np.float16)
    return RandomFeatureSet(feats, rng.integers(0, 10, n), np.array([DEVICES[i % 9] for i in range(n)]),
                            [f"audio/x-{i}-a.wav" for i in range(n)], cfg)


def measure(model_name: str, seconds: float, steps: int, batch: int) -> dict:
    data = random_set(batch * steps, seconds)
    model = create_model(model_name)
    cfg = TrainConfig(epochs=2, batch_size=batch, steps_per_epoch=steps, progress=False, warmup_epochs=1)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = fit(model, data, None, cfg, tmp, model_name=model_name)
    timed = ckpt.resume["history"][-1]
    train_cps = timed["clips_per_s"]
    n_inf = batch * max(1, steps)
    t0 = time.perf_counter()
    predict_logits(model, data.features[:n_inf], batch_size=batch)
    infer_cps = n_inf / (time.perf_counter() - t0)
    return {
        "model": model_name, "params": count_parameters(model), "clip_seconds": seconds,
        "input": list(data.feature_config.input_shape), "batch": batch, "timed_steps": steps,
        "specaugment": ckpt.train_config["specaugment_resolved"],
        "train_clips_per_s": train_cps, "infer_clips_per_s": infer_cps,
        "s_per_epoch_tau_fold1": TAU_TRAIN_CLIPS / train_cps if seconds == 10.0 else None,
        "s_per_epoch_synth_small": SMALL_TRAIN_CLIPS / train_cps if seconds == 2.0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/bench"))
    p.add_argument("--models", nargs="+", default=["bcresnet_asc_1", "bcresnet_asc_8"])
    p.add_argument("--seconds", nargs="+", type=float, default=[10.0, 2.0], help="clip lengths to time")
    p.add_argument("--steps", type=int, default=2, help="timed steps per case (ASC-8 at 10 s uses 1)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for name in args.models:
        for seconds in args.seconds:
            steps = 1 if (name.endswith("_8") and seconds >= 10) else args.steps
            r = measure(name, seconds, steps, args.batch)
            rows.append(r)
            logging.getLogger("bench_train").warning("%s %.0f s clips: %.1f train clips/s, %.1f infer clips/s", name,
                                                     seconds, r["train_clips_per_s"], r["infer_clips_per_s"])
    meta = {"load_average_1_5_15min_at_end": list(os.getloadavg()), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "note": "2-core CPU shared with other jobs; numbers are lower bounds for an idle machine"}
    write_json(args.out / "train_throughput.json", {"meta": meta, "results": rows})
    header = ["model", "params", "clip", "input", "train clips/s", "infer clips/s", "s/epoch TAU fold-1 (13,965 x 10 s)",
              "s/epoch synth small (1,750 x 2 s)"]
    table = [[r["model"], f"{r['params']:,}", f"{r['clip_seconds']:.0f} s", "x".join(map(str, r["input"])),
              f"{r['train_clips_per_s']:.1f}", f"{r['infer_clips_per_s']:.1f}",
              f"{r['s_per_epoch_tau_fold1']:.0f}" if r["clip_seconds"] == 10.0 else "-",
              f"{r['s_per_epoch_synth_small']:.0f}" if r["s_per_epoch_synth_small"] else "-"] for r in rows]
    load = ", ".join(f"{v:.1f}" for v in meta["load_average_1_5_15min_at_end"])
    md = (f"# Training throughput (torch {meta['torch']}, {meta['threads']} threads, batch {args.batch}; "
          f"load average at the end {load} on 2 cores)\n\n" + markdown_table(header, table))
    write_text(args.out / "train_throughput.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
