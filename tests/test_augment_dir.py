"""Device impulse-response augmentation: the IR loader, the convolution, the training hook, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tinyasc.contract import FeatureConfig
from tinyasc.data.impulse import apply_ir, load_impulse_responses
from tinyasc.data.synth import DEVICE_IR_COUNT, DEVICE_MODELS, SR, _interp_db, synthetic_device_ir
from tinyasc.errors import InputError
from tinyasc.train.augment import DeviceIRAugment


def _noise(n: int = 16000, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 0.1).astype(np.float32)


def _write(path, data, sr=16000, subtype="FLOAT"):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(data, dtype=np.float32), sr, subtype=subtype)
    return path


def test_unit_impulse_leaves_the_audio_unchanged():
    x = _noise()
    h = np.zeros(64, np.float32)
    h[0] = 1.0
    # float64 FFT convolution, then float32: the error is FFT round-off (~1e-16 relative), far below 1e-7
    np.testing.assert_allclose(apply_ir(x, h), x, rtol=0, atol=1e-7)


def test_delayed_impulse_delays_the_audio():
    x = _noise(seed=1)
    h = np.zeros(100, np.float32)
    h[37] = 1.0
    y = apply_ir(x, h)
    assert y.shape == x.shape  # cut to the clip, as the published recipe does
    np.testing.assert_allclose(y[37:], x[:-37], rtol=0, atol=1e-7)
    np.testing.assert_allclose(y[:37], 0.0, rtol=0, atol=1e-7)


def test_loader_normalises_energy_and_downmixes(tmp_path):
    rng = np.random.default_rng(2)
    stereo = rng.standard_normal((300, 2)) * 5.0
    _write(tmp_path / "irs" / "b_stereo.wav", stereo)
    _write(tmp_path / "irs" / "a_quiet.wav", rng.standard_normal(200) * 1e-3)
    _write(tmp_path / "irs" / "sub" / "c_48k.wav", rng.standard_normal(960), sr=48000)
    (tmp_path / "irs" / "notes.txt").write_text("not an IR")
    bank = load_impulse_responses(tmp_path / "irs", 16000, max_samples=16000)
    assert bank.names == ["a_quiet.wav", "b_stereo.wav", "sub/c_48k.wav"]  # sorted, recursive, wav only
    for h in bank.irs:
        assert h.dtype == np.float32
        np.testing.assert_allclose(float(np.sum(h.astype(np.float64) ** 2)), 1.0, rtol=1e-5)  # float32 storage
    mono = stereo.astype(np.float32).astype(np.float64).mean(axis=1)  # the mean of the channels, documented
    np.testing.assert_allclose(bank.irs[1], mono / np.sqrt(np.sum(mono**2)), rtol=1e-5, atol=1e-7)
    assert abs(bank.irs[2].shape[0] - 320) <= 1  # 960 samples at 48 kHz -> 320 at 16 kHz (soxr)


def test_unit_energy_keeps_the_power_of_white_noise():
    """sum(h^2) = 1 => E[y^2] = E[x^2] for white x: over 160k samples the power agrees to a few %."""
    h = synthetic_device_ir(3).astype(np.float32)
    x = _noise(160000, seed=4)
    y = apply_ir(x, h)
    assert abs(float(np.mean(y[600:] ** 2) / np.mean(x[600:] ** 2)) - 1.0) < 0.05


def test_bad_ir_folders(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_impulse_responses(tmp_path / "missing", 16000)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no impulse-response .wav"):
        load_impulse_responses(tmp_path / "empty", 16000)
    bad = tmp_path / "bad"
    (bad).mkdir()
    (bad / "broken.wav").write_bytes(b"RIFF0000WAVEnope")
    with pytest.raises(InputError, match="broken.wav.*not a readable"):
        load_impulse_responses(bad, 16000)
    with pytest.raises(InputError, match="no readable impulse response"):
        load_impulse_responses(bad, 16000, skip_bad=True)
    _write(bad / "long.wav", _noise(20000))
    _write(bad / "silent.wav", np.zeros(50))
    _write(bad / "ok.wav", _noise(100))
    (bad / "broken.wav").unlink()  # files are read in sorted order: the first bad one is reported
    with pytest.raises(InputError, match="long.wav.*longer than the clip"):
        load_impulse_responses(bad, 16000, max_samples=16000)
    (bad / "broken.wav").write_bytes(b"RIFF0000WAVEnope")
    bank = load_impulse_responses(bad, 16000, max_samples=16000, skip_bad=True)
    assert bank.names == ["ok.wav"]
    assert {f for f, _ in bank.skipped} == {"broken.wav", "long.wav", "silent.wav"}
    assert any("all zeros" in p for _, p in bank.skipped)


def _log_response_db(h: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    spec = np.abs(np.fft.rfft(h, 4096))
    grid = np.fft.rfftfreq(4096, 1.0 / SR)
    db = 20 * np.log10(np.interp(freqs, grid, spec) + 1e-9)
    return db - db.mean()


def _device_db(name: str, freqs: np.ndarray) -> np.ndarray:
    dm = DEVICE_MODELS[name]
    mag = 10 ** (_interp_db(dm.eq, freqs) / 20) / np.sqrt(1 + (dm.hp_hz / freqs) ** 4)
    if dm.lp_hz is not None:
        mag /= np.sqrt(1 + (freqs / dm.lp_hz) ** (2 * dm.lp_order))
    db = 20 * np.log10(mag)
    return db - db.mean()


def test_synthetic_irs_are_deterministic_and_not_the_held_out_devices():
    """Every shipped IR differs from S4, S5 and S6's frequency response by more than 4 dB RMS
    (100 Hz - 7.5 kHz, level removed); the closest training-device-like IRs are within that range."""
    freqs = np.geomspace(100, 7500, 200)
    for k in range(DEVICE_IR_COUNT):
        h = synthetic_device_ir(k)
        np.testing.assert_array_equal(h, synthetic_device_ir(k))
        for dev in ("s4", "s5", "s6"):
            rms = float(np.sqrt(np.mean((_log_response_db(h, freqs) - _device_db(dev, freqs)) ** 2)))
            assert rms > 4.0, (k, dev, rms)


def test_synth_writes_the_irs(tiny_dataset):
    folder = tiny_dataset.root / "device_irs"
    bank = load_impulse_responses(folder, 16000, max_samples=16000)
    assert len(bank) == DEVICE_IR_COUNT and not bank.skipped
    # 24-bit PCM at peak 0.9, back to unit energy: a quantization step is ~1.2e-7 of the peak
    np.testing.assert_allclose(bank.irs[0], synthetic_device_ir(0), rtol=0, atol=1e-6)


def _feature_set(tiny_dataset, tmp_path):
    from tinyasc.data.cache import build_feature_set

    return build_feature_set(tiny_dataset, "train", FeatureConfig(clip_seconds=tiny_dataset.clip_seconds()),
                             cache_dir=tmp_path, workers=1, progress=False)


def test_training_hook_recomputes_device_a_features_only(tiny_dataset, tmp_path):
    fs = _feature_set(tiny_dataset, tmp_path)
    idx = np.arange(len(fs))[:16]
    x = torch.from_numpy(np.asarray(fs.features[idx], dtype=np.float32)).unsqueeze(1)
    devices = [str(d) for d in fs.devices[idx]]
    names = [fs.filenames[i] for i in idx]
    unit = np.zeros(8, np.float32)
    unit[0] = 1.0
    aug = DeviceIRAugment(irs=(unit,), prob=1.0, root=tiny_dataset.root, feature_config=fs.feature_config)
    y, n = aug(x, names, devices, torch.Generator().manual_seed(0))
    assert n == devices.count("a") > 0
    # a unit impulse: the recomputed log-mel is the cached one up to the float16 rounding of nearly equal
    # float32 values (batched vs single-clip STFT): one float16 step, at most 2^-7 for the |x| < 16 here
    assert float((y - x).abs().max()) <= 0.02
    delayed = np.zeros(4000, np.float32)
    delayed[3999] = 1.0  # 250 ms delay: device-A rows change, others stay bit-identical
    y, _ = DeviceIRAugment(irs=(delayed,), prob=1.0, root=tiny_dataset.root, feature_config=fs.feature_config)(
        x, names, devices, torch.Generator().manual_seed(0))
    a_rows = [i for i, d in enumerate(devices) if d == "a"]
    other = [i for i, d in enumerate(devices) if d != "a"]
    assert torch.equal(y[other], x[other])
    assert all(float((y[i] - x[i]).abs().max()) > 1.0 for i in a_rows)
    y0, n0 = DeviceIRAugment(irs=(delayed,), prob=0.0, root=tiny_dataset.root, feature_config=fs.feature_config)(
        x, names, devices, torch.Generator().manual_seed(0))
    assert n0 == 0 and torch.equal(y0, x)


# ---------------------------------------------------------------------------------------------
# Through the CLI: one line, exit 2


@pytest.fixture(scope="module")
def cli_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("dircache")


def _train(tiny_dataset, cache, out, *extra):
    from tinyasc.train.cli import train_main

    return train_main([str(tiny_dataset.root), "--out", str(out), "--epochs", "1", "--batch-size", "16",
                       "--cache-dir", str(cache), "--no-progress", "--feature-workers", "1", "--no-eval", *extra])


@pytest.mark.parametrize("prob", ["1.5", "-0.1"])
def test_cli_dir_prob_out_of_range(tiny_dataset, cli_cache, tmp_path, capsys, prob):
    assert _train(tiny_dataset, cli_cache, tmp_path / "run", "--device-ir", "--dir-prob", prob) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dir_prob must be in [0, 1]" in err[0]


def test_cli_ir_folder_problems(tiny_dataset, cli_cache, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _train(tiny_dataset, cli_cache, tmp_path / "r1", "--device-ir", str(empty)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(empty) in err[0] and "no impulse-response .wav" in err[0]
    long_ir = _write(tmp_path / "irs" / "long.wav", _noise(20000))  # 1.25 s > the 1-s clips
    assert _train(tiny_dataset, cli_cache, tmp_path / "r2", "--device-ir", str(long_ir.parent)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "long.wav" in err[0] and "longer than the clip" in err[0]
    assert not (tmp_path / "r2" / "last.pt").exists()


def test_cli_skip_bad_lists_the_skipped_ir_and_trains(tiny_dataset, cli_cache, tmp_path, capsys):
    from tinyasc.contract import Checkpoint

    folder = tmp_path / "irs"
    _write(folder / "long.wav", _noise(20000))
    _write(folder / "ok.wav", synthetic_device_ir(0))
    assert _train(tiny_dataset, cli_cache, tmp_path / "run", "--device-ir", str(folder), "--dir-prob", "1",
                  "--freq-mixstyle", "--skip-bad") == 0
    ck = Checkpoint.load(tmp_path / "run" / "last.pt")
    info = ck.train_config["device_ir"]
    assert info["files"] == ["ok.wav"] and [f for f, _ in info["skipped"]] == ["long.wav"]
    assert ck.train_config["freq_mixstyle"] is True and ck.train_config["dir_prob"] == 1.0


def test_cli_learnable_lambda_with_freqin_is_one_line(tiny_dataset, cli_cache, tmp_path, capsys):
    assert _train(tiny_dataset, cli_cache, tmp_path / "run", "--learnable-lambda", "--norm", "freqin") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "learnable_lambda" in err[0]


def test_epoch_batches_with_dir_are_reproducible_and_leave_other_draws_alone(tiny_dataset, tmp_path):
    """Same (seed, epoch, batch) -> the same augmented batch; switching DIR on changes the device-A
    rows only (DIR draws from its own generator, so the roll of every clip is unchanged)."""
    from tinyasc.train.config import TrainConfig
    from tinyasc.train.loop import EpochBatches

    fs = _feature_set(tiny_dataset, tmp_path)
    cfg = TrainConfig(mixup_alpha=0.0, epochs=1)
    bank = load_impulse_responses(tiny_dataset.root / "device_irs", 16000, max_samples=16000)
    aug = DeviceIRAugment(irs=tuple(bank.irs), prob=1.0, root=tiny_dataset.root, feature_config=fs.feature_config)
    batches = [np.arange(len(fs))[:24]]

    def make(dir_augment):
        return EpochBatches(fs.features, fs.labels, batches, seed=3, epoch=0, n_classes=10, roll_frames=10,
                            specaugment=False, config=cfg, dir_augment=dir_augment, filenames=fs.filenames,
                            devices=fs.devices)[0][0]

    with_dir = make(aug)
    assert torch.equal(with_dir, make(aug))
    plain = make(None)
    devices = fs.devices[np.sort(batches[0])]
    assert torch.equal(with_dir[devices != "a"], plain[devices != "a"])
    assert not torch.equal(with_dir[devices == "a"], plain[devices == "a"])
