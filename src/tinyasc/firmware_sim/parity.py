"""Parity of the host build against the TensorFlow Lite Micro Python interpreter.

``tflite_micro``'s interpreter runs TFLM's reference kernels, the semantics a Cortex-M runs
(it is bit-identical to ai-edge-litert with the BUILTIN_REF resolver), so the promise is
exact: zero differing elements (int8, or int16 for a 16x8 model) on every golden input, and, with ``debug_layers``, on
every intermediate tensor. Results are statistics, not booleans.
"""

from __future__ import annotations

import logging
import math
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.contract import input_resnorm as resnorm_features
from tinyasc.qmath import INT_RANGES, quantize
from tinyasc.errors import InputError
from tinyasc.tflite_io import tflm

log = logging.getLogger(__name__)


@dataclass
class LayerParity:
    layer: int
    name: str
    elements: int
    differing: int
    max_abs_diff: int


@dataclass
class ParityResult:
    """Host C build vs TFLM on the same integer inputs (differences in output quantization steps)."""

    n_inputs: int
    output_elements: int
    differing_elements: int
    max_abs_diff: int
    top1_agreement: float
    identical: bool
    first_differing_layer: str | None = None
    layers: list[LayerParity] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        s = (f"{self.n_inputs} inputs, {self.differing_elements}/{self.output_elements} output elements "
             f"differ (max |diff| {self.max_abs_diff} steps), top-1 agreement {self.top1_agreement:.4f}")
        if self.first_differing_layer:
            s += f"; first differing layer {self.first_differing_layer}"
        return s


def load_golden(input_shape: list[int], scale: float, zero_point: int, *, golden: Path | None = None,
                dataset: Path | None = None, limit: int = 16,
                input_resnorm: tuple[float, float] | None = None, dtype: str = "INT8") -> np.ndarray:
    """Golden integer inputs ``(N, *input_shape)`` of ``dtype`` (the model input's: ``INT8`` or
    ``INT16``) from an ``.npz``/``.npy`` or a directory of ``.npy``.

    An ``.npz`` may hold integer ``inputs`` of that type (used as is) or float ``features``
    (quantized with the model's input scale and zero point); a ``.npy`` or a dataset directory holds feature arrays,
    one input or a batch per file (files of another size, e.g. labels, are skipped).
    Float log-mel features of a model whose contract lifts the input ResNorm out of the graph
    (``input_resnorm = (lambda, eps)``, from the ``.tflite``'s contract) are normalized first.
    """
    size = int(np.prod(input_shape))
    np_type = np.dtype(INT_RANGES[dtype][0])
    arrays: list[np.ndarray] = []
    if golden is not None:
        golden = Path(golden)
        if not golden.is_file():
            raise InputError(golden, "no such golden file")
        try:
            z = np.load(golden, allow_pickle=False)  # an object array would unpickle (run code): refused
        except Exception as err:
            raise InputError(golden, f"not a readable .npz/.npy ({type(err).__name__})") from None
        if isinstance(z, np.ndarray):
            a = z
        else:
            key = "inputs" if "inputs" in z else ("features" if "features" in z else None)
            if key is None:
                raise InputError(golden, f"expected an 'inputs' (int8) or 'features' (float) array, found {list(z.keys())}")
            try:
                a = np.asarray(z[key])
            except ValueError as err:  # object arrays need pickle, which is never allowed here
                raise InputError(golden, f"array {key!r} is not plain numbers ({err})") from None
        if a.size % size:
            raise InputError(golden, f"{a.size} values are not a whole number of model inputs {input_shape}")
        arrays = list(a.reshape(-1, size))
    elif dataset is not None:
        dataset = Path(dataset)
        files = sorted(dataset.rglob("*.npy")) if dataset.is_dir() else []
        if not files:
            raise InputError(dataset, "no .npy feature files found")
        for f in files:
            try:
                a = np.load(f, allow_pickle=False)  # object arrays (pickles) are refused
            except (ValueError, OSError, EOFError) as err:
                raise InputError(f, f"not a readable .npy of plain numbers ({err})") from None
            if a.size == 0 or a.size % size or not np.issubdtype(a.dtype, np.floating) and a.dtype != np_type:
                log.debug("skipping %s: %s %s is not a batch of model inputs", f, a.shape, a.dtype)
                continue
            arrays.extend(a.reshape(-1, size))
            if len(arrays) >= limit:
                break
        if not arrays:
            raise InputError(dataset, f"no .npy file holds features of the model's input size ({size} values)")
    else:
        raise InputError(None, "need --golden NPZ or --dataset DIR for --check")
    out = []
    for i, a in enumerate(arrays[:limit]):
        if a.size != size:
            raise InputError(golden or dataset, f"input {i} has {a.size} values, model input {input_shape} needs {size}")
        if np.issubdtype(a.dtype, np.integer):
            if a.dtype != np_type:
                raise InputError(golden or dataset, f"input {i} is {a.dtype}, the model takes {np_type} inputs")
            out.append(a.reshape(input_shape))
        else:
            if input_resnorm is not None:  # (mels, frames): the model input is mel-major (NHWC 1 x F x T x 1)
                dims = [d for d in input_shape if d != 1]
                a = resnorm_features(np.asarray(a, np.float32).reshape(dims), *input_resnorm)
            out.append(quantize(a, scale, zero_point, dtype=dtype).reshape(input_shape))
    return np.stack(out)


