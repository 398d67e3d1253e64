"""The paper's front end: 16 kHz, 256-bin log-mel, 130 ms Hann window, 30 ms hop.

``logmel(x) = log(M · |STFT(x)|^p + offset)`` with ``M`` the mel filterbank from
``librosa.filters.mel`` (HTK formula, no area normalisation, as torchaudio's default) and the
STFT from ``torch.stft`` (centred, zero padding, periodic Hann of ``win_length`` padded to
``n_fft``). torchaudio cannot load beside the CPU torch here, so this is what it would compute
(``MelSpectrogram(..., mel_scale="htk", pad_mode="constant")``).

Audio decoding (``load_audio``) accepts any rate, channel count, bit depth or float wav:
it downmixes, resamples with soxr (HQ), and pads or crops to the configured clip length.
Broken files raise :class:`~tinyasc.errors.InputError` naming the file and the problem.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyasc.contract import FeatureConfig, MelScale
from tinyasc.errors import InputError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: Sample formats that need no mention (TAU's 24-bit and common 16-bit PCM).
_PLAIN_SUBTYPES = {"PCM_24", "PCM_16"}
_DATA_LINE = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_logged_notes: set[str] = set()
MAX_PEAK = 1000.0
"""Largest accepted sample magnitude: float wavs may go past full scale, never by 60 dB."""


def _problem(exc: BaseException) -> str:
    msg = str(getattr(exc, "error_string", None) or exc).strip().rstrip(".")
    return re.sub(r"^Error opening .*?: ", "", msg)


def audio_problem(exc: BaseException) -> str:
    """The problem line for a file libsndfile cannot open (``exc`` from ``soundfile``)."""
    return f"not a readable audio file ({_problem(exc)})"


def truncation_problem(extra_info: str | None) -> str | None:
    """The problem line when libsndfile's header log says the data chunk is cut short, else None."""
    m = _DATA_LINE.search(extra_info or "")
    if m and 0 < int(m.group(1)) < 0xFFFFFFF0 and int(m.group(1)) > int(m.group(2)):
        return f"truncated audio file (header declares {m.group(1)} data bytes, file holds {m.group(2)})"
    return None


