"""BC-ResNet-ASC: registry, shapes, parameter counts, receptive field, ablation switches, export-ability."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from tinyasc.model import (
    BCResNetASC,
    FixedPCEN,
    GlobalFreqNorm,
    ModelConfig,
    NormMode,
    ResNorm,
    count_parameters,
    create_model,
    list_models,
    receptive_field,
)

# The paper's parameter counts (Table 3): 8.1k for c = 10, 315k for c = 80.
PAPER_PARAMS = {10: 8_100, 80: 315_000}
# The default width of each registered name.
WIDTH = {"bcresnet_asc": 10, "bcresnet_asc_1": 10, "bcresnet_asc_8": 80}


def test_registry_names():
    assert {"bcresnet_asc", "bcresnet_asc_1", "bcresnet_asc_8"} <= set(list_models())
    with pytest.raises(ValueError, match="unknown model"):
        create_model("resnet50")
    with pytest.raises(ValueError):
        create_model("bcresnet_asc_1", no_such_field=1)
    with pytest.raises(ValueError):
        create_model("bcresnet_asc", base_channels=7)  # 1.5c must be whole


@pytest.mark.parametrize("name", list_models())
def test_parameter_count_matches_paper(name):
    model = create_model(name)
    c = WIDTH[name]
    assert model.config.base_channels == c
    n = count_parameters(model)
    # The paper rounds to 8.1k / 315k; a literal reading of Table 1 gives 8,055 / 314,970.
    assert abs(n - PAPER_PARAMS[c]) / PAPER_PARAMS[c] < 0.02, n
    assert n == {10: 8_055, 80: 314_970}[c]


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("frames", [8, 33, 67])
def test_forward_shape_any_length(name, frames):
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(3, 1, 256, frames))
    assert out.shape == (3, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_models())
def test_receptive_field(name):
    model = create_model(name)
    assert receptive_field(model) == (109, 109)  # the paper's figure: pools counted by their stride
    assert receptive_field(model.config, count_pool_kernels=True) == (115, 115)


def test_receptive_field_measured_by_gradient():
    """The exact time receptive field (115 frames) equals the support of one output's input gradient.

    The model is made linear (activations -> identity, max-pool -> avg-pool of the same geometry,
    no normalization, eval mode) so no ReLU or max-pool routing hides part of the field; the
    frequency mean of each block is global in frequency, so only time is measured.
    """
    torch.manual_seed(0)
    model = create_model("bcresnet_asc_1", norm="none").eval()
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, (nn.ReLU, nn.SiLU)):
                setattr(module, child_name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(module, child_name, nn.AvgPool2d(2))
    x = torch.randn(1, 1, 256, 320, requires_grad=True)
    feats = {}
    model.classifier.register_forward_hook(lambda m, i, o: feats.setdefault("pre_pool", o))
    model(x)
    pre = feats["pre_pool"]  # (1, classes, 32, 40): time step 20 sees input frames around 160
    pre[0, 0, :, 20].sum().backward()
    support = (x.grad[0, 0].abs().sum(dim=0) > 0).nonzero().flatten()
    width = int(support.max() - support.min() + 1)
    assert width == receptive_field(model, count_pool_kernels=True)[1] == 115


@pytest.mark.parametrize("norm", list(NormMode))
def test_each_ablation_switch_builds_and_runs(norm):
    model = create_model("bcresnet_asc_1", norm=norm)
    resnorms = [m for m in model.modules() if isinstance(m, ResNorm)]
    expected = {NormMode.RESNORM: 5, NormMode.FREQIN: 5, NormMode.INPUT_ONLY: 1}.get(norm, 0)
    assert len(resnorms) == expected
    if norm is NormMode.FREQIN:
        assert all(m.lam == 0.0 for m in resnorms)
    elif resnorms:
        assert all(m.lam == pytest.approx(0.1) for m in resnorms)
    assert isinstance(model.input_norm, GlobalFreqNorm) == (norm is NormMode.GLOBAL)
    assert isinstance(model.input_norm, FixedPCEN) == (norm is NormMode.PCEN)
    x = torch.randn(4, 1, 256, 40) - 8.0  # log-mel-like values
    model.train()
    out = model(x)
    out.sum().backward()  # trains: gradients reach the first layer
    assert model.stem[0].weight.grad is not None and model.stem[0].weight.grad.abs().sum() > 0
    assert count_parameters(model) == 8_055  # no normalization variant adds parameters


def test_freqin_mode_equals_resnorm_lambda_zero():
    a = create_model("bcresnet_asc_1", norm="freqin").eval()
    b = create_model("bcresnet_asc_1", norm="resnorm", resnorm_lambda=0.0).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 1, 256, 30)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_config_round_trip_rebuilds_same_architecture():
    model = create_model("bcresnet_asc_8", norm="input-only", activation="relu", resnorm_lambda=0.2)
    cfg = model.config.to_dict()
    assert cfg["norm"] == "input-only" and cfg["activation"] == "relu"
    again = create_model("bcresnet_asc_8", **cfg)
    assert again.config == model.config
    again.load_state_dict(model.state_dict())  # strict: same parameter and buffer names
    assert isinstance(model, BCResNetASC) and model.config == ModelConfig.from_dict(cfg)
    relus = [m for m in model.modules() if isinstance(m, nn.SiLU)]
    assert not relus  # the ReLU switch leaves no SiLU


def test_global_freqnorm_buffers_are_in_state_dict():
    model = create_model("bcresnet_asc_1", norm="global")
    sd = model.state_dict()
    assert {"input_norm.mean", "input_norm.std", "input_norm.fitted"} <= set(sd)
    mean, std = torch.linspace(-10, 0, 256), torch.linspace(1, 3, 256)
    model.input_norm.set_stats(mean, std)
    x = mean.view(1, 1, -1, 1) + std.view(1, 1, -1, 1) * torch.randn(2, 1, 256, 500)
    y = model.input_norm(x)
    # 1000 samples per bin: the sample mean/std of N(0,1) are within 0.2 of 0/1 with overwhelming odds.
    assert y.mean(dim=(0, 1, 3)).abs().max() < 0.2
    assert (y.std(dim=(0, 1, 3)) - 1).abs().max() < 0.2
    other = create_model("bcresnet_asc_1", norm="global")
    other.load_state_dict(model.state_dict())
    assert int(other.input_norm.fitted) == 1 and torch.equal(other.input_norm.mean, model.input_norm.mean)


def test_fixed_pcen_matches_librosa():
    """The FIR form of the PCEN smoother matches librosa's IIR PCEN.

    Tolerance 1% relative: the 128-tap FIR drops <1e-4 of the smoother's impulse response, and
    PCEN depends on the smoother through M**-0.98.
    """
    import librosa

    rng = np.random.default_rng(0)
    mel = np.exp(rng.normal(-6, 2, size=(256, 120))).astype(np.float64)  # positive mel energies
    pcen = FixedPCEN()
    ours = pcen(torch.log(torch.from_numpy(mel)).float().view(1, 1, 256, 120))[0, 0].double().numpy()
    import scipy.signal

    energy = mel * 2.0**31
    b = pcen.s
    # Start the IIR at the steady state of the first frame, as the FIR's edge padding does
    # (librosa's default zi assumes a past input of 1).
    zi = scipy.signal.lfilter_zi([b], [1, b - 1])[None, :] * energy[:, :1]
    ref = librosa.pcen(energy, sr=16000, hop_length=480, gain=0.98, bias=2.0, power=0.5,
                       time_constant=0.4, eps=1e-6, zi=zi)
    assert np.all(ours >= 0)
    np.testing.assert_allclose(ours, ref, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("norm", list(NormMode))
def test_onnx_export_matches_torch(norm, tmp_path):
    """``torch.onnx.export`` (opset 17, the export stage's path) traces every variant; ORT agrees to 1e-4."""
    import onnxruntime as ort

    torch.manual_seed(0)
    model = create_model("bcresnet_asc_1", norm=norm).eval()
    x = torch.randn(2, 1, 256, 40) - 6.0
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, (x,), str(path), opset_version=17, dynamo=False, input_names=["input"],
                      output_names=["logits"])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
