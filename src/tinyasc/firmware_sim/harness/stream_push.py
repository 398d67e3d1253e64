"""The streaming API's cost on an emulated core: instructions per microphone push, and at the clip's end.

A shipped library with a front end is built for its core with a main that feeds a compiled-in clip
through ``tinyasc_frontend_stream_push`` in chunks (as DMA half-buffers arrive), advances a
streamed model after each push where its frames are final (no lifted input ResNorm), then
finishes and classifies. The instruction-counting plugin snapshots around every push and around
the end, so the report gives per-push cost (mean, largest) and what is left when the last sample
arrives — the latency a listening device sees.

:func:`measure_listen` does the same for continuous listening (``tinyasc_listen.h``): a stream of
several clip lengths pushed through ``tinyasc_stream_push``, classified with
``tinyasc_stream_classify`` every ``every`` samples once a window is held and at the end; it reports
the pushes, the classifications, and from the ELF the listening state's and scratch's RAM and the
whole program's (data + bss + stack high-water mark: arena, model input, kernel scratch included).
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.errors import InputError
from tinyasc.firmware_sim.harness.build import TargetBuild, build_target
from tinyasc.firmware_sim.harness.measure import library_sources
from tinyasc.firmware_sim.harness.memory import MemoryReport, symbol_sizes
from tinyasc.firmware_sim.harness.qemu import RunOutput, run_qemu
from tinyasc.firmware_sim.harness.timing import TimingModel, diff_counts, instructions
from tinyasc.firmware_sim.harness.tools import build_plugin, check_toolchain
from tinyasc.firmware_sim.library import FRONTEND_DIR, LibraryManifest
from tinyasc.firmware_sim.target import SPECS

#: What both measurement mains share after their includes: the marker the plugin snapshots at, and the
#: report of the output, the stack high-water mark and the end marker, as the harness parses them.
_MAIN_COMMON = r"""
uint32_t tinyasc_stack_used(void);
#define REPORT_OUTPUT                              \
    do {                                           \
        sh_write0("TINYASC OUT 0 ");               \
        sh_write_hex(out, sizeof(out));            \
        sh_write0("\nTINYASC STACK ");             \
        sh_write_u32(tinyasc_stack_used());        \
        sh_write0("\nTINYASC DONE\n");             \
        return 0;                                  \
    } while (0)

__attribute__((noinline, noipa, used)) void tinyasc_layer_marker(int layer, int is_end)
{
    __asm__ volatile("" : : "r"(layer), "r"(is_end) : "memory");
}
"""

MAIN = r"""
/* Streaming cost: markers (-3,0)/(-3,1) around every push, (-4,0)/(-4,1) around finish + classify. */
#include <stdint.h>
#include "model.h"
#include "tinyasc_frontend.h"
#include "frontend_golden_pcm.h"
#include "semihost.h"

""" + _MAIN_COMMON + r"""

#if defined(TINYASC_STREAMED) && !TINYASC_FE_INPUT_RESNORM
#define ADVANCE 1
#else
#define ADVANCE 0
#endif

static float scratch[TINYASC_FE_SCRATCH_FLOATS];
static tinyasc_frontend_stream st;
static tinyasc_output_t out[TINYASC_OUTPUT_SIZE];

