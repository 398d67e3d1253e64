"""BC-ResNet-ASC (paper Table 1): broadcasted residual blocks, max-pool instead of dilation.

Layout for input 1 x F x T (F = 256 mel bins), base width c::

    conv 5x5 stride 2 (2c) + BN + ReLU                         F/2 x T/2
    stage 1: 2 BC-ResBlocks (c)      -> max-pool 2x2           F/4 x T/4
    stage 2: 2 BC-ResBlocks (1.5c)   -> max-pool 2x2           F/8 x T/8
    stage 3: 2 BC-ResBlocks (2c)
    stage 4: 3 BC-ResBlocks (2.5c)
    conv 1x1 (classes, with bias) -> global average pool -> logits

with ResNorm on the input and after each stage (five modules) in the paper's configuration.
Read literally (no bias in convs followed by BN, BN affine parameters counted, bias in the
last 1x1 conv) this has 8,055 parameters at c = 10 and 314,970 at c = 80: the paper's 8.1k
and 315k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tinyasc.model.config import Activation, ModelConfig, NormMode
from tinyasc.model.norm import FixedPCEN, GlobalFreqNorm, ResNorm, SubSpectralNorm


class BCResBlock(nn.Module):
    """Broadcasted residual block (Kim et al. 2021).

    ``f2 = SSN(dwconv3x1(x'))`` with ``x' = ReLU(BN(conv1x1(x)))`` in a transition block
    (channel change) and ``x' = x`` otherwise; ``f1 = Dropout(conv1x1(act(BN(dwconv1x3(
    mean_F(f2))))))``; output ``ReLU(f2 + f1 [+ x])``, f1 broadcast over frequency, the
    identity ``x`` only in non-transition blocks.
    """

    def __init__(self, in_ch: int, out_ch: int, *, groups: int, dropout: float, activation: Activation):
        super().__init__()
        self.transition = in_ch != out_ch
        if self.transition:
            self.project = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=False)
            )
        else:
            self.project = nn.Identity()
        self.freq_dw = nn.Conv2d(out_ch, out_ch, (3, 1), padding=(1, 0), groups=out_ch, bias=False)
        self.ssn = SubSpectralNorm(out_ch, groups)
        self.time_dw = nn.Conv2d(out_ch, out_ch, (1, 3), padding=(0, 1), groups=out_ch, bias=False)
        self.time_bn = nn.BatchNorm2d(out_ch)
        self.act = nn.SiLU() if activation is Activation.SILU else nn.ReLU()
        self.time_pw = nn.Conv2d(out_ch, out_ch, 1, bias=False)
        self.drop = nn.Dropout2d(dropout)
        self.out_act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.project(x)
        f2 = self.ssn(self.freq_dw(h))
        f1 = f2.mean(dim=2, keepdim=True)
        f1 = self.drop(self.time_pw(self.act(self.time_bn(self.time_dw(f1)))))
        out = f2 + f1
        if not self.transition:  # structural, fixed at construction
            out = out + x
        return self.out_act(out)


class BCResNetASC(nn.Module):
    """BC-ResNet-ASC with a switchable frequency normalization (:class:`NormMode`).

    Input (N, 1, n_mels, T) float32 log-mel, any T >= 8; output logits (N, n_classes).
    """

    #: Blocks per stage (Table 1).
    STAGE_BLOCKS: tuple[int, ...] = (2, 2, 2, 3)
    #: Stages followed by a 2x2 max-pool.
    POOL_AFTER: tuple[int, ...] = (0, 1)

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config.base_channels
        norm = config.norm
        lam = config.effective_lambda
        learnable = config.learnable_lambda

        if norm is NormMode.GLOBAL:
            self.input_norm: nn.Module = GlobalFreqNorm(config.n_mels)
        elif norm is NormMode.PCEN:
            self.input_norm = FixedPCEN()
        elif norm in (NormMode.RESNORM, NormMode.FREQIN, NormMode.INPUT_ONLY):
            self.input_norm = ResNorm(lam, learnable=learnable)
        else:
            self.input_norm = nn.Identity()
        in_network = norm in (NormMode.RESNORM, NormMode.FREQIN)

        self.stem = nn.Sequential(
            nn.Conv2d(1, 2 * c, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU()
        )
        stages, stage_norms, pools = [], [], []
        in_ch = 2 * c
        for i, (n_blocks, out_ch) in enumerate(zip(self.STAGE_BLOCKS, config.stage_channels)):
            blocks = []
            for _ in range(n_blocks):
                blocks.append(
                    BCResBlock(in_ch, out_ch, groups=config.subspectral_groups, dropout=config.dropout,
                               activation=config.activation)
                )
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
            stage_norms.append(ResNorm(lam, learnable=learnable) if in_network else nn.Identity())
            pools.append(nn.MaxPool2d(2) if i in self.POOL_AFTER else nn.Identity())
        self.stages = nn.ModuleList(stages)
        self.stage_norms = nn.ModuleList(stage_norms)
        self.pools = nn.ModuleList(pools)
        self.classifier = nn.Conv2d(in_ch, config.n_classes, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.input_norm(x))
        for stage, norm, pool in zip(self.stages, self.stage_norms, self.pools):
            x = pool(norm(stage(x)))
        return self.classifier(x).mean(dim=(2, 3))


# ---------------------------------------------------------------------------------------------
# Receptive field


@dataclass(frozen=True)
class Layer:
    """One spatial operator: kernel and stride along (frequency, time)."""

    name: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    kind: str  # "conv" or "pool"


def layer_list(config: ModelConfig) -> list[Layer]:
    """The spatial operators of the main (2D) path, in order (1x1 convs omitted: they add nothing)."""
    layers = [Layer("stem", (5, 5), (2, 2), "conv")]
    for i, n_blocks in enumerate(BCResNetASC.STAGE_BLOCKS):
        for b in range(n_blocks):
            # Each block grows the field by 3 in frequency (freq depthwise) and 3 in time (temporal depthwise).
            layers.append(Layer(f"stage{i + 1}.{b}", (3, 3), (1, 1), "conv"))
        if i in BCResNetASC.POOL_AFTER:
            layers.append(Layer(f"pool{i + 1}", (2, 2), (2, 2), "pool"))
    return layers


def receptive_field(model_or_config: nn.Module | ModelConfig, *, count_pool_kernels: bool = False) -> tuple[int, int]:
    """Receptive field (frequency, time) of one output position, from the layer list.

    ``r_out = r_in + (k - 1) * j_in``, ``j_out = j_in * stride``. The paper's 109 x 109 counts
    the max-pools as pure down-sampling (their stride only); counting their 2x2 windows as well
    (``count_pool_kernels=True``) gives the exact field of a single output, 115 x 115.
    The frequency mean in each block's temporal branch makes that branch see every frequency;
    like the paper, the figure describes the 2D path.
    """
    config = model_or_config if isinstance(model_or_config, ModelConfig) else model_or_config.config
    rf = [1, 1]
    jump = [1, 1]
    for layer in layer_list(config):
        for axis in (0, 1):
            k = layer.kernel[axis]
            if layer.kind == "pool" and not count_pool_kernels:
                k = 1
            rf[axis] += (k - 1) * jump[axis]
            jump[axis] *= layer.stride[axis]
    return rf[0], rf[1]
