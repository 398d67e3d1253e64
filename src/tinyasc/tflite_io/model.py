"""The typed, read-only record of a ``.tflite`` file that every stage works on.

Built (and validated) by :func:`tinyasc.tflite_io.reader.read_model`; nothing here knows the
flatbuffer schema. ``firmware_sim.graph`` re-exports these types as ``Graph``/``Tensor``/``Operator``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

#: numpy dtype of each TFLite tensor type the reader decodes (INT4 is kept packed, two per byte).
DTYPES: dict[str, Any] = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT32": np.int32,
    "INT64": np.int64,
    "INT16": np.int16,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "BOOL": np.bool_,
    "INT4": np.uint8,
}

#: Ops with weights (input 1) and an optional bias (input 2) quantized at ``input_scale * weight_scale``.
WEIGHTED_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})


def stored_bytes(dtype: str, elements: int) -> int | None:
    """Bytes a constant of ``elements`` values of ``dtype`` takes in a buffer (None: a type not decoded)."""
    if dtype == "INT4":
        return (elements + 1) // 2
    if dtype not in DTYPES:
        return None
    return elements * np.dtype(DTYPES[dtype]).itemsize


@dataclass(frozen=True)
class Tensor:
    """One tensor of the first subgraph; ``data`` (read-only) is set for constants.

    The ``*_offset`` fields are byte positions in the file (-1 when absent): they let an in-place
    writer (``export.calibrate``) patch scales, zero points and buffers without walking the
    flatbuffer again.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: np.ndarray | None = field(default=None, compare=False, repr=False)
    buffer: int = 0
    """Index of the model buffer holding the data (0: none; buffers may be shared)."""
    scale_offset: int = -1
    """Byte position of the float32 scale vector in the file."""
    zero_point_offset: int = -1
    """Byte position of the int64 zero-point vector in the file."""
    data_offset: int = -1
    """Byte position of the constant data in the file."""

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return stored_bytes(self.dtype, self.size) or 0

    @property
    def quantized(self) -> bool:
        return len(self.scale) > 0

    def q(self) -> tuple[float, int]:
        """Per-tensor (scale, zero_point); scale is the exact float32 value as a Python float."""
        return float(self.scale[0]), int(self.zero_point[0]) if self.zero_point else 0


@dataclass(frozen=True)
class Operator:
    """One operator: its builtin name (``"CONV_2D"``), operand tensor indices and options.

    ``options`` (read-only) holds every scalar or int-list field of the op's builtin options
    table, keyed by the schema's accessor name (``"StrideW"``, ``"FusedActivationFunction"``, ...).
    """

    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.options, MappingProxyType):
            object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def input(self, k: int) -> int:
        """Tensor index of input ``k``, or -1 when absent (optional inputs)."""
        return self.inputs[k] if k < len(self.inputs) else -1


@dataclass(frozen=True)
class TFLiteModel:
    """A TFLite model: its first subgraph's tensors and operators, metadata and description."""

    path: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""
    metadata: Mapping[str, bytes] = field(default_factory=dict, compare=False)
    """Metadata entries by name (e.g. ``tinyasc.contract``), their buffers' bytes."""
    subgraphs: int = 1
    """Number of subgraphs in the file (only the first is decoded)."""

    def consumers(self, tensor: int) -> list[int]:
        return [op.index for op in self.operators if tensor in op.inputs]

    def producer(self, tensor: int) -> int | None:
        for op in self.operators:
            if tensor in op.outputs:
                return op.index
        return None

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.operators:
            counts[op.opcode] = counts.get(op.opcode, 0) + 1
        return dict(sorted(counts.items()))

    def activations(self) -> set[int]:
        """Graph inputs and operator outputs: the tensors computed at run time."""
        return set(self.inputs).union(*(op.outputs for op in self.operators))
