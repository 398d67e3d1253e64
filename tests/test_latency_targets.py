"""asc-latency end to end on a tiny int8 TFLite model (made here with TensorFlow's converter, with a
tinyasc deployed contract so the library carries the C front end): the library asc-firmware
--target ships -> arm-none-eabi-gcc -> QEMU on each of the three cores, dense and sparse.

measure_tflite raises ParityError unless the target's outputs equal both the host build's and
TFLite Micro's bit for bit (tolerance: zero differing bytes), so every passing case is also a
bit-exactness check of the optimized and sparse kernels inside a whole network.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_firmware_support import convert, write
from tinyasc.firmware_sim import harness as L
from tinyasc.firmware_sim.latency_cli import main as latency_main


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w1 = (rng.normal(size=(3, 3, 1, 8)) * 0.5).astype(np.float32)
    w2 = (rng.normal(size=(1, 1, 8, 16)) * 0.3).astype(np.float32)
    w2[np.abs(w2) < 0.35] = 0  # pruned pointwise conv: the sparse encoding applies
    d1 = (rng.normal(size=(3, 3, 16, 1)) * 0.5).astype(np.float32)

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 2, "SAME"))
        y = tf.nn.conv2d(y, w2, 1, "VALID")
        y = tf.nn.depthwise_conv2d(y, d1, (1, 1, 1, 1), "SAME")
        y = tf.nn.sigmoid(y) * y
        y = y + tf.reduce_mean(y, axis=[1], keepdims=True)
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        return tf.reduce_mean(y, axis=[1, 2])

    from tinyasc.contract import TFLITE_CONTRACT_KEY, DeployedContract, FeatureConfig
    from tinyasc.export._onnx2tf_worker import add_metadata

    path = write(tmp_path_factory.mktemp("tiny") / "tiny.tflite", convert(fn, (1, 32, 24, 1)))
    cfg = FeatureConfig(n_mels=32, clip_seconds=0.69)  # 24 frames
    assert cfg.n_frames == 24
    add_metadata(path, {TFLITE_CONTRACT_KEY: DeployedContract(feature_config=cfg, labels=tuple("abcdefghijklmnop"))
                        .to_json()})
    return path


@pytest.mark.arm
@pytest.mark.slow
@pytest.mark.parametrize("target", list(L.Target), ids=lambda t: t.value)
def test_tiny_model_dense_and_sparse(tiny_model, target, tmp_path):
    golden = L.default_golden(32 * 24, n=2, seed=1)
    dense = L.measure_tflite(tiny_model, target=target, out_dir=tmp_path / "dense", golden=golden, sparse=False)
    sparse = L.measure_tflite(tiny_model, target=target, out_dir=tmp_path / "sparse", golden=golden, sparse=True,
                              frontend=False, check_tflm=False)
    # the C front end (PCM -> int8 features) is measured as its own line, outside the network's total
    assert dense.frontend is not None and dense.frontend["instructions"] > 0 and sparse.frontend is None
    # dense: target == host build == TFLite Micro; sparse: target == the same host build
    assert dense.parity["tflm_equal"]
    for r in (dense, sparse):
        assert r.parity["equal"] and r.parity["inputs"] == 2
        assert r.parity["mismatched_bytes"] == 0
        assert [L.op for L in r.layers][:3] == ["CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D"]
        assert r.total_instructions == sum(x.instructions for x in r.layers) + r.other["instructions"]
        assert r.other["instructions"] < 0.01 * r.total_instructions
        assert abs(sum(x.share for x in r.layers) + r.other["share"] - 1.0) < 1e-9
        assert r.total_latency_ms == pytest.approx(r.total_cycles / (L.SPECS[target].clock_mhz * 1e3))
        assert r.memory.stack_used > 0 and r.memory.ram_bytes >= r.memory.bss + r.memory.stack_used
        assert r.memory.ram_region == "board"
        assert r.note == L.LATENCY_NOTE
    used = [x for x in sparse.build["sparse_layers"] if x["used"]]
    assert [x["layer"] for x in used] == [1]
    if target is L.Target.CORTEX_M55:
        # layer 1 (8 -> 16 channels, 1 x 1, about a quarter dense) goes sparse on Helium only because its planes
        # kernel is estimated faster than the dense pointwise one (sparse.helium_planes_pay): it must be
        assert sparse.layers[1].cycles < dense.layers[1].cycles
    # the sparse weights really leave flash: rodata shrinks by at least the bytes saved
    saved = used[0]["dense_bytes"] - used[0]["sparse_bytes"]
    assert dense.memory.rodata - sparse.memory.rodata >= saved - 8  # 8: alignment padding


@pytest.mark.arm
@pytest.mark.slow
@pytest.mark.parametrize("target", list(L.Target), ids=lambda t: t.value)
def test_pad_on_target(target, tmp_path):
    """PAD's optimized entry (c/opt/tinyasc_opt_pad.c): on Helium each output row written once where the last axis is
    not padded: rows of 60 bytes (3 before, a run of 37, 20 after: whole vectors and predicated ends, in C), rows of 67
    (2 before, a run of 60, 5 after: the asm rows) and rows wholly outside the input; a PAD of the channel axis, and
    every PAD on the DSP cores, the portable kernel. Target == host build == TFLite Micro."""
    import tensorflow as tf

    def fn(x):
        y = tf.pad(x, [[0, 0], [2, 3], [3, 20], [0, 0]])
        y = tf.nn.relu(y - 0.25)
        y = tf.pad(y, [[0, 0], [1, 1], [2, 5], [0, 0]])
        y = tf.nn.relu(y - 0.5)
        return tf.pad(y, [[0, 0], [0, 0], [0, 0], [1, 2]])

    model = write(tmp_path / "pad.tflite", convert(fn, (1, 6, 37, 1)))
    r = L.measure_tflite(model, target=target, out_dir=tmp_path / "m", golden=L.default_golden(6 * 37, n=2, seed=3),
                         sparse=False, frontend=False)
    assert r.parity["equal"] and r.parity["tflm_equal"] and r.parity["mismatched_bytes"] == 0
    assert [x.op for x in r.layers].count("PAD") == 3
    assert (tmp_path / "m" / "library" / "model.c").read_text().count("tinyasc_opt_pad_s8(&l") == 3


@pytest.mark.arm
@pytest.mark.slow
@pytest.mark.parametrize("target", [L.Target.CORTEX_M4, L.Target.CORTEX_M55], ids=lambda t: t.value)
def test_tiny_16x8_model_on_target(target, tmp_path):
    """The same network as 16x8 (int16 activations): target == host build == TFLM (zero differing
    int16 elements), the front end writes the int16 input and runs on the target, and the int16
    arena holds 2-byte activations."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w1 = (rng.normal(size=(3, 3, 1, 8)) * 0.5).astype(np.float32)
    d1 = (rng.normal(size=(3, 3, 8, 1)) * 0.5).astype(np.float32)

    def fn(x):
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 2, "SAME"))
        y = tf.nn.depthwise_conv2d(y, d1, (1, 1, 1, 1), "SAME")
        y = tf.nn.sigmoid(y) * y + y
        return tf.reduce_mean(tf.nn.max_pool2d(y, 2, 2, "VALID"), axis=[1, 2])

    from tinyasc.contract import TFLITE_CONTRACT_KEY, DeployedContract, FeatureConfig
    from tinyasc.export._onnx2tf_worker import add_metadata

    model = write(tmp_path / "tiny16.tflite", convert(fn, (1, 32, 24, 1), int16=True))
    contract = DeployedContract(feature_config=FeatureConfig(n_mels=32, clip_seconds=0.69), labels=tuple("abcdefgh"))
    add_metadata(model, {TFLITE_CONTRACT_KEY: contract.to_json()})
    golden = L.default_golden(32 * 24, n=2, seed=1, dtype=np.int16)
    r = L.measure_tflite(model, target=target, out_dir=tmp_path / "lat", golden=golden)
    assert r.parity["equal"] and r.parity["tflm_equal"] and r.parity["mismatched_bytes"] == 0
    assert r.parity["output_bytes"] == 2 * 8  # eight int16 outputs
    assert r.frontend is not None and r.frontend["instructions"] > 0  # the int16 front end, on the target
    assert [x.op for x in r.layers][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert r.build["arena_bytes"] >= 2 * 16 * 12 * 8  # the first conv's int16 output alone
    assert r.total_instructions > 0 and r.memory.stack_used > 0


@pytest.mark.arm
@pytest.mark.slow
def test_cli_writes_reports(tiny_model, tmp_path, capsys):
    out = tmp_path / "lat"
    rc = latency_main([str(tiny_model), "--target", "cortex-m7", "--clock-mhz", "200", "--out", str(out), "--no-tflm",
                       "--no-frontend"])
    assert rc == 0
    d = json.loads((out / "latency.json").read_text())
    assert d["target"] == "cortex-m7" and d["clock_mhz"] == 200.0
    assert d["total_latency_ms"] == pytest.approx(d["total_cycles"] / 200e3)
    assert d["note"] == "latency estimated from emulated instruction counts"
    md = (out / "latency.md").read_text()
    assert "estimated from emulated instruction counts" in md and "| CPI |" in md
    assert "cortex-m7" in capsys.readouterr().out


def test_cli_bad_input_one_line(tmp_path, capsys):
    rc = latency_main([str(tmp_path / "missing.tflite"), "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.tflite" in err[0]
