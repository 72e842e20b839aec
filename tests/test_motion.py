"""Tracking and temporal smoothing (cliff.motion), against SciPy and known synthetic motion.

References: scipy.optimize.linear_sum_assignment (assignment), scipy.signal.savgol_filter and
scipy.ndimage.gaussian_filter1d (filters), scipy.spatial.transform.Rotation (quaternions).
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from cliff.motion import (OneEuro, OnlineSmoother, Tracker, gaussian, iou_matrix,
                          linear_sum_assignment, quat_to_rotmat, rotmat_to_quat, savgol, smooth,
                          smooth_sequence, track_boxes)
from cliff.motion.metrics import accel_error, id_errors, mpjpe

scipy = pytest.importorskip("scipy")
from scipy.ndimage import gaussian_filter1d  # noqa: E402
from scipy.optimize import linear_sum_assignment as scipy_lsa  # noqa: E402
from scipy.signal import savgol_filter  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import bench_motion  # noqa: E402


# -- assignment -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 7), (7, 4), (9, 9)])
def test_assignment_cost_equals_scipy(shape):
    rng = np.random.default_rng(sum(shape))
    for k in range(20):
        c = rng.random(shape) * 10
        if k % 2:
            c = np.round(c)          # ties
        r, col = linear_sum_assignment(c)
        r2, c2 = scipy_lsa(c)
        assert len(r) == min(shape) and len(set(col.tolist())) == len(col)
        assert c[r, col].sum() == pytest.approx(c[r2, c2].sum(), abs=1e-9)


def test_assignment_rejects_non_finite_costs():
    with pytest.raises(ValueError, match="cost"):
        linear_sum_assignment([[0.0, np.inf]])


def test_iou_of_half_overlapping_boxes_is_one_third():
    assert iou_matrix([[0, 0, 2, 2]], [[1, 0, 3, 2]])[0, 0] == pytest.approx(1 / 3)


# -- tracker ----------------------------------------------------------------------------------

def _walk(t, x0, v, y=50, w=40, h=120):
    x = x0 + v * t
    return [x, y, x + w, y + h]


def test_crossing_people_keep_their_ids():
    """Two people of equal size walking through each other in opposite directions: the
    constant-velocity prediction keeps each id on its own person."""
    frames = [np.array([_walk(t, 0, 6), _walk(t, 240, -6)]) for t in range(40)]
    ids = track_boxes(frames)
    assert all(list(i) == [0, 1] for i in ids)


def test_track_survives_short_misses_and_new_people_get_new_ids():
    tr = Tracker(max_missed=5)
    seq = []
    for t in range(30):
        b = [] if 10 <= t < 14 else [_walk(t, 0, 4)]        # 4 missed frames
        if t >= 20:
            b.append(_walk(t, 400, -3))                      # someone new
        seq.append(tr.update(np.array(b).reshape(-1, 4)).tolist())
    assert seq[9] == [0] and seq[14] == [0] and seq[25] == [0, 1]


def test_ids_are_never_reused():
    tr = Tracker(max_missed=2)
    assert tr.update([_walk(0, 0, 0)]).tolist() == [0]
    for _ in range(4):
        tr.update(np.zeros((0, 4)))                          # track 0 dies
    assert tr.update([_walk(0, 0, 0)]).tolist() == [1]       # same place, new person, new id


def test_low_score_detection_continues_a_track_but_never_starts_one():
    tr = Tracker(high=0.5, low=0.1)
    assert tr.update([_walk(0, 0, 5)], [0.9]).tolist() == [0]
    assert tr.update([_walk(1, 0, 5)], [0.3]).tolist() == [0]      # second pass
    assert tr.update([_walk(2, 0, 5), _walk(2, 300, 0)], [0.9, 0.3]).tolist() == [0, -1]
    assert tr.update([_walk(3, 0, 5)], [0.05]).tolist() == [-1]    # below low: ignored


def test_tracker_rejects_bad_input():
    with pytest.raises(ValueError, match="xyxy"):
        Tracker().update(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="scores"):
        Tracker().update(np.zeros((2, 4)), [1.0])
    with pytest.raises(ValueError, match="max_missed"):
        Tracker(max_missed=-1)
    with pytest.raises(ValueError, match="low"):
        Tracker(high=0.2, low=0.5)


def test_crossing_scenes_have_few_identity_errors():
    """The benchmark's scenes (6 people crossing at different depths, 10% detections dropped,
    15% low-score): identity switches and fragmentations are counted, and stay rare (the
    measured values are in docs/motion.md; the bound leaves room for other seeds)."""
    e = bench_motion.bench_tracking(150, 3)
    assert e["people"] >= 12
    assert e["id_switches"] <= 0.3 * e["people"] and e["fragmentations"] <= 0.3 * e["people"]


def test_id_errors_counts_a_swap_as_two_switches():
    gt = [np.array([0, 1])] * 3
    pred = [np.array([5, 6]), np.array([6, 5]), np.array([6, 5])]
    e = id_errors(gt, pred)
    assert e["id_switches"] == 2 and e["fragmentations"] == 2 and e["merged"] == 2


# -- filters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("window,order,T", [(15, 2, 60), (21, 3, 40), (7, 2, 7)])
def test_savgol_equals_scipy_interp_mode(window, order, T):
    x = np.random.default_rng(0).standard_normal((T, 5, 4))
    np.testing.assert_allclose(savgol(x, window, order),
                               savgol_filter(x, window, order, axis=0, mode="interp"), atol=1e-12)


def test_savgol_shortens_its_window_for_short_tracks():
    x = np.random.default_rng(1).standard_normal((6, 3))
    np.testing.assert_allclose(savgol(x, 15, 2), savgol_filter(x, 5, 2, axis=0, mode="interp"), atol=1e-12)


@pytest.mark.parametrize("sigma", [0.7, 2.0, 3.5])
def test_gaussian_equals_scipy_nearest_mode(sigma):
    x = np.random.default_rng(2).standard_normal((50, 3))
    np.testing.assert_allclose(gaussian(x, sigma), gaussian_filter1d(x, sigma, axis=0, mode="nearest"),
                               atol=1e-12)


def test_one_euro_follows_the_published_recurrence():
    """A scalar One-Euro filter written out from the paper's equations, step by step."""
    f = OneEuro(min_cutoff=1.0, beta=0.5, d_cutoff=1.0)
    x = np.cumsum(np.random.default_rng(3).standard_normal(30))
    xs, dxs, prev = x[0], 0.0, x[0]
    assert f(np.array([x[0]]), 0.0)[0] == x[0]
    for i in range(1, 30):
        dt = 1 / 30
        a = lambda fc: 1 / (1 + 1 / (2 * np.pi * fc) / dt)  # noqa: E731
        dxs = dxs + a(1.0) * ((x[i] - prev) / dt - dxs)
        xs = xs + a(1.0 + 0.5 * abs(dxs)) * (x[i] - xs)
        prev = xs
        assert f(np.array([x[i]]), i / 30)[0] == pytest.approx(xs, rel=1e-12)


