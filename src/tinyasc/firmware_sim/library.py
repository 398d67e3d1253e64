"""The C library a user ships: ``asc-firmware MODEL.tflite --target T --out DIR``.

One self-contained directory per model and target::

    DIR/model.c, model.h        the generated model (weights in flash, one static arena)
    DIR/labels.h                class names in output order (from the model's deployed contract)
    DIR/kernels/*.c             only the kernels the model calls, each the fastest variant tinyasc
                                has for the target (DSP / Helium / in-place / sparse), else portable
    DIR/include/*.h             kernel headers
    DIR/frontend/               PCM -> model input (log-mel, the lifted input ResNorm, quantization)
    DIR/tinyasc_listen.c/.h     continuous listening: push PCM, classify the last clip length
    DIR/example/main.c          PCM -> features -> invoke -> label, printed
    DIR/CMakeLists.txt          static library ``tinyasc`` + ``tinyasc_example``
    DIR/cmake/arm-none-eabi.cmake   toolchain file for the target core
    DIR/Makefile                ``make`` (host) and ``make target`` (the core)
    DIR/README.md               the API
    DIR/library.json            manifest: target, sources, flags, sha256 of every file
    DIR/main_host.c, build_host.sh, firmware.json/.md   the host parity runner and the report

The flags in the build files and in ``library.json`` are :mod:`.toolchain`'s, and the latency
harness compiles exactly ``library.json``'s sources with them (``asc-latency DIR``), so the
figures tinyasc reports are those of this directory. The directory is written under a
temporary name and renamed into place: a failure leaves no half-written library.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyasc import atomic
from tinyasc.errors import InputError
from tinyasc.firmware_sim import cmsis_dsp, report, toolchain
from tinyasc.firmware_sim.generator import FirmwareArtifact, GeneratorOptions, generate
from tinyasc.firmware_sim.target import SPECS, LibraryTarget

if TYPE_CHECKING:
    from tinyasc.firmware_sim.frontend import FrontendArtifact

log = logging.getLogger(__name__)

MANIFEST = "library.json"
MANIFEST_FORMAT = "tinyasc-library/1"
FRONTEND_DIR = "frontend"
EXAMPLE = "example/main.c"
LABELS_H = "labels.h"
#: Continuous listening (front end + model), shipped with the front end.
LISTEN_SOURCES = ("tinyasc_listen.c", "tinyasc_listen.h")
#: Include directories of every library, relative to it.
INCLUDE_DIRS = (".", "include", FRONTEND_DIR)
TEMPLATE_DIR = Path(__file__).resolve().parent / "c" / "library"


@dataclass(frozen=True, kw_only=True)
class LibraryManifest:
    """What a shipped library holds and how it is compiled (``library.json``)."""

    target: LibraryTarget
    """What the library was generated for."""
    model: str
    """File name of the ``.tflite`` it was generated from."""
    model_sha256: str
    """sha256 of that file (``asc-latency DIR --model`` checks TFLite Micro against the same bytes)."""
    sources: tuple[str, ...]
    """C files of the static library, relative to the directory (model, kernels, front end)."""
    include_dirs: tuple[str, ...]
    """Include directories, relative to the directory."""
    cflags: tuple[str, ...]
    """Compiler flags of a build for ``target`` (architecture flags first for a core)."""
    host_cflags: tuple[str, ...]
    """Compiler flags of a host build of the same sources."""
    frontend: bool
    """Whether ``frontend/`` is there (an int8 model with a tinyasc contract or a log-mel input)."""
    frontend_note: str
    """Why the front end is missing, or what contract it implements."""
    frontend_clip_samples: int
    """PCM samples of one clip the front end takes (0 without a front end)."""
    sparse_weights: bool
    """Whether eligible convolutions store their weights in the sparse encoding."""
    activations: str
    """``int8`` or ``int16`` (16x8)."""
    files_sha256: dict[str, str]
    """sha256 of every source and header, relative path -> hex digest."""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["format"] = MANIFEST_FORMAT
        d["target"] = self.target.value
        return d

    def save(self, out_dir: Path) -> Path:
        path = Path(out_dir) / MANIFEST
        atomic.write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> "LibraryManifest":
        path = Path(out_dir) / MANIFEST
        if not path.is_file():
            raise InputError(out_dir, f"no {MANIFEST}: not a library written by asc-firmware --target")
        try:
            d = json.loads(path.read_text())
            if d.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {d.get('format')!r}, expected {MANIFEST_FORMAT}")
            return cls(target=LibraryTarget(d["target"]), model=str(d["model"]), model_sha256=str(d["model_sha256"]),
                       sources=tuple(d["sources"]), include_dirs=tuple(d["include_dirs"]),
                       cflags=tuple(d["cflags"]), host_cflags=tuple(d["host_cflags"]),
                       frontend=bool(d["frontend"]), frontend_note=str(d["frontend_note"]),
                       frontend_clip_samples=int(d["frontend_clip_samples"]),
                       sparse_weights=bool(d["sparse_weights"]), activations=str(d["activations"]),
                       files_sha256={str(k): str(v) for k, v in d["files_sha256"].items()})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(path, f"unreadable library manifest ({exc})") from None

    def verify(self, out_dir: Path) -> None:
        """Raise :class:`InputError` if a listed file is missing or was changed since generation."""
        for rel, digest in self.files_sha256.items():
            f = Path(out_dir) / rel
            if not f.is_file():
                raise InputError(f, "listed in library.json but missing")
            if sha256(f) != digest:
                raise InputError(f, "changed since asc-firmware wrote it (sha256 differs from library.json)")


@dataclass(frozen=True, kw_only=True)
class Library:
    """A written library: its directory, manifest and the generator's artifact."""

    out_dir: Path
    manifest: LibraryManifest
    firmware: FirmwareArtifact


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_library(tflite_path: str | Path, out_dir: str | Path, *, target: LibraryTarget = LibraryTarget.PORTABLE,
                  dense: bool = False, in_place: bool = True, measure_tflm_arena: bool = False,
                  frontend: bool = True, ram_budget: int | None = None, step_frames: int | None = None) -> Library:
    """Generate the library for ``target`` into ``out_dir`` (replaced as a whole, atomically).

    ``dense``: keep every convolution's weights dense (the sparse encoding is the default on a
    Cortex-M target, where the optimized convolution reads it). ``frontend=False`` leaves the
    front end out (a model fed by something other than the paper's log-mel). ``ram_budget`` /
    ``step_frames``: stream the trunk over time (:class:`.generator.GeneratorOptions`).
    """
    target = LibraryTarget(target)
    tflite_path = Path(tflite_path)
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir / MANIFEST).is_file() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(out_dir, "exists and is not a library asc-firmware wrote: choose a new or empty directory "
                                  "(the library replaces its directory as a whole)")
    sparse = target.core is not None and not dense
    options = GeneratorOptions(in_place=in_place, measure_tflm_arena=measure_tflm_arena, target=target,
                               sparse_weights=sparse, ram_budget=ram_budget, step_frames=step_frames,
                               ram_reserved=_frontend_ram(tflite_path) if frontend and ram_budget else 0)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        art = generate(tflite_path, tmp, options=options)
        fe, fe_note, labels = _write_frontend(tflite_path, tmp, art) if frontend else (None, "not requested", None)
        fe_ok = fe is not None
        _write_labels(tmp, labels, art.output_shape)
        sources = ["model.c", *art.sources]
        if fe_ok:
            sources += [f"{FRONTEND_DIR}/tinyasc_frontend.c", f"{FRONTEND_DIR}/frontend_tables.c", LISTEN_SOURCES[0]]
            for name in LISTEN_SOURCES:
                shutil.copyfile(TEMPLATE_DIR / name, tmp / name)
        cflags = toolchain.library_cflags(target)
        arch = SPECS[target.core].arch_flags if target.core is not None else ()
        manifest = LibraryManifest(
            target=target, model=tflite_path.name, model_sha256=sha256(tflite_path), sources=tuple(sources),
            include_dirs=INCLUDE_DIRS, cflags=cflags, host_cflags=tuple(f for f in cflags if f not in arch),
            frontend=fe_ok, frontend_note=fe_note, frontend_clip_samples=fe.feature_config.clip_samples if fe else 0,
            sparse_weights=sparse,
            activations=art.activations, files_sha256={})
        _write_example(tmp, manifest)
        _write_build_files(tmp, manifest)
        _write_readme(tmp, out_dir.name, manifest, art, listen_ram=fe.listen_ram_bytes if fe else 0)
        hashed = sorted({*sources, EXAMPLE, LABELS_H, "model.h", *(LISTEN_SOURCES if fe_ok else ()),
                         *(f"include/{p.name}" for p in (tmp / "include").glob("*.h")),
                         *((f"{FRONTEND_DIR}/{p.name}" for p in (tmp / FRONTEND_DIR).glob("*.h")) if fe_ok else ())})
        manifest = dataclasses.replace(manifest, files_sha256={rel: sha256(tmp / rel) for rel in hashed})
        manifest.save(tmp)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    art.out_dir = out_dir
    report.write_report(art)  # firmware.json/.md name the final directory
    log.info("library for %s in %s: %d sources, front end %s", target.value, out_dir, len(manifest.sources),
             "yes" if manifest.frontend else f"no ({manifest.frontend_note})")
    return Library(out_dir=out_dir, manifest=manifest, firmware=art)


