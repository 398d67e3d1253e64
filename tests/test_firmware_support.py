"""Shared helpers for the firmware tests: tiny integer TFLite models made with TensorFlow's converter.

No tests live here. Each builder returns the .tflite bytes of a full-integer model (int8, or
16x8, input and output) calibrated on a small representative dataset.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tinyasc.firmware_sim.params import ConvParams

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def convert(fn: Callable, input_shape: Sequence[int], *, seed: int = 0, lo: float = -1.0,
            hi: float = 1.0, n_rep: int = 8, int16: bool = False) -> bytes:
    """Full-integer int8 conversion of ``fn`` (one float input) with TFLiteConverter; ``int16``:
    16x8 instead (int16 activations and I/O, int8 weights, int64 biases)."""
    import tensorflow as tf

    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(input_shape, tf.float32))
    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(n_rep):
            yield [rng.uniform(lo, hi, size=input_shape).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn.__self__ if hasattr(fn, "__self__") else None)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
                                      if int16 else tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int16 if int16 else tf.int8
    conv.inference_output_type = tf.int16 if int16 else tf.int8
    return conv.convert()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def edge_inputs(shape: Sequence[int], n: int, seed: int = 0, dtype=np.int8) -> np.ndarray:
    """``n`` integer inputs: uniform over the full range of ``dtype``, the first two all min and all max."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    x = rng.integers(info.min, info.max + 1, size=(n, *shape), dtype=np.int64).astype(dtype)
    if n >= 3:
        x[0] = info.min
        x[1] = info.max
    return x


def selftest_rows(sources, target, tmp_path: Path, main: Path, name: str, tag: str) -> list[tuple[int, int]]:
    """A self-check program (``main``, one of ``targets/selftest``) built with ``sources`` for the host (``target``
    None) or a core and run there (under QEMU): its ``TINYASC <tag> <case> <differing bytes> <checksum>`` lines as
    (differing bytes, checksum) per case, in order."""
    from tinyasc.firmware_sim import harness as L

    if target is None:
        text = L.run([L.build_host(sources, tmp_path, main_source=main, name=name)]).stdout
    else:
        build = L.build_target(sources, target, tmp_path, main_source=main, profile=False, name=name)
        L.run_qemu(build, tmp_path / "run", plugin=None)
        text = (tmp_path / "run" / f"{name}.semihost.txt").read_text()
    return [(int(p[3]), int(p[4])) for p in (line.split() for line in text.splitlines()) if p[:2] == ["TINYASC", tag]]


def line3_params(h: int, **kw) -> ConvParams:
    """A depthwise 3 x 1 layer down lines of ``h`` outputs (SAME, 8 channels, 5 lines), its fields overridden by
    ``kw``: the line kernels' generator rules (test_firmware_line3p.py, test_firmware_line3_dsp.py)."""
    base = dict(batches=1, in_h=h, in_w=5, in_c=8, out_h=h, out_w=5, out_c=8, k_h=3, k_w=1, stride_h=1, stride_w=1,
                dil_h=1, dil_w=1, pad_h=1, pad_w=0, filter_in_c=1, depth_multiplier=1, input_offset=3,
                output_offset=-5, act_min=-128, act_max=127)
    base.update(kw)
    return ConvParams(**base)


def cmake_target_symbols(lib_dir: Path) -> str:
    """The symbols (``arm-none-eabi-nm``) of the example a library's CMake file builds for its core in ``lib_dir/bt``:
    the static library ``libtinyasc.a`` linked as a user's project links it."""
    for cmd in (["cmake", "-S", ".", "-B", "bt", "-DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake"],
                ["cmake", "--build", "bt"]):
        proc = subprocess.run(cmd, cwd=lib_dir, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return subprocess.run(["arm-none-eabi-nm", str(lib_dir / "bt" / "tinyasc_example")], capture_output=True,
                          text=True, check=True).stdout


def check_weak_kernel_shipped(path: Path, out: Path, target, file: str, expected: bool, input_shape: Sequence[int],
                              seed: int, *, sparse_weights: bool = False) -> None:
    """The library generated from ``path`` for ``target`` into ``out`` ships the weakly reached kernel file ``file``
    (in its sources, in ``kernels/``, and model.c's strong reference to its ``_linked`` symbol) exactly where
    ``expected``, and equals TensorFlow Lite Micro on every layer on the host (the weakly reached kernels' own tests
    run them on their core: test_latency_kernels.py); ``sparse_weights``: the generator's option, as ``asc-firmware
    --target`` sets it."""
    from tinyasc.firmware_sim.build import build_host
    from tinyasc.firmware_sim.generator import GeneratorOptions, generate
    from tinyasc.firmware_sim.parity import check_parity

    art = generate(path, out, options=GeneratorOptions(target=target, measure_tflm_arena=False,
                                                       sparse_weights=sparse_weights))
    shipped = any(s.endswith(file) for s in art.sources)
    assert shipped == expected, art.sources
    assert (art.out_dir / "kernels" / file).exists() == shipped
    link = f"tinyasc_{Path(file).stem.removeprefix('tinyasc_opt_').removeprefix('tinyasc_')}_s8_linked"
    assert (link in (art.out_dir / "model.c").read_text()) == shipped
    res = check_parity(art, edge_inputs(tuple(input_shape), 6, seed=seed), debug_layers=True,
                       exe=build_host(art.out_dir, dump=True))
    assert res.identical, res.summary()


def check_static_library_links(path: Path, out: Path, target, file: str, symbol: str, expected: bool) -> None:
    """CMake's ``libtinyasc.a`` built from the library of ``path`` for ``target``: its example links ``symbol`` exactly
    where the library ships ``file``, and it ships it where ``expected`` (a weak reference alone extracts no archive
    member: the generated model refers to the file's ``_linked`` symbol)."""
    from tinyasc.firmware_sim.library import write_library

    d = write_library(path, out, target=target, frontend=False).out_dir
    shipped = (d / "kernels" / file).exists()
    assert shipped == expected
    assert (symbol in cmake_target_symbols(d)) == shipped
