"""The int8 model: an export form of BC-ResNet-ASC with TFLite's integer scheme emulated at every tensor
its int8 graph holds. QAT trains it, the compressed checkpoint stores it, ``asc-eval`` scores it and the
export writes its quantization parameters into the ``.tflite``: one set of parameters from training to file.

Built in small passes over a ``torch.fx`` graph of the export form (:mod:`tinyasc.model.export_form`):

1. :func:`quantize_convs` — every ``Conv2d`` becomes :class:`QConv2d`: weights symmetric per output
   channel in [-127, 127] (``scale_c = max|w_c| / 127``, zero point 0), pruned zeros held at zero by a
   mask, and the bias rounded to int32 at ``input_scale * weight_scale`` as TFLite stores it;
2. :func:`decompose_silu` — ``SiLU(x)`` as ``x * sigmoid(x)``, the LOGISTIC + MUL the converter writes;
3. :func:`insert_activation_quants` — an :class:`ActQuant` (per-tensor asymmetric int8) after every node
   whose output the int8 graph materializes: the input, each convolution (or the ReLU fused into it), each
   element-wise op (add, sub, mul, rsqrt, the means of FreqIN and the global pool), the sub-band affine.
   Not after view-like nodes (reshape, transpose, max-pool, dropout, identity): TFLite gives their output
   the parameters of their input. LOGISTIC's output is fixed at scale 1/256, zero point -128.
4. :func:`wire_conv_inputs` — each :class:`QConv2d` learns which :class:`ActQuant` quantized its input,
   for its bias scale.

A lifted input ResNorm (``equalized-lifted``) runs in float before the graph (:class:`Int8Model` ``.front``),
as the C front end runs it. Ranges are moving min/max observed in ``train()`` and frozen in ``eval()``.
"""

from __future__ import annotations

import copy
import logging
import operator
from typing import Any, Iterator

import numpy as np
import torch
from torch import fx, nn
from torch.nn import functional as F

from tinyasc.qmath import int8_activation_params

log = logging.getLogger(__name__)

INT8_SCHEMA = "tinyasc-int8-model/1"
"""Version of the ``int8`` section of a compressed checkpoint."""
WEIGHT_QMAX = 127
ACT_QMIN, ACT_QMAX = -128, 127
LOGISTIC_PARAMS = (1.0 / 256.0, -128)
"""TFLite's fixed int8 output parameters of LOGISTIC."""
RANGE_MOMENTUM = 0.01
"""Moving-average constant of the observed min/max (torch's default for activation observers)."""


# --------------------------------------------------------------------------- building blocks


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
        v = v[torch.isfinite(v)]
        if v.numel() == 0:
            return
        lo, hi = v.min().float(), v.max().float()
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

    def weight_scale(self) -> torch.Tensor:
        w = self.conv.weight.detach()
        amax = w.abs().reshape(w.shape[0], -1).amax(dim=1)
        return torch.clamp(amax / WEIGHT_QMAX, min=torch.finfo(torch.float32).eps).float()

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
        requantized per channel with ``multiplier(float32(s_in * s_w[c]) / s_out)``; returns ``MBQM * s_out``
        (the output code minus its zero point, dequantized; the quantizer after it adds the clamp)."""
        c = self.conv
        s_in = self.__dict__["input_quant"].params()[0]
        s_out = self.__dict__["output_quant"].params()[0]
        w_scale = self.weight_scale()
        wq = torch.clamp(torch.round((c.weight * self.mask).double() / w_scale.double().view(-1, 1, 1, 1)), -WEIGHT_QMAX, WEIGHT_QMAX)
        acc = F.conv2d(_codes(x, s_in).double(), wq, None, c.stride, c.padding, c.dilation, c.groups)
        if c.bias is not None:
            b_scale = (torch.tensor(s_in, dtype=torch.float32) * w_scale).double()
            acc = acc + torch.round(self.bias().double() / b_scale).view(1, -1, 1, 1)
        real = (torch.tensor(s_in, dtype=torch.float32) * w_scale.cpu()).double().numpy() / s_out
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


# --------------------------------------------------------------------------- passes


def quantize_convs(model: nn.Module) -> int:
    """Replace every ``Conv2d`` of ``model`` (in place) with a :class:`QConv2d`; returns how many."""
    n = 0
    for name, m in list(model.named_modules()):
        for child_name, child in list(m.named_children()):
            if type(child) is nn.Conv2d:
                setattr(m, child_name, QConv2d(child))
                n += 1
    return n


class _Tracer(fx.Tracer):
    """Leaves: torch.nn's modules, the quantized conv, the quantizer and the sub-band affine (a reshape,
    a depthwise conv and a reshape back: one materialized tensor)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, (QConv2d, ActQuant)) or type(m).__name__ == "SubbandAffine":
            return True
        return super().is_leaf_module(m, qualname)


