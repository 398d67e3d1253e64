"""Benchmark ``asc-export --int8``: parity table, host inference time per runtime, export wall time.

    nice python tools/bench_export.py --dataset /tmp/small --out bench/export [--checkpoint CKPT]

Without ``--checkpoint`` an ASC-1 is trained briefly here (a few hundred Adam steps on the
training split; this tool is not the export library, which never imports ``train``).
Writes ``bench_export.json`` and ``bench_export.md`` into ``--out``.

Export paths of one compressed model (``--paths``): a row per path, each exported by ``asc-export`` as a user runs it

    python tools/bench_export.py --paths --dataset DATA --out OUT --compress-dir RUN/compress \
        --reference RUN/student/last.pt --label "input-only student" [--latency]

* ``post-hoc``: the fine-tuned checkpoint before int8 QAT (``RUN/compress/finetuned.pt``), int8 file calibrated
  after the fact (percentile candidates);
* ``qat``: the compressed checkpoint (``RUN/compress/compressed.pt``), its QAT parameters written into the file;
* ``16x8``: the fine-tuned checkpoint as onnx2tf's int16-activation file.

Per row: top-1 agreement (TFLite Micro, all clips) and logit error in output steps against the path's own reference
(the integer simulation for ``qat``, the float model for the others), accuracy per device of the file under TFLite
Micro and of the uncompressed float model (``--reference``), TFLite Micro arena, and with ``--latency`` the emulated
Cortex-M4 instructions per inference of the library ``asc-firmware --target cortex-m4`` ships for that file.
Writes ``bench_export_paths.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import torch

from tinyasc import atomic
from tinyasc.contract import Checkpoint, FeatureConfig
from tinyasc.data.cache import build_feature_set
from tinyasc.data.tau import load_tau
from tinyasc.export.calibrate import Calibration
from tinyasc.model.export_form import ExportForm
from tinyasc.export.interpreters import Runtime, run_litert, run_onnx, run_tflm, run_torch, time_per_clip
from tinyasc.export.pipeline import ExportConfig, load_model, export_int8
from tinyasc.export.precision import Activations
from tinyasc.export.report import runtime_title
from tinyasc.metrics import markdown_table, table3_header, table3_row

log = logging.getLogger("bench_export")


def brief_train(dataset: Path, fc: FeatureConfig, steps: int, activation: str, path: Path, seed: int = 0) -> Path:
    from tinyasc.model import create_model

    torch.manual_seed(seed)
    fs = build_feature_set(load_tau(dataset), "train", fc, progress=False)
    model = create_model("bcresnet_asc_1", activation=activation)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x = torch.from_numpy(np.asarray(fs.features, dtype=np.float32))[:, None]
    y = torch.from_numpy(np.asarray(fs.labels))
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        i = torch.randint(0, len(x), (32,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log.info("brief training step %d loss %.3f", step, float(loss))
    model.eval()
    Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(), feature_config=fc,
               state_dict=model.state_dict(), train_config={"brief_train_steps": steps, "seed": seed}).save(path)
    return path


def _m4_instructions(tflite: Path, out: Path) -> int | None:
    import subprocess
    import sys

    cmd = [str(Path(sys.executable).parent / "asc-latency"), str(tflite), "--target", "cortex-m4", "--out", str(out),
           "--no-frontend"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log.warning("asc-latency failed on %s: %s", tflite, (proc.stderr or proc.stdout).strip()[-300:])
        return None
    return int(json.loads((out / "latency.json").read_text())["total_instructions"])


def paths_main(args: argparse.Namespace) -> None:
    """One row per export path of the same compressed model (module docstring)."""
    from tinyasc.contract import input_resnorm
    from tinyasc.metrics import device_accuracy

    args.out.mkdir(parents=True, exist_ok=True)
    finetuned, compressed = args.compress_dir / "finetuned.pt", args.compress_dir / "compressed.pt"
    ref_ckpt = Checkpoint.load(args.reference)
    fs = build_feature_set(load_tau(args.dataset), "evaluate", ref_ckpt.feature_config, progress=False)
    x = np.asarray(fs.features, dtype=np.float32)[:, None]
    labels, devices = np.asarray(fs.labels), np.asarray(fs.devices)
    ref_pred = run_torch(load_model(ref_ckpt, args.reference), x).argmax(1)

    def acc(pred: np.ndarray) -> dict:
        d = device_accuracy(labels, devices, predictions=pred).to_dict()
        d.pop("confusion", None)
        return d

    ref_acc = acc(ref_pred)
    paths = [("post-hoc", finetuned, ExportConfig(activations=Activations.INT8, calib_clips=args.calib_clips, force=True)),
             ("qat", compressed, ExportConfig(activations=Activations.INT8, calib_clips=args.calib_clips, force=True,
                                              reference=args.reference)),
             ("16x8", finetuned, ExportConfig(activations=Activations.INT16, calib_clips=args.calib_clips, force=True))]
    rows = {}
    for name, ckpt_path, cfg in paths:
        form = Checkpoint.load(compressed).int8["form"]["form"]
        cfg = dataclasses.replace(cfg, form=ExportForm(form))
        out = args.out / f"export_{name}"
        t = time.perf_counter()
        res = export_int8(ckpt_path, args.dataset, out, cfg)
        wall = time.perf_counter() - t
        rep = res.report
        tflm = rep["parity"]["quantized_vs_pytorch"][Runtime.TFLM.value]
        lifted = rep["export_form"]["input_resnorm"]
        xg = x if lifted is None else input_resnorm(x, lifted["lambda"], lifted["eps"])
        pred = run_tflm(res.deployed, xg, arena_size=rep["quantized"]["tflm_arena_bytes"] or (1 << 21)).argmax(1)
        a = acc(pred)
        rows[name] = {
            "checkpoint": str(ckpt_path), "file": res.deployed.name, "status": rep["status"],
            "failed_gates": rep["failed_gates"], "export_wall_s": wall,
            "reference_of_agreement": "integer simulation" if name == "qat" else "PyTorch float model",
            "top1_agreement_all_clips": tflm["top1_agreement"], "logit_err_steps_mean": tflm["logit_err_steps_mean"],
            "logit_err_steps_max": tflm["logit_err_steps_max"], "accuracy_tflm": a,
            "drop_vs_uncompressed": ref_acc["overall"] - a["overall"],
            "unseen_drop_vs_uncompressed": (ref_acc["unseen_mean"] or 0) - (a["unseen_mean"] or 0),
            "tflm_arena_bytes": rep["quantized"]["tflm_arena_bytes"],
            "m4_instructions": _m4_instructions(res.deployed, args.out / f"latency_{name}") if args.latency else None,
        }
    compressed_ck = Checkpoint.load(compressed)
    int8_step = next((s for s in compressed_ck.compression["steps"] if s["name"].startswith("int8-qat")), {})
    ft_step = next((s for s in compressed_ck.compression["steps"] if s["name"].startswith("finetune")), {})
    results = {"machine": f"{platform.machine()} {platform.processor() or ''}, 2-core CPU", "label": args.label,
               "reference": str(args.reference), "reference_accuracy": ref_acc, "paths": rows,
               "int8_qat": {"seconds": int8_step.get("seconds"), "epochs": int8_step.get("epochs"),
                            "accuracy_integer_simulation": (int8_step.get("accuracy") or {}).get("overall"),
                            "accuracy_float_weights": (int8_step.get("accuracy_float_weights") or {}).get("overall")},
               "float_finetune": {"seconds": ft_step.get("seconds"), "epochs": ft_step.get("epochs"),
                                  "accuracy": (ft_step.get("accuracy") or {}).get("overall")}}
    atomic.write_json(args.out / "bench_export_paths.json", results)
    md = [f"# Export paths: {args.label} ({results['machine']})", "",
          f"Uncompressed float reference `{args.reference}`: {100 * ref_acc['overall']:.1f}% overall, "
          f"{100 * (ref_acc['unseen_mean'] or 0):.1f}% unseen devices.", "",
          markdown_table(["path", "file", "agreement (all clips, TFLM)", "vs", "logit err mean / max (steps)",
                          "acc % (TFLM)", "drop vs float (pt)", "unseen drop (pt)", "TFLM arena (B)", "M4 instructions"],
                         [[k, r["file"], f"{r['top1_agreement_all_clips']:.4f}", r["reference_of_agreement"],
                           f"{r['logit_err_steps_mean']:.3f} / {r['logit_err_steps_max']:.1f}",
                           f"{100 * r['accuracy_tflm']['overall']:.1f}", f"{100 * r['drop_vs_uncompressed']:+.1f}",
                           f"{100 * r['unseen_drop_vs_uncompressed']:+.1f}", f"{r['tflm_arena_bytes']:,}",
                           "-" if r["m4_instructions"] is None else f"{r['m4_instructions']:,}"] for k, r in rows.items()]),
          markdown_table(table3_header(), [table3_row("uncompressed float (PyTorch)", ref_acc),
                                           *[table3_row(f"{k} (TFLM)", r["accuracy_tflm"]) for k, r in rows.items()]]),
          f"Fine-tune (weights-only QAT + KD): {ft_step.get('epochs')} epochs, {ft_step.get('seconds') or 0:.0f} s, "
          f"float accuracy {100 * ((ft_step.get('accuracy') or {}).get('overall') or 0):.1f}%. int8 QAT + KD on the "
          f"export form: {int8_step.get('epochs')} epochs, {int8_step.get('seconds') or 0:.0f} s, integer simulation "
          f"{100 * (results['int8_qat']['accuracy_integer_simulation'] or 0):.1f}%, float weights "
          f"{100 * (results['int8_qat']['accuracy_float_weights'] or 0):.1f}%.", ""]
    atomic.write_text(args.out / "bench_export_paths.md", "\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", action="store_true", help="one row per export path of a compressed model (see above)")
    ap.add_argument("--compress-dir", type=Path, help="--paths: an asc-compress run directory")
    ap.add_argument("--reference", type=Path, help="--paths: the uncompressed float checkpoint")
    ap.add_argument("--label", default="model", help="--paths: what the model is (report title)")
    ap.add_argument("--latency", action="store_true", help="--paths: also measure Cortex-M4 instructions (QEMU)")
    ap.add_argument("--dataset", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--clip-seconds", type=float, default=2.0, help="clip length of the dataset (small synth: 2 s)")
    ap.add_argument("--train-steps", type=int, default=400)
    ap.add_argument("--activation", default="silu", choices=["silu", "relu"])
    ap.add_argument("--forms", default="fold,equalized,equalized-lifted", help="comma-separated export forms to benchmark")
    ap.add_argument("--calibrations", default="minmax,percentile",
                    help="comma-separated activation-range methods to benchmark with every form")
    ap.add_argument("--timing-clips", type=int, default=20)
    ap.add_argument("--calib-clips", type=int, default=200)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    if args.paths:
        if args.compress_dir is None or args.reference is None:
            ap.error("--paths needs --compress-dir and --reference")
        paths_main(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.checkpoint or brief_train(args.dataset, FeatureConfig(clip_seconds=args.clip_seconds),
                                               args.train_steps, args.activation, args.out / "asc1_brief.pt")
    ckpt = Checkpoint.load(ckpt_path)
    results = {"machine": f"{platform.machine()} {platform.processor() or ''}, 2-core CPU (shared)",
               "checkpoint": str(ckpt_path), "compressed": ckpt.compression is not None, "forms": {}}
    runs = [(ExportForm(f), Calibration(c)) for f in args.forms.split(",") for c in args.calibrations.split(",")]
    for form, calibration in runs:
        out = args.out / f"export_{form.value}_{calibration.value}"
        t = time.perf_counter()
        res = export_int8(ckpt_path, args.dataset, out, ExportConfig(form=form, calibration=calibration,
                                                                      calib_clips=args.calib_clips, debug_layers=True,
                                                                      keep_int16=True, force=True))
        wall = time.perf_counter() - t
        rep = res.report
        fs = build_feature_set(load_tau(args.dataset), "evaluate", ckpt.feature_config, progress=False)
        x = np.asarray(fs.features[: args.timing_clips], dtype=np.float32)[:, None]
        model = load_model(ckpt, ckpt_path)
        deployed = res.deployed
        arena = rep["quantized"]["tflm_arena_bytes"]
        timing = {
            Runtime.PYTORCH.value: time_per_clip(lambda v: run_torch(model, v, batch=1), x),
            Runtime.ONNXRUNTIME.value: time_per_clip(lambda v: run_onnx(out / "model.onnx", v), x),
            Runtime.LITERT_DEFAULT.value: time_per_clip(lambda v: run_litert(deployed, v, reference=False), x),
            Runtime.LITERT_REF.value: time_per_clip(lambda v: run_litert(deployed, v, reference=True), x),
            Runtime.TFLM.value: time_per_clip(lambda v: run_tflm(deployed, v, arena_size=arena), x),
        }
        results["forms"][f"{form.value} / {calibration.value}"] = {
                                        "export_wall_s": wall, "status": rep["status"], "failed_gates": rep["failed_gates"],
                                        "calibration": {k: v for k, v in rep["calibration"].items() if k != "changes"},
                                        "accuracy": rep["parity"]["accuracy"],
                                        "quantized_vs_pytorch": rep["parity"]["quantized_vs_pytorch"],
                                        "deployed": rep["deployed"], "tflm_arena_bytes": arena,
                                        "deployed_bytes": rep["quantized"]["bytes"], "n_ops": rep["quantized"]["n_ops"],
                                        "candidates": [{k: c[k] for k in ("activations", "gated_agreement", "top1_agreement",
                                                                          "accuracy_drop", "tflm_arena_bytes")}
                                                       for c in rep["candidates"]],
                                        "ms_per_clip": {k: 1000 * v for k, v in timing.items()},
                                        "timing_note": "includes interpreter/session creation once per call, amortized over clips",
                                        "worst_layers": sorted((d for d in rep["debug_layers"] if d["sqnr_db"] is not None),
                                                               key=lambda d: d["sqnr_db"])[:5]}
    atomic.write_json(args.out / "bench_export.json", results)
    md = [f"# asc-export benchmark ({results['machine']})", "", f"Checkpoint `{ckpt_path}` (compressed: {results['compressed']}).", ""]
    for form, r in results["forms"].items():
        label = Activations(r["deployed"]["activations"]).label
        md += [f"## export form / calibration `{form}` — {r['status']}, export wall time {r['export_wall_s']:.1f} s", "",
               markdown_table(table3_header(), [table3_row(runtime_title(k, label), v) for k, v in r["accuracy"].items()]),
               markdown_table(["runtime", "top-1 agreement vs PyTorch", "on resolvable clips", "output-rounding ceiling",
                               "max err (steps)", "mean err (steps)"],
                              [[runtime_title(k, label), f"{v['top1_agreement']:.4f}",
                                f"{v['top1_agreement_resolvable'] or 0:.4f} ({v['resolvable_fraction']:.1%})",
                                f"{v['output_rounding_ceiling']:.4f}", f"{v['logit_err_steps_max']:.1f}",
                                f"{v['logit_err_steps_mean']:.2f}"] for k, v in r["quantized_vs_pytorch"].items()]),
               markdown_table(["runtime", "ms / clip"], [[runtime_title(k, label), f"{v:.2f}"] for k, v in r["ms_per_clip"].items()]),
               f"Deployed `{r['deployed']['file']}`: TFLM arena {r['tflm_arena_bytes']:,} B, {r['deployed_bytes']:,} B, "
               f"{r['n_ops']} ops; candidates: {r['candidates']}", ""]
    atomic.write_text(args.out / "bench_export.md", "\n".join(md) + "\n")
    print(json.dumps({k: (v["status"], v["export_wall_s"]) for k, v in results["forms"].items()}))


if __name__ == "__main__":
    main()
