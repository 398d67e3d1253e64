"""The small typed graph the generator works on: tensors, operators, constant buffers.

Built by :mod:`tinyasc.firmware_sim.reader` from a ``.tflite`` file; nothing here knows the
flatbuffer schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: numpy dtype of each TFLite tensor type name the reader accepts.
DTYPES: dict[str, Any] = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "INT32": np.int32,
    "INT64": np.int64,
    "INT16": np.int16,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}


@dataclass(frozen=True)
class Tensor:
    """One tensor of the subgraph; ``data`` is set for constants (weights, axes, shapes)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(DTYPES[self.dtype]).itemsize

    @property
    def quantized(self) -> bool:
        return len(self.scale) > 0

    def q(self) -> tuple[float, int]:
        """Per-tensor (scale, zero_point); scale is the exact float32 value as a Python float."""
        return float(self.scale[0]), int(self.zero_point[0]) if self.zero_point else 0


@dataclass(frozen=True)
class Operator:
    """One operator: its builtin name (``"CONV_2D"``), operand tensor indices and options.

    ``options`` holds every scalar field of the op's builtin options table, keyed by the
    schema's accessor name (``"StrideW"``, ``"FusedActivationFunction"``, ...).
    """

    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Graph:
    """A single-subgraph TFLite model."""

    path: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""

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
