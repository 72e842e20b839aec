"""Batch split across thread groups ("streams", docs/performance.md).

A chunk of n crops run with T threads may run as G groups (G <= min(n, T)), each a plan of about
n/G crops on its own arena and oneDNN stream with about T/G threads, all at once. Every crop's
computation is independent of the others in the batch and of the thread count (oneDNN's direct
convolutions and our Winograd layers split work across images and output blocks, never a
reduction), so the split must give the unsplit call's bits exactly. load_model(streams=...)
chooses: 'auto' (default, via CLIFF_STREAMS), 'off', or k groups.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

import cliff
from cliff._standin import random_state_dict

STATE = None


def res50(streams, threads=2, precision="fp32"):
    """A stand-in Res50 (random weights, the released layer shapes) with its own thread count."""
    global STATE
    if STATE is None:
        STATE = random_state_dict("res50", seed=5)
    return cliff.Model.from_state_dict(dict(STATE), "res50", precision, threads=threads, streams=streams)


def crops(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 256, 192)).astype(np.float32)


@pytest.fixture(scope="module")
def pair():
    """The same weights loaded twice: without streams and with 2 groups, both on 2 threads."""
    with res50("off") as off, res50(2) as split:
        yield off, split


@pytest.mark.parametrize("n", [2, 3, 8, 11])
def test_split_features_are_bit_identical(pair, n):
    """n = 2 (1 + 1), 3 (2 + 1: uneven groups), 8 (4 + 4), 11 (chunks of 8 and 3, each split)."""
    off, split = pair
    assert split.stream_groups(n) == 2 and off.stream_groups(n) == 1
    x = crops(n, seed=n)
    np.testing.assert_array_equal(split.features(x), off.features(x))


def test_split_predictions_are_bit_identical(pair):
    off, split = pair
    x = crops(5, seed=7)
    rng = np.random.default_rng(7)
    boxes = np.stack([rng.uniform(300, 900, 5), rng.uniform(200, 500, 5), rng.uniform(150, 400, 5)], 1)
    a = off.predict(x, boxes, (1280, 720))
    b = split.predict(x, boxes, (1280, 720))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(b[k], a[k], err_msg=k)


def test_uint8_crops_are_bit_identical(pair):
    """uint8 NHWC crops are normalised while written into each group's input."""
    off, split = pair
    x = np.random.default_rng(3).integers(0, 256, (4, 256, 192, 3), dtype=np.uint8)
    np.testing.assert_array_equal(split.features(x), off.features(x))


def test_bf16_split_is_bit_identical():
    try:
        off, split = res50("off", precision="bf16"), res50(2, precision="bf16")
    except ValueError as e:  # a CPU without AVX-512
        pytest.skip(str(e))
    with off, split:
        x = crops(4, seed=9)
        np.testing.assert_array_equal(split.features(x), off.features(x))


def test_groups_follow_the_request_the_batch_and_the_threads():
    """k groups at most; never more groups than crops or threads; one crop runs unsplit."""
    with res50(8, threads=3) as m:
        assert [m.stream_groups(n) for n in (1, 2, 3, 8, 20)] == [1, 2, 3, 3, 3]
        m.threads = 1
        assert m.stream_groups(8) == 1
    with res50(2, threads=4) as m:
        assert m.stream_groups(8) == 2


def test_auto_rule_is_fixed_by_the_batch_and_the_threads():
    """auto: min(crops / 2, threads) groups, each with >= 2 crops; one team for fewer than 4
    crops or one thread (docs/performance.md, "Streams")."""
    with res50("auto", threads=1) as m:
        assert m.stream_groups(8) == 1
        m.threads = 2
        assert [m.stream_groups(n) for n in (2, 3, 4, 8)] == [1, 1, 2, 2]
        m.threads = 4
        assert [m.stream_groups(n) for n in (3, 5, 8)] == [1, 2, 4]
        m.threads = 16
        assert [m.stream_groups(n) for n in (1, 7, 8, 20)] == [1, 3, 4, 4]


def test_groups_of_several_threads_are_bit_identical(pair):
    """4 threads as 2 groups of 2 (each group an OpenMP team of its own), on any machine."""
    off, _ = pair
    with res50(2, threads=4) as split:
        assert split.stream_groups(6) == 2
        x = crops(6, seed=13)
        np.testing.assert_array_equal(split.features(x), off.features(x))


def test_off_never_splits():
    with res50("off", threads=8) as m:
        assert m.stream_groups(8) == 1


def test_environment_is_read_at_load_and_the_argument_wins(monkeypatch):
    monkeypatch.setenv("CLIFF_STREAMS", "2")
    with res50(None) as m:
        assert m.stream_groups(8) == 2
    with res50("off") as m:
        assert m.stream_groups(8) == 1
    monkeypatch.setenv("CLIFF_STREAMS", "off")
    with res50(None, threads=8) as m:
        assert m.stream_groups(8) == 1


@pytest.mark.parametrize("value", ["fast", "9", "-2", "2.5", "2x"])
def test_bad_environment_value_is_a_value_error(monkeypatch, value):
    monkeypatch.setenv("CLIFF_STREAMS", value)
    with pytest.raises(ValueError, match="CLIFF_STREAMS"):
        res50(None)


@pytest.mark.parametrize("value", ["fast", 0, 9, -1, True, 2.0])
def test_bad_streams_argument_is_a_value_error(value):
    with pytest.raises(ValueError, match="streams"):
        res50(value)


def test_estimator_passes_streams_to_load_model(standin_res50):
    ckpt, smpl, _ = standin_res50
    est = cliff.Estimator(ckpt, smpl, streams=2, threads=2)
    assert est.model.stream_groups(8) == 2
    with pytest.raises(ValueError, match="streams"):
        cliff.Estimator(est.model, smpl, streams=2)


def test_two_python_threads_share_a_split_model(pair):
    """Calls on one model are serialized by its lock; each thread gets its own batch's bits."""
    off, split = pair
    xs = [crops(4, seed=20 + i) for i in range(2)]
    want = [off.features(x) for x in xs]
    got, errors = [[None] * 3 for _ in xs], []

    def work(i):
        try:
            for r in range(3):
                got[i][r] = split.features(xs[i])
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    for i in range(2):
        for r in range(3):
            np.testing.assert_array_equal(got[i][r], want[i])


@pytest.mark.slow
def test_hr48_split_is_bit_identical():
    """HRNet-W48: concatenations (an OpenMP loop inside each group) and its Winograd layers on
    the large branches; groups of one thread (T = 2) and of two (T = 4)."""
    state = random_state_dict("hr48", seed=6)
    x = crops(4, seed=17)
    with cliff.Model.from_state_dict(dict(state), "hr48", threads=2, streams="off") as off:
        want = off.features(x)
    for threads in (2, 4):
        with cliff.Model.from_state_dict(dict(state), "hr48", threads=threads, streams=2) as split:
            assert split.stream_groups(4) == 2
            np.testing.assert_array_equal(split.features(x), want)
