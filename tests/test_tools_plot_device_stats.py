"""tools/plot_device_stats.py (the paper's Figure 1) on the tiny synthetic set."""

from __future__ import annotations

import json

import numpy as np

from tinyasc.contract import Checkpoint, FeatureConfig
from tinyasc.model import create_model

def test_figure_and_scores(tiny_dataset, tmp_path, load_tool):
    tool = load_tool("plot_device_stats")
    model = create_model("bcresnet_asc_1", norm="none")
    ckpt_path = tmp_path / "m.pt"
    Checkpoint(model_name="bcresnet_asc_1", model_config=model.config.to_dict(),
               feature_config=FeatureConfig(clip_seconds=tiny_dataset.clip_seconds()),
               state_dict=model.state_dict()).save(ckpt_path)
    out = tmp_path / "fig1.png"
    assert tool.main([str(ckpt_path), str(tiny_dataset.root), "--out", str(out), "--split", "evaluate"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["clips"] == 90
    for score in result["device_knn_accuracy"].values():
        assert 0.0 <= score <= 1.0


def test_statistics_shapes_follow_the_stage2_map(load_tool):
    tool = load_tool("plot_device_stats")
    model = create_model("bcresnet_asc_1", norm="none")  # stage 2: 1.5c = 15 channels, 256/4 = 64 bins
    freq, chan = tool.stage2_statistics(model, np.random.default_rng(0).normal(size=(3, 256, 40)).astype(np.float32))
    assert freq.shape == (3, 2 * 64) and chan.shape == (3, 2 * 15)


def test_separability_sees_a_device_signature(load_tool):
    tool = load_tool("plot_device_stats")
    rng = np.random.default_rng(0)
    devices = np.repeat(np.array(["a", "b", "c"]), 20)
    offset = {"a": 0.0, "b": 3.0, "c": -3.0}
    separable = rng.normal(size=(60, 8)) + np.array([offset[d] for d in devices])[:, None]
    noise = rng.normal(size=(60, 8))
    assert tool.device_separability(separable, devices) > 0.9
    assert tool.device_separability(noise, devices) < 0.7
