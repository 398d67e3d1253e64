"""TAU 2020 Mobile loader: records, splits, parsing, and every broken-input case (library + CLI)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tinyasc.contract import DEVICES, SCENE_LABELS, SEEN_DEVICES, UNSEEN_DEVICES
from tinyasc.data.cli import features_main
from tinyasc.data.tau import ClipRecord, load_tau
from tinyasc.errors import InputError


def test_records_parse_device_city_identifier(tau_layout):
    root = tau_layout(clips=[("street_pedestrian-lyon-1028-42196-s5", "street_pedestrian"),
                             ("airport-barcelona-0-0-a", "airport")],
                      evaluate={"street_pedestrian-lyon-1028-42196-s5"})
    ds = load_tau(root)
    rec = {r.filename: r for r in ds.records}["audio/street_pedestrian-lyon-1028-42196-s5.wav"]
    assert rec == ClipRecord(
        filename="audio/street_pedestrian-lyon-1028-42196-s5.wav",
        path=(root / "audio/street_pedestrian-lyon-1028-42196-s5.wav").resolve(),
        scene="street_pedestrian", label=SCENE_LABELS.index("street_pedestrian"),
        device="s5", city="lyon", identifier="lyon-1028",
    )
    assert [r.filename for r in ds.split("evaluate")] == [rec.filename]
    assert [r.device for r in ds.split("train")] == ["a"]
    assert len(ds.split("all")) == 2
    assert ds.clip_seconds() == pytest.approx(1.0)


def test_tiny_synth_splits_follow_tau_fold1(tiny_dataset):
    train, ev = tiny_dataset.split("train"), tiny_dataset.split("evaluate")
    train_dev = Counter(r.device for r in train)
    assert set(train_dev) == set(SEEN_DEVICES)  # no s4-s6 in training
    assert train_dev["a"] > max(train_dev[d] for d in SEEN_DEVICES if d != "a")  # A dominant
    ev_dev = Counter(r.device for r in ev)
    assert set(ev_dev) == set(DEVICES) and len(set(ev_dev.values())) == 1  # balanced over 9 devices
    assert set(UNSEEN_DEVICES) <= set(ev_dev)
    assert {r.identifier for r in train}.isdisjoint({r.identifier for r in ev})  # locations disjoint
    assert {r.scene for r in ev} == set(SCENE_LABELS)
    for r in train + ev:
        assert r.path.is_file() and r.identifier == f"{r.city}-{r.filename.split('-')[2]}"
        assert r.label == SCENE_LABELS.index(r.scene)


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# (case id, how to break the fixture, file named in the message, words of the problem)
BREAKAGES = [
    ("missing-meta", lambda r: (r / "meta.csv").unlink(), "meta.csv", "csv file not found"),
    ("missing-fold", lambda r: (r / "evaluation_setup/fold1_evaluate.csv").unlink(), "fold1_evaluate.csv",
     "csv file not found"),
    ("bad-header", lambda r: _rewrite(r / "meta.csv", "filename\tscene_label", "file,scene"), "meta.csv",
     "unexpected header"),
    ("unknown-label", lambda r: _rewrite(r / "meta.csv", "\tbus\t", "\tbeach\t"), "meta.csv",
     "unknown scene label 'beach'"),
    ("unknown-device", lambda r: (
        (r / "audio/bus-lyon-1-0-b.wav").rename(r / "audio/bus-lyon-1-0-x9.wav"),
        _rewrite(r / "meta.csv", "bus-lyon-1-0-b.wav\tbus\tlyon-1\tb", "bus-lyon-1-0-x9.wav\tbus\tlyon-1\tx9"),
        _rewrite(r / "evaluation_setup/fold1_train.csv", "bus-lyon-1-0-b", "bus-lyon-1-0-x9")),
     "meta.csv", "unknown device 'x9'"),
    ("missing-wav", lambda r: (r / "audio/park-helsinki-2-3-s1.wav").unlink(), "park-helsinki-2-3-s1.wav",
     "audio file not found"),
    ("empty-wav", lambda r: (r / "audio/park-helsinki-2-3-s1.wav").write_bytes(b""), "park-helsinki-2-3-s1.wav",
     "empty"),
    ("fold-row-not-in-meta", lambda r: _rewrite(r / "evaluation_setup/fold1_train.csv", "tram-vienna-4-1-s5",
                                                "tram-vienna-4-1-s6"), "fold1_train.csv", "not listed in meta.csv"),
    ("fold-label-disagrees", lambda r: _rewrite(r / "evaluation_setup/fold1_train.csv", "\tpark", "\tbus"),
     "fold1_train.csv", "disagrees with meta.csv ('park')"),
    ("fold-unknown-label", lambda r: _rewrite(r / "evaluation_setup/fold1_train.csv", "\tpark", "\tforest"),
     "fold1_train.csv", "unknown scene label 'forest'"),
]


@pytest.mark.parametrize("case,breaker,file,problem", BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_broken_input_raises_naming_file_and_problem(tau_layout, case, breaker, file, problem):
    root = tau_layout()
    breaker(root)
    with pytest.raises(InputError) as err:
        load_tau(root)
    assert file in str(err.value) and problem in str(err.value), str(err.value)


@pytest.mark.parametrize("case", ["unknown-label", "unknown-device", "missing-wav", "empty-wav",
                                  "fold-row-not-in-meta", "fold-unknown-label"])
def test_skip_bad_drops_and_reports_the_row(tau_layout, case):
    _, breaker, file, problem = next(b for b in BREAKAGES if b[0] == case)
    root = tau_layout()
    breaker(root)
    ds = load_tau(root, skip_bad=True)
    assert len(ds.skipped) == 1 and problem in ds.skipped[0][1]
    if case in ("fold-row-not-in-meta", "fold-unknown-label"):  # meta.csv intact; only the fold row goes
        assert len(ds.records) == 4 and len(ds.split("train")) == 3
        assert ds.skipped_in("train") == ds.skipped and ds.skipped_in("evaluate") == []
    else:  # the meta row is dropped, and with it the clip's fold row
        assert len(ds.records) == 3 and len(ds.split("train")) == 3
        assert ds.skipped_in("train") == ds.skipped and ds.skipped_in("evaluate") == []


@pytest.mark.parametrize("case", ["missing-meta", "unknown-label", "missing-wav"])
def test_cli_broken_input_is_one_line_exit_2(tau_layout, capsys, case):
    _, breaker, file, problem = next(b for b in BREAKAGES if b[0] == case)
    root = tau_layout()
    breaker(root)
    rc = features_main([str(root), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ") and file in err[0] and problem in err[0]
    assert "Traceback" not in "\n".join(err)


def test_console_script_bad_input_exit_2(tmp_path):
    """The installed entry point (a real process): missing dataset -> one line, status 2."""
    exe = Path(sys.executable).with_name("asc-features")
    proc = subprocess.run([str(exe), str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0] and "not found" in lines[0]


def test_cli_skip_bad_reports_skipped_at_end(tau_layout, capsys, tmp_path):
    root = tau_layout()
    (root / "audio/park-helsinki-2-3-s1.wav").write_bytes(b"RIFF not really a wav file at all")
    rc = features_main([str(root), "--split", "train", "--skip-bad", "--no-progress", "--cache-dir", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "train: 3 clips" in out
    assert "skipped 1 bad file(s):" in out and "park-helsinki-2-3-s1.wav: not a readable audio file" in out


def test_clip_seconds_reads_a_header_and_survives_a_corrupt_first_file(tau_layout):
    root = tau_layout(seconds=2.5, sr=44100)
    assert load_tau(root).clip_seconds() == pytest.approx(2.5)
    (root / "audio/airport-barcelona-0-0-a.wav").write_bytes(b"garbage" * 100)  # first meta row
    assert load_tau(root).clip_seconds() == pytest.approx(2.5)
