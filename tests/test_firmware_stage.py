"""The in-place 1x1 layers' stage in the arena (planner.plan_arena's ``stages``): the largest region of the arena no
live tensor holds at the layer, passed to the in-place kernel as its staging buffer when it is larger than the
kernels' own 2 KB, so the layer's pixels go through in fewer chunks (one where the region holds the whole output).

The region never overlaps a tensor live at that step and never grows the arena; the generated call passes it (or
NULL where the region is too small); the library is bit-exact with TensorFlow Lite Micro on every layer (tolerance:
zero differing int8 elements) with dense and sparse 1x1 weights, on the host (portable and Cortex-M4 libraries)
and under QEMU for the M4 and M55.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_firmware_support import convert, edge_inputs, write
from tinyasc.firmware_sim.build import build_host
from tinyasc.firmware_sim.generator import GeneratorOptions, generate
from tinyasc.firmware_sim.parity import check_parity
from tinyasc.firmware_sim.planner import STAGE_MIN, overlapping_live_tensors, plan_arena, pointwise_conv_in_place_ok
from tinyasc.firmware_sim.reader import read_tflite
from tinyasc.firmware_sim.target import LibraryTarget

RNG = np.random.default_rng(5)


def _net(sparse: bool):
    """x [1, h, w, 1] -> 3x3 conv to 40 channels -> 1x1 conv 40 -> 24 with ReLU (in place: the 40-channel tensor dies
    there; not a multiple of 16, so Helium's in-place kernel leaves it to the chunk loop) -> 1x1 conv 24 -> 48 (in
    place, growing: the arena's peak, which leaves 8 bytes per pixel free at the first 1x1) -> + 1 (a consumer, so no
    1x1 output is the graph output)."""
    import tensorflow as tf

    w1 = (RNG.normal(size=(3, 3, 1, 40)) * 0.5).astype(np.float32)
    w2 = (RNG.normal(size=(1, 1, 40, 24)) * 0.4).astype(np.float32)
    w3 = (RNG.normal(size=(1, 1, 24, 48)) * 0.3).astype(np.float32)
    if sparse:  # 89% zeros: the Cortex-M library stores it sparse (the sparse in-place kernel)
        w2 *= RNG.random(size=w2.shape) < 0.11
        w2[0, 0, 0, :] += 0.3  # a non-zero in every output channel
    return lambda x: tf.nn.conv2d(tf.nn.relu(tf.nn.conv2d(tf.nn.conv2d(x, w1, 1, "SAME"), w2, 1, "SAME")), w3, 1,
                                  "SAME") + 1.0


def _model(tmp_path, name, shape, sparse=False):
    return write(tmp_path / f"{name}.tflite", convert(_net(sparse), shape, lo=-1.0, hi=1.0, n_rep=8))


def _in_place_1x1(graph, plan):
    """The in-place 1x1 layers: the 40 -> 24 and the 24 -> 48 one."""
    ops = [op.index for op in graph.operators if op.outputs and plan.aliases.get(op.outputs[0]) == op.inputs[0]
           and pointwise_conv_in_place_ok(graph, op)]
    assert len(ops) == 2, ops
    return ops


def test_stage_is_free_arena_and_the_call_passes_it(tmp_path):
    shape = (1, 20, 16, 1)  # 320 pixels: 2,560 bytes free at the first 1x1 (8 per pixel), above the kernels' own 2 KB
    path = _model(tmp_path, "big", shape)
    g = read_tflite(path)
    plan = plan_arena(g)
    op, grows = _in_place_1x1(g, plan)
    assert list(plan.stages) == [op]  # the growing one fills the arena: nothing free there
    sid = plan.stages[op]
    off, size = plan.offsets[sid], plan.sizes[sid]
    out = g.tensors[g.operators[op].outputs[0]]
    assert STAGE_MIN < size == 8 * 320 < out.nbytes and off + size <= plan.arena_size and off % plan.alignment == 0
    assert plan.lifetimes[sid] == (op, op)
    assert overlapping_live_tensors(plan) == []  # the stage against every tensor live at the layer
    for t, (first, last) in plan.lifetimes.items():  # the same, written out for the in-place buffer itself
        if t != sid and first <= op <= last:
            assert off + size <= plan.offsets[t] or plan.offsets[t] + plan.sizes[t] <= off, t
    # the no-reuse sum the report compares with counts tensors, not the stage
    assert plan.naive_size == sum(-(-plan.sizes[t] // plan.alignment) * plan.alignment for t in plan.sizes if t != sid)
    # the arena holds every buffer and no more (the stage is carved from what the plan leaves free)
    assert plan.arena_size == -(-max(b.offset + b.size for b in plan.buffers) // plan.alignment) * plan.alignment
    art = generate(path, tmp_path / "fw", options=GeneratorOptions(target=LibraryTarget.CORTEX_M4))
    c = (art.out_dir / "model.c").read_text()
    # (the rows kernel's in-place entry, or on the M4 the row pairs' one: generator.conv_pairs_ok)
    assert any(f"_inplace{v}_s8(&l{op}_p, &l{op}_w, (arena + " in c for v in ("", "_pairs"))
    assert f", (arena + {off}), {size});" in c
    assert art.arena_size == plan.arena_size


def test_no_stage_below_the_kernels_own(tmp_path):
    shape = (1, 8, 6, 1)  # 48 pixels: 384 bytes free at the first 1x1
    path = _model(tmp_path, "small", shape)
    g = read_tflite(path)
    plan = plan_arena(g)
    op, _ = _in_place_1x1(g, plan)
    assert plan.stages == {}
    c = (generate(path, tmp_path / "fw", options=GeneratorOptions()).out_dir / "model.c").read_text()
    assert c.count(", NULL, 0);") == 2 and f"conv2d_1x1_inplace_s8(&l{op}_p, &l{op}_w, (arena + " in c


@pytest.mark.parametrize("backend", ["portable", "cortex-m4"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_staged_layer_bit_exact_vs_tflm(backend, sparse, tmp_path):
    shape = (1, 23, 17, 1)  # 391 pixels: 3,128 bytes free at the first 1x1, its 9,384 in three chunks of the stage
    path = _model(tmp_path, "net", shape, sparse)
    opts = GeneratorOptions() if backend == "portable" else GeneratorOptions(target=LibraryTarget.CORTEX_M4,
                                                                             sparse_weights=True)
    art = generate(path, tmp_path / "fw", options=opts)
    c = (art.out_dir / "model.c").read_text()
    assert c.count(", NULL, 0);") == 1  # the first 1x1 got its stage
    if backend != "portable":
        assert ("tinyasc_sparse_conv2d_1x1_inplace_s8(" in c) == sparse
    exe = build_host(art.out_dir, dump=True)
    res = check_parity(art, edge_inputs(shape, 6, seed=9), debug_layers=True, exe=exe)
    assert res.identical, res.summary() + " " + str([layer for layer in res.layers if layer.differing])


@pytest.mark.arm
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_staged_layer_bit_exact_on_target(target, tmp_path):
    """The library as the target compiles it, sparse 1x1 weights on the M4 (the sparse in-place kernel) and dense on
    the M55 (its chunk loop around the pointwise pairs), under QEMU: equal to its host build and TFLite Micro."""
    from tinyasc.firmware_sim import harness as L

    shape = (1, 23, 17, 1)
    path = _model(tmp_path, "net", shape, sparse=target == "cortex-m4")
    golden = L.default_golden(int(np.prod(shape)), n=2, seed=4)
    r = L.measure_tflite(path, target=L.Target(target), out_dir=tmp_path / "lat", golden=golden,
                         sparse=target == "cortex-m4", frontend=False)
    assert r.parity["equal"] and r.parity["tflm_equal"] and r.parity["mismatched_bytes"] == 0
