"""The int8 model (tinyasc.model.int8): graph passes, TFLite's integer arithmetic, QAT -> int8 file -> TFLite Micro.

Two tiny BC-ResNet-ASC-1 (64 mel bins): the quick profile's student form (ResNorm on the input, lifted into the
front end) and the paper's in-network ResNorm (MEAN, SUB, RSQRT of FreqIN inside the int8 graph). Each is
QAT-trained for a few steps, converted once by onnx2tf (tens of seconds) and shared by the module's tests.
"""

from __future__ import annotations

import dataclasses
import random
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from tinyasc.contract import Checkpoint, FeatureConfig, input_resnorm
from tinyasc.errors import InputError
from tinyasc.export.convert import convert
from tinyasc.export.interpreters import run_tflm
from tinyasc.export.op_parity import op_parity
from tinyasc.export.pipeline import export_onnx
from tinyasc.export.qat_params import ParamsMismatch, carry_params
from tinyasc.model import create_model
from tinyasc.model.export_form import ExportForm, export_form
from tinyasc.model.int8 import (ActQuant, Int8Model, QConv2d, QElementwise, QMean, QRsqrt, decompose_silu, insert_activation_quants,
                                int8_from_checkpoint, multiply_by_quantized_multiplier, quantize_convs, trace)
from tinyasc.qmath import quantize_multiplier
from tinyasc.tflite_io import parse_model

N_MELS, T = 64, 40
FORMS = {"input-only": ExportForm.EQUALIZED_LIFTED, "resnorm": ExportForm.EQUALIZED}
#: Ops whose integer kernel the simulation emulates (requantization with TFLite's multipliers and roundings):
#: bit-exact, 0 steps. The others (LOGISTIC, SUB, RSQRT, a MUL/ADD by a constant) run in float and are rounded
#: once, which equals TFLite Micro's integer result except where a value falls within its kernel's rounding error
#: of a tie: at most one step.
EMULATED = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MUL", "MEAN", "INPUT"}


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, 1, N_MELS, T)) * 3 + 1).astype(np.float32)
    x += np.linspace(-2, 2, N_MELS, dtype=np.float32)[None, None, :, None]  # a spectral tilt: per-band statistics differ
    return x, rng.integers(0, 10, n)


def _int8_model(norm: str, seed: int = 0) -> Int8Model:
    torch.manual_seed(seed)
    model = create_model("bcresnet_asc_1", norm=norm, n_mels=N_MELS).eval()
    x, _ = _data(16, 1)
    em, info = export_form(model, FORMS[norm], x, x[:2])
    return Int8Model(em, input_resnorm=info.input_resnorm)


