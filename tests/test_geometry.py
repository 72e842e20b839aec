"""Geometry (csrc/geometry.c via cliff.camera) against independent references written here:
float64 NumPy formulas, NumPy ports of the official algorithms (in float32 and float64), and a
few PyTorch float32 transcriptions of the official demo's expressions (docs/official.md#rot6d, #axis-angle, #box, #bbox-info,
#camera).
"""
import math

import numpy as np
import pytest

import cliff
from cliff import _core

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(20240607)


# ---- independent references ------------------------------------------------------------

def ref_rot6d(x):
    """float64 Gram-Schmidt on the columns of [[x0,x1],[x2,x3],[x4,x5]] (docs/official.md#rot6d)."""
    m = np.asarray(x, np.float64).reshape(-1, 3, 2)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=1, keepdims=True), 1e-12)
    u = a2 - np.sum(b1 * a2, axis=1, keepdims=True) * b1
    b2 = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def torch_rot6d(x):
    """The official formula in PyTorch float32 (F.normalize, einsum dot, cross, stack as columns)."""
    F = torch.nn.functional
    m = torch.as_tensor(x).reshape(-1, 3, 2)
    a1, a2 = m[:, :, 0], m[:, :, 1]
    b1 = F.normalize(a1, dim=1)
    b2 = F.normalize(a2 - torch.einsum("bi,bi->b", b1, a2).unsqueeze(-1) * b1, dim=1)
    return torch.stack((b1, b2, torch.cross(b1, b2, dim=1)), dim=-1).numpy()


def tgm_rotmat_to_aa(R):
    """NumPy port of torchgeometry 0.1.2 rotation_matrix_to_angle_axis, in R's dtype, keeping
    the library's structure: four candidates combined with 0/1 masks, eps = 1e-6, no
    re-normalisation, angle folded with atan2 (docs/official.md#axis-angle)."""
    R = np.asarray(R)
    dt = R.dtype.type
    rt = np.swapaxes(R.reshape(-1, 3, 3), 1, 2)  # the library works on the transpose
    one, eps = dt(1), dt(1e-6)
    d2 = rt[:, 2, 2] < eps
    d0_d1 = rt[:, 0, 0] > rt[:, 1, 1]
    d0_nd1 = rt[:, 0, 0] < -rt[:, 1, 1]
    t0 = one + rt[:, 0, 0] - rt[:, 1, 1] - rt[:, 2, 2]
    t1 = one - rt[:, 0, 0] + rt[:, 1, 1] - rt[:, 2, 2]
    t2 = one - rt[:, 0, 0] - rt[:, 1, 1] + rt[:, 2, 2]
    t3 = one + rt[:, 0, 0] + rt[:, 1, 1] + rt[:, 2, 2]
    q0 = np.stack([rt[:, 1, 2] - rt[:, 2, 1], t0, rt[:, 0, 1] + rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2]], -1)
    q1 = np.stack([rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] + rt[:, 1, 0], t1, rt[:, 1, 2] + rt[:, 2, 1]], -1)
    q2 = np.stack([rt[:, 0, 1] - rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2], rt[:, 1, 2] + rt[:, 2, 1], t2], -1)
    q3 = np.stack([t3, rt[:, 1, 2] - rt[:, 2, 1], rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] - rt[:, 1, 0]], -1)
    m0 = (d2 & d0_d1).astype(dt)[:, None]
    m1 = (d2 & ~d0_d1).astype(dt)[:, None]
    m2 = (~d2 & d0_nd1).astype(dt)[:, None]
    m3 = (~d2 & ~d0_nd1).astype(dt)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = q0 * m0 + q1 * m1 + q2 * m2 + q3 * m3
        q = q / np.sqrt(t0[:, None] * m0 + t1[:, None] * m1 + t2[:, None] * m2 + t3[:, None] * m3)
        q = q * dt(0.5)
        w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
        s2 = x * x + y * y + z * z
        s = np.sqrt(s2)
        two_theta = dt(2) * np.where(w < 0, np.arctan2(-s, -w), np.arctan2(s, w))
        k = np.where(s2 > 0, two_theta / s, dt(2))
    return np.stack([x * k, y * k, z * k], -1).reshape(R.shape[:-2] + (3,))


