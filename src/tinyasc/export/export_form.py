"""Export forms of BC-ResNet-ASC: the same function, written for an int8 graph.

* ``fold``: every BatchNorm that follows a convolution is folded into the convolution's
  weights and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``), so the int8 graph holds
  one requantization instead of conv -> MUL -> ADD.
* ``prescale`` (includes ``fold``): each ResNorm gets a per-frequency affine pre-normalization
  taken from calibration data. FreqIN (eq. 1-2) normalizes each frequency by its own mean
  and variance over (C, T), so it is invariant to a per-frequency affine map
  ``x' = (x - m_f) / s_f`` (with ``eps_f = eps / s_f**2``), and the shortcut is rewritten
  ``lambda * x = lambda * s_f * x' + lambda * m_f``. The float function is unchanged (checked),
  but in int8 the variance ``mean(c**2)`` no longer spans the squared dynamic range between
  quiet and loud mel bands in one per-tensor scale: that range is what a plain ResNorm loses.

SubSpectralNorm keeps its reshape form: its sub-band statistics change along frequency, so
it cannot fold into a depthwise conv, and the (1, C, F, 1) multiply-add form converts
silently wrong with onnx2tf (shared toolchain notes).
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

log = logging.getLogger(__name__)


class ExportForm(str, enum.Enum):
    """How the checkpoint's model is rewritten before ONNX export."""

    AS_TRAINED = "as-trained"
    """The module exactly as the checkpoint builds it."""
    FOLD = "fold"
    """BatchNorm folded into the preceding convolution."""
    PRESCALE = "prescale"
    """``fold`` plus per-frequency pre-normalized ResNorm (the int8-friendly form)."""
    TWO_PASS = "two-pass"
    """``fold`` plus every ResNorm's FreqIN computed twice: a coarse pass ``c * rsqrt(var + e1)``
    (``e1`` ~ one int8 step of the variance) compresses the per-(clip, band) variance range,
    and an exact FreqIN of that result follows. FreqIN is invariant to a positive per-(clip,
    band) factor, so the float function is unchanged up to epsilon (checked)."""
    PRESCALE_INPUT = "prescale-input"
    """``prescale`` with the input ResNorm's per-frequency affine lifted out of the graph: the
    int8 input is ``(logmel - mean_f) * inv_std_f`` (arrays in the report and the C header), so
    the input quantization resolves every mel band at the same relative precision. Changes
    the runtime input contract: the front end applies the affine before quantizing."""
    DW_MEAN = "dwmean"
    """``fold`` plus every BC-ResBlock's frequency mean ``mean_f(SSN(freq_dw(h)))`` computed as one
    depthwise (F x 1) convolution of ``h`` (the three are affine and per channel in eval mode),
    scaled per channel by ``a_c`` to equalize the channels' calibrated ranges (``a_c`` is
    divided back out of the temporal depthwise conv). int8 holds one scale per activation
    tensor: with a plain MEAN the quiet channels of the frequency mean get a few levels, and
    the folded temporal BatchNorm then amplifies their rounding error."""


