"""``asc-export`` bad input (exit 2, one line, nothing posing as finished) and the small pieces."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from tinyasc.contract import Checkpoint, FeatureConfig
from tinyasc.export import pipeline
from tinyasc.export.carray import bytes_from_c_array, c_array
from tinyasc.export.cli import main
from tinyasc.export.convert import ConversionError, convert
from tinyasc.export.export_form import ExportForm, export_form
from tinyasc.export.tflite_graph import TensorQuant, quantize
from tinyasc.model import create_model

FC = FeatureConfig(clip_seconds=1.0)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("bcresnet_asc_1").eval()
    path = tmp_path_factory.mktemp("ck") / "asc1.pt"
    Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(), feature_config=FC,
               state_dict=model.state_dict()).save(path)
    return path


@pytest.fixture(scope="module")
def data(tiny_dataset):
    return tiny_dataset.root  # read-only: tests pass their own --cache-dir


def test_not_a_checkpoint_exits_2(tmp_path, data, capsys):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main([str(bad), "--int8", "--dataset", str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_no_training_split_exits_2(tmp_path, data, ckpt, capsys):
    ds = tmp_path / "tau"
    shutil.copytree(data, ds)
    (ds / "evaluation_setup" / "fold1_train.csv").write_text("filename\tscene_label\n")
    assert main([str(ckpt), "--int8", "--dataset", str(ds), "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c")]) == 2
    assert "train" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_onnx2tf_failure_is_one_line_with_log_in_out_dir(tmp_path, data, ckpt, capsys, monkeypatch):
    def failing_convert(onnx_path, calib, work, log_path, **kw):
        log_path.write_text("lots of onnx2tf output\nERROR: something unsupported\n")
        raise ConversionError("ERROR: something unsupported", log_path)

    monkeypatch.setattr(pipeline, "convert", failing_convert)
    out = tmp_path / "o"
    rc = main([str(ckpt), "--int8", "--dataset", str(data), "--out", str(out), "--calib-clips", "4", "--parity-clips", "4",
               "--cache-dir", str(tmp_path / "cache")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "onnx2tf failed: ERROR: something unsupported" in err and err.count("\n") == 1
    assert (out / "onnx2tf.log").is_file()
    assert not (out / "report.json").exists() and not (out / "model_int8.tflite").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_real_onnx2tf_failure_is_summarized(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.zeros((1, 8, 8, 1), np.float32))
    log = tmp_path / "onnx2tf.log"
    with pytest.raises(ConversionError) as info:
        convert(bad, calib, tmp_path / "work", log)
    assert "\n" not in str(info.value) and log.is_file() and log.stat().st_size > 0


@pytest.mark.parametrize(
    "form,name,overrides",
    [(f, "bcresnet_asc_1", {}) for f in ExportForm]
    + [(ExportForm.PRESCALE_INPUT, "bcresnet_asc", {"base_channels": 4, "activation": "relu"})],
)
def test_export_forms_compute_the_same_function(form, name, overrides):
    torch.manual_seed(1)
    model = create_model(name, **overrides)
    model.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for _ in range(2):
            model(torch.randn(4, 1, 256, 24) * 2 - 4)
    model.eval()
    calib = (np.random.default_rng(0).normal(size=(8, 1, 256, 24)) * 2 - 4).astype(np.float32)
    check = (np.random.default_rng(1).normal(size=(4, 1, 256, 24)) * 3 - 2).astype(np.float32)
    _, info = export_form(model, form, calib, check)
    # float32 reassociation only (BN folding, per-frequency affine before FreqIN): ~1e-6;
    # two-pass also moves FreqIN's epsilon (1e-5) to the second pass: measured ~3e-4.
    assert info.max_abs_diff <= (1e-3 if form is ExportForm.TWO_PASS else 1e-4)
    if form is not ExportForm.AS_TRAINED:
        assert info.bn_folded == 1 + 4 + 9  # stem, four transition projections, nine temporal BNs
    if form in (ExportForm.PRESCALE, ExportForm.PRESCALE_INPUT, ExportForm.TWO_PASS):
        assert info.resnorm_prescaled == 5
    assert (info.input_mean is not None) == (form is ExportForm.PRESCALE_INPUT)
    assert info.freq_means_scaled == (9 if form is ExportForm.DW_MEAN else 0)  # one per BC-ResBlock


def test_quantize_rounds_half_away_from_zero_and_saturates():
    q = TensorQuant(name="x", dtype="INT8", shape=(4,), scale=0.5, zero_point=-1)
    assert quantize(np.array([0.25, -0.25, 100.0, -100.0]), q).tolist() == [0, -2, 127, -128]


def test_c_array_roundtrip_and_length_check():
    data = bytes(np.random.default_rng(0).integers(0, 256, 1001, dtype=np.uint8))
    q = TensorQuant(name="in", dtype="INT8", shape=(1, 256, 34, 1), scale=0.1, zero_point=3)
    files = c_array(data, name="asc_model", header_name="model_int8.h", inp=q, out=q, labels=["a", 'b"q'])
    assert bytes_from_c_array(files.source) == data
    with pytest.raises(ValueError):  # a declared length that disagrees with the array is caught
        bytes_from_c_array(files.source.replace(f"_len = {len(data)}u", f"_len = {len(data) + 1}u"))
    pre = c_array(data, name="asc_model", header_name="model_int8.h", inp=q, out=q, labels=["a"],
                  input_mean=[0.5, -1.25], input_inv_std=[2.0, 0.25])
    assert bytes_from_c_array(pre.source) == data  # the float arrays do not confuse the parser
    assert "g_asc_model_input_inv_std[2] = {2.0f, 0.25f}" in pre.source and "ASC_MODEL_INPUT_PRENORM 1" in pre.header


def test_dwmean_replaces_every_block_frequency_mean_and_equalizes_channels(tmp_path):
    """``dwmean``: each block's ReduceMean over frequency becomes one depthwise (F x 1) conv whose
    per-channel gain brings every channel's calibrated |mean| to the widest channel's range."""
    import onnx

    from tinyasc.export.export_form import ScaledMeanBlock

    torch.manual_seed(2)
    model = create_model("bcresnet_asc_1")
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 1, 256, 24) * 2 - 4)
    model.eval()
    calib = (np.random.default_rng(0).normal(size=(8, 1, 256, 24)) * 2 - 4).astype(np.float32)
    counts = {}
    for form in (ExportForm.FOLD, ExportForm.DW_MEAN):
        out, _ = export_form(model, form, calib, calib[:2])
        path = tmp_path / f"{form.value}.onnx"
        pipeline.export_onnx(out, calib[:1], path)
        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        counts[form] = (ops.count("ReduceMean"), ops.count("Conv"))
    assert counts[ExportForm.DW_MEAN][0] == counts[ExportForm.FOLD][0] - 9  # nine BC-ResBlocks
    assert counts[ExportForm.DW_MEAN][1] == counts[ExportForm.FOLD][1] + 9
    blocks = [m for m in out.modules() if isinstance(m, ScaledMeanBlock)]
    with torch.no_grad():  # the equalized frequency means: every channel's 99.9th |value| within 10%
        for blk in blocks[:1]:
            h = blk.block.project(out.stem(out.input_norm(torch.from_numpy(calib))))
            q = torch.quantile(blk.freq_mean(h).abs().transpose(0, 1).reshape(h.shape[1], -1), 0.999, dim=1)
            assert float(q.min() / q.max()) > 0.9
