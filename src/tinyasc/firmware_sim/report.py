"""``DIR/firmware.json`` (machines) and ``DIR/firmware.md`` (people)."""

from __future__ import annotations

from tinyasc import atomic
from tinyasc.metrics import markdown_table


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B ({n / 1024:.1f} KiB)"


def render_markdown(art) -> str:
    rows = [[str(l.index), l.op, " ".join("x".join(map(str, s)) for s in l.input_shapes[:1]),
             "x".join(map(str, l.output_shape)), f"{l.macs:,}", f"{l.weight_bytes:,}",
             str(l.arena_offset), f"{l.arena_size:,}", "yes" if l.in_place else ""]
            for l in art.layers]
    table = markdown_table(["#", "op", "input", "output", "MACs", "weight B", "arena offset", "size B", "in place"], rows)
    ratio = f" ({art.arena_size / art.tflm_arena_size:.2f} x TFLM)" if art.tflm_arena_size else ""
    lines = [
        f"# Firmware: {art.model}",
        "",
        f"- activations: {'int16 (16x8: int16 activations, int8 weights, int64 biases)' if art.activations == 'int16' else 'int8'}",
        f"- input {art.input_shape} {art.activations} (scale {art.input_scale:.6g}, zero point {art.input_zero_point}); "
        f"output {art.output_shape} {art.activations} (scale {art.output_scale:.6g}, zero point {art.output_zero_point})",
        f"- ops: {', '.join(f'{k} {v}' for k, v in art.op_counts.items())}",
        f"- total MACs: {art.total_macs:,}",
        f"- flash estimate: {_kb(art.flash_bytes)} = weights {art.weight_bytes:,} + requant params "
        f"{art.param_bytes:,} + code estimate {art.code_bytes_estimate:,}",
        f"- peak RAM (arena): {_kb(art.arena_size)}{ratio}; TFLM smallest arena: {_kb(art.tflm_arena_size)}; "
        f"without reuse: {_kb(art.naive_arena_size)}",
    ]
    if art.parity:
        p = art.parity
        verdict = "IDENTICAL" if p["identical"] else "MISMATCH"
        lines.append(f"- parity vs TFLM: **{verdict}** — {p['n_inputs']} inputs, {p['differing_elements']}/"
                     f"{p['output_elements']} output elements differ (max |diff| {p['max_abs_diff']}), "
                     f"top-1 agreement {p['top1_agreement']:.4f}"
                     + (f", {len(p['layers'])} layers compared" if p.get("layers") else ""))
        if p.get("first_differing_layer"):
            lines.append(f"- first differing layer: {p['first_differing_layer']}")
    else:
        lines.append("- parity: not checked (run with --check)")
    lines += ["", table, ""]
    return "\n".join(lines)


def write_report(art) -> None:
    atomic.write_json(art.out_dir / "firmware.json", art.to_json())
    atomic.write_text(art.out_dir / "firmware.md", render_markdown(art))
