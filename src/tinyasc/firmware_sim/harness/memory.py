"""Flash and RAM of a target build, read from its ELF (sections, symbols, measured stack)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyasc.firmware_sim.harness.build import STACK_SIZE, TargetBuild
from tinyasc.firmware_sim.harness.tools import run



def elf_sections(elf: Path) -> dict[str, int]:
    proc = run(["arm-none-eabi-size", "-A", elf])
    out: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


#: Symbols that hold test vectors, not firmware: excluded from the flash figure.
TEST_DATA_SYMBOLS = ("tinyasc_golden_input", "tinyasc_fe_golden_pcm")


def symbol_sizes(elf: Path) -> dict[str, int]:
    proc = run(["arm-none-eabi-nm", "-S", elf])
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


