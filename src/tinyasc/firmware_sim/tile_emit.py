"""The C of a streamed (time-tiled) model: the schedule and each trunk layer inside the step loop.

The trunk runs on the time-major graph (:func:`.tiling.time_major`): a time column of a tensor is
one contiguous block of ``cb`` bytes, and each tensor's buffer holds a sliding window of columns.
Per buffer group ``k`` the loop keeps four counters (``int32_t``): ``h[k]`` the columns computed so
far, ``hp[k]`` the same before this step, ``L[k]`` the first column still held, ``Lp[k]`` the same
before this step. Column ``c`` of a tensor is at ``buffer + (c - L[k]) * cb``.

Each step first advances the counters (:func:`schedule`, the same arithmetic as
:func:`.tiling.simulate`), then runs every trunk layer on its new output columns
``[hp[k], h[k])``: it copies its whole-clip parameters (the ``static const l{i}_p`` the ordinary
emitter wrote from the time-major graph) into a local struct and overrides the time extent of its
output, of its input buffer and, for convolutions and pooling, the padding shifted to the buffer's
first column. A layer that drops columns (``L[k] > Lp[k]``) first moves what it keeps to the
front of its buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinyasc.firmware_sim import params
from tinyasc.firmware_sim.tiling import ALIAS, StreamGraph, TimeRule, _rule, window

MAX_DIMS = 6


@dataclass
class TileEmit:
    """One trunk layer's code in the step loop; ``decls`` replace the ordinary emitter's when set."""

    code: str
    decls: list[str] | None = None
    prefix: str = ""
    """Code that runs every step before the layer's own guard (staging the model input)."""


@dataclass
class TileContext:
    """What a layer emitter needs: the streamed graph, the arena offsets and the group indices."""

    sg: StreamGraph
    offsets: dict[int, int]
    index: dict[int, int]
    """Buffer group -> its index in the counter arrays."""
    persistent: frozenset[int]
    """Buffer groups that keep columns from one step to the next (shifted when they drop some)."""
    gen_fn: Callable[[str], str]
    """The generator's kernel-symbol function (records the kernel as used)."""
    features: str = "tinyasc_features"

    @property
    def an(self):
        return self.sg.an

    def k(self, t: int) -> int:
        return self.index[self.sg.group[t]]

    def ptr(self, t: int) -> str:
        if t == self.an.input:
            return self.features
        return f"(arena + {self.offsets[t]})"

    def cb(self, t: int) -> int:
        """Bytes of one time column of ``t`` (time-major)."""
        return self.sg.column_bytes(t)

    def col(self, t: int, c: str) -> str:
        """Pointer to column ``c`` of trunk tensor ``t``."""
        return f"({self.ptr(t)} + ({c} - L[{self.k(t)}]) * {self.cb(t)})"

    def held(self, t: int) -> str:
        """Columns of ``t`` in its buffer now (the whole clip for the model input)."""
        return str(self.an.length[t]) if t == self.an.input else f"(h[{self.k(t)}] - L[{self.k(t)}])"

    def first(self, t: int) -> str:
        return "0" if t == self.an.input else f"L[{self.k(t)}]"


def _new(ctx: TileContext, y: int) -> tuple[str, str]:
    """(first new column, count) of ``y`` in this step."""
    k = ctx.k(y)
    return f"hp[{k}]", f"(h[{k}] - hp[{k}])"


def _time6(rank: int) -> int:
    """Index of the time axis (1) in the 6-D padded dims."""
    return 1 + MAX_DIMS - rank


def conv(gen, ctx: TileContext, op) -> TileEmit:
    """CONV_2D / DEPTHWISE_CONV_2D on time-major tensors: time is H."""
    i = op.index
    x, y = op.inputs[0], op.outputs[0]
    _, s, p = window(gen.g, op, 1)
    a, n = _new(ctx, y)
    kern = gen.fn(gen.layer_kernels[i])  # the layer's kernel, recorded by gen.emit(op)
    return TileEmit(
        f"{{ tinyasc_conv_params p = l{i}_p; p.in_h = {ctx.held(x)}; p.out_h = {n}; "
        f"p.pad_h = {p} + {ctx.first(x)} - {a} * {s};\n"
        f"      {kern}(&p, &l{i}_w, {ctx.ptr(x)}, {ctx.col(y, a)}); }}", prefix=stage(gen, ctx, op))


