"""Quantization-aware training with ``torch.ao.quantization`` fake-quant modules.

What the int8 TFLite graph will execute, emulated in float during fine-tuning:

* convolution weights: symmetric, per output channel, int8 in [-127, 127]
  (``scale_c = max|w_c| / 127``, zero point 0, TFLite's weight scheme); a pruned zero
  stays exactly zero because the zero point is 0. The observer averages with constant 1.0,
  i.e. the scale always follows the current weights.
* activations: int8 asymmetric per tensor (zero point free, range always containing 0,
  TFLite's activation scheme), observed with a moving min/max during training and frozen
  in ``eval()``. They sit on the model input and on the output of every module that
  becomes a tensor in the exported graph: each leaf module (convolutions, normalizations,
  activations, pools, ResNorm) and each composite block (its output is the residual sum
  after the final ReLU). Element-wise ops written inline inside a block's ``forward``
  (the frequency mean, the inner sum) and ResNorm's internal mean/variance are not
  observed separately: they are covered by the tensor that follows them.
* every other parameter (normalization scale/shift, the classifier bias): float16, with a
  straight-through rounding parametrization (``torch.nn.utils.parametrize``).

Pruning must have been applied first (torch's prune hook then produces ``weight`` and the
fake-quant hook, registered after it, quantizes that); an unpruned conv gets
``prune.identity`` so the two mechanisms always compose the same way.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

import torch
from torch import nn
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver
from torch.nn.utils import parametrize, prune

from tinyasc.compress.prune import conv_layers, is_pruned

log = logging.getLogger(__name__)

WEIGHT_QMIN, WEIGHT_QMAX = -127, 127
"""Symmetric int8 weight range (TFLite excludes -128 for weights)."""
ACT_QMIN, ACT_QMAX = -128, 127
"""Asymmetric int8 activation range."""
ACT_AVERAGING = 0.01
"""Moving-average constant of the activation min/max observers (torch's default)."""

_SKIP_TYPES = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d)
_QAT_ATTR = "_tinyasc_qat_handles"
WEIGHT_FQ = "weight_fake_quant"
ACT_FQ = "activation_post_process"
INPUT_FQ = "input_fake_quant"


def weight_fake_quant() -> FakeQuantize:
    """Per-output-channel symmetric int8 fake quantization of a conv weight."""
    return FakeQuantize(
        observer=MovingAveragePerChannelMinMaxObserver,
        quant_min=WEIGHT_QMIN,
        quant_max=WEIGHT_QMAX,
        dtype=torch.qint8,
        qscheme=torch.per_channel_symmetric,
        ch_axis=0,
        averaging_constant=1.0,
    )


def act_fake_quant() -> FakeQuantize:
    """Per-tensor asymmetric int8 fake quantization of an activation."""
    return FakeQuantize(
        observer=MovingAverageMinMaxObserver,
        quant_min=ACT_QMIN,
        quant_max=ACT_QMAX,
        dtype=torch.qint8,
        qscheme=torch.per_tensor_affine,
        averaging_constant=ACT_AVERAGING,
    )


class HalfPrecision(nn.Module):
    """Parametrization: the value rounded to float16, gradient passed straight through."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (x.to(torch.float16).to(x.dtype) - x).detach()


def symmetric_int8_scale(w: torch.Tensor) -> torch.Tensor:
    """Per-output-channel scale ``max|w_c| / 127`` (torch's observer clamps it at float eps)."""
    amax = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1)
    return torch.clamp(amax / ((WEIGHT_QMAX - WEIGHT_QMIN) / 2), min=torch.finfo(torch.float32).eps)


