"""``asc-synth``: a deterministic synthetic dataset in the TAU Urban Acoustic Scenes 2020 Mobile layout.

Generative model
================

Scenes. Every clean segment (what device A hears) is a mix of seven ingredients, each a
stochastic process with class-dependent parameters and a class-dependent mean level (dB):

* ``texture``  — stationary background noise with a smooth spectral envelope (rumble for
  vehicles, broadband for open spaces, wind for parks) and a slow level swell;
* ``machinery`` — harmonic series of an engine or motor (diesel 25–45 Hz, HVAC 50–120 Hz,
  electric traction 150–600 Hz) with slow pitch drift (acceleration);
* ``transients`` — decaying band-pass noise bursts: footsteps, suitcase wheels, rail clacks,
  rattles;
* ``babble`` — several voices: harmonic sources at 90–250 Hz through three formants that
  change every syllable (120–300 ms), with pauses;
* ``chirps`` — birdsong: trills of short 2–7 kHz frequency sweeps;
* ``traffic`` — car pass-bys: low-passed noise plus engine harmonics under a rise-and-fall
  envelope with a Doppler-like pitch drop;
* ``tones`` — announcement chimes, tram bells (inharmonic partials), car horns, mall music.

Classes share ingredients (babble is in nine classes, machinery in seven) and differ in
levels and parameters, so they overlap the way TAU's do (bus/tram/metro, airport/mall/
metro_station, street_pedestrian/public_square). Each level is jittered per segment
(sd 4–5 dB) and each ingredient is absent at some locations, so a clip is not trivially
separable. Variation is nested like the real recordings: per city (spectral tilt, traffic
density, hum frequency), per location (envelope perturbation, engine pitch, voice count,
which ingredients are present) and per 10 s segment.

Devices. Device A is the clean mix (flat response, -85 dBFS noise floor). B, C and S1–S6 are
derived from the *same* segment: ``x -> EQ(f) -> gain -> DRC -> (soft clip) -> + noise floor``.
EQ is a fixed per-device magnitude response (high-pass and low-pass corners, resonances,
tilt), i.e. mostly an additive per-band offset in the log-mel domain (what ResNorm/FreqIN
removes); the compressor, soft clipping and noise floor are the nonlinear part. S4–S6 use
responses outside the span of the training devices (telephone band, strong tilt, low-pass
+ hum), so a model fitted on A-heavy data is worse on them.

Splits follow TAU fold 1: device A dominates training, B, C and S1–S3 get a few segments
each (random subsets of A's training segments), S4–S6 appear only in evaluation, and every
evaluation segment is rendered on all nine devices. Training and evaluation locations are
disjoint. Each segment and device draws from its own ``SeedSequence`` (seed, scene, city,
location, segment, device), so the bytes depend on the seed only, not on the worker count.

Files: ``tiny`` and ``small`` are written at 16 kHz 16-bit (the feature rate: no resampling
cost in every test and training run); ``full`` at 44.1 kHz 24-bit like TAU. Clips of 1 s or
less (``tiny``, ``--seconds 1``) are named as in TAU 2022 (``...-<segment>-0-<device>.wav``).
``split_setup/split5.csv``...``split100.csv`` are nested training subsets as in DCASE 2024
(``asc-train --train-split``).

``device_irs/`` holds twelve *synthetic* device impulse responses (:func:`synthetic_device_ir`)
for ``asc-train --device-ir``; none of them is a held-out device (S4-S6).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyasc.contract import DEVICES, SCENE_LABELS
from tinyasc.errors import InputError

log = logging.getLogger(__name__)

SR = 16000  # generation rate
MARKER = "asc-synth.json"
TAU2022_SECONDS = 1.0
"""Clips this short are written in the TAU 2022 layout (1-s part index in the name)."""
SPLIT_PERCENTAGES = (5, 10, 25, 50, 100)
"""DCASE 2024 training subsets written to ``split_setup/split<p>.csv``."""
SYNTH_VERSION = 1

CITIES = ("amsterdam", "barcelona", "helsinki", "lisbon", "london", "lyon", "milan", "paris", "prague", "vienna")
INGREDIENTS = ("texture", "machinery", "transients", "babble", "chirps", "traffic", "tones")


class SynthScale(str, enum.Enum):
    """Dataset size: ``tiny`` for tests, ``small`` to train on a CPU in minutes, ``full`` TAU-sized."""

    TINY = "tiny"
    SMALL = "small"
    FULL = "full"


@dataclass(frozen=True)
class _Plan:
    seconds: float
    train_a: int  # device-A training segments per class
    train_other: int  # segments per class for each of B, C, S1-S3 in training
    evaluate: int  # evaluation segments per class (each on all nine devices)
    cities: int
    seg_per_location: int
    write_rate: int
    subtype: str


PLANS = {
    SynthScale.TINY: _Plan(1.0, 2, 1, 1, 2, 1, SR, "PCM_16"),
    SynthScale.SMALL: _Plan(2.0, 100, 15, 10, 10, 5, SR, "PCM_16"),
    # TAU fold 1: 10215 A + 5 x 750 training clips; 330 segments x 9 devices in evaluation.
    SynthScale.FULL: _Plan(10.0, 1022, 75, 33, 10, 20, 44100, "PCM_24"),
}


# ---------------------------------------------------------------------------------------
# Scene recipes: mean ingredient level (dB, None = absent) and parameters per class.
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Recipe:
    levels: dict  # ingredient -> mean dB
    texture: tuple  # (envelope points [(Hz, dB)...], swell depth)
    engine: tuple = (40.0, 80.0, 12)  # f0 range (Hz), number of harmonics
    drift: float = 0.03  # relative pitch drift of machinery
    event: tuple = (2.0, 600.0, 3000.0, 0.02)  # transients: rate/s, band lo, hi, decay s
    voices: tuple = (3, 6)  # babble voice count range
    voice_lp: float = 4000.0  # babble low-pass (distance / reverberation)
    tone: str = "chime"
    presence: float = 0.8  # probability an optional ingredient is present at a location


RECIPES: dict[str, _Recipe] = {
    "airport": _Recipe(
        {"texture": -6, "machinery": -16, "transients": -14, "babble": -6, "tones": -16},
        ([(50, -4), (300, 0), (2000, -6), (8000, -20)], 0.1),
        engine=(50.0, 120.0, 6), event=(3.0, 800.0, 4000.0, 0.015), voices=(6, 12), voice_lp=3500.0,
        tone="chime",
    ),
    "bus": _Recipe(
        {"texture": -2, "machinery": -4, "transients": -14, "babble": -14, "traffic": -14},
        ([(30, 6), (150, 2), (600, -8), (3000, -20), (8000, -34)], 0.2),
        engine=(25.0, 45.0, 24), drift=0.12, event=(2.0, 300.0, 2500.0, 0.03), voices=(2, 4), voice_lp=3000.0,
    ),
    "metro": _Recipe(
        {"texture": -2, "machinery": -8, "transients": -10, "babble": -16},
        ([(30, 2), (200, 0), (1500, -4), (4000, -10), (8000, -22)], 0.3),
        engine=(150.0, 600.0, 5), drift=0.25, event=(1.5, 200.0, 2000.0, 0.04), voices=(2, 5), voice_lp=3000.0,
    ),
    "metro_station": _Recipe(
        {"texture": -6, "machinery": -14, "transients": -12, "babble": -8, "tones": -18},
        ([(50, -2), (250, 0), (1500, -6), (8000, -22)], 0.25),
        engine=(150.0, 500.0, 5), drift=0.2, event=(2.0, 500.0, 3500.0, 0.03), voices=(4, 9), voice_lp=2800.0,
        tone="chime",
    ),
    "park": _Recipe(
        {"texture": -6, "chirps": -10, "babble": -22, "traffic": -18, "transients": -24},
        ([(30, 4), (100, 0), (800, -10), (4000, -22), (8000, -30)], 0.5),
        event=(0.5, 1000.0, 5000.0, 0.01), voices=(1, 3), voice_lp=2500.0, presence=0.7,
    ),
    "public_square": _Recipe(
        {"texture": -8, "babble": -10, "traffic": -14, "chirps": -18, "transients": -16, "tones": -24},
        ([(50, 0), (300, -2), (2000, -8), (8000, -20)], 0.25),
        event=(2.0, 400.0, 4000.0, 0.02), voices=(4, 10), voice_lp=3500.0, tone="fountain", presence=0.6,
    ),
    "shopping_mall": _Recipe(
        {"texture": -8, "machinery": -18, "babble": -5, "transients": -14, "tones": -14},
        ([(50, -6), (300, 0), (2000, -4), (8000, -18)], 0.1),
        engine=(50.0, 120.0, 5), event=(3.0, 700.0, 4500.0, 0.02), voices=(8, 14), voice_lp=3000.0, tone="music",
    ),
    "street_pedestrian": _Recipe(
        {"texture": -8, "babble": -6, "transients": -8, "traffic": -13, "chirps": -22},
        ([(50, 0), (300, -2), (2000, -8), (8000, -20)], 0.3),
        event=(3.0, 150.0, 2000.0, 0.03), voices=(3, 8), voice_lp=4500.0, presence=0.7,
    ),
    "street_traffic": _Recipe(
        {"texture": -4, "traffic": -3, "machinery": -14, "babble": -18, "tones": -20, "transients": -18},
        ([(30, 4), (150, 2), (1000, -6), (4000, -14), (8000, -24)], 0.4),
        engine=(30.0, 70.0, 16), drift=0.1, event=(1.0, 300.0, 3000.0, 0.02), voices=(1, 3), tone="horn",
    ),
    "tram": _Recipe(
        {"texture": -3, "machinery": -9, "transients": -11, "babble": -13, "tones": -20},
        ([(30, 0), (200, 2), (1200, -4), (4000, -12), (8000, -24)], 0.25),
        engine=(120.0, 450.0, 6), drift=0.18, event=(1.0, 250.0, 2500.0, 0.04), voices=(3, 6), voice_lp=3200.0,
        tone="bell",
    ),
}
_LEVEL_JITTER_DB = 4.5
_MANDATORY = {"texture"}


# ---------------------------------------------------------------------------------------
# Devices: fixed "microphones" (the same for every seed, like TAU's).
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DeviceModel:
    """Fixed signal chain of one recording device."""

    eq: tuple = ()
    """Magnitude response points ``(Hz, dB)``, linear in log-frequency between points."""
    hp_hz: float = 20.0
    """High-pass corner (2nd order)."""
    lp_hz: float | None = None
    """Low-pass corner (8th order), None = none."""
    lp_order: int = 8
    """Butterworth-like order of the low-pass magnitude."""
    gain_db: float = 0.0
    """Overall gain (dB)."""
    drc: tuple | None = None
    """Compressor ``(threshold dBFS, ratio)``."""
    drive: float | None = None
    """Soft-clipping drive (tanh), None = linear."""
    noise_db: float = -85.0
    """Self-noise floor, dBFS (white)."""
    hum_hz: float | None = None
    """Mains hum added by the device, None = none."""


DEVICE_MODELS: dict[str, DeviceModel] = {
    "a": DeviceModel(eq=((100, 0.3), (1000, 0.0), (6000, -0.5)), hp_hz=20.0, noise_db=-85.0),
    "b": DeviceModel(eq=((300, 0.0), (3000, 3.0), (6500, -4.0)), hp_hz=150.0, lp_hz=7000.0, gain_db=-3.0,
                     drc=(-30.0, 2.0), noise_db=-70.0),
    "c": DeviceModel(eq=((500, -1.0), (2000, 5.0), (4000, 2.0), (7000, 4.0)), hp_hz=250.0, gain_db=2.0,
                     drc=(-25.0, 3.0), noise_db=-66.0),
    "s1": DeviceModel(eq=((400, 0.0), (1000, -6.0), (2000, 0.0), (4000, 4.0), (7000, 0.0)), hp_hz=100.0,
                      lp_hz=7500.0, noise_db=-72.0),
    "s2": DeviceModel(eq=((300, -2.0), (1500, 6.0), (4000, 0.0)), hp_hz=300.0, lp_hz=6000.0, gain_db=-2.0,
                      drc=(-28.0, 2.5), noise_db=-68.0),
    "s3": DeviceModel(eq=((500, 0.0), (1000, -2.0), (2000, -4.0), (4000, -6.0), (8000, -8.0)), hp_hz=80.0,
                      gain_db=4.0, drc=(-35.0, 4.0), noise_db=-75.0),
    # unseen in training
    "s4": DeviceModel(eq=((600, 0.0), (2500, 7.0), (4000, 2.0)), hp_hz=450.0, lp_hz=4500.0, lp_order=12,
                      gain_db=-6.0, drc=(-32.0, 6.0), noise_db=-60.0),
    "s5": DeviceModel(eq=((200, -8.0), (1000, 0.0), (3000, -10.0), (5000, 8.0), (8000, 10.0)), hp_hz=200.0,
                      gain_db=6.0, drive=3.0, noise_db=-62.0),
    "s6": DeviceModel(eq=((80, 9.0), (300, 6.0), (1000, 0.0), (3000, -10.0)), hp_hz=40.0, lp_hz=3800.0,
                      gain_db=-4.0, drc=(-22.0, 3.0), noise_db=-64.0, hum_hz=50.0),
}


# ---------------------------------------------------------------------------------------
# Signal helpers (numpy only; everything at SR).
# ---------------------------------------------------------------------------------------
def _interp_db(points, freqs: np.ndarray) -> np.ndarray:
    """Piecewise-linear dB curve in log-frequency, flat beyond the end points."""
    if not points:
        return np.zeros_like(freqs)
    f = np.array([p[0] for p in points], dtype=float)
    g = np.array([p[1] for p in points], dtype=float)
    return np.interp(np.log(np.maximum(freqs, 1.0)), np.log(f), g)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x)) + 1e-12)


def _norm(x: np.ndarray) -> np.ndarray:
    return x / _rms(x)


def _shaped_noise(rng, n: int, env_db: np.ndarray | None = None, points=None) -> np.ndarray:
    """White noise shaped by a magnitude envelope given per rfft bin or as (Hz, dB) points."""
    spec = np.fft.rfft(rng.standard_normal(n))
    if env_db is None:
        env_db = _interp_db(points, np.fft.rfftfreq(n, 1.0 / SR))
    return _norm(np.fft.irfft(spec * 10 ** (env_db / 20.0), n))


def _smooth_random(rng, n: int, rate_hz: float) -> np.ndarray:
    """Zero-mean unit-sd random curve varying at about ``rate_hz`` (linear interpolation of knots)."""
    k = max(2, int(np.ceil(n / SR * rate_hz)) + 2)
    knots = rng.standard_normal(k)
    return np.interp(np.linspace(0, k - 1, n), np.arange(k), knots)


def _harmonic(rng, n: int, f0: float, n_harm: int, drift: float, tilt_db: float = -3.0) -> np.ndarray:
    f = f0 * (1.0 + drift * _smooth_random(rng, n, 0.7))
    phase = 2 * np.pi * np.cumsum(f) / SR
    out = np.zeros(n)
    for k in range(1, n_harm + 1):
        if k * f0 * (1 + 2 * drift) > SR / 2 - 500:
            break
        amp = 10 ** ((tilt_db * np.log2(k) + rng.normal(0, 3)) / 20)
        out += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return _norm(out)


def _bursts(rng, n: int, rate: float, lo: float, hi: float, decay: float, periodic: bool = False) -> np.ndarray:
    """Decaying band-pass noise bursts at Poisson (or jittered periodic) times."""
    out = np.zeros(n)
    count = rng.poisson(rate * n / SR) if not periodic else int(rate * n / SR) + 1
    if count == 0:
        count = 1
    if periodic:
        period = SR / rate
        times = (rng.uniform(0, period) + period * np.arange(count) + rng.normal(0, 0.03 * period, count)).astype(int)
    else:
        times = rng.integers(0, n, count)
    m = 2048
    t = np.arange(m) / SR
    freqs = np.fft.rfftfreq(m, 1.0 / SR)
    for t0 in times:
        if not 0 <= t0 < n:
            continue
        c = np.exp(rng.uniform(np.log(lo), np.log(hi)))
        bw = c * rng.uniform(0.3, 1.0)
        shape = np.exp(-0.5 * ((freqs - c) / bw) ** 2)
        burst = np.fft.irfft(np.fft.rfft(rng.standard_normal(m)) * shape, m)
        burst *= np.exp(-t / (decay * rng.uniform(0.5, 1.5)))
        burst *= 10 ** (rng.normal(0, 4) / 20)
        seg = out[t0 : t0 + m]
        seg += burst[: len(seg)]
    return _norm(out)


def _babble(rng, n: int, voices: int, lp_hz: float) -> np.ndarray:
    """Sum of voices: harmonic source through per-syllable formants, with pauses."""
    out = np.zeros(n)
    for _ in range(voices):
        f0 = rng.uniform(90, 250)
        gain = 10 ** (rng.normal(0, 5) / 20)
        pos = int(rng.uniform(-0.2, 0.5) * SR)
        while pos < n:
            syl = 256 * int(rng.uniform(0.12, 0.3) * SR / 256)  # FFT-friendly length
            if rng.random() < 0.25:  # pause
                pos += syl
                continue
            m = syl
            t = np.arange(m) / SR
            f = f0 * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.28)))
            phase = 2 * np.pi * np.cumsum(f) / SR
            src = 2.0 * ((phase / (2 * np.pi)) % 1.0) - 1.0  # sawtooth: every harmonic, 1/k
            if rng.random() < 0.3:  # fricative: add high noise
                src += 0.5 * rng.standard_normal(m)
            freqs = np.fft.rfftfreq(m, 1.0 / SR)
            formants = (rng.uniform(300, 900), rng.uniform(900, 2500), rng.uniform(2400, 3500))
            env = sum(np.exp(-0.5 * ((freqs - fm) / (60 + 0.08 * fm)) ** 2) * a
                      for fm, a in zip(formants, (1.0, 0.6, 0.3)))
            env *= 1.0 / (1.0 + (freqs / lp_hz) ** 4)
            syl_sig = np.fft.irfft(np.fft.rfft(src) * (env + 0.02), m) * np.hanning(m)
            end = min(n, pos + m)
            if end > max(pos, 0):
                a0 = max(pos, 0)
                out[a0:end] += gain * syl_sig[a0 - pos : end - pos]
            pos += m + int(rng.uniform(0.0, 0.08) * SR)
    return _norm(out) if out.any() else out


def _chirps(rng, n: int) -> np.ndarray:
    """Birdsong: trills of short frequency sweeps."""
    out = np.zeros(n)
    trills = max(1, rng.poisson(1.2 * n / SR))
    for _ in range(trills):
        pos = int(rng.integers(0, n))
        f_start = rng.uniform(2000, 6500)
        sweep = rng.uniform(-2000, 1500)
        note = rng.uniform(0.03, 0.12)
        gap = rng.uniform(0.02, 0.08)
        gain = 10 ** (rng.normal(0, 5) / 20)
        for _note in range(int(rng.integers(3, 9))):
            m = int(note * SR)
            t = np.arange(m) / SR
            f = np.clip(f_start + sweep * t / note, 1500, 7500)
            sig = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.hanning(m) * gain
            end = min(n, pos + m)
            if pos >= n:
                break
            out[pos:end] += sig[: end - pos]
            pos += m + int(gap * SR)
    return _norm(out)


def _traffic(rng, n: int, density: float, engine: tuple) -> np.ndarray:
    """Car pass-bys: low-passed noise + engine harmonics under a rise/fall envelope."""
    out = np.zeros(n)
    cars = max(1, rng.poisson(density * n / SR))
    rumble = _shaped_noise(rng, n, points=[(40, 0), (300, -2), (1500, -12), (6000, -26)])
    for _ in range(cars):
        centre = rng.uniform(-0.5, 1.5) * n
        width = rng.uniform(0.6, 2.0) * SR
        env = np.exp(-0.5 * ((np.arange(n) - centre) / (width / 2)) ** 2)
        f0 = rng.uniform(*engine[:2]) if len(engine) >= 2 else 40.0
        eng = _harmonic(rng, n, f0, 10, 0.02, tilt_db=-4.0)
        # Doppler-like pitch drop around the closest point
        out += env * (rumble * rng.uniform(0.7, 1.3) + 0.5 * eng) * 10 ** (rng.normal(0, 3) / 20)
    return _norm(out) if out.any() else out


def _tones(rng, n: int, kind: str) -> np.ndarray:
    t = np.arange(n) / SR
    out = np.zeros(n)
    if kind == "fountain":
        return _shaped_noise(rng, n, points=[(500, -20), (2000, 0), (6000, 0), (8000, -6)])
    if kind == "music":
        pos = 0
        while pos < n:
            m = int(rng.uniform(0.15, 0.5) * SR)
            f0 = 220 * 2 ** (rng.integers(-5, 12) / 12)
            tt = np.arange(min(m, n - pos)) / SR
            note = sum(np.sin(2 * np.pi * k * f0 * tt) / k for k in range(1, 6))
            out[pos : pos + len(tt)] += note * np.exp(-tt * 3)
            pos += m
        return _norm(out)
    start = int(rng.uniform(-0.3, 0.7) * n)
    if kind == "chime":
        partials = [rng.uniform(500, 1500)]
        partials.append(partials[0] * 1.26)
        decay = 0.8
    elif kind == "bell":
        base = rng.uniform(600, 1200)
        partials = [base * r for r in (1.0, 2.76, 5.4)]
        decay = 0.5
    else:  # horn
        base = rng.uniform(300, 500)
        partials = [base * k for k in range(1, 8)]
        decay = 3.0
    tt = t - start / SR
    env = np.where(tt >= 0, np.exp(-np.maximum(tt, 0) / decay), 0.0)
    if kind == "horn":
        env = np.where((tt >= 0) & (tt < rng.uniform(0.2, 0.8)), 1.0, 0.0)
    for k, p in enumerate(partials):
        out += np.sin(2 * np.pi * p * t) * env / (k + 1)
    return _norm(out) if out.any() else out


@dataclass(frozen=True)
class _CityParams:
    tilt_db_per_oct: float
    traffic_density: float
    hum_hz: float


@dataclass(frozen=True)
class _LocationParams:
    env_wiggle: tuple
    engine_f0: float
    voices: int
    present: frozenset
    level_offsets: dict
    event_scale: float


def _city_params(seed: int, city: int) -> _CityParams:
    rng = np.random.default_rng([seed, 7001, city])
    return _CityParams(
        tilt_db_per_oct=float(rng.normal(0, 1.0)),
        traffic_density=float(rng.uniform(0.3, 1.2)),
        hum_hz=float(rng.choice([50.0, 50.0, 60.0]) * rng.uniform(0.98, 1.02)),
    )


def _location_params(seed: int, scene: int, city: int, loc: int) -> _LocationParams:
    rng = np.random.default_rng([seed, 7002, scene, city, loc])
    r = RECIPES[SCENE_LABELS[scene]]
    present = frozenset(ing for ing in r.levels if ing in _MANDATORY or rng.random() < r.presence + 0.15)
    return _LocationParams(
        env_wiggle=tuple((float(f), float(g)) for f, g in zip(
            np.exp(np.linspace(np.log(40), np.log(7500), 6)), rng.normal(0, 3.0, 6))),
        engine_f0=float(np.exp(rng.uniform(np.log(r.engine[0]), np.log(r.engine[1])))),
        voices=int(rng.integers(r.voices[0], r.voices[1] + 1)),
        present=present,
        level_offsets={ing: float(rng.normal(0, 3.0)) for ing in INGREDIENTS},
        event_scale=float(np.exp(rng.normal(0, 0.4))),
    )


def clean_segment(seed: int, scene: int, city: int, loc: int, seg: int, n: int) -> np.ndarray:
    """Device-A signal of one segment (float64 at 16 kHz, RMS set to the segment's level)."""
    r = RECIPES[SCENE_LABELS[scene]]
    cp = _city_params(seed, city)
    lp = _location_params(seed, scene, city, loc)
    rng = np.random.default_rng([seed, 7003, scene, city, loc, seg])
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    mix = np.zeros(n)
    for ing in INGREDIENTS:
        if ing not in r.levels:
            continue
        level = r.levels[ing] + lp.level_offsets[ing] + rng.normal(0, _LEVEL_JITTER_DB)
        if ing not in lp.present:
            continue
        if ing == "texture":
            pts, swell = r.texture
            env = _interp_db(pts, freqs) + _interp_db(lp.env_wiggle, freqs)
            env += cp.tilt_db_per_oct * np.log2(np.maximum(freqs, 50.0) / 1000.0)
            sig = _shaped_noise(rng, n, env_db=env)
            sig *= np.exp(swell * _smooth_random(rng, n, 0.5))
        elif ing == "machinery":
            sig = _harmonic(rng, n, lp.engine_f0 * rng.uniform(0.9, 1.1), r.engine[2], r.drift)
            if rng.random() < 0.5:
                sig = _norm(sig + 0.3 * _harmonic(rng, n, cp.hum_hz, 4, 0.001))
        elif ing == "transients":
            rate, lo, hi, decay = r.event
            periodic = SCENE_LABELS[scene] in ("metro", "tram")
            sig = _bursts(rng, n, rate * lp.event_scale, lo, hi, decay, periodic=periodic)
        elif ing == "babble":
            sig = _babble(rng, n, lp.voices, r.voice_lp)
        elif ing == "chirps":
            sig = _chirps(rng, n)
        elif ing == "traffic":
            sig = _traffic(rng, n, cp.traffic_density * (2.0 if SCENE_LABELS[scene] == "street_traffic" else 0.6),
                           (30.0, 80.0))
        else:
            sig = _tones(rng, n, r.tone)
        mix += sig * 10 ** (level / 20.0)
    target_db = rng.uniform(-38.0, -26.0)
    return mix * (10 ** (target_db / 20.0) / _rms(mix))


def apply_device(x: np.ndarray, device: str, rng: np.random.Generator) -> np.ndarray:
    """Render a clean 16 kHz segment through a device's chain (see module docstring)."""
    dm = DEVICE_MODELS[device]
    n = x.shape[0]
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    gain_db = _interp_db(dm.eq, freqs) + rng.normal(0, 0.5)  # placement: +-0.5 dB
    f = np.maximum(freqs, 1.0)
    mag = 10 ** (gain_db / 20.0) / np.sqrt(1.0 + (dm.hp_hz / f) ** 4)
    if dm.lp_hz is not None:
        mag /= np.sqrt(1.0 + (f / dm.lp_hz) ** (2 * dm.lp_order))
    y = np.fft.irfft(np.fft.rfft(x) * mag, n) * 10 ** (dm.gain_db / 20.0)
    if dm.drc is not None:
        thr, ratio = dm.drc
        block = SR // 200  # 5 ms
        nb = int(np.ceil(n / block))
        pad = np.pad(y, (0, nb * block - n))
        lvl = 10 * np.log10(np.mean(pad.reshape(nb, block) ** 2, axis=1) + 1e-12)
        g = -np.maximum(0.0, lvl - thr) * (1.0 - 1.0 / ratio)  # static curve (dB)
        # ballistics: fast attack (~5 ms), slow release (~100 ms) on the gain
        att, rel = np.exp(-1.0), np.exp(-1.0 / 20.0)
        smooth = np.empty_like(g)
        state = 0.0
        for k, target in enumerate(g.tolist()):
            coef = att if target < state else rel
            state = coef * state + (1.0 - coef) * target
            smooth[k] = state
        g = smooth
        y = y * np.repeat(10 ** (g / 20.0), block)[:n]
    if dm.drive is not None:
        y = np.tanh(dm.drive * y) / dm.drive
    y = y + rng.standard_normal(n) * 10 ** (dm.noise_db / 20.0)
    if dm.hum_hz is not None:
        t = np.arange(n) / SR
        y = y + 10 ** ((dm.noise_db + 6) / 20.0) * (np.sin(2 * np.pi * dm.hum_hz * t) + 0.5 * np.sin(6 * np.pi * dm.hum_hz * t))
    return np.clip(y, -1.0, 1.0 - 2.0**-15)


# ---------------------------------------------------------------------------------------
# Dataset layout.
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Segment:
    scene: int
    city: int
    loc: int
    seg: int
    split: str
    devices: tuple[str, ...]

    def filename(self, device: str, seconds: float = 10.0) -> str:
        """TAU 2020 name; clips of 1 s or less get TAU 2022's 1-s part index (always 0) before the device."""
        part = "-0" if seconds <= TAU2022_SECONDS else ""
        return f"audio/{SCENE_LABELS[self.scene]}-{CITIES[self.city]}-{self.loc}-{self.seg}{part}-{device}.wav"


def plan_segments(plan: _Plan, seed: int) -> list[_Segment]:
    """All segments with their split and devices (TAU fold-1 proportions)."""
    rng = np.random.default_rng([seed, 7000])
    segments: list[_Segment] = []
    for scene in range(len(SCENE_LABELS)):
        loc_next = [0] * plan.cities  # next free location id per city (train, then evaluate)

        def place(count: int, per_loc: int) -> list[tuple[int, int, int]]:
            """(city, location, segment) for ``count`` segments: cities round-robin in a random
            order, ``per_loc`` consecutive segments per location, locations never shared."""
            city_order = rng.permutation(plan.cities)
            open_loc: dict[int, tuple[int, int]] = {}  # city -> (location, segments used)
            placed = []
            for k in range(count):
                city = int(city_order[k % plan.cities])
                loc, used = open_loc.get(city, (-1, per_loc))
                if used >= per_loc:
                    loc, used = loc_next[city], 0
                    loc_next[city] += 1
                open_loc[city] = (loc, used + 1)
                placed.append((city, loc, used))
            return placed

        train = place(plan.train_a, plan.seg_per_location)
        evaluate = place(plan.evaluate, 1 if plan.evaluate <= plan.cities else plan.seg_per_location)
        extra: dict[int, list[str]] = {i: [] for i in range(len(train))}
        for dev in ("b", "c", "s1", "s2", "s3"):
            for i in rng.choice(len(train), size=min(plan.train_other, len(train)), replace=False):
                extra[int(i)].append(dev)
        for i, (city, loc, s) in enumerate(train):
            devs = ("a",) + tuple(d for d in DEVICES if d in extra[i])
            segments.append(_Segment(scene, city, loc, s, "train", devs))
        for city, loc, s in evaluate:
            segments.append(_Segment(scene, city, loc, s, "evaluate", DEVICES))
    return segments


def _render(job: tuple) -> list[tuple[str, str, str, str]]:
    """Worker: write every device's wav of a batch of segments; returns meta rows."""
    import soundfile as sf
    import soxr

    out_dir, seed, seconds, write_rate, subtype, segments = job
    n = int(round(seconds * SR))
    rows = []
    for sg in segments:
        clean = clean_segment(seed, sg.scene, sg.city, sg.loc, sg.seg, n)
        for device in sg.devices:
            rng = np.random.default_rng([seed, 7004, sg.scene, sg.city, sg.loc, sg.seg, DEVICES.index(device)])
            y = apply_device(clean, device, rng).astype(np.float32)
            if write_rate != SR:
                y = np.clip(soxr.resample(y, SR, write_rate, quality="HQ"), -1.0, 1.0 - 2.0**-23)
            name = sg.filename(device, seconds)
            sf.write(os.path.join(out_dir, name), y, write_rate, subtype=subtype, format="WAV")
            rows.append((name, SCENE_LABELS[sg.scene], f"{CITIES[sg.city]}-{sg.loc}", device, sg.split))
    return rows


def synthesize(
    out: str | Path,
    *,
    scale: SynthScale | str = SynthScale.SMALL,
    seconds: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    force: bool = False,
):
    """Write a synthetic TAU-layout dataset to ``out`` and return it loaded (``TauDataset``).

    The directory appears atomically (built beside ``out``, then renamed). An existing
    ``out`` is replaced only with ``force`` and only if ``asc-synth`` wrote it.
    """
    from tinyasc.data.tau import load_tau

    scale = SynthScale(scale)
    plan = PLANS[scale]
    seconds = plan.seconds if seconds is None else float(seconds)
    if not 0.1 <= seconds <= 60.0:
        raise InputError(None, f"--seconds must be within 0.1..60, got {seconds}")
    out = Path(out).expanduser().resolve()
    if out.exists():
        if not force:
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            else:
                raise InputError(out, "already exists (use --force to replace an asc-synth dataset)")
        elif not (out / MARKER).is_file():
            raise InputError(out, f"exists and was not written by asc-synth (no {MARKER}); refusing to replace it")
    segments = plan_segments(plan, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        (tmp / "audio").mkdir()
        (tmp / "evaluation_setup").mkdir()
        batch = 8
        jobs = [(str(tmp), seed, seconds, plan.write_rate, plan.subtype, segments[k : k + batch])
                for k in range(0, len(segments), batch)]
        n_clips = sum(len(s.devices) for s in segments)
        from tqdm import tqdm

        # a spawned worker costs ~1 s of imports: automatic parallelism only for real work
        explicit = workers is not None
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(workers, len(jobs))
        use_pool = workers > 1 and (explicit or n_clips >= 400)
        rows: list[tuple] = []
        with contextlib.ExitStack() as stack:
            bar = stack.enter_context(tqdm(total=n_clips, desc=f"asc-synth {scale.value}", unit="clip",
                                           disable=n_clips < 500 or not log.isEnabledFor(logging.INFO)))
            if not use_pool:
                results = map(_render, jobs)
            else:
                pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
                stack.callback(pool.shutdown, cancel_futures=True)
                results = pool.map(_render, jobs)
            for r in results:
                rows.extend(r)
                bar.update(len(r))
        rows.sort()
        _write_tsv(tmp / "meta.csv", ("filename", "scene_label", "identifier", "source_label"),
                   [r[:4] for r in rows])
        for split in ("train", "evaluate"):
            _write_tsv(tmp / "evaluation_setup" / f"fold1_{split}.csv", ("filename", "scene_label"),
                       [r[:2] for r in rows if r[4] == split])
        _write_tsv(tmp / "evaluation_setup" / "fold1_test.csv", ("filename",),
                   [r[:1] for r in rows if r[4] == "evaluate"])
        write_split_files(tmp / "split_setup", [r for r in rows if r[4] == "train"], seed)
        write_device_irs(tmp / DEVICE_IR_DIRNAME)
        (tmp / MARKER).write_text(json.dumps({
            "generator": "tinyasc asc-synth", "version": SYNTH_VERSION, "scale": scale.value, "seed": seed,
            "seconds": seconds, "sample_rate": plan.write_rate, "subtype": plan.subtype, "clips": len(rows),
        }, indent=2) + "\n")
        if out.exists():
            trash = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, trash)
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("asc-synth: wrote %d clips (%s, %.3g s, seed %d) to %s", len(rows), scale.value, seconds, seed, out)
    return load_tau(out)


# ---------------------------------------------------------------------------------------
# Synthetic device impulse responses (for asc-train --device-ir).
# ---------------------------------------------------------------------------------------
DEVICE_IR_DIRNAME = "device_irs"
DEVICE_IR_COUNT = 12
DEVICE_IR_TAPS = 512  # 32 ms at 16 kHz
_IR_EQ_HZ = (100.0, 250.0, 600.0, 1500.0, 3500.0, 7000.0)


def synthetic_device_ir(k: int, n_fft: int = 4096) -> np.ndarray:
    """Impulse response of synthetic microphone ``k`` (16 kHz, minimum phase, unit energy; fixed, seed-free).

    Magnitude: a smooth EQ (gains N(0, 4 dB) clipped to +-8 dB at 100 Hz..7 kHz, linear in
    log-frequency), a 2nd-order high-pass at 40..250 Hz and, for half of them, a 4th-order
    low-pass at 5..7.5 kHz. That is the range of the training devices (A, B, C, S1-S3); the
    held-out S4-S6 (telephone band-pass at 450 Hz..4.5 kHz, +-10 dB tilts, low-pass at 3.8 kHz
    with +9 dB bass) are outside it, so DIR augmentation cannot have seen them. The phase is
    the minimum phase of that magnitude (real-cepstrum folding), cut to 512 taps with a
    half-Hann fade over the last 64.
    """
    rng = np.random.default_rng([20230, k])
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SR)
    gains = np.clip(rng.normal(0.0, 4.0, len(_IR_EQ_HZ)), -8.0, 8.0)
    f = np.maximum(freqs, 1.0)
    hp_hz = rng.uniform(40, 250)
    mag = 10 ** (_interp_db(tuple(zip(_IR_EQ_HZ, gains)), freqs) / 20.0) / np.sqrt(1.0 + (hp_hz / f) ** 4)
    if rng.random() < 0.5:
        mag /= np.sqrt(1.0 + (f / rng.uniform(5000, 7500)) ** 8)
    cep = np.fft.irfft(np.log(np.maximum(mag, 1e-6)), n_fft)
    fold = np.zeros(n_fft)
    fold[0], fold[n_fft // 2] = cep[0], cep[n_fft // 2]
    fold[1 : n_fft // 2] = 2.0 * cep[1 : n_fft // 2]
    h = np.fft.irfft(np.exp(np.fft.rfft(fold)), n_fft)[:DEVICE_IR_TAPS]
    fade = 64
    h[-fade:] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, fade)))
    return h / np.sqrt(np.sum(h * h))


