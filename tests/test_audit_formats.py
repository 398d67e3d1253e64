"""Size auditor on hand-built artifacts whose counts are known by construction.

Counts are integers, so every comparison is exact (no tolerance).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tinyasc.contract import Checkpoint, FeatureConfig
from tinyasc.errors import InputError
from tinyasc.audit import ArtifactFormat, ParamKind, audit
from tinyasc.audit.cli import main as audit_main

# ----------------------------------------------------------------------------- checkpoints


class Tiny(nn.Module):
    """conv 3x3 (1->2, no bias) -> BN(2) -> conv 1x1 (2->3, bias): 18 + 4*2 + 6 + 3 stored floats."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, bias=False)
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Conv2d(2, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.conv(x))))


def _tiny_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    m = Tiny()
    with torch.no_grad():
        m.conv.weight.uniform_(0.5, 1.0)
        m.conv.weight[0, 0, 0, :] = 0.0  # 3 zeros
        m.head.weight.uniform_(0.5, 1.0)
        m.head.weight[1] = 0.0  # 2 zeros
        m.head.bias.copy_(torch.tensor([0.25, 0.0, -0.5]))  # 1 zero
        m.bn.running_mean.copy_(torch.tensor([0.1, 0.2]))
        m.bn.running_var.copy_(torch.tensor([1.5, 2.0]))
        m.bn.bias.copy_(torch.tensor([0.1, -0.2]))
    return m.state_dict()


def _save(path: Path, sd: dict, compression: dict | None = None) -> Path:
    Checkpoint(model_name="tiny", model_config={}, feature_config=FeatureConfig(), state_dict=sd,
               compression=compression).save(path)
    return path


def test_checkpoint_float_counts(tmp_path: Path) -> None:
    rep = audit(_save(tmp_path / "f.pt", _tiny_state()))
    assert rep.format is ArtifactFormat.CHECKPOINT
    rows = {r.name: r for r in rep.rows}
    assert "bn.num_batches_tracked" not in rows  # an integer counter, not a parameter
    assert (rows["conv.weight"].params, rows["conv.weight"].nonzero) == (18, 15)
    assert rows["conv.weight"].kind is ParamKind.CONV_WEIGHT
    assert rows["bn.weight"].kind is ParamKind.NORM_AFFINE and rows["bn.running_var"].kind is ParamKind.NORM_STATS
    assert (rows["head.weight"].nonzero, rows["head.bias"].nonzero) == (4, 2)
    assert all(r.bits == 32 for r in rep.rows)
    assert rep.params == 18 + 8 + 6 + 3 and rep.nonzero == 15 + 8 + 4 + 2
    assert rep.nonzero_bytes == 4 * 29 and rep.size_bytes == 4 * 35
    assert rep.dense_file_bytes == (tmp_path / "f.pt").stat().st_size


def test_checkpoint_compressed_bits_checked_and_bn_folded(tmp_path: Path) -> None:
    sd = _tiny_state()
    # Snap conv weights onto a symmetric per-channel int8 grid, others to float16 values.
    for key in ("conv.weight", "head.weight"):
        w = sd[key]
        scale = w.abs().reshape(w.shape[0], -1).amax(1).clamp_min(1e-8) / 127
        sd[key] = torch.round(w / scale.view(-1, 1, 1, 1)) * scale.view(-1, 1, 1, 1)
    for key in ("bn.weight", "bn.bias", "head.bias"):
        sd[key] = sd[key].half().float()
    sd["bn.running_mean"] = torch.zeros(2)
    sd["bn.running_var"] = torch.full((2,), 1 - 1e-5)
    comp = {"conv_bits": 8, "other_bits": 16, "norm_folded": True}
    rep = audit(_save(tmp_path / "c.pt", sd, comp))
    rows = {r.name: r for r in rep.rows}
    assert "bn.running_mean" not in rows and "bn.running_var" not in rows  # folded: identity statistics
    assert rows["conv.weight"].bits == 8 and rows["head.weight"].bits == 8 and rows["bn.weight"].bits == 16
    # 8-bit: 15 + 4 non-zero conv weights; 16-bit: 2 + 2 BN affine + 2 bias.
    assert rep.nonzero_bytes == 19 * 1 + 6 * 2
    assert not rep.notes or all("folded" in n for n in rep.notes)

    # A weight declared 8-bit that is not on its grid is counted at its stored 32 bits, with a note.
    sd["conv.weight"] = sd["conv.weight"] + 1e-3 * (sd["conv.weight"] != 0)
    rep = audit(_save(tmp_path / "bad.pt", sd, comp))
    assert {r.name: r.bits for r in rep.rows}["conv.weight"] == 32
    assert any("conv.weight" in n for n in rep.notes)


