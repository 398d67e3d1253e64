"""Checkpoints are data: loading runs no code, old files load or name the converter, bad files are one line."""

from __future__ import annotations

import dataclasses
import enum
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from tinyasc.contract import CHECKPOINT_FORMAT, Checkpoint, FeatureConfig
from tinyasc.errors import InputError
from tinyasc.model import create_model, from_checkpoint
from tinyasc.model.convert_cli import convert_checkpoint, convert_main
from tinyasc.train.cli import eval_main


class _Payload:
    """An object whose unpickling creates ``marker``: proof of execution if the file appears."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _Colour(str, enum.Enum):
    RED = "red"


@dataclasses.dataclass
class _Note:
    text: str
    where: Path


def _model_ckpt(**overrides) -> Checkpoint:
    model = create_model("bcresnet_asc_1")
    fields = dict(model_name="bcresnet_asc_1", model_config=model.config.to_dict(), feature_config=FeatureConfig(),
                  state_dict=model.state_dict())
    fields.update(overrides)
    return Checkpoint(**fields)


def _old_save(ckpt: Checkpoint, path: Path, **extra) -> None:
    """What tinyasc's ``Checkpoint.save`` wrote before checkpoints were plain data (no conversion)."""
    payload = ckpt.meta()
    payload.update(state_dict=ckpt.state_dict, norm_stats=ckpt.norm_stats, resume=ckpt.resume, **extra)
    torch.save(payload, path)


