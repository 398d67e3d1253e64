"""The paper's Figure 1: why ResNorm normalizes along frequency.

A trained model's stage-2 feature maps (N, C, F, T) are summarized two ways per clip:
frequency-wise statistics (mean and std over channels and time, one pair per frequency bin)
and channel-wise statistics (mean and std over frequency and time, one pair per channel).
Each summary is embedded in 2-D with t-SNE (scikit-learn) and coloured by recording device.
If devices separate better with frequency-wise statistics, the device signature lives along
frequency — which is what FreqIN removes. Beside the picture, a k-nearest-neighbour device
classifier on each summary puts a number on "separate better".

    python tools/plot_device_stats.py CKPT DATASET --out fig1.png [--split train] [--max-clips 600]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from tinyasc.atomic import atomic_path, write_json
from tinyasc.contract import DEVICES, Checkpoint
from tinyasc.errors import InputError, cli_entry

log = logging.getLogger("plot_device_stats")


def stage2_statistics(model, features: np.ndarray, *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(frequency-wise, channel-wise) statistics of stage-2 outputs: (N, 2F) and (N, 2C)."""
    import torch

    captured: list[torch.Tensor] = []
    hook = model.stages[1].register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
    freq, chan = [], []
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(features), batch_size):
                x = torch.from_numpy(np.asarray(features[i:i + batch_size], dtype=np.float32)).unsqueeze(1)
                captured.clear()
                model(x)
                fmap = captured[0]  # (N, C, F, T)
                freq.append(torch.cat([fmap.mean(dim=(1, 3)), fmap.std(dim=(1, 3))], dim=1).numpy())
                chan.append(torch.cat([fmap.mean(dim=(2, 3)), fmap.std(dim=(2, 3))], dim=1).numpy())
    finally:
        hook.remove()
    return np.concatenate(freq), np.concatenate(chan)


def device_separability(stats: np.ndarray, devices: np.ndarray, *, seed: int = 0) -> float:
    """5-fold accuracy of a 5-nearest-neighbour device classifier on standardized statistics."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_splits = int(min(5, np.unique(devices, return_counts=True)[1].min()))
    if n_splits < 2:
        raise InputError(None, "need at least 2 clips of every device to score separability")
    clf = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, stats, devices, cv=cv).mean())


def plot(freq2d: np.ndarray, chan2d: np.ndarray, devices: np.ndarray, scores: dict[str, float], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(6, 10))
    present = [d for d in DEVICES if d in set(devices)]
    colors = plt.get_cmap("tab10")
    for ax, emb, title, key in ((axes[0], freq2d, "frequency-wise mean and std", "frequency"),
                                (axes[1], chan2d, "channel-wise mean and std", "channel")):
        for i, dev in enumerate(present):
            m = devices == dev
            ax.scatter(emb[m, 0], emb[m, 1], s=8, color=colors(i), label=dev.upper())
        ax.set_title(f"{title} (kNN device accuracy {100 * scores[key]:.0f}%)")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(markerscale=2, fontsize=8, ncol=3)
    fig.suptitle("t-SNE of stage-2 feature maps, coloured by device")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="plot_device_stats.py", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="trained tinyasc checkpoint (.pt)")
    p.add_argument("dataset", type=Path, help="TAU-layout dataset root")
    p.add_argument("--out", type=Path, required=True, help="PNG to write (JSON with the scores beside it)")
    p.add_argument("--split", default="train", choices=["train", "evaluate"], help="clips to embed (paper: training)")
    p.add_argument("--max-clips", type=int, default=600, help="at most this many clips, evenly spread")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from sklearn.manifold import TSNE

    from tinyasc.data.cache import build_feature_set
    from tinyasc.data.tau import load_tau
    from tinyasc.model import from_checkpoint

    ckpt = Checkpoint.load(args.checkpoint)
    model = from_checkpoint(ckpt, path=args.checkpoint)
    fs = build_feature_set(load_tau(args.dataset), args.split, ckpt.feature_config, progress=False)
    idx = np.unique(np.linspace(0, len(fs) - 1, num=min(args.max_clips, len(fs))).round().astype(int))
    devices = np.asarray(fs.devices)[idx].astype(str)
    freq, chan = stage2_statistics(model, fs.features[idx])
    scores = {"frequency": device_separability(freq, devices, seed=args.seed),
              "channel": device_separability(chan, devices, seed=args.seed)}
    perplexity = float(min(30, max(2, (len(idx) - 1) / 3)))
    emb = [TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=args.seed).fit_transform(
        (s - s.mean(0)) / (s.std(0) + 1e-8)) for s in (freq, chan)]
    plot(emb[0], emb[1], devices, scores, args.out)
    result = {"checkpoint": str(args.checkpoint), "split": args.split, "clips": int(len(idx)),
              "device_knn_accuracy": scores, "chance": 1 / len(set(devices)), "figure": str(args.out)}
    write_json(args.out.with_suffix(".json"), result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
