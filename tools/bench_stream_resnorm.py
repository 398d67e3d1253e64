"""Benchmark: what the streaming front end's 0.125-nat log-mel codes cost a model with a lifted input ResNorm.

    python tools/bench_stream_resnorm.py MODEL_int8.tflite --dataset DIR --out OUT [--limit N]

With its input ResNorm lifted into the front end (``asc-export --form equalized-lifted``), a model's input
needs the whole clip's per-band statistics, so the streaming C front end (which never holds the clip's
PCM) holds each frame's log-mel as a code of ``tinyasc.firmware_sim.frontend.LOGMEL_STEP`` nats until the
clip ends, then normalizes (``stream_resnorm_reference`` is the bit-exact reference). Continuous listening
(``tinyasc_stream_classify``) holds the same codes and also takes the window's statistics from them (exact
integer sums: ``listen_window_reference``); its input is measured on each clip as the window the listening
front end holds when the clip is heard with the STFT's padding as silence around it (then its frames are the
clip's). This runs the evaluation split through the int8 file under TensorFlow Lite Micro three times, with
the exact input (``input_resnorm`` of the float log-mel, quantized), the streamed one and the listening one,
and reports: input elements that differ from the exact input and by how many steps, top-1 agreement with
it, accuracy of each (overall, seen and unseen devices). Writes ``OUT/bench_stream_resnorm.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

from tinyasc import atomic
from tinyasc.contract import input_resnorm, read_deployed_contract
from tinyasc.data.cache import build_feature_set
from tinyasc.data.tau import load_tau
from tinyasc.firmware_sim.frontend import (LOGMEL_STEP, listen_window_reference, logmel_codes, quantize_input,
                                           stream_resnorm_reference)
from tinyasc.metrics import markdown_table
from tinyasc.tflite_io import read_model
from tinyasc.tflite_io.tflm import run as tflm_run

UNSEEN = {"s4", "s5", "s6"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None, help="at most N evaluation clips (default all)")
    args = ap.parse_args(argv)
    contract = read_deployed_contract(args.model.read_bytes(), args.model)
    if contract is None or contract.input_resnorm is None:
        print(f"{args.model}: no lifted input ResNorm in its contract: nothing to measure", file=sys.stderr)
        return 2
    lam, eps = contract.input_resnorm
    g = read_model(args.model)
    x_t = g.tensors[g.inputs[0]]
    scale, zp = x_t.q()
    fs = build_feature_set(load_tau(args.dataset), "evaluate", contract.feature_config, progress=False)
    n = len(fs) if args.limit is None else min(args.limit, len(fs))
    feats = np.asarray(fs.features[:n], dtype=np.float32)
    labels = np.asarray(fs.labels[:n])
    devices = np.asarray(fs.devices[:n])
    exact = np.stack([quantize_input(input_resnorm(f, lam, eps), scale, zp) for f in feats])
    streamed = np.stack([stream_resnorm_reference(f, scale, zp, lam, eps) for f in feats])
    listened = np.stack([listen_window_reference(logmel_codes(f).T, scale, zp, lam, eps) for f in feats])
    d = np.abs(exact.astype(np.int32) - streamed.astype(np.int32))
    dl = np.abs(exact.astype(np.int32) - listened.astype(np.int32))
    shape = tuple(x_t.shape)
    out_e, _ = tflm_run(args.model, exact.reshape(n, *shape))
    out_s, _ = tflm_run(args.model, streamed.reshape(n, *shape))
    out_l, _ = tflm_run(args.model, listened.reshape(n, *shape))
    pe, ps, pl = (o.reshape(n, -1).argmax(1) for o in (out_e, out_s, out_l))
    unseen = np.isin(devices, list(UNSEEN))

    def acc(p: np.ndarray, m: np.ndarray) -> float:
        return float((p[m] == labels[m]).mean()) if m.any() else float("nan")

    everything = np.ones(n, bool)
    res = {"model": str(args.model), "clips": n, "logmel_step_nats": LOGMEL_STEP, "lambda": lam,
           "input_scale": scale, "elements_differing": float((d > 0).mean()), "max_step_difference": int(d.max()),
           "mean_step_difference": float(d.mean()), "top1_agreement": float((pe == ps).mean()),
           "accuracy_exact": acc(pe, everything), "accuracy_streamed": acc(ps, everything),
           "unseen_exact": acc(pe, unseen), "unseen_streamed": acc(ps, unseen),
           "seen_exact": acc(pe, ~unseen), "seen_streamed": acc(ps, ~unseen),
           "listen_elements_differing": float((dl > 0).mean()), "listen_max_step_difference": int(dl.max()),
           "listen_top1_agreement": float((pe == pl).mean()), "accuracy_listen": acc(pl, everything),
           "seen_listen": acc(pl, ~unseen), "unseen_listen": acc(pl, unseen),
           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(args.out / "bench_stream_resnorm.json", res)
    md = "\n".join([
        f"# Streaming front end with the input ResNorm: {args.model.name}, {n} evaluation clips", "",
        markdown_table(["", "exact input (two passes over the PCM)", f"streamed ({LOGMEL_STEP}-nat log-mel codes)",
                        "listening (codes, statistics from the codes)"], [
            ["accuracy", *(f"{100 * res[k]:.1f}%" for k in ("accuracy_exact", "accuracy_streamed", "accuracy_listen"))],
            ["seen devices", *(f"{100 * res[k]:.1f}%" for k in ("seen_exact", "seen_streamed", "seen_listen"))],
            ["unseen devices (S4-S6)", *(f"{100 * res[k]:.1f}%" for k in ("unseen_exact", "unseen_streamed",
                                                                           "unseen_listen"))],
            ["top-1 agreement with the exact input", "1", f"{res['top1_agreement']:.4f}",
             f"{res['listen_top1_agreement']:.4f}"],
            ["input elements differing from the exact input", "0",
             f"{100 * res['elements_differing']:.2f}% (at most {res['max_step_difference']} steps)",
             f"{100 * res['listen_elements_differing']:.2f}% (at most {res['listen_max_step_difference']} steps)"]]),
        "",
        f"Mean step difference of the streamed input: {res['mean_step_difference']:.3f}. "
        f"Input scale {scale:.6g}, lambda {lam}.", ""])
    atomic.write_text(args.out / "bench_stream_resnorm.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
