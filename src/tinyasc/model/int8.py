"""The int8 model: an export form of BC-ResNet-ASC with TFLite's integer scheme at every tensor its int8 graph
holds. QAT trains it, the compressed checkpoint stores it (its ``int8`` section), ``asc-eval`` scores it and the
export writes its quantization parameters, weights and biases into the ``.tflite``: one set of parameters from
training to file.

Built by the passes of :mod:`tinyasc.model.int8_passes` from the blocks of :mod:`tinyasc.model.int8_ops`. A lifted
input ResNorm (``equalized-lifted``) runs in float before the graph (:class:`Int8Model` ``.front``), as the C front
end runs it. Ranges are moving min/max observed in ``train()`` and frozen in ``eval()``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from tinyasc.model.int8_ops import (ACT_QMAX, ACT_QMIN, LOGISTIC_PARAMS, WEIGHT_QMAX, ActQuant, FloatElementwise,  # noqa: F401
                                    FloatMean, FloatRsqrt, QConv2d, QElementwise, QMean, QRsqrt, fake_quantize_away,
                                    multiply_by_quantized_multiplier, round_away)
from tinyasc.model.int8_passes import (_freeze_resnorm_lambdas, _is_passthrough, _is_relu, decompose_silu,  # noqa: F401
                                       insert_activation_quants, integer_kernels, quantize_convs, trace,
                                       wire_conv_inputs)

log = logging.getLogger(__name__)

INT8_SCHEMA = "tinyasc-int8-model/1"
"""Version of the ``int8`` section of a compressed checkpoint."""


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

    def set_observe(self, enabled: bool) -> None:
        """Ranges follow the training batches (True: a moving min/max in ``train()``) or stay where they are."""
        for aq in self.points().values():
            aq.observe = bool(enabled)

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
