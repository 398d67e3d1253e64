"""Benchmark tinyasc against TensorFlow Lite Micro + CMSIS-NN: same .tflite, same core, same QEMU counter.

    python tools/bench_vs_tflm.py MODEL.tflite --tflm TFLM_DIR --cmsis-nn CMSIS_NN_DIR \\
        --flatbuffers FLATBUFFERS_DIR --gemmlowp GEMMLOWP_DIR --ruy RUY_DIR \\
        --target cortex-m4 --ours RUN/latency/cortex-m4/latency.json --out OUT [--jobs N]

Compiles TFLM's micro interpreter and the kernels the model needs (TFLM's CMSIS-NN kernels,
``tensorflow/lite/micro/kernels/cmsis_nn/*.cc``, where TFLM has one, its reference kernels
otherwise) against CMSIS-NN built with the core's optimized path (DSP on Cortex-M4/M7, Helium
on Cortex-M55; the build fails if CMSIS-NN would fall back to plain C), with
``arm-none-eabi-g++/gcc -O2`` like tinyasc's library. The model is compiled in as a byte array;
``tools/tflm_bench/bench_main.cc`` runs one inference on tinyasc's default golden input (seeded
uniform noise, seed 0: what ``asc-latency`` runs) and brackets each operator's invoke with
``tinyasc_layer_marker`` through TFLM's own profiler hook (no kernel is changed). The ELF runs on
the board, with the instruction-counting plugin and the timing model of tinyasc's latency harness
(``tinyasc.firmware_sim.harness``), so the figures compare with ``--ours``, a tinyasc
``latency.json`` of the same model and core. The ELF's output must equal the host TFLM's
(python package ``tflite_micro``) on the same input, or nothing is reported.

Writes ``OUT/bench_vs_tflm.json`` and ``OUT/bench_vs_tflm.md`` (per-operator and per-class
instructions and estimated cycles, who wins where, whole-model ratio, flash/RAM, source commits,
compiler and flags); objects and the ELF go under ``OUT/build``. Nothing of TFLM, CMSIS-NN or
their dependencies is in this repository: the trees are arguments (TFLM's pinned versions are in
its ``tensorflow/lite/micro/tools/make/*download*``; flatbuffers must be the version TFLM's
``schema_generated.h`` asserts).

Needs ``apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
qemu-system-arm gcc`` (the C++ standard headers for the target come from
``libstdc++-arm-none-eabi-newlib``). Bad input (a missing tree or file, not a .tflite, a report of
another model or core) is one line on stderr, exit status 2, nothing written.
"""

# No ``from __future__ import annotations``: the tests load this script without registering it in
# sys.modules (tests/conftest.py ``load_tool``), and dataclasses resolve string annotations there.
import argparse
import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from tinyasc import atomic
from tinyasc.errors import InputError, cli_entry
from tinyasc.firmware_sim.harness.memory import MemoryReport
from tinyasc.firmware_sim.harness.report import read_report_json

log = logging.getLogger("bench_vs_tflm")

GLUE_DIR = Path(__file__).resolve().parent / "tflm_bench"
TARGETS = ("cortex-m4", "cortex-m7", "cortex-m55")
#: Goal of issue #16: tinyasc's cycles at most this fraction of TFLM + CMSIS-NN's.
GOAL_RATIO = 1 / 3

#: TFLM resolver method and kernel sources (``kernels/<stem>.cc``; ``kernels/cmsis_nn/<stem>.cc``
#: replaces the reference file where TFLM has one) of every operator tinyasc generates.
OP_KERNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ADD": ("AddAdd", ("add", "add_common")),
    "AVERAGE_POOL_2D": ("AddAveragePool2D", ("pooling", "pooling_common")),
    "CONCATENATION": ("AddConcatenation", ("concatenation",)),
    "CONV_2D": ("AddConv2D", ("conv", "conv_common")),
    "DEPTHWISE_CONV_2D": ("AddDepthwiseConv2D", ("depthwise_conv", "depthwise_conv_common")),
    "EXPAND_DIMS": ("AddExpandDims", ("expand_dims",)),
    "FULLY_CONNECTED": ("AddFullyConnected", ("fully_connected", "fully_connected_common")),
    "LOGISTIC": ("AddLogistic", ("logistic", "logistic_common")),
    "MAX_POOL_2D": ("AddMaxPool2D", ("pooling", "pooling_common")),
    "MEAN": ("AddMean", ("reduce", "reduce_common")),
    "MUL": ("AddMul", ("mul", "mul_common")),
    "PAD": ("AddPad", ("pad", "pad_common")),
    "PADV2": ("AddPadV2", ("pad", "pad_common")),
    "RESHAPE": ("AddReshape", ("reshape", "reshape_common")),
    "RSQRT": ("AddRsqrt", ("elementwise",)),
    "SOFTMAX": ("AddSoftmax", ("softmax", "softmax_common")),
    "SQUARED_DIFFERENCE": ("AddSquaredDifference", ("squared_difference",)),
    "SQUEEZE": ("AddSqueeze", ("squeeze",)),
    "SUB": ("AddSub", ("sub", "sub_common")),
    "TRANSPOSE": ("AddTranspose", ("transpose", "transpose_common")),
}
#: Kernel helpers every operator uses.
KERNEL_SUPPORT = ("kernel_util",)
#: Files of ``tensorflow/lite/micro/*.cc`` that are tests, mocks or replaced by the bench's glue.
MICRO_EXCLUDED = frozenset({"debug_log.cc", "fake_micro_context.cc", "mock_micro_graph.cc",
                            "recording_micro_allocator.cc", "test_helpers.cc", "test_helper_custom_ops.cc"})

#: Compiler flags besides the architecture's: TFLM's Makefile COMMON_FLAGS/CXXFLAGS for a
#: release_with_logs build (NDEBUG; the profiler hook the per-op markers need stays), -O2
#: throughout like tinyasc's library (TFLM's Makefile: -Os core, -O2 kernels), CMSIS-NN kernels
#: selected. The two FLATBUFFERS_* defines are the defaults TFLM's flatbuffers.patch sets in the
#: headers; the rest of that patch touches builder/flexbuffers code this build does not instantiate.
COMMON_FLAGS = ("-O2", "-fno-unwind-tables", "-fno-asynchronous-unwind-tables", "-ffunction-sections",
                "-fdata-sections", "-fmessage-length=0", "-fsigned-char", "-DNDEBUG", "-DTF_LITE_STATIC_MEMORY",
                "-DTF_LITE_DISABLE_X86_NEON", "-DTF_LITE_MCU_DEBUG_LOG", "-DCMSIS_NN",
                "-DKERNELS_OPTIMIZED_FOR_SPEED", "-DARM_NN_ENABLE_F16=0", "-DARM_NN_ENABLE_F32=0",
                "-DFLATBUFFERS_LOCALE_INDEPENDENT=0", "-DFLATBUFFERS_PREFER_PRINTF=1")
