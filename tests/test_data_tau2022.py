"""TAU 2022 Mobile layout (1-s parts) and DCASE 2024 split files (``--train-split``), by hand and from asc-synth."""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
import torch

from tinyasc.contract import SCENE_LABELS, Checkpoint, FeatureConfig
from tinyasc.data.cache import build_feature_set
from tinyasc.data.cli import features_main
from tinyasc.data.synth import SPLIT_PERCENTAGES
from tinyasc.data.tau import load_tau
from tinyasc.errors import InputError
from tinyasc.train.cli import train_main

TAU22_SAMPLES = 44032  # what the 2022 release holds per 1-s part at 44.1 kHz
STEMS = [  # scene-city-location-segment-part-device, as in the 2022 release
    ("airport-lisbon-1000-40000-0-a", "airport"),
    ("airport-lisbon-1000-40000-1-a", "airport"),
    ("bus-lyon-1045-40300-3-b", "bus"),
    ("park-helsinki-2-3-9-s1", "park"),
    ("tram-vienna-4-1-0-a", "tram"),
    ("tram-vienna-5-7-2-s5", "tram"),
]
EVALUATE = {"tram-vienna-5-7-2-s5"}


def _tsv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows))


@pytest.fixture
def tau2022(tmp_path):
    root = tmp_path / "TAU-urban-acoustic-scenes-2022-mobile-development"
    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    meta, train, ev = [], [], []
    for stem, scene in STEMS:
        name = f"audio/{stem}.wav"
        sf.write(root / name, 0.1 * rng.standard_normal(TAU22_SAMPLES).astype(np.float32), 44100, subtype="PCM_24")
        p = stem.split("-")
        meta.append((name, scene, f"{p[1]}-{p[2]}", p[-1]))
        (ev if stem in EVALUATE else train).append((name, scene))
    _tsv(root / "meta.csv", ("filename", "scene_label", "identifier", "source_label"), meta)
    _tsv(root / "evaluation_setup/fold1_train.csv", ("filename", "scene_label"), train)
    _tsv(root / "evaluation_setup/fold1_evaluate.csv", ("filename", "scene_label"), ev)
    _tsv(root / "split_setup/split25.csv", ("filename", "scene_label"), [train[0], train[2]])
    _tsv(root / "split_setup/split100.csv", ("filename", "scene_label"), train)
    return root


def test_2022_layout_parses_and_keeps_its_clip_length(tau2022, tmp_path):
    ds = load_tau(tau2022)
    rec = {r.filename: r for r in ds.records}["audio/bus-lyon-1045-40300-3-b.wav"]
    assert (rec.device, rec.city, rec.identifier, rec.scene) == ("b", "lyon", "lyon-1045", "bus")
    assert ds.clip_seconds() == pytest.approx(TAU22_SAMPLES / 44100, abs=1e-6)
    cfg = dataclasses.replace(FeatureConfig(), clip_seconds=ds.clip_seconds())
    fs = build_feature_set(ds, "train", cfg, cache_dir=tmp_path / "c", progress=False)
    assert len(fs) == 5 and fs.features.shape[1:] == (256, cfg.n_frames) and fs.off_length == []


def test_train_split_restricts_training_only(tau2022, tmp_path, capsys):
    ds = load_tau(tau2022, train_split=tau2022 / "split_setup/split25.csv")
    assert [r.filename for r in ds.split("train")] == ["audio/airport-lisbon-1000-40000-0-a.wav",
                                                       "audio/bus-lyon-1045-40300-3-b.wav"]
    assert len(ds.split("evaluate")) == 1 and ds.train_split == tau2022 / "split_setup/split25.csv"
    # a bare name is found in DATASET/split_setup/, and split100 is the whole training split (same cache)
    rc = features_main([str(tau2022), "--split", "train", "--train-split", "split25.csv", "--no-progress",
                        "--cache-dir", str(tmp_path)])
    assert rc == 0 and "train: 2 clips" in capsys.readouterr().out
    full = load_tau(tau2022, train_split="split100.csv")
    assert full.split("train") == load_tau(tau2022).split("train")


