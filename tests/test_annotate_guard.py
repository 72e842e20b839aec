"""Issue 17: the annotator's do-no-harm guard (re-starts, acceptance test) and its quality
numbers (full-image errors for every loss, prior distance, confidence), each against its
definition recomputed here with the float64 NumPy body of tests/reference."""
import numpy as np
import pytest

from cliff.annotate import annotator as A
from cliff.annotate import fit as F
from cliff.annotate import guard as G
from cliff.annotate import losses as L
from cliff.annotate.keypoints import COCO17_TO_PART24, COCO17_TO_SMPLX
from cliff.io import PosePrior
from reference import scenes as S


@pytest.fixture(scope="module")
def scene(body):
    return S.make_scene(body, 40, seed=5, rot_noise_deg=8, root_noise_deg=15, outliers=0.05)


def _exact(body, seed):
    """One person whose start is the truth and whose keypoints are exact (no noise, none hidden)."""
    return S.make_scene(body, 1, seed=seed, pixel_noise=0, occlusion=0, rot_noise_deg=0,
                        root_noise_deg=0, beta_noise=0, transl_noise=0)


def _reproj(body, sc_kp, R, betas, t, focal, pp):
    """Reference: per-keypoint full-image error (px, -1 where confidence 0) and the
    confidence-weighted mean, from the NumPy SMPL forward pass and a pinhole camera."""
    J = S.smpl_forward(body, R, betas, t)[:, COCO17_TO_SMPLX]
    uv = focal * J[..., :2] / J[..., 2:] + np.asarray(pp)
    d = np.linalg.norm(uv - sc_kp[..., :2], axis=-1)
    c = sc_kp[..., 2]
    return np.where(c > 0, d, -1.0), (c * d).sum(1) / c.sum(1)


def test_guard_keeps_the_root_where_the_naive_fit_turns_it(body):
    # Constructed: the start's root is exact, the keypoints are exact, but the start twists the
    # three spine joints by 20 deg each. The old fit (weak root prior w_root = 1, one start)
    # explains the shoulders by turning the whole body: the root gets > 20 deg worse. The
    # default (root prior 30, guard) mostly untwists the spine and leaves the root within 5 deg.
    sc = _exact(body, 2)
    R0 = sc["rotmat"].copy()
    for j in (3, 6, 9):
        R0[0, j] = R0[0, j] @ S.rodrigues(np.array([0.0, np.deg2rad(20), 0.0]))
    args = (F.FitBody.from_smpl(body), R0, sc["betas"], sc["transl"], sc["keypoints"],
            sc["boxes"], sc["img_size"], sc["focal"])
    naive = A.refine(*args, starts="one", accept=False, w_root=1.0)
    new = A.refine(*args)
    root = lambda r: L.rotation_angle_deg(r["rotmat"][:, 0], sc["rotmat"][:, 0])[0]  # noqa: E731
    assert root(naive) > 20.0
    assert root(new) < 5.0
    # and the keypoints are still explained (exact data; 1.3 px: the tightened first pass keeps
    # a little of the spine's twist, and meets the keypoints within restart_rel)
    assert new["err_final"][0] < 2.0 and not new["loosened"][0]


def test_root_hold_keeps_a_right_root_the_free_fit_moves(body, fb):
    # Constructed (round 8): exact keypoints, the start's root exact and its three spine joints
    # twisted 20 deg each, the truth tilted 6.9 deg from upright, the upright prior on (sigma
    # 5 deg). The free fit splits the torso's turn between root and spine and pulls the root
    # towards upright: 3.5 deg off. The root-hold rule ("auto": on with the upright prior) also
    # fits with the root held at the estimate; freeing it gains less than ROOT_HOLD_GAIN in
    # keypoint + upright terms (the held fit untwists the spine and meets the keypoints as well),
    # so the held root (exact) is kept.
    sc = _exact(body, 3)
    R0 = sc["rotmat"].copy()
    for j in (3, 6, 9):
        R0[0, j] = R0[0, j] @ S.rodrigues(np.array([0.0, np.deg2rad(20), 0.0]))
    args = (fb, R0, sc["betas"], sc["transl"], sc["keypoints"], sc["boxes"], sc["img_size"],
            sc["focal"])
    root = lambda r: L.rotation_angle_deg(r["rotmat"][:, 0], sc["rotmat"][:, 0])[0]  # noqa: E731
    free = A.refine(*args, upright_deg=5.0, root_hold=None)
    held = A.refine(*args, upright_deg=5.0)
    assert root(free) > 2.5 and not free["root_held"][0]
    assert root(held) < 0.5 and held["root_held"][0]
    assert held["err_final"][0] < 1.0  # the keypoints are still explained (exact data)
    # its quality numbers are those of the kept (held) result, with the default weights
    np.testing.assert_allclose(held["prior_dist"], G.prior_distance(
        held["phi"], held["betas"], held["transl"], sc["betas"], sc["transl"]), rtol=1e-12)


def test_root_hold_is_on_only_with_the_upright_prior_unless_asked():
    # without the upright prior holding the root made more people worse on the benchmark's
    # development seeds (docs/annotate.md, round 8): "auto" is off there
    assert G.root_hold_gain("auto") is None
    assert G.root_hold_gain("auto", upright_deg=5.0) == G.ROOT_HOLD_GAIN == 1.0
    assert G.root_hold_gain(None, upright_deg=5.0) is None
    assert G.root_hold_gain(False) is None
    assert G.root_hold_gain(2.5) == 2.5
    assert G.root_hold_gain(0) == 0.0


@pytest.mark.parametrize("value, exc", [("on", ValueError), (-1.0, ValueError),
                                        (float("nan"), ValueError), (float("inf"), ValueError),
                                        (True, TypeError), ([1.0], TypeError)])
def test_bad_root_hold_is_rejected(fb, scene, value, exc):
    with pytest.raises(exc, match="root_hold: expected 'auto', None or a gain >= 0"):
        A.refine(fb, scene["init_rotmat"][:2], scene["init_betas"][:2], scene["init_transl"][:2],
                 scene["keypoints"][:2], scene["boxes"][:2], scene["img_size"], scene["focal"],
                 root_hold=value)


def test_restart_escapes_a_start_facing_the_wrong_way(body, fb):
    # The start faces away from the camera (root turned 180 deg about the body's vertical);
    # from there LM stays in the mirrored basin (error far above the 0 px of exact keypoints).
    # The guard re-starts it (its error is above 2 % of the box) from the turned root
    # hypothesis and keeps that fit: error < 1 px, root within 5 deg of the truth.
    sc = _exact(body, 0)
    R0 = sc["rotmat"].copy()
    R0[0, 0] = R0[0, 0] @ np.diag([-1.0, 1.0, -1.0])
    args = (fb, R0, sc["betas"], sc["transl"], sc["keypoints"], sc["boxes"], sc["img_size"],
            sc["focal"])
    b = 200 * A.center_scale(sc["boxes"])[1][0]
    one = A.refine(*args, starts="one", accept=False)
    assert one["err_final"][0] > 0.02 * b
    new = A.refine(*args)
    assert new["start"][0] in (2, 4)  # a turned hypothesis won
    assert new["err_final"][0] < 1.0
    assert L.rotation_angle_deg(new["rotmat"][:, 0], sc["rotmat"][:, 0])[0] < 5.0


