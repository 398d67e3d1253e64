"""Time tiling by streaming: the convolutional trunk runs over time in steps, bit-exact with the whole clip.

A BC-ResNet-ASC graph is convolutional along time up to one MEAN that reduces the time axis (the
global average pooling). Each output column of the trunk depends on a bounded window of input
frames, so the trunk can run as the frames become available: each step makes ``step`` more input
frames available, and every operator computes the output columns they make computable (its
*new* columns) and nothing else. Each tensor keeps, in a sliding buffer, only the columns its
consumers still need; the pooling sums are accumulated in int32 and requantized once at the end.
Every kernel computes each element exactly as on the whole clip, and no column is computed twice,
so the logits are bit-identical and the MACs are the whole clip's.

- **Analysis** (:func:`analyze`): the time axis of every tensor, from the model input through
  each operator's :class:`TimeRule` (the op registry's ``time_rule``); the *pool* (the MEAN that
  reduces time); the *head* (what follows it). A model whose time axis is reduced mid-network
  (statistics over the whole clip, as in-network ResNorm has), or that runs an operator without a
  streamed kernel on the time axis, raises :class:`NotTileable` with the reason.
- **Time-major rewrite** (:func:`time_major`): every trunk tensor stored time-first, so a column is
  one contiguous block (a graph pass; convolutions with time on W become convolutions over the
  transposed image).
- **Schedule** (:func:`simulate`): per step, the columns each tensor has computed and the first
  column its consumers still read; from them each buffer's capacity and whether it carries columns
  from one step to the next. The generated C runs the same arithmetic (:mod:`.tile_emit`).
- **Memory** (:func:`plan_stream`): the ordinary arena plan with every tensor at its capacity; the
  buffers that carry columns across steps live for the whole loop, the others share memory as
  usual. The model input (the clip's features) lives outside the arena.
- **Choice** (:func:`choose`): under a RAM budget, the largest step (fewest steps) that fits.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from tinyasc.errors import InputError
from tinyasc.firmware_sim.graph import Graph, Operator


class TimeRule(enum.Enum):
    """How an operator treats the time axis (one per registered op: ``OpSpec.time_rule``)."""

    WINDOW = "window"
    """CONV_2D, DEPTHWISE_CONV_2D, pooling: output column o reads a strided, padded window."""
    PAD = "pad"
    """PAD: output column o is input column o - before (or the pad value)."""
    ELEMENTWISE = "elementwise"
    """Binary ops with broadcasting: column o reads column o of each time-carrying operand."""
    SAME_RANGE = "same_range"
    """Unary ops and reshapes: column o reads column o, no views (output range = input range)."""
    LAYOUT = "layout"
    """TRANSPOSE: the time axis moves; column o reads column o."""
    REDUCE = "reduce"
    """MEAN: local when time is kept; the pool when time is reduced."""
    NONE = "none"
    """No tiled kernel: the op may only run after the pool (FULLY_CONNECTED, SOFTMAX, ...)."""


class NotTileable(InputError):
    """The model's time axis cannot be tiled exactly; the message says why."""


@dataclass(frozen=True, kw_only=True)
class TimeAnalysis:
    """Where time lives in a graph, and how the graph splits around the pool."""

    axis: Mapping[int, int]
    """Activation tensor -> its time axis (every tensor of the trunk, the input, the pool's input)."""
    length: Mapping[int, int]
    """Activation tensor -> its number of time columns."""
    trunk: tuple[int, ...]
    """Operator indices before the pool (all carry time)."""
    pool: int
    """The MEAN reducing the time axis."""
    head: tuple[int, ...]
    """Operator indices after the pool (no time axis)."""
    pool_input: int
    """The pool's input tensor: the tiles partition its time columns."""
    input: int
    """The model input tensor (kept whole: the clip's features)."""
    staged: Mapping[int, int] = dataclasses.field(default_factory=dict)
    """After :func:`time_major`: a convolution or pooling that read the model input with time on W
    -> the time-major copy of the input it reads instead (filled column by column as frames arrive)."""

    @property
    def pool_columns(self) -> int:
        return self.length[self.pool_input]


