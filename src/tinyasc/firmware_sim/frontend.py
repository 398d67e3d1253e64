"""The audio front end in C: 16 kHz int16 PCM -> log-mel -> the int8 (or 16x8 model's int16) input, on the device.

``write_frontend`` generates ``frontend_tables.c/.h`` for one :class:`FeatureConfig` and one
int8 input quantization (half Hann window, quarter-wave cosine table, the mel filterbank
stored as one rising weight per bin between band peaks, sizes, scale and zero point) and
copies the static C sources (``c/frontend/``) beside them. The C computes, in float32::

    logmel[b, t] = log(sum_k M[b, k] |STFT(pcm / 32768)[k, t]|^2 + log_offset)
    q[b, t]      = clamp(round_half_away(logmel[b, t] / scale) + zero_point, -128, 127)

with the constants of :func:`tinyasc.data.features.logmel` (``torch.stft`` centred with
``pad_mode="constant"``, periodic Hann of ``win_length`` centred in ``n_fft``, librosa HTK
filterbank with ``norm=None``). ``build_frontend_host`` compiles a host driver with gcc and
``run_frontend_host`` runs it (``run_frontend_stream_host``: the chunk-by-chunk streaming API;
``tinyasc.firmware_sim.harness.frontend_run.run_frontend_target``: a Cortex-M build in QEMU). Only numpy (and librosa for the filterbank,
the same call the training features make) is imported: no torch.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tinyasc.atomic import atomic_path
from tinyasc.contract import FeatureConfig
from tinyasc.errors import InputError
from tinyasc.firmware_sim.cmsis_dsp import CmsisDsp
from tinyasc.firmware_sim.toolchain import STRICT, find_compiler, host_cflags
from tinyasc.qmath import INT_RANGES, quantize
# The training features' own filterbank (librosa, imported lazily; no torch): one definition, not a copy.
from tinyasc.data.features import mel_filterbank  # noqa: E402,F401

log = logging.getLogger(__name__)

C_DIR = Path(__file__).resolve().parent / "c" / "frontend"
#: Static sources of the front end library (portable C99, float only).
LIBRARY_SOURCES: tuple[str, ...] = ("tinyasc_frontend.c", "tinyasc_frontend.h")
#: Host driver (stdio, malloc, clock): not part of the firmware.
HOST_MAIN = "frontend_main_host.c"
#: ``tinyasc_frontend_run(void)`` on a compiled-in clip, for the Cortex-M harness (main_target.c).
RUN_SOURCE = "frontend_run.c"
GOLDEN_C = "frontend_golden_pcm.c"
GOLDEN_H = "frontend_golden_pcm.h"
#: Cortex-M main that runs ``tinyasc_frontend_run()`` alone and prints its checksum.
TARGET_MAIN = "frontend_main_target.c"
TABLES_C = "frontend_tables.c"
TABLES_H = "frontend_tables.h"
ARTIFACT_JSON = "frontend.json"
HOST_BINARY = "frontend_host"
ARTIFACT_FORMAT = "tinyasc-frontend/1"
#: Model input types the front end writes, and their C types.
INPUT_C_TYPES = {"INT8": "int8_t", "INT16": "int16_t"}
#: The package's host flags (``-ffp-contract=off``: no fused multiply-add, so every target rounds
#: like the host build) with -Werror.
CFLAGS: tuple[str, ...] = (*host_cflags(), *STRICT)


class InputLayout(str, enum.Enum):
    """Memory order of the model input the front end writes."""

    MEL_MAJOR = "mel_major"
    """``out[mel * n_frames + frame]``: NHWC (1, n_mels, T, 1) from onnx2tf, or NCHW (1, 1, n_mels, T)."""
    FRAME_MAJOR = "frame_major"
    """``out[frame * n_mels + mel]``: (1, T, n_mels, 1), time as the row axis."""


class PadMode(str, enum.Enum):
    """Padding of ``n_fft // 2`` samples at both clip ends (``torch.stft(center=True)``)."""

    CONSTANT = "constant"
    """Zeros: what :func:`tinyasc.data.features.logmel` uses (torchaudio's default)."""
    REFLECT = "reflect"
    """Mirror without repeating the edge sample (``torch.stft``'s own default)."""


def layout_from_input_shape(shape: Sequence[int], cfg: FeatureConfig) -> InputLayout:
    """The layout of a model input shape: which of the non-unit axes is the mel axis."""
    dims = [int(d) for d in shape if int(d) != 1]
    if sorted(dims) != sorted([cfg.n_mels, cfg.n_frames]) or cfg.n_mels == cfg.n_frames:
        raise InputError(None, f"model input shape {list(shape)} is not n_mels={cfg.n_mels} x frames={cfg.n_frames}")
    return InputLayout.MEL_MAJOR if dims[0] == cfg.n_mels else InputLayout.FRAME_MAJOR


def quantize_input(features: np.ndarray, scale: float, zero_point: int, *, dtype: str = "INT8") -> np.ndarray:
    """The model input (int8, or int16 for a 16x8 model) of float features, as TFLite's Quantize
    op computes it (:func:`tinyasc.qmath.quantize`); the C front end computes the same
    expression, so equal float features give equal inputs."""
    return quantize(features, scale, zero_point, dtype=dtype)


def pcm_to_float(pcm: np.ndarray) -> np.ndarray:
    """The Python reference's view of int16 PCM: ``pcm / 32768`` as float32 (exact)."""
    return np.asarray(pcm, dtype=np.int16).astype(np.float32) / np.float32(32768.0)


