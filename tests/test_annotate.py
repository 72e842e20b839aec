"""The annotator: C fitter Jacobians, refinement quality on synthetic scenes, pseudo-GT output,
bad input. Synthetic scenes come from tests/reference/scenes.py (procedural stand-in body of
cliff._standin)."""
import os

import numpy as np
import pytest

from cliff.annotate import annotator as A
from cliff.annotate import fit as F
from cliff.annotate import losses as L
from reference import scenes as S
from cliff.annotate.keypoints import COCO17_TO_SMPLX


@pytest.fixture(scope="module")
def scene(body):
    return S.make_scene(body, 120, seed=11, rot_noise_deg=8, root_noise_deg=15)


def _params(seed):
    rng = np.random.default_rng(seed)
    R0 = S.rodrigues(rng.normal(scale=0.5, size=(24, 3)))
    return R0, rng.normal(scale=0.3, size=(24, 3)), rng.normal(size=10), np.array([0.4, -0.3, 5.0])


def test_fit_joints_match_numpy_smpl_forward(body, fb):
    # independent float64 reference: full SMPL forward (all vertices shaped+posed, LBS), docs/official.md#smpl-forward
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
    # the loss's own effect on the orientation: a weak root prior (w_root = 1) lets the loss
    # decide (the default w_root = 30 holds the root near the estimate for both losses)
    full = A.refine(*args, loss="full", w_root=1.0)
    crop = A.refine(*args, loss="crop", w_root=1.0)
    ef = L.rotation_angle_deg(full["rotmat"][:, 0], sc["rotmat"][:, 0]).mean()
    ec = L.rotation_angle_deg(crop["rotmat"][:, 0], sc["rotmat"][:, 0]).mean()
    assert ef < 0.8 * ec


def test_fit_bad_input(fb, scene):
    sc = scene
    args = dict(body=fb, rotmat=sc["init_rotmat"][:2], betas=sc["init_betas"][:2],
                transl=sc["init_transl"][:2], keypoints=sc["keypoints"][:2],
                joint_index=COCO17_TO_SMPLX, focal=1000.0, principal_point=(960, 540),
                norm=np.full(2, 300.0))
    # errors name fit_people's own arguments (not the C function's kp/kp_joint/betas0)
    with pytest.raises(ValueError, match=r"^keypoints: expected shape \(n, M, 3\)"):
        F.fit_people(**{**args, "keypoints": sc["keypoints"][:2, :, :2]})
    with pytest.raises(ValueError, match=r"^betas: .*NaN.*betas\[0, 0\]"):
        bad = sc["init_betas"][:2].copy()
        bad[0, 0] = np.nan
        F.fit_people(**{**args, "betas": bad})
    with pytest.raises(ValueError, match=r"^betas: expected shape \(n, K\) = \(2, 10\)"):
        F.fit_people(**{**args, "betas": sc["init_betas"][:2, :5]})
    with pytest.raises(ValueError, match=r"^transl: expected shape"):
        F.fit_people(**{**args, "transl": sc["init_transl"][:1]})
    with pytest.raises(ValueError, match=r"^joint_index\[0\] = 99: expected a model joint in 0\.\.44 or -1"):
        F.fit_people(**{**args, "joint_index": np.r_[99, COCO17_TO_SMPLX[1:]]})
    with pytest.raises(ValueError, match=r"^joint_index: expected shape \(17,\)"):
        F.fit_people(**{**args, "joint_index": COCO17_TO_SMPLX[:5]})
    with pytest.raises(ValueError, match=r"^joint_index\[2\] = -3"):
        F.fit_people(**{**args, "joint_index": np.r_[0, 1, -3, COCO17_TO_SMPLX[3:]]})
    with pytest.raises(ValueError, match=r"^keypoints: .*NaN.*keypoints\[1, 4, 0\]"):
        kp = sc["keypoints"][:2].copy()
        kp[1, 4, 0] = np.inf
        F.fit_people(**{**args, "keypoints": kp})
    with pytest.raises(ValueError, match="robust"):
        F.fit_people(**args, robust="cauchy")
    with pytest.raises(ValueError, match="^sigma_rel: expected a finite number > 0"):
        F.fit_people(**args, sigma_rel=0.0)
    with pytest.raises(ValueError, match="^w_pose: expected a finite number >= 0"):
        F.fit_people(**args, w_pose=-1.0)
    with pytest.raises(ValueError, match="^tol"):
        F.fit_people(**args, tol=float("nan"))
    with pytest.raises(ValueError, match="norm"):
        F.fit_people(**{**args, "norm": np.zeros(2)})
    with pytest.raises(ValueError, match="focal"):
        F.fit_people(**{**args, "focal": -1.0})
    with pytest.raises(TypeError, match="FitBody"):
        F.fit_people(**{**args, "body": {}})


def test_fit_rejects_negative_confidence_naming_the_entry(fb, scene):
    # a negative confidence would be a negative weight in the objective: ValueError that names
    # the argument and the first offending entry (files clip them to 0 instead, see below)
    sc = scene
    kp = sc["keypoints"][:2].copy()
    kp[1, 5, 2] = -0.5
    with pytest.raises(ValueError, match=r"^keypoints\[1, 5, 2\] = -0.5: confidences must be >= 0"):
        F.fit_people(fb, sc["init_rotmat"][:2], sc["init_betas"][:2], sc["init_transl"][:2], kp,
                     COCO17_TO_SMPLX, 1000.0, (960, 540), np.full(2, 300.0))


