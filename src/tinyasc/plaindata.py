"""Plain data: what a checkpoint may hold so that opening it runs no code.

``torch.load(weights_only=True)`` unpickles only tensors, containers (dict, OrderedDict,
list, tuple, set) and primitives; any other class in the pickle is refused before it is
built. :func:`to_plain` turns what the stages put into a checkpoint (numpy values, enums,
paths, dataclasses) into exactly those types on save, so every file tinyasc writes loads
through that safe path. Readers get JSON-like values back: an enum as its value, a numpy
array as a (nested) list, a dataclass as a dict of its fields.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import OrderedDict
from pathlib import PurePath
from typing import Any

_PRIMITIVES = (type(None), bool, int, float, complex, str, bytes)


def to_plain(obj: Any, where: str = "checkpoint") -> Any:
    """``obj`` rebuilt from tensors, containers and primitives only.

    Raises ``TypeError`` naming ``where`` (the key path) for anything else, so an
    unsupported value fails at save time instead of producing a file that cannot be opened.
    """
    import numpy as np
    import torch

    if type(obj) in _PRIMITIVES:
        return obj
    if isinstance(obj, enum.Enum):
        return to_plain(obj.value, where)
    if isinstance(obj, (np.generic, np.ndarray)):  # before float: np.float64 subclasses float
        return to_plain(obj.tolist(), where)
    if isinstance(obj, _PRIMITIVES):  # a subclass (e.g. a str subclass) would pickle its class
        return next(t for t in _PRIMITIVES if isinstance(obj, t))(obj)
    if isinstance(obj, torch.Tensor):
        return obj.detach() if type(obj) is not torch.Tensor else obj  # nn.Parameter -> its tensor
    if isinstance(obj, PurePath):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name), f"{where}.{f.name}") for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        items = [(to_plain(k, f"{where} key"), to_plain(v, f"{where}.{k}")) for k, v in obj.items()]
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, tuple):
        return tuple(to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    if isinstance(obj, list):
        return [to_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_plain(v, f"{where}[]") for v in obj), key=repr)
    raise TypeError(f"{where}: a {type(obj).__module__}.{type(obj).__qualname__} cannot be stored in a checkpoint "
                    "(only tensors, containers and plain values)")