int main(void)
{
    int32_t pos = 0;
    tinyasc_frontend_stream_init(&st);
#if ADVANCE
    tinyasc_model_stream_begin();
#endif
    while (pos < TINYASC_FE_GOLDEN_SAMPLES) {
        const int32_t n = pos + CHUNK <= TINYASC_FE_GOLDEN_SAMPLES ? CHUNK : TINYASC_FE_GOLDEN_SAMPLES - pos;
        int frames;
        tinyasc_layer_marker(-3, 0);
        frames = tinyasc_frontend_stream_push(&st, tinyasc_fe_golden_pcm + pos, n, scratch, tinyasc_model_input_buffer());
#if ADVANCE
        tinyasc_model_stream_advance(frames);
#else
        (void)frames;
#endif
        tinyasc_layer_marker(-3, 1);
        pos += n;
    }
    tinyasc_layer_marker(-4, 0);
    tinyasc_frontend_stream_finish(&st, scratch, tinyasc_model_input_buffer());
#if ADVANCE
    if (tinyasc_model_stream_end(out) != 0) return 4;
#else
    if (tinyasc_model_invoke(tinyasc_model_input_buffer(), out) != 0) return 4;
#endif
    tinyasc_layer_marker(-4, 1);
    REPORT_OUTPUT;
}
"""


def _open_library(lib_dir: str | Path, what: str) -> tuple[Path, LibraryManifest]:
    """A verified Cortex-M library with a front end (else one-line InputError naming ``what``)."""
    check_toolchain()
    lib_dir = Path(lib_dir).resolve()
    manifest = LibraryManifest.load(lib_dir)
    manifest.verify(lib_dir)
    if manifest.target.core is None or not manifest.frontend:
        raise InputError(lib_dir, f"{what} needs a Cortex-M library with a front end")
    return lib_dir, manifest


def _build_and_run(lib_dir: Path, manifest: LibraryManifest, out_dir: Path, main_text: str, pcm: np.ndarray,
                   name: str, timeout: float) -> tuple[TargetBuild, RunOutput]:
    """The library's sources + ``main_text`` + ``pcm`` compiled in, built for its core and run on QEMU
    with the counting plugin."""
    from tinyasc.firmware_sim.frontend import write_golden_run

    core = manifest.target.core
    gold = out_dir / f"{name}_pcm"
    srcs = write_golden_run(gold, pcm)
    main = out_dir / f"{name}_main.c"
    out_dir.mkdir(parents=True, exist_ok=True)
    main.write_text(main_text)
    src = library_sources(lib_dir, manifest)
    src = dataclasses.replace(src, include_dirs=(*src.include_dirs, lib_dir / FRONTEND_DIR, gold))
    build = build_target(src, core, out_dir / core.value, main_source=main, profile=False, name=name,
                         extra_sources=[lib_dir / "model.c", gold / srcs[1]])
    return build, run_qemu(build, out_dir / core.value, plugin=build_plugin(out_dir / "plugin"), timeout=timeout)


def _span_costs(snaps: list[dict[str, int]], core) -> list[tuple[int, float]]:
    """(instructions, estimated cycles) between each pair of marker snapshots, in order."""
    model = TimingModel.load(core)
    return [(instructions(c), model.cycles(c)) for c in (diff_counts(a, b) for a, b in zip(snaps[::2], snaps[1::2]))]


def _push_stats(pushes: list[tuple[int, float]], clock_mhz: float, chunk: int, rate: int) -> dict[str, Any]:
    """The pushes' instructions (mean, largest) and estimated milliseconds (largest, total) against a push's
    real-time budget."""
    ms = 1.0 / (clock_mhz * 1e3)
    return {"pushes": len(pushes), "push_instructions_mean": statistics.mean(p[0] for p in pushes),
            "push_instructions_max": max(p[0] for p in pushes), "push_ms_max": max(p[1] for p in pushes) * ms,
            "push_ms_total": sum(p[1] for p in pushes) * ms, "push_budget_ms": 1000.0 * chunk / rate}


def measure_stream_push(lib_dir: str | Path, *, out_dir: str | Path, chunk: int = 512, seed: int = 0,
                        timeout: float = 900) -> dict[str, Any]:
    """Per-push and end-of-clip instructions of the library's streaming chain on its own core."""
    lib_dir, manifest = _open_library(lib_dir, "stream cost")
    core = manifest.target.core
    if chunk < 1:
        raise InputError(None, f"chunk must be >= 1 sample, got {chunk}")
    pcm = (np.random.default_rng(seed).normal(size=manifest.frontend_clip_samples) * 3000).astype(np.int16)
    build, run = _build_and_run(lib_dir, manifest, Path(out_dir), MAIN.replace("CHUNK", str(int(chunk))), pcm,
                                "stream", timeout)
    snaps = run.snapshots
    if len(snaps) < 4 or len(snaps) % 2:
        raise RuntimeError(f"unexpected marker count {len(snaps)}")
    costs = _span_costs(snaps, core)
    pushes, (end_i, end_c) = costs[:-1], costs[-1]
    clock = SPECS[core].clock_mhz
    rate = _frontend_defines(lib_dir / FRONTEND_DIR)["SAMPLE_RATE"]
    return {"target": core.value, "chunk_samples": int(chunk), **_push_stats(pushes, clock, chunk, rate),
            "end_instructions": end_i, "end_ms": end_c / (clock * 1e3), "clock_mhz": clock,
            "stack_bytes": run.stack_used, "output": run.outputs[0].hex() if run.outputs else None}


LISTEN_MAIN = r"""
/* Listening cost: markers (-3,0)/(-3,1) around every push, (-5,0)/(-5,1) around every classify. */
#include <stdint.h>
#include "model.h"
#include "tinyasc_listen.h"
#include "frontend_golden_pcm.h"
#include "semihost.h"

""" + _MAIN_COMMON + r"""

static tinyasc_output_t out[TINYASC_OUTPUT_SIZE];

int main(void)
{
    int32_t pos = 0, last = 0;
    int held = 0, label = -1;
    while (pos < TINYASC_FE_GOLDEN_SAMPLES) {
        const int32_t n = pos + CHUNK <= TINYASC_FE_GOLDEN_SAMPLES ? CHUNK : TINYASC_FE_GOLDEN_SAMPLES - pos;
        tinyasc_layer_marker(-3, 0);
        held = tinyasc_stream_push(tinyasc_fe_golden_pcm + pos, n);
        tinyasc_layer_marker(-3, 1);
        pos += n;
        if (held == TINYASC_FE_N_FRAMES && (pos - last >= EVERY || pos == TINYASC_FE_GOLDEN_SAMPLES)) {
            tinyasc_layer_marker(-5, 0);
            label = tinyasc_stream_classify(out);
            tinyasc_layer_marker(-5, 1);
            last = pos;
        }
    }
    if (label < 0) return 4;
    REPORT_OUTPUT;
}
"""