def test_weak_prior_start_finds_the_lowest_objective_near_the_keypoints(body, fb):
    # A regressor-like poor start (the benchmark's "poor" severity: joints 15 deg, root 30 deg,
    # shape and depth off; scene seed 101, person 70 of 200) whose keypoints are fittable (the
    # truth is 2.3 px from them). The fit from the estimate ends 52 px away (a limb keypoint
    # given up as an outlier); the start through a wide robust scale meets the keypoints but at
    # a high objective (its pose pays the priors: PA-MPJPE 155 mm), so before round 9 the guard
    # kept the turned-root hypothesis, 49 px away. The start through a fit with the root and
    # pose priors WEAK_FACTOR times weaker lets the keypoints lead; fitted then under the full
    # objective it wins (code 9) with the lowest objective, within 3 px and a better 3D pose
    # (shown without round 10's torso starts: with them the broad-root start goes lower still,
    # see the last lines).
    # (the tightened first pass of round 16 off: the case specifies the steps at the given
    # start-prior strength)
    sc, one, args = S.poor_person(body, fb, 101, 70)
    _, truth_err = _reproj(body, sc["keypoints"][one], sc["rotmat"][one], sc["betas"][one],
                           sc["transl"][one], sc["focal"], np.asarray(sc["img_size"]) / 2)
    assert truth_err[0] < 3.0
    plain = A.refine(*args, starts="one", accept=False)
    wide = A.refine(*args, starts="one", accept=False, robust_scale=G.GNC_FACTOR * 3.0)
    after_wide = A.refine(*args, starts="one", accept=False, phi_start=wide["phi"],
                          betas_start=wide["betas"], transl_start=wide["transl"])
    assert plain["err_final"][0] > 20.0
    new = A.refine(*args, torso=False, tighten=None)
    assert new["start"][0] == 9
    assert new["err_final"][0] < 3.0
    assert new["objective"][0] < min(plain["objective"][0], after_wide["objective"][0]) - 10
    pa = lambda r: _pa_mpjpe(body, sc, one, r)  # noqa: E731
    assert pa(new) < pa(after_wide) - 0.02  # metres
    # This start's root is 74 deg off: code 9 leaves it 53 deg off; the torso's root under the
    # broad root prior component (code 11) ends lower on the objective with the root 27 deg off.
    root = lambda r: L.rotation_angle_deg(r["rotmat"][:, 0], sc["rotmat"][one, 0])[0]  # noqa: E731
    r10 = A.refine(*args, tighten=None)
    assert r10["start"][0] == 11
    assert r10["objective"][0] < new["objective"][0]
    assert root(r10) < root(new) - 20


def _rolled_start(body, fb):
    """One exact person whose start's root is rolled 80 deg about the camera's axis."""
    sc = _exact(body, 3)
    R0 = sc["rotmat"].copy()
    R0[0, 0] = S.rodrigues(np.array([0.0, 0.0, np.deg2rad(80)])) @ R0[0, 0]
    return sc, (fb, R0, sc["betas"], sc["transl"], sc["keypoints"], sc["boxes"], sc["img_size"],
                sc["focal"])


def test_broad_root_prior_corrects_a_large_root_error_the_torso_shows(body, fb):
    # The start's root is rolled 80 deg about the camera's axis (in the image plane: a
    # regressor's large root error), the rest exact, the keypoints exact. Tried from every
    # start (starts='all': from the estimate the fit twists until it is within 2 px), round
    # 9's guard ends with the root 33 deg off (the estimate's root prior, sigma ~10 deg, makes
    # an 80 deg correction cost w_root |phi_0|^2 = 58, so the spine and limbs take the rest).
    # The torso start fits the root to the hips, shoulders and neck with the body held; under
    # the root prior's broad component (sigma ~33 deg, paying BROAD_PENALTY) it wins (code 11):
    # lower on the objective, nearer the keypoints, the root within 6 deg.
    sc, args = _rolled_start(body, fb)
    root = lambda r: L.rotation_angle_deg(r["rotmat"][:, 0], sc["rotmat"][:, 0])[0]  # noqa: E731
    old = A.refine(*args, starts="all", torso=False)
    new = A.refine(*args, starts="all")
    assert root(old) > 25.0
    assert new["start"][0] == 11
    assert root(new) < 6.0
    assert new["objective"][0] < old["objective"][0] - 10
    assert new["err_final"][0] < old["err_final"][0]


def test_prior_distance_of_a_broad_root_result_is_in_its_components_deviations(body, fb):
    # A code-11 result was fitted under the broad component (w_root x BROAD_FACTOR), so its
    # prior distance, read against the plausible range, is measured in that component's
    # standard deviations: prior_distance with w_root = 30 x 0.1, the rest as the defaults.
    # (the tightened first pass of round 16 off: the case specifies the steps at the given
    # start-prior strength)
    sc, args = _rolled_start(body, fb)
    r = A.refine(*args, starts="all", tighten=None)
    assert r["start"][0] == 11
    want = G.prior_distance(r["phi"], r["betas"], r["transl"], sc["betas"], sc["transl"],
                            w_root=30.0 * G.BROAD_FACTOR)
    assert r["prior_dist"][0] == pytest.approx(want[0], rel=1e-9)
    assert r["prior_dist"][0] < G.prior_distance(r["phi"], r["betas"], r["transl"], sc["betas"],
                                                 sc["transl"])[0] - 1


def test_broad_root_component_pays_its_prior_odds():
    # 5 % prior weight like a hypothesis (2 ln 19), and a peak density sqrt(1/0.1)^3 lower
    # (3 ln sqrt(10)): 5.89 + 3.45 = 9.34.
    assert G.BROAD_PENALTY == pytest.approx(2 * np.log(19) + 1.5 * np.log(10), abs=1e-12)
    assert G.BROAD_PENALTY == pytest.approx(9.343, abs=1e-3)


def _pa_mpjpe(body, sc, one, r):
    """PA-MPJPE (metres) of the first person of result r against the scene's people `one`."""
    J = S.smpl_forward(body, r["rotmat"], r["betas"], r["transl"])[:, :24]
    return L.pa_mpjpe(J, sc["joints"][one, :24])[0]


def test_limb_start_brings_a_given_up_wrist_onto_its_keypoint(body, fb):
    # Round 11. Scene seed 112, person 75 (poor start): the truth is 5.4 px from the keypoints
    # (its right elbow keypoint is a gross outlier, 44 px). Round 10's guard keeps the torso
    # start (code 10) 15 px away: the right wrist 98 px from its keypoint, given up on the
    # robust loss's flat tail. The limb start turns the right elbow or shoulder so that the
    # wrist lies on its keypoint's ray; fitted from there (code 12) it ends lower on the same
    # objective by more than LIMB_MARGIN, the wrist within 3 px, the mean error below 6 px and
    # a better 3D pose (PA-MPJPE 124 -> 69 mm).
    # (the far pass of round 15 off: the case specifies the steps before it)
    # (the tightened first pass of round 16 off: the case specifies the steps at the given
    # start-prior strength)
    sc, one, args = S.poor_person(body, fb, 112, 75)
    wrist = 10  # COCO right wrist
    old = A.refine(*args, far_scale=None, limbs=False, tighten=None)
    new = A.refine(*args, far_scale=None, tighten=None)
    assert old["kp_err"][0, wrist] > 50.0 and old["err_final"][0] > 10.0
    assert new["start"][0] == 12
    assert new["objective"][0] < old["objective"][0] - G.LIMB_MARGIN
    assert new["kp_err"][0, wrist] < 3.0 and new["err_final"][0] < 6.0
    pa = lambda r: _pa_mpjpe(body, sc, one, r)  # noqa: E731
    assert pa(new) < pa(old) - 0.03  # metres


