"""Compression (paper sec. 2.3): one-shot magnitude pruning, QAT (int8 convs, float16 rest), distillation
(through the training loop's own KD: ``tinyasc.train.fit(teacher=..., kd=KDConfig(...))``).

``compress()`` runs them as checked steps (``pipeline``); ``asc-compress`` is its CLI.
"""

from tinyasc.compress.config import CompressConfig
from tinyasc.compress.finalize import plain_state_dict
from tinyasc.compress.pipeline import CompressResult, compress
from tinyasc.compress.prune import PruneSchedule, PruneScope, apply_pruning, layer_sparsity, remove_pruning
from tinyasc.compress.quant import calibrate, prepare_qat, snap_weight_int8

__all__ = [
    "CompressConfig",
    "CompressResult",
    "PruneSchedule",
    "PruneScope",
    "apply_pruning",
    "calibrate",
    "compress",
    "layer_sparsity",
    "plain_state_dict",
    "prepare_qat",
    "remove_pruning",
    "snap_weight_int8",
]