# ----------------------------------------------------------------------------- ONNX


def _onnx(path: Path, *, folded: bool, with_init: bool = True) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.ones((2, 1, 3, 3), np.float32)
    w[0, 0, 0, :] = 0  # 3 zeros
    inits = [numpy_helper.from_array(w, "w")]
    nodes = []
    if folded:
        inits.append(numpy_helper.from_array(np.array([0.5, 0.0], np.float32), "b"))  # 1 zero
        nodes.append(helper.make_node("Conv", ["x", "w", "b"], ["y"]))
    else:
        nodes.append(helper.make_node("Conv", ["x", "w"], ["c"]))
        for name, val in (("s", [1.0, 2.0]), ("bb", [0.0, 0.1]), ("m", [0.0, 0.0]), ("v", [1.0, 1.0])):
            inits.append(numpy_helper.from_array(np.array(val, np.float32), name))
        nodes.append(helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["y"]))
    # A float16 and an int8 constant (widths 2 and 1).
    inits.append(numpy_helper.from_array(np.array([1, 0, 2], np.float16), "h"))
    inits.append(numpy_helper.from_array(np.array([3, 0, 0, -1], np.int8), "q"))
    # An int64 shape operand: graph structure, not a parameter.
    inits.append(numpy_helper.from_array(np.array([1, -1], np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", ["y", "shape"], ["z"]))
    if not with_init:
        inits = []
        nodes = [helper.make_node("Relu", ["x"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])],
                              [helper.make_tensor_value_info("z" if with_init else "y", TensorProto.FLOAT, None)], initializer=inits)
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_onnx_counts_unfolded_and_folded_bn(tmp_path: Path) -> None:
    rep = audit(_onnx(tmp_path / "u.onnx", folded=False))
    rows = {r.name: r for r in rep.rows}
    assert rep.format is ArtifactFormat.ONNX
    assert (rows["w"].params, rows["w"].nonzero, rows["w"].bits) == (18, 15, 32)
    assert rows["s"].kind is ParamKind.NORM_AFFINE and rows["v"].kind is ParamKind.NORM_STATS
    assert (rows["m"].nonzero, rows["bb"].nonzero) == (0, 1)
    assert (rows["h"].bits, rows["h"].nonzero, rows["q"].bits, rows["q"].nonzero) == (16, 2, 8, 2)
    assert rep.nonzero_bytes == 4 * (15 + 2 + 1 + 0 + 2) + 2 * 2 + 1 * 2
    assert "shape" not in rows and any("1 index constants" in n for n in rep.notes)

    rep = audit(_onnx(tmp_path / "f.onnx", folded=True))
    rows = {r.name: r for r in rep.rows}
    assert set(rows) == {"w", "b", "h", "q"} and rows["b"].kind is ParamKind.BIAS
    assert rep.nonzero_bytes == 4 * (15 + 1) + 2 * 2 + 2


# ----------------------------------------------------------------------------- TFLite


@pytest.fixture(scope="module")
def tflite_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """int8 (full integer) and float16 TFLite files of conv3x3(4, no bias) -> BN -> ReLU -> conv1x1(3)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    out = tmp_path_factory.mktemp("tfl")
    inp = tf.keras.Input((8, 8, 1), batch_size=1)
    x = tf.keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inp)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.Conv2D(3, 1)(x)
    m = tf.keras.Model(inp, x)
    rng = np.random.default_rng(0)
    k = (rng.uniform(0.5, 1.0, (3, 3, 1, 4)) * rng.choice([-1, 1], (3, 3, 1, 4))).astype(np.float32)
    k[0, 0, 0, :] = 0
    k[1, 1, 0, 0] = 0  # 5 zeros of 36
    m.layers[1].set_weights([k])
    m.layers[2].set_weights([np.full(4, 2.0, np.float32), np.full(4, 0.1, np.float32), np.zeros(4, np.float32),
                             np.ones(4, np.float32)])
    k2 = rng.uniform(0.5, 1, (1, 1, 4, 3)).astype(np.float32)
    k2[0, 0, 0, :] = 0  # 3 zeros of 12
    m.layers[4].set_weights([k2, np.array([0.5, 0, -0.5], np.float32)])  # 1 zero bias

    def rep_data():
        for _ in range(8):
            yield [rng.normal(size=(1, 8, 8, 1)).astype(np.float32)]

    c = tf.lite.TFLiteConverter.from_keras_model(m)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep_data
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.int8
    c.inference_output_type = tf.int8
    (out / "m8.tflite").write_bytes(c.convert())
    c = tf.lite.TFLiteConverter.from_keras_model(m)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_types = [tf.float16]
    (out / "m16.tflite").write_bytes(c.convert())
    return {"int8": out / "m8.tflite", "fp16": out / "m16.tflite"}


def test_tflite_int8_counts(tflite_files: dict[str, Path]) -> None:
    rep = audit(tflite_files["int8"])
    assert rep.format is ArtifactFormat.TFLITE
    kinds = rep.by_kind()
    # BatchNorm folded into conv 1 by the converter: it gets an int32 bias of 4 (all non-zero: beta 0.1).
    assert kinds["conv_weight@8"]["params"] == 36 + 12 and kinds["conv_weight@8"]["nonzero"] == 31 + 9
    assert kinds["bias@32"]["params"] == 4 + 3 and kinds["bias@32"]["nonzero"] == 4 + 2
    assert set(kinds) == {"conv_weight@8", "bias@32"}
    assert rep.nonzero_bytes == 40 * 1 + 6 * 4
    assert rep.dense_file_bytes == tflite_files["int8"].stat().st_size


def test_tflite_float16_counts(tflite_files: dict[str, Path]) -> None:
    rep = audit(tflite_files["fp16"])
    kinds = rep.by_kind()
    assert kinds["conv_weight@16"]["params"] == 48 and kinds["conv_weight@16"]["nonzero"] == 40
    assert kinds["bias@16"]["params"] == 7 and kinds["bias@16"]["nonzero"] == 6
    assert rep.nonzero_bytes == 2 * 46


# ----------------------------------------------------------------------------- bad files and the CLI


def test_bad_files_raise_input_error(tmp_path: Path, tflite_files: dict[str, Path]) -> None:
    data = tflite_files["int8"].read_bytes()
    cases = {
        "trunc.tflite": data[: len(data) // 2],
        "random.tflite": np.random.default_rng(1).bytes(4096),
        "random.onnx": np.random.default_rng(2).bytes(4096),
        "random.bin": np.random.default_rng(3).bytes(4096),
        "short.pt": b"abc",
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(InputError):
            audit(tmp_path / name)
    with pytest.raises(InputError, match="no initializers"):
        audit(_onnx(tmp_path / "noinit.onnx", folded=True, with_init=False))
    with pytest.raises(InputError, match="not found"):
        audit(tmp_path / "missing.tflite")


def test_cli_exit_codes_and_json(tmp_path: Path, tflite_files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "a.json"
    assert audit_main([str(tflite_files["int8"]), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| Name | Param | NZ Param | Bits | Size | NZ Size |" in printed and "KiB" in printed
    d = json.loads(out.read_text())
    assert d["totals"]["nonzero_bytes"] == 64 and d["within_budget"] is True and d["format"] == "tflite"
    assert sum(r["nonzero_bytes"] for r in d["rows"]) == 64
    assert audit_main([str(tflite_files["int8"]), "--budget", "63"]) == 1
    assert audit_main([str(tflite_files["int8"]), "--budget", "64"]) == 0  # the budget is inclusive
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    assert audit_main([str(tmp_path / "junk.tflite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk.tflite" in err and "Traceback" not in err
