"""The C files of the kernel library, and which of them define each kernel a generated model calls.

Each operator of the generator's registry lists its :class:`Kernel` records (name, portable files,
optimized files); :func:`symbol_table` of them is the symbol -> files map (``generator.KERNEL_SOURCES``).

The shipped library holds only the files its model needs (``tinyasc_opt_conv2d_s8`` on a
Cortex-M4 pulls in the dispatcher and the DSP kernels; on a Cortex-M55 the Helium ones; the sparse
kernel only for a model with a sparse layer, which calls ``tinyasc_sparse_conv2d_s8`` itself). The generator
names the narrowest kernel a layer can take (sparse, ``conv2d_1x1_s8``), so ``--gc-sections`` drops the general
convolution's paths from a model that has no other layer for them. ``tests/test_firmware_library.py`` links every symbol's closure on its own, so a
missing dependency fails the suite, not a user's build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tinyasc.firmware_sim.target import IsaFeature, SPECS, Target

C_DIR = Path(__file__).resolve().parent / "c"

#: The headers every library carries (``include/`` of the shipped directory).
PORTABLE_HEADERS = ("include/tinyasc_kernels.h",)
OPTIMIZED_HEADERS = ("opt/tinyasc_opt.h", "opt/tinyasc_opt_pairs_asm.h", "sparse/tinyasc_sparse.h",
                     "sparse/tinyasc_sparse_asm.h")

CONV = "kernels/conv.c"
BINARY = "kernels/binary.c"
MOVE = "kernels/data_movement.c"
INT16 = "kernels/int16.c"
UNARY = "kernels/unary.c"
POOLING = "kernels/pooling.c"
REDUCE = "kernels/reduce.c"
SIMD = "<simd>"
#: The optimized convolution: dispatcher + the core's SIMD file (added per core) + the one-input-channel
#: kernel of the DSP cores (empty elsewhere). Sparse weights carry a pointer to their kernel, so the sparse
#: kernel (and its 7,680 B of tables) is linked only where a layer's weights are sparse.
OPT_CONV = ("opt/tinyasc_opt_ref.c", "opt/tinyasc_opt_conv_c1.c", SIMD)
OPT_INPLACE = ("opt/tinyasc_opt_inplace.c", *OPT_CONV)
#: The filter rows in word-interleaved pairs: the DSP cores' pixel pairs, falling back to the portable pairs kernel
OPT_CONV_PAIRS = ("opt/tinyasc_opt_conv_pairs.c", CONV, *OPT_CONV)
OPT_INPLACE_PAIRS = ("opt/tinyasc_opt_inplace_pairs.c", "opt/tinyasc_opt_inplace.c", *OPT_CONV_PAIRS)
OPT_BINARY = ("opt/tinyasc_opt_binary.c", BINARY)
OPT_POOL = ("opt/tinyasc_opt_pool.c",)
OPT_PAD = ("opt/tinyasc_opt_pad.c", MOVE)  # Helium's rows; the portable kernel elsewhere
#: A sub-band affine fused into the ADD that reads it: portable, the two kernels in turn (a file of its own); optimized,
#: the fused loops, else the optimized affine and the ADD's fast entry
BAND_ADD = ("kernels/band_add.c", CONV, BINARY)
OPT_BAND_ADD = ("opt/tinyasc_opt_band_add.c", *OPT_BINARY, *OPT_CONV)
ADD_POOL = ("kernels/add_pool.c",)  # an ADD fused into the MAX_POOL_2D that reads it
OPT_ADD_POOL = OPT_BINARY  # the fused kernel beside the fast ADD's tables
OPT_FC = ("opt/tinyasc_opt_fc.c", "kernels/fully_connected.c")  # falls back to the portable kernel
#: The Helium kernels' planes (one channel's input staged as int8 rows): with either kernel that reads them
PLANE = "opt/tinyasc_opt_plane.c"
OPT_DW_WINDOW = ("opt/tinyasc_opt_dw_window.c", PLANE, *OPT_CONV)  # falls back to the optimized depthwise
#: Helium's three-tap lines on planes, reached from the optimized convolution's line kernel by a weak reference
OPT_LINE3P = ("opt/tinyasc_opt_line3p.c", PLANE, *OPT_CONV)
#: The DSP cores' three-tap line layers in one asm call, reached from the same line kernel by a weak reference
OPT_LINE3_DSP = ("opt/tinyasc_opt_line3_dsp.c", *OPT_CONV)
#: Helium's long depthwise columns by VMLADAVA, reached from the optimized depthwise entry by a weak reference
OPT_DW_TAPS = ("opt/tinyasc_opt_dw_taps.c", *OPT_CONV)
#: Helium's pairs kernels three blocks a step, reached from the im2col and in-place kernels by a weak reference
OPT_PAIRS3 = ("opt/tinyasc_opt_pairs3.c", *OPT_CONV)
OPT_16X8 = ("opt/tinyasc_opt_16x8.c", INT16)
SPARSE = "sparse/tinyasc_sparse.c"
#: The sparse 1x1 in place: the optimized in-place chunk loop around the sparse kernel
SPARSE_INPLACE = ("sparse/tinyasc_sparse_inplace.c", SPARSE, *OPT_INPLACE)
#: The DSP cores' sparse passes on a transposed input, reached from the sparse kernel by a weak reference
SPARSE_T = ("sparse/tinyasc_sparse_t.c",)

@dataclass(frozen=True)
class Kernel:
    """One C kernel an operator's layers may call, and the library files that define it.

    ``tinyasc_<name>`` comes from ``portable``; where the optimized library has a twin,
    ``tinyasc_opt_<name>`` comes from ``optimized`` (``SIMD`` standing for the core's SIMD file). Each
    operator of the generator's registry lists its kernels (:attr:`.generator.OpSpec.kernels`), and
    :func:`symbol_table` turns the registry into the symbol -> files map a library is assembled from.
    """

    name: str
    portable: tuple[str, ...]
    optimized: tuple[str, ...] | None = None
    #: Reached from another kernel through a weak reference (``tinyasc_opt.h``), not called by a layer: its file also
    #: defines :attr:`link_symbol`, which the generated model refers to, so that a static archive (CMake's
    #: ``libtinyasc.a``) links the file as the measured build does (a weak reference alone extracts no member).
    weak: bool = False

    @property
    def link_symbol(self) -> str:
        """The strong symbol a weakly reached kernel's file defines (``tinyasc_<name>_linked``)."""
        return f"tinyasc_{self.name}_linked"

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.portable:
            raise ValueError(f"kernel {self.name!r}: needs a C identifier and at least one source file")
        for f in (*self.portable, *(self.optimized or ())):
            if f != SIMD and not (C_DIR / f).is_file():
                raise ValueError(f"kernel {self.name}: no C file {f}")

    @property
    def symbols(self) -> dict[str, tuple[str, ...]]:
        """C symbol -> files, for the portable kernel and its optimized twin if any."""
        table = {f"tinyasc_{self.name}": self.portable}
        if self.optimized is not None:
            table[f"tinyasc_opt_{self.name}"] = self.optimized
        return table


def symbol_table(kernels: "Iterable[Kernel]") -> dict[str, tuple[str, ...]]:
    """Symbol -> files of every kernel; a kernel several operators list must name the same files each time."""
    table: dict[str, tuple[str, ...]] = {}
    for k in kernels:
        for sym, files in k.symbols.items():
            if table.setdefault(sym, files) != files:
                raise ValueError(f"kernel {sym} listed with two different file sets: {table[sym]} and {files}")
    return table


#: Static RAM (``.bss`` + ``.data`` bytes) each C file holds when compiled for a core with the library's
#: flags (scratch tables of the optimized kernels; the portable kernels hold none). Counted against
#: ``asc-firmware --ram-budget``; ``tests/test_firmware_tiling.py`` recompiles every file and checks
#: these figures, so a kernel that grows its scratch fails the suite instead of a user's budget.
STATIC_RAM: dict[str, dict[str, int]] = {
    "cortex-m4": {"opt/tinyasc_opt_16x8.c": 6152, "opt/tinyasc_opt_binary.c": 2048, "opt/tinyasc_opt_dsp.c": 7188,
                  "opt/tinyasc_opt_inplace.c": 4096, "opt/tinyasc_opt_ref.c": 3072, "sparse/tinyasc_sparse.c": 7684},
    "cortex-m7": {"opt/tinyasc_opt_16x8.c": 6152, "opt/tinyasc_opt_binary.c": 2048, "opt/tinyasc_opt_dsp.c": 7188,
                  "opt/tinyasc_opt_inplace.c": 4096, "opt/tinyasc_opt_ref.c": 3072, "sparse/tinyasc_sparse.c": 7684},
    "cortex-m55": {"opt/tinyasc_opt_16x8.c": 4096, "opt/tinyasc_opt_binary.c": 2048, "opt/tinyasc_opt_inplace.c": 4096,
                   "opt/tinyasc_opt_mve.c": 6240, "opt/tinyasc_opt_ref.c": 3072, "sparse/tinyasc_sparse.c": 7680},
}


def static_ram(files: tuple[str, ...] | list[str], core: Target | None) -> int:
    """Static RAM of ``files`` (relative to ``c/``) on ``core`` (an upper bound: the linker may drop some)."""
    table = STATIC_RAM.get(core.value, {}) if core is not None else {}
    return sum(table.get(f, 0) for f in files)


def simd_source(core: Target | None) -> str | None:
    """The SIMD convolution file of ``core``: Helium on an MVE core, DSP otherwise; None for portable C."""
    if core is None:
        return None
    isa = SPECS[core].isa
    if IsaFeature.MVE in isa:
        return "opt/tinyasc_opt_mve.c"
    return "opt/tinyasc_opt_dsp.c" if IsaFeature.DSP in isa else None


def sources_for(symbols: set[str] | frozenset[str], core: Target | None,
                table: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Sorted C files (relative to ``c/``) that define ``symbols`` on ``core`` (None: portable), from ``table``
    (:func:`symbol_table` of the registry: :data:`.generator.KERNEL_SOURCES`)."""
    unknown = sorted(set(symbols) - set(table))
    if unknown:
        raise KeyError(f"no source recorded for kernel(s) {unknown}")
    files: set[str] = set()
    simd = simd_source(core)
    for sym in symbols:
        for f in table[sym]:
            if f == SIMD:
                if simd is not None:
                    files.add(simd)
            else:
                files.add(f)
    return tuple(sorted(files))


def headers_for(symbols: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Headers (relative to ``c/``) a library calling ``symbols`` needs."""
    optimized = any(s.startswith(("tinyasc_opt_", "tinyasc_sparse_")) for s in symbols)
    return PORTABLE_HEADERS + (OPTIMIZED_HEADERS if optimized else ())
