"""Typed, frozen parameters of a generated kernel call: what an operator's prepare step computes.

Each class mirrors one parameter struct of ``c/include/tinyasc_kernels.h`` field for field (names and
order; ``tests/test_firmware_params.py`` parses the header and compares), so the prepare step of the
op registry (:attr:`.generator.OpSpec.prepare`) returns a value that is checked when it is built
(types, array lengths, ranges: ValueError, which the generator turns into one line naming the operator) and the emitter only formats it as a designated initializer
(:meth:`CStruct.c_decl`: ``static const tinyasc_conv_params l3_p = {.batches = 1, ...};``).

Field types: ``int`` (an ``int32_t``/``int8_t``/``int16_t`` member), ``tuple[int, ...]`` (a
``[TINYASC_MAX_DIMS]`` array: exactly 6 values), a nested :class:`CStruct`, or :class:`CRef` (a pointer
member: the C name of a constant array, ``&name``, or ``NULL``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, ClassVar

MAX_DIMS = 6
_REF = re.compile(r"^(NULL|&?[A-Za-z_][A-Za-z0-9_]*)$")
_RANGES = {"int8_t": (-128, 127), "int16_t": (-32768, 32767), "int32_t": (-(1 << 31), (1 << 31) - 1)}


class CRef(str):
    """A pointer member's value: the C name of a constant, ``&name`` or ``NULL``."""

    def __new__(cls, value: str) -> "CRef":
        if not _REF.match(value):
            raise ValueError(f"not a C name, &name or NULL: {value!r}")
        return super().__new__(cls, value)


NULL = CRef("NULL")


@dataclass(frozen=True, kw_only=True)
class CStruct:
    """Base of the parameter records: validation on construction, C initializer on demand."""

    C_TYPE: ClassVar[str]
    #: members narrower than int32_t (their C type), for the range check
    NARROW: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, CStruct) or isinstance(v, CRef):
                continue
            if isinstance(v, tuple):
                if len(v) != MAX_DIMS or not all(_is_int(x) for x in v):
                    raise ValueError(f"{self.C_TYPE}.{f.name}: {MAX_DIMS} integers expected, got {v!r}")
                values = v
            elif _is_int(v):
                values = (v,)
            else:
                raise ValueError(f"{self.C_TYPE}.{f.name}: int, {MAX_DIMS}-tuple, CStruct or CRef expected, got {v!r}")
            lo, hi = _RANGES[self.NARROW.get(f.name, "int32_t")]
            if any(not lo <= int(x) <= hi for x in values):
                raise ValueError(f"{self.C_TYPE}.{f.name} = {v!r} outside {self.NARROW.get(f.name, 'int32_t')}")
        self.check()

    def check(self) -> None:
        """Relations between fields (subclasses); raises ValueError."""

    def initializer(self) -> str:
        """``{.name = value, ...}`` in field order; arrays as ``{a, b, ...}``, nested structs recursively."""
        parts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, CStruct):
                s = v.initializer()
            elif isinstance(v, tuple):
                s = "{" + ", ".join(str(int(x)) for x in v) + "}"
            else:
                s = str(v) if isinstance(v, CRef) else str(int(v))
            parts.append(f".{f.name} = {s}")
        return "{" + ", ".join(parts) + "}"

    def c_decl(self, name: str) -> str:
        """``static const <C_TYPE> name = {...};``"""
        return f"static const {self.C_TYPE} {name} = {self.initializer()};\n"


def _is_int(x: Any) -> bool:
    import numpy as np

    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _act(p: Any) -> None:
    if p.act_min > p.act_max:
        raise ValueError(f"{p.C_TYPE}: act_min {p.act_min} > act_max {p.act_max}")


def _positive(p: Any, *names: str) -> None:
    for n in names:
        if getattr(p, n) < 1:
            raise ValueError(f"{p.C_TYPE}.{n} = {getattr(p, n)} (must be >= 1)")


# ------------------------------------------------------------------------------ convolutions


