"""The last compression step: int8 QAT on the export form, so the checkpoint is the model the int8 file holds.

From the fine-tuned (pruned, weights-int8) model: the export form (:mod:`tinyasc.model.export_form`; BN folded,
equalized sub-spectral norm, lifted input ResNorm where the form has it) becomes an
:class:`tinyasc.model.int8.Int8Model`; its ranges are observed in float on training batches, then it is
fine-tuned with every tensor of its int8 graph fake-quantized, with the same KD, by the training loop
(resumable in ``RUN/int8/``). Pruned weights stay exactly zero (each conv's mask). The result goes into the
compressed checkpoint's ``int8`` section; its ``metrics["eval"]`` is the integer simulation's accuracy, with
the float-weights accuracy of the same network beside it (``metrics["eval_float_weights"]``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinyasc.compress.config import CompressConfig
from tinyasc.contract import Checkpoint
from tinyasc.model.export_form import export_form
from tinyasc.model.int8 import Int8Model

log = logging.getLogger(__name__)

INT8_DIR = "int8"


def _spread(n_total: int, n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_total - 1, min(n, n_total)).round().astype(int))


def _batches(train_set: Any, batch_size: int, n: int):
    idx = _spread(len(train_set), batch_size * n)
    for i in range(0, len(idx), batch_size):
        yield torch.from_numpy(np.asarray(train_set.features[idx[i : i + batch_size]], dtype=np.float32)).unsqueeze(1)


def build_int8_model(plain: torch.nn.Module, train_set: Any, config: CompressConfig,
                     calib_clips: int = 64) -> tuple[Int8Model, dict[str, Any]]:
    """The export form of ``plain`` (eval mode) as an int8 model, ranges not yet observed; and the form's record."""
    idx = _spread(len(train_set), calib_clips)
    calib = np.asarray(train_set.features[idx], dtype=np.float32)[:, None]
    em, info = export_form(plain.eval(), config.int8_form, calib, calib[: min(8, len(calib))])
    return Int8Model(em, input_resnorm=info.input_resnorm), info.to_dict()


def mask_check(model: Int8Model) -> int:
    """Pruned weights (mask 0) whose trained value is non-zero (must be 0: pruned weights stay pruned)."""
    return sum(int(((c.conv.weight.detach() != 0) & (c.mask == 0)).sum()) for c in model.convs().values())


def int8_qat(finetuned: Checkpoint, plain: torch.nn.Module, teacher_model: torch.nn.Module | None, kd_config: Any,
             train_set: Any, eval_set: Any, out_dir: Path, config: CompressConfig, finetune: Any, resume: bool,
             eval_batch_size: int) -> tuple[Int8Model, dict[str, Any], dict[str, Any]]:
    """Build, calibrate and QAT-train the int8 model; returns ``(model, form record, step details)``."""
    from tinyasc.train import evaluate, fit

    t0 = time.perf_counter()
    model, form = build_int8_model(plain, train_set, config)
    ft_dir = out_dir / INT8_DIR
    resuming = resume and (ft_dir / "last.pt").exists()
    if not resuming:
        model.calibrate(_batches(train_set, finetune.batch_size, config.int8_calibration_batches))
    model.set_observe(not config.int8_freeze_ranges)  # a flag, not state: set again on resume
    # Scored once, after the last epoch (the integer simulation is the slow part of an epoch).
    cfg = dataclasses.replace(finetune, epochs=config.int8_epochs, lr=finetune.lr * config.int8_lr_scale, warmup_epochs=0,
                              eval_every=max(1, config.int8_epochs))
    last = fit(model, train_set, eval_set, cfg, ft_dir, model_name=finetuned.model_name, resume=resume, teacher=teacher_model,
        kd=kd_config, model_config=finetuned.model_config,
        compression={"int8_form": form["form"], "int8_qat": True}, extra_train_config={"int8": cfg.to_dict()})
    model.eval()
    revived = mask_check(model)
    if revived:
        raise RuntimeError(f"{revived} pruned weights became non-zero during int8 QAT")
    if model.unobserved():
        raise RuntimeError(f"int8 tensors never observed: {model.unobserved()[:3]}")
    acc_sim = acc_float = None
    if eval_set is not None:
        acc_sim = (last.metrics or {}).get("eval")  # fit scored the model in eval mode: the integer simulation
        if acc_sim is None:
            acc_sim = evaluate(model, eval_set, batch_size=eval_batch_size).metrics.to_dict()
        model.set_quantize(False)
        acc_float = evaluate(model, eval_set, batch_size=eval_batch_size).metrics.to_dict()
        model.set_quantize(True)
    details = {"epochs": config.int8_epochs, "lr": cfg.lr, "form": form["form"], "tensors": len(model.points()),
               "convs": len(model.convs()), "accuracy_float_weights": acc_float, "accuracy_integer_simulation": acc_sim,
               "qat_seconds": round(time.perf_counter() - t0, 3)}
    log.info("int8 QAT: %d tensors, %d convs; integer simulation acc %s, float weights %s", len(model.points()),
             len(model.convs()), f"{acc_sim['overall']:.3f}" if acc_sim else "-",
             f"{acc_float['overall']:.3f}" if acc_float else "-")
    return model, form, details
