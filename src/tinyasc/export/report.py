"""The export report for people (Markdown); ``report.json`` holds the same dict for machines."""

from __future__ import annotations

from typing import Any

from tinyasc.export.precision import Activations
from tinyasc.metrics import markdown_table, table3_header, table3_row

#: Parity runtimes (:class:`tinyasc.export.interpreters.Runtime` values); ``{p}``: the deployed precision.
RUNTIME_TITLES = {
    "pytorch": "PyTorch (float)",
    "onnxruntime": "ONNX Runtime (float)",
    "tflite_float": "TFLite float32 (ai-edge-litert)",
    "litert_default": "{p}, ai-edge-litert default kernels",
    "litert_ref": "{p}, ai-edge-litert BUILTIN_REF",
    "tflm": "{p}, TFLite Micro interpreter",
}


def runtime_title(runtime: str, precision: str) -> str:
    """Table row name of a parity runtime, naming the integer file's precision (``int8``, ``int16x8``)."""
    return RUNTIME_TITLES.get(runtime, runtime).format(p=precision)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _candidates_table(r: dict[str, Any]) -> list[str]:
    """Every integer file evaluated (``auto``, or the 16x8 file measured beside int8) and which one is deployed."""
    rows = [[Activations(c["activations"]).label,
             f"{'n/a' if c['top1_agreement_resolvable'] is None else format(c['top1_agreement_resolvable'], '.4f')} / "
             f"{c['top1_agreement']:.4f}",
             f"{100 * c['accuracy_drop']:.2f} pt", f"{c['tflm_arena_bytes'] or 0:,}",
             "**deployed**" if c["deployed"] else ("kept" if c["kept"] else "dropped"),
             "pass" if c["passed"] else "fails " + ", ".join(c["failed_gates"])] for c in r["candidates"]]
    return ["## Candidates", "", markdown_table(
        ["precision", "top-1 agreement (resolvable / all)", "accuracy drop", "TFLM arena (B)", "file", "own gates"], rows)]


