"""The annotator: C fitter Jacobians, refinement quality on synthetic scenes, pseudo-GT output,
bad input. Synthetic data comes from cliff.synthetic (procedural stand-in body)."""
import os

import numpy as np
import pytest

from cliff import annotate as A
from cliff import fit as F
from cliff import losses as L
from cliff import synthetic as S
from cliff.keypoints import COCO17_TO_SMPLX


@pytest.fixture(scope="module")
def body():
    return S.procedural_body(0)


@pytest.fixture(scope="module")
def fb(body):
    return F.FitBody.from_smpl(body)


@pytest.fixture(scope="module")
def scene(body):
    return S.make_scene(body, 120, seed=11, rot_noise_deg=8, root_noise_deg=15)


def _params(seed):
    rng = np.random.default_rng(seed)
    R0 = S.rodrigues(rng.normal(scale=0.5, size=(24, 3)))
    return R0, rng.normal(scale=0.3, size=(24, 3)), rng.normal(size=10), np.array([0.4, -0.3, 5.0])


def test_fit_joints_match_numpy_smpl_forward(body, fb):
    # independent float64 reference: full SMPL forward (all vertices shaped+posed, LBS), facts 10.3
    R0, phi, be, t = _params(1)
    J, uv, _, _ = F.fit_jacobian(fb, R0, phi, be, t, 1500.0, (960, 540))
    ref = S.smpl_forward(body, (R0 @ S.rodrigues(phi))[None], be[None], t[None])[0]
    np.testing.assert_allclose(J, ref, atol=1e-12)
    np.testing.assert_allclose(uv, 1500 * ref[:, :2] / ref[:, 2:] + [960, 540], atol=1e-9)


def test_fit_jacobian_matches_central_differences(fb):
    # all 85 parameters (phi incl. pose blend shapes of vertex joints, betas, t), float64
    R0, phi, be, t = _params(2)
    J, uv, dJ, duv = F.fit_jacobian(fb, R0, phi, be, t, 1500.0, (960, 540))
    x = np.concatenate([phi.ravel(), be, t])
    eps = 1e-6
    num_J, num_uv = np.zeros_like(dJ), np.zeros_like(duv)
    for q in range(x.size):
        xs = []
        for s in (eps, -eps):
            y = x.copy()
            y[q] += s
            xs.append(F.fit_jacobian(fb, R0, y[:72].reshape(24, 3), y[72:82], y[82:], 1500.0, (960, 540)))
        num_J[..., q] = (xs[0][0] - xs[1][0]) / (2 * eps)
        num_uv[..., q] = (xs[0][1] - xs[1][1]) / (2 * eps)
    np.testing.assert_allclose(dJ, num_J, atol=1e-8)           # |dJ| ~ 1
    np.testing.assert_allclose(duv, num_uv, atol=1e-5 * np.abs(duv).max())


def test_refine_cuts_reprojection_error_and_improves_3d(body, fb, scene):
    sc = scene
    r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
                 sc["boxes"], sc["img_size"], sc["focal"])
    assert (r["status"] == 0).all()
    before, after = np.median(r["err_init"]), np.median(r["err_final"])
    assert after < 0.5 * before  # issue target: cut by >= 50 %
    assert after < 3.0           # close to the 2 px keypoint noise
    gt = sc["joints"][:, :24]
    J0 = S.smpl_forward(body, sc["init_rotmat"], sc["init_betas"], sc["init_transl"])[:, :24]
    J1 = S.smpl_forward(body, r["rotmat"], r["betas"], r["transl"])[:, :24]
    assert L.pa_mpjpe(J1, gt).mean() < 0.7 * L.pa_mpjpe(J0, gt).mean()
    root0 = L.rotation_angle_deg(sc["init_rotmat"][:, 0], sc["rotmat"][:, 0]).mean()
    root1 = L.rotation_angle_deg(r["rotmat"][:, 0], sc["rotmat"][:, 0]).mean()
    assert root1 < root0