def test_limb_start_must_beat_the_kept_fit_by_the_margin(body, fb, monkeypatch):
    # The same person with an unreachable margin: the limb start is tried but not kept, and
    # the result is round 10's (code 10, the same objective).
    # (the far pass of round 15 off: the case specifies the steps before it)
    # (the tightened first pass of round 16 off: the case specifies the steps at the given
    # start-prior strength)
    _, _, args = S.poor_person(body, fb, 112, 75)
    old = A.refine(*args, far_scale=None, limbs=False, tighten=None)
    monkeypatch.setattr(G, "LIMB_MARGIN", 1e6)
    new = A.refine(*args, far_scale=None, tighten=None)
    assert new["start"][0] == old["start"][0] == 10
    assert new["objective"][0] == pytest.approx(old["objective"][0], abs=1e-9)


def test_limb_start_from_a_broad_root_result_keeps_its_component(body, fb):
    # Scene seed 113, person 182: round 10's guard keeps a broad-root fit (code 11) with the
    # right ankle 459 px from its keypoint. The limb start from it is fitted under the same
    # broad component (code 13): the ankle within 5 px, lower on the objective, PA-MPJPE
    # 109 -> 51 mm, and its prior distance measured in the broad component's deviations.
    # (the tightened first pass of round 16 off: the case specifies the steps at the given
    # start-prior strength; the part starts of round 17, which come after the limb starts,
    # off too: without limb starts a part start (code 15) lowers the broad fit's objective,
    # its ankle still 456 px off)
    sc, one, args = S.poor_person(body, fb, 113, 182)
    ankle = 16  # COCO right ankle
    old = A.refine(*args, limbs=False, tighten=None, parts=False)
    new = A.refine(*args, tighten=None, parts=False)
    assert old["start"][0] == 11 and old["kp_err"][0, ankle] > 100.0
    assert new["start"][0] == 13
    assert new["kp_err"][0, ankle] < 5.0
    assert new["objective"][0] < old["objective"][0] - G.LIMB_MARGIN
    pa = lambda r: _pa_mpjpe(body, sc, one, r)  # noqa: E731
    assert pa(new) < pa(old) - 0.03
    want = G.prior_distance(new["phi"], new["betas"], new["transl"], sc["init_betas"][one],
                            sc["init_transl"][one], w_root=30.0 * G.BROAD_FACTOR)
    assert new["prior_dist"][0] == pytest.approx(want[0], rel=1e-9)


def test_limb_starts_put_the_joint_on_the_keypoints_ray(body, fb):
    # Exact person, right elbow (joint 19) bent 90 deg more in the start: its wrist keypoint
    # (joint 21) is 62 px away, above REAIM_REL x the box height (50 px). limb_starts turns the
    # elbow (pivot 19) or the shoulder (17) so that joint 21 lies on the keypoint's ray at the
    # bone's length from the pivot: two depths per pivot (towards / away from the camera)
    # wherever the ray is within reach. Every start reprojects the wrist onto its keypoint
    # (< 1e-6 px where the ray is reached), keeps the pivot-to-wrist distance, changes only the
    # pivot's rotation, and leaves every joint outside the pivot's subtree where it was.
    sc = _exact(body, 7)
    R0 = sc["rotmat"].copy()
    R0[0, 19] = R0[0, 19] @ S.rodrigues(np.array([0.0, 0.0, np.deg2rad(90)]))
    kp = sc["keypoints"]
    f, pp = float(sc["focal"]), np.asarray(sc["img_size"], np.float64) / 2
    norm = 200 * A.center_scale(sc["boxes"])[1]
    who, R = G.limb_starts(fb, R0, sc["betas"], sc["transl"], kp, COCO17_TO_SMPLX, [f], pp[None],
                           norm)
    J0 = F.fit_jacobian(fb, R0[0], np.zeros((24, 3)), sc["betas"][0], sc["transl"][0], f, pp)[0]
    assert len(who) == 4 and (who == 0).all()  # 2 pivots x 2 depths
    subtree = {17: {17, 19, 21, 23}, 19: {19, 21, 23}}
    for Ri in R:
        changed = [j for j in range(24) if not np.allclose(Ri[j], R0[0, j])]
        assert len(changed) == 1 and changed[0] in (17, 19)
        p = changed[0]
        J, uv = F.fit_jacobian(fb, Ri, np.zeros((24, 3)), sc["betas"][0], sc["transl"][0], f,
                               pp)[:2]
        assert np.linalg.norm(uv[21] - kp[0, 10, :2]) < 1e-6
        bone = np.linalg.norm(J0[21] - J0[p])
        assert np.linalg.norm(J[21] - J[p]) == pytest.approx(bone, rel=1e-9)
        outside = [j for j in range(24) if j not in subtree[p]]
        np.testing.assert_allclose(J[outside], J0[outside], atol=1e-12)
    depths = sorted(np.round(F.fit_jacobian(fb, Ri, np.zeros((24, 3)), sc["betas"][0],
                                            sc["transl"][0], f, pp)[0][21, 2], 6) for Ri in R)
    assert len(set(depths)) == 4  # the two depths of each pivot differ
    # a keypoint within rel x norm is not given up: no starts
    wrist_err = np.linalg.norm(F.fit_jacobian(fb, R0[0], np.zeros((24, 3)), sc["betas"][0],
                                              sc["transl"][0], f, pp)[1][21] - kp[0, 10, :2])
    assert wrist_err > G.REAIM_REL * norm[0]
    none = G.limb_starts(fb, R0, sc["betas"], sc["transl"], kp, COCO17_TO_SMPLX, [f], pp[None],
                         norm, rel=(wrist_err + 1) / norm[0])
    assert len(none[0]) == 0 and none[1].shape == (0, 24, 3, 3)


def test_tilt_hypotheses_escape_a_root_leaning_the_wrong_way(body, fb):
    # The start's root leans 50 deg about the camera's x axis (towards the camera); the
    # keypoints are exact. From there the fit twists spine and limbs until the keypoints are
    # explained to ~2 px with the root still > 25 deg off: the error is below the re-start
    # threshold, so the default guard keeps it. With the tilt hypotheses tried for everyone
    # (tilt_deg=50, starts='all') the hypothesis tilted back (-x, code 6) wins on the objective
    # and the root ends within 2 deg of the truth.
    sc = _exact(body, 3)
    R0 = sc["rotmat"].copy()
    R0[0, 0] = S.rodrigues(np.array([np.deg2rad(50), 0.0, 0.0])) @ R0[0, 0]
    args = (fb, R0, sc["betas"], sc["transl"], sc["keypoints"], sc["boxes"], sc["img_size"],
            sc["focal"])
    root = lambda r: L.rotation_angle_deg(r["rotmat"][:, 0], sc["rotmat"][:, 0])[0]  # noqa: E731
    b = 200 * A.center_scale(sc["boxes"])[1][0]
    plain = A.refine(*args)
    assert root(plain) > 25.0 and plain["err_final"][0] < 0.02 * b
    new = A.refine(*args, tilt_deg=50.0, starts="all")
    assert new["start"][0] == 6
    assert root(new) < 2.0 and new["err_final"][0] < 0.5


def test_root_hypotheses_are_the_documented_rotations(body):
    # hypotheses as R0 Exp(phi): turned = R0 Exp(pi y); mirrored = M R0 M (M the reflection along
    # the ray); both; then tilts Exp(+-t x_cam) R0 and Exp(+-t y_cam) R0 (camera axes)
    sc = S.make_scene(body, 3, seed=9)
    R0 = sc["init_rotmat"][:, 0]
    t = np.deg2rad(35)
    hyp = G.root_hypotheses(sc["init_rotmat"], sc["init_transl"], t)
    assert hyp.shape == (7, 3, 3)
    r = sc["init_transl"] / np.linalg.norm(sc["init_transl"], axis=1, keepdims=True)
    M = np.eye(3) - 2 * r[:, :, None] * r[:, None, :]
    flip = np.diag([-1.0, 1.0, -1.0])
    want = [R0 @ flip, M @ R0 @ M, M @ R0 @ M @ flip]
    for ax in (0, 1):
        for sg in (1, -1):
            e = np.zeros(3)
            e[ax] = sg * t
            want.append(S.rodrigues(e)[None] @ R0)
    for h in range(7):
        np.testing.assert_allclose(R0 @ S.rodrigues(hyp[h]), want[h], atol=1e-9)
    assert G.root_hypotheses(sc["init_rotmat"], sc["init_transl"]).shape == (3, 3, 3)