def snap_weight_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``w`` rounded onto its symmetric per-channel int8 grid (float values) and the scales."""
    scale = symmetric_int8_scale(w)
    zp = torch.zeros(w.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w.detach().float(), scale.float(), zp, 0, WEIGHT_QMIN, WEIGHT_QMAX), scale


def _weight_hook(module: nn.Module, args: Any) -> None:
    # Runs after torch's prune hook, which just set ``module.weight = weight_orig * weight_mask``.
    module.weight = getattr(module, WEIGHT_FQ)(module.weight)


def _act_hook(module: nn.Module, args: Any, output: Any) -> Any:
    if not isinstance(output, torch.Tensor) or not output.is_floating_point():
        return output
    return _fake_quant(getattr(module, ACT_FQ), output)


def _fake_quant(fq: FakeQuantize, x: torch.Tensor) -> torch.Tensor:
    fq.observer_enabled[0] = 1 if fq.training else 0  # observe while training, frozen in eval()
    if not getattr(fq, "_tinyasc_quantize", True):  # delayed: observe only
        if fq.training:
            fq.activation_post_process(x.detach())
        return x
    return fq(x)


def _input_hook(module: nn.Module, args: tuple) -> tuple:
    return (_fake_quant(getattr(module, INPUT_FQ), args[0]), *args[1:])


def activation_points(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules whose output becomes an int8 tensor (see the module docstring)."""
    points = []
    for name, m in model.named_modules():
        if name == "" or isinstance(m, _SKIP_TYPES) or isinstance(m, FakeQuantize):
            continue
        points.append((name, m))
    return points


def prepare_qat(model: nn.Module, *, activations: bool = True, half_precision: bool = True) -> nn.Module:
    """Attach weight/activation fake quantization and float16 rounding to ``model`` in place."""
    if is_qat(model):
        raise ValueError("model is already prepared for QAT")
    handles = []
    convs = conv_layers(model)
    act_points = activation_points(model) if activations else []
    for _, m in convs:
        if not is_pruned(m):
            prune.identity(m, "weight")
        m.add_module(WEIGHT_FQ, weight_fake_quant())
        handles.append(m.register_forward_pre_hook(_weight_hook))
    if half_precision:
        for _, m in list(model.named_modules()):
            if isinstance(m, FakeQuantize):
                continue
            for pname, p in list(m.named_parameters(recurse=False)):
                if pname.endswith("_orig"):
                    continue  # conv weights (pruned: weight_orig) are int8, not float16
                if p.is_floating_point():
                    parametrize.register_parametrization(m, pname, HalfPrecision())
    if activations:
        model.add_module(INPUT_FQ, act_fake_quant())
        handles.append(model.register_forward_pre_hook(_input_hook))
        for _, m in act_points + [("", model)]:
            m.add_module(ACT_FQ, act_fake_quant())
            handles.append(m.register_forward_hook(_act_hook))
    setattr(model, _QAT_ATTR, handles)
    log.info("QAT prepared: %d conv weights int8 per-channel, %d activation points int8", len(convs), len(act_points) + 2 if activations else 0)
    return model


def is_qat(model: nn.Module) -> bool:
    return bool(getattr(model, _QAT_ATTR, None))


def activation_fake_quants(model: nn.Module) -> dict[str, FakeQuantize]:
    """Activation fake-quant modules by the name of the module they observe (``<input>`` for the input)."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, FakeQuantize):
            parent, _, leaf = name.rpartition(".")
            if leaf == ACT_FQ:
                out[parent or "<output>"] = m
            elif leaf == INPUT_FQ:
                out["<input>"] = m
    return out


def set_activation_fake_quant(model: nn.Module, enabled: bool) -> None:
    """Switch activation fake quantization on/off; the observers keep observing in ``train()`` either way.

    Used to delay activation quantization during fine-tuning (the ranges are observed from the
    start, the rounding joins later) — a freshly pruned network is first allowed to recover.
    """
    for fq in activation_fake_quants(model).values():
        fq._tinyasc_quantize = bool(enabled)  # a Python flag, not state: the caller sets it from the epoch


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Observe activation ranges on ``batches`` with the model in eval mode (BN statistics untouched)."""
    was_training = model.training
    model.eval()
    fqs = list(activation_fake_quants(model).values())
    for fq in fqs:
        fq.train()
    n = 0
    for x in batches:
        model(x)
        n += 1
    model.train(was_training)
    for fq in fqs:
        fq.train(was_training)
    return n


def activation_ranges(model: nn.Module) -> dict[str, dict[str, float]]:
    """Observed ``{point: {min, max, scale, zero_point}}`` of every activation fake-quant."""
    out = {}
    for name, fq in activation_fake_quants(model).items():
        obs = fq.activation_post_process
        if obs.min_val.numel() == 0 or not torch.isfinite(obs.min_val):
            continue
        scale, zp = fq.calculate_qparams()
        out[name] = {
            "min": float(obs.min_val),
            "max": float(obs.max_val),
            "scale": float(scale.reshape(-1)[0]),
            "zero_point": int(zp.reshape(-1)[0]),
        }
    return out
