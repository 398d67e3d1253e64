#!/usr/bin/env python
"""Table-3 ablation study on a synthetic TAU-layout set: baseline vs ResNorm vs the paper's ablations.

Each (variant, seed) is one ``asc-train`` run (``python -m tinyasc.train``) with ``--resume``,
so a killed benchmark continues where it stopped. Results: ``OUT/resnorm.json`` (every run's
per-device metrics, means and standard deviations) and ``OUT/resnorm.md`` (paper Table 3 layout).

    nice python tools/bench_resnorm.py --dataset /tmp/small --epochs 10 --seeds 0 1 2 --jobs 2

``--features TRAIN_CACHE EVAL_CACHE`` trains from two finished feature caches instead (no audio, no
``asc-train`` subprocess: each run is ``tinyasc.train.fit`` in a spawned process, ``--device cuda`` where
there is one), so the study runs where only the caches travel; the report is the same.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tinyasc.atomic import write_json, write_text
from tinyasc.contract import DEVICES, Checkpoint
from tinyasc.errors import cli_entry
from tinyasc.metrics import markdown_table, table3_header, table3_row

log = logging.getLogger("bench_resnorm")

#: variant key -> (asc-train --norm value, row label in the paper's wording)
VARIANTS = {
    "none": ("none", "BC-ResNet-ASC-1 (Baseline)"),
    "global": ("global", "+ Global FreqNorm"),
    "pcen": ("pcen", "+ Fixed PCEN"),
    "resnorm": ("resnorm", "+ ResNorm"),
    "input-only": ("input-only", "w/o ResNorm in Network"),
    "freqin": ("freqin", "w/o shortcut (FreqIN)"),
}


def run_one(dataset: Path, out: Path, model: str, variant: str, seed: int, epochs: int, extra: list[str],
            threads: int) -> dict:
    run_dir = out / "runs" / f"{variant}-s{seed}"
    cmd = [sys.executable, "-m", "tinyasc.train", str(dataset), "--model", model, "--out", str(run_dir),
           "--norm", VARIANTS[variant][0], "--seed", str(seed), "--epochs", str(epochs), "--resume",
           "--no-progress", "--eval-every", str(epochs), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    t0 = time.time()
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.with_suffix(".log"), "a") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} seed {seed} failed (rc {proc.returncode}); see {run_dir.with_suffix('.log')}")
    return run_record(variant, seed, Checkpoint.load(run_dir / "last.pt"), time.time() - t0)


def run_record(variant: str, seed: int, ckpt: Checkpoint, wall_s: float | None) -> dict:
    """What the report keeps of a finished run: its final scores, training time and evaluation curve (epoch,
    overall and unseen accuracy at every scored epoch)."""
    history = ckpt.resume["history"] if ckpt.resume else []
    return {"variant": variant, "seed": seed, "eval": ckpt.metrics["eval"], "wall_s": wall_s,
            "train_s": sum(h["train_seconds"] for h in history), "final_train_loss": ckpt.metrics["train_loss"],
            "curve": [{"epoch": h["epoch"], "overall": h["eval_acc"], "unseen": h["eval_unseen"]} for h in history
                      if h.get("eval_acc") is not None]}


def run_one_cached(train_cache: Path, eval_cache: Path, out: Path, model: str, variant: str, seed: int, epochs: int,
                   train_args: dict, threads: int, device: str | None) -> dict:
    """One run from feature caches, in this process (``--features``)."""
    import torch

    from tinyasc.data.cache import FeatureSet
    from tinyasc.model import create_model
    from tinyasc.train import TrainConfig, fit

    torch.set_num_threads(threads)
    run_dir = out / "runs" / f"{variant}-s{seed}"
    t0 = time.time()
    overrides = {"norm": VARIANTS[variant][0], **({"base_channels": train_args["base_channels"]}
                                                  if train_args.get("base_channels") else {})}
    cfg = TrainConfig(epochs=epochs, seed=seed, device=device, progress=False,
                      warmup_epochs=train_args.get("warmup_epochs", 1.0), eval_every=train_args.get("eval_every", epochs))
    ckpt = fit(create_model(model, **overrides), FeatureSet.load(train_cache), FeatureSet.load(eval_cache), cfg,
               run_dir, model_name=model, resume=(run_dir / "last.pt").is_file())
    return run_record(variant, seed, ckpt, time.time() - t0)


def device_shift(dataset: Path) -> dict:
    """How much of the device difference in the data is a per-frequency offset (what FreqIN removes).

    The evaluate split has every segment on all nine devices. For each device d and segment:
    ``diff = X_d - X_a`` (log-mel); ``offset_share`` = energy of its time-mean (a per-bin
    constant) over its total energy; ``rms_raw`` / ``rms_freqin`` = RMS of the difference
    before / after per-clip FreqIN. ``class_rms`` is the RMS difference between consecutive
    different device-A clips (the size of the signal a classifier uses), raw and after FreqIN.
    """
    from tinyasc.contract import FeatureConfig
    from tinyasc.data.cache import build_feature_set
    from tinyasc.data.tau import load_tau

    ds = load_tau(dataset)
    return device_shift_of(build_feature_set(ds, "evaluate", FeatureConfig(clip_seconds=ds.clip_seconds()),
                                             progress=False))


def device_shift_of(fs) -> dict:
    """:func:`device_shift` of an evaluate split's FeatureSet."""
    from collections import defaultdict

    x = np.asarray(fs.features, dtype=np.float64)

    def fin(a: np.ndarray) -> np.ndarray:
        return (a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-5)

    groups: dict[str, dict[str, int]] = defaultdict(dict)
    for i, name in enumerate(fs.filenames):
        groups[name.rsplit("-", 1)[0]][str(fs.devices[i])] = i
    per_dev: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for g in groups.values():
        if "a" not in g:
            continue
        a = x[g["a"]]
        for dev, i in g.items():
            if dev != "a":
                diff = x[i] - a
                off = np.broadcast_to(diff.mean(1, keepdims=True), diff.shape)
                per_dev[dev].append((float((off**2).sum() / (diff**2).sum()), float(np.sqrt((diff**2).mean())),
                                     float(np.sqrt(((fin(x[i]) - fin(a)) ** 2).mean()))))
    a_idx = [g["a"] for g in groups.values() if "a" in g]
    pairs = list(zip(a_idx[:-1], a_idx[1:]))
    return {
        "class_rms_raw": float(np.mean([np.sqrt(((x[i] - x[j]) ** 2).mean()) for i, j in pairs])),
        "class_rms_freqin": float(np.mean([np.sqrt(((fin(x[i]) - fin(x[j])) ** 2).mean()) for i, j in pairs])),
        "devices": {d: dict(zip(("offset_share", "rms_raw", "rms_freqin"), np.mean(v, axis=0).tolist()))
                    for d, v in sorted(per_dev.items(), key=lambda kv: DEVICES.index(kv[0]))},
    }