def _evil_checkpoint(path: Path, marker: Path) -> None:
    payload = _model_ckpt().meta()
    payload.update(state_dict={}, norm_stats=_Payload(marker), resume=None)
    torch.save(payload, path)


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker, ckpt = tmp_path / "executed", tmp_path / "evil.pt"
    _evil_checkpoint(ckpt, marker)
    # the file really is armed: an unsafe load would run it (checked on a copy, then the marker removed)
    torch.load(ckpt, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(InputError) as err:
        Checkpoint.load(ckpt)
    assert "refused" in str(err.value) and "io.open" in str(err.value)
    assert "asc-convert-checkpoint" in str(err.value)
    assert not marker.exists()


def test_bare_pickle_is_never_unpickled(tmp_path):
    marker, ckpt = tmp_path / "executed", tmp_path / "bare.pt"
    ckpt.write_bytes(pickle.dumps({"format": CHECKPOINT_FORMAT, "x": _Payload(marker)}))
    with pytest.raises(InputError, match="not a torch zip archive"):
        Checkpoint.load(ckpt)
    assert not marker.exists()


def test_asc_eval_on_malicious_checkpoint_one_line_exit_2(tmp_path, capsys):
    marker, ckpt = tmp_path / "executed", tmp_path / "evil.pt"
    _evil_checkpoint(ckpt, marker)
    rc = eval_main([str(ckpt), str(tmp_path / "no-dataset"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "refused" in err[0], err
    assert not marker.exists()


def test_converter_refuses_without_trust_and_writes_nothing(tmp_path, capsys):
    marker, ckpt, out = tmp_path / "executed", tmp_path / "evil.pt", tmp_path / "new.pt"
    _evil_checkpoint(ckpt, marker)
    rc = convert_main([str(ckpt), str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "refused" in err[0]
    assert not marker.exists() and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pt"]  # no temporary file left


def test_plain_values_round_trip(tmp_path):
    model = create_model("bcresnet_asc_1")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 1, 256, 40)).sum().backward()
    opt.step()
    ckpt = _model_ckpt(state_dict=model.state_dict(),
                       train_config={"scale": np.float64(0.5), "colour": _Colour.RED, "sizes": (1, 2),
                                     "note": _Note("n", Path("/x/y"))},
                       metrics={"acc": np.float32(0.25), "confusion": np.eye(2, dtype=np.int64), "tags": {"b", "a"}},
                       norm_stats={"mean": np.zeros(3, np.float32)},
                       resume={"epoch": 1, "optimizer": opt.state_dict(), "history": [{"loss": 1.0}]})
    path = tmp_path / "c.pt"
    ckpt.save(path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    back = Checkpoint.load(path)
    assert back.train_config == {"scale": 0.5, "colour": "red", "sizes": (1, 2), "note": {"text": "n", "where": "/x/y"}}
    assert back.metrics == {"acc": 0.25, "confusion": [[1, 0], [0, 1]], "tags": ["a", "b"]}
    assert type(back.metrics["acc"]) is float and back.norm_stats == {"mean": [0.0, 0.0, 0.0]}
    # weights and optimizer state come back exactly (bit-exact tensors: nothing is recomputed)
    for k, v in model.state_dict().items():
        assert torch.equal(back.state_dict[k], v), k
    opt2 = torch.optim.SGD(create_model("bcresnet_asc_1").parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(back.resume["optimizer"])
    x = torch.randn(1, 1, 256, 40)
    assert torch.equal(from_checkpoint(back)(x), model.eval()(x))


def test_unstorable_value_fails_at_save_and_writes_nothing(tmp_path):
    path = tmp_path / "c.pt"
    with pytest.raises(TypeError, match=r"metrics\.fn.*cannot be stored"):
        _model_ckpt(metrics={"fn": len}).save(path)
    assert list(tmp_path.iterdir()) == []


def test_old_plain_checkpoint_still_loads(tmp_path):
    ckpt = _model_ckpt(metrics={"overall": 0.5}, train_config={"epochs": 3})
    path = tmp_path / "old.pt"
    _old_save(ckpt, path)
    back = Checkpoint.load(path)
    assert back.metrics == {"overall": 0.5} and back.model_config == ckpt.model_config


def test_old_checkpoint_with_numpy_is_refused_then_converted(tmp_path, capsys):
    ckpt = _model_ckpt(metrics={"overall": np.float64(0.5)}, norm_stats={"mean": np.ones(2)})
    old, new = tmp_path / "old.pt", tmp_path / "new.pt"
    _old_save(ckpt, old)
    with pytest.raises(InputError) as err:
        Checkpoint.load(old)
    assert f"asc-convert-checkpoint {old} NEW.pt --trust" in str(err.value) and "numpy" in str(err.value)
    assert convert_main([str(old), str(new), "--trust"]) == 0
    assert "plain data" in capsys.readouterr().out
    back = Checkpoint.load(new)
    assert back.metrics == {"overall": 0.5} and back.norm_stats == {"mean": [1.0, 1.0]}
    for k, v in ckpt.state_dict.items():
        assert torch.equal(back.state_dict[k], v), k


def test_converter_on_a_safe_file_needs_no_trust(tmp_path):
    path = tmp_path / "c.pt"
    _model_ckpt().save(path)
    assert convert_checkpoint(path, path, trust=False).model_name == "bcresnet_asc_1"


@pytest.mark.parametrize("cut", [0.0, 0.1, 0.5, 0.99])
def test_truncated_checkpoint_is_one_input_error(tmp_path, cut):
    path = tmp_path / "c.pt"
    _model_ckpt().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(InputError, match="not a|not a readable"):
        Checkpoint.load(path)


def test_foreign_zip_and_foreign_torch_file(tmp_path):
    z = tmp_path / "foreign.zip"
    with zipfile.ZipFile(z, "w") as fh:
        fh.writestr("hello.txt", "not a model")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        Checkpoint.load(z)
    t = tmp_path / "weights.pt"
    torch.save(create_model("bcresnet_asc_1").state_dict(), t)  # a bare state_dict, someone else's format
    with pytest.raises(InputError, match="not a tinyasc checkpoint"):
        Checkpoint.load(t)


def test_ill_typed_fields_are_refused(tmp_path):
    path = tmp_path / "c.pt"
    payload = _model_ckpt().meta()
    payload.update(state_dict={"conv.weight": [1.0, 2.0]}, norm_stats=None, resume=None)
    torch.save(payload, path)
    with pytest.raises(InputError, match="state_dict entry 'conv.weight' is not a named tensor"):
        Checkpoint.load(path)


def test_other_architecture_and_other_labels(tmp_path):
    wide = create_model("bcresnet_asc_1", base_channels=48)
    path = tmp_path / "c.pt"
    _model_ckpt(state_dict=wide.state_dict()).save(path)  # claims ASC-1 at its default width
    with pytest.raises(InputError, match="weights do not fit bcresnet_asc_1"):
        from_checkpoint(Checkpoint.load(path), path=path)
    _model_ckpt(labels=("a", "b", "c")).save(path)
    with pytest.raises(InputError, match="model has 10 outputs but the checkpoint lists 3 labels"):
        from_checkpoint(Checkpoint.load(path), path=path)


def test_golden_npz_and_npy_never_unpickle(tmp_path):
    """The other pickle-capable reads of the package: firmware golden files (object arrays are pickles)."""
    from tinyasc.firmware_sim.parity import load_golden

    marker = tmp_path / "executed"
    shape, scale, zp = (1, 4, 3), 0.1, 0
    npz = tmp_path / "g.npz"
    np.savez(npz, inputs=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(InputError, match="'inputs' is not plain numbers"):
        load_golden(shape, scale, zp, golden=npz)
    d = tmp_path / "feats"
    d.mkdir()
    np.save(d / "a.npy", np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="not a readable .npy of plain numbers"):
        load_golden(shape, scale, zp, dataset=d)
    assert not marker.exists()
