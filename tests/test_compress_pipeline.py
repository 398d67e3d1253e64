"""End to end: asc-compress on the tiny synthetic dataset, the compressed-checkpoint contract, resume, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tinyasc.compress.cli import main as compress_main
from tinyasc.compress.config import CompressConfig
from tinyasc.compress.pipeline import COMPRESSED_NAME, FINETUNE_DIR, PRUNED_NAME, REPORT_JSON, compress
from tinyasc.contract import Checkpoint
from tinyasc.errors import InputError
from tinyasc.audit import audit

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup(tiny_dataset, tmp_path_factory):
    """Feature sets of the tiny dataset and a BC-ResNet-ASC-1 teacher trained for one epoch."""
    from tinyasc.contract import FeatureConfig
    from tinyasc.data.cache import build_feature_set
    from tinyasc.model import create_model
    from tinyasc.train import TrainConfig, fit

    tmp = tmp_path_factory.mktemp("compress")
    cfg = FeatureConfig(clip_seconds=tiny_dataset.clip_seconds())
    train = build_feature_set(tiny_dataset, "train", cfg, cache_dir=tmp / "cache", workers=1, progress=False)
    ev = build_feature_set(tiny_dataset, "evaluate", cfg, cache_dir=tmp / "cache", workers=1, progress=False)
    fit(create_model("bcresnet_asc_1"), train, None, TrainConfig(epochs=1, batch_size=16, progress=False),
        tmp / "teacher", model_name="bcresnet_asc_1")
    return {"train": train, "eval": ev, "teacher": tmp / "teacher" / "last.pt", "tmp": tmp, "cache": tmp / "cache"}


def _finetune(epochs: int = 2):
    from tinyasc.train import TrainConfig

    return TrainConfig(epochs=epochs, batch_size=16, lr=0.01, warmup_epochs=0, progress=False, steps_per_epoch=3)


def test_compress_contract_and_resume(setup, tmp_path: Path) -> None:
    from tinyasc.model import create_model
    from tinyasc.train import evaluate

    out = tmp_path / "run"
    cfg = CompressConfig(quantize_activations=True)  # the richest path: weights and activations fake-quantized
    res = compress(setup["teacher"], setup["train"], setup["eval"], out, config=cfg, finetune=_finetune(),
                   teacher_path=setup["teacher"])
    ckpt = Checkpoint.load(out / COMPRESSED_NAME)
    c = ckpt.compression
    assert [s["name"] for s in c["steps"]] == ["baseline", "prune", "finetune+qat+kd", "int8-qat+kd"]
    assert c["conv_bits"] == 8 and c["other_bits"] == 16 and c["sparsity"] == 0.89 and c["sparsity_scope"] == "layer"
    assert c["kd"]["alpha"] == 0.5 and c["activation_ranges"]["<input>"]["scale"] > 0
    assert 0 <= c["steps"][-2]["accuracy_int8_act_emulated"]["overall"] <= 1

    # The contract: strict load into the plain model; zeros exact; conv weights on their int8 grid; others float16.
    plain = create_model(ckpt.model_name, **ckpt.model_config)
    plain.load_state_dict(ckpt.state_dict, strict=True)
    for name, m in plain.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            w = m.weight.detach()
            n = w.numel()
            assert int(torch.count_nonzero(w)) <= n - round(0.89 * n), name  # per-layer target (int8 may zero more)
            scale = torch.tensor(c["per_layer"][f"{name}.weight"]["scale"]).view(-1, 1, 1, 1)
            q = w / scale
            assert torch.all((q - q.round()).abs() < 1e-3) and q.round().abs().max() <= 127
    conv_keys = {f"{n}.weight" for n, m in plain.named_modules() if isinstance(m, torch.nn.Conv2d)}
    for key, t in ckpt.state_dict.items():
        if t.is_floating_point() and key not in conv_keys and not key.endswith("running_var"):
            assert torch.equal(t, t.half().float()), key  # float16-representable (running_var: folded 1 - eps)
        if key.endswith("running_mean"):
            assert not torch.any(t), key  # folded

    # The fine-tune step recorded the plain model's accuracy; the checkpoint's own accuracy is its int8 model's
    # integer simulation (what ships), the same network's float weights beside it.
    acc = evaluate(plain, setup["eval"]).metrics.overall
    assert acc == pytest.approx(c["steps"][-2]["accuracy"]["overall"], abs=1e-12)
    from tinyasc.model.int8 import int8_from_checkpoint

    q = int8_from_checkpoint(ckpt, out / COMPRESSED_NAME)
    assert evaluate(q, setup["eval"]).metrics.overall == pytest.approx(ckpt.metrics["eval"]["overall"], abs=1e-12)
    assert c["steps"][-1]["accuracy"] == ckpt.metrics["eval"] and "eval_float_weights" in ckpt.metrics
    assert ckpt.int8["form"]["form"] == cfg.int8_form.value and len(ckpt.int8["points"]) == len(q.points())
    for name, conv in q.convs().items():  # int8 QAT kept every pruned weight at zero
        assert not bool(((conv.conv.weight != 0) & (conv.mask == 0)).any()), name
    rep = audit(out / COMPRESSED_NAME)
    assert rep.within_budget and {k.split("@")[1] for k in rep.by_kind()} == {"8", "16"}
    assert rep.nonzero_bytes == res.audit.nonzero_bytes
    assert json.loads((out / REPORT_JSON).read_text())["steps"][-1]["audit"]["nonzero_bytes"] == rep.nonzero_bytes

    # Finished run: a second call without --resume refuses, with it returns the result.
    with pytest.raises(InputError, match="resume"):
        compress(setup["teacher"], setup["train"], setup["eval"], out, config=cfg, finetune=_finetune(),
                 teacher_path=setup["teacher"])
    # Killed after the last fine-tune epoch but before the result was written: resume rebuilds it bit for bit
    # from finetune/last.pt (the full QAT state: masks, observers, float16 parametrizations).
    (out / COMPRESSED_NAME).unlink()
    again = compress(setup["teacher"], setup["train"], setup["eval"], out, config=cfg,
                     finetune=_finetune(), teacher_path=setup["teacher"], resume=True)
    for k, v in ckpt.state_dict.items():
        assert torch.equal(v, again.checkpoint.state_dict[k]), k
    for k, v in ckpt.int8["state_dict"].items():  # the int8 QAT resumed from int8/last.pt: same model
        assert torch.equal(v, again.checkpoint.int8["state_dict"][k]), k
    assert again.checkpoint.int8["points"] == ckpt.int8["points"]
    # A pruned.pt of another sparsity is not silently reused.
    (out / COMPRESSED_NAME).unlink()
    with pytest.raises(InputError, match="pruned to"):
        compress(setup["teacher"], setup["train"], setup["eval"], out, config=CompressConfig(sparsity=0.5),
                 finetune=_finetune(), teacher_path=setup["teacher"], resume=True)


def test_cli_end_to_end_then_asc_eval(setup, tiny_dataset, tmp_path: Path, capsys) -> None:
    from tinyasc.train.cli import eval_main

    out = tmp_path / "cli"
    rc = compress_main([str(setup["teacher"]), "--teacher", str(setup["teacher"]), "--dataset", str(tiny_dataset.root),
                        "--cache-dir", str(setup["cache"]), "--epochs", "1", "--batch-size", "16",
                        "--steps-per-epoch", "2", "--sparsity", "0.8", "--no-progress", "--out", str(out)])
    assert rc == 0
    assert (out / PRUNED_NAME).is_file() and (out / FINETUNE_DIR / "last.pt").is_file()
    assert "int8-qat+kd" in capsys.readouterr().out
    rc = eval_main([str(out / COMPRESSED_NAME), str(tiny_dataset.root), "--cache-dir", str(setup["cache"]),
                    "--out", str(tmp_path / "ev"), "--no-progress"])
    assert rc == 0 and (tmp_path / "ev" / "eval.json").is_file()
    printed = capsys.readouterr().out  # the integer simulation scored, the float weights beside it
    assert "int8 (integer simulation)" in printed and "float weights" in printed
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert len(report["beside"]) == 1


def test_cli_bad_input_one_line_exit_2(setup, tmp_path: Path, capsys) -> None:
    teacher = Checkpoint.load(setup["teacher"])
    other_labels = dataclasses.replace(teacher, labels=tuple(reversed(teacher.labels)))
    other_labels.save(tmp_path / "labels.pt")
    other_feats = dataclasses.replace(teacher, feature_config=dataclasses.replace(teacher.feature_config, hop_ms=20.0))
    other_feats.save(tmp_path / "feats.pt")
    (tmp_path / "junk.pt").write_bytes(np.random.default_rng(0).bytes(100))
    base = ["--dataset", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]
    cases = [
        [str(setup["teacher"]), "--sparsity", "1.0", *base],
        [str(setup["teacher"]), "--sparsity", "0", *base],
        [str(setup["teacher"]), "--teacher", str(tmp_path / "labels.pt"), *base],
        [str(setup["teacher"]), "--teacher", str(tmp_path / "feats.pt"), *base],
        [str(tmp_path / "junk.pt"), *base],
    ]
    for argv in cases:
        assert compress_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error:") and "Traceback" not in err, err


def test_gradual_schedule_reaches_the_sparsity_and_resumes_exactly(setup, tmp_path: Path, monkeypatch) -> None:
    """``--schedule gradual --scope lamp``: the fine-tune raises the sparsity step by step (a function of the step
    alone), ends at exactly the target, and a run killed after its first epoch resumes to the same weights."""
    import tinyasc.train as train_pkg

    cfg = CompressConfig(scope="lamp", schedule="gradual", prune_ramp=0.5, int8_epochs=0)
    whole = compress(setup["teacher"], setup["train"], setup["eval"], tmp_path / "whole", config=cfg,
                     finetune=_finetune(), teacher_path=setup["teacher"])
    c = whole.checkpoint.compression
    assert c["schedule"] == "gradual" and c["sparsity_scope"] == "lamp"
    assert [s["name"] for s in c["steps"]] == ["baseline", "prune", "finetune+qat+kd"]
    ft = c["steps"][-1]
    assert ft["conv_nonzero"] == ft["conv_weights"] - round(0.89 * ft["conv_weights"])  # exact, model-wide
    assert c["steps"][1]["conv_nonzero"] == c["steps"][1]["conv_weights"]  # nothing removed before the fine-tune

    real_fit = train_pkg.fit

    class Killed(Exception):
        pass

    def fit_killed_after_epoch_1(*args, **kwargs):
        kwargs["on_epoch_end"] = lambda epoch, row, model: epoch == 1
        real_fit(*args, **kwargs)
        raise Killed

    monkeypatch.setattr(train_pkg, "fit", fit_killed_after_epoch_1)
    with pytest.raises(Killed):
        compress(setup["teacher"], setup["train"], setup["eval"], tmp_path / "killed", config=cfg,
                 finetune=_finetune(), teacher_path=setup["teacher"])
    monkeypatch.setattr(train_pkg, "fit", real_fit)
    resumed = compress(setup["teacher"], setup["train"], setup["eval"], tmp_path / "killed", config=cfg,
                       finetune=_finetune(), teacher_path=setup["teacher"], resume=True)
    for k, v in whole.checkpoint.state_dict.items():
        assert torch.equal(v, resumed.checkpoint.state_dict[k]), k