def ref_rodrigues(aa):
    """float64 Rodrigues via the matrix exponential series of the skew matrix (independent of
    the closed form for small angles; closed form for the others)."""
    aa = np.asarray(aa, np.float64).reshape(-1, 3)
    out = []
    for a in aa:
        K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
        t = np.linalg.norm(a)
        if t < 1e-3:  # exp(K) = sum K^n / n!
            R, term = np.eye(3), np.eye(3)
            for n in range(1, 12):
                term = term @ K / n
                R = R + term
        else:
            k = K / t
            R = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)
        out.append(R)
    return np.array(out)


def random_rotations(n, max_angle=math.pi):
    axis = RNG.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    ang = RNG.uniform(0, max_angle, size=(n, 1))
    return axis * ang


def f32(x):
    return np.asarray(x, np.float32)


# ---- 6D -> rotation matrix ------------------------------------------------------------

def test_rot6d_float64_matches_numpy_reference():
    x = RNG.normal(size=(4, 5, 6))
    R = cliff.rot6d_to_rotmat(x)
    assert R.shape == (4, 5, 3, 3) and R.dtype == np.float64
    np.testing.assert_allclose(R.reshape(-1, 3, 3), ref_rot6d(x), rtol=0, atol=1e-14)


def test_rot6d_float32_matches_official_torch_formula():
    x = f32(RNG.normal(size=(64, 6)))
    R = cliff.rot6d_to_rotmat(x)
    assert R.dtype == np.float32
    np.testing.assert_allclose(R, torch_rot6d(x), rtol=0, atol=2e-7)


def test_rot6d_144_is_24_joints_joint_major():
    x = RNG.normal(size=(3, 144))
    R = cliff.rot6d_to_rotmat(x)
    assert R.shape == (3, 24, 3, 3)
    for j in (0, 7, 23):  # joint j reads x[:, 6j:6j+6]
        np.testing.assert_allclose(R[:, j], ref_rot6d(x[:, 6 * j:6 * j + 6]), atol=1e-14)


def test_rot6d_official_mean_pose_root_is_diag_1_m1_m1():
    # smpl_mean_params.npz 'pose'[:6] (docs/official.md#mean-params): a 180 degree rotation about x.
    x = f32([1.0, 0.0, 0.0, -1.0000004768371582, 0.0, 1.5099581673894136e-07])
    R = cliff.rot6d_to_rotmat(x)
    assert R.shape == (3, 3) and R.dtype == np.float32
    np.testing.assert_allclose(R, np.diag([1.0, -1.0, -1.0]), atol=1e-6)
    # the tiny second-column z gives R[2,1] = +1.5e-7, R[1,2] = -1.5e-7
    assert R[2, 1] > 0 > R[1, 2]


def test_rot6d_outputs_are_rotations():
    R = cliff.rot6d_to_rotmat(RNG.normal(size=(100, 6)))
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-14)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-14)


# ---- rotation matrix -> axis-angle -----------------------------------------------------

def near_pi_rotations():
    axes = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -2, 3], [0.2, 0.3, -1]], float)
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = [math.pi, math.pi - 1e-9, math.pi - 1e-5, math.pi - 1e-3, 3.0]
    return np.concatenate([axes * a for a in angles])


def edge_matrices():
    """Identity, near-pi rotations, and non-orthonormal matrices (scaled, noisy, far off)."""
    rot = ref_rodrigues(random_rotations(50))
    mats = [np.eye(3)[None], ref_rodrigues(near_pi_rotations()), rot,
            rot * 1.01, rot + RNG.normal(scale=1e-3, size=rot.shape),
            RNG.normal(size=(50, 3, 3))]  # far from rotations
    return np.concatenate(mats)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-6)])
def test_rotmat_to_axis_angle_same_numbers_as_torchgeometry_port(dtype, tol):
    R = edge_matrices().astype(dtype)
    got = cliff.rotmat_to_axis_angle(R)
    want = tgm_rotmat_to_aa(R)
    assert got.dtype == dtype and got.shape == (len(R), 3)
    # the branch choice keeps t > 1 - eps, so even matrices far from rotations give numbers
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_rotmat_to_axis_angle_eps_branch_selection():
    """R[2,2] in [0, 1e-6) takes the library's 'R22 < eps' branches; for a non-orthonormal
    matrix those give other numbers than the R22 >= 0 branches would."""
    Rx = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # 90 degrees about x
    M = 1.05 * Rx + RNG.normal(scale=0.02, size=(20, 3, 3))
    M[:, 2, 2] = 5e-7
    got = cliff.rotmat_to_axis_angle(M)
    np.testing.assert_allclose(got, tgm_rotmat_to_aa(M), rtol=1e-13, atol=1e-13)
    M_other = M.copy()
    M_other[:, 2, 2] = 2e-6  # same matrices, other side of eps: other branch, other numbers
    assert np.abs(cliff.rotmat_to_axis_angle(M_other) - got).max() > 1e-3


