"""The C library a user ships (``asc-firmware --target``) is the one tinyasc measures.

A tiny int8 net with a tinyasc deployed contract (so the library carries the C front end) is
written for cortex-m4 and built the ways a user builds it: ``make``, ``make target``, CMake for
the host and with the shipped toolchain file. Its example classifies a clip exactly as TFLite
Micro does on the C front end's features of the same clip (tolerance: the same label and the
same int8 scores, both are integer pipelines). ``asc-latency DIR`` compiles exactly the files
``library.json`` lists. Every kernel symbol the generator can call links from the files
``kernel_sources`` names for it, on the host and on both Cortex-M instruction sets.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_firmware_support import convert, write
from tinyasc.contract import TFLITE_CONTRACT_KEY, DeployedContract, FeatureConfig
from tinyasc.firmware_sim import kernel_sources as ks
from tinyasc.firmware_sim.cli import main as firmware_main
from tinyasc.firmware_sim.library import LibraryManifest, sha256, write_library
from tinyasc.firmware_sim.target import LibraryTarget, Target

CFG = FeatureConfig(n_mels=16, clip_seconds=0.3)
LABELS = ("airport", "bus", "metro", "park")


def _net():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w1 = (rng.normal(size=(3, 3, 1, 8)) * 0.6).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 8, 32)) * 0.4).astype(np.float32)
    w2[np.abs(w2) < 0.45] = 0  # pruned pointwise conv: its sparse encoding is smaller
    w3 = (rng.normal(size=(1, 1, 32, 4)) * 0.4).astype(np.float32)

    def net(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME"))
        y = tf.nn.relu(tf.nn.conv2d(y, w2, 1, "SAME"))
        y = y + tf.reduce_mean(y, axis=[1], keepdims=True)
        return tf.reduce_mean(tf.nn.conv2d(y, w3, 1, "SAME"), axis=[1, 2])

    return net


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from tinyasc.export._onnx2tf_worker import add_metadata

    d = tmp_path_factory.mktemp("libmodel")
    path = write(d / "m.tflite", convert(_net(), (1, CFG.n_mels, CFG.n_frames, 1), lo=-3.0, hi=3.0))
    contract = DeployedContract(feature_config=CFG, labels=LABELS, input_resnorm=(0.1, 1e-5))
    add_metadata(path, {TFLITE_CONTRACT_KEY: contract.to_json()})
    return path


@pytest.fixture(scope="module")
def lib_m4(model, tmp_path_factory):
    return write_library(model, tmp_path_factory.mktemp("lib") / "m4", target=LibraryTarget.CORTEX_M4)


def _run(cmd, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def test_library_holds_the_fast_kernels_the_front_end_and_build_files(lib_m4):
    d, m, art = lib_m4.out_dir, lib_m4.manifest, lib_m4.firmware
    assert m.target is LibraryTarget.CORTEX_M4 and m.frontend and m.sparse_weights
    # every layer calls the optimized twin where the optimized library has one
    assert "tinyasc_opt_add_fast_s8" in art.kernels
    assert {"tinyasc_opt_conv2d_s8", "tinyasc_opt_conv2d_pairs_s8"} & set(art.kernels)  # the rows in pairs on the M4
    assert "tinyasc_conv2d_s8" not in art.kernels and not {"tinyasc_add_s8", "tinyasc_opt_add_s8"} & set(art.kernels)
    assert "kernels/tinyasc_opt_dsp.c" in m.sources and "kernels/tinyasc_opt_mve.c" not in m.sources
    assert [r["layer"] for r in art.sparse_layers if r["used"]] == [1]
    model_c = (d / "model.c").read_text()
    assert ".stride_w = 1" in model_c and ".sparse = &l1_sparse" in model_c  # designated initializers
    for f in ("CMakeLists.txt", "Makefile", "README.md", "cmake/arm-none-eabi.cmake", "example/main.c", "labels.h",
              "frontend/tinyasc_frontend.c", "frontend/frontend_tables.h", "tinyasc_listen.c", "tinyasc_listen.h"):
        assert (d / f).is_file(), f
    assert set(m.sources) <= set(m.files_sha256)
    assert '"park"' in (d / "labels.h").read_text()
    # the README names the directory that ships, not the staging directory it was written in
    assert f"`asc-latency {d.name}`" in (d / "README.md").read_text()
    m.verify(d)  # every listed file is there, unchanged


def test_make_host_build_and_example_label_equals_tflm(lib_m4, model, tmp_path):
    from tinyasc.firmware_sim.frontend import (build_frontend_host, run_frontend_listen_host, run_frontend_stream_host,
                                               write_frontend)
    from tinyasc.tflite_io.tflm import run as tflm_run

    d = tmp_path / "lib"
    shutil.copytree(lib_m4.out_dir, d)
    proc = _run(["make", "-j2"], d)
    assert "warning:" not in proc.stderr, proc.stderr[-2000:]
    pcm = (np.sin(np.arange(CFG.clip_samples) * 0.07) * 8000).astype("<i2")
    clip = tmp_path / "clip.raw"
    clip.write_bytes(pcm.tobytes())
    out = _run([str(d / "build" / "host" / "tinyasc_example"), str(clip)], d).stdout.splitlines()
    label = out[0].split()
    scores = np.array([int(line.split()[2]) for line in out[1:]])
    # the same clip through the C front end alone, then TFLite Micro
    art = lib_m4.firmware
    fe = write_frontend(CFG, art.input_scale, art.input_zero_point, tmp_path / "fe", input_resnorm=(0.1, 1e-5))
    build_frontend_host(fe)
    # the example streams the clip in 512-sample chunks (the ResNorm front end's 0.125-nat log-mel codes)
    q = run_frontend_stream_host(fe, pcm, 512)
    ref, _ = tflm_run(model, q.reshape(1, *art.input_shape))
    ref = np.asarray(ref).reshape(-1)
    assert np.array_equal(scores, ref.astype(int))
    assert label == ["label", str(int(np.argmax(ref))), LABELS[int(np.argmax(ref))]]
    # continuous listening (tinyasc_stream_push / classify) on 1.3 s of audio: a label after the first
    # second and at the end; the last scores are TFLite Micro's on the listening front end's window
    rng = np.random.default_rng(3)
    stream = (np.sin(np.arange(20800) * 0.05) * 6000 + rng.normal(size=20800) * 500).astype("<i2")
    (tmp_path / "stream.raw").write_bytes(stream.tobytes())
    out = _run([str(d / "build" / "host" / "tinyasc_example"), "--listen", str(tmp_path / "stream.raw")],
               d).stdout.splitlines()
    heard = [line.split() for line in out if line.startswith("listen ")]
    assert [h[1] for h in heard] == ["16384", "20800"]
    scores = np.array([int(line.split()[2]) for line in out if line.startswith("score ")])
    _, window, _ = run_frontend_listen_host(fe, stream, 512)
    ref, _ = tflm_run(model, window.reshape(1, *art.input_shape))
    ref = np.asarray(ref).reshape(-1)
    assert np.array_equal(scores, ref.astype(int))
    assert heard[-1][2:] == ["label", str(int(np.argmax(ref))), LABELS[int(np.argmax(ref))]]
    # less than a window of audio: one line, exit 2
    (tmp_path / "short.raw").write_bytes(stream[:1000].tobytes())
    proc = subprocess.run([str(d / "build" / "host" / "tinyasc_example"), "--listen", str(tmp_path / "short.raw")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.arm
def test_target_builds_with_make_and_cmake(lib_m4, tmp_path):
    d = tmp_path / "lib"
    shutil.copytree(lib_m4.out_dir, d)
    proc = _run(["make", "-j2", "target"], d)
    assert "warning:" not in proc.stderr, proc.stderr[-2000:]
    assert (d / "build" / "cortex-m4" / "tinyasc_example.elf").is_file()
    _run(["cmake", "-S", ".", "-B", "bt", "-DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake"], d)
    proc = _run(["cmake", "--build", "bt"], d)
    assert "warning:" not in proc.stdout + proc.stderr
    elf = d / "bt" / "tinyasc_example"
    assert elf.is_file() and elf.read_bytes()[:4] == b"\x7fELF"
    _run(["cmake", "-S", ".", "-B", "bh"], d)
    _run(["cmake", "--build", "bh"], d)
    assert "label " in _run([str(d / "bh" / "tinyasc_example")], d).stdout


def test_make_with_cmsis_dsp_swaps_in_its_fft(lib_m4, tmp_path):
    """``make CMSIS_DSP=<tree>``: the same library with CMSIS-DSP's complex FFT in the front end (its files
    compiled apart, without warnings). The FFTs differ by float32 rounding (tests/test_frontend_cmsis_dsp.py);
    on this clip the example's int8 scores are the built-in FFT's (no input step flips the scores)."""
    from tinyasc.firmware_sim.cmsis_dsp import default_tree

    tree = default_tree()
    d = tmp_path / "lib"
    shutil.copytree(lib_m4.out_dir, d)
    pcm = (np.sin(np.arange(CFG.clip_samples) * 0.07) * 8000).astype("<i2")
    (tmp_path / "clip.raw").write_bytes(pcm.tobytes())
    runs = {}
    for name, extra in (("builtin", []), ("cmsis", [f"CMSIS_DSP={tree.root}"])):
        _run(["make", "clean"], d)
        proc = _run(["make", "-j2", *extra], d)
        assert "warning:" not in proc.stderr, proc.stderr[-2000:]
        syms = _run(["nm", str(d / "build" / "host" / "libtinyasc.a")], d).stdout
        assert ("T arm_cfft_f32" in syms) == (name == "cmsis")
        runs[name] = _run([str(d / "build" / "host" / "tinyasc_example"), str(tmp_path / "clip.raw")], d).stdout
    assert runs["cmsis"] == runs["builtin"] and runs["cmsis"].startswith("label ")


@pytest.mark.arm
def test_cortex_m55_target_with_cmsis_dsp_links_its_helium_fft(model, tmp_path):
    from tinyasc.firmware_sim.cmsis_dsp import default_tree

    tree = default_tree()
    lib = write_library(model, tmp_path / "m55", target=LibraryTarget.CORTEX_M55)
    proc = _run(["make", "-j2", "target", f"CMSIS_DSP={tree.root}"], lib.out_dir)
    assert "warning:" not in proc.stderr, proc.stderr[-2000:]
    elf = lib.out_dir / "build" / "cortex-m55" / "tinyasc_example.elf"
    syms = _run(["arm-none-eabi-nm", str(elf)], lib.out_dir).stdout
    assert "_arm_radix4_butterfly_f32_mve" in syms  # CMSIS-DSP's Helium FFT, kept by --gc-sections
    _run(["cmake", "-S", ".", "-B", "bt", "-DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake",
          f"-DCMSIS_DSP={tree.root}"], lib.out_dir)
    proc = _run(["cmake", "--build", "bt"], lib.out_dir)
    assert "warning:" not in proc.stdout + proc.stderr
    syms = _run(["arm-none-eabi-nm", str(lib.out_dir / "bt" / "tinyasc_example")], lib.out_dir).stdout
    assert "_arm_radix4_butterfly_f32_mve" in syms


@pytest.mark.arm
def test_latency_with_cmsis_dsp_measures_that_build(model, tmp_path, capsys):
    """``asc-latency DIR --cmsis-dsp TREE``: model + front end as ``make CMSIS_DSP=TREE`` builds them; the front
    end's output is held to its int8 tolerance against the host build (on the M55 Helium's float order differs)."""
    from tinyasc.firmware_sim.cmsis_dsp import default_tree
    from tinyasc.firmware_sim.latency_cli import main as latency_main

    tree = default_tree()
    lib = write_library(model, tmp_path / "m55", target=LibraryTarget.CORTEX_M55)
    reps = {}
    for name, extra in (("builtin", []), ("cmsis", ["--cmsis-dsp", str(tree.root)])):
        assert latency_main([str(lib.out_dir), "--model", str(model), "--out", str(tmp_path / name), *extra]) == 0
        reps[name] = json.loads((tmp_path / name / "latency.json").read_text())
    b, c = reps["builtin"], reps["cmsis"]
    assert b["build"]["frontend_fft"] == "built-in" and c["build"]["frontend_fft"] == f"cmsis-dsp {tree.root}"
    assert b["parity"]["frontend_exact_required"] and not c["parity"]["frontend_exact_required"]
    assert c["parity"]["frontend_ok"] and c["parity"]["tflm_equal"]
    assert "-DTINYASC_FE_CMSIS_DSP=1" in c["build"]["cflags"]
    # the same model code, another FFT: the model's count is unchanged, the front end's is not
    assert c["total_instructions"] == b["total_instructions"]
    assert c["frontend"]["instructions"] != b["frontend"]["instructions"]
    capsys.readouterr()
    # a library whose front end predates the switch would silently measure the built-in FFT: refused in one line
    fe_c = lib.out_dir / "frontend" / "tinyasc_frontend.c"
    fe_c.write_text(fe_c.read_text().replace("TINYASC_FE_CMSIS_DSP", "TINYASC_FE_OTHER"))
    manifest = json.loads((lib.out_dir / "library.json").read_text())  # as an older tinyasc wrote it: hashes agree
    manifest["files_sha256"]["frontend/tinyasc_frontend.c"] = sha256(fe_c)
    (lib.out_dir / "library.json").write_text(json.dumps(manifest))
    assert latency_main([str(lib.out_dir), "--cmsis-dsp", str(tree.root), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tinyasc_frontend.c" in err[0] and "no CMSIS-DSP build" in err[0]
    assert latency_main([str(lib.out_dir), "--cmsis-dsp", str(tmp_path / "no_tree"), "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_tree" in err[0]


@pytest.mark.arm
@pytest.mark.slow
def test_latency_measures_exactly_the_shipped_files(lib_m4, model, tmp_path, capsys):
    from tinyasc.firmware_sim.latency_cli import main as latency_main

    d = tmp_path / "lib"
    shutil.copytree(lib_m4.out_dir, d)
    assert latency_main([str(d), "--model", str(model), "--out", str(tmp_path / "lat")]) == 0
    rep = json.loads((tmp_path / "lat" / "latency.json").read_text())
    m = LibraryManifest.load(d)
    assert rep["parity"]["tflm_equal"] and rep["build"]["library_target"] == "cortex-m4"
    assert set(rep["build"]["sources_sha256"]) == set(m.sources)
    assert all(m.files_sha256[f] == h for f, h in rep["build"]["sources_sha256"].items())
    arch = " ".join(rep["build"]["cflags"])
    assert all(flag in rep["build"]["cflags"] for flag in m.cflags) and "-mcpu=cortex-m4" in arch
    assert rep["frontend"]["instructions"] > 0
    capsys.readouterr()
    # a changed file is refused: the figures would not be the shipped library's
    with (d / "model.c").open("a") as fh:
        fh.write("/* edited */\n")
    assert latency_main([str(d), "--out", str(tmp_path / "lat2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.c" in err[0] and "changed" in err[0]


def _pointwise_net():
    """One-channel input widened by a broadcast MUL, then a pruned and a dense 1x1 convolution: no CONV_2D that
    needs the general convolution (windows, groups or one input channel)."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    gain = rng.uniform(0.5, 1.5, size=(1, 1, 1, 8)).astype(np.float32)
    w1 = (rng.normal(size=(1, 1, 8, 32)) * 0.4).astype(np.float32)
    w1[np.abs(w1) < 0.6] = 0  # pruned: sparse on the DSP cores
    w2 = (rng.normal(size=(1, 1, 32, 32)) * 0.3).astype(np.float32)
    w3 = (rng.normal(size=(1, 1, 32, 4)) * 0.4).astype(np.float32)

    def net(x):
        y = tf.nn.relu(tf.nn.conv2d(x * gain, w1, 1, "VALID"))
        z = tf.nn.conv2d(y, w2, 1, "VALID") + y  # y is read again: this 1x1 cannot run in place
        return tf.reduce_mean(tf.nn.conv2d(z, w3, 1, "VALID"), axis=[1, 2])

    return net