def trace(model: nn.Module) -> fx.GraphModule:
    return fx.GraphModule(model, _Tracer().trace(model), class_name=type(model).__name__)


def decompose_silu(gm: fx.GraphModule) -> int:
    """``SiLU(x)`` -> ``x * sigmoid(x)`` (LOGISTIC then MUL in the int8 graph); returns how many."""
    n = 0
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and isinstance(gm.get_submodule(node.target), nn.SiLU):
            with gm.graph.inserting_after(node):
                sig = gm.graph.call_function(torch.sigmoid, (node.args[0],))
            with gm.graph.inserting_after(sig):
                mul = gm.graph.call_function(operator.mul, (node.args[0], sig))
            node.replace_all_uses_with(mul)
            gm.graph.erase_node(node)
            n += 1
    gm.graph.lint()
    gm.recompile()
    return n


_PASS_MODULES = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.MaxPool2d)
_PASS_METHODS = frozenset({"reshape", "view", "permute", "transpose", "contiguous", "flatten", "squeeze", "unsqueeze", "size"})
_PASS_FUNCTIONS = frozenset({torch.reshape, torch.flatten, torch.permute, torch.transpose, torch.squeeze, torch.unsqueeze,
                             operator.getitem, getattr})
_RELU_FUNCTIONS = frozenset({torch.relu, F.relu})
_SIGMOID_FUNCTIONS = frozenset({torch.sigmoid, F.sigmoid})


def _is_passthrough(gm: fx.GraphModule, node: fx.Node) -> bool:
    """A node whose int8 output carries its input's parameters (no requantization)."""
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), _PASS_MODULES)
    if node.op == "call_method":
        return node.target in _PASS_METHODS
    if node.op == "call_function":
        return node.target in _PASS_FUNCTIONS
    return False


def _is_relu(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), nn.ReLU)
    return node.op == "call_function" and node.target in _RELU_FUNCTIONS


