"""Integer (int8 or 16x8) TFLite graph -> self-contained C: ``model.h``, ``model.c``, kernels, host main, build script.

Layout of the generated directory::

    DIR/model.h            sizes, quantization of input/output, tinyasc_model_invoke()
    DIR/model.c            const weights (flash), one static aligned arena, one call per layer
    DIR/include/           tinyasc_kernels.h
    DIR/kernels/*.c        the portable int8 and 16x8 kernels
    DIR/main_host.c        host runner: raw input file -> raw output file (int8 or int16 elements)
    DIR/build_host.sh      cc -O2 -std=c99 -Wall -Werror ...
    DIR/firmware.json/.md  the report (see report.py)

Every quantization constant is computed here with :mod:`tinyasc.firmware_sim.quant`,
exactly as TFLite Micro's Prepare() would; the C code does only Eval()'s integer math.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinyasc import atomic
from tinyasc.errors import InputError
from tinyasc.firmware_sim import int8_tables, quant
from tinyasc.firmware_sim.graph import DTYPES, Graph, Operator, Tensor
from tinyasc.firmware_sim.planner import ArenaPlan, BandAffine, column_conv_in_place, plan_arena, same_or_valid_pad
from tinyasc.firmware_sim.reader import read_tflite
from tinyasc.firmware_sim import kernel_sources, params, tile_emit, tiling
from tinyasc.firmware_sim import sparse as sparse_mod
from tinyasc.firmware_sim.kernel_sources import Kernel
from tinyasc.firmware_sim.tiling import TimeRule
from tinyasc.firmware_sim.target import SPECS, IsaFeature, KernelBackend, LibraryTarget, Target

log = logging.getLogger(__name__)

C_DIR = Path(__file__).parent / "c"
MAX_DIMS = 6
#: Rough flash cost of the kernel code and per-layer call glue (bytes, Cortex-M Thumb-2 -Os),
#: used only for the flash estimate until a target build measures it.
CODE_BYTES_KERNELS = 6 * 1024
CODE_BYTES_PER_LAYER = 48


@dataclass(frozen=True, kw_only=True)
class GeneratorOptions:
    """How to generate the firmware sources."""

    in_place: bool = True
    """Let element-wise ops (ADD/SUB/MUL/LOGISTIC/RSQRT) and 1x1 stride-1 convolutions
    overwrite an input that dies there."""
    fuse: bool = True
    """Fuse a MUL that only feeds a MEAN into it (the product tensor is never stored)."""
    alignment: int = 16
    """Byte alignment of every tensor offset in the arena and of the arena itself."""
    measure_tflm_arena: bool = False
    """Find TFLite Micro's smallest working arena for the report (bisection in subprocesses,
    a few seconds; the CLI turns it on unless --no-tflm-arena)."""
    target: LibraryTarget = LibraryTarget.PORTABLE
    """What the C is for: portable C99, or a Cortex-M core, whose layers then call the optimized
    ``tinyasc_opt_<op>`` kernels (DSP / Helium / sparse) wherever the library has one."""
    sparse_weights: bool = False
    """Store a CONV_2D's weights in the zero-skipping sparse encoding (:mod:`.sparse`) where it is
    smaller; needs a Cortex-M target (only the optimized convolution reads the encoding)."""
    ram_budget: int | None = None
    """Peak RAM budget in bytes (arena + the clip's input + pooling sums and counters): when the
    whole-clip arena exceeds it, the trunk is streamed over time (:mod:`.tiling`) with the largest
    step that fits; none fitting is an :class:`InputError` giving the smallest peak reachable."""
    step_frames: int | None = None
    """Stream the trunk over time, this many input frames per step (overrides the budget's choice)."""
    ram_reserved: int = 0
    """Bytes of RAM the rest of the library holds beside the model (its front end), counted against
    ``ram_budget`` together with the kernels' static scratch (:data:`.kernel_sources.STATIC_RAM`)."""

    def __post_init__(self) -> None:
        if self.alignment < 1 or self.alignment & (self.alignment - 1):
            raise ValueError(f"alignment must be a power of two, got {self.alignment}")
        if self.ram_budget is not None and self.ram_budget <= 0:
            raise ValueError(f"ram_budget must be positive, got {self.ram_budget}")
        if self.ram_reserved < 0:
            raise ValueError(f"ram_reserved must be >= 0, got {self.ram_reserved}")
        if self.step_frames is not None and self.step_frames < 1:
            raise ValueError(f"step_frames must be >= 1, got {self.step_frames}")
        object.__setattr__(self, "target", LibraryTarget(self.target))
        if self.sparse_weights and self.backend is not KernelBackend.OPTIMIZED:
            raise ValueError("sparse weights need a Cortex-M target (the optimized kernels)")

    @property
    def backend(self) -> KernelBackend:
        core = self.target.core
        return KernelBackend.PORTABLE if core is None else SPECS[core].backend




@dataclass
class Layer:
    """One generated kernel call."""

    index: int
    op: str
    name: str
    inputs: list[int]
    output: int
    input_shapes: list[list[int]]
    output_shape: list[int]
    macs: int
    weight_bytes: int
    arena_offset: int
    arena_size: int
    in_place: bool = False
    fused_into: int | None = None


@dataclass
class FirmwareArtifact:
    """What :func:`generate` wrote; ``firmware.json`` is its saved form."""

    out_dir: Path
    model: str
    input_shape: list[int]
    output_shape: list[int]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    arena_size: int
    naive_arena_size: int
    tflm_arena_size: int | None
    layers: list[Layer]
    op_counts: dict[str, int]
    total_macs: int
    weight_bytes: int
    param_bytes: int
    code_bytes_estimate: int
    parity: dict[str, Any] | None = None
    plan: dict[str, Any] = field(default_factory=dict, repr=False)
    activations: str = "int8"
    """``int8``, or ``int16`` for a 16x8 model: the element type of input, output and arena tensors."""
    target: str = LibraryTarget.PORTABLE.value
    """What the C was generated for (``portable``, ``cortex-m4``...)."""
    kernels: list[str] = field(default_factory=list)
    """C kernel symbols the model calls."""
    sources: list[str] = field(default_factory=list)
    """The kernel library files copied into the directory (relative to it)."""
    sparse_layers: list[dict[str, Any]] = field(default_factory=list)
    """With sparse weights: per CONV_2D, its sizes and whether (or why not) it is stored sparse."""
    tiling: dict[str, Any] | None = None
    """A streamed (time-tiled) model: :meth:`.tiling.TilingChoice.to_json` (step, peak RAM parts, curve)."""

    @property
    def peak_ram_bytes(self) -> int:
        """RAM the model needs: the arena, plus a tiled model's features and pooling sums."""
        return int(self.tiling["peak_ram_bytes"]) if self.tiling else self.arena_size

    @property
    def io_dtype(self) -> np.dtype:
        """numpy dtype of the input and output elements (little-endian, as the C runner reads them)."""
        return np.dtype("<i2") if self.activations == "int16" else np.dtype(np.int8)

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def output_size(self) -> int:
        return int(np.prod(self.output_shape))

    @property
    def flash_bytes(self) -> int:
        return self.weight_bytes + self.param_bytes + self.code_bytes_estimate

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["flash_bytes_estimate"] = self.flash_bytes
        d["peak_ram_bytes"] = self.peak_ram_bytes
        return d

    def save(self) -> Path:
        path = self.out_dir / "firmware.json"
        atomic.write_json(path, self.to_json())
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> "FirmwareArtifact":
        import json

        out_dir = Path(out_dir)
        path = out_dir / "firmware.json"
        if not path.is_file():
            raise InputError(path, "no firmware.json: run asc-firmware MODEL.tflite --out DIR first")
        d = json.loads(path.read_text())
        d.pop("flash_bytes_estimate", None)
        d.pop("peak_ram_bytes", None)
        d["out_dir"] = out_dir
        d["layers"] = [Layer(**x) for x in d["layers"]]
        return cls(**d)


# ----------------------------------------------------------------------------- helpers


def _c_ident(s: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in s)


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"')[:60] + '"'


#: C element type of each activation/constant dtype the kernels take.
C_TYPES = {"INT8": "int8_t", "INT16": "int16_t", "INT32": "int32_t", "INT64": "int64_t"}


def _c_array(ctype: str, name: str, values: np.ndarray, per_line: int = 24) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    suffix = "LL" if ctype == "int64_t" else ""
    lines = []
    for i in range(0, len(flat), per_line):
        lines.append("    " + ", ".join(f"{v}{suffix}" for v in flat[i:i + per_line]) + ",")
    body = "\n".join(lines) if lines else "    0"
    n = max(len(flat), 1)
    align = " TINYASC_ALIGN(4)" if ctype == "int8_t" else ""
    return f"static const {ctype} {name}[{n}]{align} = {{\n{body}\n}};\n"


def _pad6(shape: tuple[int, ...] | list[int]) -> list[int]:
    shape = list(shape)
    if len(shape) > MAX_DIMS:
        raise ValueError(f"rank {len(shape)} > {MAX_DIMS}")
    return [1] * (MAX_DIMS - len(shape)) + shape


def _strides(shape: list[int]) -> list[int]:
    st = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        st[k] = st[k + 1] * shape[k + 1]
    return st


#: The int16 LOGISTIC's node table, emitted once per model that has one.
SIGMOID_TABLE = "tinyasc_sigmoid_q16"
#: The kernels a CONV_2D layer stored sparse calls (``c/sparse/tinyasc_sparse.c``; in place:
#: ``c/sparse/tinyasc_sparse_inplace.c``).
SPARSE_KERNEL = "sparse_conv2d_s8"
SPARSE_INPLACE_KERNEL = "sparse_conv2d_1x1_inplace_s8"


def _float_lit(x: float) -> str:
    return f"{float(np.float32(x)):.9g}f"


@dataclass
class _Emit:
    decls: list[str]
    call: str
    macs: int = 0
    weight_bytes: int = 0
    param_bytes: int = 0


class _Generator:
    """Walks the graph once; ``emit_<op>`` methods return the C for one layer."""

    def __init__(self, graph: Graph, plan: ArenaPlan, options: GeneratorOptions = GeneratorOptions()):
        self.g = graph
        self.plan = plan
        self.options = options
        self.kernels_used: set[str] = set()
        """C kernel symbols the model calls (the library ships only their sources)."""
        self.sparse_layers: list[Any] = []
        """Per CONV_2D with sparse weights enabled: :class:`.sparse.SparseLayer` (used or why not)."""
        self.const_emitted: set[int] = set()
        self.const_decls: list[str] = []
        self.table_bytes = 0
        """Bytes of shared lookup tables emitted (flash, counted as parameters)."""
        self.layer_kernels: dict[int, str] = {}
        """Layer -> the kernel its emitter chose (convolutions, element-wise ops): the tile loop
        (:mod:`.tile_emit`) calls the same kernel."""

    # -- operand references -------------------------------------------------------------

    def t(self, i: int) -> Tensor:
        return self.g.tensors[i]

    def ref(self, i: int) -> str:
        """C pointer expression of tensor ``i``'s own element type (arena slice or const array)."""
        t = self.t(i)
        if t.is_const:
            name = f"tc{i}"
            if i not in self.const_emitted:
                self.const_emitted.add(i)
                self.const_decls.append(f"/* {t.name} {list(t.shape)} */\n" + _c_array(C_TYPES[t.dtype], name, t.data))
            return name
        if i not in self.plan.offsets:  # a fused intermediate: never stored, never referenced
            return "NULL"
        if t.dtype == "INT16":
            return f"((int16_t *)(arena + {self.plan.offsets[i]}))"
        return f"(arena + {self.plan.offsets[i]})"

    def is16(self, op: Operator) -> bool:
        """Whether ``op`` runs on int16 activations (16x8 quantization)."""
        return self.t(op.outputs[0]).dtype == "INT16"

    def fn(self, base: str) -> str:
        """The C symbol of kernel ``base`` (``add_s8``...) for the backend, recorded as used."""
        optimized = self.options.backend is KernelBackend.OPTIMIZED and base in OPTIMIZED_KERNELS
        symbol = f"tinyasc_opt_{base}" if optimized else f"tinyasc_{base}"
        self.kernels_used.add(symbol)
        return symbol

    def kernel_name(self, op: Operator, name: str) -> str:
        """Kernel ``name`` for int8 activations (``add_s8``), or its ``_s16`` twin for int16."""
        return f"{name}_{'s16' if self.is16(op) else 's8'}"

    def kernel(self, op: Operator, name: str) -> str:
        """The C symbol of :meth:`kernel_name` for the backend, recorded as used."""
        return self.fn(self.kernel_name(op, name))

    def sigmoid_table(self) -> str:
        """Name of the LOGISTIC int16 table, emitted once per model (see :func:`quant.sigmoid_table_q16`)."""
        name = SIGMOID_TABLE
        if not self.table_bytes:
            self.table_bytes = 2 * 256
            self.const_decls.append("/* sigmoid(i / 24) in 0.16 fixed point, i = 0..255 (LOGISTIC int16) */\n"
                                    + _c_array("uint16_t", name, quant.sigmoid_table_q16(), per_line=16))
        return name

    def const_values(self, i: int, what: str, op: Operator) -> np.ndarray:
        t = self.t(i)
        if not t.is_const:
            raise InputError(self.g.path, f"operator {op.index} ({op.opcode}): {what} must be a constant tensor")
        return np.asarray(t.data).reshape(-1).astype(np.int64)

    # -- per-op emitters ----------------------------------------------------------------

    def emit(self, op: Operator) -> _Emit:
        band_last = self.plan.band_adds.get(op.index)
        if band_last is not None:
            return self.emit_band_add(op, self.plan.bands[band_last])
        band = self.plan.bands.get(op.index)
        if band is not None and op.index in self.plan.fused:
            return _Emit([], f"/* fused into layer {self.plan.fused[op.index]} (sub-band affine + ADD) */")
        if band is not None:
            return self.emit_band_affine(op, band)
        logistic = self.plan.silu.get(op.index)
        if logistic is not None:
            return self.emit_silu(op, self.g.operators[logistic])
        add = self.plan.add_pools.get(op.index)
        if add is not None:
            return self.emit_add_max_pool(op, self.g.operators[add])
        into = self.plan.fused.get(op.index)
        if into is not None and into in self.plan.silu:
            return _Emit([], f"/* fused into layer {into} (SiLU: x * sigmoid(x), one table) */")
        if into is not None and into in self.plan.add_pools:  # its parameters are the pooling layer's to emit
            return _Emit([], f"/* fused into layer {into} (ADD + MAX_POOL_2D) */", self.g.tensors[op.outputs[0]].size)
        chain = self.plan.bands.get(self.plan.band_adds.get(into, into)) if into is not None else None
        if chain is not None:
            note = (f"/* fused into layer {into} (sub-band affine + ADD) */" if into in self.plan.band_adds
                    else f"/* fused into layer {into} (sub-band affine) */")
            if op.index == chain.conv:  # its weights and params, read by the fused kernel
                e = self.emit_registered(op)
                e.call = note
                return e
            return _Emit([], note)
        return self.emit_registered(op)

    def emit_registered(self, op: Operator) -> _Emit:
        """The op's registry entry: its prepare step (typed, frozen parameters), then its emitter."""
        spec = REGISTRY[op.opcode]
        try:
            prep = spec.prepare(self, op)
        except ValueError as err:  # a parameter record refused what its kernel could not run (params.py)
            raise InputError(self.g.path, f"operator {op.index} ({op.opcode}): {err}") from None
        return spec.emit(self, op, prep)

    def emit_band_affine(self, op: Operator, band: BandAffine) -> _Emit:
        """The last op of a fused TRANSPOSE/RESHAPE -> per-channel 1x1 conv -> TRANSPOSE/RESHAPE chain
        (:func:`.planner.find_band_affines`): one element-wise pass over the chain's input with the
        conv's weights (``l{conv}_w``) and params (``l{conv}_p``), emitted with the conv."""
        i = op.index
        _, h, w, c = self.t(band.source).shape
        decls = [params.BandParams(h=h, w=w, c=c, bands=band.bands).c_decl(f"l{i}_p")]
        call = (f"{self.fn('band_affine_s8')}(&l{i}_p, &l{band.conv}_p, &l{band.conv}_w, "
                f"{self.ref(band.source)}, {self.ref(op.outputs[0])});")
        return _Emit(decls, call)

    def emit_band_add(self, op: Operator, band: BandAffine) -> _Emit:
        """An int8 ADD with the sub-band affine chain that feeds it fused in (:func:`.planner.find_band_adds`): the
        ADD's parameters prepared as unfused (:meth:`prepare_add`), the chain's band shape, and one call that reads
        the chain's input, the conv's weights and params and the ADD's broadcast operand (``tinyasc_band_add_s8``).
        The ADD's count of element operations, as unfused."""
        i, last = op.index, band.last
        prep = self.prepare_add(op)
        if not isinstance(prep.params, params.BinaryParams):
            raise InputError(self.g.path, f"operator {i} (ADD): a sub-band affine fused into an int16 ADD")
        band_out = self.g.operators[last].outputs[0]
        band_in = 1 if op.inputs[0] == band_out else 2
        other = op.inputs[1] if band_in == 1 else op.inputs[0]
        _, h, w, c = self.t(band.source).shape
        self.layer_kernels[i] = "band_add_s8"
        decls = [params.BandParams(h=h, w=w, c=c, bands=band.bands).c_decl(f"l{i}_band"),
                 prep.params.c_decl(f"l{i}_p")]
        call = (f"{self.fn('band_add_s8')}(&l{i}_band, &l{band.conv}_p, &l{band.conv}_w, &l{i}_p, {band_in}, "
                f"{self.ref(band.source)}, {self.ref(other)}, {self.ref(op.outputs[0])});")
        return _Emit(decls, call, prep.macs)

    def emit_add_max_pool(self, op: Operator, add: Operator) -> _Emit:
        """A MAX_POOL_2D with the int8 ADD that feeds it fused in (:func:`.planner.find_add_pools`): both ops'
        parameters prepared as unfused (the ADD's ``l{add}_p`` emitted here), one call that reads the ADD's two
        operands and writes the pooled output (``tinyasc_add_max_pool_s8``); the pooling's count of element
        operations (the ADD's stays with its layer, as unfused)."""
        i, k = op.index, add.index
        ap, pp = self.prepare_add(add).params, self.prepare_max_pool_2d(op).params
        if not isinstance(ap, params.BinaryParams) or ap.broadcast or not isinstance(pp, params.PoolParams):
            raise InputError(self.g.path, f"operator {i} (MAX_POOL_2D): an ADD fused into it that is not an int8 "
                                          "ADD of two operands of its own shape")  # planner: never
        self.layer_kernels[i] = "add_max_pool_s8"
        call = (f"{self.fn('add_max_pool_s8')}(&l{k}_p, &l{i}_p, {self.ref(add.inputs[0])}, "
                f"{self.ref(add.inputs[1])}, {self.ref(op.outputs[0])});")
        return _Emit([ap.c_decl(f"l{k}_p"), pp.c_decl(f"l{i}_p")], call, pp.out_h * pp.out_w * pp.channels *
                     pp.f_h * pp.f_w * pp.batches)

    def emit_silu(self, op: Operator, logistic: Operator) -> _Emit:
        """An int8 ``MUL(x, LOGISTIC(x))`` with the LOGISTIC fused into it (:func:`.planner.find_silu`): both ops'
        parameters prepared as unfused, the chain's output for each of the 256 codes of x tabulated
        (:func:`.int8_tables.silu_table`: the sigmoid rounded to int8 as the LOGISTIC rounds it), one lookup per
        element (``tinyasc_lut_s8``)."""
        i = op.index
        lp = self.prepare_logistic(logistic).params
        mp = self.prepare_mul(op).params
        if not isinstance(lp, params.LogisticParams) or not isinstance(mp, params.BinaryParams):
            raise InputError(self.g.path, f"operator {i} (MUL): SiLU fusion of an int16 chain")  # planner: int8 only
        x = logistic.inputs[0]
        table = int8_tables.silu_table(
            dict(input_zero_point=lp.input_zero_point, input_range_radius=lp.input_range_radius,
                 input_multiplier=lp.input_multiplier, input_shift=lp.input_shift),
            dict(in1_offset=mp.in1_offset, in2_offset=mp.in2_offset, out_mult=mp.out_mult, out_shift=mp.out_shift,
                 out_offset=mp.out_offset, act_min=mp.act_min, act_max=mp.act_max),
            x_first=op.inputs[0] == x)
        name = f"l{i}_table"
        self.layer_kernels[i] = "lut_s8"
        decls = [f"/* layers {logistic.index} and {i}: MUL(x, LOGISTIC(x)) of each int8 x, at index (uint8_t)x */\n"
                 + _c_array("int8_t", name, table),
                 params.LutParams(size=mp.size, table=params.CRef(name)).c_decl(f"l{i}_p")]
        call = f"{self.fn('lut_s8')}(&l{i}_p, {self.ref(x)}, {self.ref(op.outputs[0])});"
        return _Emit(decls, call, 2 * mp.size, weight_bytes=table.nbytes)  # the two ops' counts, as unfused

    # -- prepare (TFLM's Prepare: every constant the kernel needs, typed and frozen) and emit (the C) -----------

    def prepare_conv(self, op: Operator, depthwise: bool) -> PreparedConv:
        i = op.index
        x, w = self.t(op.inputs[0]), self.t(op.inputs[1])
        b = self.t(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        y = self.t(op.outputs[0])
        o = op.options
        n, ih, iw, ic = x.shape
        _, oh, ow, oc = y.shape
        if depthwise:
            _, kh, kw, wc = w.shape
            fin, dm = 1, oc // ic
            qdim_ok = w.quantized_dimension in (3,)
        else:
            wc, kh, kw, fin = w.shape
            dm = 1
            qdim_ok = w.quantized_dimension in (0,)
        if wc != oc:
            raise InputError(self.g.path, f"operator {i} ({op.opcode}): filter/output channel mismatch")
        if any(z != 0 for z in w.zero_point):
            raise InputError(self.g.path, f"operator {i} ({op.opcode}): non-zero filter zero point")
        wide = x.dtype == "INT16"
        if wide and b is not None and b.dtype != "INT64":
            raise InputError(self.g.path, f"operator {i} ({op.opcode}): 16x8 convolution with a {b.dtype} bias "
                                          "(only int64 biases are supported)")
        if len(w.scale) > 1 and not qdim_ok:
            raise InputError(self.g.path, f"operator {i} ({op.opcode}): unexpected quantized dimension")
        sx, zx = x.q()
        sy, zy = y.q()
        mults, shifts = [], []
        for c in range(oc):
            sw = w.scale[c] if len(w.scale) > 1 else w.scale[0]
            m, s = quant.quantize_multiplier(float(sx) * float(sw) / float(sy))
            mults.append(m)
            shifts.append(s)
        bias = None if b is None else b.data
        constant: tuple[int, ...] = ()
        if not wide:
            bias, constant = self._constant_channels(x, w, bias, mults, shifts, depthwise=depthwise)
        amin, amax = quant.activation_range(o.get("FusedActivationFunction", 0), sy, zy, y.dtype)
        sh, sw_ = o.get("StrideH", 1), o.get("StrideW", 1)
        dh, dw = o.get("DilationHFactor", 1), o.get("DilationWFactor", 1)
        pad = o.get("Padding", 1)
        ph = same_or_valid_pad(pad, ih, oh, kh, sh, dh)
        pw = same_or_valid_pad(pad, iw, ow, kw, sw_, dw)
        in_place = self.plan.aliases.get(op.outputs[0]) == op.inputs[0]  # the planner chose an in-place kernel
        column = in_place and i in self.plan.scratch  # reads w->data by channel and tap: stays dense
        conv = params.ConvParams(
            batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw, stride_h=sh,
            stride_w=sw_, dil_h=dh, dil_w=dw, pad_h=ph, pad_w=pw, filter_in_c=fin, depth_multiplier=dm,
            input_offset=-zx, output_offset=zy, act_min=amin, act_max=amax)
        filt = w.data
        if channelwise_as_depthwise(conv, depthwise=depthwise, wide=wide, in_place=in_place):
            filt, depthwise = np.ascontiguousarray(filt.transpose(3, 1, 2, 0)), True  # [oc,kh,kw,1] -> [1,kh,kw,oc]
        pairs = (self.options.backend is KernelBackend.OPTIMIZED and conv_pairs_core(self.options.target.core)
                 and not depthwise and not wide and conv_pairs_ok(conv, mults, shifts))
        if in_place:
            # inputs a multiple of 16 their own entry (Helium's in-place kernel takes only those: other models link none)
            kernel = ("conv_col_inplace_s8" if column else "conv2d_1x1_inplace_pairs_s8" if pairs else
                      "conv2d_1x1_inplace_c16_s8" if ic % 16 == 0 else "conv2d_1x1_inplace_s8")
        elif depthwise and not wide and dm != 1:
            kernel = "depthwise_conv2d_multiplier_s8"  # the SIMD depthwise kernels take multiplier 1 only
        elif depthwise and not wide and kh > 1 and kw > 1:
            # windows over both axes: their own kernel (and file); strided on every axis their own entry
            kernel = "depthwise_window_s2_s8" if window_stride2(conv) else "depthwise_window_s8"
        elif (depthwise and not wide and self.options.backend is KernelBackend.OPTIMIZED
              and depthwise_column_entry(conv, self.options.target.core)):
            kernel = "depthwise_column_s8"  # columns: the DSP cores' and Helium's runs of whole ones, linked only here
        elif pairs:
            kernel = "conv2d_pairs_s8"  # the DSP cores' pixel pairs on rows in word-interleaved pairs
        elif pointwise_same_size(conv) and not depthwise and not wide and fin == ic > 1:
            kernel = "conv2d_1x1_s8"  # links only the 1x1 paths (not the im2col, grouped and one-channel kernels)
        elif conv_c16(conv, depthwise=depthwise, wide=wide):
            kernel = "conv2d_c16_s8"  # Helium's windows read in place: linked only with such a layer
        else:
            kernel = ("depthwise_conv2d" if depthwise else "conv2d") + ("_16x8" if wide else "_s8")
        if self.options.backend is KernelBackend.OPTIMIZED:
            for rule in WEAK_FILE_RULES:  # the weakly reached kernel files this layer's library ships
                if rule.applies(conv, core=self.options.target.core, depthwise=depthwise, wide=wide, kernel=kernel):
                    self.kernels_used.add(f"tinyasc_{rule.kernel.name}")
        return PreparedConv(params=conv, kernel=kernel, macs=n * oh * ow * oc * kh * kw * (1 if depthwise else fin),
                            filter=filt, multiplier=tuple(mults), shift=tuple(shifts),
                            bias=bias,
                            bias_ctype=None if bias is None else C_TYPES[b.dtype] if b is not None else "int32_t",
                            depthwise=depthwise, wide=wide, in_place=in_place, column=column,
                            constant_channels=constant)

    @staticmethod
    def _constant_channels(x, w, bias: np.ndarray | None, mults: list[int], shifts: list[int], *,
                           depthwise: bool) -> tuple[np.ndarray | None, tuple[int, ...]]:
        """The int8 channels whose output is one constant for every input (:func:`quant.constant_channel`: each
        channel's sums within its weights' absolute sum times the largest |input + offset| of its bias), their
        bias, multiplier and shift rewritten (``mults`` and ``shifts`` in place) to give it on the folded path;
        returns the bias (a new array where one changed, zeros where the layer had none) and the channels."""
        _, zx = x.q()
        x_max = max(abs(-128 - zx), abs(127 - zx))
        data = np.asarray(w.data, dtype=np.int64)
        w_abs = np.abs(data).sum(axis=(0, 1, 2)) if depthwise else np.abs(data).reshape(data.shape[0], -1).sum(axis=1)
        new_bias = np.zeros(len(mults), np.int64) if bias is None else np.array(bias, dtype=np.int64).reshape(-1)
        done = []
        for c in range(len(mults)):
            new = quant.constant_channel(int(new_bias[c]), mults[c], shifts[c], int(x_max * w_abs[c]))
            if new is not None:
                new_bias[c], mults[c], shifts[c] = new
                done.append(c)
        if not done:
            return bias, ()
        return new_bias.astype(np.int32), tuple(done)

    def prepare_conv_2d(self, op: Operator) -> PreparedConv:
        return self.prepare_conv(op, depthwise=False)

    def prepare_depthwise_conv_2d(self, op: Operator) -> PreparedConv:
        return self.prepare_conv(op, depthwise=True)

    def emit_conv(self, op: Operator, prep: PreparedConv) -> _Emit:
        """The single place where a convolution's weights and call are emitted.

        Sparse weights are an emitter option: the ``_filter`` array is replaced by the encoding and the
        descriptor's ``sparse`` field points at it; the parameters and the kernel signature stay the same.
        """
        i, p = op.index, prep.params
        sparse = None
        if self.options.sparse_weights and not prep.depthwise and not prep.wide and not prep.column:
            sparse = self.sparse_filter(i, prep.filter.reshape(p.out_c, -1), grouped=p.filter_in_c != p.in_c,
                                        span=sparse_mod.window_span(k_h=p.k_h, k_w=p.k_w, dil_h=p.dil_h, dil_w=p.dil_w,
                                                                    in_w=p.in_w, in_c=p.in_c), in_c=p.in_c,
                                        planes=pointwise_on_planes(p))
        # a stored-sparse layer calls the sparse kernels itself (sparse.why_dense keeps every layer they would refuse
        # dense): a model whose CONV_2D layers are all sparse then links no dense convolution kernel
        kernel = prep.kernel if sparse is None else SPARSE_INPLACE_KERNEL if prep.in_place else SPARSE_KERNEL
        self.layer_kernels[i] = kernel
        decls = []
        shape = list(prep.filter.shape)
        filter_bytes = int(prep.filter.size)
        if sparse is None and kernel in ("conv2d_pairs_s8", "conv2d_1x1_inplace_pairs_s8"):
            pairs = conv_row_pairs(prep.filter.reshape(p.out_c, -1))
            filter_bytes = int(pairs.size)
            decls.append(f"/* layer {i}: {op.opcode} filter {shape}, rows in word-interleaved pairs */\n"
                         + _c_array("int8_t", f"l{i}_filter", pairs))
        elif sparse is None:
            how = " (channel-wise: runs as depthwise)" if prep.depthwise and op.opcode == "CONV_2D" else ""
            decls.append(f"/* layer {i}: {op.opcode} filter {shape}{how} */\n"
                         + _c_array("int8_t", f"l{i}_filter", prep.filter))
        else:
            decls.append(f"/* layer {i}: {op.opcode} filter {shape}, sparse */\n" + sparse)
            self.kernels_used.add(f"tinyasc_{SPARSE_KERNEL}")  # the descriptor's .kernel: ship its file
            if (self.options.backend is KernelBackend.OPTIMIZED and conv_pairs_core(self.options.target.core)
                    and sparse_t_ships(p, self.sparse_layers[-1].nnz, in_place=prep.in_place)):
                self.kernels_used.add(f"tinyasc_{_SPARSE_T.name}")  # reached through a weak reference
        if prep.constant_channels:
            decls.append(f"/* layer {i}: channels {', '.join(map(str, prep.constant_channels))} output one constant "
                         "for every input: their bias, multiplier and shift give it on the folded output path "
                         "(tinyasc.firmware_sim.quant.constant_channel) */\n")
        decls += [_c_array("int32_t", f"l{i}_mult", np.array(prep.multiplier)),
                  _c_array("int32_t", f"l{i}_shift", np.array(prep.shift))]
        if prep.bias is not None:
            decls.append(_c_array(prep.bias_ctype, f"l{i}_bias", prep.bias))
        refs = {"data": params.NULL if sparse else params.CRef(f"l{i}_filter"),
                "bias": params.CRef(f"l{i}_bias") if prep.bias is not None else params.NULL,
                "multiplier": params.CRef(f"l{i}_mult"), "shift": params.CRef(f"l{i}_shift")}
        weights = (params.Weights16x8Ref(**refs) if prep.wide else
                   params.WeightsRef(**refs, sparse=params.CRef(f"&l{i}_sparse") if sparse else params.NULL))
        decls.append(weights.c_decl(f"l{i}_w"))
        decls.append(p.c_decl(f"l{i}_p"))
        kern = self.fn(kernel)
        if prep.in_place and prep.column:
            col = column_conv_in_place(self.g, op)
            assert col is not None and col[0] == p.pad_h
            call = (f"{kern}(&l{i}_p, &l{i}_w, {col[1]}, {col[2]}, "
                    f"{self.ref(op.outputs[0])}, (arena + {self.plan.offsets[self.plan.scratch[i]]}));")
        elif prep.in_place:  # the planner's stage: the arena's largest region free at this layer, else the kernel's own
            sid = self.plan.stages.get(i)
            stage = (f"(arena + {self.plan.offsets[sid]}), {self.plan.sizes[sid]}" if sid is not None else "NULL, 0")
            call = f"{kern}(&l{i}_p, &l{i}_w, {self.ref(op.outputs[0])}, {stage});"
        else:
            call = f"{kern}(&l{i}_p, &l{i}_w, {self.ref(op.inputs[0])}, {self.ref(op.outputs[0])});"
        filter_bytes = self.sparse_layers[-1].sparse_bytes if sparse else filter_bytes
        wbytes = filter_bytes + (prep.bias.nbytes if prep.bias is not None else 0)
        return _Emit(decls, call, prep.macs, wbytes, param_bytes=8 * p.out_c)

    def sparse_filter(self, i: int, rows: np.ndarray, *, grouped: bool, span: int, in_c: int,
                      planes: bool = False) -> str | None:
        """C definitions of layer ``i``'s sparse filter ``l{i}_sparse``, or None where dense is better."""
        from tinyasc.firmware_sim import sparse

        enc = sparse.encode_rows(np.ascontiguousarray(rows, dtype=np.int8))
        helium = helium_core(self.options.target.core)
        reason = sparse.why_dense(enc, grouped=grouped, span=span, helium=helium, in_c=in_c,
                                  planes=planes) or "sparse"
        used = reason == "sparse"
        self.sparse_layers.append(sparse.SparseLayer(layer=i, out_c=enc.out_c, k=enc.k, nnz=enc.nnz,
                                                     dense_bytes=enc.dense_bytes, sparse_bytes=enc.flash_bytes,
                                                     used=used, reason=reason))
        return sparse.emit_c(f"l{i}_sparse", enc, planes=planes and helium) if used else None

    def prepare_fully_connected(self, op: Operator) -> PreparedFc:
        i = op.index
        x, w = self.t(op.inputs[0]), self.t(op.inputs[1])
        b = self.t(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        y = self.t(op.outputs[0])
        if not w.is_const:
            raise InputError(self.g.path, f"operator {i} (FULLY_CONNECTED): non-constant weights")
        out_depth, accum = w.shape
        batches = x.size // accum
        sx, zx = x.q()
        sy, zy = y.q()
        per_channel = len(w.scale) > 1
        mults, shifts = zip(*[quant.quantize_multiplier(float(sx) * float(s) / float(sy)) for s in w.scale])
        amin, amax = quant.activation_range(op.options.get("FusedActivationFunction", 0), sy, zy, y.dtype)
        fc = params.FcParams(batches=batches, accum_depth=accum, out_depth=out_depth, input_offset=-zx,
                             filter_offset=-int(w.zero_point[0]) if w.zero_point else 0, output_offset=zy,
                             act_min=amin, act_max=amax, per_channel=int(per_channel))
        prep = PreparedFc(params=fc, kernel="fully_connected_s8", macs=batches * accum * out_depth, filter=w.data,
                          multiplier=tuple(mults), shift=tuple(shifts), bias=None if b is None else b.data)
        prep = fold_fc_input_offset(prep)
        shape = fc_block_shape(self.options.target.core) if self.options.backend is KernelBackend.OPTIMIZED else None
        if shape is None or prep.params.input_offset != 0 or prep.params.filter_offset != 0:
            return prep
        rows, ks = shape
        if not fc_blocks_pay(out_depth, rows) or self.fc_blocks_macs(rows) < FC_BLOCKS_MIN_MACS:
            return prep
        return dataclasses.replace(prep, kernel="fully_connected_blocks_s8",
                                   params=params.FcBlocksParams(fc=prep.params, block_rows=rows, block_k=ks),
                                   filter=fc_row_blocks(prep.filter, rows, ks))

    def fc_blocks_macs(self, rows: int) -> int:
        """MACs of the model's FULLY_CONNECTED layers whose rows fill blocks of ``rows`` (:func:`fc_blocks_pay`)."""
        total = 0
        for op in self.g.operators:
            if op.opcode == "FULLY_CONNECTED":
                n, k = self.t(op.inputs[1]).shape
                if fc_blocks_pay(n, rows):
                    total += (self.t(op.inputs[0]).size // k) * n * k
        return total

    def emit_fully_connected(self, op: Operator, prep: PreparedFc) -> _Emit:
        i = op.index
        fc = prep.params.fc if isinstance(prep.params, params.FcBlocksParams) else prep.params
        layout = (f" in blocks of {prep.params.block_rows} rows x {prep.params.block_k} k"
                  if isinstance(prep.params, params.FcBlocksParams) else "")
        decls = [
            f"/* layer {i}: FULLY_CONNECTED weights {[fc.out_depth, fc.accum_depth]}{layout} */\n"
            + _c_array("int8_t", f"l{i}_filter", prep.filter),
            _c_array("int32_t", f"l{i}_mult", np.array(prep.multiplier)),
            _c_array("int32_t", f"l{i}_shift", np.array(prep.shift)),
        ]
        if prep.bias is not None:
            decls.append(_c_array("int32_t", f"l{i}_bias", prep.bias))
        decls.append(params.WeightsRef(
            data=params.CRef(f"l{i}_filter"), bias=params.CRef(f"l{i}_bias") if prep.bias is not None else params.NULL,
            multiplier=params.CRef(f"l{i}_mult"), shift=params.CRef(f"l{i}_shift"), sparse=params.NULL).c_decl(f"l{i}_w"))
        decls.append(prep.params.c_decl(f"l{i}_p"))
        call = f"{self.fn(prep.kernel)}(&l{i}_p, &l{i}_w, {self.ref(op.inputs[0])}, {self.ref(op.outputs[0])});"
        out_depth = fc.out_depth
        return _Emit(decls, call, prep.macs, int(prep.filter.size) + (4 * out_depth if prep.bias is not None else 0),
                     8 * len(prep.multiplier))

    def _prepare_binary(self, op: Operator, name: str, consts: tuple[int, ...], left_shift: int) -> Prepared:
        """Element-wise ``name`` (``add``, ``mul``, ...) with broadcasting, int8 or int16 kernel."""
        a, b, y = self.t(op.inputs[0]), self.t(op.inputs[1]), self.t(op.outputs[0])
        out = _pad6(y.shape)
        _, za = a.q()
        _, zb = b.q()
        sy, zy = y.q()
        amin, amax = quant.activation_range(op.options.get("FusedActivationFunction", 0), sy, zy, y.dtype)

        def bstrides(t: Tensor) -> tuple[int, ...]:
            shp = _pad6(t.shape)
            st = _strides(shp)
            return tuple(0 if (shp[k] == 1 and out[k] != 1) else st[k] for k in range(MAX_DIMS))

        broadcast = int(not (tuple(a.shape) == tuple(b.shape) == tuple(y.shape)))
        if not broadcast and a.size != y.size:
            broadcast = 1
        m1, s1, m2, s2, mo, so = consts
        bp = params.BinaryParams(
            size=y.size, broadcast=broadcast, out_dims=tuple(out), in1_strides=bstrides(a), in2_strides=bstrides(b),
            in1_offset=-za, in2_offset=-zb, out_offset=zy, left_shift=left_shift, in1_mult=m1, in1_shift=s1,
            in2_mult=m2, in2_shift=s2, out_mult=mo, out_shift=so, act_min=amin, act_max=amax)
        kernel = self.kernel_name(op, name)
        if not self.is16(op) and binary_fast_ok(bp, name):
            kernel = f"{name}_fast_s8"  # links no portable element-wise kernel behind the fast paths
        return Prepared(params=bp, kernel=kernel, macs=y.size)

    def emit_binary(self, op: Operator, prep: Prepared) -> _Emit:
        i = op.index
        self.layer_kernels[i] = prep.kernel
        call = (f"{self.fn(prep.kernel)}(&l{i}_p, {self.ref(op.inputs[0])}, {self.ref(op.inputs[1])}, "
                f"{self.ref(op.outputs[0])});")
        if op.index in self.plan.fused:  # a MUL read by the MEAN it feeds (MEAN of products)
            call = f"/* fused into layer {self.plan.fused[op.index]} (MEAN of products) */"
        wb = sum(self.t(k).nbytes for k in op.inputs[:2] if self.t(k).is_const)
        return _Emit([prep.params.c_decl(f"l{i}_p")], call, prep.macs, wb)

    def prepare_add(self, op: Operator) -> Prepared:
        a, b, y = (self.t(k) for k in (*op.inputs[:2], op.outputs[0]))
        if self.is16(op) and op.options.get("PotScaleInt16", False):
            raise InputError(self.g.path, f"operator {op.index} (ADD): int16 power-of-two-scale ADD not supported")
        shift = 15 if self.is16(op) else 20
        return self._prepare_binary(op, "add", quant.add_params(a.q()[0], b.q()[0], y.q()[0], shift), shift)

    def prepare_sub(self, op: Operator) -> Prepared:
        a, b, y = (self.t(k) for k in (*op.inputs[:2], op.outputs[0]))
        return self._prepare_binary(op, "sub", quant.sub_params(a.q()[0], b.q()[0], y.q()[0]), 20)

    def prepare_squared_difference(self, op: Operator) -> Prepared:
        a, b, y = (self.t(k) for k in (*op.inputs[:2], op.outputs[0]))
        return self._prepare_binary(op, "squared_difference",
                                    quant.squared_difference_params(a.q()[0], b.q()[0], y.q()[0]), 7)

    def prepare_mul(self, op: Operator) -> Prepared:
        a, b, y = (self.t(k) for k in (*op.inputs[:2], op.outputs[0]))
        m, s = quant.quantize_multiplier(float(a.q()[0]) * float(b.q()[0]) / float(y.q()[0]))
        return self._prepare_binary(op, "mul", (0, 0, 0, 0, m, s), 0)

    def prepare_logistic(self, op: Operator) -> Prepared:
        i = op.index
        x, y = self.t(op.inputs[0]), self.t(op.outputs[0])
        sx, zx = x.q()
        if self.is16(op):
            if y.q() != (2.0 ** -15, 0) or zx != 0:
                raise InputError(self.g.path, f"operator {i} (LOGISTIC): int16 needs zero points 0 and output scale 2^-15")
            m, s = quant.logistic_s16_params(sx)
            lp16 = params.LogisticS16Params(size=y.size, input_multiplier=m, input_left_shift=s,
                                            table=params.CRef(SIGMOID_TABLE))
            return Prepared(params=lp16, kernel="logistic_s16", macs=y.size)
        if y.q()[1] != -128:
            raise InputError(self.g.path, f"operator {i} (LOGISTIC): output zero point must be -128")
        m, s, r = quant.logistic_params(sx)
        lp = params.LogisticParams(size=y.size, input_zero_point=zx, input_range_radius=r, input_multiplier=m,
                                   input_shift=s)
        return Prepared(params=lp, kernel="logistic_s8", macs=y.size)

    def emit_logistic(self, op: Operator, prep: Prepared) -> _Emit:
        if isinstance(prep.params, params.LogisticS16Params):
            self.sigmoid_table()  # the shared table its params point at, emitted once
        return self.emit_unary(op, prep)

    def emit_unary(self, op: Operator, prep: Prepared) -> _Emit:
        """A kernel ``f(&l{i}_p, input, output)`` with the prepared parameters."""
        i = op.index
        return _Emit([prep.params.c_decl(f"l{i}_p")],
                     f"{self.fn(prep.kernel)}(&l{i}_p, {self.ref(op.inputs[0])}, {self.ref(op.outputs[0])});",
                     prep.macs)

    def prepare_softmax(self, op: Operator) -> Prepared:
        i = op.index
        x, y = self.t(op.inputs[0]), self.t(op.outputs[0])
        if y.q() != (1.0 / 256, -128):
            raise InputError(self.g.path, f"operator {i} (SOFTMAX): int8 output must have scale 1/256, zero point -128")
        m, s, dmin = quant.softmax_params(quant.f32(op.options.get("Beta", 1.0)), x.q()[0])
        depth = x.shape[-1]
        sp = params.SoftmaxParams(outer=x.size // depth, depth=depth, input_multiplier=m, input_left_shift=s,
                                  diff_min=dmin)
        return Prepared(params=sp, kernel="softmax_s8", macs=2 * x.size)

    def prepare_rsqrt(self, op: Operator) -> Prepared:
        x, y = self.t(op.inputs[0]), self.t(op.outputs[0])
        m, s = quant.rsqrt_params(x.q()[0], y.q()[0])
        rp = params.RsqrtParams(size=y.size, input_offset=x.q()[1], output_offset=y.q()[1], multiplier=m, shift=s)
        return Prepared(params=rp, kernel="rsqrt_s8", macs=y.size)

    def _prepare_pool(self, op: Operator, name: str) -> Prepared:
        x, y = self.t(op.inputs[0]), self.t(op.outputs[0])
        if x.q() != y.q():
            raise InputError(self.g.path, f"operator {op.index} ({op.opcode}): input/output quantization differ")
        o = op.options
        n, ih, iw, c = x.shape
        _, oh, ow, _ = y.shape
        fh, fw = o.get("FilterHeight", 1), o.get("FilterWidth", 1)
        sh, sw = o.get("StrideH", 1), o.get("StrideW", 1)
        pad = o.get("Padding", 1)
        ph = same_or_valid_pad(pad, ih, oh, fh, sh, 1)
        pw = same_or_valid_pad(pad, iw, ow, fw, sw, 1)
        amin, amax = quant.activation_range(o.get("FusedActivationFunction", 0), *y.q(), y.dtype)
        pp = params.PoolParams(batches=n, in_h=ih, in_w=iw, channels=c, out_h=oh, out_w=ow, f_h=fh, f_w=fw,
                               stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw, act_min=amin, act_max=amax)
        return Prepared(params=pp, kernel=self.kernel_name(op, name), macs=y.size * fh * fw)

    def prepare_max_pool_2d(self, op: Operator) -> Prepared:
        return self._prepare_pool(op, "max_pool")

    def prepare_average_pool_2d(self, op: Operator) -> Prepared:
        if self.t(op.inputs[0]).q() != self.t(op.outputs[0]).q():
            raise InputError(self.g.path, f"operator {op.index} (AVERAGE_POOL_2D): input/output quantization differ")
        if self.is16(op):
            raise InputError(self.g.path, f"operator {op.index} (AVERAGE_POOL_2D): int16 not supported")
        return self._prepare_pool(op, "avg_pool")

    def prepare_mean(self, op: Operator) -> Prepared:
        i = op.index
        x, y = self.t(op.inputs[0]), self.t(op.outputs[0])
        rank = len(x.shape)
        axes = sorted({int(a) % rank for a in self.const_values(op.inputs[1], "axis", op)})
        shp = _pad6(x.shape)
        st = _strides(shp)
        off = MAX_DIMS - rank
        red = {a + off for a in axes}
        kd = tuple(1 if k in red else shp[k] for k in range(MAX_DIMS))
        ks = tuple(0 if k in red else st[k] for k in range(MAX_DIMS))
        rd = tuple(shp[k] if k in red else 1 for k in range(MAX_DIMS))
        rs = tuple(st[k] if k in red else 0 for k in range(MAX_DIMS))
        n = int(np.prod([shp[k] for k in red])) if red else 1
        sx, zx = x.q()
        sy, zy = y.q()
        m, s = quant.mean_multiplier(sx, sy, n)
        mean = params.MeanParams(kept_dims=kd, kept_strides=ks, red_dims=rd, red_strides=rs, num_elements=n,
                                 input_zero_point=zx, output_zero_point=zy, multiplier=m, shift=s)
        mul_op = next((k for k, v in self.plan.fused.items() if v == i), None)
        if mul_op is None:
            return Prepared(params=mean, kernel=self.kernel_name(op, "mean"), macs=x.size)
        mul = self.g.operators[mul_op]

        def split(tensor: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
            t = self.t(tensor)
            tshp = _pad6(t.shape)
            tst = _strides(tshp)
            full = [0 if (tshp[k] == 1 and shp[k] != 1) else tst[k] for k in range(MAX_DIMS)]
            return (tuple(0 if k in red else full[k] for k in range(MAX_DIMS)),
                    tuple(full[k] if k in red else 0 for k in range(MAX_DIMS)))

        if len(self.t(mul.inputs[0]).shape) > rank or len(self.t(mul.inputs[1]).shape) > rank:
            raise InputError(self.g.path, f"operator {mul_op} (MUL): operand rank above output rank")
        (ak, ar), (bk, br) = split(mul.inputs[0]), split(mul.inputs[1])
        mm = params.MeanMulParams(mean=mean, a_kept_strides=ak, a_red_strides=ar, b_kept_strides=bk, b_red_strides=br)
        return Prepared(params=mm, kernel="mean_of_mul_s8", macs=2 * x.size, fused_from=mul_op)

    def emit_mean(self, op: Operator, prep: Prepared) -> _Emit:
        if prep.fused_from is None:
            return self.emit_unary(op, prep)
        i, mul = op.index, self.g.operators[prep.fused_from]
        call = (f"{self.fn(prep.kernel)}(&l{i}_p, &l{prep.fused_from}_p, {self.ref(mul.inputs[0])}, "
                f"{self.ref(mul.inputs[1])}, {self.ref(op.outputs[0])});")
        return _Emit([prep.params.c_decl(f"l{i}_p")], call, prep.macs)

    def prepare_pad(self, op: Operator) -> Prepared:
        x, y = self.t(op.inputs[0]), self.t(op.outputs[0])
        pads = self.const_values(op.inputs[1], "paddings", op).reshape(-1, 2)
        before = tuple([0] * (MAX_DIMS - len(x.shape)) + [int(p) for p in pads[:, 0]])
        value = y.q()[1]
        if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
            value = int(self.const_values(op.inputs[2], "constant_values", op)[0])
        ptype = params.PadS16Params if self.is16(op) else params.PadParams
        pp = ptype(in_dims=tuple(_pad6(x.shape)), out_dims=tuple(_pad6(y.shape)), before=before, out_size=y.size,
                   pad_value=value)
        return Prepared(params=pp, kernel=self.kernel_name(op, "pad"))

    def prepare_transpose(self, op: Operator) -> Prepared:
        x = self.t(op.inputs[0])
        perm = [int(p) for p in self.const_values(op.inputs[1], "perm", op)]
        rank = len(x.shape)
        st = _strides(list(x.shape))
        out = [x.shape[p] for p in perm]
        in_st = [st[p] for p in perm]
        tp = params.TransposeParams(out_dims=tuple([1] * (MAX_DIMS - rank) + out),
                                    in_strides=tuple([0] * (MAX_DIMS - rank) + in_st))
        return Prepared(params=tp, kernel=self.kernel_name(op, "transpose"))

    def prepare_reshape(self, op: Operator) -> Prepared:
        return Prepared(params=None)

    def emit_reshape(self, op: Operator, prep: Prepared) -> _Emit:
        src, dst = op.inputs[0], op.outputs[0]
        if not self.t(src).is_const and self.plan.offsets.get(src) == self.plan.offsets.get(dst):
            return _Emit([], "/* alias: output shares the input's bytes */")
        return _Emit([], f"memmove({self.ref(dst)}, {self.ref(src)}, {self.t(dst).nbytes});")

    def prepare_concatenation(self, op: Operator) -> PreparedConcat:
        y = self.t(op.outputs[0])
        rank = len(y.shape)
        axis = int(op.options.get("Axis", 0)) % rank
        outer = int(np.prod(y.shape[:axis])) if axis else 1
        item = np.dtype(DTYPES[y.dtype]).itemsize  # the copy kernel moves bytes
        pitch = item * int(np.prod(y.shape[axis:]))
        parts, off = [], 0
        for k in op.inputs:
            t = self.t(k)
            if t.q() != y.q():
                raise InputError(self.g.path, f"operator {op.index} (CONCATENATION): inputs must share the "
                                              "output's scale and zero point")
            inner = item * int(np.prod(t.shape[axis:]))
            parts.append(ConcatPart(tensor=k, outer=outer, inner=inner, pitch=pitch, offset=off))
            off += inner
        return PreparedConcat(params=None, kernel="concat_part_s8", parts=tuple(parts))

    def emit_concatenation(self, op: Operator, prep: PreparedConcat) -> _Emit:
        calls = [f"{self.fn(prep.kernel)}({c.outer}, {c.inner}, {c.pitch}, (const int8_t *){self.ref(c.tensor)}, "
                 f"(int8_t *){self.ref(op.outputs[0])} + {c.offset});" for c in prep.parts]
        return _Emit([], "\n    ".join(calls))


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """What an operator's prepare step returns (TFLM's ``Prepare()``): its kernel parameters, typed and frozen
    (:mod:`.params`), and the kernel it calls; no C is written and nothing is recorded until the emitter runs."""

    params: params.CStruct | None
    """The ``l{i}_p`` struct; None for ops without one (aliases, concatenation)."""
    kernel: str | None = None
    """Kernel name (``conv2d_s8``, ``add_s16``...): ``tinyasc_<kernel>`` or, per backend, ``tinyasc_opt_<kernel>``."""
    macs: int = 0
    fused_from: int | None = None
    """MEAN of products: the index of the MUL it reads through (its own params are ``l{fused_from}_p``)."""


def fc_block_shape(core: Target | None) -> tuple[int, int] | None:
    """(rows, k) of the row blocks the optimized FULLY_CONNECTED kernel reads on ``core`` (tinyasc_opt_fc.c), or
    None where it reads the rows as they are: Helium eight rows of sixteen bytes (one vector each, at immediate
    offsets from one pointer), the DSP cores four rows of four bytes (two LDRD a step)."""
    if core is None:
        return None
    isa = SPECS[core].isa
    if IsaFeature.MVE in isa:
        return (8, 16)
    return (4, 4) if IsaFeature.DSP in isa else None


#: The most zero rows the row blocks may add to a layer, as a fraction of its rows (flash and time).
FC_BLOCKS_MAX_PADDING = 1 / 8
#: The fewest MACs a model's FULLY_CONNECTED layers must hold in row blocks for the library to take them: the blocks'
#: kernel is about 170 B of flash larger than the rows' on the DSP cores, which a classifier's head of a few hundred
#: MACs (KWS: 64 x 12) does not win back in time.
FC_BLOCKS_MIN_MACS = 8192


def fc_blocks_pay(n: int, rows: int) -> bool:
    """Whether a FULLY_CONNECTED layer of ``n`` output rows takes row blocks of ``rows``: at least one whole block,
    and the zero rows that complete the last block at most FC_BLOCKS_MAX_PADDING of the layer's rows (a classifier's
    two or ten output rows padded to eight or twelve would cost flash and time; such layers keep the rows as they
    are)."""
    return n >= rows and -(-n // rows) * rows - n <= FC_BLOCKS_MAX_PADDING * n


def fc_row_blocks(w: np.ndarray, rows: int, ks: int) -> np.ndarray:
    """FULLY_CONNECTED weights [N, K] in row blocks (the layout of tinyasc_fc_blocks_params): N rounded up to
    ``rows`` with zero rows; block j is K / ks steps of ``rows`` x ``ks`` bytes, step s holding row j rows + r's
    weights s ks .. s ks + ks - 1 for r = 0, 1, ..., then the last K % ks weights of each row in turn (no step
    padded)."""
    n, k = w.shape
    n_pad, k_whole = -(-n // rows) * rows, k - k % ks
    padded = np.zeros((n_pad, k), dtype=w.dtype)
    padded[:n] = w
    blocks = padded.reshape(n_pad // rows, rows, k)
    steps = blocks[:, :, :k_whole].reshape(n_pad // rows, rows, k_whole // ks, ks).transpose(0, 2, 1, 3)
    tail = blocks[:, :, k_whole:]
    return np.ascontiguousarray(np.concatenate([steps.reshape(n_pad // rows, -1), tail.reshape(n_pad // rows, -1)],
                                               axis=1)).reshape(-1)


def fold_fc_input_offset(prep: PreparedFc) -> PreparedFc:
    """A FULLY_CONNECTED layer with its input offset folded into the bias: sum_k w (x + off) + b is
    sum_k w x + (b + off sum_k w), the same integers, so every kernel's bytes stay the portable kernel's and TFLite
    Micro's. The kernels then sum the raw products (Helium: no VADDVA of the weights beside each VMLADAVA; the DSP
    cores: SXTB16 of the inputs, no offset register). Left as it is where there is nothing to fold (offset 0), where
    the weights carry a zero point, or where a sum could leave int32 in either form (|b| + (|off| + 128) sum |w| must
    stay below 2^31, so neither order of summation overflows). Where the layer has no bias the folded one costs 4
    bytes of flash per output row."""
    p = prep.params
    off = p.input_offset
    if off == 0 or p.filter_offset != 0:
        return prep
    w = prep.filter.astype(np.int64).reshape(p.out_depth, p.accum_depth)
    bias = np.zeros(p.out_depth, np.int64) if prep.bias is None else prep.bias.astype(np.int64).reshape(-1)
    bound = np.abs(bias) + (abs(off) + 128) * np.abs(w).sum(axis=1)
    if int(bound.max()) >= 1 << 31:
        return prep
    folded = bias + off * w.sum(axis=1)
    return dataclasses.replace(prep, params=dataclasses.replace(p, input_offset=0), bias=folded.astype(np.int32))


def binary_fast_ok(p: params.BinaryParams, name: str) -> bool:
    """Whether an int8 ADD / SUB / MUL / SQUARED_DIFFERENCE (``name``: ``add``...) meets the precondition of the
    optimized library's ``_fast`` kernels (``ok()`` in c/opt/tinyasc_opt_binary.c): every rescaling multiplier
    valid, the input rescalings at most one (shift <= 0) and, for ADD and SUB, the output's too. TFLite's Prepare
    quantizes exactly these rescalings as below one (``quant.add_params``...), so every layer of a ``.tflite`` meets it
    and calls the ``_fast`` entry; the check keeps parameters built otherwise on the wrapper, which takes any."""
    return quant.fast_rescalings(p.in1_mult, p.in1_shift, p.in2_mult, p.in2_shift, p.out_mult, p.out_shift, name)


#: TINYASC_OPT_MAX_K of the DSP cores (c/opt/tinyasc_opt.h): the longest window their convolution kernels gather.
DSP_OPT_MAX_K = 2304


#: Must equal LINE3P_MIN_LEN in c/opt/tinyasc_opt_line3p.c: the shortest line Helium's planes pay for (measured on
#: the quick model's M55 libraries: session 49 lines of 128 and 64 outputs 11% and 15% faster, of 32 1% slower, one
#: line of 17 twice as slow; with eight outputs a pass, session 57, lines of 32 7-12% faster; docs/latency.md).
LINE3P_MIN_LEN = 32


def helium_core(core: Target | None) -> bool:
    """Whether ``core`` has Helium (MVE)."""
    return core is not None and IsaFeature.MVE in SPECS[core].isa


def pointwise_on_planes(p: params.ConvParams) -> bool:
    """Whether a CONV_2D is a pointwise layer the sparse kernel's Helium planes path takes (``mve_sparse_pw``): 1 x 1
    at stride 1 without padding over several input channels, the whole int8 range (its output path's clamp);
    :func:`.sparse.why_dense` then weighs it against the dense kernel."""
    return (p.k_h == 1 and p.k_w == 1 and p.stride_h == 1 and p.stride_w == 1 and p.pad_h == 0 and p.pad_w == 0
            and p.in_h == p.out_h and p.in_w == p.out_w and p.in_c > 1 and p.act_min == -128 and p.act_max == 127)


def _line3_axis(p: params.ConvParams) -> str | None:
    """The axis ("h": a 3 x 1 column, "w": a 1 x 3 row) of a three-tap line layer, at stride 1, undilated along it, of
    depth multiplier 1; None for any other layer: the shape both line kernels' rules start from."""
    if p.depth_multiplier != 1 or p.stride_h != 1 or p.stride_w != 1:
        return None
    if p.k_h == 3 and p.k_w == 1 and p.dil_h == 1:
        return "h"
    if p.k_h == 1 and p.k_w == 3 and p.dil_w == 1:
        return "w"
    return None


def line3p_pays(p: params.ConvParams, *, depthwise: bool) -> bool:
    """Whether a depthwise (or channel-wise, run as depthwise) layer is a three-tap line, 3 x 1 or 1 x 3 at stride 1 and
    undilated, with lines of at least :data:`LINE3P_MIN_LEN` outputs: on a Helium core its library then ships
    ``tinyasc_opt_line3p.c`` (Helium's lines on planes; the C checks the rest: the whole int8 range, right shifts)."""
    axis = _line3_axis(p) if depthwise else None
    return axis is not None and (p.out_h if axis == "h" else p.out_w) >= LINE3P_MIN_LEN


def line3_dsp_ships(p: params.ConvParams, *, depthwise: bool) -> bool:
    """Whether a depthwise or channel-wise layer (one input channel per output channel, as the line kernel takes a
    grouped CONV_2D in place) is a three-tap line, 3 x 1 or 1 x 3 at stride 1 and undilated, "same" or "valid": on a
    DSP core without Helium its library then ships ``tinyasc_opt_line3_dsp.c`` (every line of the layer in one asm
    call per group of channels; the C checks the rest: the whole int8 range, each channel's requantization)."""
    channelwise = depthwise or (p.filter_in_c == 1 and p.in_c == p.out_c)
    axis = _line3_axis(p) if channelwise else None
    if axis == "h":
        return p.pad_h <= 1 and p.pad_w == 0
    return axis == "w" and p.pad_w <= 1 and p.pad_h <= 0


#: Must equal DW_TAPS_MIN_TAPS in c/opt/tinyasc_opt_dw_taps.c: the shortest column Helium's VMLADAVA kernel takes.
DW_TAPS_MIN_TAPS = 16


def dw_taps_ships(p: params.ConvParams, *, depthwise: bool) -> bool:
    """Whether a depthwise layer (multiplier 1) has k x 1 windows of at least :data:`DW_TAPS_MIN_TAPS` taps, every one
    wholly inside the input: on a Helium core its library then ships ``tinyasc_opt_dw_taps.c`` (such a layer by
    VMLADAVA; the C checks the same and the gathers' 16-bit offsets)."""
    if not depthwise or p.depth_multiplier != 1 or p.k_w != 1 or p.k_h < DW_TAPS_MIN_TAPS:
        return False
    return (p.pad_h <= 0 and p.pad_w <= 0 and (p.out_h - 1) * p.stride_h - p.pad_h + (p.k_h - 1) * p.dil_h < p.in_h
            and (p.out_w - 1) * p.stride_w - p.pad_w < p.in_w)


#: The CONV_2D entries whose Helium kernels reach the three-block pairs kernels (tinyasc_opt_pairs3.c): the im2col
#: and in-place ones (rows_groups, win_groups in c/opt/tinyasc_opt_mve.c), not the 1x1 of the input's size.
PAIRS3_ENTRIES = frozenset({"conv2d_s8", "conv2d_c16_s8", "conv2d_1x1_inplace_c16_s8"})


def pairs3_ships(p: params.ConvParams, *, depthwise: bool) -> bool:
    """Whether an int8 CONV_2D's windows may run through Helium's pairs kernels three 16-byte blocks a step: ungrouped,
    inputs a multiple of 16 channels, and a window (k_h k_w C bytes: the gathered and in-place pairs) or a window row
    (k_w C: the windows read in place) of whole threes of blocks, as every 3-wide window's. On a Helium core its library
    then ships ``tinyasc_opt_pairs3.c`` (the C checks the rest and takes the one-block kernels elsewhere)."""
    if depthwise or p.filter_in_c != p.in_c or p.in_c % 16:
        return False
    return (p.k_h * p.k_w * p.in_c) % 48 == 0 or (p.k_w * p.in_c) % 48 == 0


@dataclass(frozen=True, kw_only=True)
class WeakFileRule:
    """When an optimized library ships a weakly reached kernel file (:attr:`.kernel_sources.Kernel.weak`): the cores
    it serves and the layers that reach it. Every such file holds int8 kernels only: no 16x8 layer reaches one. The
    file's C checks each layer again and falls back where it declines."""

    kernel: Kernel
    """The weakly reached kernel (its file and strong symbol)."""
    core: Callable[[Target | None], bool]
    """Whether the library's core takes the file."""
    ships: Callable[[params.ConvParams, bool], bool]
    """``ships(conv, depthwise)``: whether an int8 convolution (its parameters and kind) may reach the file."""
    entries: frozenset[str] | None = None
    """The chosen kernel entries whose code reaches the file; ``None``: whichever entry the layer takes."""

    def applies(self, conv: params.ConvParams, *, core: Target | None, depthwise: bool, wide: bool,
                kernel: str) -> bool:
        """Whether a layer (its parameters, kind and chosen entry) makes a library for ``core`` ship the file."""
        return (self.core(core) and not wide and (self.entries is None or kernel in self.entries)
                and self.ships(conv, depthwise))


def _weak_kernel_links(kernels_used: set[str]) -> str:
    """model.c's strong references to the files of the weakly reached kernels it ships (:data:`WEAK_KERNEL_LINKS`):
    a static archive extracts a member for a strong reference only, so without them a library built as one (CMake's
    ``libtinyasc.a``) would link none of those files and run the slower kernels the measured build does not."""
    links = sorted(WEAK_KERNEL_LINKS[k] for k in kernels_used if k in WEAK_KERNEL_LINKS)
    if not links:
        return ""
    decls = "".join(f"extern const uint8_t {s};\n" for s in links)
    refs = ", ".join(f"&{s}" for s in links)
    return (f"/* Kernel files reached through a weak reference (tinyasc_opt.h): one strong reference each, so that a\n"
            f" * static library links them as the measured build does. */\n{decls}"
            f"const uint8_t *const tinyasc_weak_kernel_files[] = {{{refs}}};\n\n")


def conv_pairs_core(core: Target | None) -> bool:
    """Whether ``core``'s optimized convolutions read filter rows in word-interleaved pairs (the DSP cores without
    Helium: M4, M7)."""
    return core is not None and IsaFeature.DSP in SPECS[core].isa and not helium_core(core)


def sparse_t_ships(p: params.ConvParams, nnz: int, *, in_place: bool) -> bool:
    """Whether a CONV_2D stored sparse with ``nnz`` non-zeros may take the DSP cores' passes on its input transposed
    (c/sparse/tinyasc_sparse_t.c; the condition ``tr`` of tinyasc_sparse_conv2d_s8, which checks each call again): a
    1 x 1 layer at stride 1 without padding over one image (or in place: its pixels in chunks of one), channels a
    multiple of 4, a ReLU range's output (zero point -128, the whole int8 range), at least eight pixels whose
    transposed input fits the kernel's table past a row's words, and enough non-zeros to pay for the transposition:
    11 estimated M4 cycles saved per non-zero and pass of eight, less about 3 for its offset, against about 3 a byte.
    An in-place layer's pixels come in chunks the kernel's stage holds; the rule counts them all (the file may ship for
    a layer whose chunks then decline)."""
    if not (p.k_h == 1 and p.k_w == 1 and p.stride_h == 1 and p.stride_w == 1 and p.pad_h == 0 and p.pad_w == 0
            and p.in_h == p.out_h and p.in_w == p.out_w and p.filter_in_c == p.in_c and p.in_c % 4 == 0):
        return False
    if p.output_offset != -128 or p.act_min != -128 or p.act_max != 127 or (p.batches != 1 and not in_place):
        return False
    pixels = p.in_h * p.in_w * (p.batches if in_place else 1)
    tp = (pixels + 3) // 4 * 4
    if pixels < 8 or p.in_c * tp > (sparse_mod.SPARSE_MAX_K - p.in_c) * 4:  # past a row's words in the kernel's table
        return False
    return nnz * (11 * (pixels // 8) - 3) > 3 * p.in_c * pixels


def conv_pairs_ok(p: params.ConvParams, mults, shifts) -> bool:
    """Whether an int8 CONV_2D runs on the DSP cores' pixel pairs over word-interleaved row pairs (the conditions of
    tinyasc_simd_conv2d_pairs_s8 and of its asm path in simd_conv_body, c/opt/tinyasc_opt_dsp.c): ungrouped, its
    window of K4 (K rounded up to whole words) up to DSP_OPT_MAX_K bytes, two or more output channels, the fast output
    path (the whole int8 range, every channel's zero point folding: tinyasc_rq_zp_folds) and the pairs' constants
    fitting the window stage after a window's bytes. One input channel in the shapes of the one-channel kernel
    (tinyasc_conv_c1_s8: filters 5 or 6 wide, stride 2 along the width, undilated) stays with it. A layer that does
    not qualify keeps its rows as they are; one stored sparse ignores the choice (emit_conv)."""
    k4 = (p.k_h * p.k_w * p.in_c + 3) & ~3
    if p.filter_in_c != p.in_c or k4 > DSP_OPT_MAX_K or p.out_c < 2:
        return False
    if p.in_c == 1 and p.dil_w == 1 and p.k_w in (5, 6) and p.stride_w == 2:
        return False
    if p.act_min != -128 or p.act_max != 127:
        return False
    if not all(m > 0 and -23 <= s <= -2 for m, s in zip(mults, shifts)):
        return False
    cst_at = 0 if p.in_c % 4 == 0 else k4
    return cst_at + (min(p.out_c, 64) // 2) * 32 <= DSP_OPT_MAX_K + 4


def conv_row_pairs(rows: np.ndarray) -> np.ndarray:
    """A CONV_2D filter [out_c, K] in the layout of tinyasc_conv2d_pairs_s8: each row padded with zeros to K4 (K
    rounded up to a multiple of 4), rows 2i and 2i + 1 word-interleaved (row 2i's word j, then row 2i + 1's), an odd
    last row as it is (padded)."""
    n, k = rows.shape
    k4 = (k + 3) & ~3
    padded = np.zeros((n, k4), dtype=rows.dtype)
    padded[:, :k] = rows
    even = n - n % 2
    pairs = padded[:even].reshape(even // 2, 2, k4 // 4, 4).transpose(0, 2, 1, 3).reshape(-1)
    return np.ascontiguousarray(np.concatenate([pairs, padded[even:].reshape(-1)]))


def pointwise_same_size(p: params.ConvParams) -> bool:
    """Whether a convolution is 1x1 without padding or stride, its output of the input's size."""
    return (p.k_h == p.k_w == 1 and p.pad_h == p.pad_w == 0 and p.stride_h == p.stride_w == 1
            and p.in_h == p.out_h and p.in_w == p.out_w)


#: Helium's depthwise column entry takes columns of at most this many taps (DW_RUN_MAX_TAPS in
#: c/opt/tinyasc_opt_mve.c): its runs keep four channels in int32 lanes, which beat the eight-channel int16 column
#: kernel per pixel (dw_column8) only on short columns; longer ones stay on the general entry.
HELIUM_COLUMN_MAX_TAPS = 16


def depthwise_column(p: params.ConvParams) -> bool:
    """Whether a depthwise layer (multiplier 1, not in place) is a column of more than three taps (k_h x 1: the
    BC-ResBlock's frequency-spanning convolutions, the streaming wake word's), the entry ``depthwise_column_s8`` whose
    runs of whole columns (DSP cores; Helium's short columns) other libraries do not link; the three-tap ones keep the
    line kernel."""
    return p.k_w == 1 and p.k_h > 3 and p.depth_multiplier == 1


def depthwise_column_entry(p: params.ConvParams, core: Target | None) -> bool:
    """Whether an optimized library for ``core`` sends the depthwise layer to ``depthwise_column_s8``: a column
    (:func:`depthwise_column`) on the DSP cores, on Helium a column of at most :data:`HELIUM_COLUMN_MAX_TAPS` taps
    over two windows at least (one window per group of four channels runs faster on the general entry)."""
    helium_runs = helium_core(core) and p.k_h <= HELIUM_COLUMN_MAX_TAPS and p.batches * p.out_h * p.out_w >= 2
    return depthwise_column(p) and (conv_pairs_core(core) or helium_runs)


def window_stride2(p: params.ConvParams) -> bool:
    """Whether a depthwise layer of windows over both axes has no undilated axis of stride 1 and one of stride 2 (the
    entry ``depthwise_window_s2_s8``, whose DSP planes at stride 2 other libraries do not link)."""
    axes = ((p.stride_h, p.dil_h), (p.stride_w, p.dil_w))  # (stride, dilation) along y and x
    return (1, 1) not in axes and (2, 1) in axes


def conv_c16(p: params.ConvParams, *, depthwise: bool, wide: bool) -> bool:
    """Whether an int8 CONV_2D takes the entry of dense layers on inputs a multiple of 16 (``conv2d_c16_s8``, whose
    Helium kernel reads the windows inside the input in place): ungrouped, not a 1x1 of the input's size."""
    return (not depthwise and not wide and p.filter_in_c == p.in_c and p.in_c % 16 == 0
            and not pointwise_same_size(p))


def channelwise_as_depthwise(conv: params.ConvParams, *, depthwise: bool, wide: bool, in_place: bool) -> bool:
    """Whether a CONV_2D runs as DEPTHWISE_CONV_2D with multiplier 1: a channel-wise convolution (one input
    channel per group and one output channel per group, how onnx2tf writes PyTorch's depthwise convolutions)
    with more than one tap, int8, not in place. The same sums per output channel with the same constants, so
    the same integers; the filter is stored tap-major (``[1, kh, kw, C]``, the depthwise layout), which puts a
    tap's channels side by side for the depthwise kernels' four channels per word (DSP) or per vector (Helium),
    where the grouped layout made every tap of every channel a byte load. One-tap ones stay: they are per-channel
    affines (the sub-spectral norm's), tabulated, and the fused sub-band affine reads their grouped weights."""
    return (not depthwise and not wide and not in_place and conv.filter_in_c == 1 and conv.in_c > 1
            and conv.out_c == conv.in_c and conv.k_h * conv.k_w > 1)


@dataclass(frozen=True, kw_only=True)
class PreparedConv(Prepared):
    """A convolution: its params plus the constants (filter, per-channel multiplier and shift, bias)."""

    filter: np.ndarray = field(repr=False)
    multiplier: tuple[int, ...]
    shift: tuple[int, ...]
    bias: np.ndarray | None = field(default=None, repr=False)
    bias_ctype: str | None = None
    depthwise: bool = False
    wide: bool = False
    """16x8: int16 activations, int64 biases (``tinyasc_weights_16x8``)."""
    in_place: bool = False
    column: bool = False
    constant_channels: tuple[int, ...] = ()
    """Channels whose output is one constant for every input, their bias, multiplier and shift rewritten to give it
    on the folded output path (:func:`quant.constant_channel`)."""

    def __post_init__(self) -> None:
        n = self.params.out_c
        if len(self.multiplier) != n or len(self.shift) != n or (self.bias is not None and len(self.bias) != n):
            raise ValueError(f"{self.kernel}: per-channel constants do not match out_c = {n}")


@dataclass(frozen=True, kw_only=True)
class PreparedFc(Prepared):
    filter: np.ndarray = field(repr=False)
    multiplier: tuple[int, ...]
    shift: tuple[int, ...]
    bias: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConcatPart:
    """One input of a CONCATENATION: ``outer`` rows of ``inner`` bytes into rows ``pitch`` bytes apart."""

    tensor: int
    outer: int
    inner: int
    pitch: int
    offset: int


@dataclass(frozen=True, kw_only=True)
class PreparedConcat(Prepared):
    parts: tuple[ConcatPart, ...]


@dataclass(frozen=True, kw_only=True)
class OpSpec:
    """One registered operator: what it accepts, how it is generated, which kernels it calls.

    The registry drives validation (an op or activation type it lacks is refused in one line),
    generation (``prepare``: typed, frozen parameters; ``emit``: their C), the kernel symbol per backend
    and the library's files (``kernels``) and the tests
    (``tests/test_firmware_ops.py`` asserts a bit-exact case against TFLite Micro for every
    registered op x activation type x backend)."""

    opcode: str
    """TFLite builtin operator name."""
    activations: frozenset[str]
    """Activation types it has kernels for: ``INT8``, and ``INT16`` where a 16x8 kernel exists."""
    prepare: Callable[[_Generator, Operator], Prepared]
    """TFLM's ``Prepare()``: validates the operator and computes its kernel parameters, typed and frozen
    (:class:`Prepared`, :mod:`.params`); writes no C and records nothing."""
    emit: Callable[[_Generator, Operator, Prepared], _Emit]
    """Writes the prepared parameters (designated initializers), the constants and the kernel call."""
    kernels: tuple[Kernel, ...] = ()
    """The C kernels its layers may call and the library files that define them, portable and (where the
    Cortex-M library has a ``tinyasc_opt_`` twin) optimized: :class:`.kernel_sources.Kernel`."""
    time_rule: TimeRule = TimeRule.NONE
    """How it treats the time axis when the trunk runs on time tiles (:mod:`.tiling`)."""
    emit_tile: Callable[..., "tile_emit.TileEmit"] | None = None
    """Its C inside the tile loop (:mod:`.tile_emit`); None: it may only run after the pooling."""

    def __post_init__(self) -> None:
        if not self.activations <= {"INT8", "INT16"} or not self.activations:
            raise ValueError(f"{self.opcode}: activations must be a non-empty subset of INT8, INT16")
        for k in self.optimized:
            wide = k.endswith(("_s16", "_16x8"))
            if not (k.endswith("_s8") or wide) or (wide and "INT16" not in self.activations):
                raise ValueError(f"{self.opcode}: optimized kernel {k} is neither int8 (_s8) nor an int16 kernel "
                                 "(_s16, _16x8) of an op registered for INT16")
        if len({k.name for k in self.kernels}) != len(self.kernels):
            raise ValueError(f"{self.opcode}: a kernel listed twice")
        if (self.time_rule is TimeRule.NONE) != (self.emit_tile is None):
            raise ValueError(f"{self.opcode}: a time rule needs a tile emitter and vice versa")

    @property
    def optimized(self) -> frozenset[str]:
        """Its kernels (``add_s8``, ``add_s16``, ``conv2d_16x8``...) with a ``tinyasc_opt_`` twin."""
        return frozenset(k.name for k in self.kernels if k.optimized is not None)


_I8 = frozenset({"INT8"})
_I8_I16 = frozenset({"INT8", "INT16"})
_G = _Generator
_K = Kernel
_ks = kernel_sources
# Kernels several operators share (one record each: the same files wherever listed).
_CONV_COL = _K("conv_col_inplace_s8", (_ks.CONV,), _ks.OPT_INPLACE)
_BAND = _K("band_affine_s8", (_ks.CONV,), _ks.OPT_CONV)
_BAND_ADD = _K("band_add_s8", _ks.BAND_ADD, _ks.OPT_BAND_ADD)
_DEPTHWISE = _K("depthwise_conv2d_s8", (_ks.CONV,), _ks.OPT_CONV)  # also a channel-wise CONV_2D's
_DEPTHWISE_MULTIPLIER = _K("depthwise_conv2d_multiplier_s8", (_ks.CONV,), _ks.OPT_CONV)  # depth multiplier > 1
_DW_WINDOW = _K("depthwise_window_s8", (_ks.CONV,), _ks.OPT_DW_WINDOW)  # depthwise windows over both axes
_DW_WINDOW_S2 = _K("depthwise_window_s2_s8", (_ks.CONV,), _ks.OPT_DW_WINDOW)  # ... strided on both (window_stride2)
_DW_COLUMN = _K("depthwise_column_s8", (_ks.CONV,), _ks.OPT_CONV)  # long columns (depthwise_column)
_LINE3P = _K("line3p_s8", _ks.OPT_LINE3P, weak=True)  # Helium's three-tap lines on planes (line3p_pays)
_LINE3_DSP = _K("line3_dsp_s8", _ks.OPT_LINE3_DSP, weak=True)  # the DSP cores' line layers in asm (line3_dsp_ships)
_DW_TAPS = _K("dw_taps_s8", _ks.OPT_DW_TAPS, weak=True)  # Helium's long depthwise columns (dw_taps_ships)
_PAIRS3 = _K("pairs3_s8", _ks.OPT_PAIRS3, weak=True)  # Helium's pairs kernels three blocks a step (pairs3_ships)
_SPARSE_T = _K("sparse_t_s8", _ks.SPARSE_T, weak=True)  # DSP sparse passes on a transposed input (sparse_t_ships)
#: The weakly reached kernel files an optimized library ships, each with the rule that ships it (_Generator.prepare_conv).
WEAK_FILE_RULES: tuple[WeakFileRule, ...] = (
    WeakFileRule(kernel=_LINE3P, core=helium_core, ships=lambda p, dw: line3p_pays(p, depthwise=dw)),
    WeakFileRule(kernel=_LINE3_DSP, core=conv_pairs_core, ships=lambda p, dw: line3_dsp_ships(p, depthwise=dw)),
    WeakFileRule(kernel=_DW_TAPS, core=helium_core, ships=lambda p, dw: dw_taps_ships(p, depthwise=dw)),
    WeakFileRule(kernel=_PAIRS3, core=helium_core, ships=lambda p, dw: pairs3_ships(p, depthwise=dw),
                 entries=PAIRS3_ENTRIES),
)
_SHIFT = _K("shift_columns", (_ks.MOVE,))  # the tile loop's window of a windowed op (tile_emit.stage)
_TRANSPOSE = _K("transpose_s8", (_ks.MOVE,))  # TRANSPOSE, and the tile loop staging sub-band layouts
_TRANSPOSE16 = _K("transpose_s16", (_ks.INT16,))
_PAD = (_K("pad_s8", (_ks.MOVE,), _ks.OPT_PAD), _K("pad_s16", (_ks.INT16,)), _K("pad_view_s8", (_ks.MOVE,)))
#: Every operator the generator supports: the activation types it takes, its emitter, its kernels (portable
#: and optimized, with their files), its time rule. Reshape-like ops are arena aliases (no kernel).
REGISTRY: dict[str, OpSpec] = {spec.opcode: spec for spec in (
    OpSpec(opcode="CONV_2D", activations=_I8_I16, prepare=_G.prepare_conv_2d, emit=_G.emit_conv,
           kernels=(_K("conv2d_s8", (_ks.CONV,), _ks.OPT_CONV), _K("conv2d_1x1_s8", (_ks.CONV,), _ks.OPT_CONV),
                    _K("conv2d_c16_s8", (_ks.CONV,), _ks.OPT_CONV),
                    _K("conv2d_pairs_s8", (_ks.CONV,), _ks.OPT_CONV_PAIRS),
                    _K("conv2d_1x1_inplace_pairs_s8", (_ks.CONV,), _ks.OPT_INPLACE_PAIRS),
                    _DEPTHWISE, _DW_WINDOW, _DW_WINDOW_S2, _DW_COLUMN, _LINE3P, _LINE3_DSP, _DW_TAPS, _PAIRS3,
                    _K("conv2d_1x1_inplace_s8", (_ks.CONV,), _ks.OPT_INPLACE),
                    _K("conv2d_1x1_inplace_c16_s8", (_ks.CONV,), _ks.OPT_INPLACE), _CONV_COL, _BAND,
                    _K(SPARSE_KERNEL, (_ks.SPARSE,)), _K(SPARSE_INPLACE_KERNEL, _ks.SPARSE_INPLACE), _SPARSE_T,
                    _K("conv2d_16x8", (_ks.INT16,), _ks.OPT_16X8), _SHIFT, _TRANSPOSE),
           time_rule=TimeRule.WINDOW, emit_tile=tile_emit.conv),
    OpSpec(opcode="DEPTHWISE_CONV_2D", activations=_I8_I16, prepare=_G.prepare_depthwise_conv_2d, emit=_G.emit_conv,
           kernels=(_DEPTHWISE, _DEPTHWISE_MULTIPLIER, _DW_WINDOW, _DW_WINDOW_S2, _DW_COLUMN, _LINE3P, _LINE3_DSP,
                    _DW_TAPS,
                    _CONV_COL, _BAND,
                    _K("depthwise_conv2d_16x8", (_ks.INT16,), _ks.OPT_16X8), _SHIFT, _TRANSPOSE),
           time_rule=TimeRule.WINDOW, emit_tile=tile_emit.conv),
    OpSpec(opcode="FULLY_CONNECTED", activations=_I8, prepare=_G.prepare_fully_connected, emit=_G.emit_fully_connected,
           kernels=(_K("fully_connected_s8", ("kernels/fully_connected.c",), _ks.OPT_FC),
                    _K("fully_connected_blocks_s8", ("kernels/fully_connected.c",), _ks.OPT_FC))),
    OpSpec(opcode="ADD", activations=_I8_I16, prepare=_G.prepare_add, emit=_G.emit_binary,
           kernels=(_K("add_s8", (_ks.BINARY,), _ks.OPT_BINARY), _K("add_fast_s8", (_ks.BINARY,), _ks.OPT_BINARY),
                    _K("add_s16", (_ks.INT16,), _ks.OPT_BINARY), _BAND_ADD),
           time_rule=TimeRule.ELEMENTWISE, emit_tile=tile_emit.binary),
    OpSpec(opcode="SUB", activations=_I8, prepare=_G.prepare_sub, emit=_G.emit_binary,
           kernels=(_K("sub_s8", (_ks.BINARY,), _ks.OPT_BINARY), _K("sub_fast_s8", (_ks.BINARY,), _ks.OPT_BINARY)),
           time_rule=TimeRule.ELEMENTWISE,
           emit_tile=tile_emit.binary),
    OpSpec(opcode="MUL", activations=_I8_I16, prepare=_G.prepare_mul, emit=_G.emit_binary,
           kernels=(_K("mul_s8", (_ks.BINARY,), _ks.OPT_BINARY), _K("mul_fast_s8", (_ks.BINARY,), _ks.OPT_BINARY),
                    _K("mul_s16", (_ks.INT16,), _ks.OPT_BINARY), _K("lut_s8", (_ks.UNARY,))),
           time_rule=TimeRule.ELEMENTWISE, emit_tile=tile_emit.binary),
    OpSpec(opcode="SQUARED_DIFFERENCE", activations=_I8, prepare=_G.prepare_squared_difference,
           emit=_G.emit_binary, kernels=(_K("squared_difference_s8", (_ks.BINARY,), _ks.OPT_BINARY),
                                         _K("squared_difference_fast_s8", (_ks.BINARY,), _ks.OPT_BINARY)),
           time_rule=TimeRule.ELEMENTWISE, emit_tile=tile_emit.binary),
    OpSpec(opcode="LOGISTIC", activations=_I8_I16, prepare=_G.prepare_logistic, emit=_G.emit_logistic,
           kernels=(_K("logistic_s8", (_ks.UNARY,)), _K("logistic_s16", (_ks.INT16,))),
           time_rule=TimeRule.SAME_RANGE, emit_tile=tile_emit.unary),
    OpSpec(opcode="SOFTMAX", activations=_I8, prepare=_G.prepare_softmax, emit=_G.emit_unary,
           kernels=(_K("softmax_s8", (_ks.UNARY,)),)),
    OpSpec(opcode="RSQRT", activations=_I8, prepare=_G.prepare_rsqrt, emit=_G.emit_unary,
           kernels=(_K("rsqrt_s8", (_ks.UNARY,)),), time_rule=TimeRule.SAME_RANGE, emit_tile=tile_emit.unary),
    OpSpec(opcode="MAX_POOL_2D", activations=_I8_I16, prepare=_G.prepare_max_pool_2d, emit=_G.emit_unary,
           kernels=(_K("max_pool_s8", (_ks.POOLING,), _ks.OPT_POOL), _K("max_pool_s16", (_ks.INT16,), _ks.OPT_POOL),
                    _K("add_max_pool_s8", _ks.ADD_POOL, _ks.OPT_ADD_POOL),  # an ADD fused in (find_add_pools)
                    _SHIFT, _TRANSPOSE),
           time_rule=TimeRule.WINDOW, emit_tile=tile_emit.pool),
    OpSpec(opcode="AVERAGE_POOL_2D", activations=_I8, prepare=_G.prepare_average_pool_2d, emit=_G.emit_unary,
           kernels=(_K("avg_pool_s8", (_ks.POOLING,), _ks.OPT_POOL), _SHIFT, _TRANSPOSE),
           time_rule=TimeRule.WINDOW, emit_tile=tile_emit.pool),
    OpSpec(opcode="MEAN", activations=_I8_I16, prepare=_G.prepare_mean, emit=_G.emit_mean,
           kernels=(_K("mean_s8", (_ks.REDUCE,)), _K("mean_of_mul_s8", (_ks.REDUCE,)),
                    _K("mean_acc_s8", (_ks.REDUCE,)), _K("mean_finish_s8", (_ks.REDUCE,)),
                    _K("mean_s16", (_ks.INT16,))),
           time_rule=TimeRule.REDUCE, emit_tile=tile_emit.mean),
    OpSpec(opcode="PAD", activations=_I8_I16, prepare=_G.prepare_pad, emit=_G.emit_unary, kernels=_PAD,
           time_rule=TimeRule.PAD, emit_tile=tile_emit.pad),
    OpSpec(opcode="PADV2", activations=_I8_I16, prepare=_G.prepare_pad, emit=_G.emit_unary, kernels=_PAD,
           time_rule=TimeRule.PAD, emit_tile=tile_emit.pad),
    OpSpec(opcode="TRANSPOSE", activations=_I8_I16, prepare=_G.prepare_transpose, emit=_G.emit_unary,
           kernels=(_TRANSPOSE, _TRANSPOSE16), time_rule=TimeRule.LAYOUT, emit_tile=tile_emit.transpose),
    OpSpec(opcode="RESHAPE", activations=_I8_I16, prepare=_G.prepare_reshape, emit=_G.emit_reshape,
           time_rule=TimeRule.SAME_RANGE, emit_tile=tile_emit.reshape),
    OpSpec(opcode="SQUEEZE", activations=_I8_I16, prepare=_G.prepare_reshape, emit=_G.emit_reshape),
    OpSpec(opcode="EXPAND_DIMS", activations=_I8_I16, prepare=_G.prepare_reshape, emit=_G.emit_reshape),
    OpSpec(opcode="CONCATENATION", activations=_I8_I16, prepare=_G.prepare_concatenation, emit=_G.emit_concatenation,
           kernels=(_K("concat_part_s8", (_ks.MOVE,)),)),
)}
#: C kernel symbol -> the library files (relative to ``c/``) that define it, from every operator's kernels.
KERNEL_SOURCES: dict[str, tuple[str, ...]] = kernel_sources.symbol_table(
    k for spec in REGISTRY.values() for k in spec.kernels)
#: Kernels reached through a weak reference: C symbol -> the strong symbol their file defines (Kernel.weak).
WEAK_KERNEL_LINKS: dict[str, str] = {f"tinyasc_{k.name}": k.link_symbol
                                     for spec in REGISTRY.values() for k in spec.kernels if k.weak}
#: Kernels the optimized library (c/opt) has a ``tinyasc_opt_`` twin of; every other kernel is portable.
OPTIMIZED_KERNELS: frozenset[str] = frozenset().union(*(spec.optimized for spec in REGISTRY.values()))


def activation_dtype(graph: Graph) -> str:
    """``"INT8"`` (int8 activations) or ``"INT16"`` (16x8: int16 activations, int8 weights)."""
    return graph.tensors[graph.inputs[0]].dtype


def validate(graph: Graph) -> None:
    """Refuse float/hybrid/mixed models, unsupported ops and unsupported shapes with one clear line."""
    path = graph.path
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise InputError(path, f"expected one input and one output, found {len(graph.inputs)} and {len(graph.outputs)}")
    act = activation_dtype(graph)
    for t in (graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]):
        if t.dtype not in ("INT8", "INT16") or t.dtype != act:
            raise InputError(path, f"float or hybrid model: tensor '{t.name}' is {t.dtype}, "
                                   "need a full-integer model, int8 or 16x8 (asc-export --int8 [--activations int16])")
    supported = sorted(k for k, spec in REGISTRY.items() if act in spec.activations)
    for op in graph.operators:
        if op.opcode not in supported:
            raise InputError(path, f"unsupported operator {op.opcode} at index {op.index} with {act.lower()} "
                                   f"activations (supported: {', '.join(supported)})")
        for k in (*op.inputs, *op.outputs):
            if k < 0:
                continue
            t = graph.tensors[k]
            if t.dtype in ("FLOAT32", "FLOAT16"):
                raise InputError(path, f"float or hybrid model: operator {op.index} ({op.opcode}) uses "
                                       f"{t.dtype} tensor '{t.name}'")
            if not t.is_const and t.dtype != act:
                raise InputError(path, f"operator {op.index} ({op.opcode}): activation '{t.name}' is {t.dtype} in a "
                                       f"model with {act.lower()} activations (mixed precision is not supported)")
            if not t.is_const and act == "INT16" and t.quantized and t.q()[1] != 0:
                raise InputError(path, f"operator {op.index} ({op.opcode}): int16 tensor '{t.name}' has zero point "
                                       f"{t.q()[1]} (16x8 quantization is symmetric)")
            if not t.is_const and not t.quantized:
                raise InputError(path, f"operator {op.index} ({op.opcode}): tensor '{t.name}' has no quantization")
            if len(t.shape) > MAX_DIMS:
                raise InputError(path, f"operator {op.index} ({op.opcode}): rank {len(t.shape)} > {MAX_DIMS}")
        if len(op.outputs) != 1:
            raise InputError(path, f"operator {op.index} ({op.opcode}): {len(op.outputs)} outputs not supported")


def _model_h(graph: Graph, plan: ArenaPlan, n_layers: int, choice: "tiling.TilingChoice | None" = None) -> str:
    x = graph.tensors[graph.inputs[0]]
    y = graph.tensors[graph.outputs[0]]
    xt, yt = C_TYPES[x.dtype], C_TYPES[y.dtype]
    stream_api = "" if choice is None else """
/* Streamed model: run the trunk while the input's frames arrive (invoke = begin + end).
 * begin() starts a clip; advance(frames) runs every step the first `frames` frames of
 * tinyasc_model_input_buffer() allow (they must hold their final values: not with a front end
 * that normalizes the clip at its end) and returns the frames consumed; end() runs the rest and
 * writes the output. */
void tinyasc_model_stream_begin(void);
int32_t tinyasc_model_stream_advance(int32_t frames);
int tinyasc_model_stream_end(tinyasc_output_t *output);
"""
    tiled = "" if choice is None else f"""
/* Streamed over time ({choice.chosen.steps} steps of {choice.chosen.step} input frames): RAM = the arena (sliding
 * column buffers) + the clip's input (TINYASC_INPUT_SIZE, static, outside the arena) + pooling
 * sums and counters = TINYASC_PEAK_RAM bytes. */
#define TINYASC_PEAK_RAM {choice.chosen.peak_ram_bytes}
#define TINYASC_STREAMED 1
"""
    return f"""/* Generated by tinyasc.firmware_sim from {Path(graph.path).name}. Do not edit. */
#ifndef TINYASC_MODEL_H
#define TINYASC_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* Element types of the model's input and output ({x.dtype.lower()} activations). */
typedef {xt} tinyasc_input_t;
typedef {yt} tinyasc_output_t;

#define TINYASC_INPUT_SIZE {x.size}   /* input {list(x.shape)} {xt} elements */
#define TINYASC_OUTPUT_SIZE {y.size}   /* output {list(y.shape)} {yt} elements */
#define TINYASC_ARENA_SIZE {plan.arena_size}
#define TINYASC_NUM_LAYERS {n_layers}
#define TINYASC_INPUT_SCALE {_float_lit(x.q()[0])}
#define TINYASC_INPUT_ZERO_POINT ({x.q()[1]})
#define TINYASC_OUTPUT_SCALE {_float_lit(y.q()[0])}
#define TINYASC_OUTPUT_ZERO_POINT ({y.q()[1]})
{tiled}
#ifdef __cplusplus
extern "C" {{
#endif

/* Run one inference. `input` may be tinyasc_model_input_buffer() (no copy). Returns 0. */
int tinyasc_model_invoke(const tinyasc_input_t *input, tinyasc_output_t *output);
/* Where the input tensor lives in the arena: write features here to skip the copy. */
tinyasc_input_t *tinyasc_model_input_buffer(void);
/* The arena's largest run of bytes beside the input (16-byte aligned; its length in *n_bytes), free between
 * inferences: e.g. the front end's clip cache (tinyasc_frontend_quantized_cached). Overwritten by an inference. */
void *tinyasc_model_spare(size_t *n_bytes);
/* Layer names, for profilers and debug dumps. */
extern const char *const tinyasc_layer_names[TINYASC_NUM_LAYERS];
{stream_api}
#ifdef __cplusplus
}}
#endif

#endif /* TINYASC_MODEL_H */
"""


_MODEL_C_HEAD = """/* Generated by tinyasc.firmware_sim from {model}. Do not edit.
 * {n_layers} layers, arena {arena} bytes (static plan), weights in flash as const arrays. */
#include <string.h>
#include "model.h"
{includes}
#ifndef TINYASC_ALIGN
#if defined(__GNUC__) || defined(__clang__)
#define TINYASC_ALIGN(n) __attribute__((aligned(n)))
#else
#define TINYASC_ALIGN(n)
#endif
#endif

/* Per-layer markers for profiling harnesses: define TINYASC_PROFILE and provide
 * tinyasc_layer_marker(layer, is_end). */
#ifdef TINYASC_PROFILE
void tinyasc_layer_marker(int layer, int is_end);
#define TINYASC_LAYER_BEGIN(i, name) tinyasc_layer_marker((i), 0)
#define TINYASC_LAYER_END(i) tinyasc_layer_marker((i), 1)
#else
#define TINYASC_LAYER_BEGIN(i, name) ((void)0)
#define TINYASC_LAYER_END(i) ((void)0)
#endif

/* Debug dumps of every layer's output (host parity checks): define TINYASC_DUMP and provide
 * tinyasc_dump_hook(layer, data, size). */
#ifdef TINYASC_DUMP
void tinyasc_dump_hook(int layer, const int8_t *data, int32_t size);
#define TINYASC_DUMP_TENSOR(i, ptr, n) tinyasc_dump_hook((i), (const int8_t *)(ptr), (n))
#else
#define TINYASC_DUMP_TENSOR(i, ptr, n) ((void)0)
#endif

static int8_t tinyasc_arena[TINYASC_ARENA_SIZE > 0 ? TINYASC_ARENA_SIZE : 1] TINYASC_ALIGN({align});

"""


def _kernel_scratch(graph: Graph, plan: ArenaPlan, options: GeneratorOptions) -> tuple[int, int]:
    """(static RAM of the kernel files the model generated on ``plan`` would ship, its MACs)."""
    dry = _Generator(graph, plan, options)
    macs = sum(int(dry.emit(op).macs) for op in graph.operators)
    core = options.target.core
    return kernel_sources.static_ram(kernel_sources.sources_for(dry.kernels_used, core, KERNEL_SOURCES), core), macs


def _plan_tiling(graph: Graph, plan: ArenaPlan, options: GeneratorOptions) -> tiling.TilingChoice | None:
    """The streaming the options ask for, or None (whole clip: no budget and no step asked, or the
    whole-clip arena, the front end and the kernels' static scratch already fit the budget)."""
    if options.step_frames is None and options.ram_budget is None:
        return None
    if options.step_frames is None:
        whole = plan.arena_size + options.ram_reserved + _kernel_scratch(graph, plan, options)[0]
        if whole <= options.ram_budget:
            log.info("whole clip: %d B with the front end and kernel scratch fits the RAM budget of %d B", whole,
                     options.ram_budget)
            return None
    try:
        an = tiling.analyze(graph, time_axis=tiling.input_time_axis(graph))
    except tiling.NotTileable as err:  # say what the user can have instead
        raise tiling.NotTileable(err.path, f"{err.problem}; the whole-clip plan needs {plan.arena_size:,} B of "
                                           "arena (generate without --ram-budget / --step-frames)") from None
    # kernels and MACs as the step loop runs them: no in-place ops, nothing fused
    scratch, macs = _kernel_scratch(graph, plan_arena(graph, alignment=options.alignment, in_place=False, fuse=False),
                                    options)
    return tiling.choose(graph, an, whole_arena=plan.arena_size, macs=macs, budget=options.ram_budget,
                         step=options.step_frames, alignment=options.alignment,
                         reserved=options.ram_reserved + scratch)


def add_pools_pay(target: LibraryTarget) -> bool:
    """Whether a library for ``target`` fuses an ADD into the MAX_POOL_2D that reads it
    (:func:`.planner.find_add_pools`): every Cortex-M core (session 53, the quick model's two pairs in estimated cycles: M55 443,545 -> 241,287, Helium's
    tail-predicated loop four channels a pass; M4 762,205 -> 660,196 and M7 473,277 -> 346,436, the DSP cores' asm a
    channel a pass). The portable library keeps TFLite Micro's order of layers."""
    return target.core is not None


def _layer_block(op: Operator, call: str, dump: str | None, indent: str = "    ") -> str:
    name = f"{op.opcode}_{op.index}"
    return (f"{indent}TINYASC_LAYER_BEGIN({op.index}, {_c_string(name)});\n"
            f"{indent}{call}\n"
            f"{indent}TINYASC_LAYER_END({op.index});\n"
            + (f"{indent}{dump}\n" if dump else ""))


def generate(tflite_path: str | Path, out_dir: str | Path, *, options: GeneratorOptions = GeneratorOptions()) -> FirmwareArtifact:
    """Write the C sources for ``tflite_path`` into ``out_dir`` and return the artifact.

    With ``options.ram_budget`` or ``options.step_frames`` the trunk may be streamed over time
    (:mod:`.tiling`): same kernels, same results, no recomputation, a fraction of the arena."""
    from tinyasc.firmware_sim import report

    graph = read_tflite(tflite_path)
    validate(graph)
    plan = plan_arena(graph, alignment=options.alignment, in_place=options.in_place, fuse=options.fuse,
                      fuse_add_pools=add_pools_pay(options.target))
    choice = _plan_tiling(graph, plan, options)
    work, ctx = graph, None
    if choice is not None:  # stream the trunk: the time-major graph, its buffers at their capacities
        sg = tiling.stream_graph(graph, tiling.analyze(graph, time_axis=tiling.input_time_axis(graph)))
        stream, _, plan = tiling.plan_stream(sg, choice.chosen.step, alignment=options.alignment)
        work = sg.graph
    gen = _Generator(work, plan, options)
    if choice is not None:
        ctx = tile_emit.TileContext(sg=sg, offsets=plan.offsets, index={gr: k for k, gr in enumerate(sg.groups)},
                                    persistent=stream.persistent, gen_fn=gen.fn)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    layers: list[Layer] = []
    layer_decls: list[str] = []
    body: list[str] = []
    step_body: list[str] = []
    weight_bytes = param_bytes = 0
    names = []
    trunk = set(ctx.an.trunk) if ctx is not None else set()
    for op in work.operators:
        e = gen.emit(op)
        y = work.tensors[op.outputs[0]]
        name = f"{op.opcode}_{op.index}"
        names.append(name)
        fused_into = plan.fused.get(op.index)
        dump = None if fused_into is not None else \
            f"TINYASC_DUMP_TENSOR({op.index}, {gen.ref(op.outputs[0])}, {y.nbytes});"
        size = 0 if fused_into is not None else int(y.nbytes)
        if op.index in trunk:
            te = REGISTRY[op.opcode].emit_tile(gen, ctx, op)
            layer_decls.extend(te.decls if te.decls is not None else e.decls)
            step_body.append(_layer_block(op, te.prefix + tile_emit.guard(ctx, op, te.code), None, indent="        "))
            size = int(plan.sizes.get(op.outputs[0], 0))
        elif ctx is not None and op.index == ctx.an.pool:
            layer_decls.extend(e.decls)
            step_body.append(_layer_block(op, tile_emit.pool_accumulate(gen, ctx, op, "tinyasc_pool_acc"), None,
                                          indent="        "))
            body.append(_layer_block(op, f"{gen.fn('mean_finish_s8')}(&l{op.index}_p, tinyasc_pool_acc, "
                                         f"{gen.ref(op.outputs[0])});", dump))
        else:
            layer_decls.extend(e.decls)
            body.append(_layer_block(op, e.call, dump))
        weight_bytes += e.weight_bytes
        param_bytes += e.param_bytes
        orig = graph.operators[op.index]
        layers.append(Layer(
            index=op.index, op=op.opcode, name=name,
            inputs=[k for k in orig.inputs if k >= 0],
            output=op.outputs[0],
            input_shapes=[list(graph.tensors[k].shape) for k in orig.inputs if k >= 0],
            output_shape=list(graph.tensors[op.outputs[0]].shape), macs=int(e.macs), weight_bytes=int(e.weight_bytes),
            arena_offset=int(plan.offsets.get(op.outputs[0], -1)),
            arena_size=size, in_place=op.outputs[0] in plan.aliases, fused_into=fused_into,
        ))
    # constants used as element-wise operands were emitted into gen.const_decls on the fly
    weight_bytes += sum(work.tensors[k].nbytes for k in gen.const_emitted)
    param_bytes += gen.table_bytes

    x_t, y_t = graph.inputs[0], graph.outputs[0]
    includes = ['#include "tinyasc_kernels.h"\n']
    if any(k.startswith("tinyasc_opt_") for k in gen.kernels_used):
        includes.append('#include "tinyasc_opt.h"\n')
    if any(r.used for r in gen.sparse_layers):
        includes.append('#include "tinyasc_sparse.h"\n')
    c = [_MODEL_C_HEAD.format(model=Path(graph.path).name, n_layers=len(layers), arena=plan.arena_size,
                              align=options.alignment, includes="".join(includes))]
    c.append(_weak_kernel_links(gen.kernels_used))
    c.append("const char *const tinyasc_layer_names[TINYASC_NUM_LAYERS] = {\n"
             + "".join(f"    {_c_string(n)},\n" for n in names) + "};\n\n")
    c.extend(gen.const_decls)
    c.extend(layer_decls)
    if choice is None:
        input_at = f"arena + {plan.offsets[x_t]}"
        c.append(f"""
tinyasc_input_t *tinyasc_model_input_buffer(void) {{
    return (tinyasc_input_t *)(tinyasc_arena + {plan.offsets[x_t]});
}}

void *tinyasc_model_spare(size_t *n_bytes) {{
    const size_t lo = {plan.offsets[x_t]}u; /* bytes before the input, then after it (16-byte aligned) */
    const size_t hi = (lo + sizeof(tinyasc_input_t) * TINYASC_INPUT_SIZE + 15u) & ~(size_t)15u;
    const size_t after = hi < (size_t)TINYASC_ARENA_SIZE ? (size_t)TINYASC_ARENA_SIZE - hi : 0u;
    *n_bytes = lo >= after ? lo : after;
    return lo >= after ? (void *)tinyasc_arena : (void *)(tinyasc_arena + hi);
}}

int tinyasc_model_invoke(const tinyasc_input_t *input, tinyasc_output_t *output) {{
    int8_t *const arena = tinyasc_arena;
    if ((const int8_t *)input != {input_at})
        memcpy({input_at}, input, sizeof(tinyasc_input_t) * TINYASC_INPUT_SIZE);
""")
    else:
        frames = ctx.an.length[ctx.an.input]
        c.append(_stream_state(graph, ctx, choice, options.alignment))
        c.append(f"""
tinyasc_input_t *tinyasc_model_input_buffer(void) {{
    return (tinyasc_input_t *)tinyasc_features;
}}

void *tinyasc_model_spare(size_t *n_bytes) {{ /* the input lives outside the arena */
    *n_bytes = (size_t)TINYASC_ARENA_SIZE;
    return (void *)tinyasc_arena;
}}

static int32_t tinyasc_steps_done;

void tinyasc_model_stream_begin(void) {{
    memset(tinyasc_pool_acc, 0, sizeof(tinyasc_pool_acc));
    memset(h, 0, sizeof(h));
    memset(L, 0, sizeof(L));
    tinyasc_steps_done = 0;
}}

int32_t tinyasc_model_stream_advance(int32_t frames) {{
    int8_t *const arena = tinyasc_arena;
    while (tinyasc_steps_done < TINYASC_NUM_STEPS) {{
        const int32_t avail = tinyasc_min((tinyasc_steps_done + 1) * TINYASC_STEP_FRAMES, {frames});
        if (avail > frames) break;
        tinyasc_steps_done += 1;
""")
        c.append(tile_emit.schedule(ctx))
        c.extend(step_body)
        c.append(f"""    }}
    return tinyasc_min(tinyasc_steps_done * TINYASC_STEP_FRAMES, {frames});
}}

int tinyasc_model_stream_end(tinyasc_output_t *output) {{
    int8_t *const arena = tinyasc_arena;
    tinyasc_model_stream_advance({frames});
""")
        c.extend(body)
        c.append(f"""    if ((int8_t *)output != arena + {plan.offsets[y_t]})
        memcpy(output, arena + {plan.offsets[y_t]}, sizeof(tinyasc_output_t) * TINYASC_OUTPUT_SIZE);
    return 0;
}}

int tinyasc_model_invoke(const tinyasc_input_t *input, tinyasc_output_t *output) {{
    if ((const int8_t *)input != tinyasc_features)
        memcpy(tinyasc_features, input, sizeof(tinyasc_input_t) * TINYASC_INPUT_SIZE);
    tinyasc_model_stream_begin();
    return tinyasc_model_stream_end(output);
}}
""")
    if choice is None:
        c.extend(body)
        c.append(f"""    if ((int8_t *)output != arena + {plan.offsets[y_t]})
        memcpy(output, arena + {plan.offsets[y_t]}, sizeof(tinyasc_output_t) * TINYASC_OUTPUT_SIZE);
    return 0;
}}
""")
    atomic.write_text(out_dir / "model.c", "".join(c))
    atomic.write_text(out_dir / "model.h", _model_h(graph, plan, len(layers), choice))
    sources = _copy_runtime(out_dir, frozenset(gen.kernels_used), options.target)

    tflm_arena = None
    if options.measure_tflm_arena:
        from tinyasc.tflite_io.tflm import min_arena as measure_tflm_arena

        tflm_arena = measure_tflm_arena(tflite_path)
    x = graph.tensors[x_t]
    y = graph.tensors[y_t]
    art = FirmwareArtifact(
        out_dir=out_dir, model=str(tflite_path), input_shape=list(x.shape), output_shape=list(y.shape),
        input_scale=x.q()[0], input_zero_point=x.q()[1], output_scale=y.q()[0], output_zero_point=y.q()[1],
        arena_size=plan.arena_size, naive_arena_size=plan.naive_size, tflm_arena_size=tflm_arena,
        layers=layers, op_counts=graph.op_counts(), total_macs=sum(l.macs for l in layers),
        weight_bytes=weight_bytes, param_bytes=param_bytes,
        code_bytes_estimate=CODE_BYTES_KERNELS + CODE_BYTES_PER_LAYER * len(layers),
        plan=plan.to_json(), activations=activation_dtype(graph).lower(), target=options.target.value,
        kernels=sorted(gen.kernels_used), sources=list(sources),
        sparse_layers=[dataclasses.asdict(r) for r in gen.sparse_layers],
        tiling=None if choice is None else choice.to_json(),
    )
    report.write_report(art)
    log.info("generated %s: %d layers, arena %d B (TFLM %s B), peak RAM %d B, %d MACs", out_dir, len(layers),
             plan.arena_size, tflm_arena, art.peak_ram_bytes, art.total_macs)
    return art


def _stream_state(graph: Graph, ctx: "tile_emit.TileContext", choice: "tiling.TilingChoice", alignment: int) -> str:
    """The input buffer, the pooling sums, the schedule's counters and helpers of a streamed model."""
    an = ctx.an
    pool_out = graph.tensors[graph.operators[an.pool].outputs[0]].size
    groups = ", ".join(f"{k}: tensor {gr}" for gr, k in sorted(ctx.index.items(), key=lambda kv: kv[1]))
    return f"""
/* Streamed over time: each of TINYASC_NUM_STEPS steps makes TINYASC_STEP_FRAMES more input frames
 * available and runs every layer of the trunk on the columns they make computable; each tensor's
 * buffer holds a sliding window of its time columns (time-major), the pooling sums accumulate in
 * int32 and are requantized once: the output is bit-identical to the whole clip, with no column
 * computed twice. Counters per buffer (index: {groups}):
 * h = columns computed, hp = h before this step, L = first column held, Lp = L before this step. */
#define TINYASC_NUM_STEPS {choice.chosen.steps}
#define TINYASC_STEP_FRAMES {choice.chosen.step}
#define TINYASC_NUM_BUFFERS {len(ctx.index)}
{tile_emit.HELPERS}
/* The clip's model input, held for the whole inference (read through views). */
static int8_t tinyasc_features[TINYASC_INPUT_SIZE] TINYASC_ALIGN({alignment});
/* int32 sums of the pooling over the steps so far. */
static int32_t tinyasc_pool_acc[{pool_out}];
static int32_t h[TINYASC_NUM_BUFFERS], hp[TINYASC_NUM_BUFFERS], L[TINYASC_NUM_BUFFERS], Lp[TINYASC_NUM_BUFFERS];
"""


def _copy_runtime(out_dir: Path, kernels: frozenset[str], target: LibraryTarget) -> tuple[str, ...]:
    """Copy the kernel files ``kernels`` need on ``target`` (``kernels/``, headers in ``include/``),
    the host runner and its build script, so ``out_dir`` builds on its own; returns the copied
    sources relative to ``out_dir``."""
    from tinyasc.firmware_sim import toolchain

    for sub in ("kernels", "include"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
        (out_dir / sub).mkdir()
    copied = []
    for rel in kernel_sources.sources_for(kernels, target.core, KERNEL_SOURCES):
        dst = f"kernels/{Path(rel).name}"
        shutil.copyfile(C_DIR / rel, out_dir / dst)
        copied.append(dst)
    for rel in kernel_sources.headers_for(kernels):
        shutil.copyfile(C_DIR / rel, out_dir / "include" / Path(rel).name)
    shutil.copyfile(C_DIR / "main_host.c", out_dir / "main_host.c")
    flags = " ".join((*toolchain.host_cflags(), *toolchain.STRICT))
    script = f"""#!/bin/sh
# Build the host runner: ./build_host.sh [extra cflags, e.g. -DTINYASC_DUMP]
set -e
cd "$(dirname "$0")"
CC="${{CC:-cc}}"
mkdir -p build
$CC {flags} -Iinclude -I. "$@" kernels/*.c model.c main_host.c -o build/tinyasc_host
echo "built build/tinyasc_host"
"""
    atomic.write_text(out_dir / "build_host.sh", script)
    (out_dir / "build_host.sh").chmod(0o755)
    return tuple(sorted(copied))
