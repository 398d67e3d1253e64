"""On-device latency harness: build the generated firmware for a Cortex-M core, run it on
QEMU with an exact instruction counter, and estimate cycles, latency, flash and RAM.

Pipeline (``measure_tflite``)::

    .tflite --generate--> model.c/.h --arm-none-eabi-gcc--> ELF --qemu-system-arm + plugin-->
        per-layer instruction counts by class --timing model--> estimated cycles / latency

The counts are exact (a TCG plugin adds one per executed guest instruction, by class, and
snapshots the counters whenever the guest enters ``tinyasc_layer_marker``). QEMU models no
cycles, so cycles are **estimated** from the executed instruction mix with a per-core table
of cycles per instruction class (``targets/timing/<core>.json``, from the cores' Technical
Reference Manuals, zero-wait-state memory): every report says so and carries the table.

The target's outputs on the golden inputs must equal the host build's (the portable kernels,
which the firmware helper's parity check ties to TFLite Micro): a latency for wrong results
is worthless, so a mismatch raises :class:`ParityError`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tinyasc.atomic import write_json, write_text
from tinyasc.errors import InputError

log = logging.getLogger(__name__)

PKG_DIR = Path(__file__).resolve().parent
TARGETS_DIR = PKG_DIR / "targets"
C_DIR = PKG_DIR / "c"
PLUGIN_SOURCE = TARGETS_DIR / "plugin" / "tinyasc_count.c"
TIMING_DIR = TARGETS_DIR / "timing"
SELFTEST_DIR = TARGETS_DIR / "selftest"

LATENCY_NOTE = "latency estimated from emulated instruction counts"

#: Instruction classes reported by the plugin (same order as its counters).
CLASSES: tuple[str, ...] = (
    "alu", "simd", "mul", "mull", "div", "load", "store", "load_multi", "store_multi", "branch",
    "loop", "fp", "fp_ldst", "mve", "mve_ldst",
)
XFER = "xfer_regs"

#: apt package that provides each required program.
APT_PACKAGES: dict[str, str] = {
    "arm-none-eabi-gcc": "gcc-arm-none-eabi",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "gcc": "gcc",
}
NEWLIB_PACKAGE = "libnewlib-arm-none-eabi"

MARKER_SYMBOL = "tinyasc_layer_marker"


class Target(str, enum.Enum):
    """Cortex-M core to build for; each runs on the QEMU board that carries it."""

    CORTEX_M4 = "cortex-m4"
    CORTEX_M7 = "cortex-m7"
    CORTEX_M55 = "cortex-m55"


@dataclass(frozen=True, kw_only=True)
class TargetSpec:
    """How to build and run for one core."""

    machine: str
    """QEMU machine (board) name."""
    cflags: tuple[str, ...]
    """Code-generation flags for arm-none-eabi-gcc."""
    flash: tuple[int, int]
    """(origin, length) of the code region the board boots from (vector table at 0x0)."""
    ram: tuple[int, int]
    """(origin, length) of the board's on-chip/SSRAM data region."""
    big_ram: tuple[int, int]
    """(origin, length) of a larger emulated RAM used when the firmware does not fit ``ram``."""
    clock_mhz: float
    """Default clock for the latency estimate."""
    counter_addr: int | None
    """Free-running board counter for the plugin-free fallback (MPS2 FPGAIO COUNTER)."""
    counter_hz: float | None
    """Its frequency; with -icount shift=0 one instruction takes 1 ns of virtual time."""


