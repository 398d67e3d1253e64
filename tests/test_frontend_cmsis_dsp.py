"""The front end with CMSIS-DSP's complex FFT (TINYASC_FE_CMSIS_DSP): same features within float32 rounding.

The CMSIS-DSP tree is the PyPI source distribution that ``tools/setup.sh --test`` unpacks into
``.cache/cmsis-dsp`` (or ``$TINYASC_CMSIS_DSP``); the tests fail, not skip, without it.

Tolerances: CMSIS-DSP's FFT and the built-in one are both single-precision FFTs with different
operation orders, so their log-mels differ by float32 rounding, not bit for bit: measured at most
1.8e-6 log-mel units apart on 1-s noise clips (each within 5e-5 of a float64 FFT, docs/frontend.md).
A wrong twiddle, pairing or window slot is off by order 1.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tinyasc.contract import FeatureConfig
from tinyasc.data.features import logmel
from tinyasc.errors import InputError
from tinyasc.firmware_sim import frontend as fe
from tinyasc.firmware_sim.cmsis_dsp import FFT_SOURCES, CmsisDsp, default_tree
from tinyasc.firmware_sim.harness.frontend_run import run_frontend_target

from test_frontend_c import _edge_cases, _float64_logmel


@pytest.fixture(scope="module")
def cmsis() -> CmsisDsp:
    return default_tree()


@pytest.fixture(scope="module")
def one_second(cmsis, tmp_path_factory):
    """A 1-s front end (the paper's 4096-point FFT) built twice on the host: built-in FFT and CMSIS-DSP's."""
    cfg = FeatureConfig(clip_seconds=1.0)
    d = tmp_path_factory.mktemp("fe_cmsis")
    art = fe.write_frontend(cfg, 0.0784, 30, d / "fe")
    fe.build_frontend_host(art)
    exe = fe.build_frontend_host(art, cmsis_dsp=cmsis, exe=d / "frontend_host_cmsis_dsp")
    return cfg, art, exe


def test_a_tree_is_validated_with_one_line_naming_the_missing_file(cmsis, tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        CmsisDsp.at(tmp_path / "nowhere")
    (tmp_path / "Include").mkdir()
    (tmp_path / "Include" / "arm_math.h").write_text("/* a header alone is not a tree */\n")
    with pytest.raises(InputError, match="arm_cfft_f32.c: missing"):
        CmsisDsp.at(tmp_path)
    assert cmsis.sources == tuple(cmsis.root / s for s in FFT_SOURCES)
    assert all(p.is_file() for p in cmsis.sources)
    assert "-DTINYASC_FE_CMSIS_DSP=1" in cmsis.cflags()


@pytest.mark.parametrize("case", ["noise", "clipped_noise", "pure_tone", "impulse", "short_padded", "long_cropped"])
def test_host_features_equal_the_builtin_fft_within_float32_rounding(one_second, case):
    cfg, art, exe = one_second
    pcm = (fe.float_to_pcm(0.1 * np.random.default_rng(3).standard_normal(cfg.clip_samples)) if case == "noise"
           else _edge_cases(cfg.clip_samples)[case])
    f_builtin, q_builtin = fe.run_frontend_host(art, pcm)
    f_cmsis, q_cmsis = fe.run_frontend_host(art, pcm, exe=exe)
    assert not np.array_equal(f_cmsis, f_builtin) or case == "impulse"  # a different FFT really ran
    x = fe.pcm_to_float(pcm)
    x = np.pad(x, (0, max(0, cfg.clip_samples - x.size)))[: cfg.clip_samples]
    exact = _float64_logmel(x, cfg)
    dq = np.abs(q_cmsis.astype(int) - q_builtin.astype(int))
    assert dq.max() <= 1
    if case == "pure_tone":
        # bands holding only window sidelobes sit at float32's rounding floor of the frame (docs/frontend.md):
        # there any float32 FFT is off the float64 one (measured: built-in 2.4e-3, CMSIS-DSP 4.9e-3, the
        # training pipeline's torch 5.7e-3); the bound is test_frontend_c's: no further than 1.5x torch's
        torch_dist = np.abs(logmel(x, cfg).numpy() - exact).max()
        assert np.abs(f_cmsis - exact).max() <= 1.5 * torch_dist
        assert (dq == 0).mean() >= 0.995
    else:
        assert np.abs(f_cmsis - f_builtin).max() <= 1e-4
        assert np.abs(f_cmsis - exact).max() <= 1e-4
        assert (dq == 0).mean() >= 0.999


@pytest.mark.parametrize("n_fft", [64, 256, 2048])
def test_every_cmsis_fft_path_against_float64(cmsis, n_fft, tmp_path):
    """arm_cfft_f32 runs radix-8 (32 points), radix-8 by 2 (128, 1024) or by 4 (2048) stages by size:
    n_fft 64, 256 and 2048 (with the 4096 of the other tests) take each; an odd window length puts
    samples at odd offsets into the natural-order buffer. Tolerance as test_frontend_c's pass mix: 1e-5."""
    win_ms = 1000.0 * (n_fft * 3 // 4 + 1) / 16000
    cfg = FeatureConfig(n_fft=n_fft, n_mels=8, win_ms=win_ms, hop_ms=2.0, clip_seconds=0.05)
    art = fe.write_frontend(cfg, 0.1, 0, tmp_path)
    exe = fe.build_frontend_host(art, cmsis_dsp=cmsis)
    pcm = fe.float_to_pcm(0.3 * np.random.default_rng(n_fft).standard_normal(cfg.clip_samples))
    feats, _ = fe.run_frontend_host(art, pcm, exe=exe)
    assert np.abs(feats - _float64_logmel(fe.pcm_to_float(pcm), cfg)).max() <= 1e-5


def test_reflect_padding_writes_the_natural_order_buffer(cmsis, tmp_path):
    cfg = FeatureConfig(n_fft=512, n_mels=16, win_ms=1000.0 * 333 / 16000, hop_ms=10.0, clip_seconds=0.2)
    art = fe.write_frontend(cfg, 0.1, 0, tmp_path, pad_mode=fe.PadMode.REFLECT)
    exe = fe.build_frontend_host(art, cmsis_dsp=cmsis)
    pcm = fe.float_to_pcm(0.3 * np.random.default_rng(5).standard_normal(cfg.clip_samples))
    feats, _ = fe.run_frontend_host(art, pcm, exe=exe)
    assert np.abs(feats - _float64_logmel(fe.pcm_to_float(pcm), cfg, "reflect")).max() <= 1e-5


@pytest.mark.arm
def test_cortex_m4_computes_the_host_bytes_and_the_m55_runs_helium(one_second, cmsis, tmp_path):
    """M4: CMSIS-DSP's plain C FFT, the host's bytes bit for bit (same C, same float operations, no FMA
    contraction). M55: its Helium FFT (other operation order), within the tolerance above."""
    cfg, art0, exe = one_second
    pcm = fe.float_to_pcm(0.1 * np.random.default_rng(11).standard_normal(cfg.clip_samples))
    art = fe.write_frontend(cfg, art0.input_scale, art0.input_zero_point, tmp_path / "fe", golden_pcm=pcm)
    _, q_cmsis = fe.run_frontend_host(art0, pcm, exe=exe)
    _, q_builtin = fe.run_frontend_host(art0, pcm)
    m4 = run_frontend_target(art, "cortex-m4", tmp_path / "work", cmsis_dsp=cmsis)
    assert m4["checksum"] == fe.output_checksum(art, q_cmsis), m4
    m55 = run_frontend_target(art, "cortex-m55", tmp_path / "work", cmsis_dsp=cmsis, with_output=True)
    q55 = np.frombuffer(m55["output"], dtype=np.int8).reshape(q_builtin.shape)
    dq = np.abs(q55.astype(int) - q_builtin.astype(int))
    assert dq.max() <= 1 and (dq == 0).mean() >= 0.999, (dq.max(), (dq == 0).mean())
    elf = tmp_path / "work" / "cortex-m55" / "frontend_cmsis_dsp.elf"
    syms = subprocess.run(["arm-none-eabi-nm", str(elf)], check=True, capture_output=True, text=True).stdout
    assert "_arm_radix4_butterfly_f32_mve" in syms  # CMSIS-DSP's Helium kernel, not its scalar one