@pytest.mark.arm
@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M55], ids=lambda t: t.value)
def test_sparse_and_1x1_layers_link_no_general_convolution(target, tmp_path):
    """The generator calls the sparse kernels and the 1x1 entry point (``tinyasc_opt_conv2d_1x1_s8``; on the M4 the
    row pairs' entry, ``tinyasc_opt_conv2d_pairs_s8``) itself, so a model without other convolutions ships none of
    the general convolution's kernels (grouped, one-input-channel): the linked example holds neither them nor the
    dispatcher that picks among them."""
    path = write(tmp_path / "pw.tflite", convert(_pointwise_net(), (1, 8, 6, 1), lo=-2.0, hi=2.0))
    lib = write_library(path, tmp_path / "lib", target=target)
    calls = set(re.findall(r"(tinyasc_\w+)\(", (lib.out_dir / "model.c").read_text()))
    # the pruned 8 -> 32 layer (about 20% dense) is sparse on both: on the M55 Helium's planes are estimated faster
    # than its dense pointwise kernel there (sparse.helium_planes_pay), and its descriptor says so
    assert {"tinyasc_sparse_conv2d_s8", "tinyasc_sparse_conv2d_1x1_inplace_s8"} & calls, calls
    planes_flag = ".planes = 1," in (lib.out_dir / "model.c").read_text()
    assert planes_flag == (target is LibraryTarget.CORTEX_M55)
    # the dense 1x1: Helium's 1x1 entry; on the M4 its rows in word-interleaved pairs (generator.conv_pairs_ok)
    one_by_one = "tinyasc_opt_conv2d_pairs_s8" if target is LibraryTarget.CORTEX_M4 else "tinyasc_opt_conv2d_1x1_s8"
    assert one_by_one in calls, calls
    assert "tinyasc_opt_conv2d_s8" not in calls
    _run(["make", "-j2", "target"], lib.out_dir)
    elf = lib.out_dir / "build" / target.value / "tinyasc_example.elf"
    syms = {line.split()[-1] for line in _run(["arm-none-eabi-nm", str(elf)], lib.out_dir).stdout.splitlines()}
    assert "tinyasc_sparse_conv2d_s8" in syms
    assert one_by_one in syms
    general = {"tinyasc_opt_conv2d_s8", "tinyasc_chan_conv_s8", "tinyasc_simd_conv_c1_s8", "tinyasc_conv_c1_s8",
               "cols_conv", "mve_conv_c1"}
    assert not general & syms, general & syms