def _frontend_ram(tflite_path: Path) -> int:
    """RAM of the streaming front end the library will ship for this model (0 without a contract)."""
    from tinyasc.contract import read_deployed_contract
    from tinyasc.firmware_sim.frontend import stream_ram_bytes

    contract = read_deployed_contract(tflite_path.read_bytes(), tflite_path)
    if contract is None:
        return 0
    return stream_ram_bytes(contract.feature_config, input_resnorm=contract.input_resnorm is not None)


def _write_frontend(tflite_path: Path, out_dir: Path,
                    art: FirmwareArtifact) -> tuple[FrontendArtifact | None, str, tuple[str, ...] | None]:
    """The front end for the model's input contract: (its artifact, or None when none was written; note;
    labels from the contract)."""
    from tinyasc.contract import read_deployed_contract
    from tinyasc.firmware_sim.frontend import write_frontend_for_model
    from tinyasc.firmware_sim.reader import read_tflite

    graph = read_tflite(tflite_path)
    contract = read_deployed_contract(tflite_path.read_bytes(), tflite_path)
    labels = contract.labels if contract is not None else None
    if contract is None:
        return None, "the model carries no tinyasc contract (feature config): no front end generated", labels
    try:
        fe = write_frontend_for_model(graph, contract.feature_config, out_dir / FRONTEND_DIR,
                                      input_resnorm=contract.input_resnorm)
    except InputError as err:
        return None, f"front end not generated: {err.problem}", labels
    (out_dir / FRONTEND_DIR / "frontend.json").unlink(missing_ok=True)
    (out_dir / FRONTEND_DIR / "frontend_main_host.c").unlink(missing_ok=True)
    cfg = contract.feature_config
    note = (f"{cfg.sample_rate} Hz int16 PCM, {cfg.clip_seconds:g} s clip -> {cfg.n_mels} mel x {cfg.n_frames} frames"
            + ("; input ResNorm (lambda {:g}) computed on the clip".format(contract.input_resnorm[0])
               if contract.input_resnorm else ""))
    return fe, note, labels


