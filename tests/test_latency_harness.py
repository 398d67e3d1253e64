"""The latency harness itself: exact and deterministic instruction counts, the plugin against
the plugin-free icount fallback, the instruction classifier, the timing model, and the
missing-toolchain message.

The self-test firmware (targets/selftest) is one int8 3x3 convolution, 12x12x16 -> 16
channels (331,776 MACs), built with the pinned Debian toolchain (gcc-arm-none-eabi 12.2,
QEMU 7.2). Its per-layer counts are pinned exactly: any change in the startup code, the
plugin, the marker protocol, the compiler flags or the kernels shows here. If a deliberate
change moves them, update the pins together with docs/latency.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyasc.firmware_sim import harness as L

SELFTEST_MACS = 12 * 12 * 16 * 3 * 3 * 16
#: Exact instructions of layer 0 of the self-test (portable loop, optimized kernels) per core, with
#: Debian 12's gcc-arm-none-eabi 12.2 and QEMU 7.2 (both loops requantize with tinyasc_opt_requant).
#: Session 41: the shorter tinyasc_srdhm (one shift) and the INT32_MIN multiplier's MBQM out of line moved GCC's code
#: for the portable loop: M4 2,626,498 -> 2,648,479, M7 2,659,970 -> 2,646,175, M55 2,349,981 -> 2,368,172; the M4's
#: optimized layer 511,200 -> 511,189. Session 43: the pixel pairs' constants in one block per pair and their pointers
#: in registers (conv2x2_dsp): the M4's optimized layer 511,189 -> 499,870. Session 47: conv2x2_dsp's loop eight k a
#: turn (one SUBS and branch per two quads): 499,870 -> 480,286; both windows' quads in one LDM: -> 459,550. Session 48:
#: the fast output path's body shared with the row pairs (simd_conv_fast: a call and the layout decided at run time;
#: generated libraries send such layers to tinyasc_opt_conv2d_pairs_s8, which this self-test does not call): -> 461,060.
#: Session 52: a window row of 32 bytes or more gathered in one asm call (gather_quads_dsp): the M4's 461,060 ->
#: 421,442, then 421,554 (the staged rows' last word moved GCC's code for the border windows' tap loop); on the M55 cols_conv_rows out of line (shared with the entry generated libraries now call for this layer,
#: tinyasc_opt_conv2d_c16_s8, which this self-test does not call): 101,075 -> 101,424. Session 58: Helium's pairs with
#: the first block by VMLADAV, both pixels' outputs narrowed into one scatter, three blocks a step (the self-test
#: compiles every c/opt file, tinyasc_opt_pairs3.c included) and the channel constants' sums by whole blocks:
#: 101,424 -> 97,074. Session 59: the short-row gather (cols_gather, commit 4dcb4c8) moved GCC's code for cols_conv,
#: the im2col entry that hands this layer to cols_conv_rows: 97,074 -> 97,073.
PINNED = {
    (L.Target.CORTEX_M4, False): 2648479,
    (L.Target.CORTEX_M7, False): 2646175,
    (L.Target.CORTEX_M55, False): 2368172,
    # pairs of channels in asm (conv2x2_dsp, session 36; was 597,544); 421,554 -> 419,920 in session 61 (outputs in
    # six instructions where seven; the pixel loop's bookkeeping for pairing a row's last pixel with the next row's
    # first: +492); -> 420,059 in session 62 (the layer's test for windows three at a time, which rows as they are
    # never take: conv3x2p_dsp reads rows in pairs)
    (L.Target.CORTEX_M4, True): 420059,
    # im2col + two pixels per pass (session 35: 273,414 -> 115,059); window pairs against the rows in place (36);
    # 101,088 -> 101,075 in session 37 (the dense per-pixel loop moved into conv_pixels: GCC's code moved)
    (L.Target.CORTEX_M55, True): 97073,
}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    return L.build_plugin(tmp_path_factory.mktemp("plugin"))


def _selftest(target: L.Target, optimized: bool, work: Path, plugin: Path) -> tuple[L.RunOutput, dict[str, int]]:
    build = L.build_target(L.selftest_sources(optimized=optimized), target, work)
    run = L.run_qemu(build, work, plugin=plugin)
    assert len(run.snapshots) == 4  # (-1,0) (0,0) (0,1) (-1,1)
    return run, L.diff_counts(run.snapshots[1], run.snapshots[2])


@pytest.mark.arm
@pytest.mark.parametrize("target,optimized", list(PINNED), ids=lambda v: getattr(v, "value", str(v)))
def test_pinned_instruction_count(target, optimized, plugin, tmp_path):
    run, layer = _selftest(target, optimized, tmp_path, plugin)
    assert L.instructions(layer) == PINNED[(target, optimized)], {k: v for k, v in layer.items() if v}
    # the portable and optimized builds compute the same bytes
    assert run.outputs[0][:4].hex() == "3dfefef9"
    # classifier sanity: the portable loop does one MLA per MAC, SMLAD does two, VMLADAVA sixteen
    if not optimized:
        assert layer["mul"] >= SELFTEST_MACS
    elif target is L.Target.CORTEX_M55:
        assert layer["mve"] >= SELFTEST_MACS // 16 and layer["mve_ldst"] > 0
    else:
        assert layer["mul"] >= SELFTEST_MACS // 2 and layer["simd"] > 0


@pytest.mark.arm
def test_counts_are_deterministic(plugin, tmp_path):
    build = L.build_target(L.selftest_sources(optimized=True), L.Target.CORTEX_M7, tmp_path)
    a = L.run_qemu(build, tmp_path / "a", plugin=plugin)
    b = L.run_qemu(build, tmp_path / "b", plugin=plugin)
    assert a.snapshots == b.snapshots and a.total == b.total
    assert a.outputs == b.outputs


@pytest.mark.arm
@pytest.mark.parametrize("target", [L.Target.CORTEX_M4, L.Target.CORTEX_M7], ids=lambda t: t.value)
def test_plugin_agrees_with_icount_fallback(target, plugin, tmp_path):
    """-icount shift=0 advances virtual time 1 ns per instruction; the FPGAIO counter ticks at
    25 MHz, so one tick is 40 instructions. Tolerance: one tick of quantization plus one of
    phase (80 instructions) plus the counter reads around the markers (8)."""
    spec = L.SPECS[target]
    build = L.build_target(L.selftest_sources(optimized=False), target, tmp_path, icount_counter=True, name="ic")
    fallback = L.run_qemu(build, tmp_path / "icount", plugin=None, icount=True)
    counted = L.run_qemu(build, tmp_path / "plugin", plugin=plugin)
    n = L.instructions(L.diff_counts(counted.snapshots[0], counted.snapshots[-1]))
    per_tick = 1e9 / spec.counter_hz
    assert len(fallback.counter_ticks) == 1
    estimate = fallback.counter_ticks[0] * per_tick
    assert abs(estimate - n) <= 2 * per_tick + 8, (estimate, n)
    assert fallback.outputs == counted.outputs


def test_classifier_trusts_the_first_halfword_for_the_length(tmp_path):
    """The plugin's classifier alone (compiled with TINYASC_COUNT_SELFTEST): QEMU 7.2 reports some 16-bit
    instructions near the end of a page with the next halfword appended (found at 0x7ffc: a CMP followed by a BNE,
    size 4), which the classifier once read as a 32-bit STM of nine registers (ten estimated cycles instead of one,
    for a loop's every pass); the length comes from the first halfword. A 64-bit VLDR / VSTR moves two words, as a
    VLDM of two does (the M4's TRM: 3 cycles), not one; VDIV and VSQRT are their own class (14 cycles, not 1), and
    so are the multiply-accumulates (3 on the M4, not 1)."""
    exe = tmp_path / "classify"
    subprocess.run(["gcc", "-O2", "-DTINYASC_COUNT_SELFTEST", "-ffunction-sections", "-Wl,--gc-sections", "-o",
                    str(exe), str(L.TARGETS_DIR / "plugin" / "tinyasc_count.c")], check=True, capture_output=True)
    cases = {
        "0029d3d1": "alu 0",  # cmp r1, #0 with the next bne's halfword appended
        "0029": "alu 0",  # the same cmp as QEMU usually reports it
        "2de9f04f": "store_multi 9",  # push.w {r4-r11, lr}
        "f0b5": "store_multi 5",  # push {r4-r7, lr}
        "dce90331": "load_multi 1",  # ldrd r3, r1, [ip, #12]
        "12fa81fc": "simd 0",  # uxtah ip, r2, r1
        "11fb2e99": "mul 0",  # smlatb r9, r1, lr, r9
        "0ceb430c": "alu 0",  # add.w ip, ip, r3, lsl #1
        "d1d3": "branch 0",  # bne
        "93ed380b": "fp_ldst 1",  # vldr d0, [r3, #224]: two words, as VLDM of two (M4: 3 cycles)
        "82ed007b": "fp_ldst 1",  # vstr d7, [r2]
        "93ed020a": "fp_ldst 0",  # vldr s0, [r3, #8]
        "93ec020a": "fp_ldst 1",  # vldmia r3, {s0-s1}
        "2ded028b": "fp_ldst 1",  # vpush {d8}
        "87ee260a": "fp_div 0",  # vdiv.f32 s0, s14, s13 (M4: 14 cycles)
        "f1eec07a": "fp_div 0",  # vsqrt.f32 s15, s0
        "f1ee410a": "fp 0",  # vneg.f32 s1, s2: VSQRT's first halfword
        "61ee210a": "fp 0",  # vmul.f32 s1, s2, s3
        "41ee210a": "fp_mac 0",  # vmla.f32 s1, s2, s3 (M4: 3 cycles, chained: rounds like vmul + vadd)
        "41ee610a": "fp_mac 0",  # vmls.f32 s1, s2, s3
        "51ee610a": "fp_mac 0",  # vnmla.f32 s1, s2, s3
        "51ee210a": "fp_mac 0",  # vnmls.f32 s1, s2, s3
        "e1ee210a": "fp_mac 0",  # vfma.f32 s1, s2, s3
        "e1ee610a": "fp_mac 0",  # vfms.f32 s1, s2, s3
        "d1ee610a": "fp_mac 0",  # vfnma.f32 s1, s2, s3
        "d1ee210a": "fp_mac 0",  # vfnms.f32 s1, s2, s3
        "61ee610a": "fp 0",  # vnmul.f32 s1, s2, s3
        "71ee210a": "fp 0",  # vadd.f32 s1, s2, s3
        "00ee902a": "fp 0",  # vmov s1, r2 (VMLA's first halfword, a core-register transfer)
        "f7ee000a": "fp 0",  # vmov.f32 s1, #1.0
    }
    out = subprocess.run([str(exe), *cases], check=True, capture_output=True, text=True).stdout.split("\n")
    assert out[:len(cases)] == list(cases.values())


def test_timing_model_arithmetic():
    m = L.TimingModel.load(L.Target.CORTEX_M4)
    counts = {c: 0 for c in L.CLASSES} | {L.XFER: 0}
    counts.update(alu=10, load=5, branch=3, load_multi=2, xfer_regs=8)
    assert m.cycles(counts) == 10 * 1 + 5 * 2 + 3 * 2 + 2 * 1 + 8 * 1
    assert L.instructions(counts) == 20  # registers moved are not instructions
    for t in L.Target:  # every core's table covers every class the plugin reports
        assert set(L.TimingModel.load(t).cpi) >= set(L.CLASSES)


def _cli(args: list[str], path: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=path)
    return subprocess.run([sys.executable, "-m", "tinyasc.firmware_sim.latency_cli", *args], env=env,
                          capture_output=True, text=True)


def test_missing_toolchain_names_apt_packages(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\0" * 16)
    proc = _cli([str(model), "--target", "cortex-m55", "--out", str(tmp_path / "o")], path=str(tmp_path / "empty"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for pkg in ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm"):
        assert pkg in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_qemu_only(tmp_path):
    """Cross compiler present, QEMU absent: only qemu-system-arm is named."""
    import shutil

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for prog in ("arm-none-eabi-gcc", "arm-none-eabi-size", "gcc"):
        real = shutil.which(prog)
        assert real, f"{prog} must be installed for this test (.ci/run installs it)"
        (bindir / prog).symlink_to(real)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\0" * 16)
    proc = _cli([str(model), "--out", str(tmp_path / "o")], path=str(bindir))
    assert proc.returncode == 2
    assert "qemu-system-arm" in proc.stderr and "gcc-arm-none-eabi" not in proc.stderr, proc.stderr
