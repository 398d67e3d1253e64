"""asc-synth: layout, determinism, replacement rules, and the device model's shape."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from tinyasc.contract import DEVICES, SCENE_LABELS, FeatureConfig
from tinyasc.data.cli import synth_main
from tinyasc.data.features import logmel
from tinyasc.data.synth import SR, SynthScale, apply_device, clean_segment, synthesize
from tinyasc.errors import InputError


def _tsv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def test_layout_is_tau(tiny_dataset):
    root = tiny_dataset.root
    meta = _tsv(root / "meta.csv")
    assert meta[0] == ["filename", "scene_label", "identifier", "source_label"]
    for name, scene, ident, source in meta[1:]:
        stem = name.removeprefix("audio/").removesuffix(".wav")
        s, city, loc, seg, part, dev = stem.split("-")  # 1-s clips: the TAU 2022 name with its part index
        assert name.startswith("audio/") and s == scene and ident == f"{city}-{loc}" and dev == source
        assert scene in SCENE_LABELS and dev in DEVICES and seg.isdigit() and part == "0"
    for split in ("train", "evaluate"):
        rows = _tsv(root / f"evaluation_setup/fold1_{split}.csv")
        assert rows[0] == ["filename", "scene_label"]
    assert _tsv(root / "evaluation_setup/fold1_test.csv")[0] == ["filename"]
    info = sf.info(str(tiny_dataset.records[0].path))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 16000)
    marker = json.loads((root / "asc-synth.json").read_text())
    assert marker["scale"] == "tiny" and marker["seed"] == 0 and marker["clips"] == len(meta) - 1 == 160
    # every evaluation segment on all nine devices; training devices are subsets of A's segments
    seg = lambda r: r.filename.rsplit("-", 1)[0]  # noqa: E731
    by_seg = Counter(seg(r) for r in tiny_dataset.split("evaluate"))
    assert set(by_seg.values()) == {9}
    a_train = {seg(r) for r in tiny_dataset.split("train") if r.device == "a"}
    assert {seg(r) for r in tiny_dataset.split("train")} == a_train


def test_same_seed_same_bytes_other_seed_differs(tiny_dataset, tmp_path):
    """Same seed -> identical bytes, also with 2 worker processes (the fixture used 1)."""
    again = synthesize(tmp_path / "again", scale=SynthScale.TINY, seed=0, workers=2)
    files = sorted(p.relative_to(tiny_dataset.root) for p in tiny_dataset.root.rglob("*")
                   if p.is_file() and ".tinyasc_cache" not in p.parts)
    assert files == sorted(p.relative_to(again.root) for p in again.root.rglob("*") if p.is_file())
    for rel in files:
        assert (tiny_dataset.root / rel).read_bytes() == (again.root / rel).read_bytes(), rel
    other = synthesize(tmp_path / "other", scale=SynthScale.TINY, seed=1)
    name = tiny_dataset.records[0].filename
    a, _ = sf.read(tiny_dataset.root / name)
    b, _ = sf.read(other.root / name) if (other.root / name).exists() else (None, None)
    assert b is None or not np.array_equal(a, b)
    same_names = [r.filename for r in other.records if (tiny_dataset.root / r.filename).exists()]
    differing = sum((tiny_dataset.root / n).read_bytes() != (other.root / n).read_bytes() for n in same_names)
    assert differing == len(same_names)


def test_seconds_option_and_replacement_rules(tmp_path, capsys):
    out = tmp_path / "ds"
    assert synth_main([str(out), "--scale", "tiny", "--seconds", "0.5", "--seed", "3"]) == 0
    assert sf.info(str(next((out / "audio").glob("*.wav")))).frames == 8000
    assert "160 clips" in capsys.readouterr().out
    # existing output: refused without --force, replaced with it
    assert synth_main([str(out), "--scale", "tiny", "--seconds", "0.5"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert synth_main([str(out), "--scale", "tiny", "--seconds", "0.5", "--force"]) == 0
    assert json.loads((out / "asc-synth.json").read_text())["seed"] == 0
    # a directory asc-synth did not write is never replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="not written by asc-synth"):
        synthesize(foreign, scale="tiny", force=True)
    assert (foreign / "thesis.tex").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary directory left behind"


def test_device_effect_is_mostly_a_per_band_offset():
    """The device chain acts on log-mel mostly as a per-band gain (what ResNorm removes).

    For each device, the log-mel difference to device A of the same segment is split into its
    per-band time mean (the static response) and the rest (DRC, clipping, noise floor). The
    static part must carry most of the difference's energy, and the unseen devices must
    differ from A more than device A's own placement jitter does.
    """
    cfg = dataclasses.replace(FeatureConfig(), clip_seconds=2.0)
    n = 2 * SR
    clean = [clean_segment(5, scene, 0, 0, 0, n) for scene in (0, 8)]  # airport, street_traffic
    refs = [logmel(apply_device(x, "a", np.random.default_rng(1)).astype(np.float32), cfg).numpy() for x in clean]
    static_share, size = {}, {}
    for dev in DEVICES:
        shares, sizes = [], []
        for x, ref in zip(clean, refs):
            y = logmel(apply_device(x, dev, np.random.default_rng(2)).astype(np.float32), cfg).numpy()
            d = y - ref
            static = np.broadcast_to(d.mean(axis=1, keepdims=True), d.shape)
            shares.append((static**2).sum() / (d**2).sum())
            sizes.append(float(np.sqrt((d**2).mean())))
        static_share[dev], size[dev] = float(np.mean(shares)), float(np.mean(sizes))
    for dev in DEVICES[1:]:
        assert static_share[dev] > 0.8, (dev, static_share)
    assert size["a"] < 1.0  # only the +-0.5 dB placement jitter and the noise floor
    assert min(size[d] for d in ("s4", "s5", "s6")) > 3 * size["a"], size