def test_fit_jacobian_errors_name_its_arguments(fb):
    R0, phi, be, t = _params(1)
    with pytest.raises(ValueError, match=r"^betas: expected shape \(10,\)"):
        F.fit_jacobian(fb, R0, phi, be[:3], t, 1000.0, (0, 0))
    with pytest.raises(ValueError, match=r"^transl: .*NaN"):
        F.fit_jacobian(fb, R0, phi, be, np.array([0, 0, np.nan]), 1000.0, (0, 0))
    with pytest.raises(ValueError, match=r"^focal: expected a finite number > 0"):
        F.fit_jacobian(fb, R0, phi, be, t, 0.0, (0, 0))


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
    from cliff._standin import smpl_arrays
    arrays = smpl_arrays(3)
    fbs = F.FitBody.from_smpl(arrays, vertex_ids=cliff.SMPL(arrays).vertex_joint_ids)
    R0, phi, be, t = _params(4)
    J = F.fit_jacobian(fbs, R0, phi, be, t, 1000.0, (0, 0))[0]
    ref = cliff.SMPL(arrays)(rotmat=(R0 @ S.rodrigues(phi))[None], betas=be[None], transl=t[None],
                             vertices=False)["joints"][0]
    np.testing.assert_allclose(J, ref, atol=2e-5)  # reference computes in float32


@pytest.mark.parametrize("make,num_betas", [("smpl_arrays", 10), ("procedural_body", 10),
                                             ("procedural_body", 4)])
def test_fit_body_from_the_core_equals_the_numpy_formulas(make, num_betas):
    # J0 = J_regressor v_template, Jdirs = J_regressor shapedirs and the vertex joints' rows,
    # computed by the core from a cliff.SMPL or from the arrays, against float64 NumPy
    # (tests/reference/numpy_body.fit_body_arrays): equal up to float64 rounding
    import cliff
    from cliff import _standin
    from reference.numpy_body import fit_body_arrays
    arrays = getattr(_standin, make)(7)
    ref = fit_body_arrays(arrays, num_betas)
    for fb in (F.FitBody.from_smpl(arrays, num_betas),
               cliff.SMPL(arrays, num_betas=num_betas).fit_body(),
               F.FitBody.from_smpl(cliff.SMPL(arrays), num_betas)):
        for k, want in ref.items():
            got = getattr(fb, k)
            assert got.shape == want.shape and got.dtype == want.dtype, k
            assert np.abs(got - want).max() <= 1e-15 * max(1.0, np.abs(want).max()) * 24, k


def test_fit_body_rejects_foreign_vertex_ids_too_many_betas_and_other_types():
    import cliff
    from cliff._standin import smpl_arrays
    arrays = smpl_arrays(1)
    with pytest.raises(ValueError, match="vertex_ids"):
        F.FitBody.from_smpl(arrays, vertex_ids=np.arange(21))
    with pytest.raises(ValueError, match="num_betas"):
        F.FitBody.from_smpl(arrays, num_betas=11)
    with pytest.raises(ValueError, match="num_betas"):
        cliff.SMPL(arrays, num_betas=4).fit_body(5)
    with pytest.raises(ValueError, match="missing arrays"):
        F.FitBody.from_smpl({"v_template": arrays["v_template"]})
    with pytest.raises(TypeError, match="smpl"):
        F.FitBody.from_smpl([1, 2, 3])


def test_fit_jacobian_central_differences_on_standin():
    from cliff._standin import smpl_arrays
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


# ---- keypoints files and the CLI (with a fake CLIFF model: perturbed truth by box) ----

