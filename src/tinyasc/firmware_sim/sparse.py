"""Sparse int8 convolution weights that are real on flash (Cortex-M libraries; ``--dense`` opts out).

Encoding (``c/sparse/tinyasc_sparse.h``), per output channel of a CONV_2D filter flattened
to ``[k_h][k_w][in_c]``: ``row_nnz[oc]`` (uint16), then one gap byte per non-zero (the zeros
skipped before it; 255 = skip 255 more, no weight) and the non-zero int8 values. Flash is
``2 * out_c + n_gaps + nnz`` bytes (+ a 24-byte descriptor), about 2 bytes per non-zero: the 89%-pruned convolutions
cost about 22% of their dense bytes. The C kernel skips the zeros and is bit-exact with the
dense kernels (tests/test_latency_kernels.py).

The generator emits it (``GeneratorOptions.sparse_weights``, on by default for a Cortex-M
library): a non-grouped CONV_2D whose sparse form is smaller (and whose window fits
``TINYASC_SPARSE_MAX_K``, and whose window spans at most ``TINYASC_SPARSE_MAX_SPAN`` input bytes; on a Helium
core only layers with one input channel, pointwise layers where its planes kernel beats the dense one, or at most
3% dense, :func:`why_dense`) gets ``lN_sparse`` instead of a dense ``lN_filter``, and its
``tinyasc_weights`` has ``.data = NULL, .sparse = &lN_sparse``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

#: On a Helium core the scalar sparse kernel beats the dense ones only this sparse (non-zeros / dense weights) or
#: with one input channel: the break-even measured on the quick model's layer 94 (density 0.042: sparse 298,574
#: est. cycles, dense 238,398 on the M55 of session 32) is about 0.034; the 1-to-2.5%-dense layers of MLPerf Tiny's
#: VWW gain sparse (docs/latency.md, session 32).
HELIUM_SPARSE_MAX_DENSITY = 0.03
#: Helium's pointwise layers on planes (``mve_sparse_pw`` in c/sparse/tinyasc_sparse.c) against its dense pointwise
#: kernel, estimated cycles per output (M55 timing model). Sparse: PLANES_OUT (the output step, 17 cycles per four
#: outputs, and a chunk's overheads) + PLANES_PER_NONZERO per non-zero of the output's channel (a VLDRB and a VMLA per
#: four pixels, the scalar load of the non-zero per sixteen) + PLANES_STAGE per input channel per output channel (the
#: staging, 7 cycles per eight bytes, of sessions 50-56; since session 57 the kernel gathers its inputs in place and
#: stages nothing, and its output step is cheaper: these constants, left as measured then, now overestimate the
#: sparse side, so a layer goes sparse only where it already paid with the staging). Dense: DENSE_PER_BLOCK per 16 input channels (VMLADAVA pairs: 28 cycles per
#: block of eight outputs) + DENSE_OUT. On the quick model's five large pointwise layers the sparse estimate is within
#: 8% of the measured cycles and the dense one at or below them (docs/latency.md, session 50); on layers of 4 to 17
#: pixels both kernels pay per-call costs these leave out (there the planes won too).
PLANES_OUT = 7.0
PLANES_PER_NONZERO = 1.4
PLANES_STAGE = 0.9
DENSE_PER_BLOCK = 3.5
DENSE_OUT = 13.0
#: Must equal TINYASC_SPARSE_MAX_K in c/sparse/tinyasc_sparse.h.
SPARSE_MAX_K = 1280
#: Must equal TINYASC_SPARSE_MAX_SPAN: the largest window span in input bytes (every offset fits 16 bits).
SPARSE_MAX_SPAN = 65536
ESCAPE = 255
#: sizeof(tinyasc_sparse_weights) on 32-bit Cortex-M: four pointers and three int32.
DESCRIPTOR_BYTES = 24


@dataclass(frozen=True)
class SparseRows:
    """A sparse (out_c, K) int8 matrix in the on-flash encoding."""

    row_nnz: np.ndarray  # uint16 (out_c,)
    gaps: np.ndarray  # uint8 (n_gaps,)
    values: np.ndarray  # int8 (nnz,)
    k: int

    @property
    def out_c(self) -> int:
        return int(self.row_nnz.size)

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    @property
    def flash_bytes(self) -> int:
        """Arrays plus the 24-byte ``tinyasc_sparse_weights`` descriptor (alignment padding aside)."""
        return 2 * self.out_c + int(self.gaps.size) + self.nnz + DESCRIPTOR_BYTES

    @property
    def dense_bytes(self) -> int:
        return self.out_c * self.k


def encode_rows(w: np.ndarray) -> SparseRows:
    """Encode an int8 (out_c, K) matrix."""
    w = np.asarray(w)
    if w.ndim != 2 or w.dtype != np.int8:
        raise ValueError(f"need an int8 (out_c, K) matrix, got {w.dtype} {w.shape}")
    gaps: list[int] = []
    nnz: list[int] = []
    for row in w:
        idx = np.flatnonzero(row)
        if idx.size > 0xFFFF:
            raise ValueError("more than 65535 non-zeros in one output channel")
        nnz.append(int(idx.size))
        prev = 0
        for j in idx:
            gap = int(j) - prev
            while gap >= ESCAPE:
                gaps.append(ESCAPE)
                gap -= ESCAPE
            gaps.append(gap)
            prev = int(j) + 1
    values = w[w != 0]  # row-major: the same order as the gaps
    return SparseRows(row_nnz=np.array(nnz, np.uint16), gaps=np.array(gaps, np.uint8),
                      values=values.astype(np.int8), k=int(w.shape[1]))


def decode_rows(s: SparseRows) -> np.ndarray:
    """Inverse of :func:`encode_rows` (tests and audits)."""
    out = np.zeros((s.out_c, s.k), np.int8)
    g = v = 0
    for oc, n in enumerate(s.row_nnz):
        pos = 0
        for _ in range(int(n)):
            while s.gaps[g] == ESCAPE:
                pos += ESCAPE
                g += 1
            pos += int(s.gaps[g])
            g += 1
            out[oc, pos] = s.values[v]
            v += 1
            pos += 1
    return out


def window_span(*, k_h: int, k_w: int, dil_h: int, dil_w: int, in_w: int, in_c: int) -> int:
    """Input bytes a window spans in an NHWC row-major input: the kernel's offsets are below this."""
    return ((k_h - 1) * dil_h * in_w + (k_w - 1) * dil_w + 1) * in_c


