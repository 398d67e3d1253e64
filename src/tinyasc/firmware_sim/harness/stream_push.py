"""The streaming API's cost on an emulated core: instructions per microphone push, and at the clip's end.

A shipped library with a front end is built for its core with a main that feeds a compiled-in clip
through ``tinyasc_frontend_stream_push`` in chunks (as DMA half-buffers arrive), advances a
streamed model after each push where its frames are final (no lifted input ResNorm), then
finishes and classifies. The instruction-counting plugin snapshots around every push and around
the end, so the report gives per-push cost (mean, largest) and what is left when the last sample
arrives — the latency a listening device sees.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.errors import InputError
from tinyasc.firmware_sim.harness.build import build_target
from tinyasc.firmware_sim.harness.measure import library_sources
from tinyasc.firmware_sim.harness.qemu import run_qemu
from tinyasc.firmware_sim.harness.timing import TimingModel, instructions
from tinyasc.firmware_sim.harness.tools import build_plugin, check_toolchain
from tinyasc.firmware_sim.library import FRONTEND_DIR, LibraryManifest
from tinyasc.firmware_sim.target import SPECS

MAIN = r"""
/* Streaming cost: markers (-3,0)/(-3,1) around every push, (-4,0)/(-4,1) around finish + classify. */
#include <stdint.h>
#include "model.h"
#include "tinyasc_frontend.h"
#include "frontend_golden_pcm.h"
#include "semihost.h"

uint32_t tinyasc_stack_used(void);

__attribute__((noinline, noipa, used)) void tinyasc_layer_marker(int layer, int is_end)
{
    __asm__ volatile("" : : "r"(layer), "r"(is_end) : "memory");
}

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
    sh_write0("TINYASC OUT 0 ");
    sh_write_hex(out, sizeof(out));
    sh_write0("\nTINYASC STACK ");
    sh_write_u32(tinyasc_stack_used());
    sh_write0("\nTINYASC DONE\n");
    return 0;
}
"""


def measure_stream_push(lib_dir: str | Path, *, out_dir: str | Path, chunk: int = 512, seed: int = 0,
                        timeout: float = 900) -> dict[str, Any]:
    """Per-push and end-of-clip instructions of the library's streaming chain on its own core."""
    from tinyasc.firmware_sim.frontend import write_golden_run

    check_toolchain()
    lib_dir, out_dir = Path(lib_dir).resolve(), Path(out_dir)
    manifest = LibraryManifest.load(lib_dir)
    manifest.verify(lib_dir)
    core = manifest.target.core
    if core is None or not manifest.frontend:
        raise InputError(lib_dir, "stream cost needs a Cortex-M library with a front end")
    if chunk < 1:
        raise InputError(None, f"chunk must be >= 1 sample, got {chunk}")
    pcm = (np.random.default_rng(seed).normal(size=manifest.frontend_clip_samples) * 3000).astype(np.int16)
    gold = out_dir / "stream_pcm"
    srcs = write_golden_run(gold, pcm)
    main = out_dir / "stream_main.c"
    out_dir.mkdir(parents=True, exist_ok=True)
    main.write_text(MAIN.replace("CHUNK", str(int(chunk))))
    src = library_sources(lib_dir, manifest)
    fe_dir = lib_dir / FRONTEND_DIR
    src = dataclasses.replace(src, include_dirs=(*src.include_dirs, fe_dir, gold))
    build = build_target(src, core, out_dir / core.value, main_source=main, profile=False, name="stream",
                         extra_sources=[lib_dir / "model.c", gold / srcs[1]])
    run = run_qemu(build, out_dir / core.value, plugin=build_plugin(out_dir / "plugin"), timeout=timeout)
    snaps = run.snapshots
    if len(snaps) < 4 or len(snaps) % 2:
        raise RuntimeError(f"unexpected marker count {len(snaps)}")
    model = TimingModel.load(core)

    def cost(a: dict, b: dict) -> tuple[int, float]:
        c = {k: b.get(k, 0) - a.get(k, 0) for k in b}
        return instructions(c), model.cycles(c)

    pushes = [cost(snaps[i], snaps[i + 1]) for i in range(0, len(snaps) - 2, 2)]
    end_i, end_c = cost(snaps[-2], snaps[-1])
    clock = SPECS[core].clock_mhz
    instr = [p[0] for p in pushes]
    return {"target": core.value, "chunk_samples": int(chunk), "pushes": len(pushes),
            "push_instructions_mean": statistics.mean(instr), "push_instructions_max": max(instr),
            "push_ms_max": max(p[1] for p in pushes) / (clock * 1e3),
            "push_ms_total": sum(p[1] for p in pushes) / (clock * 1e3),
            "push_budget_ms": 1000.0 * chunk / 16000.0,
            "end_instructions": end_i, "end_ms": end_c / (clock * 1e3), "clock_mhz": clock,
            "stack_bytes": run.stack_used, "output": run.outputs[0].hex() if run.outputs else None}
