"""The PyTorch-side MAC counter against hand counts, and the registry's complexity listing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tinyasc.model import (BCResNetASC, ResNorm, SubSpectralNorm, complexity, count_all_parameters, count_macs,
                           create_model, describe_models, list_models, registry_table)
from tinyasc.model.complexity import DCASE2022_MAX_MACS, DCASE2022_MAX_PARAMS, input_shape


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = ResNorm(0.1)
        self.conv = nn.Conv2d(1, 4, 3, stride=2, padding=1, bias=True)  # 8x10 -> 4x5
        self.bn = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, (3, 1), padding=(1, 0), groups=4, bias=False)
        self.ssn = SubSpectralNorm(4, 2)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.ssn(self.dw(self.bn(self.conv(self.norm(x)))))
        return self.fc(x.mean(dim=(2, 3)))


def test_tiny_model_against_a_hand_count():
    # input 1x1x8x10 = 80 elements
    #   ResNorm: 3 multiplies per element (square, 1/sigma, lambda)         3 * 80        = 240
    #   conv 3x3 stride 2, 1 -> 4: output 4x4x5 = 80 elements, 1*3*3 each    80 * 9        = 720
    #   BatchNorm: folded into the conv at export                                              0
    #   depthwise 3x1: output 80 elements, (4/4)*3*1 each                    80 * 3        = 240
    #   SubSpectralNorm: one scale per element                               80            = 80
    #   Linear 4 -> 3                                                        12            = 12
    assert count_macs(_Tiny(), (1, 1, 8, 10)) == 240 + 720 + 240 + 80 + 12


def test_freqin_resnorm_counts_two_multiplies():
    assert count_macs(ResNorm(0.0), (1, 2, 8, 10)) == 2 * 160


def test_batch_must_be_one():
    with pytest.raises(ValueError, match="batch must be 1"):
        count_macs(_Tiny(), (2, 1, 8, 10))


def _analytic_bcresnet_macs(model: BCResNetASC, f: int, t: int) -> int:
    """Independent count from the architecture (paper Table 1), not from hooks."""
    cfg = model.config
    c = cfg.base_channels
    in_net = cfg.norm.value in ("resnorm", "freqin")
    input_multiplies = {"resnorm": 3, "input-only": 3, "freqin": 2}.get(cfg.norm.value, 0)
    macs = input_multiplies * f * t
    f, t = (f - 1) // 2 + 1, (t - 1) // 2 + 1  # 5x5 stride 2 pad 2
    macs += 2 * c * f * t * 25
    in_ch = 2 * c
    for i, (blocks, out_ch) in enumerate(zip(BCResNetASC.STAGE_BLOCKS, cfg.stage_channels)):
        for _ in range(blocks):
            if in_ch != out_ch:
                macs += out_ch * f * t * in_ch  # 1x1 projection (its BN folds)
            macs += out_ch * f * t * 3 + out_ch * f * t  # freq depthwise 3x1 + SubSpectralNorm scale
            macs += out_ch * t * 3 + out_ch * t * out_ch  # time depthwise 1x3 + pointwise on the F-mean
            in_ch = out_ch
        if in_net:
            macs += (3 if cfg.norm.value == "resnorm" else 2) * out_ch * f * t
        if i in BCResNetASC.POOL_AFTER:
            f, t = f // 2, t // 2
    return macs + cfg.n_classes * in_ch * f * t


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("norm", ["resnorm", "none", "freqin", "input-only"])
@pytest.mark.parametrize("seconds", [1.0, 10.0])
def test_registry_models_against_the_architecture_count(name, norm, seconds):
    model = create_model(name, norm=norm)
    shape = input_shape(256, seconds)
    assert count_macs(model, shape) == _analytic_bcresnet_macs(model, 256, shape[-1])


def test_registry_listing_states_params_macs_and_the_2022_rules():
    infos = {i.name: i for i in describe_models()}
    assert set(infos) == set(list_models())
    asc1, asc8 = infos["bcresnet_asc_1"].complexity, infos["bcresnet_asc_8"].complexity
    assert asc1.params == 8055 and asc8.params == 314_970  # the paper's 8.1k and 315k
    assert asc1.macs_1s == count_macs(create_model("bcresnet_asc_1"), (1, 1, 256, 34))  # 1 s = 34 frames
    assert asc1.macs_paper == count_macs(create_model("bcresnet_asc_1"), (1, 1, 256, 334))  # 10 s = 334 frames
    assert asc1.meets_dcase2022 and not asc8.meets_dcase2022  # 315k > 128K parameters
    header, rows = registry_table(list(infos.values()))
    assert "MMACs / 1 s" in header and len(rows) == len(infos)
    assert next(r for r in rows if r[0] == "bcresnet_asc_8")[-1] == "exceeds"


def test_rule_limits_and_zeros_counted():
    from tinyasc import audit

    # one definition: the registry listing and asc-audit --rules dcase2022 judge by the same limits
    assert (DCASE2022_MAX_PARAMS, DCASE2022_MAX_MACS) == (audit.DCASE2022_MAX_PARAMS,
                                                        audit.DCASE2022_MAX_MACS_PER_SECOND)
    model = create_model("bcresnet_asc_1")
    with torch.no_grad():
        model.stem[0].weight.zero_()  # pruned weights still count under the 2022 rules
    assert count_all_parameters(model) == 8055
    assert complexity(model).params == 8055


def test_model_listing_cli(capsys):
    from tinyasc.model.__main__ import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert "| bcresnet_asc_8 |" in out and "exceeds" in out and "30 M MACs" in out
