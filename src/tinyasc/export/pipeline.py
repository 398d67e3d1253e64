"""``asc-export --int8``: checkpoint -> ONNX -> float/integer TFLite -> C array, with parity gates.

onnx2tf writes an int8 file and a 16x8 file (int16 activations) in one conversion; each integer
file considered for deployment is a :class:`Candidate`, evaluated by :func:`evaluate_candidate`
(arena, three runtimes, parity, size audit, gates). ``ExportConfig.activations`` says which is
deployed (``auto``: int8 when it passes, else 16x8); the report names it in ``deployed``.

Every artifact is built in a hidden temporary directory beside ``out_dir`` and renamed into
place at the end, ``report.json`` written last: a killed export leaves no directory that
looks finished. A failed gate still delivers the artifacts, with ``status: failed``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinyasc import atomic
from tinyasc.contract import TFLITE_CONTRACT_KEY, Checkpoint, DeployedContract
from tinyasc.errors import InputError
from tinyasc.audit import audit
from tinyasc.export.calibrate import Calibration, calibrate_int8
from tinyasc.export.carray import bytes_from_c_array, c_array
from tinyasc.export.convert import ConversionError, convert
from tinyasc.model.export_form import ExportForm, export_form
from tinyasc.export.interpreters import Runtime, run_litert, run_onnx, run_tflm, run_torch, to_nhwc
from tinyasc.export.precision import REPORT_NAME, Activations
from tinyasc.export.report import render_markdown
from tinyasc.export.tflite_graph import GraphInfo, dequantize, graph_info
from tinyasc.export.xnnpack import xnnpack_refusals
from tinyasc.tflite_io import TFLiteModel, parse_model, tflm
from tinyasc.metrics import device_accuracy

log = logging.getLogger(__name__)

REPORT_SCHEMA = "tinyasc-export-report/2"
"""2: ``deployed`` and ``candidates``; the integer file's section is ``quantized`` (was ``int8``), the
parity runtimes ``litert_default`` / ``litert_ref`` / ``tflm`` under ``quantized_vs_pytorch``."""
ONNX_NAME, FLOAT_NAME = "model.onnx", "model_float.tflite"
ONNX_OPSET = 17


@dataclass(frozen=True, kw_only=True)
class ExportConfig:
    """Options of ``asc-export --int8``."""

    activations: Activations = Activations.INT8
    """Activation precision of the deployed file: ``int8``; ``int16`` (onnx2tf's 16x8 file, int16
    activations and int8 weights: closer to PyTorch, ~1.8x the TFLM arena); ``auto`` (int8 when it
    passes every gate, else the 16x8 file; if neither passes, the higher gated agreement)."""
    calib_clips: int = 200
    """Training clips used to calibrate the activation ranges (evenly spread over the split)."""
    calibration: Calibration = Calibration.PERCENTILE
    """How the int8 file's activation ranges are chosen: the converter's min/max, or clipped to a percentile
    (rewritten in the ``.tflite``; see :mod:`tinyasc.export.calibrate`). The 16x8 file always keeps the
    converter's min/max ranges."""
    calib_percentiles: tuple[float, ...] = (100.0, 99.9999, 99.999, 99.99)
    """Candidate percentiles of each activation's calibration values to clip its int8 range to
    (``percentile``); the one whose int8 file is closest to the float file on as many other training
    clips is kept (100: min/max). One value: that percentile."""
    parity_clips: int | None = None
    """Evaluation clips of the parity table (None: the whole evaluation split)."""
    clip_seconds: float | None = None
    """Export at this clip length instead of the checkpoint's (the network is convolutional along
    time): the file's input, its deployed contract and the calibration/parity features (clips
    zero-padded or cropped) all use it. None: the checkpoint's clip length."""
    form: ExportForm = ExportForm.EQUALIZED
    """Export form of the model (see :mod:`tinyasc.model.export_form`)."""
    gate_agreement: float = 0.99
    """Minimum top-1 agreement of the integer model (TFLM reference kernels) with PyTorch, over the clips
    whose PyTorch top-1 margin is at least ``gate_margin_steps`` output quantization steps."""
    gate_margin_steps: float = 1.0
    """Clips with a smaller float top-1 margin (in output steps of the evaluated file: int8 or int16) are left
    out of the agreement gate: output rounding alone can reorder them. 0 gates the raw agreement over every clip."""
    gate_accuracy_drop: float = 0.005
    """Maximum overall-accuracy drop (fraction) of the integer model against PyTorch."""
    gate_sim_agreement: float = 0.995
    """QAT checkpoints: minimum top-1 agreement of the int8 file under TFLite Micro with the checkpoint's integer
    simulation, over every parity clip."""
    gate_sim_within_one_step: float = 0.99
    """QAT checkpoints: minimum fraction of logits within one output step of the integer simulation's."""
    gate_float_drop: float = 0.01
    """QAT checkpoints: maximum overall-accuracy drop (fraction) of the int8 file under TFLite Micro against the
    uncompressed float model (``reference``): pruning and quantization together, as the paper's Table 4."""
    reference: Path | None = None
    """QAT checkpoints: the uncompressed float checkpoint the accuracy gate compares with (default: the student
    the compressed checkpoint records; when that file is gone, the checkpoint's own float weights, with a warning)."""
    budget_bytes: int = 128_000
    """Non-zero parameter budget of the integer file (DCASE 2021: 128 KB read as 128,000 bytes)."""
    float_tol: float = 1e-4
    """Max |logit difference| for ONNX vs PyTorch and float TFLite vs ONNX, times max(1, max|logit|)."""
    form_tol: float = 1e-3
    """Max |logit difference| between the export form and the model as trained, times max(1, max|logit|)
    (every form is exact up to float32 reassociation: ~1e-6 measured)."""
    debug_layers: bool = False
    """Also measure the per-layer SQNR of the deployed file's vs the float file's activations."""
    debug_clips: int = 16
    """Clips used by ``debug_layers``."""
    keep_int16: bool = False
    """Also evaluate onnx2tf's 16x8 file when it is not the deployed one and keep it in the output
    (``model_int16x8.tflite``, a ``candidates`` entry): beside the int8 file in ``int8`` mode, and even
    when the int8 file passes in ``auto`` mode. No effect in ``int16`` mode, which deploys it."""
    force: bool = False
    """Replace an existing output directory."""
    cache_dir: Path | None = None
    """Feature cache directory (default: the dataset's own ``.tinyasc_cache``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.activations, Activations):
            object.__setattr__(self, "activations", Activations(self.activations))
        if not isinstance(self.form, ExportForm):
            object.__setattr__(self, "form", ExportForm(self.form))
        if not isinstance(self.calibration, Calibration):
            object.__setattr__(self, "calibration", Calibration(self.calibration))
        object.__setattr__(self, "calib_percentiles", tuple(float(p) for p in self.calib_percentiles))
        if not self.calib_percentiles or not all(50.0 < p <= 100.0 for p in self.calib_percentiles):
            raise ValueError(f"calib_percentiles must be in (50, 100], got {list(self.calib_percentiles)}")
        if self.calib_clips < 1:
            raise ValueError("calib_clips must be >= 1")
        if self.parity_clips is not None and self.parity_clips < 1:
            raise ValueError("parity_clips must be >= 1")
        if self.clip_seconds is not None and not 0.0 < self.clip_seconds <= 600.0:
            raise ValueError(f"clip_seconds must be in (0, 600], got {self.clip_seconds}")
        if not 0.0 <= self.gate_agreement <= 1.0 or not 0.0 <= self.gate_accuracy_drop <= 1.0:
            raise ValueError("gates are fractions in [0, 1]")
        if not 0.0 <= self.gate_margin_steps <= 255.0:
            raise ValueError("gate_margin_steps must be in [0, 255] output steps")


@dataclass(kw_only=True)
class ExportResult:
    out_dir: Path
    report: dict[str, Any]
    passed: bool
    deployed: Path
    """The deployed ``.tflite`` in ``out_dir`` (``report["deployed"]``)."""
    failed_gates: list[str] = field(default_factory=list)


def _spread(n_total: int, n: int | None) -> np.ndarray:
    """``n`` indices evenly spread over ``range(n_total)`` (all when n is None or larger)."""
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(int))


def _nchw(features: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.asarray(features[idx], dtype=np.float32)[:, None, :, :]


def _float_check(ref: np.ndarray, got: np.ndarray, tol: float) -> dict[str, Any]:
    diff = np.abs(ref.astype(np.float64) - got.astype(np.float64))
    limit = tol * max(1.0, float(np.abs(ref).max()))
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()), "tolerance": limit,
            "top1_agreement": float((ref.argmax(1) == got.argmax(1)).mean()), "n_clips": int(len(ref)),
            "passed": bool(diff.max() <= limit)}


def load_model(ckpt: Checkpoint, path: Path):
    """The checkpoint's architecture with its weights loaded strictly, in eval mode (bad weights: InputError)."""
    import torch

    from tinyasc.model import create_model

    try:
        model = create_model(ckpt.model_name, **ckpt.model_config)
        model.load_state_dict(ckpt.state_dict, strict=True)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise InputError(path, f"weights do not fit {ckpt.model_name} ({str(exc).splitlines()[0][:200]})") from None
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    return model.eval()