def test_rotmat_to_axis_angle_identity_is_zero():
    np.testing.assert_array_equal(cliff.rotmat_to_axis_angle(np.eye(3)), [0.0, 0.0, 0.0])


def test_axis_angle_round_trip_random():
    aa = random_rotations(500, max_angle=math.pi - 1e-3)
    back = cliff.rotmat_to_axis_angle(cliff.axis_angle_to_rotmat(aa))
    np.testing.assert_allclose(back, aa, atol=1e-12)


def test_axis_angle_round_trip_tiny_angles_keeps_relative_precision():
    aa = random_rotations(20) * 1e-9
    R = cliff.axis_angle_to_rotmat(aa)
    back = cliff.rotmat_to_axis_angle(R)
    np.testing.assert_allclose(back, aa, rtol=1e-6, atol=0)


def test_axis_angle_round_trip_near_pi_same_rotation():
    aa = near_pi_rotations()
    R = cliff.axis_angle_to_rotmat(aa)
    back = cliff.rotmat_to_axis_angle(R)
    # the angle comes back in [0, pi] and the rotation is the same (at exactly pi the axis
    # sign is a free choice)
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), np.linalg.norm(aa, axis=1), atol=1e-6)
    np.testing.assert_allclose(cliff.axis_angle_to_rotmat(back), R, atol=1e-6)
    not_pi = np.linalg.norm(aa, axis=1) < math.pi - 1e-6
    np.testing.assert_allclose(back[not_pi], aa[not_pi], atol=1e-6)


def test_rotmat_to_axis_angle_demo_layout_24_joints():
    aa = random_rotations(2 * 24).reshape(2, 24, 3)
    R = cliff.axis_angle_to_rotmat(aa)
    assert R.shape == (2, 24, 3, 3)
    out = cliff.rotmat_to_axis_angle(R)
    assert out.shape == (2, 24, 3)
    np.testing.assert_allclose(out.reshape(2, 72), tgm_rotmat_to_aa(R.reshape(-1, 3, 3)).reshape(2, 72),
                               atol=1e-13)


# ---- axis-angle -> rotation matrix -----------------------------------------------------

def test_axis_angle_to_rotmat_matches_reference():
    aa = np.concatenate([random_rotations(200, 4 * math.pi), random_rotations(50) * 1e-4,
                         random_rotations(10) * 1e-300, np.zeros((1, 3))])
    R = cliff.axis_angle_to_rotmat(aa)
    np.testing.assert_allclose(R, ref_rodrigues(aa), rtol=0, atol=2e-15 * 4 * math.pi)


def test_axis_angle_to_rotmat_tiny_angle_is_first_order_exact():
    a = np.array([1e-10, -2e-10, 3e-10])
    R = cliff.axis_angle_to_rotmat(a)
    skew = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    # off-diagonals equal the skew matrix to relative precision (second-order terms ~1e-20)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(R[off], skew[off], rtol=1e-9)


def test_axis_angle_to_rotmat_float32_close_to_float64():
    aa = random_rotations(200, 2 * math.pi)
    R32 = cliff.axis_angle_to_rotmat(f32(aa))
    assert R32.dtype == np.float32
    np.testing.assert_allclose(R32, ref_rodrigues(f32(aa)), atol=1e-6)


# ---- boxes -> center, scale ------------------------------------------------------------

def official_center_scale_f32(box, rescale=1.1):
    """The official arithmetic on float32 detections under NumPy 1.x (docs/official.md#box), written with
    explicit float32 operations and Python float64 arithmetic."""
    x1, y1, x2, y2 = (np.float32(v) for v in box)
    cx = float(np.float32(x1 + x2)) / 2.0
    cy = float(np.float32(y1 + y2)) / 2.0
    bw, bh = float(np.float32(x2 - x1)), float(np.float32(y2 - y1))
    size = max(bw * 1.3333333333333333, bh)
    scale = size / 200.0
    scale *= rescale
    return (cx, cy), scale