def aggregate(runs: list[dict]) -> dict:
    """Mean and std (over seeds) of every Table-3 number of one variant."""
    keys = [*(f"dev_{d}" for d in DEVICES), "seen_mean", "unseen_mean", "overall", "log_loss"]
    vals: dict[str, list[float]] = {k: [] for k in keys}
    for r in runs:
        ev = r["eval"]
        for d in DEVICES:
            vals[f"dev_{d}"].append(ev["per_device"].get(d, np.nan))
        for k in ("seen_mean", "unseen_mean", "overall", "log_loss"):
            vals[k].append(ev[k])
    mean = {k: float(np.mean(v)) for k, v in vals.items()}
    std = {k: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in vals.items()}
    return {"n_seeds": len(runs), "mean": mean, "std": std}


def as_row(name: str, agg: dict) -> list[str]:
    m, s = agg["mean"], agg["std"]
    row = table3_row(name, {"per_device": {d: m[f"dev_{d}"] for d in DEVICES}, "seen_mean": m["seen_mean"],
                            "unseen_mean": m["unseen_mean"], "overall": m["overall"]})
    row[-1] = f"{100 * m['overall']:.1f} ± {100 * s['overall']:.1f}"
    return [*row, f"{m['log_loss']:.3f}"]


@cli_entry
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, help="TAU-layout dataset (asc-synth --scale small)")
    p.add_argument("--features", type=Path, nargs=2, metavar=("TRAIN_CACHE", "EVAL_CACHE"),
                   help="train from two finished feature caches (DATASET/.tinyasc_cache/train-*, evaluate-*) "
                        "instead of --dataset's audio, each run in a spawned process")
    p.add_argument("--device", help="torch device of the --features runs (default: cuda when available)")
    p.add_argument("--out", type=Path, default=Path("runs/bench"))
    p.add_argument("--model", default="bcresnet_asc_1")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--train-args", default="--warmup-epochs 1",
                   help="extra asc-train options (quoted), e.g. '--warmup-epochs 1 --batch-size 32'")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: rebuild the report from the finished runs under OUT/runs")
    args = p.parse_args(argv)
    if (args.dataset is None) == (args.features is None):
        p.error("give --dataset or --features")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    extra = args.train_args.split()
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    results: list[dict] = []
    t0 = time.time()
    if args.features is not None:
        from tinyasc.data.cache import FeatureSet

        FeatureSet.load(args.features[0])  # both caches checked (one line, exit 2) before any run starts
        args.device_shift = device_shift_of(FeatureSet.load(args.features[1]))
    else:
        args.device_shift = device_shift(args.dataset)
    if args.report_only:
        for v, seed in jobs:
            path = args.out / "runs" / f"{v}-s{seed}" / "last.pt"
            if path.is_file():
                ck = Checkpoint.load(path)
                if ck.resume and ck.resume["epoch"] == args.epochs and "eval" in ck.metrics:
                    results.append(run_record(v, seed, ck, None))
        report(args, extra, results, t0)
        print((args.out / "resnorm.md").read_text())
        return 0
    if args.features is not None:
        import multiprocessing

        known = _cached_train_args(extra)
        pool_cm = cf.ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn"))
    else:
        pool_cm = cf.ThreadPoolExecutor(max_workers=args.jobs)
    with pool_cm as pool:
        if args.features is not None:
            futs = {pool.submit(run_one_cached, *args.features, args.out, args.model, v, s, args.epochs, known,
                                args.threads, args.device): (v, s) for v, s in jobs}
        else:
            futs = {pool.submit(run_one, args.dataset, args.out, args.model, v, s, args.epochs, extra, args.threads):
                    (v, s) for v, s in jobs}
        for fut in cf.as_completed(futs):
            r = fut.result()
            results.append(r)
            log.info("%s seed %d: overall %.3f seen %.3f unseen %.3f (%.0f s)", r["variant"], r["seed"],
                     r["eval"]["overall"], r["eval"]["seen_mean"], r["eval"]["unseen_mean"], r["wall_s"])
            report(args, extra, results, t0)
    return 0


