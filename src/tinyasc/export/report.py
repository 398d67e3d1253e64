"""The export report for people (Markdown); ``report.json`` holds the same dict for machines."""

from __future__ import annotations

from typing import Any

from tinyasc.metrics import markdown_table, table3_header, table3_row

RUNTIME_TITLES = {
    "pytorch": "PyTorch (float)",
    "onnxruntime": "ONNX Runtime (float)",
    "tflite_float": "TFLite float32 (ai-edge-litert)",
    "int8_litert_default": "int8, ai-edge-litert default kernels",
    "int8_litert_ref": "int8, ai-edge-litert BUILTIN_REF",
    "int8_tflm": "int8, TFLite Micro interpreter",
}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def render_markdown(r: dict[str, Any]) -> str:
    ck = r["checkpoint"]
    lines = [
        f"# int8 export report: {ck['model_name']} — **{r['status'].upper()}**",
        "",
        f"Checkpoint `{ck['path']}`, dataset `{r['dataset']['path']}` "
        f"({r['dataset']['calib_clips']} calibration clips from the training split, "
        f"{r['dataset']['parity_clips']} evaluation clips for parity). onnx2tf {r.get('onnx2tf_version')}.",
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
    elif cal:
        lines += [f"Activation ranges: the converter's min/max over {cal['clips']} calibration clips.", ""]
    if r["warnings"]:
        lines += ["## Warnings", "", *[f"- {w}" for w in r["warnings"]], ""]
    lines += ["## Gates", "", markdown_table(["gate", "value", "threshold", "result", "detail"],
              [[g["name"], _fmt(g["value"]), _fmt(g["threshold"]), "pass" if g["passed"] else "**FAIL**", g["detail"]]
               for g in r["gates"]])]
    acc = r["parity"]["accuracy"]
    lines += ["## Parity (accuracy %, evaluation split)", "",
              markdown_table(table3_header(), [table3_row(RUNTIME_TITLES.get(k, k), v) for k, v in acc.items()])]
    first = next(iter(r["parity"]["int8_vs_pytorch"].values()))
    lines += [f"int8 vs PyTorch (logit error in output quantization steps). *Resolvable*: the "
              f"{first['resolvable_fraction']:.1%} of clips whose PyTorch top-1 margin is at least "
              f"{first['margin_steps']:g} output steps; output rounding alone caps the agreement over all clips at "
              f"{first['output_rounding_ceiling']:.4f}.", "",
              markdown_table(["runtime", "top-1 agreement", "on resolvable clips", "max err", "mean err", "p99 err", "clips"],
                             [[RUNTIME_TITLES.get(k, k), f"{v['top1_agreement']:.4f}", _fmt(v["top1_agreement_resolvable"]),
                               f"{v['logit_err_steps_max']:.2f}", f"{v['logit_err_steps_mean']:.2f}",
                               f"{v['logit_err_steps_p99']:.2f}", v["n_clips"]]
                              for k, v in r["parity"]["int8_vs_pytorch"].items()])]
    i8 = r["int8"]
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
        "## int8 graph", "",
        f"`{i8['file']}`: {i8['bytes']:,} bytes, {i8['n_ops']} ops; TFLite Micro arena (smallest that allocates): "
        f"**{i8['tflm_arena_bytes'] or 0:,} bytes**; TFLM vs BUILTIN_REF max output code difference: "
        f"{i8['tflm_vs_litert_ref_max_code_diff']}.",
        "",
        markdown_table(["op", "count"], [[k, v] for k, v in i8["op_counts"].items()]),
        markdown_table(["tensor", "dtype", "shape", "scale", "zero point"],
                       [[f"{side} `{t['name']}`", t["dtype"], "x".join(map(str, t["shape"])), _fmt(t["scale"]), t["zero_point"]]
                        for side, ts in (("input", i8["inputs"]), ("output", i8["outputs"])) for t in ts]),
        f"Tensor types: {i8['tensor_types']}; bias types: {i8['bias_types']}.",
        "",
        f"C array: `{', '.join(r['c_array']['files'])}` (symbol `{r['c_array']['symbol']}`, 16-byte aligned), "
        f"round trip identical: {r['c_array']['roundtrip_identical']}.",
        "",
    ]
    if r.get("int16_activations"):
        v = r["int16_activations"]
        lines += ["## int16-activation variant (16x8: int16 activations, int8 weights)", "",
                  markdown_table(["file", "bytes", "in/out", "top-1 agreement vs PyTorch (BUILTIN_REF)", "TFLM arena (B)", "int8 arena (B)"],
                                 [[v["file"], f"{v['bytes']:,}", f"{v['input_dtype']}/{v['output_dtype']}",
                                   _fmt(v.get("litert_ref_top1_agreement", v.get("litert_ref_error"))),
                                   v.get("tflm_arena_bytes", v.get("tflm_error")), i8["tflm_arena_bytes"]]])]
    if r.get("audit"):
        lines += ["## Size audit", "", r["audit"].get("markdown", ""), ""]
    if r.get("debug_layers"):
        from tinyasc.export.debug_layers import LayerError, layers_markdown

        layers = [LayerError(index=d["index"], op=d["op"], tensor=d["tensor"], shape=tuple(d["shape"]), scale=d["scale"],
                             sqnr_db=float("inf") if d["sqnr_db"] is None else d["sqnr_db"],
                             max_abs_err_steps=d["max_abs_err_steps"]) for d in r["debug_layers"]]
        lines += ["## Per-layer SQNR (int8 vs float activations)", "", layers_markdown(layers)]
    lines += ["## Timings (s)", "", markdown_table(["stage", "seconds"], [[k, f"{v:.2f}"] for k, v in r["timings"].items()])]
    return "\n".join(lines) + "\n"
