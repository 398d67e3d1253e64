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
        f"- peak RAM: {_kb(art.peak_ram_bytes)} (arena {art.arena_size:,} B{ratio}); TFLM smallest arena: "
        f"{_kb(art.tflm_arena_size)}; "
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
    if art.tiling:
        lines += ["", *tiling_section(art.tiling)]
    lines += ["", table, ""]
    return "\n".join(lines)


def tiling_section(t: dict) -> list[str]:
    """The streaming summary and the peak-RAM curve over step sizes."""
    curve = [[str(c["step_frames"]), str(c["steps"]), f"{c['arena_bytes']:,}", f"{c['peak_ram_bytes']:,}",
              str(c["persistent_buffers"]), "chosen" if c["step_frames"] == t["step_frames"] else ""]
             for c in t["curve"]]
    return [
        "## Streamed over time (time tiling)",
        "",
        f"- {t['steps']} steps of {t['step_frames']} input frames ({t['reason']}); every tensor of the trunk keeps "
        "a sliding window of its time columns, no column is computed twice, the pooling sums are accumulated in "
        "int32 and requantized once: bit-identical to the whole clip",
        f"- peak RAM {_kb(t['peak_ram_bytes'])} = arena {t['arena_bytes']:,} + input (whole clip) "
        f"{t['features_bytes']:,} + pooling sums and counters {t['state_bytes']:,}; whole-clip arena "
        f"{_kb(t['whole_clip_arena_bytes'])}",
        f"- MACs {t['macs']:,}, the same as the whole clip (no recomputed halo)",
        "",
        markdown_table(["step frames", "steps", "arena B", "peak RAM B", "buffers kept across steps", ""], curve),
    ]


def write_report(art) -> None:
    atomic.write_json(art.out_dir / "firmware.json", art.to_json())
    atomic.write_text(art.out_dir / "firmware.md", render_markdown(art))
