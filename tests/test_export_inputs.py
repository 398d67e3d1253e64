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
from tinyasc.model.export_form import ExportForm, export_form
from tinyasc.export.precision import Activations
from tinyasc.export.tflite_graph import GraphInfo, TensorQuant, quantize
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


def test_lifted_form_on_a_model_without_input_resnorm_exits_2(tmp_path, data, capsys):
    model = create_model("bcresnet_asc_1", norm="global").eval()
    ck = tmp_path / "global.pt"
    Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(), feature_config=FC,
               state_dict=model.state_dict()).save(ck)
    assert main([str(ck), "--int8", "--dataset", str(data), "--out", str(tmp_path / "o"), "--form", "equalized-lifted",
                 "--calib-clips", "4", "--parity-clips", "4", "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert str(ck) in err and "needs a ResNorm" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.partial-*"))


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
    + [(ExportForm.EQUALIZED_LIFTED, "bcresnet_asc", {"base_channels": 4, "activation": "relu", "norm": "input-only"})],
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
    # float32 reassociation only (BN folding, gains moved between convs, the lifted ResNorm in numpy): ~1e-6
    assert info.max_abs_diff <= 1e-4
    if form is not ExportForm.AS_TRAINED:
        assert info.bn_folded == 1 + 4 + 9  # stem, four transition projections, nine temporal BNs
    equalized = form in (ExportForm.EQUALIZED, ExportForm.EQUALIZED_LIFTED)
    assert info.freq_means_scaled == info.subspectral_equalized == (9 if equalized else 0)  # one per BC-ResBlock
    assert (info.input_resnorm is not None) == (form is ExportForm.EQUALIZED_LIFTED)


def test_lifted_form_needs_an_input_resnorm():
    model = create_model("bcresnet_asc_1", norm="global").eval()
    x = np.zeros((2, 1, 256, 16), np.float32)
    with pytest.raises(ValueError, match="needs a ResNorm"):
        export_form(model, ExportForm.EQUALIZED_LIFTED, x, x)


def test_parity_stats_separate_output_rounding_from_graph_error():
    """A clip whose float top-1 margin is under one output step can flip by output rounding alone."""
    scale, zp = 0.1, 0
    ref = np.array([[1.00, 0.98, 0.0],   # margin 0.2 steps: ties on the int8 grid -> class 0 (argmax), ok here
                    [0.98, 1.00, 0.0],   # margin 0.2 steps: the grid ties, argmax picks 0 -> unresolvable flip
                    [2.00, 0.50, 0.0],   # margin 15 steps, int8 agrees
                    [0.50, 2.00, 0.0]])  # margin 15 steps, int8 (below) disagrees: a real graph error
    codes = np.array([[10, 10, 0], [10, 10, 0], [20, 5, 0], [20, 5, 0]], np.int8)
    st = pipeline.parity_stats(ref, codes, scale, zp, margin_steps=1.0)
    assert st["top1_agreement"] == 0.5
    assert st["resolvable_fraction"] == 0.5 and st["top1_agreement_resolvable"] == 0.5
    assert st["output_rounding_ceiling"] == 0.75  # the second row: its float logits rounded to the grid already flip
    assert st["logit_err_steps_max"] == pytest.approx(15.0)
    assert pipeline.parity_stats(ref, codes, scale, zp, margin_steps=0.0)["top1_agreement_resolvable"] == 0.5


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
    lifted = c_array(data, name="asc_model", header_name="model_int8.h", inp=q, out=q, labels=["a"],
                     input_resnorm=(0.1, 1e-5))
    assert bytes_from_c_array(lifted.source) == data
    assert "ASC_MODEL_INPUT_RESNORM 1" in lifted.header and "ASC_MODEL_INPUT_RESNORM_LAMBDA 0.1f" in lifted.header
    assert "ASC_MODEL_INPUT_RESNORM 0" in files.header and "LAMBDA" not in files.header
    assert "ASC_MODEL_INPUT_TYPE int8_t" in files.header and "ASC_MODEL_OUTPUT_TYPE int8_t" in files.header


def test_c_array_header_of_a_16x8_model_declares_int16_io():
    data = bytes(range(64))
    q = TensorQuant(name="in", dtype="INT16", shape=(1, 256, 34, 1), scale=3.0e-4, zero_point=0)
    files = c_array(data, name="asc_model", header_name="model_int16x8.h", inp=q, out=q, labels=["a"])
    assert bytes_from_c_array(files.source) == data
    assert "ASC_MODEL_INPUT_TYPE int16_t" in files.header and "ASC_MODEL_OUTPUT_TYPE int16_t" in files.header
    assert "ASC_MODEL_INPUT_SCALE 0.0003f" in files.header and "INT16 input, INT16 output" in files.header
    assert files.header.splitlines()[0].startswith("/* model_int16x8.h:") and "#ifndef MODEL_INT16X8_H_" in files.header