def test_boxes_to_center_scale_float32_detections_match_official_arithmetic():
    xs, ys = (np.sort(RNG.uniform(0, 1000, size=(300, 2)), axis=1) for _ in range(2))
    boxes = f32(np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], 1))  # [x1, y1, x2, y2]
    c, s = cliff.boxes_to_center_scale(boxes)
    assert c.dtype == np.float64 and s.dtype == np.float64 and c.shape == (300, 2) and s.shape == (300,)
    for i in range(300):
        (cx, cy), sc = official_center_scale_f32(boxes[i])
        assert (c[i, 0], c[i, 1], s[i]) == (cx, cy, sc)


def test_boxes_to_center_scale_pads_to_4_3_and_rescale_default_is_1_1():
    # wide box: width 300 -> 400 tall; tall box: height 300 wins over 100 * 4/3
    c, s = cliff.boxes_to_center_scale(np.array([[0.0, 0.0, 300.0, 100.0], [10.0, 20.0, 110.0, 320.0]]))
    np.testing.assert_allclose(c, [[150.0, 50.0], [60.0, 170.0]])
    np.testing.assert_allclose(s * 200, [400.0 * 1.1, 300.0 * 1.1], rtol=1e-15)
    _, s12 = cliff.boxes_to_center_scale(np.array([10.0, 20.0, 110.0, 320.0]), rescale=1.2)
    assert s12.shape == () and float(s12) == (300.0 / 200.0) * 1.2


# ---- bbox_info -------------------------------------------------------------------------

def batch_inputs(n=40):
    W = RNG.integers(200, 2000, size=n).astype(np.float64)
    H = RNG.integers(200, 2000, size=n).astype(np.float64)
    center = np.stack([RNG.uniform(0, W), RNG.uniform(0, H)], 1)
    b = RNG.uniform(20, 800, size=n)
    f = np.sqrt(W * W + H * H)
    cam = np.stack([RNG.uniform(0.3, 1.5, n), RNG.normal(0, 0.2, n), RNG.normal(0, 0.3, n)], 1)
    return W, H, center, b, f, cam


def test_bbox_info_float64_released_and_paper():
    W, H, center, b, f, _ = batch_inputs()
    img = np.stack([W, H], 1)
    rel = cliff.bbox_info(center, b, img, f)
    pap = cliff.bbox_info(center, b, img, f, form="paper")
    dx, dy = center[:, 0] - W / 2, center[:, 1] - H / 2
    np.testing.assert_allclose(rel, np.stack([2.8 * dx / f, 2.8 * dy / f, (b / f - 0.24) / 0.06], 1), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(pap, np.stack([dx / f, dy / f, b / f], 1), rtol=1e-14, atol=1e-15)
    assert rel.dtype == np.float64


def test_bbox_info_float32_bit_exact_with_demo_torch_expressions():
    W, H, center, b, f, _ = batch_inputs()
    c32, b32, f32_, w32, h32 = (torch.tensor(f32(v)) for v in (center, b, f, W, H))
    # demo.py (docs/official.md#bbox-info), float32 tensors
    bi = torch.stack([c32[:, 0] - w32 / 2., c32[:, 1] - h32 / 2., b32], dim=-1)
    bi[:, :2] = bi[:, :2] / f32_.unsqueeze(-1) * 2.8
    bi[:, 2] = (bi[:, 2] - 0.24 * f32_) / (0.06 * f32_)
    got = cliff.bbox_info(f32(center), f32(b), f32(np.stack([W, H], 1)), f32(f))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, bi.numpy())


def test_bbox_info_broadcasts_scalar_focal_and_shared_image_size():
    center = np.array([[100.0, 50.0], [400.0, 300.0], [10.0, 470.0]])
    b = np.array([120.0, 300.0, 90.0])
    got = cliff.bbox_info(center, b, (640, 480), 800.0)
    want = cliff.bbox_info(center, b, np.tile([640.0, 480.0], (3, 1)), np.full(3, 800.0))
    np.testing.assert_array_equal(got, want)
    # default focal = image diagonal
    np.testing.assert_array_equal(cliff.bbox_info(center, b, (640, 480)), got)