def read_audio(path: str | Path, cfg: FeatureConfig) -> tuple[np.ndarray, tuple[str, ...]]:
    """Decode one clip to float32 mono at ``cfg.sample_rate``, ``cfg.clip_samples`` long.

    Returns the waveform and the unusual-but-fine properties found (``notes``: stereo,
    resampled, float, padded, cropped, digital silence), which callers log once per kind.
    """
    import soundfile as sf
    import soxr

    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(path, "audio file not found") from None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a path through a file...
        raise InputError(path, f"audio file cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if size == 0:
        raise InputError(path, "audio file is empty (0 bytes)")
    notes: list[str] = []
    try:
        with sf.SoundFile(str(path)) as fh:
            sr, channels, subtype = fh.samplerate, fh.channels, fh.subtype
            truncated = truncation_problem(fh.extra_info)
            if truncated:
                raise InputError(path, truncated)
            # read only what the clip needs (plus resampler context): a 1 h file costs 10 s.
            need = int(np.ceil(cfg.clip_seconds * sr)) + 64
            data = fh.read(frames=need, dtype="float32", always_2d=True)
    except InputError:
        raise
    except (RuntimeError, OSError, ValueError) as exc:  # LibsndfileError is a RuntimeError
        raise InputError(path, audio_problem(exc)) from None
    if data.shape[0] == 0:
        raise InputError(path, "audio file holds no samples")
    if not np.isfinite(data).all():
        raise InputError(path, "audio file contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > MAX_PEAK:  # only float files can: the power spectrum would overflow to inf
        raise InputError(path, f"samples reach {peak:.3g} (audio is expected within about +-1; at most {MAX_PEAK:g})")
    if channels > 1:
        notes.append(f"{channels} channels (downmixed to mono)")
        data = data.mean(axis=1)
    else:
        data = data[:, 0]
    if subtype not in _PLAIN_SUBTYPES:
        notes.append(f"{subtype} samples (converted to float32)")
    if sr != cfg.sample_rate:
        notes.append(f"{sr} Hz (resampled to {cfg.sample_rate} Hz with soxr)")
        data = soxr.resample(data, sr, cfg.sample_rate, quality="HQ").astype(np.float32, copy=False)
    n, want = data.shape[0], cfg.clip_samples
    slack = max(2, cfg.sample_rate // 1000)  # resampler rounding is not worth a log line
    if n < want:
        if want - n > slack:
            notes.append(f"shorter than {cfg.clip_seconds:g} s (zero-padded)")
        data = np.pad(data, (0, want - n))
    elif n > want:
        if n - want > slack:
            notes.append(f"longer than {cfg.clip_seconds:g} s (cropped)")
        data = data[:want]
    if not data.any():
        notes.append("digital silence (features are log(offset))")
    return np.ascontiguousarray(data, dtype=np.float32), tuple(notes)


def log_notes_once(notes: dict[str, list[str]]) -> None:
    """Log each kind of unusual input once per process: kind, count and an example file."""
    for kind, files in notes.items():
        if kind in _logged_notes:
            continue
        _logged_notes.add(kind)
        log.info("%d file(s) with %s, e.g. %s", len(files), kind, files[0])


def load_audio(path: str | Path, cfg: FeatureConfig) -> np.ndarray:
    """Float32 mono waveform at ``cfg.sample_rate``, padded or cropped to ``cfg.clip_samples``."""
    data, notes = read_audio(path, cfg)
    log_notes_once({k: [str(path)] for k in notes})
    return data


@functools.lru_cache(maxsize=8)
def _mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    import librosa

    fb = librosa.filters.mel(
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        n_mels=cfg.n_mels,
        fmin=cfg.f_min,
        fmax=cfg.f_max,
        htk=cfg.mel_scale is MelScale.HTK,
        norm=None,
        dtype=np.float32,
    )
    empty = np.flatnonzero(fb.max(axis=1) <= 0)
    if empty.size:
        raise ValueError(f"n_fft={cfg.n_fft} leaves {empty.size} empty mel filter(s) (first: {empty[0]}); raise n_fft")
    fb.setflags(write=False)
    return fb


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """``(n_mels, n_fft // 2 + 1)`` float32 triangular filters (librosa, HTK, unnormalised)."""
    return _mel_filterbank(cfg).copy()


@functools.lru_cache(maxsize=8)
def _torch_constants(cfg: FeatureConfig, device: str) -> tuple["torch.Tensor", "torch.Tensor"]:
    import torch

    window = torch.hann_window(cfg.win_length, periodic=True, dtype=torch.float32, device=device)
    fb = torch.from_numpy(_mel_filterbank(cfg).copy()).to(device)
    return window, fb


def logmel(waveform: "np.ndarray | torch.Tensor", cfg: FeatureConfig) -> "torch.Tensor":
    """Log-mel of ``(samples,)`` or ``(B, samples)`` audio -> ``(..., n_mels, frames)`` float32.

    ``frames = 1 + samples // hop`` (``cfg.n_frames`` for a clip of ``cfg.clip_samples``).
    """
    import torch

    x = torch.as_tensor(waveform)
    if x.dtype != torch.float32:
        x = x.to(torch.float32)
    if x.ndim not in (1, 2):
        raise ValueError(f"waveform must be (samples,) or (batch, samples), got shape {tuple(x.shape)}")
    window, fb = _torch_constants(cfg, str(x.device))
    spec = torch.stft(
        x,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    if cfg.power == 2.0:
        pw = spec.real.square() + spec.imag.square()
    else:
        pw = spec.abs().pow(cfg.power)
    return torch.log(torch.matmul(fb, pw) + cfg.log_offset)


def clip_features(path: str | Path, cfg: FeatureConfig) -> tuple[np.ndarray, tuple[str, ...]]:
    """One file -> ``(n_mels, n_frames)`` float32 log-mel and its notes (single-file inference)."""
    wave, notes = read_audio(path, cfg)
    return logmel(wave, cfg).numpy(), notes
