"""The C front end alone on an emulated core: exact instructions, estimated cycles, stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyasc.firmware_sim import toolchain
from tinyasc.firmware_sim.cmsis_dsp import CmsisDsp
from tinyasc.firmware_sim.frontend import C_DIR as FE_C_DIR, TARGET_MAIN, FrontendArtifact
from tinyasc.firmware_sim.harness.build import FirmwareSources, build_target
from tinyasc.firmware_sim.harness.qemu import run_qemu
from tinyasc.firmware_sim.harness.timing import TimingModel, instructions
from tinyasc.firmware_sim.harness.tools import build_plugin, check_toolchain
from tinyasc.firmware_sim.target import SPECS, LibraryTarget, Target


def run_frontend_target(artifact: FrontendArtifact, target: str, work_dir: str | Path, *,
                        cmsis_dsp: CmsisDsp | None = None, with_output: bool = False,
                        float_output: bool = False) -> dict[str, Any]:
    """Build the front end for a Cortex-M core, run it in QEMU and count its instructions.

    Needs an artifact written with ``golden_pcm``. Uses the latency harness
    (startup code, semihosting, board memory maps and the
    instruction-counting plugin). Returns the target's output checksum (compare with
    :func:`output_checksum` of the host result: the front end is bit-identical when equal), the
    exact instruction count, the harness's cycle estimate and the stack high-water mark.

    ``cmsis_dsp``: the complex FFT from that CMSIS-DSP tree (``TINYASC_FE_CMSIS_DSP``; Helium on the M55).
    ``with_output``: also return the model input itself (``"output"``, bytes in memory order). ``"elf"`` is the
    program that ran. ``float_output``: the checksum and output are those of the float log-mel
    (``tinyasc_frontend_features``, n_mels x n_frames float32 in memory order) instead of the model input.
    """
    if not artifact.run_sources:
        raise ValueError("the artifact has no compiled-in clip (write_frontend(..., golden_pcm=...))")
    check_toolchain()
    t = Target(target)
    work = Path(work_dir)
    # sections per function and object, as a shipped Cortex-M library builds (--gc-sections keeps only the tables
    # of the FFT size used from CMSIS-DSP's all-sizes table files)
    defines = (*(("TINYASC_FE_PRINT_OUTPUT=1",) if with_output else ()),
               *(("TINYASC_FE_FLOAT_OUTPUT=1",) if float_output else ()))
    src = FirmwareSources(model_dir=artifact.out_dir, defines=defines,
                          cflags=(*toolchain.library_cflags(LibraryTarget.PORTABLE), *toolchain.TARGET_SECTIONS,
                                  *(cmsis_dsp.cflags() if cmsis_dsp is not None else ())))
    extra = [*(artifact.out_dir / s for s in (*artifact.sources, *artifact.run_sources)),
             *(cmsis_dsp.sources if cmsis_dsp is not None else ())]
    name = ("frontend_cmsis_dsp" if cmsis_dsp is not None else "frontend") + ("_float" if float_output else "")
    build = build_target(src, t, work / t.value, main_source=FE_C_DIR / TARGET_MAIN, name=name,
                         extra_sources=extra)
    run = run_qemu(build, work / t.value, plugin=build_plugin(work / "plugin"))
    if len(run.outputs) != 1 + with_output or len(run.snapshots) < 2:
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
        "cmsis_dsp": cmsis_dsp is not None,
        "elf": build.elf,
        **({"output": run.outputs[1]} if with_output else {}),
    }
