"""The building blocks of the int8 model (:mod:`tinyasc.model.int8`): TFLite's int8 arithmetic in PyTorch.

* :class:`ActQuant` — per-tensor asymmetric int8 fake quantization of one activation (observed range, TFLite's
  zero-point rule from :func:`tinyasc.qmath.int8_activation_params`, rounding half away from zero);
* :class:`QConv2d` — a conv with int8 per-channel weights, pruned zeros held by a mask, an int32 bias;
* :class:`QElementwise`, :class:`QMean`, :class:`QRsqrt` — add/mul, mean and rsqrt of quantized tensors.

Training runs each in float with fake quantization (straight-through gradients). Evaluation runs conv, depthwise,
add, mul and mean as TensorFlow Lite Micro's integer kernels compute them (:func:`multiply_by_quantized_multiplier`
with TFLite's multipliers and two roundings), so the simulation is the file, op for op. ``Float*`` are the plain ops
each stands for in the graph the converter takes.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tinyasc.qmath import XNNPACK_MAX_REQUANT_SCALE, int8_activation_params

WEIGHT_QMAX = 127
ACT_QMIN, ACT_QMAX = -128, 127
LOGISTIC_PARAMS = (1.0 / 256.0, -128)
"""TFLite's fixed int8 output parameters of LOGISTIC."""
RANGE_MOMENTUM = 0.01
"""Moving-average constant of the observed min/max (torch's default for activation observers)."""


def round_away(v: torch.Tensor) -> torch.Tensor:
    """Round half away from zero (TFLite's requantization rounds so; ``torch.round`` rounds half to even)."""
    return torch.sign(v) * torch.floor(v.abs() + 0.5)


def fake_quantize_away(x: torch.Tensor, scale: float, zero_point: int) -> torch.Tensor:
    """``(clamp(round_away(x / scale) + zp, -128, 127) - zp) * scale`` with the straight-through gradient
    (1 inside the representable range, 0 outside), as ``torch.fake_quantize_per_tensor_affine``."""
    v = x / scale
    q = round_away(v.detach()) + zero_point
    inside = (q >= ACT_QMIN) & (q <= ACT_QMAX)
    y = (torch.clamp(q, ACT_QMIN, ACT_QMAX) - zero_point) * scale
    return y.detach() + (x - x.detach()) * inside


def _quantize_multiplier(real: float) -> tuple[int, int]:
    from tinyasc.qmath import quantize_multiplier

    return quantize_multiplier(real)