def planes_fit(enc: SparseRows, *, in_c: int) -> bool:
    """Whether Helium's pointwise planes kernel holds the layer: each channel's constants and non-zeros in the sparse
    kernel's word table (4 words a channel, 2 a non-zero; the channels go in groups the table holds) and one pixel's
    planes in its byte buffer."""
    return 4 + 2 * int(enc.row_nnz.max(initial=0)) <= SPARSE_MAX_K and in_c + 16 <= 2 * SPARSE_MAX_K


def planes_groups(enc: SparseRows) -> int:
    """The channel groups ``mve_sparse_pw`` splits the layer into (each a pass of its kernel over the pixels; until
    session 57 each restaged the planes): channels taken in order while their words fit the table."""
    groups, words = 1, 0
    for n in enc.row_nnz.tolist():
        if words + 4 + 2 * n > SPARSE_MAX_K:
            groups, words = groups + 1, 0
        words += 4 + 2 * n
    return groups


def helium_planes_pay(enc: SparseRows, *, in_c: int) -> bool:
    """Whether a pointwise layer costs fewer estimated cycles on Helium's planes (sparse) than through its dense
    pointwise kernel (the constants above; the staging once per channel group), and the planes kernel holds it."""
    if not planes_fit(enc, in_c=in_c):
        return False
    sparse = (PLANES_OUT + PLANES_PER_NONZERO * enc.nnz / enc.out_c
              + PLANES_STAGE * planes_groups(enc) * in_c / enc.out_c)
    dense = DENSE_PER_BLOCK * -(-in_c // 16) + DENSE_OUT
    return sparse < dense


def why_dense(enc: SparseRows, *, grouped: bool, span: int, helium: bool = False, in_c: int = 0,
              planes: bool = False) -> str | None:
    """Why a CONV_2D with this encoding stays dense (the kernel does not take it, it saves nothing, or on a Helium
    core the dense kernel is faster), or None.

    ``helium``: the library's core has MVE. Its dense convolutions (VMLADAVA over 16 bytes, four output channels
    per pointwise pass) beat the scalar sparse kernel at the paper's 89% sparsity except where the layer has one
    input channel (the sparse kernel's Helium one-channel path) or is at most ``HELIUM_SPARSE_MAX_DENSITY`` dense:
    measured on the quick model's 15 sparse layers, dense 1.1-2.2x faster on 13, the one-channel layer 0.48x, one
    even (docs/latency.md, session 31). ``planes``: the layer is a pointwise one Helium's planes kernel takes (1 x 1,
    stride 1, no padding, the whole int8 range: :func:`.generator.pointwise_on_planes`); it goes sparse where
    :func:`helium_planes_pay`."""
    if grouped:
        return "grouped convolution"
    on_planes = planes and planes_fit(enc, in_c=in_c)
    if (helium and in_c > 1 and not (on_planes and helium_planes_pay(enc, in_c=in_c))
            and enc.nnz > HELIUM_SPARSE_MAX_DENSITY * enc.dense_bytes):
        density = enc.nnz / max(enc.dense_bytes, 1)
        if on_planes:
            return f"Helium's dense pointwise kernel is estimated faster than its sparse planes at density {density:.3f}"
        return (f"Helium's dense kernel is faster than the scalar sparse one at density "
                f"{density:.3f} > {HELIUM_SPARSE_MAX_DENSITY}")
    if enc.k > SPARSE_MAX_K:
        return f"window of {enc.k} > {SPARSE_MAX_K}"
    if span > SPARSE_MAX_SPAN:
        return f"window span of {span} B > {SPARSE_MAX_SPAN}"
    if enc.flash_bytes >= enc.dense_bytes:
        return "sparse encoding not smaller"
    return None


def _c_list(values: np.ndarray, per_line: int = 32) -> str:
    flat = [str(int(x)) for x in np.asarray(values).reshape(-1)] or ["0"]
    return "\n".join("    " + ", ".join(flat[i:i + per_line]) + "," for i in range(0, len(flat), per_line))


def emit_c(name: str, s: SparseRows, *, planes: bool = False) -> str:
    """C definitions of ``<name>_nnz/_gaps/_values`` and the ``tinyasc_sparse_weights <name>``; ``planes``: the layer
    is a pointwise one Helium's planes kernel takes (:func:`.generator.pointwise_on_planes`), its ``.planes`` field."""
    return (
        f"/* sparse: {s.nnz} non-zeros of {s.dense_bytes} weights, {s.flash_bytes} B (dense {s.dense_bytes} B) */\n"
        f"static const uint16_t {name}_nnz[{max(s.out_c, 1)}] = {{\n{_c_list(s.row_nnz)}\n}};\n"
        f"static const uint8_t {name}_gaps[{max(s.gaps.size, 1)}] = {{\n{_c_list(s.gaps)}\n}};\n"
        f"static const int8_t {name}_values[{max(s.nnz, 1)}] = {{\n{_c_list(s.values)}\n}};\n"
        f"static const tinyasc_sparse_weights {name} = {{.row_nnz = {name}_nnz, .gaps = {name}_gaps, "
        f".values = {name}_values, .k = {s.k}, .n_gaps = {int(s.gaps.size)}, .planes = {int(planes)}, "
        f".kernel = tinyasc_sparse_conv2d_s8}};\n"
    )


@dataclass(frozen=True, kw_only=True)
class SparseLayer:
    """One CONV_2D considered for sparse weights: its sizes and whether (or why not) it is stored sparse."""

    layer: int
    out_c: int
    k: int
    nnz: int
    dense_bytes: int
    sparse_bytes: int
    used: bool
    reason: str