def _entry_net():
    """A broadcast MUL, a depthwise column (multiplier 1), a 1x1 on 24 channels in place, a broadcast ADD: layers
    whose entries link no loop behind their fast kernels."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    w1 = (rng.normal(size=(3, 3, 1, 24)) * 0.5).astype(np.float32)
    gain = rng.uniform(0.5, 1.5, size=(1, 1, 1, 24)).astype(np.float32)
    d = (rng.normal(size=(3, 1, 24, 1)) * 0.5).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 24, 24)) * 0.3).astype(np.float32)
    w3 = (rng.normal(size=(1, 1, 24, 4)) * 0.4).astype(np.float32)

    def net(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME")) * gain
        y = tf.nn.depthwise_conv2d(y, d, (1, 1, 1, 1), "SAME") + y  # y is read again: not in place
        z = tf.nn.relu(tf.nn.conv2d(y, w2, 1, "SAME"))
        z = z + tf.reduce_mean(z, axis=[1], keepdims=True)
        return tf.reduce_mean(tf.nn.conv2d(z, w3, 1, "SAME"), axis=[1, 2])

    return net


@pytest.mark.arm
@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M55], ids=lambda t: t.value)
def test_fast_entries_link_no_loop_behind_them(target, tmp_path):
    """Element-wise layers call the ``_fast`` entries, a depthwise layer of multiplier 1 the depthwise entry (its
    SIMD kernel takes every such layer) and a 1x1 in place on inputs not a multiple of 16 the chunked entry: the
    linked example holds no portable element-wise kernel, no depthwise loop and, on Helium, no in-place kernel."""
    path = write(tmp_path / "e.tflite", convert(_entry_net(), (1, 8, 6, 1), lo=-2.0, hi=2.0))
    lib = write_library(path, tmp_path / "lib", target=target)
    calls = set(re.findall(r"(tinyasc_\w+)\(", (lib.out_dir / "model.c").read_text()))
    want = {"tinyasc_opt_mul_fast_s8", "tinyasc_opt_add_fast_s8", "tinyasc_opt_depthwise_conv2d_s8"}
    assert want <= calls, calls
    assert not {"tinyasc_opt_add_s8", "tinyasc_opt_mul_s8", "tinyasc_opt_conv2d_1x1_inplace_c16_s8"} & calls, calls
    assert calls & {"tinyasc_opt_conv2d_1x1_inplace_s8", "tinyasc_opt_conv2d_1x1_inplace_pairs_s8",
                    "tinyasc_sparse_conv2d_1x1_inplace_s8"}, calls
    _run(["make", "-j2", "target"], lib.out_dir)
    elf = lib.out_dir / "build" / target.value / "tinyasc_example.elf"
    nm = _run(["arm-none-eabi-nm", str(elf)], lib.out_dir).stdout.splitlines()
    syms = {line.split()[-1].split(".")[0] for line in nm}  # run_binary.constprop.0 -> run_binary
    assert {"tinyasc_opt_add_fast_s8", "tinyasc_opt_depthwise_conv2d_s8"} <= syms
    # (rows_groups, the in-place kernel's pair loops, is shared with the im2col path this model's first layer links)
    # nor Helium's windows read in place, which only the entry of dense layers on 16k input channels links
    loops = {"tinyasc_add_s8", "tinyasc_mul_s8", "run_binary", "tinyasc_ref_depthwise_conv2d_s8",
             "tinyasc_simd_conv2d_1x1_inplace_s8", "tinyasc_simd_conv2d_c16_s8", "win_groups", "pw_pairs_win_mve"}
    assert not loops & syms, loops & syms


def _c16_net():
    """A 1x1 from one channel to 16, a 3x3 on those 16 (SAME) and a 1x1 at stride 2 on them: dense weights."""
    import tensorflow as tf

    rng = np.random.default_rng(5)
    w0 = (rng.normal(size=(1, 1, 1, 16)) * 0.5).astype(np.float32)
    w1 = (rng.normal(size=(3, 3, 16, 16)) * 0.2).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 16, 8)) * 0.3).astype(np.float32)

    def net(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w0, 1, "VALID"))
        y = tf.nn.conv2d(y, w1, 1, "SAME")
        return tf.reduce_mean(tf.nn.conv2d(y, w2, 2, "VALID"), axis=[1, 2])

    return net


@pytest.mark.parametrize("target", [LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M55], ids=lambda t: t.value)
def test_dense_layers_on_16k_channels_call_their_entry(target, tmp_path):
    """Dense layers on inputs a multiple of 16, other than a 1x1 of the input's size, call their own entry
    (``tinyasc_opt_conv2d_c16_s8``: Helium reads their windows inside the input in place), so that other models link
    none of it; on the M4 both take the row pairs' entry first (generator.conv_pairs_ok)."""
    path = write(tmp_path / "c16.tflite", convert(_c16_net(), (1, 9, 8, 1), lo=-2.0, hi=2.0))
    lib = write_library(path, tmp_path / "lib", target=target, dense=True)
    calls = re.findall(r"(tinyasc_\w+)\(&l(\d+)_p", (lib.out_dir / "model.c").read_text())
    by_layer = {int(i): fn for fn, i in calls}
    entry = "tinyasc_opt_conv2d_pairs_s8" if target is LibraryTarget.CORTEX_M4 else "tinyasc_opt_conv2d_c16_s8"
    assert by_layer[1] == by_layer[2] == entry, by_layer  # the 3x3 and the strided 1x1
    assert "tinyasc_opt_conv2d_c16_s8" not in by_layer[0], by_layer  # one input channel (in place)