def test_one_euro_is_causal():
    """Online: changing a future sample never changes a past output."""
    x = np.random.default_rng(4).standard_normal((20, 3))
    y = x.copy()
    y[15:] += 5.0
    a = [OneEuro()(x[0], 0)]
    f1, f2 = OneEuro(), OneEuro()
    out1 = [f1(x[i], i / 30) for i in range(20)]
    out2 = [f2(y[i], i / 30) for i in range(20)]
    np.testing.assert_array_equal(np.array(out1[:15]), np.array(out2[:15]))
    assert a


# -- rotations --------------------------------------------------------------------------------

def test_quaternions_match_scipy():
    R = Rotation.random(500, random_state=5)
    q = rotmat_to_quat(R.as_matrix())
    want = R.as_quat()[:, [3, 0, 1, 2]]
    want *= np.where(want[:, :1] < 0, -1, 1)
    np.testing.assert_allclose(q, want, atol=1e-12)
    np.testing.assert_allclose(quat_to_rotmat(q), R.as_matrix(), atol=1e-12)


def test_rotation_through_pi_is_smoothed_as_a_rotation():
    """A joint turning steadily through 180 degrees: its axis-angle jumps (angle pi wraps to
    -pi), its rotation does not. Smoothing must give back the same steady turn."""
    ang = np.linspace(np.pi - 0.5, np.pi + 0.5, 31)
    R = Rotation.from_rotvec(ang[:, None] * [0, 0, 1]).as_matrix()[:, None]       # (T,1,3,3)
    s = smooth_sequence(R, np.zeros((31, 3)), np.zeros((31, 10)), method="gaussian", sigma=2)
    err = Rotation.from_matrix(s["rotmat"][5:-5, 0]).inv() * Rotation.from_matrix(R[5:-5, 0])
    assert np.degrees(err.magnitude()).max() < 0.01     # a linear turn is unchanged inside
    rv = Rotation.from_matrix(R[:, 0]).as_rotvec()
    assert np.abs(np.diff(rv[:, 2])).max() > 6          # while its axis-angle does jump


