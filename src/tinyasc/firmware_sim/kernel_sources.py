"""Which C files of the kernel library define each kernel a generated model calls.

The shipped library holds only the files its model needs (``tinyasc_opt_conv2d_s8`` on a
Cortex-M4 pulls in the dispatcher and the DSP kernels; on a Cortex-M55 the Helium ones; the sparse
kernel only for a model with a sparse layer, whose generated code records ``tinyasc_sparse_conv2d_s8``). ``tests/test_firmware_library.py`` links every symbol's closure on its own, so a
missing dependency fails the suite, not a user's build.
"""

from __future__ import annotations

from pathlib import Path

from tinyasc.firmware_sim.target import IsaFeature, SPECS, Target

C_DIR = Path(__file__).resolve().parent / "c"

#: The headers every library carries (``include/`` of the shipped directory).
PORTABLE_HEADERS = ("include/tinyasc_kernels.h",)
OPTIMIZED_HEADERS = ("opt/tinyasc_opt.h", "sparse/tinyasc_sparse.h")

_CONV = "kernels/conv.c"
_BINARY = "kernels/binary.c"
_MOVE = "kernels/data_movement.c"
_INT16 = "kernels/int16.c"
#: The optimized convolution: dispatcher + the core's SIMD file (added per core) + the one-input-channel
#: kernel of the DSP cores (empty elsewhere). Sparse weights carry a pointer to their kernel, so the sparse
#: kernel (and its 8,960 B of tables) is linked only where a layer's weights are sparse.
_OPT_CONV = ("opt/tinyasc_opt_ref.c", "opt/tinyasc_opt_conv_c1.c")
SIMD = "<simd>"

#: Kernel symbol -> C files (relative to ``c/``) it needs; ``SIMD`` stands for the core's file.
KERNEL_SOURCES: dict[str, tuple[str, ...]] = {
    # portable int8
    "tinyasc_conv2d_s8": (_CONV,),
    "tinyasc_depthwise_conv2d_s8": (_CONV,),
    "tinyasc_conv2d_1x1_inplace_s8": (_CONV,),
    "tinyasc_conv_col_inplace_s8": (_CONV,),
    "tinyasc_band_affine_s8": (_CONV,),
    "tinyasc_fully_connected_s8": ("kernels/fully_connected.c",),
    "tinyasc_add_s8": (_BINARY,),
    "tinyasc_sub_s8": (_BINARY,),
    "tinyasc_mul_s8": (_BINARY,),
    "tinyasc_squared_difference_s8": (_BINARY,),
    "tinyasc_logistic_s8": ("kernels/unary.c",),
    "tinyasc_rsqrt_s8": ("kernels/unary.c",),
    "tinyasc_softmax_s8": ("kernels/unary.c",),
    "tinyasc_max_pool_s8": ("kernels/pooling.c",),
    "tinyasc_avg_pool_s8": ("kernels/pooling.c",),
    "tinyasc_mean_s8": ("kernels/reduce.c",),
    "tinyasc_mean_of_mul_s8": ("kernels/reduce.c",),
    "tinyasc_mean_acc_s8": ("kernels/reduce.c",),
    "tinyasc_mean_finish_s8": ("kernels/reduce.c",),
    "tinyasc_pad_view_s8": (_MOVE,),
    "tinyasc_shift_columns": (_MOVE,),
    "tinyasc_pad_s8": (_MOVE,),
    "tinyasc_transpose_s8": (_MOVE,),
    "tinyasc_concat_part_s8": (_MOVE,),
    # portable 16x8
    "tinyasc_conv2d_16x8": (_INT16,),
    "tinyasc_depthwise_conv2d_16x8": (_INT16,),
    "tinyasc_add_s16": (_INT16,),
    "tinyasc_mul_s16": (_INT16,),
    "tinyasc_logistic_s16": (_INT16,),
    "tinyasc_max_pool_s16": (_INT16,),
    "tinyasc_mean_s16": (_INT16,),
    "tinyasc_pad_s16": (_INT16,),
    "tinyasc_transpose_s16": (_INT16,),
    # optimized (Cortex-M); each falls back to its portable twin for shapes it does not cover
    "tinyasc_opt_conv2d_s8": (*_OPT_CONV, SIMD),
    "tinyasc_sparse_conv2d_s8": ("sparse/tinyasc_sparse.c",),
    "tinyasc_opt_depthwise_conv2d_s8": (*_OPT_CONV, SIMD),
    "tinyasc_opt_conv2d_1x1_inplace_s8": ("opt/tinyasc_opt_inplace.c", *_OPT_CONV, SIMD),
    "tinyasc_opt_conv_col_inplace_s8": ("opt/tinyasc_opt_inplace.c", *_OPT_CONV, SIMD),
    "tinyasc_opt_band_affine_s8": (*_OPT_CONV, SIMD),
    "tinyasc_opt_max_pool_s8": ("opt/tinyasc_opt_pool.c",),
    "tinyasc_opt_add_s8": ("opt/tinyasc_opt_binary.c", _BINARY),
    "tinyasc_opt_sub_s8": ("opt/tinyasc_opt_binary.c", _BINARY),
    "tinyasc_opt_mul_s8": ("opt/tinyasc_opt_binary.c", _BINARY),
    "tinyasc_opt_squared_difference_s8": ("opt/tinyasc_opt_binary.c", _BINARY),
}


#: Static RAM (``.bss`` + ``.data`` bytes) each C file holds when compiled for a core with the library's
#: flags (scratch tables of the optimized kernels; the portable kernels hold none). Counted against
#: ``asc-firmware --ram-budget``; ``tests/test_firmware_tiling.py`` recompiles every file and checks
#: these figures, so a kernel that grows its scratch fails the suite instead of a user's budget.
STATIC_RAM: dict[str, dict[str, int]] = {
    "cortex-m4": {"opt/tinyasc_opt_binary.c": 2048, "opt/tinyasc_opt_dsp.c": 7188, "opt/tinyasc_opt_inplace.c": 4096,
                  "opt/tinyasc_opt_ref.c": 2304, "sparse/tinyasc_sparse.c": 8960},
    "cortex-m7": {"opt/tinyasc_opt_binary.c": 2048, "opt/tinyasc_opt_dsp.c": 7188, "opt/tinyasc_opt_inplace.c": 4096,
                  "opt/tinyasc_opt_ref.c": 2304, "sparse/tinyasc_sparse.c": 8960},
    "cortex-m55": {"opt/tinyasc_opt_binary.c": 2048, "opt/tinyasc_opt_inplace.c": 4096, "opt/tinyasc_opt_mve.c": 6144,
                   "opt/tinyasc_opt_ref.c": 2304, "sparse/tinyasc_sparse.c": 8960},
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


def sources_for(symbols: set[str] | frozenset[str], core: Target | None) -> tuple[str, ...]:
    """Sorted C files (relative to ``c/``) that define ``symbols`` on ``core`` (None: portable)."""
    unknown = sorted(set(symbols) - set(KERNEL_SOURCES))
    if unknown:
        raise KeyError(f"no source recorded for kernel(s) {unknown}")
    files: set[str] = set()
    simd = simd_source(core)
    for sym in symbols:
        for f in KERNEL_SOURCES[sym]:
            if f == SIMD:
                if simd is not None:
                    files.add(simd)
            else:
                files.add(f)
    return tuple(sorted(files))


def headers_for(symbols: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Headers (relative to ``c/``) a library calling ``symbols`` needs."""
    optimized = any(s.startswith("tinyasc_opt_") for s in symbols)
    return PORTABLE_HEADERS + (OPTIMIZED_HEADERS if optimized else ())
