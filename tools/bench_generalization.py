#!/usr/bin/env python
"""Unseen-device ablation: ResNorm, Freq-MixStyle, DIR augmentation and learnable lambda, per device.

Each (model, variant, seed) is one ``asc-train`` run (``python -m tinyasc.train ... --resume``),
so a killed benchmark continues where it stopped; the per-variant means/stds, the Table-3
rows and the device-shift analysis come from ``tools/bench_resnorm.py``. Results:
``OUT/generalization.json`` (every run: per-device metrics, training clips/s, learned lambdas;
each model's parameters and MACs against the DCASE 2022 rules) and ``OUT/generalization.md``.

    OMP_NUM_THREADS=1 nice python tools/bench_generalization.py --dataset /tmp/small --epochs 6 \\
        --models bcresnet_asc_1 bcresnet_asc:20 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_resnorm import aggregate, as_row, device_shift  # noqa: E402  (the Table-3 machinery)

from tinyasc.atomic import write_json, write_text  # noqa: E402
from tinyasc.contract import Checkpoint  # noqa: E402
from tinyasc.metrics import markdown_table, table3_header  # noqa: E402
from tinyasc.model import complexity, create_model, from_checkpoint, resnorm_lambdas  # noqa: E402

log = logging.getLogger("bench_generalization")

#: variant key -> (asc-train options, row label)
VARIANTS: dict[str, tuple[list[str], str]] = {
    "baseline": (["--norm", "none"], "Baseline (no FreqNorm)"),
    "input-only": (["--norm", "input-only"], "ResNorm on the input only"),
    "resnorm": (["--norm", "resnorm"], "ResNorm (input + in-network)"),
    "fms": (["--norm", "resnorm", "--freq-mixstyle"], "ResNorm + Freq-MixStyle"),
    "dir": (["--norm", "resnorm", "--device-ir"], "ResNorm + DIR"),
    "both": (["--norm", "resnorm", "--freq-mixstyle", "--device-ir"], "ResNorm + Freq-MixStyle + DIR"),
    "learnable": (["--norm", "resnorm", "--learnable-lambda"], "ResNorm, learnable lambda"),
}


def parse_model(spec: str) -> tuple[str, list[str]]:
    """``NAME`` or ``NAME:C`` (a base width) -> (registered name, asc-train options)."""
    name, _, width = spec.partition(":")
    return name, (["--base-channels", width] if width else [])


def run_one(dataset: Path, out: Path, model_spec: str, variant: str, seed: int, epochs: int, extra: list[str],
            threads: int) -> dict:
    name, model_args = parse_model(model_spec)
    run_dir = out / "runs" / model_spec.replace(":", "-c") / f"{variant}-s{seed}"
    cmd = [sys.executable, "-m", "tinyasc.train", str(dataset), "--model", name, *model_args, "--out", str(run_dir),
           *VARIANTS[variant][0], "--seed", str(seed), "--epochs", str(epochs), "--resume", "--no-progress",
           "--eval-every", str(epochs), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    t0 = time.time()
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.with_suffix(".log"), "a") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{model_spec} {variant} seed {seed} failed (rc {proc.returncode}); "
                           f"see {run_dir.with_suffix('.log')}")
    return collect(run_dir, model_spec, variant, seed, wall_s=time.time() - t0)


def collect(run_dir: Path, model_spec: str, variant: str, seed: int, wall_s: float | None) -> dict:
    """One finished run: Table-3 metrics, training throughput and the lambdas of its ResNorm modules."""
    ckpt = Checkpoint.load(run_dir / "last.pt")
    history = ckpt.resume["history"] if ckpt.resume else []
    lambdas = resnorm_lambdas(from_checkpoint(ckpt)) if ckpt.model_config.get("learnable_lambda") else {}
    return {"model": model_spec, "variant": variant, "seed": seed, "eval": ckpt.metrics["eval"], "wall_s": wall_s,
            "train_s": sum(h["train_seconds"] for h in history),
            "clips_per_s": float(np.mean([h["clips_per_s"] for h in history])),
            "final_train_loss": ckpt.metrics["train_loss"], "lambdas": lambdas}


def model_complexity(model_spec: str) -> dict:
    name, model_args = parse_model(model_spec)
    overrides = {"base_channels": int(model_args[1])} if model_args else {}
    return complexity(create_model(name, **overrides)).to_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, required=True, help="asc-synth --scale small dataset (has device_irs/)")
    p.add_argument("--out", type=Path, default=Path("runs/bench_generalization"))
    p.add_argument("--models", nargs="+", default=["bcresnet_asc_1", "bcresnet_asc:20"],
                   help="registered names, NAME:C for a base width c")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--threads", type=int, default=1, help="torch threads of each run (runs go one at a time)")
    p.add_argument("--train-args", default="--warmup-epochs 1",
                   help="extra asc-train options (quoted), e.g. '--warmup-epochs 1 --batch-size 32'")
    p.add_argument("--report-only", action="store_true", help="rebuild the report from the finished runs")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    extra = args.train_args.split()
    t0 = time.time()
    shift = device_shift(args.dataset)
    sizes = {m: model_complexity(m) for m in args.models}
    results: list[dict] = []
    # seed-major order: a benchmark stopped early still has every variant of the first seeds
    jobs = [(m, v, s) for m in args.models for s in args.seeds for v in args.variants]
    for m, v, s in jobs:
        run_dir = args.out / "runs" / m.replace(":", "-c") / f"{v}-s{s}"
        if args.report_only:
            ck = run_dir / "last.pt"
            if ck.is_file() and "eval" in Checkpoint.load(ck).metrics:
                results.append(collect(run_dir, m, v, s, wall_s=None))
            continue
        r = run_one(args.dataset, args.out, m, v, s, args.epochs, extra, args.threads)
        results.append(r)
        log.info("%s %s seed %d: overall %.3f seen %.3f unseen %.3f (%.0f s)", m, v, s, r["eval"]["overall"],
                 r["eval"]["seen_mean"], r["eval"]["unseen_mean"], r["wall_s"])
        report(args, extra, results, sizes, shift, t0)
    report(args, extra, results, sizes, shift, t0)
    print((args.out / "generalization.md").read_text())
    return 0


def report(args: argparse.Namespace, extra: list[str], results: list[dict], sizes: dict, shift: dict,
           t0: float) -> None:
    """(Re)write the JSON and Markdown report from the runs finished so far."""
    summary: dict[str, dict] = {}
    md = [f"# Unseen-device ablation on {args.dataset.name} ({args.epochs} epochs, seeds {args.seeds}, final epoch; "
          f"{len(results)} runs finished)\n"]
    header = [*table3_header(), "log loss", "unseen gap", "train clips/s", "seeds"]
    header[-5] = "overall (mean ± std)"
    for m in args.models:
        rows, summary[m] = [], {}
        for v in args.variants:
            runs = sorted((r for r in results if r["model"] == m and r["variant"] == v), key=lambda r: r["seed"])
            if not runs:
                continue
            agg = aggregate(runs)
            agg["clips_per_s"] = float(np.mean([r["clips_per_s"] for r in runs]))
            agg["unseen_gap"] = agg["mean"]["seen_mean"] - agg["mean"]["unseen_mean"]
            lam = [r["lambdas"] for r in runs if r["lambdas"]]
            if lam:
                agg["lambdas_mean"] = {k: float(np.mean([d[k] for d in lam])) for k in lam[0]}
                agg["lambdas_per_seed"] = lam
            summary[m][v] = agg
            rows.append([*as_row(VARIANTS[v][1], agg), f"{100 * agg['unseen_gap']:.1f}", f"{agg['clips_per_s']:.0f}",
                         ",".join(str(r["seed"]) for r in runs)])
        if not rows:
            md.append(f"\n## {m}: no finished run\n")
            continue
        c = sizes[m]
        md.append(f"\n## {m}: {c['params']:,} parameters, {c['macs_1s'] / 1e6:.2f} M MACs per 1-s clip "
                  f"({c['macs_paper'] / 1e6:.1f} M per 10 s): "
                  f"{'meets' if c['meets_dcase2022'] else 'exceeds'} the DCASE 2022 rules\n\n")
        md.append(markdown_table(header, rows))
        learn = summary[m].get("learnable", {}).get("lambdas_mean")
        if learn:
            md.append("\nLearned lambda per ResNorm module (mean over seeds; init 0.1): "
                      + ", ".join(f"{k} {v:.4f}" for k, v in learn.items()) + "\n")
    md.append("\n`unseen gap` = seen mean - unseen (S4-S6) mean, percentage points; `train clips/s` = training "
              "throughput (mean over epochs and seeds; DIR recomputes the log-mel of every augmented clip; wall "
              "clock on a shared machine, so it follows the other jobs' load); `seeds` = the finished runs.\n")
    settings = {"dataset": str(args.dataset), "models": args.models, "epochs": args.epochs, "seeds": args.seeds,
                "train_args": extra, "threads": args.threads, "jobs": 1,
                "wall_s": None if args.report_only else time.time() - t0,
                "machine": "2-core CPU shared with other jobs", "selection": "final epoch",
                "finished_runs": len(results)}
    write_json(args.out / "generalization.json", {"settings": settings, "complexity": sizes, "summary": summary,
                                                  "device_shift": shift,
                                                  "runs": sorted(results, key=lambda r: (r["model"], r["variant"],
                                                                                         r["seed"]))})
    write_text(args.out / "generalization.md", "".join(md))


if __name__ == "__main__":
    sys.exit(main())
