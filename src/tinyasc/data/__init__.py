"""Data stage: TAU Urban Acoustic Scenes 2020 / 2022 Mobile loading (and DCASE 2024 split files),
the paper's log-mel front end, the float16 feature cache, dataset integrity from wav headers, and
``asc-synth``'s synthetic dataset in the TAU layout.

Knows no model. Public API::

    load_tau(root, skip_bad=False, train_split=None) -> TauDataset   (tau.py)
    decide_clip_length / scan_headers                    (integrity.py)
    load_audio / logmel / mel_filterbank                 (features.py)
    build_feature_set(dataset, split, cfg) -> FeatureSet (cache.py)
    synthesize(out, scale=SynthScale.SMALL, seed=0)      (synth.py)
"""

from tinyasc.data.cache import FeatureSet, build_feature_set
from tinyasc.data.features import load_audio, logmel, mel_filterbank
from tinyasc.data.synth import SynthScale, synthesize
from tinyasc.data.tau import ClipRecord, Split, TauDataset, load_tau

__all__ = [
    "ClipRecord",
    "FeatureSet",
    "Split",
    "SynthScale",
    "TauDataset",
    "build_feature_set",
    "load_audio",
    "load_tau",
    "logmel",
    "mel_filterbank",
    "synthesize",
]
