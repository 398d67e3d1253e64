"""Run one model under every runtime the parity table compares.

PyTorch and ONNX Runtime take NCHW float features; the TFLite files (from onnx2tf) take
NHWC. The deployed integer file (int8, or 16x8: int16 activations) runs under ai-edge-litert
with its default (optimized) kernels and with ``BUILTIN_REF`` (bit-identical to TensorFlow
Lite Micro), and under TFLite Micro's own Python interpreter (:mod:`tinyasc.tflite_io.tflm`, which
also finds the smallest working arena). Float features enter an integer file quantized with that file's own input
scale and zero point into its input type (int8 or int16); ``raw`` outputs are its output codes.
"""

from __future__ import annotations

import enum
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from tinyasc.export.tflite_graph import dequantize, quantize, read_graph
from tinyasc.tflite_io import tflm

log = logging.getLogger(__name__)


class Runtime(str, enum.Enum):
    """Runtimes of the parity table (keys of the export report's ``parity``); the last three run the
    deployed integer file, whatever its activation precision (the report's ``deployed``)."""

    PYTORCH = "pytorch"
    """The model as trained (the reference)."""
    ONNXRUNTIME = "onnxruntime"
    """The exported ONNX graph."""
    TFLITE_FLOAT = "tflite_float"
    """onnx2tf's float32 file under ai-edge-litert."""
    LITERT_DEFAULT = "litert_default"
    """ai-edge-litert, default (optimized) kernels."""
    LITERT_REF = "litert_ref"
    """ai-edge-litert, ``BUILTIN_REF`` kernels: what TFLite Micro computes; the gates use it."""
    TFLM = "tflm"
    """TensorFlow Lite Micro's Python interpreter, in the smallest arena that works."""


def to_nhwc(x: np.ndarray) -> np.ndarray:
    """(N, 1, F, T) -> (N, F, T, 1), the layout onnx2tf gives the TFLite input."""
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


def run_torch(model, x: np.ndarray, batch: int = 32) -> np.ndarray:
    import torch

    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(model(torch.from_numpy(np.asarray(x[i : i + batch], dtype=np.float32))).numpy())
    return np.concatenate(outs).astype(np.float32)


def run_onnx(path: str | Path, x: np.ndarray) -> np.ndarray:
    """ONNX Runtime, one clip at a time (the graph is exported with batch 1)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i : i + 1].astype(np.float32)})[0] for i in range(len(x))])


def litert_interpreter(path: str | Path, *, reference: bool, preserve_all: bool = False, delegate: bool = True):
    """ai-edge-litert's interpreter of ``path``: its reference kernels, or its default kernels with the XNNPACK
    delegate (``delegate``) or without it (LiteRT's built-in optimized kernels alone)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = (OpResolverType.BUILTIN_REF if reference else
            OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it = Interpreter(
        model_path=str(path), experimental_op_resolver_type=kind,
        experimental_preserve_all_tensors=preserve_all, num_threads=1,
    )
    it.allocate_tensors()
    return it


def run_litert(path: str | Path, x_nchw: np.ndarray, *, reference: bool = False, raw: bool = False,
               delegate: bool = True) -> np.ndarray:
    """Run a TFLite file under ai-edge-litert on float NCHW features (``delegate``: :func:`litert_interpreter`).

    Quantized inputs are quantized with the file's own input parameters; outputs are
    dequantized unless ``raw`` (then the integer output codes, int8 or int16, are returned).
    """
    it = litert_interpreter(path, reference=reference, delegate=delegate)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    graph = read_graph(Path(path).read_bytes())
    qin, qout = graph.inputs[0], graph.outputs[0]
    x = to_nhwc(x_nchw)
    res = []
    for i in range(len(x)):
        xi = x[i : i + 1]
        it.set_tensor(inp["index"], quantize(xi, qin) if qin.dtype in ("INT8", "INT16") else xi.astype(np.float32))
        it.invoke()
        res.append(it.get_tensor(out["index"]).copy())
    y = np.concatenate(res)
    if qout.dtype in ("INT8", "INT16") and not raw:
        return dequantize(y, qout)
    return y


def run_tflm(path: str | Path, x_nchw: np.ndarray, *, arena_size: int, raw: bool = False) -> np.ndarray:
    """Run an integer (int8 or 16x8) TFLite file under TensorFlow Lite Micro (:func:`tinyasc.tflite_io.tflm.run`)
    on float NCHW features, quantized with the file's own input parameters."""
    graph = read_graph(Path(path).read_bytes())
    qin, qout = graph.inputs[0], graph.outputs[0]
    x = to_nhwc(x_nchw)
    y, _ = tflm.run(path, [quantize(x[i : i + 1], qin) for i in range(len(x))], arena_size=arena_size)
    y = np.concatenate(list(y))  # per-clip outputs keep their batch axis of 1
    return y if raw else dequantize(y, qout)


def time_per_clip(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, repeats: int = 1) -> float:
    """Mean wall seconds per clip of ``fn`` over ``x`` (after one warm-up clip)."""
    fn(x[:1])
    t = time.perf_counter()
    for _ in range(repeats):
        fn(x)
    return (time.perf_counter() - t) / (repeats * len(x))
