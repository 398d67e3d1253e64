"""The Cortex-M toolchain and QEMU: presence checks, subprocess runs, the counting plugin."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from tinyasc.errors import InputError

TARGETS_DIR = Path(__file__).resolve().parent.parent / "targets"
PLUGIN_SOURCE = TARGETS_DIR / "plugin" / "tinyasc_count.c"

#: apt package that provides each required program.
APT_PACKAGES: dict[str, str] = {
    "arm-none-eabi-gcc": "gcc-arm-none-eabi",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "gcc": "gcc",
}
NEWLIB_PACKAGE = "libnewlib-arm-none-eabi"


class ToolchainError(InputError):
    """A required program is missing; the message names the apt packages to install."""


class ParityError(Exception):
    """The target's outputs differ from the host build's: the latency would be meaningless."""


class RunError(Exception):
    """The firmware faulted, timed out or printed nothing usable under QEMU."""



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


def run(cmd: Sequence[str], *, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
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
        run(["gcc", "-O2", "-shared", "-fPIC", "-Wall", "-o", tmp, PLUGIN_SOURCE])
        tmp.replace(so)
    return so


