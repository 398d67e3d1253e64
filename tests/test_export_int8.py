"""End-to-end ``asc-export --int8`` on a briefly trained ASC-1 and the tiny synthetic dataset.

One export (onnx2tf takes tens of seconds) is shared by the module; most tests recompute
what they check from the artifacts instead of trusting the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tinyasc.contract import Checkpoint, FeatureConfig
from tinyasc.data.cache import build_feature_set
from tinyasc.export.carray import bytes_from_c_array
from tinyasc.export.cli import main
from tinyasc.export.interpreters import run_litert, run_onnx, run_tflm, to_nhwc
from tinyasc.export.pipeline import REPORT_SCHEMA
from tinyasc.export.tflite_graph import read_graph
from tinyasc.model import create_model

FC = FeatureConfig(clip_seconds=1.0)  # the tiny dataset's one-second clips: 256 x 34 log-mel
BUDGET = 1000  # far below the model's ~11 kB of non-zero int8 parameters: the size gate must fail


def _train_briefly(features: np.ndarray, labels: np.ndarray, steps: int = 40) -> torch.nn.Module:
    """A few Adam steps so the logits carry signal (an untrained net's logits are all ~0)."""
    torch.manual_seed(0)
    model = create_model("bcresnet_asc_1")
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x = torch.from_numpy(np.asarray(features, dtype=np.float32))[:, None]
    y = torch.from_numpy(np.asarray(labels))
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        i = torch.randint(0, len(x), (32,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def setup(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data, ds = tiny_dataset.root, tiny_dataset  # read-only: the feature cache goes to root / "cache"
    train = build_feature_set(ds, "train", FC, cache_dir=root / "cache", progress=False, workers=1)
    evaluate = build_feature_set(ds, "evaluate", FC, cache_dir=root / "cache", progress=False, workers=1)
    model = _train_briefly(train.features, train.labels)
    ckpt = root / "asc1.pt"
    Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(), feature_config=FC,
               state_dict=model.state_dict()).save(ckpt)
    return {"root": root, "data": data, "ckpt": ckpt, "model": model, "eval": evaluate}


@pytest.fixture(scope="module")
def exported(setup):
    out = setup["root"] / "out"
    rc = main([str(setup["ckpt"]), "--int8", "--dataset", str(setup["data"]), "--out", str(out),
               "--calib-clips", "24", "--parity-clips", "27", "--debug-layers", "--budget", str(BUDGET),
               "--cache-dir", str(setup["root"] / "cache")])
    return {**setup, "out": out, "rc": rc, "report": json.loads((out / "report.json").read_text())}


def _x_eval(setup, n: int = 30) -> np.ndarray:
    return np.asarray(setup["eval"].features[:n], dtype=np.float32)[:, None]


def _torch_logits(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def test_gate_failure_exits_1_and_still_writes_everything(exported):
    assert exported["rc"] == 1
    rep = exported["report"]
    assert rep["status"] == "failed" and "size_budget" in rep["failed_gates"]
    for name in ("model.onnx", "model_float.tflite", "model_int8.tflite", "model_int8.h", "model_int8.c",
                 "report.json", "report.md", "onnx2tf.log"):
        assert (exported["out"] / name).is_file(), name
    assert "FAILED" in (exported["out"] / "report.md").read_text()
    # nothing half-built is left beside the output directory
    assert not [p for p in exported["root"].iterdir() if p.name.startswith(".out.")]


def test_report_schema(exported):
    rep = exported["report"]
    assert rep["schema"] == REPORT_SCHEMA
    for key in ("gates", "warnings", "checkpoint", "onnx", "tflite_float", "int8", "c_array", "parity", "audit",
                "debug_layers", "timings", "export_form"):
        assert key in rep, key
    runtimes = set(rep["parity"]["accuracy"])
    assert {"pytorch", "onnxruntime", "int8_litert_ref", "int8_tflm", "int8_litert_default"} <= runtimes
    for acc in rep["parity"]["accuracy"].values():
        assert set(acc["per_device"]) == {"a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"}
    assert rep["checkpoint"]["labels"][0] == "airport"
    # a float-trained checkpoint is exported anyway, with a warning
    assert any("not compressed" in w for w in rep["warnings"])
    assert rep["int8"]["tflm_arena_bytes"] > 0
    # the auditor read the int8 file: its non-zero bytes are what the size gate compared with the budget
    size_gate = next(g for g in rep["gates"] if g["name"] == "size_budget")
    assert rep["audit"]["totals"]["nonzero_bytes"] == size_gate["value"] > BUDGET
    assert rep["audit"]["within_budget"] is False


def test_int8_graph_is_full_integer_and_op_counts_reported(exported):
    data = (exported["out"] / "model_int8.tflite").read_bytes()
    g = read_graph(data)
    assert g.full_integer_violations() == []
    assert g.inputs[0].dtype == "INT8" and g.outputs[0].dtype == "INT8"
    assert g.inputs[0].shape == (1, 256, FC.n_frames, 1)
    assert set(g.bias_types) == {"INT32"}
    assert "QUANTIZE" not in g.op_counts and "DEQUANTIZE" not in g.op_counts
    assert g.op_counts["CONV_2D"] >= 1 and g.op_counts["DEPTHWISE_CONV_2D"] >= 1
    assert exported["report"]["int8"]["op_counts"] == g.op_counts
    # the float file, in contrast, is float: the assertion can fail
    assert read_graph((exported["out"] / "model_float.tflite").read_bytes()).full_integer_violations()


def test_onnx_matches_pytorch(exported):
    x = _x_eval(exported)
    ref = _torch_logits(exported["model"], x)
    got = run_onnx(exported["out"] / "model.onnx", x)
    # float32 graph vs float32 graph, different op order: ~1e-6; 1e-4 is the export's tolerance.
    assert np.abs(ref - got).max() <= 1e-4 * max(1.0, np.abs(ref).max())


def test_float_tflite_matches_onnx(exported):
    x = _x_eval(exported)
    ref = run_onnx(exported["out"] / "model.onnx", x)
    got = run_litert(exported["out"] / "model_float.tflite", x)
    assert np.abs(ref - got).max() <= 1e-4 * max(1.0, np.abs(ref).max())


def test_int8_parity_in_quantization_steps(exported):
    x = _x_eval(exported, 60)
    ref = _torch_logits(exported["model"], x)
    path = exported["out"] / "model_int8.tflite"
    q = read_graph(path.read_bytes()).outputs[0]
    got = run_litert(path, x, reference=True)
    steps = np.abs(got - ref) / q.scale
    # Post-training int8 of a briefly trained ResNorm/SiLU net (fold form), measured: mean
    # 9-11 steps, max 35-66 of the 256-step output range, top-1 agreement 0.76-0.81. A broken graph
    # (wrong layout, lost scale) gives errors of the order of the whole range and chance agreement.
    assert steps.mean() <= 16.0, steps.mean()
    assert steps.max() <= 96.0, steps.max()
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.6


def test_tflm_runs_in_reported_arena_and_matches_reference_kernels(exported):
    x = _x_eval(exported, 8)
    path = exported["out"] / "model_int8.tflite"
    arena = exported["report"]["int8"]["tflm_arena_bytes"]
    tflm = run_tflm(path, x, arena_size=arena, raw=True)
    ref = run_litert(path, x, reference=True, raw=True)
    # TFLM and TFLite's reference kernels share code but not every op (LOGISTIC, RSQRT): a few codes.
    assert np.abs(tflm.astype(int) - ref.astype(int)).max() <= 4
    from tinyasc.export.interpreters import tflm_allocates

    assert not tflm_allocates(path, arena - 1024)  # bisection found the smallest arena (16 B granularity)


def test_c_array_roundtrips_to_the_same_bytes(exported):
    out = exported["out"]
    data = (out / "model_int8.tflite").read_bytes()
    src, hdr = (out / "model_int8.c").read_text(), (out / "model_int8.h").read_text()
    assert bytes_from_c_array(src) == data
    assert "_Alignas(16)" in src and '"airport"' in src
    q = read_graph(data).inputs[0]
    assert f"ASC_MODEL_INPUT_ZERO_POINT {q.zero_point}" in hdr
    assert f"ASC_MODEL_LEN {len(data)}u" in hdr


def test_debug_layers_table(exported):
    layers = exported["report"]["debug_layers"]
    assert len(layers) > 20
    finite = [d["sqnr_db"] for d in layers if d["sqnr_db"] is not None]
    assert finite and min(finite) < max(finite)  # error accumulates: not a constant
    assert layers[0]["sqnr_db"] is None or layers[0]["sqnr_db"] > 20  # first op: little error yet
    assert "Per-layer SQNR" in (exported["out"] / "report.md").read_text()


def test_existing_out_dir_is_refused_without_force(exported, capsys):
    before = sorted(p.name for p in exported["out"].iterdir())
    rc = main([str(exported["ckpt"]), "--int8", "--dataset", str(exported["data"]), "--out", str(exported["out"])])
    assert rc == 2
    assert "exists" in capsys.readouterr().err
    assert sorted(p.name for p in exported["out"].iterdir()) == before


def test_int8_file_carries_the_deployed_contract(exported):
    """The .tflite holds the feature config and labels (TFLite metadata); interpreters ignore it."""
    from tinyasc.contract import read_deployed_contract

    for name in ("model_int8.tflite", "model_float.tflite"):
        contract = read_deployed_contract((exported["out"] / name).read_bytes())
        assert contract is not None and contract.feature_config == FC
        assert contract.labels == tuple(Checkpoint.load(exported["ckpt"]).labels)
        assert contract.input_resnorm is None  # the default form keeps the ResNorm in the graph


# ------------------------------------------------------------------ percentile calibration (default)


def _params(g, i):
    s, z = g.quant(i)
    return float(s[0]), int(z[0])


def test_calibration_keeps_the_candidate_closest_to_the_float_model(exported):
    cal = exported["report"]["calibration"]
    assert cal["method"] == "percentile" and cal["clips"] == 24 and cal["selection_clips"] > 0
    cands = cal["candidates"]
    assert [c["percentile"] for c in cands] == [None, 100.0, 99.9999, 99.999, 99.99]  # None: the converter's own
    best = min(cands, key=lambda c: c["heldout_logit_err_steps"])
    assert cal["percentile"] == best["percentile"]
    assert (cal["groups_rewritten"] == 0) == (cal["percentile"] is None)
    assert "Activation ranges:" in (exported["out"] / "report.md").read_text()


def test_rewritten_ranges_keep_the_int8_graph_consistent(exported):
    """Invariants TFLite's int8 kernels rely on, after percentile ranges were written into the file."""
    from tinyasc.export.calibrate import BIASED_OPS, SAME_PARAMS_OPS, _Graph, match_activations, rewrite_ranges, tensor_ranges

    out = exported["out"]
    f_data, q_data = (out / "model_float.tflite").read_bytes(), (out / "model_int8.tflite").read_bytes()
    mapping = match_activations(f_data, q_data)
    fg = _Graph(bytearray(f_data))
    ranges = tensor_ranges(out / "model_float.tflite", mapping, {f: fg.shape(f) for f in mapping.values()},
                           to_nhwc(_x_eval(exported, 8)), [99.99])[99.99]
    new, changes, kept = rewrite_ranges(q_data, ranges)
    assert len(changes) > 20 and min(c.new[0] / c.old[0] for c in changes) < 1.0  # ranges really moved
    g = _Graph(bytearray(new))
    for op in g.ops:
        if op.name in SAME_PARAMS_OPS:  # codes copied: one range in and out
            assert _params(g, op.inputs[0]) == _params(g, op.outputs[0]), op
        if op.name == "LOGISTIC":
            assert _params(g, op.outputs[0]) == (1 / 256, -128)
        if op.name in BIASED_OPS and len(op.inputs) > 2:  # bias scale = input scale x weight scale, per channel
            expect = _params(g, op.inputs[0])[0] * g.quant(op.inputs[1])[0].astype(np.float64)
            np.testing.assert_allclose(g.quant(op.inputs[2])[0], expect, rtol=1e-6)
    for c in changes:  # the new range holds 0 and is what the percentiles asked for, widened to hold 0
        s, z = c.new
        assert -128 <= z <= 127 and s > 0


def test_rewrite_ranges_requantizes_biases_and_keeps_the_outputs(exported):
    """Halving every range: each int32 bias still dequantizes to the same value (to half a new bias step),
    the graph output keeps its parameters, and the file still runs identically under TFLM and the
    reference kernels."""
    from tinyasc.export.calibrate import BIASED_OPS, _Graph, rewrite_ranges

    data = (exported["out"] / "model_int8.tflite").read_bytes()
    g0 = _Graph(bytearray(data))
    ranges = {}
    for op in g0.ops:
        for o in op.outputs:
            s, z = _params(g0, o)
            ranges[o] = (0.5 * (-128 - z) * s, 0.5 * (127 - z) * s)
    new, changes, kept = rewrite_ranges(data, ranges)
    assert len(new) == len(data) and changes and not kept
    g1 = _Graph(bytearray(new))
    assert _params(g1, g1.outputs[0]) == _params(g0, g0.outputs[0])
    n_checked = 0
    for op0, op1 in zip(g0.ops, g1.ops):
        if op0.name in BIASED_OPS and len(op0.inputs) > 2:
            b0 = g0.buffer_data(op0.inputs[2]).view(np.int32) * g0.quant(op0.inputs[2])[0].astype(np.float64)
            s1 = g1.quant(op1.inputs[2])[0].astype(np.float64)
            b1 = g1.buffer_data(op1.inputs[2]).view(np.int32) * s1
            assert np.all(np.abs(b1 - b0) <= 0.5 * s1 + 1e-12)
            n_checked += int(np.any(b0 != 0))
    assert n_checked > 5
    path = exported["root"] / "halved.tflite"
    path.write_bytes(new)
    x = _x_eval(exported, 4)
    tflm = run_tflm(path, x, arena_size=exported["report"]["int8"]["tflm_arena_bytes"], raw=True)
    ref = run_litert(path, x, reference=True, raw=True)
    assert np.abs(tflm.astype(int) - ref.astype(int)).max() <= 4


def test_rewrite_keeps_a_range_whose_bias_would_overflow(exported):
    from tinyasc.export.calibrate import BIASED_OPS, _Graph, rewrite_ranges

    data = (exported["out"] / "model_int8.tflite").read_bytes()
    g = _Graph(bytearray(data))
    conv = next(op for op in g.ops if op.name in BIASED_OPS and g.buffer_data(op.inputs[2]).view(np.int32).any())
    before = _params(g, conv.inputs[0])
    new, changes, kept = rewrite_ranges(data, {conv.inputs[0]: (-1e-12, 1e-12)})  # scale ~1e-14: the bias overflows
    assert len(kept) == 1 and not changes
    assert _params(_Graph(bytearray(new)), conv.inputs[0]) == before


def test_float_and_int8_tensors_are_matched_by_structure(exported):
    """Each int8 activation is paired with the float tensor of the same value: same shape, and the
    dequantized int8 values track the float ones (SQNR well above what a wrong pairing gives)."""
    from tinyasc.export.calibrate import _Graph, match_activations
    from tinyasc.export.interpreters import litert_interpreter
    from tinyasc.export.tflite_graph import quantize

    out = exported["out"]
    f_data, q_data = (out / "model_float.tflite").read_bytes(), (out / "model_int8.tflite").read_bytes()
    mapping = match_activations(f_data, q_data)
    fg, qg = _Graph(bytearray(f_data)), _Graph(bytearray(q_data))
    assert len(mapping) == 1 + sum(len(op.outputs) for op in qg.ops)
    assert all(fg.shape(f) == qg.shape(q) for q, f in mapping.items())
    fi = litert_interpreter(out / "model_float.tflite", reference=False, preserve_all=True)
    qi = litert_interpreter(out / "model_int8.tflite", reference=True, preserve_all=True)
    x = to_nhwc(_x_eval(exported, 1))
    fi.set_tensor(fi.get_input_details()[0]["index"], x)
    fi.invoke()
    qi.set_tensor(qi.get_input_details()[0]["index"], quantize(x, read_graph(q_data).inputs[0]))
    qi.invoke()
    sqnr = []
    for q, f in mapping.items():
        ref = fi.get_tensor(f).astype(np.float64)
        s, z = _params(qg, q)
        got = (qi.get_tensor(q).astype(np.float64) - z) * s
        if np.abs(ref).max() > 0:
            sqnr.append(10 * np.log10((ref ** 2).sum() / max(((got - ref) ** 2).sum(), 1e-30)))
    # measured: 12-40 dB per tensor (errors accumulate with depth); a swapped pair is near 0 dB or below
    assert min(sqnr) > 5.0, sorted(sqnr)[:5]