def _machine(args: argparse.Namespace) -> str:
    """Where the runs trained: the GPU's name for a CUDA --features run, else the CPU's core count."""
    if args.features is not None and (args.device or "").startswith("cuda"):
        import torch

        return f"GPU: {torch.cuda.get_device_name(0)}, {os.cpu_count()} CPU cores"
    return f"CPU: {os.cpu_count()} cores (torch threads per run: {args.threads})"


def _cached_train_args(extra: list[str]) -> dict:
    """The asc-train options a --features run honours (--warmup-epochs, --eval-every, --base-channels)."""
    p = argparse.ArgumentParser(prog="--train-args")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--base-channels", type=int)
    a = p.parse_args(extra)
    return {k: v for k, v in vars(a).items() if v is not None}


def report(args: argparse.Namespace, extra: list[str], results: list[dict], t0: float) -> None:
    """(Re)write the JSON and Markdown report from the runs finished so far."""
    table_rows, summary = [], {}
    for v in args.variants:
        runs = sorted((r for r in results if r["variant"] == v), key=lambda r: r["seed"])
        if not runs:
            continue
        summary[v] = aggregate(runs)
        table_rows.append(as_row(VARIANTS[v][1], summary[v]))
    header = [*table3_header(), "log loss"]
    header[-2] = "overall (mean ± std)"
    settings = {"dataset": str(args.dataset if args.dataset else args.features[0].parent.parent), "model": args.model,
                "features": [str(f) for f in args.features] if args.features else None, "device": args.device, "epochs": args.epochs, "seeds": args.seeds,
                "train_args": extra, "jobs": args.jobs, "threads": args.threads,
                "wall_s": None if args.report_only else time.time() - t0,
                "machine": _machine(args), "selection": "final epoch",
                "finished_runs": len(results)}
    write_json(args.out / "resnorm.json", {"settings": settings, "summary": summary, "device_shift": args.device_shift,
                                           "runs": sorted(results, key=lambda r: (r["variant"], r["seed"]))})
    name = args.dataset.name if args.dataset else args.features[0].parent.parent.name
    md = (f"# Table 3 ablation on {name} ({args.model}, {args.epochs} epochs, seeds {args.seeds}, "
          "final epoch; " f"{len(results)} runs finished)\n\n" + markdown_table(header, table_rows))
    md += _curve_table(args, results)
    shift = args.device_shift
    md += ("\n## Device shift in the data (evaluate split, each device vs device A, same segment)\n\n"
           f"Between different device-A clips: RMS log-mel difference {shift['class_rms_raw']:.2f} raw, "
           f"{shift['class_rms_freqin']:.2f} after FreqIN.\n\n"
           + markdown_table(["device", "offset share of the difference", "RMS diff raw", "RMS diff after FreqIN"],
                            [[d.upper(), f"{v['offset_share']:.2f}", f"{v['rms_raw']:.2f}", f"{v['rms_freqin']:.2f}"]
                             for d, v in shift["devices"].items()]))
    write_text(args.out / "resnorm.md", md)


def _curve_table(args: argparse.Namespace, results: list[dict]) -> str:
    """Mean evaluation curve per variant (overall / unseen %), at the epochs every run scored."""
    rows, epochs = [], None
    for v in args.variants:
        curves = [r["curve"] for r in results if r["variant"] == v and r.get("curve")]
        if not curves:
            continue
        common = sorted(set.intersection(*(set(pt["epoch"] for pt in c) for c in curves)))
        epochs = common if epochs is None else [e for e in epochs if e in common]
        rows.append((v, curves))
    if not rows or not epochs:
        return ""
    cells = []
    for v, curves in rows:
        at = {e: [next(pt for pt in c if pt["epoch"] == e) for c in curves] for e in epochs}
        cells.append([VARIANTS[v][1], *(f"{100 * np.mean([pt['overall'] for pt in at[e]]):.1f} / "
                                         f"{100 * np.mean([pt['unseen'] for pt in at[e]]):.1f}" for e in epochs)])
    return ("\n## Evaluation curve (mean over the finished seeds, overall / unseen %)\n\n"
            + markdown_table(["epoch", *(str(e) for e in epochs)], cells) + "\n")


if __name__ == "__main__":
    sys.exit(main())
