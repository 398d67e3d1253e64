"""Seeded fuzzer for files from outside the project: wav bytes, csv rows, checkpoints.

The property, for every mutated input: a result, or one :class:`~tinyasc.errors.InputError`
(through a CLI: one stderr line and exit status 2); never another exception, a hang (each
example runs under an alarm of :data:`HANG_S` seconds) or a file left half-written (no
temporary file, no cache directory without its ``meta.json``).

Bounded to seconds in CI (``derandomize=True``: the same examples every run); set
``TINYASC_FUZZ_EXAMPLES=N`` for N examples per property (e.g. 2000 for a long session).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_support import time_limit
from tinyasc.contract import CHECKPOINT_FORMAT, Checkpoint, FeatureConfig
from tinyasc.data.cache import build_feature_set
from tinyasc.data.cli import features_main
from tinyasc.data.features import read_audio
from tinyasc.data.integrity import read_header
from tinyasc.data.tau import load_tau
from tinyasc.errors import InputError
from tinyasc.model import create_model, from_checkpoint

EXAMPLES = int(os.environ.get("TINYASC_FUZZ_EXAMPLES", "25"))
HANG_S = 60  # one example takes well under a second; the first pays the librosa import (seconds on a loaded CPU)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CFG = FeatureConfig(clip_seconds=0.25)


def no_hang(seconds: int = HANG_S):
    """A hang fails the example (:class:`TimeoutError`)."""
    return time_limit(seconds)


def _nothing_half_written(root: Path) -> None:
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
    for d in root.rglob("train-*"):
        if d.is_dir():
            assert (d / "meta.json").is_file() and (d / "features.f16").is_file(), d


# ----------------------------------------------------------------------------- wav bytes
def _wav_bytes(subtype: str = "PCM_16", sr: int = 16000, seconds: float = 0.25, channels: int = 1) -> bytes:
    rng = np.random.default_rng(1)
    x = 0.2 * rng.standard_normal((int(sr * seconds), channels)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, sr, subtype=subtype, format="WAV")
    return buf.getvalue()


BASES = [_wav_bytes(), _wav_bytes("PCM_24", 44100), _wav_bytes("FLOAT", 22050, channels=2), _wav_bytes("PCM_U8", 8000)]


@st.composite
def mutated_wav(draw) -> bytes:
    data = bytearray(BASES[draw(st.integers(0, len(BASES) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "header-byte", "header-word", "any-byte", "insert", "delete"]))
        if kind == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif kind == "header-byte" and data:
            data[draw(st.integers(0, min(len(data), 64) - 1))] = draw(st.integers(0, 255))
        elif kind == "header-word" and len(data) >= 8:  # a size, rate, channel count or format field
            at = draw(st.sampled_from([4, 16, 20, 22, 24, 28, 32, 34, 40]))
            if at + 4 <= len(data):
                data[at:at + 4] = draw(st.sampled_from([0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                                                        draw(st.integers(0, 2**32 - 1))])).to_bytes(4, "little")
        elif kind == "any-byte" and data:
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete" and data:
            at = draw(st.integers(0, len(data) - 1))
            del data[at:at + draw(st.integers(1, 16))]
    return bytes(data)


@FUZZ
@given(data=mutated_wav())
def test_fuzz_wav_bytes_through_reader(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.wav"
        path.write_bytes(data)
        with no_hang():
            head = read_header(path)
            assert (head.seconds is None) != (head.problem is None)
            try:
                wave, _ = read_audio(path, CFG)
            except InputError as err:
                assert str(err).startswith(str(path)) and "\n" not in str(err)
            else:
                assert wave.shape == (CFG.clip_samples,) and wave.dtype == np.float32 and np.isfinite(wave).all()


def _dataset(root: Path, bad: bytes | None = None, meta_rows: list[str] | None = None) -> Path:
    """Three clips (airport, bus, park; device a) in the TAU layout; the bus clip's bytes are ``bad``."""
    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    rows = []
    for k, scene in enumerate(("airport", "bus", "park")):
        name = f"audio/{scene}-lyon-{k}-0-a.wav"
        (root / name).write_bytes(bad if (bad is not None and scene == "bus") else BASES[0])
        rows.append(f"{name}\t{scene}\tlyon-{k}\ta")
    rows = meta_rows if meta_rows is not None else rows
    header = "filename\tscene_label\tidentifier\tsource_label\n"
    (root / "meta.csv").write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    fold = "filename\tscene_label\n" + "".join("\t".join(r.split("\t")[:2]) + "\n" for r in rows[:3])
    (root / "evaluation_setup" / "fold1_train.csv").write_text(fold, encoding="utf-8")
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("filename\tscene_label\n", encoding="utf-8")
    return root