def _graph(**over) -> GraphInfo:
    """A 16x8 graph as onnx2tf writes it: int16 activations and I/O, int8 weights, int64 (or int32) biases."""
    io = TensorQuant(name="x", dtype="INT16", shape=(1, 4), scale=1e-3, zero_point=0)
    kw = dict(op_counts={"CONV_2D": 2, "LOGISTIC": 1}, tensor_types={"INT16": 5, "INT8": 2, "INT64": 1, "INT32": 2},
              inputs=[io], outputs=[io], bias_types=["INT64", "INT32"])
    return GraphInfo(**{**kw, **over})


def test_full_integer_violations_of_a_16x8_graph():
    assert _graph().full_integer_violations("INT16") == []
    assert _graph().full_integer_violations()  # as an int8 graph: int16 tensors and I/O, int64 biases
    f32 = TensorQuant(name="y", dtype="FLOAT32", shape=(1, 4), scale=None, zero_point=None)
    bad = {"float tensor": _graph(tensor_types={"INT16": 5, "FLOAT32": 1}, float_tensors=["y"]),
           "float output": _graph(outputs=[f32]),
           "quantize op": _graph(op_counts={"CONV_2D": 2, "QUANTIZE": 1}),
           "int8 input": _graph(inputs=[TensorQuant(name="x", dtype="INT8", shape=(1, 4), scale=0.1, zero_point=0)]),
           "float bias": _graph(bias_types=["FLOAT32"])}
    for what, g in bad.items():
        assert g.full_integer_violations("INT16"), what


def test_parity_stats_rounding_ceiling_uses_the_output_type():
    """A logit beyond the int8 range saturates at 127 steps; the int16 grid holds it: the ceiling depends on dtype."""
    ref = np.array([[1.5, 2.0, 0.0]])  # scale 0.01: 150 and 200 steps -> both saturate to 127 in int8, a tie
    codes16 = np.array([[150, 200, 0]], np.int16)
    assert pipeline.parity_stats(ref, codes16, 0.01, 0, dtype="INT16")["output_rounding_ceiling"] == 1.0
    assert pipeline.parity_stats(ref, codes16, 0.01, 0, dtype="INT8")["output_rounding_ceiling"] == 0.0


def test_activations_option_parses_to_the_enum():
    from tinyasc.export.cli import build_parser

    base = ["ck.pt", "--int8", "--dataset", "d", "--out", "o"]
    assert build_parser().parse_args(base).activations == "int8"
    for a in Activations:
        assert Activations(build_parser().parse_args([*base, "--activations", a.value]).activations) is a
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([*base, "--activations", "int4"])
    assert info.value.code == 2
    assert pipeline.ExportConfig(activations="auto").activations is Activations.AUTO
    with pytest.raises(ValueError):
        pipeline.ExportConfig(activations="int4")
    assert [Activations.INT8.stem, Activations.INT16.stem] == ["model_int8", "model_int16x8"]


def _candidate(activations: Activations, agreement: float | None, *failed: str) -> pipeline.Candidate:
    gates = [{"name": n, "value": agreement if n == "top1_agreement" else 0, "threshold": 0, "passed": n not in failed,
              "detail": ""} for n in ("full_integer_graph", "top1_agreement", "accuracy_drop", "size_budget")]
    return pipeline.Candidate(activations=activations, path=pipeline.Path(f"{activations.stem}.tflite"), graph=None,
                              violations=[], arena=1, tflm_vs_ref=0, accuracy={}, vs_pytorch={}, accuracy_drop=0.0,
                              accuracy_drop_stderr=0.0, audit={}, calibration={}, gates=gates, timings={})