def test_acceptance_test_keeps_an_estimate_the_fit_cannot_improve(body, fb):
    # The start reproduces the exact keypoints (data term 0): the fit can only trade keypoint
    # error for the shape prior (it pulls betas towards 0), so it does not explain the
    # keypoints better and the estimate is kept unchanged (start code -1).
    sc = _exact(body, 1)
    args = (fb, sc["rotmat"], sc["betas"], sc["transl"], sc["keypoints"], sc["boxes"],
            sc["img_size"], sc["focal"])
    r = A.refine(*args)
    assert r["start"][0] == -1
    np.testing.assert_array_equal(r["rotmat"], sc["rotmat"])
    np.testing.assert_array_equal(r["betas"], sc["betas"])
    assert r["prior_dist"][0] == 0.0
    off = A.refine(*args, accept=False)
    assert off["start"][0] == 0 and off["data_cost"][0] > off["data_cost_start"][0]


def test_quality_fields_equal_their_definitions(body, fb, scene):
    sc = scene
    W, H = sc["img_size"]
    f, pp = sc["focal"], (W / 2, H / 2)
    r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
                 sc["boxes"], (W, H), f)
    assert (r["status"] == 0).all()
    kp_err, err = _reproj(body, sc["keypoints"], r["rotmat"], r["betas"], r["transl"], f, pp)
    np.testing.assert_allclose(r["kp_err"], kp_err, atol=1e-7)
    np.testing.assert_allclose(r["err_final"], err, atol=1e-7)
    _, err0 = _reproj(body, sc["keypoints"], sc["init_rotmat"], sc["init_betas"],
                      sc["init_transl"], f, pp)
    np.testing.assert_allclose(r["err_init"], err0, atol=1e-7)
    # prior distance: sqrt(w_root |phi_0|^2 + w_pose sum |phi_j|^2 + w_betas_init |db|^2
    # + w_depth ln(z / z0)^2), phi_j = Log(R0_j^T R_j) (NumPy reference log map), default
    # weights 30, 10, 1, 25 (relative to the prior's centre: the estimate, or the winning root
    # hypothesis; the depth's always the estimate's)
    centre = sc["init_rotmat"].copy()
    hyp = G.root_hypotheses(sc["init_rotmat"], sc["init_transl"])
    for i in np.flatnonzero((r["start"] >= 2) & (r["start"] <= 8)):  # root hypotheses
        centre[i, 0] = centre[i, 0] @ S.rodrigues(hyp[r["start"][i] - 2, i])
    phi = S.rotmat_to_aa(np.swapaxes(centre, -1, -2) @ r["rotmat"])
    d = np.sqrt(30 * (phi[:, 0] ** 2).sum(-1) + 10 * (phi[:, 1:] ** 2).sum((1, 2))
                + ((r["betas"] - sc["init_betas"]) ** 2).sum(1)
                + 25 * np.log(r["transl"][:, 2] / sc["init_transl"][:, 2]) ** 2)
    np.testing.assert_allclose(r["prior_dist"], d, rtol=1e-6, atol=1e-9)
    # confidence: 1 / (1 + exp(z)), z = -1.160 + 9.71 err/b + 3.76 spread + 0.410 d
    # - 0.683 (fraction of the 17 keypoints seen); z predicts log(PA-MPJPE / 50 mm)
    b = 200 * A.center_scale(sc["boxes"])[1]
    seen = (sc["keypoints"][..., 2] > 0).mean(1)
    z = -1.160 + 9.71 * err / b + 3.76 * r["spread"] + 0.410 * d - 0.683 * seen
    np.testing.assert_allclose(r["confidence"], 1 / (1 + np.exp(z)), rtol=1e-9)
    assert ((r["confidence"] >= 0) & (r["confidence"] <= 1)).all()


def test_crop_loss_fit_err_is_the_full_image_error(body, fb, scene):
    # The crop-loss fit runs in the crop camera, but fit_err is measured with the real camera:
    # it equals the NumPy full-image error of the output parameters, not the crop-camera error.
    sc = scene
    W, H = sc["img_size"]
    f, pp = sc["focal"], np.array([W / 2, H / 2])
    r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
                 sc["boxes"], (W, H), f, loss="crop", w_root=1.0)
    kp_err, err = _reproj(body, sc["keypoints"], r["rotmat"], r["betas"], r["transl"], f, pp)
    np.testing.assert_allclose(r["err_final"], err, atol=1e-7)
    np.testing.assert_allclose(r["kp_err"], kp_err, atol=1e-7)
    # the crop camera's own error of the same fit is a different (smaller) number
    center, scale = A.center_scale(sc["boxes"])
    cf, cc = L.crop_camera(center, 200 * scale)
    tc = L.cam_full_to_crop(r["transl"], center, 200 * scale, f, pp)
    J = S.smpl_forward(body, r["rotmat"], r["betas"], tc)[:, COCO17_TO_SMPLX]
    uv = cf[:, None, None] * J[..., :2] / J[..., 2:] + cc[:, None]
    c = sc["keypoints"][..., 2]
    crop_err = (c * np.linalg.norm(uv - sc["keypoints"][..., :2], axis=-1)).sum(1) / c.sum(1)
    assert np.median(crop_err) < 0.7 * np.median(err)