def test_output_rotations_are_orthonormal():
    rng = np.random.default_rng(6)
    R = Rotation.from_rotvec(rng.normal(0, 1, (40 * 24, 3))).as_matrix().reshape(40, 24, 3, 3)
    for m in ("oneeuro", "savgol", "gaussian"):
        out = smooth_sequence(R, np.zeros((40, 3)), np.zeros((40, 10)), method=m)["rotmat"]
        np.testing.assert_allclose(out @ np.swapaxes(out, -1, -2), np.broadcast_to(np.eye(3), out.shape), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-12)


def test_betas_are_one_robust_estimate_per_track_unless_per_frame():
    b = np.tile(np.arange(10.0), (9, 1))
    b[4] += 100                                            # one wild frame
    R = np.tile(np.eye(3), (9, 24, 1, 1))
    s = smooth_sequence(R, np.zeros((9, 3)), b, method="savgol")
    np.testing.assert_array_equal(s["betas"], np.tile(np.arange(10.0), (9, 1)))
    s = smooth_sequence(R, np.zeros((9, 3)), b, method="savgol", per_frame_betas=True)
    np.testing.assert_array_equal(s["betas"], b)


def test_smooth_filters_each_track_alone_and_keeps_row_order():
    rng = np.random.default_rng(7)
    T = 20
    res = {"pose": rng.normal(0, 0.2, (2 * T, 72)), "global_t": rng.normal(0, 1, (2 * T, 3)),
           "shape": rng.normal(0, 1, (2 * T, 10)), "track_id": np.repeat([4, 9], T)[::-1].copy(),
           "frame": np.tile(np.arange(T), 2)}
    perm = rng.permutation(2 * T)
    shuffled = {k: v[perm] for k, v in res.items()}
    a = smooth(res, "gaussian")
    b = smooth(shuffled, "gaussian")
    np.testing.assert_allclose(b["global_t"], a["global_t"][perm], atol=1e-6)
    one = res["track_id"] == 9
    alone = smooth({k: v[one] for k, v in res.items()}, "gaussian")
    np.testing.assert_allclose(a["global_t"][one], alone["global_t"], atol=1e-6)


def test_online_smoother_equals_offline_one_euro():
    rng = np.random.default_rng(8)
    R = Rotation.from_rotvec(rng.normal(0, 0.3, (15 * 24, 3))).as_matrix().reshape(15, 24, 3, 3)
    t = rng.normal(0, 1, (15, 3))
    b = rng.normal(0, 1, (15, 10))
    off = smooth_sequence(R, t, b, method="oneeuro")
    sm = OnlineSmoother()
    for i in range(15):
        Ri, ti, _ = sm.update(0, i, R[i], t[i], b[i])
        np.testing.assert_allclose(Ri, off["rotmat"][i], atol=1e-12)
        np.testing.assert_allclose(ti, off["t_full"][i], atol=1e-12)


def test_smooth_rejects_bad_arguments():
    R = np.tile(np.eye(3), (5, 24, 1, 1))
    with pytest.raises(ValueError, match="method"):
        smooth_sequence(R, np.zeros((5, 3)), np.zeros((5, 10)), method="kalman")
    with pytest.raises(TypeError, match="window"):
        smooth_sequence(R, np.zeros((5, 3)), np.zeros((5, 10)), method="gaussian", window=5)
    with pytest.raises(ValueError, match="t_full"):
        smooth_sequence(R, np.zeros((4, 3)), np.zeros((5, 10)))
    with pytest.raises(ValueError, match="window"):
        savgol(np.zeros(10), 4, 2)
    with pytest.raises(KeyError, match="track_id"):
        smooth({"pose": np.zeros((1, 72)), "global_t": np.zeros((1, 3)), "shape": np.zeros((1, 10))})


# -- the benchmark's goal ---------------------------------------------------------------------

def test_offline_filters_meet_the_goal_on_the_synthetic_motion():
    """Acceleration error down at least 5x with MPJPE to the clean motion no worse than raw
    (the issue's goal) for the offline filters at their defaults; the online One-Euro filter
    must at least not make MPJPE worse and cut the acceleration error (it lags: docs/motion.md)."""
    rows = {r[0]: r for r in bench_motion.bench_smoothing(150, 2)}
    raw = rows["raw"]
    for m in ("savgol", "gaussian"):
        assert raw[1] / rows[m][1] >= 5 and rows[m][2] <= raw[2]
    assert raw[1] / rows["oneeuro"][1] >= 2 and rows["oneeuro"][2] <= raw[2]


def test_metrics_on_known_values():
    g = np.zeros((4, 1, 3))
    p = g.copy()
    p[2, 0, 0] = 1.0                                      # one bump: accel errors 1, 2 (frames 1, 2)
    assert accel_error(p, g) == pytest.approx(1.5)
    assert mpjpe(p, g) == pytest.approx(0.25)
