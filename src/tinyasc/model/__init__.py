"""BC-ResNet-ASC with Residual Normalization (the paper's model) and its registry.

``create_model(name, **overrides)`` builds ``bcresnet_asc_1`` (c=10), ``bcresnet_asc_8`` (c=80)
or ``bcresnet_asc`` (any ``base_channels``). This package imports neither ``train`` nor ``export``.
"""

from tinyasc.model import variants as _variants  # noqa: F401  (registers the variants)
from tinyasc.model.bcresnet_asc import BCResBlock, BCResNetASC, layer_list, receptive_field
from tinyasc.model.checkpoint import from_checkpoint
from tinyasc.model.config import Activation, ModelConfig, NormMode
from tinyasc.model.norm import FixedPCEN, GlobalFreqNorm, ResNorm, SubSpectralNorm, freq_instance_norm
from tinyasc.model.registry import create_model, list_models, register_model


def count_parameters(model) -> int:
    """Trainable parameters (BN affine included, running statistics excluded), as the paper counts."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "Activation",
    "BCResBlock",
    "BCResNetASC",
    "FixedPCEN",
    "GlobalFreqNorm",
    "ModelConfig",
    "NormMode",
    "ResNorm",
    "SubSpectralNorm",
    "count_parameters",
    "create_model",
    "freq_instance_norm",
    "from_checkpoint",
    "layer_list",
    "list_models",
    "receptive_field",
    "register_model",
]
