"""The C front end alone on an emulated core: exact instructions, estimated cycles, stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyasc.firmware_sim.frontend import C_DIR as FE_C_DIR, TARGET_MAIN, FrontendArtifact
from tinyasc.firmware_sim.harness.build import FirmwareSources, build_target
from tinyasc.firmware_sim.harness.qemu import run_qemu
from tinyasc.firmware_sim.harness.timing import TimingModel, instructions
from tinyasc.firmware_sim.harness.tools import build_plugin, check_toolchain
from tinyasc.firmware_sim.target import SPECS, Target


def run_frontend_target(artifact: FrontendArtifact, target: str, work_dir: str | Path) -> dict[str, Any]:
    """Build the front end for a Cortex-M core, run it in QEMU and count its instructions.

    Needs an artifact written with ``golden_pcm``. Uses the latency harness
    (startup code, semihosting, board memory maps and the
    instruction-counting plugin). Returns the target's output checksum (compare with
    :func:`output_checksum` of the host result: the front end is bit-identical when equal), the
    exact instruction count, the harness's cycle estimate and the stack high-water mark.
    """
    if not artifact.run_sources:
        raise ValueError("the artifact has no compiled-in clip (write_frontend(..., golden_pcm=...))")
    check_toolchain()
    t = Target(target)
    work = Path(work_dir)
    src = FirmwareSources(model_dir=artifact.out_dir)
    build = build_target(
        src, t, work / t.value, main_source=FE_C_DIR / TARGET_MAIN, name="frontend",
        extra_sources=[artifact.out_dir / s for s in (*artifact.sources, *artifact.run_sources)],
    )
    run = run_qemu(build, work / t.value, plugin=build_plugin(work / "plugin"))
    if len(run.outputs) != 1 or len(run.snapshots) < 2:
        raise RuntimeError(f"{t.value}: unexpected front end run output ({len(run.outputs)} outputs, "
                           f"{len(run.snapshots)} marker hits)")
    a, b = run.snapshots[0], run.snapshots[1]
    counts = {k: b.get(k, 0) - a.get(k, 0) for k in b}
    cycles = TimingModel.load(t).cycles(counts)
    spec = SPECS[t]
    return {
        "target": t.value,
        "checksum": int.from_bytes(run.outputs[0], "little"),
        "instructions": instructions(counts),
        "cycles_estimate": cycles,
        "clock_mhz": spec.clock_mhz,
        "latency_ms_estimate": cycles / (spec.clock_mhz * 1e3),
        "stack_bytes": run.stack_used,
        "classes": {k: v for k, v in counts.items() if v},
    }