def _rule(op: Operator) -> TimeRule:
    from tinyasc.firmware_sim.generator import REGISTRY

    spec = REGISTRY.get(op.opcode)
    return spec.time_rule if spec is not None else TimeRule.NONE


def _is_activation(graph: Graph, t: int) -> bool:
    return t >= 0 and not graph.tensors[t].is_const


def window(graph: Graph, op: Operator, axis: int) -> tuple[int, int, int]:
    """(effective kernel, stride, before-padding) of ``op`` along tensor axis ``axis`` (1 = H, 2 = W)."""
    if op.opcode in ("PAD", "PADV2"):
        pads = np.asarray(graph.tensors[op.inputs[1]].data).reshape(-1, 2)
        return 1, 1, int(pads[axis, 0])
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    o = op.options
    hw = "H" if axis == 1 else "W"
    stride = int(o.get(f"Stride{hw}", 1))
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = graph.tensors[op.inputs[1]]
        k = int(w.shape[axis])  # CONV: [oc, kh, kw, ic]; DW: [1, kh, kw, oc]
        dil = int(o.get(f"Dilation{hw}Factor", 1))
    else:
        k = int(o.get("FilterHeight" if axis == 1 else "FilterWidth", 1))
        dil = 1
    eff = (k - 1) * dil + 1
    if o.get("Padding", 1) != 0:  # VALID
        return eff, stride, 0
    total = (y.shape[axis] - 1) * stride + eff - x.shape[axis]
    return eff, stride, max(total, 0) // 2


def _reshape_axis(src: tuple[int, ...], dst: tuple[int, ...], axis: int) -> int | None:
    """The axis of ``dst`` that is ``src``'s axis ``axis`` unchanged (same size, same elements
    before and after it), or None."""
    before, after = math.prod(src[:axis]), math.prod(src[axis + 1:])
    for j, d in enumerate(dst):
        if d == src[axis] and math.prod(dst[:j]) == before and math.prod(dst[j + 1:]) == after:
            return j
    return None


