"""The sub-band affine fusion (planner.find_band_affines): TRANSPOSE/RESHAPE -> per-channel 1x1 conv ->
TRANSPOSE/RESHAPE as onnx2tf writes the sub-spectral norm, run as one element-wise kernel.

Op counts before and after the pass, the chains it must not fuse, and bit-exactness with TensorFlow
Lite Micro on every stored layer (tolerance: zero differing int8 elements) on the portable and the
Cortex-M4 library, for a grouped CONV_2D and a DEPTHWISE_CONV_2D chain, with bands small enough to
be computed and large enough (>= 384 pixels) to be tabulated; and the fused kernel as the M4 and M55 compile it,
under QEMU.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_firmware_support import convert, edge_inputs, write
from tinyasc.firmware_sim.build import build_host
from tinyasc.firmware_sim.generator import GeneratorOptions, generate
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.planner import find_band_affines, plan_arena
from tinyasc.firmware_sim.reader import read_tflite
from tinyasc.firmware_sim.target import LibraryTarget

RNG = np.random.default_rng(99)


def _ssn(h: int, w: int, c: int, bands: int, *, depthwise: bool = False, last_perm=(0, 2, 3, 1), fork: bool = False):
    """x [1, h, w, c] -> sub-band affine over (channel, band) -> [1, h, w, c] (+ x, to have a consumer)."""
    import tensorflow as tf

    k = c * bands
    gamma = (1.0 + 0.3 * RNG.normal(size=(k,))).astype(np.float32)
    beta = (0.2 * RNG.normal(size=(k,))).astype(np.float32)

    def net(x):
        t = tf.transpose(x, [0, 3, 1, 2])  # [1, c, h, w]
        t = tf.reshape(t, (1, k, h // bands, w))
        t = tf.transpose(t, [0, 2, 3, 1])  # [1, h/bands, w, k]
        if depthwise:
            t = tf.nn.depthwise_conv2d(t, gamma.reshape(1, 1, k, 1), (1, 1, 1, 1), "VALID") + beta
        else:
            t = tf.nn.conv2d(t, gamma.reshape(1, 1, 1, k), 1, "VALID") + beta  # grouped: one channel per group
        u = tf.transpose(t, [0, 3, 1, 2])
        u = tf.reshape(u, (1, c, h, w))
        u = tf.transpose(u, list(last_perm))
        out = tf.nn.relu(u + x)
        return out + tf.reduce_mean(t) if fork else out

    return net


def _model(tmp_path, name, fn, shape):
    return write(tmp_path / f"{name}.tflite", convert(fn, shape, lo=-2.0, hi=2.0, n_rep=16))


def test_pass_fuses_the_chain_op_counts(tmp_path):
    path = _model(tmp_path, "ssn", _ssn(16, 5, 6, 4), (1, 16, 5, 6))
    g = read_tflite(path)
    counts = {op: sum(o.opcode == op for o in g.operators) for op in ("TRANSPOSE", "RESHAPE", "CONV_2D")}
    assert counts == {"TRANSPOSE": 4, "RESHAPE": 2, "CONV_2D": 1}  # before the pass
    bands = find_band_affines(g)
    assert len(bands) == 1
    (b,) = bands.values()
    assert (b.bands, b.rows, len(b.members)) == (4, 4, 6) and b.conv in b.members
    assert g.operators[b.last].opcode == "TRANSPOSE" and b.source == g.operators[b.members[0]].inputs[0]
    plan = plan_arena(g)
    assert {m: plan.fused[m] for m in b.members} == {m: b.last for m in b.members}
    # after: the six fused ops store nothing; one kernel call replaces seven
    for m in b.members:
        assert g.operators[m].outputs[0] not in plan.offsets
    art = generate(path, tmp_path / "fw", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4))
    c = (art.out_dir / "model.c").read_text()
    assert c.count("tinyasc_opt_band_affine_s8(&") == 1
    assert c.count("tinyasc_transpose_s8(&") == 0 and c.count("conv2d_s8(&") == 0
    assert sum(1 for layer in art.layers if layer.fused_into == b.last) == 6
    # without fusion the layout ops and the conv run as before
    art0 = generate(path, tmp_path / "fw0", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4, fuse=False))
    c0 = (art0.out_dir / "model.c").read_text()
    assert c0.count("tinyasc_transpose_s8(&") == 4 and "band_affine" not in c0


@pytest.mark.parametrize("variant", ["swapped_axes", "forked"])
def test_pass_leaves_other_chains_alone(variant, tmp_path):
    """A final TRANSPOSE that swaps h and w (same shape, not element-wise), or an intermediate read
    by another op, is not fused."""
    fn = _ssn(8, 8, 4, 4, last_perm=(0, 3, 2, 1)) if variant == "swapped_axes" else _ssn(8, 8, 4, 4, fork=True)
    g = read_tflite(_model(tmp_path, variant, fn, (1, 8, 8, 4)))
    assert find_band_affines(g) == {}


CASES = {
    "grouped_small": (dict(h=16, w=5, c=6, bands=4), (1, 16, 5, 6)),
    "depthwise_small": (dict(h=16, w=5, c=6, bands=4, depthwise=True), (1, 16, 5, 6)),
    "grouped_tabulated": (dict(h=64, w=24, c=4, bands=4), (1, 64, 24, 4)),  # 16 x 24 = 384 pixels per band
    # tabulated, four channels at a time (one word per pixel) and two left over
    "grouped_tabulated_c6": (dict(h=64, w=24, c=6, bands=4), (1, 64, 24, 6)),
}


def _bit_exact_on_host(path, shape, backend: str, kernel: str, seed: int, tmp_path) -> None:
    """The library for ``backend`` (portable, or a core's as the host compiles it) calls ``kernel`` and equals TFLite
    Micro on every stored layer, eight edge inputs (zero differing int8 elements)."""
    opts = GeneratorOptions() if backend == "portable" else GeneratorOptions(target=LibraryTarget(backend))
    art = generate(path, tmp_path / "fw", options=opts)
    assert any(k.endswith(kernel) for k in art.kernels), art.kernels
    exe = build_host(art.out_dir, dump=True)
    res = check_parity(art, edge_inputs(shape, 8, seed=seed), debug_layers=True, exe=exe)
    assert res.identical, res.summary() + " " + str([layer for layer in res.layers if layer.differing])


def _bit_exact_on_target(path, shape, target: str, tmp_path):
    """The library asc-firmware --target ships for ``target``, under QEMU, equal to its host build and TFLite Micro on
    two edge inputs (measure_tflite raises ParityError on any differing byte); its latency report."""
    from tinyasc.firmware_sim import harness as L

    golden = L.default_golden(int(np.prod(shape)), n=2, seed=3)
    r = L.measure_tflite(path, target=L.Target(target), out_dir=tmp_path / "lat", golden=golden, sparse=False,
                         frontend=False)
    assert r.parity["equal"] and r.parity["tflm_equal"] and r.parity["mismatched_bytes"] == 0
    return r


@pytest.mark.parametrize("backend", ["portable", "cortex-m4"])
@pytest.mark.parametrize("name", list(CASES))
def test_fused_chain_bit_exact_vs_tflm(name, backend, tmp_path):
    kw, shape = CASES[name]
    _bit_exact_on_host(_model(tmp_path, name, _ssn(**kw), shape), shape, backend, "band_affine_s8", len(name), tmp_path)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", ["grouped_small", "grouped_tabulated_c6"])
def test_fused_chain_bit_exact_on_target(name, target, tmp_path):
    """The fused kernel as the target compiles it (the M55: Helium, four channels per vector, a predicated group of
    two): the library asc-firmware --target ships, under QEMU, equals its host build and TFLite Micro on two edge
    inputs (measure_tflite raises ParityError on any differing byte)."""
    kw, shape = CASES[name]
    r = _bit_exact_on_target(_model(tmp_path, name, _ssn(**kw), shape), shape, target, tmp_path)
    assert any(x.op == "TRANSPOSE" and x.instructions > 100 for x in r.layers)  # the fused chain ran as one layer


# ---------------------------------------------------------------- the sub-band affine fused into its ADD


def _ssn_row(h: int, w: int, c: int, bands: int, *, relu: bool = False, keep_x: bool = False,
             row_first: bool = False, gain: float = 1.0, seed: int = 5):
    """x [1, h, w, c] -> sub-band affine, plus one [1, 1, w, c] row broadcast down h (the mean of x over h: a
    BC-ResBlock's temporal branch added to every frequency row). ``relu``: the ADD clamped (its fused ReLU);
    ``keep_x``: x read again after the ADD (the ADD cannot write over it); ``row_first``: the row is the ADD's first
    input; ``gain``: the affines' scale, the calibration's on the first channels only (> 1: the others' int8 outputs
    saturate at both ends). Its own generator (``seed``): the same model whatever tests ran before."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    k = c * bands
    gamma = (1.0 + 0.3 * rng.normal(size=(k,))).astype(np.float32)
    gamma[k // 2:] *= gain
    beta = (0.2 * rng.normal(size=(k,))).astype(np.float32)

    def net(x):
        t = tf.transpose(x, [0, 3, 1, 2])
        t = tf.reshape(t, (1, k, h // bands, w))
        t = tf.transpose(t, [0, 2, 3, 1])
        t = tf.nn.conv2d(t, gamma.reshape(1, 1, 1, k), 1, "VALID") + beta
        u = tf.transpose(tf.reshape(tf.transpose(t, [0, 3, 1, 2]), (1, c, h, w)), [0, 2, 3, 1])
        row = tf.reduce_mean(x, axis=1, keepdims=True)
        y = row + u if row_first else u + row
        if relu:
            y = tf.nn.relu(y)
        return y + x if keep_x else y

    return net


ROW_CASES = {
    # bands of 20 pixels (the DSP cores' fallback), six channels (Helium: a group of four and a predicated two)
    "row_small": (dict(h=16, w=5, c=6, bands=4), (1, 16, 5, 6)),
    # bands of 384 pixels: the DSP cores' tables and asm, four channels and a tail of two in C
    "row_tabulated_c6": (dict(h=64, w=24, c=6, bands=4), (1, 64, 24, 6)),
    "row_relu": (dict(h=16, w=5, c=6, bands=4, relu=True), (1, 16, 5, 6)),  # a clamped ADD: the unfused kernels
    "row_keep_x": (dict(h=64, w=24, c=4, bands=4, keep_x=True), (1, 64, 24, 4)),  # not in place
    "row_first": (dict(h=64, w=24, c=4, bands=4, row_first=True), (1, 64, 24, 4)),  # the band the ADD's in2
    # half the affines four times steeper: their int8 outputs saturate at both ends before the ADD
    "row_saturating": (dict(h=64, w=24, c=6, bands=4, gain=4.0), (1, 64, 24, 6)),
}


def test_band_add_pass_op_counts(tmp_path):
    """The chain and the ADD it feeds: one kernel call for the seven fused ops and the ADD, the affine's output never
    stored, the ADD written over the chain's input; left alone where the other operand is of the full shape (the
    chain's other test models) or without fusion."""
    from tinyasc.firmware_sim.planner import find_band_adds

    path = _model(tmp_path, "row", _ssn_row(16, 5, 6, 4), (1, 16, 5, 6))
    g = read_tflite(path)
    bands = find_band_affines(g)
    (b,) = bands.values()
    adds = find_band_adds(g, bands)
    assert list(adds.values()) == [b.last] and g.operators[next(iter(adds))].opcode == "ADD"
    (add,) = adds
    plan = plan_arena(g)
    assert plan.band_adds == adds and {m: plan.fused[m] for m in (*b.members, b.last)} == {
        m: add for m in (*b.members, b.last)}
    assert g.operators[b.last].outputs[0] not in plan.offsets  # the affine's output is not stored
    assert plan.aliases[g.operators[add].outputs[0]] == b.source  # the ADD writes over the chain's input
    art = generate(path, tmp_path / "fw", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4))
    c = (art.out_dir / "model.c").read_text()
    assert c.count("tinyasc_opt_band_add_s8(&") == 1 and "band_affine_s8(&" not in c and "add_fast_s8(&" not in c
    assert sum(1 for layer in art.layers if layer.fused_into == add) == 7
    c0 = (generate(path, tmp_path / "fw0", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4, fuse=False))
          .out_dir / "model.c").read_text()
    assert "band_add" not in c0 and "band_affine" not in c0
    same_shape = read_tflite(_model(tmp_path, "ssn", _ssn(16, 5, 6, 4), (1, 16, 5, 6)))
    assert find_band_adds(same_shape, find_band_affines(same_shape)) == {}


@pytest.mark.parametrize("backend", ["portable", "cortex-m4"])
@pytest.mark.parametrize("name", list(ROW_CASES))
def test_band_add_bit_exact_vs_tflm(name, backend, tmp_path):
    """Every stored layer equal to TensorFlow Lite Micro's (zero differing int8 elements) on eight edge inputs, for
    the portable library and a Cortex-M library as the host compiles it (the C path every core's library holds; the
    cores' own loops are the target test's and tests/test_latency_band_add.py's)."""
    kw, shape = ROW_CASES[name]
    _bit_exact_on_host(_model(tmp_path, name, _ssn_row(**kw), shape), shape, backend, "band_add_s8", len(name),
                       tmp_path)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", ["row_small", "row_tabulated_c6", "row_saturating"])
def test_band_add_bit_exact_on_target(name, target, tmp_path):
    """The fused kernel as the target compiles it (the M4: its asm over short bands and, through tables, over bands of
    384 pixels; the M55: Helium for every band, a predicated group of two): under QEMU equal to its host build and to
    TFLite Micro on two edge inputs (measure_tflite raises ParityError on any differing byte). Not in place and the
    band as the ADD's second input: tests/test_latency_band_add.py on every core."""
    kw, shape = ROW_CASES[name]
    r = _bit_exact_on_target(_model(tmp_path, name, _ssn_row(**kw), shape), shape, target, tmp_path)
    assert any(x.op == "ADD" and x.instructions > 100 for x in r.layers)  # the fused chain ran in the ADD's layer


# ---------------------------------------------------------------- an ADD fused into the MAX_POOL_2D that reads it


def _add_pool(h: int, w: int, c: int, *, pool: int = 2, stride: int = 2, padding: str = "VALID",
              fork: bool = False, relu: bool = False, seed: int = 7):
    """x [1, h, w, c] -> ADD(x, 1x1 conv of x) -> MAX_POOL_2D (a residual sum pooled, as the quick model's stages
    end). ``fork``: the sum read again after the pooling (not fusable); ``relu``: the ADD clamped (its fused ReLU)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    k = (0.4 * rng.normal(size=(1, 1, c, c))).astype(np.float32)

    def net(x):
        y = x + tf.nn.conv2d(x, k, 1, "VALID")
        if relu:
            y = tf.nn.relu(y)
        p = tf.nn.max_pool2d(y, pool, stride, padding)
        return p + tf.reduce_mean(y) if fork else p

    return net


ADD_POOL_CASES = {
    "pool_quick_width": (dict(h=16, w=17, c=20), (1, 16, 17, 20)),  # an odd width: its last column never read
    "pool_c6": (dict(h=8, w=8, c=6), (1, 8, 8, 6)),  # a group of four and a predicated two
    "pool3_same": (dict(h=9, w=7, c=4, pool=3, padding="SAME"), (1, 9, 7, 4)),  # windows clipped: no 2 x 2 run
    "pool_add_relu": (dict(h=8, w=6, c=8, relu=True), (1, 8, 6, 8)),
}


def test_add_pool_pass_op_counts(tmp_path):
    """The ADD and the pooling it feeds: one kernel call in a Cortex-M library, the sum never stored, the pooled output
    written over an operand that dies there; the portable library keeps both layers (generator.add_pools_pay); left
    alone where the sum has another reader, or without fusion."""
    from tinyasc.firmware_sim.generator import add_pools_pay
    from tinyasc.firmware_sim.planner import find_add_pools, overlapping_live_tensors

    path = _model(tmp_path, "ap", _add_pool(16, 17, 20), (1, 16, 17, 20))
    g = read_tflite(path)
    counts = {op: sum(o.opcode == op for o in g.operators) for op in ("ADD", "MAX_POOL_2D")}
    assert counts == {"ADD": 1, "MAX_POOL_2D": 1}
    found = find_add_pools(g)
    (pool, add), = found.items()
    assert g.operators[pool].opcode == "MAX_POOL_2D" and g.operators[add].opcode == "ADD"
    plan = plan_arena(g)
    assert plan.add_pools == found and plan.fused[add] == pool
    assert g.operators[add].outputs[0] not in plan.offsets  # the sum is not stored
    assert plan.aliases[g.operators[pool].outputs[0]] in g.operators[add].inputs  # pooled over a dying operand
    assert overlapping_live_tensors(plan) == []
    assert plan_arena(g, fuse_add_pools=False).add_pools == {}
    assert [add_pools_pay(t) for t in LibraryTarget] == [t is not LibraryTarget.PORTABLE for t in LibraryTarget]
    for target in (LibraryTarget.CORTEX_M4, LibraryTarget.CORTEX_M55):
        art = generate(path, tmp_path / f"fw_{target.value}", options=GeneratorOptions(target=target))
        c = (art.out_dir / "model.c").read_text()
        assert c.count("tinyasc_opt_add_max_pool_s8(&") == 1 and "add_fast_s8(&" not in c
        assert "opt_max_pool_s8(&" not in c
        assert [layer.fused_into for layer in art.layers if layer.index == add] == [pool]
    c0 = (generate(path, tmp_path / "fw_portable", options=GeneratorOptions()).out_dir / "model.c").read_text()
    assert "add_max_pool" not in c0 and c0.count("tinyasc_max_pool_s8(&") == 1
    forked = read_tflite(_model(tmp_path, "fork", _add_pool(8, 8, 4, fork=True), (1, 8, 8, 4)))
    assert find_add_pools(forked) == {}


@pytest.mark.parametrize("name", list(ADD_POOL_CASES))
def test_add_pool_bit_exact_vs_tflm(name, tmp_path):
    """Every stored layer of a Cortex-M library as the host compiles it (the fused kernel's scalar C loops) equal to
    TensorFlow Lite Micro's (zero differing int8 elements) on eight edge inputs; the cores' asm and Helium loops under
    QEMU: below and tests/test_latency_add_pool.py."""
    kw, shape = ADD_POOL_CASES[name]
    _bit_exact_on_host(_model(tmp_path, name, _add_pool(**kw), shape), shape, "cortex-m4", "add_max_pool_s8",
                       len(name), tmp_path)


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_add_pool_bit_exact_on_target(target, tmp_path):
    """The fused kernel as the core compiles it (the M4: the rows' whole 2 x 2 windows in asm; the M55: Helium, a
    tail-predicated loop) in a generated library under QEMU equal to its host build and to TFLite Micro on two edge
    inputs (clipped windows and the other parameters on every core: tests/test_latency_add_pool.py)."""
    name = "pool_quick_width"
    kw, shape = ADD_POOL_CASES[name]
    r = _bit_exact_on_target(_model(tmp_path, name, _add_pool(**kw), shape), shape, target, tmp_path)
    assert any(x.op == "MAX_POOL_2D" and x.instructions > 100 for x in r.layers)
    assert all(x.instructions < 20 for x in r.layers if x.op == "ADD")  # the ADD's layer runs nothing
