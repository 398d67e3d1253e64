"""Training (the paper's recipe), per-device evaluation, ``asc-train`` / ``asc-eval``."""

from tinyasc.train.config import KDConfig, TrainConfig
from tinyasc.train.evaluate import EvalResult, evaluate, prediction_csv, write_eval_report
from tinyasc.train.loop import (
    CHECKPOINT_NAME,
    NonFiniteLoss,
    fit,
    kd_loss,
    learning_rate,
    soft_cross_entropy,
)

__all__ = [
    "CHECKPOINT_NAME",
    "EvalResult",
    "KDConfig",
    "NonFiniteLoss",
    "TrainConfig",
    "evaluate",
    "fit",
    "kd_loss",
    "learning_rate",
    "prediction_csv",
    "soft_cross_entropy",
    "write_eval_report",
]
