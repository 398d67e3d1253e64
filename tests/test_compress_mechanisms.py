"""Pruning, fake quantization, float16 rounding, BN folding and the KD loss, each on its own."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.ao.quantization import PerChannelMinMaxObserver

from tinyasc.compress import prune as P
from tinyasc.compress.finalize import plain_state_dict
from tinyasc.train import KDConfig, kd_loss
from tinyasc.compress.quant import (
    WEIGHT_QMAX,
    WEIGHT_QMIN,
    HalfPrecision,
    activation_fake_quants,
    activation_points,
    calibrate,
    prepare_qat,
    set_activation_fake_quant,
    snap_weight_int8,
)
from tinyasc.model import create_model

torch.set_num_threads(1)


class StandIn(nn.Module):
    """Conv -> BN -> ReLU -> depthwise conv -> BN -> 1x1 conv head: the layer kinds of BC-ResNet."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).mean(dim=(2, 3))


@pytest.mark.parametrize("scope", list(P.PruneScope))
@pytest.mark.parametrize("make", [StandIn, lambda: create_model("bcresnet_asc_1")], ids=["standin", "asc1"])
def test_pruning_reaches_exact_target(scope: P.PruneScope, make) -> None:
    torch.manual_seed(0)
    model = make()
    stats = P.apply_pruning(model, 0.89, scope)
    sizes = {name: m.weight.numel() for name, m in P.conv_layers(model)}
    assert set(stats) == set(sizes)
    if scope is not P.PruneScope.LAYER:
        n = sum(sizes.values())
        assert sum(s["nonzero"] for s in stats.values()) == n - round(0.89 * n)
    else:
        for name, s in stats.items():
            assert s["nonzero"] == sizes[name] - round(0.89 * sizes[name]), name
    # The kept weights are the largest in magnitude (per layer; for global, over all layers).
    for name, m in P.conv_layers(model):
        w = m.weight_orig.detach().abs().flatten()
        kept = m.weight_mask.flatten().bool()
        if scope is P.PruneScope.LAYER and kept.any() and (~kept).any():
            assert w[kept].min() >= w[~kept].max()


def test_lamp_ranking_ignores_each_layers_scale_and_keeps_every_layer() -> None:
    """LAMP scores are ratios within a layer: scaling one layer's weights (what a BatchNorm after it undoes) changes
    no mask, where a plain global ranking moves the zeros; and every layer keeps its largest weight."""
    torch.manual_seed(0)
    a, b = StandIn(), StandIn()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        b.body[0].weight.mul_(100.0)  # the stem's scale: irrelevant under the BatchNorm after it
    masks = {}
    for scope in (P.PruneScope.LAMP, P.PruneScope.GLOBAL):
        for name, model in (("a", a), ("b", b)):
            m = StandIn()
            m.load_state_dict(model.state_dict())
            P.apply_pruning(m, 0.95, scope)
            masks[scope, name] = [mod.weight_mask.clone() for _, mod in P.conv_layers(m)]
            if scope is P.PruneScope.LAMP:
                assert all(int(k.sum()) >= 1 for k in masks[scope, name])
    assert all(torch.equal(x, y) for x, y in zip(masks[P.PruneScope.LAMP, "a"], masks[P.PruneScope.LAMP, "b"]))
    assert not all(torch.equal(x, y) for x, y in zip(masks[P.PruneScope.GLOBAL, "a"], masks[P.PruneScope.GLOBAL, "b"]))
    # Hand check of the score: weights 1, 2, 3 -> 1/14, 4/13, 9/9.
    assert torch.allclose(P.lamp_scores(torch.tensor([3.0, 1.0, 2.0])), torch.tensor([1.0, 1 / 14, 4 / 13], dtype=torch.float64))


def test_gradual_schedule_is_cubic_and_reaches_the_target() -> None:
    assert P.gradual_sparsity(0, 100, 0.89) == 0.0
    assert P.gradual_sparsity(50, 100, 0.89) == pytest.approx(0.89 * (1 - 0.5 ** 3))
    assert P.gradual_sparsity(100, 100, 0.89) == P.gradual_sparsity(500, 100, 0.89) == 0.89
    values = [P.gradual_sparsity(t, 100, 0.89) for t in range(101)]
    assert all(x <= y for x, y in zip(values, values[1:]))


