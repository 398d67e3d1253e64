"""Run an ELF on its QEMU board with the instruction-counting plugin; parse what it prints."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tinyasc.firmware_sim.harness.build import TargetBuild
from tinyasc.firmware_sim.harness.tools import RunError, run
from tinyasc.firmware_sim.target import SPECS

MARKER_SYMBOL = "tinyasc_layer_marker"



@dataclass(frozen=True, kw_only=True)
class RunOutput:
    outputs: list[bytes]
    stack_used: int | None
    counter_ticks: list[int]
    snapshots: list[dict[str, int]]
    total: dict[str, int] | None
    wall_s: float
    frontend_checksum: int | None = None  # tinyasc_frontend_checksum() of a build with the front end
    frontend_output: bytes | None = None  # its model input itself, from a build with TINYASC_FE_PRINT_OUTPUT


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


def parse_frontend(text: str) -> tuple[int | None, bytes | None]:
    """The ``TINYASC FE <checksum>`` and ``TINYASC FEOUT <hex>`` lines of a build that ran the front end."""
    checksum = output = None
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) == 3 and parts[:2] == ["TINYASC", "FE"]:
            checksum = int(parts[2])
        elif len(parts) == 3 and parts[:2] == ["TINYASC", "FEOUT"]:
            output = bytes.fromhex(parts[2])
    return checksum, output


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
    proc = run(["arm-none-eabi-nm", elf])
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
    fe_checksum, fe_output = parse_frontend(text)
    if proc.returncode != 0 or not done:
        raise RunError(f"{build.elf.name} on {spec.machine}: exit {proc.returncode}, "
                       f"output {text[-300:]!r} {proc.stderr.strip()[-300:]}")
    snaps, total = _parse_counts(counts_txt) if plugin is not None and counts_txt.is_file() else ([], None)
    return RunOutput(outputs=outputs, stack_used=stack, counter_ticks=ticks, snapshots=snaps, total=total,
                     wall_s=wall, frontend_checksum=fe_checksum, frontend_output=fe_output)


def function_profile(elf: Path, pcprof: Path) -> list[tuple[str, int]]:
    """Executed instructions per function from a plugin ``pcprof`` file (hot spots, most first)."""
    import bisect

    syms = []
    for line in run(["arm-none-eabi-nm", "-n", "-S", elf]).stdout.splitlines():
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
    proc = run([exe], timeout=timeout)
    outputs, _, _, done = parse_firmware_output(proc.stdout)
    if not done:
        raise RunError(f"{exe}: host run printed no DONE line")
    return outputs


