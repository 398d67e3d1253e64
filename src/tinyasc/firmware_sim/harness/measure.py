"""Measure a shipped library on an emulated core: ``asc-latency DIR`` and ``asc-latency MODEL --target``.

The harness compiles exactly the sources ``library.json`` lists, with its flags, plus its own
startup, semihosting and main (the only files that are not the user's), runs them on QEMU
with the counting plugin, and requires the target's outputs to equal the host build's of the
same directory (and TensorFlow Lite Micro's, when the model file is at hand).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tinyasc.errors import InputError
from tinyasc.firmware_sim import cmsis_dsp
from tinyasc.firmware_sim.harness.build import FirmwareSources, build_host, build_target, write_golden_header
from tinyasc.firmware_sim.harness.memory import MemoryReport
from tinyasc.firmware_sim.harness.qemu import run_host, run_qemu
from tinyasc.firmware_sim.harness.report import LatencyReport, LayerInfo, analyze, compare_outputs
from tinyasc.firmware_sim.harness.timing import LATENCY_NOTE, TimingModel, instructions
from tinyasc.firmware_sim.harness.tools import ParityError, build_plugin, check_toolchain
from tinyasc.firmware_sim.library import LibraryManifest, sha256, write_library
from tinyasc.firmware_sim.target import SPECS, LibraryTarget, Target

log = logging.getLogger(__name__)

#: Operators whose MACs the report counts (element-wise "MACs" are not multiply-accumulates).
MAC_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})


def default_golden(input_size: int, n: int = 1, seed: int = 0, dtype: Any = np.int8) -> np.ndarray:
    """Deterministic golden inputs: seeded uniform noise over the whole range of ``dtype`` (int8 or int16)."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    return rng.integers(info.min, info.max + 1, size=(n, input_size), dtype=np.int64).astype(dtype)


def marker_sequence(art) -> list[int] | None:
    """Layers in the order their profiling markers fire in one inference: None (each once) unless the
    model is streamed, where the trunk and the pooling's accumulation run once per step, then the
    pooling's final requantization and the head."""
    t = art.tiling
    if not t:
        return None
    stepped = [*t["trunk_layers"], t["pool_layer"]]
    return stepped * int(t["steps"]) + [t["pool_layer"], *t["head_layers"]]


