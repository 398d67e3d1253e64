"""Export forms of BC-ResNet-ASC: the same function, written for an int8 graph.

int8 TFLite holds one scale per activation tensor and per MUL/ADD constant, and per output
channel only for conv weights. Every rewrite here is exact in float (checked on every export)
and moves a wide dynamic range from a per-tensor scale into per-channel conv weights:

* ``fold``: every BatchNorm that follows a convolution is folded into it
  (``torch.nn.utils.fusion.fuse_conv_bn_eval``): one requantization instead of conv -> MUL -> ADD.
* ``equalized`` (includes ``fold``):
  - SubSpectralNorm becomes a depthwise 1 x 1 conv over the (channel, sub-band) pairs of its
    reshape form (:class:`SubbandAffine`), not BatchNorm's MUL + ADD, whose gain vector would be
    quantized with one scale (the gains span 0.36 to 318 in a pruned ASC-1);
  - each frequency depthwise conv's output channels are equalized to one calibrated range, the
    factor divided back out of the sub-band gains (:func:`equalize_subspectral`);
  - each block's frequency mean is one channel-equalized depthwise (F x 1) conv
    (:class:`ScaledMeanBlock`).
* ``equalized-lifted``: ``equalized`` with the input ResNorm computed before the graph, in float,
  by the front end (:func:`input_resnorm`); the int8 graph starts at the stem convolution. A
  per-clip, per-band variance of log-mel spans orders of magnitude that int8 MEAN/RSQRT cannot hold.

SubSpectralNorm keeps its reshape form: onnx2tf 1.29 converts a (1, C, F, 1) multiply-add, a
frequency-axis Slice and a Gather + Reshape halo of an NCHW tensor wrongly or not at all
(shared toolchain notes; measured again for the per-sub-band conv fold).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from tinyasc.contract import input_resnorm

log = logging.getLogger(__name__)


class ExportForm(str, enum.Enum):
    """How the checkpoint's model is rewritten before ONNX export."""

    AS_TRAINED = "as-trained"
    """The module exactly as the checkpoint builds it."""
    FOLD = "fold"
    """BatchNorm folded into the preceding convolution."""
    EQUALIZED = "equalized"
    """``fold`` plus SubSpectralNorm as a per-(channel, sub-band) depthwise conv, channel-equalized
    frequency convs and frequency means (the int8 form; same graph input as the model)."""
    EQUALIZED_LIFTED = "equalized-lifted"
    """``equalized`` with the input ResNorm lifted into the front end: the int8 graph's input is
    ``lambda * x + FreqIN(x)`` of the log-mel, computed in float (the runtime input contract changes)."""


