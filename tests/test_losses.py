"""Full-frame / crop supervision (NumPy) and their torch versions (values + gradcheck)."""
import numpy as np
import pytest

from cliff.annotate import losses as L

torch = pytest.importorskip("torch")
import cliff.annotate.losses_torch as CT  # noqa: E402


def _scene(n=4, J=6, seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.normal(scale=0.4, size=(n, J, 3)) + np.array([0.5, -0.3, 6.0])
    kp = np.concatenate([rng.uniform(0, 1000, (n, J, 2)), rng.uniform(0, 1, (n, J, 1))], -1)
    return rng, pts, kp


# ---- NumPy cameras and losses ----------------------------------------------------------------

def test_project_matches_pinhole_formula():
    p = np.array([[[1.0, -2.0, 4.0]]])
    uv = L.project(p, np.array([1000.0]), np.array([[960.0, 540.0]]))
    np.testing.assert_allclose(uv[0, 0], [960 + 1000 * 0.25, 540 - 1000 * 0.5])


def test_project_rejects_points_behind_camera():
    with pytest.raises(ValueError, match="Z > 0"):
        L.project(np.array([[[0, 0, -1.0]]]), 1000.0, [0, 0])


def test_crop_camera_reprojects_root_like_full_camera():
    # A body far away: the crop camera with t_crop = cam_full_to_crop(t_full) puts the root at
    # the same pixel and the same apparent size as the full camera.
    t = np.array([[1.5, -0.4, 8.0]])
    center, b, f, pp = np.array([[1400.0, 420.0]]), np.array([300.0]), np.array([2200.0]), np.array([[960.0, 540.0]])
    tc = L.cam_full_to_crop(t, center, b, f, pp)
    fc, cc = L.crop_camera(center, b)
    assert fc[0] == pytest.approx(5000 * 300 / 256)
    uv_full = L.project(t[:, None], f, pp)
    uv_crop = L.project(tc[:, None], fc, cc)
    np.testing.assert_allclose(uv_crop, uv_full, atol=1e-9)
    # a 1 m offset at the body looks the same size in both cameras
    d = np.array([[[0, 1.0, 0]]])
    np.testing.assert_allclose(L.project(tc[:, None] + d, fc, cc) - uv_crop,
                               L.project(t[:, None] + d, f, pp) - uv_full, rtol=0.02)


def test_loss_2d_l2_value_by_hand():
    uv = np.array([[[3.0, 4.0], [0.0, 0.0]]])
    kp = np.array([[[0.0, 0.0, 2.0], [0.0, 10.0, 1.0]]])
    # (2*25 + 1*100) / 3 with norm 1; norm 5 divides by 25
    assert L.loss_2d(uv, kp) == pytest.approx(50.0)
    assert L.loss_2d(uv, kp, norm=5.0) == pytest.approx(2.0)


def test_loss_2d_robust_bounds_outliers():
    uv = np.array([[[1000.0, 0.0]]])
    kp = np.array([[[0.0, 0.0, 1.0]]])
    assert L.loss_2d(uv, kp, robust="gm", robust_scale=3.0) < 9.0  # GM saturates at c^2
    assert L.loss_2d(uv, kp, robust="huber", robust_scale=3.0) == pytest.approx(2 * 3 * 1000 - 9)


def test_loss_2d_all_zero_confidence_is_zero_not_nan():
    uv = np.zeros((1, 3, 2))
    kp = np.zeros((1, 3, 3))
    assert L.loss_2d(uv, kp) == 0.0


def test_loss_3d_is_translation_invariant_and_weighted():
    rng, pts, _ = _scene()
    gt = np.concatenate([pts + np.array([5.0, 1, 2]), np.ones(pts.shape[:2] + (1,))], -1)
    assert L.loss_3d(pts, gt) == pytest.approx(0.0, abs=1e-20)
    gt2 = gt.copy()
    gt2[:, 3, :3] += 0.1
    per = L.loss_3d(pts, gt2, reduction="none")
    np.testing.assert_allclose(per, 0.03 / 6)  # |0.1|^2*3 / 6 joints
    gt2[:, 3, 3] = 0
    np.testing.assert_allclose(L.loss_3d(pts, gt2, reduction="none"), 0, atol=1e-20)


def test_pa_mpjpe_is_zero_under_similarity():
    rng, pts, _ = _scene()
    from reference.numpy_body import rodrigues
    R = rodrigues(np.array([0.3, -1.0, 0.5]))
    Y = 1.7 * pts @ R.T + 3
    np.testing.assert_allclose(L.pa_mpjpe(pts, Y), 0, atol=1e-9)
    assert L.pa_mpjpe(pts, Y + np.random.default_rng(1).normal(size=Y.shape) * 0.01).mean() > 0


# ---- torch versions against NumPy, and gradcheck ----

def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def test_torch_cam_crop_to_full_matches_official_formula():
    cam = np.array([[0.9, 0.1, -0.2], [1.2, 0.0, 0.3]])
    center = np.array([[700.0, 300.0], [100.0, 500.0]])
    b = np.array([300.0, 180.0])
    wh = np.array([[1280.0, 720.0], [1280.0, 720.0]])
    f = np.hypot(1280, 720) * np.ones(2)
    bs = b * cam[:, 0] + 1e-9
    ref = np.stack([2 * (center[:, 0] - 640) / bs + cam[:, 1], 2 * (center[:, 1] - 360) / bs + cam[:, 2],
                    2 * f / bs], -1)
    got = CT.cam_crop_to_full(*map(_t, (cam, center, b, wh, f))).detach().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    # cam_full_to_crop inverts it: the crop-camera translation's x, y are the network's tx, ty
    tc = L.cam_full_to_crop(ref, center, b, f, wh / 2)
    np.testing.assert_allclose(tc[:, :2], cam[:, 1:], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("robust", [None, "gm", "huber"])
def test_torch_loss_2d_matches_numpy(robust):
    rng, pts, kp = _scene()
    f, pp = np.full(4, 1500.0), np.tile([640.0, 360.0], (4, 1))
    uv = L.project(pts, f, pp)
    ref = L.loss_2d(uv, kp, norm=30.0, robust=robust, reduction="none")
    got = CT.loss_2d(CT.project(_t(pts), _t(f), _t(pp)), _t(kp), 30.0, robust=robust, reduction="none")
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-12)


def test_torch_loss_3d_and_smpl_match_numpy():
    rng, pts, _ = _scene()
    gt = np.concatenate([pts + rng.normal(scale=0.05, size=pts.shape), rng.uniform(size=pts.shape[:2] + (1,))], -1)
    np.testing.assert_allclose(CT.loss_3d(_t(pts), _t(gt), pelvis=(1, 2), reduction="none").detach().numpy(),
                               L.loss_3d(pts, gt, pelvis=(1, 2), reduction="none"), rtol=1e-12)
    R1, R2 = rng.normal(size=(3, 24, 3, 3)), rng.normal(size=(3, 24, 3, 3))
    b1, b2 = rng.normal(size=(3, 10)), rng.normal(size=(3, 10))
    assert CT.loss_smpl(_t(R1), _t(R2), _t(b1), _t(b2)).item() == pytest.approx(L.loss_smpl(R1, R2, b1, b2))


def test_torch_gradcheck_full_frame_chain():
    rng, pts, kp = _scene(n=2, J=4)
    cam = np.array([[0.8, 0.05, -0.1], [1.1, -0.2, 0.1]])
    center = np.array([[900.0, 300.0], [200.0, 400.0]])
    b = np.array([250.0, 200.0])
    wh = np.tile([1280.0, 720.0], (2, 1))
    f = np.full(2, np.hypot(1280, 720))
    joints = rng.normal(scale=0.3, size=(2, 4, 3))
    args = tuple(map(_t, (joints, cam)))

    def fn(j, c):
        return CT.loss_2d_full(j, c, torch.tensor(center), torch.tensor(b), torch.tensor(wh),
                               torch.tensor(f), torch.tensor(kp), norm=20.0, robust="gm")
    assert torch.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("name", ["loss_3d", "loss_smpl", "huber"])
def test_torch_gradcheck_losses(name):
    rng, pts, kp = _scene(n=2, J=4)
    if name == "loss_3d":
        gt = torch.tensor(np.concatenate([pts + 0.1, np.ones((2, 4, 1))], -1))
        assert torch.autograd.gradcheck(lambda p: CT.loss_3d(p, gt, pelvis=0), (_t(pts),))
    elif name == "loss_smpl":
        R2, b2 = torch.tensor(rng.normal(size=(2, 24, 3, 3))), torch.tensor(rng.normal(size=(2, 10)))
        assert torch.autograd.gradcheck(lambda R, b: CT.loss_smpl(R, R2, b, b2),
                                        (_t(rng.normal(size=(2, 24, 3, 3))), _t(rng.normal(size=(2, 10)))))
    else:
        uv = _t(kp[..., :2] + rng.normal(scale=50, size=(2, 4, 2)))
        assert torch.autograd.gradcheck(lambda u: CT.loss_2d(u, torch.tensor(kp), 10.0, robust="huber"), (uv,))