def multiply_by_quantized_multiplier(x: torch.Tensor, multiplier: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """TFLite's ``MultiplyByQuantizedMultiplier`` on int64 tensors (broadcasting per-channel ``multiplier``/``shift``):
    ``x * 2^max(shift, 0)``, the rounding doubling high multiply by ``multiplier`` (Q31), then a rounding right shift
    by ``max(-shift, 0)`` (half away from zero). Two roundings: a value within ``2^-(right shift + 1)`` of a tie can
    round the other way than ``round(x * real)``, which is why the simulation does not take the exact product."""
    left = torch.clamp(shift, min=0)
    right = torch.clamp(-shift, min=0)
    ab = (x * (2 ** left)) * multiplier
    nudge = torch.where(ab >= 0, torch.full_like(ab, 1 << 30), torch.full_like(ab, 1 - (1 << 30)))
    high = torch.div(ab + nudge, 1 << 31, rounding_mode="trunc")
    mask = (2 ** right) - 1
    remainder = torch.bitwise_and(high, mask)
    threshold = (mask >> 1) + (high < 0).to(torch.int64)
    return (high >> right) + (remainder > threshold).to(torch.int64)


def _codes(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Integer codes minus the zero point of a tensor already on its grid ``(q - zp) * scale``."""
    return torch.round(x.double() / scale).to(torch.int64)


class ActQuant(nn.Module):
    """Per-tensor asymmetric int8 fake quantization of one activation (TFLite's activation scheme).

    ``lo``/``hi`` are the observed range (first batch: its min/max, then a moving average), the
    parameters :func:`tinyasc.qmath.int8_activation_params` of it. ``fixed`` parameters (LOGISTIC's
    output) never move. Python flags, not state: ``quantize`` (round, or pass through in float) and
    ``observe`` (update the range in ``train()``).
    """

    def __init__(self, *, fixed: tuple[float, int] | None = None):
        super().__init__()
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))
        self.register_buffer("observed", torch.zeros((), dtype=torch.uint8))
        self.fixed = fixed
        self.quantize = True
        self.observe = True

    @torch.no_grad()
    def _update(self, x: torch.Tensor) -> None:
        v = x.detach()
        if v.numel() == 0:
            return
        lo, hi = torch.aminmax(v)
        if not bool(torch.isfinite(lo) & torch.isfinite(hi)):  # rare: drop the non-finite values (a copy)
            v = v[torch.isfinite(v)]
            if v.numel() == 0:
                return
            lo, hi = torch.aminmax(v)
        lo, hi = lo.float(), hi.float()
        if not bool(self.observed):
            self.lo.copy_(lo)
            self.hi.copy_(hi)
            self.observed.fill_(1)
        else:
            self.lo.add_(RANGE_MOMENTUM * (lo - self.lo))
            self.hi.add_(RANGE_MOMENTUM * (hi - self.hi))

    @property
    def ready(self) -> bool:
        return self.fixed is not None or bool(self.observed)

    def params(self) -> tuple[float, int]:
        """``(scale, zero_point)`` the int8 file holds for this tensor."""
        if self.fixed is not None:
            return self.fixed
        return int8_activation_params(float(self.lo), float(self.hi))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.observe and self.fixed is None:
            self._update(x)
        if not self.quantize or not self.ready:
            return x
        scale, zp = self.params()
        if self.training:
            # One fused kernel (rounds half to even; a tie is a measure-zero event in training). Evaluation rounds
            # half away from zero, as TFLite does, because there a tie is real (SUB of two codes at half a step).
            return torch.fake_quantize_per_tensor_affine(x, scale, int(zp), ACT_QMIN, ACT_QMAX)
        return fake_quantize_away(x, scale, zp)

    def extra_repr(self) -> str:
        if not self.ready:
            return "unobserved"
        s, z = self.params()
        return f"scale={s:.4g}, zero_point={z}" + (" (fixed)" if self.fixed is not None else "")


class QConv2d(nn.Module):
    """A ``Conv2d`` as TFLite's int8 kernel sees it: int8 per-channel weights, int32 bias, pruned zeros kept.

    ``conv`` keeps the float weights that training updates; ``mask`` (1 where a weight may be non-zero)
    holds pruned weights at exactly zero. The bias is rounded to a multiple of ``s_in * s_w[c]`` (the
    int32 bias TFLite stores), ``s_in`` from the :class:`ActQuant` of the input (:func:`wire_conv_inputs`).
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv
        self.register_buffer("mask", (conv.weight.detach() != 0).to(conv.weight.dtype))
        self.quantize = True
        self.integer = True
        self.__dict__["input_quant"] = None  # a reference, not a submodule (it belongs to the graph)
        self.__dict__["output_quant"] = None

    DEAD_BIAS_CODE = float(1 << 24)
    """An all-zero output channel (a pruned-away filter) computes its bias alone, and any weight scale codes its
    zeros: it takes the one that puts its bias at +-2^24 codes, exact to 2^-24 and far inside int32 (``max|w|/127``
    would be float eps there, and the bias would overflow int32 at ``s_in * eps``)."""

    MAX_REQUANT_SCALE = XNNPACK_MAX_REQUANT_SCALE / 2
    """The largest ``s_in * s_w[c] / s_out`` a live channel gets: its weight scale is capped there (weights beyond
    127 codes clip, and QAT trains with the clipped ones), half XNNPACK's bound so the file's float32 scales cannot
    round across it. At that ratio one accumulator unit already moves the output by 128 steps, so the cap only
    touches a channel whose output is a sign (a frequency mean lifted by a large gain on an almost-zero channel,
    :class:`tinyasc.model.export_form.ScaledMeanBlock`), and the file loads under LiteRT's default delegate."""

    def weight_scale(self) -> torch.Tensor:
        w = (self.conv.weight * self.mask).detach()
        amax = w.abs().reshape(w.shape[0], -1).amax(dim=1)
        scale = torch.clamp(amax / WEIGHT_QMAX, min=torch.finfo(torch.float32).eps).float()
        b, aq = self.conv.bias, self.__dict__["input_quant"]
        aq_out = self.__dict__["output_quant"]
        if aq is not None and aq.ready and aq_out is not None and aq_out.ready:
            cap = float(self.MAX_REQUANT_SCALE * np.float32(aq_out.params()[0]) / np.float32(aq.params()[0]))
            scale = torch.where((amax > 0) & (scale > cap), scale.new_tensor(cap), scale)
        dead = amax == 0
        if b is not None and aq is not None and aq.ready and bool(dead.any()):
            s_in = float(np.float32(aq.params()[0]))
            dead_scale = (b.detach().abs().double() / (s_in * self.DEAD_BIAS_CODE)).float()
            scale = torch.where(dead, torch.clamp(dead_scale, min=torch.finfo(torch.float32).eps), scale)
        return scale

    def weight(self) -> torch.Tensor:
        w = self.conv.weight * self.mask
        if not self.quantize:
            return w
        zp = torch.zeros(w.shape[0], dtype=torch.int32, device=w.device)
        return torch.fake_quantize_per_channel_affine(w, self.weight_scale(), zp, 0, -WEIGHT_QMAX, WEIGHT_QMAX)

    def bias(self) -> torch.Tensor | None:
        b = self.conv.bias
        aq = self.__dict__["input_quant"]
        if b is None or not self.quantize or aq is None or not aq.ready:
            return b
        s = (torch.tensor(aq.params()[0], dtype=torch.float64) * self.weight_scale().double()).float()
        return b + (torch.round(b.detach() / s) * s - b.detach())

    def bias_codes(self) -> torch.Tensor | None:
        """The int32 bias TFLite stores (None without a bias or an observed input)."""
        b, aq = self.conv.bias, self.__dict__["input_quant"]
        if b is None or aq is None or not aq.ready:
            return None
        s = (torch.tensor(aq.params()[0], dtype=torch.float64) * self.weight_scale().double()).float()
        return torch.round(b.detach() / s).to(torch.int64)

    def _integer_ready(self) -> bool:
        aq_in, aq_out = self.__dict__["input_quant"], self.__dict__["output_quant"]
        return (self.quantize and self.integer and not self.training and aq_in is not None and aq_in.ready
                and aq_in.quantize and aq_out is not None and aq_out.ready)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        if self._integer_ready():
            return self._integer_forward(x)
        return F.conv2d(x, self.weight(), self.bias(), c.stride, c.padding, c.dilation, c.groups)

    @torch.no_grad()
    def _integer_forward(self, x: torch.Tensor) -> torch.Tensor:
        """TFLite's int8 convolution: exact int32 accumulation of (input code - zero point) x weight code + int32 bias,
        requantized per channel with ``multiplier(s_in * s_w[c] / s_out)`` (the file's float32 scales, in double, as
        TFLite Micro computes it; the int32 bias is at ``float32(s_in * s_w[c])``); returns ``MBQM * s_out``
        (the output code minus its zero point, dequantized; the quantizer after it adds the clamp)."""
        c = self.conv
        s_in = self.__dict__["input_quant"].params()[0]
        s_out = self.__dict__["output_quant"].params()[0]
        w_scale = self.weight_scale()
        wq = torch.clamp(torch.round((c.weight * self.mask).double() / w_scale.double().view(-1, 1, 1, 1)), -WEIGHT_QMAX, WEIGHT_QMAX)
        codes = _codes(x, s_in)
        # Every partial sum of int8 codes x int8 weights is an integer; float32 holds them exactly below 2^24
        # (|code - zp| <= 255, |w| <= 127), and its convolution is many times faster than float64's.
        fan_in = wq[0].numel()
        exact32 = 255 * WEIGHT_QMAX * fan_in < (1 << 24)
        dtype = torch.float32 if exact32 else torch.float64
        acc = F.conv2d(codes.to(dtype), wq.to(dtype), None, c.stride, c.padding, c.dilation, c.groups).double()
        if c.bias is not None:
            b_scale = (torch.tensor(s_in, dtype=torch.float32) * w_scale).double()
            acc = acc + torch.round(self.bias().double() / b_scale).view(1, -1, 1, 1)
        # TFLite Micro's multiplier (kernel_util's PopulateConvolutionQuantizationParams): the file's float32 scales
        # multiplied and divided in double
        real = (float(np.float32(s_in)) * w_scale.cpu().double().numpy()) / float(np.float32(s_out))
        ms = [_quantize_multiplier(float(r)) for r in real]
        m = torch.tensor([a for a, _ in ms], dtype=torch.int64, device=acc.device).view(1, -1, 1, 1)
        sh = torch.tensor([b for _, b in ms], dtype=torch.int64, device=acc.device).view(1, -1, 1, 1)
        return (multiply_by_quantized_multiplier(acc.round().to(torch.int64), m, sh).double() * s_out).float()

    @torch.no_grad()
    def baked(self) -> nn.Conv2d:
        """The plain ``Conv2d`` holding exactly what the int8 file holds (weights on their grid, bias rounded)."""
        out = copy.deepcopy(self.conv)
        out.weight.copy_(self.weight())
        if out.bias is not None:
            out.bias.copy_(self.bias())
        return out


class QElementwise(nn.Module):
    """An int8 ADD or MUL of two quantized tensors. Training: the float op (the quantizer after it rounds).
    Evaluation: TFLite's integer kernel (``reference_integer_ops``): MUL requantizes the product of the codes with
    ``multiplier(s1 s2 / s_out)``; ADD rescales both codes (shifted left by 20) to twice the larger input scale,
    sums and requantizes. Returns the output code minus its zero point, dequantized (the quantizer clamps)."""

    ADD_LEFT_SHIFT = 20

    def __init__(self, op: str):
        super().__init__()
        if op not in ("add", "mul"):
            raise ValueError(op)
        self.op = op
        self.quantize = True
        self.integer = True
        self.__dict__["quants"] = None  # (input 1, input 2, output) ActQuant references

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        q = self.__dict__["quants"]
        if not (self.quantize and self.integer and not self.training and q is not None and all(x.ready for x in q)
                and q[0].quantize and q[1].quantize):
            return a + b if self.op == "add" else a * b
        return self._integer(a, b, *(x.params()[0] for x in q))

    @torch.no_grad()
    def _integer(self, a: torch.Tensor, b: torch.Tensor, s1: float, s2: float, so: float) -> torch.Tensor:
        qa, qb = _codes(a, s1), _codes(b, s2)
        f32 = lambda v: float(np.float32(v))  # noqa: E731  (TFLite keeps scales in float32, computes in double)
        if self.op == "mul":
            m, sh = _quantize_multiplier(f32(s1) * f32(s2) / f32(so))
            out = multiply_by_quantized_multiplier(qa * qb, torch.tensor(m, device=qa.device), torch.tensor(sh, device=qa.device))
        else:
            twice_max = 2.0 * max(f32(s1), f32(s2))
            m1, sh1 = _quantize_multiplier(f32(s1) / twice_max)
            m2, sh2 = _quantize_multiplier(f32(s2) / twice_max)
            mo, sho = _quantize_multiplier(twice_max / ((1 << self.ADD_LEFT_SHIFT) * f32(so)))
            t = lambda v: torch.tensor(v, device=qa.device)  # noqa: E731
            sa = multiply_by_quantized_multiplier(qa * (1 << self.ADD_LEFT_SHIFT), t(m1), t(sh1))
            sb = multiply_by_quantized_multiplier(qb * (1 << self.ADD_LEFT_SHIFT), t(m2), t(sh2))
            out = multiply_by_quantized_multiplier(sa + sb, t(mo), t(sho))
        return (out.double() * so).float()

    def extra_repr(self) -> str:
        return self.op


class QMean(nn.Module):
    """An int8 MEAN over ``dims``. Training: the float mean. Evaluation: TFLM's ``QuantizedMeanOrSum``: the int32 sum
    of (code - zero point) requantized with :func:`tinyasc.qmath.mean_multiplier` (1/n folded into the multiplier)."""

    def __init__(self, dims: tuple[int, ...], keepdim: bool):
        super().__init__()
        self.dims, self.keepdim = tuple(int(d) for d in dims), bool(keepdim)
        self.quantize = True
        self.integer = True
        self.__dict__["quants"] = None  # (input, output) ActQuant references

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.__dict__["quants"]
        if not (self.quantize and self.integer and not self.training and q is not None and all(a.ready for a in q)
                and q[0].quantize):
            return x.mean(dim=self.dims, keepdim=self.keepdim)
        return self._integer(x, q[0].params()[0], q[1].params()[0])

    @torch.no_grad()
    def _integer(self, x: torch.Tensor, s_in: float, s_out: float) -> torch.Tensor:
        from tinyasc.qmath import mean_multiplier

        n = 1
        for d in self.dims:
            n *= x.shape[d]
        total = _codes(x, s_in).sum(dim=self.dims, keepdim=self.keepdim)
        m, sh = mean_multiplier(float(np.float32(s_in)), float(np.float32(s_out)), n)
        out = multiply_by_quantized_multiplier(total, torch.tensor(m, device=x.device), torch.tensor(sh, device=x.device))
        return (out.double() * s_out).float()

    def extra_repr(self) -> str:
        return f"dims={self.dims}, keepdim={self.keepdim}"


class FloatElementwise(nn.Module):
    """The float add or mul a :class:`QElementwise` stands for (in the graph the converter takes)."""

    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b if self.op == "add" else a * b


class QRsqrt(nn.Module):
    """``rsqrt`` of a quantized tensor as TFLite Micro's int8 RSQRT treats a zero input: the largest output code
    (its kernel returns 127 for a zero value; float rsqrt would give inf, and inf poisons training). Elsewhere the
    float rsqrt (rounded by the quantizer after it). A band of FreqIN whose variance rounds to zero is common: its
    int8 range starts at 0 and a variance under half a step is coded 0. Training: zero inputs take the output
    quantizer's current maximum (or the batch's largest finite value before it has one), gradient 0 there."""

    TINY = 1e-30

    def __init__(self):
        super().__init__()
        self.quantize = True
        self.__dict__["quants"] = None  # (input, output) ActQuant references

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        zero = x <= 0
        y = torch.rsqrt(torch.clamp(x, min=self.TINY))
        if not bool(zero.any()):
            return y
        q = self.__dict__["quants"]
        out = q[1] if q is not None else None
        if out is not None and out.ready and self.quantize and out.quantize:
            s, zp = out.params()
            top = torch.tensor((ACT_QMAX - zp) * s, dtype=y.dtype, device=y.device)
        else:
            finite = y[~zero]
            top = (finite.max() if finite.numel() else torch.ones((), dtype=y.dtype, device=y.device)).detach()
        return torch.where(zero, top.expand_as(y), y)


class FloatRsqrt(nn.Module):
    """The plain rsqrt a :class:`QRsqrt` stands for (in the graph the converter takes)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.rsqrt(x)


class FloatMean(nn.Module):
    """The float mean a :class:`QMean` stands for (in the graph the converter takes)."""

    def __init__(self, dims: tuple[int, ...], keepdim: bool):
        super().__init__()
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims, keepdim=self.keepdim)
