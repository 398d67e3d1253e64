"""Compile a generated firmware directory for the host with the system C compiler."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Sequence

from tinyasc.errors import InputError
from tinyasc.firmware_sim.toolchain import STRICT, find_compiler, host_cflags

log = logging.getLogger(__name__)

__all__ = ["build_host", "find_compiler"]


def build_host(out_dir: str | Path, *, cc: str | None = None, dump: bool = False,
               extra_cflags: Sequence[str] = ()) -> Path:
    """Build ``out_dir/build/tinyasc_host`` (``tinyasc_host_dump`` with ``dump``: -DTINYASC_DUMP)."""
    out_dir = Path(out_dir)
    if not (out_dir / "model.c").is_file():
        raise InputError(out_dir, "no model.c: not a generated firmware directory")
    compiler = find_compiler(cc)
    build = out_dir / "build"
    build.mkdir(exist_ok=True)
    exe = build / ("tinyasc_host_dump" if dump else "tinyasc_host")
    sources = sorted(str(p) for p in (out_dir / "kernels").glob("*.c"))
    sources += [str(out_dir / "model.c"), str(out_dir / "main_host.c")]
    cmd = [compiler, *host_cflags(), *STRICT, f"-I{out_dir / 'include'}", f"-I{out_dir}", *extra_cflags]
    if dump:
        cmd.append("-DTINYASC_DUMP")
    cmd += [*sources, "-o", str(exe)]
    log.debug("build: %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"host build failed ({' '.join(cmd[:6])} ...):\n{proc.stderr[-4000:]}")
    return exe
