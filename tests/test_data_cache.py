"""Feature cache: values, hit, invalidation, interruption/resume, skipping bad files."""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import pytest

import tinyasc.data.cache as cache_mod
from tinyasc.contract import FeatureConfig
from tinyasc.data import build_feature_set, load_tau
from tinyasc.data.cache import FeatureSet
from tinyasc.data.features import load_audio, logmel
from tinyasc.errors import InputError

CFG1 = dataclasses.replace(FeatureConfig(), clip_seconds=1.0)


@pytest.fixture
def counted(monkeypatch):
    """Count the clips the cache decodes."""
    calls = []
    real = cache_mod.read_audio

    def wrapper(path, cfg):
        calls.append(path)
        return real(path, cfg)

    monkeypatch.setattr(cache_mod, "read_audio", wrapper)
    return calls


def test_features_labels_and_metadata(tiny_dataset, tmp_path):
    fs = build_feature_set(tiny_dataset, "evaluate", CFG1, cache_dir=tmp_path, progress=False)
    recs = tiny_dataset.split("evaluate")
    assert len(fs) == len(recs) == 90
    assert fs.features.shape == (90, 256, 34) and fs.features.dtype == np.float16
    assert isinstance(fs.features, np.memmap)
    assert fs.labels.dtype == np.int64 and list(fs.labels) == [r.label for r in recs]
    assert list(fs.devices) == [r.device for r in recs] and list(fs.cities) == [r.city for r in recs]
    assert fs.filenames == [r.filename for r in recs] and fs.feature_config == CFG1 and fs.skipped == []
    for k in (0, 41, 89):
        ref = logmel(load_audio(recs[k].path, CFG1), CFG1).numpy()
        # float16 storage: relative step 2^-11 of |log-mel| (<= ~14 here), i.e. < 0.01 absolute
        np.testing.assert_allclose(fs.features[k].astype(np.float32), ref, rtol=2**-11, atol=1e-3)


def test_cache_hit_reads_no_audio(tiny_dataset, tmp_path, counted):
    first = build_feature_set(tiny_dataset, "train", CFG1, cache_dir=tmp_path, progress=False)
    assert len(counted) == len(first) == 70
    second = build_feature_set(tiny_dataset, "train", CFG1, cache_dir=tmp_path, progress=False)
    assert len(counted) == 70 and second.path == first.path
    np.testing.assert_array_equal(np.asarray(second.features), np.asarray(first.features))


def test_config_or_file_list_change_invalidates(tiny_dataset, tmp_path, counted):
    base = build_feature_set(tiny_dataset, "train", CFG1, cache_dir=tmp_path, progress=False)
    other_cfg = build_feature_set(tiny_dataset, "train", dataclasses.replace(CFG1, n_mels=128),
                                  cache_dir=tmp_path, progress=False)
    assert other_cfg.path != base.path and other_cfg.features.shape == (70, 128, 34)
    assert len(counted) == 140

    # a different file list: drop one training row
    root = tmp_path / "copy"
    shutil.copytree(tiny_dataset.root, root, ignore=shutil.ignore_patterns(".tinyasc_cache"))
    fold = root / "evaluation_setup/fold1_train.csv"
    lines = fold.read_text().splitlines(keepends=True)
    fold.write_text("".join(lines[:-1]))
    fewer = build_feature_set(load_tau(root), "train", CFG1, cache_dir=tmp_path, progress=False)
    assert len(fewer) == 69 and fewer.path != base.path

    # the same list, one file rewritten (new mtime/size): a new key again
    again = build_feature_set(load_tau(root), "train", CFG1, cache_dir=tmp_path, progress=False)
    assert again.path == fewer.path
    victim = root / fewer.filenames[0]
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    rewritten = build_feature_set(load_tau(root), "train", CFG1, cache_dir=tmp_path, progress=False)
    assert rewritten.path != fewer.path


def test_interrupted_extraction_leaves_no_cache_and_resumes(tiny_dataset, tmp_path, monkeypatch):
    real = cache_mod.read_audio
    calls = []
    monkeypatch.setattr(cache_mod, "_SAVE_EVERY_S", 0.0)  # record progress after every batch

    def dying(path, cfg):
        calls.append(path)
        if len(calls) == 40:
            raise KeyboardInterrupt
        return real(path, cfg)

    monkeypatch.setattr(cache_mod, "read_audio", dying)
    with pytest.raises(KeyboardInterrupt):
        build_feature_set(tiny_dataset, "train", CFG1, cache_dir=tmp_path, workers=1, progress=False)
    assert not list(tmp_path.glob("train-*")), "a killed run must not leave a cache under the final name"
    assert len(list(tmp_path.glob(".train-*.partial"))) == 1

    calls.clear()
    monkeypatch.setattr(cache_mod, "read_audio", lambda p, c: (calls.append(p), real(p, c))[1])
    resumed = build_feature_set(tiny_dataset, "train", CFG1, cache_dir=tmp_path, workers=1, progress=False)
    assert 0 < len(calls) <= 70 - 32, "finished batches (2 x 16 clips) must not be decoded again"
    assert not list(tmp_path.glob(".train-*.partial"))

    fresh = build_feature_set(tiny_dataset, "train", CFG1, cache_dir=tmp_path / "fresh", progress=False)
    np.testing.assert_array_equal(np.asarray(resumed.features), np.asarray(fresh.features))


def test_truncated_cache_is_refused(tiny_dataset, tmp_path):
    fs = build_feature_set(tiny_dataset, "evaluate", CFG1, cache_dir=tmp_path, progress=False)
    data = fs.path / "features.f16"
    del fs
    with open(data, "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(InputError, match="feature store is missing or not"):
        FeatureSet.load(data.parent)


def test_bad_clip_raises_or_is_skipped(tau_layout, tmp_path):
    root = tau_layout()
    bad = root / "audio/bus-lyon-1-0-b.wav"
    bad.write_bytes(bad.read_bytes()[:2000])  # truncated
    ds = load_tau(root)
    with pytest.raises(InputError) as err:
        build_feature_set(ds, "train", CFG1, cache_dir=tmp_path, progress=False)
    assert "bus-lyon-1-0-b.wav" in str(err.value) and "truncated" in str(err.value)
    assert not list(tmp_path.glob("train-*"))

    fs = build_feature_set(ds, "train", CFG1, cache_dir=tmp_path, progress=False, skip_bad=True)
    assert len(fs) == 3 and "audio/bus-lyon-1-0-b.wav" not in fs.filenames
    assert [f for f, _ in fs.skipped] == ["audio/bus-lyon-1-0-b.wav"] and "truncated" in fs.skipped[0][1]
    assert fs.features.shape == (3, 256, 34)
    good = {r.filename: r for r in ds.records}
    for k, name in enumerate(fs.filenames):  # compaction kept rows aligned with their names
        ref = logmel(load_audio(good[name].path, CFG1), CFG1).numpy()
        np.testing.assert_allclose(fs.features[k].astype(np.float32), ref, rtol=2**-11, atol=1e-3)
    # a cache with skipped clips is not silently reused by a strict run
    with pytest.raises(InputError, match="truncated"):
        build_feature_set(ds, "train", CFG1, cache_dir=tmp_path, progress=False)
