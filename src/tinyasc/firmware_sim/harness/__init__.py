"""The Cortex-M latency harness: arm-none-eabi-gcc builds, QEMU runs with an exact instruction
counter, a per-core timing model, ELF sizes and reports.

Pipeline (:func:`measure_library`)::

    library DIR (asc-firmware --target) --arm-none-eabi-gcc, library.json's flags--> ELF
        --qemu-system-arm + plugin--> per-layer instruction counts by class --timing model-->
        estimated cycles / latency

The counts are exact (a TCG plugin adds one per executed guest instruction, by class, and
snapshots the counters whenever the guest enters ``tinyasc_layer_marker``). QEMU models no
cycles, so cycles are **estimated** from the executed instruction mix with a per-core table of
cycles per instruction class (``targets/timing/<core>.json``, from the cores' Technical
Reference Manuals, zero-wait-state memory): every report says so and carries the table.

Nothing in generation (generator, library, front end) imports this package.
"""

from tinyasc.firmware_sim.harness.build import (C_DIR, SELFTEST_DIR, STACK_SIZE, FirmwareSources, TargetBuild,
                                                build_host, build_target, selftest_sources, write_golden_header)
from tinyasc.firmware_sim.harness.measure import (MAC_OPS, default_golden, library_sources, measure_library,
                                                  measure_sources, measure_tflite)
from tinyasc.firmware_sim.harness.memory import MemoryReport, elf_sections, symbol_sizes
from tinyasc.firmware_sim.harness.qemu import (MARKER_SYMBOL, RunOutput, function_profile, marker_address,
                                               parse_firmware_output, run_host, run_qemu)
from tinyasc.firmware_sim.harness.report import (LatencyReport, LayerInfo, LayerLatency, analyze, compare_outputs,
                                                 report_markdown, write_report)
from tinyasc.firmware_sim.harness.timing import CLASSES, LATENCY_NOTE, XFER, TimingModel, diff_counts, instructions
from tinyasc.firmware_sim.harness.tools import (APT_PACKAGES, TARGETS_DIR, ParityError, RunError, ToolchainError,
                                                build_plugin, check_toolchain, run)
from tinyasc.firmware_sim.target import SPECS, Target, TargetSpec

__all__ = [
    "APT_PACKAGES", "CLASSES", "C_DIR", "FirmwareSources", "LATENCY_NOTE", "LatencyReport", "LayerInfo",
    "LayerLatency", "MAC_OPS", "MARKER_SYMBOL", "MemoryReport", "ParityError", "RunError", "RunOutput", "SELFTEST_DIR",
    "SPECS", "STACK_SIZE", "TARGETS_DIR", "Target", "TargetBuild", "TargetSpec", "TimingModel", "ToolchainError",
    "XFER", "analyze", "build_host", "build_plugin", "build_target", "check_toolchain", "compare_outputs",
    "default_golden", "diff_counts", "elf_sections", "function_profile", "instructions", "library_sources",
    "marker_address", "measure_library", "measure_sources", "measure_tflite", "parse_firmware_output",
    "report_markdown", "run", "run_host", "run_qemu", "selftest_sources", "symbol_sizes", "write_golden_header",
    "write_report",
]