def run_host(exe: Path, inputs: np.ndarray, output_size: int, dump_size: int = 0,
             dtype: Any = np.int8) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the host binary on ``inputs``; return outputs ``(N, output_size)`` of ``dtype`` (the
    model's I/O element type: int8, or little-endian int16) and the raw per-layer dump bytes."""
    with tempfile.TemporaryDirectory(prefix="tinyasc_host_") as tmp:
        tmp = Path(tmp)
        (tmp / "in.bin").write_bytes(np.ascontiguousarray(inputs, dtype=dtype).tobytes())
        args = [str(exe), str(tmp / "in.bin"), str(tmp / "out.bin")]
        if dump_size:
            args.append(str(tmp / "dump.bin"))
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{exe} failed ({proc.returncode}): {proc.stderr.strip()}")
        out = np.frombuffer((tmp / "out.bin").read_bytes(), dtype=dtype).reshape(len(inputs), output_size)
        dump = None
        if dump_size:
            dump = np.frombuffer((tmp / "dump.bin").read_bytes(), dtype=np.uint8).reshape(len(inputs), dump_size)
    return out.copy(), None if dump is None else dump.copy()


def check_parity(artifact, inputs: np.ndarray, *, debug_layers: bool = False, cc: str | None = None,
                 exe: Path | None = None) -> ParityResult:
    """Build (unless ``exe`` is given), run host C and TFLM on ``inputs``, compare."""
    from tinyasc.errors import InputError
    from tinyasc.firmware_sim.build import build_host

    if debug_layers and getattr(artifact, "tiling", None):
        raise InputError(artifact.out_dir, "--debug-layers compares whole tensors, and a streamed model computes its "
                                           "trunk step by step: check the output without it, or generate without "
                                           "--ram-budget/--step-frames")
    layers = artifact.layers
    if exe is None:
        exe = build_host(artifact.out_dir, cc=cc, dump=debug_layers)
    dump_size = sum(l.arena_size for l in layers) if debug_layers else 0
    io = artifact.io_dtype
    host_out, dump = run_host(exe, inputs, artifact.output_size, dump_size, io)
    tensors = [l.output for l in layers if l.fused_into is None] if debug_layers else None
    # TFLM plans the whole clip: size its arena from the model's tensors, not from this artifact's
    # plan (a streamed model's arena is a fraction of what TFLM needs)
    ref_out, inter = tflm.run(artifact.model, inputs, tensors=tensors, arena_size=tflm.default_arena(artifact.model))
    ref_out = ref_out.reshape(len(inputs), -1).astype(io)
    d = np.abs(host_out.astype(np.int32) - ref_out.astype(np.int32))
    top1 = float(np.mean(np.argmax(host_out, axis=1) == np.argmax(ref_out, axis=1))) if len(inputs) else math.nan
    res = ParityResult(n_inputs=len(inputs), output_elements=int(d.size), differing_elements=int((d > 0).sum()),
                       max_abs_diff=int(d.max()) if d.size else 0, top1_agreement=top1, identical=False)
    if debug_layers and dump is not None:
        off = 0
        for l in layers:
            if l.fused_into is not None:  # never stored: checked through the layer it feeds
                continue
            # every activation of a model has its I/O element type (validated by the generator)
            mine = np.ascontiguousarray(dump[:, off:off + l.arena_size]).view(io).astype(np.int32)
            off += l.arena_size
            ref = inter[l.output].reshape(len(inputs), -1).astype(np.int32)
            dl = np.abs(mine - ref)
            lp = LayerParity(layer=l.index, name=l.name, elements=int(dl.size), differing=int((dl > 0).sum()),
                             max_abs_diff=int(dl.max()) if dl.size else 0)
            res.layers.append(lp)
            if lp.differing and res.first_differing_layer is None:
                res.first_differing_layer = f"{l.name} ({lp.differing}/{lp.elements} elements, max |diff| {lp.max_abs_diff})"
    res.identical = res.differing_elements == 0 and all(lp.differing == 0 for lp in res.layers)
    return res