@dataclass(frozen=True, kw_only=True)
class ConvParams(CStruct):
    """CONV_2D / DEPTHWISE_CONV_2D (int8 and 16x8)."""

    C_TYPE: ClassVar[str] = "tinyasc_conv_params"
    batches: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    pad_h: int
    pad_w: int
    filter_in_c: int
    depth_multiplier: int
    input_offset: int
    output_offset: int
    act_min: int
    act_max: int

    def check(self) -> None:
        _positive(self, "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h",
                  "stride_w", "dil_h", "dil_w", "filter_in_c", "depth_multiplier")
        if self.in_c % self.filter_in_c:
            raise ValueError(f"{self.C_TYPE}: filter_in_c {self.filter_in_c} does not divide in_c {self.in_c}")
        _act(self)


@dataclass(frozen=True, kw_only=True)
class WeightsRef(CStruct):
    """``tinyasc_weights``: the names of a convolution's (or FULLY_CONNECTED's) constant arrays."""

    C_TYPE: ClassVar[str] = "tinyasc_weights"
    data: CRef
    bias: CRef
    multiplier: CRef
    shift: CRef
    sparse: CRef


@dataclass(frozen=True, kw_only=True)
class Weights16x8Ref(CStruct):
    """``tinyasc_weights_16x8``: int64 biases, no sparse encoding."""

    C_TYPE: ClassVar[str] = "tinyasc_weights_16x8"
    data: CRef
    bias: CRef
    multiplier: CRef
    shift: CRef


@dataclass(frozen=True, kw_only=True)
class BandParams(CStruct):
    """The sub-band affine fusion (TRANSPOSE/RESHAPE -> per-channel 1x1 conv -> TRANSPOSE/RESHAPE)."""

    C_TYPE: ClassVar[str] = "tinyasc_band_params"
    h: int
    w: int
    c: int
    bands: int

    def check(self) -> None:
        _positive(self, "h", "w", "c", "bands")
        if self.h % self.bands:
            raise ValueError(f"{self.C_TYPE}: {self.bands} bands do not divide h = {self.h}")


@dataclass(frozen=True, kw_only=True)
class FcParams(CStruct):
    """FULLY_CONNECTED int8."""

    C_TYPE: ClassVar[str] = "tinyasc_fc_params"
    batches: int
    accum_depth: int
    out_depth: int
    input_offset: int
    filter_offset: int
    output_offset: int
    act_min: int
    act_max: int
    per_channel: int

    def check(self) -> None:
        _positive(self, "batches", "accum_depth", "out_depth")
        _act(self)


@dataclass(frozen=True, kw_only=True)
class FcBlocksParams(CStruct):
    """FULLY_CONNECTED int8 with the weights in row blocks (``generator.fc_row_blocks``)."""

    C_TYPE: ClassVar[str] = "tinyasc_fc_blocks_params"
    fc: FcParams
    block_rows: int
    block_k: int

    def check(self) -> None:
        if not 1 <= self.block_rows <= 8 or self.block_k < 1:
            raise ValueError(f"{self.C_TYPE}: block_rows 1..8 and block_k >= 1, got {self.block_rows}, {self.block_k}")


# ------------------------------------------------------------------------------ element-wise


@dataclass(frozen=True, kw_only=True)
class BinaryParams(CStruct):
    """ADD / SUB / MUL / SQUARED_DIFFERENCE with broadcasting (int8 and int16)."""

    C_TYPE: ClassVar[str] = "tinyasc_binary_params"
    size: int
    broadcast: int
    out_dims: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]
    in1_offset: int
    in2_offset: int
    out_offset: int
    left_shift: int
    in1_mult: int
    in1_shift: int
    in2_mult: int
    in2_shift: int
    out_mult: int
    out_shift: int
    act_min: int
    act_max: int

    def check(self) -> None:
        n = 1
        for d in self.out_dims:
            n *= d
        if n != self.size or self.broadcast not in (0, 1):
            raise ValueError(f"{self.C_TYPE}: size {self.size} != prod(out_dims) {n}, or broadcast not 0/1")
        _act(self)


@dataclass(frozen=True, kw_only=True)
class LogisticParams(CStruct):
    C_TYPE: ClassVar[str] = "tinyasc_logistic_params"
    size: int
    input_zero_point: int
    input_range_radius: int
    input_multiplier: int
    input_shift: int


@dataclass(frozen=True, kw_only=True)
class LutParams(CStruct):
    """An int8 element-wise chain as one table: ``out[i] = table[(uint8_t)in[i]]``."""

    C_TYPE: ClassVar[str] = "tinyasc_lut_params"
    size: int
    table: CRef


