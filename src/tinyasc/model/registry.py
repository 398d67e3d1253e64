"""Named model variants (timm's ``@register_model`` convention) and their listing with MACs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from torch import nn

if TYPE_CHECKING:
    from tinyasc.model.complexity import Complexity

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a factory under its function name."""
    if fn.__name__ in _REGISTRY:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model; ``overrides`` are :class:`ModelConfig` fields.

    ``create_model(ckpt.model_name, **ckpt.model_config)`` rebuilds a checkpoint's architecture.
    Unknown names and fields raise ``ValueError``.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None
    return factory(**overrides)


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """One registry entry as the listing shows it."""

    name: str
    """Registered name."""
    summary: str
    """First line of the factory's docstring."""
    complexity: "Complexity"
    """Parameters (zeros included) and MACs at 10 s and 1 s, against the DCASE 2022+ limits."""


def describe_models(**overrides: Any) -> list[ModelInfo]:
    """Every registered variant (built with its defaults plus ``overrides``) with its complexity."""
    from tinyasc.model.complexity import complexity

    return [ModelInfo(name=name, summary=(_REGISTRY[name].__doc__ or "").strip().splitlines()[0],
                      complexity=complexity(create_model(name, **overrides)))
            for name in list_models()]


def registry_table(infos: list[ModelInfo]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the registry listing (parameters, MACs at 10 s and 1 s, DCASE 2022 rules)."""
    header = ["model", "description", "params (incl. zeros)", "MMACs / 10 s", "MMACs / 1 s", "DCASE 2022 rules"]
    rows = [[i.name, i.summary, f"{i.complexity.params:,}", f"{i.complexity.macs_paper / 1e6:.2f}",
             f"{i.complexity.macs_1s / 1e6:.2f}", "meets" if i.complexity.meets_dcase2022 else "exceeds"]
            for i in infos]
    return header, rows
