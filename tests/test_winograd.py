"""Winograd convolutions (csrc/nn/winograd.c) for the stride-1 3x3 float32 layers.

load_model(conv=...) or, by default, CLIFF_CONV (read when a model is loaded) picks how those
layers run: "auto" (default: Winograd by a fixed rule drawn from measurements, F(4x4,3x3) up to
128 input channels and F(2x2,3x3) above, on maps of at least 16 tiles), "direct", "winograd2"
(F(2x2,3x3) on every eligible layer), "winograd4" (F(4x4,3x3) on every one) or "timed" (auto's
candidates, each timed at load against direct).
The forced modes are checked against the PyTorch reference with the parity bar of
tests/test_model.py (max |d| <= 1e-4 on rotations, relative <= 1e-4 on features), and against
the direct convolutions of the same engine (features within 1e-5 relative).
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cliff  # noqa: E402
from fixtures_nets import make_inputs  # noqa: E402

BACKBONES = ["res50", pytest.param("hr48", marks=pytest.mark.slow)]
# stride-1 3x3 convolutions: ResNet-50's bottleneck conv2 except the first (strided) block of
# layers 2-4; HRNet-W48's basic blocks, stage-1 bottleneck conv2s and the 3x3 head/fuse convs
# that keep the resolution (counted from the layer table, docs/performance.md)
ELIGIBLE = {"res50": 13, "hr48": 217}


def load(ref, monkeypatch, algo):
    monkeypatch.setenv("CLIFF_CONV", algo)
    return cliff.load_model(ref.path)


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def winograd_layers(m):
    return [name for name, kind, impl in m.layers() if impl.startswith("cliff:winograd")]


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("algo,tile", [("winograd2", 2), ("winograd4", 4)])
def test_forced_winograd_meets_the_parity_bar(request, monkeypatch, backbone, algo, tile):
    ref = request.getfixturevalue("ref_" + backbone)
    inp = make_inputs(3, seed=3)
    want = ref.outputs(inp["crops"], inp["boxes"], inp["img_size"])
    with load(ref, monkeypatch, algo) as m:
        layers = winograd_layers(m)
        assert len(layers) == ELIGIBLE[backbone]
        assert all(impl.startswith(f"cliff:winograd_f{tile}x{tile}") for _, _, impl in m.layers()
                   if impl.startswith("cliff:winograd"))
        out = m.predict(inp["crops"], inp["boxes"], inp["img_size"])
    assert np.abs(out["rotmat"] - want["rotmat"]).max() <= 1e-4
    assert rel(out["features"], want["features"]) <= 1e-4


@pytest.mark.parametrize("algo", ["winograd2", "winograd4", "auto", "timed"])
def test_winograd_agrees_with_direct(ref_res50, monkeypatch, algo):
    """Same engine, same weights: only the 3x3 algorithm differs, batch 1 and a batch of 5
    (the batch-5 plan is built separately)."""
    inp = make_inputs(5, seed=11)
    with load(ref_res50, monkeypatch, "direct") as d, load(ref_res50, monkeypatch, algo) as w:
        assert winograd_layers(d) == []
        for sl in (slice(0, 1), slice(0, 5)):
            a, b = d.features(inp["crops"][sl]), w.features(inp["crops"][sl])
            assert rel(b, a) <= 1e-5, sl


def test_residual_and_relu_post_ops_are_applied(ref_res50, monkeypatch):
    """Every Winograd layer of ResNet-50 is a bottleneck conv2 (bias + ReLU after it); the
    agreement above would fail if the ReLU were dropped, and the residual-add path is the
    HRNet basic block's conv2 (covered by the hr48 parity case)."""
    with load(ref_res50, monkeypatch, "winograd2") as m:
        assert all(name.endswith("conv2") for name in winograd_layers(m))


def test_direct_mode_runs_no_winograd_layer(ref_res50, monkeypatch):
    with load(ref_res50, monkeypatch, "direct") as m:
        assert winograd_layers(m) == []


def test_unknown_mode_is_a_value_error(ref_res50, monkeypatch):
    with pytest.raises(ValueError, match="CLIFF_CONV"):
        load(ref_res50, monkeypatch, "fastest")


