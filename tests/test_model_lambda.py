"""Learnable ResNorm lambda: positive, starts at exactly 0.1, trains, and exports as a constant."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinyasc.contract import FeatureConfig, SCENE_LABELS, Checkpoint
from tinyasc.model import ResNorm, create_model, freq_instance_norm, from_checkpoint, resnorm_lambdas


def _trained_learnable(steps: int = 3) -> torch.nn.Module:
    """ASC-1 with learnable lambda after a few SGD steps on random data (lambdas move off 0.1)."""
    torch.manual_seed(0)
    model = create_model("bcresnet_asc_1", learnable_lambda=True, activation="relu")
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(8, 1, 256, 20) * 2 - 5, torch.arange(8) % 10
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def test_learnable_lambda_starts_at_exactly_the_fixed_value():
    model = create_model("bcresnet_asc_1", learnable_lambda=True)
    lams = resnorm_lambdas(model)
    assert len(lams) == 5 and all(v == 0.1 for v in lams.values())
    fixed = create_model("bcresnet_asc_1")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in fixed.parameters()) + 5


def test_learnable_lambda_gets_a_gradient_and_stays_positive():
    norm = ResNorm(0.1, learnable=True).train()
    x = torch.randn(4, 2, 16, 30, dtype=torch.float64) * 3 + 1
    (norm(x) * x).sum().backward()
    # d/d(log_scale) of sum(lambda * x * x) = lambda * sum(x^2) > 0
    assert norm.log_scale.grad is not None and float(norm.log_scale.grad) > 0
    np.testing.assert_allclose(float(norm.log_scale.grad), 0.1 * float((x * x).sum()), rtol=1e-6)
    with torch.no_grad():
        norm.log_scale.fill_(-30.0)  # however negative the raw parameter, lambda stays > 0
    assert norm.lam > 0


def test_training_moves_every_lambda():
    lams = resnorm_lambdas(_trained_learnable())
    assert all(v > 0 and v != 0.1 for v in lams.values()), lams


def _fixed_twin(model: torch.nn.Module) -> torch.nn.Module:
    """The fixed-lambda model with the same weights and each ResNorm's lambda set to the learned float."""
    twin = create_model("bcresnet_asc_1", activation="relu").eval()
    twin.load_state_dict({k: v for k, v in model.state_dict().items() if not k.endswith("log_scale")})
    for name, lam in resnorm_lambdas(model).items():
        twin.get_submodule(name).lam_init = lam
    return twin


def test_learned_lambda_equals_a_fixed_twin_of_the_learned_values():
    """Eval forward = a fixed-lambda model with each module's lambda set to the learned float.
    Tolerance 1e-5 (float32): both multiply by the same float32 lambda; only op order could differ."""
    model = _trained_learnable()
    twin = _fixed_twin(model)
    x = torch.randn(3, 1, 256, 34) - 4
    with torch.no_grad():
        torch.testing.assert_close(model(x), twin(x), rtol=0, atol=1e-5)
        # and training-mode ResNorm (tensor lambda) computes the same function as eval mode (float lambda)
        norm = model.input_norm
        want = norm.lam * x + freq_instance_norm(x)
        torch.testing.assert_close(norm.train()(x), want, rtol=0, atol=1e-6)


def test_onnx_export_holds_a_constant_lambda_like_the_fixed_model(tmp_path):
    """The traced graph of a trained learnable-lambda model has the same op types as its fixed twin's
    (lambda is a constant Mul, no Exp); ONNX Runtime agrees with torch to 1e-4 (as the export tests)."""
    import onnx
    import onnxruntime as ort

    model = _trained_learnable()
    fixed = _fixed_twin(model)
    x = torch.randn(2, 1, 256, 34) - 4
    ops = {}
    for name, m in (("learn", model), ("fixed", fixed)):
        path = tmp_path / f"{name}.onnx"
        torch.onnx.export(m, (x,), str(path), opset_version=17, dynamo=False, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True)
        ops[name] = sorted(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["learn"] == ops["fixed"] and "Exp" not in ops["learn"]
    got = ort.InferenceSession(str(tmp_path / "learn.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4, rtol=1e-4)


def test_checkpoint_round_trip_keeps_the_learned_lambdas():
    model = _trained_learnable()
    ckpt = Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(),
                      feature_config=FeatureConfig(), labels=SCENE_LABELS, state_dict=model.state_dict())
    again = from_checkpoint(ckpt)
    assert resnorm_lambdas(again) == resnorm_lambdas(model)
    assert "learned" in repr(again.input_norm)


@pytest.mark.parametrize("overrides", [{"norm": "freqin"}, {"norm": "none"}, {"resnorm_lambda": 0.0}])
def test_learnable_lambda_needs_a_resnorm_with_positive_lambda(overrides):
    with pytest.raises(ValueError, match="learnable_lambda"):
        create_model("bcresnet_asc_1", learnable_lambda=True, **overrides)


def test_input_only_learnable_has_one_lambda():
    assert list(resnorm_lambdas(create_model("bcresnet_asc_1", norm="input-only", learnable_lambda=True))) == [
        "input_norm"]
