"""Read a ``.tflite`` flatbuffer into :class:`~tinyasc.firmware_sim.graph.Graph`.

Parsing goes through the ``tflite`` schema package (TensorFlow's generated flatbuffer
accessors); nothing is decoded by hand. Bad files raise :class:`InputError`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import tflite

from tinyasc.errors import InputError
from tinyasc.firmware_sim.graph import DTYPES, Graph, Operator, Tensor

log = logging.getLogger(__name__)

_TENSOR_TYPES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_BUILTIN_OPS = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTION_TYPES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}


def _options(op: Any) -> dict[str, Any]:
    """Every scalar accessor of the op's builtin options table, by accessor name."""
    kind = _OPTION_TYPES.get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    if kind == "NONE" or table is None:
        return {}
    cls = getattr(tflite, kind, None)
    if cls is None:
        return {}
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for name in dir(cls):
        if name.startswith("_") or name.startswith("GetRootAs") or name == "Init":
            continue
        if name.endswith(("AsNumpy", "IsNone", "Length", "BufferHasIdentifier")):
            continue
        try:
            value = getattr(obj, name)()
        except TypeError:  # array accessors take an index
            arr = getattr(obj, name + "AsNumpy", None)
            if arr is not None:
                value = arr()
                out[name] = [] if isinstance(value, int) else [int(v) for v in value]
            continue
        if isinstance(value, (int, float, bool)):
            out[name] = value
    return out


def read_tflite(path: str | Path) -> Graph:
    """Parse ``path``; raise :class:`InputError` if it is missing, corrupt or multi-subgraph."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    buf = path.read_bytes()
    if len(buf) < 8 or not tflite.Model.ModelBufferHasIdentifier(buf, 0):
        raise InputError(path, "not a TFLite flatbuffer (missing 'TFL3' identifier)")
    try:
        return _parse(path, buf)
    except InputError:
        raise
    except Exception as err:  # corrupt offsets surface as struct/index errors deep in flatbuffers
        raise InputError(path, f"corrupt TFLite flatbuffer ({type(err).__name__}: {err})") from None


def _parse(path: Path, buf: bytes) -> Graph:
    model = tflite.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() != 1:
        raise InputError(path, f"expected 1 subgraph, found {model.SubgraphsLength()}")
    sub = model.Subgraphs(0)
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        name = _BUILTIN_OPS.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            custom = oc.CustomCode()
            name = f"CUSTOM({custom.decode() if custom else '?'})"
        opcodes.append(name)

    tensors = []
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        dtype = _TENSOR_TYPES.get(t.Type(), f"TYPE_{t.Type()}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        scale: tuple[float, ...] = ()
        zp: tuple[int, ...] = ()
        qdim = 0
        qp = t.Quantization()
        if qp is not None and qp.ScaleLength() > 0:
            scale = tuple(float(s) for s in qp.ScaleAsNumpy().astype(np.float32))
            zp = tuple(int(z) for z in qp.ZeroPointAsNumpy()) if qp.ZeroPointLength() else (0,) * len(scale)
            qdim = int(qp.QuantizedDimension())
        data = None
        b = model.Buffers(t.Buffer())
        if b is not None and b.Offset() > 1:
            raise InputError(path, "models with external (offset) buffers are not supported")
        if b is not None and b.DataLength() > 0:
            if dtype not in DTYPES:
                raise InputError(path, f"tensor {i} ({t.Name().decode()}): unsupported type {dtype}")
            raw = b.DataAsNumpy().tobytes()
            data = np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype]).newbyteorder("<")).copy()
            data = data.reshape(shape) if shape else data.reshape(())
        name = t.Name().decode("utf-8", "replace") if t.Name() else f"t{i}"
        tensors.append(Tensor(index=i, name=name, shape=shape, dtype=dtype, scale=scale,
                              zero_point=zp, quantized_dimension=qdim, data=data))

    ops = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        ins = tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else ()
        outs = tuple(int(x) for x in op.OutputsAsNumpy()) if op.OutputsLength() else ()
        ops.append(Operator(index=i, opcode=opcodes[op.OpcodeIndex()], inputs=ins, outputs=outs,
                            options=_options(op)))
    inputs = tuple(int(x) for x in sub.InputsAsNumpy())
    outputs = tuple(int(x) for x in sub.OutputsAsNumpy())
    desc = model.Description().decode("utf-8", "replace") if model.Description() else ""
    graph = Graph(path=str(path), tensors=tuple(tensors), operators=tuple(ops), inputs=inputs,
                  outputs=outputs, description=desc)
    log.debug("read %s: %d tensors, %d ops %s", path, len(tensors), len(ops), graph.op_counts())
    return graph