def measure_sources(*, model_name: str, target: Target, sources: FirmwareSources, golden: np.ndarray | None,
                    n_layers: int, work_dir: Path, layers: Sequence[LayerInfo] | None = None,
                    clock_mhz: float | None = None, kernels: str = "optimized", sparse: bool = False,
                    frontend_sources: Sequence[Path] = (), frontend_includes: Sequence[Path] = (),
                    timeout: float = 600, reference: list[bytes] | None = None,
                    io_dtype: Any = np.int8, sequence: Sequence[int] | None = None,
                    frontend_check: FrontendCheck | None = None, frontend_cflags: Sequence[str] = ()) -> LatencyReport:
    """Build ``sources`` for the host and for ``target``, run both on ``golden``, require equal
    outputs, count and report.

    ``io_dtype``: element type of the model's outputs (int8, or ``<i2`` for a 16x8 model).
    ``sequence``: the layer of each profiling marker pair in one inference (a streamed model's
    trunk layers repeat once per step; :func:`marker_sequence`).
    ``reference``: expected outputs from an interpreter (TFLite Micro); the target must equal
    them too. ``golden=None`` uses a ``golden_input.h`` already on the sources' include path.
    ``frontend_check``: the host build's front end output on its clip; the target's front end, as the library's
    glue runs it beside the model, must print its checksum, or (``exact=False``: CMSIS-DSP's FFT, whose float
    operations differ per core) print an output within the front end's int8 tolerance.
    ``frontend_cflags``: added to the target build only (CMSIS-DSP's defines and include directories)."""
    check_toolchain()
    spec = SPECS[target]
    clock = float(clock_mhz or spec.clock_mhz)
    if clock <= 0:
        raise InputError(None, f"--clock-mhz must be positive, got {clock}")
    work_dir = Path(work_dir)
    golden_dirs: tuple[Path, ...] = ()
    if golden is not None:
        gdir = work_dir / "golden"
        gdir.mkdir(parents=True, exist_ok=True)
        write_golden_header(gdir / "golden_input.h", golden)
        golden_dirs = (gdir,)
    host_exe = build_host(sources, work_dir / "host", golden_dirs=golden_dirs)
    host_out = run_host(host_exe, timeout=timeout)
    fe_defines = ("TINYASC_FRONTEND",) if frontend_sources else ()
    if frontend_check is not None and not frontend_check.exact:
        fe_defines += ("TINYASC_FE_PRINT_OUTPUT=1",)
    tsrc = dataclasses.replace(sources, include_dirs=(*sources.include_dirs, *frontend_includes),
                               cflags=(*sources.cflags, *frontend_cflags))
    build = build_target(tsrc, target, work_dir / target.value, extra_sources=frontend_sources,
                         extra_defines=fe_defines, golden_dirs=golden_dirs)
    plugin = build_plugin(work_dir / "plugin")
    run = run_qemu(build, work_dir / target.value, plugin=plugin, timeout=timeout)
    parity = compare_outputs(host_out, run.outputs, io_dtype)
    if not parity["equal"]:
        raise ParityError(f"{model_name} on {target.value}: target outputs differ from the host build "
                          f"({parity}); no latency is reported for wrong results")
    if reference is not None:
        tflm = compare_outputs(reference, run.outputs, io_dtype)
        parity["tflm_equal"] = tflm["equal"]
        if not tflm["equal"]:
            raise ParityError(f"{model_name} on {target.value}: target outputs differ from TFLite Micro "
                              f"({tflm}); no latency is reported for wrong results")
    if frontend_check is not None:
        parity.update(frontend_check.compare(run.frontend_checksum, run.frontend_output))
        if not parity["frontend_ok"]:
            raise ParityError(f"{model_name} on {target.value}: the front end's output differs from the host build's "
                              f"({ {k: v for k, v in parity.items() if k.startswith('frontend')} }); "
                              "no latency is reported")
    model = TimingModel.load(target)
    rows, other, fe, total_counts = analyze(run, n_layers=n_layers, layers=layers, model=model, clock_mhz=clock,
                                            frontend=bool(frontend_sources), sequence=sequence)
    total_cycles = model.cycles(total_counts)
    n_instr = instructions(total_counts)
    total_macs = sum(r.macs for r in rows)
    mem = MemoryReport.from_elf(build, run.stack_used or 0)
    return LatencyReport(
        model=model_name, target=target.value, machine=spec.machine, clock_mhz=clock, note=LATENCY_NOTE,
        timing_model=dataclasses.asdict(model), kernels=kernels, sparse=sparse, total_instructions=n_instr,
        total_cycles=total_cycles, total_latency_ms=total_cycles / (clock * 1e3), total_macs=total_macs,
        macs_per_cycle=(total_macs / total_cycles) if total_macs and total_cycles else None,
        instructions_per_mac=(n_instr / total_macs) if total_macs else None,
        layers=rows, other=other, frontend=fe, memory=mem, parity=parity,
        build={"cflags": list(build.cflags), "qemu_wall_s": round(run.wall_s, 3),
               "emulated_instructions_total": instructions(run.total) if run.total else None},
    )


def library_sources(lib_dir: Path, manifest: LibraryManifest) -> FirmwareSources:
    """The library's own sources and flags, as ``library.json`` lists them."""
    lib_dir = Path(lib_dir).resolve()
    others = tuple(lib_dir / s for s in manifest.sources if s != "model.c")
    return FirmwareSources(model_dir=lib_dir, kernel_sources=others,
                           include_dirs=tuple(lib_dir / i for i in manifest.include_dirs),
                           cflags=manifest.host_cflags)


def _frontend_run(manifest: LibraryManifest, work: Path) -> tuple[tuple[Path, ...], str | None]:
    """The harness's clip and ``tinyasc_frontend_run`` for a library with a front end, or why not."""
    from tinyasc.firmware_sim.frontend import write_golden_run

    if not manifest.frontend:
        return (), manifest.frontend_note
    pcm = (np.random.default_rng(0).normal(size=manifest.frontend_clip_samples) * 3000).astype(np.int16)
    d = work / "frontend_run"
    return tuple(d / s for s in write_golden_run(d, pcm)), None


_FE_CHECKSUM_MAIN = """/* Host check of the harness's front end run: its output checksum and bytes (hex), two passes over the frames. */
#include <stdint.h>
#include <stdio.h>
void tinyasc_frontend_run(void);
uint32_t tinyasc_frontend_checksum(void);
const void *tinyasc_frontend_output_bytes(uint32_t *n_bytes);
int main(void)
{
    uint32_t n, i;
    const unsigned char *out;
    tinyasc_frontend_run();
    printf("%lu\\n", (unsigned long)tinyasc_frontend_checksum());
    out = (const unsigned char *)tinyasc_frontend_output_bytes(&n);
    for (i = 0; i < n; ++i) {
        printf("%02x", out[i]);
    }
    printf("\\n");
    return 0;
}
"""