def _write_labels(out_dir: Path, labels: tuple[str, ...] | None, output_shape: list[int]) -> None:
    n = 1
    for d in output_shape:
        n *= int(d)
    names = list(labels) if labels is not None and len(labels) == n else [f"class_{i}" for i in range(n)]
    body = "".join(f'    "{_c_escape(x)}",\n' for x in names)
    atomic.write_text(out_dir / LABELS_H, f"""/* Class names in output order. Generated by tinyasc; do not edit. */
#ifndef TINYASC_LABELS_H
#define TINYASC_LABELS_H
#include "model.h"
static const char *const tinyasc_labels[TINYASC_OUTPUT_SIZE] = {{
{body}}};
#endif
""")


def _c_escape(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in " _-." else "_" for ch in s)[:60]


def _write_example(out_dir: Path, m: LibraryManifest) -> None:
    text = (TEMPLATE_DIR / "example_main.c").read_text()
    defines = "#define TINYASC_EXAMPLE_FRONTEND 1\n" if m.frontend else "#define TINYASC_EXAMPLE_FRONTEND 0\n"
    (out_dir / "example").mkdir(exist_ok=True)
    atomic.write_text(out_dir / EXAMPLE, text.replace("/* @DEFINES@ */\n", defines))


def _toolchain_cmake(m: LibraryManifest) -> str:
    core = m.target.core
    if core is None:
        return ""
    spec = SPECS[core]
    return f"""# CMake toolchain file for {core.value} with the GNU Arm Embedded toolchain (arm-none-eabi-gcc).
# Generated by tinyasc: the architecture flags are those the latency harness measured.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER {toolchain.CROSS_PREFIX}gcc)
set(CMAKE_AR {toolchain.CROSS_PREFIX}ar)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "{' '.join(spec.arch_flags)}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs --specs=nosys.specs {' '.join(toolchain.TARGET_LDFLAGS)}")
"""