@FUZZ
@given(data=mutated_wav(), skip_bad=st.booleans())
def test_fuzz_wav_through_dataset_and_features(data, skip_bad):
    with tempfile.TemporaryDirectory() as tmp, no_hang():
        root = _dataset(Path(tmp) / "ds", bad=data)
        cache = Path(tmp) / "cache"
        try:
            ds = load_tau(root, skip_bad=skip_bad)
            fs = build_feature_set(ds, "train", CFG, cache_dir=cache, skip_bad=skip_bad, progress=False)
        except InputError as err:
            assert "\n" not in str(err)
        else:
            assert len(fs) + len(fs.skipped) == 3 and np.isfinite(np.asarray(fs.features, np.float32)).all()
            assert len(fs) == 3 or skip_bad
        _nothing_half_written(cache)


@settings(FUZZ, max_examples=max(5, EXAMPLES // 5))
@given(data=mutated_wav())
def test_fuzz_wav_cli_one_line_exit_2(data):
    with tempfile.TemporaryDirectory() as tmp, no_hang():
        root = _dataset(Path(tmp) / "ds", bad=data)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = features_main([str(root), "--split", "train", "--no-progress", "--clip-seconds", "0.25",
                                "--cache-dir", str(Path(tmp) / "cache"), "--workers", "1"])
        lines = err.getvalue().strip().splitlines()
        assert rc == 0 and not lines or rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), (rc, lines)
        _nothing_half_written(Path(tmp) / "cache")


# ----------------------------------------------------------------------------- csv rows
FIELD = st.one_of(
    st.sampled_from(["airport", "bus", "park", "beach", "", " ", "audio/bus-lyon-1-0-a.wav", "audio/none.wav",
                     "audio/../meta.csv", "audio/", "lyon-1", "a", "s9", "x" * 300]),
    st.text(max_size=30),
)


@st.composite
def mutated_rows(draw) -> list[str]:
    rows = [f"audio/{s}-lyon-{k}-0-a.wav\t{s}\tlyon-{k}\ta" for k, s in enumerate(("airport", "bus", "park"))]
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(0, 2))
        kind = draw(st.sampled_from(["field", "fields", "drop-field", "extra-field", "duplicate", "new-row"]))
        cells = rows[k].split("\t")
        if kind == "field":
            cells[draw(st.integers(0, len(cells) - 1))] = draw(FIELD)
        elif kind == "fields":
            cells = [draw(FIELD) for _ in range(4)]
        elif kind == "drop-field" and len(cells) > 1:
            del cells[draw(st.integers(0, len(cells) - 1))]
        elif kind == "extra-field":
            cells.append(draw(FIELD))
        elif kind == "duplicate":
            rows.append(rows[k])
        else:
            rows.append("\t".join(draw(FIELD) for _ in range(4)))
        rows[k] = "\t".join(cells)
    return [r.replace("\n", " ").replace("\r", " ") for r in rows]


@FUZZ
@given(rows=mutated_rows(), skip_bad=st.booleans())
def test_fuzz_csv_rows_through_loader(rows, skip_bad):
    with tempfile.TemporaryDirectory() as tmp, no_hang():
        root = _dataset(Path(tmp) / "ds")
        try:
            (root / "meta.csv").write_text("filename\tscene_label\tidentifier\tsource_label\n"
                                           + "".join(r + "\n" for r in rows), encoding="utf-8")
        except UnicodeEncodeError:  # a lone surrogate cannot be written as UTF-8: no such file can exist
            return
        try:
            ds = load_tau(root, skip_bad=skip_bad)
        except InputError as err:
            assert "\n" not in str(err)
        else:
            assert ds.records and all(r.path.is_file() for r in ds.records)
            assert not ds.skipped or skip_bad


