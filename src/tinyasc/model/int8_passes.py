"""Graph passes that turn an export form into the int8 model's graph (:mod:`tinyasc.model.int8`), each small and
tested by op counts (tests/test_int8_model.py):

1. :func:`quantize_convs` — every ``Conv2d`` becomes a :class:`~tinyasc.model.int8_ops.QConv2d`;
2. :func:`decompose_silu` — ``SiLU(x)`` as ``x * sigmoid(x)``, the LOGISTIC + MUL the converter writes;
3. :func:`insert_activation_quants` — an :class:`~tinyasc.model.int8_ops.ActQuant` after every node whose output
   the int8 graph materializes (not after view-like nodes, whose output TFLite gives its input's parameters; after
   the ReLU, not the conv or add the converter fuses it into; LOGISTIC's output fixed at 1/256, -128);
4. :func:`wire_conv_inputs` — each conv learns its input's and output's quantizers (bias scale, requantization);
5. :func:`integer_kernels` — add/mul of two quantized tensors, mean and rsqrt become modules that run TFLite's
   integer kernels in evaluation.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn
from torch.nn import functional as F

from tinyasc.model.int8_ops import LOGISTIC_PARAMS, ActQuant, QConv2d, QElementwise, QMean, QRsqrt

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
