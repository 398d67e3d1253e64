"""The training loop: the paper's recipe, atomic per-epoch checkpoints, exact resume, DDP.

Determinism: every random choice derives from ``(seed, epoch[, batch])`` -- the epoch's
shuffle, each batch's roll/SpecAugment/mixup (a ``torch.Generator`` per batch) and the
dropout masks (the global torch seed is reset at every epoch start, per rank). The learning
rate is a pure function of the global step. A run stopped after epoch k and resumed from
``last.pt`` (weights, BatchNorm statistics, SGD momentum) therefore reproduces the
uninterrupted run bit for bit on CPU.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from tinyasc.atomic import write_json, write_text
from tinyasc.contract import DEVICES, SCENE_LABELS, Checkpoint
from tinyasc.errors import InputError
from tinyasc.train.augment import DeviceIRAugment, freq_mixstyle, mixup, random_roll, spec_augment
from tinyasc.train.config import KDConfig, TrainConfig
from tinyasc.train.evaluate import evaluate, unwrap

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
EpochHook = Callable[[int, dict[str, Any], nn.Module], Any]
StepHook = Callable[[int, int, nn.Module], Any]
"""``hook(step, total_steps, model)`` before each training step (0-based step over the whole run)."""
StateDictFn = Callable[[nn.Module], dict[str, Any]]


class NonFiniteLoss(InputError):
    """The loss became NaN/inf; ``last.pt`` still holds the last good epoch."""


# ---------------------------------------------------------------------------------------------
# Seeds, schedule, losses


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from integer keys (seed, epoch, batch...), independent across keys."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def learning_rate(step: int, *, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up 0 -> peak over ``warmup_steps``, then cosine annealing to 0 at ``total_steps``."""
    if step < warmup_steps:
        return peak * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft (mixup) targets, mean over the batch."""
    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


def kd_loss(logits: torch.Tensor, targets: torch.Tensor, teacher_logits: torch.Tensor, kd: KDConfig) -> torch.Tensor:
    """``(1 - alpha) * CE(student, targets) + alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T))``."""
    t = kd.temperature
    distill = nn.functional.kl_div(
        torch.log_softmax(logits / t, dim=1), torch.log_softmax(teacher_logits / t, dim=1),
        reduction="batchmean", log_target=True,
    )
    return (1 - kd.alpha) * soft_cross_entropy(logits, targets) + kd.alpha * t * t * distill


# ---------------------------------------------------------------------------------------------
# Data


class EpochBatches(torch.utils.data.Dataset):
    """Item i = the i-th augmented batch of one epoch: ``(x (B,1,F,T) float32, soft targets, hard labels)``.

    Batches are read from the (memory-mapped) float16 cache with sorted indices and augmented
    with a generator seeded by (seed, epoch, i), so DataLoader workers do not change results.
    """

    def __init__(self, features: np.ndarray, labels: np.ndarray, batches: list[np.ndarray], *, seed: int, epoch: int,
                 n_classes: int, roll_frames: int, specaugment: bool, config: TrainConfig,
                 dir_augment: DeviceIRAugment | None = None, filenames: list[str] | None = None,
                 devices: np.ndarray | None = None):
        self.features, self.labels, self.batches = features, labels, batches
        self.seed, self.epoch, self.n_classes = seed, epoch, n_classes
        self.roll_frames, self.specaugment, self.config = roll_frames, specaugment, config
        self.dir_augment, self.filenames, self.devices = dir_augment, filenames, devices

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = np.sort(self.batches[i])
        x = torch.from_numpy(np.asarray(self.features[idx], dtype=np.float32)).unsqueeze(1)
        y = torch.from_numpy(np.asarray(self.labels[idx], dtype=np.int64))
        gen = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, i))
        # device-generalization augmentations draw from their own stream: turning them on leaves
        # the roll/SpecAugment/mixup draws of every batch unchanged
        gen_dg = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, i, 1))
        cfg = self.config
        if self.dir_augment is not None:
            x, _ = self.dir_augment(x, [self.filenames[j] for j in idx], [str(d) for d in self.devices[idx]], gen_dg)
        x = random_roll(x, self.roll_frames, gen)
        if self.specaugment:
            x = spec_augment(x, freq_masks=cfg.freq_masks, freq_width=cfg.freq_mask_width,
                             time_masks=cfg.time_masks, time_width=cfg.time_mask_width, gen=gen)
        if cfg.freq_mixstyle:
            x = freq_mixstyle(x, alpha=cfg.mixstyle_alpha, prob=cfg.mixstyle_prob, gen=gen_dg)
        soft = nn.functional.one_hot(y, self.n_classes).float()
        x, soft = mixup(x, soft, cfg.mixup_alpha, gen)
        return x, soft, y


def epoch_batches(n: int, *, seed: int, epoch: int, batch_size: int, world: int, cap: int | None) -> list[np.ndarray]:
    """The global batches of an epoch (same on every rank); a last batch too small to split is dropped."""
    perm = np.random.default_rng(derive_seed(seed, epoch)).permutation(n)
    batches = [perm[i : i + batch_size] for i in range(0, n, batch_size)]
    if batches and len(batches[-1]) < max(2, 2 * world):
        batches.pop()
    return batches[:cap] if cap is not None else batches


def global_freq_stats(features: np.ndarray, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per-mel-bin mean and std over all clips and frames of the training set (float64 sums)."""
    n, f, _ = features.shape
    s = np.zeros(f)
    ss = np.zeros(f)
    count = 0
    for i in range(0, n, chunk):
        block = np.asarray(features[i : i + chunk], dtype=np.float64)
        s += block.sum(axis=(0, 2))
        ss += (block * block).sum(axis=(0, 2))
        count += block.shape[0] * block.shape[2]
    mean = s / count
    return mean, np.sqrt(np.maximum(ss / count - mean * mean, 0.0))