def test_bbox_info_with_K_uses_its_principal_point_and_mean_focal():
    center, b = np.array([[300.0, 200.0]]), np.array([250.0])
    fx, fy, cx, cy = 1000.0, 1010.0, 322.5, 236.0
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    f = (fx + fy) / 2
    want = [[2.8 * (300 - cx) / f, 2.8 * (200 - cy) / f, (250 / f - 0.24) / 0.06]]
    np.testing.assert_allclose(cliff.bbox_info(center, b, K=K), want, rtol=1e-13)
    np.testing.assert_array_equal(cliff.bbox_info(center, b, K=[fx, fy, cx, cy]), cliff.bbox_info(center, b, K=K))


# ---- cam_crop_to_full ------------------------------------------------------------------

def test_cam_crop_to_full_float64_formula():
    W, H, center, b, f, cam = batch_inputs()
    got = cliff.cam_crop_to_full(cam, center, b, np.stack([W, H], 1), f)
    bs = b * cam[:, 0] + 1e-9
    want = np.stack([2 * (center[:, 0] - W / 2) / bs + cam[:, 1],
                     2 * (center[:, 1] - H / 2) / bs + cam[:, 2], 2 * f / bs], 1)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_cam_crop_to_full_float32_bit_exact_with_demo_torch_expressions():
    W, H, center, b, f, cam = batch_inputs()
    cam_t, c_t, b_t, f_t, w_t, h_t = (torch.tensor(f32(v)) for v in (cam, center, b, f, W, H))
    # common/utils.py cam_crop2full (docs/official.md#camera), float32
    w_2, h_2 = w_t / 2., h_t / 2.
    bs = b_t * cam_t[:, 0] + 1e-9
    tz = 2 * f_t / bs
    tx = (2 * (c_t[:, 0] - w_2) / bs) + cam_t[:, 1]
    ty = (2 * (c_t[:, 1] - h_2) / bs) + cam_t[:, 2]
    want = torch.stack([tx, ty, tz], dim=-1).numpy()
    got = cliff.cam_crop_to_full(f32(cam), f32(center), f32(b), f32(np.stack([W, H], 1)), f32(f))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("use_K", [False, True])
def test_full_camera_puts_points_where_the_crop_camera_does(use_K):
    """Weak-perspective crop camera: the crop is b pixels tall, centred on (cx, cy), and spans
    [-1, 1] vertically in normalised units, so a model point (X, Y, 0) (depth 0 relative to the
    SMPL origin) is drawn at u = cx + (b/2) s (X + tx), v = cy + (b/2) s (Y + ty).
    The full-frame camera at t = cam_crop_to_full(...) with focal f must project X + t there:
    f (X + tx')/tz + px = px + (b s/2)(X + tx) + (cx - px) exactly (up to the 1e-9)."""
    W, H, center, b, f, cam = batch_inputs(25)
    XY = RNG.normal(scale=0.5, size=(25, 7, 2))
    XY[:, 0] = 0.0  # the SMPL origin itself
    pts = np.concatenate([XY, np.zeros((25, 7, 1))], -1)
    if use_K:
        pp = np.stack([W * 0.47, H * 0.55], 1)
        K = np.zeros((25, 3, 3))
        K[:, 0, 0] = K[:, 1, 1] = f
        K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = pp[:, 0], pp[:, 1], 1
        t = cliff.cam_crop_to_full(cam, center, b, K=K)
        uv = cliff.project_points(pts + t[:, None], K=K[:, None])
    else:
        t = cliff.cam_crop_to_full(cam, center, b, np.stack([W, H], 1), f)
        uv = cliff.project_points(pts + t[:, None], f[:, None], np.stack([W / 2, H / 2], 1)[:, None])
    s = cam[:, 0, None]
    want_u = center[:, 0, None] + b[:, None] / 2 * s * (XY[..., 0] + cam[:, 1, None])
    want_v = center[:, 1, None] + b[:, None] / 2 * s * (XY[..., 1] + cam[:, 2, None])
    np.testing.assert_allclose(uv[..., 0], want_u, rtol=1e-9)
    np.testing.assert_allclose(uv[..., 1], want_v, rtol=1e-9)
    # the SMPL origin lands at the crop camera's image of it, inside the box
    np.testing.assert_allclose(uv[:, 0], np.stack([want_u[:, 0], want_v[:, 0]], 1), rtol=1e-9)