def stage(gen, ctx: TileContext, op) -> str:
    """For a convolution or pooling that read the model input with time on W: copy the step's new
    input columns, transposed to time-major, into its staged buffer (after dropping old columns)."""
    s = op.inputs[0]
    if s not in ctx.an.staged.values():
        return ""
    k = ctx.k(s)
    x = ctx.an.input
    _, f, t, c = ctx.sg.graph.tensors[x].shape  # (1, F, T, C): element (f, t, c) at (f * T + t) * C + c
    shift = ""
    if s in ctx.persistent:
        shift = f"{ctx.gen_fn('shift_columns')}({ctx.ptr(s)}, L[{k}] - Lp[{k}], hp[{k}] - L[{k}], {ctx.cb(s)});\n        "
    return (f"{shift}if (h[{k}] > hp[{k}]) {{ tinyasc_transpose_params p = {{.out_dims = {{1, 1, 1, h[{k}] - hp[{k}], "
            f"{f}, {c}}}, .in_strides = {{0, 0, 0, {c}, {t * c}, 1}}}};\n"
            f"      {gen.fn('transpose_s8')}(&p, {ctx.ptr(x)} + hp[{k}] * {c}, {ctx.col(s, f'hp[{k}]')}); }}\n        ")


def pool(gen, ctx: TileContext, op) -> TileEmit:
    i = op.index
    x, y = op.inputs[0], op.outputs[0]
    _, s, p = window(gen.g, op, 1)
    a, n = _new(ctx, y)
    kern = gen.kernel(op, "max_pool" if op.opcode == "MAX_POOL_2D" else "avg_pool")
    return TileEmit(
        f"{{ tinyasc_pool_params p = l{i}_p; p.in_h = {ctx.held(x)}; p.out_h = {n}; "
        f"p.pad_h = {p} + {ctx.first(x)} - {a} * {s};\n"
        f"      {kern}(&p, {ctx.ptr(x)}, {ctx.col(y, a)}); }}", prefix=stage(gen, ctx, op))


def _assign(var: str, name: str, values: list) -> str:
    return " ".join(f"{var}.{name}[{k}] = {v};" for k, v in enumerate(values))


def _pad6(xs: list, fill) -> list:
    return [fill] * (MAX_DIMS - len(xs)) + list(xs)


def pad(gen, ctx: TileContext, op) -> TileEmit:
    """PAD: the step's new output columns, read through a strided view of the input (the model
    input keeps its own layout; output axis k reads input axis ``perm[k]``)."""
    i = op.index
    x, y = op.inputs[0], op.outputs[0]
    yt = gen.t(y)
    pads = np.asarray(gen.t(op.inputs[1]).data).reshape(-1, 2)  # in the output's (time-major) axis order
    value = yt.q()[1]
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(np.asarray(gen.t(op.inputs[2]).data).reshape(-1)[0])
    xs = ctx.sg.graph.tensors[x].shape
    if x == ctx.an.input:
        ax = ctx.an.axis[x]
        order = [0, ax] + [k for k in range(1, len(xs)) if k != ax] if ax != 1 else list(range(len(xs)))
    else:
        order = list(range(len(xs)))
    st = [math.prod(xs[k + 1:]) for k in range(len(xs))]
    in_dims = [int(xs[k]) for k in order]
    in_st = [st[k] for k in order]
    before = [int(v) for v in pads[:, 0]]
    t6 = _time6(len(yt.shape))
    decl = params.PadViewParams(
        out_dims=tuple(_pad6([int(v) for v in yt.shape], 1)), in_dims=tuple(_pad6(in_dims, 1)),
        in_strides=tuple(_pad6(in_st, 0)), before=tuple(_pad6(before, 0)), pad_value=value).c_decl(f"l{i}_p")
    a, n = _new(ctx, y)
    code = (f"{{ tinyasc_pad_view_params p = l{i}_p; p.out_dims[{t6}] = {n}; p.in_dims[{t6}] = {ctx.held(x)}; "
            f"p.before[{t6}] = {before[1]} + {ctx.first(x)} - {a};\n"
            f"      {gen.fn('pad_view_s8')}(&p, {ctx.ptr(x)}, {ctx.col(y, a)}); }}")
    return TileEmit(code, decls=[decl])


