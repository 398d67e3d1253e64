"""Dataset integrity: the clip length comes from the dataset as a whole; all bad files are named at once."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
import soundfile as sf

from tinyasc.contract import FeatureConfig
from tinyasc.data.cache import build_feature_set
from tinyasc.data.cli import features_main
from tinyasc.data.integrity import MAX_LISTED, decide_clip_length
from tinyasc.data.tau import load_tau
from tinyasc.errors import InputError

SECONDS = 2.0  # stands in for TAU's 10 s: short clips keep the test fast, the rule is the same
SCENES = ("airport", "bus", "park", "tram")


def _clips(n: int) -> list[tuple[str, str]]:
    return [(f"{SCENES[k % 4]}-lyon-{k}-0-a", SCENES[k % 4]) for k in range(n)]


def _truncate(path, keep: float = 1 / 3) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _shorten(path, seconds: float) -> None:
    """Rewrite a wav as a valid, complete file of another duration."""
    x, sr = sf.read(path)
    sf.write(path, x[: int(seconds * sr)], sr, subtype="PCM_24")


def test_truncated_first_file_keeps_the_clip_length(tau_layout, tmp_path, caplog):
    root = tau_layout(clips=_clips(12), seconds=SECONDS)
    first = root / "audio" / f"{_clips(1)[0][0]}.wav"
    _truncate(first)
    assert sf.info(str(first)).duration == pytest.approx(SECONDS / 3, abs=0.01)  # what the old rule took
    ds = load_tau(root, skip_bad=True)
    assert ds.clip_seconds() == pytest.approx(SECONDS)
    cfg = dataclasses.replace(FeatureConfig(), clip_seconds=ds.clip_seconds())
    with caplog.at_level(logging.WARNING):
        fs = build_feature_set(ds, "train", cfg, cache_dir=tmp_path / "c", skip_bad=True, progress=False)
    assert fs.feature_config.clip_seconds == pytest.approx(SECONDS) and fs.features.shape[2] == cfg.n_frames
    assert [f for f, _ in fs.skipped] == [f"audio/{first.name}"] and "truncated" in fs.skipped[0][1]
    assert len(fs) == 11 and fs.off_length == []  # the truncated file is bad, not "another length"
    meta = json.loads((fs.path / "meta.json").read_text())
    assert meta["feature_config"]["clip_seconds"] == pytest.approx(SECONDS)


def test_cli_skip_bad_on_truncated_first_file_uses_the_common_length(tau_layout, tmp_path, capsys):
    root = tau_layout(clips=_clips(12), seconds=SECONDS)
    _truncate(root / "audio" / f"{_clips(1)[0][0]}.wav")
    rc = features_main([str(root), "--split", "train", "--skip-bad", "--no-progress", "--cache-dir", str(tmp_path)])
    out = capsys.readouterr().out
    frames = dataclasses.replace(FeatureConfig(), clip_seconds=SECONDS).n_frames
    assert rc == 0 and f"train: 11 clips x 256 mels x {frames} frames" in out, out
    assert "skipped 1 bad file(s):" in out and "truncated audio file" in out


def test_odd_length_files_are_named_once_and_counted(tau_layout, tmp_path, capsys, caplog):
    root = tau_layout(clips=_clips(12), seconds=SECONDS)
    odd = [_clips(12)[k][0] for k in (0, 5)]
    for stem in odd:
        _shorten(root / "audio" / f"{stem}.wav", 0.5)
    ds = load_tau(root)
    with caplog.at_level(logging.WARNING, logger="tinyasc.data.integrity"):
        length = ds.clip_length()
    assert length.seconds == pytest.approx(SECONDS) and length.sampled == 12 and length.agreeing == 10
    assert sorted(f for f, _ in length.outliers) == sorted(f"audio/{s}.wav" for s in odd)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and all(s in warnings[0].getMessage() for s in odd)
    rc = features_main([str(root), "--split", "train", "--no-progress", "--cache-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "2 clip(s) not 2 s long (padded or cropped)" in out, out
    fs = build_feature_set(ds, "train", dataclasses.replace(FeatureConfig(), clip_seconds=SECONDS),
                           cache_dir=tmp_path, progress=False)  # cache hit keeps the count
    assert sorted(f for f, _ in fs.off_length) == sorted(f"audio/{s}.wav" for s in odd)


def test_mode_tie_takes_the_longer_duration(tmp_path):
    paths = []
    for k, sec in enumerate((1.0, 1.0, 2.0, 2.0)):
        p = tmp_path / f"x{k}.wav"
        sf.write(p, [0.1] * int(sec * 8000), 8000)
        paths.append((p.name, p))
    assert decide_clip_length(paths).seconds == 2.0


def test_no_readable_header_is_one_error(tmp_path):
    p = tmp_path / "x.wav"
    p.write_bytes(b"RIFF nothing")
    with pytest.raises(InputError, match="not a readable audio file"):
        decide_clip_length([("x.wav", p)])


def _break_three(root):
    stems = [c[0] for c in _clips(12)]
    _truncate(root / "audio" / f"{stems[2]}.wav")
    (root / "audio" / f"{stems[6]}.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    (root / "audio" / f"{stems[9]}.wav").write_bytes(b"garbage" * 50)
    return [stems[2], stems[6], stems[9]]


def test_strict_run_names_every_bad_file(tau_layout, tmp_path, capsys):
    root = tau_layout(clips=_clips(12), seconds=SECONDS)
    broken = _break_three(root)
    ds = load_tau(root)
    cfg = dataclasses.replace(FeatureConfig(), clip_seconds=ds.clip_seconds())
    with pytest.raises(InputError) as err:
        build_feature_set(ds, "train", cfg, cache_dir=tmp_path / "c", progress=False)
    assert "3 bad files" in str(err.value) and all(s in str(err.value) for s in broken), str(err.value)
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").glob("train-*/meta.json"))  # nothing cached
    rc = features_main([str(root), "--split", "train", "--no-progress", "--cache-dir", str(tmp_path / "d")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and all(s in lines[0] for s in broken), lines
    # --skip-bad leaves out exactly those three
    fs = build_feature_set(ds, "train", cfg, cache_dir=tmp_path / "c", skip_bad=True, progress=False)
    assert sorted(f for f, _ in fs.skipped) == sorted(f"audio/{s}.wav" for s in broken) and len(fs) == 9


def test_many_bad_files_are_capped_then_counted(tau_layout, tmp_path):
    n = MAX_LISTED + 8
    root = tau_layout(clips=_clips(n + 4), seconds=0.5)
    for stem, _ in _clips(n + 4)[4:]:
        (root / "audio" / f"{stem}.wav").write_bytes(b"garbage" * 50)
    ds = load_tau(root)
    with pytest.raises(InputError) as err:
        build_feature_set(ds, "train", dataclasses.replace(FeatureConfig(), clip_seconds=0.5), cache_dir=tmp_path,
                          progress=False)
    msg = str(err.value)
    assert f"{n} bad files" in msg and "... and 8 more" in msg and msg.count("not a readable audio file") == MAX_LISTED


def test_strict_load_names_every_bad_row(tau_layout):
    root = tau_layout()
    (root / "audio/park-helsinki-2-3-s1.wav").unlink()
    meta = root / "meta.csv"
    meta.write_text(meta.read_text().replace("\tbus\t", "\tbeach\t", 1))
    with pytest.raises(InputError) as err:
        load_tau(root)
    msg = str(err.value)
    assert "2 bad files" in msg and "park-helsinki-2-3-s1.wav: audio file not found" in msg
    assert "unknown scene label 'beach'" in msg
    assert len(load_tau(root, skip_bad=True).skipped) == 2


def test_decode_time_problems_are_all_named_too(tau_layout, tmp_path):
    """Files whose header is fine but whose samples are not (NaN) are found while decoding; all are named."""
    import numpy as np

    root = tau_layout(clips=_clips(8), seconds=0.5)
    stems = [c[0] for c in _clips(8)]
    for s in (stems[1], stems[3]):
        sf.write(root / "audio" / f"{s}.wav", np.full(8000, np.nan, np.float32), 16000, subtype="FLOAT")
    ds = load_tau(root)
    with pytest.raises(InputError) as err:
        build_feature_set(ds, "train", dataclasses.replace(FeatureConfig(), clip_seconds=0.5), cache_dir=tmp_path,
                          progress=False)
    assert "2 bad files" in str(err.value) and stems[1] in str(err.value) and stems[3] in str(err.value)
    assert "NaN" in str(err.value)