def _cmsis_dsp_make(m: LibraryManifest) -> str:
    """The Makefile's optional CMSIS-DSP FFT for the front end (nothing without a front end)."""
    if not m.frontend:
        return ""
    srcs = " ".join(cmsis_dsp.FFT_SOURCES)
    return f"""# Optional: the front end's complex FFT from CMSIS-DSP (arm_cfft_f32; Helium on a Cortex-M55),
#   make CMSIS_DSP=/path/to/CMSIS-DSP      make target CMSIS_DSP=/path/to/CMSIS-DSP
# CMSIS_DSP_FLAGS: {cmsis_dsp.NO_CORE_DEFINE} builds CMSIS-DSP without CMSIS-Core's headers (its own switch);
# a project with CMSIS-Core sets CMSIS_DSP_FLAGS=-I<CMSIS-Core>/Include instead. CMSIS-DSP's files
# compile into build/*/cmsis-dsp without tinyasc's warnings (-w): they are not tinyasc's.
ifdef CMSIS_DSP
CMSIS_DSP_FLAGS ?= -D{cmsis_dsp.NO_CORE_DEFINE}
CMSIS_DSP_SOURCES := {srcs}
CFLAGS += -D{cmsis_dsp.FE_DEFINE} $(CMSIS_DSP_FLAGS)
INCLUDES += {' '.join('-I$(CMSIS_DSP)/' + d for d in cmsis_dsp.INCLUDE_DIRS)}
endif
"""


def _cmsis_dsp_rule(m: LibraryManifest, obj_dir: str, compiler: str) -> str:
    """The Makefile rule compiling CMSIS-DSP's files into ``obj_dir/cmsis-dsp``."""
    if not m.frontend:
        return ""
    return f"""
{obj_dir}/cmsis-dsp/%.o: $(CMSIS_DSP)/%.c
\t@mkdir -p $(dir $@)
\t{compiler} $(CFLAGS) -w $(INCLUDES) -c $< -o $@
"""