MB = 1 << 20
SPECS: dict[Target, TargetSpec] = {
    Target.CORTEX_M4: TargetSpec(
        machine="mps2-an386",
        cflags=("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
        flash=(0x00000000, 4 * MB), ram=(0x20000000, 4 * MB), big_ram=(0x21000000, 16 * MB),
        clock_mhz=80.0, counter_addr=0x40028018, counter_hz=25e6,
    ),
    Target.CORTEX_M7: TargetSpec(
        machine="mps2-an500",
        cflags=("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
        flash=(0x00000000, 4 * MB), ram=(0x20000000, 4 * MB), big_ram=(0x60000000, 16 * MB),
        clock_mhz=480.0, counter_addr=0x40028018, counter_hz=25e6,
    ),
    Target.CORTEX_M55: TargetSpec(
        machine="mps3-an547",
        cflags=("-mcpu=cortex-m55", "-mthumb", "-mfpu=auto", "-mfloat-abi=hard"),
        flash=(0x00000000, 512 * 1024), ram=(0x20000000, 512 * 1024), big_ram=(0x60000000, 64 * MB),
        clock_mhz=400.0, counter_addr=None, counter_hz=None,
    ),
}

#: Kernels outside the TINYASC_OPT_CONV guard, replaced at link time in optimized builds
#: (c/opt/tinyasc_opt_binary.c, c/opt/tinyasc_opt_inplace.c define __wrap_<name>).
WRAPPED = ("tinyasc_add_s8", "tinyasc_sub_s8", "tinyasc_mul_s8", "tinyasc_squared_difference_s8",
           "tinyasc_conv2d_1x1_inplace_s8", "tinyasc_conv_col_inplace_s8")


def _link_flags(defines: Sequence[str]) -> list[str]:
    return [f"-Wl,--wrap={f}" for f in WRAPPED] if "TINYASC_OPT_CONV" in defines else []


#: Optimization level of target builds (-O2 for the kernels; -O3 unrolls without gain here).
TARGET_OPT = "-O2"
STACK_SIZE = 32 * 1024


class ToolchainError(InputError):
    """A required program is missing; the message names the apt packages to install."""


class ParityError(Exception):
    """The target's outputs differ from the host build's: the latency would be meaningless."""


class RunError(Exception):
    """The firmware faulted, timed out or printed nothing usable under QEMU."""


# ---------------------------------------------------------------------------------- toolchain


def check_toolchain(programs: Sequence[str] = tuple(APT_PACKAGES)) -> None:
    """Raise :class:`ToolchainError` naming the apt packages of every missing program."""
    missing = [p for p in programs if shutil.which(p) is None]
    packages = [APT_PACKAGES[p] for p in missing]
    if "arm-none-eabi-gcc" not in missing and "arm-none-eabi-gcc" in programs:
        spec = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=nano.specs"], capture_output=True,
                              text=True).stdout.strip()
        if not spec or not Path(spec).is_file():
            packages.append(NEWLIB_PACKAGE)
    elif "arm-none-eabi-gcc" in missing:
        packages.append(NEWLIB_PACKAGE)
    if packages:
        packages = list(dict.fromkeys(packages))
        raise ToolchainError(None, f"missing toolchain ({', '.join(missing) or 'newlib'}): "
                                   f"apt-get install {' '.join(packages)}")


def _run(cmd: Sequence[str], *, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RunError(f"{Path(str(cmd[0])).name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc


def build_plugin(out_dir: Path) -> Path:
    """Compile the counting plugin with the host gcc (cached by source hash)."""
    src = PLUGIN_SOURCE.read_bytes()
    so = Path(out_dir) / f"tinyasc_count-{hashlib.sha256(src).hexdigest()[:12]}.so"
    if not so.is_file():
        so.parent.mkdir(parents=True, exist_ok=True)
        tmp = so.with_suffix(".tmp.so")
        _run(["gcc", "-O2", "-shared", "-fPIC", "-Wall", "-o", tmp, PLUGIN_SOURCE])
        tmp.replace(so)
    return so


# ------------------------------------------------------------------------------- firmware build


@dataclass(frozen=True, kw_only=True)
class FirmwareSources:
    """A generated model (or the self-test) and the extra C it needs."""

    model_dir: Path
    """Directory with model.c and model.h (and any other generated .c files)."""
    kernel_sources: tuple[Path, ...] = ()
    """Kernel library sources (portable kernels, opt kernels, sparse kernels)."""
    include_dirs: tuple[Path, ...] = ()
    defines: tuple[str, ...] = ()
    """Preprocessor definitions, e.g. ``TINYASC_OPT_CONV``."""


def kernel_sources(*, optimized: bool) -> tuple[tuple[Path, ...], tuple[Path, ...], tuple[str, ...]]:
    """Sources, include dirs and defines of the kernel library (portable or optimized)."""
    srcs = sorted((C_DIR / "kernels").glob("*.c"))
    incs = [C_DIR / "include"]
    defines: list[str] = []
    if optimized:
        srcs += sorted((C_DIR / "opt").glob("*.c")) + sorted((C_DIR / "sparse").glob("*.c"))
        incs += [C_DIR / "opt", C_DIR / "sparse"]
        defines.append("TINYASC_OPT_CONV")
    return tuple(srcs), tuple(incs), tuple(defines)


def write_golden_header(path: Path, inputs: np.ndarray) -> None:
    """``golden_input.h`` with the golden inputs, shape (n, input_size), in the model's input type."""
    inputs = np.asarray(inputs)
    rows = []
    for row in inputs:
        vals = ",".join(str(int(v)) for v in row)
        rows.append("{" + vals + "}")
    text = (
        "/* Golden inputs (generated by tinyasc.firmware_sim.latency). */\n"
        "#include <stdint.h>\n#include \"model.h\"\n"
        f"#define TINYASC_GOLDEN_COUNT {len(inputs)}\n"
        f"static const tinyasc_input_t tinyasc_golden_input[{len(inputs)}][TINYASC_INPUT_SIZE] = {{\n"
        + ",\n".join(rows) + "\n};\n"
    )
    write_text(path, text)


def _linker_script(path: Path, flash: tuple[int, int], ram: tuple[int, int],
                   big_rom: tuple[int, int] | None = None) -> None:
    text = (TARGETS_DIR / "cortex_m.ld.in").read_text()
    rom = big_rom or (flash[0] + flash[1], 0)
    for key, val in (("@FLASH_ORIGIN@", flash[0]), ("@FLASH_LENGTH@", flash[1]),
                     ("@RAM_ORIGIN@", ram[0]), ("@RAM_LENGTH@", ram[1]), ("@STACK_SIZE@", STACK_SIZE),
                     ("@BIGROM_ORIGIN@", rom[0]), ("@BIGROM_LENGTH@", rom[1])):
        text = text.replace(key, f"0x{val:08x}")
    text = text.replace("@RODATA_REGION@", "BIGROM" if big_rom else "FLASH")
    write_text(path, text)


@dataclass(frozen=True, kw_only=True)
class TargetBuild:
    elf: Path
    target: Target
    ram_region: str
    """"board" when everything fits the board's memories; "emulated": data in a larger emulation-only
    region; "emulated+rodata": constants there too (the board's code memory is too small)."""
    cflags: tuple[str, ...]


def build_target(src: FirmwareSources, target: Target, build_dir: Path, *, extra_sources: Sequence[Path] = (),
                 extra_defines: Sequence[str] = (), profile: bool = True, name: str = "firmware",
                 main_source: Path | None = None, icount_counter: bool = False) -> TargetBuild:
    """Compile startup + semihosting + target main + model.c + kernels into an ELF.

    ``icount_counter`` reads the board's free-running counter around each inference (the
    plugin-free fallback, for boards that have one)."""
    spec = SPECS[target]
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    model_c = [Path(src.model_dir) / "model.c"] if main_source is None else []
    sources = [TARGETS_DIR / "startup.c", TARGETS_DIR / "semihost.c", main_source or (TARGETS_DIR / "main_target.c"),
               *model_c, *src.kernel_sources, *extra_sources]
    if icount_counter:
        if spec.counter_addr is None:
            raise ValueError(f"{target.value}: no free-running counter known on {spec.machine}")
        extra_defines = (*extra_defines, f"TINYASC_COUNTER_ADDR=0x{spec.counter_addr:08x}u")
    defines = [*src.defines, *extra_defines] + (["TINYASC_PROFILE"] if profile else [])
    cflags = (*spec.cflags, TARGET_OPT, "-ffunction-sections", "-fdata-sections", "-ffp-contract=off",
              "-std=gnu11", *(f"-D{d}" for d in defines))
    incs = [src.model_dir, TARGETS_DIR, *src.include_dirs]
    elf = build_dir / f"{name}.elf"
    last_err: RunError | None = None
    # constants move to the emulation-only region only when the board's code memory is too small
    big_rom = (spec.big_ram[0] + spec.big_ram[1] // 2, spec.big_ram[1] // 2)
    big_ram = (spec.big_ram[0], spec.big_ram[1] // 2)
    attempts = (("board", spec.ram, None), ("emulated", big_ram, None), ("emulated+rodata", big_ram, big_rom))
    for region_name, ram, rom in attempts:
        ld = build_dir / f"{name}-{region_name}.ld"
        _linker_script(ld, spec.flash, ram, rom)
        cmd = ["arm-none-eabi-gcc", *cflags, *(f"-I{i}" for i in incs), *sources, "-T", ld, "-nostartfiles",
               "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", *_link_flags(defines), "-o", elf,
               "-lm"]
        try:
            _run(cmd, timeout=900)
            return TargetBuild(elf=elf, target=target, ram_region=region_name, cflags=tuple(cflags))
        except RunError as err:
            last_err = err
            if "overflowed" not in str(err) and "will not fit in region" not in str(err):
                raise
            log.info("%s: does not fit the memories of %s (%s); trying a larger emulated region", name,
                     spec.machine, region_name)
    assert last_err is not None
    raise last_err


def build_host(src: FirmwareSources, build_dir: Path, *, extra_sources: Sequence[Path] = (),
               name: str = "host", main_source: Path | None = None) -> Path:
    """The same main and model compiled for the build machine (reference outputs)."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    exe = build_dir / name
    mains = [TARGETS_DIR / "main_host.c", Path(src.model_dir) / "model.c"] if main_source is None else [main_source]
    sources = [*mains, TARGETS_DIR / "host_glue.c", *src.kernel_sources, *extra_sources]
    cmd = ["gcc", "-O2", "-std=gnu11", "-ffp-contract=off", *(f"-D{d}" for d in src.defines),
           *(f"-I{i}" for i in (src.model_dir, TARGETS_DIR, *src.include_dirs)), *sources, *_link_flags(src.defines),
           "-o", exe, "-lm"]
    _run(cmd, timeout=900)
    return exe


# ---------------------------------------------------------------------------------- running


@dataclass(frozen=True, kw_only=True)
class RunOutput:
    outputs: list[bytes]
    stack_used: int | None
    counter_ticks: list[int]
    snapshots: list[dict[str, int]]
    total: dict[str, int] | None
    wall_s: float


def parse_firmware_output(text: str) -> tuple[list[bytes], int | None, list[int], bool]:
    outs: dict[int, bytes] = {}
    stack = None
    ticks: list[int] = []
    done = False
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) < 2 or parts[0] != "TINYASC":
            continue
        if parts[1] == "OUT" and len(parts) == 4:
            outs[int(parts[2])] = bytes.fromhex(parts[3])
        elif parts[1] == "STACK":
            stack = int(parts[2])
        elif parts[1] == "COUNTER":
            ticks.append(int(parts[2]))
        elif parts[1] == "DONE":
            done = True
        elif parts[1] in ("FAULT", "INVOKE-FAILED"):
            raise RunError(f"firmware reported {parts[1]}")
    return [outs[i] for i in sorted(outs)], stack, ticks, done


def _parse_counts(path: Path) -> tuple[list[dict[str, int]], dict[str, int] | None]:
    names: list[str] = []
    snaps: list[dict[str, int]] = []
    total = None
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "classes":
            names = parts[1:]
        elif parts[0] in ("snap", "total"):
            row = dict(zip(names, (int(v) for v in parts[1:])))
            if parts[0] == "snap":
                snaps.append(row)
            else:
                total = row
    return snaps, total


def marker_address(elf: Path) -> int:
    proc = _run(["arm-none-eabi-nm", elf])
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == MARKER_SYMBOL:
            return int(parts[0], 16) & ~1
    raise RunError(f"{elf}: no symbol {MARKER_SYMBOL}")


def run_qemu(build: TargetBuild, work_dir: Path, *, plugin: Path | None, icount: bool = False,
             timeout: float = 600, pcprof: Path | None = None) -> RunOutput:
    """Run the ELF on its board; with ``plugin`` count instructions, with ``icount`` use
    ``-icount shift=0`` (one instruction = 1 ns of virtual time) for the counter fallback."""
    import time

    spec = SPECS[build.target]
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    out_txt = work_dir / f"{build.elf.stem}.semihost.txt"
    counts_txt = work_dir / f"{build.elf.stem}.counts.txt"
    for p in (out_txt, counts_txt):
        p.unlink(missing_ok=True)
    cmd = ["qemu-system-arm", "-M", spec.machine, "-cpu", build.target.value, "-nographic", "-monitor", "none",
           "-serial", "none", "-chardev", f"file,id=shout,path={out_txt}",
           "-semihosting-config", "enable=on,target=native,chardev=shout", "-kernel", str(build.elf)]
    if icount:
        cmd += ["-icount", "shift=0"]
    if plugin is not None:
        cmd += ["-plugin", f"{plugin},marker=0x{marker_address(build.elf):x},out={counts_txt}"
                + (f",pcprof={pcprof}" if pcprof is not None else "")]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise RunError(f"{build.elf.name}: QEMU did not finish within {timeout:.0f} s") from err
    wall = time.monotonic() - t0
    text = out_txt.read_text() if out_txt.is_file() else ""
    outputs, stack, ticks, done = parse_firmware_output(text)
    if proc.returncode != 0 or not done:
        raise RunError(f"{build.elf.name} on {spec.machine}: exit {proc.returncode}, "
                       f"output {text[-300:]!r} {proc.stderr.strip()[-300:]}")
    snaps, total = _parse_counts(counts_txt) if plugin is not None and counts_txt.is_file() else ([], None)
    return RunOutput(outputs=outputs, stack_used=stack, counter_ticks=ticks, snapshots=snaps, total=total,
                     wall_s=wall)


def function_profile(elf: Path, pcprof: Path) -> list[tuple[str, int]]:
    """Executed instructions per function from a plugin ``pcprof`` file (hot spots, most first)."""
    import bisect

    syms = []
    for line in _run(["arm-none-eabi-nm", "-n", "-S", elf]).stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            syms.append((int(parts[0], 16) & ~1, int(parts[1], 16), parts[3]))
    syms.sort()
    starts = [a for a, _, _ in syms]
    totals: dict[str, int] = {}
    for line in Path(pcprof).read_text().splitlines():
        addr_s, count_s = line.split()
        addr = int(addr_s, 16)
        k = bisect.bisect_right(starts, addr) - 1
        name = syms[k][2] if k >= 0 and addr < syms[k][0] + max(syms[k][1], 1) else f"0x{addr:x}"
        totals[name] = totals.get(name, 0) + int(count_s)
    return sorted(totals.items(), key=lambda kv: -kv[1])


def run_host(exe: Path, timeout: float = 600) -> list[bytes]:
    proc = _run([exe], timeout=timeout)
    outputs, _, _, done = parse_firmware_output(proc.stdout)
    if not done:
        raise RunError(f"{exe}: host run printed no DONE line")
    return outputs


# ------------------------------------------------------------------------------- timing model


@dataclass(frozen=True, kw_only=True)
class TimingModel:
    """Cycles = sum over classes of count x CPI + registers moved by LDM/STM x per_xfer_reg."""

    core: str
    reference: str
    assumptions: str
    cpi: dict[str, float]
    per_xfer_reg: float

    @classmethod
    def load(cls, target: Target) -> "TimingModel":
        d = json.loads((TIMING_DIR / f"{target.value}.json").read_text())
        missing = set(CLASSES) - set(d["cpi"])
        if missing:
            raise ValueError(f"timing model {target.value} lacks classes {sorted(missing)}")
        return cls(core=d["core"], reference=d["reference"], assumptions=d["assumptions"],
                   cpi={k: float(v) for k, v in d["cpi"].items()}, per_xfer_reg=float(d["per_xfer_reg"]))

    def cycles(self, counts: dict[str, int]) -> float:
        return sum(counts.get(c, 0) * self.cpi[c] for c in CLASSES) + counts.get(XFER, 0) * self.per_xfer_reg


def instructions(counts: dict[str, int]) -> int:
    return int(sum(counts.get(c, 0) for c in CLASSES))


def _diff(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b[k] - a[k] for k in b}


# ---------------------------------------------------------------------------------- sizes


def elf_sections(elf: Path) -> dict[str, int]:
    proc = _run(["arm-none-eabi-size", "-A", elf])
    out: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


#: Symbols that hold test vectors, not firmware: excluded from the flash figure.
TEST_DATA_SYMBOLS = ("tinyasc_golden_input", "tinyasc_fe_golden_pcm")


def symbol_sizes(elf: Path) -> dict[str, int]:
    proc = _run(["arm-none-eabi-nm", "-S", elf])
    out: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            out[parts[3]] = int(parts[1], 16)
    return out


@dataclass(frozen=True, kw_only=True)
class MemoryReport:
    flash_bytes: int
    """text + rodata + exception tables + data initializers, minus the golden test vectors."""
    test_data_bytes: int
    """Golden model input and golden PCM compiled in for the measurement (not firmware)."""
    ram_bytes: int
    """data + bss + measured stack high-water mark."""
    text: int
    rodata: int
    data: int
    bss: int
    stack_used: int
    stack_reserved: int
    ram_region: str

    @classmethod
    def from_elf(cls, build: TargetBuild, stack_used: int) -> "MemoryReport":
        s = elf_sections(build.elf)
        text, rodata, data, bss = s.get(".text", 0), s.get(".rodata", 0), s.get(".data", 0), s.get(".bss", 0)
        syms = symbol_sizes(build.elf)
        test = sum(syms.get(n, 0) for n in TEST_DATA_SYMBOLS)
        flash = text + rodata + s.get(".ARM.exidx", 0) + data - test
        return cls(flash_bytes=flash, test_data_bytes=test, ram_bytes=data + bss + stack_used, text=text,
                   rodata=rodata, data=data,
                   bss=bss, stack_used=stack_used, stack_reserved=STACK_SIZE, ram_region=build.ram_region)


# ---------------------------------------------------------------------------------- report


@dataclass(frozen=True, kw_only=True)
class LayerInfo:
    name: str
    op: str = ""
    macs: int = 0


@dataclass(kw_only=True)
class LayerLatency:
    index: int
    name: str
    op: str
    instructions: int
    cycles: float
    latency_ms: float
    macs: int
    macs_per_cycle: float | None
    instructions_per_mac: float | None
    share: float
    classes: dict[str, int]


@dataclass(kw_only=True)
class LatencyReport:
    model: str
    target: str
    machine: str
    clock_mhz: float
    note: str
    timing_model: dict[str, Any]
    kernels: str
    sparse: bool
    total_instructions: int
    total_cycles: float
    total_latency_ms: float
    total_macs: int
    macs_per_cycle: float | None
    instructions_per_mac: float | None
    layers: list[LayerLatency]
    other: dict[str, Any]
    frontend: dict[str, Any] | None
    memory: MemoryReport
    parity: dict[str, Any]
    build: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _layer_row(index: int, info: LayerInfo, counts: dict[str, int], model: TimingModel, clock_mhz: float,
               total_cycles: float) -> LayerLatency:
    n = instructions(counts)
    cyc = model.cycles(counts)
    return LayerLatency(
        index=index, name=info.name, op=info.op, instructions=n, cycles=cyc, latency_ms=cyc / (clock_mhz * 1e3),
        macs=info.macs, macs_per_cycle=(info.macs / cyc) if info.macs and cyc else None,
        instructions_per_mac=(n / info.macs) if info.macs else None,
        share=(cyc / total_cycles) if total_cycles else 0.0,
        classes={k: v for k, v in counts.items() if v},
    )


def analyze(run: RunOutput, *, n_layers: int, layers: Sequence[LayerInfo] | None, model: TimingModel,
            clock_mhz: float, frontend: bool = False) -> tuple[list[LayerLatency], dict[str, Any],
                                                             dict[str, Any] | None, dict[str, int]]:
    """Map the snapshot sequence onto layers of the first golden inference."""
    snaps = run.snapshots
    base = 2 if frontend else 0
    per_inf = 2 + 2 * n_layers
    if len(snaps) < base + per_inf:
        raise RunError(f"expected at least {base + per_inf} marker hits, got {len(snaps)}")
    if (len(snaps) - base) % per_inf != 0:
        raise RunError(f"{len(snaps) - base} marker hits do not divide into inferences of {per_inf}")
    fe = None
    if frontend:
        c = _diff(snaps[0], snaps[1])
        cyc = model.cycles(c)
        fe = {"instructions": instructions(c), "cycles": cyc, "latency_ms": cyc / (clock_mhz * 1e3),
              "classes": {k: v for k, v in c.items() if v}}
    s = snaps[base:base + per_inf]
    total_counts = _diff(s[0], s[-1])
    total_cycles = model.cycles(total_counts)
    infos = list(layers) if layers is not None else [LayerInfo(name=f"layer{i}") for i in range(n_layers)]
    if len(infos) != n_layers:
        raise ValueError(f"{len(infos)} layer descriptions for {n_layers} layers")
    rows = []
    layer_sum = {k: 0 for k in total_counts}
    for i in range(n_layers):
        c = _diff(s[1 + 2 * i], s[2 + 2 * i])
        for k in layer_sum:
            layer_sum[k] += c[k]
        rows.append(_layer_row(i, infos[i], c, model, clock_mhz, total_cycles))
    glue = {k: total_counts[k] - layer_sum[k] for k in total_counts}
    gcyc = model.cycles(glue)
    other = {"instructions": instructions(glue), "cycles": gcyc, "latency_ms": gcyc / (clock_mhz * 1e3),
             "share": gcyc / total_cycles if total_cycles else 0.0,
             "what": "between layers: invoke entry/exit, layer markers, copies outside kernels"}
    return rows, other, fe, total_counts


def compare_outputs(host: list[bytes], target: list[bytes], dtype: Any = np.int8) -> dict[str, Any]:
    """Element-wise comparison of raw outputs of ``dtype`` (int8, or little-endian int16);
    ``mismatched_bytes`` counts differing elements (bytes for int8)."""
    if len(host) != len(target) or not host:
        return {"equal": False, "inputs": len(host), "target_inputs": len(target), "mismatched_bytes": None,
                "max_abs_diff": None}
    mism = 0
    mad = 0
    for h, t in zip(host, target):
        if len(h) != len(t):
            return {"equal": False, "inputs": len(host), "mismatched_bytes": None, "max_abs_diff": None}
        a = np.frombuffer(h, dtype).astype(np.int32)
        b = np.frombuffer(t, dtype).astype(np.int32)
        mism += int(np.count_nonzero(a != b))
        mad = max(mad, int(np.max(np.abs(a - b))) if a.size else 0)
    return {"equal": mism == 0, "inputs": len(host), "output_bytes": len(host[0]), "mismatched_bytes": mism,
            "max_abs_diff": mad}


def measure_sources(*, model_name: str, target: Target, target_src: FirmwareSources, host_src: FirmwareSources,
                    golden: np.ndarray | None, n_layers: int, work_dir: Path, layers: Sequence[LayerInfo] | None = None,
                    clock_mhz: float | None = None, kernels: str = "optimized", sparse: bool = False,
                    frontend_sources: Sequence[Path] = (), frontend_includes: Sequence[Path] = (),
                    timeout: float = 600, reference: list[bytes] | None = None,
                    io_dtype: Any = np.int8) -> LatencyReport:
    """Build for host and target, run both on ``golden``, check equality, count and report.

    ``io_dtype``: element type of the model's outputs (int8, or ``<i2`` for a 16x8 model).

    ``reference``: expected outputs from an interpreter (TFLite Micro); the target must equal
    them too. ``golden=None`` keeps the golden_input.h already in the model directories."""
    check_toolchain()
    spec = SPECS[target]
    clock = float(clock_mhz or spec.clock_mhz)
    if clock <= 0:
        raise InputError(None, f"--clock-mhz must be positive, got {clock}")
    work_dir = Path(work_dir)
    if golden is not None:
        for src in {target_src.model_dir, host_src.model_dir}:
            write_golden_header(Path(src) / "golden_input.h", golden)
    host_exe = build_host(host_src, work_dir / "host")
    host_out = run_host(host_exe, timeout=timeout)
    fe_defines = ("TINYASC_FRONTEND",) if frontend_sources else ()
    tsrc = dataclasses.replace(target_src, include_dirs=(*target_src.include_dirs, *frontend_includes))
    build = build_target(tsrc, target, work_dir / target.value, extra_sources=frontend_sources,
                         extra_defines=fe_defines)
    plugin = build_plugin(work_dir / "plugin")
    run = run_qemu(build, work_dir / target.value, plugin=plugin, timeout=timeout)
    parity = compare_outputs(host_out, run.outputs, io_dtype)
    if not parity["equal"]:
        raise ParityError(f"{model_name} on {target.value}: target outputs differ from the host build "
                          f"({parity}); no latency is reported for wrong results")
    if reference is not None:
        tflm = compare_outputs(reference, run.outputs, io_dtype)
        parity["tflm_equal"] = tflm["equal"]
        if not tflm["equal"]:
            raise ParityError(f"{model_name} on {target.value}: target outputs differ from TFLite Micro "
                              f"({tflm}); no latency is reported for wrong results")
    model = TimingModel.load(target)
    rows, other, fe, total_counts = analyze(run, n_layers=n_layers, layers=layers, model=model, clock_mhz=clock,
                                            frontend=bool(frontend_sources))
    total_cycles = model.cycles(total_counts)
    n_instr = instructions(total_counts)
    total_macs = sum(r.macs for r in rows)
    mem = MemoryReport.from_elf(build, run.stack_used or 0)
    return LatencyReport(
        model=model_name, target=target.value, machine=spec.machine, clock_mhz=clock, note=LATENCY_NOTE,
        timing_model=dataclasses.asdict(model), kernels=kernels, sparse=sparse, total_instructions=n_instr,
        total_cycles=total_cycles, total_latency_ms=total_cycles / (clock * 1e3), total_macs=total_macs,
        macs_per_cycle=(total_macs / total_cycles) if total_macs and total_cycles else None,
        instructions_per_mac=(n_instr / total_macs) if total_macs else None,
        layers=rows, other=other, frontend=fe, memory=mem, parity=parity,
        build={"cflags": list(build.cflags), "qemu_wall_s": round(run.wall_s, 3),
               "emulated_instructions_total": instructions(run.total) if run.total else None},
    )


# ---------------------------------------------------------------------------------- markdown


def _fmt_ms(x: float) -> str:
    return f"{x:.3f}" if x < 100 else f"{x:.1f}"


def report_markdown(r: LatencyReport) -> str:
    m = r.memory
    lines = [
        f"# Latency: {r.model} on {r.target} ({r.machine} in QEMU) at {r.clock_mhz:g} MHz",
        "",
        f"**{r.note.capitalize()}.** Instruction counts are exact (QEMU TCG plugin); cycles come from the "
        f"per-class timing model of the {r.timing_model['core']} below, not from hardware.",
        "",
        f"- kernels: {r.kernels}{', sparse weights' if r.sparse else ''}; on {r.parity['inputs']} golden input(s) "
        f"the target's outputs equal the host build's: {r.parity['equal']}"
        + (f", TFLite Micro's: {r.parity['tflm_equal']}" if "tflm_equal" in r.parity else ""),
        f"- total: {r.total_instructions:,} instructions, {r.total_cycles:,.0f} estimated cycles, "
        f"**{_fmt_ms(r.total_latency_ms)} ms** estimated"
        + (f", {r.total_macs:,} MACs, {r.macs_per_cycle:.3f} MACs/cycle, {r.instructions_per_mac:.2f} instructions/MAC"
           if r.total_macs else ""),
        f"- flash: {m.flash_bytes:,} B (text {m.text:,} + rodata {m.rodata:,} + data {m.data:,}, less "
        f"{m.test_data_bytes:,} B of golden test vectors{', front end included' if r.frontend else ''}); "
        f"RAM: {m.ram_bytes:,} B (data {m.data:,} + bss {m.bss:,} + stack high-water {m.stack_used:,})"
        + {"board": "", "emulated": " — data larger than the board's RAM: run in an emulation-only region",
           "emulated+rodata": " — data and constants larger than the board's memories: run in emulation-only "
                              "regions"}.get(m.ram_region, ""),
    ]
    if r.frontend:
        f = r.frontend
        lines.append(f"- front end (PCM -> int8 features): {f['instructions']:,} instructions, "
                     f"{f['cycles']:,.0f} cycles, {_fmt_ms(f['latency_ms'])} ms")
    lines += ["", "| # | layer | op | instructions | est. cycles | est. ms | MACs | MACs/cycle | instr/MAC | share |",
              "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for L in r.layers:
        lines.append(
            f"| {L.index} | {L.name} | {L.op} | {L.instructions:,} | {L.cycles:,.0f} | {_fmt_ms(L.latency_ms)} | "
            f"{L.macs:,} | {'' if L.macs_per_cycle is None else f'{L.macs_per_cycle:.3f}'} | "
            f"{'' if L.instructions_per_mac is None else f'{L.instructions_per_mac:.2f}'} | {100 * L.share:.1f}% |")
    o = r.other
    lines.append(f"| | (between layers) | | {o['instructions']:,} | {o['cycles']:,.0f} | {_fmt_ms(o['latency_ms'])} | | "
                 f"| | {100 * o['share']:.1f}% |")
    lines.append(f"| | **total** | | {r.total_instructions:,} | {r.total_cycles:,.0f} | {_fmt_ms(r.total_latency_ms)} | "
                 f"{r.total_macs:,} | | | 100% |")
    tm = r.timing_model
    lines += ["", "## Timing model", "", f"Source: {tm['reference']}.", "", f"Assumptions: {tm['assumptions']}.", "",
              "| class | " + " | ".join(CLASSES) + " | per LDM/STM register |",
              "|---|" + "---:|" * (len(CLASSES) + 1),
              "| CPI | " + " | ".join(f"{tm['cpi'][c]:g}" for c in CLASSES) + f" | {tm['per_xfer_reg']:g} |", ""]
    return "\n".join(lines)


def write_report(report: LatencyReport, out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    j, md = out_dir / "latency.json", out_dir / "latency.md"
    write_json(j, report.to_dict())
    write_text(md, report_markdown(report))
    return j, md


# ---------------------------------------------------------------------------------- self-test


def selftest_sources(*, optimized: bool) -> FirmwareSources:
    """The fixed one-conv self-test model (pinned instruction counts, icount cross-check)."""
    srcs, incs, defs = kernel_sources(optimized=True)
    # The self-test calls the portable tinyasc_ref_* loop unless optimized (both live in c/opt).
    opt_srcs = tuple(s for s in srcs if s.parent.name in ("opt", "sparse"))
    return FirmwareSources(model_dir=SELFTEST_DIR, kernel_sources=opt_srcs, include_dirs=incs,
                           defines=("TINYASC_OPT_CONV",) if optimized else ())


# ---------------------------------------------------------------------------------- .tflite


def default_golden(input_size: int, n: int = 1, seed: int = 0, dtype: Any = np.int8) -> np.ndarray:
    """Deterministic golden inputs: seeded uniform noise over the whole range of ``dtype`` (int8 or int16)."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    return rng.integers(info.min, info.max + 1, size=(n, input_size), dtype=np.int64).astype(dtype)


#: Operators whose MACs the report counts (element-wise "MACs" are not multiply-accumulates).
MAC_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})


def feature_config_for_input(shape: Sequence[int]):
    """The paper's front end sized to a (1, n_mels, n_frames, 1) model input (clip length from frames)."""
    from tinyasc.contract import FeatureConfig

    dims = [int(d) for d in shape if int(d) != 1]
    if len(dims) != 2:
        raise InputError(None, f"model input {list(shape)} is not a (mels, frames) spectrogram")
    n_mels, n_frames = dims
    base = FeatureConfig()
    return FeatureConfig(n_mels=n_mels, clip_seconds=(n_frames - 1) * base.hop_length / base.sample_rate)


def _frontend_sources(tflite_path: Path, out: Path) -> tuple[tuple[Path, ...], tuple[Path, ...], str | None]:
    """Generate the C front end for the model plus a one-clip golden PCM; or say why not."""
    try:
        from tinyasc.firmware_sim.frontend import write_frontend_for_model
        from tinyasc.firmware_sim.reader import read_tflite

        from tinyasc.contract import read_deployed_contract

        graph = read_tflite(tflite_path)
        contract = read_deployed_contract(Path(tflite_path).read_bytes(), tflite_path)
        cfg = contract.feature_config if contract else feature_config_for_input(graph.tensors[graph.inputs[0]].shape)
        if cfg.n_frames != [d for d in graph.tensors[graph.inputs[0]].shape if d != 1][1]:
            return (), (), "input frames do not match the paper's hop"
        pcm = (np.random.default_rng(0).normal(size=cfg.clip_samples) * 3000).astype(np.int16)
        fe = write_frontend_for_model(graph, cfg, out, golden_pcm=pcm,
                                      input_resnorm=contract.input_resnorm if contract else None)
    except (InputError, ValueError, ImportError) as err:
        log.info("front end not measured: %s", err)
        return (), (), str(err)
    return tuple(fe.out_dir / x for x in (*fe.sources, *fe.run_sources)), (fe.out_dir,), None


def _generated_sources(fw_dir: Path, *, optimized: bool) -> FirmwareSources:
    """A generated directory's model.c with its own copy of the portable kernels (+ ours)."""
    srcs = sorted((fw_dir / "kernels").glob("*.c"))
    incs: list[Path] = [fw_dir / "include"]
    defines: tuple[str, ...] = ()
    if optimized:
        srcs += sorted((C_DIR / "opt").glob("*.c")) + sorted((C_DIR / "sparse").glob("*.c"))
        incs += [C_DIR / "opt", C_DIR / "sparse"]
        defines = ("TINYASC_OPT_CONV",)
    return FirmwareSources(model_dir=fw_dir, kernel_sources=tuple(srcs), include_dirs=tuple(incs), defines=defines)


def measure_tflite(tflite_path: str | Path, *, target: Target, out_dir: str | Path, clock_mhz: float | None = None,
                   sparse: bool = False, optimized: bool = True, golden: np.ndarray | None = None,
                   check_tflm: bool = True, timeout: float = 600, frontend: bool = True) -> LatencyReport:
    """Generate, build, run and report one model on one target (see module docstring).

    ``frontend``: also measure the C front end (PCM -> int8 features) on a one-clip golden
    PCM, as its own line, when a front end matches the model's input shape."""
    check_toolchain()
    tflite_path = Path(tflite_path)
    if not tflite_path.is_file():
        raise InputError(tflite_path, "no such file")
    if sparse and not optimized:
        raise InputError(None, "--sparse needs the optimized kernel library (drop --portable)")
    from tinyasc.firmware_sim.generator import GeneratorOptions, generate
    from tinyasc.firmware_sim.sparse import sparsify_model_c

    out_dir = Path(out_dir)
    work = out_dir / "build"
    fw = work / "fw"
    art = generate(tflite_path, fw, options=GeneratorOptions(measure_tflm_arena=False))
    if golden is None:
        golden = default_golden(art.input_size, dtype=art.io_dtype)
    golden = np.asarray(golden, dtype=art.io_dtype).reshape(-1, art.input_size)
    target_dir = fw
    sparse_layers = []
    if sparse:
        target_dir = work / "fw_sparse"
        shutil.rmtree(target_dir, ignore_errors=True)
        shutil.copytree(fw, target_dir)
        sparse_layers = sparsify_model_c(target_dir / "model.c")
    layers = [LayerInfo(name=l.name, op=l.op, macs=int(l.macs) if l.op in MAC_OPS else 0) for l in art.layers]
    fe_sources: tuple[Path, ...] = ()
    fe_includes: tuple[Path, ...] = ()
    fe_skip = None
    if frontend:
        fe_sources, fe_includes, fe_skip = _frontend_sources(tflite_path, work / "frontend")
    reference = None
    if check_tflm:
        from tinyasc.firmware_sim.parity import tflm_run

        ref, _ = tflm_run(tflite_path, golden.reshape(-1, *art.input_shape))
        reference = [np.asarray(r, art.io_dtype).tobytes() for r in ref]
    report = measure_sources(
        model_name=tflite_path.name, target=target, target_src=_generated_sources(target_dir, optimized=optimized),
        host_src=_generated_sources(fw, optimized=False), golden=golden, n_layers=len(art.layers), layers=layers,
        work_dir=work, clock_mhz=clock_mhz, kernels="optimized" if optimized else "portable", sparse=sparse,
        timeout=timeout, reference=reference, frontend_sources=fe_sources, frontend_includes=fe_includes,
        io_dtype=art.io_dtype)
    if fe_skip:
        report.build["frontend_skipped"] = fe_skip
    if sparse:
        used = [dataclasses.asdict(r) for r in sparse_layers]
        report.build["sparse_layers"] = used
        report.build["sparse_weight_bytes"] = sum(r.sparse_bytes for r in sparse_layers if r.used)
        report.build["dense_weight_bytes_replaced"] = sum(r.dense_bytes for r in sparse_layers if r.used)
    report.build["generator_weight_bytes"] = art.weight_bytes
    report.build["arena_bytes"] = art.arena_size
    return report
