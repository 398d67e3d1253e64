"""Compression benchmark: teacher, pruned-only, pruned+QAT, pruned+QAT+KD (accuracy per device, audit, wall time),
and the paper's size figure for BC-ResNet-ASC-8 (89% pruning, int8 convs, float16 rest).

    OMP_NUM_THREADS=1 nice python tools/bench_compress.py --dataset SYNTH_SMALL --out OUT \
        [--model bcresnet_asc_1] [--seeds 0 1 2] [--teacher-epochs 10] [--finetune-epochs 5]

Writes OUT/bench_compress.json and OUT/bench_compress.md; every run directory is resumable
(a rerun skips finished teachers and compressions). ``--paper-figure-only`` does only the
ASC-8 size figure (no data needed: the count does not depend on accuracy).
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from tinyasc.atomic import write_json, write_text
from tinyasc.metrics import markdown_table, table3_header, table3_row

log = logging.getLogger("bench_compress")

PAPER = {"conv_nonzero_8bit": 33_000, "other_16bit": 15_000, "reported_KB": 61.5, "abstract_KB": 61.0}

VARIANTS = {
    # name: (CompressConfig overrides, use teacher)
    "pruned": ({"qat": False, "kd_alpha": 0.0}, False),
    "pruned+qat": ({"qat": True}, False),
    "pruned+qat+kd": ({"qat": True}, True),
}


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
    from tinyasc.compress.config import CompressConfig
    from tinyasc.compress.pipeline import compress
    from tinyasc.contract import Checkpoint
    from tinyasc.audit import audit
    from tinyasc.model import create_model
    from tinyasc.train import TrainConfig, fit

    root = args.out / args.model / f"seed{seed}"
    teacher_dir = root / "teacher"
    t0 = time.perf_counter()
    tcfg = TrainConfig(epochs=args.teacher_epochs, batch_size=args.batch_size, seed=seed, progress=False,
                       steps_per_epoch=args.steps_per_epoch, warmup_epochs=min(5.0, args.teacher_epochs / 4))
    fit(create_model(args.model), train_set, eval_set, tcfg, teacher_dir, model_name=args.model, resume=True)
    teacher_path = teacher_dir / "last.pt"
    teacher = Checkpoint.load(teacher_path)
    rec: dict[str, Any] = {"seed": seed, "teacher": {
        "epochs": args.teacher_epochs, "accuracy": teacher.metrics.get("eval"), "audit": audit(teacher_path).totals,
        "wall_s_this_run": time.perf_counter() - t0}}
    ft = TrainConfig(epochs=args.finetune_epochs, batch_size=args.batch_size, lr=args.finetune_lr, warmup_epochs=0,
                     seed=seed, progress=False, steps_per_epoch=args.steps_per_epoch)
    for name, (overrides, use_teacher) in VARIANTS.items():
        t0 = time.perf_counter()
        res = compress(teacher_path, train_set, eval_set, root / name, config=CompressConfig(sparsity=args.sparsity, **overrides),
                       finetune=ft, teacher_path=teacher_path if use_teacher else None, resume=True)
        steps = res.steps
        rec[name] = {
            "accuracy": steps[-1]["accuracy"], "after_prune_accuracy": steps[1]["accuracy"],
            "accuracy_int8_act_emulated": steps[-1].get("accuracy_int8_act_emulated"),
            "audit": {**res.audit.totals, "by_kind": res.audit.by_kind()},
            "compress_seconds": sum(s["seconds"] for s in steps[1:]),
            "wall_s_this_run": time.perf_counter() - t0,
        }
        log.info("seed %d %s: acc %.3f, %.0f B non-zero, %.0f s", seed, name, steps[-1]["accuracy"]["overall"],
                 res.audit.nonzero_bytes, rec[name]["compress_seconds"])
    return rec


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
        lines += [f"## {result['model']} on asc-synth small: teacher {result['teacher_epochs']} epochs, fine-tune "
                  f"{result['finetune_epochs']} epochs, sparsity {result['sparsity']}", ""]
        t3 = []
        size_rows = []
        for rec in seeds:
            s = rec["seed"]
            if rec["teacher"]["accuracy"]:
                t3.append(table3_row(f"teacher s{s}", rec["teacher"]["accuracy"]))
            size_rows.append([f"teacher s{s}", f"{rec['teacher']['audit']['nonzero']:,}", f"{rec['teacher']['audit']['nonzero_bytes']:,.0f}",
                              f"{rec['teacher']['audit']['nonzero_KiB']:.2f}", "-"])
            for name in VARIANTS:
                v = rec[name]
                if v["after_prune_accuracy"] and name == "pruned":
                    t3.append(table3_row(f"pruned, before fine-tune s{s}", v["after_prune_accuracy"]))
                t3.append(table3_row(f"{name} s{s}", v["accuracy"]))
                if v.get("accuracy_int8_act_emulated"):
                    t3.append(table3_row(f"{name} s{s}, int8 activations emulated", v["accuracy_int8_act_emulated"]))
                size_rows.append([f"{name} s{s}", f"{v['audit']['nonzero']:,}", f"{v['audit']['nonzero_bytes']:,.0f}",
                                  f"{v['audit']['nonzero_KiB']:.2f}", f"{v['compress_seconds']:.0f}"])
        mean_rows = []
        for name in ["teacher", *VARIANTS]:
            accs = [(r[name]["accuracy"] or {}).get("overall") for r in seeds]
            accs = [a for a in accs if a is not None]
            if accs:
                t = torch.tensor(accs, dtype=torch.float64)
                mean_rows.append([name, f"{100 * t.mean():.1f}", f"{100 * t.std():.1f}" if len(accs) > 1 else "-", str(len(accs))])
        lines += ["### Accuracy (%) per device", "", markdown_table(table3_header(), t3),
                  "### Mean over seeds", "", markdown_table(["model", "mean acc %", "std", "seeds"], mean_rows),
                  "### Audit and compression wall time", "",
                  markdown_table(["model", "NZ params", "NZ bytes", "NZ KiB", "compress s"], size_rows)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=Path, help="asc-synth --scale small dataset root")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", default="bcresnet_asc_1")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--teacher-epochs", type=int, default=10)
    p.add_argument("--finetune-epochs", type=int, default=5)
    p.add_argument("--finetune-lr", type=float, default=0.01)
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
        "model": args.model, "teacher_epochs": args.teacher_epochs, "finetune_epochs": args.finetune_epochs,
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