def test_full_frame_loss_recovers_orientation_better_than_crop_loss(fb, scene):
    sc = scene
    args = (fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
            sc["boxes"], sc["img_size"], sc["focal"])
    full = A.refine(*args, loss="full")
    crop = A.refine(*args, loss="crop")
    ef = L.rotation_angle_deg(full["rotmat"][:, 0], sc["rotmat"][:, 0]).mean()
    ec = L.rotation_angle_deg(crop["rotmat"][:, 0], sc["rotmat"][:, 0]).mean()
    assert ef < 0.8 * ec


def test_fit_bad_input(fb, scene):
    sc = scene
    args = dict(body=fb, rotmat=sc["init_rotmat"][:2], betas=sc["init_betas"][:2],
                transl=sc["init_transl"][:2], keypoints=sc["keypoints"][:2],
                joint_index=COCO17_TO_SMPLX, focal=1000.0, principal_point=(960, 540),
                norm=np.full(2, 300.0))
    with pytest.raises(ValueError, match="kp"):
        F.fit_people(**{**args, "keypoints": sc["keypoints"][:2, :, :2]})
    with pytest.raises(ValueError, match="NaN"):
        bad = sc["init_betas"][:2].copy()
        bad[0, 0] = np.nan
        F.fit_people(**{**args, "betas": bad})
    with pytest.raises(ValueError, match="kp_joint"):
        F.fit_people(**{**args, "joint_index": np.full(17, 45)})
    with pytest.raises(ValueError, match="robust"):
        F.fit_people(**args, robust="cauchy")
    with pytest.raises(ValueError, match="options"):
        F.fit_people(**args, sigma_rel=0.0)
    with pytest.raises(TypeError, match="FitBody"):
        F.fit_people(**{**args, "body": {}})


def test_fit_skips_person_without_keypoints_and_behind_camera(fb, scene):
    sc = scene
    kp = sc["keypoints"][:3].copy()
    kp[0, :, 2] = 0                   # all-zero confidences
    t = sc["init_transl"][:3].copy()
    t[1, 2] = -5                      # behind the camera
    r = F.fit_people(fb, sc["init_rotmat"][:3], sc["init_betas"][:3], t, kp, COCO17_TO_SMPLX,
                     sc["focal"], (960, 540), np.full(3, 300.0))
    assert list(r["status"]) == [1, 2, 0]
    np.testing.assert_array_equal(r["rotmat"][:2], sc["init_rotmat"][:2])  # kept
    for v in r.values():
        assert np.isfinite(np.asarray(v, float)).all()


# ---- end to end (step 1 with a fake predictor = truth perturbed like a regressor) ----

def _images_and_predictor(sc, per_image=3):
    n = len(sc["rotmat"])
    W, H = sc["img_size"]
    images, kps, boxes = [], [], []
    for s in range(0, n, per_image):
        images.append(np.zeros((H, W, 3), np.uint8))
        kps.append(sc["keypoints"][s:s + per_image])
        boxes.append(sc["boxes"][s:s + per_image])
    order = iter(range(0, n, per_image))

    def predictor(image, bx, focal):
        s = next(order)
        m = len(bx)
        return {"rotmat": sc["init_rotmat"][s:s + m], "betas": sc["init_betas"][s:s + m],
                "t_full": sc["init_transl"][s:s + m]}
    return images, kps, boxes, predictor


