"""tools/bench_resnorm.py --features: the ablation trained from two feature caches (no audio), as on a lent GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tinyasc.contract import FeatureConfig
from tinyasc.data.cache import build_feature_set

TOOL = Path(__file__).resolve().parents[1] / "tools" / "bench_resnorm.py"


def test_features_mode_trains_from_caches_and_reports_the_curve(tiny_dataset, tmp_path):
    ds = tiny_dataset  # a TauDataset
    cfg = FeatureConfig(clip_seconds=ds.clip_seconds())
    train = build_feature_set(ds, "train", cfg, cache_dir=tmp_path / "cache", progress=False)
    evaluate = build_feature_set(ds, "evaluate", cfg, cache_dir=tmp_path / "cache", progress=False)
    out = tmp_path / "bench"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(TOOL), "--features", str(train.path), str(evaluate.path), "--out",
                           str(out), "--model", "bcresnet_asc_1", "--variants", "input-only", "resnorm", "--seeds", "0",
                           "--epochs", "2", "--jobs", "2", "--device", "cpu",
                           "--train-args", "--warmup-epochs 1 --eval-every 1"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((out / "resnorm.json").read_text())
    assert rep["settings"]["finished_runs"] == 2 and rep["settings"]["machine"].startswith("CPU:")
    assert rep["settings"]["features"] == [str(train.path), str(evaluate.path)]
    for run in rep["runs"]:
        assert [pt["epoch"] for pt in run["curve"]] == [1, 2]  # --eval-every 1 honoured
        assert run["curve"][-1]["overall"] == run["eval"]["overall"]  # the curve ends at the reported score
    md = (out / "resnorm.md").read_text()
    assert "## Evaluation curve" in md and "| epoch | 1 | 2 |" in md
    # a missing cache: one line naming it, exit 2, nothing written
    missing = tmp_path / "no-cache"
    bad = subprocess.run([sys.executable, str(TOOL), "--features", str(missing), str(evaluate.path), "--out",
                          str(tmp_path / "bad")], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and str(missing) in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
    # exactly one of --dataset / --features
    bad = subprocess.run([sys.executable, str(TOOL), "--out", str(out)], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "give --dataset or --features" in bad.stderr
