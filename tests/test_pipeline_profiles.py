"""Pipeline profiles choose the export's activation precision; later stages follow the deployed file."""

from __future__ import annotations

import json

import pytest

from tinyasc.errors import InputError
from tinyasc.export.precision import Activations, deployed_tflite
from tinyasc.pipeline.profiles import PROFILES, PipelineProfile
from tinyasc.pipeline.runner import file_digest
from tinyasc.pipeline.stages import PipelineContext, audit_stage, export_stage, firmware_stage, latency_stage


def test_profiles_choose_their_activations():
    """Every profile deploys int8 (its int8 QAT makes the file the checkpoint's integer simulation); ``auto``
    and ``int16`` stay choices."""
    for profile in PROFILES.values():
        assert profile.activations is Activations.INT8, profile.name
        assert profile.int8_epochs >= 1, profile.name  # the checkpoint carries QAT's parameters
    expected = {name: Activations.INT8 for name in ("quick", "smoke", "paper")}
    for profile in PROFILES.values():
        assert profile.to_dict()["activations"] == expected[profile.name].value
        json.dumps(profile.to_dict())
    assert PipelineProfile(name="x", activations="int16").activations is Activations.INT16
    with pytest.raises(ValueError):
        PipelineProfile(name="x", activations="int4")


def _run_dir(tmp_path, deployed: str | None):
    (tmp_path / "compress").mkdir()
    (tmp_path / "compress" / "compressed.pt").write_bytes(b"checkpoint bytes")
    export = tmp_path / "export"
    export.mkdir()
    (export / "model_int8.tflite").write_bytes(b"int8 file")
    (export / "model_int16x8.tflite").write_bytes(b"16x8 file")
    if deployed is not None:
        (export / "report.json").write_text(json.dumps({"deployed": {"file": deployed, "activations": "int16"}}))
    return tmp_path


def test_export_key_holds_the_activations(tmp_path):
    run = _run_dir(tmp_path, None)
    profile = next(iter(PROFILES.values()))
    keys = {a: export_stage(PipelineContext(run_dir=run, profile=profile.replace(activations=a), dataset=None)).key()
            for a in Activations}
    assert {k["activations"] for k in keys.values()} == {"int8", "int16", "auto"}
    assert len({json.dumps(k, sort_keys=True) for k in keys.values()}) == 3  # changing it reruns the export


def test_later_stages_take_the_deployed_file(tmp_path):
    run = _run_dir(tmp_path, "model_int16x8.tflite")
    ctx = PipelineContext(run_dir=run, profile=next(iter(PROFILES.values())), dataset=None)
    digest = file_digest(run / "export" / "model_int16x8.tflite")
    assert deployed_tflite(run / "export") == run / "export" / "model_int16x8.tflite"
    for stage in (audit_stage(ctx), firmware_stage(ctx), latency_stage(ctx)):
        assert stage.key()["tflite"] == digest, stage.name


def test_deployed_tflite_refuses_an_unfinished_or_old_export(tmp_path):
    with pytest.raises(InputError, match="no readable export report"):
        deployed_tflite(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"schema": "tinyasc-export-report/1", "int8": {}}))
    with pytest.raises(InputError, match="older schema"):
        deployed_tflite(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"deployed": {"file": "model_int16x8.tflite"}}))
    with pytest.raises(InputError, match="missing"):
        deployed_tflite(tmp_path)


def test_quick_profile_compresses_its_own_model_at_the_papers_sparsity(tmp_path):
    """#20: the main command deploys the paper's compression in miniature: the trained model is its own student
    and KD teacher (the student stage hands the teacher's checkpoint on), pruned at the paper profile's sparsity,
    at a width that keeps enough weights to survive it (ASC-1 keeps 684 and falls to chance). Settings read
    from the profiles, not restated."""
    from tinyasc.compress.prune import conv_layers
    from tinyasc.contract import Checkpoint
    from tinyasc.contract import FeatureConfig
    from tinyasc.model import create_model
    from tinyasc.pipeline.profiles import ProfileName
    from tinyasc.pipeline.stages import student_stage

    quick, paper = PROFILES[ProfileName.QUICK], PROFILES[ProfileName.PAPER]
    assert quick.sparsity == paper.sparsity
    assert quick.student_epochs == 0
    assert (quick.student_model, quick.student_overrides) == (quick.teacher_model, quick.teacher_overrides)

    def kept(name, overrides):
        n = sum(m.weight.numel() for _, m in conv_layers(create_model(name, **overrides)))
        return n - round(quick.sparsity * n)

    assert kept(quick.student_model, quick.student_overrides) >= 2000
    assert kept("bcresnet_asc_1", {}) < 1000  # why the quick profile is wider than ASC-1

    model = create_model("bcresnet_asc_1")
    teacher = tmp_path / "teacher" / "last.pt"
    teacher.parent.mkdir()
    Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(), feature_config=FeatureConfig(),
               state_dict=model.state_dict(), metrics={"eval": {"overall": 0.25}}).save(teacher)
    stage = student_stage(PipelineContext(run_dir=tmp_path, profile=quick, dataset=None))
    summary = stage.run()
    assert summary["checkpoint"] == str(teacher) and summary["from_teacher"] is True
    assert summary["eval"] == {"overall": 0.25}
    assert stage.key() == {"teacher": file_digest(teacher)}
