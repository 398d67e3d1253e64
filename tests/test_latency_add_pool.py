"""The ADD fused into the MAX_POOL_2D that reads it (tinyasc_opt_add_max_pool_s8) against the portable fused kernel (the
largest of each window's ADD outputs: the unfused layers' integers), on the host and under QEMU on every core (the M55
runs Helium: a row's whole 2 x 2 windows four channels per vector from the table, any other window the ADD's outputs
lane by lane; the host and the DSP cores the scalar loops). Tolerance: zero differing output bytes, and none written
past the output. The cases cover the quick model's shape (an odd width whose last column no window reads), channels
not a multiple of four, either input halved, a clamped ADD, extreme zero points, windows clipped by SAME padding, a
clamped pooling and inputs rescaled by neither one half, in place over input 1 and not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_firmware_support import selftest_rows
from tinyasc.firmware_sim import harness as L
from tinyasc.firmware_sim import quant

SELFTEST = L.TARGETS_DIR / "selftest"

# name: (H, W, C, filter, stride, pad, in_place, variant)
CASES = {
    "c20_quick_shape": (32, 17, 20, 2, 2, 0, True, ""),  # the quick model's first pooling, a quarter of its rows
    "c30_tail_of_two": (16, 8, 30, 2, 2, 0, True, ""),  # seven groups of four and a predicated two
    "c7_not_in_place": (12, 10, 7, 2, 2, 0, False, ""),
    "c8_second_halved": (10, 6, 8, 2, 2, 0, True, "second"),  # input 2 exactly halved
    "c6_add_relu": (8, 9, 6, 2, 2, 0, True, "relu"),  # the ADD clamped at its zero point (its fused ReLU)
    "c5_zero_points_extreme": (9, 7, 5, 2, 2, 0, False, "zp"),
    "c4_window3_same": (11, 9, 4, 3, 2, 1, False, ""),  # windows clipped by the padding: no 2 x 2 run
    "c4_pool_clamped": (8, 8, 4, 2, 2, 0, True, "pool_relu"),  # the pooling's range not all of int8
    "c6_neither_halved": (8, 6, 6, 2, 2, 0, True, "neither"),  # both inputs rescaled by less than one half
    "c1_one_channel": (6, 6, 1, 2, 1, 0, False, ""),  # stride 1: windows overlap
}


def _c(vals) -> str:
    return "{" + ", ".join(str(int(v)) for v in np.asarray(vals).reshape(-1)) + "}"


def _add_consts(variant: str) -> tuple[int, ...]:
    """A case's ADD rescalings (m1, sh1, m2, sh2, m_out, sh_out): TFLite's Prepare for input scales 0.08 and 0.05
    (swapped: "second", input 2 the halved one), or inputs rescaled by 0.4 and 0.3 of the doubled scale ("neither":
    not TFLite's, neither input halved)."""
    s1, s2 = (0.05, 0.08) if variant == "second" else (0.08, 0.05)
    m1, h1, m2, h2, mo, ho = quant.add_params(s1, s2, 0.1)
    if variant == "neither":
        (m1, h1), (m2, h2) = quant.quantize_multiplier_lt1(0.4), quant.quantize_multiplier_lt1(0.3)
    return m1, h1, m2, h2, mo, ho


def write_cases(path: Path, seed: int = 23) -> None:
    rng = np.random.default_rng(seed)
    decls, entries, biggest = [], [], 1
    for i, (name, (h, w, c, f, s, pad, in_place, variant)) in enumerate(CASES.items()):
        oh, ow = (h + 2 * pad - f) // s + 1, (w + 2 * pad - f) // s + 1
        m1, h1, m2, h2, mo, ho = _add_consts(variant)
        z1, z2, zo = (int(v) for v in rng.integers(-60, 60, size=3))
        if variant == "zp":
            z1, z2, zo = -128, 127, -128
        amin = zo if variant == "relu" else -128
        pmin = -20 if variant == "pool_relu" else -128
        a = rng.integers(-128, 128, size=h * w * c)
        b = rng.integers(-128, 128, size=h * w * c)
        a[: w * c], b[-w * c:] = -128, 127  # a row of minima, one of maxima
        biggest = max(biggest, h * w * c)
        decls.append(f"static const int8_t p{i}_a[] = {_c(a)};\nstatic const int8_t p{i}_b[] = {_c(b)};\n")
        out = [1, 1, 1, h, w, c]
        entries.append(
            f"  {{.ap = {{.size = {h * w * c}, .broadcast = 0, .out_dims = {_c(out)}, "
            f".in1_strides = {_c([h * w * c] * 3 + [w * c, c, 1])}, .in2_strides = {_c([h * w * c] * 3 + [w * c, c, 1])}, "
            f".in1_offset = {-z1}, .in2_offset = {-z2}, .out_offset = {zo}, .left_shift = 20, .in1_mult = {m1}, "
            f".in1_shift = {h1}, .in2_mult = {m2}, .in2_shift = {h2}, .out_mult = {mo}, .out_shift = {ho}, "
            f".act_min = {amin}, .act_max = 127}},\n"
            f"   .pp = {{.batches = 1, .in_h = {h}, .in_w = {w}, .channels = {c}, .out_h = {oh}, .out_w = {ow}, "
            f".f_h = {f}, .f_w = {f}, .stride_h = {s}, .stride_w = {s}, .pad_h = {pad}, .pad_w = {pad}, "
            f".act_min = {pmin}, .act_max = 127}},\n"
            f"   .in_place = {int(in_place)}, .a = p{i}_a, .b = p{i}_b}},")
    path.write_text("\n".join(decls) + f"\n#define APCASE_COUNT {len(CASES)}\n#define APCASE_MAX {biggest}\n"
                    "static const apcase apcases[APCASE_COUNT] = {\n" + "\n".join(entries) + "\n};\n")


def _sources(case_dir: Path) -> L.FirmwareSources:
    c = L.C_DIR
    return L.FirmwareSources(
        model_dir=case_dir,
        kernel_sources=(c / "kernels" / "add_pool.c", c / "kernels" / "binary.c", c / "opt" / "tinyasc_opt_binary.c"),
        include_dirs=(c / "include", c / "opt", c / "sparse"))


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("apcases")
    write_cases(d / "add_pool_cases.h")
    return d


def test_cases_reach_every_path():
    """The cases' parameters as the kernel reads them: the fast loops' precondition (one input exactly halved) holds
    for all but one, which is a valid ADD all the same (every multiplier valid: the kernel's precondition)."""
    halved = 0
    for *_, variant in CASES.values():
        m1, h1, m2, h2, mo, ho = _add_consts(variant)
        assert quant.fast_rescalings(m1, h1, m2, h2, mo, ho, "add")
        halved += (m1, h1) == (1 << 30, 0) or (m2, h2) == (1 << 30, 0)
    assert halved == len(CASES) - 1


@pytest.mark.parametrize("target", [None, *L.Target], ids=lambda t: "host" if t is None else t.value)
def test_add_pool_bit_exact(case_dir, target, tmp_path):
    rows = selftest_rows(_sources(case_dir), target, tmp_path, SELFTEST / "add_pool_check.c", "apcheck", "ADD_POOL")
    assert len(rows) == len(CASES)
    for name, (bad, _) in zip(CASES, rows):
        assert bad == 0, f"{name}: {bad} bytes differ"
    assert len({s for _, s in rows}) == len(rows)  # distinct outputs: no case is trivially constant