def _qat(q: Int8Model, steps: int = 6) -> Int8Model:
    """Calibrate in float, then a few fake-quantized training steps (ranges keep moving), then freeze."""
    x, y = _data(64, 2)
    q.calibrate([torch.from_numpy(x[:32])])
    opt = torch.optim.SGD(q.parameters(), lr=1e-3)
    q.train()
    for i in range(steps):
        xb, yb = torch.from_numpy(x[i * 8 : i * 8 + 16]), torch.from_numpy(y[i * 8 : i * 8 + 16])
        loss = nn.functional.cross_entropy(q(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return q.eval()


@pytest.fixture(scope="module", params=sorted(FORMS))
def converted(request, tmp_path_factory):
    norm = request.param
    root = tmp_path_factory.mktemp(f"int8-{norm}")
    q = _qat(_int8_model(norm))
    x, _ = _data(24, 3)
    with torch.no_grad():
        xg = q.front(torch.from_numpy(x)).numpy()
    export_onnx(q.float_graph(), xg, root / "m.onnx")
    np.save(root / "calib.npy", np.transpose(xg[:8], (0, 2, 3, 1)))
    files = convert(root / "m.onnx", root / "calib.npy", root / "o2t", root / "onnx2tf.log")
    int8 = root / "int8.tflite"
    shutil.copy2(files.int8, int8)
    carried = carry_params(files.float32, int8, q, x[:1])
    return {"norm": norm, "model": q, "x": x, "int8": int8, "float": files.float32, "carried": carried,
            "converter_int8": files.int8}


# ----------------------------------------------------------------------------- integer arithmetic


def _mbqm_reference(x: int, m: int, shift: int) -> int:
    """gemmlowp/TFLite MultiplyByQuantizedMultiplier in Python integers (C's truncating division)."""
    left, right = max(shift, 0), max(-shift, 0)
    ab = x * (1 << left) * m
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    num = ab + nudge
    high = abs(num) // (1 << 31) * (1 if num >= 0 else -1)
    mask = (1 << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if remainder > threshold else 0)


def test_multiply_by_quantized_multiplier_matches_the_integer_reference():
    rnd = random.Random(0)
    xs, ms, shs = [], [], []
    for _ in range(4000):
        real = 10 ** rnd.uniform(-6, 0.5)
        m, sh = quantize_multiplier(real)
        xs.append(rnd.randint(-(1 << 24), 1 << 24))
        ms.append(m)
        shs.append(sh)
    got = multiply_by_quantized_multiplier(torch.tensor(xs), torch.tensor(ms), torch.tensor(shs)).tolist()
    assert got == [_mbqm_reference(x, m, s) for x, m, s in zip(xs, ms, shs)]  # bit-exact, every value


# ----------------------------------------------------------------------------- passes


def test_passes_change_the_graph_as_documented():
    torch.manual_seed(0)
    model = create_model("bcresnet_asc_1", norm="input-only", n_mels=N_MELS).eval()
    x, _ = _data(8, 1)
    em, _ = export_form(model, ExportForm.EQUALIZED_LIFTED, x, x[:2])
    n_convs = sum(isinstance(m, nn.Conv2d) for m in em.modules())
    assert quantize_convs(em) == n_convs
    wrapped = {id(m.conv) for m in em.modules() if isinstance(m, QConv2d)}
    assert len(wrapped) == n_convs and all(id(m) in wrapped for m in em.modules() if type(m) is nn.Conv2d)
    gm = trace(em)
    silu = sum(n.op == "call_module" and isinstance(gm.get_submodule(n.target), nn.SiLU) for n in gm.graph.nodes)
    sig_before = sum(n.target is torch.sigmoid for n in gm.graph.nodes)
    assert silu == 9 and decompose_silu(gm) == 9
    assert sum(n.target is torch.sigmoid for n in gm.graph.nodes) == sig_before + 9
    assert not any(n.op == "call_module" and isinstance(gm.get_submodule(n.target), nn.SiLU) for n in gm.graph.nodes)
    n_points = insert_activation_quants(gm)
    aqs = [n for n in gm.graph.nodes if n.op == "call_module" and isinstance(gm.get_submodule(n.target), ActQuant)]
    assert len(aqs) == n_points
    for node in aqs:  # never after a conv whose only consumer is a ReLU (the converter fuses the ReLU into it)
        src = node.args[0]
        if src.op == "call_module" and isinstance(gm.get_submodule(src.target), QConv2d):
            users = list(src.users)
            assert not (len(users) == 1 and users[0] is not node)
    relus = [n for n in gm.graph.nodes if n.op == "call_module" and isinstance(gm.get_submodule(n.target), nn.ReLU)]
    assert relus and all(any(u in aqs for u in r.users) for r in relus)
    sigmoid_aqs = [gm.get_submodule(n.target) for n in aqs if n.args[0].target is torch.sigmoid]
    assert len(sigmoid_aqs) == 9 and all(a.fixed == (1 / 256, -128) for a in sigmoid_aqs)


def test_int8_model_op_counts_and_the_float_graph_has_no_quantizers():
    for norm, extra_means in (("input-only", 0), ("resnorm", 10)):
        q = _int8_model(norm)
        kinds = [type(m) for m in q.graph.modules()]
        assert kinds.count(QMean) == 1 + extra_means  # the global pool (+ FreqIN's two means in each of 5 ResNorms)
        assert kinds.count(QRsqrt) == extra_means // 2
        assert kinds.count(QElementwise) > 0 and kinds.count(QConv2d) == 51
        fg = q.float_graph()
        assert not any(isinstance(m, (ActQuant, QConv2d, QElementwise, QMean, QRsqrt)) for m in fg.modules())


def test_rsqrt_of_zero_is_the_largest_code_and_trains_without_nan():
    """TFLite Micro's int8 RSQRT returns code 127 for a zero input (a variance rounded to zero)."""
    aq_in, aq_out = ActQuant(), ActQuant()
    aq_in.train(), aq_out.train()
    x = torch.tensor([0.0, 0.25, 1.0, 4.0], requires_grad=True)
    r = QRsqrt()
    r.__dict__["quants"] = (aq_in, aq_out)
    y = aq_out(r(aq_in(x)))  # training: zero takes the batch's largest finite value (2.0), gradient 0 there
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all() and x.grad[0] == 0
    aq_in.eval(), aq_out.eval()
    with torch.no_grad():
        y = aq_out(r(aq_in(torch.tensor([0.0, 1.0]))))
    s, z = aq_out.params()
    assert round(float(y[0]) / s + z) == 127


def test_qat_keeps_pruned_weights_zero_and_rounds_to_the_recorded_grid():
    q = _int8_model("input-only")
    conv = next(iter(q.convs().values()))
    with torch.no_grad():
        conv.conv.weight[0].zero_()
        conv.mask[0].zero_()
    _qat(q, steps=3)
    assert not conv.weight().detach()[0].any()
    x, _ = _data(4, 5)
    with torch.no_grad():
        y = q(torch.from_numpy(x))
    s, z = q.points()[q.output_point()].params()
    codes = y.numpy() / s + z
    assert np.abs(codes - np.round(codes)).max() < 1e-3  # outputs on the output tensor's int8 grid


# ----------------------------------------------------------------------------- QAT parameters in the int8 file


def test_every_int8_tensor_carries_a_qat_quantizer(converted):
    c = converted["carried"]
    assert c.matched and len(c.matched) == c.groups
    assert c.unused_points == ()
    assert set(c.matched.values()) == set(converted["model"].points())


def test_the_file_holds_exactly_the_qat_parameters(converted):
    q, qm = converted["model"], parse_model(converted["int8"].read_bytes())
    by_name = {t.name: t for t in qm.tensors}
    for name, point in converted["carried"].matched.items():
        s, z = q.points()[point].params()
        t = by_name[name]
        assert (np.float32(t.scale[0]), int(t.zero_point[0])) == (np.float32(s), z), name
    file_codes = sorted(tuple(np.sort(np.asarray(qm.tensors[op.inputs[1]].data, dtype=np.int32).ravel()))
                        for op in qm.operators if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"))
    from tinyasc.export.qat_params import _conv_codes

    assert file_codes == sorted(tuple(_conv_codes(conv)) for conv in q.convs().values())


def test_each_op_of_the_file_under_tflm_matches_the_simulation(converted):
    """Teacher-forced per op: emulated kernels bit-exact, the float-then-rounded ones within one step."""
    results = op_parity(converted["int8"], converted["model"], converted["x"][:3], converted["carried"].matched)
    assert len(results) >= 0.85 * len(converted["model"].points())  # all but the sub-band affines' reshaped outputs
    ops = {r.opcode for r in results}
    expected = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MUL", "MEAN", "LOGISTIC"}
    if converted["norm"] == "resnorm":
        expected |= {"SUB", "RSQRT"}
    assert expected <= ops
    for r in results:
        assert r.max_steps <= (0 if r.opcode in EMULATED else 1), r


def test_tiny_model_reaches_the_agreement_gate_under_tflm(converted):
    q, x = converted["model"], converted["x"]
    xg = x if q.input_resnorm is None else input_resnorm(x, *q.input_resnorm)
    got = run_tflm(converted["int8"], xg, arena_size=1 << 20)
    with torch.no_grad():
        sim = q.graph(torch.from_numpy(xg)).numpy()
    qm = parse_model(converted["int8"].read_bytes())
    step = qm.tensors[qm.outputs[0]].scale[0]
    err = np.abs(got - sim) / step
    assert (got.argmax(1) == sim.argmax(1)).mean() >= 0.995
    assert (err <= 1.0001).mean() >= 0.99


def test_a_model_of_another_form_is_refused_naming_the_tensor(converted, tmp_path):
    other = _qat(_int8_model("input-only" if converted["norm"] == "resnorm" else "resnorm"), steps=1)
    int8 = tmp_path / "other.tflite"
    shutil.copy2(converted["converter_int8"], int8)
    before = int8.read_bytes()
    with pytest.raises(ParamsMismatch) as err:
        carry_params(converted["float"], int8, other, converted["x"][:1])
    assert "tensor '" in str(err.value) and err.value.tensor
    assert int8.read_bytes() == before  # nothing written


# ----------------------------------------------------------------------------- the checkpoint section


def _ckpt(q: Int8Model, norm: str) -> Checkpoint:
    torch.manual_seed(0)
    plain = create_model("bcresnet_asc_1", norm=norm, n_mels=N_MELS)
    form = {"form": FORMS[norm].value, "input_resnorm": None if q.input_resnorm is None else
            {"lambda": q.input_resnorm[0], "eps": q.input_resnorm[1]}}
    return Checkpoint(model_name="bcresnet_asc_1", model_config=plain.config.to_dict(),
                      feature_config=FeatureConfig(n_mels=N_MELS), state_dict=plain.state_dict(), int8=q.section(form))


def test_checkpoint_section_roundtrips_to_the_same_integer_simulation(tmp_path):
    q = _qat(_int8_model("input-only"), steps=2)
    path = tmp_path / "c.pt"
    _ckpt(q, "input-only").save(path)
    back = int8_from_checkpoint(Checkpoint.load(path), path)
    x, _ = _data(6, 7)
    with torch.no_grad():
        assert torch.equal(q(torch.from_numpy(x)), back(torch.from_numpy(x)))
    assert back.params() == q.params()


@pytest.mark.parametrize("damage", ["missing_point", "other_form", "wrong_scale"])
def test_damaged_section_is_one_clear_error(tmp_path, damage):
    q = _qat(_int8_model("input-only"), steps=1)
    ck = _ckpt(q, "input-only")
    sec = dict(ck.int8)
    first = next(iter(sec["points"]))
    if damage == "missing_point":
        sec["points"] = {k: v for k, v in sec["points"].items() if k != first}
        expect = f"tensor {first!r}"
    elif damage == "other_form":
        sec["form"] = {**sec["form"], "form": "fold"}  # the input ResNorm back in the graph: tensors without a scale
        expect = "has no recorded scale"
    else:
        sec["points"] = {**sec["points"], first: {**sec["points"][first], "scale": sec["points"][first]["scale"] * 2}}
        expect = f"tensor {first!r}"
    path = tmp_path / "bad.pt"
    dataclasses.replace(ck, int8=sec).save(path)
    with pytest.raises(InputError) as err:
        int8_from_checkpoint(Checkpoint.load(path), path)
    assert expect in str(err.value) and "bad.pt" in str(err.value)
    assert "\n" not in str(err.value)


def test_asc_export_refuses_a_damaged_int8_section_with_one_line(tmp_path, capsys):
    from tinyasc.export.cli import main

    q = _qat(_int8_model("input-only"), steps=1)
    ck = _ckpt(q, "input-only")
    first = next(iter(ck.int8["points"]))
    sec = {**ck.int8, "points": {k: v for k, v in ck.int8["points"].items() if k != first}}
    dataclasses.replace(ck, int8=sec).save(tmp_path / "bad.pt")
    out = tmp_path / "out"
    assert main([str(tmp_path / "bad.pt"), "--int8", "--dataset", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"tensor {first!r}" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))  # nothing written


def test_a_pruned_away_channel_codes_its_bias_inside_int32():
    """An all-zero output channel keeps only its bias; with max|w|/127 its weight scale would be float eps and a
    bias of a few units would overflow int32 at s_in * eps (seen on a quick run: the export stopped). Its scale
    puts the bias at 2^24 codes instead, and the simulation computes exactly that bias."""
    conv = nn.Conv2d(2, 3, 1, bias=True)
    with torch.no_grad():
        conv.weight[1].zero_()
        conv.bias.copy_(torch.tensor([0.1, 37.5, -0.2]))
    q = QConv2d(conv)
    aq = ActQuant()
    aq.train()
    aq(torch.linspace(-1.0, 3.0, 50))
    aq.eval()
    q.__dict__["input_quant"] = aq
    codes = q.bias_codes()
    assert int(codes[1]) == 1 << 24 and int(codes.abs().max()) < 2**31 - 1
    assert float(q.bias()[1]) == pytest.approx(37.5, rel=1e-6)


def _observed(lo: float, hi: float) -> ActQuant:
    aq = ActQuant()
    aq.train()
    aq(torch.tensor([lo, hi]))
    return aq.eval()


def test_a_channel_past_xnnpack_s_requantization_bound_is_capped_and_clips():
    """A fresh quick run's frequency-mean conv had a channel at s_in * s_w / s_out = 1673 (a near-zero channel's mean
    lifted by a large gain): LiteRT's XNNPACK delegate refused the whole file and the export stopped. QAT caps a
    live channel's weight scale at half the bound (128), so its weights clip there; the other channels, and a dead
    channel's bias-coding scale, are untouched. Exact comparisons: the scales are computed, not trained."""
    conv = nn.Conv2d(1, 3, (4, 1), bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([0.01, -0.02, 0.015, 0.005]).view(1, 1, 4, 1).repeat(3, 1, 1, 1))
        conv.weight[1] *= 1e7  # channel 1: far past the bound
        conv.weight[2].zero_()  # channel 2: pruned away, its bias alone
        conv.bias.copy_(torch.tensor([0.1, 0.2, 3.0]))
    q = QConv2d(conv)
    q.__dict__["input_quant"], q.__dict__["output_quant"] = _observed(0.0, 12.0), _observed(-4.0, 4.0)
    s_in, s_out = (float(np.float32(a.params()[0])) for a in (q.__dict__["input_quant"], q.__dict__["output_quant"]))
    uncapped = (conv.weight.abs().amax(dim=(1, 2, 3)) / 127).double()
    scale = q.weight_scale().double()
    ratio = s_in * scale.numpy() / s_out
    assert ratio[1] == pytest.approx(QConv2d.MAX_REQUANT_SCALE, rel=1e-6) and ratio[1] < 256
    assert s_in * float(uncapped[1]) / s_out > 1000  # the case is real: uncapped it would be refused
    assert float(scale[0]) == pytest.approx(float(uncapped[0]), rel=1e-6)
    assert int(q.bias_codes()[2]) == 1 << 24  # the dead channel keeps its own scale
    w = q.weight().detach()
    assert float(w[1].abs().max()) == pytest.approx(127 * float(scale[1]), rel=1e-6)  # clipped at 127 codes
    assert torch.equal(w[0], torch.fake_quantize_per_channel_affine(
        conv.weight.detach(), q.weight_scale(), torch.zeros(3, dtype=torch.int32), 0, -127, 127)[0])


def _with_weight_scale(path, out, op_index: int, factor: float):
    """A copy of ``path`` with operator ``op_index``'s weight scales multiplied by ``factor`` (bytes patched in
    place; the reader gives each scale vector's file position)."""
    data = bytearray(path.read_bytes())
    m = parse_model(bytes(data), path)
    w = m.tensors[m.operators[op_index].inputs[1]]
    scales = np.asarray(w.scale, dtype=np.float32) * np.float32(factor)
    data[w.scale_offset : w.scale_offset + scales.nbytes] = scales.tobytes()
    out.write_bytes(bytes(data))
    return out


def test_xnnpack_refusals_name_what_litert_s_default_delegate_refuses(converted, tmp_path):
    """The bound is XNNPACK's, measured: the QAT file loads under LiteRT's default delegate and lists nothing; the
    same file with one convolution's weight scales raised to a requantization scale of 300 is listed and refused
    by the delegate, and runs under LiteRT's built-in kernels without it (what the export's default column then
    reports). A ratio of 250 is taken. This fails if an ai-edge-litert release moves the bound."""
    from tinyasc.export.interpreters import litert_interpreter, run_litert
    from tinyasc.export.xnnpack import requant_scales, xnnpack_refusals

    m = parse_model(converted["int8"].read_bytes(), converted["int8"])
    assert xnnpack_refusals(m) == []
    litert_interpreter(converted["int8"], reference=False)  # loads with the delegate
    op = next(o.index for o in m.operators if o.opcode == "CONV_2D")
    top = float(requant_scales(m, op).max())
    refused = _with_weight_scale(converted["int8"], tmp_path / "refused.tflite", op, 300.0 / top)
    lines = xnnpack_refusals(parse_model(refused.read_bytes(), refused))
    assert len(lines) == 1 and lines[0].startswith(f"operator {op} (CONV_2D): requantization scale 300")
    with pytest.raises(RuntimeError, match="failed to prepare"):
        litert_interpreter(refused, reference=False)
    y = run_litert(refused, converted["x"][:2], raw=True, delegate=False)
    assert y.shape[0] == 2
    taken = _with_weight_scale(converted["int8"], tmp_path / "taken.tflite", op, 250.0 / top)
    assert xnnpack_refusals(parse_model(taken.read_bytes(), taken)) == []
    litert_interpreter(taken, reference=False)


def test_the_export_evaluates_a_file_xnnpack_refuses_and_says_so(converted, tmp_path):
    """evaluate_candidate on a file past XNNPACK's bound: no traceback (it stopped the main command once); the
    default column is LiteRT's built-in kernels, equal to the reference kernels' codes on this file, and the
    candidate's notes (the report's warnings when deployed) name the operator."""
    from tinyasc.export.pipeline import ExportConfig, ParityClips, evaluate_candidate
    from tinyasc.export.precision import Activations
    from tinyasc.export.xnnpack import requant_scales

    m = parse_model(converted["int8"].read_bytes(), converted["int8"])
    op = next(o.index for o in m.operators if o.opcode == "CONV_2D")
    refused = _with_weight_scale(converted["int8"], tmp_path / "refused.tflite", op,
                                 300.0 / float(requant_scales(m, op).max()))
    q = converted["model"]
    x = converted["x"][:6]
    with torch.no_grad():
        xg, logits = q.front(torch.from_numpy(x)).numpy(), q(torch.from_numpy(x)).numpy()
    clips = ParityClips(x_graph=xg, logits=logits, labels=np.arange(6) % 10, devices=np.array(["a", "b", "c"] * 2))
    cand = evaluate_candidate(refused, Activations.INT8, {}, clips, ExportConfig())
    assert len(cand.notes) == 1 and f"operator {op} (CONV_2D)" in cand.notes[0] and "XNNPACK" in cand.notes[0]
    assert cand.summary(deployed=True, kept=True)["notes"] == cand.notes
    assert cand.vs_pytorch["litert_default"]["n_clips"] == 6


def test_a_refusal_the_check_does_not_predict_falls_back_with_the_delegate_s_error(converted, tmp_path, monkeypatch):
    """Should XNNPACK refuse for a reason ``xnnpack_refusals`` does not know (here: the check blinded), the export
    catches the delegate's error, runs the built-in kernels and quotes the error in the notes."""
    import tinyasc.export.pipeline as export_pipeline
    from tinyasc.export.xnnpack import requant_scales

    m = parse_model(converted["int8"].read_bytes(), converted["int8"])
    op = next(o.index for o in m.operators if o.opcode == "CONV_2D")
    refused = _with_weight_scale(converted["int8"], tmp_path / "refused.tflite", op,
                                 300.0 / float(requant_scales(m, op).max()))
    monkeypatch.setattr(export_pipeline, "xnnpack_refusals", lambda model: [])
    notes: list[str] = []
    y = export_pipeline._run_litert_default(refused, parse_model(refused.read_bytes(), refused), converted["x"][:2],
                                            notes)
    assert y.shape[0] == 2 and len(notes) == 1 and "failed to prepare" in notes[0]


def test_held_ranges_do_not_follow_training_batches_and_moving_ones_do():
    """``set_observe(False)`` (int8 QAT's default after calibration) keeps every calibrated range while the weights
    train; ``True`` lets the moving min/max follow the batches (here scaled 4x, as an augmentation might)."""
    q = _int8_model("input-only")
    x, _ = _data(32, 3)
    q.calibrate([torch.from_numpy(x[:16])])
    before = {k: (float(a.lo), float(a.hi)) for k, a in q.points().items() if a.fixed is None}
    q.train()
    q.set_observe(False)
    q(torch.from_numpy(4 * x[16:]))
    assert {k: (float(a.lo), float(a.hi)) for k, a in q.points().items() if a.fixed is None} == before
    q.set_observe(True)
    q(torch.from_numpy(4 * x[16:]))
    after = {k: (float(a.lo), float(a.hi)) for k, a in q.points().items() if a.fixed is None}
    assert after[q.input_point()] != before[q.input_point()]