def test_annotate_writes_quality_fields_in_part_order(body, scene, tmp_path):
    sc = {k: (v[:6] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    n = 6
    W, H = sc["img_size"]
    images = [np.zeros((H, W, 3), np.uint8)] * 2
    it = iter([0, 3])

    def pred(image, bx, focal):
        s = next(it)
        return {"rotmat": sc["init_rotmat"][s:s + 3], "betas": sc["init_betas"][s:s + 3],
                "t_full": sc["init_transl"][s:s + 3]}
    out = tmp_path / "pgt.npz"
    res = A.annotate(images, [sc["keypoints"][:3], sc["keypoints"][3:]], smpl=body,
                     boxes=[sc["boxes"][:3], sc["boxes"][3:]], predictor=pred, output=str(out),
                     progress=False)
    z = np.load(out)
    assert z["fit_kp_err"].shape == (n, 24)
    for k in ("fit_prior_dist", "fit_start", "fit_confidence"):
        assert z[k].shape == (n,), k
    # the same people refined directly (one batch, keypoints far outside the image dropped as
    # annotate does): the written fields are refine's full-image numbers, keypoint errors
    # moved to the part-24 order
    kp, _ = A.clean_keypoints(sc["keypoints"], (W, H))
    r = A.refine(F.FitBody.from_smpl(body), sc["init_rotmat"], sc["init_betas"],
                 sc["init_transl"], kp, sc["boxes"], (W, H), sc["focal"])
    np.testing.assert_allclose(z["fit_err"], r["err_final"], rtol=1e-12)
    np.testing.assert_allclose(z["fit_confidence"], r["confidence"], rtol=1e-12)
    # COCO keypoint k sits in part slot COCO17_TO_PART24[k]; slots without a source are -1
    np.testing.assert_allclose(z["fit_kp_err"][:, COCO17_TO_PART24], r["kp_err"], rtol=1e-12)
    rest = np.setdiff1d(np.arange(24), COCO17_TO_PART24)
    assert (z["fit_kp_err"][:, rest] == -1).all()
    # fit_err is the part-confidence-weighted mean of the used keypoints' errors
    c = z["part"][..., 2] * (z["fit_kp_err"] >= 0)
    np.testing.assert_allclose(z["fit_err"], (c * z["fit_kp_err"]).sum(1) / c.sum(1), rtol=1e-9)
    assert ((z["fit_confidence"] >= 0) & (z["fit_confidence"] <= 1)).all()
    assert len(res["skipped"]) == 0


def test_annotate_writes_which_roots_the_rule_held(body, scene, tmp_path):
    # fit_root_held in the file is refine()'s root_held for the same people: with the upright
    # prior the rule is on and holds some roots (the scene's starts are 15 deg off at the root,
    # so it frees others); without it the field is all False
    sc = {k: (v[:16] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    W, H = sc["img_size"]

    def pred(image, bx, focal):
        return {"rotmat": sc["init_rotmat"], "betas": sc["init_betas"], "t_full": sc["init_transl"]}
    kp, _ = A.clean_keypoints(sc["keypoints"], (W, H))
    r = A.refine(F.FitBody.from_smpl(body), sc["init_rotmat"], sc["init_betas"],
                 sc["init_transl"], kp, sc["boxes"], (W, H), sc["focal"], upright_deg=5.0)
    assert 0 < r["root_held"].sum() < 16
    for opts, expect in (({"upright_deg": 5.0}, r["root_held"]), ({}, np.zeros(16, bool))):
        out = tmp_path / "pgt.npz"
        A.annotate([np.zeros((H, W, 3), np.uint8)], [sc["keypoints"]], smpl=body,
                   boxes=[sc["boxes"]], predictor=pred, focal=sc["focal"], output=str(out),
                   progress=False, **opts)
        z = np.load(out)
        assert z["fit_root_held"].dtype == bool
        np.testing.assert_array_equal(z["fit_root_held"], expect)


def test_fit_evaluate_matches_the_objective_recomputed(body, fb, scene):
    # evaluate(): GM data term sum conf * c^2 s / (s + c^2), s = |uv - kp|^2 / (0.01 b)^2, c = 3,
    # plus the priors centred on the reference (the depth's: 25 ln(z / z_ref)^2), at arbitrary
    # parameters
    sc = scene
    W, H = sc["img_size"]
    f, pp = sc["focal"], np.array([W / 2, H / 2])
    b = 200 * A.center_scale(sc["boxes"])[1]
    ev = F.evaluate(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
                    COCO17_TO_SMPLX, f, pp, b, sc["rotmat"], sc["betas"], sc["transl"])
    J = S.smpl_forward(body, sc["rotmat"], sc["betas"], sc["transl"])[:, COCO17_TO_SMPLX]
    uv = f * J[..., :2] / J[..., 2:] + pp
    s = ((uv - sc["keypoints"][..., :2]) ** 2).sum(-1) / (0.01 * b[:, None]) ** 2
    data = (sc["keypoints"][..., 2] * 9 * s / (s + 9)).sum(1)
    phi = S.rotmat_to_aa(np.swapaxes(sc["init_rotmat"], -1, -2) @ sc["rotmat"])
    prior = (30 * (phi[:, 0] ** 2).sum(-1) + 10 * (phi[:, 1:] ** 2).sum((1, 2))
             + ((sc["betas"] - sc["init_betas"]) ** 2).sum(1) + 0.1 * (sc["betas"] ** 2).sum(1)
             + 25 * np.log(sc["transl"][:, 2] / sc["init_transl"][:, 2]) ** 2)
    np.testing.assert_allclose(ev["data_cost"], data, rtol=1e-9)
    np.testing.assert_allclose(ev["prior_cost"], prior, rtol=1e-6)
    np.testing.assert_allclose(ev["objective"], data + prior, rtol=1e-6)


def test_fit_objective_outputs_and_start_offsets(fb, scene):
    # objective_start is the objective at the start; phi_start = 0 is the default start; a
    # start offset moves the result but the priors stay centred on rotmat (the final objective
    # equals evaluate() at the result)
    sc = scene
    args = (fb, sc["init_rotmat"][:6], sc["init_betas"][:6], sc["init_transl"][:6],
            sc["keypoints"][:6], COCO17_TO_SMPLX, sc["focal"], (960, 540), np.full(6, 300.0))
    a = F.fit_people(*args)
    z = F.fit_people(*args, phi_start=np.zeros((6, 24, 3)))
    np.testing.assert_array_equal(a["rotmat"], z["rotmat"])
    ev0 = F.evaluate(*args, sc["init_rotmat"][:6], sc["init_betas"][:6], sc["init_transl"][:6])
    np.testing.assert_allclose(a["objective_start"], ev0["objective"], rtol=1e-9)
    ph = np.zeros((6, 24, 3))
    ph[:, 0] = [0.0, 0.3, 0.0]
    o = F.fit_people(*args, phi_start=ph)
    ev = F.evaluate(*args, o["rotmat"], o["betas"], o["transl"])
    np.testing.assert_allclose(o["objective"], ev["objective"], rtol=1e-6)
    np.testing.assert_allclose(o["data_cost"] + o["prior_cost"], o["objective"], rtol=1e-12)
    with pytest.raises(ValueError, match=r"^phi_start: expected shape \(n, 24, 3\)"):
        F.fit_people(*args, phi_start=np.zeros((5, 24, 3)))


def test_plausible_distance_is_the_chi_quantile():
    # the 99.9 % quantile of |z| for z ~ N(0, I_k), by sampling (400k draws: +-0.3 %)
    rng = np.random.default_rng(0)
    for k in (10, 82):
        q = np.quantile(np.linalg.norm(rng.normal(size=(400_000, k)), axis=1), 0.999)
        assert abs(G.plausible_distance(k) - q) < 0.01 * q
    with pytest.raises(ValueError, match="plausible"):
        G.plausible_distance(82, 1.0)


def test_guard_rejects_bad_options(fb, scene):
    sc = scene
    args = (fb, sc["init_rotmat"][:2], sc["init_betas"][:2], sc["init_transl"][:2],
            sc["keypoints"][:2], COCO17_TO_SMPLX, 1000.0, (960, 540), np.full(2, 300.0))
    with pytest.raises(ValueError, match="^starts: expected 'one', 'auto' or 'all'"):
        G.fit_guarded(*args, starts="many")
    with pytest.raises(ValueError, match="^restart_rel: expected a finite number >= 0"):
        G.fit_guarded(*args, restart_rel=float("nan"))
    with pytest.raises(ValueError, match=r"^tilt_deg: expected degrees in \[0, 180\]"):
        G.fit_guarded(*args, tilt_deg=-5)


def test_spread_is_the_gauss_newton_joint_covariance(body, fb, scene):
    # spread = sqrt(mean_{i=1..23} trace(D_i H^-1 D_i^T)), H = sum_m conf_m rho'(s_m) / sigma^2
    # duv_m^T duv_m + diag(prior weights) at the result (GM: rho'(s) = c^4 / (s + c^2)^2; the
    # depth prior's Gauss-Newton block w_depth / z^2), D_i = d(J_i - J_0)/dx; H and D rebuilt
    # here from fit_jacobian's analytic Jacobians
    sc = scene
    n = 4
    W, H = sc["img_size"]
    f, pp = sc["focal"], np.array([W / 2, H / 2])
    norm = np.full(n, 300.0)
    r = F.fit_people(fb, sc["init_rotmat"][:n], sc["init_betas"][:n], sc["init_transl"][:n],
                     sc["keypoints"][:n], COCO17_TO_SMPLX, f, pp, norm)
    K = fb.num_betas
    P = 72 + K + 3
    prior = np.r_[np.full(3, 30.0), np.full(69, 10.0), np.full(K, 1.0 + 0.1), np.zeros(3)]
    for i in range(n):
        J, uv, dJ, duv = F.fit_jacobian(fb, sc["init_rotmat"][i], r["phi"][i], r["betas"][i],
                                        r["transl"][i], f, pp)
        kp = sc["keypoints"][i]
        Hm = np.diag(prior + 1e-9)
        Hm[P - 1, P - 1] += 25.0 / r["transl"][i, 2] ** 2
        for m, j in enumerate(COCO17_TO_SMPLX):
            if j < 0 or kp[m, 2] <= 0:
                continue
            s = ((uv[j] - kp[m, :2]) ** 2).sum() / 3.0 ** 2
            w = kp[m, 2] * 81 / (s + 9) ** 2 / 3.0 ** 2
            Hm += w * duv[j].T @ duv[j]
        D = (dJ[1:24] - dJ[:1]).reshape(-1, P)
        ref = np.sqrt(np.trace(D @ np.linalg.solve(Hm, D.T)) / 23)
        np.testing.assert_allclose(r["spread"][i], ref, rtol=1e-6)


def test_a_fit_pulled_towards_the_camera_is_not_a_label(body, fb):
    # Round 12. Scene seed 101 (400 people, poor starts), person 17: the estimate is 10.8 m
    # away (truth 10.2 m). Without the depth rule (and the depth prior) the wide-scale start
    # (code 1) wins on the objective with the body 4.2 m from the camera, 28 px from its
    # keypoints, its root 75 deg off: a body pulled towards the camera, a label whose
    # translation is 6 m off. With the rule no start may leave a factor DEPTH_RANGE of the
    # estimate's depth: the kept label is 8.5 m away, its root 30 deg off.
    # (the far pass of round 15 off: the case specifies the steps before it)
    sc, one, args = S.poor_person(body, fb, 101, 17, people=400)
    z0, z_true = sc["init_transl"][17, 2], sc["transl"][17, 2]
    off = A.refine(*args, far_scale=None, depth_range=None, w_depth=0.0)
    on = A.refine(*args, far_scale=None, w_depth=0.0)
    assert off["transl"][0, 2] < z0 / G.DEPTH_RANGE  # the degenerate answer wins without the rule
    assert off["objective"][0] < on["objective"][0]  # ... because the objective prefers it
    assert z0 / G.DEPTH_RANGE < on["transl"][0, 2] < z0 * G.DEPTH_RANGE
    assert abs(on["transl"][0, 2] - z_true) < 0.5 * abs(off["transl"][0, 2] - z_true)
    root = lambda r: L.rotation_angle_deg(r["rotmat"][:, 0], sc["rotmat"][one, 0])[0]  # noqa: E731
    assert root(on) < root(off) - 20.0


def test_depth_plausible_is_a_factor_of_the_estimate_s_depth():
    ref = np.array([[0.0, 0.0, 8.0]] * 5)
    z = np.array([3.9, 4.1, 8.0, 15.9, 16.1])
    t = np.column_stack([np.ones(5), -np.ones(5), z])  # x and y do not matter
    np.testing.assert_array_equal(G.depth_plausible(t, ref, 2.0), [False, True, True, True, False])
    assert G.depth_plausible(t, ref, None).all()


@pytest.mark.parametrize("bad", [1.0, 0.5, -2.0, float("nan"), float("inf")])
def test_depth_range_must_be_a_factor_above_one(fb, scene, bad):
    sc = scene
    args = (fb, sc["init_rotmat"][:2], sc["init_betas"][:2], sc["init_transl"][:2],
            sc["keypoints"][:2], COCO17_TO_SMPLX, 1000.0, (960, 540), np.full(2, 300.0))
    with pytest.raises(ValueError, match="^depth_range: expected None or a finite factor > 1"):
        G.fit_guarded(*args, depth_range=bad)


def test_scene_outlier_mask_marks_the_keypoints_the_truth_misses(body):
    # The benchmark counts local minima on the genuine keypoints (bench_annotate_quality.missed):
    # the ones the scene did not move as gross outliers. The true body meets those within the
    # 2 px noise (here below 5 sigma = 10 px), and misses every outlier by at least 10 % of the
    # person's size less that noise (make_scene moves them by 10-30 %).
    sc = S.make_scene(body, 60, seed=3, outliers=0.05, offcentre=0.95)
    out = sc["outlier"]
    assert out.shape == sc["keypoints"].shape[:2] and out.dtype == bool
    assert 0.02 < out.mean() < 0.08  # the 5 % asked for, 60 x 17 draws
    J = S.smpl_forward(body, sc["rotmat"], sc["betas"], sc["transl"])[:, COCO17_TO_SMPLX]
    W, H = sc["img_size"]
    uv = sc["focal"] * J[..., :2] / J[..., 2:] + [W / 2, H / 2]
    d = np.linalg.norm(uv - sc["keypoints"][..., :2], axis=-1)
    size = (uv.max(1) - uv.min(1)).max(-1)[:, None] * np.ones_like(d)
    assert d[~out].max() < 10
    assert (d[out] > 0.1 * size[out] - 10).all()


# ---- the far pass (step 5; round 15) ----------------------------------------------------------

def _genuine_error(body, sc, one, out):
    """The result's confidence-weighted mean error (px) over the keypoints the scene did not move
    as gross outliers (what the true body meets within the 2 px noise)."""
    kp = sc["keypoints"][one].copy()
    kp[..., 2] *= ~sc["outlier"][one]
    W, H = sc["img_size"]
    return float(_reproj(body, kp, out["rotmat"], out["betas"], out["transl"], sc["focal"],
                         (W / 2, H / 2))[1][0])


def test_far_pass_brings_a_poor_estimate_left_in_a_local_minimum_onto_its_keypoints(body, fb):
    # A poor start (the benchmark's poor severity; seed 12, person 176) whose estimate misses
    # the keypoints by > 10 % of the box: at the robust scale 3 the guard's best answer is
    # 24 px from the keypoints the truth meets (a local minimum); the far pass refits it at
    # scale 4, which meets them (1.8 px)
    sc, one, args = S.poor_person(body, fb, 12, 176)
    off = A.refine(*args, far_scale=None)
    assert off["err_init"][0] > G.FAR_INIT_REL * 200 * off["scale"][0]
    assert not off["far_pass"][0] and _genuine_error(body, sc, one, off) > 20
    on = A.refine(*args)
    assert on["far_pass"][0] and _genuine_error(body, sc, one, on) < 10
    # what the pass keeps: steps 1-4 at scale 4, at the given start-prior strength
    wide = A.refine(*args, robust_scale=G.FAR_SCALE, far_scale=None, tighten=None)
    np.testing.assert_array_equal(on["rotmat"], wide["rotmat"])
    np.testing.assert_array_equal(on["objective"], wide["objective"])


def test_far_pass_leaves_everyone_else_as_the_guard_had_them(body, fb):
    # only people whose estimate missed by > FAR_INIT_REL of the box and whose result still
    # misses by > restart_rel are refitted; everyone else is bit for bit the guard without it
    # (40 poor starts, seed 12, persons 160-199: person 176 above and a few more are refitted)
    sc, _, _ = S.poor_person(body, fb, 12, 0)
    s = {k: (v[160:] if isinstance(v, np.ndarray) else v) for k, v in sc.items()}
    W, H = s["img_size"]
    args = (fb, s["init_rotmat"], s["init_betas"], s["init_transl"], s["keypoints"], s["boxes"],
            (W, H), s["focal"])
    off, on = A.refine(*args, far_scale=None), A.refine(*args)
    b = 200 * off["scale"]
    due = (off["err_init"] > G.FAR_INIT_REL * b) & (off["err_final"] > 0.02 * b)
    assert due[16] and 0 < due.sum() < 20
    np.testing.assert_array_equal(on["far_pass"], due)
    np.testing.assert_array_equal(on["rotmat"][~due], off["rotmat"][~due])
    np.testing.assert_array_equal(on["start"][~due], off["start"][~due])
    assert not off["far_pass"].any()


def test_far_pass_is_off_without_the_guard_and_below_the_run_s_scale(fb, scene):
    # starts='one' (the plain fit) never runs it; nor does a far_scale not above robust_scale
    W, H = scene["img_size"]
    args = (fb, scene["init_rotmat"], scene["init_betas"], scene["init_transl"],
            scene["keypoints"], scene["boxes"], (W, H), scene["focal"])
    assert not A.refine(*args, starts="one", accept=False)["far_pass"].any()
    assert G.far_scale_of(4.0, robust_scale=4.0) is None
    assert G.far_scale_of(4.0, robust_scale=3.0) == 4.0
    assert G.far_scale_of(None) is None


@pytest.mark.parametrize("bad, err", [("4", TypeError), (True, TypeError), (0.0, ValueError),
                                      (-1.0, ValueError), (float("nan"), ValueError)])
def test_far_scale_rejects_what_is_not_a_positive_scale(fb, scene, bad, err):
    W, H = scene["img_size"]
    with pytest.raises(err, match="far_scale"):
        A.refine(fb, scene["init_rotmat"][:2], scene["init_betas"][:2], scene["init_transl"][:2],
                 scene["keypoints"][:2], scene["boxes"][:2], (W, H), scene["focal"], far_scale=bad)


def _annotated(body, s, tmp_path):
    """annotate() of scene s's people in one blank image, with the scene's estimates as the
    predictor's output: the written pseudo-GT file, loaded."""
    W, H = s["img_size"]

    def pred(image, bx, focal):
        return {"rotmat": s["init_rotmat"], "betas": s["init_betas"], "t_full": s["init_transl"]}
    out = tmp_path / "pgt.npz"
    A.annotate([np.zeros((H, W, 3), np.uint8)], [s["keypoints"]], smpl=body, boxes=[s["boxes"]],
               predictor=pred, focal=s["focal"], output=str(out), progress=False)
    return np.load(out)


def test_annotate_writes_whose_result_the_far_pass_made(body, fb, tmp_path):
    # fit_far_pass in the file is refine()'s far_pass for the same people (one is refitted)
    sc, _, _ = S.poor_person(body, fb, 12, 176)
    sl = slice(173, 181)  # person 176 and seven others of the same scene
    W, H = sc["img_size"]
    s = {k: (v[sl] if isinstance(v, np.ndarray) else v) for k, v in sc.items()}
    r = A.refine(fb, s["init_rotmat"], s["init_betas"], s["init_transl"], s["keypoints"],
                 s["boxes"], (W, H), s["focal"])
    assert r["far_pass"][3]
    z = _annotated(body, s, tmp_path)
    assert z["fit_far_pass"].dtype == bool
    np.testing.assert_array_equal(z["fit_far_pass"], r["far_pass"])


def test_a_bad_robust_scale_is_named_with_the_far_pass_on(fb, scene):
    # the far pass compares its scale with the run's robust_scale; a robust_scale that is not a
    # number is still refused by the fitter, naming robust_scale
    W, H = scene["img_size"]
    with pytest.raises((TypeError, ValueError), match="robust_scale"):
        A.refine(fb, scene["init_rotmat"][:2], scene["init_betas"][:2], scene["init_transl"][:2],
                 scene["keypoints"][:2], scene["boxes"][:2], (W, H), scene["focal"],
                 robust_scale="wide")


def _scene_args(fb, sc):
    W, H = sc["img_size"]
    return (fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
            sc["boxes"], (W, H), sc["focal"])


def test_tightened_pass_keeps_what_meets_the_keypoints_and_loosens_the_rest(fb, scene):
    # Step 0 (round 16): steps 1-4 run with the start-centred root and pose priors TIGHTEN
    # times stronger; a person whose result there misses the keypoints by more than
    # restart_rel x box is fitted again at the given strength, and that result is kept where
    # its error is lower. So each person is, bit for bit, either the guard at w_root 60 /
    # w_pose 20 or the guard at 30 / 10 (40 moderate starts; the far pass off on all three)
    args = _scene_args(fb, scene)
    on = A.refine(*args, far_scale=None)
    strong = A.refine(*args, far_scale=None, tighten=None, w_root=G.TIGHTEN * 30.0,
                      w_pose=G.TIGHTEN * 10.0)
    given = A.refine(*args, far_scale=None, tighten=None)
    b = 200 * on["scale"]
    due = (strong["status"] == 0) & (strong["err_final"] > 0.02 * b)
    took = due & (given["status"] == 0) & (given["err_final"] < strong["err_final"])
    assert took.any() and (~due).sum() >= 20
    np.testing.assert_array_equal(on["loosened"], took)
    np.testing.assert_array_equal(on["rotmat"][~took], strong["rotmat"][~took])
    np.testing.assert_array_equal(on["objective"][~took], strong["objective"][~took])
    # prior_dist is reported under the given priors (w_root 30, w_pose 10) for everyone
    plain = ~np.isin(on["start"], (11, 13))  # (broad-component results: in its deviations)
    np.testing.assert_allclose(on["prior_dist"][plain], G.prior_distance(
        on["phi"], on["betas"], on["transl"], scene["init_betas"],
        scene["init_transl"])[plain], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(on["rotmat"][took], given["rotmat"][took])
    np.testing.assert_array_equal(on["start"][took], given["start"][took])


def test_tightened_pass_then_far_pass_at_the_given_strength(body, fb):
    # the far pass (step 5) refits at the given start-prior strength whoever it picks after
    # step 0; its result is kept whatever step 0 had (loosened or not): far_pass wins
    sc, _, _ = S.poor_person(body, fb, 12, 0)
    s = {k: (v[160:] if isinstance(v, np.ndarray) else v) for k, v in sc.items()}
    args = _scene_args(fb, s)
    step0, on = A.refine(*args, far_scale=None), A.refine(*args)
    b = 200 * step0["scale"]
    due = (step0["err_init"] > G.FAR_INIT_REL * b) & (step0["err_final"] > 0.02 * b)
    assert due.any()
    np.testing.assert_array_equal(on["far_pass"], due)
    assert not (on["far_pass"] & on["loosened"]).any()
    wide = A.refine(*args, robust_scale=G.FAR_SCALE, far_scale=None, tighten=None)
    np.testing.assert_array_equal(on["rotmat"][due], wide["rotmat"][due])
    np.testing.assert_array_equal(on["rotmat"][~due], step0["rotmat"][~due])


def test_tightened_pass_is_off_with_none_one_or_the_plain_fit(fb, scene):
    args = _scene_args(fb, scene)
    sub = tuple(a[:8] if isinstance(a, np.ndarray) and len(a) == 40 else a for a in args)
    off, one = A.refine(*sub, tighten=None), A.refine(*sub, tighten=1.0)
    np.testing.assert_array_equal(off["rotmat"], one["rotmat"])
    assert not off["loosened"].any() and not one["loosened"].any()
    plain = A.refine(*sub, starts="one", accept=False)  # --no-guard: the fit as it is
    np.testing.assert_array_equal(plain["rotmat"], A.refine(*sub, starts="one", accept=False,
                                                            tighten=None)["rotmat"])
    assert not plain["loosened"].any()
    assert G.tighten_of(1) is None and G.tighten_of(None) is None and G.tighten_of(2) == 2.0


def test_tightened_pass_is_on_by_default_only_without_a_population_pose_prior(fb, scene):
    # 'auto': TIGHTEN without pose_prior, off with one (there it held poor starts away from what
    # the population prior and the keypoints agreed on: round 16); a number turns it on anyway
    assert G.tighten_of("auto") == G.TIGHTEN == 2.0
    assert G.tighten_of("auto", pose_prior=object()) is None
    assert G.tighten_of(3.0, pose_prior=object()) == 3.0
    args = _scene_args(fb, scene)
    sub = tuple(a[:8] if isinstance(a, np.ndarray) and len(a) == 40 else a for a in args)
    prior = PosePrior(np.zeros((1, 69)), np.eye(69)[None] * 0.3 ** 2, np.ones(1))
    auto = A.refine(*sub, pose_prior=prior)
    off = A.refine(*sub, pose_prior=prior, tighten=None)
    np.testing.assert_array_equal(auto["rotmat"], off["rotmat"])
    assert not auto["loosened"].any()
    on = A.refine(*sub, pose_prior=prior, tighten=2.0)
    assert not np.array_equal(on["rotmat"], off["rotmat"])


@pytest.mark.parametrize("bad, err", [("2", TypeError), ("on", TypeError), (True, TypeError),
                                      (0.5, ValueError),
                                      (0.0, ValueError), (float("nan"), ValueError),
                                      (float("inf"), ValueError)])
def test_tighten_rejects_what_is_not_a_factor_of_at_least_one(fb, scene, bad, err):
    W, H = scene["img_size"]
    with pytest.raises(err, match="tighten"):
        A.refine(fb, scene["init_rotmat"][:2], scene["init_betas"][:2], scene["init_transl"][:2],
                 scene["keypoints"][:2], scene["boxes"][:2], (W, H), scene["focal"], tighten=bad)


def test_annotate_writes_whose_result_was_loosened(fb, scene, body, tmp_path):
    # fit_loosened in the file is refine()'s loosened for the same people
    s = {k: (v[:12] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    r = A.refine(*_scene_args(fb, s))
    assert r["loosened"].any()
    z = _annotated(body, s, tmp_path)
    assert z["fit_loosened"].dtype == bool
    np.testing.assert_array_equal(z["fit_loosened"], r["loosened"])


def test_tightened_pass_keeps_a_moderate_start_from_being_made_worse(body, fb):
    # A moderate start (the benchmark's moderate severity: joints 8 deg, root 15 deg, shape 0.5
    # and depth 5 % off, 5 % gross outliers; scene seed 23, person 12 of 200): at the given
    # start-prior strength the guard bends the body towards its noisy keypoints and lands in a
    # worse basin, PA-MPJPE 98 -> 147 mm, 25 px from the keypoints; with the start priors twice
    # as strong the tightened pass stays in the estimate's basin, meets the keypoints more
    # closely (13 px) and improves the PA-MPJPE to 59 mm
    sc = S.make_scene(body, 200, seed=23, outliers=0.05, offcentre=0.95, rot_noise_deg=8,
                      root_noise_deg=15, beta_noise=0.5, transl_noise=0.05)
    one = slice(12, 13)
    s = {k: (v[one] if isinstance(v, np.ndarray) else v) for k, v in sc.items()}
    args = _scene_args(fb, s)
    pa = lambda R, b, t: _pa_mpjpe(body, sc, one, {"rotmat": R, "betas": b, "transl": t})  # noqa: E731
    start = pa(s["init_rotmat"], s["init_betas"], s["init_transl"])
    given, on = A.refine(*args, tighten=None), A.refine(*args)
    assert pa(given["rotmat"], given["betas"], given["transl"]) > start + 0.03  # metres
    assert pa(on["rotmat"], on["betas"], on["transl"]) < start - 0.03
    assert not on["loosened"][0] and not on["far_pass"][0]
    assert on["err_final"][0] < given["err_final"][0] - 5.0


def test_part_start_lets_go_of_the_outliers_a_fit_followed(body, fb):
    # A poor start (the benchmark's poor severity; scene seed 5, person 97) whose right eye is a
    # gross outlier: the guard without part starts turns the head towards it (8 px) and gives
    # up both ears (45, 104 px) and the right elbow (51 px): 21.4 px from the genuine
    # keypoints, yet under restart_rel of the box with the outlier counted, so only the
    # keypoints it gives up (PART_KEYPOINTS of them beyond PART_REL of the box) send it to the
    # part starts. Refitted without one part's keypoints, then with all of them, it lets the
    # outlier go and meets the ears (7.3 px from the genuine keypoints), 4.6 lower on the same
    # objective
    sc, one, args = S.poor_person(body, fb, 5, 97)
    assert np.flatnonzero(sc["outlier"][one][0]).tolist() == [2]  # COCO-17 right eye
    off, on = A.refine(*args, parts=False), A.refine(*args)
    box = 200 * off["scale"][0]
    assert _genuine_error(body, sc, one, off) > 20 and off["err_final"][0] < 0.02 * box
    assert (off["kp_err"][0] > G.PART_REL * box).sum() >= G.PART_KEYPOINTS
    assert off["kp_err"][0, 2] < 10 and on["kp_err"][0, 2] > 100
    assert on["start"][0] == 14 and _genuine_error(body, sc, one, on) < 10
    assert on["objective"][0] < off["objective"][0] - G.LIMB_MARGIN


def _guard_args(fb, sc):
    """fit_guarded_once's positional arguments for a whole scene (COCO-17, box-height norm)."""
    W, H = sc["img_size"]
    n = len(sc["rotmat"])
    return (fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
            COCO17_TO_SMPLX, np.full(n, sc["focal"]), np.tile([W / 2, H / 2], (n, 1)),
            200 * A.center_scale(sc["boxes"])[1])


def test_part_starts_change_only_whom_they_lower_by_the_margin(body, fb):
    # the pass replaces a kept fit only where a part start lowers the objective by more than
    # LIMB_MARGIN (codes 14, 15); every other person's result is the one without the pass
    sc = S.make_scene(body, 60, seed=31, outliers=0.05, offcentre=0.95, rot_noise_deg=15,
                      root_noise_deg=30, beta_noise=1.0, transl_noise=0.10)
    args = _guard_args(fb, sc)
    off = G.fit_guarded_once(*args, parts=False, accept=False)
    on = G.fit_guarded_once(*args, accept=False)
    moved = np.isin(on["start"], (14, 15))
    assert moved.any()
    assert np.all(on["objective"][moved] < off["objective"][moved] - G.LIMB_MARGIN)
    for key in ("rotmat", "betas", "transl", "objective", "start"):
        np.testing.assert_array_equal(on[key][~moved], off[key][~moved])
    # a broad-root result's part start stays under the broad component (code 15)
    assert np.all(np.isin(off["start"][on["start"] == 15], (11, 13)))


def test_part_starts_are_off_with_one_start(fb, scene):
    args = _guard_args(fb, scene)
    a = G.fit_guarded_once(*args, starts="one")
    b = G.fit_guarded_once(*args, starts="one", parts=False)
    np.testing.assert_array_equal(a["rotmat"], b["rotmat"])
    assert not np.isin(a["start"], (14, 15)).any()
