"""The optimized 16x8 kernels (int16 activations, int8 weights) against the portable ones.

One C program (targets/selftest/kernel16_check.c) runs every case below through the portable int16
kernel of c/kernels/int16.c and through its ``tinyasc_opt_`` twin a Cortex-M library calls, on the
host (the plain-C blocking) and on each emulated core (M4 and M7 take the SMLAD / SMLAxy / SSUB16
paths, M55 the Helium ones). Tolerance: zero differing output bytes (the optimized kernels promise
bit-exactness with TFLM's 64-bit reference; the portable kernels are compared with TFLite Micro in
test_firmware_ops.py). The same program checks the 16x8 folded rescaling (``tinyasc_rq16_apply``)
against ``tinyasc_mbqm64`` on a million triples on the host, 100,000 on each core.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

# the kernel library's portable and optimized files, and the C-case helpers
from test_latency_kernels import _bstrides, _c, _pad, _pad6, _sources
from tinyasc.firmware_sim import harness as L
from tinyasc.firmware_sim import quant

SELFTEST = L.TARGETS_DIR / "selftest"

# Convolutions. kind: "conv" (one group, or grouped with groups_fin input channels per group), "dw"; shifts
# in -16..0 (some channels outside the folded rescaling) unless the name says "fold";
# name: (kind, batches, in_h, in_w, in_c, out_c, k_h, k_w, stride, dil, same, groups_fin, bias)
CONV_CASES = {
    # one group: pixel pairs x channel pairs, a lone last pixel (odd count) and a lone last channel
    "conv3x3_c8_c6_same": ("conv", 1, 7, 9, 8, 6, 3, 3, 1, 1, True, None, True),
    "conv3x3_c5_c7_s2": ("conv", 1, 9, 8, 5, 7, 3, 3, 2, 1, True, None, True),  # K = 45: a partial last quad
    "conv1x1_c20_c10": ("conv", 1, 6, 7, 20, 10, 1, 1, 1, 1, False, None, True),  # Helium: input in place
    "conv1x1_c13_c5_b2": ("conv", 2, 3, 5, 13, 5, 1, 1, 1, 1, False, None, False),
    "conv5x5_c1_c8_s2": ("conv", 1, 12, 11, 1, 8, 5, 5, 2, 1, True, None, True),
    "conv3x1_c6_c4_dil2": ("conv", 1, 11, 5, 6, 4, 3, 1, 1, 2, True, None, True),
    "conv2x3_c12_c7_valid_b2": ("conv", 2, 9, 10, 12, 7, 2, 3, 2, 1, False, None, True),
    # a sum that may leave int32 (600 channels of weight +-127 against +-32767): the portable kernel
    "conv1x1_c600_c3_wide": ("conv", 1, 2, 3, 600, 3, 1, 1, 1, 1, False, None, True),
    # longer windows than the gather buffer holds (TINYASC_OPT16_MAX_K = 1024): the portable kernel
    "conv1x1_c1100_c2_long": ("conv", 1, 1, 2, 1100, 2, 1, 1, 1, 1, False, None, True),
    # channel-wise: grouped CONV_2D with one channel per group (onnx2tf's depthwise) and DEPTHWISE_CONV_2D
    "grouped3x1_c10_same": ("conv", 1, 16, 5, 10, 10, 3, 1, 1, 1, True, 1, True),
    "grouped1x3_c7_valid_b2": ("conv", 2, 5, 9, 7, 7, 1, 3, 1, 1, False, 1, False),
    "grouped3x3_c9_s2_dil2": ("conv", 1, 11, 10, 9, 9, 3, 3, 2, 2, True, 1, True),
    "dw3x3_c16_same": ("dw", 1, 8, 9, 16, 16, 3, 3, 1, 1, True, None, True),
    "dw1x3_c10_s2": ("dw", 1, 5, 11, 10, 10, 1, 3, 2, 1, False, None, True),
    "dw5x5_c6_same_b2": ("dw", 2, 7, 6, 6, 6, 5, 5, 1, 1, True, None, False),
    "dw3x1_c3_dil2": ("dw", 1, 12, 4, 3, 3, 3, 1, 1, 2, True, None, True),
    # depth multiplier 2 and a grouped convolution with 2 channels per group: the portable kernel
    "dw3x3_c3_dm2": ("dw", 1, 6, 6, 3, 6, 3, 3, 1, 1, True, None, True),
    "grouped3x3_c8_fin2": ("conv", 1, 6, 7, 8, 8, 3, 3, 1, 1, True, 2, True),
    # a window longer than TINYASC_OPT16_MAX_TAPS (128): the portable kernel
    "dw130x1_c4": ("dw", 1, 130, 3, 4, 4, 130, 1, 1, 1, False, None, True),
    # "fold": every channel's shift in the folded range (-2 and below), so whole groups take Helium's
    # four-lane rescaling; a column over 128 frequency bands (the quick model's), groups of 4 + 4 + 2;
    # one tap per channel (a per-band affine), groups of 4 + 4 + 1; 100 taps, groups of 4 + 3
    "grouped128x1_c10_fold": ("conv", 1, 128, 3, 10, 10, 128, 1, 1, 1, False, 1, True),
    "grouped1x1_c9_fold": ("conv", 1, 6, 5, 9, 9, 1, 1, 1, 1, False, 1, True),
    "dw100x1_c7_fold_b2": ("dw", 2, 100, 2, 7, 7, 100, 1, 1, 1, False, None, True),
    # one tap, no padding: the per-channel scale loop (pairs of channels on the DSP cores, fours on Helium),
    # stride 2 and batches in the depthwise layout, some shifts outside the folded range (Helium's lane-by-lane
    # fallback)
    "dw1x1_c6_s2_b2": ("dw", 2, 7, 8, 6, 6, 1, 1, 2, 1, False, None, True),
    "grouped1x1_c10": ("conv", 1, 5, 7, 10, 10, 1, 1, 1, 1, False, 1, False),
    # more output channels than one block of rescaling constants (TINYASC_OPT16_RQ_C = 32)
    "conv1x1_c12_c37_fold": ("conv", 1, 4, 5, 12, 37, 1, 1, 1, 1, False, None, True),
}

# MAX_POOL_2D: (batches, in_h, in_w, channels, f_h, f_w, stride_h, stride_w, pad_h, pad_w, act_min, act_max)
POOL_CASES = {
    "max2x2_s2_c10": (1, 16, 9, 10, 2, 2, 2, 2, 0, 0, -32768, 32767),
    "max3x3_s1_same_c7": (1, 7, 6, 7, 3, 3, 1, 1, 1, 1, -32768, 32767),  # clipped windows, an odd last channel
    "max3x2_s2_pad_c5_clamp": (1, 9, 11, 5, 3, 2, 2, 2, 1, 0, -2000, 9000),
    "max3x3_s2_same_c19_b2": (2, 9, 7, 19, 3, 3, 2, 2, 1, 1, 0, 32767),  # 8 + 8 + a predicated 3 on Helium
}

# ADD / MUL: (op, out shape, in1 shape, in2 shape)
BINARY_CASES = {
    "add_full": ("add", (1, 8, 17, 10), (1, 8, 17, 10), (1, 8, 17, 10)),
    "add_channel_bcast": ("add", (1, 6, 9, 12), (1, 6, 9, 12), (1, 1, 1, 12)),
    "add_two_sided": ("add", (1, 6, 11, 10), (1, 1, 11, 1), (1, 6, 1, 10)),
    "mul_full": ("mul", (1, 4, 30, 8), (1, 4, 30, 8), (1, 4, 30, 8)),
    "mul_freq_bcast": ("mul", (1, 12, 17, 10), (1, 12, 17, 10), (1, 12, 1, 10)),
    # an output rescaling whose shift is -1 (ADD) or +1 (MUL): the general form, not the folded one
    "add_unfolded": ("add", (1, 5, 9, 10), (1, 5, 9, 10), (1, 5, 9, 10)),
    "mul_unfolded": ("mul", (1, 5, 9, 10), (1, 5, 9, 10), (1, 1, 9, 10)),
    # one input's scale over twice the other's: the larger input exactly halved, the other by the folded form
    # (in1 larger, then in2 larger)
    "add_half_folded": ("add", (1, 6, 9, 12), (1, 6, 9, 12), (1, 1, 1, 12)),
    "add_folded_half": ("add", (1, 6, 9, 12), (1, 6, 9, 12), (1, 6, 9, 12)),
    # one input a single value along the inner axis (Helium: that lane value splat), ADD and MUL
    "add_half_folded_splat": ("add", (1, 6, 9, 12), (1, 6, 9, 12), (1, 6, 9, 1)),
    "mul_splat_first": ("mul", (1, 4, 5, 9), (1, 4, 5, 1), (1, 4, 5, 9)),
    # scales within a factor of two: the other input's shift is -1 (not folded), one contiguous run
    "add_half_general": ("add", (1, 6, 7, 9), (1, 6, 7, 9), (1, 6, 7, 9)),
    # zero points (TFLite's 16x8 has none; the kernel takes them): the loops' general instance
    "add_half_folded_offsets": ("add", (1, 5, 7, 8), (1, 5, 7, 8), (1, 5, 7, 8)),
    # an output multiplier of INT32_MIN (never written by TFLite): the portable arithmetic in the same loop
    "mul_int32min": ("mul", (1, 3, 9, 10), (1, 3, 9, 10), (1, 3, 9, 10)),
}


def _conv_entry(i: int, name: str, c: tuple, rng) -> tuple[str, str, int]:
    kind, nb, ih, iw, ic, oc, kh, kw, st, dil, same, gfin, has_bias = c
    dw = kind == "dw"
    eff_h, eff_w = (kh - 1) * dil + 1, (kw - 1) * dil + 1
    oh = -(-ih // st) if same else (ih - eff_h) // st + 1
    ow = -(-iw // st) if same else (iw - eff_w) // st + 1
    ph = _pad(ih, oh, kh, st, dil) if same else 0
    pw = _pad(iw, ow, kw, st, dil) if same else 0
    fin = 1 if dw else (gfin or ic)
    w = rng.integers(-127, 128, size=(kh, kw, oc) if dw else (oc, kh, kw, fin)).astype(np.int8)
    x = rng.integers(-32768, 32768, size=(nb, ih, iw, ic)).astype(np.int16)
    if name.endswith("_wide"):  # every product at its largest, one sign: the sum leaves int32
        w[:] = 127
        x[:] = 32767
    bias = rng.integers(-(1 << 24), 1 << 24, size=oc)
    mult = rng.integers(1 << 30, (1 << 31) - 1, size=oc)
    # shifts mostly in the folded range (-2 and below), some at -1 and 0 (the general rescaling)
    shift = rng.integers(-16, -1, size=oc) if "fold" in name else rng.integers(-16, 1, size=oc)
    amin, amax = (-32768, 32767) if i % 3 else (0, 32767)
    decl = (f"static const int8_t k{i}_w[] = {_c(w)};\nstatic const int16_t k{i}_x[] = {_c(x)};\n"
            f"static const int64_t k{i}_b[] = {_c(bias)};\nstatic const int32_t k{i}_m[] = {_c(mult)};\n"
            f"static const int32_t k{i}_s[] = {_c(shift)};\n")
    out_size = nb * oh * ow * oc
    entry = (f"  {{.kind = {'K_DW' if dw else 'K_CONV'}, .cp = {{.batches = {nb}, .in_h = {ih}, .in_w = {iw}, "
             f".in_c = {ic}, .out_h = {oh}, .out_w = {ow}, .out_c = {oc}, .k_h = {kh}, .k_w = {kw}, .stride_h = {st}, "
             f".stride_w = {st}, .dil_h = {dil}, .dil_w = {dil}, .pad_h = {ph}, .pad_w = {pw}, .filter_in_c = {fin}, "
             f".depth_multiplier = {oc // ic if dw else 1}, .act_min = {amin}, .act_max = {amax}}}, "
             f".w = {{.data = k{i}_w, .bias = {f'k{i}_b' if has_bias else '0'}, .multiplier = k{i}_m, "
             f".shift = k{i}_s}}, .in1 = k{i}_x, .out_size = {out_size}}},")
    return decl, entry, out_size


def _pool_entry(i: int, c: tuple, rng) -> tuple[str, str, int]:
    nb, ih, iw, ch, fh, fw, sh, sw, ph, pw, amin, amax = c
    oh, ow = (ih + 2 * ph - fh) // sh + 1, (iw + 2 * pw - fw) // sw + 1
    x = rng.integers(-32768, 32768, size=(nb, ih, iw, ch)).astype(np.int16)
    x.reshape(-1)[::17] = -32768  # the minimum itself in some windows
    out_size = nb * oh * ow * ch
    entry = (f"  {{.kind = K_POOL, .pp = {{.batches = {nb}, .in_h = {ih}, .in_w = {iw}, .channels = {ch}, "
             f".out_h = {oh}, .out_w = {ow}, .f_h = {fh}, .f_w = {fw}, .stride_h = {sh}, .stride_w = {sw}, "
             f".pad_h = {ph}, .pad_w = {pw}, .act_min = {amin}, .act_max = {amax}}}, .in1 = k{i}_x, "
             f".out_size = {out_size}}},")
    return f"static const int16_t k{i}_x[] = {_c(x)};\n", entry, out_size


def _binary_entry(i: int, name: str, c: tuple, rng) -> tuple[str, str, int]:
    op, out, sa, sb = c
    s1, s2, so = (float(v) for v in rng.uniform(1e-4, 5e-4, size=3))
    if name in ("add_half_folded", "add_half_folded_splat", "add_half_folded_offsets"):
        s1, s2 = 4.1e-4, 0.9e-4
    elif name == "add_folded_half":
        s1, s2 = 0.7e-4, 3.3e-4
    elif name == "add_half_general":
        s1, s2 = 4.0e-4, 3.0e-4
    if op == "add":
        if name.endswith("unfolded"):
            so = 2 * max(s1, s2) / ((1 << 15) * 0.3)  # output rescaling 0.3: shift -1
        m1, h1, m2, h2, mo, ho = quant.add_params(s1, s2, so, 15)
        ls = 15
    else:
        if name.endswith("unfolded"):
            so = s1 * s2 / 1.5  # output rescaling 1.5: shift +1
        m1 = h1 = m2 = h2 = 0
        mo, ho = quant.quantize_multiplier(s1 * s2 / so)
        ls = 0
    if name.endswith("_int32min"):
        mo = -(1 << 31)
    # MUL: inputs small enough that most products stay inside the output range (full-range int16 products
    # saturate, which would hide an error in the rescaling)
    amp = 32768 if op == "add" else (120 if name.endswith("unfolded") else 3000)
    a = rng.integers(-amp, amp, size=sa).astype(np.int16)
    b = rng.integers(-amp, amp, size=sb).astype(np.int16)
    size = int(np.prod(out))
    bc = int(not (tuple(sa) == tuple(sb) == tuple(out)))
    amin = -32768 if i % 2 else -1000
    entry = (f"  {{.kind = {'K_ADD' if op == 'add' else 'K_MUL'}, .bp = {{.size = {size}, .broadcast = {bc}, "
             f".out_dims = {_c(_pad6(out))}, .in1_strides = {_c(_bstrides(sa, out))}, "
             f".in2_strides = {_c(_bstrides(sb, out))}, "
             + (".in1_offset = 3, .in2_offset = -5, .out_offset = 7, " if name.endswith("_offsets") else "")
             + f".left_shift = {ls}, .in1_mult = {m1}, .in1_shift = {h1}, "
             f".in2_mult = {m2}, .in2_shift = {h2}, .out_mult = {mo}, .out_shift = {ho}, .act_min = {amin}, "
             f".act_max = 32767}}, .in1 = k{i}_a, .in2 = k{i}_b, .out_size = {size}}},")
    return (f"static const int16_t k{i}_a[] = {_c(a)};\nstatic const int16_t k{i}_b[] = {_c(b)};\n", entry, size)


def write_cases(path: Path, seed: int = 17) -> list[str]:
    """kernel16_cases.h for every case above; returns the case names in order."""
    rng = np.random.default_rng(seed)
    decls, entries, names, max_out = [], [], [], 1
    cases = [*(("conv", n, c) for n, c in CONV_CASES.items()), *(("pool", n, c) for n, c in POOL_CASES.items()),
             *(("binary", n, c) for n, c in BINARY_CASES.items())]
    for i, (family, name, c) in enumerate(cases):
        if family == "conv":
            d, e, n = _conv_entry(i, name, c, rng)
        elif family == "pool":
            d, e, n = _pool_entry(i, c, rng)
        else:
            d, e, n = _binary_entry(i, name, c, rng)
        decls.append(d)
        entries.append(e)
        names.append(name)
        max_out = max(max_out, n)
    path.write_text("".join(decls) + f"#define K16_COUNT {len(names)}\n#define K16_MAX_OUT {max_out}\n"
                    "static const k16case k16cases[K16_COUNT] = {\n" + "\n".join(entries) + "\n};\n")
    return names


def _parse(text: str) -> tuple[list[tuple[int, int]], tuple[int, int], tuple[int, int] | None]:
    rows, rq, x4 = [], None, None
    for p in (line.split() for line in text.splitlines()):
        if p[:2] == ["TINYASC", "K16"]:
            rows.append((int(p[3]), int(p[4])))
        elif p[:2] == ["TINYASC", "RQ16"]:
            rq = (int(p[2]), int(p[3]))
        elif p[:2] == ["TINYASC", "MBQMX4"]:
            x4 = (int(p[2]), int(p[3]))
    assert rq is not None, text[-500:]
    return rows, rq, x4


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("k16cases")
    return d, write_cases(d / "kernel16_cases.h")


@pytest.mark.parametrize("target", [None, *L.Target], ids=lambda t: "host" if t is None else t.value)
def test_optimized_16x8_kernels_bit_exact(case_dir, target, tmp_path):
    """Every convolution, pooling and element-wise case: zero bytes differ from the portable kernel, and
    the folded 16x8 rescaling equals tinyasc_mbqm64 on every triple."""
    d, names = case_dir
    main = SELFTEST / "kernel16_check.c"
    if target is None:
        exe = L.build_host(_sources(d), tmp_path, main_source=main, name="k16check")
        text = L.run([exe]).stdout
        n_rq = 1_000_000
    else:
        build = L.build_target(_sources(d), target, tmp_path / "build", main_source=main, profile=False,
                               name="k16check")
        L.run_qemu(build, tmp_path / "run", plugin=None)
        text = (tmp_path / "run" / "k16check.semihost.txt").read_text()
        n_rq = 100_000
    rows, (rq_bad, rq_n), x4 = _parse(text)
    assert len(rows) == len(names)
    for name, (bad, _) in zip(names, rows):
        assert bad == 0, f"{'host' if target is None else target.value} {name}: {bad} bytes differ"
    assert len({s for _, s in rows}) == len(rows)  # distinct outputs: no case is trivially constant
    assert (rq_bad, rq_n) == (0, n_rq)
    # Helium: the four-lane MBQM of the int16 ADD/MUL path equals tinyasc_mbqm on every lane of every draw
    assert x4 == ((0, n_rq) if target is L.Target.CORTEX_M55 else None)