def float_to_pcm(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1) to int16 PCM (round to nearest, saturating), as a microphone delivers it."""
    return np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)




@dataclass(frozen=True, kw_only=True)
class MelIntervals:
    """The triangular filterbank as one rising weight per FFT bin.

    Interval ``j`` (``0 <= j <= n_mels``) is the bins ``edge[j] .. edge[j+1] - 1`` between the peaks of bands
    ``j - 1`` and ``j``; such a bin weighs ``rise[k - edge[0]]`` in band ``j`` and ``1 - rise`` in band ``j - 1``
    (HTK/Slaney triangles, ``norm=None``: a bin's two weights sum to one). Bins outside ``edge[0] ..
    edge[n_mels+1] - 1`` weigh nothing. The C sums ``a_j = sum(r p)`` and ``f_j = sum(p - r p)`` per interval, one
    product per bin, and band ``b`` is ``a_b + f_{b+1}``.
    """

    edge: np.ndarray
    rise: np.ndarray

    def dense(self, n_bins: int) -> np.ndarray:
        """The ``(n_mels, n_bins)`` float64 weights these intervals stand for."""
        n_mels = self.edge.size - 2
        out = np.zeros((n_mels, n_bins), dtype=np.float64)
        for j in range(n_mels + 1):
            k0, k1 = int(self.edge[j]), int(self.edge[j + 1])
            r = self.rise[k0 - self.edge[0] : k1 - self.edge[0]].astype(np.float64)
            if j < n_mels:
                out[j, k0:k1] = r
            if j > 0:
                out[j - 1, k0:k1] = 1.0 - r
        return out


#: How far a bin's falling weight may be from one minus its rising weight (two float32 roundings of weights <= 1).
MEL_PAIR_TOLERANCE = 2.0**-23


def mel_intervals(fb: np.ndarray) -> MelIntervals:
    """:class:`MelIntervals` of a triangular filterbank; ``ValueError`` for one that is not (a bin in two bands
    that are not neighbours, or whose two weights do not sum to one, or a weightless bin between weighted ones)."""
    n_mels, n_bins = fb.shape
    interval = np.full(n_bins, -1, dtype=np.int64)
    rise = np.zeros(n_bins, dtype=np.float32)
    for k in range(n_bins):
        bands = np.flatnonzero(fb[:, k])
        if bands.size == 2 and bands[1] == bands[0] + 1:
            interval[k], rise[k] = bands[1], fb[bands[1], k]
        elif bands.size == 1:  # the first band's rising side, the last's falling side, or a peak (weight 1)
            b = int(bands[0])
            falling = b == n_mels - 1 and (b > 0 or k > int(np.argmax(fb[b])))  # one band: past its peak
            if falling:  # the rise of the band after b (none) is one minus the weight
                interval[k], rise[k] = b + 1, np.float32(1.0) - fb[b, k]
            else:
                interval[k], rise[k] = b, fb[b, k]
        elif bands.size:
            raise ValueError(f"mel filterbank: bin {k} lies in bands {bands.tolist()}, not two neighbours")
    weighted = np.flatnonzero(interval >= 0)
    if weighted.size == 0:
        raise ValueError("mel filterbank has no weights")
    lo, hi = int(weighted[0]), int(weighted[-1]) + 1
    if np.any(interval[lo:hi] < 0) or np.any(np.diff(interval[lo:hi]) < 0):
        raise ValueError("mel filterbank: its weighted bins are not consecutive intervals between band peaks")
    edge = np.searchsorted(interval[lo:hi], np.arange(n_mels + 2), side="left") + lo
    out = MelIntervals(edge=edge.astype(np.int64), rise=rise[lo:hi].copy())
    err = np.max(np.abs(out.dense(n_bins) - fb.astype(np.float64)))
    if err > MEL_PAIR_TOLERANCE:
        raise ValueError(f"mel filterbank: a bin's two weights are {err:.3g} from summing to one")
    return out


def hann_half(win_length: int) -> np.ndarray:
    """Periodic Hann ``w[n] = 0.5 - 0.5 cos(2 pi n / W)`` for ``n = 0..W/2`` (``w[W-n] = w[n]``)."""
    n = np.arange(win_length // 2 + 1, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)).astype(np.float32)


#: The C logarithm's buckets: m in (sqrt(2)/2, sqrt(2)] by its float bits' top sixteen (sign, exponent, seven
#: mantissa bits), 0x3f35 .. 0x3fb5.
LOG_BUCKET_FIRST, LOG_BUCKETS = 0x3F35, 0x81


def log_table() -> np.ndarray:
    """``(LOG_BUCKETS, 4)`` float32 rows ``(c, 1/c, ln c, 0)`` of the C logarithm: ``c`` is the end of the bucket
    nearer 1 (the bucket's upper end below 1, its lower end from 1 on), so ``m - c`` is exact and the bucket of 1
    has ``c = 1``, ``ln c = 0``; ``1/c`` and ``ln c`` rounded from float64."""
    top = np.arange(LOG_BUCKET_FIRST, LOG_BUCKET_FIRST + LOG_BUCKETS, dtype=np.uint32)
    edge = np.where(top < 0x3F80, top + 1, top) << np.uint32(16)
    c = edge.view(np.float32).astype(np.float64)
    return np.stack([c, 1.0 / c, np.log(c), np.zeros_like(c)], axis=1).astype(np.float32)


#: The bound under which the C's clip APIs quantize without a range test (half its 2^20 guard).
CODE_BOUND = 2.0**19


def clip_codes_bounded(cfg: FeatureConfig, fb: np.ndarray, scale: float,
                       input_resnorm: tuple[float, float] | None) -> bool:
    """Whether every ``x / scale`` the C's clip APIs quantize is below :data:`CODE_BOUND` in magnitude.

    PCM lies in [-1, 1), so ``|X[k]| <= sum(window)`` and a band's power is at most its weights' sum times
    ``sum(window)^2``: the log-mel lies in ``[log(offset), log(offset + that)]``. With the input ResNorm the
    value is ``(x - mean) / sqrt(var + eps) + lambda x``, at most that range over ``sqrt(eps)`` plus lambda times
    the largest ``|x|``.
    """
    half = hann_half(cfg.win_length).astype(np.float64)
    w_sum = 2.0 * half.sum() - half[0] - (half[-1] if cfg.win_length % 2 == 0 else 0.0)
    lo = float(np.log(cfg.log_offset))
    hi = float(np.log(cfg.log_offset + float(fb.astype(np.float64).sum(axis=1).max()) * w_sum**2))
    big = max(abs(lo), abs(hi))
    if input_resnorm is not None:
        lam, eps = input_resnorm
        big = (hi - lo) / np.sqrt(eps) + lam * big
    return big / float(np.float32(scale)) < CODE_BOUND


def cos_quarter(n_fft: int) -> np.ndarray:
    """``cos(2 pi k / n_fft)`` for ``k = 0..n_fft/4``: every FFT twiddle by symmetry."""
    k = np.arange(n_fft // 4 + 1, dtype=np.float64)
    c = np.cos(2.0 * np.pi * k / n_fft)
    c[-1] = 0.0  # cos(pi/2) exactly (float64 pi gives 6e-17), as the C's multiplication-free first pass uses
    return c.astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class FrontendArtifact:
    """A generated front end: C sources in ``out_dir`` plus what they were generated for."""

    out_dir: Path
    """Directory holding the tables, the static sources and ``frontend.json``."""
    feature_config: FeatureConfig
    """Front end the tables reproduce."""
    input_scale: float
    """Model input scale (float32 in the tables)."""
    input_zero_point: int
    """Model input zero point."""
    input_dtype: str = "INT8"
    """``INT8``, or ``INT16`` for a 16x8 model: the type the front end writes (``tinyasc_fe_input_t``)."""
    layout: InputLayout
    """Memory order of the quantized and float outputs."""
    pad_mode: PadMode
    """STFT padding at the clip ends."""
    sources: tuple[str, ...]
    """C files to compile into the firmware (relative to ``out_dir``)."""
    headers: tuple[str, ...]
    """Headers (relative to ``out_dir``); include ``tinyasc_frontend.h``."""
    table_bytes: int
    """Flash taken by the constant tables (window, cosines, mel filterbank, band index)."""
    scratch_bytes: int
    """RAM the caller provides as scratch (``n_fft`` floats); the output is extra."""
    mel_weights: int
    """Weights stored for the filterbank: one per FFT bin between the first and last band's ends (dense would
    be n_mels x (n_fft/2+1))."""
    run_sources: tuple[str, ...] = ()
    """With a golden clip: ``frontend_run.c`` + the clip, defining ``tinyasc_frontend_run(void)``."""
    input_resnorm: tuple[float, float] | None = None
    """(lambda, eps): the model input is the clip's ResNorm of the log-mel, not the log-mel
    (:func:`tinyasc.contract.input_resnorm`; a model exported with ``--form equalized-lifted``)."""

    @property
    def listen_ram_bytes(self) -> int:
        """RAM continuous listening on this front end takes (:func:`listen_ram_bytes`)."""
        return listen_ram_bytes(self.feature_config, input_resnorm=self.input_resnorm is not None,
                                input_bytes=np.dtype(INT_RANGES[self.input_dtype][0]).itemsize)

    @property
    def output_shape(self) -> tuple[int, int]:
        """(rows, cols) of the output array in its memory layout."""
        c = self.feature_config
        return (c.n_mels, c.n_frames) if self.layout is InputLayout.MEL_MAJOR else (c.n_frames, c.n_mels)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "out_dir"}
        d.update(
            format=ARTIFACT_FORMAT,
            feature_config=self.feature_config.to_dict(),
            layout=self.layout.value,
            pad_mode=self.pad_mode.value,
            sources=list(self.sources),
            headers=list(self.headers),
            run_sources=list(self.run_sources),
            input_resnorm=None if self.input_resnorm is None else list(self.input_resnorm),
            output_bytes=self.feature_config.n_mels * self.feature_config.n_frames
            * np.dtype(INT_RANGES[self.input_dtype][0]).itemsize,
        )
        return d

    def save(self) -> Path:
        path = self.out_dir / ARTIFACT_JSON
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> "FrontendArtifact":
        out_dir = Path(out_dir)
        path = out_dir / ARTIFACT_JSON
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(path, "front end not found (run write_frontend first)") from None
        except (OSError, ValueError) as exc:
            raise InputError(path, f"unreadable front end description ({exc})") from None
        if not isinstance(d, dict) or d.get("format") != ARTIFACT_FORMAT:
            raise InputError(path, f"not a tinyasc front end (expected format {ARTIFACT_FORMAT})")
        return cls(
            out_dir=out_dir,
            feature_config=FeatureConfig.from_dict(d["feature_config"]),
            input_scale=float(d["input_scale"]),
            input_zero_point=int(d["input_zero_point"]),
            input_dtype=str(d.get("input_dtype", "INT8")),
            layout=InputLayout(d["layout"]),
            pad_mode=PadMode(d["pad_mode"]),
            sources=tuple(d["sources"]),
            headers=tuple(d["headers"]),
            table_bytes=int(d["table_bytes"]),
            scratch_bytes=int(d["scratch_bytes"]),
            mel_weights=int(d["mel_weights"]),
            run_sources=tuple(d.get("run_sources", ())),
            input_resnorm=None if d.get("input_resnorm") is None else tuple(float(v) for v in d["input_resnorm"]),
        )


def _c_float(v: float) -> str:
    return f"{float(np.float32(v)):.8e}f"  # 9 significant digits: float32 round-trips exactly


def _c_array(ctype: str, name: str, values: np.ndarray, fmt, per_line: int = 8) -> str:
    items = [fmt(v) for v in np.asarray(values).ravel()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(lines)
    return f"const {ctype} {name}[{len(items)}] = {{\n    {body}\n}};\n"


def _validate(cfg: FeatureConfig, scale: float, zero_point: int, pad_mode: PadMode,
              input_resnorm: tuple[float, float] | None = None, input_dtype: str = "INT8") -> None:
    n = cfg.n_fft
    if input_resnorm is not None:
        lam, eps = (float(v) for v in input_resnorm)
        if not (np.isfinite(lam) and lam >= 0 and np.isfinite(eps) and eps > 0):
            raise ValueError(f"input ResNorm needs lambda >= 0 and eps > 0, got {input_resnorm}")
    if n < 16 or n > 131072 or n & (n - 1):
        raise ValueError(f"n_fft={n}: the C real FFT needs a power of two in 16..131072")
    if cfg.power != 2.0:
        raise ValueError(f"power={cfg.power}: the C front end computes a power spectrum (2.0) only")
    if cfg.n_mels > n // 2 - 1:
        raise ValueError(f"n_mels={cfg.n_mels} must be <= n_fft/2 - 1 (per-frame log-mel lives in the scratch tail)")
    if pad_mode is PadMode.REFLECT and cfg.clip_samples <= n // 2:
        raise ValueError("reflect padding needs clip_samples > n_fft/2")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"input scale must be positive and finite, got {scale}")
    if input_dtype not in INPUT_C_TYPES:
        raise ValueError(f"input type {input_dtype}: the front end writes {' or '.join(INPUT_C_TYPES)}")
    _, lo, hi = INT_RANGES[input_dtype]
    if not lo <= int(zero_point) <= hi:
        raise ValueError(f"{input_dtype.lower()} zero point out of range: {zero_point}")
    if cfg.clip_samples >= 2**31 or cfg.n_mels * cfg.n_frames >= 2**31:
        raise ValueError("clip too long for int indices")


def write_frontend(
    feature_config: FeatureConfig,
    input_scale: float,
    input_zero_point: int,
    out_dir: str | Path,
    *,
    layout: InputLayout = InputLayout.MEL_MAJOR,
    pad_mode: PadMode = PadMode.CONSTANT,
    golden_pcm: np.ndarray | None = None,
    input_resnorm: tuple[float, float] | None = None,
    input_dtype: str = "INT8",
) -> FrontendArtifact:
    """Generate the tables for ``feature_config`` and copy the C front end into ``out_dir``.

    ``input_dtype``: ``INT8``, or ``INT16`` for a 16x8 model (the quantized output's type).

    ``input_resnorm = (lambda, eps)``: the int8 output is the clip's input ResNorm of the
    log-mel (two passes over the frames; no streaming API), for a model exported with
    ``--form equalized-lifted``.

    ``golden_pcm`` (int16, or float audio): also write it as a ``const`` array plus
    ``frontend_run.c``, whose ``tinyasc_frontend_run(void)`` turns it into the int8 model input
    ``tinyasc_frontend_output`` (what the Cortex-M harness profiles).
    """
    cfg = feature_config
    layout, pad_mode = InputLayout(layout), PadMode(pad_mode)
    _validate(cfg, input_scale, input_zero_point, pad_mode, input_resnorm, input_dtype)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    fb = mel_filterbank(cfg)
    empty = np.flatnonzero(fb.max(axis=1) <= 0)
    if empty.size:
        log.warning("mel filterbank has %d empty band(s) (first %d): they output log(offset)", empty.size, empty[0])
    mel = mel_intervals(fb)
    nyq = cfg.n_fft // 2  # the Nyquist bin: its power is returned, not stored; it is the last bin, if weighted
    nyq_interval = int(np.searchsorted(mel.edge, nyq, side="right")) - 1 if mel.edge[-1] > nyq else -1
    nyq_rise = float(mel.rise[nyq - mel.edge[0]]) if nyq_interval >= 0 else 0.0
    stored_rise = mel.rise[: nyq - mel.edge[0]] if nyq_interval >= 0 else mel.rise
    window = hann_half(cfg.win_length)
    cosq = cos_quarter(cfg.n_fft)
    index_type = "uint16_t" if cfg.n_fft < 65536 else "uint32_t"
    index_size = 2 if index_type == "uint16_t" else 4
    logt = log_table()
    table_bytes = 4 * (window.size + cosq.size + stored_rise.size + logt.size) + index_size * mel.edge.size
    scale32 = float(np.float32(input_scale))

    h = f"""/* Generated by tinyasc.firmware_sim.frontend.write_frontend: do not edit. */
#ifndef TINYASC_FRONTEND_TABLES_H
#define TINYASC_FRONTEND_TABLES_H

#include <stdint.h>

/* FeatureConfig digest {cfg.digest()}: {json.dumps(cfg.to_dict(), sort_keys=True)} */
#define TINYASC_FE_SAMPLE_RATE {cfg.sample_rate}
#define TINYASC_FE_N_FFT {cfg.n_fft}
#define TINYASC_FE_WIN_LENGTH {cfg.win_length}
#define TINYASC_FE_HOP {cfg.hop_length}
#define TINYASC_FE_N_MELS {cfg.n_mels}
#define TINYASC_FE_CLIP_SAMPLES {cfg.clip_samples}
#define TINYASC_FE_N_FRAMES {cfg.n_frames}
#define TINYASC_FE_LOG_OFFSET {_c_float(cfg.log_offset)}
/* the offset is a normal float (>= FLT_MIN): a log-mel's argument needs no clamp */
#define TINYASC_FE_LOG_OFFSET_NORMAL {int(np.float32(cfg.log_offset) >= np.finfo(np.float32).tiny)}
#define TINYASC_FE_PAD_REFLECT {int(pad_mode is PadMode.REFLECT)}
#define TINYASC_FE_LAYOUT_MEL_MAJOR {int(layout is InputLayout.MEL_MAJOR)}
#define TINYASC_FE_INPUT_SCALE {_c_float(scale32)}
#define TINYASC_FE_INPUT_ZERO_POINT ({int(input_zero_point)})
/* The model input's type ({input_dtype.lower()}) and range. */
typedef {INPUT_C_TYPES[input_dtype]} tinyasc_fe_input_t;
#define TINYASC_FE_INPUT_MIN ({INT_RANGES[input_dtype][1]})
#define TINYASC_FE_INPUT_MAX ({INT_RANGES[input_dtype][2]})
#define TINYASC_FE_SCRATCH_FLOATS {cfg.n_fft}
#define TINYASC_FE_N_MEL_WEIGHTS {mel.rise.size}
#define TINYASC_FE_TABLE_BYTES {table_bytes}
#define TINYASC_FE_INPUT_RESNORM {int(input_resnorm is not None)}
#define TINYASC_FE_RESNORM_LAMBDA {_c_float(input_resnorm[0] if input_resnorm else 0.0)}
#define TINYASC_FE_RESNORM_EPS {_c_float(input_resnorm[1] if input_resnorm else 1.0)}
/* every clip-API code comes from |x / scale| < 2^19 (clip_codes_bounded): no range test needed */
#define TINYASC_FE_CODES_BOUNDED {int(clip_codes_bounded(cfg, fb, scale32, input_resnorm))}

extern const float tinyasc_fe_window_pcm[{window.size}];
extern const float tinyasc_fe_cos_quarter[{cosq.size}];
extern const float tinyasc_fe_log_table[{logt.size}]; /* rows of four */
extern const {index_type} tinyasc_fe_mel_edge[{mel.edge.size}];
extern const float tinyasc_fe_mel_rise[{stored_rise.size}];
/* the Nyquist bin's interval (-1: it weighs nothing) and rise; the edges stop before it */
#define TINYASC_FE_MEL_NYQUIST_INTERVAL ({nyq_interval})
#define TINYASC_FE_MEL_NYQUIST_RISE {_c_float(nyq_rise)}

#endif /* TINYASC_FRONTEND_TABLES_H */
"""
    c = "\n".join(
        [
            "/* Generated by tinyasc.firmware_sim.frontend.write_frontend: do not edit. */",
            f'#include "{TABLES_H}"',
            "",
            "/* periodic Hann window times 2^-15 (the int16 -> float scale: exact), n = 0 .. win_length/2",
            "   (w[win_length - n] = w[n]) */",
            _c_array("float", "tinyasc_fe_window_pcm", window * np.float32(2.0**-15), _c_float, 6),
            "/* cos(2 pi k / n_fft), k = 0 .. n_fft/4 */",
            _c_array("float", "tinyasc_fe_cos_quarter", cosq, _c_float, 6),
            "/* the logarithm's buckets of m in (sqrt(2)/2, sqrt(2)] (float bits' top 16 = 0x3f35 + row): c (the",
            "   bucket's end nearer 1), 1/c, ln c, 0 */",
            _c_array("float", "tinyasc_fe_log_table", logt, _c_float, 4),
            "/* interval j = FFT bins edge[j] .. edge[j+1]-1, between the peaks of mel bands j-1 and j */",
            _c_array(index_type, "tinyasc_fe_mel_edge", np.minimum(mel.edge, nyq), str, 16),
            "/* the mel filterbank (librosa, norm=None) as bin k's weight in the band that rises over it, k = edge[0]",
            "   .. edge[n_mels+1]-1 (the band before weighs 1 - rise there; the Nyquist bin's apart) */",
            _c_array("float", "tinyasc_fe_mel_rise", stored_rise, _c_float, 6),
        ]
    )
    for name, text in ((TABLES_H, h), (TABLES_C, c)):
        with atomic_path(out_dir / name) as tmp:
            Path(tmp).write_text(text)
    for name in (*LIBRARY_SOURCES, HOST_MAIN):
        with atomic_path(out_dir / name) as tmp:
            shutil.copyfile(C_DIR / name, tmp)
    run_sources = write_golden_run(out_dir, golden_pcm) if golden_pcm is not None else ()

    art = FrontendArtifact(
        out_dir=out_dir,
        feature_config=cfg,
        input_scale=scale32,
        input_zero_point=int(input_zero_point),
        input_dtype=input_dtype,
        layout=layout,
        pad_mode=pad_mode,
        sources=("tinyasc_frontend.c", TABLES_C),
        headers=("tinyasc_frontend.h", TABLES_H),
        table_bytes=int(table_bytes),
        scratch_bytes=4 * cfg.n_fft,
        mel_weights=int(mel.rise.size),
        run_sources=run_sources,
        input_resnorm=None if input_resnorm is None else (float(input_resnorm[0]), float(input_resnorm[1])),
    )
    art.save()
    log.info(
        "front end written to %s: tables %d B flash, scratch %d B RAM, %d mel weights (dense: %d)",
        out_dir, art.table_bytes, art.scratch_bytes, art.mel_weights, fb.size,
    )
    return art


def write_golden_run(out_dir: str | Path, golden_pcm: np.ndarray) -> tuple[str, str]:
    """Write ``frontend_run.c`` and the compiled-in clip ``golden_pcm`` (int16, or float audio)
    into ``out_dir``: ``tinyasc_frontend_run(void)`` turns it into ``tinyasc_frontend_output``
    (what the Cortex-M harness profiles). Returns the two sources to compile."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pcm = _as_pcm(golden_pcm)
    gh = (
        "/* Generated by tinyasc.firmware_sim.frontend: do not edit. */\n"
        "#ifndef TINYASC_FRONTEND_GOLDEN_PCM_H\n#define TINYASC_FRONTEND_GOLDEN_PCM_H\n\n#include <stdint.h>\n\n"
        f"#define TINYASC_FE_GOLDEN_SAMPLES {pcm.size}\n"
        f"extern const int16_t tinyasc_fe_golden_pcm[{max(pcm.size, 1)}];\n\n#endif\n"
    )
    gc = "\n".join([
        "/* Generated by tinyasc.firmware_sim.frontend: do not edit. */",
        f'#include "{GOLDEN_H}"', "",
        _c_array("int16_t", "tinyasc_fe_golden_pcm", pcm if pcm.size else np.zeros(1, np.int16), str, 16),
    ])
    for name, text in ((GOLDEN_H, gh), (GOLDEN_C, gc)):
        with atomic_path(out_dir / name) as tmp:
            Path(tmp).write_text(text)
    with atomic_path(out_dir / RUN_SOURCE) as tmp:
        shutil.copyfile(C_DIR / RUN_SOURCE, tmp)
    return (RUN_SOURCE, GOLDEN_C)


def write_frontend_for_model(
    graph: Any,
    feature_config: FeatureConfig,
    out_dir: str | Path,
    *,
    pad_mode: PadMode = PadMode.CONSTANT,
    golden_pcm: np.ndarray | None = None,
    input_resnorm: tuple[float, float] | None = None,
) -> FrontendArtifact:
    """The front end for a read int8 or 16x8 model (:class:`~tinyasc.firmware_sim.graph.Graph`).

    Scale, zero point and layout come from the model's input tensor; a float or
    wrongly-shaped input is an :class:`InputError` naming the model file.
    ``input_resnorm`` as in :func:`write_frontend` (the export report's ``export_form.input_resnorm``).
    """
    t = graph.tensors[graph.inputs[0]]
    if t.dtype not in INPUT_C_TYPES or not t.quantized:
        raise InputError(graph.path, f"model input '{t.name}' is {t.dtype}, not quantized int8 or int16: "
                                     "no front end")
    if len(t.scale) != 1:
        raise InputError(graph.path, f"model input '{t.name}' is quantized per channel; the front end needs one scale")
    try:
        layout = layout_from_input_shape(t.shape, feature_config)
    except InputError as err:
        raise InputError(graph.path, err.problem) from None
    scale, zero_point = t.q()
    return write_frontend(
        feature_config, scale, zero_point, out_dir, layout=layout, pad_mode=pad_mode, golden_pcm=golden_pcm,
        input_resnorm=input_resnorm, input_dtype=t.dtype,
    )


def build_frontend_host(artifact: FrontendArtifact, *, cc: str | None = None, extra_flags: Sequence[str] = (),
                        cmsis_dsp: CmsisDsp | None = None, exe: Path | None = None) -> Path:
    """Compile the front end with its host driver into ``exe`` (default ``out_dir/frontend_host``).

    ``cmsis_dsp``: with CMSIS-DSP's complex FFT (its plain C kernels on the host; :meth:`CmsisDsp.host_objects`)."""
    compiler = find_compiler(cc)
    d = artifact.out_dir
    exe = Path(exe) if exe is not None else d / HOST_BINARY
    cmsis_flags = cmsis_dsp.cflags() if cmsis_dsp is not None else ()
    with tempfile.TemporaryDirectory(prefix="tinyasc_fe_build_") as tmp_dir:
        objects = [str(o) for o in cmsis_dsp.host_objects(compiler, Path(tmp_dir))] if cmsis_dsp is not None else []
        cmd = [compiler, *CFLAGS, *cmsis_flags, *extra_flags, "-I", str(d),
               *(str(d / s) for s in (*artifact.sources, HOST_MAIN)), *objects]
        with atomic_path(exe) as tmp:
            proc = subprocess.run([*cmd, "-o", str(tmp), "-lm"], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"front end build failed ({' '.join(cmd)}):\n{proc.stderr[-4000:]}")
            os.chmod(tmp, 0o755)
    return exe


def _run(exe: Path, args: Sequence[str]) -> str:
    if not Path(exe).is_file():
        raise InputError(exe, "front end host program not built (run build_frontend_host first)")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} {' '.join(args)} failed with status {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def _as_pcm(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio)
    if a.ndim != 1:
        raise ValueError(f"audio must be 1-D, got shape {a.shape}")
    return a.astype(np.int16) if a.dtype == np.int16 else float_to_pcm(a)


def run_frontend_host(
    artifact: FrontendArtifact, audio: np.ndarray, *, exe: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run the compiled front end on one clip -> ``(logmel float32, model input)``, both (n_mels, n_frames).

    ``audio`` is int16 PCM, or float audio converted by :func:`float_to_pcm` first.
    """
    exe = exe or artifact.out_dir / HOST_BINARY
    pcm = _as_pcm(audio)
    rows, cols = artifact.output_shape
    with tempfile.TemporaryDirectory(prefix="tinyasc_fe_") as tmp:
        t = Path(tmp)
        (t / "in.pcm").write_bytes(pcm.astype("<i2").tobytes())
        _run(exe, ["run", str(t / "in.pcm"), str(t / "out.f32"), str(t / "out.i8")])
        feats = np.fromfile(t / "out.f32", dtype=np.float32).reshape(rows, cols)
        q = np.fromfile(t / "out.i8", dtype=_np_input(artifact)).reshape(rows, cols)
    if artifact.layout is InputLayout.FRAME_MAJOR:
        feats, q = feats.T, q.T
    return np.ascontiguousarray(feats), np.ascontiguousarray(q)


def run_frontend_stream_host(
    artifact: FrontendArtifact, audio: np.ndarray, chunk: int, *, exe: Path | None = None
) -> np.ndarray:
    """The streaming C API fed ``chunk`` samples at a time (``chunk <= 0``: pseudo-random sizes
    0..2000, seed ``-chunk``), then finished -> int8 input (n_mels, n_frames). With the input
    ResNorm the log-mel is held as :data:`LOGMEL_STEP` codes until the end
    (:func:`stream_resnorm_reference`)."""
    if artifact.pad_mode is PadMode.REFLECT:
        raise ValueError("the streaming front end supports constant (zero) padding only")
    exe = exe or artifact.out_dir / HOST_BINARY
    rows, cols = artifact.output_shape
    with tempfile.TemporaryDirectory(prefix="tinyasc_fe_") as tmp:
        t = Path(tmp)
        (t / "in.pcm").write_bytes(_as_pcm(audio).astype("<i2").tobytes())
        _run(exe, ["stream", str(t / "in.pcm"), str(t / "out.i8"), str(int(chunk))])
        q = np.fromfile(t / "out.i8", dtype=_np_input(artifact)).reshape(rows, cols)
    return np.ascontiguousarray(q.T if artifact.layout is InputLayout.FRAME_MAJOR else q)


def run_frontend_listen_host(
    artifact: FrontendArtifact, audio: np.ndarray, chunk: int, *, exe: Path | None = None
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Continuous listening (``tinyasc_frontend_listen_*``) fed ``chunk`` samples at a time (``chunk <= 0``:
    pseudo-random sizes 0..2000, seed ``-chunk``) -> ``(codes, window, frames)``: the held frames'
    codes oldest first ``(held, n_mels)``, the model input of the last clip-length window
    ``(n_mels, n_frames)`` (None while fewer frames are held) and the frames computed."""
    exe = exe or artifact.out_dir / HOST_BINARY
    rows, cols = artifact.output_shape
    n_mels = artifact.feature_config.n_mels
    dt = _np_input(artifact)
    with tempfile.TemporaryDirectory(prefix="tinyasc_fe_") as tmp:
        t = Path(tmp)
        (t / "in.pcm").write_bytes(_as_pcm(audio).astype("<i2").tobytes())
        out = _run(exe, ["listen", str(t / "in.pcm"), str(t / "codes"), str(t / "win"), str(int(chunk))])
        codes = np.fromfile(t / "codes", dtype=dt).reshape(-1, n_mels)
        win = np.fromfile(t / "win", dtype=dt)
    frames = int(dict(line.split() for line in out.splitlines())["frames"])
    if win.size == 0:
        return codes, None, frames
    win = win.reshape(rows, cols)
    return codes, np.ascontiguousarray(win.T if artifact.layout is InputLayout.FRAME_MAJOR else win), frames


def logmel_codes(logmel: np.ndarray, *, dtype: str = "INT8") -> np.ndarray:
    """Float32 log-mel as :data:`LOGMEL_STEP` codes, as the C front end holds them with the input
    ResNorm: round half away from zero of ``x / step`` (float32), saturated to ``dtype``."""
    x = np.asarray(logmel, dtype=np.float32)
    q = x / np.float32(LOGMEL_STEP)
    r = np.trunc(q)
    frac = q - r
    lo, hi = INT_RANGES[dtype][1:]
    return np.clip(r + (frac >= 0.5) - (frac <= -0.5), lo, hi).astype(INT_RANGES[dtype][0])


def _normalized_codes(code: np.ndarray, mean: np.ndarray, std: np.ndarray, lam: float, scale: float,
                      zero_point: int, dtype: str) -> np.ndarray:
    """``(x - mean) / std + lam * x`` on ``x = step * code`` (n_mels, frames), float32 as the C, quantized."""
    f32 = np.float32
    xr = (np.asarray(code, f32) * f32(LOGMEL_STEP)).astype(f32)
    y = ((xr - mean[:, None]) / std[:, None]).astype(f32) + (f32(lam) * xr).astype(f32)
    return quantize_input(y.astype(f32), scale, zero_point, dtype=dtype)


def listen_window_reference(codes: np.ndarray, scale: float, zero_point: int, lam: float, eps: float, *,
                            dtype: str = "INT8") -> np.ndarray:
    """The model input ``tinyasc_frontend_listen_window`` writes with the input ResNorm, from a window's
    codes ``(n_frames, n_mels)`` oldest first: integer sums S1, S2 per band, then in float32
    ``mean = S1 / N * step``, ``var = (N S2 - S1^2) / N^2``, ``std = sqrt(var * step^2 + eps)``, the
    same operations as the C. Returns ``(n_mels, n_frames)``."""
    c = np.asarray(codes, np.int64).T
    f32 = np.float32
    n = c.shape[1]
    s1, s2 = c.sum(axis=1), (c * c).sum(axis=1)
    var = ((n * s2 - s1 * s1).astype(f32) / (f32(n) * f32(n))).astype(f32)
    mean = ((s1.astype(f32) / f32(n)).astype(f32) * f32(LOGMEL_STEP)).astype(f32)
    std = np.sqrt((var * f32(LOGMEL_STEP * LOGMEL_STEP)).astype(f32) + f32(eps)).astype(f32)
    return _normalized_codes(c, mean, std, lam, scale, zero_point, dtype)


def listen_ram_bytes(cfg: FeatureConfig, *, input_resnorm: bool, input_bytes: int = 1) -> int:
    """RAM of continuous listening in C: the FFT scratch (``n_fft`` floats) and the listening state (one
    window of int16 PCM, five counters, ``n_frames x n_mels`` codes, plus two int32 sums per band
    with the input ResNorm); the model input it writes is the model's."""
    return (4 * cfg.n_fft + 2 * cfg.win_length + 20 + input_bytes * cfg.n_frames * cfg.n_mels
            + (8 * cfg.n_mels if input_resnorm else 0))


def stream_ram_bytes(cfg: FeatureConfig, *, input_resnorm: bool) -> int:
    """RAM of the streaming C front end: the FFT scratch (``n_fft`` floats) and the stream state (one
    window of int16 PCM and two counters, plus 3 x n_mels floats of statistics with the input ResNorm)."""
    return 4 * cfg.n_fft + 2 * cfg.win_length + 8 + (12 * cfg.n_mels if input_resnorm else 0)


#: Nats per code of the log-mel the streaming front end holds until a clip's end when the model's
#: input ResNorm needs the whole clip's statistics (``TINYASC_FE_LOGMEL_STEP``).
LOGMEL_STEP = 0.125


def stream_resnorm_reference(logmel: np.ndarray, scale: float, zero_point: int, lam: float, eps: float, *,
                             dtype: str = "INT8") -> np.ndarray:
    """What the streaming C front end outputs with the input ResNorm, given the clip's float32 log-mel
    ``(n_mels, n_frames)``: float32 statistics accumulated frame by frame in the C's order, each
    log-mel value rounded to :data:`LOGMEL_STEP` (half away from zero, saturated to ``dtype``), then
    ``(x - mean) / std + lam * x`` on the rounded value, quantized. Same float32 operations as the C."""
    x = np.asarray(logmel, dtype=np.float32)
    f32 = np.float32
    shift = x[:, 0].copy()
    acc = np.zeros(x.shape[0], f32)
    sq = np.zeros(x.shape[0], f32)
    for t in range(x.shape[1]):
        d = (x[:, t] - shift).astype(f32)
        acc = (acc + d).astype(f32)
        sq = (sq + (d * d).astype(f32)).astype(f32)
    inv_t = f32(1.0) / f32(x.shape[1])
    m = (acc * inv_t).astype(f32)
    var = np.maximum((sq * inv_t).astype(f32) - (m * m).astype(f32), f32(0.0)).astype(f32)
    mean = (shift + m).astype(f32)
    std = np.sqrt((var + f32(eps)).astype(f32)).astype(f32)
    return _normalized_codes(logmel_codes(x, dtype=dtype), mean, std, lam, scale, zero_point, dtype)


def logf_host(artifact: FrontendArtifact, x: np.ndarray, *, exe: Path | None = None) -> np.ndarray:
    """``tinyasc_fe_logf`` of each float32 in ``x`` (measures the approximation)."""
    exe = exe or artifact.out_dir / HOST_BINARY
    with tempfile.TemporaryDirectory(prefix="tinyasc_fe_") as tmp:
        t = Path(tmp)
        np.asarray(x, dtype=np.float32).tofile(t / "in.f32")
        _run(exe, ["logf", str(t / "in.f32"), str(t / "out.f32")])
        return np.fromfile(t / "out.f32", dtype=np.float32)


def quantize_host(artifact: FrontendArtifact, x: np.ndarray, *, exe: Path | None = None) -> np.ndarray:
    """``tinyasc_frontend_quantize`` of each float32 in ``x``: the C front end's input codes (checks it against
    :func:`quantize_input`, ties and saturation included)."""
    exe = exe or artifact.out_dir / HOST_BINARY
    with tempfile.TemporaryDirectory(prefix="tinyasc_fe_") as tmp:
        t = Path(tmp)
        np.asarray(x, dtype=np.float32).tofile(t / "in.f32")
        _run(exe, ["quantize", str(t / "in.f32"), str(t / "out.bin")])
        return np.fromfile(t / "out.bin", dtype=_np_input(artifact))


def bench_host(artifact: FrontendArtifact, audio: np.ndarray, repeats: int, *, exe: Path | None = None) -> float:
    """Host seconds per clip of ``tinyasc_frontend_quantized`` (CPU time, mean over ``repeats``)."""
    exe = exe or artifact.out_dir / HOST_BINARY
    with tempfile.TemporaryDirectory(prefix="tinyasc_fe_") as tmp:
        p = Path(tmp) / "in.pcm"
        p.write_bytes(_as_pcm(audio).astype("<i2").tobytes())
        out = _run(exe, ["bench", str(p), str(int(repeats))])
    return float(dict(line.split() for line in out.splitlines())["seconds_per_clip"])


def _np_input(artifact: FrontendArtifact) -> np.dtype:
    """numpy type of the front end's output (little-endian int16 for a 16x8 model)."""
    return np.dtype(INT_RANGES[artifact.input_dtype][0]).newbyteorder("<")


def output_checksum(artifact: FrontendArtifact, quantized: np.ndarray) -> int:
    """FNV-1a of the model input's bytes in the artifact's memory layout: ``tinyasc_frontend_checksum()``."""
    q = np.asarray(quantized, dtype=_np_input(artifact))
    if artifact.layout is InputLayout.FRAME_MAJOR:
        q = q.T
    h = 2166136261
    for byte in np.ascontiguousarray(q).view(np.uint8).ravel().tolist():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def parity_stats(
    c_features: np.ndarray, ref_features: np.ndarray, c_input: np.ndarray, ref_input: np.ndarray
) -> dict[str, float]:
    """Front end vs reference: float error in log-mel units and int8 agreement in steps."""
    err = np.abs(np.asarray(c_features, np.float64) - np.asarray(ref_features, np.float64))
    steps = np.abs(np.asarray(c_input, np.int32) - np.asarray(ref_input, np.int32))
    return {
        "elements": int(err.size),
        "max_abs_error": float(err.max()),
        "mean_abs_error": float(err.mean()),
        "p999_abs_error": float(np.quantile(err, 0.999)),
        "int8_equal_fraction": float((steps == 0).mean()),
        "int8_max_step": int(steps.max()),
        "int8_differing": int((steps != 0).sum()),
    }
