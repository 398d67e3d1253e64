"""Where quantization error enters: per-layer SQNR of the integer graph against the float graph.

onnx2tf writes the float32, the int8 and the 16x8 (int16-activation) TFLite files from the same
TensorFlow graph, so their op output tensors share names. Both run on the same clips (the
integer one with the reference kernels, i.e. what TFLite Micro computes) with every intermediate
preserved; each int8 or int16 output is dequantized and compared with the float tensor of the
same name:

    SQNR_dB = 10 log10( sum(f**2) / sum((f - dequant(q))**2) )

Errors accumulate, so the layer where SQNR drops sharply is where precision is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.export.interpreters import litert_interpreter, to_nhwc
from tinyasc.export.tflite_graph import quantize, read_graph
from tinyasc.metrics import markdown_table


@dataclass(frozen=True, kw_only=True)
class LayerError:
    index: int
    """Position of the op in the integer graph's execution order."""
    op: str
    tensor: str
    """Output tensor name (shared by both files)."""
    shape: tuple[int, ...]
    scale: float
    """Scale of the integer output (one quantization step)."""
    sqnr_db: float
    """Signal-to-quantization-noise ratio over all clips (inf when exact)."""
    max_abs_err_steps: float
    """Largest |float - dequant(q)| in output quantization steps."""

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "tensor": self.tensor, "shape": list(self.shape), "scale": self.scale,
                "sqnr_db": None if not np.isfinite(self.sqnr_db) else round(self.sqnr_db, 3),
                "max_abs_err_steps": round(self.max_abs_err_steps, 3)}


def layer_sqnr(float_path: str | Path, quant_path: str | Path, x_nchw: np.ndarray) -> list[LayerError]:
    """Per-op SQNR of the integer file ``quant_path`` against ``float_path`` over the clips ``x_nchw``."""
    fl = litert_interpreter(float_path, reference=False, preserve_all=True)
    q8 = litert_interpreter(quant_path, reference=True, preserve_all=True)
    fl_names = {t["name"]: t["index"] for t in fl.get_tensor_details()}
    q8_details = {t["index"]: t for t in q8.get_tensor_details()}
    qin = read_graph(Path(quant_path).read_bytes()).inputs[0]
    pairs = []
    for op in q8._get_ops_details():
        for out_idx in op["outputs"]:
            d = q8_details[int(out_idx)]
            scale = d["quantization_parameters"]["scales"]
            if d["name"] in fl_names and len(scale) == 1 and d["dtype"] in (np.int8, np.int16):
                pairs.append((op["index"], op["op_name"], d, fl_names[d["name"]]))
    sig = {p[2]["name"]: 0.0 for p in pairs}
    noise = dict(sig)
    worst = dict(sig)
    x = to_nhwc(x_nchw)
    fin = fl.get_input_details()[0]["index"]
    qin_idx = q8.get_input_details()[0]["index"]
    for i in range(len(x)):
        fl.set_tensor(fin, x[i : i + 1].astype(np.float32))
        fl.invoke()
        q8.set_tensor(qin_idx, quantize(x[i : i + 1], qin))
        q8.invoke()
        for _, _, d, fidx in pairs:
            qp = d["quantization_parameters"]
            s, zp = float(qp["scales"][0]), int(qp["zero_points"][0])
            f = fl.get_tensor(fidx).astype(np.float64)
            q = (q8.get_tensor(d["index"]).astype(np.float64) - zp) * s
            if f.shape != q.shape:
                continue
            e = f - q
            sig[d["name"]] += float((f * f).sum())
            noise[d["name"]] += float((e * e).sum())
            worst[d["name"]] = max(worst[d["name"]], float(np.abs(e).max()) / s)
    out = []
    for idx, op_name, d, _ in pairs:
        n = noise[d["name"]]
        sq = float("inf") if n == 0 else 10.0 * np.log10(max(sig[d["name"]], 1e-30) / n)
        out.append(LayerError(index=int(idx), op=op_name, tensor=d["name"], shape=tuple(int(v) for v in d["shape"]),
                              scale=float(d["quantization_parameters"]["scales"][0]), sqnr_db=sq,
                              max_abs_err_steps=worst[d["name"]]))
    return out


def layers_markdown(layers: list[LayerError]) -> str:
    rows = []
    for e in layers:
        sq = "inf" if not np.isfinite(e.sqnr_db) else f"{e.sqnr_db:.1f}"
        short = e.tensor if len(e.tensor) < 60 else "..." + e.tensor[-57:]
        rows.append([e.index, e.op, "x".join(map(str, e.shape)), sq, f"{e.max_abs_err_steps:.1f}", f"`{short}`"])
    return markdown_table(["#", "op", "shape", "SQNR dB", "max err (steps)", "tensor"], rows)
