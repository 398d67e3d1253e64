"""What tinyasc builds for: a Cortex-M core (board, clock, ISA features) or portable C.

One frozen record per core drives the kernel choice of the shipped library
(:mod:`tinyasc.firmware_sim.library`), its build files, and the latency harness's QEMU runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tinyasc.errors import InputError


class Target(str, enum.Enum):
    """Cortex-M core to build for; each runs on the QEMU board that carries it."""

    CORTEX_M4 = "cortex-m4"
    CORTEX_M7 = "cortex-m7"
    CORTEX_M55 = "cortex-m55"


class LibraryTarget(str, enum.Enum):
    """``asc-firmware --target``: a Cortex-M core, or portable C99 for any compiler."""

    PORTABLE = "portable"
    CORTEX_M4 = "cortex-m4"
    CORTEX_M7 = "cortex-m7"
    CORTEX_M55 = "cortex-m55"

    @property
    def core(self) -> Target | None:
        """The Cortex-M core, or None for portable C."""
        return None if self is LibraryTarget.PORTABLE else Target(self.value)


class IsaFeature(str, enum.Enum):
    """Instruction-set extensions the optimized kernels use (``__ARM_FEATURE_*`` at compile time)."""

    DSP = "dsp"
    """SIMD multiply-accumulate on 16-bit halves (SMLAD): Cortex-M4, M7, M55."""
    MVE = "mve"
    """Helium vector extension: Cortex-M55."""
    FPU = "fpu"
    """Single-precision floating point (the front end): all three cores."""


class KernelBackend(str, enum.Enum):
    """Which kernel variant a layer calls (``tinyasc_<op>`` or ``tinyasc_opt_<op>``)."""

    PORTABLE = "portable"
    """Portable C99 (c/kernels): any compiler, TFLite Micro's reference loop order."""
    OPTIMIZED = "optimized"
    """c/opt + c/sparse: DSP (M4/M7) or Helium (M55) paths chosen at compile time, portable fallback."""


MB = 1 << 20


@dataclass(frozen=True, kw_only=True)
class TargetSpec:
    """How to build and run for one core."""

    core: Target
    """The core."""
    machine: str
    """QEMU machine (board) name."""
    isa: frozenset[IsaFeature]
    """Extensions the core has."""
    arch_flags: tuple[str, ...]
    """Code-generation flags for arm-none-eabi-gcc (CPU, Thumb, FPU, float ABI)."""
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

    def __post_init__(self) -> None:
        if self.clock_mhz <= 0:
            raise ValueError(f"{self.core.value}: clock must be positive")
        for name, (origin, length) in (("flash", self.flash), ("ram", self.ram), ("big_ram", self.big_ram)):
            if origin < 0 or length <= 0 or origin + length > 1 << 32:
                raise ValueError(f"{self.core.value}: {name} region 0x{origin:x}+0x{length:x} outside 32-bit memory")
        if (self.counter_addr is None) != (self.counter_hz is None):
            raise ValueError(f"{self.core.value}: counter address and frequency go together")

    @property
    def cflags(self) -> tuple[str, ...]:
        """Kept for callers of the harness: the architecture flags."""
        return self.arch_flags

    @property
    def backend(self) -> KernelBackend:
        """Every Cortex-M core here has DSP or Helium: the optimized library."""
        return KernelBackend.OPTIMIZED if self.isa & {IsaFeature.DSP, IsaFeature.MVE} else KernelBackend.PORTABLE


SPECS: dict[Target, TargetSpec] = {
    Target.CORTEX_M4: TargetSpec(
        core=Target.CORTEX_M4, machine="mps2-an386", isa=frozenset({IsaFeature.DSP, IsaFeature.FPU}),
        arch_flags=("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
        flash=(0x00000000, 4 * MB), ram=(0x20000000, 4 * MB), big_ram=(0x21000000, 16 * MB),
        clock_mhz=80.0, counter_addr=0x40028018, counter_hz=25e6,
    ),
    Target.CORTEX_M7: TargetSpec(
        core=Target.CORTEX_M7, machine="mps2-an500", isa=frozenset({IsaFeature.DSP, IsaFeature.FPU}),
        arch_flags=("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
        flash=(0x00000000, 4 * MB), ram=(0x20000000, 4 * MB), big_ram=(0x60000000, 16 * MB),
        clock_mhz=480.0, counter_addr=0x40028018, counter_hz=25e6,
    ),
    Target.CORTEX_M55: TargetSpec(
        core=Target.CORTEX_M55, machine="mps3-an547",
        isa=frozenset({IsaFeature.DSP, IsaFeature.MVE, IsaFeature.FPU}),
        arch_flags=("-mcpu=cortex-m55", "-mthumb", "-mfpu=auto", "-mfloat-abi=hard"),
        flash=(0x00000000, 512 * 1024), ram=(0x20000000, 512 * 1024), big_ram=(0x60000000, 64 * MB),
        clock_mhz=400.0, counter_addr=None, counter_hz=None,
    ),
}


def parse_library_target(value: str) -> LibraryTarget:
    """``--target`` value -> :class:`LibraryTarget`; an unknown name is an :class:`InputError`."""
    try:
        return LibraryTarget(value)
    except ValueError:
        raise InputError(None, f"unknown target {value!r} (choose from: "
                               f"{', '.join(t.value for t in LibraryTarget)})") from None