# ---- projection and focal ----------------------------------------------------------------

def test_project_points_formula_shared_and_K_with_fx_fy():
    P = np.concatenate([RNG.normal(size=(4, 9, 2)), RNG.uniform(1, 10, size=(4, 9, 1))], -1)
    uv = cliff.project_points(P, 1000.0, (320.0, 240.0))
    np.testing.assert_allclose(uv, np.stack([1000 * P[..., 0] / P[..., 2] + 320, 1000 * P[..., 1] / P[..., 2] + 240], -1), rtol=1e-14)
    K = [[900.0, 0, 300.0], [0, 1100.0, 250.0], [0, 0, 1]]
    uvK = cliff.project_points(P, K=K)
    np.testing.assert_allclose(uvK, np.stack([900 * P[..., 0] / P[..., 2] + 300, 1100 * P[..., 1] / P[..., 2] + 250], -1), rtol=1e-14)
    np.testing.assert_array_equal(cliff.project_points(P, K=[900.0, 1100.0, 300.0, 250.0]), uvK)


def test_project_points_per_person_focal():
    P = np.concatenate([RNG.normal(size=(3, 5, 2)), RNG.uniform(1, 10, size=(3, 5, 1))], -1)
    f = np.array([500.0, 800.0, 1200.0])
    uv = cliff.project_points(P, f[:, None], np.array([100.0, 50.0]))
    for i in range(3):
        np.testing.assert_array_equal(uv[i], cliff.project_points(P[i], f[i], (100.0, 50.0)))


def test_estimate_focal_length_is_the_diagonal():
    assert cliff.estimate_focal_length(640, 480) == 800.0
    assert isinstance(cliff.estimate_focal_length(640, 480), float)
    np.testing.assert_array_equal(cliff.estimate_focal_length(np.array([3.0, 5.0]), 4), [5.0, math.sqrt(41.0)])


# ---- precision paths -------------------------------------------------------------------

def test_float32_path_is_float32_and_close_to_float64():
    W, H, center, b, f, cam = batch_inputs()
    img = np.stack([W, H], 1)
    pairs = [
        (lambda d: cliff.rot6d_to_rotmat(RNG_X.astype(d)), 1e-6),
        (lambda d: cliff.rotmat_to_axis_angle(ROT.astype(d)), 1e-5),
        (lambda d: cliff.axis_angle_to_rotmat(AA.astype(d)), 1e-6),
        (lambda d: cliff.bbox_info(center.astype(d), b, img, f), 1e-5),
        (lambda d: cliff.cam_crop_to_full(cam.astype(d), center, b, img, f), 1e-5),
        (lambda d: cliff.project_points(P3.astype(d), 700.0, (320, 240)), 1e-5),
    ]
    for fn, tol in pairs:
        lo, hi = fn(np.float32), fn(np.float64)
        assert lo.dtype == np.float32 and hi.dtype == np.float64
        np.testing.assert_allclose(lo, hi, rtol=tol, atol=tol)
    assert cliff.axis_angle_to_rotmat(AA.astype(np.float16)).dtype == np.float32
    assert cliff.axis_angle_to_rotmat(np.zeros((2, 3), np.int64)).dtype == np.float64


RNG_X = RNG.normal(size=(30, 6))
AA = random_rotations(30, 3.0)
ROT = ref_rodrigues(AA)
P3 = np.concatenate([RNG.normal(size=(30, 2)), RNG.uniform(1, 10, size=(30, 1))], -1)


# ---- accepted array kinds ----------------------------------------------------------------

