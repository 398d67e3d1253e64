"""``asc-export --int8``: checkpoint -> ONNX -> float/int8 TFLite -> C array, with parity gates.

Every artifact is built in a hidden temporary directory beside ``out_dir`` and renamed into
place at the end, ``report.json`` written last: a killed export leaves no directory that
looks finished. A failed gate still delivers the artifacts, with ``status: failed``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc import atomic
from tinyasc.contract import TFLITE_CONTRACT_KEY, Checkpoint, DeployedContract
from tinyasc.errors import InputError
from tinyasc.export.calibrate import Calibration, calibrate_int8
from tinyasc.export.carray import bytes_from_c_array, c_array
from tinyasc.export.convert import ConversionError, convert
from tinyasc.export.export_form import ExportForm, export_form
from tinyasc.export.interpreters import min_tflm_arena, run_litert, run_onnx, run_tflm, run_torch, to_nhwc
from tinyasc.export.report import render_markdown
from tinyasc.export.tflite_graph import read_graph
from tinyasc.metrics import device_accuracy

log = logging.getLogger(__name__)

REPORT_SCHEMA = "tinyasc-export-report/1"
ONNX_NAME, FLOAT_NAME, INT8_NAME = "model.onnx", "model_float.tflite", "model_int8.tflite"
INT16_NAME = "model_int16act.tflite"
ONNX_OPSET = 17


@dataclass(frozen=True, kw_only=True)
class ExportConfig:
    """Options of ``asc-export --int8``."""

    calib_clips: int = 200
    """Training clips used to calibrate the int8 activations (evenly spread over the split)."""
    calibration: Calibration = Calibration.PERCENTILE
    """How activation ranges are chosen: the converter's min/max, or clipped to a percentile (rewritten in
    the ``.tflite``; see :mod:`tinyasc.export.calibrate`)."""
    calib_percentiles: tuple[float, ...] = (100.0, 99.9999, 99.999, 99.99)
    """Candidate percentiles of each activation's calibration values to clip its int8 range to
    (``percentile``); the one whose int8 file is closest to the float file on as many other training
    clips is kept (100: min/max). One value: that percentile."""
    parity_clips: int | None = None
    """Evaluation clips of the parity table (None: the whole evaluation split)."""
    form: ExportForm = ExportForm.EQUALIZED
    """Export form of the model (see :mod:`tinyasc.export.export_form`)."""
    gate_agreement: float = 0.99
    """Minimum top-1 agreement of the int8 model (TFLM reference kernels) with PyTorch, over the clips
    whose PyTorch top-1 margin is at least ``gate_margin_steps`` output quantization steps."""
    gate_margin_steps: float = 1.0
    """Clips with a smaller float top-1 margin (in int8 output steps) are left out of the agreement gate:
    output rounding alone can reorder them. 0 gates the raw agreement over every clip."""
    gate_accuracy_drop: float = 0.005
    """Maximum overall-accuracy drop (fraction) of the int8 model against PyTorch."""
    budget_bytes: int = 128_000
    """Non-zero parameter budget of the int8 file (DCASE 2021: 128 KB read as 128,000 bytes)."""
    float_tol: float = 1e-4
    """Max |logit difference| for ONNX vs PyTorch and float TFLite vs ONNX, times max(1, max|logit|)."""
    form_tol: float = 1e-3
    """Max |logit difference| between the export form and the model as trained, times max(1, max|logit|)
    (every form is exact up to float32 reassociation: ~1e-6 measured)."""
    debug_layers: bool = False
    """Also measure the per-layer SQNR of int8 vs float activations."""
    debug_clips: int = 16
    """Clips used by ``debug_layers``."""
    keep_int16: bool = False
    """Also keep (and measure) onnx2tf's int16-activation variant."""
    force: bool = False
    """Replace an existing output directory."""
    cache_dir: Path | None = None
    """Feature cache directory (default: the dataset's own ``.tinyasc_cache``)."""

    def __post_init__(self) -> None:
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
        if not 0.0 <= self.gate_agreement <= 1.0 or not 0.0 <= self.gate_accuracy_drop <= 1.0:
            raise ValueError("gates are fractions in [0, 1]")
        if not 0.0 <= self.gate_margin_steps <= 255.0:
            raise ValueError("gate_margin_steps must be in [0, 255] output steps")