@dataclass(frozen=True, kw_only=True)
class FrontendCheck:
    """What the target's front end must print: the host build's output on the harness's clip."""

    checksum: int
    output: bytes
    dtype: Any
    exact: bool
    """True: bit for bit (the same C and float operations on host and target); False: within the front end's
    int8 tolerance (CMSIS-DSP's FFT, whose Helium kernels order the float operations differently)."""

    def compare(self, checksum: int | None, output: bytes | None) -> dict[str, Any]:
        """Parity statistics, ``frontend_ok`` among them."""
        stats: dict[str, Any] = {"frontend_equal": checksum == self.checksum, "frontend_exact_required": self.exact}
        if self.exact or stats["frontend_equal"]:
            stats["frontend_ok"] = stats["frontend_equal"]
            return stats
        if output is None or len(output) != len(self.output):
            stats["frontend_ok"] = False
            return stats
        a = np.frombuffer(self.output, self.dtype).astype(np.int64)
        b = np.frombuffer(output, self.dtype).astype(np.int64)
        step = np.abs(a - b)
        stats["frontend_equal_fraction"] = float((step == 0).mean())
        stats["frontend_max_step"] = int(step.max())
        stats["frontend_ok"] = (stats["frontend_max_step"] <= cmsis_dsp.INT8_MAX_STEP
                                and stats["frontend_equal_fraction"] >= cmsis_dsp.INT8_EQUAL_MIN)
        return stats


def _frontend_host_check(lib_dir: Path, fe_sources: Sequence[Path], work: Path, dtype: Any,
                         tree: cmsis_dsp.CmsisDsp | None) -> FrontendCheck:
    """The library's front end (``lib_dir/frontend``) on the harness's clip, built for the host without the model
    (with ``tree``: CMSIS-DSP's FFT, its plain C kernels): what the target's run must print."""
    from tinyasc.firmware_sim.frontend import CFLAGS
    from tinyasc.firmware_sim.harness.tools import run
    from tinyasc.firmware_sim.toolchain import find_compiler

    d = work / "frontend_host"
    d.mkdir(parents=True, exist_ok=True)
    (d / "main.c").write_text(_FE_CHECKSUM_MAIN)
    fe_dir = lib_dir / "frontend"
    cc = find_compiler(None)
    own = [p for p in fe_sources if p.suffix == ".c"]
    objects = tree.host_objects(cc, d / "cmsis-dsp") if tree is not None else []
    srcs = [*own, *sorted(fe_dir.glob("*.c")), d / "main.c", *objects]
    exe = d / "fe_checksum"
    run([cc, *CFLAGS, *(tree.cflags() if tree else ()), "-I", fe_dir, "-I", fe_sources[0].parent, *srcs,
         "-o", exe, "-lm"])
    checksum, hexed = run([exe]).stdout.split()[:2]
    # on the host CMSIS-DSP runs its plain C FFT: a Cortex-M4/M7 build computes the same bytes, a Helium one may not
    return FrontendCheck(checksum=int(checksum), output=bytes.fromhex(hexed), dtype=dtype, exact=tree is None)