def analyze(graph: Graph, *, time_axis: int = 2) -> TimeAnalysis:
    """Time axes, trunk, pool and head of ``graph`` (input time axis ``time_axis``), or
    :class:`NotTileable` naming the operator that prevents exact tiling."""
    path = graph.path
    x_in = graph.inputs[0]
    x = graph.tensors[x_in]
    if x.dtype != "INT8":
        raise NotTileable(path, "time tiling supports int8 models only (this one has "
                                f"{x.dtype.lower()} activations)")
    if len(x.shape) != 4 or time_axis not in (1, 2):
        raise NotTileable(path, f"time tiling needs an NHWC input with time on H or W, got shape {list(x.shape)}")
    axis: dict[int, int] = {x_in: time_axis}
    length: dict[int, int] = {x_in: int(x.shape[time_axis])}
    trunk: list[int] = []
    head: list[int] = []
    pool: int | None = None
    pool_input = -1
    for op in graph.operators:
        timed = [t for t in op.inputs if t in axis]
        untimed_acts = [t for t in op.inputs if _is_activation(graph, t) and t not in axis]
        if not timed:
            if pool is None:
                raise NotTileable(path, f"operator {op.index} ({op.opcode}) runs before the time pooling without "
                                        "reading the time axis")
            head.append(op.index)
            continue
        where = f"operator {op.index} ({op.opcode})"
        if pool is not None:
            raise NotTileable(path, f"{where} reads time columns after operator {pool} (MEAN) reduced the time "
                                    "axis: statistics over the whole clip (in-network ResNorm) would need a two-pass "
                                    "schedule, which tinyasc does not generate")
        rule = _rule(op)
        src = timed[0]
        a, n = axis[src], length[src]
        y = op.outputs[0]
        yshape = tuple(graph.tensors[y].shape)
        if rule is TimeRule.WINDOW or rule is TimeRule.PAD:
            if op.inputs[0] != src or len(graph.tensors[src].shape) != 4 or a not in (1, 2):
                raise NotTileable(path, f"{where}: time must be axis 1 or 2 of its NHWC input")
            if rule is TimeRule.PAD and window(graph, op, a)[2] < 0:
                raise NotTileable(path, f"{where}: negative padding on the time axis")
            out_axis = a
        elif rule is TimeRule.ELEMENTWISE:
            rank = len(yshape)
            out_axis = a + rank - len(graph.tensors[src].shape)
            for t in timed[1:]:
                if axis[t] + rank - len(graph.tensors[t].shape) != out_axis or length[t] != n:
                    raise NotTileable(path, f"{where}: operands disagree on the time axis")
            if untimed_acts:
                raise NotTileable(path, f"{where} broadcasts tensor {untimed_acts[0]} (no time axis) over time: "
                                        "a statistic of the whole clip; time tiling needs a two-pass schedule")
            for t in op.inputs:
                if t >= 0 and graph.tensors[t].is_const:
                    cs = graph.tensors[t].shape
                    k = out_axis - (rank - len(cs))
                    if 0 <= k < len(cs) and cs[k] != 1:
                        raise NotTileable(path, f"{where}: constant operand {t} varies along time")
        elif rule is TimeRule.SAME_RANGE:
            if op.opcode in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
                j = _reshape_axis(tuple(graph.tensors[src].shape), yshape, a)
                if j is None:
                    raise NotTileable(path, f"{where} merges or splits the time axis")
                out_axis = j
            else:
                out_axis = a
        elif rule is TimeRule.LAYOUT:
            perm = [int(p) for p in np.asarray(graph.tensors[op.inputs[1]].data).reshape(-1)]
            out_axis = perm.index(a)
        elif rule is TimeRule.REDUCE:
            xr = len(graph.tensors[src].shape)
            red = sorted({int(k) % xr for k in np.asarray(graph.tensors[op.inputs[1]].data).reshape(-1)})
            if a in red:
                pool, pool_input = op.index, src
                continue
            keep = bool(op.options.get("KeepDims", False))
            out_axis = a if keep else a - sum(1 for k in red if k < a)
        else:
            raise NotTileable(path, f"{where} on the time axis has no tiled kernel")
        if untimed_acts and rule is not TimeRule.ELEMENTWISE:
            raise NotTileable(path, f"{where} mixes time-axis and whole-clip tensors")
        if rule not in (TimeRule.WINDOW, TimeRule.PAD) and yshape[out_axis] != n:
            raise NotTileable(path, f"{where}: time axis has {yshape[out_axis]} columns, expected {n}")
        axis[y] = out_axis
        length[y] = int(yshape[out_axis])
        trunk.append(op.index)
    if pool is None:
        raise NotTileable(path, "no MEAN reduces the time axis (time tiling needs a global time pooling)")
    if any(t in axis for t in graph.outputs):
        raise NotTileable(path, "the model output still has a time axis")
    return TimeAnalysis(axis=dict(axis), length=dict(length), trunk=tuple(trunk), pool=pool, head=tuple(head),
                        pool_input=pool_input, input=x_in)


# ----------------------------------------------------------------------------- time-major rewrite


def _time_first(shape: tuple[int, ...], a: int) -> list[int]:
    """Axis order that moves axis ``a`` to position 1 (batch stays first)."""
    return list(range(len(shape))) if a == 1 else [0, a] + [k for k in range(1, len(shape)) if k != a]