def binary(gen, ctx: TileContext, op) -> TileEmit:
    """Element-wise: the whole-clip strides hold (time-major), only the time extent and the
    operands' first columns change."""
    i = op.index
    y = op.outputs[0]
    a, n = _new(ctx, y)
    rank = len(gen.t(y).shape)
    ops = [ctx.col(t, a) if t in ctx.an.axis else gen.ref(t) for t in op.inputs[:2]]
    colelems = ctx.cb(y)
    kern = gen.fn(gen.layer_kernels[i])  # the layer's kernel, recorded by gen.emit(op)
    return TileEmit(f"{{ tinyasc_binary_params p = l{i}_p; p.size = {n} * {colelems}; "
                    f"p.out_dims[{_time6(rank)}] = {n};\n"
                    f"      {kern}(&p, {ops[0]}, {ops[1]}, {ctx.col(y, a)}); }}")


def unary(gen, ctx: TileContext, op) -> TileEmit:
    i = op.index
    x, y = op.inputs[0], op.outputs[0]
    a, n = _new(ctx, y)
    ptype = {"LOGISTIC": "tinyasc_logistic_params", "RSQRT": "tinyasc_rsqrt_params"}[op.opcode]
    kern = gen.fn({"LOGISTIC": "logistic_s8", "RSQRT": "rsqrt_s8"}[op.opcode])
    return TileEmit(f"{{ {ptype} p = l{i}_p; p.size = {n} * {ctx.cb(y)}; "
                    f"{kern}(&p, {ctx.col(x, a)}, {ctx.col(y, a)}); }}")


def reshape(gen, ctx: TileContext, op) -> TileEmit:
    if ctx.offsets.get(op.inputs[0]) != ctx.offsets.get(op.outputs[0]):
        raise AssertionError(f"operator {op.index} ({op.opcode}): a streamed reshape must alias its input")
    return TileEmit("/* alias: output shares the input's buffer */")


def transpose(gen, ctx: TileContext, op) -> TileEmit:
    i = op.index
    x, y = op.inputs[0], op.outputs[0]
    a, n = _new(ctx, y)
    rank = len(gen.t(y).shape)
    if x == ctx.an.input:  # the input keeps its layout: column a starts a elements in along its time axis
        xs = ctx.sg.graph.tensors[x].shape
        src = f"({ctx.ptr(x)} + {a} * {math.prod(xs[ctx.an.axis[x] + 1:])})"
    else:
        src = ctx.col(x, a)
    return TileEmit(f"{{ tinyasc_transpose_params p = l{i}_p; p.out_dims[{_time6(rank)}] = {n};\n"
                    f"      {gen.kernel(op, 'transpose')}(&p, {src}, {ctx.col(y, a)}); }}")


def mean(gen, ctx: TileContext, op) -> TileEmit:
    """A MEAN that keeps time (time-major: the kept time dim is the step's new columns)."""
    i = op.index
    x, y = op.inputs[0], op.outputs[0]
    a, n = _new(ctx, y)
    t6 = _time6(len(gen.t(x).shape))
    return TileEmit(f"{{ tinyasc_mean_params p = l{i}_p; p.kept_dims[{t6}] = {n};\n"
                    f"      {gen.kernel(op, 'mean')}(&p, {ctx.col(x, a)}, {ctx.col(y, a)}); }}")


