"""Static arena plan for the activations: lifetimes, in-place aliases, greedy-by-size placement.

Every non-constant tensor gets a lifetime ``[first, last]`` in operator steps (the model input
is born at step 0, the output lives to the end). Tensors that may share storage are merged
into one *buffer* first:

- RESHAPE's output is its input (same bytes, new shape): always an alias.
- An element-wise op (ADD/SUB/MUL/SQUARED_DIFFERENCE with the input at full output shape,
  LOGISTIC, RSQRT) may write over an input whose last use is that op: output element ``i``
  depends only on input element ``i``, which the kernel reads before writing ``i``.

- A 1x1 stride-1 CONV_2D may write over an input that dies there: the kernel stages one
  pixel's outputs and walks the pixels in the direction that never overwrites unread input.
- A MUL whose only consumer is a MEAN is fused into it (the products are summed as they are
  made): the product tensor, as large as its inputs, is never stored. ResNorm's variance
  ``mean((x - mu)^2)`` is exactly this pattern.
- TRANSPOSE/RESHAPE -> a per-channel 1x1 convolution -> TRANSPOSE/RESHAPE back to the input's
  shape, whose composed index map sends element (h, w, c) through channel c * bands + h // rows
  of the convolution (the sub-spectral norm's affine as onnx2tf writes it, :func:`find_band_affines`),
  is fused into its last op: one element-wise pass, none of the four layout copies stored.
- Such a chain whose only reader is an int8 ADD of one row broadcast down the frequency axis (a BC-ResBlock's
  sub-spectral norm plus its temporal branch, :func:`find_band_adds`) is fused further, into the ADD: the
  affine's output is never stored, and the ADD may write over the chain's input.
- SiLU as onnx2tf writes it, an int8 ``MUL(x, LOGISTIC(x))`` whose LOGISTIC feeds only that MUL, is fused
  into the MUL (:func:`find_silu`): the output depends on one byte of x, so the generator emits the chain's
  256-entry table (:mod:`.int8_tables`); the sigmoid tensor is never stored.
- An int8 ADD of two operands of its own shape whose only reader is a MAX_POOL_2D (a residual sum pooled: the
  quick model's BC-ResBlocks before each stage's pooling) is fused into the pooling (:func:`find_add_pools`): the
  ADD's output rescaling is monotone, so the maximum of the rescaled sums is the rescaled maximum of the sums, and
  each pooled output is rescaled once; the sum tensor is never stored, and the pooled output may be written over an
  operand that dies there when no window reads below the output it belongs to.

Buffers are then placed like TFLite Micro's GreedyMemoryPlanner: largest first, each at the
lowest aligned offset that does not overlap a placed buffer at any step both are live. A
merged buffer is not a rectangle: its size at each step is that of its members live then (a
conv that shrinks 20 channels to 10 in place frees the upper half for the next step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyasc.firmware_sim import quant
from tinyasc.firmware_sim.graph import Graph, Operator

#: Ops whose output can alias its first input byte for byte (no data movement).
ALIAS_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})
#: Ops whose output element i depends only on element i of a same-shape input.
ELEMENTWISE_UNARY = frozenset({"LOGISTIC", "RSQRT"})
ELEMENTWISE_BINARY = frozenset({"ADD", "SUB", "MUL", "SQUARED_DIFFERENCE"})


@dataclass
class Buffer:
    """A region of the arena shared by one or more tensors with disjoint or aliased lives."""

    id: int
    tensors: list[int]
    size: int
    first: int
    last: int
    offset: int = -1
    profile: dict[int, int] = field(default_factory=dict, repr=False)  # step -> bytes in use


@dataclass
class ArenaPlan:
    """Offsets of every activation tensor in one static arena."""

    arena_size: int
    alignment: int
    offsets: dict[int, int]
    sizes: dict[int, int]
    lifetimes: dict[int, tuple[int, int]]
    buffers: list[Buffer] = field(default_factory=list)
    aliases: dict[int, int] = field(default_factory=dict)  # tensor -> tensor it overwrites/shares
    scratch: dict[int, int] = field(default_factory=dict)  # op -> scratch pseudo-tensor id (in offsets)
    fused: dict[int, int] = field(default_factory=dict)  # op -> op it is fused into (MUL -> MEAN, band chains)
    naive_size: int = 0  # sum of all activation sizes (no reuse), for comparison
    bands: dict[int, "BandAffine"] = field(default_factory=dict)  # last op of a fused band chain -> the chain
    band_adds: dict[int, int] = field(default_factory=dict)  # ADD op -> last op of the band chain fused into it
    silu: dict[int, int] = field(default_factory=dict)  # MUL op -> the LOGISTIC op fused into it (x * sigmoid(x))
    add_pools: dict[int, int] = field(default_factory=dict)  # MAX_POOL_2D op -> the ADD fused into it
    stages: dict[int, int] = field(default_factory=dict)  # in-place 1x1 op -> its stage pseudo-tensor id (in offsets)

    def to_json(self) -> dict:
        return {
            "arena_size": self.arena_size,
            "alignment": self.alignment,
            "naive_size": self.naive_size,
            "tensors": {str(t): {"offset": self.offsets[t], "size": self.sizes[t],
                                 "first": self.lifetimes[t][0], "last": self.lifetimes[t][1]}
                        for t in sorted(self.offsets)},
            "aliases": {str(k): v for k, v in self.aliases.items()},
            "fused": {str(k): v for k, v in self.fused.items()},
            "bands": {str(k): {"ops": [*b.members, b.last], "conv": b.conv, "bands": b.bands, "rows": b.rows}
                      for k, b in self.bands.items()},
            "band_adds": {str(k): v for k, v in self.band_adds.items()},
            "scratch": {str(k): v for k, v in self.scratch.items()},
            "silu": {str(k): v for k, v in self.silu.items()},
            "add_pools": {str(k): v for k, v in self.add_pools.items()},
            "stages": {str(k): v for k, v in self.stages.items()},
        }


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


INPLACE_MAX_C = 512  # TINYASC_INPLACE_MAX_C in tinyasc_kernels.h


def same_or_valid_pad(padding: int, in_size: int, out_size: int, k: int, stride: int, dil: int) -> int:
    """TFLite ComputePaddingHeightWidth: SAME (``padding`` 0) pads floor(total/2) before; VALID pads 0."""
    if padding != 0:  # VALID
        return 0
    eff = (k - 1) * dil + 1
    total = (out_size - 1) * stride + eff - in_size
    return max(total, 0) // 2


def pointwise_conv_in_place_ok(graph: Graph, op) -> bool:
    """Whether ``op`` is a 1x1, stride-1, ungrouped CONV_2D the in-place kernel can run."""
    if op.opcode != "CONV_2D" or len(op.inputs) < 2:
        return False
    x, w, y = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    if len(w.shape) != 4 or len(x.shape) != 4 or len(y.shape) != 4 or x.dtype != "INT8":
        return False
    oc, kh, kw, fin = w.shape
    return (kh == 1 and kw == 1 and fin == x.shape[3] and oc <= INPLACE_MAX_C
            and op.options.get("StrideH", 1) == 1 and op.options.get("StrideW", 1) == 1
            and tuple(x.shape[:3]) == tuple(y.shape[:3]))


def column_conv_in_place(graph: Graph, op) -> tuple[int, int, int] | None:
    """For a k_h x 1, stride-1, per-channel conv with unchanged shape: (pad_h, f_c_stride,
    f_ky_stride) of the in-place column kernel; None if the op does not qualify."""
    if op.opcode not in ("DEPTHWISE_CONV_2D", "CONV_2D") or len(op.inputs) < 2:
        return None
    x, w, y = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    if len(w.shape) != 4 or tuple(x.shape) != tuple(y.shape) or len(x.shape) != 4 or x.dtype != "INT8":
        return None
    if op.options.get("StrideH", 1) != 1 or op.options.get("StrideW", 1) != 1:
        return None
    c = x.shape[3]
    if op.opcode == "DEPTHWISE_CONV_2D":
        _, kh, kw, oc = w.shape
        strides = (1, oc)
    else:
        oc, kh, kw, fin = w.shape
        if fin != 1:
            return None
        strides = (kh, 1)
    if kw != 1 or oc != c or kh < 2:
        return None
    pad = same_or_valid_pad(op.options.get("Padding", 1), x.shape[1], x.shape[1], kh, 1,
                            op.options.get("DilationHFactor", 1))
    return pad, strides[0], strides[1]


def find_fusions(graph: Graph) -> dict[int, int]:
    """``MUL op index -> MEAN op index`` for int8 MULs whose output only feeds one MEAN."""
    fused = {}
    for op in graph.operators:
        if op.opcode != "MUL" or graph.tensors[op.outputs[0]].dtype != "INT8":
            continue
        out = op.outputs[0]
        users = graph.consumers(out)
        if len(users) != 1 or out in graph.outputs:
            continue
        user = graph.operators[users[0]]
        if user.opcode == "MEAN" and user.inputs[0] == out and out not in user.inputs[1:]:
            fused[op.index] = user.index
    return fused


def find_silu(graph: Graph, taken: frozenset[int] = frozenset()) -> dict[int, int]:
    """``MUL op index -> LOGISTIC op index`` for every int8 ``MUL(x, LOGISTIC(x))`` of one shape whose LOGISTIC
    output feeds only that MUL (and is not a graph output), the LOGISTIC's output zero point TFLite's -128.
    ``taken``: MULs already fused elsewhere (into a MEAN), left alone."""
    found = {}
    for op in graph.operators:
        if op.opcode != "LOGISTIC" or not op.inputs or not op.outputs:
            continue
        x, s = op.inputs[0], op.outputs[0]
        xt, st = graph.tensors[x], graph.tensors[s]
        if xt.dtype != "INT8" or st.dtype != "INT8" or xt.is_const or st.q()[1] != -128:
            continue
        mul = _single_consumer(graph, s)
        if mul is None or mul.opcode != "MUL" or mul.index in taken or len(mul.inputs) < 2:
            continue
        if sorted(mul.inputs[:2]) != sorted((x, s)) or x == s:
            continue
        y = graph.tensors[mul.outputs[0]]
        if y.dtype != "INT8" or not (tuple(xt.shape) == tuple(st.shape) == tuple(y.shape)):
            continue
        found[mul.index] = op.index
    return found


def _pool_pads(graph: Graph, op: Operator) -> tuple[int, int]:
    """``(pad_h, pad_w)`` of a MAX_POOL_2D as TFLite computes them (SAME: floor(total / 2) before; VALID: 0)."""
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    o = op.options
    return (same_or_valid_pad(o.get("Padding", 1), x.shape[1], y.shape[1], o.get("FilterHeight", 1),
                              o.get("StrideH", 1), 1),
            same_or_valid_pad(o.get("Padding", 1), x.shape[2], y.shape[2], o.get("FilterWidth", 1),
                              o.get("StrideW", 1), 1))


def pool_writes_behind_reads(graph: Graph, op: Operator) -> bool:
    """Whether a MAX_POOL_2D's output may share its input's first byte (an in-place pooling): its outputs written
    pixel by pixel in order, the first input pixel each output pixel's window reads is at or after the output pixel's
    own index, so no output overwrites an input a later output still reads (checked for every output pixel)."""
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    n, ih, iw, c = x.shape
    _, oh, ow, oc = y.shape
    if n != 1 or oc != c:
        return False
    ph, pw = _pool_pads(graph, op)
    sh, sw = op.options.get("StrideH", 1), op.options.get("StrideW", 1)
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    first = np.maximum(oy * sh - ph, 0) * iw + np.maximum(ox * sw - pw, 0)
    return bool(np.all(first >= oy * ow + ox))


def find_add_pools(graph: Graph, taken: frozenset[int] = frozenset()) -> dict[int, int]:
    """``MAX_POOL_2D op index -> ADD op index`` for every int8 ADD whose operands and output share one shape (no
    broadcast), whose output only one int8 MAX_POOL_2D reads (and is not a graph output), with rescalings the
    optimized library's fast ADD takes (``quant.fast_rescalings``), its pooling's windows never empty (no padding
    past a whole window). The fused kernel (``tinyasc_add_max_pool_s8``) takes the maximum of each window's sums
    before the ADD's output rescaling, which is monotone (TFLite's doubling high multiply and rounding shift round
    half away from zero, then the zero point and a clamp): the ADD's and the pooling's integers exactly.
    ``taken``: ADDs already fused elsewhere, left alone."""
    found: dict[int, int] = {}
    for op in graph.operators:
        if op.opcode != "ADD" or op.index in taken or len(op.inputs) < 2 or not op.outputs:
            continue
        a, b, y = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
        if not (a.dtype == b.dtype == y.dtype == "INT8") or a.is_const or b.is_const or op.inputs[0] == op.inputs[1]:
            continue
        if not (tuple(a.shape) == tuple(b.shape) == tuple(y.shape)) or len(y.shape) != 4:
            continue
        pool = _single_consumer(graph, op.outputs[0])
        if pool is None or pool.opcode != "MAX_POOL_2D" or pool.inputs[0] != op.outputs[0]:
            continue
        z = graph.tensors[pool.outputs[0]]
        if z.dtype != "INT8" or z.q() != y.q():
            continue
        ph, pw = _pool_pads(graph, pool)
        if ph >= pool.options.get("FilterHeight", 1) or pw >= pool.options.get("FilterWidth", 1):
            continue  # a window wholly in the padding: the pooling's -128, not a sum
        if not quant.fast_rescalings(*quant.add_params(float(a.q()[0]), float(b.q()[0]), float(y.q()[0])), "add"):
            continue
        found[pool.index] = op.index
    return found


@dataclass(frozen=True)
class BandAffine:
    """A chain TRANSPOSE/RESHAPE... -> per-channel 1x1 conv -> TRANSPOSE/RESHAPE... whose composed
    effect on its input x [1, H, W, C] is element-wise: y[h, w, c] = conv channel k applied to
    x[h, w, c], with k = c * bands + h // rows (rows = H / bands)."""

    members: tuple[int, ...]
    """Op indices of the chain except its last (fused into it); includes the conv."""
    conv: int
    last: int
    source: int
    """The chain's input tensor x."""
    bands: int
    rows: int