def test_noncontiguous_readonly_bigendian_and_torch_inputs():
    aa = random_rotations(8)
    want = cliff.axis_angle_to_rotmat(aa)
    wide = np.zeros((8, 6))
    wide[:, ::2] = aa
    ro = aa.copy()
    ro.setflags(write=False)
    for x in (wide[:, ::2], ro, aa.astype(">f8"), np.asfortranarray(aa)):
        np.testing.assert_array_equal(cliff.axis_angle_to_rotmat(x), want)
    t = torch.tensor(aa, dtype=torch.float32)
    got = cliff.axis_angle_to_rotmat(t)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, cliff.axis_angle_to_rotmat(f32(aa)))
    assert cliff.axis_angle_to_rotmat(f32(aa).astype(">f4")).dtype == np.float32
    # multi-argument functions too
    W, H, center, b, f, cam = batch_inputs(5)
    img = np.stack([W, H], 1)
    ref = cliff.cam_crop_to_full(f32(cam), f32(center), f32(b), img, f)
    got = cliff.cam_crop_to_full(torch.tensor(f32(cam)), torch.tensor(f32(center)).T.contiguous().T,
                                 f32(b).astype(">f4"), img[::-1][::-1], torch.tensor(f))
    np.testing.assert_array_equal(got, ref)


# ---- bad input -----------------------------------------------------------------------------

GOOD_C, GOOD_B = np.array([[100.0, 100.0]]), np.array([200.0])

