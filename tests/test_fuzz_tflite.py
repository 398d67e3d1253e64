"""Seeded fuzzing of model files: damaged ``.tflite`` bytes through the reader, the auditor, the
generator and ``asc-firmware``.

Property: every mutated file gives a result or exactly one :class:`InputError` (one line, exit 2
for the CLI); never another exception, a hang (:data:`TIMEOUT_S` per file), a compiler error, or
an output directory left half-written (after an error it is absent or empty; after success it
holds the complete library and, for the CLI, a host build). Bounded to seconds in CI; set
``TINYASC_FUZZ_EXAMPLES=N`` for a longer campaign (``--hypothesis-show-statistics`` lists the
outcome of every example as events).
"""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fuzz_support import time_limit
from test_tflite_io_support import tiny_model_bytes
from tinyasc.audit import audit
from tinyasc.errors import InputError
from tinyasc.firmware_sim.generator import GeneratorOptions, generate
from tinyasc.tflite_io import parse_model

EXAMPLES = int(os.environ.get("TINYASC_FUZZ_EXAMPLES", "30"))
"""Mutations per in-process property (the CLI property runs a fifth of them, each builds C)."""
TIMEOUT_S = 60
"""A file that takes longer than this through any one consumer counts as a hang."""
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    """The seed: a small valid int8 model (conv, depthwise, MUL, ADD, MEAN, FULLY_CONNECTED, SOFTMAX)."""
    data = tiny_model_bytes()
    parse_model(data)  # the seed itself is valid
    return data


def _field_offsets(data: bytes) -> dict[str, list[tuple[int, int]]]:
    """Byte positions of the fields the semantic mutations aim at: (offset, tensor index)."""
    import tflite

    model = parse_model(data)
    base = np.frombuffer(data, np.uint8).ctypes.data
    sub = tflite.Model.GetRootAs(data, 0).Subgraphs(0)
    shapes = []
    for i in range(sub.TensorsLength()):
        s = sub.Tensors(i).ShapeAsNumpy()
        if isinstance(s, np.ndarray) and s.size:
            shapes.extend((s.ctypes.data - base + 4 * k, i) for k in range(s.size))
    scales = [(t.scale_offset + 4 * k, t.index) for t in model.tensors for k in range(len(t.scale))]
    zps = [(t.zero_point_offset + 8 * k, t.index) for t in model.tensors if t.zero_point_offset >= 0
           for k in range(len(t.zero_point))]
    return {"shape": shapes, "scale": scales, "zero_point": zps}


BAD_SCALES = (0.0, -0.05, math.nan, math.inf, 1e-30, 1e30, 3.4e38)
BAD_ZERO_POINTS = (-129, 128, 200, -40000, 1 << 40, -(1 << 62))
BAD_DIMS = (-1, 0, 2, 3, 7, 1000, 1 << 30)


@st.composite
def mutations(draw, data: bytes) -> tuple[str, bytes]:
    """(class of damage, mutated bytes)."""
    kind = draw(st.sampled_from(["bytes", "truncate", "uint32", "scale", "zero_point", "shape"]))
    b = bytearray(data)
    if kind == "bytes":
        for _ in range(draw(st.integers(1, 8))):
            b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
    elif kind == "truncate":
        b = b[: draw(st.integers(0, len(b) - 1))]
    elif kind == "uint32":
        pos = 4 * draw(st.integers(0, len(b) // 4 - 1))
        value = draw(st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, len(b), len(b) - 4])
                     | st.integers(0, 0xFFFFFFFF))
        struct.pack_into("<I", b, pos, value)
    else:
        offsets = _field_offsets(data)[kind]
        pos, _ = draw(st.sampled_from(offsets))
        if kind == "scale":
            struct.pack_into("<f", b, pos, draw(st.sampled_from(BAD_SCALES)))
        elif kind == "zero_point":
            struct.pack_into("<q", b, pos, draw(st.sampled_from(BAD_ZERO_POINTS)))
        else:
            struct.pack_into("<i", b, pos, draw(st.sampled_from(BAD_DIMS)))
    return kind, bytes(b)


def _outcome(err: InputError) -> str:
    """The violated rule (``[name]`` at the end of a validation message), or the kind of corruption."""
    problem = err.problem
    if problem.endswith("]") and "[" in problem:
        return problem[problem.rindex("[") + 1 : -1]
    return problem.split("(")[0].strip()[:40]


def _one_line(err: InputError, path: Path) -> None:
    msg = str(err)
    assert "\n" not in msg and msg.startswith(str(path)), msg