@dataclass(frozen=True, kw_only=True)
class LogisticS16Params(CStruct):
    C_TYPE: ClassVar[str] = "tinyasc_logistic_s16_params"
    size: int
    input_multiplier: int
    input_left_shift: int
    table: CRef


@dataclass(frozen=True, kw_only=True)
class RsqrtParams(CStruct):
    C_TYPE: ClassVar[str] = "tinyasc_rsqrt_params"
    size: int
    input_offset: int
    output_offset: int
    multiplier: int
    shift: int


@dataclass(frozen=True, kw_only=True)
class SoftmaxParams(CStruct):
    C_TYPE: ClassVar[str] = "tinyasc_softmax_params"
    outer: int
    depth: int
    input_multiplier: int
    input_left_shift: int
    diff_min: int

    def check(self) -> None:
        _positive(self, "outer", "depth")


# ------------------------------------------------------------------------------ pooling, reductions, layout


@dataclass(frozen=True, kw_only=True)
class PoolParams(CStruct):
    """MAX_POOL_2D / AVERAGE_POOL_2D."""

    C_TYPE: ClassVar[str] = "tinyasc_pool_params"
    batches: int
    in_h: int
    in_w: int
    channels: int
    out_h: int
    out_w: int
    f_h: int
    f_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int

    def check(self) -> None:
        _positive(self, "batches", "in_h", "in_w", "channels", "out_h", "out_w", "f_h", "f_w", "stride_h", "stride_w")
        _act(self)


@dataclass(frozen=True, kw_only=True)
class MeanParams(CStruct):
    C_TYPE: ClassVar[str] = "tinyasc_mean_params"
    kept_dims: tuple[int, ...]
    kept_strides: tuple[int, ...]
    red_dims: tuple[int, ...]
    red_strides: tuple[int, ...]
    num_elements: int
    input_zero_point: int
    output_zero_point: int
    multiplier: int
    shift: int

    def check(self) -> None:
        _positive(self, "num_elements")


@dataclass(frozen=True, kw_only=True)
class MeanMulParams(CStruct):
    """MEAN over a MUL's output without storing the products (the planner's MUL -> MEAN fusion)."""

    C_TYPE: ClassVar[str] = "tinyasc_mean_mul_params"
    mean: MeanParams
    a_kept_strides: tuple[int, ...]
    a_red_strides: tuple[int, ...]
    b_kept_strides: tuple[int, ...]
    b_red_strides: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class PadParams(CStruct):
    C_TYPE: ClassVar[str] = "tinyasc_pad_params"
    NARROW: ClassVar[dict[str, str]] = {"pad_value": "int8_t"}
    in_dims: tuple[int, ...]
    out_dims: tuple[int, ...]
    before: tuple[int, ...]
    out_size: int
    pad_value: int


@dataclass(frozen=True, kw_only=True)
class PadS16Params(PadParams):
    C_TYPE: ClassVar[str] = "tinyasc_pad_s16_params"
    NARROW: ClassVar[dict[str, str]] = {"pad_value": "int16_t"}


@dataclass(frozen=True, kw_only=True)
class TransposeParams(CStruct):
    C_TYPE: ClassVar[str] = "tinyasc_transpose_params"
    out_dims: tuple[int, ...]
    in_strides: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class PadViewParams(CStruct):
    """PAD inside the time-tile loop (:mod:`.tile_emit`): a window of the padded tensor."""

    C_TYPE: ClassVar[str] = "tinyasc_pad_view_params"
    NARROW: ClassVar[dict[str, str]] = {"pad_value": "int8_t"}
    out_dims: tuple[int, ...]
    in_dims: tuple[int, ...]
    in_strides: tuple[int, ...]
    before: tuple[int, ...]
    pad_value: int


#: Every parameter record, by the C struct it mirrors.
ALL: tuple[type[CStruct], ...] = (ConvParams, WeightsRef, Weights16x8Ref, BandParams, FcParams, BinaryParams,
                                  LogisticParams, LogisticS16Params, RsqrtParams, SoftmaxParams, PoolParams,
                                  MeanParams, MeanMulParams, PadParams, PadS16Params, TransposeParams, PadViewParams)