def _features(dataset: str | Path, split: str, ckpt: Checkpoint, cache_dir: Path | None = None):
    from tinyasc.data.cache import build_feature_set
    from tinyasc.data.tau import load_tau

    ds = load_tau(dataset)
    if split == "train" and not ds.splits.get("train"):
        raise InputError(dataset, "no training split to calibrate on (evaluation_setup/fold1_train.csv is empty)")
    fs = build_feature_set(ds, split, ckpt.feature_config, cache_dir=cache_dir, progress=False)
    if fs.features.shape[1] != ckpt.feature_config.n_mels:
        raise InputError(dataset, f"features have {fs.features.shape[1]} mel bins, model wants {ckpt.feature_config.n_mels}")
    return fs


def export_onnx(model, example: np.ndarray, path: Path) -> None:
    """Batch-1 ONNX graph, input ``input`` (1, 1, F, T), output ``logits``."""
    import torch

    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(example[:1]),), str(path), input_names=["input"],
                          output_names=["logits"], opset_version=ONNX_OPSET, dynamo=False, do_constant_folding=True)


def parity_stats(ref_logits: np.ndarray, codes: np.ndarray, out_scale: float, out_zp: int,
                 margin_steps: float = 1.0, *, dtype: str = "INT8") -> dict[str, Any]:
    """Agreement and logit error (in output quantization steps) of integer outputs vs float logits.

    An integer output holds each logit to half a step, so a clip whose float top-1 margin is under
    one step can change its top-1 by output rounding alone, however exact the graph before it:
    ``output_rounding_ceiling`` is the agreement of the float logits rounded to the output grid of
    type ``dtype`` (the best any graph with that output can do), ``top1_agreement_resolvable`` the
    agreement on the clips whose float margin is at least ``margin_steps`` steps
    (``resolvable_fraction`` of them). An int16 output step is two to three orders of magnitude finer
    than an int8 one, so for a 16x8 file nearly every clip is resolvable and errors read large in steps.
    """
    from tinyasc.qmath import quantize

    deq = (codes.astype(np.float64) - out_zp) * out_scale
    steps = np.abs(deq - ref_logits) / out_scale
    agree = deq.argmax(1) == ref_logits.argmax(1)
    top2 = np.sort(ref_logits, axis=1)[:, -2:]
    resolvable = (top2[:, 1] - top2[:, 0]) >= margin_steps * out_scale
    ceiling = quantize(ref_logits, out_scale, out_zp, dtype=dtype).argmax(1) == ref_logits.argmax(1)
    return {"top1_agreement": float(agree.mean()),
            "top1_agreement_resolvable": float(agree[resolvable].mean()) if resolvable.any() else None,
            "resolvable_fraction": float(resolvable.mean()), "margin_steps": float(margin_steps),
            "output_rounding_ceiling": float(ceiling.mean()),
            "logit_err_steps_max": float(steps.max()), "logit_err_steps_mean": float(steps.mean()),
            "logit_err_steps_p99": float(np.percentile(steps, 99)), "n_clips": int(len(ref_logits))}