def _cmsis_dsp_cmake(m: LibraryManifest) -> str:
    if not m.frontend:
        return ""
    srcs = " ".join("${CMSIS_DSP}/" + s for s in cmsis_dsp.FFT_SOURCES)
    incs = " ".join("${CMSIS_DSP}/" + d for d in cmsis_dsp.INCLUDE_DIRS)
    return f"""
# Optional: the front end's complex FFT from CMSIS-DSP (arm_cfft_f32; Helium on a Cortex-M55):
#   cmake ... -DCMSIS_DSP=/path/to/CMSIS-DSP
# CMSIS_DSP_FLAGS: {cmsis_dsp.NO_CORE_DEFINE} builds CMSIS-DSP without CMSIS-Core's headers (its own switch);
# a project with CMSIS-Core passes -DCMSIS_DSP_FLAGS=-I<CMSIS-Core>/Include instead.
set(CMSIS_DSP "" CACHE PATH "CMSIS-DSP source tree for the front end's FFT (empty: the built-in FFT)")
set(CMSIS_DSP_FLAGS "-D{cmsis_dsp.NO_CORE_DEFINE}" CACHE STRING "CMSIS-DSP's own compile flags")
if(CMSIS_DSP)
  set(TINYASC_CMSIS_DSP_SOURCES {srcs})
  target_sources(tinyasc PRIVATE ${{TINYASC_CMSIS_DSP_SOURCES}})
  set_source_files_properties(${{TINYASC_CMSIS_DSP_SOURCES}} PROPERTIES COMPILE_OPTIONS "-w")
  target_include_directories(tinyasc PUBLIC {incs})
  target_compile_definitions(tinyasc PUBLIC {cmsis_dsp.FE_DEFINE})
  separate_arguments(TINYASC_CMSIS_DSP_FLAGS UNIX_COMMAND "${{CMSIS_DSP_FLAGS}}")
  target_compile_options(tinyasc PUBLIC ${{TINYASC_CMSIS_DSP_FLAGS}})
endif()
"""


def _write_build_files(out_dir: Path, m: LibraryManifest) -> None:
    core = m.target.core
    arch = SPECS[core].arch_flags if core is not None else ()
    common = m.host_cflags  # the toolchain file / Makefile add the architecture flags
    srcs = " ".join(m.sources)
    incs = " ".join(m.include_dirs)
    cmake = f"""# Generated by tinyasc for {m.model}, target {m.target.value}.
# Host:   cmake -S . -B build && cmake --build build && ./build/tinyasc_example [clip.raw]
""" + (f"""# Target: cmake -S . -B build-{core.value} -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake && cmake --build build-{core.value}
""" if core is not None else "") + f"""cmake_minimum_required(VERSION 3.13)
project(tinyasc C)

# The library's compile flags: the same ones tinyasc's latency harness compiled and measured.
set(TINYASC_C_FLAGS {' '.join(common)})

add_library(tinyasc STATIC {srcs})
target_include_directories(tinyasc PUBLIC {' '.join('${CMAKE_CURRENT_SOURCE_DIR}/' + i if i != '.' else '${CMAKE_CURRENT_SOURCE_DIR}' for i in m.include_dirs)})
target_compile_options(tinyasc PRIVATE ${{TINYASC_C_FLAGS}})

{_cmsis_dsp_cmake(m)}
add_executable(tinyasc_example {EXAMPLE})
target_compile_options(tinyasc_example PRIVATE ${{TINYASC_C_FLAGS}})
target_link_libraries(tinyasc_example PRIVATE tinyasc m)
"""
    atomic.write_text(out_dir / "CMakeLists.txt", cmake)
    tc = _toolchain_cmake(m)
    if tc:
        (out_dir / "cmake").mkdir(exist_ok=True)
        atomic.write_text(out_dir / "cmake" / "arm-none-eabi.cmake", tc)
    target_rule = ""
    if core is not None:
        target_rule = f"""
# make target: the library and the example for {core.value} with arm-none-eabi-gcc
ARCH_FLAGS := {' '.join(arch)}
CROSS ?= {toolchain.CROSS_PREFIX}
TDIR := build/{core.value}
TOBJS := $(SOURCES:%.c=$(TDIR)/%.o){' $(CMSIS_DSP_SOURCES:%.c=$(TDIR)/cmsis-dsp/%.o)' if m.frontend else ''}

target: $(TDIR)/libtinyasc.a $(TDIR)/tinyasc_example.elf

$(TDIR)/%.o: %.c
\t@mkdir -p $(dir $@)
\t$(CROSS)gcc $(ARCH_FLAGS) $(CFLAGS) $(INCLUDES) -c $< -o $@
{_cmsis_dsp_rule(m, '$(TDIR)', '$(CROSS)gcc $(ARCH_FLAGS)')}
$(TDIR)/libtinyasc.a: $(TOBJS)
\t$(CROSS)ar rcs $@ $^

$(TDIR)/tinyasc_example.elf: $(TDIR)/example/main.o $(TDIR)/libtinyasc.a
\t$(CROSS)gcc $(ARCH_FLAGS) --specs=nano.specs --specs=nosys.specs {' '.join(toolchain.TARGET_LDFLAGS)} $^ -lm -o $@
"""
    if not target_rule:
        target_rule = """
target:
\t@echo "portable library: add $(SOURCES) to your build with $(CFLAGS) $(INCLUDES)"
"""
    make = f"""# Generated by tinyasc for {m.model}, target {m.target.value}.
#   make            host build: build/host/libtinyasc.a and build/host/tinyasc_example
#   make target     {'the same for ' + core.value + ' (arm-none-eabi-gcc)' if core else '(portable library: build it with your toolchain)'}
# The flags are the ones tinyasc's latency harness compiled and measured.
CC ?= cc
CFLAGS := {' '.join(common)}
SOURCES := {srcs}
INCLUDES := {' '.join('-I' + i for i in m.include_dirs)}
{_cmsis_dsp_make(m)}HDIR := build/host
HOBJS := $(SOURCES:%.c=$(HDIR)/%.o){' $(CMSIS_DSP_SOURCES:%.c=$(HDIR)/cmsis-dsp/%.o)' if m.frontend else ''}

.PHONY: all host target clean
all: host
host: $(HDIR)/libtinyasc.a $(HDIR)/tinyasc_example

$(HDIR)/%.o: %.c
\t@mkdir -p $(dir $@)
\t$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@
{_cmsis_dsp_rule(m, '$(HDIR)', '$(CC)')}
$(HDIR)/libtinyasc.a: $(HOBJS)
\t$(AR) rcs $@ $^

$(HDIR)/tinyasc_example: $(HDIR)/example/main.o $(HDIR)/libtinyasc.a
\t$(CC) $^ -lm -o $@
{target_rule}
clean:
\trm -rf build
"""
    atomic.write_text(out_dir / "Makefile", make)