def measure_library(lib_dir: str | Path, *, out_dir: str | Path, core: Target | None = None,
                    clock_mhz: float | None = None, golden: np.ndarray | None = None,
                    model: str | Path | None = None, timeout: float = 600, frontend: bool = True,
                    cmsis_dsp_tree: cmsis_dsp.CmsisDsp | None = None) -> LatencyReport:
    """Measure the library in ``lib_dir`` (written by ``asc-firmware --target``) on its core.

    ``cmsis_dsp_tree``: the front end built as ``make CMSIS_DSP=<tree>`` builds it (CMSIS-DSP's complex FFT);
    its output must then be within the front end's int8 tolerance of the host build's, not bit-identical.
    ``core`` is required for a portable library (which core to run it on) and must match a
    Cortex-M library's own. ``model``: the ``.tflite`` it came from (checked against the
    manifest's sha256): the target's outputs must then also equal TensorFlow Lite Micro's.
    The report's ``build.sources_sha256`` are the hashes of the very files compiled."""
    from tinyasc.firmware_sim.generator import FirmwareArtifact

    check_toolchain()
    lib_dir = Path(lib_dir)
    manifest = LibraryManifest.load(lib_dir)
    manifest.verify(lib_dir)
    if manifest.target.core is not None:
        if core is not None and core is not manifest.target.core:
            raise InputError(lib_dir, f"library was generated for {manifest.target.value}, not {core.value}")
        core = manifest.target.core
    elif core is None:
        raise InputError(lib_dir, "portable library: name the core to run it on (--target)")
    art = FirmwareArtifact.load(lib_dir)
    work = Path(out_dir) / "build"
    if golden is None:
        golden = default_golden(art.input_size, dtype=art.io_dtype)
    golden = np.asarray(golden, dtype=art.io_dtype).reshape(-1, art.input_size)
    reference = None
    if model is not None:
        model = Path(model)
        if not model.is_file():
            raise InputError(model, "no such file")
        if sha256(model) != manifest.model_sha256:
            raise InputError(model, f"not the model {lib_dir} was generated from (sha256 differs from library.json)")
        from tinyasc.tflite_io.tflm import run as tflm_run

        ref, _ = tflm_run(model, golden.reshape(-1, *art.input_shape))
        reference = [np.asarray(r, art.io_dtype).tobytes() for r in ref]
    fe_sources, fe_skip = _frontend_run(manifest, work) if frontend else ((), "not requested")
    fe_c = lib_dir / "frontend" / "tinyasc_frontend.c"
    if fe_sources and cmsis_dsp_tree is not None and "TINYASC_FE_CMSIS_DSP" not in fe_c.read_text(errors="replace"):
        raise InputError(fe_c, "this front end has no CMSIS-DSP build (written by an older tinyasc): "
                               "regenerate the library with asc-firmware")
    fe_check = _frontend_host_check(lib_dir, fe_sources, work, art.io_dtype, cmsis_dsp_tree) if fe_sources else None
    if fe_sources and cmsis_dsp_tree is not None:
        fe_sources = (*fe_sources, *cmsis_dsp_tree.sources)
    src = library_sources(lib_dir, manifest)
    layers = [LayerInfo(name=l.name, op=l.op, macs=int(l.macs) if l.op in MAC_OPS else 0) for l in art.layers]
    optimized = manifest.target.core is not None
    report = measure_sources(
        model_name=manifest.model, target=core, sources=src, golden=golden, n_layers=len(art.layers),
        layers=layers, work_dir=work, clock_mhz=clock_mhz, kernels="optimized" if optimized else "portable",
        sparse=any(r["used"] for r in art.sparse_layers), timeout=timeout, reference=reference,
        frontend_sources=fe_sources, frontend_includes=(fe_sources[0].parent,) if fe_sources else (),
        io_dtype=art.io_dtype, sequence=marker_sequence(art),
        frontend_check=fe_check,
        frontend_cflags=cmsis_dsp_tree.cflags() if fe_sources and cmsis_dsp_tree is not None else ())
    compiled = ["model.c", *(s for s in manifest.sources if s != "model.c")]
    report.build["library"] = str(lib_dir)
    report.build["library_target"] = manifest.target.value
    report.build["sources_sha256"] = {rel: sha256(lib_dir / rel) for rel in compiled}
    if fe_skip:
        report.build["frontend_skipped"] = fe_skip
    elif frontend:
        report.build["frontend_fft"] = f"cmsis-dsp {cmsis_dsp_tree.root}" if cmsis_dsp_tree else "built-in"
    if art.sparse_layers:  # every convolution considered, stored sparse or why not
        report.build["sparse_layers"] = art.sparse_layers
    if any(r["used"] for r in art.sparse_layers):
        used = [r for r in art.sparse_layers if r["used"]]
        report.build["sparse_weight_bytes"] = sum(r["sparse_bytes"] for r in used)
        report.build["dense_weight_bytes_replaced"] = sum(r["dense_bytes"] for r in used)
    report.build["generator_weight_bytes"] = art.weight_bytes
    report.build["arena_bytes"] = art.arena_size
    return report


def measure_tflite(tflite_path: str | Path, *, target: Target, out_dir: str | Path, clock_mhz: float | None = None,
                   sparse: bool = True, optimized: bool = True, golden: np.ndarray | None = None,
                   check_tflm: bool = True, timeout: float = 600, frontend: bool = True,
                   cmsis_dsp_tree: cmsis_dsp.CmsisDsp | None = None) -> LatencyReport:
    """Write the library ``asc-firmware --target`` ships into ``OUT/library`` and measure that directory.

    ``optimized=False`` writes the portable library and runs it on ``target``; ``sparse=False``
    is ``--dense``."""
    check_toolchain()
    tflite_path = Path(tflite_path)
    if not tflite_path.is_file():
        raise InputError(tflite_path, "no such file")
    if sparse and not optimized:
        sparse = False  # the portable kernels read dense weights only
    lib_target = LibraryTarget(target.value) if optimized else LibraryTarget.PORTABLE
    lib = write_library(tflite_path, Path(out_dir) / "library", target=lib_target, dense=not sparse,
                        frontend=frontend)
    return measure_library(lib.out_dir, out_dir=out_dir, core=target, clock_mhz=clock_mhz, golden=golden,
                           model=tflite_path if check_tflm else None, timeout=timeout, frontend=frontend,
                           cmsis_dsp_tree=cmsis_dsp_tree)
