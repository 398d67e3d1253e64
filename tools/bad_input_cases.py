"""Run every documented bad-input case (wav, csv, checkpoint) through the real CLIs; print a Markdown table.

Usage: ``python tools/bad_input_cases.py [--out FILE.md]``. Each case builds a fresh
four-clip TAU-layout dataset (or a checkpoint) in a temporary directory, breaks one thing,
runs ``asc-features`` (or ``asc-eval``) as a subprocess, and records the exit status, the
last stderr line (what the user sees) and whether any temporary or partial file was left.
This is what ``docs/reliability.md`` reports.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

BIN = Path(sys.executable).parent
SCENES = ("airport", "bus", "park", "tram")


def _dataset(root: Path, seconds: float = 1.0) -> Path:
    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    rng = np.random.default_rng(0)
    meta, fold = [], []
    for k, scene in enumerate(SCENES):
        name = f"audio/{scene}-lyon-{k}-0-a.wav"
        sf.write(root / name, 0.1 * rng.standard_normal(int(44100 * seconds)).astype(np.float32), 44100,
                 subtype="PCM_24")
        meta.append(f"{name}\t{scene}\tlyon-{k}\ta\n")
        fold.append(f"{name}\t{scene}\n")
    (root / "meta.csv").write_text("filename\tscene_label\tidentifier\tsource_label\n" + "".join(meta))
    (root / "evaluation_setup/fold1_train.csv").write_text("filename\tscene_label\n" + "".join(fold))
    (root / "evaluation_setup/fold1_evaluate.csv").write_text("filename\tscene_label\n")
    return root


def _wav(root: Path) -> Path:
    return root / "audio/bus-lyon-1-0-a.wav"


def _rewrite_wav(root: Path, x: np.ndarray, sr: int, subtype: str = "PCM_24") -> None:
    sf.write(_wav(root), x, sr, subtype=subtype)


def _noise(n: int, ch: int = 1) -> np.ndarray:
    return (0.1 * np.random.default_rng(1).standard_normal((n, ch))).astype(np.float32)


WAV_CASES = {
    "truncated": lambda r: _wav(r).write_bytes(_wav(r).read_bytes()[: _wav(r).stat().st_size // 3]),
    "empty": lambda r: _wav(r).write_bytes(b""),
    "stereo": lambda r: _rewrite_wav(r, _noise(44100, 2), 44100),
    "other rate (8 kHz)": lambda r: _rewrite_wav(r, _noise(8000), 8000),
    "too short (0.2 s)": lambda r: _rewrite_wav(r, _noise(8820), 44100),
    "silence": lambda r: _rewrite_wav(r, np.zeros(44100, np.float32), 44100),
    "float samples": lambda r: _rewrite_wav(r, _noise(44100), 44100, "FLOAT"),
    "missing": lambda r: _wav(r).unlink(),
    "corrupt header": lambda r: _wav(r).write_bytes(b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(range(64))),
    "row for an absent file": lambda r: ((r / "meta.csv").write_text(
        (r / "meta.csv").read_text() + "audio/park-lyon-9-0-a.wav\tpark\tlyon-9\ta\n"),
        (r / "evaluation_setup/fold1_train.csv").write_text(
        (r / "evaluation_setup/fold1_train.csv").read_text() + "audio/park-lyon-9-0-a.wav\tpark\n")),
    "unknown label": lambda r: (r / "meta.csv").write_text((r / "meta.csv").read_text().replace("\tbus\t", "\tbeach\t")),
    "3 bad files at once": lambda r: [(r / f"audio/{s}-lyon-{k}-0-a.wav").write_bytes(b"junk" * 10)
                                      for k, s in enumerate(SCENES) if k < 3],
}


def _ckpt(path: Path, **kw) -> None:
    from tinyasc.contract import Checkpoint, FeatureConfig
    from tinyasc.model import create_model

    model = create_model("bcresnet_asc_1", **kw.pop("model_kw", {}))
    Checkpoint(model_name="bcresnet_asc_1", model_config=create_model("bcresnet_asc_1").config.to_dict(),
               feature_config=FeatureConfig(clip_seconds=1.0), state_dict=model.state_dict(), **kw).save(path)


class _Touch:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _foreign_pickle(path: Path) -> None:
    import torch

    torch.save({"format": "tinyasc-checkpoint/1", "norm_stats": _Touch(str(path.parent / "EXECUTED"))}, path)


CKPT_CASES = {
    "foreign pickle (code in __reduce__)": _foreign_pickle,
    "bare pickle": lambda p: p.write_bytes(pickle.dumps({"x": _Touch(str(p.parent / "EXECUTED"))})),
    "truncated": lambda p: (_ckpt(p), p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
    "other architecture": lambda p: _ckpt(p, model_kw={"base_channels": 48}),
    "other labels": lambda p: _ckpt(p, labels=tuple(f"class{i}" for i in range(10))),
}


def _run(cmd: list[str], cwd: Path) -> tuple[int, str]:
    """Exit status and the error line (or, on success, the note logged about the unusual file)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = proc.stderr.strip().splitlines()
    errors = [ln for ln in lines if not ln.startswith(("INFO ", "WARNING "))]
    notes = [ln.split(": ", 1)[1] for ln in lines if "file(s) with" in ln or "not 1 s long" in ln]
    if proc.returncode or not notes:
        return proc.returncode, (errors[-1] if errors else "(no error line)")
    return proc.returncode, "accepted; INFO: " + "; ".join(notes)


def _leftovers(root: Path) -> str:
    bad = [p for p in root.rglob("*") if p.name.endswith((".tmp", ".partial")) or p.name == "EXECUTED"]
    finals = [p for p in root.rglob("train-*") if p.is_dir() and not (p / "meta.json").is_file()]
    return "none" if not bad + finals else ", ".join(p.name for p in bad + finals)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="also write the table to this file")
    args = p.parse_args()
    rows = ["| input | command | exit | what the user sees | with `--skip-bad` | left behind |",
            "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, breaker in WAV_CASES.items():
            root = _dataset(tmp / f"case{len(rows)}" / "data")
            breaker(root)
            rc, line = _run([str(BIN / "asc-features"), "data", "--split", "train", "--no-progress", "--workers", "1"],
                            root.parent)
            line = line.replace(str(root) + "/", "").replace(str(root), "data")
            skip = subprocess.run([str(BIN / "asc-features"), "data", "--split", "train", "--no-progress", "--workers",
                                   "1", "--skip-bad"], capture_output=True, text=True, cwd=root.parent, timeout=600,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
            listed = [ln for ln in skip.stdout.splitlines() if ln.startswith(("train:", "skipped"))]
            rows.append(f"| wav/csv: {name} | `asc-features data` | {rc} | `{line}` | exit {skip.returncode}: "
                        f"{'; '.join(listed).split(' -> ')[0] + ('; ' + listed[-1] if len(listed) > 1 else '')} | "
                        f"{_leftovers(root)} |")
        ds = _dataset(tmp / "data")
        for name, make in CKPT_CASES.items():
            d = tmp / f"ck{len(rows)}"
            d.mkdir()
            make(d / "model.pt")
            rc, line = _run([str(BIN / "asc-eval"), str(d / "model.pt"), str(ds), "--no-progress"], d)
            line = line.replace(str(d) + "/", "")
            rows.append(f"| checkpoint: {name} | `asc-eval model.pt DATA` | {rc} | `{line}` | - | {_leftovers(d)} |")
    table = "\n".join(rows) + "\n"
    print(table, end="")
    if args.out:
        from tinyasc.atomic import write_text

        write_text(args.out, table)


if __name__ == "__main__":
    main()