def _tiled_readme(art: FirmwareArtifact) -> str:
    if not art.tiling:
        return ""
    t = art.tiling
    return f"""
**Streamed over time** (`asc-firmware --ram-budget` / `--step-frames`): the network's convolutional
trunk runs in {t['steps']} steps of {t['step_frames']} input frames; each tensor keeps only the time
columns its consumers still need, no column is computed twice, and the pooling sums are accumulated
in int32, so the output is bit-identical to the whole-clip model. The input is a separate static
buffer (`tinyasc_model_input_buffer()`, {t['features_bytes']:,} B) held for the whole inference; the arena
({t['arena_bytes']:,} B) holds the sliding buffers. Peak RAM `TINYASC_PEAK_RAM` = {t['peak_ram_bytes']:,} B
(whole clip: {t['whole_clip_arena_bytes']:,} B of arena), {t['macs']:,} MACs per inference as for the whole clip.
"""


def _cmsis_dsp_readme(m: LibraryManifest) -> str:
    if not m.frontend:
        return ""
    return f"""
With CMSIS-DSP in your project, `make CMSIS_DSP=/path/to/CMSIS-DSP` (also with `target`) or
`cmake ... -DCMSIS_DSP=/path/to/CMSIS-DSP` builds the front end's complex FFT from CMSIS-DSP's `arm_cfft_f32`
(`-D{cmsis_dsp.FE_DEFINE}` plus {len(cmsis_dsp.FFT_SOURCES)} of its files; `CMSIS_DSP_FLAGS` defaults to
`-D{cmsis_dsp.NO_CORE_DEFINE}`, set it to `-I<CMSIS-Core>/Include` where you have CMSIS-Core). tinyasc measured it
faster than the built-in FFT on the Cortex-M55 (Helium) and slower on the M4 and M7; `asc-latency DIR --cmsis-dsp
/path/to/CMSIS-DSP` measures this library both ways. Its features equal the built-in FFT's within float32 rounding,
not bit for bit.
"""


