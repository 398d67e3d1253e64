"""The one TFLite reader, its validation rules (each targeted alone) and the one TFLM runner.

Counts, shapes and rule verdicts are exact; TFLM outputs are compared bit-exactly with the
generated C elsewhere (test_firmware_*); here the runner is compared with itself across its two
entry points (exact, same kernels).
"""

from __future__ import annotations

import dataclasses
import math
import struct

import numpy as np
import pytest

from test_tflite_io_support import INPUT_SHAPE, tiny_model_bytes
from tinyasc.errors import InputError
from tinyasc.tflite_io import parse_model, read_model, tflm
from tinyasc.tflite_io import validate as v


@pytest.fixture(scope="module")
def data() -> bytes:
    return tiny_model_bytes()


@pytest.fixture(scope="module")
def model(data):
    return parse_model(data, "tiny.tflite")


def _replace_tensor(m, index, **changes):
    tensors = list(m.tensors)
    tensors[index] = dataclasses.replace(tensors[index], **changes)
    return dataclasses.replace(m, tensors=tuple(tensors))


def _replace_op(m, index, **changes):
    ops = list(m.operators)
    ops[index] = dataclasses.replace(ops[index], **changes)
    return dataclasses.replace(m, operators=tuple(ops))


def _op(m, opcode):
    return next(o for o in m.operators if o.opcode == opcode)


# --------------------------------------------------------------------------- reader


def test_reader_decodes_the_model(model, data):
    assert model.op_counts() == {"ADD": 1, "CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1,
                                 "MEAN": 1, "MUL": 1, "SOFTMAX": 1}
    x = model.tensors[model.inputs[0]]
    assert (x.shape, x.dtype) == (INPUT_SHAPE, "INT8")
    conv = _op(model, "CONV_2D")
    w = model.tensors[conv.inputs[1]]
    assert w.shape == (4, 3, 3, 2) and w.dtype == "INT8" and len(w.scale) == 4 and w.quantized_dimension == 0
    assert conv.options["StrideW"] == 1 and conv.options["FusedActivationFunction"] == 1
    with pytest.raises(TypeError):
        conv.options["StrideW"] = 2  # options are read-only
    with pytest.raises(ValueError):
        w.data[0, 0, 0, 0] = 1  # constant data is read-only
    # the recorded offsets locate the very bytes the values came from
    assert np.array_equal(np.frombuffer(data, "<f4", len(w.scale), w.scale_offset), np.float32(w.scale))
    assert np.array_equal(np.frombuffer(data, "<i8", len(w.zero_point), w.zero_point_offset), w.zero_point)
    assert np.array_equal(np.frombuffer(data, np.int8, w.size, w.data_offset).reshape(w.shape), w.data)
    assert "min_runtime_version" in model.metadata