CXX_FLAGS = ("-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics")
C_FLAGS = ("-std=c11",)
LINK_FLAGS = ("-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections")


# ---------------------------------------------------------------------------------- records


@dataclass(frozen=True, kw_only=True)
class Trees:
    """The source trees the bench builds from (arguments; nothing of theirs is in this repository)."""

    tflm: Path
    cmsis_nn: Path
    flatbuffers: Path
    gemmlowp: Path
    ruy: Path

    def items(self) -> list[tuple[str, Path]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]


#: A file each tree must contain (what the build includes from it).
TREE_MARKERS: dict[str, str] = {
    "tflm": "tensorflow/lite/micro/micro_interpreter.cc",
    "cmsis_nn": "Include/arm_nnfunctions.h",
    "flatbuffers": "include/flatbuffers/flatbuffers.h",
    "gemmlowp": "fixedpoint/fixedpoint.h",
    "ruy": "ruy/profiler/instrumentation.h",
}


@dataclass(frozen=True, kw_only=True)
class TreeInfo:
    """Where a source tree was and which commit it held (``git rev-parse``; "unknown" if not git)."""

    name: str
    path: str
    commit: str


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    path: Path
    ops: tuple[str, ...]
    """Operator types in subgraph order (TFLM invokes them in this order)."""
    input_shape: tuple[int, ...]
    input_dtype: str
    output_dtype: str
    sha256: str

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))


@dataclass(frozen=True, kw_only=True)
class OursLayer:
    """One layer of a tinyasc ``latency.json`` (``index`` is the .tflite operator index)."""

    index: int
    name: str
    op: str
    instructions: int
    cycles: float


@dataclass(frozen=True, kw_only=True)
class OursReport:
    path: Path
    model: str
    target: str
    clock_mhz: float
    layers: tuple[OursLayer, ...]
    other_instructions: int
    other_cycles: float
    total_instructions: int
    total_cycles: float
    memory: MemoryReport
    cpi: Mapping[str, float]
    tflm_equal: bool | None
    frontend_in_flash: bool


@dataclass(frozen=True, kw_only=True)
class OpCount:
    """What TFLM + CMSIS-NN executed for one operator (between its two markers)."""

    index: int
    op: str
    instructions: int
    cycles: float
    classes: Mapping[str, int]


@dataclass(frozen=True, kw_only=True)
class TflmMeasurement:
    ops: tuple[OpCount, ...]
    other_instructions: int
    """Between operators: MicroInterpreter::Invoke entry/exit, the loop, the profiler calls."""
    other_cycles: float
    total_instructions: int
    total_cycles: float


@dataclass(frozen=True, kw_only=True)
class Unit:
    """The comparison unit: one operator, or the operators tinyasc fuses into one kernel."""

    indices: tuple[int, ...]
    ops: tuple[str, ...]
    tflm_instructions: int
    tflm_cycles: float
    ours_instructions: int
    ours_cycles: float

    @property
    def label(self) -> str:
        return index_label(self.indices)

    @property
    def op_class(self) -> str:
        return self.ops[0] if len(self.ops) == 1 else "+".join(sorted(set(self.ops))) + " (fused)"

    @property
    def ratio(self) -> float | None:
        return self.ours_cycles / self.tflm_cycles if self.tflm_cycles else None

    @property
    def saved_cycles(self) -> float:
        """TFLM's cycles minus ours: positive where tinyasc wins."""
        return self.tflm_cycles - self.ours_cycles

    @property
    def winner(self) -> str:
        if self.ours_cycles == self.tflm_cycles:
            return "tie"
        return "tinyasc" if self.ours_cycles < self.tflm_cycles else "TFLM"


@dataclass(frozen=True, kw_only=True)
class ClassTotal:
    op_class: str
    units: int
    tflm_instructions: int
    tflm_cycles: float
    ours_instructions: int
    ours_cycles: float

    @property
    def ratio(self) -> float | None:
        return self.ours_cycles / self.tflm_cycles if self.tflm_cycles else None


@dataclass(frozen=True, kw_only=True)
class TflmBuild:
    elf: Path
    compiler: str
    cxx_flags: tuple[str, ...]
    c_flags: tuple[str, ...]
    link_flags: tuple[str, ...]
    sources: int
    ram_region: str


@dataclass(frozen=True, kw_only=True)
class TflmMemory:
    flash_bytes: int
    """text + rodata + exception index + data initializers, less the golden input (test data)."""
    text: int
    rodata: int
    data: int
    bss: int
    stack_used: int
    arena_size: int
    """The static tensor arena compiled in (part of bss)."""
    arena_used: int
    """``MicroInterpreter::arena_used_bytes()`` after AllocateTensors on the target."""
    model_bytes: int
    """The .tflite flatbuffer (in rodata, part of the flash figure)."""

    @property
    def ram_bytes(self) -> int:
        """data + bss + stack high-water mark, the arena trimmed to what TFLM used."""
        return self.data + self.bss - (self.arena_size - self.arena_used) + self.stack_used


@dataclass(frozen=True, kw_only=True)
class Bench:
    model: ModelInfo
    target: str
    machine: str
    clock_mhz: float
    trees: tuple[TreeInfo, ...]
    build: TflmBuild | None
    memory: TflmMemory | None
    parity: Mapping[str, Any]
    tflm: TflmMeasurement
    ours: OursReport
    units: tuple[Unit, ...]
    classes: tuple[ClassTotal, ...]
    fused: Mapping[int, int]
    timing_model: Any
    """tinyasc's ``harness.TimingModel`` of the core (both sides' cycles come from it)."""
    notes: tuple[str, ...]
    hot_functions: tuple[tuple[str, int], ...] = ()
    """TFLM ELF: executed instructions per function over the whole run, most first."""

    @property
    def ratio(self) -> float:
        return self.ours.total_cycles / self.tflm.total_cycles

    @property
    def goal_met(self) -> bool:
        return self.ratio <= GOAL_RATIO