def _write_readme(out_dir: Path, name: str, m: LibraryManifest, art: FirmwareArtifact, *, listen_ram: int) -> None:
    """README.md of the library being written in ``out_dir`` (a staging directory) that ships as ``name``."""
    core = m.target.core
    kernels = ", ".join(f"`{k}`" for k in art.kernels)
    sparse_used = [r for r in art.sparse_layers if r["used"]]
    fe = (f"`frontend/` turns {m.frontend_note}." if m.frontend else f"No front end: {m.frontend_note}.")
    tiled = _tiled_readme(art)
    text = f"""# tinyasc library: `{m.model}` for {m.target.value}

Generated by `asc-firmware {m.model} --target {m.target.value}`. This directory is the code
tinyasc measured (`asc-latency {name}` compiles exactly the files listed in `library.json`
with the flags below); it depends on nothing but a C99 compiler and `string.h`/`math.h`.

## Build

```sh
make                      # host: build/host/libtinyasc.a, build/host/tinyasc_example
cmake -S . -B build && cmake --build build
""" + (f"""make target               # {core.value}: build/{core.value}/libtinyasc.a, tinyasc_example.elf
cmake -S . -B build-m -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake && cmake --build build-m
""" if core else "") + f"""```
{_cmsis_dsp_readme(m)}
Compile flags: `{' '.join(m.cflags)}` (host: `{' '.join(m.host_cflags)}`). Kernels: {kernels}
({'optimized for ' + core.value + ': DSP/Helium paths chosen by the compiler from `__ARM_FEATURE_*`, portable fallback' if core else 'portable C99'}).
{f'Sparse weights in {len(sparse_used)} convolution(s) (`--dense` turns them off).' if sparse_used else 'All weights dense.'}

## API (`model.h`)

| symbol | meaning |
|---|---|
| `int tinyasc_model_invoke(const tinyasc_input_t *input, tinyasc_output_t *output)` | one inference; returns 0 |
| `tinyasc_input_t *tinyasc_model_input_buffer(void)` | where the input lives in the arena: write features here, pass it to invoke (no copy) |
| `void *tinyasc_model_spare(size_t *n_bytes)` | the arena's largest run beside the input (16-byte aligned), free until the next invoke: e.g. the front end's clip cache |
| `tinyasc_input_t`, `tinyasc_output_t` | `{'int16_t' if m.activations == 'int16' else 'int8_t'}` ({m.activations} activations) |
| `TINYASC_INPUT_SIZE`, `TINYASC_OUTPUT_SIZE` | elements of input {art.input_shape} and output {art.output_shape} |
| `TINYASC_ARENA_SIZE` | bytes of the one static arena ({art.arena_size:,} B), `static` in `model.c`, 16-byte aligned |
| `TINYASC_INPUT_SCALE`, `TINYASC_INPUT_ZERO_POINT`, `TINYASC_OUTPUT_SCALE`, `TINYASC_OUTPUT_ZERO_POINT` | quantization: `real = scale * (q - zero_point)` |
| `tinyasc_labels[]` (`labels.h`) | class names in output order |
| `TINYASC_PROFILE` (define) | call `tinyasc_layer_marker(layer, is_end)` around every layer (you provide it) |
| `TINYASC_DUMP` (define) | call `tinyasc_dump_hook(layer, data, size)` after every layer (you provide it) |

Memory: weights and parameters are `const` (flash); all activations live in the arena; the
kernels use at most a few KB of static scratch and no heap. **Thread safety:** the arena and the
scratch are static: one inference at a time; `tinyasc_model_invoke` is not reentrant.
{tiled}
## Audio in

{fe}
""" + ("""
```c
#include "model.h"
#include "tinyasc_frontend.h"
static float scratch[TINYASC_FE_SCRATCH_FLOATS];
/* pcm: TINYASC_FE_CLIP_SAMPLES int16 samples at TINYASC_FE_SAMPLE_RATE, mono (shorter clips are zero-padded) */
size_t spare;
void *cache = tinyasc_model_spare(&spare); /* the arena beside the input, free until invoke */
tinyasc_frontend_quantized_cached(pcm, n_samples, scratch, cache, spare, tinyasc_model_input_buffer());
tinyasc_model_invoke(tinyasc_model_input_buffer(), scores);
```

`tinyasc_frontend_quantized_cached` gives the same bytes as `tinyasc_frontend_quantized`; with the input
ResNorm and room for the clip's float log-mel (`TINYASC_FE_CACHE_FLOATS` floats) it computes each frame once
instead of twice (without the room, twice). The arena beside the model input usually has room for a short clip's cache (not for a 10-s
clip's 342 KB); any other free RAM will do.

With a microphone, stream instead (no clip-sized PCM buffer: a 10-s clip's PCM is 320 KB; the front end has this API unless its STFT pads by reflection, which the training default does not):

```c
static tinyasc_frontend_stream st;
tinyasc_frontend_stream_init(&st);
/* from the DMA half-buffer interrupt or a task, for every chunk (int16, mono, the rate above): */
int frames = tinyasc_frontend_stream_push(&st, chunk, n, scratch, tinyasc_model_input_buffer());
/* when the clip is complete (or to zero-pad a short one): */
tinyasc_frontend_stream_finish(&st, scratch, tinyasc_model_input_buffer());
tinyasc_model_invoke(tinyasc_model_input_buffer(), scores);
```

A model streamed over time (`TINYASC_STREAMED`, `asc-firmware --ram-budget`) can also run while
the frames arrive: `tinyasc_model_stream_begin()`, then `tinyasc_model_stream_advance(frames)`
after each push, and `tinyasc_model_stream_end(scores)` after `finish` (not with the input
ResNorm, whose frames are final only at the clip's end). Resample first if the microphone runs at
another rate. `example/main.c` does the whole chain on a raw little-endian int16 file given as
its argument (or on generated noise without one), in 512-sample chunks, and prints the label. The
front end's `TINYASC_FE_*` constants are in `frontend/frontend_tables.h`.

## Continuous listening (`tinyasc_listen.h`)

A device that listens all the time pushes the microphone's PCM as it arrives and asks for the
label of the last clip length of audio whenever it wants one:

```c
#include "tinyasc_listen.h"
/* for every chunk (int16, mono, the rate above; any size): */
int held = tinyasc_stream_push(chunk, n);            /* frames held, TINYASC_FE_N_FRAMES = a whole window */
/* e.g. once a second: */
int label = tinyasc_stream_classify(scores);         /* the last TINYASC_FE_N_FRAMES frames; -1 before that */
```

Frame j of the stream covers samples `[j * TINYASC_FE_HOP, j * TINYASC_FE_HOP + TINYASC_FE_WIN_LENGTH)`
and is computed once, in the push that completes it (no STFT padding: the stream has no edges). Each
classification runs the model on the whole window""" + (""", normalized by the window's own per-band
statistics (the lifted input ResNorm; the statistics come from exact integer sums of the held
0.125-nat log-mel codes, kept up to date by the pushes)""" if "input ResNorm" in m.frontend_note else "") + f""".
RAM: {listen_ram:,} B static in `tinyasc_listen.c` (the listening state and the front end's
scratch), beside the model's own buffers. Not reentrant: call push and classify from one task.
`tinyasc_example --listen stream.raw` prints a label every second of audio and at the end.
""" if m.frontend else "") + """
`library.json` lists every file with its sha256; `asc-latency` refuses a directory whose files
changed since generation.
"""
    atomic.write_text(out_dir / "README.md", text)