_MOVES = frozenset({"TRANSPOSE", "RESHAPE"})


def _single_consumer(graph: Graph, t: int) -> Operator | None:
    users = graph.consumers(t)
    return graph.operators[users[0]] if len(users) == 1 and t not in graph.outputs else None


def _moved(graph: Graph, op: Operator, idx: np.ndarray) -> np.ndarray | None:
    """``idx`` (source flat indices laid out as ``op``'s input) laid out as its output; None if ``op``
    is not a pure int8 data movement with unchanged quantization."""
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if x.dtype != "INT8" or y.dtype != "INT8" or x.q() != y.q():
        return None
    if op.opcode == "RESHAPE":
        return idx.reshape(y.shape)
    perm = graph.tensors[op.inputs[1]] if len(op.inputs) > 1 else None
    if perm is None or not perm.is_const:
        return None
    return idx.transpose([int(p) for p in np.asarray(perm.data).reshape(-1)])


def _per_channel_1x1(graph: Graph, op: Operator) -> int | None:
    """Channels of a 1x1 stride-1 convolution with one input channel per output channel (grouped
    CONV_2D or DEPTHWISE_CONV_2D with multiplier 1): a per-channel affine."""
    if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D") or len(op.inputs) < 2:
        return None
    x, w, y = (graph.tensors[k] for k in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if x.dtype != "INT8" or len(x.shape) != 4 or tuple(x.shape) != tuple(y.shape) or x.shape[0] != 1:
        return None
    if op.options.get("StrideH", 1) != 1 or op.options.get("StrideW", 1) != 1:
        return None
    k = x.shape[3]
    want = (k, 1, 1, 1) if op.opcode == "CONV_2D" else (1, 1, 1, k)
    return k if tuple(w.shape) == want else None


def find_band_affines(graph: Graph) -> dict[int, BandAffine]:
    """Last op index -> :class:`BandAffine` for every fusable sub-band affine chain.

    The chain is found by walking single-consumer TRANSPOSE/RESHAPE ops to a per-channel 1x1 conv
    and on to the first tensor of the input's shape; it is fused only if the composed index maps
    make it element-wise with the banded channel map (checked on every element, not assumed from
    the permutations)."""
    found: dict[int, BandAffine] = {}
    for op in graph.operators:
        if op.opcode != "TRANSPOSE" or any(op.index in b.members for b in found.values()):
            continue
        x = graph.tensors[op.inputs[0]]
        if x.is_const or x.dtype != "INT8" or len(x.shape) != 4 or x.shape[0] != 1:
            continue
        members: list[int] = []
        idx: np.ndarray | None = np.arange(x.size).reshape(x.shape)
        cur: Operator | None = op
        while cur is not None and cur.opcode in _MOVES:
            idx = _moved(graph, cur, idx)
            if idx is None:
                break
            members.append(cur.index)
            cur = _single_consumer(graph, cur.outputs[0])
        k = _per_channel_1x1(graph, cur) if cur is not None and idx is not None else None
        if k is None:
            continue
        conv, src_of = cur, idx.reshape(-1)
        members.append(conv.index)
        out = graph.tensors[conv.outputs[0]]
        post: np.ndarray | None = np.arange(out.size).reshape(out.shape)
        last = None
        cur = _single_consumer(graph, conv.outputs[0])
        while cur is not None and cur.opcode in _MOVES:
            post = _moved(graph, cur, post)
            if post is None:
                break
            if tuple(post.shape) == tuple(x.shape):
                last = cur
                break
            members.append(cur.index)
            cur = _single_consumer(graph, cur.outputs[0])
        if last is None:
            continue
        q = post.reshape(-1)  # conv element written at each output position
        if not np.array_equal(src_of[q], np.arange(x.size)):
            continue  # not element-wise
        _, h, w, c = x.shape
        if k % c or h % (k // c):
            continue
        bands = k // c
        rows = h // bands
        chan = (q % k).reshape(h, w, c)
        want = np.arange(c)[None, None, :] * bands + np.arange(h)[:, None, None] // rows
        if not np.array_equal(chan, np.broadcast_to(want, chan.shape)):
            continue
        found[last.index] = BandAffine(members=tuple(members), conv=conv.index, last=last.index,
                                       source=op.inputs[0], bands=bands, rows=rows)
    return found


def find_band_adds(graph: Graph, bands: dict[int, BandAffine]) -> dict[int, int]:
    """``ADD op index -> band chain's last op index`` for every fused sub-band affine (:func:`find_band_affines`)
    whose output is read only by one int8 ADD (and is not a graph output) whose other operand is one row broadcast
    down the rows: shape ``[1, 1, W, C]`` against the chain's ``[1, H, W, C]``, the BC-ResBlock's temporal branch
    added to every frequency row. The fused kernel (``tinyasc_band_add_s8``) computes each affine output and adds
    the row's element to it; the other operand cannot share the output's bytes (a smaller tensor live at the same
    step), so the portable kernel may run the affine into the output and the ADD over it. Only an ADD whose
    rescalings the optimized library's fast ADD takes (``quant.fast_rescalings``), the fused kernel's fallback."""
    found: dict[int, int] = {}
    for last, band in bands.items():
        out = graph.operators[last].outputs[0]
        add = _single_consumer(graph, out)
        if add is None or add.opcode != "ADD" or len(add.inputs) < 2 or list(add.inputs[:2]).count(out) != 1:
            continue
        other = graph.tensors[add.inputs[1] if add.inputs[0] == out else add.inputs[0]]
        x, y = graph.tensors[band.source], graph.tensors[add.outputs[0]]
        if y.dtype != "INT8" or other.dtype != "INT8" or other.is_const or tuple(y.shape) != tuple(x.shape):
            continue
        _, _, w, c = x.shape
        if tuple(other.shape) != (1, 1, w, c):
            continue
        a, b = (graph.tensors[k] for k in add.inputs[:2])
        if not quant.fast_rescalings(*quant.add_params(float(a.q()[0]), float(b.q()[0]), float(y.q()[0])), "add"):
            continue  # the ADD's fast entry would not take it: every ADD TFLite prepares does
        found[add.index] = last
    return found


def _conflict(offset: int, buf: Buffer, other: Buffer) -> bool:
    """Whether ``buf`` at ``offset`` overlaps ``other`` in memory at any step both are live."""
    for step, size in buf.profile.items():
        o_size = other.profile.get(step)
        if o_size is not None and offset < other.offset + o_size and other.offset < offset + size:
            return True
    return False


def lifetimes(graph: Graph, fused: dict[int, int] | None = None) -> dict[int, tuple[int, int]]:
    """``tensor -> (first step, last step)`` for every stored non-constant tensor.

    A fused MUL's output is not stored; its inputs live until the MEAN that consumes them.
    """
    fused = fused or {}
    skip = {graph.operators[m].outputs[0] for m in fused}
    n = len(graph.operators)
    life: dict[int, list[int]] = {}
    for t in graph.inputs:
        life[t] = [0, 0]
    for op in graph.operators:
        step = fused.get(op.index, op.index)
        for t in op.outputs:
            if t < 0 or graph.tensors[t].is_const or t in skip:
                continue
            life.setdefault(t, [op.index, op.index])
        for t in op.inputs:
            if t < 0 or graph.tensors[t].is_const or t in skip:
                continue
            span = life.setdefault(t, [op.index, step])
            span[1] = max(span[1], step)
    for t in graph.outputs:
        if t in life:
            life[t][1] = max(life[t][1], n - 1)
    return {t: (a, b) for t, (a, b) in life.items()}


def plan_arena(graph: Graph, *, alignment: int = 16, in_place: bool = True, fuse: bool = True,
               fuse_add_pools: bool = True, exclude: frozenset[int] = frozenset(),
               pinned: frozenset[int] = frozenset()) -> ArenaPlan:
    """Lifetime-based greedy-by-size plan with in-place aliases and fusions (module docstring).

    ``fuse_add_pools``: with ``fuse``, ADDs fused into the MAX_POOL_2D that reads them (:func:`find_add_pools`; the
    generator asks for it in the Cortex-M libraries: ``generator.add_pools_pay``).

    ``exclude``: tensors stored outside the arena (a time-tiled model's whole-clip features).
    ``pinned``: tensors live for the whole run (a streamed model's buffers that carry columns from
    one step to the next)."""
    fused = find_fusions(graph) if fuse else {}
    bands = find_band_affines(graph) if fuse else {}
    band_adds = find_band_adds(graph, bands) if fuse else {}
    into = {last: add for add, last in band_adds.items()}
    for band in bands.values():  # a chain fused into an ADD: its inputs live until the ADD
        fused.update({m: into.get(band.last, band.last) for m in band.members})
    fused.update(into)
    silu = find_silu(graph, frozenset(fused)) if fuse else {}
    fused.update({lg: mul for mul, lg in silu.items()})
    add_pools = find_add_pools(graph, frozenset(fused) | frozenset(band_adds)) if fuse and fuse_add_pools else {}
    fused.update({add: pool for pool, add in add_pools.items()})
    last = len(graph.operators) - 1
    life = {t: ((0, last) if t in pinned else span) for t, span in lifetimes(graph, fused).items()
            if t not in exclude}
    sizes = {t: graph.tensors[t].nbytes for t in life}
    # Union tensors that share storage; `owner[t]` = representative tensor.
    owner = {t: t for t in life}

    def find(t: int) -> int:
        while owner[t] != t:
            owner[t] = owner[owner[t]]
            t = owner[t]
        return t

    members: dict[int, list[int]] = {t: [t] for t in life}
    span = {t: list(life[t]) for t in life}
    aliases: dict[int, int] = {}
    scratch: dict[int, int] = {}

    def merge(src: int, dst: int) -> None:
        a, b = find(src), find(dst)
        if a == b:
            return
        owner[b] = a
        members[a].extend(members.pop(b))
        span[a] = [min(span[a][0], span[b][0]), max(span[a][1], span[b][1])]

    for op in graph.operators:
        if not op.outputs or op.outputs[0] not in life:
            continue
        out = op.outputs[0]
        out_t = graph.tensors[out]
        cand: int | None = None
        if op.opcode in ALIAS_OPS:
            src = op.inputs[0]
            if src in life:
                cand = src
        elif in_place and op.index in add_pools and pool_writes_behind_reads(graph, op):
            # the fused ADD + pooling: the pooled output written over an ADD operand whose buffer ends here
            ins = graph.operators[add_pools[op.index]].inputs[:2]
            for src in ins if len({find(k) for k in ins if k in life}) == 2 else ():
                if span[find(src)][1] == op.index and src not in graph.outputs:
                    cand = src
                    break
        elif in_place and (op.opcode in ELEMENTWISE_UNARY or op.opcode in ELEMENTWISE_BINARY
                           or pointwise_conv_in_place_ok(graph, op) or column_conv_in_place(graph, op)):
            pointwise = op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")
            ins = list(op.inputs[:2 if op.opcode in ELEMENTWISE_BINARY else 1])
            if op.index in band_adds:  # the fused ADD writes over the band chain's input, not its (unstored) output
                band = bands[band_adds[op.index]]
                ins = [band.source if k == graph.operators[band.last].outputs[0] else k for k in ins]
            for src in ins:
                if src not in life:
                    continue
                if not pointwise and tuple(graph.tensors[src].shape) != tuple(out_t.shape):
                    continue
                # the whole buffer the input lives in must end here (aliases included)
                root = find(src)
                if span[root][1] != op.index or src in graph.outputs:
                    continue
                # another operand stored in the same buffer must be read at the same index
                others = [k for k in ins if k != src and k in life and find(k) == root]
                if any(tuple(graph.tensors[k].shape) != tuple(out_t.shape) for k in others):
                    continue
                cand = src
                break
        if cand is not None:
            col = column_conv_in_place(graph, op) if not pointwise_conv_in_place_ok(graph, op) else None
            if col is not None:
                x = graph.tensors[cand]
                need = (col[0] + 1) * x.shape[2] * x.shape[3]
                if 2 * need > x.nbytes:  # the saving must beat the scratch
                    continue
                sid = len(graph.tensors) + op.index
                scratch[op.index] = sid
                life[sid] = (op.index, op.index)
                sizes[sid] = need
                owner[sid] = sid
                members[sid] = [sid]
                span[sid] = [op.index, op.index]
            aliases[out] = cand
            size = max(sizes[find(cand)], sizes[out])
            merge(cand, out)
            sizes[find(cand)] = size

    tensor_sizes = {t: graph.tensors[t].nbytes for t in life if t < len(graph.tensors)}
    tensor_sizes.update({sid: sizes[sid] for sid in scratch.values()})
    buffers = []
    for i, root in enumerate(sorted(members)):
        prof: dict[int, int] = {}
        for t in members[root]:
            for step in range(life[t][0], life[t][1] + 1):
                prof[step] = max(prof.get(step, 0), tensor_sizes[t])
        buffers.append(Buffer(id=i, tensors=sorted(members[root]), size=max(prof.values()),
                              first=span[root][0], last=span[root][1], profile=prof))

    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.id)):
        live = [p for p in placed if not (p.last < buf.first or buf.last < p.first)]
        candidates = sorted({0} | {_align(p.offset + max(p.profile[s] for s in p.profile if s in buf.profile),
                                          alignment)
                                   for p in live if any(s in buf.profile for s in p.profile)})
        for offset in candidates:
            if not any(_conflict(offset, buf, p) for p in live):
                break
        buf.offset = offset
        placed.append(buf)

    offsets = {t: b.offset for b in buffers for t in b.tensors}
    arena = _align(max((b.offset + b.size for b in buffers), default=0), alignment)
    naive = sum(_align(n, alignment) for n in tensor_sizes.values())
    stages: dict[int, int] = {}
    if in_place:  # carved from what the placement leaves free: not tensors of the naive (no-reuse) sum
        for op_index, (offset, size) in _in_place_stages(graph, buffers, aliases, scratch, arena, alignment).items():
            sid = len(graph.tensors) + len(graph.operators) + op_index
            stages[op_index] = sid
            offsets[sid], tensor_sizes[sid], life[sid] = offset, size, (op_index, op_index)
    return ArenaPlan(arena_size=arena, alignment=alignment, offsets=offsets, stages=stages,
                     sizes=tensor_sizes, lifetimes=life, scratch=scratch,
                     buffers=sorted(buffers, key=lambda b: b.id), aliases=aliases, fused=fused,
                     naive_size=naive, bands=bands, band_adds=band_adds, silu=silu, add_pools=add_pools)