@pytest.mark.parametrize("scope", list(P.PruneScope))
def test_prune_to_only_removes_weights_and_hits_the_count(scope: P.PruneScope) -> None:
    torch.manual_seed(0)
    model = StandIn()
    P.apply_masks(model, {name: torch.ones_like(m.weight) for name, m in P.conv_layers(model)})
    before = None
    for s in (0.3, 0.6, 0.89):
        with torch.no_grad():  # the weights move between steps (training), the zeros must stay
            for _, m in P.conv_layers(model):
                m.weight_orig.add_(0.05 * torch.randn_like(m.weight_orig))
        kept = P.prune_to(model, s, scope)
        masks = [m.weight_mask.clone() for _, m in P.conv_layers(model)]
        sizes = [k.numel() for k in masks]
        if scope is P.PruneScope.LAYER:
            assert [int(k.sum()) for k in masks] == [n - round(s * n) for n in sizes]
        else:
            assert kept == sum(sizes) - round(s * sum(sizes))
        if before is not None:
            assert all(bool((new <= old).all()) for new, old in zip(masks, before))
        before = masks


def test_bad_sparsity_rejected() -> None:
    for s in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            P.apply_pruning(StandIn(), s)


def test_zeros_survive_qat_fine_tuning() -> None:
    torch.manual_seed(0)
    model = StandIn()
    P.apply_pruning(model, 0.7)
    masks = P.masks(model)
    prepare_qat(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    for _ in range(5):
        x = torch.randn(4, 1, 8, 8)
        loss = nn.functional.cross_entropy(model(x), torch.randint(0, 4, (4,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, m in P.conv_layers(model):
        w = P.effective_weight(m)
        assert torch.all(w[masks[name] == 0] == 0)
    sd, per_layer = plain_state_dict(model, StandIn, quantize=True, fold_norm_stats=True)
    for name, mask in masks.items():
        assert torch.all(sd[f"{name}.weight"][mask == 0] == 0)
        assert per_layer[f"{name}.weight"]["nonzero"] <= int(mask.sum())
    StandIn().load_state_dict(sd, strict=True)  # the plain architecture, no wrappers


def test_weight_fake_quant_matches_torch_reference() -> None:
    """Our snapping == torch's per-channel fake-quant with torch's own observer qparams (bit-exact)."""
    torch.manual_seed(0)
    w = torch.randn(6, 3, 3, 3) * torch.tensor([1e-3, 0.1, 1, 10, 0.5, 2]).view(-1, 1, 1, 1)
    w[2] = 0.0  # an all-pruned channel
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                   quant_min=WEIGHT_QMIN, quant_max=WEIGHT_QMAX)
    obs(w)
    scale, zp = obs.calculate_qparams()
    ref = torch.fake_quantize_per_channel_affine(w, scale, zp.to(torch.int32), 0, WEIGHT_QMIN, WEIGHT_QMAX)
    ours, our_scale = snap_weight_int8(w)
    assert torch.equal(ours, ref) and torch.equal(our_scale, scale)
    q = ours / our_scale.view(-1, 1, 1, 1)
    assert torch.all((q - q.round()).abs() < 1e-4) and q.abs().max() <= 127  # int8 grid, |q| <= 127

    # The QAT hook: the conv computes with exactly that snapped (masked) weight.
    conv = nn.Conv2d(3, 6, 3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(w)
    model = nn.Sequential(conv)
    P.apply_pruning(model, 0.5)
    prepare_qat(model, activations=False)
    x = torch.randn(2, 3, 5, 5)
    masked = P.effective_weight(conv)
    expected = nn.functional.conv2d(x, snap_weight_int8(masked)[0])
    assert torch.allclose(model(x), expected, atol=1e-6)  # float32 summation order only


def test_activation_fake_quant_points_and_freeze() -> None:
    torch.manual_seed(0)
    model = create_model("bcresnet_asc_1", n_mels=32, subspectral_groups=4)
    names = [n for n, _ in activation_points(model)]
    # Every conv, norm, activation, pool and block output is observed; containers and dropout are not.
    assert "stem.0" in names and "stages.0.0" in names and "stages.0.0.ssn" in names and "classifier" in names
    assert not any(n.endswith("drop") for n in names) and "stages" not in names
    P.apply_pruning(model, 0.5)
    prepare_qat(model)
    fqs = activation_fake_quants(model)
    assert "<input>" in fqs and "<output>" in fqs and len(fqs) == len(names) + 2
    calibrate(model, [torch.randn(2, 1, 32, 16) for _ in range(2)])
    ranges = {k: (float(f.activation_post_process.min_val), float(f.activation_post_process.max_val)) for k, f in fqs.items()}
    model.eval()
    y = model(torch.randn(2, 1, 32, 16) * 100)  # far outside the calibrated range
    after = {k: (float(f.activation_post_process.min_val), float(f.activation_post_process.max_val)) for k, f in fqs.items()}
    assert after == ranges  # eval(): observers frozen
    # The input was clamped to the calibrated int8 range: int8 asymmetric, 256 levels.
    fq = fqs["<input>"]
    scale, zp = fq.calculate_qparams()
    assert fq.quant_min == -128 and fq.quant_max == 127 and fq.qscheme == torch.per_tensor_affine
    assert torch.isfinite(y).all()


def test_half_precision_parametrization_rounds_with_straight_through_gradient() -> None:
    x = torch.tensor([1.0 + 2**-13, 3.14159265, -1e-3], requires_grad=True)
    y = HalfPrecision()(x)
    assert torch.equal(y.detach(), x.detach().half().float())
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(3))


def test_bn_folding_preserves_the_function() -> None:
    torch.manual_seed(0)
    model = StandIn()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    model.eval()
    sd, per_layer = plain_state_dict(model, StandIn, quantize=False, fold_norm_stats=True)
    folded = StandIn().eval()
    folded.load_state_dict(sd, strict=True)
    x = torch.randn(3, 1, 8, 8)
    # float32 re-association of (x - mean) * g / sqrt(v + eps) + b: ~1e-6 relative.
    assert torch.allclose(folded(x), model(x), atol=1e-5, rtol=1e-5)
    assert torch.count_nonzero(sd["body.1.running_mean"]) == 0
    assert per_layer["body.1.running_var"]["folded"] is True


def test_kd_loss_hand_computed() -> None:
    """alpha 0.5, T 2: student logits (0, 0), teacher (2 ln 3, 0), mixup target (0.7, 0.3).

    CE = -(0.7 ln 1/2 + 0.3 ln 1/2) = ln 2; teacher softmax at T=2 is (3/4, 1/4), student (1/2, 1/2):
    KL = 3/4 ln(3/2) + 1/4 ln(1/2); loss = 0.5 ln 2 + 0.5 * 4 * KL.
    """
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[2 * math.log(3.0), 0.0]])
    y = torch.tensor([[0.7, 0.3]])
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    expected = 0.5 * math.log(2) + 0.5 * 4 * kl  # = 0.608198...
    got = float(kd_loss(s, y, t, KDConfig(alpha=0.5, temperature=2.0)))
    assert got == pytest.approx(expected, abs=1e-6)  # float32 log-softmax: ~1e-7
    assert expected == pytest.approx(0.608198, abs=1e-6)
    assert float(kd_loss(s, y, t, KDConfig(alpha=0.0, temperature=2.0))) == pytest.approx(math.log(2), abs=1e-6)
    # The distillation term alone: alpha 1 leaves T^2 * KL.
    assert float(kd_loss(s, y, t, KDConfig(alpha=1.0, temperature=2.0))) == pytest.approx(4 * kl, abs=1e-6)
    with pytest.raises(ValueError):
        KDConfig(alpha=1.5)


def test_delayed_activation_quant_observes_without_rounding() -> None:
    torch.manual_seed(0)
    weights_only, delayed = StandIn(), StandIn()
    delayed.load_state_dict(weights_only.state_dict())
    for m in (weights_only, delayed):
        P.apply_pruning(m, 0.5)
    prepare_qat(weights_only, activations=False)
    prepare_qat(delayed)
    set_activation_fake_quant(delayed, False)
    x = torch.randn(4, 1, 8, 8)
    weights_only.train()
    delayed.train()
    assert torch.equal(delayed(x), weights_only(x))  # no activation rounding yet
    obs = activation_fake_quants(delayed)["<input>"].activation_post_process
    assert float(obs.min_val) == float(x.min()) and float(obs.max_val) == float(x.max())  # but observed
    set_activation_fake_quant(delayed, True)
    assert not torch.equal(delayed(x), weights_only(x))
