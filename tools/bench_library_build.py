"""Benchmark: how long the shipped C library takes to build, and what the compiler says about it.

    python tools/bench_library_build.py LIB_DIR [LIB_DIR ...] --out OUT [--repeat 3]

``LIB_DIR`` is a directory ``asc-firmware --target`` wrote (``runs/quick/firmware/cortex-m4``). Each is copied to a
scratch directory and built from clean with its own ``Makefile``, exactly as a user builds it: ``make host`` (the
static library and the example for this machine) and ``make target`` (the same for the library's core with
arm-none-eabi-gcc; skipped for ``portable`` or without that compiler). Reports wall time per build (median of
``--repeat`` clean builds, the build run with ``make -j1``), the number of compiler warnings (``-Wall -Wextra`` are in
the library's own flags) and the sources compiled. Writes ``OUT/bench_library_build.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tinyasc import atomic
from tinyasc.metrics import markdown_table

WARNING = re.compile(r"\bwarning:")


def _build(src: Path, goal: str, repeat: int) -> dict[str, Any]:
    times, warnings, log = [], 0, ""
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "lib"
            shutil.copytree(src, work, ignore=shutil.ignore_patterns("build"))
            t0 = time.perf_counter()
            proc = subprocess.run(["make", "-j1", goal], cwd=work, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            log = proc.stdout + proc.stderr
            if proc.returncode != 0:
                return {"goal": goal, "ok": False, "error": log[-2000:]}
            warnings = len(WARNING.findall(log))
    return {"goal": goal, "ok": True, "seconds_median": statistics.median(times), "seconds": times, "warnings": warnings,
            "compiler_invocations": sum(1 for line in log.splitlines() if " -c " in line)}


def bench(lib: Path, repeat: int) -> dict[str, Any]:
    manifest = json.loads((lib / "library.json").read_text())
    target = manifest.get("target", "portable")
    rows = [_build(lib, "host", repeat)]
    if target != "portable" and shutil.which("arm-none-eabi-gcc"):
        rows.append(_build(lib, "target", repeat))
    return {"library": str(lib), "target": target, "sources": len(manifest.get("sources", [])), "builds": rows}


def markdown(result: dict[str, Any]) -> str:
    rows = []
    for lib in result["libraries"]:
        for b in lib["builds"]:
            rows.append([lib["library"], lib["target"], b["goal"], str(lib["sources"]),
                         f"{b['seconds_median']:.2f}" if b["ok"] else "failed", str(b.get("warnings", "-"))])
    return (f"# Shipped library build time ({result['machine']})\n\nCommand: `{result['command']}`\n\n"
            + markdown_table(["library", "target", "make goal", "sources", "seconds (median, clean, -j1)", "warnings"], rows)
            + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("libraries", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    for lib in args.libraries:
        if not (lib / "library.json").is_file():
            print(f"{lib}: not a library asc-firmware wrote (no library.json)", file=sys.stderr)
            return 2
    load = os.getloadavg()[0]
    result = {"command": " ".join(["python tools/bench_library_build.py", *(argv if argv is not None else sys.argv[1:])]),
              "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores, load average {load:.1f} at start",
              "libraries": [bench(lib, args.repeat) for lib in args.libraries]}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(args.out / "bench_library_build.json", result)
    atomic.write_text(args.out / "bench_library_build.md", markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
