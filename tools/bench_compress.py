"""Compression benchmark: is the paper's "about one point for 89% sparsity" true at this scale, and what does KD buy?

Per seed: the float teacher (the vanilla model, trained here), then from it, at ``--sparsity``:
``pruned`` (fine-tune in float, no KD), ``pruned+qat`` (weights-int8 QAT fine-tune, then int8 QAT on the export
form, no KD), ``pruned+qat+kd`` (the same with KD from the teacher: the paper's recipe) and ``deployed`` (that
checkpoint exported by ``asc-export --int8`` and run under TensorFlow Lite Micro: the file a user ships). Accuracy
per device (paper Table 3 layout), means over seeds, the drop from the teacher, non-zero bytes, wall times; and
the paper's size figure for BC-ResNet-ASC-8 (89% pruning, int8 convs, float16 rest).

    OMP_NUM_THREADS=1 python tools/bench_compress.py --dataset SYNTH --out OUT [--model bcresnet_asc] \
        [--width 20] [--norm input-only] [--seeds 0 1 2] [--teacher-epochs 15] [--finetune-epochs 15] \
        [--scope lamp] [--schedule gradual] [--int8-epochs 2] [--form equalized-lifted]

Writes OUT/bench_compress.json and OUT/bench_compress.md; every run directory is resumable
(a rerun skips finished teachers, compressions and exports). ``--paper-figure-only`` does only the
ASC-8 size figure (no data needed: the count does not depend on accuracy).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from tinyasc import paper
from tinyasc.atomic import write_json, write_text
from tinyasc.metrics import markdown_table, table3_header, table3_row

log = logging.getLogger("bench_compress")

PAPER = {"conv_nonzero_8bit": paper.CONV_NONZERO_8BIT, "other_16bit": paper.OTHER_NONZERO_16BIT,
         "reported_KB": paper.REPORTED_KB, "abstract_KB": paper.ABSTRACT_KB}

VARIANTS = {
    # name: (CompressConfig overrides, use teacher, int8 QAT)
    "pruned": ({"qat": False, "kd_alpha": 0.0}, False, False),
    "pruned+qat": ({"qat": True}, False, True),
    "pruned+qat+kd": ({"qat": True}, True, True),
}
ROWS = ("teacher", *VARIANTS, "deployed")


def paper_figure(out: Path, sparsity: float = 0.89) -> list[dict[str, Any]]:
    """Audit an initialised ASC-8 after pruning + int8/float16 snapping (count independent of the weights)."""
    from tinyasc.compress.finalize import plain_state_dict
    from tinyasc.compress.prune import PruneScope, apply_pruning
    from tinyasc.contract import Checkpoint, FeatureConfig
    from tinyasc.audit import audit
    from tinyasc.model import create_model

    rows = []
    for scope in PruneScope:
        for fold in (True, False):
            torch.manual_seed(0)
            model = create_model("bcresnet_asc_8")
            with torch.no_grad():  # running statistics of a trained net (non-identity), so folding is visible
                for m in model.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        m.running_mean.uniform_(-0.5, 0.5)
                        m.running_var.uniform_(0.5, 2.0)
                        m.bias.uniform_(-0.5, 0.5)  # a trained shift is not 0 (initial value)
            apply_pruning(model, sparsity, scope)
            sd, per_layer = plain_state_dict(model, lambda: create_model("bcresnet_asc_8"), quantize=True, fold_norm_stats=fold)
            path = out / f"asc8_{scope.value}_{'folded' if fold else 'unfolded'}.pt"
            Checkpoint(model_name="bcresnet_asc_8", model_config=model.config.to_dict(), feature_config=FeatureConfig(),
                       state_dict=sd, compression={"sparsity": sparsity, "sparsity_scope": scope.value, "conv_bits": 8,
                                                   "other_bits": 16, "norm_folded": fold, "per_layer": per_layer}).save(path)
            rep = audit(path)
            kinds = rep.by_kind()
            conv8 = kinds.get("conv_weight@8", {}).get("nonzero", 0)
            other16 = sum(v["nonzero"] for k, v in kinds.items() if k.endswith("@16"))
            rows.append({
                "scope": scope.value, "bn_folded": fold, "conv_nonzero_8bit": conv8, "other_nonzero_16bit": other16,
                "by_kind": kinds, "nonzero_bytes": rep.nonzero_bytes, "nonzero_kB": rep.nonzero_bytes / 1000,
                "nonzero_KiB": rep.nonzero_bytes / 1024,
                "vs_paper_61.5": rep.nonzero_bytes / 1024 / PAPER["reported_KB"] - 1,
            })
            path.unlink()
            log.info("ASC-8 %s folded=%s: %d x 8 bit + %d x 16 bit = %.0f B = %.2f KiB", scope.value, fold, conv8, other16,
                     rep.nonzero_bytes, rep.nonzero_bytes / 1024)
    return rows


def run_seed(args: argparse.Namespace, seed: int, train_set: Any, eval_set: Any) -> dict[str, Any]:
    from tinyasc.audit import audit
    from tinyasc.compress.config import CompressConfig
    from tinyasc.compress.pipeline import compress
    from tinyasc.contract import Checkpoint
    from tinyasc.export.pipeline import ExportConfig, export_int8
    from tinyasc.model import create_model
    from tinyasc.train import TrainConfig, fit

    overrides = {k: v for k, v in (("base_channels", args.width), ("norm", args.norm)) if v is not None}
    root = args.out / (args.model + "".join(f"_{v}" for v in overrides.values())) / f"seed{seed}"
    teacher_dir = root / "teacher"
    t0 = time.perf_counter()
    tcfg = TrainConfig(epochs=args.teacher_epochs, batch_size=args.batch_size, seed=seed, progress=False,
                       steps_per_epoch=args.steps_per_epoch, warmup_epochs=min(5.0, max(1.0, args.teacher_epochs / 4)))
    fit(create_model(args.model, **overrides), train_set, eval_set, tcfg, teacher_dir, model_name=args.model,
        resume=True)
    teacher_path = teacher_dir / "last.pt"
    teacher = Checkpoint.load(teacher_path)
    rec: dict[str, Any] = {"seed": seed, "teacher": {
        "epochs": args.teacher_epochs, "accuracy": teacher.metrics.get("eval"), "audit": audit(teacher_path).totals,
        "wall_s_this_run": time.perf_counter() - t0}}
    ft = TrainConfig(epochs=args.finetune_epochs, batch_size=args.batch_size, seed=seed, progress=False,
                     steps_per_epoch=args.steps_per_epoch, warmup_epochs=min(5.0, max(1.0, args.finetune_epochs / 4)))
    for name, (cfg_overrides, use_teacher, int8) in VARIANTS.items():
        t0 = time.perf_counter()
        config = CompressConfig(sparsity=args.sparsity, scope=args.scope, schedule=args.schedule,
                                int8_epochs=args.int8_epochs if int8 else 0, int8_form=args.form, **cfg_overrides)
        res = compress(teacher_path, train_set, eval_set, root / name, config=config, finetune=ft,
                       teacher_path=teacher_path if use_teacher else None, resume=True)
        steps = res.steps
        pruned = next(st for st in reversed(steps) if st.get("conv_weights"))
        rec[name] = {
            "accuracy": steps[-1]["accuracy"], "accuracy_float_weights": (res.checkpoint.metrics or {}).get("eval_float_weights"),
            "audit": {**res.audit.totals, "by_kind": res.audit.by_kind()},
            "sparsity": 1 - pruned["conv_nonzero"] / pruned["conv_weights"],
            "compress_seconds": sum(s["seconds"] for s in steps[1:]),
            "wall_s_this_run": time.perf_counter() - t0,
        }
        log.info("seed %d %s: acc %.3f, %.0f B non-zero, %.0f s", seed, name, steps[-1]["accuracy"]["overall"],
                 res.audit.nonzero_bytes, rec[name]["compress_seconds"])
    t0 = time.perf_counter()
    export_dir = root / "export"
    report_path = export_dir / "report.json"
    if not report_path.is_file():
        export_int8(root / "pruned+qat+kd" / "compressed.pt", args.dataset, export_dir,
                    ExportConfig(calib_clips=100, form=args.form, reference=teacher_path, cache_dir=args.cache_dir,
                                 force=True))
    rep = json.loads(report_path.read_text())
    rec["deployed"] = {
        "accuracy": rep["parity"]["accuracy"]["tflm"], "file": rep["deployed"]["file"],
        "gates": {g["name"]: {"passed": g["passed"], "value": g["value"]} for g in rep["gates"]},
        "audit": rep["audit"]["totals"],
        "wall_s_this_run": time.perf_counter() - t0,
    }
    return rec


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    t = torch.tensor(values, dtype=torch.float64)
    return f"{t.mean():.1f}" + (f" ± {t.std():.1f}" if len(values) > 1 else "")


def _mean_accuracy(accs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-device, seen, unseen and overall accuracy averaged over seeds (a Table-3 row)."""
    per_device = {d: sum(a["per_device"][d] for a in accs) / len(accs) for d in accs[0]["per_device"]}
    mean = lambda k: None if any(a.get(k) is None for a in accs) else sum(a[k] for a in accs) / len(accs)  # noqa: E731
    return {**accs[0], "per_device": per_device, "overall": mean("overall"), "seen_mean": mean("seen_mean"),
            "unseen_mean": mean("unseen_mean")}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Compression benchmark ({result['machine']})", "", f"Command: `{result['command']}`", ""]
    if result.get("paper_figure"):
        lines += ["## Paper size figure: BC-ResNet-ASC-8, 89% pruning, int8 convs, float16 rest", "",
                  "Paper: 33K 8-bit non-zero + 15K 16-bit = 61.5 KB (abstract 61.0 KB).", ""]
        rows = [[r["scope"], "yes" if r["bn_folded"] else "no", f"{r['conv_nonzero_8bit']:,}", f"{r['other_nonzero_16bit']:,}",
                 f"{r['nonzero_bytes']:,.0f}", f"{r['nonzero_kB']:.2f}", f"{r['nonzero_KiB']:.2f}", f"{100 * r['vs_paper_61.5']:+.1f}%"]
                for r in result["paper_figure"]]
        lines.append(markdown_table(["scope", "BN stats folded", "8-bit NZ", "16-bit NZ", "NZ bytes", "kB", "KiB", "vs 61.5"], rows))
    seeds = result.get("seeds") or []
    if seeds:
        lines += [f"## {result['model_label']} on {result['dataset']}: teacher {result['teacher_epochs']} epochs, "
                  f"fine-tune {result['finetune_epochs']} epochs + {result['int8_epochs']} int8 QAT, sparsity "
                  f"{result['sparsity']} ({result['scope']}, {result['schedule']}), seeds {[r['seed'] for r in seeds]}", ""]
        means = []
        for name in ROWS:
            accs = [r[name]["accuracy"] for r in seeds if r.get(name, {}).get("accuracy")]
            if accs:
                means.append(table3_row(f"{name} (mean of {len(accs)})", _mean_accuracy(accs)))
        lines += ["### Accuracy (%) per device, mean over seeds", "", markdown_table(table3_header(), means)]
        rows = []
        for name in ROWS:
            overall = [100 * r[name]["accuracy"]["overall"] for r in seeds if r.get(name, {}).get("accuracy")]
            drops = [100 * (r["teacher"]["accuracy"]["overall"] - r[name]["accuracy"]["overall"]) for r in seeds
                     if r.get(name, {}).get("accuracy") and r["teacher"].get("accuracy")]
            unseen = [100 * (r["teacher"]["accuracy"]["unseen_mean"] - r[name]["accuracy"]["unseen_mean"]) for r in seeds
                      if r.get(name, {}).get("accuracy") and r["teacher"].get("accuracy")]
            nz = [r[name]["audit"].get("nonzero_bytes") for r in seeds if r.get(name)]
            rows.append([name, _mean_std(overall), _mean_std(drops), _mean_std(unseen),
                         f"{sum(nz) / len(nz):,.0f}" if nz and None not in nz else "-",
                         ", ".join(f"{v:.1f}" for v in overall)])
        lines += ["### Overall accuracy and the drop from the float teacher (points; mean ± std over seeds)", "",
                  markdown_table(["model", "accuracy %", "drop", "unseen drop", "non-zero B", "per seed"], rows)]
        t3 = [table3_row(f"{name} s{r['seed']}", r[name]["accuracy"]) for r in seeds for name in ROWS
              if r.get(name, {}).get("accuracy")]
        lines += ["### Per seed", "", markdown_table(table3_header(), t3)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=Path, help="asc-synth --scale small dataset root")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", default="bcresnet_asc")
    p.add_argument("--width", type=int, default=20, help="base_channels of the model (c; ASC-1 is 10, ASC-8 80)")
    p.add_argument("--norm", default="input-only", help="the model's norm (input-only, resnorm, ...)")
    p.add_argument("--scope", default="lamp", help="asc-compress --scope")
    p.add_argument("--schedule", default="gradual", help="asc-compress --schedule")
    p.add_argument("--int8-epochs", type=int, default=2)
    p.add_argument("--form", default="equalized-lifted", help="int8 export form (equalized for in-network ResNorm)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--teacher-epochs", type=int, default=15)
    p.add_argument("--finetune-epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--sparsity", type=float, default=0.89)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--paper-figure-only", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "command": " ".join(["python tools/bench_compress.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} torch thread(s), shared 2-core host",
        "model": args.model, "model_label": f"{args.model} c={args.width} norm={args.norm}",
        "dataset": str(args.dataset), "teacher_epochs": args.teacher_epochs, "finetune_epochs": args.finetune_epochs,
        "int8_epochs": args.int8_epochs, "scope": args.scope, "schedule": args.schedule,
        "sparsity": args.sparsity, "paper": PAPER,
    }
    t0 = time.perf_counter()
    result["paper_figure"] = paper_figure(args.out, args.sparsity)
    result["seeds"] = []
    if not args.paper_figure_only:
        if args.dataset is None:
            p.error("--dataset is required unless --paper-figure-only")
        from tinyasc.contract import FeatureConfig
        from tinyasc.data.cache import build_feature_set
        from tinyasc.data.tau import load_tau

        ds = load_tau(args.dataset)
        cfg = FeatureConfig(clip_seconds=ds.clip_seconds())
        train_set = build_feature_set(ds, "train", cfg, cache_dir=args.cache_dir, progress=False)
        eval_set = build_feature_set(ds, "evaluate", cfg, cache_dir=args.cache_dir, progress=False)
        for seed in args.seeds:
            result["seeds"].append(run_seed(args, seed, train_set, eval_set))
            result["wall_s"] = time.perf_counter() - t0
            write_json(args.out / "bench_compress.json", result)
            write_text(args.out / "bench_compress.md", markdown(result))
    result["wall_s"] = time.perf_counter() - t0
    write_json(args.out / "bench_compress.json", result)
    write_text(args.out / "bench_compress.md", markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
