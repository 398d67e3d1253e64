"""The registered BC-ResNet-ASC variants."""

from __future__ import annotations

from typing import Any

from tinyasc.model.bcresnet_asc import BCResNetASC
from tinyasc.model.config import ModelConfig
from tinyasc.model.registry import register_model


def _build(defaults: dict[str, Any], overrides: dict[str, Any]) -> BCResNetASC:
    merged = {**defaults, **overrides}
    try:
        return BCResNetASC(ModelConfig.from_dict(merged))
    except TypeError as exc:
        raise ValueError(str(exc)) from None


@register_model
def bcresnet_asc(**overrides: Any) -> BCResNetASC:
    """Any width: pass ``base_channels`` (default 10)."""
    return _build({}, overrides)


@register_model
def bcresnet_asc_1(**overrides: Any) -> BCResNetASC:
    """BC-ResNet-ASC-1: c = 10, 8.1k parameters."""
    return _build({"base_channels": 10}, overrides)


@register_model
def bcresnet_asc_8(**overrides: Any) -> BCResNetASC:
    """BC-ResNet-ASC-8: c = 80, 315k parameters."""
    return _build({"base_channels": 80}, overrides)
