"""asc-train / asc-eval end to end on the tiny synthetic set: outputs, exit codes, DDP under torchrun."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from tinyasc.contract import SCENE_LABELS, Checkpoint, FeatureConfig
from tinyasc.train.cli import eval_main, train_main


@pytest.fixture(scope="module")
def trained_run(tiny_dataset, tmp_path_factory):
    """Two epochs of asc-train on the tiny set (features cached in a private directory)."""
    root = tmp_path_factory.mktemp("cli")
    cache = root / "cache"
    run = root / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rc = train_main([str(tiny_dataset.root), "--model", "bcresnet_asc_1", "--out", str(run), "--epochs", "2",
                     "--batch-size", "16", "--cache-dir", str(cache), "--no-progress", "--feature-workers", "1",
                     "--activation", "relu", "--resnorm-lambda", "0.2"])
    torch.set_num_threads(threads)
    assert rc == 0
    return run, cache


def test_train_outputs(trained_run, tiny_dataset):
    run, _ = trained_run
    ckpt = Checkpoint.load(run / "last.pt")
    assert ckpt.model_name == "bcresnet_asc_1"
    assert ckpt.model_config["activation"] == "relu" and ckpt.model_config["resnorm_lambda"] == 0.2
    assert ckpt.feature_config == FeatureConfig(clip_seconds=tiny_dataset.clip_seconds())
    assert ckpt.labels == SCENE_LABELS and ckpt.train_config["epochs"] == 2
    assert ckpt.train_config["specaugment_resolved"] is False  # auto: off for the 8k-parameter model
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train_loss", "train_acc", "eval_loss", "eval_acc", "acc_a", "acc_s6"} <= set(rows[0])
    assert json.loads((run / "metrics.json").read_text())[1]["epoch"] == 2


def test_eval_outputs(trained_run, tiny_dataset, tmp_path, capsys):
    run, cache = trained_run
    out = tmp_path / "eval"
    rc = eval_main([str(run / "last.pt"), str(tiny_dataset.root), "--out", str(out), "--cache-dir", str(cache)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| model | A | B | C | S1 | S2 | S3 | S4 | S5 | S6 | seen | unseen | overall |" in printed
    report = json.loads((out / "eval.json").read_text())
    assert report["n_clips"] == 90 and len(report["metrics"]["confusion"]) == 10
    assert sum(map(sum, report["metrics"]["confusion"])) == 90
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "predictions.csv").open() as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    assert rows[0] == ["filename", "scene_label", *SCENE_LABELS]
    assert len(rows) == 91
    probs = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)  # 6-decimal rounding of 10 columns
    assert all(r[1] == SCENE_LABELS[int(np.argmax(p))] for r, p in zip(rows[1:], probs))
    # The JSON accuracy equals the accuracy of the CSV predictions.
    truth = [r[0].split("/")[-1].split("-")[0] for r in rows[1:]]
    assert report["metrics"]["overall"] == pytest.approx(np.mean([t == r[1] for t, r in zip(truth, rows[1:])]))


def _expect_exit2(capsys, argv, main, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err


def test_bad_input_exit_codes(trained_run, tiny_dataset, tmp_path, capsys):
    run, cache = trained_run
    ds = str(tiny_dataset.root)
    common = ["--cache-dir", str(cache), "--out", str(tmp_path / "e")]
    _expect_exit2(capsys, [str(tmp_path / "nope.pt"), ds, *common], eval_main, "checkpoint not found")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    _expect_exit2(capsys, [str(junk), ds, *common], eval_main, "not a readable checkpoint")
    _expect_exit2(capsys, [str(run / "last.pt"), str(tmp_path / "no_dataset"), *common], eval_main, "no_dataset")

    ckpt = Checkpoint.load(run / "last.pt")
    wrong_labels = tmp_path / "labels.pt"
    Checkpoint(**{**ckpt.__dict__, "labels": tuple(reversed(SCENE_LABELS))}).save(wrong_labels)
    _expect_exit2(capsys, [str(wrong_labels), ds, *common], eval_main, "do not match")
    wrong_features = tmp_path / "features.pt"
    Checkpoint(**{**ckpt.__dict__, "feature_config": FeatureConfig(n_mels=128)}).save(wrong_features)
    _expect_exit2(capsys, [str(wrong_features), ds, *common], eval_main, "mel bins")
    other_model = tmp_path / "other.pt"
    Checkpoint(**{**ckpt.__dict__, "model_config": {**ckpt.model_config, "base_channels": 20}}).save(other_model)
    _expect_exit2(capsys, [str(other_model), ds, *common], eval_main, "weights do not fit")
    unknown = tmp_path / "unknown.pt"
    Checkpoint(**{**ckpt.__dict__, "model_name": "resnet50"}).save(unknown)
    _expect_exit2(capsys, [str(unknown), ds, *common], eval_main, "unknown model")

    # An existing run without --resume, and a different model on --resume.
    train = [ds, "--out", str(run), "--epochs", "2", "--batch-size", "16", "--cache-dir", str(cache), "--no-progress"]
    _expect_exit2(capsys, [*train, "--activation", "relu", "--resnorm-lambda", "0.2"], train_main, "--resume")
    _expect_exit2(capsys, [*train, "--resume"], train_main, "cannot resume a different model")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_ddp_two_cpu_processes(tiny_dataset, tmp_path):
    """``torchrun --nproc_per_node 2`` (gloo): one epoch, rank 0 writes one checkpoint with world_size 2."""
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), "-m", "tinyasc.train",
           str(tiny_dataset.root), "--out", str(run), "--epochs", "1", "--batch-size", "16",
           "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--feature-workers", "1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = Checkpoint.load(run / "last.pt")
    assert ckpt.train_config["world_size"] == 2 and ckpt.resume["epoch"] == 1
    assert np.isfinite(ckpt.metrics["train_loss"]) and "eval" in ckpt.metrics
    assert sorted(p.name for p in run.iterdir()) == ["last.pt", "metrics.csv", "metrics.json"]