@pytest.mark.parametrize("core", [None, Target.CORTEX_M4, Target.CORTEX_M55], ids=lambda c: c.value if c else "host")
def test_every_kernel_links_from_its_recorded_sources(core, tmp_path):
    """A library holds only the files the op registry's kernels name (``generator.KERNEL_SOURCES``): each
    symbol must link from them alone."""
    if core is not None and shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("arm-none-eabi-gcc missing: tools/setup.sh installs it")
    from tinyasc.firmware_sim.generator import KERNEL_SOURCES

    symbols = [s for s in KERNEL_SOURCES if core is not None or not s.startswith("tinyasc_opt_")]
    from tinyasc.firmware_sim import toolchain
    from tinyasc.firmware_sim.target import SPECS

    inc = [f"-I{ks.C_DIR / h.rsplit('/', 1)[0]}" for h in (*ks.PORTABLE_HEADERS, *ks.OPTIMIZED_HEADERS)]
    cc = ["gcc"] if core is None else ["arm-none-eabi-gcc", *SPECS[core].arch_flags, "--specs=nosys.specs"]
    objects: dict[str, Path] = {}  # each file compiled once; every symbol's link takes all of its files' objects

    def compiled(f: str) -> Path:
        if f not in objects:
            objects[f] = tmp_path / f"{len(objects)}_{Path(f).stem}.o"
            _run([*cc, *toolchain.OPTIMIZATION, "-std=c99", *inc, "-c", str(ks.C_DIR / f), "-o", str(objects[f])],
                 tmp_path)
        return objects[f]

    for sym in symbols:
        main = tmp_path / f"{sym}.c"
        main.write_text(f"extern void {sym}(void);\nint main(void) {{ void (*volatile f)(void) = {sym}; "
                        "return f != 0; }\n")
        objs = [str(compiled(f)) for f in ks.sources_for({sym}, core, KERNEL_SOURCES)]
        _run([*cc, *toolchain.OPTIMIZATION, "-std=c99", *inc, str(main), *objs, "-o", str(tmp_path / sym), "-lm"],
             tmp_path)


def test_bad_input_one_line_and_nothing_written(model, tmp_path, capsys):
    out = tmp_path / "o"
    assert firmware_main([str(model), "--target", "cortex-m3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cortex-m3" in err[0] and not out.exists()
    # a directory that is not a tinyasc library is never replaced
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    assert firmware_main([str(model), "--target", "cortex-m4", "--out", str(keep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(keep) in err[0] and (keep / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".o.*")) and not list(tmp_path.glob(".mine.*"))  # no temporary directory left


def test_model_without_contract_ships_without_front_end_and_says_why(tmp_path):
    plain = write(tmp_path / "plain.tflite", convert(_net(), (1, CFG.n_mels, CFG.n_frames, 1), lo=-3.0, hi=3.0))
    lib = write_library(plain, tmp_path / "lib", target=LibraryTarget.PORTABLE)
    assert not lib.manifest.frontend and "contract" in lib.manifest.frontend_note
    assert not (tmp_path / "lib" / "frontend").exists()
    assert not [k for k in lib.firmware.kernels if k.startswith("tinyasc_opt_")]
    assert "contract" in (tmp_path / "lib" / "README.md").read_text()
    proc = _run(["make"], tmp_path / "lib")
    assert "warning:" not in proc.stderr