BAD = [
    (lambda: cliff.rot6d_to_rotmat(np.zeros((2, 5))), ValueError, "x: expected shape (..., 6) or (..., 144)"),
    (lambda: cliff.rot6d_to_rotmat(np.float64(1.0)), ValueError, "x: expected shape"),
    (lambda: cliff.rot6d_to_rotmat("abcdef"), TypeError, "x:"),
    (lambda: cliff.rot6d_to_rotmat(None), TypeError, "x:"),
    (lambda: cliff.rot6d_to_rotmat(np.zeros(6, complex)), TypeError, "x: expected real numbers"),
    (lambda: cliff.rot6d_to_rotmat(np.array(["a"] * 6)), TypeError, "x:"),
    (lambda: cliff.rot6d_to_rotmat([[1, 2], [3]]), ValueError, "x:"),
    (lambda: cliff.rot6d_to_rotmat([1, 0, 0, 1, 0, np.nan]), ValueError, "x: contains NaN"),
    (lambda: cliff.rotmat_to_axis_angle(np.eye(4)), ValueError, "R: expected shape (..., 3, 3)"),
    (lambda: cliff.rotmat_to_axis_angle(np.full((3, 3), np.inf)), ValueError, "R: contains NaN or infinite"),
    (lambda: cliff.axis_angle_to_rotmat(np.zeros((5, 4))), ValueError, "aa: expected shape (..., 3)"),
    (lambda: cliff.axis_angle_to_rotmat(np.zeros(3, bool)), TypeError, "aa:"),
    (lambda: cliff.boxes_to_center_scale(np.zeros((2, 3))), ValueError, "xyxy: expected shape (..., 4)"),
    (lambda: cliff.boxes_to_center_scale([10, 10, 5, 20]), ValueError, "xyxy: box 0 has x2 < x1"),
    (lambda: cliff.boxes_to_center_scale([10, 10, 10, 10]), ValueError, "xyxy: box 0 has zero width and zero height"),
    (lambda: cliff.boxes_to_center_scale([0, 0, 10, np.nan]), ValueError, "xyxy: contains NaN"),
    (lambda: cliff.boxes_to_center_scale([0, 0, 10, 10], rescale=0), ValueError, "rescale: expected a finite number > 0"),
    (lambda: cliff.boxes_to_center_scale([0, 0, 10, 10], rescale="1.1"), TypeError, "rescale"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, (640, 480), 0.0), ValueError, "focal: expected focal length > 0"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, (640, 480), -5.0), ValueError, "focal: expected focal length > 0"),
    (lambda: cliff.bbox_info(GOOD_C, [0.0], (640, 480)), ValueError, "b: expected box height b > 0"),
    (lambda: cliff.bbox_info(GOOD_C, [-1.0], (640, 480)), ValueError, "b: expected box height b > 0"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, (0, 480)), ValueError, "img_size: expected image width and height > 0"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, (640, 480, 3)), ValueError, "img_size: expected shape (..., 2)"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, (640, np.inf)), ValueError, "img_size: contains NaN"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B), TypeError, "img_size: required unless K"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, (640, 480), form="plain"), ValueError, "form: expected 'released' or 'paper'"),
    (lambda: cliff.bbox_info(np.zeros((1, 3)), GOOD_B, (640, 480)), ValueError, "center: expected shape (..., 2)"),
    (lambda: cliff.bbox_info(np.zeros((3, 2)), np.ones(2), (640, 480)), ValueError, "leading dims do not broadcast"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, "640x480"), TypeError, "img_size:"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, K=np.eye(3) * [[1], [1], [2]]), ValueError, "K: expected [[fx, 0, cx]"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, K=[[1.0, 0.1, 0], [0, 1, 0], [0, 0, 1]]), ValueError, "no skew"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, K=[500.0, -500.0, 320, 240]), ValueError, "K: expected focal lengths"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, K=np.zeros((2, 3))), ValueError, "K: expected shape (..., 3, 3) or (..., 4)"),
    (lambda: cliff.bbox_info(GOOD_C, GOOD_B, (640, 480), K=[500.0, 500, 320, 240]), ValueError, "K: give either K"),
    (lambda: cliff.cam_crop_to_full(np.zeros((1, 2)), GOOD_C, GOOD_B, (640, 480)), ValueError, "cam_crop: expected shape (..., 3)"),
    (lambda: cliff.cam_crop_to_full([[0.9, 0, np.nan]], GOOD_C, GOOD_B, (640, 480)), ValueError, "cam_crop: contains NaN"),
    (lambda: cliff.cam_crop_to_full([[0.9, 0, 0]], GOOD_C, GOOD_B, (640, 480), -1.0), ValueError, "focal: expected focal length > 0"),
    (lambda: cliff.project_points(np.zeros((4, 2)), 500.0, (0, 0)), ValueError, "points: expected shape (..., 3)"),
    (lambda: cliff.project_points(np.ones((4, 3)), 0.0, (0, 0)), ValueError, "focal: expected focal length > 0"),
    (lambda: cliff.project_points(np.ones((4, 3)), 500.0), TypeError, "principal_point"),
    (lambda: cliff.project_points(np.ones((4, 3)), 500.0, (1, 2, 3)), ValueError, "principal_point: expected shape (..., 2)"),
    (lambda: cliff.project_points(np.ones((4, 3)), np.ones(3), (1, 2)), ValueError, "leading dims do not broadcast"),
    (lambda: cliff.estimate_focal_length(0, 480), ValueError, "img_w: expected image width > 0"),
    (lambda: cliff.estimate_focal_length(640, -1), ValueError, "img_h: expected image height > 0"),
    (lambda: cliff.estimate_focal_length(640, "480"), TypeError, "img_h"),
    # the raw bindings check what they are given, too
    (lambda: _core.bbox_info(GOOD_C, np.ones(2), np.zeros((1, 2)), np.ones(1), 0), ValueError, "b: expected shape (...) with leading dims (1,) as in center"),
    (lambda: _core.bbox_info(GOOD_C, GOOD_B, np.zeros((1, 2)), np.ones(1), 7), ValueError, "form: expected 0 (released) or 1 (paper)"),
    (lambda: _core.cam_crop_to_full(np.ones((2, 3)), GOOD_C, GOOD_B, np.zeros((1, 2)), np.ones(1)), ValueError, "center: expected shape (..., 2) with leading dims (2,) as in cam_crop"),
    (lambda: _core.project_points(np.ones((4, 3)), np.ones((3, 2)), np.ones((4, 2))), ValueError, "focal: expected shape (..., 2) with leading dims (4,)"),
    (lambda: _core.rot6d_to_rotmat(object()), TypeError, "x:"),
]


@pytest.mark.parametrize("call, exc, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_raises_naming_the_argument(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert message in str(info.value)


def test_s_not_positive_is_not_an_error_but_finite():
    # a degenerate network output: the official code divides by b*s + 1e-9; we follow it
    t = cliff.cam_crop_to_full(f32([[0.0, 0.1, 0.2]]), f32([[320, 240]]), f32([200]), (640, 480))
    assert np.isfinite(t).all() and t[0, 2] > 1e9


def test_empty_batches():
    assert cliff.rot6d_to_rotmat(np.zeros((0, 144))).shape == (0, 24, 3, 3)
    assert cliff.rotmat_to_axis_angle(np.zeros((0, 24, 3, 3))).shape == (0, 24, 3)
    c, s = cliff.boxes_to_center_scale(np.zeros((0, 4), np.float32))
    assert c.shape == (0, 2) and s.shape == (0,)
    assert cliff.bbox_info(np.zeros((0, 2)), np.zeros(0), (640, 480)).shape == (0, 3)