class ScaledMeanBlock(nn.Module):
    """A BC-ResBlock whose frequency mean is one per-channel-scaled depthwise (F x 1) conv of ``h``.

    In eval mode ``mean_f(SSN(freq_dw(h)))`` is affine in ``h`` and per channel (a 3-tap
    depthwise conv, then a per-(channel, sub-band) affine, then a mean), so it equals a
    depthwise conv over all F rows of ``h`` with weights ``K[c, f]`` and bias ``k_c`` (probed
    exactly with one-hot inputs). Both are multiplied by ``a_c``, which is divided back out of
    the temporal depthwise conv: the same function in float. In int8 the conv accumulates in
    int32 and requantizes once, at a scale the channels now share evenly; it reads ``h``
    (alive anyway for the residual) instead of a transposed copy of ``f2``.
    """

    def __init__(self, block: nn.Module, gains: np.ndarray, n_freq: int):
        super().__init__()
        self.block = block
        a = torch.as_tensor(gains, dtype=torch.float32)
        c = a.numel()
        with torch.no_grad():
            probe = torch.zeros(n_freq + 1, c, n_freq, 1)
            probe[torch.arange(n_freq), :, torch.arange(n_freq), 0] = 1.0  # row n_freq: all zero
            resp = block.ssn(block.freq_dw(probe)).mean(dim=2)[:, :, 0].double()  # (F + 1, C)
            bias = resp[n_freq]
            kernel = (resp[:n_freq] - bias).T  # (C, F)
            self.freq_mean = nn.Conv2d(c, c, (n_freq, 1), groups=c, bias=True)
            self.freq_mean.weight.copy_((kernel * a.double()[:, None]).float().view(c, 1, n_freq, 1))
            self.freq_mean.bias.copy_((bias * a.double()).float())
            block.time_dw.weight.div_(a.view(c, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.block
        h = b.project(x)
        f1 = b.drop(b.time_pw(b.act(b.time_bn(b.time_dw(self.freq_mean(h))))))
        f2 = b.ssn(b.freq_dw(h))
        out = f2 + f1
        if not b.transition:
            out = out + x
        return b.out_act(out)


@torch.no_grad()
def _block_channel_ranges(model: nn.Module, x: np.ndarray, attr: str, reduce_freq: bool,
                          q: float = 0.999) -> dict[str, tuple[np.ndarray, int]]:
    """Per-channel quantile ``q`` of |output of ``block.<attr>``| over calibration data, for every
    BC-ResBlock, with the output's frequency size; ``reduce_freq`` takes the mean over frequency first."""
    vals: dict[str, list[torch.Tensor]] = {}
    nf: dict[str, int] = {}
    hooks = []
    for name, m in model.named_modules():
        if _is_bcres_block(m):
            def hook(mod, args, out, name=name):
                v = out.mean(dim=2) if reduce_freq else out
                vals.setdefault(name, []).append(v.abs().transpose(0, 1).reshape(v.shape[1], -1))
                nf[name] = out.shape[2]
            hooks.append(getattr(m, attr).register_forward_hook(hook))
    try:
        for i in range(0, len(x), 16):
            model(torch.from_numpy(np.asarray(x[i : i + 16], dtype=np.float32)))
    finally:
        for h in hooks:
            h.remove()
    out = {}
    for k, v in vals.items():
        t = torch.cat(v, dim=1)  # torch.quantile takes at most 16M elements: a fixed random subset
        t = t[:, torch.randperm(t.shape[1], generator=torch.Generator().manual_seed(0))[:200_000]]
        out[k] = (torch.quantile(t, q, dim=1).numpy(), nf[k])
    return out


class SubbandAffine(nn.Module):
    """SubSpectralNorm in eval mode as a depthwise 1 x 1 conv over the (channel, sub-band) pairs.

    Same reshape form as :class:`tinyasc.model.norm.SubSpectralNorm` (the one onnx2tf converts
    correctly), but the per-(c, s) affine ``g * y + b`` is a conv, not BatchNorm's MUL + ADD: a
    MUL's constant is quantized with one int8 scale for the whole vector, and SSN gains span
    three decades after pruning (0.36 to 318 in the quick run's model), so the small ones round
    to zero. A depthwise conv quantizes its weights per channel and requantizes once.
    ``input_scale[c]`` is a factor its input channel ``c`` already carries (divided out of ``g``).

    ``dead[c]`` marks an input channel that is exactly zero (a pruned-away frequency filter): its
    output is the shift alone, and its gain, which BatchNorm drove to ``gamma / sqrt(eps)`` (~300),
    is replaced by 1. Exact in float; in int8 it matters, because a conv's int32 bias is quantized
    at ``input_scale * weight_scale``: with a weight scale of ~2 the shift rounded to 0 or off by half
    an output step, the same error at every position of that sub-band, which no pooling averages out.
    """

    def __init__(self, ssn: nn.Module, input_scale: np.ndarray | None = None, dead: np.ndarray | None = None):
        super().__init__()
        bn, self.groups = ssn.bn, int(ssn.groups)
        with torch.no_grad():
            gain = bn.weight.double() * torch.rsqrt(bn.running_var.double() + bn.eps)
            shift = bn.bias.double() - bn.running_mean.double() * gain
            if input_scale is not None:
                gain = gain / torch.as_tensor(input_scale, dtype=torch.float64).repeat_interleave(self.groups)
            if dead is not None:
                gain = torch.where(torch.as_tensor(dead).repeat_interleave(self.groups), torch.ones_like(gain), gain)
            k = gain.numel()
            self.affine = nn.Conv2d(k, k, 1, groups=k, bias=True)
            self.affine.weight.copy_(gain.float().view(k, 1, 1, 1))
            self.affine.bias.copy_(shift.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, f, t = x.shape
        return self.affine(x.reshape(n, c * self.groups, f // self.groups, t)).reshape(n, c, f, t)


@torch.no_grad()
def equalize_subspectral(model: nn.Module, calib: np.ndarray) -> int:
    """Every BC-ResBlock's SubSpectralNorm as :class:`SubbandAffine`, its input channels equalized (in place).

    ``freq_dw``'s output channel ``c`` is multiplied by ``a_c`` and the sub-band gains by ``1 / a_c``:
    the same function. ``a_c`` brings every channel's calibrated range to the widest one: int8
    holds the depthwise output in one scale, and a channel whose pruned filter leaves a tiny
    output (its SSN gain near ``1 / sqrt(eps)``) would be rounded to a few levels, then amplified.
    """
    n = 0
    for name, (rng, _) in _block_channel_ranges(model, calib, "freq_dw", reduce_freq=False).items():
        block = model.get_submodule(name)
        live = rng > 1e-8 * max(float(rng.max()), 1e-30)  # an all-zero (pruned) channel keeps a = 1
        a = np.where(live, float(rng.max()) / np.where(live, rng, 1.0), 1.0)
        block.freq_dw.weight.mul_(torch.as_tensor(a, dtype=torch.float32).view(-1, 1, 1, 1))
        dead = ~block.freq_dw.weight.detach().reshape(len(a), -1).any(dim=1).numpy()
        block.ssn = SubbandAffine(block.ssn, input_scale=a, dead=dead)
        n += 1
    return n


def _is_bcres_block(m: nn.Module) -> bool:
    return all(hasattr(m, a) for a in ("freq_dw", "ssn", "time_dw", "time_pw", "out_act", "transition"))


def _is_resnorm(m: nn.Module) -> bool:
    return type(m).__name__ == "ResNorm" and hasattr(m, "lam") and hasattr(m, "eps")


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """Copy of ``model`` with every conv -> BatchNorm pair fused; returns (model, pairs folded)."""
    model = copy.deepcopy(model).eval()
    folded = 0
    for parent in list(model.modules()):
        if isinstance(parent, nn.Sequential):
            names = list(parent._modules)
            for a, b in zip(names, names[1:]):
                conv, bn = parent._modules[a], parent._modules[b]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    parent._modules[a] = fuse_conv_bn_eval(conv, bn)
                    parent._modules[b] = nn.Identity()
                    folded += 1
        # BC-ResBlock's temporal branch: attributes time_dw -> time_bn (applied in that order).
        conv, bn = getattr(parent, "time_dw", None), getattr(parent, "time_bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            parent.time_dw = fuse_conv_bn_eval(conv, bn)
            parent.time_bn = nn.Identity()
            folded += 1
    return model, folded


@dataclass(frozen=True, kw_only=True)
class FormInfo:
    form: ExportForm
    bn_folded: int
    max_abs_diff: float
    """Max |logit(export form) - logit(as trained)| on the check clips."""
    freq_means_scaled: int = 0
    """BC-ResBlock frequency means rewritten as channel-equalizing depthwise convs."""
    subspectral_equalized: int = 0
    """SubSpectralNorms rewritten as equalized per-(channel, sub-band) depthwise convs."""
    input_resnorm: tuple[float, float] | None = None
    """(lambda, eps) of the input ResNorm the front end computes before quantizing (``equalized-lifted``)."""

    def prepare(self, x_nchw: np.ndarray) -> np.ndarray:
        """Features as the exported graph takes them (identity unless the input ResNorm was lifted)."""
        if self.input_resnorm is None:
            return x_nchw
        if x_nchw.shape[1] != 1:
            raise ValueError(f"the lifted input ResNorm takes a single-channel input, got {x_nchw.shape}")
        return input_resnorm(x_nchw, *self.input_resnorm)

    def to_dict(self) -> dict[str, Any]:
        lifted = None
        if self.input_resnorm is not None:
            lifted = {"lambda": self.input_resnorm[0], "eps": self.input_resnorm[1],
                      "formula": "x'[f, t] = lambda * x[f, t] + (x[f, t] - mean_t x[f]) / sqrt(var_t x[f] + eps), "
                                 "float32 over the whole clip, then int8-quantized"}
        return {"form": self.form.value, "bn_folded": self.bn_folded, "max_abs_diff_vs_as_trained": self.max_abs_diff,
                "freq_means_scaled": self.freq_means_scaled, "subspectral_equalized": self.subspectral_equalized,
                "input_resnorm": lifted}


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, attr, new)


def export_form(model: nn.Module, form: ExportForm, calib: np.ndarray, check: np.ndarray) -> tuple[nn.Module, FormInfo]:
    """Rewrite ``model`` (eval mode) into ``form``; ``calib`` gives the ranges, ``check`` the equivalence test."""
    model = model.eval()
    out, folded, scaled_means, equalized, lifted = model, 0, 0, 0, None
    if form is not ExportForm.AS_TRAINED:
        out, folded = fold_batchnorm(model)  # a deep copy: the caller's model stays as trained
    if form in (ExportForm.EQUALIZED, ExportForm.EQUALIZED_LIFTED):
        equalized = equalize_subspectral(out, calib)
        # f2 is the SubSpectralNorm output: its per-channel |mean over frequency|
        for name, (rng, n_freq) in _block_channel_ranges(out, calib, "ssn", reduce_freq=True).items():
            rng = np.maximum(rng, 1e-6 * max(float(rng.max()), 1e-12))
            gains = float(rng.max()) / rng  # the widest channel keeps its range, the others grow to it
            _replace(out, name, ScaledMeanBlock(out.get_submodule(name), gains, n_freq))
            scaled_means += 1
    if form is ExportForm.EQUALIZED_LIFTED:
        norm = getattr(out, "input_norm", None)
        if norm is None or not _is_resnorm(norm):
            raise ValueError(f"export form {form.value} needs a ResNorm on the model input (norm resnorm, freqin or input-only)")
        lifted = (norm.lam, norm.eps)
        out.input_norm = nn.Identity()
    info = FormInfo(form=form, bn_folded=folded, max_abs_diff=0.0, freq_means_scaled=scaled_means,
                    subspectral_equalized=equalized, input_resnorm=lifted)
    with torch.no_grad():
        a = model(torch.from_numpy(check.astype(np.float32))).numpy()
        b = out.eval()(torch.from_numpy(info.prepare(check.astype(np.float32)))).numpy()
    info = dataclasses.replace(info, max_abs_diff=float(np.abs(a - b).max()))
    log.info("export form %s: %d BN folded, %d SSN equalized, %d frequency means scaled, max |dlogit| %.2e",
             form.value, folded, equalized, scaled_means, info.max_abs_diff)
    return out, info