def pool_accumulate(gen, ctx: TileContext, op, acc: str) -> str:
    """The pooling's int32 sums over the pooling input's new columns, added into ``acc``."""
    i = op.index
    x = op.inputs[0]
    a, n = _new(ctx, x)
    t6 = _time6(len(gen.t(x).shape))
    return (f"if (h[{ctx.k(x)}] > hp[{ctx.k(x)}]) {{ tinyasc_mean_params p = l{i}_p; p.red_dims[{t6}] = {n};\n"
            f"      {gen.fn('mean_acc_s8')}(&p, {ctx.col(x, a)}, {acc}); }}")


def guard(ctx: TileContext, op, code: str) -> str:
    """Shift the output buffer (group producers), then run ``code`` only when there are new columns."""
    y = op.outputs[0]
    k = ctx.k(y)
    if op.opcode in ALIAS:
        return code
    shift = ""
    if ctx.sg.group[y] in ctx.persistent:
        shift = (f"{ctx.gen_fn('shift_columns')}({ctx.ptr(y)}, L[{k}] - Lp[{k}], hp[{k}] - L[{k}], {ctx.cb(y)});"
                 "\n        ")
    return f"{shift}if (h[{k}] > hp[{k}]) {code}"


def schedule(ctx: TileContext) -> str:
    """The counters' update at the start of a step (mirrors :func:`.tiling.simulate`)."""
    sg, an = ctx.sg, ctx.an
    ops = sg.graph.operators
    lines = ["memcpy(hp, h, sizeof(h));", "memcpy(Lp, L, sizeof(L));"]

    def cols(t: int) -> str:
        return "avail" if t == an.input else f"h[{ctx.k(t)}]"

    for t in an.staged.values():
        lines.append(f"h[{ctx.k(t)}] = avail; /* the model input, staged time-major */")
    for i in an.trunk:
        op = ops[i]
        if op.opcode in ALIAS:
            continue
        y = op.outputs[0]
        if _rule(op) in (TimeRule.WINDOW, TimeRule.PAD):
            x = op.inputs[0]
            eff, s, p = window(sg.graph, op, 1)
            rhs = f"tinyasc_win_hi({cols(x)}, {s}, {p}, {eff}, {an.length[x]}, {an.length[y]})"
        else:
            terms = [cols(t) for t in op.inputs if t in an.axis]
            rhs = terms[0]
            for t in terms[1:]:
                rhs = f"tinyasc_min({rhs}, {t})"
        lines.append(f"h[{ctx.k(y)}] = {rhs}; /* {op.opcode}_{i} */")
    for gr in sg.groups:
        k = ctx.index[gr]
        terms = [f"hp[{k}]"]
        for c in sg.consumers.get(gr, ()):
            op = ops[c]
            o = f"hp[{k}]" if c == an.pool else f"hp[{ctx.k(op.outputs[0])}]"
            if _rule(op) in (TimeRule.WINDOW, TimeRule.PAD):
                _, s, p = window(sg.graph, op, 1)
                terms.append(f"tinyasc_win_lo({o}, {s}, {p})")
            else:
                terms.append(o)
        rhs = terms[0]
        for t in dict.fromkeys(terms[1:]):
            rhs = f"tinyasc_min({rhs}, {t})"
        lines.append(f"L[{k}] = {rhs};")
    return "\n".join("        " + ln for ln in lines) + "\n"


#: The helpers the schedule calls (static in model.c).
HELPERS = """
static int32_t tinyasc_min(int32_t a, int32_t b) { return a < b ? a : b; }
/* Output columns computable from `avail` input columns: window eff, stride s, padding p before. */
static int32_t tinyasc_win_hi(int32_t avail, int32_t s, int32_t p, int32_t eff, int32_t t_in, int32_t t_out) {
    int32_t n;
    if (avail >= t_in) return t_out;
    n = avail + p - eff;
    return n < 0 ? 0 : tinyasc_min(t_out, n / s + 1);
}
/* First input column read by output column o. */
static int32_t tinyasc_win_lo(int32_t o, int32_t s, int32_t p) {
    const int32_t c = o * s - p;
    return c > 0 ? c : 0;
}
"""


__all__ = ["HELPERS", "TileContext", "TileEmit", "binary", "conv", "guard", "mean", "pad", "pool",
           "pool_accumulate", "reshape", "schedule", "transpose", "unary"]
