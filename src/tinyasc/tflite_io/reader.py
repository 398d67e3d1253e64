"""The one ``.tflite`` reader: bytes in, a validated :class:`~tinyasc.tflite_io.model.TFLiteModel` out.

Decoding goes through the ``tflite`` schema package (TensorFlow's generated flatbuffer
accessors). Those read lazily and trust every offset, so each table, vector and string is
bounds-checked here before it is used: a damaged offset is an :class:`InputError`, never an
``IndexError``, a ``struct.error``, a silently truncated name or a loop over a billion elements.
The semantic rules (:mod:`tinyasc.tflite_io.validate`) then run before any stage sees the model.
"""

from __future__ import annotations

import functools
import logging
import math
import struct
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tinyasc.errors import InputError
from tinyasc.tflite_io.model import DTYPES, Operator, Tensor, TFLiteModel, stored_bytes

log = logging.getLogger(__name__)

IDENTIFIER = b"TFL3"


class _Corrupt(Exception):
    """A bounds check failed; becomes ``InputError(path, "corrupt TFLite flatbuffer (...)")``."""


@functools.lru_cache(maxsize=None)
def _enum_names(cls: Any) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


class _Bounds:
    """Explicit bounds checks on the tables, vectors and strings of one flatbuffer."""

    def __init__(self, data: bytes):
        self.data = data
        self.n = len(data)
        self.base = np.frombuffer(data, dtype=np.uint8).ctypes.data if data else 0
        self.where = "model"
        """The table being read (named in messages about offsets no explicit check covers)."""

    def table(self, obj: Any, what: str) -> Any:
        """``obj`` (a generated table accessor) after checking its position and vtable lie in the file."""
        if obj is None:
            return None
        self.where = what
        pos = obj._tab.Pos
        if not 0 <= pos <= self.n - 4:
            raise _Corrupt(f"{what}: table at {pos} outside the file")
        vtable = pos - struct.unpack_from("<i", self.data, pos)[0]
        if not 0 <= vtable <= self.n - 4:
            raise _Corrupt(f"{what}: vtable at {vtable} outside the file")
        vt_len = struct.unpack_from("<H", self.data, vtable)[0]
        if vt_len < 4 or vtable + vt_len > self.n:
            raise _Corrupt(f"{what}: vtable of {vt_len} bytes at {vtable} outside the file")
        return obj

    def length(self, obj: Any, field: str, what: str, element_bytes: int = 4) -> int:
        """``obj.<field>Length()`` after checking the whole vector lies in the file."""
        n = int(getattr(obj, field + "Length")())
        if n == 0:
            return 0
        arr = getattr(obj, field + "AsNumpy", None)
        if arr is not None:  # scalar vector: numpy checks count * itemsize against the buffer
            self.array(arr, what)
            return n
        get = getattr(obj, field)
        get(n - 1)  # reads the last element's offset: raises when the offset table runs past the end
        if n * element_bytes > self.n:
            raise _Corrupt(f"{what}: {n} elements cannot fit in {self.n} bytes")
        return n

    def array(self, accessor: Callable[[], Any], what: str) -> np.ndarray:
        """A scalar vector as a numpy view (empty when absent)."""
        try:
            a = accessor()
        except ValueError as err:  # numpy: count/offset beyond the buffer
            raise _Corrupt(f"{what}: vector outside the file ({err})") from None
        return a if isinstance(a, np.ndarray) else np.zeros(0, np.uint8)

    def offset_of(self, a: np.ndarray) -> int:
        """Byte position in the file of a numpy view returned by an ``...AsNumpy`` accessor."""
        return int(a.ctypes.data - self.base) if a.size else -1

    def string(self, obj: Any, field: str, what: str) -> str | None:
        """A string field (:class:`_StrictBytes` refuses one running past the end of the file)."""
        try:
            value = getattr(obj, field)()
        except _Corrupt as err:
            raise _Corrupt(f"{what}: {err}") from None
        return None if value is None else value.decode("utf-8", "replace")


class _StrictBytes(bytes):
    """The file's bytes; a slice past the end raises instead of being cut short.

    ``flatbuffers`` reads strings as ``Bytes[start:start + length]``, which Python truncates
    silently; numpy views and ``struct`` reads check their own bounds.
    """

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, slice) and ((key.stop or 0) > len(self) or (key.start or 0) < 0):
            raise _Corrupt(f"string [{key.start}:{key.stop}] outside the file ({len(self)} bytes)")
        return super().__getitem__(key)


