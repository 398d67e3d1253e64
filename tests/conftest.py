"""Shared fixtures for every stage's tests."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs one worker per core (the README's test command): a worker's PyTorch and NumPy, and the tools
    # it starts, take one thread each, so that workers do not oversubscribe the cores (two PyTorch processes with their
    # own OpenMP threads on two cores ran 10-20x slower than one alone). Set before NumPy or PyTorch is imported.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """``asc-synth --scale tiny --seed 0`` (160 one-second clips, TAU layout), made once per session.

    Read-only for tests: copy it (``shutil.copytree``) before modifying files. The feature
    cache defaults to ``<root>/.tinyasc_cache``; pass ``cache_dir=tmp_path`` to keep a test's
    cache private.
    """
    from tinyasc.data.synth import SynthScale, synthesize

    return synthesize(tmp_path_factory.mktemp("tiny") / "tau", scale=SynthScale.TINY, seed=0, workers=1)


def _tone(seconds: float, sr: int, freq: float = 1000.0, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


#: Four clips of four devices: (file stem, scene).
TAU_CLIPS = (
    ("airport-barcelona-0-0-a", "airport"),
    ("bus-lyon-1-0-b", "bus"),
    ("park-helsinki-2-3-s1", "park"),
    ("tram-vienna-4-1-s5", "tram"),
)


@pytest.fixture
def tau_layout(tmp_path):
    """Factory: ``tau_layout(clips=TAU_CLIPS, evaluate=(), seconds=1.0, sr=16000) -> root``.

    Writes a hand-made TAU-layout dataset (tab-separated meta.csv and fold-1 csv files,
    24-bit wavs of a sine plus noise) under a fresh ``tmp_path`` subdirectory; stems in
    ``evaluate`` go to fold1_evaluate.csv, the rest to fold1_train.csv.
    """
    counter = iter(range(1000))

    def make(clips=TAU_CLIPS, evaluate=(), seconds: float = 1.0, sr: int = 16000) -> Path:
        import soundfile as sf

        root = tmp_path / f"tau{next(counter)}"
        (root / "audio").mkdir(parents=True)
        (root / "evaluation_setup").mkdir()
        meta = ["filename\tscene_label\tidentifier\tsource_label\n"]
        train = ["filename\tscene_label\n"]
        ev = ["filename\tscene_label\n"]
        for k, (stem, scene) in enumerate(clips):
            name = f"audio/{stem}.wav"
            parts = stem.split("-")
            sf.write(root / name, _tone(seconds, sr, 300.0 + 100 * k, seed=k), sr, subtype="PCM_24")
            meta.append(f"{name}\t{scene}\t{parts[1]}-{parts[2]}\t{parts[-1]}\n")
            (ev if stem in evaluate else train).append(f"{name}\t{scene}\n")
        (root / "meta.csv").write_text("".join(meta))
        (root / "evaluation_setup" / "fold1_train.csv").write_text("".join(train))
        (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("".join(ev))
        return root

    return make


TOOLS = Path(__file__).resolve().parents[1] / "tools"


@pytest.fixture
def load_tool():
    """``load_tool(name)`` imports ``tools/<name>.py`` (the tools are scripts, not a package)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load