def _write_scene_files(tmp_path, sc, per_image=2, fmt="json"):
    import json
    import cv2
    W, H = sc["img_size"]
    n = len(sc["rotmat"])
    imgdir = tmp_path / "imgs"
    imgdir.mkdir()
    images, anns = [], []
    for k, s in enumerate(range(0, n, per_image)):
        name = f"im{k}.png"
        cv2.imwrite(str(imgdir / name), np.zeros((H, W, 3), np.uint8))
        images.append({"id": k, "file_name": name})
        for p in range(s, min(n, s + per_image)):
            kp = sc["keypoints"][p].copy()
            kp[:, 2] = np.where(kp[:, 2] > 0, 2, 0)  # COCO visibility flags
            b = sc["boxes"][p]
            anns.append({"image_id": k, "keypoints": kp.ravel().tolist(),
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    path = tmp_path / "kp.json"
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    return imgdir, path


class _FakeModel:
    """Stands in for cliff.load_model(...): returns the scene's perturbed truth for the person
    whose box centre is nearest."""
    def __init__(self, sc):
        self.sc = sc
        self.c = (sc["boxes"][:, :2] + sc["boxes"][:, 2:]) / 2

    def predict(self, crops, boxes, img_size, focal=None):
        assert crops.shape[1:] == (3, 256, 192)
        i = np.argmin(((np.asarray(boxes)[:, None, :2] - self.c[None]) ** 2).sum(-1), 1)
        return {"rotmat": self.sc["init_rotmat"][i], "betas": self.sc["init_betas"][i],
                "t_full": self.sc["init_transl"][i]}


def test_load_keypoint_file_json_and_npz(scene, tmp_path):
    sc = {k: (v[:5] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    _, path = _write_scene_files(tmp_path, sc)
    from cliff.annotate.keypoints import load_keypoint_file
    entries = load_keypoint_file(path)
    assert [e[0] for e in entries] == ["im0.png", "im1.png", "im2.png"]
    assert entries[0][1].shape == (2, 17, 3) and entries[2][1].shape == (1, 17, 3)
    np.testing.assert_allclose(entries[1][2], sc["boxes"][2:4])
    assert set(np.unique(entries[0][1][..., 2])) <= {0.0, 1.0}
    npz = tmp_path / "kp.npz"
    np.savez(npz, imgname=np.array(["a", "b", "a"]), keypoints=sc["keypoints"][:3])
    e2 = load_keypoint_file(npz)
    assert [e[0] for e in e2] == ["a", "b"] and e2[0][1].shape == (2, 17, 3) and e2[0][2] is None
    bad = tmp_path / "bad.json"
    bad.write_text('{"annotations": [{"image_id": 7, "keypoints": [1, 2, 2]}]}')
    with pytest.raises(ValueError, match="image_id 7"):
        load_keypoint_file(bad)
    with pytest.raises(OSError, match="no such file"):
        load_keypoint_file(tmp_path / "nope.json")


def test_cli_annotate_end_to_end(scene, tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    import argparse
    from cliff.cli import annotate as cli_annotate
    from cliff.io import save_smpl_npz
    sc = {k: (v[:4] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    imgdir, kpath = _write_scene_files(tmp_path, sc)
    body = S.procedural_body(0)
    smpl_path = tmp_path / "smpl.npz"
    save_smpl_npz(str(smpl_path), body)
    import cliff.model
    monkeypatch.setattr(cliff.model, "load_model", lambda path: _FakeModel(sc))
    parser = argparse.ArgumentParser()
    cli_annotate.add_parser(parser.add_subparsers(dest="cmd"))
    out = tmp_path / "pgt.npz"
    (tmp_path / "x.pt").write_bytes(b"")  # load_model is faked; the file must exist
    args = parser.parse_args(["annotate", "--images", str(imgdir), "--keypoints", str(kpath),
                              "--ckpt", str(tmp_path / "x.pt"), "--smpl", str(smpl_path), "-o", str(out),
                              "--no-progress"])
    assert cli_annotate.run(args) == 0
    z = np.load(out)
    assert len(z["pose"]) == 4 and list(z["imgname"]) == ["im0.png", "im0.png", "im1.png", "im1.png"]
    assert np.median(z["fit_err"]) < 0.5 * np.median(z["fit_err_init"])
    args.images = str(tmp_path / "missing")
    with pytest.raises(OSError, match="--images"):
        cli_annotate.run(args)


def test_annotate_with_a_real_cliff_network(body, scene):
    # step 1 through the real path (cliff.crop + Model.predict) with random official-layout
    # weights: the estimate is meaningless, but the pipeline must run and stay finite
    from cliff._standin import random_state_dict
    from cliff.model import Model
    model = Model.from_state_dict(random_state_dict("res50", 0))
    sc = {k: (v[:3] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    W, H = sc["img_size"]
    res = A.annotate([np.zeros((H, W, 3), np.uint8)], [sc["keypoints"]], model, body,
                     boxes=[sc["boxes"]], progress=False)
    assert len(res["pose"]) + len(res["skipped"]) == 3
    for k, v in res.items():
        if k not in ("skipped", "input_errors") and v.dtype.kind == "f":
            assert np.isfinite(v).all(), k
    assert (res["fit_err"] <= res["fit_err_init"]).all()


def _numpy_cost(body, R0, phi, betas, t, betas0, kp, jidx, f, pp, norm, o):
    """Independent float64 NumPy statement of the fitter's objective (cliff.annotate.fit docstring)."""
    J = S.smpl_forward(body, (R0 @ S.rodrigues(phi))[None], betas[None], t[None])[0][jidx]
    uv = f * J[:, :2] / J[:, 2:] + pp
    sq = ((uv - kp[:, :2]) ** 2).sum(-1) / (o["sigma_rel"] * norm) ** 2
    c2 = o["robust_scale"] ** 2
    cost = (kp[:, 2] * c2 * sq / (sq + c2)).sum()
    cost += o["w_root"] * (phi[0] ** 2).sum() + o["w_pose"] * (phi[1:] ** 2).sum()
    cost += o["w_betas_init"] * ((betas - betas0) ** 2).sum() + o["w_shape"] * (betas ** 2).sum()
    return cost


def test_fit_result_is_a_local_minimum_of_the_stated_objective(body, fb, scene):
    o = dict(sigma_rel=0.01, robust_scale=3.0, w_root=1.0, w_pose=10.0, w_betas_init=1.0, w_shape=0.1)
    sc = scene
    i = 3
    W, H = sc["img_size"]
    pp = np.array([W / 2, H / 2])
    norm = 300.0
    r = F.fit_people(fb, sc["init_rotmat"][i:i + 1], sc["init_betas"][i:i + 1], sc["init_transl"][i:i + 1],
                     sc["keypoints"][i:i + 1], COCO17_TO_SMPLX, sc["focal"], pp, [norm],
                     max_iter=200, tol=1e-12, robust="gm", w_transl=0.0, **o)
    assert r["converged"][0]
    args = (sc["init_rotmat"][i], sc["init_betas"][i], sc["keypoints"][i], COCO17_TO_SMPLX,
            sc["focal"], pp, norm, o)

    def cost(phi, be, t):
        return _numpy_cost(body, args[0], phi, be, t, args[1], *args[2:])
    c_init = cost(np.zeros((24, 3)), sc["init_betas"][i], sc["init_transl"][i])
    c_fit = cost(r["phi"][0], r["betas"][0], r["transl"][0])
    assert c_fit < 0.2 * c_init
    rng = np.random.default_rng(0)
    x = np.concatenate([r["phi"][0].ravel(), r["betas"][0], r["transl"][0]])
    for _ in range(10):  # no random direction decreases the cost (first-order optimality)
        d = rng.normal(size=x.size) * 1e-4
        for s in (1, -1):
            y = x + s * d
            assert cost(y[:72].reshape(24, 3), y[72:82], y[82:]) >= c_fit - 1e-9 * c_fit


def test_annotate_skips_person_whose_box_is_missing(body, scene):
    sc = {k: (v[:3] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    images, kps, boxes, pred = _images_and_predictor(sc)
    boxes = [boxes[0].copy()]
    boxes[0][1] = 0  # person 1: no box (all zeros)
    res = A.annotate(images, kps, smpl=body, boxes=boxes, predictor=pred, progress=False)
    assert [(p, why) for _, p, why in res["skipped"]] == [(1, "no usable box")]
    assert len(res["pose"]) == 2


def test_robust_loss_resists_outliers_better_than_l2(body, fb):
    sc = S.make_scene(body, 60, seed=21, outliers=0.2, rot_noise_deg=8, root_noise_deg=15)
    gt = sc["joints"][:, :24]
    pa = {}
    for robust in ("gm", "huber", "none"):
        r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], sc["keypoints"],
                     sc["boxes"], sc["img_size"], sc["focal"], robust=robust)
        J = S.smpl_forward(body, r["rotmat"], r["betas"], r["transl"])[:, :24]
        pa[robust] = L.pa_mpjpe(J, gt).mean()
    assert pa["gm"] < pa["none"] and pa["huber"] < pa["none"]


def test_refine_accepts_part24_and_openpose_layouts(body, fb, scene):
    from cliff.annotate.keypoints import OPENPOSE25_TO_SMPLX, to_part24
    sc = {k: (v[:20] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    part = to_part24(sc["keypoints"])
    r = A.refine(fb, sc["init_rotmat"], sc["init_betas"], sc["init_transl"], part, sc["boxes"],
                 sc["img_size"], sc["focal"])
    assert np.median(r["err_final"]) < 0.5 * np.median(r["err_init"])
    op = S.make_scene(body, 20, seed=4, keypoint_index=OPENPOSE25_TO_SMPLX)
    r = A.refine(fb, op["init_rotmat"], op["init_betas"], op["init_transl"], op["keypoints"],
                 op["boxes"], op["img_size"], op["focal"])
    assert np.median(r["err_final"]) < 0.5 * np.median(r["err_init"])


def test_fit_people_accepts_strided_bigendian_inputs_and_threads_agree(fb, scene):
    import threading
    sc = scene
    n = 10
    args = (fb, sc["init_rotmat"][:n], sc["init_betas"][:n], sc["init_transl"][:n],
            sc["keypoints"][:n], COCO17_TO_SMPLX, sc["focal"], (960, 540), np.full(n, 300.0))
    ref = F.fit_people(*args)
    kp_be = sc["keypoints"][:n].astype(">f8")
    R_strided = np.repeat(sc["init_rotmat"][:n], 2, axis=0)[::2]
    R_strided.setflags(write=False)
    alt = F.fit_people(fb, R_strided, args[2], args[3], kp_be, *args[5:])
    np.testing.assert_array_equal(alt["rotmat"], ref["rotmat"])
    out = [None] * 4

    def work(k):
        out[k] = F.fit_people(*args)["rotmat"]
    th = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    [t.start() for t in th]
    [t.join() for t in th]
    for o in out:
        np.testing.assert_array_equal(o, ref["rotmat"])


def test_fit_computes_only_the_supervised_vertex_joints_and_the_result_is_the_same(fb, scene):
    # the fitter skips the vertex joints no keypoint names (their positions and Jacobian rows
    # are never read); naming every other vertex joint with confidence 0 (no pull at all) makes
    # it compute them all, and must change nothing, bit for bit, including the spread that reads
    # the Gauss-Newton matrix
    sc, n = scene, 12
    nv = len(fb.vt)  # vertex joints 24..24 + nv - 1
    named = set(int(j) for j in COCO17_TO_SMPLX if j >= 24)
    extra = [24 + v for v in range(nv) if 24 + v not in named]
    assert extra, "the body must have vertex joints the keypoints do not name"
    jidx = np.concatenate([COCO17_TO_SMPLX, extra])
    kp = np.concatenate([sc["keypoints"][:n], np.zeros((n, len(extra), 3))], 1)
    common = (sc["focal"], (960, 540), np.full(n, 300.0))
    init = (sc["init_rotmat"][:n], sc["init_betas"][:n], sc["init_transl"][:n])
    a = F.fit_people(fb, *init, sc["keypoints"][:n], COCO17_TO_SMPLX, *common)
    b = F.fit_people(fb, *init, kp, jidx, *common)
    for key in ("rotmat", "betas", "transl", "objective", "spread", "iterations", "err_final"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_interrupted_annotate_writes_nothing(body, scene, tmp_path):
    sc = {k: (v[:6] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    images, kps, boxes, pred = _images_and_predictor(sc)
    calls = []

    def interrupting(image, bx, focal):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return pred(image, bx, focal)
    out = tmp_path / "pgt.npz"
    with pytest.raises(KeyboardInterrupt):
        A.annotate(images, kps, smpl=body, boxes=boxes, predictor=interrupting, output=str(out),
                   progress=True)
    assert os.listdir(tmp_path) == []


def test_cliff_torch_imports_without_torch():
    import subprocess
    import sys
    code = "import sys, cliff.torch, cliff.losses; assert 'torch' not in sys.modules"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_bad_parents_rejected(fb):
    import dataclasses
    bad = dataclasses.replace(fb, parents=np.r_[-1, 0, 5, fb.parents[3:]].astype(np.int64))
    R0, phi, be, t = _params(1)
    with pytest.raises(ValueError, match="parents"):
        F.fit_jacobian(bad, R0, phi, be, t, 1000.0, (0, 0))


def test_fit_people_bad_focal_and_max_iter_name_the_argument(fb):
    """A string focal raises TypeError naming focal (not NumPy's bare 'could not convert');
    max_iter out of range or not an integer raises ValueError naming max_iter."""
    args = dict(body=fb, rotmat=np.tile(np.eye(3), (1, 24, 1, 1)), betas=np.zeros((1, 10)),
                transl=[[0, 0, 5.0]], keypoints=np.full((1, 17, 3), 200.0),
                joint_index=np.arange(17), focal=1000.0, principal_point=(256, 256), norm=[300.0])
    with pytest.raises(TypeError, match="^focal:"):
        F.fit_people(**{**args, "focal": "x"})
    for bad in (10**12, 0, 2.5):
        with pytest.raises(ValueError, match="^max_iter:"):
            F.fit_people(**args, max_iter=bad)


def test_predictor_with_wrong_output_is_a_clear_error(body, scene):
    sc = {k: (v[:3] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    images, kps, boxes, _ = _images_and_predictor(sc)

    def bad(image, bx, focal):
        return {"rotmat": np.zeros((1, 24, 3, 3)), "betas": np.zeros((1, 10)), "t_full": np.zeros((1, 3))}
    with pytest.raises(ValueError, match="predictor"):
        A.annotate(images, kps, smpl=body, boxes=boxes, predictor=bad, progress=False)


def test_fit_joints_match_smplx(body, fb, tmp_path):
    # the official library as reference: smplx's SMPL layer (float64) on the procedural body
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    from smplx.utils import Struct
    from cliff.io import save_smpl_npz
    path = tmp_path / "body.npz"
    save_smpl_npz(str(path), body)
    with np.load(path) as z:
        layer = smplx.SMPL(model_path=str(path), data_struct=Struct(**dict(z)), num_betas=10,
                           dtype=torch.float64)
    R0, phi, be, t = _params(8)
    R = torch.from_numpy((R0 @ S.rodrigues(phi))[None])
    with torch.inference_mode():
        ref = layer(global_orient=R[:, :1], body_pose=R[:, 1:], betas=torch.from_numpy(be[None]),
                    transl=torch.from_numpy(t[None]), pose2rot=False).joints[0].numpy()
    # smplx rounds the model arrays to float32 when loading: give our fitter the same numbers
    b32 = {k: (v.astype(np.float32).astype(np.float64) if v.dtype == np.float64 else v)
           for k, v in body.items()}
    J = F.fit_jacobian(F.FitBody.from_smpl(b32), R0, phi, be, t, 1000.0, (0, 0))[0]
    np.testing.assert_allclose(J, ref, atol=1e-12)


# ---- bad input: one bad image or person does not abort the run (like `cliff predict`) ----

def test_annotate_skips_missing_and_unreadable_images_and_nan_people(body, scene, tmp_path):
    import cv2
    sc = {k: (v[:8] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    W, H = sc["img_size"]
    paths = []
    for k in range(4):
        paths.append(str(tmp_path / f"im{k}.png"))
        cv2.imwrite(paths[-1], np.zeros((H, W, 3), np.uint8))
    os.remove(paths[1])                                  # image 1: missing
    with open(paths[2], "wb") as fh:                     # image 2: not an image
        fh.write(b"not a png")
    kps = [sc["keypoints"][2 * k:2 * k + 2].copy() for k in range(4)]
    kps[3][0, 5, 0] = np.nan                             # image 3, person 0: NaN keypoint
    pred = _FakeModel(sc)
    out = tmp_path / "pgt.npz"
    res = A.annotate(paths, kps, pred, body, boxes=[sc["boxes"][2 * k:2 * k + 2] for k in range(4)],
                     progress=False, output=str(out))
    # image 0 (2 people) and image 3 person 1 are written; the rest is skipped and reported
    assert list(res["imgname"]) == [paths[0], paths[0], paths[3]]
    assert [(i, p) for i, p, _ in res["input_errors"]] == [(1, -1), (2, -1), (3, 0)]
    assert "no such image file" in res["input_errors"][0][2]
    assert "not a readable image" in res["input_errors"][1][2]
    assert "NaN" in res["input_errors"][2][2]
    assert sorted((i, p) for i, p, _ in res["skipped"]) == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0)]
    assert len(np.load(out)["pose"]) == 3


def test_annotate_with_no_usable_input_raises_and_writes_nothing(body, scene, tmp_path):
    sc = {k: (v[:2] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    out = tmp_path / "pgt.npz"
    with pytest.raises(OSError, match="no usable input.*nope.png: no such image file"):
        A.annotate([str(tmp_path / "nope.png")], [sc["keypoints"]], _FakeModel(sc), body,
                   progress=False, output=str(out))
    kp = sc["keypoints"].copy()
    kp[:, 0, 2] = np.nan
    W, H = sc["img_size"]
    with pytest.raises(ValueError, match="no usable input.*NaN"):
        A.annotate([np.zeros((H, W, 3), np.uint8)], [kp], _FakeModel(sc), body, progress=False,
                   output=str(out))
    assert not out.exists()


@pytest.mark.parametrize("focal", [-5.0, 0.0, float("nan"), float("inf")])
def test_annotate_checks_focal_before_loading_anything(focal):
    # smpl="missing.pkl" and a predictor that fails: the focal error must come first
    def predictor(*a):
        raise AssertionError("predictor called before the arguments were checked")
    with pytest.raises(ValueError, match="^focal: expected a finite focal length > 0"):
        A.annotate(["missing.png"], [np.zeros((1, 17, 3))], smpl="missing.pkl", focal=focal,
                   predictor=predictor, refine="finetune", regressor="missing.pt", progress=False)
    with pytest.raises(ValueError, match="^loss"):
        A.annotate([], [], smpl="missing.pkl", predictor=predictor, loss="nope", progress=False)


def test_annotate_rejects_negative_confidence_naming_the_entry(body, scene):
    sc = {k: (v[:2] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    kp = sc["keypoints"].copy()
    kp[1, 3, 2] = -1.0
    W, H = sc["img_size"]
    with pytest.raises(ValueError, match=r"^keypoints\[0\]\[1, 3, 2\] = -1: confidences must be >= 0"):
        A.annotate([np.zeros((H, W, 3), np.uint8)], [kp], _FakeModel(sc), body, progress=False)


def test_load_keypoints_clips_negative_confidences_and_keeps_nan_people(scene, tmp_path):
    import json
    sc = {k: (v[:3] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    kp = sc["keypoints"].copy()
    kp[0, 2, 2] = -1.0            # some tools write -1 for "not labelled": clipped to 0
    kp[1, 4, 0] = np.nan          # a broken annotation: kept as NaN, annotate() skips the person
    npz = tmp_path / "kp.npz"
    np.savez(npz, imgname=np.array(["a", "a", "b"]), keypoints=kp)
    e = A.load_keypoints(npz)
    assert [x[0] for x in e] == ["a", "b"]
    assert e[0][1][0, 2, 2] == 0 and np.isnan(e[0][1][1, 4, 0])
    np.testing.assert_array_equal(e[1][1][0], kp[2])
    flat = kp[:2].reshape(2, -1).tolist()
    flat[0][2 * 3 + 2] = -2       # COCO v < 0: clipped to 0; v = 2 -> 1
    flat[1][4 * 3] = None         # JSON null -> NaN
    js = tmp_path / "kp.json"
    js.write_text(json.dumps({"annotations": [{"file_name": "a", "keypoints": f} for f in flat]}))
    (_, k, b), = A.load_keypoints(js)
    assert k[0, 2, 2] == 0 and np.isnan(k[1, 4, 0]) and b is None
    assert ((k[..., 2] >= 0) & (k[..., 2] <= 1)).all()
    with pytest.raises(ValueError, match="annotation 0: 4 numbers"):
        js.write_text(json.dumps({"annotations": [{"file_name": "a", "keypoints": [1, 2, 3, 4]}]}))
        A.load_keypoints(js)


@pytest.fixture()
def cli_files(scene, tmp_path, monkeypatch):
    """Images, a COCO JSON, an SMPL file and a (fake) checkpoint for 6 people in 3 images."""
    from cliff.io import save_smpl_npz
    import cliff.model
    sc = {k: (v[:6] if isinstance(v, np.ndarray) else v) for k, v in scene.items()}
    imgdir, kpath = _write_scene_files(tmp_path, sc)
    smpl_path = tmp_path / "smpl.npz"
    save_smpl_npz(str(smpl_path), S.procedural_body(0))
    ckpt = tmp_path / "x.pt"
    ckpt.write_bytes(b"")
    loads = []
    monkeypatch.setattr(cliff.model, "load_model", lambda path: loads.append(path) or _FakeModel(sc))
    argv = ["annotate", "--images", str(imgdir), "--keypoints", str(kpath), "--ckpt", str(ckpt),
            "--smpl", str(smpl_path), "-o", str(tmp_path / "pgt.npz"), "--no-progress"]
    return imgdir, kpath, argv, loads


def test_cli_annotate_skips_bad_inputs_and_exits_1(cli_files, tmp_path, capsys):
    import json
    from cliff.cli import main
    imgdir, kpath, argv, _ = cli_files
    os.remove(imgdir / "im1.png")                                   # 2 people lost
    d = json.loads(kpath.read_text())
    d["annotations"][4]["keypoints"][0] = float("nan")             # im2.png person 0
    kpath.write_text(json.dumps(d))                                 # (json writes NaN)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"cliff: skipped {imgdir / 'im1.png'}: no such image file" in err
    assert f"cliff: skipped {kpath}: image 'im2.png' person 0: keypoints contain NaN" in err
    assert "Traceback" not in err
    z = np.load(tmp_path / "pgt.npz")
    assert list(z["imgname"]) == ["im0.png", "im0.png", "im2.png"]


def test_cli_annotate_exits_2_when_no_image_is_readable(cli_files, tmp_path, capsys):
    from cliff.cli import main
    imgdir, _, argv, _ = cli_files
    for f in os.listdir(imgdir):
        (imgdir / f).write_bytes(b"garbage")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cliff: error: no usable input")
    assert not (tmp_path / "pgt.npz").exists()


@pytest.mark.parametrize("focal", ["-5", "0", "nan"])
def test_cli_annotate_rejects_bad_focal_before_reading_anything(cli_files, tmp_path, capsys,
                                                                 monkeypatch, focal):
    from cliff.annotate import annotator as ann
    from cliff.cli import main
    _, _, argv, loads = cli_files

    def no_read(path):
        raise AssertionError("keypoints file read before the arguments were checked")
    monkeypatch.setattr(ann, "load_keypoints", no_read)
    assert main(argv + ["--focal", focal]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"cliff: error: --focal: expected a finite focal length > 0 in pixels, got {float(focal)}"]
    assert loads == []  # the checkpoint was not loaded


def test_cli_annotate_checks_files_before_loading_the_checkpoint(cli_files, tmp_path, capsys):
    from cliff.cli import main
    _, _, argv, loads = cli_files
    i = argv.index("--smpl")
    assert main(argv[:i + 1] + [str(tmp_path / "nope.pkl")] + argv[i + 2:]) == 2
    assert "--smpl: no such file" in capsys.readouterr().err and loads == []
    assert main(argv[:-3] + ["-o", str(tmp_path / "no" / "dir.npz"), "--no-progress"]) == 2
    assert "-o/--output" in capsys.readouterr().err and loads == []


def test_cli_annotate_min_confidence_drops_low_confidence_people(cli_files, tmp_path, capsys):
    # the same run twice: without a threshold all 6 people are written; with the median
    # confidence as --min-confidence exactly the people at or above it remain, in order
    from cliff.cli import main
    _, _, argv, _ = cli_files
    assert main(argv) == 0
    z = dict(np.load(tmp_path / "pgt.npz"))
    c = z["fit_confidence"]
    thr = float(np.median(c))
    out2 = tmp_path / "pgt2.npz"
    argv2 = [a if a != str(tmp_path / "pgt.npz") else str(out2) for a in argv]
    assert main(argv2 + ["--min-confidence", str(thr)]) == 0
    z2 = np.load(out2)
    keep = c >= thr
    assert len(z2["pose"]) == keep.sum() < len(c)
    np.testing.assert_array_equal(z2["fit_confidence"], c[keep])
    np.testing.assert_array_equal(z2["pose"], z["pose"][keep])
    assert f"{(~keep).sum()} people below --min-confidence" in capsys.readouterr().err


def test_cli_annotate_no_guard_is_the_plain_fit(cli_files, tmp_path):
    # --no-guard: one start and no acceptance test: every person's fit_start is 0 (the estimate)
    from cliff.cli import main
    _, _, argv, _ = cli_files
    assert main(argv + ["--no-guard"]) == 0
    assert (np.load(tmp_path / "pgt.npz")["fit_start"] == 0).all()


@pytest.mark.parametrize("opt, value, msg", [("--min-confidence", "1.5", "expected a number in [0, 1]"),
                                             ("--restart-rel", "-1", "expected a finite number >= 0"),
                                             ("--depth-range", "1", "expected a factor > 1, or 0 (off)"),
                                             ("--w-depth", "-1", "expected a finite number >= 0"),
                                             ("--robust-scale", "0", "expected a finite number > 0"),
                                             ("--far-scale", "-1", "expected a robust scale > 0, or 0 (off)"),
                                             ("--tighten", "0.5", "expected 'auto', 'off' or a factor >= 1"),
                                             ("--tighten", "loose", "expected 'auto', 'off' or a factor >= 1")])
def test_cli_annotate_rejects_bad_guard_options(cli_files, capsys, opt, value, msg):
    from cliff.cli import main
    _, _, argv, loads = cli_files
    assert main(argv + [opt, value]) == 2
    assert msg in capsys.readouterr().err
    assert loads == []  # rejected before the checkpoint is loaded


def test_cli_annotate_pose_prior_enters_the_fit(cli_files, tmp_path):
    # --pose-prior FILE (gmm_08.pkl's layout) with a prior centred far from every person's pose
    # moves the written poses; the same run without it is the plain default
    from cliff.cli import main
    from cliff.io.pose_prior import gaussian_prior, save_pose_prior
    _, _, argv, _ = cli_files
    assert main(argv) == 0
    plain = np.load(tmp_path / "pgt.npz")["pose"]
    gmm = tmp_path / "gmm_08.pkl"
    save_pose_prior(gmm, gaussian_prior(0.1, 0.5))
    assert main(argv + ["--pose-prior", str(gmm), "--w-gmm", "1"]) == 0
    assert np.abs(np.load(tmp_path / "pgt.npz")["pose"] - plain).max() > 1e-3


def test_cli_annotate_upright_prior_enters_the_fit(cli_files, tmp_path):
    # --upright-deg SIGMA adds the upright root prior: a narrow one (1 deg) moves the written
    # global orientations (the scene's people are tilted by ~6 deg); without it, the default
    from cliff.cli import main
    _, _, argv, _ = cli_files
    assert main(argv) == 0
    plain = np.load(tmp_path / "pgt.npz")["pose"][:, :3]
    assert main(argv + ["--upright-deg", "1"]) == 0
    assert np.abs(np.load(tmp_path / "pgt.npz")["pose"][:, :3] - plain).max() > 1e-3


def test_cli_annotate_depth_prior_enters_the_fit(cli_files, tmp_path):
    # --w-depth (default 25): a huge weight holds every written depth at the estimate's, 0
    # turns the term off; both differ from the default run
    from cliff.cli import main
    _, _, argv, _ = cli_files
    runs = {}
    for w in (None, "0", "1e9"):
        assert main(argv + ([] if w is None else ["--w-depth", w])) == 0
        runs[w] = np.load(tmp_path / "pgt.npz")["global_t"][:, 2]
    assert np.abs(runs["0"] - runs[None]).max() > 1e-4
    assert np.abs(runs["1e9"] - runs[None]).max() > 1e-4


def test_cli_annotate_robust_scale_enters_the_fit(cli_files, tmp_path):
    # --robust-scale (default 3, the fit's robust_scale): a very narrow scale (0.1 sigma) puts
    # every keypoint on Geman-McClure's flat tail, so the fit follows the priors and the
    # written poses move; "3" is the default run itself
    from cliff.cli import main
    _, _, argv, _ = cli_files
    runs = {}
    for s in (None, "3", "0.1"):
        assert main(argv + ([] if s is None else ["--robust-scale", s])) == 0
        runs[s] = np.load(tmp_path / "pgt.npz")["pose"]
    np.testing.assert_array_equal(runs["3"], runs[None])
    assert np.abs(runs["0.1"] - runs[None]).max() > 1e-3


def test_cli_annotate_root_hold_follows_the_upright_prior(cli_files, tmp_path):
    # with --upright-deg the guard's root-hold rule is on ('auto'): some written global
    # orientations differ from --root-hold off; without --upright-deg 'auto' is off, so the
    # default run equals --root-hold off
    from cliff.cli import main
    _, _, argv, _ = cli_files
    root = lambda: np.load(tmp_path / "pgt.npz")["pose"][:, :3]  # noqa: E731
    assert main(argv + ["--upright-deg", "5"]) == 0
    auto = root()
    assert main(argv + ["--upright-deg", "5", "--root-hold", "off"]) == 0
    assert np.abs(root() - auto).max() > 1e-3
    assert main(argv) == 0
    plain = root()
    assert main(argv + ["--root-hold", "off"]) == 0
    np.testing.assert_array_equal(root(), plain)


@pytest.mark.parametrize("extra, msg", [(["--w-gmm", "-1"], "--w-gmm: expected a finite number >= 0"),
                                        (["--root-hold", "on"],
                                         "--root-hold: expected 'auto', 'off' or a gain >= 0"),
                                        (["--root-hold", "-1"],
                                         "--root-hold: expected 'auto', 'off' or a gain >= 0"),
                                        (["--pose-prior", "nope.pkl"], "--pose-prior: no such file"),
                                        (["--upright-deg", "0"],
                                         "--upright-deg: expected a finite sigma > 0 in degrees"),
                                        (["--upright-deg", "nan"],
                                         "--upright-deg: expected a finite sigma > 0 in degrees"),
                                        (["--upright-deg", "5", "--w-up", "-1"],
                                         "--w-up: expected a finite number >= 0")])
def test_cli_annotate_rejects_bad_pose_prior_options(cli_files, capsys, extra, msg):
    from cliff.cli import main
    _, _, argv, loads = cli_files
    assert main(argv + extra) == 2
    assert msg in capsys.readouterr().err
    assert loads == []  # rejected before the checkpoint is loaded