#: A 1x1 in-place layer gets a stage in the arena above this many bytes (the optimized kernels' own stage,
#: TINYASC_OPT_STAGE in c/opt/tinyasc_opt_inplace.c): its pixels in fewer chunks, each chunk's per-channel set-up
#: paid once (the whole layer in one chunk where the free region holds its output).
STAGE_MIN = 2048


def _in_place_stages(graph: Graph, buffers: list[Buffer], aliases: dict[int, int], scratch: dict[int, int], arena: int,
                     alignment: int) -> dict[int, tuple[int, int]]:
    """``op -> (offset, bytes)`` for each 1x1 in-place layer whose largest free region at its step, up to its output
    bytes, is more than :data:`STAGE_MIN`."""
    stages = {}
    for op in graph.operators:
        out = op.outputs[0] if op.outputs else -1
        if op.index in scratch or aliases.get(out) != op.inputs[0] or not pointwise_conv_in_place_ok(graph, op):
            continue
        offset, free = _largest_free(buffers, op.index, arena, alignment)
        size = min(free, graph.tensors[out].nbytes)
        if size > STAGE_MIN:
            stages[op.index] = (offset, size)
    return stages


def _largest_free(buffers: list[Buffer], step: int, arena: int, alignment: int) -> tuple[int, int]:
    """``(offset, bytes)`` of the largest aligned region of ``[0, arena)`` that no buffer holds at ``step``."""
    held = sorted((b.offset, b.offset + b.profile[step]) for b in buffers if step in b.profile)
    best, cur = (0, 0), 0
    for lo, hi in held + [(arena, arena)]:
        start = _align(cur, alignment)
        if lo - start > best[1]:
            best = (start, lo - start)
        cur = max(cur, hi)
    return best


def overlapping_live_tensors(plan: ArenaPlan) -> list[tuple[int, int]]:
    """Pairs of tensors that are live at the same step and overlap in memory without being
    declared aliases of each other (must be empty for a valid plan)."""
    def group(t: int) -> int:
        seen = set()
        while t in plan.aliases and t not in seen:
            seen.add(t)
            t = plan.aliases[t]
        return t

    bad = []
    ts = sorted(plan.offsets)
    for i, a in enumerate(ts):
        for b in ts[i + 1:]:
            la, lb = plan.lifetimes[a], plan.lifetimes[b]
            if la[1] < lb[0] or lb[1] < la[0]:
                continue
            oa, ob = plan.offsets[a], plan.offsets[b]
            if oa + plan.sizes[a] <= ob or ob + plan.sizes[b] <= oa:
                continue
            if group(a) == group(b):
                continue
            bad.append((a, b))
    return bad