def index_label(indices: Sequence[int]) -> str:
    """``(3,)`` -> ``"3"``; ``(9, 10, 11)`` -> ``"9-11"``; gaps become commas: ``"5,9-11"``."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indices):
        if run and i != run[-1] + 1:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run = []
        run.append(i)
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


# ---------------------------------------------------------------------------------- inputs


def check_model(path: Path) -> ModelInfo:
    """The .tflite's operators and I/O; InputError when missing, not a .tflite or unsupported."""
    from tinyasc.tflite_io import read_model

    if not path.is_file():
        raise InputError(path, "no such file")
    with path.open("rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise InputError(path, "not a .tflite flatbuffer (no TFL3 identifier)")
    graph = read_model(path)
    if graph.subgraphs != 1:
        raise InputError(path, f"expected 1 subgraph, found {graph.subgraphs}")
    ops = tuple(op.opcode for op in graph.operators)
    unknown = sorted(set(ops) - set(OP_KERNELS))
    if unknown:
        raise InputError(path, f"operators this bench cannot build for TFLM: {', '.join(unknown)}")
    x, y = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    for t in (x, y):
        if t.dtype not in ("INT8", "INT16"):
            raise InputError(path, f"model input/output '{t.name}' is {t.dtype}; an int8 or int16x8 model is expected")
    return ModelInfo(path=path, ops=ops, input_shape=tuple(int(d) for d in x.shape), input_dtype=x.dtype,
                     output_dtype=y.dtype, sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def check_trees(trees: Trees) -> None:
    """Every tree is a directory with the file the build needs; flatbuffers matches TFLM's schema."""
    for name, root in trees.items():
        flag = "--" + name.replace("_", "-")
        if not root.is_dir():
            raise InputError(root, f"{flag}: no such directory")
        marker = root / TREE_MARKERS[name]
        if not marker.is_file():
            raise InputError(marker, f"{flag}: not a {name} source tree (file missing)")
    check_flatbuffers_version(trees.tflm, trees.flatbuffers)


def _version(text: str, pattern: str) -> tuple[int, int, int] | None:
    found = [re.search(pattern.format(part), text) for part in ("MAJOR", "MINOR", "REVISION")]
    return tuple(int(m.group(1)) for m in found) if all(found) else None  # type: ignore[return-value]


def check_flatbuffers_version(tflm: Path, flatbuffers: Path) -> None:
    """TFLM's schema_generated.h static_asserts one flatbuffers version: refuse another one here."""
    schema = tflm / "tensorflow/compiler/mlir/lite/schema/schema_generated.h"
    base = flatbuffers / "include/flatbuffers/base.h"
    if not schema.is_file() or not base.is_file():
        return  # an older layout: the compiler will tell
    want = _version(schema.read_text(errors="replace"), r"FLATBUFFERS_VERSION_{} == (\d+)")
    have = _version(base.read_text(errors="replace"), r"#define FLATBUFFERS_VERSION_{} (\d+)")
    if want and have and want != have:
        raise InputError(flatbuffers, f"flatbuffers {'.'.join(map(str, have))}, but {schema.name} of the TFLM tree "
                                      f"requires {'.'.join(map(str, want))} (see TFLM's flatbuffers_download.sh)")


def load_ours(path: Path, target: str, model: ModelInfo) -> OursReport:
    """A tinyasc ``latency.json`` of ``model`` on ``target``; InputError otherwise."""
    d = read_report_json(path, ("model", "target", "clock_mhz", "layers", "other", "total_instructions",
                                "total_cycles", "memory", "timing_model"))
    if d["target"] != target:
        raise InputError(path, f"a report for {d['target']}, not --target {target}")
    try:
        layers = tuple(OursLayer(index=int(l["index"]), name=str(l["name"]), op=str(l["op"]),
                                 instructions=int(l["instructions"]), cycles=float(l["cycles"])) for l in d["layers"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"not an asc-latency report (a layer lacks {err})") from None
    if [(l.index, l.op) for l in layers] != list(enumerate(model.ops)):
        raise InputError(path, f"not a report of {model.path.name}: its layers are not the model's "
                               f"{len(model.ops)} operators in order")
    try:
        mem = MemoryReport(**{f.name: d["memory"][f.name] for f in dataclasses.fields(MemoryReport)})
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"not an asc-latency report (its memory lacks {err})") from None
    return OursReport(
        path=path, model=str(d["model"]), target=d["target"], clock_mhz=float(d["clock_mhz"]), layers=layers,
        other_instructions=int(d["other"]["instructions"]), other_cycles=float(d["other"]["cycles"]),
        total_instructions=int(d["total_instructions"]), total_cycles=float(d["total_cycles"]),
        memory=mem, cpi=dict(d["timing_model"].get("cpi", {})), tflm_equal=(d.get("parity") or {}).get("tflm_equal"),
        frontend_in_flash=bool(d.get("frontend")))


def check_toolchain_cxx() -> None:
    """The cross C/C++ compilers, newlib, QEMU, and the target's C++ standard headers."""
    from tinyasc.firmware_sim.harness.tools import ToolchainError, check_toolchain

    check_toolchain()
    if shutil.which("arm-none-eabi-g++") is None:
        raise ToolchainError(None, "missing toolchain (arm-none-eabi-g++): apt-get install gcc-arm-none-eabi")
    probe = subprocess.run(["arm-none-eabi-g++", "-x", "c++", "-fsyntax-only", "-"], input="#include <cstdint>\n",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise ToolchainError(None, "no C++ standard headers for arm-none-eabi-g++: "
                                   "apt-get install libstdc++-arm-none-eabi-newlib")


def _git(root: Path, *args: str) -> str | None:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() if proc.returncode == 0 else None


def tree_commit(root: Path) -> str:
    """``git rev-parse HEAD`` of a tree that is a git work tree's top (plus ``-dirty`` when tracked
    files changed), else "unknown" (also for a plain directory inside some other repository)."""
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        head = _git(root, "rev-parse", "HEAD")
        if top is None or head is None or Path(top).resolve() != root.resolve():
            return "unknown"
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------------------------- sources


def tflm_sources(tflm: Path, ops: Sequence[str]) -> list[Path]:
    """TFLM's runtime (its Makefile's MICROLITE_CC_BASE_SRCS less tests and mocks) and the kernels of ``ops``."""
    micro = tflm / "tensorflow/lite/micro"
    srcs = [p for p in sorted(micro.glob("*.cc")) if p.name not in MICRO_EXCLUDED and not p.stem.endswith("_test")]
    for sub in ("arena_allocator", "memory_planner", "tflite_bridge"):
        srcs += [p for p in sorted((micro / sub).glob("*.cc")) if not p.stem.endswith("_test")]
    lite_dirs = ("tensorflow/lite/kernels", "tensorflow/lite/core", "tensorflow/compiler/mlir/lite")
    for d in lite_dirs:
        srcs += [p for p in sorted((tflm / d).rglob("*.cc")) if not p.stem.endswith("_test")]
    stems = list(KERNEL_SUPPORT) + [s for op in dict.fromkeys(ops) for s in OP_KERNELS[op][1]]
    for stem in dict.fromkeys(stems):
        optimized = micro / "kernels/cmsis_nn" / f"{stem}.cc"
        generic = micro / "kernels" / f"{stem}.cc"
        path = optimized if optimized.is_file() else generic
        if not path.is_file():
            raise InputError(generic, "--tflm: kernel source missing (another TFLM version?)")
        srcs.append(path)
    return srcs


def cmsis_nn_sources(cmsis_nn: Path) -> list[Path]:
    """CMSIS-NN's C sources without the float variants (TFLM's ext_libs/cmsis_nn.inc, F16/F32 off)."""
    srcs = sorted((cmsis_nn / "Source").rglob("*.c"))
    return [p for p in srcs if not p.stem.endswith(("_f16", "_f32")) and p.name != "arm_nntables_flt.c"]


def uses_cmsis_nn(path: Path) -> bool:
    return path.parent.name == "cmsis_nn"


# ---------------------------------------------------------------------------------- build


def arch_defines(target: str) -> tuple[str, ...]:
    return ("-DTFLM_BENCH_EXPECT_MVEI",) if target == "cortex-m55" else ("-DTFLM_BENCH_EXPECT_DSP",)


def tree_includes(trees: Trees) -> tuple[str, ...]:
    """Include flags of TFLM and CMSIS-NN (as TFLM's Makefile and ext_libs/cmsis_nn.inc set them)."""
    dirs = (trees.tflm, trees.flatbuffers / "include", trees.gemmlowp, trees.ruy, trees.cmsis_nn,
            trees.cmsis_nn / "Include")
    return tuple(f"-I{d}" for d in dirs)


def glue_includes(gen_dir: Path) -> tuple[str, ...]:
    """Include flags of the firmware's own sources: generated headers, the bench glue, tinyasc's semihost.h."""
    from tinyasc.firmware_sim.harness.tools import TARGETS_DIR

    return tuple(f"-I{d}" for d in (gen_dir, GLUE_DIR, TARGETS_DIR))


def write_generated(gen_dir: Path, model: ModelInfo, golden: np.ndarray, arena_size: int) -> list[Path]:
    """The model as a byte array, the op resolver, and tinyasc's golden-input header; returns the sources."""
    from tinyasc.firmware_sim.harness.build import write_golden_header

    gen_dir.mkdir(parents=True, exist_ok=True)
    data = model.path.read_bytes()
    ops = sorted(set(model.ops))
    adds = " ".join(f"(r).{OP_KERNELS[op][0]}();" for op in ops)
    atomic.write_text(gen_dir / "bench_model.h", (
        "/* Generated by tools/bench_vs_tflm.py. */\n#pragma once\n#include <stdint.h>\n"
        f"#define TFLM_BENCH_OP_COUNT {len(model.ops)}u\n#define TFLM_BENCH_RESOLVER_SIZE {len(ops)}\n"
        f"#define TFLM_BENCH_ARENA_SIZE {arena_size}u\n#define TFLM_BENCH_ADD_OPS(r) do {{ {adds} }} while (0)\n"
        "extern const unsigned char tflm_bench_model[];\n"))
    rows = ",\n".join(",".join(str(b) for b in data[i:i + 32]) for i in range(0, len(data), 32))
    atomic.write_text(gen_dir / "bench_model_data.cc", (
        f"/* {model.path.name}, sha256 {model.sha256} (generated by tools/bench_vs_tflm.py). */\n"
        f'#include "bench_model.h"\nalignas(16) extern const unsigned char tflm_bench_model[{len(data)}] = {{\n'
        f"{rows}\n}};\n"))
    ctype = "int16_t" if model.input_dtype == "INT16" else "int8_t"
    atomic.write_text(gen_dir / "model.h", (
        "/* The two names tinyasc's golden_input.h needs (generated by tools/bench_vs_tflm.py). */\n#pragma once\n"
        f"#include <stdint.h>\n#define TINYASC_INPUT_SIZE {model.input_size}\ntypedef {ctype} tinyasc_input_t;\n"))
    write_golden_header(gen_dir / "golden_input.h", golden)
    return [gen_dir / "bench_model_data.cc"]


def compiler_version() -> str:
    out = subprocess.run(["arm-none-eabi-g++", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "unknown"


def _object_path(obj_dir: Path, src: Path, flags: Sequence[str]) -> Path:
    key = hashlib.sha256("\0".join([str(src.resolve()), *flags]).encode() + src.read_bytes()).hexdigest()[:12]
    return obj_dir / f"{src.stem}-{key}.o"


def compile_all(sources: Sequence[Path], flags_of: Callable[[Path], Sequence[str]], obj_dir: Path,
                jobs: int) -> list[Path]:
    """Compile each source (C or C++ by its suffix) into ``obj_dir``; an object already there with
    the same source, flags and path is reused. ``flags_of(src)`` gives the flags."""
    from tinyasc.firmware_sim.harness.tools import run

    obj_dir.mkdir(parents=True, exist_ok=True)
    todo: list[tuple[Path, Path, tuple[str, ...]]] = []
    objects = []
    for src in sources:
        flags = tuple(flags_of(src))
        obj = _object_path(obj_dir, src, flags)
        objects.append(obj)
        if not obj.is_file():
            todo.append((src, obj, flags))

    def one(item: tuple[Path, Path, tuple[str, ...]]) -> None:
        src, obj, flags = item
        cc = "arm-none-eabi-gcc" if src.suffix == ".c" else "arm-none-eabi-g++"
        tmp = obj.with_suffix(".tmp.o")
        run([cc, *flags, "-c", src, "-o", tmp], timeout=900)
        tmp.replace(obj)

    log.info("compiling %d of %d sources (%d jobs)", len(todo), len(sources), jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in [pool.submit(one, item) for item in todo]:
            fut.result()
    return objects


def archive(objects: Sequence[Path], lib: Path) -> Path:
    """A static library: the linker then takes only the objects the firmware references."""
    from tinyasc.firmware_sim.harness.tools import run

    lib.unlink(missing_ok=True)
    run(["arm-none-eabi-ar", "rcs", lib, *objects])
    return lib


def link(objects: Sequence[Path], libs: Sequence[Path], target: str, build_dir: Path, arch: Sequence[str]):
    """Link with tinyasc's linker script, trying the board's memories first, then the emulated
    regions (the same order as ``harness.build.build_target``); returns a harness ``TargetBuild``."""
    from tinyasc.firmware_sim.harness.build import TargetBuild, _linker_script
    from tinyasc.firmware_sim.harness.tools import RunError, run
    from tinyasc.firmware_sim.target import SPECS, Target

    core = Target(target)
    spec = SPECS[core]
    elf = build_dir / "tflm.elf"
    big_rom = (spec.big_ram[0] + spec.big_ram[1] // 2, spec.big_ram[1] // 2)
    big_ram = (spec.big_ram[0], spec.big_ram[1] // 2)
    last: RunError | None = None
    for region, ram, rom in (("board", spec.ram, None), ("emulated", big_ram, None),
                             ("emulated+rodata", big_ram, big_rom)):
        ld = build_dir / f"tflm-{region}.ld"
        _linker_script(ld, spec.flash, ram, rom)
        try:
            run(["arm-none-eabi-g++", *arch, *objects, "-Wl,--start-group", *libs, "-Wl,--end-group", "-T", ld,
                 *LINK_FLAGS, "-o", elf, "-lm"], timeout=900)
            return TargetBuild(elf=elf, target=core, ram_region=region, cflags=tuple(arch))
        except RunError as err:
            last = err
            if "overflowed" not in str(err) and "will not fit in region" not in str(err):
                raise
            log.info("TFLM ELF does not fit %s (%s); trying a larger emulated region", spec.machine, region)
    assert last is not None
    raise last


def build_tflm(trees: Trees, model: ModelInfo, golden: np.ndarray, target: str, build_dir: Path, *,
               arena_size: int, jobs: int):
    """Compile TFLM + CMSIS-NN + the glue for ``target`` and link the ELF; returns (TargetBuild, TflmBuild)."""
    from tinyasc.firmware_sim.harness.tools import TARGETS_DIR
    from tinyasc.firmware_sim.target import SPECS, Target

    arch = SPECS[Target(target)].arch_flags
    gen = write_generated(build_dir / "gen", model, golden, arena_size)
    cxx = (*arch, *COMMON_FLAGS, *CXX_FLAGS)
    c = (*arch, *COMMON_FLAGS, *C_FLAGS, *arch_defines(target))
    lib_incs = tree_includes(trees)
    fw_incs = (*glue_includes(build_dir / "gen"), *lib_incs)

    def lib_flags(src: Path) -> tuple[str, ...]:
        return (*(c if src.suffix == ".c" else cxx), *lib_incs)

    def fw_flags(src: Path) -> tuple[str, ...]:
        return (*(c if src.suffix == ".c" else cxx), *fw_incs)

    lib_srcs = tflm_sources(trees.tflm, model.ops)
    nn_srcs = cmsis_nn_sources(trees.cmsis_nn)
    firmware = [GLUE_DIR / "bench_main.cc", GLUE_DIR / "platform_glue.cc", GLUE_DIR / "isa_check.c", *gen,
                TARGETS_DIR / "startup.c", TARGETS_DIR / "semihost.c"]
    obj_dir = build_dir / "obj"
    fw_objs = compile_all(firmware, fw_flags, obj_dir, jobs)
    tflm_lib = archive(compile_all(lib_srcs, lib_flags, obj_dir, jobs), build_dir / "libtflm.a")
    nn_lib = archive(compile_all(nn_srcs, lib_flags, obj_dir, jobs), build_dir / "libcmsis-nn.a")
    tb = link(fw_objs, [tflm_lib, nn_lib], target, build_dir, arch)
    info = TflmBuild(elf=tb.elf, compiler=compiler_version(), cxx_flags=cxx, c_flags=c,
                     link_flags=(*arch, *LINK_FLAGS, "-lm"), sources=len(firmware) + len(lib_srcs) + len(nn_srcs),
                     ram_region=tb.ram_region)
    cmsis_kernels = sorted(p.name for p in lib_srcs if uses_cmsis_nn(p))
    log.info("TFLM kernels from kernels/cmsis_nn: %s", ", ".join(cmsis_kernels))
    return tb, info


# ---------------------------------------------------------------------------------- run


def parse_bench_lines(text: str) -> dict[str, Any]:
    """The bench main's own lines: ``TINYASC TFLM-OP i NAME`` and ``TINYASC TFLM-<KEY> n``."""
    tags: dict[int, str] = {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "TINYASC" and parts[1].startswith("TFLM-"):
            if parts[1] == "TFLM-OP" and len(parts) == 4:
                tags[int(parts[2])] = parts[3]
            elif len(parts) == 3:
                values[parts[1][5:].lower().replace("-", "_")] = int(parts[2])
    return {"tags": [tags[i] for i in sorted(tags)], **values}


def measure(run_out: Any, model: ModelInfo, target: str) -> TflmMeasurement:
    """Per-operator counts from the plugin's snapshots (tinyasc's ``harness.analyze``)."""
    from tinyasc.firmware_sim.harness import LayerInfo, TimingModel, analyze, instructions
    from tinyasc.firmware_sim.target import Target

    tm = TimingModel.load(Target(target))
    infos = [LayerInfo(name=f"{op}_{i}", op=op) for i, op in enumerate(model.ops)]
    rows, other, _, total = analyze(run_out, n_layers=len(model.ops), layers=infos, model=tm, clock_mhz=1.0)
    ops = tuple(OpCount(index=r.index, op=r.op, instructions=r.instructions, cycles=r.cycles, classes=r.classes)
                for r in rows)
    return TflmMeasurement(ops=ops, other_instructions=int(other["instructions"]), other_cycles=float(other["cycles"]),
                           total_instructions=instructions(total), total_cycles=tm.cycles(total))


def host_reference(model: ModelInfo, golden: np.ndarray) -> list[bytes]:
    """The host TFLM's (python ``tflite_micro``: reference kernels) outputs on the golden input."""
    from tinyasc.tflite_io.tflm import run as tflm_run

    out, _ = tflm_run(model.path, golden.reshape(-1, *model.input_shape))
    dtype = np.int16 if model.output_dtype == "INT16" else np.int8
    return [np.asarray(o, dtype).tobytes() for o in out]


def host_arena(model: ModelInfo) -> int:
    """The static arena to compile in: the host TFLM's smallest (64-bit pointers: an upper bound
    of the target's), plus 16 KiB; ``arena_used_bytes()`` on the target is what is reported."""
    from tinyasc.tflite_io.tflm import default_arena, min_arena

    found = min_arena(model.path)
    return (found if found is not None else default_arena(model.path)) + 16 * 1024


@dataclass(frozen=True, kw_only=True)
class TflmRun:
    measurement: TflmMeasurement
    outputs: list[bytes]
    arena_used: int
    arena_size: int
    stack_used: int
    hot_functions: tuple[tuple[str, int], ...]
    """Executed instructions per function over the whole run (setup included), most first."""


def run_tflm(tb: Any, model: ModelInfo, target: str, work: Path, timeout: float, *, n_hot: int = 15) -> TflmRun:
    """Run the ELF with the counting plugin (and its per-address profile)."""
    from tinyasc.firmware_sim.harness import build_plugin, function_profile, run_qemu
    from tinyasc.firmware_sim.harness.tools import RunError

    plugin = build_plugin(work / "plugin")
    pcprof = work / f"{tb.elf.stem}.pcprof.txt"
    out = run_qemu(tb, work, plugin=plugin, timeout=timeout, pcprof=pcprof)
    lines = parse_bench_lines((work / f"{tb.elf.stem}.semihost.txt").read_text())
    if lines["tags"] != list(model.ops):
        raise RunError(f"TFLM invoked {lines['tags'][:5]}... ({len(lines['tags'])} ops), not the model's "
                       f"{len(model.ops)} operators in order")
    return TflmRun(measurement=measure(out, model, target), outputs=out.outputs, arena_used=int(lines["arena_used"]),
                   arena_size=int(lines["arena_size"]), stack_used=out.stack_used or 0,
                   hot_functions=tuple(demangle(function_profile(tb.elf, pcprof)[:n_hot])))


def demangle(profile: Sequence[tuple[str, int]], width: int = 110) -> list[tuple[str, int]]:
    """C++ names readable (``arm-none-eabi-c++filt``), cut to ``width`` characters."""
    names = [f for f, _ in profile]
    proc = subprocess.run(["arm-none-eabi-c++filt"], input="\n".join(names), capture_output=True, text=True)
    plain = proc.stdout.splitlines() if proc.returncode == 0 and len(proc.stdout.splitlines()) == len(names) else names
    return [(p if len(p) <= width else p[:width - 3] + "...", n) for p, (_, n) in zip(plain, profile)]


def tflm_memory(tb: Any, run: TflmRun, model: ModelInfo) -> TflmMemory:
    m = MemoryReport.from_elf(tb, run.stack_used)  # subtracts tinyasc_golden_input, as for tinyasc's ELF
    return TflmMemory(flash_bytes=m.flash_bytes, text=m.text, rodata=m.rodata, data=m.data, bss=m.bss,
                      stack_used=run.stack_used, arena_size=run.arena_size, arena_used=run.arena_used,
                      model_bytes=model.path.stat().st_size)


# ---------------------------------------------------------------------------------- compare


def tinyasc_fusions(model_path: Path) -> dict[int, int]:
    """``op index -> op it is fused into`` as tinyasc's generator plans it (MUL -> MEAN, band chains)."""
    from tinyasc.firmware_sim.planner import plan_arena
    from tinyasc.firmware_sim.reader import read_tflite

    return dict(plan_arena(read_tflite(model_path)).fused)


def fusion_groups(n_ops: int, fused: Mapping[int, int]) -> list[tuple[int, ...]]:
    """The comparison units: each op alone, or with the ops fused into it; ordered by their last op."""
    def root(i: int) -> int:
        seen = set()
        while i in fused and i not in seen:
            seen.add(i)
            i = fused[i]
        return i

    groups: dict[int, list[int]] = {}
    for i in range(n_ops):
        groups.setdefault(root(i), []).append(i)
    return [tuple(sorted(g)) for _, g in sorted(groups.items(), key=lambda kv: max(kv[1]))]


def match_units(tflm_ops: Sequence[OpCount], ours: Sequence[OursLayer], fused: Mapping[int, int]) -> list[Unit]:
    """Pair TFLM's per-operator counts with tinyasc's layers by .tflite operator index; operators
    tinyasc fuses are compared as one unit (both sides summed: valid whether or not ours fused them)."""
    t = {o.index: o for o in tflm_ops}
    o = {l.index: l for l in ours}
    if sorted(t) != sorted(o):
        raise ValueError(f"TFLM ran operators {index_label(sorted(t))}, tinyasc reports {index_label(sorted(o))}")
    for i in t:
        if t[i].op != o[i].op:
            raise ValueError(f"operator {i}: TFLM ran {t[i].op}, tinyasc reports {o[i].op}")
    return [Unit(indices=g, ops=tuple(t[i].op for i in g),
                 tflm_instructions=sum(t[i].instructions for i in g), tflm_cycles=sum(t[i].cycles for i in g),
                 ours_instructions=sum(o[i].instructions for i in g), ours_cycles=sum(o[i].cycles for i in g))
            for g in fusion_groups(len(t), fused)]


def class_totals(units: Sequence[Unit]) -> list[ClassTotal]:
    """Units summed per operator class (a fused unit is its own class), most TFLM cycles first."""
    acc: dict[str, list[Unit]] = {}
    for u in units:
        acc.setdefault(u.op_class, []).append(u)
    rows = [ClassTotal(op_class=k, units=len(v), tflm_instructions=sum(u.tflm_instructions for u in v),
                       tflm_cycles=sum(u.tflm_cycles for u in v), ours_instructions=sum(u.ours_instructions for u in v),
                       ours_cycles=sum(u.ours_cycles for u in v)) for k, v in acc.items()]
    return sorted(rows, key=lambda r: -r.tflm_cycles)


def top_units(units: Sequence[Unit], n: int = 5, *, wins: bool) -> list[Unit]:
    """The ``n`` units where tinyasc saves (``wins``) or loses the most cycles against TFLM."""
    picked = [u for u in units if (u.saved_cycles > 0 if wins else u.saved_cycles < 0)]
    return sorted(picked, key=lambda u: -abs(u.saved_cycles))[:n]


def comparison_notes(ours: OursReport, timing: Any, fused: Mapping[int, int]) -> list[str]:
    notes = []
    if ours.cpi and dict(ours.cpi) != dict(timing.cpi):
        notes.append("the --ours report was made with another timing table: compare instructions, not cycles")
    if fused:
        notes.append(f"{len(fused)} operators are fused by tinyasc into others; each fused group is one row")
    if ours.frontend_in_flash:
        notes.append("tinyasc's flash and RAM figures include its audio front end (its report measured one: code, "
                     "tables and buffers); TFLM's have none")
    return notes


def make_bench(*, model: ModelInfo, target: str, trees: Sequence[TreeInfo], build: TflmBuild | None,
               memory: TflmMemory | None, parity: Mapping[str, Any], tflm: TflmMeasurement, ours: OursReport,
               fused: Mapping[int, int], hot_functions: Sequence[tuple[str, int]] = ()) -> Bench:
    """Everything the report shows, from the recorded counts (no toolchain needed)."""
    from tinyasc.firmware_sim.harness import TimingModel
    from tinyasc.firmware_sim.target import SPECS, Target

    tm = TimingModel.load(Target(target))
    units = match_units(tflm.ops, ours.layers, fused)
    return Bench(model=model, target=target, machine=SPECS[Target(target)].machine, clock_mhz=ours.clock_mhz,
                 trees=tuple(trees), build=build, memory=memory, parity=parity, tflm=tflm, ours=ours,
                 units=tuple(units),
                 classes=tuple(class_totals(units)), fused=dict(fused), timing_model=tm,
                 notes=tuple(parity_notes(parity) + comparison_notes(ours, tm, fused)),
                 hot_functions=tuple(hot_functions))


def parity_notes(parity: Mapping[str, Any]) -> list[str]:
    """A warning when TFLM's optimized kernels do not compute what TFLM's reference kernels compute on this file
    (reported only with --allow-output-mismatch): the cycle comparison is then between different arithmetic."""
    if parity.get("equal", True):
        return []
    return [f"**TFLM with its optimized kernels differs from TFLM's reference kernels on this file**: "
            f"{parity.get('mismatched_bytes')} of {parity.get('output_bytes')} output bytes differ (largest difference "
            f"{parity.get('max_abs_diff')}), so its cycles are for other arithmetic than tinyasc's, which equals the "
            "reference"]


# ---------------------------------------------------------------------------------- report


def _unit_json(u: Unit) -> dict[str, Any]:
    return {"ops": list(u.indices), "op_types": list(u.ops), "label": u.label, "op_class": u.op_class,
            "tflm_instructions": u.tflm_instructions, "tflm_cycles": u.tflm_cycles,
            "ours_instructions": u.ours_instructions, "ours_cycles": u.ours_cycles, "ratio": u.ratio,
            "saved_cycles": u.saved_cycles, "winner": u.winner}


def _class_json(c: ClassTotal) -> dict[str, Any]:
    return {"op_class": c.op_class, "units": c.units, "tflm_instructions": c.tflm_instructions,
            "tflm_cycles": c.tflm_cycles, "ours_instructions": c.ours_instructions, "ours_cycles": c.ours_cycles,
            "ratio": c.ratio}


def to_json(b: Bench) -> dict[str, Any]:
    mem = None if b.memory is None else {**dataclasses.asdict(b.memory), "ram_bytes": b.memory.ram_bytes}
    return {
        "model": b.model.path.name, "model_sha256": b.model.sha256, "target": b.target, "machine": b.machine,
        "clock_mhz": b.clock_mhz, "note": "cycles estimated from emulated instruction counts (tinyasc timing model)",
        "goal_ratio": GOAL_RATIO, "ratio_cycles": b.ratio, "goal_met": b.goal_met,
        "ratio_instructions": b.ours.total_instructions / b.tflm.total_instructions,
        "totals": {
            "tflm": {"instructions": b.tflm.total_instructions, "cycles": b.tflm.total_cycles,
                     "between_ops_instructions": b.tflm.other_instructions, "between_ops_cycles": b.tflm.other_cycles},
            "ours": {"instructions": b.ours.total_instructions, "cycles": b.ours.total_cycles,
                     "between_ops_instructions": b.ours.other_instructions, "between_ops_cycles": b.ours.other_cycles},
        },
        "input": "tinyasc default golden input: seeded uniform noise over the input type, seed 0, one inference",
        "parity": dict(b.parity), "trees": {t.name: {"path": t.path, "commit": t.commit} for t in b.trees},
        "build": None if b.build is None else {**dataclasses.asdict(b.build), "elf": str(b.build.elf)},
        "memory": {"tflm": mem, "ours": dataclasses.asdict(b.ours.memory)},
        "classes": [_class_json(c) for c in b.classes], "units": [_unit_json(u) for u in b.units],
        "tflm_ops": [{"index": o.index, "op": o.op, "instructions": o.instructions, "cycles": o.cycles,
                      "classes": dict(o.classes)} for o in b.tflm.ops],
        "fused": {str(k): v for k, v in sorted(b.fused.items())}, "ours_report": str(b.ours.path),
        "timing_model": dataclasses.asdict(b.timing_model), "notes": list(b.notes),
        "tflm_hot_functions": [{"function": f, "instructions": n} for f, n in b.hot_functions],
    }


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _r(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def _ms(cycles: float, clock_mhz: float) -> str:
    return f"{cycles / (clock_mhz * 1e3):.2f}"


def _md_totals(b: Bench) -> list[str]:
    from tinyasc.metrics import markdown_table

    t, o = b.tflm, b.ours
    rows = [["TFLM + CMSIS-NN", _n(t.total_instructions), _n(t.total_cycles), _ms(t.total_cycles, b.clock_mhz),
             _n(t.other_cycles)],
            ["tinyasc", _n(o.total_instructions), _n(o.total_cycles), _ms(o.total_cycles, b.clock_mhz),
             _n(o.other_cycles)],
            ["**tinyasc / TFLM**", f"{o.total_instructions / t.total_instructions:.3f}", f"**{b.ratio:.3f}**", "", ""]]
    verdict = "met" if b.goal_met else "**not met**"
    return ["## Whole model", "",
            markdown_table(["", "instructions", "est. cycles", f"est. ms at {b.clock_mhz:g} MHz",
                            "of which between operators (cycles)"], rows),
            f"Goal of issue #16 (tinyasc <= 1/3 of TFLM + CMSIS-NN's cycles): {verdict} "
            f"(ratio {b.ratio:.3f}, TFLM / tinyasc = {1 / b.ratio:.2f}x).", ""]


def _md_classes(b: Bench) -> list[str]:
    from tinyasc.metrics import markdown_table

    rows = [[c.op_class, c.units, _n(c.tflm_instructions), _n(c.tflm_cycles), _n(c.ours_instructions),
             _n(c.ours_cycles), _r(c.ratio)] for c in b.classes]
    rows.append(["(between operators)", "", _n(b.tflm.other_instructions), _n(b.tflm.other_cycles),
                 _n(b.ours.other_instructions), _n(b.ours.other_cycles),
                 _r(b.ours.other_cycles / b.tflm.other_cycles if b.tflm.other_cycles else None)])
    return ["## Per operator class", "",
            markdown_table(["class", "units", "TFLM instr", "TFLM cycles", "tinyasc instr", "tinyasc cycles",
                            "ratio"], rows)]


def _md_top(b: Bench) -> list[str]:
    from tinyasc.metrics import markdown_table

    out = []
    for title, wins in (("Where tinyasc wins most (cycles saved)", True), ("Where tinyasc loses most", False)):
        rows = [[u.label, u.op_class, _n(u.tflm_cycles), _n(u.ours_cycles), _r(u.ratio), _n(u.saved_cycles)]
                for u in top_units(b.units, wins=wins)]
        out += [f"## {title}", "", markdown_table(["ops", "class", "TFLM cycles", "tinyasc cycles", "ratio",
                                                    "TFLM - tinyasc"], rows) if rows else "(none)\n"]
    return out


def _md_units(b: Bench) -> list[str]:
    from tinyasc.metrics import markdown_table

    rows = [[u.label, u.op_class, _n(u.tflm_instructions), _n(u.tflm_cycles), _n(u.ours_instructions),
             _n(u.ours_cycles), _r(u.ratio), u.winner] for u in b.units]
    return ["## Per operator", "",
            "How the two are matched: TFLM invokes the subgraph's operators in order, and the bench's profiler "
            "hook brackets operator i with marker pair i; tinyasc's latency.json keys its layers by the same "
            ".tflite operator index (`index`, name `OP_i`). tinyasc's generator fuses some operators into one "
            "kernel (a TRANSPOSE/RESHAPE -> per-channel 1x1 CONV_2D -> TRANSPOSE/RESHAPE chain into an "
            "element-wise pass run at the chain's last operator; a MUL whose only consumer is a MEAN into the "
            "MEAN): its report puts the fused work on that last operator and only marker overhead on the others. "
            "The fusion plan is recomputed from the .tflite with tinyasc's planner "
            "(`planner.plan_arena(...).fused`), and each fused group is one row with both sides summed, which "
            "stays correct even if the measured library was generated without fusion.", "",
            markdown_table(["ops", "type", "TFLM instr", "TFLM cycles", "tinyasc instr", "tinyasc cycles",
                            "ratio", "faster"], rows)]


def _md_memory(b: Bench) -> list[str]:
    from tinyasc.metrics import markdown_table

    if b.memory is None:
        return []
    m, o = b.memory, b.ours.memory
    rows = [["flash (B)", _n(m.flash_bytes), _n(o.flash_bytes)],
            ["  text / rodata / data", f"{m.text:,} / {m.rodata:,} / {m.data:,}",
             f"{o.text:,} / {o.rodata:,} / {o.data:,}"],
            ["RAM (B): data + bss + stack", _n(m.ram_bytes), _n(o.ram_bytes)],
            ["  bss (TFLM: arena at its used size) / stack high-water",
             f"{m.bss - (m.arena_size - m.arena_used):,} / {m.stack_used:,}", f"{o.bss:,} / {o.stack_used:,}"],
            ["  TFLM tensor arena", f"{m.arena_used:,} used (arena_used_bytes(); {m.arena_size:,} compiled in)", ""]]
    return ["## Flash and RAM", "",
            markdown_table(["", "TFLM + CMSIS-NN", "tinyasc"], rows),
            "Flash excludes the golden input compiled in for the measurement; TFLM's includes the "
            f"{m.model_bytes:,}-byte .tflite. TFLM's RAM counts its arena at arena_used_bytes().", ""]


def _md_hot(b: Bench) -> list[str]:
    from tinyasc.metrics import markdown_table

    if not b.hot_functions:
        return []
    total = sum(n for _, n in b.hot_functions)
    rows = [[f"`{f}`", _n(n)] for f, n in b.hot_functions]
    return ["## TFLM + CMSIS-NN hot functions", "",
            f"Executed instructions per function over the whole TFLM run (setup included; the top "
            f"{len(rows)} hold {_n(total)}): which kernels TFLM dispatched to.", "",
            markdown_table(["function", "instructions"], rows)]


def _md_setup(b: Bench) -> list[str]:
    lines = ["## Setup", "",
             f"- model: {b.model.path.name} (sha256 {b.model.sha256[:16]}...), {len(b.model.ops)} operators",
             f"- core: {b.target} on QEMU {b.machine}; the same counting plugin, markers and timing model as "
             "tinyasc's latency harness",
             "- input: tinyasc's default golden input (seeded uniform noise over the input type, seed 0), "
             "one inference",
             f"- TFLM ELF output equals the host TFLM's: {b.parity.get('equal')}"
             + (f"; tinyasc's report: equals TFLM's: {b.ours.tflm_equal}" if b.ours.tflm_equal is not None else ""),
             f"- tinyasc report: {b.ours.path}"]
    lines += [f"- {t.name}: `{t.path}` at `{t.commit}`" for t in b.trees]
    if b.build is not None:
        lines += [f"- compiler: {b.build.compiler}", f"- C++ flags: `{' '.join(b.build.cxx_flags)}`",
                  f"- C flags: `{' '.join(b.build.c_flags)}`", f"- link: `{' '.join(b.build.link_flags)}`",
                  f"- memory region: {b.build.ram_region}"]
    lines += [f"- note: {n}" for n in b.notes]
    return lines + [""]


def to_markdown(b: Bench) -> str:
    tm = b.timing_model
    head = [f"# tinyasc vs TensorFlow Lite Micro + CMSIS-NN: {b.model.path.name} on {b.target}", "",
            "Instruction counts are exact (QEMU TCG plugin); cycles are **estimated** from them with tinyasc's "
            f"per-class timing model of the {tm.core} ({tm.reference}), not measured on hardware.", ""]
    return "\n".join([*head, *_md_totals(b), *_md_classes(b), *_md_top(b), *_md_memory(b), *_md_hot(b),
                      *_md_setup(b), *_md_units(b)]) + "\n"


def write_outputs(b: Bench, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out / "bench_vs_tflm.json", to_json(b))
    atomic.write_text(out / "bench_vs_tflm.md", to_markdown(b))
    return out / "bench_vs_tflm.md"


# ---------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="the int8 .tflite (the one --ours was measured on)")
    for name, what in (("tflm", "tflite-micro"), ("cmsis-nn", "CMSIS-NN"), ("flatbuffers", "flatbuffers"),
                       ("gemmlowp", "gemmlowp (fixedpoint headers)"), ("ruy", "ruy (profiler header)")):
        ap.add_argument(f"--{name}", type=Path, required=True, help=f"{what} source tree")
    ap.add_argument("--target", choices=TARGETS, default="cortex-m4")
    ap.add_argument("--ours", type=Path, required=True, help="tinyasc latency.json of the same model and core")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--build-dir", type=Path, default=None,
                    help="objects and ELF (default OUT/build/TARGET); objects are reused when sources and flags match")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel compiles")
    ap.add_argument("--timeout", type=float, default=900.0, help="QEMU time limit, seconds")
    ap.add_argument("--allow-output-mismatch", action="store_true",
                    help="report even when TFLM with its optimized (CMSIS-NN) kernels computes other outputs than "
                         "TFLM's reference kernels (CMSIS-NN's 16x8 kernels on some files); the report says so")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        raise InputError(None, f"--jobs must be at least 1, got {args.jobs}")
    return args


def trees_of(args: argparse.Namespace) -> Trees:
    return Trees(tflm=args.tflm.resolve(), cmsis_nn=args.cmsis_nn.resolve(), flatbuffers=args.flatbuffers.resolve(),
                 gemmlowp=args.gemmlowp.resolve(), ruy=args.ruy.resolve())


def bench(args: argparse.Namespace) -> Bench:
    """Validate every input, then build, run, check and compare."""
    from tinyasc.firmware_sim.harness import compare_outputs, default_golden
    from tinyasc.firmware_sim.harness.tools import ParityError

    trees = trees_of(args)
    check_trees(trees)
    model = check_model(args.model)
    ours = load_ours(args.ours, args.target, model)
    check_toolchain_cxx()
    golden = default_golden(model.input_size, dtype=np.int16 if model.input_dtype == "INT16" else np.int8)
    reference = host_reference(model, golden)
    work = args.build_dir or args.out / "build" / args.target
    tb, info = build_tflm(trees, model, golden, args.target, work, arena_size=host_arena(model), jobs=args.jobs)
    run = run_tflm(tb, model, args.target, work, args.timeout)
    parity = compare_outputs(reference, run.outputs, np.int16 if model.output_dtype == "INT16" else np.int8)
    if not parity["equal"]:
        if not args.allow_output_mismatch:
            raise ParityError(f"TFLM on {args.target} differs from the host TFLM ({parity}): nothing is reported "
                              "(--allow-output-mismatch reports it anyway, with the difference)")
        log.warning("TFLM on %s differs from the host TFLM (%s): reported with that warning", args.target, parity)
    tree_info = [TreeInfo(name=name, path=str(root), commit=tree_commit(root)) for name, root in trees.items()]
    return make_bench(model=model, target=args.target, trees=tree_info, build=info,
                      memory=tflm_memory(tb, run, model), parity=parity, tflm=run.measurement, ours=ours,
                      fused=tinyasc_fusions(model.path), hot_functions=run.hot_functions)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    from tinyasc.firmware_sim.harness.tools import ParityError, RunError

    args = parse_args(argv)
    try:
        result = bench(args)
    except (RunError, ParityError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    md = write_outputs(result, args.out)
    print(md)
    log.info("tinyasc / TFLM cycles: %.3f (goal <= %.3f: %s)", result.ratio, GOAL_RATIO,
             "met" if result.goal_met else "not met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