# ----------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def ckpt_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ck") / "c.pt"
    model = create_model("bcresnet_asc_1")
    Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(), feature_config=FeatureConfig(),
               state_dict=model.state_dict(), metrics={"overall": 0.5}).save(path)
    return path.read_bytes()


def _load_property(path: Path) -> None:
    with no_hang():
        try:
            ckpt = Checkpoint.load(path)
            from_checkpoint(ckpt, path=path)
        except InputError as err:
            assert str(err).startswith(str(path)) and "\n" not in str(err)


@settings(FUZZ, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_mutated_checkpoint(ckpt_bytes, data):
    buf = bytearray(ckpt_bytes)
    kind = data.draw(st.sampled_from(["truncate", "bytes", "pickle-bytes", "zero-range"]))
    if kind == "truncate":
        del buf[data.draw(st.integers(0, len(buf) - 1)):]
    elif kind == "bytes":
        for _ in range(data.draw(st.integers(1, 8))):
            buf[data.draw(st.integers(0, len(buf) - 1))] ^= data.draw(st.integers(1, 255))
    elif kind == "pickle-bytes":  # inside data.pkl, where a loader would act on what it reads
        with zipfile.ZipFile(io.BytesIO(ckpt_bytes)) as z:
            info = next(i for i in z.infolist() if i.filename.endswith("data.pkl"))
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for _ in range(data.draw(st.integers(1, 4))):
            buf[start + data.draw(st.integers(0, info.file_size - 1))] = data.draw(st.integers(0, 255))
    else:
        a = data.draw(st.integers(0, len(buf) - 1))
        buf[a:a + data.draw(st.integers(1, 4096))] = bytes(min(len(buf) - a, 4096))[: len(buf[a:a + 4096])]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.pt"
        path.write_bytes(bytes(buf))
        _load_property(path)


PLAIN = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
              st.binary(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4),
                            st.tuples(inner, inner)),
    max_leaves=12,
)


@FUZZ
@given(payload=PLAIN, fields=st.dictionaries(
    st.sampled_from(["model_name", "model_config", "feature_config", "labels", "state_dict", "train_config",
                     "metrics", "compression", "norm_stats", "resume"]), PLAIN, max_size=10),
    tinyasc=st.booleans())
def test_fuzz_foreign_checkpoint(payload, fields, tinyasc):
    """Other programs' torch files: any plain payload, or ours with fields of any plain value."""
    obj = {"format": CHECKPOINT_FORMAT, **fields} if tinyasc else payload
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pt"
        torch.save(obj, path)
        _load_property(path)


# ----------------------------------------------------------------------------- what the fuzzer found
def test_found_float_wav_with_huge_samples_is_refused(tmp_path):
    """Found by the fuzzer: a finite float sample of 1e30 made the log-mel inf in the float16 cache."""
    path = tmp_path / "loud.wav"
    sf.write(path, np.array([0.1, 1e30, -0.2] * 1000, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InputError, match=r"samples reach 1e\+30"):
        read_audio(path, CFG)
    ok = tmp_path / "over.wav"  # a float file past full scale (a few dB) is still audio
    sf.write(ok, np.array([0.1, 1.5, -0.2] * 1000, np.float32), 16000, subtype="FLOAT")
    assert np.isfinite(read_audio(ok, CFG)[0]).all()


def test_found_nul_byte_in_a_file_name_is_one_input_error(tmp_path):
    """Found by the fuzzer: a NUL in a meta.csv file name raised ValueError from ``Path.stat``."""
    root = _dataset(tmp_path / "ds", meta_rows=["\x00\tairport\tlyon-0\ta", "audio/bus-lyon-1-0-a.wav\tbus\tlyon-1\ta"])
    with pytest.raises(InputError, match="control characters"):
        load_tau(root)
    assert [r.scene for r in load_tau(root, skip_bad=True).records] == ["bus"]