def test_auto_rule():
    auto = pipeline.ExportConfig(activations="auto")
    ok8, bad8 = _candidate(Activations.INT8, 0.995), _candidate(Activations.INT8, 0.97, "top1_agreement")
    ok16, bad16 = _candidate(Activations.INT16, 0.998), _candidate(Activations.INT16, 0.98, "top1_agreement")
    # int8 passes: deployed, and the 16x8 file is not even evaluated
    assert not pipeline._needs_int16(auto, [ok8])
    assert pipeline._choose([ok8], Activations.AUTO)[0] is ok8
    assert pipeline._needs_int16(auto, [bad8])
    chosen, why = pipeline._choose([bad8, ok16], Activations.AUTO)
    assert chosen is ok16 and "int8 file failed top1_agreement" in why
    # neither passes: the higher gated agreement, int8 (the smaller arena) on a tie or when int16 has none
    assert pipeline._choose([bad8, bad16], Activations.AUTO)[0] is bad16
    tie = _candidate(Activations.INT16, 0.97, "accuracy_drop")
    assert pipeline._choose([bad8, tie], Activations.AUTO)[0] is bad8
    assert pipeline._choose([_candidate(Activations.INT8, None, "top1_agreement"), bad16], Activations.AUTO)[0] is bad16
    # fixed modes deploy their precision whatever the gates say; int8 with the 16x8 file as a side measurement
    assert pipeline._choose([bad8, ok16], Activations.INT8)[0] is bad8
    assert pipeline._needs_int16(pipeline.ExportConfig(keep_int16=True), [ok8])
    assert not pipeline._needs_int16(pipeline.ExportConfig(), [bad8])
    assert pipeline._choose([ok16], Activations.INT16)[0] is ok16


def test_equalized_form_graph_structure_and_equalized_ranges(tmp_path):
    """``equalized``: each block's ReduceMean over frequency becomes a depthwise (F x 1) conv and each
    SubSpectralNorm's BatchNormalization a depthwise 1 x 1 conv (per-channel int8 weight scales);
    the frequency convs' output channels share one calibrated range."""
    import onnx

    from tinyasc.model.export_form import ScaledMeanBlock, SubbandAffine

    torch.manual_seed(2)
    model = create_model("bcresnet_asc_1")
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 1, 256, 24) * 2 - 4)
    model.eval()
    calib = (np.random.default_rng(0).normal(size=(8, 1, 256, 24)) * 2 - 4).astype(np.float32)
    counts = {}
    for form in (ExportForm.FOLD, ExportForm.EQUALIZED):
        out, _ = export_form(model, form, calib, calib[:2])
        path = tmp_path / f"{form.value}.onnx"
        pipeline.export_onnx(out, calib[:1], path)
        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        counts[form] = {k: ops.count(k) for k in ("ReduceMean", "Conv", "BatchNormalization", "Mul")}
    fold, eq = counts[ExportForm.FOLD], counts[ExportForm.EQUALIZED]
    assert fold["BatchNormalization"] == 9 and eq["BatchNormalization"] == 0  # the nine SSNs
    assert eq["ReduceMean"] == fold["ReduceMean"] - 9
    assert eq["Conv"] == fold["Conv"] + 9 + 9  # frequency means and sub-band affines
    assert eq["Mul"] == fold["Mul"]
    assert len([m for m in out.modules() if isinstance(m, ScaledMeanBlock)]) == 9
    affines = [m for m in out.modules() if isinstance(m, SubbandAffine)]
    assert len(affines) == 9 and affines[0].affine.weight.shape[0] == 10 * 4  # C x S channels in ASC-1's stage 1
    blk = next(m for m in out.modules() if isinstance(m, ScaledMeanBlock)).block
    with torch.no_grad():  # every channel's 99.9th-percentile |freq_dw output| within 10% of the widest one
        h = blk.project(out.stem(out.input_norm(torch.from_numpy(calib))))
        y = blk.freq_dw(h)
        q = torch.quantile(y.abs().transpose(0, 1).reshape(y.shape[1], -1), 0.999, dim=1)
        assert float(q.min() / q.max()) > 0.9


def test_paired_accuracy_drop_stderr_from_discordant_pairs():
    labels = np.zeros(100, int)
    a = np.zeros(100, int)  # all right
    b = a.copy()
    b[:4] = 1  # 4 clips right only for a, none only for b: sqrt(4 - 16/100) / 100
    assert pipeline._paired_drop_stderr(labels, a, b) == pytest.approx(np.sqrt(3.84) / 100)
    assert pipeline._paired_drop_stderr(labels, a, a) == 0.0