def measure_listen(lib_dir: str | Path, *, out_dir: str | Path, seconds: float = 3.0, chunk: int = 512,
                   every: int | None = None, seed: int = 0, timeout: float = 900) -> dict[str, Any]:
    """Continuous listening on the library's own core: per push, per classification, RAM; and the
    stream (int16) it was fed, so the caller can check the last window's output."""
    lib_dir, manifest = _open_library(lib_dir, "listening cost")
    core = manifest.target.core
    fe = _frontend_defines(lib_dir / FRONTEND_DIR)
    rate = fe["SAMPLE_RATE"]
    every = rate if every is None else every
    if chunk < 1 or every < 1:
        raise InputError(None, f"chunk and every must be >= 1 sample, got {chunk} and {every}")
    n = int(round(seconds * rate))
    kinds = _listen_kinds(n, chunk, every, fe)
    if "classify" not in kinds:
        raise InputError(None, f"a stream of {seconds:g} s is shorter than one window of the model")
    pcm = (np.random.default_rng(seed).normal(size=n) * 3000).astype(np.int16)
    main = LISTEN_MAIN.replace("CHUNK", str(int(chunk))).replace("EVERY", str(int(every)))
    build, run = _build_and_run(lib_dir, manifest, Path(out_dir), main, pcm, "listen", timeout)
    # the marker pairs alternate between pushes and classifications in program order
    costs = _span_costs(run.snapshots, core)
    if len(kinds) != len(costs):
        raise RuntimeError(f"unexpected marker count {len(run.snapshots)} for {len(kinds)} events")
    pushes = [c for k, c in zip(kinds, costs) if k == "push"]
    classes = [c for k, c in zip(kinds, costs) if k == "classify"]
    clock = SPECS[core].clock_mhz
    ms = 1.0 / (clock * 1e3)
    ram = symbol_sizes(build.elf)
    mem = MemoryReport.from_elf(build, run.stack_used)
    audio_s = n / rate
    return {"target": core.value, "chunk_samples": int(chunk), "every_samples": int(every),
            "stream_seconds": audio_s, **_push_stats(pushes, clock, chunk, rate),
            "classifications": len(classes), "classify_instructions_mean": statistics.mean(c[0] for c in classes),
            "classify_ms_mean": statistics.mean(c[1] for c in classes) * ms,
            "ms_per_audio_second": (sum(p[1] for p in pushes) * ms) / audio_s
            + statistics.mean(c[1] for c in classes) * ms * rate / every,
            "state_bytes": ram.get("listen_state", 0), "scratch_bytes": ram.get("listen_scratch", 0),
            "ram_bytes": mem.ram_bytes, "flash_bytes": mem.flash_bytes,
            "clock_mhz": clock, "stack_bytes": run.stack_used,
            "output": run.outputs[0].hex() if run.outputs else None, "pcm": pcm}


def _frontend_defines(frontend_dir: Path) -> dict[str, int]:
    """The shipped front end's integer constants (``frontend_tables.h``) the listening schedule needs."""
    import re

    text = (frontend_dir / "frontend_tables.h").read_text()
    out = {}
    for k in ("SAMPLE_RATE", "WIN_LENGTH", "HOP", "N_FRAMES"):
        m = re.search(rf"#define TINYASC_FE_{k} (\d+)", text)
        if m is None:
            raise InputError(frontend_dir / "frontend_tables.h", f"no TINYASC_FE_{k}")
        out[k] = int(m.group(1))
    return out


def _listen_kinds(n: int, chunk: int, every: int, fe: dict[str, int]) -> list[str]:
    """The marker sequence LISTEN_MAIN produces: a push per chunk, then a classify wherever a window is
    held (``WIN_LENGTH + (N_FRAMES - 1) * HOP`` samples in) and ``every`` samples have passed, or at the end."""
    full = fe["WIN_LENGTH"] + (fe["N_FRAMES"] - 1) * fe["HOP"]
    kinds, pos, last = [], 0, 0
    while pos < n:
        pos += min(chunk, n - pos)
        kinds.append("push")
        if pos >= full and (pos - last >= every or pos == n):
            kinds.append("classify")
            last = pos
    return kinds