def test_reader_refuses_missing_foreign_and_truncated_files(tmp_path, data):
    with pytest.raises(InputError, match="no such file"):
        read_model(tmp_path / "nope.tflite")
    (tmp_path / "x.tflite").write_bytes(b"\0" * 64)
    with pytest.raises(InputError, match="missing 'TFL3'"):
        read_model(tmp_path / "x.tflite")
    for cut in (9, 64, len(data) // 2, len(data) - 3):
        (tmp_path / "t.tflite").write_bytes(data[:cut])
        with pytest.raises(InputError, match=r"t\.tflite: "):
            read_model(tmp_path / "t.tflite")


def test_a_name_running_past_the_end_of_the_file_is_refused(data, model):
    """flatbuffers slices strings silently; the reader checks the declared length."""
    import tflite

    t = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Tensors(model.inputs[0])
    name_pos = t._tab.Offset(10) + t._tab.Pos  # Tensor.name is field 3 (vtable slot 10)
    string_pos = name_pos + struct.unpack_from("<I", data, name_pos)[0]
    b = bytearray(data)
    struct.pack_into("<I", b, string_pos, len(data))
    with pytest.raises(InputError, match="corrupt TFLite flatbuffer .*outside the file"):
        parse_model(bytes(b), "m.tflite")


# --------------------------------------------------------------------------- rules, one at a time


def test_the_valid_model_breaks_no_rule(model):
    assert v.violations(model) == []
    assert [r.name for r in v.RULES] == ["graph_io", "operator_operands", "tensor_shapes", "buffer_sizes",
                                          "quantization", "op_options", "op_shapes", "requant_multipliers"]


def test_rule_graph_io(model):
    assert "no such tensor" in next(v.graph_io(dataclasses.replace(model, outputs=(99,))))


def test_rule_operator_operands(model):
    conv = _op(model, "CONV_2D")
    no_bias = _replace_op(model, conv.index, inputs=(*conv.inputs[:2], -1))
    assert list(v.operator_operands(no_bias)) == []  # the bias is optional
    bad = _replace_op(model, conv.index, inputs=(conv.inputs[0], -1, conv.inputs[2]))
    assert "input 1 is tensor -1" in next(v.operator_operands(bad))
    bad = _replace_op(model, conv.index, outputs=(len(model.tensors),))
    assert "output 0 is tensor" in next(v.operator_operands(bad))
    assert "1 inputs, needs 2" in next(v.operator_operands(_replace_op(model, conv.index, inputs=conv.inputs[:1])))


def test_rule_tensor_shapes(model):
    assert "negative dimension" in next(v.tensor_shapes(_replace_tensor(model, 0, shape=(1, -6, 5, 2))))
    assert "2^31 - 1" in next(v.tensor_shapes(_replace_tensor(model, 0, shape=(1 << 16, 1 << 16))))


def test_rule_buffer_sizes(model):
    w = model.tensors[_op(model, "CONV_2D").inputs[1]]
    msg = next(v.buffer_sizes(_replace_tensor(model, w.index, shape=(4, 3, 3, 3))))
    assert msg.startswith(f"tensor {w.index} ") and "72 bytes for shape [4, 3, 3, 3] INT8 (108 bytes)" in msg


@pytest.mark.parametrize("scale, rule_text", [(0.0, "not finite and positive"), (-0.1, "not finite and positive"),
                                              (math.nan, "not finite and positive"), (math.inf, "not finite")])
def test_rule_quantization_scales(model, scale, rule_text):
    y = model.tensors[_op(model, "CONV_2D").outputs[0]]
    assert rule_text in next(v.quantization(_replace_tensor(model, y.index, scale=(scale,))))


def test_rule_quantization_zero_points_and_channels(model):
    y = model.tensors[_op(model, "CONV_2D").outputs[0]]
    assert "zero point 128 outside the INT8 range" in next(v.quantization(_replace_tensor(model, y.index, zero_point=(128,))))
    w = model.tensors[_op(model, "CONV_2D").inputs[1]]
    three = _replace_tensor(model, w.index, scale=w.scale[:3], zero_point=w.zero_point[:3])
    assert "3 per-channel scales for 4 channels" in next(v.quantization(three))
    assert "quantized dimension 7" in next(v.quantization(_replace_tensor(model, w.index, quantized_dimension=7)))


def test_rule_op_options(model):
    conv = _op(model, "CONV_2D")
    assert "StrideW = 0" in next(v.op_options(_replace_op(model, conv.index, options={**conv.options, "StrideW": 0})))
    assert "padding code 5" in next(v.op_options(_replace_op(model, conv.index, options={**conv.options, "Padding": 5})))
    assert "fused activation code 9" in next(
        v.op_options(_replace_op(model, conv.index, options={**conv.options, "FusedActivationFunction": 9})))


def test_rule_op_shapes(model):
    conv, fc, dw, mul = (_op(model, k) for k in ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D", "MUL"))
    w = model.tensors[conv.inputs[1]]
    assert "has rank 3, need 4" in next(v.op_shapes(_replace_tensor(model, w.index, shape=(4, 3, 6))))
    assert "has 2 output channels" in next(v.op_shapes(_replace_tensor(model, w.index, shape=(2, 3, 3, 4))))
    b = model.tensors[conv.inputs[2]]
    assert "bias" in next(v.op_shapes(_replace_tensor(model, b.index, shape=(2, 2))))
    fw = model.tensors[fc.inputs[1]]
    assert "need 2 (out, in)" in next(v.op_shapes(_replace_tensor(model, fw.index, shape=(3, 2, 2))))
    dwt = model.tensors[dw.inputs[1]]
    assert "must be [1, kh, kw, 4]" in next(v.op_shapes(_replace_tensor(model, dwt.index, shape=(4, 3, 3, 1))))
    a = model.tensors[mul.inputs[0]]
    assert any("does not broadcast" in msg for msg in v.op_shapes(_replace_tensor(model, a.index, shape=(1, 6, 5, 3))))
    assert "neither a constant" in next(v.op_shapes(_replace_tensor(model, w.index, data=None)))


def test_multiplier_representability():
    assert v.multiplier_problem(0.5) is None and v.multiplier_problem(2.0 ** 30 * 0.99) is None
    assert "left shift of 31" in v.multiplier_problem(2.0 ** 30 * 1.5)
    assert v.multiplier_problem(1e-40) is None  # flushed to zero by TFLite and the C alike
    assert v.multiplier_problem(0.0, zero_ok=True) is None and v.multiplier_problem(0.0) is not None
    assert "below 1" in v.multiplier_problem(1.0, below_one=True)
    assert v.multiplier_problem(math.nan) is not None and v.multiplier_problem(-1.0) is not None
    assert "at least 0" in v.multiplier_problem(0.25, min_shift=0)  # LOGISTIC's radius would overflow int32


def test_rule_requant_multipliers(model):
    conv, add, sm = (_op(model, k) for k in ("CONV_2D", "ADD", "SOFTMAX"))
    y = model.tensors[conv.outputs[0]]
    msg = next(v.requant_multipliers(_replace_tensor(model, y.index, scale=(1e-30,))))
    assert msg.startswith("operator 0 (CONV_2D): channel 0") and "left shift" in msg
    ya = model.tensors[add.outputs[0]]
    assert "output multiplier" in next(v.requant_multipliers(_replace_tensor(model, ya.index, scale=(1e-9,))))
    x = model.tensors[sm.inputs[0]]
    assert "must exceed 1" in next(v.requant_multipliers(_replace_tensor(model, x.index, scale=(1e-9,))))


def test_check_names_file_op_and_rule(model):
    y = model.tensors[_op(model, "CONV_2D").outputs[0]]
    with pytest.raises(InputError, match=r"^tiny\.tflite: tensor \d+ \(.*\): quantization scale -1\.0 .* \[quantization\]$"):
        v.check(_replace_tensor(model, y.index, scale=(-1.0,)))


# --------------------------------------------------------------------------- TFLM runner


def test_tflm_min_arena_is_the_smallest_multiple_that_fits(tmp_path, data):
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    arena = tflm.min_arena(path)
    assert arena is not None and arena % tflm.ARENA_GRANULARITY == 0
    with tflm.ArenaProbe(path) as probe:
        assert probe.fits(arena) and not probe.fits(arena - tflm.ARENA_GRANULARITY)
    x = np.stack([np.full(INPUT_SHAPE, v, np.int8) for v in (-128, 0, 127)])
    out, inter = tflm.run(path, x, arena_size=arena, tensors=[parse_model(data).operators[0].outputs[0]])
    again, _ = tflm.run(path, x)  # default (large) arena: same kernels, same codes
    assert out.shape == (3, 1, 3) and np.array_equal(out, again)
    assert next(iter(inter.values())).shape[0] == 3


def test_tflm_probe_survives_a_crashing_child(tmp_path):
    """A probe whose child dies counts as "does not fit" and the next probe starts a new child."""
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0\0\0\0TFL3" + b"\xff" * 64)
    with tflm.ArenaProbe(bad) as probe:
        assert not probe.fits(1 << 16) and not probe.fits(1 << 17)
