#!/usr/bin/env python
"""Data-stage benchmark: feature throughput vs librosa, asc-synth generation time, device-effect probe.

Writes ``OUT.json`` (machines) and ``OUT.md`` (people); default ``runs/bench/features``.

1. Throughput: N TAU-like clips (10 s, 44.1 kHz, 24-bit, mono) -> 256 x 334 log-mel.
   ``ours`` = ``build_feature_set`` (soundfile + soxr HQ + torch.stft + librosa filterbank,
   float16 cache write) with 1 and 2 workers; ``librosa`` = ``librosa.load(sr=16000,
   res_type="soxr_hq")`` + ``librosa.feature.melspectrogram`` + log with the same parameters,
   1 process and a pool of 2 processes. Warm-up (imports, first call) is excluded from both.
2. ``asc-synth --scale small`` wall and CPU time (a subprocess).
3. Device-effect probe on that dataset: logistic regression on per-band mean and std of the
   log-mel, trained on the training split (and on its device-A part only), accuracy per
   evaluation device. A cheap check that the unseen devices S4-S6 are clearly harder.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tinyasc import atomic
from tinyasc.contract import DEVICES, FeatureConfig


def _write_clips(root: Path, n: int, seconds: float) -> Path:
    """n TAU-like wavs (44.1 kHz 24-bit) from asc-synth's generator, in a TAU layout."""
    import soundfile as sf
    import soxr

    from tinyasc.data.synth import SR, apply_device, clean_segment

    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    rows = []
    for k in range(n):
        x = clean_segment(0, k % 10, k % 3, k, 0, int(seconds * SR))
        y = apply_device(x, "a", np.random.default_rng(k)).astype(np.float32)
        y = np.clip(soxr.resample(y, SR, 44100), -1, 1 - 2**-23)
        name = f"audio/{['airport', 'bus', 'metro', 'metro_station', 'park', 'public_square', 'shopping_mall', 'street_pedestrian', 'street_traffic', 'tram'][k % 10]}-paris-{k}-0-a.wav"
        sf.write(root / name, y, 44100, subtype="PCM_24")
        rows.append(name)
    (root / "meta.csv").write_text("filename\tscene_label\tidentifier\tsource_label\n" + "".join(
        f"{r}\t{r.split('/')[1].split('-')[0]}\tparis-{r.split('-')[2]}\ta\n" for r in rows))
    for split in ("train", "evaluate"):
        (root / f"evaluation_setup/fold1_{split}.csv").write_text("filename\tscene_label\n" + "".join(
            f"{r}\t{r.split('/')[1].split('-')[0]}\n" for r in rows))
    return root


def _librosa_clip(args: tuple) -> np.ndarray:
    import librosa

    path, cfg_dict = args
    cfg = FeatureConfig.from_dict(cfg_dict)
    y, _ = librosa.load(path, sr=cfg.sample_rate, mono=True, res_type="soxr_hq")
    y = librosa.util.fix_length(y, size=cfg.clip_samples)
    m = librosa.feature.melspectrogram(
        y=y, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
        window="hann", center=True, pad_mode="constant", power=cfg.power, n_mels=cfg.n_mels, fmin=cfg.f_min,
        fmax=cfg.f_max, htk=True, norm=None,
    )
    return np.log(m + cfg.log_offset).astype(np.float32)


def _librosa_warm(_: int) -> int:
    import librosa  # noqa: F401

    return os.getpid()


def bench_throughput(n: int, seconds: float, work: Path) -> dict:
    import torch

    from tinyasc.data import build_feature_set, load_tau

    root = _write_clips(work / "clips", n, seconds)
    ds = load_tau(root)
    cfg = dataclasses.replace(FeatureConfig(), clip_seconds=seconds)
    recs = ds.split("train")
    build_feature_set(load_tau(root), "evaluate", cfg, cache_dir=work / "warm", progress=False)  # warm-up
    out: dict = {"clips": n, "clip_seconds": seconds, "input": "44.1 kHz 24-bit mono wav", "rows": []}
    ours = None
    for workers in (1, 2):
        t0, c0 = time.perf_counter(), time.process_time()
        fs = build_feature_set(ds, "train", cfg, cache_dir=work / f"ours{workers}", workers=workers, progress=False)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        ours = np.asarray(fs.features, dtype=np.float32)
        out["rows"].append({"pipeline": "tinyasc build_feature_set", "workers": workers, "seconds": dt,
                            "clips_per_s": n / dt, "cpu_ms_per_clip": 1000 * cpu / n})
    torch.set_num_threads(1)
    jobs = [(str(r.path), cfg.to_dict()) for r in recs]
    _librosa_clip(jobs[0])  # warm-up in this process
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one BLAS thread, like our single torch thread per clip
        t0, c0 = time.perf_counter(), time.process_time()
        ref = np.stack([_librosa_clip(j) for j in jobs])
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    out["rows"].append({"pipeline": "librosa load+melspectrogram", "workers": 1, "seconds": dt, "clips_per_s": n / dt,
                        "cpu_ms_per_clip": 1000 * cpu / n})
    import multiprocessing

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_librosa_warm, range(2)))
        list(pool.map(_librosa_clip, jobs[:2]))
        t0 = time.perf_counter()
        list(pool.map(_librosa_clip, jobs, chunksize=4))
        dt = time.perf_counter() - t0
    out["rows"].append({"pipeline": "librosa load+melspectrogram (2 processes)", "workers": 2, "seconds": dt,
                        "clips_per_s": n / dt, "cpu_ms_per_clip": None})
    diff = np.abs(ours - ref)
    out["agreement"] = {"max_abs_logmel_diff": float(diff.max()), "mean_abs_logmel_diff": float(diff.mean()),
                        "note": "ours is stored as float16 (step 2^-11 relative); resamplers: soxr HQ in both"}
    return out