def time_major(graph: Graph, an: TimeAnalysis) -> tuple[Graph, TimeAnalysis]:
    """The same computation with every trunk tensor stored time-first (``(1, T, ...)``), so that a
    time column is one contiguous block and a tensor's buffer can hold a sliding window of columns.

    A convolution or pooling whose time axis was W becomes one over the transposed image (filter
    ``[oc][kw][kh][ic]``, strides, dilations and filter sizes swapped): every output element is
    the same integer sum. Constants of element-wise ops, TRANSPOSE permutations, MEAN axes and
    PAD paddings follow the new axis order. The model input keeps its layout (the clip's
    features); the operators reading it do so through strided views.
    """
    path = graph.path
    tensors = list(graph.tensors)
    perm: dict[int, list[int]] = {}
    for t, a in an.axis.items():
        if t == an.input:
            continue
        shape = tensors[t].shape
        perm[t] = _time_first(shape, a)
        tensors[t] = dataclasses.replace(tensors[t], shape=tuple(shape[k] for k in perm[t]))

    def p_of(t: int) -> list[int]:
        return perm.get(t, list(range(len(graph.tensors[t].shape))))

    def add_const(like: int, data: np.ndarray) -> int:
        tensors.append(dataclasses.replace(graph.tensors[like], index=len(tensors), shape=tuple(data.shape),
                                           data=np.ascontiguousarray(data), buffer=0, scale_offset=-1,
                                           zero_point_offset=-1, data_offset=-1))
        return len(tensors) - 1

    ops = list(graph.operators)
    staged: dict[int, int] = {}
    for i in an.trunk + (an.pool,):
        op = ops[i]
        rule = _rule(op)
        x, y = op.inputs[0], op.outputs[0]
        inputs, options = list(op.inputs), dict(op.options)
        where = f"operator {i} ({op.opcode})"
        if x == an.input and an.axis[x] != 1 and rule not in (TimeRule.PAD, TimeRule.LAYOUT, TimeRule.WINDOW):
            raise NotTileable(path, f"{where} reads the model input, whose time axis is not the first: time tiling "
                                    "needs a PAD, TRANSPOSE, convolution or pooling first")
        if rule is TimeRule.WINDOW and x == an.input and an.axis[x] == 2:
            # read a time-major copy of the input instead, staged column by column (tile_emit.stage)
            xt = graph.tensors[x]
            tensors.append(dataclasses.replace(xt, index=len(tensors), name=f"{xt.name}_time_major",
                                               shape=tuple(xt.shape[k] for k in _time_first(xt.shape, 2)),
                                               buffer=0, scale_offset=-1, zero_point_offset=-1, data_offset=-1))
            staged[i] = len(tensors) - 1
            inputs[0] = x = staged[i]
            perm[x] = [0, 1, 2, 3]
        if rule is TimeRule.WINDOW:
            if an.axis[op.inputs[0]] == 2:
                for h, w in (("StrideH", "StrideW"), ("DilationHFactor", "DilationWFactor"),
                             ("FilterHeight", "FilterWidth")):
                    if h in options or w in options:
                        options[h], options[w] = options.get(w, 1), options.get(h, 1)
                if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                    wt = graph.tensors[op.inputs[1]]
                    inputs[1] = add_const(op.inputs[1], np.transpose(np.asarray(wt.data), (0, 2, 1, 3)))
        elif rule is TimeRule.PAD:
            pads = np.asarray(graph.tensors[op.inputs[1]].data).reshape(-1, 2)
            inputs[1] = add_const(op.inputs[1], pads[p_of(y)].astype(pads.dtype))
        elif rule is TimeRule.ELEMENTWISE:
            rank = len(graph.tensors[y].shape)
            for k, t in enumerate(op.inputs[:2]):
                tt = graph.tensors[t]
                if tt.is_const:
                    data = np.asarray(tt.data).reshape((1,) * (rank - len(tt.shape)) + tuple(tt.shape))
                    inputs[k] = add_const(t, np.transpose(data, p_of(y)))
                elif len(tt.shape) != rank:
                    raise NotTileable(path, f"{where}: operand {t} has rank {len(tt.shape)}, the output {rank}")
        elif rule is TimeRule.LAYOUT:
            q = [int(v) for v in np.asarray(graph.tensors[op.inputs[1]].data).reshape(-1)]
            px, py = p_of(x), p_of(y)
            inv = [px.index(k) for k in range(len(px))]
            inputs[1] = add_const(op.inputs[1], np.asarray([inv[q[py[k]]] for k in range(len(q))],
                                                           dtype=np.asarray(graph.tensors[op.inputs[1]].data).dtype))
        elif rule is TimeRule.REDUCE:
            axes = np.asarray(graph.tensors[op.inputs[1]].data).reshape(-1)
            px = p_of(x)
            rank = len(px)
            inputs[1] = add_const(op.inputs[1], np.asarray([px.index(int(k) % rank) for k in axes], dtype=axes.dtype))
        ops[i] = dataclasses.replace(op, inputs=tuple(inputs), options=options)
    g2 = dataclasses.replace(graph, tensors=tuple(tensors), operators=tuple(ops))
    axis = {t: (an.axis[t] if t == an.input else 1) for t in an.axis}
    length = dict(an.length)
    for t in staged.values():
        axis[t], length[t] = 1, an.length[an.input]
    return g2, dataclasses.replace(an, axis=axis, length=length, staged=staged)