def _complete_or_absent(out: Path, ok: bool) -> None:
    if ok:
        assert (out / "model.c").is_file() and (out / "model.h").is_file()
    else:
        assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def _consume(path: Path, out: Path) -> None:
    """Reader, auditor and generator on one file: a result or one InputError each."""
    for name, fn in (("read", lambda: parse_model(path.read_bytes(), path)),
                     ("audit", lambda: audit(path)),
                     ("generate", lambda: generate(path, out, options=GeneratorOptions(measure_tflm_arena=False)))):
        try:
            with time_limit(TIMEOUT_S):
                fn()
        except InputError as err:
            _one_line(err, path)
            event(f"{name}: InputError ({_outcome(err)})")
            if name == "generate":
                _complete_or_absent(out, ok=False)
        else:
            event(f"{name}: result")
            if name == "generate":
                _complete_or_absent(out, ok=True)


@FUZZ_SETTINGS
@given(data=st.data())
def test_damaged_models_give_a_result_or_one_input_error(model_bytes, tmp_path_factory, data):
    kind, mutated = data.draw(mutations(model_bytes), label="mutation")
    event(f"damage: {kind}")
    work = tmp_path_factory.mktemp("fuzz")
    path = work / "m.tflite"
    path.write_bytes(mutated)
    _consume(path, work / "out")


@settings(FUZZ_SETTINGS, max_examples=max(3, EXAMPLES // 5))
@given(data=st.data())
def test_asc_firmware_cli_on_damaged_models(model_bytes, tmp_path_factory, data):
    """``asc-firmware FILE --out DIR`` (generate + host build): exit 0 with a built library, or exit 2
    with one line on stderr and no half-written directory; never a traceback or compiler error."""
    kind, mutated = data.draw(mutations(model_bytes), label="mutation")
    work = tmp_path_factory.mktemp("fuzzcli")
    path, out = work / "m.tflite", work / "out"
    path.write_bytes(mutated)
    proc = subprocess.run([sys.executable, "-c", "import sys; from tinyasc.firmware_sim.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", str(path), "--out", str(out), "--no-tflm-arena"],
                          capture_output=True, text=True, timeout=4 * TIMEOUT_S,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    event(f"cli {kind}: exit {proc.returncode}")
    if proc.returncode == 2:
        event("cli: " + _outcome(InputError(path, proc.stderr.strip().splitlines()[-1].split(f"{path}: ", 1)[-1])))
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if proc.returncode == 2:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and str(path) in errors[0], proc.stderr
        _complete_or_absent(out, ok=False)
    else:
        _complete_or_absent(out, ok=True)
        assert (out / "build" / "tinyasc_host").is_file()


# --------------------------------------------------------------------------- regressions (issue #18)


def _tensor_of(data: bytes, opcode: str, input_pos: int):
    m = parse_model(data)
    op = next(o for o in m.operators if o.opcode == opcode)
    return m.tensors[op.inputs[input_pos]]


def test_wrong_rank_conv_weight_is_an_input_error_before_any_c(model_bytes, tmp_path):
    """The fuzz campaign's ``ValueError: not enough values to unpack`` from ``emit_conv``."""
    w = _tensor_of(model_bytes, "CONV_2D", 1)
    shape_pos = [p for p, i in _field_offsets(model_bytes)["shape"] if i == w.index]
    b = bytearray(model_bytes)
    # rank 4 -> rank 3 with the same element count: (4, 3, 3, 2) read as (4, 3, 6)
    struct.pack_into("<I", b, shape_pos[0] - 4, 3)
    struct.pack_into("<i", b, shape_pos[2], 6)
    path = tmp_path / "rank3.tflite"
    path.write_bytes(bytes(b))
    with pytest.raises(InputError, match=r"operator 0 \(CONV_2D\): filter .* has rank 3, need 4"):
        generate(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scale", [1e-30, -0.003])
def test_unrepresentable_requant_multiplier_is_refused_before_any_c(model_bytes, tmp_path, scale):
    """The campaign's -3,120,562,176 multiplier: an output scale that makes ``s_in * s_w / s_out``
    need a left shift past 30 (or negative) is refused before a file is written."""
    y = parse_model(model_bytes).tensors[parse_model(model_bytes).operators[0].outputs[0]]
    b = bytearray(model_bytes)
    struct.pack_into("<f", b, y.scale_offset, scale)
    path = tmp_path / "mult.tflite"
    path.write_bytes(bytes(b))
    with pytest.raises(InputError, match=r"\[(requant_multipliers|quantization)\]"):
        generate(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