@dataclass(kw_only=True)
class ExportResult:
    out_dir: Path
    report: dict[str, Any]
    passed: bool
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


def parity_stats(ref_logits: np.ndarray, int8_codes: np.ndarray, out_scale: float, out_zp: int,
                 margin_steps: float = 1.0) -> dict[str, Any]:
    """Agreement and logit error (in output quantization steps) of int8 outputs vs float logits.

    An int8 output holds each logit to half a step, so a clip whose float top-1 margin is under
    one step can change its top-1 by output rounding alone, however exact the graph before it:
    ``output_rounding_ceiling`` is the agreement of the float logits rounded to the output grid
    (the best any int8 graph can do), ``top1_agreement_resolvable`` the agreement on the clips
    whose float margin is at least ``margin_steps`` steps (``resolvable_fraction`` of them).
    """
    from tinyasc.qmath import quantize

    deq = (int8_codes.astype(np.float64) - out_zp) * out_scale
    steps = np.abs(deq - ref_logits) / out_scale
    agree = deq.argmax(1) == ref_logits.argmax(1)
    top2 = np.sort(ref_logits, axis=1)[:, -2:]
    resolvable = (top2[:, 1] - top2[:, 0]) >= margin_steps * out_scale
    ceiling = quantize(ref_logits, out_scale, out_zp).argmax(1) == ref_logits.argmax(1)
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


