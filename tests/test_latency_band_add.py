"""The sub-band affine fused into its ADD (tinyasc_opt_band_add_s8) against the portable fused kernel (the affine, then
the ADD: the unfused layers' integers), on the host and under QEMU on every core (the M4 and M7 take the tables and asm
over bands of at least 384 pixels, the M55 Helium). Tolerance: zero differing output bytes, and none written past the
output. The cases cover channels not a multiple of four, short bands, affines that saturate at both ends, extreme zero
points, either ADD input as the band's, in place and not, and the parameters the fused loops leave to the unfused
kernels (a clamped output, the row as the halved input, a left shift in an affine).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_firmware_support import selftest_rows
from tinyasc.firmware_sim import harness as L
from tinyasc.firmware_sim import quant

SELFTEST = L.TARGETS_DIR / "selftest"

# name: (H, W, C, bands, band_in, in_place, variant)
CASES = {
    "c8_bands384": (64, 12, 8, 2, 1, True, ""),  # the DSP asm on whole groups of four
    "c6_bands384_saturating": (48, 16, 6, 2, 1, True, "sat"),  # a tail of two; affines saturating at both ends
    "c20_quick_shape": (32, 17, 20, 4, 1, True, ""),  # the quick model's first block, a quarter of its rows
    "c5_short_bands": (8, 3, 5, 4, 1, True, ""),  # bands of six pixels: the DSP cores' unfused kernels
    "c7_band_second": (48, 8, 7, 1, 2, True, ""),  # the band the ADD's second input
    "c4_not_in_place": (64, 6, 4, 1, 1, False, ""),  # the DSP cores copy the input first
    "c6_zero_points_extreme": (48, 16, 6, 2, 1, True, "zp"),
    "c4_clamped": (16, 4, 4, 2, 1, True, "relu"),  # a ReLU range: the unfused kernels
    "c4_row_halved": (16, 4, 4, 2, 1, True, "row_halved"),  # the row the halved input: the unfused kernels
    "c9_left_shift": (32, 12, 9, 1, 1, True, "left"),  # one affine with a left shift: Helium leaves it unfused
    # bands of 128 pixels (the DSP cores compute the affine in asm per channel), a left-shifted affine among them (its
    # channel in C), and not in place
    "c30_bands128_left": (64, 8, 30, 4, 1, True, "left"),
    "c5_bands128_not_in_place_sat": (32, 16, 5, 4, 1, False, "sat"),
}


def _c(vals) -> str:
    return "{" + ", ".join(str(int(v)) for v in np.asarray(vals).reshape(-1)) + "}"


def _strides(shape, out):
    st = [int(np.prod(shape[k + 1:])) for k in range(6)]
    return [0 if (shape[k] == 1 and out[k] != 1) else st[k] for k in range(6)]


def write_cases(path: Path, seed: int = 17) -> None:
    rng = np.random.default_rng(seed)
    decls, entries, biggest = [], [], 1
    for i, (name, (h, w, c, bands, band_in, in_place, variant)) in enumerate(CASES.items()):
        k, rows = c * bands, h // bands
        zx, zb = (int(v) for v in rng.integers(-100, 100, size=2))
        if variant == "zp":
            zx, zb = -128, 127
        filt = rng.integers(-127, 128, size=k)
        filt[filt == 0] = 1
        reals = rng.uniform(0.002, 0.03, size=k) * (8.0 if variant == "sat" else 1.0)
        mult, shift = zip(*(quant.quantize_multiplier(float(r)) for r in reals))
        mult, shift = list(mult), list(shift)
        if variant == "left":
            mult[3], shift[3] = quant.quantize_multiplier(3.0)  # a shift of +2
        bias = rng.integers(-3000, 3000, size=k)
        s_band, s_row = 0.08, 0.03
        if variant == "row_halved":
            s_band, s_row = s_row, s_band
        s_out = 0.1
        s1, s2 = (s_band, s_row) if band_in == 1 else (s_row, s_band)
        m1, h1, m2, h2, mo, ho = quant.add_params(s1, s2, s_out)
        z1, z2, zo = (int(v) for v in rng.integers(-60, 60, size=3))
        if variant == "zp":
            zo = -128
        amin = zo if variant == "relu" else -128
        out = [1, 1, 1, h, w, c]
        band_shape, row_shape = [1, 1, 1, h, w, c], [1, 1, 1, 1, w, c]
        sa, sb = (band_shape, row_shape) if band_in == 1 else (row_shape, band_shape)
        x = rng.integers(-128, 128, size=h * w * c)
        x[: c * w] = -128  # the first row all min, the last all max
        x[-c * w:] = 127
        y = rng.integers(-128, 128, size=w * c)
        biggest = max(biggest, h * w * c)
        decls.append(f"static const int8_t a{i}_f[] = {_c(filt)};\nstatic const int32_t a{i}_b[] = {_c(bias)};\n"
                     f"static const int32_t a{i}_m[] = {_c(mult)};\nstatic const int32_t a{i}_s[] = {_c(shift)};\n"
                     f"static const int8_t a{i}_x[] = {_c(x)};\nstatic const int8_t a{i}_y[] = {_c(y)};\n")
        entries.append(
            f"  {{.bp = {{.h = {h}, .w = {w}, .c = {c}, .bands = {bands}}},\n"
            f"   .cp = {{.batches = 1, .in_h = {rows}, .in_w = {w}, .in_c = {k}, .out_h = {rows}, .out_w = {w}, "
            f".out_c = {k}, .k_h = 1, .k_w = 1, .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_h = 0, "
            f".pad_w = 0, .filter_in_c = 1, .depth_multiplier = 1, .input_offset = {-zx}, .output_offset = {zb}, "
            f".act_min = -128, .act_max = 127}},\n"
            f"   .w = {{.data = a{i}_f, .bias = a{i}_b, .multiplier = a{i}_m, .shift = a{i}_s, .sparse = 0}},\n"
            f"   .ap = {{.size = {h * w * c}, .broadcast = 1, .out_dims = {_c(out)}, .in1_strides = "
            f"{_c(_strides(sa, out))}, .in2_strides = {_c(_strides(sb, out))}, .in1_offset = {-z1}, "
            f".in2_offset = {-z2}, .out_offset = {zo}, .left_shift = 20, .in1_mult = {m1}, .in1_shift = {h1}, "
            f".in2_mult = {m2}, .in2_shift = {h2}, .out_mult = {mo}, .out_shift = {ho}, .act_min = {amin}, "
            f".act_max = 127}},\n"
            f"   .band_in = {band_in}, .in_place = {int(in_place)}, .x = a{i}_x, .y = a{i}_y}},")
    path.write_text("\n".join(decls) + f"\n#define BACASE_COUNT {len(CASES)}\n#define BACASE_MAX {biggest}\n"
                    "static const bacase bacases[BACASE_COUNT] = {\n" + "\n".join(entries) + "\n};\n")


def _sources(case_dir: Path) -> L.FirmwareSources:
    c = L.C_DIR
    return L.FirmwareSources(
        model_dir=case_dir,
        kernel_sources=(c / "kernels" / "band_add.c", c / "kernels" / "conv.c", c / "kernels" / "binary.c",
                        c / "opt" / "tinyasc_opt_band_add.c",
                        c / "opt" / "tinyasc_opt_binary.c", c / "opt" / "tinyasc_opt_ref.c",
                        c / "opt" / "tinyasc_opt_conv_c1.c", c / "opt" / "tinyasc_opt_dsp.c",
                        c / "opt" / "tinyasc_opt_mve.c"),
        include_dirs=(c / "include", c / "opt", c / "sparse"))


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bacases")
    write_cases(d / "band_add_cases.h")
    return d


@pytest.mark.parametrize("target", [None, *L.Target], ids=lambda t: "host" if t is None else t.value)
def test_band_add_bit_exact(case_dir, target, tmp_path):
    rows = selftest_rows(_sources(case_dir), target, tmp_path, SELFTEST / "band_add_check.c", "bacheck", "BAND_ADD")
    assert len(rows) == len(CASES)
    for name, (bad, _) in zip(CASES, rows):
        assert bad == 0, f"{name}: {bad} bytes differ"
    assert len({s for _, s in rows}) == len(rows)  # distinct outputs: no case is trivially constant