def _paired_drop_stderr(labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Standard error of ``acc(a) - acc(b)`` on the same clips, from the discordant pairs.

    With ``b`` clips right only for ``a`` and ``c`` right only for ``b`` out of ``n``:
    ``sqrt(b + c - (b - c)**2 / n) / n``. A drop gate tighter than about two of these is noise.
    """
    ra, rb = pred_a == labels, pred_b == labels
    n, b, c = len(labels), int((ra & ~rb).sum()), int((~ra & rb).sum())
    return float(np.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n) if n else 0.0


def _gate(name: str, value: Any, threshold: Any, passed: bool, detail: str = "") -> dict[str, Any]:
    return {"name": name, "value": value, "threshold": threshold, "passed": bool(passed), "detail": detail}


def _write_log_only(out_dir: Path, log_path: Path, onnx_path: Path | None, force: bool) -> None:
    if out_dir.exists() and force:
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(log_path, out_dir / "onnx2tf.log")
    if onnx_path is not None and onnx_path.is_file():
        shutil.copy2(onnx_path, out_dir / ONNX_NAME)


@dataclass(frozen=True, kw_only=True)
class ParityClips:
    """What every candidate is compared with: the parity clips and the model's PyTorch logits on them."""

    x_graph: np.ndarray
    """Evaluation clips as the exported graph takes them (NCHW, lifted input ResNorm applied)."""
    logits: np.ndarray
    """PyTorch logits of the model as trained, on the same clips."""
    labels: np.ndarray
    """Scene label index per clip."""
    devices: np.ndarray
    """Recording device per clip."""
    float_reference: np.ndarray | None = None
    """QAT checkpoints: the uncompressed float model's predicted class per clip (the accuracy gate's reference);
    ``logits`` are then the integer simulation's."""
    float_reference_name: str = ""

    def accuracy(self, predictions: np.ndarray) -> dict[str, Any]:
        """Table-3 accuracy of ``predictions`` (the confusion matrix left out of the report)."""
        acc = device_accuracy(self.labels, self.devices, predictions=predictions).to_dict()
        acc.pop("confusion", None)
        return acc

    @functools.cached_property
    def reference_accuracy(self) -> dict[str, Any]:
        """PyTorch's Table-3 accuracy: every candidate's drop is measured from it."""
        return self.accuracy(self.logits.argmax(1))


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One integer ``.tflite`` evaluated against PyTorch: everything that decides whether it is deployed."""

    activations: Activations
    """Its activation precision."""
    path: Path
    """The file, in the export's temporary directory."""
    graph: GraphInfo
    """Its op set, tensor types and input/output quantization."""
    violations: list[str]
    """Why it is not a full-integer graph of its precision (empty: it is)."""
    arena: int | None
    """Smallest TFLite Micro arena in bytes (None: not searched, the graph is not full-integer)."""
    tflm_vs_ref: int
    """Largest output code difference between TFLite Micro and ai-edge-litert's reference kernels."""
    accuracy: dict[str, dict[str, Any]]
    """Table-3 accuracy per integer runtime (``litert_default``, ``litert_ref``, ``tflm``: :class:`Runtime`)."""
    vs_pytorch: dict[str, dict[str, Any]]
    """:func:`parity_stats` per integer runtime, in the file's own output steps."""
    accuracy_drop: float
    """PyTorch overall accuracy minus the reference kernels'."""
    accuracy_drop_stderr: float
    """Standard error of that paired difference."""
    audit: dict[str, Any]
    """Size audit of the file (:func:`tinyasc.audit.audit`, with its Markdown table)."""
    calibration: dict[str, Any]
    """How its activation ranges were chosen (the report's ``calibration`` when deployed)."""
    gates: list[dict[str, Any]]
    """Its own gates: full-integer op set, top-1 agreement, accuracy drop, size budget."""
    timings: dict[str, float]
    """Seconds spent evaluating it, keyed for the report's ``timings``."""
    notes: list[str] = field(default_factory=list)
    """What a user of the file should know that no gate decides (e.g. what LiteRT's XNNPACK delegate refuses)."""

    @property
    def failed_gates(self) -> list[str]:
        return [g["name"] for g in self.gates if not g["passed"]]

    @property
    def passed(self) -> bool:
        return not self.failed_gates

    @property
    def gated_agreement(self) -> float | None:
        """The value the agreement gate compared (None: no resolvable clip)."""
        return next(g["value"] for g in self.gates if g["name"] == "top1_agreement")

    def section(self) -> dict[str, Any]:
        """The report's ``quantized`` section (for the deployed candidate)."""
        return {"file": self.path.name, "activations": self.activations.value, "bytes": self.path.stat().st_size,
                **self.graph.to_dict(), "violations": self.violations, "tflm_arena_bytes": self.arena,
                "tflm_vs_litert_ref_max_code_diff": self.tflm_vs_ref}

    def summary(self, *, deployed: bool, kept: bool) -> dict[str, Any]:
        """One entry of the report's ``candidates``."""
        ref = self.vs_pytorch[Runtime.LITERT_REF.value]
        return {"activations": self.activations.value, "file": self.path.name, "deployed": deployed, "kept": kept,
                "passed": self.passed, "failed_gates": self.failed_gates, "gates": self.gates,
                "gated_agreement": self.gated_agreement, "top1_agreement": ref["top1_agreement"],
                "top1_agreement_resolvable": ref["top1_agreement_resolvable"], "accuracy_drop": self.accuracy_drop,
                "accuracy_drop_stderr": self.accuracy_drop_stderr, "tflm_arena_bytes": self.arena,
                "bytes": self.path.stat().st_size, "nonzero_bytes": self.audit["totals"]["nonzero_bytes"],
                "calibration": {k: v for k, v in self.calibration.items() if k != "changes"}, "parity": self.vs_pytorch,
                "notes": self.notes}


def evaluate_candidate(path: Path, activations: Activations, calibration: dict[str, Any], clips: ParityClips,
                       config: ExportConfig) -> Candidate:
    """Arena bisection, ai-edge-litert (default and reference kernels) and TFLite Micro runs, parity
    with PyTorch, size audit and gates of the integer file ``path``."""
    label = activations.label
    model = parse_model(path.read_bytes(), path)
    graph = graph_info(model)
    violations = graph.full_integer_violations(activations.tensor_type)
    qout = graph.outputs[0]
    timings: dict[str, float] = {}
    t = time.perf_counter()
    arena = tflm.min_arena(path) if not violations else None
    timings[f"{label}_arena_bisection_s"] = time.perf_counter() - t
    notes: list[str] = []
    t = time.perf_counter()
    codes = {Runtime.LITERT_DEFAULT.value: _run_litert_default(path, model, clips.x_graph, notes),
             Runtime.LITERT_REF.value: run_litert(path, clips.x_graph, reference=True, raw=True),
             Runtime.TFLM.value: run_tflm(path, clips.x_graph, arena_size=arena or 4 * path.stat().st_size + (1 << 20),
                                          raw=True)}
    timings[f"{label}_inference_s"] = time.perf_counter() - t
    accuracy = {k: clips.accuracy(dequantize(c, qout).argmax(1)) for k, c in codes.items()}
    vs_pytorch = {k: parity_stats(clips.logits, c, qout.scale, qout.zero_point, config.gate_margin_steps, dtype=qout.dtype)
                  for k, c in codes.items()}
    ref_codes = codes[Runtime.LITERT_REF.value]
    rep = audit(path, budget_bytes=config.budget_bytes)
    audit_dict = {**rep.to_dict(), "markdown": rep.to_markdown()}
    if clips.float_reference is not None and activations is Activations.INT8:
        tflm_codes = codes[Runtime.TFLM.value]
        drop, drop_se, gates = _qat_gates(clips, tflm_codes, accuracy[Runtime.TFLM.value], vs_pytorch[Runtime.TFLM.value],
                                          qout, violations, rep.nonzero_bytes, config)
    else:
        drop = clips.reference_accuracy["overall"] - accuracy[Runtime.LITERT_REF.value]["overall"]
        drop_se = _paired_drop_stderr(clips.labels, clips.logits.argmax(1), ref_codes.argmax(1))
        gates = _candidate_gates(activations, violations, vs_pytorch[Runtime.LITERT_REF.value], drop, drop_se,
                                 rep.nonzero_bytes, config)
    return Candidate(activations=activations, path=path, graph=graph, violations=violations, arena=arena,
                     tflm_vs_ref=int(np.abs(codes[Runtime.TFLM.value].astype(int) - ref_codes.astype(int)).max()),
                     accuracy=accuracy, vs_pytorch=vs_pytorch, accuracy_drop=drop, accuracy_drop_stderr=drop_se,
                     audit=audit_dict, calibration=calibration, gates=gates, timings=timings, notes=notes)


def _run_litert_default(path: Path, model: TFLiteModel, x_graph: np.ndarray, notes: list[str]) -> np.ndarray:
    """Output codes under ai-edge-litert's default kernels (``model``: ``path`` read): with its XNNPACK delegate, or,
    where the delegate refuses the file (:func:`xnnpack_refusals`, or its own error), its built-in kernels without
    it, said in ``notes``."""
    why = xnnpack_refusals(model)
    if not why:
        try:
            return run_litert(path, x_graph, reference=False, raw=True)
        except RuntimeError as exc:  # a bound of the delegate's that xnnpack_refusals does not know
            why = [str(exc).strip()]
    notes.append(f"LiteRT's XNNPACK delegate (its default on CPUs) refuses {path.name}: {'; '.join(why)}; its "
                 f"{Runtime.LITERT_DEFAULT.value} figures are LiteRT's built-in kernels without the delegate "
                 f"(TensorFlow Lite Micro has no such bound)")
    log.warning("%s", notes[-1])
    return run_litert(path, x_graph, reference=False, raw=True, delegate=False)


def _qat_gates(clips: ParityClips, tflm_codes: np.ndarray, tflm_acc: dict[str, Any], vs_sim: dict[str, Any], qout: Any,
               violations: list[str], nonzero_bytes: float, config: ExportConfig) -> tuple[float, float, list[dict[str, Any]]]:
    """Gates of an int8 file carrying QAT's parameters: TFLite Micro against the integer simulation (every clip,
    every logit), and against the uncompressed float model's accuracy (with the unseen-device drop beside it)."""
    deq = dequantize(tflm_codes, qout)
    within = float((np.abs(deq.astype(np.float64) - clips.logits) <= 1.0001 * qout.scale).mean())
    ref_acc = clips.accuracy(clips.float_reference)
    drop = ref_acc["overall"] - tflm_acc["overall"]
    drop_se = _paired_drop_stderr(clips.labels, clips.float_reference, deq.argmax(1))
    unseen = None if ref_acc.get("unseen_mean") is None or tflm_acc.get("unseen_mean") is None else \
        ref_acc["unseen_mean"] - tflm_acc["unseen_mean"]
    agree = vs_sim["top1_agreement"]
    return drop, drop_se, [
        _gate("full_integer_graph", len(violations), 0, not violations, "; ".join(violations)),
        _gate("top1_agreement", agree, config.gate_sim_agreement, agree >= config.gate_sim_agreement,
              f"int8 file (TFLite Micro) vs the checkpoint's integer simulation, all {vs_sim['n_clips']} clips "
              f"(clips with a margin >= {vs_sim['margin_steps']:g} output step: "
              f"{'-' if vs_sim['top1_agreement_resolvable'] is None else format(vs_sim['top1_agreement_resolvable'], '.4f')}, "
              f"{vs_sim['resolvable_fraction']:.1%} of them)"),
        _gate("logits_within_one_step", within, config.gate_sim_within_one_step, within >= config.gate_sim_within_one_step,
              f"fraction of logits within 1 output step of the integer simulation's (max {vs_sim['logit_err_steps_max']:.2f}, "
              f"mean {vs_sim['logit_err_steps_mean']:.3f} steps)"),
        _gate("accuracy_drop", drop, config.gate_float_drop, drop <= config.gate_float_drop + 1e-12,
              f"{clips.float_reference_name} overall {ref_acc['overall']:.4f} - int8 file (TFLite Micro) "
              f"{tflm_acc['overall']:.4f} (standard error {drop_se:.4f}); unseen devices: "
              f"{'-' if unseen is None else format(unseen, '+.4f')}"),
        _gate("size_budget", nonzero_bytes, config.budget_bytes, nonzero_bytes <= config.budget_bytes, "non-zero bytes"),
    ]


def _candidate_gates(activations: Activations, violations: list[str], ref: dict[str, Any], drop: float, drop_se: float,
                     nonzero_bytes: float, config: ExportConfig) -> list[dict[str, Any]]:
    label = activations.label
    gated = ref["top1_agreement"] if config.gate_margin_steps == 0 else ref["top1_agreement_resolvable"]
    agrees = gated is not None and gated >= config.gate_agreement
    hint = ("; --activations int16 (or auto) deploys int16 activations instead, at ~1.8x the TFLM arena"
            if not agrees and activations is config.activations is Activations.INT8 else "")
    return [
        _gate("full_integer_graph", len(violations), 0, not violations, "; ".join(violations)),
        _gate("top1_agreement", gated, config.gate_agreement, agrees,
              f"{label} (TFLM reference kernels) vs PyTorch on the {ref['resolvable_fraction']:.1%} of clips with a float "
              f"top-1 margin >= {config.gate_margin_steps:g} output steps (all clips: {ref['top1_agreement']:.4f}; "
              f"output rounding alone allows {ref['output_rounding_ceiling']:.4f}){hint}"),
        _gate("accuracy_drop", drop, config.gate_accuracy_drop, drop <= config.gate_accuracy_drop + 1e-12,
              f"PyTorch overall - {label} overall (standard error of the paired difference: {drop_se:.4f})"),
        _gate("size_budget", nonzero_bytes, config.budget_bytes, nonzero_bytes <= config.budget_bytes, "non-zero bytes"),
    ]


def _choose(candidates: list[Candidate], mode: Activations) -> tuple[Candidate, str]:
    """The candidate to deploy and why. ``auto``: the int8 file when it passes every gate (smallest arena),
    else the 16x8 file when it does; when neither does, the higher gated agreement (int8 on a tie)."""
    by = {c.activations: c for c in candidates}
    if mode is not Activations.AUTO:
        return by[mode], f"--activations {mode.value}"
    int8 = by[Activations.INT8]
    if int8.passed:
        return int8, "auto: the int8 file passed every gate"
    int16 = by[Activations.INT16]
    failed = f"the int8 file failed {', '.join(int8.failed_gates)}"
    if int16.passed:
        return int16, f"auto: {failed}; the {int16.activations.label} file passed every gate"
    best = max((int8, int16), key=lambda c: -1.0 if c.gated_agreement is None else c.gated_agreement)
    return best, (f"auto: {failed} and the {int16.activations.label} file failed {', '.join(int16.failed_gates)}; "
                  f"deployed the higher gated agreement ({_fmt_agreement(int8)} int8, "
                  f"{_fmt_agreement(int16)} {int16.activations.label})")


def _fmt_agreement(c: Candidate) -> str:
    return "n/a" if c.gated_agreement is None else f"{c.gated_agreement:.4f}"


def _needs_int16(config: ExportConfig, candidates: list[Candidate]) -> bool:
    """Whether the 16x8 file is evaluated: deployed, asked for beside int8, or ``auto`` after a failed int8."""
    if config.activations is Activations.INT16 or config.keep_int16:
        return True
    return config.activations is Activations.AUTO and not candidates[0].passed


def _calibrate_int8(float_path: Path, int8_path: Path, train: np.ndarray, calib_idx: np.ndarray,
                    prepare: Callable[[np.ndarray], np.ndarray], config: ExportConfig, warnings: list[str]) -> dict[str, Any]:
    """Activation ranges of the int8 file (``config.calibration``, rewritten in place); the report's ``calibration``.

    ``train``: the training features; the calibration clips are ``calib_idx``, as many others choose
    among the candidate ranges. A warning goes to ``warnings`` when the converter's ranges had to be kept.
    """
    calib = _nchw(train, calib_idx)
    if config.calibration is not Calibration.PERCENTILE:
        return {"method": Calibration.MINMAX.value, "clips": int(len(calib))}
    rest = np.setdiff1d(np.arange(len(train)), calib_idx)
    select = _nchw(train, rest[_spread(len(rest), config.calib_clips)]) if len(rest) else calib
    try:
        return calibrate_int8(float_path, int8_path, to_nhwc(prepare(calib)), config.calib_percentiles,
                              to_nhwc(prepare(select)))
    except ValueError as exc:  # float and int8 graphs that cannot be matched: keep the converter's ranges
        msg = f"percentile calibration not applied, the converter's min/max ranges kept: {exc}"
        log.warning(msg)
        warnings.append(msg)
        return {"method": Calibration.MINMAX.value, "clips": int(len(calib))}


def _int16_calibration(clips: int) -> dict[str, Any]:
    """The 16x8 file keeps the converter's ranges whatever ``--calibration`` says, and the report says why."""
    return {"method": Calibration.MINMAX.value, "clips": clips,
            "reason": "int16 activations keep the converter's min/max ranges: percentile clipping (int8 only) trades "
                      "outliers for resolution, which 65,536 levels do not need"}


def export_int8(checkpoint: str | Path, dataset: str | Path, out_dir: str | Path, config: ExportConfig = ExportConfig()) -> ExportResult:
    """Run the whole export; raises :class:`InputError` on bad input, returns the gated result otherwise."""
    t_start = time.perf_counter()
    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    if out_dir.exists() and not config.force:
        raise InputError(out_dir, "output directory exists (use --force to replace it)")
    ckpt = Checkpoint.load(checkpoint)
    if config.clip_seconds is not None:
        ckpt.feature_config = dataclasses.replace(ckpt.feature_config, clip_seconds=float(config.clip_seconds))
    model = load_model(ckpt, checkpoint)
    warnings: list[str] = []
    int8_model = _int8_model(ckpt, checkpoint, config, warnings)
    train = _features(dataset, "train", ckpt, config.cache_dir)
    evaluate = _features(dataset, "evaluate", ckpt, config.cache_dir)
    calib_idx = _spread(len(train), config.calib_clips)
    calib = _nchw(train.features, calib_idx)
    par_idx = _spread(len(evaluate), config.parity_clips)
    x_eval = _nchw(evaluate.features, par_idx)
    labels, devices = np.asarray(evaluate.labels)[par_idx], np.asarray(evaluate.devices)[par_idx]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    timings: dict[str, float] = {}
    try:
        work = tmp / "_work"
        work.mkdir()
        t = time.perf_counter()
        if int8_model is not None:  # the checkpoint's int8 model: its export form, weights on their int8 grid
            emodel, form_info = int8_model.float_graph(), _form_info(ckpt.int8["form"])
        else:
            try:
                emodel, form_info = export_form(model, config.form, calib, x_eval[: min(16, len(x_eval))])
            except ValueError as exc:  # a form the model cannot take (equalized-lifted without an input ResNorm)
                raise InputError(checkpoint, str(exc)) from None
        x_graph = form_info.prepare(x_eval)  # what the exported graph takes (lifted input ResNorm applied)
        onnx_path = tmp / ONNX_NAME
        export_onnx(emodel, x_graph, onnx_path)
        timings["onnx_export_s"] = time.perf_counter() - t

        t = time.perf_counter()
        if int8_model is not None:  # "as trained" is the int8 model with its activations left in float
            logits_pt = _run_int8(int8_model, x_graph, quantize=False)
        else:
            logits_pt = run_torch(model, x_eval)
        logits_form = logits_pt if config.form is ExportForm.AS_TRAINED and int8_model is None else run_torch(emodel, x_graph)
        logits_onnx = run_onnx(onnx_path, x_graph)
        timings["float_inference_s"] = time.perf_counter() - t
        form_check = _float_check(logits_pt, logits_form, config.form_tol)
        onnx_check = _float_check(logits_form, logits_onnx, config.float_tol)

        calib_path = work / "calib.npy"
        np.save(calib_path, np.ascontiguousarray(np.transpose(form_info.prepare(calib), (0, 2, 3, 1))))
        t = time.perf_counter()
        log_path = tmp / "onnx2tf.log"
        try:
            contract = DeployedContract(feature_config=ckpt.feature_config, labels=tuple(ckpt.labels),
                                        input_resnorm=form_info.input_resnorm)
            files = convert(onnx_path, calib_path, work / "onnx2tf", log_path,
                            metadata={TFLITE_CONTRACT_KEY: contract.to_json()})
        except ConversionError as err:
            _write_log_only(out_dir, log_path, onnx_path, config.force)
            raise InputError(checkpoint, f"onnx2tf failed: {err.summary} (full log: {out_dir / 'onnx2tf.log'})") from None
        timings["onnx2tf_s"] = time.perf_counter() - t
        shutil.copy2(files.float32, tmp / FLOAT_NAME)
        logits_tfl = run_litert(tmp / FLOAT_NAME, x_graph)
        tflite_check = _float_check(logits_onnx, logits_tfl, config.float_tol)
        clips = ParityClips(x_graph=x_graph, logits=logits_pt, labels=labels, devices=devices)
        int8_clips = clips
        if int8_model is not None:
            t = time.perf_counter()
            ref_name, ref_pred = _float_reference(ckpt, checkpoint, config, x_eval, logits_pt, warnings)
            int8_clips = ParityClips(x_graph=x_graph, logits=_run_int8(int8_model, x_graph, quantize=True), labels=labels,
                                     devices=devices, float_reference=ref_pred, float_reference_name=ref_name)
            timings["integer_simulation_s"] = time.perf_counter() - t

        candidates: list[Candidate] = []
        if config.activations is not Activations.INT16:
            int8_path = tmp / f"{Activations.INT8.stem}.tflite"
            shutil.copy2(files.int8, int8_path)
            t = time.perf_counter()
            if int8_model is not None:
                calibration = _carry_qat(tmp / FLOAT_NAME, int8_path, int8_model, x_eval[:1], checkpoint)
            else:
                calibration = _calibrate_int8(tmp / FLOAT_NAME, int8_path, train.features, calib_idx, form_info.prepare,
                                              config, warnings)
            timings["calibration_s"] = time.perf_counter() - t
            candidates.append(evaluate_candidate(int8_path, Activations.INT8, calibration, int8_clips, config))
        if _needs_int16(config, candidates):
            if files.int16_act is None:
                _write_log_only(out_dir, log_path, onnx_path, config.force)
                raise InputError(checkpoint, f"onnx2tf wrote no 16x8 (int16-activation) file, needed by --activations "
                                             f"{config.activations.value}{' --int16-variant' if config.keep_int16 else ''} "
                                             f"(full log: {out_dir / 'onnx2tf.log'})")
            int16_path = tmp / f"{Activations.INT16.stem}.tflite"
            shutil.copy2(files.int16_act, int16_path)
            candidates.append(evaluate_candidate(int16_path, Activations.INT16, _int16_calibration(len(calib)), clips,
                                                 config))
        chosen, reason = _choose(candidates, config.activations)
        log.info("deployed %s: %s", chosen.path.name, reason)
        warnings.extend(chosen.notes)
        for c in candidates:
            timings.update(c.timings)

        layers = None
        if config.debug_layers:
            from tinyasc.export.debug_layers import layer_sqnr

            t = time.perf_counter()
            layers = [e.to_dict() for e in layer_sqnr(tmp / FLOAT_NAME, chosen.path, x_graph[: config.debug_clips])]
            timings["debug_layers_s"] = time.perf_counter() - t

        ident, stem = "asc_model", chosen.activations.stem
        data = chosen.path.read_bytes()
        carr = c_array(data, name=ident, header_name=f"{stem}.h", inp=chosen.graph.inputs[0],
                       out=chosen.graph.outputs[0], labels=ckpt.labels, input_resnorm=form_info.input_resnorm)
        atomic.write_text(tmp / f"{stem}.h", carr.header)
        atomic.write_text(tmp / f"{stem}.c", carr.source)
        roundtrip = bytes_from_c_array((tmp / f"{stem}.c").read_text()) == data

        if len(np.unique(logits_pt.argmax(1))) == 1:
            warnings.append("the PyTorch model predicts a single class on every parity clip: the agreement gate "
                            "is vacuous (a collapsed checkpoint?)")
        gates = [
            _gate("export_form_vs_as_trained", form_check["max_abs_diff"], form_check["tolerance"], form_check["passed"],
                  "max |dlogit|, PyTorch export form vs model as trained"),
            _gate("onnx_vs_pytorch", onnx_check["max_abs_diff"], onnx_check["tolerance"], onnx_check["passed"], "max |dlogit|"),
            _gate("tflite_float_vs_onnx", tflite_check["max_abs_diff"], tflite_check["tolerance"], tflite_check["passed"], "max |dlogit|"),
            *chosen.gates,
            _gate("c_array_roundtrip", roundtrip, True, roundtrip),
        ]
        failed = [g["name"] for g in gates if not g["passed"]]
        keep = [c is chosen or (config.keep_int16 and c.activations is Activations.INT16) for c in candidates]
        summaries = [c.summary(deployed=c is chosen, kept=k) for c, k in zip(candidates, keep)]
        for c, k in zip(candidates, keep):
            if not k:
                c.path.unlink()
        float_accuracy = {Runtime.PYTORCH.value: clips.reference_accuracy,
                          Runtime.ONNXRUNTIME.value: clips.accuracy(logits_onnx.argmax(1)),
                          Runtime.TFLITE_FLOAT.value: clips.accuracy(logits_tfl.argmax(1))}
        timings["total_s"] = time.perf_counter() - t_start
        report: dict[str, Any] = {
            "schema": REPORT_SCHEMA,
            "status": "failed" if failed else "passed",
            "failed_gates": failed,
            "gates": gates,
            "warnings": warnings,
            "deployed": {"file": chosen.path.name, "activations": chosen.activations.value, "reason": reason},
            "candidates": summaries,
            "checkpoint": {"path": str(checkpoint), **{k: v for k, v in ckpt.meta().items() if k != "train_config"}},
            "dataset": {"path": str(dataset), "calib_clips": int(len(calib)), "parity_clips": int(len(x_eval))},
            "config": {k: (v.value if hasattr(v, "value") else str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()},
            "export_form": {**form_info.to_dict(), "vs_as_trained": form_check},
            "onnx": {"file": ONNX_NAME, "opset": ONNX_OPSET, "bytes": onnx_path.stat().st_size, "vs_pytorch": onnx_check},
            "tflite_float": {"file": FLOAT_NAME, "bytes": (tmp / FLOAT_NAME).stat().st_size, "vs_onnx": tflite_check},
            "calibration": chosen.calibration,
            "quantized": chosen.section(),
            "c_array": {"files": [f"{stem}.h", f"{stem}.c"], "symbol": f"g_{ident}", "roundtrip_identical": roundtrip},
            "parity": {"accuracy": {**float_accuracy, **chosen.accuracy},
                       "quantized_vs_pytorch": chosen.vs_pytorch, "accuracy_drop": chosen.accuracy_drop,
                       "accuracy_drop_stderr": chosen.accuracy_drop_stderr},
            "audit": chosen.audit,
            "debug_layers": layers,
            "timings": timings,
            "onnx2tf_version": _version("onnx2tf"),
        }
        shutil.rmtree(work)
        atomic.write_text(tmp / "report.md", render_markdown(report))
        atomic.write_json(tmp / REPORT_NAME, report)  # last: its presence marks a finished export
        _install(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("export %s: %s", report["status"], out_dir)
    return ExportResult(out_dir=out_dir, report=report, passed=not failed, failed_gates=failed,
                        deployed=out_dir / chosen.path.name)


def _int8_model(ckpt: Checkpoint, path: Path, config: ExportConfig, warnings: list[str]):
    """The checkpoint's int8 model (QAT's parameters), or None with the reason in ``warnings``."""
    if ckpt.int8 is None:
        if ckpt.compression is None:
            msg = "checkpoint is not compressed: exported as a float-trained model, integer by post-training calibration only"
        else:
            msg = ("checkpoint carries no QAT scales (compressed without int8 QAT): the int8 file's activation ranges are "
                   "calibrated after the fact, and its parity is measured against the float model")
        log.warning(msg)
        warnings.append(msg)
        return None
    from tinyasc.model.int8 import int8_from_checkpoint

    model = int8_from_checkpoint(ckpt, path)
    form = ckpt.int8["form"]["form"]
    if config.form.value != form:
        msg = f"export form {form} taken from the checkpoint's int8 model (--form {config.form.value} does not apply)"
        log.info(msg)
        warnings.append(msg)
    return model


def _form_info(form: dict[str, Any]):
    from tinyasc.model.export_form import FormInfo

    rn = form.get("input_resnorm")
    return FormInfo(form=ExportForm(form["form"]), bn_folded=int(form.get("bn_folded", 0)),
                    max_abs_diff=float(form.get("max_abs_diff_vs_as_trained", 0.0)),
                    freq_means_scaled=int(form.get("freq_means_scaled", 0)),
                    subspectral_equalized=int(form.get("subspectral_equalized", 0)),
                    input_resnorm=None if rn is None else (float(rn["lambda"]), float(rn["eps"])))


def _run_int8(model, x_graph: np.ndarray, *, quantize: bool, batch: int = 32) -> np.ndarray:
    """Logits of the int8 model's graph on graph inputs: the integer simulation, or (``quantize`` False) the same
    network with its activations left in float (weights on their int8 grid)."""
    import torch

    points = model.points().values()
    for aq in points:
        aq.quantize = quantize
    try:
        with torch.no_grad():
            return np.concatenate([model.graph.eval()(torch.from_numpy(np.ascontiguousarray(x_graph[i : i + batch])))
                                   .numpy() for i in range(0, len(x_graph), batch)])
    finally:
        for aq in points:
            aq.quantize = True


def _float_reference(ckpt: Checkpoint, path: Path, config: ExportConfig, x_eval: np.ndarray, fallback: np.ndarray,
                     warnings: list[str]) -> tuple[str, np.ndarray]:
    """The uncompressed float model's predictions (the accuracy gate's reference) and its name."""
    ref = config.reference or ckpt.train_config.get("student")
    if ref and Path(ref).is_file():
        ref_ckpt = Checkpoint.load(ref)
        if config.clip_seconds is not None:
            ref_ckpt.feature_config = dataclasses.replace(ref_ckpt.feature_config, clip_seconds=float(config.clip_seconds))
        if ref_ckpt.compression or tuple(ref_ckpt.labels) != tuple(ckpt.labels) or ref_ckpt.feature_config != ckpt.feature_config:
            raise InputError(ref, "is not the uncompressed float model of this checkpoint (compressed, other labels or features)")
        return f"uncompressed float model ({Path(ref).name})", run_torch(load_model(ref_ckpt, Path(ref)), x_eval).argmax(1)
    msg = (f"the uncompressed float model ({ref or 'not recorded'}) is not available: the accuracy gate compares with the "
           f"checkpoint's own float weights (pass --reference)")
    log.warning(msg)
    warnings.append(msg)
    return "the checkpoint's float weights", fallback.argmax(1)


def _carry_qat(float_path: Path, int8_path: Path, model, probe: np.ndarray, checkpoint: Path) -> dict[str, Any]:
    from tinyasc.export.qat_params import ParamsMismatch, carry_params

    try:
        return carry_params(float_path, int8_path, model, probe).to_dict()
    except ParamsMismatch as exc:
        raise InputError(checkpoint, str(exc)) from None


def _version(pkg: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    with contextlib.suppress(PackageNotFoundError):
        return version(pkg)
    return None


def _install(tmp: Path, out_dir: Path) -> None:
    """Rename the finished ``tmp`` onto ``out_dir`` (an old one is moved aside, then removed)."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