def bench_synth(work: Path) -> dict:
    exe = Path(sys.executable).with_name("asc-synth")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([str(exe), str(work / "small"), "--scale", "small"], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    size = sum(p.stat().st_size for p in (work / "small").rglob("*") if p.is_file())
    n = sum(1 for _ in (work / "small/audio").glob("*.wav"))
    return {"command": "asc-synth OUT --scale small", "wall_s": wall, "cpu_s": cpu, "clips": n, "bytes": size}


def probe_devices(root: Path) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tinyasc.data import build_feature_set, load_tau

    ds = load_tau(root)
    cfg = dataclasses.replace(FeatureConfig(), clip_seconds=ds.clip_seconds())
    t0 = time.perf_counter()
    tr = build_feature_set(ds, "train", cfg, progress=False)
    ev = build_feature_set(ds, "evaluate", cfg, progress=False)
    extract_s = time.perf_counter() - t0

    def embed(fs):
        x = np.asarray(fs.features, dtype=np.float32)
        return np.concatenate([x.mean(axis=2), x.std(axis=2)], axis=1)

    xtr, xev = embed(tr), embed(ev)
    result: dict = {"features_s": extract_s, "train_clips": len(tr), "evaluate_clips": len(ev), "runs": {}}
    for name, mask in (("train split (all devices)", np.ones(len(tr), bool)), ("device A only", tr.devices == "a")):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))
        clf.fit(xtr[mask], tr.labels[mask])
        pred = clf.predict(xev)
        acc = {d: float(np.mean(pred[ev.devices == d] == ev.labels[ev.devices == d])) for d in DEVICES}
        acc["seen b,c,s1-s3"] = float(np.mean([acc[d] for d in ("b", "c", "s1", "s2", "s3")]))
        acc["unseen s4-s6"] = float(np.mean([acc[d] for d in ("s4", "s5", "s6")]))
        acc["all"] = float(np.mean(pred == ev.labels))
        result["runs"][name] = acc
    return result


def to_markdown(res: dict) -> str:
    lines = ["# Data-stage benchmark", "", f"Machine: {res['machine']}", ""]
    if "throughput" in res:
        t = res["throughput"]
        lines += [f"## Feature extraction ({t['clips']} clips of {t['clip_seconds']:g} s, {t['input']} -> 256 x "
                  f"{res['n_frames']} log-mel)", "", "| pipeline | workers | seconds | clips/s | CPU ms/clip |", "|---|---|---|---|---|"]
        lines += [f"| {r['pipeline']} | {r['workers']} | {r['seconds']:.2f} | {r['clips_per_s']:.1f} | "
                  + ("-" if r["cpu_ms_per_clip"] is None else f"{r['cpu_ms_per_clip']:.1f}") + " |" for r in t["rows"]]
        a = t["agreement"]
        lines += ["", f"Agreement with librosa: max |diff| {a['max_abs_logmel_diff']:.4f}, mean "
                  f"{a['mean_abs_logmel_diff']:.2e} (log-mel units; {a['note']}).", ""]
    if "synth" in res:
        s = res["synth"]
        lines += ["## asc-synth --scale small", "", f"{s['clips']} clips, {s['bytes'] / 1e6:.0f} MB: "
                  f"wall {s['wall_s']:.1f} s, CPU {s['cpu_s']:.1f} s.", ""]
    if "probe" in res:
        p = res["probe"]
        cols = list(DEVICES) + ["seen b,c,s1-s3", "unseen s4-s6", "all"]
        lines += ["## Device-effect probe (logistic regression on per-band mean+std log-mel, `small`)", "",
                  f"Train {p['train_clips']} clips, evaluate {p['evaluate_clips']} clips (balanced over 9 devices); "
                  f"features extracted in {p['features_s']:.1f} s.", "",
                  "| trained on | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for name, acc in p["runs"].items():
            lines.append(f"| {name} | " + " | ".join(f"{acc[c]:.2f}" for c in cols) + " |")
        lines.append("")
    lines += [f"Command: `{res['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench/features"), help="output stem (.json and .md)")
    ap.add_argument("--clips", type=int, default=48, help="clips for the throughput run")
    ap.add_argument("--seconds", type=float, default=10.0, help="clip length for the throughput run")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-synth", action="store_true", help="skip asc-synth timing and the device probe")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temporary one)")
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="bench_features.", dir=args.work))
    res: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
                   f"load average at start {os.getloadavg()[0]:.1f}",
        "n_frames": FeatureConfig(clip_seconds=args.seconds).n_frames,
        "command": "python tools/bench_features.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    try:
        if not args.skip_throughput:
            res["throughput"] = bench_throughput(args.clips, args.seconds, work)
        if not args.skip_synth:
            res["synth"] = bench_synth(work)
            res["probe"] = probe_devices(work / "small")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["load_average_at_end"] = os.getloadavg()[0]
    atomic.write_json(args.out.with_suffix(".json"), res)
    atomic.write_text(args.out.with_suffix(".md"), to_markdown(res))
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