@pytest.mark.parametrize("row,problem", [
    ("audio/airport-lisbon-9-9-0-a.wav", "is not in the dataset (absent from meta.csv)"),
    ("audio/tram-vienna-5-7-2-s5.wav", "belongs to the evaluation split"),
    ("audio/airport-lisbon-1000-40000-0-a.wav", "is listed twice"),
])
def test_split_file_bad_rows_one_line_exit_2_or_skipped(tau2022, tmp_path, capsys, row, problem):
    split = tmp_path / "mysplit.csv"
    _tsv(split, ("filename", "scene_label"), [("audio/airport-lisbon-1000-40000-0-a.wav", "airport"), (row, "x")])
    with pytest.raises(InputError, match=re.escape(problem)):
        load_tau(tau2022, train_split=split)
    rc = features_main([str(tau2022), "--split", "train", "--train-split", str(split), "--no-progress",
                        "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "mysplit.csv" in err[0] and problem in err[0], err
    rc = features_main([str(tau2022), "--split", "train", "--train-split", str(split), "--skip-bad", "--no-progress",
                        "--cache-dir", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert rc == 0 and "train: 1 clips" in out and "skipped 1 bad file(s):" in out and problem in out, out


def test_split_file_with_several_absent_clips_names_all(tau2022, tmp_path):
    split = tmp_path / "split5.csv"
    absent = [f"audio/park-paris-{k}-0-0-a.wav" for k in range(3)]
    _tsv(split, ("filename",), [(a,) for a in absent])
    with pytest.raises(InputError) as err:
        load_tau(tau2022, train_split=split)
    assert "3 bad files" in str(err.value) and all(a in str(err.value) for a in absent)
    with pytest.raises(InputError, match="lists no usable clip"):
        load_tau(tau2022, train_split=split, skip_bad=True)


def test_missing_split_file_and_bad_header(tau2022, tmp_path):
    with pytest.raises(InputError, match="split file not found"):
        load_tau(tau2022, train_split="split7.csv")
    bad = tmp_path / "s.csv"
    bad.write_text("file,label\naudio/x.wav,park\n")
    with pytest.raises(InputError, match="unexpected header"):
        load_tau(tau2022, train_split=bad)


def _rows(path):
    with open(path, newline="") as fh:
        return [r for r in csv.reader(fh, delimiter="\t")][1:]


def test_synth_one_second_output_is_the_2022_layout_with_nested_splits(tiny_dataset):
    root = tiny_dataset.root
    assert tiny_dataset.clip_seconds() == 1.0
    for r in tiny_dataset.records:  # scene-city-location-segment-part-device
        parts = r.filename.removeprefix("audio/").removesuffix(".wav").split("-")
        assert len(parts) == 6 and parts[4] == "0" and parts[5] == r.device and parts[1] == r.city
    train = [r[0] for r in _rows(root / "evaluation_setup/fold1_train.csv")]
    previous: set[str] = set()
    for pct in SPLIT_PERCENTAGES:
        names = [r[0] for r in _rows(root / f"split_setup/split{pct}.csv")]
        assert set(names) <= set(train) and previous <= set(names), pct  # nested subsets of training
        assert {n.split("/")[1].split("-")[0] for n in names} == set(SCENE_LABELS)  # every scene
        segs = Counter(n.rsplit("-", 1)[0] for n in names)  # whole recordings: every device of a segment
        assert all(segs[s] == sum(1 for t in train if t.rsplit("-", 1)[0] == s) for s in segs)
        previous = set(names)
    assert previous == set(train)
    ds = load_tau(root, train_split="split5.csv")
    assert 0 < len(ds.split("train")) < len(tiny_dataset.split("train"))


def test_asc_train_with_a_split_file(tiny_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rc = train_main([str(tiny_dataset.root), "--out", str(run), "--epochs", "1", "--batch-size", "8",
                         "--train-split", "split25.csv", "--no-eval", "--no-progress", "--feature-workers", "1",
                         "--cache-dir", str(tmp_path / "cache")])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    ckpt = Checkpoint.load(run / "last.pt")
    n25 = len(_rows(tiny_dataset.root / "split_setup/split25.csv"))
    assert ckpt.train_config["data"] == {"train_split": "split25.csv", "clips": n25, "skipped": 0, "off_length": 0}
    rc = train_main([str(tiny_dataset.root), "--out", str(tmp_path / "run2"), "--train-split", "nope.csv",
                     "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "split file not found" in err[0]
