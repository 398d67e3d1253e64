"""BC-ResNet-ASC with Residual Normalization (the paper's model) and its registry.

``create_model(name, **overrides)`` builds ``bcresnet_asc_1`` (c=10), ``bcresnet_asc_8`` (c=80)
or ``bcresnet_asc`` (any ``base_channels``). This package imports neither ``train`` nor ``export``.
"""

from tinyasc.model import variants as _variants  # noqa: F401  (registers the variants)
from tinyasc.model.bcresnet_asc import BCResBlock, BCResNetASC, layer_list, receptive_field
from tinyasc.model.checkpoint import from_checkpoint
from tinyasc.model.config import Activation, ModelConfig, NormMode
from tinyasc.model.complexity import Complexity, complexity, count_all_parameters, count_macs
from tinyasc.model.norm import (FixedPCEN, GlobalFreqNorm, ResNorm, SubSpectralNorm, freq_instance_norm,
                               resnorm_lambdas)
from tinyasc.model.registry import ModelInfo, create_model, describe_models, list_models, register_model, registry_table


def count_parameters(model) -> int:
    """Trainable parameters (BN affine included, running statistics excluded), as the paper counts."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "Activation",
    "BCResBlock",
    "BCResNetASC",
    "Complexity",
    "FixedPCEN",
    "GlobalFreqNorm",
    "ModelConfig",
    "ModelInfo",
    "NormMode",
    "ResNorm",
    "SubSpectralNorm",
    "complexity",
    "count_all_parameters",
    "count_macs",
    "count_parameters",
    "create_model",
    "describe_models",
    "freq_instance_norm",
    "from_checkpoint",
    "layer_list",
    "list_models",
    "receptive_field",
    "register_model",
    "registry_table",
    "resnorm_lambdas",
]
