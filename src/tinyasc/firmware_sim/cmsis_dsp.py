"""A CMSIS-DSP source tree the front end's complex FFT can come from (``TINYASC_FE_CMSIS_DSP``).

The front end builds without CMSIS-DSP (its own FFT, portable C99). Where a project has
CMSIS-DSP, ``TINYASC_FE_CMSIS_DSP=1`` plus the few sources of :data:`FFT_SOURCES` swap in
``arm_cfft_f32`` (the Helium kernels on a Cortex-M55, plain C elsewhere); the split step, power
spectrum, mel filterbank, log and quantization stay tinyasc's. Which one is faster depends on the
core (docs/frontend.md, "CMSIS-DSP's FFT"): on the Cortex-M55 CMSIS-DSP's, on the M4 and M7 the
built-in one.

A tree is any CMSIS-DSP 1.10+ layout: the GitHub repository, a CMSIS pack, or the ``cmsisdsp``
source distribution on PyPI (``pip download cmsisdsp==1.10.3 --no-deps --no-binary cmsisdsp --no-build-isolation``: the
tests' copy, unpacked by ``tools/setup.sh --test`` into ``.cache/cmsis-dsp``). Nothing of it is
committed. tinyasc compiles it with :data:`NO_CORE_DEFINE`, CMSIS-DSP's own switch for builds
without CMSIS-Core (the float FFT uses no Core intrinsic); a project that has CMSIS-Core on its
include path can leave that define out.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tinyasc.errors import InputError
from tinyasc.firmware_sim.toolchain import host_cflags

#: The front end's switch (tinyasc_frontend.c).
FE_DEFINE = "TINYASC_FE_CMSIS_DSP=1"
#: CMSIS-DSP's switch for a build without CMSIS-Core's headers (its host / Python-wrapper mode).
NO_CORE_DEFINE = "__GNUC_PYTHON__"
#: What arm_cfft_f32 needs, relative to the tree (with --gc-sections only the tables of the one size used stay).
FFT_SOURCES: tuple[str, ...] = (
    "Source/TransformFunctions/arm_cfft_f32.c",
    "Source/TransformFunctions/arm_cfft_init_f32.c",
    "Source/TransformFunctions/arm_cfft_radix8_f32.c",
    "Source/TransformFunctions/arm_bitreversal2.c",
    "Source/CommonTables/arm_common_tables.c",
    "Source/CommonTables/arm_const_structs.c",
    "Source/CommonTables/arm_mve_tables.c",
)
INCLUDE_DIRS: tuple[str, ...] = ("Include", "PrivateInclude")
#: Environment variable naming a tree (tests and benchmarks); ``.cache/cmsis-dsp`` in the repository otherwise.
ENV = "TINYASC_CMSIS_DSP"
#: The front end's stated int8 tolerance (docs/frontend.md), what a build with CMSIS-DSP's FFT must meet against
#: the built-in one where the two differ: at most one step, on at most 0.1% of the elements.
INT8_MAX_STEP = 1
INT8_EQUAL_MIN = 0.999


@dataclass(frozen=True, kw_only=True)
class CmsisDsp:
    """A validated CMSIS-DSP tree: its FFT sources, include directories and the defines to build with."""

    root: Path

    @classmethod
    def at(cls, path: str | Path) -> "CmsisDsp":
        """The tree at ``path``; :class:`InputError` naming the first missing file otherwise."""
        root = Path(path).expanduser().resolve()
        if not root.is_dir():
            raise InputError(path, "not a directory (expected a CMSIS-DSP source tree)")
        for rel in (*FFT_SOURCES, "Include/arm_math.h", "Include/dsp/transform_functions.h"):
            if not (root / rel).is_file():
                raise InputError(root / rel, "missing: not a CMSIS-DSP 1.10+ source tree")
        text = (root / "Source/TransformFunctions/arm_cfft_init_f32.c").read_text(errors="replace")
        if "arm_cfft_init_2048_f32" not in text and "CFFTINIT_F32(2048" not in text:
            raise InputError(root / "Source/TransformFunctions/arm_cfft_init_f32.c",
                             "no per-size arm_cfft_init_<N>_f32 (CMSIS-DSP older than 1.10)")
        return cls(root=root)

    @property
    def sources(self) -> tuple[Path, ...]:
        return tuple(self.root / s for s in FFT_SOURCES)

    @property
    def include_dirs(self) -> tuple[Path, ...]:
        return tuple(self.root / d for d in INCLUDE_DIRS)

    def cflags(self) -> tuple[str, ...]:
        """Defines and include flags for every file of a build that uses the tree."""
        return (f"-D{FE_DEFINE}", f"-D{NO_CORE_DEFINE}", *(f"-I{d}" for d in self.include_dirs))

    def host_objects(self, compiler: str, out_dir: Path) -> list[Path]:
        """The FFT sources compiled for the host into ``out_dir`` (tinyasc's host flags, warnings off: not our code)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        objects = []
        for k, src in enumerate(self.sources):
            obj = out_dir / f"cmsis{k}_{src.stem}.o"
            cmd = [compiler, *host_cflags(), "-w", *self.cflags(), "-c", str(src), "-o", str(obj)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"CMSIS-DSP build failed ({' '.join(cmd)}):\n{proc.stderr[-4000:]}")
            objects.append(obj)
        return objects


def default_tree() -> CmsisDsp:
    """The tree named by ``$TINYASC_CMSIS_DSP``, else the repository's ``.cache/cmsis-dsp`` (setup.sh --test)."""
    env = os.environ.get(ENV)
    if env:
        return CmsisDsp.at(env)
    repo = Path(__file__).resolve().parents[3]
    cache = repo / ".cache" / "cmsis-dsp"
    if not cache.is_dir():
        raise InputError(cache, f"no CMSIS-DSP tree: run `bash tools/setup.sh --test` or set ${ENV}")
    return CmsisDsp.at(cache)
