"""Compression as a list of checked steps: baseline -> prune -> fine-tune (QAT + KD).

Each step writes its artifact atomically, then is checked (its invariant asserted, its size
audited with :func:`tinyasc.audit.audit`, its accuracy measured per device) and
logged; the report (``compress_report.json`` / ``.md``) grows step by step. A killed run
resumes: a finished step's artifact is reused (``pruned.pt``), the fine-tune continues from
``finetune/last.pt`` through ``tinyasc.train.fit``'s exact resume, and a finished run
(``compressed.pt``) is returned as is.

Run directory::

    RUN/pruned.pt              after one-shot pruning (plain float weights, zeros exact)
    RUN/finetune/last.pt       fine-tune checkpoint per epoch (+ metrics.csv/json), resumable
    RUN/compressed.pt          the result (compressed-checkpoint contract, see ``finalize``)
    RUN/compress_report.json   steps with accuracy and audit; .md for people
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from tinyasc.atomic import write_json, write_text
from tinyasc.compress import prune as P
from tinyasc.compress.config import CompressConfig
from tinyasc.compress.finalize import plain_state_dict
from tinyasc.compress.quant import activation_ranges, calibrate, prepare_qat, set_activation_fake_quant
from tinyasc.contract import Checkpoint
from tinyasc.errors import InputError
from tinyasc.audit import AuditReport, audit
from tinyasc.metrics import markdown_table, table3_header, table3_row

log = logging.getLogger(__name__)

PRUNED_NAME = "pruned.pt"
FINETUNE_DIR = "finetune"
FINETUNED_NAME = "finetuned.pt"
COMPRESSED_NAME = "compressed.pt"
REPORT_JSON = "compress_report.json"
REPORT_MD = "compress_report.md"

WEIGHT_SCHEME = "int8 symmetric per output channel, q in [-127, 127], zero point 0"
ACT_SCHEME = "int8 asymmetric per tensor, q in [-128, 127]"


@dataclass
class CompressResult:
    """The compressed checkpoint, where it is, its audit and the checked steps."""

    checkpoint: Checkpoint
    path: Path
    audit: AuditReport
    steps: list[dict[str, Any]]


# --------------------------------------------------------------------------- inputs


def load_inputs(student_path: str | Path, teacher_path: str | Path | None) -> tuple[Checkpoint, Checkpoint | None]:
    """Read the student (the model to compress) and teacher checkpoints; check they agree."""
    student = Checkpoint.load(student_path)
    if student.compression:
        raise InputError(student_path, "is already compressed; compress the float model it came from")
    teacher = None
    if teacher_path is not None:
        teacher = Checkpoint.load(teacher_path)
        if tuple(teacher.labels) != tuple(student.labels):
            raise InputError(teacher_path, f"teacher labels {list(teacher.labels)} differ from the student's {list(student.labels)}")
        if teacher.feature_config != student.feature_config:
            diff = sorted(k for k, v in teacher.feature_config.to_dict().items() if student.feature_config.to_dict().get(k) != v)
            raise InputError(teacher_path, f"teacher was trained on other features than the student ({', '.join(diff)} differ)")
    return student, teacher


def _plain_factory(ckpt: Checkpoint, path: Path) -> Callable[[], nn.Module]:
    from tinyasc.model import from_checkpoint

    def make() -> nn.Module:
        return from_checkpoint(ckpt, path=path, load_weights=False)

    return make


def _load_model(ckpt: Checkpoint, path: Path) -> nn.Module:
    from tinyasc.model import from_checkpoint

    return from_checkpoint(ckpt, path=path)


def _accuracy(model: nn.Module, eval_set: Any, batch_size: int) -> dict[str, Any] | None:
    if eval_set is None:
        return None
    from tinyasc.train import evaluate

    return evaluate(model, eval_set, batch_size=batch_size).metrics.to_dict()


def _audit_summary(rep: AuditReport) -> dict[str, Any]:
    return {**rep.totals, "within_budget": rep.within_budget, "budget_bytes": rep.budget_bytes, "by_kind": rep.by_kind()}


def _step(name: str, t0: float, acc: dict[str, Any] | None, rep: AuditReport, **details: Any) -> dict[str, Any]:
    step = {"name": name, "seconds": round(time.perf_counter() - t0, 3), "accuracy": acc, "audit": _audit_summary(rep), **details}
    a = f"acc {acc['overall']:.3f} (seen {acc['seen_mean'] or 0:.3f}, unseen {acc['unseen_mean'] or 0:.3f})" if acc else "acc -"
    log.info("step %s: %s; %d non-zero params, %.0f B non-zero (%.2f KiB); %.1f s", name, a, rep.nonzero,
             rep.nonzero_bytes, rep.nonzero_bytes / 1024, step["seconds"])
    return step


def _masks_from_zeros(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: (m.weight.detach() != 0).float() for name, m in P.conv_layers(model)}


# --------------------------------------------------------------------------- steps


def _expected_nonzero(stats: dict[str, dict[str, int]], config: CompressConfig) -> int:
    """Conv weights kept at ``config.sparsity`` (per-layer rounding for ``layer`` scope)."""
    if config.scope is not P.PruneScope.LAYER:
        n = sum(s["numel"] for s in stats.values())
        return n - int(round(config.sparsity * n))
    return sum(s["numel"] - int(round(config.sparsity * s["numel"])) for s in stats.values())


def _prune_step(student: Checkpoint, student_path: Path, eval_set: Any, out_dir: Path, config: CompressConfig,
                eval_batch_size: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    model = _load_model(student, student_path)
    gradual = config.schedule is P.PruneSchedule.GRADUAL  # nothing removed here: the fine-tune removes it step by step
    if not gradual:
        P.apply_pruning(model, config.sparsity, config.scope)
    stats = P.layer_sparsity(model)
    n = sum(s["numel"] for s in stats.values())
    nz = sum(s["nonzero"] for s in stats.values())
    if not gradual:
        expected = _expected_nonzero(stats, config)
        if nz > expected:  # (fewer only if the model held exact zeros)
            raise RuntimeError(f"pruning kept {nz} weights, expected {expected}")
        P.remove_pruning(model)
    acc = _accuracy(model, eval_set, eval_batch_size)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    comp = {
        "sparsity": config.sparsity,
        "achieved_sparsity": 1 - nz / n,
        "sparsity_scope": config.scope.value,
        "schedule": config.schedule.value,
        "conv_bits": 32,
        "other_bits": 32,
        "norm_folded": False,
        "per_layer": {f"{k}.weight": v for k, v in stats.items()},
        "steps": [],
    }
    ckpt = Checkpoint(model_name=student.model_name, model_config=student.model_config,
                      feature_config=student.feature_config, labels=student.labels, state_dict=sd,
                      train_config={"compress": config.to_dict(), "student": str(student_path)},
                      metrics={"eval": acc} if acc else {}, compression=comp, norm_stats=student.norm_stats)
    path = out_dir / PRUNED_NAME
    ckpt.save(path)
    rep = audit(path)
    step = _step("prune", t0, acc, rep, schedule=config.schedule.value, conv_weights=n, conv_nonzero=nz, per_layer_sparsity={k: 1 - v["nonzero"] / v["numel"] for k, v in stats.items()})
    comp["steps"] = [step]
    ckpt.save(path)  # again, now carrying its own check
    return step


def _finetune_step(pruned_path: Path, teacher: Checkpoint | None, teacher_path: Path | None, train_set: Any,
                   eval_set: Any, out_dir: Path, config: CompressConfig, finetune: Any, resume: bool,
                   steps: list[dict[str, Any]], target: Path) -> tuple[Checkpoint, dict[str, Any]]:
    from tinyasc.train import KDConfig, fit

    t0 = time.perf_counter()
    pruned = Checkpoint.load(pruned_path)
    make_plain = _plain_factory(pruned, pruned_path)
    model = _load_model(pruned, pruned_path)
    masks = _masks_from_zeros(model)
    kept = sum(int(m.sum()) for m in masks.values())
    recorded = sum(v["nonzero"] for v in pruned.compression["per_layer"].values())
    if kept != recorded:
        raise InputError(pruned_path, f"holds {kept} non-zero conv weights but recorded {recorded}; delete it and rerun")
    P.apply_masks(model, masks)
    ft_dir = out_dir / FINETUNE_DIR
    resuming = resume and (ft_dir / "last.pt").exists()
    if config.qat:
        prepare_qat(model, activations=config.quantize_activations)
        if config.quantize_activations and not resuming and config.calibration_batches:
            bs = finetune.batch_size
            batches = (torch.from_numpy(np.asarray(train_set.features[i * bs : (i + 1) * bs], dtype=np.float32)).unsqueeze(1)
                       for i in range(min(config.calibration_batches, max(1, len(train_set) // bs))))
            calibrate(model, batches)
    on_step = None
    if pruned.compression.get("schedule") == P.PruneSchedule.GRADUAL.value:
        def on_step(step: int, total_steps: int, m: nn.Module) -> None:
            ramp = int(round(config.prune_ramp * total_steps))
            if step > ramp:  # the masks reached the target at step ``ramp``; raising them to it again changes nothing
                return
            P.prune_to(m, P.gradual_sparsity(step, ramp, config.sparsity), config.scope)
    on_epoch_end = None
    act_epoch = config.act_quant_epoch(finetune.epochs) if config.qat and config.quantize_activations else 0
    if act_epoch > 0:
        done = int(((Checkpoint.load(ft_dir / "last.pt").resume or {}) if resuming else {}).get("epoch", 0))
        set_activation_fake_quant(model, done >= act_epoch)

        def on_epoch_end(epoch: int, row: dict[str, Any], m: nn.Module) -> None:
            if epoch == act_epoch:
                set_activation_fake_quant(m, True)
                log.info("activation fake quantization on from epoch %d", epoch + 1)
    teacher_model, kd_config, kd = None, None, None
    if teacher is not None and config.kd_alpha > 0:
        # Hinton KD on the mixup targets, the teacher run on the same augmented batch (the loop's own KD).
        teacher_model = _load_model(teacher, teacher_path)
        kd_config = KDConfig(alpha=config.kd_alpha, temperature=config.kd_temperature)
        kd = {"teacher": str(teacher_path), "teacher_model": teacher.model_name, "alpha": kd_config.alpha,
              "temperature": kd_config.temperature, "teacher_metrics": (teacher.metrics or {}).get("eval")}
    quantize = config.qat
    fold = config.fold_norm_stats

    def state_dict_fn(m: nn.Module) -> dict[str, Any]:
        return plain_state_dict(m, make_plain, quantize=quantize, fold_norm_stats=fold)[0]

    static = {
        "sparsity": config.sparsity, "sparsity_scope": config.scope.value, "schedule": config.schedule.value,
        "conv_bits": config.conv_bits,
        "other_bits": config.other_bits, "norm_folded": fold, "kd": kd, "steps": steps,
    }
    fit(model, train_set, eval_set, finetune, ft_dir, model_name=pruned.model_name, resume=resume,
        teacher=teacher_model, kd=kd_config, on_epoch_end=on_epoch_end, on_step=on_step, state_dict_fn=state_dict_fn, compression=static, model_config=pruned.model_config,
        extra_train_config={"compress": config.to_dict()})
    if config.qat and config.quantize_activations:
        set_activation_fake_quant(model, True)
    model.eval()
    # The fake-quant model's accuracy (int8 activations emulated: rounding and clamping to the observed
    # ranges) next to the plain checkpoint's: a QAT model can come to rely on the clamping, which the
    # plain float checkpoint (asc-eval) does not have but an int8 graph does.
    acc_emulated = _accuracy(model, eval_set, finetune.eval_batch_size) if quantize and config.quantize_activations else None
    sd, per_layer = plain_state_dict(model, make_plain, quantize=quantize, fold_norm_stats=fold)
    # Check: every pruned weight is still exactly zero.
    revived = {name: int(((sd[f"{name}.weight"] != 0) & (mask == 0)).sum()) for name, mask in masks.items()}
    if any(revived.values()):
        raise RuntimeError(f"pruned weights became non-zero during fine-tuning: {revived}")
    n = sum(int(m.numel()) for m in masks.values())
    nz = sum(int(torch.count_nonzero(sd[f"{name}.weight"])) for name in masks)
    expected = _expected_nonzero({k: {"numel": int(m.numel())} for k, m in masks.items()}, config)
    if nz > expected:
        raise RuntimeError(f"the fine-tuned model keeps {nz} conv weights, more than the {expected} of sparsity {config.sparsity}")
    plain = make_plain()
    plain.load_state_dict(sd, strict=True)
    acc = _accuracy(plain, eval_set, finetune.eval_batch_size)
    comp = {
        **static,
        "achieved_sparsity": 1 - nz / n,
        "weight_quant": WEIGHT_SCHEME if quantize else None,
        "activation_quant": ACT_SCHEME if quantize and config.quantize_activations else None,
        "activation_quant_from_epoch": act_epoch + 1 if quantize and config.quantize_activations else None,
        "activation_ranges": activation_ranges(model) if quantize and config.quantize_activations else None,
        "per_layer": per_layer,
    }
    ckpt = Checkpoint(model_name=pruned.model_name, model_config=pruned.model_config,
                      feature_config=pruned.feature_config, labels=pruned.labels, state_dict=sd,
                      train_config={"compress": config.to_dict(), "finetune": finetune.to_dict(),
                                    "student": pruned.train_config.get("student"),
                                    "teacher": str(teacher_path) if teacher_path else None},
                      metrics={"eval": acc} if acc else {}, compression=comp, norm_stats=pruned.norm_stats)
    path = target
    ckpt.save(path)
    rep = audit(path)
    name = "finetune" + ("+qat" if quantize else "") + ("+kd" if kd else "")
    if acc_emulated:
        log.info("fine-tuned model with int8 activations emulated: acc %.3f (plain checkpoint %s)", acc_emulated["overall"],
                 f"{acc['overall']:.3f}" if acc else "-")
    step = _step(name, t0, acc, rep, accuracy_int8_act_emulated=acc_emulated, epochs=finetune.epochs, conv_weights=n, conv_nonzero=nz,
                 exact_zeros_kept=True, quantized_conv_layers=sum(1 for v in per_layer.values() if v.get("bits") == 8))
    comp["steps"] = [*steps, step]
    ckpt.save(path)
    return ckpt, step


def _int8_step(ft_path: Path, finetuned: Checkpoint, teacher: Checkpoint | None, teacher_path: Path | None,
               train_set: Any, eval_set: Any, out_dir: Path, config: CompressConfig, finetune: Any, resume: bool,
               steps: list[dict[str, Any]]) -> tuple[Checkpoint, dict[str, Any]]:
    """int8 QAT on the export form (:mod:`tinyasc.compress.int8_step`); writes ``compressed.pt`` with its ``int8`` section."""
    from tinyasc.compress.int8_step import int8_qat
    from tinyasc.train import KDConfig

    t0 = time.perf_counter()
    plain = _load_model(finetuned, ft_path)
    teacher_model, kd_config = None, None
    if teacher is not None and config.kd_alpha > 0:
        teacher_model = _load_model(teacher, teacher_path)
        kd_config = KDConfig(alpha=config.kd_alpha, temperature=config.kd_temperature)
    model, form, details = int8_qat(finetuned, plain, teacher_model, kd_config, train_set, eval_set, out_dir, config,
                                    finetune, resume, finetune.eval_batch_size)
    acc = details["accuracy_integer_simulation"]
    comp = {**finetuned.compression, "activation_quant": ACT_SCHEME,
            "int8": {k: v for k, v in details.items() if not k.startswith("accuracy")}}
    metrics = {"eval": acc, "eval_float_weights": details["accuracy_float_weights"]} if acc else {}
    ckpt = dataclasses.replace(finetuned, metrics=metrics, compression=comp, int8=model.section(form), resume=None,
                               train_config={**finetuned.train_config, "int8": {"epochs": config.int8_epochs,
                                                                                "lr_scale": config.int8_lr_scale}})
    path = out_dir / COMPRESSED_NAME
    ckpt.save(path)
    rep = audit(path)
    step = _step("int8-qat" + ("+kd" if kd_config else ""), t0, acc, rep, **{k: v for k, v in details.items() if k != "accuracy_integer_simulation"})
    comp["steps"] = [*steps, step]
    ckpt.save(path)
    return ckpt, step


# --------------------------------------------------------------------------- driver


def compress(
    student_path: str | Path,
    train_set: Any,
    eval_set: Any | None,
    out_dir: str | Path,
    *,
    config: CompressConfig,
    finetune: Any,
    teacher_path: str | Path | None = None,
    resume: bool = False,
) -> CompressResult:
    """Prune ``student_path`` and fine-tune it (QAT + KD from ``teacher_path``) into ``out_dir``.

    ``finetune`` is a :class:`tinyasc.train.TrainConfig` for the fine-tune; ``train_set`` /
    ``eval_set`` are FeatureSets with the student's feature config. Without ``resume`` an
    existing run directory with artifacts is an error.
    """
    student_path = Path(student_path)
    teacher_path = Path(teacher_path) if teacher_path is not None else None
    out_dir = Path(out_dir)
    student, teacher = load_inputs(student_path, teacher_path)
    for fs in (train_set, eval_set):
        if fs is not None and fs.feature_config != student.feature_config:
            raise InputError(getattr(fs, "path", None), "features were computed with another front end than the checkpoint's")
    final = out_dir / COMPRESSED_NAME
    pruned_path = out_dir / PRUNED_NAME
    existing = [p for p in (final, pruned_path, out_dir / FINETUNE_DIR / "last.pt", out_dir / FINETUNED_NAME) if p.exists()]
    if existing and not resume:
        raise InputError(existing[0], "exists; resume the run (--resume) or choose another output directory")
    if final.exists():
        ckpt = Checkpoint.load(final)
        log.info("%s is complete; nothing to do", final)
        return CompressResult(checkpoint=ckpt, path=final, audit=audit(final), steps=list(ckpt.compression.get("steps", [])))
    out_dir.mkdir(parents=True, exist_ok=True)

    # Step 0: the starting point, for the record.
    t0 = time.perf_counter()
    baseline = _step("baseline", t0, (student.metrics or {}).get("eval"), audit(student_path), source=str(student_path))
    steps = [baseline]
    if pruned_path.exists():
        pruned = Checkpoint.load(pruned_path)
        c = pruned.compression or {}
        if (c.get("sparsity") != config.sparsity or c.get("sparsity_scope") != config.scope.value
                or c.get("schedule", P.PruneSchedule.ONE_SHOT.value) != config.schedule.value):
            raise InputError(pruned_path, f"was pruned to {c.get('sparsity')} ({c.get('sparsity_scope')}, "
                                          f"{c.get('schedule', 'one-shot')}), not {config.sparsity} ({config.scope.value}, "
                                          f"{config.schedule.value}); use another output directory")
        steps.append(c["steps"][0])
        log.info("prune step already done: %s", pruned_path)
    else:
        steps.append(_prune_step(student, student_path, eval_set, out_dir, config, finetune.eval_batch_size))
    _write_report(out_dir, steps)
    if not config.int8_epochs:
        ckpt, step = _finetune_step(pruned_path, teacher, teacher_path, train_set, eval_set, out_dir, config, finetune,
                                    resume, steps, final)
        steps.append(step)
    else:
        ft_path = out_dir / FINETUNED_NAME
        if ft_path.exists():
            ckpt = Checkpoint.load(ft_path)
            step = ckpt.compression["steps"][-1]
            log.info("fine-tune step already done: %s", ft_path)
        else:
            ckpt, step = _finetune_step(pruned_path, teacher, teacher_path, train_set, eval_set, out_dir, config,
                                        finetune, resume, steps, ft_path)
        steps.append(step)
        _write_report(out_dir, steps)
        ckpt, step = _int8_step(ft_path, ckpt, teacher, teacher_path, train_set, eval_set, out_dir, config, finetune,
                                resume, steps)
        steps.append(step)
    _write_report(out_dir, steps)
    return CompressResult(checkpoint=ckpt, path=final, audit=audit(final), steps=steps)


def _write_report(out_dir: Path, steps: list[dict[str, Any]]) -> None:
    write_json(out_dir / REPORT_JSON, {"steps": steps})
    write_text(out_dir / REPORT_MD, report_markdown(steps))


def report_markdown(steps: list[dict[str, Any]]) -> str:
    """Steps table (size and accuracy) and the per-device Table-3 rows."""
    rows = []
    for s in steps:
        a, acc = s["audit"], s.get("accuracy")
        rows.append([
            s["name"],
            "-" if not acc else f"{100 * acc['overall']:.1f}",
            f"{a['params']:,}", f"{a['nonzero']:,}", f"{a['nonzero_bytes']:,.0f}", f"{a['nonzero_kB']:.2f}",
            f"{a['nonzero_KiB']:.2f}", f"{s['seconds']:.1f}",
        ])
    text = markdown_table(["step", "acc %", "params", "NZ params", "NZ bytes", "NZ kB", "NZ KiB", "seconds"], rows)
    acc_rows = [table3_row(s["name"], s["accuracy"]) for s in steps if s.get("accuracy")]
    if acc_rows:
        text += "\n" + markdown_table(table3_header(), acc_rows)
    return text
