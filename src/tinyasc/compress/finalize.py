"""Bake a pruned (and QAT) model into the plain model's state_dict: the compressed-checkpoint contract.

The result loads with ``strict=True`` into ``create_model(name, **config)`` — no prune masks,
fake-quant modules or parametrizations — and carries the compression in its values:

* pruned convolution weights exactly 0;
* (quantized) convolution weights on their symmetric per-output-channel int8 grid
  (``q * scale_c``, |q| <= 127, stored as float32), scales reported per layer;
* (quantized) every other floating tensor float16-representable;
* (optionally) BatchNorm running statistics folded into the affine parameters
  (``gamma' = gamma / sqrt(var + eps)``, ``beta' = beta - mean * gamma'``, then mean 0 and
  var ``1 - eps``): the normalization a deployed model stores is one scale and one shift per
  channel, which is what the paper's "15K 16-bit parameters for normalization" counts.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.utils import parametrize

from tinyasc.compress.prune import CONV_TYPES, effective_weight
from tinyasc.compress.quant import snap_weight_int8

log = logging.getLogger(__name__)

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _current_value(model: nn.Module, key: str) -> torch.Tensor:
    """Value of plain-model key ``key`` in a possibly pruned/parametrized/fake-quantized model."""
    modname, _, leaf = key.rpartition(".")
    m = model.get_submodule(modname) if modname else model
    if isinstance(m, CONV_TYPES) and leaf == "weight":
        return effective_weight(m)
    if parametrize.is_parametrized(m, leaf):
        return m.parametrizations[leaf].original.detach()
    return getattr(m, leaf).detach()


@torch.no_grad()
def plain_state_dict(
    model: nn.Module,
    make_plain: Callable[[], nn.Module],
    *,
    quantize: bool,
    fold_norm_stats: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict of the plain architecture with the compression baked in, and per-layer facts.

    Returns ``(state_dict, per_layer)`` with ``per_layer[key] = {numel, nonzero, bits[, scale]}``
    for every floating tensor. Raises ``RuntimeError`` if the result does not load strictly.
    """
    plain = make_plain()
    plain_sd = plain.state_dict()
    conv_weight_keys = {f"{n}.weight" for n, m in plain.named_modules() if isinstance(m, CONV_TYPES)}
    sd: dict[str, torch.Tensor] = {}
    for key, ref in plain_sd.items():
        sd[key] = _current_value(model, key).to(ref.dtype).clone().reshape(ref.shape)
    folded: set[str] = set()
    if fold_norm_stats:
        for name, m in plain.named_modules():
            if isinstance(m, _BN_TYPES) and m.track_running_stats and m.affine:
                g, b = sd[f"{name}.weight"], sd[f"{name}.bias"]
                mean, var = sd[f"{name}.running_mean"], sd[f"{name}.running_var"]
                inv = torch.rsqrt(var.double() + m.eps)
                sd[f"{name}.weight"] = (g.double() * inv).float()
                sd[f"{name}.bias"] = (b.double() - mean.double() * g.double() * inv).float()
                sd[f"{name}.running_mean"] = torch.zeros_like(mean)
                sd[f"{name}.running_var"] = torch.full_like(var, 1.0 - m.eps)
                folded.add(name)
    per_layer: dict[str, Any] = {}
    for key, t in sd.items():
        if not t.is_floating_point():
            continue
        info: dict[str, Any] = {"numel": int(t.numel())}
        if key.endswith((".running_var", ".running_mean")) and key.rpartition(".")[0] in folded:
            info.update(bits=0, folded=True)  # identity statistics (0, 1 - eps): not stored by a deployment
        elif key in conv_weight_keys and quantize:
            t, scale = snap_weight_int8(t)
            info.update(bits=8, scale=[float(s) for s in scale])
        elif quantize:
            t = t.to(torch.float16).to(torch.float32)
            info.update(bits=16)
        else:
            info.update(bits=32)
        sd[key] = t
        info["nonzero"] = int(torch.count_nonzero(t))
        per_layer[key] = info
    plain.load_state_dict(sd, strict=True)
    return sd, per_layer
