"""The stages of ``asc-pipeline``, each a call of one stage's library function on the last artifact.

dataset -> features -> teacher -> student -> compress -> export (int8 or 16x8 + parity gate) -> audit
-> firmware (host build bit-exact with TFLite Micro) -> latency (Cortex-M4/M7/M55). The stages after
the export take the file it deployed (its report's ``deployed``), whatever its activation precision.
Every stage writes into its own folder of the run directory; the runner skips a stage whose
artifact is valid for its inputs, so a rerun after a failure resumes where it failed.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.atomic import write_json
from tinyasc.compress.prune import PruneSchedule, PruneScope
from tinyasc.contract import Checkpoint, FeatureConfig
from tinyasc.errors import InputError
from tinyasc.export.precision import deployed_tflite
from tinyasc.pipeline.profiles import PipelineProfile
from tinyasc.pipeline.runner import Stage, file_digest

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PipelineContext:
    """Paths and settings shared by the stages of one run."""

    run_dir: Path
    profile: PipelineProfile
    dataset: Path | None
    """User dataset (None: synthesize into ``run_dir/dataset``)."""
    progress: bool = True

    @property
    def dataset_dir(self) -> Path:
        return self.dataset if self.dataset is not None else self.run_dir / "dataset"

    def path(self, *parts: str) -> Path:
        return self.run_dir.joinpath(*parts)


def _rmtree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def _feature_sets(ctx: PipelineContext, cfg: FeatureConfig | None = None):
    from tinyasc.data.cache import build_feature_set
    from tinyasc.data.tau import load_tau

    ds = load_tau(ctx.dataset_dir)
    cfg = cfg or FeatureConfig(clip_seconds=ds.clip_seconds())
    train = build_feature_set(ds, "train", cfg, progress=ctx.progress)
    evaluate = build_feature_set(ds, "evaluate", cfg, progress=ctx.progress)
    return train, evaluate


def _train_config(ctx: PipelineContext, epochs: int):
    from tinyasc.train import TrainConfig

    p = ctx.profile
    return TrainConfig(epochs=epochs, batch_size=p.batch_size, seed=p.seed, progress=ctx.progress,
                       warmup_epochs=min(5.0, max(1.0, epochs / 4)))


# ------------------------------------------------------------------------------------- stages


def dataset_stage(ctx: PipelineContext) -> Stage:
    def key() -> dict[str, Any]:
        if ctx.dataset is not None:
            meta = ctx.dataset / "meta.csv"
            return {"dataset": str(ctx.dataset), "meta": file_digest(meta) if meta.is_file() else None}
        return {"synth_scale": ctx.profile.synth_scale, "seed": ctx.profile.synth_seed,
                **({"seconds": ctx.profile.synth_seconds} if ctx.profile.synth_seconds is not None else {})}

    def run() -> dict[str, Any]:
        from tinyasc.data.synth import SynthScale, synthesize
        from tinyasc.data.tau import load_tau

        if ctx.dataset is None:
            ds = synthesize(ctx.dataset_dir, scale=SynthScale(ctx.profile.synth_scale), seed=ctx.profile.synth_seed,
                            seconds=ctx.profile.synth_seconds, force=ctx.dataset_dir.exists())
        else:
            ds = load_tau(ctx.dataset)
        return {"outputs": [str(ctx.dataset_dir / "meta.csv")], "clips": len(ds.records),
                "train": len(ds.split("train")), "evaluate": len(ds.split("evaluate")),
                "clip_seconds": ds.clip_seconds(), "synthetic": ctx.dataset is None}

    return Stage(name="dataset", title="dataset" + (" (asc-synth)" if ctx.dataset is None else ""), key=key, run=run)


def features_stage(ctx: PipelineContext) -> Stage:
    def key() -> dict[str, Any]:
        return {"meta": file_digest(ctx.dataset_dir / "meta.csv")}

    def run() -> dict[str, Any]:
        train, evaluate = _feature_sets(ctx)
        return {"outputs": [str(train.path), str(evaluate.path)], "train": len(train), "evaluate": len(evaluate),
                "feature_config": train.feature_config.to_dict(), "shape": list(train.features.shape[1:])}

    return Stage(name="features", title="log-mel features (cached)", key=key, run=run)


def _train_stage(ctx: PipelineContext, *, name: str, title: str, model_name: str, overrides: dict[str, Any],
                 epochs: int) -> Stage:
    out = ctx.path(name)

    def key() -> dict[str, Any]:
        return {"meta": file_digest(ctx.dataset_dir / "meta.csv"), "model": model_name, "overrides": overrides,
                "epochs": epochs, "batch": ctx.profile.batch_size, "seed": ctx.profile.seed}

    def run() -> dict[str, Any]:
        from tinyasc.model import count_parameters, create_model
        from tinyasc.train import CHECKPOINT_NAME, fit

        train, evaluate = _feature_sets(ctx)
        model = create_model(model_name, **overrides)
        ckpt = fit(model, train, evaluate, _train_config(ctx, epochs), out, model_name=model_name,
                   resume=(out / CHECKPOINT_NAME).is_file())
        return {"outputs": [str(out / CHECKPOINT_NAME)], "checkpoint": str(out / CHECKPOINT_NAME),
                "params": count_parameters(model), "eval": ckpt.metrics.get("eval"), "epochs": epochs}

    return Stage(name=name, title=title, key=key, run=run, reset=lambda: _rmtree(out))


def teacher_stage(ctx: PipelineContext) -> Stage:
    p = ctx.profile
    return _train_stage(ctx, name="teacher", title=f"train teacher {p.teacher_model} {p.teacher_overrides or ''}".rstrip(),
                        model_name=p.teacher_model, overrides=p.teacher_overrides, epochs=p.teacher_epochs)


def student_stage(ctx: PipelineContext) -> Stage:
    p = ctx.profile
    if p.student_epochs == 0:
        # The paper compresses the trained model itself: the student starts as the teacher.
        def key() -> dict[str, Any]:
            return {"teacher": file_digest(ctx.path("teacher", "last.pt"))}

        def run() -> dict[str, Any]:
            t = ctx.path("teacher", "last.pt")
            return {"outputs": [str(t)], "checkpoint": str(t), "eval": Checkpoint.load(t).metrics.get("eval"),
                    "from_teacher": True}

        return Stage(name="student", title="student = teacher (compressed as in the paper)", key=key, run=run)
    return _train_stage(ctx, name="student", title=f"train student {p.student_model} {p.student_overrides or ''}".rstrip(),
                        model_name=p.student_model, overrides=p.student_overrides, epochs=p.student_epochs)


def _student_ckpt(ctx: PipelineContext) -> Path:
    import json

    marker = ctx.path("stages", "student.json")
    return Path(json.loads(marker.read_text())["summary"]["checkpoint"])


def compress_stage(ctx: PipelineContext) -> Stage:
    p = ctx.profile
    out = ctx.path("compress")

    def key() -> dict[str, Any]:
        return {"student": file_digest(_student_ckpt(ctx)), "teacher": file_digest(ctx.path("teacher", "last.pt")),
                "sparsity": p.sparsity, "epochs": p.compress_epochs, "batch": p.batch_size, "seed": p.seed,
                "int8_epochs": p.int8_epochs, "int8_form": p.export_form,
                **({"scope": p.prune_scope.value, "schedule": p.prune_schedule.value}
                   if (p.prune_scope, p.prune_schedule) != (PruneScope.LAYER, PruneSchedule.ONE_SHOT) else {})}

    def run() -> dict[str, Any]:
        from tinyasc.compress.config import CompressConfig
        from tinyasc.compress.pipeline import compress

        student = _student_ckpt(ctx)
        train, evaluate = _feature_sets(ctx, Checkpoint.load(student).feature_config)
        config = CompressConfig(sparsity=p.sparsity, scope=p.prune_scope, schedule=p.prune_schedule,
                                int8_epochs=p.int8_epochs, int8_form=p.export_form)
        res = compress(student, train, evaluate, out, config=config,
                       finetune=_train_config(ctx, p.compress_epochs), teacher_path=ctx.path("teacher", "last.pt"),
                       resume=True)
        return {"outputs": [str(res.path)], "checkpoint": str(res.path), "eval": res.checkpoint.metrics.get("eval"),
                "audit": {"nonzero_bytes": res.audit.nonzero_bytes, "within_budget": res.audit.within_budget},
                "steps": [s["name"] for s in res.steps]}

    return Stage(name="compress", title=f"compress: prune {p.sparsity:.2f} -> QAT + KD -> int8 QAT ({p.export_form})", key=key, run=run,
                 reset=lambda: _rmtree(out))


def export_stage(ctx: PipelineContext) -> Stage:
    p = ctx.profile
    out = ctx.path("export")

    def key() -> dict[str, Any]:
        return {"checkpoint": file_digest(ctx.path("compress", "compressed.pt")), "calib": p.calib_clips,
                "parity": p.parity_clips, "form": p.export_form, "calibration": p.calibration,
                "activations": p.activations.value}

    def run() -> dict[str, Any]:
        from tinyasc.export.pipeline import ExportConfig, export_int8

        res = export_int8(ctx.path("compress", "compressed.pt"), ctx.dataset_dir, out,
                          ExportConfig(calib_clips=p.calib_clips, parity_clips=p.parity_clips, form=p.export_form,
                                       calibration=p.calibration, activations=p.activations, force=True))
        return {"outputs": [str(res.deployed), str(out / "report.json")], "passed": res.passed,
                "failed_gates": res.failed_gates, "gates": res.report.get("gates", []), "deployed": res.report["deployed"]}

    return Stage(name="export", title=f"asc-export --int8 --activations {p.activations.value} (ONNX -> TFLite, parity gate)",
                 key=key, run=run)


def audit_stage(ctx: PipelineContext) -> Stage:
    out = ctx.path("audit.json")

    def key() -> dict[str, Any]:
        return {"tflite": file_digest(deployed_tflite(ctx.path("export")))}

    def run() -> dict[str, Any]:
        from tinyasc.audit import audit

        rep = audit(deployed_tflite(ctx.path("export")))
        write_json(out, rep.to_dict())
        return {"outputs": [str(out)], "nonzero_bytes": rep.nonzero_bytes, "within_budget": rep.within_budget,
                "dense_file_bytes": rep.dense_file_bytes}

    return Stage(name="audit", title="asc-audit (128 KB non-zero budget)", key=key, run=run)


def _golden_features(ctx: PipelineContext, n: int) -> np.ndarray:
    """Float32 log-mel of ``n`` evaluation clips (not the float16 cache: the firmware sees PCM)."""
    from tinyasc.data.features import load_audio, logmel
    from tinyasc.data.tau import load_tau

    cfg = Checkpoint.load(ctx.path("compress", "compressed.pt")).feature_config
    recs = load_tau(ctx.dataset_dir).split("evaluate")
    idx = np.linspace(0, len(recs) - 1, num=min(n, len(recs))).round().astype(int)
    return np.stack([logmel(load_audio(recs[i].path, cfg), cfg).numpy() for i in idx]).astype(np.float32)


def firmware_stage(ctx: PipelineContext) -> Stage:
    p = ctx.profile
    out = ctx.path("firmware")

    def key() -> dict[str, Any]:
        return {"tflite": file_digest(deployed_tflite(ctx.path("export"))), "golden": p.firmware_golden,
                "targets": [t.value for t in p.targets], "sparse": p.sparse_weights}

    def run() -> dict[str, Any]:
        from tinyasc.contract import read_deployed_contract
        from tinyasc.firmware_sim import report
        from tinyasc.firmware_sim.library import write_library
        from tinyasc.firmware_sim.parity import check_parity, load_golden
        from tinyasc.firmware_sim.target import LibraryTarget

        tflite = deployed_tflite(ctx.path("export"))
        golden = ctx.path("golden.npz")
        np.savez(golden, features=_golden_features(ctx, p.firmware_golden))
        contract = read_deployed_contract(tflite.read_bytes(), tflite)
        outputs, libraries = [], {}
        for core in p.targets:
            lib = write_library(tflite, out / core.value, target=LibraryTarget(core.value), dense=not p.sparse_weights,
                                measure_tflm_arena=not libraries)
            art = lib.firmware
            inputs = load_golden(art.input_shape, art.input_scale, art.input_zero_point, golden=golden,
                                 limit=p.firmware_golden,
                                 input_resnorm=contract.input_resnorm if contract else None,
                                 dtype=art.activations.upper())
            res = check_parity(art, inputs, debug_layers=True)  # the shipped sources, built on the host
            art.parity = res.to_json()
            report.write_report(art)
            outputs.append(str(lib.out_dir / "firmware.json"))
            libraries[core.value] = {"dir": str(lib.out_dir), "identical": bool(res.identical),
                                     "arena": art.arena_size, "tflm_arena": art.tflm_arena_size,
                                     "summary": res.summary(),
                                     "frontend": lib.manifest.frontend, "sparse_weights": lib.manifest.sparse_weights}
        first = next(iter(libraries.values()))  # the first library measured TFLM's arena (one bisection)
        return {"outputs": outputs, "identical": all(v["identical"] for v in libraries.values()),
                "arena": first["arena"], "tflm_arena": first["tflm_arena"], "summary": first["summary"],
                "libraries": libraries}

    return Stage(name="firmware", title="asc-firmware --target (shipped C libraries; host C vs TFLite Micro)",
                 key=key, run=run, reset=lambda: _rmtree(out))


def latency_stage(ctx: PipelineContext) -> Stage:
    p = ctx.profile
    out = ctx.path("latency")

    def key() -> dict[str, Any]:
        return {"tflite": file_digest(deployed_tflite(ctx.path("export"))),
                "targets": [t.value for t in p.targets], "sparse": p.sparse_weights}

    def run() -> dict[str, Any]:
        from tinyasc.firmware_sim.harness import ParityError, RunError, check_toolchain, measure_library, write_report

        check_toolchain()
        tflite = deployed_tflite(ctx.path("export"))
        outputs, rows = [], []
        for core in p.targets:
            lib_dir = ctx.path("firmware", core.value)  # the very directory the firmware stage shipped
            d = out / core.value
            try:
                rep = measure_library(lib_dir, out_dir=d, model=tflite)
            except (ParityError, RunError) as err:
                rows.append({"target": core.value, "sparse": p.sparse_weights, "error": str(err)})
                continue
            j, _md = write_report(rep, d)
            outputs.append(str(j))
            rows.append({"target": core.value, "sparse": rep.sparse, "latency_ms": rep.total_latency_ms,
                         "instructions": rep.total_instructions, "flash": rep.memory.flash_bytes,
                         "ram": rep.memory.ram_bytes, "json": str(j), "library": str(lib_dir)})
        return {"outputs": outputs, "rows": rows}

    return Stage(name="latency", title="asc-latency on the shipped libraries (" + ", ".join(t.value for t in p.targets)
                 + ")", key=key, run=run, reset=lambda: _rmtree(out))


def all_stages(ctx: PipelineContext) -> list[Stage]:
    return [dataset_stage(ctx), features_stage(ctx), teacher_stage(ctx), student_stage(ctx), compress_stage(ctx),
            export_stage(ctx), audit_stage(ctx), firmware_stage(ctx), latency_stage(ctx)]