def read_model(path: str | Path, *, validate: bool = True) -> TFLiteModel:
    """Read and validate ``path``; :class:`InputError` when it is missing, corrupt or breaks a rule."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read ({err.strerror})") from None
    return parse_model(data, path, validate=validate)


def parse_model(data: bytes, path: str | Path | None = None, *, validate: bool = True) -> TFLiteModel:
    """Decode the flatbuffer ``data`` (of file ``path``, for messages) and run the validation rules."""
    data = _StrictBytes(data)
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        raise InputError(path, "not a TFLite flatbuffer (missing 'TFL3' identifier)")
    try:
        model = _decode(data, "" if path is None else str(path))
    except InputError:
        raise
    except _Corrupt as err:
        raise InputError(path, f"corrupt TFLite flatbuffer ({err})") from None
    if validate:
        from tinyasc.tflite_io.validate import check

        check(model)
    log.debug("read %s: %d tensors, %d ops %s", path, len(model.tensors), len(model.operators), model.op_counts())
    return model


#: What the flatbuffers accessors raise when an offset the explicit checks do not cover is damaged.
_ACCESSOR_ERRORS = (struct.error, IndexError, ValueError, OverflowError, TypeError, AttributeError,
                    UnicodeDecodeError, RecursionError)


def _decode(data: bytes, path: str) -> TFLiteModel:
    b = _Bounds(data)
    try:
        return _decode_model(data, path, b)
    except _ACCESSOR_ERRORS as err:
        detail = "an offset points outside the file" if isinstance(err, struct.error) else f"{type(err).__name__}: {err}"
        raise _Corrupt(f"{b.where}: {detail}") from None


def _decode_model(data: bytes, path: str, b: _Bounds) -> TFLiteModel:
    import tflite

    model = b.table(tflite.Model.GetRootAs(data, 0), "model")
    n_sub = b.length(model, "Subgraphs", "subgraphs")
    if n_sub == 0:
        raise _Corrupt("no subgraphs")
    sub = b.table(model.Subgraphs(0), "subgraph 0")
    opcodes = _opcodes(model, b)
    buffers = b.length(model, "Buffers", "buffers")
    tensors = tuple(_tensor(model, b.table(sub.Tensors(i), f"tensor {i}"), i, buffers, b)
                    for i in range(b.length(sub, "Tensors", "tensors")))
    ops = []
    for i in range(b.length(sub, "Operators", "operators")):
        op = b.table(sub.Operators(i), f"operator {i}")
        code = int(op.OpcodeIndex())
        if not 0 <= code < len(opcodes):
            raise _Corrupt(f"operator {i}: opcode index {code} of {len(opcodes)}")
        ins = tuple(int(x) for x in b.array(op.InputsAsNumpy, f"operator {i} inputs"))
        outs = tuple(int(x) for x in b.array(op.OutputsAsNumpy, f"operator {i} outputs"))
        ops.append(Operator(index=i, opcode=opcodes[code], inputs=ins, outputs=outs, options=_options(op, b, i)))
    metadata = {}
    for i in range(b.length(model, "Metadata", "metadata")):
        md = b.table(model.Metadata(i), f"metadata {i}")
        name = b.string(md, "Name", f"metadata {i} name") or f"metadata_{i}"
        metadata[name] = _buffer_bytes(model, int(md.Buffer()), buffers, b, f"metadata {name!r}")[0]
    return TFLiteModel(
        path=path, tensors=tensors, operators=tuple(ops),
        inputs=tuple(int(x) for x in b.array(sub.InputsAsNumpy, "subgraph inputs")),
        outputs=tuple(int(x) for x in b.array(sub.OutputsAsNumpy, "subgraph outputs")),
        description=b.string(model, "Description", "description") or "",
        metadata=metadata, subgraphs=n_sub,
    )


def _opcodes(model: Any, b: _Bounds) -> list[str]:
    import tflite

    names = _enum_names(tflite.BuiltinOperator)
    out = []
    for i in range(b.length(model, "OperatorCodes", "operator codes")):
        oc = b.table(model.OperatorCodes(i), f"operator code {i}")
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        name = names.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = f"CUSTOM({b.string(oc, 'CustomCode', f'operator code {i}') or '?'})"
        out.append(name)
    return out


def _buffer_bytes(model: Any, index: int, n_buffers: int, b: _Bounds, what: str) -> tuple[bytes, int]:
    """(bytes, file offset) of buffer ``index``: inline data, or an external (offset, size) span."""
    if not 0 <= index < n_buffers:
        raise _Corrupt(f"{what}: buffer {index} of {n_buffers}")
    buf = b.table(model.Buffers(index), f"buffer {index}")
    offset = int(buf.Offset())
    if offset > 1:  # large models keep buffers after the flatbuffer
        size = int(buf.Size())
        if offset + size > b.n:
            raise _Corrupt(f"{what}: external buffer {index} ({size} bytes at {offset}) past the end of the file")
        return b.data[offset:offset + size], offset
    arr = b.array(buf.DataAsNumpy, f"buffer {index}")
    return arr.tobytes(), b.offset_of(arr)


def _tensor(model: Any, t: Any, i: int, n_buffers: int, b: _Bounds) -> Tensor:
    import tflite

    name = b.string(t, "Name", f"tensor {i} name") or f"t{i}"
    what = f"tensor {i} ({name})"
    dtype = _enum_names(tflite.TensorType).get(int(t.Type()), f"TYPE_{t.Type()}")
    shape = tuple(int(d) for d in b.array(t.ShapeAsNumpy, f"{what} shape"))
    scale: tuple[float, ...] = ()
    zp: tuple[int, ...] = ()
    qdim, s_off, z_off = 0, -1, -1
    qp = b.table(t.Quantization(), f"{what} quantization")
    if qp is not None:
        s = b.array(qp.ScaleAsNumpy, f"{what} scales")
        z = b.array(qp.ZeroPointAsNumpy, f"{what} zero points")
        if s.size:
            scale = tuple(float(v) for v in s.astype(np.float32))
            zp = tuple(int(v) for v in z) if z.size else (0,) * len(scale)
            qdim = int(qp.QuantizedDimension())
            s_off, z_off = b.offset_of(s), b.offset_of(z)
    buffer = int(t.Buffer())
    raw, d_off = _buffer_bytes(model, buffer, n_buffers, b, what) if buffer else (b"", -1)
    return Tensor(index=i, name=name, shape=shape, dtype=dtype, scale=scale, zero_point=zp,
                  quantized_dimension=qdim, data=_constant(raw, dtype, shape) if raw else None, buffer=buffer,
                  scale_offset=s_off, zero_point_offset=z_off, data_offset=d_off if raw else -1)


def _constant(raw: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Read-only little-endian values of ``shape``; flat (uint8 when the size is not a whole number
    of elements) when the bytes do not fit the shape, which the ``buffer_sizes`` rule then names."""
    np_type = np.dtype(DTYPES.get(dtype, np.uint8)).newbyteorder("<")
    data = np.frombuffer(raw, dtype=np_type if len(raw) % np_type.itemsize == 0 else np.uint8)
    fits = dtype in DTYPES and dtype != "INT4" and min(shape, default=1) >= 0
    if fits and stored_bytes(dtype, math.prod(shape)) == len(raw):
        data = data.reshape(shape)
    data.flags.writeable = False
    return data


def _options(op: Any, b: _Bounds, index: int) -> dict[str, Any]:
    """Every scalar (and int-list) accessor of the op's builtin options table, by accessor name."""
    import tflite

    kind = _enum_names(tflite.BuiltinOptions).get(int(op.BuiltinOptionsType()), "NONE")
    table = op.BuiltinOptions()
    cls = getattr(tflite, kind, None)
    if kind == "NONE" or table is None or cls is None:
        return {}
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    b.table(obj, f"operator {index} options")
    out: dict[str, Any] = {}
    for name in dir(cls):
        if name.startswith(("_", "GetRootAs", "Init")) or name.endswith(("AsNumpy", "IsNone", "Length", "BufferHasIdentifier")):
            continue
        try:
            value = getattr(obj, name)()
        except TypeError:  # vector accessors take an index
            accessor = getattr(obj, name + "AsNumpy", None)
            if accessor is not None:
                out[name] = tuple(int(v) for v in b.array(accessor, f"operator {index} option {name}"))
            continue
        if isinstance(value, (int, float, bool)):
            out[name] = value
    return out