def _fuses_relu(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Whether ``node`` is a conv or an add/sub whose only consumer (through pass-through nodes) is a ReLU:
    the converter fuses the ReLU into it, so only the ReLU's output is a tensor."""
    fusable = (node.op == "call_module" and isinstance(gm.get_submodule(node.target), QConv2d)) or (
        node.op == "call_function" and node.target in (operator.add, torch.add, operator.sub, torch.sub))
    users = list(node.users)
    while fusable and len(users) == 1 and _is_passthrough(gm, users[0]) and not (
            users[0].op == "call_module" and isinstance(gm.get_submodule(users[0].target), nn.MaxPool2d)):
        users = list(users[0].users)
    return fusable and len(users) == 1 and _is_relu(gm, users[0])


def _is_float_tensor(node: fx.Node) -> bool:
    return node.op not in ("output", "get_attr") and not (node.op == "call_method" and node.target == "size") and not (
        node.op == "call_function" and node.target is getattr)


def insert_activation_quants(gm: fx.GraphModule) -> int:
    """An :class:`ActQuant` after every node whose output the int8 graph materializes; returns how many."""
    n = 0
    for node in list(gm.graph.nodes):
        if not _is_float_tensor(node) or _is_passthrough(gm, node) or _fuses_relu(gm, node):
            continue
        fixed = LOGISTIC_PARAMS if node.op == "call_function" and node.target in _SIGMOID_FUNCTIONS else None
        name = f"aq_{n:03d}_{node.name}"
        gm.add_submodule(name, ActQuant(fixed=fixed))
        with gm.graph.inserting_after(node):
            q = gm.graph.call_module(name, (node,))
        node.replace_all_uses_with(q, delete_user_cb=lambda u, q=q: u is not q)
        n += 1
    gm.graph.lint()
    gm.recompile()
    return n


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


def _consumer_quant(gm: fx.GraphModule, node: fx.Node) -> ActQuant | None:
    """The quantizer of ``node``'s output: its only user, or the one after a fused ReLU."""
    users = list(node.users)
    while len(users) == 1 and (_is_relu(gm, users[0]) or (_is_passthrough(gm, users[0]) and not (
            users[0].op == "call_module" and isinstance(gm.get_submodule(users[0].target), nn.MaxPool2d)))):
        users = list(users[0].users)
    if len(users) == 1 and users[0].op == "call_module" and isinstance(gm.get_submodule(users[0].target), ActQuant):
        return gm.get_submodule(users[0].target)
    return None


def integer_kernels(gm: fx.GraphModule) -> int:
    """Every add/mul of two quantized tensors as a :class:`QElementwise` and every mean of one as a :class:`QMean`
    (TFLite's integer kernels in evaluation); returns how many."""
    n = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or node.target not in (operator.add, operator.mul, torch.add, torch.mul):
            continue
        if len(node.args) != 2 or not all(isinstance(a, fx.Node) for a in node.args):
            continue
        ins = [_producer_quant(gm, a) for a in node.args]
        out = _consumer_quant(gm, node)
        if any(q is None for q in ins) or out is None:
            continue
        mod = QElementwise("add" if node.target in (operator.add, torch.add) else "mul")
        mod.__dict__["quants"] = (ins[0], ins[1], out)
        _replace_with_module(gm, node, f"int_{n:03d}_{node.name}", mod, tuple(node.args))
        n += 1
    for node in list(gm.graph.nodes):  # RSQRT: TFLM's answer for a zero input
        if node.op != "call_function" or node.target is not torch.rsqrt or not isinstance(node.args[0], fx.Node):
            continue
        mod = QRsqrt()
        mod.__dict__["quants"] = (_producer_quant(gm, node.args[0]), _consumer_quant(gm, node))
        _replace_with_module(gm, node, f"int_{n:03d}_{node.name}", mod, (node.args[0],))
        n += 1
    for node in list(gm.graph.nodes):  # MEAN over constant axes of a quantized tensor
        if node.op != "call_method" or node.target != "mean" or not isinstance(node.args[0], fx.Node):
            continue
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        dims = (dims,) if isinstance(dims, int) else dims
        keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
        q_in, q_out = _producer_quant(gm, node.args[0]), _consumer_quant(gm, node)
        if not isinstance(dims, (tuple, list)) or q_in is None or q_out is None:
            continue
        mod = QMean(tuple(dims), bool(keepdim))
        mod.__dict__["quants"] = (q_in, q_out)
        _replace_with_module(gm, node, f"int_{n:03d}_{node.name}", mod, (node.args[0],))
        n += 1
    gm.graph.lint()
    gm.recompile()
    return n


def _replace_with_module(gm: fx.GraphModule, node: fx.Node, name: str, mod: nn.Module, args: tuple) -> None:
    """``node`` replaced by a call of the new submodule ``name`` on ``args``."""
    gm.add_submodule(name, mod)
    with gm.graph.inserting_after(node):
        new = gm.graph.call_module(name, args)
    node.replace_all_uses_with(new)
    gm.graph.erase_node(node)


def _producer_quant(gm: fx.GraphModule, node: fx.Node) -> ActQuant | None:
    while True:
        if node.op == "call_module" and isinstance(gm.get_submodule(node.target), ActQuant):
            return gm.get_submodule(node.target)
        if not _is_passthrough(gm, node) or not node.args or not isinstance(node.args[0], fx.Node):
            return None
        node = node.args[0]


def wire_conv_inputs(gm: fx.GraphModule) -> int:
    """Point every :class:`QConv2d` (also the one inside a sub-band affine) at its input's :class:`ActQuant`."""
    n = 0
    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        m = gm.get_submodule(node.target)
        convs = [m] if isinstance(m, QConv2d) else [c for c in m.modules() if isinstance(c, QConv2d)] if type(m).__name__ == "SubbandAffine" else []
        for conv in convs:
            aq = _producer_quant(gm, node.args[0])
            if aq is None:
                raise ValueError(f"convolution {node.target} reads a tensor with no int8 quantizer")
            conv.__dict__["input_quant"] = aq
            conv.__dict__["output_quant"] = _consumer_quant(gm, node)
            n += 1
    return n


def _freeze_resnorm_lambdas(model: nn.Module) -> None:
    from tinyasc.model.norm import ResNorm

    for name, m in list(model.named_modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, ResNorm) and child.learnable:
                setattr(m, child_name, ResNorm(child.lam, child.eps))


# --------------------------------------------------------------------------- the model


class Int8Model(nn.Module):
    """The integer simulation of one int8 graph: ``graph(front(x))`` on (N, 1, F, T) log-mel.

    ``front`` is the lifted input ResNorm (float, as the C front end computes it) or identity;
    ``graph`` the fx graph of the export form with every materialized tensor quantized.
    """

    def __init__(self, export_model: nn.Module, *, input_resnorm: tuple[float, float] | None):
        super().__init__()
        from tinyasc.model.norm import ResNorm

        body = copy.deepcopy(export_model).eval()
        _freeze_resnorm_lambdas(body)
        self.n_convs = quantize_convs(body)
        gm = trace(body)
        self.n_silu = decompose_silu(gm)
        self.n_points = insert_activation_quants(gm)
        input_nodes = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(input_nodes) != 1 or not any(u.op == "call_module" and isinstance(gm.get_submodule(u.target), ActQuant)
                                            for u in input_nodes[0].users):
            raise ValueError("the export form must take one input tensor")
        wire_conv_inputs(gm)
        self.n_integer_ops = integer_kernels(gm)
        self.graph = gm
        self.input_resnorm = None if input_resnorm is None else (float(input_resnorm[0]), float(input_resnorm[1]))
        self.front = nn.Identity() if input_resnorm is None else ResNorm(*self.input_resnorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(self.front(x))

    # ---- views
    def points(self) -> dict[str, ActQuant]:
        """Quantized tensors by name, in graph order."""
        return {n.target: self.graph.get_submodule(n.target) for n in self.graph.graph.nodes
                if n.op == "call_module" and isinstance(self.graph.get_submodule(n.target), ActQuant)}

    def convs(self) -> dict[str, QConv2d]:
        return {name: m for name, m in self.graph.named_modules() if isinstance(m, QConv2d)}

    def input_point(self) -> str:
        placeholder = next(n for n in self.graph.graph.nodes if n.op == "placeholder")
        return next(u.target for u in placeholder.users if u.op == "call_module")

    def output_point(self) -> str:
        out = next(n for n in self.graph.graph.nodes if n.op == "output")
        node = out.args[0]
        while not (node.op == "call_module" and isinstance(self.graph.get_submodule(node.target), ActQuant)):
            node = node.args[0]
        return node.target

    def params(self) -> dict[str, tuple[float, int]]:
        return {k: aq.params() for k, aq in self.points().items() if aq.ready}

    def point_convs(self) -> dict[str, QConv2d]:
        """Quantizer -> the convolution whose output it quantizes (through a fused ReLU; the sub-band affine's
        inner conv), for every quantizer that follows one."""
        out = {}
        gm = self.graph
        for node in gm.graph.nodes:
            if not (node.op == "call_module" and isinstance(gm.get_submodule(node.target), ActQuant)):
                continue
            src = node.args[0]
            if _is_relu(gm, src):
                src = src.args[0]
                while _is_passthrough(gm, src):
                    src = src.args[0]
            if src.op != "call_module":
                continue
            m = gm.get_submodule(src.target)
            if isinstance(m, QConv2d):
                out[node.target] = m
            elif type(m).__name__ == "SubbandAffine":
                inner = [c for c in m.modules() if isinstance(c, QConv2d)]
                if len(inner) == 1:
                    out[node.target] = inner[0]
        return out

    def unobserved(self) -> list[str]:
        return [k for k, aq in self.points().items() if not aq.ready]

    # ---- modes
    def _modules_with_flags(self) -> Iterator[nn.Module]:
        for m in self.graph.modules():
            if isinstance(m, (ActQuant, QConv2d, QElementwise, QMean, QRsqrt)):
                yield m

    def set_quantize(self, enabled: bool) -> None:
        """Integer simulation on (True) or the same network in float (False)."""
        for m in self._modules_with_flags():
            m.quantize = bool(enabled)

    def set_integer(self, enabled: bool) -> None:
        """Evaluation with TFLite's integer kernels (True, default) or with float fake quantization (False: what
        training computes)."""
        for m in self._modules_with_flags():
            if hasattr(m, "integer"):
                m.integer = bool(enabled)

    def set_observe(self, enabled: bool) -> None:
        for m in self.points().values():
            m.observe = bool(enabled)

    @torch.no_grad()
    def calibrate(self, batches) -> int:
        """Observe every range on ``batches`` in float (no rounding), BN-free export form: train mode is safe
        except for dropout, which is switched off here."""
        self.set_quantize(False)
        self.eval()
        for aq in self.points().values():
            aq.train()
        n = 0
        for x in batches:
            self(x)
            n += 1
        self.set_quantize(True)
        self.eval()
        return n

    @torch.no_grad()
    def float_graph(self) -> nn.Module:
        """The export form that the converter takes: the graph with every conv baked onto its int8 grid
        (:meth:`QConv2d.baked`) and the quantizers removed (identity). Input: the graph input (lifted front applied)."""
        gm = copy.deepcopy(self.graph)
        for name, m in list(gm.named_modules()):
            if isinstance(m, QConv2d):
                _set(gm, name, m.baked())
        for name in [n for n, m in gm.named_modules() if isinstance(m, ActQuant)]:
            _set(gm, name, nn.Identity())
        for name, m in [(n, m) for n, m in gm.named_modules() if isinstance(m, QElementwise)]:
            _set(gm, name, FloatElementwise(m.op))
        for name, m in [(n, m) for n, m in gm.named_modules() if isinstance(m, QMean)]:
            _set(gm, name, FloatMean(m.dims, m.keepdim))
        for name in [n for n, m in gm.named_modules() if isinstance(m, QRsqrt)]:
            _set(gm, name, FloatRsqrt())
        return gm.eval()

    # ---- checkpoint section
    def section(self, form: dict[str, Any]) -> dict[str, Any]:
        """The ``int8`` section of a compressed checkpoint: the form that rebuilds the skeleton, the weights and
        the quantization parameters (also readable without torch)."""
        return {
            "schema": INT8_SCHEMA,
            "form": form,
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
            "points": {k: {"scale": s, "zero_point": z, **({} if self.points()[k].fixed is None else {"fixed": True})}
                       for k, (s, z) in self.params().items()},
            "input_point": self.input_point(),
            "output_point": self.output_point(),
            "weight_scheme": "int8 symmetric per output channel, q in [-127, 127], zero point 0; int32 bias at s_in * s_w",
            "activation_scheme": "int8 asymmetric per tensor, q in [-128, 127]; LOGISTIC output 1/256, -128",
        }


def _set(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, new)


def capture_point_inputs(model: Int8Model, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Float values entering every quantizer on ``x``: activations unrounded, convolutions on their int8 grid,
    i.e. the tensors of the float graph the converter takes (:meth:`Int8Model.float_graph`)."""
    out: dict[str, np.ndarray] = {}
    points = model.points()
    hooks = [aq.register_forward_pre_hook(lambda m, a, k=k: out.__setitem__(k, a[0].detach().numpy().copy()))
             for k, aq in points.items()]
    was = {k: aq.quantize for k, aq in points.items()}
    try:
        for aq in points.values():
            aq.quantize = False
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
        for k, aq in points.items():
            aq.quantize = was[k]
    return out


# --------------------------------------------------------------------------- checkpoint


def int8_from_checkpoint(ckpt: Any, path: Any = None) -> Int8Model:
    """The int8 model of a compressed checkpoint (its ``int8`` section), checked against its recorded parameters.

    The skeleton is rebuilt from the plain architecture and the recorded export form, then the int8 model's
    weights and ranges are loaded strictly. A section from another export form, a tensor without recorded
    parameters, or parameters that the weights do not reproduce raise :class:`tinyasc.errors.InputError`
    naming ``path`` (and the tensor).
    """
    from tinyasc.errors import InputError
    from tinyasc.model.checkpoint import from_checkpoint
    from tinyasc.model.export_form import ExportForm, export_form

    sec = ckpt.int8
    if not isinstance(sec, dict) or sec.get("schema") != INT8_SCHEMA:
        raise InputError(path, f"int8 section missing or not {INT8_SCHEMA}")
    try:
        form = ExportForm(sec["form"]["form"])
        lifted = sec["form"].get("input_resnorm")
        lifted = None if lifted is None else (float(lifted["lambda"]), float(lifted["eps"]))
        state, points = sec["state_dict"], sec["points"]
        if not isinstance(state, dict) or not isinstance(points, dict):
            raise TypeError("state_dict and points must be mappings")
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"int8 section incomplete ({exc})") from None
    plain = from_checkpoint(ckpt, path=path)
    n_mels = ckpt.feature_config.n_mels
    probe = np.random.default_rng(0).standard_normal((2, 1, n_mels, 64)).astype(np.float32)
    try:
        em, _ = export_form(plain, form, probe, probe[:1])
        model = Int8Model(em, input_resnorm=lifted)
    except ValueError as exc:
        raise InputError(path, f"cannot rebuild the int8 model's export form {form.value} ({exc})") from None
    missing = [k for k in model.points() if k not in points]
    if missing:
        raise InputError(path, f"tensor {missing[0]!r} of the int8 graph has no recorded scale "
                               f"(a checkpoint from another export form?)")
    extra = [k for k in points if k not in model.points()]
    if extra:
        raise InputError(path, f"recorded scale for {extra[0]!r}, which the {form.value} int8 graph does not have")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise InputError(path, f"int8 weights do not fit the {form.value} graph ({detail[min(1, len(detail) - 1)]})") from None
    for k, aq in model.points().items():
        rec = points[k]
        got = aq.params()
        if not aq.ready or abs(got[0] - float(rec["scale"])) > 1e-6 * abs(got[0]) or got[1] != int(rec["zero_point"]):
            raise InputError(path, f"tensor {k!r}: recorded scale {rec.get('scale')}, zero point {rec.get('zero_point')} "
                                   f"but its range gives {got}")
    return model.eval()