def test_annotate_writes_released_pseudo_gt_layout(body, scene, tmp_path):
    sc = {k: (v[:9] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    images, kps, boxes, pred = _images_and_predictor(sc)
    out = tmp_path / "pgt.npz"
    res = A.annotate(images, kps, smpl=body, boxes=boxes, predictor=pred, output=str(out),
                     progress=False)
    z = np.load(out)
    for k in A.PSEUDO_GT_KEYS:
        assert k in z.files, k
    n = 9
    assert z["part"].shape == (n, 24, 3) and z["pose"].shape == (n, 72) and z["S"].shape == (n, 24, 4)
    assert z["shape"].shape == (n, 10) and z["global_t"].shape == (n, 3) and z["center"].shape == (n, 2)
    for k in z.files:
        if z[k].dtype.kind == "f":
            assert np.isfinite(z[k]).all(), k
    # pose is the axis-angle of the fitted rotations: reconstruct and compare projections
    R = S.rodrigues(z["pose"].reshape(n, 24, 3))
    J = S.smpl_forward(body, R, z["shape"], z["global_t"])
    uv = z["focal_l"][:, None, None] * J[:, COCO17_TO_SMPLX, :2] / J[:, COCO17_TO_SMPLX, 2:] + np.array(sc["img_size"]) / 2
    vis = sc["keypoints"][..., 2] > 0
    err = np.linalg.norm(uv - sc["keypoints"][..., :2], axis=-1)[vis]
    assert np.median(err) < 4.0
    np.testing.assert_allclose(z["fit_err"], res["fit_err"])
    assert (z["fit_err"] < z["fit_err_init"]).all()
    # S is pelvis aligned: the pelvis (MPII) slot is at the origin
    np.testing.assert_allclose(z["S"][:, 14, :3], 0, atol=1e-12)
    assert (z["S"][:, 13, 3] == 0).all() and (z["S"][:, 0, 3] == 1).all()


def test_annotate_skips_bad_people_and_raises_on_mismatch(body, scene, tmp_path):
    sc = {k: (v[:3] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    sc["keypoints"] = sc["keypoints"].copy()
    sc["keypoints"][0, :, 2] = 0                     # all-zero confidences -> skipped
    sc["keypoints"][1, :, :2] += 1e5                 # all out of the image -> dropped -> skipped
    images, kps, boxes, pred = _images_and_predictor(sc)
    res = A.annotate(images, kps, smpl=body, boxes=None, predictor=pred, progress=False)
    assert len(res["pose"]) == 1
    assert sorted(p for _, p, _ in res["skipped"]) == [0, 1]
    with pytest.raises(ValueError, match="boxes\\[0\\]"):
        A.annotate(images, kps, smpl=body, boxes=[sc["boxes"][:2]], predictor=pred, progress=False)
    with pytest.raises(ValueError, match="one entry per image"):
        A.annotate(images, kps + kps, smpl=body, predictor=pred, progress=False)


def test_atomic_write_keeps_old_file_on_interrupt(tmp_path, monkeypatch):
    out = tmp_path / "x.npz"
    A.save_npz_atomic(str(out), {"a": np.arange(3)})

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        A.save_npz_atomic(str(out), {"a": np.arange(5)})
    monkeypatch.undo()
    assert list(np.load(out)["a"]) == [0, 1, 2]
    assert os.listdir(tmp_path) == ["x.npz"]  # no temporary left behind


# ---- against the project's SMPL (C, float32) on the project's stand-in body ----

def test_fit_joints_match_cliff_smpl_on_standin():
    import cliff
    from cliff.standin import smpl_arrays
    arrays = smpl_arrays(3)
    fbs = F.FitBody.from_smpl(arrays, vertex_ids=cliff.SMPL(arrays).vertex_joint_ids)
    R0, phi, be, t = _params(4)
    J = F.fit_jacobian(fbs, R0, phi, be, t, 1000.0, (0, 0))[0]
    ref = cliff.SMPL(arrays)(rotmat=(R0 @ S.rodrigues(phi))[None], betas=be[None], transl=t[None],
                             vertices=False)["joints"][0]
    np.testing.assert_allclose(J, ref, atol=2e-5)  # reference computes in float32


def test_fit_jacobian_central_differences_on_standin():
    from cliff.standin import smpl_arrays
    fbs = F.FitBody.from_smpl(smpl_arrays(5))
    R0, phi, be, t = _params(6)
    _, _, dJ, _ = F.fit_jacobian(fbs, R0, phi, be, t, 1000.0, (0, 0))
    x = np.concatenate([phi.ravel(), be, t])
    eps = 1e-6
    for q in range(0, x.size, 7):  # a spread of parameters: rotations, betas, translation
        y1, y2 = x.copy(), x.copy()
        y1[q] += eps
        y2[q] -= eps
        j1 = F.fit_jacobian(fbs, R0, y1[:72].reshape(24, 3), y1[72:82], y1[82:], 1000.0, (0, 0))[0]
        j2 = F.fit_jacobian(fbs, R0, y2[:72].reshape(24, 3), y2[72:82], y2[82:], 1000.0, (0, 0))[0]
        np.testing.assert_allclose(dJ[..., q], (j1 - j2) / (2 * eps), atol=1e-8)


def test_default_predictor_rejects_non_model():
    with pytest.raises(TypeError, match="predict"):
        A.default_predictor(object())