def render_markdown(r: dict[str, Any]) -> str:
    ck = r["checkpoint"]
    dep = r["deployed"]
    label = Activations(dep["activations"]).label
    lines = [
        f"# {label} export report: {ck['model_name']} — **{r['status'].upper()}**",
        "",
        f"Checkpoint `{ck['path']}`, dataset `{r['dataset']['path']}` "
        f"({r['dataset']['calib_clips']} calibration clips from the training split, "
        f"{r['dataset']['parity_clips']} evaluation clips for parity). onnx2tf {r.get('onnx2tf_version')}.",
        "",
        f"Deployed: `{dep['file']}` ({label} activations; {dep['reason']}).",
        "",
    ]
    cal = r.get("calibration") or {}
    if cal.get("method") == "percentile":
        cands = ", ".join(f"{'converter' if c['percentile'] is None else format(c['percentile'], 'g')}: "
                          f"{c['heldout_logit_err_steps']:.2f}" for c in cal["candidates"])
        chosen = ("the converter's min/max (no rewrite)" if cal["percentile"] is None
                  else f"each range clipped to the {cal['percentile']:g}th percentile of its values on {cal['clips']} "
                       f"calibration clips ({cal['groups_rewritten']} tensor groups rewritten in the `.tflite`, scale / "
                       f"converter's scale: median {cal['scale_ratio_median']:.3f}, min {cal['scale_ratio_min']:.3f}; "
                       f"{len(cal['groups_kept_bias_overflow'])} kept where a bias would overflow)")
        lines += [f"Activation ranges: {chosen}, the candidate closest to the float model on {cal['selection_clips']} "
                  f"other training clips (mean logit error in output steps: {cands}).", ""]
    elif cal.get("method") == "qat":
        lines += [f"Activation ranges: the checkpoint's int8 QAT parameters, written into the `.tflite` "
                  f"({cal['matched']} of {cal['groups']} tensor groups matched to a quantizer of the int8 model; "
                  f"{cal['convs_written']} convolutions' weights and biases written from the int8 model, {cal['weight_code_mismatches']} of the converter's weight codes differed"
                  + (f"; quantizers with no tensor in the file: {', '.join(cal['unused_points'])}" if cal["unused_points"] else "")
                  + ").", ""]
    elif cal:
        why = f" ({cal['reason']})" if cal.get("reason") else ""
        lines += [f"Activation ranges: the converter's min/max over {cal['clips']} calibration clips{why}.", ""]
    if r["warnings"]:
        lines += ["## Warnings", "", *[f"- {w}" for w in r["warnings"]], ""]
    if len(r["candidates"]) > 1:
        lines += _candidates_table(r)
    lines += ["## Gates", "", markdown_table(["gate", "value", "threshold", "result", "detail"],
              [[g["name"], _fmt(g["value"]), _fmt(g["threshold"]), "pass" if g["passed"] else "**FAIL**", g["detail"]]
               for g in r["gates"]])]
    acc = r["parity"]["accuracy"]
    lines += ["## Parity (accuracy %, evaluation split)", "",
              markdown_table(table3_header(), [table3_row(runtime_title(k, label), v) for k, v in acc.items()])]
    first = next(iter(r["parity"]["quantized_vs_pytorch"].values()))
    lines += [f"{label} vs PyTorch (logit error in output quantization steps). *Resolvable*: the "
              f"{first['resolvable_fraction']:.1%} of clips whose PyTorch top-1 margin is at least "
              f"{first['margin_steps']:g} output steps; output rounding alone caps the agreement over all clips at "
              f"{first['output_rounding_ceiling']:.4f}.", "",
              markdown_table(["runtime", "top-1 agreement", "on resolvable clips", "max err", "mean err", "p99 err", "clips"],
                             [[runtime_title(k, label), f"{v['top1_agreement']:.4f}", _fmt(v["top1_agreement_resolvable"]),
                               f"{v['logit_err_steps_max']:.2f}", f"{v['logit_err_steps_mean']:.2f}",
                               f"{v['logit_err_steps_p99']:.2f}", v["n_clips"]]
                              for k, v in r["parity"]["quantized_vs_pytorch"].items()])]
    q = r["quantized"]
    lines += [
        "## Float checks", "",
        markdown_table(["check", "max abs diff", "tolerance", "top-1 agreement", "clips"], [
            ["ONNX Runtime vs PyTorch", f"{r['onnx']['vs_pytorch']['max_abs_diff']:.3g}", f"{r['onnx']['vs_pytorch']['tolerance']:.3g}",
             f"{r['onnx']['vs_pytorch']['top1_agreement']:.4f}", r["onnx"]["vs_pytorch"]["n_clips"]],
            ["TFLite float vs ONNX Runtime", f"{r['tflite_float']['vs_onnx']['max_abs_diff']:.3g}",
             f"{r['tflite_float']['vs_onnx']['tolerance']:.3g}", f"{r['tflite_float']['vs_onnx']['top1_agreement']:.4f}",
             r["tflite_float"]["vs_onnx"]["n_clips"]],
        ]),
        f"Export form: `{r['export_form']['form']}` ({r['export_form']['bn_folded']} BatchNorms folded, "
        f"{r['export_form']['subspectral_equalized']} SubSpectralNorms as equalized sub-band convs, "
        f"{r['export_form']['freq_means_scaled']} frequency means as equalized convs; max |dlogit| vs the model "
        f"as trained {r['export_form']['max_abs_diff_vs_as_trained']:.2e})."
        + (" **Input contract changed**: the graph takes the input ResNorm of the log-mel, computed in float by the "
           "front end (`export_form.input_resnorm` in report.json, `*_INPUT_RESNORM_*` in the C header)."
           if r["export_form"].get("input_resnorm") else ""),
        "",
        f"## {label} graph", "",
        f"`{q['file']}`: {q['bytes']:,} bytes, {q['n_ops']} ops; TFLite Micro arena (smallest that allocates): "
        f"**{q['tflm_arena_bytes'] or 0:,} bytes**; TFLM vs BUILTIN_REF max output code difference: "
        f"{q['tflm_vs_litert_ref_max_code_diff']}.",
        "",
        markdown_table(["op", "count"], [[k, v] for k, v in q["op_counts"].items()]),
        markdown_table(["tensor", "dtype", "shape", "scale", "zero point"],
                       [[f"{side} `{t['name']}`", t["dtype"], "x".join(map(str, t["shape"])), _fmt(t["scale"]), t["zero_point"]]
                        for side, ts in (("input", q["inputs"]), ("output", q["outputs"])) for t in ts]),
        f"Tensor types: {q['tensor_types']}; bias types: {q['bias_types']}.",
        "",
        f"C array: `{', '.join(r['c_array']['files'])}` (symbol `{r['c_array']['symbol']}`, 16-byte aligned), "
        f"round trip identical: {r['c_array']['roundtrip_identical']}.",
        "",
    ]
    if r.get("audit"):
        lines += ["## Size audit", "", r["audit"].get("markdown", ""), ""]
    if r.get("debug_layers"):
        from tinyasc.export.debug_layers import LayerError, layers_markdown

        layers = [LayerError(index=d["index"], op=d["op"], tensor=d["tensor"], shape=tuple(d["shape"]), scale=d["scale"],
                             sqnr_db=float("inf") if d["sqnr_db"] is None else d["sqnr_db"],
                             max_abs_err_steps=d["max_abs_err_steps"]) for d in r["debug_layers"]]
        lines += [f"## Per-layer SQNR ({label} vs float activations)", "", layers_markdown(layers)]
    lines += ["## Timings (s)", "", markdown_table(["stage", "seconds"], [[k, f"{v:.2f}"] for k, v in r["timings"].items()])]
    return "\n".join(lines) + "\n"