class PrescaledResNorm(nn.Module):
    """``lambda * x + FreqIN(x)`` computed on ``x' = (x - m_f) / s_f`` (identical in float)."""

    def __init__(self, lam: float, eps: float, mean_f: np.ndarray, std_f: np.ndarray, *, affine_in_graph: bool = True):
        super().__init__()
        self.affine_in_graph = affine_in_graph
        m = torch.as_tensor(mean_f, dtype=torch.float32).view(1, 1, -1, 1)
        s = torch.as_tensor(std_f, dtype=torch.float32).view(1, 1, -1, 1)
        self.register_buffer("shift", m)
        self.register_buffer("inv_scale", 1.0 / s)
        self.register_buffer("eps_f", eps / (s * s))
        self.register_buffer("short_scale", lam * s)
        self.register_buffer("short_bias", lam * m)
        self.lam = float(lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xp = (x - self.shift) * self.inv_scale if self.affine_in_graph else x
        mu = xp.mean(dim=(1, 3), keepdim=True)
        c = xp - mu
        var = (c * c).mean(dim=(1, 3), keepdim=True)
        y = c * torch.rsqrt(var + self.eps_f)
        if self.lam != 0.0:
            y = y + (xp * self.short_scale + self.short_bias)
        return y


class TwoPassResNorm(nn.Module):
    """``lambda * x + FreqIN(c * rsqrt(var + coarse_eps))``, ``c = x - mean``: equal to ResNorm in float.

    int8 cannot hold a variance whose range over (clip, band) exceeds 256 steps (measured 0.02
    to 26 at the input of a trained ASC-1): the small variances round to zero and RSQRT saturates.
    The first pass only has to bring each band near unit variance; the second pass is exact.
    """

    def __init__(self, lam: float, eps: float, coarse_eps: float):
        super().__init__()
        self.lam, self.eps, self.coarse_eps = float(lam), float(eps), float(coarse_eps)

    @staticmethod
    def _center_var(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = x - x.mean(dim=(1, 3), keepdim=True)
        return c, (c * c).mean(dim=(1, 3), keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, var = self._center_var(x)
        y1 = c * torch.rsqrt(var + self.coarse_eps)
        c2, var2 = self._center_var(y1)
        y = c2 * torch.rsqrt(var2 + self.eps)
        if self.lam != 0.0:
            y = y + self.lam * x
        return y


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


def _is_bcres_block(m: nn.Module) -> bool:
    return all(hasattr(m, a) for a in ("freq_dw", "ssn", "time_dw", "time_pw", "out_act", "transition"))


@torch.no_grad()
def _freq_mean_ranges(model: nn.Module, x: np.ndarray, q: float = 0.999) -> dict[str, tuple[np.ndarray, int]]:
    """Per-channel |mean over frequency| (quantile ``q``) of every BC-ResBlock's f2, and F."""
    vals: dict[str, list[torch.Tensor]] = {}
    nf: dict[str, int] = {}
    hooks = []
    for name, m in model.named_modules():
        if _is_bcres_block(m):
            def hook(mod, args, out, name=name):
                m_ = out.mean(dim=2)  # (N, C, T): f2 is the SubSpectralNorm output
                vals.setdefault(name, []).append(m_.abs().transpose(0, 1).reshape(m_.shape[1], -1))
                nf[name] = out.shape[2]
            hooks.append(m.ssn.register_forward_hook(hook))
    try:
        for i in range(0, len(x), 16):
            model(torch.from_numpy(np.asarray(x[i : i + 16], dtype=np.float32)))
    finally:
        for h in hooks:
            h.remove()
    return {k: (torch.quantile(torch.cat(v, dim=1), q, dim=1).numpy(), nf[k]) for k, v in vals.items()}


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


@torch.no_grad()
def resnorm_input_stats(model: nn.Module, x: np.ndarray, *, min_std: float = 1e-3) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-frequency mean and std of every ResNorm's input over (N, C, T) of calibration data."""
    sums: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, m in model.named_modules():
        if _is_resnorm(m):
            def hook(mod, args, name=name):
                t = args[0].double()
                s = sums.setdefault(name, [torch.zeros(t.shape[2], dtype=torch.float64)] * 2 + [0])
                s[0] = s[0] + t.sum(dim=(0, 1, 3))
                s[1] = s[1] + (t * t).sum(dim=(0, 1, 3))
                s[2] += t.shape[0] * t.shape[1] * t.shape[3]
            hooks.append(m.register_forward_pre_hook(hook))
    try:
        model.eval()
        for i in range(0, len(x), 16):
            model(torch.from_numpy(np.asarray(x[i : i + 16], dtype=np.float32)))
    finally:
        for h in hooks:
            h.remove()
    out = {}
    for name, (s1, s2, n) in sums.items():
        mean = s1 / n
        std = torch.sqrt(torch.clamp(s2 / n - mean * mean, min=0.0)).clamp_min(min_std)
        out[name] = (mean.float().numpy(), std.float().numpy())
    return out


@torch.no_grad()
def _resnorm_var_range(model: nn.Module, x: np.ndarray) -> dict[str, float]:
    """Largest per-(clip, band) FreqIN variance at every ResNorm over calibration data."""
    out: dict[str, float] = {}
    hooks = []
    for name, m in model.named_modules():
        if _is_resnorm(m):
            def hook(mod, args, name=name):
                t = args[0]
                c = t - t.mean(dim=(1, 3), keepdim=True)
                out[name] = max(out.get(name, 0.0), float((c * c).mean(dim=(1, 3)).max()))
            hooks.append(m.register_forward_pre_hook(hook))
    try:
        for i in range(0, len(x), 16):
            model(torch.from_numpy(np.asarray(x[i : i + 16], dtype=np.float32)))
    finally:
        for h in hooks:
            h.remove()
    return out


@dataclass(frozen=True, kw_only=True)
class FormInfo:
    form: ExportForm
    bn_folded: int
    resnorm_prescaled: int
    max_abs_diff: float
    """Max |logit(export form) - logit(as trained)| on the check clips."""
    freq_means_scaled: int = 0
    """BC-ResBlock frequency means rewritten as channel-equalizing depthwise convs (``dwmean``)."""
    input_mean: np.ndarray | None = None
    """Per-mel-bin mean subtracted before the graph (``prescale-input`` only)."""
    input_inv_std: np.ndarray | None = None
    """Per-mel-bin factor applied after the subtraction (``prescale-input`` only)."""

    def prepare(self, x_nchw: np.ndarray) -> np.ndarray:
        """Features as the exported graph takes them (identity unless the input affine was lifted)."""
        if self.input_mean is None:
            return x_nchw
        return ((x_nchw - self.input_mean[None, None, :, None]) * self.input_inv_std[None, None, :, None]).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        d = {"form": self.form.value, "bn_folded": self.bn_folded, "resnorm_prescaled": self.resnorm_prescaled,
             "max_abs_diff_vs_as_trained": self.max_abs_diff, "freq_means_scaled": self.freq_means_scaled,
             "input_prenorm": None}
        if self.input_mean is not None:
            d["input_prenorm"] = {"formula": "x' = (logmel - mean[f]) * inv_std[f], then int8-quantized",
                                  "mean": self.input_mean.tolist(), "inv_std": self.input_inv_std.tolist()}
        return d


def export_form(model: nn.Module, form: ExportForm, calib: np.ndarray, check: np.ndarray) -> tuple[nn.Module, FormInfo]:
    """Rewrite ``model`` (eval mode) into ``form``; ``calib`` gives ResNorm statistics, ``check`` the equivalence test."""
    model = model.eval()
    out, folded, prescaled, scaled_means = model, 0, 0, 0
    if form is not ExportForm.AS_TRAINED:
        out, folded = fold_batchnorm(model)  # a deep copy: the caller's model stays as trained
    in_mean = in_inv = None
    if form in (ExportForm.PRESCALE, ExportForm.PRESCALE_INPUT):
        stats = resnorm_input_stats(out, calib)
        for name, (mean, std) in stats.items():
            parent_name, _, attr = name.rpartition(".")
            parent = out.get_submodule(parent_name) if parent_name else out
            old = parent.get_submodule(attr)
            lift = form is ExportForm.PRESCALE_INPUT and name == "input_norm"
            setattr(parent, attr, PrescaledResNorm(old.lam, old.eps, mean, std, affine_in_graph=not lift))
            if lift:
                in_mean, in_inv = mean.astype(np.float32), (1.0 / std).astype(np.float32)
            prescaled += 1
        if form is ExportForm.PRESCALE_INPUT and in_mean is None:
            raise ValueError("prescale-input needs a ResNorm named 'input_norm' on the model input")
    if form is ExportForm.TWO_PASS:
        with torch.no_grad():
            calib_vars = _resnorm_var_range(out, calib)
        for name, vmax in calib_vars.items():
            parent_name, _, attr = name.rpartition(".")
            parent = out.get_submodule(parent_name) if parent_name else out
            old = parent.get_submodule(attr)
            # one int8 step of the variance tensor (its calibrated range / 255) as the coarse epsilon
            setattr(parent, attr, TwoPassResNorm(old.lam, old.eps, coarse_eps=max(vmax / 255.0, old.eps)))
            prescaled += 1
    if form is ExportForm.DW_MEAN:
        for name, (rng, n_freq) in _freq_mean_ranges(out, calib).items():
            parent_name, _, attr = name.rpartition(".")
            parent = out.get_submodule(parent_name) if parent_name else out
            rng = np.maximum(rng, 1e-6 * max(float(rng.max()), 1e-12))
            gains = float(rng.max()) / rng  # the widest channel keeps its range, the others grow to it
            setattr(parent, attr, ScaledMeanBlock(parent.get_submodule(attr), gains, n_freq))
            scaled_means += 1
    info = FormInfo(form=form, bn_folded=folded, resnorm_prescaled=prescaled, freq_means_scaled=scaled_means,
                    max_abs_diff=0.0,
                    input_mean=in_mean, input_inv_std=in_inv)
    with torch.no_grad():
        a = model(torch.from_numpy(check.astype(np.float32))).numpy()
        b = out.eval()(torch.from_numpy(info.prepare(check.astype(np.float32)))).numpy()
    diff = float(np.abs(a - b).max())
    info = dataclasses.replace(info, max_abs_diff=diff)
    log.info("export form %s: %d BN folded, %d ResNorm prescaled, max |dlogit| %.2e", form.value, folded, prescaled, diff)
    return out, info
