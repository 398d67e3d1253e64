"""The hand-off contract every stage reads: feature config, label set, devices, checkpoint.

This module imports no other tinyasc stage and no torch at import time, so ``data/``,
``export/`` and ``firmware_sim/`` can all read it. The model carries this contract in
its checkpoint and every export (as timm's ``pretrained_cfg`` does), so no stage asks
the user for the feature parameters or labels a second time.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from tinyasc.errors import InputError

log = logging.getLogger(__name__)

#: The ten TAU Urban Acoustic Scenes 2020 Mobile scene labels, in canonical (class index) order.
SCENE_LABELS: tuple[str, ...] = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)

#: Recording devices: three real (a, b, c) and six simulated (s1..s6).
DEVICES: tuple[str, ...] = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")
#: Devices present in the fold-1 training split.
SEEN_DEVICES: tuple[str, ...] = ("a", "b", "c", "s1", "s2", "s3")
#: Devices that appear only in the evaluation split (the generalization test).
UNSEEN_DEVICES: tuple[str, ...] = ("s4", "s5", "s6")


class MelScale(str, enum.Enum):
    """Mel scale formula of the filterbank."""

    HTK = "htk"
    SLANEY = "slaney"


@dataclass(frozen=True, kw_only=True)
class FeatureConfig:
    """Log-mel front end of the paper: 16 kHz, 256 mel bins, 130 ms window, 30 ms hop.

    One instance travels with every artifact (feature cache key, checkpoint, ONNX and
    TFLite reports, firmware front end); it is never typed in twice.
    """

    sample_rate: int = 16000
    """Audio is resampled to this rate (Hz) before the STFT."""
    n_mels: int = 256
    """Number of mel bands (the model's frequency axis)."""
    win_ms: float = 130.0
    """Analysis window length in milliseconds (Hann window)."""
    hop_ms: float = 30.0
    """Frame shift in milliseconds."""
    n_fft: int = 4096
    """FFT size; must be >= the window length (2080 samples at 16 kHz); 4096 leaves no empty mel filter."""
    f_min: float = 0.0
    """Lowest filterbank edge (Hz)."""
    f_max: float | None = None
    """Highest filterbank edge (Hz); None means Nyquist."""
    mel_scale: MelScale = MelScale.HTK
    """Mel formula passed to the filterbank."""
    power: float = 2.0
    """Spectrogram exponent: 2.0 for a power spectrum."""
    log_offset: float = 1e-6
    """``log(mel + log_offset)``: keeps digital silence finite."""
    clip_seconds: float = 10.0
    """Clips are padded with zeros or cropped to this length before feature extraction."""

    def __post_init__(self) -> None:
        if isinstance(self.mel_scale, str) and not isinstance(self.mel_scale, MelScale):
            object.__setattr__(self, "mel_scale", MelScale(self.mel_scale))
        if self.sample_rate <= 0 or self.n_mels <= 0:
            raise ValueError("sample_rate and n_mels must be positive")
        if self.win_length > self.n_fft:
            raise ValueError(f"window ({self.win_length} samples) longer than n_fft ({self.n_fft})")
        if self.hop_length <= 0 or self.clip_seconds <= 0 or self.log_offset <= 0:
            raise ValueError("hop, clip length and log offset must be positive")
        top = self.sample_rate / 2 if self.f_max is None else self.f_max
        if not 0 <= self.f_min < top <= self.sample_rate / 2:
            raise ValueError("need 0 <= f_min < f_max <= sample_rate / 2")

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def n_frames(self) -> int:
        """Frames per clip with a centred STFT: ``1 + clip_samples // hop``."""
        return 1 + self.clip_samples // self.hop_length

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Model input without batch: (channels=1, n_mels, n_frames)."""
        return (1, self.n_mels, self.n_frames)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mel_scale"] = self.mel_scale.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FeatureConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def digest(self) -> str:
        """Stable short hash of the config (cache keys, compatibility checks)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


CHECKPOINT_FORMAT = "tinyasc-checkpoint/1"


@dataclass(kw_only=True)
class Checkpoint:
    """The model hand-off artifact: weights plus the contract needed to use them.

    Written by ``train``/``compress``, read by ``train`` (resume), ``compress``,
    ``export`` and ``asc-eval`` — none of which imports the stage that wrote it.
    """

    model_name: str
    """Registry name (``bcresnet_asc_1``...)."""
    model_config: dict[str, Any]
    """Keyword arguments that rebuild the architecture via ``create_model(model_name, **model_config)``."""
    feature_config: FeatureConfig
    """Front end the model was trained on."""
    labels: tuple[str, ...] = SCENE_LABELS
    """Class names in output order."""
    state_dict: dict[str, Any] = field(default_factory=dict)
    """Model weights (torch tensors)."""
    train_config: dict[str, Any] = field(default_factory=dict)
    """The training (or compression) config that produced the weights."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Latest evaluation metrics (accuracy, per-device accuracy, loss...)."""
    compression: dict[str, Any] | None = None
    """None for a float model; else sparsity, bit widths and the steps applied."""
    norm_stats: dict[str, Any] | None = None
    """Dataset statistics the model needs at inference (Global FreqNorm mean/std), if any."""
    resume: dict[str, Any] | None = None
    """Optimizer/scheduler/RNG state and epoch, for ``--resume``; dropped by export."""
    int8: dict[str, Any] | None = None
    """The int8 model QAT trained (compressed checkpoints): its export form, weights and the quantization
    parameters of every tensor of the int8 graph (:mod:`tinyasc.model.int8`). None: float, or weights-only QAT."""

    def meta(self) -> dict[str, Any]:
        """The JSON-serializable contract without weights (goes into ONNX/TFLite reports)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "model_name": self.model_name,
            "model_config": self.model_config,
            "feature_config": self.feature_config.to_dict(),
            "labels": list(self.labels),
            "train_config": self.train_config,
            "metrics": self.metrics,
            "compression": self.compression,
        }

    def save(self, path: str | Path) -> None:
        """Atomically write the checkpoint (the previous file survives any failure).

        The payload is reduced to tensors, containers and plain values first
        (:func:`tinyasc.plaindata.to_plain`), so :meth:`load` can open it without running code.
        """
        import torch

        from tinyasc.atomic import atomic_path
        from tinyasc.plaindata import to_plain

        payload = self.meta()
        payload.update(state_dict=self.state_dict, norm_stats=self.norm_stats, resume=self.resume, int8=self.int8)
        payload = to_plain(payload)
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | Path, *, map_location: str = "cpu") -> "Checkpoint":
        """Read a checkpoint without executing anything it holds.

        Only a torch zip archive whose pickle names no class beyond tensors, containers and
        plain values is opened (``torch.load(weights_only=True)``); anything else, and any
        unreadable, foreign or incomplete file, raises :class:`InputError`. A file written by
        an older tinyasc with other objects inside names the converter to run on a file the
        user trusts (``asc-convert-checkpoint``).
        """
        payload = read_checkpoint_payload(path, map_location=map_location)
        return cls.from_payload(payload, path)

    @classmethod
    def from_payload(cls, payload: Any, path: str | Path | None = None) -> "Checkpoint":
        """The checkpoint in an unpickled payload, its fields type-checked (:class:`InputError` naming ``path``)."""
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise InputError(path, f"not a tinyasc checkpoint (expected format {CHECKPOINT_FORMAT})")
        try:
            kinds = {"model_name": str, "model_config": dict, "feature_config": dict, "labels": (list, tuple),
                     "state_dict": dict}
            for key, kind in kinds.items():
                if not isinstance(payload[key], kind):
                    raise TypeError(f"{key} is a {type(payload[key]).__name__}")
            for key in ("train_config", "metrics", "compression", "norm_stats", "resume", "int8"):
                if not isinstance(payload.get(key), (dict, type(None))):
                    raise TypeError(f"{key} is a {type(payload[key]).__name__}")
            if not all(isinstance(v, str) for v in payload["labels"]):
                raise TypeError("labels are not all strings")
            bad = [k for k, v in payload["state_dict"].items() if not isinstance(k, str) or not _is_tensor(v)]
            if bad:
                raise TypeError(f"state_dict entry {bad[0]!r} is not a named tensor")
            return cls(
                model_name=payload["model_name"],
                model_config=dict(payload["model_config"]),
                feature_config=FeatureConfig.from_dict(payload["feature_config"]),
                labels=tuple(payload["labels"]),
                state_dict=payload["state_dict"],
                train_config=payload.get("train_config") or {},
                metrics=payload.get("metrics") or {},
                compression=payload.get("compression"),
                norm_stats=payload.get("norm_stats"),
                resume=payload.get("resume"),
                int8=payload.get("int8"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(path, f"checkpoint contract incomplete ({exc})") from None


CONVERT_HINT = "asc-convert-checkpoint {path} NEW.pt --trust"
"""The command :func:`read_checkpoint_payload` names for an old file that holds Python objects."""


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def read_checkpoint_payload(path: str | Path, *, map_location: str = "cpu") -> Any:
    """The unpickled payload of a ``.pt`` file, read with ``torch.load(weights_only=True)``.

    Nothing in the file is executed: the pickle's globals are listed first (without
    unpickling, by :func:`torch.serialization.get_unsafe_globals_in_checkpoint`) and a file
    naming any class outside the weights-only allow-list is refused, with the converter to
    run if the user trusts it. A file that is not a torch zip archive (a bare pickle, a
    truncated or foreign file) is refused before anything reads its pickle.
    """
    import warnings
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    if not zipfile.is_zipfile(path):
        raise InputError(path, "not a readable checkpoint (not a torch zip archive: truncated, foreign, or a bare "
                               "pickle, which is never opened)")
    with warnings.catch_warnings():  # torch warns about odd pickle protocols: one line on stderr is the rule
        warnings.simplefilter("ignore")
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception as exc:  # a damaged archive fails in many ways
            raise InputError(path, f"not a readable checkpoint ({type(exc).__name__})") from None
        if unsafe:
            shown = ", ".join(sorted(unsafe)[:3]) + (f" and {len(unsafe) - 3} more" if len(unsafe) > 3 else "")
            raise InputError(path, f"refused: its pickle names Python objects ({shown}) that could run code when "
                                   f"loaded; if you trust this file, convert it once: "
                                   f"{CONVERT_HINT.format(path=path)}")
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # corrupt archive: zip, pickle and storage errors of many types
            raise InputError(path, f"not a readable checkpoint ({type(exc).__name__})") from None


TFLITE_CONTRACT_KEY = "tinyasc.contract"
"""Name of the TFLite metadata entry holding a :class:`DeployedContract` as JSON."""


@dataclass(frozen=True, kw_only=True)
class DeployedContract:
    """What a deployed model needs from the runtime around it, carried inside the ``.tflite``.

    The ``asc-export`` writes it as TFLite metadata (TFLite Micro ignores metadata); the
    firmware simulator reads it to build the front end, instead of guessing from the input shape.
    """

    feature_config: FeatureConfig
    """Log-mel front end the model was trained on."""
    labels: tuple[str, ...]
    """Class names in output order."""
    input_resnorm: tuple[float, float] | None = None
    """(lambda, eps) when the model input is :func:`input_resnorm` of the log-mel (lifted export form)."""

    def to_json(self) -> bytes:
        return json.dumps({"schema": "tinyasc-deployed-contract/1", "feature_config": self.feature_config.to_dict(),
                           "labels": list(self.labels),
                           "input_resnorm": None if self.input_resnorm is None else list(self.input_resnorm)},
                          sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "DeployedContract":
        d = json.loads(data.decode("utf-8"))
        if d.get("schema") != "tinyasc-deployed-contract/1":
            raise ValueError(f"unknown contract schema {d.get('schema')!r}")
        rn = d.get("input_resnorm")
        return cls(feature_config=FeatureConfig.from_dict(d["feature_config"]), labels=tuple(d["labels"]),
                   input_resnorm=None if rn is None else (float(rn[0]), float(rn[1])))


def read_deployed_contract(tflite_bytes: bytes, path: str | Path | None = None) -> DeployedContract | None:
    """The :class:`DeployedContract` in a ``.tflite`` file's metadata, or None (not exported by tinyasc).

    An entry that is there but unreadable is an :class:`InputError` naming ``path``.
    """
    from tinyasc.tflite_io import parse_model

    entry = parse_model(tflite_bytes, path).metadata.get(TFLITE_CONTRACT_KEY)
    if entry is None:
        return None
    try:
        return DeployedContract.from_json(entry)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(path, f"unreadable {TFLITE_CONTRACT_KEY} metadata ({exc})") from None


def input_resnorm(x: Any, lam: float, eps: float) -> Any:
    """ResNorm (paper eq. 3) over the last axis (frames) of float32 log-mel, per mel bin.

    ``lam * x + (x - mean_t x) / sqrt(var_t x + eps)``, biased variance: the model's input
    ResNorm for a single-channel input (FreqIN's mean over channels and time is a mean over
    time). This is what a model exported with its input ResNorm lifted out of the int8 graph
    (``asc-export --form equalized-lifted``) expects from the front end, before quantization.
    """
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    mu = x.mean(axis=-1, keepdims=True, dtype=np.float32)
    c = x - mu
    var = (c * c).mean(axis=-1, keepdims=True, dtype=np.float32)
    return (c / np.sqrt(var + np.float32(eps)) + np.float32(lam) * x).astype(np.float32)


def device_of(filename: str) -> str:
    """Device id from a TAU file name: the last dash field of the stem (``...-0-a.wav`` -> ``a``)."""
    stem = Path(filename).stem
    return stem.rsplit("-", 1)[-1]


def city_of(filename: str) -> str:
    """City from a TAU file name ``scene-city-location-segment-device.wav``."""
    parts = Path(filename).stem.split("-")
    return parts[1] if len(parts) >= 5 else ""
