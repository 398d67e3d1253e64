"""Parity of the host build against the TensorFlow Lite Micro Python interpreter.

``tflite_micro``'s interpreter runs TFLM's reference kernels, the semantics a Cortex-M runs
(it is bit-identical to ai-edge-litert with the BUILTIN_REF resolver), so the promise is
exact: zero differing elements (int8, or int16 for a 16x8 model) on every golden input, and, with ``debug_layers``, on
every intermediate tensor. Results are statistics, not booleans.
"""

from __future__ import annotations

import logging
import math
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyasc.contract import input_resnorm as resnorm_features
from tinyasc.qmath import INT_RANGES, quantize
from tinyasc.errors import InputError

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
            z = np.load(golden)
        except Exception as err:
            raise InputError(golden, f"not a readable .npz/.npy ({type(err).__name__})") from None
        if isinstance(z, np.ndarray):
            a = z
        else:
            key = "inputs" if "inputs" in z else ("features" if "features" in z else None)
            if key is None:
                raise InputError(golden, f"expected an 'inputs' (int8) or 'features' (float) array, found {list(z.keys())}")
            a = np.asarray(z[key])
        if a.size % size:
            raise InputError(golden, f"{a.size} values are not a whole number of model inputs {input_shape}")
        arrays = list(a.reshape(-1, size))
    elif dataset is not None:
        dataset = Path(dataset)
        files = sorted(dataset.rglob("*.npy")) if dataset.is_dir() else []
        if not files:
            raise InputError(dataset, "no .npy feature files found")
        for f in files:
            a = np.load(f)
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


def _interp(tflite_path: Path, arena_size: int, preserve: bool):
    from tflite_micro.python.tflite_micro import runtime

    cfg = runtime.InterpreterConfig.kPreserveAllTensors if preserve else runtime.InterpreterConfig.kAllocationRecording
    return runtime.Interpreter.from_file(str(tflite_path), arena_size=arena_size, intrepreter_config=cfg)


def tflm_run(tflite_path: str | Path, inputs: np.ndarray, *, tensors: list[int] | None = None,
             arena_size: int | None = None) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Run TFLM on each input; return outputs ``(N, ...)`` and, for ``tensors``, their values per input."""
    tflite_path = Path(tflite_path)
    if arena_size is None:
        arena_size = max(10 * tflite_path.stat().st_size, 4 << 20)
    it = _interp(tflite_path, arena_size, preserve=bool(tensors))
    outs = []
    inter: dict[int, list[np.ndarray]] = {t: [] for t in tensors or []}
    for x in inputs:
        it.set_input(np.ascontiguousarray(x), 0)
        it.invoke()
        outs.append(np.array(it.get_output(0), copy=True))
        for t in inter:
            inter[t].append(np.array(it.GetTensor(t, 0)["tensor_data"], copy=True))
    return np.stack(outs), {t: np.stack(v) for t, v in inter.items()}


_PROBE = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))
d = it.get_input_details(0)
it.set_input(np.zeros(d['shape'], dtype=d['dtype']), 0)
it.invoke()
print('TINYASC_OK', flush=True)
if len(sys.argv) > 3:
    it.print_allocations()
"""


def _probe(tflite_path: Path, arena: int, allocations: bool = False) -> tuple[bool, str]:
    args = [sys.executable, "-c", _PROBE, str(tflite_path), str(arena)] + (["1"] if allocations else [])
    proc = subprocess.run(args, capture_output=True, text=True)
    return "TINYASC_OK" in proc.stdout, proc.stderr


def measure_tflm_arena(tflite_path: str | Path, *, granularity: int = 16) -> int | None:
    """Smallest ``arena_size`` with which TFLM allocates and invokes the model (bisection).

    Each probe runs in a subprocess: TFLM may abort the process on a too-small arena.
    """
    tflite_path = Path(tflite_path)
    hi = max(10 * tflite_path.stat().st_size, 1 << 16)
    ok, err = _probe(tflite_path, hi, allocations=True)
    while not ok and hi < (1 << 30):
        hi *= 4
        ok, err = _probe(tflite_path, hi, allocations=True)
    if not ok:
        log.warning("TFLM could not run %s with a 1 GiB arena", tflite_path)
        return None
    m = re.search(r"Arena allocation total (\d+) bytes", err)
    lo = 0
    if m:
        recorded = int(m.group(1))
        guess_hi = recorded + 64
        if _probe(tflite_path, guess_hi)[0]:
            hi = guess_hi
            guess_lo = max(recorded - 1024, 0)
            if not _probe(tflite_path, guess_lo)[0]:
                lo = guess_lo
    while hi - lo > granularity:
        mid = (lo + hi) // 2
        if _probe(tflite_path, mid)[0]:
            hi = mid
        else:
            lo = mid
    return hi


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
    from tinyasc.firmware_sim.build import build_host

    layers = artifact.layers
    if exe is None:
        exe = build_host(artifact.out_dir, cc=cc, dump=debug_layers)
    dump_size = sum(l.arena_size for l in layers) if debug_layers else 0
    io = artifact.io_dtype
    host_out, dump = run_host(exe, inputs, artifact.output_size, dump_size, io)
    tensors = [l.output for l in layers if l.fused_into is None] if debug_layers else None
    ref_out, inter = tflm_run(artifact.model, inputs, tensors=tensors,
                              arena_size=max(4 << 20, 2 * artifact.naive_arena_size + (1 << 20)))
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