def test_conv_argument_overrides_the_environment(ref_res50, monkeypatch):
    """load_model(conv=...) is cliff_net_params.conv; None (the default) reads CLIFF_CONV."""
    monkeypatch.setenv("CLIFF_CONV", "direct")
    with cliff.load_model(ref_res50.path, conv="winograd2") as m:
        assert len(winograd_layers(m)) == ELIGIBLE["res50"]
    with cliff.load_model(ref_res50.path) as m:
        assert winograd_layers(m) == []


def test_unknown_conv_argument_is_a_value_error(ref_res50):
    with pytest.raises(ValueError, match="conv"):
        cliff.load_model(ref_res50.path, conv="fastest")


def test_auto_is_the_same_in_every_load(ref_res50, monkeypatch):
    """"auto" is a fixed rule, not a timing: two loads choose the same layers and give the same
    bits (distributed runs rely on every process computing the same results)."""
    inp = make_inputs(2, seed=4)
    with load(ref_res50, monkeypatch, "auto") as a, load(ref_res50, monkeypatch, "auto") as b:
        assert [l[2] for l in a.layers()] == [l[2] for l in b.layers()]
        assert len(winograd_layers(a)) == 11  # the 13 eligible less the two on 8x6 maps
        np.testing.assert_array_equal(a.features(inp["crops"]), b.features(inp["crops"]))


# ---- the kernels of every instruction set ----------------------------------------------------

def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            return set(next(line for line in f if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return set()


def _isas() -> list:
    flags = _cpu_flags()
    out = [pytest.param("sse2")]
    out.append(pytest.param("avx2", marks=pytest.mark.skipif(
        not {"avx2", "fma"} <= flags, reason="this CPU has no AVX2/FMA")))
    out.append(pytest.param("avx512", marks=pytest.mark.skipif(
        "avx512f" not in flags, reason="this CPU has no AVX-512")))
    return out


def test_every_kernel_path_matches_a_double_precision_convolution(c_program):
    """tests/c/winograd_layer.c: the Winograd layers alone, for every instruction set this CPU
    runs (CLIFF_WINOGRAD_ISA), both tiles, output channel counts that take each register
    blocking of the products (16, 48 = HRNet's 4 x 3 blocks, 64, 80 = 8 x 2 plus a last 8 x 1,
    96), partial tiles, batch 1 and 3, the post-ops ReLU, sum and residual add, and a layer large
    enough for the prefetching path, against a direct convolution in double precision (relative
    1e-5 for F(2x2), 5e-5 for F(4x4)); an unknown CLIFF_WINOGRAD_ISA is refused."""
    c_program("winograd_layer.c", ["csrc/nn/winograd.c", "csrc/common.c"], opt="-O2")


@pytest.mark.parametrize("isa", _isas())
def test_each_instruction_set_meets_the_parity_bar(ref_res50, monkeypatch, isa):
    """CLIFF_WINOGRAD_ISA caps the kernels' instruction set (read when a layer is created), so
    the AVX2 and baseline kernels run on a CPU that has more: each meets the PyTorch parity bar
    on the whole network with F(4x4) forced, and names itself in layers()."""
    inp = make_inputs(2, seed=5)
    want = ref_res50.outputs(inp["crops"], inp["boxes"], inp["img_size"])
    monkeypatch.setenv("CLIFF_WINOGRAD_ISA", isa)
    with load(ref_res50, monkeypatch, "winograd4") as m:
        impls = [impl for _, _, impl in m.layers() if impl.startswith("cliff:winograd")]
        assert len(impls) == ELIGIBLE["res50"] and all(i.endswith(":" + isa) for i in impls)
        out = m.predict(inp["crops"], inp["boxes"], inp["img_size"])
    assert np.abs(out["rotmat"] - want["rotmat"]).max() <= 1e-4
    assert rel(out["features"], want["features"]) <= 1e-4


def test_unknown_instruction_set_is_a_value_error(ref_res50, monkeypatch):
    monkeypatch.setenv("CLIFF_WINOGRAD_ISA", "avx1024")
    with pytest.raises(ValueError, match="CLIFF_WINOGRAD_ISA"):
        load(ref_res50, monkeypatch, "winograd2")
