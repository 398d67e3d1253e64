"""Log-mel front end against independent references; audio decoding of unusual and broken files."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from tinyasc.contract import FeatureConfig
from tinyasc.data.features import load_audio, logmel, mel_filterbank, read_audio
from tinyasc.errors import InputError

CFG = FeatureConfig()
CFG1 = dataclasses.replace(CFG, clip_seconds=1.0)


def _signal(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Tones + broadband noise + a click: energy in every mel band, some structure in time."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t) + 0.05 * rng.standard_normal(t.size)
    x[len(x) // 3] += 0.8
    return x.astype(np.float32)


def _htk_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular filters from the HTK mel formula, written out here (no librosa)."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    f_max = cfg.sample_rate / 2 if cfg.f_max is None else cfg.f_max
    edges = hz(np.linspace(mel(cfg.f_min), mel(f_max), cfg.n_mels + 2))
    bins = np.arange(cfg.n_fft // 2 + 1) * cfg.sample_rate / cfg.n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)))


def _reference_logmel(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """float64 numpy: zero-padded centred frames, periodic Hann centred in n_fft, |rfft|^2, HTK mel, log."""
    pad = cfg.n_fft // 2
    xp = np.pad(x.astype(np.float64), (pad, pad))
    n_frames = 1 + len(x) // cfg.hop_length
    win = np.zeros(cfg.n_fft)
    off = (cfg.n_fft - cfg.win_length) // 2
    win[off : off + cfg.win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.win_length) / cfg.win_length)
    frames = np.stack([xp[i * cfg.hop_length : i * cfg.hop_length + cfg.n_fft] for i in range(n_frames)], axis=1)
    power = np.abs(np.fft.rfft(frames * win[:, None], axis=0)) ** 2
    return np.log(_htk_filterbank(cfg) @ power + cfg.log_offset)


def test_filterbank_matches_htk_formula_and_has_no_empty_filter():
    fb = mel_filterbank(CFG)
    assert fb.shape == (256, 4096 // 2 + 1) and fb.dtype == np.float32
    assert (fb.max(axis=1) > 0).all()
    # float32 rounding of the triangle weights only
    np.testing.assert_allclose(fb, _htk_filterbank(CFG), atol=1e-5)


def test_small_fft_with_empty_filters_is_rejected():
    cfg = dataclasses.replace(CFG, win_ms=50.0, n_fft=1024)  # 800-sample window; 256 mels need more bins
    with pytest.raises(ValueError, match="empty mel filter"):
        mel_filterbank(cfg)


def test_logmel_shape_and_values_against_float64_reference():
    x = _signal(10.0)
    out = logmel(x, CFG)
    assert out.shape == (256, 334) == (CFG.n_mels, CFG.n_frames) and out.dtype == torch.float32
    ref = _reference_logmel(x, CFG)
    # float32 STFT vs float64: power errors ~1e-6 relative to each frame's energy; every band
    # holds >= 1e-4 of it here, so 2e-3 in log (0.2 % in power) bounds the rounding with margin.
    err = np.abs(out.numpy() - ref)
    assert err.max() < 2e-3 and err.mean() < 1e-4, (err.max(), err.mean())


def test_logmel_matches_librosa_melspectrogram():
    import librosa

    x = _signal(3.0, seed=1)
    cfg = dataclasses.replace(CFG, clip_seconds=3.0)
    ref = librosa.feature.melspectrogram(
        y=x, sr=16000, n_fft=4096, hop_length=480, win_length=2080, window="hann", center=True,
        pad_mode="constant", power=2.0, n_mels=256, fmin=0.0, fmax=8000.0, htk=True, norm=None,
    )
    ours = logmel(x, cfg).numpy()
    # both float32; same tolerance argument as the float64 reference
    np.testing.assert_allclose(ours, np.log(ref + 1e-6), atol=2e-3)


def test_logmel_batch_equals_single_and_silence_is_finite():
    xs = np.stack([_signal(1.0, seed=s) for s in range(3)] + [np.zeros(16000, np.float32)])
    batch = logmel(torch.from_numpy(xs), CFG1)
    assert batch.shape == (4, 256, 34)
    for k in range(4):
        torch.testing.assert_close(batch[k], logmel(xs[k], CFG1), rtol=0, atol=1e-5)  # same float32 ops
    assert torch.isfinite(batch).all()
    assert torch.equal(batch[3], torch.full((256, 34), float(np.log(np.float32(1e-6)))))


# ----------------------------------------------------------------------------- decoding


def test_unusual_files_just_work(tmp_path):
    x = _signal(1.0)
    sf.write(tmp_path / "stereo.wav", np.stack([x, -0.5 * x], axis=1), 16000, subtype="PCM_24")
    sf.write(tmp_path / "float.wav", x, 16000, subtype="FLOAT")
    sf.write(tmp_path / "u8.wav", x, 16000, subtype="PCM_U8")
    sf.write(tmp_path / "short.wav", x[:8000], 16000, subtype="PCM_16")
    sf.write(tmp_path / "long.wav", np.concatenate([x, x, x]), 16000, subtype="PCM_24")
    sf.write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000, subtype="PCM_24")

    stereo, notes = read_audio(tmp_path / "stereo.wav", CFG1)
    np.testing.assert_allclose(stereo, 0.25 * x, atol=2**-22)  # 24-bit quantization of each channel
    assert notes == ("2 channels (downmixed to mono)",)
    np.testing.assert_array_equal(load_audio(tmp_path / "float.wav", CFG1), x)  # float32 round trip
    np.testing.assert_allclose(load_audio(tmp_path / "u8.wav", CFG1), x, atol=2**-7)  # 8-bit step
    short, notes = read_audio(tmp_path / "short.wav", CFG1)
    assert short.shape == (16000,) and not short[8000:].any() and "zero-padded" in notes[0]
    np.testing.assert_allclose(short[:8000], x[:8000], atol=2**-15)
    long, notes = read_audio(tmp_path / "long.wav", CFG1)
    assert long.shape == (16000,) and "cropped" in notes[0]
    np.testing.assert_allclose(long, x, atol=2**-23)
    silence, notes = read_audio(tmp_path / "silence.wav", CFG1)
    assert not silence.any() and "digital silence" in notes[0]
    assert torch.isfinite(logmel(silence, CFG1)).all()


def test_44k_24bit_is_resampled_by_soxr(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    sf.write(tmp_path / "tau.wav", 0.5 * np.sin(2 * np.pi * 1000 * t), sr, subtype="PCM_24")
    y, notes = read_audio(tmp_path / "tau.wav", CFG1)
    assert y.shape == (16000,) and y.dtype == np.float32 and notes == ("44100 Hz (resampled to 16000 Hz with soxr)",)
    expect = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    # soxr HQ is linear-phase with its delay removed: away from the edges the 1 kHz tone is
    # reproduced to its passband ripple (well under 1e-3 of full scale).
    np.testing.assert_allclose(y[500:-500], expect[500:-500], atol=1e-3)


def test_notes_are_logged_once_per_kind(tau_layout, tmp_path, caplog):
    from tinyasc.data import build_feature_set, load_tau

    root = tau_layout()
    for stem in ("bus-lyon-1-0-b", "park-helsinki-2-3-s1"):
        x = _signal(1.0)
        sf.write(root / f"audio/{stem}.wav", np.stack([x, x], axis=1), 22050, subtype="PCM_16")
    import tinyasc.data.features as feats

    feats._logged_notes.clear()
    with caplog.at_level(logging.INFO, logger="tinyasc.data.features"):
        build_feature_set(load_tau(root), "train", CFG1, cache_dir=tmp_path / "c", progress=False, workers=2)
    lines = [r.getMessage() for r in caplog.records if r.name == "tinyasc.data.features"]
    assert sum("2 channels" in m for m in lines) == 1 and any(m.startswith("2 file(s) with 2 channels") for m in lines)
    assert sum("22050 Hz" in m for m in lines) == 1


def _break(path, how):
    good = path.read_bytes()
    if how == "corrupt":
        path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8)))
    elif how == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif how == "header-only":
        path.write_bytes(good[:30])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "missing":
        path.unlink()
    elif how == "nan":
        x = np.full(1000, np.nan, np.float32)
        sf.write(path, x, 16000, subtype="FLOAT")


@pytest.mark.parametrize("how,problem", [
    ("corrupt", "not a readable audio file"),
    ("truncated", "truncated audio file"),
    ("header-only", "not a readable audio file"),
    ("empty", "empty"),
    ("missing", "not found"),
    ("nan", "NaN"),
])
def test_broken_audio_raises_input_error(tmp_path, how, problem):
    path = tmp_path / "clip-x-0-0-a.wav"
    sf.write(path, _signal(1.0), 16000, subtype="PCM_24")
    _break(path, how)
    with pytest.raises(InputError) as err:
        load_audio(path, CFG1)
    assert err.value.path == str(path) and problem in err.value.problem, str(err.value)
