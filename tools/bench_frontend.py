"""Benchmark the C audio front end: accuracy against the training features, host time, sizes.

    nice python tools/bench_frontend.py --out bench/frontend [--dataset TAU_DIR] [--clips10 30]

Accuracy: every evaluation clip of ``asc-synth --scale tiny`` (1 s), the first ``--clips10``
evaluation clips of the same set synthesized at 10 s, and edge cases; each against
``tinyasc.data.features.logmel`` (float32 torch) and against a float64 numpy reference, so the
table says whose rounding an error is. The int8 scale/zero point are calibrated on the tiny
set's features as an exporter would: ``scale = (max - min) / 255``. Host time is
``tinyasc_frontend_quantized`` per clip (CPU time, gcc -O2). Sizes: tables and scratch from the
generator; code from ``arm-none-eabi-gcc -mcpu=cortex-m4 -O2`` when that compiler is present.
``--qemu cortex-m4,cortex-m7,cortex-m55``: ``tinyasc_frontend_run()`` on a 1 s and a 10 s
noise clip in QEMU (``harness.frontend_run.run_frontend_target``, the latency harness's boards and
counting plugin): exact instruction counts, the harness's cycle estimate, stack, and whether
the target's int8 output is bit-identical to the host build's.
``--model M.tflite``: the front end generated from the int8 model's input tensor
(``write_frontend_for_model``; the feature config from ``<model>_report.json`` beside it, the
tiny clips padded or cropped to its clip length), then PCM -> C front end -> model under TensorFlow Lite Micro
against PCM -> training features -> ``quantize_input`` -> model, on the tiny evaluation clips.
Writes ``bench_frontend.json`` and ``bench_frontend.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from tinyasc import atomic
from tinyasc.contract import FeatureConfig
from tinyasc.data.features import load_audio, logmel, mel_filterbank
from tinyasc.data.synth import SynthScale, synthesize
from tinyasc.data.tau import load_tau
from tinyasc.firmware_sim import frontend as fe
from tinyasc.firmware_sim.harness.frontend_run import run_frontend_target
from tinyasc.metrics import markdown_table

log = logging.getLogger("bench_frontend")

M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")


def float64_logmel(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    w = np.zeros(cfg.n_fft)
    left = (cfg.n_fft - cfg.win_length) // 2
    w[left : left + cfg.win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.win_length) / cfg.win_length)
    xp = np.pad(x.astype(np.float64), cfg.n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(xp, cfg.n_fft)[:: cfg.hop_length]
    power = np.abs(np.fft.rfft(frames * w, axis=1)) ** 2
    return np.log(mel_filterbank(cfg).astype(np.float64) @ power.T + cfg.log_offset)


def measure(art: fe.FrontendArtifact, pcms: list[np.ndarray]) -> dict:
    cfg = art.feature_config
    c_f, c_q, t_f, x_f = [], [], [], []
    for pcm in pcms:
        x = fe.pcm_to_float(pcm)
        x = np.pad(x, (0, max(0, cfg.clip_samples - x.size)))[: cfg.clip_samples]
        f, q = fe.run_frontend_host(art, pcm)
        c_f.append(f)
        c_q.append(q)
        t_f.append(logmel(x, cfg).numpy())
        x_f.append(float64_logmel(x, cfg))
    c_f, c_q, t_f, x_f = map(np.stack, (c_f, c_q, t_f, x_f))
    s = fe.parity_stats(c_f, t_f, c_q, fe.quantize_input(t_f, art.input_scale, art.input_zero_point))
    s["c_vs_float64_max"] = float(np.abs(c_f - x_f).max())
    s["c_vs_float64_mean"] = float(np.abs(c_f - x_f).mean())
    s["torch_vs_float64_max"] = float(np.abs(t_f - x_f).max())
    s["torch_vs_float64_mean"] = float(np.abs(t_f - x_f).mean())
    return s


def edge_cases(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(n) / 16000.0
    return {
        "digital silence": np.zeros(n, np.int16),
        "full-scale square 100 Hz": np.where(np.sin(2 * np.pi * 100 * t) >= 0, 32767, -32768).astype(np.int16),
        "full-scale DC": np.full(n, 32767, np.int16),
        "clipped noise": fe.float_to_pcm(np.clip(3 * rng.standard_normal(n), -1.0, 1.0)),
        "pure tone 1 kHz, 0.5": fe.float_to_pcm(0.5 * np.sin(2 * np.pi * 1000 * t)),
        "pure tone 440 Hz, 0.99": fe.float_to_pcm(0.99 * np.sin(2 * np.pi * 440 * t)),
        "impulse": np.where(np.arange(n) == n // 3, -32768, 0).astype(np.int16),
    }


def logf_error(art: fe.FrontendArtifact) -> dict:
    x = np.arange(np.float32(0.5).view(np.int32), np.float32(2.0).view(np.int32), dtype=np.int32).view(np.float32)
    rng = np.random.default_rng(0)
    tiny = np.finfo(np.float32).tiny
    x = np.concatenate([x, np.exp(rng.uniform(np.log(tiny), np.log(3e38), 2_000_000)).astype(np.float32)])
    y = fe.logf_host(art, x).astype(np.float64)
    exact = np.log(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    ulp[exact == 0] = np.spacing(np.float32(1.0))
    return {"inputs": int(x.size), "max_ulp": float((np.abs(y - exact) / ulp).max()),
            "max_abs_in_logmel_range": float(np.abs(y - exact)[x >= 1e-6].max())}


def arm_sizes(art: fe.FrontendArtifact) -> dict | None:
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        return None
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for src in art.sources:
            obj = Path(tmp) / (src + ".o")
            subprocess.run([cc, *M4_FLAGS, *fe.CFLAGS, "-I", str(art.out_dir), "-c", str(art.out_dir / src),
                            "-o", str(obj)], check=True, capture_output=True)
            size = subprocess.run(["arm-none-eabi-size", str(obj)], check=True, capture_output=True, text=True)
            text, data, bss = map(int, size.stdout.splitlines()[1].split()[:3])
            undefined = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], check=True, capture_output=True,
                                       text=True).stdout.split()
            out[src] = {"text": text, "data": data, "bss": bss,
                        "double_helpers": sorted(u for u in undefined if u.startswith("__aeabi_d"))}
    return out


def qemu_counts(targets: list[str], work: Path, scale: float, zp: int) -> dict:
    out: dict = {}
    for seconds in (1.0, 10.0):
        cfg = FeatureConfig(clip_seconds=seconds)
        pcm = fe.float_to_pcm(0.1 * np.random.default_rng(0).standard_normal(cfg.clip_samples))
        d = work / f"qemu_{seconds:g}s"
        art = fe.write_frontend(cfg, scale, zp, d / "fe", golden_pcm=pcm)
        fe.build_frontend_host(art)
        host = fe.output_checksum(art, fe.run_frontend_host(art, pcm)[1])
        for t in targets:
            r = run_frontend_target(art, t, d / "work")
            r["bit_identical_to_host"] = r["checksum"] == host
            r["instructions_per_frame"] = r["instructions"] / cfg.n_frames
            out[f"{t} {seconds:g} s"] = r
            log.info("%s %g s: %d instructions, identical to host: %s", t, seconds, r["instructions"],
                     r["bit_identical_to_host"])
    return out


def model_end_to_end(model: Path, cfg: FeatureConfig, pcms: list[np.ndarray], work: Path) -> dict:
    from tflite_micro.python.tflite_micro import runtime

    from tinyasc.firmware_sim.reader import read_tflite

    art = fe.write_frontend_for_model(read_tflite(model), cfg, work / "fe_model")
    fe.build_frontend_host(art)
    it = runtime.Interpreter.from_file(str(model), arena_size=4_000_000)
    shape = (1, cfg.n_mels, cfg.n_frames, 1) if art.layout is fe.InputLayout.MEL_MAJOR else (1, cfg.n_frames, cfg.n_mels, 1)

    def infer(q: np.ndarray) -> np.ndarray:
        it.set_input((q if art.layout is fe.InputLayout.MEL_MAJOR else q.T).reshape(shape), 0)
        it.invoke()
        return np.array(it.get_output(0), copy=True).ravel()

    eq = total = same_out = same_label = 0
    for pcm in pcms:
        _, qc = fe.run_frontend_host(art, pcm)
        qh = fe.quantize_input(logmel(fe.pcm_to_float(pcm), cfg).numpy(), art.input_scale, art.input_zero_point)
        eq += int((qc == qh).sum())
        total += qc.size
        yc, yh = infer(qc), infer(qh)
        same_out += int(np.array_equal(yc, yh))
        same_label += int(yc.argmax() == yh.argmax())
    return {"model": str(model), "layout": art.layout.value, "input_scale": art.input_scale,
            "input_zero_point": art.input_zero_point, "clips": len(pcms), "int8_input_equal": eq,
            "int8_input_elements": total, "model_output_identical": same_out, "label_agreement": same_label}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--dataset", type=Path, help="asc-synth tiny dataset (made in a temp dir if absent)")
    ap.add_argument("--clips10", type=int, default=30, help="10 s clips to compare (0: skip)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--model", type=Path, help="int8 .tflite whose input the front end feeds (end-to-end check)")
    ap.add_argument("--qemu", default="", help="comma-separated Cortex-M targets to count instructions on")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench_frontend_"))
    ds = load_tau(args.dataset) if args.dataset else synthesize(work / "tiny", scale=SynthScale.TINY, workers=1)

    cfg1 = FeatureConfig(clip_seconds=ds.clip_seconds())
    pcm1 = [fe.float_to_pcm(load_audio(r.path, cfg1)) for r in ds.split("evaluate")]
    ref = np.stack([logmel(fe.pcm_to_float(p), cfg1).numpy() for p in pcm1])
    lo, hi = float(ref.min()), float(ref.max())
    scale = (hi - lo) / 255.0
    zp = int(round(-128 - lo / scale))
    results: dict = {"machine": f"{platform.machine()} {platform.processor() or ''} (2-core CPU)".strip(),
                     "input_scale": scale, "input_zero_point": zp, "accuracy": {}, "host_seconds_per_clip": {}}

    art1 = fe.write_frontend(cfg1, scale, zp, work / "fe1")
    fe.build_frontend_host(art1)
    results["accuracy"][f"tiny evaluate ({len(pcm1)} clips, 1 s)"] = measure(art1, pcm1)
    for name, pcm in edge_cases(cfg1.clip_samples).items():
        results["accuracy"][f"edge: {name} (1 s)"] = measure(art1, [pcm])
    results["logf"] = logf_error(art1)
    if args.model:
        # the model's feature config travels in the export report beside it (asc-export writes it)
        report = args.model.with_name(args.model.stem + "_report.json")
        cfg_m = (FeatureConfig.from_dict(json.loads(report.read_text())["checkpoint"]["feature_config"])
                 if report.is_file() else cfg1)
        pcm_m = [fe.float_to_pcm(load_audio(r.path, cfg_m)) for r in ds.split("evaluate")]
        results["model_end_to_end"] = model_end_to_end(args.model, cfg_m, pcm_m, work)
        results["model_end_to_end"]["clip_seconds"] = cfg_m.clip_seconds
    results["host_seconds_per_clip"]["1 s"] = fe.bench_host(art1, pcm1[0], args.repeats * 10)

    cfg10 = FeatureConfig()
    art10 = fe.write_frontend(cfg10, scale, zp, work / "fe10")
    fe.build_frontend_host(art10)
    if args.clips10 > 0:
        ds10 = synthesize(work / "tiny10", scale=SynthScale.TINY, seconds=10.0, workers=1)
        pcm10 = [fe.float_to_pcm(load_audio(r.path, cfg10)) for r in ds10.split("evaluate")[: args.clips10]]
        results["accuracy"][f"tiny evaluate at 10 s ({len(pcm10)} clips)"] = measure(art10, pcm10)
        results["host_seconds_per_clip"]["10 s"] = fe.bench_host(art10, pcm10[0], args.repeats)
    else:
        noise = fe.float_to_pcm(0.1 * np.random.default_rng(0).standard_normal(cfg10.clip_samples))
        results["host_seconds_per_clip"]["10 s"] = fe.bench_host(art10, noise, args.repeats)
    results["sizes"] = {"table_bytes": art10.table_bytes, "scratch_bytes": art10.scratch_bytes,
                        "mel_weights": art10.mel_weights, "dense_mel_weights": cfg10.n_mels * (cfg10.n_fft // 2 + 1),
                        "output_bytes_int8": cfg10.n_mels * cfg10.n_frames, "frames_10s": cfg10.n_frames,
                        "cortex_m4_objects": arm_sizes(art10)}
    if args.qemu:
        results["qemu"] = qemu_counts(args.qemu.split(","), work, scale, zp)
    shutil.rmtree(work, ignore_errors=True)

    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(args.out / "bench_frontend.json", results)
    rows = [[k, f"{v['max_abs_error']:.2e}", f"{v['mean_abs_error']:.1e}", f"{v['c_vs_float64_max']:.2e}",
             f"{v['torch_vs_float64_max']:.2e}", f"{100 * v['int8_equal_fraction']:.4f}%",
             f"{v['int8_differing']} / {v['elements']}", v["int8_max_step"]] for k, v in results["accuracy"].items()]
    md = [f"# C front end benchmark ({results['machine']})", "",
          f"int8 input scale {scale:.6g}, zero point {zp} (tiny set's feature range / 255).", "",
          markdown_table(["clips", "max abs err vs torch", "mean abs err", "C vs float64 max", "torch vs float64 max",
                          "int8 equal", "int8 differing", "max step"], rows),
          f"logf: max {results['logf']['max_ulp']:.2f} ulp over {results['logf']['inputs']:,} inputs "
          f"(max abs {results['logf']['max_abs_in_logmel_range']:.2e} for x >= 1e-6).", "",
          markdown_table(["clip", "host s per clip (int8 path)"],
                         [[k, f"{v * 1e3:.2f} ms"] for k, v in results["host_seconds_per_clip"].items()]),
          markdown_table(["size", "bytes"], [[k, json.dumps(v)] for k, v in results["sizes"].items()])]
    if "model_end_to_end" in results:
        e = results["model_end_to_end"]
        md += [f"End to end with `{e['model']}` (input scale {e['input_scale']:.6g}, zero point "
               f"{e['input_zero_point']}, {e['layout']}), {e['clips']} clips: int8 input equal "
               f"{e['int8_input_equal']:,} / {e['int8_input_elements']:,}; TFLM int8 output identical "
               f"{e['model_output_identical']} / {e['clips']}; same label {e['label_agreement']} / {e['clips']}.", ""]
    if "qemu" in results:
        md += ["Cortex-M (QEMU, exact instruction counts; cycles are the latency harness's estimate):", "",
               markdown_table(["target, clip", "instructions", "per frame", "cycles (est.)", "ms at clock (est.)",
                               "stack B", "int8 output = host"],
                              [[k, f"{v['instructions']:,}", f"{v['instructions_per_frame']:,.0f}",
                                f"{v['cycles_estimate']:,.0f}", f"{v['latency_ms_estimate']:.1f} @ {v['clock_mhz']:g} MHz",
                                v["stack_bytes"], "yes" if v["bit_identical_to_host"] else "NO"]
                               for k, v in results["qemu"].items()])]
    atomic.write_text(args.out / "bench_frontend.md", "\n".join(md) + "\n")
    log.info("wrote %s", args.out / "bench_frontend.md")


if __name__ == "__main__":
    main()