def write_device_irs(folder: Path) -> list[Path]:
    """Write the synthetic device IRs as ``dir_00.wav``... (documented as synthetic).

    16 kHz 24-bit PCM scaled to a peak of 0.9 (the loader restores unit energy): like the
    clips, the quantization hides last-bit differences of numpy's vectorized exp/log, which
    depend on memory alignment, so the bytes depend on nothing but the code.
    """
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(DEVICE_IR_COUNT):
        path = folder / f"dir_{k:02d}.wav"
        h = synthetic_device_ir(k)
        sf.write(str(path), h * (0.9 / np.max(np.abs(h))), SR, subtype="PCM_24", format="WAV")
        paths.append(path)
    (folder / "README.txt").write_text(
        "Synthetic device impulse responses written by asc-synth (not measurements): minimum-phase\n"
        "microphone responses drawn from the range of the training devices; the held-out devices\n"
        "S4-S6 are not among them. Use: asc-train DATASET --device-ir (see docs/train.md).\n", encoding="utf-8")
    return paths


def write_split_files(folder: Path, train_rows: list[tuple], seed: int) -> None:
    """DCASE 2024-style ``split5.csv``...``split100.csv``: nested subsets of the training rows.

    Whole segments (every device of one recording) are drawn per scene in a seeded order,
    the first ``ceil(p% of the scene's segments)`` (at least one) for each percentage, so
    split5 is inside split10 ... inside split100 (= all of fold-1 training), as in DCASE 2024.
    """
    folder.mkdir(parents=True, exist_ok=True)
    segments: dict[str, list[str]] = {}
    for name, scene, *_ in train_rows:
        segments.setdefault(scene, [])
        key = name.rsplit("-", 1)[0]
        if key not in segments[scene]:
            segments[scene].append(key)
    order = {scene: [keys[i] for i in np.random.default_rng([seed, 7010, SCENE_LABELS.index(scene)]).permutation(len(keys))]
             for scene, keys in segments.items()}
    for pct in SPLIT_PERCENTAGES:
        keep = {k for keys in order.values() for k in keys[: max(1, int(np.ceil(len(keys) * pct / 100)))]}
        _write_tsv(folder / f"split{pct}.csv", ("filename", "scene_label"),
                   [r[:2] for r in train_rows if r[0].rsplit("-", 1)[0] in keep])


def _write_tsv(path: Path, header: tuple[str, ...], rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(header) + "\n")
        for r in rows:
            fh.write("\t".join(r) + "\n")