# ----------------------------------------------------------------------------- streaming schedule


def window_hi(avail: int, s: int, p: int, eff: int, t_in: int, t_out: int) -> int:
    """Output columns computable from the first ``avail`` input columns (all of them once the
    input is complete). The C schedule computes the same expression (``tinyasc_win_hi``)."""
    if avail >= t_in:
        return t_out
    n = avail + p - eff
    return 0 if n < 0 else min(t_out, n // s + 1)


def window_lo(o: int, s: int, p: int) -> int:
    """First input column read by output column ``o``."""
    return max(0, o * s - p)


@dataclass(frozen=True, kw_only=True)
class StreamGraph:
    """A trunk in time-major form and its buffer groups (a reshape's output shares its input's buffer)."""

    graph: Graph
    an: TimeAnalysis
    group: Mapping[int, int]
    """Trunk tensor -> its buffer group (the tensor whose producer writes the bytes)."""
    consumers: Mapping[int, tuple[int, ...]]
    """Buffer group -> ops (trunk ops and the pool) that read one of its tensors."""

    @property
    def groups(self) -> list[int]:
        return sorted(set(self.group.values()))

    def column_bytes(self, t: int) -> int:
        return self.graph.tensors[t].nbytes // self.an.length[t]


ALIAS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def stream_graph(graph: Graph, an: TimeAnalysis) -> StreamGraph:
    g2, an2 = time_major(graph, an)
    group: dict[int, int] = {t: t for t in an2.staged.values()}
    for i in an2.trunk:
        op = g2.operators[i]
        y = op.outputs[0]
        x = op.inputs[0]
        if op.opcode in ALIAS:
            if x == an2.input:
                raise NotTileable(graph.path, f"operator {i} ({op.opcode}) reshapes the model input")
            group[y] = group[x]
        else:
            group[y] = y
    consumers: dict[int, list[int]] = {}
    for i in an2.trunk + (an2.pool,):
        op = g2.operators[i]
        if op.opcode in ALIAS:
            continue
        for t in op.inputs:
            if t in group:
                consumers.setdefault(group[t], []).append(i)
    return StreamGraph(graph=g2, an=an2, group=group,
                       consumers={k: tuple(sorted(set(v))) for k, v in consumers.items()})


def _hi(sg: StreamGraph, op: Operator, h: Mapping[int, int], avail: int) -> int:
    """Columns of ``op``'s output computable now (``h``: columns of each group so far)."""
    an, g = sg.an, sg.graph

    def cols(t: int) -> int:
        return avail if t == an.input else h[sg.group[t]]

    rule = _rule(op)
    x = op.inputs[0]
    if rule in (TimeRule.WINDOW, TimeRule.PAD):
        eff, s, p = window(g, op, an.axis[op.outputs[0]])
        return window_hi(cols(x), s, p, eff, an.length[x], an.length[op.outputs[0]])
    return min(cols(t) for t in op.inputs if t in an.axis)


def _lo(sg: StreamGraph, op: Operator, t: int, o: int) -> int:
    """First column of ``t`` that ``op`` reads to compute its output columns from ``o`` on."""
    if _rule(op) in (TimeRule.WINDOW, TimeRule.PAD):
        _, s, p = window(sg.graph, op, sg.an.axis[op.outputs[0]])
        return window_lo(o, s, p)
    return o


@dataclass(frozen=True, kw_only=True)
class StreamPlan:
    """One step size's schedule: buffer capacities, which buffers carry columns across steps, cost."""

    step: int
    """Input frames made available per step."""
    steps: int
    capacity: Mapping[int, int]
    """Buffer group -> most time columns it holds at once."""
    persistent: frozenset[int]
    """Groups that keep columns from one step to the next (their bytes are never shared)."""
    arena_bytes: int
    features_bytes: int
    state_bytes: int
    """The pooling's int32 sums and the schedule's column counters."""

    @property
    def peak_ram_bytes(self) -> int:
        return self.arena_bytes + self.features_bytes + self.state_bytes


def simulate(sg: StreamGraph, step: int) -> tuple[int, dict[int, int], set[int]]:
    """Run the schedule in Python exactly as the generated C does: (steps, capacity, persistent)."""
    an, ops = sg.an, sg.graph.operators
    t_in = an.length[an.input]
    groups = sg.groups
    h = {k: 0 for k in groups}
    lo = {k: 0 for k in groups}
    cap = {k: 0 for k in groups}
    persistent: set[int] = set()
    steps = math.ceil(t_in / step)
    for k in range(1, steps + 1):
        avail = min(t_in, k * step)
        hp = dict(h)
        for t in an.staged.values():
            h[t] = avail
        for i in an.trunk:
            op = ops[i]
            if op.opcode not in ALIAS:
                h[op.outputs[0]] = _hi(sg, op, h, avail)
        for gr in groups:
            first = hp[gr]
            for c in sg.consumers.get(gr, ()):
                op = ops[c]
                o = hp[sg.group[op.outputs[0]]] if c != an.pool else hp[gr]
                for t in op.inputs:
                    if sg.group.get(t) == gr:
                        first = min(first, _lo(sg, op, t, o))
            lo[gr] = first
            cap[gr] = max(cap[gr], h[gr] - first)
            if first < hp[gr]:
                persistent.add(gr)
    return steps, cap, persistent


def plan_stream(sg: StreamGraph, step: int, *, alignment: int = 16) -> tuple[StreamPlan, Graph, "object"]:
    """The arena of step size ``step``: (plan summary, the graph at buffer sizes, its arena plan)."""
    from tinyasc.firmware_sim.planner import plan_arena

    steps, cap, persistent = simulate(sg, step)
    tensors = list(sg.graph.tensors)
    for t, gr in sg.group.items():
        shape = list(tensors[t].shape)
        shape[1] = max(cap[gr], 1)
        tensors[t] = dataclasses.replace(tensors[t], shape=tuple(shape))
    g3 = dataclasses.replace(sg.graph, tensors=tuple(tensors))
    pinned = frozenset(t for t, gr in sg.group.items() if gr in persistent)
    arena = plan_arena(g3, alignment=alignment, in_place=False, fuse=False, exclude=frozenset({sg.an.input}),
                       pinned=pinned)
    align = lambda n: (n + alignment - 1) // alignment * alignment  # noqa: E731
    pool_out = sg.graph.tensors[sg.graph.operators[sg.an.pool].outputs[0]].size
    plan = StreamPlan(step=step, steps=steps, capacity=cap, persistent=frozenset(persistent),
                      arena_bytes=arena.arena_size, features_bytes=align(sg.graph.tensors[sg.an.input].nbytes),
                      state_bytes=align(4 * pool_out) + align(16 * len(sg.groups)))
    return plan, g3, arena


def candidate_steps(frames: int) -> list[int]:
    """Step sizes worth planning: powers of two below the clip, and the whole clip."""
    out, s = [], 1
    while s < frames:
        out.append(s)
        s *= 2
    return out + [frames]


@dataclass(frozen=True, kw_only=True)
class TilingChoice:
    """The step chosen, why, and the curve it was chosen from."""

    chosen: StreamPlan
    whole_arena_bytes: int
    """The whole-clip plan's arena (with in-place ops and fusions), for comparison."""
    macs: int
    curve: tuple[StreamPlan, ...]
    budget: int | None
    reason: str
    an: TimeAnalysis
    reserved: int = 0
    """RAM the library holds beside the model (front end, kernels' static scratch), counted against the budget."""

    def to_json(self) -> dict:
        c = self.chosen

        def point(p: StreamPlan) -> dict:
            return {"step_frames": p.step, "steps": p.steps, "arena_bytes": p.arena_bytes,
                    "features_bytes": p.features_bytes, "state_bytes": p.state_bytes,
                    "peak_ram_bytes": p.peak_ram_bytes, "persistent_buffers": len(p.persistent)}

        return {**point(c), "whole_clip_arena_bytes": self.whole_arena_bytes, "macs": self.macs,
                "extra_macs": 0, "budget_bytes": self.budget, "reserved_bytes": self.reserved, "reason": self.reason,
                "trunk_layers": list(self.an.trunk), "pool_layer": self.an.pool, "head_layers": list(self.an.head),
                "curve": [point(p) for p in self.curve]}


def choose(graph: Graph, an: TimeAnalysis, *, whole_arena: int, macs: int, budget: int | None = None,
           step: int | None = None, alignment: int = 16, reserved: int = 0) -> TilingChoice:
    """A step size: ``step`` if given; else the largest (fewest steps) whose peak RAM plus ``reserved``
    (what the library holds beside the model: front end, kernels' static scratch) fits ``budget``. :class:`InputError`
    when none does, giving the smallest total reachable."""
    sg = stream_graph(graph, an)
    frames = an.length[an.input]
    curve = tuple(plan_stream(sg, s, alignment=alignment)[0] for s in candidate_steps(frames))
    if step is not None:
        if not 1 <= step <= frames:
            raise InputError(graph.path, f"--step-frames {step}: the model input has {frames} time frames")
        chosen = next((c for c in curve if c.step == step), None)
        if chosen is None:
            chosen = plan_stream(sg, step, alignment=alignment)[0]
            curve = tuple(sorted((*curve, chosen), key=lambda c: c.step))
        reason = f"step of {step} frames requested"
    else:
        if budget is None:
            raise ValueError("choose() needs a budget or a step")
        fit = [c for c in curve if c.peak_ram_bytes + reserved <= budget]
        if not fit:
            best = min(curve, key=lambda c: c.peak_ram_bytes)
            beside = f" (model {best.peak_ram_bytes} B + front end and kernel scratch {reserved} B)" if reserved else ""
            raise InputError(graph.path, f"no time tiling meets the RAM budget of {budget} B: the smallest peak "
                                         f"reachable is {best.peak_ram_bytes + reserved} B{beside}, "
                                         f"with a step of {best.step} frames")
        chosen = max(fit, key=lambda c: (c.step, -c.peak_ram_bytes))
        reason = (f"largest step with peak RAM <= {budget} B" +
                  (f" less {reserved} B of front end and kernel scratch" if reserved else ""))
    return TilingChoice(chosen=chosen, whole_arena_bytes=whole_arena, macs=macs, curve=curve, budget=budget,
                        reason=reason, an=an, reserved=reserved)

def parse_size(text: str) -> int:
    """``256K``, ``1M``, ``300000`` -> bytes (K = 1024)."""
    s = text.strip().upper().removesuffix("B")
    mult = 1
    if s.endswith("K"):
        mult, s = 1024, s[:-1]
    elif s.endswith("M"):
        mult, s = 1024 * 1024, s[:-1]
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (examples: 256K, 1M, 300000)") from None
    if value <= 0 or not math.isfinite(value):
        raise ValueError(f"size must be positive: {text!r}")
    return int(value * mult)


__all__ = ["NotTileable", "StreamGraph", "StreamPlan", "TilingChoice", "TimeAnalysis", "TimeRule", "analyze",
           "choose", "input_time_axis", "parse_size", "plan_stream", "simulate", "stream_graph", "time_major",
           "window", "window_hi", "window_lo"]


def input_time_axis(graph: Graph) -> int:
    """The time axis of the model input: from the deployed contract's log-mel layout when the file
    carries one (mel-major ``(1, mels, frames, 1)``: 2; frame-major: 1), else 2 (NHWC ``W``)."""
    from tinyasc.contract import TFLITE_CONTRACT_KEY, DeployedContract

    entry = graph.metadata.get(TFLITE_CONTRACT_KEY)
    shape = graph.tensors[graph.inputs[0]].shape
    if entry is None or len(shape) != 4:
        return 2
    try:
        cfg = DeployedContract.from_json(entry).feature_config
    except (ValueError, KeyError, TypeError, IndexError):
        return 2
    if shape[1] == cfg.n_frames and shape[2] == cfg.n_mels and cfg.n_frames != cfg.n_mels:
        return 1
    return 2
