"""Device impulse responses (DIR augmentation): load a folder of IR wavs, convolve a clip with one.

The recipe of CP-JKU's DCASE 2023 system (Morocutti et al., "Device-robust acoustic scene
classification via impulse response augmentation", EUSIPCO 2023; ``cpjku_dcase23``
``datasets/dcase23.py``): a device-A training waveform is, with probability ``p``,
convolved with a measured microphone impulse response chosen uniformly at random; the full
convolution is cut to the clip's first ``len(x)`` samples (the IR's own delay stays in).

Here, loading differs in two documented ways: a multichannel IR is averaged to mono (the
published loader's ``librosa.load(mono=True)`` and this project's clip decoder do the same),
and every IR is scaled to unit energy (``sum h^2 = 1``) after resampling to the feature rate,
so that convolving white noise keeps its power: the augmentation changes the spectral shape
a device imposes, not the clip's overall level (measured IR sets differ in level by tens of dB).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyasc.data.features import _problem
from tinyasc.errors import InputError

log = logging.getLogger(__name__)

IR_SUFFIXES = (".wav",)
"""File types read from an impulse-response folder (case-insensitive)."""


@dataclass
class ImpulseResponses:
    """Impulse responses at one sample rate, unit energy each."""

    irs: list[np.ndarray]
    """float32 ``(taps,)`` per file, ``sum(h**2) == 1`` (float rounding)."""
    names: list[str]
    """File names relative to the folder, same order as ``irs`` (sorted)."""
    sample_rate: int
    """Rate of ``irs`` (the feature rate)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(file, problem)`` of files left out (``skip_bad``)."""

    def __len__(self) -> int:
        return len(self.irs)


def _read_ir(path: Path, sample_rate: int) -> np.ndarray:
    """One IR file -> float64 mono at ``sample_rate``, unit energy; InputError naming the problem."""
    import soundfile as sf
    import soxr

    try:
        data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (RuntimeError, OSError, ValueError) as exc:  # LibsndfileError is a RuntimeError
        raise InputError(path, f"not a readable impulse-response wav ({_problem(exc)})") from None
    if data.shape[0] == 0:
        raise InputError(path, "impulse response holds no samples")
    if not np.isfinite(data).all():
        raise InputError(path, "impulse response contains NaN or infinite samples")
    h = data.mean(axis=1)
    if sr != sample_rate:
        h = soxr.resample(h, sr, sample_rate, quality="HQ")
    energy = float(np.sum(h * h))
    if not energy > 0.0:
        raise InputError(path, "impulse response is all zeros")
    return h / np.sqrt(energy)


def load_impulse_responses(folder: str | Path, sample_rate: int, *, max_samples: int | None = None,
                           skip_bad: bool = False) -> ImpulseResponses:
    """Every ``*.wav`` under ``folder`` (recursively, sorted), mono, resampled with soxr, unit energy.

    An IR longer than ``max_samples`` (the clip) is bad input: convolving would smear more than
    the whole clip. A bad file raises :class:`InputError` naming it; with ``skip_bad`` it is left
    out and listed in ``skipped``. A folder without one usable IR is an error either way.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "impulse-response folder not found")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IR_SUFFIXES)
    if not paths:
        raise InputError(folder, "holds no impulse-response .wav file")
    irs, names, skipped = [], [], []
    for path in paths:
        name = str(path.relative_to(folder))
        try:
            h = _read_ir(path, sample_rate)
            if max_samples is not None and h.shape[0] > max_samples:
                raise InputError(path, f"impulse response is {h.shape[0] / sample_rate:.3g} s long at "
                                       f"{sample_rate} Hz, longer than the clip ({max_samples / sample_rate:.3g} s)")
        except InputError as err:
            if not skip_bad:
                raise
            skipped.append((name, err.problem))
            log.warning("skipped impulse response %s: %s", path, err.problem)
            continue
        irs.append(h.astype(np.float32))
        names.append(name)
    if not irs:
        raise InputError(folder, f"no readable impulse response (first: {skipped[0][0]}: {skipped[0][1]})")
    return ImpulseResponses(irs=irs, names=names, sample_rate=sample_rate, skipped=skipped)


def apply_ir(wave: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``(wave * ir)[:len(wave)]``: full linear convolution (FFT, float64) cut to the clip, float32."""
    n = wave.shape[-1] + ir.shape[-1] - 1
    size = 1 << max(0, (n - 1).bit_length())
    y = np.fft.irfft(np.fft.rfft(wave.astype(np.float64), size) * np.fft.rfft(ir.astype(np.float64), size), size)
    return y[: wave.shape[-1]].astype(np.float32)
