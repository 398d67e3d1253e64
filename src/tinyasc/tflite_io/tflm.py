"""The package's one TensorFlow Lite Micro runner: run a model, find its smallest arena.

TFLite Micro's Python interpreter runs TFLM's reference kernels, the integer semantics a
Cortex-M runs. Inference on a validated model runs in this process, with an arena large enough
for any model of its size. Arena probes are where TFLM can abort the process (a too-small arena
may hit a ``TFLITE_ABORT`` rather than an error return), so every probe runs in a child process,
under one policy: a probe that fails, crashes or exceeds :data:`PROBE_TIMEOUT_S` means "does not
fit". One child serves all probes of a bisection and is restarted after a crash, so a probe
costs an interpreter allocation, not a Python start.
"""

from __future__ import annotations

import logging
import select
import subprocess
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Granularity (bytes) of the smallest-arena search: the result is a multiple of it.
ARENA_GRANULARITY = 16
#: Largest arena tried before concluding that TFLM cannot run the model.
MAX_ARENA = 1 << 30
#: Seconds one probe may take before it counts as a failure.
PROBE_TIMEOUT_S = 120.0

_WORKER = r"""
import os, sys
import numpy as np
os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # TFLM prints every failed allocation
from tflite_micro.python.tflite_micro import runtime
path = sys.argv[1]
for line in sys.stdin:
    arena = int(line)
    try:
        it = runtime.Interpreter.from_file(path, arena_size=arena)
        d = it.get_input_details(0)
        it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), 0)
        it.invoke()
        ok = 1
    except Exception:
        ok = 0
    print(ok, arena, flush=True)
"""


def default_arena(path: str | Path) -> int:
    """An arena large enough to run the model: every activation tensor without reuse (an upper
    bound of what TFLM plans) plus 1 MiB of its own metadata, at least 10x the file and 4 MiB. (The
    file size alone is no bound: a 10-s input makes activations far larger than the weights.)"""
    from tinyasc.tflite_io import read_model

    model = read_model(path)
    activations = sum(t.nbytes for t in model.tensors if not t.is_const)
    return max(10 * Path(path).stat().st_size, 4 << 20, activations + (1 << 20))


def interpreter(path: str | Path, arena_size: int, *, preserve_all: bool = False):
    """TFLM's Python interpreter on ``path`` (``preserve_all``: keep every intermediate tensor)."""
    from tflite_micro.python.tflite_micro import runtime

    cfg = runtime.InterpreterConfig.kPreserveAllTensors if preserve_all else runtime.InterpreterConfig.kAllocationRecording
    return runtime.Interpreter.from_file(str(path), arena_size=int(arena_size), intrepreter_config=cfg)


def run(path: str | Path, inputs: np.ndarray, *, tensors: list[int] | None = None,
        arena_size: int | None = None) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Run TFLM on each integer input (the model's input type and shape); return the outputs
    ``(N, ...)`` and, for ``tensors``, their values per input.

    Keeping intermediate tensors needs more than the smallest arena (which :func:`min_arena` measures
    without them), and TFLM may crash rather than fail when short: with ``tensors`` the arena is at
    least :func:`default_arena`.
    """
    arena = arena_size or default_arena(path)
    if tensors:
        arena = max(arena, default_arena(path))
    it = interpreter(path, arena, preserve_all=bool(tensors))
    outs = []
    inter: dict[int, list[np.ndarray]] = {t: [] for t in tensors or []}
    for x in inputs:
        it.set_input(np.ascontiguousarray(x), 0)
        it.invoke()
        outs.append(np.array(it.get_output(0), copy=True))
        for t in inter:
            inter[t].append(np.array(it.GetTensor(t, 0)["tensor_data"], copy=True))
    return np.stack(outs), {t: np.stack(v) for t, v in inter.items()}


class ArenaProbe:
    """Answers "does TFLM allocate and invoke ``path`` in N bytes?" from a child process."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.proc: subprocess.Popen | None = None
        self.probes = 0
        self.crashes = 0

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _WORKER, self.path], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def fits(self, arena_size: int) -> bool:
        """One probe; a crash, a hang or a failed allocation/invoke is ``False``."""
        self.probes += 1
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        try:
            self.proc.stdin.write(f"{int(arena_size)}\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], PROBE_TIMEOUT_S)
            line = self.proc.stdout.readline() if ready else ""
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.crashes += 1
            self.close()
            return False
        return line.split()[0] == "1"

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream:
                    stream.close()
            self.proc = None

    def __enter__(self) -> "ArenaProbe":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fits(path: str | Path, arena_size: int) -> bool:
    """Whether TFLM allocates and invokes ``path`` within ``arena_size`` bytes (one isolated probe)."""
    with ArenaProbe(path) as probe:
        return probe.fits(arena_size)


def min_arena(path: str | Path, *, granularity: int = ARENA_GRANULARITY) -> int | None:
    """Smallest arena (a multiple of ``granularity`` bytes) in which TFLM allocates and invokes
    ``path``; None (with a warning) when even :data:`MAX_ARENA` does not do.

    TFLM reports its arena use only on stderr, so the size is found by bisection on success.
    """
    with ArenaProbe(path) as probe:
        hi = -(-max(64 * 1024, 10 * Path(path).stat().st_size) // granularity) * granularity
        while not probe.fits(hi):
            hi *= 2
            if hi > MAX_ARENA:
                log.warning("TFLM could not run %s even with a %d-byte arena", path, MAX_ARENA)
                return None
        lo = 0  # invariant: lo does not fit (or is 0), hi fits; both multiples of granularity
        while hi - lo > granularity:
            mid = (lo + hi) // 2 // granularity * granularity
            if probe.fits(mid):
                hi = mid
            else:
                lo = mid
        log.debug("TFLM arena of %s: %d B (%d probes, %d crashes)", path, hi, probe.probes, probe.crashes)
        return hi
