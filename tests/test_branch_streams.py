"""HRNet's parallel branches as concurrent thread groups ("branch streams", docs/performance.md).

Inside each HighResolutionModule the branches' BasicBlocks are independent until the fuse
layers. With CLIFF_BRANCH_STREAMS=on and T >= 2 threads, an unsplit chunk runs the last
min(T, branches) branches of each module at once, each on a group of about T/G threads with its
own oneDNN stream, scratchpad and Winograd buffer (the others before them on all T threads).
Every layer computes the same primitive on the same inputs, and neither oneDNN's kernels nor
our Winograd layers change their sums with the thread count (tests/test_streams.py), so the
features must equal the sequential run's bit for bit. The auto rule is off (it did not pay on
2 threads, measured by benchmarks/bench_streams.py --branch-streams).
"""
from __future__ import annotations

import numpy as np
import pytest

import cliff
from cliff._standin import random_state_dict

STATE = {}


def load(backbone, monkeypatch, mode, threads=2, precision="fp32"):
    """A stand-in model (random weights, the released shapes) with CLIFF_BRANCH_STREAMS=mode."""
    if backbone not in STATE:
        STATE[backbone] = random_state_dict(backbone, seed=11)
    monkeypatch.setenv("CLIFF_BRANCH_STREAMS", mode)
    return cliff.Model.from_state_dict(dict(STATE[backbone]), backbone, precision, threads=threads)


def crops(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, 256, 192)).astype(np.float32)


@pytest.fixture(scope="module")
def hr48_pair():
    """The same HR48 weights loaded with branch streams off and on, both on 2 threads."""
    with pytest.MonkeyPatch.context() as mp:
        off = load("hr48", mp, "off")
        on = load("hr48", mp, "on")
    with off, on:
        yield off, on


@pytest.mark.parametrize("n", [1, 2])
def test_hr48_features_are_bit_identical(hr48_pair, n):
    """2 threads: stage 2 runs both branches at once, stages 3-4 their last two (one thread each)."""
    off, on = hr48_pair
    assert on.branch_streams(n) and not off.branch_streams(n)
    x = crops(n, seed=n)
    np.testing.assert_array_equal(on.features(x), off.features(x))


@pytest.mark.parametrize("threads", [3, 4])
def test_uneven_and_one_branch_per_group(hr48_pair, threads):
    """3 threads: groups of 2 + 1 threads (stage 2) and three one-thread groups; 4 threads:
    every branch of stage 4 in a group of its own. The plans are made for the new count."""
    off, on = hr48_pair
    try:
        off.threads = on.threads = threads
        x = crops(1, seed=threads)
        np.testing.assert_array_equal(on.features(x), off.features(x))
    finally:
        off.threads = on.threads = 2


def test_hr48_predictions_are_bit_identical(hr48_pair):
    off, on = hr48_pair
    x = crops(2, seed=7)
    boxes = np.array([[640.0, 360.0, 300.0], [500.0, 300.0, 180.0]])
    a = off.predict(x, boxes, (1280, 720))
    b = on.predict(x, boxes, (1280, 720))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(b[k], a[k], err_msg=k)


def test_when_branch_streams_apply(hr48_pair):
    """Only from 2 threads, and not for a chunk the batch split (streams) already divides."""
    _, on = hr48_pair
    try:
        on.threads = 1
        assert not on.branch_streams(1)
        on.threads = 2
        assert on.branch_streams(2)
        assert on.stream_groups(4) == 2 and not on.branch_streams(4)
    finally:
        on.threads = 2


def test_auto_is_off(monkeypatch):
    """The default (auto) rule does not use branch streams: measured, it did not pay on 2 threads."""
    with load("hr48", monkeypatch, "auto") as m:
        assert not m.branch_streams(1) and not m.branch_streams(2)


def test_res50_has_no_branches(monkeypatch):
    """A network without branch segments ignores the setting: same plan, same bits."""
    with load("res50", monkeypatch, "on") as on, load("res50", monkeypatch, "off") as off:
        assert not on.branch_streams(1)
        x = crops(1, seed=3)
        np.testing.assert_array_equal(on.features(x), off.features(x))


@pytest.mark.parametrize("value", ["yes", "2", "ON"])
def test_bad_environment_value_is_rejected(monkeypatch, value):
    monkeypatch.setenv("CLIFF_BRANCH_STREAMS", value)
    if "res50" not in STATE:
        STATE["res50"] = random_state_dict("res50", seed=11)
    with pytest.raises(ValueError, match="CLIFF_BRANCH_STREAMS"):
        cliff.Model.from_state_dict(dict(STATE["res50"]), "res50", "fp32", threads=2)


@pytest.mark.slow
def test_hr48_bf16_is_bit_identical(monkeypatch):
    try:
        off = load("hr48", monkeypatch, "off", precision="bf16")
    except ValueError as e:  # a CPU without AVX-512
        pytest.skip(str(e))
    with off, load("hr48", monkeypatch, "on", precision="bf16") as on:
        x = crops(2, seed=5)
        np.testing.assert_array_equal(on.features(x), off.features(x))


@pytest.mark.slow
def test_hrnet720_trunk_is_bit_identical(monkeypatch):
    """The BEDLAM 720-channel trunk shares the HRNet modules, so it gets branch plans too."""
    from cliff import _core
    sd = random_state_dict("hr48_720", seed=5)
    names = list(sd)
    x = np.random.default_rng(4).standard_normal((1, 3, 224, 224)).astype(np.float32)
    out = {}
    for mode in ("off", "on"):
        monkeypatch.setenv("CLIFF_BRANCH_STREAMS", mode)
        net = _core.Model("hr48_720", "fp32", names, [sd[k] for k in names], False)
        net.threads = 2
        assert net.branch_streams(1) == (mode == "on")
        out[mode] = net.features(x)
    np.testing.assert_array_equal(out["on"], out["off"])
