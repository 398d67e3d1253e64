"""Read a ``.tflite`` for the generator: the package's validating reader, one subgraph only."""

from __future__ import annotations

from pathlib import Path

from tinyasc.errors import InputError
from tinyasc.firmware_sim.graph import Graph
from tinyasc.tflite_io import read_model


def read_tflite(path: str | Path) -> Graph:
    """Read and validate ``path`` (:func:`tinyasc.tflite_io.read_model`); refuse multi-subgraph models."""
    graph = read_model(path)
    if graph.subgraphs != 1:
        raise InputError(path, f"expected 1 subgraph, found {graph.subgraphs}")
    return graph
