"""DCASE 2022+ rules in the auditor: MACs hand-counted on a tiny model, parameters including zeros,
the 1-s normalization from the deployed contract or ``--clip-seconds``, exit codes.

Every figure is an integer count or an exact ratio of one: comparisons are exact.
"""

from __future__ import annotations

import json

import pytest

from test_tflite_io_support import tiny_model_bytes
from tinyasc.audit import DCASE2022_MAX_MACS_PER_SECOND, Rules, audit
from tinyasc.audit.cli import main as audit_main
from tinyasc.audit.macs import count_macs
from tinyasc.contract import TFLITE_CONTRACT_KEY, DeployedContract, FeatureConfig
from tinyasc.errors import InputError
from tinyasc.tflite_io import parse_model

#: Hand count (test_tflite_io_support.tiny_model_bytes): conv 6*5*4 outputs x (2 in-channels x 3 x 3),
#: depthwise 120 outputs x 3 x 3, MUL one per output element, FC 3 outputs x 4 inputs.
HAND_MACS = {"CONV_2D": 120 * 18, "DEPTHWISE_CONV_2D": 120 * 9, "FULLY_CONNECTED": 3 * 4, "MUL": 120}
#: Parameters including zeros: conv weights 4*3*3*2 + bias 4, depthwise 3*3*4 + bias 4, the ADD
#: constant 4, FC weights 4*3 (the MEAN axes are an index constant, not a parameter).
HAND_PARAMS = 72 + 4 + 36 + 4 + 4 + 12


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "tiny.tflite"
    path.write_bytes(tiny_model_bytes())
    return path


def test_macs_match_the_hand_count(tiny):
    macs = count_macs(parse_model(tiny.read_bytes()))
    assert macs.by_op == HAND_MACS
    assert macs.total == 3372


def test_dcase2022_counts_every_parameter_and_macs_per_second(tiny):
    rep = audit(tiny, rules=Rules.DCASE2022, clip_seconds=0.5)
    assert rep.params == HAND_PARAMS and rep.nonzero < rep.params  # zeros count under 2022 (the bias of 4 is 0)
    assert rep.macs_per_second == 3372 / 0.5
    assert [(c.name, c.value, c.ok) for c in rep.checks()] == [("params", HAND_PARAMS, True),
                                                               ("macs_per_second", 6744.0, True)]
    d = rep.to_dict()
    assert d["rules"] == "dcase2022" and d["passes"] and d["macs"]["per_inference"] == 3372
    md = rep.to_markdown()
    assert "| **Total** | **3,372** |" in md and "MACs per 1 s of audio: 6,744" in md
    # the 2021 verdict of the same file is about non-zero bytes only
    assert [c.name for c in audit(tiny).checks()] == ["nonzero_bytes"]


def test_macs_over_the_limit_fail_the_2022_rules(tiny, tmp_path, capsys):
    clip = 3372 / (DCASE2022_MAX_MACS_PER_SECOND + 1)  # just over 30 M MACs per second
    out = tmp_path / "a.json"
    assert audit_main([str(tiny), "--rules", "dcase2022", "--clip-seconds", repr(clip), "--json", str(out)]) == 1
    d = json.loads(out.read_text())
    assert not d["passes"] and d["checks"][1]["name"] == "macs_per_second" and not d["checks"][1]["ok"]
    assert "(FAIL)" in capsys.readouterr().out


def test_clip_length_comes_from_the_deployed_contract(tiny, tmp_path):
    from tinyasc.export._onnx2tf_worker import add_metadata

    path = tmp_path / "with_contract.tflite"
    path.write_bytes(tiny.read_bytes())
    contract = DeployedContract(feature_config=FeatureConfig(clip_seconds=2.0), labels=("a", "b", "c"))
    add_metadata(path, {TFLITE_CONTRACT_KEY: contract.to_json()})
    rep = audit(path, rules=Rules.DCASE2022)
    assert rep.clip_seconds == 2.0 and rep.macs_per_second == 3372 / 2.0
    rep = audit(path, rules=Rules.DCASE2022, clip_seconds=1.0)
    assert rep.clip_seconds == 2.0 and any("contract used" in n for n in rep.notes)


def test_2022_rules_need_a_clip_length_and_a_tflite(tiny, tmp_path, capsys):
    assert audit_main([str(tiny), "--rules", "dcase2022"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "give --clip-seconds" in err[0]
    with pytest.raises(InputError, match="clip length must be a positive"):
        audit(tiny, rules=Rules.DCASE2022, clip_seconds=-1.0)
    import onnx
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 1, 1, 1], [1.0, 2.0])
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])], [w])
    onnx.save(helper.make_model(graph), tmp_path / "m.onnx")
    with pytest.raises(InputError, match="counted on a .tflite only"):
        audit(tmp_path / "m.onnx", rules=Rules.DCASE2022, clip_seconds=1.0)