# ---------------------------------------------------------------------------------------------
# Distributed helpers


def dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _resolve_device(config: TrainConfig) -> torch.device:
    if config.device:
        return torch.device(config.device)
    if torch.cuda.is_available():
        rank, world = dist_info()
        return torch.device("cuda", torch.cuda.current_device() if world > 1 else 0)
    return torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# Metrics files


def _write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    write_text(out_dir / METRICS_CSV, buf.getvalue())
    write_json(out_dir / METRICS_JSON, history)


def _cpu_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.detach().cpu().clone() if torch.is_tensor(v) else v) for k, v in state.items()}


# ---------------------------------------------------------------------------------------------
# fit


def fit(
    model: nn.Module,
    train_set: Any,
    eval_set: Any | None,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    model_name: str,
    resume: bool = False,
    loss_fn: LossFn | None = None,
    on_epoch_end: EpochHook | None = None,
    on_step: StepHook | None = None,
    teacher: nn.Module | None = None,
    kd: KDConfig | None = None,
    state_dict_fn: StateDictFn | None = None,
    compression: dict[str, Any] | None = None,
    model_config: dict[str, Any] | None = None,
    extra_train_config: dict[str, Any] | None = None,
    dir_augment: DeviceIRAugment | None = None,
) -> Checkpoint:
    """Train ``model`` on ``train_set`` (a FeatureSet) and write ``out_dir/last.pt`` after every epoch.

    Args:
        model: an already-built module (possibly wrapped with pruning masks / fake-quant).
            Input (N, 1, F, T) log-mel, output logits. Global FreqNorm statistics are computed
            here from ``train_set`` for any not-yet-fitted ``GlobalFreqNorm`` inside it.
        eval_set: evaluated after every ``config.eval_every`` epochs and after the last one
            (per-device metrics in the CSV/JSON); None skips evaluation.
        model_name / model_config: recorded in the checkpoint so that
            ``create_model(model_name, **model_config)`` rebuilds it; ``model_config``
            defaults to ``model.config.to_dict()``.
        resume: continue from ``out_dir/last.pt`` if present. Without it an existing
            ``last.pt`` is an error (nothing finished is overwritten by accident).
        loss_fn: ``loss_fn(logits, soft_targets, inputs) -> scalar`` replaces the default
            soft-target cross-entropy. ``inputs`` are the augmented (rolled, masked, mixed)
            inputs the student saw, so a KD loss can run its teacher on exactly them.
        teacher / kd: built-in knowledge distillation when ``loss_fn`` is None: the teacher
            (eval mode, no grad) sees the same augmented inputs; loss = :func:`kd_loss`.
        on_step: ``hook(step, total_steps, model)`` before each training step (a pruning schedule); it must
            be a function of the step alone, so that a resumed run repeats it exactly.
        on_epoch_end: ``hook(epoch, metrics_row, model)`` after each epoch's checkpoint
            (rank 0 and others alike); a truthy return stops training (the checkpoint of that
            epoch is already on disk and resumable).
        state_dict_fn: ``fn(model) -> state_dict`` stored as ``Checkpoint.state_dict`` (e.g.
            masks folded into weights); the raw state is then kept in ``resume`` as well.
        compression: stored as ``Checkpoint.compression``.
        extra_train_config: merged into ``Checkpoint.train_config``.
        dir_augment: device impulse-response augmentation of device-A clips (waveform, exact);
            it reads the clips' audio by ``train_set.filenames``.

    Returns the final :class:`~tinyasc.contract.Checkpoint` (also at ``out_dir/last.pt``).
    Raises :class:`NonFiniteLoss` (an ``InputError``) when the loss is NaN/inf; the last good
    checkpoint stays. Under ``torch.distributed`` the model is wrapped in DDP, each rank
    takes its share of every global batch, and rank 0 alone writes files.
    """
    out_dir = Path(out_dir)
    ckpt_path = out_dir / CHECKPOINT_NAME
    rank, world = dist_info()
    base = unwrap(model)
    if model_config is None:
        cfg_obj = getattr(base, "config", None)
        model_config = cfg_obj.to_dict() if hasattr(cfg_obj, "to_dict") else {}
    feature_config = train_set.feature_config
    n_classes = len(SCENE_LABELS)
    device = _resolve_device(config)

    norm_stats = _fit_norm_stats(base, train_set)
    n_params = sum(p.numel() for p in base.parameters() if p.requires_grad)
    specaugment = config.specaugment_for(n_params)
    roll_frames = int(round(config.roll_seconds * 1000.0 / feature_config.hop_ms))
    train_config = {**config.to_dict(), "specaugment_resolved": specaugment, "world_size": world,
                    "roll_frames": roll_frames, **({"kd": dataclasses.asdict(kd)} if kd else {}),
                    **(extra_train_config or {})}

    base.to(device)
    if teacher is not None:
        teacher.to(device).eval()
        kd = kd or KDConfig()
    optimizer = torch.optim.SGD(base.parameters(), lr=0.0, momentum=config.momentum, weight_decay=config.weight_decay)

    start_epoch, history = 0, []
    if ckpt_path.exists():
        if not resume:
            raise InputError(ckpt_path, "exists; resume it (--resume) or choose another output directory")
        start_epoch, history, done = _load_resume(ckpt_path, base, optimizer, model_name, model_config, config)
        if done is not None:
            return done
    elif resume:
        log.info("no %s to resume; starting from epoch 1", ckpt_path)

    train_model: nn.Module = base
    if world > 1:
        train_model = nn.parallel.DistributedDataParallel(base, device_ids=[device.index] if device.type == "cuda" else None)

    n = len(train_set)
    steps = len(epoch_batches(n, seed=config.seed, epoch=0, batch_size=config.batch_size, world=world,
                              cap=config.steps_per_epoch))
    if steps == 0:
        raise InputError(getattr(train_set, "path", None), f"training set has {n} clips: too few for one batch")
    total_steps = steps * config.epochs
    warmup_steps = int(round(config.warmup_epochs * steps))
    ckpt: Checkpoint | None = None

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for epoch in range(start_epoch, config.epochs):
            t0 = time.perf_counter()
            torch.manual_seed(derive_seed(config.seed, epoch, 1_000_000 + rank))  # dropout masks
            batches = epoch_batches(n, seed=config.seed, epoch=epoch, batch_size=config.batch_size, world=world,
                                    cap=config.steps_per_epoch)
            source = EpochBatches(train_set.features, train_set.labels, [b[rank::world] for b in batches],
                                  seed=config.seed, epoch=epoch, n_classes=n_classes, roll_frames=roll_frames,
                                  specaugment=specaugment, config=config, dir_augment=dir_augment,
                                  filenames=train_set.filenames, devices=train_set.devices)
            loader = torch.utils.data.DataLoader(source, batch_size=None, shuffle=False, num_workers=config.num_workers)
            sums = torch.zeros(3, dtype=torch.float64)  # loss * count, correct, count
            train_model.train()
            bar = _progress(loader, enabled=config.progress and rank == 0, desc=f"epoch {epoch + 1}/{config.epochs}")
            lr = 0.0
            for i, (x, soft, y) in enumerate(bar):
                step = epoch * steps + i
                lr = learning_rate(step, total_steps=total_steps, warmup_steps=warmup_steps, peak=config.lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                x, soft, y = x.to(device), soft.to(device), y.to(device)
                if on_step is not None:
                    on_step(step, total_steps, base)
                logits = train_model(x)
                if loss_fn is not None:
                    loss = loss_fn(logits, soft, x)
                elif teacher is not None:
                    with torch.no_grad():
                        t_logits = teacher(x)
                    loss = kd_loss(logits, soft, t_logits, kd)
                else:
                    loss = soft_cross_entropy(logits, soft)
                check = loss.detach().reshape(1).double().cpu()
                if world > 1:
                    dist.all_reduce(check)
                if not torch.isfinite(check).all():
                    raise NonFiniteLoss(
                        ckpt_path,
                        f"loss became {float(check[0])} at epoch {epoch + 1} step {i + 1}; stopped, the last good "
                        f"checkpoint (epoch {epoch}) is kept" + ("" if epoch else " (none yet)"),
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                b = x.shape[0]
                sums += torch.tensor([float(loss.detach()) * b, float((logits.detach().argmax(1) == y).sum()), b],
                                     dtype=torch.float64)
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{float(loss.detach()):.3f}", lr=f"{lr:.4f}")
            if world > 1:
                dist.all_reduce(sums)
            seconds = time.perf_counter() - t0
            row: dict[str, Any] = {
                "epoch": epoch + 1, "lr": lr,
                "train_loss": float(sums[0] / max(1.0, float(sums[2]))),
                "train_acc": float(sums[1] / max(1.0, float(sums[2]))),
                "train_seconds": seconds, "clips_per_s": float(sums[2]) / seconds if seconds > 0 else None,
            }
            eval_metrics = None
            last = epoch + 1 == config.epochs
            if rank == 0 and eval_set is not None and ((epoch + 1) % config.eval_every == 0 or last):
                result = evaluate(base, eval_set, batch_size=config.eval_batch_size, device=device)
                eval_metrics = result.metrics.to_dict()
                row.update(eval_loss=eval_metrics["log_loss"], eval_acc=eval_metrics["overall"],
                           eval_seen=eval_metrics["seen_mean"], eval_unseen=eval_metrics["unseen_mean"])
                row.update({f"acc_{d}": eval_metrics["per_device"].get(d) for d in DEVICES})
            history.append(row)
            ckpt = Checkpoint(
                model_name=model_name,
                model_config=dict(model_config),
                feature_config=feature_config,
                labels=SCENE_LABELS,
                state_dict=_cpu_state(state_dict_fn(base) if state_dict_fn else base.state_dict()),
                train_config=train_config,
                metrics={**row, **({"eval": eval_metrics} if eval_metrics else {})},
                compression=compression,
                norm_stats=norm_stats,
                resume={
                    "epoch": epoch + 1,
                    "history": history,
                    "optimizer": optimizer.state_dict(),
                    "model_state": _cpu_state(base.state_dict()) if state_dict_fn else None,
                },
            )
            if rank == 0:
                _save(ckpt, ckpt_path)
                _write_metrics(out_dir, history)
                log.info("epoch %d/%d: loss %.4f acc %.3f%s (%.1f s)", epoch + 1, config.epochs, row["train_loss"],
                         row["train_acc"],
                         f", eval acc {row['eval_acc']:.3f} loss {row['eval_loss']:.3f}" if "eval_acc" in row else "",
                         seconds)
            if world > 1:
                dist.barrier()
            if on_epoch_end is not None and on_epoch_end(epoch + 1, row, base):
                log.info("stopped by on_epoch_end after epoch %d", epoch + 1)
                break
    assert ckpt is not None
    return ckpt


def _progress(loader: Any, *, enabled: bool, desc: str) -> Any:
    if not enabled:
        return loader
    from tqdm import tqdm

    return tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)


def _save(ckpt: Checkpoint, path: Path) -> None:
    try:
        ckpt.save(path)
    except OSError as exc:
        raise InputError(path, f"could not write checkpoint ({exc.strerror or exc}); the previous one is kept") from None


def _fit_norm_stats(base: nn.Module, train_set: Any) -> dict[str, Any] | None:
    from tinyasc.model.norm import GlobalFreqNorm

    stats = None
    for module in base.modules():
        if isinstance(module, GlobalFreqNorm):
            if not int(module.fitted):
                mean, std = global_freq_stats(train_set.features)
                module.set_stats(torch.from_numpy(mean), torch.from_numpy(std))
                log.info("Global FreqNorm statistics computed from %d training clips", len(train_set))
            stats = {"global_freqnorm": {"mean": module.mean.tolist(), "std": module.std.tolist()}}
    return stats


def _load_resume(path: Path, base: nn.Module, optimizer: torch.optim.Optimizer, model_name: str,
                 model_config: dict[str, Any], config: TrainConfig) -> tuple[int, list[dict[str, Any]], Checkpoint | None]:
    ckpt = Checkpoint.load(path)
    if ckpt.model_name != model_name or ckpt.model_config != dict(model_config):
        raise InputError(path, f"holds {ckpt.model_name} {ckpt.model_config}, not {model_name} {dict(model_config)}; "
                               "cannot resume a different model")
    if not ckpt.resume:
        raise InputError(path, "has no resume state (exported or compressed checkpoint?)")
    saved = TrainConfig.from_dict(ckpt.train_config)
    ignore = {"progress", "num_workers", "device", "eval_batch_size"}
    diff = [f.name for f in dataclasses.fields(TrainConfig)
            if f.name not in ignore and getattr(saved, f.name) != getattr(config, f.name)]
    if diff:
        raise InputError(path, f"was trained with a different config ({', '.join(diff)}); resume needs the same")
    try:
        base.load_state_dict(ckpt.resume.get("model_state") or ckpt.state_dict)
        optimizer.load_state_dict(ckpt.resume["optimizer"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise InputError(path, f"resume state does not fit the model ({str(exc).splitlines()[0]})") from None
    epoch = int(ckpt.resume["epoch"])
    log.info("resuming %s after epoch %d", path, epoch)
    return epoch, list(ckpt.resume.get("history", [])), (ckpt if epoch >= config.epochs else None)
