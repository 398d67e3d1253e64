"""The one definition of compilers and flags for everything tinyasc compiles.

The shipped library's ``Makefile`` and ``CMakeLists.txt`` are written from these tuples, and
the host parity build and the Cortex-M harness compile with the flags the library records in
its ``library.json`` (which are these), so what is measured is what a user builds.
"""

from __future__ import annotations

import os
import shutil

from tinyasc.errors import InputError
from tinyasc.firmware_sim.target import SPECS, LibraryTarget

#: Language and warnings: the kernels are portable C99 and build without a warning.
C_STANDARD = "-std=c99"
WARNINGS = ("-Wall", "-Wextra", "-Wdouble-promotion")
#: -O2 for the kernels (-O3 unrolled without gain here); no FMA contraction, so the float front
#: end computes the same bits on every core and on the host.
OPTIMIZATION = ("-O2", "-ffp-contract=off")
#: Cortex-M builds put every function and object in its own section so the linker drops unused ones.
TARGET_SECTIONS = ("-ffunction-sections", "-fdata-sections")
TARGET_LDFLAGS = ("-Wl,--gc-sections",)
#: tinyasc's own builds add -Werror on top: a warning in generated code fails the test suite.
STRICT = ("-Werror",)

CROSS_PREFIX = "arm-none-eabi-"


def library_cflags(target: LibraryTarget) -> tuple[str, ...]:
    """Compiler flags of the shipped library for ``target`` (architecture first)."""
    core = target.core
    arch = () if core is None else SPECS[core].arch_flags
    sections = () if core is None else TARGET_SECTIONS
    return (*arch, *OPTIMIZATION, C_STANDARD, *WARNINGS, *sections)


def host_cflags() -> tuple[str, ...]:
    """Flags of a host build of any library directory (the parity check, the example on a PC)."""
    return (*OPTIMIZATION, C_STANDARD, *WARNINGS)


def find_compiler(cc: str | None = None) -> str:
    """Path of the host C compiler (``cc`` argument, ``$CC``, then ``cc``); InputError if missing."""
    name = cc or os.environ.get("CC") or "cc"
    path = shutil.which(name)
    if path is None:
        raise InputError(None, f"C compiler '{name}' not found on PATH (install gcc or set CC)")
    return path