def test_deployed_contract_roundtrip_and_bad_metadata(tmp_path):
    from tinyasc.contract import DeployedContract, FeatureConfig, read_deployed_contract
    from tinyasc.errors import InputError

    c = DeployedContract(feature_config=FeatureConfig(clip_seconds=2.0), labels=("a", "b"), input_resnorm=(0.1, 1e-5))
    assert DeployedContract.from_json(c.to_json()) == c
    with pytest.raises(ValueError, match="schema"):
        DeployedContract.from_json(b'{"schema": "other"}')
    # a flatbuffer whose tinyasc.contract entry is not JSON: one clear error naming the file
    import flatbuffers
    import tflite

    b = flatbuffers.Builder(0)
    data = b.CreateByteVector(b"not json")
    tflite.BufferStart(b)
    tflite.BufferAddData(b, data)
    buf = tflite.BufferEnd(b)
    name = b.CreateString("tinyasc.contract")
    tflite.MetadataStart(b)
    tflite.MetadataAddName(b, name)
    tflite.MetadataAddBuffer(b, 0)
    md = tflite.MetadataEnd(b)
    tflite.ModelStartBuffersVector(b, 1)
    b.PrependUOffsetTRelative(buf)
    bufs = b.EndVector()
    tflite.ModelStartMetadataVector(b, 1)
    b.PrependUOffsetTRelative(md)
    mds = b.EndVector()
    tflite.SubGraphStart(b)  # an empty subgraph: the reader refuses a model without one
    sub = tflite.SubGraphEnd(b)
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(sub)
    subs = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddSubgraphs(b, subs)
    tflite.ModelAddBuffers(b, bufs)
    tflite.ModelAddMetadata(b, mds)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    with pytest.raises(InputError, match="unreadable tinyasc.contract"):
        read_deployed_contract(bytes(b.Output()), tmp_path / "bad.tflite")
    assert read_deployed_contract(bytes(b.Output()).replace(b"tinyasc.contract", b"something.other0")) is None


def test_extremes_give_the_exact_order_statistic():
    """The streaming percentile (k smallest / largest kept across chunks) equals sorting everything."""
    from tinyasc.export.calibrate import _Extremes

    rng = np.random.default_rng(0)
    chunks = [rng.standard_t(3, size=n).astype(np.float32) for n in (7, 1000, 3, 500)]
    allv = np.sort(np.concatenate(chunks))
    for k in (1, 5, 40):
        e = _Extremes(k)
        for c in chunks:
            e.add(c)
        assert e.range() == (float(allv[k - 1]), float(allv[-k]))
    e = _Extremes(40)  # one pass serves every smaller rank (every candidate percentile)
    for c in chunks:
        e.add(c)
    for k in (1, 7, 40):
        assert e.range(k) == (float(allv[k - 1]), float(allv[-k]))
    with pytest.raises(ValueError):
        e.range(41)


def test_int8_params_hold_zero_and_map_the_range_onto_the_codes():
    from tinyasc.export.calibrate import int8_params

    s, z = int8_params(-1.0, 3.0)
    assert s == pytest.approx(4 / 255) and -128 <= z <= 127 and abs((-128 - z) * s + 1.0) < s
    assert int8_params(0.5, 2.0)[1] == -128  # widened to hold 0: 0 is code -128
    assert int8_params(-2.0, -0.5)[1] == 127


def test_dead_frequency_filter_gets_a_unit_subband_gain():
    """A pruned-away frequency filter feeds zeros: its sub-band gain (BatchNorm's gamma / sqrt(eps),
    ~300) becomes 1, so the int32 bias of the sub-band conv keeps its precision; same function."""
    torch.manual_seed(2)
    model = create_model("bcresnet_asc_1", norm="input-only")
    block = model.stages[0][1]
    with torch.no_grad():
        block.freq_dw.weight[3].zero_()
        block.ssn.bn.running_var.view(-1, 4)[3] = 0.0  # what training leaves for a channel that is always 0
        block.ssn.bn.running_mean.view(-1, 4)[3] = 0.0
        block.ssn.bn.bias.normal_()
    model.eval()
    raw_gain = (block.ssn.bn.weight / torch.sqrt(block.ssn.bn.running_var + block.ssn.bn.eps)).view(-1, 4)[3]
    assert raw_gain.abs().min() > 50
    calib = (np.random.default_rng(0).normal(size=(8, 1, 256, 24)) * 2 - 4).astype(np.float32)
    em, info = export_form(model, ExportForm.EQUALIZED, calib, calib[:4])
    assert info.max_abs_diff <= 1e-4
    gains = em.stages[0][1].block.ssn.affine.weight.detach().view(-1, 4)
    assert torch.equal(gains[3], torch.ones(4))
    assert not torch.allclose(gains[2], torch.ones(4))  # live channels keep theirs


def test_calib_percentile_out_of_range_exits_2(tmp_path, data, ckpt, capsys):
    rc = main([str(ckpt), "--int8", "--dataset", str(data), "--out", str(tmp_path / "o"), "--calib-percentile", "40"])
    assert rc == 2
    assert "calib_percentile" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