def export_int8(checkpoint: str | Path, dataset: str | Path, out_dir: str | Path, config: ExportConfig = ExportConfig()) -> ExportResult:
    """Run the whole export; raises :class:`InputError` on bad input, returns the gated result otherwise."""
    t_start = time.perf_counter()
    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    if out_dir.exists() and not config.force:
        raise InputError(out_dir, "output directory exists (use --force to replace it)")
    ckpt = Checkpoint.load(checkpoint)
    model = load_model(ckpt, checkpoint)
    warnings: list[str] = []
    if ckpt.compression is None:
        msg = "checkpoint is not compressed: exported as a float-trained model, int8 by post-training calibration only"
        log.warning(msg)
        warnings.append(msg)
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
        try:
            emodel, form_info = export_form(model, config.form, calib, x_eval[: min(16, len(x_eval))])
        except ValueError as exc:  # a form the model cannot take (equalized-lifted without an input ResNorm)
            raise InputError(checkpoint, str(exc)) from None
        x_graph = form_info.prepare(x_eval)  # what the exported graph takes (lifted input ResNorm applied)
        onnx_path = tmp / ONNX_NAME
        export_onnx(emodel, x_graph, onnx_path)
        timings["onnx_export_s"] = time.perf_counter() - t

        t = time.perf_counter()
        logits_pt = run_torch(model, x_eval)
        logits_form = logits_pt if config.form is ExportForm.AS_TRAINED else run_torch(emodel, x_graph)
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
        shutil.copy2(files.int8, tmp / INT8_NAME)
        if config.keep_int16 and files.int16_act is not None:
            shutil.copy2(files.int16_act, tmp / INT16_NAME)
        int8_path = tmp / INT8_NAME
        calibration = {"method": Calibration.MINMAX.value, "clips": int(len(calib))}
        if config.calibration is Calibration.PERCENTILE:
            t = time.perf_counter()
            rest = np.setdiff1d(np.arange(len(train)), calib_idx)  # held-out clips choosing among calibrations
            select = _nchw(train.features, rest[_spread(len(rest), config.calib_clips)]) if len(rest) else calib
            try:
                calibration = calibrate_int8(tmp / FLOAT_NAME, int8_path, to_nhwc(form_info.prepare(calib)),
                                             config.calib_percentiles, to_nhwc(form_info.prepare(select)))
            except ValueError as exc:  # float and int8 graphs that cannot be matched: keep the converter's ranges
                msg = f"percentile calibration not applied, the converter's min/max ranges kept: {exc}"
                log.warning(msg)
                warnings.append(msg)
            timings["calibration_s"] = time.perf_counter() - t
        data = int8_path.read_bytes()

        logits_tfl = run_litert(tmp / FLOAT_NAME, x_graph)
        tflite_check = _float_check(logits_onnx, logits_tfl, config.float_tol)

        graph = read_graph(data)
        violations = graph.full_integer_violations()
        qin, qout = graph.inputs[0], graph.outputs[0]

        t = time.perf_counter()
        arena = min_tflm_arena(int8_path) if not violations else None
        timings["arena_bisection_s"] = time.perf_counter() - t
        t = time.perf_counter()
        codes_default = run_litert(int8_path, x_graph, reference=False, raw=True)
        codes_ref = run_litert(int8_path, x_graph, reference=True, raw=True)
        codes_tflm = run_tflm(int8_path, x_graph, arena_size=arena or 4 * len(data) + (1 << 20), raw=True)
        timings["int8_inference_s"] = time.perf_counter() - t

        def deq(c: np.ndarray) -> np.ndarray:
            return (c.astype(np.float32) - qout.zero_point) * qout.scale

        runtimes = {"pytorch": logits_pt, "onnxruntime": logits_onnx, "tflite_float": logits_tfl,
                    "int8_litert_default": deq(codes_default), "int8_litert_ref": deq(codes_ref), "int8_tflm": deq(codes_tflm)}
        accuracy = {k: device_accuracy(labels, devices, predictions=v.argmax(1)).to_dict() for k, v in runtimes.items()}
        for acc in accuracy.values():
            acc.pop("confusion", None)
        int8_vs_pt = {k: parity_stats(logits_pt, c, qout.scale, qout.zero_point, config.gate_margin_steps)
                      for k, c in (("int8_litert_default", codes_default), ("int8_litert_ref", codes_ref), ("int8_tflm", codes_tflm))}
        tflm_vs_ref = int(np.abs(codes_tflm.astype(int) - codes_ref.astype(int)).max())

        int16 = None
        if config.keep_int16 and files.int16_act is not None:
            int16 = _int16_summary(tmp / INT16_NAME, x_graph, logits_pt)

        layers = None
        if config.debug_layers:
            from tinyasc.export.debug_layers import layer_sqnr

            t = time.perf_counter()
            layers = [e.to_dict() for e in layer_sqnr(tmp / FLOAT_NAME, int8_path, x_graph[: config.debug_clips])]
            timings["debug_layers_s"] = time.perf_counter() - t

        audit_dict, nz_bytes = None, None
        try:
            from tinyasc.export.audit import audit
        except ImportError:  # the auditor is another stage's file
            warnings.append("size auditor unavailable: budget gate not evaluated")
        else:
            rep = audit(int8_path, budget_bytes=config.budget_bytes)
            audit_dict = rep.to_dict()
            audit_dict["markdown"] = rep.to_markdown()
            nz_bytes = rep.nonzero_bytes

        ident = "asc_model"
        carr = c_array(data, name=ident, header_name="model_int8.h", inp=qin, out=qout, labels=ckpt.labels,
                       input_resnorm=form_info.input_resnorm)
        atomic.write_text(tmp / "model_int8.h", carr.header)
        atomic.write_text(tmp / "model_int8.c", carr.source)
        roundtrip = bytes_from_c_array((tmp / "model_int8.c").read_text()) == data

        n_pred = len(np.unique(logits_pt.argmax(1)))
        if n_pred == 1:
            warnings.append("the PyTorch model predicts a single class on every parity clip: the agreement gate "
                            "is vacuous (a collapsed checkpoint?)")
        ref = int8_vs_pt["int8_litert_ref"]
        gated_agreement = ref["top1_agreement"] if config.gate_margin_steps == 0 else ref["top1_agreement_resolvable"]
        drop = accuracy["pytorch"]["overall"] - accuracy["int8_litert_ref"]["overall"]
        drop_se = _paired_drop_stderr(labels, logits_pt.argmax(1), codes_ref.argmax(1))
        gates = [
            _gate("export_form_vs_as_trained", form_check["max_abs_diff"], form_check["tolerance"], form_check["passed"],
                  "max |dlogit|, PyTorch export form vs model as trained"),
            _gate("onnx_vs_pytorch", onnx_check["max_abs_diff"], onnx_check["tolerance"], onnx_check["passed"], "max |dlogit|"),
            _gate("tflite_float_vs_onnx", tflite_check["max_abs_diff"], tflite_check["tolerance"], tflite_check["passed"], "max |dlogit|"),
            _gate("full_integer_graph", len(violations), 0, not violations, "; ".join(violations)),
            _gate("top1_agreement", gated_agreement, config.gate_agreement,
                  gated_agreement is not None and gated_agreement >= config.gate_agreement,
                  f"int8 (TFLM reference kernels) vs PyTorch on the {ref['resolvable_fraction']:.1%} of clips with a float "
                  f"top-1 margin >= {config.gate_margin_steps:g} output steps (all clips: {ref['top1_agreement']:.4f}; "
                  f"output rounding alone allows {ref['output_rounding_ceiling']:.4f})"),
            _gate("accuracy_drop", drop, config.gate_accuracy_drop, drop <= config.gate_accuracy_drop + 1e-12,
                  f"PyTorch overall - int8 overall (standard error of the paired difference: {drop_se:.4f})"),
            _gate("c_array_roundtrip", roundtrip, True, roundtrip),
        ]
        if nz_bytes is not None:
            gates.append(_gate("size_budget", nz_bytes, config.budget_bytes, nz_bytes <= config.budget_bytes, "non-zero bytes"))
        failed = [g["name"] for g in gates if not g["passed"]]
        timings["total_s"] = time.perf_counter() - t_start
        report: dict[str, Any] = {
            "schema": REPORT_SCHEMA,
            "status": "failed" if failed else "passed",
            "failed_gates": failed,
            "gates": gates,
            "warnings": warnings,
            "checkpoint": {"path": str(checkpoint), **{k: v for k, v in ckpt.meta().items() if k != "train_config"}},
            "dataset": {"path": str(dataset), "calib_clips": int(len(calib)), "parity_clips": int(len(x_eval))},
            "config": {k: (v.value if hasattr(v, "value") else str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()},
            "export_form": {**form_info.to_dict(), "vs_as_trained": form_check},
            "onnx": {"file": ONNX_NAME, "opset": ONNX_OPSET, "bytes": onnx_path.stat().st_size, "vs_pytorch": onnx_check},
            "tflite_float": {"file": FLOAT_NAME, "bytes": (tmp / FLOAT_NAME).stat().st_size, "vs_onnx": tflite_check},
            "calibration": calibration,
            "int8": {"file": INT8_NAME, "bytes": len(data), **graph.to_dict(), "violations": violations,
                     "tflm_arena_bytes": arena, "tflm_vs_litert_ref_max_code_diff": tflm_vs_ref},
            "c_array": {"files": ["model_int8.h", "model_int8.c"], "symbol": f"g_{ident}", "roundtrip_identical": roundtrip},
            "parity": {"accuracy": accuracy, "int8_vs_pytorch": int8_vs_pt, "accuracy_drop": drop,
                       "accuracy_drop_stderr": drop_se},
            "int16_activations": int16,
            "audit": audit_dict,
            "debug_layers": layers,
            "timings": timings,
            "onnx2tf_version": _version("onnx2tf"),
        }
        shutil.rmtree(work)
        atomic.write_text(tmp / "report.md", render_markdown(report))
        atomic.write_json(tmp / "report.json", report)  # last: its presence marks a finished export
        _install(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("export %s: %s", report["status"], out_dir)
    return ExportResult(out_dir=out_dir, report=report, passed=not failed, failed_gates=failed)


def _int16_summary(path: Path, x_eval: np.ndarray, logits_pt: np.ndarray) -> dict[str, Any]:
    """Agreement and TFLM arena of the int16-activation variant (16x8 quantization)."""
    g = read_graph(path.read_bytes())
    res: dict[str, Any] = {"file": path.name, "bytes": path.stat().st_size, "op_counts": g.op_counts,
                           "input_dtype": g.inputs[0].dtype, "output_dtype": g.outputs[0].dtype}
    try:
        out = run_litert(path, x_eval, reference=True)
        res["litert_ref_top1_agreement"] = float((out.argmax(1) == logits_pt.argmax(1)).mean())
    except (RuntimeError, ValueError) as exc:
        res["litert_ref_error"] = str(exc).splitlines()[0][:200]
    try:
        res["tflm_arena_bytes"] = min_tflm_arena(path)
    except RuntimeError as exc:
        res["tflm_error"] = str(exc).splitlines()[0][:200]
    return res


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
